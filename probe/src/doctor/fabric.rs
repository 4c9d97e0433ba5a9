//! NVSwitch systems (HGX/DGX) need the fabric manager: without it, or with one of another
//! version than the driver, CUDA fails to initialise on every GPU (`cudaErrorSystemNotReady`,
//! "system not yet initialized"). The fabric manager refuses to start when its version differs
//! from the driver's.
//!
//! Evidence read: NVIDIA PCI functions of class 0x0680 (NVSwitch) in sysfs; the fabric
//! manager's socket `/run/nvidia-fabricmanager/socket` (the path libnvidia-container mounts
//! into containers), or a process named `nv-fabricmanager` (the one its PID file names, else
//! any in `/proc/*/comm`); the installed package's version from the `packages` source (dpkg's `nvidia-fabricmanager[-<branch>]`, rpm's
//! `nvidia-fabric-manager`), which reads the package database once for the whole run. Inside a
//! container the host's processes are not visible, so nothing is concluded there.

use crate::detect::pci;
use crate::report::stack::DriverPackagesInfo;
use crate::report::{Finding, Report, Severity, Source, SourceStatus};
use crate::root::Root;

use super::FABRIC_MANAGER_MISSING;

const SOCKETS: &[&str] = &[
    "/run/nvidia-fabricmanager/socket",
    "/var/run/nvidia-fabricmanager/socket",
];

/// The installed fabric manager packages and their upstream versions (`580.65.06-1` and
/// `1:580.65.06-0ubuntu1` are `580.65.06`), from the `packages` source. The meta package
/// `cuda-drivers-fabricmanager-<branch>` is not the fabric manager itself.
pub fn fabric_manager_packages(info: &DriverPackagesInfo) -> Vec<(String, String)> {
    info.packages
        .iter()
        .filter(|p| {
            p.layer == "fabric-manager"
                && (p.name == "nvidia-fabricmanager"
                    || p.name == "nvidia-fabric-manager"
                    || p.name.starts_with("nvidia-fabricmanager-"))
        })
        .map(|p| {
            let v = p.version.as_str();
            let v = v.split_once(':').map_or(v, |(_, r)| r);
            let v = v.split_once('-').map_or(v, |(u, _)| u);
            (p.name.clone(), v.to_owned())
        })
        .collect()
}

/// Entries `/proc` may hold: a pid for each task up to the largest `pid_max` (4,194,304 on
/// 64-bit kernels) and the kernel's own few hundred names. A busy host has far more than the
/// 4,096 entries of an ordinary directory listing.
const PROC_LIMIT: usize = 4_194_304 + 4096;

/// The fabric manager's PID file at its default `PID_FILE_PATH` (`fabricmanager.cfg`; the
/// systemd unit's `PIDFile=`).
const PID_FILE: &str = "/var/run/nvidia-fabricmanager/nv-fabricmanager.pid";

/// Whether the fabric manager runs: its socket; else the process its PID file names, when
/// that process is `nv-fabricmanager` (two reads); else any process named so (a read per
/// process: a PID file elsewhere, or a stale one). `Err` when the process list could not be
/// read whole: then it is not known, and a "not running" would be a guess.
fn running(root: &Root, limit: usize) -> Result<Option<String>, String> {
    if let Some(s) = SOCKETS.iter().find(|s| root.exists(s)) {
        return Ok(Some(format!("{s} exists")));
    }
    let is_fabric_manager = |pid: &str| {
        !pid.is_empty()
            && pid.len() <= 10
            && pid.bytes().all(|b| b.is_ascii_digit())
            && root
                .read_text_limited(&format!("/proc/{pid}/comm"), 64)
                .is_ok_and(|t| t.text.trim() == "nv-fabricmanager")
    };
    if let Ok(t) = root.read_text_limited(PID_FILE, 64) {
        let pid = t.text.trim();
        if is_fabric_manager(pid) {
            return Ok(Some(format!("process {pid} is nv-fabricmanager")));
        }
    }
    let pids = root
        .read_dir_names_limited("/proc", limit)
        .map_err(|e| format!("/proc: {}", crate::root::describe_error(&e)))?;
    Ok(pids
        .iter()
        .find(|p| is_fabric_manager(p))
        .map(|p| format!("process {p} is nv-fabricmanager")))
}

/// What the fabric manager source read on a machine with `NVSwitch` functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FabricFacts {
    /// The `NVSwitch` functions' bus ids.
    pub switches: Vec<String>,
    /// Why the fabric manager counts as running (its process or socket), if it does; `Err`
    /// when that is not known (the process list could not be read).
    pub running: Result<Option<String>, String>,
    /// The installed fabric manager packages and their upstream versions.
    pub packages: Vec<(String, String)>,
}

/// The source: on a host with `NVSwitch` functions (in `scan`, the run's PCI scan) and a
/// driver, whether the fabric manager runs and which packages are installed; records the
/// `fabric-manager` source (skipped in a container, where the host's is not visible).
pub fn read(
    root: &Root,
    report: &mut Report,
    scan: Option<&pci::PciScan>,
    packages: Option<&DriverPackagesInfo>,
) -> Option<FabricFacts> {
    let switches: Vec<String> = scan?.nvswitches().map(|f| f.bus_id.clone()).collect();
    if switches.is_empty() || report.driver.is_none() {
        return None;
    }
    if report.platform.in_container {
        report.sources.push(Source::new(
            "fabric-manager",
            SourceStatus::Skipped,
            format!(
                "{} NVSwitch(es); in a container the host's fabric manager is not visible",
                switches.len()
            ),
        ));
        return None;
    }
    let run = running(root, PROC_LIMIT);
    let database = packages.map_or("dpkg", |p| p.manager.as_str());
    let packages = packages.map(fabric_manager_packages).unwrap_or_default();
    report.sources.push(Source::new(
        "fabric-manager",
        match &run {
            Ok(Some(_)) => SourceStatus::Ok,
            Ok(None) => SourceStatus::Absent,
            Err(_) => SourceStatus::Failed,
        },
        format!(
            "{} NVSwitch(es); {}; packages: {}",
            switches.len(),
            match &run {
                Ok(Some(why)) => why.clone(),
                Ok(None) => "no nv-fabricmanager process or socket".to_owned(),
                Err(e) => format!("whether the fabric manager runs is not known: {e}"),
            },
            if packages.is_empty() {
                format!("none seen in the {database} database")
            } else {
                packages
                    .iter()
                    .map(|(p, v)| format!("{p} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
    ));
    Some(FabricFacts {
        switches,
        running: run,
        packages,
    })
}

/// The rule: `fabric-manager-missing` when the fabric manager is not running, or is installed
/// in another version than the driver. Whether it runs may be unknown: the source then failed,
/// which leaves the report's answers unknown ([`crate::findings`]), and no finding guesses.
pub fn findings(report: &Report, facts: &FabricFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(driver) = report.driver.as_ref() else {
        return out;
    };
    let FabricFacts {
        switches,
        running: run,
        packages,
    } = facts;
    let branch = driver.branch;
    let pkg = format!("nvidia-fabricmanager-{branch}");
    let wrong: Vec<&(String, String)> = packages
        .iter()
        .filter(|(_, v)| driver.version != *v.as_str())
        .collect();
    if let Some((p, v)) = wrong.first() {
        out.push(Finding::new(
            FABRIC_MANAGER_MISSING,
            Severity::Error,
            format!(
                "This system has {} NVSwitch(es), and the installed fabric manager ({p} {v}) does not match the driver {}: the fabric manager refuses to start on a version mismatch, and CUDA then fails on every GPU with 'system not yet initialized'.",
                switches.len(),
                driver.version
            ),
            format!(
                "Install the fabric manager of exactly the driver's version ('sudo apt install {pkg}={}-*' or 'sudo dnf install nvidia-fabric-manager-{}'), then 'sudo systemctl restart nvidia-fabricmanager'; if the driver was upgraded without a reboot, reboot first.",
                driver.version, driver.version
            ),
        ));
    } else if matches!(run, Ok(None)) {
        out.push(Finding::new(
            FABRIC_MANAGER_MISSING,
            Severity::Error,
            format!(
                "This system has {} NVSwitch(es) ({}), but the fabric manager is not running: the NVLink fabric is not set up, and CUDA fails on every GPU with 'system not yet initialized' (cudaErrorSystemNotReady).",
                switches.len(),
                switches.join(", ")
            ),
            if packages.is_empty() {
                format!("Install the fabric manager matching driver {} ('sudo apt install {pkg}' on Ubuntu/Debian, 'sudo dnf install nvidia-fabric-manager' from NVIDIA's repository on RHEL), then 'sudo systemctl enable --now nvidia-fabricmanager'.", driver.version)
            } else {
                "Start it: 'sudo systemctl enable --now nvidia-fabricmanager', and read 'sudo journalctl -u nvidia-fabricmanager' if it stops again.".to_owned()
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HGX: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/hgx-h100-no-fabricmanager-570"
    );

    /// A `/proc` longer than the listing may read leaves the answer unknown, not "not
    /// running"; one that is read whole answers.
    #[test]
    fn fabric_process_list_cut_short_is_unknown() {
        let dir = crate::testutil::Scratch::new("fabric");
        for (pid, comm) in [
            (1, "systemd"),
            (2, "kthreadd"),
            (77, "sshd"),
            (4242, "bash"),
        ] {
            let p = dir.join(format!("proc/{pid}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
        }
        std::fs::write(dir.join("proc/version"), "Linux\n").unwrap();
        let root = Root::at(&dir);
        assert!(
            running(&root, 3)
                .unwrap_err()
                .contains("more than 3 entries")
        );
        assert_eq!(running(&root, 100), Ok(None));
        std::fs::write(dir.join("proc/4242/comm"), "nv-fabricmanager\n").unwrap();
        let found = Ok(Some("process 4242 is nv-fabricmanager".to_owned()));
        assert_eq!(running(&root, 100), found);
        // Its PID file names it: found without listing /proc (a limit of 3 would fail).
        let run = dir.join("var/run/nvidia-fabricmanager");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("nv-fabricmanager.pid"), "4242\n").unwrap();
        assert_eq!(running(&root, 3), found);
        // A stale PID file (another process has the number now): the list is read.
        std::fs::write(run.join("nv-fabricmanager.pid"), "77\n").unwrap();
        assert!(running(&root, 3).is_err());
        assert_eq!(running(&root, 100), found);
    }

    /// Not running is an error finding; not known is none (the failed source makes the
    /// report's answers unknown instead).
    #[test]
    fn fabric_unknown_running_is_no_finding_but_an_unread_source() {
        let mut report = crate::probe(&crate::Options::new(Root::at(HGX)));
        let facts = |running| FabricFacts {
            switches: vec!["0000:05:00.0".to_owned()],
            running,
            packages: Vec::new(),
        };
        let missing = findings(&report, &facts(Ok(None)));
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].code, FABRIC_MANAGER_MISSING);
        assert!(findings(&report, &facts(Err("/proc: too long".to_owned()))).is_empty());
        report.sources.retain(|s| s.name != "fabric-manager");
        report.sources.push(Source::new(
            "fabric-manager",
            SourceStatus::Failed,
            "whether the fabric manager runs is not known",
        ));
        let unread = crate::findings::completeness(&report).unwrap();
        assert!(
            unread.message.contains("fabric-manager"),
            "{}",
            unread.message
        );
    }

    #[test]
    fn fabric_packages_from_the_package_source() {
        let status = "Package: libc6\nStatus: install ok installed\nVersion: 2.39-0ubuntu8\n\nPackage: nvidia-fabricmanager-580\nStatus: install ok installed\nArchitecture: amd64\nVersion: 580.65.06-1\n\nPackage: nvidia-fabricmanager-570\nStatus: deinstall ok config-files\nVersion: 570.86.15-1\n";
        let info = |manager: &str, packages| DriverPackagesInfo {
            manager: manager.to_owned(),
            packages,
            container_toolkit: None,
        };
        let dpkg = info(
            "dpkg",
            crate::detect::packages::parse_dpkg_status(&format!(
                "{status}\nPackage: cuda-drivers-fabricmanager-580\nStatus: install ok installed\nVersion: 580.65.06-1\n\nPackage: nvidia-fabricmanager\nStatus: install ok installed\nVersion: 1:575.57.08-0ubuntu1\n"
            )),
        );
        // The meta package is not the fabric manager; an epoch and a release are dropped.
        assert_eq!(
            fabric_manager_packages(&dpkg),
            [
                (
                    "nvidia-fabricmanager-580".to_owned(),
                    "580.65.06".to_owned()
                ),
                ("nvidia-fabricmanager".to_owned(), "575.57.08".to_owned()),
            ]
        );
        // rpm's name (NVIDIA's RHEL repository), which the dpkg-only reader did not see.
        let rpm = info(
            "rpm",
            vec![crate::report::stack::DriverPackage {
                name: "nvidia-fabric-manager".to_owned(),
                version: "580.65.06-1".to_owned(),
                layer: "fabric-manager".to_owned(),
                branch: Some(580),
                server: false,
            }],
        );
        assert_eq!(
            fabric_manager_packages(&rpm),
            [("nvidia-fabric-manager".to_owned(), "580.65.06".to_owned())]
        );
    }
}
