//! The embeddable API (`nvprobe::api`): the same answers as the binary on every fixture, and a
//! capture bundle replayed through the library exactly as `nvprobe --root DIR` replays it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use nvprobe::api::{CanStart, ComputeCapability, CudaVersion, Machine};
use serde_json::Value;

mod common;
use common::{fixture, fixtures, nvprobe, scratch_dir};

/// The `PATH` the hermetic binary runs with ([`common::nvprobe_command`]).
const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// A report without the `sandbox` source, which only the binary has.
fn without_sandbox(mut report: Value) -> Value {
    report["sources"]
        .as_array_mut()
        .unwrap()
        .retain(|s| s["name"] != "sandbox");
    report
}

fn binary_report(root: &std::path::Path) -> Value {
    let out = nvprobe(&["--root", root.to_str().unwrap(), "--json"]);
    assert!(out.status.code().unwrap() <= 1, "{out:?}");
    without_sandbox(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn api_report_is_the_binary_report_on_every_fixture() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let root = entry.unwrap().path();
        let machine = Machine::at(&root).env([("PATH", PATH)]);
        let report = machine.report().unwrap();
        let lib: Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(lib, binary_report(&root), "{}", root.display());

        // The typed answer is the report's `cuda` object, converted.
        let cuda = machine.cuda().unwrap();
        let usable = report.cuda.usable_gpus.len();
        assert_eq!(
            cuda.compute_capabilities.len(),
            usable,
            "{}",
            root.display()
        );
        assert_eq!(
            cuda.driver_version.as_ref(),
            report.driver.as_ref().map(|d| &d.version),
            "{}",
            root.display()
        );
        assert_eq!(cuda.cuda_version, report.cuda.version, "{}", root.display());
        assert_eq!(
            cuda.can_start == CanStart::Yes,
            report.cuda.can_start == nvprobe::report::Answer::Yes
        );
        seen += 1;
    }
    assert!(seen >= 20, "only {seen} fixtures");
}

/// Fixture machines with a source broken in the ways the completeness rule counts (absent
/// kernel release, a version file that does not parse, a directory where a file belongs, a
/// mangled `ld.so.cache`): the answer there must be unknown, never a confident yes.
fn broken_machines() -> Vec<common::Scratch> {
    let cases: &[(&str, &str, &str, Option<&[u8]>)] = &[
        (
            "no-osrelease",
            "bare-metal-h100x8-open-580",
            "proc/sys/kernel/osrelease",
            None,
        ),
        (
            "bad-procver",
            "bare-metal-h100x8-open-580",
            "proc/driver/nvidia/version",
            Some(b"NVRM garbage\n"),
        ),
        (
            "bad-sysver",
            "container-a100-proprietary-535",
            "sys/module/nvidia/version",
            Some(b"\xff\xfe\n"),
        ),
        (
            "bad-ldcache",
            "rtx5090-open-570",
            "etc/ld.so.cache",
            Some(b"glibc-ld.so.cache1.1 truncated"),
        ),
        (
            "dir-modules",
            "hgx-h100-no-fabricmanager-570",
            "proc/modules",
            Some(b""),
        ),
    ];
    cases
        .iter()
        .map(|(name, from, path, content)| {
            let dir = scratch_dir("api-broken", name);
            common::copy_tree(&fixture(from), &dir);
            let target = dir.join(path);
            let _ = std::fs::remove_file(&target);
            match content {
                // An empty content: a directory where the file belongs, so the read fails.
                Some([]) => std::fs::create_dir_all(&target).unwrap(),
                Some(b) => std::fs::write(&target, b).unwrap(),
                None => {}
            }
            dir
        })
        .collect()
}

/// An NVSwitch host whose fabric manager package is of another version than the driver: CUDA
/// cannot start there, and a cuda-only run must read the package database to say so.
fn fabric_manager_of_another_version() -> common::Scratch {
    let dir = scratch_dir("api-fabric", "fm-575");
    common::copy_tree(&fixture("bare-metal-h100x8-open-580"), &dir);
    let status = dir.join("var/lib/dpkg/status");
    let text = std::fs::read_to_string(&status).unwrap();
    assert!(text.contains("Version: 580.65.06"), "{text}");
    std::fs::write(
        &status,
        text.replace("Version: 580.65.06", "Version: 575.57.08"),
    )
    .unwrap();
    dir
}

/// `Machine::cuda` runs without the stages `report.cuda` does not depend on: on every fixture
/// and on broken copies of some, its `cuda` object, driver and GPUs are the full run's, field
/// for field, and so is the typed answer.
#[test]
fn api_cuda_only_run_answers_as_the_full_report_on_every_fixture() {
    let mut answers = std::collections::BTreeSet::new();
    let mut seen = 0;
    let broken = broken_machines();
    let fabric = fabric_manager_of_another_version();
    let roots = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain(broken.iter().map(|b| b.to_path_buf()))
        .chain(std::iter::once(fabric.to_path_buf()));
    for root in roots {
        let machine = Machine::at(&root).env([("PATH", PATH)]);
        let full = machine.report().unwrap();
        let fast = machine.cuda_report().unwrap();
        assert_eq!(json(&fast.cuda), json(&full.cuda), "{}", root.display());
        assert_eq!(json(&fast.driver), json(&full.driver), "{}", root.display());
        let ccs = |r: &nvprobe::report::Report| {
            r.gpus
                .iter()
                .map(|g| (g.index, g.pci.bus_id.clone(), g.compute_capability))
                .collect::<Vec<_>>()
        };
        assert_eq!(ccs(&fast), ccs(&full), "{}", root.display());
        let cuda = machine.cuda().unwrap();
        let can = match full.cuda.can_start {
            nvprobe::report::Answer::Yes => CanStart::Yes,
            nvprobe::report::Answer::No => CanStart::No,
            nvprobe::report::Answer::Unknown => CanStart::Unknown,
        };
        assert_eq!(cuda.can_start, can, "{}", root.display());
        // The broken copies by name: a checkout under /tmp (CI's clean clone) holds the
        // fixtures there too.
        if broken.iter().any(|b| **b == *root) {
            assert_eq!(cuda.can_start, CanStart::Unknown, "{}", root.display());
        }
        if *root == *fabric {
            assert_eq!(cuda.can_start, CanStart::No, "{}", root.display());
        }
        answers.insert(format!("{can:?}"));
        seen += 1;
    }
    assert!(seen >= 25, "only {seen} machines");
    // Every answer is compared, the unknown ones included.
    assert_eq!(answers.len(), 3, "{answers:?}");
}

/// Nothing is kept between two calls on one `Machine`: an `ld.so.cache` rewritten between them
/// (an `ldconfig`, here a mangled one) shows in the next answer.
#[test]
fn api_calls_read_the_machine_afresh() {
    let dir = scratch_dir("api-fresh", "rtx5090");
    common::copy_tree(&fixture("rtx5090-open-570"), &dir);
    let machine = Machine::at(&dir).env([("PATH", PATH)]);
    assert_eq!(machine.cuda().unwrap().can_start, CanStart::Yes);
    std::fs::write(
        dir.join("etc/ld.so.cache"),
        b"glibc-ld.so.cache1.1 truncated",
    )
    .unwrap();
    assert_eq!(machine.cuda().unwrap().can_start, CanStart::Unknown);
    assert_eq!(
        machine.report().unwrap().cuda.can_start,
        nvprobe::report::Answer::Unknown
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A report part as JSON, to compare.
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap()
}

#[test]
fn api_cuda_typed_values() {
    let cuda = Machine::at(fixture("mixed-a4000-rtx4090-570"))
        .cuda()
        .unwrap();
    assert_eq!(cuda.can_start, CanStart::Yes);
    let driver = cuda.driver_version.clone().unwrap();
    assert_eq!((driver.major(), driver.parts()), (570, &[570, 195, 3][..]));
    assert_eq!(driver.to_string(), "570.195.03");
    assert_eq!(
        cuda.cuda_version,
        Some(CudaVersion {
            major: 12,
            minor: 8
        })
    );
    let cc = |major, minor| ComputeCapability { major, minor };
    assert_eq!(cuda.compute_capabilities, [cc(8, 9), cc(8, 6)]);
    assert_eq!(cuda.min_compute_capability(), Some(cc(8, 6)));
    assert_eq!(cuda.max_compute_capability(), Some(cc(8, 9)));

    // No driver: nothing to use, and says so.
    let none = Machine::at(fixture("no-gpu")).cuda().unwrap();
    assert_eq!(none.can_start, CanStart::No);
    assert_eq!((none.driver_version, none.cuda_version), (None, None));
    assert!(none.compute_capabilities.is_empty());

    // A GPU the driver no longer supports: the driver is there, no GPU is usable.
    let pascal = Machine::at(fixture("pascal-unbound-open-590"))
        .cuda()
        .unwrap();
    assert_eq!(pascal.can_start, CanStart::No);
    assert!(pascal.driver_version.is_some());
    assert!(pascal.compute_capabilities.is_empty());
}

/// `Machine::at(capture)` replays the bundle (ioctl replies, environment, flags) as the
/// binary's `--root` does; before the API, the library had no stable way to do it.
#[test]
fn api_replays_a_capture_like_root() {
    let dir = scratch_dir("api", "capture");
    let bundle = dir.join("bundle");
    let out = nvprobe(&[
        "--root",
        fixture("bare-metal-h100x8-open-580").to_str().unwrap(),
        "capture",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    assert!(out.status.code().unwrap() <= 1, "{out:?}");
    let report = Machine::at(&bundle).report().unwrap();
    let lib: Value = serde_json::from_str(&report.to_json()).unwrap();
    assert!(
        lib["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "capture"),
        "replayed as a capture: {lib:#}"
    );
    assert_eq!(lib, binary_report(&bundle));
    let cuda = Machine::at(&bundle).cuda().unwrap();
    assert_eq!(cuda.compute_capabilities.len(), 8);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deadline too short for anything still answers, or says the deadline passed: never a
/// hang, and never a healthy answer from a run the deadline cut short.
#[test]
fn api_deadline_is_kept() {
    let machine =
        Machine::at(fixture("bare-metal-h100x8-open-580")).timeout(std::time::Duration::ZERO);
    let started = std::time::Instant::now();
    match machine.report() {
        // The worker may, rarely, finish before the caller looks: then the report is whole.
        Ok(report) => {
            if report
                .findings
                .iter()
                .any(|f| f.code == "deadline-exceeded")
            {
                assert_ne!(report.cuda.can_start, nvprobe::report::Answer::Yes);
            }
        }
        Err(e) => assert!(e.to_string().contains("deadline"), "{e}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
