//! nvprobe: what NVIDIA GPU stack is on this machine, and will this CUDA build run on it?
//!
//! The library behind the `nvprobe` binary. It reads procfs, sysfs and `/dev` under a
//! [`root::Root`] (the host, or a fixture directory) and returns a [`report::Report`].
//!
//! ```no_run
//! let opts = nvprobe::Options::new(nvprobe::root::Root::host());
//! let report = nvprobe::probe(&opts);
//! println!("{}", report.to_json());
//! ```
#![warn(missing_docs)]

pub mod assemble;
pub mod cli;
pub mod detect;
pub mod findings;
pub mod report;
pub mod root;
pub mod text;

use std::sync::mpsc;
use std::time::Duration;

use report::Report;
use root::Root;

/// The environment variables the probe consults, captured once so library code never reads
/// the process environment directly (tests pass their own).
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: std::collections::BTreeMap<String, String>,
}

impl Env {
    /// The process environment (only valid UTF-8 variables).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment from pairs, for tests and embedding.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// One variable.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
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
}

impl Options {
    /// Defaults: no deep queries, no cross-check, a 2 s deadline.
    pub fn new(root: Root) -> Self {
        Self {
            root,
            deep: false,
            cross_check: false,
            timeout: Duration::from_secs(2),
            env: Env::default(),
        }
    }
}

/// Probes the machine and returns the report. Never panics on odd input; sources that fail are
/// recorded in `sources`.
pub fn probe(opts: &Options) -> Report {
    // 1. Files: procfs, sysfs, /dev, /lib/modules, /etc.
    let facts = detect::collect(&opts.root);
    // 2. The report from the files, with the foundation findings.
    let mut report = assemble::report(&opts.root, facts);
    // 3. Later stages amend the report here, each adding its sources and findings.
    findings::sort(&mut report.findings);
    report
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
/// cannot hold the caller past the deadline; the worker is abandoned (the process is expected
/// to exit soon after).
pub fn probe_with_deadline(opts: &Options) -> Result<Report, DeadlineExceeded> {
    let (tx, rx) = mpsc::channel();
    let worker_opts = opts.clone();
    let spawned = std::thread::Builder::new()
        .name("nvprobe-worker".to_owned())
        .spawn(move || {
            let _ = tx.send(probe(&worker_opts));
        });
    if spawned.is_err() {
        // No thread (e.g. a seccomp or rlimit refusal): probe inline rather than fail.
        return Ok(probe(opts));
    }
    rx.recv_timeout(opts.timeout)
        .map_err(|_| DeadlineExceeded(opts.timeout))
}
