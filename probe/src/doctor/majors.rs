//! The CUDA runtime against the driver's CUDA version, by major (issue 23).
//!
//! A runtime (`libcudart`) runs on any driver whose CUDA version is at least its own: NVIDIA's
//! backward compatibility has no lower bound. But virtual-GPU managers and some platforms
//! support only the one-major window (runtime major = driver major, or one behind), so a runtime
//! more than one major behind the driver gets an `info` finding.
//!
//! The runtime is what the dynamic loader would load (`libcudart.so.13`, `.12`, `.11.0` in the
//! library inventory, [`super::libs`]); without one, the `CUDA_VERSION` variable CUDA container
//! images set (`12.4.1`).

use crate::Env;
use crate::codes::CUDA_RUNTIME_MAJORS_BEHIND;
use crate::report::{CudaVersion, Finding, Report, Severity, Version};

use super::libs;

/// A CUDA runtime programs here would use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runtime {
    /// `X.Y`.
    pub version: CudaVersion,
    /// Its major.
    pub major: u32,
    /// Where it was found, in words (`/usr/local/cuda/lib64/libcudart.so.12.4.127`,
    /// `CUDA_VERSION=12.4.1`).
    pub from: String,
}

/// The major of a version such as `12.4` or `12.4.1`.
pub fn major(version: &str) -> Option<u32> {
    version.trim().split('.').next()?.parse().ok()
}

/// `X.Y` of a version with two or more parts.
fn release(version: &str) -> Option<CudaVersion> {
    CudaVersion::of_dotted(&version.trim().parse::<Version>().ok()?)
}

/// The CUDA runtimes a program here would load (one per `libcudart` SONAME the loader finds),
/// or the image's `CUDA_VERSION` when the loader finds none.
pub fn runtimes(report: &Report, env: &Env) -> Vec<Runtime> {
    let mut out: Vec<Runtime> = report
        .libraries
        .iter()
        .filter(|l| l.kind == libs::KIND_RUNTIME && l.selected && !l.stub)
        .filter_map(|l| {
            let version = l.cuda_version?;
            Some(Runtime {
                major: version.major,
                version,
                from: l.path.clone(),
            })
        })
        .collect();
    if out.is_empty()
        && let Some(v) = env.get("CUDA_VERSION")
        && let Some(version) = release(v)
    {
        out.push(Runtime {
            version,
            major: version.major,
            from: format!("CUDA_VERSION={}", crate::escape::escape(v)),
        });
    }
    out
}

/// The driver's CUDA version (`12.8`) and its major, when known.
pub fn driver_cuda(report: &Report) -> Option<(CudaVersion, u32)> {
    let v = report.driver.as_ref()?.cuda_version?;
    Some((v, v.major))
}

/// `cuda-runtime-majors-behind` for each runtime more than one major behind the driver.
pub fn findings(report: &Report, env: &Env) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some((dv, dm)) = driver_cuda(report) else {
        return out;
    };
    let driver = report
        .driver
        .as_ref()
        .map_or_else(String::new, |d| d.version.to_string());
    for r in runtimes(report, env) {
        if r.major + 1 >= dm {
            continue;
        }
        out.push(Finding::new(
            CUDA_RUNTIME_MAJORS_BEHIND,
            Severity::Info,
            format!(
                "The CUDA runtime {} ({}) is {} majors behind the driver {driver} (CUDA {dv}): it runs through NVIDIA's backward compatibility, but outside the one-major window that virtual-GPU managers (HAMi, GPU-Manager) and some platforms support.",
                r.version,
                r.from,
                dm - r.major
            ),
            format!(
                "Nothing to do on a plain host. Where such a layer is in use, rebuild or pick the image for CUDA {dm}.x or {}.x.",
                dm - 1
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_parse_versions() {
        assert_eq!(major("12.4.1"), Some(12));
        assert_eq!(major("x"), None);
        assert_eq!(release("12.4.1"), Some(CudaVersion::new(12, 4)));
        assert_eq!(release("12"), None);
        assert_eq!(release("12.x"), None);
    }
}
