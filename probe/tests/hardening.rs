//! Issue 18: input that is not ours cannot drive the terminal, odd environments and roots do
//! not crash the probe or read as healthy, and data a run could not read is never a pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt as _;
use std::process::Output;

use serde_json::Value;

mod common;
use common::{codes, copy_tree, fixture, nvprobe_command};

fn scratch(name: &str) -> common::Scratch {
    common::scratch_dir("hardening", name)
}

/// A copy of a fixture machine to edit.
fn machine(fixture_name: &str, name: &str) -> common::Scratch {
    let dir = scratch(name);
    copy_tree(&fixture(fixture_name), &dir);
    dir
}

fn run(args: &[&OsStr], env: &[(&OsStr, &OsStr)]) -> Output {
    nvprobe_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run nvprobe")
}

fn s(x: &str) -> &OsStr {
    OsStr::new(x)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not one JSON object ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// No byte of a control character but the line breaks, and no line that starts like one of
/// the report's own GPU lines unless it is one.
fn assert_terminal_safe(text: &[u8], what: &str) {
    for (i, &b) in text.iter().enumerate() {
        assert!(
            b == b'\n' || (b >= 0x20 && b != 0x7f),
            "{what}: control byte {b:#04x} at {i}: {}",
            String::from_utf8_lossy(text)
        );
    }
    let text = String::from_utf8_lossy(text);
    // C1 controls as UTF-8 (U+0080..U+009F) and bidi overrides.
    assert!(
        !text
            .chars()
            .any(|c| ('\u{80}'..='\u{9f}').contains(&c) || c == '\u{202e}'),
        "{what}: {text}"
    );
}

/// The text report escapes what the machine (or a bundle from someone else) wrote: the
/// os-release name, the kernel release, the procfs GPU model, library paths from
/// `LD_LIBRARY_PATH`. Before: the bytes went to the terminal raw, and a newline in a library
/// directory forged a `GPU 9` line.
#[test]
fn hardening_text_report_escapes_control_characters() {
    let root = machine("mismatch-l40s-550", "escape");
    fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Ubuntu \x1b]0;owned\x07 24.04\u{9b}31m\u{202e}\"\nID=ubuntu\n",
    )
    .unwrap();
    fs::write(
        root.join("proc/sys/kernel/osrelease"),
        "6.8.0-49-generic\x1b[2J\n",
    )
    .unwrap();
    let info = root.join("proc/driver/nvidia/gpus/0000:4b:00.0/information");
    let text = fs::read_to_string(&info)
        .unwrap()
        .replace("NVIDIA L40S", "NVIDIA L40S\x1b[31m red");
    fs::write(&info, text).unwrap();
    // A library directory whose name holds a newline and a fake GPU line.
    let evil = "/opt/evil\nGPU 9     forged";
    let dir = root.join(evil.trim_start_matches('/'));
    fs::create_dir_all(&dir).unwrap();
    fs::copy(
        root.join("usr/lib/x86_64-linux-gnu/libcuda.so.550.107.02"),
        dir.join("libcuda.so.1"),
    )
    .unwrap();
    let r = root.to_str().unwrap();
    let env = [(s("LD_LIBRARY_PATH"), s(evil))];
    for args in [
        vec!["--root", r],
        vec!["--root", r, "check", "--cuda", "12.4"],
    ] {
        let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
        let out = run(&args, &env);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        assert_terminal_safe(&out.stdout, &format!("{args:?}"));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.lines().any(|l| l.starts_with("GPU 9")),
            "a forged GPU line: {text}"
        );
        assert_terminal_safe(&out.stderr, "stderr");
    }
    // The text still says what was there, escaped.
    let out = run(&[s("--root"), s(r)], &env);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\\x1b]0;owned\\x07"), "{text}");
    assert!(text.contains("/opt/evil\\nGPU 9"), "{text}");
    // JSON keeps the values exactly (serde escapes them as JSON requires).
    let out = run(&[s("--json"), s("--root"), s(r)], &env);
    let report = json(&out);
    assert_eq!(
        report["platform"]["kernel_release"],
        "6.8.0-49-generic\x1b[2J"
    );
    let _ = fs::remove_dir_all(&root);
}

/// A variable that is not UTF-8 no longer makes every command exit 3 ("internal error"): an
/// unrelated one changes nothing; one the probe reads (here `LD_LIBRARY_PATH`) is named in an
/// `environment` source that failed, and the report is not healthy, since what it would have
/// changed is unknown.
#[test]
fn hardening_non_utf8_environment() {
    let root = fixture("bare-metal-h100x8-open-580");
    let r = root.to_str().unwrap();
    let bad = OsStr::from_bytes(b"caf\xe9");
    let plain = run(&[s("--json"), s("--root"), s(r)], &[]);
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    for cmd in [
        vec!["--json", "--root", r],
        vec!["--root", r],
        vec!["--root", r, "labels"],
        vec!["--root", r, "export", "--format", "shell"],
        vec!["--root", r, "check", "--cuda", "12.4"],
    ] {
        let args: Vec<&OsStr> = cmd.iter().map(|a| s(a)).collect();
        let out = run(&args, &[(s("UNRELATED"), bad), (bad, s("x"))]);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {out:?}");
    }
    let out = run(&[s("--json"), s("--root"), s(r)], &[(s("UNRELATED"), bad)]);
    assert_eq!(
        out.stdout, plain.stdout,
        "an unrelated variable changed the report"
    );

    let out = run(
        &[s("--json"), s("--root"), s(r)],
        &[(s("LD_LIBRARY_PATH"), OsStr::from_bytes(b"/opt/caf\xe9/lib"))],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = json(&out);
    let env = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "environment")
        .expect("an environment source");
    assert_eq!(env["status"], "failed");
    assert!(env["detail"].as_str().unwrap().contains("LD_LIBRARY_PATH"));
    assert!(codes(&report).contains(&"sources-unreadable".to_owned()));
    let labels = run(
        &[s("--root"), s(r), s("labels")],
        &[(s("LD_LIBRARY_PATH"), OsStr::from_bytes(b"/opt/caf\xe9/lib"))],
    );
    assert!(
        String::from_utf8_lossy(&labels.stdout).contains("nvprobe.healthy=false\n"),
        "{labels:?}"
    );
}

fn labels_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A run cut by the deadline on a broken machine (the driver/library mismatch fixture, its
/// version file stalled so the library inventory never runs) is not healthy and passes no
/// check. Before: exit 0, `nvprobe.healthy=true`, `NVPROBE_HEALTHY=true`, and `check --cuda
/// 12.4` "satisfied".
#[test]
fn hardening_deadline_cut_is_never_a_pass() {
    let root = fixture("mismatch-l40s-550");
    let r = root.to_str().unwrap();
    let stall = [(s("NVPROBE_TEST_STALL"), s("procfs-version:20000"))];
    let cut = |extra: &[&str]| {
        let mut args = vec!["--root", r, "--timeout", "300"];
        args.extend_from_slice(extra);
        let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
        run(&args, &stall)
    };
    let out = cut(&["--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = json(&out);
    assert!(codes(&report).contains(&"deadline-exceeded".to_owned()));
    let f = &report["findings"][0];
    assert_eq!(
        (f["code"].as_str(), f["severity"].as_str()),
        (Some("deadline-exceeded"), Some("error"))
    );

    let out = cut(&["labels"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "labels are written whatever was found"
    );
    assert!(
        labels_of(&out).contains("nvprobe.healthy=false\n"),
        "{out:?}"
    );
    let out = cut(&["export", "--format", "shell"]);
    let text = labels_of(&out);
    assert!(text.contains("NVPROBE_HEALTHY=false\n"), "{text}");
    assert!(
        text.contains("NVPROBE_CUDA=\n") || text.contains("NVPROBE_CUDA=''\n"),
        "{text}"
    );
    let out = cut(&["export", "--format", "conda"]);
    assert!(!labels_of(&out).contains("__cuda="), "{out:?}");

    let out = cut(&["check", "--cuda", "12.4"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(labels_of(&out).starts_with("unknown: "), "{out:?}");
    let out = cut(&["--json", "check", "--cuda", "12.4"]);
    assert_eq!(json(&out)["check"]["verdict"], "unknown");
    // A malformed requirement is still malformed (exit 2), whatever the report.
    let out = cut(&["check", "--require", "cuda>=>"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

/// A run cut while the driver stage runs (every file source read) keeps the file findings,
/// and claims no absence: on a Jetson the GPU comes from the platform stage, after the files,
/// and a cut report said `no-nvidia-gpu` there (before: `deadline-exceeded`, `no-nvidia-gpu`
/// on `jetson-orin-l4t-36`, whose full report finds its GPU).
#[test]
fn hardening_deadline_in_the_driver_stage_claims_no_absence() {
    let stall = [(s("NVPROBE_TEST_STALL"), s("ioctl:20000"))];
    let cut = |name: &str| {
        let root = fixture(name);
        let args = [
            "--json",
            "--timeout",
            "300",
            "--root",
            root.to_str().unwrap(),
        ];
        let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
        let out = run(&args, &stall);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        json(&out)
    };
    let full = |name: &str| {
        let root = fixture(name);
        let args = ["--json", "--root", root.to_str().unwrap()];
        let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
        json(&run(&args, &[]))
    };
    let jetson = cut("jetson-orin-l4t-36");
    assert_eq!(codes(&jetson), ["deadline-exceeded"], "{jetson}");
    let ioctl: Vec<&Value> = jetson["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "ioctl")
        .collect();
    assert_eq!(ioctl.len(), 1, "{jetson}");
    assert_eq!(ioctl[0]["status"], "timeout");
    assert_eq!(jetson["cuda"]["can_start"], "unknown");
    assert_eq!(
        full("jetson-orin-l4t-36")["gpus"].as_array().unwrap().len(),
        1
    );
    // What the files showed stays: the module missing for the running kernel.
    let dkms = cut("dkms-no-headers-550");
    for code in [
        "module-not-built-for-kernel",
        "driver-not-loaded",
        "deadline-exceeded",
    ] {
        assert!(codes(&dkms).contains(&code.to_owned()), "{code}: {dkms}");
    }
}

/// Sources that fail (here: out of file descriptors) leave the answers unknown: no
/// `no-nvidia-gpu`, no healthy label, exit 1. Before: at `ulimit -n 4` every source failed
/// and the report said `no-nvidia-gpu`, exit 0; at 6 the library search found nothing and the
/// mismatch machine read as healthy.
#[test]
fn hardening_unreadable_sources_are_unknown() {
    let bin = env!("CARGO_BIN_EXE_nvprobe");
    let root = fixture("mismatch-l40s-550");
    for limit in [4, 5, 6] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -n {limit} && exec \"$0\" --json --root \"$1\""
            ))
            .arg(bin)
            .arg(&root)
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "ulimit -n {limit}: {out:?}");
        let report = json(&out);
        let c = codes(&report);
        // Either the mismatch was seen, or the report says what it could not read.
        assert!(
            c.contains(&"sources-unreadable".to_owned())
                || c.contains(&"driver-library-mismatch".to_owned()),
            "ulimit -n {limit}: {c:?}"
        );
        assert!(
            !c.contains(&"no-nvidia-gpu".to_owned()),
            "ulimit -n {limit}: {c:?}"
        );
    }
}

/// `--root` on something that is not a directory is a usage error (exit 2), and a directory
/// that is not a machine's root (no `/proc/sys/kernel/osrelease`) is not a healthy machine
/// without a GPU. Before: exit 0, `no-nvidia-gpu`, `nvprobe.healthy=true` (a `DaemonSet` whose
/// host mount is missing would label the node healthy).
#[test]
fn hardening_root_must_be_a_machine() {
    let dir = scratch("root-file");
    let file = dir.join("f");
    fs::write(&file, "x").unwrap();
    for bad in [
        "/nonexistent-nvprobe-root",
        "/dev/null",
        file.to_str().unwrap(),
    ] {
        for cmd in [&[][..], &["labels"][..], &["--json"][..]] {
            let mut args = vec!["--root", bad];
            args.extend_from_slice(cmd);
            let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
            let out = run(&args, &[]);
            assert_eq!(out.status.code(), Some(2), "{bad} {cmd:?}: {out:?}");
            assert!(out.stdout.is_empty(), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("--root"),
                "{out:?}"
            );
        }
    }
    let empty = scratch("root-empty");
    let e = empty.to_str().unwrap();
    let out = run(&[s("--root"), s(e), s("labels")], &[]);
    assert!(
        labels_of(&out).contains("nvprobe.healthy=false\n"),
        "{out:?}"
    );
    let out = run(&[s("--json"), s("--root"), s(e)], &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let c = codes(&json(&out));
    assert!(c.contains(&"sources-unreadable".to_owned()), "{c:?}");
    assert!(!c.contains(&"no-nvidia-gpu".to_owned()), "{c:?}");
}

/// A directory with more entries than the probe reads fails its source instead of being cut
/// at an arbitrary entry: the cut could hide the very library (or GPU) that matters. Shown on
/// a conda environment's `lib` (the generic limit, 4,096 names); the GPU directories have the
/// same rule at 65,536. Before: the first 4,096 names in directory order were read and the
/// inventory said `ok`.
#[test]
fn hardening_oversized_directory_is_not_cut_silently() {
    let root = machine("mismatch-l40s-550", "bigdir");
    let dir = root.join("opt/env/lib");
    fs::create_dir_all(&dir).unwrap();
    for i in 0..4200 {
        fs::write(dir.join(format!("libcudart.so.12.{i}")), b"").unwrap();
    }
    let out = run(
        &[s("--json"), s("--root"), s(root.to_str().unwrap())],
        &[(s("CONDA_PREFIX"), s("/opt/env"))],
    );
    let _ = fs::remove_dir_all(&root);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = json(&out);
    let inv = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "library-inventory")
        .unwrap()
        .clone();
    assert_eq!(inv["status"], "failed", "{inv}");
    assert!(
        inv["detail"]
            .as_str()
            .unwrap()
            .contains("more than 4096 entries"),
        "{inv}"
    );
}

/// Ways the process could end outside the documented exit codes now end with exit 3 and a
/// message: stdout to a file past `RLIMIT_FSIZE` (was: killed by SIGXFSZ), an abort (what
/// Rust does when an allocation fails; was: killed by SIGABRT, status 134), and a stalled
/// source with no watchdog thread (was: as long as the stall).
#[test]
fn hardening_last_resort_exits_are_exit_3() {
    let bin = env!("CARGO_BIN_EXE_nvprobe");
    let root = fixture("bare-metal-h100x8-open-580");
    let dir = scratch("fsize");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 1 && exec \"$0\" --json --root \"$1\" > \"$2\"")
        .arg(bin)
        .arg(&root)
        .arg(dir.join("report.json"))
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot write the output"),
        "{out:?}"
    );

    // An abort while the probe runs (a stalled source keeps it running).
    let child = nvprobe_command()
        .args([
            "--json",
            "--root",
            root.to_str().unwrap(),
            "--timeout",
            "20000",
        ])
        .env("NVPROBE_TEST_STALL", "sysfs-pci:20000")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = std::process::Command::new("kill")
        .args(["-ABRT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("internal error"),
        "{out:?}"
    );

    // No watchdog thread: the backstop timer ends the run 250 ms after a 300 ms deadline.
    let start = std::time::Instant::now();
    let out = nvprobe_command()
        .args([
            "--json",
            "--root",
            root.to_str().unwrap(),
            "--timeout",
            "300",
        ])
        .env("NVPROBE_TEST_STALL", "sysfs-pci:20000")
        .env("NVPROBE_TEST_NO_WATCHDOG", "1")
        .output()
        .unwrap();
    let took = start.elapsed();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("deadline passed"),
        "{out:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}

/// The deadline's watchdog sleeps on the CPU the probe started on (waking another CPU to start
/// it, and again at exit to end it, was much of what the thread cost), while the probing
/// thread keeps the affinity it was given. Read from `/proc` while a stalled source keeps the
/// probe running.
#[test]
fn hardening_watchdog_stays_on_one_cpu() {
    let allowed = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_owned())
    };
    let own = allowed(&fs::read_to_string("/proc/thread-self/status").unwrap()).unwrap();
    if !own.contains(['-', ',']) {
        eprintln!("skipped: this test runs on one CPU ({own}), where every thread does");
        return;
    }
    let mut child = nvprobe_command()
        .args(["--json", "--root"])
        .arg(fixture("bare-metal-h100x8-open-580"))
        .args(["--timeout", "20000"])
        .env("NVPROBE_TEST_STALL", "sysfs-pci:20000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tasks = format!("/proc/{}/task", child.id());
    let started = std::time::Instant::now();
    // (name, CPUs allowed) of each thread, once the watchdog is there and the probing thread
    // has its own affinity back (the two happen in either order), or after ten seconds.
    let is_watchdog = |(n, _): &&(String, String)| n.starts_with("nvprobe-watch");
    let threads = loop {
        let threads: Vec<(String, String)> = fs::read_dir(&tasks)
            .expect("the probe is still running")
            .filter_map(|t| {
                let t = t.ok()?.path();
                let comm = fs::read_to_string(t.join("comm")).ok()?;
                let cpus = allowed(&fs::read_to_string(t.join("status")).ok()?)?;
                Some((comm.trim().to_owned(), cpus))
            })
            .collect();
        let settled = threads.iter().any(|t| is_watchdog(&t))
            && threads.iter().any(|t| !is_watchdog(&t) && t.1 == own);
        if settled || started.elapsed() > std::time::Duration::from_secs(10) {
            break threads;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    let (watchdog, probing): (Vec<_>, Vec<_>) = threads.iter().partition(is_watchdog);
    assert_eq!(watchdog.len(), 1, "{threads:?}");
    assert!(
        watchdog[0].1.parse::<usize>().is_ok(),
        "the watchdog may run on {}: {threads:?}",
        watchdog[0].1
    );
    assert_eq!(probing.len(), 1, "{threads:?}");
    assert_eq!(probing[0].1, own, "{threads:?}");
}

/// The command line: each command lists only the options it takes; options work before or
/// after the command; a negative `--timeout` is a bad value, not an unknown argument; a
/// patch level in `--cuda` is refused rather than dropped.
#[test]
fn hardening_command_line() {
    let help = |args: &[&str]| {
        let args: Vec<&OsStr> = args.iter().map(|a| s(a)).collect();
        let out = run(&args, &[]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let schema = help(&["schema", "--help"]);
    let options = schema.split("Options:").nth(1).unwrap();
    assert_eq!(
        options.trim().lines().next().unwrap().trim(),
        "-h, --help",
        "{schema}"
    );
    for opt in ["--root", "--deep", "--timeout", "--cross-check"] {
        assert!(!schema.contains(opt), "schema --help lists {opt}: {schema}");
    }
    let scan = help(&["scan", "--help"]);
    assert!(
        scan.contains("--timeout") && scan.contains("--json"),
        "{scan}"
    );
    assert!(
        !scan.contains("--root") && !scan.contains("--deep"),
        "{scan}"
    );
    let check = help(&["check", "--help"]);
    assert!(
        check.contains("--root") && check.contains("--timeout"),
        "{check}"
    );

    let root = fixture("bare-metal-h100x8-open-580");
    let r = root.to_str().unwrap();
    // The same answer with the options before or after the command.
    let before = run(
        &[
            s("--json"),
            s("--root"),
            s(r),
            s("check"),
            s("--cuda"),
            s("12.4"),
        ],
        &[],
    );
    let after = run(
        &[
            s("check"),
            s("--cuda"),
            s("12.4"),
            s("--json"),
            s("--root"),
            s(r),
        ],
        &[],
    );
    assert_eq!(before.status.code(), Some(0), "{before:?}");
    assert_eq!(before.stdout, after.stdout);

    let out = run(&[s("--timeout"), s("-5"), s("--root"), s(r)], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value '-5' for '--timeout <MS>'"),
        "{err}"
    );

    let out = run(
        &[s("--root"), s(r), s("check"), s("--cuda"), s("12.8.1")],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("(12.8)"),
        "{out:?}"
    );
}

/// The three overrides on a machine without a GPU: the report has the stand-in GPU and driver
/// and says so (`override-used`), not also `no-nvidia-gpu`.
#[test]
fn hardening_overrides_do_not_also_say_no_gpu() {
    let root = fixture("no-gpu");
    let out = run(
        &[s("--json"), s("--root"), s(root.to_str().unwrap())],
        &[
            (s("NVPROBE_DRIVER_VERSION"), s("550.54.15")),
            (s("NVPROBE_CUDA_VERSION"), s("12.4")),
            (s("NVPROBE_COMPUTE_CAPABILITY"), s("8.6")),
        ],
    );
    let c = codes(&json(&out));
    assert!(c.contains(&"override-used".to_owned()), "{c:?}");
    assert!(!c.contains(&"no-nvidia-gpu".to_owned()), "{c:?}");
}

/// `--cross-check` in text mode says what became of it, also when NVML could not run.
#[test]
fn hardening_cross_check_is_reported_in_text() {
    let root = fixture("mismatch-l40s-550");
    let out = run(
        &[s("--root"), s(root.to_str().unwrap()), s("--cross-check")],
        &[(s("NVPROBE_SHIM"), s("/nonexistent/nvprobe-shim"))],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("NVML      no comparison: ")),
        "{text}"
    );
}

/// `scan` prints file names as they are on disk: escaped, like every text output. Before: an
/// escape sequence or a newline in a file name reached the terminal raw.
#[test]
fn hardening_scan_escapes_file_names() {
    let dir = scratch("scan-escape");
    let name = dir.join("a\x1b[31mred\nGPU 9");
    fs::write(&name, b"not an ELF").unwrap();
    let out = run(&[s("scan"), name.as_os_str()], &[]);
    let _ = fs::remove_dir_all(&dir);
    assert_terminal_safe(&out.stdout, "scan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a\\x1b[31mred\\nGPU 9"), "{text}");
}
