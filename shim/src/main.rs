//! `nvprobe-shim`: see the crate description. Not implemented yet: it says so and exits 3.
use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = writeln!(
        std::io::stdout(),
        r#"{{"protocol":"nvprobe-shim/1","error":{{"code":"not-implemented","message":"the NVML shim is not implemented yet"}}}}"#
    );
    ExitCode::from(3)
}
