//! The report as short, aligned text for people.

use std::fmt::Write as _;

use crate::report::{Flavor, Report, Severity, SourceStatus};

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
    out.push_str(&head);
    out.push_str("\n\n");

    match &r.driver {
        Some(d) => {
            let flavor = match d.flavor {
                Flavor::Open => "open kernel module",
                Flavor::Proprietary => "proprietary kernel module",
                Flavor::Wsl => "WSL2 driver",
                Flavor::Unknown => "kernel module",
            };
            let cuda = d.cuda_version.as_deref().map_or_else(
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
        if let (Some(v), Some(d)) = (&g.pci.vendor_id, &g.pci.device_id) {
            let mut ids = format!(
                "{}:{}",
                v.trim_start_matches("0x"),
                d.trim_start_matches("0x")
            );
            if let (Some(sv), Some(sd)) = (&g.pci.subsystem_vendor_id, &g.pci.subsystem_device_id) {
                let _ = write!(
                    ids,
                    " ({}:{})",
                    sv.trim_start_matches("0x"),
                    sd.trim_start_matches("0x")
                );
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
    for (label, text) in crate::doctor::library_lines(r) {
        line(&mut out, &label, &text);
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
    let _ = writeln!(out, "{label:<LABEL$}{text}");
}

fn wrapped(out: &mut String, text: &str) {
    let indent = " ".repeat(LABEL);
    let mut cur = String::new();
    for word in text.split_whitespace() {
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
