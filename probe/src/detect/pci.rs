//! NVIDIA PCI functions from `/sys/bus/pci/devices/*`.
//!
//! Each entry is a symlink into `/sys/devices/...` on a real machine; fixtures may use real
//! directories. The bound driver is the basename of the `driver` link; when `driver` is a
//! plain directory (a fixture) or unreadable, the `DRIVER=` line of `uevent` is used.

use crate::root::Root;

/// PCI vendor ID of NVIDIA.
pub const NVIDIA_VENDOR: u16 = 0x10de;

/// One PCI function with NVIDIA's vendor ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciFunction {
    /// `0000:3b:00.0`, lowercase.
    pub bus_id: String,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: Option<u16>,
    /// Subsystem vendor ID.
    pub subsystem_vendor: Option<u16>,
    /// Subsystem device ID.
    pub subsystem_device: Option<u16>,
    /// 24-bit class code (`0x030200`).
    pub class: Option<u32>,
    /// Revision.
    pub revision: Option<u8>,
    /// The bound kernel driver.
    pub driver: Option<String>,
}

impl PciFunction {
    /// Display (0x0300 VGA) or 3D (0x0302) controller: a GPU. Audio, USB, bridges and
    /// NVSwitch (0x0680) are not.
    pub fn is_gpu(&self) -> bool {
        matches!(self.class.map(|c| c >> 8), Some(0x0300 | 0x0302))
    }
}

/// What the PCI scan saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PciScan {
    /// All NVIDIA functions, sorted by bus id.
    pub functions: Vec<PciFunction>,
    /// How many PCI functions of any vendor were listed.
    pub total: usize,
    /// Functions that could not be read, with the reason.
    pub unreadable: Vec<String>,
}

/// Parses a sysfs hex attribute (`0x10de\n`).
pub fn parse_hex(text: &str) -> Option<u32> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    u32::from_str_radix(digits, 16).ok()
}

/// True for a PCI address `dddd:bb:ss.f`.
pub fn is_bus_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 12
        && b.get(4) == Some(&b':')
        && b.get(7) == Some(&b':')
        && b.get(10) == Some(&b'.')
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10) || c.is_ascii_hexdigit())
}

fn read_hex(root: &Root, dir: &str, attr: &str) -> Option<u32> {
    root.read_text(&format!("{dir}/{attr}"))
        .ok()
        .and_then(|t| parse_hex(&t.text))
}

fn bound_driver(root: &Root, dir: &str) -> Option<String> {
    let link = format!("{dir}/driver");
    // readlink fails (EINVAL) on anything but a symlink: no lstat first.
    if let Ok(target) = root.read_link(&link)
        && let Some(name) = target.file_name()
    {
        return Some(name.to_string_lossy().into_owned());
    }
    let uevent = root.read_text(&format!("{dir}/uevent")).ok()?;
    uevent
        .text
        .lines()
        .find_map(|l| l.strip_prefix("DRIVER="))
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
}

/// Lists NVIDIA PCI functions under `/sys/bus/pci/devices`.
pub fn scan(root: &Root) -> std::io::Result<PciScan> {
    let names = root.read_dir_names("/sys/bus/pci/devices")?;
    let mut scan = PciScan {
        total: names.len(),
        ..PciScan::default()
    };
    for name in names {
        let lower = name.to_ascii_lowercase();
        if !is_bus_id(&lower) {
            continue;
        }
        let dir = format!("/sys/bus/pci/devices/{name}");
        let Some(vendor) = read_hex(root, &dir, "vendor") else {
            if !root.exists(&format!("{dir}/vendor")) && root.exists(&dir) {
                scan.unreadable.push(format!("{name}: no vendor attribute"));
            }
            continue;
        };
        if vendor != u32::from(NVIDIA_VENDOR) {
            continue;
        }
        let id16 = |attr| read_hex(root, &dir, attr).and_then(|v| u16::try_from(v).ok());
        scan.functions.push(PciFunction {
            bus_id: lower,
            vendor: NVIDIA_VENDOR,
            device: id16("device"),
            subsystem_vendor: id16("subsystem_vendor"),
            subsystem_device: id16("subsystem_device"),
            class: read_hex(root, &dir, "class").filter(|c| *c <= 0x00ff_ffff),
            revision: read_hex(root, &dir, "revision").and_then(|v| u8::try_from(v).ok()),
            driver: bound_driver(root, &dir),
        });
    }
    scan.functions.sort_by(|a, b| a.bus_id.cmp(&b.bus_id));
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_hex_attributes() {
        assert_eq!(parse_hex("0x10de\n"), Some(0x10de));
        assert_eq!(parse_hex("0x030200\n"), Some(0x0003_0200));
        assert_eq!(parse_hex("10de\n"), None);
        assert_eq!(parse_hex("0x\n"), None);
        assert_eq!(parse_hex("0xfffffffff\n"), None);
        assert_eq!(parse_hex("0xzz\n"), None);
    }

    #[test]
    fn pci_bus_ids() {
        assert!(is_bus_id("0000:3b:00.0"));
        assert!(!is_bus_id("0000:3b:00"));
        assert!(!is_bus_id("0000:3g:00.0"));
        assert!(!is_bus_id("pci0000:00"));
    }

    #[test]
    fn pci_gpu_classes() {
        let f = |class| PciFunction {
            bus_id: String::new(),
            vendor: NVIDIA_VENDOR,
            device: None,
            subsystem_vendor: None,
            subsystem_device: None,
            class,
            revision: None,
            driver: None,
        };
        assert!(f(Some(0x0003_0000)).is_gpu());
        assert!(f(Some(0x0003_0200)).is_gpu());
        assert!(!f(Some(0x0004_0300)).is_gpu(), "HD audio");
        assert!(!f(Some(0x000c_0330)).is_gpu(), "USB");
        assert!(!f(Some(0x0006_8000)).is_gpu(), "NVSwitch bridge");
        assert!(!f(None).is_gpu());
    }
}
