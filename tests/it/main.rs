//! One integration binary for the workspace-level tests; each module is one area.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]
mod fixtures; // every fixture machine through the library API
mod golden; // a golden report and every output per fixture machine
mod real; // the real machines' bundles against what the machines said
mod tables; // generated tables: lookups and spot checks
