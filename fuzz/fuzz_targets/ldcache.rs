//! `/etc/ld.so.cache` (old and new formats).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::doctor::ldcache;

fuzz_target!(|data: &[u8]| {
    if let Ok(cache) = ldcache::parse(data) {
        let _ = cache.lookup("libcuda.so.1", ldcache::native_flags());
        let _ = cache.lookup("libnvidia-ml.so.1", ldcache::native_flags());
    }
});
