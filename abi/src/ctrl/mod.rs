//! RM control commands (`NV_ESC_RM_CONTROL`) and their parameter structs, one module per
//! header under `src/common/sdk/nvidia/inc/ctrl/`.
//!
//! Every parameter struct here is flat: no embedded pointers. Commands whose parameters carry
//! pointers (`NV2080_CTRL_CMD_GR_GET_INFO`, `NV2080_CTRL_CMD_FB_GET_INFO`, the v1
//! `NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION`) are deliberately absent.

pub mod ctrl0000gpu;
pub mod ctrl0000system;
pub mod ctrl2080bus;
pub mod ctrl2080fb;
pub mod ctrl2080gpu;
pub mod ctrl2080mc;

use bytemuck::{Pod, Zeroable};

use crate::layout::assert_layout;

/// The C name of a control command defined in this module, for messages.
pub const fn command_name(cmd: u32) -> Option<&'static str> {
    Some(match cmd {
        ctrl0000gpu::NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS => "NV0000_CTRL_CMD_GPU_GET_ATTACHED_IDS",
        ctrl0000gpu::NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2 => "NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2",
        ctrl0000gpu::NV0000_CTRL_CMD_GPU_GET_PROBED_IDS => "NV0000_CTRL_CMD_GPU_GET_PROBED_IDS",
        ctrl0000system::NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2 => {
            "NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2"
        }
        ctrl2080gpu::NV2080_CTRL_CMD_GPU_GET_INFO_V2 => "NV2080_CTRL_CMD_GPU_GET_INFO_V2",
        ctrl2080gpu::NV2080_CTRL_CMD_GPU_GET_NAME_STRING => "NV2080_CTRL_CMD_GPU_GET_NAME_STRING",
        ctrl2080gpu::NV2080_CTRL_CMD_GPU_GET_GID_INFO => "NV2080_CTRL_CMD_GPU_GET_GID_INFO",
        ctrl2080fb::NV2080_CTRL_CMD_FB_GET_INFO_V2 => "NV2080_CTRL_CMD_FB_GET_INFO_V2",
        ctrl2080mc::NV2080_CTRL_CMD_MC_GET_ARCH_INFO => "NV2080_CTRL_CMD_MC_GET_ARCH_INFO",
        ctrl2080bus::NV2080_CTRL_CMD_BUS_GET_PCI_INFO => "NV2080_CTRL_CMD_BUS_GET_PCI_INFO",
        _ => return None,
    })
}

/// True for the control commands whose parameters hold no pointer (every command of this
/// module). The ioctl layer refuses any other command, so the kernel never writes through an
/// address the caller made up.
pub const fn is_pointer_free(cmd: u32) -> bool {
    command_name(cmd).is_some()
}

/// One `{index, data}` pair of an info list (`NV2080_CTRL_GPU_INFO`, `NV2080_CTRL_FB_INFO`).
#[doc(alias = "NV2080_CTRL_GPU_INFO")]
#[doc(alias = "NV2080_CTRL_FB_INFO")]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct NV2080_CTRL_INFO {
    /// `index` (in).
    pub index: u32,
    /// `data` (out).
    pub data: u32,
}
assert_layout!(NV2080_CTRL_INFO, size = 8, align = 4, index @ 0, data @ 4);

/// A `{listSize, list[MAX]}` parameter struct (`GPU_GET_INFO_V2`, `FB_GET_INFO_V2`) whose
/// `MAX` changes between releases.
pub trait InfoListParams: Pod {
    /// `*_MAX_LIST_SIZE` of this variant.
    const MAX: usize;
    /// The list size field.
    fn list_size(&self) -> u32;
    /// Sets the list size field.
    fn set_list_size(&mut self, n: u32);
    /// The whole list.
    fn list(&self) -> &[NV2080_CTRL_INFO];
    /// The whole list, mutable.
    fn list_mut(&mut self) -> &mut [NV2080_CTRL_INFO];
}

/// Declares one `{listSize, list[MAX]}` variant with its layout assertion.
macro_rules! info_list_variant {
    ($(#[$doc:meta])* $name:ident, $size_field:ident, $list_field:ident, $max:expr, size = $size:expr) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            /// The number of valid entries in the list (in).
            pub $size_field: u32,
            /// The `{index, data}` list.
            pub $list_field: [$crate::ctrl::NV2080_CTRL_INFO; $max],
        }
        $crate::layout::assert_layout!($name, size = $size, align = 4,
            $size_field @ 0, $list_field @ 4);

        impl $crate::ctrl::InfoListParams for $name {
            const MAX: usize = $max;
            fn list_size(&self) -> u32 {
                self.$size_field
            }
            fn set_list_size(&mut self, n: u32) {
                self.$size_field = n;
            }
            fn list(&self) -> &[$crate::ctrl::NV2080_CTRL_INFO] {
                &self.$list_field
            }
            fn list_mut(&mut self) -> &mut [$crate::ctrl::NV2080_CTRL_INFO] {
                &mut self.$list_field
            }
        }
    };
}
pub(crate) use info_list_variant;
