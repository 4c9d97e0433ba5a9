//! The `nvprobe` binary: parse, probe, print, exit with the documented code.
//!
//! Exit codes: 0 report written, no `error` finding; 1 report written with at least one
//! `error` finding; 2 usage error; 3 the probe itself failed (deadline before any report).
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;
use nvprobe::cli::Cli;
use nvprobe::root::Root;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let root = cli.root.clone().map_or_else(Root::host, Root::at);
    let mut opts = nvprobe::Options::new(root);
    opts.deep = cli.deep;
    opts.cross_check = cli.cross_check;
    opts.timeout = Duration::from_millis(cli.timeout);
    opts.env = nvprobe::Env::from_process();
    // `--root` on a capture bundle: its ioctl replies, environment and flags are replayed.
    if let Some(dir) = &cli.root {
        nvprobe::capture::prepare_replay(&mut opts, dir);
    }
    // `nvprobe capture --out DIR`: DIR is checked before anything is probed.
    // `nvprobe scan PATH...` reads only the given files: no machine probe.
    if let Some(nvprobe::cli::Command::Scan(args)) = &cli.command {
        return scan(&cli, &args.paths);
    }
    let capture = match &cli.command {
        Some(nvprobe::cli::Command::Capture(args)) => Some(args),
        _ => None,
    };
    // `nvprobe check`: arguments are validated before anything is probed.
    let check = match &cli.command {
        Some(nvprobe::cli::Command::Check(args)) => {
            match nvprobe::doctor::CheckRequest::new(args.cuda.as_deref(), args.require.as_deref())
                .and_then(|req| req.with_binaries(&args.binary))
            {
                Ok(req) => Some(req),
                Err(msg) => {
                    let _ = writeln!(std::io::stderr(), "nvprobe check: {msg}");
                    return ExitCode::from(2);
                }
            }
        }
        Some(nvprobe::cli::Command::Capture(_) | nvprobe::cli::Command::Scan(_)) | None => None,
    };

    // Debug builds only: stall a named source (`NVPROBE_TEST_STALL=sysfs-pci:30000`), so the
    // binary tests can show the process exits at the deadline with the worker still stuck.
    #[cfg(debug_assertions)]
    if let Some((name, ms)) = std::env::var("NVPROBE_TEST_STALL")
        .ok()
        .and_then(|v| {
            v.split_once(':')
                .map(|(n, m)| (n.to_owned(), m.parse().ok()))
        })
        .and_then(|(n, m)| Some((n, m?)))
    {
        opts.stall = Some((name, Duration::from_millis(ms)));
    }
    // The sandbox goes on while the process has one thread (the deadline worker inherits it).
    let sandbox = if cli.no_sandbox {
        nvprobe::sys::sandbox::turned_off()
    } else if capture.is_some() {
        nvprobe::report::Source::new(
            nvprobe::sys::sandbox::SOURCE,
            nvprobe::report::SourceStatus::Skipped,
            "not applied: capture creates directories, files and symlinks under --out",
        )
    } else {
        let shim = if opts.cross_check {
            nvprobe::crosscheck::locate_shim().ok()
        } else {
            None
        };
        let mut policy =
            nvprobe::sys::sandbox::Policy::for_run(&opts.root, &opts.env, shim.as_deref());
        if let Some(req) = &check {
            policy.read.extend(
                req.binaries
                    .iter()
                    .filter_map(|p| std::fs::canonicalize(p).ok()),
            );
        }
        nvprobe::sys::sandbox::apply(&policy)
    };

    let probed = match capture {
        Some(args) => match nvprobe::capture::run(&opts, &args.out, args.redact) {
            Ok(c) => {
                let m = &c.meta;
                let _ = writeln!(
                    std::io::stderr(),
                    "nvprobe: captured {} files ({} bytes), {} symlinks, {} device stand-ins and {} ioctl events into {}{}",
                    m.copied.files,
                    m.copied.bytes,
                    m.copied.links,
                    m.copied.stand_ins,
                    m.ioctl_events,
                    args.out.display(),
                    if m.redacted { " (redacted)" } else { "" }
                );
                Ok(c.report)
            }
            Err(nvprobe::capture::CaptureError::Usage(msg)) => {
                let _ = writeln!(std::io::stderr(), "nvprobe capture: {msg}");
                return ExitCode::from(2);
            }
            Err(e) => Err(format!("capture: {e}")),
        },
        None => nvprobe::probe_with_deadline(&opts).map_err(|e| e.to_string()),
    };
    let mut report = match probed {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: {e}");
            return ExitCode::from(3);
        }
    };
    report.sources.insert(0, sandbox);
    let (text, code) = if let Some(req) = &check {
        let result = nvprobe::doctor::check(&mut report, req, &opts.env);
        let text = if cli.json {
            nvprobe::doctor::check_json(&report, &result) + "\n"
        } else {
            nvprobe::doctor::render_check(&report, &result)
        };
        (text, nvprobe::doctor::exit_code(&result))
    } else if cli.json {
        (report.to_json() + "\n", u8::from(report.has_error()))
    } else {
        (nvprobe::text::render(&report), u8::from(report.has_error()))
    };
    // A capture succeeded once its bundle is written, whatever the report found.
    let code = if capture.is_some() { 0 } else { code };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // The report is out: hand stdout back now, so a reader waiting for end-of-file gets it
        // even while an abandoned worker is stuck in the kernel (which keeps the process, and
        // its file table, alive until the call returns).
        Ok(()) => nvprobe::sys::release_stdout(),
        // A reader that went away (`nvprobe | head -1`) is not a failure of the probe.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: cannot write the report: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::from(code)
}

/// `nvprobe scan`: the CUDA content of ELF files; exit 0 when every path was read, 1 when one
/// could not be.
fn scan(cli: &Cli, paths: &[std::path::PathBuf]) -> ExitCode {
    let sandbox = if cli.no_sandbox {
        None
    } else {
        let policy = nvprobe::sys::sandbox::Policy {
            read: paths
                .iter()
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .collect(),
            ..nvprobe::sys::sandbox::Policy::default()
        };
        Some(nvprobe::sys::sandbox::apply(&policy))
    };
    let results = nvprobe::cudabin::scan_paths(paths, &nvprobe::cudabin::ScanLimits::default());
    let text = if cli.json {
        nvprobe::cudabin::scan_json(&results) + "\n"
    } else {
        nvprobe::cudabin::render_scan(&results)
    };
    drop(sandbox);
    let failed = results
        .iter()
        .any(|r| r.kind == nvprobe::cudabin::FileKind::Error);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: cannot write the scan: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::from(u8::from(failed))
}
