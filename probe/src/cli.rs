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
#[command(name = "nvprobe", version, about, long_about, after_help = TOP_EXAMPLES)]
pub struct Cli {
    /// The probe's options, given before a command (`nvprobe --json check`); a command takes
    /// them after its name too (`nvprobe check --json`): see [`Cli::options`].
    #[command(flatten)]
    pub opts: ProbeOptions,

    /// What to do; without a command, report on this machine.
    #[command(subcommand)]
    pub command: Option<Command>,
}

// The options of every command that probes the machine. Each command lists only the options
// it takes (`schema --help` shows none), so they are flattened into each, not global. No doc
// comment on this struct or on the other argument structs: clap takes a struct's doc comment
// for the about of the command it is flattened into, and since the subcommands are deferred
// (`Command`), it would be applied after, and over, the subcommand's own.
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct ProbeOptions {
    /// Print the report as one JSON object on stdout (`schema_version` 1).
    #[arg(long)]
    pub json: bool,

    /// Read the machine from DIR instead of `/` (a fixture or a capture): every absolute path
    /// the probe reads is resolved under DIR, like a chroot.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Allow queries that wake or initialise a GPU (RM allocation: architecture, name, UUID,
    /// memory).
    #[arg(long)]
    pub deep: bool,

    /// Run the NVML shim (nvprobe-shim) and compare its answers field by field.
    #[arg(long)]
    pub cross_check: bool,

    /// Hard deadline for the whole run, in milliseconds (1 to 600000) [default: 2000].
    #[arg(long, value_name = "MS", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_MS))]
    pub timeout: Option<u64>,

    /// Run without the self-sandbox (`no_new_privs`, Landlock read-only filesystem access,
    /// seccomp syscall allow-list), e.g. to tell whether the sandbox is what breaks a run.
    #[arg(long)]
    pub no_sandbox: bool,
}

// The arguments of `nvprobe labels` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct LabelsArgs {
    #[command(flatten)]
    pub opts: ProbeOptions,

    /// Write the labels to FILE instead of stdout, atomically: into a dot file beside it
    /// (NFD skips dot files), then renamed over FILE. For NFD's features.d from an image
    /// with no shell (the FROM scratch image).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

// The options of `nvprobe scan` and `nvprobe compare`, which read only the files they are
// given (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Clone, Debug, Default, PartialEq, Eq, Args)]
pub struct ScanOptions {
    /// Print the result as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,

    /// Hard deadline for the whole command, in milliseconds (1 to 600000) [default: 2000].
    #[arg(long, value_name = "MS", allow_negative_numbers = true,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT_MS))]
    pub timeout: Option<u64>,

    /// Run without the self-sandbox.
    #[arg(long)]
    pub no_sandbox: bool,
}

/// `--timeout` when not given, in milliseconds.
pub use crate::DEFAULT_TIMEOUT_MS;
/// The longest `--timeout` accepted, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

impl ProbeOptions {
    /// The deadline in milliseconds: `--timeout`, or [`DEFAULT_TIMEOUT_MS`].
    pub fn timeout_ms(&self) -> u64 {
        self.timeout.unwrap_or(DEFAULT_TIMEOUT_MS)
    }

    /// These options with those given after the command name laid over them: a flag set in
    /// either place is set; a value given after the command wins.
    fn merged(&self, after: &Self) -> Self {
        Self {
            json: self.json || after.json,
            root: after.root.clone().or_else(|| self.root.clone()),
            deep: self.deep || after.deep,
            cross_check: self.cross_check || after.cross_check,
            timeout: after.timeout.or(self.timeout),
            no_sandbox: self.no_sandbox || after.no_sandbox,
        }
    }
}

impl Cli {
    /// The options in force: those before the command, with the command's own laid over them.
    pub fn options(&self) -> ProbeOptions {
        match &self.command {
            None | Some(Command::Schema) => self.opts.clone(),
            Some(Command::Check(a)) => self.opts.merged(&a.opts),
            Some(Command::Capture(a)) => self.opts.merged(&a.opts),
            Some(Command::Labels(a)) => self.opts.merged(&a.opts),
            Some(Command::Export(a)) => self.opts.merged(&a.opts),
            Some(Command::Explain(a)) => self.opts.merged(&a.opts),
            Some(
                Command::Compare(CompareArgs { opts, .. }) | Command::Scan(ScanArgs { opts, .. }),
            ) => self.opts.merged(&ProbeOptions {
                json: opts.json,
                timeout: opts.timeout,
                no_sandbox: opts.no_sandbox,
                ..ProbeOptions::default()
            }),
        }
    }
}

const TOP_EXAMPLES: &str = "\
Examples:
  nvprobe                                  what is here, what is wrong, how to fix it
  nvprobe --json                           the same as one JSON object (nvprobe schema)
  nvprobe check --cuda 12.8                will a CUDA 12.8 build run here? (exit 0/1)
  nvprobe check --binary .venv/lib         will these CUDA programs run here?
  nvprobe check --python .venv             will this venv's torch/jax/cupy run here?
  nvprobe labels                           Kubernetes node labels (NFD feature file)
  nvprobe export --format conda            __cuda and __cuda_arch for conda and pixi
  nvprobe capture --out bundle             a bug-report bundle that --root replays
  NVPROBE_DRIVER_VERSION=550.54.15 nvprobe --json   pretend, on a build host without a GPU

Environment overrides: NVPROBE_DRIVER_VERSION, NVPROBE_CUDA_VERSION, NVPROBE_COMPUTE_CAPABILITY.
NVPROBE_SHIM: the nvprobe-shim binary for --cross-check (default: next to nvprobe).";

/// The subcommands. Each one's arguments are built only when it is the one run (`defer`):
/// building every subcommand's arguments was most of clap's start-up, paid by every run.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Will a CUDA build, a container requirement or a CUDA binary run here? (exit 0 or 1)
    ///
    /// Prints the verdict and its reason
    /// on the first line (--json: the report plus a `check` object). Exit codes: 0 satisfied,
    /// 1 not satisfied, 2 malformed requirement or usage error, 3 the probe itself failed.
    /// Without --cuda and --require, the `NVIDIA_REQUIRE_*` variables of the environment are
    /// checked (`NVIDIA_DISABLE_REQUIRE` honoured), as the NVIDIA container runtime does.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),

    /// Write a bug-report bundle that `nvprobe --root DIR` replays.
    ///
    /// Write a bug-report bundle: every file the probe read (formats intact, symlinks kept as
    /// links, device nodes as stand-in records), the ioctl replies, the shim's output with
    /// --cross-check, and the allow-listed environment (never secrets). `nvprobe --root DIR`
    /// replays it to the same report. Prints the report as usual; exit codes: 0 bundle written,
    /// 2 DIR not usable (it must not exist or be empty), 3 writing failed.
    Capture(CaptureArgs),

    /// List the GPU code in CUDA ELF files: SASS architectures, PTX, CUDA runtime.
    ///
    /// Inventory of CUDA ELF files (no GPU needed): per file the SASS architectures (`sm_XY`,
    /// with a/f variants), PTX entries (virtual architecture, ISA), compressed entries, the CUDA
    /// runtime it uses (libcudart SONAME or static) and its own version. Directories are walked
    /// (bounded, symlinks not followed). Exit codes: 0 every path read, 1 a path could not be
    /// read, 2 usage error.
    Scan(ScanArgs),

    /// Kubernetes node labels as a Node Feature Discovery feature file.
    ///
    /// Kubernetes node labels as a Node Feature Discovery feature file (NFD's `features.d`
    /// local source: one `name=value` line each), with NVIDIA GPU Feature Discovery's label
    /// names: `nvidia.com/cuda.driver-version.major|minor|revision|full`,
    /// `nvidia.com/cuda.runtime-version.major|minor|full` (the driver's CUDA version) and their
    /// deprecated forms `cuda.driver.*`, `cuda.runtime.*`, `nvidia.com/gpu.count`, `gpu.product`, `gpu.family`,
    /// `gpu.compute.major|minor`, `gpu.memory` (MiB, with --deep). A node with different GPUs
    /// gets the labels of the GPU with the lowest compute capability and
    /// `nvprobe.gpu.mixed=true`. Writes to stdout only; install it with
    /// `nvprobe labels > /etc/kubernetes/node-feature-discovery/features.d/nvprobe`.
    /// Exit codes: 0 labels written (whatever the findings: see `nvprobe.healthy`), 2 usage
    /// error, 3 the probe itself failed.
    #[command(after_help = LABELS_EXAMPLES)]
    Labels(LabelsArgs),

    /// Facts for package managers and scripts: shell, conda, wheel-variant, overrides.
    ///
    /// Machine-readable facts for package managers and scripts, without prose to parse.
    /// `shell`: `NVPROBE_*=value` lines for `eval`; `conda`: the virtual packages `__cuda`
    /// and `__cuda_arch` (the minimum compute capability, CEP 46) as `name=version=build`,
    /// with the minimum and maximum in `# cuda_arch_min:` / `# cuda_arch_max:` header lines;
    /// `wheel-variant`: the `nvidia` wheel-variant properties in priority order, as
    /// nvidia-variant-provider computes them; `overrides`: the variables uv, conda, pixi and
    /// the variant provider honour (`UV_CUDA_DRIVER_VERSION`, `CONDA_OVERRIDE_CUDA`, ...), to
    /// pin them on a machine where their own detection fails. With --json, one JSON object.
    /// Exit codes: 0 written, 2 usage error, 3 the probe itself failed.
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(ExportArgs),

    /// What an error message means, and which of its causes is present here.
    ///
    /// Takes an error message as people paste it ("CUDA driver version is insufficient for
    /// CUDA runtime version", "Failed to initialize NVML: Driver/library version mismatch",
    /// `cuInit` 803, ...), names its known causes, probes this machine (the same options as
    /// `nvprobe`: --root, --json, --timeout, ...) and answers with the findings that apply
    /// here, or "none of the known causes is present" with what was checked. The messages and
    /// their sources are the vendored table `data/error-messages.tsv`. Exit codes: 0 a known
    /// message and none of its causes is present here; 1 a cause is present here (or the report
    /// is incomplete, so none can be ruled out); 2 usage error; 3 the probe itself failed;
    /// 4 the text matches no known message.
    #[command(after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),

    /// What differs, where it matters, between the reports of many nodes.
    ///
    /// Reads `nvprobe --json` reports and capture bundles (files, or a directory of them; a
    /// directory's `*.json` files and bundle subdirectories, symlinks not followed), or with
    /// --k8s-nodes the output of `kubectl get nodes -o json` (the labels `nvprobe labels`
    /// writes), and says what differs: driver branch (mixed branches are a known cause of
    /// NCCL hangs), driver version, the driver's CUDA version, GPU models, whether CUDA
    /// starts, fabric manager, container toolkit. Probes nothing. Exit codes: 0 every input
    /// read and the same everywhere; 1 a difference, or an input unreadable or incomplete;
    /// 2 usage error; 3 the comparison itself failed.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),

    /// Print the JSON Schema of the `--json` report.
    ///
    /// Print the JSON Schema (draft 2020-12) of the `--json` report, including the `check`
    /// object of `nvprobe check --json`. No probe runs. Exit code 0.
    Schema,
}

const CHECK_EXAMPLES: &str = "\
Examples:
  nvprobe check --cuda 12.8
  nvprobe check --require 'cuda>=12.4 brand=tesla,driver>=535,driver<536'
  nvprobe check --binary /opt/venv/lib/python3.12/site-packages/torch/lib
  nvprobe check --python .venv
  nvprobe check --python .venv/bin/python --json | jq '.check.checks[].framework'
  NVIDIA_REQUIRE_CUDA='cuda>=12.6' nvprobe check
  nvprobe check --cuda 13.0 --json | jq .check.verdict";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  nvprobe explain 'CUDA driver version is insufficient for CUDA runtime version'
  nvprobe explain Failed to initialize NVML: Driver/library version mismatch
  nvprobe explain cuInit 803
  nvprobe explain --json CUDA_ERROR_UNSUPPORTED_PTX_VERSION";

const COMPARE_EXAMPLES: &str = "\
Examples:
  nvprobe compare node-a.json node-b.json node-c.json
  nvprobe compare reports/                 every *.json report and capture bundle in it
  kubectl get nodes -o json > nodes.json && nvprobe compare --k8s-nodes nodes.json
  nvprobe compare --json reports/ | jq .compare.verdict";

const LABELS_EXAMPLES: &str = "\
Examples:
  nvprobe labels
  nvprobe labels --output /etc/kubernetes/node-feature-discovery/features.d/nvprobe
  nvprobe labels --root tests/fixtures/mixed-a4000-rtx4090-570";

const EXPORT_EXAMPLES: &str = "\
Examples:
  eval \"$(nvprobe export --format shell)\" && echo \"$NVPROBE_DRIVER_CUDA\"
  nvprobe export --format conda
  nvprobe export --format wheel-variant
  eval \"$(nvprobe export --format overrides)\"   # then: pixi install, conda create, uv pip install
  nvprobe export --format conda --json
  eval \"$(nvprobe export --format uv)\" && uv pip install torch";

// The arguments of `nvprobe export` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ProbeOptions,

    /// What to write.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: ExportFormat,
}

/// `nvprobe export --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// `NVPROBE_*=value` lines, safe for `eval` in sh, bash and zsh.
    Shell,
    /// The conda virtual packages `__cuda` and `__cuda_arch` (`name=version=build`).
    Conda,
    /// The `nvidia :: feature :: value` wheel-variant properties, most preferred first.
    WheelVariant,
    /// `UV_CUDA_DRIVER_VERSION`, `CONDA_OVERRIDE_CUDA`, `CONDA_OVERRIDE_CUDA_ARCH`,
    /// `NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION`, `NV_VARIANT_PROVIDER_FORCE_SM_ARCH`.
    Overrides,
    /// `UV_TORCH_BACKEND=cuXYZ` (or `cpu`): the PyTorch CUDA build that runs here, from the
    /// driver's CUDA version and every usable GPU's compute capability (`data/torch-builds.tsv`).
    Uv,
}

impl ExportFormat {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shell => "shell",
            Self::Conda => "conda",
            Self::WheelVariant => "wheel-variant",
            Self::Overrides => "overrides",
            Self::Uv => "uv",
        }
    }
}

// The arguments of `nvprobe scan` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ScanOptions,

    /// ELF files or directories to scan.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

// The arguments of `nvprobe explain` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ProbeOptions,

    /// The error message, as pasted (several words are joined with spaces).
    #[arg(value_name = "TEXT", required = true, num_args = 1.., allow_hyphen_values = true)]
    pub text: Vec<String>,
}

// The arguments of `nvprobe compare` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ScanOptions,

    /// `kubectl get nodes -o json` output: compare the nodes by their labels.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    pub k8s_nodes: Option<PathBuf>,

    /// `nvprobe --json` reports, capture bundles, or directories of them.
    #[arg(value_name = "REPORT", required_unless_present = "k8s_nodes")]
    pub paths: Vec<PathBuf>,
}

// The arguments of `nvprobe capture` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct CaptureArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ProbeOptions,

    /// The bundle directory: created, or an existing empty directory (nothing else is
    /// overwritten). Nothing is written outside it.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Replace GPU/MIG UUIDs and serial numbers with placeholders (the same value gets the same
    /// placeholder everywhere in the bundle).
    #[arg(long)]
    pub redact: bool,
}

// The arguments of `nvprobe check` (no doc comment: see `ProbeOptions`).
#[allow(missing_docs)]
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub opts: ProbeOptions,

    /// Will a program built with this CUDA runtime version (X.Y) run here: natively, through
    /// minor-version or forward compatibility, or not at all?
    #[arg(long, value_name = "X.Y")]
    pub cuda: Option<String>,

    /// A requirement in the `NVIDIA_REQUIRE_CUDA` language, e.g. 'cuda>=12.4
    /// brand=tesla,driver>=535,driver<536': space-separated OR groups of comma-separated
    /// conditions on cuda, driver, arch and brand; it must hold for every visible GPU.
    #[arg(long, value_name = "EXPR", allow_hyphen_values = true)]
    pub require: Option<String>,

    /// CUDA programs and libraries (ELF files, archives, fatbins, cubins, or directories such
    /// as a Python environment's site-packages) that must run here: built for this CPU, CUDA
    /// able to start, their CUDA runtime supported by the driver, and GPU code for every usable
    /// GPU (SASS for its compute capability, or PTX the driver can JIT). Repeat or list several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub binary: Vec<PathBuf>,

    /// Python environments whose CUDA frameworks must run here: a virtual environment, a
    /// site-packages directory, or an interpreter (never run). One verdict per framework found
    /// (torch, jax with its CUDA plugins, cupy, tensorflow, onnxruntime-gpu, vllm,
    /// paddlepaddle-gpu), from its `.dist-info` and its CUDA libraries, as --binary judges them;
    /// a build without CUDA is `cpu-only`. Repeat or list several.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub python: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The options given before the command and after it are merged: flags from either
    /// place, a value after the command wins.
    #[test]
    fn cli_options_before_and_after_the_command_merge() {
        let cli = Cli::try_parse_from([
            "nvprobe",
            "--json",
            "--timeout",
            "300",
            "check",
            "--deep",
            "--timeout",
            "400",
            "--cuda",
            "12.4",
        ])
        .unwrap();
        let o = cli.options();
        assert!(o.json && o.deep && !o.no_sandbox);
        assert_eq!(o.timeout, Some(400));
        let cli = Cli::try_parse_from(["nvprobe", "--json", "--root", "/r"]).unwrap();
        let o = cli.options();
        assert!(o.json && cli.command.is_none());
        assert_eq!(o.root, Some(PathBuf::from("/r")));
        assert_eq!(o.timeout_ms(), DEFAULT_TIMEOUT_MS);
        assert!(Cli::try_parse_from(["nvprobe", "--json", "--json"]).is_err());
        assert!(Cli::try_parse_from(["nvprobe", "--timeout", "0"]).is_err());
    }
}
