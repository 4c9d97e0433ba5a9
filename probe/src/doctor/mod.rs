//! The compatibility doctor: which CUDA libraries a program would load, whether they fit the
//! kernel driver and the GPUs, and whether a CUDA build or a container requirement runs here.
//!
//! - [`libs`]: the library inventory (`libcuda`, `libnvidia-ml`, `libcudart`), found the way
//!   `ld.so` finds them ([`ldcache`] parses `/etc/ld.so.cache`; [`elfinfo`] reads SONAMEs and
//!   the forward-compatibility note with goblin, never loading anything).
//! - [`overrides`]: `NVPROBE_DRIVER_VERSION`, `NVPROBE_CUDA_VERSION`,
//!   `NVPROBE_COMPUTE_CAPABILITY`.
//! - [`cuda`]: the `check --cuda X.Y` verdict and its rules.
//! - [`require`]: the `NVIDIA_REQUIRE_*` language with libnvidia-container's semantics.
//! - [`fabric`]: the fabric manager on NVSwitch systems.
//!
//! [`read_libraries`] is a source of the model (`model::build`); [`findings`] and the modules'
//! `findings` functions are rules (`rules::evaluate`); [`check`] answers `nvprobe check` on a
//! finished report.

mod binary;
pub mod cuda;
pub mod elfinfo;
pub mod fabric;
pub mod kmod;
pub mod known_bad;
pub mod ldcache;
pub mod libs;
pub mod majors;
pub mod overrides;
pub mod packages;
pub mod python;
pub mod require;

pub use crate::codes::{
    ARCH_UNSUPPORTED_BY_DRIVER, CUDA_CANNOT_TARGET_ARCH, CUDA_MINOR_VERSION_COMPAT,
    CUDA_RUNTIME_TOO_NEW, DRIVER_LIBRARY_MISMATCH, FABRIC_MANAGER_MISSING, FORWARD_COMPAT_ACTIVE,
    FORWARD_COMPAT_UNSUPPORTED, OVERRIDE_INVALID, OVERRIDE_USED, STUB_LIBRARY_SELECTED,
};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::report::{
    CheckItem, CheckResult, ComputeCapability, CudaVersion, DriverSource, Finding, Gpu, Library,
    OrUnknown, PlatformKind, Report, Severity, Version,
};
use crate::{Env, Options};

/// A GPU as the verdicts see it: the report's fields (already completed from the PCI table by
/// `assemble::complete`), with the architecture of an overridden compute capability.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuView<'a> {
    /// PCI bus id (or several, joined, for a grouped finding: the one case that owns it).
    pub bus_id: Cow<'a, str>,
    /// Marketing name.
    pub name: Option<&'a str>,
    /// Compute capability.
    pub cc: Option<ComputeCapability>,
    /// Architecture (`Pascal`).
    pub architecture: Option<&'a str>,
    /// The NVML brand (`tesla`, `nvidia`, `geforce`, ...), from the report; `None` when the
    /// brand table does not know this GPU.
    pub brand: Option<&'a str>,
}

impl GpuView<'_> {
    fn label(&self) -> &str {
        self.name.unwrap_or("the NVIDIA GPU")
    }
}

/// The report's GPU as the verdicts see it. The PCI table's facts are in the report already
/// (`assemble::enrich_gpu`); an overridden compute capability brings its own architecture.
/// It borrows from the report: the rules build views of every GPU more than once a run.
pub fn gpu_view(g: &Gpu) -> GpuView<'_> {
    let cc = g.compute_capability;
    let from_cc = || cc.and_then(cuda::architecture_for_cc);
    let architecture = if g.compute_capability_source == Some(crate::report::CcSource::Override) {
        from_cc()
    } else {
        g.architecture.as_deref().or_else(from_cc)
    };
    GpuView {
        bus_id: Cow::Borrowed(&g.pci.bus_id),
        brand: g.brand.as_deref(),
        name: g.name.as_deref(),
        cc,
        architecture,
    }
}

/// NVML's `nvmlBrandType_t` value of a brand name (`pynvml` in nvidia-ml-py 13.615).
pub fn brand_value(brand: &str) -> Option<u32> {
    Some(match brand {
        "quadro" => 1,
        "tesla" => 2,
        "nvs" => 3,
        "grid" => 4,
        "geforce" => 5,
        "titan" => 6,
        "vapps" => 7,
        "vpc" => 8,
        "vcs" => 9,
        "vws" => 10,
        "cloudgaming" => 11,
        "quadrortx" => 12,
        "nvidiartx" => 13,
        "nvidia" => 14,
        "geforcertx" => 15,
        "titanrtx" => 16,
        _ => return None,
    })
}

/// What the verdicts need from a report.
#[derive(Clone, Debug)]
pub struct Machine<'a> {
    /// The driver version (detected or overridden).
    pub driver_version: Option<Version>,
    /// The detected kernel module version, when it can be compared with library file names
    /// (not on WSL, not overridden).
    pub kernel_version: Option<&'a Version>,
    /// The driver branch.
    pub branch: Option<u32>,
    /// The CUDA version the driver supports (or `NVPROBE_CUDA_VERSION`).
    pub native_cuda: Option<CudaVersion>,
    /// The visible GPUs.
    pub gpus: Vec<GpuView<'a>>,
    /// The inventory.
    pub libs: &'a [Library],
    /// A visible GPU is a data-center or professional one.
    pub data_center: bool,
}

impl<'a> Machine<'a> {
    /// From a report and the overrides.
    pub fn new(report: &'a Report, ov: &overrides::Overrides) -> Self {
        let d = report.driver.as_ref();
        let comparable = d.is_some_and(|d| {
            matches!(
                d.source,
                DriverSource::Sysfs | DriverSource::Procfs | DriverSource::Ioctl
            )
        }) && report.platform.kind != PlatformKind::Wsl2;
        let by_procfs: Vec<&Gpu> = report
            .gpus
            .iter()
            .filter(|g| g.seen_by.iter().any(|s| s == "procfs-gpus"))
            .collect();
        let bound: Vec<&Gpu> = report
            .gpus
            .iter()
            .filter(|g| g.kernel_driver.as_deref() == Some("nvidia"))
            .collect();
        let visible = if !by_procfs.is_empty() {
            by_procfs
        } else if !bound.is_empty() {
            bound
        } else {
            report.gpus.iter().collect()
        };
        let gpus: Vec<GpuView<'a>> = visible.into_iter().map(gpu_view).collect();
        let data_center = gpus.iter().any(|g| {
            matches!(
                g.brand,
                Some("tesla" | "nvidia" | "nvidiartx" | "quadro" | "quadrortx")
            )
        });
        Self {
            driver_version: d.map(|d| d.version.clone()),
            kernel_version: d.filter(|_| comparable).map(|d| &d.version),
            branch: d.map(|d| d.branch),
            native_cuda: ov.cuda.or_else(|| d.and_then(|d| d.cuda_version)),
            gpus,
            libs: &report.libraries,
            data_center,
        }
    }
}

/// Why an (active) cuda-compat library does not work here; `None` when it does.
pub fn compat_problem(l: &Library, m: &Machine<'_>) -> Option<String> {
    let note = l.fwd_compat.as_ref();
    if let (Some(b), Some(list)) = (m.branch, note.and_then(|n| n.driver_branches.as_ref()))
        && !list.contains(&b)
    {
        let list: Vec<String> = list.iter().map(u32::to_string).collect();
        return Some(format!(
            "driver branch R{b} is not one it accepts (R{}), so cuInit fails with CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)",
            list.join(", R")
        ));
    }
    if let (Some(lv), Some(dv)) = (&l.version, &m.driver_version)
        && lv.cmp_numbers(dv) == Ordering::Less
    {
        return Some(format!(
            "it is {lv}, older than the driver {dv}: forward compatibility only runs a newer user-mode driver on an older kernel module (error 803)"
        ));
    }
    if let Some(devices) = note.and_then(|n| n.devices.as_ref()) {
        for g in &m.gpus {
            if let Some(b) = g.brand
                && let Some(v) = brand_value(b)
                && !devices.contains(&v)
            {
                return Some(format!(
                    "{} ({}) is a {b} GPU, and forward compatibility runs only on data-center and select professional GPUs, so cuInit fails with CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE (804)",
                    g.label(),
                    g.bus_id
                ));
            }
        }
    }
    None
}

/// The library inventory: what the dynamic loader would load here (a source of the model).
/// `module_version` is the loaded kernel module's version as detected (before any override):
/// a `libcuda` of that same version is the driver's own, whatever notes it carries.
pub fn read_libraries(opts: &Options, report: &mut Report, module_version: Option<&Version>) {
    let scope = if opts.cuda_only {
        libs::Scope::Cuda
    } else {
        libs::Scope::All
    };
    let inv = libs::collect_shared(
        &opts.root,
        &opts.env,
        &opts.ld_cache,
        report.cpu_arch(),
        scope,
    );
    report.libraries = inv.libraries;
    if let Some(kv) = module_version {
        for l in &mut report.libraries {
            libs::settle_compat(l, kv);
        }
    }
    report.sources.extend(inv.sources);
}

/// The doctor's rules on the model: the libraries (missing, mismatched, stubs, forward
/// compatibility) and the GPUs' architectures, each added to `found` unless already there.
pub fn findings(report: &Report, ov: &overrides::Overrides, found: &mut Vec<Finding>) {
    let mut new = Vec::new();
    let m = Machine::new(report, ov);
    library_findings(report, &m, found, &mut new);
    arch_findings(report, &m, &mut new);
    for f in new {
        push_unique(found, f);
    }
}

fn push_unique(findings: &mut Vec<Finding>, f: Finding) {
    if !findings
        .iter()
        .any(|x| x.code == f.code && x.message == f.message)
    {
        findings.push(f);
    }
}

fn library_findings(report: &Report, m: &Machine<'_>, before: &[Finding], out: &mut Vec<Finding>) {
    let cuda = libs::selected(m.libs, "libcuda.so.1");
    let nvml = libs::selected(m.libs, "libnvidia-ml.so.1");

    // The module without its userspace, on a host (containers, WSL2, gVisor and Tegra have
    // findings of their own for what was not injected or mounted).
    if cuda.is_none()
        && m.kernel_version.is_some()
        && !report.gpus.is_empty()
        && !report.platform.in_container
        && matches!(report.platform.kind, PlatformKind::BareMetal)
    {
        out.push(Finding::new(
            crate::codes::LIBCUDA_NOT_FOUND,
            Severity::Warning,
            format!(
                "The nvidia kernel module {} is loaded, but the dynamic loader finds no libcuda.so.1 (LD_LIBRARY_PATH, /etc/ld.so.cache, the default directories): every CUDA program fails to start, and conda, pixi and uv see no CUDA.",
                m.kernel_version.or_q()
            ),
            "Install the driver's userspace of the same release: 'sudo apt install libnvidia-compute-<branch>' (Ubuntu), or the driver's 'nvidia-driver-cuda' package (RHEL, Fedora); then run 'sudo ldconfig'.",
        ));
    }

    // Driver/library version mismatch (the NVML "Driver/library version mismatch" case).
    if let Some(kv) = m.kernel_version
        && !before.iter().any(|f| f.code == DRIVER_LIBRARY_MISMATCH)
    {
        let off: Vec<&Library> = [cuda, nvml]
            .into_iter()
            .flatten()
            .filter(|l| l.kind != libs::KIND_COMPAT && !l.stub)
            .filter(|l| l.version.as_ref().is_some_and(|v| v != kv))
            .collect();
        if let Some(first) = off.first() {
            let lv = first.version.or_q();
            let list: Vec<String> = off
                .iter()
                .map(|l| format!("{} ({})", l.path, l.version.or_q()))
                .collect();
            let newer = first
                .version
                .as_ref()
                .is_some_and(|v| v.cmp_numbers(kv) == Ordering::Greater);
            let remedy = if report.platform.in_container {
                format!(
                    "In a container the driver libraries are mounted from the host when it starts: restart the container after the host's driver update. If the image itself ships driver libraries ({}), rebuild it without them.",
                    list.join(", ")
                )
            } else if newer {
                format!(
                    "The driver packages were upgraded to {lv} but the old {kv} kernel module is still loaded: reboot. Or, with no process using the GPU, reload the modules: 'sudo systemctl stop nvidia-persistenced; sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia && sudo modprobe nvidia'."
                )
            } else {
                format!(
                    "An older library shadows the driver's: find its package with 'dpkg -S {}' (or 'rpm -qf'), and remove or upgrade it so that the libraries match the {kv} module; then run 'sudo ldconfig'. If the module is the stale part, reinstall the driver for the running kernel and reboot.",
                    first.path
                )
            };
            out.push(Finding::new(
                DRIVER_LIBRARY_MISMATCH,
                Severity::Error,
                format!(
                    "The driver {} that programs load ({}) {} not from the release of the loaded kernel module {kv}: nvidia-smi and NVML fail with 'Failed to initialize NVML: Driver/library version mismatch', and CUDA programs cannot initialise.",
                    if off.len() == 1 { "library" } else { "libraries" },
                    list.join(" and "),
                    if off.len() == 1 { "is" } else { "are" }
                ),
                remedy,
            ));
        }
    }

    // Stubs.
    for l in [cuda, nvml].into_iter().flatten().filter(|l| l.stub) {
        out.push(Finding::new(
            STUB_LIBRARY_SELECTED,
            Severity::Error,
            format!(
                "The {} that programs load is {}, a CUDA toolkit stub meant for linking only: CUDA and NVML calls through it fail (\"CUDA driver is a stub library\", CUDA_ERROR_STUB_LIBRARY).",
                l.found_as.as_deref().map_or(l.path.as_str(), |f| f.rsplit('/').next().unwrap_or(f)),
                l.path
            ),
            format!(
                "Take the stubs directory out of LD_LIBRARY_PATH and /etc/ld.so.conf.d, or delete the copied stub ({}), then run 'sudo ldconfig'; the real library comes with the driver (libnvidia-compute-<branch> / nvidia-driver packages, or the container runtime).",
                l.found_as.as_deref().unwrap_or(&l.path)
            ),
        ));
    }

    // Forward compatibility in use.
    if let Some(l) = cuda.filter(|l| l.kind == libs::KIND_COMPAT && !l.stub) {
        let cv = l.cuda_version.or_q();
        match compat_problem(l, m) {
            None => out.push(Finding::new(
                FORWARD_COMPAT_ACTIVE,
                Severity::Info,
                format!(
                    "Programs load the forward-compatibility libcuda {} ({}, CUDA {cv}) on driver {}: CUDA {cv} programs run on this older kernel module.",
                    l.path,
                    l.version.or_q(),
                    m.driver_version.or_q()
                ),
                "Nothing to do. Upgrading the driver to a branch that supports CUDA natively removes the need for it.",
            )),
            Some(why) => out.push(Finding::new(
                FORWARD_COMPAT_UNSUPPORTED,
                Severity::Error,
                format!(
                    "Programs load the forward-compatibility libcuda {} (CUDA {cv}), but {why}: every CUDA program fails, also those the driver itself would run.",
                    l.path
                ),
                format!(
                    "Stop loading it: remove {} from LD_LIBRARY_PATH or from /etc/ld.so.conf.d (then 'sudo ldconfig'); in a container, run the image with the host's libraries only (NVIDIA_DISABLE_REQUIRE is not enough; the cuda-compat package must not be on the library path). Forward compatibility needs a data-center GPU and a driver branch in the library's list.",
                    l.path.rsplit_once('/').map_or("", |(d, _)| d)
                ),
            )),
        }
    }
}

fn arch_findings(report: &Report, m: &Machine<'_>, out: &mut Vec<Finding>) {
    let (Some(branch), Some(dv)) = (m.branch, m.driver_version.as_ref().map(Version::as_str))
    else {
        return;
    };
    // One finding per (name, architecture), listing the bus ids.
    let mut groups: Vec<GpuView> = Vec::new();
    for g in report.gpus.iter().map(gpu_view) {
        match groups
            .iter_mut()
            .find(|x| x.name == g.name && x.architecture == g.architecture)
        {
            Some(x) => {
                let ids = x.bus_id.to_mut();
                ids.push_str(", ");
                ids.push_str(&g.bus_id);
            }
            None => groups.push(g),
        }
    }
    for g in &groups {
        if let Some(f) = cuda::arch_unsupported(g, branch, dv) {
            out.push(f);
        }
    }
}

/// What `nvprobe check` was asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckRequest {
    /// `--cuda`.
    pub cuda: Option<CudaVersion>,
    /// `--require`.
    pub require: Option<require::Requirement>,
    /// `--binary`: CUDA binaries (files or directories) to check against every visible GPU.
    pub binaries: Vec<std::path::PathBuf>,
    /// `--python`: the Python environments found, each with its CUDA frameworks.
    pub python: Vec<python::PythonEnv>,
    /// When reading `binaries` stops (the run's `--timeout`); a binary not read to the end by
    /// then is not satisfied. `None`: no limit.
    pub deadline: Option<crate::cudabin::Deadline>,
}

impl CheckRequest {
    /// Validates the arguments.
    ///
    /// # Errors
    /// A usage message: a `--cuda` that is not a version, or a malformed `--require` with the
    /// position of the fault.
    pub fn new(cuda: Option<&str>, requirement: Option<&str>) -> Result<Self, String> {
        let cuda = match cuda {
            // Not silently 12.8: compatibility is decided by the release (X.Y) alone, so say
            // what is checked rather than drop a part of what was asked.
            Some(c) if c.trim().matches('.').count() > 1 => {
                let release: Vec<&str> = c.trim().splitn(3, '.').take(2).collect();
                return Err(format!(
                    "--cuda: '{}' has a patch level: give the release as X.Y ({}), which alone decides compatibility",
                    crate::escape::escape(c),
                    crate::escape::escape(&release.join("."))
                ));
            }
            Some(c) => Some(overrides::parse_cuda(c.trim()).ok_or_else(|| {
                format!(
                    "--cuda: '{}' is not a CUDA version such as 12.4",
                    crate::escape::escape(c)
                )
            })?),
            None => None,
        };
        let require = match requirement {
            Some(r) => Some(require::parse(r).map_err(|e| format!("--require: {e}"))?),
            None => None,
        };
        Ok(Self {
            cuda,
            require,
            binaries: Vec::new(),
            python: Vec::new(),
            deadline: None,
        })
    }

    /// Adds `--binary` paths; each must exist.
    ///
    /// # Errors
    /// A usage message naming a path that does not exist.
    pub fn with_binaries(mut self, paths: &[std::path::PathBuf]) -> Result<Self, String> {
        for p in paths {
            if std::fs::symlink_metadata(p).is_err() {
                return Err(format!(
                    "--binary: {}: no such file or directory",
                    p.display()
                ));
            }
        }
        self.binaries = paths.to_vec();
        Ok(self)
    }

    /// Adds `--python` environments, read (their `.dist-info` and file lists only) until
    /// `deadline`.
    ///
    /// # Errors
    /// A usage message naming a path that is no Python environment.
    pub fn with_python(
        mut self,
        paths: &[std::path::PathBuf],
        deadline: Option<crate::cudabin::Deadline>,
    ) -> Result<Self, String> {
        for p in paths {
            self.python
                .push(python::inspect(p, deadline).map_err(|e| format!("--python: {e}"))?);
        }
        Ok(self)
    }
}

const SATISFIED: &str = "satisfied";
const NOT_SATISFIED: &str = "not-satisfied";
const MALFORMED: &str = "malformed";
const UNKNOWN: &str = "unknown";
/// `check --binary` found no CUDA code: nothing to run, never satisfied (exit 1).
const NO_CUDA_CODE: &str = "no-cuda-code";

/// The finding that makes the report incomplete (the deadline cut it, or a source the answers
/// depend on could not be read), if any: no verdict on such a report can be trusted.
fn incompleteness(findings: &[Finding]) -> Option<&Finding> {
    findings.iter().find(|f| {
        f.code == crate::codes::DEADLINE_EXCEEDED || f.code == crate::codes::SOURCES_UNREADABLE
    })
}

fn eval_requirement(r: &require::Requirement, source: &str, m: &Machine<'_>) -> CheckItem {
    let facts = require::Facts {
        // The requirement language compares text, with libnvidia-container's rules.
        cuda: m.native_cuda.map(|c| c.to_string()),
        driver: m.driver_version.as_ref().map(ToString::to_string),
    };
    let mut verdict = SATISFIED;
    let mut reason = None;
    let devices: Vec<(&str, require::Device)> = m
        .gpus
        .iter()
        .map(|g| {
            (
                &*g.bus_id,
                require::Device {
                    arch: g.cc.map(|c| c.to_string()),
                    brand: g.brand.map(str::to_owned),
                },
            )
        })
        .collect();
    let runs: Vec<(Option<&str>, Option<&require::Device>)> = if devices.is_empty() {
        vec![(None, None)]
    } else {
        devices.iter().map(|(b, d)| (Some(*b), Some(d))).collect()
    };
    for (bus, dev) in runs {
        let on = bus.map(|b| format!(" on GPU {b}")).unwrap_or_default();
        match require::evaluate(r, &facts, dev) {
            require::Outcome::Satisfied => {}
            require::Outcome::Unsatisfied(c) => {
                verdict = NOT_SATISFIED;
                let hint = if r.text.trim_start().starts_with("cuda>=") {
                    ", please update your driver to a newer version, or use an earlier cuda container"
                } else {
                    ""
                };
                reason = Some(format!("{source}: unsatisfied condition: {c}{on}{hint}"));
                break;
            }
            require::Outcome::Invalid(why) => {
                verdict = NOT_SATISFIED;
                reason = Some(format!("{source}: invalid expression{on}: {why}"));
                break;
            }
        }
    }
    // libnvidia-container reads brand and arch from NVML, which always has them; a GPU whose
    // brand or compute capability nvprobe does not know would count as satisfied there only
    // by luck, so a requirement that holds here only through that missing value is unknown.
    let uses = |p: require::Property| r.groups.iter().flatten().any(|c| c.property == p);
    if verdict == SATISFIED
        && let Some((bus, what)) = devices.iter().find_map(|(bus, d)| {
            if uses(require::Property::Brand) && d.brand.is_none() {
                Some((bus, "NVML brand"))
            } else if uses(require::Property::Arch) && d.arch.is_none() {
                Some((bus, "compute capability"))
            } else {
                None
            }
        })
    {
        verdict = UNKNOWN;
        reason = Some(format!(
            "{source}: '{}' holds only if GPU {bus}'s {what}, which nvprobe does not know, fits; the container runtime reads it from NVML",
            r.text
        ));
    }
    let reason = reason.unwrap_or_else(|| {
        let mut s = format!("{source}: '{}' holds", r.text);
        if m.gpus.is_empty() {
            s.push_str(" (no GPU visible: arch and brand count as satisfied)");
        } else {
            let _ = write!(s, " for {} visible GPU(s)", m.gpus.len());
        }
        if m.driver_version.is_none() {
            s.push_str("; no driver is known, and missing data counts as satisfied, as in libnvidia-container");
        }
        s
    });
    CheckItem {
        kind: "require".to_owned(),
        expression: r.text.clone(),
        source: source.to_owned(),
        verdict: verdict.to_owned(),
        via: None,
        parts: Vec::new(),
        framework: None,
        reason,
    }
}

/// The requirements in the environment, as the NVIDIA container toolkit collects them.
fn env_requirements(env: &Env, m: &Machine<'_>, items: &mut Vec<CheckItem>) {
    if let Some(v) = env.get("NVIDIA_DISABLE_REQUIRE")
        && require::disabled(Some(v))
    {
        items.push(CheckItem {
            kind: "require".to_owned(),
            expression: String::new(),
            source: "NVIDIA_DISABLE_REQUIRE".to_owned(),
            verdict: SATISFIED.to_owned(),
            via: None,
            parts: Vec::new(),
            framework: None,
            reason: format!("NVIDIA_DISABLE_REQUIRE={v} turns the NVIDIA_REQUIRE_* checks off"),
        });
        return;
    }
    let mut reqs: Vec<(String, String)> = env
        .with_prefix("NVIDIA_REQUIRE_")
        .filter(|(k, v)| !k.starts_with("NVIDIA_REQUIRE_JETPACK") && !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Legacy images: CUDA_VERSION without NVIDIA_REQUIRE_CUDA means cuda>=major.minor.
    if env.get("NVIDIA_REQUIRE_CUDA").is_none_or(str::is_empty)
        && let Some(cv) = env.get("CUDA_VERSION").filter(|v| !v.is_empty())
    {
        let mm: Vec<&str> = cv.split('.').take(2).collect();
        reqs.push(("CUDA_VERSION".to_owned(), format!("cuda>={}", mm.join("."))));
    }
    if reqs.is_empty() {
        items.push(CheckItem {
            kind: "require".to_owned(),
            expression: String::new(),
            source: "environment".to_owned(),
            verdict: SATISFIED.to_owned(),
            via: None,
            parts: Vec::new(),
            framework: None,
            reason: "nothing to check: no --cuda, no --require, and no NVIDIA_REQUIRE_* variable in the environment".to_owned(),
        });
        return;
    }
    for (k, v) in reqs {
        match require::parse(&v) {
            Ok(r) => items.push(eval_requirement(&r, &k, m)),
            Err(e) => items.push(CheckItem {
                kind: "require".to_owned(),
                expression: v.clone(),
                source: k.clone(),
                verdict: MALFORMED.to_owned(),
                via: None,
                parts: Vec::new(),
                framework: None,
                reason: format!(
                    "{k}: {} (the container runtime refuses to start such a container)",
                    e.to_string().lines().next().unwrap_or_default()
                ),
            }),
        }
    }
}

/// Answers `nvprobe check` on a finished report: the verdicts, and the findings they raise
/// (`CheckResult::findings`; the report itself is not changed, and [`shown_findings`] gives
/// both lists as the outputs show them).
pub fn check(report: &Report, req: &CheckRequest, env: &Env) -> CheckResult {
    let ov = overrides::read(env).values;
    let mut items = Vec::new();
    let mut found = Vec::new();
    {
        let m = Machine::new(report, &ov);
        if let Some(c) = req.cuda {
            let v = cuda::verdict(c, &m);
            items.push(CheckItem {
                kind: "cuda".to_owned(),
                expression: c.to_string(),
                source: "--cuda".to_owned(),
                verdict: if v.satisfied {
                    SATISFIED
                } else {
                    NOT_SATISFIED
                }
                .to_owned(),
                via: Some(v.via.to_owned()),
                parts: Vec::new(),
                framework: None,
                reason: v.reason,
            });
            found.extend(v.findings);
        }
        if let Some(r) = &req.require {
            items.push(eval_requirement(r, "--require", &m));
        }
        if !req.binaries.is_empty() {
            let here = binary::here(report);
            let (bin_items, bin_findings) = binary::check(&req.binaries, &here, req.deadline);
            items.extend(bin_items);
            found.extend(bin_findings);
        }
        for env in &req.python {
            let here = binary::here(report);
            let (py_items, py_findings) = python::check(env, &here, &m, req.deadline);
            items.extend(py_items);
            found.extend(py_findings);
        }
        if req.cuda.is_none()
            && req.require.is_none()
            && req.binaries.is_empty()
            && req.python.is_empty()
        {
            env_requirements(env, &m, &mut items);
        }
    }
    let found = new_findings(report, found);
    // Missing data is never a pass (nor a confident "no"): on an incomplete report every
    // answer is unknown.
    let incomplete = incompleteness(&report.findings).or_else(|| incompleteness(&found));
    if let Some(why) = incomplete {
        let why = format!(
            "unknown: the report is incomplete ({}), so this cannot be answered",
            why.code
        );
        for i in items.iter_mut().filter(|i| i.verdict != MALFORMED) {
            i.verdict = UNKNOWN.to_owned();
            i.reason = format!("{why}; from what was read: {}", i.reason);
        }
        if !items.iter().any(|i| i.verdict == MALFORMED) {
            let reason = format!("{why}: {}", incomplete.map_or("", |f| f.message.as_str()));
            return CheckResult {
                verdict: UNKNOWN.to_owned(),
                reason,
                checks: items,
                findings: found,
            };
        }
    }
    // Anything but "satisfied" decides: a malformed question first, then a "no", then
    // "nothing to check" and "unknown" (never read as a pass).
    let worst = [
        MALFORMED,
        NOT_SATISFIED,
        NO_CUDA_CODE,
        python::CPU_ONLY,
        UNKNOWN,
    ]
    .iter()
    .find_map(|v| items.iter().find(|i| i.verdict == *v));
    let (verdict, reason) = match worst {
        Some(i) => (i.verdict.clone(), i.reason.clone()),
        None => (
            SATISFIED.to_owned(),
            items
                .iter()
                .map(|i| i.reason.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    CheckResult {
        verdict,
        reason,
        checks: items,
        findings: found,
    }
}

/// The verdicts' findings that the report does not already hold (one per code and message).
fn new_findings(report: &Report, found: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for f in found {
        let known = |x: &Finding| x.code == f.code && x.message == f.message;
        if !report.findings.iter().any(known) && !out.iter().any(known) {
            out.push(f);
        }
    }
    out
}

/// The findings `check` shows: the report's and its verdicts', most severe first (the order
/// within a severity kept, the report's first).
pub fn shown_findings(report: &Report, result: &CheckResult) -> Vec<Finding> {
    let mut all = report.findings.clone();
    all.extend(result.findings.iter().cloned());
    crate::findings::sort(&mut all);
    all
}

/// The exit code of a check: 0 satisfied, 1 not (or unknown), 2 malformed.
pub fn exit_code(result: &CheckResult) -> u8 {
    match result.verdict.as_str() {
        SATISFIED => 0,
        MALFORMED => 2,
        _ => 1,
    }
}

/// The report as JSON with the `check` object added.
pub fn check_json(report: &Report, result: &CheckResult) -> String {
    let mut v = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    if let (Some(obj), false) = (v.as_object_mut(), result.findings.is_empty())
        && let Ok(f) = serde_json::to_value(shown_findings(report, result))
    {
        obj.insert("findings".to_owned(), f);
    }
    if let (Some(obj), Ok(c)) = (v.as_object_mut(), serde_json::to_value(result)) {
        obj.insert("check".to_owned(), c);
    }
    crate::report::json::pretty(&v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The check for people: the verdict and its reason on the first line, then the findings the
/// check concerns, most important first, each with its fix.
pub fn render_check(report: &Report, result: &CheckResult) -> String {
    let word = match result.verdict.as_str() {
        SATISFIED => "satisfied",
        MALFORMED => "malformed",
        UNKNOWN => "unknown",
        NO_CUDA_CODE => "no CUDA code found",
        python::CPU_ONLY => "CPU only",
        _ => "not satisfied",
    };
    let esc = crate::escape::escape;
    let mut out = format!("{word}: {}\n", esc(&result.reason));
    if result.checks.len() > 1 {
        for i in &result.checks {
            let _ = writeln!(out, "  {}: {}", i.verdict, esc(&i.reason));
        }
    }
    let shown = shown_findings(report, result);
    let relevant: Vec<&Finding> = shown
        .iter()
        .filter(|f| {
            f.severity != Severity::Info
                || f.code == FORWARD_COMPAT_ACTIVE
                || f.code == OVERRIDE_USED
        })
        .collect();
    for f in relevant {
        let sev = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
            Severity::Info => "info",
        };
        let _ = writeln!(out, "  {sev} {}: {}", esc(&f.code), esc(&f.message));
        let _ = writeln!(out, "    Fix: {}", esc(&f.remedy));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctor_brand_values_are_nvml_enum_values() {
        assert_eq!(brand_value("geforce"), Some(5));
        assert_eq!(brand_value("nvidia"), Some(14));
        assert_eq!(brand_value("vcs"), Some(9));
        assert_eq!(brand_value("geforcertx"), Some(15));
        assert_eq!(brand_value("ati"), None);
    }
}
