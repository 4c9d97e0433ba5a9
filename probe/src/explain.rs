//! `nvprobe explain TEXT`: what an error message means, and which of its known causes is
//! present on this machine.
//!
//! The messages live in one vendored table, `data/error-messages.tsv` (a source per row): the
//! patterns that recognise a message, what it means, the finding codes whose rules detect its
//! causes, and the known causes nvprobe does not detect (with the command that does). Explain
//! runs the ordinary probe and answers from the report's findings: the findings among the
//! message's causes that are present here, or "none of the known causes is present" with what
//! was checked and what was not. An incomplete report (`deadline-exceeded`,
//! `sources-unreadable`) rules nothing out: the answer is then `unknown`. For the container
//! runtime's "unsatisfied condition: EXPR", EXPR itself is evaluated here as `nvprobe check
//! --require` would.
//!
//! # Exit codes
//! 0 a known message, none of its causes present here; 1 a cause is present here, or the
//! report is incomplete; 2 usage error; 3 the probe itself failed; 4 the text matches no known
//! message.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::escape::escape;
use crate::report::{CheckResult, Finding, Report};

/// The vendored table of messages.
pub const TABLE: &str = include_str!("../../data/error-messages.tsv");

/// The exit code when the text matches no known message.
pub const EXIT_UNKNOWN_MESSAGE: u8 = 4;

/// The longest text looked at, in bytes (a pasted log is cut there).
const MAX_TEXT: usize = 64 * 1024;

/// One row of [`TABLE`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The stable name of the message.
    pub id: String,
    /// Lowercase substrings, or `code:N`.
    pub patterns: Vec<String>,
    /// What it means.
    pub meaning: String,
    /// The finding codes whose rules detect a cause of it.
    pub causes: Vec<String>,
    /// The known causes nvprobe does not detect, with the command that does (may be empty).
    pub unchecked: String,
    /// Where the message and its meaning come from.
    pub source: String,
}

/// The rows of [`TABLE`] (a row without its six columns is skipped; a test keeps there none).
pub fn table() -> Vec<Message> {
    crate::tables::tsv_records(TABLE)
        .filter_map(|c| {
            let [id, patterns, meaning, causes, unchecked, source] = c.as_slice() else {
                return None;
            };
            let list = |s: &str, sep: char| -> Vec<String> {
                s.split(sep)
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect()
            };
            Some(Message {
                id: (*id).to_owned(),
                patterns: list(patterns, '|'),
                meaning: (*meaning).to_owned(),
                causes: list(causes, ','),
                unchecked: (*unchecked).to_owned(),
                source: (*source).to_owned(),
            })
        })
        .collect()
}

/// The text as matched: cut at `MAX_TEXT`, lowercased, runs of white space made one space.
pub fn normalize(text: &str) -> String {
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end)
        .unwrap_or("")
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text names a CUDA error code (so a bare number in it may be one).
fn names_cuda_code(t: &str) -> bool {
    [
        "cuinit",
        "curesult",
        "cudaerror",
        "cuda error",
        "cuda_error",
        "cuda call failed",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// The standalone numbers in the text (`803` in `cuInit returned 803.`, not in `0x803` or
/// `8030`).
fn numbers(t: &str) -> Vec<&str> {
    t.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// The messages the text matches: by their phrases and names, else (in a text that names
/// cuInit, `CUresult`, `cudaError` or a "CUDA error") by their numeric code.
pub fn recognise(text: &str) -> Vec<Message> {
    let t = normalize(text);
    let rows = table();
    let by_text: Vec<Message> = rows
        .iter()
        .filter(|m| {
            m.patterns
                .iter()
                .any(|p| !p.starts_with("code:") && t.contains(p.as_str()))
        })
        .cloned()
        .collect();
    if !by_text.is_empty() || !names_cuda_code(&t) {
        return by_text;
    }
    let nums = numbers(&t);
    rows.into_iter()
        .filter(|m| {
            m.patterns
                .iter()
                .filter_map(|p| p.strip_prefix("code:"))
                .any(|n| nums.contains(&n))
        })
        .collect()
}

/// The answer for one run.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The text as given (cut at `MAX_TEXT`).
    pub text: String,
    /// The messages it matches.
    pub messages: Vec<Message>,
    /// The findings of the report among the messages' causes.
    pub present: Vec<Finding>,
    /// Other `error` and `warning` findings of the report.
    pub others: Vec<Finding>,
    /// Why the report cannot rule anything out (`deadline-exceeded`, `sources-unreadable`).
    pub incomplete: Option<String>,
    /// For "unsatisfied condition: EXPR": EXPR evaluated here.
    pub requirement: Option<(String, CheckResult)>,
}

impl Explanation {
    /// `cause-present`, `none-present`, or `unknown` (an incomplete report).
    pub fn verdict(&self) -> &'static str {
        let requirement_fails = self
            .requirement
            .as_ref()
            .is_some_and(|(_, r)| r.verdict == "not-satisfied");
        if !self.present.is_empty() || requirement_fails {
            "cause-present"
        } else if self.incomplete.is_some()
            || self
                .requirement
                .as_ref()
                .is_some_and(|(_, r)| r.verdict != "satisfied")
        {
            "unknown"
        } else {
            "none-present"
        }
    }

    /// The exit code: 0 none present, 1 a cause present or unknown.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.verdict() != "none-present")
    }
}

/// The requirement of the container runtime's "unsatisfied condition: EXPR, please update
/// ...", if the text has one.
fn unsatisfied_condition(text: &str) -> Option<String> {
    let lower = text.to_lowercase();
    let at = lower.find("unsatisfied condition:")? + "unsatisfied condition:".len();
    let rest = text.get(at..)?.trim_start();
    let end = rest
        .to_lowercase()
        .find(", please")
        .or_else(|| rest.find('\n'))
        .unwrap_or(rest.len());
    let expr = rest.get(..end)?.trim().trim_end_matches(['.', '"', '\'']);
    (!expr.is_empty() && expr.len() <= 4096).then(|| expr.to_owned())
}

/// Explains `text` (already [`recognise`]d as `messages`) on the probed `report`.
pub fn explain(
    report: &Report,
    text: &str,
    messages: Vec<Message>,
    env: &crate::Env,
) -> Explanation {
    let causes: Vec<&str> = messages
        .iter()
        .flat_map(|m| m.causes.iter().map(String::as_str))
        .collect();
    let incomplete = report
        .findings
        .iter()
        .find(|f| {
            f.code == crate::codes::DEADLINE_EXCEEDED || f.code == crate::codes::SOURCES_UNREADABLE
        })
        .map(|f| f.code.clone());
    let (present, others): (Vec<Finding>, Vec<Finding>) = report
        .findings
        .iter()
        .filter(|f| {
            !(f.code == crate::codes::DEADLINE_EXCEEDED
                || f.code == crate::codes::SOURCES_UNREADABLE)
        })
        .cloned()
        .partition(|f| causes.contains(&f.code.as_str()));
    let others = others
        .into_iter()
        .filter(|f| f.severity != crate::report::Severity::Info)
        .collect();
    let requirement = messages
        .iter()
        .any(|m| m.id == "container-requirement")
        .then(|| unsatisfied_condition(text))
        .flatten()
        .and_then(|expr| {
            let req = crate::doctor::CheckRequest::new(None, Some(&expr)).ok()?;
            Some((expr, crate::doctor::check(report, &req, env)))
        });
    let mut end = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Explanation {
        text: text.get(..end).unwrap_or("").to_owned(),
        messages,
        present,
        others,
        incomplete,
        requirement,
    }
}

/// The answer to a text that matches no known message, for people.
pub fn render_unknown(text: &str) -> String {
    let ids: Vec<String> = table().into_iter().map(|m| m.id).collect();
    format!(
        "nvprobe explain: '{}' matches no known message.\nKnown messages: {}.\nRun 'nvprobe' for everything it finds on this machine.\n",
        escape(&normalize(text).chars().take(200).collect::<String>()),
        ids.join(", ")
    )
}

/// The answer to a text that matches no known message, as JSON.
pub fn json_unknown(text: &str) -> String {
    crate::export::json_text(&json!({"explain": {
        "text": normalize(text).chars().take(200).collect::<String>(),
        "verdict": "unknown-message",
        "messages": [],
    }}))
}

fn causes_checked(e: &Explanation) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in e.messages.iter().flat_map(|m| &m.causes) {
        if !out.contains(c) {
            out.push(c.clone());
        }
    }
    out
}

/// The explanation for people; every value escaped.
pub fn render(report: &Report, e: &Explanation) -> String {
    let mut out = String::new();
    for m in &e.messages {
        let _ = writeln!(out, "{}: {}", m.id, m.meaning);
        let _ = writeln!(out, "  source: {}", m.source);
    }
    let _ = writeln!(out, "\nOn this machine: {}", facts(report));
    match e.verdict() {
        "cause-present" => {
            let _ = writeln!(out, "\nThe cause found here:");
        }
        "unknown" => {
            let _ = writeln!(
                out,
                "\nUnknown: the probe could not read everything ({}), so no cause can be ruled out.",
                e.incomplete.as_deref().unwrap_or("incomplete")
            );
        }
        _ => {
            let _ = writeln!(out, "\nNone of the known causes is present here.");
        }
    }
    for f in &e.present {
        let _ = writeln!(
            out,
            "  {} [{}]: {}\n    fix: {}",
            f.code,
            f.severity.as_str(),
            escape(&f.message),
            escape(&f.remedy)
        );
    }
    if let Some((expr, r)) = &e.requirement {
        let _ = writeln!(
            out,
            "  the condition '{}' here: {} ({})",
            escape(expr),
            r.verdict,
            escape(&r.reason)
        );
    }
    let checked: Vec<String> = causes_checked(e)
        .into_iter()
        .map(|c| match crate::codes::lookup(&c) {
            Some(k) => format!("  {c}: {}", k.when),
            None => format!("  {c}"),
        })
        .collect();
    let _ = writeln!(out, "\nChecked here:\n{}", checked.join("\n"));
    let unchecked: Vec<&str> = e
        .messages
        .iter()
        .map(|m| m.unchecked.as_str())
        .filter(|u| !u.is_empty())
        .collect();
    if !unchecked.is_empty() {
        let _ = writeln!(out, "Not checked by nvprobe:");
        for u in unchecked {
            let _ = writeln!(out, "  {u}");
        }
    }
    if !e.others.is_empty() {
        let codes: Vec<&str> = e.others.iter().map(|f| f.code.as_str()).collect();
        let _ = writeln!(
            out,
            "\nOther problems on this machine (run 'nvprobe'): {}",
            codes.join(", ")
        );
    }
    out
}

/// The machine in one line: driver and its CUDA version, GPUs with compute capability, kernel.
fn facts(r: &Report) -> String {
    let driver = r.driver.as_ref().map_or_else(
        || "no NVIDIA driver seen".to_owned(),
        |d| {
            format!(
                "driver {} (CUDA {})",
                escape(d.version.as_str()),
                d.cuda_version
                    .map_or_else(|| "unknown".to_owned(), |c| c.to_string())
            )
        },
    );
    let mut gpus: Vec<(String, usize)> = Vec::new();
    for g in r.gpus.iter().take(4096) {
        let one = format!(
            "{} ({})",
            escape(g.name.as_deref().unwrap_or("unnamed GPU")),
            g.compute_capability.map_or_else(
                || "compute capability unknown".to_owned(),
                |c| format!("sm_{}", c.sm())
            )
        );
        match gpus.iter_mut().find(|(name, _)| *name == one) {
            Some((_, n)) => *n += 1,
            None => gpus.push((one, 1)),
        }
    }
    let gpus: Vec<String> = gpus
        .into_iter()
        .take(16)
        .map(|(g, n)| if n > 1 { format!("{n}x {g}") } else { g })
        .collect();
    format!(
        "{driver}; {}; CUDA can start: {}; kernel {}",
        if gpus.is_empty() {
            "no GPU".to_owned()
        } else {
            gpus.join(", ")
        },
        r.cuda.can_start.as_str(),
        escape(r.platform.kernel_release.as_deref().unwrap_or("unknown"))
    )
}

/// The report as JSON with an `explain` object added.
pub fn to_json(report: &Report, e: &Explanation) -> String {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    let finding = |f: &Finding| json!({"code": f.code, "severity": f.severity.as_str(), "message": f.message, "remedy": f.remedy});
    let explain = json!({
        "text": e.text,
        "verdict": e.verdict(),
        "messages": e.messages.iter().map(|m| json!({
            "id": m.id, "meaning": m.meaning, "source": m.source,
            "causes": m.causes, "unchecked": m.unchecked,
        })).collect::<Vec<_>>(),
        "present": e.present.iter().map(finding).collect::<Vec<_>>(),
        "checked": causes_checked(e),
        "incomplete": e.incomplete,
        "requirement": e.requirement.as_ref().map(|(expr, r)| json!({
            "expression": expr, "verdict": r.verdict, "reason": r.reason,
        })),
    });
    if let Some(obj) = v.as_object_mut() {
        obj.insert("explain".to_owned(), explain);
    }
    crate::export::json_text(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The check mode of the vendored table: six columns, unique ids, lowercase patterns, every
    /// cause a catalogued finding code, a source with a URL.
    #[test]
    fn explain_table_is_valid() {
        let rows = table();
        assert_eq!(
            rows.len(),
            crate::tables::tsv_records(TABLE).count(),
            "a row without six columns"
        );
        let mut ids = std::collections::HashSet::new();
        for m in &rows {
            assert!(ids.insert(m.id.clone()), "duplicate id {}", m.id);
            assert!(!m.patterns.is_empty(), "{}", m.id);
            for p in &m.patterns {
                assert_eq!(p, &normalize(p), "{}: pattern {p:?} not normalised", m.id);
                if let Some(n) = p.strip_prefix("code:") {
                    assert!(n.parse::<u32>().is_ok(), "{}: {p}", m.id);
                }
            }
            assert!(!m.causes.is_empty(), "{}", m.id);
            for c in &m.causes {
                assert!(
                    crate::codes::lookup(c).is_some(),
                    "{}: unknown code {c}",
                    m.id
                );
            }
            assert!(m.source.contains("https://"), "{}: no URL in source", m.id);
            assert!(!m.meaning.is_empty(), "{}", m.id);
        }
    }

    /// Every message the issue lists is recognised, as people paste it.
    #[test]
    fn explain_recognises_the_listed_messages() {
        let cases = [
            (
                "CUDA driver version is insufficient for CUDA runtime version",
                "insufficient-driver",
            ),
            (
                "RuntimeError: CUDA error: no kernel image is available for execution on the device",
                "no-kernel-image",
            ),
            ("CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "unsupported-ptx"),
            (
                "cuModuleLoadData failed: CUDA_ERROR_INVALID_IMAGE",
                "invalid-image",
            ),
            ("cudaErrorInitializationError", "initialization-error"),
            ("cuInit 100", "no-device"),
            ("cuInit(0) returned 802", "system-not-ready"),
            (
                "Error 803: system has unsupported display driver / cuda driver combination",
                "system-driver-mismatch",
            ),
            ("cuInit failed: 804", "compat-not-supported"),
            ("CUDA error 999", "unknown-error"),
            ("RuntimeError: CUDA error: unknown error", "unknown-error"),
            (
                "Failed to initialize NVML: Driver/library version mismatch",
                "nvml-version-mismatch",
            ),
            (
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
                "smi-no-driver",
            ),
            (
                "modprobe: ERROR: could not insert 'nvidia': Unknown symbol in module, or unknown parameter (see dmesg)",
                "unknown-symbol",
            ),
            (
                "nvidia: module verification failed: signature and/or required key missing - tainting kernel",
                "module-signature",
            ),
            (
                "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, please update your driver to a newer version, or use an earlier cuda container: unknown",
                "container-requirement",
            ),
        ];
        for (text, id) in cases {
            let got: Vec<String> = recognise(text).into_iter().map(|m| m.id).collect();
            assert_eq!(got, vec![id.to_owned()], "{text}");
        }
        // A bare number is not a CUDA error; numbers inside other numbers do not count.
        assert!(recognise("100").is_empty());
        assert!(recognise("cuInit 8030").is_empty());
        assert!(recognise("the weather is nice").is_empty());
        assert!(recognise("").is_empty());
    }

    #[test]
    fn explain_extracts_the_unsatisfied_condition() {
        assert_eq!(
            unsatisfied_condition("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.4, please update your driver").as_deref(),
            Some("cuda>=12.4")
        );
        assert_eq!(
            unsatisfied_condition("requirement error: unsatisfied condition: brand = tesla")
                .as_deref(),
            Some("brand = tesla")
        );
        assert_eq!(unsatisfied_condition("unsatisfied condition: "), None);
    }

    #[test]
    fn explain_normalize_is_bounded_and_total() {
        let long = "é".repeat(MAX_TEXT);
        assert!(normalize(&long).len() <= MAX_TEXT);
        assert_eq!(normalize("  A\tB\n\nc "), "a b c");
    }
}
