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
    /// The SONAME (`libcuda.so.1`).
    pub soname: String,
    /// The library's path (`/usr/lib/x86_64-linux-gnu/libcuda.so.1`).
    pub path: String,
}

/// The parsed cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cache {
    /// The entries in file order.
    pub entries: Vec<Entry>,
    /// `old`, `new` or `old+new`.
    pub format: &'static str,
}

/// The flags `ld.so` of this build accepts.
pub fn native_flags() -> i32 {
    if cfg!(target_arch = "x86_64") {
        FLAG_ELF_LIBC6 | FLAG_X8664_LIB64
    } else if cfg!(target_arch = "aarch64") {
        FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64
    } else {
        FLAG_ELF_LIBC6
    }
}

/// Reads and parses `/etc/ld.so.cache` under `root`; `None` when absent or unreadable (the
/// doctor's inventory records why as a source).
pub fn load(root: &crate::root::Root) -> Option<Cache> {
    let bytes = super::libs::read_bytes(root, "/etc/ld.so.cache", MAX_CACHE).ok()?;
    parse(&bytes).ok()
}

impl Cache {
    /// True when an entry for this architecture lives under `dir` (a path prefix ending in
    /// `/`).
    pub fn has_dir(&self, dir: &str) -> bool {
        let flags = native_flags();
        self.entries
            .iter()
            .any(|e| e.flags == flags && e.path.starts_with(dir))
    }

    /// The path `ld.so` would take for `soname` with entry flags `flags`.
    pub fn lookup(&self, soname: &str, flags: i32) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.soname == soname && e.flags == flags)
            .map(|e| e.path.as_str())
    }
}

fn u32_at(data: &[u8], at: usize) -> Result<u32, String> {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or_else(|| format!("truncated at byte {at}"))
}

fn string_at(data: &[u8], base: usize, offset: u32) -> Result<String, String> {
    let start = base
        .checked_add(offset as usize)
        .ok_or_else(|| "string offset overflows".to_owned())?;
    let rest = data
        .get(start..)
        .ok_or_else(|| format!("string offset {offset} lies past the end"))?;
    let end = rest
        .iter()
        .take(4096)
        .position(|&b| b == 0)
        .ok_or_else(|| format!("string at {offset} is not terminated"))?;
    std::str::from_utf8(rest.get(..end).unwrap_or_default())
        .map(str::to_owned)
        .map_err(|_| format!("string at {offset} is not UTF-8"))
}

/// Parses a cache file's bytes.
///
/// # Errors
/// A description of the first inconsistency: unknown magic, counts larger than the file,
/// strings outside it, big-endian caches.
pub fn parse(data: &[u8]) -> Result<Cache, String> {
    if data.starts_with(NEW_MAGIC) {
        let entries = parse_new(data, 0)?;
        return Ok(Cache {
            entries,
            format: "new",
        });
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
        let entries = parse_new(data, new_at)?;
        return Ok(Cache {
            entries,
            format: "old+new",
        });
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
    Ok(Cache {
        entries,
        format: "old",
    })
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
        entries.push(Entry {
            flags,
            soname: string_at(cache, 0, key)?,
            path: string_at(cache, 0, value)?,
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
        assert_eq!(c.entries.len(), 4);
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
        assert_eq!(c.entries.len(), 4);
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
}
