//! The embeddable API, for installers and package managers (uv, rattler, pixi) that would
//! rather call a function than spawn `nvprobe`: a small, typed, semver-guarded surface.
//!
//! ```toml
//! [dependencies]
//! # No clap, no command line: only the probe.
//! nvprobe = { path = "../nvprobe/probe", default-features = false }
//! ```
//!
//! ```
//! use nvprobe::api::{ComputeCapability, Machine};
//! # let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/bare-metal-h100x8-open-580");
//! // `Machine::host()` reads this machine; `Machine::at(dir)` a fixture or a capture bundle.
//! let cuda = Machine::at(dir).cuda()?;
//! assert_eq!(cuda.driver_version.as_ref().map(ToString::to_string).as_deref(), Some("580.65.06"));
//! assert_eq!(cuda.driver_version.as_ref().map(|v| v.major()), Some(580));
//! assert_eq!(cuda.cuda_version.map(|v| (v.major, v.minor)), Some((13, 0)));
//! assert_eq!(cuda.compute_capabilities, vec![ComputeCapability { major: 9, minor: 0 }; 8]);
//! # Ok::<(), nvprobe::api::Error>(())
//! ```
//!
//! # What is stable
//! Everything in this module: [`Machine`] and its methods, [`Cuda`], [`DriverVersion`],
//! [`CudaVersion`], [`ComputeCapability`], [`CanStart`], [`Error`]. Structs and enums marked
//! `#[non_exhaustive]` gain fields and variants in minor releases (build them with the
//! constructors, match them with `..` and `_`). [`Machine::report`] returns the full
//! [`Report`], the wire format of `nvprobe --json`, stable within its `schema_version`. The
//! rest of the crate serves the binary and the tests and may change in any release.
//!
//! # Cargo features
//! - `cli` (default): the command line (`nvprobe::app`, `nvprobe::cli`) and the `nvprobe`
//!   binary, with clap. Embedders turn it off (`default-features = false`).
//! - `emulator`: an emulated NVIDIA driver for tests.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::report::{Answer, Report};
use crate::root::Root;
use crate::{DeadlineExceeded, Env, Options};

/// A machine to probe: the host, or a directory read as `/` (a fixture, or a capture bundle
/// from `nvprobe capture`, whose ioctl replies and environment are replayed): exactly what
/// `nvprobe` and `nvprobe --root DIR` read.
#[derive(Clone, Debug)]
pub struct Machine {
    opts: Options,
}

impl Machine {
    /// This machine, with the process environment (`NVIDIA_VISIBLE_DEVICES`,
    /// `LD_LIBRARY_PATH`, the `NVPROBE_*` overrides, ...) and the default 2 s deadline.
    pub fn host() -> Self {
        let mut opts = Options::new(Root::host());
        opts.env = Env::from_process();
        Self { opts }
    }

    /// The machine whose `/` is `dir`, as `nvprobe --root DIR`: a fixture, a mounted host
    /// (`/host` in a container), or a capture bundle, which is replayed (its ioctl replies,
    /// environment and flags). No process environment is read; see [`Machine::env`].
    ///
    /// Run with `CAP_SYS_ADMIN` (root on the host), the machine holds a private copy of the mounts
    /// beneath `dir`, marked `nodev`, until it is dropped: its files are read through it, so a
    /// device node where a file belongs is refused before its driver's open runs (as `nvprobe
    /// --root` does).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        let mut opts = Options::new(Root::at_with_files(&dir, crate::sys::nodev::copy));
        crate::capture::prepare_replay(&mut opts, &dir);
        Self { opts }
    }

    /// The deadline for each call (default 2 s). A source stuck in the kernel cannot hold the
    /// caller past it.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.opts.timeout = timeout;
        self
    }

    /// The environment variables the probe reads, in place of those given so far (the
    /// process's for [`Machine::host`], a capture's for a replay). Only those it consults are
    /// kept ([`crate::CONSULTED_NAMES`], [`crate::CONSULTED_PREFIXES`]).
    #[must_use]
    pub fn env<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.opts.env = Env::from_pairs(vars);
        self
    }

    /// The driver version, the CUDA version a program started here would get, and the compute
    /// capabilities of the GPUs it can use, within the deadline. `Err` only when the deadline
    /// passed before anything was read; an answer cut short by the deadline, or missing a
    /// source it could not read, has [`Cuda::can_start`] [`CanStart::Unknown`].
    pub fn cuda(&self) -> Result<Cuda, Error> {
        self.cuda_report().map(|r| Cuda::from_report(&r))
    }

    /// The run [`Machine::cuda`] reads: the same run as [`Machine::report`], without the
    /// stages `report.cuda` does not depend on ([`crate::Options::cuda_only`]). Its `cuda`,
    /// `driver` and `gpus` are a full report's; the rest is not. For the tests that compare.
    #[doc(hidden)]
    pub fn cuda_report(&self) -> Result<Report, Error> {
        let mut opts = self.fresh_run();
        opts.cuda_only = true;
        crate::probe_with_deadline(&opts).map_err(Error::Deadline)
    }

    /// The full report, the value `nvprobe --json` prints, within the deadline (a partial
    /// report with a `deadline-exceeded` finding when it passes).
    pub fn report(&self) -> Result<Report, Error> {
        crate::probe_with_deadline(&self.fresh_run()).map_err(Error::Deadline)
    }

    /// This machine's options for one call, with nothing kept from an earlier call: the
    /// `ld.so.cache` is shared by one run's stages, never across calls (an `ldconfig` between
    /// two calls must show).
    fn fresh_run(&self) -> Options {
        let mut opts = self.opts.clone();
        opts.ld_cache = crate::doctor::ldcache::Shared::default();
        opts
    }
}

/// Why a call returned no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The deadline passed before any source was read.
    Deadline(DeadlineExceeded),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deadline(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Deadline(e) => Some(e),
        }
    }
}

/// What an installer needs to pick a CUDA build: the answer of [`Machine::cuda`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cuda {
    /// Would a CUDA program start here (`cuInit` succeed)?
    pub can_start: CanStart,
    /// The kernel driver's version; `None` without an NVIDIA driver.
    pub driver_version: Option<DriverVersion>,
    /// The highest CUDA version the kernel driver runs natively.
    pub driver_cuda_version: Option<CudaVersion>,
    /// The CUDA version a program started here gets (`cuDriverGetVersion`): the cuda-compat
    /// library's under forward compatibility, the L4T release's on Jetson; `None` where CUDA
    /// cannot start. What `__cuda` and a `cuXXX` wheel index are chosen by.
    pub cuda_version: Option<CudaVersion>,
    /// The compute capability of each GPU a CUDA program can use here (visible, bound to the
    /// driver, of an architecture the driver supports), in GPU index order; empty where CUDA
    /// cannot start. The lowest is conda's `__cuda_arch`, the highest wheel variants' `sm_arch`.
    pub compute_capabilities: Vec<ComputeCapability>,
}

impl Cuda {
    /// The one conversion from the report (its `cuda` object, from `rules::cuda_here`).
    fn from_report(r: &Report) -> Self {
        let usable = &r.cuda.usable_gpus;
        Self {
            can_start: match r.cuda.can_start {
                Answer::Yes => CanStart::Yes,
                Answer::No => CanStart::No,
                Answer::Unknown => CanStart::Unknown,
            },
            driver_version: r.driver.as_ref().map(|d| d.version.clone()),
            driver_cuda_version: r.driver.as_ref().and_then(|d| d.cuda_version),
            cuda_version: r.cuda.version,
            compute_capabilities: r
                .gpus
                .iter()
                .filter(|g| usable.contains(&g.index))
                .filter_map(|g| g.compute_capability)
                .collect(),
        }
    }

    /// The lowest compute capability of [`Cuda::compute_capabilities`].
    pub fn min_compute_capability(&self) -> Option<ComputeCapability> {
        self.compute_capabilities.iter().min().copied()
    }

    /// The highest compute capability of [`Cuda::compute_capabilities`].
    pub fn max_compute_capability(&self) -> Option<ComputeCapability> {
        self.compute_capabilities.iter().max().copied()
    }
}

/// Would a CUDA program start here?
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CanStart {
    /// It would.
    Yes,
    /// It would not; the report's findings say why and how to fix it.
    No,
    /// Unknown: the deadline passed, or a source could not be read.
    Unknown,
}

/// A compute capability, `9.0` (`sm_90`). The model's own type.
pub use crate::report::ComputeCapability;
/// A CUDA version, `12.8`. The model's own type.
pub use crate::report::CudaVersion;
/// A kernel driver version, `580.65.06`: compared by number ([`DriverVersion::cmp_numbers`],
/// [`DriverVersion::major`] is the branch), shown as the driver writes it. The model's own type.
pub use crate::report::Version as DriverVersion;
