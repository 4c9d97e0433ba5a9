//! `nvprobe-shim`: loads NVML (`libnvidia-ml.so.1`) and prints what it says as one JSON object.
//!
//! nvprobe itself is a fully static musl binary, and a static binary cannot `dlopen` the glibc
//! `libnvidia-ml.so.1`. For `nvprobe --cross-check` this small, dynamically linked glibc binary
//! does it instead, in a separate process that nvprobe can kill when NVML hangs. It depends on
//! no workspace crate and on no crate but `libc`.
//!
//! # Usage
//! `nvprobe-shim [--deadline-ms N] [--nvml-lib NAME] [--cuda-lib NAME] [--no-cuda]`
//!
//! - `--nvml-lib`: what to `dlopen` instead of `libnvidia-ml.so.1` (a soname or a path). The
//!   default is the versioned soname, never the unversioned `libnvidia-ml.so` (driver 560 and
//!   later no longer ship that link). The normal loader search applies, so `LD_LIBRARY_PATH`
//!   and the WSL2 directory `/usr/lib/wsl/lib` work.
//! - `--cuda-lib`: the same for `libcuda.so.1`; `--no-cuda` skips libcuda.
//! - `--deadline-ms`: the caller's deadline. The shim does not stop by itself at that time (the
//!   caller kills it), but it arms `alarm(2)` for one second past it so that a shim whose
//!   caller died cannot hang forever in NVML.
//!
//! Exit status: 0 when the JSON object was printed, also when it says NVML failed; 2 for a
//! usage error; 1 when stdout could not be written. The answer goes to the original stdout;
//! fd 1 is pointed at stderr before any library is loaded, so a library that prints to stdout
//! (the CUDA toolkit's stub NVML does) cannot corrupt it.
//!
//! # Protocol `nvprobe-shim/1`
//! One JSON object on one line, then a newline. `protocol` is always the first key; a
//! consumer must refuse any other value. Keys may be added within version 1; consumers
//! ignore keys they do not know. A key is absent when the step it needs failed earlier (no
//! `driver_version` when `init` failed).
//!
//! A *value-or-error* is either the value or `{"error": E}`, where `E` is one of:
//! - `{"code": "NVML_ERROR_NO_PERMISSION", "value": 4, "message": "Insufficient Permissions"}`:
//!   NVML returned this `nvmlReturn_t` (`message` from `nvmlErrorString`, `null` without it;
//!   `code` is `NVML_ERROR_<n>` for a number this shim does not know);
//! - `{"code": "CUDA_ERROR_NO_DEVICE", "value": 100, "message": "..."}`: libcuda's `CUresult`;
//! - `{"code": "symbol-missing", "symbol": "nvmlDeviceGetMigMode", "message": "..."}`: the
//!   library does not export the function (an NVML older than the query);
//! - `{"code": "library-not-found", "message": "<dlerror text>"}`: `dlopen` failed.
//!
//! ```text
//! {
//!   "protocol": "nvprobe-shim/1",
//!   "shim_version": "0.1.0",
//!   "library": {"name": "libnvidia-ml.so.1", "path": "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.580.95.05"}
//!              | {"name": "libnvidia-ml.so.1", "error": E},       (then nothing below is present)
//!   "missing_symbols": ["nvmlDeviceGetMigMode", ...],            (looked up, not exported)
//!   "init": {"function": "nvmlInit_v2"} | {"error": E},          (on error nothing below but libcuda)
//!   "nvml_version": "13.580.95.05" | {"error": E},
//!   "driver_version": "580.95.05" | {"error": E},                (kernel-mode driver)
//!   "cuda_driver_version": "13.0" | {"error": E},                (major.minor, from NVML)
//!   "gpu_count": 1 | {"error": E},
//!   "gpus": [ {"index": 0, "error": E}                            (no handle for this index)
//!           | {"index": 0,
//!              "pci": {"bus_id": "00000000:3B:00.0",              (as NVML writes it)
//!                      "vendor_id": "0x10de", "device_id": "0x2330",
//!                      "subsystem_vendor_id": "0x10de", "subsystem_device_id": "0x16c1"}
//!                     | {"error": E},
//!              "name": "NVIDIA H100 80GB HBM3" | {"error": E},
//!              "uuid": "GPU-…" | {"error": E},
//!              "compute_capability": "9.0" | {"error": E},
//!              "memory_total_bytes": 85520809984 | {"error": E},
//!              "brand": {"value": 2, "name": "NVML_BRAND_TESLA"} | {"error": E},
//!              "mig_mode": {"current": 0, "pending": 0} | {"error": E}} ],
//!   "libcuda": null                                              (--no-cuda)
//!              | {"name": "libcuda.so.1", "error": E}
//!              | {"name": "libcuda.so.1", "path": "...", "cuda_driver_version": "13.0" | {"error": E}}
//! }
//! ```
//! `nvmlShutdown` is called after the last query when `init` succeeded.

mod json;
mod nvml;

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::process::ExitCode;

use json::Json;
use nvml::{Failure, Nvml};

/// The protocol this shim speaks; nvprobe refuses any other.
const PROTOCOL: &str = "nvprobe-shim/1";

const USAGE: &str = "usage: nvprobe-shim [--deadline-ms N] [--nvml-lib NAME] [--cuda-lib NAME] [--no-cuda]\n\
Loads libnvidia-ml.so.1 (and libcuda.so.1) and prints one JSON object (protocol nvprobe-shim/1).\n";

/// Parsed command line.
struct Args {
    nvml_lib: CString,
    cuda_lib: Option<CString>,
    deadline_ms: Option<u64>,
}

enum Parsed {
    Run(Args),
    Exit(&'static str, u8),
}

fn parse_args(mut args: impl Iterator<Item = std::ffi::OsString>) -> Result<Parsed, String> {
    use std::os::unix::ffi::OsStringExt as _;
    let mut nvml_lib = c"libnvidia-ml.so.1".to_owned();
    let mut cuda_lib = Some(c"libcuda.so.1".to_owned());
    let mut no_cuda = false;
    let mut deadline_ms = None;
    let c_string = |v: std::ffi::OsString| {
        CString::new(v.into_vec()).map_err(|_| "a library name must not contain NUL".to_owned())
    };
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{} needs a value", arg.display()))
        };
        match arg.to_str() {
            Some("--nvml-lib") => nvml_lib = c_string(value()?)?,
            Some("--cuda-lib") => cuda_lib = Some(c_string(value()?)?),
            Some("--no-cuda") => no_cuda = true,
            Some("--deadline-ms") => {
                let v = value()?;
                let n = v.to_str().and_then(|s| s.parse::<u64>().ok());
                deadline_ms = Some(n.ok_or_else(|| format!("bad --deadline-ms {}", v.display()))?);
            }
            Some("--help" | "-h") => return Ok(Parsed::Exit(USAGE, 0)),
            Some("--version" | "-V") => {
                return Ok(Parsed::Exit(
                    concat!("nvprobe-shim ", env!("CARGO_PKG_VERSION"), "\n"),
                    0,
                ));
            }
            _ => return Err(format!("unexpected argument {}", arg.display())),
        }
    }
    if no_cuda {
        cuda_lib = None;
    }
    Ok(Parsed::Run(Args {
        nvml_lib,
        cuda_lib,
        deadline_ms,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args_os().skip(1)) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Exit(text, code)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            return ExitCode::from(code);
        }
        Err(e) => {
            let _ = write!(std::io::stderr(), "nvprobe-shim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // Keep the real stdout for the answer, then send fd 1 to stderr before loading anything.
    let Ok(out) = std::io::stdout().as_fd().try_clone_to_owned() else {
        return ExitCode::from(1);
    };
    let _ = nvml::stdout_to_stderr();
    if let Some(ms) = args.deadline_ms {
        let seconds = ms.div_ceil(1000).saturating_add(1);
        nvml::arm_alarm(u32::try_from(seconds).unwrap_or(u32::MAX));
    }

    let answer = collect(&args);
    let mut text = String::with_capacity(2048);
    answer.write(&mut text);
    text.push('\n');
    let mut out = File::from(out);
    match out.write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}

/// Runs every query and builds the answer.
fn collect(args: &Args) -> Json {
    let mut top: Vec<(&'static str, Json)> = vec![
        ("protocol", Json::str(PROTOCOL)),
        ("shim_version", Json::str(env!("CARGO_PKG_VERSION"))),
    ];
    let lib_name = args.nvml_lib.to_string_lossy().into_owned();
    match Nvml::load(&args.nvml_lib) {
        Err(message) => top.push((
            "library",
            Json::Obj(vec![
                ("name", Json::Str(lib_name)),
                ("error", library_error(message)),
            ]),
        )),
        Ok(nv) => {
            let path = nv.path.clone().map_or(Json::Null, Json::Str);
            top.push((
                "library",
                Json::Obj(vec![("name", Json::Str(lib_name)), ("path", path)]),
            ));
            top.push((
                "missing_symbols",
                Json::Arr(nv.missing.iter().map(|s| Json::str(*s)).collect()),
            ));
            match nv.init() {
                Err(f) => top.push(("init", failure(&f))),
                Ok(function) => {
                    top.push(("init", Json::Obj(vec![("function", Json::str(function))])));
                    query_nvml(&nv, &mut top);
                    nv.shutdown();
                }
            }
        }
    }
    top.push((
        "libcuda",
        args.cuda_lib.as_deref().map_or(Json::Null, libcuda),
    ));
    Json::Obj(top)
}

/// The system-wide and per-GPU queries, after a successful init.
fn query_nvml(nv: &Nvml, top: &mut Vec<(&'static str, Json)>) {
    top.push(("nvml_version", or_error(nv.nvml_version(), Json::Str)));
    top.push(("driver_version", or_error(nv.driver_version(), Json::Str)));
    top.push((
        "cuda_driver_version",
        or_error(nv.cuda_driver_version(), cuda_version),
    ));
    let count = nv.device_count();
    let n = *count.as_ref().unwrap_or(&0);
    top.push(("gpu_count", or_error(count, |n| Json::U64(n.into()))));
    // A broken library could claim billions of GPUs; real machines have at most a few dozen.
    let gpus = (0..n.min(256)).map(|i| gpu(nv, i)).collect();
    top.push(("gpus", Json::Arr(gpus)));
}

fn gpu(nv: &Nvml, index: u32) -> Json {
    let mut fields = vec![("index", Json::U64(index.into()))];
    let d = match nv.device(index) {
        Ok(d) => d,
        Err(f) => {
            fields.push(("error", error_object(&f)));
            return Json::Obj(fields);
        }
    };
    fields.push((
        "pci",
        or_error(nv.pci_info(d), |p| {
            Json::Obj(vec![
                ("bus_id", Json::Str(p.bus_id)),
                ("vendor_id", hex16(p.device_vendor & 0xffff)),
                ("device_id", hex16(p.device_vendor >> 16)),
                ("subsystem_vendor_id", hex16(p.subsystem & 0xffff)),
                ("subsystem_device_id", hex16(p.subsystem >> 16)),
            ])
        }),
    ));
    fields.push(("name", or_error(nv.name(d), Json::Str)));
    fields.push(("uuid", or_error(nv.uuid(d), Json::Str)));
    fields.push((
        "compute_capability",
        or_error(nv.compute_capability(d), |(major, minor)| {
            Json::Str(format!("{major}.{minor}"))
        }),
    ));
    fields.push((
        "memory_total_bytes",
        or_error(nv.memory_total(d), Json::U64),
    ));
    fields.push((
        "brand",
        or_error(nv.brand(d), |b| {
            Json::Obj(vec![
                ("value", Json::U64(b.into())),
                ("name", Json::str(brand_name(b))),
            ])
        }),
    ));
    fields.push((
        "mig_mode",
        or_error(nv.mig_mode(d), |(current, pending)| {
            Json::Obj(vec![
                ("current", Json::U64(current.into())),
                ("pending", Json::U64(pending.into())),
            ])
        }),
    ));
    Json::Obj(fields)
}

fn libcuda(name: &CStr) -> Json {
    let mut fields = vec![("name", Json::Str(name.to_string_lossy().into_owned()))];
    match nvml::cuda_driver(name) {
        Err(message) => fields.push(("error", library_error(message))),
        Ok(c) => {
            fields.push(("path", c.path.map_or(Json::Null, Json::Str)));
            fields.push(("cuda_driver_version", or_error(c.version, cuda_version)));
        }
    }
    Json::Obj(fields)
}

/// `13000` → `"13.0"`, `12040` → `"12.4"` (the encoding of `CUDA_VERSION`).
fn cuda_version(v: i32) -> Json {
    Json::Str(format!("{}.{}", v / 1000, (v % 1000) / 10))
}

fn hex16(v: u32) -> Json {
    Json::Str(format!("0x{v:04x}"))
}

fn or_error<T>(r: Result<T, Failure>, ok: impl FnOnce(T) -> Json) -> Json {
    match r {
        Ok(v) => ok(v),
        Err(f) => failure(&f),
    }
}

/// `{"error": E}`.
fn failure(f: &Failure) -> Json {
    Json::Obj(vec![("error", error_object(f))])
}

fn library_error(message: String) -> Json {
    Json::Obj(vec![
        ("code", Json::str("library-not-found")),
        ("message", Json::Str(message)),
    ])
}

/// `E`: see the crate doc.
fn error_object(f: &Failure) -> Json {
    match f {
        Failure::Nvml { value, message } => Json::Obj(vec![
            ("code", Json::Str(nvml_code(*value))),
            ("value", Json::U64((*value).into())),
            ("message", message.clone().map_or(Json::Null, Json::Str)),
        ]),
        Failure::Cuda {
            value,
            name,
            message,
        } => Json::Obj(vec![
            (
                "code",
                Json::Str(
                    name.clone()
                        .unwrap_or_else(|| format!("CUDA_ERROR_{value}")),
                ),
            ),
            ("value", Json::U64(u64::from(value.unsigned_abs()))),
            ("message", message.clone().map_or(Json::Null, Json::Str)),
        ]),
        Failure::Missing(symbol) => Json::Obj(vec![
            ("code", Json::str("symbol-missing")),
            ("symbol", Json::str(*symbol)),
            (
                "message",
                Json::Str(format!("the library does not export {symbol}")),
            ),
        ]),
    }
}

/// The `nvmlReturn_t` name from `nvml.h`.
fn nvml_code(value: u32) -> String {
    let name = match value {
        0 => "SUCCESS",
        1 => "ERROR_UNINITIALIZED",
        2 => "ERROR_INVALID_ARGUMENT",
        3 => "ERROR_NOT_SUPPORTED",
        4 => "ERROR_NO_PERMISSION",
        5 => "ERROR_ALREADY_INITIALIZED",
        6 => "ERROR_NOT_FOUND",
        7 => "ERROR_INSUFFICIENT_SIZE",
        8 => "ERROR_INSUFFICIENT_POWER",
        9 => "ERROR_DRIVER_NOT_LOADED",
        10 => "ERROR_TIMEOUT",
        11 => "ERROR_IRQ_ISSUE",
        12 => "ERROR_LIBRARY_NOT_FOUND",
        13 => "ERROR_FUNCTION_NOT_FOUND",
        14 => "ERROR_CORRUPTED_INFOROM",
        15 => "ERROR_GPU_IS_LOST",
        16 => "ERROR_RESET_REQUIRED",
        17 => "ERROR_OPERATING_SYSTEM",
        18 => "ERROR_LIB_RM_VERSION_MISMATCH",
        19 => "ERROR_IN_USE",
        20 => "ERROR_MEMORY",
        21 => "ERROR_NO_DATA",
        22 => "ERROR_VGPU_ECC_NOT_SUPPORTED",
        23 => "ERROR_INSUFFICIENT_RESOURCES",
        24 => "ERROR_FREQ_NOT_SUPPORTED",
        25 => "ERROR_ARGUMENT_VERSION_MISMATCH",
        26 => "ERROR_DEPRECATED",
        27 => "ERROR_NOT_READY",
        28 => "ERROR_GPU_NOT_FOUND",
        29 => "ERROR_INVALID_STATE",
        30 => "ERROR_RESET_TYPE_NOT_SUPPORTED",
        999 => "ERROR_UNKNOWN",
        n => return format!("NVML_ERROR_{n}"),
    };
    format!("NVML_{name}")
}

/// The `nvmlBrandType_t` name from `nvml.h`.
fn brand_name(value: u32) -> &'static str {
    match value {
        0 => "NVML_BRAND_UNKNOWN",
        1 => "NVML_BRAND_QUADRO",
        2 => "NVML_BRAND_TESLA",
        3 => "NVML_BRAND_NVS",
        4 => "NVML_BRAND_GRID",
        5 => "NVML_BRAND_GEFORCE",
        6 => "NVML_BRAND_TITAN",
        7 => "NVML_BRAND_NVIDIA_VAPPS",
        8 => "NVML_BRAND_NVIDIA_VPC",
        9 => "NVML_BRAND_NVIDIA_VCS",
        10 => "NVML_BRAND_NVIDIA_VWS",
        11 => "NVML_BRAND_NVIDIA_CLOUD_GAMING",
        12 => "NVML_BRAND_QUADRO_RTX",
        13 => "NVML_BRAND_NVIDIA_RTX",
        14 => "NVML_BRAND_NVIDIA",
        15 => "NVML_BRAND_GEFORCE_RTX",
        16 => "NVML_BRAND_TITAN_RTX",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::{Parsed, cuda_version, nvml_code, parse_args};

    fn text(j: &super::Json) -> String {
        let mut s = String::new();
        j.write(&mut s);
        s
    }

    #[test]
    fn shim_cuda_version_encoding() {
        assert_eq!(text(&cuda_version(13000)), r#""13.0""#);
        assert_eq!(text(&cuda_version(12040)), r#""12.4""#);
        assert_eq!(text(&cuda_version(11080)), r#""11.8""#);
    }

    #[test]
    fn shim_nvml_codes() {
        assert_eq!(nvml_code(18), "NVML_ERROR_LIB_RM_VERSION_MISMATCH");
        assert_eq!(nvml_code(9), "NVML_ERROR_DRIVER_NOT_LOADED");
        assert_eq!(nvml_code(4), "NVML_ERROR_NO_PERMISSION");
        assert_eq!(nvml_code(77), "NVML_ERROR_77");
    }

    #[test]
    fn shim_args() {
        let args = |v: &[&str]| parse_args(v.iter().map(std::ffi::OsString::from));
        let Ok(Parsed::Run(a)) = args(&["--deadline-ms", "1500", "--no-cuda"]) else {
            panic!()
        };
        assert_eq!(a.deadline_ms, Some(1500));
        assert!(a.cuda_lib.is_none());
        assert_eq!(a.nvml_lib.to_str(), Ok("libnvidia-ml.so.1"));
        assert!(args(&["--deadline-ms"]).is_err());
        assert!(args(&["--deadline-ms", "x"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
