//! `/proc/driver/nvidia/version` and `/sys/module/nvidia/version`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::detect::driver;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(v) = driver::parse_proc_version(&text) {
        let _ = driver::branch_of(v.version.as_str());
    }
    if let Some(v) = driver::parse_sys_version(&text) {
        let _ = driver::is_driver_version(v.as_str());
    }
    let _ = driver::flavor_from_taint(&text);
});
