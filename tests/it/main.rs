//! One integration binary for the workspace-level tests; each module is one area.
mod fixtures; // every fixture machine through the library API
