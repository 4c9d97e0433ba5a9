//! Driver and CUDA version strings: parsing, ordering, and the tables keyed by them.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, "570.133.07"));
    let _ = nvprobe::ioctl::variant::DriverVersion::parse(a);
    let _ = nvprobe::tables::compare_versions(a, b);
    let _ = nvprobe::tables::native_cuda_for_driver(a);
    let _ = nvprobe::detect::driver::branch_of(a);
    for op in ["<", "<=", "=", ">=", ">"] {
        if let Ok(req) = nvprobe::doctor::require::parse(&format!("driver{op}{b}")) {
            let _ = req;
        }
    }
    let _ = nvprobe::ioctl::c_string(data);
    let _ = nvprobe::ioctl::format_uuid(data);
});
