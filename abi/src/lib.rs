//! The NVIDIA kernel driver's ioctl ABI as `#[repr(C)]` plain-old-data types.
//!
//! # Scope
//! Only what nvprobe sends: the frontend escapes on `/dev/nvidiactl` and `/dev/nvidiaN` and the
//! RM escapes (alloc, control, free) with the few control commands the probe uses.
//!
//! This crate has no unsafe code, no I/O and no errors: it is types, numbers and layout checks.
//!
//! # Source
//! NVIDIA/open-gpu-kernel-modules, tags 515.43.04 to 595.45.04 (`x86_64`, LP64). One module per
//! header; each file names its header. Structs keep their C names; fields are snake case.
//!
//! # Conventions
//! - Every struct is `#[repr(C)]`, `Pod` and `Zeroable`, with explicit padding fields
//!   (`_pad0`), and is followed by an `assert_layout!` that pins its size, alignment and every
//!   field offset at compile time.
//! - Request numbers are built from the argument type with [`escape::request`], never typed in.
//! - A layout that changed between releases has one struct per layout, suffixed with the first
//!   release series that uses it (`_V515`, `_V580`); which one applies is the caller's choice
//!   from the driver version.
//! - [`NvStatus`] is a newtype with named constants: drivers return codes this crate does not
//!   know.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![allow(non_camel_case_types, reason = "ABI structs keep their C names")]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("nvprobe-abi describes the 64-bit (LP64) layout of the NVIDIA ioctl ABI only");

mod layout;

pub mod classes;
pub mod ctrl;
pub mod dxg;
pub mod escape;
pub mod frontend;
pub mod nvos;
pub mod status;
pub mod types;

pub use status::NvStatus;
