//! sysfs PCI attributes (`vendor`, `device`, `class`, …) and bus ids.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::detect::pci;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = pci::parse_hex(&text);
    let _ = pci::is_bus_id(&text);
    let _ = nvprobe::crosscheck::normalize_bus_id(&text);
});
