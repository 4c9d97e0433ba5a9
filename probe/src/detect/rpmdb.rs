//! The rpm database in its `SQLite` form (RPM 4.16 and newer: Fedora 33+, RHEL 9,
//! `/var/lib/rpm/rpmdb.sqlite`; openSUSE and newer Fedora: `/usr/lib/sysimage/rpm/rpmdb.sqlite`),
//! read without `SQLite`: a minimal read-only walker of table b-trees, enough for the one table
//! rpm keeps its headers in, `Packages (hnum INTEGER PRIMARY KEY, blob BLOB)`, found through
//! `sqlite_schema` on page 1. Each blob is an rpm header (`headerExport`'s image: index count,
//! data length, 16-byte index entries, data), of which `NAME` (1000), `EPOCH` (1003), `VERSION`
//! (1001), `RELEASE` (1002) and `ARCH` (1022) are read.
//!
//! The file is untrusted: every read is bounds-checked, anything the format does not allow (a
//! page type other than a table b-tree's where one is expected, a payload larger than the file,
//! a header whose index runs past its data) makes the walk stop with an error, never a panic,
//! and the pages visited are counted ([`PAGE_BUDGET`], and at most [`READ_BUDGET`] bytes), so a
//! cycle of child or overflow pointers ends, and so does a walk made to visit pages again and
//! again. The format: <https://www.sqlite.org/fileformat2.html>; rpm's header layout:
//! <https://github.com/rpm-software-management/rpm/blob/master/docs/manual/format_header.md>.
//! Only the rows rpm's `Name` table names for the packages wanted are read (see [`packages`]).
//! Changes still in a write-ahead log (`rpmdb.sqlite-wal`) are not read: `SQLite` writes them
//! into the main file when rpm's last connection closes.

/// Pages visited at most in one walk (a 100,000-page database is 400 MB at 4 KiB pages).
pub const PAGE_BUDGET: usize = 100_000;
/// Bytes read at most in one walk: [`PAGE_BUDGET`] pages of 4 KiB, rpm's page size. With the
/// largest pages (64 KiB) that is 6,400 pages, still four times a 100 MB database, instead of
/// 6.5 GB read from a file built to make the walk visit pages over and over.
pub const READ_BUDGET: u64 = PAGE_BUDGET as u64 * 4096;
/// The largest blob assembled (rpm refuses headers over 256 MiB; real ones are under 1 MiB).
const BLOB_LIMIT: usize = 32 << 20;
/// Packages read at most (a machine has a few dozen NVIDIA ones).
const ROW_LIMIT: usize = 1024;
/// Interior pages nested at most (a b-tree of this file's size is never deeper than ~10).
const DEPTH_LIMIT: u32 = 24;

/// One installed package's identity, from its header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpmPackage {
    /// `NAME`.
    pub name: String,
    /// `EPOCH`, when set.
    pub epoch: Option<u32>,
    /// `VERSION`.
    pub version: String,
    /// `RELEASE`.
    pub release: String,
    /// `ARCH` (`x86_64`, `noarch`).
    pub arch: String,
}

/// Why a database could not be read.
pub type Error = &'static str;

/// Where a database's bytes come from: a file read page by page (`pread`,
/// [`crate::root::ReadAt`]), or bytes in memory.
pub trait Bytes {
    /// The size in bytes.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; false when it cannot (past the end, an I/O error).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool;
}

impl Bytes for &[u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        let Ok(at) = usize::try_from(offset) else {
            return false;
        };
        match at
            .checked_add(buf.len())
            .and_then(|end| (*self).get(at..end))
        {
            Some(s) => {
                buf.copy_from_slice(s);
                true
            }
            None => false,
        }
    }
}

/// A file opened under the probe's root, read with `pread` (under a capture's recorder each
/// range read is noted, so the bundle keeps exactly the pages read here).
impl Bytes for crate::root::ReadAt {
    fn size(&self) -> u64 {
        crate::root::ReadAt::size(self)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        crate::root::ReadAt::read_at(self, offset, buf)
    }
}

struct Db<'a> {
    src: &'a dyn Bytes,
    page_size: usize,
    usable: usize,
    pages: u32,
    budget: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    let s: [u8; 2] = b.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(usize::from(u16::from_be_bytes(s)))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(s))
}

/// An `SQLite` varint at `at`: its value and length.
fn varint(b: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..9 {
        let byte = *b.get(at.checked_add(i)?)?;
        if i == 8 {
            return Some(((v << 8) | u64::from(byte), 9));
        }
        v = (v << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A column of a record: only what the schema and `Packages` rows hold.
#[derive(Debug, PartialEq, Eq)]
enum Value<'a> {
    Null,
    Int(i64),
    Bytes(&'a [u8]),
    Other,
}

/// The columns of a record (the header of serial types, then the bodies).
fn record(rec: &[u8]) -> Option<Vec<Value<'_>>> {
    let (hlen, first) = varint(rec, 0)?;
    let hlen = usize::try_from(hlen).ok()?;
    if hlen > rec.len() || hlen < first {
        return None;
    }
    let (mut at, mut body) = (first, hlen);
    let mut out = Vec::new();
    while at < hlen {
        let (serial, used) = varint(rec, at)?;
        at += used;
        let (len, value): (usize, Option<Value<'_>>) = match serial {
            0 => (0, Some(Value::Null)),
            1..=6 => {
                let len = *[1, 2, 3, 4, 6, 8].get(usize::try_from(serial - 1).ok()?)?;
                let bytes = rec.get(body..body.checked_add(len)?)?;
                let mut x = if bytes.first()? & 0x80 != 0 { -1_i64 } else { 0 };
                for &b in bytes {
                    x = (x << 8) | i64::from(b);
                }
                (len, Some(Value::Int(x)))
            }
            7 => (8, Some(Value::Other)),
            8 => (0, Some(Value::Int(0))),
            9 => (0, Some(Value::Int(1))),
            10 | 11 => return None,
            _ => (usize::try_from((serial - 12) / 2).ok()?, None),
        };
        let end = body.checked_add(len)?;
        let value = match value {
            Some(v) => v,
            None => Value::Bytes(rec.get(body..end)?),
        };
        if end > rec.len() {
            return None;
        }
        out.push(value);
        body = end;
    }
    Some(out)
}

impl<'a> Db<'a> {
    fn open(src: &'a dyn Bytes) -> Result<Self, Error> {
        let mut head = [0_u8; 100];
        if !src.read_at(0, &mut head) || !head.starts_with(b"SQLite format 3\0") {
            return Err("not an SQLite 3 database");
        }
        let page_size = match be16(&head, 16).ok_or("truncated header")? {
            1 => 65536,
            n if (512..=32768).contains(&n) && n.is_power_of_two() => n,
            _ => return Err("invalid page size"),
        };
        let reserved = usize::from(*head.get(20).ok_or("truncated header")?);
        let usable = page_size
            .checked_sub(reserved)
            .filter(|u| *u >= 480)
            .ok_or("invalid reserved space")?;
        if !matches!(be32(&head, 56), Some(0 | 1)) {
            return Err("text encoding is not UTF-8");
        }
        let pages = u32::try_from(src.size() / page_size as u64).map_err(|_| "file too large")?;
        Ok(Self {
            src,
            page_size,
            usable,
            pages,
            budget: PAGE_BUDGET.min(usize::try_from(READ_BUDGET).unwrap_or(usize::MAX) / page_size),
        })
    }

    fn page(&mut self, n: u32) -> Result<Vec<u8>, Error> {
        if n == 0 || n > self.pages {
            return Err("page number out of range (a truncated database?)");
        }
        self.budget = self.budget.checked_sub(1).ok_or("page budget spent")?;
        let mut buf = vec![0_u8; self.page_size];
        if !self
            .src
            .read_at(u64::from(n - 1) * self.page_size as u64, &mut buf)
        {
            return Err("page past the end of the file");
        }
        Ok(buf)
    }

    /// The b-tree page header of page `n`: its offset in the page, kind, cell count and
    /// header length.
    fn header(n: u32, page: &[u8]) -> Result<(usize, bool, usize, usize), Error> {
        let h = if n == 1 { 100 } else { 0 };
        let (hdr, interior) = match *page.get(h).ok_or("truncated page")? {
            0x0d => (8, false),
            0x05 => (12, true),
            _ => return Err("not a table b-tree page"),
        };
        let cells = be16(page, h + 3).ok_or("truncated page")?;
        Ok((h, interior, cells, hdr))
    }

    fn cell(&self, page: &[u8], h: usize, hdr: usize, i: usize) -> Result<usize, Error> {
        let ptr = be16(page, h + hdr + 2 * i).ok_or("truncated cell pointers")?;
        if ptr >= self.usable {
            return Err("cell pointer out of the page");
        }
        Ok(ptr)
    }

    /// The payload of the row `rowid` of the table b-tree rooted at `root`, `None` when there
    /// is no such row: one descent through the interior pages' keys.
    fn row(&mut self, root: u32, rowid: i64) -> Result<Option<Vec<u8>>, Error> {
        let mut n = root;
        for _ in 0..=DEPTH_LIMIT {
            let page = self.page(n)?;
            let (h, interior, cells, hdr) = Self::header(n, &page)?;
            if interior {
                let mut next = be32(&page, h + 8).ok_or("truncated page")?;
                for i in 0..cells {
                    let ptr = self.cell(&page, h, hdr, i)?;
                    let (key, _) = varint(&page, ptr + 4).ok_or("truncated cell")?;
                    #[allow(clippy::cast_possible_wrap)]
                    if rowid <= key as i64 {
                        next = be32(&page, ptr).ok_or("truncated cell")?;
                        break;
                    }
                }
                n = next;
                continue;
            }
            for i in 0..cells {
                let ptr = self.cell(&page, h, hdr, i)?;
                let (len, a) = varint(&page, ptr).ok_or("truncated cell")?;
                let (id, b) = varint(&page, ptr + a).ok_or("truncated cell")?;
                #[allow(clippy::cast_possible_wrap)]
                if id as i64 == rowid {
                    return self.payload(&page, ptr + a + b, len).map(Some);
                }
            }
            return Ok(None);
        }
        Err("b-tree too deep")
    }

    /// Every row of the table b-tree rooted at `root`: `f(rowid, payload)`.
    fn walk(
        &mut self,
        root: u32,
        depth: u32,
        f: &mut dyn FnMut(i64, &[u8]),
    ) -> Result<(), Error> {
        if depth > DEPTH_LIMIT {
            return Err("b-tree too deep");
        }
        let page = self.page(root)?;
        let (h, interior, cells, hdr) = Self::header(root, &page)?;
        for i in 0..cells {
            let ptr = self.cell(&page, h, hdr, i)?;
            if interior {
                let child = be32(&page, ptr).ok_or("truncated cell")?;
                self.walk(child, depth + 1, f)?;
            } else {
                let (len, n) = varint(&page, ptr).ok_or("truncated cell")?;
                let (rowid, m) = varint(&page, ptr + n).ok_or("truncated cell")?;
                #[allow(clippy::cast_possible_wrap)]
                let rowid = rowid as i64;
                let payload = self.payload(&page, ptr + n + m, len)?;
                f(rowid, &payload);
            }
        }
        if interior {
            let right = be32(&page, h + 8).ok_or("truncated page")?;
            self.walk(right, depth + 1, f)?;
        }
        Ok(())
    }

    /// A table leaf cell's payload of `len` bytes from `at`: the local part, then the chain of
    /// overflow pages.
    fn payload(&mut self, page: &[u8], at: usize, len: u64) -> Result<Vec<u8>, Error> {
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= BLOB_LIMIT && *l as u64 <= self.src.size())
            .ok_or("payload larger than the file")?;
        let u = self.usable;
        let x = u - 35;
        let local = if len <= x {
            len
        } else {
            let m = ((u - 12) * 32 / 255) - 23;
            let k = m + (len - m) % (u - 4);
            if k <= x { k } else { m }
        };
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(
            page.get(at..at + local)
                .filter(|_| at + local <= u)
                .ok_or("payload past the page")?,
        );
        if local < len {
            let mut next = be32(page, at + local).ok_or("truncated overflow pointer")?;
            while out.len() < len {
                let p = self.page(next)?;
                let take = (len - out.len()).min(u - 4);
                out.extend_from_slice(p.get(4..4 + take).ok_or("truncated overflow page")?);
                next = be32(&p, 0).ok_or("truncated overflow page")?;
            }
        }
        Ok(out)
    }

    /// The root pages of the tables `names`, from `sqlite_schema` (`None` for one not there).
    fn table_roots<const N: usize>(&mut self, names: [&str; N]) -> Result<[Option<u32>; N], Error> {
        let mut roots = [None; N];
        self.walk(1, 0, &mut |_, p| {
            if let Some(cols) = record(p)
                && let [Value::Bytes(b"table"), Value::Bytes(n), _, Value::Int(r), ..] =
                    cols.as_slice()
                && let Some(i) = names.iter().position(|x| x.as_bytes() == *n)
                && let Some(slot) = roots.get_mut(i)
                && slot.is_none()
            {
                *slot = u32::try_from(*r).ok();
            }
        })?;
        Ok(roots)
    }
}

/// The identity fields of an rpm header blob; `None` when it is malformed or lacks a name.
pub fn header(blob: &[u8]) -> Option<RpmPackage> {
    // The on-disk image of a package file has the 8-byte header magic; the database's has not.
    let blob = blob
        .strip_prefix(&[0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0])
        .unwrap_or(blob);
    let il = usize::try_from(be32(blob, 0)?).ok()?;
    let dl = usize::try_from(be32(blob, 4)?).ok()?;
    if il > 0xffff {
        return None;
    }
    let index = blob.get(8..8 + il * 16)?;
    let data = blob.get(8 + il * 16..(8 + il * 16).checked_add(dl)?)?;
    let string = |off: usize| -> Option<String> {
        let s = data.get(off..)?;
        let end = s.iter().position(|&b| b == 0)?;
        Some(String::from_utf8_lossy(s.get(..end)?).into_owned())
    };
    let mut p = RpmPackage::default();
    let mut named = false;
    for e in index.chunks_exact(16) {
        let tag = be32(e, 0)?;
        let kind = be32(e, 4)?;
        let off = usize::try_from(be32(e, 8)?).ok()?;
        match (tag, kind) {
            (1000, 6) => {
                p.name = string(off)?;
                named = true;
            }
            (1001, 6) => p.version = string(off)?,
            (1002, 6) => p.release = string(off)?,
            (1022, 6) => p.arch = string(off)?,
            (1003, 4) => p.epoch = Some(be32(data, off)?),
            _ => {}
        }
    }
    (named && !p.name.is_empty()).then_some(p)
}

/// The packages of an `rpmdb.sqlite` whose name `keep` accepts. rpm's `Name` table (name,
/// `hnum`) says which rows to read, so only their headers are read, each by one descent of
/// `Packages` (a 100 MB database costs a few dozen pages); without a `Name` table, every row
/// of `Packages` is read, in row order.
pub fn packages(src: &dyn Bytes, keep: &dyn Fn(&str) -> bool) -> Result<Vec<RpmPackage>, Error> {
    let mut db = Db::open(src)?;
    let [Some(root), name] = db.table_roots(["Packages", "Name"])? else {
        return Err("no Packages table");
    };
    let mut out = Vec::new();
    let mut add = |blob: &[u8]| {
        if let Some(h) = header(blob)
            && keep(&h.name)
        {
            out.push(h);
        }
    };
    if let Some(name) = name {
        // Each row once, in the Name table's order (rpm's install order); no sort (its code
        // is 5 KB of the static binary), so the list is bounded instead.
        let mut rows: Vec<i64> = Vec::new();
        db.walk(name, 0, &mut |_, p| {
            if let Some(cols) = record(p)
                && let [Value::Bytes(key), Value::Int(hnum), ..] = cols.as_slice()
                && rows.len() < ROW_LIMIT
                && !rows.contains(hnum)
                && keep(&String::from_utf8_lossy(key))
            {
                rows.push(*hnum);
            }
        })?;
        for hnum in rows {
            if let Some(p) = db.row(root, hnum)?
                && let Some(cols) = record(&p)
                && let Some(Value::Bytes(blob)) = cols.get(1)
            {
                add(blob);
            }
        }
    } else {
        db.walk(root, 0, &mut |_, p| {
            if let Some(cols) = record(p)
                && let Some(Value::Bytes(blob)) = cols.get(1)
            {
                add(blob);
            }
        })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpmdb_varints_and_records() {
        assert_eq!(varint(&[0x05], 0), Some((5, 1)));
        assert_eq!(varint(&[0x81, 0x00], 0), Some((128, 2)));
        assert_eq!(varint(&[0xff; 9], 0), Some((u64::MAX, 9)));
        assert_eq!(varint(&[0x81], 0), None);
        // header 4 bytes: its length, NULL, 1-byte int, 3-byte text.
        let r = [4, 0, 1, 19, 42, b'a', b'b', b'c'];
        assert_eq!(
            record(&r).unwrap(),
            vec![Value::Null, Value::Int(42), Value::Bytes(b"abc")]
        );
        assert!(record(&[4, 0, 1, 19, 42, b'a']).is_none());
        assert!(record(&[9, 0]).is_none());
    }

    #[test]
    fn rpmdb_header_fields() {
        // Two entries: NAME at 0, ARCH at 4; a third's offset past the data is refused.
        let mut h = vec![0, 0, 0, 2, 0, 0, 0, 11];
        h.extend([0, 0, 3, 232, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend([0, 0, 3, 254, 0, 0, 0, 6, 0, 0, 0, 4, 0, 0, 0, 1]);
        h.extend(b"abc\0x86_64\0");
        let p = header(&h).unwrap();
        assert_eq!((p.name.as_str(), p.arch.as_str()), ("abc", "x86_64"));
        h[35] = 99;
        assert!(header(&h).is_none());
        assert!(header(&[0xff; 8]).is_none());
        assert!(header(&[]).is_none());
    }

    /// Counts the bytes read through it.
    struct Counting<'a>(&'a [u8], std::cell::Cell<u64>);

    impl Bytes for Counting<'_> {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
            self.1.set(self.1.get() + buf.len() as u64);
            self.0.read_at(offset, buf)
        }
    }

    #[test]
    fn rpmdb_reads_are_bounded_in_bytes_with_large_pages() {
        // 64 KiB pages: page 1 an interior page whose 16,000 cells all name page 2, itself an
        // interior page whose 16,000 cells all name page 3, an empty leaf. No cycle and not
        // deep, so only the budget stops the walk: 100,000 pages would be 6.5 GB read (a
        // hostile capture bundle replayed); the byte budget stops it at READ_BUDGET.
        const P: usize = 65536;
        let mut db = vec![0_u8; 3 * P];
        db[..16].copy_from_slice(b"SQLite format 3\0");
        db[16..18].copy_from_slice(&1_u16.to_be_bytes());
        db[56..60].copy_from_slice(&1_u32.to_be_bytes());
        let cells = 16_000_u16;
        for (page, h, child) in [(0, 100, 2_u32), (1, 0, 3)] {
            let base = page * P;
            let at = base + h;
            db[at] = 0x05;
            db[at + 3..at + 5].copy_from_slice(&cells.to_be_bytes());
            db[at + 8..at + 12].copy_from_slice(&child.to_be_bytes());
            // One cell near the page's end (child, key 1), named by every pointer.
            let cell = P - 8;
            db[base + cell..base + cell + 4].copy_from_slice(&child.to_be_bytes());
            db[base + cell + 4] = 1;
            for i in 0..usize::from(cells) {
                let ptr = at + 12 + 2 * i;
                db[ptr..ptr + 2].copy_from_slice(&u16::try_from(cell).unwrap().to_be_bytes());
            }
        }
        db[2 * P] = 0x0d;
        let src = Counting(&db, std::cell::Cell::new(0));
        assert_eq!(packages(&src, &|_| true), Err("page budget spent"));
        let read = src.1.get();
        assert!(read <= READ_BUDGET + 100, "{read} bytes read");
    }

    #[test]
    fn rpmdb_refuses_odd_files_without_panicking() {
        assert!(packages(&&b""[..], &|_| true).is_err());
        assert!(packages(&&b"SQLite format 3\0"[..], &|_| true).is_err());
        let mut h = b"SQLite format 3\0".to_vec();
        h.resize(4096, 0);
        h[16] = 0x10; // 4096-byte pages
        // Page 1's b-tree page type 0: not a table page.
        assert!(packages(&&h[..], &|_| true).is_err());
        h[100] = 0x05; // interior whose right-most child is page 1: a cycle, ended by depth
        h[108..112].copy_from_slice(&1_u32.to_be_bytes());
        assert!(packages(&&h[..], &|_| true).is_err());
        h[16] = 0x03; // 768: not a power of two
        assert!(packages(&&h[..], &|_| true).is_err());
    }
}
