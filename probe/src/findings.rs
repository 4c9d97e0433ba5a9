//! Finding codes and the rules that raise them from what was read.
//!
//! Every code is stable kebab-case and keeps its meaning forever (see `CONTRACT.md`).

pub use crate::codes::{
    COMPUTE_CAPABILITY_UNKNOWN, DEADLINE_EXCEEDED, DEVICE_NODES_MISSING, DEVICE_PERMISSION_DENIED,
    DRIVER_BRANCH_UNKNOWN, DRIVER_NOT_LOADED, DRIVER_VERSION_SOURCES_DISAGREE, GPU_NOT_BOUND,
    MODULE_NOT_BUILT_FOR_KERNEL, NO_NVIDIA_GPU, NOUVEAU_BOUND, SOURCES_UNREADABLE,
};
use crate::detect::Facts;
use crate::report::{Finding, PlatformKind, Report, Severity};

/// The sources whose failure leaves the report's answers unknown: whether a GPU and a driver
/// are here, what the loader would load, what the environment asks for. The others fail for
/// reasons their own findings explain (an ioctl refused under gVisor, the sandbox, the NVML
/// cross-check) and change no answer by failing.
const ANSWER_SOURCES: &[&str] = &[
    "kernel-release",
    "sysfs-module",
    "procfs-version",
    "procfs-params",
    "procfs-gpus",
    "procfs-modules",
    "sysfs-pci",
    "device-nodes",
    "installed-modules",
    "ld-so-cache",
    "library-inventory",
    "environment",
    // On an NVSwitch host CUDA starts only with the fabric manager running; it fails when
    // that could not be told.
    "fabric-manager",
];

/// The sources that tell whether an NVIDIA GPU or driver is here at all.
const PRESENCE_SOURCES: &[&str] = &[
    "kernel-release",
    "sysfs-module",
    "procfs-gpus",
    "procfs-modules",
    "sysfs-pci",
    "device-nodes",
];

/// True when the source could not be read: it failed, or was denied (for `device-nodes`, a
/// denied node is an answer: `device-permission-denied`). Also when the kernel release is
/// absent: every Linux with procfs has `/proc/sys/kernel/osrelease`, so without it `/proc` is
/// not mounted or `--root` is not a machine's root, and nothing read there is an answer.
fn unread(s: &crate::report::Source) -> bool {
    use crate::report::SourceStatus as S;
    match s.status {
        S::Failed => true,
        S::Denied => s.name != "device-nodes",
        S::Absent => s.name == "kernel-release",
        _ => false,
    }
}

/// `sources-unreadable` when a source the answers depend on could not be read (a source cut
/// by the deadline has `deadline-exceeded` instead). The report then holds no confident
/// answer: it is not healthy, and a check on it is unknown.
pub fn completeness(report: &Report) -> Option<Finding> {
    let failed: Vec<String> = report
        .sources
        .iter()
        .filter(|s| ANSWER_SOURCES.contains(&s.name.as_str()) && unread(s))
        .map(|s| format!("{} ({})", s.name, s.detail))
        .collect();
    if failed.is_empty() {
        return None;
    }
    Some(Finding::new(
        SOURCES_UNREADABLE,
        Severity::Error,
        format!(
            "Some of what this report's answers depend on could not be read: {}. What those sources would have shown is unknown, so this report cannot say the machine is healthy.",
            failed.join("; ")
        ),
        "Run nvprobe as a user that can read /proc, /sys and /dev (in a container: with them mounted; with --root: on a machine's root, such as a capture or the host's / mounted at /host), with a file limit of at least 64 ('ulimit -n'); 'nvprobe --json' shows each source's error. If the sandbox refused a read, '--no-sandbox' tells, and that is a bug to report.",
    ))
}

/// True when a source that tells whether a GPU is here could not be read: "no GPU" is then
/// unknown, not an answer.
fn presence_unknown(report: &Report) -> bool {
    report.sources.iter().any(|s| {
        PRESENCE_SOURCES.contains(&s.name.as_str())
            && (unread(s) || s.status == crate::report::SourceStatus::Timeout)
    })
}

/// Codes that name one fault of the whole machine, which two sources may each notice: a denied
/// node seen by `faccessat` and by the ioctl open; a library mismatch seen by the doctor's
/// inventory and by NVML. Only the first report of these is kept.
const ONE_PER_MACHINE: &[&str] = &[
    DEVICE_PERMISSION_DENIED,
    crate::codes::DRIVER_LIBRARY_MISMATCH,
];

/// Removes repeated findings: exact repeats, and later reports of a one-per-machine fault.
/// Distinct faults that share a code (two GPU models a driver dropped, two binaries without
/// code for the GPU) are all kept.
pub fn dedup(findings: &mut Vec<Finding>) {
    let mut seen = std::collections::BTreeSet::new();
    findings.retain(|f| {
        let key = if ONE_PER_MACHINE.contains(&f.code.as_str()) {
            (f.code.clone(), String::new())
        } else {
            (f.code.clone(), f.message.clone())
        };
        seen.insert(key)
    });
}

/// A capture bundle whose copy stopped at its deadline (the live capture's report, and its
/// replay): what a replay reads may not be what the captured run read.
pub fn capture_incomplete(why: &str) -> Finding {
    Finding::new(
        DEADLINE_EXCEEDED,
        Severity::Error,
        format!(
            "The capture stopped copying files at its deadline ({why}): the bundle is incomplete, and a replay of it may not give the captured run's report."
        ),
        "Capture again with a longer --timeout.",
    )
}

/// Orders findings: errors first, then warnings, then info; stable within a severity.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by_key(|f| f.severity);
}

/// The findings of the file sources.
pub fn evaluate(facts: &Facts, report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    // The driver counts as loaded when files show it or the kernel answered an ioctl.
    let loaded = facts.nvidia_loaded() || report.driver.is_some();
    let wsl = report.platform.kind == PlatformKind::Wsl2;
    let gpus = &report.gpus;

    // nouveau holds GPUs: the nvidia driver cannot bind them.
    let nouveau: Vec<&str> = gpus
        .iter()
        .filter(|g| g.kernel_driver.as_deref() == Some("nouveau"))
        .map(|g| g.pci.bus_id.as_str())
        .collect();
    if !nouveau.is_empty() {
        out.push(Finding::new(
            NOUVEAU_BOUND,
            Severity::Error,
            format!(
                "The open-source nouveau driver is bound to {}: CUDA cannot use a GPU that nouveau drives, and the nvidia module cannot bind it.",
                list(&nouveau)
            ),
            "Blacklist nouveau and rebuild the initramfs, then reboot: write 'blacklist nouveau' and 'options nouveau modeset=0' to /etc/modprobe.d/blacklist-nouveau.conf, run 'sudo update-initramfs -u' (Debian/Ubuntu) or 'sudo dracut --force' (Fedora/RHEL), and reboot. Installing the NVIDIA driver package usually does this for you.",
        ));
    }

    // GPUs on the bus that nothing useful drives, with the nvidia module absent.
    let waiting: Vec<&str> = gpus
        .iter()
        .filter(|g| g.seen_by.iter().any(|s| s == "sysfs-pci"))
        .filter(|g| {
            !matches!(
                g.kernel_driver.as_deref(),
                Some("nouveau" | "vfio-pci" | "nvidia")
            )
        })
        .map(|g| g.pci.bus_id.as_str())
        .collect();
    let running = facts.kernel_release.as_deref();
    let installed = facts.installed.as_deref().unwrap_or_default();
    let for_running = installed
        .iter()
        .any(|m| m.name == "nvidia" && m.running_kernel);
    // The running kernel's /lib/modules directory must exist: a container's image may carry
    // modules for some other kernel and none for the host's, which is no fault.
    let running_dir_exists =
        running.is_some_and(|r| facts.lib_modules_releases.iter().any(|d| d == r));
    let mut others: Vec<&str> = installed
        .iter()
        .filter(|m| m.name == "nvidia" && !m.running_kernel)
        .map(|m| m.kernel_release.as_str())
        .collect();
    others.dedup();

    if !loaded && !wsl && !waiting.is_empty() {
        let not_built = !for_running && !others.is_empty() && running_dir_exists;
        if not_built {
            let release = running.unwrap_or("?");
            out.push(Finding::new(
                MODULE_NOT_BUILT_FOR_KERNEL,
                Severity::Error,
                format!(
                    "The running kernel {release} has no nvidia module under /lib/modules/{release}, but kernel(s) {} have one: the kernel was updated and the driver was not rebuilt for it.",
                    others.join(", ")
                ),
                format!(
                    "Build the module for this kernel: install its headers ('sudo apt install linux-headers-{release}' or 'sudo dnf install kernel-devel-{release}') and run 'sudo dkms autoinstall -k {release}', then 'sudo modprobe nvidia'. Or boot kernel {} which has the module.",
                    others.first().copied().unwrap_or("?")
                ),
            ));
        }
        out.push(Finding::new(
            DRIVER_NOT_LOADED,
            Severity::Error,
            format!(
                "NVIDIA GPU(s) {} are on the PCI bus, but the nvidia kernel module is not loaded (no /sys/module/nvidia, no /proc/driver/nvidia/version).",
                list(&waiting)
            ),
            if not_built {
                "Rebuild the module for the running kernel (see module-not-built-for-kernel), then 'sudo modprobe nvidia' and check 'sudo dmesg | grep -i nvrm'.".to_owned()
            } else if for_running {
                "Load it with 'sudo modprobe nvidia' and read 'sudo dmesg | grep -i -e nvrm -e nvidia' if it fails (Secure Boot may refuse an unsigned module: enrol the DKMS key with 'sudo mokutil --import' or sign the module).".to_owned()
            } else {
                "Install the NVIDIA driver for this kernel (e.g. 'sudo apt install nvidia-driver-580-open' or 'sudo ubuntu-drivers install' on Ubuntu, the cuda-drivers or nvidia-open package from NVIDIA's repository elsewhere), then reboot or 'sudo modprobe nvidia'.".to_owned()
            },
        ));
    }

    if loaded {
        let unbound: Vec<&str> = gpus
            .iter()
            .filter(|g| g.seen_by.iter().any(|s| s == "sysfs-pci") && g.kernel_driver.is_none())
            .map(|g| g.pci.bus_id.as_str())
            .collect();
        if !unbound.is_empty() {
            out.push(Finding::new(
                GPU_NOT_BOUND,
                Severity::Warning,
                format!(
                    "The nvidia module is loaded, but no driver is bound to {}: the driver refused or failed to initialise it.",
                    list(&unbound)
                ),
                "Read 'sudo dmesg | grep -i nvrm' for the reason: an unsupported GPU for this driver branch (e.g. Maxwell/Pascal/Volta on 590 or newer), a failed RmInitAdapter, or a GPU excluded with NVreg_ExcludedGpus.",
            ));
        }
        if let (Some(sys), Some(proc)) = (&facts.sys_version, &facts.proc_version)
            && *sys != proc.version
        {
            out.push(Finding::new(
                    DRIVER_VERSION_SOURCES_DISAGREE,
                    Severity::Warning,
                    format!(
                        "/sys/module/nvidia/version says {sys} but /proc/driver/nvidia/version says {}.",
                        proc.version
                    ),
                    "In a container the procfs copy comes from the host at start-up: restart the container after a driver update. On a host, reload the nvidia modules or reboot.",
                ));
        }
    }

    // Device nodes: only meaningful when the module is loaded and /dev was readable.
    if loaded
        && !wsl
        && let Some(nodes) = &facts.nodes
    {
        let has = |p: &str| nodes.iter().any(|n| n.path == p);
        let mut missing: Vec<String> = Vec::new();
        if !has("/dev/nvidiactl") {
            missing.push("/dev/nvidiactl".to_owned());
        }
        for (_, info) in &facts.proc_gpus {
            if let Some(m) = info.minor {
                let p = format!("/dev/nvidia{m}");
                if !has(&p) {
                    missing.push(p);
                }
            }
        }
        if !missing.is_empty() {
            let in_container = report.platform.in_container;
            out.push(Finding::new(
                    DEVICE_NODES_MISSING,
                    Severity::Error,
                    format!(
                        "The nvidia module is loaded but {} {} missing.",
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" }
                    ),
                    if in_container {
                        "Start the container with the GPU exposed: 'docker run --gpus all' (or '--device nvidia.com/gpu=all' with CDI), 'podman run --device nvidia.com/gpu=all', or request 'nvidia.com/gpu' in the Kubernetes pod spec; check NVIDIA_VISIBLE_DEVICES.".to_owned()
                    } else {
                        "Create the nodes with 'sudo nvidia-modprobe -c 0 -u' (or run 'sudo nvidia-smi' once); if that fails check that nvidia-modprobe is installed and that udev rules do not remove them.".to_owned()
                    },
                ));
        }
        let denied: Vec<String> = nodes
            .iter()
            .filter(|n| n.access == "denied")
            .map(|n| {
                let owner = match (&n.mode, n.gid) {
                    (Some(mode), Some(gid)) => format!(" (mode {mode}, group {gid})"),
                    _ => String::new(),
                };
                format!("{}{owner}", n.path)
            })
            .collect();
        if !denied.is_empty() {
            out.push(Finding::new(
                    DEVICE_PERMISSION_DENIED,
                    Severity::Error,
                    format!(
                        "This user cannot open {} read-write, so CUDA and NVML will fail to initialise.",
                        denied.join(", ")
                    ),
                    "Add the user to the group that owns the nodes ('ls -l /dev/nvidia*', then 'sudo usermod -aG <group> $USER' and log in again), or set the driver's NVreg_DeviceFileMode/NVreg_DeviceFileGID module options. In a container, run it with the GPU exposed so the runtime grants the device cgroup.",
                ));
        }
    }

    for g in gpus {
        if let Some(reason) = cc_unknown_reason(g) {
            out.push(Finding::new(
                COMPUTE_CAPABILITY_UNKNOWN,
                Severity::Info,
                format!(
                    "GPU {} ({}) has no known compute capability: {reason}.",
                    g.index,
                    g.name.as_deref().or(g.chip.as_deref()).unwrap_or(&g.pci.bus_id)
                ),
                "Run with --deep to ask the driver for the GPU's architecture, or set NVPROBE_COMPUTE_CAPABILITY if you know it. Newer nvprobe releases carry newer tables.",
            ));
        }
    }
    if let Some(d) = &report.driver
        && let Some(native) = crate::tables::native_cuda_for_driver(&d.branch.to_string())
        && native.at_least
    {
        out.push(Finding::new(
            DRIVER_BRANCH_UNKNOWN,
            Severity::Info,
            format!(
                "Driver branch {} is newer than nvprobe's tables (newest known: {}); it supports at least CUDA {}.",
                d.branch, native.table_branch, native.version
            ),
            "Nothing to fix on this machine; a newer nvprobe knows the exact CUDA version of this branch.",
        ));
    }

    let any_gpu = !gpus.is_empty();
    let any_node = facts.nodes.as_ref().is_some_and(|n| !n.is_empty());
    if presence_unknown(report) {
        // No "no GPU" from sources that could not be read: `sources-unreadable` says so.
    } else if !any_gpu && !loaded && !any_node && !wsl {
        out.push(Finding::new(
            NO_NVIDIA_GPU,
            Severity::Info,
            format!(
                "No NVIDIA GPU was found: {}.",
                no_gpu_reasons(facts).join("; ")
            ),
            if report.platform.in_container {
                "In a container, start it with the GPU exposed ('docker run --gpus all', CDI '--device nvidia.com/gpu=all', or 'nvidia.com/gpu' resources on Kubernetes)."
            } else {
                "If this machine should have an NVIDIA GPU: in a VM check that the GPU is passed through; on bare metal check 'lspci -nn | grep -i nvidia', the slot and its power cables."
            },
        ));
    } else if !any_gpu && loaded {
        out.push(Finding::new(
            NO_NVIDIA_GPU,
            Severity::Info,
            "The nvidia module is loaded but no NVIDIA GPU is visible: none on the PCI bus and none in /proc/driver/nvidia/gpus.",
            "In a container, expose the GPU ('docker run --gpus all'); on a host, check 'sudo dmesg | grep -i nvrm' for a GPU that fell off the bus.",
        ));
    }
    out
}

/// The findings of what the ioctl source recorded: device nodes it may not open, calls gVisor
/// refused, GPUs the driver reports lost, and values where the driver and procfs/sysfs
/// disagree ([`crate::ioctl::merge_into`]).
pub fn ioctl(outcome: &crate::ioctl::IoctlOutcome, disagreements: &[String]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, errno) in &outcome.denied {
        out.push(Finding::new(
            crate::codes::DEVICE_PERMISSION_DENIED,
            Severity::Error,
            format!("{path} exists but cannot be opened: {errno}"),
            "Run as a user with access to the NVIDIA device nodes (usually the video group, or \
             mode 0666 from the driver's DeviceFileMode), or in a container pass the device \
             through (--gpus, the NVIDIA container toolkit, or a device cgroup rule for major 195).",
        ));
    }
    for bus in &outcome.lost {
        out.push(Finding::new(
            crate::codes::GPU_LOST,
            Severity::Error,
            format!("The driver reports the GPU at {bus} as lost (NV_ERR_GPU_IS_LOST)"),
            "The GPU fell off the bus or stopped responding. Check the kernel log for Xid \
             errors; a reset (nvidia-smi -r) or a reboot is usually needed.",
        ));
    }
    if !outcome.refusals.is_empty() {
        out.push(Finding::new(
            crate::codes::GVISOR_NVPROXY_LIMIT,
            Severity::Warning,
            format!(
                "The sandbox's NVIDIA proxy (gVisor nvproxy) refused: {}",
                outcome.refusals.join(", ")
            ),
            "gVisor passes only allow-listed NVIDIA ioctls for supported driver versions. Use a \
             driver version runsc supports, enable the needed capabilities \
             (--nvproxy-driver-capabilities), or read these values outside the sandbox.",
        ));
    }
    if !disagreements.is_empty() {
        out.push(Finding::new(
            crate::codes::SOURCES_DISAGREE,
            Severity::Warning,
            format!(
                "The NVIDIA driver and procfs/sysfs disagree: {}",
                disagreements.join("; ")
            ),
            "Usually a stale bind mount of /proc or /sys, or a driver reloaded without a \
             reboot; the values from the driver (ioctl) are the current ones.",
        ));
    }
    out
}

/// The cross-check's findings: NVML disagrees with the probe, or refused to start because the
/// user-space library is another release than the kernel module.
pub fn cross_check(report: &Report, outcome: &crate::crosscheck::Outcome) -> Vec<Finding> {
    let mut out = Vec::new();
    let differences = &outcome.cross_check.differences;
    if !differences.is_empty() {
        out.push(cross_check_disagrees(report, differences));
    }
    if let Some(lib) = &outcome.rm_mismatch_library {
        out.push(cross_check_mismatch(report, lib));
    }
    out
}

/// `driver-library-mismatch` from NVML's `LIB_RM_VERSION_MISMATCH`.
fn cross_check_mismatch(report: &Report, lib_shown: &str) -> Finding {
    let lib_version = crate::crosscheck::library_version(lib_shown);
    let module = report.driver.as_ref().map(|d| d.version.as_str());
    let versions = match (lib_version, module) {
        (Some(l), Some(m)) => format!(" (library {l}, kernel module {m})"),
        (None, Some(m)) => format!(" (kernel module {m})"),
        (Some(l), None) => format!(" (library {l})"),
        (None, None) => String::new(),
    };
    Finding::new(
        crate::codes::DRIVER_LIBRARY_MISMATCH,
        Severity::Error,
        format!(
            "NVML refuses to start: the user-space driver library {lib_shown} and the loaded \
             nvidia kernel module come from different driver releases{versions}. CUDA programs \
             will fail to initialise the same way."
        ),
        "This usually follows a driver upgrade without a reboot: the new libraries are \
         installed while the old kernel module is still loaded. Reboot, or reload the modules \
         when no process uses the GPU: `sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia \
         && sudo modprobe nvidia`. In a container, restart it after fixing the host. If the \
         versions still differ, reinstall the driver so the module and libraries match.",
    )
}


/// `cross-check-disagrees`, listing the first differences.
fn cross_check_disagrees(report: &Report, diffs: &[crate::report::Difference]) -> Finding {
    let shown: Vec<String> = diffs
        .iter()
        .take(4)
        .map(|d| {
            format!(
                "{}: nvprobe {}, NVML {}",
                d.field,
                d.probe.as_deref().unwrap_or("none"),
                d.nvml.as_deref().unwrap_or("none")
            )
        })
        .collect();
    let more = diffs.len().saturating_sub(shown.len());
    let mut message = format!(
        "NVML disagrees with nvprobe on {} value(s): {}",
        diffs.len(),
        shown.join("; ")
    );
    if more > 0 {
        let _ = std::fmt::Write::write_fmt(&mut message, format_args!("; and {more} more"));
    }
    let mut remedy = String::new();
    let override_used = report
        .driver
        .as_ref()
        .is_some_and(|d| d.source == crate::report::DriverSource::Override);
    if override_used && diffs.iter().any(|d| d.field == "driver.version") {
        remedy.push_str("NVPROBE_DRIVER_VERSION overrides the driver version nvprobe reports. ");
    }
    let newer_cuda = diffs.iter().any(|d| {
        d.field == "driver.cuda_version"
            && matches!(
                (d.probe.as_deref().and_then(crate::crosscheck::parse_version), d.nvml.as_deref().and_then(crate::crosscheck::parse_version)),
                (Some(p), Some(n)) if n > p
            )
    });
    if newer_cuda {
        remedy.push_str(
            "libcuda reports a newer CUDA version than this driver branch supports natively: a \
             cuda-compat (forward compatibility) libcuda is probably on the library path. ",
        );
    }
    remedy.push_str(
        "nvprobe reads the kernel driver (procfs, sysfs, ioctls); NVML asks the same driver \
         through libnvidia-ml.so.1. A difference means one of them reads another machine or \
         driver than you expect (an override, a container whose /proc or /sys is not the \
         host's, a second driver install on the library path). If none applies, please report \
         it with the output of `nvprobe --json --cross-check` and of `nvprobe-shim`.",
    );
    Finding::new(crate::codes::CROSS_CHECK_DISAGREES, Severity::Warning, message, remedy)
}

/// The platform rules: WSL2, containers, gVisor and Tegra, from the report and what the
/// platform sources recorded besides (`platform::refine_with`'s answer).
pub fn platform(
    facts: &Facts,
    report: &Report,
    platform_facts: &crate::platform::PlatformFacts,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(wsl_facts) = &platform_facts.wsl {
        out.extend(wsl(report, wsl_facts));
    }
    out.extend(container(facts, report));
    out.extend(gvisor(report));
    out.extend(tegra(report));
    out
}

/// The container findings: no GPU injected, device nodes or driver libraries the toolkit should
/// have brought, a subset of the host's GPUs. From the report's `platform.container`.
pub fn container(facts: &Facts, report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(info) = report.platform.details.container.as_ref() else {
        return out;
    };
    let driver_present = facts.nvidia_loaded() || report.driver.is_some();
    let gpu_nodes = crate::platform::any_gpu_node(report);
    let visible = &info.visible_gpus;
    let hidden = &info.hidden_gpus;
    let missing = &info.missing_device_nodes;
    let expected = &info.expected;
    let caps = &info.driver_capabilities;
    let from_env = info.driver_capabilities_from == "env";
    let visible_env = &info.nvidia_visible_devices;
    if !gpu_nodes && visible.is_empty() && (driver_present || !report.gpus.is_empty()) {
        let asked = crate::platform::container::asks_for_gpus(visible_env.as_deref());
        let what = match visible_env.as_deref() {
            None => "NVIDIA_VISIBLE_DEVICES is unset".to_owned(),
            Some(v) => format!("NVIDIA_VISIBLE_DEVICES={v}"),
        };
        out.push(Finding::new(
            crate::codes::CONTAINER_GPU_NOT_VISIBLE,
            if asked { Severity::Error } else { Severity::Warning },
            format!(
                "This container sees the host's NVIDIA driver{}, but no GPU was injected: no /dev/nvidiaN node ({what}).",
                if hidden.is_empty() {
                    String::new()
                } else {
                    format!(" and {} GPU(s) in sysfs", hidden.len())
                }
            ),
            if asked {
                "The variable was set but the NVIDIA runtime did not act on it: start the container with '--gpus all' or '--runtime=nvidia' (Docker), '--device nvidia.com/gpu=all' (CDI, Podman), or request 'nvidia.com/gpu' (Kubernetes). For unprivileged containers the toolkit ignores the variable unless 'accept-nvidia-visible-devices-envvar-when-unprivileged = true' is set in /etc/nvidia-container-runtime/config.toml."
            } else {
                "Start the container with the GPU: 'docker run --gpus all' (or '--runtime=nvidia -e NVIDIA_VISIBLE_DEVICES=all'), '--device nvidia.com/gpu=all' with CDI, or 'nvidia.com/gpu' resources on Kubernetes."
            },
        ));
    }
    if !missing.is_empty() {
        let uvm = missing.iter().any(|m| m == "/dev/nvidia-uvm");
        out.push(Finding::new(
            crate::codes::CONTAINER_DEVICE_NODES_MISSING,
            Severity::Error,
            format!(
                "The container has GPU access but lacks {}{}.",
                missing.join(", "),
                if uvm {
                    ": without /dev/nvidia-uvm CUDA fails to initialise (cudaErrorUnknown / 'no CUDA-capable device')"
                } else {
                    ""
                }
            ),
            "The host must create the nodes before the container starts: run 'sudo nvidia-modprobe -u -c=0' on the host (or set 'load-kmods = true' under [nvidia-container-cli] in /etc/nvidia-container-runtime/config.toml). With CDI, regenerate the spec after a driver change: 'sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml'. Then restart the container.",
        ));
    }
    let absent: Vec<&crate::report::platform_details::ExpectedFile> = expected.iter().filter(|e| e.found.is_none()).collect();
    if (gpu_nodes || !visible.is_empty()) && !absent.is_empty() {
        let mut by_cap: Vec<String> = Vec::new();
        for e in &absent {
            by_cap.push(format!("{} ({})", e.name, e.capability));
        }
        let caps_text = caps.join(",");
        let compute = if absent.iter().any(|e| e.name == "libcuda.so.1") {
            ": CUDA programs cannot start ('libcuda.so.1: cannot open shared object file')"
        } else {
            ""
        };
        out.push(Finding::new(
            crate::codes::CONTAINER_LIBRARIES_MISSING,
            // A warning, not an error: a minimal image (nvprobe alone in a distroless container)
            // legitimately has no driver libraries.
            Severity::Warning,
            format!(
                "NVIDIA_DRIVER_CAPABILITIES {} {caps_text}, but the container lacks {}{compute}.",
                if from_env { "is" } else { "defaults to" },
                by_cap.join(", ")
            ),
            "The driver libraries come from the host through the NVIDIA container runtime: run with '--gpus all' or '--runtime=nvidia' (not just '--device /dev/nvidia0'), set NVIDIA_DRIVER_CAPABILITIES to include the capability (e.g. 'compute,utility', or 'all'), and with CDI regenerate the spec ('sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml'). Do not copy driver libraries into the image.",
        ));
    }
    if !visible.is_empty() && !hidden.is_empty() {
        out.push(Finding::new(
            crate::codes::CONTAINER_VISIBLE_SUBSET,
            Severity::Info,
            format!(
                "This container sees {} of the host's {} NVIDIA GPU(s): {} (sysfs also shows {}).",
                visible.len(),
                visible.len() + hidden.len(),
                visible.join(", "),
                hidden.join(", ")
            ),
            "Nothing to fix if intended; NVIDIA_VISIBLE_DEVICES (or the device plugin's allocation) picks the GPUs. CUDA numbers the visible ones from 0.",
        ));
    }
    out
}

/// The WSL2 findings: no NVIDIA GPU behind `/dev/dxg`, the Windows driver's libraries off the
/// loader path or missing, `nvidia-smi` off `PATH`, a Linux driver installed inside WSL. From
/// the report's `platform.wsl` and what the WSL source recorded besides.
pub fn wsl(report: &Report, f: &crate::platform::wsl::WslFacts) -> Vec<Finding> {
    use crate::platform::wsl::{WSL_DRIVERS, WSL_LIB};
    use crate::report::SourceStatus;
    let mut out = Vec::new();
    let Some(info) = report.platform.details.wsl.as_ref() else {
        return out;
    };
    if f.nvidia_adapters == 0 {
        let why = match f.dxg_status {
            SourceStatus::Ok => format!(
                "/dev/dxg lists {} adapter(s), none of them an NVIDIA GPU",
                info.adapters.len()
            ),
            SourceStatus::Skipped => {
                "/dev/dxg is a fixture stand-in, so its adapters could not be listed".to_owned()
            }
            _ => f.dxg_detail.clone(),
        };
        if f.dxg_status != SourceStatus::Skipped {
            out.push(Finding::new(
                crate::codes::WSL_GPU_NOT_EXPOSED,
                Severity::Error,
                format!("This is WSL2, but no NVIDIA GPU reaches it: {why}."),
                "Install the NVIDIA Windows driver (the normal Game Ready/Studio or data-centre driver; do not install a Linux driver inside WSL), update WSL with 'wsl --update' in Windows, and restart it with 'wsl --shutdown'. In a container on WSL, pass /dev/dxg and /usr/lib/wsl ('docker run --gpus all' does this with the NVIDIA container toolkit).",
            ));
        }
    }
    if f.lib_dir && f.has_libcuda && info.loader_path_via.is_none() {
        let mut why = f.stale_loader_config.clone().unwrap_or_else(|| {
            format!(
                "no /etc/ld.so.conf.d file lists {WSL_LIB} and LD_LIBRARY_PATH does not hold it"
            )
        });
        if f.ldconfig_off {
            why.push_str("; /etc/wsl.conf sets [automount] ldconfig = false");
        }
        out.push(Finding::new(
            crate::codes::WSL_LIBRARIES_NOT_ON_LOADER_PATH,
            Severity::Error,
            format!(
                "The Windows driver's libcuda.so.1 is in {WSL_LIB}, but the dynamic loader will not find it ({why}): CUDA programs fail with 'libcuda.so.1: cannot open shared object file' or report no device."
            ),
            format!(
                "Run 'echo {WSL_LIB} | sudo tee /etc/ld.so.conf.d/ld.wsl.conf && sudo ldconfig' (and remove 'ldconfig = false' from /etc/wsl.conf), or export LD_LIBRARY_PATH={WSL_LIB} for the service or SSH session."
            ),
        ));
    }
    if f.lib_dir
        && info.lib_dir_on_path == Some(false)
        && info.lib_files.iter().any(|f| f.ends_with("/nvidia-smi"))
    {
        out.push(Finding::new(
            crate::codes::WSL_TOOLS_NOT_ON_PATH,
            Severity::Info,
            format!(
                "nvidia-smi is {WSL_LIB}/nvidia-smi, and {WSL_LIB} is not on PATH here: WSL adds it only for shells it starts itself, so under SSH, cron or systemd 'nvidia-smi' is not found."
            ),
            format!(
                "Call {WSL_LIB}/nvidia-smi by its path, or add 'export PATH=\"$PATH:{WSL_LIB}\"' to /etc/profile.d/wsl-nvidia.sh (Environment=PATH=... for a systemd unit)."
            ),
        ));
    }
    if f.lib_dir && !f.has_libcuda && info.driver_store.is_empty() && f.nvidia_adapters > 0 {
        out.push(Finding::new(
            crate::codes::WSL_USERSPACE_MISSING,
            Severity::Error,
            format!(
                "The NVIDIA GPU is visible through /dev/dxg, but {WSL_LIB}/libcuda.so.1 and the driver store under {WSL_DRIVERS} are missing, so CUDA cannot load."
            ),
            "Reinstall or update the NVIDIA Windows driver, then 'wsl --shutdown' and start WSL again; in a container, mount /usr/lib/wsl (the NVIDIA container toolkit does this for '--gpus').",
        ));
    }
    let shadow = &f.linux_driver_libraries;
    if !shadow.is_empty() {
        out.push(Finding::new(
            crate::codes::WSL_LINUX_DRIVER_INSTALLED,
            Severity::Warning,
            format!(
                "A Linux NVIDIA driver's libraries are installed inside WSL ({}): they do not work with /dev/dxg and can shadow the WSL libcuda.so.1.",
                shadow.join(", ")
            ),
            "Remove the Linux driver packages inside WSL (e.g. 'sudo apt purge \"*nvidia-driver*\" \"libnvidia-compute*\"'; keep only the CUDA toolkit, e.g. cuda-toolkit-12-x, never 'cuda' or 'cuda-drivers'), then 'sudo ldconfig'.",
        ));
    }
    out
}

/// The findings of what `platform::gvisor` recorded (`platform.gvisor`): nvproxy off, or on
/// without the device nodes or driver capabilities CUDA and NVML need.
pub fn gvisor(report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(info) = report.platform.details.gvisor.as_ref() else {
        return out;
    };
    if info.nvproxy {
        let mut missing: Vec<String> = info
            .missing_nodes
            .iter()
            .map(|n| format!("device node {n}"))
            .collect();
        missing.extend(info.missing_capabilities.iter().map(|c| {
            let lib = if c == "compute" {
                "libcuda.so.1"
            } else {
                "libnvidia-ml.so.1"
            };
            format!("the '{c}' capability ({lib})")
        }));
        if !missing.is_empty() {
            out.push(Finding::new(
                crate::codes::GVISOR_NVPROXY_CAPABILITIES_MISSING,
                Severity::Warning,
                format!(
                    "gVisor's nvproxy is on, but this sandbox lacks {}.",
                    missing.join(", ")
                ),
                "Run runsc with '--nvproxy --nvproxy-driver-capabilities=compute,utility' (the default is compute and utility; 'graphics' and 'video' must be asked for), and start the container with the GPU requested ('docker run --runtime=runsc --gpus all', or NVIDIA_VISIBLE_DEVICES with '--nvproxy-docker') so the driver libraries and every /dev/nvidia* node are mounted.",
            ));
        }
    } else {
        out.push(Finding::new(
            crate::codes::GVISOR_NVPROXY_NOT_ENABLED,
            Severity::Error,
            "This is a gVisor sandbox without NVIDIA device nodes (/dev/nvidiactl is absent): runsc runs without nvproxy, or no GPU was requested, so CUDA cannot see a GPU.",
            "Start runsc with '--nvproxy' (Docker: add it to the runsc runtime's runtimeArgs in /etc/docker/daemon.json; GKE Sandbox enables it for GPU node pools) and request the GPU ('--gpus all'). The host driver must be one runsc supports ('runsc nvproxy list-supported-drivers').",
        ));
    }
    out
}

/// The finding of what `platform::tegra` recorded (`platform.tegra`): a Jetson whose integrated
/// GPU has no device node here (`gpu_nodes` lists the nvgpu nodes and `/dev/nvidia*` seen).
pub fn tegra(report: &Report) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(info) = report.platform.details.tegra.as_ref() else {
        return out;
    };
    let reachable = info.gpu_nodes.iter().any(|n| {
        crate::platform::tegra::NVGPU_NODES.contains(&n.as_str())
            || n.strip_prefix("/dev/nvidia")
                .is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
    });
    // `family` is set only for a Tegra SoC nvprobe knows.
    if info.family.is_some() && !reachable {
        let in_container = report.platform.in_container;
        out.push(Finding::new(
            crate::codes::TEGRA_GPU_NODES_MISSING,
            Severity::Error,
            format!(
                "This is a Jetson ({}), but none of the integrated GPU's device nodes ({}, /dev/nvidia0 on Thor) exist{}, so CUDA reports no device.",
                info.family.as_deref().unwrap_or("Tegra"),
                crate::platform::tegra::NVGPU_NODES.join(", "),
                if in_container { " in this container" } else { "" }
            ),
            if in_container {
                "Start the container with the NVIDIA runtime, which mounts the Jetson's GPU nodes and L4T libraries (CSV mode): 'docker run --runtime nvidia' (or 'default-runtime: nvidia' in /etc/docker/daemon.json), or with CDI: 'sudo nvidia-ctk cdi generate --mode=csv --output=/etc/cdi/nvidia.yaml' then '--device nvidia.com/gpu=all'."
            } else {
                "Check that the GPU driver is loaded ('lsmod | grep -e nvgpu -e nvidia', 'sudo dmesg | grep -i gpu') and that the L4T packages match the kernel (reflash or 'sudo apt install --reinstall nvidia-l4t-kernel nvidia-l4t-core'); add the user to the 'video' and 'render' groups."
            },
        ));
    }
    out
}

/// Why a GPU's compute capability is unknown, when it is.
pub fn cc_unknown_reason(g: &crate::report::Gpu) -> Option<String> {
    if g.compute_capability.is_some() {
        return None;
    }
    let device = g.pci.device_id.and_then(crate::report::PciId::as_u16);
    Some(
        match device.and_then(|d| crate::tables::pci_lookup(d, None, None)) {
            Some(entry) => entry
                .cc_unknown_reason
                .unwrap_or(crate::tables::UNKNOWN_CHIP_REASON)
                .to_owned(),
            None if device.is_some() => format!(
                "device ID {} is not in the PCI ID table (pci.ids {})",
                crate::report::OrUnknown::or_q(&g.pci.device_id),
                crate::tables::PCI_IDS_VERSION
            ),
            None => "the PCI device ID is not known (no sysfs entry for this GPU)".to_owned(),
        },
    )
}

fn no_gpu_reasons(facts: &Facts) -> Vec<String> {
    let mut r = Vec::new();
    match &facts.pci {
        Some(_) => r.push("no NVIDIA display/3D function on the PCI bus".to_owned()),
        None => r.push("the PCI bus could not be read (/sys/bus/pci/devices)".to_owned()),
    }
    r.push("the nvidia kernel module is not loaded".to_owned());
    r.push("no /dev/nvidia* device nodes".to_owned());
    r
}

fn list(items: &[&str]) -> String {
    items.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_dedup_keeps_distinct_faults_of_one_code() {
        let f = |code: &str, msg: &str| Finding::new(code, Severity::Error, msg, "fix");
        let mut v = vec![
            f(
                DEVICE_PERMISSION_DENIED,
                "faccessat says /dev/nvidiactl is denied",
            ),
            f("arch-unsupported-by-driver", "GPU 0 (GTX 1080)"),
            f(
                DEVICE_PERMISSION_DENIED,
                "opening /dev/nvidiactl gave EACCES",
            ),
            f("arch-unsupported-by-driver", "GPU 1 (Tesla V100)"),
            f("arch-unsupported-by-driver", "GPU 0 (GTX 1080)"),
        ];
        dedup(&mut v);
        let kept: Vec<&str> = v.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            kept,
            [
                "faccessat says /dev/nvidiactl is denied",
                "GPU 0 (GTX 1080)",
                "GPU 1 (Tesla V100)"
            ]
        );
    }
}
