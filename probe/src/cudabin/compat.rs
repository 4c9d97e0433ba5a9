//! Will a binary's GPU code run on a GPU? The driver's rules for picking an image, as a pure
//! function.
//!
//! # Rules (CUDA C++ Programming Guide, "Binary Compatibility" and "PTX Compatibility";
//! CUDA 12.9 blog "family-specific architecture features")
//! - SASS `sm_XY` runs on compute capability `X.Z` for every `Z >= Y` (same major only):
//!   `sm_80` runs on 8.0, 8.6, 8.7, 8.9, never on 9.0.
//! - SASS `sm_XYa` runs only on exactly `X.Y`: `sm_90a` on 9.0, `sm_100a` not on 10.3.
//! - SASS `sm_XYf` runs on the members of `X.Y`'s family with a minor `>= Y`: `sm_100f` on 10.0
//!   and 10.3, `sm_103f` on 10.3 only, `sm_120f` on 12.0 and 12.1. Families (LLVM `NVPTX.td`,
//!   see `shared/research/data-sources.md` B.3): `[100, 103, 107]`, `[110]`, `[120, 121]`;
//!   a family we do not know is taken to be its major.
//! - PTX `compute_XY` is JIT-compiled by the driver for any compute capability `>= X.Y` (across
//!   majors), provided the driver knows its PTX ISA version; `compute_XYa` only for `X.Y`,
//!   `compute_XYf` only within the family, as for SASS.
//! - The driver prefers SASS over PTX. Among candidates we report the best match (the highest
//!   compatible SASS, else the highest compatible PTX the driver can compile).
//!
//! # Driver → PTX ISA
//! A driver compiles PTX up to the ISA version of its CUDA version: the table in
//! [`driver_max_ptx_isa`] is the PTX ISA release history (PTX ISA manual, "Release Notes";
//! the same table is in `cuda.bindings.utils` as `_ptx_to_cuda`), and CUDA 13.5 ↔ 9.5 was
//! checked with ptxas 13.5 (`Unsupported .version 9.6; current version is '9.5'`).

use serde::Serialize;

use super::types::{Entry, EntryKind, SmArch, Variant};

/// The verdict for one binary on one GPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Machine code for this GPU is present: it runs.
    Sass {
        /// The SASS image the driver will load.
        arch: SmArch,
    },
    /// No SASS, but PTX the driver can JIT-compile (slow first launch, cached afterwards).
    PtxJit {
        /// The PTX's virtual architecture.
        arch: SmArch,
        /// Its ISA version (not checked against the driver when the driver is unknown).
        #[serde(serialize_with = "serialize_isa")]
        isa: Option<(u32, u32)>,
    },
    /// No SASS; PTX for this GPU exists but needs a newer driver than this one
    /// (`CUDA_ERROR_UNSUPPORTED_PTX_VERSION`, "the provided PTX was compiled with an unsupported
    /// toolchain").
    PtxTooNew {
        /// The PTX's virtual architecture (the one with the lowest ISA among the candidates).
        arch: SmArch,
        /// Its ISA version.
        #[serde(serialize_with = "serialize_isa_plain")]
        isa: (u32, u32),
        /// The newest ISA the driver compiles.
        #[serde(serialize_with = "serialize_isa_plain")]
        driver_max: (u32, u32),
    },
    /// Nothing runs: "no kernel image is available for execution on the device"
    /// (`cudaErrorNoKernelImageForDevice`), or "invalid device function" from older runtimes.
    Missing {
        /// The SASS architectures present, sorted.
        sass: Vec<SmArch>,
        /// The PTX virtual architectures present, sorted.
        ptx: Vec<SmArch>,
    },
}

impl Verdict {
    /// True when the binary runs (SASS or PTX JIT).
    pub fn runs(&self) -> bool {
        matches!(self, Verdict::Sass { .. } | Verdict::PtxJit { .. })
    }
}

/// The family-specific (`f`) target families: every member of a family runs the family's `f`
/// code built for a member with a lower or equal minor.
const FAMILIES: &[&[(u8, u8)]] = &[
    &[(10, 0), (10, 3), (10, 7)],
    &[(11, 0)],
    &[(12, 0), (12, 1)],
];

/// The family of compute capability `cc`: the known list, else every CC of the same major.
fn same_family(a: (u8, u8), b: (u8, u8)) -> bool {
    let family = |cc: (u8, u8)| FAMILIES.iter().position(|f| f.contains(&cc));
    match (family(a), family(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.0 == b.0,
    }
}

/// Whether code for `arch` (SASS when `sass`, else PTX) may be used on compute capability `gpu`
/// (the ISA check for PTX is separate).
pub fn arch_matches(arch: SmArch, gpu: (u8, u8), sass: bool) -> bool {
    let (major, minor) = arch.cc();
    match arch.variant {
        Variant::A => (major, minor) == gpu,
        Variant::F => same_family((major, minor), gpu) && gpu.1 >= minor && gpu.0 == major,
        Variant::None if sass => gpu.0 == major && gpu.1 >= minor,
        Variant::None => gpu >= (major, minor),
    }
}

/// The verdict for `entries` (all entries of one binary) on a GPU of compute capability `gpu_cc`
/// whose driver compiles PTX up to `driver_max_ptx_isa` (`None`: unknown, the ISA is not
/// checked).
pub fn runs_on<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    gpu_cc: (u8, u8),
    driver_max_ptx_isa: Option<(u32, u32)>,
) -> Verdict {
    let mut sass_present = Vec::new();
    let mut ptx_present = Vec::new();
    let mut best_sass: Option<SmArch> = None;
    let mut best_ptx: Option<(SmArch, Option<(u32, u32)>)> = None;
    let mut too_new: Option<(SmArch, (u32, u32))> = None;
    for entry in entries {
        match entry.kind {
            EntryKind::Sass => {
                sass_present.push(entry.arch);
                if arch_matches(entry.arch, gpu_cc, true)
                    && best_sass.is_none_or(|best| sass_rank(entry.arch) > sass_rank(best))
                {
                    best_sass = Some(entry.arch);
                }
            }
            EntryKind::Ptx => {
                ptx_present.push(entry.arch);
                if !arch_matches(entry.arch, gpu_cc, false) {
                    continue;
                }
                match (entry.ptx_isa, driver_max_ptx_isa) {
                    (Some(isa), Some(max)) if isa > max => {
                        if too_new.is_none_or(|(_, lowest)| isa < lowest) {
                            too_new = Some((entry.arch, isa));
                        }
                    }
                    _ => {
                        if best_ptx.is_none_or(|(best, _)| sass_rank(entry.arch) > sass_rank(best))
                        {
                            best_ptx = Some((entry.arch, entry.ptx_isa));
                        }
                    }
                }
            }
            EntryKind::Unknown(_) => {}
        }
    }
    if let Some(arch) = best_sass {
        return Verdict::Sass { arch };
    }
    if let Some((arch, isa)) = best_ptx {
        return Verdict::PtxJit { arch, isa };
    }
    if let (Some((arch, isa)), Some(driver_max)) = (too_new, driver_max_ptx_isa) {
        return Verdict::PtxTooNew {
            arch,
            isa,
            driver_max,
        };
    }
    sass_present.sort_unstable();
    sass_present.dedup();
    ptx_present.sort_unstable();
    ptx_present.dedup();
    Verdict::Missing {
        sass: sass_present,
        ptx: ptx_present,
    }
}

/// Orders candidates: higher compute capability first, then the more specific variant
/// (`a` over `f` over plain), as the driver prefers the closest match.
fn sass_rank(arch: SmArch) -> (u8, u8, u8) {
    let specificity = match arch.variant {
        Variant::A => 2,
        Variant::F => 1,
        Variant::None => 0,
    };
    (arch.major, arch.minor, specificity)
}

/// The newest PTX ISA version a driver supporting CUDA `cuda_major.cuda_minor` compiles, from
/// the PTX ISA release history. `None` for versions before CUDA 9.0 or after the table (CUDA
/// 14+), where the answer is not known.
pub fn driver_max_ptx_isa(cuda_major: u32, cuda_minor: u32) -> Option<(u32, u32)> {
    let isa = match (cuda_major, cuda_minor) {
        (9, 0) => (6, 0),
        (9, 1) => (6, 1),
        (9, 2..) => (6, 2),
        (10, 0) => (6, 3),
        (10, 1) => (6, 4),
        (10, 2..) => (6, 5),
        // 11.0 → 7.0 … 11.8 → 7.8.
        (11, minor @ 0..=8) => (7, minor),
        (11, 9..) => (7, 8),
        // 12.0 → 8.0 … 12.5 → 8.5; 12.6 kept 8.5; 12.7 → 8.6; 12.8 → 8.7; 12.9 → 8.8.
        (12, minor @ 0..=5) => (8, minor),
        (12, 6) => (8, 5),
        (12, 7) => (8, 6),
        (12, 8) => (8, 7),
        (12, 9..) => (8, 8),
        // 13.0 → 9.0 … 13.5 → 9.5 (13.5 checked with ptxas); later 13.x continue the pattern.
        (13, minor) => (9, minor),
        _ => return None,
    };
    Some(isa)
}

#[expect(
    clippy::ref_option,
    reason = "serde's serialize_with passes &Option<T>"
)]
fn serialize_isa<S: serde::Serializer>(
    isa: &Option<(u32, u32)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match isa {
        Some(isa) => serialize_isa_plain(isa, serializer),
        None => serializer.serialize_none(),
    }
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's serialize_with passes &T"
)]
fn serialize_isa_plain<S: serde::Serializer>(
    isa: &(u32, u32),
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{}.{}", isa.0, isa.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(target: &str, isa: Option<(u32, u32)>) -> Entry {
        let (kind, name) = match target.strip_prefix("compute_") {
            Some(rest) => (EntryKind::Ptx, format!("sm_{rest}")),
            None => (EntryKind::Sass, target.to_owned()),
        };
        Entry {
            kind,
            arch: SmArch::parse(&name).unwrap(),
            target: target.to_owned(),
            ptx_isa: isa,
            compressed: false,
            compression: None,
            size: 0,
            stored_size: 0,
            debug: false,
            offset: 0,
            relocatable: false,
            kernels: None,
            concatenated: false,
        }
    }

    fn sm(name: &str) -> SmArch {
        SmArch::parse(name).unwrap()
    }

    #[test]
    fn compat_sass_rules_table() {
        // (SASS target, GPU CC, runs)
        let table: &[(&str, (u8, u8), bool)] = &[
            ("sm_80", (8, 0), true),
            ("sm_80", (8, 6), true),
            ("sm_80", (8, 9), true),
            ("sm_86", (8, 0), false),
            ("sm_80", (9, 0), false),
            ("sm_90", (9, 0), true),
            ("sm_90", (10, 0), false),
            ("sm_75", (8, 0), false),
            ("sm_90a", (9, 0), true),
            ("sm_100a", (10, 0), true),
            ("sm_100a", (10, 3), false),
            ("sm_100", (10, 3), true),
            ("sm_100f", (10, 0), true),
            ("sm_100f", (10, 3), true),
            ("sm_100f", (10, 7), true),
            ("sm_100f", (11, 0), false),
            ("sm_100f", (12, 0), false),
            ("sm_103f", (10, 0), false),
            ("sm_103f", (10, 3), true),
            ("sm_103a", (10, 3), true),
            ("sm_120f", (12, 1), true),
            ("sm_121f", (12, 0), false),
            ("sm_120a", (12, 1), false),
            ("sm_110f", (11, 0), true),
        ];
        for &(target, gpu, runs) in table {
            assert_eq!(
                arch_matches(sm(target), gpu, true),
                runs,
                "{target} on {gpu:?}"
            );
            let verdict = runs_on(&[entry(target, None)], gpu, Some((9, 0)));
            assert_eq!(verdict.runs(), runs, "{target} on {gpu:?}: {verdict:?}");
        }
    }

    #[test]
    fn compat_ptx_rules_table() {
        // (PTX target, GPU CC, driver max ISA, expected); every PTX here is ISA 8.0.
        type Row<'a> = (&'a str, (u8, u8), Option<(u32, u32)>, Verdict);
        let jit = |t: &str| Verdict::PtxJit {
            arch: sm(&format!("sm_{t}")),
            isa: Some((8, 0)),
        };
        let table: Vec<Row<'_>> = vec![
            ("compute_80", (8, 0), Some((8, 0)), jit("80")),
            ("compute_80", (9, 0), Some((8, 0)), jit("80")),
            ("compute_80", (12, 0), None, jit("80")),
            (
                "compute_80",
                (9, 0),
                Some((7, 8)),
                Verdict::PtxTooNew {
                    arch: sm("sm_80"),
                    isa: (8, 0),
                    driver_max: (7, 8),
                },
            ),
            (
                "compute_90",
                (8, 9),
                Some((9, 0)),
                Verdict::Missing {
                    sass: vec![],
                    ptx: vec![sm("sm_90")],
                },
            ),
            ("compute_90a", (9, 0), Some((8, 8)), jit("90a")),
            (
                "compute_90a",
                (10, 0),
                Some((8, 8)),
                Verdict::Missing {
                    sass: vec![],
                    ptx: vec![sm("sm_90a")],
                },
            ),
            ("compute_100f", (10, 3), Some((8, 8)), jit("100f")),
            (
                "compute_100f",
                (12, 0),
                Some((8, 8)),
                Verdict::Missing {
                    sass: vec![],
                    ptx: vec![sm("sm_100f")],
                },
            ),
        ];
        for (target, gpu, driver, expected) in table {
            let verdict = runs_on(&[entry(target, Some((8, 0)))], gpu, driver);
            assert_eq!(
                verdict, expected,
                "{target} on {gpu:?} with driver {driver:?}"
            );
        }
    }

    #[test]
    fn compat_prefers_sass_then_best_match() {
        let entries = [
            entry("sm_80", None),
            entry("sm_86", None),
            entry("sm_90", None),
            entry("sm_90a", None),
            entry("compute_90", Some((8, 4))),
        ];
        assert_eq!(
            runs_on(&entries, (8, 9), None),
            Verdict::Sass { arch: sm("sm_86") }
        );
        assert_eq!(
            runs_on(&entries, (9, 0), None),
            Verdict::Sass { arch: sm("sm_90a") }
        );
        assert_eq!(
            runs_on(&entries, (10, 0), Some((8, 4))),
            Verdict::PtxJit {
                arch: sm("sm_90"),
                isa: Some((8, 4))
            }
        );
        assert_eq!(
            runs_on(&entries, (12, 0), Some((8, 3))),
            Verdict::PtxTooNew {
                arch: sm("sm_90"),
                isa: (8, 4),
                driver_max: (8, 3)
            }
        );
        assert_eq!(
            runs_on(&entries, (7, 5), None),
            Verdict::Missing {
                sass: vec![sm("sm_80"), sm("sm_86"), sm("sm_90"), sm("sm_90a")],
                ptx: vec![sm("sm_90")]
            }
        );
        assert_eq!(
            runs_on(&[], (8, 0), None),
            Verdict::Missing {
                sass: vec![],
                ptx: vec![]
            }
        );
    }

    #[test]
    fn compat_ptx_picks_one_the_driver_can_compile() {
        let entries = [
            entry("compute_75", Some((7, 0))),
            entry("compute_90", Some((8, 8))),
        ];
        assert_eq!(
            runs_on(&entries, (12, 0), Some((8, 0))),
            Verdict::PtxJit {
                arch: sm("sm_75"),
                isa: Some((7, 0))
            }
        );
        assert_eq!(
            runs_on(&entries, (12, 0), Some((9, 0))),
            Verdict::PtxJit {
                arch: sm("sm_90"),
                isa: Some((8, 8))
            }
        );
    }

    #[test]
    fn compat_driver_ptx_table() {
        let table = [
            ((9, 0), Some((6, 0))),
            ((10, 2), Some((6, 5))),
            ((11, 0), Some((7, 0))),
            ((11, 8), Some((7, 8))),
            ((12, 0), Some((8, 0))),
            ((12, 4), Some((8, 4))),
            ((12, 6), Some((8, 5))),
            ((12, 8), Some((8, 7))),
            ((12, 9), Some((8, 8))),
            ((13, 0), Some((9, 0))),
            ((13, 5), Some((9, 5))),
            ((8, 0), None),
            ((14, 0), None),
        ];
        for ((major, minor), isa) in table {
            assert_eq!(
                driver_max_ptx_isa(major, minor),
                isa,
                "CUDA {major}.{minor}"
            );
        }
    }

    #[test]
    fn compat_verdict_json() {
        let v = Verdict::PtxTooNew {
            arch: sm("sm_90"),
            isa: (8, 8),
            driver_max: (8, 4),
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["verdict"], "ptx-too-new");
        assert_eq!(json["isa"], "8.8");
        assert_eq!(json["driver_max"], "8.4");
    }
}
