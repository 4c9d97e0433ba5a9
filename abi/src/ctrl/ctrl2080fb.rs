//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080fb.h`
//!
//! `NV2080_CTRL_FB_INFO_MAX_LIST_SIZE`, and so the V2 params size, changed in 545, 560.28.03 and
//! 580.65.06. The driver rejects any other `paramsSize`.

use crate::ctrl::info_list_variant;

/// `NV2080_CTRL_CMD_FB_GET_INFO_V2`.
pub const NV2080_CTRL_CMD_FB_GET_INFO_V2: u32 = 0x2080_1303;
/// `NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE`: memory physically present, in KiB (0 on zero-FB chips).
pub const NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE: u32 = 0x7;
/// `NV2080_CTRL_FB_INFO_INDEX_TOTAL_RAM_SIZE`, in KiB.
pub const NV2080_CTRL_FB_INFO_INDEX_TOTAL_RAM_SIZE: u32 = 0x8;

info_list_variant!(
    /// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` (`ctrl2080fb.h`) before 545 (MAX 0x36, 436 bytes).
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V515, fb_info_list_size, fb_info_list, 0x36, size = 436);
info_list_variant!(
    /// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` since 545 (MAX 0x37, 444 bytes).
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V545, fb_info_list_size, fb_info_list, 0x37, size = 444);
info_list_variant!(
    /// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` since 560.28.03 (MAX 0x39, 460 bytes).
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V560, fb_info_list_size, fb_info_list, 0x39, size = 460);
info_list_variant!(
    /// `NV2080_CTRL_FB_GET_INFO_V2_PARAMS` since 580.65.06 (MAX 0x80, 1028 bytes).
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V580, fb_info_list_size, fb_info_list, 0x80, size = 1028);
