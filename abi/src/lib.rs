//! The NVIDIA kernel driver's ioctl ABI as `#[repr(C)]` plain-old-data types.
//!
//! # Scope
//! Only what nvprobe sends: the frontend escapes on `/dev/nvidiactl` and `/dev/nvidiaN` and the
//! RM escapes (alloc, control, free) with the few control commands the probe uses.
//!
//! This crate has no unsafe code, no I/O and no errors: it is types, numbers and layout checks.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("nvprobe-abi describes the 64-bit (LP64) layout of the NVIDIA ioctl ABI only");
