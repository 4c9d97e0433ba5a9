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
}

impl Options {
    /// Defaults: no deep queries, no cross-check, a 2 s deadline.
    pub fn new(root: Root) -> Self {
        Self {
            root,
            deep: false,
            cross_check: false,
            timeout: Duration::from_secs(2),
        }
    }
}

/// Probes the machine and returns the report. Never panics on odd input; sources that fail are
/// recorded in `sources`.
pub fn probe(opts: &Options) -> Report {
    let facts = detect::collect(&opts.root);
    assemble::report(&opts.root, facts)
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
