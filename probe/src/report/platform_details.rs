//! `platform.wsl`, `platform.gvisor`, `platform.tegra`, `platform.container` (extension): what
//! the platform stage ([`crate::platform`]) found where other tools go blind. Each section is
//! absent from the JSON when it does not apply.

use serde::{Deserialize, Serialize};

/// The per-platform sections, flattened into `platform`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformDetails {
    /// WSL2: `/dev/dxg` adapters, the Windows driver, the userspace under `/usr/lib/wsl`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wsl: Option<WslInfo>,
    /// gVisor: the evidence and what nvproxy exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gvisor: Option<GvisorInfo>,
    /// Tegra/Jetson: the `SoC` and the `L4T` release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tegra: Option<TegraInfo>,
    /// Containers: which GPUs, nodes and libraries were injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerInfo>,
    /// A virtual-GPU manager (HAMi, GPU-Manager) intercepting CUDA here (issue 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vgpu_manager: Option<super::stack::VgpuManagerInfo>,
    /// How the nvidia kernel module is built for the running kernel (issue 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_build: Option<super::stack::KernelBuildInfo>,
    /// The NVIDIA driver packages installed (issue 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<super::stack::DriverPackagesInfo>,
}

/// `platform.wsl`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WslInfo {
    /// `/dev/dxg`: `ok`, `absent`, `denied`, `failed`, `skipped` (a fixture stand-in).
    pub dxg: String,
    /// The Windows display driver's file version (`32.0.15.6094`), from the adapter's UMD
    /// driver version.
    pub windows_driver_version: Option<String>,
    /// The NVIDIA version of that driver (`560.94`).
    pub nvidia_version: Option<String>,
    /// The Linux driver branch family it belongs to (`560`, `595` for `596.36`).
    pub linux_branch_family: Option<u32>,
    /// The adapters `/dev/dxg` listed (compute-only included), NVIDIA or not.
    pub adapters: Vec<WslAdapter>,
    /// The NVIDIA userspace found under `/usr/lib/wsl/lib` (`libcuda.so.1`, `nvidia-smi`, ...).
    pub lib_files: Vec<String>,
    /// Driver-store directories under `/usr/lib/wsl/drivers` that hold `libcuda.so.1.1`.
    pub driver_store: Vec<String>,
    /// True when the dynamic loader finds `/usr/lib/wsl/lib` (`null`: no such directory).
    pub lib_dir_on_loader_path: Option<bool>,
    /// How the loader finds it: `LD_LIBRARY_PATH`, `/etc/ld.so.conf.d/<file>`, `ld.so.cache`.
    pub loader_path_via: Option<String>,
    /// True when `PATH` holds `/usr/lib/wsl/lib` (where `nvidia-smi` lives).
    pub lib_dir_on_path: Option<bool>,
    /// True when the Windows interop binfmt (`WSLInterop`) is registered.
    pub interop: bool,
}

/// `platform.wsl.adapters[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WslAdapter {
    /// The Windows adapter LUID, `0xHIGH_LOW`.
    pub luid: String,
    /// `0x10de`.
    pub vendor_id: Option<crate::report::PciId>,
    /// `0x2786`.
    pub device_id: Option<crate::report::PciId>,
    /// Subsystem vendor.
    pub subsystem_vendor_id: Option<crate::report::PciId>,
    /// Subsystem device.
    pub subsystem_device_id: Option<crate::report::PciId>,
    /// Adapter type flags in words: `render`, `display`, `software`, `compute-only`, ...
    pub flags: Vec<String>,
    /// The host PCI location `bus:device.function`, when the adapter is on PCI.
    pub host_pci: Option<String>,
    /// The adapter's name from the host registry.
    pub name: Option<String>,
    /// The user-mode driver's Windows file version.
    pub umd_version: Option<String>,
    /// Queries that failed, in words.
    pub problems: Vec<String>,
}

/// `platform.gvisor`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GvisorInfo {
    /// Why this is gVisor, in words.
    pub evidence: Vec<String>,
    /// True when `/dev/nvidiactl` is present (runsc ran with `--nvproxy`).
    pub nvproxy: bool,
    /// True when `/proc/driver/nvidia` holds `params` and no `version` or `gpus/` (nvproxy's
    /// procfs).
    pub procfs_params_only: bool,
    /// Device nodes nvproxy should expose that are absent.
    pub missing_nodes: Vec<String>,
    /// nvproxy driver capabilities (`compute`, `utility`) whose libraries are absent.
    pub missing_capabilities: Vec<String>,
    /// Whether this nvprobe's copy of runsc's list supports the driver: `supported`,
    /// `unsupported` (needs `--nvproxy-allow-unsupported-driver`), `unknown`.
    pub driver_in_nvproxy_list: Option<String>,
}

/// `platform.tegra`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TegraInfo {
    /// The `SoC` compatible string (`nvidia,tegra234`).
    pub soc: Option<String>,
    /// The `SoC` family (`Orin`).
    pub family: Option<String>,
    /// The board model (`/proc/device-tree/model` or `/sys/devices/soc0/machine`).
    pub model: Option<String>,
    /// `/sys/devices/soc0/soc_id` (decimal chip id: 35 is Tegra234).
    pub soc_id: Option<u32>,
    /// `/sys/devices/soc0/revision` (`A01`).
    pub revision: Option<String>,
    /// The `L4T` release from `/etc/nv_tegra_release` (`36.4.0`).
    pub l4t_release: Option<String>,
    /// The first line of `/etc/nv_tegra_release`, as written.
    pub l4t_line: Option<String>,
    /// The CUDA version the `L4T` release's driver provides (`JetPack` table), when known.
    pub l4t_cuda_version: Option<crate::report::CudaVersion>,
    /// The integrated GPU's kernel driver: `nvgpu` or `nvidia`.
    pub gpu_driver: Option<String>,
    /// The GPU's device nodes that are present.
    pub gpu_nodes: Vec<String>,
}

/// `platform.container`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// `NVIDIA_VISIBLE_DEVICES` as set, `null` when unset.
    pub nvidia_visible_devices: Option<String>,
    /// `NVIDIA_DRIVER_CAPABILITIES`, expanded (`all` → every capability).
    pub driver_capabilities: Vec<String>,
    /// `env` or `default` (`utility,compute` when unset).
    pub driver_capabilities_from: String,
    /// Bus ids of the GPUs injected into this container (`/proc/driver/nvidia/gpus` and
    /// `/dev/nvidiaN`).
    pub visible_gpus: Vec<String>,
    /// Bus ids of NVIDIA GPUs sysfs shows that were not injected.
    pub hidden_gpus: Vec<String>,
    /// The NVIDIA device nodes present.
    pub device_nodes: Vec<String>,
    /// Device nodes the container needs and lacks.
    pub missing_device_nodes: Vec<String>,
    /// The libraries and tools the capabilities imply, and where each was found.
    pub expected: Vec<ExpectedFile>,
}

/// `platform.container.expected[]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedFile {
    /// `libcuda.so.1`, `nvidia-smi`.
    pub name: String,
    /// The capability that injects it (`compute`, `utility`).
    pub capability: String,
    /// Where it was found, `null` when missing.
    pub found: Option<String>,
}
