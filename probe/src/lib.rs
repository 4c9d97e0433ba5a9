//! nvprobe: what NVIDIA GPU stack is on this machine, and will this CUDA build run on it?
//!
//! The library behind the `nvprobe` binary. It reads procfs, sysfs and `/dev` under a
//! [`root::Root`] (the host, or a fixture directory) and returns a [`report::Report`].
#![warn(missing_docs)]

pub mod report;
pub mod root;
