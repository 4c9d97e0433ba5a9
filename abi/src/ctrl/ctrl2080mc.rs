//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080mc.h` (architecture values also from
//! `kernel-open/nvidia-uvm/ctrl2080mc.h` and `src/common/inc/swref/published/nv_arch.h`)

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// `NV2080_CTRL_CMD_MC_GET_ARCH_INFO`.
pub const NV2080_CTRL_CMD_MC_GET_ARCH_INFO: u32 = 0x2080_1701;

/// `NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS` (`ctrl2080mc.h`). Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS {
    /// `architecture`: `NV2080_CTRL_MC_ARCH_INFO_ARCHITECTURE_*` (`PMC_BOOT_0` arch << 4).
    pub architecture: u32,
    /// `implementation`: the chip within the architecture.
    pub implementation: u32,
    /// `revision`: `major << 4 | minor` (0xA1 is stepping A1).
    pub revision: u32,
    /// `subRevision`: `NV2080_CTRL_MC_ARCH_INFO_SUBREVISION_*`.
    pub sub_revision: u8,
    /// Padding.
    _pad0: [u8; 3],
}
assert_layout!(NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS, size = 16, align = 4,
    architecture @ 0, implementation @ 4, revision @ 8, sub_revision @ 12, _pad0 @ 13);

/// `NV2080_CTRL_MC_ARCH_INFO_ARCHITECTURE_GM000` (Maxwell `GM10x`).
pub const ARCHITECTURE_GM000: u32 = 0x110;
/// `..._GM200` (Maxwell 2).
pub const ARCHITECTURE_GM200: u32 = 0x120;
/// `..._GP100` (Pascal).
pub const ARCHITECTURE_GP100: u32 = 0x130;
/// `..._GV100` (Volta).
pub const ARCHITECTURE_GV100: u32 = 0x140;
/// Volta 2 (GV11B), `GPU_ARCHITECTURE_VOLTA2` in `nv_arch.h`.
pub const ARCHITECTURE_GV110: u32 = 0x150;
/// `..._TU100` (Turing).
pub const ARCHITECTURE_TU100: u32 = 0x160;
/// `..._GA100` (Ampere).
pub const ARCHITECTURE_GA100: u32 = 0x170;
/// `..._GH100` (Hopper).
pub const ARCHITECTURE_GH100: u32 = 0x180;
/// `..._AD100` (Ada Lovelace).
pub const ARCHITECTURE_AD100: u32 = 0x190;
/// `..._GB100` (Blackwell `GB1xx`).
pub const ARCHITECTURE_GB100: u32 = 0x1A0;
/// `..._GB200` (Blackwell `GB2xx`).
pub const ARCHITECTURE_GB200: u32 = 0x1B0;
/// `..._T23X` (Tegra Orin display).
pub const ARCHITECTURE_T23X: u32 = 0xE000_0023;
