//! `/etc/os-release`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::detect::platform::parse_os_release(&String::from_utf8_lossy(data));
});
