//! The library inventory's ELF reader (SONAME, the CUDA forward-compatibility note).
#![no_main]
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("nvprobe-fuzz-elfinfo-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::doctor::elfinfo::parse_fwd_compat_json(data);
    let path = scratch();
    if std::fs::write(path, data).is_ok() {
        let _ = nvprobe::doctor::elfinfo::read(path);
    }
});
