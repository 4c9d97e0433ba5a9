//! The module layout (issue 19): no two top-level modules of the library use each other. A
//! `crate::x` path in `y` (outside comments and test modules) is "y uses x". The cycles that
//! predated the rule (through `sys` and `capture`) are gone; `KNOWN` must stay empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Pairs that still use each other; each is work left (none left since issue 20).
const KNOWN: &[(&str, &str)] = &[];

fn walk(dir: &Path, src: &Path, uses: &mut BTreeMap<String, BTreeSet<String>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, src, uses);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path
            .strip_prefix(src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if ["lib", "main", "testutil"].contains(&top.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        for line in code.lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let name: String = line[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() && name != top {
                    uses.entry(top.clone()).or_default().insert(name);
                }
            }
        }
    }
}

#[test]
fn layout_no_import_cycles_between_modules() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses = BTreeMap::new();
    walk(&src, &src, &mut uses);
    let mut cycles = Vec::new();
    for (a, targets) in &uses {
        for b in targets {
            if a < b && uses.get(b).is_some_and(|t| t.contains(a)) {
                cycles.push((a.clone(), b.clone()));
            }
        }
    }
    let new: Vec<&(String, String)> = cycles
        .iter()
        .filter(|(a, b)| !KNOWN.contains(&(a.as_str(), b.as_str())))
        .collect();
    assert!(new.is_empty(), "modules that use each other: {new:?}");
    // A known cycle that is gone must leave the list, so it cannot come back unnoticed.
    for (a, b) in KNOWN {
        assert!(
            cycles.iter().any(|(x, y)| x == a && y == b),
            "{a} <-> {b} is no cycle any more: remove it from KNOWN"
        );
    }
}
