//! Driver version → ABI variant: one table of the releases where a layout nvprobe uses changed.
//!
//! Every row is "from this release on, this item has this layout" (first OGKM tag with the
//! change). A version gets the oldest layouts with every row at or below it applied. Versions
//! from branch 515 to branch 595 are `exact` (LTS point releases follow their branch); anything
//! newer (or older) gets the nearest known layouts and is reported as `extrapolated`.

use std::fmt;

/// A driver version as the driver writes it (`580.159.04`): 2 or 3 numeric parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverVersion {
    /// Major: the branch (`580`).
    pub major: u32,
    /// Minor (`159`).
    pub minor: u32,
    /// Patch (`4` for `04`); 0 when absent.
    pub patch: u32,
    text: String,
}

impl DriverVersion {
    /// Parses `580.159.04` or `396.26`; `None` for anything else (garbage, empty, 4 parts,
    /// parts longer than 6 digits).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let mut parts = [0_u32; 3];
        let mut count = 0;
        for part in text.split('.') {
            if count == 3 || part.is_empty() || part.len() > 6 {
                return None;
            }
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *parts.get_mut(count)? = part.parse().ok()?;
            count += 1;
        }
        if count < 2 || parts[0] == 0 {
            return None;
        }
        Some(Self {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            text: text.to_owned(),
        })
    }

    /// The version as the driver wrote it (zero padding kept).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn key(&self) -> (u32, u32, u32) {
        (self.major, self.minor, self.patch)
    }
}

impl fmt::Display for DriverVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Whether the layouts were known for the driver's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbiMatch {
    /// The version is inside the range of releases the table was built from.
    Exact,
    /// Unknown (newer, older, or no version at all): the nearest known layouts are used.
    Extrapolated,
}

impl AbiMatch {
    /// `exact` or `extrapolated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exact => "exact",
            Self::Extrapolated => "extrapolated",
        }
    }
}

macro_rules! layout_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $size:expr),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every variant, oldest first.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The parameter struct's size in bytes.
            pub fn size(self) -> usize {
                match self {
                    $(Self::$variant => $size),+
                }
            }

            /// This variant first, then the others newest first: the order to try sizes in
            /// when the driver answers "wrong params size".
            pub fn try_order(self) -> Vec<Self> {
                let mut order = vec![self];
                order.extend(Self::ALL.iter().rev().copied().filter(|v| *v != self));
                order
            }
        }
    };
}

use nvprobe_abi::ctrl::ctrl0000gpu as c0000gpu;
use nvprobe_abi::ctrl::ctrl0000system as c0000sys;
use nvprobe_abi::ctrl::ctrl2080fb as c2080fb;
use nvprobe_abi::ctrl::ctrl2080gpu as c2080gpu;
use nvprobe_abi::nvos;

layout_enum!(
    /// `NVOS21_PARAMETERS`: where `status` is.
    Nvos21Layout {
        /// Status at 24 (before 535.43.02).
        V515 = size_of::<nvos::NVOS21_PARAMETERS_V515>(),
        /// `paramsSize` at 24, status at 28.
        V535 = size_of::<nvos::NVOS21_PARAMETERS>(),
    }
);
layout_enum!(
    /// `NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS`.
    ProbedIdsLayout {
        /// 256 bytes.
        V515 = size_of::<c0000gpu::NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515>(),
        /// 384 bytes (from 580.65.06).
        V580 = size_of::<c0000gpu::NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580>(),
    }
);
layout_enum!(
    /// `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS`.
    NameStringLayout {
        /// 132 bytes.
        V515 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515>(),
        /// 68 bytes (from 595.44.02).
        V595 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595>(),
    }
);
layout_enum!(
    /// `NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS`.
    BuildVersionLayout {
        /// 776 bytes.
        V515 = size_of::<c0000sys::NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515>(),
        /// 1032 bytes (from 560.28.03).
        V560 = size_of::<c0000sys::NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560>(),
    }
);
layout_enum!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` (`GPU_INFO_MAX_LIST_SIZE`).
    GpuInfoLayout {
        /// MAX 0x3E.
        V515 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V515>(),
        /// MAX 0x3F.
        V530 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V530>(),
        /// MAX 0x40.
        V535 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V535>(),
        /// MAX 0x41.
        V545 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V545>(),
        /// MAX 0x42.
        V575 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V575>(),
        /// MAX 0x46.
        V580 = size_of::<c2080gpu::NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580>(),
    }
);
layout_enum!(
    /// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` (`FB_INFO_MAX_LIST_SIZE`).
    FbInfoLayout {
        /// MAX 0x36.
        V515 = size_of::<c2080fb::NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V515>(),
        /// MAX 0x37.
        V545 = size_of::<c2080fb::NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V545>(),
        /// MAX 0x39.
        V560 = size_of::<c2080fb::NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V560>(),
        /// MAX 0x80.
        V580 = size_of::<c2080fb::NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V580>(),
    }
);

/// The layouts and behaviours of one driver release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbiVariant {
    /// `NV_ESC_RM_ALLOC`'s `NVOS21_PARAMETERS`.
    pub nvos21: Nvos21Layout,
    /// `GET_PROBED_IDS`.
    pub probed_ids: ProbedIdsLayout,
    /// `GET_NAME_STRING`.
    pub name_string: NameStringLayout,
    /// `SYSTEM_GET_BUILD_VERSION_V2`.
    pub build_version: BuildVersionLayout,
    /// `GPU_GET_INFO_V2`.
    pub gpu_info: GpuInfoLayout,
    /// `FB_GET_INFO_V2`.
    pub fb_info: FbInfoLayout,
    /// `NV_ESC_CHECK_VERSION_STR` with QUERY returns the string (from 530.30.02).
    pub query_returns_string: bool,
    /// `NV_ESC_WAIT_OPEN_COMPLETE` and non-blocking opens exist (from 550.40.07).
    pub wait_open_complete: bool,
}

#[derive(Clone, Copy)]
enum Change {
    QueryReturnsString,
    WaitOpenComplete,
    Nvos21(Nvos21Layout),
    ProbedIds(ProbedIdsLayout),
    NameString(NameStringLayout),
    BuildVersion(BuildVersionLayout),
    GpuInfo(GpuInfoLayout),
    FbInfo(FbInfoLayout),
}

/// The oldest release the table knows (first OGKM tag).
const OLDEST_BRANCH: u32 = 515;
/// The newest branch the table knows (newest OGKM tag 595.45.04).
const NEWEST_BRANCH: u32 = 595;

/// The one table: (first release with the change, the change), sorted by release.
/// Source: open-gpu-kernel-modules per-tag comparison (`shared/research/abi-facts.md` §4.1).
const CHANGES: &[((u32, u32, u32), Change)] = &[
    ((530, 30, 2), Change::QueryReturnsString),
    ((530, 30, 2), Change::GpuInfo(GpuInfoLayout::V530)),
    ((535, 43, 2), Change::Nvos21(Nvos21Layout::V535)),
    ((535, 43, 2), Change::GpuInfo(GpuInfoLayout::V535)),
    ((545, 23, 6), Change::GpuInfo(GpuInfoLayout::V545)),
    ((545, 23, 6), Change::FbInfo(FbInfoLayout::V545)),
    ((550, 40, 7), Change::WaitOpenComplete),
    ((560, 28, 3), Change::BuildVersion(BuildVersionLayout::V560)),
    ((560, 28, 3), Change::FbInfo(FbInfoLayout::V560)),
    ((575, 51, 2), Change::GpuInfo(GpuInfoLayout::V575)),
    ((580, 65, 6), Change::ProbedIds(ProbedIdsLayout::V580)),
    ((580, 65, 6), Change::GpuInfo(GpuInfoLayout::V580)),
    ((580, 65, 6), Change::FbInfo(FbInfoLayout::V580)),
    ((595, 44, 2), Change::NameString(NameStringLayout::V595)),
];

impl AbiVariant {
    /// The layouts of the oldest known release (515.43.04).
    pub const OLDEST: Self = Self {
        nvos21: Nvos21Layout::V515,
        probed_ids: ProbedIdsLayout::V515,
        name_string: NameStringLayout::V515,
        build_version: BuildVersionLayout::V515,
        gpu_info: GpuInfoLayout::V515,
        fb_info: FbInfoLayout::V515,
        query_returns_string: false,
        wait_open_complete: false,
    };

    fn apply(mut self, change: Change) -> Self {
        match change {
            Change::QueryReturnsString => self.query_returns_string = true,
            Change::WaitOpenComplete => self.wait_open_complete = true,
            Change::Nvos21(l) => self.nvos21 = l,
            Change::ProbedIds(l) => self.probed_ids = l,
            Change::NameString(l) => self.name_string = l,
            Change::BuildVersion(l) => self.build_version = l,
            Change::GpuInfo(l) => self.gpu_info = l,
            Change::FbInfo(l) => self.fb_info = l,
        }
        self
    }

    /// The layouts of the newest known release.
    pub fn newest() -> Self {
        CHANGES.iter().fold(Self::OLDEST, |v, (_, c)| v.apply(*c))
    }

    /// The variant for a driver version, and whether the table knew that version.
    /// `None` (version unknown) gives the newest layouts, `extrapolated`.
    pub fn for_version(version: Option<&DriverVersion>) -> (Self, AbiMatch) {
        let Some(version) = version else {
            return (Self::newest(), AbiMatch::Extrapolated);
        };
        let variant = CHANGES
            .iter()
            .filter(|(first, _)| *first <= version.key())
            .fold(Self::OLDEST, |v, (_, c)| v.apply(*c));
        let known = (OLDEST_BRANCH..=NEWEST_BRANCH).contains(&version.major);
        (
            variant,
            if known {
                AbiMatch::Exact
            } else {
                AbiMatch::Extrapolated
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> (AbiVariant, AbiMatch) {
        AbiVariant::for_version(Some(&DriverVersion::parse(s).unwrap()))
    }

    #[test]
    fn variant_table_is_sorted() {
        assert!(CHANGES.windows(2).all(|w| w[0].0 <= w[1].0));
    }

    #[test]
    fn variant_version_parse() {
        let d = DriverVersion::parse("580.159.04\n").unwrap();
        assert_eq!(
            (d.major, d.minor, d.patch, d.as_str()),
            (580, 159, 4, "580.159.04")
        );
        assert_eq!(DriverVersion::parse("396.26").unwrap().patch, 0);
        for bad in [
            "",
            "580",
            "580.",
            ".1.2",
            "580.1.2.3",
            "58O.1.2",
            "1234567.1.1",
            "0.1.1",
            "x",
        ] {
            assert!(DriverVersion::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn variant_per_release() {
        let (a, m) = v("525.147.05");
        assert_eq!(m, AbiMatch::Exact);
        assert_eq!(a, AbiVariant::OLDEST);
        let (a, _) = v("530.30.02");
        assert!(a.query_returns_string);
        assert_eq!(a.nvos21, Nvos21Layout::V515);
        let (a, _) = v("535.288.01");
        assert_eq!(
            (a.nvos21, a.gpu_info, a.fb_info),
            (Nvos21Layout::V535, GpuInfoLayout::V535, FbInfoLayout::V515)
        );
        assert!(!a.wait_open_complete);
        let (a, _) = v("550.40.07");
        assert!(a.wait_open_complete);
        assert_eq!(a.build_version, BuildVersionLayout::V515);
        let (a, _) = v("570.133.07");
        assert_eq!(
            (a.build_version, a.fb_info, a.gpu_info),
            (
                BuildVersionLayout::V560,
                FbInfoLayout::V560,
                GpuInfoLayout::V545
            )
        );
        let (a, _) = v("580.95.05");
        assert_eq!(
            (a.probed_ids, a.gpu_info, a.fb_info),
            (
                ProbedIdsLayout::V580,
                GpuInfoLayout::V580,
                FbInfoLayout::V580
            )
        );
        assert_eq!(a.name_string, NameStringLayout::V515);
        let (a, m) = v("595.45.04");
        assert_eq!(
            (a.name_string, m),
            (NameStringLayout::V595, AbiMatch::Exact)
        );
        assert_eq!(a, AbiVariant::newest());
    }

    #[test]
    fn variant_unknown_newer_is_extrapolated_newest() {
        let (a, m) = v("620.6.0");
        assert_eq!((a, m), (AbiVariant::newest(), AbiMatch::Extrapolated));
        assert_eq!(AbiVariant::for_version(None).1, AbiMatch::Extrapolated);
        assert_eq!(v("470.256.02").1, AbiMatch::Extrapolated);
    }

    #[test]
    fn variant_try_order_starts_with_choice() {
        assert_eq!(
            GpuInfoLayout::V535.try_order(),
            vec![
                GpuInfoLayout::V535,
                GpuInfoLayout::V580,
                GpuInfoLayout::V575,
                GpuInfoLayout::V545,
                GpuInfoLayout::V530,
                GpuInfoLayout::V515
            ]
        );
        assert_eq!(NameStringLayout::V595.size(), 68);
    }
}
