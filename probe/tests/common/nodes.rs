//! Device nodes in tests: making one where a file was, and seeing whether something opened it.
//! Shared by the binary tests (`common`) and the library's unit tests (`testutil`).

use std::path::Path;

/// Replaces `path` (if there) with the character device `major:minor`, mode 0644: false where
/// that is not allowed (no `CAP_MKNOD`), for the test to say "skipped".
pub(crate) fn make_char_node(path: &Path, major: u32, minor: u32) -> bool {
    use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{}: {e}", path.display()),
        _ => {}
    }
    let mode = Mode::from_raw_mode(0o644);
    mknodat(
        CWD,
        path,
        FileType::CharacterDevice,
        mode,
        makedev(major, minor),
    )
    .is_ok()
}

/// How many times `node` is opened (inotify `IN_OPEN`, which the kernel sends once the
/// driver's open has run) while `run` runs, and what `run` gave.
pub(crate) fn opens_of<T>(node: &Path, run: impl FnOnce() -> T) -> (usize, T) {
    use rustix::fs::inotify;
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).unwrap();
    inotify::add_watch(&fd, node, inotify::WatchFlags::OPEN).unwrap();
    let out = run();
    let mut buf = [std::mem::MaybeUninit::uninit(); 4096];
    let mut events = inotify::Reader::new(&fd, &mut buf);
    let mut opens = 0;
    while let Ok(event) = events.next() {
        opens += usize::from(event.events().contains(inotify::ReadFlags::OPEN));
    }
    (opens, out)
}
