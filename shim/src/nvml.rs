//! Loading `libnvidia-ml.so.1` and `libcuda.so.1` at run time, and every call into them; also
//! the two process-level libc calls the shim makes before it loads foreign code.
//!
//! # Safety
//! This is the only file of the shim with `unsafe`. Its invariants:
//! - Libraries are opened with `dlopen(RTLD_NOW | RTLD_LOCAL)` and never closed, so every
//!   symbol address taken from them stays valid until the process exits.
//! - A symbol address becomes a function pointer only through the tables built by
//!   `fn_table!`, which pair each exported name with the exact C prototype the vendor header
//!   declares for it (`nvml.h`, `cuda.h`). Function and data pointers have the same size and
//!   representation on every Linux target Rust supports.
//! - Every pointer handed to the library points to a live, initialised, properly aligned local
//!   that is at least as large as the library may write: string buffers come with their true
//!   length, and structs are `#[repr(C)]` copies of the header's layout.
//! - Device handles are opaque: they come from `nvmlDeviceGetHandleByIndex*`, are passed back
//!   unchanged and are never dereferenced here.
//! - C strings the library or the loader return (`nvmlErrorString`, `cuGetErrorName`,
//!   `dlerror`, the loader's `link_map` name) are checked for null and copied at once, before any
//!   other call could invalidate them. The shim is single-threaded, so `dlerror`'s state is not
//!   shared with another thread.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::ptr::{self, NonNull};

/// `nvmlReturn_t`: a C enum, passed as an `int`-sized value.
type Ret = c_uint;
/// `CUresult`: a C enum.
type CuResult = c_int;
/// `nvmlDevice_t`: an opaque pointer.
type RawDevice = *mut c_void;

const NVML_SUCCESS: Ret = 0;
const CUDA_SUCCESS: CuResult = 0;

/// `NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE` and `NVML_SYSTEM_NVML_VERSION_BUFFER_SIZE`.
const VERSION_BUFFER: c_uint = 80;
/// `NVML_DEVICE_NAME_V2_BUFFER_SIZE` and `NVML_DEVICE_UUID_V2_BUFFER_SIZE`.
const DEVICE_STRING_BUFFER: c_uint = 96;

/// `nvmlPciInfo_t` (`nvml.h`): 68 bytes, the layout of `nvmlDeviceGetPciInfo_v2`/`_v3`. The
/// older v1 struct is 52 bytes with the bus id in the first 16, so v1 also fits in it.
#[repr(C)]
struct PciInfoRaw {
    bus_id_legacy: [u8; 16],
    domain: c_uint,
    bus: c_uint,
    device: c_uint,
    pci_device_id: c_uint,
    pci_subsystem_id: c_uint,
    bus_id: [u8; 32],
}

/// `nvmlMemory_t` (`nvml.h`), the v1 struct.
#[repr(C)]
struct MemoryRaw {
    total: u64,
    free: u64,
    used: u64,
}

/// Why a query gave no value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// NVML returned this `nvmlReturn_t`, with `nvmlErrorString`'s text when available.
    Nvml { value: u32, message: Option<String> },
    /// libcuda returned this `CUresult`, with `cuGetErrorName`/`cuGetErrorString`.
    Cuda {
        value: i32,
        name: Option<String>,
        message: Option<String>,
    },
    /// The library does not export the symbol (an older NVML, or not NVML at all).
    Missing(&'static str),
}

/// An open shared library. Never closed: the shim exits right after using it.
struct Library {
    handle: NonNull<c_void>,
}

impl Library {
    /// `dlopen(name, RTLD_NOW | RTLD_LOCAL)` through the normal loader search
    /// (`LD_LIBRARY_PATH`, the ld.so cache, `/usr/lib/wsl/lib` where ld.so.conf lists it).
    fn open(name: &CStr) -> Result<Self, String> {
        // SAFETY: `name` is NUL-terminated and outlives the call. Loading runs the library's
        // constructors; running that foreign code is the purpose of this process.
        let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        match NonNull::new(handle) {
            Some(handle) => Ok(Self { handle }),
            None => Err(last_dl_error().unwrap_or_else(|| "dlopen failed".to_owned())),
        }
    }

    /// `dlsym(handle, name)`.
    fn symbol(&self, name: &CStr) -> Option<NonNull<c_void>> {
        // SAFETY: `handle` came from a successful dlopen and is never closed; `name` is
        // NUL-terminated.
        let sym = unsafe { libc::dlsym(self.handle.as_ptr(), name.as_ptr()) };
        NonNull::new(sym)
    }

    /// The path of the file the loader picked, from `dlinfo(RTLD_DI_LINKMAP)`: which copy of
    /// the library was loaded (a stub earlier on the search path shadows the real one).
    #[cfg(target_env = "gnu")]
    fn path(&self) -> Option<String> {
        let mut map: *const LinkMap = ptr::null();
        // SAFETY: `handle` came from a successful dlopen; RTLD_DI_LINKMAP stores a
        // `struct link_map *` into the pointer slot it is given, and `map` is such a slot.
        let r = unsafe {
            libc::dlinfo(
                self.handle.as_ptr(),
                libc::RTLD_DI_LINKMAP,
                (&raw mut map).cast::<c_void>(),
            )
        };
        if r != 0 || map.is_null() {
            return None;
        }
        // SAFETY: `map` is non-null and points to the loader's live link_map for this object
        // (never unloaded); `LinkMap` mirrors the leading fields of `struct link_map`.
        let name = unsafe { (*map).l_name };
        copy_c_string(name).filter(|s| !s.is_empty())
    }

    /// Only glibc has `dlinfo`; the shim is meant for glibc (a build for another C library
    /// compiles, for `cargo check --workspace --target …-musl`, but reports no path).
    #[cfg(not(target_env = "gnu"))]
    #[expect(clippy::unused_self, reason = "same signature as the glibc version")]
    fn path(&self) -> Option<String> {
        None
    }
}

#[cfg(target_env = "gnu")]
/// The leading, public fields of glibc's `struct link_map` (`<link.h>`); only read, never
/// created or moved.
#[repr(C)]
struct LinkMap {
    l_addr: usize,
    l_name: *const c_char,
}

/// Copies a C string the loader or a library returned; `None` for null.
fn copy_c_string(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is non-null and, per the contract of the function that returned it
    // (dlerror, dlinfo's link_map, nvmlErrorString, cuGetError*), points to a NUL-terminated string that
    // stays valid until the next such call; it is copied before any other call.
    let s = unsafe { CStr::from_ptr(p) };
    Some(s.to_string_lossy().into_owned())
}

/// The loader's last error message, if any.
fn last_dl_error() -> Option<String> {
    // SAFETY: dlerror takes no arguments; the shim is single-threaded.
    let p = unsafe { libc::dlerror() };
    copy_c_string(p)
}

/// Text of a NUL-terminated buffer the library filled.
fn buffer_string(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Declares a table of optional function pointers and its loader. Each entry pairs a symbol
/// name with its C prototype from the vendor header; this pairing is what makes the transmute
/// in `load` sound, so it must be copied from the header exactly.
macro_rules! fn_table {
    ($table:ident { $( $field:ident = $sym:literal : fn($($arg:ty),*) -> $ret:ty; )* }) => {
        struct $table {
            $( $field: Option<unsafe extern "C" fn($($arg),*) -> $ret>, )*
        }

        impl $table {
            /// Resolves every symbol; names not exported are appended to `missing`.
            fn load(lib: &Library, missing: &mut Vec<&'static str>) -> Self {
                Self {
                    $( $field: match lib.symbol($sym) {
                        Some(p) => {
                            // SAFETY: `p` is the address of the function the library exports
                            // as this name, and the type is that function's prototype in the
                            // vendor header (see the table). A data pointer and a function
                            // pointer have the same size on this target.
                            let f = unsafe {
                                std::mem::transmute::<
                                    *mut c_void,
                                    unsafe extern "C" fn($($arg),*) -> $ret,
                                >(p.as_ptr())
                            };
                            Some(f)
                        }
                        None => {
                            missing.push($sym.to_str().unwrap_or("?"));
                            None
                        }
                    }, )*
                }
            }
        }
    };
}

fn_table!(NvmlFns {
    init_v2 = c"nvmlInit_v2": fn() -> Ret;
    init_v1 = c"nvmlInit": fn() -> Ret;
    shutdown = c"nvmlShutdown": fn() -> Ret;
    error_string = c"nvmlErrorString": fn(Ret) -> *const c_char;
    driver_version = c"nvmlSystemGetDriverVersion": fn(*mut c_char, c_uint) -> Ret;
    nvml_version = c"nvmlSystemGetNVMLVersion": fn(*mut c_char, c_uint) -> Ret;
    cuda_version_v2 = c"nvmlSystemGetCudaDriverVersion_v2": fn(*mut c_int) -> Ret;
    cuda_version_v1 = c"nvmlSystemGetCudaDriverVersion": fn(*mut c_int) -> Ret;
    count_v2 = c"nvmlDeviceGetCount_v2": fn(*mut c_uint) -> Ret;
    count_v1 = c"nvmlDeviceGetCount": fn(*mut c_uint) -> Ret;
    handle_v2 = c"nvmlDeviceGetHandleByIndex_v2": fn(c_uint, *mut RawDevice) -> Ret;
    handle_v1 = c"nvmlDeviceGetHandleByIndex": fn(c_uint, *mut RawDevice) -> Ret;
    pci_v3 = c"nvmlDeviceGetPciInfo_v3": fn(RawDevice, *mut PciInfoRaw) -> Ret;
    pci_v2 = c"nvmlDeviceGetPciInfo_v2": fn(RawDevice, *mut PciInfoRaw) -> Ret;
    pci_v1 = c"nvmlDeviceGetPciInfo": fn(RawDevice, *mut PciInfoRaw) -> Ret;
    name = c"nvmlDeviceGetName": fn(RawDevice, *mut c_char, c_uint) -> Ret;
    uuid = c"nvmlDeviceGetUUID": fn(RawDevice, *mut c_char, c_uint) -> Ret;
    compute_capability = c"nvmlDeviceGetCudaComputeCapability":
        fn(RawDevice, *mut c_int, *mut c_int) -> Ret;
    memory = c"nvmlDeviceGetMemoryInfo": fn(RawDevice, *mut MemoryRaw) -> Ret;
    brand = c"nvmlDeviceGetBrand": fn(RawDevice, *mut c_uint) -> Ret;
    mig_mode = c"nvmlDeviceGetMigMode": fn(RawDevice, *mut c_uint, *mut c_uint) -> Ret;
});

fn_table!(CudaFns {
    driver_get_version = c"cuDriverGetVersion": fn(*mut c_int) -> CuResult;
    get_error_name = c"cuGetErrorName": fn(CuResult, *mut *const c_char) -> CuResult;
    get_error_string = c"cuGetErrorString": fn(CuResult, *mut *const c_char) -> CuResult;
});

/// A device handle from NVML; opaque, valid until `nvmlShutdown`.
#[derive(Clone, Copy)]
pub(crate) struct Device(RawDevice);

/// PCI identity of one GPU as NVML reports it.
pub(crate) struct PciInfo {
    /// NVML's bus id string (`00000000:3B:00.0`), or one built from the numbers when empty.
    pub(crate) bus_id: String,
    /// `pciDeviceId`: `(device << 16) | vendor`.
    pub(crate) device_vendor: u32,
    /// `pciSubSystemId`: `(subsystem device << 16) | subsystem vendor`.
    pub(crate) subsystem: u32,
}

/// A loaded NVML.
pub(crate) struct Nvml {
    f: NvmlFns,
    /// Symbols looked up that the library does not export.
    pub(crate) missing: Vec<&'static str>,
    /// The file the loader picked.
    pub(crate) path: Option<String>,
}

impl Nvml {
    /// Loads NVML by soname (or path) and resolves its symbols. `Err` is the loader's message.
    pub(crate) fn load(name: &CStr) -> Result<Self, String> {
        let lib = Library::open(name)?;
        let mut missing = Vec::new();
        let f = NvmlFns::load(&lib, &mut missing);
        let path = lib.path();
        Ok(Self { f, missing, path })
    }

    fn fail(&self, ret: Ret) -> Failure {
        let message = self.f.error_string.and_then(|f| {
            // SAFETY: nvmlErrorString(nvmlReturn_t) -> const char*, callable before init.
            let p = unsafe { f(ret) };
            copy_c_string(p)
        });
        Failure::Nvml {
            value: ret,
            message,
        }
    }

    fn check(&self, ret: Ret) -> Result<(), Failure> {
        if ret == NVML_SUCCESS {
            Ok(())
        } else {
            Err(self.fail(ret))
        }
    }

    /// `nvmlInit_v2`, else `nvmlInit`; returns the name of the function used.
    pub(crate) fn init(&self) -> Result<&'static str, Failure> {
        let (f, name) = match (self.f.init_v2, self.f.init_v1) {
            (Some(f), _) => (f, "nvmlInit_v2"),
            (None, Some(f)) => (f, "nvmlInit"),
            (None, None) => return Err(Failure::Missing("nvmlInit_v2")),
        };
        // SAFETY: nvmlInit_v2/nvmlInit take no arguments.
        let ret = unsafe { f() };
        self.check(ret).map(|()| name)
    }

    /// `nvmlShutdown`; its result does not matter to the shim.
    pub(crate) fn shutdown(&self) {
        if let Some(f) = self.f.shutdown {
            // SAFETY: nvmlShutdown takes no arguments; called once, after the last query.
            let _ = unsafe { f() };
        }
    }

    fn version_string(
        &self,
        f: Option<unsafe extern "C" fn(*mut c_char, c_uint) -> Ret>,
        symbol: &'static str,
    ) -> Result<String, Failure> {
        let f = f.ok_or(Failure::Missing(symbol))?;
        let mut buf = [0u8; VERSION_BUFFER as usize];
        // SAFETY: `buf` is writable for VERSION_BUFFER bytes, the length passed.
        let ret = unsafe { f(buf.as_mut_ptr().cast::<c_char>(), VERSION_BUFFER) };
        self.check(ret)?;
        Ok(buffer_string(&buf))
    }

    /// `nvmlSystemGetDriverVersion`: the kernel-mode driver version.
    pub(crate) fn driver_version(&self) -> Result<String, Failure> {
        self.version_string(self.f.driver_version, "nvmlSystemGetDriverVersion")
    }

    /// `nvmlSystemGetNVMLVersion`.
    pub(crate) fn nvml_version(&self) -> Result<String, Failure> {
        self.version_string(self.f.nvml_version, "nvmlSystemGetNVMLVersion")
    }

    /// `nvmlSystemGetCudaDriverVersion_v2` (from libcuda), else the v1 call (which falls back
    /// to a version built into NVML). Returns the raw number (`13000`).
    pub(crate) fn cuda_driver_version(&self) -> Result<i32, Failure> {
        let f = self
            .f
            .cuda_version_v2
            .or(self.f.cuda_version_v1)
            .ok_or(Failure::Missing("nvmlSystemGetCudaDriverVersion_v2"))?;
        let mut v: c_int = 0;
        // SAFETY: `v` is a valid, writable int.
        let ret = unsafe { f(&raw mut v) };
        self.check(ret).map(|()| v)
    }

    /// `nvmlDeviceGetCount_v2`, else `nvmlDeviceGetCount`.
    pub(crate) fn device_count(&self) -> Result<u32, Failure> {
        let f = self
            .f
            .count_v2
            .or(self.f.count_v1)
            .ok_or(Failure::Missing("nvmlDeviceGetCount_v2"))?;
        let mut n: c_uint = 0;
        // SAFETY: `n` is a valid, writable unsigned int.
        let ret = unsafe { f(&raw mut n) };
        self.check(ret).map(|()| n)
    }

    /// `nvmlDeviceGetHandleByIndex_v2`, else the v1 call.
    pub(crate) fn device(&self, index: u32) -> Result<Device, Failure> {
        let f = self
            .f
            .handle_v2
            .or(self.f.handle_v1)
            .ok_or(Failure::Missing("nvmlDeviceGetHandleByIndex_v2"))?;
        let mut raw: RawDevice = ptr::null_mut();
        // SAFETY: `raw` is a valid, writable nvmlDevice_t.
        let ret = unsafe { f(index, &raw mut raw) };
        self.check(ret).map(|()| Device(raw))
    }

    /// `nvmlDeviceGetPciInfo_v3`, else `_v2`, else v1.
    pub(crate) fn pci_info(&self, d: Device) -> Result<PciInfo, Failure> {
        let (f, v3) = match (self.f.pci_v3, self.f.pci_v2, self.f.pci_v1) {
            (Some(f), _, _) => (f, true),
            (None, Some(f), _) | (None, None, Some(f)) => (f, false),
            (None, None, None) => return Err(Failure::Missing("nvmlDeviceGetPciInfo_v3")),
        };
        let mut raw = PciInfoRaw {
            bus_id_legacy: [0; 16],
            domain: 0,
            bus: 0,
            device: 0,
            pci_device_id: 0,
            pci_subsystem_id: 0,
            bus_id: [0; 32],
        };
        // SAFETY: `d` is a handle from this NVML; `raw` is a writable nvmlPciInfo_t (68 bytes,
        // large enough for every version of the call).
        let ret = unsafe { f(d.0, &raw mut raw) };
        self.check(ret)?;
        // v3 fills the 32-byte `busId`. v1/v2 write a 16-byte legacy text and may leave
        // reserved words where v3 has `busId`: the id is built from the numbers then.
        let text = if v3 {
            buffer_string(&raw.bus_id)
        } else {
            String::new()
        };
        let bus_id = if text.is_empty() {
            format!("{:08X}:{:02X}:{:02X}.0", raw.domain, raw.bus, raw.device)
        } else {
            text
        };
        Ok(PciInfo {
            bus_id,
            device_vendor: raw.pci_device_id,
            subsystem: raw.pci_subsystem_id,
        })
    }

    fn device_string(
        &self,
        d: Device,
        f: Option<unsafe extern "C" fn(RawDevice, *mut c_char, c_uint) -> Ret>,
        symbol: &'static str,
    ) -> Result<String, Failure> {
        let f = f.ok_or(Failure::Missing(symbol))?;
        let mut buf = [0u8; DEVICE_STRING_BUFFER as usize];
        // SAFETY: `d` is a handle from this NVML; `buf` is writable for the length passed.
        let ret = unsafe { f(d.0, buf.as_mut_ptr().cast::<c_char>(), DEVICE_STRING_BUFFER) };
        self.check(ret)?;
        Ok(buffer_string(&buf))
    }

    /// `nvmlDeviceGetName`.
    pub(crate) fn name(&self, d: Device) -> Result<String, Failure> {
        self.device_string(d, self.f.name, "nvmlDeviceGetName")
    }

    /// `nvmlDeviceGetUUID`.
    pub(crate) fn uuid(&self, d: Device) -> Result<String, Failure> {
        self.device_string(d, self.f.uuid, "nvmlDeviceGetUUID")
    }

    /// `nvmlDeviceGetCudaComputeCapability`: `(major, minor)`.
    pub(crate) fn compute_capability(&self, d: Device) -> Result<(i32, i32), Failure> {
        let f = self
            .f
            .compute_capability
            .ok_or(Failure::Missing("nvmlDeviceGetCudaComputeCapability"))?;
        let (mut major, mut minor): (c_int, c_int) = (0, 0);
        // SAFETY: `d` is a handle from this NVML; both out-pointers are writable ints.
        let ret = unsafe { f(d.0, &raw mut major, &raw mut minor) };
        self.check(ret).map(|()| (major, minor))
    }

    /// `nvmlDeviceGetMemoryInfo`: total framebuffer bytes.
    pub(crate) fn memory_total(&self, d: Device) -> Result<u64, Failure> {
        let f = self
            .f
            .memory
            .ok_or(Failure::Missing("nvmlDeviceGetMemoryInfo"))?;
        let mut m = MemoryRaw {
            total: 0,
            free: 0,
            used: 0,
        };
        // SAFETY: `d` is a handle from this NVML; `m` is a writable nvmlMemory_t.
        let ret = unsafe { f(d.0, &raw mut m) };
        self.check(ret).map(|()| m.total)
    }

    /// `nvmlDeviceGetBrand`: the raw `nvmlBrandType_t`.
    pub(crate) fn brand(&self, d: Device) -> Result<u32, Failure> {
        let f = self.f.brand.ok_or(Failure::Missing("nvmlDeviceGetBrand"))?;
        let mut b: c_uint = 0;
        // SAFETY: `d` is a handle from this NVML; `b` is a writable unsigned int.
        let ret = unsafe { f(d.0, &raw mut b) };
        self.check(ret).map(|()| b)
    }

    /// `nvmlDeviceGetMigMode`: `(current, pending)`, 1 = enabled.
    pub(crate) fn mig_mode(&self, d: Device) -> Result<(u32, u32), Failure> {
        let f = self
            .f
            .mig_mode
            .ok_or(Failure::Missing("nvmlDeviceGetMigMode"))?;
        let (mut current, mut pending): (c_uint, c_uint) = (0, 0);
        // SAFETY: `d` is a handle from this NVML; both out-pointers are writable unsigned ints.
        let ret = unsafe { f(d.0, &raw mut current, &raw mut pending) };
        self.check(ret).map(|()| (current, pending))
    }
}

/// What `libcuda.so.1` said.
pub(crate) struct CudaDriver {
    /// The file the loader picked.
    pub(crate) path: Option<String>,
    /// `cuDriverGetVersion`'s number (`13000`).
    pub(crate) version: Result<i32, Failure>,
}

/// Loads libcuda and calls `cuDriverGetVersion` (which needs no `cuInit` and wakes no GPU).
/// `Err` is the loader's message.
pub(crate) fn cuda_driver(name: &CStr) -> Result<CudaDriver, String> {
    let lib = Library::open(name)?;
    let mut missing = Vec::new();
    let f = CudaFns::load(&lib, &mut missing);
    let path = lib.path();
    let version = match f.driver_get_version {
        None => Err(Failure::Missing("cuDriverGetVersion")),
        Some(get) => {
            let mut v: c_int = 0;
            // SAFETY: `v` is a valid, writable int.
            let ret = unsafe { get(&raw mut v) };
            if ret == CUDA_SUCCESS {
                Ok(v)
            } else {
                Err(cuda_failure(&f, ret))
            }
        }
    };
    Ok(CudaDriver { path, version })
}

fn cuda_failure(f: &CudaFns, ret: CuResult) -> Failure {
    let text = |g: Option<unsafe extern "C" fn(CuResult, *mut *const c_char) -> CuResult>| {
        let g = g?;
        let mut p: *const c_char = ptr::null();
        // SAFETY: `p` is a writable pointer slot; libcuda stores a pointer to a static string.
        let r = unsafe { g(ret, &raw mut p) };
        if r == CUDA_SUCCESS {
            copy_c_string(p)
        } else {
            None
        }
    };
    Failure::Cuda {
        value: ret,
        name: text(f.get_error_name),
        message: text(f.get_error_string),
    }
}

/// Points fd 1 at fd 2, so text a library prints to stdout cannot corrupt the JSON (the shim
/// writes its answer to a duplicate of the original stdout taken before). Returns false when
/// `dup2` failed.
pub(crate) fn stdout_to_stderr() -> bool {
    // SAFETY: dup2 on two descriptor numbers has no memory-safety preconditions; fd 1 is
    // replaced, and nothing in the shim writes through `std::io::stdout` afterwards.
    let r = unsafe { libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO) };
    r >= 0
}

/// Arms `alarm(seconds)`: if the shim outlives its parent's deadline (a parent killed before
/// it could kill the shim, and an NVML that hangs), the default SIGALRM action ends it.
pub(crate) fn arm_alarm(seconds: u32) {
    // SAFETY: alarm has no memory-safety preconditions.
    let _ = unsafe { libc::alarm(seconds) };
}
