//! The NVIDIA driver packages the package manager installed (issue 23): the source
//! `packages`, what people otherwise read from `apt list --installed | grep nvidia` or
//! `dpkg -l`.
//!
//! Read from dpkg's database, `/var/lib/dpkg/status`: one stanza per package (`Package:`,
//! `Status: install ok installed`, `Version:`), continuation lines indented. Packages whose
//! status is not `installed` (`deinstall ok config-files`, the `rc` of `dpkg -l`) are left out.
//! Without it, rpm's database in its `SQLite` form (RPM 4.16+: Fedora 33+, RHEL 9,
//! `/var/lib/rpm/rpmdb.sqlite`; openSUSE, newer Fedora: `/usr/lib/sysimage/rpm/rpmdb.sqlite`),
//! read by [`super::rpmdb`]; its older forms (Berkeley DB `Packages`, NDB `Packages.db`, RHEL 8
//! and older) are not parsed, so there the source says `skipped` and nothing is concluded.
//! An rpm package's version is written as dpkg's is, `[epoch:]version-release`.
//!
//! Layers, by the names Ubuntu's and NVIDIA's repositories use:
//! - `module`: `linux-modules-nvidia-<branch>[-server][-open]-<kernel>`,
//!   `linux-objects-nvidia-…`, `nvidia-dkms-<branch>…`, `nvidia-kernel-source-<branch>…`,
//!   `nvidia-kernel-common-<branch>…`;
//! - `userspace`: `libnvidia-compute-<branch>[-server]` (`libcuda`, `libnvidia-ml`);
//! - `utils`: `nvidia-utils-<branch>[-server]` (`nvidia-smi`);
//! - `meta`: `nvidia-driver-<branch>[-server][-open]`, `nvidia-headless[-no-dkms]-<branch>…`,
//!   `cuda-drivers[-<branch>]`;
//! - `fabric-manager`: `nvidia-fabricmanager[-<branch>]`, `cuda-drivers-fabricmanager-<branch>`;
//! - `nscq`: `libnvidia-nscq[-<branch>]`;
//! - `container-toolkit`: `nvidia-container-toolkit[-base]`, `libnvidia-container1`,
//!   `libnvidia-container-tools`;
//! - Debian's `nvidia-tesla-<branch>-*` packages by their suffix (`-kernel-dkms`, `-cuda1`,
//!   `-smi`, `-driver`);
//! - `other`: any other `nvidia`/`libnvidia` package with a branch in its name
//!   (`nvidia-firmware-<branch>-<version>`, `libnvidia-extra-<branch>`, ...).
//!
//! rpm names (NVIDIA's RHEL/Fedora/SUSE repository, the `yum-packaging-*` spec files; RPM
//! Fusion's and negativo17's): `module` `kmod-nvidia*` (`kmod-nvidia-latest-dkms`,
//! `kmod-nvidia-open-dkms`, precompiled `kmod-nvidia-<driver>-<kernel>`), `nvidia-kmod*`,
//! `dkms-nvidia`, `akmod-nvidia`, `xorg-x11-drv-nvidia-kmodsrc`; `userspace`
//! `nvidia-driver-cuda-libs`, `nvidia-driver-libs`, `nvidia-driver-NVML`,
//! `xorg-x11-drv-nvidia-[cuda-]libs`; `utils` `nvidia-driver-cuda`, `xorg-x11-drv-nvidia-cuda`;
//! `meta` `nvidia-driver`, `nvidia-open`, `cuda-drivers[-<branch>]`, `xorg-x11-drv-nvidia`;
//! `fabric-manager` `nvidia-fabric-manager`, `nvidia-fabricmanager-<branch>`; `nscq`
//! `libnvidia-nscq[-<branch>]`; the container toolkit's names as above. Their branch is the
//! version's.

use crate::report::stack::{DriverPackage, DriverPackagesInfo};
use crate::report::{Source, SourceStatus};
use crate::root::Root;

/// The source's name.
pub const SOURCE: &str = "packages";

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// A status file larger than this is not read (a distribution's is under 2 MB).
const DPKG_STATUS_LIMIT: u64 = 64 << 20;
const RPM_DB: &str = "/var/lib/rpm";
/// rpm's `SQLite` databases, in the order rpm's own `%_dbpath` looks.
const RPM_SQLITE: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// rpm package names and their layer.
const RPM_EXACT: &[(&str, &str)] = &[
    ("nvidia-driver", "meta"),
    ("nvidia-open", "meta"),
    ("xorg-x11-drv-nvidia", "meta"),
    ("nvidia-driver-libs", "userspace"),
    ("nvidia-driver-cuda-libs", "userspace"),
    ("nvidia-driver-NVML", "userspace"),
    ("xorg-x11-drv-nvidia-libs", "userspace"),
    ("xorg-x11-drv-nvidia-cuda-libs", "userspace"),
    ("nvidia-driver-cuda", "utils"),
    ("xorg-x11-drv-nvidia-cuda", "utils"),
    ("dkms-nvidia", "module"),
    ("akmod-nvidia", "module"),
    ("xorg-x11-drv-nvidia-kmodsrc", "module"),
    ("nvidia-fabric-manager", "fabric-manager"),
];

/// rpm name prefixes and their layer (after [`RPM_EXACT`]).
const RPM_PREFIXES: &[(&str, &str)] = &[
    ("kmod-nvidia", "module"),
    ("nvidia-kmod", "module"),
    ("nvidia-fabricmanager", "fabric-manager"),
    ("nvidia-fabric-manager-", "fabric-manager"),
    ("cuda-drivers-fabricmanager", "fabric-manager"),
    ("libnvidia-nscq", "nscq"),
    ("cuda-drivers", "meta"),
];

/// Name prefixes and their layer, longest first where they overlap.
const LAYERS: &[(&str, &str)] = &[
    ("linux-modules-nvidia-", "module"),
    ("linux-objects-nvidia-", "module"),
    ("nvidia-dkms-", "module"),
    ("nvidia-kernel-source-", "module"),
    ("nvidia-kernel-common-", "module"),
    ("libnvidia-compute-", "userspace"),
    ("nvidia-utils-", "utils"),
    ("nvidia-driver-", "meta"),
    ("nvidia-headless-", "meta"),
    ("cuda-drivers-fabricmanager-", "fabric-manager"),
    ("cuda-drivers-", "meta"),
    ("nvidia-fabricmanager-", "fabric-manager"),
    ("libnvidia-nscq-", "nscq"),
];

const EXACT: &[(&str, &str)] = &[
    ("cuda-drivers", "meta"),
    ("nvidia-fabricmanager", "fabric-manager"),
    ("libnvidia-nscq", "nscq"),
    ("nvidia-container-toolkit", "container-toolkit"),
    ("nvidia-container-toolkit-base", "container-toolkit"),
    ("libnvidia-container1", "container-toolkit"),
    ("libnvidia-container-tools", "container-toolkit"),
];

/// The branch in a package name: its first `-`-separated part of three digits after the
/// `nvidia` part (`linux-modules-nvidia-535-server-6.8.0-49-generic` is 535, never 6 or 49).
pub fn branch_in_name(name: &str) -> Option<u32> {
    let at = name.find("nvidia")?;
    name.get(at..)?
        .split('-')
        .find(|p| p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|p| p.parse().ok())
}

/// The upstream part of a Debian version: `1:535.183.01-0ubuntu1` is `535.183.01`.
pub fn upstream(version: &str) -> &str {
    let v = version.split_once(':').map_or(version, |(_, r)| r);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

/// The layer of an NVIDIA driver package, with its branch and flavour; `None` for packages
/// that are not one.
pub fn classify(name: &str, version: &str) -> Option<DriverPackage> {
    let layer = EXACT
        .iter()
        .find(|(n, _)| *n == name)
        .or_else(|| LAYERS.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, l)| *l)
        .or_else(|| debian_tesla(name));
    let branch = branch_in_name(name);
    let layer = match (layer, branch) {
        (Some(l), _) => l,
        (None, Some(_)) if name.starts_with("nvidia-") || name.starts_with("libnvidia-") => "other",
        _ => return None,
    };
    // Unversioned names (`nvidia-fabricmanager`, `libnvidia-nscq`, `cuda-drivers`) take
    // their branch from the version; the toolkit has none.
    let branch = branch.or_else(|| {
        (layer != "container-toolkit")
            .then(|| crate::detect::driver::branch_of(upstream(version)))
            .flatten()
    });
    Some(DriverPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        layer: layer.to_owned(),
        branch,
        server: name.split('-').any(|p| p == "server"),
    })
}

/// The layer of an rpm package (`name`, `[epoch:]version-release`), `None` for packages that
/// are not one of the driver's.
pub fn classify_rpm(name: &str, version: &str) -> Option<DriverPackage> {
    let layer = RPM_EXACT
        .iter()
        .chain(EXACT.iter().filter(|(_, l)| *l == "container-toolkit"))
        .find(|(n, _)| *n == name)
        .or_else(|| RPM_PREFIXES.iter().find(|(p, _)| name.starts_with(p)))
        .map(|(_, l)| *l)?;
    let branch = (layer != "container-toolkit")
        .then(|| {
            branch_in_name(name).or_else(|| crate::detect::driver::branch_of(upstream(version)))
        })
        .flatten();
    Some(DriverPackage {
        name: name.to_owned(),
        version: version.to_owned(),
        layer: layer.to_owned(),
        branch,
        server: false,
    })
}

/// The driver packages of an `rpmdb.sqlite` image, in row order, each name once (a multilib
/// `i686` twin is the same layer).
pub fn parse_rpmdb(
    src: &dyn super::rpmdb::Bytes,
) -> Result<Vec<DriverPackage>, super::rpmdb::Error> {
    let rows = super::rpmdb::packages(src, &|n| classify_rpm(n, "").is_some())?;
    let mut out: Vec<DriverPackage> = Vec::new();
    for r in rows {
        let version = match r.epoch {
            Some(e) => format!("{e}:{}-{}", r.version, r.release),
            None => format!("{}-{}", r.version, r.release),
        };
        if !out.iter().any(|p| p.name == r.name)
            && let Some(p) = classify_rpm(&r.name, &version)
        {
            out.push(p);
        }
    }
    Ok(out)
}

fn toolkit_version(packages: &[DriverPackage]) -> Option<String> {
    packages
        .iter()
        .find(|p| p.name == "nvidia-container-toolkit")
        .or_else(|| {
            packages
                .iter()
                .find(|p| p.name == "nvidia-container-toolkit-base")
        })
        .map(|p| upstream(&p.version).to_owned())
}

/// Reads the first `SQLite` rpm database under `root`; `None` when there is none.
fn read_rpm(root: &Root) -> Option<(Option<DriverPackagesInfo>, Source)> {
    let path = RPM_SQLITE.iter().find(|p| root.exists(p))?;
    let file = match root.open_for_reads(path) {
        Ok(file) => file,
        Err(e) => {
            let status = if e.kind() == std::io::ErrorKind::PermissionDenied {
                SourceStatus::Denied
            } else {
                SourceStatus::Failed
            };
            let detail = format!("{path}: {}", crate::root::describe_error(&e));
            return Some((None, Source::new(SOURCE, status, detail)));
        }
    };
    Some(match parse_rpmdb(&file) {
        Ok(packages) => {
            let wal = format!("{path}-wal");
            let pending = root.metadata(&wal).is_ok_and(|m| !m.is_empty());
            let detail = format!(
                "{path}: {} NVIDIA driver package(s) installed{}",
                packages.len(),
                if pending {
                    " (its write-ahead log is not empty: changes since the last checkpoint are not read)"
                } else {
                    ""
                }
            );
            let container_toolkit = toolkit_version(&packages);
            (
                Some(DriverPackagesInfo {
                    manager: "rpm".to_owned(),
                    packages,
                    container_toolkit,
                }),
                Source::new(SOURCE, SourceStatus::Ok, detail),
            )
        }
        Err(why) => (
            None,
            Source::new(
                SOURCE,
                SourceStatus::Failed,
                format!("{path}: not read as an rpm database: {why}"),
            ),
        ),
    })
}

/// Debian's own data-center driver (`nvidia-tesla-<branch>-kernel-dkms`,
/// `libnvidia-tesla-<branch>-cuda1`, `nvidia-tesla-<branch>-driver`, ...): the layer from the
/// suffix.
fn debian_tesla(name: &str) -> Option<&'static str> {
    if !name.contains("nvidia-tesla-") {
        return None;
    }
    Some(
        if name.ends_with("-kernel-dkms") || name.ends_with("-kernel-support") {
            "module"
        } else if name.ends_with("-cuda1") || name.ends_with("-nvidia-ml1") {
            "userspace"
        } else if name.ends_with("-smi") {
            "utils"
        } else if name.ends_with("-driver") {
            "meta"
        } else {
            return None;
        },
    )
}

/// Whether [`classify`] could take `name`: every driver layer's name holds `nvidia` or starts
/// `cuda-drivers` (`LAYERS`, `EXACT`, Debian's `nvidia-tesla-*`, the `nvidia-`/`libnvidia-`
/// rest), so the thousands of other packages in a status file are passed over without it.
fn may_be_driver_package(name: &str) -> bool {
    name.contains("nvidia") || name.starts_with("cuda-drivers")
}

/// The installed NVIDIA driver packages of a dpkg `status` file, in its order.
pub fn parse_dpkg_status(status: &str) -> Vec<DriverPackage> {
    let mut parser = DpkgStatus::default();
    parser.lines(status);
    parser.finish()
}

/// [`parse_dpkg_status`] reading every line of the file: what it must equal.
#[doc(hidden)]
pub fn parse_dpkg_status_every_line(status: &str) -> Vec<DriverPackage> {
    let mut parser = DpkgStatus {
        every_line: true,
        ..DpkgStatus::default()
    };
    parser.lines(status);
    parser.finish()
}

/// A dpkg `status` file read a piece of whole lines at a time ([`Root::read_lines_chunked`]):
/// the file is 0.5–1 MB on a distribution, and read whole it was faulted in and zeroed for
/// one pass. One pass over the lines: most of the file is other packages' descriptions, so
/// only a stanza's `Package`, `Version` and `Status` lines are looked at, and a stanza whose
/// name is no driver layer (that depends on the name alone) costs nothing more.
#[derive(Default)]
struct DpkgStatus {
    out: Vec<DriverPackage>,
    /// The current stanza's name, when it is a driver layer's (the others are not kept).
    pkg: Option<String>,
    version: Option<String>,
    state: Option<String>,
    /// The last piece ended inside a line (one longer than the reader's buffer, handed over
    /// in parts): the next piece's first line is the rest of it, not a line of its own.
    in_line: bool,
    /// Read every line, without the search for the next `Package` line (the reference the
    /// tests and the `dpkg_status` fuzz target hold the search to).
    every_line: bool,
}

impl DpkgStatus {
    /// Reads `text`, whole lines (a last line without its newline counts as one, unless more
    /// of it follows in the next piece).
    fn lines(&mut self, text: &str) {
        let mut rest = text;
        if std::mem::replace(&mut self.in_line, !text.ends_with('\n')) {
            // The rest of a line longer than a piece: no field dpkg writes is that long.
            rest = crate::search::find_byte(b'\n', rest.as_bytes())
                .and_then(|i| rest.get(i + 1..))
                .unwrap_or("");
        }
        // Outside a driver stanza (nothing kept), every line but a `Package` line leaves the
        // parser as it is: a blank line ends a stanza that holds nothing, and the other fields
        // are read only in a driver stanza. So the search goes straight to the next line that
        // starts `Package:`, over the other packages' descriptions (most of a status file's
        // ~20,000 lines) in one pass, and only a driver stanza is read line by line.
        let package_line = crate::search::Finder::new(b"\nPackage:");
        while !rest.is_empty() {
            if !self.every_line && self.holds_nothing() && !rest.starts_with("Package:") {
                match package_line.find(rest.as_bytes()) {
                    Some(i) => rest = rest.get(i + 1..).unwrap_or(""),
                    None => break,
                }
                continue;
            }
            let (line, next) = crate::search::find_byte(b'\n', rest.as_bytes())
                .and_then(|i| Some((rest.get(..i)?, rest.get(i + 1..)?)))
                .unwrap_or((rest, ""));
            rest = next;
            self.line(line);
        }
    }

    /// No field of the current stanza is kept: only a `Package` line can change that.
    fn holds_nothing(&self) -> bool {
        self.pkg.is_none() && self.version.is_none() && self.state.is_none()
    }

    fn line(&mut self, line: &str) {
        // dpkg's own parser ends a stanza at a line of ASCII white space (`c_isspace`).
        if line.trim_ascii().is_empty() {
            self.end_stanza();
            return;
        }
        let value = |name: &str| {
            line.strip_prefix(name)
                .and_then(|v| v.strip_prefix(':'))
                .map(str::trim)
        };
        if let Some(p) = value("Package") {
            let wanted = may_be_driver_package(p) && classify(p, "").is_some();
            self.pkg = wanted.then(|| p.to_owned());
        } else if self.pkg.is_none() {
        } else if let Some(v) = value("Version") {
            self.version = Some(v.to_owned());
        } else if let Some(v) = value("Status") {
            self.state = Some(v.to_owned());
        }
    }

    fn end_stanza(&mut self) {
        let (pkg, version, state) = (self.pkg.take(), self.version.take(), self.state.take());
        // `Status: want flag status`; only `installed` counts (`half-configured` and the rest
        // are broken installs, `config-files` a removed package).
        if let (Some(pkg), Some(version)) = (pkg, version)
            && state.as_deref().and_then(|s| s.split_whitespace().nth(2)) == Some("installed")
            && let Some(p) = classify(&pkg, &version)
        {
            self.out.push(p);
        }
    }

    fn finish(mut self) -> Vec<DriverPackage> {
        self.end_stanza();
        self.out
    }
}

/// Reads the package database under `root`.
pub fn read(root: &Root) -> (Option<DriverPackagesInfo>, Source) {
    let mut parser = DpkgStatus::default();
    let read = root
        .read_lines_chunked(DPKG_STATUS, DPKG_STATUS_LIMIT, |piece| parser.lines(piece))
        .and_then(|cut| {
            if cut {
                Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("over the {DPKG_STATUS_LIMIT}-byte limit"),
                ))
            } else {
                Ok(())
            }
        });
    match read {
        Ok(()) => {
            let packages = parser.finish();
            let container_toolkit = toolkit_version(&packages);
            let detail = format!(
                "{DPKG_STATUS}: {} NVIDIA driver package(s) installed",
                packages.len()
            );
            (
                Some(DriverPackagesInfo {
                    manager: "dpkg".to_owned(),
                    packages,
                    container_toolkit,
                }),
                Source::new(SOURCE, SourceStatus::Ok, detail),
            )
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(rpm) = read_rpm(root) {
                return rpm;
            }
            let source = if root.exists(RPM_DB) {
                Source::new(
                    SOURCE,
                    SourceStatus::Skipped,
                    format!(
                        "no {DPKG_STATUS}; the rpm database in {RPM_DB} is not in the SQLite form read here (rpmdb.sqlite)"
                    ),
                )
            } else {
                Source::new(
                    SOURCE,
                    SourceStatus::Absent,
                    format!("{DPKG_STATUS}: no such file"),
                )
            };
            (None, source)
        }
        Err(e) => (
            None,
            Source::new(
                SOURCE,
                if e.kind() == std::io::ErrorKind::PermissionDenied {
                    SourceStatus::Denied
                } else {
                    SourceStatus::Failed
                },
                format!("{DPKG_STATUS}: {}", crate::root::describe_error(&e)),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_branch_and_layer_from_real_names() {
        let c = |n: &str, v: &str| {
            let p = classify(n, v).unwrap();
            (p.layer, p.branch, p.server)
        };
        assert_eq!(
            c(
                "linux-modules-nvidia-535-server-6.8.0-49-generic",
                "6.8.0-49.49~22.04.1+1"
            ),
            ("module".to_owned(), Some(535), true)
        );
        assert_eq!(
            c(
                "linux-modules-nvidia-550-generic-hwe-22.04",
                "6.8.0-49.49~22.04.1+1"
            ),
            ("module".to_owned(), Some(550), false)
        );
        assert_eq!(
            c("libnvidia-compute-570", "570.195.03-0ubuntu0.24.04.1"),
            ("userspace".to_owned(), Some(570), false)
        );
        assert_eq!(
            c(
                "nvidia-driver-550-server-open",
                "550.127.05-0ubuntu0.22.04.1"
            ),
            ("meta".to_owned(), Some(550), true)
        );
        assert_eq!(
            c("nvidia-fabricmanager", "1:580.65.06-1"),
            ("fabric-manager".to_owned(), Some(580), false)
        );
        assert_eq!(
            c(
                "nvidia-firmware-550-550.127.05",
                "550.127.05-0ubuntu0.24.04.1"
            ),
            ("other".to_owned(), Some(550), false)
        );
        assert_eq!(
            c("nvidia-container-toolkit", "1.17.8-1"),
            ("container-toolkit".to_owned(), None, false)
        );
        // Debian's names for the data-center driver.
        assert_eq!(
            c("nvidia-tesla-535-kernel-dkms", "535.216.01-1~deb12u1"),
            ("module".to_owned(), Some(535), false)
        );
        assert_eq!(
            c("libnvidia-tesla-535-cuda1", "535.216.01-1~deb12u1"),
            ("userspace".to_owned(), Some(535), false)
        );
        assert_eq!(
            c("nvidia-tesla-535-driver", "535.216.01-1~deb12u1"),
            ("meta".to_owned(), Some(535), false)
        );
        assert!(classify("nvidia-prime", "0.8.17.1").is_none());
        assert!(classify("libc6", "2.39-0ubuntu8.3").is_none());
        assert_eq!(upstream("1:580.65.06-1"), "580.65.06");
        assert_eq!(upstream("1.13.5-1"), "1.13.5");
        assert_eq!(upstream("535.183.01"), "535.183.01");
    }

    /// The real rpm database of the fixture rpm-split-branch-550-560 (scripts/rpmdb/gen-rpmdb.sh).
    const ROCKY9: &[u8] = include_bytes!("../../../scripts/rpmdb/rocky9-nvidia.sqlite");

    #[test]
    fn packages_from_a_real_rpmdb_sqlite() {
        let p = parse_rpmdb(&ROCKY9).unwrap();
        let got: Vec<(&str, &str, &str, Option<u32>)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str(), p.layer.as_str(), p.branch))
            .collect();
        // Row order is rpm's install order (the transaction's), not asserted; the set is.
        let want = [
            ("kmod-nvidia-open-dkms", "3:560.35.03-1.el9", "module", Some(560)),
            ("nvidia-kmod-common", "3:560.35.03-1.el9", "module", Some(560)),
            ("nvidia-driver", "3:550.127.05-1.el9", "meta", Some(550)),
            ("nvidia-driver-libs", "3:550.127.05-1.el9", "userspace", Some(550)),
            ("nvidia-driver-cuda", "3:550.127.05-1.el9", "utils", Some(550)),
            ("nvidia-driver-cuda-libs", "3:550.127.05-1.el9", "userspace", Some(550)),
            ("nvidia-fabric-manager", "550.127.05-1", "fabric-manager", Some(550)),
            ("libnvidia-nscq-550", "550.127.05-1", "nscq", Some(550)),
            ("nvidia-container-toolkit", "1.13.5-1", "container-toolkit", None),
            ("nvidia-container-toolkit-base", "1.13.5-1", "container-toolkit", None),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for w in want {
            assert!(got.contains(&w), "{w:?} not in {got:?}");
        }
        assert_eq!(toolkit_version(&p).as_deref(), Some("1.13.5"));
        // bash and dkms are in the database, and not driver packages.
        let all = super::super::rpmdb::packages(&ROCKY9, &|_| true).unwrap();
        assert_eq!(all.len(), 12);
        let bash = all.iter().find(|p| p.name == "bash").unwrap();
        assert_eq!(
            (bash.version.as_str(), bash.release.as_str(), bash.arch.as_str(), bash.epoch),
            ("5.1.8", "9.el9", "x86_64", None)
        );
    }

    #[test]
    fn packages_rpmdb_without_a_name_table_reads_every_row() {
        // The Name table renamed in sqlite_schema: the walk of all of Packages finds the same.
        let mut db = ROCKY9.to_vec();
        let mut renamed = 0;
        while let Some(at) = db.windows(13).position(|w| w == b"tableNameName") {
            db[at + 6] = b'x';
            renamed += 1;
        }
        assert!(renamed > 0);
        let mut slow = parse_rpmdb(&&db[..]).unwrap();
        let mut fast = parse_rpmdb(&ROCKY9).unwrap();
        slow.sort_by(|a, b| a.name.cmp(&b.name));
        fast.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(slow, fast);
        assert_eq!(fast.len(), 10);
    }

    #[test]
    fn packages_rpmdb_truncated_or_corrupted_never_panics() {
        // Cut anywhere: an error, or packages of the whole file (a cut past the Packages
        // table's pages), never a panic or a package made up.
        let full = parse_rpmdb(&ROCKY9).unwrap();
        let mut refused = 0;
        for len in (0..ROCKY9.len()).step_by(97) {
            match parse_rpmdb(&&ROCKY9[..len]) {
                Ok(p) => assert!(p.iter().all(|p| full.contains(p)), "{len}"),
                Err(_) => refused += 1,
            }
        }
        assert!(refused > 0);
        // One byte changed at a time, over the whole file (every page kind and pointer).
        let mut bad = ROCKY9.to_vec();
        for at in (0..bad.len()).step_by(31) {
            for v in [0x00, 0xff, 0x05] {
                let was = bad[at];
                bad[at] = v;
                let _ = parse_rpmdb(&&bad[..]);
                bad[at] = was;
            }
        }
        // Not a database at all.
        assert!(parse_rpmdb(&&b"\x8e\xad\xe8\x01 an rpm file"[..]).is_err());
    }

    #[test]
    fn packages_rpm_names() {
        let c = |n: &str, v: &str| classify_rpm(n, v).map(|p| (p.layer, p.branch));
        assert_eq!(
            c("kmod-nvidia-550.90.12-4.18.0-553.22.1", "3:550.90.12-3.el8_10"),
            Some(("module".to_owned(), Some(550)))
        );
        assert_eq!(
            c("cuda-drivers-fabricmanager-535", "535.216.01-1"),
            Some(("fabric-manager".to_owned(), Some(535)))
        );
        assert_eq!(
            c("xorg-x11-drv-nvidia-cuda-libs", "3:565.77-1.fc41"),
            Some(("userspace".to_owned(), Some(565)))
        );
        assert_eq!(c("nvidia-settings", "3:550.127.05-1.el9"), None);
        assert_eq!(c("nvidia-persistenced", "3:550.127.05-1.el9"), None);
        assert_eq!(c("kernel-core", "5.14.0-427.42.1.el9_4"), None);
    }

    /// The quick test in front of `classify` passes every name `classify` takes: each table
    /// entry, the Debian Tesla names and the `nvidia-`/`libnvidia-` rest.
    #[test]
    fn packages_quick_name_test_passes_every_driver_name() {
        let names = LAYERS
            .iter()
            .map(|(p, _)| format!("{p}580"))
            .chain(EXACT.iter().map(|(n, _)| (*n).to_owned()))
            .chain(
                [
                    "nvidia-tesla-535-driver",
                    "nvidia-firmware-580-580.65.06",
                    "libnvidia-extra-580",
                ]
                .map(str::to_owned),
            );
        for name in names {
            assert!(classify(&name, "580.65.06-1").is_some(), "{name}");
            assert!(may_be_driver_package(&name), "{name}");
        }
        assert!(!may_be_driver_package("libc6"));
    }

    #[test]
    fn packages_only_installed_stanzas() {
        let status = "Package: libnvidia-compute-550\nStatus: deinstall ok config-files\nVersion: 550.127.05-0ubuntu0.24.04.1\n\nPackage: nvidia-utils-570\nStatus: install ok installed\nPriority: optional\nVersion: 570.195.03-0ubuntu0.24.04.1\nDescription: NVIDIA driver support binaries\n Version: 1.0 in a description is not a field\n\nPackage: libnvidia-compute-570\nStatus: install ok half-configured\nVersion: 570.195.03-0ubuntu0.24.04.1\n";
        let p = parse_dpkg_status(status);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].name, "nvidia-utils-570");
        assert_eq!(p[0].version, "570.195.03-0ubuntu0.24.04.1");
    }

    /// A status file of `count` other packages' stanzas (with a description), and a driver
    /// package's after every `every`-th of them, the first included.
    fn status_file(count: usize, every: usize) -> String {
        use std::fmt::Write as _;
        let mut status = String::new();
        for i in 0..count {
            let _ = write!(
                status,
                "Package: libfoo{i}\nStatus: install ok installed\nVersion: {i}.0-1\nDescription: filler {i}\n a continuation line of the description, as dpkg keeps it\n\n"
            );
            if i % every == 0 {
                let _ = write!(
                    status,
                    "Package: nvidia-utils-{}\nStatus: install ok installed\nVersion: {}.1-1\n\n",
                    500 + i / every,
                    500 + i / every
                );
            }
        }
        status
    }

    /// A distribution-size status file read in pieces (`read`) gives what the whole text
    /// gives, with driver stanzas on both sides of the 64 KiB piece boundaries.
    #[test]
    fn packages_status_read_in_pieces_is_the_whole_texts() {
        let status = status_file(3000, 250);
        assert!(status.len() > 4 * 65536, "{}", status.len());
        let dir = crate::testutil::Scratch::new("dpkg");
        std::fs::create_dir_all(dir.join("var/lib/dpkg")).unwrap();
        std::fs::write(dir.join("var/lib/dpkg/status"), &status).unwrap();
        let (info, source) = read(&Root::at(&dir));
        let whole = parse_dpkg_status(&status);
        assert_eq!(whole.len(), 12);
        assert_eq!(info.unwrap().packages, whole);
        assert_eq!(source.detail, "/var/lib/dpkg/status: 12 NVIDIA driver package(s) installed");
    }

    /// Going straight to the next `Package` line outside a driver stanza finds what reading
    /// every line finds, on well-formed files and on the odd ones: fields before any
    /// `Package`, a `Package` line inside a driver stanza, a stanza with no blank line after
    /// it, white-space lines, CRLF, `Package:` at the very start and end, `Package-Type`.
    #[test]
    fn packages_search_for_package_lines_reads_what_every_line_reads() {
        let cases = [
            "Version: 1\nStatus: install ok installed\nPackage: nvidia-utils-570\n\n",
            "Package: nvidia-utils-570\nVersion: 570.1-1\nPackage: libfoo\nPackage: nvidia-utils-580\nStatus: install ok installed\n\n",
            "Package: nvidia-utils-570\nVersion: 570.1-1\nPackage: libfoo\n \t\nPackage: nvidia-utils-580\nStatus: install ok installed\n\n",
            "Package: libfoo\nVersion: 1\nPackage: nvidia-utils-570\nStatus: install ok installed\nVersion: 570.1-1\n",
            "Package: nvidia-utils-570\r\nStatus: install ok installed\r\nVersion: 570.1-1\r\n\r\nPackage: libfoo\r\n",
            "Package-Type: nvidia-utils-570\nPackage: libfoo\nDescription: x\n Package: nvidia-utils-570\nPackage: nvidia-utils-570",
            "\n\nPackage: cuda-drivers-570\nStatus: install ok installed\nVersion: 570.1-1\n\n\n",
            "",
        ];
        for case in cases {
            assert_eq!(
                parse_dpkg_status(case),
                parse_dpkg_status_every_line(case),
                "{case:?}"
            );
        }
        let many = status_file(500, 50);
        let found = parse_dpkg_status(&many);
        assert_eq!(found.len(), 10);
        assert_eq!(found, parse_dpkg_status_every_line(&many));
    }

    /// A piece that ends inside a line (a line longer than the reader's buffer): the rest of
    /// that line in the next piece is not read as a line of its own.
    #[test]
    fn packages_the_rest_of_a_cut_line_is_no_field() {
        let mut p = DpkgStatus::default();
        p.lines("Package: nvidia-utils-570\nStatus: install ok installed\nDescription: long");
        p.lines(" text\nVersion: 570.1-1\n\n");
        p.lines("Package: libfoo\nDescription: cut here ");
        p.lines("Package: nvidia-utils-580\nVersion: 580.1-1\nStatus: install ok installed\n");
        let out = p.finish();
        let names: Vec<&str> = out.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["nvidia-utils-570"]);
    }
}
