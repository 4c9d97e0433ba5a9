//! Copies the paths a run touched from a machine (`/` or a fixture root) into a bundle
//! directory that `--root` reads back the same way.
//!
//! Each touched path is walked component by component on the source, as [`crate::root::Root`]
//! resolves it under a fixture root: every symlink met on the way is recreated as a symlink
//! with the same target text, and the walk goes on at its target (an absolute target taken
//! inside the machine). So nothing is ever written through a link: every write goes to a
//! symlink-free path below the bundle directory, checked with `lstat` at each step, and files
//! are created with `O_EXCL`.
//!
//! What a leaf becomes:
//! - a regular file: its bytes, up to [`FILE_LIMIT`]; a larger ELF file (a 30–100 MB
//!   `libcuda.so`) keeps its size as a sparse file holding only the headers and the sections
//!   nvprobe reads (section headers, string tables, `.dynamic`, notes); any other larger file
//!   keeps its first [`FILE_LIMIT`] bytes and its size;
//! - a directory: a directory; when the run listed it, each entry is created too (a
//!   directory, a symlink, a device stand-in, or an empty file for a regular file the run
//!   never opened);
//! - a character or block device, a FIFO or a socket: a regular file holding the stand-in
//!   record of [`crate::detect::devnodes`] (`type=char`, `major`, `minor`, `mode`, `uid`,
//!   `gid`, `open=ok|EACCES|…`).
//!
//! A file that cannot be read is left out and listed in `capture.json` (`unreadable`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _, symlink};
use std::path::{Component, Path, PathBuf};

use super::redact::Redactor;
use crate::root::Access;

/// The most bytes copied from one file (a larger ELF file is copied sparsely).
pub const FILE_LIMIT: u64 = 4 * 1024 * 1024;
/// The most bytes of one ELF section kept in a sparse copy.
const SECTION_LIMIT: u64 = 1024 * 1024;
/// Symlinks followed per path at most (as [`crate::root::Root`]).
const MAX_LINK_HOPS: usize = 40;
/// Entries created per listed directory at most (as [`crate::root::DIR_LIMIT`]).
const LIST_LIMIT: usize = crate::root::DIR_LIMIT;

/// What was copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files with content.
    pub files: usize,
    /// Of which copied sparsely (large ELF files).
    pub sparse: usize,
    /// Directories.
    pub dirs: usize,
    /// Symlinks.
    pub links: usize,
    /// Device-node (and FIFO/socket) stand-ins.
    pub stand_ins: usize,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Files that could not be read: (machine path, error).
    pub unreadable: Vec<(String, String)>,
}

/// Copies touched paths from `src` (the directory standing for `/`) into `dest`.
pub struct Copier<'a> {
    src: PathBuf,
    dest: PathBuf,
    redactor: Option<&'a mut Redactor>,
    /// Machine paths already copied in full.
    done: BTreeSet<String>,
    /// Stats.
    pub stats: CopyStats,
}

fn components(path: &Path) -> Vec<OsString> {
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::ParentDir => parts.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts
}

fn machine_path(parts: &[OsString]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&p.to_string_lossy());
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn join(base: &Path, parts: &[OsString]) -> PathBuf {
    let mut p = base.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

/// The stand-in record for a node that is not a regular file.
pub fn stand_in_record(meta: &Metadata, real: &Path) -> String {
    let ft = meta.file_type();
    let kind = if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else {
        "other"
    };
    let mut s = format!("type={kind}\n");
    if ft.is_char_device() || ft.is_block_device() {
        let rdev = meta.rdev();
        let _ = write!(
            s,
            "major={}\nminor={}\n",
            rustix::fs::major(rdev),
            rustix::fs::minor(rdev)
        );
    }
    let _ = write!(
        s,
        "mode={:04o}\nuid={}\ngid={}\n",
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid()
    );
    if ft.is_char_device() {
        use rustix::fs::{Access as A, AtFlags, CWD};
        // What CUDA would get opening it read-write, asked without opening it (opening
        // /dev/nvidiaN can initialise the GPU).
        let open = match rustix::fs::accessat(CWD, real, A::READ_OK | A::WRITE_OK, AtFlags::EACCESS)
        {
            Ok(()) => "ok".to_owned(),
            Err(e) => crate::ioctl::errno_name(e),
        };
        let _ = writeln!(s, "open={open}");
    }
    s
}

impl<'a> Copier<'a> {
    /// A copier from `src` into `dest` (which must exist), redacting when `redactor` is given.
    pub fn new(src: &Path, dest: &Path, redactor: Option<&'a mut Redactor>) -> Self {
        Self {
            src: src.to_path_buf(),
            dest: dest.to_path_buf(),
            redactor,
            done: BTreeSet::new(),
            stats: CopyStats::default(),
        }
    }

    /// Copies every recorded path, then the entries of listed directories.
    pub fn copy_all(&mut self, touched: &[(String, Access)]) {
        let mut listed = Vec::new();
        for (path, access) in touched {
            if (access.follow || access.listed)
                && let Some(real) = self.copy_path(path, true)
                && access.listed
            {
                listed.push(real);
            }
            if access.nofollow {
                self.copy_path(path, false);
            }
        }
        for real in listed {
            self.copy_listing(&real);
        }
    }

    /// Walks `path` on the source, recreating what it meets. Returns the real (symlink-free)
    /// components of what the path names, when it exists.
    fn copy_path(&mut self, path: &str, follow_last: bool) -> Option<Vec<OsString>> {
        let mut pending: Vec<OsString> = components(Path::new(path));
        pending.reverse();
        let mut done: Vec<OsString> = Vec::new();
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                done.pop();
                continue;
            }
            done.push(name);
            let here = join(&self.src, &done);
            let meta = fs::symlink_metadata(&here).ok()?;
            let last = pending.is_empty();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&here).ok()?;
                self.make_link(&done, &target);
                if last && !follow_last {
                    return Some(done);
                }
                hops += 1;
                if hops > MAX_LINK_HOPS {
                    return None;
                }
                done.pop();
                if target.is_absolute() {
                    done.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            } else if meta.is_dir() {
                self.make_dir(&done);
            } else if last {
                self.make_leaf(&done, &here, &meta);
            } else {
                // A file in the middle of a path: the rest cannot exist.
                return None;
            }
        }
        Some(done)
    }

    /// The entries of a directory the run listed.
    fn copy_listing(&mut self, real: &[OsString]) {
        let dir = join(&self.src, real);
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let mut names: Vec<OsString> = entries
            .take(LIST_LIMIT)
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let mut parts = real.to_vec();
            parts.push(name);
            let dest = join(&self.dest, &parts);
            if fs::symlink_metadata(&dest).is_ok() {
                continue;
            }
            let here = join(&self.src, &parts);
            let Ok(meta) = fs::symlink_metadata(&here) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                if let Ok(target) = fs::read_link(&here) {
                    self.make_link(&parts, &target);
                }
            } else if ft.is_dir() {
                self.make_dir(&parts);
            } else if ft.is_file() {
                // Never opened by the run: its name is all it saw.
                if self.safe_parent(&parts).is_some() && Self::create(&dest).is_ok() {
                    self.stats.files += 1;
                }
            } else {
                self.make_leaf(&parts, &here, &meta);
            }
        }
    }

    /// Checks that every directory above `parts` in the bundle is a real directory (never a
    /// link), creating the missing ones. `None` when one is not.
    fn safe_parent(&mut self, parts: &[OsString]) -> Option<()> {
        let mut p = self.dest.clone();
        for part in parts.iter().take(parts.len().saturating_sub(1)) {
            p.push(part);
            match fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => return None,
                Err(_) => {
                    fs::create_dir(&p).ok()?;
                    self.stats.dirs += 1;
                }
            }
        }
        Some(())
    }

    fn make_dir(&mut self, parts: &[OsString]) {
        if self.safe_parent(parts).is_none() {
            return;
        }
        let p = join(&self.dest, parts);
        if fs::symlink_metadata(&p).is_err() && fs::create_dir(&p).is_ok() {
            self.stats.dirs += 1;
        }
    }

    fn make_link(&mut self, parts: &[OsString], target: &Path) {
        if self.safe_parent(parts).is_none() {
            return;
        }
        let p = join(&self.dest, parts);
        if fs::symlink_metadata(&p).is_err() && symlink(target, &p).is_ok() {
            self.stats.links += 1;
        }
    }

    fn create(dest: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
            .open(dest)
    }

    fn make_leaf(&mut self, parts: &[OsString], here: &Path, meta: &Metadata) {
        let key = machine_path(parts);
        if !self.done.insert(key.clone()) || self.safe_parent(parts).is_none() {
            return;
        }
        let dest = join(&self.dest, parts);
        // A placeholder written for a listing is replaced by the full copy.
        if let Ok(m) = fs::symlink_metadata(&dest) {
            if m.is_file() && m.len() == 0 {
                let _ = fs::remove_file(&dest);
            } else {
                return;
            }
        }
        if !meta.is_file() {
            let record = stand_in_record(meta, here);
            if let Ok(mut f) = Self::create(&dest)
                && f.write_all(record.as_bytes()).is_ok()
            {
                self.stats.stand_ins += 1;
            }
            return;
        }
        match self.copy_file(here, &dest, meta, &key) {
            Ok(()) => {}
            Err(e) => {
                let _ = fs::remove_file(&dest);
                self.stats
                    .unreadable
                    .push((key, crate::root::describe_error(&e)));
            }
        }
    }

    fn copy_file(
        &mut self,
        here: &Path,
        dest: &Path,
        meta: &Metadata,
        key: &str,
    ) -> io::Result<()> {
        let mut src = File::open(here)?;
        let size = meta.len();
        if size > FILE_LIMIT {
            let mut head = [0_u8; 4];
            let n = src.read(&mut head)?;
            src.seek(SeekFrom::Start(0))?;
            if n == 4 && &head == b"\x7fELF" {
                let ranges = elf_ranges(&mut src, size).unwrap_or_default();
                let mut out = Self::create(dest)?;
                for (start, len) in ranges {
                    let mut buf = vec![0_u8; usize::try_from(len).unwrap_or(0)];
                    src.seek(SeekFrom::Start(start))?;
                    src.read_exact(&mut buf)?;
                    out.seek(SeekFrom::Start(start))?;
                    out.write_all(&buf)?;
                    self.stats.bytes += len;
                }
                out.set_len(size)?;
                self.stats.files += 1;
                self.stats.sparse += 1;
                return Ok(());
            }
        }
        let mut bytes = Vec::new();
        (&mut src).take(FILE_LIMIT).read_to_end(&mut bytes)?;
        let cut = bytes.len() as u64 == FILE_LIMIT;
        if let Some(r) = self.redactor.as_deref_mut()
            && !cut
        {
            let name = key.rsplit('/').next().unwrap_or(key);
            bytes = r.redact_file(name, &bytes);
        }
        let mut out = Self::create(dest)?;
        out.write_all(&bytes)?;
        if cut && size > bytes.len() as u64 {
            out.set_len(size)?;
        }
        self.stats.files += 1;
        self.stats.bytes += bytes.len() as u64;
        Ok(())
    }
}

/// The byte ranges of an ELF file that nvprobe reads: the ELF and program headers, the
/// section header table, and the string-table, dynamic and note sections (each bounded).
fn elf_ranges(f: &mut File, size: u64) -> Option<Vec<(u64, u64)>> {
    use goblin::container::{Container, Ctx};
    use goblin::elf::section_header::{SHT_DYNAMIC, SHT_NOTE, SHT_STRTAB, SectionHeader};
    let mut head = [0_u8; 64];
    f.seek(SeekFrom::Start(0)).ok()?;
    let n = f.read(&mut head).ok()?;
    let header = goblin::elf::Elf::parse_header(head.get(..n)?).ok()?;
    let container = header.container().ok()?;
    let ctx = Ctx::new(container, header.endianness().ok()?);
    let head_len = if container == Container::Big { 64 } else { 52 };
    let mut ranges = vec![(0_u64, head_len)];
    let clip = |start: u64, len: u64| -> Option<(u64, u64)> {
        let end = start.checked_add(len.min(SECTION_LIMIT))?.min(size);
        (end > start).then_some((start, end - start))
    };
    ranges.extend(clip(
        header.e_phoff,
        u64::from(header.e_phnum) * u64::from(header.e_phentsize),
    ));
    let sh_len = u64::from(header.e_shnum) * u64::from(header.e_shentsize);
    if header.e_shoff == 0 || sh_len == 0 || sh_len > SECTION_LIMIT * 4 {
        return Some(ranges);
    }
    ranges.extend(clip(header.e_shoff, sh_len));
    let mut table = vec![0_u8; usize::try_from(sh_len).ok()?];
    f.seek(SeekFrom::Start(header.e_shoff)).ok()?;
    f.read_exact(&mut table).ok()?;
    let shdrs = SectionHeader::parse_from(&table, 0, usize::from(header.e_shnum), ctx).ok()?;
    for s in &shdrs {
        if matches!(s.sh_type, SHT_DYNAMIC | SHT_NOTE | SHT_STRTAB) {
            ranges.extend(clip(s.sh_offset, s.sh_size));
        }
    }
    Some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_machine_path() {
        assert_eq!(machine_path(&[]), "/");
        assert_eq!(
            machine_path(&[OsString::from("dev"), OsString::from("nvidia0")]),
            "/dev/nvidia0"
        );
    }
}
