//! Kernel module builds for the running kernel (issue 23): the rules over `kernel-build`
//! ([`crate::detect::kbuild`]), each with the exact commands people otherwise look up.
//!
//! - `kernel-headers-missing`: DKMS manages the nvidia module, none is built for the running
//!   kernel, and that kernel's headers are not installed (DKMS cannot build it).
//! - `dkms-not-built-for-kernel`: the same with the headers there: `dkms autoinstall -k`.
//! - `module-signature-not-trusted`: the kernel enforces module signatures (Secure Boot,
//!   lockdown, `sig_enforce`), the module is not loaded, and it is unsigned or signed with a
//!   Machine Owner Key the firmware does not hold: `modprobe` fails with "Key was rejected by
//!   service". Enroll the key.
//! - `dkms-stale-trees`: DKMS trees of removed versions (their source is gone), or of versions
//!   beside the loaded driver's: each new kernel rebuilds them, and a failed build of an old one
//!   can block the kernel update.
//!
//! Only on a bare-metal host: in a container, `/lib/modules` and `/var/lib/dkms` are the
//! image's, not the running kernel's.

use crate::codes::{
    DKMS_NOT_BUILT_FOR_KERNEL, DKMS_STALE_TREES, DRIVER_NOT_LOADED, KERNEL_HEADERS_MISSING,
    MODULE_NOT_BUILT_FOR_KERNEL, MODULE_SIGNATURE_NOT_TRUSTED,
};
use crate::detect::Facts;
use crate::report::stack::{DkmsTree, KernelBuildInfo};
use crate::report::{Finding, Report, Severity};
use std::fmt::Write as _;

/// Distribution families for the commands.
fn family(report: &Report) -> &'static str {
    let id = report
        .platform
        .os
        .as_ref()
        .and_then(|o| o.id.as_deref())
        .unwrap_or("");
    match id {
        "ubuntu" | "debian" | "linuxmint" | "pop" => "deb",
        "fedora" | "rhel" | "centos" | "rocky" | "almalinux" | "ol" | "amzn" => "rpm",
        "sles" | "opensuse-leap" | "opensuse-tumbleweed" => "suse",
        _ => "",
    }
}

fn headers_command(report: &Report, release: &str) -> String {
    match family(report) {
        "deb" => format!("'sudo apt install linux-headers-{release}'"),
        "rpm" => format!("'sudo dnf install kernel-devel-{release}'"),
        "suse" => "'sudo zypper install kernel-default-devel'".to_owned(),
        _ => format!(
            "'sudo apt install linux-headers-{release}' on Debian/Ubuntu, 'sudo dnf install kernel-devel-{release}' on Fedora/RHEL"
        ),
    }
}

/// The rules on `platform.kernel_build` (which the model holds on a bare-metal host only),
/// added to `found`, the findings so far.
pub fn findings(facts: &Facts, report: &Report, found: &mut Vec<Finding>) {
    let Some(info) = report.platform.details.kernel_build.as_ref() else {
        return;
    };
    let mut new = rules(info, facts, report);
    one_root_cause(&mut new, facts, found);
    found.extend(new);
}

/// One cause, one finding. `module-not-built-for-kernel` (from `/lib/modules` alone) says the
/// running kernel has no module while older kernels do; where DKMS manages the module, the
/// DKMS rule knows why (the headers are missing, or DKMS has not run). Then the DKMS finding
/// is the root cause (in the dropped finding's place): it takes the other kernels' names and the "boot the old kernel" way out
/// from `module-not-built-for-kernel`, which is dropped, and `driver-not-loaded` points to it.
/// Each stays when it is the only cause (no DKMS tree: only `module-not-built-for-kernel`).
fn one_root_cause(findings: &mut Vec<Finding>, facts: &Facts, found: &mut Vec<Finding>) {
    let Some(i) = findings
        .iter()
        .position(|f| f.code == KERNEL_HEADERS_MISSING || f.code == DKMS_NOT_BUILT_FOR_KERNEL)
    else {
        return;
    };
    let Some(at) = found
        .iter()
        .position(|f| f.code == MODULE_NOT_BUILT_FOR_KERNEL)
    else {
        return;
    };
    found.remove(at);
    let mut root = findings.remove(i);
    let mut others: Vec<&str> = Vec::new();
    for m in facts.installed.as_deref().unwrap_or_default() {
        if m.name == "nvidia" && !m.running_kernel && !others.contains(&m.kernel_release.as_str()) {
            others.push(&m.kernel_release);
        }
    }
    if let Some(first) = others.first() {
        let _ = write!(
            root.message,
            " Kernel(s) {} have a module: the kernel was updated and the driver was not rebuilt for it.",
            others.join(", ")
        );
        let _ = write!(
            root.remedy,
            " Or boot kernel {first}, which has the module."
        );
    }
    if let Some(f) = found.iter_mut().find(|f| f.code == DRIVER_NOT_LOADED) {
        f.remedy = format!(
            "Build the module for the running kernel (see {}), then 'sudo modprobe nvidia' and check 'sudo dmesg | grep -i nvrm'.",
            root.code
        );
    }
    // Where the dropped finding stood: the cause before its effect (driver-not-loaded).
    found.insert(at, root);
}

fn rules(info: &KernelBuildInfo, facts: &Facts, report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(release) = info.kernel_release.as_deref() else {
        return out;
    };
    let loaded = facts.nvidia_loaded();
    let installed_here = facts
        .installed
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| m.name == "nvidia" && m.kernel_release == release);
    let live: Vec<&DkmsTree> = info.dkms.iter().filter(|t| t.source_present).collect();
    let built_here = info
        .dkms
        .iter()
        .any(|t| t.built_for.iter().any(|r| r == release));
    let gpu_on_bus = !report.gpus.is_empty();

    if !loaded && !installed_here && !built_here && !live.is_empty() && gpu_on_bus {
        let trees: Vec<String> = live
            .iter()
            .map(|t| format!("{}/{}", t.module, t.version))
            .collect();
        let autoinstall = format!("sudo dkms autoinstall -k {release}");
        match &info.headers {
            None => out.push(Finding::new(
                KERNEL_HEADERS_MISSING,
                Severity::Error,
                format!(
                    "DKMS manages the nvidia module ({}), but nothing is built for the running kernel {release}, and its headers are not installed (no /lib/modules/{release}/build, /usr/src/linux-headers-{release} or /usr/src/kernels/{release}): DKMS cannot build it, so the driver cannot load.",
                    trees.join(", ")
                ),
                format!(
                    "Install the running kernel's headers: {}; then '{autoinstall}' and 'sudo modprobe nvidia' (or reboot).",
                    headers_command(report, release)
                ),
            )),
            Some(h) => out.push(Finding::new(
                DKMS_NOT_BUILT_FOR_KERNEL,
                Severity::Error,
                format!(
                    "DKMS manages the nvidia module ({}) and the headers of the running kernel {release} are installed ({h}), but DKMS has not built the module for it: the driver cannot load.",
                    trees.join(", ")
                ),
                format!(
                    "Build it: '{autoinstall}', then 'sudo modprobe nvidia'. If the build fails, its log is /var/lib/dkms/{}/build/make.log.",
                    trees.first().map_or("nvidia/<version>", String::as_str)
                ),
            )),
        }
    }

    let enforcing = info.secure_boot == Some(true)
        || info.sig_enforce == Some(true)
        || info
            .lockdown
            .as_deref()
            .is_some_and(|l| l == "integrity" || l == "confidentiality");
    let has_module = installed_here || built_here;
    if enforcing && !loaded && has_module && gpu_on_bus {
        let why = [
            (info.secure_boot == Some(true), "Secure Boot is on"),
            (info.sig_enforce == Some(true), "sig_enforce is Y"),
            (
                info.lockdown.as_deref().is_some_and(|l| l != "none"),
                "the kernel is locked down",
            ),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, w)| *w)
        .collect::<Vec<_>>()
        .join(", ");
        let problem = if info.module_signed == Some(false) {
            Some(format!(
                "the module is not signed ({})",
                info.module_signed_by.as_deref().unwrap_or("no signature")
            ))
        } else if built_here && info.mok_key.is_none() {
            Some("DKMS has no signing key (no /var/lib/shim-signed/mok/MOK.der or /var/lib/dkms/mok.pub), so what it built is unsigned".to_owned())
        } else if built_here && info.mok_enrolled == Some(false) {
            Some(format!(
                "it is signed with {}, a Machine Owner Key the firmware does not hold (not in MokListRT)",
                info.mok_key.as_deref().unwrap_or("?")
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let remedy = if let Some(key) = info.mok_key.as_deref() {
                format!(
                    "Enroll the key: 'sudo mokutil --import {key}' (choose a one-time password), reboot, pick 'Enroll MOK' in the blue MokManager screen and enter it; then 'sudo modprobe nvidia'."
                )
            } else {
                format!(
                    "Create and enroll a key, then rebuild: 'sudo update-secureboot-policy --new-key' and 'sudo update-secureboot-policy --enroll-key' on Ubuntu (elsewhere 'sudo dkms generate_mok' and 'sudo mokutil --import /var/lib/dkms/mok.pub'), reboot into MokManager to enroll it, then 'sudo dkms autoinstall -k {release} --force'. Or turn Secure Boot off in the firmware."
                )
            };
            out.push(Finding::new(
                MODULE_SIGNATURE_NOT_TRUSTED,
                Severity::Error,
                format!(
                    "The kernel {release} only loads signed modules ({why}), and {problem}: 'modprobe nvidia' fails with 'Key was rejected by service', so the driver is not loaded."
                ),
                remedy,
            ));
        }
    }

    let loaded_version = report.driver.as_ref().map(|d| d.version.as_str());
    let stale: Vec<(&DkmsTree, &str)> = info
        .dkms
        .iter()
        .filter_map(|t| {
            if !t.source_present {
                return Some((t, "its source is gone"));
            }
            let same_module_loaded = loaded_version.is_some_and(|v| {
                v != t.version
                    && info
                        .dkms
                        .iter()
                        .any(|o| o.module == t.module && o.version == v && o.source_present)
            });
            same_module_loaded.then_some((t, "another version is the loaded driver"))
        })
        .collect();
    if !stale.is_empty() {
        let list: Vec<String> = stale
            .iter()
            .map(|(t, why)| format!("{}/{} ({why})", t.module, t.version))
            .collect();
        let commands: Vec<String> = stale
            .iter()
            .map(|(t, _)| {
                if t.source_present {
                    format!("sudo dkms remove {}/{} --all", t.module, t.version)
                } else {
                    format!("sudo rm -rf /var/lib/dkms/{}/{}", t.module, t.version)
                }
            })
            .collect();
        out.push(Finding::new(
            DKMS_STALE_TREES,
            Severity::Warning,
            format!(
                "DKMS holds nvidia trees that are not the driver in use: {}. DKMS rebuilds them for each new kernel, and a failed build of an old one can stop the kernel update and leave the new kernel without a driver.",
                list.join(", ")
            ),
            format!("Remove them: '{}'; then check with 'dkms status'.", commands.join("' and '")),
        ));
    }
    out
}
