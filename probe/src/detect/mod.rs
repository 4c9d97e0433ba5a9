//! Detection from files: procfs, sysfs, `/dev`, `/lib/modules`, `/etc`.
//!
//! Sources, in the order they are read (each recorded in `sources` with its status):
//! 1. `kernel-release`: `/proc/sys/kernel/osrelease` (never uname(2), so fixtures work).
//! 2. `sysfs-module`: `/sys/module/nvidia/version`.
//! 3. `procfs-version`: `/proc/driver/nvidia/version` (version, flavour, raw line).
//! 4. `procfs-params`: `/proc/driver/nvidia/params`.
//! 5. `procfs-gpus`: `/proc/driver/nvidia/gpus/*/information`.
//! 6. `procfs-modules`: `/proc/modules`, completed by `/sys/module/<name>`.
//! 7. `sysfs-pci`: `/sys/bus/pci/devices/*`.
//! 8. `device-nodes`: `/dev/nvidia*`.
//! 9. `installed-modules`: `/lib/modules/*/…/nvidia*.ko*`, `nouveau.ko*`.
//! 10. `kernel-build`: headers, DKMS trees, signatures, Secure Boot, taint ([`kbuild`]).
//! 11. `packages`: the NVIDIA driver packages in dpkg's database, or rpm's `SQLite` one
//!     ([`packages`], [`rpmdb`]).
//! 12. `os-release` and `platform`.
//!
//! A missing file is `absent`, never an error; `EACCES` is `denied`; anything else `failed`.

pub mod devnodes;
pub mod driver;
pub mod kbuild;
pub mod modules;
pub mod packages;
pub mod pci;
pub mod platform;
pub mod procgpus;
pub mod rpmdb;
pub mod vgpu;

use std::io;

use crate::report::{
    DeviceNode, DriverParams, InstalledModule, LoadedModule, Source, SourceStatus,
};
use crate::root::{Root, describe_error};
use driver::ProcVersion;
use modules::ProcModules;
use pci::PciScan;
use procgpus::GpuInformation;

const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
const SYSVER: &str = "/sys/module/nvidia/version";
const PROCVER: &str = "/proc/driver/nvidia/version";
const PARAMS: &str = "/proc/driver/nvidia/params";
const GPUS: &str = "/proc/driver/nvidia/gpus";
const MODULES: &str = "/proc/modules";
const PCI: &str = "/sys/bus/pci/devices";

/// Everything read from files, before it is turned into a report.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// `/proc/sys/kernel/osrelease`.
    pub kernel_release: Option<String>,
    /// `/proc/sys/kernel/arch` (Linux 6.1 and later; `uname -m`), when it holds a plausible name.
    pub kernel_arch: Option<String>,
    /// `/sys/module/nvidia/version`.
    pub sys_version: Option<crate::report::Version>,
    /// `/proc/driver/nvidia/version`.
    pub proc_version: Option<ProcVersion>,
    /// `/proc/driver/nvidia/params`.
    pub params: Option<DriverParams>,
    /// `/proc/driver/nvidia/gpus/<dir>/information`, by directory name.
    pub proc_gpus: Vec<(String, GpuInformation)>,
    /// `/proc/modules`: its count, and the watched modules' lines.
    pub proc_modules: Option<ProcModules>,
    /// Loaded watched modules.
    pub loaded: Vec<LoadedModule>,
    /// Installed watched modules; `None` when `/lib/modules` could not be read.
    pub installed: Option<Vec<InstalledModule>>,
    /// The kernel release directories under `/lib/modules`.
    pub lib_modules_releases: Vec<String>,
    /// NVIDIA PCI functions; `None` when sysfs could not be read.
    pub pci: Option<PciScan>,
    /// NVIDIA device nodes; `None` when `/dev` could not be read.
    pub nodes: Option<Vec<DeviceNode>>,
    /// How the nvidia module is built for the running kernel (`kernel-build`, issue 23).
    pub kernel_build: Option<crate::report::stack::KernelBuildInfo>,
    /// The NVIDIA driver packages installed (`packages`, issue 23).
    pub packages: Option<crate::report::stack::DriverPackagesInfo>,
    /// The platform as the files show it ([`platform::detect`]), decided before the
    /// packages, which are read on a bare-metal host only.
    pub platform: Option<crate::report::Platform>,
    /// The sources, in reading order.
    pub sources: Vec<Source>,
}

impl Facts {
    /// True when the nvidia kernel module is loaded, by any evidence.
    pub fn nvidia_loaded(&self) -> bool {
        self.sys_version.is_some()
            || self.proc_version.is_some()
            || self.loaded.iter().any(|m| m.name == "nvidia")
    }

    /// The loaded module with this name.
    pub fn loaded_module(&self, name: &str) -> Option<&LoadedModule> {
        self.loaded.iter().find(|m| m.name == name)
    }

    /// Brings `snapshot`, an earlier copy of these facts, up to date by copying only what was
    /// added since: [`collect_observed`] sets each `Option` field once and only appends to the
    /// lists, so a run's snapshots for the deadline cost one copy of the facts in all instead
    /// of one per source.
    pub fn catch_up(&self, snapshot: &mut Facts) {
        fn opt<T: Clone>(src: Option<&T>, dst: &mut Option<T>) {
            if dst.is_none() {
                *dst = src.cloned();
            }
        }
        fn list<T: Clone>(src: &[T], dst: &mut Vec<T>) {
            if let Some(new) = src.get(dst.len()..) {
                dst.extend_from_slice(new);
            }
        }
        opt(self.kernel_release.as_ref(), &mut snapshot.kernel_release);
        opt(self.kernel_arch.as_ref(), &mut snapshot.kernel_arch);
        opt(self.sys_version.as_ref(), &mut snapshot.sys_version);
        opt(self.proc_version.as_ref(), &mut snapshot.proc_version);
        opt(self.params.as_ref(), &mut snapshot.params);
        list(&self.proc_gpus, &mut snapshot.proc_gpus);
        opt(self.proc_modules.as_ref(), &mut snapshot.proc_modules);
        list(&self.loaded, &mut snapshot.loaded);
        opt(self.installed.as_ref(), &mut snapshot.installed);
        list(
            &self.lib_modules_releases,
            &mut snapshot.lib_modules_releases,
        );
        opt(self.pci.as_ref(), &mut snapshot.pci);
        opt(self.nodes.as_ref(), &mut snapshot.nodes);
        opt(self.kernel_build.as_ref(), &mut snapshot.kernel_build);
        opt(self.packages.as_ref(), &mut snapshot.packages);
        opt(self.platform.as_ref(), &mut snapshot.platform);
        list(&self.sources, &mut snapshot.sources);
    }

    fn record(&mut self, name: &str, status: SourceStatus, detail: impl Into<String>) {
        self.sources.push(Source::new(name, status, detail));
    }

    fn record_err(&mut self, name: &str, path: &str, err: &io::Error) {
        let status = match err.kind() {
            io::ErrorKind::NotFound => SourceStatus::Absent,
            io::ErrorKind::PermissionDenied => SourceStatus::Denied,
            _ => SourceStatus::Failed,
        };
        self.record(name, status, format!("{path}: {}", describe_error(err)));
    }
}

/// Reads every file source under `root`.
pub fn collect(root: &Root) -> Facts {
    collect_observed(root, &mut |_, _| {})
}

/// [`collect`], telling `observe` the name of each source before it is read, with the facts
/// gathered so far (the deadline uses this to report a partial run).
pub fn collect_observed(root: &Root, observe: &mut dyn FnMut(&str, &Facts)) -> Facts {
    collect_scoped(root, false, observe)
}

/// [`collect_observed`]; with `cuda_only`, without the package source
/// ([`crate::Options::cuda_only`]: the doctor's package rules read it, and the fabric manager
/// rule, which decides CUDA, on a bare-metal NVSwitch host: there it is read).
pub fn collect_scoped(
    root: &Root,
    cuda_only: bool,
    observe: &mut dyn FnMut(&str, &Facts),
) -> Facts {
    let mut f = Facts::default();
    observe("kernel-release", &f);

    match root.read_text(OSRELEASE) {
        Ok(t) if !t.text.trim().is_empty() => {
            let r = t.text.trim().to_owned();
            f.record("kernel-release", SourceStatus::Ok, r.clone());
            f.kernel_release = Some(r);
        }
        Ok(_) => f.record(
            "kernel-release",
            SourceStatus::Failed,
            format!("{OSRELEASE}: empty"),
        ),
        Err(e) => f.record_err("kernel-release", OSRELEASE, &e),
    }
    // Best effort, no source of its own: the platform's architecture falls back to nvprobe's
    // own on the host and to the kernel module's under --root (`assemble::machine_arch`).
    f.kernel_arch = root
        .read_text_limited("/proc/sys/kernel/arch", 64)
        .ok()
        .map(|t| t.text.trim().to_owned())
        .filter(|a| {
            !a.is_empty()
                && a.len() <= 16
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });

    observe("sysfs-module", &f);
    // Read once: the loaded-modules stage takes the nvidia module's version from it too.
    let sys_version = root.read_text(SYSVER);
    match &sys_version {
        Ok(t) => match driver::parse_sys_version(&t.text) {
            Some(v) => {
                f.record("sysfs-module", SourceStatus::Ok, format!("{SYSVER}: {v}"));
                f.sys_version = Some(v);
            }
            None => f.record(
                "sysfs-module",
                SourceStatus::Failed,
                format!("{SYSVER}: not a driver version: {:?}", clip(&t.text)),
            ),
        },
        Err(e) => f.record_err("sysfs-module", SYSVER, e),
    }

    observe("procfs-version", &f);
    match root.read_text(PROCVER) {
        Ok(t) => match driver::parse_proc_version(&t.text) {
            Some(v) => {
                f.record(
                    "procfs-version",
                    SourceStatus::Ok,
                    format!("{PROCVER}: {}", v.line),
                );
                f.proc_version = Some(v);
            }
            None => f.record(
                "procfs-version",
                SourceStatus::Failed,
                format!("{PROCVER}: no NVRM version line: {:?}", clip(&t.text)),
            ),
        },
        Err(e) => f.record_err("procfs-version", PROCVER, &e),
    }

    observe("procfs-params", &f);
    match root.read_text(PARAMS) {
        Ok(t) => {
            let p = driver::parse_params(&t.text);
            f.record("procfs-params", SourceStatus::Ok, format!("{PARAMS}: read"));
            f.params = Some(p);
        }
        Err(e) => f.record_err("procfs-params", PARAMS, &e),
    }

    observe("procfs-gpus", &f);
    match root.read_dir_names_limited(GPUS, crate::root::DEVICE_DIR_LIMIT) {
        Ok(dirs) => {
            let mut bad = Vec::new();
            for dir in dirs {
                let path = format!("{GPUS}/{dir}/information");
                match root.read_text(&path) {
                    Ok(t) => f.proc_gpus.push((
                        dir.to_ascii_lowercase(),
                        procgpus::parse_information(&t.text),
                    )),
                    Err(e) => bad.push(format!("{path}: {}", describe_error(&e))),
                }
            }
            let (status, detail) = if bad.is_empty() {
                (
                    SourceStatus::Ok,
                    format!("{GPUS}: {} GPU(s)", f.proc_gpus.len()),
                )
            } else {
                (SourceStatus::Failed, join_capped(&bad, 8))
            };
            f.record("procfs-gpus", status, detail);
        }
        Err(e) => f.record_err("procfs-gpus", GPUS, &e),
    }

    observe("procfs-modules", &f);
    match root.read_text_limited(MODULES, 1 << 20) {
        Ok(t) => {
            let m = modules::parse_proc_modules(&t.text);
            f.record(
                "procfs-modules",
                SourceStatus::Ok,
                format!("{MODULES}: {} module(s)", m.total),
            );
            f.proc_modules = Some(m);
        }
        Err(e) => f.record_err("procfs-modules", MODULES, &e),
    }
    let watched = f.proc_modules.as_ref().map(|m| m.watched.as_slice());
    f.loaded = modules::loaded(root, watched, &sys_version);

    observe("sysfs-pci", &f);
    match pci::scan(root) {
        Ok(scan) => {
            let gpus = scan.functions.iter().filter(|p| p.is_gpu()).count();
            let mut detail = format!(
                "{PCI}: {} function(s), {} NVIDIA, {gpus} NVIDIA GPU(s)",
                scan.total,
                scan.functions.len()
            );
            if !scan.unreadable.is_empty() {
                detail.push_str("; unreadable: ");
                detail.push_str(&scan.unreadable.join(", "));
            }
            f.record("sysfs-pci", SourceStatus::Ok, detail);
            f.pci = Some(scan);
        }
        Err(e) => f.record_err("sysfs-pci", PCI, &e),
    }

    observe("device-nodes", &f);
    match devnodes::scan(root) {
        Ok(nodes) => {
            let detail = if nodes.is_empty() {
                "/dev: no NVIDIA device nodes".to_owned()
            } else {
                nodes
                    .iter()
                    .map(|n| n.path.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            f.record("device-nodes", SourceStatus::Ok, detail);
            f.nodes = Some(nodes);
        }
        Err(e) => f.record_err("device-nodes", "/dev", &e),
    }

    observe("installed-modules", &f);
    match root.read_dir_names("/lib/modules") {
        Ok(releases) => {
            let list = modules::installed(root, &releases, f.kernel_release.as_deref());
            f.record(
                "installed-modules",
                SourceStatus::Ok,
                format!("/lib/modules: {} NVIDIA/nouveau module file(s)", list.len()),
            );
            f.installed = Some(list);
            f.lib_modules_releases = releases;
        }
        Err(e) => f.record_err("installed-modules", "/lib/modules", &e),
    }

    // The kernel module build is read in a cuda-only run too: when the module is missing
    // for the running kernel, its root cause (headers missing, DKMS not built) is what
    // `report.cuda.blocked_by` names.
    observe(kbuild::SOURCE, &f);
    let (build, source) = kbuild::read(
        root,
        f.kernel_release.as_deref(),
        &f.loaded,
        f.installed.as_deref(),
    );
    f.kernel_build = Some(build);
    f.sources.push(source);

    let platform = platform::detect(
        root,
        f.kernel_release.as_deref(),
        f.params.as_ref().and_then(|p| p.modify_device_files),
    );
    let host_layers =
        !platform.in_container && platform.kind == crate::report::PlatformKind::BareMetal;
    f.platform = Some(platform);
    // A cuda-only run reads the packages only where the answer needs them: on an NVSwitch
    // host, where a fabric manager of another version than the driver stops CUDA.
    let nvswitch = f.pci.as_ref().is_some_and(|p| p.nvswitches().next().is_some());
    if cuda_only && !(host_layers && nvswitch) {
        return f;
    }
    observe(packages::SOURCE, &f);
    if host_layers {
        let (pkgs, source) = packages::read(root);
        f.packages = pkgs;
        f.sources.push(source);
    } else {
        // The model keeps the packages of a bare-metal host only: a container's are its
        // image's (a 400 KB dpkg status read for nothing on a real H200 container: 0.7 ms).
        f.record(
            packages::SOURCE,
            SourceStatus::Skipped,
            "not read: driver packages are read on a bare-metal host only (a container's are \
             its image's; WSL2, gVisor and Tegra keep the driver elsewhere)",
        );
    }
    f
}

/// The first `max` items joined with `; `, then how many more there were: a directory of
/// thousands of bad entries must not make a megabyte `detail`.
pub fn join_capped(items: &[String], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > max {
        use std::fmt::Write as _;
        let _ = write!(s, "; and {} more", items.len() - max);
    }
    s
}

/// At most 60 characters of untrusted text, for details.
pub fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod cap_tests {
    use super::join_capped;

    // See: issue 10
    #[test]
    fn r10_details_of_many_bad_entries_are_capped() {
        let many: Vec<String> = (0..5000)
            .map(|i| format!("/proc/x/{i}: not found"))
            .collect();
        let d = join_capped(&many, 8);
        assert!(d.ends_with("; and 4992 more"), "{d}");
        assert!(d.len() < 300);
        assert_eq!(
            join_capped(&many[..2], 8),
            "/proc/x/0: not found; /proc/x/1: not found"
        );
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;

    /// At every source boundary of a real fixture run, a snapshot kept up to date with
    /// `catch_up` equals a full copy of the facts (what the deadline's partial report reads).
    #[test]
    fn catch_up_equals_a_full_copy_at_every_source() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/hgx-h100-no-fabricmanager-570");
        let root = Root::at(dir);
        let mut snapshot = Facts::default();
        let mut checked = 0;
        let end = collect_observed(&root, &mut |_, facts| {
            facts.catch_up(&mut snapshot);
            assert_eq!(format!("{snapshot:?}"), format!("{facts:?}"));
            checked += 1;
        });
        end.catch_up(&mut snapshot);
        assert_eq!(format!("{snapshot:?}"), format!("{end:?}"));
        assert!(checked >= 9, "{checked} sources observed");
        assert!(end.pci.is_some() && !end.proc_gpus.is_empty() && end.sources.len() >= 9);
    }
}
