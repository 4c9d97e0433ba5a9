//! `/proc/driver/nvidia/gpus/<bus id>/information`: pure parser.
//!
//! Written by `nv_procfs_read_gpu_info` as `Key: \t value` lines with tabs (`Model: \t\t …`,
//! `GPU UUID: \t …`, `Bus Location: \t 0000:3b:00.0`, `Device Minor: \t 0`,
//! `GPU Excluded:\t No`; older drivers write `Blacklisted:\t No`).

/// The fields of one `information` file the probe uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GpuInformation {
    /// `Model`.
    pub model: Option<String>,
    /// `GPU UUID`.
    pub uuid: Option<String>,
    /// `Video BIOS`, unless unknown (`??.??.??.??.??`).
    pub vbios: Option<String>,
    /// `Bus Location`, lowercase.
    pub bus_location: Option<String>,
    /// `Device Minor`.
    pub minor: Option<u32>,
    /// `GPU Firmware`.
    pub firmware: Option<String>,
    /// `GPU Excluded` / `Blacklisted` is `Yes`.
    pub excluded: bool,
}

/// Parses one `information` file.
pub fn parse_information(text: &str) -> GpuInformation {
    let mut info = GpuInformation::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let nonempty = || (!value.is_empty()).then(|| value.to_owned());
        match key.trim() {
            "Model" => info.model = nonempty(),
            "GPU UUID" => info.uuid = nonempty().filter(|u| u.starts_with("GPU-")),
            "Video BIOS" => info.vbios = nonempty().filter(|v| !v.contains('?')),
            "Bus Location" => info.bus_location = nonempty().map(|b| b.to_ascii_lowercase()),
            "Device Minor" => info.minor = value.parse().ok(),
            "GPU Firmware" => info.firmware = nonempty(),
            "GPU Excluded" | "Blacklisted" => info.excluded = value.eq_ignore_ascii_case("yes"),
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procgpus_h100_information() {
        let text = "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t\t 460\nGPU UUID: \t GPU-7d5e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6\nVideo BIOS: \t 96.00.99.00.01\nBus Type: \t PCIe\nDMA Size: \t 52 bits\nDMA Mask: \t 0xfffffffffffff\nBus Location: \t 0000:1B:00.0\nDevice Minor: \t 3\nGPU Firmware: \t 580.95.05\nGPU Excluded:\t No\n";
        let i = parse_information(text);
        assert_eq!(i.model.as_deref(), Some("NVIDIA H100 80GB HBM3"));
        assert_eq!(
            i.uuid.as_deref(),
            Some("GPU-7d5e1f2a-3b4c-5d6e-7f80-91a2b3c4d5e6")
        );
        assert_eq!(i.bus_location.as_deref(), Some("0000:1b:00.0"));
        assert_eq!(i.minor, Some(3));
        assert_eq!(i.vbios.as_deref(), Some("96.00.99.00.01"));
        assert!(!i.excluded);
    }

    #[test]
    fn procgpus_unknown_vbios_and_garbage() {
        let i = parse_information(
            "Video BIOS: \t ??.??.??.??.??\nDevice Minor: \t -1\nBlacklisted:\t Yes\n\u{0}\u{1}:::\n",
        );
        assert_eq!(i.vbios, None);
        assert_eq!(i.minor, None);
        assert!(i.excluded);
        assert_eq!(parse_information(""), GpuInformation::default());
    }
}
