//! A golden report per fixture machine: the JSON report, and every output people act on (the
//! text report, `labels`, each `export` format, `check --cuda` for two versions), written
//! under `tests/golden/<fixture>.json` and `tests/golden/<fixture>.txt`. Any change to any
//! field shows in review as a diff of these files. The real machines' bundles
//! (`tests/real/<name>`) get theirs the same way. `NVPROBE_BLESS=1 cargo test -p
//! nvprobe-tests golden` rewrites them after an intended change.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use nvprobe::root::Root;
use nvprobe_tests::{RealFixture, fixtures_dir, real_dir, real_names};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("golden")
}

/// Every output of one fixture machine, as one text.
fn outputs(dir: &Path) -> (String, String) {
    let mut opts = nvprobe::Options::new(Root::at(dir));
    // As `--root` does: a fixture that is a capture bundle replays its ioctl and /dev/dxg
    // answers.
    nvprobe::capture::prepare_replay(&mut opts, dir);
    let report = nvprobe::probe(&opts);
    let json = report.to_json() + "\n";
    let mut text = String::new();
    let mut section = |title: &str, body: &str| {
        let _ = write!(text, "==== {title}\n{body}");
        if !body.ends_with('\n') {
            text.push('\n');
        }
    };
    section("nvprobe", &nvprobe::text::render(&report));
    section("nvprobe labels", &nvprobe::export::nfd_labels(&report));
    section(
        "nvprobe export --format shell",
        &nvprobe::export::shell(&report),
    );
    section(
        "nvprobe export --format conda",
        &nvprobe::export::conda(&report),
    );
    section(
        "nvprobe export --format wheel-variant",
        &nvprobe::export::wheel_variant(&report),
    );
    section(
        "nvprobe export --format overrides",
        &nvprobe::export::overrides(&report),
    );
    section("nvprobe export --format uv", &nvprobe::export::uv(&report));
    for cuda in ["12.4", "13.0"] {
        let req = nvprobe::doctor::CheckRequest::new(Some(cuda), None).unwrap();
        let result = nvprobe::doctor::check(&report, &req, &opts.env);
        section(
            &format!("nvprobe check --cuda {cuda}"),
            &nvprobe::doctor::render_check(&report, &result),
        );
    }
    (json, text)
}

/// The first empty directory under `dir` (symlinks not followed), if any.
fn empty_dir(dir: &Path) -> Option<PathBuf> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    if entries.is_empty() {
        return Some(dir.to_path_buf());
    }
    entries
        .iter()
        .filter(|p| p.symlink_metadata().is_ok_and(|m| m.is_dir()))
        .find_map(|p| empty_dir(p))
}

/// git keeps no empty directory, so a fixture with one reads differently in a clone (and in
/// CI) than here: none may have one (`scripts/gen-fixtures.py` removes them).
#[test]
fn golden_fixtures_have_no_empty_directory() {
    for dir in [fixtures_dir(), real_dir()] {
        let found = empty_dir(&dir);
        assert!(
            found.is_none(),
            "{found:?}: an empty directory, which a clone lacks"
        );
    }
}

#[test]
fn golden_outputs_per_fixture() {
    let bless = std::env::var_os("NVPROBE_BLESS").is_some();
    let golden = golden_dir();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("proc").is_dir())
        .collect();
    dirs.sort();
    let mut names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut differ = Vec::new();
    // The real machines' bundles too, written out with their holes.
    let real = real_names();
    assert!(!real.is_empty(), "no bundle under {}", real_dir().display());
    let mut machines: Vec<(String, Option<RealFixture>, PathBuf)> = names
        .iter()
        .cloned()
        .zip(dirs.iter().cloned())
        .map(|(n, d)| (n, None, d))
        .collect();
    for name in &real {
        let fixture = RealFixture::new(name).unwrap();
        let dir = fixture.path().to_path_buf();
        machines.push((name.clone(), Some(fixture), dir));
    }
    names.extend(real);
    for (name, _keep, dir) in &machines {
        let (json, text) = outputs(dir);
        for (ext, got) in [("json", json), ("txt", text)] {
            let path = golden.join(format!("{name}.{ext}"));
            if bless {
                std::fs::create_dir_all(&golden).unwrap();
                std::fs::write(&path, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&path).unwrap_or_default();
            if want != got {
                differ.push(path.display().to_string());
            }
        }
    }
    assert!(
        differ.is_empty(),
        "outputs differ from their golden files (review, then NVPROBE_BLESS=1 cargo test -p nvprobe-tests golden):\n{}",
        differ.join("\n")
    );
    // No golden file without its fixture.
    if !bless {
        for e in std::fs::read_dir(&golden).unwrap() {
            let p = e.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(
                names.contains(&stem),
                "{}: no fixture or real bundle of that name",
                p.display()
            );
        }
    }
}
