//! `/proc/modules` and module file names under `/lib/modules`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::detect::modules;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = modules::parse_proc_modules(&text);
    for line in text.lines() {
        let _ = modules::module_name_of_file(line);
    }
});
