//! Every fixture machine through the library API, in-process.

use nvprobe::report::Report;
use nvprobe::root::Root;
use nvprobe_tests::fixtures_dir;
use pretty_assertions::assert_eq;

fn machines() -> Vec<std::path::PathBuf> {
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("proc").is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// The JSON a consumer reads must carry everything: serialise, parse back, compare.
#[test]
fn fixtures_report_roundtrips_through_json() {
    for dir in machines() {
        let report = nvprobe::probe(&nvprobe::Options::new(Root::at(&dir)));
        let back: Report = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(back, report, "{}", dir.display());
    }
}

/// The same machine probed twice gives the same report (no hidden state, stable ordering).
#[test]
fn fixtures_report_is_deterministic() {
    for dir in machines() {
        let opts = nvprobe::Options::new(Root::at(&dir));
        assert_eq!(
            nvprobe::probe(&opts).to_json(),
            nvprobe::probe(&opts).to_json()
        );
    }
}

/// Findings come most severe first, and every source has a non-empty detail.
#[test]
fn fixtures_findings_sorted_and_sources_explained() {
    for dir in machines() {
        let r = nvprobe::probe(&nvprobe::Options::new(Root::at(&dir)));
        let sev: Vec<_> = r.findings.iter().map(|f| f.severity).collect();
        let mut sorted = sev.clone();
        sorted.sort();
        assert_eq!(sev, sorted, "{}", dir.display());
        assert!(
            r.sources.iter().all(|s| !s.detail.is_empty()),
            "{}",
            dir.display()
        );
        assert!(r.source("kernel-release").is_some());
    }
}
