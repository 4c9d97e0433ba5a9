//! The rules stage ([`evaluate`]): every finding, from the model alone, and from them the facts
//! every output reads instead of working them out again: can a CUDA program start
//! here, which user-mode driver and CUDA version would it get, which GPUs can it use; and
//! would NVML start, on which GPUs. `labels`, every `export` format and the text report read
//! [`CudaHere`] from `report.cuda`; none looks for finding codes itself.
//!
//! The consumers' own rules are the spec:
//! - conda and rattler load `libcuda.so.1` and need `cuInit(0)` to succeed before `__cuda`
//!   exists; `__cuda_arch` (CEP 46) is the lowest compute capability of the devices CUDA can
//!   use, absent without one;
//! - GPU Feature Discovery writes its device labels from NVML: where NVML cannot start
//!   (module not loaded, libraries of another release, `/dev/nvidiactl` missing or denied) it
//!   writes none, and `gpu.count` is the devices NVML lists.

use crate::codes;
use crate::doctor::{self, fabric, kmod, known_bad, majors, overrides, packages};
use crate::findings;
use crate::model::Model;
use crate::platform::vgpu_manager;
use crate::report::{CudaVersion, OrUnknown, PlatformKind, Report};

pub use crate::report::{Answer, CudaHere, UserModeDriver};

/// The rules stage: every finding and the CUDA verdict, from the model alone, in one place and
/// in this order (a rule may read, and `kmod` may fold into its root cause, the findings
/// before it; `findings::sort` keeps this order within a severity). The machine's own rules
/// (its driver's answers, its platform, its files) read the machine as detected; the rest read
/// it with the `NVPROBE_*` overrides in place. Returns the model's report with its findings
/// and `cuda`; nothing else in it is written here.
pub fn evaluate(model: Model) -> Report {
    finish(findings(model))
}

/// [`evaluate`] without the last step ([`finish`]): the findings in rule order, for a
/// snapshot of an unfinished run.
pub(crate) fn findings(model: Model) -> Report {
    let Model { report, seen, .. } = &model;
    let detected = model.detected();
    let mut found = findings::ioctl(&seen.ioctl, &seen.disagreements);
    found.extend(findings::platform(&seen.facts, detected, &seen.platform));
    found.extend(findings::evaluate(&seen.facts, detected));
    overrides::findings(&seen.overrides, &mut found);
    doctor::findings(report, &seen.overrides.values, &mut found);
    if let Some(f) = &seen.fabric {
        found.extend(fabric::findings(report, f));
    }
    found.extend(known_bad::findings(report));
    // One cause, one finding: a GPU left unbound because the loaded open module predates it is
    // `gpu-newer-than-driver`; `gpu-not-bound` stays only for an unbound GPU it does not explain.
    let unbound_unexplained = report.gpus.iter().any(|g| {
        g.seen_by.iter().any(|s| s == "sysfs-pci")
            && g.kernel_driver.is_none()
            && known_bad::gpu_too_new(report, g).is_none()
    });
    if !unbound_unexplained {
        found.retain(|f| f.code != crate::codes::GPU_NOT_BOUND);
    }
    found.extend(majors::findings(report, &seen.env));
    found.extend(vgpu_manager::findings(report, &seen.env));
    kmod::findings(&seen.facts, report, &mut found);
    found.extend(packages::findings(report));
    if let Some(outcome) = &seen.cross_check {
        found.extend(findings::cross_check(report, outcome));
    }
    if let Some(why) = &seen.capture_incomplete {
        found.push(findings::capture_incomplete(why));
    }
    let Model { mut report, .. } = model;
    report.findings = found;
    report
}

/// The last rules, on a report whose other findings are in: a source that could not be read
/// makes it unknown (`findings::completeness`), one finding per cause, in severity order, and
/// from all of them the CUDA verdict (`report.cuda`).
pub fn finish(mut report: Report) -> Report {
    report.findings.extend(findings::completeness(&report));
    settle(&mut report);
    report
}

/// A capture whose copy stopped at its deadline: the bundle is incomplete. Records the
/// `capture` source and re-derives the findings and the verdict of the captured run's report.
pub fn capture_stopped(report: &mut Report, source: crate::report::Source, why: &str) {
    report.sources.push(source);
    report.findings.push(findings::capture_incomplete(why));
    settle(report);
}

/// One finding per cause, in severity order, and from them the CUDA verdict.
fn settle(report: &mut Report) {
    findings::dedup(&mut report.findings);
    findings::sort(&mut report.findings);
    report.cuda = cuda_here(report);
}

/// Findings after which `cuInit` fails, most telling first.
const CUDA_BLOCKERS: &[&str] = &[
    codes::KERNEL_HEADERS_MISSING,
    codes::DKMS_NOT_BUILT_FOR_KERNEL,
    codes::MODULE_NOT_BUILT_FOR_KERNEL,
    codes::DRIVER_NOT_LOADED,
    codes::WSL_GPU_NOT_EXPOSED,
    codes::WSL_USERSPACE_MISSING,
    codes::WSL_LIBRARIES_NOT_ON_LOADER_PATH,
    codes::GVISOR_NVPROXY_NOT_ENABLED,
    codes::TEGRA_GPU_NODES_MISSING,
    codes::DRIVER_LIBRARY_MISMATCH,
    codes::STUB_LIBRARY_SELECTED,
    codes::FORWARD_COMPAT_UNSUPPORTED,
    codes::DEVICE_NODES_MISSING,
    codes::CONTAINER_DEVICE_NODES_MISSING,
    codes::DEVICE_PERMISSION_DENIED,
    codes::FABRIC_MANAGER_MISSING,
];

/// Findings after which `nvmlInit` fails.
const NVML_BLOCKERS: &[&str] = &[
    codes::KERNEL_HEADERS_MISSING,
    codes::DKMS_NOT_BUILT_FOR_KERNEL,
    codes::DRIVER_NOT_LOADED,
    codes::MODULE_NOT_BUILT_FOR_KERNEL,
    codes::WSL_GPU_NOT_EXPOSED,
    codes::WSL_USERSPACE_MISSING,
    codes::WSL_LIBRARIES_NOT_ON_LOADER_PATH,
    codes::GVISOR_NVPROXY_NOT_ENABLED,
    codes::DRIVER_LIBRARY_MISMATCH,
    codes::DEVICE_PERMISSION_DENIED,
];

/// The findings that make every answer unknown.
const INCOMPLETE: &[&str] = &[codes::DEADLINE_EXCEEDED, codes::SOURCES_UNREADABLE];

fn has(r: &Report, code: &str) -> bool {
    r.findings.iter().any(|f| f.code == code)
}

/// The GPUs a process here sees (`gpus[].visible`: in a container, the injected ones) that are
/// bound to the nvidia driver (or listed by the driver itself when sysfs does not say).
fn visible_gpus(r: &Report) -> Vec<u32> {
    r.gpus
        .iter()
        .filter(|g| g.visible)
        .filter(|g| match g.kernel_driver.as_deref() {
            Some(d) => d == "nvidia" || d == "nvgpu",
            // No PCI binding to read (WSL2, gVisor, procfs only): the driver's own listing.
            None => g.seen_by.iter().any(|s| s != "sysfs-pci"),
        })
        .map(|g| g.index)
        .collect()
}

/// The visible GPUs whose architecture the driver branch still supports.
fn supported(r: &Report, visible: &[u32]) -> Vec<u32> {
    let driver = r.driver.as_ref();
    r.gpus
        .iter()
        .filter(|g| visible.contains(&g.index))
        .filter(|g| {
            driver.is_none_or(|d| {
                crate::doctor::cuda::arch_unsupported(
                    &crate::doctor::gpu_view(g),
                    d.branch,
                    d.version.as_str(),
                )
                .is_none()
            })
        })
        // A GPU newer than the loaded open module (`gpu-newer-than-driver`): not usable.
        .filter(|g| known_bad::gpu_too_new(r, g).is_none())
        .map(|g| g.index)
        .collect()
}

/// The user-mode driver and the CUDA version it gives.
fn user_mode_driver(r: &Report) -> (UserModeDriver, Option<CudaVersion>) {
    let native = r.driver.as_ref().and_then(|d| d.cuda_version);
    match r.platform.kind {
        PlatformKind::Tegra => {
            let v = r
                .platform
                .details
                .tegra
                .as_ref()
                .and_then(|t| t.l4t_cuda_version);
            return (UserModeDriver::Tegra, v);
        }
        PlatformKind::Wsl2 => return (UserModeDriver::Wsl, native),
        _ => {}
    }
    let Some(lib) = crate::doctor::libs::selected(&r.libraries, "libcuda.so.1") else {
        return (UserModeDriver::None, None);
    };
    if lib.stub {
        return (UserModeDriver::Stub, None);
    }
    if lib.kind == crate::doctor::libs::KIND_COMPAT {
        return (UserModeDriver::CudaCompat, lib.cuda_version);
    }
    (UserModeDriver::Native, native)
}

/// Derives [`CudaHere`] from a report whose findings are complete.
pub fn cuda_here(r: &Report) -> CudaHere {
    let visible = visible_gpus(r);
    let usable = supported(r, &visible);
    let (umd, version) = user_mode_driver(r);
    let mut out = CudaHere {
        user_mode_driver: umd,
        user_mode_driver_version: version,
        usable_gpus: usable.clone(),
        nvml_gpus: visible.clone(),
        ..CudaHere::default()
    };
    if let Some(code) = INCOMPLETE.iter().find(|c| has(r, c)) {
        out.blocked_by = Some((*code).to_owned());
        out.reason =
            "the report is incomplete, so whether CUDA and NVML start here is unknown".to_owned();
        return out;
    }
    // NVML: the kernel module and a matching libnvidia-ml (Tegra has no NVML to speak of:
    // its answer is unknown, and nothing is gated on it there).
    let nvml_missing = r.platform.kind != PlatformKind::Wsl2
        && (crate::doctor::libs::selected(&r.libraries, "libnvidia-ml.so.1").is_none()
            || (r.platform.kind != PlatformKind::Gvisor
                && !r.device_nodes.iter().any(|n| n.path == "/dev/nvidiactl")));
    out.nvml = if r.platform.kind == PlatformKind::Tegra {
        Answer::Unknown
    } else if r.driver.is_none() || NVML_BLOCKERS.iter().any(|c| has(r, c)) || nvml_missing {
        Answer::No
    } else {
        Answer::Yes
    };
    if out.nvml != Answer::Yes {
        out.nvml_gpus.clear();
    }
    // CUDA.
    let blocker = CUDA_BLOCKERS.iter().find(|c| has(r, c));
    let (can, blocked_by, reason) = if let Some(code) = blocker {
        (Answer::No, Some((*code).to_owned()), why(code).to_owned())
    } else if r.driver.is_none() && r.platform.kind != PlatformKind::Tegra {
        let code = [codes::NOUVEAU_BOUND, codes::NO_NVIDIA_GPU]
            .into_iter()
            .find(|c| has(r, c))
            .map(str::to_owned);
        (Answer::No, code, "no NVIDIA driver is loaded".to_owned())
    } else if usable.is_empty() {
        let code = [
            codes::CONTAINER_GPU_NOT_VISIBLE,
            codes::ARCH_UNSUPPORTED_BY_DRIVER,
            codes::GPU_NEWER_THAN_DRIVER,
            codes::GPU_NOT_BOUND,
            codes::NOUVEAU_BOUND,
            codes::NO_NVIDIA_GPU,
        ]
        .into_iter()
        .find(|c| has(r, c))
        .map(str::to_owned);
        (
            Answer::No,
            code,
            "no GPU here that CUDA can use, so cuInit fails with CUDA_ERROR_NO_DEVICE (100)"
                .to_owned(),
        )
    } else if umd == UserModeDriver::None {
        (
            Answer::No,
            [codes::LIBCUDA_NOT_FOUND, codes::CONTAINER_LIBRARIES_MISSING]
                .into_iter()
                .find(|c| has(r, c))
                .map(str::to_owned),
            "no libcuda.so.1 on the loader's path, so no CUDA program can load the driver"
                .to_owned(),
        )
    } else if version.is_none() {
        (
            Answer::Unknown,
            None,
            "the user-mode driver's CUDA version is not known".to_owned(),
        )
    } else {
        (Answer::Yes, None, String::new())
    };
    out.can_start = can;
    out.blocked_by = blocked_by;
    if r.platform.kind == PlatformKind::Tegra {
        out.gfd_labels = can;
        out.gfd_gpus = if can == Answer::Yes {
            usable.clone()
        } else {
            Vec::new()
        };
    } else {
        out.gfd_labels = out.nvml;
        out.gfd_gpus = out.nvml_gpus.clone();
    }
    if can == Answer::Yes {
        out.version = version;
        out.reason = format!(
            "CUDA {} through the {umd} user-mode driver on {} GPU(s)",
            out.version.or_q(),
            usable.len()
        );
    } else {
        out.reason = reason;
        if can == Answer::No {
            out.usable_gpus.clear();
        }
    }
    out
}

/// What `cuInit` does after a blocking finding, in words.
fn why(code: &str) -> &'static str {
    match code {
        codes::DRIVER_NOT_LOADED
        | codes::MODULE_NOT_BUILT_FOR_KERNEL
        | codes::KERNEL_HEADERS_MISSING
        | codes::DKMS_NOT_BUILT_FOR_KERNEL => {
            "the nvidia kernel module is not loaded, so cuInit finds no driver"
        }
        codes::DRIVER_LIBRARY_MISMATCH => {
            "the libcuda that would load is of another release than the kernel module: cuInit fails with CUDA_ERROR_SYSTEM_DRIVER_MISMATCH (803)"
        }
        codes::STUB_LIBRARY_SELECTED => {
            "the loader picks a CUDA toolkit stub libcuda: cuInit fails with CUDA_ERROR_STUB_LIBRARY (34)"
        }
        codes::FORWARD_COMPAT_UNSUPPORTED => {
            "the cuda-compat libcuda rejects this driver branch or GPU: cuInit fails with 803 or 804"
        }
        codes::FABRIC_MANAGER_MISSING => {
            "the NVSwitch fabric is not set up: cuInit fails with CUDA_ERROR_SYSTEM_NOT_READY (802)"
        }
        codes::DEVICE_NODES_MISSING
        | codes::CONTAINER_DEVICE_NODES_MISSING
        | codes::TEGRA_GPU_NODES_MISSING => "device nodes cuInit needs are missing",
        codes::DEVICE_PERMISSION_DENIED => "this user may not open the GPU device nodes",
        _ => "the CUDA driver is not usable in this environment",
    }
}
