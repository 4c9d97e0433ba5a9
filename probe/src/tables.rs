//! Generated lookup tables: PCI device ID → chip, name, architecture and compute capability;
//! `MC_GET_ARCH_INFO` ids → chip; driver branch → native CUDA version; CUDA toolkit → minimum
//! driver; architecture → last driver branch; compute capability → CUDA toolkits.
//!
//! # Where the data comes from
//!
//! The arrays live in `data/generated/tables.rs`, written by `scripts/gen-tables.py` from the
//! vendored inputs in `data/vendor/` (the NVIDIA block of Debian's `pci.ids`, the GPU table of
//! the open kernel modules' README, the CUDA toolkit → driver table) and the hand-kept tables in
//! `data/*.tsv`. `data/README.md` lists each input, its source and licence. Regenerate with
//! `python3 scripts/gen-tables.py`; CI runs `--check`.
//!
//! Every array is sorted by its key at generation time and searched with binary search: nothing
//! is parsed at run time.
//!
//! # Unknown is unknown
//!
//! A chip without a verified compute capability gives `None` together with the reason
//! ([`PciEntry::cc_unknown_reason`]); a known one carries its evidence
//! ([`PciEntry::cc_source`]). Nothing here guesses.

use std::cmp::Ordering;

include!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../data/generated/tables.rs"
));

/// Reason given for a PCI device whose `pci.ids` name carries no chip codename that
/// `data/chips.tsv` knows (pre-CUDA parts, chipset functions, engineering samples).
pub const UNKNOWN_CHIP_REASON: &str = "pci.ids names no GPU chip that nvprobe's chip table knows (pre-CUDA part, chipset function or unknown codename)";

/// Which table a marketing name came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// The open kernel modules' README table, row for this exact subsystem.
    OpenModulesSubsystem,
    /// The open kernel modules' README table, row for the device ID alone.
    OpenModules,
    /// `pci.ids`: the bracketed marketing name of the device line (for a non-GPU function, the
    /// whole line).
    PciIds,
}

/// How sure the source of a CUDA toolkit → driver row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confidence {
    /// Read from NVIDIA's release notes.
    High,
    /// Quoted by several independent secondary sources.
    Medium,
    /// A single or uncertain secondary source.
    Low,
}

/// A string in the generated `STRINGS` blob, packed in 32 bits: the byte offset in the high 20,
/// the byte length in the low 12 (0: no string). Integers rather than `&'static str` keep the
/// static-pie binary free of one relocation per table string and the rows small; the generator
/// checks the bounds and that every range lies on character boundaries.
#[derive(Clone, Copy)]
struct S(u32);

/// `S` from the generator's `(offset, length)`.
const fn s(offset: u32, len: u32) -> S {
    S((offset << 12) | len)
}

impl S {
    fn get(self) -> &'static str {
        let start = (self.0 >> 12) as usize;
        let len = (self.0 & 0xFFF) as usize;
        STRINGS.get(start..start + len).unwrap_or("")
    }

    /// The string, `None` for the empty reference.
    fn get_opt(self) -> Option<&'static str> {
        (self.0 & 0xFFF != 0).then(|| self.get())
    }
}

/// One row of the generated chip table (private layout; see [`ChipEntry`]).
struct Chip {
    name: S,
    architecture: S,
    arch_info: Option<(u32, u32)>,
    cc: Option<(u8, u8)>,
    /// Evidence for `cc` when it is known, the reason when it is not.
    evidence: S,
}

/// One row of the generated compute capability → toolkits table: (cc, first, last).
type CcToolkitRow = ((u8, u8), (u32, u32), Option<(u32, u32)>);

/// One row of the generated PCI device table (private layout; see [`PciEntry`]).
struct Device {
    id: u16,
    chip: Option<u8>,
    gpu: bool,
    src: NameSource,
    /// The marketing name; the empty reference when no source names the part.
    name: S,
}

/// A GPU chip: its architecture and, when verified, its compute capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChipEntry {
    /// Chip codename, e.g. `"GH100"`.
    pub chip: &'static str,
    /// Architecture name, e.g. `"Hopper"`, `"Ada"`, `"Blackwell"`.
    pub architecture: &'static str,
    /// `(architecture, implementation)` as `NV2080_CTRL_CMD_MC_GET_ARCH_INFO` returns them, when
    /// known (e.g. `(0x180, 0x00)` for GH100).
    pub arch_info: Option<(u32, u32)>,
    /// Compute capability `(major, minor)`, `None` when not verified.
    pub compute_capability: Option<(u8, u8)>,
    /// Where the compute capability comes from (set exactly when it is known).
    pub cc_source: Option<&'static str>,
    /// Why the compute capability is unknown (set exactly when it is).
    pub cc_unknown_reason: Option<&'static str>,
}

impl ChipEntry {
    fn from_row(c: &Chip) -> Self {
        let (cc_source, cc_unknown_reason) = match c.cc {
            Some(_) => (Some(c.evidence.get()), None),
            None => (None, Some(c.evidence.get())),
        };
        Self {
            chip: c.name.get(),
            architecture: c.architecture.get(),
            arch_info: c.arch_info,
            compute_capability: c.cc,
            cc_source,
            cc_unknown_reason,
        }
    }
}

/// What the tables know about one PCI device ID (vendor 0x10de).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciEntry {
    /// The PCI device ID looked up.
    pub device_id: u16,
    /// Chip codename (`"GB202"`), `None` when `pci.ids` names no chip the table knows.
    pub chip: Option<&'static str>,
    /// Marketing name: the open kernel modules' name for this subsystem, else for the device,
    /// else the bracketed `pci.ids` name. `None` when none of them names the part.
    pub name: Option<&'static str>,
    /// Where `name` came from; `None` exactly when `name` is.
    pub name_source: Option<NameSource>,
    /// Architecture name (`"Blackwell"`), when the chip is known.
    pub architecture: Option<&'static str>,
    /// Compute capability `(major, minor)`; `None` when unknown or not a GPU function.
    pub compute_capability: Option<(u8, u8)>,
    /// Where the compute capability comes from (set exactly when it is known).
    pub cc_source: Option<&'static str>,
    /// Why the compute capability is unknown (set exactly when it is).
    pub cc_unknown_reason: Option<&'static str>,
    /// `false` for functions that are not GPUs (HDMI audio, USB, USB-C UCSI, NVSwitch, bridges,
    /// root ports, chipset parts), judged from the `pci.ids` name. At run time the PCI class code
    /// (0x0300/0x0302) is the authority.
    pub is_gpu: bool,
}

/// Reason given for the compute capability of a PCI function that is not a GPU.
pub const NOT_A_GPU_REASON: &str = "not a GPU function (audio, USB, NVSwitch, bridge or chipset)";

/// Looks up an NVIDIA PCI device ID, and the subsystem IDs when the marketing name depends on
/// them (e.g. `0x2330` with `0x10de:0x16c1` is "NVIDIA H100 80GB HBM3").
pub fn pci_lookup(
    device_id: u16,
    subsys_vendor: Option<u16>,
    subsys_device: Option<u16>,
) -> Option<PciEntry> {
    let d = DEVICES
        .binary_search_by_key(&device_id, |d| d.id)
        .ok()
        .and_then(|i| DEVICES.get(i))?;
    let chip = d.chip.and_then(|i| CHIPS.get(usize::from(i)));
    let sub_name = match (d.gpu, subsys_vendor, subsys_device) {
        (true, Some(v), Some(s)) => SUBSYSTEMS
            .binary_search_by_key(&(device_id, v, s), |&(d, v, s, _)| (d, v, s))
            .ok()
            .and_then(|i| SUBSYSTEMS.get(i))
            .map(|s| s.3.get()),
        _ => None,
    };
    let (name, name_source) = match sub_name {
        Some(n) => (Some(n), Some(NameSource::OpenModulesSubsystem)),
        None => (d.name.get_opt(), d.name.get_opt().map(|_| d.src)),
    };
    let (compute_capability, cc_source, cc_unknown_reason) = match (d.gpu, chip) {
        (false, _) => (None, None, Some(NOT_A_GPU_REASON)),
        (true, None) => (None, None, Some(UNKNOWN_CHIP_REASON)),
        (true, Some(c)) => {
            let e = ChipEntry::from_row(c);
            (e.compute_capability, e.cc_source, e.cc_unknown_reason)
        }
    };
    Some(PciEntry {
        device_id,
        chip: chip.map(|c| c.name.get()),
        name,
        name_source,
        architecture: chip.map(|c| c.architecture.get()),
        compute_capability,
        cc_source,
        cc_unknown_reason,
        is_gpu: d.gpu,
    })
}

/// Looks up a chip by codename (`"AD102"`).
pub fn chip_lookup(chip: &str) -> Option<ChipEntry> {
    CHIPS
        .binary_search_by(|c| c.name.get().cmp(chip))
        .ok()
        .and_then(|i| CHIPS.get(i))
        .map(ChipEntry::from_row)
}

/// Looks up the chip for the `architecture` and `implementation` values that
/// `NV2080_CTRL_CMD_MC_GET_ARCH_INFO` returns (`0x180, 0x00` → GH100 → 9.0).
pub fn arch_lookup(architecture: u32, implementation: u32) -> Option<ChipEntry> {
    ARCH_INFO
        .binary_search_by_key(&(architecture, implementation), |&(a, i, _)| (a, i))
        .ok()
        .and_then(|i| ARCH_INFO.get(i))
        .and_then(|a| CHIPS.get(usize::from(a.2)))
        .map(ChipEntry::from_row)
}

/// The architecture name for an `MC_GET_ARCH_INFO` architecture value alone (`0x1b0` →
/// `"Blackwell"`), for an implementation the table does not know.
pub fn architecture_for_arch_id(architecture: u32) -> Option<&'static str> {
    CHIPS
        .iter()
        .find(|c| c.arch_info.is_some_and(|(a, _)| a == architecture))
        .map(|c| c.architecture.get())
}

/// The CUDA version a driver supports natively.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CudaNative {
    /// `"MAJOR.MINOR"`, e.g. `"12.4"`.
    pub version: &'static str,
    /// The driver branch this was read from (the driver's own, unless `at_least`).
    pub table_branch: u32,
    /// `true` when the driver's branch is not in the table and the version is that of the
    /// newest known branch below it: the driver supports at least this version.
    pub at_least: bool,
}

/// The CUDA version a driver supports natively (what `cuDriverGetVersion` and `nvidia-smi`
/// report), from its branch (the major version): `"550.54.15"` → 12.4, `"565.57.01"` → 12.7.
/// An unknown branch newer than a known one gives that branch's version marked `at_least`.
/// `None` for branches before 450 (not tabulated) and for strings that do not start with a
/// number.
pub fn native_cuda_for_driver(version: &str) -> Option<CudaNative> {
    let major = version.trim().split('.').next()?;
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let branch: u32 = major.parse().ok()?;
    match BRANCHES.binary_search_by_key(&branch, |&(b, _)| b) {
        Ok(i) => BRANCHES.get(i).map(|&(_, version)| CudaNative {
            version,
            table_branch: branch,
            at_least: false,
        }),
        Err(i) => BRANCHES
            .get(i.checked_sub(1)?)
            .map(|&(table_branch, version)| CudaNative {
                version,
                table_branch,
                at_least: true,
            }),
    }
}

/// [`native_cuda_for_driver`] as a typed value: the CUDA version a driver supports natively.
pub fn native_cuda(driver: &crate::report::Version) -> Option<crate::report::CudaVersion> {
    native_cuda_for_driver(driver.as_str()).and_then(|n| n.version.parse().ok())
}

/// The native CUDA version of a driver branch, and whether it is only a lower bound (the
/// branch is not in the table).
pub fn native_cuda_for_branch(branch: u32) -> Option<(crate::report::CudaVersion, bool)> {
    let n = native_cuda_for_driver(&branch.to_string())?;
    Some((n.version.parse().ok()?, n.at_least))
}

/// The records of a hand-kept table embedded with `include_str!` (`data/*.tsv`): its lines
/// without the `#` comments, blank lines and the header line, each split on tabs. A record of
/// the wrong width is the reader's to refuse.
pub fn tsv_records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|l| l.split('\t').collect())
}

/// The NVML product brand (`nvmlDeviceGetBrand`, as libnvidia-container's `brand=` spells it:
/// `geforce`, `nvidia`, `nvidiartx`, `tesla`, …) of a GPU from its name and driver branch, from
/// `data/nvml-brands.tsv` (each row from real `nvidia-smi -q` output). `None` when no row knows
/// the name, or a row says it is unknown: never a guess from words in the name.
pub fn nvml_brand(name: &str, branch: Option<u32>) -> Option<&'static str> {
    let lower = name.trim().to_ascii_lowercase();
    // The generator writes the patterns lowercase.
    for &(kind, p, lo, hi, brand) in &NVML_BRANDS {
        let matches = match kind {
            "prefix" => lower.starts_with(p),
            "contains" => lower.contains(p),
            "name" => lower == p,
            "vgpu-series" => is_vgpu_profile(&lower, p),
            _ => false,
        };
        let in_range =
            (lo == 0 && hi == u32::MAX) || branch.is_some_and(|b| (lo..=hi).contains(&b));
        if matches && in_range {
            return (!brand.is_empty()).then_some(brand);
        }
    }
    None
}

/// A vGPU profile name: `GRID A100-4C`, `NVIDIA A10-12Q` (board, framebuffer GB, series).
fn is_vgpu_profile(lower: &str, series: &str) -> bool {
    let Some(rest) = lower
        .strip_prefix("grid ")
        .or_else(|| lower.strip_prefix("nvidia "))
    else {
        return false;
    };
    let Some((board, profile)) = rest.rsplit_once('-') else {
        return false;
    };
    let Some(fb) = profile.strip_suffix(series) else {
        return false;
    };
    !board.is_empty()
        && !board.contains(' ')
        && !fb.is_empty()
        && fb.bytes().all(|b| b.is_ascii_digit())
}

/// The minimum Linux x86-64 driver of a CUDA toolkit's GA release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolkitDriver {
    /// Dotted driver version, e.g. `"550.54.14"`.
    pub driver: &'static str,
    /// How sure the source is (13.3 and 13.4 come from secondary sources).
    pub confidence: Confidence,
}

/// The minimum Linux driver for a CUDA toolkit's GA release (CUDA release notes, Table 3):
/// 12.4 → `550.54.14`. `None` for versions not in the table (such as 12.7, which was never
/// released).
pub fn cuda_min_driver(major: u32, minor: u32) -> Option<ToolkitDriver> {
    TOOLKITS
        .binary_search_by_key(&(major, minor), |&(a, b, _, _)| (a, b))
        .ok()
        .and_then(|i| TOOLKITS.get(i))
        .map(|&(_, _, driver, confidence)| ToolkitDriver { driver, confidence })
}

/// The minimum Linux driver for CUDA minor-version compatibility within a CUDA major version:
/// 11 → `450.80.02`, 12 → `525.60.13`, 13 → `580.65.06`.
pub fn mvc_floor(cuda_major: u32) -> Option<crate::report::Version> {
    MVC_FLOORS
        .binary_search_by_key(&cuda_major, |&(m, _, _)| m)
        .ok()
        .and_then(|i| MVC_FLOORS.get(i))
        .and_then(|m| m.1.parse().ok())
}

/// The first open-kernel-module release whose README lists PCI device `device`, and the
/// product name there (`data/gpu-first-driver.tsv`): `None` for ids listed since the first
/// README with the table, whose minimum is not known, and for ids never listed.
pub fn gpu_first_open_driver(device: u16) -> Option<(&'static str, &'static str)> {
    GPU_FIRST_DRIVER
        .binary_search_by_key(&device, |&(d, _, _)| d)
        .ok()
        .and_then(|i| GPU_FIRST_DRIVER.get(i))
        .map(|&(_, release, name)| (release, name))
}

/// The first driver branch past minor-version compatibility for a CUDA major: from it on, the
/// driver runs every release of that major natively (11 → 525, 12 → 580; 13 → `None`, no upper
/// bound yet; CUDA Compatibility guide, Table 1).
pub fn mvc_below_branch(cuda_major: u32) -> Option<u32> {
    MVC_FLOORS
        .binary_search_by_key(&cuda_major, |&(m, _, _)| m)
        .ok()
        .and_then(|i| MVC_FLOORS.get(i))
        .and_then(|m| (m.2 != 0).then_some(m.2))
}

/// The last driver branch that supports an architecture (`"Pascal"` → 580, `"Kepler"` → 470).
/// `None` when newer branches still support it, or when the architecture is unknown; use
/// [`driver_supports_architecture`] to tell the two apart.
pub fn last_branch_for_architecture(architecture: &str) -> Option<u32> {
    architecture_row(architecture).and_then(|(_, last)| last)
}

/// Whether a driver branch supports an architecture: `Some(false)` for a 590 driver and a
/// Volta GPU. `None` when the architecture is not in the table.
pub fn driver_supports_architecture(branch: u32, architecture: &str) -> Option<bool> {
    architecture_row(architecture).map(|(_, last)| last.is_none_or(|l| branch <= l))
}

fn architecture_row(architecture: &str) -> Option<(&'static str, Option<u32>)> {
    ARCHITECTURES
        .binary_search_by(|&(a, _)| a.cmp(architecture))
        .ok()
        .and_then(|i| ARCHITECTURES.get(i).copied())
}

/// The CUDA toolkits that can compile for a compute capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ToolkitRange {
    /// The first toolkit `(major, minor)`. `(7, 0)` means "7.0 or earlier": the sources stop there.
    pub first: (u32, u32),
    /// The last toolkit, `None` while the newest toolkits still support it.
    pub last: Option<(u32, u32)>,
}

/// The CUDA toolkits that can build for a compute capability: 5.2 → 7.0 to 12.9, 12.1 → 12.9
/// onwards.
pub fn toolkits_for_cc(major: u8, minor: u8) -> Option<ToolkitRange> {
    CC_TOOLKITS
        .binary_search_by_key(&(major, minor), |&(cc, _, _)| cc)
        .ok()
        .and_then(|i| CC_TOOLKITS.get(i))
        .map(|&(_, first, last)| ToolkitRange { first, last })
}

/// Compares two dotted version strings numerically, component by component:
/// `"525.60.13" > "525.60.2"`, `"12.4" == "12.4.0"`, `"470.57.02" < "471"`.
///
/// Missing components count as 0. Each component is read from its leading ASCII digits (a
/// component without digits counts as 0; one too large for `u64` saturates), so `"13.4?"` reads
/// as 13.4.
pub fn compare_versions(left: &str, right: &str) -> Ordering {
    let mut lefts = left.trim().split('.');
    let mut rights = right.trim().split('.');
    loop {
        match (lefts.next(), rights.next()) {
            (None, None) => return Ordering::Equal,
            (l, r) => {
                let order = component(l.unwrap_or("")).cmp(&component(r.unwrap_or("")));
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

fn component(s: &str) -> u64 {
    s.bytes().take_while(u8::is_ascii_digit).fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvml_brands_follow_real_captures() {
        let b = nvml_brand;
        assert_eq!(b("NVIDIA GeForce RTX 4090", Some(550)), Some("geforce"));
        assert_eq!(b("NVIDIA TITAN RTX", Some(545)), Some("titan"));
        assert_eq!(b("Tesla T4", Some(440)), Some("tesla"));
        assert_eq!(b("Tesla T4", Some(535)), Some("nvidia"));
        assert_eq!(
            b("Tesla T4", Some(470)),
            None,
            "no capture between R460 and R515"
        );
        assert_eq!(b("Tesla T4", None), None);
        assert_eq!(b("Tesla V100-SXM2-16GB", Some(570)), Some("tesla"));
        assert_eq!(b("NVIDIA A100-SXM4-80GB", Some(535)), Some("nvidia"));
        assert_eq!(b("NVIDIA H100 80GB HBM3", Some(580)), Some("nvidia"));
        assert_eq!(b("NVIDIA L4", Some(550)), Some("nvidia"));
        assert_eq!(
            b("NVIDIA L40", Some(550)),
            None,
            "only L4 and L40S were seen"
        );
        assert_eq!(
            b(
                "NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition",
                Some(590)
            ),
            Some("nvidiartx")
        );
        assert_eq!(
            b("NVIDIA RTX PRO 6000 Blackwell Server Edition", Some(590)),
            None
        );
        assert_eq!(b("NVIDIA RTX A4000", Some(570)), Some("nvidiartx"));
        assert_eq!(b("Quadro RTX 5000", Some(535)), None);
        assert_eq!(b("Quadro P2000", Some(525)), Some("quadro"));
        assert_eq!(b("GRID A100-4C", Some(510)), Some("vcs"));
        assert_eq!(b("NVIDIA A10-12Q", Some(535)), Some("vws"));
        assert_eq!(b("NVIDIA A10G", Some(515)), Some("nvidia"));
        assert_eq!(
            b("NVIDIA B200", Some(580)),
            None,
            "no capture of a B200's brand"
        );
        assert_eq!(b("", Some(580)), None);
    }

    fn sorted_strictly<K: Ord, T>(rows: &[T], key: impl Fn(&T) -> K) -> bool {
        rows.windows(2).all(|w| key(&w[0]) < key(&w[1]))
    }

    #[test]
    fn tables_sorted_for_binary_search() {
        assert!(sorted_strictly(&CHIPS, |c| c.name.get()));
        assert!(sorted_strictly(&DEVICES, |d| d.id));
        assert!(sorted_strictly(&SUBSYSTEMS, |s| (s.0, s.1, s.2)));
        assert!(sorted_strictly(&ARCH_INFO, |r| (r.0, r.1)));
        assert!(sorted_strictly(&BRANCHES, |r| r.0));
        assert!(sorted_strictly(&TOOLKITS, |r| (r.0, r.1)));
        assert!(sorted_strictly(&MVC_FLOORS, |r| r.0));
        assert!(sorted_strictly(&GPU_FIRST_DRIVER, |r| r.0));
        assert!(sorted_strictly(&ARCHITECTURES, |r| r.0));
        assert!(sorted_strictly(&CC_TOOLKITS, |r| r.0));
    }

    #[test]
    fn tables_chip_rows_consistent() {
        for c in &CHIPS {
            let name = c.name.get();
            assert!(!name.is_empty() && !c.evidence.get().is_empty(), "{name}");
            assert!(architecture_row(c.architecture.get()).is_some(), "{name}");
            if let Some((ma, mi)) = c.cc {
                assert!(toolkits_for_cc(ma, mi).is_some(), "{name}");
            }
        }
        for &(_, _, i) in &ARCH_INFO {
            assert!(usize::from(i) < CHIPS.len());
        }
        for d in &DEVICES {
            assert!(d.chip.is_none_or(|i| usize::from(i) < CHIPS.len()));
            assert!(d.name.get_opt().is_none_or(|n| !n.is_empty()));
        }
        for s in &SUBSYSTEMS {
            assert!(!s.3.get().is_empty());
        }
    }

    #[test]
    fn tables_compare_versions() {
        assert_eq!(compare_versions("525.60.13", "525.60.2"), Ordering::Greater);
        assert_eq!(compare_versions("12.4", "12.4.0"), Ordering::Equal);
        assert_eq!(compare_versions("470.57.02", "471"), Ordering::Less);
        assert_eq!(compare_versions("580.65.06", "580.65.6"), Ordering::Equal);
        assert_eq!(compare_versions("", "0"), Ordering::Equal);
        assert_eq!(
            compare_versions("99999999999999999999999", "1"),
            Ordering::Greater
        );
    }
}
