//! The command line (clap derive structs only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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

    /// Run without the self-sandbox (`no_new_privs`, Landlock read-only filesystem access,
    /// seccomp syscall allow-list), e.g. to tell whether the sandbox is what breaks a run.
    #[arg(long, global = true)]
    pub no_sandbox: bool,

    /// What to do; without a command, report on this machine.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Will a CUDA build or a container requirement run here? Prints the verdict and its reason
    /// on the first line (--json: the report plus a `check` object). Exit codes: 0 satisfied,
    /// 1 not satisfied, 2 malformed requirement or usage error, 3 the probe itself failed.
    /// Without --cuda and --require, the `NVIDIA_REQUIRE_*` variables of the environment are
    /// checked (`NVIDIA_DISABLE_REQUIRE` honoured), as the NVIDIA container runtime does.
    Check(CheckArgs),

    /// Write a bug-report bundle: every file the probe read (formats intact, symlinks kept as
    /// links, device nodes as stand-in records), the ioctl replies, the shim's output with
    /// --cross-check, and the allow-listed environment (never secrets). `nvprobe --root DIR`
    /// replays it to the same report. Prints the report as usual; exit codes: 0 bundle written,
    /// 2 DIR not usable (it must not exist or be empty), 3 writing failed.
    Capture(CaptureArgs),

    /// Inventory of CUDA ELF files (no GPU needed): per file the SASS architectures (`sm_XY`,
    /// with a/f variants), PTX entries (virtual architecture, ISA), compressed entries, the CUDA
    /// runtime it uses (libcudart SONAME or static) and its own version. Directories are walked
    /// (bounded, symlinks not followed). Exit codes: 0 every path read, 1 a path could not be
    /// read, 2 usage error.
    Scan(ScanArgs),
}

/// `nvprobe scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// ELF files or directories to scan.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// `nvprobe capture`.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// The bundle directory: created, or an existing empty directory (nothing else is
    /// overwritten). Nothing is written outside it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace GPU/MIG UUIDs and serial numbers with placeholders (the same value gets the same
    /// placeholder everywhere in the bundle).
    #[arg(long)]
    pub redact: bool,
}

/// `nvprobe check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Will a program built with this CUDA runtime version (X.Y) run here: natively, through
    /// minor-version or forward compatibility, or not at all?
    #[arg(long, value_name = "X.Y")]
    pub cuda: Option<String>,

    /// A requirement in the `NVIDIA_REQUIRE_CUDA` language, e.g. 'cuda>=12.4
    /// brand=tesla,driver>=535,driver<536': space-separated OR groups of comma-separated
    /// conditions on cuda, driver, arch and brand; it must hold for every visible GPU.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub require: Option<String>,

    /// CUDA binaries (ELF files, or directories such as a Python environment's site-packages)
    /// whose GPU code must run on every visible GPU: SASS for its compute capability, or PTX
    /// the driver can JIT. Repeat or list several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub binary: Vec<PathBuf>,
}
