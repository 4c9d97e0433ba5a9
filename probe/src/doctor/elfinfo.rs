//! What a shared library says about itself, read with goblin from a few bounded reads: never
//! loaded, never mapped, never read whole (a real `libcuda.so` is 30–100 MB).
//!
//! Read: the ELF header (class, byte order, machine), the section header table, the section
//! names, `DT_SONAME` from `.dynamic` and its string table, and the `.note.cuda.fwd_compatibility`
//! note of CUDA forward-compatibility libraries. That note (owner `NVIDIA Corporation`) holds
//! JSON such as `{"format":1,"CUDA version":"12.9","driver":[535,550,560,565,570,575],
//! "device":[1,2,7,8,9,10,11,12,13,14]}`: the host driver branches and NVML brands the library
//! accepts (nvidia-container-toolkit `cmd/nvidia-cdi-hook/cudacompat/cuda-elf-header.go`, which
//! pads the note name to the section's alignment; so do we).
//!
//! Every size read from the file is checked against the file size and a fixed cap before
//! anything is allocated; a hostile file gives an error, never a panic.

use crate::report::{CudaVersion, Version};
use std::fs::File;
use std::io;
use std::path::Path;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::section_header::{SHT_DYNAMIC, SHT_NOTE, SectionHeader};

/// The note section of CUDA forward-compatibility libraries.
pub const FWD_COMPAT_SECTION: &str = ".note.cuda.fwd_compatibility";
/// The owner name of that note.
const NOTE_OWNER: &str = "NVIDIA Corporation";
/// `DT_SONAME`.
const DT_SONAME: u64 = 14;
/// `DT_NULL`.
const DT_NULL: u64 = 0;

/// No section header table larger than this is read (64 K sections of 64 bytes).
const MAX_SHDRS: u64 = 4 << 20;
/// No `.dynamic`, section-name table or note larger than this is read.
const MAX_SECTION: u64 = 1 << 20;
/// The longest SONAME read.
const MAX_SONAME: u64 = 4096;

/// What one ELF file says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElfInfo {
    /// `e_machine`.
    pub machine: u16,
    /// True for ELFCLASS64.
    pub is_64: bool,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// The forward-compatibility note, when the file has one.
    pub fwd_compat: Option<FwdCompatNote>,
    /// Problems met reading optional parts (the note, the SONAME), in words.
    pub problems: Vec<String>,
}

/// The JSON of `.note.cuda.fwd_compatibility`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FwdCompatNote {
    /// `"CUDA version"`: the CUDA version the library provides (`"12.9"`).
    pub cuda_version: Option<CudaVersion>,
    /// `"driver"`: the host driver branches it accepts; `None` when the note has no list.
    pub drivers: Option<Vec<u32>>,
    /// `"device"`: the NVML brand values it accepts; `None` when the note has no list.
    pub devices: Option<Vec<u32>>,
}

/// A file that is not an ELF file this module can read.
#[derive(Debug)]
pub enum ElfError {
    /// Opening or reading failed.
    Io(io::Error),
    /// Not ELF, or inconsistent headers.
    Format(String),
}

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Format(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for ElfError {}

impl From<io::Error> for ElfError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

fn bad(msg: impl Into<String>) -> ElfError {
    ElfError::Format(msg.into())
}

/// A file read only at checked ranges.
struct Bounded {
    file: File,
    size: u64,
}

impl Bounded {
    fn read_at(
        &mut self,
        offset: u64,
        len: u64,
        cap: u64,
        what: &str,
    ) -> Result<Vec<u8>, ElfError> {
        if len > cap {
            return Err(bad(format!(
                "{what}: {len} bytes is over the {cap}-byte limit"
            )));
        }
        let end = offset
            .checked_add(len)
            .ok_or_else(|| bad(format!("{what}: offset overflows")))?;
        if end > self.size {
            return Err(bad(format!(
                "{what}: bytes {offset}..{end} lie past the end of the file ({})",
                self.size
            )));
        }
        let n = usize::try_from(len).map_err(|_| bad(format!("{what}: too large")))?;
        let mut buf = vec![0u8; n];
        // One `pread` where a seek and a read would be two system calls.
        std::os::unix::fs::FileExt::read_exact_at(&self.file, &mut buf, offset)?;
        Ok(buf)
    }
}

/// Reads the ELF facts of the regular file at `path` (a real path on this machine).
pub fn read(path: &Path) -> Result<ElfInfo, ElfError> {
    // Never blocks on a FIFO where the library belongs (issue 10).
    let (file, size) = crate::root::open_regular(path)?;
    read_file(file, size)
}

/// The ELF facts of `file`, a regular file of `size` bytes opened for reading.
pub fn read_file(file: std::fs::File, size: u64) -> Result<ElfInfo, ElfError> {
    let mut f = Bounded { file, size };
    let head_len = f.size.min(64);
    let head = f.read_at(0, head_len, 64, "ELF header")?;
    parse(&mut f, &head)
}

fn parse(f: &mut Bounded, head: &[u8]) -> Result<ElfInfo, ElfError> {
    if head.len() < 16 || head.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err(bad("not an ELF file"));
    }
    let header =
        goblin::elf::Elf::parse_header(head).map_err(|e| bad(format!("ELF header: {e}")))?;
    let container = header
        .container()
        .map_err(|e| bad(format!("ELF class: {e}")))?;
    let endian = header
        .endianness()
        .map_err(|e| bad(format!("ELF byte order: {e}")))?;
    let ctx = Ctx::new(container, endian);
    let mut info = ElfInfo {
        machine: header.e_machine,
        is_64: container == Container::Big,
        ..ElfInfo::default()
    };

    // The section header table.
    if header.e_shoff == 0 {
        info.problems.push("no section header table".to_owned());
        return Ok(info);
    }
    let entsize = u64::from(header.e_shentsize);
    if entsize != SectionHeader::size(ctx) as u64 {
        return Err(bad(format!(
            "section header size {entsize} is not the ELF class's"
        )));
    }
    let mut count = u64::from(header.e_shnum);
    if count == 0 {
        // More than SHN_LORESERVE sections: the count is in the first header's sh_size.
        let first = f.read_at(header.e_shoff, entsize, entsize, "section header 0")?;
        let sh = SectionHeader::parse_from(&first, 0, 1, ctx)
            .map_err(|e| bad(format!("section header 0: {e}")))?;
        count = sh.first().map_or(0, |s| s.sh_size);
    }
    let table_len = count
        .checked_mul(entsize)
        .ok_or_else(|| bad("section header table size overflows"))?;
    let table = f.read_at(header.e_shoff, table_len, MAX_SHDRS, "section header table")?;
    let count = usize::try_from(count).map_err(|_| bad("too many sections"))?;
    let shdrs = SectionHeader::parse_from(&table, 0, count.max(1), ctx)
        .map_err(|e| bad(format!("section headers: {e}")))?;

    // Section names.
    let shstrndx = usize::from(header.e_shstrndx);
    let names = match shdrs.get(shstrndx) {
        Some(s) if s.sh_size > 0 => {
            Some(f.read_at(s.sh_offset, s.sh_size, MAX_SECTION, "section names")?)
        }
        _ => None,
    };
    let name_of = |s: &SectionHeader| -> Option<String> {
        let names = names.as_deref()?;
        let start = s.sh_name;
        let rest = names.get(start..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(rest.get(..end)?)
            .ok()
            .map(str::to_owned)
    };

    // DT_SONAME.
    if let Some(dynamic) = shdrs.iter().find(|s| s.sh_type == SHT_DYNAMIC) {
        match soname(f, &shdrs, dynamic, ctx) {
            Ok(s) => info.soname = s,
            Err(e) => info.problems.push(format!("SONAME: {e}")),
        }
    }

    // The forward-compatibility note.
    if let Some(note) = shdrs
        .iter()
        .find(|s| s.sh_type == SHT_NOTE && name_of(s).as_deref() == Some(FWD_COMPAT_SECTION))
    {
        match f
            .read_at(
                note.sh_offset,
                note.sh_size,
                MAX_SECTION,
                FWD_COMPAT_SECTION,
            )
            .and_then(|data| parse_fwd_compat(&data, note.sh_addralign, ctx.le))
        {
            Ok(n) => info.fwd_compat = n,
            Err(e) => info.problems.push(format!("{FWD_COMPAT_SECTION}: {e}")),
        }
    }
    Ok(info)
}

fn soname(
    f: &mut Bounded,
    shdrs: &[SectionHeader],
    dynamic: &SectionHeader,
    ctx: Ctx,
) -> Result<Option<String>, ElfError> {
    let data = f.read_at(dynamic.sh_offset, dynamic.sh_size, MAX_SECTION, ".dynamic")?;
    let word = if ctx.container.is_big() { 8 } else { 4 };
    let mut offset = None;
    for entry in data.chunks_exact(word * 2) {
        let tag = uint(entry.get(..word).unwrap_or_default(), ctx.le);
        let val = uint(entry.get(word..).unwrap_or_default(), ctx.le);
        if tag == DT_NULL {
            break;
        }
        if tag == DT_SONAME {
            offset = Some(val);
            break;
        }
    }
    let Some(offset) = offset else {
        return Ok(None);
    };
    let strtab = usize::try_from(dynamic.sh_link)
        .ok()
        .and_then(|i| shdrs.get(i))
        .ok_or_else(|| bad(".dynamic links to no string table"))?;
    if offset >= strtab.sh_size {
        return Err(bad("DT_SONAME points past the string table"));
    }
    let len = (strtab.sh_size - offset).min(MAX_SONAME);
    let start = strtab
        .sh_offset
        .checked_add(offset)
        .ok_or_else(|| bad("DT_SONAME offset overflows"))?;
    let bytes = f.read_at(start, len, MAX_SONAME, "DT_SONAME")?;
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("DT_SONAME is not terminated"))?;
    String::from_utf8(bytes.get(..end).unwrap_or_default().to_vec())
        .map(Some)
        .map_err(|_| bad("DT_SONAME is not UTF-8"))
}

fn uint(bytes: &[u8], le: Endian) -> u64 {
    let mut v: u64 = 0;
    if le.is_little() {
        for &b in bytes.iter().rev() {
            v = (v << 8) | u64::from(b);
        }
    } else {
        for &b in bytes {
            v = (v << 8) | u64::from(b);
        }
    }
    v
}

fn align_up(n: u64, to: u64) -> Option<u64> {
    let to = to.max(1);
    n.checked_add(to - 1).map(|v| v / to * to)
}

/// Parses the notes of a `.note.cuda.fwd_compatibility` section: the first note owned by
/// `NVIDIA Corporation` whose descriptor is JSON. `Ok(None)` when no note has that owner.
pub fn parse_fwd_compat(
    data: &[u8],
    sh_addralign: u64,
    le: Endian,
) -> Result<Option<FwdCompatNote>, ElfError> {
    // The toolkit pads the name to the section alignment; ELF notes use 4 (or 8).
    let align = if matches!(sh_addralign, 4 | 8) {
        sh_addralign
    } else {
        4
    };
    let mut pos: u64 = 0;
    let total = data.len() as u64;
    while pos + 12 <= total {
        let at = |o: u64| -> u64 {
            let s = usize::try_from(pos + o).unwrap_or(usize::MAX);
            data.get(s..s + 4).map_or(0, |b| uint(b, le))
        };
        let (namesz, descsz) = (at(0), at(4));
        let name_start = pos + 12;
        let desc_start =
            align_up(name_start + namesz, align).ok_or_else(|| bad("note name size overflows"))?;
        let desc_end = desc_start
            .checked_add(descsz)
            .ok_or_else(|| bad("note size overflows"))?;
        if desc_start > total || desc_end > total {
            return Err(bad("note runs past the section"));
        }
        let slice = |a: u64, b: u64| {
            data.get(usize::try_from(a).unwrap_or(0)..usize::try_from(b).unwrap_or(0))
                .unwrap_or_default()
        };
        let name = slice(name_start, name_start + namesz);
        let name = trim_nul(name);
        if name == NOTE_OWNER.as_bytes() {
            let desc = trim_nul(slice(desc_start, desc_end));
            return parse_fwd_compat_json(desc).map(Some);
        }
        pos = align_up(desc_end, align).ok_or_else(|| bad("note size overflows"))?;
    }
    Ok(None)
}

fn trim_nul(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != 0).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != 0).map_or(start, |e| e + 1);
    b.get(start..end.max(start)).unwrap_or_default()
}

/// Parses the note's JSON descriptor.
pub fn parse_fwd_compat_json(desc: &[u8]) -> Result<FwdCompatNote, ElfError> {
    let v: serde_json::Value =
        serde_json::from_slice(desc).map_err(|e| bad(format!("the note is not JSON: {e}")))?;
    let obj = v
        .as_object()
        .ok_or_else(|| bad("the note's JSON is not an object"))?;
    let list = |key: &str| -> Option<Vec<u32>> {
        obj.get(key)?.as_array().map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64().and_then(|n| u32::try_from(n).ok()))
                .take(256)
                .collect()
        })
    };
    let cuda_version = obj
        .get("CUDA version")
        .and_then(|x| x.as_str())
        .and_then(|s| s.parse::<Version>().ok())
        .as_ref()
        .and_then(CudaVersion::of_dotted);
    Ok(FwdCompatNote {
        cuda_version,
        drivers: list("driver"),
        devices: list("device"),
    })
}

/// Builds small ELF shared objects for tests: `DT_SONAME` and optional notes.
#[cfg(test)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "test files are a few hundred bytes"
)]
pub(crate) mod build {
    /// A little-endian ELF64 x86-64 shared object with `soname` and, when given, a
    /// `.note.cuda.fwd_compatibility` note holding `note_json`.
    pub(crate) fn shared_object(soname: &str, note_json: Option<&str>) -> Vec<u8> {
        let mut dynstr = vec![0u8];
        let soname_off = dynstr.len() as u64;
        dynstr.extend_from_slice(soname.as_bytes());
        dynstr.push(0);
        let mut shstr = vec![0u8];
        let mut name = |n: &str| {
            let o = shstr.len() as u32;
            shstr.extend_from_slice(n.as_bytes());
            shstr.push(0);
            o
        };
        let n_dynstr = name(".dynstr");
        let n_dynamic = name(".dynamic");
        let n_note = name(super::FWD_COMPAT_SECTION);
        let n_shstr = name(".shstrtab");
        let mut body = vec![0u8; 64];
        let pad8 = |v: &mut Vec<u8>| {
            while !v.len().is_multiple_of(8) {
                v.push(0);
            }
        };
        let dynstr_off = body.len() as u64;
        body.extend_from_slice(&dynstr);
        pad8(&mut body);
        let dynamic_off = body.len() as u64;
        for (tag, val) in [
            (14u64, soname_off),
            (5, dynstr_off),
            (10, dynstr.len() as u64),
            (0, 0),
        ] {
            body.extend_from_slice(&tag.to_le_bytes());
            body.extend_from_slice(&val.to_le_bytes());
        }
        let dynamic_len = body.len() as u64 - dynamic_off;
        let note_off = body.len() as u64;
        if let Some(json) = note_json {
            let owner = b"NVIDIA Corporation\0";
            body.extend_from_slice(&(owner.len() as u32).to_le_bytes());
            body.extend_from_slice(&(json.len() as u32 + 1).to_le_bytes());
            body.extend_from_slice(&1u32.to_le_bytes());
            body.extend_from_slice(owner);
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
            body.extend_from_slice(json.as_bytes());
            body.push(0);
            while !body.len().is_multiple_of(4) {
                body.push(0);
            }
        }
        let note_len = body.len() as u64 - note_off;
        let shstr_off = body.len() as u64;
        body.extend_from_slice(&shstr);
        pad8(&mut body);
        let shoff = body.len() as u64;
        let mut sh = |name: u32, ty: u32, off: u64, size: u64, link: u32, align: u64, ent: u64| {
            body.extend_from_slice(&name.to_le_bytes());
            body.extend_from_slice(&ty.to_le_bytes());
            body.extend_from_slice(&0u64.to_le_bytes()); // flags
            body.extend_from_slice(&off.to_le_bytes()); // addr == offset
            body.extend_from_slice(&off.to_le_bytes());
            body.extend_from_slice(&size.to_le_bytes());
            body.extend_from_slice(&link.to_le_bytes());
            body.extend_from_slice(&0u32.to_le_bytes());
            body.extend_from_slice(&align.to_le_bytes());
            body.extend_from_slice(&ent.to_le_bytes());
        };
        sh(0, 0, 0, 0, 0, 0, 0);
        sh(n_dynstr, 3, dynstr_off, dynstr.len() as u64, 0, 1, 0);
        sh(n_dynamic, 6, dynamic_off, dynamic_len, 1, 8, 16);
        let mut shnum = 3u16;
        if note_json.is_some() {
            sh(n_note, 7, note_off, note_len, 0, 4, 0);
            shnum += 1;
        }
        sh(n_shstr, 3, shstr_off, shstr.len() as u64, 0, 1, 0);
        shnum += 1;
        let mut h = Vec::with_capacity(64);
        h.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        h.extend_from_slice(&3u16.to_le_bytes()); // ET_DYN
        h.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        h.extend_from_slice(&1u32.to_le_bytes());
        h.extend_from_slice(&0u64.to_le_bytes()); // entry
        h.extend_from_slice(&0u64.to_le_bytes()); // phoff
        h.extend_from_slice(&shoff.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&56u16.to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(&64u16.to_le_bytes());
        h.extend_from_slice(&shnum.to_le_bytes());
        h.extend_from_slice(&(shnum - 1).to_le_bytes());
        body[..64].copy_from_slice(&h);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::Scratch;

    /// `bytes` written to `dir/name`.
    fn tmp(dir: &Scratch, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    const NOTE_129: &str = r#"{"format":1,"CUDA version":"12.9","driver":[535,550,560,565,570,575],"device":[1,2,7,8,9,10,11,12,13,14]}"#;

    #[test]
    fn elfinfo_soname_and_fwd_compat_note() {
        let dir = Scratch::new("elf-compat");
        let p = tmp(
            &dir,
            "compat",
            &build::shared_object("libcuda.so.1", Some(NOTE_129)),
        );
        let info = read(&p).unwrap();
        assert_eq!(info.machine, 62);
        assert!(info.is_64);
        assert_eq!(info.soname.as_deref(), Some("libcuda.so.1"));
        let n = info.fwd_compat.unwrap();
        assert_eq!(
            n.cuda_version.as_ref().map(ToString::to_string).as_deref(),
            Some("12.9")
        );
        assert_eq!(n.drivers.unwrap(), [535, 550, 560, 565, 570, 575]);
        assert_eq!(n.devices.unwrap(), [1, 2, 7, 8, 9, 10, 11, 12, 13, 14]);
        assert!(info.problems.is_empty(), "{:?}", info.problems);
    }

    #[test]
    fn elfinfo_orin_note_without_lists() {
        let n = parse_fwd_compat_json(br#"{"format":1,"CUDA version":"13.2"}"#).unwrap();
        assert_eq!(
            n.cuda_version.as_ref().map(ToString::to_string).as_deref(),
            Some("13.2")
        );
        assert_eq!(n.drivers, None);
        assert_eq!(n.devices, None);
    }

    #[test]
    fn elfinfo_plain_library_has_no_note() {
        let dir = Scratch::new("elf-plain");
        let p = tmp(
            &dir,
            "plain",
            &build::shared_object("libnvidia-ml.so.1", None),
        );
        let info = read(&p).unwrap();
        assert_eq!(info.soname.as_deref(), Some("libnvidia-ml.so.1"));
        assert_eq!(info.fwd_compat, None);
    }

    /// Every truncation and every single-byte corruption of a valid file gives a result or an
    /// error, never a panic.
    #[test]
    fn elfinfo_hostile_bytes_never_panic() {
        let good = build::shared_object("libcuda.so.1", Some(NOTE_129));
        let dir = Scratch::new("elf-hostile");
        for cut in 0..good.len() {
            let p = tmp(&dir, "cut", &good[..cut]);
            let _ = read(&p);
        }
        for i in 0..good.len() {
            for v in [0x00, 0xff, 0x7f, 0x80] {
                let mut bad = good.clone();
                bad[i] = v;
                let p = tmp(&dir, "flip", &bad);
                let _ = read(&p);
            }
        }
        assert!(read(&tmp(&dir, "text", b"not an elf at all")).is_err());
    }

    #[test]
    fn elfinfo_note_bounds_checked() {
        let mut data = Vec::new();
        data.extend_from_slice(&19u32.to_le_bytes());
        data.extend_from_slice(&u32::MAX.to_le_bytes());
        data.extend_from_slice(&1u32.to_le_bytes());
        data.extend_from_slice(b"NVIDIA Corporation\0\0");
        assert!(parse_fwd_compat(&data, 4, Endian::Little).is_err());
        assert!(parse_fwd_compat(&[], 4, Endian::Little).unwrap().is_none());
    }

    /// A shared object from the real toolchain: `cc -shared` with the note written by the
    /// assembler as an `SHT_NOTE` section, when cc is installed.
    #[test]
    fn elfinfo_reads_a_toolchain_built_library() {
        use std::process::Command;
        let dir = crate::testutil::Scratch::new("elf-cc");
        let src = dir.join("x.c");
        std::fs::write(&src, "int cuInit(unsigned f) { return (int)f; }\n").unwrap();
        let asm = dir.join("note.s");
        let escaped = NOTE_129.replace('"', "\\\"");
        std::fs::write(
            &asm,
            format!(
                ".section {FWD_COMPAT_SECTION},\"a\",@note\n.balign 4\n.long 19\n.long {}\n.long 1\n.asciz \"NVIDIA Corporation\"\n.balign 4\n.ascii \"{escaped}\"\n.balign 4\n",
                NOTE_129.len()
            ),
        )
        .unwrap();
        let so = dir.join("libcuda.so.575.57.08");
        let ok = Command::new("cc")
            .args(["-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o"])
            .arg(&so)
            .arg(&src)
            .arg(&asm)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: no working cc");
            return;
        }
        let info = read(&so).unwrap();
        assert_eq!(info.soname.as_deref(), Some("libcuda.so.1"));
        assert!(info.problems.is_empty(), "{:?}", info.problems);
        let note = info.fwd_compat.expect("the note");
        assert_eq!(
            note.cuda_version
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("12.9")
        );
        assert_eq!(note.drivers.unwrap(), [535, 550, 560, 565, 570, 575]);
    }
}
