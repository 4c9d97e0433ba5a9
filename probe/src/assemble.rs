//! Facts → report: the driver, the GPU list (PCI bus order, merged across sources) and the
//! platform.

use crate::detect::{Facts, pci::PciFunction, platform};
use crate::report::values::PciHex;
use crate::report::{
    CcSource, ComputeCapability, CudaVersion, Driver, DriverSource, Flavor, Gpu, KernelModules,
    Pci, PciId, Report, SCHEMA_VERSION, SourceStatus, Tool, Version,
};
use crate::root::Root;
use crate::tables;

/// The highest CUDA version a driver supports natively, from the generated branch table.
pub fn native_cuda(version: &Version) -> Option<CudaVersion> {
    tables::native_cuda_for_driver(version.as_str()).and_then(|c| c.version.parse().ok())
}

/// Fills what the generated PCI table knows about a GPU: chip, architecture, compute
/// capability (source `pci-table`), and the name when no source named it. Values already set
/// by a better source (the kernel's arch info, an override) are kept.
pub fn enrich_gpu(g: &mut Gpu) {
    let id = |v: Option<PciId>| v.and_then(PciId::as_u16);
    let Some(device) = id(g.pci.device_id) else {
        return;
    };
    if g.pci.vendor_id != Some(PciId::NVIDIA) {
        return;
    }
    let Some(entry) = tables::pci_lookup(
        device,
        id(g.pci.subsystem_vendor_id),
        id(g.pci.subsystem_device_id),
    ) else {
        return;
    };
    if g.name.is_none() {
        g.name = entry.name.map(str::to_owned);
    }
    if g.chip.is_none() {
        g.chip = entry.chip.map(str::to_owned);
    }
    if g.architecture.is_none() {
        g.architecture = entry.architecture.map(str::to_owned);
    }
    if g.compute_capability.is_none()
        && let Some((major, minor)) = entry.compute_capability
    {
        g.compute_capability = Some(ComputeCapability::new(major.into(), minor.into()));
        g.compute_capability_source = Some(CcSource::PciTable);
    }
}

/// The driver section from the file sources.
pub fn driver(facts: &Facts) -> Option<Driver> {
    let (version, source) = if let Some(v) = &facts.sys_version {
        (v.clone(), DriverSource::Sysfs)
    } else if let Some(p) = &facts.proc_version {
        (p.version.clone(), DriverSource::Procfs)
    } else {
        return None;
    };
    let branch = version.major();
    let flavor = match (&facts.proc_version, facts.loaded_module("nvidia")) {
        (Some(p), _) if p.flavor != Flavor::Unknown => p.flavor,
        (_, Some(m)) if m.taint.is_some() => {
            crate::detect::driver::flavor_from_taint(m.taint.as_deref().unwrap_or(""))
        }
        _ => Flavor::Unknown,
    };
    Some(Driver {
        cuda_version: native_cuda(&version),
        version,
        branch,
        flavor,
        source,
        version_line: facts.proc_version.as_ref().map(|p| p.line.clone()),
        params: facts.params.clone(),
    })
}

fn hex16(v: Option<u16>) -> Option<PciId> {
    v.map(|v| PciHex(v.into()))
}

fn gpu_from_pci(p: &PciFunction) -> Gpu {
    Gpu {
        pci: Pci {
            vendor_id: hex16(Some(p.vendor)),
            device_id: hex16(p.device),
            subsystem_vendor_id: hex16(p.subsystem_vendor),
            subsystem_device_id: hex16(p.subsystem_device),
            class: p.class.map(PciHex),
            revision: p.revision.map(|r| PciHex(r.into())),
            ..Pci::new(p.bus_id.clone())
        },
        kernel_driver: p.driver.clone(),
        seen_by: vec!["sysfs-pci".to_owned()],
        ..Gpu::new(p.bus_id.clone())
    }
}

/// The GPU list: every NVIDIA display/3D PCI function, merged with what procfs says about
/// each, plus GPUs procfs knows that sysfs does not show; in bus order.
pub fn gpus(facts: &Facts) -> Vec<Gpu> {
    let functions = || {
        facts
            .pci
            .iter()
            .flat_map(|s| s.functions.iter())
            .filter(|p| p.is_gpu())
    };
    // Sized once: a list grown by doubling copies every GPU (384 bytes each) at each step.
    let mut gpus = Vec::with_capacity(functions().count().max(facts.proc_gpus.len()));
    gpus.extend(functions().map(gpu_from_pci));
    // Bus id → position: a search of the list per procfs GPU was quadratic (5,000 GPUs:
    // 12.5 M string comparisons, a quarter of the run's instructions).
    let mut by_bus: std::collections::HashMap<String, usize> = gpus
        .iter()
        .enumerate()
        .map(|(i, g)| (g.pci.bus_id.clone(), i))
        .collect();
    for (dir, info) in &facts.proc_gpus {
        let bus = info.bus_location.clone().unwrap_or_else(|| dir.clone());
        let pos = *by_bus.entry(bus).or_insert_with_key(|bus| {
            gpus.push(Gpu::new(bus));
            gpus.len() - 1
        });
        let Some(g) = gpus.get_mut(pos) else { continue };
        g.name = g.name.take().or_else(|| info.model.clone());
        g.uuid = g.uuid.take().or_else(|| info.uuid.clone());
        g.minor_number = g.minor_number.or(info.minor);
        g.vbios_version = info.vbios.clone();
        g.firmware_version = info.firmware.clone();
        g.seen_by.push("procfs-gpus".to_owned());
    }
    gpus.sort_by(|a, b| a.pci.bus_id.cmp(&b.pci.bus_id));
    for (i, g) in gpus.iter_mut().enumerate() {
        g.index = u32::try_from(i).unwrap_or(u32::MAX);
        enrich_gpu(g);
    }
    gpus
}

/// The report from the file sources, without findings: later stages (ioctl) amend it before
/// the findings are evaluated.
pub fn base(root: &Root, facts: &Facts) -> Report {
    let mut platform = facts.platform.clone().unwrap_or_else(|| {
        platform::detect(
            root,
            facts.kernel_release.as_deref(),
            facts.params.as_ref().and_then(|p| p.modify_device_files),
        )
    });
    platform.arch = machine_arch(root, facts, platform.kind);
    Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        platform,
        driver: driver(facts),
        gpus: gpus(facts),
        libraries: Vec::new(),
        cross_check: None,
        kernel_modules: KernelModules {
            loaded: facts.loaded.clone(),
            installed: facts.installed.clone().unwrap_or_default(),
        },
        device_nodes: facts.nodes.clone().unwrap_or_default(),
        cuda: crate::rules::CudaHere::default(),
        sources: facts.sources.clone(),
        findings: Vec::new(),
    }
}

/// The machine's CPU architecture: the kernel's `/proc/sys/kernel/arch` (a capture keeps it);
/// else nvprobe's own on the host (it runs there); under `--root`, the one the kernel module
/// was built for, else `aarch64` on Tegra (Arm cores), else unknown. Never nvprobe's
/// own for a root: a capture or a node's `/` mounted on a machine of another architecture is
/// not this machine.
fn machine_arch(root: &Root, facts: &Facts, kind: crate::report::PlatformKind) -> Option<String> {
    if let Some(arch) = &facts.kernel_arch {
        return Some(arch.clone());
    }
    if root.is_host() {
        return Some(crate::report::values::own_arch_name().to_owned());
    }
    facts
        .proc_version
        .as_ref()
        .and_then(|v| crate::detect::driver::arch_of_version_line(&v.line))
        .or((kind == crate::report::PlatformKind::Tegra).then_some("aarch64"))
        .map(str::to_owned)
}

/// Derives what later stages may have left unset: the branch and native CUDA version of a
/// driver found only by ioctl, and table facts for GPUs only the driver listed.
pub fn complete(report: &mut Report) {
    if let Some(d) = &mut report.driver {
        if d.branch == 0 {
            d.branch = d.version.major();
        }
        if d.cuda_version.is_none() {
            d.cuda_version = native_cuda(&d.version);
        }
    }
    let branch = report.driver.as_ref().map(|d| d.branch);
    for g in &mut report.gpus {
        enrich_gpu(g);
        g.brand = g
            .name
            .as_deref()
            .and_then(|n| tables::nvml_brand(n, branch))
            .map(str::to_owned);
    }
    reach(report);
}

/// Per GPU, what this process can reach: whether it sees the GPU at all (in a container, only
/// the GPUs the runtime injected, as the container source found them), and its device node
/// with the access `/dev`'s listing gave it.
fn reach(report: &mut Report) {
    let Report {
        gpus,
        platform,
        device_nodes,
        sources,
        ..
    } = report;
    let injected = platform
        .details
        .container
        .as_ref()
        .filter(|c| !c.visible_gpus.is_empty() || !c.hidden_gpus.is_empty())
        .map(|c| &c.visible_gpus);
    let listed = sources
        .iter()
        .any(|s| s.name == "device-nodes" && s.status == SourceStatus::Ok);
    for g in gpus {
        g.visible = injected.is_none_or(|v| v.contains(&g.pci.bus_id));
        g.device_node = g.minor_number.map(|m| format!("/dev/nvidia{m}"));
        g.device_access = g.device_node.as_ref().map(|path| {
            match device_nodes.iter().find(|n| &n.path == path) {
                Some(n) => n.access.clone(),
                None if listed => "missing".to_owned(),
                None => "unknown".to_owned(),
            }
        });
    }
}

/// The report from the file sources, with their findings.
pub fn report(root: &Root, facts: &Facts) -> Report {
    with_findings(base(root, facts), facts)
}

/// The report of a run stopped after its file stage, from the file sources alone: [`report`]
/// without `no-nvidia-gpu`. It claims no absence: the driver's GPU list and the platform stage
/// (a Tegra's integrated GPU, WSL2's `/dev/dxg`) might have found a GPU the files do not show.
pub fn file_snapshot(root: &Root, facts: &Facts) -> Report {
    let mut report = report(root, facts);
    report
        .findings
        .retain(|f| f.code != crate::codes::NO_NVIDIA_GPU);
    report
}

/// [`base`]'s report with the findings of the file sources.
pub fn with_findings(mut report: Report, facts: &Facts) -> Report {
    report.findings = crate::findings::evaluate(facts, &report);
    crate::findings::sort(&mut report.findings);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemble_native_cuda_from_tables() {
        assert_eq!(
            native_cuda(&"580.65.06".parse().unwrap())
                .map(|c| c.to_string())
                .as_deref(),
            Some("13.0")
        );
        assert_eq!(
            native_cuda(&"565.57.01".parse().unwrap())
                .map(|c| c.to_string())
                .as_deref(),
            Some("12.7")
        );
        assert_eq!(native_cuda(&"440.33.01".parse().unwrap()), None);
    }

    #[test]
    fn assemble_enrich_keeps_better_sources() {
        let mut g = Gpu::new("0000:01:00.0");
        g.pci.vendor_id = Some("0x10de".parse().unwrap());
        g.pci.device_id = Some("0x2330".parse().unwrap());
        g.compute_capability = Some("9.0".parse().unwrap());
        g.compute_capability_source = Some(CcSource::ArchInfo);
        enrich_gpu(&mut g);
        assert_eq!(g.chip.as_deref(), Some("GH100"));
        assert_eq!(g.compute_capability_source, Some(CcSource::ArchInfo));
        assert_eq!(crate::findings::cc_unknown_reason(&g), None);
        let mut other = Gpu::new("0000:02:00.0");
        other.pci.vendor_id = Some("0x1002".parse().unwrap());
        other.pci.device_id = Some("0x2330".parse().unwrap());
        enrich_gpu(&mut other);
        assert_eq!(other.chip, None, "only NVIDIA IDs are looked up");
    }
}
