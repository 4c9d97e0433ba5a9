//! The places where other tools go blind: WSL2, gVisor, Tegra/Jetson and containers.
//!
//! [`refine`] runs after the ioctl stage of [`crate::probe`] and before the findings. For the
//! platform kind [`crate::detect::platform`] decided, it fills `platform.<kind>`, completes the
//! driver and GPU list where the usual sources cannot see them, and adds the platform's
//! findings:
//! - [`wsl`]: `/dev/dxg` adapters ([`dxg`]), the Windows driver mapped to its NVIDIA version and
//!   Linux branch family, the userspace under `/usr/lib/wsl`, and whether the loader finds it;
//! - [`gvisor`]: what nvproxy exposes (device nodes, libraries for its capabilities);
//! - [`tegra`]: the `SoC`, the `L4T` release and the integrated GPU;
//! - [`container`]: which GPUs, device nodes and libraries the container toolkit injected.
//!
//! Pure parsers live beside each part and are tested on pasted real text.

pub mod container;
pub mod dxg;
pub mod gvisor;
pub mod tegra;
pub mod wsl;

use crate::Options;
use crate::detect::Facts;
use crate::report::{PlatformKind, Report};
use crate::root::Root;

/// WSL2: `/dev/dxg` lists no NVIDIA adapter, or is missing.
pub const WSL_GPU_NOT_EXPOSED: &str = "wsl-gpu-not-exposed";
/// WSL2: `/usr/lib/wsl/lib` holds the NVIDIA libraries but the dynamic loader does not search
/// it.
pub const WSL_LIBRARIES_NOT_ON_LOADER_PATH: &str = "wsl-libraries-not-on-loader-path";
/// WSL2: `nvidia-smi` lives in `/usr/lib/wsl/lib`, which is not on `PATH`.
pub const WSL_TOOLS_NOT_ON_PATH: &str = "wsl-tools-not-on-path";
/// WSL2: the Windows driver's Linux userspace (`libcuda.so.1`) is not mounted.
pub const WSL_USERSPACE_MISSING: &str = "wsl-userspace-missing";
/// WSL2: a Linux NVIDIA driver's libraries are installed inside WSL and shadow the WSL ones.
pub const WSL_LINUX_DRIVER_INSTALLED: &str = "wsl-linux-driver-installed";
/// gVisor: runsc runs without nvproxy (no `/dev/nvidiactl`).
pub const GVISOR_NVPROXY_NOT_ENABLED: &str = "gvisor-nvproxy-not-enabled";
/// gVisor: nvproxy is on but device nodes or the libraries of a capability are missing.
pub const GVISOR_NVPROXY_CAPABILITIES_MISSING: &str = "gvisor-nvproxy-capabilities-missing";
/// Tegra: the integrated GPU's device nodes are missing.
pub const TEGRA_GPU_NODES_MISSING: &str = "tegra-gpu-nodes-missing";
/// Container: GPUs were asked for (or exist on the host) but none was injected.
pub const CONTAINER_GPU_NOT_VISIBLE: &str = "container-gpu-not-visible";
/// Container: device nodes the container needs are missing.
pub const CONTAINER_DEVICE_NODES_MISSING: &str = "container-device-nodes-missing";
/// Container: the libraries a driver capability implies are missing.
pub const CONTAINER_LIBRARIES_MISSING: &str = "container-libraries-missing";
/// Container: only some of the host's GPUs are visible (information).
pub const CONTAINER_VISIBLE_SUBSET: &str = "container-visible-subset";

/// Refines the report for its platform, with `/dev/dxg` on the host (or under `--root`).
pub fn refine(opts: &Options, facts: &Facts, report: &mut Report) {
    // A capture records /dev/dxg through its driver; a replay answers from the bundle.
    if let Some(nv) = crate::capture::dxg_driver(opts) {
        refine_with(opts, facts, report, &dxg::DxgViaNv(nv.as_ref()));
    } else {
        refine_with(
            opts,
            facts,
            report,
            &crate::sys::dxg::HostDxg::new(opts.root.clone()),
        );
    }
}

/// [`refine`] with a chosen `/dev/dxg` (the emulator in tests).
pub fn refine_with(
    opts: &Options,
    facts: &Facts,
    report: &mut Report,
    dxg_device: &dyn dxg::DxgDevice,
) {
    match report.platform.kind {
        PlatformKind::Wsl2 => wsl::refine(opts, report, dxg_device),
        PlatformKind::Gvisor => gvisor::refine(opts, report),
        PlatformKind::Tegra => tegra::refine(&opts.root, facts, report),
        PlatformKind::Container | PlatformKind::BareMetal => {
            if report.platform.in_container {
                container::refine(opts, facts, report);
            }
        }
    }
}

/// Directories where driver libraries are injected or installed, in the loader's usual order,
/// after `LD_LIBRARY_PATH`.
const LIB_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu/nvidia",
    "/usr/lib/aarch64-linux-gnu/tegra",
    "/lib/x86_64-linux-gnu",
    "/usr/lib64",
    "/lib64",
    "/usr/lib",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/wsl/lib",
];

/// Directories for tools such as `nvidia-smi`.
const BIN_DIRS: &[&str] = &[
    "/usr/bin",
    "/usr/local/bin",
    "/bin",
    "/usr/local/nvidia/bin",
];

/// Finds the files a program would find: libraries as the dynamic loader looks them up
/// (`LD_LIBRARY_PATH`, then `/etc/ld.so.cache`, then the usual directories) and tools on `PATH`
/// (then the usual bin directories). The loader cache is the run's, parsed once and shared
/// with the doctor.
pub struct Finder<'a> {
    opts: &'a Options,
}

impl<'a> Finder<'a> {
    /// The finder of a run: its root, environment and loader cache.
    pub fn for_run(opts: &'a Options) -> Self {
        Self { opts }
    }

    /// The path under which `name` would be found, if any.
    pub fn find(&self, name: &str) -> Option<String> {
        let root = &self.opts.root;
        let (var, fixed) = if name.starts_with("lib") {
            ("LD_LIBRARY_PATH", LIB_DIRS)
        } else {
            ("PATH", BIN_DIRS)
        };
        let in_dirs = |dirs: &mut dyn Iterator<Item = &str>| {
            dirs.map(|d| format!("{}/{name}", d.trim_end_matches('/')))
                .find(|p| root.exists(p))
        };
        let from_env = self
            .opts
            .env
            .get(var)
            .unwrap_or("")
            .split([':', ';'])
            .filter(|d| d.starts_with('/'));
        in_dirs(&mut from_env.into_iter())
            // The dynamic loader's own cache comes after LD_LIBRARY_PATH, as ld.so searches.
            .or_else(|| {
                if var != "LD_LIBRARY_PATH" {
                    return None;
                }
                self.opts
                    .ld_cache
                    .get(root)
                    .as_ref()
                    .ok()?
                    .lookup(name, crate::doctor::ldcache::native_flags())
                    .filter(|p| root.exists(p))
                    .map(str::to_owned)
            })
            .or_else(|| in_dirs(&mut fixed.iter().copied()))
    }
}

/// True when a `/dev/nvidiaN` node exists.
pub fn any_gpu_node(report: &Report) -> bool {
    report.device_nodes.iter().any(|n| {
        n.path
            .strip_prefix("/dev/nvidia")
            .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// Whether `/etc/ld.so.cache` lists a library under `dir` (a path prefix such as
/// `/usr/lib/wsl/lib/`): `None` when there is no readable cache.
pub fn ld_cache_contains(root: &Root, dir: &str) -> Option<bool> {
    Some(crate::doctor::ldcache::read(root).ok()?.has_dir(dir))
}
