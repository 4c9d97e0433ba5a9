//! A capture bundle's `ioctl.json`: parsed, loaded into a replay driver (which checks hex,
//! lengths, request numbers and errnos), then replayed through the ioctl path, default and
//! `--deep`. The loader once aborted on an errno Linux cannot return (issue 11).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::capture::{IoctlLog, ReplayDriver};
use nvprobe::ioctl::{IoctlOptions, probe_ioctl};

fuzz_target!(|data: &[u8]| {
    let Ok(log) = serde_json::from_slice::<IoctlLog>(data) else {
        return;
    };
    let Ok(driver) = ReplayDriver::new(&log) else {
        return;
    };
    for deep in [false, true] {
        let opts = IoctlOptions {
            deep,
            gvisor: false,
            version_hint: None,
            allow_strict_check: true,
        };
        let _ = probe_ioctl(&driver, &opts);
    }
    let _ = (driver.misses(), driver.replayed());
});
