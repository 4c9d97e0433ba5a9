//! `nvprobe scan` output: text for people and a JSON document.

use std::fmt::Write as _;

use serde::Serialize;

use super::{CudaRuntime, FileKind, Scan, ScanResult, Stopped};
use crate::report::{SCHEMA_VERSION, Tool};

/// Paths of [`Stopped::not_read`] the text output lists; the rest are counted.
const NOT_READ_SHOWN: usize = 10;

/// The `--json` document of `nvprobe scan`.
#[derive(Serialize)]
struct ScanDocument<'a> {
    schema_version: u32,
    tool: Tool,
    scan: &'a [ScanResult],
    /// Only when the deadline cut the scan short.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    incomplete: bool,
    /// `incomplete_reason`, `not_read`, `not_read_more`, only when incomplete.
    #[serde(flatten)]
    stopped: Option<&'a Stopped>,
}

/// The scan as one JSON object: `schema_version`, `tool`, `scan` (one entry per file); when
/// the deadline cut it short, also `"incomplete": true`, `incomplete_reason`, `not_read` (the
/// paths not read, or not to the end) and `not_read_more` (how many more were not listed).
pub fn scan_json(scan: &Scan) -> String {
    let doc = ScanDocument {
        schema_version: SCHEMA_VERSION,
        tool: Tool::default(),
        scan: &scan.results,
        incomplete: scan.stopped.is_some(),
        stopped: scan.stopped.as_ref(),
    };
    crate::report::json::pretty(&doc).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// The scan for a terminal: per file its GPU code, runtime and problems. Files without CUDA
/// code are summarised in one line at the end; a scan cut short by the deadline ends with a
/// line that says so and the paths it did not read.
pub fn render_scan(scan: &Scan) -> String {
    let esc = crate::escape::escape;
    let results = scan.results.as_slice();
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
            FileKind::Archive => facts.push("ar archive".to_owned()),
            FileKind::Fatbin => facts.push("fatbin file".to_owned()),
            FileKind::Cubin => facts.push("cubin".to_owned()),
            FileKind::Elf => {}
        }
        if r.incomplete {
            facts.push("not read to the end".to_owned());
        }
        if !facts.is_empty() {
            let _ = write!(head, "  ({})", facts.join(", "));
        }
        // File names, SONAMEs, versions and problems come from the files: escaped.
        let _ = writeln!(out, "{}", esc(&head));
        let sass = r.sass_archs();
        if !sass.is_empty() {
            let list: Vec<String> = sass.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  SASS     {}", list.join(" "));
        }
        let relocatable = r.relocatable_archs();
        if !relocatable.is_empty() {
            let list: Vec<String> = relocatable.iter().map(ToString::to_string).collect();
            let counts: Vec<Option<u32>> = r
                .entries()
                .filter(|e| e.relocatable)
                .map(|e| e.kernels.as_ref().and_then(|k| k.count))
                .collect();
            let kernels: u32 = counts.iter().flatten().sum();
            let what = if counts.iter().any(Option::is_none) {
                "relocatable; kernels not read: compressed".to_owned()
            } else if kernels == 0 {
                "relocatable device-library code only, no kernels".to_owned()
            } else {
                format!("relocatable, {kernels} kernel(s)")
            };
            let _ = writeln!(out, "  SASS     {} ({what})", list.join(" "));
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
            Some(CudaRuntime::Shared {
                soname,
                installed: Some(installed),
                ..
            }) => {
                let _ = writeln!(
                    out,
                    "  runtime  shared, {} ({} from {})",
                    esc(soname),
                    esc(&installed.version),
                    esc(&installed.from)
                );
            }
            Some(CudaRuntime::Shared { soname, .. }) => {
                let _ = writeln!(out, "  runtime  shared, {}", esc(soname));
            }
            Some(CudaRuntime::Static { version, .. }) => {
                let v = version
                    .as_deref()
                    .map_or_else(String::new, |v| format!(", CUDA {}", esc(v)));
                let _ = writeln!(out, "  runtime  static cudart (linked in{v})");
            }
            Some(CudaRuntime::IsRuntime { soname, version }) => {
                let v = version.as_deref().unwrap_or("?");
                let _ = writeln!(
                    out,
                    "  runtime  this file is the CUDA runtime {} ({})",
                    esc(soname),
                    esc(v)
                );
            }
            None => {}
        }
        if let Some(toolkit) = &r.toolkit {
            let _ = writeln!(out, "  toolkit  CUDA {}", esc(toolkit));
        }
        if r.fatbin_headers_elsewhere > 0 {
            let _ = writeln!(
                out,
                "  hidden   {} fatbin container(s) (counted: the first run in each section) outside \
                 the fatbin sections (.ldata, .data): their GPU code is not listed",
                r.fatbin_headers_elsewhere
            );
        }
        for p in &r.problems {
            let _ = writeln!(out, "  problem  {}", esc(p));
        }
    }
    if plain > 0 {
        let _ = writeln!(out, "{plain} other ELF file(s) without CUDA GPU code");
    }
    if results.is_empty() && scan.stopped.is_none() {
        out.push_str("no ELF files found\n");
    }
    if let Some(stopped) = &scan.stopped {
        let _ = writeln!(out, "INCOMPLETE: {}:", esc(&stopped.reason));
        for path in stopped.not_read.iter().take(NOT_READ_SHOWN) {
            let _ = writeln!(out, "  not read  {}", esc(path));
        }
        let more = stopped.not_read.len().saturating_sub(NOT_READ_SHOWN) + stopped.not_read_more;
        if more > 0 {
            let _ = writeln!(out, "  and {more} more path(s) not read");
        }
    }
    out
}
