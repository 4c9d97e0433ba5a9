//! Header: `kernel-open/common/inc/nv-ioctl-numbers.h`, `src/nvidia/arch/nvalloc/unix/include/nv_escape.h`
//!
//! Escape numbers and the `_IOWR('F', nr, size)` request encoding. The size field of a request
//! is always taken from the argument type ([`request`]), so the number and the struct cannot
//! drift apart.

/// `NV_IOCTL_MAGIC`: the ioctl type byte, `'F'`.
pub const NV_IOCTL_MAGIC: u8 = b'F';

/// `NV_IOCTL_BASE`: frontend escapes are numbered from here.
pub const NV_IOCTL_BASE: u8 = 200;

/// `NV_ESC_CARD_INFO` (ctl fd): an array of [`nv_ioctl_card_info_t`](crate::frontend::nv_ioctl_card_info_t).
pub const NV_ESC_CARD_INFO: u8 = NV_IOCTL_BASE;
/// `NV_ESC_REGISTER_FD`.
pub const NV_ESC_REGISTER_FD: u8 = NV_IOCTL_BASE + 1;
/// `NV_ESC_STATUS_CODE`.
pub const NV_ESC_STATUS_CODE: u8 = NV_IOCTL_BASE + 9;
/// `NV_ESC_CHECK_VERSION_STR` (ctl fd): [`nv_ioctl_rm_api_version_t`](crate::frontend::nv_ioctl_rm_api_version_t).
pub const NV_ESC_CHECK_VERSION_STR: u8 = NV_IOCTL_BASE + 10;
/// `NV_ESC_IOCTL_XFER_CMD`.
pub const NV_ESC_IOCTL_XFER_CMD: u8 = NV_IOCTL_BASE + 11;
/// `NV_ESC_ATTACH_GPUS_TO_FD` (never sent by nvprobe: it initialises GPUs).
pub const NV_ESC_ATTACH_GPUS_TO_FD: u8 = NV_IOCTL_BASE + 12;
/// `NV_ESC_SYS_PARAMS` (never sent by nvprobe: it sets a global value once).
pub const NV_ESC_SYS_PARAMS: u8 = NV_IOCTL_BASE + 14;
/// `NV_ESC_WAIT_OPEN_COMPLETE` (gpu fd, since 550.40.07):
/// [`nv_ioctl_wait_open_complete_t`](crate::frontend::nv_ioctl_wait_open_complete_t).
pub const NV_ESC_WAIT_OPEN_COMPLETE: u8 = NV_IOCTL_BASE + 18;

/// `NV_ESC_RM_FREE` (ctl fd): [`NVOS00_PARAMETERS`](crate::nvos::NVOS00_PARAMETERS).
pub const NV_ESC_RM_FREE: u8 = 0x29;
/// `NV_ESC_RM_CONTROL` (ctl fd): [`NVOS54_PARAMETERS`](crate::nvos::NVOS54_PARAMETERS).
pub const NV_ESC_RM_CONTROL: u8 = 0x2A;
/// `NV_ESC_RM_ALLOC` (ctl fd): [`NVOS21_PARAMETERS`](crate::nvos::NVOS21_PARAMETERS) (or NVOS64).
pub const NV_ESC_RM_ALLOC: u8 = 0x2B;

/// `_IOC_READ | _IOC_WRITE`, the direction bits of every NVIDIA request.
pub const IOC_READ_WRITE: u32 = 3;

/// The largest argument size the 14-bit `_IOC_SIZE` field can carry.
pub const IOC_SIZE_MAX: usize = (1 << 14) - 1;

/// `_IOWR('F', nr, size)`: `dir << 30 | size << 16 | 'F' << 8 | nr`.
///
/// Fails to compile (in const context) or panics (at run time) when `size` does not fit the
/// 14-bit size field; every type in this crate fits.
pub const fn iowr(nr: u8, size: usize) -> u32 {
    assert!(
        size <= IOC_SIZE_MAX,
        "ioctl argument too large for _IOC_SIZE"
    );
    // The assert above bounds `size` to 14 bits, so the cast is lossless.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "size is at most 0x3FFF (asserted)"
    )]
    let size = size as u32;
    (IOC_READ_WRITE << 30) | (size << 16) | ((NV_IOCTL_MAGIC as u32) << 8) | nr as u32
}

/// The request number for escape `nr` with argument type `T`: `_IOWR('F', nr, sizeof(T))`.
pub const fn request<T>(nr: u8) -> u32 {
    iowr(nr, core::mem::size_of::<T>())
}

/// `_IOC_NR(request)`: the escape number.
pub const fn ioc_nr(request: u32) -> u8 {
    (request & 0xFF) as u8
}

/// `_IOC_TYPE(request)`: the magic byte.
pub const fn ioc_type(request: u32) -> u8 {
    ((request >> 8) & 0xFF) as u8
}

/// `_IOC_SIZE(request)`: the argument size in bytes.
pub const fn ioc_size(request: u32) -> usize {
    ((request >> 16) & 0x3FFF) as usize
}

/// `_IOC_DIR(request)`.
pub const fn ioc_dir(request: u32) -> u32 {
    request >> 30
}

/// The C name of an escape number nvprobe knows (`NV_ESC_RM_CONTROL`), for messages.
pub const fn escape_name(nr: u8) -> &'static str {
    match nr {
        NV_ESC_CARD_INFO => "NV_ESC_CARD_INFO",
        NV_ESC_REGISTER_FD => "NV_ESC_REGISTER_FD",
        NV_ESC_STATUS_CODE => "NV_ESC_STATUS_CODE",
        NV_ESC_CHECK_VERSION_STR => "NV_ESC_CHECK_VERSION_STR",
        NV_ESC_IOCTL_XFER_CMD => "NV_ESC_IOCTL_XFER_CMD",
        NV_ESC_ATTACH_GPUS_TO_FD => "NV_ESC_ATTACH_GPUS_TO_FD",
        NV_ESC_SYS_PARAMS => "NV_ESC_SYS_PARAMS",
        NV_ESC_WAIT_OPEN_COMPLETE => "NV_ESC_WAIT_OPEN_COMPLETE",
        NV_ESC_RM_FREE => "NV_ESC_RM_FREE",
        NV_ESC_RM_CONTROL => "NV_ESC_RM_CONTROL",
        NV_ESC_RM_ALLOC => "NV_ESC_RM_ALLOC",
        _ => "unknown escape",
    }
}
