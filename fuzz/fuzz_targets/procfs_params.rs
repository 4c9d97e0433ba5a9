//! `/proc/driver/nvidia/params`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::detect::driver::parse_params(&String::from_utf8_lossy(data));
});
