//! `nvprobe explain` through the real binary: every message of the table on a fixture machine
//! where one of its causes is present (exit 1, the finding named) and on one where none is
//! (exit 0, "none of the known causes is present" with what was checked); unknown text (exit
//! 4); an incomplete report (unknown, exit 1); `--json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use serde_json::Value;

mod common;
use common::{fixture, nvprobe, nvprobe_env};

const HEALTHY: &str = "bare-metal-h100x8-open-580";

/// (message as pasted, a fixture where a cause is present, the finding code (or `condition`),
/// a fixture where none is).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "CUDA driver version is insufficient for CUDA runtime version",
        "kernel-update-no-dkms",
        "module-not-built-for-kernel",
        HEALTHY,
    ),
    (
        "RuntimeError: CUDA error: no kernel image is available for execution on the device",
        "pascal-unbound-open-590",
        "arch-unsupported-by-driver",
        HEALTHY,
    ),
    (
        "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        "compat-geforce-rtx4090-550",
        "forward-compat-unsupported",
        HEALTHY,
    ),
    (
        "CUDA_ERROR_INVALID_IMAGE",
        "mismatch-l40s-550",
        "driver-library-mismatch",
        HEALTHY,
    ),
    (
        "cudaErrorInitializationError",
        "nodes-missing-rtx5090-open-570",
        "device-nodes-missing",
        HEALTHY,
    ),
    (
        "cuInit 100",
        "container-no-gpu-injected",
        "container-gpu-not-visible",
        HEALTHY,
    ),
    (
        "cuInit returned 802",
        "hgx-h100-no-fabricmanager-570",
        "fabric-manager-missing",
        HEALTHY,
    ),
    (
        "cuInit failed with error 803",
        "mismatch-l40s-550",
        "driver-library-mismatch",
        HEALTHY,
    ),
    (
        "cuInit 804",
        "compat-geforce-rtx4090-550",
        "forward-compat-unsupported",
        // Forward compatibility that is accepted (an info finding) is not a cause.
        "container-h100-535-compat-12.9",
    ),
    (
        "cuInit 999",
        "permission-denied-l40s-open-550",
        "device-permission-denied",
        HEALTHY,
    ),
    (
        "Failed to initialize NVML: Driver/library version mismatch",
        "mismatch-l40s-550",
        "driver-library-mismatch",
        HEALTHY,
    ),
    (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
        "kernel-update-no-dkms",
        "module-not-built-for-kernel",
        HEALTHY,
    ),
    (
        "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
        "dkms-no-headers-550",
        "kernel-headers-missing",
        HEALTHY,
    ),
    (
        "modprobe: ERROR: could not insert 'nvidia': Unknown symbol in module, or unknown parameter (see dmesg)",
        "kernel-update-no-dkms",
        "module-not-built-for-kernel",
        HEALTHY,
    ),
    (
        "nvidia: module verification failed: signature and/or required key missing - tainting kernel",
        "kernel-update-no-dkms",
        "driver-not-loaded",
        HEALTHY,
    ),
    (
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, please update your driver to a newer version, or use an earlier cuda container: unknown",
        "container-a100-proprietary-535",
        "condition",
        HEALTHY,
    ),
];

fn explain(machine: &str, text: &str) -> (Value, i32) {
    let root = fixture(machine);
    let out = nvprobe(&["explain", "--json", "--root", root.to_str().unwrap(), text]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{text}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

/// Each message: the cause is named where present, and "none present" elsewhere.
#[test]
fn explain_every_message_on_fixture_machines() {
    for (text, with, code, without) in CASES {
        let (v, rc) = explain(with, text);
        let e = &v["explain"];
        assert_eq!(
            (rc, e["verdict"].as_str()),
            (1, Some("cause-present")),
            "{text} on {with}: {e:#}"
        );
        if *code == "condition" {
            assert_eq!(e["requirement"]["verdict"], "not-satisfied", "{e:#}");
        } else {
            let present: Vec<&str> = e["present"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["code"].as_str().unwrap())
                .collect();
            assert!(present.contains(code), "{text} on {with}: {present:?}");
        }
        assert!(
            e["messages"][0]["source"]
                .as_str()
                .unwrap()
                .contains("https://")
        );
        let (v, rc) = explain(without, text);
        let e = &v["explain"];
        assert_eq!(
            (rc, e["verdict"].as_str()),
            (0, Some("none-present")),
            "{text} on {without}: {e:#}"
        );
        assert!(e["present"].as_array().unwrap().is_empty());
        assert!(!e["checked"].as_array().unwrap().is_empty());
    }
}

/// The text answer: the meaning, its source, the cause with its fix; or "none of the known
/// causes is present" with what was checked and what nvprobe does not check.
#[test]
fn explain_text_output() {
    let root = fixture("mismatch-l40s-550");
    let out = nvprobe(&[
        "explain",
        "--root",
        root.to_str().unwrap(),
        "Failed to initialize NVML: Driver/library version mismatch",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("The cause found here:"), "{text}");
    assert!(text.contains("driver-library-mismatch [error]"), "{text}");
    assert!(text.contains("fix: "), "{text}");
    assert!(
        text.contains("source: NVIDIA/ubuntu-packaging-nvidia-driver issue 3"),
        "{text}"
    );
    let root = fixture(HEALTHY);
    // Options before the command, words unquoted.
    let out = nvprobe(&[
        "--root",
        root.to_str().unwrap(),
        "explain",
        "CUDA",
        "driver",
        "version",
        "is",
        "insufficient",
        "for",
        "CUDA",
        "runtime",
        "version",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("None of the known causes is present here."),
        "{text}"
    );
    assert!(
        text.contains("Checked here:\n  driver-not-loaded"),
        "{text}"
    );
    assert!(text.contains("Not checked by nvprobe:"), "{text}");
    assert!(text.contains("nvprobe check --cuda"), "{text}");
    assert!(text.contains("8x NVIDIA H100 80GB HBM3 (sm_90)"), "{text}");
}

/// Text that matches no message: said so, exit 4, nothing probed; escapes not printed raw.
#[test]
fn explain_unknown_message() {
    let out = nvprobe(&["explain", "my \u{1b}[31mcat is on the keyboard"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("matches no known message"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    let out = nvprobe(&["explain", "--json", "segmentation fault"]);
    assert_eq!(out.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["explain"]["verdict"], "unknown-message");
    // No text: a usage error.
    assert_eq!(nvprobe(&["explain"]).status.code(), Some(2));
}

/// A report cut by the deadline rules nothing out: unknown, exit 1, never "none present".
#[test]
fn explain_incomplete_report_is_unknown() {
    let root = fixture(HEALTHY);
    let out = nvprobe_env(
        &[
            "explain",
            "--json",
            "--timeout",
            "300",
            "--root",
            root.to_str().unwrap(),
            "cuInit 803",
        ],
        &[("NVPROBE_TEST_STALL", "sysfs-pci:30000")],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["explain"]["verdict"], "unknown", "{:#}", v["explain"]);
}

/// "Unknown symbol in module" on a kernel 6.8 machine with driver 545.29.02 installed: the
/// known-bad combination (with its source) is among the causes found.
#[test]
fn explain_unknown_symbol_names_the_known_bad_combination() {
    let (v, rc) = explain(
        "kernel-6.8-driver-545-no-module",
        "modprobe: ERROR: could not insert 'nvidia': Unknown symbol in module, or unknown parameter (see dmesg)",
    );
    assert_eq!(rc, 1);
    let present: Vec<&str> = v["explain"]["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(present.contains(&"known-bad-kernel-driver"), "{present:?}");
    assert!(
        v["explain"]["present"]
            .to_string()
            .contains("nixpkgs/issues/296773")
    );
}
