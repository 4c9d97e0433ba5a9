//! Helpers shared by the binary tests: fixture paths, a hermetic `nvprobe` command, and the
//! finding codes of a JSON report.
#![allow(
    dead_code,
    reason = "each test binary compiles this module and uses part of it"
)]

mod nodes;
pub(crate) mod rpmdb;
mod scratch;

#[allow(unused_imports, reason = "each test binary uses part of this module")]
pub(crate) use nodes::{make_char_node, opens_of};
pub(crate) use scratch::Scratch;

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

/// Runs `script` with `sh` in a private mount namespace (`unshare -m`), with `$0` the real
/// `nvprobe` binary and `$1` `arg`, and the environment of [`nvprobe_command`]: the script sets
/// up its mounts and then `exec`s the probe. `Err` where `unshare` is missing; an empty stdout
/// where it did not run (no `CAP_SYS_ADMIN`).
pub(crate) fn nvprobe_in_private_mounts(script: &str, arg: &str) -> std::io::Result<Output> {
    Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .arg(env!("CARGO_BIN_EXE_nvprobe"))
        .arg(arg)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
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
