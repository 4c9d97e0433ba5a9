//! The `nvprobe` binary: parse, run ([`nvprobe::app::run_or_exit_at_deadline`]), print, exit
//! with its code.
//!
//! Exit codes: 0 report written, no `error` finding; 1 report written with at least one
//! `error` finding; 2 usage error; 3 the probe itself failed (deadline before any report, or an
//! internal error: a panic, see [`nvprobe::app::exit_3_on_panic`]).
use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// musl's malloc hands every freed group of slots back to the kernel at once: a run made ~60
/// mmap and ~40 munmap calls for its own small allocations, and with the deadline watchdog's
/// thread alive each munmap is a TLB shootdown on another CPU. dlmalloc keeps freed memory
/// for the next allocation (only large blocks go back), which the commit that chose it
/// measured. glibc's malloc already keeps it, so other builds use the system allocator.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    nvprobe::app::exit_3_on_panic();
    let cli = match nvprobe::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // The last-resort exits (abort, SIGXFSZ, and a backstop past the deadline in case the
    // watchdog thread cannot run), before the sandbox, which refuses `setitimer`.
    nvprobe::sys::signals::install(Some(nvprobe::app::backstop(&cli)));
    let outcome = nvprobe::app::run_or_exit_at_deadline(&cli, nvprobe::Env::from_process(), |o| {
        // The deadline passed: the watchdog writes the partial outcome and exits, while the
        // probing thread may be stuck in the kernel.
        let _ = write(o, true);
    });
    // The probe came back, so no thread is stuck: the exit that follows closes stdout.
    let code = match write(&outcome, false) {
        Ok(()) => outcome.code,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: cannot write the output: {e}");
            3
        }
    };
    // Everything is written and flushed (`write`; stderr is unbuffered).
    nvprobe::sys::exit_now(code)
}

/// Writes an outcome: stderr's messages, then stdout, then (with `release`) hands stdout back.
fn write(outcome: &nvprobe::app::Outcome, release: bool) -> std::io::Result<()> {
    let _ = std::io::stderr().write_all(outcome.stderr.as_bytes());
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(outcome.stdout.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // The output is out: hand stdout back now, so a reader waiting for end-of-file gets it
        // even while a thread is stuck in the kernel (which keeps the process, and its file
        // table, alive until the call returns).
        Ok(()) => {
            if release {
                nvprobe::sys::release_stdout();
            }
            Ok(())
        }
        // A reader that went away (`nvprobe | head -1`) is not a failure of the probe.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e),
    }
}
