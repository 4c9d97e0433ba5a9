//! Outputs for other tools, derived from a [`Report`] without prose to parse.
//!
//! - [`nfd_labels`]: a Node Feature Discovery feature file (the `features.d` local source
//!   format: one `name=value` line each, `#` comments), with NVIDIA GPU Feature Discovery's
//!   label names (`nvidia.com/cuda.driver.major`, ...), so selectors written for GFD work.
//! - [`shell`]: `KEY=VALUE` lines for `eval` in shell scripts and CI.
//! - [`conda`]: the conda virtual packages `__cuda` and `__cuda_arch` (CEP 46: the *minimum*
//!   compute capability), plus the maximum, and the `CONDA_OVERRIDE_*` lines that make conda,
//!   mamba and pixi use them.
//! - [`wheel_variant`]: the `nvidia` namespace properties of wheel variants
//!   (`cuda_version_lower_bound`, `sm_arch` as `90_real`), as nvidia-variant-provider
//!   computes them (it uses the *highest* SM on the machine).
//!
//! # Mixed GPUs
//! A node gets one label set. When its GPUs differ, the per-GPU labels (`gpu.product`,
//! `gpu.family`, `gpu.compute.*`, `gpu.memory`) describe the GPU with the **lowest** compute
//! capability (ties: the lowest index), because a workload scheduled by those labels must run
//! on whichever GPU it gets; `nvprobe.gpu.mixed=true` says the node is mixed. `gpu.count`
//! counts every GPU.

use std::fmt::Write as _;

use crate::report::{Gpu, Report};

/// A compute capability `"9.0"` as numbers.
fn cc(g: &Gpu) -> Option<(u32, u32)> {
    let (major, minor) = g.compute_capability.as_deref()?.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The GPU that represents the node: the lowest compute capability, else the first GPU.
fn representative(r: &Report) -> Option<&Gpu> {
    r.gpus
        .iter()
        .filter(|g| cc(g).is_some())
        .min_by_key(|g| (cc(g), g.index))
        .or_else(|| r.gpus.first())
}

/// The compute capabilities on the machine, lowest and highest.
pub fn cc_range(r: &Report) -> Option<((u32, u32), (u32, u32))> {
    let all: Vec<(u32, u32)> = r.gpus.iter().filter_map(cc).collect();
    Some((*all.iter().min()?, *all.iter().max()?))
}

fn mixed(r: &Report) -> bool {
    let first = r.gpus.first();
    r.gpus
        .iter()
        .any(|g| first.is_some_and(|f| f.pci.device_id != g.pci.device_id || f.name != g.name))
}

/// A Kubernetes label value: at most 63 characters of `[A-Za-z0-9._-]`, beginning and ending
/// with an alphanumeric; spaces become `-` (as GPU Feature Discovery writes `gpu.product`).
pub fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The NFD feature file.
pub fn nfd_labels(r: &Report) -> String {
    let mut out = String::from(
        "# Node Feature Discovery feature file written by nvprobe (features.d local source).\n",
    );
    let mut label = |k: &str, v: &str| {
        let v = label_value(v);
        let _ = writeln!(out, "{k}={v}");
    };
    if let Some(d) = &r.driver {
        let mut parts = d.version.split('.');
        label("nvidia.com/cuda.driver.major", parts.next().unwrap_or(""));
        label("nvidia.com/cuda.driver.minor", parts.next().unwrap_or(""));
        label("nvidia.com/cuda.driver.rev", parts.next().unwrap_or(""));
        if let Some((major, minor)) = d.cuda_version.as_deref().and_then(|c| c.split_once('.')) {
            label("nvidia.com/cuda.runtime.major", major);
            label("nvidia.com/cuda.runtime.minor", minor);
        }
    }
    label("nvidia.com/gpu.count", &r.gpus.len().to_string());
    if let Some(g) = representative(r) {
        if let Some(name) = &g.name {
            label("nvidia.com/gpu.product", name);
        }
        if let Some(arch) = &g.architecture {
            label("nvidia.com/gpu.family", &arch.to_ascii_lowercase());
        }
        if let Some((major, minor)) = cc(g) {
            label("nvidia.com/gpu.compute.major", &major.to_string());
            label("nvidia.com/gpu.compute.minor", &minor.to_string());
        }
        if let Some(bytes) = g.memory_bytes {
            label("nvidia.com/gpu.memory", &(bytes >> 20).to_string());
        }
    }
    if r.gpus.len() > 1 {
        label("nvprobe.gpu.mixed", if mixed(r) { "true" } else { "false" });
    }
    label("nvprobe.platform", r.platform.kind.as_str());
    out
}

/// `KEY=VALUE` lines for shells (values are single-quoted when they need it).
pub fn shell(r: &Report) -> String {
    let mut out = String::new();
    let mut var = |k: &str, v: &str| {
        let safe = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b));
        if safe && !v.is_empty() {
            let _ = writeln!(out, "{k}={v}");
        } else {
            let _ = writeln!(out, "{k}='{}'", v.replace('\'', r"'\''"));
        }
    };
    var("NVPROBE_PLATFORM", r.platform.kind.as_str());
    let d = r.driver.as_ref();
    var(
        "NVPROBE_DRIVER_VERSION",
        d.map_or("", |d| d.version.as_str()),
    );
    var(
        "NVPROBE_DRIVER_BRANCH",
        &d.map_or(String::new(), |d| d.branch.to_string()),
    );
    var(
        "NVPROBE_CUDA_VERSION",
        d.and_then(|d| d.cuda_version.as_deref()).unwrap_or(""),
    );
    var("NVPROBE_GPU_COUNT", &r.gpus.len().to_string());
    let range = cc_range(r);
    var(
        "NVPROBE_CC_MIN",
        &range.map_or(String::new(), |((a, b), _)| format!("{a}.{b}")),
    );
    var(
        "NVPROBE_CC_MAX",
        &range.map_or(String::new(), |(_, (a, b))| format!("{a}.{b}")),
    );
    let mut sms: Vec<String> = r
        .gpus
        .iter()
        .filter_map(cc)
        .map(|(a, b)| format!("{a}{b}"))
        .collect();
    sms.sort();
    sms.dedup();
    var("NVPROBE_SM_ARCHS", &sms.join(" "));
    let errors = r
        .findings
        .iter()
        .filter(|f| f.severity == crate::report::Severity::Error)
        .map(|f| f.code.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    var("NVPROBE_ERRORS", &errors);
    out
}

/// conda virtual packages, one `name=version=build` per line (nothing when no driver), then
/// the override variables that make conda, mamba and pixi use these values on a build host.
pub fn conda(r: &Report) -> String {
    let mut out = String::new();
    let cuda = r.driver.as_ref().and_then(|d| d.cuda_version.clone());
    if let Some(cuda) = &cuda {
        let _ = writeln!(out, "__cuda={cuda}=0");
        if let Some(((a, b), (c, d))) = cc_range(r) {
            let _ = writeln!(out, "__cuda_arch={a}.{b}=0");
            let _ = writeln!(out, "# highest compute capability on this machine: {c}.{d}");
        }
        let _ = writeln!(out, "CONDA_OVERRIDE_CUDA={cuda}");
        if let Some(((a, b), _)) = cc_range(r) {
            let _ = writeln!(out, "CONDA_OVERRIDE_CUDA_ARCH={a}.{b}");
        }
    } else {
        out.push_str("# no NVIDIA driver: conda has no __cuda virtual package here\n");
        out.push_str("CONDA_OVERRIDE_CUDA=\n");
    }
    out
}

/// Wheel-variant properties of the `nvidia` namespace (`namespace :: feature :: value`).
pub fn wheel_variant(r: &Report) -> String {
    let mut out = String::new();
    if let Some(cuda) = r.driver.as_ref().and_then(|d| d.cuda_version.as_deref()) {
        let _ = writeln!(out, "nvidia :: cuda_version_lower_bound :: {cuda}");
    }
    if let Some((_, (a, b))) = cc_range(r) {
        let _ = writeln!(out, "nvidia :: sm_arch :: {a}{b}_real");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_label_values_are_kubernetes_safe() {
        assert_eq!(
            label_value("NVIDIA H100 80GB HBM3"),
            "NVIDIA-H100-80GB-HBM3"
        );
        assert_eq!(label_value("  (x) "), "x");
        assert_eq!(label_value(&"a".repeat(100)).len(), 63);
        assert_eq!(label_value("05"), "05");
        assert_eq!(label_value(""), "");
    }
}
