//! Kernel modules: loaded (`/proc/modules`, `/sys/module/*`) and installed
//! (`/lib/modules/<release>/…`, compressed or not, DKMS or packaged).

use crate::report::{InstalledModule, LoadedModule};
use crate::root::Root;

/// The modules the probe cares about.
pub const WATCHED: &[&str] = &[
    "nvidia",
    "nvidia_uvm",
    "nvidia_modeset",
    "nvidia_drm",
    "nvidia_peermem",
    "nouveau",
];

/// One line of `/proc/modules`: `name size refcount deps state address [(taint)]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcModule {
    /// Module name.
    pub name: String,
    /// State (`Live`, `Loading`, `Unloading`).
    pub state: Option<String>,
    /// Taint flags without parentheses.
    pub taint: Option<String>,
}

/// `/proc/modules`: how many modules it lists, and the lines of the [`WATCHED`] ones. The
/// others are counted, not kept: a host loads a hundred or more, and nothing reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcModules {
    /// The modules listed.
    pub total: usize,
    /// The watched modules' lines, in the file's order.
    pub watched: Vec<ProcModule>,
}

/// Parses `/proc/modules`.
pub fn parse_proc_modules(text: &str) -> ProcModules {
    let mut out = ProcModules::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else {
            continue;
        };
        out.total += 1;
        if !WATCHED.contains(&name) {
            continue;
        }
        // `size refcount deps state address [(taint)]`
        let rest: Vec<&str> = words.collect();
        let state = rest.get(3).map(|s| (*s).to_owned());
        let taint = rest
            .last()
            .filter(|w| w.starts_with('(') && w.ends_with(')') && w.len() > 2)
            .map(|w| w.trim_matches(|c| c == '(' || c == ')').to_owned());
        out.watched.push(ProcModule {
            name: name.to_owned(),
            state,
            taint,
        });
    }
    out
}

/// The module names installed as files: `nvidia.ko`, `nvidia.ko.xz`, `nvidia.ko.zst`,
/// `nvidia.ko.gz` → `nvidia`.
pub fn module_name_of_file(file: &str) -> Option<&str> {
    let stem = file
        .strip_suffix(".ko")
        .or_else(|| file.strip_suffix(".ko.xz"))
        .or_else(|| file.strip_suffix(".ko.zst"))
        .or_else(|| file.strip_suffix(".ko.gz"))?;
    // Module file names may use '-' where the kernel uses '_'. Compared byte by byte, with no
    // copies: a distribution's modules.dep names ~6,000 files, every one of them tested here.
    let same = |w: &str| {
        w.len() == stem.len()
            && w.bytes()
                .zip(stem.bytes())
                .all(|(a, b)| a == b || (matches!(a, b'-' | b'_') && matches!(b, b'-' | b'_')))
    };
    WATCHED.iter().copied().find(|w| same(w))
}

/// The lines of a `modules.dep` that can name a watched module, in file order: every watched
/// name contains `nvidia` or `nouveau` (with `-` or `_`), so only lines holding one of those
/// are looked at. A distribution's modules.dep is ~700 KB and ~6,000 lines: the two names are
/// searched for with `crate::search` (vector speed), and only the lines around a hit are cut
/// out; splitting every line took ~3 ms a run (issue 11), `str::contains` on chunks ~0.5 ms.
pub fn watched_lines(text: &str) -> Vec<&str> {
    use crate::search::Finder;
    let bytes = text.as_bytes();
    let names = [Finder::new(b"nvidia"), Finder::new(b"nouveau")];
    // The next hit of each name at or after `pos`, found again only once `pos` passes it.
    let mut next = [names[0].find(bytes), names[1].find(bytes)];
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        for (hit, name) in next.iter_mut().zip(&names) {
            if hit.is_some_and(|h| h < pos) {
                *hit = bytes
                    .get(pos..)
                    .and_then(|b| name.find(b))
                    .map(|h| h + pos);
            }
        }
        let Some(hit) = next.iter().flatten().min().copied() else {
            break;
        };
        // `pos` is always a line's start, so the line holding `hit` starts after the last
        // newline between them.
        let start = bytes
            .get(pos..hit)
            .and_then(|b| crate::search::rfind_byte(b'\n', b))
            .map_or(pos, |i| pos + i + 1);
        let (end, newline) = bytes
            .get(hit..)
            .and_then(|b| crate::search::find_byte(b'\n', b))
            .map_or((bytes.len(), false), |i| (hit + i, true));
        // As `str::lines`: a line ended by `\r\n` loses the `\r`.
        let cut = if newline && bytes.get(end.wrapping_sub(1)) == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        if let Some(line) = text.get(start..cut) {
            out.push(line);
        }
        pos = end + 1;
    }
    out
}

/// Loaded watched modules, from `/proc/modules` and `/sys/module`. `nvidia_version`: what
/// reading `/sys/module/nvidia/version` gave the driver stage (it is not read again).
pub fn loaded(
    root: &Root,
    proc_modules: Option<&[ProcModule]>,
    nvidia_version: &std::io::Result<crate::root::Text>,
) -> Vec<LoadedModule> {
    let mut out = Vec::new();
    for &name in WATCHED {
        let from_proc = proc_modules.and_then(|m| m.iter().find(|p| p.name == name));
        let sys_dir = format!("/sys/module/{name}");
        // A module with parameters or a version has /sys/module/<name> even when it is
        // built in; `initstate` exists only for loadable modules that are loaded. The version
        // is read once: its open says whether it is there. A module `/proc/modules` does not
        // list and without a directory is neither (one lookup, not one for each file).
        if from_proc.is_none() && name != "nvidia" && !root.exists(&sys_dir) {
            continue;
        }
        let version_read = if name == "nvidia" {
            nvidia_version
                .as_ref()
                .map(|t| t.text.trim().to_owned())
                .map_err(std::io::Error::kind)
        } else {
            root.read_text(&format!("{sys_dir}/version"))
                .map(|t| t.text.trim().to_owned())
                .map_err(|e| e.kind())
        };
        let has_version = version_read != Err(std::io::ErrorKind::NotFound);
        let in_sys = has_version || root.exists(&format!("{sys_dir}/initstate"));
        if from_proc.is_none() && !in_sys {
            continue;
        }
        let version = version_read.ok().filter(|v| !v.is_empty());
        let taint = from_proc.and_then(|p| p.taint.clone()).or_else(|| {
            root.read_text(&format!("{sys_dir}/taint"))
                .ok()
                .map(|t| t.text.trim().to_owned())
                .filter(|t| !t.is_empty())
        });
        out.push(LoadedModule {
            name: name.to_owned(),
            version,
            taint,
        });
    }
    out
}

/// Directories under `/lib/modules/<release>` where NVIDIA modules are installed, searched a
/// few levels deep: DKMS (`updates/dkms`), distribution packages (`kernel/drivers/video`,
/// `kernel/nvidia-580`, `extra`, `misc`, `video`), and nouveau's home.
const SEARCH_DIRS: &[&str] = &[
    "updates",
    "extra",
    "misc",
    "video",
    "kernel/drivers/video",
    "kernel/drivers/gpu/drm/nouveau",
    "weak-updates",
];

/// Installed watched modules for each kernel release (the directory names under
/// `/lib/modules`, listed once by the caller).
pub fn installed(root: &Root, releases: &[String], running: Option<&str>) -> Vec<InstalledModule> {
    let mut out = Vec::new();
    for release in releases {
        let base = format!("/lib/modules/{release}");
        let mut found: Vec<(String, String)> = Vec::new();
        // The paths a directory listing showed as regular files.
        let mut listed_files: Vec<String> = Vec::new();
        // modules.dep is what modprobe uses: every module path, relative to the release dir.
        let _ = root.read_lines_chunked(&format!("{base}/modules.dep"), 8 << 20, |piece| {
            for line in watched_lines(piece) {
                let Some((path, _)) = line.split_once(':') else {
                    continue;
                };
                let file = path.rsplit('/').next().unwrap_or(path);
                if let Some(name) = module_name_of_file(file) {
                    found.push((name.to_owned(), format!("{base}/{path}")));
                }
            }
        });
        for dir in SEARCH_DIRS {
            walk(root, &format!("{base}/{dir}"), 3, &mut found, &mut listed_files);
        }
        // Distribution-built modules (Ubuntu's linux-modules-nvidia-580-*) live in
        // kernel/nvidia-<branch>/: look only there, never through the whole kernel/ tree
        // (thousands of directories on a real machine).
        for dir in root
            .read_dir_names(&format!("{base}/kernel"))
            .unwrap_or_default()
        {
            if dir.starts_with("nvidia") {
                walk(
                    root,
                    &format!("{base}/kernel/{dir}"),
                    2,
                    &mut found,
                    &mut listed_files,
                );
            }
        }
        found.sort_unstable();
        found.dedup();
        for (name, path) in found {
            // Only modules.dep can name a file that is gone (a stale one), and a listed symlink
            // may lead nowhere: those are asked. A file a listing just showed is there.
            if !listed_files.contains(&path) && !root.exists(&path) {
                continue;
            }
            out.push(InstalledModule {
                kernel_release: release.clone(),
                name,
                path,
                running_kernel: running == Some(release.as_str()),
            });
        }
    }
    out
}

/// Adds the module files beneath `dir` (`depth` levels down) to `found`, and to `files` the
/// paths listed as regular files.
fn walk(
    root: &Root,
    dir: &str,
    depth: u32,
    found: &mut Vec<(String, String)>,
    files: &mut Vec<String>,
) {
    use rustix::fs::FileType;
    let Ok(entries) = root.read_dir_entries(dir) else {
        return;
    };
    for (name, kind) in entries {
        let path = format!("{dir}/{name}");
        if let Some(module) = module_name_of_file(&name) {
            if kind == FileType::RegularFile {
                files.push(path.clone());
            }
            found.push((module.to_owned(), path));
        } else if depth > 0 {
            // Never follow a directory symlink: no loops, no escapes. The listing's type is
            // the entry's own; where the filesystem gives none, the entry is asked.
            let is_dir = match kind {
                FileType::Unknown => root.symlink_metadata(&path).is_ok_and(|m| m.is_dir()),
                kind => kind == FileType::Directory,
            };
            if is_dir {
                walk(root, &path, depth - 1, found, files);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`installed`] for every release under `DIR/lib/modules`, as the probe calls it.
    fn installed_under(dir: &std::path::Path, running: Option<&str>) -> Vec<InstalledModule> {
        let root = Root::at(dir);
        let releases = root.read_dir_names("/lib/modules").unwrap();
        installed(&root, &releases, running)
    }

    /// A watched module is listed when `/proc/modules` lists it or `/sys/module` has its version
    /// or `initstate`: loaded as a module, built in with a version, or with only `initstate`;
    /// a directory with neither (a built-in module's parameters) or none at all is not.
    #[test]
    fn modules_loaded_from_proc_and_sysfs() {
        let dir = crate::testutil::Scratch::new("modules-loaded");
        let sys = dir.join("sys/module");
        for (module, file, text) in [
            ("nvidia_uvm", "version", "580.65.06\n"),
            ("nvidia_modeset", "initstate", "live\n"),
            ("nouveau", "parameters/modeset", "-1\n"),
        ] {
            std::fs::create_dir_all(sys.join(module).join(file).parent().unwrap()).unwrap();
            std::fs::write(sys.join(module).join(file), text).unwrap();
        }
        let root = Root::at(&*dir);
        let proc = parse_proc_modules("nvidia_drm 131072 0 - Live 0x0 (POE)\n");
        let nvidia = root.read_text("/sys/module/nvidia/version");
        let loaded = loaded(&root, Some(&proc.watched), &nvidia);
        let names: Vec<(&str, Option<&str>)> = loaded
            .iter()
            .map(|m| (m.name.as_str(), m.version.as_deref()))
            .collect();
        assert_eq!(
            names,
            [
                ("nvidia_uvm", Some("580.65.06")),
                ("nvidia_modeset", None),
                ("nvidia_drm", None),
            ]
        );
        assert_eq!(loaded[2].taint.as_deref(), Some("POE"));
    }

    #[test]
    fn modules_proc_modules_lines() {
        let text = "nvidia_uvm 1437696 0 - Live 0x0000000000000000 (POE)\nnvidia_drm 131072 0 - Live 0x0000000000000000 (POE)\nnvidia 56500224 4 nvidia_uvm,nvidia_modeset, Live 0x0000000000000000 (POE)\nnvme 61440 2 - Live 0xffffffffc0a3c000\n";
        let m = parse_proc_modules(text);
        assert_eq!(m.total, 4);
        // `nvme` is counted, not kept.
        let names: Vec<&str> = m.watched.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["nvidia_uvm", "nvidia_drm", "nvidia"]);
        let nvidia = &m.watched[2];
        assert_eq!(nvidia.state.as_deref(), Some("Live"));
        assert_eq!(nvidia.taint.as_deref(), Some("POE"));
        let untainted = parse_proc_modules("nvidia_peermem 16384 0 - Live 0xffffffffc0a3c000\n");
        assert_eq!(untainted.watched[0].taint, None);
        assert_eq!(parse_proc_modules("\n\n"), super::ProcModules::default());
    }

    /// A distribution-size modules.dep (read in pieces): the modules it lists in an odd place
    /// are found wherever they fall, a chunk boundary included, and only if the file exists.
    #[test]
    fn modules_installed_from_a_large_modules_dep() {
        use std::fmt::Write as _;
        let dir = crate::testutil::Scratch::new("moddep");
        let base = dir.join("lib/modules/6.8.0-49-generic");
        std::fs::create_dir_all(base.join("kernel/odd")).unwrap();
        let line = |name: &str| format!("kernel/odd/{name}.ko.zst: kernel/odd/nvidia.ko.zst\n");
        let mut dep = String::new();
        let mut straddled = false;
        for i in 0..9000 {
            // nvidia's line straddles the reader's first 64 KiB boundary.
            if !straddled && dep.len() + line("nvidia").len() > 65_536 {
                assert!(dep.len() < 65_536);
                dep.push_str(&line("nvidia"));
                straddled = true;
            }
            if i == 4500 {
                dep.push_str(&line("nvidia-uvm"));
            }
            let _ = writeln!(
                dep,
                "kernel/drivers/net/m{i}.ko.zst: kernel/lib/dep{i}.ko.zst"
            );
        }
        for name in ["nvidia", "nvidia-uvm"] {
            std::fs::write(base.join(format!("kernel/odd/{name}.ko.zst")), "").unwrap();
        }
        assert!(dep.len() > 3 * 65_536, "{}", dep.len());
        std::fs::write(base.join("modules.dep"), &dep).unwrap();
        let list = installed_under(&dir, Some("6.8.0-49-generic"));
        let names: Vec<&str> = list.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["nvidia", "nvidia_uvm"], "{list:?}");
        assert!(
            list.iter()
                .all(|m| m.running_kernel && m.path.contains("/kernel/odd/"))
        );
    }

    #[test]
    fn modules_dep_lines_with_watched_names() {
        let dep = "kernel/fs/btrfs/btrfs.ko.zst: kernel/lib/raid6.ko.zst\n\
                   updates/dkms/nvidia-drm.ko.zst: updates/dkms/nvidia-modeset.ko.zst updates/dkms/nvidia.ko.zst\n\
                   kernel/drivers/gpu/drm/nouveau/nouveau.ko.zst: kernel/drivers/gpu/drm/drm.ko.zst\n\
                   kernel/drivers/video/fbdev/nvidiafb/nvidiafb.ko.zst:\n\
                   updates/dkms/nvidia.ko.zst:";
        assert_eq!(
            watched_lines(dep),
            vec![
                "updates/dkms/nvidia-drm.ko.zst: updates/dkms/nvidia-modeset.ko.zst updates/dkms/nvidia.ko.zst",
                "kernel/drivers/gpu/drm/nouveau/nouveau.ko.zst: kernel/drivers/gpu/drm/drm.ko.zst",
                "kernel/drivers/video/fbdev/nvidiafb/nvidiafb.ko.zst:",
                "updates/dkms/nvidia.ko.zst:",
            ]
        );
        assert!(watched_lines("").is_empty());
        assert_eq!(watched_lines("nvidia"), vec!["nvidia"]);
    }

    /// The chunked scan gives exactly the lines a plain line-by-line filter gives, for texts
    /// whose lines (short, long, empty, CRLF, multibyte, watched or not) fall on and across
    /// the 4 KiB chunk boundaries.
    #[test]
    fn modules_dep_chunked_scan_equals_line_filter() {
        let pieces = [
            "nvidia",
            "nouveau",
            "nvid",
            "ia",
            "kernel/drivers/net/e1000e.ko.zst",
            ": ",
            "é",
            "\u{1F600}",
            "\r",
            "\n",
            "\n",
            "\n",
        ];
        let mut rng = crate::testutil::XorShift(0x9E37_79B9_7F4A_7C15);
        for case in 0..300 {
            let mut text = String::new();
            let target = rng.below(20_000);
            while text.len() < target {
                let long = rng.below(50) == 0;
                let piece = pieces[rng.below(pieces.len())];
                let times = if long { 800 } else { 1 };
                for _ in 0..times {
                    text.push_str(piece);
                }
            }
            let naive: Vec<&str> = text
                .lines()
                .filter(|l| l.contains("nvidia") || l.contains("nouveau"))
                .collect();
            assert_eq!(watched_lines(&text), naive, "case {case}");
        }
    }

    #[test]
    fn modules_file_names() {
        assert_eq!(module_name_of_file("nvidia.ko"), Some("nvidia"));
        assert_eq!(module_name_of_file("nvidia.ko.zst"), Some("nvidia"));
        assert_eq!(module_name_of_file("nvidia-uvm.ko.xz"), Some("nvidia_uvm"));
        assert_eq!(module_name_of_file("nouveau.ko"), Some("nouveau"));
        assert_eq!(module_name_of_file("nvidia.ko.bak"), None);
        assert_eq!(module_name_of_file("nvme.ko"), None);
        assert_eq!(module_name_of_file("nvidia_drm.ko.gz"), Some("nvidia_drm"));
        assert_eq!(
            module_name_of_file("nvidia-peermem.ko"),
            Some("nvidia_peermem")
        );
        assert_eq!(module_name_of_file("nvidia-uvmx.ko"), None);
        assert_eq!(module_name_of_file("nvidia.uvm.ko"), None);
        assert_eq!(module_name_of_file(".ko"), None);
    }

    /// An empty file at `path`, its directories made first.
    fn file(path: &std::path::Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn modules_distribution_builds_in_kernel_nvidia_dir() {
        let dir = crate::testutil::Scratch::new("mods");
        let base = dir.join("lib/modules/6.8.0-45-generic");
        file(&base.join("kernel/nvidia-580/nvidia.ko"));
        // A module with a watched name deep in the ordinary kernel tree is not searched for
        // (only modules.dep would list it): the walk stays out of kernel/drivers/*.
        file(&base.join("kernel/drivers/net/x/nvidia.ko"));
        let found = installed_under(&dir, Some("6.8.0-45-generic"));
        let paths: Vec<&str> = found.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            ["/lib/modules/6.8.0-45-generic/kernel/nvidia-580/nvidia.ko"]
        );
        assert!(found.iter().all(|m| m.running_kernel && m.name == "nvidia"));
    }

    /// What the walk reports from a listing without asking each file again: a module file
    /// listed (also in a nested directory) is installed; a stale modules.dep line and a listed
    /// symlink that leads nowhere are not; a symlinked directory is never followed.
    #[test]
    fn modules_installed_from_listings_and_a_stale_dep() {
        use std::os::unix::fs::symlink;
        let dir = crate::testutil::Scratch::new("mods-listed");
        let base = dir.join("lib/modules/6.8.0-49-generic");
        file(&base.join("updates/dkms/nvidia.ko.zst"));
        file(&base.join("updates/dkms/nested/nvidia-uvm.ko"));
        symlink("gone.ko", base.join("updates/dkms/nvidia-drm.ko")).unwrap();
        file(&dir.join("elsewhere/nvidia-modeset.ko"));
        symlink("../../../../elsewhere", base.join("updates/linked")).unwrap();
        std::fs::write(
            base.join("modules.dep"),
            "updates/dkms/nvidia.ko.zst:\nextra/nvidia-peermem.ko:\n",
        )
        .unwrap();
        let found = installed_under(&dir, None);
        let paths: Vec<&str> = found.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/lib/modules/6.8.0-49-generic/updates/dkms/nvidia.ko.zst",
                "/lib/modules/6.8.0-49-generic/updates/dkms/nested/nvidia-uvm.ko",
            ]
        );
    }
}
