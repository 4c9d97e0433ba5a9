//! CUDA binaries: ELF, `.nv_fatbin` containers and their entries, cubin and PTX headers, ar
//! archives, bare fatbins and cubins. The scanner reads through a file (it never loads one
//! whole), so the input is written to a file in `/dev/shm` (or the temp dir) first. Each input
//! is scanned twice: as `scan` reads it (nothing decompressed) and as `check --binary` does
//! (relocatable cubins decompressed, LZ4 and zstd, within a budget), whose verdicts are then
//! asked for a few GPUs.
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
    // A smaller budget than `check --binary`'s keeps each run fast; the decoders' bounds are
    // what is under test, not the budget's size.
    let limits = nvprobe::cudabin::ScanLimits {
        max_decompressed_per_file: 4 << 20,
        ..nvprobe::cudabin::ScanLimits::default()
    };
    for result in &nvprobe::cudabin::scan(&[path], &limits).results {
        for gpu in [(9, 0), (8, 6), (12, 0)] {
            let _ = nvprobe::cudabin::check_binary(result, gpu, Some((8, 8)));
            let _ = nvprobe::cudabin::relocatable_verdict(result, gpu);
        }
    }
});
