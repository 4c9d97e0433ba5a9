//! The probe's self-sandbox: `no_new_privs`, a Landlock ruleset and a seccomp-BPF allow-list,
//! applied by the binary before it probes (`--no-sandbox` turns it off).
//!
//! The three layers, each applied only when the kernel has it, in this order:
//! 1. `prctl(PR_SET_NO_NEW_PRIVS)`: no setuid/file-capability gain through `execve` (and the
//!    precondition of the other two for an unprivileged process).
//! 2. Landlock (ABI probed with `landlock_create_ruleset(NULL, 0, VERSION)`): every
//!    filesystem right the kernel knows is handled, and granted back only as [`Policy`] says:
//!    read beneath `/proc`, `/sys`, `/dev`, `/etc`, `/usr`, `/lib*`, `/opt`, `/run`, `/var` (or
//!    beneath the `--root` directory), read-write-ioctl on the NVIDIA device nodes, execute of
//!    the shim (and of the dynamic loader) with `--cross-check`, and write beneath
//!    `labels --output`'s directory (the dot file and its rename). From ABI 4 TCP bind/connect are handled and never granted.
//! 3. seccomp (`x86_64`): a hand-assembled BPF program ([`filter`]) that allows the syscalls the
//!    static binary was measured to make (`strace -f` over fixtures and the host), allows
//!    `ioctl` only with the request numbers the probe issues ([`super::ISSUED_REQUESTS`]), and
//!    answers everything else with `EPERM`, which a reporting tool survives better than a kill.
//!    With `--cross-check` the filter is not installed: it would be inherited by the glibc shim
//!    and NVML, whose syscalls and ioctls are not the probe's.
//!
//! Landlock and seccomp apply to the calling thread and to the threads and processes it starts
//! later, so [`apply`] must run while the process has one thread (before the deadline watchdog).
//! A layer the kernel lacks (`ENOSYS`, `EOPNOTSUPP`) is left out and named in the `sandbox`
//! source; the probe runs on.
//!
//! # Safety
//! The unsafe code here is four kinds of system call through `libc`, each in its own block:
//! - `landlock_create_ruleset(attr, size, flags)`: `attr` is null (version query) or points at
//!   a live [`RulesetAttr`] whose size is passed; the kernel only reads it. The returned fd is
//!   owned at once by an `OwnedFd`, which closes it.
//! - `landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, attr, 0)`: `attr` points at a live
//!   packed [`PathBeneathAttr`] (the kernel's `struct landlock_path_beneath_attr`), read only;
//!   both fds are borrowed and open for the call.
//! - `landlock_restrict_self(ruleset, 0)`: an open ruleset fd; it changes only this thread's
//!   (and its future children's) access rights, no memory.
//! - `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)`: `prog` is a live `sock_fprog` whose
//!   `len` is the length of the live instruction slice it points at; the kernel copies the
//!   program during the call.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::report::{Source, SourceStatus};
use crate::root::Root;

/// The name of the source the sandbox reports as.
pub const SOURCE: &str = "sandbox";

/// What the probe may touch once sandboxed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Directories (or files) the probe may read beneath.
    pub read: Vec<PathBuf>,
    /// Device nodes (or directories of them) the probe may open read-write and send ioctls to.
    pub devices: Vec<PathBuf>,
    /// Files or directories beneath which files may be executed (the shim, the dynamic loader).
    pub exec: Vec<PathBuf>,
    /// Directories beneath which files may be created and written (`capture --out`).
    pub write: Vec<PathBuf>,
    /// A child process (the shim) will run under the sandbox: no seccomp filter then.
    pub spawns_children: bool,
}

/// The host directories the probe reads from (design: "every absolute path the probe reads").
pub const HOST_READ: &[&str] = &[
    "/proc", "/sys", "/dev", "/etc", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/run",
    "/var",
];

/// Directories that hold the dynamic loader and libraries a glibc child (the shim) needs to
/// be executable, and the shells a wrapper script for the shim would start.
const EXEC_LIB_DIRS: &[&str] = &[
    "/usr/lib",
    "/usr/lib64",
    "/lib",
    "/lib64",
    "/usr/local",
    "/usr/bin",
    "/bin",
];

impl Policy {
    /// The policy of a probe run over `root`: read beneath its directories, plus the
    /// environment's library and Python directories on the host (`VIRTUAL_ENV`,
    /// `CONDA_PREFIX`, `CUDA_HOME`, `CUDA_PATH`, `$HOME/.local`, `LD_LIBRARY_PATH`), which the
    /// library inventory reads; read-write-ioctl on `dev/nvidia*` and `dev/dxg`; and with
    /// `shim` (the cross-check) execute of the shim and of the host's library directories.
    pub fn for_run(root: &Root, env: &crate::Env, shim: Option<&Path>) -> Self {
        let mut p = Self::default();
        if !root.is_host() {
            p.read.push(root.base().to_path_buf());
        }
        // The shim runs on the host even under `--root`, and inherits the ruleset: it needs the
        // host's libraries (and `LD_LIBRARY_PATH`), `/proc`, `/sys` and `/dev` like the probe.
        if root.is_host() || shim.is_some() {
            p.read.extend(HOST_READ.iter().map(PathBuf::from));
            for var in ["VIRTUAL_ENV", "CONDA_PREFIX", "CUDA_HOME", "CUDA_PATH"] {
                if let Some(v) = env.get(var).filter(|v| v.starts_with('/')) {
                    p.read.push(PathBuf::from(v));
                }
            }
            if let Some(home) = env.get("HOME").filter(|h| h.starts_with('/')) {
                p.read.push(Path::new(home).join(".local"));
            }
            if let Some(paths) = env.get("LD_LIBRARY_PATH") {
                p.read.extend(
                    paths
                        .split(':')
                        .filter(|d| d.starts_with('/'))
                        .take(64)
                        .map(PathBuf::from),
                );
            }
        }
        p.devices = nvidia_nodes(&root.base().join("dev"));
        // `Stdio::null()` for a child opens it for writing; writing there changes nothing.
        p.devices.push(PathBuf::from("/dev/null"));
        if let Some(shim) = shim {
            if !root.is_host() {
                p.devices.extend(nvidia_nodes(Path::new("/dev")));
            }
            p.spawns_children = true;
            p.exec.push(shim.to_path_buf());
            p.exec.extend(EXEC_LIB_DIRS.iter().map(PathBuf::from));
        }
        p
    }
}

/// The NVIDIA device nodes in `dev` (`nvidiactl`, `nvidia0`, `nvidia-uvm`, `nvidia-caps/`, …)
/// and `dxg`: the entries the probe (and NVML) may open read-write. A regular file there (a
/// fixture's stand-in for a node, which the probe only reads) gets no rule: each rule costs
/// four system calls, and a fixture's files are already readable beneath its root.
///
/// The listing is `getdents64` into a buffer on the stack (`std::fs::read_dir` would add
/// musl's `opendir`: an `fcntl`, and an 8 KiB block mapped and unmapped for each listing).
fn nvidia_nodes(dev: &Path) -> Vec<PathBuf> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let Ok(fd) = rustix::fs::open(dev, flags, Mode::empty()) else {
        return Vec::new();
    };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(&fd, &mut buf);
    let mut nodes = Vec::new();
    let mut seen = 0;
    while let Some(Ok(entry)) = dir.next() {
        seen += 1;
        if seen > crate::root::DEVICE_DIR_LIMIT || nodes.len() >= 256 {
            break;
        }
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if !(bytes.starts_with(b"nvidia") || bytes == b"dxg") {
            continue;
        }
        // A filesystem that gives no type in the listing is asked (the link itself).
        let regular = match entry.file_type() {
            FileType::Unknown => {
                rustix::fs::statat(&fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
            }
            t => t == FileType::RegularFile,
        };
        if !regular {
            nodes.push(dev.join(std::ffi::OsStr::from_bytes(bytes)));
        }
    }
    nodes.sort();
    nodes
}

/// Applies the sandbox to this process (call it while the process has one thread) and returns
/// the `sandbox` source: `ok` with what was applied, `skipped` when the kernel had none of the
/// layers, `failed` when a layer it has refused us.
pub fn apply(policy: &Policy) -> Source {
    let mut applied = Vec::new();
    let mut missing = Vec::new();
    let mut failed = Vec::new();
    match rustix::thread::set_no_new_privs(true) {
        Ok(()) => applied.push("no_new_privs".to_owned()),
        Err(e) => failed.push(format!("no_new_privs: {}", errno_text(e))),
    }
    match landlock(policy) {
        Ok(what) => applied.push(what),
        Err(Layer::Missing(why)) => missing.push(why),
        Err(Layer::Failed(why)) => failed.push(why),
    }
    if policy.spawns_children {
        missing.push("seccomp not installed: --cross-check runs the NVML shim under it".to_owned());
    } else {
        match seccomp() {
            Ok(what) => applied.push(what),
            Err(Layer::Missing(why)) => missing.push(why),
            Err(Layer::Failed(why)) => failed.push(why),
        }
    }
    let status = if !failed.is_empty() {
        SourceStatus::Failed
    } else if applied.len() > 1 {
        SourceStatus::Ok
    } else {
        SourceStatus::Skipped
    };
    let detail = applied
        .into_iter()
        .chain(missing)
        .chain(failed)
        .collect::<Vec<_>>()
        .join("; ");
    Source::new(SOURCE, status, detail)
}

/// The `sandbox` source of a run with `--no-sandbox`.
pub fn turned_off() -> Source {
    Source::new(SOURCE, SourceStatus::Skipped, "turned off by --no-sandbox")
}

/// Why a layer was not applied.
#[derive(Debug)]
enum Layer {
    /// The kernel does not have it.
    Missing(String),
    /// The kernel has it but refused.
    Failed(String),
}

fn errno_text(e: Errno) -> String {
    crate::ioctl::errno_name(e)
}

// ---- Landlock ---------------------------------------------------------------------------------

const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: libc::c_long = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SYM: u64 = 1 << 12;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
/// The rights that apply to a file (not only to a directory).
const FS_FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;

const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;

/// Every filesystem right Landlock ABI `abi` knows: 13 in ABI 1, `REFER` from 2, `TRUNCATE`
/// from 3, `IOCTL_DEV` from 5.
pub fn fs_rights(abi: u32) -> u64 {
    match abi {
        0 => 0,
        1 => (1 << 13) - 1,
        2 => (1 << 14) - 1,
        3 | 4 => (1 << 15) - 1,
        _ => (1 << 16) - 1,
    }
}

/// `struct landlock_ruleset_attr` (ABI 6 size; the kernel accepts a longer struct when the
/// fields it does not know are zero).
#[repr(C)]
#[derive(Debug, Default)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed: 12 bytes).
#[repr(C, packed)]
#[derive(Debug)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

fn last_errno() -> Errno {
    Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO)
}

fn landlock_abi() -> Result<u32, Errno> {
    // SAFETY: the version query: a null attr with size 0 and the VERSION flag; the kernel reads
    // no memory and returns a number, not an fd.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0_usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(u32::try_from(r).unwrap_or(u32::MAX))
    }
}

/// The rights a policy grants, as `(path, rights)` rules, before masking to the ABI.
pub fn landlock_rules(policy: &Policy) -> Vec<(PathBuf, u64)> {
    let read = FS_READ_FILE | FS_READ_DIR;
    let mut rules: Vec<(PathBuf, u64)> = Vec::new();
    rules.extend(policy.read.iter().map(|p| (p.clone(), read)));
    rules.extend(
        policy
            .devices
            .iter()
            .map(|p| (p.clone(), read | FS_WRITE_FILE | FS_IOCTL_DEV)),
    );
    rules.extend(policy.exec.iter().map(|p| (p.clone(), FS_EXECUTE | read)));
    rules.extend(policy.write.iter().map(|p| {
        (
            p.clone(),
            read | FS_WRITE_FILE
                | FS_MAKE_REG
                | FS_MAKE_DIR
                | FS_MAKE_SYM
                | FS_TRUNCATE
                | FS_REMOVE_FILE,
        )
    }));
    rules
}

fn landlock(policy: &Policy) -> Result<String, Layer> {
    let abi = match landlock_abi() {
        Ok(abi) => abi,
        Err(Errno::NOSYS) => {
            return Err(Layer::Missing(
                "Landlock not supported by this kernel (ENOSYS)".to_owned(),
            ));
        }
        Err(Errno::OPNOTSUPP) => {
            return Err(Layer::Missing(
                "Landlock disabled on this kernel (EOPNOTSUPP: not in the lsm= list)".to_owned(),
            ));
        }
        Err(e) => {
            return Err(Layer::Failed(format!(
                "Landlock version query failed: {}",
                errno_text(e)
            )));
        }
    };
    let handled = fs_rights(abi);
    let attr = RulesetAttr {
        handled_access_fs: handled,
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: 0,
    };
    // SAFETY: `attr` is a live `RulesetAttr` and its size is passed; the kernel only reads it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &raw const attr,
            size_of::<RulesetAttr>(),
            0_u32,
        )
    };
    if fd < 0 {
        return Err(Layer::Failed(format!(
            "Landlock ruleset refused: {}",
            errno_text(last_errno())
        )));
    }
    let Ok(fd) = i32::try_from(fd) else {
        return Err(Layer::Failed("Landlock returned an odd fd".to_owned()));
    };
    // SAFETY: `fd` was just returned by `landlock_create_ruleset` and is owned by nobody else.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut granted = 0_usize;
    for (path, rights) in landlock_rules(policy) {
        let Ok(dir) = rustix::fs::open(&path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()) else {
            // Missing (no /lib32 here): nothing beneath it to grant.
            continue;
        };
        let is_dir = rustix::fs::fstat(&dir)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        let mut allowed = rights & handled;
        if !is_dir {
            allowed &= FS_FILE_RIGHTS;
        }
        if allowed == 0 {
            continue;
        }
        let rule = PathBeneathAttr {
            allowed_access: allowed,
            parent_fd: dir.as_raw_fd(),
        };
        // SAFETY: `rule` is a live packed `landlock_path_beneath_attr`, read only by the
        // kernel; `ruleset` and `dir` are open fds borrowed for the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                LANDLOCK_RULE_PATH_BENEATH,
                &raw const rule,
                0_u32,
            )
        };
        if r < 0 {
            return Err(Layer::Failed(format!(
                "Landlock rule for {} refused: {}",
                path.display(),
                errno_text(last_errno())
            )));
        }
        granted += 1;
    }
    // `restrict_self` needs no_new_privs (or CAP_SYS_ADMIN); `apply` set it first.
    // SAFETY: `ruleset` is an open Landlock ruleset fd; the call reads no memory.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0_u32) };
    if r < 0 {
        return Err(Layer::Failed(format!(
            "Landlock restrict_self refused: {}",
            errno_text(last_errno())
        )));
    }
    let mut what = format!("Landlock ABI {abi}: {granted} rule(s)");
    let writes: Vec<String> = policy
        .write
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if writes.is_empty() {
        what.push_str(", no writes");
    } else {
        what.push_str(", writes beneath ");
        what.push_str(&writes.join(" "));
    }
    if abi >= 4 {
        what.push_str(", no TCP");
    }
    Ok(what)
}

// ---- seccomp ---------------------------------------------------------------------------------

/// One classic-BPF instruction (`struct sock_filter`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// `code`: class, size, mode / operation, source.
    pub code: u16,
    /// `jt`: instructions to skip when the comparison holds.
    pub jt: u8,
    /// `jf`: instructions to skip when it does not.
    pub jf: u8,
    /// `k`: the operand.
    pub k: u32,
}

/// `BPF_LD | BPF_W | BPF_ABS`: load the 32-bit word at offset `k` of `seccomp_data`.
pub const LD_W_ABS: u16 = 0x20;
/// `BPF_LD | BPF_W | BPF_LEN`: load the length of `seccomp_data` (64). The filter opens with
/// it to turn off the kernel's allow-cache emulation (see [`filter`]).
pub const LD_W_LEN: u16 = 0x80;
/// `sizeof(struct seccomp_data)`, what [`LD_W_LEN`] loads.
pub const SECCOMP_DATA_LEN: u32 = 64;
/// `BPF_JMP | BPF_JEQ | BPF_K`.
pub const JEQ_K: u16 = 0x15;
/// `BPF_JMP | BPF_JGE | BPF_K`.
pub const JGE_K: u16 = 0x35;
/// `BPF_JMP | BPF_JGT | BPF_K`.
pub const JGT_K: u16 = 0x25;
/// `BPF_RET | BPF_K`.
pub const RET_K: u16 = 0x06;

/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ERRNO | EPERM`: what every syscall outside the list gets.
pub const RET_EPERM: u32 = 0x0005_0000 | 1;

/// `offsetof(struct seccomp_data, nr)`.
pub const OFF_NR: u32 = 0;
/// `offsetof(struct seccomp_data, arch)`.
pub const OFF_ARCH: u32 = 4;
/// `offsetof(struct seccomp_data, args[1])`, low 32 bits (little endian): the ioctl request,
/// which the kernel takes as an `unsigned int`.
pub const OFF_ARG1_LO: u32 = 16 + 8;
/// `__X32_SYSCALL_BIT`: x32 syscall numbers are refused outright.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// `AUDIT_ARCH_X86_64`.
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// Assembles the filter: `arch` must match, x32 numbers are refused, a syscall in `syscalls`
/// is allowed, `ioctl_nr` is allowed only with a request in `requests`, anything else gets
/// `EPERM`.
///
/// What a run pays for it, on every syscall and once at install:
/// - Every syscall runs the program (JIT-compiled), so each number is decided in a few
///   instructions: the ioctl test comes first; the other numbers, sorted and merged into runs,
///   go down a binary search on the runs' starts to a leaf of at most [`LEAF_RUNS`] runs, each
///   tested with one `jeq` or a `jge`/`jgt` pair. A match jumps forward to one shared
///   `ret ALLOW`; a leaf that matches nothing ends in `ret EPERM`. Every number is decided
///   within 18 instructions (the linear form before it: up to ~55).
/// - At install the kernel would emulate the program for every syscall number of both x86
///   ABIs (~900 runs, with interrupts off), to learn which numbers it allows whatever the
///   arguments and let those skip the filter later. The emulator gives up on its first
///   instruction it does not know and caches nothing; the program opens with one
///   ([`LD_W_LEN`], loading a constant nobody reads), so that work is skipped. Measured with
///   fork + install + 380 `fstat` calls (median of 2,000): install ~105 -> ~71 µs, the calls
///   ~139 -> ~150 µs, ~23 µs saved per run; a run makes ~400 syscalls after the install.
pub fn filter(arch: u32, syscalls: &[u32], ioctl_nr: u32, requests: &[u32]) -> Vec<Insn> {
    let mut nrs: Vec<u32> = syscalls
        .iter()
        .copied()
        .filter(|&n| n != ioctl_nr)
        .collect();
    nrs.sort_unstable();
    nrs.dedup();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for n in nrs {
        match runs.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(n) => *hi = n,
            _ => runs.push((n, n)),
        }
    }
    let mut reqs: Vec<u32> = requests.to_vec();
    reqs.sort_unstable();
    reqs.dedup();
    // Forward jumps to the shared `ret ALLOW` are patched once its position is known.
    let mut p = vec![
        insn(LD_W_LEN, 0, 0, 0),
        insn(LD_W_ABS, 0, 0, OFF_ARCH),
        insn(JEQ_K, 1, 0, arch),
        insn(RET_K, 0, 0, RET_EPERM),
        insn(LD_W_ABS, 0, 0, OFF_NR),
        insn(JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(RET_K, 0, 0, RET_EPERM),
    ];
    // (index, true = patch `jt`, false = patch `jf`) of every jump to ALLOW.
    let mut to_allow: Vec<(usize, bool)> = Vec::new();
    // ioctl: its request decides; any other number skips the block with `nr` still loaded.
    p.push(insn(JEQ_K, 0, offset(0, reqs.len() + 3), ioctl_nr));
    p.push(insn(LD_W_ABS, 0, 0, OFF_ARG1_LO));
    for req in reqs {
        to_allow.push((p.len(), true));
        p.push(insn(JEQ_K, 0, 0, req));
    }
    p.push(insn(RET_K, 0, 0, RET_EPERM));
    search(&mut p, &runs, &mut to_allow);
    let allow = p.len();
    p.push(insn(RET_K, 0, 0, RET_ALLOW));
    for (at, jt) in to_allow {
        if let Some(j) = p.get_mut(at) {
            if jt {
                j.jt = offset(at, allow);
            } else {
                j.jf = offset(at, allow);
            }
        }
    }
    p
}

/// At most this many runs are tested one after another at a leaf of the search.
pub const LEAF_RUNS: usize = 3;

/// The jump offset from the instruction at `from` to the one at `to` (forward). Programs stay
/// far below 256 instructions (a test holds them to it), so the offset fits.
fn offset(from: usize, to: usize) -> u8 {
    u8::try_from(to.saturating_sub(from + 1)).unwrap_or(u8::MAX)
}

/// Appends the test of `nr` (in the accumulator) against `runs`: a `jge` on the middle run's
/// start splits them, down to leaves of at most [`LEAF_RUNS`] runs.
fn search(p: &mut Vec<Insn>, runs: &[(u32, u32)], to_allow: &mut Vec<(usize, bool)>) {
    if runs.len() <= LEAF_RUNS {
        for &(lo, hi) in runs {
            if lo == hi {
                to_allow.push((p.len(), true));
                p.push(insn(JEQ_K, 0, 0, lo));
            } else {
                // nr >= lo: test the top; else skip it. nr > hi: go on; else ALLOW.
                p.push(insn(JGE_K, 0, 1, lo));
                to_allow.push((p.len(), false));
                p.push(insn(JGT_K, 0, 0, hi));
            }
        }
        p.push(insn(RET_K, 0, 0, RET_EPERM));
        return;
    }
    let (low, high) = runs.split_at(runs.len() / 2);
    let Some(&(high_start, _)) = high.first() else {
        return; // not reached: `high` holds at least LEAF_RUNS runs
    };
    let split = p.len();
    p.push(insn(JGE_K, 0, 0, high_start));
    search(p, low, to_allow);
    let high_at = p.len();
    if let Some(j) = p.get_mut(split) {
        j.jt = offset(split, high_at);
    }
    search(p, high, to_allow);
}

/// The syscalls the static (musl) binary makes, measured with `strace -f` over every fixture
/// and over the host, with and without `--deep`, plus what the std runtime needs to spawn and
/// end the deadline watchdog and to report errors. `ioctl` is not here: it is filtered by
/// request number.
#[cfg(target_arch = "x86_64")]
pub const SYSCALLS: &[(&str, libc::c_long)] = &[
    // Files: bounded reads under Root, directory listings, device nodes.
    ("read", libc::SYS_read),
    ("pread64", libc::SYS_pread64),
    ("readv", libc::SYS_readv),
    ("write", libc::SYS_write),
    ("writev", libc::SYS_writev),
    ("open", libc::SYS_open),
    ("openat", libc::SYS_openat),
    ("openat2", libc::SYS_openat2),
    ("close", libc::SYS_close),
    ("fcntl", libc::SYS_fcntl),
    ("lseek", libc::SYS_lseek),
    ("stat", libc::SYS_stat),
    ("fstat", libc::SYS_fstat),
    ("lstat", libc::SYS_lstat),
    ("newfstatat", libc::SYS_newfstatat),
    ("statx", libc::SYS_statx),
    ("readlink", libc::SYS_readlink),
    ("readlinkat", libc::SYS_readlinkat),
    ("access", libc::SYS_access),
    ("faccessat", libc::SYS_faccessat),
    ("faccessat2", libc::SYS_faccessat2),
    ("getdents64", libc::SYS_getdents64),
    // `labels --output`: the rename of the finished file over the old one (Landlock allows
    // writes only beneath that file's directory).
    ("rename", libc::SYS_rename),
    ("renameat", libc::SYS_renameat),
    ("renameat2", libc::SYS_renameat2),
    ("getcwd", libc::SYS_getcwd),
    ("dup2", libc::SYS_dup2),
    ("dup3", libc::SYS_dup3),
    // Memory.
    ("brk", libc::SYS_brk),
    ("mmap", libc::SYS_mmap),
    ("munmap", libc::SYS_munmap),
    ("mremap", libc::SYS_mremap),
    ("mprotect", libc::SYS_mprotect),
    ("madvise", libc::SYS_madvise),
    // Threads: the deadline watchdog (and the library's worker), its stack guard.
    ("clone", libc::SYS_clone),
    ("clone3", libc::SYS_clone3),
    ("futex", libc::SYS_futex),
    ("set_tid_address", libc::SYS_set_tid_address),
    ("set_robust_list", libc::SYS_set_robust_list),
    ("rseq", libc::SYS_rseq),
    ("sched_yield", libc::SYS_sched_yield),
    ("sched_getaffinity", libc::SYS_sched_getaffinity),
    ("membarrier", libc::SYS_membarrier),
    ("nanosleep", libc::SYS_nanosleep),
    ("clock_nanosleep", libc::SYS_clock_nanosleep),
    ("clock_gettime", libc::SYS_clock_gettime),
    ("gettid", libc::SYS_gettid),
    ("getpid", libc::SYS_getpid),
    ("getuid", libc::SYS_getuid),
    ("geteuid", libc::SYS_geteuid),
    ("getgid", libc::SYS_getgid),
    ("getegid", libc::SYS_getegid),
    ("getrandom", libc::SYS_getrandom),
    ("uname", libc::SYS_uname),
    ("prctl", libc::SYS_prctl),
    ("poll", libc::SYS_poll),
    ("ppoll", libc::SYS_ppoll),
    // Signals and the end of the run.
    ("rt_sigaction", libc::SYS_rt_sigaction),
    ("rt_sigprocmask", libc::SYS_rt_sigprocmask),
    ("rt_sigreturn", libc::SYS_rt_sigreturn),
    ("sigaltstack", libc::SYS_sigaltstack),
    ("tkill", libc::SYS_tkill),
    ("tgkill", libc::SYS_tgkill),
    ("exit", libc::SYS_exit),
    ("exit_group", libc::SYS_exit_group),
];

/// The ioctl requests allowed through the filter: the probe's own.
pub fn ioctl_requests() -> &'static [u32] {
    super::ISSUED_REQUESTS
}

#[cfg(target_arch = "x86_64")]
fn seccomp() -> Result<String, Layer> {
    let syscalls: Vec<u32> = SYSCALLS
        .iter()
        .filter_map(|&(_, nr)| u32::try_from(nr).ok())
        .collect();
    let ioctl_nr = u32::try_from(libc::SYS_ioctl).unwrap_or(u32::MAX);
    let prog = filter(AUDIT_ARCH_X86_64, &syscalls, ioctl_nr, ioctl_requests());
    let Ok(len) = u16::try_from(prog.len()) else {
        return Err(Layer::Failed("seccomp filter too long".to_owned()));
    };
    let fprog = libc::sock_fprog {
        len,
        filter: prog.as_ptr().cast::<libc::sock_filter>().cast_mut(),
    };
    // SAFETY: `fprog` points at the live `prog` (`Insn` is `#[repr(C)]` with the layout of
    // `struct sock_filter`) and `len` is its length; the kernel copies the program during the
    // call. no_new_privs was set by `apply` first.
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const fprog,
            0_u64,
            0_u64,
        )
    };
    if r == 0 {
        return Ok(format!(
            "seccomp: {} syscalls, ioctl with {} request numbers, EPERM otherwise",
            syscalls.len(),
            ioctl_requests().len()
        ));
    }
    Err(match last_errno() {
        Errno::INVAL | Errno::NOSYS => {
            Layer::Missing("seccomp filters not supported by this kernel".to_owned())
        }
        e => Layer::Failed(format!("seccomp filter refused: {}", errno_text(e))),
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn seccomp() -> Result<String, Layer> {
    Err(Layer::Missing(
        "seccomp not installed: no measured syscall list for this architecture".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nr32(n: libc::c_long) -> u32 {
        u32::try_from(n).unwrap()
    }

    /// A classic-BPF interpreter for the six instructions [`filter`] emits, over a
    /// `seccomp_data` of (nr, arch, args).
    fn run(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        run_counting(prog, nr, arch, args).0
    }

    /// The filter's answer and how many instructions it ran to get there.
    fn run_counting(prog: &[Insn], nr: u32, arch: u32, args: [u64; 6]) -> (u32, usize) {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_le_bytes());
        data.extend_from_slice(&arch.to_le_bytes());
        data.extend_from_slice(&0_u64.to_le_bytes());
        for a in args {
            data.extend_from_slice(&a.to_le_bytes());
        }
        let mut acc = 0_u32;
        let mut pc = 0_usize;
        let mut steps = 0_usize;
        loop {
            let i = prog[pc];
            pc += 1;
            steps += 1;
            match i.code {
                LD_W_ABS => {
                    let at = i.k as usize;
                    acc = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                }
                LD_W_LEN => acc = SECCOMP_DATA_LEN,
                JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JGE_K => pc += usize::from(if acc >= i.k { i.jt } else { i.jf }),
                JGT_K => pc += usize::from(if acc > i.k { i.jt } else { i.jf }),
                RET_K => return (i.k, steps),
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn probe_filter() -> Vec<Insn> {
        let syscalls: Vec<u32> = SYSCALLS.iter().map(|&(_, n)| nr32(n)).collect();
        filter(
            AUDIT_ARCH_X86_64,
            &syscalls,
            nr32(libc::SYS_ioctl),
            ioctl_requests(),
        )
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_allows_the_list_and_refuses_the_rest() {
        let p = probe_filter();
        assert!(p.len() < 4096);
        let a = AUDIT_ARCH_X86_64;
        for &(name, nr) in SYSCALLS {
            assert_eq!(run(&p, nr32(nr), a, [0; 6]), RET_ALLOW, "{name}");
        }
        for nr in [
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_unlink,
            libc::SYS_ptrace,
            libc::SYS_mount,
            libc::SYS_kill,
            libc::SYS_chmod,
        ] {
            assert_eq!(run(&p, nr32(nr), a, [0; 6]), RET_EPERM, "{nr}");
        }
        // Every number, in the list or not, gets the list's answer (ioctl aside).
        let listed: Vec<u32> = SYSCALLS.iter().map(|&(_, n)| nr32(n)).collect();
        for nr in 0..1024_u32 {
            if nr == nr32(libc::SYS_ioctl) {
                continue;
            }
            let want = if listed.contains(&nr) {
                RET_ALLOW
            } else {
                RET_EPERM
            };
            assert_eq!(run(&p, nr, a, [0; 6]), want, "syscall {nr}");
        }
        // Every syscall runs the program: each number is decided in a few instructions, not
        // by a walk through the whole list.
        let longest = (0..1024_u32)
            .map(|nr| run_counting(&p, nr, a, [0; 6]).1)
            .max()
            .unwrap_or(0);
        assert!(
            longest <= 18,
            "a syscall number took {longest} instructions"
        );
        // The kernel's allow-cache emulator stops at the first instruction it does not know;
        // it knows absolute loads, jumps and returns, so the program opens with another one.
        assert_eq!(p[0].code, LD_W_LEN);
        assert!(p.len() < 128, "{} instructions", p.len());
        // Another architecture's calling convention, and x32 numbers.
        assert_eq!(
            run(&p, nr32(libc::SYS_read), 0x4000_0003, [0; 6]),
            RET_EPERM
        );
        assert_eq!(
            run(&p, X32_SYSCALL_BIT | nr32(libc::SYS_read), a, [0; 6]),
            RET_EPERM
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_allows_only_the_probes_ioctls() {
        use nvprobe_abi::nvos::REQ_RM_CONTROL;
        let p = probe_filter();
        let ioctl = nr32(libc::SYS_ioctl);
        let a = AUDIT_ARCH_X86_64;
        for &req in ioctl_requests() {
            assert_eq!(
                run(&p, ioctl, a, [3, u64::from(req), 0, 0, 0, 0]),
                RET_ALLOW
            );
        }
        assert_eq!(
            run(&p, ioctl, a, [3, u64::from(REQ_RM_CONTROL), 0, 0, 0, 0]),
            RET_ALLOW
        );
        // TIOCSTI (push input into a terminal), FIONBIO, an NVIDIA escape the probe never sends.
        for req in [
            0x5412_u64,
            0x5421,
            u64::from(nvprobe_abi::escape::iowr(0x2C, 32)),
        ] {
            assert_eq!(
                run(&p, ioctl, a, [0, req, 0, 0, 0, 0]),
                RET_EPERM,
                "{req:#x}"
            );
        }
    }

    /// Landlock and seccomp bind the calling thread (and what it starts), so a thread of the
    /// test process can be sandboxed alone and then try what the policy does not allow.
    #[test]
    fn sandbox_on_a_thread_denies_what_the_policy_does_not_grant() {
        let base = std::env::temp_dir().join(format!("nvprobe-sbx-{}", std::process::id()));
        let (inside, outside) = (base.join("inside"), base.join("outside"));
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(inside.join("f"), "in").unwrap();
        std::fs::write(outside.join("f"), "out").unwrap();
        let policy = Policy {
            read: vec![inside.clone()],
            ..Policy::default()
        };
        let (i, o) = (inside.clone(), outside.clone());
        let (source, read_in, read_out, write_in, socket, fionbio) =
            std::thread::spawn(move || {
                let source = apply(&policy);
                let read_in = std::fs::read_to_string(i.join("f")).map_err(|e| e.kind());
                let read_out = std::fs::read_to_string(o.join("f")).map_err(|e| e.kind());
                let write_in = std::fs::write(i.join("new"), "x").map_err(|e| e.kind());
                let socket = std::net::UdpSocket::bind("127.0.0.1:0")
                    .map(|_| ())
                    .map_err(|e| e.raw_os_error());
                let fionbio = std::fs::File::open(i.join("f"))
                    .map_err(|_| Errno::NOENT)
                    .and_then(|f| rustix::io::ioctl_fionbio(&f, true));
                (source, read_in, read_out, write_in, socket, fionbio)
            })
            .join()
            .unwrap();
        assert_eq!(source.name, SOURCE);
        assert_ne!(source.status, SourceStatus::Failed, "{source:?}");
        assert_eq!(read_in.as_deref(), Ok("in"), "{source:?}");
        if source.detail.contains("Landlock ABI") {
            assert_eq!(read_out, Err(std::io::ErrorKind::PermissionDenied));
            assert_eq!(write_in, Err(std::io::ErrorKind::PermissionDenied));
        } else {
            eprintln!("Landlock not checked: {}", source.detail);
        }
        if source.detail.contains("seccomp:") {
            assert_eq!(socket, Err(Some(libc::EPERM)));
            assert_eq!(fionbio, Err(Errno::PERM));
        } else {
            eprintln!("seccomp not checked: {}", source.detail);
        }
        // The rest of the process is not sandboxed.
        assert_eq!(std::fs::read_to_string(outside.join("f")).unwrap(), "out");
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn sandbox_fs_rights_grow_with_the_abi() {
        assert_eq!(fs_rights(1), 0x1FFF);
        assert_eq!(fs_rights(3) & FS_TRUNCATE, FS_TRUNCATE);
        assert_eq!(fs_rights(4) & FS_IOCTL_DEV, 0);
        assert_eq!(fs_rights(7) & FS_IOCTL_DEV, FS_IOCTL_DEV);
        assert_eq!(size_of::<PathBeneathAttr>(), 12);
        assert_eq!(size_of::<RulesetAttr>(), 24);
        assert_eq!(size_of::<Insn>(), 8);
    }

    #[test]
    fn sandbox_policy_for_a_fixture_reads_only_the_root() {
        let dir = std::env::temp_dir().join(format!("nvprobe-sandbox-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("dev/nvidia-caps")).unwrap();
        std::fs::write(dir.join("dev/nvidiactl"), "").unwrap();
        std::fs::write(dir.join("dev/null"), "").unwrap();
        // A link may lead to a real node (a host's /dev mounted as a root); a regular file
        // (a fixture's node) is only read.
        let _ = std::fs::remove_file(dir.join("dev/nvidia0"));
        std::os::unix::fs::symlink("/dev/null", dir.join("dev/nvidia0")).unwrap();
        let p = Policy::for_run(&Root::at(&dir), &crate::Env::default(), None);
        assert_eq!(p.read, vec![dir.clone()]);
        assert_eq!(
            p.devices,
            vec![
                dir.join("dev/nvidia-caps"),
                dir.join("dev/nvidia0"),
                PathBuf::from("/dev/null")
            ]
        );
        assert!(p.exec.is_empty() && p.write.is_empty() && !p.spawns_children);
        let shim = dir.join("nvprobe-shim");
        let p = Policy::for_run(&Root::at(&dir), &crate::Env::default(), Some(&shim));
        assert!(p.spawns_children);
        assert_eq!(p.exec.first(), Some(&shim));
        assert!(
            p.read.contains(&PathBuf::from("/usr")),
            "the shim reads host libraries"
        );
        let rules = landlock_rules(&p);
        assert!(rules.iter().all(|(_, r)| r & FS_MAKE_REG == 0), "no writes");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sandbox_policy_for_the_host_adds_the_environment_dirs() {
        let env = crate::Env::from_pairs([
            ("VIRTUAL_ENV", "/opt/venv"),
            ("HOME", "/home/u"),
            ("LD_LIBRARY_PATH", "/usr/local/cuda/lib64::relative"),
        ]);
        let p = Policy::for_run(&Root::host(), &env, None);
        for want in [
            "/proc",
            "/sys",
            "/dev",
            "/opt/venv",
            "/home/u/.local",
            "/usr/local/cuda/lib64",
        ] {
            assert!(p.read.contains(&PathBuf::from(want)), "{want}");
        }
        assert!(!p.read.contains(&PathBuf::from("relative")));
    }
}
