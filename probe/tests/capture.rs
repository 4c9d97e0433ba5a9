//! `nvprobe capture` and the replay of a capture: capture then `--root` gives the same report
//! for every fixture machine, symlinks stay links, device nodes become stand-ins, redaction is
//! consistent, nothing is written outside `--out`, and the ioctl path replays (recorded against
//! the emulated driver, several versions, gVisor included).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use nvprobe::capture;
use nvprobe::ioctl::emu::{EmuDriver, EmuGpu, Fault};
use nvprobe::root::Root;
use serde_json::Value;

mod common;
use common::{copy_tree, fixture, fixtures, nvprobe};

/// A path that does not exist yet, in a scratch directory removed when it is dropped.
fn tmp(name: &str) -> common::Scratch {
    common::Scratch::absent(&format!("capture-test-{name}"))
}

fn json(out: &Output) -> Value {
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report without the sources that name the run rather than the machine: `sandbox` (its
/// detail names the root directory) and `capture` (present only on a replay).
fn machine_part(mut report: Value) -> Value {
    let sources = report["sources"].as_array_mut().unwrap();
    sources.retain(|s| s["name"] != "sandbox" && s["name"] != "capture");
    report
}

fn source<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}: {report:#}"))
}

fn capture_of(root: &Path, out: &Path, extra: &[&str]) -> Output {
    let o = capture_env(root, out, extra, &[]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "capture failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `nvprobe capture --root ROOT --out OUT --json EXTRA...` with `env` added, whatever it exits
/// with.
fn capture_env(root: &Path, out: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec![
        "capture",
        "--root",
        root.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    common::nvprobe_env(&args, env)
}

#[test]
fn capture_replays_every_fixture_to_the_same_report() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    for name in &names {
        for flags in [&[][..], &["--deep"][..]] {
            let root = fixture(name);
            let out = tmp(&format!("all-{name}-{}", flags.len()));
            let mut plain_args = vec!["--json", "--root", root.to_str().unwrap()];
            plain_args.extend_from_slice(flags);
            let plain = nvprobe(&plain_args);
            let captured = capture_of(&root, &out, flags);
            let replay = nvprobe(&["--json", "--root", out.to_str().unwrap()]);
            assert_eq!(
                plain.status.code(),
                replay.status.code(),
                "{name} {flags:?}: exit codes"
            );
            let replay = json(&replay);
            assert_eq!(source(&replay, "capture")["status"], "ok", "{name}");
            pretty_assertions::assert_eq!(
                machine_part(json(&plain)),
                machine_part(replay.clone()),
                "{name} {flags:?}: replay differs"
            );
            // The capture's own report is the captured run's.
            pretty_assertions::assert_eq!(
                machine_part(json(&captured)),
                machine_part(replay),
                "{name} {flags:?}: capture report differs"
            );
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
}

#[test]
fn capture_keeps_symlinks_and_writes_stand_ins() {
    let root = fixture("bare-metal-h100x8-open-580");
    let out = tmp("links");
    capture_of(&root, &out, &[]);
    // sysfs symlinks are links with the same target text.
    let link = "sys/bus/pci/devices/0000:18:00.0";
    let meta = std::fs::symlink_metadata(out.join(link)).unwrap();
    assert!(meta.file_type().is_symlink());
    assert_eq!(
        std::fs::read_link(out.join(link)).unwrap(),
        std::fs::read_link(root.join(link)).unwrap()
    );
    // Device-node stand-ins keep their record.
    assert_eq!(
        std::fs::read(out.join("dev/nvidiactl")).unwrap(),
        std::fs::read(root.join("dev/nvidiactl")).unwrap()
    );
    // Files keep their bytes exactly.
    let info = "proc/driver/nvidia/gpus/0000:18:00.0/information";
    assert_eq!(
        std::fs::read(out.join(info)).unwrap(),
        std::fs::read(root.join(info)).unwrap()
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap())
            .unwrap();
    assert_eq!(meta["format"], "nvprobe-capture/1");
    assert_eq!(meta["redacted"], false);
    assert!(meta["copied"]["links"].as_u64().unwrap() > 8, "{meta:#}");
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_records_real_device_nodes_as_stand_ins() {
    // /dev/null is a character device on every Linux machine: a capture of the host must
    // turn any device node it touched into a record the fixture reader understands.
    let dir = tmp("devnull");
    std::fs::create_dir_all(&dir).unwrap();
    let meta = std::fs::metadata("/dev/null").unwrap();
    let record = capture::copy::stand_in_record(&meta, Path::new("/dev/null"));
    assert!(
        record.starts_with("type=char\nmajor=1\nminor=3\nmode="),
        "{record}"
    );
    assert!(record.contains("\nopen=ok\n"), "{record}");
    let mut node = nvprobe::report::DeviceNode {
        path: "/dev/null".into(),
        kind: "file".into(),
        major: None,
        minor: None,
        mode: None,
        uid: None,
        gid: None,
        access: "unknown".into(),
    };
    nvprobe::detect::devnodes::apply_stand_in(&mut node, &record);
    assert_eq!(
        (node.kind.as_str(), node.major, node.minor),
        ("char", Some(1), Some(3))
    );
    assert_eq!(node.access, "ok");
}

#[test]
fn capture_of_the_host_replays() {
    // Whatever this machine is (no GPU on CI), its capture replays to the same report.
    let out = tmp("host");
    let captured = nvprobe(&["capture", "--out", out.to_str().unwrap(), "--json"]);
    assert_eq!(captured.status.code(), Some(0));
    let plain = nvprobe(&["--json"]);
    let replay = nvprobe(&["--json", "--root", out.to_str().unwrap()]);
    pretty_assertions::assert_eq!(
        machine_part(json(&plain)),
        machine_part(json(&replay)),
        "host replay differs"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_refuses_a_non_empty_out_and_writes_nothing_outside() {
    // A fixture whose os-release is an absolute link to a host path: inside the machine it
    // points inside the root, and the capture must copy it there, never to the host path.
    let host_dir = tmp("outside-target");
    std::fs::create_dir_all(&host_dir).unwrap();
    let machine = tmp("outside-machine");
    let inside = machine.join(host_dir.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::write(inside.join("os-release"), "ID=inside\n").unwrap();
    std::fs::create_dir_all(machine.join("etc")).unwrap();
    std::os::unix::fs::symlink(host_dir.join("os-release"), machine.join("etc/os-release"))
        .unwrap();
    std::fs::create_dir_all(machine.join("proc/sys/kernel")).unwrap();
    std::fs::write(machine.join("proc/sys/kernel/osrelease"), "6.8.0\n").unwrap();

    let out = tmp("outside-out");
    capture_of(&machine, &out, &[]);
    assert_eq!(
        std::fs::read_dir(&host_dir).unwrap().count(),
        0,
        "capture wrote outside --out"
    );
    let copied = out
        .join(host_dir.strip_prefix("/").unwrap())
        .join("os-release");
    assert_eq!(std::fs::read_to_string(copied).unwrap(), "ID=inside\n");
    assert!(
        std::fs::symlink_metadata(out.join("etc/os-release"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A second capture into the same (now non-empty) directory is refused with exit code 2.
    let again = nvprobe(&[
        "capture",
        "--root",
        machine.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    // A file is refused too.
    let file = tmp("outside-file");
    std::fs::write(&file, "x").unwrap();
    let on_file = nvprobe(&["capture", "--out", file.to_str().unwrap()]);
    assert_eq!(on_file.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    for d in [&host_dir, &machine, &out] {
        std::fs::remove_dir_all(d).unwrap();
    }
    std::fs::remove_file(&file).unwrap();
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            all_files(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

fn h100s(n: u8) -> Vec<EmuGpu> {
    // The buses of the bare-metal-h100x8 fixture.
    let buses = [0x18, 0x2a, 0x3a, 0x5d, 0x9a, 0xab, 0xba, 0xdb];
    buses
        .iter()
        .take(usize::from(n))
        .enumerate()
        .map(|(i, b)| EmuGpu::h100(*b, u32::try_from(i).unwrap()))
        .collect()
}

/// Captures `root` with the emulator behind the ioctl path (library), then replays the bundle
/// with the binary; returns (captured report, replayed report).
fn emu_round_trip(
    name: &str,
    root: &Path,
    emu: EmuDriver,
    deep: bool,
    redact: bool,
) -> (Value, Value, common::Scratch) {
    let out = tmp(&format!("emu-{name}"));
    let mut opts = nvprobe::Options::new(Root::at(root));
    opts.deep = deep;
    opts.timeout = std::time::Duration::from_secs(20);
    let c = capture::run_with(&opts, &out, redact, Some(Arc::new(emu))).unwrap();
    let captured: Value = serde_json::from_str(&c.report.to_json()).unwrap();
    let replay = nvprobe(&["--json", "--root", out.to_str().unwrap()]);
    (captured, json(&replay), out)
}

#[test]
fn capture_ioctl_replay_with_the_emulator() {
    let root = fixture("bare-metal-h100x8-open-580");
    for (version, deep) in [
        ("580.65.06", false),
        ("580.65.06", true),
        ("535.54.03", true),
        ("525.60.13", true),
        ("470.256.02", false),
    ] {
        let emu = EmuDriver::new(version, h100s(8), Vec::new());
        let name = format!("{version}-{deep}");
        let (captured, replay, out) = emu_round_trip(&name, &root, emu, deep, false);
        assert_eq!(source(&captured, "ioctl")["status"], "ok", "{captured:#}");
        if deep {
            assert_eq!(
                source(&captured, "ioctl-deep")["status"],
                "ok",
                "{captured:#}"
            );
            assert!(captured["gpus"][0]["uuid"].is_string(), "{captured:#}");
        }
        let capture_src = source(&replay, "capture");
        assert_eq!(capture_src["status"], "ok", "{capture_src}");
        pretty_assertions::assert_eq!(
            machine_part(captured),
            machine_part(replay),
            "{version} deep={deep}"
        );
        let log: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(".nvprobe/ioctl.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(log["format"], "nvprobe-ioctl/1");
        assert!(log["events"].as_array().unwrap().len() > 2);
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// A minimal gVisor machine: the sentry's fixed kernel identity and NVIDIA nodes.
fn gvisor_machine(dir: &Path) {
    let w = |p: &str, t: &str| {
        let full = dir.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, t).unwrap();
    };
    w("proc/sys/kernel/osrelease", "4.4.0\n");
    w(
        "proc/version",
        "Linux version 4.4.0 #1 SMP Sun Jan 10 15:06:54 PST 2016\n",
    );
    w("proc/self/cgroup", "0::/\n");
    w(
        "dev/nvidiactl",
        "type=char\nmajor=195\nminor=255\nmode=0666\nuid=0\ngid=0\nopen=ok\n",
    );
    w(
        "dev/nvidia0",
        "type=char\nmajor=195\nminor=0\nmode=0666\nuid=0\ngid=0\nopen=ok\n",
    );
}

#[test]
fn capture_ioctl_replay_under_gvisor() {
    let machine = tmp("gvisor-machine");
    gvisor_machine(&machine);
    let emu = EmuDriver::new(
        "550.54.15",
        vec![EmuGpu::h100(0x3b, 0)],
        vec![
            Fault::Gvisor,
            Fault::GvisorDenyControl(
                nvprobe_abi::ctrl::ctrl2080gpu::NV2080_CTRL_CMD_GPU_GET_GID_INFO,
            ),
        ],
    );
    let (captured, replay, out) = emu_round_trip("gvisor", &machine, emu, true, false);
    assert_eq!(captured["platform"]["kind"], "gvisor");
    let codes: Vec<&str> = captured["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"gvisor-nvproxy-limit"), "{captured:#}");
    assert_eq!(source(&captured, "ioctl")["status"], "ok", "{captured:#}");
    pretty_assertions::assert_eq!(machine_part(captured), machine_part(replay));
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::remove_dir_all(&machine).unwrap();
}

#[test]
fn capture_redacts_uuids_and_serials_consistently() {
    let root = fixture("bare-metal-h100x8-open-580");
    let emu = EmuDriver::new("580.65.06", h100s(8), Vec::new());
    let (captured, replay, out) = emu_round_trip("redact", &root, emu, true, true);
    // Every UUID the run saw is gone from every file of the bundle.
    let mut originals: Vec<String> = Vec::new();
    for g in captured["gpus"].as_array().unwrap() {
        originals.push(g["uuid"].as_str().unwrap().to_owned());
    }
    let text =
        std::fs::read_to_string(root.join("proc/driver/nvidia/gpus/0000:18:00.0/information"))
            .unwrap();
    let file_uuid = text
        .lines()
        .find_map(|l| l.strip_prefix("GPU UUID: \t "))
        .unwrap()
        .to_owned();
    originals.push(file_uuid);
    let mut files = Vec::new();
    all_files(&out, &mut files);
    let hex = |u: &str| u.trim_start_matches("GPU-").replace('-', "");
    for f in &files {
        let body = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_lowercase();
        for u in &originals {
            assert!(!body.contains(&u.to_lowercase()), "{u} in {}", f.display());
            assert!(!body.contains(&hex(u)), "{u} (hex) in {}", f.display());
        }
    }
    // The replay shows placeholders, the same one for the same GPU in the ioctl path (uuid)
    // and no original.
    let uuids: Vec<&str> = replay["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["uuid"].as_str().unwrap())
        .collect();
    assert_eq!(uuids.len(), 8);
    assert!(
        uuids
            .iter()
            .all(|u| u.starts_with("GPU-00000000-0000-0000-0000-")),
        "{uuids:?}"
    );
    let mut distinct = uuids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), 8, "{uuids:?}");
    // The same file redacted twice in one capture gets the same placeholders: the procfs
    // information files each name one placeholder, all distinct.
    let mut seen = Vec::new();
    for bus in ["0000:18:00.0", "0000:2a:00.0"] {
        let t =
            std::fs::read_to_string(out.join(format!("proc/driver/nvidia/gpus/{bus}/information")))
                .unwrap();
        let u = t
            .lines()
            .find_map(|l| l.strip_prefix("GPU UUID: \t "))
            .unwrap()
            .to_owned();
        assert!(u.starts_with("GPU-00000000-0000-0000-0000-"), "{u}");
        seen.push(u);
    }
    assert_ne!(seen[0], seen[1]);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap())
            .unwrap();
    assert_eq!(meta["redacted"], true);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_replays_the_captured_environment() {
    // NVPROBE_DRIVER_VERSION changes the report; the replay must use the captured value even
    // when this process has none, and a secret is never written.
    let root = fixture("no-gpu");
    let out = tmp("env");
    let o = Command::new(env!("CARGO_BIN_EXE_nvprobe"))
        .args([
            "capture",
            "--root",
            root.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .env("NVPROBE_DRIVER_VERSION", "550.54.15")
        .env("MY_SECRET_TOKEN", "hunter2")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let captured = json(&o);
    let replay = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
    pretty_assertions::assert_eq!(machine_part(captured), machine_part(replay.clone()));
    assert!(
        source(&replay, "capture")["detail"]
            .as_str()
            .unwrap()
            .contains("environment from the capture")
    );
    let meta = std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap();
    assert!(meta.contains("NVPROBE_DRIVER_VERSION"));
    assert!(!meta.contains("hunter2") && !meta.contains("MY_SECRET_TOKEN"));
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_replay_counts_requests_not_in_the_capture() {
    // A capture made without --deep, replayed with --deep: the deep requests are not in it,
    // and the capture source says so instead of inventing answers.
    let root = fixture("bare-metal-h100x8-open-580");
    let emu = EmuDriver::new("580.65.06", h100s(8), Vec::new());
    let (_, _, out) = emu_round_trip("misses", &root, emu, false, false);
    let replay = json(&nvprobe(&[
        "--json",
        "--deep",
        "--root",
        out.to_str().unwrap(),
    ]));
    let src = source(&replay, "capture");
    assert_eq!(src["status"], "failed", "{src}");
    assert!(
        src["detail"]
            .as_str()
            .unwrap()
            .contains("not in the capture"),
        "{src}"
    );
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_replay_refuses_an_errno_linux_cannot_return() {
    // A hand-edited or damaged bundle: errnos of 0, -1 and 4096 are refused with the event
    // named (each used to abort the run in rustix's `Errno` assertion), and the report is
    // still written from the files.
    let root = fixture("gvisor-h100");
    for (op, errno) in [("ioctl", -1), ("ioctl", 4096), ("open", 0)] {
        let dir = tmp(&format!("errno-{op}{errno}"));
        copy_tree(&root, &dir);
        let path = dir.join(".nvprobe/ioctl.json");
        let mut log: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let events = log["events"].as_array_mut().unwrap();
        let (i, event) = events
            .iter_mut()
            .enumerate()
            .find(|(_, e)| e["op"] == op)
            .unwrap();
        event["errno"] = errno.into();
        if op == "open" {
            event["file"] = Value::Null;
        }
        std::fs::write(&path, serde_json::to_string(&log).unwrap()).unwrap();
        let out = nvprobe(&["--json", "--deep", "--root", dir.to_str().unwrap()]);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
        let replay = json(&out);
        let src = source(&replay, "capture");
        assert_eq!(src["status"], "failed", "{src}");
        let want = format!("event {i}: errno {errno} is not a Linux errno");
        assert!(src["detail"].as_str().unwrap().contains(&want), "{src}");
        // The files still speak; the ioctl path is skipped rather than answered from a bad log.
        assert_eq!(
            replay["device_nodes"].as_array().map(Vec::len),
            Some(3),
            "{replay:#}"
        );
        assert_eq!(source(&replay, "ioctl")["status"], "skipped", "{replay:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn capture_replays_a_fifo_in_place_of_a_device_node() {
    // A FIFO where /dev/nvidia-modeset belongs is never opened; the capture records it as
    // `type=fifo`, and the replay describes the node as the live run did (kind "other").
    let machine = tmp("fifo-machine");
    copy_tree(&fixture("bare-metal-h100x8-open-580"), &machine);
    let node = machine.join("dev/nvidia-modeset");
    std::fs::remove_file(&node).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&node)
            .status()
            .unwrap()
            .success()
    );
    let out = tmp("fifo-out");
    let captured = json(&capture_of(&machine, &out, &[]));
    let record = std::fs::read_to_string(out.join("dev/nvidia-modeset")).unwrap();
    assert!(record.starts_with("type=fifo\n"), "{record}");
    let replay = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
    let modeset = |r: &Value| {
        r["device_nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == "/dev/nvidia-modeset")
            .cloned()
            .unwrap()
    };
    assert_eq!(modeset(&captured)["kind"], "other", "{captured:#}");
    pretty_assertions::assert_eq!(modeset(&captured), modeset(&replay));
    pretty_assertions::assert_eq!(machine_part(captured), machine_part(replay));
    std::fs::remove_dir_all(&machine).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

/// Everything under `dir` (not following links), for "nothing was written here" checks.
fn entries_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            out.push(e.path());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.extend(entries_under(&e.path()));
            }
        }
    }
    out
}

#[test]
fn capture_races_on_the_bundle_never_write_outside_it() {
    // An attacker who can write in --out swaps the bundle's directories for symlinks to a
    // sentinel directory while the capture runs. Every write of the capture is relative to
    // directories it opened without following links, so the sentinel stays empty.
    let root = fixture("bare-metal-h100x8-open-580");
    let sentinel = tmp("race-sentinel");
    std::fs::create_dir_all(&sentinel).unwrap();
    let victims = [
        "sys",
        "proc",
        "dev",
        "etc",
        "usr",
        "lib",
        "sys/bus",
        "sys/devices",
        "sys/module",
        "sys/bus/pci",
        "proc/driver",
        "proc/driver/nvidia",
        ".nvprobe",
    ];
    for run in 0..40 {
        let out = tmp(&format!("race-out-{run}"));
        let mut child = common::nvprobe_command()
            .args([
                "capture",
                "--root",
                root.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
                "--json",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let mut turn = 0_usize;
        while child.try_wait().unwrap().is_none() && started.elapsed().as_secs() < 60 {
            let v = victims[turn % victims.len()];
            turn += 1;
            let path = out.join(v);
            let moved = out.join(format!("{}.moved", v.replace('/', "_")));
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir())
                && std::fs::rename(&path, &moved).is_ok()
            {
                let _ = std::os::unix::fs::symlink(&sentinel, &path);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::rename(&moved, &path);
            }
        }
        let _ = child.wait();
        let written = entries_under(&sentinel);
        assert!(
            written.is_empty(),
            "run {run}: the capture wrote outside its bundle: {written:?}"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
    std::fs::remove_dir_all(&sentinel).unwrap();
}

#[test]
fn capture_refuses_an_out_owned_by_another_user() {
    // An empty directory someone else planted (in /tmp, say) could be raced from outside:
    // capture refuses it with exit code 2.
    if !rustix::process::geteuid().is_root() {
        println!("skipped: not root, so no directory owned by another user can be made");
        return;
    }
    let out = tmp("foreign-out");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::chown(&out, Some(65534), Some(65534)).unwrap();
    let o = nvprobe(&[
        "capture",
        "--root",
        fixture("no-gpu").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("owned by uid 65534"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_copies_only_what_the_probe_parsed() {
    // A `libcuda.so.1` on LD_LIBRARY_PATH that is a link to a secret, a 0600 library, a file
    // only looked at: the secret's bytes never reach the bundle, no mode gets wider, and the
    // bundle says what it left out.
    use std::os::unix::fs::PermissionsExt as _;
    let machine = tmp("secrets-machine");
    copy_tree(&fixture("no-gpu"), &machine);
    let put = |p: &str, bytes: &[u8], mode: u32| {
        let full = machine.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, bytes).unwrap();
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    put("etc/shadow", b"root:$6$SECRET-HASH:19000::::::\n", 0o600);
    std::fs::create_dir_all(machine.join("opt/evil")).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", machine.join("opt/evil/libcuda.so.1")).unwrap();
    // A real ELF file (any will do), private to its owner.
    let elf = std::fs::read("/proc/self/exe").unwrap();
    let elf = &elf[..elf.len().min(256 * 1024)];
    put("opt/private/libnvidia-ml.so.1", elf, 0o600);
    put(
        "opt/private/libcuda.so.1",
        b"\x7fELF-not-really SECRET-TOO",
        0o640,
    );
    std::fs::set_permissions(
        machine.join("opt/private"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();

    let out = tmp("secrets-out");
    let o = capture_env(
        &machine,
        &out,
        &[],
        &[("LD_LIBRARY_PATH", "/opt/evil:/opt/private")],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let captured = json(&o);

    let mut files = Vec::new();
    all_files(&out, &mut files);
    for f in &files {
        let body = std::fs::read(f).unwrap();
        assert!(
            !String::from_utf8_lossy(&body).contains("SECRET"),
            "secret bytes in {}",
            f.display()
        );
    }
    // Modes: never wider than the source, never group/other writable; directories private.
    for p in entries_under(&out) {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
        } else if meta.is_file() {
            assert_eq!(mode & 0o022, 0, "{} is {mode:o}", p.display());
            let rel = p.strip_prefix(&out).unwrap();
            if let Ok(src) = std::fs::metadata(machine.join(rel)) {
                let src_mode = src.permissions().mode() & 0o7777;
                assert_eq!(
                    mode & !src_mode,
                    0,
                    "{} is {mode:o}, its source {src_mode:o}",
                    p.display()
                );
            }
        }
    }
    let lib = out.join("opt/private/libnvidia-ml.so.1");
    assert_eq!(
        std::fs::metadata(&lib).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(&std::fs::read(&lib).unwrap()[..4], b"\x7fELF");
    // A library travels as its headers and the sections the inventory reads, at their
    // offsets and with its size: not its code.
    let copied = std::fs::read(&lib).unwrap();
    assert_eq!(copied.len(), elf.len());
    let nonzero = |b: &[u8]| b.iter().filter(|&&x| x != 0).count();
    assert!(
        nonzero(&copied) * 20 < nonzero(elf),
        "{} of {} non-zero bytes copied",
        nonzero(&copied),
        nonzero(elf)
    );
    // The bundle says what it left out.
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap())
            .unwrap();
    let left_out = meta["left_out"].as_array().expect("left_out");
    for path in ["/etc/shadow", "/opt/private/libcuda.so.1"] {
        let entry = left_out.iter().find(|e| e["path"] == path);
        assert!(
            entry.is_some_and(|e| e["reason"].as_str().unwrap().contains("not an ELF file")),
            "{path} in {meta:#}"
        );
    }
    // The replay still tells the same story: the non-ELF files keep their size, not their
    // bytes, so they are still no libraries (the one with a fake ELF magic says so in other
    // words: its bytes are gone).
    let replay = json(&common::nvprobe(&[
        "--json",
        "--root",
        out.to_str().unwrap(),
    ]));
    let without_fake = |mut r: Value| {
        let libs = r.pointer_mut("/libraries").and_then(Value::as_array_mut);
        for lib in libs.into_iter().flatten() {
            if lib["path"] == "/opt/private/libcuda.so.1" {
                let problem = lib["problem"].as_str().unwrap_or_default().to_owned();
                assert!(problem.starts_with("not a readable ELF"), "{lib}");
                lib["problem"] = Value::Null;
            }
        }
        machine_part(r)
    };
    pretty_assertions::assert_eq!(without_fake(captured), without_fake(replay));
    std::fs::remove_dir_all(&machine).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_stops_copying_at_the_deadline() {
    // The copy runs into the run's deadline, stops there, and both the bundle and the report
    // say the bundle is incomplete. A test that made the copy long enough (8,000 directories)
    // passed or failed with the machine's speed: a faster VM copied them all within 3 s. The
    // debug build's `capture-copy` stall now starts the copy 50 ms past the deadline (and
    // before the backstop, a quarter of the deadline later), whatever the machine; the
    // directories are what it then leaves out.
    let machine = tmp("deadline-machine");
    copy_tree(&fixture("no-gpu"), &machine);
    let gpus = machine.join("proc/driver/nvidia/gpus");
    for i in 0..200_u32 {
        let d = gpus.join(format!("0000:{:02x}:{:02x}.0", i / 256, i % 256));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("information"),
            format!(
                "Model: \t\t NVIDIA H100\nIRQ:   \t\t 1\nGPU UUID: \t GPU-{i:08x}-0000-0000-0000-000000000000\nBus Location: \t 0000:{:02x}:{:02x}.0\n",
                i / 256,
                i % 256
            ),
        )
        .unwrap();
    }
    std::fs::write(
        machine.join("proc/driver/nvidia/version"),
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build\n",
    )
    .unwrap();
    let out = tmp("deadline-out");
    let started = std::time::Instant::now();
    let o = capture_env(
        &machine,
        &out,
        &["--timeout", "2000"],
        &[("NVPROBE_TEST_STALL", "capture-copy:50")],
    );
    let took = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    // The stall, then a copy that stops at once: not the copy of everything.
    assert!(took.as_millis() < 8000, "capture took {took:?}");
    let report = json(&o);
    assert!(
        common::codes(&report).contains(&"deadline-exceeded".to_owned()),
        "{report:#}"
    );
    let src = source(&report, "capture");
    assert_eq!(src["status"], "timeout", "{src}");
    assert!(
        src["detail"].as_str().unwrap().contains("incomplete"),
        "{src}"
    );
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap())
            .unwrap();
    assert!(meta["incomplete"].as_str().is_some(), "{meta:#}");
    // The replay says so too.
    let replay = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
    assert_eq!(
        source(&replay, "capture")["status"],
        "timeout",
        "{replay:#}"
    );
    std::fs::remove_dir_all(&machine).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_does_not_wait_for_a_file_under_a_lease() {
    // A file another process holds a write lease on: a plain open(2) for reading waits for the
    // lease holder up to /proc/sys/fs/lease-break-time (45 s by default). The copy opens with
    // O_NONBLOCK, so the file is listed as unreadable at once. The lease is taken by python3
    // (F_SETLEASE has no safe Rust wrapper here).
    use std::io::BufRead as _;
    let has_python = Command::new("python3")
        .args(["-c", "import fcntl, signal"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_python {
        println!("skipped: no python3 to hold a file lease");
        return;
    }
    let machine = tmp("lease-machine");
    copy_tree(&fixture("no-gpu"), &machine);
    let leased = machine.join("etc/os-release");
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl, os, signal, sys, time\n\
             signal.signal(signal.SIGIO, signal.SIG_IGN)\n\
             fd = os.open(sys.argv[1], os.O_RDWR)\n\
             fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)\n\
             print('leased', flush=True)\n\
             time.sleep(120)\n",
            leased.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.trim() != "leased" {
        let _ = holder.kill();
        let _ = holder.wait();
        println!("skipped: could not take a lease here");
        return;
    }
    let out = tmp("lease-out");
    let started = std::time::Instant::now();
    let o = nvprobe(&[
        "capture",
        "--root",
        machine.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--timeout",
        "500",
    ]);
    let took = started.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(took.as_secs() < 5, "capture took {took:?}");
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap())
            .unwrap();
    assert!(
        meta["unreadable"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["path"] == "/etc/os-release"),
        "{meta:#}"
    );
    std::fs::remove_dir_all(&machine).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn capture_keeps_only_the_vcuda_core_of_gpu_managers_file() {
    // gpu-manager writes the pod's UID and the container's name into vcuda.config and names
    // the container's directory after them; a bundle carries only the field nvprobe reads
    // (vcuda-core), under a neutral directory name, and replays to the same answer.
    let machine = fixture("container-gpu-manager-570");
    let uid = "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    let dir =
        "etc/vcuda/k8s_cuda_trainer-7d9f8b6c5-x2v4q_default_3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d_0";
    assert!(machine.join(dir).is_dir());
    for redact in [false, true] {
        let out = tmp(if redact { "vcuda-out-r" } else { "vcuda-out" });
        let mut args = vec![
            "capture",
            "--root",
            machine.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ];
        if redact {
            args.push("--redact");
        }
        let o = nvprobe(&args);
        assert_eq!(o.status.code(), Some(0), "{o:?}");
        let live = json(&o);
        assert!(!out.join(dir).exists());
        let original = std::fs::read(machine.join(dir).join("vcuda.config")).unwrap();
        let copied = std::fs::read(out.join("etc/vcuda/container-0/vcuda.config")).unwrap();
        assert_eq!(copied.len(), original.len());
        assert_ne!(copied, original, "the pod's data must not be copied");
        assert!(
            copied
                .iter()
                .enumerate()
                .all(|(i, b)| *b == 0 || (8216..8220).contains(&i)),
            "only the utilization field may survive"
        );
        // Nowhere in the bundle: no file or directory name, no file's bytes.
        let mut stack = vec![out.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(!name.contains(uid), "{}", e.path().display());
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    stack.push(e.path());
                } else if ft.is_file() {
                    let bytes = std::fs::read(e.path()).unwrap();
                    assert!(
                        !bytes.windows(uid.len()).any(|w| w == uid.as_bytes()),
                        "{}",
                        e.path().display()
                    );
                } else if ft.is_symlink() {
                    let t = std::fs::read_link(e.path()).unwrap();
                    assert!(!t.to_string_lossy().contains(uid));
                }
            }
        }
        // Nor in the report, live or replayed, which answer the same.
        assert!(!live.to_string().contains(uid), "{live:#}");
        let replay = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
        assert_eq!(
            replay["platform"]["vgpu_manager"], live["platform"]["vgpu_manager"],
            "{replay:#}"
        );
        assert_eq!(replay["platform"]["vgpu_manager"]["core_percent"], 50);
        std::fs::remove_dir_all(&out).unwrap();
    }
}

/// A machine whose `rpmdb.sqlite` is over [`capture::copy::FILE_LIMIT`]: the ten NVIDIA
/// packages of the fixture `rpm-split-branch-550-560` among 600 other packages of 6 KB headers
/// (a 4.9 MB database, built by `common::rpmdb`), most NVIDIA rows past the first 4 MiB. Each
/// other package's header ends in `OTHER-PACKAGE-TAIL-<n>`, in its last overflow page.
fn big_rpmdb_machine(dir: &Path) -> Vec<u8> {
    use common::rpmdb::{Pkg, rpmdb};
    copy_tree(&fixture("rpm-split-branch-550-560"), dir);
    let nv = |name: &'static str, epoch, version: &'static str, release: &'static str| Pkg {
        name,
        epoch,
        version,
        release,
        arch: "x86_64",
        description: "NVIDIA package",
    };
    let drv = |name| nv(name, Some(3), "550.127.05", "1.el9");
    let descriptions: Vec<(String, String)> = (0..600)
        .map(|i| {
            let mut body = format!("other package {i}: ").repeat(320);
            body.truncate(6000);
            let d = format!("{body} OTHER-PACKAGE-TAIL-{i:04}");
            (format!("other-package-{i:04}"), d)
        })
        .collect();
    let mut pkgs = vec![nv("nvidia-fabric-manager", None, "550.127.05", "1")];
    pkgs.extend(descriptions.iter().map(|(name, d)| Pkg {
        name,
        epoch: None,
        version: "1.0",
        release: "1.el9",
        arch: "x86_64",
        description: d,
    }));
    pkgs.extend([
        drv("nvidia-driver-libs"),
        drv("nvidia-driver-cuda-libs"),
        drv("nvidia-driver-cuda"),
        drv("nvidia-driver"),
        nv("nvidia-container-toolkit-base", None, "1.13.5", "1"),
        nv("nvidia-container-toolkit", None, "1.13.5", "1"),
        nv("libnvidia-nscq-550", None, "550.127.05", "1"),
        nv("kmod-nvidia-open-dkms", Some(3), "560.35.03", "1.el9"),
        nv("nvidia-kmod-common", Some(3), "560.35.03", "1.el9"),
    ]);
    let db = rpmdb(&pkgs);
    std::fs::write(dir.join("var/lib/rpm/rpmdb.sqlite"), &db).unwrap();
    db
}

/// Pages of 4 KiB of `bytes` that are not all zeros.
fn data_pages(bytes: &[u8]) -> usize {
    bytes
        .chunks(4096)
        .filter(|p| p.iter().any(|b| *b != 0))
        .count()
}

#[test]
fn capture_keeps_only_the_rpmdb_pages_read() {
    // See: issue 23. A capture copied the first 4 MiB of the database: its replay found
    // zeros where the NVIDIA rows were and marked `packages` failed. Now it keeps the file's
    // size and only the pages the reader visited, and replays to the live run's report.
    use std::os::unix::fs::MetadataExt as _;
    let machine = tmp("big-rpmdb-machine");
    let db = big_rpmdb_machine(&machine);
    let limit = usize::try_from(capture::copy::FILE_LIMIT).unwrap();
    assert!(db.len() > limit, "{} bytes", db.len());
    let tail = |b: &[u8]| {
        b.windows(19)
            .filter(|w| *w == b"OTHER-PACKAGE-TAIL-")
            .count()
    };
    assert_eq!(tail(&db), 600);

    let plain = json(&nvprobe(&["--json", "--root", machine.to_str().unwrap()]));
    assert_eq!(source(&plain, "packages")["status"], "ok", "{plain:#}");
    let names: Vec<&str> = plain["platform"]["packages"]["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    assert_eq!(plain["platform"]["packages"]["container_toolkit"], "1.13.5");

    // What a capture kept before: the first FILE_LIMIT bytes, the rest zeros.
    let cut = tmp("big-rpmdb-cut");
    copy_tree(&machine, &cut);
    let mut first = db[..limit].to_vec();
    first.resize(db.len(), 0);
    std::fs::write(cut.join("var/lib/rpm/rpmdb.sqlite"), &first).unwrap();
    let old = json(&nvprobe(&["--json", "--root", cut.to_str().unwrap()]));
    assert_eq!(source(&old, "packages")["status"], "failed", "{old:#}");
    std::fs::remove_dir_all(&cut).unwrap();

    for redact in [false, true] {
        let out = tmp(&format!("big-rpmdb-out-{redact}"));
        let captured = json(&capture_of(
            &machine,
            &out,
            if redact { &["--redact"][..] } else { &[][..] },
        ));
        let replay = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
        assert_eq!(source(&replay, "capture")["status"], "ok", "{replay:#}");
        assert_eq!(source(&replay, "packages"), source(&plain, "packages"));
        assert_eq!(
            replay["platform"]["packages"], plain["platform"]["packages"],
            "{replay:#}"
        );
        // Redacted, the GPU's UUID differs; the rest is the captured run's, as without.
        if !redact {
            pretty_assertions::assert_eq!(machine_part(captured.clone()), machine_part(replay));
            pretty_assertions::assert_eq!(machine_part(plain.clone()), machine_part(captured));
        }

        // The copy: the same size, a hole but for the pages read, none of the other
        // packages' headers past their first page.
        let copy_path = out.join("var/lib/rpm/rpmdb.sqlite");
        let meta = std::fs::metadata(&copy_path).unwrap();
        let copy = std::fs::read(&copy_path).unwrap();
        assert_eq!(copy.len(), db.len());
        let (kept, total) = (data_pages(&copy), db.len() / 4096);
        let on_disk = meta.blocks() * 512;
        eprintln!(
            "rpmdb {} bytes ({total} pages): the bundle keeps {kept} pages, {on_disk} bytes on disk",
            db.len()
        );
        assert!(kept * 20 < total, "{kept} of {total} pages kept");
        assert!(on_disk < 1 << 20, "{on_disk} bytes on disk");
        assert_eq!(tail(&copy), 0, "another package's header tail was copied");
        for (i, page) in copy.chunks(4096).enumerate() {
            if page.iter().any(|b| *b != 0) {
                assert_eq!(page, &db[i * 4096..(i + 1) * 4096], "page {}", i + 1);
            }
        }
        let bundle: Value = serde_json::from_str(
            &std::fs::read_to_string(out.join(".nvprobe/capture.json")).unwrap(),
        )
        .unwrap();
        assert!(
            bundle["copied"]["sparse"].as_u64().unwrap() >= 1,
            "{bundle:#}"
        );
        if !redact {
            // The bundle is untrusted: its copy grown to 64 GiB (a hole) is read page by
            // page, never whole, and answers the same.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&copy_path)
                .unwrap();
            f.set_len(64 << 30).unwrap();
            let grown = json(&nvprobe(&["--json", "--root", out.to_str().unwrap()]));
            assert_eq!(grown["platform"]["packages"], plain["platform"]["packages"]);
        }
        std::fs::remove_dir_all(&out).unwrap();
    }
    std::fs::remove_dir_all(&machine).unwrap();
}

#[test]
fn capture_of_a_replay_is_a_capture_of_the_replayed_machine() {
    // A bundle captured again (to bring it under today's copy rules) keeps the machine it
    // names, its redaction and the shim's output: the shim of the machine doing the second
    // capture never runs (its NVML is not the captured machine's).
    let first = tmp("recapture-first");
    copy_tree(&fixture("gvisor-h100"), &first);
    let meta_path = first.join(".nvprobe/capture.json");
    let mut meta: Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    let shim = r#"{"protocol":"nvprobe-shim/1","shim_version":"0.1.0","library":{"name":"libnvidia-ml.so.1","path":"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"},"missing_symbols":[],"init":{"function":"nvmlInit_v2"},"nvml_version":"12.550.54.15","driver_version":"550.54.15","cuda_driver_version":"12.4","gpu_count":0,"gpus":[]}"#;
    meta["redacted"] = Value::Bool(true);
    meta["flags"]["cross_check"] = Value::Bool(true);
    meta["shim_output"] = Value::String(format!("{shim}\n"));
    std::fs::write(&meta_path, serde_json::to_string_pretty(&meta).unwrap()).unwrap();

    let second = tmp("recapture-second");
    let o = capture_of(&first, &second, &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let again: Value = serde_json::from_str(
        &std::fs::read_to_string(second.join(".nvprobe/capture.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(again["machine"], meta["machine"], "{again:#}");
    assert_eq!(again["redacted"], true, "{again:#}");
    assert_eq!(again["shim_output"], meta["shim_output"], "{again:#}");
    // Both replay to the same report.
    let replay =
        |dir: &Path| machine_part(json(&nvprobe(&["--json", "--root", dir.to_str().unwrap()])));
    let (a, b) = (replay(&first), replay(&second));
    // The kept output is read (it disagrees with this fixture: the point is that it is there).
    assert_eq!(
        a["cross_check"]["status"], "disagree",
        "{:#}",
        a["cross_check"]
    );
    pretty_assertions::assert_eq!(a, b);
    std::fs::remove_dir_all(&first).unwrap();
    std::fs::remove_dir_all(&second).unwrap();
}
