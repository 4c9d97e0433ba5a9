//! The command line (clap derive structs only).

use std::path::PathBuf;

use clap::Parser;

/// What NVIDIA GPU stack is on this machine, and will this CUDA build run on it?
///
/// Reads the NVIDIA kernel driver's procfs/sysfs files and device nodes directly: no NVML, no
/// libcuda, no GPU woken up (unless --deep). Exit codes: 0 report written and no error
/// finding; 1 report written with at least one error finding; 2 usage error; 3 the probe
/// itself failed (internal error, or the deadline passed before any report).
#[derive(Debug, Parser)]
#[command(name = "nvprobe", version, about, long_about)]
pub struct Cli {
    /// Print the report as one JSON object on stdout (`schema_version` 1).
    #[arg(long, global = true)]
    pub json: bool,

    /// Read the machine from DIR instead of `/` (a fixture or a capture): every absolute path
    /// the probe reads is resolved under DIR, like a chroot.
    #[arg(long, value_name = "DIR", global = true)]
    pub root: Option<PathBuf>,

    /// Allow queries that wake or initialise a GPU (RM allocation: architecture, name, UUID,
    /// memory).
    #[arg(long, global = true)]
    pub deep: bool,

    /// Run the NVML shim (nvprobe-shim) and compare its answers field by field.
    #[arg(long, global = true)]
    pub cross_check: bool,

    /// Hard deadline for the whole run, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000, global = true,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout: u64,
}
