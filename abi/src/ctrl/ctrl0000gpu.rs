//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl0000/ctrl0000gpu.h`
//!
//! NV0000 (client) GPU commands: `hObject` is the client handle.

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// `NV0000_CTRL_GPU_MAX_PROBED_GPUS`.
pub const NV0000_CTRL_GPU_MAX_PROBED_GPUS: usize = 32;
/// `NV0000_CTRL_GPU_INVALID_ID`: fills the unused list entries.
pub const NV0000_CTRL_GPU_INVALID_ID: u32 = 0xFFFF_FFFF;

/// `NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS`.
pub const NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS: u32 = 0x201;
/// `NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2`: needs an attached (initialised) GPU.
pub const NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2: u32 = 0x205;
/// `NV0000_CTRL_CMD_GPU_GET_PROBED_IDS`: does not touch GPUs.
pub const NV0000_CTRL_CMD_GPU_GET_PROBED_IDS: u32 = 0x214;

/// `NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS` (`ctrl0000gpu.h`) before 580.65.06 (256 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515 {
    /// `gpuIds`: probed, not excluded; unused entries are `NV0000_CTRL_GPU_INVALID_ID`.
    pub gpu_ids: [u32; NV0000_CTRL_GPU_MAX_PROBED_GPUS],
    /// `excludedGpuIds`.
    pub excluded_gpu_ids: [u32; NV0000_CTRL_GPU_MAX_PROBED_GPUS],
}
assert_layout!(NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515, size = 256, align = 4,
    gpu_ids @ 0, excluded_gpu_ids @ 128);

/// `NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS` (`ctrl0000gpu.h`) since 580.65.06 (384 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580 {
    /// `gpuIds`.
    pub gpu_ids: [u32; NV0000_CTRL_GPU_MAX_PROBED_GPUS],
    /// `excludedGpuIds`.
    pub excluded_gpu_ids: [u32; NV0000_CTRL_GPU_MAX_PROBED_GPUS],
    /// `gpuFlags`: bit 0 = SOC display.
    pub gpu_flags: [u32; NV0000_CTRL_GPU_MAX_PROBED_GPUS],
}
assert_layout!(NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580, size = 384, align = 4,
    gpu_ids @ 0, excluded_gpu_ids @ 128, gpu_flags @ 256);

/// `NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS` (`ctrl0000gpu.h`). Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS {
    /// `gpuId` (in): the `CARD_INFO` `gpu_id`.
    pub gpu_id: u32,
    /// `gpuFlags`.
    pub gpu_flags: u32,
    /// `deviceInstance`: the `deviceId` for an `NV01_DEVICE_0` allocation.
    pub device_instance: u32,
    /// `subDeviceInstance`.
    pub sub_device_instance: u32,
    /// `sliStatus`.
    pub sli_status: u32,
    /// `boardId`.
    pub board_id: u32,
    /// `gpuInstance`.
    pub gpu_instance: u32,
    /// `numaId`.
    pub numa_id: i32,
}
assert_layout!(NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS, size = 32, align = 4,
    gpu_id @ 0, gpu_flags @ 4, device_instance @ 8, sub_device_instance @ 12, sli_status @ 16,
    board_id @ 20, gpu_instance @ 24, numa_id @ 28);
