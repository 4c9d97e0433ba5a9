//! Driver package layers (issue 23): the rules over `packages` ([`crate::detect::packages`]).
//!
//! - `driver-packages-split-branch`: the kernel module packages are of one branch and the
//!   userspace (`libnvidia-compute`) of another, with none in common (userspace 530 with
//!   module 535): the libraries cannot talk to the module.
//! - `driver-packages-orphaned`: packages of a branch other than the one in use (the loaded
//!   driver's, else the module packages'), left by an upgrade: an old kernel's
//!   `linux-modules-nvidia-550-…`, `nvidia-firmware-550-…`.
//! - `driver-desktop-flavour-on-server`: the desktop metapackage `nvidia-driver-<branch>` on a
//!   machine whose GPUs are all data-center ones: Ubuntu's `-server` flavour (or
//!   `nvidia-headless-<branch>-server`) is the one without the display stack.
//! - `fabric-manager-package-mismatch`: `nvidia-fabricmanager` or `libnvidia-nscq` of another
//!   version than the driver: the fabric manager refuses to start, DCGM's `NVSwitch` view fails.
//!   (With `NVSwitches` on the bus, `fabric-manager-missing` already says so, and this stays
//!   quiet.)
//! - `container-toolkit-outdated`: `nvidia-container-toolkit` older than 1.14, the first
//!   release of the unified packages (its v1.14.0 release notes), from before the repository
//!   most guides now install from.
//!
//! Only on a bare-metal host: a container's package database is its image's.

use std::collections::BTreeSet;

use crate::codes::{
    CONTAINER_TOOLKIT_OUTDATED, DRIVER_DESKTOP_FLAVOUR_ON_SERVER, DRIVER_PACKAGES_ORPHANED,
    DRIVER_PACKAGES_SPLIT_BRANCH, FABRIC_MANAGER_MISSING, FABRIC_MANAGER_PACKAGE_MISMATCH,
};
use crate::detect::packages::upstream;
use crate::report::stack::{DriverPackage, DriverPackagesInfo};
use crate::report::{DriverSource, Finding, Report, Severity};
use crate::tables::compare_versions;

/// The oldest container toolkit not flagged.
pub const TOOLKIT_MINIMUM: &str = "1.14.0";

/// The rules on `platform.packages` (which the model holds on a bare-metal host only).
pub fn findings(report: &Report) -> Vec<Finding> {
    report
        .platform
        .details
        .packages
        .as_ref()
        .map(|info| rules(info, report))
        .unwrap_or_default()
}

fn branches(pkgs: &[DriverPackage], layer: &str) -> BTreeSet<u32> {
    pkgs.iter()
        .filter(|p| p.layer == layer)
        .filter_map(|p| p.branch)
        .collect()
}

fn names(pkgs: &[&DriverPackage]) -> String {
    pkgs.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn join(set: &BTreeSet<u32>) -> String {
    set.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn rules(info: &DriverPackagesInfo, report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let pkgs = &info.packages;
    // The commands are dnf's where the packages are rpm's (NVIDIA's RHEL repository names).
    let rpm = info.manager == "rpm";
    let loaded = report.driver.as_ref().filter(|d| {
        matches!(
            d.source,
            DriverSource::Sysfs | DriverSource::Procfs | DriverSource::Ioctl
        )
    });
    let module = branches(pkgs, "module");
    let userspace = branches(pkgs, "userspace");
    // The branch in use: the loaded driver's, else the module packages' when one.
    let primary = loaded.map(|d| d.branch).or_else(|| {
        (module.len() == 1)
            .then(|| module.first().copied())
            .flatten()
    });

    let split = !module.is_empty() && !userspace.is_empty() && module.is_disjoint(&userspace);
    if split {
        let b = primary.or_else(|| module.first().copied()).unwrap_or(0);
        // The flavour of the branch kept: its module packages say (`-535-server`).
        let suffix = if pkgs.iter().any(|p| p.branch == Some(b) && p.server) {
            "-server"
        } else {
            ""
        };
        let other: Vec<&DriverPackage> = pkgs
            .iter()
            .filter(|p| p.branch.is_some_and(|x| x != b))
            .filter(|p| matches!(p.layer.as_str(), "userspace" | "utils" | "meta" | "other"))
            .collect();
        out.push(Finding::new(
            DRIVER_PACKAGES_SPLIT_BRANCH,
            Severity::Error,
            format!(
                "The driver's packages are split between branches: the kernel module packages are of branch {} and the userspace ({}) of branch {}, with none in common: programs load libraries that cannot talk to the module ('Failed to initialize NVML: Driver/library version mismatch', cuInit fails).",
                join(&module),
                if rpm {
                    "nvidia-driver-cuda-libs"
                } else {
                    "libnvidia-compute"
                },
                join(&userspace)
            ),
            if rpm {
                format!(
                    "Install the userspace of the module's branch: drop any version lock on it ('sudo dnf versionlock delete {}'), then 'sudo dnf module switch-to nvidia-driver:{b}-dkms' (or ':{b}-open'; RHEL 10 and Fedora: 'sudo dnf versionlock add \\*nvidia\\*{b}\\*') and 'sudo dnf distro-sync {}', then 'sudo ldconfig'.",
                    names(&other),
                    names(&other)
                )
            } else {
                format!(
                    "Install the userspace of the module's branch and remove the other: 'sudo apt install libnvidia-compute-{b}{suffix} nvidia-utils-{b}{suffix}'{}, then 'sudo ldconfig'; or install the whole driver of one branch with 'sudo apt install nvidia-driver-{b}{suffix}'.",
                    if other.is_empty() {
                        String::new()
                    } else {
                        format!(" and 'sudo apt purge {}'", names(&other))
                    }
                )
            },
        ));
    }

    if let Some(b) = primary
        && !split
    {
        let orphans: Vec<&DriverPackage> = pkgs
            .iter()
            .filter(|p| p.branch.is_some_and(|x| x != b))
            .filter(|p| !matches!(p.layer.as_str(), "fabric-manager" | "nscq"))
            .collect();
        if !orphans.is_empty() {
            let list: Vec<String> = orphans
                .iter()
                .map(|p| format!("{} ({})", p.name, p.version))
                .collect();
            out.push(Finding::new(
                DRIVER_PACKAGES_ORPHANED,
                Severity::Warning,
                format!(
                    "Driver packages of another branch than the one in use ({b}) are still installed: {}. They are left from an earlier driver: old module packages are rebuilt or kept for old kernels only, and a later upgrade may pull them back in against branch {b}.",
                    list.join(", ")
                ),
                if rpm {
                    format!(
                        "Remove them: 'sudo dnf remove {}'.",
                        names(&orphans)
                    )
                } else {
                    format!(
                        "Remove them: 'sudo apt purge {}', then 'sudo apt autoremove'.",
                        names(&orphans)
                    )
                },
            ));
        }
    }

    let desktop: Vec<&DriverPackage> = pkgs
        .iter()
        .filter(|p| p.layer == "meta" && !p.server && p.name.starts_with("nvidia-driver-"))
        .collect();
    let views: Vec<crate::doctor::GpuView> =
        report.gpus.iter().map(crate::doctor::gpu_view).collect();
    let all_data_center = !views.is_empty()
        && views
            .iter()
            .all(|g| matches!(g.brand, Some("nvidia" | "tesla")));
    if let Some(meta) = desktop.first()
        && all_data_center
    {
        let b = meta
            .branch
            .map_or_else(|| "<branch>".to_owned(), |b| b.to_string());
        let open = if meta.name.ends_with("-open") {
            "-open"
        } else {
            ""
        };
        out.push(Finding::new(
            DRIVER_DESKTOP_FLAVOUR_ON_SERVER,
            Severity::Info,
            format!(
                "The desktop driver flavour {} is installed on a machine whose GPUs are all data-center ones ({}): it pulls in the X11 and display stack, and Ubuntu's -server flavour is the one built for headless compute servers (the data-center release cadence).",
                meta.name,
                views
                    .iter()
                    .filter_map(|g| g.name)
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "Switch to the server flavour of the same branch: 'sudo apt install nvidia-headless-{b}-server{open} nvidia-utils-{b}-server' (or 'nvidia-driver-{b}-server{open}' to keep a display stack); apt replaces the desktop packages. Then reboot."
            ),
        ));
    }

    let driver_version = loaded.map(|d| d.version.to_string()).or_else(|| {
        pkgs.iter()
            .find(|p| p.layer == "userspace")
            .map(|p| upstream(&p.version).to_owned())
    });
    let fm_reported = report
        .findings
        .iter()
        .any(|f| f.code == FABRIC_MANAGER_MISSING);
    if let Some(dv) = driver_version
        && !fm_reported
    {
        let off: Vec<&DriverPackage> = pkgs
            .iter()
            .filter(|p| matches!(p.layer.as_str(), "fabric-manager" | "nscq"))
            .filter(|p| upstream(&p.version) != dv)
            .collect();
        if !off.is_empty() {
            let list: Vec<String> = off
                .iter()
                .map(|p| format!("{} {}", p.name, upstream(&p.version)))
                .collect();
            let b = crate::detect::driver::branch_of(&dv).unwrap_or(0);
            out.push(Finding::new(
                FABRIC_MANAGER_PACKAGE_MISMATCH,
                Severity::Warning,
                format!(
                    "The fabric manager packages ({}) are not of the driver's version {dv}: nvidia-fabricmanager refuses to start on a version mismatch, so on an NVSwitch system CUDA fails with 'system not yet initialized', and DCGM cannot read the NVSwitches through NSCQ.",
                    list.join(", ")
                ),
                if rpm {
                    format!(
                        "Install the ones of the driver's version: 'sudo dnf install nvidia-fabric-manager-{dv} libnvidia-nscq-{b}-{dv}' (remove the others with 'sudo dnf remove {}' where the names differ), then 'sudo systemctl restart nvidia-fabricmanager'; without NVSwitches, removing them is enough.",
                        names(&off)
                    )
                } else if off.iter().any(|p| p.branch != Some(b)) {
                    format!(
                        "Replace them with the driver's: 'sudo apt purge {}' and 'sudo apt install nvidia-fabricmanager-{b}={dv}-* libnvidia-nscq-{b}={dv}-*'; without NVSwitches, the purge alone is enough.",
                        names(&off)
                    )
                } else {
                    format!(
                        "Install the ones of the driver's version: 'sudo apt install nvidia-fabricmanager-{b}={dv}-* libnvidia-nscq-{b}={dv}-*', then 'sudo systemctl restart nvidia-fabricmanager'."
                    )
                },
            ));
        }
    }

    if let Some(v) = &info.container_toolkit
        && compare_versions(v, TOOLKIT_MINIMUM).is_lt()
    {
        out.push(Finding::new(
            CONTAINER_TOOLKIT_OUTDATED,
            Severity::Warning,
            format!(
                "The NVIDIA container toolkit is {v}, older than 1.14: it predates the unified packages of NVIDIA's libnvidia-container repository (v1.14.0) and the CDI support current container runtimes and Kubernetes device plugins use."
            ),
            format!(
                "Upgrade it from NVIDIA's repository (https://nvidia.github.io/libnvidia-container): '{}', then 'sudo nvidia-ctk runtime configure --runtime=docker' (or containerd) and restart the runtime.",
                if rpm {
                    "sudo dnf install nvidia-container-toolkit"
                } else {
                    "sudo apt install nvidia-container-toolkit"
                }
            ),
        ));
    }
    out
}
