//! Facts → report: the driver, the GPU list (PCI bus order, merged across sources) and the
//! platform.

use crate::detect::{Facts, pci::PciFunction, platform};
use crate::report::{
    Driver, DriverSource, Flavor, Gpu, KernelModules, Pci, Report, SCHEMA_VERSION, Tool,
};
use crate::root::Root;

/// The highest CUDA version a driver branch supports natively. A stop-gap until the generated
/// tables land: the branches of the CUDA release notes' Table 3 (R565 reports 12.7).
fn native_cuda_fallback(branch: u32) -> Option<&'static str> {
    const TABLE: &[(u32, &str)] = &[
        (450, "11.0"),
        (455, "11.1"),
        (460, "11.2"),
        (465, "11.3"),
        (470, "11.4"),
        (495, "11.5"),
        (510, "11.6"),
        (515, "11.7"),
        (520, "11.8"),
        (525, "12.0"),
        (530, "12.1"),
        (535, "12.2"),
        (545, "12.3"),
        (550, "12.4"),
        (555, "12.5"),
        (560, "12.6"),
        (565, "12.7"),
        (570, "12.8"),
        (575, "12.9"),
        (580, "13.0"),
        (590, "13.1"),
        (595, "13.2"),
        (610, "13.3"),
        (615, "13.4"),
    ];
    TABLE
        .iter()
        .rev()
        .find(|(b, _)| *b <= branch)
        .map(|(_, v)| *v)
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
    let branch = crate::detect::driver::branch_of(&version)?;
    let flavor = match (&facts.proc_version, facts.loaded_module("nvidia")) {
        (Some(p), _) if p.flavor != Flavor::Unknown => p.flavor,
        (_, Some(m)) if m.taint.is_some() => {
            crate::detect::driver::flavor_from_taint(m.taint.as_deref().unwrap_or(""))
        }
        _ => Flavor::Unknown,
    };
    Some(Driver {
        version,
        branch,
        flavor,
        cuda_version: native_cuda_fallback(branch).map(str::to_owned),
        source,
        version_line: facts.proc_version.as_ref().map(|p| p.line.clone()),
        params: facts.params.clone(),
    })
}

fn hex16(v: Option<u16>) -> Option<String> {
    v.map(|v| format!("0x{v:04x}"))
}

fn gpu_from_pci(p: &PciFunction) -> Gpu {
    Gpu {
        index: 0,
        pci: Pci {
            bus_id: p.bus_id.clone(),
            vendor_id: hex16(Some(p.vendor)),
            device_id: hex16(p.device),
            subsystem_vendor_id: hex16(p.subsystem_vendor),
            subsystem_device_id: hex16(p.subsystem_device),
            class: p.class.map(|c| format!("0x{c:06x}")),
            revision: p.revision.map(|r| format!("0x{r:02x}")),
        },
        name: None,
        chip: None,
        architecture: None,
        compute_capability: None,
        compute_capability_source: None,
        kernel_driver: p.driver.clone(),
        uuid: None,
        memory_bytes: None,
        minor_number: None,
        vbios_version: None,
        firmware_version: None,
        seen_by: vec!["sysfs-pci".to_owned()],
    }
}

fn empty_gpu(bus_id: &str) -> Gpu {
    Gpu {
        index: 0,
        pci: Pci {
            bus_id: bus_id.to_owned(),
            vendor_id: None,
            device_id: None,
            subsystem_vendor_id: None,
            subsystem_device_id: None,
            class: None,
            revision: None,
        },
        name: None,
        chip: None,
        architecture: None,
        compute_capability: None,
        compute_capability_source: None,
        kernel_driver: None,
        uuid: None,
        memory_bytes: None,
        minor_number: None,
        vbios_version: None,
        firmware_version: None,
        seen_by: Vec::new(),
    }
}

/// The GPU list: every NVIDIA display/3D PCI function, merged with what procfs says about
/// each, plus GPUs procfs knows that sysfs does not show; in bus order.
pub fn gpus(facts: &Facts) -> Vec<Gpu> {
    let mut gpus: Vec<Gpu> = facts
        .pci
        .iter()
        .flat_map(|s| s.functions.iter())
        .filter(|p| p.is_gpu())
        .map(gpu_from_pci)
        .collect();
    for (dir, info) in &facts.proc_gpus {
        let bus = info.bus_location.clone().unwrap_or_else(|| dir.clone());
        let pos = if let Some(i) = gpus.iter().position(|g| g.pci.bus_id == bus) {
            i
        } else {
            gpus.push(empty_gpu(&bus));
            gpus.len() - 1
        };
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
    }
    gpus
}

/// The report from the file sources, with findings.
pub fn report(root: &Root, facts: Facts) -> Report {
    let platform = platform::detect(
        root,
        facts.kernel_release.as_deref(),
        facts.params.as_ref().and_then(|p| p.modify_device_files),
    );
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        platform,
        driver: driver(&facts),
        gpus: gpus(&facts),
        libraries: Vec::new(),
        cross_check: None,
        kernel_modules: KernelModules {
            loaded: facts.loaded.clone(),
            installed: facts.installed.clone().unwrap_or_default(),
        },
        device_nodes: facts.nodes.clone().unwrap_or_default(),
        sources: Vec::new(),
        findings: Vec::new(),
    };
    report.findings = crate::findings::evaluate(&facts, &report);
    report.sources = facts.sources;
    crate::findings::sort(&mut report.findings);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemble_native_cuda_branches() {
        assert_eq!(native_cuda_fallback(580), Some("13.0"));
        assert_eq!(native_cuda_fallback(565), Some("12.7"));
        assert_eq!(native_cuda_fallback(540), Some("12.2"));
        assert_eq!(native_cuda_fallback(700), Some("13.4"));
        assert_eq!(native_cuda_fallback(440), None);
    }
}
