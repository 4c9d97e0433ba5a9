//! The model of the machine, built once by the sources before any rule runs.
//!
//! `build` runs the sources in order. Each step writes its own fields of the report (the
//! model's serialisation: `driver`, `gpus`, `platform`, `libraries`, `sources`, ...) once, and
//! returns what it read that the report does not hold ([`Observed`]: the ioctl outcome, the
//! platform facts, the overrides, the fabric manager, the cross-check's NVML answer, a
//! capture's incompleteness). A later step may read what an earlier one wrote (the ioctl source
//! asks whether this is gVisor; the library search asks the machine's architecture). No step
//! raises a finding: [`crate::rules::evaluate`] reads the finished model and derives every
//! finding and the CUDA verdict, and nothing writes the model after that.

use std::sync::Mutex;

use crate::doctor::{fabric, overrides};
use crate::report::{PlatformKind, Report};
use crate::{Options, Partial, assemble, capture, crosscheck, detect, doctor, ioctl, platform};

/// What the sources read that the report does not hold, for the rules.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The file sources' facts (shared with the deadline's report of a run cut after them).
    pub facts: std::sync::Arc<detect::Facts>,
    /// What the kernel driver answered through ioctls (and what it refused).
    pub ioctl: ioctl::IoctlOutcome,
    /// Where the ioctl answers disagree with procfs/sysfs.
    pub disagreements: Vec<String>,
    /// The platform sources' facts beyond `platform.*`.
    pub platform: platform::PlatformFacts,
    /// The `NVPROBE_*` overrides, with what each replaced.
    pub overrides: overrides::Read,
    /// The fabric manager, on a machine with `NVSwitch` functions.
    pub fabric: Option<fabric::FabricFacts>,
    /// NVML's answer through the shim, compared with the model (`--cross-check` only).
    pub cross_check: Option<crosscheck::Outcome>,
    /// A replayed capture that stopped copying at its deadline: why.
    pub capture_incomplete: Option<String>,
    /// The environment the run read (`CUDA_VERSION` and the like name a runtime).
    pub env: crate::Env,
}

/// The model: the report's facts (no findings yet) and what the rules need besides.
#[derive(Clone, Debug)]
pub struct Model {
    /// The machine as the sources read it, with the `NVPROBE_*` overrides in place: the report
    /// without its findings and `cuda`.
    pub report: Report,
    /// The machine as detected, where an override replaced the driver or a compute capability:
    /// the rules about the machine itself (its files, its driver's answers, its platform)
    /// describe what is there, not what an override stands for. `None` when no override is set.
    detected: Option<Report>,
    /// What the sources read beyond the report.
    pub seen: Observed,
}

impl Model {
    /// The machine as detected, before the overrides (the same as [`Model::report`] without
    /// them).
    pub fn detected(&self) -> &Report {
        self.detected.as_ref().unwrap_or(&self.report)
    }
}

/// Runs the sources and builds the model. `partial` receives snapshots for a report when the
/// deadline passes (`crate::partial_report`); `started` is when the run began; with
/// `--cross-check`, `before_shim` is shown the model before the shim runs (the caller keeps a
/// snapshot of it, as the shim may hang).
pub(crate) fn build(
    opts: &Options,
    partial: &Mutex<Partial>,
    started: std::time::Instant,
    before_shim: &dyn Fn(&Model),
) -> Model {
    // The kernel driver and /dev/dxg: the host's, or a capture's recorder or replay (a capture
    // records /dev/dxg through its driver).
    let nv = capture::driver(opts);
    if let Some(dxg_nv) = capture::dxg_driver(opts) {
        let dxg = platform::dxg::DxgViaNv(dxg_nv.as_ref());
        build_on(opts, nv.as_ref(), &dxg, partial, started, before_shim)
    } else {
        let dxg = crate::sys::dxg::HostDxg::new(opts.root.clone());
        build_on(opts, nv.as_ref(), &dxg, partial, started, before_shim)
    }
}

/// The `stall` test hook ([`Options::stall`]): sleeps when `name` is the stage it names.
fn stall_before(opts: &Options, name: &str) {
    if let Some((stall_at, pause)) = &opts.stall
        && stall_at == name
    {
        std::thread::sleep(*pause);
    }
}

/// Where a run's file sources put their facts: with the deadline's [`crate::Partial`], which
/// names the source being read and holds the facts of those read before it.
struct RunSink<'a> {
    opts: &'a Options,
    partial: &'a Mutex<Partial>,
}

impl detect::Sink for RunSink<'_> {
    fn before(&mut self, name: &str) {
        let mut p = crate::lock(self.partial);
        name.clone_into(&mut p.running);
        p.facts.begin();
        drop(p);
        stall_before(self.opts, name);
    }

    fn put(&mut self, store: impl FnOnce(&mut detect::Facts)) {
        crate::lock(self.partial).facts.store(store);
    }
}

/// `build` with the devices given: the NVIDIA driver (`/dev/nvidia*` ioctls) and `/dev/dxg`.
fn build_on(
    opts: &Options,
    nv: &dyn ioctl::NvDriver,
    dxg: &dyn platform::dxg::DxgDevice,
    partial: &Mutex<Partial>,
    started: std::time::Instant,
    before_shim: &dyn Fn(&Model),
) -> Model {
    // 1. Files: procfs, sysfs, /dev, /lib/modules, /etc, each source's facts stored where the
    //    deadline finds them as soon as it is read.
    detect::collect_into(&opts.root, opts.cuda_only, &mut RunSink { opts, partial });
    // 2. The report from the files. If a later stage hangs, the report the files give
    //    ([`assemble::file_snapshot`]) stands in for the run: the deadline builds it from the
    //    facts it shares with the run, so a run that ends in time never does.
    let facts = crate::files_read(partial, "ioctl");
    let mut report = assemble::base(&opts.root, &facts);
    stall_before(opts, "ioctl");
    // 3. The kernel driver itself, through ioctls on /dev/nvidiactl (and with --deep on
    //    /dev/nvidiaN): version, GPU list, and with --deep arch info, name, UUID, memory.
    let outcome = ioctl::probe_ioctl(
        nv,
        &ioctl::IoctlOptions {
            deep: opts.deep,
            gvisor: report.platform.kind == PlatformKind::Gvisor,
            version_hint: report.driver.as_ref().map(|d| d.version.to_string()),
            allow_strict_check: true,
        },
    );
    let disagreements = ioctl::merge_into(&mut report, &outcome);
    // 4. The platform: WSL2 (/dev/dxg), gVisor, Tegra, containers, virtual-GPU managers.
    let platform_facts = platform::refine_with(opts, &facts, &mut report, dxg);
    assemble::complete(&mut report);
    // 5. The NVPROBE_* overrides stand in for the driver, the CUDA version or the compute
    //    capabilities; the machine as detected is kept for the rules about it.
    let module_version = report.driver.as_ref().map(|d| d.version.clone());
    let read = overrides::read(&opts.env);
    let detected = read.values.any().then(|| report.clone());
    let overrides = overrides::apply(read, &mut report);
    // 6. The libraries the dynamic loader would load, and the fabric manager.
    doctor::read_libraries(opts, &mut report, module_version.as_ref());
    let fabric = fabric::read(
        &opts.root,
        &mut report,
        facts.pci.as_ref(),
        facts.packages.as_ref(),
    );
    // 7. The host's layers: kernel module builds and driver packages (bare-metal hosts only:
    //    a container's are its image's, not the machine's).
    if !report.platform.in_container && report.platform.kind == PlatformKind::BareMetal {
        report.platform.details.kernel_build.clone_from(&facts.kernel_build);
        report.platform.details.packages.clone_from(&facts.packages);
    }
    // 8. Only with --cross-check: NVML through the glibc shim, bounded by what is left of the
    //    deadline (with a reserve, so a hanging NVML still ends in a written report).
    let mut model = Model {
        report,
        detected,
        seen: Observed {
            facts,
            ioctl: outcome,
            disagreements,
            platform: platform_facts,
            overrides,
            fabric,
            cross_check: None,
            capture_incomplete: None,
            env: opts.env.clone(),
        },
    };
    if opts.cross_check {
        before_shim(&model);
        let deadline = crosscheck::shim_deadline(started, opts.timeout);
        let report = &model.report;
        // A capture keeps the shim's output; its replay reads it instead of running the shim.
        let outcome = capture::cross_check(opts, report, deadline)
            .unwrap_or_else(|| crosscheck::run_cross_check(report, None, deadline));
        model.report.cross_check = Some(outcome.cross_check.clone());
        model.report.sources.push(outcome.source.clone());
        model.seen.cross_check = Some(outcome);
    }
    // 9. A replay says so; the environment the run read.
    model.seen.capture_incomplete = capture::annotate(opts, &mut model.report);
    if let Some(source) = opts.env.source() {
        model.report.sources.push(source);
    }
    model
}

/// The model of a run without a deadline's watchdog: the sources read under `opts`, no rule
/// run yet (for tests and tools that look at the model itself).
pub fn read(opts: &Options) -> Model {
    build(
        opts,
        &Mutex::new(Partial::default()),
        std::time::Instant::now(),
        &|_| {},
    )
}

/// [`read`] with the devices given (an emulated NVIDIA driver and `/dev/dxg` in tests): the
/// same sources in the same order as a run.
pub fn read_on(
    opts: &Options,
    nv: &dyn ioctl::NvDriver,
    dxg: &dyn platform::dxg::DxgDevice,
) -> Model {
    build_on(
        opts,
        nv,
        dxg,
        &Mutex::new(Partial::default()),
        std::time::Instant::now(),
        &|_| {},
    )
}
