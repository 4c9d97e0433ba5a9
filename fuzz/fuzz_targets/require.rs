//! The `NVIDIA_REQUIRE_*` language.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(req) = nvprobe::doctor::require::parse(&text) {
        for group in &req.groups {
            for cond in group {
                let _ = cond.to_string();
            }
        }
    }
    let _ = nvprobe::doctor::require::disabled(Some(&text));
});
