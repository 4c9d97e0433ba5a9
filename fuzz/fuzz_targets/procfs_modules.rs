//! `/proc/modules`, module file names under `/lib/modules`, and the lines of a `modules.dep`
//! that can name a watched module (checked against a plain line filter).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::detect::modules;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = modules::parse_proc_modules(&text);
    for line in text.lines() {
        let _ = modules::module_name_of_file(line);
    }
    let naive: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("nvidia") || l.contains("nouveau"))
        .collect();
    assert_eq!(modules::watched_lines(&text), naive);
});
