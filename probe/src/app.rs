//! The command dispatch of the `nvprobe` binary, as a function: parsed arguments and the
//! environment in, the bytes for stdout and stderr and the exit code out. `main.rs` only
//! parses, calls [`run`], prints and exits, so the whole command line is testable in-process.
//!
//! Exit codes: 0 report written, no `error` finding; 1 report written with at least one
//! `error` finding (for `check`: not satisfied; for `scan`: a path could not be read, or the deadline cut the scan short); 2 usage
//! error; 3 the probe itself failed (deadline before any report). `labels`, `export`, `schema`
//! and `capture` exit 0 once their output is written, whatever the report found. `explain`:
//! 0 none of the message's causes present, 1 one present (or unknown), 4 the text matches no
//! known message ([`crate::explain`]). `compare`: 0 the same everywhere, 1 a difference or an
//! input unread ([`crate::compare`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::{Cli, Command, ExportFormat, LabelsArgs};
use crate::report::{Report, Source, SourceStatus};
use crate::root::Root;
use crate::{Env, Options};

/// What a run produced: write `stdout`, then hand stdout back
/// ([`crate::sys::release_stdout`]); write `stderr`; exit with `code`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The report, verdict, labels or export.
    pub stdout: String,
    /// Messages for people (usage errors, the capture summary); empty on a plain run.
    pub stderr: String,
    /// The process exit code.
    pub code: u8,
}

impl Outcome {
    fn out(stdout: String, code: u8) -> Self {
        Self {
            stdout,
            stderr: String::new(),
            code,
        }
    }

    fn err(stderr: String, code: u8) -> Self {
        Self {
            stdout: String::new(),
            stderr,
            code,
        }
    }
}

/// Runs one `nvprobe` command line. It applies the self-sandbox (`no_new_privs`, Landlock,
/// seccomp) to the **calling process** unless `--no-sandbox`: call it once, from the binary,
/// while the process has one thread. A host program wants [`crate::probe`] instead.
pub fn run(cli: &Cli, env: Env) -> Outcome {
    run_with(cli, env, None)
}

/// [`run`] for the binary: the probe runs on the calling thread under a watchdog
/// ([`crate::probe_with_watchdog`]). If the deadline passes first, the watchdog builds the
/// outcome from the partial report, hands it to `emit` (which writes it) and exits the
/// process with its code; otherwise this returns like [`run`].
pub fn run_or_exit_at_deadline(cli: &Cli, env: Env, emit: fn(&Outcome)) -> Outcome {
    run_with(cli, env, Some(emit))
}

/// How long after its start the binary's backstop timer ends the process with exit 3
/// ([`crate::sys::signals`]): the deadline, plus time for the watchdog to write the partial
/// report it gathered (a quarter of the deadline, at least 250 ms). It only acts when the
/// watchdog cannot: no thread, or a report too large to write in that time.
pub fn backstop(cli: &Cli) -> Duration {
    let deadline = Duration::from_millis(cli.options().timeout_ms());
    deadline + (deadline / 4).max(Duration::from_millis(250))
}

/// Makes a panic end the binary with exit code 3 ("the probe itself failed") and a message on
/// stderr, instead of an abort (signal 6, exit status 134) that no caller's exit-code table
/// knows. No input should cause a panic (issue 10); this is the net under that rule. The
/// process ends from the hook, so no partial output follows the message.
pub fn exit_3_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let msg = format!(
            "nvprobe: internal error (a bug): {info}\n\
             nvprobe: please report it with a bundle from `nvprobe capture --out DIR`\n"
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
        crate::sys::exit_now(3)
    }));
}

/// What a run does with its report once it has one (owned, so a watchdog can do it too).
#[derive(Clone, Debug)]
struct Finish {
    json: bool,
    kind: FinishKind,
    check: Option<crate::doctor::CheckRequest>,
    env: Env,
    sandbox: Source,
    /// The binary: the process ends once this outcome is written ([`run_or_exit_at_deadline`]),
    /// so the report is left to the exit rather than freed one allocation at a time.
    exits: bool,
}

#[derive(Clone, Debug)]
enum FinishKind {
    Report,
    /// With `--output FILE`: written there instead of stdout.
    Labels(Option<PathBuf>),
    Export(ExportFormat),
    Capture,
    /// `nvprobe explain`: the text and the messages it matches.
    Explain(String, Vec<crate::explain::Message>),
}

impl Finish {
    fn outcome(self, probed: Result<Report, String>, stderr: String) -> Outcome {
        let json = self.json;
        let mut report = match probed {
            Ok(r) => r,
            Err(e) => return Outcome::err(format!("nvprobe: {e}\n"), 3),
        };
        report.sources.insert(0, self.sandbox);
        let (stdout, code) = match (self.kind, &self.check) {
            (FinishKind::Explain(text, messages), None) => {
                let e = crate::explain::explain(&report, &text, messages, &self.env);
                let out = if json {
                    crate::explain::to_json(&report, &e)
                } else {
                    crate::explain::render(&report, &e)
                };
                (out, e.exit_code())
            }
            (_, Some(req)) => {
                let result = crate::doctor::check(&report, req, &self.env);
                let text = if self.json {
                    crate::doctor::check_json(&report, &result) + "\n"
                } else {
                    crate::doctor::render_check(&report, &result)
                };
                (text, crate::doctor::exit_code(&result))
            }
            // Labels and exports are written whatever the report found: a hook or an `eval` that
            // fails on a broken node would drop the very labels that say it is broken.
            (FinishKind::Labels(None), None) => (labels(&report, self.json), 0),
            (FinishKind::Labels(Some(file)), None) => {
                match write_atomically(&file, &labels(&report, self.json)) {
                    Ok(()) => (String::new(), 0),
                    Err(e) => {
                        return Outcome {
                            stdout: String::new(),
                            stderr: format!(
                                "{stderr}nvprobe: cannot write {}: {e}\n",
                                crate::escape::escape(&file.to_string_lossy())
                            ),
                            code: 3,
                        };
                    }
                }
            }
            (FinishKind::Export(format), None) => (export(&report, format, self.json), 0),
            // A capture succeeded once its bundle is written, whatever the report found.
            (FinishKind::Capture, None) => (render(&report, self.json), 0),
            (FinishKind::Report, None) => {
                (render(&report, self.json), u8::from(report.has_error()))
            }
        };
        if self.exits {
            // Freeing the report would walk every GPU, source and finding of it (~2% of a
            // fixture run's instructions) for a process about to end.
            std::mem::forget(report);
        }
        Outcome {
            stdout,
            stderr,
            code,
        }
    }
}

fn run_with(cli: &Cli, env: Env, emit: Option<fn(&Outcome)>) -> Outcome {
    // `--timeout` bounds the whole command, counted from here.
    let started = Instant::now();
    match &cli.command {
        // No probe, no sandbox: the schema is embedded in the binary.
        Some(Command::Schema) => {
            return Outcome::out(format!("{}\n", crate::report::JSON_SCHEMA.trim_end()), 0);
        }
        // `nvprobe scan PATH...` reads only the given files: no machine probe.
        Some(Command::Scan(args)) => return scan(&cli.options(), &args.paths, started),
        // `nvprobe compare` reads reports, bundles or node lists: no machine probe.
        Some(Command::Compare(args)) => return compare(&cli.options(), args, started),
        _ => {}
    }
    let o = cli.options();
    // A --root that is not a directory is a mistake in the command line (a missing host
    // mount in a DaemonSet, a typo), not a machine without a GPU.
    if let Some(dir) = &o.root {
        let why = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some("not a directory".to_owned()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            return Outcome::err(
                format!(
                    "nvprobe: --root {}: {why}\n",
                    crate::escape::escape(&dir.to_string_lossy())
                ),
                2,
            );
        }
    }
    // `labels --output FILE`: its directory must exist (NFD's features.d on the host mount).
    let output_dir = match &cli.command {
        Some(Command::Labels(LabelsArgs {
            output: Some(file), ..
        })) => {
            let dir = output_dir(file);
            if !dir.is_dir() {
                return Outcome::err(
                    format!(
                        "nvprobe: --output {}: {} is not a directory\n",
                        crate::escape::escape(&file.to_string_lossy()),
                        crate::escape::escape(&dir.to_string_lossy())
                    ),
                    2,
                );
            }
            Some(dir)
        }
        _ => None,
    };
    // Under `--root` the tree's regular files are read through a `nodev` copy of its mounts
    // where one can be made (`sys::nodev`), unless `--no-sandbox` turns the self-protection off.
    let root = match o.root.clone() {
        None => Root::host(),
        Some(dir) if o.no_sandbox => Root::at(dir),
        Some(dir) => Root::at_with_files(dir, crate::sys::nodev::copy),
    };
    let mut opts = Options::new(root);
    opts.deep = o.deep;
    opts.cross_check = o.cross_check;
    opts.timeout = Duration::from_millis(o.timeout_ms());
    opts.env = env;
    // `--root` on a capture bundle: its ioctl replies, environment and flags are replayed.
    if let Some(dir) = &o.root {
        crate::capture::prepare_replay(&mut opts, dir);
    }
    // `nvprobe explain TEXT`: a text that matches no known message is answered unprobed.
    if let Some(Command::Explain(args)) = &cli.command {
        let text = args.text.join(" ");
        if crate::explain::recognise(&text).is_empty() {
            let out = if o.json {
                crate::explain::json_unknown(&text)
            } else {
                crate::explain::render_unknown(&text)
            };
            return Outcome::out(out, crate::explain::EXIT_UNKNOWN_MESSAGE);
        }
    }
    // `nvprobe capture --out DIR`: DIR is checked before anything is probed.
    let capture = match &cli.command {
        Some(Command::Capture(args)) => Some(args),
        _ => None,
    };
    // `nvprobe check`: arguments are validated before anything is probed.
    let check = match &cli.command {
        Some(Command::Check(args)) => {
            let deadline = crate::cudabin::Deadline::after(started, opts.timeout);
            match crate::doctor::CheckRequest::new(args.cuda.as_deref(), args.require.as_deref())
                .and_then(|req| req.with_binaries(&args.binary))
                .and_then(|req| req.with_python(&args.python, deadline))
            {
                // Reading the binaries stops at the run's deadline, like the probe.
                Ok(req) => Some(crate::doctor::CheckRequest {
                    deadline: crate::cudabin::Deadline::after(started, opts.timeout),
                    ..req
                }),
                Err(msg) => return Outcome::err(format!("nvprobe check: {msg}\n"), 2),
            }
        }
        _ => None,
    };

    // Debug builds only: stall a named source (`NVPROBE_TEST_STALL=sysfs-pci:30000`), so the
    // binary tests can show the process exits at the deadline with the probe still stuck.
    #[cfg(debug_assertions)]
    if let Some((name, ms)) = opts
        .env
        .get("NVPROBE_TEST_STALL")
        .and_then(|v| {
            v.split_once(':')
                .map(|(n, m)| (n.to_owned(), m.parse().ok()))
        })
        .and_then(|(n, m)| Some((n, m?)))
    {
        opts.stall = Some((name, Duration::from_millis(ms)));
    }
    #[cfg(debug_assertions)]
    {
        opts.no_watchdog = opts.env.get("NVPROBE_TEST_NO_WATCHDOG").is_some();
    }
    // The sandbox goes on while the process has one thread (the deadline watchdog inherits it).
    let sandbox = if o.no_sandbox {
        crate::sys::sandbox::turned_off()
    } else if capture.is_some() {
        Source::new(
            crate::sys::sandbox::SOURCE,
            SourceStatus::Skipped,
            "not applied: capture creates directories, files and symlinks under --out",
        )
    } else {
        let shim = if opts.cross_check {
            crate::crosscheck::locate_shim().ok()
        } else {
            None
        };
        let mut policy =
            crate::sys::sandbox::Policy::for_run(&opts.root, &opts.env, shim.as_deref());
        policy.write.extend(output_dir);
        if let Some(req) = &check {
            let binaries = real_paths(&req.binaries);
            policy.read.extend(binaries.iter().cloned());
            let python_libs = real_paths(
                &req.python
                    .iter()
                    .flat_map(crate::doctor::python::PythonEnv::libraries)
                    .collect::<Vec<_>>(),
            );
            policy.read.extend(
                req.python
                    .iter()
                    .flat_map(|env| env.site_packages.iter())
                    .filter_map(|p| std::fs::canonicalize(p).ok()),
            );
            crate::cudabin::wheel::look_above(&binaries);
            crate::cudabin::wheel::look_above(&python_libs);
        }
        crate::sys::sandbox::apply(&policy)
    };

    let finish = Finish {
        json: o.json,
        kind: match &cli.command {
            Some(Command::Explain(args)) => FinishKind::Explain(
                args.text.join(" "),
                crate::explain::recognise(&args.text.join(" ")),
            ),
            Some(Command::Labels(args)) => FinishKind::Labels(args.output.clone()),
            Some(Command::Export(args)) => FinishKind::Export(args.format),
            Some(Command::Capture(_)) => FinishKind::Capture,
            _ => FinishKind::Report,
        },
        check,
        env: opts.env.clone(),
        sandbox,
        exits: emit.is_some(),
    };
    let mut stderr = String::new();
    let probed = match capture {
        Some(args) => match crate::capture::run(&opts, &args.out, args.redact) {
            Ok(c) => {
                let m = &c.meta;
                stderr = format!(
                    "nvprobe: captured {} files ({} bytes), {} symlinks, {} device stand-ins and {} ioctl events into {}{}\n",
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
            Err(crate::capture::CaptureError::Usage(msg)) => {
                return Outcome::err(format!("nvprobe capture: {msg}\n"), 2);
            }
            Err(e) => Err(format!("capture: {e}")),
        },
        None => match emit {
            None => crate::probe_with_deadline(&opts).map_err(|e| e.to_string()),
            Some(emit) => {
                let at_deadline = finish.clone();
                Ok(crate::probe_with_watchdog(&opts, move |probed| {
                    crate::sys::signals::work_done();
                    let outcome =
                        at_deadline.outcome(probed.map_err(|e| e.to_string()), String::new());
                    emit(&outcome);
                    outcome.code
                }))
            }
        },
    };
    crate::sys::signals::work_done();
    finish.outcome(probed, stderr)
}

/// The report, as JSON or as text for people.
fn render(report: &Report, json: bool) -> String {
    if json {
        report.to_json() + "\n"
    } else {
        crate::text::render(report)
    }
}

/// The directory `labels --output FILE` writes in.
fn output_dir(file: &std::path::Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `text` to `file` so that a reader sees the old file or the new one, never a part:
/// into `.NAME.nvprobe-tmp` beside it (NFD skips dot files), then renamed over it.
fn write_atomically(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    let name = file
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".nvprobe-tmp");
    let tmp = output_dir(file).join(tmp_name);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

fn labels(report: &Report, json: bool) -> String {
    if json {
        crate::export::json_text(&crate::export::labels_json(report))
    } else {
        crate::export::nfd_labels(report)
    }
}

fn export(report: &Report, format: ExportFormat, json: bool) -> String {
    use crate::export as x;
    if json {
        let value = match format {
            ExportFormat::Shell => x::shell_json(report),
            ExportFormat::Conda => x::conda_json(report),
            ExportFormat::WheelVariant => x::wheel_variant_json(report),
            ExportFormat::Overrides => x::overrides_json(report),
            ExportFormat::Uv => x::uv_json(report),
        };
        x::json_text(&value)
    } else {
        match format {
            ExportFormat::Shell => x::shell(report),
            ExportFormat::Conda => x::conda(report),
            ExportFormat::WheelVariant => x::wheel_variant(report),
            ExportFormat::Overrides => x::overrides(report),
            ExportFormat::Uv => x::uv(report),
        }
    }
}

/// `nvprobe compare`: exit 0 when every input was read and the nodes are the same where it
/// matters, 1 when they differ or an input could not be read, 2 when a named input does not
/// exist.
fn compare(
    o: &crate::cli::ProbeOptions,
    args: &crate::cli::CompareArgs,
    started: Instant,
) -> Outcome {
    let named: Vec<&PathBuf> = args.paths.iter().chain(&args.k8s_nodes).collect();
    for p in &named {
        if let Err(e) = std::fs::metadata(p) {
            let shown = crate::escape::escape(&p.to_string_lossy()).into_owned();
            return Outcome::err(format!("nvprobe compare: {shown}: {e}\n"), 2);
        }
    }
    // Made before the sandbox, which allows no mount call.
    let copies = if o.no_sandbox || args.k8s_nodes.is_some() {
        crate::compare::NodevCopies::default()
    } else {
        crate::compare::NodevCopies::make(&args.paths)
    };
    if !o.no_sandbox {
        let policy = crate::sys::sandbox::Policy::for_replays(
            named
                .iter()
                .filter_map(|p| std::fs::canonicalize(p).ok())
                .collect(),
        );
        let _ = crate::sys::sandbox::apply(&policy);
    }
    let deadline = started + Duration::from_millis(o.timeout_ms());
    let inputs = match &args.k8s_nodes {
        Some(file) => {
            let name = file.to_string_lossy();
            match crate::compare::read_bounded(file, crate::compare::K8S_LIMIT, false) {
                Ok(bytes) => crate::compare::read_k8s_nodes(&bytes, &name),
                Err(error) => crate::compare::Inputs {
                    unread: vec![crate::compare::Unread {
                        path: name.into_owned(),
                        error,
                    }],
                    ..crate::compare::Inputs::default()
                },
            }
        }
        None => crate::compare::read_paths(&args.paths, deadline, &copies),
    };
    let c = crate::compare::compare(inputs);
    crate::sys::signals::work_done();
    let text = if o.json {
        crate::export::json_text(&crate::compare::to_json(&c))
    } else {
        crate::compare::render(&c)
    };
    Outcome::out(text, c.exit_code())
}

/// `paths` with every symlink resolved (`realpath`), those that exist: what the sandbox grants
/// reading beneath, and where the wheel look-above starts.
fn real_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    paths
        .iter()
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect()
}

/// `nvprobe scan`: the CUDA content of ELF files; exit 0 when every path was read, 1 when one
/// could not be or the `--timeout` deadline (counted from `started`) cut the scan short.
fn scan(o: &crate::cli::ProbeOptions, paths: &[PathBuf], started: Instant) -> Outcome {
    let real = real_paths(paths);
    // The wheels' .dist-info above the paths, read while it still may be.
    crate::cudabin::wheel::look_above(&real);
    if !o.no_sandbox {
        let policy = crate::sys::sandbox::Policy::for_files(real);
        let _ = crate::sys::sandbox::apply(&policy);
    }
    let limits = crate::cudabin::ScanLimits {
        deadline: crate::cudabin::Deadline::after(started, Duration::from_millis(o.timeout_ms())),
        ..crate::cudabin::ScanLimits::default()
    };
    let scan = crate::cudabin::scan(paths, &limits);
    crate::sys::signals::work_done();
    let text = if o.json {
        crate::cudabin::scan_json(&scan) + "\n"
    } else {
        crate::cudabin::render_scan(&scan)
    };
    let failed = scan.stopped.is_some()
        || scan
            .results
            .iter()
            .any(|r| r.kind == crate::cudabin::FileKind::Error);
    Outcome::out(text, u8::from(failed))
}
