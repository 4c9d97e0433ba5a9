//! `/var/lib/dpkg/status` (the fabric manager's installed version).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::doctor::fabric::dpkg_fabric_manager(&String::from_utf8_lossy(data));
});
