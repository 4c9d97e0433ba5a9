//! The host side of the ioctl boundary: opening NVIDIA device nodes and sending ioctls.
//!
//! This is the only module of the probe with `unsafe` code: one `ioctl(2)` call and `_exit(2)`
//! in [`exit_now`] (its submodules hold the rest).
//!
//! # Safety
//! `ioctl(2)` lets the driver read and write user memory at addresses taken from the request
//! and from pointers inside the argument. [`HostFile::ioctl`] only sends requests it can vouch
//! for, checked before the call:
//! - the request is `_IOWR('F', nr, size)` for an escape nvprobe uses, and `size` equals the
//!   argument buffer's length, so the driver's copy-in and copy-out stay inside the buffer;
//! - the only escapes whose argument holds a pointer are `NV_ESC_RM_CONTROL` and
//!   `NV_ESC_RM_ALLOC`; for them this module writes the pointer (offset 16) itself, from the
//!   caller's `params` slice, and for controls writes `paramsSize` from the slice's length
//!   (the driver copies exactly `paramsSize` bytes);
//! - controls are limited to commands whose parameter structs hold no pointers
//!   ([`nvprobe_abi::ctrl::is_pointer_free`]), and allocations to classes whose allocation
//!   parameter size is known ([`nvprobe_abi::classes::alloc_params_size`]), with a `params`
//!   slice at least that long (the driver copies the class's size, whatever `paramsSize` says);
//! - the fd is a character device opened by this module.
//!
//! Both buffers are exclusive borrows for the duration of the call, so no Rust reference
//! aliases the memory the kernel writes.
#![allow(unsafe_code)]

pub mod dxg;
pub mod nodev;
pub mod sandbox;
pub mod signals;

use std::os::fd::OwnedFd;

use nvprobe_abi::classes::alloc_params_size;
use nvprobe_abi::ctrl::is_pointer_free;
use nvprobe_abi::escape::{
    IOC_READ_WRITE, NV_ESC_CARD_INFO, NV_ESC_CHECK_VERSION_STR, NV_ESC_RM_ALLOC, NV_ESC_RM_CONTROL,
    NV_ESC_RM_FREE, NV_ESC_WAIT_OPEN_COMPLETE, NV_IOCTL_MAGIC, ioc_dir, ioc_nr, ioc_size, ioc_type,
};
use nvprobe_abi::frontend::{
    CardInfoArray, REQ_CARD_INFO_32, REQ_CHECK_VERSION_STR, REQ_WAIT_OPEN_COMPLETE,
    nv_ioctl_card_info_t, nv_ioctl_rm_api_version_t, nv_ioctl_wait_open_complete_t,
};
use nvprobe_abi::nvos::{
    NVOS_PARAMS_POINTER_OFFSET, NVOS00_PARAMETERS, NVOS21_PARAMETERS, NVOS54_PARAMETERS,
    REQ_RM_ALLOC, REQ_RM_CONTROL, REQ_RM_FREE,
};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{Ioctl, IoctlOutput, Opcode};

use crate::ioctl::{NvDriver, NvFile, OpenError, OpenMode};
use crate::root::{DeviceOpenError, Root};

/// Every ioctl request number the probe sends (the seccomp filter allows `ioctl` with these
/// only): the version check, the card list with 32 and 64 entries, the deferred-open wait, and
/// RM control, alloc and free on the NVIDIA nodes; on WSL2 the three `/dev/dxg` requests of
/// [`dxg`].
pub const ISSUED_REQUESTS: &[u32] = &[
    REQ_CHECK_VERSION_STR,
    REQ_CARD_INFO_32,
    nvprobe_abi::escape::request::<CardInfoArray<64>>(NV_ESC_CARD_INFO),
    REQ_WAIT_OPEN_COMPLETE,
    REQ_RM_CONTROL,
    REQ_RM_ALLOC,
    REQ_RM_FREE,
    nvprobe_abi::dxg::LX_DXENUMADAPTERS3,
    nvprobe_abi::dxg::LX_DXQUERYADAPTERINFO,
    nvprobe_abi::dxg::LX_DXCLOSEADAPTER,
];

/// The CPU the calling thread runs on (`sched_getcpu`), or `None` where the kernel refuses to
/// say (a seccomp filter): rustix's wrapper takes the answer as given and would then read a
/// value never written.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: `sched_getcpu` takes no argument and returns a number, -1 on failure.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok()
}

/// Points stdout at `/dev/null` once the report is written, so whoever reads the pipe gets
/// end-of-file now rather than when the last thread exits (an abandoned worker stuck in an
/// uninterruptible ioctl keeps the file table alive). Best effort: errors are ignored.
pub fn release_stdout() {
    if let Ok(null) = rustix::fs::open("/dev/null", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
    {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

/// Ends the process now with `code`, without Rust's exit-time clean-up. The binary calls it
/// once its output is written and flushed: that clean-up would only flush an already flushed
/// stdout and unmap the main thread's signal stack, and with the watchdog thread alive an
/// `munmap` costs a TLB flush on the other CPU. Nothing else is pending: the probe writes no
/// files, and C stdio is unused.
pub fn exit_now(code: u8) -> ! {
    // SAFETY: `_exit` takes no pointers, touches no Rust-owned memory and never returns; the
    // kernel ends every thread of the process.
    unsafe { libc::_exit(i32::from(code)) }
}

/// Opens device nodes under a [`Root`]: on the host, the real nodes; under a fixture root, a
/// node that is a character device is opened, anything else (a regular file standing for a
/// node) is reported as [`OpenError::NotCharDevice`] and never opened.
#[derive(Clone, Debug)]
pub struct HostDriver {
    root: Root,
}

impl HostDriver {
    /// A driver reading nodes under `root`.
    pub fn new(root: Root) -> Self {
        Self { root }
    }
}

impl NvDriver for HostDriver {
    fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        let mut flags = if mode.write {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        if mode.nonblock {
            flags |= OFlags::NONBLOCK;
        }
        let fd = open_device(&self.root, path, flags)?;
        Ok(Box::new(HostFile { fd }))
    }
}

/// Opens the character device at `path` under `root` ([`Root::open_char_device`]): a FIFO or a
/// regular file (a fixture's stand-in for a node) is never opened, and is reported as
/// [`OpenError::NotCharDevice`], as is a node that changed while it was opened.
pub(crate) fn open_device(root: &Root, path: &str, flags: OFlags) -> Result<OwnedFd, OpenError> {
    root.open_char_device(path, flags).map_err(|e| match e {
        DeviceOpenError::Io(e) => OpenError::Os(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        DeviceOpenError::NotChar(kind) if root.is_host() => {
            OpenError::NotCharDevice(format!("not a character device ({kind:?})"))
        }
        DeviceOpenError::NotChar(_) => {
            OpenError::NotCharDevice("not a character device (fixture)".to_owned())
        }
        DeviceOpenError::Changed => {
            OpenError::NotCharDevice("not the character device checked: it changed".to_owned())
        }
    })
}

/// An open NVIDIA device node.
#[derive(Debug)]
pub struct HostFile {
    fd: OwnedFd,
}

/// Checks a request against the rules in the module's `# Safety` section and fills the
/// embedded pointer. Returns `EOPNOTSUPP` for anything else.
fn prepare(request: u32, arg: &mut [u8], params: Option<&mut [u8]>) -> Result<(), Errno> {
    let refuse = Err(Errno::NOTSUP);
    if ioc_dir(request) != IOC_READ_WRITE
        || ioc_type(request) != NV_IOCTL_MAGIC
        || ioc_size(request) != arg.len()
    {
        return refuse;
    }
    let len = arg.len();
    let card = size_of::<nv_ioctl_card_info_t>();
    let fixed = match ioc_nr(request) {
        NV_ESC_CARD_INFO => len != 0 && len.is_multiple_of(card),
        NV_ESC_CHECK_VERSION_STR => len == size_of::<nv_ioctl_rm_api_version_t>(),
        NV_ESC_WAIT_OPEN_COMPLETE => len == size_of::<nv_ioctl_wait_open_complete_t>(),
        NV_ESC_RM_FREE => len == size_of::<NVOS00_PARAMETERS>(),
        NV_ESC_RM_CONTROL => {
            if len != size_of::<NVOS54_PARAMETERS>() {
                return refuse;
            }
            let cmd = read_u32(arg, 8)?;
            if !is_pointer_free(cmd) {
                return refuse;
            }
            let (ptr, size) = match params {
                Some(p) => (
                    p.as_mut_ptr() as u64,
                    u32::try_from(p.len()).map_err(|_| Errno::NOTSUP)?,
                ),
                None => (0, 0),
            };
            write_at(arg, NVOS_PARAMS_POINTER_OFFSET, &ptr.to_ne_bytes())?;
            write_at(arg, 24, &size.to_ne_bytes())?;
            return Ok(());
        }
        NV_ESC_RM_ALLOC => {
            // Only the 32-byte NVOS21 (both layouts): NVOS64 has a second pointer.
            if len != size_of::<NVOS21_PARAMETERS>() {
                return refuse;
            }
            let class = read_u32(arg, 12)?;
            let Some(need) = alloc_params_size(class) else {
                return refuse;
            };
            let ptr = match params {
                Some(p) if p.len() >= need => p.as_mut_ptr() as u64,
                Some(_) => return refuse,
                None => 0,
            };
            write_at(arg, NVOS_PARAMS_POINTER_OFFSET, &ptr.to_ne_bytes())?;
            return Ok(());
        }
        _ => false,
    };
    if fixed && params.is_none() {
        Ok(())
    } else {
        refuse
    }
}

/// The native-endian `u32` at `at`; `EOPNOTSUPP` past the end (never for the sizes `prepare`
/// checked first).
fn read_u32(arg: &[u8], at: usize) -> Result<u32, Errno> {
    arg.get(at..at.saturating_add(4))
        .and_then(|b| b.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or(Errno::NOTSUP)
}

/// Writes `bytes` at `at`; `EOPNOTSUPP` past the end.
fn write_at(arg: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), Errno> {
    arg.get_mut(at..at.saturating_add(bytes.len()))
        .ok_or(Errno::NOTSUP)?
        .copy_from_slice(bytes);
    Ok(())
}

/// One ioctl with a runtime request number and an in/out byte buffer (shared with
/// [`dxg`], whose requests its own `prepare` vets).
struct RawIoctl<'a> {
    request: u32,
    arg: &'a mut [u8],
}

// SAFETY: `IS_MUTATING` is true (the driver writes the buffer back), `as_ptr` points at the
// exclusively borrowed buffer, and the output is `()`, so `output_from_ptr` reads nothing. Which
// requests may be sent is checked by `prepare` (here, or `dxg::prepare` for /dev/dxg) before
// every call (module `# Safety`).
unsafe impl Ioctl for RawIoctl<'_> {
    type Output = ();

    const IS_MUTATING: bool = true;

    fn opcode(&self) -> Opcode {
        Opcode::from(self.request)
    }

    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        self.arg.as_mut_ptr().cast()
    }

    unsafe fn output_from_ptr(
        _out: IoctlOutput,
        _extract_output: *mut core::ffi::c_void,
    ) -> rustix::io::Result<()> {
        Ok(())
    }
}

impl NvFile for HostFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        // `params` is borrowed from the caller for the whole of this call; the pointer
        // `prepare` derives from it stays valid until we return.
        prepare(request, arg, params)?;
        let raw = RawIoctl { request, arg };
        // SAFETY: `prepare` accepted the request: it is `_IOWR('F', nr, arg.len())` for a known
        // NVIDIA escape, so the driver copies at most `arg.len()` bytes in and out of `arg`;
        // any embedded pointer was written by `prepare` from `params`, which stays exclusively
        // borrowed (and alive) until this call returns, and its length bounds what the driver
        // copies through it. `self.fd` is an open character device.
        unsafe { rustix::ioctl::ioctl(&self.fd, raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nvprobe_abi::frontend::{REQ_CARD_INFO_32, REQ_CHECK_VERSION_STR};
    use nvprobe_abi::nvos::{REQ_RM_ALLOC, REQ_RM_CONTROL};

    #[test]
    fn sys_prepare_refuses_what_it_cannot_vouch_for() {
        let mut a = [0_u8; 72];
        assert_eq!(prepare(REQ_CHECK_VERSION_STR, &mut a, None), Ok(()));
        // Size in the request differs from the buffer.
        assert_eq!(
            prepare(REQ_CHECK_VERSION_STR, &mut a[..64], None),
            Err(Errno::NOTSUP)
        );
        // A params slice on an escape without a pointer.
        let mut p = [0_u8; 8];
        assert_eq!(
            prepare(REQ_CHECK_VERSION_STR, &mut a, Some(&mut p)),
            Err(Errno::NOTSUP)
        );
        let mut cards = vec![0_u8; 72 * 32];
        assert_eq!(prepare(REQ_CARD_INFO_32, &mut cards, None), Ok(()));
        // A control with pointers inside (GR_GET_INFO) is refused.
        let mut c = [0_u8; 32];
        c[8..12].copy_from_slice(&0x2080_1201_u32.to_ne_bytes());
        assert_eq!(
            prepare(REQ_RM_CONTROL, &mut c, Some(&mut p)),
            Err(Errno::NOTSUP)
        );
        // A known control gets its pointer and size filled.
        c[8..12].copy_from_slice(&0x2080_1701_u32.to_ne_bytes());
        let mut arch = [0_u8; 16];
        assert_eq!(prepare(REQ_RM_CONTROL, &mut c, Some(&mut arch)), Ok(()));
        assert_eq!(
            u64::from_ne_bytes(c[16..24].try_into().unwrap()),
            arch.as_ptr() as u64
        );
        assert_eq!(u32::from_ne_bytes(c[24..28].try_into().unwrap()), 16);
        // A device allocation with a params buffer shorter than NV0080_ALLOC_PARAMETERS.
        let mut alloc = [0_u8; 32];
        alloc[12..16].copy_from_slice(&0x80_u32.to_ne_bytes());
        let mut short = [0_u8; 8];
        assert_eq!(
            prepare(REQ_RM_ALLOC, &mut alloc, Some(&mut short)),
            Err(Errno::NOTSUP)
        );
        let mut full = [0_u8; 56];
        assert_eq!(prepare(REQ_RM_ALLOC, &mut alloc, Some(&mut full)), Ok(()));
        // An unknown escape.
        let mut x = [0_u8; 4];
        assert_eq!(
            prepare(nvprobe_abi::escape::iowr(0xC9, 4), &mut x, None),
            Err(Errno::NOTSUP)
        );
    }

    /// Every request the ioctl path sends, on every emulated driver and with `--deep`, is in
    /// [`ISSUED_REQUESTS`] (else the seccomp filter would refuse it) and passes `prepare`.
    #[test]
    fn sys_issued_requests_cover_what_the_probe_sends() {
        use crate::ioctl::emu::{EmuDriver, EmuGpu};
        use crate::ioctl::{IoctlOptions, NvDriver, NvFile, OpenError, OpenMode};
        use std::sync::{Arc, Mutex};

        struct Recorder(EmuDriver, Arc<Mutex<Vec<u32>>>);
        struct RecFile(Box<dyn NvFile>, Arc<Mutex<Vec<u32>>>);
        impl NvDriver for Recorder {
            fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
                let f = self.0.open(path, mode)?;
                Ok(Box::new(RecFile(f, Arc::clone(&self.1))))
            }
        }
        impl NvFile for RecFile {
            fn ioctl(
                &mut self,
                request: u32,
                arg: &mut [u8],
                params: Option<&mut [u8]>,
            ) -> Result<(), Errno> {
                self.1.lock().unwrap().push(request);
                self.0.ioctl(request, arg, params)
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in [
            "470.256.02",
            "535.183.01",
            "550.54.15",
            "570.133.07",
            "580.65.06",
            "999.1.1",
        ] {
            let log = Arc::new(Mutex::new(Vec::new()));
            let gpus = vec![EmuGpu::h100(0x3b, 0), EmuGpu::rtx4090(0x5e, 1)];
            let rec = Recorder(EmuDriver::new(v, gpus, vec![]), Arc::clone(&log));
            for deep in [false, true] {
                let opts = IoctlOptions {
                    deep,
                    ..IoctlOptions::default()
                };
                let _ = crate::ioctl::probe_ioctl(&rec, &opts);
            }
            seen.extend(log.lock().unwrap().iter().copied());
        }
        assert!(seen.len() >= 5, "{seen:x?}");
        for req in seen {
            assert!(
                ISSUED_REQUESTS.contains(&req),
                "{req:#x} is not in ISSUED_REQUESTS"
            );
        }
    }

    #[test]
    fn sys_no_gpu_machine_reports_absent_or_not_a_device() {
        let driver = HostDriver::new(Root::host());
        let outcome = crate::ioctl::probe_ioctl(&driver, &crate::ioctl::IoctlOptions::default());
        let src = outcome.sources.iter().find(|s| s.name == "ioctl").unwrap();
        if !std::path::Path::new("/dev/nvidiactl").exists() {
            assert_eq!(src.status, crate::report::SourceStatus::Absent, "{src:?}");
            assert!(outcome.cards.is_none());
        }
    }

    #[test]
    fn sys_fixture_regular_file_is_skipped() {
        let dir = crate::testutil::Scratch::new("sys");
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        std::fs::write(dir.join("dev/nvidiactl"), "").unwrap();
        let driver = HostDriver::new(Root::at(&dir));
        let outcome = crate::ioctl::probe_ioctl(&driver, &crate::ioctl::IoctlOptions::default());
        let src = outcome.sources.iter().find(|s| s.name == "ioctl").unwrap();
        assert_eq!(src.status, crate::report::SourceStatus::Skipped);
        assert_eq!(
            src.detail,
            "/dev/nvidiactl: not a character device (fixture)"
        );
        // A missing node under a fixture root is absent.
        std::fs::remove_file(dir.join("dev/nvidiactl")).unwrap();
        let outcome = crate::ioctl::probe_ioctl(&driver, &crate::ioctl::IoctlOptions::default());
        assert_eq!(
            outcome.sources[0].status,
            crate::report::SourceStatus::Absent
        );
    }
}
