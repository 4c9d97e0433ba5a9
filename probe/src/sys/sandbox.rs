//! The probe's self-sandbox: `no_new_privs`, a Landlock ruleset and a seccomp-BPF allow-list,
//! applied by the binary before it probes (`--no-sandbox` turns it off).
//!
//! The three layers, each applied only when the kernel has it, in this order:
//! 1. `prctl(PR_SET_NO_NEW_PRIVS)`: no setuid/file-capability gain through `execve` (and the
//!    precondition of the other two for an unprivileged process).
//! 2. Landlock (the `landlock` crate, best effort: the rights of the kernel's ABI): every
//!    filesystem right the kernel knows is handled, and granted back only as [`Policy`] says:
//!    read beneath `/proc`, `/sys`, `/etc`, `/usr`, `/lib*`, `/opt`, `/run`, `/var` (or
//!    beneath the `--root` directory), list `/dev` (read `/dev/null` there, and beneath it with
//!    the shim), read-write-ioctl on the NVIDIA device nodes, execute of
//!    the shim (and of the dynamic loader) with `--cross-check`, write beneath `capture`'s
//!    output directory and beneath `labels --output`'s directory (the dot file and its
//!    rename). From ABI 4 TCP bind/connect are handled and never granted.
//! 3. seccomp (`x86_64`, the `seccompiler` crate): allows the syscalls the static binary was
//!    measured to make ([`syscalls`]: `strace -f` over fixtures and the host; fewer for `scan`,
//!    which reads only the files it is given), allows `ioctl` only where devices are granted,
//!    only with the request numbers the probe issues ([`super::ISSUED_REQUESTS`]), and answers
//!    every other syscall with `EPERM`, which a reporting tool survives better than a kill (a
//!    syscall of another architecture's ABI kills the process: that is no code of ours). With
//!    `--cross-check` the filter is not installed: it would be inherited by the glibc shim and
//!    NVML, whose syscalls and ioctls are not the probe's.
//!
//! Landlock and seccomp apply to the calling thread and to the threads and processes it starts
//! later, so [`apply`] must run while the process has one thread (before the deadline watchdog).
//! The last-resort signal handlers and the backstop timer (`sys/signals.rs`) are installed
//! before it: `setitimer` is not in the list, while what the handlers do once the sandbox is on
//! (`write`, `exit_group`, `rt_sigreturn`) is. A layer the kernel lacks (`ENOSYS`,
//! `EOPNOTSUPP`) is left out and named in the `sandbox` source; the probe runs on.
//!
//! Under `--root` the source also says whether the root's files are read through a `nodev`
//! copy of its mounts ([`super::nodev`]), which is made with the root, before the sandbox.

#[cfg(target_arch = "x86_64")]
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, Ruleset,
    RulesetAttr as _, RulesetCreatedAttr as _,
};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::report::{Source, SourceStatus};
use crate::root::Root;

/// The name of the source the sandbox reports as.
pub const SOURCE: &str = "sandbox";

/// The `sandbox` source's words for a `--root` whose files are read through a `nodev` copy of
/// its mounts (`super::nodev`).
pub const NODEV_MADE: &str = "--root read through a nodev copy of its mounts";

/// ... and for one without it (the reason follows): a device node where a file belongs is
/// opened, and its driver's open runs, before `fstat` refuses it.
pub const NODEV_MISSING: &str =
    "no nodev copy of --root's mounts, a device node there is opened before it is refused";

/// What the probe may touch once sandboxed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Directories (or files) the probe may read beneath.
    pub read: Vec<PathBuf>,
    /// Directories the probe may only list (and their subdirectories): no file beneath them
    /// opens for reading unless another rule grants it. The host's `/dev`, whose other nodes
    /// (a watchdog, which starts its timer when opened; a tape, which rewinds) a link where
    /// the probe reads a file could otherwise lead an open to.
    pub list: Vec<PathBuf>,
    /// Device nodes (or directories of them) the probe may open read-write and send ioctls to.
    /// None (`scan`, `compare`): the seccomp filter allows no `ioctl` at all.
    pub devices: Vec<Device>,
    /// Files or directories beneath which files may be executed (the shim, the dynamic loader).
    pub exec: Vec<PathBuf>,
    /// Directories beneath which files may be created and written (`capture --out`).
    pub write: Vec<PathBuf>,
    /// A child process (the shim) will run under the sandbox: no seccomp filter then.
    pub spawns_children: bool,
    /// The run probes a machine, the host's or a replayed capture's ([`Policy::for_run`],
    /// [`Policy::for_replays`]): it reads beneath a [`Root`] (`openat2`) on a worker or under
    /// the deadline watchdog (a thread). A run that only reads the files it is given
    /// ([`Policy::for_files`]: `scan`) does neither, and its seccomp filter allows neither
    /// ([`syscalls`]). Whether `ioctl` is allowed is [`Policy::devices`]'s to say.
    pub machine: bool,
    /// Under `--root`: whether the root's files are read through a `nodev` copy of its mounts
    /// ([`Root::files_nodev`], made with the root, before the sandbox), for the `sandbox`
    /// source to say.
    pub root_nodev: Option<Result<(), Errno>>,
}

/// A device node, or a directory of them, that a [`Policy`] grants read-write-ioctl on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Its path on this machine.
    pub path: PathBuf,
    /// A node found inside a `--root`: the `(device, inode)` its lookup there gave. The rule
    /// goes on the file `path` opens only when it is that one: a link swapped in since, which
    /// could lead out of the root, gets none.
    pub inode: Option<(u64, u64)>,
}

impl Device {
    /// A node of the host's `/dev`, granted by path.
    pub fn host(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            inode: None,
        }
    }
}

/// The host directories the probe reads from (design: "every absolute path the probe reads"),
/// `/dev` aside: the probe lists it ([`Policy::list`]) and opens only its NVIDIA nodes there.
pub const HOST_READ: &[&str] = &[
    "/proc", "/sys", "/etc", "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/opt", "/run", "/var",
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
    /// The policy of `scan`: read beneath `paths` (resolved), nothing else.
    pub fn for_files(paths: Vec<PathBuf>) -> Self {
        Self {
            read: paths,
            ..Self::default()
        }
    }

    /// The policy of `compare`: read beneath `paths` (resolved), which it compares as reports
    /// and replays as capture bundles: each bundle's machine is probed under a [`Root`], on a
    /// worker thread. No device: a replay's driver is its recording.
    pub fn for_replays(paths: Vec<PathBuf>) -> Self {
        Self {
            read: paths,
            machine: true,
            ..Self::default()
        }
    }

    /// The policy of a probe run over `root`: read beneath its directories, plus the
    /// environment's library and Python directories on the host (`VIRTUAL_ENV`,
    /// `CONDA_PREFIX`, `CUDA_HOME`, `CUDA_PATH`, `$HOME/.local`, `LD_LIBRARY_PATH`), which the
    /// library inventory reads; read-write-ioctl on `dev/nvidia*` and `dev/dxg`; and with
    /// `shim` (the cross-check) execute of the shim and of the host's library directories.
    pub fn for_run(root: &Root, env: &crate::Env, shim: Option<&Path>) -> Self {
        let mut p = Self {
            machine: true,
            ..Self::default()
        };
        if !root.is_host() {
            p.read.push(root.base().to_path_buf());
            p.root_nodev = root.files_nodev();
        }
        // The shim runs on the host even under `--root`, and inherits the ruleset: it needs the
        // host's libraries (and `LD_LIBRARY_PATH`), `/proc`, `/sys` and `/dev` like the probe.
        // NVML, in the shim, may read beneath `/dev` (the probe never opens a file there but
        // its NVIDIA nodes, and `/dev/null` at the deadline), so only a run without the shim
        // keeps it to listing `/dev`.
        if root.is_host() || shim.is_some() {
            p.read.extend(HOST_READ.iter().map(PathBuf::from));
            if shim.is_some() {
                p.read.push(PathBuf::from("/dev"));
            } else {
                p.list.push(PathBuf::from("/dev"));
            }
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
        p.devices = if root.is_host() {
            nvidia_nodes(Path::new("/dev"))
        } else {
            root_nodes(root)
        };
        if shim.is_none() {
            // The deadline's hand-back of stdout opens it for reading. Not a device: the probe
            // sends it no ioctl, so a root without NVIDIA nodes (a fixture, a capture) gets a
            // filter that allows no ioctl at all.
            p.read.push(PathBuf::from("/dev/null"));
        }
        if let Some(shim) = shim {
            // `Stdio::null()` for a child opens it for writing; writing there changes nothing.
            p.devices.push(Device::host("/dev/null"));
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

/// The names in `/dev` the policy may grant devices for: `nvidia*` and `dxg`.
fn is_granted_name(name: &[u8]) -> bool {
    name.starts_with(b"nvidia") || name == b"dxg"
}

/// The NVIDIA device nodes in `dev` (`nvidiactl`, `nvidia0`, `nvidia-uvm`, `nvidia-caps/`, …)
/// and `dxg`: the entries the probe (and NVML) may open read-write. A regular file there (a
/// fixture's stand-in for a node, which the probe only reads) gets no rule: each rule costs
/// four system calls, and a fixture's files are already readable beneath its root.
///
/// The listing is `getdents64` into a buffer on the stack (`std::fs::read_dir` would add
/// musl's `opendir`: an `fcntl`, and an 8 KiB block mapped and unmapped for each listing).
fn nvidia_nodes(dev: &Path) -> Vec<Device> {
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
        if !is_granted_name(bytes) {
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
    nodes.into_iter().map(Device::host).collect()
}

/// The NVIDIA device nodes under a fixture's or capture's `/dev` (and `dxg`), as the probe
/// opens them: listed and looked up inside the root, like every path the probe reads, so a
/// link there (`dev/nvidia0 -> /dev/nvidia0`, or `dev` itself a link to `/dev`) leads to the
/// root's own entry, never to a node outside it. Each keeps the inode that lookup found, which
/// its rule must still open ([`Device::inode`]). An entry that is a regular file there (a
/// stand-in, which the probe only reads) gets no rule.
fn root_nodes(root: &Root) -> Vec<Device> {
    // Not the probe's reads: a capture does not copy what the policy looked at.
    let root = root.unrecorded();
    let Ok(entries) =
        root.read_dir_entries_where("/dev", crate::root::DEVICE_DIR_LIMIT, &is_granted_name)
    else {
        return Vec::new();
    };
    let found: Vec<Device> = entries
        .iter()
        .filter(|(_, kind)| *kind != FileType::RegularFile)
        .filter_map(|(name, _)| {
            let path = format!("/dev/{name}");
            let (_, meta) = root.open_node(&path).ok()?;
            (!meta.is_file()).then_some(())?;
            Some(Device {
                path: root.resolve(&path).ok()?,
                inode: Some(meta.identity()),
            })
        })
        .take(256)
        .collect();
    // Sorted and deduplicated by path (two names may lead to one node), as `nvidia_nodes`
    // sorts its paths: a sort of `Device` itself would add its own copy of the sort code.
    let mut paths: Vec<PathBuf> = found.iter().map(|d| d.path.clone()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| found.iter().find(|d| d.path == path).cloned())
        .collect()
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
        match seccomp(policy.machine, !policy.devices.is_empty()) {
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
    match policy.root_nodev {
        Some(Ok(())) => applied.push(NODEV_MADE.to_owned()),
        Some(Err(e)) => missing.push(format!("{NODEV_MISSING} ({})", errno_text(e))),
        None => {}
    }
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

#[cfg(target_arch = "x86_64")]
fn io_text(e: &std::io::Error) -> String {
    Errno::from_io_error(e).map_or_else(|| e.to_string(), errno_text)
}

// ---- Landlock ---------------------------------------------------------------------------------

/// The newest Landlock ABI this build knows; the crate lowers it to the kernel's (best effort).
const LANDLOCK_ABI: ABI = ABI::V7;

/// One Landlock rule: `rights` beneath `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The file or directory.
    pub path: PathBuf,
    /// The inode the rule must land on ([`Device::inode`]); `None`: whatever `path` opens.
    pub inode: Option<(u64, u64)>,
    /// The rights granted beneath it.
    pub rights: BitFlags<AccessFs>,
}

/// The rights a policy grants, as rules. Rights the running kernel's ABI does not know are
/// dropped by the crate, and so are directory rights on a rule for a file.
pub fn landlock_rules(policy: &Policy) -> Vec<Rule> {
    let read = AccessFs::ReadFile | AccessFs::ReadDir;
    let by_path = |paths: &[PathBuf], rights: BitFlags<AccessFs>| {
        paths
            .iter()
            .map(move |p| Rule {
                path: p.clone(),
                inode: None,
                rights,
            })
            .collect::<Vec<_>>()
    };
    let mut rules = by_path(&policy.read, read);
    rules.extend(by_path(&policy.list, AccessFs::ReadDir.into()));
    rules.extend(policy.devices.iter().map(|d| Rule {
        path: d.path.clone(),
        inode: d.inode,
        rights: read | AccessFs::WriteFile | AccessFs::IoctlDev,
    }));
    rules.extend(by_path(&policy.exec, read | AccessFs::Execute));
    rules.extend(by_path(
        &policy.write,
        read | AccessFs::WriteFile
            | AccessFs::MakeReg
            | AccessFs::MakeDir
            | AccessFs::MakeSym
            | AccessFs::Truncate
            | AccessFs::RemoveFile,
    ));
    rules
}

fn landlock(policy: &Policy) -> Result<String, Layer> {
    let refused = |what: &str, e: &dyn std::fmt::Display| {
        Layer::Failed(format!("Landlock {what} refused: {e}"))
    };
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(LANDLOCK_ABI))
        .and_then(|r| r.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp))
        .and_then(Ruleset::create)
        .map_err(|e| refused("ruleset", &e))?;
    let mut granted = 0_usize;
    let mut changed = Vec::new();
    for rule in landlock_rules(policy) {
        // Missing (no /lib32 here): nothing beneath it to grant. Opened with rustix rather
        // than the crate's `PathFd`, whose `open` through musl adds an `fcntl(F_SETFD)` for
        // `O_CLOEXEC` to every rule (a host run grants a dozen). A rule for a given inode
        // follows no link: its path was resolved already.
        let flags = match rule.inode {
            Some(_) => OFlags::PATH | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            None => OFlags::PATH | OFlags::CLOEXEC,
        };
        let Ok(fd) = rustix::fs::open(&rule.path, flags, Mode::empty()) else {
            continue;
        };
        if let Some(inode) = rule.inode {
            let now = rustix::fs::fstat(&fd).map(|st| (st.st_dev, st.st_ino));
            if now != Ok(inode) {
                changed.push(rule.path.display().to_string());
                continue;
            }
        }
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, rule.rights))
            .map_err(|e| refused(&format!("rule for {}", rule.path.display()), &e))?;
        granted += 1;
    }
    // `apply` has set no_new_privs already (and reports it when refused, which makes this
    // refused too): the crate need not ask again.
    let status = ruleset
        .no_new_privs(false)
        .restrict_self()
        .map_err(|e| refused("restrict_self", &e))?;
    let abi = match status.landlock {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => kernel_abi.unwrap_or(effective_abi as i32),
        LandlockStatus::NotImplemented => {
            return Err(Layer::Missing(
                "Landlock not supported by this kernel (ENOSYS)".to_owned(),
            ));
        }
        LandlockStatus::NotEnabled => {
            return Err(Layer::Missing(
                "Landlock disabled on this kernel (EOPNOTSUPP: not in the lsm= list)".to_owned(),
            ));
        }
    };
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
    if !changed.is_empty() {
        what.push_str(", no rule for ");
        what.push_str(&changed.join(" "));
        what.push_str(" (not the node found inside the root: it changed)");
    }
    Ok(what)
}

// ---- seccomp ---------------------------------------------------------------------------------

/// The syscalls every sandboxed run of the static (musl) binary makes, measured with
/// `strace -f` over every fixture and over the host, with and without `--deep`, and over every
/// command (`scan`, `check`, `capture`, `labels --output`, `compare`, `explain`), plus what the
/// std runtime needs to report errors and what the last-resort signal handlers call. A run
/// that probes a machine adds [`MACHINE_RUN`]; `ioctl` is in neither: it is filtered by
/// request number.
///
/// The lists are kept short on purpose: when the filter is installed, the kernel runs it once
/// for every syscall number to learn which numbers it allows whatever the arguments, and that
/// work grows with the list's length (seccompiler's filter is a linear chain).
#[cfg(target_arch = "x86_64")]
const EVERY_RUN: &[(&str, libc::c_long)] = &[
    // Files: bounded reads, directory listings, `realpath` (`getcwd` for a relative path).
    ("read", libc::SYS_read),
    ("pread64", libc::SYS_pread64),
    ("write", libc::SYS_write),
    ("writev", libc::SYS_writev),
    ("open", libc::SYS_open),
    ("openat", libc::SYS_openat),
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
    ("getdents64", libc::SYS_getdents64),
    ("getcwd", libc::SYS_getcwd),
    // Memory.
    ("brk", libc::SYS_brk),
    ("mmap", libc::SYS_mmap),
    ("munmap", libc::SYS_munmap),
    ("mremap", libc::SYS_mremap),
    ("mprotect", libc::SYS_mprotect),
    // A lock std takes, std's hash keys, the time.
    ("futex", libc::SYS_futex),
    ("getrandom", libc::SYS_getrandom),
    ("clock_gettime", libc::SYS_clock_gettime),
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

/// What a run that probes a machine ([`Policy::machine`]: a probe, or `compare` replaying
/// bundles) makes besides [`EVERY_RUN`]; `scan`, measured the same way, makes none of it.
#[cfg(target_arch = "x86_64")]
const MACHINE_RUN: &[(&str, libc::c_long)] = &[
    // Reads beneath the root (`RESOLVE_IN_ROOT`), the device nodes' access check.
    ("openat2", libc::SYS_openat2),
    ("faccessat", libc::SYS_faccessat),
    ("faccessat2", libc::SYS_faccessat2),
    // `labels --output`: the rename of the finished file over the old one (Landlock allows
    // writes only beneath that file's directory); stdout handed back at the deadline.
    ("rename", libc::SYS_rename),
    ("dup2", libc::SYS_dup2),
    // The deadline watchdog (and the library's worker): its thread, its sleep, its name.
    ("clone", libc::SYS_clone),
    ("set_tid_address", libc::SYS_set_tid_address),
    ("nanosleep", libc::SYS_nanosleep),
    ("clock_nanosleep", libc::SYS_clock_nanosleep),
    ("gettid", libc::SYS_gettid),
    ("getpid", libc::SYS_getpid),
    ("geteuid", libc::SYS_geteuid),
    ("prctl", libc::SYS_prctl),
    ("poll", libc::SYS_poll),
    // The watchdog starts on the CPU the probe runs on and stays there: the caller's affinity
    // read, narrowed for the `clone` and given back. Only the calling thread's is set
    // ([`CALLING_THREAD_ONLY`]).
    ("sched_getaffinity", libc::SYS_sched_getaffinity),
    ("sched_setaffinity", libc::SYS_sched_setaffinity),
];

/// Syscalls of the lists that the filter allows only with 0 as their first argument, the
/// calling thread: another process's CPU affinity is not the probe's to change.
#[cfg(target_arch = "x86_64")]
const CALLING_THREAD_ONLY: &[libc::c_long] = &[libc::SYS_sched_setaffinity];

/// What only the glibc build makes (the test binaries and a `cargo build` for the host run the
/// sandbox too): glibc's own start-up, thread and `rename` paths. The released binary is musl
/// and does without them.
#[cfg(target_arch = "x86_64")]
const GLIBC_ONLY: &[(&str, libc::c_long)] = &[
    ("readv", libc::SYS_readv),
    ("access", libc::SYS_access),
    ("renameat", libc::SYS_renameat),
    ("renameat2", libc::SYS_renameat2),
    ("dup3", libc::SYS_dup3),
    ("madvise", libc::SYS_madvise),
    ("clone3", libc::SYS_clone3),
    ("set_robust_list", libc::SYS_set_robust_list),
    ("rseq", libc::SYS_rseq),
    ("sched_yield", libc::SYS_sched_yield),
    ("sched_getaffinity", libc::SYS_sched_getaffinity),
    ("membarrier", libc::SYS_membarrier),
    ("getuid", libc::SYS_getuid),
    ("getgid", libc::SYS_getgid),
    ("getegid", libc::SYS_getegid),
    ("uname", libc::SYS_uname),
    ("ppoll", libc::SYS_ppoll),
];
/// True in a glibc build (its filter allows [`GLIBC_ONLY`] too).
#[cfg(target_arch = "x86_64")]
const GLIBC: bool = cfg!(not(target_env = "musl"));

/// Every syscall the filter of this build allows (`ioctl` aside): [`syscalls_for`] this build's
/// C library.
#[cfg(target_arch = "x86_64")]
pub fn syscalls(machine: bool) -> impl Iterator<Item = &'static (&'static str, libc::c_long)> {
    syscalls_for(GLIBC, machine)
}

/// Every syscall a filter allows (`ioctl` aside): `EVERY_RUN`, with `machine` `MACHINE_RUN`
/// too, and with `glibc` (a glibc build's filter) `GLIBC_ONLY`, each once. Those in
/// `CALLING_THREAD_ONLY` are allowed for the calling thread only.
#[cfg(target_arch = "x86_64")]
pub fn syscalls_for(
    glibc: bool,
    machine: bool,
) -> impl Iterator<Item = &'static (&'static str, libc::c_long)> {
    let machine_run: &[_] = if machine { MACHINE_RUN } else { &[] };
    let glibc_only: &[_] = if glibc { GLIBC_ONLY } else { &[] };
    // glibc's start-up reads the affinity too, in a run that only reads files as well.
    let glibc_only = glibc_only.iter().filter(|e| !machine_run.contains(e));
    EVERY_RUN.iter().chain(machine_run).chain(glibc_only)
}

/// The ioctl requests allowed through the filter: the probe's own.
pub fn ioctl_requests() -> &'static [u32] {
    super::ISSUED_REQUESTS
}

/// The seccomp program of this build for a run that probes a machine (`machine`) or only reads
/// the files it is given: [`program_for`] this build's C library.
#[cfg(target_arch = "x86_64")]
pub fn program(machine: bool, ioctl: bool) -> Result<seccompiler::BpfProgram, seccompiler::Error> {
    program_for(GLIBC, machine, ioctl)
}

/// The seccomp program `seccompiler` builds for a run that probes a machine (`machine`) or only
/// reads the files it is given, in a glibc build (`glibc`) or the musl one: its
/// [`syscalls_for`] allowed (those in `CALLING_THREAD_ONLY` for the calling thread only),
/// `ioctl` only with [`ioctl_requests`] (the kernel reads the request as an `unsigned int`, so
/// its low 32 bits are compared) when `ioctl` (a policy that grants devices), else never;
/// `EPERM` for everything else.
///
/// A run installs the same program, built once and kept in `seccomp_programs.rs` (a test
/// writes the file and holds it to this function): building it takes several hundred small
/// allocations, tens of microseconds of every run, for a result that only a change of the
/// lists or of `seccompiler` changes.
#[cfg(target_arch = "x86_64")]
pub fn program_for(
    glibc: bool,
    machine: bool,
    ioctl: bool,
) -> Result<seccompiler::BpfProgram, seccompiler::Error> {
    use seccompiler::{
        SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
        SeccompRule, TargetArch,
    };
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = syscalls_for(glibc, machine)
        .map(|&(_, nr)| (nr, Vec::new()))
        .collect();
    for nr in CALLING_THREAD_ONLY {
        if let Some(r) = rules.get_mut(nr) {
            let own = SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::Eq, 0)?;
            *r = vec![SeccompRule::new(vec![own])?];
        }
    }
    if ioctl {
        let ioctl = ioctl_requests()
            .iter()
            .map(|&req| {
                SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req.into())
                    .and_then(|c| SeccompRule::new(vec![c]))
            })
            .collect::<Result<Vec<_>, _>>()?;
        rules.insert(libc::SYS_ioctl, ioctl);
    }
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(libc::EPERM.cast_unsigned()),
        SeccompAction::Allow,
        TargetArch::x86_64,
    )?;
    Ok(filter.try_into()?)
}

/// `seccompiler`'s programs for every (glibc, machine, ioctl), built once by `programs_source`
/// (a test holds the file to it).
#[cfg(target_arch = "x86_64")]
#[rustfmt::skip]
#[path = "seccomp_programs.rs"]
mod programs;

/// The (glibc, machine, ioctl) variants of [`program_for`], with their names in
/// `seccomp_programs.rs`.
#[cfg(all(test, target_arch = "x86_64"))]
const VARIANTS: [(bool, bool, bool, &str); 8] = [
    (false, false, false, "MUSL_FILES"),
    (false, false, true, "MUSL_FILES_IOCTL"),
    (false, true, false, "MUSL_MACHINE"),
    (false, true, true, "MUSL_MACHINE_IOCTL"),
    (true, false, false, "GLIBC_FILES"),
    (true, false, true, "GLIBC_FILES_IOCTL"),
    (true, true, false, "GLIBC_MACHINE"),
    (true, true, true, "GLIBC_MACHINE_IOCTL"),
];

/// The text of `seccomp_programs.rs`: every program of [`VARIANTS`] as `seccompiler` builds it
/// ([`program_for`]), instruction for instruction, and the function that picks one.
#[cfg(all(test, target_arch = "x86_64"))]
fn programs_source() -> Result<String, seccompiler::Error> {
    use std::fmt::Write as _;
    // Eight hex digits in two groups, as clippy wants long literals.
    let hex = |v: u32| {
        if v > 0xffff {
            format!("0x{:04x}_{:04x}", v >> 16, v & 0xffff)
        } else {
            format!("{v:#x}")
        }
    };
    let mut out = String::from(
        "// @generated by `programs_source` (sys/sandbox.rs): the programs `seccompiler` builds\n\
         // from the sandbox's syscall lists (`program_for`). Do not edit: after a change to the\n\
         // lists, to the ioctl requests or to `seccompiler`, the test\n\
         // `sandbox_programs_are_kept` fails until `NVPROBE_BLESS=1 cargo test -p nvprobe\n\
         // --lib sandbox_programs_are_kept` writes this file anew.\n\
         use seccompiler::sock_filter;\n\n\
         const fn i(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {\n    \
         sock_filter { code, jt, jf, k }\n}\n\n\
         /// The program for a glibc build (`glibc`) or the musl one, a run that probes a machine\n\
         /// (`machine`) or only reads files, with the probe's ioctls (`ioctl`) or none.\n\
         pub(super) fn get(glibc: bool, machine: bool, ioctl: bool) \
         -> &'static [sock_filter] {\n    match (glibc, machine, ioctl) {\n",
    );
    for (glibc, machine, ioctl, name) in VARIANTS {
        let _ = writeln!(out, "        ({glibc}, {machine}, {ioctl}) => {name},");
    }
    out.push_str("    }\n}\n");
    for (glibc, machine, ioctl, name) in VARIANTS {
        let prog = program_for(glibc, machine, ioctl)?;
        let _ = write!(out, "\nconst {name}: &[sock_filter] = &[");
        for (n, f) in prog.iter().enumerate() {
            out.push_str(if n % 4 == 0 { "\n    " } else { " " });
            let _ = write!(out, "i({:#04x}, {}, {}, {}),", f.code, f.jt, f.jf, hex(f.k));
        }
        out.push_str("\n];\n");
    }
    Ok(out)
}

/// Installs [`program`] (kept in `seccomp_programs.rs`); without `ioctl` (a policy that grants
/// no device: `scan`, `compare`, a root without NVIDIA nodes) no request passes.
#[cfg(target_arch = "x86_64")]
fn seccomp(machine: bool, ioctl: bool) -> Result<String, Layer> {
    match seccompiler::apply_filter(programs::get(GLIBC, machine, ioctl)) {
        Ok(()) => Ok(if ioctl {
            format!(
                "seccomp: {} syscalls, ioctl with {} request numbers, EPERM otherwise",
                syscalls(machine).count(),
                ioctl_requests().len()
            )
        } else {
            format!(
                "seccomp: {} syscalls, no ioctl, EPERM otherwise",
                syscalls(machine).count()
            )
        }),
        Err(seccompiler::Error::Seccomp(e))
            if matches!(Errno::from_io_error(&e), Some(Errno::INVAL | Errno::NOSYS)) =>
        {
            Err(Layer::Missing(
                "seccomp filters not supported by this kernel".to_owned(),
            ))
        }
        Err(seccompiler::Error::Seccomp(e) | seccompiler::Error::Prctl(e)) => Err(Layer::Failed(
            format!("seccomp filter refused: {}", io_text(&e)),
        )),
        Err(e) => Err(Layer::Failed(format!("seccomp filter refused: {e}"))),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn seccomp(_machine: bool, _ioctl: bool) -> Result<String, Layer> {
    Err(Layer::Missing(
        "seccomp not installed: no measured syscall list for this architecture".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SECCOMP_RET_ALLOW`.
    #[cfg(target_arch = "x86_64")]
    const RET_ALLOW: u32 = 0x7fff_0000;
    /// `SECCOMP_RET_ERRNO | EPERM`.
    #[cfg(target_arch = "x86_64")]
    const RET_EPERM: u32 = 0x0005_0000 | 1;
    /// `SECCOMP_RET_KILL_PROCESS`.
    #[cfg(target_arch = "x86_64")]
    const RET_KILL_PROCESS: u32 = 0x8000_0000;
    /// `AUDIT_ARCH_X86_64`.
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    /// `__X32_SYSCALL_BIT`.
    #[cfg(target_arch = "x86_64")]
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;

    #[cfg(target_arch = "x86_64")]
    fn nr32(n: libc::c_long) -> u32 {
        u32::try_from(n).unwrap()
    }

    /// A classic-BPF interpreter for what seccomp programs use (absolute word loads, `and`,
    /// jumps, returns), over a `seccomp_data` of (nr, arch, args): the filter's answer.
    #[cfg(target_arch = "x86_64")]
    fn run(prog: &[seccompiler::sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = Vec::new();
        data.extend_from_slice(&nr.to_le_bytes());
        data.extend_from_slice(&arch.to_le_bytes());
        data.extend_from_slice(&0_u64.to_le_bytes());
        for a in args {
            data.extend_from_slice(&a.to_le_bytes());
        }
        let mut acc = 0_u32;
        let mut pc = 0_usize;
        loop {
            let i = &prog[pc];
            pc += 1;
            let jump = |cond: bool| usize::from(if cond { i.jt } else { i.jf });
            match i.code {
                0x20 => {
                    // BPF_LD | BPF_W | BPF_ABS
                    let at = i.k as usize;
                    acc = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                }
                0x54 => acc &= i.k,                 // BPF_ALU | BPF_AND | BPF_K
                0x05 => pc += i.k as usize,         // BPF_JMP | BPF_JA
                0x15 => pc += jump(acc == i.k),     // BPF_JMP | BPF_JEQ | BPF_K
                0x25 => pc += jump(acc > i.k),      // BPF_JMP | BPF_JGT | BPF_K
                0x35 => pc += jump(acc >= i.k),     // BPF_JMP | BPF_JGE | BPF_K
                0x45 => pc += jump(acc & i.k != 0), // BPF_JMP | BPF_JSET | BPF_K
                0x06 => return i.k,                 // BPF_RET | BPF_K
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    /// The programs a run installs are `seccompiler`'s for the lists as they are now: the file
    /// is the text [`programs_source`] writes, and `get` gives each variant's.
    /// `NVPROBE_BLESS=1` writes the file anew (after a change to a list, to the ioctl requests
    /// or to `seccompiler`).
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_programs_are_kept() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sys/seccomp_programs.rs");
        let want = programs_source().unwrap();
        if std::env::var_os("NVPROBE_BLESS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        assert!(
            std::fs::read_to_string(path).unwrap() == want,
            "{path} is not what seccompiler builds now: review the change, then \
             NVPROBE_BLESS=1 cargo test -p nvprobe --lib sandbox_programs_are_kept"
        );
        for (glibc, machine, ioctl, name) in VARIANTS {
            assert_eq!(
                programs::get(glibc, machine, ioctl),
                program_for(glibc, machine, ioctl).unwrap().as_slice(),
                "{name}"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_allows_the_list_and_refuses_the_rest() {
        let p = program(true, true).unwrap();
        assert!(p.len() < 4096, "{} instructions", p.len());
        let a = AUDIT_ARCH_X86_64;
        for &(name, nr) in syscalls(true) {
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
            libc::SYS_setitimer,
        ] {
            assert_eq!(run(&p, nr32(nr), a, [0; 6]), RET_EPERM, "{nr}");
        }
        // Every number, in the list or not, gets the list's answer (ioctl aside), and so does
        // its x32 twin: x32 numbers are never in the list.
        let listed: Vec<u32> = syscalls(true).map(|&(_, n)| nr32(n)).collect();
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
            assert_eq!(
                run(&p, X32_SYSCALL_BIT | nr, a, [0; 6]),
                RET_EPERM,
                "x32 {nr}"
            );
        }
        // Another architecture's calling convention (i386 through int 0x80).
        assert_eq!(
            run(&p, nr32(libc::SYS_read), 0x4000_0003, [0; 6]),
            RET_KILL_PROCESS
        );
    }

    /// `sched_setaffinity` passes for the calling thread (0) only, in every filter of a run
    /// that probes a machine: another thread's or process's affinity is refused, and so is a
    /// number whose low half alone is 0. A run that only reads files sets none.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_sets_the_calling_threads_affinity_only() {
        let nr = nr32(libc::SYS_sched_setaffinity);
        let a = AUDIT_ARCH_X86_64;
        for (glibc, machine, ioctl, name) in VARIANTS {
            let p = program_for(glibc, machine, ioctl).unwrap();
            let own = if machine { RET_ALLOW } else { RET_EPERM };
            assert_eq!(run(&p, nr, a, [0, 128, 0x1000, 0, 0, 0]), own, "{name}");
            for pid in [1, 4242, 1 << 32, u64::MAX] {
                assert_eq!(run(&p, nr, a, [pid, 128, 0x1000, 0, 0, 0]), RET_EPERM, "{name} {pid}");
            }
        }
    }

    /// What the last-resort handlers (`sys/signals.rs`) do once the sandbox is on: return from
    /// the handler, write a message, end the process. Arming the backstop timer is not among
    /// them: `signals::install` runs before the sandbox.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_allows_what_the_signal_handlers_do() {
        let p = program(true, true).unwrap();
        for nr in [
            libc::SYS_rt_sigreturn,
            libc::SYS_write,
            libc::SYS_exit_group,
            libc::SYS_rt_sigaction,
        ] {
            assert_eq!(
                run(&p, nr32(nr), AUDIT_ARCH_X86_64, [0; 6]),
                RET_ALLOW,
                "{nr}"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_allows_only_the_probes_ioctls() {
        use nvprobe_abi::nvos::REQ_RM_CONTROL;
        let p = program(true, true).unwrap();
        let ioctl = nr32(libc::SYS_ioctl);
        let a = AUDIT_ARCH_X86_64;
        for &req in ioctl_requests() {
            assert_eq!(
                run(&p, ioctl, a, [3, u64::from(req), 0, 0, 0, 0]),
                RET_ALLOW
            );
            // The kernel reads the request as an `unsigned int`: the high half is ignored.
            assert_eq!(
                run(&p, ioctl, a, [3, u64::from(req) | 1 << 32, 0, 0, 0, 0]),
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

    /// `p` answers `EPERM` to the probe's own ioctl requests and to two terminal ones.
    #[cfg(target_arch = "x86_64")]
    fn refuses_every_ioctl(p: &[seccompiler::sock_filter]) {
        let ioctl = nr32(libc::SYS_ioctl);
        for &req in ioctl_requests().iter().chain(&[0x5401_u32, 0x5421]) {
            let args = [3, u64::from(req), 0, 0, 0, 0];
            assert_eq!(run(p, ioctl, AUDIT_ARCH_X86_64, args), RET_EPERM, "{req:#x}");
        }
    }

    /// A policy that grants no device (`compare`, which replays capture bundles) gets a filter
    /// that refuses every ioctl, the probe's own requests too, and answers every other number
    /// as the full one.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_without_devices_refuses_every_ioctl() {
        let (full, none) = (program(true, true).unwrap(), program(true, false).unwrap());
        assert!(none.len() < full.len(), "{} {}", none.len(), full.len());
        let ioctl = nr32(libc::SYS_ioctl);
        let a = AUDIT_ARCH_X86_64;
        refuses_every_ioctl(&none);
        for nr in (0..1024_u32).filter(|&nr| nr != ioctl) {
            assert_eq!(
                run(&none, nr, a, [0; 6]),
                run(&full, nr, a, [0; 6]),
                "syscall {nr}"
            );
        }
    }

    /// A run that only reads the files it is given (`scan`) gets a filter that refuses every
    /// ioctl and what only a run that probes a machine makes (a worker or watchdog thread,
    /// `openat2`); every other number is answered as in the full filter.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sandbox_filter_of_a_files_only_run_refuses_ioctls_and_threads() {
        let (full, files) = (program(true, true).unwrap(), program(false, false).unwrap());
        assert!(files.len() < full.len(), "{} {}", files.len(), full.len());
        let ioctl = nr32(libc::SYS_ioctl);
        let a = AUDIT_ARCH_X86_64;
        refuses_every_ioctl(&files);
        for &(name, nr) in MACHINE_RUN {
            assert_eq!(run(&full, nr32(nr), a, [0; 6]), RET_ALLOW, "{name}");
            // glibc's own calls stay allowed in its files-only filter; musl's has none.
            let want = if GLIBC && GLIBC_ONLY.iter().any(|&(_, n)| n == nr) {
                RET_ALLOW
            } else {
                RET_EPERM
            };
            assert_eq!(run(&files, nr32(nr), a, [0; 6]), want, "{name}");
        }
        let listed: Vec<u32> = syscalls(false).map(|&(_, n)| nr32(n)).collect();
        for nr in (0..1024_u32).filter(|&nr| nr != ioctl) {
            let want = if listed.contains(&nr) {
                RET_ALLOW
            } else {
                RET_EPERM
            };
            assert_eq!(run(&files, nr, a, [0; 6]), want, "syscall {nr}");
            if want == RET_ALLOW {
                assert_eq!(run(&full, nr, a, [0; 6]), RET_ALLOW, "syscall {nr}");
            }
        }
    }

    /// Landlock and seccomp bind the calling thread (and what it starts), so a thread of the
    /// test process can be sandboxed alone and then try what the policy does not allow.
    #[test]
    fn sandbox_on_a_thread_denies_what_the_policy_does_not_grant() {
        let base = crate::testutil::Scratch::new("sbx");
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
    }

    /// Runs `f` on a thread sandboxed with `policy` and returns the `sandbox` source with what
    /// `f` gave; `None` (the test says "skipped") where the kernel has no Landlock.
    fn landlocked<T: Send + 'static>(
        policy: Policy,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<(Source, T)> {
        let (source, out) = std::thread::spawn(move || (apply(&policy), f()))
            .join()
            .unwrap();
        assert_ne!(source.status, SourceStatus::Failed, "{source:?}");
        if !source.detail.contains("Landlock ABI") {
            eprintln!("skipped: no Landlock here ({})", source.detail);
            return None;
        }
        Some((source, out))
    }

    /// A device rule for a node found inside a root lands only on that inode: a path that
    /// opens another file by the time the rules are made gets none, and the source says so.
    #[test]
    fn sandbox_device_rule_lands_only_on_the_node_found() {
        use std::os::unix::fs::MetadataExt as _;
        let base = crate::testutil::Scratch::new("sbx-dev");
        let (node, other) = (base.join("node"), base.join("other"));
        for dir in [&node, &other] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("f"), "x").unwrap();
        }
        let found = std::fs::metadata(&node).unwrap();
        let found = Some((found.dev(), found.ino()));
        let policy = Policy {
            devices: vec![
                Device {
                    path: node.clone(),
                    inode: found,
                },
                Device {
                    path: other.clone(),
                    inode: found,
                },
            ],
            ..Policy::default()
        };
        let (n, o) = (node.clone(), other.clone());
        let Some((source, (read_node, read_other))) = landlocked(policy, move || {
            let read = |p: &Path| std::fs::read_to_string(p.join("f")).map_err(|e| e.kind());
            (read(&n), read(&o))
        }) else {
            return;
        };
        assert_eq!(read_node.as_deref(), Ok("x"), "{source:?}");
        assert_eq!(read_other, Err(std::io::ErrorKind::PermissionDenied));
        assert!(source.detail.contains("1 rule(s)"), "{}", source.detail);
        assert!(
            source.detail.contains(&format!(
                "no rule for {} (not the node found inside the root: it changed)",
                other.display()
            )),
            "{}",
            source.detail
        );
    }

    #[test]
    fn sandbox_policy_for_a_fixture_reads_only_the_root() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = crate::testutil::Scratch::new("sandbox");
        std::fs::create_dir_all(dir.join("dev/nvidia-caps")).unwrap();
        std::fs::write(dir.join("dev/nvidiactl"), "").unwrap();
        std::fs::write(dir.join("dev/null"), "").unwrap();
        // A link is followed inside the root, as the probe follows it: to the root's own
        // `dev/nvidia-caps` (a rule), to its `dev/null` (a regular file, only read: none), to
        // a path the root does not have (none); a regular file (a fixture's node) is only read.
        let outside = crate::testutil::Scratch::new("sandbox-outside");
        std::fs::create_dir_all(outside.join("nvidia0")).unwrap();
        for (link, target) in [
            ("dev/nvidia0", Path::new("/dev/null")),
            ("dev/nvidia1", Path::new("/dev/nvidia-caps")),
            ("dev/nvidia2", &*outside.join("nvidia0")),
        ] {
            let _ = std::fs::remove_file(dir.join(link));
            std::os::unix::fs::symlink(target, dir.join(link)).unwrap();
        }
        let p = Policy::for_run(&Root::at(&dir), &crate::Env::default(), None);
        assert!(p.machine);
        // Whether the root's files are read through a `nodev` copy is the root's to say.
        assert_eq!(p.root_nodev, None);
        let refused = Root::at_with_files(&*dir, |_| Err(Errno::PERM));
        let q = Policy::for_run(&refused, &crate::Env::default(), None);
        assert_eq!(q.root_nodev, Some(Err(Errno::PERM)));
        assert_eq!(Policy { root_nodev: None, ..q }, p, "and nothing else");
        let host = Policy::for_run(&Root::host(), &crate::Env::default(), None);
        assert_eq!(host.root_nodev, None);
        let files = Policy::for_files(vec![dir.to_path_buf()]);
        assert!(!files.machine && files.devices.is_empty(), "scan's");
        let replays = Policy::for_replays(vec![dir.to_path_buf()]);
        assert!(replays.machine && replays.devices.is_empty(), "compare's");
        // `/dev/null` is read (the deadline hands stdout back to it), not a device.
        assert_eq!(p.read, vec![dir.to_path_buf(), PathBuf::from("/dev/null")]);
        let caps = std::fs::metadata(dir.join("dev/nvidia-caps")).unwrap();
        assert_eq!(
            p.devices,
            vec![Device {
                path: dir.join("dev/nvidia-caps"),
                inode: Some((caps.dev(), caps.ino())),
            }]
        );
        // A root whose `dev` links out of it (to a directory of NVIDIA entries) gets no rule
        // for what is there: the probe would look for `/dev` inside the root.
        let linked = crate::testutil::Scratch::new("sandbox-linked-dev");
        std::os::unix::fs::symlink(&*outside, linked.join("dev")).unwrap();
        let p = Policy::for_run(&Root::at(&linked), &crate::Env::default(), None);
        assert!(p.devices.is_empty(), "{:?}", p.devices);
        assert!(p.exec.is_empty() && p.write.is_empty() && !p.spawns_children);
        // A fixture without NVIDIA nodes: no device, so a filter without ioctl.
        let bare = crate::testutil::Scratch::new("sandbox-bare");
        std::fs::create_dir_all(bare.join("dev")).unwrap();
        std::fs::write(bare.join("dev/nvidiactl"), "type=char\n").unwrap();
        let p = Policy::for_run(&Root::at(&bare), &crate::Env::default(), None);
        assert!(p.devices.is_empty(), "{:?}", p.devices);
        let shim = dir.join("nvprobe-shim");
        let p = Policy::for_run(&Root::at(&dir), &crate::Env::default(), Some(&shim));
        assert!(p.spawns_children);
        assert!(
            p.devices.contains(&Device::host("/dev/null")),
            "the shim's stdio"
        );
        assert_eq!(p.exec.first(), Some(&shim));
        assert!(
            p.read.contains(&PathBuf::from("/usr")),
            "the shim reads host libraries"
        );
        let rules = landlock_rules(&p);
        assert!(
            rules.iter().all(|r| !r.rights.contains(AccessFs::MakeReg)),
            "no writes"
        );
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
            "/dev/null",
            "/opt/venv",
            "/home/u/.local",
            "/usr/local/cuda/lib64",
        ] {
            assert!(p.read.contains(&PathBuf::from(want)), "{want}");
        }
        assert!(!p.read.contains(&PathBuf::from("relative")));
        // `/dev` is listed, not read: only its NVIDIA nodes (device rules) and `/dev/null` open.
        assert!(!p.read.contains(&PathBuf::from("/dev")));
        assert_eq!(p.list, vec![PathBuf::from("/dev")]);
        let dev = landlock_rules(&p)
            .into_iter()
            .find(|r| r.path == Path::new("/dev"))
            .unwrap();
        assert_eq!(dev.rights, BitFlags::from(AccessFs::ReadDir));
        // With the shim, NVML reads beneath `/dev` as before.
        let shim = Policy::for_run(&Root::host(), &env, Some(Path::new("/opt/nvprobe-shim")));
        assert!(shim.read.contains(&PathBuf::from("/dev")) && shim.list.is_empty());
    }

    /// A host run lists `/dev` but opens no file there that no rule grants: a link where the
    /// probe reads a file (a library in a user's directory, say) cannot lead an open to
    /// another node of `/dev`, whose driver would run its open (a watchdog starts its timer).
    #[test]
    fn sandbox_lists_dev_but_opens_no_node_it_does_not_grant() {
        let base = crate::testutil::Scratch::new("sbx-devlist");
        std::os::unix::fs::symlink("/dev/zero", base.join("libcuda.so.1")).unwrap();
        let policy = Policy {
            read: vec![base.to_path_buf(), PathBuf::from("/dev/null")],
            list: vec![PathBuf::from("/dev")],
            ..Policy::default()
        };
        let dir = base.to_path_buf();
        let Some((_, (listed, null, zero, linked))) = landlocked(policy, move || {
            let open = |p: &Path| std::fs::File::open(p).map(|_| ()).map_err(|e| e.kind());
            let listed = std::fs::read_dir("/dev")
                .map(Iterator::count)
                .map_err(|e| e.kind());
            let null = open(Path::new("/dev/null"));
            let zero = open(Path::new("/dev/zero"));
            let linked = open(&dir.join("libcuda.so.1"));
            (listed, null, zero, linked)
        }) else {
            return;
        };
        assert!(listed.is_ok_and(|n| n > 0), "{listed:?}");
        assert_eq!(null, Ok(()));
        assert_eq!(zero, Err(std::io::ErrorKind::PermissionDenied));
        assert_eq!(linked, Err(std::io::ErrorKind::PermissionDenied));
    }
}
