//! `/proc/driver/nvidia/gpus/*/information`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::detect::procgpus::parse_information(&String::from_utf8_lossy(data));
});
