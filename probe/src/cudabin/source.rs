//! Bounded reads: every read names its offset and length, is checked against the size of what
//! is read, and is capped, so no length taken from a file can make us allocate more than
//! [`MAX_READ`] bytes at once or read past the end.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// The most one read may ask for (section header tables, string tables, chunks of `.rodata`).
pub(crate) const MAX_READ: u64 = 16 << 20;

/// Something that can be read at an offset: a file region, or bytes in memory (tests).
pub(crate) trait Source {
    /// Its length in bytes.
    fn len(&self) -> u64;

    /// Exactly `len` bytes at `offset`, or a sentence saying why not.
    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String>;

    /// Up to `len` bytes at `offset`: fewer when the source ends first.
    fn read_up_to(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        let available = self.len().saturating_sub(offset);
        if available == 0 {
            return Ok(Vec::new());
        }
        self.read_at(offset, len.min(available))
    }
}

/// Checks `offset + len <= total` and `len <= MAX_READ`.
fn check_range(offset: u64, len: u64, total: u64) -> Result<(), String> {
    let end = offset
        .checked_add(len)
        .ok_or_else(|| format!("range at {offset:#x} of {len} bytes overflows"))?;
    if end > total {
        return Err(format!(
            "range {offset:#x}..{end:#x} lies past the end ({total:#x} bytes)"
        ));
    }
    if len > MAX_READ {
        return Err(format!(
            "refusing to read {len} bytes at once (limit {MAX_READ})"
        ));
    }
    Ok(())
}

/// Bytes in memory.
#[cfg(test)]
pub(crate) struct Bytes<'a>(pub(crate) &'a [u8]);

#[cfg(test)]
impl Source for Bytes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        check_range(offset, len, self.len())?;
        let start = usize::try_from(offset).map_err(|e| e.to_string())?;
        let end = usize::try_from(offset + len).map_err(|e| e.to_string())?;
        self.0
            .get(start..end)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "range out of bounds".to_owned())
    }
}

/// A region `[base, base + len)` of an open file, read with `pread`.
pub(crate) struct FileRegion<'a> {
    file: &'a File,
    base: u64,
    len: u64,
}

impl<'a> FileRegion<'a> {
    /// The region; the caller has checked that it lies inside the file.
    pub(crate) fn new(file: &'a File, base: u64, len: u64) -> Self {
        Self { file, base, len }
    }
}

impl Source for FileRegion<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        check_range(offset, len, self.len)?;
        let absolute = self
            .base
            .checked_add(offset)
            .ok_or_else(|| "file offset overflows".to_owned())?;
        let mut buffer = vec![0; usize::try_from(len).map_err(|e| e.to_string())?];
        self.file
            .read_exact_at(&mut buffer, absolute)
            .map_err(|e| format!("read of {len} bytes at {absolute:#x} failed: {e}"))?;
        Ok(buffer)
    }
}

/// Little-endian integer readers over a slice; `None` past its end.
pub(crate) fn le_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// See [`le_u16`].
pub(crate) fn le_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// See [`le_u16`].
pub(crate) fn le_u64(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_bytes_bounds() {
        let data = [1u8, 2, 3, 4];
        let src = Bytes(&data);
        assert_eq!(src.read_at(1, 2).unwrap(), vec![2, 3]);
        assert!(src.read_at(3, 2).is_err());
        assert!(src.read_at(u64::MAX, 2).is_err());
        assert_eq!(src.read_up_to(2, 100).unwrap(), vec![3, 4]);
        assert_eq!(src.read_up_to(9, 100).unwrap(), Vec::<u8>::new());
        assert_eq!(le_u32(&data, 0), Some(0x0403_0201));
        assert_eq!(le_u32(&data, 1), None);
    }

    #[test]
    fn source_refuses_huge_reads() {
        let data = vec![0u8; 8];
        let src = Bytes(&data);
        assert!(src.read_at(0, MAX_READ + 1).is_err());
    }
}
