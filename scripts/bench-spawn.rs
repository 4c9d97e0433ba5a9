// The spawn harness of scripts/bench: runs every case with posix_spawn, round-robin, and prints
// one line per run: `case wall_ns exit cpu_us maxrss_kib`. Every case, the do-nothing floor
// included, is started the same way by the same small static parent, so the ratios between
// cases measure the programs and not the harness (Python's subprocess adds ~0.5 ms a start).
// The child's peak RSS comes from wait4's rusage; Linux starts a child's high-water mark at
// its parent's RSS when it execs, which is why the parent is this small static program.
//
// Usage: bench-spawn RUNS WARMUP ARGV... [:: ARGV...]...   (stdin, stdout, stderr: /dev/null)
// Built by scripts/bench with rustc alone (no crates): the few libc calls are declared here.
use std::ffi::{CString, c_char, c_int, c_void};
use std::io::Write;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    rest: [i64; 14],
}

unsafe extern "C" {
    fn posix_spawn(
        pid: *mut c_int,
        path: *const c_char,
        actions: *const c_void,
        attr: *const c_void,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> c_int;
    fn posix_spawn_file_actions_init(actions: *mut c_void) -> c_int;
    fn posix_spawn_file_actions_addopen(
        actions: *mut c_void,
        fd: c_int,
        path: *const c_char,
        flags: c_int,
        mode: u32,
    ) -> c_int;
    fn wait4(pid: c_int, status: *mut c_int, options: c_int, usage: *mut Rusage) -> c_int;
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    static environ: *const *const c_char;
}

fn now_ns() -> i64 {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: ts is a valid out-pointer; CLOCK_MONOTONIC is 1.
    unsafe { clock_gettime(1, &raw mut ts) };
    ts.sec * 1_000_000_000 + ts.nsec
}

struct Case {
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        eprintln!("usage: bench-spawn RUNS WARMUP ARGV... [:: ARGV...]...");
        std::process::exit(2);
    }
    let runs: usize = args[0].parse().unwrap_or(100);
    let warmup: usize = args[1].parse().unwrap_or(3);
    let cases: Vec<Case> = args[2..]
        .split(|a| a == "::")
        .filter(|c| !c.is_empty())
        .map(|c| {
            let owned: Vec<CString> = c.iter().map(|a| CString::new(a.as_str()).unwrap()).collect();
            let mut argv: Vec<*const c_char> = owned.iter().map(|a| a.as_ptr()).collect();
            argv.push(std::ptr::null());
            Case { _args: owned, argv }
        })
        .collect();
    // 128 bytes is more than musl's and glibc's posix_spawn_file_actions_t.
    let mut actions = [0u64; 16];
    let devnull = CString::new("/dev/null").unwrap();
    // SAFETY: actions is large enough and aligned for posix_spawn_file_actions_t.
    unsafe { posix_spawn_file_actions_init(actions.as_mut_ptr().cast()) };
    for fd in 0..3 {
        let flags = if fd == 0 { 0 } else { 1 }; // O_RDONLY, O_WRONLY
        // SAFETY: actions was initialised above; devnull is a valid C string.
        unsafe {
            posix_spawn_file_actions_addopen(actions.as_mut_ptr().cast(), fd, devnull.as_ptr(), flags, 0)
        };
    }
    let mut lines = Vec::with_capacity(runs * cases.len());
    for round in 0..warmup + runs {
        for (i, case) in cases.iter().enumerate() {
            let mut pid: c_int = 0;
            let t0 = now_ns();
            // SAFETY: argv is a NULL-terminated array of valid C strings; environ is libc's.
            let rc = unsafe {
                posix_spawn(&raw mut pid, case.argv[0], actions.as_ptr().cast(), std::ptr::null(),
                            case.argv.as_ptr(), environ)
            };
            if rc != 0 {
                eprintln!("posix_spawn failed for case {i}: errno {rc}");
                std::process::exit(1);
            }
            let mut status: c_int = 0;
            let mut ru = Rusage { utime: [0; 2], stime: [0; 2], rest: [0; 14] };
            // SAFETY: pid is our child; status and ru are valid out-pointers.
            unsafe { wait4(pid, &raw mut status, 0, &raw mut ru) };
            let t1 = now_ns();
            if round >= warmup {
                let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) };
                let cpu_us = ru.utime[0] * 1_000_000 + ru.utime[1] + ru.stime[0] * 1_000_000 + ru.stime[1];
                lines.push((i, t1 - t0, code, cpu_us, ru.rest[0]));
            }
        }
    }
    let mut out = std::io::stdout().lock();
    for (i, ns, code, cpu, rss) in lines {
        let _ = writeln!(out, "{i} {ns} {code} {cpu} {rss}");
    }
}
