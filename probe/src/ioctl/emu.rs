//! An emulated NVIDIA kernel driver for tests: it answers at the raw ioctl boundary
//! ([`NvDriver`]/[`NvFile`]) with the same bytes the kernel module would, for a chosen driver
//! version, and can inject faults (gVisor nvproxy refusals, denied opens, a lost GPU, short
//! replies, garbage strings).
//!
//! Behaviour per version follows `shared/research/abi-facts.md`: the QUERY version check
//! returns the string only from 530.30.02; NVOS21 `status` is at 24 before 535.43.02;
//! control size mismatches give 0x3A before 535.161.07 (535 branch) / 550.40.53 (550 branch) /
//! 555, and 0x1F after; `WAIT_OPEN_COMPLETE` and non-blocking opens exist from 550.40.07; from
//! 595.44.02 every request is size-checked centrally. The emulator records what a real driver
//! would write to the kernel log, every call, and every live handle and open file, so tests
//! can check that nothing leaks.

use std::sync::{Arc, Mutex, MutexGuard};

use nvprobe_abi::NvStatus;
use nvprobe_abi::classes::{
    NV01_DEVICE_0, NV01_ROOT, NV01_ROOT_CLIENT, NV01_ROOT_NON_PRIV, NV20_SUBDEVICE_0,
};
use nvprobe_abi::ctrl::ctrl0000gpu::{
    NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2, NV0000_CTRL_CMD_GPU_GET_PROBED_IDS,
    NV0000_CTRL_GPU_INVALID_ID,
};
use nvprobe_abi::ctrl::ctrl0000system::NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2;
use nvprobe_abi::ctrl::ctrl2080bus::NV2080_CTRL_CMD_BUS_GET_PCI_INFO;
use nvprobe_abi::ctrl::ctrl2080fb::{
    NV2080_CTRL_CMD_FB_GET_INFO_V2, NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE,
    NV2080_CTRL_FB_INFO_INDEX_TOTAL_RAM_SIZE,
};
use nvprobe_abi::ctrl::ctrl2080gpu::{
    GID_FLAGS_FORMAT_BINARY, NV2080_CTRL_CMD_GPU_GET_GID_INFO, NV2080_CTRL_CMD_GPU_GET_INFO_V2,
    NV2080_CTRL_CMD_GPU_GET_NAME_STRING, NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION,
    NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE,
};
use nvprobe_abi::ctrl::ctrl2080mc::NV2080_CTRL_CMD_MC_GET_ARCH_INFO;
use nvprobe_abi::escape::{
    NV_ESC_CARD_INFO, NV_ESC_CHECK_VERSION_STR, NV_ESC_REGISTER_FD, NV_ESC_RM_ALLOC,
    NV_ESC_RM_CONTROL, NV_ESC_RM_FREE, NV_ESC_WAIT_OPEN_COMPLETE, escape_name, ioc_nr, ioc_size,
};
use nvprobe_abi::frontend::NV_RM_API_VERSION_CMD_QUERY;
use rustix::io::Errno;

use super::variant::{AbiVariant, DriverVersion};
use super::{NvDriver, NvFile, OpenError, OpenMode};

/// One emulated GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuGpu {
    /// PCI domain.
    pub domain: u32,
    /// PCI bus.
    pub bus: u8,
    /// PCI device.
    pub slot: u8,
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem device id.
    pub subsystem_device: u16,
    /// `/dev/nvidiaN`.
    pub minor: u32,
    /// `MC_GET_ARCH_INFO`.
    pub architecture: u32,
    /// `MC_GET_ARCH_INFO`.
    pub implementation: u32,
    /// `MC_GET_ARCH_INFO`.
    pub revision: u32,
    /// `GPU_GET_INFO_V2` SM version.
    pub sm_version: u32,
    /// Marketing name.
    pub name: String,
    /// Binary UUID.
    pub uuid: [u8; 16],
    /// RAM size in KiB.
    pub ram_kib: u32,
    /// Excluded by `NVreg_ExcludedGpus`.
    pub excluded: bool,
}

impl EmuGpu {
    /// An H100 SXM5 80GB at `0000:<bus>:00.0`.
    pub fn h100(bus: u8, minor: u32) -> Self {
        Self {
            domain: 0,
            bus,
            slot: 0,
            vendor: 0x10DE,
            device: 0x2330,
            subsystem_vendor: 0x10DE,
            subsystem_device: 0x16C1,
            minor,
            architecture: 0x180,
            implementation: 0,
            revision: 0xA1,
            sm_version: 0x900,
            name: "NVIDIA H100 80GB HBM3".to_owned(),
            uuid: [
                0x4b,
                0x2d,
                0x6a,
                0x1e,
                0x90,
                0x0c,
                0x3f,
                0x5a,
                0x8e,
                0x21,
                0x77,
                0x10,
                0xab,
                0xcd,
                0xef,
                u8::try_from(minor & 0xFF).unwrap_or(0),
            ],
            ram_kib: 80 * 1024 * 1024,
            excluded: false,
        }
    }

    /// An RTX 4090 (AD102, 8.9) at `0000:<bus>:00.0`.
    pub fn rtx4090(bus: u8, minor: u32) -> Self {
        Self {
            device: 0x2684,
            subsystem_vendor: 0x1043,
            subsystem_device: 0x889D,
            architecture: 0x190,
            implementation: 2,
            sm_version: 0x809,
            name: "NVIDIA GeForce RTX 4090".to_owned(),
            ram_kib: 24 * 1024 * 1024,
            ..Self::h100(bus, minor)
        }
    }

    fn gpu_id(&self) -> u32 {
        ((self.domain & 0xFFFF) << 16) | (u32::from(self.bus) << 8) | u32::from(self.slot)
    }
}

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// gVisor nvproxy: `EINVAL` for frontend escapes it does not allow, status 0x56 for
    /// controls, 0x22 for classes (its default allow-list: no `BUILD_VERSION_V2`, no
    /// `WAIT_OPEN_COMPLETE` before 550.40.07; `O_NONBLOCK` dropped on GPU opens).
    Gvisor,
    /// Under gVisor, also refuse this control command (status 0x56).
    GvisorDenyControl(u32),
    /// Under gVisor, also refuse this class (status 0x22).
    GvisorDenyClass(u32),
    /// `open(path)` fails with this errno.
    OpenFails(String, Errno),
    /// The GPU with this minor is lost: its controls return `NV_ERR_GPU_IS_LOST`.
    GpuLost(u32),
    /// Replies are cut: the QUERY string stops after 3 characters, controls copy back only the
    /// first half of their parameters, the GID comes back 8 bytes long.
    ShortReplies,
    /// Strings come back without a NUL: version string and GPU name fill their buffers.
    GarbageStrings,
}

/// The emulated machine's driver.
#[derive(Clone, Debug)]
pub struct EmuDriver {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct Object {
    client: u32,
    handle: u32,
    parent: u32,
    class: u32,
    gpu: Option<usize>,
}

#[derive(Debug)]
struct State {
    version: DriverVersion,
    abi: AbiVariant,
    gpus: Vec<EmuGpu>,
    faults: Vec<Fault>,
    next_fd: u64,
    open_files: Vec<(u64, Option<usize>, bool)>,
    attached: Vec<bool>,
    /// Clients: (handle, owning fd).
    clients: Vec<(u32, u64)>,
    objects: Vec<Object>,
    next_client: u32,
    next_object: u32,
    kernel_log: Vec<String>,
    calls: Vec<String>,
}

impl State {
    fn has(&self, f: &Fault) -> bool {
        self.faults.contains(f)
    }

    fn gvisor(&self) -> bool {
        self.faults.iter().any(|f| {
            matches!(
                f,
                Fault::Gvisor | Fault::GvisorDenyControl(_) | Fault::GvisorDenyClass(_)
            )
        })
    }

    fn at_least(&self, v: (u32, u32, u32)) -> bool {
        (self.version.major, self.version.minor, self.version.patch) >= v
    }

    fn size_mismatch(&self) -> NvStatus {
        let v = &self.version;
        let new = match v.major {
            535 => self.at_least((535, 161, 7)),
            550 => self.at_least((550, 40, 53)),
            m => m >= 555,
        };
        if new {
            NvStatus::ERR_INVALID_ARGUMENT
        } else {
            NvStatus::ERR_INVALID_PARAM_STRUCT
        }
    }
}

impl EmuDriver {
    /// A driver of `version` with these GPUs and faults.
    ///
    /// # Panics
    /// When `version` is not a driver version (a test bug).
    pub fn new(version: &str, gpus: Vec<EmuGpu>, faults: Vec<Fault>) -> Self {
        #[expect(
            clippy::expect_used,
            reason = "test helper: a bad version is a test bug"
        )]
        let version = DriverVersion::parse(version).expect("emulator driver version");
        let (abi, _) = AbiVariant::for_version(Some(&version));
        let attached = vec![false; gpus.len()];
        Self {
            state: Arc::new(Mutex::new(State {
                version,
                abi,
                gpus,
                faults,
                next_fd: 3,
                open_files: Vec::new(),
                attached,
                clients: Vec::new(),
                objects: Vec::new(),
                next_client: 0xC1D0_0000,
                next_object: 0xCAF0_0000,
                kernel_log: Vec::new(),
                calls: Vec::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Lines a real driver would have written to the kernel log.
    pub fn kernel_log(&self) -> Vec<String> {
        self.lock().kernel_log.clone()
    }

    /// Every call, in order (`open /dev/nvidiactl`, `NV_ESC_RM_CONTROL 0x20801701`).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// RM clients and objects still allocated.
    pub fn live_handles(&self) -> usize {
        let s = self.lock();
        s.clients.len() + s.objects.len()
    }

    /// Files still open.
    pub fn open_files(&self) -> usize {
        self.lock().open_files.len()
    }
}

impl NvDriver for EmuDriver {
    fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        let mut s = self.lock();
        s.calls.push(format!("open {path}"));
        for f in &s.faults {
            if let Fault::OpenFails(p, e) = f
                && p == path
            {
                return Err(OpenError::Os(*e));
            }
        }
        let gpu = if path == "/dev/nvidiactl" {
            None
        } else if let Some(n) = path
            .strip_prefix("/dev/nvidia")
            .and_then(|n| n.parse::<u32>().ok())
        {
            let Some(i) = s.gpus.iter().position(|g| g.minor == n) else {
                return Err(OpenError::Os(Errno::NOENT));
            };
            if s.gpus[i].excluded {
                return Err(OpenError::Os(Errno::PERM));
            }
            Some(i)
        } else {
            return Err(OpenError::Os(Errno::NOENT));
        };
        // A non-blocking open returns before the GPU is initialised (>= 550.40.07, not under
        // gVisor, which drops O_NONBLOCK).
        let pending = gpu.is_some() && mode.nonblock && s.abi.wait_open_complete && !s.gvisor();
        if let (Some(i), false) = (gpu, pending) {
            s.attached[i] = true;
        }
        let fd = s.next_fd;
        s.next_fd += 1;
        s.open_files.push((fd, gpu, pending));
        Ok(Box::new(EmuFile {
            state: Arc::clone(&self.state),
            fd,
            gpu,
        }))
    }
}

/// An open emulated node.
#[derive(Debug)]
pub struct EmuFile {
    state: Arc<Mutex<State>>,
    fd: u64,
    gpu: Option<usize>,
}

impl Drop for EmuFile {
    fn drop(&mut self) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let fd = self.fd;
        s.open_files.retain(|(f, _, _)| *f != fd);
        // Closing the ctl fd frees every client allocated through it.
        let owned: Vec<u32> = s
            .clients
            .iter()
            .filter(|(_, o)| *o == fd)
            .map(|(h, _)| *h)
            .collect();
        for c in owned {
            free_client(&mut s, c);
        }
    }
}

fn free_client(s: &mut State, client: u32) {
    s.clients.retain(|(h, _)| *h != client);
    s.objects.retain(|o| o.client != client);
}

fn free_object(s: &mut State, client: u32, handle: u32) {
    let mut doomed = vec![handle];
    let mut i = 0;
    while i < doomed.len() {
        let h = doomed[i];
        doomed.extend(
            s.objects
                .iter()
                .filter(|o| o.client == client && o.parent == h)
                .map(|o| o.handle),
        );
        i += 1;
    }
    s.objects
        .retain(|o| !(o.client == client && doomed.contains(&o.handle)));
}

fn rd(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map_or(0, |x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
}

fn wr(b: &mut [u8], off: usize, v: u32) {
    if let Some(x) = b.get_mut(off..off + 4) {
        x.copy_from_slice(&v.to_ne_bytes());
    }
}

fn put_str(b: &mut [u8], s: &str, garbage: bool) {
    b.fill(0);
    if garbage {
        b.fill(b'x');
        return;
    }
    let n = s.len().min(b.len().saturating_sub(1));
    b[..n].copy_from_slice(&s.as_bytes()[..n]);
}

impl NvFile for EmuFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = &mut *guard;
        let nr = ioc_nr(request);
        let size = ioc_size(request);
        let cmd = if nr == NV_ESC_RM_CONTROL {
            format!(" {:#x}", rd(arg, 8))
        } else {
            String::new()
        };
        s.calls.push(format!("{}{cmd}", escape_name(nr)));
        if size != arg.len() {
            return Err(Errno::FAULT);
        }
        // The central size check from 595.44.02.
        if s.at_least((595, 44, 2)) {
            let ok = match nr {
                NV_ESC_CARD_INFO => size != 0 && size.is_multiple_of(72),
                NV_ESC_CHECK_VERSION_STR => size == 72,
                NV_ESC_WAIT_OPEN_COMPLETE | NV_ESC_REGISTER_FD => size == 8 || size == 4,
                NV_ESC_RM_FREE => size == 16,
                NV_ESC_RM_CONTROL => size == 32,
                NV_ESC_RM_ALLOC => size == 32 || size == 48,
                _ => false,
            };
            if !ok {
                s.kernel_log
                    .push(format!("NVRM: invalid ioctl {nr} size {size}"));
                return Err(Errno::INVAL);
            }
        }
        let allowed_by_gvisor = match nr {
            NV_ESC_WAIT_OPEN_COMPLETE => s.abi.wait_open_complete,
            NV_ESC_CARD_INFO
            | NV_ESC_CHECK_VERSION_STR
            | NV_ESC_RM_ALLOC
            | NV_ESC_RM_FREE
            | NV_ESC_RM_CONTROL
            | NV_ESC_REGISTER_FD => true,
            _ => false,
        };
        if s.gvisor() && !allowed_by_gvisor {
            return Err(Errno::INVAL);
        }
        // Any ioctl on a pending GPU fd waits for the open to finish.
        if let Some(i) = self.gpu {
            let fd = self.fd;
            if let Some(f) = s.open_files.iter_mut().find(|(f, _, _)| *f == fd) {
                f.2 = false;
            }
            s.attached[i] = true;
        }
        let is_ctl = self.gpu.is_none();
        match nr {
            NV_ESC_CHECK_VERSION_STR if is_ctl => check_version(s, arg),
            NV_ESC_CARD_INFO if is_ctl => card_info(s, arg),
            NV_ESC_WAIT_OPEN_COMPLETE if !is_ctl && s.abi.wait_open_complete => {
                arg.fill(0);
                Ok(())
            }
            NV_ESC_RM_ALLOC if is_ctl && size == 32 => {
                let status = rm_alloc(s, self.fd, arg, params);
                let off = if s.abi.nvos21 == super::variant::Nvos21Layout::V515 {
                    24
                } else {
                    28
                };
                wr(arg, off, status.0);
                Ok(())
            }
            NV_ESC_RM_FREE if is_ctl => {
                let (client, handle) = (rd(arg, 0), rd(arg, 8));
                let status = if !s.clients.iter().any(|(c, _)| *c == client) {
                    NvStatus::ERR_INVALID_CLIENT
                } else if handle == client {
                    free_client(s, client);
                    NvStatus::OK
                } else if s
                    .objects
                    .iter()
                    .any(|o| o.client == client && o.handle == handle)
                {
                    free_object(s, client, handle);
                    NvStatus::OK
                } else {
                    NvStatus::ERR_INVALID_OBJECT_HANDLE
                };
                wr(arg, 12, status.0);
                Ok(())
            }
            NV_ESC_RM_CONTROL if is_ctl => {
                let status = rm_control(s, self.fd, arg, params);
                wr(arg, 28, status.0);
                Ok(())
            }
            _ => {
                s.kernel_log
                    .push(format!("NVRM: unknown NVRM ioctl command {nr:#x}"));
                Err(Errno::INVAL)
            }
        }
    }
}

fn check_version(s: &mut State, arg: &mut [u8]) -> Result<(), Errno> {
    let cmd = rd(arg, 0);
    wr(arg, 4, 1);
    let version = s.version.as_str().to_owned();
    let garbage = s.has(&Fault::GarbageStrings);
    if cmd == NV_RM_API_VERSION_CMD_QUERY {
        if s.abi.query_returns_string {
            let text = if s.has(&Fault::ShortReplies) {
                version[..3].to_owned()
            } else {
                version
            };
            put_str(&mut arg[8..72], &text, garbage);
        }
        return Ok(());
    }
    let given: Vec<u8> = arg[8..72]
        .iter()
        .take_while(|b| **b != 0)
        .copied()
        .collect();
    if given == version.as_bytes() {
        return Ok(());
    }
    s.kernel_log.push(format!(
        "NVRM: API mismatch: the client has the version {}, but this kernel module has the version {version}",
        String::from_utf8_lossy(&given)
    ));
    put_str(&mut arg[8..72], &version, garbage);
    Err(Errno::INVAL)
}

fn card_info(s: &mut State, arg: &mut [u8]) -> Result<(), Errno> {
    let n = arg.len() / 72;
    if n < s.gpus.len() {
        return Err(Errno::INVAL);
    }
    arg.fill(0);
    for (slot, g) in s.gpus.iter().filter(|g| !g.excluded).enumerate() {
        let e = &mut arg[slot * 72..slot * 72 + 72];
        e[0] = 1;
        wr(e, 4, g.domain);
        e[8] = g.bus;
        e[9] = g.slot;
        e[12..14].copy_from_slice(&g.vendor.to_ne_bytes());
        e[14..16].copy_from_slice(&g.device.to_ne_bytes());
        wr(e, 16, g.gpu_id());
        wr(e, 56, g.minor);
    }
    Ok(())
}

fn owns_client(s: &State, fd: u64, client: u32) -> bool {
    s.clients.iter().any(|(c, o)| *c == client && *o == fd)
}

fn rm_alloc(s: &mut State, fd: u64, arg: &mut [u8], params: Option<&mut [u8]>) -> NvStatus {
    let (root, parent, new, class) = (rd(arg, 0), rd(arg, 4), rd(arg, 8), rd(arg, 12));
    let gvisor_denied = s.faults.contains(&Fault::GvisorDenyClass(class));
    let known = matches!(
        class,
        NV01_ROOT | NV01_ROOT_NON_PRIV | NV01_ROOT_CLIENT | NV01_DEVICE_0 | NV20_SUBDEVICE_0
    );
    if gvisor_denied || !known {
        return NvStatus::ERR_INVALID_CLASS;
    }
    if matches!(class, NV01_ROOT | NV01_ROOT_NON_PRIV | NV01_ROOT_CLIENT) {
        let h = if new == 0 {
            s.next_client += 1;
            s.next_client
        } else {
            new
        };
        if s.clients.iter().any(|(c, _)| *c == h) {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        }
        s.clients.push((h, fd));
        wr(arg, 8, h);
        return NvStatus::OK;
    }
    if !owns_client(s, fd, root) {
        return NvStatus::ERR_INVALID_CLIENT;
    }
    let gpu = if class == NV01_DEVICE_0 {
        if parent != root {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        }
        let device_id = params.map_or(0, |p| rd(p, 0));
        let Ok(i) = usize::try_from(device_id) else {
            return NvStatus::ERR_INVALID_ARGUMENT;
        };
        if i >= s.gpus.len() || !s.attached[i] {
            return NvStatus::ERR_INVALID_ARGUMENT;
        }
        // The calling process must hold a completed open of that GPU.
        if !s
            .open_files
            .iter()
            .any(|(_, g, pending)| *g == Some(i) && !pending)
        {
            return NvStatus::ERR_INSUFFICIENT_PERMISSIONS;
        }
        i
    } else {
        let Some(dev) = s
            .objects
            .iter()
            .find(|o| o.client == root && o.handle == parent && o.class == NV01_DEVICE_0)
        else {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        };
        let Some(i) = dev.gpu else {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        };
        i
    };
    let h = if new == 0 {
        s.next_object += 1;
        s.next_object
    } else {
        new
    };
    if s.objects.iter().any(|o| o.client == root && o.handle == h) {
        return NvStatus::ERR_INVALID_OBJECT_HANDLE;
    }
    s.objects.push(Object {
        client: root,
        handle: h,
        parent,
        class,
        gpu: Some(gpu),
    });
    wr(arg, 8, h);
    NvStatus::OK
}

fn rm_control(s: &mut State, fd: u64, arg: &[u8], params: Option<&mut [u8]>) -> NvStatus {
    let (client, object, cmd) = (rd(arg, 0), rd(arg, 4), rd(arg, 8));
    if !owns_client(s, fd, client) {
        return NvStatus::ERR_INVALID_CLIENT;
    }
    let gvisor_allowed = cmd != NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2
        && !s.faults.contains(&Fault::GvisorDenyControl(cmd));
    if s.gvisor() && !gvisor_allowed {
        return NvStatus::ERR_NOT_SUPPORTED;
    }
    let abi = s.abi;
    let expected = match cmd {
        NV0000_CTRL_CMD_GPU_GET_PROBED_IDS => abi.probed_ids.size(),
        NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2 => 32,
        NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2 => abi.build_version.size(),
        NV2080_CTRL_CMD_MC_GET_ARCH_INFO | NV2080_CTRL_CMD_BUS_GET_PCI_INFO => 16,
        NV2080_CTRL_CMD_GPU_GET_INFO_V2 => abi.gpu_info.size(),
        NV2080_CTRL_CMD_GPU_GET_NAME_STRING => abi.name_string.size(),
        NV2080_CTRL_CMD_GPU_GET_GID_INFO => 268,
        NV2080_CTRL_CMD_FB_GET_INFO_V2 => abi.fb_info.size(),
        _ => return NvStatus::ERR_NOT_SUPPORTED,
    };
    let Some(p) = params else {
        return NvStatus::ERR_INVALID_ARGUMENT;
    };
    if p.len() != expected {
        return s.size_mismatch();
    }
    let mut reply = p.to_vec();
    let status = if cmd >> 16 == 0 {
        if object != client {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        }
        control_0000(s, cmd, &mut reply)
    } else {
        let Some(i) = s
            .objects
            .iter()
            .find(|o| o.client == client && o.handle == object && o.class == NV20_SUBDEVICE_0)
            .and_then(|o| o.gpu)
        else {
            return NvStatus::ERR_INVALID_OBJECT_HANDLE;
        };
        let minor = s.gpus[i].minor;
        if s.faults.contains(&Fault::GpuLost(minor)) {
            return NvStatus::ERR_GPU_IS_LOST;
        }
        control_2080(s, i, cmd, &mut reply)
    };
    let n = if s.has(&Fault::ShortReplies) {
        reply.len() / 2
    } else {
        reply.len()
    };
    p[..n].copy_from_slice(&reply[..n]);
    status
}

fn control_0000(s: &State, cmd: u32, p: &mut [u8]) -> NvStatus {
    match cmd {
        NV0000_CTRL_CMD_GPU_GET_PROBED_IDS => {
            for k in 0..64 {
                wr(p, k * 4, NV0000_CTRL_GPU_INVALID_ID);
            }
            if p.len() > 256 {
                p[256..].fill(0);
            }
            let mut probed = 0;
            let mut excluded = 0;
            for g in &s.gpus {
                if g.excluded {
                    wr(p, 128 + excluded * 4, g.gpu_id());
                    excluded += 1;
                } else {
                    wr(p, probed * 4, g.gpu_id());
                    probed += 1;
                }
            }
            NvStatus::OK
        }
        NV0000_CTRL_CMD_GPU_GET_ID_INFO_V2 => {
            let id = rd(p, 0);
            match s.gpus.iter().position(|g| g.gpu_id() == id && !g.excluded) {
                Some(i) if s.attached[i] => {
                    let i = u32::try_from(i).unwrap_or(0);
                    wr(p, 8, i);
                    wr(p, 12, 0);
                    NvStatus::OK
                }
                _ => NvStatus::ERR_INVALID_ARGUMENT,
            }
        }
        NV0000_CTRL_CMD_SYSTEM_GET_BUILD_VERSION_V2 => {
            put_str(&mut p[..256], s.version.as_str(), false);
            NvStatus::OK
        }
        _ => NvStatus::ERR_NOT_SUPPORTED,
    }
}

fn control_2080(s: &State, index: usize, cmd: u32, p: &mut [u8]) -> NvStatus {
    let g = &s.gpus[index];
    match cmd {
        NV2080_CTRL_CMD_MC_GET_ARCH_INFO => {
            wr(p, 0, g.architecture);
            wr(p, 4, g.implementation);
            wr(p, 8, g.revision);
            NvStatus::OK
        }
        NV2080_CTRL_CMD_BUS_GET_PCI_INFO => {
            wr(p, 0, (u32::from(g.device) << 16) | u32::from(g.vendor));
            wr(
                p,
                4,
                (u32::from(g.subsystem_device) << 16) | u32::from(g.subsystem_vendor),
            );
            NvStatus::OK
        }
        NV2080_CTRL_CMD_GPU_GET_INFO_V2 | NV2080_CTRL_CMD_FB_GET_INFO_V2 => {
            let max = (p.len() - 4) / 8;
            let count = rd(p, 0) as usize;
            if count == 0 || count > max {
                return NvStatus::ERR_INVALID_ARGUMENT;
            }
            for k in 0..count {
                let index = rd(p, 4 + k * 8);
                if index as usize >= max {
                    return NvStatus::ERR_INVALID_ARGUMENT;
                }
                let data = match (cmd, index) {
                    (
                        NV2080_CTRL_CMD_GPU_GET_INFO_V2,
                        NV2080_CTRL_GPU_INFO_INDEX_GPU_SM_VERSION,
                    ) => g.sm_version,
                    (NV2080_CTRL_CMD_GPU_GET_INFO_V2, NV2080_CTRL_GPU_INFO_INDEX_GPU_SMC_MODE) => 2,
                    (
                        NV2080_CTRL_CMD_FB_GET_INFO_V2,
                        NV2080_CTRL_FB_INFO_INDEX_RAM_SIZE
                        | NV2080_CTRL_FB_INFO_INDEX_TOTAL_RAM_SIZE,
                    ) => g.ram_kib,
                    _ => 0,
                };
                wr(p, 8 + k * 8, data);
            }
            NvStatus::OK
        }
        NV2080_CTRL_CMD_GPU_GET_NAME_STRING => {
            put_str(&mut p[4..68], &g.name, s.has(&Fault::GarbageStrings));
            NvStatus::OK
        }
        NV2080_CTRL_CMD_GPU_GET_GID_INFO => {
            if rd(p, 4) & 3 == GID_FLAGS_FORMAT_BINARY {
                p[12..28].copy_from_slice(&g.uuid);
                wr(p, 8, if s.has(&Fault::ShortReplies) { 8 } else { 16 });
            } else {
                let text = super::format_uuid(&g.uuid);
                put_str(&mut p[12..268], &text, false);
                wr(p, 8, u32::try_from(text.len() + 1).unwrap_or(0));
            }
            NvStatus::OK
        }
        _ => NvStatus::ERR_NOT_SUPPORTED,
    }
}
