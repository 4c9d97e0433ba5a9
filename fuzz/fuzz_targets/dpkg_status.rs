//! `/var/lib/dpkg/status`: the fabric manager's installed version, and the driver package
//! layers (issue 23).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nvprobe::doctor::fabric::dpkg_fabric_manager(&text);
    let _ = nvprobe::detect::packages::parse_dpkg_status(&text);
});
