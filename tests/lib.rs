//! Helpers shared by the workspace-level tests: where the fixture machines live.
use std::path::PathBuf;

/// The directory holding the fixture machines (`tests/fixtures/<name>`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The root directory of one fixture machine.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}
