//! Tegra/Jetson: an integrated GPU without PCI IDs.
//!
//! Sources: `/etc/nv_tegra_release` (`# R36 (release), REVISION: 4.0, GCID: ..., BOARD: ...`),
//! `/proc/device-tree/compatible` (NUL-separated, most specific first, the `SoC` last:
//! `nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0`),
//! `/proc/device-tree/model`, and `/sys/devices/soc0/{family,machine,soc_id,revision}` (the
//! Tegra fuse driver writes the chip id in decimal: 33 Tegra210, 24 Tegra186, 25 Tegra194,
//! 35 Tegra234, 38 Tegra264).
//!
//! The GPU is driven by `nvgpu` (Jetson Linux up to R36: nodes `/dev/nvhost-ctrl-gpu`,
//! `/dev/nvgpu/igpu0/*`) or by the unified `nvidia` driver (Thor, R38: `/dev/nvidia0`).

use crate::detect::Facts;
use crate::report::{CcSource, Gpu, Report, platform_details::TegraInfo};
use crate::root::Root;

/// One Tegra `SoC`: compatible string, family, chip, architecture, compute capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Soc {
    /// `nvidia,tegra234`.
    pub compatible: &'static str,
    /// The fuse chip id (`/sys/devices/soc0/soc_id`).
    pub chip_id: u32,
    /// `Orin`.
    pub family: &'static str,
    /// `GA10B`.
    pub chip: Option<&'static str>,
    /// `Ampere`.
    pub architecture: &'static str,
    /// `8.7`.
    pub cc: &'static str,
}

/// The `SoCs` with a CUDA GPU.
pub const SOCS: &[Soc] = &[
    Soc {
        compatible: "nvidia,tegra210",
        chip_id: 0x21,
        family: "Tegra X1 (Jetson Nano/TX1)",
        chip: Some("GM20B"),
        architecture: "Maxwell",
        cc: "5.3",
    },
    Soc {
        compatible: "nvidia,tegra186",
        chip_id: 0x18,
        family: "Parker (Jetson TX2)",
        chip: Some("GP10B"),
        architecture: "Pascal",
        cc: "6.2",
    },
    Soc {
        compatible: "nvidia,tegra194",
        chip_id: 0x19,
        family: "Xavier",
        chip: Some("GV11B"),
        architecture: "Volta",
        cc: "7.2",
    },
    Soc {
        compatible: "nvidia,tegra234",
        chip_id: 0x23,
        family: "Orin",
        chip: Some("GA10B"),
        architecture: "Ampere",
        cc: "8.7",
    },
    Soc {
        compatible: "nvidia,tegra264",
        chip_id: 0x26,
        family: "Thor",
        chip: None,
        architecture: "Blackwell",
        cc: "11.0",
    },
];

/// The nvgpu device nodes, any of which means the GPU is reachable.
pub(crate) const NVGPU_NODES: &[&str] = &[
    "/dev/nvhost-ctrl-gpu",
    "/dev/nvhost-gpu",
    "/dev/nvgpu/igpu0/ctrl",
    "/dev/nvmap",
];

/// `/etc/nv_tegra_release`'s first line → `36.4.0` (`R36` + `REVISION: 4.0`).
pub fn parse_nv_tegra_release(text: &str) -> Option<String> {
    let line = text.lines().next()?;
    let major = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix('R'))
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))?;
    let rev = line
        .split(',')
        .find_map(|p| p.trim().strip_prefix("REVISION:"))
        .map(str::trim)
        .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit() || b == b'.'))?;
    Some(format!("{major}.{rev}"))
}

/// The NUL-separated `compatible` list.
pub fn parse_compatible(raw: &str) -> Vec<String> {
    raw.split('\0')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `SoC` of a compatible list or a fuse chip id.
pub fn soc_of(compatible: &[String], chip_id: Option<u32>) -> Option<&'static Soc> {
    SOCS.iter()
        .find(|s| compatible.iter().any(|c| c == s.compatible))
        .or_else(|| chip_id.and_then(|id| SOCS.iter().find(|s| s.chip_id == id)))
}

/// The CUDA version the `L4T` release's driver provides (`JetPack` releases): R32 10.2, R34/R35
/// 11.4, R36.0–36.3 12.2, R36.4 and later 12.6, R38 13.0.
pub fn l4t_cuda_version(l4t: &str) -> Option<&'static str> {
    let mut parts = l4t.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    Some(match (major, minor) {
        (32, _) => "10.2",
        (34 | 35, _) => "11.4",
        (36, 0..=3) => "12.2",
        (36, _) => "12.6",
        (38, _) => "13.0",
        _ => return None,
    })
}

fn text(root: &Root, path: &str) -> Option<String> {
    let t = root.read_text(path).ok()?;
    let s = t
        .text
        .trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!s.is_empty()).then(|| s.to_owned())
}

/// Fills `platform.tegra`, the integrated GPU, and the Tegra findings.
pub fn refine(root: &Root, facts: &Facts, report: &mut Report) {
    let release = root.read_text("/etc/nv_tegra_release").ok().map(|t| t.text);
    let compatible = root
        .read_text("/proc/device-tree/compatible")
        .map(|t| parse_compatible(&t.text))
        .unwrap_or_default();
    let soc_id = text(root, "/sys/devices/soc0/soc_id").and_then(|s| s.parse().ok());
    let soc = soc_of(&compatible, soc_id);
    let nvgpu = root.exists("/sys/module/nvgpu");
    let nvidia = facts.nvidia_loaded();
    let mut info = TegraInfo {
        soc: soc.map(|s| s.compatible.to_owned()).or_else(|| {
            compatible
                .iter()
                .rev()
                .find(|c| c.starts_with("nvidia,tegra"))
                .cloned()
        }),
        family: soc.map(|s| s.family.to_owned()),
        model: text(root, "/proc/device-tree/model")
            .or_else(|| text(root, "/sys/devices/soc0/machine")),
        soc_id,
        revision: text(root, "/sys/devices/soc0/revision"),
        l4t_release: release.as_deref().and_then(parse_nv_tegra_release),
        l4t_line: release
            .as_deref()
            .and_then(|r| r.lines().next())
            .map(str::to_owned),
        l4t_cuda_version: None,
        gpu_driver: if nvidia {
            Some("nvidia".to_owned())
        } else if nvgpu {
            Some("nvgpu".to_owned())
        } else {
            None
        },
        gpu_nodes: NVGPU_NODES
            .iter()
            .filter(|n| root.exists(n))
            .map(|n| (*n).to_owned())
            .collect(),
    };
    info.l4t_cuda_version = info
        .l4t_release
        .as_deref()
        .and_then(l4t_cuda_version)
        .and_then(|c| c.parse().ok());
    info.gpu_nodes
        .extend(report.device_nodes.iter().map(|n| n.path.clone()));

    if let Some(soc) = soc
        && report.gpus.is_empty()
    {
        let name = match &info.model {
            Some(m) => format!("{m} integrated GPU"),
            None => format!("{} integrated GPU", soc.family),
        };
        report.gpus.push(Gpu {
            name: Some(name),
            chip: soc.chip.map(str::to_owned),
            architecture: Some(soc.architecture.to_owned()),
            compute_capability: soc.cc.parse().ok(),
            compute_capability_source: Some(CcSource::SocTable),
            kernel_driver: info.gpu_driver.clone(),
            seen_by: vec!["device-tree".to_owned()],
            ..Gpu::new("platform:gpu")
        });
    }

    report.platform.details.tegra = Some(info);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tegra_release_lines() {
        // Jetson Linux 36.4 (JetPack 6.1), as printed by 'cat /etc/nv_tegra_release'.
        let r = "# R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 04:36:44 UTC 2024\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\nTARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n";
        assert_eq!(parse_nv_tegra_release(r).as_deref(), Some("36.4.0"));
        let r = "# R36 (release), REVISION: 4.7, GCID: 42132812, BOARD: generic, EABI: aarch64, DATE: Thu Sep 18 22:54:44 UTC 2025\n";
        assert_eq!(parse_nv_tegra_release(r).as_deref(), Some("36.4.7"));
        let r = "# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref, EABI: aarch64, DATE: Sat Feb 19 17:05:08 UTC 2022\n";
        assert_eq!(parse_nv_tegra_release(r).as_deref(), Some("32.7.1"));
        assert_eq!(parse_nv_tegra_release("garbage\n"), None);
        assert_eq!(parse_nv_tegra_release(""), None);
        assert_eq!(l4t_cuda_version("36.4.0"), Some("12.6"));
        assert_eq!(l4t_cuda_version("36.3.0"), Some("12.2"));
        assert_eq!(l4t_cuda_version("35.6.0"), Some("11.4"));
        assert_eq!(l4t_cuda_version("32.7.1"), Some("10.2"));
        assert_eq!(l4t_cuda_version("99.0"), None);
    }

    #[test]
    fn tegra_compatible_and_soc() {
        let c =
            parse_compatible("nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0");
        assert_eq!(c.len(), 3);
        assert_eq!(soc_of(&c, None).map(|s| s.cc), Some("8.7"));
        let nano = parse_compatible(
            "nvidia,p3449-0000-b00+p3448-0002-b00\0nvidia,jetson-nano\0nvidia,tegra210\0",
        );
        assert_eq!(soc_of(&nano, None).map(|s| s.cc), Some("5.3"));
        assert_eq!(soc_of(&[], Some(25)).map(|s| s.family), Some("Xavier"));
        assert_eq!(soc_of(&[], Some(24)).map(|s| s.cc), Some("6.2"));
        assert_eq!(soc_of(&[], Some(38)).map(|s| s.cc), Some("11.0"));
        assert_eq!(soc_of(&["qcom,sm8550".to_owned()], Some(519)), None);
    }
}
