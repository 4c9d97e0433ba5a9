//! The generated tables (`data/generated/tables.rs` through `nvprobe::tables`): every GPU of the
//! open kernel modules' table resolves, spot checks from Maxwell to Blackwell, non-GPU
//! functions, the version tables, and the generator's `--check`.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::process::Command;

use nvprobe::tables::{
    self, Confidence, NameSource, arch_lookup, chip_lookup, compare_versions, cuda_min_driver,
    driver_supports_architecture, last_branch_for_architecture, mvc_floor, native_cuda_for_driver,
    pci_lookup, toolkits_for_cc,
};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One row of the vendored open kernel modules table.
struct OgkmRow {
    name: String,
    device: u16,
    subsystem: Option<(u16, u16)>,
}

/// Parses the rows of the vendored open kernel modules table.
fn ogkm_rows(text: &str) -> Vec<OgkmRow> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 4 || cells[1] == "Product Name" || cells[1].starts_with("---") {
            continue;
        }
        let ids: Vec<u16> = cells[2]
            .split_whitespace()
            .filter_map(|h| u16::from_str_radix(h, 16).ok())
            .collect();
        let subsystem = match ids.len() {
            1 => None,
            3 => Some((ids[1], ids[2])),
            _ => panic!("unparsed row {line:?}"),
        };
        rows.push(OgkmRow {
            name: cells[1].to_owned(),
            device: ids[0],
            subsystem,
        });
    }
    rows
}

/// Chips whose compute capability no cited source gives (see `data/chips.tsv`); their devices
/// must say why instead.
const CC_UNVERIFIED: &[&str] = &["GB102"];

#[test]
fn tables_every_open_modules_gpu_resolves() {
    let path = workspace_root().join("data/vendor/ogkm-595.45.04-gpus.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let rows = ogkm_rows(&text);
    assert_eq!(rows.len(), 825, "the 595.45.04 table has 825 rows");
    let mut without_cc = Vec::new();
    for row in &rows {
        let (name, dev, sub) = (&row.name, row.device, row.subsystem);
        let e = pci_lookup(dev, sub.map(|s| s.0), sub.map(|s| s.1))
            .unwrap_or_else(|| panic!("{dev:04x} ({name}) not in the PCI table"));
        assert!(e.is_gpu, "{dev:04x} ({name}) is a GPU");
        let chip = e
            .chip
            .unwrap_or_else(|| panic!("{dev:04x} ({name}) has no chip"));
        assert!(e.architecture.is_some(), "{dev:04x}");
        if e.compute_capability.is_some() {
            assert!(e.cc_source.is_some() && e.cc_unknown_reason.is_none());
        } else {
            assert!(
                CC_UNVERIFIED.contains(&chip),
                "{dev:04x} ({name}, {chip}) has no compute capability"
            );
            assert!(e.cc_unknown_reason.is_some() && e.cc_source.is_none());
            without_cc.push(dev);
        }
        // The open modules' own name wins, for the subsystem row or the bare device row.
        if sub.is_some() {
            assert_eq!(e.name, Some(name.as_str()), "{dev:04x} {sub:04x?}");
            assert_eq!(e.name_source, Some(NameSource::OpenModulesSubsystem));
        } else {
            assert_eq!(e.name, Some(name.as_str()), "{dev:04x}");
            assert_eq!(e.name_source, Some(NameSource::OpenModules));
        }
    }
    without_cc.dedup();
    assert_eq!(
        without_cc,
        [0x29bb],
        "only DRIVE P2021 (GB102) lacks a verified CC"
    );
}

#[track_caller]
fn spot(dev: u16, chip: &str, arch: &str, cc: (u8, u8)) {
    let e = pci_lookup(dev, None, None).unwrap_or_else(|| panic!("{dev:04x} missing"));
    assert!(e.is_gpu, "{dev:04x}");
    assert_eq!(e.chip, Some(chip), "{dev:04x}");
    assert_eq!(e.architecture, Some(arch), "{dev:04x}");
    assert_eq!(e.compute_capability, Some(cc), "{dev:04x}");
    assert!(e.cc_source.is_some_and(|s| !s.is_empty()));
}

#[test]
fn tables_spot_checks_maxwell_to_blackwell() {
    spot(0x2e12, "GB20B", "Blackwell", (12, 1)); // GB10 (DGX Spark)
    spot(0x3182, "GB110", "Blackwell", (10, 3)); // B300 SXM6 AC
    spot(0x31c2, "GB110", "Blackwell", (10, 3)); // GB300
    spot(0x2b00, "GB10B", "Blackwell", (11, 0)); // Jetson AGX Thor
    spot(0x2b85, "GB202", "Blackwell", (12, 0)); // GeForce RTX 5090
    spot(0x2d83, "GB207", "Blackwell", (12, 0)); // GeForce RTX 5050
    spot(0x2bb1, "GB202", "Blackwell", (12, 0)); // RTX PRO 6000 Blackwell WS
    spot(0x2901, "GB100", "Blackwell", (10, 0)); // B200
    spot(0x2330, "GH100", "Hopper", (9, 0)); // H100 SXM5
    spot(0x26b9, "AD102", "Ada", (8, 9)); // L40S
    spot(0x2684, "AD102", "Ada", (8, 9)); // GeForce RTX 4090
    spot(0x20b0, "GA100", "Ampere", (8, 0)); // A100 SXM4 40GB
    spot(0x2204, "GA102", "Ampere", (8, 6)); // GeForce RTX 3090
    spot(0x1eb8, "TU104", "Turing", (7, 5)); // Tesla T4
    spot(0x1db4, "GV100", "Volta", (7, 0)); // Tesla V100 PCIe 16GB
    spot(0x1b80, "GP104", "Pascal", (6, 1)); // GeForce GTX 1080
    spot(0x15f8, "GP100", "Pascal", (6, 0)); // Tesla P100 PCIe 16GB
    spot(0x13c0, "GM204", "Maxwell", (5, 2)); // GeForce GTX 980
    spot(0x1380, "GM107", "Maxwell", (5, 0)); // GeForce GTX 750 Ti
    spot(0x102d, "GK210", "Kepler", (3, 7)); // Tesla K80
}

#[test]
fn tables_names_prefer_subsystem_then_open_modules_then_pci_ids() {
    let h100 = pci_lookup(0x2330, Some(0x10de), Some(0x16c1)).unwrap();
    assert_eq!(h100.name, Some("NVIDIA H100 80GB HBM3"));
    assert_eq!(h100.name_source, Some(NameSource::OpenModulesSubsystem));
    // Unknown subsystem: the pci.ids bracketed name.
    let h100 = pci_lookup(0x2330, Some(0x10de), Some(0xffff)).unwrap();
    assert_eq!(h100.name, Some("H100 SXM5 80GB"));
    assert_eq!(h100.name_source, Some(NameSource::PciIds));
    assert_eq!(h100.chip, Some("GH100"));
    let rtx5090 = pci_lookup(0x2b85, None, None).unwrap();
    assert_eq!(rtx5090.name, Some("NVIDIA GeForce RTX 5090"));
    assert_eq!(rtx5090.name_source, Some(NameSource::OpenModules));
    let gtx1080 = pci_lookup(0x1b80, Some(0x10de), Some(0x1b80)).unwrap();
    assert_eq!(gtx1080.name, Some("GeForce GTX 1080"));
    assert!(pci_lookup(0xffff, None, None).is_none());
}

#[test]
fn tables_non_gpu_functions_are_not_gpus() {
    for dev in [
        0x22e8_u16, // GB202 High Definition Audio Controller
        0x10f0,     // GP104 High Definition Audio Controller
        0x1ad6,     // TU102 USB 3.1 Host Controller
        0x1ad7,     // TU102 USB Type-C UCSI Controller
        0x1af1,     // GA100 [A100 NVSwitch]
        0x22a3,     // GH100 [H100 NVSwitch]
        0x22d1,     // GB20B PCI bridge
        0x22d8,     // THOR Processor PCI Express Root Port
        0x2f95,     // TB500 RP x16
        0x005a,     // CK804 USB Controller
    ] {
        let e = pci_lookup(dev, None, None).unwrap_or_else(|| panic!("{dev:04x} missing"));
        assert!(!e.is_gpu, "{dev:04x} {:?}", e.name);
        assert_eq!(e.compute_capability, None, "{dev:04x}");
        assert_eq!(e.cc_unknown_reason, Some(tables::NOT_A_GPU_REASON));
    }
    // The chip is still named for a GPU's companion function.
    assert_eq!(pci_lookup(0x22e8, None, None).unwrap().chip, Some("GB202"));
}

#[test]
fn tables_unknown_compute_capability_is_null_with_reason() {
    for (dev, chip) in [
        (0x3200_u16, "GB112"),
        (0x3340, "GB120"),
        (0x3000, "GR100"),
        (0x29bc, "GB102"),
    ] {
        let e = pci_lookup(dev, None, None).unwrap();
        assert_eq!(e.chip, Some(chip));
        assert!(e.is_gpu);
        assert_eq!(e.compute_capability, None, "{chip} must not be guessed");
        assert!(e.cc_unknown_reason.is_some_and(|r| !r.is_empty()));
    }
    // A pre-CUDA GPU: no chip the table knows.
    let nv40 = pci_lookup(0x0040, None, None).unwrap();
    assert!(nv40.is_gpu && nv40.chip.is_none() && nv40.compute_capability.is_none());
    assert_eq!(nv40.cc_unknown_reason, Some(tables::UNKNOWN_CHIP_REASON));
}

#[test]
fn tables_arch_info_to_chip() {
    let c = arch_lookup(0x180, 0x00).unwrap();
    assert_eq!(
        (c.chip, c.architecture, c.compute_capability),
        ("GH100", "Hopper", Some((9, 0)))
    );
    let cases = [
        (0x110, 0x07, "GM107", Some((5, 0))),
        (0x120, 0x04, "GM204", Some((5, 2))),
        (0x130, 0x04, "GP104", Some((6, 1))),
        (0x140, 0x00, "GV100", Some((7, 0))),
        (0x150, 0x0b, "GV11B", Some((7, 2))),
        (0x160, 0x08, "TU116", Some((7, 5))),
        (0x170, 0x00, "GA100", Some((8, 0))),
        (0x170, 0x0b, "GA10B", Some((8, 7))),
        (0x190, 0x02, "AD102", Some((8, 9))),
        (0x1a0, 0x00, "GB100", Some((10, 0))),
        (0x1a0, 0x03, "GB110", Some((10, 3))),
        (0x1a0, 0x0b, "GB10B", Some((11, 0))),
        (0x1b0, 0x02, "GB202", Some((12, 0))),
        (0x1b0, 0x0b, "GB20B", Some((12, 1))),
        (0x1a0, 0x04, "GB112", None),
        (0x1b0, 0x0c, "GB20C", None),
    ];
    for (a, i, chip, cc) in cases {
        let c = arch_lookup(a, i).unwrap_or_else(|| panic!("{a:#x}/{i:#x}"));
        assert_eq!((c.chip, c.compute_capability), (chip, cc), "{a:#x}/{i:#x}");
        assert_eq!(c.arch_info, Some((a, i)));
        assert_eq!(c.cc_unknown_reason.is_some(), cc.is_none());
    }
    assert!(arch_lookup(0x1b0, 0x0e).is_none());
    assert_eq!(tables::architecture_for_arch_id(0x1b0), Some("Blackwell"));
    assert_eq!(tables::architecture_for_arch_id(0x999), None);
    assert_eq!(
        chip_lookup("AD104").map(|c| c.compute_capability),
        Some(Some((8, 9)))
    );
}

#[test]
fn tables_native_cuda_for_driver() {
    let exact = |v: &str| {
        let n = native_cuda_for_driver(v).unwrap_or_else(|| panic!("{v}"));
        assert!(!n.at_least, "{v}");
        n.version
    };
    assert_eq!(exact("450.80.02"), "11.0");
    assert_eq!(exact("470.256.02"), "11.4");
    assert_eq!(exact("535.261.03"), "12.2");
    assert_eq!(exact("550.54.15"), "12.4");
    assert_eq!(exact("565.57.01"), "12.7");
    assert_eq!(exact("570.133.07"), "12.8");
    assert_eq!(exact("580.159.04"), "13.0");
    assert_eq!(exact("590.44.01"), "13.1");
    assert_eq!(exact("595.71.05"), "13.2");
    assert_eq!(exact("610.47"), "13.3");
    assert_eq!(exact("615.71.09"), "13.4");
    // 616.xx are the Windows numbers of R615; no Linux R616 is known, so only "at least".
    assert!(native_cuda_for_driver("616.00").unwrap().at_least);
    let newer = native_cuda_for_driver("700.12.01").unwrap();
    assert!(newer.at_least);
    assert_eq!((newer.version, newer.table_branch), ("13.4", 615));
    let gap = native_cuda_for_driver("596.36").unwrap();
    assert!(gap.at_least);
    assert_eq!(gap.version, "13.2");
    assert_eq!(native_cuda_for_driver("440.33.01"), None);
    assert_eq!(native_cuda_for_driver("garbage"), None);
    assert_eq!(native_cuda_for_driver(""), None);
}

#[test]
fn tables_cuda_min_driver_and_mvc() {
    let d = |a, b| cuda_min_driver(a, b).map(|t| t.driver);
    assert_eq!(d(11, 0), Some("450.51.05"));
    assert_eq!(d(12, 0), Some("525.60.13"));
    assert_eq!(d(12, 4), Some("550.54.14"));
    assert_eq!(d(12, 8), Some("570.26"));
    assert_eq!(d(13, 0), Some("580.65.06"));
    assert_eq!(d(13, 2), Some("595.45.04"));
    assert_eq!(d(12, 7), None, "no 12.7 toolkit exists");
    assert_eq!(cuda_min_driver(12, 4).unwrap().confidence, Confidence::High);
    assert_eq!(
        cuda_min_driver(13, 3).unwrap().confidence,
        Confidence::Medium
    );
    // 13.4 GA shipped with r615.71.09 (secondary sources; the release notes' table is not in hand).
    assert_eq!(d(13, 4), Some("615.71.09"));
    assert_eq!(
        cuda_min_driver(13, 4).unwrap().confidence,
        Confidence::Medium
    );
    assert_eq!(
        mvc_floor(11).map(|v| v.to_string()).as_deref(),
        Some("450.80.02")
    );
    assert_eq!(
        mvc_floor(12).map(|v| v.to_string()).as_deref(),
        Some("525.60.13")
    );
    assert_eq!(
        mvc_floor(13).map(|v| v.to_string()).as_deref(),
        Some("580.65.06")
    );
    assert_eq!(mvc_floor(10), None);
}

#[test]
fn tables_architecture_support_by_branch() {
    for arch in ["Maxwell", "Pascal", "Volta"] {
        assert_eq!(last_branch_for_architecture(arch), Some(580), "{arch}");
        assert_eq!(driver_supports_architecture(580, arch), Some(true));
        assert_eq!(driver_supports_architecture(590, arch), Some(false));
    }
    assert_eq!(last_branch_for_architecture("Kepler"), Some(470));
    assert_eq!(last_branch_for_architecture("Fermi"), Some(390));
    for arch in ["Turing", "Ampere", "Ada", "Hopper", "Blackwell"] {
        assert_eq!(last_branch_for_architecture(arch), None, "{arch}");
        assert_eq!(driver_supports_architecture(616, arch), Some(true));
    }
    assert_eq!(driver_supports_architecture(580, "Curie"), None);
}

#[test]
fn tables_toolkits_for_cc() {
    let r = |a, b| toolkits_for_cc(a, b).map(|t| (t.first, t.last));
    assert_eq!(r(5, 2), Some(((7, 0), Some((12, 9)))));
    assert_eq!(r(3, 5), Some(((7, 0), Some((11, 8)))));
    assert_eq!(r(7, 5), Some(((10, 0), None)));
    assert_eq!(r(9, 0), Some(((11, 8), None)));
    assert_eq!(r(10, 3), Some(((12, 9), None)));
    assert_eq!(r(11, 0), Some(((13, 0), None)));
    assert_eq!(r(12, 1), Some(((12, 9), None)));
    // Tesla (1.x) ended with CUDA 6.5, Fermi (2.x) with 8.0.
    assert_eq!(r(1, 3), Some(((1, 0), Some((6, 5)))));
    assert_eq!(r(2, 0), Some(((1, 0), Some((8, 0)))));
    assert_eq!(r(4, 0), None);
}

#[test]
fn tables_compare_versions_numeric() {
    assert_eq!(compare_versions("525.60.13", "525.60.2"), Ordering::Greater);
    assert_eq!(compare_versions("525.60.13", "525.60.13"), Ordering::Equal);
    assert_eq!(compare_versions("12.4", "12.4.0"), Ordering::Equal);
    assert_eq!(compare_versions("470.57.02", "471"), Ordering::Less);
    assert_eq!(compare_versions("580", "575.57.08"), Ordering::Greater);
}

#[test]
fn tables_generator_check_passes() {
    let root = workspace_root();
    let out = match Command::new("python3")
        .arg("scripts/gen-tables.py")
        .arg("--check")
        .current_dir(&root)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            // CI runs the generator directly as well.
            eprintln!("skipped: python3 not runnable ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "data/generated/tables.rs is stale; run python3 scripts/gen-tables.py\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
