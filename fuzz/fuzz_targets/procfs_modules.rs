//! `/proc/modules` (every module counted, the watched ones kept), module file names under
//! `/lib/modules`, and the lines of a `modules.dep` that can name a watched module (checked
//! against a plain line filter).
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::detect::modules;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Every listed module is counted; only the watched ones are kept.
    let m = modules::parse_proc_modules(&text);
    let listed = text
        .lines()
        .filter(|l| l.split_whitespace().next().is_some())
        .count();
    assert_eq!(m.total, listed);
    assert!(m.watched.iter().all(|p| modules::WATCHED.contains(&p.name.as_str())));
    for line in text.lines() {
        let _ = modules::module_name_of_file(line);
    }
    let naive: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("nvidia") || l.contains("nouveau"))
        .collect();
    assert_eq!(modules::watched_lines(&text), naive);
});
