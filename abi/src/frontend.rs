//! Header: `kernel-open/common/inc/nv-ioctl.h`
//!
//! The frontend escapes' argument structs. None of them changed from 515.43.04 to 595.45.04.

use bytemuck::{Pod, Zeroable};

use crate::escape::{
    NV_ESC_CARD_INFO, NV_ESC_CHECK_VERSION_STR, NV_ESC_WAIT_OPEN_COMPLETE, request,
};
use crate::layout::assert_layout;
use crate::types::NvBool;

/// `NV_RM_API_VERSION_STRING_LENGTH`.
pub const NV_RM_API_VERSION_STRING_LENGTH: usize = 64;
/// `NV_RM_API_VERSION_CMD_STRICT`: compare the whole string; on a mismatch `EINVAL`, the
/// driver's string and a kernel-log line.
pub const NV_RM_API_VERSION_CMD_STRICT: u32 = 0;
/// `NV_RM_API_VERSION_CMD_RELAXED` (`'1'`): compare the branch only.
pub const NV_RM_API_VERSION_CMD_RELAXED: u32 = b'1' as u32;
/// `NV_RM_API_VERSION_CMD_QUERY` (`'2'`): return the driver's string, no log. Before 530.30.02
/// the value was named `_OVERRIDE` and left the string untouched.
pub const NV_RM_API_VERSION_CMD_QUERY: u32 = b'2' as u32;
/// `NV_RM_API_VERSION_REPLY_UNRECOGNIZED`.
pub const NV_RM_API_VERSION_REPLY_UNRECOGNIZED: u32 = 0;
/// `NV_RM_API_VERSION_REPLY_RECOGNIZED`.
pub const NV_RM_API_VERSION_REPLY_RECOGNIZED: u32 = 1;

/// `nv_ioctl_rm_api_version_t` (`nv-ioctl.h`): the argument of `NV_ESC_CHECK_VERSION_STR`.
#[doc(alias = "nv_rm_api_version_t")]
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct nv_ioctl_rm_api_version_t {
    /// `cmd`: one of the `NV_RM_API_VERSION_CMD_*` values.
    pub cmd: u32,
    /// `reply` (out): `NV_RM_API_VERSION_REPLY_*`.
    pub reply: u32,
    /// `versionString`: in for STRICT/RELAXED, out (NUL-terminated) for QUERY or a mismatch.
    pub version_string: [u8; NV_RM_API_VERSION_STRING_LENGTH],
}
assert_layout!(nv_ioctl_rm_api_version_t, size = 72, align = 4,
    cmd @ 0, reply @ 4, version_string @ 8);

/// `nv_pci_info_t` (`nv-ioctl.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct nv_pci_info_t {
    /// `domain`.
    pub domain: u32,
    /// `bus`.
    pub bus: u8,
    /// `slot` (the PCI device number).
    pub slot: u8,
    /// `function`: never filled by `CARD_INFO` (always 0).
    pub function: u8,
    /// Padding.
    _pad0: u8,
    /// `vendor_id`.
    pub vendor_id: u16,
    /// `device_id`.
    pub device_id: u16,
}
assert_layout!(nv_pci_info_t, size = 12, align = 4,
    domain @ 0, bus @ 4, slot @ 5, function @ 6, _pad0 @ 7, vendor_id @ 8, device_id @ 10);

/// `nv_ioctl_card_info_t` (`nv-ioctl.h`): one element of the `NV_ESC_CARD_INFO` array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct nv_ioctl_card_info_t {
    /// `valid`: non-zero for each filled entry.
    pub valid: NvBool,
    /// Padding.
    _pad0: [u8; 3],
    /// `pci_info`.
    pub pci_info: nv_pci_info_t,
    /// `gpu_id`: the RM gpuId used by the NV0000 GPU controls.
    pub gpu_id: u32,
    /// `interrupt_line`.
    pub interrupt_line: u16,
    /// Padding.
    _pad1: [u8; 2],
    /// `reg_address`: BAR0 physical address.
    pub reg_address: u64,
    /// `reg_size`: BAR0 size.
    pub reg_size: u64,
    /// `fb_address`: BAR1 physical address.
    pub fb_address: u64,
    /// `fb_size`: the BAR1 aperture, not the memory size.
    pub fb_size: u64,
    /// `minor_number`: the N of `/dev/nvidiaN`.
    pub minor_number: u32,
    /// `dev_name`: unused on Linux.
    pub dev_name: [u8; 10],
    /// Padding.
    _pad2: [u8; 2],
}
assert_layout!(nv_ioctl_card_info_t, size = 72, align = 8,
    valid @ 0, _pad0 @ 1, pci_info @ 4, gpu_id @ 16, interrupt_line @ 20, _pad1 @ 22,
    reg_address @ 24, reg_size @ 32, fb_address @ 40, fb_size @ 48, minor_number @ 56,
    dev_name @ 60, _pad2 @ 70);

/// `NV_MAX_DEVICES` (`nvlimits.h`): the usual `CARD_INFO` array length.
pub const NV_MAX_DEVICES: usize = 32;

/// A `CARD_INFO` request for an array of `N` entries.
pub type CardInfoArray<const N: usize> = [nv_ioctl_card_info_t; N];

/// `nv_ioctl_wait_open_complete_t` (`nv-ioctl.h`, since 550.40.07): the argument of
/// `NV_ESC_WAIT_OPEN_COMPLETE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct nv_ioctl_wait_open_complete_t {
    /// `rc`: 0, or the negative errno of the deferred open.
    pub rc: i32,
    /// `adapterStatus`: an `NV_STATUS`.
    pub adapter_status: u32,
}
assert_layout!(nv_ioctl_wait_open_complete_t, size = 8, align = 4,
    rc @ 0, adapter_status @ 4);

/// `_IOWR('F', NV_ESC_CHECK_VERSION_STR, nv_ioctl_rm_api_version_t)`.
pub const REQ_CHECK_VERSION_STR: u32 =
    request::<nv_ioctl_rm_api_version_t>(NV_ESC_CHECK_VERSION_STR);
/// `_IOWR('F', NV_ESC_CARD_INFO, nv_ioctl_card_info_t[NV_MAX_DEVICES])`.
pub const REQ_CARD_INFO_32: u32 = request::<CardInfoArray<NV_MAX_DEVICES>>(NV_ESC_CARD_INFO);
/// `_IOWR('F', NV_ESC_WAIT_OPEN_COMPLETE, nv_ioctl_wait_open_complete_t)`.
pub const REQ_WAIT_OPEN_COMPLETE: u32 =
    request::<nv_ioctl_wait_open_complete_t>(NV_ESC_WAIT_OPEN_COMPLETE);
