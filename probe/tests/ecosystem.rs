//! Issue 9, fit the ecosystem: `nvprobe labels` (NFD feature file, GFD label names),
//! `nvprobe export --format shell|conda|wheel-variant|overrides`, and `nvprobe schema` (the
//! JSON Schema of the report, checked against every fixture and against the Rust types).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use nvprobe::crosscheck::Status;
use nvprobe::report::platform_details::{WslAdapter, WslInfo};
use nvprobe::report::{
    CcSource, CrossCheck, Difference, DriverSource, Flavor, PlatformKind, Severity, SourceStatus,
};
use pretty_assertions::assert_eq;
use serde_json::Value;

mod common;
use common::{fixture, fixtures, nvprobe_command, scratch_dir};

/// Every fixture machine, by name, sorted.
fn machines() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("proc").is_dir())
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "{names:?}");
    names
}

/// No `PATH` at all: the exports must not depend on tools found on it.
fn nvprobe(args: &[&str]) -> Output {
    nvprobe_command()
        .args(args)
        .env_remove("PATH")
        .output()
        .expect("run nvprobe")
}

/// `nvprobe ARGS --root FIXTURE`: (exit code, stdout).
fn run(machine: &str, args: &[&str]) -> (i32, String) {
    let root = fixture(machine);
    let mut all = args.to_vec();
    all.extend_from_slice(&["--root", root.to_str().unwrap()]);
    let out = nvprobe(&all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{machine} {args:?}: stderr {stderr}");
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn report(machine: &str) -> Value {
    let (code, out) = run(machine, &["--json"]);
    assert!(code <= 1, "{machine}: exit {code}");
    serde_json::from_str(&out).unwrap()
}

/// `name=value` lines into pairs, in order; every line must have the form.
fn pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not name=value: {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn map(text: &str) -> BTreeMap<String, String> {
    pairs(text).into_iter().collect()
}

// --- Kubernetes ----------------------------------------------------------------------------

/// A label name segment or value: at most 63 characters, `[A-Za-z0-9._-]`, alphanumeric at
/// both ends (values may be empty).
fn k8s_segment_ok(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && (s.is_empty()
            || (s.as_bytes()[0].is_ascii_alphanumeric()
                && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()))
}

/// A qualified label name: an optional DNS-subdomain prefix and `/`, then a non-empty name.
fn k8s_name_ok(name: &str) -> bool {
    let (prefix, local) = name.rsplit_once('/').unwrap_or(("", name));
    let prefix_ok = prefix.len() <= 253
        && prefix.split('.').all(|p| {
            prefix.is_empty()
                || (!p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        });
    prefix_ok && !local.is_empty() && k8s_segment_ok(local)
}

/// GFD's `getArchFamily` (NVIDIA/k8s-device-plugin `internal/lm/resource.go`): 11.x is
/// `undefined` (was `blackwell` here), 13.x `rubin` (was no label).
#[test]
fn ecosystem_gpu_family_is_gfds_table() {
    use nvprobe::export::gpu_family;
    let cases = [
        ((1, 3), "tesla"),
        ((2, 1), "fermi"),
        ((3, 7), "kepler"),
        ((4, 0), "undefined"),
        ((5, 2), "maxwell"),
        ((6, 1), "pascal"),
        ((7, 2), "volta"),
        ((7, 5), "turing"),
        ((8, 6), "ampere"),
        ((8, 9), "ada-lovelace"),
        ((9, 0), "hopper"),
        ((10, 3), "blackwell"),
        ((11, 0), "undefined"),
        ((12, 1), "blackwell"),
        ((13, 0), "rubin"),
        ((14, 0), "undefined"),
    ];
    for ((a, b), want) in cases {
        assert_eq!(gpu_family(a, b), want, "{a}.{b}");
    }
}

#[test]
fn ecosystem_labels_h100x8_match_gfd() {
    let (code, out) = run("bare-metal-h100x8-open-580", &["labels"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "nvidia.com/cuda.driver.major=580\n\
         nvidia.com/cuda.driver.minor=65\n\
         nvidia.com/cuda.driver.rev=06\n\
         nvidia.com/cuda.runtime.major=13\n\
         nvidia.com/cuda.runtime.minor=0\n\
         nvidia.com/cuda.driver-version.major=580\n\
         nvidia.com/cuda.driver-version.minor=65\n\
         nvidia.com/cuda.driver-version.revision=06\n\
         nvidia.com/cuda.driver-version.full=580.65.06\n\
         nvidia.com/cuda.runtime-version.major=13\n\
         nvidia.com/cuda.runtime-version.minor=0\n\
         nvidia.com/cuda.runtime-version.full=13.0\n\
         nvidia.com/gpu.count=8\n\
         nvidia.com/gpu.product=NVIDIA-H100-80GB-HBM3\n\
         nvidia.com/gpu.family=hopper\n\
         nvidia.com/gpu.compute.major=9\n\
         nvidia.com/gpu.compute.minor=0\n\
         nvprobe.gpu.mixed=false\n\
         nvprobe.platform=bare-metal\n\
         nvprobe.cuda=yes\n\
         nvprobe.healthy=true\n"
    );
}

/// One label set per node: a mixed node is described by its GPU with the lowest compute
/// capability, whatever the bus order, and says it is mixed.
#[test]
fn ecosystem_labels_mixed_node_takes_lowest_compute_capability() {
    let r = report("mixed-a4000-rtx4090-570");
    // The fixture puts the newer GPU first on the bus: the rule, not the order, must pick.
    assert_eq!(r["gpus"][0]["compute_capability"], "8.9");
    assert_eq!(r["gpus"][1]["compute_capability"], "8.6");
    let (code, out) = run("mixed-a4000-rtx4090-570", &["labels"]);
    assert_eq!(code, 0);
    let l = map(&out);
    assert_eq!(l["nvidia.com/gpu.count"], "2");
    assert_eq!(l["nvidia.com/gpu.product"], "NVIDIA-RTX-A4000");
    assert_eq!(l["nvidia.com/gpu.family"], "ampere");
    assert_eq!(l["nvidia.com/gpu.compute.major"], "8");
    assert_eq!(l["nvidia.com/gpu.compute.minor"], "6");
    assert_eq!(l["nvidia.com/cuda.driver.major"], "570");
    assert_eq!(l["nvidia.com/cuda.driver.minor"], "195");
    assert_eq!(l["nvidia.com/cuda.driver.rev"], "03");
    assert_eq!(l["nvidia.com/cuda.runtime.major"], "12");
    assert_eq!(l["nvidia.com/cuda.runtime.minor"], "8");
    assert_eq!(l["nvprobe.gpu.mixed"], "true");
    // No GPU memory without --deep: the label is left out, never guessed.
    assert!(!l.contains_key("nvidia.com/gpu.memory"));
}

/// Every fixture: exit 0 (a broken node still gets labels, `nvprobe.healthy=false`), valid
/// Kubernetes names and values, no duplicates, values that agree with the report, and the
/// same labels as `--json`.
#[test]
fn ecosystem_labels_every_fixture_valid_and_consistent() {
    for m in machines() {
        let r = report(&m);
        let (code, out) = run(&m, &["labels"]);
        assert_eq!(code, 0, "{m}");
        let lines = pairs(&out);
        let l: BTreeMap<_, _> = lines.iter().cloned().collect();
        assert_eq!(l.len(), lines.len(), "{m}: duplicate label");
        for (k, v) in &lines {
            assert!(k8s_name_ok(k), "{m}: label name {k:?}");
            assert!(k8s_segment_ok(v), "{m}: label value {k}={v:?}");
        }
        let gpus = r["gpus"].as_array().unwrap();
        let has_error = r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error");
        assert_eq!(l["nvprobe.healthy"], (!has_error).to_string(), "{m}");
        assert_eq!(
            l["nvprobe.platform"],
            r["platform"]["kind"].as_str().unwrap()
        );
        let nvidia = l.keys().filter(|k| k.starts_with("nvidia.com/")).count();
        assert_eq!(
            l["nvprobe.cuda"],
            r["cuda"]["can_start"].as_str().unwrap(),
            "{m}"
        );
        // GFD writes device labels only where NVML (CUDA on Tegra) starts: the rules say
        // where, and which GPUs it lists.
        let gfd: Vec<&Value> = r["cuda"]["gfd_gpus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &gpus[usize::try_from(i.as_u64().unwrap()).unwrap()])
            .collect();
        if r["cuda"]["gfd_labels"] != "yes" || gfd.is_empty() {
            assert_eq!(nvidia, 0, "{m}: nvidia.com labels where GFD writes none");
            continue;
        }
        assert_eq!(l["nvidia.com/gpu.count"], gfd.len().to_string(), "{m}");
        if r["driver"].is_null() {
            assert!(!l.contains_key("nvidia.com/cuda.driver.major"), "{m}");
        } else {
            assert_eq!(
                l["nvidia.com/cuda.driver.major"],
                r["driver"]["branch"].to_string(),
                "{m}"
            );
            let runtime = l
                .get("nvidia.com/cuda.runtime.major")
                .map(|a| format!("{a}.{}", l["nvidia.com/cuda.runtime.minor"]));
            assert_eq!(
                runtime.as_deref(),
                r["driver"]["cuda_version"].as_str(),
                "{m}"
            );
        }
        let min_cc = gfd
            .iter()
            .filter_map(|g| g["compute_capability"].as_str())
            .map(|c| {
                let (a, b) = c.split_once('.').unwrap();
                (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
            })
            .min();
        let labelled = l.get("nvidia.com/gpu.compute.major").map(|a| {
            (
                a.parse::<u32>().unwrap(),
                l["nvidia.com/gpu.compute.minor"].parse::<u32>().unwrap(),
            )
        });
        assert_eq!(labelled, min_cc, "{m}");
        // --json: the same labels.
        let (code, json) = run(&m, &["labels", "--json"]);
        assert_eq!(code, 0);
        let json: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
        assert_eq!(json, l, "{m}");
    }
}

/// NFD's `local` source (node-feature-discovery `source/local/local.go`): files in
/// `/etc/kubernetes/node-feature-discovery/features.d/` of at most 65,536 bytes, each line
/// trimmed, `#` lines comments (`# +` a directive), `key[=value]` split at the first `=`,
/// value `true` when absent; unprefixed keys get `feature.node.kubernetes.io/` (nfd-master,
/// until the `DisableAutoPrefix` gate), which denies other `kubernetes.io`/`k8s.io` namespaces.
fn nfd_feature_file(text: &str) -> BTreeMap<String, String> {
    assert!(text.len() <= 65_536, "over NFD's feature-file limit");
    text.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.to_owned(), "true".to_owned()),
        })
        .map(|(k, v)| {
            let k = if k.contains('/') {
                k
            } else {
                format!("feature.node.kubernetes.io/{k}")
            };
            (k, v)
        })
        .collect()
}

/// `nvprobe labels` is a feature file NFD reads as written: the labels nfd-master would set
/// are `labels --json`, each a valid label in a namespace NFD accepts.
#[test]
fn ecosystem_labels_are_an_nfd_feature_file() {
    for m in machines() {
        let (_, out) = run(&m, &["labels"]);
        assert!(out.lines().all(|l| l == l.trim() && !l.is_empty()), "{m}");
        let nfd = nfd_feature_file(&out);
        let (_, json) = run(&m, &["labels", "--json"]);
        let json: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            nfd.len(),
            json.len(),
            "{m}: a label lost or merged by NFD's parse"
        );
        for (k, v) in &json {
            let key = if k.contains('/') {
                k.clone()
            } else {
                format!("feature.node.kubernetes.io/{k}")
            };
            assert_eq!(nfd.get(&key), Some(v), "{m}: {k}");
        }
        for k in nfd.keys() {
            assert!(k8s_name_ok(k), "{m}: {k}");
            let ns = k.split_once('/').unwrap().0;
            let denied = (ns == "kubernetes.io"
                || ns.ends_with(".kubernetes.io")
                || ns == "k8s.io"
                || ns.ends_with(".k8s.io"))
                && ns != "feature.node.kubernetes.io";
            assert!(!denied, "{m}: nfd-master denies the namespace of {k}");
        }
    }
}

/// `labels --output FILE` (the FROM scratch image has no shell to redirect): the same labels,
/// written under the sandbox through a dot file renamed over FILE, nothing on stdout, nothing
/// left beside it; a missing directory is a usage error.
#[test]
fn ecosystem_labels_output_replaces_the_feature_file() {
    let dir = scratch_dir("ecosystem", "labels-output");
    let file = dir.join("nvprobe");
    std::fs::write(&file, "nvprobe.stale=true\n").unwrap();
    let m = "mixed-a4000-rtx4090-570";
    let (code, out) = run(m, &["labels", "--output", file.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (_, labels) = run(m, &["labels"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), labels);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["nvprobe"], "nothing left beside the file");
    let missing = dir.join("no-such-dir/nvprobe");
    let out = nvprobe_command()
        .args(["labels", "--output", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ecosystem_labels_no_gpu_node_gets_no_nvidia_labels() {
    let (code, out) = run("no-gpu", &["labels"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "nvprobe.platform=bare-metal\nnvprobe.cuda=no\nnvprobe.healthy=true\n"
    );
}

/// A GPU whose driver is not loaded, or whose libraries do not match the module: GFD's NVML
/// fails there and it writes no device labels, so neither do we (a selector written for GFD
/// must not schedule GPU pods onto the node); the node is unhealthy, CUDA cannot start, and
/// the exit code is still 0 (an NFD hook that exits non-zero has its output dropped). Before
/// (issue 19): `gpu.count`, `gpu.product` and `gpu.compute.*` were written.
#[test]
fn ecosystem_labels_broken_node_is_labelled_unhealthy() {
    for m in [
        "kernel-update-no-dkms",
        "mismatch-l40s-550",
        "nouveau",
        "permission-denied-l40s-open-550",
    ] {
        let (code, out) = run(m, &["labels"]);
        assert_eq!(code, 0);
        let l = map(&out);
        assert!(
            !l.keys().any(|k| k.starts_with("nvidia.com/")),
            "{m}: {l:?}"
        );
        assert_eq!(l["nvprobe.healthy"], "false", "{m}");
        assert_eq!(l["nvprobe.cuda"], "no", "{m}");
    }
    // NVML works without the fabric manager: GFD labels the node, CUDA cannot start (802).
    let (_, out) = run("hgx-h100-no-fabricmanager-570", &["labels"]);
    let l = map(&out);
    assert_eq!(l["nvidia.com/gpu.count"], "2");
    assert_eq!(
        (l["nvprobe.cuda"].as_str(), l["nvprobe.healthy"].as_str()),
        ("no", "false")
    );
}

/// conda's own detection (it loads `libcuda.so.1` and needs `cuInit` to succeed; CEP 46:
/// `__cuda_arch` is the lowest compute capability of the devices CUDA can use), on every
/// fixture machine. Before (issue 19) a container without libcuda, one without
/// `/dev/nvidia-uvm`, a library mismatch, a missing fabric manager, denied device nodes and a
/// rejected cuda-compat library all said `__cuda`, and Jetson said nothing.
#[test]
fn ecosystem_conda_follows_condas_detection_on_every_fixture() {
    let want = [
        (
            "bare-metal-h100x8-open-580",
            "__cuda=13.0=0 __cuda_arch=9.0=0",
        ),
        ("compat-geforce-rtx4090-550", ""),
        ("container-a100-proprietary-535", ""),
        // Under a virtual-GPU manager CUDA starts: the manager limits it, never stops it.
        (
            "container-gpu-manager-570",
            "__cuda=12.8=0 __cuda_arch=9.0=0",
        ),
        (
            "container-hami-580-cuda11",
            "__cuda=13.0=0 __cuda_arch=9.0=0",
        ),
        (
            "container-h100-535-compat-12.9",
            "__cuda=12.9=0 __cuda_arch=9.0=0",
        ),
        ("container-missing-nodes", ""),
        ("container-no-gpu-injected", ""),
        (
            "container-visible-subset",
            "__cuda=12.8=0 __cuda_arch=9.0=0",
        ),
        ("dkms-no-headers-550", ""),
        ("dkms-secure-boot-mok-not-enrolled", ""),
        (
            "dpkg-desktop-flavour-orphans-570",
            "__cuda=12.8=0 __cuda_arch=9.0=0",
        ),
        ("dpkg-split-branch-530-535", ""),
        ("gvisor-h100", "__cuda=13.0=0 __cuda_arch=9.0=0"),
        ("gvisor-no-nvproxy", ""),
        (
            "h100-pcie-proprietary-535",
            "__cuda=12.2=0 __cuda_arch=9.0=0",
        ),
        ("hgx-h100-no-fabricmanager-570", ""),
        ("jetson-orin-container-no-runtime", ""),
        ("jetson-orin-l4t-36", "__cuda=12.6=0 __cuda_arch=8.7=0"),
        ("kernel-update-no-dkms", ""),
        ("kernel-6.8-driver-545-no-module", ""),
        (
            "legacy-k80-proprietary-470",
            "__cuda=11.4=0 __cuda_arch=3.7=0",
        ),
        ("mismatch-l40s-550", ""),
        ("mixed-a4000-rtx4090-570", "__cuda=12.8=0 __cuda_arch=8.6=0"),
        ("no-gpu", ""),
        ("nodes-missing-rtx5090-open-570", ""),
        ("nouveau", ""),
        ("pascal-gtx1080ti-580", "__cuda=13.0=0 __cuda_arch=6.1=0"),
        ("pascal-unbound-open-590", ""),
        ("permission-denied-l40s-open-550", ""),
        // libcuda 550 with the 560 module loaded: cuInit fails (803), conda sees no __cuda.
        ("rpm-split-branch-550-560", ""),
        (
            "rtx4090-565-toolkit-wheels",
            "__cuda=12.7=0 __cuda_arch=8.9=0",
        ),
        ("rtx5090-open-570", "__cuda=12.8=0 __cuda_arch=12.0=0"),
        ("wsl2-ldconfig-off", ""),
        ("wsl2-rtx4070", "__cuda=12.6=0 __cuda_arch=8.9=0"),
    ];
    assert_eq!(
        want.len(),
        machines().len(),
        "a fixture without an expectation"
    );
    for (m, packages) in want {
        let (code, out) = run(m, &["export", "--format", "conda"]);
        assert_eq!(code, 0, "{m}");
        let got: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(got.join(" "), packages, "{m}");
        // The overrides pin the same: empty (no __cuda) where CUDA cannot start.
        let (_, ov) = run(m, &["export", "--format", "overrides"]);
        let ov = map(&ov);
        let cuda = packages
            .split(' ')
            .find_map(|p| p.strip_prefix("__cuda="))
            .map(|v| v.trim_end_matches("=0"));
        assert_eq!(
            ov.get("CONDA_OVERRIDE_CUDA").map(String::as_str),
            Some(cuda.unwrap_or("")),
            "{m}"
        );
    }
}

/// A container that sees one of its host's GPUs: `__cuda_arch` is that GPU's, not the lowest
/// in sysfs. Here the two hidden H100s of the fixture become A100s (8.0).
#[test]
fn ecosystem_conda_arch_counts_only_the_visible_gpus() {
    let dir = common::Scratch::absent("eco-visible");
    common::copy_tree(&common::fixture("container-visible-subset"), &dir);
    for bus in ["1b", "43"] {
        let dev = dir.join(format!(
            "sys/devices/pci0000:{bus}/0000:{bus}:01.0/0000:{bus}:00.0"
        ));
        std::fs::write(dev.join("device"), "0x20b2\n").unwrap();
        let ue = std::fs::read_to_string(dev.join("uevent")).unwrap();
        std::fs::write(dev.join("uevent"), ue.replace("10DE:2330", "10DE:20B2")).unwrap();
    }
    let out = common::nvprobe(&[
        "--root",
        dir.to_str().unwrap(),
        "export",
        "--format",
        "conda",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let shell = common::nvprobe(&[
        "--root",
        dir.to_str().unwrap(),
        "export",
        "--format",
        "shell",
    ]);
    let shell = String::from_utf8(shell.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(text.contains("__cuda_arch=9.0=0"), "{text}");
    // The machine still has the A100s: the shell variables describe every GPU.
    assert!(shell.contains("NVPROBE_CC_MIN=8.0\n"), "{shell}");
}

// --- Package managers ----------------------------------------------------------------------

#[test]
fn ecosystem_conda_virtual_packages() {
    let (code, out) = run(
        "bare-metal-h100x8-open-580",
        &["export", "--format", "conda"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "# cuda_arch_min: 9.0\n# cuda_arch_max: 9.0\n__cuda=13.0=0\n__cuda_arch=9.0=0\n"
    );
    // Mixed: __cuda_arch is the minimum (CEP 46); the header gives both.
    let (_, out) = run("mixed-a4000-rtx4090-570", &["export", "--format", "conda"]);
    assert_eq!(
        out,
        "# cuda_arch_min: 8.6\n# cuda_arch_max: 8.9\n__cuda=12.8=0\n__cuda_arch=8.6=0\n"
    );
    let (_, json) = run(
        "mixed-a4000-rtx4090-570",
        &["export", "--format", "conda", "--json"],
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "virtual_packages": [
                {"name": "__cuda", "version": "12.8", "build": "0"},
                {"name": "__cuda_arch", "version": "8.6", "build": "0"}
            ],
            "cuda_arch": {"min": "8.6", "max": "8.9"}
        })
    );
    // Forward compatibility active: a CUDA program here gets the cuda-compat library's 12.9,
    // not the R535 driver's 12.2 — that is what conda's own detection would see.
    let (_, out) = run(
        "container-h100-535-compat-12.9",
        &["export", "--format", "conda"],
    );
    assert!(out.contains("__cuda=12.9=0\n"), "{out}");
    // A cuda-compat library the driver rejects: cuInit fails, so conda has no __cuda.
    let (_, out) = run(
        "compat-geforce-rtx4090-550",
        &["export", "--format", "conda"],
    );
    assert_eq!(out, "");
    for m in ["no-gpu", "kernel-update-no-dkms"] {
        let (code, out) = run(m, &["export", "--format", "conda"]);
        assert_eq!((code, out.as_str()), (0, ""), "{m}");
    }
}

/// The shell lines survive `eval` in a POSIX shell, for every fixture, and give back the
/// values of `--json`.
#[test]
fn ecosystem_shell_lines_eval_in_sh() {
    for m in machines() {
        let (code, text) = run(&m, &["export", "--format", "shell"]);
        assert_eq!(code, 0, "{m}");
        let (_, json) = run(&m, &["export", "--format", "shell", "--json"]);
        let json: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
        let names: Vec<&str> = json.keys().map(String::as_str).collect();
        // Print each variable back, NUL-separated, after eval.
        let script = format!(
            "eval \"$NVPROBE_TEXT\" || exit 9; for v in {}; do eval \"printf '%s=%s\\0' $v \\\"\\${{$v}}\\\"\"; done",
            names.join(" ")
        );
        let out = Command::new("sh")
            .args(["-c", &script])
            .env("NVPROBE_TEXT", &text)
            .output()
            .unwrap();
        assert!(out.status.success(), "{m}: {text}");
        let back: BTreeMap<String, String> = String::from_utf8(out.stdout)
            .unwrap()
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect();
        assert_eq!(back, json, "{m}");
        // Never the names of the override variables: exporting these must not turn
        // detection off in a later run.
        for o in [
            "NVPROBE_DRIVER_VERSION",
            "NVPROBE_CUDA_VERSION",
            "NVPROBE_COMPUTE_CAPABILITY",
        ] {
            assert!(!json.contains_key(o), "{m}: {o}");
        }
    }
    let (_, text) = run("mixed-a4000-rtx4090-570", &["export", "--format", "shell"]);
    assert_eq!(
        text,
        "NVPROBE_PLATFORM=bare-metal\nNVPROBE_DRIVER=570.195.03\nNVPROBE_DRIVER_BRANCH=570\n\
         NVPROBE_DRIVER_CUDA=12.8\nNVPROBE_CUDA=12.8\nNVPROBE_CUDA_CAN_START=yes\n\
         NVPROBE_GPU_COUNT=2\nNVPROBE_CC_MIN=8.6\n\
         NVPROBE_CC_MAX=8.9\nNVPROBE_SM_ARCHS='86 89'\nNVPROBE_HEALTHY=true\nNVPROBE_ERRORS=''\n"
    );
    let (_, text) = run("kernel-update-no-dkms", &["export", "--format", "shell"]);
    let vars = map(&text);
    assert_eq!(
        vars["NVPROBE_ERRORS"],
        "'module-not-built-for-kernel driver-not-loaded'"
    );
    assert_eq!(vars["NVPROBE_DRIVER"], "''");
}

/// nvidia-variant-provider's properties: UMD lower bounds from the CUDA version down to 11,
/// upper bounds from 15.20 down to just above it, and `sm_arch` from the *highest* GPU.
#[test]
fn ecosystem_wheel_variant_properties() {
    let (code, out) = run(
        "mixed-a4000-rtx4090-570",
        &["export", "--format", "wheel-variant"],
    );
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    let of = |feature: &str| -> Vec<&str> {
        let prefix = format!("nvidia :: {feature} :: ");
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect()
    };
    let lower = of("cuda_version_lower_bound");
    assert_eq!(lower.len(), 32, "{lower:?}");
    assert_eq!(&lower[..3], ["12.8", "12.7", "12.6"]);
    assert_eq!(&lower[8..11], ["12.0", "12", "11.20"]);
    assert_eq!(lower.last(), Some(&"11"));
    let upper = of("cuda_version_upper_bound");
    assert_eq!(upper.first(), Some(&"15.20"));
    assert_eq!(upper.last(), Some(&"12.9"));
    assert_eq!(upper.len(), 3 * 22 + 12);
    assert!(!upper.contains(&"12"), "the own major is no upper bound");
    assert_eq!(
        of("sm_arch"),
        [
            "89_real",
            "88_real",
            "87_real",
            "86_real",
            "85_real",
            "84_real",
            "83_real",
            "82_real",
            "81_real",
            "80_real",
            "80_virtual"
        ]
    );
    // Priority order: lower bounds, then upper bounds, then SM.
    assert!(lines[0].contains("lower_bound") && lines.last().unwrap().contains("sm_arch"));
    let (_, json) = run(
        "mixed-a4000-rtx4090-570",
        &["export", "--format", "wheel-variant", "--json"],
    );
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["namespace"], "nvidia");
    assert_eq!(json["features"][2]["name"], "sm_arch");
    assert_eq!(json["features"][2]["multi_value"], true);
    assert_eq!(json["features"][0]["values"].as_array().unwrap().len(), 32);
    // A Kepler K80 (3.7) is below the provider's SM floor (5.0): CUDA bounds only.
    let (_, out) = run(
        "legacy-k80-proprietary-470",
        &["export", "--format", "wheel-variant"],
    );
    assert!(
        out.starts_with("nvidia :: cuda_version_lower_bound :: 11.4\n"),
        "{out}"
    );
    assert!(!out.contains("sm_arch"), "{out}");
    // No driver: no properties at all (the provider returns no configs).
    let (code, out) = run("no-gpu", &["export", "--format", "wheel-variant"]);
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn ecosystem_overrides_for_uv_conda_pixi_and_variants() {
    let (code, out) = run(
        "mixed-a4000-rtx4090-570",
        &["export", "--format", "overrides"],
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "UV_CUDA_DRIVER_VERSION=570.195.03\n\
         CONDA_OVERRIDE_CUDA=12.8\n\
         CONDA_OVERRIDE_CUDA_ARCH=8.6\n\
         NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION=12.8\n\
         NV_VARIANT_PROVIDER_FORCE_SM_ARCH=8.9\n"
    );
    // No usable driver: the empty conda overrides remove __cuda and __cuda_arch.
    let (_, out) = run("no-gpu", &["export", "--format", "overrides"]);
    assert_eq!(out, "CONDA_OVERRIDE_CUDA=\nCONDA_OVERRIDE_CUDA_ARCH=\n");
    // Every fixture: plain values (`export $(...)` and `--env-file` need no quoting), and the
    // same values as the conda and wheel-variant outputs.
    for m in machines() {
        let (_, out) = run(&m, &["export", "--format", "overrides"]);
        let o = map(&out);
        for (k, v) in &o {
            assert!(
                v.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
                "{m}: {k}={v}"
            );
        }
        let (_, conda) = run(&m, &["export", "--format", "conda", "--json"]);
        let conda: Value = serde_json::from_str(&conda).unwrap();
        let cuda = conda["virtual_packages"][0]["version"]
            .as_str()
            .unwrap_or("");
        assert_eq!(o["CONDA_OVERRIDE_CUDA"], cuda, "{m}");
        if let Some(max) = conda["cuda_arch"]["max"].as_str() {
            assert_eq!(o["NV_VARIANT_PROVIDER_FORCE_SM_ARCH"], max, "{m}");
            assert_eq!(
                o["CONDA_OVERRIDE_CUDA_ARCH"],
                conda["cuda_arch"]["min"].as_str().unwrap(),
                "{m}"
            );
        }
    }
}

#[test]
fn ecosystem_export_usage_errors_exit_2() {
    for args in [
        &["export"][..],
        &["export", "--format", "yaml"],
        &["labels", "extra"],
        &["schema", "--format", "shell"],
    ] {
        let out = nvprobe(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn ecosystem_help_teaches_with_examples() {
    let out = nvprobe(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for s in [
        "Examples:",
        "labels",
        "export",
        "schema",
        "check --cuda 12.8",
    ] {
        assert!(help.contains(s), "{s}: {help}");
    }
    for (cmd, s) in [
        ("labels", "features.d/nvprobe"),
        ("export", "--format overrides"),
        ("check", "--require"),
    ] {
        let out = nvprobe(&[cmd, "--help"]);
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(
            help.contains("Examples:") && help.contains(s),
            "{cmd}: {help}"
        );
    }
}

// --- The schema ------------------------------------------------------------------------------

fn schema() -> Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// A validator for the subset of JSON Schema 2020-12 the report schema uses: `type` (a name or
/// a list), `const`, `enum`, `properties`, `required`, `additionalProperties: false`,
/// `items`, `$ref` to `#/$defs/...`, `anyOf`, `minimum`. Any other keyword is an error, so
/// the schema cannot silently rely on something this does not check.
fn validate(root: &Value, schema: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let s = schema.as_object().unwrap();
    for k in s.keys() {
        assert!(
            [
                "$schema",
                "title",
                "description",
                "type",
                "const",
                "enum",
                "properties",
                "required",
                "additionalProperties",
                "items",
                "$ref",
                "$defs",
                "anyOf",
                "minimum"
            ]
            .contains(&k.as_str()),
            "unsupported schema keyword {k} at {path}"
        );
    }
    if let Some(r) = s.get("$ref") {
        let name = r.as_str().unwrap().strip_prefix("#/$defs/").unwrap();
        validate(root, &root["$defs"][name], v, path, errors);
    }
    if let Some(any) = s.get("anyOf") {
        let ok = any.as_array().unwrap().iter().any(|alt| {
            let mut e = Vec::new();
            validate(root, alt, v, path, &mut e);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{path}: matches no alternative: {v}"));
        }
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().map(|x| x.as_str().unwrap()).collect(),
            _ => panic!("bad type at {path}"),
        };
        let ok = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => v.is_u64() || v.is_i64(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            other => panic!("type {other} at {path}"),
        });
        if !ok {
            errors.push(format!("{path}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errors.push(format!("{path}: {v} is not {c}"));
    }
    if let Some(e) = s.get("enum")
        && !e.as_array().unwrap().contains(v)
    {
        errors.push(format!("{path}: {v} is not one of {e}"));
    }
    if let (Some(min), Some(n)) = (s.get("minimum"), v.as_f64())
        && n < min.as_f64().unwrap()
    {
        errors.push(format!("{path}: {n} < {min}"));
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(root, items, x, &format!("{path}[{i}]"), errors);
        }
    }
    if let Some(o) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{path}: missing required {r}"));
            }
        }
        for (k, x) in o {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, x, &format!("{path}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unexpected property {k}"));
                }
                None => {}
            }
        }
    }
}

fn assert_valid(doc: &Value, what: &str) {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, doc, "$", &mut errors);
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

/// Records, per schema object (a `$defs` name or `$` for the root), which properties occur in
/// a document.
fn record_seen(root: &Value, schema: &Value, name: &str, v: &Value, seen: &mut BTreeSet<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let def = r.strip_prefix("#/$defs/").unwrap();
        return record_seen(root, &root["$defs"][def], def, v, seen);
    }
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
        for alt in any {
            record_seen(root, alt, name, v, seen);
        }
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if let Some(ps) = schema.get("properties").and_then(|p| p.get(k)) {
                    seen.insert(format!("{name}.{k}"));
                    record_seen(root, ps, name, x, seen);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = schema.get("items") {
                for x in a {
                    record_seen(root, items, name, x, seen);
                }
            }
        }
        _ => {}
    }
}

/// The documents the schema must describe: every fixture's `--json` report, every fixture's
/// `check --json`, `check --require`, and one report with the parts no fixture has (a
/// cross-check with a difference, GPU memory).
fn documents() -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for m in machines() {
        docs.push((format!("{m} --json"), report(&m)));
        let (code, out) = run(&m, &["check", "--cuda", "12.4", "--json"]);
        assert!(code <= 1, "{m}: check exit {code}");
        docs.push((format!("{m} check"), serde_json::from_str(&out).unwrap()));
    }
    let (_, out) = run(
        "bare-metal-h100x8-open-580",
        &["check", "--require", "cuda>=12.0 brand=tesla", "--json"],
    );
    docs.push((
        "check --require".to_owned(),
        serde_json::from_str(&out).unwrap(),
    ));
    // check --binary, with its parts, on a real nvcc-built library.
    let lib =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda-files/libconcat.so");
    let (_, out) = run(
        "mixed-a4000-rtx4090-570",
        &["check", "--binary", lib.to_str().unwrap(), "--json"],
    );
    docs.push((
        "check --binary".to_owned(),
        serde_json::from_str(&out).unwrap(),
    ));
    // check --python: a framework with its parts, and a CPU-only one.
    let venvs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/venvs");
    for venv in ["torch-cu124", "torch-cpu"] {
        let (_, out) = run(
            "rtx5090-open-570",
            &[
                "check",
                "--python",
                venvs.join(venv).to_str().unwrap(),
                "--json",
            ],
        );
        docs.push((
            format!("check --python {venv}"),
            serde_json::from_str(&out).unwrap(),
        ));
    }
    let mut r = nvprobe::probe(&nvprobe::Options::new(nvprobe::root::Root::at(fixture(
        "bare-metal-h100x8-open-580",
    ))));
    // Struct literals: a field added to these types fails to compile here until it is set.
    r.cross_check = Some(CrossCheck {
        status: nvprobe::crosscheck::Status::Disagree.as_str().to_owned(),
        differences: vec![Difference {
            field: "gpus[0].memory_bytes".to_owned(),
            probe: None,
            nvml: Some("85520809984".to_owned()),
        }],
    });
    r.gpus[0].memory_bytes = Some(85_520_809_984);
    // The WSL2 fixtures' /dev/dxg is a stand-in, so no fixture lists an adapter.
    r.platform.details.wsl = Some(WslInfo {
        adapters: vec![WslAdapter {
            luid: "0x0_0xc2a1".to_owned(),
            vendor_id: Some("0x10de".parse().unwrap()),
            device_id: Some("0x2786".parse().unwrap()),
            subsystem_vendor_id: Some("0x1043".parse().unwrap()),
            subsystem_device_id: Some("0x88f1".parse().unwrap()),
            flags: vec!["render".to_owned()],
            host_pci: Some("1:0.0".to_owned()),
            name: Some("NVIDIA GeForce RTX 4070".to_owned()),
            umd_version: Some("32.0.15.6094".to_owned()),
            problems: Vec::new(),
        }],
        ..WslInfo::default()
    });
    docs.push(("synthetic".to_owned(), serde_json::to_value(&r).unwrap()));
    docs
}

#[test]
fn ecosystem_schema_command_prints_the_repository_file() {
    let out = nvprobe(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, schema());
    assert_eq!(
        printed["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
}

/// Every report and check result the fixtures give validates, and every property the schema
/// names occurs in at least one of them (no stale entries).
#[test]
fn ecosystem_schema_validates_every_fixture_and_has_no_stale_entries() {
    let root = schema();
    let mut seen = BTreeSet::new();
    for (what, doc) in documents() {
        assert_valid(&doc, &what);
        record_seen(&root, &root, "$", &doc, &mut seen);
    }
    let mut declared = BTreeSet::new();
    let mut objects = vec![("$".to_owned(), &root)];
    for (name, def) in root["$defs"].as_object().unwrap() {
        objects.push((name.clone(), def));
    }
    for (name, def) in objects {
        for k in def["properties"].as_object().unwrap().keys() {
            declared.insert(format!("{name}.{k}"));
        }
    }
    let stale: Vec<_> = declared.difference(&seen).collect();
    assert!(stale.is_empty(), "in the schema, in no report: {stale:?}");
    // And a broken document is caught, so the checks above can fail.
    let mut bad = report("mixed-a4000-rtx4090-570");
    bad["gpus"][0]["new_field"] = Value::Bool(true);
    bad["driver"].as_object_mut().unwrap().remove("branch");
    bad["findings"] =
        serde_json::json!([{"code": "x", "severity": "fatal", "message": "", "remedy": ""}]);
    let mut errors = Vec::new();
    validate(&root, &root, &bad, "$", &mut errors);
    assert_eq!(errors.len(), 3, "{errors:?}");
}

fn names<T: serde::Serialize>(all: &[T]) -> BTreeSet<String> {
    all.iter()
        .map(|v| {
            serde_json::to_value(v)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}
fn schema_enum(root: &Value, def: &str, prop: &str) -> BTreeSet<String> {
    root["$defs"][def]["properties"][prop]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// The schema's shape keeps it in step with the Rust types: every object is closed
/// (`additionalProperties: false`) and requires every property it lists (serde writes every
/// field, `null` when absent), except the sections serde skips when they do not apply. With
/// the fixture validation above, a field added to or removed from a Rust type fails a test
/// until the schema follows. Enums are compared with every variant of the Rust enum.
#[test]
fn ecosystem_schema_matches_the_rust_types() {
    let root = schema();
    let optional: BTreeMap<&str, BTreeSet<&str>> = [
        ("$", BTreeSet::from(["check"])),
        ("CheckItem", BTreeSet::from(["parts", "framework"])),
        (
            "Platform",
            BTreeSet::from([
                "wsl",
                "gvisor",
                "tegra",
                "container",
                "vgpu_manager",
                "kernel_build",
                "packages",
            ]),
        ),
    ]
    .into();
    let mut objects = vec![("$".to_owned(), &root)];
    for (name, def) in root["$defs"].as_object().unwrap() {
        objects.push((name.clone(), def));
    }
    for (name, def) in &objects {
        assert_eq!(def["type"], "object", "{name}");
        assert_eq!(def["additionalProperties"], false, "{name}");
        let props: BTreeSet<&str> = def["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let required: BTreeSet<&str> = def["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let expected: BTreeSet<&str> = props
            .difference(optional.get(name.as_str()).unwrap_or(&BTreeSet::new()))
            .copied()
            .collect();
        assert_eq!(required, expected, "{name}: required");
    }
    // Each list is checked complete by an exhaustive match: a new variant fails to compile.
    let kinds = [
        PlatformKind::BareMetal,
        PlatformKind::Container,
        PlatformKind::Wsl2,
        PlatformKind::Gvisor,
        PlatformKind::Tegra,
    ];
    for k in kinds {
        match k {
            PlatformKind::BareMetal
            | PlatformKind::Container
            | PlatformKind::Wsl2
            | PlatformKind::Gvisor
            | PlatformKind::Tegra => {}
        }
    }
    assert_eq!(names(&kinds), schema_enum(&root, "Platform", "kind"));
    let flavors = [
        Flavor::Open,
        Flavor::Proprietary,
        Flavor::Wsl,
        Flavor::Unknown,
    ];
    for f in flavors {
        match f {
            Flavor::Open | Flavor::Proprietary | Flavor::Wsl | Flavor::Unknown => {}
        }
    }
    assert_eq!(names(&flavors), schema_enum(&root, "Driver", "flavor"));
    let sources = [
        DriverSource::Ioctl,
        DriverSource::Procfs,
        DriverSource::Sysfs,
        DriverSource::Dxg,
        DriverSource::Nvml,
        DriverSource::Override,
    ];
    for s in sources {
        match s {
            DriverSource::Ioctl
            | DriverSource::Procfs
            | DriverSource::Sysfs
            | DriverSource::Dxg
            | DriverSource::Nvml
            | DriverSource::Override => {}
        }
    }
    assert_eq!(names(&sources), schema_enum(&root, "Driver", "source"));
    let cc = [
        CcSource::ArchInfo,
        CcSource::PciTable,
        CcSource::Nvml,
        CcSource::Override,
        CcSource::SocTable,
    ];
    for c in cc {
        match c {
            CcSource::ArchInfo
            | CcSource::PciTable
            | CcSource::Nvml
            | CcSource::Override
            | CcSource::SocTable => {}
        }
    }
    assert_eq!(
        names(&cc),
        schema_enum(&root, "Gpu", "compute_capability_source")
    );
    let statuses = [
        SourceStatus::Ok,
        SourceStatus::Absent,
        SourceStatus::Denied,
        SourceStatus::Failed,
        SourceStatus::Timeout,
        SourceStatus::Skipped,
    ];
    for s in statuses {
        match s {
            SourceStatus::Ok
            | SourceStatus::Absent
            | SourceStatus::Denied
            | SourceStatus::Failed
            | SourceStatus::Timeout
            | SourceStatus::Skipped => {}
        }
    }
    assert_eq!(names(&statuses), schema_enum(&root, "Source", "status"));
    let severities = [Severity::Error, Severity::Warning, Severity::Info];
    for s in severities {
        match s {
            Severity::Error | Severity::Warning | Severity::Info => {}
        }
    }
    assert_eq!(
        names(&severities),
        schema_enum(&root, "Finding", "severity")
    );
    let cross = [
        Status::Agree,
        Status::Disagree,
        Status::Unavailable,
        Status::Failed,
        Status::Timeout,
    ];
    for s in cross {
        match s {
            Status::Agree
            | Status::Disagree
            | Status::Unavailable
            | Status::Failed
            | Status::Timeout => {}
        }
    }
    let cross: BTreeSet<String> = cross.iter().map(|s| s.as_str().to_owned()).collect();
    assert_eq!(cross, schema_enum(&root, "CrossCheck", "status"));
}
