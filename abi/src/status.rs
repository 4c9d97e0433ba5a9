//! Header: `src/common/sdk/nvidia/inc/nvstatuscodes.h`
//!
//! `NV_STATUS` values as a newtype, not an enum: drivers return codes this crate does not know.

use bytemuck::{Pod, Zeroable};

/// `NV_STATUS` (`nvstatuscodes.h`): the 32-bit result of an RM operation.
///
/// RM escapes (alloc, control, free) return 0 from `ioctl` and put this value in the struct's
/// `status` field.
#[doc(alias = "NV_STATUS")]
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Pod, Zeroable)]
pub struct NvStatus(pub u32);

macro_rules! statuses {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)+) => {
        impl NvStatus {
            $(
                $(#[$doc])*
                pub const $name: Self = Self($value);
            )+

            /// The C name (`NV_ERR_GPU_IS_LOST`) of a known code, `None` for others.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(concat!("NV_", stringify!($name))),)+
                    _ => None,
                }
            }
        }

        #[cfg(test)]
        const ALL: &[NvStatus] = &[$(NvStatus::$name),+];
    };
}

statuses! {
    /// `NV_OK`: success.
    OK = 0x0000_0000;
    /// `NV_ERR_GPU_IS_LOST`: the GPU fell off the bus or was removed.
    ERR_GPU_IS_LOST = 0x0000_000F;
    /// `NV_ERR_IN_USE`.
    ERR_IN_USE = 0x0000_0017;
    /// `NV_ERR_INSUFFICIENT_PERMISSIONS`: for example a device allocation without an open
    /// `/dev/nvidiaN` in the calling process.
    ERR_INSUFFICIENT_PERMISSIONS = 0x0000_001B;
    /// `NV_ERR_INVALID_ARGUMENT`: also "wrong params size" on current drivers.
    ERR_INVALID_ARGUMENT = 0x0000_001F;
    /// `NV_ERR_INVALID_CLASS`: also gVisor nvproxy's answer to a class it does not allow.
    ERR_INVALID_CLASS = 0x0000_0022;
    /// `NV_ERR_INVALID_CLIENT`.
    ERR_INVALID_CLIENT = 0x0000_0023;
    /// `NV_ERR_INVALID_COMMAND`.
    ERR_INVALID_COMMAND = 0x0000_0024;
    /// `NV_ERR_INVALID_DEVICE`.
    ERR_INVALID_DEVICE = 0x0000_0026;
    /// `NV_ERR_INVALID_OBJECT_HANDLE`.
    ERR_INVALID_OBJECT_HANDLE = 0x0000_0033;
    /// `NV_ERR_INVALID_PARAM_STRUCT`: "wrong params size" on older drivers.
    ERR_INVALID_PARAM_STRUCT = 0x0000_003A;
    /// `NV_ERR_INVALID_STATE`: for example the SM version before the GR static info is ready.
    ERR_INVALID_STATE = 0x0000_0040;
    /// `NV_ERR_NOT_SUPPORTED`: an unknown control command; gVisor nvproxy's answer to a control
    /// it does not allow.
    ERR_NOT_SUPPORTED = 0x0000_0056;
    /// `NV_ERR_OBJECT_NOT_FOUND`.
    ERR_OBJECT_NOT_FOUND = 0x0000_0057;
    /// `NV_ERR_OPERATING_SYSTEM`.
    ERR_OPERATING_SYSTEM = 0x0000_0059;
    /// `NV_ERR_GENERIC`.
    ERR_GENERIC = 0x0000_FFFF;
}

impl NvStatus {
    /// True for `NV_OK`.
    pub const fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// True for the two codes a control returns when `paramsSize` is not the size the driver
    /// expects: `NV_ERR_INVALID_ARGUMENT` (0x1F, 535.161.07+, 550.40.53+, all from 555) and
    /// `NV_ERR_INVALID_PARAM_STRUCT` (0x3A, older drivers).
    pub const fn is_wrong_params_size(self) -> bool {
        self.0 == Self::ERR_INVALID_ARGUMENT.0 || self.0 == Self::ERR_INVALID_PARAM_STRUCT.0
    }
}

impl core::fmt::Display for NvStatus {
    /// `0x56 NV_ERR_NOT_SUPPORTED`, or `0x1234` for an unknown code.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{:#x} {name}", self.0),
            None => write!(f, "{:#x}", self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_unique_and_prefixed() {
        for (i, a) in ALL.iter().enumerate() {
            assert!(a.name().is_some_and(|n| n.starts_with("NV_")));
            for b in &ALL[i + 1..] {
                assert_ne!(a.0, b.0);
            }
        }
    }
}
