//! `platform.vgpu_manager`, `platform.kernel_build`, `platform.packages` (extension, issue 23):
//! the layers people otherwise check by hand. A virtual-GPU manager in the container, how the
//! kernel module is built for the running kernel, and which driver packages are installed.
//! Each section is absent from the JSON when its source found nothing to say.

use serde::{Deserialize, Serialize};

/// `platform.vgpu_manager`: a virtual-GPU manager that intercepts CUDA in this container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VgpuManagerInfo {
    /// `hami` (HAMi-core's `libvgpu.so`) or `gpu-manager` (tkestack GPU-Manager's vcuda).
    pub kind: String,
    /// Why, in words: the files and variables that gave it away.
    pub evidence: Vec<String>,
    /// The interposed library (`/usr/local/vgpu/libvgpu.so`, `libcuda-control.so`).
    pub library: Option<String>,
    /// HAMi's per-device memory limits, `CUDA_DEVICE_MEMORY_LIMIT*` as set (`0=10240m`).
    pub memory_limits: Vec<String>,
    /// The share of the GPU's compute this container gets, in percent: HAMi's
    /// `CUDA_DEVICE_SM_LIMIT` or GPU-Manager's `vcuda-core` (its `vcuda.config`); 100 or more
    /// is whole GPUs, `null` when not set or not readable.
    pub core_percent: Option<u32>,
    /// The CUDA version the manager's hooks were built against (the newest API it knows),
    /// when known.
    pub baseline_cuda: Option<String>,
    /// Where `baseline_cuda` comes from, in words; or, when it cannot be known (HAMi), why
    /// (starting `unknown:`).
    pub baseline_source: Option<String>,
}

/// `platform.kernel_build`: how the nvidia kernel module is built and loaded for the running
/// kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelBuildInfo {
    /// The running kernel's release.
    pub kernel_release: Option<String>,
    /// The running kernel's headers: the directory found (`/lib/modules/<release>/build`,
    /// `/usr/src/linux-headers-<release>`, `/usr/src/kernels/<release>`), `null` when none.
    pub headers: Option<String>,
    /// What DKMS holds for nvidia modules, one entry per built or registered tree.
    pub dkms: Vec<DkmsTree>,
    /// Whether the nvidia module is signed: `true`/`false`, `null` when unknown (compressed
    /// module files are not decompressed; the loaded module's taint tells when it is loaded).
    pub module_signed: Option<bool>,
    /// How `module_signed` was decided, in words.
    pub module_signed_by: Option<String>,
    /// `/sys/module/module/parameters/sig_enforce` (`Y`: only signed modules load).
    pub sig_enforce: Option<bool>,
    /// The kernel lockdown mode (`none`, `integrity`, `confidentiality`) from
    /// `/sys/kernel/security/lockdown`.
    pub lockdown: Option<String>,
    /// The `SecureBoot` EFI variable: `true` when Secure Boot is on, `null` when unknown (no
    /// efivarfs, or not EFI).
    pub secure_boot: Option<bool>,
    /// The Machine Owner Key DKMS signs modules with (`/var/lib/shim-signed/mok/MOK.der`,
    /// `/var/lib/dkms/mok.pub`), `null` when there is none.
    pub mok_key: Option<String>,
    /// Whether that key is enrolled: found in the firmware's `MokListRT` (`null` when either is
    /// not readable).
    pub mok_enrolled: Option<bool>,
    /// `/proc/sys/kernel/tainted`, the kernel's taint bitmask.
    pub tainted: Option<u64>,
    /// The taint flags of that mask in the kernel's letters (`P`, `O`, `E`, ...).
    pub taint_flags: Option<String>,
}

/// `platform.kernel_build.dkms[]`: one `/var/lib/dkms/<module>/<version>` tree.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkmsTree {
    /// The DKMS module name (`nvidia`, `nvidia-srv`).
    pub module: String,
    /// The module version (`535.183.01`).
    pub version: String,
    /// The kernel releases it is built for (a `<release>/<arch>/module` directory).
    pub built_for: Vec<String>,
    /// True when the source is still registered (`/var/lib/dkms/<module>/<version>/source`
    /// resolves); a tree whose source is gone is stale, left by a removed driver.
    pub source_present: bool,
}

/// `platform.packages`: the NVIDIA driver packages the package manager has installed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverPackagesInfo {
    /// `dpkg` (`/var/lib/dpkg/status`) or `rpm` (`rpmdb.sqlite`).
    pub manager: String,
    /// Every installed NVIDIA driver package, by layer.
    pub packages: Vec<DriverPackage>,
    /// The NVIDIA container toolkit's version (`nvidia-container-toolkit`), when installed.
    pub container_toolkit: Option<String>,
}

/// `platform.packages.packages[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriverPackage {
    /// The package name.
    pub name: String,
    /// The package version as installed (`535.183.01-0ubuntu0.22.04.1`).
    pub version: String,
    /// `module` (kernel module), `userspace` (`libnvidia-compute`), `utils`, `meta` (the
    /// metapackage), `fabric-manager`, `nscq`.
    pub layer: String,
    /// The driver branch in the name (`535`), `null` when it has none.
    pub branch: Option<u32>,
    /// True for the `-server` flavour (data-center release cadence, no desktop parts).
    pub server: bool,
}
