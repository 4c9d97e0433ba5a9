//! `nvprobe compare` through the real binary: fixture reports with a mixed driver branch,
//! capture bundles, a directory of both, `kubectl get nodes -o json` built from `nvprobe
//! labels --json`, and hostile inputs (symlinks out of the directory, FIFOs, huge or mangled
//! files).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

mod common;
use common::{fixture, make_char_node, nvprobe, opens_of, scratch_dir};

/// `nvprobe --json --root <fixture>` written to `dir/<fixture>.json`.
fn report_file(dir: &Path, name: &str) -> PathBuf {
    let out = nvprobe(&["--json", "--root", fixture(name).to_str().unwrap()]);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

/// `nvprobe capture --root <fixture>` into `dir/bundle`.
fn capture(dir: &Path, name: &str) -> PathBuf {
    let bundle = dir.join("bundle");
    let cap = nvprobe(&[
        "capture",
        "--out",
        bundle.to_str().unwrap(),
        "--root",
        fixture(name).to_str().unwrap(),
        "--timeout",
        "30000",
    ]);
    assert_eq!(
        cap.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cap.stderr)
    );
    bundle
}

fn compare_json(args: &[&str]) -> (Value, i32) {
    let mut a = vec!["compare", "--json"];
    a.extend_from_slice(args);
    let out = nvprobe(&a);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (v, out.status.code().unwrap())
}

fn dimension<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["compare"]["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {v:#}"))
}

/// Three nodes on 535 and one on 550: the branch differs (error, NCCL named), the GPU models
/// are listed per node, exit 1.
#[test]
fn compare_fixture_reports_with_mixed_branch() {
    let dir = scratch_dir("compare", "mixed");
    let mut paths = Vec::new();
    for f in [
        "container-a100-proprietary-535",
        "container-h100-535-compat-12.9",
        "mismatch-l40s-550",
    ] {
        paths.push(report_file(&dir, f));
    }
    let args: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
    let (v, code) = compare_json(&args);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["compare"]["verdict"], "differs");
    let branch = dimension(&v, "driver_branch");
    assert_eq!(branch["differs"], true);
    assert_eq!(branch["severity"], "error");
    assert_eq!(branch["groups"][0]["value"], "535");
    assert_eq!(branch["groups"][0]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(branch["groups"][1]["value"], "550");
    assert_eq!(dimension(&v, "cuda_version")["differs"], true);
    assert_eq!(dimension(&v, "gpus")["differs"], true);
    // Text: the difference, where, and why it matters.
    let out = nvprobe(&[&["compare"], args.as_slice()].concat());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("error: the driver branch is not the same on every node"),
        "{text}"
    );
    assert!(text.contains("NCCL"), "{text}");
    assert!(text.contains("550 on 1 node(s)"), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

/// The same report twice, and a capture bundle of the same machine: the same everywhere, exit
/// 0; a directory holding a report and a bundle is read whole (the bundle replayed).
#[test]
fn compare_reports_and_bundles_same() {
    let dir = scratch_dir("compare", "same");
    let a = report_file(&dir, "bare-metal-h100x8-open-580");
    let b = dir.join("copy.json");
    std::fs::copy(&a, &b).unwrap();
    let bundle = capture(&dir, "bare-metal-h100x8-open-580");
    let (v, code) = compare_json(&[
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        bundle.to_str().unwrap(),
        "--timeout",
        "30000",
    ]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["compare"]["verdict"], "same");
    assert_eq!(v["compare"]["nodes"][2]["source"], "bundle");
    assert_eq!(
        dimension(&v, "gpus")["groups"][0]["value"],
        "8x NVIDIA H100 80GB HBM3"
    );
    // The directory: two reports and the bundle; a README is ignored.
    std::fs::write(dir.join("README"), "notes").unwrap();
    let (v, code) = compare_json(&[dir.to_str().unwrap(), "--timeout", "30000"]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["compare"]["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(v["compare"]["ignored_entries"], 1);
}

/// Hostile directory entries: a symlink out of the directory is not followed, a FIFO named
/// `*.json` is ignored (never opened, so it cannot hang the run), a mangled or foreign JSON file and an oversized one are
/// named as not read; the verdict is `unknown`, never `same`; escapes are not printed raw.
#[test]
fn compare_hostile_inputs() {
    let dir = scratch_dir("compare", "hostile");
    let outside = scratch_dir("compare", "hostile-outside");
    report_file(&dir, "bare-metal-h100x8-open-580");
    let secret = report_file(&outside, "mismatch-l40s-550");
    std::os::unix::fs::symlink(&secret, dir.join("link.json")).unwrap();
    let fifo = dir.join("fifo.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(dir.join("mangled.json"), b"{\"tool\":{\"name\":\"nvpro").unwrap();
    std::fs::write(dir.join("other.json"), b"{\"kind\":\"List\"}").unwrap();
    std::fs::write(
        dir.join("evil\u{1b}[31m.json"),
        serde_json::to_vec(&json!({"schema_version":1,"tool":{"name":"nvprobe"},
            "driver":{"version":"580.65.06\u{1b}]0;pwned\u{7}","branch":580}}))
        .unwrap(),
    )
    .unwrap();
    let big = std::fs::File::create(dir.join("big.json")).unwrap();
    big.set_len(64 << 20).unwrap();
    let (v, code) = compare_json(&[dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["compare"]["verdict"], "differs");
    let unread: Vec<String> = v["compare"]["unread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| format!("{} {}", u["path"], u["error"]))
        .collect();
    assert_eq!(unread.len(), 4, "{unread:#?}");
    // The FIFO is not a regular file: ignored, never opened.
    assert_eq!(v["compare"]["ignored_entries"], 1);
    let all = unread.join("\n");
    for want in ["link.json", "mangled.json", "other.json", "big.json"] {
        assert!(all.contains(want), "{want}: {all}");
    }
    assert!(
        !v.to_string().contains("L40S"),
        "followed the symlink: {v:#}"
    );
    let out = nvprobe(&["compare", dir.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text}"
    );
    // Usage: a path that does not exist, no input at all.
    assert_eq!(
        nvprobe(&["compare", "/nonexistent/x.json"]).status.code(),
        Some(2)
    );
    assert_eq!(nvprobe(&["compare"]).status.code(), Some(2));
}

/// `kubectl get nodes -o json` made of what `nvprobe labels --json` writes on three fixture
/// machines (NFD prefixes nvprobe's own labels): the branch differs; a CPU node is left out.
#[test]
fn compare_k8s_nodes_from_labels() {
    let dir = scratch_dir("compare", "k8s");
    let mut items = Vec::new();
    for f in [
        "container-h100-535-compat-12.9",
        "bare-metal-h100x8-open-580",
        "mixed-a4000-rtx4090-570",
    ] {
        let out = nvprobe(&["labels", "--json", "--root", fixture(f).to_str().unwrap()]);
        let labels: serde_json::Map<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
        let labels: serde_json::Map<String, Value> = labels
            .into_iter()
            .map(|(k, v)| {
                let k = if k.starts_with("nvprobe.") {
                    format!("feature.node.kubernetes.io/{k}")
                } else {
                    k
                };
                (k, v)
            })
            .collect();
        items.push(json!({"kind":"Node","metadata":{"name": f, "labels": labels}}));
    }
    items.push(
        json!({"kind":"Node","metadata":{"name":"cpu-0","labels":{"kubernetes.io/os":"linux"}}}),
    );
    let file = dir.join("nodes.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&json!({"apiVersion":"v1","kind":"List","items":items})).unwrap(),
    )
    .unwrap();
    let (v, code) = compare_json(&["--k8s-nodes", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{v:#}");
    let branch = dimension(&v, "driver_branch");
    assert_eq!(branch["differs"], true);
    assert_eq!(branch["groups"].as_array().unwrap().len(), 3);
    assert_eq!(v["compare"]["nodes_without_labels"], json!(["cpu-0"]));
    let h100 = &v["compare"]["nodes"][1];
    assert_eq!(h100["values"]["driver_version"], "580.65.06");
    assert_eq!(h100["values"]["gpus"], "8x NVIDIA-H100-80GB-HBM3");
    assert_eq!(h100["values"]["cuda"], "yes");
    // Not a node list: named, exit 1.
    std::fs::write(&file, b"{\"kind\":\"Pod\"}").unwrap();
    let (v, code) = compare_json(&["--k8s-nodes", file.to_str().unwrap()]);
    assert_eq!(
        (code, v["compare"]["verdict"].as_str()),
        (1, Some("unknown"))
    );
}

/// A bundle with a device node where a file belongs (unpacked by root with `tar`, nodes kept),
/// named or found in a directory named: its files are read through a `nodev` copy of the
/// mounts beneath the named path, as `--root` reads them, so the node is not opened (inotify
/// `IN_OPEN`); with `--no-sandbox` (no copy) it is opened before it is refused, which shows the
/// watch sees it. The comparison is the same either way. Needs `CAP_MKNOD` and `CAP_SYS_ADMIN`;
/// says "skipped" without.
#[test]
fn compare_bundle_device_node_where_a_file_belongs_is_not_opened() {
    use rustix::fs::{Mode, OFlags};
    let dir = scratch_dir("compare", "node-for-file");
    let bundle = capture(&dir, "bare-metal-h100x8-open-580");
    let node = bundle.join("proc/driver/nvidia/version");
    if !make_char_node(&node, 1, 3) {
        eprintln!("skipped: mknod is not allowed here (no CAP_MKNOD)");
        return;
    }
    let held = rustix::fs::open(&*dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
    if let Err(e) = nvprobe::sys::nodev::copy(rustix::fd::AsFd::as_fd(&held)) {
        eprintln!("skipped: no nodev copy of the mounts can be made here ({e})");
        return;
    }
    let opens = |args: &[&str]| {
        let (n, (v, code)) = opens_of(&node, || compare_json(args));
        (n, v, code)
    };
    let b = bundle.to_str().unwrap();
    let d = dir.to_str().unwrap();
    let (opened, plain, code) = opens(&[b, "--timeout", "30000", "--no-sandbox"]);
    assert_eq!(
        opened, 1,
        "the control run did not open the node once: {plain:#}"
    );
    for args in [[b, "--timeout", "30000"], [d, "--timeout", "30000"]] {
        let (opened, v, c) = opens(&args);
        assert_eq!(opened, 0, "{args:?}: the node was opened");
        assert_eq!((&v["compare"], c), (&plain["compare"], code), "{args:?}");
    }
}
