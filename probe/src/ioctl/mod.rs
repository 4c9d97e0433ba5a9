//! The NVIDIA driver's ioctl interface: the driver version and the GPU list straight from the
//! kernel module, and with `--deep` the GPU details (architecture, SM version, name, UUID,
//! memory).
//!
//! # Call sequence
//! Default path (never wakes or initialises a GPU):
//! 1. `open("/dev/nvidiactl", O_RDONLY)` (`O_RDWR` only if read-only is refused).
//! 2. `NV_ESC_CHECK_VERSION_STR` with `cmd = QUERY`: the driver's version string, no kernel log.
//!    Drivers before 530.30.02 leave the string empty. Then, in order, until one answers:
//!    `NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2` on a fresh root client (no log); the
//!    caller's `version_hint` (from procfs/sysfs); the STRICT check with an empty string, which
//!    fails with `EINVAL` and returns the string but writes an "API mismatch" kernel-log line,
//!    so it is the last resort.
//! 3. The version picks the ABI variant ([`variant::AbiVariant::for_version`]): `exact`, or
//!    `extrapolated` (newest layouts) for an unknown version.
//! 4. `NV_ESC_CARD_INFO` with 32 entries (64 on `EINVAL`): PCI domain/bus/slot, vendor, device,
//!    RM gpu id and minor number of every probed, non-excluded GPU.
//!
//! `--deep` (can initialise a GPU: opening `/dev/nvidiaN` attaches it):
//! 5. `NV_ESC_RM_ALLOC` of a root client, `GET_PROBED_IDS` (excluded GPUs).
//! 6. Per GPU: `open("/dev/nvidiaN", O_RDONLY | O_NONBLOCK)` and, on drivers that have it,
//!    `NV_ESC_WAIT_OPEN_COMPLETE`; `GET_ID_INFO_V2` (device instance); alloc `NV01_DEVICE_0`
//!    and `NV20_SUBDEVICE_0`; then `MC_GET_ARCH_INFO`, `GPU_GET_INFO_V2` (SM version, MIG
//!    mode), `BUS_GET_PCI_INFO` (subsystem ids), `GPU_GET_NAME_STRING`, `GPU_GET_GID_INFO`
//!    (binary UUID), `FB_GET_INFO_V2` (RAM size). Subdevice and device are freed, then the fd is
//!    closed. A control answering "wrong params size" (0x1F or 0x3A) is retried with the other
//!    known sizes, newest first.
//! 7. The client is freed (`Drop`), then `/dev/nvidiactl` is closed: every handle is freed on
//!    every path.
//!
//! The raw syscalls sit behind [`NvDriver`] / [`NvFile`]; the host implementation is
//! [`crate::sys::HostDriver`], the test one is `emu::EmuDriver`.

#[cfg(any(test, feature = "emulator"))]
#[cfg_attr(
    not(test),
    expect(
        clippy::indexing_slicing,
        reason = "test support (feature `emulator`): a bad index is a test bug"
    )
)]
pub mod emu;
mod rm;
pub mod variant;

use bytemuck::Zeroable as _;
use nvprobe_abi::NvStatus;
use nvprobe_abi::classes::{
    NV01_DEVICE_0, NV20_SUBDEVICE_0, NV0080_ALLOC_PARAMETERS, NV2080_ALLOC_PARAMETERS,
};
use nvprobe_abi::ctrl::ctrl0000gpu::{
    NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2, NV0000_CTRL_CMD_GPU_GET_PROBED_IDS,
    NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS, NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515,
    NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580, NV0000_CTRL_GPU_INVALID_ID,
};
use nvprobe_abi::ctrl::ctrl0000system::{
    NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2,
    NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515,
    NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560,
};
use nvprobe_abi::ctrl::ctrl2080bus::{
    NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS, NV2080_CTRL_CMD_BUS_GET_PCI_INFO,
};
use nvprobe_abi::ctrl::ctrl2080fb::{
    NV2080_CTRL_CMD_FB_GET_INFO_V2, NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V515,
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V545, NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V560,
    NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V580, NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE,
};
use nvprobe_abi::ctrl::ctrl2080gpu::{
    GID_BINARY_LENGTH, GID_FLAGS_FORMAT_BINARY, NV2080_CTRL_CMD_GPU_GET_GID_INFO,
    NV2080_CTRL_CMD_GPU_GET_INFO_V2, NV2080_CTRL_CMD_GPU_GET_NAME_STRING,
    NV2080_CTRL_GPU_GET_GID_INFO_PARAMS, NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V515,
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V530, NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V535,
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V545, NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V575,
    NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580, NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515,
    NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595, NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION,
    NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE, NV2080_GPU_MAX_NAME_STRING_LENGTH,
};
use nvprobe_abi::ctrl::ctrl2080mc::{
    NV2080_CTRL_CMD_MC_GET_ARCH_INFO, NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS,
};
use nvprobe_abi::ctrl::{InfoListParams, command_name};
use nvprobe_abi::escape::{NV_ESC_CARD_INFO, request};
use nvprobe_abi::frontend::{
    CardInfoArray, NV_RM_API_VERSION_CMD_QUERY, NV_RM_API_VERSION_CMD_STRICT,
    NV_RM_API_VERSION_REPLY_RECOGNIZED, REQ_CARD_INFO_32, REQ_CHECK_VERSION_STR,
    REQ_WAIT_OPEN_COMPLETE, nv_ioctl_card_info_t, nv_ioctl_rm_api_version_t,
    nv_ioctl_wait_open_complete_t,
};
use std::fmt::Write as _;

use rustix::io::Errno;

use crate::report::{self, Source, SourceStatus};
use rm::{Rm, RmError};
use variant::{
    AbiMatch, AbiVariant, BuildVersionLayout, DriverVersion, FbInfoLayout, GpuInfoLayout,
    NameStringLayout, ProbedIdsLayout,
};

// ---------------------------------------------------------------------------------------------
// The syscall boundary.

/// How to open a device node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenMode {
    /// `O_RDWR` instead of `O_RDONLY`.
    pub write: bool,
    /// `O_NONBLOCK`: on drivers from 550.40.07 the GPU initialises in the background and
    /// `NV_ESC_WAIT_OPEN_COMPLETE` waits for it.
    pub nonblock: bool,
}

/// Why a device node could not be opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// `open(2)` failed.
    Os(Errno),
    /// The path exists but is not a character device (for example a fixture stand-in); no
    /// ioctl can be sent to it. The text says what it is.
    NotCharDevice(String),
}

/// Opens NVIDIA device nodes. Implemented by [`crate::sys::HostDriver`] and by the emulator.
pub trait NvDriver: Send + Sync {
    /// Opens `path` (`/dev/nvidiactl`, `/dev/nvidia0`).
    fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError>;
}

/// An open NVIDIA device node: the raw ioctl boundary. Closing is `Drop`.
pub trait NvFile: Send {
    /// `ioctl(fd, request, arg)`.
    ///
    /// `arg` is the argument struct's bytes; its length must be `_IOC_SIZE(request)`. For
    /// `NV_ESC_RM_CONTROL` and `NV_ESC_RM_ALLOC`, `params` is the memory the struct's embedded
    /// pointer (`params` / `pAllocParms`, offset 16) points at: callers leave that field 0 and
    /// the implementation fills it (and, for controls, `paramsSize`), so no caller ever writes
    /// an address. As with the kernel, `arg` may have been written even when `Err` is returned.
    ///
    /// # Errors
    /// The errno of the ioctl; `EOPNOTSUPP` for a request the implementation will not send
    /// (unknown escape, wrong size, a control or class whose parameters it cannot vouch for).
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno>;
}

// ---------------------------------------------------------------------------------------------
// What the caller gets.

/// What [`probe_ioctl`] may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlOptions {
    /// `--deep`: allocate RM objects and open `/dev/nvidiaN` (can initialise the GPU).
    pub deep: bool,
    /// The platform is gVisor: refusals are reported as `gvisor-nvproxy-limit`.
    pub gvisor: bool,
    /// The version procfs/sysfs read, used instead of the STRICT version check (which writes a
    /// kernel-log line) when the driver is too old to answer QUERY.
    pub version_hint: Option<String>,
    /// Allow the STRICT version check as the last resort (default true).
    pub allow_strict_check: bool,
}

impl Default for IoctlOptions {
    fn default() -> Self {
        Self {
            deep: false,
            gvisor: false,
            version_hint: None,
            allow_strict_check: true,
        }
    }
}

/// How the driver version was learnt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionVia {
    /// `NV_ESC_CHECK_VERSION_STR` QUERY.
    Query,
    /// `NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2`.
    BuildVersion,
    /// `NV_ESC_CHECK_VERSION_STR` STRICT (wrote a kernel-log line).
    Strict,
}

impl VersionVia {
    /// Short name for details.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "CHECK_VERSION_STR query",
            Self::BuildVersion => "SYSTEM_GET_BUILD_VERSION_V2",
            Self::Strict => "CHECK_VERSION_STR strict",
        }
    }
}

/// One GPU as `NV_ESC_CARD_INFO` lists it, plus the `--deep` details.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardInfo {
    /// `0000:3b:00.0`, lowercase (the function is always 0: the driver does not fill it).
    pub bus_id: String,
    /// PCI domain.
    pub domain: u32,
    /// PCI bus.
    pub bus: u8,
    /// PCI device (slot).
    pub slot: u8,
    /// PCI vendor id.
    pub vendor_id: u16,
    /// PCI device id.
    pub device_id: u16,
    /// The RM gpu id.
    pub gpu_id: u32,
    /// The N of `/dev/nvidiaN`.
    pub minor_number: u32,
    /// `--deep` details, `None` without `--deep`.
    pub deep: Option<DeepInfo>,
}

impl CardInfo {
    /// `0x10de`.
    pub fn vendor_hex(&self) -> report::PciId {
        report::values::PciHex(self.vendor_id.into())
    }

    /// `0x2330`.
    pub fn device_hex(&self) -> report::PciId {
        report::values::PciHex(self.device_id.into())
    }
}

/// What `--deep` learnt about one GPU. Each field is `None` when its query failed; `errors`
/// says why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeepInfo {
    /// `MC_GET_ARCH_INFO` architecture (`0x180`).
    pub architecture: Option<u32>,
    /// `MC_GET_ARCH_INFO` implementation (`0x0`).
    pub implementation: Option<u32>,
    /// `MC_GET_ARCH_INFO` revision (`0xa1`).
    pub revision: Option<u32>,
    /// Chip name from architecture and implementation (`GH100`).
    pub chip: Option<&'static str>,
    /// Architecture name (`Hopper`).
    pub architecture_name: Option<&'static str>,
    /// `GPU_GET_INFO_V2` SM version (`0x900`).
    pub sm_version: Option<u32>,
    /// The compute capability from the SM version (`9.0`).
    pub compute_capability: Option<report::ComputeCapability>,
    /// `GPU_GET_INFO_V2` SMC (MIG) mode: 0 unsupported, 1 enabled, 2 disabled, 3/4 pending.
    pub mig_mode: Option<u32>,
    /// `BUS_GET_PCI_INFO` subsystem vendor.
    pub subsystem_vendor_id: Option<u16>,
    /// `BUS_GET_PCI_INFO` subsystem device.
    pub subsystem_device_id: Option<u16>,
    /// `GPU_GET_NAME_STRING`.
    pub name: Option<String>,
    /// `GPU_GET_GID_INFO`, formatted like nvidia-smi (`GPU-4b2d...`).
    pub uuid: Option<String>,
    /// `FB_GET_INFO_V2` RAM size in bytes.
    pub memory_bytes: Option<u64>,
    /// What failed, one line each (`NV2080_CTRL_CMD_GPU_GET_NAME_STRING: status 0x56 ...`).
    pub errors: Vec<String>,
}

/// Everything [`probe_ioctl`] learnt, and the report records it produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoctlOutcome {
    /// The kernel module's version as it wrote it (`580.95.05`), `None` when it could not be
    /// learnt from the kernel.
    pub driver_version: Option<String>,
    /// How `driver_version` was learnt.
    pub version_via: Option<VersionVia>,
    /// Whether the ABI layouts were known for the version; `None` when no ioctl was sent.
    pub abi_match: Option<AbiMatch>,
    /// The version the ABI variant was chosen for (the kernel's, or the hint).
    pub abi_version: Option<String>,
    /// `NV_ESC_CARD_INFO`; `None` when the call failed or was not made.
    pub cards: Option<Vec<CardInfo>>,
    /// RM gpu ids the driver probed but excludes (`--deep` only).
    pub excluded_gpu_ids: Vec<u32>,
    /// True when the STRICT version check was used (it wrote a kernel-log line).
    pub strict_check_used: bool,
    /// `ioctl` and `ioctl-deep` records.
    pub sources: Vec<Source>,
    /// Device nodes that exist but could not be opened: (path, errno name).
    pub denied: Vec<(String, String)>,
    /// Calls refused the way gVisor nvproxy refuses, in words (only under gVisor).
    pub refusals: Vec<String>,
    /// Bus ids of GPUs the driver reports lost (`NV_ERR_GPU_IS_LOST`).
    pub lost: Vec<String>,
}

/// The source names this module records.
pub const SOURCE_IOCTL: &str = "ioctl";
/// The `--deep` source name.
pub const SOURCE_IOCTL_DEEP: &str = "ioctl-deep";

const CTL_PATH: &str = "/dev/nvidiactl";

// ---------------------------------------------------------------------------------------------
// The probe.

struct Ctx<'o> {
    opts: &'o IoctlOptions,
    /// Calls refused the way gVisor nvproxy refuses, in words.
    refusals: Vec<String>,
    denied: Vec<(String, String)>,
    lost: Vec<String>,
}

impl Ctx<'_> {
    fn frontend_error(&mut self, call: &str, e: Errno) -> String {
        if self.opts.gvisor && e == Errno::INVAL {
            self.refusals.push(format!("{call} (EINVAL)"));
        }
        format!("{call}: {}", errno_name(e))
    }

    fn rm_error(&mut self, call: &str, e: RmError) -> String {
        match e {
            RmError::Status(s) if s == NvStatus::ERR_NOT_SUPPORTED && self.opts.gvisor => {
                self.refusals.push(format!("{call} ({s})"));
            }
            // nvproxy refuses classes off its allow-list with NV_ERR_INVALID_CLASS; a real
            // driver returns it for a bad device instance or subdevice id (open-gpu-kernel-
            // modules 580.x, device.c and subdevice.c), which is no sandbox's refusal.
            RmError::Status(s) if s == NvStatus::ERR_INVALID_CLASS && self.opts.gvisor => {
                self.refusals.push(format!("{call} ({s})"));
            }
            RmError::Os(Errno::INVAL) if self.opts.gvisor => {
                self.refusals.push(format!("{call} (EINVAL)"));
            }
            _ => {}
        }
        format!("{call}: {}", e.describe())
    }

    fn permission_denied(&mut self, path: &str, e: Errno) {
        self.denied.push((path.to_owned(), errno_name(e)));
    }
}

/// Opens a node read-only, falling back to read-write when read-only is refused.
fn open_node(
    driver: &dyn NvDriver,
    path: &str,
    nonblock: bool,
) -> Result<Box<dyn NvFile>, OpenError> {
    match driver.open(
        path,
        OpenMode {
            write: false,
            nonblock,
        },
    ) {
        Err(OpenError::Os(e)) if e == Errno::ACCESS => driver
            .open(
                path,
                OpenMode {
                    write: true,
                    nonblock,
                },
            )
            .map_err(|_| OpenError::Os(e)),
        r => r,
    }
}

/// Talks to the NVIDIA kernel driver through `driver`. Never fails: what went wrong is in the
/// outcome's sources and findings.
pub fn probe_ioctl(driver: &dyn NvDriver, opts: &IoctlOptions) -> IoctlOutcome {
    let mut out = IoctlOutcome {
        driver_version: None,
        version_via: None,
        abi_match: None,
        abi_version: None,
        cards: None,
        excluded_gpu_ids: Vec::new(),
        strict_check_used: false,
        sources: Vec::new(),
        denied: Vec::new(),
        refusals: Vec::new(),
        lost: Vec::new(),
    };
    let mut ctx = Ctx {
        opts,
        refusals: Vec::new(),
        denied: Vec::new(),
        lost: Vec::new(),
    };
    let mut ctl = match open_node(driver, CTL_PATH, false) {
        Ok(f) => f,
        Err(err) => {
            let (status, detail) = match err {
                OpenError::Os(e) if e == Errno::NOENT => {
                    (SourceStatus::Absent, format!("{CTL_PATH}: not found"))
                }
                OpenError::Os(e) if e == Errno::ACCESS || e == Errno::PERM => {
                    ctx.permission_denied(CTL_PATH, e);
                    (
                        SourceStatus::Denied,
                        format!("{CTL_PATH}: {}", errno_name(e)),
                    )
                }
                OpenError::Os(e) if e == Errno::NXIO || e == Errno::NODEV => (
                    SourceStatus::Failed,
                    format!(
                        "{CTL_PATH}: {} (node present, driver not loaded?)",
                        errno_name(e)
                    ),
                ),
                OpenError::Os(e) => (
                    SourceStatus::Failed,
                    format!("{CTL_PATH}: {}", errno_name(e)),
                ),
                OpenError::NotCharDevice(what) => {
                    (SourceStatus::Skipped, format!("{CTL_PATH}: {what}"))
                }
            };
            out.sources.push(Source::new(SOURCE_IOCTL, status, detail));
            if opts.deep {
                out.sources.push(Source::new(
                    SOURCE_IOCTL_DEEP,
                    SourceStatus::Skipped,
                    format!("{CTL_PATH} could not be opened"),
                ));
            }
            out.denied = ctx.denied;
            out.refusals = ctx.refusals;
            out.lost = ctx.lost;
            return out;
        }
    };

    let mut notes: Vec<String> = Vec::new();
    let kernel_version = learn_version(ctl.as_mut(), &mut ctx, &mut out, &mut notes);
    let hint = opts.version_hint.as_deref().and_then(DriverVersion::parse);
    let basis = kernel_version.clone().or(hint);
    let (abi, abi_match) = AbiVariant::for_version(basis.as_ref());
    out.abi_match = Some(abi_match);
    out.abi_version = basis.as_ref().map(|v| v.as_str().to_owned());
    notes.push(match &basis {
        Some(v) => format!("ABI {} for {v}", abi_match.as_str()),
        None => format!("ABI {} (version unknown)", abi_match.as_str()),
    });

    match card_info(ctl.as_mut()) {
        Ok(cards) => {
            notes.push(format!("NV_ESC_CARD_INFO: {} GPU(s)", cards.len()));
            out.cards = Some(cards);
        }
        Err(e) => notes.push(ctx.frontend_error("NV_ESC_CARD_INFO", e)),
    }
    let status = if out.cards.is_some() || out.driver_version.is_some() {
        SourceStatus::Ok
    } else {
        SourceStatus::Failed
    };
    out.sources
        .push(Source::new(SOURCE_IOCTL, status, notes.join("; ")));

    if opts.deep {
        let source = deep(ctl.as_mut(), driver, abi, &mut ctx, &mut out);
        out.sources.push(source);
    } else {
        out.sources.push(Source::new(
            SOURCE_IOCTL_DEEP,
            SourceStatus::Skipped,
            "not asked for (--deep allocates RM objects and may initialise the GPU)",
        ));
    }
    drop(ctl);

    out.denied = ctx.denied;
    out.refusals = ctx.refusals;
    out.lost = ctx.lost;
    out
}

/// Step 2: the version, from QUERY, `BUILD_VERSION_V2`, or STRICT. Sets the outcome's version.
fn learn_version(
    ctl: &mut dyn NvFile,
    ctx: &mut Ctx<'_>,
    out: &mut IoctlOutcome,
    notes: &mut Vec<String>,
) -> Option<DriverVersion> {
    let set = |out: &mut IoctlOutcome, v: &DriverVersion, via: VersionVia| {
        out.driver_version = Some(v.as_str().to_owned());
        out.version_via = Some(via);
    };
    match check_version(ctl, NV_RM_API_VERSION_CMD_QUERY) {
        (Ok(()), VersionReply::Version(v)) => {
            notes.push(format!("NV_ESC_CHECK_VERSION_STR (query): {v}"));
            set(out, &v, VersionVia::Query);
            return Some(v);
        }
        (Ok(()), VersionReply::Empty) => {
            notes.push(
                "NV_ESC_CHECK_VERSION_STR (query): no string (driver before 530.30.02)".into(),
            );
        }
        (Ok(()), VersionReply::Bad(why)) => {
            notes.push(format!("NV_ESC_CHECK_VERSION_STR (query): {why}"));
        }
        (Err(e), reply) => {
            let mut note = ctx.frontend_error("NV_ESC_CHECK_VERSION_STR (query)", e);
            if let VersionReply::Version(v) = reply {
                // A driver that treats the query as a strict check still returns its string.
                let _ = write!(note, ", string {v}");
                notes.push(note);
                set(out, &v, VersionVia::Query);
                return Some(v);
            }
            notes.push(note);
        }
    }

    // No log, no GPU: a root client and BUILD_VERSION_V2 (not allowed under gVisor).
    match Rm::new(ctl, None) {
        Ok(mut rm) => {
            let (r, _) = with_sizes(BuildVersionLayout::V515.try_order(), |l| match l {
                BuildVersionLayout::V515 => build_version::<
                    NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V515,
                >(&mut rm, |p| p.driver_version_buffer),
                BuildVersionLayout::V560 => build_version::<
                    NV0000_CTRL_SYSTEM_GET_BUILD_VERSION_V2_PARAMS_V560,
                >(&mut rm, |p| p.driver_version_buffer),
            });
            match r {
                Ok(bytes) => match c_string(&bytes).map(|s| (DriverVersion::parse(&s), s)) {
                    Ok((Some(v), _)) => {
                        notes.push(format!("SYSTEM_GET_BUILD_VERSION_V2: {v}"));
                        set(out, &v, VersionVia::BuildVersion);
                        return Some(v);
                    }
                    Ok((None, s)) => {
                        notes.push(format!("SYSTEM_GET_BUILD_VERSION_V2: not a version: {s:?}"));
                    }
                    Err(why) => notes.push(format!("SYSTEM_GET_BUILD_VERSION_V2: {why}")),
                },
                Err(e) => {
                    let call = "NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2";
                    // gVisor does not allow this control; that is expected, not a limit worth
                    // a warning on its own, so it is not counted as a refusal.
                    notes.push(format!("{call}: {}", e.describe()));
                }
            }
        }
        Err(e) => notes.push(ctx.rm_error("NV_ESC_RM_ALLOC (root client)", e)),
    }

    if ctx
        .opts
        .version_hint
        .as_deref()
        .and_then(DriverVersion::parse)
        .is_some()
    {
        notes.push("strict version check skipped: procfs/sysfs gave the version".into());
        return None;
    }
    if !ctx.opts.allow_strict_check {
        notes.push("strict version check not allowed".into());
        return None;
    }
    out.strict_check_used = true;
    match check_version(ctl, NV_RM_API_VERSION_CMD_STRICT) {
        (_, VersionReply::Version(v)) => {
            notes.push(format!(
                "NV_ESC_CHECK_VERSION_STR (strict, logs an API-mismatch line): {v}"
            ));
            set(out, &v, VersionVia::Strict);
            Some(v)
        }
        (r, reply) => {
            let why = match reply {
                VersionReply::Bad(why) => why,
                _ => "no string".to_owned(),
            };
            let mut note = format!("NV_ESC_CHECK_VERSION_STR (strict): {why}");
            if let Err(e) = r {
                let _ = write!(note, " ({})", errno_name(e));
            }
            notes.push(note);
            None
        }
    }
}

enum VersionReply {
    Version(DriverVersion),
    Empty,
    Bad(String),
}

fn check_version(ctl: &mut dyn NvFile, cmd: u32) -> (Result<(), Errno>, VersionReply) {
    let mut a = nv_ioctl_rm_api_version_t::zeroed();
    a.cmd = cmd;
    let r = ctl.ioctl(REQ_CHECK_VERSION_STR, bytemuck::bytes_of_mut(&mut a), None);
    let reply = if a.reply != NV_RM_API_VERSION_REPLY_RECOGNIZED {
        VersionReply::Bad(format!("reply {} (not recognised)", a.reply))
    } else if a.version_string[0] == 0 {
        VersionReply::Empty
    } else {
        match c_string(&a.version_string) {
            Ok(s) => match DriverVersion::parse(&s) {
                Some(v) => VersionReply::Version(v),
                None => VersionReply::Bad(format!("not a version: {s:?}")),
            },
            Err(why) => VersionReply::Bad(why),
        }
    };
    (r, reply)
}

/// Step 4: `NV_ESC_CARD_INFO`, 32 entries, 64 when the driver says the array is too short.
fn card_info(ctl: &mut dyn NvFile) -> Result<Vec<CardInfo>, Errno> {
    let mut small: CardInfoArray<32> = bytemuck::Zeroable::zeroed();
    let entries: Vec<nv_ioctl_card_info_t> =
        match ctl.ioctl(REQ_CARD_INFO_32, bytemuck::bytes_of_mut(&mut small), None) {
            Ok(()) => small.to_vec(),
            Err(e) if e == Errno::INVAL => {
                let mut big: CardInfoArray<64> = bytemuck::Zeroable::zeroed();
                let req = request::<CardInfoArray<64>>(NV_ESC_CARD_INFO);
                ctl.ioctl(req, bytemuck::bytes_of_mut(&mut big), None)?;
                big.to_vec()
            }
            Err(e) => return Err(e),
        };
    Ok(entries
        .iter()
        .filter(|c| c.valid != 0)
        .map(|c| {
            let p = c.pci_info;
            CardInfo {
                bus_id: format!("{:04x}:{:02x}:{:02x}.0", p.domain, p.bus, p.slot),
                domain: p.domain,
                bus: p.bus,
                slot: p.slot,
                vendor_id: p.vendor_id,
                device_id: p.device_id,
                gpu_id: c.gpu_id,
                minor_number: c.minor_number,
                deep: None,
            }
        })
        .collect())
}

/// Tries `order` until the driver stops answering "wrong params size"; returns the last
/// result and the layout it came from.
fn with_sizes<L: Copy, T>(
    order: Vec<L>,
    mut call: impl FnMut(L) -> Result<T, RmError>,
) -> (Result<T, RmError>, Option<L>) {
    let mut last = Err(RmError::Status(NvStatus::ERR_INVALID_ARGUMENT));
    let mut used = None;
    for l in order {
        let r = call(l);
        let retry = matches!(&r, Err(e) if e.is_wrong_params_size());
        last = r;
        used = Some(l);
        if !retry {
            break;
        }
    }
    (last, used)
}

fn build_version<P: bytemuck::Pod>(
    rm: &mut Rm<'_>,
    field: impl Fn(&P) -> [u8; 256],
) -> Result<Vec<u8>, RmError> {
    let mut p = P::zeroed();
    let client = rm.client();
    rm.control(client, NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2, &mut p)?;
    Ok(field(&p).to_vec())
}

fn probed_ids<P: bytemuck::Pod>(
    rm: &mut Rm<'_>,
    split: impl Fn(&P) -> ([u32; 32], [u32; 32]),
) -> Result<([u32; 32], [u32; 32]), RmError> {
    let mut p = P::zeroed();
    let client = rm.client();
    rm.control(client, NV0000_CTRL_CMD_GPU_GET_PROBED_IDS, &mut p)?;
    Ok(split(&p))
}

fn info_list<P: InfoListParams>(
    rm: &mut Rm<'_>,
    object: u32,
    cmd: u32,
    indices: &[u32],
) -> Result<Vec<u32>, RmError> {
    let mut p = P::zeroed();
    let n = indices.len().min(P::MAX);
    p.set_list_size(u32::try_from(n).unwrap_or(0));
    for (slot, index) in p.list_mut().iter_mut().zip(indices) {
        slot.index = *index;
    }
    rm.control(object, cmd, &mut p)?;
    // The driver may not rewrite the indices; take the data in request order.
    Ok(p.list().iter().take(n).map(|e| e.data).collect())
}

fn name_string<P: bytemuck::Pod>(
    rm: &mut Rm<'_>,
    object: u32,
    ascii: impl Fn(&P) -> [u8; NV2080_GPU_MAX_NAME_STRING_LENGTH],
) -> Result<[u8; NV2080_GPU_MAX_NAME_STRING_LENGTH], RmError> {
    // Flags 0 = ASCII in both layouts.
    let mut p = P::zeroed();
    rm.control(object, NV2080_CTRL_CMD_GPU_GET_NAME_STRING, &mut p)?;
    Ok(ascii(&p))
}

/// Handles nvprobe picks for its objects ('NV' in the top bits, the GPU's position below).
fn device_handle(i: usize) -> u32 {
    0x4E56_0000 | (u32::try_from(i & 0xFFF).unwrap_or(0) << 4) | 1
}

fn subdevice_handle(i: usize) -> u32 {
    device_handle(i) + 1
}

/// Steps 5 to 7.
fn deep(
    ctl: &mut dyn NvFile,
    driver: &dyn NvDriver,
    abi: AbiVariant,
    ctx: &mut Ctx<'_>,
    out: &mut IoctlOutcome,
) -> Source {
    let mut notes: Vec<String> = Vec::new();
    let Some(cards) = out.cards.as_mut() else {
        return Source::new(
            SOURCE_IOCTL_DEEP,
            SourceStatus::Skipped,
            "no GPU list from NV_ESC_CARD_INFO",
        );
    };
    // Opened GPU fds are dropped after `rm` (declared first), so objects are freed before the
    // GPU is closed.
    // With a guessed ABI the NVOS21 layout is detected from the driver's answer instead.
    let layout = (out.abi_match == Some(AbiMatch::Exact)).then_some(abi.nvos21);
    let mut rm = match Rm::new(ctl, layout) {
        Ok(rm) => rm,
        Err(e) => {
            let d = ctx.rm_error("NV_ESC_RM_ALLOC (root client)", e);
            return Source::new(SOURCE_IOCTL_DEEP, SourceStatus::Failed, d);
        }
    };
    let (r, _) = with_sizes(abi.probed_ids.try_order(), |l| match l {
        ProbedIdsLayout::V515 => {
            probed_ids::<NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V515>(&mut rm, |p| {
                (p.gpu_ids, p.excluded_gpu_ids)
            })
        }
        ProbedIdsLayout::V580 => {
            probed_ids::<NV0000_CTRL_GPU_GET_PROBED_IDS_PARAMS_V580>(&mut rm, |p| {
                (p.gpu_ids, p.excluded_gpu_ids)
            })
        }
    });
    match r {
        Ok((ids, excluded)) => {
            let valid = |x: &&u32| **x != NV0000_CTRL_GPU_INVALID_ID;
            let probed: Vec<u32> = ids.iter().filter(valid).copied().collect();
            out.excluded_gpu_ids = excluded.iter().filter(valid).copied().collect();
            notes.push(format!(
                "GET_PROBED_IDS: {} probed, {} excluded",
                probed.len(),
                out.excluded_gpu_ids.len()
            ));
        }
        Err(e) => notes.push(ctx.rm_error("NV0000_CTRL_CMD_GPU_GET_PROBED_IDS", e)),
    }

    let mut ok_count = 0;
    for (i, card) in cards.iter_mut().enumerate() {
        let info = deep_one(&mut rm, driver, abi, ctx, i, card);
        if info.errors.is_empty() {
            ok_count += 1;
        } else {
            notes.push(format!("{}: {}", card.bus_id, info.errors.join(", ")));
        }
        card.deep = Some(info);
    }
    drop(rm);
    let total = cards.len();
    notes.insert(0, format!("{ok_count} of {total} GPU(s) fully queried"));
    let status = if ok_count == total {
        SourceStatus::Ok
    } else {
        SourceStatus::Failed
    };
    Source::new(SOURCE_IOCTL_DEEP, status, notes.join("; "))
}

fn deep_one(
    rm: &mut Rm<'_>,
    driver: &dyn NvDriver,
    abi: AbiVariant,
    ctx: &mut Ctx<'_>,
    i: usize,
    card: &CardInfo,
) -> DeepInfo {
    let mut info = DeepInfo::default();
    if card.minor_number > 254 {
        info.errors.push(format!(
            "minor number {} is not a GPU minor",
            card.minor_number
        ));
        return info;
    }
    let path = format!("/dev/nvidia{}", card.minor_number);
    let nonblock = abi.wait_open_complete;
    let mut gpu = match open_node_any(driver, ctx, &path, nonblock) {
        Ok(f) => f,
        Err(why) => {
            info.errors.push(why);
            return info;
        }
    };
    if nonblock {
        let mut w = nv_ioctl_wait_open_complete_t::zeroed();
        match gpu.ioctl(REQ_WAIT_OPEN_COMPLETE, bytemuck::bytes_of_mut(&mut w), None) {
            Ok(()) if w.rc != 0 || w.adapter_status != 0 => {
                let status = NvStatus(w.adapter_status);
                if status == NvStatus::ERR_GPU_IS_LOST {
                    gpu_lost(ctx, card);
                }
                info.errors.push(format!(
                    "{path}: open failed in the driver (rc {}, adapter status {status})",
                    w.rc
                ));
                return info;
            }
            Ok(()) => {}
            Err(e) if e == Errno::INVAL => {
                // A driver without the escape (older than the ABI guess, or a sandbox without
                // it) opened synchronously: nothing to wait for. A still-pending open would
                // show up below as a refused device allocation.
            }
            Err(e) => {
                info.errors
                    .push(ctx.frontend_error("NV_ESC_WAIT_OPEN_COMPLETE", e));
                return info;
            }
        }
    }

    let mut id = NV0000_CTRL_GPU_GET_ID_INFO_V2_PARAMS::zeroed();
    id.gpu_id = card.gpu_id;
    let client = rm.client();
    if let Err(e) = rm.control(client, NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2, &mut id) {
        lost_check(ctx, card, e);
        info.errors
            .push(ctx.rm_error("NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2", e));
        return info;
    }
    let mut dev_params = NV0080_ALLOC_PARAMETERS::zeroed();
    dev_params.device_id = id.device_instance;
    let device = match rm.alloc(
        client,
        device_handle(i),
        NV01_DEVICE_0,
        Some(bytemuck::bytes_of_mut(&mut dev_params)),
    ) {
        Ok(h) => h,
        Err(e) => {
            lost_check(ctx, card, e);
            info.errors
                .push(ctx.rm_error("NV_ESC_RM_ALLOC (NV01_DEVICE_0)", e));
            return info;
        }
    };
    let mut sub_params = NV2080_ALLOC_PARAMETERS::zeroed();
    sub_params.sub_device_id = id.sub_device_instance;
    match rm.alloc(
        device,
        subdevice_handle(i),
        NV20_SUBDEVICE_0,
        Some(bytemuck::bytes_of_mut(&mut sub_params)),
    ) {
        Ok(sub) => subdevice_queries(rm, abi, ctx, card, sub, &mut info),
        Err(e) => {
            lost_check(ctx, card, e);
            info.errors
                .push(ctx.rm_error("NV_ESC_RM_ALLOC (NV20_SUBDEVICE_0)", e));
        }
    }
    if let Err(e) = rm.free(device) {
        info.errors
            .push(format!("NV_ESC_RM_FREE: {}", e.describe()));
    }
    drop(gpu);
    info
}

fn open_node_any(
    driver: &dyn NvDriver,
    ctx: &mut Ctx<'_>,
    path: &str,
    nonblock: bool,
) -> Result<Box<dyn NvFile>, String> {
    match open_node(driver, path, nonblock) {
        Ok(f) => Ok(f),
        Err(OpenError::Os(e)) => {
            if e == Errno::ACCESS || e == Errno::PERM {
                ctx.permission_denied(path, e);
            }
            Err(format!("{path}: {}", errno_name(e)))
        }
        Err(OpenError::NotCharDevice(what)) => Err(format!("{path}: {what}")),
    }
}

fn lost_check(ctx: &mut Ctx<'_>, card: &CardInfo, e: RmError) {
    if e == RmError::Status(NvStatus::ERR_GPU_IS_LOST) {
        gpu_lost(ctx, card);
    }
}

fn gpu_lost(ctx: &mut Ctx<'_>, card: &CardInfo) {
    if !ctx.lost.contains(&card.bus_id) {
        ctx.lost.push(card.bus_id.clone());
    }
}

/// The NV2080 queries on one subdevice. Stops at the first "GPU is lost".
fn subdevice_queries(
    rm: &mut Rm<'_>,
    abi: AbiVariant,
    ctx: &mut Ctx<'_>,
    card: &CardInfo,
    sub: u32,
    info: &mut DeepInfo,
) {
    macro_rules! fail {
        ($cmd:expr, $e:expr) => {{
            let e: RmError = $e;
            let name = command_name($cmd).unwrap_or("control");
            info.errors.push(ctx.rm_error(name, e));
            if e == RmError::Status(NvStatus::ERR_GPU_IS_LOST) {
                gpu_lost(ctx, card);
                return;
            }
        }};
    }

    let mut arch = NV2080_CTRL_MC_GET_ARCH_INFO_PARAMS::zeroed();
    match rm.control(sub, NV2080_CTRL_CMD_MC_GET_ARCH_INFO, &mut arch) {
        Ok(()) => {
            info.architecture = Some(arch.architecture);
            info.implementation = Some(arch.implementation);
            info.revision = Some(arch.revision);
            info.chip = chip_name(arch.architecture, arch.implementation);
            info.architecture_name = architecture_name(arch.architecture);
        }
        Err(e) => fail!(NV2080_CTRL_CMD_MC_GET_ARCH_INFO, e),
    }

    let indices = [
        NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION,
        NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE,
    ];
    let (r, _) = with_sizes(abi.gpu_info.try_order(), |l| {
        let cmd = NV2080_CTRL_CMD_GPU_GET_INFO_V2;
        match l {
            GpuInfoLayout::V515 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V515>(rm, sub, cmd, &indices)
            }
            GpuInfoLayout::V530 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V530>(rm, sub, cmd, &indices)
            }
            GpuInfoLayout::V535 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V535>(rm, sub, cmd, &indices)
            }
            GpuInfoLayout::V545 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V545>(rm, sub, cmd, &indices)
            }
            GpuInfoLayout::V575 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V575>(rm, sub, cmd, &indices)
            }
            GpuInfoLayout::V580 => {
                info_list::<NV2080_CTRL_GPU_GET_INFO_V2_PARAMS_V580>(rm, sub, cmd, &indices)
            }
        }
    });
    match r {
        Ok(data) => {
            let sm = data.first().copied().unwrap_or(0);
            info.sm_version = Some(sm);
            info.compute_capability = compute_capability(sm);
            if info.compute_capability.is_none() {
                info.errors
                    .push(format!("SM version {sm:#x} is not a compute capability"));
            }
            info.mig_mode = data.get(1).copied();
        }
        Err(e) => fail!(NV2080_CTRL_CMD_GPU_GET_INFO_V2, e),
    }

    let mut pci = NV2080_CTRL_BUS_GET_PCI_INFO_PARAMS::zeroed();
    match rm.control(sub, NV2080_CTRL_CMD_BUS_GET_PCI_INFO, &mut pci) {
        Ok(()) => {
            let (sub_dev, sub_ven) = split_u32(pci.pci_sub_system_id);
            info.subsystem_vendor_id = Some(sub_ven);
            info.subsystem_device_id = Some(sub_dev);
            let (dev, ven) = split_u32(pci.pci_device_id);
            if (ven, dev) != (card.vendor_id, card.device_id) {
                info.errors.push(format!(
                    "BUS_GET_PCI_INFO says {}:{}, CARD_INFO says {}:{}",
                    hex4(ven),
                    hex4(dev),
                    card.vendor_hex(),
                    card.device_hex()
                ));
            }
        }
        Err(e) => fail!(NV2080_CTRL_CMD_BUS_GET_PCI_INFO, e),
    }

    let (r, _) = with_sizes(abi.name_string.try_order(), |l| match l {
        NameStringLayout::V515 => {
            name_string::<NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V515>(rm, sub, |p| {
                let mut a = [0_u8; NV2080_GPU_MAX_NAME_STRING_LENGTH];
                a.copy_from_slice(&p.gpu_name_string[..NV2080_GPU_MAX_NAME_STRING_LENGTH]);
                a
            })
        }
        NameStringLayout::V595 => {
            name_string::<NV2080_CTRL_GPU_GET_NAME_STRING_PARAMS_V595>(rm, sub, |p| {
                p.gpu_name_string
            })
        }
    });
    match r {
        Ok(bytes) => match c_string(&bytes) {
            Ok(name) if !name.is_empty() => info.name = Some(name),
            Ok(_) => info
                .errors
                .push("GPU_GET_NAME_STRING: empty name".to_owned()),
            Err(why) => info.errors.push(format!("GPU_GET_NAME_STRING: {why}")),
        },
        Err(e) => fail!(NV2080_CTRL_CMD_GPU_GET_NAME_STRING, e),
    }

    let mut gid = NV2080_CTRL_GPU_GET_GID_INFO_PARAMS::zeroed();
    gid.flags = GID_FLAGS_FORMAT_BINARY;
    match rm.control(sub, NV2080_CTRL_CMD_GPU_GET_GID_INFO, &mut gid) {
        Ok(()) if gid.length as usize == GID_BINARY_LENGTH => {
            info.uuid = Some(format_uuid(&gid.data[..GID_BINARY_LENGTH]));
        }
        Ok(()) => info.errors.push(format!(
            "GPU_GET_GID_INFO: {} bytes, expected {GID_BINARY_LENGTH}",
            gid.length
        )),
        Err(e) => fail!(NV2080_CTRL_CMD_GPU_GET_GID_INFO, e),
    }

    let indices = [NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE];
    let (r, _) = with_sizes(abi.fb_info.try_order(), |l| {
        let cmd = NV2080_CTRL_CMD_FB_GET_INFO_V2;
        match l {
            FbInfoLayout::V515 => {
                info_list::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V515>(rm, sub, cmd, &indices)
            }
            FbInfoLayout::V545 => {
                info_list::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V545>(rm, sub, cmd, &indices)
            }
            FbInfoLayout::V560 => {
                info_list::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V560>(rm, sub, cmd, &indices)
            }
            FbInfoLayout::V580 => {
                info_list::<NV2080_CTRL_FB_GET_INFO_V2_PARAMS_V580>(rm, sub, cmd, &indices)
            }
        }
    });
    match r {
        // RAM_SIZE is in KiB.
        Ok(data) => info.memory_bytes = data.first().map(|kib| u64::from(*kib) * 1024),
        Err(e) => fail!(NV2080_CTRL_CMD_FB_GET_INFO_V2, e),
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding helpers (pure).

/// `(high 16 bits, low 16 bits)`.
fn split_u32(v: u32) -> (u16, u16) {
    let high = u16::try_from(v >> 16).unwrap_or(0);
    let low = u16::try_from(v & 0xFFFF).unwrap_or(0);
    (high, low)
}

/// `0x10de`: lowercase, four digits, as sysfs writes PCI ids.
pub fn hex4(v: u16) -> String {
    format!("{v:#06x}")
}

/// A NUL-terminated printable-ASCII string from a fixed buffer.
///
/// # Errors
/// No NUL inside the buffer, or bytes that are not printable ASCII.
pub fn c_string(bytes: &[u8]) -> Result<String, String> {
    let Some(end) = bytes.iter().position(|b| *b == 0) else {
        return Err(format!(
            "string of {} bytes without a terminating NUL",
            bytes.len()
        ));
    };
    let s = bytes.get(..end).unwrap_or_default();
    if let Some(bad) = s.iter().find(|b| !(0x20..0x7F).contains(*b)) {
        return Err(format!("string with a non-printable byte {bad:#04x}"));
    }
    Ok(String::from_utf8_lossy(s).trim().to_owned())
}

/// 16 UUID bytes as nvidia-smi writes them: `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn format_uuid(b: &[u8]) -> String {
    let hex = |r: std::ops::Range<usize>| -> String {
        b.get(r)
            .unwrap_or(&[])
            .iter()
            .fold(String::new(), |mut acc, x| {
                let _ = write!(acc, "{x:02x}");
                acc
            })
    };
    format!(
        "GPU-{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    )
}

/// The compute capability (`9.0`) of an SM version (`0x900`); old encodings put the minor in
/// the high nibble (`0x350` is 3.5). `None` for 0 and implausible values.
pub fn compute_capability(sm: u32) -> Option<report::ComputeCapability> {
    let major = sm >> 8;
    let mut minor = sm & 0xFF;
    if minor > 0xF {
        minor >>= 4;
    }
    (1..=99)
        .contains(&major)
        .then_some(report::ComputeCapability::new(major, minor))
}

/// The architecture's name for an `MC_GET_ARCH_INFO` architecture value (generated tables).
pub fn architecture_name(architecture: u32) -> Option<&'static str> {
    crate::tables::architecture_for_arch_id(architecture)
}

/// The chip name for an (architecture, implementation) pair (generated tables, from
/// `ctrl2080mc.h` and `nv_arch.h`).
pub fn chip_name(architecture: u32, implementation: u32) -> Option<&'static str> {
    crate::tables::arch_lookup(architecture, implementation).map(|c| c.chip)
}

/// The `Errno` for a raw error number, if it is one Linux can return (1 to 4095). Raw numbers
/// from a replayed log are not trusted: `Errno::from_raw_os_error` asserts on any other value,
/// while `from_io_error` checks the range.
pub fn errno_from_raw(raw: i32) -> Option<Errno> {
    Errno::from_io_error(&std::io::Error::from_raw_os_error(raw))
}

/// `EACCES`-style names for the errnos the driver returns.
pub fn errno_name(e: Errno) -> String {
    let name = match e {
        x if x == Errno::ACCESS => "EACCES",
        x if x == Errno::PERM => "EPERM",
        x if x == Errno::NOENT => "ENOENT",
        x if x == Errno::NXIO => "ENXIO",
        x if x == Errno::NODEV => "ENODEV",
        x if x == Errno::IO => "EIO",
        x if x == Errno::BUSY => "EBUSY",
        x if x == Errno::INVAL => "EINVAL",
        x if x == Errno::FAULT => "EFAULT",
        x if x == Errno::NOMEM => "ENOMEM",
        x if x == Errno::INTR => "EINTR",
        x if x == Errno::NOTTY => "ENOTTY",
        x if x == Errno::NOTSUP => "EOPNOTSUPP",
        x if x == Errno::AGAIN => "EAGAIN",
        _ => return format!("errno {}", e.raw_os_error()),
    };
    name.to_owned()
}

// ---------------------------------------------------------------------------------------------
// Merging into the report.

/// Merges an outcome into a report built from procfs/sysfs: appends the sources and findings,
/// fills what the ioctls know and the report does not, adds GPUs only the driver lists, and
/// says so (finding `sources-disagree`) where the driver and procfs/sysfs differ. Call it
/// before deriving values from `driver.version` (branch, CUDA version).
///
/// Returns where the driver and the files disagree, in words (facts for the rules stage,
/// [`crate::findings::ioctl`]).
pub fn merge_into(report: &mut report::Report, outcome: &IoctlOutcome) -> Vec<String> {
    let mut disagreements: Vec<String> = Vec::new();
    // A version the kernel gave that is not a version is not a driver fact.
    let version = outcome
        .driver_version
        .as_deref()
        .and_then(|v| v.parse::<report::Version>().ok());
    if let Some(version) = &version {
        match &mut report.driver {
            None => {
                report.driver = Some(report::Driver {
                    version: version.clone(),
                    branch: version.major(),
                    flavor: report::Flavor::Unknown,
                    cuda_version: None,
                    source: report::DriverSource::Ioctl,
                    version_line: None,
                    params: None,
                });
            }
            Some(d) if d.version != *version => disagreements.push(format!(
                "driver version: the kernel says {version}, {:?} says {}",
                d.source, d.version
            )),
            Some(_) => {}
        }
    }

    if let Some(cards) = &outcome.cards {
        for card in cards {
            merge_card(report, card, &mut disagreements);
        }
        // GPUs bound to nvidia that the driver does not list.
        for gpu in &report.gpus {
            let bound = gpu.kernel_driver.as_deref() == Some("nvidia");
            if bound && !cards.iter().any(|c| same_bus(&c.bus_id, &gpu.pci.bus_id)) {
                disagreements.push(format!(
                    "{}: bound to nvidia in sysfs but not listed by NV_ESC_CARD_INFO (excluded GPU?)",
                    gpu.pci.bus_id
                ));
            }
        }
        report.gpus.sort_by(|a, b| a.pci.bus_id.cmp(&b.pci.bus_id));
        for (i, gpu) in report.gpus.iter_mut().enumerate() {
            gpu.index = u32::try_from(i).unwrap_or(u32::MAX);
        }
    }

    report.sources.extend(outcome.sources.iter().cloned());
    disagreements
}

fn fill_or_note<T: std::fmt::Display>(
    disagreements: &mut Vec<String>,
    bus: &str,
    field: &str,
    slot: &mut Option<T>,
    value: T,
) {
    match slot {
        None => *slot = Some(value),
        Some(old) if !old.to_string().eq_ignore_ascii_case(&value.to_string()) => {
            disagreements.push(format!("{bus} {field}: driver {value}, sysfs {old}"));
        }
        Some(_) => {}
    }
}

/// Bus ids compare without the function (`CARD_INFO` does not fill it) and case.
fn same_bus(a: &str, b: &str) -> bool {
    let strip = |s: &str| {
        s.rsplit_once('.')
            .map_or(s, |(x, _)| x)
            .to_ascii_lowercase()
    };
    strip(a) == strip(b)
}

fn merge_card(report: &mut report::Report, card: &CardInfo, disagreements: &mut Vec<String>) {
    let pos = report
        .gpus
        .iter()
        .position(|g| same_bus(&g.pci.bus_id, &card.bus_id));
    let pos = if let Some(pos) = pos {
        pos
    } else {
        report.gpus.push(report::Gpu {
            kernel_driver: Some("nvidia".to_owned()),
            ..report::Gpu::new(card.bus_id.clone())
        });
        report.gpus.len() - 1
    };
    let Some(gpu) = report.gpus.get_mut(pos) else {
        return;
    };
    let bus = card.bus_id.clone();
    fill_or_note(
        disagreements,
        &bus,
        "vendor_id",
        &mut gpu.pci.vendor_id,
        card.vendor_hex(),
    );
    fill_or_note(
        disagreements,
        &bus,
        "device_id",
        &mut gpu.pci.device_id,
        card.device_hex(),
    );
    match gpu.minor_number {
        None => gpu.minor_number = Some(card.minor_number),
        Some(m) if m != card.minor_number => disagreements.push(format!(
            "{bus} minor number: driver {}, procfs {m}",
            card.minor_number
        )),
        Some(_) => {}
    }
    if !gpu.seen_by.iter().any(|s| s == SOURCE_IOCTL) {
        gpu.seen_by.push(SOURCE_IOCTL.to_owned());
    }
    let Some(deep) = &card.deep else { return };
    if let Some(v) = deep.subsystem_vendor_id {
        fill_or_note(
            disagreements,
            &bus,
            "subsystem_vendor_id",
            &mut gpu.pci.subsystem_vendor_id,
            report::values::PciHex(v.into()),
        );
    }
    if let Some(v) = deep.subsystem_device_id {
        fill_or_note(
            disagreements,
            &bus,
            "subsystem_device_id",
            &mut gpu.pci.subsystem_device_id,
            report::values::PciHex(v.into()),
        );
    }
    if let Some(uuid) = &deep.uuid {
        fill_or_note(disagreements, &bus, "uuid", &mut gpu.uuid, uuid.clone());
    }
    if gpu.name.is_none() {
        gpu.name.clone_from(&deep.name);
    }
    if gpu.chip.is_none() {
        gpu.chip = deep.chip.map(str::to_owned);
    }
    if gpu.architecture.is_none() {
        gpu.architecture = deep.architecture_name.map(str::to_owned);
    }
    if deep.memory_bytes.is_some() {
        gpu.memory_bytes = deep.memory_bytes;
    }
    if let Some(cc) = deep.compute_capability {
        // The kernel's SM version beats a table lookup.
        if let Some(old) = gpu.compute_capability
            && old != cc
        {
            disagreements.push(format!(
                "{bus} compute capability: driver {cc}, table {old}"
            ));
        }
        gpu.compute_capability = Some(cc);
        gpu.compute_capability_source = Some(report::CcSource::ArchInfo);
    }
    if !gpu.seen_by.iter().any(|s| s == SOURCE_IOCTL_DEEP) {
        gpu.seen_by.push(SOURCE_IOCTL_DEEP.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Gpu, Pci, Report};

    #[test]
    fn ioctl_decode_helpers() {
        assert_eq!(
            compute_capability(0x900)
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("9.0")
        );
        assert_eq!(
            compute_capability(0xA03)
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("10.3")
        );
        assert_eq!(
            compute_capability(0x350)
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("3.5")
        );
        assert_eq!(compute_capability(0), None);
        assert_eq!(compute_capability(u32::MAX), None);
        assert_eq!(c_string(b"abc\0zzz"), Ok("abc".to_owned()));
        assert!(c_string(b"abc").is_err());
        assert!(c_string(b"a\x01b\0").is_err());
        assert_eq!(hex4(0x10DE), "0x10de");
        assert_eq!(
            format_uuid(&[0xAB; 16]),
            "GPU-abababab-abab-abab-abab-abababababab"
        );
        assert_eq!(format_uuid(&[1, 2]), "GPU-----");
        assert_eq!(split_u32(0x2330_10DE), (0x2330, 0x10DE));
        assert!(same_bus("0000:3B:00.0", "0000:3b:00.1"));
    }

    fn gpu(bus: &str, driver: Option<&str>) -> Gpu {
        Gpu {
            pci: Pci {
                vendor_id: Some("0x10de".parse().unwrap()),
                device_id: Some("0x2331".parse().unwrap()),
                ..Pci::new(bus)
            },
            compute_capability: Some("8.0".parse().unwrap()),
            compute_capability_source: Some(report::CcSource::PciTable),
            kernel_driver: driver.map(str::to_owned),
            seen_by: vec!["sysfs".to_owned()],
            ..Gpu::new(bus)
        }
    }

    #[test]
    fn ioctl_merge_fills_adds_and_reports_disagreement() {
        let mut report = Report {
            schema_version: 1,
            tool: report::Tool::default(),
            platform: report::Platform {
                kind: report::PlatformKind::BareMetal,
                kernel_release: None,
                arch: None,
                os: None,
                in_container: false,
                hints: vec![],
                details: report::PlatformDetails::default(),
            },
            driver: None,
            gpus: vec![
                gpu("0000:3b:00.0", Some("nvidia")),
                gpu("0000:af:00.0", Some("nvidia")),
            ],
            libraries: vec![],
            cross_check: None,
            kernel_modules: report::KernelModules::default(),
            device_nodes: vec![],
            cuda: crate::rules::CudaHere::default(),
            sources: vec![],
            findings: vec![],
        };
        let outcome = IoctlOutcome {
            driver_version: Some("580.95.05".to_owned()),
            version_via: Some(VersionVia::Query),
            abi_match: Some(AbiMatch::Exact),
            abi_version: Some("580.95.05".to_owned()),
            cards: Some(vec![
                CardInfo {
                    bus_id: "0000:3b:00.0".to_owned(),
                    domain: 0,
                    bus: 0x3b,
                    slot: 0,
                    vendor_id: 0x10DE,
                    device_id: 0x2330,
                    gpu_id: 0x3b00,
                    minor_number: 0,
                    deep: Some(DeepInfo {
                        compute_capability: Some("9.0".parse().unwrap()),
                        uuid: Some("GPU-x".to_owned()),
                        ..DeepInfo::default()
                    }),
                },
                CardInfo {
                    bus_id: "0000:17:00.0".to_owned(),
                    domain: 0,
                    bus: 0x17,
                    slot: 0,
                    vendor_id: 0x10DE,
                    device_id: 0x2330,
                    gpu_id: 0x1700,
                    minor_number: 1,
                    deep: None,
                },
            ]),
            excluded_gpu_ids: vec![],
            strict_check_used: false,
            sources: vec![Source::new(SOURCE_IOCTL, SourceStatus::Ok, "x")],
            denied: vec![],
            refusals: vec![],
            lost: vec![],
        };
        let disagreements = merge_into(&mut report, &outcome);
        report
            .findings
            .extend(crate::findings::ioctl(&outcome, &disagreements));
        let d = report.driver.as_ref().unwrap();
        assert_eq!(
            (d.version.as_str(), d.branch, d.source),
            ("580.95.05", 580, report::DriverSource::Ioctl)
        );
        let buses: Vec<&str> = report.gpus.iter().map(|g| g.pci.bus_id.as_str()).collect();
        assert_eq!(buses, ["0000:17:00.0", "0000:3b:00.0", "0000:af:00.0"]);
        assert_eq!(
            report.gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        let h = &report.gpus[1];
        assert_eq!(
            h.compute_capability
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("9.0")
        );
        assert_eq!(
            h.compute_capability_source,
            Some(report::CcSource::ArchInfo)
        );
        assert_eq!(h.uuid.as_deref(), Some("GPU-x"));
        assert_eq!(h.seen_by, ["sysfs", "ioctl", "ioctl-deep"]);
        let f = report
            .findings
            .iter()
            .find(|f| f.code == crate::codes::SOURCES_DISAGREE)
            .unwrap();
        assert!(
            f.message.contains("device_id: driver 0x2330, sysfs 0x2331"),
            "{}",
            f.message
        );
        assert!(
            f.message
                .contains("compute capability: driver 9.0, table 8.0")
        );
        assert!(f.message.contains("0000:af:00.0: bound to nvidia"));
        assert_eq!(report.sources.len(), 1);
    }
}
