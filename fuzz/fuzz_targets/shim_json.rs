//! The NVML shim's JSON answer (protocol nvprobe-shim/1), compared with a real report.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use nvprobe::report::Report;

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let root = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/bare-metal-h100x8-open-580"
        );
        nvprobe::probe(&nvprobe::Options::new(nvprobe::root::Root::at(root)))
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = nvprobe::crosscheck::evaluate_output(report(), data);
});
