//! `nvprobe explain TEXT`: recognising a pasted message.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nvprobe::explain::recognise(&text);
    let _ = nvprobe::explain::render_unknown(&text);
});
