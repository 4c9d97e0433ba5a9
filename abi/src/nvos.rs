//! Header: `src/common/sdk/nvidia/inc/nvos.h`
//!
//! The RM escapes' argument structs. The ioctl returns 0 even when the RM operation failed; the
//! result is the `status` field.
//!
//! `NVOS21_PARAMETERS` is 32 bytes in every release, but `status` moved from offset 24 to 28 in
//! 535.43.02 (when `paramsSize` was inserted). The kernel cannot tell the two layouts apart, so
//! the client picks the variant from the driver version. nvprobe never sends NVOS64.

use bytemuck::{Pod, Zeroable};

use crate::escape::{NV_ESC_RM_ALLOC, NV_ESC_RM_CONTROL, NV_ESC_RM_FREE, request};
use crate::layout::assert_layout;
use crate::status::NvStatus;
use crate::types::{NvHandle, NvP64};

/// Offset of the embedded pointer (`params` of NVOS54, `pAllocParms` of NVOS21) in both structs.
pub const NVOS_PARAMS_POINTER_OFFSET: usize = 16;

/// `NVOS00_PARAMETERS` (`nvos.h`): the argument of `NV_ESC_RM_FREE`. Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NVOS00_PARAMETERS {
    /// `hRoot`: the client.
    pub h_root: NvHandle,
    /// `hObjectParent`.
    pub h_object_parent: NvHandle,
    /// `hObjectOld`: the object to free; the client itself frees the whole client.
    pub h_object_old: NvHandle,
    /// `status` (out).
    pub status: NvStatus,
}
assert_layout!(NVOS00_PARAMETERS, size = 16, align = 4,
    h_root @ 0, h_object_parent @ 4, h_object_old @ 8, status @ 12);

/// `NVOS54_PARAMETERS` (`nvos.h`): the argument of `NV_ESC_RM_CONTROL`. Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NVOS54_PARAMETERS {
    /// `hClient`.
    pub h_client: NvHandle,
    /// `hObject`: the client for NV0000 commands, the subdevice for NV2080 commands.
    pub h_object: NvHandle,
    /// `cmd`: the control command.
    pub cmd: u32,
    /// `flags`: 0 from user space.
    pub flags: u32,
    /// `params`: pointer to the command's parameter struct (set by the ioctl layer only).
    pub params: NvP64,
    /// `paramsSize`: must equal the driver's `sizeof` of the parameter struct.
    pub params_size: u32,
    /// `status` (out).
    pub status: NvStatus,
}
assert_layout!(NVOS54_PARAMETERS, size = 32, align = 8,
    h_client @ 0, h_object @ 4, cmd @ 8, flags @ 12, params @ 16, params_size @ 24, status @ 28);

/// `NVOS21_PARAMETERS` (`nvos.h`) as of 535.43.02 and later: the argument of `NV_ESC_RM_ALLOC`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NVOS21_PARAMETERS {
    /// `hRoot`: the client (0 when allocating a client).
    pub h_root: NvHandle,
    /// `hObjectParent`.
    pub h_object_parent: NvHandle,
    /// `hObjectNew` (in/out): 0 lets RM choose a handle.
    pub h_object_new: NvHandle,
    /// `hClass`.
    pub h_class: u32,
    /// `pAllocParms`: pointer to the class's allocation parameters (set by the ioctl layer only).
    pub p_alloc_parms: NvP64,
    /// `paramsSize`: `sizeof` the allocation parameters, 0 with a NULL pointer.
    pub params_size: u32,
    /// `status` (out).
    pub status: NvStatus,
}
assert_layout!(NVOS21_PARAMETERS, size = 32, align = 8,
    h_root @ 0, h_object_parent @ 4, h_object_new @ 8, h_class @ 12, p_alloc_parms @ 16,
    params_size @ 24, status @ 28);

/// `NVOS21_PARAMETERS` (`nvos.h`) from 515.43.04 to 530.41.03: no `paramsSize`, `status` at 24.
///
/// Before 535.43.02. Same size as [`NVOS21_PARAMETERS`], so the same request number.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NVOS21_PARAMETERS_V515 {
    /// `hRoot`.
    pub h_root: NvHandle,
    /// `hObjectParent`.
    pub h_object_parent: NvHandle,
    /// `hObjectNew` (in/out).
    pub h_object_new: NvHandle,
    /// `hClass`.
    pub h_class: u32,
    /// `pAllocParms`.
    pub p_alloc_parms: NvP64,
    /// `status` (out).
    pub status: NvStatus,
    /// Padding.
    _pad0: [u8; 4],
}
assert_layout!(NVOS21_PARAMETERS_V515, size = 32, align = 8,
    h_root @ 0, h_object_parent @ 4, h_object_new @ 8, h_class @ 12, p_alloc_parms @ 16,
    status @ 24, _pad0 @ 28);

/// `_IOWR('F', NV_ESC_RM_FREE, NVOS00_PARAMETERS)` = `0xC0104629`.
pub const REQ_RM_FREE: u32 = request::<NVOS00_PARAMETERS>(NV_ESC_RM_FREE);
/// `_IOWR('F', NV_ESC_RM_CONTROL, NVOS54_PARAMETERS)` = `0xC020462A`.
pub const REQ_RM_CONTROL: u32 = request::<NVOS54_PARAMETERS>(NV_ESC_RM_CONTROL);
/// `_IOWR('F', NV_ESC_RM_ALLOC, NVOS21_PARAMETERS)` = `0xC020462B` (both NVOS21 layouts).
pub const REQ_RM_ALLOC: u32 = request::<NVOS21_PARAMETERS>(NV_ESC_RM_ALLOC);
