//! The report as short, aligned text for people.
//!
//! Text reaches a terminal, and much of it comes from the machine or from a capture bundle
//! that someone else made (`PRETTY_NAME`, the kernel release, procfs GPU names, library paths,
//! file names). Every such value goes through [`escape`] before it is written, so an escape
//! sequence cannot drive the terminal and a newline cannot forge a line of the report.

use std::fmt::Write as _;

pub use crate::escape::escape;

use crate::report::{Flavor, OrUnknown, PciId, Report, Severity, SourceStatus};

const WIDTH: usize = 100;
const LABEL: usize = 10;

/// Renders the report for a terminal.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let mut head = format!("nvprobe {} · {}", r.tool.version, r.platform.kind.as_str());
    if let Some(k) = &r.platform.kernel_release {
        let _ = write!(head, " · Linux {k}");
    }
    if let Some(name) = r
        .platform
        .os
        .as_ref()
        .and_then(|o| o.pretty_name.as_deref())
    {
        let _ = write!(head, " · {name}");
    }
    out.push_str(&escape(&head));
    out.push_str("\n\n");

    match &r.driver {
        Some(d) => {
            let flavor = match d.flavor {
                Flavor::Open => "open kernel module",
                Flavor::Proprietary => "proprietary kernel module",
                Flavor::Wsl => "WSL2 driver",
                Flavor::Unknown => "kernel module",
            };
            let cuda = d.cuda_version.map_or_else(
                || "CUDA support unknown".to_owned(),
                |c| format!("supports CUDA {c}"),
            );
            line(
                &mut out,
                "Driver",
                &format!("{} ({flavor}), {cuda}", d.version),
            );
        }
        None => line(&mut out, "Driver", "none loaded"),
    }

    if r.gpus.is_empty() {
        line(&mut out, "GPUs", "none found");
    }
    for g in &r.gpus {
        let mut first = vec![
            g.name
                .clone()
                .unwrap_or_else(|| "unknown NVIDIA GPU".to_owned()),
        ];
        first.push(g.pci.bus_id.clone());
        let bare = |v: PciId| format!("{:04x}", v.0);
        if let (Some(v), Some(d)) = (g.pci.vendor_id, g.pci.device_id) {
            let mut ids = format!("{}:{}", bare(v), bare(d));
            if let (Some(sv), Some(sd)) = (g.pci.subsystem_vendor_id, g.pci.subsystem_device_id) {
                let _ = write!(ids, " ({}:{})", bare(sv), bare(sd));
            }
            first.push(ids);
        }
        first.push(format!(
            "driver {}",
            g.kernel_driver.as_deref().unwrap_or("none")
        ));
        line(&mut out, &format!("GPU {}", g.index), &first.join(" · "));
        let mut second = Vec::new();
        match (&g.chip, &g.architecture) {
            (Some(c), Some(a)) => second.push(format!("{c} {a}")),
            (Some(c), None) => second.push(c.clone()),
            _ => {}
        }
        match &g.compute_capability {
            Some(cc) => second.push(format!("compute capability {cc}")),
            None => second.push("compute capability unknown".to_owned()),
        }
        if let Some(m) = g.minor_number {
            second.push(format!("/dev/nvidia{m}"));
        }
        if let Some(mem) = g.memory_bytes {
            second.push(format!("{} MiB", mem >> 20));
        }
        if let Some(u) = &g.uuid {
            second.push(u.clone());
        }
        line(&mut out, "", &second.join(" · "));
    }
    for (label, text) in library_lines(r) {
        line(&mut out, &label, &text);
    }
    // What a CUDA program started here gets (the rules' answer every export uses).
    let c = &r.cuda;
    let cuda = match c.can_start {
        crate::rules::Answer::Yes => {
            let gpus: Vec<String> = c.usable_gpus.iter().map(u32::to_string).collect();
            format!(
                "starts: CUDA {} ({} user-mode driver) on GPU {}",
                c.version.or_q(),
                c.user_mode_driver,
                gpus.join(", ")
            )
        }
        crate::rules::Answer::No => match &c.blocked_by {
            Some(code) => format!("cannot start: {} (see {code})", c.reason),
            None => format!("cannot start: {}", c.reason),
        },
        crate::rules::Answer::Unknown => format!("unknown: {}", c.reason),
    };
    line(&mut out, "CUDA", &cuda);
    // --cross-check: what NVML said, and why it could not say anything.
    if let Some(c) = &r.cross_check {
        let mut text = match c.status.as_str() {
            "agree" => "NVML agrees with the probe".to_owned(),
            "disagree" => format!(
                "NVML disagrees on {} field(s) (see cross-check-disagrees)",
                c.differences.len()
            ),
            other => format!("no comparison: {other}"),
        };
        if c.status != "agree"
            && c.status != "disagree"
            && let Some(s) = r.source(crate::crosscheck::SOURCE)
        {
            text.push_str(" — ");
            text.push_str(&s.detail);
        }
        line(&mut out, "NVML", &text);
    }

    out.push('\n');
    if r.findings.is_empty() {
        out.push_str("No problems found.\n");
    } else {
        out.push_str("Findings (most important first)\n");
        for f in &r.findings {
            let sev = match f.severity {
                Severity::Error => "ERROR",
                Severity::Warning => "WARNING",
                Severity::Info => "info",
            };
            line(&mut out, &format!("  {sev}"), &f.code);
            wrapped(&mut out, &f.message);
            wrapped(&mut out, &format!("Fix: {}", f.remedy));
        }
    }

    let count = |s: SourceStatus| r.sources.iter().filter(|x| x.status == s).count();
    let _ = writeln!(
        out,
        "\nSources: {} ok, {} absent, {} denied, {} failed, {} skipped (nvprobe --json shows each)",
        count(SourceStatus::Ok),
        count(SourceStatus::Absent),
        count(SourceStatus::Denied),
        count(SourceStatus::Failed) + count(SourceStatus::Timeout),
        count(SourceStatus::Skipped),
    );
    out
}

fn line(out: &mut String, label: &str, text: &str) {
    let _ = writeln!(out, "{:<LABEL$}{}", escape(label), escape(text));
}

fn wrapped(out: &mut String, text: &str) {
    let indent = " ".repeat(LABEL);
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let word = escape(word);
        let word = word.as_ref();
        if !cur.is_empty() && indent.len() + cur.len() + 1 + word.len() > WIDTH {
            let _ = writeln!(out, "{indent}{cur}");
            cur.clear();
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        let _ = writeln!(out, "{indent}{cur}");
    }
}

/// Lines `(label, text)` for the libraries in the text report.
fn library_lines(report: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, l) in report.libraries.iter().enumerate() {
        let mut what = vec![l.kind.clone()];
        if let Some(v) = &l.version {
            what.push(v.to_string());
        }
        if let Some(c) = l
            .cuda_version
            .filter(|_| l.kind != crate::doctor::libs::KIND_RUNTIME)
        {
            what.push(format!("CUDA {c}"));
        }
        if l.stub {
            what.push("stub".to_owned());
        }
        what.push(if l.selected {
            format!("loaded via {}", l.found_by.as_deref().unwrap_or("?"))
        } else {
            format!(
                "not on the loader's path ({})",
                l.found_by.as_deref().unwrap_or("?")
            )
        });
        if let Some(p) = &l.problem {
            what.push(p.clone());
        }
        let label = if i == 0 { "Libraries" } else { "" };
        out.push((
            label.to_owned(),
            format!("{} ({})", l.path, what.join(", ")),
        ));
    }
    if out.is_empty() {
        out.push((
            "Libraries".to_owned(),
            "no libcuda, libnvidia-ml or libcudart found".to_owned(),
        ));
    }
    out
}
