//! Issue 18: loading a capture bundle never hangs and never reads without bound. The bundle's
//! metadata (`.nvprobe/capture.json`, `.nvprobe/ioctl.json`) is read before the deadline
//! watchdog starts, so a FIFO there used to block the run forever and a symlink to
//! `/dev/zero` used to read until memory ran out. Each run here goes through a guard that kills
//! it after [`GUARD`] (a regression fails instead of hanging the suite) under an address-space
//! limit of [`MEMORY_LIMIT_KIB`] (a regression fails instead of eating the machine's memory).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{copy_tree, fixture};

/// A run that takes longer than this is a hang (the runs here take well under a second).
const GUARD: Duration = Duration::from_secs(20);

/// The address space a run may use: far more than a replay needs (tens of MiB), far less than
/// reading `/dev/zero` or a 1 GiB file into memory takes.
const MEMORY_LIMIT_KIB: u32 = 1024 * 1024;

/// A path that does not exist yet, in a scratch directory removed when it is dropped.
fn scratch(name: &str) -> common::Scratch {
    common::Scratch::absent(&format!("replay-{name}"))
}

/// Runs the binary with `args` (empty environment but `PATH`, as `common::nvprobe_command`)
/// under the memory limit, killed after [`GUARD`].
fn nvprobe_guarded(args: &[&str]) -> (Output, Duration) {
    let start = Instant::now();
    let child = Command::new("sh")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_nvprobe"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nvprobe");
    // `exec`: the shell's process is nvprobe's.
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Ok(out) = rx.recv_timeout(GUARD) {
        (out.expect("wait for nvprobe"), start.elapsed())
    } else {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        panic!("nvprobe {args:?} still running after {GUARD:?}: it hangs");
    }
}

/// A run kept the contract: exit 0 or 1, no panic, one JSON report, in reasonable time.
fn report_of(what: &str, out: &Output, took: Duration) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: {:?} {stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(took < Duration::from_secs(10), "{what}: took {took:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn source<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// A copy of the gVisor capture fixture (a bundle with both metadata files and an ioctl log).
fn bundle(name: &str) -> common::Scratch {
    let dir = scratch(name);
    copy_tree(&fixture("gvisor-h100"), &dir);
    dir
}

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn sparse(path: &Path, len: u64) {
    let f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.set_len(len).unwrap();
}

/// One way of breaking a metadata file, and the words its refusal must contain.
type Trap = (&'static str, fn(&Path), &'static str);

const TRAPS: &[Trap] = &[
    ("fifo", mkfifo, "not a regular file"),
    (
        "dev-zero",
        |p| {
            fs::remove_file(p).unwrap();
            symlink("/dev/zero", p).unwrap();
        },
        "symbolic link",
    ),
    (
        "dev-urandom-relative",
        |p| {
            fs::remove_file(p).unwrap();
            symlink("../../../../../../../../dev/urandom", p).unwrap();
        },
        "symbolic link",
    ),
    ("sparse-1g", |p| sparse(p, 1 << 30), "limit"),
];

/// `capture.json` as a FIFO, a link to a device, or a 1 GiB sparse file: the run ends at once
/// with a report from the files and a failed `capture` source that names the file and why.
#[test]
fn r18_hostile_capture_json_is_refused_not_waited_on() {
    for (name, trap, why) in TRAPS {
        let dir = bundle(&format!("meta-{name}"));
        trap(&dir.join(".nvprobe/capture.json"));
        let what = format!("capture.json {name}");
        let (out, took) = nvprobe_guarded(&["--json", "--root", dir.to_str().unwrap()]);
        let report = report_of(&what, &out, took);
        let src = source(&report, "capture").unwrap_or_else(|| panic!("{what}: {report:#}"));
        assert_eq!(src["status"], "failed", "{what}: {src}");
        let detail = src["detail"].as_str().unwrap();
        assert!(
            detail.contains("capture.json") && detail.contains(why),
            "{what}: {src}"
        );
        // The files still speak (gVisor from procfs, the device node stand-ins).
        assert_eq!(report["platform"]["kind"], "gvisor", "{what}");
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// The same for `ioctl.json`: the capture's environment and flags still apply, the ioctl path
/// is skipped rather than answered from a log that could not be read.
#[test]
fn r18_hostile_ioctl_json_is_refused_not_waited_on() {
    for (name, trap, why) in TRAPS {
        let dir = bundle(&format!("ioctl-{name}"));
        trap(&dir.join(".nvprobe/ioctl.json"));
        let what = format!("ioctl.json {name}");
        let (out, took) = nvprobe_guarded(&["--json", "--root", dir.to_str().unwrap()]);
        let report = report_of(&what, &out, took);
        let src = source(&report, "capture").unwrap_or_else(|| panic!("{what}: {report:#}"));
        assert_eq!(src["status"], "failed", "{what}: {src}");
        let detail = src["detail"].as_str().unwrap();
        assert!(
            detail.contains("ioctl.json") && detail.contains(why),
            "{what}: {src}"
        );
        // capture.json was read: the replay is of the captured machine, with its --deep.
        assert!(detail.contains("--deep as captured"), "{what}: {src}");
        assert_eq!(
            source(&report, "ioctl").map(|s| &s["status"]),
            Some(&Value::from("skipped")),
            "{what}: {report:#}"
        );
        assert_eq!(
            report["device_nodes"].as_array().map(Vec::len),
            Some(3),
            "{what}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// `.nvprobe` itself a link (to a directory outside the bundle, or to `/dev`): refused, the
/// bundle's metadata comes from the bundle only.
#[test]
fn r18_metadata_directory_link_is_refused() {
    let real = bundle("meta-dir-real");
    for (name, target) in [("outside", real.join(".nvprobe")), ("dev", "/dev".into())] {
        let dir = bundle(&format!("meta-dir-{name}"));
        fs::remove_dir_all(dir.join(".nvprobe")).unwrap();
        symlink(&target, dir.join(".nvprobe")).unwrap();
        let what = format!(".nvprobe -> {}", target.display());
        let (out, took) = nvprobe_guarded(&["--json", "--root", dir.to_str().unwrap()]);
        let report = report_of(&what, &out, took);
        let src = source(&report, "capture").unwrap_or_else(|| panic!("{what}: {report:#}"));
        assert_eq!(src["status"], "failed", "{what}: {src}");
        let detail = src["detail"].as_str().unwrap();
        assert!(
            detail.contains(".nvprobe") && detail.contains("symbolic link"),
            "{what}: {src}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::remove_dir_all(&real).unwrap();
}

/// A bundle without `capture.json` is a plain fixture, as before: no `capture` source.
#[test]
fn r18_missing_capture_json_is_a_plain_fixture() {
    let dir = bundle("no-meta");
    fs::remove_file(dir.join(".nvprobe/capture.json")).unwrap();
    let (out, took) = nvprobe_guarded(&["--json", "--root", dir.to_str().unwrap()]);
    let report = report_of("no capture.json", &out, took);
    assert!(source(&report, "capture").is_none(), "{report:#}");
    fs::remove_dir_all(&dir).unwrap();
}

/// One way of breaking a machine file; false when it cannot be made here.
type MachineTrap = (&'static str, fn(&Path) -> bool);

/// Machine files read through the fixture root are bounded the same way: a FIFO, a link to
/// `/dev/zero` (absolute, or relative and climbing out: both stay inside the root), a real
/// character device where it can be made, and a 1 GiB sparse file in place of
/// `/proc/driver/nvidia/version` give a report at once.
#[test]
fn r18_hostile_machine_files_under_root_are_bounded() {
    let rel = "proc/driver/nvidia/version";
    let cases: &[MachineTrap] = &[
        ("fifo", |p| {
            mkfifo(p);
            true
        }),
        ("dev-zero", |p| {
            fs::remove_file(p).unwrap();
            symlink("/dev/zero", p).unwrap();
            true
        }),
        ("dev-zero-relative", |p| {
            fs::remove_file(p).unwrap();
            symlink("../../../../../../../../dev/zero", p).unwrap();
            true
        }),
        ("char-device", |p| {
            fs::remove_file(p).unwrap();
            // /dev/zero's numbers; needs CAP_MKNOD (skipped without it).
            Command::new("mknod")
                .arg(p)
                .args(["c", "1", "5"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }),
        ("sparse-1g", |p| {
            sparse(p, 1 << 30);
            true
        }),
    ];
    for (name, trap) in cases {
        let dir = scratch(&format!("machine-{name}"));
        copy_tree(&fixture("bare-metal-h100x8-open-580"), &dir);
        if !trap(&dir.join(rel)) {
            eprintln!("{name}: skipped (cannot make it here)");
            fs::remove_dir_all(&dir).unwrap();
            continue;
        }
        let what = format!("{rel} {name}");
        let (out, took) = nvprobe_guarded(&["--json", "--root", dir.to_str().unwrap()]);
        let report = report_of(&what, &out, took);
        assert_eq!(report["gpus"].as_array().map(Vec::len), Some(8), "{what}");
        for s in report["sources"].as_array().unwrap() {
            assert_ne!(s["status"], "timeout", "{what}: {s}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
