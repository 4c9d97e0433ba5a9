//! `nvprobe check --cuda X.Y`: will a program built with CUDA X.Y run here?
//!
//! # Rules, in order (sources: CUDA release notes Tables 2 and 3, CUDA Compatibility guide,
//! `shared/research/data-sources.md` B.3, B.4, C.1–C.4)
//! 1. A driver must be known (detected, or `NVPROBE_DRIVER_VERSION`/`NVPROBE_CUDA_VERSION`).
//! 2. The `libcuda.so.1` the loader picks must work: not a stub, not of another driver release
//!    than the kernel module (`driver-library-mismatch`), and, if it is a cuda-compat library,
//!    accepted for this driver branch and GPU (`forward-compat-unsupported`).
//! 3. Each GPU: its architecture must still be driven by the driver branch
//!    (`arch-unsupported-by-driver`: Maxwell/Pascal/Volta end with R580, Kepler with R470), and
//!    CUDA X.Y must be able to build for its compute capability at all
//!    (`cuda-cannot-target-arch`: CUDA 13 dropped 5.x–7.2; 12.0 for 10.0 is too early).
//! 4. The version: X.Y ≤ the CUDA version of the user-mode driver that will be loaded (the
//!    driver's native version, or the active cuda-compat library's: `forward-compat-active`)
//!    runs natively; else if the user-mode driver is at least the minor-version-compatibility
//!    floor of CUDA X (11: 450.80.02, 12: 525.60.13, 13: 580.65.06, compared as full dotted
//!    versions) it runs with `cuda-minor-version-compat` (a warning: PTX JIT and APIs newer than
//!    the driver fail); else `cuda-runtime-too-new`.

use std::fmt::Write as _;

use crate::report::{ComputeCapability, CudaVersion, Finding, Library, Severity, Version};
use crate::tables;

use super::{
    ARCH_UNSUPPORTED_BY_DRIVER, CUDA_CANNOT_TARGET_ARCH, CUDA_MINOR_VERSION_COMPAT,
    CUDA_RUNTIME_TOO_NEW, GpuView, Machine, libs,
};

/// The verdict on one CUDA version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CudaVerdict {
    /// It runs.
    pub satisfied: bool,
    /// `native`, `forward-compat`, `minor-version-compat` or `none`.
    pub via: &'static str,
    /// One line.
    pub reason: String,
    /// Findings the verdict raises.
    pub findings: Vec<Finding>,
}

/// The first driver branch whose native CUDA version is at least `cuda` (12.7 → 565, which no
/// toolkit row names). The tables give branch → CUDA only, hence the scan.
pub fn min_branch_for_cuda(cuda: CudaVersion) -> Option<u32> {
    (400..1000).find(|b| {
        tables::native_cuda_for_branch(*b).is_some_and(|(v, at_least)| !at_least && v >= cuda)
    })
}

/// The architecture for a compute capability, for GPUs known only by an overridden one.
pub fn architecture_for_cc(cc: ComputeCapability) -> Option<&'static str> {
    Some(match (cc.major, cc.minor) {
        (1, _) => "Tesla",
        (2, _) => "Fermi",
        (3, _) => "Kepler",
        (5, _) => "Maxwell",
        (6, _) => "Pascal",
        (7, 0 | 2) => "Volta",
        (7, _) => "Turing",
        (8, 9) => "Ada",
        (8, _) => "Ampere",
        (9, _) => "Hopper",
        (10, 7) => "Rubin",
        (10..=12, _) => "Blackwell",
        _ => return None,
    })
}

/// `arch-unsupported-by-driver` for one GPU, if it applies.
pub fn arch_unsupported(g: &GpuView, branch: u32, driver: &str) -> Option<Finding> {
    let arch = g.architecture?;
    if tables::driver_supports_architecture(branch, arch) != Some(false) {
        return None;
    }
    let last = tables::last_branch_for_architecture(arch)?;
    Some(Finding::new(
        ARCH_UNSUPPORTED_BY_DRIVER,
        Severity::Error,
        format!(
            "{} ({}, {arch}{}) is not supported by driver {driver}: the R{last} branch was the last to support {arch} GPUs, so this driver will not drive it.",
            g.label(),
            g.bus_id,
            g.cc.map(|c| format!(", compute capability {c}"))
                .unwrap_or_default()
        ),
        format!(
            "Install the R{last} driver, the newest for {arch} (e.g. 'sudo apt install nvidia-driver-{last}' on Ubuntu, or the {last} .run file / cuda-drivers-{last} package from NVIDIA), then reboot. Open kernel modules support Turing and newer only: use the proprietary flavour for older GPUs."
        ),
    ))
}

fn cannot_target(g: &GpuView, req_v: CudaVersion) -> Option<Finding> {
    let cc = g.cc?;
    let range =
        tables::toolkits_for_cc(u8::try_from(cc.major).ok()?, u8::try_from(cc.minor).ok()?)?;
    let req = (req_v.major, req_v.minor);
    let req_s = req_v.to_string();
    if let Some(last) = range.last
        && req > last
    {
        return Some(Finding::new(
            CUDA_CANNOT_TARGET_ARCH,
            Severity::Error,
            format!(
                "CUDA {req_s} cannot build code for {} (compute capability {cc}): support for it ended with CUDA {}.{}, and PTX from CUDA {req_s} cannot be compiled for an older architecture.",
                g.label(),
                last.0,
                last.1
            ),
            format!(
                "Use a build made with CUDA {}.{} or older for this GPU (e.g. PyTorch cu{}{} wheels), or a newer GPU.",
                last.0, last.1, last.0, last.1
            ),
        ));
    }
    // (7, 0) means "7.0 or earlier": the sources stop there.
    if range.first != (7, 0) && req < range.first {
        return Some(Finding::new(
            CUDA_CANNOT_TARGET_ARCH,
            Severity::Error,
            format!(
                "CUDA {req_s} predates {} (compute capability {cc}): it cannot produce machine code for it; only PTX for an older architecture, JIT-compiled by the driver, could run, and most prebuilt builds carry none (\"no kernel image is available for execution on the device\").",
                g.label()
            ),
            format!(
                "Use a build made with CUDA {}.{} or newer (e.g. PyTorch cu{}{} wheels); 'nvprobe check --binary FILE' tells whether a given binary carries usable PTX.",
                range.first.0, range.first.1, range.first.0, range.first.1
            ),
        ));
    }
    None
}

/// Decides the verdict.
pub fn verdict(req_v: CudaVersion, m: &Machine<'_>) -> CudaVerdict {
    let req = (req_v.major, req_v.minor);
    let req_s = req_v.to_string();
    let mut findings = Vec::new();
    let mut blockers: Vec<String> = Vec::new();
    let no = |reason: String, findings: Vec<Finding>| CudaVerdict {
        satisfied: false,
        via: "none",
        reason,
        findings,
    };

    if m.driver_version.is_none() && m.native_cuda.is_none() {
        return no(
            format!(
                "CUDA {req_s} cannot run: no NVIDIA driver was found (set NVPROBE_DRIVER_VERSION or NVPROBE_CUDA_VERSION on a build host)"
            ),
            findings,
        );
    }

    // The user-mode driver that will be loaded.
    let active = libs::selected(m.libs, "libcuda.so.1");
    let mut compat: Option<&Library> = None;
    if let Some(l) = active {
        if l.stub {
            blockers.push(format!(
                "the libcuda.so.1 that would be loaded ({}) is a stub",
                l.path
            ));
        } else if l.kind == libs::KIND_COMPAT {
            match super::compat_problem(l, m) {
                Some(why) => blockers.push(format!(
                    "the cuda-compat library {} is not usable: {why}",
                    l.path
                )),
                None => compat = Some(l),
            }
        } else if let (Some(lv), Some(dv)) = (&l.version, m.kernel_version)
            && lv != dv
        {
            blockers.push(format!(
                "the libcuda.so.1 that would be loaded is {lv} but the kernel module is {dv}"
            ));
        }
    }

    for g in &m.gpus {
        if let (Some(branch), Some(dv)) = (m.branch, m.driver_version.as_ref())
            && let Some(f) = arch_unsupported(g, branch, dv.as_str())
        {
            blockers.push(f.message.clone());
            findings.push(f);
        }
        if let Some(f) = cannot_target(g, req_v) {
            blockers.push(f.message.clone());
            findings.push(f);
        }
    }

    // The version rule.
    let (umd, native, via_native) = match compat {
        Some(l) => (
            l.version.clone(),
            l.cuda_version
                .or_else(|| l.version.as_ref().and_then(tables::native_cuda)),
            "forward-compat",
        ),
        None => (m.driver_version.clone(), m.native_cuda, "native"),
    };
    let umd_label = match (&compat, &umd) {
        (Some(l), Some(v)) => format!("the cuda-compat libcuda {v} ({})", l.path),
        (None, Some(v)) => format!("driver {v}"),
        _ => "the driver".to_owned(),
    };
    let native_ok = native.is_some_and(|n| req_v <= n);
    let floor = tables::mvc_floor(req.0);
    // Within the major's range: from `below` on, a driver runs the whole major natively.
    let below = tables::mvc_below_branch(req.0);
    let mvc_ok = !native_ok
        && match (&umd, &floor) {
            (Some(u), Some(f)) => u.at_least(f) && below.is_none_or(|b| u.major() < b),
            // Only a CUDA version is known (an override): the same major counts.
            (None, Some(_)) => native.is_some_and(|n| n.major == req.0),
            _ => false,
        };
    let native_s = native.map_or_else(|| "an unknown version".to_owned(), |n| n.to_string());

    let (satisfied, via, reason) = if native_ok {
        (
            true,
            via_native,
            format!(
                "CUDA {req_s} runs {}: {umd_label} supports CUDA {native_s}",
                if compat.is_some() {
                    "through forward compatibility"
                } else {
                    "natively"
                }
            ),
        )
    } else if mvc_ok {
        let floor = floor.as_ref().map_or("?", Version::as_str);
        findings.push(Finding::new(
            CUDA_MINOR_VERSION_COMPAT,
            Severity::Warning,
            format!(
                "A program built with CUDA {req_s} runs on {umd_label} (CUDA {native_s}) only through minor-version compatibility (CUDA {}.x needs driver ≥ {floor}): PTX produced by CUDA {req_s} cannot be JIT-compiled by this driver, and APIs newer than CUDA {native_s} fail at run time.",
                req.0
            ),
            remedy_too_new(req_v, m, "To get every feature, "),
        ));
        (
            true,
            "minor-version-compat",
            format!(
                "CUDA {req_s} runs through minor-version compatibility only: {umd_label} supports CUDA {native_s}, and CUDA {}.x needs driver ≥ {floor}; PTX JIT and newer APIs fail",
                req.0
            ),
        )
    } else {
        let need = match tables::cuda_min_driver(req.0, req.1) {
            Some(t) => format!("driver ≥ {}", t.driver),
            None => match min_branch_for_cuda(req_v) {
                Some(b) => format!("a driver of branch ≥ R{b}"),
                None => "a driver newer than any nvprobe knows".to_owned(),
            },
        };
        let mvc = match floor {
            Some(f) => format!("; minor-version compatibility needs driver ≥ {f}"),
            None => String::new(),
        };
        let msg = format!(
            "A program built with CUDA {req_s} needs {need}, but {umd_label} supports CUDA {native_s}{mvc}: it fails with 'CUDA driver version is insufficient for CUDA runtime version' (cudaErrorInsufficientDriver)."
        );
        findings.push(Finding::new(
            CUDA_RUNTIME_TOO_NEW,
            Severity::Error,
            msg,
            remedy_too_new(req_v, m, ""),
        ));
        (
            false,
            "none",
            format!(
                "CUDA {req_s} is too new: it needs {need}, and {umd_label} supports CUDA {native_s}"
            ),
        )
    };

    blockers.dedup();
    if let Some(first) = blockers.first() {
        let first = first.trim_end_matches('.');
        let more = if blockers.len() > 1 {
            format!(" (and {} more problem(s))", blockers.len() - 1)
        } else {
            String::new()
        };
        return CudaVerdict {
            satisfied: false,
            via: "none",
            reason: format!("CUDA {req_s} cannot run: {first}{more}"),
            findings,
        };
    }
    CudaVerdict {
        satisfied,
        via,
        reason,
        findings,
    }
}

fn remedy_too_new(req_v: CudaVersion, m: &Machine<'_>, lead: &str) -> String {
    let req = (req_v.major, req_v.minor);
    let req_s = req_v.to_string();
    let branch = tables::cuda_min_driver(req.0, req.1)
        .and_then(|t| {
            t.driver
                .split('.')
                .next()
                .and_then(|b| b.parse::<u32>().ok())
        })
        .or_else(|| min_branch_for_cuda(req_v));
    let mut out = String::from(lead);
    // A GPU whose last driver branch is older than the one needed cannot get there.
    let stuck = m.gpus.iter().find_map(|g| {
        let arch = g.architecture?;
        let last = tables::last_branch_for_architecture(arch)?;
        branch.filter(|b| *b > last).map(|_| (arch, last))
    });
    let pre_turing = m.gpus.iter().any(|g| {
        g.architecture
            .is_some_and(|a| tables::last_branch_for_architecture(a).is_some())
    });
    let flavour = if pre_turing { "" } else { "-open" };
    match branch {
        Some(_) if stuck.is_some() => {
            let (arch, last) = stuck.unwrap_or(("?", 0));
            let _ = write!(
                out,
                "{}o driver new enough for CUDA {req_s} supports {arch} GPUs (R{last} was the last)",
                if lead.is_empty() { "N" } else { "n" }
            );
        }
        Some(b) => {
            let _ = write!(
                out,
                "{}nstall a driver of branch R{b} or newer ('sudo apt install nvidia-driver-{b}{flavour}' or 'sudo ubuntu-drivers install' on Ubuntu; the cuda-drivers package from NVIDIA's repository elsewhere) and reboot",
                if lead.is_empty() { "I" } else { "i" }
            );
        }
        None => out.push_str(if lead.is_empty() {
            "Install a newer driver and reboot"
        } else {
            "install a newer driver and reboot"
        }),
    }
    if let Some(n) = &m.native_cuda {
        let _ = write!(out, "; or use a build made for CUDA {n} or older");
    }
    // cuda-compat libraries that would work but are not on the loader's path.
    let usable: Vec<&Library> = m
        .libs
        .iter()
        .filter(|l| l.kind == libs::KIND_COMPAT && !l.selected)
        .filter(|l| l.cuda_version.is_some_and(|c| req_v <= c))
        .filter(|l| super::compat_problem(l, m).is_none())
        .collect();
    if let Some(l) = usable.first() {
        let dir = l.path.rsplit_once('/').map_or("", |(d, _)| d);
        let _ = write!(
            out,
            "; or enable the forward-compatibility libraries already in {dir} (CUDA {}): 'export LD_LIBRARY_PATH={dir}:$LD_LIBRARY_PATH'",
            l.cuda_version
                .map_or_else(|| "?".to_owned(), |c| c.to_string())
        );
    } else if m.data_center && stuck.is_none() {
        let _ = write!(
            out,
            "; or, on this data-center GPU, install cuda-compat-{}-{} and put /usr/local/cuda-{req_s}/compat first on LD_LIBRARY_PATH (forward compatibility; the driver branch must be in its list)",
            req.0, req.1
        );
    }
    out.push('.');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_min_branch_scan() {
        let c = CudaVersion::new;
        assert_eq!(min_branch_for_cuda(c(12, 7)), Some(565));
        assert_eq!(min_branch_for_cuda(c(12, 4)), Some(550));
        assert_eq!(min_branch_for_cuda(c(13, 0)), Some(580));
        assert_eq!(min_branch_for_cuda(c(99, 0)), None);
    }

    #[test]
    fn cuda_architecture_for_cc() {
        let cc = ComputeCapability::new;
        assert_eq!(architecture_for_cc(cc(6, 1)), Some("Pascal"));
        assert_eq!(architecture_for_cc(cc(7, 5)), Some("Turing"));
        assert_eq!(architecture_for_cc(cc(8, 9)), Some("Ada"));
        assert_eq!(architecture_for_cc(cc(12, 0)), Some("Blackwell"));
        assert_eq!(architecture_for_cc(cc(1, 3)), Some("Tesla"));
        assert_eq!(architecture_for_cc(cc(4, 0)), None);
    }
}
