//! Request numbers against the values in NVIDIA's headers, sizes of every struct, status names.
//!
//! Layouts are asserted at compile time under each struct; these tests pin the request numbers
//! (which encode the sizes) to known constants, so a layout change also shows up as a failed
//! number here.

use core::mem::size_of;

use nvprobe_abi::NvStatus;
use nvprobe_abi::classes::*;
use nvprobe_abi::ctrl::ctrl0000gpu::*;
use nvprobe_abi::ctrl::ctrl0000system::*;
use nvprobe_abi::ctrl::ctrl2080bus::*;
use nvprobe_abi::ctrl::ctrl2080fb::*;
use nvprobe_abi::ctrl::ctrl2080gpu::*;
use nvprobe_abi::ctrl::ctrl2080mc::*;
use nvprobe_abi::ctrl::{InfoListParams, is_pointer_free};
use nvprobe_abi::escape::*;
use nvprobe_abi::frontend::*;
use nvprobe_abi::nvos::*;

#[test]
fn request_rm_escapes_match_headers() {
    assert_eq!(REQ_RM_CONTROL, 0xC020_462A);
    assert_eq!(REQ_RM_FREE, 0xC010_4629);
    assert_eq!(REQ_RM_ALLOC, 0xC020_462B);
    assert_eq!(
        request::<NVOS21_PARAMETERS_V515>(NV_ESC_RM_ALLOC),
        0xC020_462B
    );
}

#[test]
fn request_frontend_escapes_match_headers() {
    assert_eq!(REQ_CHECK_VERSION_STR, 0xC048_46D2);
    assert_eq!(REQ_CARD_INFO_32, 0xC900_46C8);
    assert_eq!(request::<CardInfoArray<1>>(NV_ESC_CARD_INFO), 0xC048_46C8);
    assert_eq!(REQ_WAIT_OPEN_COMPLETE, 0xC008_46DA);
}

#[test]
fn request_encoding_round_trips() {
    for (nr, size) in [
        (0x2A_u8, 32_usize),
        (200, 2304),
        (218, 8),
        (0xFF, IOC_SIZE_MAX),
    ] {
        let r = iowr(nr, size);
        assert_eq!(ioc_nr(r), nr);
        assert_eq!(ioc_size(r), size);
        assert_eq!(ioc_type(r), NV_IOCTL_MAGIC);
        assert_eq!(ioc_dir(r), IOC_READ_WRITE);
    }
}

#[test]
fn request_escape_numbers() {
    assert_eq!(NV_ESC_CARD_INFO, 200);
    assert_eq!(NV_ESC_CHECK_VERSION_STR, 210);
    assert_eq!(NV_ESC_WAIT_OPEN_COMPLETE, 218);
    assert_eq!(escape_name(NV_ESC_RM_CONTROL), "NV_ESC_RM_CONTROL");
    assert_eq!(escape_name(0x77), "unknown escape");
}

#[test]
fn layout_sizes_of_every_struct() {
    // Frontend.
    assert_eq!(size_of::<nv_ioctl_rm_api_version_t>(), 72);
    assert_eq!(size_of::<nv_pci_info_t>(), 12);
    assert_eq!(size_of::<nv_ioctl_card_info_t>(), 72);
    assert_eq!(size_of::<nv_ioctl_wait_open_complete_t>(), 8);
    // RM escapes.
    assert_eq!(size_of::<NVOS00_PARAMETERS>(), 16);
    assert_eq!(size_of::<NVOS54_PARAMETERS>(), 32);
    assert_eq!(size_of::<NVOS21_PARAMETERS>(), 32);
    assert_eq!(size_of::<NVOS21_PARAMETERS_V515>(), 32);
    assert_eq!(core::mem::offset_of!(NVOS21_PARAMETERS, status), 28);
    assert_eq!(core::mem::offset_of!(NVOS21_PARAMETERS_V515, status), 24);
    assert_eq!(
        core::mem::offset_of!(NVOS54_PARAMETERS, params),
        NVOS_PARAMS_POINTER_OFFSET
    );
    assert_eq!(
        core::mem::offset_of!(NVOS21_PARAMETERS, p_alloc_parms),
        NVOS_PARAMS_POINTER_OFFSET
    );
    // Classes.
    assert_eq!(size_of::<NV0080_ALLOC_PARAMETERS>(), 56);
    assert_eq!(size_of::<NV2080_ALLOC_PARAMETERS>(), 4);
    assert_eq!(alloc_params_size(NV01_DEVICE_0), Some(56));
    assert_eq!(alloc_params_size(NV01_ROOT_CLIENT), Some(4));
    assert_eq!(alloc_params_size(0x1234), None);
    // Controls.
    assert_eq!(size_of::<NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515>(), 256);
    assert_eq!(size_of::<NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580>(), 384);
    assert_eq!(size_of::<NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS>(), 32);
    assert_eq!(
        size_of::<NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515>(),
        776
    );
    assert_eq!(
        size_of::<NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560>(),
        1032
    );
    assert_eq!(size_of::<NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS>(), 16);
    assert_eq!(size_of::<NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS>(), 16);
    assert_eq!(
        size_of::<NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515>(),
        132
    );
    assert_eq!(size_of::<NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595>(), 68);
    assert_eq!(size_of::<NV2080_CTRL_GPU_GET_GID_INFO_PARAMS>(), 268);
}

fn info_list_size<P: InfoListParams>() -> (usize, usize) {
    (P::MAX, size_of::<P>())
}

#[test]
fn layout_info_list_variants() {
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V515>(),
        (0x3E, 500)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V530>(),
        (0x3F, 508)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V535>(),
        (0x40, 516)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V545>(),
        (0x41, 524)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V575>(),
        (0x42, 532)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580>(),
        (0x46, 564)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V515>(),
        (0x36, 436)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V545>(),
        (0x37, 444)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V560>(),
        (0x39, 460)
    );
    assert_eq!(
        info_list_size::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V580>(),
        (0x80, 1028)
    );
    let mut p: NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580 = bytemuck::Zeroable::zeroed();
    p.set_list_size(1);
    p.list_mut()[0].index = NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION;
    let bytes = bytemuck::bytes_of(&p);
    assert_eq!(&bytes[..12], &[1, 0, 0, 0, 0x2C, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn layout_control_commands() {
    assert_eq!(NV0000_CTRL_CMD_GPU_GET_PROBED_IDS, 0x214);
    assert_eq!(NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2, 0x205);
    assert_eq!(NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2, 0x13E);
    assert_eq!(NV2080_CTRL_CMD_GPU_GET_INFO_V2, 0x2080_0102);
    assert_eq!(NV2080_CTRL_CMD_GPU_GET_NAME_STRING, 0x2080_0110);
    assert_eq!(NV2080_CTRL_CMD_GPU_GET_GID_INFO, 0x2080_014A);
    assert_eq!(NV2080_CTRL_CMD_FB_GET_INFO_V2, 0x2080_1303);
    assert_eq!(NV2080_CTRL_CMD_MC_GET_ARCH_INFO, 0x2080_1701);
    assert_eq!(NV2080_CTRL_CMD_BUS_GET_PCI_INFO, 0x2080_1801);
    assert!(is_pointer_free(NV2080_CTRL_CMD_MC_GET_ARCH_INFO));
    // GR_GET_INFO and FB_GET_INFO (v1) carry pointers and are not in the crate.
    assert!(!is_pointer_free(0x2080_1201));
    assert!(!is_pointer_free(0x2080_1301));
}

#[test]
fn status_names_and_size_mismatch() {
    assert_eq!(NvStatus::ERR_GPU_IS_LOST.name(), Some("NV_ERR_GPU_IS_LOST"));
    assert_eq!(NvStatus(0x56).name(), Some("NV_ERR_NOT_SUPPORTED"));
    assert_eq!(NvStatus(0x1234).name(), None);
    assert_eq!(NvStatus(0x22).to_string(), "0x22 NV_ERR_INVALID_CLASS");
    assert_eq!(NvStatus(0x1234).to_string(), "0x1234");
    assert!(NvStatus(0x1F).is_wrong_params_size());
    assert!(NvStatus(0x3A).is_wrong_params_size());
    assert!(!NvStatus(0x56).is_wrong_params_size());
    assert!(NvStatus::OK.is_ok());
}
