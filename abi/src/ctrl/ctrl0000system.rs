//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl0000/ctrl0000system.h`

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// `NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2`: the driver's version strings, no pointers.
/// Not allowed by gVisor nvproxy.
pub const NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2: u32 = 0x13E;
/// `NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_MAX_STRING_SIZE`.
pub const BUILD_VERSION_V2_MAX_STRING_SIZE: usize = 256;

/// `NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS` (`ctrl0000system.h`) before 560.28.03
/// (776 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515 {
    /// `driverVersionBuffer`: `NV_VERSION_STRING`, NUL-terminated.
    pub driver_version_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `versionBuffer`.
    pub version_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `titleBuffer`.
    pub title_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `changelistNumber`.
    pub changelist_number: u32,
    /// `officialChangelistNumber`.
    pub official_changelist_number: u32,
}
assert_layout!(NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515, size = 776, align = 4,
    driver_version_buffer @ 0, version_buffer @ 256, title_buffer @ 512,
    changelist_number @ 768, official_changelist_number @ 772);

/// `NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS` (`ctrl0000system.h`) since 560.28.03
/// (1032 bytes: `driverBranch` inserted at 512).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560 {
    /// `driverVersionBuffer`.
    pub driver_version_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `versionBuffer`.
    pub version_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `driverBranch`.
    pub driver_branch: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `titleBuffer`.
    pub title_buffer: [u8; BUILD_VERSION_V2_MAX_STRING_SIZE],
    /// `changelistNumber`.
    pub changelist_number: u32,
    /// `officialChangelistNumber`.
    pub official_changelist_number: u32,
}
assert_layout!(NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560, size = 1032, align = 4,
    driver_version_buffer @ 0, version_buffer @ 256, driver_branch @ 512, title_buffer @ 768,
    changelist_number @ 1024, official_changelist_number @ 1028);
