//! The one fact a scan decompresses for: whether a relocatable cubin defines kernels.
//!
//! A PTX-only `-rdc` program's `__nv_relfatbin` holds its PTX and device-library cubins
//! (libcudadevrt's, `sm_75` to `sm_121`) that the driver links with the PTX at load time. Those
//! carry no kernel of the program, so they never count as code for a GPU; a relocatable cubin
//! that does define kernels runs them only on GPUs its SASS fits. Which is which is in the
//! cubin's symbol table (`STT_FUNC` symbols with `STO_CUDA_ENTRY`, `0x10` in `st_other`: the
//! `__global__` functions; a `__device__` function has none), and nvcc 13 compresses the cubins
//! (Zstandard; nvcc 12.x and `--compress-mode=speed`: LZ4). So:
//! - an uncompressed relocatable cubin is read (at most [`MAX_CUBIN`] bytes);
//! - a Zstandard or LZ4 one is decompressed only when the scan allows it
//!   ([`ScanLimits::max_decompressed_per_file`](super::ScanLimits), which `check --binary` sets
//!   to [`DECOMPRESS_FOR_CHECK`] and `scan` leaves at 0), at most [`MAX_CUBIN`] bytes out per
//!   cubin and that budget per file (LZ4 charged at a quarter: it decodes four times as fast),
//!   whatever the frame or the entry header declares, and never past the deadline.
//!   `nvidia-nvshmem-cu12` 3.8.0's `libnvshmem_host.so.3` has its 162 relocatable cubins in
//!   LZ4.
//!
//! What is not read stays unknown ([`Kernels::count`] `None`), and `check --binary` never
//! calls a program that depends on it runnable.
//!
//! The decoders are `ruzstd` and `lz4_flex` (pure Rust, maintained; `probe/Cargo.toml` says
//! what each costs the static binary).

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::source::{Source, le_u16, le_u32, le_u64};
use super::types::{Compression, Kernels};

/// Bytes one relocatable cubin may take, read or decompressed. All of libcudadevrt's, one per
/// architecture, are about 1 MB together; PyTorch 2.11's `libtorch_nvshmem.so` (cu130) holds
/// NVSHMEM's device library as relocatable cubins of 7 to 10 MB each (1 MiB made `check
/// --binary` of PyTorch on a real H200 "unknown").
pub const MAX_CUBIN: u64 = 16 << 20;
/// What `check --binary` lets one file decompress, all its relocatable cubins together, in
/// bytes of Zstandard output: about a quarter of a second of decoding. PyTorch 2.11's
/// `libtorch_nvshmem.so` (cu130) has 24 zstd cubins of about 53 MB in all.
pub const DECOMPRESS_FOR_CHECK: u64 = 128 << 20;
/// LZ4 output is charged to the budget at a quarter of its bytes: it decodes about four times
/// as fast as `ruzstd` (the static binary, on a 2-CPU VM: about 0.5 ms a megabyte against 2).
/// `nvidia-nvshmem-cu12`'s `libnvshmem_host.so.3` has 162 LZ4 cubins of 463 MB in all.
const LZ4_CHARGE_DIVISOR: u64 = 4;

/// `st_other` bit of a kernel's symbol in a cubin (`STO_CUDA_ENTRY`).
const STO_CUDA_ENTRY: u8 = 0x10;
/// `STT_FUNC`, `SHT_SYMTAB`.
const STT_FUNC: u8 = 2;
const SHT_SYMTAB: u32 = 2;
/// Symbols counted per symbol table at most.
const MAX_SYMBOLS: usize = 1 << 20;

/// Why a decompression gave no image.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The image is larger than the bytes allowed.
    TooBig,
    /// The stream is not valid Zstandard or LZ4. (The decoder's error is not kept: its
    /// messages would cost the static binary kilobytes for a word the verdict does not use.)
    Corrupt,
}

/// The LZ4 block `input` (a fatbin entry's payload: a raw block, no frame), decompressed into
/// `out` (cleared first), which holds the `size` bytes its entry header declares; refused when
/// that is over `cap`. Also returns the bytes produced, which the caller charges to its budget
/// (the whole buffer: it is filled up front). `out` is the caller's, kept from one cubin to
/// the next: a fresh buffer each time was a fresh mapping of megabytes, and its page faults
/// cost more than decoding.
pub(crate) fn lz4(input: &[u8], size: u64, cap: u64, out: &mut Vec<u8>) -> (Result<(), Failure>, u64) {
    let Some(len) = usize::try_from(size).ok().filter(|_| size <= cap) else {
        return (Err(Failure::TooBig), 0);
    };
    out.clear();
    out.resize(len, 0);
    match lz4_flex::block::decompress_into(input, out) {
        Ok(n) => {
            out.truncate(n);
            (Ok(()), size)
        }
        Err(_) => (Err(Failure::Corrupt), size),
    }
}

/// The Zstandard frame at the start of `input`, decompressed to at most `cap` bytes (the
/// frame's declared size and window are not trusted: a larger one is [`Failure::TooBig`]).
/// Also returns the bytes produced, which the caller charges to its budget.
pub(crate) fn zstd(input: &[u8], cap: u64) -> (Result<Vec<u8>, Failure>, u64) {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut source = input;
    let mut decoder = FrameDecoder::new();
    // The window is memory the decoder keeps: no more than a cubin may be (or the cap, when
    // larger). A frame that asks for more is refused before decoding anything.
    decoder.set_max_window_size(MAX_CUBIN.max(cap as u64));
    if let Err(e) = decoder.init(&mut source) {
        let failure = match e {
            ruzstd::decoding::errors::FrameDecoderError::WindowSizeTooBig { .. } => Failure::TooBig,
            _ => Failure::Corrupt,
        };
        return (Err(failure), 0);
    }
    let mut out: Vec<u8> = Vec::new();
    loop {
        // Blocks are at most 128 KiB each, so one step overshoots `cap` by no more.
        let step = decoder.decode_blocks(&mut source, BlockDecodingStrategy::UptoBytes(64 << 10));
        let produced = (out.len() + decoder.can_collect()) as u64;
        let Ok(finished) = step else {
            return (Err(Failure::Corrupt), produced);
        };
        if produced > cap as u64 {
            return (Err(Failure::TooBig), produced);
        }
        if let Some(bytes) = decoder.collect() {
            out.extend_from_slice(&bytes);
        }
        if finished {
            return (Ok(out), produced);
        }
    }
}

/// The kernels (`STT_FUNC` with `STO_CUDA_ENTRY`, defined) in a little-endian ELF64 cubin, or
/// why they cannot be counted.
pub(crate) fn count_kernels(cubin: &[u8]) -> Result<u32, String> {
    if cubin.get(..4) != Some(b"\x7fELF") || cubin.get(4) != Some(&2) || cubin.get(5) != Some(&1)
    {
        return Err("not a little-endian ELF64 cubin".to_owned());
    }
    let bad = || "its section headers lie outside it".to_owned();
    let shoff = le_u64(cubin, 0x28).ok_or_else(bad)?;
    let shentsize = u64::from(le_u16(cubin, 0x3a).ok_or_else(bad)?);
    let shnum = u64::from(le_u16(cubin, 0x3c).ok_or_else(bad)?);
    if shentsize < 64 {
        return Err(bad());
    }
    let mut count = 0u32;
    for i in 0..shnum {
        let at = shentsize
            .checked_mul(i)
            .and_then(|o| o.checked_add(shoff))
            .and_then(|o| usize::try_from(o).ok())
            .ok_or_else(bad)?;
        let header = at
            .checked_add(64)
            .and_then(|end| cubin.get(at..end))
            .ok_or_else(bad)?;
        if le_u32(header, 4) != Some(SHT_SYMTAB) {
            continue;
        }
        let offset = le_u64(header, 0x18).ok_or_else(bad)?;
        let size = le_u64(header, 0x20).ok_or_else(bad)?;
        let symbols = offset
            .checked_add(size)
            .and_then(|end| cubin.get(usize::try_from(offset).ok()?..usize::try_from(end).ok()?))
            .ok_or_else(|| "its symbol table lies outside it".to_owned())?;
        for symbol in symbols.chunks_exact(24).take(MAX_SYMBOLS) {
            let (info, other) = (
                symbol.get(4).copied().unwrap_or(0),
                symbol.get(5).copied().unwrap_or(0),
            );
            let defined = le_u16(symbol, 6).is_some_and(|shndx| shndx != 0);
            if info & 0xf == STT_FUNC && other & STO_CUDA_ENTRY != 0 && defined {
                count = count.saturating_add(1);
            }
        }
    }
    Ok(count)
}

/// A compression scheme as the reasons name it.
fn scheme_name(scheme: Compression) -> &'static str {
    match scheme {
        Compression::Zstd => "zstd",
        Compression::Lz4 => "LZ4",
        Compression::Unknown => "an unknown scheme",
    }
}

/// The kernels of the relocatable cubin whose entry header is at `pos` in `src`: read when
/// uncompressed, decompressed when Zstandard or LZ4 and `allowance` (the file's decompression
/// budget left, or why there is none) permits; `spend` is charged with the bytes decompressed.
/// `scratch` is a buffer the caller keeps for the next cubin.
pub(crate) fn relocatable_kernels(
    src: &dyn Source,
    pos: u64,
    compression: Option<Compression>,
    allowance: Result<u64, String>,
    spend: &mut dyn FnMut(u64),
    scratch: &mut Vec<u8>,
) -> Kernels {
    let unread = |why: String| Kernels {
        count: None,
        decompressed: false,
        unread: Some(why),
    };
    let header = match src.read_at(pos, 64) {
        Ok(h) => h,
        Err(e) => return unread(e),
    };
    let header_size = u64::from(le_u32(&header, 4).unwrap_or(0));
    let payload_size = le_u64(&header, 8).unwrap_or(0);
    let compressed_size = u64::from(le_u32(&header, 16).unwrap_or(0));
    let uncompressed_size = le_u64(&header, 56).unwrap_or(0);
    let start = pos.saturating_add(header_size);
    let stored = if compressed_size > 0 {
        compressed_size.min(payload_size)
    } else {
        payload_size
    };
    if stored > MAX_CUBIN {
        return unread(format!(
            "its {stored} bytes are over the {MAX_CUBIN}-byte limit per cubin"
        ));
    }
    // What will not be decompressed is not read either (`scan` decompresses nothing: reading
    // the payloads it skips was most of its reads on a file of relocatable cubins).
    let cap = match (compression, allowance) {
        (None, _) => None,
        (Some(Compression::Unknown), _) => {
            return unread("compressed (an unknown scheme), which is not decompressed".to_owned());
        }
        (Some(scheme), Ok(left)) => {
            let left = if scheme == Compression::Lz4 {
                left.saturating_mul(LZ4_CHARGE_DIVISOR)
            } else {
                left
            };
            Some((scheme, left.min(MAX_CUBIN)))
        }
        (Some(scheme), Err(why)) => {
            return unread(format!("compressed ({}); {why}", scheme_name(scheme)));
        }
    };
    let bytes = match src.read_at(start, stored) {
        Ok(b) => b,
        Err(e) => return unread(e),
    };
    let (image, decompressed) = match cap {
        None => (bytes, false),
        Some((scheme, cap)) => {
            let (image, charge) = if scheme == Compression::Lz4 {
                let (done, produced) = lz4(&bytes, uncompressed_size, cap, scratch);
                (
                    done.map(|()| std::mem::take(scratch)),
                    produced.div_ceil(LZ4_CHARGE_DIVISOR),
                )
            } else {
                zstd(&bytes, cap)
            };
            spend(charge);
            let name = scheme_name(scheme);
            match image {
                Ok(image) => (image, true),
                Err(Failure::TooBig) => {
                    return unread(format!(
                        "compressed ({name}); decompressing it would exceed what is left of the \
                         file's decompression budget"
                    ));
                }
                Err(Failure::Corrupt) => {
                    return unread(format!("compressed ({name}), and not valid {name}"));
                }
            }
        }
    };
    let counted = count_kernels(&image);
    // The largest buffer so far serves the next cubin.
    if image.capacity() > scratch.capacity() {
        *scratch = image;
    }
    match counted {
        Ok(count) => Kernels {
            count: Some(count),
            decompressed,
            unread: None,
        },
        Err(e) => Kernels {
            count: None,
            decompressed,
            unread: Some(format!("unreadable cubin: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cudabin::source::Bytes;
    use ruzstd::encoding::{CompressionLevel, compress_to_vec};

    /// The real files' zstd cubins: `librdcptx.so`'s relocatable `sm_90` cubin (a `__device__`
    /// function only) and `librdc.a`'s `sm_80` cubin (the `scale` kernel).
    const RDCPTX: &[u8] = include_bytes!("../../tests/cuda-files/librdcptx.so");
    const RDC: &[u8] = include_bytes!("../../tests/cuda-files/librdc.a");

    #[test]
    fn inflate_real_cubins_and_count_their_kernels() {
        let device_only = zstd(&RDCPTX[0x2330..0x2330 + 826], MAX_CUBIN).0.unwrap();
        assert_eq!(device_only.len(), 2688);
        assert_eq!(count_kernels(&device_only), Ok(0));
        let kernel = zstd(&RDC[1784..1784 + 893], MAX_CUBIN).0.unwrap();
        assert_eq!(kernel.len(), 3072);
        assert_eq!(count_kernels(&kernel), Ok(1));
        // Through the entry header (at 0x22f0), as `elf.rs` reads it.
        let mut spent = 0;
        let read = relocatable_kernels(
            &Bytes(RDCPTX),
            0x22f0,
            Some(Compression::Zstd),
            Ok(100),
            &mut |n| spent += n,
            &mut Vec::new(),
        );
        assert_eq!(read.count, None);
        assert!(read.unread.unwrap().contains("decompression budget"));
        assert!(spent <= 100 + (128 << 10), "{spent}");
        let mut spent = 0;
        let read = relocatable_kernels(
            &Bytes(RDCPTX),
            0x22f0,
            Some(Compression::Zstd),
            Ok(DECOMPRESS_FOR_CHECK),
            &mut |n| spent += n,
            &mut Vec::new(),
        );
        assert_eq!((read.count, read.decompressed, spent), (Some(0), true, 2688));
        // An LZ4 block that is not one (the zstd stream read as LZ4) is an error, not a panic.
        let lz4 = relocatable_kernels(
            &Bytes(RDCPTX),
            0x22f0,
            Some(Compression::Lz4),
            Ok(1 << 20),
            &mut |_| {},
            &mut Vec::new(),
        );
        assert_eq!(lz4.count, None);
        assert_eq!(lz4.unread.as_deref(), Some("compressed (LZ4), and not valid LZ4"));
    }

    #[test]
    fn inflate_reads_a_cubin_the_size_of_nvshmems() {
        // PyTorch 2.11's libtorch_nvshmem.so holds relocatable cubins of 7 to 10 MB; with 1 MiB
        // a cubin, check --binary of PyTorch on a real H200 was "unknown". The real kernel
        // cubin, grown to 9 MiB (zeros after its last byte: its headers do not move).
        let mut big = zstd(&RDC[1784..1784 + 893], MAX_CUBIN).0.unwrap();
        big.resize(9 << 20, 0);
        let packed = compress_to_vec(&big[..], CompressionLevel::Fastest);
        let (out, produced) = zstd(&packed, MAX_CUBIN);
        assert_eq!(produced, 9 << 20);
        assert_eq!(count_kernels(&out.unwrap()), Ok(1));
        // Past MAX_CUBIN it is not read, whatever the file's budget.
        big.resize(usize::try_from(MAX_CUBIN).unwrap() + 1, 0);
        let packed = compress_to_vec(&big[..], CompressionLevel::Fastest);
        assert_eq!(zstd(&packed, MAX_CUBIN).0, Err(Failure::TooBig));
    }

    #[test]
    fn inflate_bounds_a_bomb_and_survives_garbage() {
        // 16 MiB of zeros in a few hundred bytes: stopped near the cap, whatever the frame says.
        let bomb = compress_to_vec(&vec![0u8; 16 << 20][..], CompressionLevel::Fastest);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let (out, produced) = zstd(&bomb, 1 << 20);
        assert_eq!(out, Err(Failure::TooBig));
        assert!((1..=(1 << 20) + (256 << 10)).contains(&produced), "{produced}");
        // Truncated, corrupted, empty: an error, never a panic.
        let small = compress_to_vec(&b"cubin"[..], CompressionLevel::Fastest);
        assert_eq!(zstd(&small, 100).0.unwrap(), b"cubin");
        for bad in [&small[..small.len() - 2], &small[..3], &[][..], &[0xff; 64][..]] {
            assert!(zstd(bad, 100).0.is_err());
        }
        let mut flipped = RDCPTX[0x2330..0x2330 + 826].to_vec();
        for i in (8..flipped.len()).step_by(7) {
            flipped[i] ^= 0x5a;
            let _ = zstd(&flipped, MAX_CUBIN);
        }
        // A cubin whose headers lie.
        let mut cubin = zstd(&RDC[1784..1784 + 893], MAX_CUBIN).0.unwrap();
        for at in [0x28, 0x3a, 0x3c] {
            let mut lying = cubin.clone();
            lying[at] = 0xff;
            lying[at + 1] = 0xff;
            let _ = count_kernels(&lying);
        }
        cubin.truncate(cubin.len() - 10);
        assert!(count_kernels(&cubin).is_err());
        assert!(count_kernels(b"\x7fELF").is_err());
    }

    #[test]
    fn inflate_lz4_bounds_its_output_and_survives_garbage() {
        // The real LZ4 cubins of librdclz4.so, from their entry headers: 0 and 1 kernels.
        let file = include_bytes!("../../tests/cuda-files/librdclz4.so");
        let magic = 0xBA55_ED50_u32.to_le_bytes();
        let mut counts = Vec::new();
        let mut scratch = Vec::new();
        for (at, _) in file.windows(4).enumerate().filter(|(_, w)| *w == magic) {
            // Entries follow the 16-byte container header, one after another.
            let mut pos = at + 16;
            while let Some(header) = file.get(pos..pos + 64) {
                let flags = le_u64(header, 40).unwrap();
                let kind = le_u16(header, 0).unwrap();
                if kind != 2 || flags & 0x2000 == 0 {
                    break;
                }
                let read = relocatable_kernels(
                    &Bytes(file),
                    pos as u64,
                    Some(Compression::Lz4),
                    Ok(DECOMPRESS_FOR_CHECK),
                    &mut |_| {},
                    &mut scratch,
                );
                counts.push(read.count);
                let size = u64::from(le_u32(header, 4).unwrap()) + le_u64(header, 8).unwrap();
                pos += usize::try_from(size).unwrap();
            }
        }
        counts.sort_unstable();
        assert_eq!(counts, [Some(0), Some(1)]);
        // Output past the cap is refused before decoding; garbage and truncation are errors,
        // never a panic, whatever size the header declares.
        let mut out = Vec::new();
        assert_eq!(lz4(&[0x10, b'x'], 1 << 20, 100, &mut out).0, Err(Failure::TooBig));
        assert_eq!(lz4(&[0x50, b'c', b'u', b'b', b'i', b'n'], 5, 100, &mut out).0, Ok(()));
        assert_eq!(out, b"cubin");
        for bad in [&[0xff; 64][..], &[0x1f, 1, 2][..], &[0x0f, 0xff, 0xff][..], &[][..]] {
            for size in [0, 1, 64, 4096] {
                let _ = lz4(bad, size, MAX_CUBIN, &mut out);
            }
        }
        assert!(lz4(&[0xf0, 0xff, 0xff], 100, MAX_CUBIN, &mut out).0.is_err());
    }
}
