//! What kind of machine this is: bare metal, container, WSL2, gVisor or Tegra.
//!
//! The kind is decided from files only (never from the probe's own environment, which a test
//! harness or CI runner shares): the kernel release, `/proc/version`, container markers
//! (`/.dockerenv`, `/run/.containerenv`, cgroup paths, an overlay root), the container
//! toolkit's edited copy of `/proc/driver/nvidia/params`, and Tegra release files.

use crate::report::{OsRelease, Platform, PlatformKind};
use crate::root::Root;

/// The Linux identity gVisor's sentry presents (`/proc/version`).
const GVISOR_VERSION: &str = "#1 SMP Sun Jan 10 15:06:54 PST 2016";

/// Decides the platform. `modify_device_files` is `ModifyDeviceFiles` from the driver's
/// params, which the NVIDIA container toolkit rewrites to 0 in a container's copy.
pub fn detect(
    root: &Root,
    kernel_release: Option<&str>,
    modify_device_files: Option<u32>,
) -> Platform {
    let mut hints = Vec::new();
    let release = kernel_release.unwrap_or("");
    let proc_version = root
        .read_text("/proc/version")
        .map(|t| t.text)
        .unwrap_or_default();

    let wsl = release.to_ascii_lowercase().contains("microsoft")
        || proc_version.to_ascii_lowercase().contains("microsoft");
    if wsl {
        hints.push(format!("kernel release {release} is a WSL2 kernel"));
    }
    let dxg = root.exists("/dev/dxg");
    if dxg {
        hints.push("/dev/dxg exists".to_owned());
    }
    let interop = root.exists("/proc/sys/fs/binfmt_misc/WSLInterop")
        || root.exists("/proc/sys/fs/binfmt_misc/WSLInterop-late");
    if interop {
        hints.push("the WSLInterop binfmt handler is registered".to_owned());
    }
    // A custom WSL kernel may not say "microsoft": /dev/dxg with WSL's interop or its library
    // mount is WSL too.
    let wsl = wsl || (dxg && (interop || root.exists("/usr/lib/wsl/lib")));
    let gvisor_version = proc_version.contains(GVISOR_VERSION);
    if gvisor_version {
        hints.push("/proc/version is gVisor's fixed kernel identity".to_owned());
    }
    let gvisor_release = release.ends_with("-gvisor");
    if gvisor_release {
        hints.push(format!("kernel release {release} is gVisor's"));
    }
    let gvisor = gvisor_version || gvisor_release;
    if gvisor
        && root.exists("/proc/driver/nvidia/params")
        && !root.exists("/proc/driver/nvidia/version")
    {
        hints.push(
            "/proc/driver/nvidia holds params but no version (gVisor nvproxy's procfs)".to_owned(),
        );
    }
    let tegra = root.exists("/etc/nv_tegra_release")
        || root
            .read_text("/proc/device-tree/compatible")
            .is_ok_and(|t| t.text.contains("nvidia,tegra"))
        || root
            .read_text("/sys/devices/soc0/family")
            .is_ok_and(|t| t.text.trim() == "Tegra");
    if tegra {
        hints.push("Tegra release file or device tree".to_owned());
    }

    let mut in_container = false;
    for marker in ["/.dockerenv", "/run/.containerenv"] {
        if root.exists(marker) {
            hints.push(format!("{marker} exists"));
            in_container = true;
        }
    }
    for cgroup in ["/proc/1/cgroup", "/proc/self/cgroup"] {
        if let Ok(t) = root.read_text(cgroup)
            && let Some(word) = ["docker", "kubepods", "containerd", "libpod", "crio", "lxc"]
                .into_iter()
                .find(|w| t.text.contains(w))
        {
            hints.push(format!("{cgroup} mentions {word}"));
            in_container = true;
            break;
        }
    }
    if let Ok(t) = root.read_text_limited("/proc/self/mountinfo", 1 << 20) {
        // The fifth field is the mount point (no copy of a line's fields: a host with
        // containers or snaps mounts hundreds of filesystems).
        let overlay_root = t.text.lines().any(|l| {
            l.split_whitespace().nth(4) == Some("/")
                && l.split(" - ")
                    .nth(1)
                    .is_some_and(|s| s.starts_with("overlay "))
        });
        if overlay_root {
            hints.push("the root filesystem is an overlay mount".to_owned());
            in_container = true;
        }
    }
    if modify_device_files == Some(0) {
        hints.push(
            "/proc/driver/nvidia/params has ModifyDeviceFiles: 0 (the container toolkit's copy)"
                .to_owned(),
        );
        in_container = true;
    }
    if gvisor {
        in_container = true;
    }

    let kind = if wsl {
        PlatformKind::Wsl2
    } else if gvisor {
        PlatformKind::Gvisor
    } else if tegra {
        PlatformKind::Tegra
    } else if in_container {
        PlatformKind::Container
    } else {
        PlatformKind::BareMetal
    };
    Platform {
        kind,
        kernel_release: kernel_release.map(str::to_owned),
        arch: None,
        os: os_release(root),
        in_container,
        hints,
        details: crate::report::PlatformDetails::default(),
    }
}

/// `/etc/os-release`, else `/usr/lib/os-release`.
pub fn os_release(root: &Root) -> Option<OsRelease> {
    let text = root
        .read_text("/etc/os-release")
        .or_else(|_| root.read_text("/usr/lib/os-release"))
        .ok()?;
    Some(parse_os_release(&text.text))
}

/// Parses `KEY=value` lines with optional quotes.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut os = OsRelease::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .to_owned();
        match key.trim() {
            "ID" => os.id = Some(value),
            "VERSION_ID" => os.version_id = Some(value),
            "PRETTY_NAME" => os.pretty_name = Some(value),
            _ => {}
        }
    }
    os
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_os_release_quotes() {
        let os = parse_os_release(
            "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\nID=ubuntu\n",
        );
        assert_eq!(os.id.as_deref(), Some("ubuntu"));
        assert_eq!(os.version_id.as_deref(), Some("24.04"));
        assert_eq!(os.pretty_name.as_deref(), Some("Ubuntu 24.04.1 LTS"));
    }
}
