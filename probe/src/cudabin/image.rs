//! What the first bytes of an uncompressed image say: a cubin's ELF header, a PTX module's
//! `.version` and `.target` lines.
//!
//! # Cubin `e_flags`
//! A cubin is an ELF64 file with `e_machine == EM_CUDA` (190). Its `e_flags` name the SM, in one
//! of two layouts chosen by `EI_ABIVERSION` (LLVM `llvm/include/llvm/BinaryFormat/ELF.h`,
//! `ELFABIVERSION_CUDA_V1`/`_V2`, `EF_CUDA_*`):
//! - ABI 7 (`EI_OSABI` 0x33, toolkits up to 12.x): SM in bits 0..8 (`EF_CUDA_SM`), virtual SM in
//!   bits 16..24, `EF_CUDA_ACCELERATORS_V1` (`0x800`) marks `sm_90a`.
//! - ABI 8 (`EI_OSABI` 0x41, CUDA 12.8+ for Blackwell and CUDA 13 for every SM): SM in bits
//!   8..16 (`EF_CUDA_SM_MASK`), `EF_CUDA_ACCELERATORS` (`0x8`) is LLVM's `a` marker.
//!
//! Checked against ptxas 13.5: under ABI 8 it writes the same `e_flags` for `sm_100`,
//! `sm_100a` and `sm_100f` (`0x06006402`; `sm_90`/`sm_90a` both `0x06005a04`), so under ABI 8
//! the variant comes from the fatbin entry header, never from the cubin.

use super::source::{le_u16, le_u32};
use super::types::{SmArch, Variant};

/// `EM_CUDA`.
const EM_CUDA: u16 = 190;

/// What a cubin's ELF header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CubinHeader {
    /// `EI_ABIVERSION` (7 or 8 in practice).
    pub(crate) abi_version: u8,
    /// The SM number from `e_flags` (`90`, `100`).
    pub(crate) sm: u32,
    /// The accelerator (`a`) marker of the layout was set.
    pub(crate) accelerated: bool,
}

/// Reads a cubin's ELF header: `None` when `bytes` is not a little-endian ELF64 CUDA object or
/// uses an ABI version we do not know.
pub(crate) fn cubin_header(bytes: &[u8]) -> Option<CubinHeader> {
    if bytes.get(..4)? != b"\x7fELF" || *bytes.get(4)? != 2 || *bytes.get(5)? != 1 {
        return None;
    }
    if le_u16(bytes, 18)? != EM_CUDA {
        return None;
    }
    let abi_version = *bytes.get(8)?;
    let flags = le_u32(bytes, 48)?;
    let (sm, accelerated) = match abi_version {
        0..=7 => (flags & 0xff, flags & 0x800 != 0),
        8 => ((flags >> 8) & 0xff, flags & 0x8 != 0),
        _ => return None,
    };
    Some(CubinHeader {
        abi_version,
        sm,
        accelerated,
    })
}

/// What a PTX module's header lines say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct PtxHeader {
    /// `.version X.Y`.
    pub(crate) version: Option<(u32, u32)>,
    /// `.target sm_XY[a|f]` (the first target; further ones are options like `texmode_independent`).
    pub(crate) target: Option<SmArch>,
}

/// Reads `.version` and `.target` from the start of a PTX module. Comments (`//`) are skipped;
/// the directives come before any code, so reading the first few KiB is enough.
pub(crate) fn ptx_header(bytes: &[u8]) -> PtxHeader {
    let text = String::from_utf8_lossy(bytes);
    let mut header = PtxHeader::default();
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or_default().trim();
        if let Some(rest) = line.strip_prefix(".version") {
            let mut parts = rest.trim().splitn(2, '.');
            let major = parts.next().and_then(|p| p.trim().parse().ok());
            let minor = parts.next().and_then(|p| p.trim().parse().ok());
            if let (Some(major), Some(minor)) = (major, minor) {
                header.version.get_or_insert((major, minor));
            }
        } else if let Some(rest) = line.strip_prefix(".target") {
            let first = rest.split(',').next().unwrap_or_default().trim();
            if let Some(arch) = SmArch::parse(first) {
                header.target.get_or_insert(arch);
            }
        }
        if header.version.is_some() && header.target.is_some() {
            break;
        }
    }
    header
}

/// The toolkit release in the text nvcc leaves in an image: the `// Cuda compilation tools,
/// release 13.5, V13.5.37` comment of a PTX module, the same words in a cubin's tool note.
pub(crate) fn toolkit_release(bytes: &[u8]) -> Option<(u32, u32)> {
    const MARK: &[u8] = b"Cuda compilation tools, release ";
    let at = bytes.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let version: String = bytes
        .get(at..)?
        .iter()
        .take(8)
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|&b| char::from(b))
        .collect();
    let (major, minor) = version.split_once('.')?;
    Some((major.trim().parse().ok()?, minor.trim().parse().ok()?))
}

/// The variant a cubin header implies, for the layouts that carry one.
pub(crate) fn cubin_variant(header: CubinHeader) -> Variant {
    if header.accelerated {
        Variant::A
    } else {
        Variant::None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 64-byte ELF64 cubin header with the given ABI version and `e_flags`.
    pub(crate) fn cubin(abi_version: u8, e_flags: u32) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = 2;
        h[5] = 1;
        h[6] = 1;
        h[7] = if abi_version >= 8 { 0x41 } else { 0x33 };
        h[8] = abi_version;
        h[16..18].copy_from_slice(&2u16.to_le_bytes());
        h[18..20].copy_from_slice(&EM_CUDA.to_le_bytes());
        h[48..52].copy_from_slice(&e_flags.to_le_bytes());
        h
    }

    #[test]
    fn cubin_eflags_both_layouts() {
        // Real values: nvjpeg 12.4 (ABI 7) sm_70 `0x460546`; ptxas 13.5 (ABI 8) sm_100
        // `0x06006402`, sm_75 `0x06004b04`.
        let v1 = cubin_header(&cubin(7, 0x0046_0546)).unwrap();
        assert_eq!((v1.sm, v1.accelerated), (70, false));
        let v1a = cubin_header(&cubin(7, 0x005a_0d5a)).unwrap();
        assert_eq!((v1a.sm, v1a.accelerated), (90, true));
        let v2 = cubin_header(&cubin(8, 0x0600_6402)).unwrap();
        assert_eq!((v2.sm, v2.accelerated), (100, false));
        let v2_75 = cubin_header(&cubin(8, 0x0600_4b04)).unwrap();
        assert_eq!(v2_75.sm, 75);
        let v2a = cubin_header(&cubin(8, 0x0600_640a)).unwrap();
        assert!(v2a.accelerated);
        assert_eq!(cubin_header(&cubin(9, 0)), None);
        assert_eq!(cubin_header(b"\x7fELF"), None);
        let mut not_cuda = cubin(7, 0x46);
        not_cuda[18] = 62;
        assert_eq!(cubin_header(&not_cuda), None);
    }

    #[test]
    fn toolkit_release_from_image_text() {
        let ptx = b"//\n// Generated by NVIDIA NVVM Compiler\n//\n// Compiler Build ID: CL-1\n\
                    // Cuda compilation tools, release 13.5, V13.5.37\n// Based on NVVM 20\n";
        assert_eq!(toolkit_release(ptx), Some((13, 5)));
        assert_eq!(
            toolkit_release(b"\0\0Cuda compilation tools, release 12.4, V12.4.131\0"),
            Some((12, 4))
        );
        assert_eq!(toolkit_release(b"Cuda compilation tools, release "), None);
        assert_eq!(
            toolkit_release(b"Cuda compilation tools, release x.y,"),
            None
        );
        assert_eq!(toolkit_release(b""), None);
    }

    #[test]
    fn ptx_header_lines() {
        let ptx = b"//\n// Generated by NVIDIA NVVM Compiler\n// .version 1.0 in a comment\n\
                    .version 8.7\n.target sm_100a, texmode_independent\n.address_size 64\n";
        let h = ptx_header(ptx);
        assert_eq!(h.version, Some((8, 7)));
        assert_eq!(h.target, SmArch::parse("sm_100a"));
        let h = ptx_header(b".version 9.0\n.target sm_120f\n");
        assert_eq!(h.target.unwrap().variant, Variant::F);
        assert_eq!(ptx_header(b"\xff\xfe garbage .version x.y").version, None);
        assert_eq!(ptx_header(b"").target, None);
    }
}
