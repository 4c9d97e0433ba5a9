//! CUDA binaries: ELF, `.nv_fatbin` containers and their entries, cubin and PTX headers.
//! The scanner reads through a file (it never loads one whole), so the input is written to a
//! file in `/dev/shm` (or the temp dir) first.
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
        dir.join(format!("nvprobe-fuzz-cudabin-{}", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let result = nvprobe::cudabin::scan_file(path);
    for gpu in [(9, 0), (8, 6), (12, 0)] {
        let _ = nvprobe::cudabin::runs_on(result.entries(), gpu, Some((12, 4)));
    }
});
