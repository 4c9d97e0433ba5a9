//! Copies the paths a run touched from a machine (`/` or a fixture root) into a bundle
//! directory that `--root` reads back the same way.
//!
//! Each touched path is walked component by component on the source, as [`crate::root::Root`]
//! resolves it under a fixture root: every symlink met on the way is recreated as a symlink
//! with the same target text, and the walk goes on at its target (an absolute target taken
//! inside the machine).
//!
//! # Writing only inside the bundle
//! The bundle directory is held open ([`Bundle`]) and every write is relative to a directory
//! descriptor: each directory on the way down is opened with `O_DIRECTORY|O_NOFOLLOW` from its
//! parent's descriptor (created `0700` with `mkdirat` when missing), and the last component is
//! made with `openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `mkdirat` or `symlinkat` from there. No path
//! is ever resolved from a name again after a check, so a directory of the bundle swapped for
//! a symlink while the copy runs makes that copy fail instead of writing where it points.
//!
//! # What is copied (the allow-list)
//! Only what the probe itself parsed, as it parsed it:
//! - a regular file whose bytes the run read through [`crate::root::Root`]: its bytes, up to
//!   [`FILE_LIMIT`] (a larger file keeps its first [`FILE_LIMIT`] bytes and its size; a larger
//!   ELF file keeps its size as a sparse file holding only the headers and the sections
//!   nvprobe reads: section headers, string tables, `.dynamic`, notes);
//! - a library the inventory parsed as ELF ([`crate::root::Root::open_elf`]): whatever its
//!   size, a sparse file holding only the headers and sections nvprobe reads, as above (a
//!   driver's code never travels), and only when the file starts with the ELF magic; anything
//!   else (a `libcuda.so.1` link to `/etc/shadow`) keeps only its size, as zeros, and is
//!   listed in `left_out`;
//! - a file the run read with positioned reads ([`crate::root::Root::open_for_reads`]: rpm's
//!   `rpmdb.sqlite`, often tens of MB): its size, as a sparse file holding only the byte ranges
//!   the run read ([`crate::root::Recorder::ranges`], at most [`RANGES_LIMIT`] bytes), so a
//!   replay reads the same bytes at the same offsets and gives the same answer, whatever the
//!   file's size. For the rpm database these are the pages the reader visited: page 1 (the
//!   file header and the schema; more schema pages if it has them), the pages of rpm's
//!   `Name` table (every installed package's name and row number), and on the way to each
//!   NVIDIA package's row the interior pages of `Packages` (row numbers and page numbers),
//!   the leaf page holding the row (which may hold the start of a neighbouring package's
//!   header too) and the row's overflow pages. The rest of the file (the other packages'
//!   headers: their files, scripts, changelogs) is left as a hole. `--redact` replaces UUID
//!   text in the kept bytes (same length, so nothing moves);
//! - a regular file the run only looked at (`stat`): its size, as zeros (sparse), listed in
//!   `left_out`;
//! - a directory: a directory; when the run listed it, each entry is created too (a
//!   directory, a symlink, a device stand-in, or an empty file for a regular file the run
//!   never opened);
//! - a character or block device, a FIFO or a socket: a regular file holding the stand-in
//!   record of [`crate::detect::devnodes`] (`type=char`, `major`, `minor`, `mode`, `uid`,
//!   `gid`, `open=ok|EACCES|…`); the node itself is never opened.
//!
//! Modes: a file in the bundle has its source's permission bits without group and other
//! write, set-id and sticky bits (never wider than the source); every directory is `0700`.
//!
//! # Bounded
//! Source files are opened with `O_NONBLOCK|O_NOFOLLOW` (a file under a lease or a FIFO swapped
//! in does not block the open) and must still be the regular file the walk saw; reads stop at
//! [`FILE_LIMIT`] ([`RANGES_LIMIT`] for the ranges of positioned reads). The run's deadline is checked between files (and between the sections of a
//! sparse copy): past it the copy stops and [`CopyStats::stopped`] says what was not copied.
//!
//! A file that cannot be read is left out and listed in `capture.json` (`unreadable`).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs::{File, Metadata};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

use super::redact::Redactor;
use crate::root::{Access, Ranges};

/// The most bytes copied from one file (a larger ELF file is copied sparsely).
pub const FILE_LIMIT: u64 = 4 * 1024 * 1024;
/// The most bytes kept of a file read with positioned reads (the reader of rpm's database
/// visits a few dozen pages of a 100 MB one; its page budget allows far more).
pub const RANGES_LIMIT: u64 = 16 * 1024 * 1024;
/// The most bytes of one ELF section kept in a sparse copy.
const SECTION_LIMIT: u64 = 1024 * 1024;
/// Symlinks followed per path at most (as [`crate::root::Root`]).
const MAX_LINK_HOPS: usize = 40;
/// Entries created per listed directory at most (as [`crate::root::DIR_LIMIT`]).
const LIST_LIMIT: usize = crate::root::DIR_LIMIT;
/// Every directory of a bundle.
const DIR_MODE: u32 = 0o700;
/// The widest mode of a file in a bundle (and never wider than its source's).
const FILE_MODE: u32 = 0o755;
/// How a directory of the bundle is opened: never through a symlink.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// What was copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Regular files with content.
    pub files: usize,
    /// Of which copied sparsely (large ELF files, files read with positioned reads).
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
    /// Files whose bytes were left out on purpose: (machine path, why).
    pub left_out: Vec<(String, String)>,
    /// Set when the deadline stopped the copy: what was not copied, in words.
    pub stopped: Option<String>,
}

/// Why a bundle directory cannot be used.
#[derive(Debug)]
pub enum BundleError {
    /// Not a directory, not empty, owned by someone else.
    Refused(String),
    /// An I/O error.
    Failed(String),
}

/// The bundle directory, held open: every write of a capture is relative to it.
#[derive(Debug)]
pub struct Bundle {
    dir: OwnedFd,
}

fn io_err(e: Errno) -> io::Error {
    io::Error::from(e)
}

/// Checks that one path component names an entry of a directory (no `/`, `.` or `..`).
fn plain_name(name: &OsStr) -> io::Result<&OsStr> {
    let b = name.as_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io_err(Errno::INVAL));
    }
    Ok(name)
}

impl Bundle {
    /// Opens `out` for a capture: created `0700` when missing, else it must be an empty
    /// directory owned by the effective user (never a symlink), and is made `0700`.
    ///
    /// # Errors
    /// [`BundleError::Refused`] for a directory that cannot be used, [`BundleError::Failed`]
    /// for an I/O error.
    pub fn create(out: &Path) -> Result<Self, BundleError> {
        let fail =
            |e: &dyn std::fmt::Display| BundleError::Failed(format!("{}: {e}", out.display()));
        match std::fs::symlink_metadata(out) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|e| fail(&e))?;
                }
                match rustix::fs::mkdir(out, Mode::from_raw_mode(DIR_MODE)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(fail(&e)),
                }
            }
            Err(e) => return Err(fail(&e)),
            Ok(m) if !m.is_dir() => {
                return Err(BundleError::Refused(format!(
                    "{} exists and is not a directory",
                    out.display()
                )));
            }
            Ok(_) => {}
        }
        let dir = match rustix::fs::open(out, DIR_FLAGS, Mode::empty()) {
            Ok(d) => d,
            Err(Errno::LOOP | Errno::NOTDIR) => {
                return Err(BundleError::Refused(format!(
                    "{} exists and is not a directory",
                    out.display()
                )));
            }
            Err(e) => return Err(fail(&e)),
        };
        let st = rustix::fs::fstat(&dir).map_err(|e| fail(&e))?;
        let me = rustix::process::geteuid().as_raw();
        if st.st_uid != me {
            return Err(BundleError::Refused(format!(
                "{} is owned by uid {}, not by this user (uid {me}); capture writes only into a directory of its own",
                out.display(),
                st.st_uid
            )));
        }
        // Nobody else may add entries from here on; then it must be empty.
        rustix::fs::fchmod(&dir, Mode::from_raw_mode(DIR_MODE)).map_err(|e| fail(&e))?;
        let mut entries = rustix::fs::Dir::read_from(&dir).map_err(|e| fail(&e))?;
        for entry in &mut entries {
            let entry = entry.map_err(|e| fail(&e))?;
            let name = entry.file_name().to_bytes();
            if name != b"." && name != b".." {
                return Err(BundleError::Refused(format!(
                    "{} is not empty; capture writes only into a new or empty directory",
                    out.display()
                )));
            }
        }
        Ok(Self { dir })
    }

    /// The directory `parts` of the bundle (`[]`: the bundle itself), opened without following
    /// a symlink at any step; missing directories are created `0700` and counted in `dirs`.
    fn open_dir(&self, parts: &[OsString], dirs: &mut usize) -> io::Result<OwnedFd> {
        let mut cur = rustix::fs::openat(&self.dir, ".", DIR_FLAGS, Mode::empty())?;
        for part in parts {
            let name = plain_name(part)?;
            let next = match rustix::fs::openat(&cur, name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) => {
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(DIR_MODE)) {
                        Ok(()) => *dirs += 1,
                        Err(Errno::EXIST) => {}
                        Err(e) => return Err(io_err(e)),
                    }
                    rustix::fs::openat(&cur, name, DIR_FLAGS, Mode::empty())?
                }
                Err(e) => return Err(io_err(e)),
            };
            cur = next;
        }
        Ok(cur)
    }

    /// Writes a new file `name` in the bundle's directory `dir` (created with `O_EXCL`).
    ///
    /// # Errors
    /// The directory cannot be opened, or the file exists or cannot be written.
    pub fn write_file(&self, dir: &[OsString], name: &str, bytes: &[u8]) -> io::Result<()> {
        let mut dirs = 0;
        let parent = self.open_dir(dir, &mut dirs)?;
        let mut f = create_in(&parent, OsStr::new(name), 0o600)?;
        f.write_all(bytes)
    }
}

/// `openat(dir, name, O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW)`: a new regular file, never through
/// a link.
fn create_in(dir: &OwnedFd, name: &OsStr, mode: u32) -> io::Result<File> {
    let flags = OFlags::WRONLY
        | OFlags::CREATE
        | OFlags::EXCL
        | OFlags::NOFOLLOW
        | OFlags::CLOEXEC
        | OFlags::NOCTTY;
    let fd = rustix::fs::openat(dir, plain_name(name)?, flags, Mode::from_raw_mode(mode))?;
    Ok(File::from(fd))
}

/// The mode of a bundle file copied from a source with `mode`.
fn file_mode(mode: u32) -> u32 {
    mode & FILE_MODE
}

/// What a capture keeps of a regular file, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Want {
    /// Its size (the run only looked at it).
    Size,
    /// Its bytes if it is an ELF file, else its size (the inventory parsed it as a library).
    Elf,
    /// Its size and the byte ranges read (the run read it with positioned reads).
    Ranges,
    /// Its bytes (the run read them).
    Content,
}

impl Want {
    fn of(access: Access) -> Self {
        if access.read {
            Self::Content
        } else if access.positioned {
            Self::Ranges
        } else if access.elf {
            Self::Elf
        } else {
            Self::Size
        }
    }
}

/// Copies touched paths from `src` (the directory standing for `/`) into a [`Bundle`].
pub struct Copier<'a> {
    src: PathBuf,
    bundle: &'a Bundle,
    redactor: Option<&'a mut Redactor>,
    deadline: Option<Instant>,
    /// Machine paths of leaves already made, with what was kept.
    done: BTreeMap<String, Want>,
    /// The last directory of the bundle opened, kept for the next file in it.
    last_dir: Option<(Vec<OsString>, OwnedFd)>,
    /// GPU-Manager's per-container directories under `/etc/vcuda`; the i-th is
    /// `container-<i>` in the bundle.
    vcuda_dirs: Vec<OsString>,
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
        use rustix::fs::{Access as A, CWD};
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

/// Opens the regular source file `here` that `lstat` described as `meta`, never through a link
/// (`O_NOFOLLOW`), its type checked before it is opened ([`crate::root::open_checked`]: a node
/// swapped in after the walk's `lstat` is refused without its driver's open running, a FIFO
/// or a lease cannot block), and it must still be that file (device and inode).
fn open_source(here: &Path, meta: &Metadata) -> io::Result<File> {
    let (fd, st) = crate::root::open_checked(here, OFlags::NOFOLLOW).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidInput {
            io::Error::new(io::ErrorKind::InvalidInput, "changed while being copied")
        } else {
            e
        }
    })?;
    if st.st_dev != meta.dev() || st.st_ino != meta.ino() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "changed while being copied",
        ));
    }
    Ok(File::from(fd))
}

impl<'a> Copier<'a> {
    /// A copier from `src` into `bundle`, redacting when `redactor` is given and stopping at
    /// `deadline` when one is given.
    pub fn new(
        src: &Path,
        bundle: &'a Bundle,
        redactor: Option<&'a mut Redactor>,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            src: src.to_path_buf(),
            bundle,
            redactor,
            deadline,
            done: BTreeMap::new(),
            last_dir: None,
            vcuda_dirs: Vec::new(),
            stats: CopyStats::default(),
        }
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Between two pieces of one file: past the deadline, notes that `key` was cut short and
    /// stops its copy (`TimedOut`).
    fn stop_at_deadline(&mut self, key: &str) -> io::Result<()> {
        if !self.past_deadline() {
            return Ok(());
        }
        self.stats
            .stopped
            .get_or_insert_with(|| format!("{key} cut short"));
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the deadline passed while copying it",
        ))
    }

    /// Copies every recorded path, then the entries of listed directories, until the
    /// deadline. `ranges`: the byte ranges read from the files read with positioned reads
    /// ([`crate::root::Recorder::ranges`]).
    pub fn copy_all(&mut self, touched: &[(String, Access)], ranges: &BTreeMap<String, Ranges>) {
        let none = Ranges::new();
        let mut listed = Vec::new();
        for (i, (path, access)) in touched.iter().enumerate() {
            if self.past_deadline() {
                self.stats.stopped = Some(format!(
                    "{} of {} touched paths and every directory listing not copied",
                    touched.len() - i,
                    touched.len()
                ));
                return;
            }
            if (access.follow || access.listed)
                && let Some(real) =
                    self.copy_path(path, true, *access, ranges.get(path).unwrap_or(&none))
                && access.listed
            {
                listed.push(real);
            }
            if access.nofollow {
                self.copy_path(path, false, *access, &none);
            }
        }
        let total = listed.len();
        for (i, real) in listed.into_iter().enumerate() {
            if !self.copy_listing(&real) {
                self.stats.stopped = Some(format!(
                    "{} of {total} directory listings not copied in full",
                    total - i
                ));
                return;
            }
        }
    }

    /// Where the machine path `parts` goes in the bundle: the same path, but for
    /// GPU-Manager's per-container directory `/etc/vcuda/<name>`, whose name is the
    /// container's (`k8s_<container>_<pod>_<namespace>_<pod UID>_<n>`): in the bundle it is
    /// `container-<i>`, always (as `vcuda.config` keeps only vcuda-core, with or without
    /// `--redact`). The probe reads whatever directories are there, so a replay answers the
    /// same.
    fn bundle_parts(&mut self, parts: &[OsString]) -> Vec<OsString> {
        let mut out = parts.to_vec();
        if let [etc, vcuda, name, ..] = out.as_mut_slice()
            && *etc == "etc"
            && *vcuda == "vcuda"
            && *name != "vcuda.config"
            && *name != "vcuda.sock"
        {
            let i = if let Some(i) = self.vcuda_dirs.iter().position(|d| d == name) {
                i
            } else {
                self.vcuda_dirs.push(name.clone());
                self.vcuda_dirs.len() - 1
            };
            *name = OsString::from("container-");
            name.push(i.to_string());
        }
        out
    }

    /// The bundle directory `parts` (machine components), opened (the last one is reused).
    fn dir(&mut self, parts: &[OsString]) -> io::Result<OwnedFd> {
        let parts = self.bundle_parts(parts);
        if let Some((p, fd)) = &self.last_dir
            && *p == parts
        {
            return fd.try_clone();
        }
        let fd = self.bundle.open_dir(&parts, &mut self.stats.dirs)?;
        self.last_dir = Some((parts, fd.try_clone()?));
        Ok(fd)
    }

    /// The directory holding `parts` in the bundle and the last name (in the bundle).
    fn parent(&mut self, parts: &[OsString]) -> Option<(OwnedFd, OsString)> {
        let mapped = self.bundle_parts(parts);
        let (last, above) = parts.split_last()?;
        let dir = self.dir(above).ok()?;
        Some((dir, mapped.last().unwrap_or(last).clone()))
    }

    /// Walks `path` on the source, recreating what it meets. Returns the real (symlink-free)
    /// components of what the path names, when it exists.
    fn copy_path(
        &mut self,
        path: &str,
        follow_last: bool,
        access: Access,
        ranges: &Ranges,
    ) -> Option<Vec<OsString>> {
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
            let meta = std::fs::symlink_metadata(&here).ok()?;
            let last = pending.is_empty();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&here).ok()?;
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
                self.make_leaf(&done, &here, &meta, Want::of(access), ranges);
            } else {
                // A file in the middle of a path: the rest cannot exist.
                return None;
            }
        }
        Some(done)
    }

    /// The entries of a directory the run listed; false when the deadline stopped it.
    fn copy_listing(&mut self, real: &[OsString]) -> bool {
        let dir = join(&self.src, real);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return true;
        };
        let mut names: Vec<OsString> = entries
            .take(LIST_LIMIT)
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort_unstable();
        for name in names {
            if self.past_deadline() {
                return false;
            }
            let mut parts = real.to_vec();
            parts.push(name);
            let Some((parent, last)) = self.parent(&parts) else {
                continue;
            };
            if rustix::fs::statat(&parent, &last, AtFlags::SYMLINK_NOFOLLOW).is_ok() {
                continue;
            }
            let here = join(&self.src, &parts);
            let Ok(meta) = std::fs::symlink_metadata(&here) else {
                continue;
            };
            let ft = meta.file_type();
            if ft.is_symlink() {
                if let Ok(target) = std::fs::read_link(&here) {
                    self.make_link(&parts, &target);
                }
            } else if ft.is_dir() {
                self.make_dir(&parts);
            } else if ft.is_file() {
                // Never opened by the run: its name is all it saw.
                if create_in(&parent, &last, file_mode(meta.mode())).is_ok() {
                    self.stats.files += 1;
                }
            } else {
                self.make_leaf(&parts, &here, &meta, Want::Size, &Ranges::new());
            }
        }
        true
    }

    fn make_dir(&mut self, parts: &[OsString]) {
        let Some((parent, last)) = self.parent(parts) else {
            return;
        };
        if rustix::fs::mkdirat(&parent, &last, Mode::from_raw_mode(DIR_MODE)).is_ok() {
            self.stats.dirs += 1;
        }
    }

    fn make_link(&mut self, parts: &[OsString], target: &Path) {
        let Some((parent, last)) = self.parent(parts) else {
            return;
        };
        if rustix::fs::symlinkat(target, &parent, &last).is_ok() {
            self.stats.links += 1;
        }
    }

    fn make_leaf(
        &mut self,
        parts: &[OsString],
        here: &Path,
        meta: &Metadata,
        want: Want,
        ranges: &Ranges,
    ) {
        // The bundle's path: what capture.json lists (left out, unreadable).
        let key = machine_path(&self.bundle_parts(parts));
        if self.done.get(&key).is_some_and(|w| *w >= want) {
            return;
        }
        let Some((parent, last)) = self.parent(parts) else {
            return;
        };
        // A placeholder (from a listing, or a weaker copy) is replaced; anything else that
        // is already there (a directory, a link) is left alone.
        if let Ok(st) = rustix::fs::statat(&parent, &last, AtFlags::SYMLINK_NOFOLLOW) {
            if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile
                || rustix::fs::unlinkat(&parent, &last, AtFlags::empty()).is_err()
            {
                return;
            }
            if let Some(kept) = self.done.remove(&key) {
                self.forget(&key, kept);
            }
        }
        self.done.insert(key.clone(), want);
        if !meta.is_file() {
            let record = stand_in_record(meta, here);
            if let Ok(mut f) = create_in(&parent, &last, meta.mode() & 0o644)
                && f.write_all(record.as_bytes()).is_ok()
            {
                self.stats.stand_ins += 1;
            }
            return;
        }
        let mode = file_mode(meta.mode());
        let result = match want {
            Want::Size => self.size_only(&parent, &last, meta.len(), mode).map(|()| {
                self.stats.left_out.push((
                    key.clone(),
                    "only looked at (stat) by nvprobe: its size was kept, not its bytes".to_owned(),
                ));
            }),
            Want::Ranges => self.copy_ranges(here, &parent, &last, meta, &key, ranges),
            Want::Elf | Want::Content => {
                self.copy_file(here, &parent, &last, meta, &key, want == Want::Elf)
            }
        };
        if let Err(e) = result {
            let _ = rustix::fs::unlinkat(&parent, &last, AtFlags::empty());
            self.done.remove(&key);
            self.stats
                .unreadable
                .push((key, crate::root::describe_error(&e)));
        }
    }

    /// Drops the `left_out` note of a leaf about to be copied again with more.
    fn forget(&mut self, key: &str, kept: Want) {
        if kept != Want::Content {
            self.stats.left_out.retain(|(p, _)| p != key);
        }
    }

    /// A file of `size` zero bytes (sparse): what the run saw of a file it did not read.
    fn size_only(&mut self, dir: &OwnedFd, name: &OsStr, size: u64, mode: u32) -> io::Result<()> {
        let out = create_in(dir, name, mode)?;
        out.set_len(size)?;
        self.stats.files += 1;
        Ok(())
    }

    /// A file read with positioned reads: its size, holding only the byte `ranges` read (at
    /// most [`RANGES_LIMIT`] bytes, in file order; past it the rest is a hole, noted in
    /// `left_out`), everything else a hole.
    fn copy_ranges(
        &mut self,
        here: &Path,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &Metadata,
        key: &str,
        ranges: &Ranges,
    ) -> io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        let src = open_source(here, meta)?;
        let size = meta.len();
        let out = create_in(dir, name, file_mode(meta.mode()))?;
        let mut left = RANGES_LIMIT;
        for (&start, &end) in ranges {
            self.stop_at_deadline(key)?;
            let end = end.min(size);
            let Some(len) = end.checked_sub(start).filter(|l| *l > 0) else {
                continue;
            };
            if len > left {
                self.stats.left_out.push((
                    key.to_owned(),
                    format!(
                        "nvprobe read more than {} MiB of it: only the first ranges read were kept, the rest is a hole",
                        RANGES_LIMIT >> 20
                    ),
                ));
                break;
            }
            left -= len;
            let mut buf = vec![0_u8; usize::try_from(len).map_err(|_| io_err(Errno::FBIG))?];
            src.read_exact_at(&mut buf, start)?;
            if let Some(r) = self.redactor.as_deref_mut() {
                r.redact_in_place(&mut buf);
            }
            out.write_all_at(&buf, start)?;
            self.stats.bytes += len;
        }
        out.set_len(size)?;
        self.stats.files += 1;
        self.stats.sparse += 1;
        Ok(())
    }

    fn copy_file(
        &mut self,
        here: &Path,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &Metadata,
        key: &str,
        elf_only: bool,
    ) -> io::Result<()> {
        let mut src = open_source(here, meta)?;
        let size = meta.len();
        let mode = file_mode(meta.mode());
        let is_elf = elf_header(&mut src)?;
        if elf_only && !is_elf {
            self.size_only(dir, name, size, mode)?;
            self.stats.left_out.push((
                key.to_owned(),
                "not an ELF file, though nvprobe looked for a library there: its size was kept, not its bytes"
                    .to_owned(),
            ));
            return Ok(());
        }
        if is_elf && (size > FILE_LIMIT || elf_only) {
            let ranges = elf_ranges(&mut src, size).unwrap_or_default();
            let mut out = create_in(dir, name, mode)?;
            for (start, len) in ranges {
                self.stop_at_deadline(key)?;
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
        let mut bytes = Vec::new();
        (&mut src).take(FILE_LIMIT).read_to_end(&mut bytes)?;
        let cut = bytes.len() as u64 == FILE_LIMIT;
        // gpu-manager's per-container file: only the field nvprobe reads travels, with or
        // without --redact (the rest is the pod's UID and the container's name).
        if key.rsplit('/').next() == Some("vcuda.config") {
            bytes = crate::detect::vgpu::vcuda_config_for_capture(&bytes);
        }
        if let Some(r) = self.redactor.as_deref_mut()
            && !cut
        {
            let name = key.rsplit('/').next().unwrap_or(key);
            bytes = r.redact_file(name, &bytes);
        }
        let mut out = create_in(dir, name, mode)?;
        out.write_all(&bytes)?;
        if cut && size > bytes.len() as u64 {
            out.set_len(size)?;
        }
        self.stats.files += 1;
        self.stats.bytes += bytes.len() as u64;
        Ok(())
    }
}

/// True when `f` starts with an ELF header that parses (the magic, a known class and byte
/// order, sane sizes); the file is left at its start.
fn elf_header(f: &mut File) -> io::Result<bool> {
    let mut head = [0_u8; 64];
    let mut n = 0;
    while n < head.len() {
        match f.read(head.get_mut(n..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    f.seek(SeekFrom::Start(0))?;
    let Some(head) = head.get(..n) else {
        return Ok(false);
    };
    Ok(head.starts_with(b"\x7fELF") && goblin::elf::Elf::parse_header(head).is_ok())
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
        (end > start).then(|| (start, end - start))
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
    // A section table that cannot be read (a cut file) leaves the headers read so far.
    let mut table = vec![0_u8; usize::try_from(sh_len).ok()?];
    let read = f
        .seek(SeekFrom::Start(header.e_shoff))
        .and_then(|_| f.read_exact(&mut table));
    let Some(shdrs) = read
        .ok()
        .and_then(|()| SectionHeader::parse_from(&table, 0, usize::from(header.e_shnum), ctx).ok())
    else {
        return Some(ranges);
    };
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

    /// A source file that the walk's `lstat` saw as regular and that became a device node (or
    /// a link to one) before the copy opens it: refused, and the node's driver never runs
    /// (inotify sees no open). The file as it was is copied. Needs `CAP_MKNOD`; says "skipped"
    /// without.
    #[test]
    fn capture_source_swapped_for_a_node_is_not_opened() {
        use crate::testutil::{make_char_node, opens_of};
        let dir = crate::testutil::Scratch::new("copy-swap");
        let file = dir.join("version");
        std::fs::write(&file, "NVRM version\n").unwrap();
        let meta = std::fs::symlink_metadata(&file).unwrap();
        let mut text = String::new();
        open_source(&file, &meta).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "NVRM version\n");
        let node = dir.join("node");
        if !make_char_node(&node, 1, 3) {
            eprintln!("skipped: mknod is not allowed here (no CAP_MKNOD)");
            return;
        }
        let (opened, ()) = opens_of(&node, || {
            std::fs::remove_file(&file).unwrap();
            std::fs::hard_link(&node, &file).unwrap();
            let err = open_source(&file, &meta).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
            std::fs::remove_file(&file).unwrap();
            std::os::unix::fs::symlink(&node, &file).unwrap();
            assert!(open_source(&file, &meta).is_err());
        });
        assert_eq!(opened, 0, "the node was opened");
    }
}
