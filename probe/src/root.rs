//! The filesystem the probe reads, rooted at `/` or at a fixture directory (`--root DIR`).
//!
//! Under a fixture root every absolute path is resolved inside the root like a chroot: an
//! absolute symlink target is taken relative to the root, and `..` never climbs above it. The
//! kernel does that walk itself with `openat2(RESOLVE_IN_ROOT)` (Linux 5.6+); where that call
//! is missing or refused the walk is done component by component here with `lstat`. Either
//! way the kernel's plain resolution, which would escape the root through a link, is never
//! used. On the host root paths are used as they are.
//!
//! Nothing is cached between two accesses: every path is resolved again from the root's
//! directory (one `openat2` on kernels that have it), so what a run sees does not depend on
//! what it read before, and the process holds no descriptor beyond the root's and the file
//! being read, whatever its `RLIMIT_NOFILE`.
//!
//! All reads are bounded: a file is read up to a byte limit and must be a regular file, so a
//! FIFO or a device where a text file is expected cannot block or stream forever.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, Stat};
use rustix::io::Errno;

/// At most this many symlinks are followed while resolving one path (Linux uses 40 too).
const MAX_LINK_HOPS: usize = 40;

/// The default byte limit for procfs/sysfs/etc text files.
pub const TEXT_LIMIT: u64 = 64 * 1024;

/// At most this many directory entries are read from one directory; a directory with more
/// is an error, never a silent cut (see [`Root::read_dir_names`]).
pub const DIR_LIMIT: usize = 4096;

/// The limit for the directories that list GPUs (`/sys/bus/pci/devices`, `/dev`,
/// `/proc/driver/nvidia/gpus`): one PCI domain holds at most 65,536 functions.
pub const DEVICE_DIR_LIMIT: usize = 65_536;

/// Where the probe reads the machine from.
#[derive(Clone, Debug)]
pub struct Root {
    base: PathBuf,
    host: bool,
    /// A fixture root's directory, held open.
    open: Option<Arc<OpenRoot>>,
    /// `nvprobe capture`: every path resolved or listed through this root is noted here.
    recorder: Option<Recorder>,
}

/// A fixture root held open: the base directory (`O_PATH`), the copy its regular files are
/// opened through (if any), and whether `openat2` works here.
#[derive(Debug)]
struct OpenRoot {
    base: OwnedFd,
    /// A copy of the root's mounts marked `nodev` ([`Root::at_with_files`]), through which its
    /// regular files are opened, or why none was made; `None` where none was asked for: the
    /// files are opened through `base`.
    files: Option<Result<OwnedFd, Errno>>,
    openat2: AtomicBool,
    /// `base`'s own path as the kernel names it (its `/proc/self/fd` link), read when a file
    /// of the root is first named ([`Root::name_of`]); `None` where it could not be read.
    named: OnceLock<Option<PathBuf>>,
}

/// What `stat`/`lstat` says about a path (the fields the probe uses).
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    st: Stat,
}

impl Meta {
    /// The file type.
    pub fn kind(&self) -> FileType {
        FileType::from_raw_mode(self.st.st_mode)
    }
    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind() == FileType::RegularFile
    }
    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == FileType::Directory
    }
    /// A symbolic link (only from [`Root::symlink_metadata`]).
    pub fn is_symlink(&self) -> bool {
        self.kind() == FileType::Symlink
    }
    /// A character device.
    pub fn is_char_device(&self) -> bool {
        self.kind() == FileType::CharacterDevice
    }
    /// The mode bits, file type included.
    pub fn mode(&self) -> u32 {
        self.st.st_mode
    }
    /// The owner.
    pub fn uid(&self) -> u32 {
        self.st.st_uid
    }
    /// The group.
    pub fn gid(&self) -> u32 {
        self.st.st_gid
    }
    /// The device number of a device node.
    pub fn rdev(&self) -> u64 {
        self.st.st_rdev
    }
    /// The size in bytes.
    pub fn len(&self) -> u64 {
        u64::try_from(self.st.st_size).unwrap_or(0)
    }
    /// True for an empty file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The file itself, whatever name reached it: `(device, inode)`.
    pub fn identity(&self) -> (u64, u64) {
        (self.st.st_dev, self.st.st_ino)
    }
}

/// How a recorded path was used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Access {
    /// Resolved with the last symlink followed (`stat`, open, read).
    pub follow: bool,
    /// Resolved without following a symlink in the last component (`lstat`, `readlink`).
    pub nofollow: bool,
    /// Listed as a directory.
    pub listed: bool,
    /// Its bytes read through this root (a text or binary file the probe parsed).
    pub read: bool,
    /// Parsed as an ELF file by the library inventory ([`Root::open_elf`]).
    pub elf: bool,
    /// Read with positioned reads ([`Root::open_for_reads`]): only the byte ranges read
    /// ([`Recorder::ranges`]) are the probe's, and a capture keeps only those.
    pub positioned: bool,
}

/// The byte ranges read from one file, merged: start → end (exclusive), none touching.
pub type Ranges = BTreeMap<u64, u64>;

/// Adds `start..end` to `ranges`, merging it with the ranges it overlaps or touches.
fn add_range(ranges: &mut Ranges, mut start: u64, mut end: u64) {
    if start >= end {
        return;
    }
    if let Some((&s, &e)) = ranges.range(..=start).next_back()
        && e >= start
    {
        start = s;
        end = end.max(e);
    }
    while let Some((&s, &e)) = ranges.range(start..).next()
        && s <= end
    {
        ranges.remove(&s);
        end = end.max(e);
    }
    ranges.insert(start, end);
}

/// The set of absolute machine paths a run touched, shared by every clone of a [`Root`] made
/// with [`Root::with_recorder`] (`nvprobe capture` copies them into a bundle).
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    paths: Arc<Mutex<BTreeMap<String, Access>>>,
    /// The byte ranges read from the files opened with [`Root::open_for_reads`].
    ranges: Arc<Mutex<BTreeMap<String, Ranges>>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    fn note(&self, path: &str, f: impl FnOnce(&mut Access)) {
        let mut map = self
            .paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(map.entry(path.to_owned()).or_default());
    }

    /// The paths touched so far, sorted, with how each was used.
    pub fn snapshot(&self) -> Vec<(String, Access)> {
        self.paths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(p, a)| (p.clone(), *a))
            .collect()
    }

    fn note_range(&self, path: &str, start: u64, end: u64) {
        let mut map = self
            .ranges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        add_range(map.entry(path.to_owned()).or_default(), start, end);
    }

    /// The byte ranges read so far from each file opened with [`Root::open_for_reads`]
    /// (merged; a file opened but never read has none).
    pub fn ranges(&self) -> BTreeMap<String, Ranges> {
        self.ranges
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// A regular file opened for positioned reads ([`Root::open_for_reads`]): its size, and
/// `pread` at any offset. Under a recorder each range read is noted (clipped to the size), so
/// that a capture keeps exactly those bytes.
#[derive(Debug)]
pub struct ReadAt {
    fd: OwnedFd,
    size: u64,
    note: Option<(Recorder, String)>,
}

impl ReadAt {
    /// The file's size when it was opened.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Fills `buf` from `offset`; false when it cannot (past the end, an I/O error).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> bool {
        let Some(end) = offset.checked_add(buf.len() as u64) else {
            return false;
        };
        if let Some((rec, path)) = &self.note {
            // What the reader asked for, within the file: a read that fails on the machine
            // fails the same way on the copy, which has the same size.
            rec.note_range(path, offset.min(self.size), end.min(self.size));
        }
        let mut got = 0;
        while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
            match rustix::io::pread(&self.fd, rest, offset + got as u64) {
                Ok(0) => return false,
                Ok(n) => got += n,
                Err(Errno::INTR) => {}
                Err(_) => return false,
            }
        }
        true
    }
}

/// A text file's content, with a flag for content cut at the byte limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// The content, with invalid UTF-8 replaced.
    pub text: String,
    /// True when the file was longer than the limit and was cut.
    pub truncated: bool,
}

/// Errors of `openat2` that mean "not usable here" (an old kernel, a sandbox that refuses
/// it, a rename race) rather than "no such file": the user-space walk answers instead.
fn openat2_unusable(e: Errno) -> bool {
    matches!(
        e,
        Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG | Errno::AGAIN | Errno::XDEV
    )
}

fn regular_only(st: &Stat) -> io::Result<()> {
    if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ))
    }
}

/// Reads an open regular file up to `limit` bytes (`st` is its `fstat`).
///
/// Most files the probe reads are a few bytes (sysfs attributes are at most a page, whatever
/// `st_size` says): the first page is read onto the stack and only what was read is copied to
/// the heap, so a run does not allocate (and free) a page per attribute.
fn read_limited(fd: BorrowedFd<'_>, st: &Stat, limit: u64) -> io::Result<(Vec<u8>, bool)> {
    const PAGE: usize = 4096;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    // A size from a disk filesystem is exact and saves the read that would return 0; sysfs
    // says 4096 and procfs 0 whatever the content, so those read on to the end.
    let size = usize::try_from(st.st_size).ok().filter(|&s| s > 0);
    let first = PAGE.min(limit.saturating_add(1));
    let mut page = [0_u8; PAGE];
    let mut len = 0;
    let mut done = false;
    while let Some(spare) = page.get_mut(len..first).filter(|s| !s.is_empty()) {
        let n = match rustix::io::read(fd, spare) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        len += n;
        if n == 0 || size == Some(len) {
            done = true;
            break;
        }
    }
    let read = page.get(..len).unwrap_or_default();
    if done || len > limit {
        let truncated = len > limit;
        return Ok((
            read.get(..len.min(limit)).unwrap_or_default().to_vec(),
            truncated,
        ));
    }
    // More than a page: on into a buffer of the announced size, grown while the file goes on.
    // The reads land in the vector's spare capacity, never zero-filled first (zeroing a
    // 600 KB dpkg status cost more instructions than reading it).
    let mut want = size
        .unwrap_or(2 * PAGE)
        .min(limit.saturating_add(1))
        .max(len + 1);
    let mut buf = Vec::with_capacity(want);
    buf.extend_from_slice(read);
    loop {
        if buf.len() >= want {
            if buf.len() > limit {
                break;
            }
            want = buf.len() + buf.len().min(limit.saturating_add(1) - buf.len()).max(1);
            buf.reserve_exact(want - buf.len());
        }
        let n = match rustix::io::read(fd, rustix::buffer::spare_capacity(&mut buf)) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 || size == Some(buf.len()) {
            break;
        }
    }
    let truncated = buf.len() > limit;
    buf.truncate(limit);
    Ok((buf, truncated))
}

/// Reads an open regular file whole (`st` is its `fstat`), refusing one over `limit` bytes
/// (`InvalidData`) without reading it when its size says so.
fn read_whole(fd: BorrowedFd<'_>, st: &Stat, limit: u64) -> io::Result<Vec<u8>> {
    let over = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("over the {limit}-byte limit"),
        )
    };
    if let Ok(size) = u64::try_from(st.st_size)
        && size > limit
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{size} bytes, over the {limit}-byte limit"),
        ));
    }
    match read_limited(fd, st, limit)? {
        (_, true) => Err(over()),
        (buf, false) => Ok(buf),
    }
}

fn into_text(buf: Vec<u8>, truncated: bool) -> Text {
    let text = match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Text { text, truncated }
}

impl Root {
    /// The machine the probe runs on.
    pub fn host() -> Self {
        Self {
            base: PathBuf::from("/"),
            host: true,
            open: None,
            recorder: None,
        }
    }

    /// A fixture or capture directory standing for a machine's `/`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let base: PathBuf = dir.into();
        let open = rustix::fs::open(
            &base,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(|fd| {
            Arc::new(OpenRoot {
                base: fd,
                files: None,
                openat2: AtomicBool::new(true),
                named: OnceLock::new(),
            })
        });
        Self {
            base,
            host: false,
            open,
            recorder: None,
        }
    }

    /// A fixture or capture directory standing for a machine's `/`, whose regular files are
    /// opened through what `copy` makes of its directory: a copy of its mounts marked `nodev`
    /// (`sys::nodev::copy`), so a device node where a file belongs is refused by the kernel
    /// before its driver's open runs. Where `copy` fails the files are opened through the
    /// directory as [`Self::at`] does, and [`Self::files_nodev`] says why. Device nodes the
    /// probe means to open, directories and `O_PATH` lookups always go through the directory
    /// as given.
    pub fn at_with_files(
        dir: impl Into<PathBuf>,
        copy: impl FnOnce(BorrowedFd<'_>) -> Result<OwnedFd, Errno>,
    ) -> Self {
        let mut root = Self::at(dir);
        if let Some(open) = root.open.as_mut().and_then(Arc::get_mut) {
            open.files = Some(copy(open.base.as_fd()));
        }
        root
    }

    /// Whether this root's regular files are opened through a `nodev` copy of its mounts
    /// ([`Self::at_with_files`]): `Ok` when they are, the error that prevented it, or `None`
    /// for the host and a root made without one.
    pub fn files_nodev(&self) -> Option<Result<(), Errno>> {
        let files = self.open.as_ref()?.files.as_ref()?;
        Some(files.as_ref().map(|_| ()).map_err(|e| *e))
    }

    /// The same root with the user-space walk in place of `openat2` and of the kernel's names
    /// for files (tests of the fallback: no `openat2`, no `/proc`).
    #[cfg(test)]
    fn without_openat2(self) -> Self {
        if let Some(open) = &self.open {
            open.openat2.store(false, Ordering::Relaxed);
            open.named.set(None).expect("a root not used yet");
        }
        self
    }

    /// The same root, noting every path resolved or listed through it (and its clones) in
    /// `recorder`.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The same root without its recorder: for reads that are not the probe's (the sandbox's
    /// policy), which a capture must not copy.
    #[must_use]
    pub fn unrecorded(&self) -> Self {
        Self {
            recorder: None,
            ..self.clone()
        }
    }

    /// The recorder, when this root has one.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// True for the real machine, false for a fixture root.
    pub fn is_host(&self) -> bool {
        self.host
    }

    /// The directory that stands for `/`.
    pub fn base(&self) -> &Path {
        &self.base
    }

    fn note(&self, path: &str, follow_last: bool) {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| {
                if follow_last {
                    a.follow = true;
                } else {
                    a.nofollow = true;
                }
            });
        }
    }

    /// Notes that the bytes of `path` were read (the capture copies them).
    fn note_read(&self, path: &str) {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| {
                a.follow = true;
                a.read = true;
            });
        }
    }

    /// Opens the regular file at `path` to parse it as an ELF file (the library inventory),
    /// resolved inside the root as every read is, and notes it as one: a capture copies it
    /// only if it is one. Returns the file and its size. The inventory names a library by the
    /// path [`Root::resolve`] gives, but its bytes come from here: a link swapped in after
    /// that walk still cannot lead the read out of the root.
    ///
    /// # Errors
    /// The open error, or `InvalidInput` when the path is not a regular file.
    pub fn open_elf(&self, path: &str) -> io::Result<(std::fs::File, u64)> {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| {
                a.follow = true;
                a.elf = true;
            });
        }
        // On the host a library's path may come from a directory others can write: its type
        // is checked before it is opened (`open_checked`). A root's reads go through its
        // `nodev` copy where it has one (`open_regular_in`).
        let (fd, st) = if self.host {
            open_checked(Path::new(path), OFlags::empty())?
        } else {
            self.open_regular_in(path)?
        };
        Ok((std::fs::File::from(fd), file_size(&st)))
    }

    /// Looks `path` up inside the root, following links there, and holds what it found with
    /// `O_PATH`: nothing is opened for real (a FIFO cannot block, a device is not stirred).
    /// Returns the held file and its `fstat`. A caller that checks a node and then acts on it
    /// (opens it, asks its access, grants it) acts on this very file, not on a path a link
    /// swapped in since could lead elsewhere.
    ///
    /// # Errors
    /// The lookup's error (`NotFound` for a missing path).
    pub(crate) fn open_node(&self, path: &str) -> io::Result<(OwnedFd, Meta)> {
        self.note(path, true);
        let fd = self.open_path(path, OFlags::PATH, true)?;
        let st = rustix::fs::fstat(&fd)?;
        Ok((fd, Meta { st }))
    }

    /// Opens the character device at `path` with `flags` (`O_RDWR`, `O_NONBLOCK`; `O_CLOEXEC`
    /// and `O_NOCTTY` are added) once it is known to be one: a FIFO, or a regular file standing
    /// in for a node, is never opened.
    ///
    /// Under a fixture root the node is looked up once, inside the root ([`Self::open_node`]),
    /// and the inode found is opened again through `/proc/self/fd`, so a link swapped in after
    /// the check cannot lead the open out of the root or to another node; without `/proc` it
    /// is looked up inside the root again and must be the same inode. On the host (whose
    /// `/dev` only root can change), `stat` and then `open` with `O_NOFOLLOW`, which must give
    /// the same inode too.
    ///
    /// # Errors
    /// [`DeviceOpenError::Io`] when the lookup or the open fails, `NotChar` for anything else
    /// than a character device, `Changed` when the node opened is not the one checked.
    pub(crate) fn open_char_device(
        &self,
        path: &str,
        flags: OFlags,
    ) -> Result<OwnedFd, DeviceOpenError> {
        let flags = flags | OFlags::CLOEXEC | OFlags::NOCTTY;
        let (held, checked) = if self.host {
            self.note(path, true);
            (None, rustix::fs::stat(path)?)
        } else {
            let (fd, meta) = self.open_node(path)?;
            (Some(fd), meta.st)
        };
        let kind = FileType::from_raw_mode(checked.st_mode);
        if kind != FileType::CharacterDevice {
            return Err(DeviceOpenError::NotChar(kind));
        }
        let fd = match held {
            None => rustix::fs::open(path, flags | OFlags::NOFOLLOW, Mode::empty())?,
            // Without `/proc` the lookup is made again and must find the same inode. Any other
            // error may be the driver's own answer (an open that waited seconds for its GPU
            // and failed), so the node is not opened a second time.
            Some(held) => match reopen(&held, flags) {
                Err(Errno::NOENT) => self.open_path(path, flags, true)?,
                opened => opened?,
            },
        };
        let st = rustix::fs::fstat(&fd)?;
        if (st.st_dev, st.st_ino, st.st_rdev) != (checked.st_dev, checked.st_ino, checked.st_rdev) {
            return Err(DeviceOpenError::Changed);
        }
        Ok(fd)
    }

    /// Resolves an absolute path, following symlinks inside the root (the last component too).
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        self.note(path, true);
        self.resolve_inner(path, true)
    }

    /// Resolves `path`, which is `name` inside `dir`, a directory this root already resolved
    /// (its host path, from [`Self::resolve`], or `canonicalize` on the host): only `name` is
    /// walked (one `lstat`, more when it is a symlink), not every component of the directory
    /// again for each of its files. Symlinks are followed inside the root, as `resolve` does.
    pub fn resolve_in(&self, dir: &Path, name: &str, path: &str) -> io::Result<PathBuf> {
        self.note(path, true);
        let mut pending = Vec::new();
        push_components(&mut pending, Path::new(name));
        self.walk(dir.to_path_buf(), pending, true, path)
    }

    /// Resolves an absolute path, following symlinks inside the root except in the last
    /// component, so the result names the link itself when the path ends in one.
    pub fn resolve_nofollow(&self, path: &str) -> io::Result<PathBuf> {
        self.note(path, false);
        self.resolve_inner(path, false)
    }

    fn resolve_inner(&self, path: &str, follow_last: bool) -> io::Result<PathBuf> {
        if self.host {
            return Ok(PathBuf::from(path));
        }
        if let Some(found) = self.resolve_by_kernel(path, follow_last) {
            return Ok(found);
        }
        let mut pending = Vec::new();
        push_components(&mut pending, Path::new(path));
        self.walk(self.base.clone(), pending, follow_last, path)
    }

    /// Resolves `path` as [`Self::walk`] does, in three system calls instead of one or two
    /// per component: `openat2(RESOLVE_IN_ROOT)` finds the file (`O_PATH`), and the kernel
    /// names it ([`Self::name_of`]). `None` where the kernel cannot answer so (no `openat2`,
    /// no `/proc`, a path that does not resolve): the walk answers then, missing components
    /// and all.
    fn resolve_by_kernel(&self, path: &str, follow_last: bool) -> Option<PathBuf> {
        let open = self.open.as_ref()?;
        if !open.openat2.load(Ordering::Relaxed) {
            return None;
        }
        let fd = rustix::fs::openat2(
            &open.base,
            path,
            OFlags::PATH | OFlags::CLOEXEC | nofollow(follow_last),
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        self.name_of(&fd)
    }

    /// The host path of the file `fd` holds, every symlink resolved, as [`Self::resolve`] and
    /// `realpath` give it: the kernel's name for it ([`kernel_name`]), which for a root is
    /// under the kernel's name of the root's directory and is given back under
    /// [`Self::base`]. `None` where the kernel cannot name it.
    fn name_of(&self, fd: &OwnedFd) -> Option<PathBuf> {
        let found = kernel_name(fd)?;
        if self.host {
            return Some(found);
        }
        let open = self.open.as_ref()?;
        let named = open
            .named
            .get_or_init(|| kernel_name(&open.base))
            .as_deref()?;
        let inside = found.strip_prefix(named).ok()?;
        Some(if inside.as_os_str().is_empty() {
            self.base.clone()
        } else {
            self.base.join(inside)
        })
    }

    /// Walks `pending` (components in reverse order) from `start`, a resolved directory inside
    /// the root, following symlinks inside the root (the last one too when `follow_last`).
    fn walk(
        &self,
        start: PathBuf,
        mut pending: Vec<OsString>,
        follow_last: bool,
        path: &str,
    ) -> io::Result<PathBuf> {
        let mut depth = start
            .strip_prefix(&self.base)
            .map_or(0, |p| p.components().count());
        let mut here = start;
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            if name == ".." {
                if depth > 0 {
                    here.pop();
                    depth -= 1;
                }
                continue;
            }
            here.push(&name);
            depth += 1;
            if pending.is_empty() && !follow_last {
                break;
            }
            // Missing, or a file with more components after it: the caller's open reports it,
            // so the rest is kept as it is. A `..` after it must not undo it: the kernel fails
            // the whole path there (`ENOENT`, `ENOTDIR`).
            let kind = rustix::fs::lstat(&here)
                .ok()
                .map(|meta| FileType::from_raw_mode(meta.st_mode));
            let walkable = matches!(kind, Some(FileType::Directory | FileType::Symlink));
            if kind.is_none() || (!walkable && !pending.is_empty()) {
                while let Some(rest) = pending.pop() {
                    here.push(rest);
                }
                break;
            }
            if kind != Some(FileType::Symlink) {
                continue;
            }
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(io::Error::other(format!(
                    "too many levels of symbolic links resolving {path}"
                )));
            }
            let target = std::fs::read_link(&here)?;
            here.pop();
            depth -= 1;
            if target.is_absolute() {
                here.clone_from(&self.base);
                depth = 0;
            }
            push_components(&mut pending, &target);
        }
        Ok(here)
    }

    /// Opens `path` inside a fixture root from its base with `openat2(RESOLVE_IN_ROOT)`, or
    /// through the user-space walk where that call is not usable (`ENOSYS` before Linux 5.6
    /// and in sandboxes that lack it, `EPERM` from a container's seccomp profile that predates
    /// it): the walk then answers every later open of the run. `flags` must not contain
    /// `O_NOFOLLOW`; `follow_last: false` adds it.
    fn open_full(
        &self,
        open: &OpenRoot,
        from: &OwnedFd,
        path: &str,
        flags: OFlags,
        follow_last: bool,
    ) -> io::Result<OwnedFd> {
        let flags = flags | OFlags::CLOEXEC | nofollow(follow_last);
        if open.openat2.load(Ordering::Relaxed) {
            match rustix::fs::openat2(
                from,
                path,
                flags,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Ok(fd) => return Ok(fd),
                Err(e) if openat2_unusable(e) => {
                    if matches!(e, Errno::NOSYS | Errno::PERM | Errno::TOOBIG) {
                        open.openat2.store(false, Ordering::Relaxed);
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.open_walked(path, flags, follow_last)
    }

    /// Opens `path` after resolving it with [`Self::resolve_inner`] (the host, a root that
    /// could not be held open, or no `openat2`). `flags` already carry `O_CLOEXEC` and, for
    /// `follow_last: false`, `O_NOFOLLOW`.
    fn open_walked(&self, path: &str, flags: OFlags, follow_last: bool) -> io::Result<OwnedFd> {
        if self.host {
            return Ok(rustix::fs::open(path, flags, Mode::empty())?);
        }
        let real = self.resolve_inner(path, follow_last)?;
        Ok(rustix::fs::open(&real, flags, Mode::empty())?)
    }

    /// Opens a path of this root with `flags` (`O_PATH`, `O_RDONLY`, ...), the last component
    /// followed or not (with `O_PATH`, a symlink not followed opens the link itself).
    fn open_path(&self, path: &str, flags: OFlags, follow_last: bool) -> io::Result<OwnedFd> {
        match &self.open {
            Some(open) => self.open_full(open, &open.base, path, flags, follow_last),
            None => self.open_walked(
                path,
                flags | OFlags::CLOEXEC | nofollow(follow_last),
                follow_last,
            ),
        }
    }

    fn stat_inner(&self, path: &str, follow_last: bool) -> io::Result<Meta> {
        if self.host {
            let st = if follow_last {
                rustix::fs::stat(path)?
            } else {
                rustix::fs::lstat(path)?
            };
            return Ok(Meta { st });
        }
        let fd = self.open_path(path, OFlags::PATH, follow_last)?;
        Ok(Meta {
            st: rustix::fs::fstat(&fd)?,
        })
    }

    /// `stat` through symlinks.
    pub fn metadata(&self, path: &str) -> io::Result<Meta> {
        self.note(path, true);
        self.stat_inner(path, true)
    }

    /// `stat` through symlinks, with the host path of the file found, every symlink
    /// resolved (what [`Self::resolve`], or `realpath` on the host, would give), in one
    /// lookup: `None` for the path where the kernel cannot name the file (no `/proc`).
    pub fn metadata_and_path(&self, path: &str) -> io::Result<(Meta, Option<PathBuf>)> {
        self.note(path, true);
        let fd = if self.host {
            rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?
        } else {
            self.open_path(path, OFlags::PATH, true)?
        };
        let st = rustix::fs::fstat(&fd)?;
        Ok((Meta { st }, self.name_of(&fd)))
    }

    /// `lstat`: the entry itself, a symlink not followed.
    pub fn symlink_metadata(&self, path: &str) -> io::Result<Meta> {
        self.note(path, false);
        self.stat_inner(path, false)
    }

    /// True when the path exists (through symlinks).
    pub fn exists(&self, path: &str) -> bool {
        self.metadata(path).is_ok()
    }

    /// The raw target of a symlink.
    pub fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        use std::os::unix::ffi::OsStringExt as _;
        self.note(path, false);
        let target = if self.host {
            rustix::fs::readlink(path, Vec::new())?
        } else if let Some((parent, last)) = split_last(path) {
            let parent = if parent.is_empty() { "/" } else { parent };
            let dir = self.open_path(parent, OFlags::PATH | OFlags::DIRECTORY, true)?;
            rustix::fs::readlinkat(&dir, last, Vec::new())?
        } else {
            let fd = self.open_path(path, OFlags::PATH, false)?;
            rustix::fs::readlinkat(&fd, "", Vec::new())?
        };
        Ok(PathBuf::from(OsString::from_vec(target.into_bytes())))
    }

    /// Opens a regular file for reading, never blocking in `open(2)` (`O_NONBLOCK`) and
    /// refusing anything else (checked with `fstat` on the open file). Through the root's
    /// `nodev` copy where it has one ([`Self::at_with_files`]): a device node there fails
    /// with `EACCES` before its driver runs, and is then looked up (`O_PATH`, not opened)
    /// through the root as given, so the answer is the one a plain open gives, "not a regular
    /// file". (The user-space walk, where `openat2` is not usable, opens through the root as
    /// given.)
    fn open_regular_in(&self, path: &str) -> io::Result<(OwnedFd, Stat)> {
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match self.open.as_deref() {
            Some(
                open @ OpenRoot {
                    files: Some(Ok(files)),
                    ..
                },
            ) => match self.open_full(open, files, path, flags, true) {
                Err(e) if e.raw_os_error() == Some(Errno::ACCESS.raw_os_error()) => {
                    regular_only(&self.stat_inner(path, true)?.st)?;
                    return Err(e);
                }
                opened => opened?,
            },
            _ => self.open_path(path, flags, true)?,
        };
        let st = rustix::fs::fstat(&fd)?;
        regular_only(&st)?;
        Ok((fd, st))
    }

    /// Reads a regular file's bytes up to `limit`, with a flag for content cut at the limit.
    ///
    /// # Errors
    /// The open or read error, or `InvalidInput` when the path is not a regular file.
    pub fn read_bytes_limited(&self, path: &str, limit: u64) -> io::Result<(Vec<u8>, bool)> {
        self.note_read(path);
        let (fd, st) = self.open_regular_in(path)?;
        read_limited(fd.as_fd(), &st, limit)
    }

    /// Reads a regular text file of up to `limit` bytes in pieces of whole lines, handing each
    /// piece to `f`; returns true when the file was cut at the limit. For large files scanned
    /// once (a `modules.dep` is ~700 KB): the buffer is 64 KiB, not the file's size, so the
    /// run does not fault in and zero memory it reads only once. A line longer than the buffer
    /// is handed over in parts; invalid UTF-8 is replaced.
    ///
    /// # Errors
    /// The open or read error, or `InvalidInput` when the path is not a regular file.
    pub fn read_lines_chunked(
        &self,
        path: &str,
        limit: u64,
        mut f: impl FnMut(&str),
    ) -> io::Result<bool> {
        const PIECE: usize = 64 * 1024;
        self.note_read(path);
        let (fd, st) = self.open_regular_in(path)?;
        let mut left = usize::try_from(limit).unwrap_or(usize::MAX);
        // No larger than the file (its size, a page at least: procfs says 0): a fixture's
        // modules.dep of a few lines does not zero, and fault in, 64 KiB.
        let piece = usize::try_from(st.st_size)
            .unwrap_or(PIECE)
            .saturating_add(1)
            .clamp(4096, PIECE);
        let mut buf = vec![0_u8; piece];
        let mut len = 0;
        let mut hand = |bytes: &[u8]| match std::str::from_utf8(bytes) {
            Ok(t) => f(t),
            Err(_) => f(&String::from_utf8_lossy(bytes)),
        };
        loop {
            let want = (piece - len).min(left);
            let n = if want == 0 {
                0
            } else {
                match rustix::io::read(&fd, buf.get_mut(len..len + want).unwrap_or_default()) {
                    Ok(n) => n,
                    Err(Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            left -= n;
            len += n;
            let data = buf.get(..len).unwrap_or_default();
            if n == 0 {
                if !data.is_empty() {
                    hand(data);
                }
                break;
            }
            // Hand over the whole lines; keep the unfinished one for the next read.
            let keep_from = match data.iter().rposition(|&b| b == b'\n') {
                Some(nl) => nl + 1,
                None if len == piece => len,
                None => continue,
            };
            hand(data.get(..keep_from).unwrap_or_default());
            buf.copy_within(keep_from..len, 0);
            len -= keep_from;
        }
        // Cut at the limit when one more byte can still be read.
        if left == 0 {
            let mut probe = [0_u8; 1];
            return Ok(rustix::io::read(&fd, &mut probe[..]).is_ok_and(|n| n > 0));
        }
        Ok(false)
    }

    /// Reads the last `n` bytes of a regular file (all of it when shorter) with `pread`, without
    /// reading what comes before: a module signature sits at the end of a 100 MB `nvidia.ko`.
    ///
    /// # Errors
    /// The open or read error, or `InvalidInput` when the path is not a regular file.
    pub fn read_tail(&self, path: &str, n: u64) -> io::Result<Vec<u8>> {
        self.note_read(path);
        let (fd, st) = self.open_regular_in(path)?;
        let size = file_size(&st);
        let start = size.saturating_sub(n);
        let mut buf = vec![0_u8; usize::try_from(size - start).unwrap_or(0)];
        let mut got = 0;
        while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
            match rustix::io::pread(&fd, rest, start + got as u64) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }

    /// Opens a regular file for positioned reads (`pread` on the descriptor), with its size:
    /// for a large file of which only some pages are read (rpm's `rpmdb.sqlite`). Recorded as
    /// read with positioned reads, and under a recorder each range read is noted: a capture
    /// keeps the file's size and only those bytes (a sparse file), whatever its size.
    ///
    /// # Errors
    /// The open error, or `InvalidInput` when the path is not a regular file.
    pub fn open_for_reads(&self, path: &str) -> io::Result<ReadAt> {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| {
                a.follow = true;
                a.positioned = true;
            });
        }
        let (fd, st) = self.open_regular_in(path)?;
        Ok(ReadAt {
            fd,
            size: file_size(&st),
            note: self.recorder.clone().map(|r| (r, path.to_owned())),
        })
    }

    /// Reads a whole regular file, refusing one over `limit` bytes (`InvalidData`) without
    /// reading it when its size says so.
    pub fn read_bytes_whole(&self, path: &str, limit: u64) -> io::Result<Vec<u8>> {
        self.note_read(path);
        let (fd, st) = self.open_regular_in(path)?;
        read_whole(fd.as_fd(), &st, limit)
    }

    /// [`Root::read_text_limited`] with what `fstat` said of the file it read: a path listed as
    /// a regular file is opened once, not stat'ed first and then opened again.
    ///
    /// # Errors
    /// As [`Root::read_text_limited`].
    pub fn read_text_with_meta(&self, path: &str, limit: u64) -> io::Result<(Meta, Text)> {
        self.note_read(path);
        let (fd, st) = self.open_regular_in(path)?;
        let (buf, truncated) = read_limited(fd.as_fd(), &st, limit)?;
        Ok((Meta { st }, into_text(buf, truncated)))
    }

    /// Reads a regular text file up to `limit` bytes.
    ///
    /// # Errors
    /// The open or read error, or `InvalidInput` when the path is not a regular file.
    pub fn read_text_limited(&self, path: &str, limit: u64) -> io::Result<Text> {
        self.read_text_with_meta(path, limit).map(|(_, text)| text)
    }

    /// Reads a regular text file up to [`TEXT_LIMIT`] bytes.
    pub fn read_text(&self, path: &str) -> io::Result<Text> {
        self.read_text_limited(path, TEXT_LIMIT)
    }

    /// The names in a directory, sorted.
    ///
    /// # Errors
    /// As `open(2)` and `getdents64(2)`; and when the directory holds more than [`DIR_LIMIT`]
    /// names (a cut list would read as a complete one).
    pub fn read_dir_names(&self, path: &str) -> io::Result<Vec<String>> {
        self.read_dir_names_limited(path, DIR_LIMIT)
    }

    /// [`Root::read_dir_names`] with another limit on the number of names.
    ///
    /// # Errors
    /// As [`Root::read_dir_names`], with `limit`.
    pub fn read_dir_names_limited(&self, path: &str, limit: usize) -> io::Result<Vec<String>> {
        self.read_dir_names_where(path, limit, &|_| true)
    }

    /// [`Root::read_dir_names_limited`], keeping only the names `keep` takes (the limit still
    /// counts every entry): the NVIDIA nodes among the hundred or more names in `/dev` are
    /// kept without a string made for each of the others.
    ///
    /// # Errors
    /// As [`Root::read_dir_names_limited`].
    pub fn read_dir_names_where(
        &self,
        path: &str,
        limit: usize,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<String>> {
        let fd = self.open_dir(path)?;
        names_in(&fd, limit, keep)
    }

    /// [`Root::read_dir_names`] with the type of each entry as the listing gives it (the entry
    /// itself: a symlink is `Symlink`), `Unknown` where the filesystem gives none, in the
    /// listing's order (not sorted). An entry listed as a regular file or a directory is one,
    /// with no `stat` to ask.
    ///
    /// # Errors
    /// As [`Root::read_dir_names`].
    pub fn read_dir_entries(&self, path: &str) -> io::Result<Vec<(String, FileType)>> {
        self.read_dir_entries_where(path, DIR_LIMIT, &|_| true)
    }

    /// [`Root::read_dir_entries`] with the limit and filter of [`Root::read_dir_names_where`].
    ///
    /// # Errors
    /// As [`Root::read_dir_names_where`].
    pub fn read_dir_entries_where(
        &self,
        path: &str,
        limit: usize,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Vec<(String, FileType)>> {
        let fd = self.open_dir(path)?;
        entries_in(&fd, limit, keep)
    }

    /// [`Root::read_dir_names_where`] of a directory that may have been listed already under
    /// another name: `seen` is given its identity (`fstat` on the directory opened for the
    /// listing) and when it answers `true` the names are not read (`Ok(None)`).
    ///
    /// # Errors
    /// As [`Root::read_dir_names`].
    pub fn read_dir_names_unless(
        &self,
        path: &str,
        seen: impl FnOnce((u64, u64)) -> bool,
        keep: &dyn Fn(&[u8]) -> bool,
    ) -> io::Result<Option<Vec<String>>> {
        let fd = self.open_dir(path)?;
        let st = rustix::fs::fstat(&fd)?;
        if seen(Meta { st }.identity()) {
            return Ok(None);
        }
        names_in(&fd, DIR_LIMIT, keep).map(Some)
    }

    /// Opens a directory to list it, noting the listing.
    fn open_dir(&self, path: &str) -> io::Result<OwnedFd> {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| a.listed = true);
        }
        self.note(path, true);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NONBLOCK;
        self.open_path(path, flags, true)
    }
}

/// The names in the open directory `fd` that `keep` takes, sorted; an error when there are
/// more than `limit` entries.
fn names_in(fd: &OwnedFd, limit: usize, keep: &dyn Fn(&[u8]) -> bool) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = entries_in(fd, limit, keep)?
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    names.sort_unstable();
    Ok(names)
}

/// The names in the open directory `fd` that `keep` takes, with the type the listing gives
/// each (`Unknown` where the filesystem gives none), in the listing's order; an error when
/// there are more than `limit` entries, taken or not.
fn entries_in(
    fd: &OwnedFd,
    limit: usize,
    keep: &dyn Fn(&[u8]) -> bool,
) -> io::Result<Vec<(String, FileType)>> {
    // getdents64 into a buffer on the stack: no allocation, no zeroing per directory.
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(fd, &mut buf);
    let mut entries = Vec::new();
    let mut seen = 0_usize;
    while let Some(entry) = dir.next() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        if seen >= limit {
            return Err(io::Error::other(format!(
                "more than {limit} entries: not read, since a partial list would read as the whole"
            )));
        }
        seen += 1;
        if keep(name) {
            entries.push((
                String::from_utf8_lossy(name).into_owned(),
                entry.file_type(),
            ));
        }
    }
    Ok(entries)
}

/// `O_NOFOLLOW` when the last component is not to be followed.
fn nofollow(follow_last: bool) -> OFlags {
    if follow_last {
        OFlags::empty()
    } else {
        OFlags::NOFOLLOW
    }
}

/// Splits `/a/b/c` into `/a/b` and `c`, and `/c` into an empty parent (the root) and `c`;
/// `None` when the last component is empty, `.` or `..` (resolved from the root instead).
fn split_last(path: &str) -> Option<(&str, &str)> {
    let (parent, last) = path.rsplit_once('/')?;
    (!last.is_empty() && last != "." && last != "..").then_some((parent, last))
}

fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let mut parts: Vec<OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_os_string()),
            Component::ParentDir => parts.push(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    pending.extend(parts.into_iter().rev());
}

/// Why [`Root::open_char_device`] did not open a node.
#[derive(Debug)]
pub(crate) enum DeviceOpenError {
    /// The lookup or the open failed.
    Io(io::Error),
    /// The path is something else than a character device (its type, from `stat`).
    NotChar(FileType),
    /// The file opened is not the node that was checked: it changed in between.
    Changed,
}

impl From<io::Error> for DeviceOpenError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<Errno> for DeviceOpenError {
    fn from(e: Errno) -> Self {
        Self::Io(e.into())
    }
}

/// The `/proc/self/fd` entry of `held` (an `O_PATH` descriptor from [`Root::open_node`]): a
/// path that leads to that very inode, whatever the path it was found by leads to now (and to
/// nothing where `/proc` is not mounted).
pub(crate) fn fd_entry(held: &OwnedFd) -> String {
    use std::os::fd::AsRawFd as _;
    format!("/proc/self/fd/{}", held.as_raw_fd())
}

/// The path the kernel gives the file `held` holds (its [`fd_entry`] link): `None` where
/// `/proc` is not mounted, where the file was unlinked (" (deleted)" follows its name), or
/// where the link is not a path (`pipe:[…]`, `anon_inode:…`).
fn kernel_name(held: &OwnedFd) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let name = rustix::fs::readlink(fd_entry(held).as_str(), Vec::new()).ok()?;
    let name = name.into_bytes();
    if !name.starts_with(b"/") || name.ends_with(b" (deleted)") {
        return None;
    }
    Some(PathBuf::from(OsString::from_vec(name)))
}

/// Opens the file `held` holds with `flags`, through its [`fd_entry`] (`NOENT` where `/proc`
/// is not mounted).
fn reopen(held: &OwnedFd, flags: OFlags) -> Result<OwnedFd, Errno> {
    rustix::fs::open(fd_entry(held).as_str(), flags, Mode::empty())
}

/// Opens a file of this machine for reading only if it is a regular file, its type checked
/// before it is opened: the path is held with `O_PATH` (which runs no driver's open and
/// cannot block), `fstat` refuses anything but a regular file, and the file held is opened
/// through its `/proc/self/fd` entry (`O_NONBLOCK`, `O_NOCTTY`). So a link where a library
/// belongs, in a directory others can write (`LD_LIBRARY_PATH`, a shared conda environment or
/// venv, a binary given to `check`), cannot make the probe open a watchdog (which starts its
/// timer when opened) or a tape (which rewinds), even where no Landlock ruleset keeps `/dev`
/// closed (kernels before 5.13, `--no-sandbox`, the library API). Where the reopen fails (no
/// `/proc`) the path is opened again and must be the same file. Used for the files that user
/// paths lead to (libraries, binaries, a Python environment's files); `--root` trees are read
/// through [`Root`].
///
/// Returns the file and its length, from the `fstat` of the open file.
///
/// # Errors
/// The lookup's or the open's error, `InvalidInput` when the path is not a regular file or the
/// file changed between the check and the open.
pub fn open_regular(path: &Path) -> io::Result<(std::fs::File, u64)> {
    let (fd, st) = open_checked(path, OFlags::empty())?;
    Ok((std::fs::File::from(fd), file_size(&st)))
}

/// Opens the regular file at host `path` as [`open_regular`] does, its type checked on an
/// `O_PATH` handle before it is opened, with `nofollow` (`O_NOFOLLOW` or nothing) applied to
/// the lookup: a capture copies a file its walk saw with `lstat`, never through a link.
/// Returns the descriptor and its `fstat`, whose device and inode are the file checked.
///
/// # Errors
/// The lookup's or the open's error, `InvalidInput` when the path is not a regular file or the
/// file changed between the check and the open.
pub(crate) fn open_checked(path: &Path, nofollow: OFlags) -> io::Result<(OwnedFd, Stat)> {
    let held = rustix::fs::open(
        path,
        OFlags::PATH | OFlags::CLOEXEC | nofollow,
        Mode::empty(),
    )?;
    let checked = rustix::fs::fstat(&held)?;
    regular_only(&checked)?;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    // A regular file may be opened a second time (a device may not: its first open may have
    // waited for its GPU): where the reopen fails (no `/proc`, a sandboxing kernel that does
    // not reopen through it), the path is opened again, and must give the file checked.
    let fd = match reopen(&held, flags) {
        Ok(fd) => fd,
        Err(_) => rustix::fs::open(path, flags | nofollow, Mode::empty())?,
    };
    let st = rustix::fs::fstat(&fd)?;
    if (st.st_dev, st.st_ino) != (checked.st_dev, checked.st_ino) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not the regular file checked: it changed",
        ));
    }
    Ok((fd, st))
}

/// The size `fstat` gave a file (never negative for a file that opened).
fn file_size(st: &Stat) -> u64 {
    u64::try_from(st.st_size).unwrap_or(0)
}

/// What a file type is called in an error.
fn kind_name(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "of an unknown type",
    }
}

/// Reads the whole regular file `name` (one path component) of the open directory `dir`, for
/// files that must be exactly that (a capture bundle's metadata): a symbolic link is not
/// followed, nothing else than a regular file is ever opened for reading (the entry is
/// opened `O_PATH` and checked with `fstat` first, so a FIFO cannot block and a device is
/// never opened), and a file over `limit` bytes is refused without being read.
///
/// # Errors
/// The open or read error (`NotFound` for a missing file), `InvalidInput` for a symbolic link
/// or anything else that is not a regular file, `InvalidData` for a file over `limit`.
pub fn read_regular_at(dir: BorrowedFd<'_>, name: &str, limit: u64) -> io::Result<Vec<u8>> {
    let refused = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
    let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let entry = rustix::fs::openat(dir, name, OFlags::PATH | flags, Mode::empty())?;
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&entry)?.st_mode);
    if kind == FileType::Symlink {
        return Err(refused("a symbolic link, not followed".to_owned()));
    }
    if kind != FileType::RegularFile {
        return Err(refused(format!(
            "not a regular file but {}",
            kind_name(kind)
        )));
    }
    // Open for reading the same name again: O_NONBLOCK and the second `fstat` hold should the
    // entry have been swapped for a FIFO or a link in between.
    let read_flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | flags;
    let fd = match rustix::fs::openat(dir, name, read_flags, Mode::empty()) {
        Err(Errno::LOOP) => return Err(refused("a symbolic link, not followed".to_owned())),
        other => other?,
    };
    let st = rustix::fs::fstat(&fd)?;
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind != FileType::RegularFile {
        return Err(refused(format!(
            "not a regular file but {}",
            kind_name(kind)
        )));
    }
    read_whole(fd.as_fd(), &st, limit)
}

/// A short, stable description of an I/O error for `sources[].detail`.
pub fn describe_error(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::NotFound => "not found".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> crate::testutil::Scratch {
        crate::testutil::Scratch::new(&format!("root-{name}"))
    }

    /// A sysfs PCI device with a `vendor` file, and its `/sys/bus/pci/devices` link to it
    /// with `target` (absolute or relative).
    fn sysfs_device(dir: &Path, target: &str) {
        fs::create_dir_all(dir.join("sys/devices/pci0000:00/0000:3b:00.0")).unwrap();
        fs::write(
            dir.join("sys/devices/pci0000:00/0000:3b:00.0/vendor"),
            "0x10de\n",
        )
        .unwrap();
        fs::create_dir_all(dir.join("sys/bus/pci/devices")).unwrap();
        symlink(target, dir.join("sys/bus/pci/devices/0000:3b:00.0")).unwrap();
    }

    #[test]
    fn root_absolute_symlink_stays_inside() {
        let dir = tmp("abs");
        sysfs_device(&dir, "/sys/devices/pci0000:00/0000:3b:00.0");
        let root = Root::at(&dir);
        let t = root
            .read_text("/sys/bus/pci/devices/0000:3b:00.0/vendor")
            .unwrap();
        assert_eq!(t.text, "0x10de\n");
        assert!(!t.truncated);
    }

    /// A root made with a copy of its files ([`Root::at_with_files`], the `nodev` copy in the
    /// binary) opens regular files through the copy and everything else through the directory
    /// as given: here the "copy" is another tree, so each answer shows where it came from. A
    /// copy that could not be made leaves every open on the directory, and says why.
    #[test]
    fn root_with_files_reads_files_through_the_copy_and_the_rest_as_given() {
        let given = tmp("given");
        let copy = tmp("copy");
        for (dir, text) in [(&given, "given\n"), (&copy, "copy\n")] {
            fs::create_dir_all(dir.join("etc/only-here")).unwrap();
            fs::write(dir.join("etc/version"), text).unwrap();
        }
        fs::create_dir(given.join("etc/given-dir")).unwrap();
        let root = Root::at_with_files(&given, |_| {
            Ok(rustix::fs::open(&*copy, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap())
        });
        assert_eq!(root.files_nodev(), Some(Ok(())));
        assert_eq!(root.read_text("/etc/version").unwrap().text, "copy\n");
        assert!(root.metadata("/etc/given-dir").unwrap().is_dir());
        assert_eq!(
            root.read_dir_names("/etc").unwrap(),
            ["given-dir", "only-here", "version"]
        );
        let refused = Root::at_with_files(&given, |_| Err(Errno::PERM));
        assert_eq!(refused.files_nodev(), Some(Err(Errno::PERM)));
        assert_eq!(refused.read_text("/etc/version").unwrap().text, "given\n");
        assert_eq!(Root::at(&given).files_nodev(), None);
        assert_eq!(Root::host().files_nodev(), None);
    }

    #[test]
    fn root_relative_symlink_and_dotdot_cannot_escape() {
        let dir = tmp("rel");
        fs::create_dir_all(dir.join("a")).unwrap();
        fs::write(dir.join("etc-file"), "inside\n").unwrap();
        // ../../../../etc-file from /a climbs past the root and must stop at it.
        symlink("../../../../etc-file", dir.join("a/link")).unwrap();
        let root = Root::at(&dir);
        assert_eq!(root.read_text("/a/link").unwrap().text, "inside\n");
        assert_eq!(
            root.resolve("/../../etc-file").unwrap(),
            dir.join("etc-file")
        );
    }

    /// Paths beneath a missing directory, and beneath a file, fail as the kernel would fail
    /// them, through either resolver; nothing is remembered from one access to the next.
    #[test]
    fn root_missing_parents_fail_like_the_kernel() {
        let dir = tmp("missing");
        fs::write(dir.join("file"), "x").unwrap();
        let errno = |r: io::Result<Text>| r.unwrap_err().raw_os_error();
        let enoent = Some(Errno::NOENT.raw_os_error());
        let enotdir = Some(Errno::NOTDIR.raw_os_error());
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            assert_eq!(errno(root.read_text("/usr/local/nvidia/a")), enoent);
            assert_eq!(errno(root.read_text("/usr/local/nvidia/b")), enoent);
            assert_eq!(errno(root.read_text("/usr/lib/x")), enoent);
            assert_eq!(errno(root.read_text("/usr")), enoent);
            assert_eq!(errno(root.read_text("/file/x")), enotdir);
            assert_eq!(errno(root.read_text("/file/x/y")), enotdir);
            assert_eq!(root.read_text("/file").unwrap().text, "x");
            // A `..` does not climb back out of what is missing, nor out of a file.
            assert_eq!(errno(root.read_text("/usr/../file")), enoent);
            assert_eq!(errno(root.read_text("/usr/lib/../../file")), enoent);
            assert_eq!(errno(root.read_text("/file/../file")), enotdir);
            assert_eq!(errno(root.read_text("/file/x/../../file")), enotdir);
            assert!(root.metadata("/usr/../file").is_err());
        }
        let root = Root::at(&dir);
        assert!(root.read_text("/usr/lib/x").is_err());
        fs::create_dir_all(dir.join("usr/lib")).unwrap();
        fs::write(dir.join("usr/lib/x"), "late\n").unwrap();
        // No cache: the same Root sees the directory that appeared.
        assert_eq!(root.read_text("/usr/lib/x").unwrap().text, "late\n");
        // "/usr/lib" missing says nothing about "/usr/libexec".
        let dir = tmp("missing-sibling");
        fs::create_dir_all(dir.join("usr/libexec")).unwrap();
        fs::write(dir.join("usr/libexec/y"), "y").unwrap();
        let root = Root::at(&dir);
        assert_eq!(errno(root.read_text("/usr/lib/x")), enoent);
        assert_eq!(root.read_text("/usr/libexec/y").unwrap().text, "y");
    }

    /// A library's bytes are read inside the root even when the path that named it has since
    /// come to lead out of it: the inventory names a file by the walk's answer, then a writer
    /// racing the run inside a bundle swaps a directory for a link to a host directory before
    /// the read. The read resolves the path again inside the root, as `RESOLVE_IN_ROOT` does
    /// (and the walk, where there is no `openat2`).
    #[test]
    fn root_elf_read_stays_inside_the_root() {
        use std::io::Read as _;
        let dir = tmp("elf-swap");
        let outside = tmp("elf-swap-host");
        fs::write(outside.join("libx.so.1"), "host\n").unwrap();
        // The host directory's absolute path, inside the root: where the link leads there.
        let mirror = dir.join(outside.strip_prefix("/").unwrap());
        fs::create_dir_all(&mirror).unwrap();
        fs::write(mirror.join("libx.so.1"), "root\n").unwrap();
        fs::create_dir_all(dir.join("usr/lib")).unwrap();
        fs::write(dir.join("usr/lib/libx.so.1"), "lib\n").unwrap();
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            let named = root.resolve("/usr/lib/libx.so.1").unwrap();
            assert_eq!(named, dir.join("usr/lib/libx.so.1"));
            fs::rename(dir.join("usr/lib"), dir.join("usr/lib.old")).unwrap();
            symlink(&*outside, dir.join("usr/lib")).unwrap();
            // What a read through the walk's host path would now get: the host's file.
            assert_eq!(fs::read_to_string(&named).unwrap(), "host\n");
            let (mut file, size) = root.open_elf("/usr/lib/libx.so.1").unwrap();
            let mut text = String::new();
            file.read_to_string(&mut text).unwrap();
            assert_eq!((text.as_str(), size), ("root\n", 5));
            fs::remove_file(dir.join("usr/lib")).unwrap();
            fs::rename(dir.join("usr/lib.old"), dir.join("usr/lib")).unwrap();
        }
    }

    /// A device is opened only when the lookup inside the root found one, and then that very
    /// node: a regular file or a FIFO is never opened (a FIFO would block a read-only open), a
    /// link out of the root is not followed out, and a root at `/` opens `/dev/null` as the
    /// host does.
    #[test]
    fn root_char_device_is_the_node_found_inside_the_root() {
        let is_null = |fd: &OwnedFd| {
            let st = rustix::fs::fstat(fd).unwrap();
            (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev)) == (1, 3)
        };
        for root in [Root::host(), Root::at("/"), Root::at("/").without_openat2()] {
            let fd = root
                .open_char_device("/dev/null", OFlags::RDONLY)
                .unwrap_or_else(|e| panic!("{:?}: {e:?}", root.base()));
            assert!(is_null(&fd));
        }
        let dir = tmp("chardev");
        fs::create_dir_all(dir.join("dev")).unwrap();
        fs::write(dir.join("dev/nvidiactl"), "type=char\n").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dir.join("dev/nvidia0").as_path(),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Links that lead to the host's `/dev/null` when followed outside the root.
        symlink("/dev/null", dir.join("dev/nvidia1")).unwrap();
        symlink("../../../../../../../../dev/null", dir.join("dev/nvidia2")).unwrap();
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            let open = |p: &str| root.open_char_device(p, OFlags::RDONLY);
            assert!(matches!(
                open("/dev/nvidiactl"),
                Err(DeviceOpenError::NotChar(FileType::RegularFile))
            ));
            assert!(matches!(
                open("/dev/nvidia0"),
                Err(DeviceOpenError::NotChar(FileType::Fifo))
            ));
            for link in ["/dev/nvidia1", "/dev/nvidia2"] {
                match open(link) {
                    Err(DeviceOpenError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
                    other => panic!("{link}: {other:?}"),
                }
            }
        }
        // On the host a FIFO is not opened either.
        let fifo = dir.join("dev/nvidia0");
        let fifo = fifo.to_str().unwrap();
        assert!(matches!(
            Root::host().open_char_device(fifo, OFlags::RDONLY),
            Err(DeviceOpenError::NotChar(FileType::Fifo))
        ));
    }

    #[test]
    fn root_symlink_loop_is_an_error_not_a_hang() {
        let dir = tmp("loop");
        symlink("/b", dir.join("a")).unwrap();
        symlink("/a", dir.join("b")).unwrap();
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            let err = root.read_text("/a").unwrap_err();
            // The kernel's ELOOP, whose text is the C library's ("Too many levels of symbolic
            // links" in glibc, "Symbolic link loop" in musl, which the binary uses), or the
            // walk's own error.
            let eloop = err.raw_os_error() == Some(Errno::LOOP.raw_os_error());
            assert!(eloop || err.to_string().contains("symbolic links"), "{err}");
        }
    }

    /// Both resolvers (the kernel's `openat2(RESOLVE_IN_ROOT)` and the user-space walk)
    /// give the same answers for links in the middle and at the end of a path, absolute and
    /// relative, escaping with `..`, dangling, looping, and for every kind of access.
    #[test]
    fn root_kernel_and_walk_resolve_alike() {
        let dir = tmp("alike");
        sysfs_device(&dir, "../../../devices/pci0000:00/0000:3b:00.0");
        symlink(
            "/sys/devices/pci0000:00/0000:3b:00.0/vendor",
            dir.join("abs"),
        )
        .unwrap();
        symlink("../../../../sys/devices/pci0000:00", dir.join("sys/up")).unwrap();
        symlink("/nowhere", dir.join("dangling")).unwrap();
        symlink("/b", dir.join("a")).unwrap();
        symlink("/a", dir.join("b")).unwrap();
        fs::write(dir.join("outside-check"), "inside\n").unwrap();
        symlink("/../../outside-check", dir.join("climb")).unwrap();
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            let read = |p: &str| root.read_text(p).map(|t| t.text).map_err(|e| e.kind());
            assert_eq!(
                read("/sys/bus/pci/devices/0000:3b:00.0/vendor"),
                Ok("0x10de\n".into())
            );
            assert_eq!(read("/abs"), Ok("0x10de\n".into()));
            assert_eq!(read("/sys/up/0000:3b:00.0/vendor"), Ok("0x10de\n".into()));
            assert_eq!(read("/climb"), Ok("inside\n".into()));
            assert_eq!(read("/dangling"), Err(io::ErrorKind::NotFound));
            assert!(root.read_text("/a").is_err());
            assert!(root.metadata("/abs").unwrap().is_file());
            assert!(root.symlink_metadata("/abs").unwrap().is_symlink());
            assert!(
                root.metadata("/sys/bus/pci/devices/0000:3b:00.0")
                    .unwrap()
                    .is_dir()
            );
            assert!(!root.exists("/dangling"));
            assert!(root.symlink_metadata("/dangling").is_ok());
            assert_eq!(
                root.read_link("/sys/bus/pci/devices/0000:3b:00.0").unwrap(),
                PathBuf::from("../../../devices/pci0000:00/0000:3b:00.0")
            );
            assert_eq!(
                root.read_link("/sys/devices/pci0000:00/0000:3b:00.0/vendor")
                    .unwrap_err()
                    .kind(),
                io::ErrorKind::InvalidInput
            );
            assert_eq!(
                root.read_dir_names("/sys/up").unwrap(),
                vec!["0000:3b:00.0"]
            );
            assert_eq!(
                root.resolve("/sys/bus/pci/devices/0000:3b:00.0/vendor")
                    .unwrap(),
                dir.join("sys/devices/pci0000:00/0000:3b:00.0/vendor")
            );
        }
    }

    /// The kernel's names for files (`/proc/self/fd`) give what the walk gives: for a root
    /// named as given (a symlink to it, `..` in its path), links relative, absolute, climbing
    /// out and chained, the last one followed or not, and paths that do not resolve.
    #[test]
    fn root_kernel_names_match_the_walk() {
        let dir = tmp("names");
        sysfs_device(&dir, "../../../devices/pci0000:00/0000:3b:00.0");
        fs::create_dir_all(dir.join("usr/local/cuda-13.0/targets/lib")).unwrap();
        fs::write(dir.join("usr/local/cuda-13.0/targets/lib/libx.so.1.2"), "x").unwrap();
        symlink(
            "libx.so.1.2",
            dir.join("usr/local/cuda-13.0/targets/lib/libx.so.1"),
        )
        .unwrap();
        symlink(
            "libx.so.1",
            dir.join("usr/local/cuda-13.0/targets/lib/libx.so"),
        )
        .unwrap();
        symlink("targets/lib", dir.join("usr/local/cuda-13.0/lib64")).unwrap();
        fs::create_dir_all(dir.join("etc/alternatives")).unwrap();
        symlink("/usr/local/cuda-13.0", dir.join("etc/alternatives/cuda")).unwrap();
        symlink("/etc/alternatives/cuda", dir.join("usr/local/cuda")).unwrap();
        symlink(
            "../../../../../usr/local/cuda",
            dir.join("etc/alternatives/up"),
        )
        .unwrap();
        symlink("/nowhere", dir.join("dangling")).unwrap();
        let via = dir.with_file_name(format!(
            "{}-via",
            dir.file_name().unwrap().to_str().unwrap()
        ));
        let _ = fs::remove_file(&via);
        symlink(&*dir, &via).unwrap();
        let paths = [
            "/",
            "/usr/local/cuda/lib64",
            "/usr/local/cuda/lib64/libx.so",
            "/usr/local/cuda/lib64/libx.so.1.2",
            "/etc/alternatives/up/lib64/../lib64/libx.so.1",
            "/sys/bus/pci/devices/0000:3b:00.0/vendor",
            "/dangling",
            "/usr/local/cuda/lib64/missing/../libx.so",
            "/usr/local/cuda/lib64/libx.so.1.2/..",
        ];
        for base in [dir.to_path_buf(), via.clone(), dir.join("sys/..")] {
            let kernel = Root::at(&base);
            let walk = Root::at(&base).without_openat2();
            for p in paths {
                assert_eq!(
                    kernel.resolve(p).ok(),
                    walk.resolve(p).ok(),
                    "{p} in {base:?}"
                );
                assert_eq!(
                    kernel.resolve_nofollow(p).ok(),
                    walk.resolve_nofollow(p).ok(),
                    "{p} in {base:?}"
                );
                let found = kernel.metadata_and_path(p).ok();
                assert_eq!(
                    found.as_ref().map(|(m, _)| m.identity()),
                    walk.metadata(p).ok().map(|m| m.identity()),
                    "{p} in {base:?}"
                );
                // The walk's root has no kernel names: its caller resolves instead.
                assert!(walk.metadata_and_path(p).map_or(true, |(_, n)| n.is_none()));
                if let Some((_, named)) = found {
                    assert_eq!(named, walk.resolve(p).ok(), "{p} in {base:?}");
                }
            }
            assert_eq!(
                kernel.resolve("/usr/local/cuda/lib64/libx.so").unwrap(),
                base.join("usr/local/cuda-13.0/targets/lib/libx.so.1.2")
            );
            assert_eq!(kernel.resolve("/").unwrap(), base);
        }
        // On the host, the kernel's name is realpath's.
        let host = Root::host();
        let lib = via.join("usr/local/cuda-13.0/lib64/libx.so");
        let (_, named) = host.metadata_and_path(lib.to_str().unwrap()).unwrap();
        assert_eq!(named.unwrap(), fs::canonicalize(&lib).unwrap());
        fs::remove_file(&via).unwrap();
    }

    /// Every fixture gives the same report, with and without `--deep`, whether the kernel
    /// resolves paths (`openat2(RESOLVE_IN_ROOT)`) or the user-space walk does, as on kernels
    /// before 5.6 and sandboxes without `openat2` (`ENOSYS`, or `EPERM` from a seccomp
    /// profile).
    #[test]
    fn root_fixture_reports_do_not_depend_on_openat2() {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
        let mut n = 0;
        for entry in fs::read_dir(&fixtures).unwrap() {
            let dir = entry.unwrap().path();
            for deep in [false, true] {
                let report = |root: Root| {
                    let mut opts = crate::Options::new(root);
                    opts.deep = deep;
                    crate::probe(&opts).to_json()
                };
                assert_eq!(
                    report(Root::at(&dir)),
                    report(Root::at(&dir).without_openat2()),
                    "{} deep={deep}",
                    dir.display()
                );
            }
            n += 1;
        }
        assert!(n > 20, "{n} fixtures");
    }

    /// Pieces are whole lines (but for a line longer than the buffer), they add up to the
    /// file, and the limit cuts it.
    #[test]
    fn root_read_lines_chunked() {
        use std::fmt::Write as _;
        let dir = tmp("chunks");
        let mut text = String::new();
        for i in 0..20_000 {
            let _ = writeln!(text, "line {i} {}", "x".repeat(i % 50));
        }
        text.push_str(&"y".repeat(150_000));
        text.push_str("\nlast without newline");
        fs::write(dir.join("big"), &text).unwrap();
        let root = Root::at(&dir);
        let mut got = String::new();
        let (mut pieces, mut partial) = (0, 0);
        let cut = root
            .read_lines_chunked("/big", u64::MAX, |p| {
                pieces += 1;
                partial += usize::from(!p.ends_with('\n'));
                got.push_str(p);
            })
            .unwrap();
        assert!(!cut);
        assert_eq!(got, text);
        assert!(pieces > 10, "{pieces}");
        // The 150,000-byte line comes in buffer-sized parts; the last line has no newline.
        assert!(partial <= 4, "{partial} pieces end mid-line");
        let mut got = String::new();
        let cut = root
            .read_lines_chunked("/big", 100_000, |p| got.push_str(p))
            .unwrap();
        assert!(cut);
        assert_eq!(got, text[..100_000]);
        let exact = text.len() as u64;
        assert!(!root.read_lines_chunked("/big", exact, |_| {}).unwrap());
        fs::write(dir.join("bad"), b"ok\n\xff\xfe\n").unwrap();
        let mut got = String::new();
        assert!(
            !root
                .read_lines_chunked("/bad", 1 << 20, |p| got.push_str(p))
                .unwrap()
        );
        assert_eq!(got, "ok\n\u{fffd}\u{fffd}\n");
        assert_eq!(
            root.read_lines_chunked("/", 10, |_| {}).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn root_read_is_bounded() {
        let dir = tmp("big");
        fs::write(dir.join("big"), vec![b'x'; 10_000]).unwrap();
        let root = Root::at(&dir);
        let t = root.read_text_limited("/big", 100).unwrap();
        assert_eq!(t.text.len(), 100);
        assert!(t.truncated);
    }

    #[test]
    fn root_recorder_notes_every_path_touched() {
        let dir = tmp("rec");
        fs::create_dir_all(dir.join("d")).unwrap();
        fs::write(dir.join("d/f"), "x").unwrap();
        symlink("/d/f", dir.join("l")).unwrap();
        let rec = Recorder::new();
        let root = Root::at(&dir).with_recorder(rec.clone());
        let clone = root.clone();
        root.read_text("/l").unwrap();
        clone.read_dir_names("/d").unwrap();
        let _ = root.read_link("/l");
        let _ = root.exists("/missing");
        let seen = rec.snapshot();
        let get = |p: &str| seen.iter().find(|(q, _)| q == p).map(|(_, a)| *a);
        assert!(get("/l").is_some_and(|a| a.follow && a.nofollow && !a.listed));
        assert!(get("/d").is_some_and(|a| a.listed));
        assert!(get("/missing").is_some_and(|a| a.follow));
        assert!(Root::at(&dir).recorder().is_none());
    }

    #[test]
    fn root_recorder_notes_the_ranges_of_positioned_reads() {
        let mut r = Ranges::new();
        for (s, e) in [
            (10, 20),
            (30, 40),
            (20, 25),
            (0, 5),
            (5, 5),
            (38, 50),
            (60, 70),
        ] {
            add_range(&mut r, s, e);
        }
        let got: Vec<(u64, u64)> = r.into_iter().collect();
        assert_eq!(got, [(0, 5), (10, 25), (30, 50), (60, 70)]);
        let mut r = Ranges::new();
        add_range(&mut r, 10, 20);
        add_range(&mut r, 30, 40);
        add_range(&mut r, 0, 100);
        assert_eq!(r.into_iter().collect::<Vec<_>>(), [(0, 100)]);

        let dir = tmp("ranges");
        fs::write(dir.join("db"), vec![7_u8; 10_000]).unwrap();
        let rec = Recorder::new();
        let root = Root::at(&dir).with_recorder(rec.clone());
        let f = root.open_for_reads("/db").unwrap();
        assert_eq!(f.size(), 10_000);
        let mut buf = [0_u8; 4096];
        assert!(f.read_at(4096, &mut buf));
        assert!(f.read_at(0, &mut buf[..100]));
        assert!(f.read_at(0, &mut buf));
        // Past the end: refused, noted only up to the end.
        assert!(!f.read_at(8192, &mut buf));
        assert!(!f.read_at(u64::MAX, &mut buf));
        let ranges = rec.ranges();
        let got: Vec<(u64, u64)> = ranges["/db"].iter().map(|(s, e)| (*s, *e)).collect();
        assert_eq!(got, [(0, 10_000)]);
        let seen = rec.snapshot();
        let a = seen.iter().find(|(p, _)| p == "/db").unwrap().1;
        assert!(a.positioned && a.follow && !a.read);
        // Without a recorder nothing is noted.
        let f = Root::at(&dir).open_for_reads("/db").unwrap();
        assert!(f.read_at(0, &mut buf));
    }

    // See: issue 10
    #[test]
    fn r10_fifo_is_refused_without_blocking() {
        let dir = tmp("fifo");
        let fifo = dir.join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: no mkfifo");
            return;
        }
        // A plain open(2) of a FIFO waits for a writer; this returns at once.
        let err = open_regular(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let root = Root::at(&dir);
        assert_eq!(
            root.read_text("/fifo").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// A link where a library belongs, to a device node (a watchdog, in the attack): the
    /// host's file opens ([`open_regular`], [`Root::open_elf`]) check the type before they
    /// open, so the node's driver never runs (inotify sees no open), where a plain open runs
    /// it. A regular file behind a link still reads. Needs `CAP_MKNOD`; says "skipped" without.
    #[test]
    fn host_file_opens_check_the_type_before_the_open() {
        use crate::testutil::{make_char_node, opens_of};
        let dir = tmp("host-node");
        let node = dir.join("node");
        if !make_char_node(&node, 1, 3) {
            eprintln!("skipped: mknod is not allowed here (no CAP_MKNOD)");
            return;
        }
        let link = dir.join("libcuda.so.1");
        symlink(&node, &link).unwrap();
        let kind = |r: io::Result<(std::fs::File, u64)>| r.unwrap_err().kind();
        let host = Root::host();
        let (opened, kinds) = opens_of(&node, || {
            let elf = host.open_elf(link.to_str().unwrap());
            (kind(open_regular(&link)), kind(elf))
        });
        let invalid = io::ErrorKind::InvalidInput;
        assert_eq!(kinds, (invalid, invalid));
        assert_eq!(opened, 0, "a host open ran the node's driver");
        let (opened, _) = opens_of(&node, || std::fs::File::open(&link).unwrap());
        assert_eq!(opened, 1, "the watch sees a plain open");
        fs::write(dir.join("lib"), "ELF").unwrap();
        symlink(dir.join("lib"), dir.join("lib.so")).unwrap();
        let (file, len) = open_regular(&dir.join("lib.so")).unwrap();
        assert_eq!((file.metadata().unwrap().len(), len), (3, 3));
        let (_, len) = host.open_elf(dir.join("lib.so").to_str().unwrap()).unwrap();
        assert_eq!(len, 3);
    }

    // See: issue 18
    #[test]
    fn r18_read_regular_at_refuses_links_fifos_devices_and_big_files() {
        let dir = tmp("at");
        fs::write(dir.join("ok"), "{}\n").unwrap();
        symlink("ok", dir.join("link")).unwrap();
        symlink("/dev/zero", dir.join("zero")).unwrap();
        fs::create_dir(dir.join("d")).unwrap();
        fs::write(dir.join("big"), vec![b' '; 101]).unwrap();
        let fd = rustix::fs::open(&*dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let read = |name: &str| read_regular_at(fd.as_fd(), name, 100);
        let refused = |name: &str| read(name).unwrap_err().to_string();
        assert_eq!(read("ok").unwrap(), b"{}\n");
        assert_eq!(read("missing").unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(refused("link"), "a symbolic link, not followed");
        assert_eq!(refused("zero"), "a symbolic link, not followed");
        assert_eq!(refused("d"), "not a regular file but a directory");
        assert_eq!(refused("big"), "101 bytes, over the 100-byte limit");
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .is_ok_and(|s| s.success());
        if made {
            assert_eq!(refused("fifo"), "not a regular file but a FIFO");
        }
    }

    #[test]
    fn root_directory_is_not_read_as_text() {
        let dir = tmp("dir");
        fs::create_dir_all(dir.join("d")).unwrap();
        let root = Root::at(&dir);
        assert_eq!(
            root.read_text("/d").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    /// A directory reached by a second name (a symlink) is opened but not listed again; a
    /// missing one fails as the listing would; a file is not a directory. The walk gives the
    /// same answers as `openat2`.
    #[test]
    fn root_read_dir_names_unless_lists_each_directory_once() {
        let dir = tmp("unless");
        fs::create_dir_all(dir.join("usr/local/cuda-13.0/lib64")).unwrap();
        fs::write(dir.join("usr/local/cuda-13.0/lib64/libcudart.so.13"), b"").unwrap();
        std::os::unix::fs::symlink("cuda-13.0", dir.join("usr/local/cuda")).unwrap();
        fs::write(dir.join("usr/local/file"), b"").unwrap();
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            let mut listed = std::collections::HashSet::new();
            let mut list =
                |path: &str| root.read_dir_names_unless(path, |id| !listed.insert(id), &|_| true);
            assert_eq!(
                list("/usr/local/cuda-13.0/lib64").unwrap(),
                Some(vec!["libcudart.so.13".to_owned()])
            );
            assert_eq!(list("/usr/local/cuda/lib64").unwrap(), None);
            assert_eq!(
                list("/usr/local/cuda-12/lib64").unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            assert_eq!(
                rustix::io::Errno::from_io_error(&list("/usr/local/file").unwrap_err()),
                Some(rustix::io::Errno::NOTDIR)
            );
        }
    }

    /// A listing that keeps some names: the others are not returned, the kept ones are
    /// sorted, and the limit counts every entry (a partial list must not read as the whole).
    #[test]
    fn root_read_dir_names_where_keeps_some_and_counts_all() {
        let dir = tmp("where");
        fs::create_dir_all(dir.join("dev")).unwrap();
        for name in ["nvidia1", "null", "nvidiactl", "tty0", "nvidia0", "zero"] {
            fs::write(dir.join("dev").join(name), b"").unwrap();
        }
        let nvidia: &dyn Fn(&[u8]) -> bool = &|n| n.starts_with(b"nvidia");
        for root in [Root::at(&dir), Root::at(&dir).without_openat2()] {
            assert_eq!(
                root.read_dir_names_where("/dev", 6, nvidia).unwrap(),
                ["nvidia0", "nvidia1", "nvidiactl"]
            );
            assert!(root.read_dir_names_where("/dev", 5, nvidia).is_err());
            assert_eq!(root.read_dir_names_limited("/dev", 6).unwrap().len(), 6);
        }
    }
}
