//! `nvprobe check --binary PATH...`: will this program run here? One verdict per path, from
//! four parts, each listed in `--json` (`checks[].parts`), the reason naming the first that
//! fails:
//! 1. `elf-machine`: the file's ELF machine is the platform's (an x86-64 binary cannot load on
//!    an aarch64 Jetson);
//! 2. `cuda`: the machine's own CUDA verdict from the rules stage (`report.cuda.can_start`): a
//!    machine whose driver is not loaded, or cannot start CUDA, runs nothing;
//! 3. `runtime`: the CUDA runtime the file needs (`libcudart.so.N`, or the static runtime's
//!    release) against the CUDA version of the user-mode driver that would load (the native
//!    libcuda, cuda-compat's under forward compatibility, L4T's on Jetson). CUDA 11 and later
//!    run a runtime of the same major on any driver of that major (minor-version
//!    compatibility); an older major's driver fails with `cudaErrorInsufficientDriver`. Before
//!    CUDA 11 the driver must be at least the runtime's release (CUDA Compatibility guide,
//!    "Minor Version Compatibility");
//! 4. `kernels`: the GPU code against every usable GPU: SASS for its compute capability (same
//!    major, minor not above, exact for `a` targets, same family for `f` targets), or PTX the
//!    user-mode driver can JIT (its ISA not newer than the driver's CUDA version supports). The
//!    rules are in `cudabin::compat`. Relocatable device-library cubins (libcudadevrt in a
//!    PTX-only `-rdc` program) carry no kernels and never count; whether one does define
//!    kernels is read from its symbol table, decompressing it (Zstandard) within
//!    [`cudabin::DECOMPRESS_FOR_CHECK`] bytes per file and the deadline (`cudabin::inflate`).
//!    One that defines kernels must fit the GPU too; one not read whose SASS does not fit the
//!    GPU makes `kernels` unknown, never satisfied.
//!
//! A path with no CUDA code at all is `no-cuda-code` (exit 1): nothing was found to run, which
//! is never "satisfied". Code the scan could not see (fatbin headers in `.data`, registrations
//! without images) makes `kernels` unknown.

use std::path::PathBuf;

use super::{NO_CUDA_CODE, NOT_SATISFIED, SATISFIED, UNKNOWN};
use crate::codes::{
    BINARY_WRONG_MACHINE, CUDA_MINOR_VERSION_COMPAT, CUDA_RUNTIME_TOO_NEW, DEADLINE_EXCEEDED,
};
use crate::cudabin::{
    self, CudaRuntime, Deadline, FileKind, RelocatableVerdict, ScanLimits, ScanResult, Verdict,
};
use crate::report::{Answer, BinaryPart, CheckItem, ComputeCapability, Finding, Report, Severity};

/// `EM_X86_64`, `EM_AARCH64`, `EM_PPC64`, `EM_CUDA`.
const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;
const EM_PPC64: u16 = 21;
const EM_CUDA: u16 = 190;

/// A GPU CUDA can use here.
#[derive(Clone)]
struct UsableGpu {
    index: u32,
    name: Option<String>,
    cc: Option<(u8, u8)>,
}

/// What the verdict needs from the machine. Read from the report in [`here`] and nowhere
/// else: the rules stage computed all of it (`report.cuda`).
#[derive(Clone)]
pub(super) struct Here {
    /// Would `cuInit` succeed?
    can_start: Answer,
    /// Why not (or the CUDA version and driver when it would).
    cuda_reason: String,
    /// `native`, `cuda-compat`, `tegra`, `wsl`, ...
    user_mode_driver: String,
    /// The CUDA version that user-mode driver gives (cuda-compat's when it is the one loaded,
    /// the L4T release's on Jetson).
    driver_cuda: Option<(u32, u32)>,
    /// The GPUs a CUDA program can use.
    gpus: Vec<UsableGpu>,
    /// The ELF machine of programs here, and its name (`None`: the architecture is unknown;
    /// `Err`: one nvprobe has no ELF machine for).
    machine: Option<Result<(u16, &'static str), String>>,
}

/// The machine facts of [`Here`], from the report.
pub(super) fn here(report: &Report) -> Here {
    let cuda = &report.cuda;
    let gpus = report
        .gpus
        .iter()
        .filter(|g| cuda.usable_gpus.contains(&g.index))
        .map(|g| {
            let view = super::gpu_view(g);
            UsableGpu {
                index: g.index,
                name: view.name.map(str::to_owned),
                cc: view.cc.and_then(cc_of),
            }
        })
        .collect();
    // The model's architecture: nvprobe's own on the host, the kernel module's (or Tegra's)
    // under --root, unknown when nothing says.
    let machine = report.platform.arch.as_deref().map(|a| {
        let arch = crate::report::CpuArch::named(a);
        arch.elf_name()
            .map(|name| (arch.elf_machine(), name))
            .ok_or_else(|| a.to_owned())
    });
    Here {
        can_start: cuda.can_start,
        cuda_reason: cuda.reason.clone(),
        user_mode_driver: cuda.user_mode_driver.to_string(),
        driver_cuda: cuda.user_mode_driver_version.map(|v| (v.major, v.minor)),
        gpus,
        machine,
    }
}

impl Here {
    /// The same machine with a forward-compatibility libcuda of CUDA `cuda` loaded instead
    /// (a Python environment's own cuda-compat, accepted by [`super::compat_problem`]).
    pub(super) fn with_compat(&self, cuda: (u32, u32)) -> Self {
        Self {
            user_mode_driver: "cuda-compat".to_owned(),
            driver_cuda: Some(cuda),
            ..self.clone()
        }
    }
}

/// The `cuda` and `runtime` parts of a framework that loads the CUDA runtime of a major alone
/// and compiles its kernels at run time (cupy-cudaNNx): CUDA 11 and later run on any driver of
/// that major or newer (minor-version compatibility).
pub(super) fn start_parts(here: &Here, what: &str, major: Option<u32>) -> Vec<BinaryPart> {
    let umd = here.user_mode_driver.as_str();
    let (verdict, reason) = match (major, here.driver_cuda) {
        (None, _) => (
            UNKNOWN,
            format!("{what}: the CUDA major it is built for is not known"),
        ),
        (Some(_), None) => (
            UNKNOWN,
            format!("{what}: the user-mode driver's CUDA version is not known"),
        ),
        (Some(m), Some((dmaj, dmin))) if dmaj >= m && m >= 11 => (
            SATISFIED,
            format!(
                "{what} loads a CUDA {m} runtime, which runs on the {umd} user-mode driver's \
                 CUDA {dmaj}.{dmin}"
            ),
        ),
        (Some(m), Some((dmaj, dmin))) => (
            NOT_SATISFIED,
            format!(
                "{what} loads a CUDA {m} runtime, but the {umd} user-mode driver gives CUDA \
                 {dmaj}.{dmin}: it fails with cudaErrorInsufficientDriver"
            ),
        ),
    };
    vec![
        cuda(here),
        BinaryPart {
            part: "runtime".to_owned(),
            verdict: verdict.to_owned(),
            reason,
        },
    ]
}

/// A compute capability.
type Cc = (u8, u8);

/// The `kernels` part of a framework that compiles its kernels at run time with NVRTC of CUDA
/// `nvrtc` (cupy): every usable GPU needs an architecture that NVRTC release can still build
/// for (`data/` compute-capability table); a GPU newer than it gets PTX of the newest
/// architecture it knows, which the driver JIT-compiles. `note` is added to the reason.
pub(super) fn jit_kernels_part(here: &Here, nvrtc: Option<(u32, u32)>, note: &str) -> BinaryPart {
    let mut failed = Vec::new();
    let mut fine = Vec::new();
    // One entry per (name, architecture): `GPUs 0,1 (NVIDIA H100 80GB HBM3): sm_90`.
    let mut groups: Vec<(Option<String>, Option<Cc>, Vec<u32>)> = Vec::new();
    for g in &here.gpus {
        match groups
            .iter_mut()
            .find(|(n, c, _)| *n == g.name && *c == g.cc)
        {
            Some(group) => group.2.push(g.index),
            None => groups.push((g.name.clone(), g.cc, vec![g.index])),
        }
    }
    for (name, cc, indices) in &groups {
        let list: Vec<String> = indices.iter().map(u32::to_string).collect();
        let gpus = format!(
            "GPU{} {}{}",
            if indices.len() > 1 { "s" } else { "" },
            list.join(","),
            name.as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        let Some((a, b)) = *cc else {
            failed.push((UNKNOWN, format!("{gpus}: its architecture is not known")));
            continue;
        };
        let range = crate::tables::toolkits_for_cc(a, b);
        match (nvrtc, range) {
            (Some(v), Some(r)) if r.last.is_some_and(|last| v > last) => failed.push((
                NOT_SATISFIED,
                format!(
                    "{gpus}: sm_{a}{b}, which NVRTC {}.{} cannot build for (CUDA support for it \
                     ended with {}.{})",
                    v.0,
                    v.1,
                    r.last.map_or(0, |l| l.0),
                    r.last.map_or(0, |l| l.1)
                ),
            )),
            (Some(v), Some(r)) if r.first != (7, 0) && v < r.first => fine.push(format!(
                "{gpus}: sm_{a}{b}, newer than NVRTC {}.{} knows: PTX of its newest \
                 architecture, JIT-compiled by the driver",
                v.0, v.1
            )),
            _ => fine.push(format!("{gpus}: sm_{a}{b}")),
        }
    }
    let (verdict, reason) = if failed.iter().any(|(v, _)| *v == NOT_SATISFIED) {
        (
            NOT_SATISFIED,
            failed
                .iter()
                .map(|(_, r)| r.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else if !failed.is_empty() {
        (
            UNKNOWN,
            failed
                .iter()
                .map(|(_, r)| r.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        )
    } else if fine.is_empty() {
        (UNKNOWN, "no usable GPU".to_owned())
    } else {
        (
            SATISFIED,
            format!("compiled at run time by NVRTC for {}", fine.join("; ")),
        )
    };
    BinaryPart {
        part: "kernels".to_owned(),
        verdict: verdict.to_owned(),
        reason: format!("{reason}{note}"),
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        EM_X86_64 => "x86-64".to_owned(),
        EM_AARCH64 => "aarch64".to_owned(),
        EM_PPC64 => "ppc64".to_owned(),
        3 => "i386".to_owned(),
        40 => "arm".to_owned(),
        other => format!("ELF machine {other}"),
    }
}

fn cc_of(cc: ComputeCapability) -> Option<(u8, u8)> {
    Some((u8::try_from(cc.major).ok()?, u8::try_from(cc.minor).ok()?))
}

fn item(expression: &str, verdict: &str, reason: String) -> CheckItem {
    CheckItem {
        kind: "binary".to_owned(),
        expression: expression.to_owned(),
        source: "--binary".to_owned(),
        verdict: verdict.to_owned(),
        via: None,
        reason,
        parts: Vec::new(),
        framework: None,
    }
}

/// The item (never satisfied) and the warning for a path the deadline kept from being read to
/// the end: code it did not read may be the only code for a GPU, or the code that is missing,
/// so there is no verdict either way.
fn cut_short(shown: &str, stopped: &cudabin::Stopped) -> (CheckItem, Finding) {
    let not_read: Vec<&str> = stopped
        .not_read
        .iter()
        .take(3)
        .map(String::as_str)
        .collect();
    let more = stopped.not_read.len().saturating_sub(not_read.len()) + stopped.not_read_more;
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let message = format!(
        "{shown}: not read to the end, so no verdict: {} (not read: {}{more})",
        stopped
            .reason
            .split_once("; ")
            .map_or(stopped.reason.as_str(), |(first, _)| first),
        not_read.join(", ")
    );
    let finding = Finding::new(
        DEADLINE_EXCEEDED,
        Severity::Error,
        message.clone(),
        "Run again with a longer --timeout (in milliseconds) to read all of it.",
    );
    (item(shown, UNKNOWN, message), finding)
}

/// One part's findings across the files of a path: what failed, what is unknown, what is fine.
#[derive(Default)]
struct Tally {
    failed: Vec<String>,
    unknown: Vec<String>,
    fine: Vec<String>,
}

impl Tally {
    fn part(mut self, name: &str, nothing: &str) -> BinaryPart {
        for list in [&mut self.failed, &mut self.unknown, &mut self.fine] {
            let mut seen = std::collections::HashSet::new();
            list.retain(|s| seen.insert(s.clone()));
        }
        let (verdict, reasons) = if !self.failed.is_empty() {
            (NOT_SATISFIED, self.failed)
        } else if !self.unknown.is_empty() {
            (UNKNOWN, self.unknown)
        } else {
            (SATISFIED, self.fine)
        };
        BinaryPart {
            part: name.to_owned(),
            verdict: verdict.to_owned(),
            reason: if reasons.is_empty() {
                nothing.to_owned()
            } else {
                reasons.join("; ")
            },
        }
    }
}

/// One check item per binary path given, and the findings of the binaries that fail. Reading
/// stops at `deadline`: a path not read to the end by then has no verdict (`unknown`).
pub(super) fn check(
    paths: &[PathBuf],
    here: &Here,
    deadline: Option<Deadline>,
) -> (Vec<CheckItem>, Vec<Finding>) {
    let mut items = Vec::new();
    let mut findings = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let limits = ScanLimits {
            deadline,
            max_decompressed_per_file: cudabin::DECOMPRESS_FOR_CHECK,
            ..ScanLimits::default()
        };
        let scan = cudabin::scan(std::slice::from_ref(path), &limits);
        if let Some(stopped) = &scan.stopped {
            let (item, finding) = cut_short(&shown, stopped);
            items.push(item);
            findings.push(finding);
            continue;
        }
        let results = scan.results;
        // A file cut by the per-file byte limit: no verdict from part of it.
        let partial: Vec<&str> = results
            .iter()
            .filter(|r| r.incomplete)
            .map(|r| r.path.as_str())
            .collect();
        if !partial.is_empty() {
            items.push(item(
                &shown,
                UNKNOWN,
                format!(
                    "{shown}: not read to the end (the per-file read limit), so no verdict: {}",
                    partial.join(", ")
                ),
            ));
            continue;
        }
        let errors: Vec<String> = results
            .iter()
            .filter(|r| r.kind == FileKind::Error)
            .map(|r| format!("{}: {}", r.path, r.problems.join("; ")))
            .collect();
        if !errors.is_empty() {
            items.push(item(
                &shown,
                NOT_SATISFIED,
                format!("{shown}: cannot be read: {}", errors.join(", ")),
            ));
            continue;
        }
        let with_code: Vec<&ScanResult> = results.iter().filter(|r| r.has_cuda_code()).collect();
        if with_code.is_empty() {
            items.push(item(
                &shown,
                NO_CUDA_CODE,
                format!(
                    "{shown}: no CUDA code found in {} file(s) (ELF files, archives, fatbins, \
                     cubins): nothing here runs on a GPU",
                    results.len()
                ),
            ));
            continue;
        }
        let runtime_part = runtime(&with_code, here, &mut findings);
        let kernels_part = kernels(&with_code, here, &mut findings);
        let parts = vec![
            elf_machine(&with_code, here, &mut findings),
            cuda(here),
            runtime_part.clone(),
            kernels_part.clone(),
        ];
        let failed = parts
            .iter()
            .find(|p| p.verdict == NOT_SATISFIED)
            .or_else(|| parts.iter().find(|p| p.verdict == UNKNOWN));
        let mut it = match failed {
            // Per-file reasons name their file; the machine's do not.
            Some(p) if p.reason.contains(shown.as_str()) => {
                item(&shown, &p.verdict, p.reason.clone())
            }
            Some(p) => item(&shown, &p.verdict, format!("{shown}: {}", p.reason)),
            None => item(
                &shown,
                SATISFIED,
                format!(
                    "{shown} runs: {}; {}",
                    kernels_part.reason, runtime_part.reason
                ),
            ),
        };
        it.parts = parts;
        items.push(it);
    }
    (items, findings)
}

/// Part 1: each file's ELF machine against the platform's.
fn elf_machine(files: &[&ScanResult], here: &Here, findings: &mut Vec<Finding>) -> BinaryPart {
    let mut tally = Tally::default();
    for r in files {
        let Some(machine) = r.elf_machine.filter(|&m| m != EM_CUDA) else {
            continue;
        };
        match &here.machine {
            None => tally.unknown.push(
                "this machine's CPU architecture is unknown (under --root it comes from \
                 /proc/driver/nvidia/version, which this root lacks)"
                    .to_owned(),
            ),
            Some(Err(arch)) => tally.unknown.push(format!(
                "this machine's architecture ({arch}) is not one nvprobe knows"
            )),
            Some(Ok((want, name))) if machine == *want => tally.fine.push(format!("{name} code")),
            Some(Ok((_, name))) => {
                let message = format!(
                    "{} is {} code and this machine is {name}: it cannot be loaded here",
                    r.path,
                    machine_name(machine)
                );
                findings.push(Finding::new(
                    BINARY_WRONG_MACHINE,
                    Severity::Error,
                    message.clone(),
                    format!("Install the {name} build of this program or package."),
                ));
                tally.failed.push(message);
            }
        }
    }
    tally.part("elf-machine", "no host code (bare fatbins or cubins)")
}

/// Part 2: can CUDA start here at all (the rules stage's verdict).
fn cuda(here: &Here) -> BinaryPart {
    let (verdict, reason) = match here.can_start {
        Answer::Yes => (SATISFIED, here.cuda_reason.clone()),
        Answer::No => (
            NOT_SATISFIED,
            format!("CUDA cannot start on this machine: {}", here.cuda_reason),
        ),
        Answer::Unknown => (
            UNKNOWN,
            format!(
                "whether CUDA can start on this machine is unknown: {}",
                here.cuda_reason
            ),
        ),
    };
    BinaryPart {
        part: "cuda".to_owned(),
        verdict: verdict.to_owned(),
        reason,
    }
}

/// A CUDA release: the major, and the minor when known.
type Release = (u32, Option<u32>);

/// Identical GPUs: name, compute capability, indices.
type Group<'a> = (Option<&'a str>, Option<(u8, u8)>, Vec<u32>);

/// What runtime a file needs: its words, and its release; `Err` with the reason when the file
/// needs one whose release is not known.
fn runtime_needed(r: &ScanResult) -> Option<Result<(String, Release), String>> {
    let release = |v: &str| -> Option<Release> {
        let mut parts = v.split('.');
        let major = parts.next()?.parse().ok()?;
        Some((major, parts.next().and_then(|m| m.parse().ok())))
    };
    match r.cuda_runtime.as_ref()? {
        CudaRuntime::Shared {
            soname,
            version,
            installed,
        } => {
            let full = installed.as_ref().map(|i| i.version.as_str());
            let Some(v) = full.or(version.as_deref()).and_then(release) else {
                return Some(Err(format!("{}: {soname} names no CUDA release", r.path)));
            };
            Some(Ok((soname.clone(), v)))
        }
        CudaRuntime::Static { version, .. } => match version.as_deref().and_then(release) {
            Some(v) => Some(Ok(("the static CUDA runtime".to_owned(), v))),
            None => Some(Err(format!(
                "{}: the release of its static CUDA runtime is not readable (its device code is \
                 compressed and names none)",
                r.path
            ))),
        },
        CudaRuntime::IsRuntime { soname, version } => {
            let v = version.as_deref().and_then(release)?;
            Some(Ok((soname.clone(), v)))
        }
    }
}

/// Part 3: the CUDA runtime each file needs against the user-mode driver's CUDA version.
fn runtime(files: &[&ScanResult], here: &Here, findings: &mut Vec<Finding>) -> BinaryPart {
    let mut tally = Tally::default();
    let umd = here.user_mode_driver.as_str();
    for r in files {
        let (words, (major, minor)) = match runtime_needed(r) {
            None => continue,
            Some(Err(why)) => {
                tally.unknown.push(why);
                continue;
            }
            Some(Ok(need)) => need,
        };
        let Some(driver) = here.driver_cuda else {
            tally.unknown.push(format!(
                "{} needs {words}, and the user-mode driver's CUDA version is not known",
                r.path
            ));
            continue;
        };
        // CUDA 11+: any driver of the runtime's major or newer (minor-version
        // compatibility); before 11, the driver's release must be at least the runtime's.
        let ok = if major >= 11 {
            driver.0 >= major
        } else {
            driver >= (major, minor.unwrap_or(0))
        };
        let (dmaj, dmin) = driver;
        if ok {
            let mvc =
                umd != "cuda-compat" && driver.0 == major && minor.is_some_and(|m| m > driver.1);
            let via = if umd == "cuda-compat" {
                "through forward compatibility (cuda-compat)"
            } else if mvc {
                "through minor-version compatibility"
            } else {
                "natively"
            };
            let need = match minor {
                Some(m) => format!("{major}.{m}"),
                None => major.to_string(),
            };
            if mvc {
                findings.push(Finding::new(
                    CUDA_MINOR_VERSION_COMPAT,
                    Severity::Warning,
                    format!(
                        "{} needs {words} (CUDA {need}) and runs on the {umd} user-mode driver's \
                         CUDA {dmaj}.{dmin} only through minor-version compatibility: PTX built by \
                         CUDA {need} cannot be JIT-compiled by this driver, and APIs newer than \
                         CUDA {dmaj}.{dmin} fail at run time",
                        r.path
                    ),
                    format!(
                        "To get every feature, upgrade the NVIDIA driver to one for CUDA {need} or \
                         newer, or install a build of this program for CUDA {dmaj}.{dmin}."
                    ),
                ));
            }
            tally.fine.push(format!(
                "{words} (CUDA {need}) runs on the {umd} user-mode driver's CUDA {dmaj}.{dmin} \
                 {via}"
            ));
        } else {
            let need = match minor {
                Some(m) => format!("{major}.{m}"),
                None => major.to_string(),
            };
            let message = format!(
                "{} needs {words} (CUDA {need}), but the {umd} user-mode driver gives CUDA \
                 {dmaj}.{dmin}: it fails with cudaErrorInsufficientDriver (\"CUDA driver version \
                 is insufficient for CUDA runtime version\")",
                r.path
            );
            findings.push(Finding::new(
                CUDA_RUNTIME_TOO_NEW,
                Severity::Error,
                message.clone(),
                format!(
                    "Upgrade the NVIDIA driver to a branch for CUDA {major}, or on a data-center \
                     GPU install cuda-compat {major}.x (forward compatibility), or install a build \
                     of this program for CUDA {dmaj}."
                ),
            ));
            tally.failed.push(message);
        }
    }
    tally.part(
        "runtime",
        "needs no CUDA runtime of its own (driver API, or an object linked later)",
    )
}

/// Part 4: the kernels of each file against every usable GPU.
fn kernels(files: &[&ScanResult], here: &Here, findings: &mut Vec<Finding>) -> BinaryPart {
    let mut tally = Tally::default();
    let max_isa = here
        .driver_cuda
        .and_then(|(a, b)| cudabin::driver_max_ptx_isa(a, b));
    for r in files {
        if r.fatbin_headers_elsewhere > 0 {
            tally.unknown.push(format!(
                "{} keeps fatbin containers outside its fatbin sections ({} counted, in .ldata \
                 or .data), whose GPU code is not read: which GPUs they cover is not known",
                r.path, r.fatbin_headers_elsewhere
            ));
            continue;
        }
        if !r.entries().any(|e| !e.relocatable || has_kernels(e)) {
            let what = if r.relocatable_archs().is_empty() {
                format!("registers {} fatbin(s)", r.fatbin_registrations)
            } else {
                "holds only relocatable device-library cubins".to_owned()
            };
            tally.unknown.push(format!(
                "{} {what}, but no GPU code of its own was found",
                r.path
            ));
        }
    }
    if !tally.unknown.is_empty() {
        return tally.part("kernels", "");
    }
    if here.gpus.is_empty() {
        tally
            .failed
            .push("no GPU here that a CUDA program can use".to_owned());
        return tally.part("kernels", "");
    }
    // Identical GPUs (same name and compute capability) get one verdict.
    let mut groups: Vec<Group<'_>> = Vec::new();
    for g in &here.gpus {
        let key = (g.name.as_deref(), g.cc);
        match groups.iter_mut().find(|(n, c, _)| (*n, *c) == key) {
            Some((_, _, idx)) => idx.push(g.index),
            None => groups.push((key.0, key.1, vec![g.index])),
        }
    }
    for (name, cc, idx) in &groups {
        let gpus = match idx.as_slice() {
            [one] => format!("GPU {one}"),
            many => format!(
                "GPUs {}",
                many.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let label = format!("{gpus} ({})", name.unwrap_or("NVIDIA GPU"));
        let Some(cc) = *cc else {
            tally.unknown.push(format!(
                "{label}: compute capability unknown (run with --deep or set \
                 NVPROBE_COMPUTE_CAPABILITY)"
            ));
            continue;
        };
        for r in files {
            // The file's own code; without any, the kernels of its relocatable cubins.
            let own = if r.entries().any(|e| !e.relocatable) {
                cudabin::runs_on(r.entries().filter(|e| !e.relocatable), cc, max_isa)
            } else {
                cudabin::runs_on(r.entries().filter(|e| has_kernels(e)), cc, None)
            };
            let v = match (own.runs(), cudabin::relocatable_verdict(r, cc)) {
                (true, RelocatableVerdict::Missing(v)) => v,
                (true, RelocatableVerdict::Unknown(unread)) => {
                    tally.unknown.push(format!(
                        "{label}: {} has relocatable cubins this GPU cannot run whose kernels were not read ({}): whether it needs them is not known",
                        r.path,
                        unread.join("; ")
                    ));
                    continue;
                }
                _ => own,
            };
            match &v {
                Verdict::Sass { arch } => tally.fine.push(format!("{label}: SASS {arch}")),
                Verdict::PtxJit { arch, .. } => tally
                    .fine
                    .push(format!("{label}: PTX {} (JIT)", arch.compute_name())),
                _ => {
                    if let Some(f) = cudabin::verdict_finding(&r.path, &label, cc, &v) {
                        tally.failed.push(f.message.clone());
                        findings.push(f);
                    }
                }
            }
        }
    }
    tally.fine.sort_unstable();
    for r in files {
        if let Some(line) = relocatable_summary(r) {
            tally.fine.push(line);
        }
    }
    tally.part("kernels", "")
}

/// A relocatable cubin read to define kernels.
fn has_kernels(e: &cudabin::Entry) -> bool {
    e.kernels
        .as_ref()
        .is_some_and(|k| k.count.is_some_and(|n| n > 0))
}

/// What was read of a file's relocatable cubins, for the reason of a verdict that passes:
/// `libx.so: relocatable cubins sm_75, sm_90 define no kernels (2 decompressed)`.
fn relocatable_summary(r: &ScanResult) -> Option<String> {
    let relocatable: Vec<&cudabin::Entry> = r.entries().filter(|e| e.relocatable).collect();
    if relocatable.is_empty() {
        return None;
    }
    let archs = r
        .relocatable_archs()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let count = |f: fn(&cudabin::Kernels) -> bool| {
        relocatable
            .iter()
            .filter(|e| e.kernels.as_ref().is_some_and(f))
            .count()
    };
    let kernels: u32 = relocatable
        .iter()
        .filter_map(|e| e.kernels.as_ref()?.count)
        .sum();
    let decompressed = count(|k| k.decompressed);
    let unread = count(|k| k.count.is_none());
    let mut how = vec![format!("{decompressed} decompressed")];
    if unread > 0 {
        how.push(format!("{unread} not read"));
    }
    Some(format!(
        "{}: relocatable cubins {archs} define {} ({})",
        r.path,
        match kernels {
            0 => "no kernels".to_owned(),
            n => format!("{n} kernel(s)"),
        },
        how.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cudabin::Installed;

    fn here(umd: &str, cuda: (u32, u32)) -> Here {
        Here {
            can_start: Answer::Yes,
            cuda_reason: String::new(),
            user_mode_driver: umd.to_owned(),
            driver_cuda: Some(cuda),
            gpus: Vec::new(),
            machine: Some(Ok((EM_X86_64, "x86-64"))),
        }
    }

    fn needing(runtime: CudaRuntime) -> ScanResult {
        let mut r = ScanResult::new("libx.so".to_owned(), FileKind::Elf);
        r.cuda_runtime = Some(runtime);
        r
    }

    fn shared(major: &str, full: Option<&str>) -> ScanResult {
        needing(CudaRuntime::Shared {
            soname: format!("libcudart.so.{major}"),
            version: Some(major.to_owned()),
            installed: full.map(|v| Installed {
                version: v.to_owned(),
                from: "site-packages".to_owned(),
            }),
        })
    }

    fn static_rt(version: Option<&str>) -> ScanResult {
        needing(CudaRuntime::Static {
            evidence: String::new(),
            version: version.map(str::to_owned),
        })
    }

    /// The runtime part on one machine: its verdict and reason, and the finding codes.
    fn verdict(file: &ScanResult, here: &Here) -> (String, String, Vec<String>) {
        let mut findings = Vec::new();
        let part = runtime(&[file], here, &mut findings);
        let codes = findings.into_iter().map(|f| f.code).collect();
        (part.verdict, part.reason, codes)
    }

    #[test]
    fn binary_runtime_against_the_user_mode_driver() {
        // CUDA 13 on a 570 driver (CUDA 12.8): cudaErrorInsufficientDriver.
        let (v, reason, codes) = verdict(&shared("13", None), &here("native", (12, 8)));
        assert_eq!(v, NOT_SATISFIED);
        assert!(reason.contains("cudaErrorInsufficientDriver"), "{reason}");
        assert_eq!(codes, [CUDA_RUNTIME_TOO_NEW]);
        // A 12.9 runtime from a wheel on a CUDA 12.4 driver: minor-version compatibility.
        let (v, reason, _) = verdict(&shared("12", Some("12.9.79")), &here("native", (12, 4)));
        assert_eq!(v, SATISFIED);
        assert!(reason.contains("minor-version compatibility"), "{reason}");
        assert!(reason.contains("(CUDA 12.9)"), "{reason}");
        // cuda-compat 12.9 on a 535 driver runs a CUDA 12 runtime, not a 13 one.
        let compat = here("cuda-compat", (12, 9));
        let (v, reason, _) = verdict(&shared("12", None), &compat);
        assert_eq!(v, SATISFIED);
        assert!(reason.contains("forward compatibility"), "{reason}");
        assert_eq!(verdict(&static_rt(Some("13.5")), &compat).0, NOT_SATISFIED);
        // An older major runs on a newer driver.
        let (v, reason, _) = verdict(&shared("11", None), &here("native", (13, 0)));
        assert_eq!(v, SATISFIED);
        assert!(reason.contains("natively"), "{reason}");
        // Before CUDA 11 the release must be the driver's or older.
        assert_eq!(
            verdict(&static_rt(Some("10.2")), &here("native", (10, 1))).0,
            NOT_SATISFIED
        );
        assert_eq!(
            verdict(&static_rt(Some("10.1")), &here("native", (10, 2))).0,
            SATISFIED
        );
        // Not known: never a pass.
        assert_eq!(
            verdict(&static_rt(None), &here("native", (13, 0))).0,
            UNKNOWN
        );
        let mut unknown_driver = here("native", (13, 0));
        unknown_driver.driver_cuda = None;
        assert_eq!(verdict(&shared("12", None), &unknown_driver).0, UNKNOWN);
        // A file without a runtime of its own needs none.
        let plain = ScanResult::new("k.cubin".to_owned(), FileKind::Cubin);
        assert_eq!(verdict(&plain, &here("native", (12, 8))).0, SATISFIED);
    }

    #[test]
    fn binary_machine_facts_parse() {
        assert_eq!(cc_of(ComputeCapability::new(8, 7)), Some((8, 7)));
        assert_eq!(cc_of(ComputeCapability::new(300, 0)), None);
        assert_eq!(machine_name(EM_AARCH64), "aarch64");
        assert_eq!(machine_name(999), "ELF machine 999");
    }

    /// The real PTX-only `-rdc` library (`probe/tests/cuda-files/librdcptx.so`: `compute_120`
    /// PTX, ISA 9.5, and a zstd-compressed relocatable `sm_90` cubin holding a `__device__`
    /// function only), scanned allowing `inflate` bytes of decompression, and its `kernels`
    /// part on one GPU of compute capability `cc` under a CUDA `cuda` driver.
    fn rdc_ptx_kernels(inflate: u64, cc: (u8, u8), cuda: (u32, u32)) -> (ScanResult, BinaryPart) {
        rdc_kernels("librdcptx.so", inflate, cc, cuda)
    }

    /// [`rdc_ptx_kernels`] for another real file of `tests/cuda-files`.
    fn rdc_kernels(
        file: &str,
        inflate: u64,
        cc: (u8, u8),
        cuda: (u32, u32),
    ) -> (ScanResult, BinaryPart) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/cuda-files")
            .join(file);
        let limits = ScanLimits {
            max_decompressed_per_file: inflate,
            ..ScanLimits::default()
        };
        let result = cudabin::scan(&[path], &limits).results.remove(0);
        let mut here = here("native", cuda);
        here.gpus = vec![UsableGpu {
            index: 0,
            name: Some("GPU".to_owned()),
            cc: Some(cc),
        }];
        let part = kernels(&[&result], &here, &mut Vec::new());
        (result, part)
    }

    /// What the scan read of the relocatable cubin in [`rdc_ptx_kernels`]' file.
    fn relocatable_read(result: &ScanResult) -> &cudabin::Kernels {
        let cubin = result.entries().find(|e| e.relocatable).unwrap();
        cubin.kernels.as_ref().unwrap()
    }

    #[test]
    fn binary_rdc_ptx_only_judged_by_its_ptx_after_decompressing() {
        // check --binary's budget: the cubin is decompressed, defines no kernel, and the
        // program's PTX decides: JIT on 12.0 under a CUDA 13.5 driver (PTX ISA 9.5) ...
        let (result, part) = rdc_ptx_kernels(cudabin::DECOMPRESS_FOR_CHECK, (12, 0), (13, 5));
        let read = relocatable_read(&result);
        assert_eq!((read.count, read.decompressed), (Some(0), true), "{read:?}");
        assert_eq!(part.verdict, SATISFIED, "{}", part.reason);
        assert!(
            part.reason.contains("PTX compute_120 (JIT)"),
            "{}",
            part.reason
        );
        assert!(
            part.reason
                .contains("relocatable cubins sm_90 define no kernels (1 decompressed)"),
            "{}",
            part.reason
        );
        // ... too new for a CUDA 13.0 driver (ISA 9.0), never "runs: SASS sm_90" on a 9.0 GPU.
        let (_, part) = rdc_ptx_kernels(cudabin::DECOMPRESS_FOR_CHECK, (12, 0), (13, 0));
        assert_eq!(part.verdict, NOT_SATISFIED);
        assert!(
            part.reason.contains("only up to ISA 9.0"),
            "{}",
            part.reason
        );
        let (_, part) = rdc_ptx_kernels(cudabin::DECOMPRESS_FOR_CHECK, (9, 0), (13, 5));
        assert_eq!(part.verdict, NOT_SATISFIED);
        assert!(part.reason.contains("SASS for none"), "{}", part.reason);
    }

    #[test]
    fn binary_rdc_ptx_only_past_the_decompression_budget_is_unknown() {
        // 2,688 bytes uncompressed: a 1,000-byte budget stops the decoder, and what the cubin
        // holds stays unknown: never "runs".
        for inflate in [1000, 0] {
            let (result, part) = rdc_ptx_kernels(inflate, (12, 0), (13, 5));
            let read = relocatable_read(&result);
            assert_eq!((read.count, read.decompressed), (None, false), "{read:?}");
            let why = read.unread.as_deref().unwrap();
            assert!(
                why.contains(if inflate > 0 {
                    "budget"
                } else {
                    "does not decompress"
                }),
                "{why}"
            );
            assert_eq!(part.verdict, UNKNOWN, "{}", part.reason);
            assert!(
                part.reason.contains("sm_90: compressed (zstd)"),
                "{}",
                part.reason
            );
            assert_eq!(
                cudabin::relocatable_verdict(&result, (12, 0)),
                cudabin::RelocatableVerdict::Unknown(vec![format!("sm_90: {why}")])
            );
            // A failure of the program's own code still fails.
            let (_, part) = rdc_ptx_kernels(inflate, (9, 0), (13, 5));
            assert_eq!(part.verdict, NOT_SATISFIED);
        }
    }

    #[test]
    fn binary_rdc_lz4_cubins_are_decompressed_and_judged() {
        // nvcc 12.x's compression (`--compress-mode=speed`): two relocatable sm_90 cubins in
        // LZ4, the `__device__` function's (no kernel) and the `scale` kernel's.
        let (result, part) = rdc_kernels(
            "librdclz4.so",
            cudabin::DECOMPRESS_FOR_CHECK,
            (12, 0),
            (13, 5),
        );
        let mut read: Vec<(Option<u32>, bool)> = result
            .entries()
            .filter(|e| e.relocatable)
            .inspect(|e| assert_eq!(e.compression, Some(cudabin::Compression::Lz4)))
            .map(|e| {
                let k = e.kernels.as_ref().unwrap();
                (k.count, k.decompressed)
            })
            .collect();
        read.sort_unstable();
        assert_eq!(read, [(Some(0), true), (Some(1), true)]);
        // The kernel is in sm_90 SASS only: a 12.0 GPU cannot run it, whatever the PTX does.
        assert_eq!(part.verdict, NOT_SATISFIED, "{}", part.reason);
        assert!(part.reason.contains("sm_90"), "{}", part.reason);
        // A 9.0 GPU cannot run the program's own code (PTX for compute_120 only).
        let (_, part) = rdc_kernels(
            "librdclz4.so",
            cudabin::DECOMPRESS_FOR_CHECK,
            (9, 0),
            (13, 5),
        );
        assert_eq!(part.verdict, NOT_SATISFIED, "{}", part.reason);
        // Without a budget nothing is decompressed, and what the cubins hold is unknown: both
        // under one reason, not one line per cubin.
        let (_, part) = rdc_kernels("librdclz4.so", 0, (12, 0), (13, 5));
        assert_eq!(part.verdict, UNKNOWN, "{}", part.reason);
        assert!(
            part.reason
                .contains("2 cubins for sm_90: compressed (LZ4); "),
            "{}",
            part.reason
        );
    }
}
