//! Containers: which GPUs, device nodes and libraries the NVIDIA container toolkit injected.
//!
//! With the toolkit, `/proc/driver/nvidia` is a tmpfs holding copies of `params` (with
//! `ModifyDeviceFiles: 0`) and `version`, and `gpus/` holds the **visible GPUs only**, while
//! sysfs still shows every GPU of the host. Each visible GPU gets its `/dev/nvidiaN`, and
//! `NVIDIA_DRIVER_CAPABILITIES` (default `utility,compute`) decides which libraries are mounted:
//! utility → `libnvidia-ml.so.1`, `nvidia-smi`; compute → `libcuda.so.1`,
//! `libnvidia-ptxjitcompiler.so.1`; video → `libnvcuvid.so.1`, `libnvidia-encode.so.1`;
//! graphics → `libEGL_nvidia.so.0`, `libGLX_nvidia.so.0`.

use crate::Options;
use crate::detect::Facts;
use crate::report::{
    Report,
    platform_details::{ContainerInfo, ExpectedFile},
};

/// Every capability `all` stands for.
pub const ALL_CAPABILITIES: &[&str] = &[
    "compute", "compat32", "graphics", "utility", "video", "display", "ngx",
];

/// The files each capability injects that nvprobe checks.
const CAPABILITY_FILES: &[(&str, &str)] = &[
    ("utility", "libnvidia-ml.so.1"),
    ("utility", "nvidia-smi"),
    ("compute", "libcuda.so.1"),
    ("compute", "libnvidia-ptxjitcompiler.so.1"),
    ("video", "libnvcuvid.so.1"),
    ("video", "libnvidia-encode.so.1"),
    ("graphics", "libEGL_nvidia.so.0"),
    ("graphics", "libGLX_nvidia.so.0"),
];

/// `NVIDIA_DRIVER_CAPABILITIES` → the capability list and whether it came from the variable
/// (`None`, or empty: the toolkit's default `utility,compute`).
pub fn parse_capabilities(value: Option<&str>) -> (Vec<String>, bool) {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return (vec!["utility".to_owned(), "compute".to_owned()], false);
    };
    let mut caps: Vec<String> = Vec::new();
    for c in v.split(',').map(|c| c.trim().to_ascii_lowercase()) {
        if c == "all" {
            for a in ALL_CAPABILITIES {
                if !caps.iter().any(|x| x == a) {
                    caps.push((*a).to_owned());
                }
            }
        } else if !c.is_empty() && !caps.contains(&c) {
            caps.push(c);
        }
    }
    (caps, true)
}

/// True when `NVIDIA_VISIBLE_DEVICES` asks the toolkit for GPUs (`all` or a list; not `none`,
/// `void` or empty).
pub fn asks_for_gpus(visible: Option<&str>) -> bool {
    visible
        .map(str::trim)
        .is_some_and(|v| !v.is_empty() && v != "void" && v != "none")
}

/// Fills `platform.container`: which GPUs the container sees, the device nodes it lacks, the
/// libraries its capabilities should have brought (`findings::container` words them).
pub fn refine(opts: &Options, facts: &Facts, report: &mut Report) {
    let env = &opts.env;
    let visible_env = env.get("NVIDIA_VISIBLE_DEVICES").map(str::to_owned);
    let (caps, from_env) = parse_capabilities(env.get("NVIDIA_DRIVER_CAPABILITIES"));
    let toolkit_copy = facts
        .params
        .as_ref()
        .is_some_and(|p| p.modify_device_files == Some(0));
    let node_paths: Vec<String> = report.device_nodes.iter().map(|n| n.path.clone()).collect();
    let has = |p: &str| node_paths.iter().any(|n| n == p);

    // Visible: a GPU whose /dev/nvidiaN exists, or (with the toolkit's procfs copy) one listed in
    // /proc/driver/nvidia/gpus.
    let proc_listed = |bus: &str| {
        facts
            .proc_gpus
            .iter()
            .any(|(d, i)| i.bus_location.as_deref().unwrap_or(d) == bus)
    };
    let mut visible = Vec::new();
    let mut hidden = Vec::new();
    for g in &report.gpus {
        let node = g
            .minor_number
            .is_some_and(|m| has(&format!("/dev/nvidia{m}")));
        if node || (toolkit_copy && proc_listed(&g.pci.bus_id)) {
            visible.push(g.pci.bus_id.clone());
        } else if g.seen_by.iter().any(|s| s == "sysfs-pci") {
            hidden.push(g.pci.bus_id.clone());
        }
    }

    let mut missing = Vec::new();
    let gpu_nodes = super::any_gpu_node(report);
    if gpu_nodes || !visible.is_empty() {
        if !has("/dev/nvidiactl") {
            missing.push("/dev/nvidiactl".to_owned());
        }
        if caps.iter().any(|c| c == "compute") && !has("/dev/nvidia-uvm") {
            missing.push("/dev/nvidia-uvm".to_owned());
        }
        for (_, info) in &facts.proc_gpus {
            if let Some(m) = info.minor {
                let p = format!("/dev/nvidia{m}");
                if toolkit_copy && !has(&p) {
                    missing.push(p);
                }
            }
        }
    }

    let finder = super::Finder::for_run(opts, report.cpu_arch());
    let expected: Vec<ExpectedFile> = CAPABILITY_FILES
        .iter()
        .filter(|(cap, _)| caps.iter().any(|c| c == cap))
        .map(|(cap, name)| ExpectedFile {
            name: (*name).to_owned(),
            capability: (*cap).to_owned(),
            found: finder.find(name),
        })
        .collect();

    report.platform.details.container = Some(ContainerInfo {
        nvidia_visible_devices: visible_env,
        driver_capabilities: caps,
        driver_capabilities_from: if from_env { "env" } else { "default" }.to_owned(),
        visible_gpus: visible,
        hidden_gpus: hidden,
        device_nodes: node_paths,
        missing_device_nodes: missing,
        expected,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_capabilities() {
        let (c, env) = parse_capabilities(None);
        assert_eq!(c, ["utility", "compute"]);
        assert!(!env);
        let (c, env) = parse_capabilities(Some("compute, Video,compute"));
        assert_eq!(c, ["compute", "video"]);
        assert!(env);
        let (c, _) = parse_capabilities(Some("all"));
        assert_eq!(c.len(), ALL_CAPABILITIES.len());
        assert!(asks_for_gpus(Some("0,1")));
        assert!(asks_for_gpus(Some("all")));
        assert!(!asks_for_gpus(Some("void")));
        assert!(!asks_for_gpus(Some("none")));
        assert!(!asks_for_gpus(None));
    }
}
