//! Runs the real `nvprobe` binary on the fixture machines under `tests/fixtures` and checks the
//! JSON report, the text report and the exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::process::Command;

use serde_json::Value;

mod common;
use common::{codes, fixture, fixtures, nvprobe};

/// Runs `nvprobe --json --root <fixture>` and returns (exit code, report).
fn json_report(name: &str) -> (i32, Value) {
    let root = fixture(name);
    let out = nvprobe(&["--json", "--root", root.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not one JSON object ({e}): {stdout}"));
    // The typed round trip: the report must deserialise into the library's own type.
    let typed: nvprobe::report::Report = serde_json::from_str(&stdout).expect("typed report");
    assert_eq!(typed.schema_version, 1);
    (out.status.code().expect("exit code"), report)
}

fn source_status(report: &Value, name: &str) -> String {
    report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}"))["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn cli_h100x8_healthy_bare_metal() {
    let (code, r) = json_report("bare-metal-h100x8-open-580");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["platform"]["kind"], "bare-metal");
    assert_eq!(r["platform"]["kernel_release"], "6.8.0-49-generic");
    assert_eq!(r["driver"]["version"], "580.65.06");
    assert_eq!(r["driver"]["branch"], 580);
    assert_eq!(r["driver"]["flavor"], "open");
    assert_eq!(r["driver"]["cuda_version"], "13.0");
    assert_eq!(r["driver"]["source"], "sysfs");
    let gpus = r["gpus"].as_array().unwrap();
    // 8 GPUs; the 4 NVSwitches (class 0x0680) and the BMC's ASPEED VGA are not GPUs.
    assert_eq!(gpus.len(), 8);
    let buses: Vec<&str> = gpus
        .iter()
        .map(|g| g["pci"]["bus_id"].as_str().unwrap())
        .collect();
    let mut sorted = buses.clone();
    sorted.sort_unstable();
    assert_eq!(buses, sorted, "PCI bus order");
    for (i, g) in gpus.iter().enumerate() {
        assert_eq!(g["index"], i);
        assert_eq!(g["pci"]["vendor_id"], "0x10de");
        assert_eq!(g["pci"]["device_id"], "0x2330");
        assert_eq!(g["pci"]["subsystem_device_id"], "0x16c1");
        assert_eq!(g["pci"]["class"], "0x030200");
        assert_eq!(g["kernel_driver"], "nvidia");
        assert_eq!(g["name"], "NVIDIA H100 80GB HBM3");
        assert_eq!(g["minor_number"], i);
        assert!(g["uuid"].as_str().unwrap().starts_with("GPU-"));
    }
    assert!(codes(&r).iter().all(|c| c != "no-nvidia-gpu"));
    for s in [
        "sysfs-module",
        "procfs-version",
        "procfs-gpus",
        "sysfs-pci",
        "device-nodes",
    ] {
        assert_eq!(source_status(&r, s), "ok", "{s}");
    }
}

#[test]
fn cli_no_gpu_says_why() {
    let (code, r) = json_report("no-gpu");
    assert_eq!(code, 0);
    assert_eq!(r["driver"], Value::Null);
    assert_eq!(r["gpus"], serde_json::json!([]));
    assert_eq!(codes(&r), ["no-nvidia-gpu"]);
    assert_eq!(r["findings"][0]["severity"], "info");
    assert!(
        r["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PCI bus")
    );
    assert_eq!(source_status(&r, "sysfs-module"), "absent");
    assert_eq!(source_status(&r, "procfs-version"), "absent");
}

#[test]
fn cli_kernel_update_without_dkms() {
    let (code, r) = json_report("kernel-update-no-dkms");
    assert_eq!(code, 1);
    assert_eq!(
        codes(&r),
        ["module-not-built-for-kernel", "driver-not-loaded"]
    );
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("6.8.0-51-generic") && msg.contains("6.8.0-49-generic"),
        "{msg}"
    );
    let remedy = r["findings"][0]["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("dkms autoinstall -k 6.8.0-51-generic"),
        "{remedy}"
    );
    let installed = r["kernel_modules"]["installed"].as_array().unwrap();
    assert!(installed.iter().any(|m| {
        m["name"] == "nvidia"
            && m["kernel_release"] == "6.8.0-49-generic"
            && m["path"]
                .as_str()
                .unwrap()
                .ends_with("updates/dkms/nvidia.ko.zst")
    }));
    assert!(installed.iter().all(|m| m["running_kernel"] == false));
    // The GPU is listed although no driver is bound; its audio function is not.
    assert_eq!(r["gpus"].as_array().unwrap().len(), 1);
    assert_eq!(r["gpus"][0]["kernel_driver"], Value::Null);
}

#[test]
fn cli_nouveau_bound() {
    let (code, r) = json_report("nouveau");
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["nouveau-bound"]);
    assert_eq!(r["gpus"][0]["kernel_driver"], "nouveau");
    let loaded = r["kernel_modules"]["loaded"].as_array().unwrap();
    assert!(loaded.iter().any(|m| m["name"] == "nouveau"));
    assert!(
        r["findings"][0]["remedy"]
            .as_str()
            .unwrap()
            .contains("blacklist nouveau")
    );
}

#[test]
fn cli_container_with_procfs_copies() {
    let (code, r) = json_report("container-a100-proprietary-535");
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["platform"]["kind"], "container");
    assert_eq!(r["platform"]["in_container"], true);
    let hints = r["platform"]["hints"].to_string();
    assert!(
        hints.contains("/.dockerenv") && hints.contains("ModifyDeviceFiles"),
        "{hints}"
    );
    assert!(hints.contains("overlay"), "{hints}");
    assert_eq!(r["driver"]["flavor"], "proprietary");
    assert_eq!(r["driver"]["version"], "535.216.03");
    assert_eq!(r["driver"]["cuda_version"], "12.2");
    assert_eq!(r["driver"]["params"]["modify_device_files"], 0);
    // sysfs shows both host GPUs; procfs (and /dev) only the one given to this container.
    let gpus = r["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 2);
    assert_eq!(gpus[1]["uuid"], "GPU-a3f0c2de-6b1d-4f7a-9c55-0e3d2b7f8a19");
    assert_eq!(gpus[1]["minor_number"], 1);
    assert_eq!(gpus[0]["uuid"], Value::Null);
}

#[test]
fn cli_permission_denied() {
    let (code, r) = json_report("permission-denied-l40s-open-550");
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["device-permission-denied"]);
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("/dev/nvidiactl (mode 0660, group 44)"),
        "{msg}"
    );
    assert!(msg.contains("/dev/nvidia0"), "{msg}");
    let nodes = r["device_nodes"].as_array().unwrap();
    assert!(
        nodes
            .iter()
            .all(|n| n["access"] == "denied" && n["kind"] == "char")
    );
}

#[test]
fn cli_nodes_missing() {
    let (code, r) = json_report("nodes-missing-rtx5090-open-570");
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["device-nodes-missing"]);
    let msg = r["findings"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("/dev/nvidiactl") && msg.contains("/dev/nvidia0"),
        "{msg}"
    );
    assert_eq!(r["driver"]["cuda_version"], "12.8");
}

#[test]
fn cli_legacy_470_proprietary() {
    let (code, r) = json_report("legacy-k80-proprietary-470");
    assert_eq!(code, 0);
    assert_eq!(r["driver"]["version"], "470.161.03");
    assert_eq!(r["driver"]["flavor"], "proprietary");
    assert_eq!(r["driver"]["cuda_version"], "11.4");
    assert_eq!(
        r["driver"]["version_line"],
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.161.03  Wed Oct 19 00:10:36 UTC 2022"
    );
    assert_eq!(r["gpus"].as_array().unwrap().len(), 2);
}

#[test]
fn cli_pascal_left_unbound_by_590() {
    let (code, r) = json_report("pascal-unbound-open-590");
    // The doctor (issue 6) names the cause: R590 no longer drives Pascal.
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["arch-unsupported-by-driver", "gpu-not-bound"]);
    assert_eq!(r["findings"][1]["severity"], "warning");
    assert_eq!(r["driver"]["cuda_version"], "13.1");
}

#[test]
fn cli_every_fixture_reports_with_the_documented_exit_code() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_dir() || !path.join("proc").exists() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let (code, r) = json_report(&name);
        let findings = r["findings"].as_array().unwrap();
        let has_error = findings.iter().any(|f| f["severity"] == "error");
        assert_eq!(code, i32::from(has_error), "{name}");
        for f in findings {
            for key in ["code", "severity", "message", "remedy"] {
                assert!(!f[key].as_str().unwrap().is_empty(), "{name}: empty {key}");
            }
        }
        // The text report renders too, with the same exit code.
        let out = nvprobe(&["--root", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(code), "{name} text");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("nvprobe "), "{name}: {text}");
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} fixture machines");
}

#[test]
fn cli_text_report_names_cause_and_fix() {
    let out = nvprobe(&["--root", fixture("kernel-update-no-dkms").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ERROR   module-not-built-for-kernel"),
        "{text}"
    );
    assert!(text.contains("Fix: Build the module"), "{text}");
    assert!(text.find("module-not-built").unwrap() < text.find("driver-not-loaded").unwrap());
}

#[test]
fn cli_usage_errors_exit_2() {
    let out = nvprobe(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "usage errors go to stderr");
    assert_eq!(nvprobe(&["--timeout", "0"]).status.code(), Some(2));
    assert_eq!(nvprobe(&["--timeout", "soon"]).status.code(), Some(2));
}

#[test]
fn cli_help_and_version_exit_0() {
    let out = nvprobe(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("--root") && help.contains("--json") && help.contains("Exit codes"));
    let out = nvprobe(&["--version"]);
    let version = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        version.trim(),
        concat!("nvprobe ", env!("CARGO_PKG_VERSION"))
    );
}

/// Each subcommand's own help starts with the summary the top-level help lists for it. The
/// subcommands' arguments are built lazily (clap's `defer`), after their summaries: a doc
/// comment on an argument struct would then replace the subcommand's about.
#[test]
fn cli_subcommand_help_starts_with_its_summary() {
    let top = String::from_utf8(nvprobe(&["--help"]).stdout).unwrap();
    let listed: Vec<(String, String)> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            Some((name.to_owned(), about.trim().to_owned()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(listed.len() >= 8, "{top}");
    for (name, about) in listed {
        for flag in ["-h", "--help"] {
            let out = nvprobe(&[&name, flag]);
            assert_eq!(out.status.code(), Some(0), "{name} {flag}");
            let help = String::from_utf8(out.stdout).unwrap();
            // The short about drops the summary's final full stop; the long one keeps it.
            let first = help
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches('.');
            assert_eq!(first, about, "{name} {flag}:\n{help}");
        }
    }
}

/// A `--root` that does not exist is a usage error, not a machine without a GPU (issue 18).
#[test]
fn cli_missing_root_is_a_usage_error() {
    let out = nvprobe(&["--json", "--root", "/nonexistent/nvprobe-root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("nvprobe: --root /nonexistent/nvprobe-root: "),
        "{err}"
    );
}

/// A machine built of hostile input: garbage bytes, truncated lines, a symlink loop, a FIFO
/// where a text file belongs, directories where files belong, a 1 GiB (sparse) file. The probe
/// must write a valid report without panicking.
#[test]
fn cli_hostile_root_gives_a_report() {
    use std::fs;
    use std::os::unix::fs::symlink;
    let dir = common::Scratch::new("hostile");
    let w = |p: &str, data: &[u8]| {
        let full = dir.join(p);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, data).unwrap();
    };
    w("proc/sys/kernel/osrelease", b"\xff\xfe\x00garbage");
    w("sys/module/nvidia/version", b"\x00\x01\x02");
    w(
        "proc/driver/nvidia/params",
        b"ModifyDeviceFiles: 99999999999999999999\nDeviceFileMode: -1\n:::\n",
    );
    w(
        "proc/driver/nvidia/gpus/0000:01:00.0/information",
        b"Model: \t\t NVIDIA \xff\nDevice Minor: \t 4294967296\nBus Location: \t",
    );
    w("proc/modules", b"nvidia\nnvidia 1 2 3 4 5 (\n\x00\x00\n");
    w("sys/bus/pci/devices/0000:01:00.0/vendor", b"0x10de\n");
    w("sys/bus/pci/devices/0000:01:00.0/class", b"0xffffffffff\n");
    w("sys/bus/pci/devices/0000:01:00.0/device", b"0x12345\n");
    fs::create_dir_all(dir.join("sys/bus/pci/devices/0000:01:00.0/driver")).unwrap();
    w("sys/bus/pci/devices/0000:01:00.0/uevent", b"DRIVER=\n");
    // A self-referencing link: resolving it must stop, not loop.
    symlink(
        "/sys/bus/pci/devices/0000:02:00.0",
        dir.join("sys/bus/pci/devices/0000:02:00.0"),
    )
    .unwrap();
    w("dev/nvidiactl", b"open=EACCES\nmode=77777777777777\n");
    fs::create_dir_all(dir.join("dev/nvidia0")).unwrap();
    fs::create_dir_all(dir.join("proc/driver/nvidia/version")).unwrap();
    let fifo = dir.join("sys/module/nvidia/taint");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    fs::create_dir_all(dir.join("lib/modules/6.0.0")).unwrap();
    let f = fs::File::create(dir.join("lib/modules/6.0.0/modules.dep")).unwrap();
    f.set_len(1 << 30).unwrap(); // 1 GiB, sparse
    symlink(
        "../../../lib/modules/6.0.0",
        dir.join("lib/modules/6.0.0/loop"),
    )
    .unwrap();

    let out = nvprobe(&[
        "--json",
        "--root",
        dir.to_str().unwrap(),
        "--timeout",
        "5000",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?} {stderr}",
        out.status
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(source_status(&r, "sysfs-module"), "failed");
    assert_eq!(source_status(&r, "procfs-version"), "failed");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn cli_every_fixture_gpu_has_chip_architecture_name_and_cc_from_pci_id() {
    let expect = [
        ("bare-metal-h100x8-open-580", "GH100", "Hopper", "9.0"),
        ("container-a100-proprietary-535", "GA100", "Ampere", "8.0"),
        ("kernel-update-no-dkms", "AD102", "Ada", "8.9"),
        ("legacy-k80-proprietary-470", "GK210", "Kepler", "3.7"),
        (
            "nodes-missing-rtx5090-open-570",
            "GB202",
            "Blackwell",
            "12.0",
        ),
        ("nouveau", "GP104", "Pascal", "6.1"),
        ("pascal-unbound-open-590", "GP102", "Pascal", "6.1"),
        ("permission-denied-l40s-open-550", "AD102", "Ada", "8.9"),
    ];
    for (name, chip, arch, cc) in expect {
        let (_, r) = json_report(name);
        for g in r["gpus"].as_array().unwrap() {
            assert_eq!(g["chip"], chip, "{name}");
            assert_eq!(g["architecture"], arch, "{name}");
            assert_eq!(g["compute_capability"], cc, "{name}");
            assert_eq!(g["compute_capability_source"], "pci-table", "{name}");
            assert!(g["name"].as_str().is_some_and(|n| !n.is_empty()), "{name}");
        }
    }
    // A GPU no source named gets its name from the table (the container's hidden A100).
    let (_, r) = json_report("container-a100-proprietary-535");
    assert_eq!(r["gpus"][0]["name"], "NVIDIA A100-SXM4-40GB");
}

/// A chip whose compute capability is not verified (GB112) is reported as unknown, with the
/// reason, never guessed.
#[test]
fn cli_unverified_chip_has_null_compute_capability_and_a_reason() {
    use std::fs;
    let dir = common::Scratch::new("gb112");
    let dev = dir.join("sys/bus/pci/devices/0000:01:00.0");
    fs::create_dir_all(&dev).unwrap();
    for (attr, value) in [
        ("vendor", "0x10de"),
        ("device", "0x3200"),
        ("class", "0x030200"),
    ] {
        fs::write(dev.join(attr), format!("{value}\n")).unwrap();
    }
    fs::create_dir_all(dir.join("proc/sys/kernel")).unwrap();
    fs::write(dir.join("proc/sys/kernel/osrelease"), "6.8.0-49-generic\n").unwrap();
    let out = nvprobe(&["--json", "--root", dir.to_str().unwrap()]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = &r["gpus"][0];
    assert_eq!(g["chip"], "GB112");
    assert_eq!(g["compute_capability"], Value::Null);
    assert_eq!(g["compute_capability_source"], Value::Null);
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "compute-capability-unknown")
        .expect("a finding says why");
    assert_eq!(f["severity"], "info");
    assert!(f["message"].as_str().unwrap().contains("GPU 0"), "{f}");
    let _ = fs::remove_dir_all(&dir);
}

/// A panic (a bug: no input should cause one) ends the binary with exit code 3 and a message
/// on stderr, not an abort. The test runs itself again as the child that installs the binary's
/// hook and panics.
#[test]
fn cli_panic_exits_3_with_a_message() {
    const CHILD: &str = "NVPROBE_TEST_PANIC_CHILD";
    if std::env::var_os(CHILD).is_some() {
        nvprobe::app::exit_3_on_panic();
        panic!("a deliberate test panic");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "cli_panic_exits_3_with_a_message",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        stderr.contains("nvprobe: internal error (a bug): panicked at")
            && stderr.contains("a deliberate test panic")
            && stderr.contains("nvprobe capture --out DIR"),
        "{stderr}"
    );
}

/// Every finding raised on every fixture machine is in the catalogue, with a severity the
/// catalogue lists for it (issue 19: one catalogue of codes).
#[test]
fn cli_every_finding_is_in_the_catalogue() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for extra in [&[][..], &["--deep"][..], &["check", "--cuda", "13.0"][..]] {
            let mut args = vec!["--json", "--root", dir.to_str().unwrap()];
            args.extend_from_slice(extra);
            let out = nvprobe(&args);
            let r: Value = serde_json::from_slice(&out.stdout).unwrap();
            for f in r["findings"].as_array().unwrap() {
                let code = f["code"].as_str().unwrap();
                let entry = nvprobe::codes::lookup(code)
                    .unwrap_or_else(|| panic!("{}: {code} is not in the catalogue", dir.display()));
                let sev = f["severity"].as_str().unwrap();
                assert!(
                    entry.severities.iter().any(|s| s.as_str() == sev),
                    "{}: {code} raised as {sev}",
                    dir.display()
                );
            }
        }
    }
}
