//! `nvprobe compare`: what differs, where it matters, between the reports of many nodes.
//!
//! # Inputs
//! - `--json` reports (`nvprobe --json > node.json`, also `nvprobe check --json`), one file
//!   each;
//! - capture bundles (`nvprobe capture --out DIR`), replayed in-process like `--root DIR`;
//! - a directory of them: its regular `*.json` files and its subdirectories holding a bundle
//!   (`.nvprobe/capture.json`), one level deep, symlinks never followed;
//! - `--k8s-nodes FILE`: `kubectl get nodes -o json`, read through the labels `nvprobe labels`
//!   writes (GPU Feature Discovery's names, and `nvprobe.*` with or without NFD's
//!   `feature.node.kubernetes.io/` prefix).
//!
//! All of it is hostile input: files are read bounded ([`FILE_LIMIT`], [`K8S_LIMIT`]), only
//! regular files (no FIFO to hang on, no device), never through a symlink inside a given
//! directory, and at most [`MAX_NODES`] nodes; the run stops at its deadline and names what it
//! did not read. A bundle's files are read through a `nodev` copy of the mounts beneath the path
//! named ([`NodevCopies`]) where one can be made, so a device node in it is not opened. The report
//! is read as plain JSON, field by field, so a report of another nvprobe version (or a mangled one)
//! gives `null` values, never a failure of the comparison.
//!
//! # What is compared
//! [`DIMENSIONS`]: the driver branch (mixed branches in one cluster are a known cause of NCCL
//! hangs: every node of a job should run the same driver), the driver version, the CUDA version
//! the driver supports, the GPU models, whether CUDA can start, the fabric manager (NVSwitch
//! systems), and the container toolkit. A node whose report is incomplete (`deadline-exceeded`,
//! `sources-unreadable`) or that could not be read leaves the comparison `unknown`.
//!
//! # Exit codes
//! 0 every node read and they agree on every dimension; 1 they differ on at least one, or an
//! input could not be read or is incomplete (missing data is never "the same"); 2 usage error
//! (no input, a path that does not exist); 3 the comparison itself failed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::escape::escape;

/// The largest report file read, in bytes (a report of thousands of GPUs is a few MB).
pub const FILE_LIMIT: u64 = 32 << 20;
/// The largest `kubectl get nodes -o json` file read, in bytes.
pub const K8S_LIMIT: u64 = 256 << 20;
/// The most nodes compared; further inputs are named as not read.
pub const MAX_NODES: usize = 10_000;
/// The most entries of a directory looked at.
pub const MAX_DIR_ENTRIES: usize = 100_000;
/// The longest value kept from an input, in characters.
const MAX_VALUE: usize = 200;
/// The most GPUs of one node counted.
const MAX_GPUS: usize = 4096;

/// One compared dimension: its key (JSON), its name (text), and why a difference matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dimension {
    /// The key in `values` and in the JSON.
    pub key: &'static str,
    /// The name people read.
    pub name: &'static str,
    /// `error` when a difference breaks multi-node jobs, else `warning`.
    pub severity: &'static str,
    /// Why a difference matters, and what to do.
    pub why: &'static str,
}

/// What `compare` compares, in output order.
pub const DIMENSIONS: &[Dimension] = &[
    Dimension {
        key: "driver_branch",
        name: "driver branch",
        severity: "error",
        why: "Mixed driver branches in one cluster are a known cause of NCCL hangs and of jobs that run on some nodes only: install the same driver branch on every node of a job.",
    },
    Dimension {
        key: "driver_version",
        name: "driver version",
        severity: "warning",
        why: "Nodes of one job should run the same driver release (fixes and regressions differ between releases; the fabric manager and the userspace must match it exactly).",
    },
    Dimension {
        key: "cuda_version",
        name: "CUDA version of the driver",
        severity: "warning",
        why: "A container or wheel that needs the newer CUDA version runs on some nodes and fails with 'CUDA driver version is insufficient' on the others.",
    },
    Dimension {
        key: "gpus",
        name: "set of GPU models",
        severity: "warning",
        why: "Different GPU models need different compute capabilities in the binaries and run at different speeds; schedule them apart (node labels) unless that is intended.",
    },
    Dimension {
        key: "cuda",
        name: "answer to 'can CUDA start'",
        severity: "error",
        why: "CUDA cannot start on some nodes: run 'nvprobe' there for the cause and the fix.",
    },
    Dimension {
        key: "fabric_manager",
        name: "fabric manager state",
        severity: "error",
        why: "On NVSwitch systems CUDA fails with 'system not yet initialized' where the fabric manager does not run or has another version than the driver.",
    },
    Dimension {
        key: "container_toolkit",
        name: "NVIDIA container toolkit version",
        severity: "warning",
        why: "Containers get GPUs, libraries and device nodes injected differently with different container toolkit versions (before 1.14 there is no CDI by default).",
    },
];

/// Where a node's facts came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeSource {
    /// A `--json` report file.
    Report,
    /// A capture bundle, replayed.
    Bundle,
    /// A Kubernetes node's labels.
    K8sNode,
}

impl NodeSource {
    /// The name in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Report => "report",
            Self::Bundle => "bundle",
            Self::K8sNode => "k8s-node",
        }
    }
}

/// One node's facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The file, bundle directory or Kubernetes node name.
    pub name: String,
    /// Where the facts came from.
    pub source: NodeSource,
    /// Why its answers are incomplete (`deadline-exceeded`, `sources-unreadable`), if they are.
    pub incomplete: Option<String>,
    /// Per [`Dimension::key`], the value (`None`: no value, e.g. no driver; or not known).
    pub values: BTreeMap<&'static str, Option<String>>,
}

/// An input that gave no node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unread {
    /// The path (or `kubectl` item).
    pub path: String,
    /// Why.
    pub error: String,
}

/// Everything read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// The nodes, in input order.
    pub nodes: Vec<Node>,
    /// The inputs that could not be read.
    pub unread: Vec<Unread>,
    /// Directory entries that are neither reports nor bundles (not an error), counted.
    pub ignored: usize,
    /// Kubernetes nodes without any GPU or nvprobe label (CPU nodes), not compared.
    pub without_labels: Vec<String>,
}

/// One dimension across the nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compared {
    /// Which dimension.
    pub dimension: &'static Dimension,
    /// Each distinct value (`None`: no value) with the nodes that have it, most nodes first.
    pub groups: Vec<(Option<String>, Vec<String>)>,
}

impl Compared {
    /// The nodes do not all have the same value.
    pub fn differs(&self) -> bool {
        self.groups.len() > 1
    }
}

/// The comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// What was read.
    pub inputs: Inputs,
    /// Per dimension that any node has a value for.
    pub dimensions: Vec<Compared>,
}

impl Comparison {
    /// `same`, `differs`, or `unknown` (no node, a node incomplete or an input unread, and no
    /// difference among the rest).
    pub fn verdict(&self) -> &'static str {
        if self.dimensions.iter().any(Compared::differs) {
            "differs"
        } else if self.inputs.nodes.is_empty()
            || !self.inputs.unread.is_empty()
            || self.inputs.nodes.iter().any(|n| n.incomplete.is_some())
        {
            "unknown"
        } else {
            "same"
        }
    }

    /// The exit code: 0 `same`, else 1.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict() != "same")
    }
}

/// Compares the nodes: a dimension appears when at least one node has a value for it.
pub fn compare(inputs: Inputs) -> Comparison {
    let mut dimensions = Vec::new();
    for d in DIMENSIONS {
        if inputs
            .nodes
            .iter()
            .all(|n| n.values.get(d.key).is_none_or(Option::is_none))
        {
            continue;
        }
        let mut by: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for n in &inputs.nodes {
            by.entry(n.values.get(d.key).cloned().flatten())
                .or_default()
                .push(n.name.clone());
        }
        let mut groups: Vec<(Option<String>, Vec<String>)> = by.into_iter().collect();
        groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
        dimensions.push(Compared {
            dimension: d,
            groups,
        });
    }
    Comparison { inputs, dimensions }
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_VALUE).collect()
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(clip)
}

/// The facts of one `--json` report (or a replayed bundle's report), read field by field.
pub fn node_from_report(name: String, source: NodeSource, r: &Value) -> Node {
    let mut values = BTreeMap::new();
    let driver = r.get("driver").filter(|d| d.is_object());
    values.insert(
        "driver_branch",
        driver.and_then(|d| d.get("branch")).and_then(|b| match b {
            Value::Number(n) => n.as_u64().map(|n| n.to_string()),
            Value::String(s) => Some(clip(s)),
            _ => None,
        }),
    );
    values.insert("driver_version", str_at(r, "/driver/version"));
    values.insert("cuda_version", str_at(r, "/driver/cuda_version"));
    values.insert("gpus", gpu_models(r));
    values.insert("cuda", str_at(r, "/cuda/can_start"));
    values.insert("fabric_manager", fabric_manager(r));
    values.insert("container_toolkit", container_toolkit(r));
    let findings = r.get("findings").and_then(Value::as_array);
    let incomplete = findings.and_then(|f| {
        f.iter()
            .filter_map(|f| f.get("code").and_then(Value::as_str))
            .find(|c| {
                *c == crate::codes::DEADLINE_EXCEEDED || *c == crate::codes::SOURCES_UNREADABLE
            })
            .map(clip)
    });
    Node {
        name,
        source,
        incomplete,
        values,
    }
}

/// The GPU models, counted: `8x NVIDIA H100 80GB HBM3` (a GPU without a name by its PCI id).
fn gpu_models(r: &Value) -> Option<String> {
    let gpus = r.get("gpus").and_then(Value::as_array)?;
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for g in gpus.iter().take(MAX_GPUS) {
        let name = g
            .get("name")
            .and_then(Value::as_str)
            .map(clip)
            .or_else(|| str_at(g, "/pci/device_id").map(|d| format!("device {d}")))
            .unwrap_or_else(|| "unknown GPU".to_owned());
        *count.entry(name).or_default() += 1;
    }
    if count.is_empty() {
        return Some("none".to_owned());
    }
    Some(
        count
            .iter()
            .map(|(name, n)| format!("{n}x {name}"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// The fabric manager as the report's `fabric-manager` source says (present only on NVSwitch
/// systems): `running`, `not running`, `not visible` (a container), with a
/// `fabric-manager-missing` finding `missing or of another version`; `not needed` without
/// `NVSwitches`; `None` when the report has no `sources`.
fn fabric_manager(r: &Value) -> Option<String> {
    let Some(source) = r
        .get("sources")
        .and_then(Value::as_array)?
        .iter()
        .find(|s| s.get("name").and_then(Value::as_str) == Some("fabric-manager"))
    else {
        // The probe looks for the fabric manager only where it sees NVSwitches.
        return Some("not needed (no NVSwitch seen)".to_owned());
    };
    let flagged = r
        .get("findings")
        .and_then(Value::as_array)
        .is_some_and(|f| {
            f.iter().any(|f| {
                f.get("code").and_then(Value::as_str) == Some(crate::codes::FABRIC_MANAGER_MISSING)
            })
        });
    let status = source.get("status").and_then(Value::as_str).unwrap_or("");
    Some(
        match (status, flagged) {
            (_, true) => "missing or of another version",
            ("ok", false) => "running",
            ("absent", false) => "not running",
            ("skipped", false) => "not visible (container)",
            _ => "unknown",
        }
        .to_owned(),
    )
}

/// The container toolkit's version, where the report has one: the `version` of a package
/// named `nvidia-container-toolkit` (or `-base`) in a `packages` list of the report or of its
/// `platform` (the driver package layers of issue 23). `None` in reports without it.
fn container_toolkit(r: &Value) -> Option<String> {
    let lists = [r.get("packages"), r.pointer("/platform/packages")];
    for list in lists.into_iter().flatten() {
        let items: Vec<&Value> = match list {
            Value::Array(a) => a.iter().collect(),
            Value::Object(o) => o.values().collect(),
            _ => continue,
        };
        for p in items {
            let name = p.get("name").and_then(Value::as_str).unwrap_or("");
            if name == "nvidia-container-toolkit" || name == "nvidia-container-toolkit-base" {
                return Some(str_at(p, "/version").unwrap_or_else(|| "installed".to_owned()));
            }
        }
    }
    None
}

/// A label's value, under its name or (for `nvprobe.*`) NFD's prefixed name.
fn label<'a>(labels: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    labels
        .get(name)
        .or_else(|| labels.get(&format!("feature.node.kubernetes.io/{name}")))
        .and_then(Value::as_str)
}

/// The facts of one Kubernetes node from its labels; `None` for a node without any GPU
/// Feature Discovery or nvprobe label.
pub fn node_from_labels(name: &str, labels: &serde_json::Map<String, Value>) -> Option<Node> {
    let l = |n: &str| label(labels, n).map(clip);
    let has_any = labels.keys().any(|k| {
        k.starts_with("nvidia.com/cuda.")
            || k.starts_with("nvidia.com/gpu.")
            || k.starts_with("nvprobe.")
            || k.starts_with("feature.node.kubernetes.io/nvprobe.")
    });
    if !has_any {
        return None;
    }
    let mut values = BTreeMap::new();
    values.insert(
        "driver_branch",
        l("nvidia.com/cuda.driver-version.major").or_else(|| l("nvidia.com/cuda.driver.major")),
    );
    let full = l("nvidia.com/cuda.driver-version.full").or_else(|| {
        Some(format!(
            "{}.{}.{}",
            l("nvidia.com/cuda.driver.major")?,
            l("nvidia.com/cuda.driver.minor")?,
            l("nvidia.com/cuda.driver.rev")?
        ))
    });
    values.insert(
        "driver_version",
        full.map(|v| v.trim_end_matches('.').to_owned()),
    );
    let cuda = l("nvidia.com/cuda.runtime-version.full").or_else(|| {
        Some(format!(
            "{}.{}",
            l("nvidia.com/cuda.runtime.major")?,
            l("nvidia.com/cuda.runtime.minor")?
        ))
    });
    values.insert("cuda_version", cuda);
    let product = l("nvidia.com/gpu.product");
    let gpus = match (l("nvidia.com/gpu.count"), product) {
        (Some(n), Some(p)) => {
            let mixed = l("nvprobe.gpu.mixed").as_deref() == Some("true");
            Some(format!("{n}x {p}{}", if mixed { " (mixed)" } else { "" }))
        }
        (None, Some(p)) => Some(p),
        (Some(n), None) => Some(format!("{n} GPUs")),
        (None, None) => None,
    };
    values.insert("gpus", gpus);
    values.insert("cuda", l("nvprobe.cuda"));
    let incomplete = (l("nvprobe.healthy").as_deref() == Some("false")
        && l("nvprobe.cuda").as_deref() == Some("unknown"))
    .then(|| "nvprobe.cuda=unknown".to_owned());
    Some(Node {
        name: clip(name),
        source: NodeSource::K8sNode,
        incomplete,
        values,
    })
}

/// The nodes of `kubectl get nodes -o json` output (a `List` of `Node`s, or one `Node`).
pub fn read_k8s_nodes(text: &[u8], label_for_errors: &str) -> Inputs {
    let mut inputs = Inputs::default();
    let v: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            inputs.unread.push(Unread {
                path: clip(label_for_errors),
                error: format!("not JSON: {e}"),
            });
            return inputs;
        }
    };
    let items: Vec<&Value> = match v.get("items").and_then(Value::as_array) {
        Some(items) => items.iter().collect(),
        None if v.get("kind").and_then(Value::as_str) == Some("Node") => vec![&v],
        None => {
            inputs.unread.push(Unread {
                path: clip(label_for_errors),
                error: "not the output of 'kubectl get nodes -o json' (no items)".to_owned(),
            });
            return inputs;
        }
    };
    for (i, item) in items.into_iter().enumerate() {
        if inputs.nodes.len() >= MAX_NODES {
            inputs.unread.push(Unread {
                path: clip(label_for_errors),
                error: format!("more than {MAX_NODES} nodes: the rest were not compared"),
            });
            break;
        }
        let name = str_at(item, "/metadata/name").unwrap_or_else(|| format!("items[{i}]"));
        let empty = serde_json::Map::new();
        let labels = item
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        match node_from_labels(&name, labels) {
            Some(n) => inputs.nodes.push(n),
            None => inputs.without_labels.push(name),
        }
    }
    inputs
}

/// Reads a regular file of at most `limit` bytes; with `nofollow`, never through a symlink.
/// Opened non-blocking, so a FIFO cannot hang the run.
pub fn read_bounded(path: &Path, limit: u64, nofollow: bool) -> Result<Vec<u8>, String> {
    let mut flags = libc::O_NONBLOCK | libc::O_CLOEXEC;
    if nofollow {
        flags |= libc::O_NOFOLLOW;
    }
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| e.to_string())?;
    let meta = f.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_owned());
    }
    if meta.len() > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > limit {
        return Err(format!("larger than {limit} bytes"));
    }
    Ok(buf)
}

/// A directory holding a capture bundle (`.nvprobe/capture.json`, a regular file).
fn is_bundle(dir: &Path) -> bool {
    std::fs::symlink_metadata(dir.join(".nvprobe").join(crate::capture::CAPTURE_FILE))
        .is_ok_and(|m| m.is_file())
}

/// Parses a report file's bytes: a JSON object written by nvprobe.
pub fn parse_report(bytes: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let tool = v.pointer("/tool/name").and_then(Value::as_str);
    if tool != Some("nvprobe") || v.get("schema_version").is_none() {
        return Err("not an nvprobe --json report (no tool.name \"nvprobe\")".to_owned());
    }
    Ok(v)
}

/// Copies of the mounts beneath the directories named on the command line, marked `nodev`
/// (`sys::nodev`), made before the sandbox (which allows no mount call): a bundle named, or
/// found one level inside a directory named, is replayed with its files read through its
/// copy, as `--root` reads them, so a device node where a file belongs is refused before its
/// driver runs. Empty with `--no-sandbox` or where no copy can be made.
#[derive(Debug, Default)]
pub struct NodevCopies(Vec<(PathBuf, std::os::fd::OwnedFd)>);

impl NodevCopies {
    /// A copy for each of `paths` that is a directory (followed, as a named path is).
    pub fn make(paths: &[PathBuf]) -> Self {
        use rustix::fs::{Mode, OFlags};
        use std::os::fd::AsFd as _;
        Self(
            paths
                .iter()
                .filter_map(|p| {
                    let dir = rustix::fs::open(
                        p,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .ok()?;
                    Some((p.clone(), crate::sys::nodev::copy(dir.as_fd()).ok()?))
                })
                .collect(),
        )
    }

    /// The copy of the bundle at `dir`: the copy of `dir` itself, or the entry of that name
    /// (not followed) in its directory's copy.
    fn of(&self, dir: &Path) -> Option<std::os::fd::OwnedFd> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        self.0.iter().find_map(|(named, copy)| {
            let name = if dir == named {
                Path::new(".")
            } else if dir.parent() == Some(named) {
                Path::new(dir.file_name()?)
            } else {
                return None;
            };
            rustix::fs::openat(copy, name, flags, Mode::empty()).ok()
        })
    }
}

/// Replays a capture bundle as `--root DIR` does, within `timeout`, its files read through
/// its copy in `copies` where it has one.
pub fn replay_bundle(
    dir: &Path,
    timeout: Duration,
    copies: &NodevCopies,
) -> Result<Value, String> {
    let root = match copies.of(dir) {
        Some(copy) => crate::root::Root::at_with_files(dir, |_| Ok(copy)),
        None => crate::root::Root::at(dir),
    };
    let mut opts = crate::Options::new(root);
    opts.timeout = timeout;
    opts.env = crate::Env::default();
    crate::capture::prepare_replay(&mut opts, dir);
    let report = crate::probe_with_deadline(&opts).map_err(|e| e.to_string())?;
    serde_json::to_value(&report).map_err(|e| e.to_string())
}

/// Reads the given paths (reports, bundles, directories of them) until `deadline`, bundles
/// through their `copies`.
pub fn read_paths(paths: &[PathBuf], deadline: Instant, copies: &NodevCopies) -> Inputs {
    let mut inputs = Inputs::default();
    let mut todo: Vec<(PathBuf, bool)> = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() && !is_bundle(p) => {
                let entries = match std::fs::read_dir(p) {
                    Ok(e) => e,
                    Err(e) => {
                        inputs.unread.push(unread(p, &e.to_string()));
                        continue;
                    }
                };
                let mut found = Vec::new();
                for (i, e) in entries.enumerate() {
                    if i >= MAX_DIR_ENTRIES {
                        inputs.unread.push(unread(
                            p,
                            &format!("more than {MAX_DIR_ENTRIES} entries: the rest were not read"),
                        ));
                        break;
                    }
                    let Ok(e) = e else { continue };
                    let path = e.path();
                    match e.file_type() {
                        Ok(t) if t.is_file() && path.extension().is_some_and(|x| x == "json") => {
                            found.push((path, true));
                        }
                        Ok(t) if t.is_dir() && is_bundle(&path) => found.push((path, true)),
                        Ok(t) if t.is_symlink() => {
                            inputs.unread.push(unread(&path, "a symlink: not followed"));
                        }
                        _ => inputs.ignored += 1,
                    }
                }
                found.sort();
                todo.extend(found);
            }
            // A path named on the command line is followed, as any program would.
            Ok(_) => todo.push((p.clone(), false)),
            Err(e) => inputs.unread.push(unread(p, &e.to_string())),
        }
    }
    for (path, inside_dir) in todo {
        if inputs.nodes.len() >= MAX_NODES {
            inputs.unread.push(unread(
                &path,
                &format!("more than {MAX_NODES} nodes: not read"),
            ));
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            inputs
                .unread
                .push(unread(&path, "not read: the --timeout deadline passed"));
            continue;
        }
        let name = path.to_string_lossy().into_owned();
        let dir = if inside_dir {
            std::fs::symlink_metadata(&path).map(|m| m.is_dir())
        } else {
            std::fs::metadata(&path).map(|m| m.is_dir())
        };
        let (value, source) = if dir.unwrap_or(false) {
            (replay_bundle(&path, deadline - now, copies), NodeSource::Bundle)
        } else {
            (
                read_bounded(&path, FILE_LIMIT, inside_dir).and_then(|b| parse_report(&b)),
                NodeSource::Report,
            )
        };
        match value {
            Ok(v) => inputs.nodes.push(node_from_report(name, source, &v)),
            Err(e) => inputs.unread.push(unread(&path, &e)),
        }
    }
    inputs
}

fn unread(path: &Path, error: &str) -> Unread {
    Unread {
        path: clip(&path.to_string_lossy()),
        error: clip(error),
    }
}

fn show(v: Option<&String>) -> String {
    v.map_or_else(|| "none".to_owned(), |s| escape(s).into_owned())
}

fn node_list(nodes: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut out: Vec<String> = nodes
        .iter()
        .take(SHOWN)
        .map(|n| escape(n).into_owned())
        .collect();
    if nodes.len() > SHOWN {
        out.push(format!("and {} more", nodes.len() - SHOWN));
    }
    out.join(", ")
}

/// The comparison for people; every value from the inputs escaped.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let i = &c.inputs;
    let count = |s: NodeSource| i.nodes.iter().filter(|n| n.source == s).count();
    let _ = writeln!(
        out,
        "nvprobe compare: {} nodes ({} reports, {} bundles, {} Kubernetes nodes): {}",
        i.nodes.len(),
        count(NodeSource::Report),
        count(NodeSource::Bundle),
        count(NodeSource::K8sNode),
        match c.verdict() {
            "same" => "the same everywhere it matters",
            "differs" => "they differ",
            _ => "unknown (see below)",
        }
    );
    for d in &c.dimensions {
        if d.differs() {
            let _ = writeln!(
                out,
                "\n{}: the {} is not the same on every node",
                d.dimension.severity, d.dimension.name
            );
            for (value, nodes) in &d.groups {
                let _ = writeln!(
                    out,
                    "  {} on {} node(s): {}",
                    show(value.as_ref()),
                    nodes.len(),
                    node_list(nodes)
                );
            }
            let _ = writeln!(out, "  why it matters: {}", d.dimension.why);
        }
    }
    let same: Vec<String> = c
        .dimensions
        .iter()
        .filter(|d| !d.differs())
        .map(|d| {
            format!(
                "{} {}",
                d.dimension.name,
                show(d.groups.first().and_then(|g| g.0.as_ref()))
            )
        })
        .collect();
    if !same.is_empty() {
        let _ = writeln!(out, "\nthe same on every node: {}", same.join("; "));
    }
    let missing: Vec<&str> = DIMENSIONS
        .iter()
        .filter(|d| !c.dimensions.iter().any(|x| x.dimension.key == d.key))
        .map(|d| d.name)
        .collect();
    if !missing.is_empty() && !i.nodes.is_empty() {
        let _ = writeln!(
            out,
            "not in any input (not compared): {}",
            missing.join(", ")
        );
    }
    let incomplete: Vec<String> = i
        .nodes
        .iter()
        .filter_map(|n| {
            n.incomplete
                .as_ref()
                .map(|why| format!("{} ({})", escape(&n.name), escape(why)))
        })
        .collect();
    if !incomplete.is_empty() {
        let _ = writeln!(
            out,
            "\nincomplete reports (their values may be wrong or missing): {}",
            incomplete.join(", ")
        );
    }
    if !i.unread.is_empty() {
        let _ = writeln!(out, "\nnot compared:");
        for u in &i.unread {
            let _ = writeln!(out, "  {}: {}", escape(&u.path), escape(&u.error));
        }
    }
    if !i.without_labels.is_empty() {
        let _ = writeln!(
            out,
            "\n{} node(s) without GPU or nvprobe labels, not compared: {}",
            i.without_labels.len(),
            node_list(&i.without_labels)
        );
    }
    if i.ignored > 0 {
        let _ = writeln!(
            out,
            "{} directory entries that are neither *.json reports nor capture bundles were ignored",
            i.ignored
        );
    }
    out
}

/// The comparison as one JSON object (`nvprobe compare --json`).
pub fn to_json(c: &Comparison) -> Value {
    let i = &c.inputs;
    json!({
        "compare": {
            "verdict": c.verdict(),
            "nodes": i.nodes.iter().map(|n| json!({
                "name": n.name,
                "source": n.source.as_str(),
                "incomplete": n.incomplete,
                "values": n.values,
            })).collect::<Vec<_>>(),
            "dimensions": c.dimensions.iter().map(|d| json!({
                "key": d.dimension.key,
                "differs": d.differs(),
                "severity": d.dimension.severity,
                "why": d.dimension.why,
                "groups": d.groups.iter().map(|(v, nodes)| json!({"value": v, "nodes": nodes})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "unread": i.unread.iter().map(|u| json!({"path": u.path, "error": u.error})).collect::<Vec<_>>(),
            "ignored_entries": i.ignored,
            "nodes_without_labels": i.without_labels,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(branch: u32, version: &str, cuda: &str, gpu: &str, n: usize) -> Value {
        json!({
            "schema_version": 1,
            "tool": {"name": "nvprobe", "version": "0.1.0"},
            "driver": {"version": version, "branch": branch, "cuda_version": cuda},
            "gpus": (0..n).map(|_| json!({"name": gpu})).collect::<Vec<_>>(),
            "cuda": {"can_start": "yes"},
            "sources": [],
            "findings": [],
        })
    }

    #[test]
    fn compare_mixed_branch_differs() {
        let mut inputs = Inputs::default();
        for (name, b, v, c) in [
            ("a", 535, "535.216.03", "12.2"),
            ("b", 535, "535.216.03", "12.2"),
            ("c", 550, "550.90.07", "12.4"),
        ] {
            let r = report(b, v, c, "NVIDIA H100 80GB HBM3", 8);
            inputs
                .nodes
                .push(node_from_report(name.into(), NodeSource::Report, &r));
        }
        let c = compare(inputs);
        assert_eq!(c.verdict(), "differs");
        assert_eq!(c.exit_code(), 1);
        let branch = &c.dimensions[0];
        assert_eq!(branch.dimension.key, "driver_branch");
        assert_eq!(
            branch.groups,
            vec![
                (Some("535".into()), vec!["a".into(), "b".into()]),
                (Some("550".into()), vec!["c".into()])
            ]
        );
        let gpus = c
            .dimensions
            .iter()
            .find(|d| d.dimension.key == "gpus")
            .unwrap();
        assert!(!gpus.differs());
        assert_eq!(
            gpus.groups[0].0.as_deref(),
            Some("8x NVIDIA H100 80GB HBM3")
        );
        let text = render(&c);
        assert!(
            text.contains("error: the driver branch is not the same"),
            "{text}"
        );
        assert!(text.contains("NCCL"), "{text}");
    }

    #[test]
    fn compare_same_and_unknown() {
        let r = report(580, "580.65.06", "13.0", "NVIDIA H100 80GB HBM3", 8);
        let mut inputs = Inputs::default();
        for n in ["a", "b"] {
            inputs
                .nodes
                .push(node_from_report(n.into(), NodeSource::Report, &r));
        }
        assert_eq!(compare(inputs.clone()).verdict(), "same");
        assert_eq!(compare(inputs.clone()).exit_code(), 0);
        inputs.unread.push(Unread {
            path: "x".into(),
            error: "not JSON".into(),
        });
        assert_eq!(compare(inputs).verdict(), "unknown");
        assert_eq!(compare(Inputs::default()).verdict(), "unknown");
    }

    #[test]
    fn compare_hostile_values_are_escaped_and_clipped() {
        let mut r = report(
            580,
            "580.65.06\u{1b}[31m",
            "13.0",
            &"\u{202e}x".repeat(500),
            1,
        );
        r["driver"]["branch"] = json!("580\n");
        let a = node_from_report("a\u{1b}".into(), NodeSource::Report, &r);
        assert!(a.values["gpus"].as_ref().unwrap().chars().count() <= MAX_VALUE + 3);
        let b = node_from_report(
            "b".into(),
            NodeSource::Report,
            &json!({"driver": 7, "gpus": "x"}),
        );
        let c = compare(Inputs {
            nodes: vec![a, b],
            ..Inputs::default()
        });
        let text = render(&c);
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{202e}'),
            "{text}"
        );
    }

    #[test]
    fn compare_k8s_labels() {
        let text = br#"{"apiVersion":"v1","kind":"List","items":[
          {"metadata":{"name":"gpu-a","labels":{"nvidia.com/cuda.driver-version.full":"535.216.03",
            "nvidia.com/cuda.driver-version.major":"535","nvidia.com/cuda.runtime-version.full":"12.2",
            "nvidia.com/gpu.count":"8","nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3",
            "feature.node.kubernetes.io/nvprobe.cuda":"yes","feature.node.kubernetes.io/nvprobe.healthy":"true"}}},
          {"metadata":{"name":"gpu-b","labels":{"nvidia.com/cuda.driver.major":"550","nvidia.com/cuda.driver.minor":"90",
            "nvidia.com/cuda.driver.rev":"07","nvidia.com/cuda.runtime.major":"12","nvidia.com/cuda.runtime.minor":"4",
            "nvidia.com/gpu.count":"8","nvidia.com/gpu.product":"NVIDIA-H100-80GB-HBM3","nvprobe.cuda":"yes"}}},
          {"metadata":{"name":"cpu-1","labels":{"kubernetes.io/os":"linux"}}}]}"#;
        let inputs = read_k8s_nodes(text, "nodes.json");
        assert_eq!(inputs.nodes.len(), 2);
        assert_eq!(inputs.without_labels, vec!["cpu-1".to_owned()]);
        assert_eq!(
            inputs.nodes[1].values["driver_version"].as_deref(),
            Some("550.90.07")
        );
        let c = compare(inputs);
        assert_eq!(c.verdict(), "differs");
        assert!(c.dimensions[0].differs());
        assert!(
            !c.dimensions
                .iter()
                .find(|d| d.dimension.key == "gpus")
                .unwrap()
                .differs()
        );
        let bad = read_k8s_nodes(b"[1,2", "nodes.json");
        assert!(bad.nodes.is_empty() && bad.unread.len() == 1);
        let odd = read_k8s_nodes(
            br#"{"items":[{"metadata":{"labels":{"nvprobe.cuda":5}}}, 7]}"#,
            "f",
        );
        assert_eq!(odd.without_labels.len(), 1);
        assert_eq!(odd.nodes.len(), 1);
    }

    /// Real reports of every fixture, mangled byte by byte and cut short (a deterministic
    /// fuzz run): reading, comparing and rendering never panic.
    #[test]
    fn compare_mangled_reports_never_panic() {
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden");
        let mut rng = crate::testutil::XorShift(0x2323_b0b0);
        let mut inputs = Inputs::default();
        for e in std::fs::read_dir(fixtures).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let good = std::fs::read(&path).unwrap();
            let v = parse_report(&good).unwrap();
            inputs
                .nodes
                .push(node_from_report("good".into(), NodeSource::Report, &v));
            for _ in 0..40 {
                let mut bad = good.clone();
                for _ in 0..=rng.below(8) {
                    let i = rng.below(bad.len());
                    bad[i] = u8::try_from(rng.below(256)).unwrap();
                }
                bad.truncate(rng.below(bad.len() + 1).max(1));
                if let Ok(v) = parse_report(&bad) {
                    inputs
                        .nodes
                        .push(node_from_report("bad".into(), NodeSource::Report, &v));
                }
                let k8s = read_k8s_nodes(&bad, "x");
                inputs.nodes.extend(k8s.nodes);
            }
        }
        let c = compare(inputs);
        let _ = render(&c);
        let _ = to_json(&c);
    }

    #[test]
    fn compare_parse_report_refuses_other_json() {
        assert!(parse_report(b"{}").is_err());
        assert!(parse_report(b"not json").is_err());
        assert!(parse_report(&vec![b'['; 100_000]).is_err());
        assert!(parse_report(br#"{"schema_version":1,"tool":{"name":"nvprobe"}}"#).is_ok());
    }
}
