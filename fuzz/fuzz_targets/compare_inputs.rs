//! `nvprobe compare`: a report file and a `kubectl get nodes -o json` file, both hostile.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nvprobe::compare;

fuzz_target!(|data: &[u8]| {
    let mut inputs = compare::read_k8s_nodes(data, "nodes.json");
    if let Ok(v) = compare::parse_report(data) {
        inputs
            .nodes
            .push(compare::node_from_report("r".into(), compare::NodeSource::Report, &v));
    }
    let c = compare::compare(inputs);
    let _ = compare::render(&c);
    let _ = compare::to_json(&c);
});
