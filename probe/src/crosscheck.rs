//! The NVML cross-check (`nvprobe --cross-check`): run `nvprobe-shim`, read its answer, compare
//! it with the report.
//!
//! nvprobe is static and cannot load `libnvidia-ml.so.1`; the shim is a small glibc binary
//! that can (protocol `nvprobe-shim/1`, documented in the shim's crate doc). This module finds
//! it ([`locate_shim`]: `NVPROBE_SHIM`, else `nvprobe-shim` next to the running executable),
//! runs it in its own process group with stdin closed, stderr discarded and stdout read up to
//! [`OUTPUT_LIMIT`], and kills the whole group when the deadline passes (an `nvmlInit` that
//! hangs costs the deadline, never more). Nothing the shim prints is trusted: output that is
//! too long, not UTF-8 JSON, of another protocol version or of the wrong shape makes the
//! cross-check `failed`, never a panic.
//!
//! # Statuses (`cross_check.status`)
//! - `agree`: every value both sides know is the same (possibly none, see the source detail).
//! - `disagree`: at least one difference; a `cross-check-disagrees` warning lists them.
//! - `unavailable`: no shim, no `libnvidia-ml.so.1`, or NVML could not start (driver not
//!   loaded, no permission, driver/library mismatch, a library that is not NVML). NVML's
//!   `LIB_RM_VERSION_MISMATCH` also raises `driver-library-mismatch` (error).
//! - `failed`: the shim misbehaved: crashed, exited non-zero, or wrote output that is not a
//!   valid `nvprobe-shim/1` answer.
//! - `timeout`: the deadline passed first; the shim was killed and reaped.
//!
//! The source record [`SOURCE`] (`nvml-shim`) says what happened in words.
//!
//! # What is compared
//! Only values both sides know: `driver.version`, `driver.cuda_version` (NVML's
//! `nvmlSystemGetCudaDriverVersion*`, else libcuda's `cuDriverGetVersion`), the number of GPUs
//! NVML can see, and per GPU matched by PCI bus id: vendor, device and subsystem ids, name
//! (case and an `NVIDIA` word ignored), UUID (case ignored), memory and compute capability. A
//! GPU NVML cannot see (bound to nouveau or vfio-pci, or unbound on bare metal) is left out.
//! Difference fields are report paths: `driver.version`, `gpus.count`,
//! `gpus[0000:3b:00.0].uuid`, `gpus[0000:3b:00.0]` (present on one side only).

pub use crate::codes::CROSS_CHECK_DISAGREES;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::report::{
    CrossCheck, Difference, Gpu, PlatformKind, Report, Source, SourceStatus,
};

/// The only protocol this nvprobe accepts from the shim.
pub const PROTOCOL: &str = "nvprobe-shim/1";
/// The environment variable naming the shim's path.
pub const SHIM_ENV: &str = "NVPROBE_SHIM";
/// The shim's file name, looked for next to the running `nvprobe`.
pub const SHIM_NAME: &str = "nvprobe-shim";
/// The most bytes of shim output accepted; more makes the cross-check `failed`.
pub const OUTPUT_LIMIT: usize = 1024 * 1024;
/// The name of the source record.
pub const SOURCE: &str = "nvml-shim";
/// Finding: the user-space driver library is not the kernel module's version (error).
pub use crate::doctor::DRIVER_LIBRARY_MISMATCH;

/// The most GPUs an answer may list; more is treated as malformed.
const MAX_GPUS: usize = 1024;
/// The longest string accepted in a compared field.
const MAX_STRING: usize = 256;

/// `cross_check.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// No differences.
    Agree,
    /// At least one difference.
    Disagree,
    /// No NVML to ask (no shim, no library, NVML could not start).
    Unavailable,
    /// The shim misbehaved.
    Failed,
    /// The deadline passed; the shim was killed.
    Timeout,
}

impl Status {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agree => "agree",
            Self::Disagree => "disagree",
            Self::Unavailable => "unavailable",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
        }
    }
}

/// The result of a cross-check: what goes into `cross_check`, `findings` and `sources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// For `report.cross_check`.
    pub cross_check: CrossCheck,
    /// NVML refused to start with `LIB_RM_VERSION_MISMATCH`: the library it loaded (as shown).
    /// `findings::cross_check` words this and a disagreement; the cross-check raises nothing.
    pub rm_mismatch_library: Option<String>,
    /// To append to `report.sources`: the [`SOURCE`] record.
    pub source: Source,
}

impl Outcome {
    fn new(status: Status, source_status: SourceStatus, detail: impl Into<String>) -> Self {
        Self {
            cross_check: CrossCheck {
                status: status.as_str().to_owned(),
                differences: Vec::new(),
            },
            rm_mismatch_library: None,
            source: Source::new(SOURCE, source_status, detail),
        }
    }

    /// The status as an enum.
    pub fn status(&self) -> Option<Status> {
        [
            Status::Agree,
            Status::Disagree,
            Status::Unavailable,
            Status::Failed,
            Status::Timeout,
        ]
        .into_iter()
        .find(|s| s.as_str() == self.cross_check.status)
    }
}

/// Runs the cross-check: finds the shim (or uses `shim`), runs it until `deadline` at the
/// latest, and compares its answer with `report`. Never panics and never blocks past
/// `deadline` (plus the time to kill and reap the shim).
pub fn run_cross_check(report: &Report, shim: Option<&Path>, deadline: Instant) -> Outcome {
    let path = match shim {
        Some(p) => p.to_path_buf(),
        None => match locate_shim() {
            Ok(p) => p,
            Err(why) => return Outcome::new(Status::Unavailable, SourceStatus::Absent, why),
        },
    };
    match run_shim(&path, deadline) {
        Ok(stdout) => evaluate_output(report, &stdout),
        Err(RunError::NotFound(d)) => Outcome::new(Status::Unavailable, SourceStatus::Absent, d),
        Err(RunError::Failed(d)) => Outcome::new(Status::Failed, SourceStatus::Failed, d),
        Err(RunError::Timeout(d)) => Outcome::new(Status::Timeout, SourceStatus::Timeout, d),
    }
}

/// The deadline to give [`run_cross_check`] in a run that started at `started` with the
/// overall `timeout`: a tenth of the timeout (20 ms to 200 ms) is kept back so that the report
/// can still be assembled and written after the shim is killed.
pub fn shim_deadline(started: Instant, timeout: Duration) -> Instant {
    let reserve = (timeout / 10).clamp(Duration::from_millis(20), Duration::from_millis(200));
    started + timeout.saturating_sub(reserve)
}

/// Where the shim is: `NVPROBE_SHIM` when set and not empty, else `nvprobe-shim` in the
/// directory of the running executable. `Err` says, in words, why there is none.
pub fn locate_shim() -> Result<PathBuf, String> {
    locate_shim_from(std::env::var_os(SHIM_ENV), std::env::current_exe().ok())
}

/// [`locate_shim`] with its inputs given: the value of `NVPROBE_SHIM` and the executable path.
pub fn locate_shim_from(env: Option<OsString>, exe: Option<PathBuf>) -> Result<PathBuf, String> {
    if let Some(value) = env.filter(|v| !v.is_empty()) {
        let p = PathBuf::from(value);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("{SHIM_ENV}={} is not a file", p.display()))
        };
    }
    let Some(exe) = exe else {
        return Err(format!(
            "the path of nvprobe is unknown and {SHIM_ENV} is not set"
        ));
    };
    let p = exe.with_file_name(SHIM_NAME);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "no {SHIM_NAME} next to nvprobe ({}); install it there or set {SHIM_ENV}",
            p.display()
        ))
    }
}

enum RunError {
    NotFound(String),
    Failed(String),
    Timeout(String),
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Kills the shim's process group (the shim and anything NVML started), then reaps the shim.
fn kill(child: &mut Child) {
    let pid = rustix::process::Pid::from_child(child);
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs the shim and returns its stdout when it exited 0 in time.
fn run_shim(path: &Path, deadline: Instant) -> Result<Vec<u8>, RunError> {
    let started = Instant::now();
    let left = remaining(deadline);
    if left.is_zero() {
        return Err(RunError::Timeout(
            "no time was left to run the shim".to_owned(),
        ));
    }
    let mut child = Command::new(path)
        .arg("--deadline-ms")
        .arg(left.as_millis().max(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            let what = format!("cannot run {}: {e}", path.display());
            if e.kind() == std::io::ErrorKind::NotFound {
                RunError::NotFound(what)
            } else {
                RunError::Failed(what)
            }
        })?;
    let Some(stdout) = child.stdout.take() else {
        kill(&mut child);
        return Err(RunError::Failed(
            "the shim's stdout was not captured".to_owned(),
        ));
    };
    // A thread reads, so the deadline can be enforced here while it blocks. If something
    // outside the killed group still holds the pipe, the thread is left behind blocked; the
    // process exits soon after anyway.
    let (tx, rx) = mpsc::sync_channel(1);
    let reader = std::thread::Builder::new()
        .name("nvprobe-shim-reader".to_owned())
        .spawn(move || {
            let mut buf = Vec::new();
            let limit = u64::try_from(OUTPUT_LIMIT)
                .unwrap_or(u64::MAX)
                .saturating_add(1);
            let read = stdout.take(limit).read_to_end(&mut buf).map(|_| buf);
            let _ = tx.send(read);
        });
    if let Err(e) = reader {
        kill(&mut child);
        return Err(RunError::Failed(format!(
            "cannot start a thread to read the shim: {e}"
        )));
    }
    let out = match rx.recv_timeout(remaining(deadline)) {
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            kill(&mut child);
            return Err(RunError::Failed(format!(
                "reading the shim's output failed: {e}"
            )));
        }
        Err(_) => {
            kill(&mut child);
            return Err(RunError::Timeout(format!(
                "the shim gave no answer within {} ms (NVML hung?) and was killed",
                started.elapsed().as_millis()
            )));
        }
    };
    if out.len() > OUTPUT_LIMIT {
        kill(&mut child);
        return Err(RunError::Failed(format!(
            "the shim wrote more than {OUTPUT_LIMIT} bytes; its output was refused"
        )));
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill(&mut child);
                return Err(RunError::Failed(format!("cannot wait for the shim: {e}")));
            }
        }
        let left = remaining(deadline);
        if left.is_zero() {
            kill(&mut child);
            return Err(RunError::Timeout(
                "the shim answered but did not exit before the deadline and was killed".to_owned(),
            ));
        }
        std::thread::sleep(left.min(Duration::from_millis(2)));
    };
    if let Some(signal) = status.signal() {
        return Err(RunError::Failed(format!(
            "the shim died of signal {signal}{} (a crash inside NVML?)",
            if signal == 11 { " (SIGSEGV)" } else { "" }
        )));
    }
    if !status.success() {
        let code = status
            .code()
            .map_or_else(|| "?".to_owned(), |c| c.to_string());
        return Err(RunError::Failed(format!(
            "the shim exited with status {code}"
        )));
    }
    Ok(out)
}

// ---- The answer, as the shim writes it (protocol nvprobe-shim/1). Unknown keys are ignored.

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Val<T> {
    Error { error: ErrorInfo },
    Value(T),
}

impl<T> Val<T> {
    fn value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Error { .. } => None,
        }
    }
}

fn value<T>(v: Option<&Val<T>>) -> Option<&T> {
    v.and_then(Val::value)
}

#[derive(Debug, Deserialize)]
struct ErrorInfo {
    code: String,
    value: Option<i64>,
    message: Option<String>,
    symbol: Option<String>,
}

impl ErrorInfo {
    fn describe(&self) -> String {
        let mut s = self.code.clone();
        if let Some(v) = self.value {
            let _ = write!(s, " ({v})");
        }
        if let Some(m) = &self.message {
            s.push_str(": ");
            s.push_str(m);
        } else if let Some(sym) = &self.symbol {
            s.push_str(": ");
            s.push_str(sym);
        }
        s
    }

    fn is(&self, value: i64, name: &str) -> bool {
        self.value == Some(value) || self.code == name
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    protocol: String,
    library: Option<LibraryInfo>,
    #[serde(default)]
    missing_symbols: Vec<String>,
    init: Option<Val<InitInfo>>,
    nvml_version: Option<Val<String>>,
    driver_version: Option<Val<String>>,
    cuda_driver_version: Option<Val<String>>,
    gpu_count: Option<Val<u64>>,
    #[serde(default)]
    gpus: Vec<AnswerGpu>,
    libcuda: Option<Libcuda>,
}

#[derive(Debug, Deserialize)]
struct LibraryInfo {
    name: Option<String>,
    path: Option<String>,
    error: Option<ErrorInfo>,
}

#[derive(Debug, Deserialize)]
struct InitInfo {
    #[expect(
        dead_code,
        reason = "required so that a malformed init object does not parse"
    )]
    function: String,
}

#[derive(Debug, Deserialize)]
struct Libcuda {
    cuda_driver_version: Option<Val<String>>,
}

#[derive(Debug, Deserialize)]
struct AnswerGpu {
    pci: Option<Val<AnswerPci>>,
    name: Option<Val<String>>,
    uuid: Option<Val<String>>,
    compute_capability: Option<Val<String>>,
    memory_total_bytes: Option<Val<u64>>,
}

#[derive(Debug, Deserialize)]
#[expect(clippy::struct_field_names, reason = "the shim's key names")]
struct AnswerPci {
    bus_id: String,
    vendor_id: Option<String>,
    device_id: Option<String>,
    subsystem_vendor_id: Option<String>,
    subsystem_device_id: Option<String>,
}

/// Parses and validates the shim's stdout. `Err` says what is wrong with it.
fn parse_answer(bytes: &[u8]) -> Result<Answer, String> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("the shim's output is not one JSON value: {e}"))?;
    match json.get("protocol") {
        Some(serde_json::Value::String(p)) if p == PROTOCOL => {}
        Some(serde_json::Value::String(p)) => {
            return Err(format!(
                "the shim speaks protocol {p:?}, this nvprobe only {PROTOCOL:?}: install the \
                 nvprobe-shim of the same release"
            ));
        }
        _ => return Err("the shim's output has no \"protocol\" string".to_owned()),
    }
    let answer: Answer = serde_json::from_value(json)
        .map_err(|e| format!("the shim's answer does not follow {PROTOCOL}: {e}"))?;
    debug_assert_eq!(answer.protocol, PROTOCOL);
    if answer.gpus.len() > MAX_GPUS {
        return Err(format!(
            "the shim lists {} GPUs; refused",
            answer.gpus.len()
        ));
    }
    let mut strings: Vec<&str> = Vec::new();
    strings.extend(value(answer.driver_version.as_ref()).map(String::as_str));
    strings.extend(value(answer.cuda_driver_version.as_ref()).map(String::as_str));
    strings.extend(value(answer.nvml_version.as_ref()).map(String::as_str));
    for g in &answer.gpus {
        strings.extend(value(g.name.as_ref()).map(String::as_str));
        strings.extend(value(g.uuid.as_ref()).map(String::as_str));
        strings.extend(value(g.compute_capability.as_ref()).map(String::as_str));
        if let Some(p) = value(g.pci.as_ref()) {
            if normalize_bus_id(&p.bus_id).is_none() {
                return Err(format!(
                    "the shim reports a malformed PCI bus id {:?}",
                    p.bus_id
                ));
            }
            strings.extend(
                [
                    &p.vendor_id,
                    &p.device_id,
                    &p.subsystem_vendor_id,
                    &p.subsystem_device_id,
                ]
                .into_iter()
                .flatten()
                .map(String::as_str),
            );
        }
    }
    if let Some(bad) = strings.iter().find(|s| !plausible(s)) {
        let shown: String = bad.chars().take(40).collect();
        return Err(format!("the shim reports an implausible value {shown:?}"));
    }
    Ok(answer)
}

/// Short printable text: what a version, name, UUID or id looks like.
fn plausible(s: &str) -> bool {
    s.len() <= MAX_STRING && !s.chars().any(char::is_control)
}

/// Parses the shim's stdout and compares it with `report`: the pure half of
/// [`run_cross_check`], for callers (and tests) that already have the output.
pub fn evaluate_output(report: &Report, stdout: &[u8]) -> Outcome {
    match parse_answer(stdout) {
        Ok(answer) => evaluate(report, &answer),
        Err(why) => Outcome::new(Status::Failed, SourceStatus::Failed, why),
    }
}

fn evaluate(report: &Report, a: &Answer) -> Outcome {
    let lib = a.library.as_ref();
    let lib_name = lib
        .and_then(|l| l.name.clone())
        .unwrap_or_else(|| "libnvidia-ml.so.1".into());
    let lib_path = lib.and_then(|l| l.path.clone()).filter(|p| plausible(p));
    let lib_shown = lib_path.clone().unwrap_or_else(|| lib_name.clone());
    if let Some(err) = lib.and_then(|l| l.error.as_ref()) {
        return Outcome::new(
            Status::Unavailable,
            SourceStatus::Absent,
            format!(
                "NVML is not available: {lib_name} cannot be loaded: {}",
                err.describe()
            ),
        );
    }
    let Some(init) = &a.init else {
        return Outcome::new(
            Status::Failed,
            SourceStatus::Failed,
            "the shim's answer has neither a library error nor an NVML init result",
        );
    };
    if let Val::Error { error } = init {
        return init_failure(error, &lib_shown);
    }

    let mut diffs = Vec::new();
    let mut compared = 0usize;

    // The driver.
    if let Some(nvml) = value(a.driver_version.as_ref()) {
        compared += 1;
        match &report.driver {
            Some(d) if d.version == **nvml => {}
            Some(d) => diffs.push(diff("driver.version", Some(d.version.as_str()), Some(nvml))),
            None => diffs.push(diff("driver.version", None, Some(nvml))),
        }
    }
    let nvml_cuda = value(a.cuda_driver_version.as_ref()).or_else(|| {
        a.libcuda
            .as_ref()
            .and_then(|c| value(c.cuda_driver_version.as_ref()))
    });
    let probe_cuda = report
        .driver
        .as_ref()
        .and_then(|d| d.cuda_version)
        .map(|c| c.to_string());
    if let (Some(p), Some(n)) = (probe_cuda, nvml_cuda) {
        compared += 1;
        if !same_version(&p, n) {
            diffs.push(diff("driver.cuda_version", Some(&p), Some(n)));
        }
    }

    // The GPUs NVML can see, matched by bus id.
    let probe_gpus: Vec<(String, &Gpu)> = report
        .gpus
        .iter()
        .filter(|g| nvml_can_see(report, g))
        .filter_map(|g| normalize_bus_id(&g.pci.bus_id).map(|b| (b, g)))
        .collect();
    let nvml_gpus: Vec<(String, &AnswerGpu, &AnswerPci)> = a
        .gpus
        .iter()
        .filter_map(|g| {
            let pci = value(g.pci.as_ref())?;
            Some((normalize_bus_id(&pci.bus_id)?, g, pci))
        })
        .collect();
    let count = value(a.gpu_count.as_ref()).copied();
    // Presence is compared only when NVML listed every GPU with its bus id.
    let complete = count.is_some_and(|n| usize::try_from(n).is_ok_and(|n| n == nvml_gpus.len()));
    if let Some(n) = count {
        compared += 1;
        if usize::try_from(n).ok() != Some(probe_gpus.len()) {
            diffs.push(diff(
                "gpus.count",
                Some(&probe_gpus.len().to_string()),
                Some(&n.to_string()),
            ));
        }
    }
    for (bus, g) in &probe_gpus {
        match nvml_gpus.iter().find(|(b, _, _)| b == bus) {
            // Its presence, then its fields.
            Some((_, n, pci)) => compared += 1 + compare_gpu(bus, g, n, pci, &mut diffs),
            None if complete => {
                compared += 1;
                let shown = g.name.clone().unwrap_or_else(|| "present".to_owned());
                diffs.push(diff(&format!("gpus[{bus}]"), Some(&shown), None));
            }
            None => {}
        }
    }
    if complete {
        for (bus, n, _) in &nvml_gpus {
            if !probe_gpus.iter().any(|(b, _)| b == bus) {
                compared += 1;
                let shown = value(n.name.as_ref())
                    .cloned()
                    .unwrap_or_else(|| "present".into());
                diffs.push(diff(&format!("gpus[{bus}]"), None, Some(&shown)));
            }
        }
    }

    let mut detail = "NVML".to_owned();
    if let Some(v) = value(a.nvml_version.as_ref()) {
        let _ = write!(detail, " {v}");
    }
    let _ = write!(detail, " ({lib_shown})");
    if let Some(v) = value(a.driver_version.as_ref()) {
        let _ = write!(detail, ": driver {v}");
    }
    if let Some(n) = count {
        let _ = write!(detail, ", {n} GPU(s)");
    }
    let _ = write!(
        detail,
        "; {compared} value(s) compared, {} differ",
        diffs.len()
    );
    if !a.missing_symbols.is_empty() {
        let shown: Vec<&str> = a
            .missing_symbols
            .iter()
            .take(6)
            .map(String::as_str)
            .collect();
        let more = a.missing_symbols.len().saturating_sub(shown.len());
        let _ = write!(detail, "; not exported by this NVML: {}", shown.join(", "));
        if more > 0 {
            let _ = write!(detail, " and {more} more");
        }
    }

    let mut outcome = if diffs.is_empty() {
        Outcome::new(Status::Agree, SourceStatus::Ok, detail)
    } else {
        Outcome::new(Status::Disagree, SourceStatus::Ok, detail)
    };
    outcome.cross_check.differences = diffs;
    outcome
}

/// Compares the fields of one GPU both sides know; returns how many were compared.
fn compare_gpu(
    bus: &str,
    g: &Gpu,
    n: &AnswerGpu,
    pci: &AnswerPci,
    diffs: &mut Vec<Difference>,
) -> usize {
    let mut compared = 0;
    let mut check =
        |field: &str, probe: Option<String>, nvml: Option<String>, same: fn(&str, &str) -> bool| {
            if let (Some(p), Some(v)) = (probe, nvml) {
                compared += 1;
                if !same(&p, &v) {
                    diffs.push(diff(&format!("gpus[{bus}].{field}"), Some(&p), Some(&v)));
                }
            }
        };
    let ci = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for (field, probe, nvml) in [
        ("pci.vendor_id", g.pci.vendor_id, &pci.vendor_id),
        ("pci.device_id", g.pci.device_id, &pci.device_id),
        (
            "pci.subsystem_vendor_id",
            g.pci.subsystem_vendor_id,
            &pci.subsystem_vendor_id,
        ),
        (
            "pci.subsystem_device_id",
            g.pci.subsystem_device_id,
            &pci.subsystem_device_id,
        ),
    ] {
        check(field, probe.map(|p| p.to_string()), nvml.clone(), ci);
    }
    check(
        "name",
        g.name.clone(),
        value(n.name.as_ref()).cloned(),
        |a, b| normalize_name(a) == normalize_name(b),
    );
    check("uuid", g.uuid.clone(), value(n.uuid.as_ref()).cloned(), ci);
    check(
        "memory_bytes",
        g.memory_bytes.map(|m| m.to_string()),
        value(n.memory_total_bytes.as_ref()).map(u64::to_string),
        |a, b| a == b,
    );
    check(
        "compute_capability",
        g.compute_capability.map(|c| c.to_string()),
        value(n.compute_capability.as_ref()).cloned(),
        same_version,
    );
    compared
}

/// True when NVML would list this GPU: bound to `nvidia`, or on a platform where the binding
/// cannot be read (WSL2, gVisor, containers) and none was recorded.
fn nvml_can_see(report: &Report, g: &Gpu) -> bool {
    match g.kernel_driver.as_deref() {
        Some(d) => d == "nvidia",
        None => report.platform.kind != PlatformKind::BareMetal,
    }
}

fn diff(field: &str, probe: Option<&str>, nvml: Option<&str>) -> Difference {
    Difference {
        field: field.to_owned(),
        probe: probe.map(str::to_owned),
        nvml: nvml.map(str::to_owned),
    }
}

/// What NVML's init error means for the cross-check.
fn init_failure(error: &ErrorInfo, lib_shown: &str) -> Outcome {
    let said = error.describe();
    if error.is(18, "NVML_ERROR_LIB_RM_VERSION_MISMATCH") {
        let mut o = Outcome::new(
            Status::Unavailable,
            SourceStatus::Failed,
            format!("NVML ({lib_shown}) refused to start: {said}"),
        );
        o.rm_mismatch_library = Some(lib_shown.to_owned());
        return o;
    }
    let (status, detail) = if error.is(9, "NVML_ERROR_DRIVER_NOT_LOADED") {
        (
            SourceStatus::Absent,
            format!("NVML ({lib_shown}) finds no loaded driver: {said}"),
        )
    } else if error.is(4, "NVML_ERROR_NO_PERMISSION") {
        (
            SourceStatus::Denied,
            format!("NVML ({lib_shown}) may not open the GPU devices: {said}"),
        )
    } else if error.code == "symbol-missing" {
        (
            SourceStatus::Failed,
            format!("{lib_shown} has no nvmlInit: it is not NVML ({said})"),
        )
    } else {
        (
            SourceStatus::Failed,
            format!("NVML ({lib_shown}) could not start: {said}"),
        )
    };
    Outcome::new(Status::Unavailable, status, detail)
}

/// `580.82.07` from `/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.82.07`.
pub(crate) fn library_version(path: &str) -> Option<&str> {
    let (_, v) = path.rsplit_once("libnvidia-ml.so.")?;
    let looks_like = v.contains('.') && v.chars().all(|c| c.is_ascii_digit() || c == '.');
    looks_like.then_some(v)
}

/// `0000:3b:00.0` from NVML's `00000000:3B:00.0` or sysfs' `0000:3b:00.0`; `None` when it is
/// not a PCI address.
pub fn normalize_bus_id(s: &str) -> Option<String> {
    let hex = |t: &str, max: usize| {
        (!t.is_empty() && t.len() <= max && t.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| u32::from_str_radix(t, 16).ok())
            .flatten()
    };
    let (domain, rest) = s.trim().split_once(':')?;
    let (bus, rest) = rest.split_once(':')?;
    let (device, function) = rest.split_once('.')?;
    let domain = hex(domain, 8)?;
    let bus = hex(bus, 2)?;
    let device = hex(device, 2).filter(|d| *d < 32)?;
    let function = hex(function, 1).filter(|f| *f < 8)?;
    Some(format!("{domain:04x}:{bus:02x}:{device:02x}.{function:x}"))
}

/// Lowercase words without the word `nvidia`: `NVIDIA H100 80GB HBM3` = `H100 80GB HBM3`.
fn normalize_name(s: &str) -> String {
    s.split_whitespace()
        .map(str::to_ascii_lowercase)
        .filter(|w| w != "nvidia")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `(major, minor)` of `13.0`, `9.0`, `12.4`.
pub(crate) fn parse_version(s: &str) -> Option<(u32, u32)> {
    let (major, minor) = s.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn same_version(a: &str, b: &str) -> bool {
    match (parse_version(a), parse_version(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    /// The findings the rule words from a cross-check of [`report`].
    fn found(o: &Outcome) -> Vec<crate::report::Finding> {
        crate::findings::cross_check(&report(), o)
    }

    use super::*;
    use crate::report::{
        CcSource, Driver, DriverSource, Flavor, KernelModules, Pci, Platform, Severity, Tool,
    };

    fn gpu(bus: &str, device: &str, uuid: &str) -> Gpu {
        Gpu {
            pci: Pci {
                vendor_id: Some("0x10de".parse().unwrap()),
                device_id: Some(device.parse().unwrap()),
                subsystem_vendor_id: Some("0x10de".parse().unwrap()),
                subsystem_device_id: Some("0x16c1".parse().unwrap()),
                class: Some("0x030200".parse().unwrap()),
                ..Pci::new(bus)
            },
            name: Some("H100 80GB HBM3".into()),
            compute_capability: Some("9.0".parse().unwrap()),
            compute_capability_source: Some(CcSource::PciTable),
            kernel_driver: Some("nvidia".into()),
            uuid: Some(uuid.to_owned()),
            ..Gpu::new(bus)
        }
    }

    fn report() -> Report {
        Report {
            schema_version: 1,
            tool: Tool::default(),
            platform: Platform {
                kind: PlatformKind::BareMetal,
                kernel_release: None,
                arch: None,
                os: None,
                in_container: false,
                hints: Vec::new(),
                details: crate::report::PlatformDetails::default(),
            },
            driver: Some(Driver {
                version: "580.95.05".parse().unwrap(),
                branch: 580,
                flavor: Flavor::Open,
                cuda_version: Some("13.0".parse().unwrap()),
                source: DriverSource::Procfs,
                version_line: None,
                params: None,
            }),
            gpus: vec![gpu("0000:3b:00.0", "0x2330", "GPU-aaaa")],
            libraries: Vec::new(),
            cross_check: None,
            kernel_modules: KernelModules::default(),
            device_nodes: Vec::new(),
            cuda: crate::rules::CudaHere::default(),
            sources: Vec::new(),
            findings: Vec::new(),
        }
    }

    const GPU0: &str = r#"{"index":0,"pci":{"bus_id":"00000000:3B:00.0","vendor_id":"0x10de","device_id":"0x2330","subsystem_vendor_id":"0x10de","subsystem_device_id":"0x16c1"},"name":"NVIDIA H100 80GB HBM3","uuid":"GPU-AAAA","compute_capability":"9.0","memory_total_bytes":85520809984,"brand":{"value":2,"name":"NVML_BRAND_TESLA"},"mig_mode":{"current":0,"pending":0}}"#;

    fn answer(driver: &str, cuda: &str, gpus: &[&str]) -> String {
        format!(
            r#"{{"protocol":"nvprobe-shim/1","shim_version":"0.1.0","library":{{"name":"libnvidia-ml.so.1","path":"/usr/lib/libnvidia-ml.so.580.95.05"}},"missing_symbols":[],"init":{{"function":"nvmlInit_v2"}},"nvml_version":"13.580.95.05","driver_version":"{driver}","cuda_driver_version":"{cuda}","gpu_count":{},"gpus":[{}],"libcuda":null}}"#,
            gpus.len(),
            gpus.join(",")
        )
    }

    fn eval(r: &Report, text: &str) -> Outcome {
        evaluate_output(r, text.as_bytes())
    }

    #[test]
    fn crosscheck_agree_ignores_case_and_nvidia_word() {
        let o = eval(&report(), &answer("580.95.05", "13.0", &[GPU0]));
        assert_eq!(o.status(), Some(Status::Agree), "{o:?}");
        assert!(o.cross_check.differences.is_empty());
        assert!(found(&o).is_empty());
        assert_eq!(o.source.status, SourceStatus::Ok);
        assert!(
            o.source.detail.contains("13.580.95.05"),
            "{}",
            o.source.detail
        );
    }

    #[test]
    fn crosscheck_disagree_lists_fields() {
        let g = GPU0
            .replace("GPU-AAAA", "GPU-BBBB")
            .replace("\"9.0\"", "\"8.0\"");
        let o = eval(&report(), &answer("580.82.07", "13.0", &[&g]));
        assert_eq!(o.status(), Some(Status::Disagree));
        let fields: Vec<&str> = o
            .cross_check
            .differences
            .iter()
            .map(|d| d.field.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "driver.version",
                "gpus[0000:3b:00.0].uuid",
                "gpus[0000:3b:00.0].compute_capability"
            ]
        );
        assert_eq!(
            o.cross_check.differences[0].probe.as_deref(),
            Some("580.95.05")
        );
        assert_eq!(
            o.cross_check.differences[0].nvml.as_deref(),
            Some("580.82.07")
        );
        assert_eq!(found(&o).len(), 1);
        assert_eq!(found(&o)[0].code, CROSS_CHECK_DISAGREES);
        assert_eq!(found(&o)[0].severity, Severity::Warning);
        assert!(found(&o)[0].message.contains("580.82.07"));
    }

    #[test]
    fn crosscheck_only_fields_both_know() {
        // The probe knows no UUID, no CUDA version; NVML knows no compute capability.
        let mut r = report();
        r.gpus[0].uuid = None;
        r.driver.as_mut().unwrap().cuda_version = None;
        let g = GPU0.replace(
            r#""compute_capability":"9.0""#,
            r#""compute_capability":{"error":{"code":"symbol-missing","symbol":"nvmlDeviceGetCudaComputeCapability","message":"x"}}"#,
        );
        let o = eval(&r, &answer("580.95.05", "12.0", &[&g]));
        assert_eq!(o.status(), Some(Status::Agree), "{o:?}");
    }

    #[test]
    fn crosscheck_gpu_presence_and_count() {
        let second = GPU0
            .replace("3B:00.0", "5D:00.0")
            .replace("GPU-AAAA", "GPU-CCCC");
        let o = eval(&report(), &answer("580.95.05", "13.0", &[GPU0, &second]));
        let fields: Vec<&str> = o
            .cross_check
            .differences
            .iter()
            .map(|d| d.field.as_str())
            .collect();
        assert_eq!(fields, ["gpus.count", "gpus[0000:5d:00.0]"]);
        assert_eq!(o.cross_check.differences[1].probe, None);
        assert_eq!(
            o.cross_check.differences[1].nvml.as_deref(),
            Some("NVIDIA H100 80GB HBM3")
        );

        // A GPU bound to vfio-pci is invisible to NVML and not counted.
        let mut r = report();
        let mut vfio = gpu("0000:5d:00.0", "0x2330", "GPU-CCCC");
        vfio.kernel_driver = Some("vfio-pci".into());
        r.gpus.push(vfio);
        let o = eval(&r, &answer("580.95.05", "13.0", &[GPU0]));
        assert_eq!(o.status(), Some(Status::Agree), "{o:?}");
    }

    #[test]
    fn crosscheck_probe_without_driver() {
        let mut r = report();
        r.driver = None;
        let o = eval(&r, &answer("580.95.05", "13.0", &[GPU0]));
        assert_eq!(o.cross_check.differences[0].field, "driver.version");
        assert_eq!(o.cross_check.differences[0].probe, None);
    }

    #[test]
    fn crosscheck_cuda_from_libcuda_when_nvml_lacks_it() {
        let text = answer("580.95.05", "13.0", &[GPU0]).replace(
            r#""cuda_driver_version":"13.0""#,
            r#""cuda_driver_version":{"error":{"code":"symbol-missing","symbol":"nvmlSystemGetCudaDriverVersion_v2","message":"x"}}"#,
        ).replace(r#""libcuda":null"#, r#""libcuda":{"name":"libcuda.so.1","path":"/x","cuda_driver_version":"13.1"}"#);
        let o = eval(&report(), &text);
        assert_eq!(o.cross_check.differences.len(), 1);
        assert_eq!(o.cross_check.differences[0].field, "driver.cuda_version");
        assert!(found(&o)[0].remedy.contains("cuda-compat"));
    }

    fn init_error(code: &str, value: u32) -> String {
        format!(
            r#"{{"protocol":"nvprobe-shim/1","library":{{"name":"libnvidia-ml.so.1","path":"/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.82.07"}},"missing_symbols":[],"init":{{"error":{{"code":"{code}","value":{value},"message":"m"}}}},"libcuda":null}}"#
        )
    }

    #[test]
    fn crosscheck_rm_mismatch_is_a_finding() {
        let o = eval(
            &report(),
            &init_error("NVML_ERROR_LIB_RM_VERSION_MISMATCH", 18),
        );
        assert_eq!(o.status(), Some(Status::Unavailable));
        assert_eq!(found(&o).len(), 1);
        let fs = found(&o);
        let f = &fs[0];
        assert_eq!(f.code, DRIVER_LIBRARY_MISMATCH);
        assert_eq!(f.severity, Severity::Error);
        assert!(
            f.message
                .contains("library 580.82.07, kernel module 580.95.05"),
            "{}",
            f.message
        );
        assert!(
            f.remedy
                .contains("sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia")
        );
    }

    #[test]
    fn crosscheck_init_errors_are_unavailable() {
        for (code, value, source) in [
            ("NVML_ERROR_DRIVER_NOT_LOADED", 9, SourceStatus::Absent),
            ("NVML_ERROR_NO_PERMISSION", 4, SourceStatus::Denied),
            ("NVML_ERROR_UNKNOWN", 999, SourceStatus::Failed),
        ] {
            let o = eval(&report(), &init_error(code, value));
            assert_eq!(o.status(), Some(Status::Unavailable), "{code}");
            assert_eq!(o.source.status, source, "{code}");
            assert!(o.source.detail.contains(code), "{}", o.source.detail);
            assert!(found(&o).is_empty());
        }
        let missing = r#"{"protocol":"nvprobe-shim/1","library":{"name":"libnvidia-ml.so.1","error":{"code":"library-not-found","message":"libnvidia-ml.so.1: cannot open shared object file"}},"libcuda":null}"#;
        let o = eval(&report(), missing);
        assert_eq!(o.status(), Some(Status::Unavailable));
        assert_eq!(o.source.status, SourceStatus::Absent);
    }

    #[test]
    fn crosscheck_malformed_output_fails() {
        let long_version = "9".repeat(300);
        for text in [
            "",
            "garbage",
            "[1,2]",
            r#"{"protocol":"nvprobe-shim/2"}"#,
            r#"{"protocol":1}"#,
            r#"{"no":"protocol"}"#,
            r#"{"protocol":"nvprobe-shim/1"}"#,
            r#"{"protocol":"nvprobe-shim/1","init":{"error":"x"}}"#,
            r#"{"protocol":"nvprobe-shim/1","init":{"function":"nvmlInit_v2"},"driver_version":5}"#,
            &answer("580\n95", "13.0", &[GPU0]),
            &answer(&long_version, "13.0", &[GPU0]),
            &answer(
                "580.95.05",
                "13.0",
                &[&GPU0.replace("00000000:3B:00.0", "zz")],
            ),
            &answer("580.95.05", "13.0", &[GPU0])[..100],
            "{\"protocol\":\"nvprobe-shim/1\",\"x\":\"\u{fffd}\" \u{0} }",
        ] {
            let o = eval(&report(), text);
            assert_eq!(o.status(), Some(Status::Failed), "{text:?} -> {o:?}");
            assert_eq!(o.source.status, SourceStatus::Failed);
        }
        let o = evaluate_output(&report(), &[0xff, 0xfe, b'{']);
        assert_eq!(o.status(), Some(Status::Failed));
        let deep = "[".repeat(100_000);
        assert_eq!(eval(&report(), &deep).status(), Some(Status::Failed));
    }

    #[test]
    fn crosscheck_protocol_mismatch_names_both() {
        let o = eval(&report(), r#"{"protocol":"nvprobe-shim/2","library":{}}"#);
        assert!(
            o.source.detail.contains("nvprobe-shim/2"),
            "{}",
            o.source.detail
        );
        assert!(o.source.detail.contains("nvprobe-shim/1"));
    }

    #[test]
    fn crosscheck_bus_id_normalization() {
        assert_eq!(
            normalize_bus_id("00000000:3B:00.0").as_deref(),
            Some("0000:3b:00.0")
        );
        assert_eq!(
            normalize_bus_id("0000:3b:00.0").as_deref(),
            Some("0000:3b:00.0")
        );
        assert_eq!(
            normalize_bus_id("0001:C1:1F.7").as_deref(),
            Some("0001:c1:1f.7")
        );
        assert_eq!(normalize_bus_id("3b:00.0"), None);
        assert_eq!(normalize_bus_id("0000:3b:00"), None);
        assert_eq!(normalize_bus_id("0000:+3:00.0"), None);
        assert_eq!(normalize_bus_id("0000:3b:20.0"), None);
        assert_eq!(normalize_bus_id("000000000:3b:00.0"), None);
    }

    #[test]
    fn crosscheck_locate_shim() {
        let dir = crate::testutil::Scratch::new("locate");
        let exe = dir.join("nvprobe");
        let shim = dir.join(SHIM_NAME);
        assert!(
            locate_shim_from(None, Some(exe.clone()))
                .unwrap_err()
                .contains("NVPROBE_SHIM")
        );
        std::fs::write(&shim, "").unwrap();
        assert_eq!(locate_shim_from(None, Some(exe.clone())).unwrap(), shim);
        assert_eq!(
            locate_shim_from(Some(OsString::new()), Some(exe.clone())).unwrap(),
            shim
        );
        let other = dir.join("elsewhere");
        let err = locate_shim_from(Some(other.clone().into()), Some(exe.clone())).unwrap_err();
        assert!(err.contains("elsewhere"), "{err}");
        std::fs::write(&other, "").unwrap();
        assert_eq!(
            locate_shim_from(Some(other.clone().into()), Some(exe)).unwrap(),
            other
        );
        assert!(locate_shim_from(None, None).is_err());
    }

    #[test]
    fn crosscheck_shim_deadline_keeps_a_reserve() {
        let t0 = Instant::now();
        let ms = |d: Instant| d.duration_since(t0).as_millis();
        assert_eq!(ms(shim_deadline(t0, Duration::from_secs(2))), 1800);
        assert_eq!(ms(shim_deadline(t0, Duration::from_secs(1))), 900);
        assert_eq!(ms(shim_deadline(t0, Duration::from_millis(100))), 80);
        assert_eq!(ms(shim_deadline(t0, Duration::from_millis(10))), 0);
        assert_eq!(ms(shim_deadline(t0, Duration::from_mins(1))), 59_800);
    }

    #[test]
    fn crosscheck_library_version_from_path() {
        assert_eq!(
            library_version("/usr/lib/libnvidia-ml.so.580.82.07"),
            Some("580.82.07")
        );
        assert_eq!(library_version("/usr/lib/wsl/lib/libnvidia-ml.so.1"), None);
        assert_eq!(library_version("libnvidia-ml.so.1"), None);
    }

    #[test]
    fn crosscheck_past_deadline_is_timeout_without_spawning() {
        let o = run_cross_check(
            &report(),
            Some(Path::new("/nonexistent/shim")),
            Instant::now(),
        );
        assert_eq!(o.status(), Some(Status::Timeout));
    }
}
