//! Header: `src/common/sdk/nvidia/inc/class/cl0000.h`, `cl0080.h`, `cl2080.h`
//!
//! The RM classes nvprobe allocates, and their allocation parameters (same in every release).

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;
use crate::types::NvHandle;

/// `NV01_ROOT` (`cl0000.h`).
pub const NV01_ROOT: u32 = 0x0000_0000;
/// `NV01_ROOT_NON_PRIV` (`cl0001.h`).
pub const NV01_ROOT_NON_PRIV: u32 = 0x0000_0001;
/// `NV01_ROOT_CLIENT` (`nvos.h`): a root client; every root class becomes this one.
pub const NV01_ROOT_CLIENT: u32 = 0x0000_0041;
/// `NV01_DEVICE_0` (`cl0080.h`): a device, child of a client.
pub const NV01_DEVICE_0: u32 = 0x0000_0080;
/// `NV20_SUBDEVICE_0` (`cl2080.h`): a subdevice, child of a device.
pub const NV20_SUBDEVICE_0: u32 = 0x0000_2080;

/// `NV0080_ALLOC_PARAMETERS` (`cl0080.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV0080_ALLOC_PARAMETERS {
    /// `deviceId`: the `deviceInstance` from `NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2`.
    pub device_id: u32,
    /// `hClientShare`.
    pub h_client_share: NvHandle,
    /// `hTargetClient`.
    pub h_target_client: NvHandle,
    /// `hTargetDevice`.
    pub h_target_device: NvHandle,
    /// `flags`.
    pub flags: u32,
    /// Padding.
    _pad0: [u8; 4],
    /// `vaSpaceSize`.
    pub va_space_size: u64,
    /// `vaStartInternal`.
    pub va_start_internal: u64,
    /// `vaLimitInternal`.
    pub va_limit_internal: u64,
    /// `vaMode`.
    pub va_mode: u32,
    /// Padding.
    _pad1: [u8; 4],
}
assert_layout!(NV0080_ALLOC_PARAMETERS, size = 56, align = 8,
    device_id @ 0, h_client_share @ 4, h_target_client @ 8, h_target_device @ 12, flags @ 16,
    _pad0 @ 20, va_space_size @ 24, va_start_internal @ 32, va_limit_internal @ 40,
    va_mode @ 48, _pad1 @ 52);

/// `NV2080_ALLOC_PARAMETERS` (`cl2080.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_ALLOC_PARAMETERS {
    /// `subDeviceId`.
    pub sub_device_id: u32,
}
assert_layout!(NV2080_ALLOC_PARAMETERS, size = 4, align = 4, sub_device_id @ 0);

/// The size of a class's allocation parameters as the kernel copies them (the kernel takes the
/// size from its class table, not from `paramsSize`), for the classes nvprobe allocates.
pub const fn alloc_params_size(class: u32) -> Option<usize> {
    match class {
        NV01_ROOT | NV01_ROOT_NON_PRIV | NV01_ROOT_CLIENT => Some(size_of::<NvHandle>()),
        NV01_DEVICE_0 => Some(size_of::<NV0080_ALLOC_PARAMETERS>()),
        NV20_SUBDEVICE_0 => Some(size_of::<NV2080_ALLOC_PARAMETERS>()),
        _ => None,
    }
}
