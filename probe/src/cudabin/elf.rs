//! Reading one ELF file without trusting it: the header and section headers through `goblin`,
//! every other read bounded by the file size and by [`MAX_READ`].
//!
//! Only these parts of a file are read: the ELF header, the section header table, the section
//! name table, `.dynamic` with its string table, the fatbin sections (entry headers plus the
//! first bytes of uncompressed images) and, for files with CUDA code and no `libcudart`
//! dependency, `.rodata` in chunks (the static runtime's marker).

use std::collections::BTreeMap;
use std::fs::File;

use goblin::container::{Container, Ctx, Endian};
use goblin::elf::Elf;
use goblin::elf::header::ET_REL;
use goblin::elf::section_header::{SHT_DYNAMIC, SHT_NOBITS, SectionHeader};

use super::fatbin::{MAX_ENTRIES, count_containers, count_wrappers, parse_section};
use super::image::{cubin_header, cubin_variant, toolkit_release};
use super::inflate::relocatable_kernels;
use super::source::{Budget, FileRegion, MAX_READ, Source};
use super::types::{
    CudaRuntime, Entry, EntryKind, Fatbin, FileKind, Kernels, ScanResult, SmArch, note,
};

/// `EM_CUDA`: a cubin.
const EM_CUDA: u16 = 190;

/// Files larger than this are not read (2 GiB).
pub const MAX_FILE_SIZE: u64 = 2 << 30;
/// At most this many section headers are read.
const MAX_SECTIONS: u64 = 1 << 20;
/// At most this many section problems are listed per file.
const MAX_SECTION_PROBLEMS: usize = 8;
/// Section names are kept up to this many bytes (the ones looked for are short).
const MAX_SECTION_NAME: usize = 128;
/// `DT_NEEDED` and `DT_SONAME` names are kept up to this many bytes (`PATH_MAX`).
const MAX_NAME: usize = 4096;
/// At most this many `DT_NEEDED` entries are listed.
const MAX_NEEDED: usize = 1024;
/// A string only the CUDA runtime carries: `cudaGetErrorString(cudaErrorInsufficientDriver)`.
/// Present in `libcudart.so` and in every file with the runtime linked in statically; a file that
/// loads the shared `libcudart` does not carry cudart's error table.
pub(crate) const STATIC_RUNTIME_MARKER: &[u8] =
    b"CUDA driver version is insufficient for CUDA runtime version";
/// `.rodata` larger than this is searched only up to here.
const MAX_RODATA: u64 = 256 << 20;

/// One section: its name and where its bytes are.
struct Section {
    name: String,
    header: SectionHeader,
}

/// Fills `result` from the ELF image at `base` in `file`, `file_len` bytes long (the whole
/// file, or an archive member), every read within `budget`. `file_name` is the last path
/// component (for the version suffix).
pub(crate) fn scan_elf(
    file: &File,
    (base, file_len): (u64, u64),
    file_name: &str,
    budget: &Budget,
    result: &mut ScanResult,
) {
    let whole = FileRegion::new(file, base, file_len, budget);
    let header_bytes = match whole.read_up_to(0, 64) {
        Ok(b) => b,
        Err(e) => return note(&mut result.problems, e),
    };
    let header = match Elf::parse_header(&header_bytes) {
        Ok(h) => h,
        Err(e) => return note(&mut result.problems, format!("unreadable ELF header: {e}")),
    };
    let ctx = match (header.container(), header.endianness()) {
        (Ok(container), Ok(endian)) => Ctx::new(container, endian),
        _ => {
            return result
                .problems
                .push("ELF header has an unknown class or byte order".into());
        }
    };
    result.elf_machine = Some(header.e_machine);
    if header.e_machine == EM_CUDA {
        return bare_cubin(&whole, base, result);
    }
    let Some(sections) = read_sections(&whole, &header, ctx, &mut result.problems) else {
        return;
    };
    check_section_layout(&sections, file_len, &mut result.problems);

    read_dynamic(&whole, &sections, ctx, result);
    result.version = own_version(file_name, result.soname.as_deref());

    // Bytes already parsed, per kind: a section header over bytes another one covers is not
    // read again (100 headers over one fatbin cost 100 parses, issue 18).
    let mut fatbin_ranges = Ranges::default();
    let mut wrapper_ranges = Ranges::default();
    let mut kept = 0usize;
    let mut scratch = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        if budget.stopped().is_some() {
            break;
        }
        let name = section.name.as_str();
        let is_fatbin = name == ".nv_fatbin" || name == "__nv_relfatbin";
        let is_wrappers = name == ".nvFatBinSegment";
        if !is_fatbin && !is_wrappers {
            continue;
        }
        let Some(region) = section_region(
            file,
            section,
            (base, file_len),
            budget,
            &mut result.problems,
        ) else {
            continue;
        };
        let ranges = if is_fatbin {
            &mut fatbin_ranges
        } else {
            &mut wrapper_ranges
        };
        if !ranges.claim(section.header.sh_offset, region.len(), index) {
            continue;
        }
        if is_fatbin {
            let mut fatbin = parse_section(
                &region,
                name,
                base.saturating_add(section.header.sh_offset),
                MAX_ENTRIES.saturating_sub(kept),
                &mut result.problems,
            );
            kept += fatbin.entries.len();
            // In a linked file, the cubins of `__nv_relfatbin` are relocatable device-library
            // code (libcudadevrt) that the driver links with the file's PTX: no kernel of the
            // program is in them (its own SASS, when it has some, was linked into .nv_fatbin).
            // Whether one does define kernels is in its symbol table (`inflate.rs`).
            if name == "__nv_relfatbin" && header.e_type != ET_REL {
                let section_start = base.saturating_add(section.header.sh_offset);
                for entry in &mut fatbin.entries {
                    if entry.kind != EntryKind::Sass {
                        continue;
                    }
                    entry.relocatable = true;
                    entry.kernels = Some(if entry.concatenated {
                        Kernels {
                            count: None,
                            decompressed: false,
                            unread: Some("inside a concatenated entry, not read".to_owned()),
                        }
                    } else {
                        relocatable_kernels(
                            &region,
                            entry.offset.saturating_sub(section_start),
                            entry.compression,
                            budget.inflate_left(),
                            &mut |bytes| budget.inflated(bytes),
                            &mut scratch,
                        )
                    });
                }
            }
            result.toolkit_seen(fatbin.toolkit);
            result.fatbins.push(fatbin);
        } else {
            result.fatbin_registrations += count_wrappers(&region, &mut result.problems);
        }
    }
    for (ranges, what) in [
        (&fatbin_ranges, "fatbin"),
        (&wrapper_ranges, ".nvFatBinSegment"),
    ] {
        if let Some(problem) = ranges.repeats(what) {
            note(&mut result.problems, problem);
        }
    }

    // Fatbins outside the fatbin sections, which neither scan nor cuobjdump lists: cuFFT keeps
    // ~24,000 containers in `.ldata` (the large-data section of huge libraries), and more
    // registrations than the fatbin sections hold containers point at `.data`. Their headers
    // are counted, so nothing found never reads as nothing there.
    let containers: u64 = result.fatbins.iter().map(|f| u64::from(f.containers)).sum();
    let unaccounted = result.fatbin_registrations > containers;
    if budget.stopped().is_none() {
        let elsewhere = sections
            .iter()
            .filter(|s| s.name == ".ldata" || (unaccounted && s.name == ".data"));
        for section in elsewhere {
            let Some(region) = section_region(
                file,
                section,
                (base, file_len),
                budget,
                &mut result.problems,
            ) else {
                continue;
            };
            match count_containers(&region) {
                Ok(n) => result.fatbin_headers_elsewhere += n,
                Err(e) => note(&mut result.problems, format!("{}: {e}", section.name)),
            }
        }
    }

    result.cuda_runtime = runtime(file, (base, file_len), &sections, budget, result);
}

/// A bare cubin (`nvcc -cubin`, `EM_CUDA`): itself one SASS image, listed in a pseudo-section
/// `cubin`.
fn bare_cubin(whole: &FileRegion<'_>, base: u64, result: &mut ScanResult) {
    result.kind = FileKind::Cubin;
    let head = match whole.read_up_to(0, 4096) {
        Ok(h) => h,
        Err(e) => return note(&mut result.problems, e),
    };
    let Some(cubin) = cubin_header(&head) else {
        return note(
            &mut result.problems,
            "an EM_CUDA ELF file whose header names no SM this scanner knows".to_owned(),
        );
    };
    let Some(arch) = SmArch::from_number(cubin.sm, cubin_variant(cubin)) else {
        return note(
            &mut result.problems,
            format!("cubin names SM {}, which is no real target", cubin.sm),
        );
    };
    let toolkit = toolkit_release(&head);
    result.toolkit_seen(toolkit);
    result.fatbins.push(Fatbin {
        section: "cubin".to_owned(),
        offset: base,
        size: whole.len(),
        containers: 0,
        entries: vec![Entry {
            kind: EntryKind::Sass,
            arch,
            target: arch.to_string(),
            ptx_isa: None,
            compressed: false,
            compression: None,
            size: whole.len(),
            stored_size: whole.len(),
            debug: false,
            offset: base,
            relocatable: false,
            kernels: None,
            concatenated: false,
        }],
        toolkit,
    });
}

/// The file ranges of the sections of one kind already read (disjoint, by start), and the
/// sections skipped because their bytes overlap one of them.
#[derive(Default)]
struct Ranges {
    /// Start offset → (end offset, section index), for non-empty ranges.
    read: BTreeMap<u64, (u64, usize)>,
    /// (section index, index of the section already read that it overlaps).
    repeated: Vec<(usize, usize)>,
}

impl Ranges {
    /// True when the section `index` at `[start, start + len)` is to be read: its bytes overlap
    /// none already read. An empty section reads nothing and is always read.
    fn claim(&mut self, start: u64, len: u64, index: usize) -> bool {
        if len == 0 {
            return true;
        }
        let end = start.saturating_add(len);
        // The ranges held are disjoint, so their ends grow with their starts: only the last one
        // starting before `end` can reach past `start`.
        if let Some((_, &(prev_end, prev_index))) = self.read.range(..end).next_back()
            && prev_end > start
        {
            self.repeated.push((index, prev_index));
            return false;
        }
        self.read.insert(start, (end, index));
        true
    }

    /// The problem line for the sections skipped, if any.
    fn repeats(&self, what: &str) -> Option<String> {
        let (&(first, first_of), rest) = self.repeated.split_first()?;
        let mut names: Vec<String> = std::iter::once(first)
            .chain(rest.iter().map(|&(i, _)| i))
            .take(MAX_SECTION_PROBLEMS)
            .map(|i| i.to_string())
            .collect();
        if self.repeated.len() > MAX_SECTION_PROBLEMS {
            names.push(format!(
                "{} more",
                self.repeated.len() - MAX_SECTION_PROBLEMS
            ));
        }
        Some(format!(
            "{} {what} section header(s) (sections {}) cover bytes of a section already read \
             (the first: section {first_of}); those bytes were read once",
            self.repeated.len(),
            names.join(", ")
        ))
    }
}

/// The section headers and their names, or `None` (with a problem) when the table is unusable.
fn read_sections(
    whole: &FileRegion<'_>,
    header: &goblin::elf::Header,
    ctx: Ctx,
    problems: &mut Vec<String>,
) -> Option<Vec<Section>> {
    let entry_size = SectionHeader::size(ctx) as u64;
    let offset = header.e_shoff;
    if offset == 0 {
        // No section headers (stripped to program headers only): nothing to read.
        return Some(Vec::new());
    }
    if u64::from(header.e_shentsize) != entry_size {
        note(
            problems,
            format!(
                "section header size is {} (expected {entry_size}); sections not read",
                header.e_shentsize
            ),
        );
        return None;
    }
    let mut count = u64::from(header.e_shnum);
    if count == 0 {
        // More than 0xff00 sections: the count is in the first header's sh_size.
        let first = whole.read_at(offset, entry_size).ok().and_then(|b| {
            SectionHeader::parse_from(&b, 0, 1, ctx)
                .ok()
                .and_then(|v| v.into_iter().next())
        });
        count = first.map_or(0, |s| s.sh_size);
    }
    if count == 0 {
        return Some(Vec::new());
    }
    if count > MAX_SECTIONS {
        note(
            problems,
            format!("{count} section headers claimed; sections not read"),
        );
        return None;
    }
    let table_len = count * entry_size;
    let table = match whole.read_at(offset, table_len) {
        Ok(t) => t,
        Err(e) => {
            note(
                problems,
                format!("section header table ({count} entries): {e}"),
            );
            return None;
        }
    };
    let headers = match SectionHeader::parse_from(
        &table,
        0,
        usize::try_from(count).unwrap_or(usize::MAX),
        ctx,
    ) {
        Ok(h) => h,
        Err(e) => {
            note(problems, format!("section headers unreadable: {e}"));
            return None;
        }
    };

    // SHN_XINDEX: the index is in the first header's sh_link.
    let strtab_index = match header.e_shstrndx {
        0xffff => headers.first().map_or(0, |h| u64::from(h.sh_link)),
        index => u64::from(index),
    };
    let names = usize::try_from(strtab_index)
        .ok()
        .and_then(|i| headers.get(i))
        .filter(|h| h.sh_type != SHT_NOBITS)
        .and_then(
            |h| match whole.read_at(h.sh_offset, h.sh_size.min(MAX_READ)) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    note(problems, format!("section name table: {e}"));
                    None
                }
            },
        )
        .unwrap_or_default();
    Some(
        headers
            .into_iter()
            .map(|header| Section {
                name: c_string_at(&names, header.sh_name, MAX_SECTION_NAME),
                header,
            })
            .collect(),
    )
}

/// The NUL-terminated string at `offset`, at most `max` bytes of it (empty when out of range).
/// Without the cap, a string table of one long string named by every section header (or every
/// `DT_NEEDED`) made a copy per name: 100,000 × 100 KB from a 1.7 MB file, then an abort.
fn c_string_at(table: &[u8], offset: usize, max: usize) -> String {
    let Some(tail) = table.get(offset..) else {
        return String::new();
    };
    let tail = tail.get(..max).unwrap_or(tail);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(tail.get(..end).unwrap_or_default()).into_owned()
}

/// Sections past the end of the file, and sections overlapping each other.
fn check_section_layout(sections: &[Section], file_len: u64, problems: &mut Vec<String>) {
    let mut listed = 0;
    let mut ranges = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let h = &section.header;
        if h.sh_type == SHT_NOBITS || h.sh_size == 0 {
            continue;
        }
        match h.sh_offset.checked_add(h.sh_size) {
            Some(end) if end <= file_len => ranges.push((h.sh_offset, end, index)),
            _ => {
                if listed < MAX_SECTION_PROBLEMS {
                    note(
                        problems,
                        format!(
                            "section {index} '{}' (offset {:#x}, size {:#x}) extends past the end of \
                         the file ({file_len:#x} bytes)",
                            section.name, h.sh_offset, h.sh_size
                        ),
                    );
                }
                listed += 1;
            }
        }
    }
    ranges.sort_unstable();
    let mut furthest: Option<(u64, usize)> = None;
    for &(start, end, index) in &ranges {
        if let Some((prev_end, prev_index)) = furthest
            && start < prev_end
        {
            if listed < MAX_SECTION_PROBLEMS {
                note(
                    problems,
                    format!("sections {prev_index} and {index} overlap in the file"),
                );
            }
            listed += 1;
        }
        if furthest.is_none_or(|(prev_end, _)| end > prev_end) {
            furthest = Some((end, index));
        }
    }
    if listed > MAX_SECTION_PROBLEMS {
        note(
            problems,
            format!("{} more section problems", listed - MAX_SECTION_PROBLEMS),
        );
    }
}

/// The section's bytes as a bounded region, or `None` (with a problem) when it lies outside the
/// file.
fn section_region<'a>(
    file: &'a File,
    section: &Section,
    (base, file_len): (u64, u64),
    budget: &'a Budget,
    problems: &mut Vec<String>,
) -> Option<FileRegion<'a>> {
    let h = &section.header;
    if h.sh_type == SHT_NOBITS {
        return None;
    }
    match h.sh_offset.checked_add(h.sh_size) {
        Some(end) if end <= file_len => Some(FileRegion::new(
            file,
            base.saturating_add(h.sh_offset),
            h.sh_size,
            budget,
        )),
        _ => {
            note(
                problems,
                format!("{}: section lies outside the file; not read", section.name),
            );
            None
        }
    }
}

/// `DT_NEEDED` and `DT_SONAME` from the dynamic section.
fn read_dynamic(whole: &FileRegion<'_>, sections: &[Section], ctx: Ctx, result: &mut ScanResult) {
    let Some(dynamic) = sections.iter().find(|s| s.header.sh_type == SHT_DYNAMIC) else {
        return;
    };
    let h = &dynamic.header;
    let read = |offset: u64, size: u64| whole.read_at(offset, size.min(MAX_READ));
    let entries = match read(h.sh_offset, h.sh_size) {
        Ok(b) => b,
        Err(e) => return note(&mut result.problems, format!(".dynamic: {e}")),
    };
    let strings = usize::try_from(h.sh_link)
        .ok()
        .and_then(|i| sections.get(i))
        .map(|s| read(s.header.sh_offset, s.header.sh_size));
    let strings = match strings {
        Some(Ok(b)) => b,
        Some(Err(e)) => return note(&mut result.problems, format!(".dynstr: {e}")),
        None => return note(&mut result.problems, ".dynamic has no string table".into()),
    };
    let (width, little) = (
        if ctx.container == Container::Big {
            8
        } else {
            4
        },
        ctx.le == Endian::Little,
    );
    let word = |bytes: &[u8]| -> u64 {
        let mut value = 0u64;
        for (i, &b) in bytes.iter().enumerate() {
            let shift = if little { i } else { bytes.len() - 1 - i };
            value |= u64::from(b) << (8 * shift);
        }
        value
    };
    let mut more_needed = 0usize;
    for pair in entries.chunks_exact(2 * width) {
        let (tag, value) = pair.split_at(width);
        let (tag, value) = (word(tag), word(value));
        let name = || {
            c_string_at(
                &strings,
                usize::try_from(value).unwrap_or(usize::MAX),
                MAX_NAME,
            )
        };
        match tag {
            0 => break,
            1 if result.needed.len() < MAX_NEEDED => result.needed.push(name()),
            1 => more_needed += 1,
            14 => result.soname = Some(name()),
            _ => {}
        }
    }
    if more_needed > 0 {
        note(
            &mut result.problems,
            format!(
                ".dynamic: {more_needed} DT_NEEDED entries beyond the first {MAX_NEEDED} were not listed"
            ),
        );
    }
}

/// The version suffix after `.so.`: the file name's when it extends the SONAME's
/// (`libcudart.so.12.9.79` over `libcudart.so.12`), else the SONAME's.
pub(crate) fn own_version(file_name: &str, soname: Option<&str>) -> Option<String> {
    let suffix = |name: &str| {
        name.split_once(".so.")
            .map(|(_, v)| v.to_owned())
            .filter(|v| {
                !v.is_empty() && v.split('.').all(|p| p.bytes().all(|b| b.is_ascii_digit()))
            })
    };
    let from_file = suffix(file_name);
    let from_soname = soname.and_then(suffix);
    match (from_file, from_soname) {
        (Some(f), Some(s)) if f.starts_with(&s) => Some(f),
        (_, Some(s)) => Some(s),
        (f, None) => f,
    }
}

/// Which CUDA runtime the file uses: `libcudart` itself, a `DT_NEEDED libcudart`, or (for files
/// with CUDA code) the static runtime found by its marker in `.rodata`.
fn runtime(
    file: &File,
    image: (u64, u64),
    sections: &[Section],
    budget: &Budget,
    result: &mut ScanResult,
) -> Option<CudaRuntime> {
    let is_cudart = |name: &str| name.starts_with("libcudart.so");
    if let Some(soname) = result.soname.as_deref().filter(|s| is_cudart(s)) {
        return Some(CudaRuntime::IsRuntime {
            soname: soname.to_owned(),
            version: result.version.clone(),
        });
    }
    if let Some(needed) = result.needed.iter().find(|n| is_cudart(n)) {
        return Some(CudaRuntime::Shared {
            soname: needed.clone(),
            version: own_version(needed, None),
            installed: None,
        });
    }
    // A file whose reads were stopped already says so; `.rodata` is not searched.
    if !result.has_cuda_code() || budget.stopped().is_some() {
        return None;
    }
    let rodata = sections.iter().find(|s| s.name == ".rodata")?;
    let region = section_region(file, rodata, image, budget, &mut result.problems)?;
    match contains(&region, STATIC_RUNTIME_MARKER, MAX_RODATA) {
        Ok(true) => Some(CudaRuntime::Static {
            evidence: "cudart's error strings in .rodata, no libcudart dependency".into(),
            version: static_runtime_version(result),
        }),
        Ok(false) => None,
        Err(e) => {
            note(&mut result.problems, format!(".rodata: {e}"));
            None
        }
    }
}

/// The release of a static runtime, as far as the file shows: nvcc links the runtime of the
/// toolkit that builds the program, so the newest toolkit named by its device code, else the
/// CUDA major of its newest PTX ISA (ISA 9.x is CUDA 13, 8.x 12, 7.x 11). A lower bound: code
/// built by an older toolkit may be linked in, never code of a newer one.
fn static_runtime_version(result: &ScanResult) -> Option<String> {
    if let Some(toolkit) = &result.toolkit {
        return Some(toolkit.clone());
    }
    let isa = result.entries().filter_map(|e| e.ptx_isa).max()?;
    let major = match isa.0 {
        7..=9 => isa.0 + 4,
        _ => return None,
    };
    Some(major.to_string())
}

/// Whether `needle` occurs in the first `limit` bytes of `src`, read in chunks from the end
/// of that range backwards: the static runtime is linked last, so its strings lie at the end of
/// `.rodata` (curand 10.3: in the last 7 KB of 20 MB).
fn contains(src: &dyn Source, needle: &[u8], limit: u64) -> Result<bool, String> {
    const CHUNK: u64 = 4 << 20;
    let overlap = needle.len() as u64;
    let end = src.len().min(limit);
    let finder = crate::search::Finder::new(needle);
    let mut stop = end;
    while stop > 0 {
        let start = stop.saturating_sub(CHUNK);
        // Each chunk reaches `overlap` bytes into the one after it (read before it), so a
        // needle across the boundary is found.
        let chunk = src.read_up_to(start, (stop - start + overlap).min(end - start))?;
        if finder.find(&chunk).is_some() {
            return Ok(true);
        }
        stop = start;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::super::source::Bytes;
    use super::*;

    #[test]
    fn elf_own_version() {
        assert_eq!(
            own_version("libcudart.so.12.9.79", Some("libcudart.so.12")).unwrap(),
            "12.9.79"
        );
        assert_eq!(
            own_version("libnvjpeg.so.13", Some("libnvjpeg.so.13")).unwrap(),
            "13"
        );
        assert_eq!(own_version("weird.so", Some("libfoo.so.2")).unwrap(), "2");
        assert_eq!(own_version("libx.so.1.2", None).unwrap(), "1.2");
        assert_eq!(own_version("libx.so.1.2", Some("libx.so.3")).unwrap(), "3");
        assert_eq!(
            own_version("_C.cpython-312-x86_64-linux-gnu.so", None),
            None
        );
        assert_eq!(own_version("libx.so.abc", None), None);
    }

    #[test]
    fn elf_overlapping_sections_read_once() {
        let mut ranges = Ranges::default();
        assert!(ranges.claim(100, 50, 2));
        assert!(!ranges.claim(100, 50, 3), "the same bytes");
        assert!(!ranges.claim(120, 10, 4), "inside");
        assert!(!ranges.claim(60, 50, 5), "over the start");
        assert!(!ranges.claim(140, u64::MAX, 6), "over the end");
        assert!(ranges.claim(150, 10, 7), "adjacent after");
        assert!(ranges.claim(90, 10, 8), "adjacent before");
        assert!(ranges.claim(100, 0, 9), "empty");
        assert!(!ranges.claim(0, 1000, 10), "over all of them");
        assert_eq!(ranges.repeated.len(), 5);
        let line = ranges.repeats("fatbin").unwrap();
        assert!(
            line.starts_with("5 fatbin section header(s) (sections 3, 4, 5, 6, 10)"),
            "{line}"
        );
        assert!(
            line.contains("section 2") && line.contains("read once"),
            "{line}"
        );
        assert_eq!(Ranges::default().repeats("fatbin"), None);
    }

    #[test]
    fn elf_contains_across_chunks() {
        let mut data = vec![b'x'; 9 << 20];
        let at = (4 << 20) - 10;
        data[at..at + STATIC_RUNTIME_MARKER.len()].copy_from_slice(STATIC_RUNTIME_MARKER);
        assert!(contains(&Bytes(&data), STATIC_RUNTIME_MARKER, u64::MAX).unwrap());
        // Across the boundary of the chunks read backwards from the end (9 MiB - 4 MiB).
        let mut data = vec![b'x'; 9 << 20];
        let at = (5 << 20) - 10;
        data[at..at + STATIC_RUNTIME_MARKER.len()].copy_from_slice(STATIC_RUNTIME_MARKER);
        assert!(contains(&Bytes(&data), STATIC_RUNTIME_MARKER, u64::MAX).unwrap());
        assert!(!contains(&Bytes(&data), STATIC_RUNTIME_MARKER, 1 << 20).unwrap());
        assert!(!contains(&Bytes(b"short"), STATIC_RUNTIME_MARKER, u64::MAX).unwrap());
    }
}
