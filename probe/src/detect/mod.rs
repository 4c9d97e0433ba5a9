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
}

/// Where [`collect_into`] puts what the file sources read. A run's sink shares the facts with
/// the deadline's watchdog, which may read them at any moment (a source stuck in the kernel
/// must not keep them from it): so each source is read first and stored after, in one `put`,
/// and nothing is held across a read. What the watchdog sees when source `name` is announced
/// is every source before it, whole, and nothing of `name`'s.
pub trait Sink {
    /// Source `name` is read next.
    fn before(&mut self, name: &str);
    /// Stores what the source announced last has read.
    fn put(&mut self, store: impl FnOnce(&mut Facts));
}

/// Facts that only gather what the sources read.
impl Sink for Facts {
    fn before(&mut self, _name: &str) {}

    fn put(&mut self, store: impl FnOnce(&mut Facts)) {
        store(self);
    }
}

/// Reads every file source under `root`.
pub fn collect(root: &Root) -> Facts {
    let mut facts = Facts::default();
    collect_into(root, false, &mut facts);
    facts
}

/// [`collect`], telling `observe` the name of each source before it is read, with the facts
/// gathered so far.
pub fn collect_observed(root: &Root, observe: &mut dyn FnMut(&str, &Facts)) -> Facts {
    struct Observed<'a> {
        facts: Facts,
        observe: &'a mut dyn FnMut(&str, &Facts),
    }
    impl Sink for Observed<'_> {
        fn before(&mut self, name: &str) {
            (self.observe)(name, &self.facts);
        }

        fn put(&mut self, store: impl FnOnce(&mut Facts)) {
            store(&mut self.facts);
        }
    }
    let mut sink = Observed {
        facts: Facts::default(),
        observe,
    };
    collect_into(root, false, &mut sink);
    sink.facts
}

/// The source `name` for the error of reading `path`: `absent` for a missing file, `denied`
/// for `EACCES`, `failed` otherwise.
fn error_source(name: &str, path: &str, err: &io::Error) -> Source {
    let status = match err.kind() {
        io::ErrorKind::NotFound => SourceStatus::Absent,
        io::ErrorKind::PermissionDenied => SourceStatus::Denied,
        _ => SourceStatus::Failed,
    };
    Source::new(name, status, format!("{path}: {}", describe_error(err)))
}

/// Reads every file source under `root` into `sink`, in order; with `cuda_only`, without the
/// package source ([`crate::Options::cuda_only`]: the doctor's package rules read it, and the
/// fabric manager rule, which decides CUDA, on a bare-metal NVSwitch host: there it is read).
/// What a later source needs of an earlier one is kept here, not read back from the sink.
pub fn collect_into(root: &Root, cuda_only: bool, sink: &mut impl Sink) {
    sink.before("kernel-release");
    let (kernel_release, source) = match root.read_text(OSRELEASE) {
        Ok(t) if !t.text.trim().is_empty() => {
            let r = t.text.trim().to_owned();
            let source = Source::new("kernel-release", SourceStatus::Ok, r.clone());
            (Some(r), source)
        }
        Ok(_) => (
            None,
            Source::new(
                "kernel-release",
                SourceStatus::Failed,
                format!("{OSRELEASE}: empty"),
            ),
        ),
        Err(e) => (None, error_source("kernel-release", OSRELEASE, &e)),
    };
    // Best effort, no source of its own: the platform's architecture falls back to nvprobe's
    // own on the host and to the kernel module's under --root (`assemble::machine_arch`).
    let kernel_arch = root
        .read_text_limited("/proc/sys/kernel/arch", 64)
        .ok()
        .map(|t| t.text.trim().to_owned())
        .filter(|a| {
            !a.is_empty()
                && a.len() <= 16
                && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    sink.put(|f| {
        f.sources.push(source);
        f.kernel_release.clone_from(&kernel_release);
        f.kernel_arch = kernel_arch;
    });

    sink.before("sysfs-module");
    // Read once: the loaded-modules stage takes the nvidia module's version from it too.
    let sys_version = root.read_text(SYSVER);
    let (version, source) = match &sys_version {
        Ok(t) => match driver::parse_sys_version(&t.text) {
            Some(v) => {
                let source =
                    Source::new("sysfs-module", SourceStatus::Ok, format!("{SYSVER}: {v}"));
                (Some(v), source)
            }
            None => (
                None,
                Source::new(
                    "sysfs-module",
                    SourceStatus::Failed,
                    format!("{SYSVER}: not a driver version: {:?}", clip(&t.text)),
                ),
            ),
        },
        Err(e) => (None, error_source("sysfs-module", SYSVER, e)),
    };
    sink.put(|f| {
        f.sources.push(source);
        f.sys_version = version;
    });

    sink.before("procfs-version");
    let (version, source) = match root.read_text(PROCVER) {
        Ok(t) => match driver::parse_proc_version(&t.text) {
            Some(v) => {
                let source = Source::new(
                    "procfs-version",
                    SourceStatus::Ok,
                    format!("{PROCVER}: {}", v.line),
                );
                (Some(v), source)
            }
            None => (
                None,
                Source::new(
                    "procfs-version",
                    SourceStatus::Failed,
                    format!("{PROCVER}: no NVRM version line: {:?}", clip(&t.text)),
                ),
            ),
        },
        Err(e) => (None, error_source("procfs-version", PROCVER, &e)),
    };
    sink.put(|f| {
        f.sources.push(source);
        f.proc_version = version;
    });

    sink.before("procfs-params");
    let (params, source) = match root.read_text(PARAMS) {
        Ok(t) => (
            Some(driver::parse_params(&t.text)),
            Source::new("procfs-params", SourceStatus::Ok, format!("{PARAMS}: read")),
        ),
        Err(e) => (None, error_source("procfs-params", PARAMS, &e)),
    };
    let modify_device_files = params.as_ref().and_then(|p| p.modify_device_files);
    sink.put(|f| {
        f.sources.push(source);
        f.params = params;
    });

    sink.before("procfs-gpus");
    let mut gpus = Vec::new();
    let source = match root.read_dir_names_limited(GPUS, crate::root::DEVICE_DIR_LIMIT) {
        Ok(dirs) => {
            let mut bad = Vec::new();
            for dir in dirs {
                let path = format!("{GPUS}/{dir}/information");
                match root.read_text(&path) {
                    Ok(t) => gpus.push((
                        dir.to_ascii_lowercase(),
                        procgpus::parse_information(&t.text),
                    )),
                    Err(e) => bad.push(format!("{path}: {}", describe_error(&e))),
                }
            }
            let (status, detail) = if bad.is_empty() {
                (SourceStatus::Ok, format!("{GPUS}: {} GPU(s)", gpus.len()))
            } else {
                (SourceStatus::Failed, join_capped(&bad, 8))
            };
            Source::new("procfs-gpus", status, detail)
        }
        Err(e) => error_source("procfs-gpus", GPUS, &e),
    };
    sink.put(|f| {
        f.sources.push(source);
        f.proc_gpus = gpus;
    });

    sink.before("procfs-modules");
    let (proc_modules, source) = match root.read_text_limited(MODULES, 1 << 20) {
        Ok(t) => {
            let m = modules::parse_proc_modules(&t.text);
            let source = Source::new(
                "procfs-modules",
                SourceStatus::Ok,
                format!("{MODULES}: {} module(s)", m.total),
            );
            (Some(m), source)
        }
        Err(e) => (None, error_source("procfs-modules", MODULES, &e)),
    };
    let watched = proc_modules.as_ref().map(|m| m.watched.as_slice());
    let loaded = modules::loaded(root, watched, &sys_version);
    sink.put(|f| {
        f.sources.push(source);
        f.proc_modules = proc_modules;
        f.loaded.clone_from(&loaded);
    });

    sink.before("sysfs-pci");
    let (pci, source) = match pci::scan(root) {
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
            (Some(scan), Source::new("sysfs-pci", SourceStatus::Ok, detail))
        }
        Err(e) => (None, error_source("sysfs-pci", PCI, &e)),
    };
    let nvswitch = pci.as_ref().is_some_and(|p| p.nvswitches().next().is_some());
    sink.put(|f| {
        f.sources.push(source);
        f.pci = pci;
    });

    sink.before("device-nodes");
    let (nodes, source) = match devnodes::scan(root) {
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
            (
                Some(nodes),
                Source::new("device-nodes", SourceStatus::Ok, detail),
            )
        }
        Err(e) => (None, error_source("device-nodes", "/dev", &e)),
    };
    sink.put(|f| {
        f.sources.push(source);
        f.nodes = nodes;
    });

    sink.before("installed-modules");
    let (installed, releases, source) = match root.read_dir_names("/lib/modules") {
        Ok(releases) => {
            let list = modules::installed(root, &releases, kernel_release.as_deref());
            let source = Source::new(
                "installed-modules",
                SourceStatus::Ok,
                format!("/lib/modules: {} NVIDIA/nouveau module file(s)", list.len()),
            );
            (Some(list), releases, source)
        }
        Err(e) => (
            None,
            Vec::new(),
            error_source("installed-modules", "/lib/modules", &e),
        ),
    };
    sink.put(|f| {
        f.sources.push(source);
        f.installed.clone_from(&installed);
        f.lib_modules_releases = releases;
    });

    // The kernel module build is read in a cuda-only run too: when the module is missing
    // for the running kernel, its root cause (headers missing, DKMS not built) is what
    // `report.cuda.blocked_by` names.
    sink.before(kbuild::SOURCE);
    let (build, source) = kbuild::read(
        root,
        kernel_release.as_deref(),
        &loaded,
        installed.as_deref(),
    );
    let platform = platform::detect(root, kernel_release.as_deref(), modify_device_files);
    let host_layers =
        !platform.in_container && platform.kind == crate::report::PlatformKind::BareMetal;
    sink.put(|f| {
        f.kernel_build = Some(build);
        f.sources.push(source);
        f.platform = Some(platform);
    });
    // A cuda-only run reads the packages only where the answer needs them: on an NVSwitch
    // host, where a fabric manager of another version than the driver stops CUDA.
    if cuda_only && !(host_layers && nvswitch) {
        return;
    }
    sink.before(packages::SOURCE);
    if host_layers {
        let (pkgs, source) = packages::read(root);
        sink.put(|f| {
            f.packages = pkgs;
            f.sources.push(source);
        });
    } else {
        // The model keeps the packages of a bare-metal host only: a container's are its
        // image's (a 400 KB dpkg status read for nothing on a real H200 container: 0.7 ms).
        sink.put(|f| {
            f.sources.push(Source::new(
                packages::SOURCE,
                SourceStatus::Skipped,
                "not read: driver packages are read on a bare-metal host only (a container's \
                 are its image's; WSL2, gVisor and Tegra keep the driver elsewhere)",
            ));
        });
    }
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

    /// At every source boundary of a real fixture run, the facts a sink holds are those of every
    /// source announced before, whole, and nothing of the one announced: what the deadline's
    /// partial report reads. The facts at the end are [`collect`]'s.
    #[test]
    fn sink_holds_every_earlier_source_at_each_boundary() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/hgx-h100-no-fabricmanager-570");
        let root = Root::at(dir);
        let mut announced: Vec<String> = Vec::new();
        let end = collect_observed(&root, &mut |name, facts| {
            let stored: Vec<&str> = facts.sources.iter().map(|s| s.name.as_str()).collect();
            assert_eq!(stored, announced, "announcing {name}");
            match name {
                "device-nodes" => assert!(facts.pci.is_some() && facts.nodes.is_none()),
                "installed-modules" => assert!(facts.nodes.is_some() && facts.installed.is_none()),
                "sysfs-pci" => assert!(!facts.loaded.is_empty() && facts.pci.is_none()),
                _ => {}
            }
            announced.push(name.to_owned());
        });
        let names: Vec<&str> = end.sources.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, announced);
        assert!(announced.len() >= 11, "{announced:?}");
        assert!(end.pci.is_some() && !end.proc_gpus.is_empty() && end.platform.is_some());
        assert_eq!(format!("{end:?}"), format!("{:?}", collect(&root)));
    }
}
