//! A writer of rpm databases in their `SQLite` form (`rpmdb.sqlite`), for tests that need one
//! bigger than the vendored fixture (`scripts/rpmdb/rocky9-nvidia.sqlite`, 56 KB) without
//! `rpm` or `SQLite` on the machine: the file format of <https://www.sqlite.org/fileformat2.html>
//! (4 KiB pages, UTF-8, table b-trees with interior pages and overflow chains), holding rpm's
//! `Packages (hnum INTEGER PRIMARY KEY, blob BLOB)` and `Name (key, hnum, idx)` tables as rpm
//! 4.16+ writes them. `sqlite3 db 'PRAGMA integrity_check'` answers `ok` for its output.

const PAGE: usize = 4096;

/// One package: its header's identity tags, and `filler` bytes of a description.
pub(crate) struct Pkg<'a> {
    pub name: &'a str,
    pub epoch: Option<u32>,
    pub version: &'a str,
    pub release: &'a str,
    pub arch: &'a str,
    /// The `DESCRIPTION` tag's text (makes the header as big as a real one).
    pub description: &'a str,
}

/// An rpm header blob (`headerExport`'s image without the magic): index count, data length,
/// 16-byte index entries (tag, type, offset, count), data.
pub(crate) fn rpm_header(p: &Pkg<'_>) -> Vec<u8> {
    let mut index: Vec<[u32; 4]> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut string = |tag: u32, s: &str, index: &mut Vec<[u32; 4]>| {
        index.push([tag, 6, u32::try_from(data.len()).unwrap(), 1]);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
    };
    string(1000, p.name, &mut index);
    string(1001, p.version, &mut index);
    string(1002, p.release, &mut index);
    string(1022, p.arch, &mut index);
    string(1005, p.description, &mut index);
    if let Some(e) = p.epoch {
        while !data.len().is_multiple_of(4) {
            data.push(0);
        }
        index.push([1003, 4, u32::try_from(data.len()).unwrap(), 1]);
        data.extend_from_slice(&e.to_be_bytes());
    }
    let mut out = Vec::new();
    out.extend_from_slice(&u32::try_from(index.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    for e in &index {
        for x in e {
            out.extend_from_slice(&x.to_be_bytes());
        }
    }
    out.extend_from_slice(&data);
    out
}

fn varint(mut v: u64) -> Vec<u8> {
    if v > 0x00ff_ffff_ffff_ffff {
        let mut out = vec![0_u8; 9];
        out[8] = (v & 0xff) as u8;
        v >>= 8;
        for i in (0..8).rev() {
            out[i] = ((v & 0x7f) as u8) | 0x80;
            v >>= 7;
        }
        return out;
    }
    let mut groups = vec![(v & 0x7f) as u8];
    v >>= 7;
    while v > 0 {
        groups.push(((v & 0x7f) as u8) | 0x80);
        v >>= 7;
    }
    groups.reverse();
    groups
}

/// A column of a record.
pub(crate) enum Col<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

/// A record: header (its length, serial types), then bodies.
fn record(cols: &[Col<'_>]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut body = Vec::new();
    for c in cols {
        match c {
            Col::Null => types.extend(varint(0)),
            Col::Int(i) => {
                let (t, n) = match *i {
                    -128..=127 => (1, 1),
                    -32768..=32767 => (2, 2),
                    -8_388_608..=8_388_607 => (3, 3),
                    -2_147_483_648..=2_147_483_647 => (4, 4),
                    _ => (6, 8),
                };
                types.extend(varint(t));
                body.extend_from_slice(&i.to_be_bytes()[8 - n..]);
            }
            Col::Text(s) => {
                types.extend(varint(s.len() as u64 * 2 + 13));
                body.extend_from_slice(s.as_bytes());
            }
            Col::Blob(b) => {
                types.extend(varint(b.len() as u64 * 2 + 12));
                body.extend_from_slice(b);
            }
        }
    }
    // The header's length counts its own varint (one byte for headers under 127 bytes).
    let mut hlen = types.len() + 1;
    if varint(hlen as u64).len() > 1 {
        hlen = types.len() + varint((types.len() + 2) as u64).len();
    }
    let mut out = varint(hlen as u64);
    out.extend(types);
    out.extend(body);
    out
}

/// The file being built: pages 1..=N (page 1 written last).
struct File {
    pages: Vec<[u8; PAGE]>,
}

impl File {
    fn alloc(&mut self) -> u32 {
        self.pages.push([0; PAGE]);
        u32::try_from(self.pages.len()).unwrap()
    }

    fn page(&mut self, n: u32) -> &mut [u8; PAGE] {
        &mut self.pages[n as usize - 1]
    }

    /// A table leaf cell for `rowid` and `payload`, its overflow pages allocated and written.
    fn leaf_cell(&mut self, rowid: i64, payload: &[u8]) -> Vec<u8> {
        // The local part, as the format says (U usable bytes, X the most kept local, M the
        // least).
        let usable = PAGE;
        let max_local = usable - 35;
        let len = payload.len();
        let local = if len <= max_local {
            len
        } else {
            let min_local = ((usable - 12) * 32 / 255) - 23;
            let k = min_local + (len - min_local) % (usable - 4);
            if k <= max_local { k } else { min_local }
        };
        let mut cell = varint(len as u64);
        cell.extend(varint(u64::try_from(rowid).unwrap()));
        cell.extend_from_slice(&payload[..local]);
        if local < len {
            let chunks: Vec<&[u8]> = payload[local..].chunks(usable - 4).collect();
            let first = self.alloc();
            let mut n = first;
            for (i, chunk) in chunks.iter().enumerate() {
                let next = if i + 1 < chunks.len() {
                    self.alloc()
                } else {
                    0
                };
                let pg = self.page(n);
                pg[..4].copy_from_slice(&next.to_be_bytes());
                pg[4..4 + chunk.len()].copy_from_slice(chunk);
                n = next;
            }
            cell.extend_from_slice(&first.to_be_bytes());
        }
        cell
    }

    /// Writes a b-tree page `n` (`hdr_at` 100 on page 1) of `kind` with `cells`.
    fn write_page(&mut self, n: u32, kind: u8, cells: &[Vec<u8>], right: Option<u32>) {
        let h = if n == 1 { 100 } else { 0 };
        let pg = self.page(n);
        let hdr = if right.is_some() { 12 } else { 8 };
        let mut top = PAGE;
        for (i, c) in cells.iter().enumerate() {
            top -= c.len();
            pg[top..top + c.len()].copy_from_slice(c);
            let at = h + hdr + 2 * i;
            pg[at..at + 2].copy_from_slice(&u16::try_from(top).unwrap().to_be_bytes());
        }
        assert!(h + hdr + 2 * cells.len() <= top, "page {n} overfull");
        pg[h] = kind;
        pg[h + 3..h + 5].copy_from_slice(&u16::try_from(cells.len()).unwrap().to_be_bytes());
        pg[h + 5..h + 7].copy_from_slice(&u16::try_from(top % 65536).unwrap().to_be_bytes());
        if let Some(r) = right {
            pg[h + 8..h + 12].copy_from_slice(&r.to_be_bytes());
        }
    }

    /// A table b-tree of `rows` (rowid, payload), sorted by rowid; returns its root page.
    /// `root` is the page to use as the root (page 1 for the schema), else one is allocated.
    fn table(&mut self, rows: &[(i64, Vec<u8>)], root: Option<u32>) -> u32 {
        // Leaves: cells packed in order; each leaf (page, its largest rowid).
        let mut level: Vec<(u32, i64)> = Vec::new();
        let mut cells: Vec<Vec<u8>> = Vec::new();
        let mut used = 0;
        let room = |first: bool| PAGE - 8 - if first { 100 } else { 0 };
        let mut last_id = 0;
        let mut leaves: Vec<(Vec<Vec<u8>>, i64)> = Vec::new();
        for (id, payload) in rows {
            let cell = self.leaf_cell(*id, payload);
            if !cells.is_empty()
                && used + cell.len() + 2 > room(root == Some(1) && leaves.is_empty())
            {
                leaves.push((std::mem::take(&mut cells), last_id));
                used = 0;
            }
            used += cell.len() + 2;
            cells.push(cell);
            last_id = *id;
        }
        leaves.push((cells, last_id));
        if leaves.len() == 1 {
            let n = root.unwrap_or_else(|| self.alloc());
            self.write_page(n, 0x0d, &leaves[0].0, None);
            return n;
        }
        for (cells, max) in &leaves {
            let n = self.alloc();
            self.write_page(n, 0x0d, cells, None);
            level.push((n, *max));
        }
        // Interior levels until one page holds them.
        loop {
            let fits = |k: usize, first: bool| 12 + (if first { 100 } else { 0 }) + k * 16 <= PAGE;
            let last_level = fits(level.len(), root == Some(1));
            let mut next: Vec<(u32, i64)> = Vec::new();
            let per = if last_level {
                level.len()
            } else {
                (PAGE - 12) / 16
            };
            for group in level.chunks(per) {
                let (&(right, max), left) = group.split_last().unwrap();
                let cells: Vec<Vec<u8>> = left
                    .iter()
                    .map(|(child, key)| {
                        let mut c = child.to_be_bytes().to_vec();
                        c.extend(varint(u64::try_from(*key).unwrap()));
                        c
                    })
                    .collect();
                let n = match root {
                    Some(r) if last_level => r,
                    _ => self.alloc(),
                };
                self.write_page(n, 0x05, &cells, Some(right));
                next.push((n, max));
            }
            if last_level {
                return next[0].0;
            }
            level = next;
        }
    }
}

/// An `rpmdb.sqlite` image holding `pkgs` in this order (`hnum` 1, 2, ...), with the `Name`
/// table rpm keeps beside `Packages`.
pub(crate) fn rpmdb(pkgs: &[Pkg<'_>]) -> Vec<u8> {
    let mut f = File { pages: Vec::new() };
    assert_eq!(f.alloc(), 1);
    let rows: Vec<(i64, Vec<u8>)> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let blob = rpm_header(p);
            (
                i64::try_from(i).unwrap() + 1,
                record(&[Col::Null, Col::Blob(&blob)]),
            )
        })
        .collect();
    let packages = f.table(&rows, None);
    let names: Vec<(i64, Vec<u8>)> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let hnum = i64::try_from(i).unwrap() + 1;
            (
                hnum,
                record(&[Col::Text(p.name), Col::Int(hnum), Col::Int(0)]),
            )
        })
        .collect();
    let name = f.table(&names, None);
    let schema = [
        (
            "Packages",
            packages,
            "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY,blob BLOB NOT NULL)",
        ),
        (
            "Name",
            name,
            "CREATE TABLE 'Name' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, FOREIGN KEY (hnum) REFERENCES 'Packages'(hnum))",
        ),
    ];
    let schema_rows: Vec<(i64, Vec<u8>)> = schema
        .iter()
        .enumerate()
        .map(|(i, (n, root, sql))| {
            let rec = record(&[
                Col::Text("table"),
                Col::Text(n),
                Col::Text(n),
                Col::Int(i64::from(*root)),
                Col::Text(sql),
            ]);
            (i64::try_from(i).unwrap() + 1, rec)
        })
        .collect();
    f.table(&schema_rows, Some(1));
    let count = u32::try_from(f.pages.len()).unwrap();
    let head = &mut f.pages[0];
    head[..16].copy_from_slice(b"SQLite format 3\0");
    head[16..18].copy_from_slice(&u16::try_from(PAGE).unwrap().to_be_bytes());
    head[18] = 1; // write version: legacy (no WAL)
    head[19] = 1;
    head[20] = 0; // reserved bytes per page
    head[21] = 64;
    head[22] = 32;
    head[23] = 32;
    head[24..28].copy_from_slice(&1_u32.to_be_bytes()); // change counter
    head[28..32].copy_from_slice(&count.to_be_bytes()); // pages
    head[40..44].copy_from_slice(&1_u32.to_be_bytes()); // schema cookie
    head[44..48].copy_from_slice(&4_u32.to_be_bytes()); // schema format
    head[56..60].copy_from_slice(&1_u32.to_be_bytes()); // UTF-8
    head[92..96].copy_from_slice(&1_u32.to_be_bytes()); // version-valid-for
    head[96..100].copy_from_slice(&3_040_001_u32.to_be_bytes());
    f.pages.concat()
}
