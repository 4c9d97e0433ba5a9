//! gVisor: a user-space kernel; NVIDIA ioctls pass through nvproxy, which allows only listed
//! operations for listed driver versions.
//!
//! Detection ([`crate::detect::platform`]) uses the fixed kernel identity (`/proc/version`
//! "#1 SMP Sun Jan 10 15:06:54 PST 2016", release `4.4.0` or `4.19.0-gvisor`), nvproxy's procfs
//! (`/proc/driver/nvidia` with `params` only) and the "Starting gVisor..." kernel log banner
//! where readable ([`is_gvisor_banner`]). The driver version comes from the ioctl stage
//! (`NV_ESC_CHECK_VERSION_STR`, which nvproxy forwards); refused calls become
//! `gvisor-nvproxy-limit` there. This module says what nvproxy does not expose: device nodes,
//! and the libraries of its driver capabilities (compute: `libcuda.so.1`; utility:
//! `libnvidia-ml.so.1`).

use crate::Options;
use crate::report::{Report, platform_details::GvisorInfo};

/// Driver versions runsc's nvproxy supports (gVisor `pkg/sentry/devices/nvproxy/version.go`,
/// snapshot 3c5eee17d).
const NVPROXY_SUPPORTED: &[&str] = &[
    "535.129.03",
    "535.183.06",
    "535.247.01",
    "535.261.03",
    "535.274.02",
    "535.288.01",
    "535.309.01",
    "550.90.12",
    "570.124.06",
    "570.133.20",
    "570.172.08",
    "570.195.03",
    "580.65.06",
    "580.105.08",
    "580.126.09",
    "580.126.20",
    "580.159.03",
    "580.159.04",
    "580.173.02",
    "590.48.01",
    "610.57.04",
    "615.15.00",
    "615.62.00",
    "620.6.0",
];

/// Versions nvproxy knows but runs only with `--nvproxy-allow-unsupported-driver`.
const NVPROXY_UNSUPPORTED: &[&str] = &[
    "535.104.05",
    "535.113.01",
    "545.23.06",
    "550.40.07",
    "550.54.14",
    "550.90.07",
    "555.42.02",
    "560.28.03",
    "565.57.01",
    "570.86.15",
    "575.51.02",
    "580.95.05",
    "590.44.01",
    "595.71.05",
    "610.43.02",
];

/// The first line of gVisor's kernel log.
pub fn is_gvisor_banner(log: &str) -> bool {
    log.lines().take(3).any(|l| l.contains("Starting gVisor"))
}

/// `supported`, `unsupported` or `unknown` for a driver version.
pub fn nvproxy_list_status(version: &str) -> &'static str {
    if NVPROXY_SUPPORTED.contains(&version) {
        "supported"
    } else if NVPROXY_UNSUPPORTED.contains(&version) {
        "unsupported"
    } else {
        "unknown"
    }
}

/// Fills `platform.gvisor` and the nvproxy findings.
pub fn refine(opts: &Options, report: &mut Report) {
    let root = &opts.root;
    let has = |p: &str| report.device_nodes.iter().any(|n| n.path == p);
    let mut info = GvisorInfo {
        evidence: report.platform.hints.clone(),
        nvproxy: has("/dev/nvidiactl"),
        procfs_params_only: root.exists("/proc/driver/nvidia/params")
            && !root.exists("/proc/driver/nvidia/version")
            && !root.exists("/proc/driver/nvidia/gpus"),
        ..GvisorInfo::default()
    };
    for node in ["/dev/nvidiactl", "/dev/nvidia-uvm"] {
        if !has(node) {
            info.missing_nodes.push(node.to_owned());
        }
    }
    if !super::any_gpu_node(report) {
        info.missing_nodes.push("/dev/nvidiaN".to_owned());
    }
    let finder = super::Finder::for_run(opts, report.cpu_arch());
    for (cap, lib) in [
        ("compute", "libcuda.so.1"),
        ("utility", "libnvidia-ml.so.1"),
    ] {
        if finder.find(lib).is_none() {
            info.missing_capabilities.push(cap.to_owned());
        }
    }
    info.driver_in_nvproxy_list = report
        .driver
        .as_ref()
        .map(|d| nvproxy_list_status(d.version.as_str()).to_owned());

    report.platform.details.gvisor = Some(info);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gvisor_banner_and_driver_list() {
        assert!(is_gvisor_banner(
            "[   0.000000] Starting gVisor...\n[   0.397810] Forking spaghetti code...\n"
        ));
        assert!(!is_gvisor_banner(
            "[    0.000000] Linux version 6.8.0-45-generic\n"
        ));
        assert_eq!(nvproxy_list_status("580.65.06"), "supported");
        assert_eq!(nvproxy_list_status("565.57.01"), "unsupported");
        assert_eq!(nvproxy_list_status("595.45.04"), "unknown");
    }
}
