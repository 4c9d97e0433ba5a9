//! `nvprobe scan` output: text for people and a JSON document.

use std::fmt::Write as _;

use serde::Serialize;

use super::{CudaRuntime, FileKind, ScanResult};
use crate::report::{SCHEMA_VERSION, Tool};

/// The `--json` document of `nvprobe scan`.
#[derive(Serialize)]
struct ScanDocument<'a> {
    schema_version: u32,
    tool: Tool,
    scan: &'a [ScanResult],
}

/// The scan results as one JSON object: `schema_version`, `tool`, `scan` (one entry per file).
pub fn scan_json(results: &[ScanResult]) -> String {
    let doc = ScanDocument {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        scan: results,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The scan results for a terminal: per file its GPU code, runtime and problems. Files
/// without CUDA code are summarised in one line at the end.
pub fn render_scan(results: &[ScanResult]) -> String {
    let mut out = String::new();
    let mut plain = 0usize;
    for r in results {
        if r.kind == FileKind::Elf && !r.has_cuda_code() && r.problems.is_empty() {
            plain += 1;
            continue;
        }
        let mut head = r.path.clone();
        let mut facts = Vec::new();
        if let Some(size) = r.size {
            facts.push(format!("{} KiB", size.div_ceil(1024)));
        }
        if let Some(s) = &r.soname {
            facts.push(format!("SONAME {s}"));
        }
        if let Some(v) = &r.version {
            facts.push(format!("version {v}"));
        }
        match r.kind {
            FileKind::NotElf => facts.push("not an ELF file".to_owned()),
            FileKind::Error => facts.push("could not be read".to_owned()),
            FileKind::Elf => {}
        }
        if !facts.is_empty() {
            let _ = write!(head, "  ({})", facts.join(", "));
        }
        let _ = writeln!(out, "{head}");
        let sass = r.sass_archs();
        if !sass.is_empty() {
            let list: Vec<String> = sass.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  SASS     {}", list.join(" "));
        }
        let ptx = r.ptx_archs();
        if !ptx.is_empty() {
            let list: Vec<String> = ptx
                .iter()
                .map(|(arch, isa)| match isa {
                    Some((a, b)) => format!("{} (ISA {a}.{b})", arch.compute_name()),
                    None => arch.compute_name(),
                })
                .collect();
            let _ = writeln!(out, "  PTX      {}", list.join(" "));
        }
        let entries = r.entries().count();
        let compressed = r.entries().filter(|e| e.compressed).count();
        if compressed > 0 {
            let _ = writeln!(
                out,
                "  packed   {compressed} of {entries} images compressed"
            );
        }
        match &r.cuda_runtime {
            Some(CudaRuntime::Shared { soname, .. }) => {
                let _ = writeln!(out, "  runtime  shared, {soname}");
            }
            Some(CudaRuntime::Static { .. }) => {
                let _ = writeln!(out, "  runtime  static cudart (linked in)");
            }
            Some(CudaRuntime::IsRuntime { soname, version }) => {
                let v = version.as_deref().unwrap_or("?");
                let _ = writeln!(
                    out,
                    "  runtime  this file is the CUDA runtime {soname} ({v})"
                );
            }
            None => {}
        }
        for p in &r.problems {
            let _ = writeln!(out, "  problem  {p}");
        }
    }
    if plain > 0 {
        let _ = writeln!(out, "{plain} other ELF file(s) without CUDA GPU code");
    }
    if results.is_empty() {
        out.push_str("no ELF files found\n");
    }
    out
}
