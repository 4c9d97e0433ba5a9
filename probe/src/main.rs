//! The `nvprobe` binary.
fn main() {}
