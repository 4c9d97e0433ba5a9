//! The binary's last-resort exits, so that every way the process can end maps to a documented
//! exit code (issue 18):
//! - `SIGABRT` (Rust aborts when an allocation fails, after printing "memory allocation of N
//!   bytes failed"): a message and exit 3, not death by signal 6 (status 134);
//! - `SIGXFSZ` (stdout redirected to a file past `RLIMIT_FSIZE`): ignored, so the write fails
//!   with `EFBIG` and `main` exits 3 with "cannot write the output", not death by signal 25;
//! - a backstop timer (`SIGALRM`): the deadline watchdog is a thread, and without one (a
//!   refused `clone`, `RLIMIT_NPROC`) a stalled source would hold the process as long as it
//!   stalls; when the backstop fires before the work is done ([`work_done`]), the process
//!   exits 3 ("the deadline passed before any report") with a message.
//!
//! The handlers only call `write(2)` and `_exit(2)`, which are async-signal-safe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set once the run's work is done and only its output is left to write: the backstop then
/// lets the process finish (it bounds the probing and the scanning, not how long a reader
/// takes to read what was found).
static WORK_DONE: AtomicBool = AtomicBool::new(false);

/// The run's work is done: from now on the backstop timer does nothing.
pub fn work_done() {
    WORK_DONE.store(true, Ordering::SeqCst);
}

const ABORT_MESSAGE: &[u8] =
    b"nvprobe: internal error: the process aborted (out of memory?); exit 3\n";
const DEADLINE_MESSAGE: &[u8] =
    b"nvprobe: the deadline passed before a report could be written; exit 3\n";

extern "C" fn on_abort(_: libc::c_int) {
    last_words(ABORT_MESSAGE);
}

extern "C" fn on_alarm(_: libc::c_int) {
    // An atomic load is async-signal-safe. Returning resumes the interrupted call (or fails it
    // with EINTR, which the writers retry).
    if !WORK_DONE.load(Ordering::SeqCst) {
        last_words(DEADLINE_MESSAGE);
    }
}

/// Writes `msg` to stderr and ends the process with exit code 3.
fn last_words(msg: &[u8]) {
    // SAFETY: `msg` is a valid slice for `msg.len()` bytes; write(2) only reads it, and is
    // async-signal-safe. Its result does not matter: the process ends next.
    let _ = unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
    super::exit_now(3);
}

/// Sets `handler` for `signal` (no `SA_RESTART`: nothing returns from these handlers).
fn set(signal: libc::c_int, handler: libc::sighandler_t) -> bool {
    // SAFETY: an all-zero `sigaction` is a valid value (no flags, empty mask).
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    // SAFETY: `action` is a valid, initialised `sigaction`; the old action is not asked for
    // (null). The handlers are `extern "C" fn(c_int)` that only write and `_exit`.
    let rc = unsafe { libc::sigaction(signal, &raw const action, std::ptr::null_mut()) };
    rc == 0
}

/// Installs the last-resort exits; with `backstop`, arms a one-shot timer that ends the process
/// (exit 3) that long from now. Call once, early in `main`, before the sandbox (which does not
/// allow `setitimer`). Failures are ignored: the process then ends as it would have before.
pub fn install(backstop: Option<Duration>) {
    let abort: extern "C" fn(libc::c_int) = on_abort;
    let alarm: extern "C" fn(libc::c_int) = on_alarm;
    let _ = set(libc::SIGABRT, abort as libc::sighandler_t);
    let _ = set(libc::SIGXFSZ, libc::SIG_IGN);
    let Some(after) = backstop else {
        return;
    };
    if !set(libc::SIGALRM, alarm as libc::sighandler_t) {
        return;
    }
    let timer = libc::itimerval {
        it_interval: libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        it_value: libc::timeval {
            // The field types differ between C libraries (musl's are deprecated aliases in
            // libc): converted by inference. A backstop is at most `--timeout` (600 s) past
            // its deadline, so both fit.
            tv_sec: after.as_secs().try_into().unwrap_or_default(),
            tv_usec: after.subsec_micros().max(1).into(),
        },
    };
    // SAFETY: `timer` is a valid `itimerval`; the old value is not asked for (null).
    let _ = unsafe { libc::setitimer(libc::ITIMER_REAL, &raw const timer, std::ptr::null_mut()) };
}
