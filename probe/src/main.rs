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

    let report = match nvprobe::probe_with_deadline(&opts) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: {e}");
            return ExitCode::from(3);
        }
    };
    let text = if cli.json {
        report.to_json() + "\n"
    } else {
        nvprobe::text::render(&report)
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => {}
        // A reader that went away (`nvprobe | head -1`) is not a failure of the probe.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "nvprobe: cannot write the report: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::from(u8::from(report.has_error()))
}
