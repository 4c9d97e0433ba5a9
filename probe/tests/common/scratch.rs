//! A scratch directory for one test, removed when dropped. One file for the binary tests
//! (`tests/common`) and the library's unit tests (`testutil`, through `#[path]`): a test
//! binary cannot reach the library's test module.

use std::path::{Path, PathBuf};

/// A path for one test under a fresh directory `<tmp>/nvprobe-<name>-<pid>-<n>`, which is
/// removed with everything in it when this is dropped, so a test leaves nothing behind, passed
/// or failed (a panic unwinds through the drop). It reads as the `Path` it is.
pub(crate) struct Scratch {
    /// The directory created, and removed on drop.
    dir: PathBuf,
    /// What the test uses: `dir` itself, or a path in it that does not exist yet.
    path: PathBuf,
}

impl Scratch {
    /// An empty directory.
    pub(crate) fn new(name: &str) -> Self {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nvprobe-{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            path: dir.clone(),
            dir,
        }
    }

    /// A path that does not exist yet, for what the test creates there (`capture --out`).
    pub(crate) fn absent(name: &str) -> Self {
        let mut s = Self::new(name);
        s.path = s.dir.join(name);
        s
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<std::ffi::OsStr> for Scratch {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path.as_os_str()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
