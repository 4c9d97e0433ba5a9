//! Header: `src/common/sdk/nvidia/inc/nvtypes.h`
//!
//! The scalar types of the ABI, as plain integers (so the structs can be `Pod`).

/// `NvHandle`: a 32-bit RM object handle.
pub type NvHandle = u32;
/// `NvP64`: a 64-bit user pointer, 8-aligned. Always written by the ioctl layer of the probe,
/// never by a caller.
pub type NvP64 = u64;
/// `NvBool`: one byte, 0 or 1.
pub type NvBool = u8;
