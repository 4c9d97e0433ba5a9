//! The places where other tools go blind: WSL2, gVisor, Tegra/Jetson and containers.
//!
//! [`refine_with`] is a source of the model: it runs after the ioctl source in
//! `model::build`. For the platform kind [`crate::detect::platform`] decided, it fills
//! `platform.<kind>` and completes the driver and GPU list where the usual sources cannot see
//! them; `findings::platform` words what it found (it raises no finding itself):
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
pub mod vgpu_manager;
pub mod wsl;

use crate::Options;
pub use crate::codes::{
    CONTAINER_DEVICE_NODES_MISSING, CONTAINER_GPU_NOT_VISIBLE, CONTAINER_LIBRARIES_MISSING,
    CONTAINER_VISIBLE_SUBSET, GVISOR_NVPROXY_CAPABILITIES_MISSING, GVISOR_NVPROXY_NOT_ENABLED,
    TEGRA_GPU_NODES_MISSING, WSL_GPU_NOT_EXPOSED, WSL_LIBRARIES_NOT_ON_LOADER_PATH,
    WSL_LINUX_DRIVER_INSTALLED, WSL_TOOLS_NOT_ON_PATH, WSL_USERSPACE_MISSING,
};
use crate::detect::Facts;
use crate::report::{PlatformKind, Report};

/// What the platform sources recorded that the report does not hold and a rule needs.
#[derive(Clone, Debug, Default)]
pub struct PlatformFacts {
    /// WSL2's (`None` elsewhere).
    pub wsl: Option<wsl::WslFacts>,
}

/// Refines the report for its platform, with `dxg_device` for `/dev/dxg` (the host's, a
/// capture's recorder or replay, or the emulator in tests: the caller chooses). The platform
/// sources record facts; the rules (`findings::wsl`, `gvisor`, `tegra`, `container`) word them.
pub fn refine_with(
    opts: &Options,
    facts: &Facts,
    report: &mut Report,
    dxg_device: &dyn dxg::DxgDevice,
) -> PlatformFacts {
    let mut out = PlatformFacts::default();
    if !opts.cuda_only {
        vgpu_manager::refine(opts, report);
    }
    match report.platform.kind {
        PlatformKind::Wsl2 => out.wsl = Some(wsl::refine(opts, report, dxg_device)),
        PlatformKind::Gvisor => gvisor::refine(opts, report),
        PlatformKind::Tegra => tegra::refine(&opts.root, facts, report),
        PlatformKind::Container | PlatformKind::BareMetal => {
            if report.platform.in_container {
                container::refine(opts, facts, report);
            }
        }
    }
    out
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
    /// The machine's architecture (`platform.arch`): which loader cache entries apply.
    arch: crate::report::CpuArch,
}

impl<'a> Finder<'a> {
    /// The finder of a run: its root, environment and loader cache, for a machine of `arch`.
    pub fn for_run(opts: &'a Options, arch: crate::report::CpuArch) -> Self {
        Self { opts, arch }
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
                    .lookup(name, crate::doctor::ldcache::flags_for(self.arch))
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

/// Whether the run's `/etc/ld.so.cache` (parsed once, shared with the doctor) lists a library
/// of a machine of `arch` under `dir` (a path prefix such as `/usr/lib/wsl/lib/`): `None` when
/// there is no readable cache.
pub fn ld_cache_contains(
    opts: &Options,
    dir: &str,
    arch: crate::report::CpuArch,
) -> Option<bool> {
    Some(
        opts.ld_cache
            .get(&opts.root)
            .as_ref()
            .ok()?
            .has_dir(dir, arch),
    )
}
