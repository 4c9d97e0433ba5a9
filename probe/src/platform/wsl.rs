//! WSL2: no `nvidia.ko`; the GPU is the Windows host's, behind `/dev/dxg`.
//!
//! - The driver is the Windows display driver: its UMD file version (`32.0.15.6094`) maps to
//!   the NVIDIA version (`560.94`), which belongs to a Linux branch family (R560). The report's
//!   `driver` is `{version: "560.94", branch: 560, flavor: "wsl", source: "dxg"}`, with the
//!   native CUDA version of that family.
//! - The GPUs are the NVIDIA adapters `/dev/dxg` lists (compute-only ones included), with
//!   chip and compute capability from the PCI ID tables.
//! - The userspace is `/usr/lib/wsl/lib` (`libcuda.so.1`, `libnvidia-ml.so.1`, `nvidia-smi`) and
//!   the driver store `/usr/lib/wsl/drivers/*/`. WSL writes `/etc/ld.so.conf.d/ld.wsl.conf` and
//!   runs `ldconfig` at start-up (unless `/etc/wsl.conf` says `ldconfig = false`), and puts
//!   `/usr/lib/wsl/lib` on `PATH` only for processes it starts itself, so under SSH or systemd
//!   `nvidia-smi` is "not found".

use crate::Options;
use crate::assemble;
use crate::report::{
    Driver, DriverSource, Flavor, Gpu, Pci, Report, Source, SourceStatus,
    platform_details::{WslAdapter, WslInfo},
};
use crate::root::Root;

use super::dxg::{self, DxgAdapter, DxgDevice};

/// The WSL library directory.
pub const WSL_LIB: &str = "/usr/lib/wsl/lib";
/// The driver-store mount.
pub const WSL_DRIVERS: &str = "/usr/lib/wsl/drivers";
/// The files looked for in [`WSL_LIB`].
const LIB_FILES: &[&str] = &[
    "libcuda.so.1",
    "libcuda.so",
    "libnvidia-ml.so.1",
    "libnvidia-ptxjitcompiler.so.1",
    "libdxcore.so",
    "nvidia-smi",
];

fn hex16(v: u32) -> crate::report::PciId {
    crate::report::values::PciHex(v & 0xFFFF)
}

fn is_nvidia(a: &DxgAdapter) -> bool {
    a.ids.is_some_and(|i| i.0 == 0x10de) && !a.is_software()
}

/// The report's GPU for an NVIDIA adapter. The bus id is the host's PCI location (domain 0),
/// or `dxg:<luid>` when the host did not say.
pub fn gpu_of(a: &DxgAdapter) -> Gpu {
    let bus_id = match a.address {
        Some((bus, dev, func)) => format!(
            "0000:{:02x}:{:02x}.{:x}",
            bus & 0xFF,
            dev & 0x1F,
            func & 0x7
        ),
        None => format!("dxg:{:08x}{:08x}", a.luid.1, a.luid.0),
    };
    let ids = a.ids.unwrap_or_default();
    let mut g = Gpu {
        pci: Pci {
            vendor_id: Some(hex16(ids.0)),
            device_id: Some(hex16(ids.1)),
            subsystem_vendor_id: Some(hex16(ids.2)),
            subsystem_device_id: Some(hex16(ids.3)),
            ..Pci::new(bus_id.clone())
        },
        name: a.name.clone(),
        seen_by: vec!["dxg".to_owned()],
        ..Gpu::new(bus_id)
    };
    assemble::enrich_gpu(&mut g);
    g
}

/// Where the loader would find [`WSL_LIB`]: `Some(via)` or `None`, plus a note when the
/// configuration lists it but the cache does not.
pub fn loader_path(opts: &Options, arch: crate::report::CpuArch) -> (Option<String>, Option<String>) {
    let root = &opts.root;
    if opts
        .env
        .get("LD_LIBRARY_PATH")
        .unwrap_or("")
        .split([':', ';'])
        .any(|d| d.trim_end_matches('/') == WSL_LIB)
    {
        return (Some("LD_LIBRARY_PATH".to_owned()), None);
    }
    let conf = conf_listing(root);
    match super::ld_cache_contains(opts, &format!("{WSL_LIB}/"), arch) {
        Some(true) => (Some("ld.so.cache".to_owned()), None),
        Some(false) => (
            None,
            conf.map(|c| format!("{c} lists {WSL_LIB}, but /etc/ld.so.cache does not hold it")),
        ),
        None => (conf, None),
    }
}

/// The `/etc/ld.so.conf` or `/etc/ld.so.conf.d/*.conf` file that lists [`WSL_LIB`].
fn conf_listing(root: &Root) -> Option<String> {
    let mut files = vec!["/etc/ld.so.conf".to_owned()];
    let mut names = root.read_dir_names("/etc/ld.so.conf.d").unwrap_or_default();
    names.sort_unstable();
    files.extend(
        names
            .into_iter()
            .filter(|n| {
                std::path::Path::new(n)
                    .extension()
                    .is_some_and(|e| e == "conf")
            })
            .map(|n| format!("/etc/ld.so.conf.d/{n}")),
    );
    files.into_iter().find(|f| {
        root.read_text(f).is_ok_and(|t| {
            t.text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .any(|l| l.trim_end_matches('/') == WSL_LIB)
        })
    })
}

/// `ldconfig = false` under `[automount]` in `/etc/wsl.conf`.
pub fn wsl_conf_disables_ldconfig(text: &str) -> bool {
    let mut section = String::new();
    for line in text.lines() {
        let l = line.split(['#', ';']).next().unwrap_or("").trim();
        if let Some(s) = l.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            s.trim().to_ascii_lowercase().clone_into(&mut section);
        } else if section == "automount"
            && let Some((k, v)) = l.split_once('=')
            && k.trim().eq_ignore_ascii_case("ldconfig")
        {
            return v.trim().eq_ignore_ascii_case("false");
        }
    }
    false
}

/// Versioned Linux driver libraries (`libcuda.so.550.54.15`) in the distribution's directories:
/// a Linux driver installed inside WSL.
fn linux_driver_libraries(root: &Root) -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib64",
        "/usr/lib/aarch64-linux-gnu",
    ] {
        for n in root.read_dir_names(dir).unwrap_or_default() {
            let versioned = ["libcuda.so.", "libnvidia-ml.so."].iter().any(|p| {
                n.strip_prefix(p).is_some_and(|v| {
                    v.contains('.') && v.split('.').all(|x| x.parse::<u32>().is_ok())
                })
            });
            if versioned {
                out.push(format!("{dir}/{n}"));
            }
        }
    }
    out.sort_unstable();
    out
}

/// What the WSL source read that the report's `platform.wsl` does not hold and the WSL rule
/// ([`crate::findings::wsl`]) needs. The source records these; it raises no finding.
#[derive(Clone, Debug)]
pub struct WslFacts {
    /// How listing `/dev/dxg`'s adapters went, and why when it did not.
    pub dxg_status: SourceStatus,
    pub dxg_detail: String,
    /// NVIDIA adapters among them.
    pub nvidia_adapters: usize,
    /// `/usr/lib/wsl/lib` exists.
    pub lib_dir: bool,
    /// `/usr/lib/wsl/lib/libcuda.so.1` exists.
    pub has_libcuda: bool,
    /// A loader configuration that names the directory but is not in effect (why).
    pub stale_loader_config: Option<String>,
    /// `/etc/wsl.conf` turns WSL's `ldconfig` off (read only when the loader misses the
    /// directory).
    pub ldconfig_off: bool,
    /// A Linux driver's versioned libraries installed inside WSL.
    pub linux_driver_libraries: Vec<String>,
}

/// Fills `platform.wsl`, the driver and the GPUs from `/dev/dxg`; returns the facts the WSL
/// rule needs besides.
pub fn refine(opts: &Options, report: &mut Report, device: &dyn DxgDevice) -> WslFacts {
    let root = &opts.root;
    let outcome = dxg::query(device);
    report
        .sources
        .push(Source::new("dxg", outcome.status, outcome.detail.clone()));
    let mut info = WslInfo {
        dxg: serde_name(outcome.status),
        interop: root.exists("/proc/sys/fs/binfmt_misc/WSLInterop")
            || root.exists("/proc/sys/fs/binfmt_misc/WSLInterop-late"),
        ..WslInfo::default()
    };
    for a in &outcome.adapters {
        info.adapters.push(WslAdapter {
            luid: format!("0x{:08x}_{:08x}", a.luid.1, a.luid.0),
            vendor_id: a.ids.map(|i| hex16(i.0)),
            device_id: a.ids.map(|i| hex16(i.1)),
            subsystem_vendor_id: a.ids.map(|i| hex16(i.2)),
            subsystem_device_id: a.ids.map(|i| hex16(i.3)),
            flags: a.flags(),
            host_pci: a.address.map(|(b, d, f)| format!("{b:02x}:{d:02x}.{f:x}")),
            name: a.name.clone(),
            umd_version: a.umd_version.map(dxg::windows_version),
            problems: a.problems.clone(),
        });
    }
    let nvidia: Vec<&DxgAdapter> = outcome.adapters.iter().filter(|a| is_nvidia(a)).collect();
    if let Some(win) = nvidia.iter().find_map(|a| a.umd_version) {
        let win = dxg::windows_version(win);
        info.nvidia_version = dxg::nvidia_version_of_windows(&win);
        info.linux_branch_family = info
            .nvidia_version
            .as_deref()
            .and_then(dxg::linux_branch_family);
        info.windows_driver_version = Some(win);
    }
    let version = info
        .nvidia_version
        .as_deref()
        .and_then(|v| v.parse::<crate::report::Version>().ok());
    if let (Some(v), Some(family)) = (&version, info.linux_branch_family) {
        let replace = report
            .driver
            .as_ref()
            .is_none_or(|d| d.source != DriverSource::Override);
        if replace {
            report.driver = Some(Driver {
                version: v.clone(),
                branch: family,
                flavor: Flavor::Wsl,
                cuda_version: crate::tables::native_cuda_for_branch(family).map(|(c, _)| c),
                source: DriverSource::Dxg,
                version_line: info.windows_driver_version.as_ref().map(|w| {
                    format!("Windows driver {w} (NVIDIA {v}, Linux branch family R{family})")
                }),
                params: None,
            });
        }
    }
    if !nvidia.is_empty()
        && report
            .gpus
            .iter()
            .all(|g| g.seen_by.iter().all(|s| s == "dxg"))
    {
        let mut gpus: Vec<Gpu> = nvidia.iter().map(|a| gpu_of(a)).collect();
        gpus.sort_by(|a, b| a.pci.bus_id.cmp(&b.pci.bus_id));
        for (i, g) in gpus.iter_mut().enumerate() {
            g.index = u32::try_from(i).unwrap_or(u32::MAX);
        }
        report.gpus = gpus;
    }

    // The userspace.
    let lib_dir = root.exists(WSL_LIB);
    info.lib_files = LIB_FILES
        .iter()
        .map(|f| format!("{WSL_LIB}/{f}"))
        .filter(|p| root.exists(p))
        .collect();
    let mut stores = root.read_dir_names(WSL_DRIVERS).unwrap_or_default();
    stores.sort_unstable();
    info.driver_store = stores
        .into_iter()
        .map(|s| format!("{WSL_DRIVERS}/{s}"))
        .filter(|d| root.exists(&format!("{d}/libcuda.so.1.1")))
        .collect();
    let has_libcuda = info.lib_files.iter().any(|f| f.ends_with("/libcuda.so.1"));
    let (via, stale) = if lib_dir {
        loader_path(opts, report.cpu_arch())
    } else {
        (None, None)
    };
    if lib_dir {
        info.lib_dir_on_loader_path = Some(via.is_some());
        info.loader_path_via = via.clone();
        info.lib_dir_on_path = Some(
            opts.env
                .get("PATH")
                .unwrap_or("")
                .split(':')
                .any(|d| d.trim_end_matches('/') == WSL_LIB),
        );
    }

    // Facts the rule (`findings::wsl`) needs beyond the report's `platform.wsl`.
    let facts = WslFacts {
        dxg_status: outcome.status,
        dxg_detail: outcome.detail.clone(),
        nvidia_adapters: nvidia.len(),
        lib_dir,
        has_libcuda,
        stale_loader_config: stale,
        ldconfig_off: lib_dir
            && has_libcuda
            && via.is_none()
            && root
                .read_text("/etc/wsl.conf")
                .is_ok_and(|t| wsl_conf_disables_ldconfig(&t.text)),
        linux_driver_libraries: linux_driver_libraries(root),
    };
    report.platform.details.wsl = Some(info);
    facts
}

fn serde_name(s: SourceStatus) -> String {
    match s {
        SourceStatus::Ok => "ok",
        SourceStatus::Absent => "absent",
        SourceStatus::Denied => "denied",
        SourceStatus::Failed => "failed",
        SourceStatus::Timeout => "timeout",
        SourceStatus::Skipped => "skipped",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsl_conf_ldconfig_switch() {
        let text = "[boot]\nsystemd=true\n\n[automount]\nenabled = true\nldconfig = false # no\n";
        assert!(wsl_conf_disables_ldconfig(text));
        assert!(!wsl_conf_disables_ldconfig("[boot]\nldconfig=false\n"));
        assert!(!wsl_conf_disables_ldconfig("[automount]\nldconfig=true\n"));
    }
}
