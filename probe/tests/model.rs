//! The model and the rules stage (issue 19): the sources build the model once, and the rules
//! derive findings and `cuda` from it without writing anything else; the machine's own rules
//! describe what was detected, not what an `NVPROBE_*` override stands for.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use nvprobe::report::{CudaHere, Report};
use nvprobe::{Env, Options, model, root::Root, rules};

mod common;
use common::{fixture, fixtures};

/// The report as JSON without what the rules derive.
fn facts_only(r: &Report) -> serde_json::Value {
    let mut r = r.clone();
    r.findings.clear();
    r.cuda = CudaHere::default();
    serde_json::to_value(&r).unwrap()
}

#[test]
fn model_rules_write_only_findings_and_cuda_on_every_fixture() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let root = entry.unwrap().path();
        for deep in [false, true] {
            let mut opts = Options::new(Root::at(&root));
            opts.deep = deep;
            let m = model::read(&opts);
            assert!(
                m.report.findings.is_empty(),
                "{}: a source raised a finding: {:?}",
                root.display(),
                m.report.findings
            );
            let before = facts_only(&m.report);
            let report = rules::evaluate(m);
            assert_eq!(
                facts_only(&report),
                before,
                "{}: the rules wrote a fact",
                root.display()
            );
            // The same as a whole run.
            assert_eq!(report, {
                let mut o = Options::new(Root::at(&root));
                o.deep = deep;
                nvprobe::probe(&o)
            });
        }
        seen += 1;
    }
    assert!(seen >= 30, "{seen} fixtures");
}

/// `NVPROBE_DRIVER_VERSION` and `NVPROBE_COMPUTE_CAPABILITY` stand for a driver and a GPU on a
/// machine whose GPUs have no driver: the report shows the overrides, while the findings about
/// the machine itself (the module is not loaded) still describe what was detected.
#[test]
fn model_machine_rules_read_the_detected_machine_under_overrides() {
    let mut opts = Options::new(Root::at(fixture("kernel-6.8-driver-545-no-module")));
    let plain = nvprobe::probe(&opts);
    assert!(plain.driver.is_none());
    let codes = |r: &Report| -> Vec<String> { r.findings.iter().map(|f| f.code.clone()).collect() };
    assert!(
        codes(&plain).contains(&"driver-not-loaded".to_owned()),
        "{:?}",
        codes(&plain)
    );
    opts.env = Env::from_pairs([
        ("NVPROBE_DRIVER_VERSION", "550.54.15"),
        ("NVPROBE_COMPUTE_CAPABILITY", "8.6"),
    ]);
    let m = model::read(&opts);
    assert_eq!(
        m.detected().driver,
        None,
        "the detected machine has no driver"
    );
    assert_eq!(
        m.report
            .driver
            .as_ref()
            .map(|d| d.version.to_string())
            .as_deref(),
        Some("550.54.15")
    );
    let report = rules::evaluate(m);
    let got = codes(&report);
    assert!(got.contains(&"override-used".to_owned()), "{got:?}");
    assert!(
        got.contains(&"driver-not-loaded".to_owned()),
        "an override does not load the module: {got:?}"
    );
}

/// Per GPU, the model says what this process can reach; the rules read it (issue 19): a GPU the
/// container runtime did not inject is not visible and never usable, and a GPU's device node
/// carries its access (denied, missing).
#[test]
fn model_gpus_carry_visibility_and_device_access() {
    let run = |name: &str| nvprobe::probe(&Options::new(Root::at(fixture(name))));
    let r = run("container-visible-subset");
    let hidden: Vec<u32> = r
        .gpus
        .iter()
        .filter(|g| !g.visible)
        .map(|g| g.index)
        .collect();
    assert!(!hidden.is_empty(), "{:#?}", r.gpus);
    assert!(r.gpus.iter().any(|g| g.visible));
    for i in &hidden {
        assert!(
            !r.cuda.usable_gpus.contains(i),
            "GPU {i} is hidden but usable"
        );
        assert!(
            !r.cuda.nvml_gpus.contains(i),
            "GPU {i} is hidden but NVML lists it"
        );
    }
    let r = run("permission-denied-l40s-open-550");
    assert!(
        r.gpus
            .iter()
            .any(|g| g.device_access.as_deref() == Some("denied")),
        "{:#?}",
        r.gpus
    );
    let r = run("nodes-missing-rtx5090-open-570");
    let g = &r.gpus[0];
    assert_eq!(g.device_node.as_deref(), Some("/dev/nvidia0"));
    assert_eq!(g.device_access.as_deref(), Some("missing"));
    // On a healthy machine every GPU is visible and its node open to this process.
    let r = run("bare-metal-h100x8-open-580");
    assert!(
        r.gpus
            .iter()
            .all(|g| g.visible && g.device_access.as_deref() == Some("ok")),
        "{:#?}",
        r.gpus
    );
}
