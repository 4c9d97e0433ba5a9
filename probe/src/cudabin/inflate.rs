//! The one fact a scan decompresses for: whether a relocatable cubin defines kernels.
//!
//! A PTX-only `-rdc` program's `__nv_relfatbin` holds its PTX and device-library cubins
//! (libcudadevrt's, `sm_75` to `sm_121`) that the driver links with the PTX at load time. Those
//! carry no kernel of the program, so they never count as code for a GPU; a relocatable cubin
//! that does define kernels runs them only on GPUs its SASS fits. Which is which is in the
//! cubin's symbol table (`STT_FUNC` symbols with `STO_CUDA_ENTRY`, `0x10` in `st_other`: the
//! `__global__` functions; a `__device__` function has none), and nvcc 13 compresses the cubins
//! (Zstandard). So:
//! - an uncompressed relocatable cubin is read (at most [`MAX_CUBIN`] bytes);
//! - a Zstandard one is decompressed only when the scan allows it
//!   ([`ScanLimits::max_decompressed_per_file`](super::ScanLimits), which `check --binary` sets
//!   to [`DECOMPRESS_FOR_CHECK`] and `scan` leaves at 0), at most [`MAX_CUBIN`] bytes out per
//!   cubin and that budget per file, whatever the frame declares, and never past the deadline;
//! - LZ4 (nvcc 12.x, `--compress-mode=speed`) is not decompressed: no vendored real file uses
//!   it with `-rdc`, and its decoder would cost the static binary more bytes.
//!
//! What is not read stays unknown ([`Kernels::count`] `None`), and `check --binary` never
//! calls a program that depends on it runnable.
//!
//! The decoder is `ruzstd` (pure Rust, `no_std`, maintained): with this module it adds 49,152
//! bytes to the static binary (2,016,944 to 2,066,096 of its 2,097,152).

use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

use super::source::{Source, le_u16, le_u32, le_u64};
use super::types::{Compression, Kernels};

/// Bytes one relocatable cubin may take, read or decompressed. All of libcudadevrt's, one per
/// architecture, are about 1 MB together; PyTorch 2.11's `libtorch_nvshmem.so` (cu130) holds
/// NVSHMEM's device library as relocatable cubins of 7 to 10 MB each (1 MiB made `check
/// --binary` of PyTorch on a real H200 "unknown").
pub const MAX_CUBIN: u64 = 16 << 20;
/// What `check --binary` lets one file decompress, all its relocatable cubins together:
/// `libtorch_nvshmem.so`'s 24 come to about 53 MB (about 0.1 s on a 2-CPU VM).
pub const DECOMPRESS_FOR_CHECK: u64 = 64 << 20;

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
    /// The stream is not valid Zstandard. (The decoder's error is not kept: its messages
    /// would cost the static binary kilobytes for a word the verdict does not use.)
    Corrupt,
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

/// The kernels of the relocatable cubin whose entry header is at `pos` in `src`: read when
/// uncompressed, decompressed when Zstandard and `allowance` (the file's decompression budget
/// left, or why there is none) permits; `spend` is charged with the bytes decompressed.
pub(crate) fn relocatable_kernels(
    src: &dyn Source,
    pos: u64,
    compression: Option<Compression>,
    allowance: Result<u64, String>,
    spend: &mut dyn FnMut(u64),
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
        (Some(Compression::Zstd), Ok(left)) => Some(left.min(MAX_CUBIN)),
        (Some(Compression::Zstd), Err(why)) => return unread(format!("compressed (zstd); {why}")),
        (Some(other), _) => {
            let name = if other == Compression::Lz4 {
                "LZ4"
            } else {
                "an unknown scheme"
            };
            return unread(format!("compressed ({name}), which is not decompressed"));
        }
    };
    let bytes = match src.read_at(start, stored) {
        Ok(b) => b,
        Err(e) => return unread(e),
    };
    let (image, decompressed) = match cap {
        None => (bytes, false),
        Some(cap) => {
            let (image, produced) = zstd(&bytes, cap);
            spend(produced);
            match image {
                Ok(image) => (image, true),
                Err(Failure::TooBig) => {
                    return unread(format!(
                        "compressed (zstd); decompressing it would exceed the {cap}-byte budget \
                         left"
                    ));
                }
                Err(Failure::Corrupt) => {
                    return unread("compressed (zstd), and not valid zstd".to_owned());
                }
            }
        }
    };
    match count_kernels(&image) {
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
        );
        assert_eq!(read.count, None);
        assert!(read.unread.unwrap().contains("100-byte budget"));
        assert!(spent <= 100 + (128 << 10), "{spent}");
        let mut spent = 0;
        let read = relocatable_kernels(
            &Bytes(RDCPTX),
            0x22f0,
            Some(Compression::Zstd),
            Ok(DECOMPRESS_FOR_CHECK),
            &mut |n| spent += n,
        );
        assert_eq!((read.count, read.decompressed, spent), (Some(0), true, 2688));
        // LZ4 is not decompressed.
        let lz4 = relocatable_kernels(&Bytes(RDCPTX), 0x22f0, Some(Compression::Lz4), Ok(1 << 20), &mut |_| {});
        assert_eq!(lz4.count, None);
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
}
