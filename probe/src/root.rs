//! The filesystem the probe reads, rooted at `/` or at a fixture directory (`--root DIR`).
//!
//! Under a fixture root every absolute path is resolved inside the root like a chroot: an
//! absolute symlink target is taken relative to the root, and `..` never climbs above it. The
//! walk is done component by component here, so the kernel's own resolution (which would
//! escape the root) is never used for links. On the host root paths are used as they are.
//!
//! All reads are bounded: a file is read up to a byte limit and must be a regular file, so a
//! FIFO or a device where a text file is expected cannot block or stream forever.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// At most this many resolved directories are remembered per root.
const DIR_CACHE_LIMIT: usize = 4096;

/// At most this many symlinks are followed while resolving one path (Linux uses 40 too).
const MAX_LINK_HOPS: usize = 40;

/// The default byte limit for procfs/sysfs/etc text files.
pub const TEXT_LIMIT: u64 = 64 * 1024;

/// At most this many directory entries are read from one directory.
pub const DIR_LIMIT: usize = 4096;

/// Where the probe reads the machine from.
#[derive(Clone, Debug)]
pub struct Root {
    base: PathBuf,
    host: bool,
    /// Resolved parent directories of a fixture root, by their absolute path in the root.
    dirs: Arc<Mutex<HashMap<String, PathBuf>>>,
    /// `nvprobe capture`: every path resolved or listed through this root is noted here.
    recorder: Option<Recorder>,
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
}

/// The set of absolute machine paths a run touched, shared by every clone of a [`Root`] made
/// with [`Root::with_recorder`] (`nvprobe capture` copies them into a bundle).
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    paths: Arc<Mutex<BTreeMap<String, Access>>>,
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
}

/// A text file's content, with a flag for content cut at the byte limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    /// The content, with invalid UTF-8 replaced.
    pub text: String,
    /// True when the file was longer than the limit and was cut.
    pub truncated: bool,
}

impl Root {
    /// The machine the probe runs on.
    pub fn host() -> Self {
        Self {
            base: PathBuf::from("/"),
            host: true,
            dirs: Arc::default(),
            recorder: None,
        }
    }

    /// A fixture or capture directory standing for a machine's `/`.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            base: dir.into(),
            host: false,
            dirs: Arc::default(),
            recorder: None,
        }
    }

    /// The same root, noting every path resolved or listed through it (and its clones) in
    /// `recorder`.
    #[must_use]
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.recorder = Some(recorder);
        self
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

    /// Resolves an absolute path, following symlinks inside the root (the last component too).
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        self.resolve_inner(path, true)
    }

    /// Resolves an absolute path, following symlinks inside the root except in the last
    /// component, so the result names the link itself when the path ends in one.
    pub fn resolve_nofollow(&self, path: &str) -> io::Result<PathBuf> {
        self.resolve_inner(path, false)
    }

    fn resolve_inner(&self, path: &str, follow_last: bool) -> io::Result<PathBuf> {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| {
                if follow_last {
                    a.follow = true;
                } else {
                    a.nofollow = true;
                }
            });
        }
        if self.host {
            return Ok(PathBuf::from(path));
        }
        // Resolve the parent directory once per run (a sysfs device directory is read attribute
        // after attribute), then walk the last component from it.
        if let Some((parent, last)) = path.rsplit_once('/')
            && !last.is_empty()
            && last != "."
            && last != ".."
        {
            let cached = self
                .dirs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(parent)
                .cloned();
            let parent_real = if let Some(p) = cached {
                p
            } else {
                let mut pending = Vec::new();
                push_components(&mut pending, Path::new(parent));
                let real = self.walk(self.base.clone(), pending, true, path)?;
                let mut dirs = self.dirs.lock().unwrap_or_else(PoisonError::into_inner);
                if dirs.len() < DIR_CACHE_LIMIT {
                    dirs.insert(parent.to_owned(), real.clone());
                }
                real
            };
            return self.walk(parent_real, vec![OsString::from(last)], follow_last, path);
        }
        let mut pending = Vec::new();
        push_components(&mut pending, Path::new(path));
        self.walk(self.base.clone(), pending, follow_last, path)
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
            let Ok(meta) = fs::symlink_metadata(&here) else {
                // Missing: the caller's open reports it; nothing more to resolve.
                continue;
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            hops += 1;
            if hops > MAX_LINK_HOPS {
                return Err(io::Error::other(format!(
                    "too many levels of symbolic links resolving {path}"
                )));
            }
            let target = fs::read_link(&here)?;
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

    /// `stat` through symlinks.
    pub fn metadata(&self, path: &str) -> io::Result<Metadata> {
        fs::metadata(self.resolve(path)?)
    }

    /// `lstat`: the entry itself, a symlink not followed.
    pub fn symlink_metadata(&self, path: &str) -> io::Result<Metadata> {
        fs::symlink_metadata(self.resolve_nofollow(path)?)
    }

    /// True when the path exists (through symlinks).
    pub fn exists(&self, path: &str) -> bool {
        self.metadata(path).is_ok()
    }

    /// The raw target of a symlink.
    pub fn read_link(&self, path: &str) -> io::Result<PathBuf> {
        fs::read_link(self.resolve_nofollow(path)?)
    }

    /// Reads a regular text file up to `limit` bytes.
    ///
    /// # Errors
    /// The open or read error, or `InvalidInput` when the path is not a regular file.
    pub fn read_text_limited(&self, path: &str, limit: u64) -> io::Result<Text> {
        let real = self.resolve(path)?;
        let meta = fs::metadata(&real)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        // Not `File::open`: the node may have been swapped for a FIFO since the `stat`.
        let file = open_regular(&real)?;
        let mut buf = Vec::new();
        file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
        let truncated = buf.len() as u64 > limit;
        if truncated {
            buf.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(Text {
            text: String::from_utf8_lossy(&buf).into_owned(),
            truncated,
        })
    }

    /// Reads a regular text file up to [`TEXT_LIMIT`] bytes.
    pub fn read_text(&self, path: &str) -> io::Result<Text> {
        self.read_text_limited(path, TEXT_LIMIT)
    }

    /// The names in a directory, sorted, at most [`DIR_LIMIT`] of them.
    pub fn read_dir_names(&self, path: &str) -> io::Result<Vec<String>> {
        if let Some(rec) = &self.recorder {
            rec.note(path, |a| a.listed = true);
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(self.resolve(path)?)?.take(DIR_LIMIT) {
            let entry = entry?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }
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

/// Opens a file for reading only if it is a regular file, without ever blocking in `open(2)`:
/// `O_NONBLOCK` (a FIFO where a file belongs opens at once instead of waiting for a writer;
/// on a regular file the flag changes nothing), then `fstat` on the open file, so a node
/// swapped in after a `stat` is caught too. Every read of a file that could be a FIFO or a
/// device (`--root` trees, `/etc/ld.so.cache`, libraries, binaries) goes through here.
///
/// # Errors
/// The open error, or `InvalidInput` when the path is not a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
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
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("nvprobe-root-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn root_absolute_symlink_stays_inside() {
        let dir = tmp("abs");
        fs::create_dir_all(dir.join("sys/devices/pci0000:00/0000:3b:00.0")).unwrap();
        fs::write(
            dir.join("sys/devices/pci0000:00/0000:3b:00.0/vendor"),
            "0x10de\n",
        )
        .unwrap();
        fs::create_dir_all(dir.join("sys/bus/pci/devices")).unwrap();
        symlink(
            "/sys/devices/pci0000:00/0000:3b:00.0",
            dir.join("sys/bus/pci/devices/0000:3b:00.0"),
        )
        .unwrap();
        let root = Root::at(&dir);
        let t = root
            .read_text("/sys/bus/pci/devices/0000:3b:00.0/vendor")
            .unwrap();
        assert_eq!(t.text, "0x10de\n");
        assert!(!t.truncated);
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

    #[test]
    fn root_symlink_loop_is_an_error_not_a_hang() {
        let dir = tmp("loop");
        symlink("/b", dir.join("a")).unwrap();
        symlink("/a", dir.join("b")).unwrap();
        let root = Root::at(&dir);
        let err = root.read_text("/a").unwrap_err();
        assert!(err.to_string().contains("symbolic links"), "{err}");
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
}
