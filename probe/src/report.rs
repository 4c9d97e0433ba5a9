//! The report: what the probe found, as serde types. This is the wire format of `--json`.
//!
//! # Wire format (`schema_version` 1)
//! The fixed fields are those of the contract (`CONTRACT.md`); fields marked *extension*
//! are additions that consumers may ignore.
//!
//! - `schema_version`: `1`. Bumped on any breaking change.
//! - `tool`: `{name, version}` of nvprobe.
//! - `platform`: `kind` (`bare-metal`, `container`, `wsl2`, `gvisor`, `tegra`),
//!   `kernel_release` (from `/proc/sys/kernel/osrelease`, `null` when unreadable);
//!   *extension*: `os` (`/etc/os-release` `ID`, `VERSION_ID`, `PRETTY_NAME`), `in_container`,
//!   `hints` (the evidence for the kind, in words), and per platform `wsl`, `gvisor`, `tegra`,
//!   `container`, `vgpu_manager`, `kernel_build`, `packages` (present only when they apply; see
//!   [`PlatformDetails`] and [`stack`]).
//! - `driver`: `null` when no driver was seen, else `version` (kernel-mode driver, zero padding
//!   kept), `branch` (the major number), `flavor` (`open`, `proprietary`, `wsl`, `unknown`),
//!   `cuda_version` (the highest CUDA version the branch supports natively, `null` if unknown),
//!   `source` (`ioctl`, `procfs`, `sysfs`, `dxg`, `nvml`, `override`); *extension*:
//!   `version_line` (the first line of `/proc/driver/nvidia/version` as written), `params`
//!   (selected `/proc/driver/nvidia/params` values).
//! - `gpus`: every NVIDIA display/3D PCI function in bus order: `index`, `pci` (lowercase
//!   `0x`-prefixed IDs as sysfs writes them), `name`, `chip`, `architecture`,
//!   `compute_capability` (`"9.0"`, never guessed), `compute_capability_source`,
//!   `kernel_driver` (the bound driver), `uuid`, `memory_bytes`; *extension*: `minor_number`
//!   (`/dev/nvidiaN`), `pci.class`, `pci.revision`, `vbios_version`, `firmware_version`,
//!   `seen_by` (which sources saw this GPU), `brand` (the NVML product brand, from a table of
//!   real `nvidia-smi -q` output; `null` when not known).
//! - `libraries`: userspace libraries (filled by the doctor, `doctor::libs`): `path` (the file,
//!   symlinks resolved), `kind`, `version`; *extension*: `found_as`, `found_by`, `selected`
//!   (the loader would load it), `soname`, `stub`, `cuda_version`, `fwd_compat`
//!   (`cuda_version`, `driver_branches`, `devices` from `.note.cuda.fwd_compatibility`),
//!   `problem`.
//! - `cross_check`: `null` unless `--cross-check` was given.
//! - *extension* `kernel_modules`: `loaded` (from `/proc/modules` and `/sys/module`) and
//!   `installed` (module files under `/lib/modules/<release>`).
//! - *extension* `device_nodes`: each `/dev/nvidia*` node: `path`, `kind` (`char`, `file`
//!   for a fixture stand-in, `other`), `major`, `minor`, `mode`, `access` (`ok`, `denied`,
//!   `unknown`).
//! - `sources`: each source read, with `status` (`ok`, `absent`, `denied`, `failed`,
//!   `timeout`, `skipped`) and a `detail`.
//! - `findings`: `code`, `severity` (`error`, `warning`, `info`), `message`, `remedy`.

use serde::{Deserialize, Serialize};

pub mod platform_details;
pub mod values;
pub use platform_details::PlatformDetails;
pub use values::{
    ComputeCapability, CpuArch, CudaVersion, OrUnknown, PciClass, PciId, PciRevision, Version,
};
pub(crate) mod json;
pub mod stack;

/// The schema version of this report format.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON Schema (draft 2020-12) of the report, as `nvprobe schema` prints it: the file
/// `probe/schema/report.schema.json` (tested against every fixture's report) with the
/// whitespace between tokens removed at compile time, which halves what the binary carries.
pub const JSON_SCHEMA: &str = match std::str::from_utf8(&SCHEMA_MIN) {
    Ok(s) => s,
    Err(_) => panic!("the minified schema is not UTF-8"),
};

const SCHEMA_SRC: &[u8] = include_bytes!("../schema/report.schema.json");
const SCHEMA_MIN_LEN: usize = minify_json(SCHEMA_SRC, None);
#[expect(
    clippy::large_const_arrays,
    reason = "only read by the const JSON_SCHEMA, at compile time (clippy 1.95 crashes on a static here)"
)]
const SCHEMA_MIN: [u8; SCHEMA_MIN_LEN] = {
    let mut out = [0u8; SCHEMA_MIN_LEN];
    minify_json(SCHEMA_SRC, Some(&mut out));
    out
};

/// Copies JSON `src` without the whitespace outside strings into `out` (when given) and returns
/// the length of the result. A `const fn`, so the schema is minified by the compiler.
#[expect(
    clippy::indexing_slicing,
    reason = "evaluated at compile time only: an index out of range fails the build, not a run"
)]
const fn minify_json(src: &[u8], mut out: Option<&mut [u8]>) -> usize {
    let (mut i, mut n) = (0, 0);
    let (mut in_string, mut escaped) = (false, false);
    while i < src.len() {
        let b = src[i];
        i += 1;
        if !in_string && matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        }
        if let Some(o) = &mut out {
            o[n] = b;
        }
        n += 1;
    }
    n
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Which tool wrote this.
    pub tool: Tool,
    /// What kind of machine this is.
    pub platform: Platform,
    /// The kernel-mode driver, `None` when none was seen.
    pub driver: Option<Driver>,
    /// NVIDIA GPUs in PCI bus order.
    pub gpus: Vec<Gpu>,
    /// Userspace driver and CUDA libraries.
    pub libraries: Vec<Library>,
    /// The NVML cross-check, when asked for.
    pub cross_check: Option<CrossCheck>,
    /// Loaded and installed kernel modules (extension).
    pub kernel_modules: KernelModules,
    /// NVIDIA device nodes under `/dev` (extension).
    pub device_nodes: Vec<DeviceNode>,
    /// What a CUDA program (and NVML) started here would get, derived from everything above
    /// ([`crate::rules`]); the outputs read it (extension).
    #[serde(default)]
    pub cuda: CudaHere,
    /// Every source the probe consulted.
    pub sources: Vec<Source>,
    /// What is wrong or notable, most severe first.
    pub findings: Vec<Finding>,
}

/// `yes`, `no` or `unknown`: unknown when the report is incomplete (`deadline-exceeded`,
/// `sources-unreadable`), never a guess either way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answer {
    /// It would.
    Yes,
    /// It would not; `blocked_by` says why.
    No,
    /// The report lacks what the answer depends on.
    #[default]
    Unknown,
}

impl Answer {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }
}

/// `cuda` in the report (extension): what a CUDA program started here, in this environment,
/// would get.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CudaHere {
    /// Would `cuInit` succeed?
    pub can_start: Answer,
    /// The finding code that says why not (or why unknown); `null` when it can start, or
    /// when no finding names the cause (then `reason` does).
    pub blocked_by: Option<String>,
    /// In words, one line.
    pub reason: String,
    /// The user-mode driver `cuInit` would use: `native` (the driver's `libcuda`),
    /// `cuda-compat` (forward compatibility), `wsl` (`/usr/lib/wsl/lib`), `tegra` (the L4T
    /// driver), `stub`, or `none`.
    pub user_mode_driver: UserModeDriver,
    /// What `cuDriverGetVersion` returns there (`12.8`), when CUDA can start.
    pub version: Option<CudaVersion>,
    /// What `cuDriverGetVersion` of the user-mode driver says, whether or not `cuInit` would
    /// succeed (it needs no `cuInit`; NVML's `nvmlSystemGetCudaDriverVersion_v2` asks it).
    pub user_mode_driver_version: Option<CudaVersion>,
    /// The indices of the GPUs a CUDA program can use here (visible in this container, bound
    /// to the nvidia driver, of an architecture the driver supports).
    pub usable_gpus: Vec<u32>,
    /// Would NVML (`nvmlInit`) start? GPU Feature Discovery's device labels depend on it.
    pub nvml: Answer,
    /// The indices of the GPUs NVML would list (visible and bound).
    pub nvml_gpus: Vec<u32>,
    /// Would GPU Feature Discovery label this node's devices? It asks NVML, and on Tegra
    /// CUDA: where that fails it writes no device labels.
    pub gfd_labels: Answer,
    /// The GPUs GPU Feature Discovery would count and describe.
    pub gfd_gpus: Vec<u32>,
}

/// The user-mode driver (`libcuda`) a CUDA program here would load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UserModeDriver {
    /// The driver's own `libcuda`, of the kernel module's release.
    Native,
    /// A forward-compatibility `libcuda` (`cuda-compat`), newer than the kernel module.
    CudaCompat,
    /// WSL2's `/usr/lib/wsl/lib/libcuda.so.1`, over the Windows driver.
    Wsl,
    /// The L4T driver of a Jetson.
    Tegra,
    /// A CUDA toolkit stub: it can start nothing.
    Stub,
    /// No `libcuda.so.1` the loader would find.
    #[default]
    None,
}

impl UserModeDriver {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::CudaCompat => "cuda-compat",
            Self::Wsl => "wsl",
            Self::Tegra => "tegra",
            Self::Stub => "stub",
            Self::None => "none",
        }
    }
}

impl std::fmt::Display for UserModeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `tool`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `nvprobe`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Self {
            name: "nvprobe".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }
}

/// `platform.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformKind {
    /// A machine or VM running its own kernel with the GPU on its PCI bus.
    BareMetal,
    /// A container on a Linux host.
    Container,
    /// Windows Subsystem for Linux 2: the GPU is behind `/dev/dxg`.
    Wsl2,
    /// gVisor: a user-space kernel; NVIDIA ioctls pass through nvproxy.
    Gvisor,
    /// NVIDIA Tegra/Jetson: an integrated GPU.
    Tegra,
}

impl PlatformKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BareMetal => "bare-metal",
            Self::Container => "container",
            Self::Wsl2 => "wsl2",
            Self::Gvisor => "gvisor",
            Self::Tegra => "tegra",
        }
    }
}

/// `platform`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// The kind of machine.
    pub kind: PlatformKind,
    /// The running kernel's release.
    pub kernel_release: Option<String>,
    /// The machine's CPU architecture as `uname -m` names it (`x86_64`, `aarch64`, `ppc64le`):
    /// nvprobe's own on the host; under `--root`, the one the NVIDIA kernel module was built
    /// for (`/proc/driver/nvidia/version`), `aarch64` on Tegra; `null` when nothing says.
    /// Programs of another architecture cannot load here (`check --binary`).
    #[serde(default)]
    pub arch: Option<String>,
    /// The distribution, from `/etc/os-release`.
    pub os: Option<OsRelease>,
    /// True when the probe runs inside a container (also for `gvisor` and `wsl2` containers).
    pub in_container: bool,
    /// The evidence for `kind` and `in_container`.
    pub hints: Vec<String>,
    /// What the platform stage found on WSL2, gVisor, Tegra or in a container (extension:
    /// `platform.wsl`, `platform.gvisor`, `platform.tegra`, `platform.container`, each absent
    /// when it does not apply). Filled by `crate::platform`.
    #[serde(flatten)]
    pub details: PlatformDetails,
}

/// Selected `/etc/os-release` fields.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID`.
    pub id: Option<String>,
    /// `VERSION_ID`.
    pub version_id: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// `driver.flavor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// The open kernel modules (MIT/GPL).
    Open,
    /// The proprietary kernel module.
    Proprietary,
    /// The WSL2 driver (the Windows host driver seen through `/dev/dxg`).
    Wsl,
    /// Not known.
    Unknown,
}

/// `driver.source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriverSource {
    /// The `NV_ESC_CHECK_VERSION_STR` ioctl.
    Ioctl,
    /// `/proc/driver/nvidia/version`.
    Procfs,
    /// `/sys/module/nvidia/version`.
    Sysfs,
    /// `/dev/dxg` on WSL2.
    Dxg,
    /// The NVML shim.
    Nvml,
    /// An `NVPROBE_DRIVER_VERSION` override.
    Override,
}

/// `driver`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// The kernel-mode driver version, as the driver writes it (`580.95.05`).
    pub version: Version,
    /// The branch: the version's major number.
    pub branch: u32,
    /// Open or proprietary module.
    pub flavor: Flavor,
    /// The highest CUDA version the driver supports natively (`13.0`).
    pub cuda_version: Option<CudaVersion>,
    /// Where `version` came from.
    pub source: DriverSource,
    /// The first line of `/proc/driver/nvidia/version`, as written (extension).
    pub version_line: Option<String>,
    /// Selected `/proc/driver/nvidia/params` values (extension).
    pub params: Option<DriverParams>,
}

/// Selected values of `/proc/driver/nvidia/params`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverParams {
    /// `ModifyDeviceFiles`: 1 when the driver creates `/dev/nvidia*` itself.
    pub modify_device_files: Option<u32>,
    /// `DeviceFileUID`.
    pub device_file_uid: Option<u32>,
    /// `DeviceFileGID`.
    pub device_file_gid: Option<u32>,
    /// `DeviceFileMode`, as octal text (`0666`).
    pub device_file_mode: Option<String>,
}

/// `gpus[].pci`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pci {
    /// `0000:3b:00.0`, lowercase.
    pub bus_id: String,
    /// `0x10de`.
    pub vendor_id: Option<PciId>,
    /// `0x2330`.
    pub device_id: Option<PciId>,
    /// `0x10de`.
    pub subsystem_vendor_id: Option<PciId>,
    /// `0x16c1`.
    pub subsystem_device_id: Option<PciId>,
    /// `0x030200` (extension).
    pub class: Option<PciClass>,
    /// `0xa1` (extension).
    pub revision: Option<PciRevision>,
}

/// `gpus[].compute_capability_source`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CcSource {
    /// `NV2080_CTRL_CMD_MC_GET_ARCH_INFO` or the SM version from the kernel.
    ArchInfo,
    /// The generated PCI ID table.
    PciTable,
    /// The NVML shim.
    Nvml,
    /// `NVPROBE_COMPUTE_CAPABILITY`.
    Override,
    /// The table of Tegra chips, for an integrated GPU found in the device tree (extension).
    SocTable,
}

/// One GPU.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// Position in PCI bus order, from 0.
    pub index: u32,
    /// PCI identity.
    pub pci: Pci,
    /// Marketing name.
    pub name: Option<String>,
    /// Chip codename (`GH100`).
    pub chip: Option<String>,
    /// Architecture (`Hopper`).
    pub architecture: Option<String>,
    /// `major.minor`, `None` when unknown.
    pub compute_capability: Option<ComputeCapability>,
    /// Where `compute_capability` came from.
    pub compute_capability_source: Option<CcSource>,
    /// The kernel driver bound to the PCI function.
    pub kernel_driver: Option<String>,
    /// `GPU-…` UUID.
    pub uuid: Option<String>,
    /// Framebuffer memory in bytes.
    pub memory_bytes: Option<u64>,
    /// The `/dev/nvidiaN` minor number (extension).
    pub minor_number: Option<u32>,
    /// Video BIOS version as procfs writes it (extension).
    pub vbios_version: Option<String>,
    /// GSP firmware version (extension).
    pub firmware_version: Option<String>,
    /// The names of the sources that saw this GPU (extension).
    pub seen_by: Vec<String>,
    /// The NVML product brand `nvmlDeviceGetBrand` gives for this name and driver branch
    /// (`geforce`, `nvidia`, `nvidiartx`, `tesla`, `vcs`, …, as `brand=` conditions spell it),
    /// from a table of real `nvidia-smi -q` output; `null` when the table does not know it
    /// (extension).
    #[serde(default)]
    pub brand: Option<String>,
    /// Whether this process can see the GPU: `false` for one the container runtime did not
    /// inject (`NVIDIA_VISIBLE_DEVICES`, the device cgroup), `true` elsewhere (extension).
    #[serde(default = "yes")]
    pub visible: bool,
    /// The GPU's device node, `/dev/nvidia<minor>`, when its minor number is known
    /// (extension).
    #[serde(default)]
    pub device_node: Option<String>,
    /// Whether this process can open that node read-write: `ok`, `denied` or `unknown` as in
    /// `device_nodes[].access`, or `missing` when `/dev` was listed without it; `null` without
    /// a node (extension).
    #[serde(default)]
    pub device_access: Option<String>,
}

fn yes() -> bool {
    true
}

impl Pci {
    /// A PCI location with nothing else known yet.
    pub fn new(bus_id: impl Into<String>) -> Self {
        Self {
            bus_id: bus_id.into(),
            vendor_id: None,
            device_id: None,
            subsystem_vendor_id: None,
            subsystem_device_id: None,
            class: None,
            revision: None,
        }
    }
}

impl Gpu {
    /// A GPU known only by its bus id (or another stable name such as `override`); every
    /// other field unknown, `index` 0 until the list is ordered.
    pub fn new(bus_id: impl Into<String>) -> Self {
        Self {
            index: 0,
            pci: Pci::new(bus_id),
            name: None,
            chip: None,
            architecture: None,
            compute_capability: None,
            compute_capability_source: None,
            kernel_driver: None,
            uuid: None,
            memory_bytes: None,
            minor_number: None,
            vbios_version: None,
            firmware_version: None,
            seen_by: Vec::new(),
            brand: None,
            visible: true,
            device_node: None,
            device_access: None,
        }
    }
}

/// One userspace library.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Library {
    /// Absolute path of the file, symlinks resolved (`/usr/lib/x86_64-linux-gnu/libcuda.so.580.65.06`).
    pub path: String,
    /// `cuda-driver`, `nvml`, `cuda-compat`, `cuda-runtime`.
    pub kind: String,
    /// Version from the file name or the ELF.
    pub version: Option<Version>,
    /// The path that was found before symlinks were resolved (`.../libcuda.so.1`) (extension).
    #[serde(default)]
    pub found_as: Option<String>,
    /// How it was found: `ld-library-path`, `ld-so-cache`, `default-dir`, `nvidia-docker`,
    /// `wsl`, `wsl-driver-store`, `cuda-compat-dir`, `cuda-home`, `cuda-toolkit`,
    /// `python-wheel`, `conda` (extension).
    #[serde(default)]
    pub found_by: Option<String>,
    /// True when the dynamic loader would load this file for its SONAME (extension).
    #[serde(default)]
    pub selected: bool,
    /// `DT_SONAME` (extension).
    #[serde(default)]
    pub soname: Option<String>,
    /// A toolkit stub library, for linking only: it cannot run anything (extension).
    #[serde(default)]
    pub stub: bool,
    /// The CUDA version it provides: the forward-compatibility note's, or the runtime's
    /// `major.minor` (extension).
    #[serde(default)]
    pub cuda_version: Option<CudaVersion>,
    /// The `.note.cuda.fwd_compatibility` of a cuda-compat `libcuda` (extension).
    #[serde(default)]
    pub fwd_compat: Option<FwdCompat>,
    /// Why the file could not be read as a library, when it could not (extension).
    #[serde(default)]
    pub problem: Option<String>,
}

/// `libraries[].fwd_compat`: what a forward-compatibility `libcuda` accepts (extension).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwdCompat {
    /// The CUDA version the library provides (`"12.9"`).
    pub cuda_version: Option<CudaVersion>,
    /// The host driver branches it runs on; `null` when the note has no list.
    pub driver_branches: Option<Vec<u32>>,
    /// The NVML brand values of the GPUs it runs on (1 Quadro, 2 Tesla, 7–11 virtual GPU
    /// editions, 12 Quadro RTX, 13 NVIDIA RTX, 14 NVIDIA); `null` when the note has no list.
    pub devices: Option<Vec<u32>>,
}

/// The `check` object that `nvprobe check --json` adds beside the report's fields
/// (extension): the verdict of `--cuda`, `--require` or the `NVIDIA_REQUIRE_*` variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `satisfied`, `not-satisfied`, `malformed`, `no-cuda-code` (`check --binary` found no CUDA
    /// code to run), or `unknown` (the report is incomplete: a source timed out or could not be
    /// read, so no answer is given; or a part of the answer is not known).
    pub verdict: String,
    /// One line: why.
    pub reason: String,
    /// Each question asked, in order.
    pub checks: Vec<CheckItem>,
    /// The findings the verdicts raise (a runtime too new for the driver, no kernel image for
    /// a GPU, ...). Not a field of the `check` object: the outputs (`doctor::check_json`,
    /// `doctor::render_check`, `doctor::shown_findings`) list them among the report's
    /// findings.
    #[serde(skip)]
    pub findings: Vec<Finding>,
}

/// One question of `nvprobe check` (extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckItem {
    /// `cuda` (`--cuda`), `require` (`--require` or an environment variable), `binary`
    /// (`--binary`) or `python` (`--python`: one per framework found).
    pub kind: String,
    /// What was asked: `12.4`, or the requirement text.
    pub expression: String,
    /// `--cuda`, `--require`, or the environment variable's name.
    pub source: String,
    /// `satisfied`, `not-satisfied`, `malformed`, `no-cuda-code`, `cpu-only` (`--python`: a
    /// framework build without CUDA) or `unknown`.
    pub verdict: String,
    /// For `cuda`: `native`, `forward-compat`, `minor-version-compat`, `none`.
    pub via: Option<String>,
    /// One line: why.
    pub reason: String,
    /// For `binary`: each part of the verdict, in the order they are weighed (`elf-machine`,
    /// `cuda`, `runtime`, `kernels`); empty (and absent) for the other kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<BinaryPart>,
    /// For `python`: the framework checked (absent for the other kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<PythonFramework>,
}

/// A CUDA framework found in a Python environment by `check --python` (extension).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PythonFramework {
    /// The distribution's normalised name: `torch`, `jax`, `cupy-cuda12x`, ...
    pub name: String,
    /// Its version as installed (`2.5.1+cu124`), local tag included.
    pub version: String,
    /// The CUDA version the build is for (`12.4`, or a major alone: `12`); `null` for a
    /// CPU-only build or when it is not known.
    pub cuda: Option<String>,
    /// Where `cuda` comes from: `torch/version.py`, the local tag, the plugin's name, ...
    pub cuda_from: String,
    /// The framework's CUDA libraries checked (paths as found).
    pub libraries: Vec<String>,
    /// The `nvidia-*` CUDA wheels it requires that are installed, as `name version`.
    pub cuda_wheels: Vec<String>,
    /// The `nvidia-*` CUDA wheels it requires (for this platform) that are not installed.
    pub missing_wheels: Vec<String>,
    /// Found in the base interpreter's `site-packages`, not the environment's own (its
    /// `pyvenv.cfg` says `include-system-site-packages = true`).
    #[serde(default)]
    pub from_base: bool,
}

/// One part of a `check --binary` verdict (extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryPart {
    /// `elf-machine` (the file's ELF machine against the platform's), `cuda` (can CUDA start
    /// here), `runtime` (the CUDA runtime it needs against the user-mode driver) or `kernels`
    /// (its GPU code against every usable GPU).
    pub part: String,
    /// `satisfied`, `not-satisfied` or `unknown`.
    pub verdict: String,
    /// One line: why.
    pub reason: String,
}

/// `cross_check`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCheck {
    /// `agree`, `disagree`, `unavailable`, `failed`, `timeout`.
    pub status: String,
    /// Field-by-field differences.
    pub differences: Vec<Difference>,
}

/// One cross-check difference.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// A report field path (`driver.version`).
    pub field: String,
    /// The probe's value.
    pub probe: Option<String>,
    /// NVML's value.
    pub nvml: Option<String>,
}

/// `kernel_modules` (extension).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelModules {
    /// NVIDIA-related modules currently loaded (nvidia, `nvidia_uvm`, nouveau, ...).
    pub loaded: Vec<LoadedModule>,
    /// NVIDIA-related module files installed for any kernel release.
    pub installed: Vec<InstalledModule>,
}

/// A loaded kernel module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedModule {
    /// Module name as the kernel writes it (`nvidia_uvm`).
    pub name: String,
    /// `/sys/module/<name>/version`, when the module has one.
    pub version: Option<String>,
    /// Taint flags (`POE`), from `/proc/modules` or `/sys/module/<name>/taint`.
    pub taint: Option<String>,
}

/// An installed module file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledModule {
    /// The kernel release directory under `/lib/modules`.
    pub kernel_release: String,
    /// Module name (`nvidia`).
    pub name: String,
    /// Path of the module file.
    pub path: String,
    /// True when `kernel_release` is the running kernel.
    pub running_kernel: bool,
}

/// A device node (extension).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    /// `/dev/nvidiactl`.
    pub path: String,
    /// `char`, `file` (a stand-in under `--root`), `other`.
    pub kind: String,
    /// Device major number.
    pub major: Option<u32>,
    /// Device minor number.
    pub minor: Option<u32>,
    /// Permission bits in octal (`0666`).
    pub mode: Option<String>,
    /// Owner uid.
    pub uid: Option<u32>,
    /// Owner gid.
    pub gid: Option<u32>,
    /// `ok`, `denied` or `unknown`: can this process open it read-write.
    pub access: String,
}

/// `sources[].status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceStatus {
    /// Read and understood.
    Ok,
    /// Not there (not an error).
    Absent,
    /// There, but permission was denied.
    Denied,
    /// There, but it could not be read or understood.
    Failed,
    /// Did not finish before the deadline.
    Timeout,
    /// Not tried (not asked for, or not applicable).
    Skipped,
}

/// One source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Stable source name (`sysfs-module`).
    pub name: String,
    /// What happened.
    pub status: SourceStatus,
    /// In words.
    pub detail: String,
}

/// `findings[].severity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Something will fail.
    Error,
    /// Something may fail or works only partly.
    Warning,
    /// Worth knowing.
    Info,
}

impl Severity {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable kebab-case code.
    pub code: String,
    /// How bad.
    pub severity: Severity,
    /// What is wrong, in words.
    pub message: String,
    /// What to do about it.
    pub remedy: String,
}

impl Finding {
    /// A finding with its stable code, severity, message and remedy.
    pub fn new(
        code: &str,
        severity: Severity,
        message: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        Self {
            code: code.to_owned(),
            severity,
            message: message.into(),
            remedy: remedy.into(),
        }
    }
}

impl Source {
    /// A source record.
    pub fn new(name: &str, status: SourceStatus, detail: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            status,
            detail: detail.into(),
        }
    }
}

impl Report {
    /// The machine's CPU architecture (`platform.arch`), for where its loader looks: nvprobe's
    /// own where the model does not know it (a root without a kernel `arch` file or a driver
    /// version line), which is what every file search assumed before the model had the field.
    pub fn cpu_arch(&self) -> CpuArch {
        self.platform
            .arch
            .as_deref()
            .map_or_else(CpuArch::own, CpuArch::named)
    }

    /// True when a finding has severity `error`.
    pub fn has_error(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The source with this name, if it was recorded.
    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The report as pretty JSON (`serde_json::to_string_pretty`'s layout: two spaces per
    /// level), into a buffer sized for this report rather than grown from empty: ~7 KB for
    /// the machine and ~1.1 KB a GPU (the generated 1-, 8- and 64-GPU fixtures), so a report
    /// is written once, without a copy into a larger buffer, and room is left for the line
    /// break a caller adds.
    pub fn to_json(&self) -> String {
        let capacity = 8 * 1024 + 1152 * self.gpus.len();
        // Serialising these plain types cannot fail: no maps with non-string keys, no
        // non-finite floats.
        json::pretty_sized(self, capacity).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The schema the binary carries is the file's, whitespace aside.
    #[test]
    fn json_schema_is_the_minified_file() {
        let file: serde_json::Value = serde_json::from_slice(SCHEMA_SRC).unwrap();
        let carried: serde_json::Value = serde_json::from_str(JSON_SCHEMA).unwrap();
        assert_eq!(file, carried);
        assert!(JSON_SCHEMA.len() < SCHEMA_SRC.len());
        assert!(!JSON_SCHEMA.contains('\n'));
    }
}
