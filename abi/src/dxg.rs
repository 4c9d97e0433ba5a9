//! Header: `include/uapi/misc/d3dkmthk.h` (microsoft/WSL2-Linux-Kernel)
//!
//! The WSL2 GPU paravirtualisation device `/dev/dxg` (`dxgkrnl`): the few ioctls nvprobe sends
//! to list the host's adapters and ask each one what it is. Every call is `_IOWR(0x47, nr,
//! size)`. Pointers in these structs are `__u64`, so the layout is the same for every caller.
//!
//! The `QUERYADAPTERINFO` reply buffers are forwarded unchanged to the Windows host, so their
//! layouts are the **Windows** ones (`d3dkmthk.h` of the WDK): 4-byte `UINT`s, UTF-16 `WCHAR`s.
//! Those structs are at the end of this file with their Windows names.

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// The ioctl type byte of `/dev/dxg` (`'G'`).
pub const DXG_IOCTL_MAGIC: u8 = 0x47;

/// `D3DKMT_ADAPTERS_MAX`: the kernel refuses (`EINVAL`) an enumeration of more adapters.
pub const D3DKMT_ADAPTERS_MAX: u32 = 64;

/// `LX_DXQUERYADAPTERINFO` number.
pub const LX_DXQUERYADAPTERINFO_NR: u8 = 0x09;
/// `LX_DXCLOSEADAPTER` number.
pub const LX_DXCLOSEADAPTER_NR: u8 = 0x15;
/// `LX_DXENUMADAPTERS3` number.
pub const LX_DXENUMADAPTERS3_NR: u8 = 0x3E;

/// `_IOWR(0x47, nr, size)`.
pub const fn dxg_iowr(nr: u8, size: usize) -> u32 {
    assert!(size <= crate::escape::IOC_SIZE_MAX, "argument too large");
    #[expect(
        clippy::cast_possible_truncation,
        reason = "size is at most 0x3FFF (asserted)"
    )]
    let size = size as u32;
    (crate::escape::IOC_READ_WRITE << 30)
        | (size << 16)
        | ((DXG_IOCTL_MAGIC as u32) << 8)
        | nr as u32
}

/// `d3dkmthandle`: an adapter (or other object) handle.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct d3dkmthandle {
    /// The handle value; 0 is no handle.
    pub v: u32,
}
assert_layout!(d3dkmthandle, size = 4, align = 4, v @ 0);

/// `winluid`: the Windows locally unique adapter id.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct winluid {
    /// `a` (`LowPart`).
    pub a: u32,
    /// `b` (`HighPart`).
    pub b: u32,
}
assert_layout!(winluid, size = 8, align = 4, a @ 0, b @ 4);

/// `d3dkmt_adapterinfo`: one element of the enumeration's output array.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct d3dkmt_adapterinfo {
    /// `adapter_handle`: opened by the enumeration; close it with `LX_DXCLOSEADAPTER`.
    pub adapter_handle: d3dkmthandle,
    /// `adapter_luid`.
    pub adapter_luid: winluid,
    /// `num_sources`.
    pub num_sources: u32,
    /// `present_move_regions_preferred`.
    pub present_move_regions_preferred: u32,
}
assert_layout!(d3dkmt_adapterinfo, size = 20, align = 4,
    adapter_handle @ 0, adapter_luid @ 4, num_sources @ 12, present_move_regions_preferred @ 16);

/// `d3dkmt_enumadapters_filter.include_compute_only`: also list compute-only (MCDM) adapters.
pub const ENUMADAPTERS_FILTER_INCLUDE_COMPUTE_ONLY: u64 = 1 << 0;
/// `d3dkmt_enumadapters_filter.include_display_only`.
pub const ENUMADAPTERS_FILTER_INCLUDE_DISPLAY_ONLY: u64 = 1 << 1;

/// `d3dkmt_enumadapters3`: the argument of `LX_DXENUMADAPTERS3`. With `adapters == 0` the kernel
/// writes the count; with a buffer it fills up to `adapter_count` elements (`EOVERFLOW` and the
/// needed count when the buffer is too small).
#[doc(alias = "LX_DXENUMADAPTERS3")]
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct d3dkmt_enumadapters3 {
    /// `filter` (`union d3dkmt_enumadapters_filter`, a `__u64` bitfield).
    pub filter: u64,
    /// `adapter_count`: in, the buffer's capacity; out, the number of adapters.
    pub adapter_count: u32,
    /// `reserved`.
    pub reserved: u32,
    /// `adapters`: user address of a `d3dkmt_adapterinfo` array (written by `sys` only).
    pub adapters: u64,
}
assert_layout!(d3dkmt_enumadapters3, size = 24, align = 8,
    filter @ 0, adapter_count @ 8, reserved @ 12, adapters @ 16);

/// `d3dkmt_queryadapterinfo`: the argument of `LX_DXQUERYADAPTERINFO`.
#[doc(alias = "LX_DXQUERYADAPTERINFO")]
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct d3dkmt_queryadapterinfo {
    /// `adapter`.
    pub adapter: d3dkmthandle,
    /// `type`: a Windows `KMTQUERYADAPTERINFOTYPE` value (`KMTQAITYPE_*`).
    pub type_: u32,
    /// `private_data`: user address of the reply buffer (written by `sys` only).
    pub private_data: u64,
    /// `private_data_size`: the reply buffer's length (never 0).
    pub private_data_size: u32,
    /// Padding.
    _pad0: u32,
}
assert_layout!(d3dkmt_queryadapterinfo, size = 24, align = 8,
    adapter @ 0, type_ @ 4, private_data @ 8, private_data_size @ 16, _pad0 @ 20);

/// `d3dkmt_closeadapter`: the argument of `LX_DXCLOSEADAPTER`.
#[doc(alias = "LX_DXCLOSEADAPTER")]
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct d3dkmt_closeadapter {
    /// `adapter_handle`.
    pub adapter_handle: d3dkmthandle,
}
assert_layout!(d3dkmt_closeadapter, size = 4, align = 4, adapter_handle @ 0);

/// `LX_DXENUMADAPTERS3` = `0xC018473E`.
pub const LX_DXENUMADAPTERS3: u32 =
    dxg_iowr(LX_DXENUMADAPTERS3_NR, size_of::<d3dkmt_enumadapters3>());
/// `LX_DXQUERYADAPTERINFO` = `0xC0184709`.
pub const LX_DXQUERYADAPTERINFO: u32 = dxg_iowr(
    LX_DXQUERYADAPTERINFO_NR,
    size_of::<d3dkmt_queryadapterinfo>(),
);
/// `LX_DXCLOSEADAPTER` = `0xC0044715`.
pub const LX_DXCLOSEADAPTER: u32 = dxg_iowr(LX_DXCLOSEADAPTER_NR, size_of::<d3dkmt_closeadapter>());

// ---------------------------------------------------------------------------------------------
// Windows query types and reply layouts (WDK `d3dkmthk.h`).

/// `KMTQAITYPE_ADAPTERADDRESS`: [`D3DKMT_ADAPTERADDRESS`].
pub const KMTQAITYPE_ADAPTERADDRESS: u32 = 6;
/// `KMTQAITYPE_ADAPTERREGISTRYINFO`: four `WCHAR[260]` strings (adapter, BIOS, DAC, chip).
pub const KMTQAITYPE_ADAPTERREGISTRYINFO: u32 = 8;
/// `KMTQAITYPE_ADAPTERTYPE`: a `u32` bitfield ([`ADAPTERTYPE_SOFTWARE_DEVICE`], ...).
pub const KMTQAITYPE_ADAPTERTYPE: u32 = 15;
/// `KMTQAITYPE_UMD_DRIVER_VERSION`: [`D3DKMT_UMD_DRIVER_VERSION`].
pub const KMTQAITYPE_UMD_DRIVER_VERSION: u32 = 18;
/// `KMTQAITYPE_PHYSICALADAPTERDEVICEIDS`: [`D3DKMT_QUERY_DEVICE_IDS`].
pub const KMTQAITYPE_PHYSICALADAPTERDEVICEIDS: u32 = 31;

/// `WCHAR` count of each string in the `ADAPTERREGISTRYINFO` reply (`MAX_PATH`).
pub const ADAPTERREGISTRYINFO_CHARS: usize = 260;
/// Size of the `ADAPTERREGISTRYINFO` reply: four UTF-16 strings of 260 units.
pub const ADAPTERREGISTRYINFO_SIZE: usize = 4 * ADAPTERREGISTRYINFO_CHARS * 2;

/// `D3DKMT_ADAPTERTYPE.RenderSupported`.
pub const ADAPTERTYPE_RENDER_SUPPORTED: u32 = 1 << 0;
/// `D3DKMT_ADAPTERTYPE.DisplaySupported`.
pub const ADAPTERTYPE_DISPLAY_SUPPORTED: u32 = 1 << 1;
/// `D3DKMT_ADAPTERTYPE.SoftwareDevice` (Microsoft Basic Render Driver).
pub const ADAPTERTYPE_SOFTWARE_DEVICE: u32 = 1 << 2;
/// `D3DKMT_ADAPTERTYPE.Paravirtualized` (set by `dxgkrnl` for every adapter).
pub const ADAPTERTYPE_PARAVIRTUALIZED: u32 = 1 << 7;
/// `D3DKMT_ADAPTERTYPE.ComputeOnly` (MCDM adapters, e.g. data-centre GPUs in TCC/MCDM mode).
pub const ADAPTERTYPE_COMPUTE_ONLY: u32 = 1 << 11;

/// `D3DKMT_ADAPTERADDRESS` (Windows): the host PCI location.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct D3DKMT_ADAPTERADDRESS {
    /// `BusNumber`.
    pub bus_number: u32,
    /// `DeviceNumber`.
    pub device_number: u32,
    /// `FunctionNumber` (`0xFFFF` when the adapter is not on PCI).
    pub function_number: u32,
}
assert_layout!(D3DKMT_ADAPTERADDRESS, size = 12, align = 4,
    bus_number @ 0, device_number @ 4, function_number @ 8);

/// `D3DKMT_UMD_DRIVER_VERSION` (Windows): the user-mode driver's file version `a.b.c.d` as four
/// 16-bit words, high to low.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct D3DKMT_UMD_DRIVER_VERSION {
    /// `DriverVersion` (`LARGE_INTEGER`).
    pub driver_version: u64,
}
assert_layout!(D3DKMT_UMD_DRIVER_VERSION, size = 8, align = 8, driver_version @ 0);

/// `D3DKMT_DEVICE_IDS` (Windows).
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct D3DKMT_DEVICE_IDS {
    /// `VendorID`.
    pub vendor_id: u32,
    /// `DeviceID`.
    pub device_id: u32,
    /// `SubVendorID`.
    pub sub_vendor_id: u32,
    /// `SubSystemID`.
    pub sub_system_id: u32,
    /// `RevisionID`.
    pub revision_id: u32,
    /// `BusType`.
    pub bus_type: u32,
}
assert_layout!(D3DKMT_DEVICE_IDS, size = 24, align = 4,
    vendor_id @ 0, device_id @ 4, sub_vendor_id @ 8, sub_system_id @ 12, revision_id @ 16,
    bus_type @ 20);

/// `D3DKMT_QUERY_DEVICE_IDS` (Windows): in, the physical adapter index; out, the PCI ids.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct D3DKMT_QUERY_DEVICE_IDS {
    /// `PhysicalAdapterIndex` (in).
    pub physical_adapter_index: u32,
    /// `DeviceIds` (out).
    pub device_ids: D3DKMT_DEVICE_IDS,
}
assert_layout!(D3DKMT_QUERY_DEVICE_IDS, size = 28, align = 4,
    physical_adapter_index @ 0, device_ids @ 4);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dxg_request_numbers() {
        assert_eq!(LX_DXENUMADAPTERS3, 0xC018_473E);
        assert_eq!(LX_DXQUERYADAPTERINFO, 0xC018_4709);
        assert_eq!(LX_DXCLOSEADAPTER, 0xC004_4715);
    }
}
