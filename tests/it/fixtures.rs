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

/// A source that blocks past the deadline: the report gathered so far comes back, the stuck
/// source is `timeout`, the half-evaluated findings are replaced by one warning, and the call
/// returns at the deadline rather than when the source finishes.
#[test]
fn fixtures_deadline_gives_partial_report() {
    use std::time::{Duration, Instant};
    let mut opts = nvprobe::Options::new(Root::at(nvprobe_tests::fixture("kernel-update-no-dkms")));
    opts.timeout = Duration::from_millis(200);
    opts.stall = Some(("sysfs-pci".to_owned(), Duration::from_secs(5)));
    let start = Instant::now();
    let r = nvprobe::probe_with_deadline(&opts).expect("a partial report");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "returned at the deadline, not after the stall"
    );
    let pci = r.source("sysfs-pci").expect("the stuck source is listed");
    assert_eq!(pci.status, nvprobe::report::SourceStatus::Timeout);
    assert_eq!(
        r.source("kernel-release").unwrap().status,
        nvprobe::report::SourceStatus::Ok
    );
    assert!(
        r.source("device-nodes").is_none(),
        "sources after the stuck one were not read"
    );
    let codes: Vec<&str> = r.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        ["deadline-exceeded"],
        "no driver-not-loaded guessed from half the sources"
    );
    assert_eq!(
        r.platform.kernel_release.as_deref(),
        Some("6.8.0-51-generic")
    );
}

/// Without a stall the deadline changes nothing.
#[test]
fn fixtures_deadline_not_hit_gives_full_report() {
    let opts = nvprobe::Options::new(Root::at(nvprobe_tests::fixture("kernel-update-no-dkms")));
    let r = nvprobe::probe_with_deadline(&opts).unwrap();
    assert_eq!(r, nvprobe::probe(&opts));
}
