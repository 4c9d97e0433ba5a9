//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080gpu.h`
//!
//! NV2080 (subdevice) GPU commands: `hObject` is the subdevice handle.

use bytemuck::{Pod, Zeroable};

use crate::ctrl::info_list_variant;
use crate::layout::assert_layout;

/// `NV2080_CTRL_CMD_GPU_GET_INFO_V2`.
pub const NV2080_CTRL_CMD_GPU_GET_INFO_V2: u32 = 0x2080_0102;
/// `NV2080_CTRL_CMD_GPU_GET_NAME_STRING`.
pub const NV2080_CTRL_CMD_GPU_GET_NAME_STRING: u32 = 0x2080_0110;
/// `NV2080_CTRL_CMD_GPU_GET_GID_INFO`.
pub const NV2080_CTRL_CMD_GPU_GET_GID_INFO: u32 = 0x2080_014A;

/// `NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE`: MIG mode.
pub const NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE: u32 = 0x2A;
/// `NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION`: the SM version (`major << 8 | minor`).
pub const NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION: u32 = 0x2C;

info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` (`ctrl2080gpu.h`) before 530 (MAX 0x3E, 500 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V515, gpu_info_list_size, gpu_info_list, 0x3E, size = 500);
info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` since 530 (MAX 0x3F, 508 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V530, gpu_info_list_size, gpu_info_list, 0x3F, size = 508);
info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` since 535.43.02 (MAX 0x40, 516 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V535, gpu_info_list_size, gpu_info_list, 0x40, size = 516);
info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` since 545 (MAX 0x41, 524 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V545, gpu_info_list_size, gpu_info_list, 0x41, size = 524);
info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` since 575 (MAX 0x42, 532 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V575, gpu_info_list_size, gpu_info_list, 0x42, size = 532);
info_list_variant!(
    /// `NV2080_CTRL_GPU_GET_INFO_V2_PARAMS` since 580.65.06 (MAX 0x46, 564 bytes).
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580, gpu_info_list_size, gpu_info_list, 0x46, size = 564);

/// `NV2080_GPU_MAX_NAME_STRING_LENGTH`.
pub const NV2080_GPU_MAX_NAME_STRING_LENGTH: usize = 64;
/// `NV2080_CTRL_GPU_GET_NAME_STRING_FLAGS_TYPE_ASCII`.
pub const NAME_STRING_FLAGS_TYPE_ASCII: u32 = 0;

/// `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS` (`ctrl2080gpu.h`) up to 590.48.01 (132 bytes): the
/// name is a union of `ascii[64]` and `unicode[64]` (u16), kept here as its 128 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515 {
    /// `gpuNameStringFlags`: `NAME_STRING_FLAGS_TYPE_ASCII` (0) or UNICODE (1).
    pub gpu_name_string_flags: u32,
    /// `gpuNameString`: the ASCII name in the first 64 bytes when the flags ask for ASCII.
    pub gpu_name_string: [u8; 2 * NV2080_GPU_MAX_NAME_STRING_LENGTH],
}
assert_layout!(NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515, size = 132, align = 4,
    gpu_name_string_flags @ 0, gpu_name_string @ 4);

/// `NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS` since 595.44.02 (68 bytes, ASCII only).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595 {
    /// `gpuNameStringFlags`: ignored since 595.
    pub gpu_name_string_flags: u32,
    /// `gpuNameString.ascii`.
    pub gpu_name_string: [u8; NV2080_GPU_MAX_NAME_STRING_LENGTH],
}
assert_layout!(NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595, size = 68, align = 4,
    gpu_name_string_flags @ 0, gpu_name_string @ 4);

/// `NV2080_GPU_MAX_GID_LENGTH`.
pub const NV2080_GPU_MAX_GID_LENGTH: usize = 256;
/// `NV2080_GPU_CMD_GPU_GET_GID_FLAGS_FORMAT_BINARY` (bits 1:0 = 2): the 16 raw UUID bytes.
pub const GID_FLAGS_FORMAT_BINARY: u32 = 2;
/// `NV2080_GPU_CMD_GPU_GET_GID_FLAGS_FORMAT_ASCII` (0): `GPU-xxxxxxxx-...`.
pub const GID_FLAGS_FORMAT_ASCII: u32 = 0;
/// The length of a binary SHA-1 GPU UUID.
pub const GID_BINARY_LENGTH: usize = 16;

/// `NV2080_CTRL_GPU_GET_GID_INFO_PARAMS` (`ctrl2080gpu.h`). Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_CTRL_GPU_GET_GID_INFO_PARAMS {
    /// `index`: ignored for GPU UUIDs.
    pub index: u32,
    /// `flags`: FORMAT bits 1:0, TYPE bit 2 (SHA1 = 0), MODE bits 5:3 (GPU = 0).
    pub flags: u32,
    /// `length` (out): bytes of `data` used.
    pub length: u32,
    /// `data` (out).
    pub data: [u8; NV2080_GPU_MAX_GID_LENGTH],
}
assert_layout!(NV2080_CTRL_GPU_GET_GID_INFO_PARAMS, size = 268, align = 4,
    index @ 0, flags @ 4, length @ 8, data @ 12);
