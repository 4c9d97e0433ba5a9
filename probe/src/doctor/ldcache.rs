//! `/etc/ld.so.cache`, parsed by the probe itself (glibc's `ldconfig` writes it; `ld.so` reads
//! it with `elf/dl-cache.c`).
//!
//! # Formats
//! - Old (`ld.so-1.7.0`): the magic (11 bytes, padded to 12), `u32 nlibs`, then `nlibs`
//!   entries of `{i32 flags; u32 key; u32 value}`; the string offsets count from the end of the
//!   entry array.
//! - New (`glibc-ld.so.cache1.1`): a 48-byte header (`magic[17]`, `version[3]`, `u32 nlibs`,
//!   `u32 len_strings`, `u8 flags` (byte order: 2 little, 3 big), 3 bytes padding,
//!   `u32 extension_offset`, `u32 unused[3]`), then `nlibs` entries of
//!   `{i32 flags; u32 key; u32 value; u32 osversion; u64 hwcap}` (24 bytes); the string offsets
//!   count from the start of the new header.
//! - Both (glibc before 2.32 by default): the old cache, then the new one at the next 8-byte
//!   boundary after the old entries. `ld.so` then uses the new part, as we do.
//!
//! `key` is the SONAME, `value` the full path. Entry flags: the low byte is the type
//! (`FLAG_ELF_LIBC6` = 3), the next byte the architecture (`FLAG_X8664_LIB64` = 0x0300,
//! `FLAG_AARCH64_LIB64` = 0x0a00). `ld.so` takes the first entry with the wanted SONAME and flags
//! it accepts (the cache is sorted by `ldconfig`).
//!
//! Hostile input gives an error, never a panic or an allocation sized by the file.

/// The most bytes of a cache file read (real ones are 20–400 KB).
pub const MAX_CACHE: u64 = 8 << 20;

use std::sync::{Arc, OnceLock};

use crate::report::SourceStatus;

const OLD_MAGIC: &[u8] = b"ld.so-1.7.0";
const NEW_MAGIC: &[u8] = b"glibc-ld.so.cache1.1";
const OLD_HEADER: usize = 16;
const OLD_ENTRY: usize = 12;
const NEW_HEADER: usize = 48;
const NEW_ENTRY: usize = 24;

/// `FLAG_ELF_LIBC6`.
pub const FLAG_ELF_LIBC6: i32 = 0x0003;
/// `FLAG_X8664_LIB64`.
pub const FLAG_X8664_LIB64: i32 = 0x0300;
/// `FLAG_AARCH64_LIB64`.
pub const FLAG_AARCH64_LIB64: i32 = 0x0a00;

/// One cache entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The entry flags (type and architecture).
    pub flags: i32,
    /// Where the SONAME (`libcuda.so.1`) lies in the file (checked UTF-8).
    soname: (u32, u32),
    /// Where the library's path (`/usr/lib/x86_64-linux-gnu/libcuda.so.1`) lies in the file.
    path: (u32, u32),
}

/// The parsed cache: the file's bytes and, per entry, where its strings lie in them (a real
/// cache has ~1,000 entries; copying each string out cost ~0.1 ms per parse).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cache {
    data: Vec<u8>,
    entries: Vec<Entry>,
    /// `old`, `new` or `old+new`.
    pub format: &'static str,
}

/// The entry flags the machine's `ld.so` accepts.
pub fn flags_for(arch: crate::report::CpuArch) -> i32 {
    match arch {
        crate::report::CpuArch::X86_64 => FLAG_ELF_LIBC6 | FLAG_X8664_LIB64,
        crate::report::CpuArch::Aarch64 => FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64,
        crate::report::CpuArch::Ppc64le | crate::report::CpuArch::Other => FLAG_ELF_LIBC6,
    }
}

/// Reads and parses `/etc/ld.so.cache` under `root`, or says why not: the `ld-so-cache`
/// source's status and detail.
pub fn read(root: &crate::root::Root) -> Result<Cache, (SourceStatus, String)> {
    let path = "/etc/ld.so.cache";
    match root.read_bytes_whole(path, MAX_CACHE) {
        Ok(bytes) => parse_owned(bytes).map_err(|e| (SourceStatus::Failed, format!("{path}: {e}"))),
        Err(e) => {
            let status = match e.kind() {
                std::io::ErrorKind::NotFound => SourceStatus::Absent,
                std::io::ErrorKind::PermissionDenied => SourceStatus::Denied,
                _ => SourceStatus::Failed,
            };
            Err((
                status,
                format!("{path}: {}", crate::root::describe_error(&e)),
            ))
        }
    }
}

/// A run's `/etc/ld.so.cache`, read and parsed at most once and shared by its clones: the
/// platform checks and the doctor's inventory both look libraries up in it (a real cache
/// has ~1,000 entries, and parsing it twice was a fifth of a host run).
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<OnceLock<Result<Cache, (SourceStatus, String)>>>);

impl Shared {
    /// The cache under `root` (the same root on every call), read on first use.
    pub fn get(&self, root: &crate::root::Root) -> &Result<Cache, (SourceStatus, String)> {
        self.0.get_or_init(|| read(root))
    }
}

impl Cache {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for a cache without entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn text(&self, (start, end): (u32, u32)) -> &str {
        self.data
            .get(start as usize..end as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    fn bytes(&self, (start, end): (u32, u32)) -> &[u8] {
        self.data
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The entries in file order: `(flags, soname, path)`.
    pub fn iter(&self) -> impl Iterator<Item = (i32, &str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.flags, self.text(e.soname), self.text(e.path)))
    }

    /// True when an entry for `arch` lives under `dir` (a path prefix ending in `/`).
    pub fn has_dir(&self, dir: &str, arch: crate::report::CpuArch) -> bool {
        let flags = flags_for(arch);
        self.entries
            .iter()
            .any(|e| e.flags == flags && self.bytes(e.path).starts_with(dir.as_bytes()))
    }

    /// The path `ld.so` would take for `soname` with entry flags `flags`.
    pub fn lookup(&self, soname: &str, flags: i32) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.flags == flags && self.bytes(e.soname) == soname.as_bytes())
            .map(|e| self.text(e.path))
    }
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("truncated at byte {at}"))
}

/// Where the NUL-terminated UTF-8 string at `base + offset` lies: `(start, end)`.
fn string_at(data: &[u8], base: usize, offset: u32) -> Result<(u32, u32), String> {
    let start = base
        .checked_add(offset as usize)
        .ok_or_else(|| "string offset overflows".to_owned())?;
    let rest = data
        .get(start..)
        .ok_or_else(|| format!("string offset {offset} lies past the end"))?;
    // The NUL by the vector search, then a word-at-a-time ASCII test: UTF-8 is checked only
    // for the rare string that is not ASCII (a cache has ~1,000 entries, two strings each).
    let window = rest.get(..rest.len().min(4096)).unwrap_or_default();
    let text = crate::search::find_byte(0, window)
        .and_then(|end| window.get(..end))
        .ok_or_else(|| format!("string at {offset} is not terminated"))?;
    if !text.is_ascii() {
        std::str::from_utf8(text).map_err(|_| format!("string at {offset} is not UTF-8"))?;
    }
    let end = text.len();
    let at = |n: usize| u32::try_from(n).map_err(|_| "the cache is over 4 GiB".to_owned());
    Ok((at(start)?, at(start + end)?))
}

/// Parses a cache file's bytes.
///
/// # Errors
/// A description of the first inconsistency: unknown magic, counts larger than the file,
/// strings outside it, big-endian caches.
pub fn parse(data: &[u8]) -> Result<Cache, String> {
    parse_owned(data.to_vec())
}

/// [`parse`], keeping `bytes` (the strings stay in them).
///
/// # Errors
/// As [`parse`].
pub fn parse_owned(bytes: Vec<u8>) -> Result<Cache, String> {
    let (entries, format) = parse_entries(&bytes)?;
    Ok(Cache {
        data: bytes,
        entries,
        format,
    })
}

fn parse_entries(data: &[u8]) -> Result<(Vec<Entry>, &'static str), String> {
    if data.starts_with(NEW_MAGIC) {
        return Ok((parse_new(data, 0)?, "new"));
    }
    if !data.starts_with(OLD_MAGIC) {
        return Err("not an ld.so.cache (unknown magic)".to_owned());
    }
    let nlibs = u32_at(data, 12)? as usize;
    let room = data.len().saturating_sub(OLD_HEADER) / OLD_ENTRY;
    if nlibs > room {
        return Err(format!(
            "{nlibs} entries do not fit in {} bytes",
            data.len()
        ));
    }
    let entries_end = OLD_HEADER + nlibs * OLD_ENTRY;
    // A new-format cache may follow, 8-byte aligned.
    let new_at = entries_end.div_ceil(8) * 8;
    if data.get(new_at..).is_some_and(|d| d.starts_with(NEW_MAGIC)) {
        return Ok((parse_new(data, new_at)?, "old+new"));
    }
    let mut entries = Vec::with_capacity(nlibs);
    for i in 0..nlibs {
        let at = OLD_HEADER + i * OLD_ENTRY;
        let flags = u32_at(data, at)?.cast_signed();
        let key = u32_at(data, at + 4)?;
        let value = u32_at(data, at + 8)?;
        entries.push(Entry {
            flags,
            soname: string_at(data, entries_end, key)?,
            path: string_at(data, entries_end, value)?,
        });
    }
    Ok((entries, "old"))
}

fn parse_new(data: &[u8], base: usize) -> Result<Vec<Entry>, String> {
    let cache = data.get(base..).unwrap_or_default();
    if cache.len() < NEW_HEADER {
        return Err("new-format header is truncated".to_owned());
    }
    let nlibs = u32_at(cache, 20)? as usize;
    let byte_order = *cache
        .get(28)
        .ok_or_else(|| "the header is truncated".to_owned())?;
    if byte_order == 3 || byte_order == 1 {
        return Err("big-endian or invalid byte order flag".to_owned());
    }
    let room = (cache.len() - NEW_HEADER) / NEW_ENTRY;
    if nlibs > room {
        return Err(format!(
            "{nlibs} entries do not fit in {} bytes",
            cache.len()
        ));
    }
    let mut entries = Vec::with_capacity(nlibs);
    for i in 0..nlibs {
        let at = NEW_HEADER + i * NEW_ENTRY;
        let flags = u32_at(cache, at)?.cast_signed();
        let key = u32_at(cache, at + 4)?;
        let value = u32_at(cache, at + 8)?;
        // Offsets count from the new-format header; positions are kept in the whole file.
        entries.push(Entry {
            flags,
            soname: string_at(data, base, key)?,
            path: string_at(data, base, value)?,
        });
    }
    Ok(entries)
}

/// Writes caches for tests.
#[cfg(test)]
#[expect(
    clippy::cast_possible_truncation,
    reason = "test files are a few hundred bytes"
)]
pub(crate) mod build {
    /// A new-format cache with these `(flags, soname, path)` entries.
    pub(crate) fn new_format(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let strings_at = 48 + entries.len() * 24;
        let mut rows = Vec::new();
        for (flags, soname, path) in entries {
            let k = strings_at + strings.len();
            strings.extend_from_slice(soname.as_bytes());
            strings.push(0);
            let v = strings_at + strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            rows.push((*flags, k as u32, v as u32));
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"glibc-ld.so.cache1.1");
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        out.extend_from_slice(&(strings.len() as u32).to_le_bytes());
        out.extend_from_slice(&[2, 0, 0, 0]);
        out.extend_from_slice(&[0; 16]);
        for (flags, k, v) in rows {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u64.to_le_bytes());
        }
        out.extend_from_slice(&strings);
        out
    }

    /// An old-format cache.
    pub(crate) fn old_format(entries: &[(i32, &str, &str)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut rows = Vec::new();
        for (flags, soname, path) in entries {
            let k = strings.len();
            strings.extend_from_slice(soname.as_bytes());
            strings.push(0);
            let v = strings.len();
            strings.extend_from_slice(path.as_bytes());
            strings.push(0);
            rows.push((*flags, k as u32, v as u32));
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"ld.so-1.7.0\0");
        out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (flags, k, v) in rows {
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&strings);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const X86: i32 = 0x0303;
    const I386: i32 = 0x0003;

    fn sample() -> Vec<(i32, &'static str, &'static str)> {
        vec![
            (
                X86,
                "libnvidia-ml.so.1",
                "/lib/x86_64-linux-gnu/libnvidia-ml.so.1",
            ),
            (I386, "libcuda.so.1", "/lib/i386-linux-gnu/libcuda.so.1"),
            (X86, "libcuda.so.1", "/usr/local/cuda/compat/libcuda.so.1"),
            (X86, "libcuda.so.1", "/lib/x86_64-linux-gnu/libcuda.so.1"),
        ]
    }

    #[test]
    fn ldcache_new_format_first_match_wins() {
        let c = parse(&build::new_format(&sample())).unwrap();
        assert_eq!(c.format, "new");
        assert_eq!(c.len(), 4);
        assert_eq!(
            c.lookup("libcuda.so.1", X86),
            Some("/usr/local/cuda/compat/libcuda.so.1")
        );
        assert_eq!(
            c.lookup("libcuda.so.1", I386),
            Some("/lib/i386-linux-gnu/libcuda.so.1")
        );
        assert_eq!(c.lookup("libcudart.so.12", X86), None);
    }

    #[test]
    fn ldcache_old_format() {
        let c = parse(&build::old_format(&sample())).unwrap();
        assert_eq!(c.format, "old");
        assert_eq!(
            c.lookup("libnvidia-ml.so.1", X86),
            Some("/lib/x86_64-linux-gnu/libnvidia-ml.so.1")
        );
    }

    #[test]
    fn ldcache_old_then_new() {
        // glibc < 2.32 "compat" format: old entries (strings unused here), then the new cache.
        let mut old = b"ld.so-1.7.0\0".to_vec();
        old.extend_from_slice(&1u32.to_le_bytes());
        old.extend_from_slice(&[0; 12]);
        while !old.len().is_multiple_of(8) {
            old.push(0);
        }
        let new = build::new_format(&sample());
        old.extend_from_slice(&new);
        let c = parse(&old).unwrap();
        assert_eq!(c.format, "old+new");
        assert_eq!(c.len(), 4);
    }

    #[test]
    fn ldcache_hostile_input_is_an_error_not_a_panic() {
        assert!(parse(b"").is_err());
        assert!(parse(b"garbage").is_err());
        let mut huge = b"glibc-ld.so.cache1.1".to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 24]);
        assert!(parse(&huge).is_err());
        let mut huge_old = b"ld.so-1.7.0\0".to_vec();
        huge_old.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse(&huge_old).is_err());
        let good = build::new_format(&sample());
        for cut in 0..good.len() {
            let _ = parse(&good[..cut]);
        }
        for i in 0..good.len() {
            for v in [0u8, 0xff, 0x80] {
                let mut b = good.clone();
                b[i] = v;
                let _ = parse(&b);
            }
        }
        let good = build::old_format(&sample());
        for i in 0..good.len() {
            let mut b = good.clone();
            b[i] = 0xff;
            let _ = parse(&b);
        }
    }

    /// Every string must end in a NUL inside the file and be UTF-8: a cache whose last string
    /// is cut, or with a byte that is not UTF-8 in a path, is refused; a path in UTF-8 that is
    /// not ASCII is read.
    #[test]
    fn ldcache_strings_are_terminated_and_utf8() {
        let good = build::new_format(&sample());
        let at = |b: &[u8], s: &str| b.windows(s.len()).rposition(|w| w == s.as_bytes()).unwrap();
        let cut = parse(&good[..good.len() - 1]).unwrap_err();
        assert!(cut.contains("is not terminated"), "{cut}");
        let mut bad = good.clone();
        let i = at(&bad, "x86_64-linux-gnu/libnvidia-ml");
        bad[i] = 0xff;
        let err = parse(&bad).unwrap_err();
        assert!(err.contains("is not UTF-8"), "{err}");
        let mut accented = good.clone();
        let i = at(&accented, "cuda/compat");
        accented[i..i + 2].copy_from_slice("é".as_bytes());
        let c = parse(&accented).unwrap();
        assert_eq!(
            c.lookup("libcuda.so.1", X86),
            Some("/usr/local/éda/compat/libcuda.so.1")
        );
    }
}
