//! `ar` archives (`libfoo.a`, as `ar rcs` and nvcc `-lib` write them): each ELF member is read
//! where it lies in the archive, as an ELF file of its own, and its fatbins are listed with the
//! member's name before the section's (`foo.o:__nv_relfatbin`).
//!
//! # Format (System V / GNU `ar`)
//! `!<arch>\n`, then members, each a 60-byte header and its data, padded to an even offset:
//! name (16 bytes, `foo.o/`, or `/N` for the name at offset N of the `//` member), mtime (12),
//! uid (6), gid (6), mode (8), size (10, decimal ASCII), `` `\n ``. The members `/` and
//! `/SYM64/` are the symbol table, `//` holds long names. Nothing in a header sizes an
//! allocation: a member is read through the same bounded reads as any ELF file.

use std::fs::File;

use super::elf::scan_elf;
use super::source::{Budget, FileRegion, Source};
use super::types::{FileKind, ScanResult, note};

/// The archive magic.
pub(crate) const AR_MAGIC: &[u8; 8] = b"!<arch>\n";
/// One member header.
const HEADER: u64 = 60;
/// Members looked at, at most.
const MAX_MEMBERS: usize = 100_000;
/// The long-name table is read up to this size.
const MAX_NAMES: u64 = 1 << 20;

/// Fills `result` (kind [`FileKind::Archive`]) from the archive `file` of `len` bytes.
pub(crate) fn scan_archive(file: &File, len: u64, budget: &Budget, result: &mut ScanResult) {
    result.kind = FileKind::Archive;
    let whole = FileRegion::new(file, 0, len, budget);
    let mut names: Vec<u8> = Vec::new();
    let mut pos = AR_MAGIC.len() as u64;
    let mut members = 0usize;
    while pos + HEADER <= len {
        if budget.stopped().is_some() {
            return;
        }
        if members == MAX_MEMBERS {
            note(
                &mut result.problems,
                format!("more than {MAX_MEMBERS} members; the rest were not read"),
            );
            return;
        }
        members += 1;
        let header = match whole.read_at(pos, HEADER) {
            Ok(h) => h,
            Err(e) => return note(&mut result.problems, e),
        };
        if header.get(58..60) != Some(b"`\n") {
            return note(
                &mut result.problems,
                format!("no archive member header at {pos:#x}; the rest was not read"),
            );
        }
        let field = |from: usize, to: usize| {
            String::from_utf8_lossy(header.get(from..to).unwrap_or_default())
                .trim_end()
                .to_owned()
        };
        let raw_name = field(0, 16);
        let Ok(size) = field(48, 58).parse::<u64>() else {
            return note(
                &mut result.problems,
                format!("member at {pos:#x} has no readable size; the rest was not read"),
            );
        };
        let data = pos + HEADER;
        let Some(end) = data.checked_add(size).filter(|&e| e <= len) else {
            return note(
                &mut result.problems,
                format!(
                    "member at {pos:#x} claims {size} bytes past the end of the archive \
                     (truncated or lying size)"
                ),
            );
        };
        match raw_name.as_str() {
            "/" | "/SYM64/" => {}
            "//" => match whole.read_at(data, size.min(MAX_NAMES)) {
                Ok(table) => names = table,
                Err(e) => note(&mut result.problems, format!("long-name table: {e}")),
            },
            _ => {
                let name = member_name(&raw_name, &names);
                member(file, (data, size), &name, budget, result);
            }
        }
        pos = end + (end & 1);
    }
}

/// A member's name: `foo.o/` → `foo.o`, `/N` → the long name at N.
fn member_name(raw: &str, names: &[u8]) -> String {
    if let Some(index) = raw.strip_prefix('/')
        && let Ok(index) = index.parse::<usize>()
    {
        let tail = names.get(index..).unwrap_or_default();
        let end = tail
            .iter()
            .position(|&b| b == b'\n' || b == 0)
            .unwrap_or(tail.len())
            .min(4096);
        let name = String::from_utf8_lossy(tail.get(..end).unwrap_or_default()).into_owned();
        return name.trim_end_matches('/').to_owned();
    }
    raw.trim_end_matches('/').to_owned()
}

/// Reads one member: an ELF file is scanned and merged into `result`; others are skipped.
fn member(
    file: &File,
    (data, size): (u64, u64),
    name: &str,
    budget: &Budget,
    result: &mut ScanResult,
) {
    let region = FileRegion::new(file, data, size, budget);
    match region.read_up_to(0, 4) {
        Ok(magic) if magic == b"\x7fELF" => {}
        Ok(_) => return,
        Err(e) => return note(&mut result.problems, format!("{name}: {e}")),
    }
    let mut one = ScanResult::new(name.to_owned(), FileKind::Elf);
    scan_elf(file, (data, size), name, budget, &mut one);
    if result.elf_machine.is_none() {
        result.elf_machine = one.elf_machine;
    }
    if let Some(toolkit) = one.toolkit.as_deref()
        && let Some((a, b)) = toolkit.split_once('.')
        && let (Ok(a), Ok(b)) = (a.parse(), b.parse())
    {
        result.toolkit_seen(Some((a, b)));
    }
    result.fatbin_registrations += one.fatbin_registrations;
    result.fatbin_headers_elsewhere += one.fatbin_headers_elsewhere;
    for mut fatbin in one.fatbins {
        fatbin.section = format!("{name}:{}", fatbin.section);
        result.fatbins.push(fatbin);
    }
    for problem in one.problems {
        note(&mut result.problems, format!("{name}: {problem}"));
    }
    if result.cuda_runtime.is_none() {
        result.cuda_runtime = one.cuda_runtime;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_member_names() {
        let names = b"a_very_long_member_name_indeed.o/\nother.o/\n";
        assert_eq!(member_name("foo.o/", names), "foo.o");
        assert_eq!(member_name("/0", names), "a_very_long_member_name_indeed.o");
        assert_eq!(member_name("/34", names), "other.o");
        assert_eq!(member_name("/9999", names), "");
        assert_eq!(member_name("/", names), "");
    }
}
