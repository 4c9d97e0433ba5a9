//! The small files of issue 23's sources: `/etc/ld.so.preload`, GPU-Manager's `vcuda.config`,
//! `/sys/kernel/security/lockdown`, efivarfs variables, a module file's end.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nvprobe::detect::vgpu::preload_entries(&text);
    let _ = nvprobe::detect::vgpu::vcuda_core(data);
    let _ = nvprobe::detect::kbuild::lockdown_mode(&text);
    let _ = nvprobe::detect::kbuild::efivar_bool(data);
    let _ = nvprobe::detect::kbuild::signed_from_tail(data);
    if let Some(head) = data.get(..8) {
        let mask = u64::from_le_bytes(head.try_into().unwrap_or_default());
        let _ = nvprobe::detect::kbuild::taint_letters(mask);
    }
});
