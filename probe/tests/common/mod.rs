//! Helpers shared by the binary tests: fixture paths, a hermetic `nvprobe` command, and the
//! finding codes of a JSON report.
#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses part of it"
)]

pub(crate) mod rpmdb;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `tests/fixtures`: the fixture machines.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// Copies the tree `from` into `to` (created): directories, files, and symlinks as links with
/// the same target text (sysfs-style links stay links).
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// A fresh, empty scratch directory for one test: `<tmp>/nvprobe-<suite>-<name>-<pid>-<n>`,
/// removed when dropped.
pub(crate) fn scratch_dir(suite: &str, name: &str) -> Scratch {
    Scratch::new(&format!("{suite}-{name}"))
}

/// A path for one test under a fresh directory `<tmp>/nvprobe-<name>-<pid>-<n>`, which is
/// removed with everything in it when this is dropped, so a test leaves nothing behind, passed
/// or failed (a panic unwinds through the drop). It reads as the `Path` it is. (The library's
/// unit tests have the same type in `testutil`, which a test binary cannot reach.)
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

/// One fixture machine's root.
pub(crate) fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The real `nvprobe` binary with an empty environment but for a fixed `PATH`: nothing from
/// the machine running the tests (`NVPROBE_*` overrides, `NVIDIA_*` container variables,
/// `LD_LIBRARY_PATH`, `CUDA_HOME`, a virtualenv) can leak into a result. Tests add what they
/// mean to test with `.env()`.
pub(crate) fn nvprobe_command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nvprobe"));
    c.env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin");
    c
}

/// Runs [`nvprobe_command`] with `args` and waits for it.
pub(crate) fn nvprobe(args: &[&str]) -> Output {
    nvprobe_env(args, &[])
}

/// Runs [`nvprobe_command`] with `args` and the environment variables `env`.
pub(crate) fn nvprobe_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    nvprobe_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run nvprobe")
}

/// The finding codes of a report, in order.
pub(crate) fn codes(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_owned())
        .collect()
}
