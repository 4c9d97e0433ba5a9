//! `/etc/ld.so.cache` (old and new formats).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::doctor::ldcache;
use nvprobe::report::CpuArch;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = ldcache::parse(data) {
        let flags = ldcache::flags_for(CpuArch::own());
        let _ = cache.lookup("libcuda.so.1", flags);
        let _ = cache.lookup("libnvidia-ml.so.1", flags);
        let _ = cache.has_dir("/usr/lib/x86_64-linux-gnu", CpuArch::own());
        let _ = cache.iter().count();
    }
});
