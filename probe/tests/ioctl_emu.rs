//! The ioctl path against the emulated driver: every listed driver version and every fault.
//! No test needs a GPU.
#![expect(clippy::unwrap_used, reason = "test helpers outside #[test] fns")]

use nvprobe::ioctl::emu::{EmuDriver, EmuGpu, Fault};
use nvprobe::ioctl::variant::AbiMatch;
use nvprobe::ioctl::{IoctlOptions, IoctlOutcome, VersionVia, probe_ioctl};
use nvprobe::report::{Severity, SourceStatus};
use rustix::io::Errno;

fn deep() -> IoctlOptions {
    IoctlOptions {
        deep: true,
        ..IoctlOptions::default()
    }
}

fn two_gpus() -> Vec<EmuGpu> {
    // Minors deliberately not in list order: the device instance is not the minor.
    vec![EmuGpu::h100(0x3b, 1), EmuGpu::rtx4090(0x86, 0)]
}

/// What the rules make of the ioctl source's facts (the source itself raises no findings).
fn findings(o: &IoctlOutcome) -> Vec<nvprobe::report::Finding> {
    nvprobe::findings::ioctl(o, &[])
}

fn source<'a>(o: &'a IoctlOutcome, name: &str) -> &'a nvprobe::report::Source {
    o.sources
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no {name}: {o:#?}"))
}

/// Every handle freed and every file closed, whatever happened.
fn assert_clean(emu: &EmuDriver) {
    assert_eq!(emu.live_handles(), 0, "leaked handles: {:#?}", emu.calls());
    assert_eq!(emu.open_files(), 0, "leaked files: {:#?}", emu.calls());
}

fn check_version(version: &str, via: VersionVia) {
    let emu = EmuDriver::new(version, two_gpus(), vec![]);
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    assert_eq!(o.driver_version.as_deref(), Some(version));
    assert_eq!(o.version_via, Some(via));
    assert_eq!(o.abi_match, Some(AbiMatch::Exact));
    assert!(!o.strict_check_used);
    assert!(emu.kernel_log().is_empty(), "{:?}", emu.kernel_log());
    assert_eq!(source(&o, "ioctl").status, SourceStatus::Ok, "{o:#?}");
    assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Ok, "{o:#?}");
    assert!(findings(&o).is_empty(), "{:#?}", findings(&o));
    let cards = o.cards.as_ref().unwrap();
    assert_eq!(cards.len(), 2);
    let h100 = &cards[0];
    assert_eq!(h100.bus_id, "0000:3b:00.0");
    assert_eq!(
        (h100.vendor_hex(), h100.device_hex()),
        ("0x10de".parse().unwrap(), "0x2330".parse().unwrap())
    );
    assert_eq!((h100.gpu_id, h100.minor_number), (0x3b00, 1));
    let d = h100.deep.as_ref().unwrap();
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    assert_eq!(
        (d.architecture, d.implementation, d.revision),
        (Some(0x180), Some(0), Some(0xA1))
    );
    assert_eq!(
        (d.chip, d.architecture_name),
        (Some("GH100"), Some("Hopper"))
    );
    assert_eq!(
        d.compute_capability.map(|c| c.to_string()).as_deref(),
        Some("9.0")
    );
    assert_eq!(
        (d.subsystem_vendor_id, d.subsystem_device_id),
        (Some(0x10DE), Some(0x16C1))
    );
    assert_eq!(d.name.as_deref(), Some("NVIDIA H100 80GB HBM3"));
    assert_eq!(
        d.uuid.as_deref(),
        Some("GPU-4b2d6a1e-900c-3f5a-8e21-7710abcdef01")
    );
    assert_eq!(d.memory_bytes, Some(80 * 1024 * 1024 * 1024));
    assert_eq!(d.mig_mode, Some(2));
    let ada = cards[1].deep.as_ref().unwrap();
    assert_eq!(
        (
            ada.chip,
            ada.compute_capability.map(|c| c.to_string()).as_deref()
        ),
        (Some("AD102"), Some("8.9"))
    );
    assert_eq!(cards[1].bus_id, "0000:86:00.0");
}

#[test]
fn ioctl_emu_driver_525() {
    // QUERY leaves the string empty before 530.30.02: BUILD_VERSION_V2 answers, no log.
    check_version("525.147.05", VersionVia::BuildVersion);
}

#[test]
fn ioctl_emu_driver_535_old_mismatch_status() {
    check_version("535.104.05", VersionVia::Query);
}

#[test]
fn ioctl_emu_driver_535() {
    check_version("535.288.01", VersionVia::Query);
}

#[test]
fn ioctl_emu_driver_550() {
    check_version("550.90.07", VersionVia::Query);
}

#[test]
fn ioctl_emu_driver_570() {
    check_version("570.133.07", VersionVia::Query);
}

#[test]
fn ioctl_emu_driver_580() {
    check_version("580.95.05", VersionVia::Query);
}

#[test]
fn ioctl_emu_driver_595() {
    check_version("595.45.04", VersionVia::Query);
}

#[test]
fn ioctl_emu_default_path_touches_no_gpu() {
    for v in ["525.147.05", "580.95.05"] {
        let emu = EmuDriver::new(v, two_gpus(), vec![]);
        let o = probe_ioctl(&emu, &IoctlOptions::default());
        assert_clean(&emu);
        assert!(emu.calls().iter().all(|c| !c.starts_with("open /dev/nvidia0") && !c.starts_with("open /dev/nvidia1")));
        assert!(!emu.calls().iter().any(|c| c.contains("0x2080")));
        assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Skipped);
        assert_eq!(o.cards.as_ref().unwrap().len(), 2);
        assert!(o.cards.as_ref().unwrap().iter().all(|c| c.deep.is_none()));
    }
}

#[test]
fn ioctl_emu_waits_for_nonblocking_open() {
    let emu = EmuDriver::new("570.133.07", two_gpus(), vec![]);
    let _ = probe_ioctl(&emu, &deep());
    assert!(emu.calls().iter().any(|c| c == "NV_ESC_WAIT_OPEN_COMPLETE"));
    let emu = EmuDriver::new("535.288.01", two_gpus(), vec![]);
    let _ = probe_ioctl(&emu, &deep());
    assert!(!emu.calls().iter().any(|c| c == "NV_ESC_WAIT_OPEN_COMPLETE"));
}

#[test]
fn ioctl_emu_unknown_newer_driver_is_extrapolated() {
    let emu = EmuDriver::new("620.6.0", two_gpus(), vec![]);
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    assert_eq!(o.abi_match, Some(AbiMatch::Extrapolated));
    assert!(
        source(&o, "ioctl").detail.contains("ABI extrapolated"),
        "{o:#?}"
    );
    assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Ok);
}

#[test]
fn ioctl_emu_strict_check_only_when_needed() {
    // 525 under a proxy that refuses BUILD_VERSION_V2: the strict check is the last resort.
    let emu = EmuDriver::new(
        "525.147.05",
        two_gpus(),
        vec![Fault::GvisorDenyControl(0x13E)],
    );
    let o = probe_ioctl(&emu, &IoctlOptions::default());
    assert_clean(&emu);
    assert!(o.strict_check_used);
    assert_eq!(o.version_via, Some(VersionVia::Strict));
    assert_eq!(o.driver_version.as_deref(), Some("525.147.05"));
    assert_eq!(emu.kernel_log().len(), 1, "{:?}", emu.kernel_log());
    // With the version from sysfs the strict check is skipped.
    let emu = EmuDriver::new(
        "525.147.05",
        two_gpus(),
        vec![Fault::GvisorDenyControl(0x13E)],
    );
    let opts = IoctlOptions {
        version_hint: Some("525.147.05".into()),
        ..IoctlOptions::default()
    };
    let o = probe_ioctl(&emu, &opts);
    assert!(!o.strict_check_used);
    assert!(emu.kernel_log().is_empty());
    assert_eq!(o.driver_version, None);
    assert_eq!(o.abi_version.as_deref(), Some("525.147.05"));
    assert_eq!(o.abi_match, Some(AbiMatch::Exact));
}

/// On bare metal a driver that answers a class allocation with `NV_ERR_INVALID_CLASS` (a bad
/// device instance or subdevice id) is not gVisor's nvproxy: the deep source fails and says
/// why, and no `gvisor-nvproxy-limit` is raised (issue 19; it was).
#[test]
fn ioctl_emu_invalid_class_on_bare_metal_is_no_gvisor_refusal() {
    let emu = EmuDriver::new(
        "580.95.05",
        two_gpus(),
        vec![Fault::GvisorDenyClass(0x2080)],
    );
    let opts = IoctlOptions {
        deep: true,
        gvisor: false,
        ..IoctlOptions::default()
    };
    let o = probe_ioctl(&emu, &opts);
    assert_clean(&emu);
    assert_eq!(o.driver_version.as_deref(), Some("580.95.05"));
    assert!(
        !findings(&o)
            .iter()
            .any(|f| f.code == "gvisor-nvproxy-limit"),
        "{:?}",
        findings(&o)
    );
    let deep = source(&o, "ioctl-deep");
    assert_eq!(deep.status, SourceStatus::Failed);
    assert!(
        deep.detail.contains("NV_ERR_INVALID_CLASS"),
        "{}",
        deep.detail
    );
}

#[test]
fn ioctl_emu_gvisor_refusals() {
    let faults = vec![
        Fault::Gvisor,
        Fault::GvisorDenyControl(0x2080_1303),
        Fault::GvisorDenyClass(0x2080),
    ];
    let emu = EmuDriver::new("570.133.07", two_gpus(), faults);
    let opts = IoctlOptions {
        deep: true,
        gvisor: true,
        ..IoctlOptions::default()
    };
    let o = probe_ioctl(&emu, &opts);
    assert_clean(&emu);
    assert_eq!(o.driver_version.as_deref(), Some("570.133.07"));
    assert_eq!(o.cards.as_ref().unwrap().len(), 2);
    assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Failed);
    let found = findings(&o);
    let f = found
        .iter()
        .find(|f| f.code == "gvisor-nvproxy-limit")
        .expect("finding");
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.message.contains("0x22 NV_ERR_INVALID_CLASS"),
        "{}",
        f.message
    );

    // Only the FB control refused: status 0x56, everything else still answered.
    let emu = EmuDriver::new(
        "580.95.05",
        two_gpus(),
        vec![Fault::Gvisor, Fault::GvisorDenyControl(0x2080_1303)],
    );
    let o = probe_ioctl(&emu, &opts);
    assert_clean(&emu);
    let d = o.cards.as_ref().unwrap()[0].deep.clone().unwrap();
    assert_eq!(d.memory_bytes, None);
    assert_eq!(
        d.compute_capability.map(|c| c.to_string()).as_deref(),
        Some("9.0")
    );
    let found = findings(&o);
    let f = found
        .iter()
        .find(|f| f.code == "gvisor-nvproxy-limit")
        .expect("finding");
    assert!(
        f.message
            .contains("NV2080_CTRL_CMD_FB_GET_INFO_V2 (0x56 NV_ERR_NOT_SUPPORTED)"),
        "{}",
        f.message
    );
}

#[test]
fn ioctl_emu_gvisor_einval_for_frontend() {
    // A pre-550 ABI under gVisor has no WAIT_OPEN_COMPLETE; the probe does not send it, and the
    // deep path still works with the synchronous open.
    let emu = EmuDriver::new("535.288.01", two_gpus(), vec![Fault::Gvisor]);
    let opts = IoctlOptions {
        deep: true,
        gvisor: true,
        ..IoctlOptions::default()
    };
    let o = probe_ioctl(&emu, &opts);
    assert_clean(&emu);
    assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Ok, "{o:#?}");
    assert!(findings(&o).is_empty(), "{:#?}", findings(&o));
}

#[test]
fn ioctl_emu_ctl_permission_denied() {
    for errno in [Errno::ACCESS, Errno::PERM] {
        let emu = EmuDriver::new(
            "580.95.05",
            two_gpus(),
            vec![Fault::OpenFails("/dev/nvidiactl".into(), errno)],
        );
        let o = probe_ioctl(&emu, &deep());
        assert_clean(&emu);
        assert_eq!(source(&o, "ioctl").status, SourceStatus::Denied);
        assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Skipped);
        let found = findings(&o);
        let f = found
            .iter()
            .find(|f| f.code == "device-permission-denied")
            .expect("finding");
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("/dev/nvidiactl"));
    }
}

#[test]
fn ioctl_emu_gpu_node_permission_denied() {
    let emu = EmuDriver::new(
        "580.95.05",
        two_gpus(),
        vec![Fault::OpenFails("/dev/nvidia1".into(), Errno::ACCESS)],
    );
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    assert_eq!(source(&o, "ioctl").status, SourceStatus::Ok);
    assert_eq!(source(&o, "ioctl-deep").status, SourceStatus::Failed);
    let found = findings(&o);
    let f = found
        .iter()
        .find(|f| f.code == "device-permission-denied")
        .expect("finding");
    assert!(f.message.contains("/dev/nvidia1"));
    let cards = o.cards.unwrap();
    assert!(cards[0].deep.as_ref().unwrap().name.is_none());
    assert_eq!(
        cards[1].deep.as_ref().unwrap().name.as_deref(),
        Some("NVIDIA GeForce RTX 4090")
    );
}

#[test]
fn ioctl_emu_no_node_and_no_driver() {
    let emu = EmuDriver::new(
        "580.95.05",
        vec![],
        vec![Fault::OpenFails("/dev/nvidiactl".into(), Errno::NOENT)],
    );
    let o = probe_ioctl(&emu, &IoctlOptions::default());
    assert_eq!(source(&o, "ioctl").status, SourceStatus::Absent);
    assert!(findings(&o).is_empty());
    let emu = EmuDriver::new(
        "580.95.05",
        vec![],
        vec![Fault::OpenFails("/dev/nvidiactl".into(), Errno::NXIO)],
    );
    let o = probe_ioctl(&emu, &IoctlOptions::default());
    assert_eq!(source(&o, "ioctl").status, SourceStatus::Failed);
    assert!(source(&o, "ioctl").detail.contains("ENXIO"));
}

#[test]
fn ioctl_emu_lost_gpu() {
    let emu = EmuDriver::new("570.133.07", two_gpus(), vec![Fault::GpuLost(1)]);
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    let cards = o.cards.as_ref().unwrap();
    let lost = cards[0].deep.as_ref().unwrap();
    assert!(
        lost.errors
            .iter()
            .any(|e| e.contains("0xf NV_ERR_GPU_IS_LOST")),
        "{:?}",
        lost.errors
    );
    assert!(lost.architecture.is_none());
    assert_eq!(
        cards[1]
            .deep
            .as_ref()
            .unwrap()
            .compute_capability
            .map(|c| c.to_string())
            .as_deref(),
        Some("8.9")
    );
    let found = findings(&o);
    let f = found
        .iter()
        .find(|f| f.code == "gpu-lost")
        .expect("finding");
    assert!(f.message.contains("0000:3b:00.0"));
    assert_eq!(
        findings(&o).iter().filter(|f| f.code == "gpu-lost").count(),
        1
    );
}

#[test]
fn ioctl_emu_short_replies() {
    for v in ["525.147.05", "570.133.07", "595.45.04"] {
        let emu = EmuDriver::new(v, two_gpus(), vec![Fault::ShortReplies]);
        let o = probe_ioctl(&emu, &deep());
        assert_clean(&emu);
        // The cut QUERY string ("570") is not a version; BUILD_VERSION_V2 still answers.
        assert_eq!(o.driver_version.as_deref(), Some(v), "{o:#?}");
        let d = o.cards.as_ref().unwrap()[0].deep.clone().unwrap();
        assert!(d.uuid.is_none());
        assert!(
            d.errors
                .iter()
                .any(|e| e.contains("GPU_GET_GID_INFO: 8 bytes")),
            "{:?}",
            d.errors
        );
    }
}

#[test]
fn ioctl_emu_garbage_strings() {
    let emu = EmuDriver::new("580.95.05", two_gpus(), vec![Fault::GarbageStrings]);
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    let detail = &source(&o, "ioctl").detail;
    assert!(detail.contains("without a terminating NUL"), "{detail}");
    // BUILD_VERSION_V2 gives a clean string.
    assert_eq!(o.driver_version.as_deref(), Some("580.95.05"));
    let d = o.cards.as_ref().unwrap()[0].deep.clone().unwrap();
    assert!(d.name.is_none());
    assert!(
        d.errors.iter().any(|e| e.contains("GPU_GET_NAME_STRING")),
        "{:?}",
        d.errors
    );
    assert_eq!(
        d.uuid.as_deref(),
        Some("GPU-4b2d6a1e-900c-3f5a-8e21-7710abcdef01")
    );
}

#[test]
fn ioctl_emu_excluded_gpu() {
    let mut gpus = two_gpus();
    gpus[1].excluded = true;
    let emu = EmuDriver::new("580.95.05", gpus, vec![]);
    let o = probe_ioctl(&emu, &deep());
    assert_clean(&emu);
    assert_eq!(o.cards.as_ref().unwrap().len(), 1);
    assert_eq!(o.excluded_gpu_ids, vec![0x8600]);
}

#[test]
fn ioctl_emu_many_gpus_retry_card_info() {
    let gpus: Vec<EmuGpu> = (0..40_u8)
        .map(|i| EmuGpu::h100(i + 1, u32::from(i)))
        .collect();
    let emu = EmuDriver::new("570.133.07", gpus, vec![]);
    let o = probe_ioctl(&emu, &IoctlOptions::default());
    assert_eq!(o.cards.as_ref().unwrap().len(), 40);
}

#[test]
fn ioctl_emu_unknown_version_probes_sizes() {
    // Garbage QUERY string, BUILD_VERSION_V2 refused, no strict check: the version is unknown,
    // the newest layouts are tried first and the driver's "wrong params size" (0x1F) makes the
    // probe fall back to the 580 sizes (name string 132, not 68).
    for v in ["580.95.05", "535.104.05"] {
        let emu = EmuDriver::new(
            v,
            two_gpus(),
            vec![Fault::GarbageStrings, Fault::GvisorDenyControl(0x13E)],
        );
        let opts = IoctlOptions {
            deep: true,
            allow_strict_check: false,
            ..IoctlOptions::default()
        };
        let o = probe_ioctl(&emu, &opts);
        assert_clean(&emu);
        assert_eq!(o.driver_version, None);
        assert_eq!(o.abi_match, Some(AbiMatch::Extrapolated));
        let d = o.cards.as_ref().unwrap()[0].deep.clone().unwrap();
        assert_eq!(
            d.compute_capability.map(|c| c.to_string()).as_deref(),
            Some("9.0"),
            "{v}: {d:?}"
        );
        assert_eq!(d.memory_bytes, Some(80 << 30), "{v}");
    }
}
