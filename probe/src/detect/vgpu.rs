//! Virtual-GPU managers in this container (issue 23): HAMi and tkestack GPU-Manager.
//!
//! - **HAMi** (HAMi-core, `libvgpu.so`): its device plugin mounts the host's
//!   `/usr/local/vgpu/ld.so.preload` (one line, `/usr/local/vgpu/libvgpu.so`) over
//!   `/etc/ld.so.preload`, so every process loads the hook first, and sets
//!   `CUDA_DEVICE_MEMORY_LIMIT_<i>` (`10240m`), `CUDA_DEVICE_SM_LIMIT` (percent) and
//!   `CUDA_DEVICE_MEMORY_SHARED_CACHE` (Project-HAMi/HAMi, the NVIDIA device plugin's
//!   `Allocate`). Some set `LD_PRELOAD=/usr/local/vgpu/libvgpu.so` instead.
//! - **GPU-Manager** (tkestack/gpu-manager with vcuda-controller): its `Allocate` mounts the
//!   virtual driver directory at `/usr/local/nvidia` (with `lib64/libcuda-control.so`), sets
//!   `LD_LIBRARY_PATH=/usr/local/nvidia/lib64`, and mounts the pod's directory at `/etc/vcuda`,
//!   where the manager writes `<container>/vcuda.config`: a packed `resource_data_t` (pod uid,
//!   limit, container name, bus id, `gpu_memory`, `utilization` = the `tencent.com/vcuda-core`
//!   request in percent of a GPU, ...). vcuda-controller's README: "CUDA 11.5.1 and before are
//!   supported", the newest API its hooks know.
//!
//! A source: it records what it saw; the rules are in `platform::vgpu_manager`.

use crate::Env;
use crate::report::stack::VgpuManagerInfo;
use crate::report::{Source, SourceStatus};
use crate::root::Root;

/// The source's name.
pub const SOURCE: &str = "vgpu-manager";

const PRELOAD: &str = "/etc/ld.so.preload";
const HAMI_LIB: &str = "libvgpu.so";
const VCUDA_DIR: &str = "/etc/vcuda";
const VCUDA_CONFIG: &str = "vcuda.config";
const VCUDA_LIBS: &[&str] = &[
    "/usr/local/nvidia/lib64/libcuda-control.so",
    "/usr/local/nvidia/lib/libcuda-control.so",
];
/// `sizeof(struct resource_data_t)` as gpu-manager writes it (`FILENAME_MAX` 4096,
/// `NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE` 16, packed, aligned to 8).
const VCUDA_CONFIG_SIZE: usize = 8240;
/// `offsetof(resource_data_t, utilization)`: 48 + 4 + 4044 + 4096 + 16 + 8.
const VCUDA_UTILIZATION_AT: usize = 8216;
/// The newest CUDA release vcuda-controller's hooks support (its README).
const VCUDA_BASELINE: &str = "11.5";

/// The libraries `/etc/ld.so.preload` names: separated by white space or `:`, as ld.so reads
/// it; `#` starts no comment there, so nothing else is skipped.
pub fn preload_entries(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ':')
        .filter(|s| !s.is_empty())
        .collect()
}

/// `utilization` (the vcuda-core percentage) from a `vcuda.config`, when the file has the size
/// gpu-manager writes.
pub fn vcuda_core(config: &[u8]) -> Option<u32> {
    if config.len() != VCUDA_CONFIG_SIZE {
        return None;
    }
    let raw: [u8; 4] = config
        .get(VCUDA_UTILIZATION_AT..VCUDA_UTILIZATION_AT + 4)?
        .try_into()
        .ok()?;
    u32::try_from(i32::from_le_bytes(raw)).ok()
}

/// What a capture keeps of a `vcuda.config`: the one field nvprobe reads (`utilization`) at
/// its place, every other byte zero. The rest (the pod's UID, the container's name, limits) is
/// the cluster's, not the machine's, and does not travel in a bug-report bundle.
pub fn vcuda_config_for_capture(config: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; config.len()];
    if config.len() == VCUDA_CONFIG_SIZE
        && let (Some(to), Some(from)) = (
            out.get_mut(VCUDA_UTILIZATION_AT..VCUDA_UTILIZATION_AT + 4),
            config.get(VCUDA_UTILIZATION_AT..VCUDA_UTILIZATION_AT + 4),
        )
    {
        to.copy_from_slice(from);
    }
    out
}

fn is_hami_lib(entry: &str) -> bool {
    entry
        .rsplit('/')
        .next()
        .is_some_and(|f| f.starts_with(HAMI_LIB))
}

/// Reads the evidence of a virtual-GPU manager under `root` and in `env`.
pub fn read(root: &Root, env: &Env) -> (Option<VgpuManagerInfo>, Source) {
    let mut problems = Vec::new();
    let preload = match root.read_text_limited(PRELOAD, 64 * 1024) {
        Ok(t) => Some(t.text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            problems.push(format!("{PRELOAD}: {}", crate::root::describe_error(&e)));
            None
        }
    };
    if let Some(info) = hami(root, env, preload.as_deref()) {
        let detail = info.evidence.join("; ");
        return (Some(info), Source::new(SOURCE, SourceStatus::Ok, detail));
    }
    if let Some(info) = gpu_manager(root, &mut problems) {
        let mut detail = info.evidence.join("; ");
        if !problems.is_empty() {
            detail.push_str("; ");
            detail.push_str(&problems.join("; "));
        }
        return (Some(info), Source::new(SOURCE, SourceStatus::Ok, detail));
    }
    let source = if problems.is_empty() {
        Source::new(
            SOURCE,
            SourceStatus::Absent,
            "no HAMi libvgpu.so in /etc/ld.so.preload or LD_PRELOAD, no HAMi variables, no GPU-Manager /etc/vcuda",
        )
    } else {
        Source::new(SOURCE, SourceStatus::Failed, problems.join("; "))
    };
    (None, source)
}

/// HAMi's `baseline_cuda` stays unknown: HAMi-core does not record the CUDA release it was
/// built against. At Project-HAMi/HAMi-core 8f3a89c the build's `cuda.h` only enters as the
/// `CUDA_VERSION` macro in `#if CUDA_VERSION < 13000` blocks (`src/libvgpu.c`,
/// `src/cuda/context.c`, ...), which drop a few hooks from a CUDA 13 build; no version string,
/// no symbol (`static_config.h.in` declares only `GIT_HASH_<hash>`/`GIT_BRANCH_<branch>`, never
/// defined, so absent from the file), and no variable (it reads `CUDA_DEVICE_*`,
/// `GPU_CORE_UTILIZATION_POLICY`, `CUDA_REDIRECT`, `LIBCUDA_LOG_LEVEL`, ...; the device plugin
/// sets none with a version). Even the hooks a CUDA 13 build drops cannot be told from the file:
/// their names stay in the hook table (`src/cuda/hook.c`, `cuda_library_entry`) either way, and
/// release builds hide the functions (`-fvisibility=hidden`). So the baseline rule does not
/// fire for HAMi, and `baseline_source` says so; the one-major rule (runtime major = driver
/// major) still does.
fn hami(root: &Root, env: &Env, preload: Option<&str>) -> Option<VgpuManagerInfo> {
    let mut info = VgpuManagerInfo {
        kind: "hami".to_owned(),
        // Said, not left blank: the baseline rule cannot be applied here, and a reader must
        // not take its silence for a pass.
        baseline_source: Some(
            "unknown: HAMi-core records the CUDA release it was built against nowhere (no version string, symbol or variable), so whether its hooks know the runtime's API cannot be checked; the one-major rule still applies".to_owned(),
        ),
        ..VgpuManagerInfo::default()
    };
    if let Some(lib) = preload.and_then(|t| preload_entries(t).into_iter().find(|e| is_hami_lib(e)))
    {
        info.evidence
            .push(format!("{PRELOAD} preloads {}", crate::escape::escape(lib)));
        info.library = Some(lib.to_owned());
    }
    if let Some(lib) = env
        .get("LD_PRELOAD")
        .and_then(|v| preload_entries(v).into_iter().find(|e| is_hami_lib(e)))
    {
        info.evidence
            .push(format!("LD_PRELOAD holds {}", crate::escape::escape(lib)));
        info.library.get_or_insert_with(|| lib.to_owned());
    }
    for (k, v) in env.with_prefix("CUDA_DEVICE_MEMORY_LIMIT") {
        let index = k
            .strip_prefix("CUDA_DEVICE_MEMORY_LIMIT")
            .unwrap_or_default()
            .trim_start_matches('_');
        let index = if index.is_empty() { "all" } else { index };
        info.memory_limits
            .push(crate::escape::escape(&format!("{index}={v}")).into_owned());
    }
    if let Some(v) = env.get("CUDA_DEVICE_SM_LIMIT") {
        info.core_percent = v.trim().parse().ok();
    }
    if !info.memory_limits.is_empty() || info.core_percent.is_some() {
        info.evidence
            .push("HAMi's CUDA_DEVICE_MEMORY_LIMIT/CUDA_DEVICE_SM_LIMIT are set".to_owned());
    }
    if info.evidence.is_empty() {
        return None;
    }
    if let Some(lib) = &info.library
        && lib.starts_with('/')
        && !root.exists(lib)
    {
        info.evidence.push(format!(
            "{} does not exist here",
            crate::escape::escape(lib)
        ));
    }
    if info.library.is_none() {
        info.evidence.push(
            "no libvgpu.so is preloaded, so the limits are not enforced (CUDA_DISABLE_CONTROL?)"
                .to_owned(),
        );
    }
    Some(info)
}

fn gpu_manager(root: &Root, problems: &mut Vec<String>) -> Option<VgpuManagerInfo> {
    let entries = match root.read_dir_names_limited(VCUDA_DIR, 256) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            problems.push(format!("{VCUDA_DIR}: {}", crate::root::describe_error(&e)));
            Vec::new()
        }
    };
    let lib = VCUDA_LIBS.iter().find(|p| root.exists(p));
    let mut info = VgpuManagerInfo {
        kind: "gpu-manager".to_owned(),
        evidence: vec![format!("{VCUDA_DIR} exists (GPU-Manager's vcuda mount)")],
        library: lib.map(|l| (*l).to_owned()),
        baseline_cuda: Some(VCUDA_BASELINE.to_owned()),
        baseline_source: Some(
            "vcuda-controller supports CUDA 11.5.1 and before (tkestack/vcuda-controller README)"
                .to_owned(),
        ),
        ..VgpuManagerInfo::default()
    };
    if let Some(l) = lib {
        info.evidence.push(format!("{l} (the vcuda hook library)"));
    }
    // /etc/vcuda/vcuda.config (older layout) or /etc/vcuda/<container>/vcuda.config.
    let mut configs = vec![format!("{VCUDA_DIR}/{VCUDA_CONFIG}")];
    configs.extend(
        entries
            .iter()
            .filter(|e| e.as_str() != VCUDA_CONFIG)
            .map(|e| format!("{VCUDA_DIR}/{e}/{VCUDA_CONFIG}")),
    );
    // The container's directory is named after the pod (its UID among it): reports say
    // `<container>`, so the UID does not travel in a report either, and a capture (which
    // renames the directory) replays to the same words.
    let shown = |path: &str| {
        if path.matches('/').count() > 3 {
            format!("{VCUDA_DIR}/<container>/{VCUDA_CONFIG}")
        } else {
            crate::escape::escape(path).into_owned()
        }
    };
    for path in configs.iter().filter(|p| root.exists(p)) {
        match root.read_bytes_whole(path, 64 * 1024) {
            Ok(b) => match vcuda_core(&b) {
                Some(c) => {
                    info.evidence
                        .push(format!("{}: vcuda-core {c}", shown(path)));
                    info.core_percent = Some(c);
                    break;
                }
                None => problems.push(format!(
                    "{}: {} bytes, not the {VCUDA_CONFIG_SIZE} of gpu-manager's resource_data_t",
                    shown(path),
                    b.len()
                )),
            },
            Err(e) => problems.push(format!(
                "{}: {}",
                shown(path),
                crate::root::describe_error(&e)
            )),
        }
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vgpu_preload_entries_as_ld_so_reads_them() {
        assert_eq!(
            preload_entries("/usr/local/vgpu/libvgpu.so\n"),
            ["/usr/local/vgpu/libvgpu.so"]
        );
        assert_eq!(
            preload_entries(" a.so:b.so\tc.so\n\n"),
            ["a.so", "b.so", "c.so"]
        );
        assert!(is_hami_lib("/usr/local/vgpu/libvgpu.so.v2.9.0"));
        assert!(!is_hami_lib("/usr/lib/libvgpu_other.so"));
    }

    #[test]
    fn vgpu_vcuda_config_utilization() {
        let mut b = vec![0_u8; VCUDA_CONFIG_SIZE];
        b[VCUDA_UTILIZATION_AT..VCUDA_UTILIZATION_AT + 4].copy_from_slice(&50_i32.to_le_bytes());
        assert_eq!(vcuda_core(&b), Some(50));
        assert_eq!(vcuda_core(&b[..100]), None);
        b[VCUDA_UTILIZATION_AT..VCUDA_UTILIZATION_AT + 4].copy_from_slice(&(-1_i32).to_le_bytes());
        assert_eq!(vcuda_core(&b), None);
    }
}
