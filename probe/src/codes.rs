//! The catalogue of finding codes: each code, the severities it is raised with, and when.
//!
//! Every finding the probe raises names its code through a constant of this module, and the
//! README's findings table is generated from [`CATALOGUE`] (`cargo run -p nvprobe-gen-docs --
//! --findings-table`; a test fails when the README differs). A code keeps its meaning forever
//! (the contract); adding one is adding a line here.

use std::fmt::Write as _;

use crate::report::Severity;
use Severity::{Error, Info, Warning};

/// One finding code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    /// The stable kebab-case code.
    pub code: &'static str,
    /// The severities it is raised with (most codes have one).
    pub severities: &'static [Severity],
    /// When it is raised, in one line (Markdown).
    pub when: &'static str,
}

macro_rules! catalogue {
    ($($name:ident = $code:literal, [$($sev:ident),+], $when:literal;)*) => {
        $(
            #[doc = concat!("`", $code, "`: ", $when, ".")]
            pub const $name: &str = $code;
        )*
        /// Every finding code, in the README's order.
        pub const CATALOGUE: &[Code] = &[$(Code { code: $code, severities: &[$($sev),+], when: $when },)*];
    };
}

catalogue! {
    NO_NVIDIA_GPU = "no-nvidia-gpu", [Info],
        "no NVIDIA GPU seen by any source";
    DRIVER_NOT_LOADED = "driver-not-loaded", [Error],
        "an NVIDIA GPU is on the PCI bus but the nvidia module is not loaded";
    NOUVEAU_BOUND = "nouveau-bound", [Error],
        "a GPU is bound to nouveau";
    MODULE_NOT_BUILT_FOR_KERNEL = "module-not-built-for-kernel", [Error],
        "no nvidia module for the running kernel, one for another kernel";
    DEVICE_NODES_MISSING = "device-nodes-missing", [Error],
        "the module is loaded but `/dev/nvidiactl` or `/dev/nvidiaN` is absent";
    DEVICE_PERMISSION_DENIED = "device-permission-denied", [Error],
        "a device node exists but this user cannot open it read-write";
    GPU_NOT_BOUND = "gpu-not-bound", [Warning],
        "the nvidia module is loaded but a GPU on the bus has no driver";
    DRIVER_VERSION_SOURCES_DISAGREE = "driver-version-sources-disagree", [Warning],
        "sysfs and procfs report different driver versions";
    COMPUTE_CAPABILITY_UNKNOWN = "compute-capability-unknown", [Info],
        "a GPU's chip has no verified compute capability in the tables (never guessed)";
    DRIVER_BRANCH_UNKNOWN = "driver-branch-unknown", [Info],
        "the driver branch is newer than the tables: CUDA support is \"at least\" the newest known";
    DEADLINE_EXCEEDED = "deadline-exceeded", [Error],
        "the run hit `--timeout`: the report holds what was gathered, the stuck source is `timeout`; it is not healthy and no check on it passes (verdict `unknown`)";
    SOURCES_UNREADABLE = "sources-unreadable", [Error],
        "a source the answers depend on failed (out of file descriptors, an I/O error, a directory too large to list whole, an unreadable consulted environment variable) or `--root` has no `/proc/sys/kernel/osrelease`: what it would show is unknown, never \"no GPU\" or healthy";
    DRIVER_LIBRARY_MISMATCH = "driver-library-mismatch", [Error],
        "the `libcuda`/`libnvidia-ml` the loader would load is another release than the kernel module (\"Driver/library version mismatch\")";
    STUB_LIBRARY_SELECTED = "stub-library-selected", [Error],
        "the `libcuda.so.1`/`libnvidia-ml.so.1` the loader would load is a CUDA toolkit stub";
    LIBCUDA_NOT_FOUND = "libcuda-not-found", [Warning],
        "the nvidia module is loaded but the dynamic loader finds no `libcuda.so.1`: no CUDA program can start (the driver's userspace is not installed)";
    FORWARD_COMPAT_ACTIVE = "forward-compat-active", [Info],
        "a cuda-compat `libcuda` is loaded and accepted for this driver branch and GPU";
    FORWARD_COMPAT_UNSUPPORTED = "forward-compat-unsupported", [Error],
        "a cuda-compat `libcuda` is loaded but its note rejects this driver branch or GPU brand (error 803/804)";
    ARCH_UNSUPPORTED_BY_DRIVER = "arch-unsupported-by-driver", [Error],
        "the driver branch no longer supports the GPU's architecture (Maxwell/Pascal/Volta after R580)";
    FABRIC_MANAGER_MISSING = "fabric-manager-missing", [Error],
        "NVSwitches present but no fabric manager running, or one of another version than the driver";
    OVERRIDE_USED = "override-used", [Info],
        "an `NVPROBE_*` override replaced detection";
    OVERRIDE_INVALID = "override-invalid", [Warning],
        "an `NVPROBE_*` override was malformed and ignored";
    CUDA_RUNTIME_TOO_NEW = "cuda-runtime-too-new", [Error],
        "`check --cuda` or `check --binary`: the CUDA runtime needs a newer driver and no compatibility path applies";
    CUDA_MINOR_VERSION_COMPAT = "cuda-minor-version-compat", [Warning],
        "`check --cuda`, `--binary` or `--python`: it runs through minor-version compatibility only (PTX JIT and newer APIs fail)";
    CUDA_CANNOT_TARGET_ARCH = "cuda-cannot-target-arch", [Error],
        "`check --cuda`: that CUDA version cannot build code for the GPU's compute capability";
    ARCH_MISSING_FROM_BINARY = "arch-missing-from-binary", [Error],
        "`check --binary`: no SASS for the GPU's compute capability and no PTX it could JIT";
    PTX_TOO_NEW_FOR_DRIVER = "ptx-too-new-for-driver", [Error],
        "`check --binary`: the only code for the GPU is PTX newer than the driver can compile";
    BINARY_WRONG_MACHINE = "binary-wrong-machine", [Error],
        "`check --binary`: the file is built for another CPU architecture than this machine's";
    CROSS_CHECK_DISAGREES = "cross-check-disagrees", [Warning],
        "`--cross-check`: NVML reports a value that differs from the probe's";
    SOURCES_DISAGREE = "sources-disagree", [Warning],
        "the kernel's ioctl answers differ from procfs/sysfs (driver version, GPU list)";
    GPU_LOST = "gpu-lost", [Error],
        "the driver reports a GPU as lost (fallen off the bus)";
    GVISOR_NVPROXY_LIMIT = "gvisor-nvproxy-limit", [Warning],
        "under gVisor, nvproxy refused a query (the call is named)";
    GVISOR_NVPROXY_NOT_ENABLED = "gvisor-nvproxy-not-enabled", [Error],
        "gVisor without nvproxy: no GPU device nodes or libraries in the sandbox";
    GVISOR_NVPROXY_CAPABILITIES_MISSING = "gvisor-nvproxy-capabilities-missing", [Warning],
        "gVisor with nvproxy, but without the nodes or libraries of a capability the container asks for";
    TEGRA_GPU_NODES_MISSING = "tegra-gpu-nodes-missing", [Error],
        "a Jetson container without the integrated GPU's device nodes";
    CONTAINER_GPU_NOT_VISIBLE = "container-gpu-not-visible", [Error, Warning],
        "the container sees the driver but no GPU was injected";
    CONTAINER_DEVICE_NODES_MISSING = "container-device-nodes-missing", [Error],
        "the container has GPU access but lacks e.g. `/dev/nvidia-uvm`";
    CONTAINER_LIBRARIES_MISSING = "container-libraries-missing", [Warning],
        "`NVIDIA_DRIVER_CAPABILITIES` implies libraries or tools the container lacks";
    CONTAINER_VISIBLE_SUBSET = "container-visible-subset", [Info],
        "the container sees some of the host's GPUs";
    WSL_GPU_NOT_EXPOSED = "wsl-gpu-not-exposed", [Error],
        "WSL2 without an NVIDIA adapter behind `/dev/dxg`";
    WSL_LIBRARIES_NOT_ON_LOADER_PATH = "wsl-libraries-not-on-loader-path", [Error],
        "`/usr/lib/wsl/lib` is not on the loader path";
    WSL_USERSPACE_MISSING = "wsl-userspace-missing", [Error],
        "the WSL NVIDIA userspace (`libcuda.so.1`, driver store) is missing";
    WSL_LINUX_DRIVER_INSTALLED = "wsl-linux-driver-installed", [Warning],
        "a Linux NVIDIA driver package is installed inside WSL2, which breaks the WSL driver";
    WSL_TOOLS_NOT_ON_PATH = "wsl-tools-not-on-path", [Info],
        "`nvidia-smi` is in `/usr/lib/wsl/lib` but not on `PATH` (SSH, systemd)";
    KNOWN_BAD_KERNEL_DRIVER = "known-bad-kernel-driver", [Error],
        "the installed, unloaded driver release is known not to build for the running kernel (a row of `data/known-bad.tsv`; the finding cites its source)";
    KNOWN_BAD_DRIVER_RELEASE = "known-bad-driver-release", [Warning],
        "the driver in use is of a release range with a documented defect (a `driver-defect` row of `data/known-bad.tsv`; the finding cites its source)";
    GPU_NEWER_THAN_DRIVER = "gpu-newer-than-driver", [Error],
        "the loaded open kernel module is older than the first release that supports a GPU on the bus (`data/gpu-first-driver.tsv`, from the open modules' README of each release; the finding cites it)";
    CUDA_RUNTIME_MAJORS_BEHIND = "cuda-runtime-majors-behind", [Info],
        "the CUDA runtime is more than one major behind the driver's CUDA version: it runs (backward compatibility), but outside the one-major window of virtual-GPU managers";
    KERNEL_HEADERS_MISSING = "kernel-headers-missing", [Error],
        "DKMS manages the nvidia module, none is built for the running kernel, and its headers are not installed (the command installs them)";
    DKMS_NOT_BUILT_FOR_KERNEL = "dkms-not-built-for-kernel", [Error],
        "DKMS manages the nvidia module and the headers are there, but it is not built for the running kernel (`dkms autoinstall -k`)";
    MODULE_SIGNATURE_NOT_TRUSTED = "module-signature-not-trusted", [Error],
        "the kernel enforces module signatures (Secure Boot, lockdown, `sig_enforce`) and the unloaded nvidia module is unsigned or signed with a key the firmware does not hold (enroll the MOK)";
    DKMS_STALE_TREES = "dkms-stale-trees", [Warning],
        "DKMS trees of removed driver versions, or of versions beside the loaded one (the commands remove them)";
    DRIVER_PACKAGES_SPLIT_BRANCH = "driver-packages-split-branch", [Error],
        "the kernel module packages and the userspace packages (`libnvidia-compute`) are of different driver branches, none in common";
    DRIVER_PACKAGES_ORPHANED = "driver-packages-orphaned", [Warning],
        "driver packages of another branch than the one in use are still installed (the command removes them)";
    DRIVER_DESKTOP_FLAVOUR_ON_SERVER = "driver-desktop-flavour-on-server", [Info],
        "the desktop metapackage `nvidia-driver-<branch>` on a machine whose GPUs are all data-center ones (the `-server` flavour is the headless one)";
    FABRIC_MANAGER_PACKAGE_MISMATCH = "fabric-manager-package-mismatch", [Warning],
        "`nvidia-fabricmanager` or `libnvidia-nscq` is installed in another version than the driver (without `NVSwitches` on the bus; with them, `fabric-manager-missing`)";
    CONTAINER_TOOLKIT_OUTDATED = "container-toolkit-outdated", [Warning],
        "`nvidia-container-toolkit` is older than 1.14";
    VGPU_BASELINE_OLDER_THAN_RUNTIME = "vgpu-baseline-older-than-runtime", [Warning],
        "a virtual-GPU manager (HAMi, GPU-Manager) whose hooks were built for an older CUDA than the runtime programs load";
    VGPU_CUDA_MAJOR_MISMATCH = "vgpu-cuda-major-mismatch", [Warning],
        "under a virtual-GPU manager, the runtime's, the driver's and the manager's CUDA majors differ";
    VGPU_FRACTIONAL_ALLOCATION = "vgpu-fractional-allocation", [Info, Warning],
        "a fractional GPU (`vcuda-core` or `CUDA_DEVICE_SM_LIMIT` below 100): cross-major CUDA use needs per-application hooks (warning when the runtime's major is not the driver's)";

}

/// The catalogue entry of `code`.
pub fn lookup(code: &str) -> Option<&'static Code> {
    CATALOGUE.iter().find(|c| c.code == code)
}

/// The README's findings table (Markdown), generated from [`CATALOGUE`].
pub fn markdown_table() -> String {
    let mut out = String::from("| code | severity | when |\n|---|---|---|\n");
    for c in CATALOGUE {
        let sev: Vec<&str> = c.severities.iter().map(|s| s.as_str()).collect();
        let _ = writeln!(out, "| `{}` | {} | {} |", c.code, sev.join(" or "), c.when);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `Finding::new` in the probe's source names its code through a constant of this
    /// module (a bare literal would escape the catalogue).
    #[test]
    fn codes_no_literal_codes_in_source() {
        fn walk(dir: &std::path::Path, bad: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, bad);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for (i, _) in text.match_indices("Finding::new(") {
                        let rest = text[i + "Finding::new(".len()..].trim_start();
                        if rest.starts_with('"') {
                            bad.push(format!("{}: {}", p.display(), &rest[..rest.len().min(40)]));
                        }
                    }
                }
            }
        }
        let mut bad = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut bad,
        );
        bad.retain(|b| {
            !b.contains("tests.rs") && !b.contains("/testutil.rs") && !b.contains("/codes.rs")
        });
        assert!(bad.is_empty(), "{bad:#?}");
    }

    #[test]
    fn codes_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CATALOGUE {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(
                c.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                c.code
            );
            assert!(!c.when.is_empty() && !c.when.ends_with('.'), "{}", c.code);
        }
    }
}
