//! How an installer calls nvprobe in-process, the way uv's `--torch-backend=auto` picks a
//! `cuXXX` index: the CUDA version a program would get here and the GPUs' compute
//! capabilities, typed, within a deadline. Built by CI; `scripts/bench-api` times it.
//!
//! Usage: `nvprobe-example-installer [--root DIR] [--bench N]`
//! - `--root DIR`: a fixture or a capture bundle instead of this machine;
//! - `--bench N`: N warm calls in this process, then the median and p90 per call.
#![expect(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "an example program: what it prints is the point"
)]

use std::process::ExitCode;
use std::time::{Duration, Instant};

use nvprobe::api::{CanStart, Cuda, Machine};

/// A PyTorch-style wheel index for what a CUDA program gets here (the newest index whose CUDA
/// version the driver runs), or the CPU build.
fn torch_index(cuda: &Cuda) -> String {
    const INDEXES: &[(u32, u32)] = &[(13, 0), (12, 9), (12, 8), (12, 6), (11, 8)];
    let Some(have) = cuda.cuda_version else {
        return "cpu".to_owned();
    };
    INDEXES
        .iter()
        .find(|&&(major, minor)| (major, minor) <= (have.major, have.minor))
        .map_or_else(|| "cpu".to_owned(), |(a, b)| format!("cu{a}{b}"))
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut root = None;
    let mut bench = None;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--root", Some(dir)) => root = Some(dir),
            ("--bench", Some(n)) => bench = n.parse::<usize>().ok().filter(|n| *n > 0),
            _ => {
                eprintln!("usage: nvprobe-example-installer [--root DIR] [--bench N]");
                return ExitCode::from(2);
            }
        }
    }
    let machine = root
        .map_or_else(Machine::host, Machine::at)
        .timeout(Duration::from_millis(500));
    let cuda = match machine.cuda() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("nvprobe: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(n) = bench {
        let mut times: Vec<Duration> = (0..n)
            .map(|_| {
                let t = Instant::now();
                let again = machine.cuda();
                let dt = t.elapsed();
                assert_eq!(
                    again.as_ref().ok(),
                    Some(&cuda),
                    "the same answer every call"
                );
                dt
            })
            .collect();
        times.sort();
        let at = |q: usize| times[(times.len() * q / 100).min(times.len() - 1)];
        println!(
            "calls={n} median_us={:.1} p90_us={:.1} min_us={:.1}",
            at(50).as_secs_f64() * 1e6,
            at(90).as_secs_f64() * 1e6,
            times[0].as_secs_f64() * 1e6
        );
        return ExitCode::SUCCESS;
    }
    let driver = cuda
        .driver_version
        .as_ref()
        .map_or_else(|| "none".to_owned(), ToString::to_string);
    let version = cuda
        .cuda_version
        .map_or_else(|| "none".to_owned(), |v| v.to_string());
    let ccs: Vec<String> = cuda
        .compute_capabilities
        .iter()
        .map(ToString::to_string)
        .collect();
    println!("driver={driver}");
    println!("cuda={version}");
    println!("compute_capabilities={}", ccs.join(","));
    println!(
        "can_start={}",
        match cuda.can_start {
            CanStart::Yes => "yes",
            CanStart::No => "no",
            _ => "unknown",
        }
    );
    println!("index={}", torch_index(&cuda));
    ExitCode::SUCCESS
}
