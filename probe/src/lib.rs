//! nvprobe: what NVIDIA GPU stack is on this machine, and will this CUDA build run on it?
//!
//! The library behind the `nvprobe` binary. Depend on it to get the same report in-process,
//! without spawning a subprocess: it reads procfs, sysfs and `/dev` under a [`root::Root`]
//! (the host, or a fixture or capture directory) and returns a [`report::Report`], the exact
//! value `nvprobe --json` prints. No NVML, no libcuda, no GPU woken up (unless
//! [`Options::deep`]).
//!
//! ```toml
//! [dependencies]
//! # The `probe/` crate of this workspace, by path or as a git dependency on the repository:
//! nvprobe = { path = "../nvprobe/probe" }
//! ```
//!
//! # A report
//! ```
//! use nvprobe::report::{ComputeCapability, CudaVersion};
//! use nvprobe::{Options, root::Root};
//! # let machine = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/bare-metal-h100x8-open-580");
//! // `Root::host()` reads this machine; here, a fixture machine with eight H100s.
//! let report = nvprobe::probe(&Options::new(Root::at(machine)));
//!
//! let driver = report.driver.as_ref().expect("an NVIDIA driver");
//! assert_eq!(driver.version.as_str(), "580.65.06"); // typed: `driver.version.major()` is 580
//! assert_eq!(driver.cuda_version, Some(CudaVersion::new(13, 0))); // the highest it runs natively
//! assert_eq!(report.gpus.len(), 8);
//! assert_eq!(report.gpus[0].compute_capability, Some(ComputeCapability::new(9, 0)));
//! assert!(!report.has_error()); // findings of severity `error` say what is broken, and the fix
//! ```
//!
//! On the host, bound the run with the deadline and pass the process environment (the
//! `NVPROBE_*` overrides, `NVIDIA_VISIBLE_DEVICES`, `LD_LIBRARY_PATH`, ...):
//! ```no_run
//! let mut opts = nvprobe::Options::new(nvprobe::root::Root::host());
//! opts.env = nvprobe::Env::from_process();
//! opts.timeout = std::time::Duration::from_millis(500);
//! match nvprobe::probe_with_deadline(&opts) {
//!     Ok(report) => println!("{}", report.to_json()),
//!     Err(e) => eprintln!("nvprobe: {e}"),
//! }
//! ```
//!
//! # Will a CUDA build run here?
//! ```
//! # let machine = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/bare-metal-h100x8-open-580");
//! use nvprobe::doctor::{CheckRequest, check};
//! let opts = nvprobe::Options::new(nvprobe::root::Root::at(machine));
//! let report = nvprobe::probe(&opts);
//!
//! let req = CheckRequest::new(Some("12.8"), None)?; // or a `NVIDIA_REQUIRE_CUDA` expression
//! let result = check(&report, &req, &opts.env);
//! assert_eq!(result.verdict, "satisfied");
//! assert_eq!(result.checks[0].via.as_deref(), Some("native"));
//! # Ok::<(), String>(())
//! ```
//!
//! # Outputs for other tools
//! [`export`] turns a report into what Kubernetes and package managers read (the functions
//! behind `nvprobe labels` and `nvprobe export`):
//! ```
//! # let machine = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/mixed-a4000-rtx4090-570");
//! let report = nvprobe::probe(&nvprobe::Options::new(nvprobe::root::Root::at(machine)));
//! // An RTX 4090 (8.9) and an RTX A4000 (8.6): the node is labelled by the lowest.
//! assert!(nvprobe::export::nfd_labels(&report).contains("nvidia.com/gpu.compute.minor=6\n"));
//! assert_eq!(
//!     nvprobe::export::package_cuda_version(&report),
//!     Some(nvprobe::report::CudaVersion::new(12, 8))
//! );
//! assert_eq!(
//!     nvprobe::export::conda_packages(&report),
//!     [("__cuda", "12.8".to_owned(), "0"), ("__cuda_arch", "8.6".to_owned(), "0")]
//! );
//! ```
//!
//! # The JSON
//! [`report::Report`] is the wire format (serde; field by field in its module docs), and
//! [`report::JSON_SCHEMA`] its JSON Schema (draft 2020-12, `nvprobe schema`), which the tests
//! keep in step with these types.
//!
//! # API surface
//! For installers and package managers, [`api`] is the stable surface: [`api::Machine`]
//! (`host()`, `at(dir)` for a fixture or a replayed capture, a deadline), one call for the
//! typed driver version, CUDA version and compute capabilities ([`api::Machine::cuda`]), one
//! for the full report ([`api::Machine::report`]); its docs say what is stable. Build it
//! without the command line: `default-features = false` leaves out clap (feature `cli`).
//!
//! Also kept stable within a `schema_version`: [`probe`], [`probe_with_deadline`],
//! [`Options`], [`Env`], [`root::Root`], everything in [`report`], [`doctor::CheckRequest`],
//! [`doctor::check`], [`doctor::render_check`], [`doctor::check_json`],
//! [`doctor::exit_code`], and [`export`]. `app::run` (feature `cli`) is the whole command
//! line (it applies the self-sandbox to the calling process: for the binary, not for a host
//! program). The other modules are public (and hidden from these docs) only with the
//! `internals` feature, for the binary, the tests and the fuzz targets, and change without
//! notice; `cli`, a default feature, turns it on, so with `default-features = false` they are
//! private. The `emulator` feature adds an emulated NVIDIA driver (`ioctl::emu`) for tests.
#![warn(missing_docs)]
// No panics on hostile input (issue 10): library code reads with `get`, never `[i]`; tests may
// index.
#![cfg_attr(not(test), warn(clippy::indexing_slicing))]

/// A module outside the stable surface: `pub` (hidden from the docs) for the binary, the tests
/// and the fuzz targets, with the `internals` feature (which `cli`, a default feature, turns
/// on); `pub(crate)` for an embedder built with `default-features = false`, who sees only the
/// stable modules.
macro_rules! internal {
    ($($name:ident),* $(,)?) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        #[allow(
            unreachable_pub,
            dead_code,
            unused_imports,
            // Pedantic lints that spare exported names (`avoid-breaking-exported-api`) and
            // would now judge them.
            clippy::struct_field_names,
            reason = "without `internals` a module serves only the stable surface: its `pub` items \
                      are crate-visible, and what only the binary uses (the sandbox, capture \
                      recording, scan) is unused"
        )]
        pub(crate) mod $name;
    )*};
}

pub mod api;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod app;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod doctor;
pub mod export;
pub mod report;
pub mod root;
#[cfg(test)]
mod testutil;
internal!(
    assemble, capture, codes, compare, crosscheck, cudabin, detect, escape, explain, findings,
    ioctl, model, platform, rules, search, sys, tables, text,
);

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use report::Report;
use root::Root;

/// The default deadline of a run (`--timeout`), in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;

/// The environment variables the probe consults ([`CONSULTED_NAMES`], and every name with one
/// of the [`CONSULTED_PREFIXES`]), captured once so library code never reads the process
/// environment directly (tests pass their own). Shared, not copied, by the options, the model
/// and the worker thread that hold it. Variables of other names are not kept.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: std::sync::Arc<std::collections::BTreeMap<String, String>>,
    /// Names (lossily decoded) of the consulted process variables left out because the name or
    /// the value is not UTF-8.
    not_utf8: std::sync::Arc<Vec<String>>,
}

/// The prefixes of the variables the probe consults ([`Env`]): one of these left out for not
/// being UTF-8 leaves the report incomplete (the `environment` source fails).
pub const CONSULTED_PREFIXES: &[&str] = &["NVIDIA_", "CUDA_", "NVPROBE_", "LD_", "CONDA_"];
/// The other variables the probe consults ([`Env`]), by their whole name.
pub const CONSULTED_NAMES: &[&str] = &["VIRTUAL_ENV", "HOME", "PATH"];

/// Whether the probe consults the variable `name` ([`CONSULTED_NAMES`], [`CONSULTED_PREFIXES`]).
fn consulted(name: &str) -> bool {
    CONSULTED_NAMES.contains(&name) || CONSULTED_PREFIXES.iter().any(|p| name.starts_with(p))
}

impl Env {
    /// The consulted variables of the process environment. The others are dropped first: no
    /// rule reads them, and a Kubernetes pod carries several for every service of its
    /// namespace, hundreds in all, whose keeping was a large part of such a run. A consulted
    /// variable whose name or value is not UTF-8 is left out (and named in [`Env::not_utf8`]):
    /// `std::env::vars` would panic on it. A name given twice keeps its last value.
    pub fn from_process() -> Self {
        let mut not_utf8 = Vec::new();
        let vars: std::collections::BTreeMap<String, String> = std::env::vars_os()
            .filter(|(k, _)| consulted(&k.to_string_lossy()))
            .filter_map(|(k, v)| match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => Some((k, v)),
                (k, _) => {
                    not_utf8.push(match k {
                        Ok(k) => k,
                        Err(k) => k.to_string_lossy().into_owned(),
                    });
                    None
                }
            })
            .collect();
        not_utf8.sort_unstable();
        Self {
            vars: vars.into(),
            not_utf8: not_utf8.into(),
        }
    }

    /// The names of the consulted process variables left out because they are not UTF-8.
    pub fn not_utf8(&self) -> &[String] {
        &self.not_utf8
    }

    /// The `environment` source when a variable the probe consults was left out for not being
    /// UTF-8 (its value is unknown, so whatever it would change is unknown too); `None`
    /// otherwise. Unrelated variables, UTF-8 or not, are not kept and change nothing.
    pub fn source(&self) -> Option<report::Source> {
        let names: Vec<&str> = self.not_utf8.iter().map(String::as_str).take(16).collect();
        (!names.is_empty()).then(|| {
            report::Source::new(
                "environment",
                report::SourceStatus::Failed,
                format!(
                    "not valid UTF-8, so not read: {}",
                    escape::escape(&names.join(", "))
                ),
            )
        })
    }

    /// An environment from pairs, for tests and embedding: the consulted ones are kept, as
    /// [`Env::from_process`] keeps them, so a test sees what a run would.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: std::sync::Arc::new(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .filter(|(k, _)| consulted(k))
                    .collect(),
            ),
            not_utf8: std::sync::Arc::default(),
        }
    }

    /// One variable (`None` also for a name the probe does not consult: it is not kept).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Every variable kept (the consulted ones), sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Every variable whose name starts with `prefix`, sorted by name.
    pub fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.vars
            .range(prefix.to_owned()..)
            .take_while(move |(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What to probe and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The machine: the host or a fixture root.
    pub root: Root,
    /// Allow queries that wake or initialise a GPU.
    pub deep: bool,
    /// Run the NVML shim and compare.
    pub cross_check: bool,
    /// Hard deadline for the whole run.
    pub timeout: Duration,
    /// The environment variables that influence the result.
    pub env: Env,
    /// `nvprobe capture` (record the ioctls) or the replay of a capture (answer them from the
    /// bundle); `None` for a plain run.
    pub capture: Option<capture::Mode>,
    /// Test hook: sleep this long just before reading the named source (`ioctl`: the driver
    /// stage, once every file source is read; `capture-copy`: start a capture's copy this
    /// long past the deadline), to exercise the deadline. Never set by the command line.
    #[doc(hidden)]
    pub stall: Option<(String, Duration)>,
    /// Test hook: run without the watchdog thread, as when `clone` is refused, to exercise
    /// the binary's backstop timer. Never set by the command line.
    #[doc(hidden)]
    pub no_watchdog: bool,
    /// Read only what `report.cuda` can depend on ([`api::Machine::cuda`]): the sources that
    /// are not among the completeness rule's and whose facts no CUDA or NVML rule reads
    /// (driver packages, virtual-GPU managers) are skipped; kernel module builds are read,
    /// since `cuda.blocked_by` names their root cause (headers missing, DKMS). `report.cuda`
    /// is the same as a full run's (`probe/tests/api.rs` compares them on every fixture); the
    /// rest of the report is not, so it is never shown.
    #[doc(hidden)]
    pub cuda_only: bool,
    /// The run's `/etc/ld.so.cache`, parsed once for the platform checks and the doctor.
    pub ld_cache: doctor::ldcache::Shared,
}

impl Options {
    /// Defaults: no deep queries, no cross-check, a 2 s deadline.
    pub fn new(root: Root) -> Self {
        Self {
            root,
            deep: false,
            cross_check: false,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
            env: Env::default(),
            capture: None,
            stall: None,
            no_watchdog: false,
            cuda_only: false,
            ld_cache: doctor::ldcache::Shared::default(),
        }
    }
}

/// Probes the machine and returns the report. Never panics on odd input; sources that fail are
/// recorded in `sources`.
pub fn probe(opts: &Options) -> Report {
    probe_observed(opts, &Mutex::new(Partial::default()))
}

/// What a run has gathered so far, for a report when the deadline passes.
#[derive(Debug, Default)]
pub(crate) struct Partial {
    /// The source or stage running now.
    running: String,
    /// The file sources' facts, as far as they have come.
    facts: FileFacts,
    /// A later stage's report, which stands in for the run from then on (`--cross-check`'s,
    /// before the shim runs).
    report: Option<Report>,
}

pub(crate) fn lock(partial: &Mutex<Partial>) -> std::sync::MutexGuard<'_, Partial> {
    // A poisoned lock only means a stage panicked mid-update; what it holds is still the last
    // complete snapshot.
    partial
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn probe_observed(opts: &Options, partial: &Mutex<Partial>) -> Report {
    // Sources build the model once; the rules stage derives every finding and the verdict.
    let snapshot = |m: &model::Model| {
        publish(partial, crosscheck::SOURCE, rules::findings(m.clone()));
    };
    rules::evaluate(model::build(
        opts,
        partial,
        std::time::Instant::now(),
        &snapshot,
    ))
}

/// What the file sources have stored, for the deadline's report.
#[derive(Debug, Default)]
#[expect(
    clippy::large_enum_variant,
    reason = "one a run, inside its Partial, never moved: a box would be an allocation for nothing"
)]
pub(crate) enum FileFacts {
    /// No source has been announced yet.
    #[default]
    None,
    /// The facts of the sources read so far, while they are read.
    Reading(detect::Facts),
    /// Every file source has been read: their facts, shared with the run, and the deadline's
    /// report is the one they give ([`assemble::file_snapshot`]).
    Read(Arc<detect::Facts>),
}

impl FileFacts {
    /// A source is about to be read: the facts so far are kept from now on, empty at first.
    pub(crate) fn begin(&mut self) {
        if matches!(self, Self::None) {
            *self = Self::Reading(detect::Facts::default());
        }
    }

    /// Stores what a source read into the facts being read.
    pub(crate) fn store(&mut self, store: impl FnOnce(&mut detect::Facts)) {
        if let Self::Reading(facts) = self {
            store(facts);
        } else {
            let mut facts = detect::Facts::default();
            store(&mut facts);
            *self = Self::Reading(facts);
        }
    }
}

/// Marks the file stage done and `next` running: the facts the sources stored, which the run
/// goes on with and the deadline's report shares.
pub(crate) fn files_read(partial: &Mutex<Partial>, next: &str) -> Arc<detect::Facts> {
    let mut p = lock(partial);
    let facts = match std::mem::take(&mut p.facts) {
        FileFacts::Reading(f) => Arc::new(f),
        FileFacts::Read(f) => f,
        FileFacts::None => Arc::default(),
    };
    p.facts = FileFacts::Read(Arc::clone(&facts));
    next.clone_into(&mut p.running);
    facts
}

pub(crate) fn publish(partial: &Mutex<Partial>, next: &str, snapshot: Report) {
    let mut p = lock(partial);
    next.clone_into(&mut p.running);
    p.report = Some(snapshot);
}

/// The report of a run stopped by the deadline: what was gathered, the unfinished source marked
/// `timeout`, and a warning in place of the findings that could not be evaluated.
fn partial_report(opts: &Options, partial: &Mutex<Partial>) -> Option<Report> {
    let p = lock(partial);
    let running = p.running.clone();
    let mut report = match (&p.report, &p.facts) {
        (Some(r), _) => r.clone(),
        (None, FileFacts::Read(f)) => assemble::file_snapshot(&opts.root, f),
        (None, FileFacts::Reading(f)) => {
            let report = assemble::report(&opts.root, f);
            // Findings from half the file sources would mislead (a hung sysfs read is not a
            // missing driver): drop them.
            Report {
                findings: Vec::new(),
                ..report
            }
        }
        (None, FileFacts::None) => return None,
    };
    drop(p);
    report.sources.push(report::Source::new(
        &running,
        report::SourceStatus::Timeout,
        format!(
            "did not finish within the {} ms deadline",
            opts.timeout.as_millis()
        ),
    ));
    // An error: what the unread sources would have shown is unknown, so the report must not
    // read as healthy, and no check on it can pass.
    report.findings.push(report::Finding::new(
        findings::DEADLINE_EXCEEDED,
        report::Severity::Error,
        format!(
            "The run stopped at its {} ms deadline while reading {running}; this report holds what was gathered before that, and the sources after it were not read, so it cannot say the machine is healthy.",
            opts.timeout.as_millis()
        ),
        "A read that blocks usually means a GPU or driver in a bad state: check 'sudo dmesg | grep -i -e nvrm -e xid'. Run again with a longer --timeout to wait for it.",
    ));
    if let Some(source) = opts.env.source() {
        report.sources.push(source);
    }
    Some(rules::finish(report))
}

/// The deadline passed before a report was ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadlineExceeded(pub Duration);

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the deadline of {} ms passed before the report was ready",
            self.0.as_millis()
        )
    }
}

impl std::error::Error for DeadlineExceeded {}

/// [`probe`] on a worker thread, bounded by `opts.timeout`. A source stuck in the kernel
/// cannot hold the caller past the deadline: when it passes, the report gathered so far is
/// returned with the unfinished source marked `timeout` and a `deadline-exceeded` warning; the
/// worker is abandoned (the process is expected to exit soon after). `Err` only when the
/// deadline passed before anything was gathered.
pub fn probe_with_deadline(opts: &Options) -> Result<Report, DeadlineExceeded> {
    let (tx, rx) = mpsc::channel();
    let partial = Arc::new(Mutex::new(Partial::default()));
    let worker_opts = opts.clone();
    let worker_partial = Arc::clone(&partial);
    let spawned = spawn_on_this_cpu(move |widen| {
        std::thread::Builder::new()
            .name("nvprobe-worker".to_owned())
            .spawn(move || {
                widen.widen();
                let _ = tx.send(probe_observed(&worker_opts, &worker_partial));
            })
    });
    if spawned.is_err() {
        // No thread (e.g. a seccomp or rlimit refusal): probe inline rather than fail.
        return Ok(probe(opts));
    }
    match rx.recv_timeout(opts.timeout) {
        Ok(report) => Ok(report),
        Err(_) => partial_report(opts, &partial).ok_or(DeadlineExceeded(opts.timeout)),
    }
}

/// Calls `spawn` with the calling thread's CPU affinity narrowed to the CPU it runs on, so that
/// the thread it starts inherits that one CPU and starts there, and gives the caller its own
/// affinity back. The caller then waits for that worker, so its CPU is free: the worker starts
/// there without waking another CPU. On a 2-CPU VM that cross-CPU wake-up and the one back
/// were a quarter of an API call. The started thread must call [`Widen::widen`] first: it
/// gets the caller's affinity back, so a busy CPU cannot hold it while others are idle (the
/// deadline's watchdog, which sleeps, calls [`Widen::stay`] instead). Where the affinity
/// cannot be read or narrowed (more CPUs than a `CpuSet` holds, a seccomp filter without
/// `sched_setaffinity`), the thread starts as it would have. The caller's affinity is given
/// back even if `spawn` panics.
fn spawn_on_this_cpu<T>(spawn: impl FnOnce(Widen) -> T) -> T {
    use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
    let Ok(own) = sched_getaffinity(None) else {
        return spawn(Widen(None));
    };
    let Some(cpu) = sys::current_cpu().filter(|&c| c < CpuSet::MAX_CPU && own.is_set(c)) else {
        return spawn(Widen(None));
    };
    let mut one = CpuSet::new();
    one.set(cpu);
    if sched_setaffinity(None, &one).is_err() {
        return spawn(Widen(None));
    }
    let restore = Widen(Some(own));
    let out = spawn(Widen(Some(own)));
    restore.widen();
    out
}

/// A thread's affinity to give back ([`spawn_on_this_cpu`]): on `widen`, or when dropped.
struct Widen(Option<rustix::thread::CpuSet>);

impl Widen {
    /// Sets the calling thread's affinity to the one kept (nothing when none was kept).
    fn widen(mut self) {
        self.set();
    }

    /// Keeps the started thread on the one CPU it starts on (the deadline's watchdog).
    fn stay(mut self) {
        self.0 = None;
    }

    fn set(&mut self) {
        if let Some(mask) = self.0.take() {
            // The mask was the caller's a moment ago; setting it fails only if the CPUs allowed
            // to the process shrank meanwhile, and then the kernel has already narrowed it.
            let _ = rustix::thread::sched_setaffinity(None, &mask);
        }
    }
}

impl Drop for Widen {
    fn drop(&mut self) {
        self.set();
    }
}

/// How long before the deadline the binary's watchdog takes over, so the partial report it
/// writes is out by the deadline: a fifth of the deadline, at most 100 ms. Writing a large
/// partial report takes time (5,000 GPUs: ~3.5 MB of JSON, 100–160 ms on a 2-CPU VM); waking
/// at the deadline itself overshot it by that much.
pub fn render_reserve(timeout: Duration) -> Duration {
    (timeout / 5).min(Duration::from_millis(100))
}

/// Set once by whichever of the probing thread and the watchdog of
/// [`probe_with_watchdog`] gets to write the output.
static OUTPUT_CLAIMED: AtomicBool = AtomicBool::new(false);

/// The binary's form of [`probe_with_deadline`]: [`probe`] runs on the **calling** thread
/// while a watchdog thread sleeps until `opts.timeout`. Handing the work to a worker and
/// waiting for it cost a cross-CPU wake-up per run (~0.4 ms of a ~2.5 ms fixture run on a
/// 2-CPU VM, issue 11); this way nothing waits unless the deadline passes.
///
/// When it passes first, the watchdog takes over the output: it calls `at_deadline` with the
/// report gathered so far (as [`probe_with_deadline`] would return it), which must write the
/// output, and then exits the process with the code `at_deadline` returns. The probing
/// thread, if it ever comes back, then blocks for good. When the probe finishes first, the
/// report is returned and the watchdog never acts (the process exits before it wakes, or it
/// finds the output claimed).
///
/// For a process that exits after one run (the `nvprobe` binary): a host program wants
/// [`probe_with_deadline`].
pub fn probe_with_watchdog(
    opts: &Options,
    at_deadline: impl FnOnce(Result<Report, DeadlineExceeded>) -> u8 + Send + 'static,
) -> Report {
    let partial = Arc::new(Mutex::new(Partial::default()));
    let watch_opts = opts.clone();
    let watch_partial = Arc::clone(&partial);
    // The watchdog renders at most a partial report: a small stack is enough. Without it (a
    // refused thread) the binary's backstop timer still ends the run (`sys::signals`).
    //
    // It starts on the CPU the probe runs on and stays there. A thread free to run anywhere
    // is started on an idle CPU, and at exit woken on one to be killed, and the process is
    // reaped only once it has exited there. Waking a CPU (on a VM, a halted virtual CPU the
    // host must schedule; on bare metal, one in a deep idle state) was much of what the
    // thread cost a run. It sleeps until the deadline, and then shares its CPU with the
    // probing thread, if that is not stuck in the kernel, well within the render reserve.
    let _ = (!opts.no_watchdog).then(|| {
        spawn_on_this_cpu(|widen| {
            widen.stay();
            std::thread::Builder::new()
                .name("nvprobe-watchdog".to_owned())
                .stack_size(256 * 1024)
                .spawn(move || {
                    std::thread::sleep(
                        watch_opts
                            .timeout
                            .saturating_sub(render_reserve(watch_opts.timeout)),
                    );
                    if OUTPUT_CLAIMED.swap(true, Ordering::SeqCst) {
                        return;
                    }
                    let report = partial_report(&watch_opts, &watch_partial)
                        .ok_or(DeadlineExceeded(watch_opts.timeout));
                    let code = at_deadline(report);
                    std::process::exit(i32::from(code));
                })
        })
    });
    let report = probe_observed(opts, &partial);
    if OUTPUT_CLAIMED.swap(true, Ordering::SeqCst) {
        // The watchdog is writing the partial report and will exit the process.
        loop {
            std::thread::park();
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use rustix::thread::{CpuSet, sched_getaffinity};

    /// Only the variables the probe consults are kept, from pairs as from the process: a
    /// lookup of another name finds nothing in a test as in a run.
    #[test]
    fn lib_env_keeps_only_the_consulted_variables() {
        let env = crate::Env::from_pairs([
            ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
            ("CUDA_VISIBLE_DEVICES", "0,1"),
            ("PATH", "/usr/bin"),
            ("PATHEXT", "x"),
            ("HOMEBREW_PREFIX", "/opt/homebrew"),
            ("NVIDIA_REQUIRE_CUDA", "cuda>=12.0"),
        ]);
        let kept: Vec<&str> = env.iter().map(|(k, _)| k).collect();
        assert_eq!(
            kept,
            ["CUDA_VISIBLE_DEVICES", "NVIDIA_REQUIRE_CUDA", "PATH"]
        );
        assert_eq!(env.get("KUBERNETES_SERVICE_HOST"), None);
        assert_eq!(env.get("PATH"), Some("/usr/bin"));
    }

    /// `Env::from_process` keeps only the consulted variables of the process: checked in a
    /// child of this test binary (the environment is the process's), which runs this test
    /// again with a consulted and an unrelated variable set.
    #[test]
    fn lib_env_from_process_keeps_only_the_consulted_variables() {
        const NAME: &str = "tests::lib_env_from_process_keeps_only_the_consulted_variables";
        if std::env::var_os("NVPROBE_TEST_ENV_CHILD").is_some() {
            let env = crate::Env::from_process();
            assert_eq!(env.get("CUDA_VISIBLE_DEVICES"), Some("3"));
            assert_eq!(env.get("UNRELATED_SERVICE_HOST"), None);
            let kept: Vec<&str> = env.iter().map(|(k, _)| k).collect();
            assert!(kept.iter().all(|k| crate::consulted(k)), "{kept:?}");
            return;
        }
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--test-threads", "1"])
            .env("NVPROBE_TEST_ENV_CHILD", "1")
            .env("CUDA_VISIBLE_DEVICES", "3")
            .env("UNRELATED_SERVICE_HOST", "10.96.0.1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{out:?}");
        assert!(
            stdout.contains("1 passed"),
            "the child ran no test: {stdout}"
        );
    }

    fn cpus(set: &CpuSet) -> Vec<usize> {
        (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect()
    }

    /// The worker starts with the one CPU its caller ran on, widens to the caller's affinity,
    /// and the caller gets its own affinity back.
    #[test]
    fn lib_worker_starts_on_the_callers_cpu_then_widens() {
        let before = cpus(&sched_getaffinity(None).unwrap());
        let worker = super::spawn_on_this_cpu(|widen| {
            std::thread::spawn(move || {
                let start = (crate::sys::current_cpu(), sched_getaffinity(None).unwrap());
                widen.widen();
                (start, sched_getaffinity(None).unwrap())
            })
        });
        let ((ran_on, at_start), widened) = worker.join().unwrap();
        assert_eq!(cpus(&at_start), [ran_on.unwrap()]);
        assert_eq!(cpus(&widened), before);
        assert_eq!(cpus(&sched_getaffinity(None).unwrap()), before);
    }

    /// A `spawn` that panics leaves the caller with its own affinity, not one CPU. Not on musl:
    /// its builds link without `.eh_frame_hdr` (`.cargo/config.toml`), so a test there cannot
    /// unwind to `catch_unwind`; the glibc run covers it.
    #[cfg(not(target_env = "musl"))]
    #[test]
    fn lib_worker_spawn_panic_gives_the_caller_its_affinity_back() {
        let before = cpus(&sched_getaffinity(None).unwrap());
        let caught = std::panic::catch_unwind(|| {
            super::spawn_on_this_cpu(|_widen| -> () { panic!("no thread") });
        });
        assert!(caught.is_err());
        assert_eq!(cpus(&sched_getaffinity(None).unwrap()), before);
    }
}
