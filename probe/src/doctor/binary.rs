//! `nvprobe check --binary PATH...`: does each CUDA binary carry code that runs on every
//! visible GPU? SASS for the GPU's compute capability (same major, minor not above, exact for
//! `a` targets, same family for `f` targets), or PTX the driver can JIT (its ISA not newer than
//! the user-mode driver's CUDA version supports). The rules are in `cudabin::compat`.

use std::path::PathBuf;

use super::{Machine, NOT_SATISFIED, SATISFIED};
use crate::cudabin::{self, Deadline, FileKind, ScanLimits};
use crate::report::{CheckItem, ComputeCapability, Finding, Severity};

fn cc_of(cc: ComputeCapability) -> Option<(u8, u8)> {
    Some((u8::try_from(cc.major).ok()?, u8::try_from(cc.minor).ok()?))
}

fn item(expression: &str, satisfied: bool, reason: String) -> CheckItem {
    CheckItem {
        kind: "binary".to_owned(),
        expression: expression.to_owned(),
        source: "--binary".to_owned(),
        verdict: if satisfied { SATISFIED } else { NOT_SATISFIED }.to_owned(),
        via: None,
        reason,
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
        crate::codes::DEADLINE_EXCEEDED,
        Severity::Error,
        message.clone(),
        "Run again with a longer --timeout (in milliseconds) to read all of it.",
    );
    (item(shown, false, message), finding)
}

/// One check item per binary path given, and the findings of the binaries that fail. Reading
/// stops at `deadline`: a path not read to the end by then is not satisfied.
pub(super) fn check(
    paths: &[PathBuf],
    m: &Machine<'_>,
    deadline: Option<Deadline>,
) -> (Vec<CheckItem>, Vec<Finding>) {
    let max_isa = m
        .native_cuda
        .and_then(|c| cudabin::driver_max_ptx_isa(c.major, c.minor));
    let mut items = Vec::new();
    let mut findings = Vec::new();
    for path in paths {
        let shown = path.display().to_string();
        let limits = ScanLimits {
            deadline,
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
                false,
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
                false,
                format!("{shown}: cannot be read: {}", errors.join(", ")),
            ));
            continue;
        }
        let with_code: Vec<&cudabin::ScanResult> =
            results.iter().filter(|r| r.has_cuda_code()).collect();
        if with_code.is_empty() {
            items.push(item(
                &shown,
                true,
                format!(
                    "{shown}: no CUDA GPU code in {} ELF file(s): nothing to run on a GPU",
                    results.len()
                ),
            ));
            continue;
        }
        if m.gpus.is_empty() {
            items.push(item(
                &shown,
                false,
                format!("{shown}: has CUDA GPU code but no NVIDIA GPU is visible to run it"),
            ));
            continue;
        }
        let mut failures = Vec::new();
        let mut how = Vec::new();
        // Identical GPUs (same name and compute capability) get one verdict.
        let mut groups: Vec<(Option<&str>, Option<ComputeCapability>, Vec<usize>)> = Vec::new();
        for (i, g) in m.gpus.iter().enumerate() {
            let key = (g.name.as_deref(), g.cc);
            match groups.iter_mut().find(|(n, c, _)| (*n, *c) == key) {
                Some((_, _, idx)) => idx.push(i),
                None => groups.push((key.0, key.1, vec![i])),
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
            let Some(cc) = cc.and_then(cc_of) else {
                failures.push(format!(
                    "{label}: compute capability unknown (run with --deep or set NVPROBE_COMPUTE_CAPABILITY)"
                ));
                continue;
            };
            for r in &with_code {
                let Some(v) = cudabin::check_binary(r, cc, max_isa) else {
                    continue;
                };
                if v.runs() {
                    how.push(match &v {
                        cudabin::Verdict::Sass { arch } => format!("{label}: SASS {arch}"),
                        cudabin::Verdict::PtxJit { arch, .. } => {
                            format!("{label}: PTX {} (JIT)", arch.compute_name())
                        }
                        _ => String::new(),
                    });
                } else if let Some(f) = cudabin::verdict_finding(&r.path, &label, cc, &v) {
                    failures.push(f.message.clone());
                    findings.push(f);
                }
            }
        }
        how.sort();
        how.dedup();
        if failures.is_empty() {
            items.push(item(
                &shown,
                true,
                format!("{shown} runs: {}", how.join(", ")),
            ));
        } else {
            items.push(item(&shown, false, failures.join(" ")));
        }
    }
    (items, findings)
}
