//! A private `nodev` copy of a `--root` tree's mounts, through which the root's regular files
//! are read ([`crate::root::Root::at_with_files`]).
//!
//! A file the probe reads is opened and then refused by `fstat` unless it is a regular file, so
//! a device node where a file belongs (a capture bundle unpacked by root with `tar`, which
//! keeps the nodes and the modes the archive gives them) has its driver's open run before the
//! refusal: a watchdog starts its timer, a tape rewinds. Opened through a copy of the mounts
//! marked `nodev`, the same node fails with `EACCES` in the kernel's permission check, before
//! any driver code.
//!
//! The copy (`open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`, submounts included, so `/host/proc`
//! of a mounted host reads the same) is attached nowhere: no other process sees it, nothing on
//! the system changes, and it goes when its descriptor is closed at exit. Making it takes
//! `CAP_SYS_ADMIN` over the mount namespace (root on the host, a privileged container) and
//! Linux 5.12 (`mount_setattr`); elsewhere the error is returned and the root reads as before.
//! Only root can make a device node in the first place, and an unprivileged user opens one
//! only where the archive's mode lets them.

use std::os::fd::{AsRawFd as _, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::mount::OpenTreeFlags;

/// A copy of the mounts beneath `dir` (an `O_PATH` directory), every one marked `nodev`.
///
/// # Errors
/// `open_tree`'s or `mount_setattr`'s: `EPERM` without `CAP_SYS_ADMIN` (or under a seccomp
/// profile that refuses them), `ENOSYS` before Linux 5.2 and 5.12, and under gVisor.
pub fn copy(dir: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    let tree = rustix::mount::open_tree(
        dir,
        "",
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE
            | OpenTreeFlags::AT_EMPTY_PATH,
    )?;
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH | libc::AT_RECURSIVE;
    // SAFETY: `mount_setattr(2)` (rustix has no wrapper) reads a NUL-terminated path and
    // `size` bytes of a `struct mount_attr`, both alive for the call; it writes no user memory.
    // `tree` is an open descriptor this function owns.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw const attr,
            size_of::<libc::mount_attr>(),
        )
    };
    if rc != 0 {
        return Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::IO));
    }
    Ok(tree)
}
