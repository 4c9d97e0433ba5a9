//! The CUDA content of ELF files (`nvprobe scan`) and whether it runs on a GPU
//! (`nvprobe check --binary`).
//!
//! # What a scan reads
//! What `cuobjdump` reads: ELF files (executables, shared objects, relocatable objects), `ar`
//! archives member by member (`archive.rs`), bare fatbin files (one pseudo-section `fatbin`)
//! and bare cubins (an `EM_CUDA` ELF file: one SASS image in a pseudo-section `cubin`).
//! Concatenated entries (`nvcc --concat`, kind `0x100`) list their images from the headers in
//! their options area (`fatbin.rs`). Fatbins outside the fatbin sections (cuFFT's `.ldata`,
//! `.data` when more fatbins are registered than the fatbin sections hold) are counted, not
//! listed ([`ScanResult::fatbin_headers_elsewhere`]).
//!
//! # What a scan reports
//! For each file: its fatbin sections (`.nv_fatbin`, and `__nv_relfatbin` in relocatable
//! objects) with every embedded image: SASS (cubin) architecture `sm_XY[a|f]`, PTX virtual
//! architecture and ISA version, whether the image is compressed (LZ4 or Zstandard; the entry
//! headers say everything needed for listing, and a listing decompresses nothing); for a
//! relocatable cubin in a linked file's `__nv_relfatbin`, the kernels it defines
//! ([`Entry::kernels`]: read when uncompressed, decompressed only when
//! [`ScanLimits::max_decompressed_per_file`] allows, as `check --binary` does; `inflate.rs`);
//! the fatbin registrations in
//! `.nvFatBinSegment`; `DT_NEEDED`/`DT_SONAME`; the CUDA runtime it uses; its own version. The
//! formats are described in the private modules `fatbin.rs` (container and entry headers, flag
//! bits) and `image.rs` (cubin `e_flags`, PTX header lines).
//!
//! # CUDA runtime signal
//! - `libcudart.so.N` in `DT_NEEDED`: the shared runtime ([`CudaRuntime::Shared`]).
//! - `SONAME libcudart.so.N`: the file is the runtime ([`CudaRuntime::IsRuntime`]).
//! - Otherwise, for a file with CUDA code: cudart's own error string for
//!   `cudaErrorInsufficientDriver` ("CUDA driver version is insufficient for CUDA runtime
//!   version") in `.rodata` means the runtime is linked in ([`CudaRuntime::Static`]). A file that
//!   uses the shared runtime calls `cudaGetErrorString` in `libcudart` and does not carry the
//!   table; checked on libnvjpeg 12.4 and 13.2 (static) and libcudart 12.9.
//!   The static runtime's release is not recorded in the file as such: it is taken from the
//!   toolkit that built the file's device code (the `Cuda compilation tools, release X.Y` text
//!   of an uncompressed PTX or cubin image), else the CUDA major of its newest PTX ISA; `None`
//!   when neither is readable.
//! - A wheel's `.dist-info` beside the shared runtime gives its full version
//!   (`nvidia_cuda_runtime_cu12-12.4.127.dist-info`, `wheel.rs`).
//!
//! # Hostile files
//! Nothing read from a file sizes an allocation beyond what the file holds: the section header
//! table, string tables and `.dynamic` are read only after their range is checked against the
//! file size, and no single read exceeds 16 MiB; fatbins are walked entry header by entry header
//! (64 bytes each) with the payloads skipped by offset, never loaded (but relocatable cubins,
//! [`MAX_CUBIN`] bytes each at most, read or decompressed). Files over 2 GiB are not
//! read. What one file costs is bounded whatever it claims: at most
//! [`ScanLimits::max_read_per_file`] bytes read, 200,000 entries kept and 200 problems listed;
//! fatbin sections whose bytes overlap a section already read (many section headers over one
//! fatbin) are not read again. Every inconsistency becomes a line in [`ScanResult::problems`],
//! never a panic.
//!
//! # Deadline
//! [`ScanLimits::deadline`] (the run's `--timeout` for `scan` and `check --binary`) is checked
//! before each directory, each file and each read. When it passes, [`scan`] returns what it
//! read, the file it was reading marked [`ScanResult::incomplete`], and [`Scan::stopped`]
//! listing the paths not read.
//!
//! # Verdicts
//! [`runs_on`] applies the driver's selection rules (`compat.rs` states the rules and their
//! sources) to a binary's entries; [`check_binary`] does it for a [`ScanResult`] and
//! [`verdict_finding`] turns a failed verdict into a report finding.

mod archive;
mod compat;
mod elf;
mod fatbin;
mod image;
mod inflate;
mod render;
mod source;
mod types;
mod walk;
pub mod wheel;

#[cfg(test)]
mod tests;

pub use compat::{Verdict, arch_matches, driver_max_ptx_isa, runs_on};
pub use elf::MAX_FILE_SIZE;
pub use render::{render_scan, scan_json};
pub use types::{
    Compression, CudaRuntime, Entry, EntryKind, Fatbin, FileKind, Installed, Kernels, ScanResult,
    SmArch, Variant,
};
pub use inflate::{DECOMPRESS_FOR_CHECK, MAX_CUBIN};
pub use walk::{
    Deadline, MAX_NOT_READ_LISTED, MAX_READ_PER_FILE, Scan, ScanLimits, Stopped, scan, scan_file,
    scan_paths,
};

pub use crate::codes::{ARCH_MISSING_FROM_BINARY, PTX_TOO_NEW_FOR_DRIVER};
use crate::report::{Finding, Severity};

/// The verdict for one scanned file on one GPU; `None` when the file has no GPU code at all
/// (nothing to check).
pub fn check_binary(
    result: &ScanResult,
    gpu_cc: (u8, u8),
    driver_max_ptx_isa: Option<(u32, u32)>,
) -> Option<Verdict> {
    result.entries().next()?;
    Some(runs_on(result.entries(), gpu_cc, driver_max_ptx_isa))
}

/// What a file's relocatable cubins ([`Entry::relocatable`]) mean for one GPU, beyond the
/// file's own code: their kernels, when they define some, run only where their SASS fits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelocatableVerdict {
    /// None defines a kernel this GPU lacks: the file's own code decides (also when there are
    /// no relocatable cubins).
    Fine,
    /// Some define kernels and none of those fits the GPU: the verdict for them.
    Missing(Verdict),
    /// Some whose SASS does not fit the GPU were not read (compressed and not decompressed,
    /// over the budget, unreadable): whether they define kernels is not known. Lists each as
    /// `sm_90: why`.
    Unknown(Vec<String>),
}

/// [`RelocatableVerdict`] for `result` on a GPU of compute capability `gpu_cc`.
pub fn relocatable_verdict(result: &ScanResult, gpu_cc: (u8, u8)) -> RelocatableVerdict {
    let relocatable = || result.entries().filter(|e| e.relocatable);
    let with_kernels: Vec<&Entry> = relocatable()
        .filter(|e| e.kernels.as_ref().is_some_and(|k| k.count.unwrap_or(0) > 0))
        .collect();
    if !with_kernels.is_empty() {
        let v = runs_on(with_kernels, gpu_cc, None);
        if !v.runs() {
            return RelocatableVerdict::Missing(v);
        }
    }
    // One line per reason, with the archs it holds for: a library of hundreds of cubins
    // (NVSHMEM's) would otherwise repeat the same reason hundreds of times.
    let mut grouped: Vec<(&str, Vec<SmArch>, usize)> = Vec::new();
    for e in relocatable().filter(|e| !arch_matches(e.arch, gpu_cc, true)) {
        let kernels = e.kernels.as_ref();
        if kernels.is_some_and(|k| k.count.is_some()) {
            continue;
        }
        let why = kernels
            .and_then(|k| k.unread.as_deref())
            .unwrap_or("not read");
        match grouped.iter_mut().find(|(w, ..)| *w == why) {
            Some((_, archs, cubins)) => {
                if !archs.contains(&e.arch) {
                    archs.push(e.arch);
                }
                *cubins += 1;
            }
            None => grouped.push((why, vec![e.arch], 1)),
        }
    }
    let unread: Vec<String> = grouped
        .into_iter()
        .map(|(why, archs, cubins)| {
            let archs: Vec<String> = archs.iter().map(ToString::to_string).collect();
            if cubins > archs.len() {
                format!("{cubins} cubins for {}: {why}", archs.join(", "))
            } else {
                format!("{}: {why}", archs.join(", "))
            }
        })
        .collect();
    if unread.is_empty() {
        RelocatableVerdict::Fine
    } else {
        RelocatableVerdict::Unknown(unread)
    }
}

/// A finding for a verdict that fails (`None` when the binary runs): `arch-missing-from-binary`
/// or `ptx-too-new-for-driver`, naming the file, the GPU (`gpu`: how to call it, such as
/// `"GPU 0 (H100 SXM5 80GB)"`), its compute capability and the archs present.
pub fn verdict_finding(
    path: &str,
    gpu: &str,
    gpu_cc: (u8, u8),
    verdict: &Verdict,
) -> Option<Finding> {
    let cc = format!("{}.{}", gpu_cc.0, gpu_cc.1);
    let sm = format!("sm_{}{}", gpu_cc.0, gpu_cc.1);
    match verdict {
        Verdict::Sass { .. } | Verdict::PtxJit { .. } => None,
        Verdict::Missing { sass, ptx } => {
            let list = |archs: &[SmArch], ptx: bool| {
                if archs.is_empty() {
                    return "none".to_owned();
                }
                archs
                    .iter()
                    .map(|a| if ptx { a.compute_name() } else { a.to_string() })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Some(Finding::new(
                ARCH_MISSING_FROM_BINARY,
                Severity::Error,
                format!(
                    "{path} has no code for {gpu} (compute capability {cc}): SASS for {}; PTX \
                     for {}. Launching its kernels fails with \"no kernel image is available for \
                     execution on the device\" (\"invalid device function\" on older CUDA).",
                    list(sass, false),
                    list(ptx, true)
                ),
                format!(
                    "Install a build of this package that targets {sm} (for PyTorch-style wheels: \
                     one whose CUDA arch list includes {cc}), or rebuild with \
                     -gencode arch=compute_{0}{1},code={sm} (add code=compute_{0}{1} for PTX).",
                    gpu_cc.0, gpu_cc.1
                ),
            ))
        }
        Verdict::PtxTooNew {
            arch,
            isa,
            driver_max,
        } => Some(Finding::new(
            PTX_TOO_NEW_FOR_DRIVER,
            Severity::Error,
            format!(
                "{path} has no SASS for {gpu} (compute capability {cc}); its PTX for {} is ISA \
                 {}.{}, but this driver compiles PTX only up to ISA {}.{}. Loading fails with \
                 \"the provided PTX was compiled with an unsupported toolchain\".",
                arch.compute_name(),
                isa.0,
                isa.1,
                driver_max.0,
                driver_max.1
            ),
            "Upgrade the NVIDIA driver to one whose CUDA version supports this PTX ISA, or \
             install a build with SASS for this GPU.",
        )),
    }
}
