//! Virtual-GPU managers (HAMi, GPU-Manager): `platform.vgpu_manager` and their rules (issue 23).
//!
//! Both intercept the CUDA driver API between the runtime and `libcuda`, so a program works only
//! inside what the hooks know:
//! - the manager's baseline CUDA version (the newest API its hooks were built for) must be at
//!   least the runtime's: a newer runtime reaches entry points the hooks do not wrap
//!   (`cuGetProcAddress` of a newer API), which escape the limits or fail;
//! - the runtime's major, the driver's and the baseline's must be one: the managers support
//!   only that window;
//! - a fractional allocation (`vcuda-core`, `CUDA_DEVICE_SM_LIMIT` below 100) is enforced by the
//!   hooks alone, so cross-major use needs per-application hooks.
//!
//! The evidence is read by [`crate::detect::vgpu`]; the rules run after the library inventory,
//! which names the runtime ([`crate::doctor::majors::runtimes`]).

use crate::Options;
use crate::codes::{
    VGPU_BASELINE_OLDER_THAN_RUNTIME, VGPU_CUDA_MAJOR_MISMATCH, VGPU_FRACTIONAL_ALLOCATION,
};
use crate::doctor::majors;
use crate::report::{Finding, Report, Severity};
use crate::tables::compare_versions;

/// Records the manager, if any, in `platform.vgpu_manager` and its source.
pub fn refine(opts: &Options, report: &mut Report) {
    let (info, source) = crate::detect::vgpu::read(&opts.root, &opts.env);
    report.platform.details.vgpu_manager = info;
    report.sources.push(source);
}

fn name(kind: &str) -> &'static str {
    if kind == "hami" {
        "HAMi (libvgpu.so)"
    } else {
        "GPU-Manager (vcuda)"
    }
}

/// The rules of a manager recorded by [`refine`], on the model (with its library inventory).
pub fn findings(report: &Report, env: &crate::Env) -> Vec<Finding> {
    let Some(info) = report.platform.details.vgpu_manager.as_ref() else {
        return Vec::new();
    };
    let who = name(&info.kind);
    let runtimes = majors::runtimes(report, env);
    let driver = majors::driver_cuda(report);
    let baseline = info
        .baseline_cuda
        .as_deref()
        .and_then(|b| Some((b, majors::major(b)?)));
    let mut out = Vec::new();

    if let Some((b, _)) = baseline {
        for r in runtimes
            .iter()
            .filter(|r| compare_versions(b, &r.version.to_string()).is_lt())
        {
            out.push(Finding::new(
                VGPU_BASELINE_OLDER_THAN_RUNTIME,
                Severity::Warning,
                format!(
                    "{who} intercepts CUDA here, and its hooks know CUDA {b} at most ({}), but programs load the CUDA {} runtime ({}): calls the hooks do not know bypass the memory and compute limits or fail.",
                    info.baseline_source.as_deref().unwrap_or("its baseline"),
                    r.version,
                    r.from
                ),
                format!(
                    "Use an image built for CUDA {b} or older under this manager, or upgrade the manager to one built for CUDA {}.",
                    r.version
                ),
            ));
        }
    }

    let mut parts: Vec<(String, u32)> = runtimes
        .iter()
        .map(|r| (format!("runtime {} ({})", r.version, r.from), r.major))
        .collect();
    if let Some((v, m)) = &driver {
        parts.push((format!("driver CUDA {v}"), *m));
    }
    if let Some((b, m)) = baseline {
        parts.push((format!("{who} baseline CUDA {b}"), m));
    }
    let cross_major = parts
        .iter()
        .any(|(_, m)| parts.first().is_some_and(|(_, f)| f != m));
    if cross_major {
        let list: Vec<&str> = parts.iter().map(|(s, _)| s.as_str()).collect();
        out.push(Finding::new(
            VGPU_CUDA_MAJOR_MISMATCH,
            Severity::Warning,
            format!(
                "{who} supports one CUDA major at a time (runtime major = driver major = its baseline major), and here they differ: {}.",
                list.join(", ")
            ),
            "Run images whose CUDA major is the driver's and the manager's, or upgrade the manager and the driver together to the runtime's major.",
        ));
    }

    // What a fractional share cannot cover: a runtime of another major than the driver's.
    let runtime_off_driver = driver
        .as_ref()
        .is_some_and(|(_, dm)| runtimes.iter().any(|r| r.major != *dm));
    if let Some(c) = info.core_percent.filter(|c| (1..100).contains(c)) {
        let severity = if runtime_off_driver {
            Severity::Warning
        } else {
            Severity::Info
        };
        out.push(Finding::new(
            VGPU_FRACTIONAL_ALLOCATION,
            severity,
            format!(
                "This container has a fractional GPU ({c}% of its compute through {who}): the share is enforced by the manager's CUDA hooks alone, so a program of another CUDA major than the driver's needs hooks for its own runtime (per-application hooks){}.",
                if runtime_off_driver {
                    ", and here the runtime's major is not the driver's"
                } else {
                    ""
                }
            ),
            "Keep the image's CUDA major equal to the driver's; for another major, ask the platform for a whole GPU (vcuda-core 100, no CUDA_DEVICE_SM_LIMIT) or per-application hooks.",
        ));
    }
    out
}
