//! The kernel-mode driver's version and flavour from procfs and sysfs: pure parsers.
//!
//! `/proc/driver/nvidia/version` is written by `nv_procfs_read_version` as
//! `NVRM version: <pNVRM_ID>\nGCC version:  <compiler>\n`. The NVRM id differs by flavour:
//! - open: `NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (dvs-builder@…)  <date>`
//! - proprietary: `NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024`
//! - proprietary on Arm: `NVIDIA UNIX Kernel Module for aarch64  …`
//!
//! `/sys/module/nvidia/version` holds the bare version and a newline.

use crate::report::{DriverParams, Flavor, Version};

/// What `/proc/driver/nvidia/version` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcVersion {
    /// The dotted version (`580.95.05`).
    pub version: Version,
    /// Open or proprietary, from the wording of the line.
    pub flavor: Flavor,
    /// The first line as written, without the newline.
    pub line: String,
}

/// True when `s` looks like a driver version: 2 to 4 dot-separated decimal groups, the first
/// of 2 or 3 digits (`580.95.05`, `570.133.07`, `396.26`).
pub fn is_driver_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    (2..=4).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()))
        && (2..=3).contains(&parts.first().map_or(0, |p| p.len()))
}

/// The branch (major number) of a driver version.
pub fn branch_of(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

/// Parses `/proc/driver/nvidia/version`.
pub fn parse_proc_version(text: &str) -> Option<ProcVersion> {
    let line = text.lines().find(|l| l.starts_with("NVRM version:"))?;
    let rest = line.trim_start_matches("NVRM version:");
    let version = rest
        .split_whitespace()
        .find(|w| is_driver_version(w))?
        .parse()
        .ok()?;
    let flavor = if rest.contains("Open Kernel Module") {
        Flavor::Open
    } else if rest.contains("Kernel Module") {
        Flavor::Proprietary
    } else {
        Flavor::Unknown
    };
    Some(ProcVersion {
        version,
        flavor,
        line: line.trim_end().to_owned(),
    })
}

/// The CPU architecture a driver version line names (`… Kernel Module for x86_64 …`,
/// `NVIDIA UNIX x86_64 Kernel Module …`, `… for aarch64 …`), as `uname -m` spells it.
pub fn arch_of_version_line(line: &str) -> Option<&'static str> {
    line.split_whitespace().find_map(|w| match w {
        "x86_64" | "amd64" => Some("x86_64"),
        "aarch64" | "arm64" => Some("aarch64"),
        "ppc64le" => Some("ppc64le"),
        _ => None,
    })
}

/// Parses `/sys/module/nvidia/version`.
pub fn parse_sys_version(text: &str) -> Option<Version> {
    let v = text.trim();
    if is_driver_version(v) {
        v.parse().ok()
    } else {
        None
    }
}

/// The flavour from module taint flags: the proprietary module taints the kernel with `P`.
/// Only a hint: a flavour from the version line wins.
pub fn flavor_from_taint(taint: &str) -> Flavor {
    if taint.contains('P') {
        Flavor::Proprietary
    } else {
        Flavor::Open
    }
}

/// Parses the `Key: value` lines of `/proc/driver/nvidia/params`.
pub fn parse_params(text: &str) -> DriverParams {
    let mut p = DriverParams::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "ModifyDeviceFiles" => p.modify_device_files = value.parse().ok(),
            "DeviceFileUID" => p.device_file_uid = value.parse().ok(),
            "DeviceFileGID" => p.device_file_gid = value.parse().ok(),
            "DeviceFileMode" => {
                p.device_file_mode = value.parse::<u32>().ok().map(|m| format!("{m:04o}"));
            }
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_version_line_names_the_architecture() {
        for (line, want) in [
            ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Wed Sep 24 22:25:26 UTC 2025", Some("x86_64")),
            ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024", Some("x86_64")),
            ("NVRM version: NVIDIA UNIX Open Kernel Module for aarch64  580.95.05  Release Build", Some("aarch64")),
            ("NVRM version: NVIDIA UNIX Kernel Module for ppc64le  470.82.01", Some("ppc64le")),
            ("NVRM version: NVIDIA UNIX Kernel Module  580.95.05", None),
        ] {
            assert_eq!(arch_of_version_line(line), want, "{line}");
        }
    }

    #[test]
    fn driver_open_580_line() {
        let text = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Wed Sep 24 22:25:26 UTC 2025\nGCC version:  gcc version 12.3.0 (Ubuntu 12.3.0-1ubuntu1~22.04.2) \n";
        let v = parse_proc_version(text).unwrap();
        assert_eq!(v.version, "580.95.05");
        assert_eq!(v.flavor, Flavor::Open);
        assert!(v.line.ends_with("2025"));
    }

    #[test]
    fn driver_proprietary_535_and_470_lines() {
        let t535 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\nGCC version:  gcc version 11.4.0 (Ubuntu 11.4.0-1ubuntu1~22.04) \n";
        let v = parse_proc_version(t535).unwrap();
        assert_eq!(
            (v.version.as_str(), v.flavor),
            ("535.183.01", Flavor::Proprietary)
        );
        let t470 = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.256.02  Thu May  2 14:37:44 UTC 2024\nGCC version:  gcc version 9.4.0 (Ubuntu 9.4.0-1ubuntu1~20.04.2) \n";
        assert_eq!(parse_proc_version(t470).unwrap().version, "470.256.02");
    }

    #[test]
    fn driver_version_keeps_zero_padding() {
        let t = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.07  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Mar 14 07:03:58 UTC 2025\n";
        assert_eq!(parse_proc_version(t).unwrap().version, "570.133.07");
        assert_eq!(
            parse_sys_version("550.54.04\n")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("550.54.04")
        );
    }

    #[test]
    fn driver_garbage_is_none() {
        assert_eq!(parse_proc_version(""), None);
        assert_eq!(
            parse_proc_version("NVRM version: \u{0}\u{ff} garbage"),
            None
        );
        assert_eq!(parse_sys_version("not-a-version\n"), None);
        assert_eq!(parse_sys_version("5.\n"), None);
        assert!(!is_driver_version("12345.1"));
        assert_eq!(branch_of("580.95.05"), Some(580));
    }

    #[test]
    fn driver_params_selected_values() {
        let p = parse_params(
            "ResmanDebugLevel: 4294967295\nModifyDeviceFiles: 0\nDeviceFileUID: 0\nDeviceFileGID: 44\nDeviceFileMode: 432\n",
        );
        assert_eq!(p.modify_device_files, Some(0));
        assert_eq!(p.device_file_gid, Some(44));
        assert_eq!(p.device_file_mode.as_deref(), Some("0660"));
    }
}
