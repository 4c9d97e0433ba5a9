//! NVIDIA PCI functions from `/sys/bus/pci/devices/*`.
//!
//! Each entry is a symlink into `/sys/devices/...` on a real machine; fixtures may use real
//! directories. One read of a function's `uevent` gives its vendor, device, subsystem and
//! class IDs and the bound driver (`PCI_ID`, `PCI_SUBSYS_ID`, `PCI_CLASS`, `DRIVER`: the kernel
//! writes them from the same `struct pci_dev` as the attribute files); for NVIDIA's functions
//! `revision` is read too. An ID `uevent` lacks is read from its attribute file (`vendor`
//! first); a driver it does not name is the basename of the `driver` link. `config` would hold
//! every ID in one read, but reading it resumes a runtime-suspended GPU.

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

impl PciScan {
    /// The NVIDIA `NVSwitch` functions (class 0x0680, "other bridge"): an HGX/DGX board, whose
    /// GPUs need the fabric manager.
    pub fn nvswitches(&self) -> impl Iterator<Item = &PciFunction> {
        self.functions
            .iter()
            .filter(|f| f.vendor == NVIDIA_VENDOR && f.class.map(|c| c >> 8) == Some(0x0680))
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

/// What a PCI function's `uevent` says; `None` for what it lacks or garbles.
#[derive(Debug, Default, PartialEq, Eq)]
struct Uevent {
    vendor: Option<u16>,
    device: Option<u16>,
    subsystem: Option<(u16, u16)>,
    class: Option<u32>,
    driver: Option<String>,
}

fn id_pair(v: &str) -> Option<(u16, u16)> {
    let (a, b) = v.trim().split_once(':')?;
    let hex16 = |x: &str| {
        (!x.is_empty() && x.len() <= 4)
            .then(|| u16::from_str_radix(x, 16).ok())
            .flatten()
    };
    Some((hex16(a)?, hex16(b)?))
}

fn parse_uevent(text: &str) -> Uevent {
    let mut u = Uevent::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "PCI_ID" => {
                let ids = id_pair(value);
                u.vendor = ids.map(|p| p.0);
                u.device = ids.filter(|(v, _)| *v == NVIDIA_VENDOR).map(|p| p.1);
            }
            "PCI_SUBSYS_ID" => u.subsystem = id_pair(value),
            "PCI_CLASS" => {
                let v = value.trim();
                u.class = (!v.is_empty() && v.len() <= 6)
                    .then(|| u32::from_str_radix(v, 16).ok())
                    .flatten();
            }
            "DRIVER" => u.driver = Some(value.trim().to_owned()).filter(|d| !d.is_empty()),
            _ => {}
        }
    }
    u
}

fn bound_driver(root: &Root, dir: &str) -> Option<String> {
    // readlink fails (EINVAL) on anything but a symlink: no lstat first.
    let target = root.read_link(&format!("{dir}/driver")).ok()?;
    Some(target.file_name()?.to_string_lossy().into_owned())
}

/// `bus << 8 | devfn` of a sysfs PCI name `dddd:bb:dd.f` (the domain is dropped).
fn slot_of(bus_id: &str) -> Option<u16> {
    let bus = u16::from_str_radix(bus_id.get(5..7)?, 16).ok()?;
    let dev = u16::from_str_radix(bus_id.get(8..10)?, 16).ok()?;
    let func = u16::from_str_radix(bus_id.get(11..12)?, 16).ok()?;
    (dev < 32 && func < 8).then_some(bus << 8 | dev << 3 | func)
}

/// The slots (`bus << 8 | devfn`) of NVIDIA's functions in `/proc/bus/pci/devices`: one read
/// in place of a `vendor` read per function (a GPU server lists ~250). The file has no PCI
/// domain, so a slot stands for every domain's function at it (those are read as before).
/// `None`, and every function's `vendor` is read, when the file is missing, garbled, or lists
/// fewer functions than sysfs (`listed`): a partial list must not hide a GPU.
fn proc_nvidia_slots(root: &Root, listed: usize) -> Option<Vec<u16>> {
    let text = root
        .read_text_limited("/proc/bus/pci/devices", 1 << 20)
        .ok()?;
    let mut rows = 0;
    let mut nvidia = Vec::new();
    for line in text.text.lines() {
        let mut fields = line.split('\t');
        let slot = u16::from_str_radix(fields.next()?.trim(), 16).ok()?;
        let ids = u32::from_str_radix(fields.next()?.trim(), 16).ok()?;
        rows += 1;
        if ids >> 16 == u32::from(NVIDIA_VENDOR) {
            nvidia.push(slot);
        }
    }
    (!text.truncated && rows >= listed).then_some(nvidia)
}

/// Lists NVIDIA PCI functions under `/sys/bus/pci/devices`.
pub fn scan(root: &Root) -> std::io::Result<PciScan> {
    let names =
        root.read_dir_names_limited("/sys/bus/pci/devices", crate::root::DEVICE_DIR_LIMIT)?;
    let mut scan = PciScan {
        total: names.len(),
        ..PciScan::default()
    };
    let listed = names.iter().filter(|n| is_bus_id(n)).count();
    let nvidia_slots = proc_nvidia_slots(root, listed);
    for name in names {
        // Both tests take either case: the name is copied lowercase only for a function kept.
        if !is_bus_id(&name) {
            continue;
        }
        if let Some(slots) = &nvidia_slots
            && slot_of(&name).is_some_and(|s| !slots.contains(&s))
        {
            continue; // not NVIDIA's, says /proc/bus/pci/devices: no vendor file to read
        }
        let dir = format!("/sys/bus/pci/devices/{name}");
        let ue = root
            .read_text(&format!("{dir}/uevent"))
            .map(|t| parse_uevent(&t.text))
            .unwrap_or_default();
        let Some(vendor) = ue
            .vendor
            .map(u32::from)
            .or_else(|| read_hex(root, &dir, "vendor"))
        else {
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
            bus_id: name.to_ascii_lowercase(),
            vendor: NVIDIA_VENDOR,
            device: ue.device.or_else(|| id16("device")),
            subsystem_vendor: ue
                .subsystem
                .map(|s| s.0)
                .or_else(|| id16("subsystem_vendor")),
            subsystem_device: ue
                .subsystem
                .map(|s| s.1)
                .or_else(|| id16("subsystem_device")),
            class: ue
                .class
                .or_else(|| read_hex(root, &dir, "class"))
                .filter(|c| *c <= 0x00ff_ffff),
            revision: read_hex(root, &dir, "revision").and_then(|v| u8::try_from(v).ok()),
            driver: ue.driver.or_else(|| bound_driver(root, &dir)),
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
    fn pci_uevent_fields() {
        let u = parse_uevent(
            "DRIVER=nvidia\nPCI_CLASS=30200\nPCI_ID=10DE:2330\nPCI_SUBSYS_ID=10DE:16C1\nPCI_SLOT_NAME=0000:10:00.0\nMODALIAS=pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00\n",
        );
        assert_eq!(
            u,
            Uevent {
                vendor: Some(0x10de),
                device: Some(0x2330),
                subsystem: Some((0x10de, 0x16c1)),
                class: Some(0x0003_0200),
                driver: Some("nvidia".to_owned()),
            }
        );
        // Unbound, another vendor's ID, garbage: each field is simply absent.
        assert_eq!(parse_uevent("DRIVER=\n"), Uevent::default());
        let intel = parse_uevent("PCI_ID=8086:2330\n");
        assert_eq!((intel.vendor, intel.device), (Some(0x8086), None));
        assert_eq!(
            parse_uevent("PCI_ID=10DE:12345\nPCI_CLASS=1234567\nPCI_SUBSYS_ID=:\n\u{0}=\n"),
            Uevent::default()
        );
    }

    /// Random `uevent` texts built from the real keys, garbled values and stray bytes: no
    /// panic, a device ID only with NVIDIA's vendor ID, and IDs only from well-formed values.
    #[test]
    fn pci_uevent_garbage_never_panics() {
        let pieces = [
            "PCI_ID=",
            "PCI_SUBSYS_ID=",
            "PCI_CLASS=",
            "DRIVER=",
            "10DE",
            "10de",
            ":",
            "2330",
            "12345",
            "8086",
            "\n",
            "\n",
            "=",
            " ",
            "\u{0}",
            "é",
            "\r\n",
            "zz",
        ];
        let mut rng = crate::testutil::XorShift(0x2545_F491_4F6C_DD1D);
        for case in 0..5000 {
            let len = rng.below(24);
            let text: String = (0..len).map(|_| pieces[rng.below(pieces.len())]).collect();
            let u = parse_uevent(&text);
            if u.device.is_some() {
                assert_eq!(u.vendor, Some(NVIDIA_VENDOR), "case {case}: {text:?}");
            }
            if let Some(c) = u.class {
                assert!(c <= 0x00ff_ffff, "case {case}: {text:?}");
            }
            if let Some(d) = &u.driver {
                assert!(!d.is_empty() && !d.contains('\n'), "case {case}: {text:?}");
            }
        }
    }

    /// A machine of three functions in two domains, with `/proc/bus/pci/devices` as given.
    fn machine(name: &str, proc_rows: Option<&str>) -> crate::testutil::Scratch {
        let dir = crate::testutil::Scratch::new(&format!("pci-{name}"));
        for (bus, vendor) in [
            ("0000:3b:00.0", "0x8086"),
            ("0001:3b:00.0", "0x10de"),
            ("0000:00:1f.3", "0x8086"),
        ] {
            let d = dir.join("sys/bus/pci/devices").join(bus);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
            std::fs::write(d.join("class"), "0x030200\n").unwrap();
        }
        if let Some(rows) = proc_rows {
            std::fs::create_dir_all(dir.join("proc/bus/pci")).unwrap();
            std::fs::write(dir.join("proc/bus/pci/devices"), rows).unwrap();
        }
        dir
    }

    fn vendors_read(dir: &std::path::Path) -> (Vec<String>, Vec<String>) {
        let rec = crate::root::Recorder::new();
        let root = Root::at(dir).with_recorder(rec.clone());
        let found = scan(&root)
            .unwrap()
            .functions
            .into_iter()
            .map(|f| f.bus_id)
            .collect();
        let read = rec
            .snapshot()
            .into_iter()
            .filter_map(|(p, _)| p.strip_suffix("/vendor").map(str::to_owned))
            .filter_map(|p| p.rsplit('/').next().map(str::to_owned))
            .collect();
        (found, read)
    }

    /// A complete `/proc/bus/pci/devices` spares the vendor reads of other vendors' functions
    /// (but not of another domain's function at an NVIDIA slot); a short, garbled or missing
    /// one leaves every vendor to be read. The GPU is found every time.
    #[test]
    fn pci_proc_listing_prefilters_vendor_reads() {
        let full = "3b00\t80861234\t0\n3b00\t10de2330\t0\t\tnvidia\n00fb\t80865555\t0\n";
        let gpu = vec!["0001:3b:00.0".to_owned()];
        for (name, rows, reads) in [
            ("full", Some(full), 2),
            ("short", Some("3b00\t10de2330\t0\n"), 3),
            ("garbled", Some("3b00\t10de2330\t0\nzz\n00fb\t8086\n"), 3),
            ("missing", None, 3),
        ] {
            let dir = machine(name, rows);
            let (found, read) = vendors_read(&dir);
            assert_eq!(found, gpu, "{name}");
            assert_eq!(read.len(), reads, "{name}: {read:?}");
            if reads == 2 {
                assert!(!read.contains(&"0000:00:1f.3".to_owned()), "{read:?}");
            }
        }
    }

    /// `uevent`'s `PCI_ID` stands in for the `vendor` file, for NVIDIA's functions and
    /// others'; a `uevent` without it leaves `vendor` to be read.
    #[test]
    fn pci_uevent_vendor_spares_vendor_reads() {
        let dir = machine("uevent", None);
        let devs = dir.join("sys/bus/pci/devices");
        std::fs::write(devs.join("0001:3b:00.0/uevent"), "PCI_ID=10DE:2330\n").unwrap();
        std::fs::write(devs.join("0000:3b:00.0/uevent"), "PCI_ID=8086:1234\n").unwrap();
        std::fs::write(devs.join("0000:00:1f.3/uevent"), "DRIVER=snd\n").unwrap();
        let (found, read) = vendors_read(&dir);
        assert_eq!(found, vec!["0001:3b:00.0".to_owned()]);
        assert_eq!(read, vec!["0000:00:1f.3".to_owned()]);
        let f = &scan(&Root::at(&dir)).unwrap().functions[0];
        assert_eq!(
            (f.vendor, f.device, f.class),
            (NVIDIA_VENDOR, Some(0x2330), Some(0x0003_0200))
        );
    }

    #[test]
    fn pci_slots_of_bus_ids() {
        assert_eq!(slot_of("0000:00:00.0"), Some(0));
        assert_eq!(slot_of("0000:00:03.0"), Some(0x0018));
        assert_eq!(slot_of("0001:3b:1f.7"), Some(0x3bff));
        assert_eq!(slot_of("0000:3b:20.0"), None);
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
