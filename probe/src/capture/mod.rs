//! `nvprobe capture --out DIR`: a bug-report bundle that `nvprobe --root DIR` replays to the
//! same report.
//!
//! # How
//! The probe runs once with a [`Recorder`] on its [`Root`] (every path resolved, `stat`ed,
//! read, listed or `readlink`ed is noted) and a [`RecordingDriver`] around its ioctl driver
//! (every open and ioctl, with the bytes sent and returned). Then the touched paths are copied
//! into DIR ([`copy`]: symlinks kept as links, device nodes as stand-in records, large ELF
//! libraries as sparse skeletons, rpm's database as a sparse file holding only the pages
//! read), and the metadata and ioctl log are written under
//! `DIR/.nvprobe/`. Capture writes nothing outside DIR.
//!
//! # The bundle (format `nvprobe-capture/1`)
//! ```text
//! DIR/                      the machine's `/`, only what the probe touched
//! DIR/.nvprobe/capture.json metadata, below
//! DIR/.nvprobe/ioctl.json   the ioctl log (format `nvprobe-ioctl/1`, see [`ioctl_log`])
//! ```
//! `capture.json`:
//! ```json
//! { "format": "nvprobe-capture/1",
//!   "tool": { "name": "nvprobe", "version": "0.1.0" },
//!   "created_unix": 1760000000,
//!   "machine": "/",                 // the root that was captured (`/` or a --root)
//!   "flags": { "deep": false, "cross_check": false, "timeout_ms": 2000 },
//!   "redacted": false,
//!   "environment": { "LD_LIBRARY_PATH": "/usr/local/cuda/lib64" },   // allow-listed only
//!   "shim_output": null,            // the shim's stdout when --cross-check ran it
//!   "copied": { "files": 120, "sparse": 2, "dirs": 80, "links": 30, "stand_ins": 12,
//!               "bytes": 456789 },
//!   "unreadable": [ { "path": "/sys/...", "error": "permission denied" } ],
//!   "left_out": [ { "path": "/etc/shadow", "reason": "not an ELF file, ..." } ],
//!   "incomplete": "the copy stopped at the 2000 ms deadline: ...",   // only when it did
//!   "ioctl_events": 14 }
//! ```
//! The environment holds only the variables of [`env_allowed`] (never secrets). Files are
//! copied only as the probe parsed them ([`copy`] says which, and `left_out` lists the files
//! whose bytes were not kept and why). Bundles without `left_out` or `incomplete` (older
//! ones) read as having none.
//!
//! # Output directory
//! DIR must not exist (it is created `0700`) or be an empty directory owned by the effective
//! user (it is made `0700`): capture refuses anything else (an earlier capture, a directory
//! another user planted in `/tmp`) rather than delete, merge or race. Exit code 2 then. Every
//! write goes through directory descriptors held open ([`copy::Bundle`]), never through a
//! symlink, so nothing is written outside DIR even while someone swaps its directories.
//!
//! # Deadline
//! The copy shares the run's `--timeout`, counted from the start of the run: it stops at the
//! deadline, the bundle's `incomplete` says so, and the capture's report gets a `capture`
//! source with status `timeout` and a `deadline-exceeded` warning (its replay says so too).
//!
//! # Replay
//! `--root DIR` on a directory with `.nvprobe/capture.json` ([`prepare_replay`]): the ioctl
//! path is answered from `ioctl.json` ([`ReplayDriver`]) instead of being `skipped`; the
//! environment is the captured one, not the process's; `--deep` and `--cross-check` are on
//! when the capture had them; a `--cross-check` evaluates the captured shim output instead of
//! running the shim. A source named `capture` says so. Apart from that source, the replay of
//! a capture gives the report of the captured run. The metadata files must be regular files
//! of the bundle of bounded size: a link, a FIFO, a device or an oversized file there is
//! refused (named in the `capture` source), never followed, waited on or read whole.

pub mod copy;
pub mod ioctl_log;
pub mod redact;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use ioctl_log::{IoctlLog, RecordingDriver, ReplayDriver};
use redact::Redactor;

use crate::ioctl::NvDriver;
use crate::report::{CrossCheck, Report, Source, SourceStatus};
use crate::root::{Recorder, Root};
use crate::{Env, Options};

/// The bundle's metadata directory, at the bundle's top.
pub const META_DIR: &str = ".nvprobe";
/// The metadata file in [`META_DIR`].
pub const CAPTURE_FILE: &str = "capture.json";
/// The ioctl log in [`META_DIR`].
pub const IOCTL_FILE: &str = "ioctl.json";
/// `capture.json`'s `format`.
pub const CAPTURE_FORMAT: &str = "nvprobe-capture/1";
/// The source record of a replay.
pub const SOURCE: &str = "capture";

/// Environment variables a capture keeps (exact names).
const ENV_EXACT: &[&str] = &[
    "NVIDIA_VISIBLE_DEVICES",
    "NVIDIA_DRIVER_CAPABILITIES",
    "NVIDIA_DISABLE_REQUIRE",
    "NVIDIA_MIG_CONFIG_DEVICES",
    "NVIDIA_MIG_MONITOR_DEVICES",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    "CUDA_VERSION",
    "CUDA_HOME",
    "CUDA_PATH",
    "LD_LIBRARY_PATH",
    "CONDA_PREFIX",
    "VIRTUAL_ENV",
    "HOME",
];
/// Environment variables a capture keeps (prefixes).
const ENV_PREFIXES: &[&str] = &["NVIDIA_REQUIRE_", "NVPROBE_"];

/// True for a variable that influences the report and holds no secret.
pub fn env_allowed(name: &str) -> bool {
    ENV_EXACT.contains(&name) || ENV_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The tool that wrote a capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `nvprobe`.
    pub name: String,
    /// Its version.
    pub version: String,
}

/// The flags of the captured run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flags {
    /// `--deep`.
    pub deep: bool,
    /// `--cross-check`.
    pub cross_check: bool,
    /// `--timeout`.
    pub timeout_ms: u64,
}

/// How much was copied.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    /// Regular files with content.
    pub files: usize,
    /// Of which sparse: ELF skeletons, and files holding only the ranges read (rpm's database).
    pub sparse: usize,
    /// Directories.
    pub dirs: usize,
    /// Symlinks.
    pub links: usize,
    /// Device-node stand-ins.
    pub stand_ins: usize,
    /// Bytes of content.
    pub bytes: u64,
}

/// A file left out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreadable {
    /// The machine path.
    pub path: String,
    /// Why.
    pub error: String,
}

/// A file whose bytes a capture did not keep on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftOut {
    /// The machine path.
    pub path: String,
    /// Why, and what was kept instead.
    pub reason: String,
}

/// `capture.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureMeta {
    /// [`CAPTURE_FORMAT`].
    pub format: String,
    /// The nvprobe that wrote it.
    pub tool: ToolInfo,
    /// Seconds since the epoch.
    pub created_unix: u64,
    /// The root captured: `/`, or the `--root` directory.
    pub machine: String,
    /// The flags of the run.
    pub flags: Flags,
    /// UUIDs and serials replaced.
    pub redacted: bool,
    /// The allow-listed environment.
    pub environment: BTreeMap<String, String>,
    /// The shim's stdout, when `--cross-check` ran it.
    pub shim_output: Option<String>,
    /// What was copied.
    pub copied: Copied,
    /// Files left out.
    pub unreadable: Vec<Unreadable>,
    /// Files whose bytes were not kept on purpose (older bundles: none).
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
    /// Set when the copy stopped at the deadline: what is missing, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
    /// Events in `ioctl.json`.
    pub ioctl_events: usize,
}

// ---------------------------------------------------------------------------------------------
// The probe's side: which driver, what the cross-check reads, the `capture` source.

/// Capture or replay, as [`Options::capture`] holds it.
#[derive(Clone, Debug)]
pub enum Mode {
    /// `nvprobe capture`: record the ioctls and the shim's output.
    Record(Recording),
    /// `--root` on a capture.
    Replay(Arc<Replay>),
}

/// What a capture records while the probe runs.
#[derive(Clone, Debug)]
pub struct Recording {
    /// The recording ioctl driver.
    pub driver: RecordingDriver,
    /// The shim's stdout, once run.
    pub shim_output: Arc<Mutex<Option<String>>>,
    /// A capture of a replay: the replayed bundle's shim output, kept instead of running this
    /// machine's shim (whose NVML is not the captured machine's).
    pub replayed_shim_output: Option<String>,
}

/// A capture being replayed.
#[derive(Debug)]
pub struct Replay {
    /// The bundle.
    pub dir: PathBuf,
    /// Its metadata.
    pub meta: CaptureMeta,
    /// The ioctl replies, when the bundle has a readable log.
    pub driver: Option<ReplayDriver>,
    /// Problems loading the bundle, in words.
    pub problems: Vec<String>,
}

/// The ioctl driver for a run: the host's device nodes under `opts.root`, or the capture's.
pub fn driver(opts: &Options) -> Box<dyn NvDriver> {
    match &opts.capture {
        Some(Mode::Record(r)) => Box::new(r.driver.clone()),
        Some(Mode::Replay(r)) => match &r.driver {
            Some(d) => Box::new(d.clone()),
            None => Box::new(crate::sys::HostDriver::new(opts.root.clone())),
        },
        None => Box::new(crate::sys::HostDriver::new(opts.root.clone())),
    }
}

/// The driver that serves `/dev/dxg` in a capture (the recording driver) or in a replay of a
/// bundle with an ioctl log; `None` for a plain run, which opens the host's `/dev/dxg`.
pub fn dxg_driver(opts: &Options) -> Option<Box<dyn NvDriver>> {
    match &opts.capture {
        Some(Mode::Record(r)) => Some(Box::new(r.driver.clone())),
        Some(Mode::Replay(r)) => r.driver.clone().map(|d| Box::new(d) as Box<dyn NvDriver>),
        None => None,
    }
}

/// The host's device nodes for a capture to record: `/dev/dxg` through its own ioctl path,
/// every NVIDIA node through [`crate::sys::HostDriver`].
struct HostNodes {
    nv: crate::sys::HostDriver,
    dxg: crate::platform::dxg::NvViaDxg<crate::sys::dxg::HostDxg>,
}

impl NvDriver for HostNodes {
    fn open(
        &self,
        path: &str,
        mode: crate::ioctl::OpenMode,
    ) -> Result<Box<dyn crate::ioctl::NvFile>, crate::ioctl::OpenError> {
        if path == crate::platform::dxg::DXG_PATH {
            self.dxg.open(path, mode)
        } else {
            self.nv.open(path, mode)
        }
    }
}

/// The cross-check of a capture (runs the shim and keeps its output) or of a replay (reads
/// the kept output). `None`: a plain run, let the caller run the shim.
pub fn cross_check(
    opts: &Options,
    report: &Report,
    deadline: Instant,
) -> Option<crate::crosscheck::Outcome> {
    match &opts.capture {
        None => None,
        Some(Mode::Record(rec)) => {
            let text = if let Some(kept) = &rec.replayed_shim_output {
                kept.clone()
            } else {
                let path = crate::crosscheck::locate_shim().ok()?;
                let out = run_shim(&path, deadline).ok()?;
                String::from_utf8_lossy(&out).into_owned()
            };
            let out = text.as_bytes().to_vec();
            *rec.shim_output
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(text);
            Some(crate::crosscheck::evaluate_output(report, &out))
        }
        Some(Mode::Replay(r)) => Some(match &r.meta.shim_output {
            Some(out) => crate::crosscheck::evaluate_output(report, out.as_bytes()),
            None => crate::crosscheck::Outcome {
                cross_check: CrossCheck {
                    status: crate::crosscheck::Status::Unavailable.as_str().to_owned(),
                    differences: Vec::new(),
                },
                rm_mismatch_library: None,
                source: Source::new(
                    crate::crosscheck::SOURCE,
                    SourceStatus::Absent,
                    "replay of a capture without shim output (it was made without --cross-check)",
                ),
            },
        }),
    }
}

/// Runs the shim for a capture: stdout up to the cross-check's limit, killed at `deadline`.
fn run_shim(path: &Path, deadline: Instant) -> Result<Vec<u8>, String> {
    use std::os::unix::process::CommandExt as _;
    use std::process::{Command, Stdio};
    let left = deadline.saturating_duration_since(Instant::now());
    let mut child = Command::new(path)
        .arg("--deadline-ms")
        .arg(left.as_millis().max(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let limit = u64::try_from(crate::crosscheck::OUTPUT_LIMIT).unwrap_or(u64::MAX) + 1;
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = stdout.take(limit).read_to_end(&mut buf).map(|_| buf);
        let _ = tx.send(r);
    });
    let got = rx.recv_timeout(left.max(Duration::from_millis(1)));
    let pid = rustix::process::Pid::from_child(&child);
    let status = if got.is_ok() {
        child.wait().map_err(|e| e.to_string())?
    } else {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = child.kill();
        let _ = child.wait();
        return Err("the shim did not finish in time".to_owned());
    };
    if !status.success() {
        return Err(format!("the shim exited with {status}"));
    }
    match got {
        Ok(Ok(buf)) => Ok(buf),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the shim's output was lost".to_owned()),
    }
}

/// Adds the `capture` source to the report of a replay. Returns why the bundle is incomplete,
/// when its capture stopped copying at the deadline (`findings::capture_incomplete` words it).
pub fn annotate(opts: &Options, report: &mut Report) -> Option<String> {
    let Some(Mode::Replay(r)) = &opts.capture else {
        return None;
    };
    let m = &r.meta;
    let mut parts = vec![format!(
        "replay of a capture of {} by {} {}{}",
        m.machine,
        m.tool.name,
        m.tool.version,
        if m.redacted { " (redacted)" } else { "" }
    )];
    parts.push(format!(
        "environment from the capture ({} variable{}), not from this process",
        m.environment.len(),
        if m.environment.len() == 1 { "" } else { "s" }
    ));
    if m.flags.deep || m.flags.cross_check {
        let mut f = Vec::new();
        if m.flags.deep {
            f.push("--deep");
        }
        if m.flags.cross_check {
            f.push("--cross-check");
        }
        parts.push(format!("{} as captured", f.join(" ")));
    }
    let mut status = SourceStatus::Ok;
    match &r.driver {
        Some(d) => {
            parts.push(format!("{} ioctl event(s) replayed", d.replayed()));
            let misses = d.misses();
            if !misses.is_empty() {
                status = SourceStatus::Failed;
                parts.push(format!(
                    "{} not in the capture: {}",
                    misses.len(),
                    misses.join(", ")
                ));
            }
        }
        None => parts.push("no ioctl log".to_owned()),
    }
    if !r.problems.is_empty() {
        status = SourceStatus::Failed;
        parts.extend(r.problems.iter().cloned());
    }
    if let Some(why) = &m.incomplete {
        // The likely cause of any other failure of the replay.
        status = SourceStatus::Timeout;
        parts.push(format!("the bundle is incomplete: {why}"));
    }
    report
        .sources
        .push(Source::new(SOURCE, status, parts.join("; ")));
    m.incomplete.clone()
}

/// The most `capture.json` may hold. Written by nvprobe it is under a kilobyte but for two
/// parts: the shim's output, at most [`crate::crosscheck::OUTPUT_LIMIT`] (1 MiB) and at most
/// 6 MiB once escaped as a JSON string (`\u00XX` for a control byte), and the allow-listed
/// environment, which Linux caps with the arguments at `ARG_MAX` (2 MiB by default). 16 MiB
/// holds both with room to spare; past it the file was not written by a capture.
pub const CAPTURE_LIMIT: u64 = 16 << 20;

/// The most `ioctl.json` may hold. The largest log among the fixtures is 43 KB for one GPU
/// (`wsl2-rtx4070`, with the calls made once per machine); the probe asks about at most 64
/// GPUs (`NV_ESC_CARD_INFO`'s longest array), so a real log stays under 64 × 43 KB ≈ 2.8 MB.
/// 8 MiB leaves a margin of about three, and bounds the memory and time a replay spends on
/// the log (parsed before the deadline's watchdog starts).
pub const IOCTL_LIMIT: u64 = 8 << 20;

/// Opens `DIR/.nvprobe`: `Ok(None)` when DIR is no capture (no `.nvprobe` directory, as for a
/// plain fixture), `Err` with the reason when it is a link, which is not followed (the
/// metadata comes from the bundle itself).
fn open_meta_dir(dir: &Path) -> Result<Option<rustix::fd::OwnedFd>, String> {
    use rustix::fs::{FileType, Mode, OFlags};
    let path = dir.join(META_DIR);
    let Ok(st) = rustix::fs::lstat(&path) else {
        return Ok(None);
    };
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {}
        FileType::Symlink => return Err(format!("{META_DIR}: a symbolic link, not followed")),
        _ => return Ok(None),
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::open(&path, flags, Mode::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => {
            Err(format!("{META_DIR}: a symbolic link, not followed"))
        }
        Err(e) => Err(format!(
            "{META_DIR}: {}",
            crate::root::describe_error(&e.into())
        )),
    }
}

/// Reads one metadata file of the bundle: a regular file, not a link, at most `limit` bytes
/// ([`crate::root::read_regular_at`]). `Ok(None)` when it is missing; `Err` names the file and
/// says why it was refused.
fn read_meta_file(
    meta_dir: &rustix::fd::OwnedFd,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, String> {
    use rustix::fd::AsFd as _;
    match crate::root::read_regular_at(meta_dir.as_fd(), name, limit) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!(
            "{name}: refused, {}",
            crate::root::describe_error(&e)
        )),
    }
}

/// The `deadline-exceeded` error of a capture whose copy stopped at the deadline.
/// Under `--root DIR`: when DIR is a capture, replay it (ioctl replies, environment, flags).
/// Does nothing for a plain fixture. Problems loading the bundle go into the `capture`
/// source; the replay goes on with what could be read.
///
/// This runs before the deadline's watchdog, so it never blocks and reads a bounded amount:
/// each metadata file must be a regular file of the bundle (no link followed, no FIFO or
/// device opened for reading) of at most [`CAPTURE_LIMIT`] or [`IOCTL_LIMIT`] bytes.
pub fn prepare_replay(opts: &mut Options, dir: &Path) {
    let mut problems = Vec::new();
    let meta_dir = match open_meta_dir(dir) {
        Ok(Some(fd)) => fd,
        Ok(None) => return,
        Err(e) => {
            problems.push(e);
            return set_replay(opts, dir, None, None, problems);
        }
    };
    let text = match read_meta_file(&meta_dir, CAPTURE_FILE, CAPTURE_LIMIT) {
        Ok(Some(t)) => t,
        // No capture.json: a plain fixture.
        Ok(None) => return,
        Err(e) => {
            problems.push(e);
            return set_replay(opts, dir, None, None, problems);
        }
    };
    let meta: CaptureMeta = match serde_json::from_slice(&text) {
        Ok(m) => m,
        Err(e) => {
            problems.push(format!("{CAPTURE_FILE}: {e}"));
            return set_replay(opts, dir, None, None, problems);
        }
    };
    if meta.format != CAPTURE_FORMAT {
        problems.push(format!(
            "{CAPTURE_FILE}: format {:?}, expected {CAPTURE_FORMAT:?}",
            meta.format
        ));
    }
    let driver = match read_meta_file(&meta_dir, IOCTL_FILE, IOCTL_LIMIT) {
        Ok(Some(t)) => match serde_json::from_slice::<IoctlLog>(&t)
            .map_err(|e| e.to_string())
            .and_then(|log| ReplayDriver::new(&log))
        {
            Ok(d) => Some(d),
            Err(e) => {
                problems.push(format!("{IOCTL_FILE}: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    set_replay(opts, dir, Some(meta), driver, problems);
}

fn set_replay(
    opts: &mut Options,
    dir: &Path,
    meta: Option<CaptureMeta>,
    driver: Option<ReplayDriver>,
    problems: Vec<String>,
) {
    let meta = meta.unwrap_or_else(|| CaptureMeta {
        format: String::new(),
        tool: ToolInfo {
            name: "?".to_owned(),
            version: "?".to_owned(),
        },
        created_unix: 0,
        machine: "?".to_owned(),
        flags: Flags::default(),
        redacted: false,
        environment: BTreeMap::new(),
        shim_output: None,
        copied: Copied::default(),
        unreadable: Vec::new(),
        left_out: Vec::new(),
        incomplete: None,
        ioctl_events: 0,
    });
    opts.env = Env::from_pairs(meta.environment.clone());
    opts.deep |= meta.flags.deep;
    opts.cross_check |= meta.flags.cross_check;
    opts.capture = Some(Mode::Replay(Arc::new(Replay {
        dir: dir.to_path_buf(),
        meta,
        driver,
        problems,
    })));
}

// ---------------------------------------------------------------------------------------------
// Writing a bundle.

/// Why a capture failed.
#[derive(Debug)]
pub enum CaptureError {
    /// The output directory is not usable (exit code 2).
    Usage(String),
    /// Writing failed, or the deadline passed before any report (exit code 3).
    Failed(String),
}

impl std::fmt::Display for CaptureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Usage(s) | Self::Failed(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for CaptureError {}

/// A finished capture.
#[derive(Debug)]
pub struct Captured {
    /// The report of the captured run.
    pub report: Report,
    /// The metadata written.
    pub meta: CaptureMeta,
}

fn write_json<T: Serialize>(
    bundle: &copy::Bundle,
    name: &str,
    value: &T,
) -> Result<(), CaptureError> {
    let what = |e: &dyn std::fmt::Display| CaptureError::Failed(format!("{META_DIR}/{name}: {e}"));
    let text = crate::report::json::pretty(value).map_err(|e| what(&e))?;
    bundle
        .write_file(
            &[std::ffi::OsString::from(META_DIR)],
            name,
            format!("{text}\n").as_bytes(),
        )
        .map_err(|e| what(&e))
}

/// `nvprobe capture --out DIR [--redact]`: probes as `opts` says with recording on and writes
/// the bundle. The report is the captured run's.
///
/// # Errors
/// [`CaptureError::Usage`] for an unusable `out`, [`CaptureError::Failed`] when writing fails
/// or the deadline passed before any report.
pub fn run(opts: &Options, out: &Path, redact: bool) -> Result<Captured, CaptureError> {
    run_with(opts, out, redact, None)
}

/// [`run`] with the ioctl driver given (the emulator in tests); `None` takes the device nodes
/// under `opts.root`, or the replies of the capture `opts.root` is.
///
/// # Errors
/// As [`run`].
pub fn run_with(
    opts: &Options,
    out: &Path,
    redact: bool,
    driver: Option<Arc<dyn NvDriver>>,
) -> Result<Captured, CaptureError> {
    let started = Instant::now();
    let deadline = started.checked_add(opts.timeout);
    let bundle = copy::Bundle::create(out).map_err(|e| match e {
        copy::BundleError::Refused(s) => CaptureError::Usage(s),
        copy::BundleError::Failed(s) => CaptureError::Failed(s),
    })?;
    let recorder = Recorder::new();
    let mut o = opts.clone();
    o.root = opts.root.clone().with_recorder(recorder.clone());
    let inner: Arc<dyn NvDriver> = match (driver, &opts.capture) {
        (Some(d), _) => d,
        (None, Some(Mode::Replay(r))) if r.driver.is_some() => match &r.driver {
            Some(d) => Arc::new(d.clone()),
            None => Arc::new(crate::sys::HostDriver::new(o.root.clone())),
        },
        _ => Arc::new(HostNodes {
            nv: crate::sys::HostDriver::new(o.root.clone()),
            dxg: crate::platform::dxg::NvViaDxg(crate::sys::dxg::HostDxg::new(o.root.clone())),
        }),
    };
    // A capture of a replay is a capture of the replayed machine: its name, its redaction and
    // its shim output carry over (a bundle re-captured with today's copy rules stays whole).
    let replayed = match &opts.capture {
        Some(Mode::Replay(r)) => Some(&r.meta),
        _ => None,
    };
    let recording = Recording {
        driver: RecordingDriver::new(inner),
        shim_output: Arc::new(Mutex::new(None)),
        replayed_shim_output: replayed.and_then(|m| m.shim_output.clone()),
    };
    o.capture = Some(Mode::Record(recording.clone()));
    let mut report =
        crate::probe_with_deadline(&o).map_err(|e| CaptureError::Failed(e.to_string()))?;

    let mut log = recording.driver.log();
    let mut shim_output = recording
        .shim_output
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut redactor = redact.then(Redactor::new);
    if let Some(r) = redactor.as_mut() {
        for gpu in &report.gpus {
            if let Some(u) = &gpu.uuid {
                r.learn_uuid(u);
            }
        }
        if let Some(s) = &shim_output {
            r.learn_text(s.as_bytes());
        }
    }
    let src_base = root_base(&opts.root);
    let touched = recorder.snapshot();
    // Debug builds only: `NVPROBE_TEST_STALL=capture-copy:MS` starts the copy MS past the
    // deadline, so a test can show it stopping there on any machine, however fast.
    #[cfg(debug_assertions)]
    if let Some((name, pause)) = &opts.stall
        && name == "capture-copy"
        && let Some(d) = deadline
    {
        std::thread::sleep(d.saturating_duration_since(Instant::now()) + *pause);
    }
    let mut copier = copy::Copier::new(&src_base, &bundle, redactor.as_mut(), deadline);
    copier.copy_all(&touched, &recorder.ranges());
    let stats = copier.stats;
    let incomplete = stats.stopped.as_ref().map(|what| {
        format!(
            "the copy stopped at the {} ms deadline: {what}",
            opts.timeout.as_millis()
        )
    });
    if let Some(why) = &incomplete {
        let source = Source::new(
            SOURCE,
            SourceStatus::Timeout,
            format!("the bundle is incomplete: {why}"),
        );
        crate::rules::capture_stopped(&mut report, source, why);
    }
    if let Some(r) = redactor.as_mut() {
        redact_log(r, &mut log);
        shim_output = shim_output.map(|s| r.redact_text(&s));
    }

    let environment: BTreeMap<String, String> = opts
        .env
        .iter()
        .filter(|(k, _)| env_allowed(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let meta = CaptureMeta {
        format: CAPTURE_FORMAT.to_owned(),
        tool: ToolInfo {
            name: "nvprobe".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine: if let Some(m) = replayed {
            m.machine.clone()
        } else if opts.root.is_host() {
            "/".to_owned()
        } else {
            std::fs::canonicalize(opts.root.base())
                .unwrap_or_else(|_| opts.root.base().to_path_buf())
                .to_string_lossy()
                .into_owned()
        },
        flags: Flags {
            deep: opts.deep,
            cross_check: opts.cross_check,
            timeout_ms: u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX),
        },
        redacted: redact || replayed.is_some_and(|m| m.redacted),
        environment,
        shim_output,
        copied: Copied {
            files: stats.files,
            sparse: stats.sparse,
            dirs: stats.dirs,
            links: stats.links,
            stand_ins: stats.stand_ins,
            bytes: stats.bytes,
        },
        unreadable: stats
            .unreadable
            .iter()
            .map(|(path, error)| Unreadable {
                path: path.clone(),
                error: error.clone(),
            })
            .collect(),
        left_out: stats
            .left_out
            .iter()
            .map(|(path, reason)| LeftOut {
                path: path.clone(),
                reason: reason.clone(),
            })
            .collect(),
        incomplete,
        ioctl_events: log.events.len(),
    };
    write_json(&bundle, IOCTL_FILE, &log)?;
    write_json(&bundle, CAPTURE_FILE, &meta)?;
    Ok(Captured { report, meta })
}

fn root_base(root: &Root) -> PathBuf {
    if root.is_host() {
        PathBuf::from("/")
    } else {
        root.base().to_path_buf()
    }
}

/// Redacts UUIDs in the hex buffers of an ioctl log.
fn redact_log(r: &Redactor, log: &mut IoctlLog) {
    let fix = |hex: &mut String| {
        if let Some(mut bytes) = ioctl_log::from_hex(hex) {
            r.redact_binary(&mut bytes);
            *hex = ioctl_log::to_hex(&bytes);
        }
    };
    for e in &mut log.events {
        if let ioctl_log::Event::Ioctl {
            arg_in,
            arg_out,
            params_in,
            params_out,
            ..
        } = e
        {
            fix(arg_in);
            fix(arg_out);
            if let Some(p) = params_in.as_mut() {
                fix(p);
            }
            if let Some(p) = params_out.as_mut() {
                fix(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_env_allow_list() {
        assert!(env_allowed("LD_LIBRARY_PATH"));
        assert!(env_allowed("NVIDIA_REQUIRE_CUDA"));
        assert!(env_allowed("NVPROBE_DRIVER_VERSION"));
        assert!(!env_allowed("AWS_SECRET_ACCESS_KEY"));
        assert!(!env_allowed("GITHUB_TOKEN"));
        assert!(!env_allowed("PATH_EXTRA"));
    }
}
