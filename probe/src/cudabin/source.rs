//! Bounded reads: every read names its offset and length, is checked against the size of what
//! is read, and is capped, so no length taken from a file can make us allocate more than
//! [`MAX_READ`] bytes at once or read past the end.

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

/// The most one read may ask for (section header tables, string tables, chunks of `.rodata`).
pub(crate) const MAX_READ: u64 = 16 << 20;

/// Something that can be read at an offset: a file region, or bytes in memory (tests).
pub(crate) trait Source {
    /// Its length in bytes.
    fn len(&self) -> u64;

    /// Exactly `len` bytes at `offset`, or a sentence saying why not.
    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String>;

    /// True once the file's [`Budget`] has stopped its reads (deadline or byte limit): every
    /// further read fails, so a parser should stop rather than note one failure per step.
    fn stopped(&self) -> bool {
        false
    }

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

/// Why a file's reads were stopped before its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The scan's deadline passed.
    Deadline,
    /// The file's byte budget was spent.
    Bytes,
}

/// What one file's reads may cost: a deadline and a number of bytes, shared by every
/// [`FileRegion`] of the file. Once a read is refused, every later one is too.
pub(crate) struct Budget {
    deadline: Option<Instant>,
    limit: u64,
    left: Cell<u64>,
    stop: Cell<Option<Stop>>,
    /// Bytes the file may still decompress (`inflate.rs`), of `inflate_limit`.
    inflate_left: Cell<u64>,
    inflate_limit: u64,
}

impl Budget {
    /// At most `bytes` bytes, and no read once `deadline` has passed.
    pub(crate) fn new(deadline: Option<Instant>, bytes: u64) -> Self {
        Self {
            deadline,
            limit: bytes,
            left: Cell::new(bytes),
            stop: Cell::new(None),
            inflate_left: Cell::new(0),
            inflate_limit: 0,
        }
    }

    /// The same, allowed to decompress `bytes` bytes in all (`inflate.rs`).
    pub(crate) fn with_inflate(mut self, bytes: u64) -> Self {
        self.inflate_left.set(bytes);
        self.inflate_limit = bytes;
        self
    }

    /// The bytes the file may still decompress, or why none.
    pub(crate) fn inflate_left(&self) -> Result<u64, String> {
        if self.inflate_limit == 0 {
            return Err("scan does not decompress (check --binary does, within a budget)".into());
        }
        if let Some(stop) = self.stop.get() {
            return Err(self.message(stop));
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err("not decompressed: the deadline passed".to_owned());
        }
        match self.inflate_left.get() {
            0 => Err(format!(
                "not decompressed: this file's {}-byte decompression budget is spent",
                self.inflate_limit
            )),
            left => Ok(left),
        }
    }

    /// Charges `bytes` decompressed.
    pub(crate) fn inflated(&self, bytes: u64) {
        self.inflate_left
            .set(self.inflate_left.get().saturating_sub(bytes));
    }

    /// Why reads were stopped, if they were.
    pub(crate) fn stopped(&self) -> Option<Stop> {
        self.stop.get()
    }

    /// The bytes of the limit not yet read.
    #[cfg(test)]
    pub(crate) fn left(&self) -> u64 {
        self.left.get()
    }

    /// The sentence for a read refused for `stop`.
    pub(crate) fn message(&self, stop: Stop) -> String {
        match stop {
            Stop::Deadline => "the deadline passed while reading this file; the rest of it was \
                               not read"
                .to_owned(),
            Stop::Bytes => format!(
                "stopped after reading {} bytes of this file (the limit per file); the rest of \
                 it was not read",
                self.limit - self.left.get()
            ),
        }
    }

    /// Takes `len` bytes from the budget, or says why not.
    fn spend(&self, len: u64) -> Result<(), String> {
        if let Some(stop) = self.stop.get() {
            return Err(self.message(stop));
        }
        let stop = if self.deadline.is_some_and(|d| Instant::now() >= d) {
            Stop::Deadline
        } else if let Some(left) = self.left.get().checked_sub(len) {
            self.left.set(left);
            return Ok(());
        } else {
            Stop::Bytes
        };
        self.stop.set(Some(stop));
        Err(self.message(stop))
    }
}

/// A region `[base, base + len)` of an open file, read with `pread` within the file's
/// [`Budget`].
pub(crate) struct FileRegion<'a> {
    file: &'a File,
    base: u64,
    len: u64,
    budget: &'a Budget,
}

impl<'a> FileRegion<'a> {
    /// The region; the caller has checked that it lies inside the file.
    pub(crate) fn new(file: &'a File, base: u64, len: u64, budget: &'a Budget) -> Self {
        Self {
            file,
            base,
            len,
            budget,
        }
    }
}

impl Source for FileRegion<'_> {
    fn len(&self) -> u64 {
        self.len
    }

    fn stopped(&self) -> bool {
        self.budget.stopped().is_some()
    }

    fn read_at(&self, offset: u64, len: u64) -> Result<Vec<u8>, String> {
        check_range(offset, len, self.len)?;
        self.budget.spend(len)?;
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
    fn source_budget_stops_reads() {
        let path = std::env::temp_dir().join(format!("nvprobe-budget-{}", std::process::id()));
        std::fs::write(&path, [7u8; 64]).unwrap();
        let file = File::open(&path).unwrap();
        let _ = std::fs::remove_file(&path);

        let budget = Budget::new(None, 40);
        let src = FileRegion::new(&file, 0, 64, &budget);
        assert_eq!(src.read_at(0, 32).unwrap().len(), 32);
        assert_eq!(budget.left(), 8);
        let refused = src.read_at(32, 16).unwrap_err();
        assert!(
            refused.contains("stopped after reading 32 bytes"),
            "{refused}"
        );
        assert!(src.stopped());
        assert_eq!(budget.stopped(), Some(Stop::Bytes));
        // Once stopped, even a read that fits is refused.
        assert!(src.read_at(0, 1).is_err());

        let past = Budget::new(Some(Instant::now()), u64::MAX);
        let src = FileRegion::new(&file, 0, 64, &past);
        assert!(src.read_at(0, 1).unwrap_err().contains("deadline"));
        assert_eq!(past.stopped(), Some(Stop::Deadline));
    }

    #[test]
    fn source_budget_bounds_decompression() {
        let none = Budget::new(None, 1 << 20);
        assert!(none.inflate_left().unwrap_err().contains("scan does not decompress"));
        let some = Budget::new(None, 1 << 20).with_inflate(100);
        assert_eq!(some.inflate_left(), Ok(100));
        some.inflated(60);
        assert_eq!(some.inflate_left(), Ok(40));
        some.inflated(1000);
        assert!(some.inflate_left().unwrap_err().contains("100-byte decompression budget"));
        let past = Budget::new(Some(Instant::now()), 1 << 20).with_inflate(100);
        assert!(past.inflate_left().unwrap_err().contains("deadline"));
    }

    #[test]
    fn source_refuses_huge_reads() {
        let data = vec![0u8; 8];
        let src = Bytes(&data);
        assert!(src.read_at(0, MAX_READ + 1).is_err());
    }
}
