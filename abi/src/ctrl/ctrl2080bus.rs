//! Header: `src/common/sdk/nvidia/inc/ctrl/ctrl2080/ctrl2080bus.h`

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// `NV2080_CTRL_CMD_BUS_GET_PCI_INFO`: `NOT_SUPPORTED` on SOC (non-PCI) GPUs.
pub const NV2080_CTRL_CMD_BUS_GET_PCI_INFO: u32 = 0x2080_1801;

/// `NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS` (`ctrl2080bus.h`). Same in every release.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub struct NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS {
    /// `pciDeviceId`: `device << 16 | vendor`.
    pub pci_device_id: u32,
    /// `pciSubSystemId`: `subsystem_device << 16 | subsystem_vendor`.
    pub pci_sub_system_id: u32,
    /// `pciRevisionId`.
    pub pci_revision_id: u32,
    /// `pciExtDeviceId`.
    pub pci_ext_device_id: u32,
}
assert_layout!(NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS, size = 16, align = 4,
    pci_device_id @ 0, pci_sub_system_id @ 4, pci_revision_id @ 8, pci_ext_device_id @ 12);
