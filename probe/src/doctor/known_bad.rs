//! Known-bad combinations: the vendored table `data/known-bad.tsv`, a source per row, and the
//! rules that raise `known-bad-kernel-driver` and `known-bad-driver-release` from it.
//!
//! A `driver-defect` row says that driver releases `driver_from..=driver_to` have a documented
//! defect whatever the kernel; it applies to the driver in use (the loaded module's release,
//! else the selected `libcuda`'s), in a container too (its libraries are the host's release).
//! The GPU × minimum-driver kind is its own generated table, `data/gpu-first-driver.tsv`
//! (`scripts/gen-gpu-first-driver.py`, from the vendored extract of every release's README): per PCI device id, the first release of the open kernel
//! modules whose README lists the GPU. With the open module loaded and older than that release,
//! `gpu-newer-than-driver` says so and cites that README. It says nothing for the proprietary
//! modules (which often supported a GPU earlier) nor for ids listed since the first README with
//! the table. The CUDA side (a CUDA release's minimum driver) is the toolkit table `doctor`
//! already applies.
//!
//! A `kernel-driver` row says that driver releases `driver_from..=driver_to` cannot be built
//! (or linked) for kernels from `kernel_from` on. It applies where the driver is **not**
//! loaded (a loaded module was evidently built: a distribution may have patched it) and the
//! installed driver release is known from its userspace (the `libcuda` the loader selects,
//! which the driver packages install with the module sources). It never applies in a
//! container, under WSL2 or gVisor (no module of their own). The finding quotes the row's
//! source.

use crate::codes::{GPU_NEWER_THAN_DRIVER, KNOWN_BAD_DRIVER_RELEASE, KNOWN_BAD_KERNEL_DRIVER};
use crate::report::{
    DriverSource, Finding, Flavor, Gpu, PciId, PlatformKind, Report, Severity, Version,
};
use crate::tables::compare_versions;

/// The vendored table.
pub const TABLE: &str = include_str!("../../../data/known-bad.tsv");

/// One row of [`TABLE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Stable name.
    pub id: &'static str,
    /// `kernel-driver`.
    pub kind: &'static str,
    /// The first kernel release affected.
    pub kernel_from: &'static str,
    /// The first driver release affected.
    pub driver_from: &'static str,
    /// The last driver release affected.
    pub driver_to: &'static str,
    /// The first good release of that branch, if the source names one.
    pub fixed_in: Option<&'static str>,
    /// What happens.
    pub what: &'static str,
    /// Where it is said.
    pub source: &'static str,
}

/// The rows of [`TABLE`] (a malformed row is skipped; a test keeps there none), borrowing the
/// table's text.
pub fn rows() -> Vec<Row> {
    crate::tables::tsv_records(TABLE)
        .filter_map(|c| {
            let [
                id,
                kind,
                kernel_from,
                driver_from,
                driver_to,
                fixed_in,
                what,
                source,
            ] = c.as_slice()
            else {
                return None;
            };
            Some(Row {
                id,
                kind,
                kernel_from,
                driver_from,
                driver_to,
                fixed_in: Some(*fixed_in).filter(|f| !f.is_empty()),
                what,
                source,
            })
        })
        .collect()
}

/// The numeric part of a kernel release: `6.8.0-51-generic` → `6.8.0`; `None` without one.
pub fn kernel_version(release: &str) -> Option<&str> {
    let end = release
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(release.len());
    let v = release.get(..end)?.trim_end_matches('.');
    (v.contains('.') && v.starts_with(|c: char| c.is_ascii_digit())).then_some(v)
}

/// The `kernel-driver` rows that say `driver` cannot be built for kernel `kernel` (a version).
pub fn kernel_driver_rows(kernel: &str, driver: &str) -> Vec<Row> {
    use std::cmp::Ordering::{Greater, Less};
    rows()
        .into_iter()
        .filter(|r| r.kind == "kernel-driver")
        .filter(|r| compare_versions(kernel, r.kernel_from) != Less)
        .filter(|r| {
            compare_versions(driver, r.driver_from) != Less
                && compare_versions(driver, r.driver_to) != Greater
        })
        .collect()
}

/// The `driver-defect` rows whose release range holds `driver`.
pub fn driver_defect_rows(driver: &str) -> Vec<Row> {
    use std::cmp::Ordering::{Greater, Less};
    rows()
        .into_iter()
        .filter(|r| r.kind == "driver-defect")
        .filter(|r| {
            compare_versions(driver, r.driver_from) != Less
                && compare_versions(driver, r.driver_to) != Greater
        })
        .collect()
}

/// Adds `known-bad-driver-release` for the driver in use, and `known-bad-kernel-driver` where
/// the installed, unloaded driver is a known-bad combination with the running kernel.
pub fn findings(report: &Report) -> Vec<Finding> {
    let mut out = defects(report);
    out.extend(kernel_driver(report));
    out.extend(gpu_driver(report));
    out
}

/// The GPU × minimum-driver table as vendored (`scripts/gen-gpu-first-driver.py`); the probe
/// reads its generated form, [`crate::tables::gpu_first_open_driver`].
#[cfg(test)]
const GPU_FIRST_DRIVER: &str = include_str!("../../../data/gpu-first-driver.tsv");

/// The first open-kernel-module release whose README lists PCI device `device` (with its
/// product name there), for ids first listed after the first README with the table.
pub fn gpu_first_driver(device: u16) -> Option<(Version, &'static str)> {
    let (release, name) = crate::tables::gpu_first_open_driver(device)?;
    Some((release.parse().ok()?, name))
}

/// For GPU `g`: its PCI device id and the first open-module release that lists it, when the
/// loaded open module (sysfs, procfs or ioctl; not an override) is older than that release.
/// The rules stage also counts such a GPU as not usable by CUDA.
pub fn gpu_too_new(report: &Report, g: &Gpu) -> Option<(u16, Version, &'static str)> {
    let d = report.driver.as_ref().filter(|d| {
        d.flavor == Flavor::Open
            && matches!(
                d.source,
                DriverSource::Sysfs | DriverSource::Procfs | DriverSource::Ioctl
            )
    })?;
    let device = g
        .pci
        .device_id
        .filter(|_| g.pci.vendor_id == Some(PciId::NVIDIA))
        .and_then(PciId::as_u16)?;
    let (first, name) = gpu_first_driver(device)?;
    (d.version.cmp_numbers(&first) == std::cmp::Ordering::Less).then_some((device, first, name))
}

/// `gpu-newer-than-driver`: the loaded open module is older than the first release that
/// supports a GPU on the bus. Only the open flavour (the table is the open modules' own list),
/// only a module the machine reports (not an override).
fn gpu_driver(report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(d) = report.driver.as_ref() else {
        return out;
    };
    for g in &report.gpus {
        let Some((device, first, name)) = gpu_too_new(report, g) else {
            continue;
        };
        out.push(Finding::new(
            GPU_NEWER_THAN_DRIVER,
            Severity::Error,
            format!(
                "{name} ({}, PCI device 0x{device:04x}) is supported by the open kernel modules from release {first} on, and the loaded open module is {}: it does not know this GPU, so CUDA cannot use it. Source: https://github.com/NVIDIA/open-gpu-kernel-modules/blob/{first}/README.md (the first release whose list has it).",
                g.pci.bus_id, d.version
            ),
            format!(
                "Install driver {first} or newer (a branch that has it), then reboot or reload the modules."
            ),
        ));
    }
    out
}

fn defects(report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let in_use = report
        .driver
        .as_ref()
        .map(|d| d.version.to_string())
        .or_else(|| {
            report
                .libraries
                .iter()
                .find(|l| l.kind == "cuda-driver" && l.selected && !l.stub)
                .and_then(|l| l.version.as_ref().map(ToString::to_string))
        });
    let Some(version) = in_use else {
        return out;
    };
    for row in driver_defect_rows(&version) {
        let fix = match &row.fixed_in {
            Some(f) => format!(
                "Update the driver to {f} or newer of branch {}",
                f.split('.').next().unwrap_or("")
            ),
            None => "Update the driver to a newer release".to_owned(),
        };
        out.push(Finding::new(
            KNOWN_BAD_DRIVER_RELEASE,
            Severity::Warning,
            format!(
                "The driver {version} is of a release range ({}..{}) with a documented defect: {} Source: {}.",
                row.driver_from, row.driver_to, row.what, row.source
            ),
            format!("{fix} (or a newer branch), then reboot or reload the modules."),
        ));
    }
    out
}

fn kernel_driver(report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    if report.driver.is_some()
        || report.platform.in_container
        || matches!(
            report.platform.kind,
            PlatformKind::Wsl2 | PlatformKind::Gvisor | PlatformKind::Container
        )
    {
        return out;
    }
    let Some(release) = report.platform.kernel_release.clone() else {
        return out;
    };
    let Some(kernel) = kernel_version(&release) else {
        return out;
    };
    let Some(installed) = report
        .libraries
        .iter()
        .find(|l| l.kind == "cuda-driver" && l.selected && !l.stub)
        .and_then(|l| l.version.clone())
    else {
        return out;
    };
    for row in kernel_driver_rows(kernel, installed.as_str()) {
        let fix = match &row.fixed_in {
            Some(f) => format!("Install driver {f} or newer of that branch (or a newer branch)"),
            None => "Install a newer driver release that supports this kernel (its release notes list the supported kernels)".to_owned(),
        };
        out.push(Finding::new(
            KNOWN_BAD_KERNEL_DRIVER,
            Severity::Error,
            format!(
                "The installed driver {installed} (its libcuda) is a known-bad combination with kernel {release}: {} Source: {}.",
                row.what, row.source
            ),
            format!(
                "{fix}, then rebuild the module ('sudo dkms autoinstall -k {release}') and reboot; or boot a kernel older than {}.",
                row.kernel_from
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check mode of the vendored table: eight columns, unique ids, known kinds, versions
    /// that parse, `driver_from <= driver_to < fixed_in` in one branch, a URL in every source.
    #[test]
    fn known_bad_table_is_valid() {
        let rows = rows();
        assert_eq!(
            rows.len(),
            crate::tables::tsv_records(TABLE).count(),
            "a row without eight columns"
        );
        assert!(!rows.is_empty());
        let version = |v: &str| {
            !v.is_empty()
                && v.split('.').count() >= 2
                && v.split('.')
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        };
        let mut ids = std::collections::HashSet::new();
        for r in &rows {
            assert!(ids.insert(r.id), "duplicate {}", r.id);
            match r.kind {
                "kernel-driver" => assert!(version(r.kernel_from), "{}", r.id),
                "driver-defect" => assert!(r.kernel_from.is_empty(), "{}", r.id),
                other => panic!("{}: unknown kind {other}", r.id),
            }
            for v in [&r.driver_from, &r.driver_to] {
                assert!(version(v), "{}: {v:?}", r.id);
            }
            let branch = |v: &str| v.split('.').next().unwrap().to_owned();
            assert_eq!(branch(r.driver_from), branch(r.driver_to), "{}", r.id);
            assert_ne!(
                compare_versions(r.driver_from, r.driver_to),
                std::cmp::Ordering::Greater,
                "{}",
                r.id
            );
            if let Some(f) = &r.fixed_in {
                assert!(version(f), "{}", r.id);
                assert_eq!(
                    compare_versions(f, r.driver_to),
                    std::cmp::Ordering::Greater,
                    "{}",
                    r.id
                );
            }
            assert!(r.source.contains("https://"), "{}: no URL", r.id);
            assert!(!r.what.is_empty(), "{}", r.id);
        }
    }

    #[test]
    fn known_bad_kernel_version_and_ranges() {
        assert_eq!(kernel_version("6.8.0-51-generic"), Some("6.8.0"));
        assert_eq!(
            kernel_version("5.14.0-427.42.1.el9_4.x86_64"),
            Some("5.14.0")
        );
        assert_eq!(kernel_version("6.7"), Some("6.7"));
        assert_eq!(kernel_version("weird"), None);
        assert_eq!(kernel_version(""), None);
        let ids = |k: &str, d: &str| -> Vec<String> {
            kernel_driver_rows(k, d)
                .into_iter()
                .map(|r| r.id.to_owned())
                .collect()
        };
        assert_eq!(ids("6.8.0", "545.29.02"), ["kernel-6.8-545"]);
        assert!(ids("6.7.0", "545.29.02").is_empty());
        assert_eq!(ids("6.3.1", "530.30.02"), ["kernel-6.3-vm-flags-530"]);
        assert!(ids("6.3.1", "530.41.03").is_empty());
        assert!(ids("6.2.16", "530.30.02").is_empty());
        assert_eq!(ids("6.7.3", "550.40.07"), ["kernel-6.7.3-rcu-550"]);
        assert!(ids("6.7.2", "550.40.07").is_empty());
        assert!(ids("6.8.0", "550.54.14").is_empty());
        assert!(ids("6.8.0", "580.65.06").is_empty());
        assert_eq!(ids("7.1.0", "580.142"), ["kernel-7.1-580"]);
        assert!(ids("7.0.12", "580.142").is_empty());
        assert!(ids("7.1.0", "580.159.04").is_empty());
    }

    #[test]
    fn known_bad_driver_defect_ranges_and_finding() {
        let ids = |d: &str| -> Vec<String> {
            driver_defect_rows(d)
                .into_iter()
                .map(|r| r.id.to_owned())
                .collect()
        };
        assert_eq!(ids("535.54.03"), ["nvml-process-info-v3-abi-535"]);
        assert_eq!(ids("535.43.02"), ["nvml-process-info-v3-abi-535"]);
        assert_eq!(ids("535.86.10"), ["nvml-process-info-v3-abi-535"]);
        assert!(ids("535.104.05").is_empty());
        assert!(ids("530.41.03").is_empty());
        assert!(ids("550.54.15").is_empty());
        // The kernel-driver rows never match as defects, nor the reverse.
        assert!(kernel_driver_rows("6.8.0", "535.54.03").is_empty());
        // A machine whose loaded driver is 535.54.03: the finding, with its source; at
        // 535.216.03 (the fixture as it is) none.
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/container-a100-proprietary-535"
        );
        let report = crate::probe(&crate::Options::new(crate::root::Root::at(root)));
        assert!(
            report
                .findings
                .iter()
                .all(|f| f.code != KNOWN_BAD_DRIVER_RELEASE)
        );
        let mut r = report.clone();
        r.driver.as_mut().unwrap().version = "535.54.03".parse().unwrap();
        let new = findings(&r);
        r.findings.extend(new);
        let f: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| f.code == KNOWN_BAD_DRIVER_RELEASE)
            .collect();
        assert_eq!(f.len(), 1, "{:?}", r.findings);
        assert_eq!(f[0].severity, Severity::Warning);
        assert!(f[0].message.contains("535.54.03"), "{}", f[0].message);
        assert!(
            f[0].message
                .contains("https://github.com/XuehaiPan/nvitop/pull/89"),
            "{}",
            f[0].message
        );
        assert!(f[0].remedy.contains("535.104.05"), "{}", f[0].remedy);
    }

    /// On the fixture machine (kernel 6.8, driver 545.29.02 installed, module not built): the
    /// finding, with the row's source. With the module loaded, or in a container, none.
    #[test]
    fn known_bad_kernel_driver_on_fixture() {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/kernel-6.8-driver-545-no-module"
        );
        let report = crate::probe(&crate::Options::new(crate::root::Root::at(root)));
        let f: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.code == KNOWN_BAD_KERNEL_DRIVER)
            .collect();
        assert_eq!(f.len(), 1, "{:?}", report.findings);
        assert!(f[0].message.contains("545.29.02"), "{}", f[0].message);
        assert!(
            f[0].message
                .contains("https://github.com/NixOS/nixpkgs/issues/296773"),
            "{}",
            f[0].message
        );
        assert!(f[0].remedy.contains("dkms autoinstall -k 6.8.0-51-generic"));
        let strip = |r: &Report| {
            let mut r = r.clone();
            r.findings.retain(|f| f.code != KNOWN_BAD_KERNEL_DRIVER);
            r
        };
        let mut r = strip(&report);
        r.platform.in_container = true;
        let new = findings(&r);
        r.findings.extend(new);
        assert!(r.findings.iter().all(|f| f.code != KNOWN_BAD_KERNEL_DRIVER));
        let mut r = strip(&report);
        r.platform.kernel_release = Some("6.5.0-45-generic".into());
        let new = findings(&r);
        r.findings.extend(new);
        assert!(r.findings.iter().all(|f| f.code != KNOWN_BAD_KERNEL_DRIVER));
        let mut r = strip(&report);
        r.libraries.clear();
        let new = findings(&r);
        r.findings.extend(new);
        assert!(r.findings.iter().all(|f| f.code != KNOWN_BAD_KERNEL_DRIVER));
    }

    /// The GPU × minimum-driver table: rows parse, and on the RTX 5090 fixture (open 570.86.16)
    /// an older open module gets the finding with its README, the proprietary flavour and the
    /// fixture as it is none.
    #[test]
    fn known_bad_gpu_newer_than_the_open_module() {
        let rows: Vec<&str> = GPU_FIRST_DRIVER
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert!(rows.len() > 100, "{}", rows.len());
        for l in &rows {
            let dev = u16::from_str_radix(l.get(2..6).unwrap(), 16).unwrap();
            assert!(gpu_first_driver(dev).is_some(), "{l}");
        }
        assert_eq!(
            gpu_first_driver(0x2b85)
                .map(|(v, _)| v.to_string())
                .as_deref(),
            Some("570.86.16")
        );
        // Listed since the first README with the table: no minimum known.
        assert_eq!(gpu_first_driver(0x1e04), None);
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/rtx5090-open-570"
        );
        let report = crate::probe(&crate::Options::new(crate::root::Root::at(root)));
        assert!(
            findings(&report)
                .iter()
                .all(|f| f.code != GPU_NEWER_THAN_DRIVER)
        );
        let mut r = report.clone();
        r.driver.as_mut().unwrap().version = "565.57.01".parse().unwrap();
        let f: Vec<Finding> = findings(&r)
            .into_iter()
            .filter(|f| f.code == GPU_NEWER_THAN_DRIVER)
            .collect();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Error);
        assert!(f[0].message.contains("0x2b85") && f[0].message.contains("565.57.01"));
        assert!(
            f[0].message
                .contains("open-gpu-kernel-modules/blob/570.86.16/README.md"),
            "{}",
            f[0].message
        );
        assert!(f[0].remedy.contains("570.86.16"));
        r.driver.as_mut().unwrap().flavor = Flavor::Proprietary;
        assert!(findings(&r).iter().all(|f| f.code != GPU_NEWER_THAN_DRIVER));
    }
}
