//! The library inventory: the `libcuda`, `libnvidia-ml` and `libcudart` files a program on this
//! machine would load, found the way glibc's `ld.so` finds them, plus the copies in the other
//! places CUDA libraries live. Files are read with [`super::elfinfo`] (a few bounded reads),
//! never loaded.
//!
//! # The loader's order (glibc `elf/dl-load.c` `_dl_map_object`, for a program without
//! `DT_RPATH`/`DT_RUNPATH`)
//! 1. `LD_LIBRARY_PATH` (`:`- or `;`-separated; empty entries skipped);
//! 2. `/etc/ld.so.cache` (parsed by [`super::ldcache`]), the first entry for the SONAME with this
//!    architecture's flags; a listed file that cannot be opened falls through;
//! 3. the default directories: the multiarch `/lib/<triplet>`, `/usr/lib/<triplet>` and
//!    `/lib64`, `/usr/lib64`, `/lib`, `/usr/lib` (a superset of what any one distribution's
//!    `ld.so` uses).
//!
//! A file of the wrong ELF class or machine is skipped and the search goes on, as `ld.so` does.
//! The SONAMEs resolved are `libcuda.so.1`, `libnvidia-ml.so.1`, `libcudart.so.13`,
//! `libcudart.so.12` and `libcudart.so.11.0`; the one found is `selected`.
//!
//! # Other places (listed, selected only when the loader also finds them)
//! `/usr/local/nvidia/lib64` and `/lib` (nvidia-docker v1 and GKE images), `/usr/lib/wsl/lib`
//! and the WSL driver store `/usr/lib/wsl/drivers/*`, `/usr/local/cuda*/compat`
//! (`cuda-compat-X-Y`), `$CUDA_HOME`/`$CUDA_PATH` and `/usr/local/cuda*` (`lib64`, `compat`,
//! `targets/<arch>-linux/lib` and their `stubs`), `$CONDA_PREFIX/lib`, and CUDA runtime wheels in
//! Python environments (`nvidia/cuda_runtime/lib` for CUDA 12 and earlier, `nvidia/cu13/lib` for
//! CUDA 13; the version from the `nvidia_cuda_runtime*-<version>.dist-info` directory beside).
//!
//! # Versions and stubs
//! The driver libraries' version is the file name's suffix (`libcuda.so.580.65.06`); a
//! forward-compatibility `libcuda` also carries its CUDA version and accepted driver branches in
//! `.note.cuda.fwd_compatibility` (so does the driver's own: a `libcuda` of the loaded module's
//! version is the driver's, [`settle_compat`]). A file is a *stub* when it lies in a `stubs`
//! directory, or when it is a `libcuda`/`libnvidia-ml` without a driver version in its real name, smaller than
//! 4 MiB and outside `/usr/lib/wsl` (real driver libraries are versioned files of 2–100 MB; the
//! classic Docker-build trick copies the toolkit's `stubs/libcuda.so` to `libcuda.so.1`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::Env;
use crate::report::{CpuArch, CudaVersion, FwdCompat, Library, Source, SourceStatus, Version};
use crate::root::{DIR_LIMIT, Root};

use super::elfinfo;
use super::ldcache::{self, Cache};

/// `libcuda.so.1`'s kind.
pub const KIND_DRIVER: &str = "cuda-driver";
/// A forward-compatibility `libcuda`.
pub const KIND_COMPAT: &str = "cuda-compat";
/// `libnvidia-ml`.
pub const KIND_NVML: &str = "nvml";
/// `libcudart`.
pub const KIND_RUNTIME: &str = "cuda-runtime";

/// SONAMEs resolved through the loader's order, with their kind.
pub const LOADER_SONAMES: &[&str] = &[
    "libcuda.so.1",
    "libnvidia-ml.so.1",
    "libcudart.so.13",
    "libcudart.so.12",
    "libcudart.so.11.0",
];

const PREFIXES: &[&str] = &["libcuda.so", "libnvidia-ml.so", "libcudart.so"];

/// A directory entry named as a library of [`PREFIXES`]: only those names of a listing are
/// kept (a toolkit's `lib64` has a hundred or more others), with no string made for the rest.
fn is_library_name(name: &[u8]) -> bool {
    PREFIXES.iter().any(|p| name.starts_with(p.as_bytes()))
}

/// The most libraries listed.
const MAX_LIBRARIES: usize = 64;
/// A stub is smaller than this.
const STUB_MAX_SIZE: u64 = 4 << 20;
/// The SONAME of GPU-Manager's CUDA hook (tkestack/vcuda-controller builds
/// `libcuda-control.so`; gpu-manager's volume manager clones it over the driver's SONAME files).
pub const VCUDA_HOOK_SONAME: &str = "libcuda-control.so";

const LD_SO_CACHE: &str = "/etc/ld.so.cache";

/// The default directories of the machine's `ld.so`.
pub fn default_dirs(arch: CpuArch) -> Vec<String> {
    let t = arch.triplet();
    vec![
        format!("/lib/{t}"),
        format!("/usr/lib/{t}"),
        "/lib64".to_owned(),
        "/usr/lib64".to_owned(),
        "/lib".to_owned(),
        "/usr/lib".to_owned(),
    ]
}

/// What the inventory found.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    /// Selected libraries first (in [`LOADER_SONAMES`] order), then the others.
    pub libraries: Vec<Library>,
    /// `ld-so-cache` and `library-inventory`.
    pub sources: Vec<Source>,
}

/// A file as found: the machine path and the real (symlink-free) machine path.
struct Located {
    found_as: String,
    path: String,
    size: u64,
}

/// True when an error means "not there" for the dynamic loader too: nothing at the path, a
/// path through a non-directory or a symlink loop, a name too long, or no permission (the
/// loader, running as this user, skips the path likewise). Anything else (out of file
/// descriptors, an I/O error) leaves the path unknown.
fn loader_skips(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    e.kind() == std::io::ErrorKind::NotFound
        || e.kind() == std::io::ErrorKind::PermissionDenied
        || Errno::from_io_error(e).is_some_and(|n| {
            [Errno::NOTDIR, Errno::LOOP, Errno::NAMETOOLONG, Errno::NOENT].contains(&n)
        })
}

/// A directory whose files are being added: resolved at most once for all of them (not
/// walked again from `/` for each file), and only where the kernel cannot name a file
/// ([`Root::metadata_and_path`]: no `/proc`).
struct ListedDir<'a> {
    dir: &'a str,
    real: std::cell::OnceCell<Option<PathBuf>>,
}

impl<'a> ListedDir<'a> {
    fn new(dir: &'a str) -> Self {
        Self {
            dir,
            real: std::cell::OnceCell::new(),
        }
    }

    /// The directory's host path, every link resolved; `None` where that failed.
    fn real(&self, root: &Root) -> Option<&Path> {
        self.real
            .get_or_init(|| real_path(root, self.dir).ok())
            .as_deref()
    }
}

/// The file at `path` when it is a regular file; `Ok(None)` when it is not there for the
/// loader ([`loader_skips`]); `Err` when it could not be read.
/// `dir`: the directory `path` lies in (a directory listing's files share it), so that where
/// the kernel cannot name the file only its own name is walked.
fn locate(
    root: &Root,
    path: &str,
    dir: Option<&ListedDir<'_>>,
) -> std::io::Result<Option<Located>> {
    let skip = |e: std::io::Error| if loader_skips(&e) { Ok(None) } else { Err(e) };
    // Most candidates are missing: one lookup says so, and names the file where it is there.
    let (meta, named) = match root.metadata_and_path(path) {
        Ok(found) => found,
        Err(e) => return skip(e),
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let resolved = match named {
        Some(host) => Ok(host),
        None => match dir.and_then(|d| d.real(root)) {
            Some(d) => root.resolve_in(d, file_name(path), path),
            None => real_path(root, path),
        },
    };
    let host = match resolved {
        Ok(h) => h,
        Err(e) => return skip(e),
    };
    let real = if root.is_host() {
        host.to_string_lossy().into_owned()
    } else {
        let Ok(rel) = host.strip_prefix(root.base()) else {
            return Ok(None);
        };
        format!("/{}", rel.to_string_lossy())
    };
    Ok(Some(Located {
        found_as: path.to_owned(),
        path: real,
        size: meta.len(),
    }))
}

/// `path`'s host path with every symlink resolved: `realpath` on the host, the walk inside
/// the root ([`Root::resolve`]) for a fixture or a bundle.
fn real_path(root: &Root, path: &str) -> std::io::Result<PathBuf> {
    if root.is_host() {
        std::fs::canonicalize(path)
    } else {
        root.resolve(path)
    }
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The numeric suffix after `prefix.` in a file name (`libcuda.so.580.65.06` → `580.65.06`).
fn suffix<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let s = name.strip_prefix(prefix)?.strip_prefix('.')?;
    (!s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(s)
}

/// A driver version from a driver library's real name: a suffix with at least two parts and a
/// branch of 100 or more (`libcuda.so.1.1` on WSL has none).
pub fn driver_version_from_name(name: &str) -> Option<Version> {
    let s = PREFIXES.iter().take(2).find_map(|p| suffix(name, p))?;
    let v: Version = s.parse().ok()?;
    (v.major() >= 100 && v.parts().len() >= 2).then_some(v)
}

/// A runtime version from `libcudart.so.12.4.127`: three parts or more.
pub fn runtime_version_from_name(name: &str) -> Option<Version> {
    let v: Version = suffix(name, "libcudart.so")?.parse().ok()?;
    (v.parts().len() >= 3).then_some(v)
}

fn kind_of(name: &str) -> Option<&'static str> {
    if name.starts_with("libcudart.so") {
        Some(KIND_RUNTIME)
    } else if name.starts_with("libnvidia-ml.so") {
        Some(KIND_NVML)
    } else if name.starts_with("libcuda.so") {
        Some(KIND_DRIVER)
    } else {
        None
    }
}

struct Collector<'a> {
    root: &'a Root,
    libs: Vec<Library>,
    /// Real path → index in `libs`.
    seen: BTreeMap<String, usize>,
    skipped: Vec<String>,
    /// Paths that could not be read (not merely absent): the inventory is incomplete.
    unreadable: Vec<String>,
    /// Python site dir → runtime wheel versions by major.
    wheel_versions: BTreeMap<String, BTreeMap<String, String>>,
    /// The loader's default directories that exist here (looked up once, not per SONAME).
    default_dirs: Vec<String>,
    /// The machine's architecture: its loader's directories, cache entries and ELF machine.
    arch: CpuArch,
    /// The directories listed so far, by identity.
    listed: std::collections::BTreeSet<(u64, u64)>,
}

impl Collector<'_> {
    /// Reads one file; `None` when it is not there. Returns the index in `libs`.
    fn add(&mut self, path: &str, found_by: &str, wheel_site: Option<&str>) -> Option<usize> {
        self.add_in(path, None, found_by, wheel_site)
    }

    /// [`Self::add`] for a file of `dir`, a directory already resolved.
    fn add_in(
        &mut self,
        path: &str,
        dir: Option<&ListedDir<'_>>,
        found_by: &str,
        wheel_site: Option<&str>,
    ) -> Option<usize> {
        let loc = match locate(self.root, path, dir) {
            Ok(loc) => loc?,
            Err(e) => {
                self.unreadable.push(format!("{path}: {e}"));
                return None;
            }
        };
        if let Some(&i) = self.seen.get(&loc.path) {
            return Some(i);
        }
        if self.libs.len() >= MAX_LIBRARIES {
            return None;
        }
        let real_name = file_name(&loc.path).to_owned();
        let kind = kind_of(file_name(&loc.found_as)).or_else(|| kind_of(&real_name))?;
        let elf = self
            .root
            .open_elf(path)
            .map_err(elfinfo::ElfError::from)
            .and_then(|(file, size)| elfinfo::read_file(file, size));
        let mut lib = Library {
            path: loc.path.clone(),
            kind: kind.to_owned(),
            found_as: (loc.found_as != loc.path).then(|| loc.found_as.clone()),
            found_by: Some(found_by.to_owned()),
            ..Library::default()
        };
        match &elf {
            Ok(info) => {
                lib.soname.clone_from(&info.soname);
                if info.machine != self.arch.elf_machine() || !info.is_64 {
                    lib.problem = Some(format!(
                        "ELF for another machine (e_machine {}, {}-bit)",
                        info.machine,
                        if info.is_64 { 64 } else { 32 }
                    ));
                } else if !info.problems.is_empty() {
                    lib.problem = Some(info.problems.join("; "));
                }
                if let Some(n) = &info.fwd_compat {
                    lib.fwd_compat = Some(FwdCompat {
                        cuda_version: n.cuda_version,
                        driver_branches: n.drivers.clone(),
                        devices: n.devices.clone(),
                    });
                    lib.cuda_version.clone_from(&n.cuda_version);
                }
            }
            Err(e) => lib.problem = Some(format!("not a readable ELF library: {e}")),
        }
        if kind == KIND_RUNTIME {
            lib.version = runtime_version_from_name(&real_name).or_else(|| {
                // A wheel's libcudart.so.12 has no full version: the dist-info has it.
                let major = suffix(&real_name, "libcudart.so")?.split('.').next()?;
                self.wheel_versions
                    .get(wheel_site?)?
                    .get(major)?
                    .parse()
                    .ok()
            });
            lib.cuda_version = lib.version.as_ref().and_then(CudaVersion::of_dotted);
        } else {
            lib.version = driver_version_from_name(&real_name);
            let in_compat_dir = loc.path.contains("/compat/") || found_by == "cuda-compat-dir";
            if kind == KIND_DRIVER && (lib.fwd_compat.is_some() || in_compat_dir) {
                KIND_COMPAT.clone_into(&mut lib.kind);
            }
            let in_wsl = loc.path.starts_with("/usr/lib/wsl/");
            // GPU-Manager's vcuda hook, copied over `libcuda.so.1` and `libnvidia-ml.so.1` in
            // its driver volume: small and unversioned like a stub, but it forwards every call
            // to the driver's `libcuda.so.<version>` beside it (issue 23).
            let vcuda_hook = lib.soname.as_deref() == Some(VCUDA_HOOK_SONAME);
            lib.stub = lib.version.is_none() && !in_wsl && !vcuda_hook && loc.size < STUB_MAX_SIZE;
        }
        if loc.path.split('/').any(|c| c == "stubs") {
            lib.stub = true;
        }
        let i = self.libs.len();
        self.seen.insert(loc.path, i);
        self.libs.push(lib);
        Some(i)
    }

    /// The places the loader does not search but CUDA libraries live in: the CUDA toolkit's
    /// directories, a conda environment, Python environments' runtime wheels.
    fn other_places(&mut self, env: &Env) {
        let root = self.root;
        for (dir, how) in cuda_dirs(root, env, self.arch) {
            self.scan_dir(&dir, how, None);
        }
        if let Some(p) = env.get("CONDA_PREFIX").filter(|p| p.starts_with('/')) {
            self.scan_dir(&format!("{}/lib", p.trim_end_matches('/')), "conda", None);
        }
        for site in python_sites(root, env) {
            // A site that does not exist has no wheel directories either (one that cannot be
            // listed may still have them: they are looked for).
            let names = match root.read_dir_names_where(&site, DIR_LIMIT, &|n| {
                n.starts_with(WHEEL_RUNTIME.as_bytes())
            }) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                names => names.unwrap_or_default(),
            };
            let versions = wheel_versions(names);
            if !versions.is_empty() {
                self.wheel_versions.insert(site.clone(), versions);
            }
            for sub in [
                "nvidia/cuda_runtime/lib",
                "nvidia/cu13/lib",
                "nvidia/cu12/lib",
            ] {
                self.scan_dir(&format!("{site}/{sub}"), "python-wheel", Some(&site));
            }
        }
    }

    /// Every library file in `dir`.
    fn scan_dir(&mut self, dir: &str, found_by: &str, wheel_site: Option<&str>) {
        // A directory is reachable by several names (a toolkit's `lib64` links to
        // `targets/<arch>-linux/lib`; `LD_LIBRARY_PATH` names the loader's own directories; a
        // toolkit's names are told apart before, in `cuda_dirs`): a directory already listed
        // is not listed again (its files are in the inventory under the name that listed it
        // first).
        let listed = &mut self.listed;
        let names =
            match self
                .root
                .read_dir_names_unless(dir, |id| !listed.insert(id), &is_library_name)
            {
                Ok(Some(names)) => names,
                Ok(None) => return,
                Err(e) => {
                    if !loader_skips(&e) {
                        self.unreadable.push(format!("{dir}: {e}"));
                    }
                    return;
                }
            };
        let listed_dir = ListedDir::new(dir);
        for name in names {
            self.add_in(&join(dir, &name), Some(&listed_dir), found_by, wheel_site);
        }
    }

    /// `ld.so`'s search for one SONAME: the index of the library it would load.
    fn resolve(
        &mut self,
        soname: &str,
        ld_path: &[String],
        cache: Option<&Cache>,
    ) -> Option<usize> {
        let mut candidates: Vec<(String, &str)> = ld_path
            .iter()
            .map(|d| (join(d, soname), "ld-library-path"))
            .collect();
        if let Some(p) = cache.and_then(|c| c.lookup(soname, ldcache::flags_for(self.arch))) {
            candidates.push((p.to_owned(), "ld-so-cache"));
        }
        candidates.extend(
            self.default_dirs
                .iter()
                .map(|d| (join(d, soname), "default-dir")),
        );
        for (path, how) in candidates {
            let Some(i) = self.add(&path, how, None) else {
                continue;
            };
            let usable = self.libs.get(i).is_some_and(|l| {
                !l.problem.as_deref().is_some_and(|p| {
                    p.starts_with("not a readable") || p.starts_with("ELF for another")
                })
            });
            if usable {
                if let Some(l) = self.libs.get_mut(i) {
                    l.selected = true;
                    // The loader opened it under this name.
                    if l.path != path {
                        l.found_as = Some(path.clone());
                    }
                    l.found_by = Some(how.to_owned());
                }
                return Some(i);
            }
            self.skipped.push(format!("{path} (unusable)"));
        }
        None
    }
}

/// The directories named by `CUDA_HOME`, `CUDA_PATH` and `/usr/local/cuda*`.
fn cuda_dirs(root: &Root, env: &Env, arch: CpuArch) -> Vec<(String, &'static str)> {
    let mut homes: Vec<(String, &'static str)> = ["CUDA_HOME", "CUDA_PATH"]
        .iter()
        .filter_map(|v| env.get(v))
        .filter(|h| h.starts_with('/'))
        .map(|h| (h.trim_end_matches('/').to_owned(), "cuda-home"))
        .collect();
    if let Ok(names) =
        root.read_dir_names_where("/usr/local", DIR_LIMIT, &|n| n.starts_with(b"cuda"))
    {
        homes.extend(
            names
                .into_iter()
                .take(32)
                .map(|n| (format!("/usr/local/{n}"), "cuda-toolkit")),
        );
    }
    // A toolkit is reached by several names (`$CUDA_HOME`, `/usr/local/cuda`, `cuda-13` and
    // `cuda-13.0`, links through /etc/alternatives): its directories are looked at under the
    // first. Each later name's directories would only be opened to be found listed already.
    let mut seen = std::collections::BTreeSet::new();
    homes.retain(|(home, _)| {
        root.metadata(home)
            .map_or(true, |m| seen.insert(m.identity()))
    });
    let t = arch.cuda_target();
    let mut out = Vec::new();
    for (home, how) in homes {
        out.push((
            format!("{home}/compat"),
            if how == "cuda-home" {
                how
            } else {
                "cuda-compat-dir"
            },
        ));
        for sub in [
            "lib64",
            "lib",
            "lib64/stubs",
            &format!("targets/{t}/lib"),
            &format!("targets/{t}/lib/stubs"),
        ] {
            out.push((format!("{home}/{sub}"), how));
        }
    }
    out
}

/// Python `site-packages`/`dist-packages` directories.
fn python_sites(root: &Root, env: &Env) -> Vec<String> {
    let mut prefixes: Vec<String> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .iter()
        .filter_map(|v| env.get(v))
        .filter(|p| p.starts_with('/'))
        .map(|p| p.trim_end_matches('/').to_owned())
        .collect();
    prefixes.extend(["/usr/local", "/usr", "/opt/conda"].map(str::to_owned));
    if let Some(home) = env.get("HOME").filter(|h| h.starts_with('/')) {
        prefixes.push(format!("{}/.local", home.trim_end_matches('/')));
    }
    let mut sites = vec!["/usr/lib/python3/dist-packages".to_owned()];
    for p in prefixes {
        let lib = format!("{p}/lib");
        let Ok(names) = root.read_dir_names_where(&lib, DIR_LIMIT, &|n| n.starts_with(b"python3"))
        else {
            continue;
        };
        for n in names.into_iter().take(8) {
            for sub in ["site-packages", "dist-packages"] {
                sites.push(format!("{lib}/{n}/{sub}"));
            }
        }
    }
    // `/usr/lib/python3/dist-packages` comes first and again from `/usr/lib`'s listing: each
    // site once, in the order found (a consecutive-only `dedup` missed that one).
    let mut unique: Vec<String> = Vec::with_capacity(sites.len());
    for s in sites {
        if !unique.contains(&s) && unique.len() < 32 {
            unique.push(s);
        }
    }
    unique
}

/// The start of the CUDA runtime wheels' `.dist-info` directory names.
const WHEEL_RUNTIME: &str = "nvidia_cuda_runtime";

/// `nvidia_cuda_runtime_cu12-12.4.127.dist-info` → (`12`, `12.4.127`), from the names in a
/// site directory.
fn wheel_versions(names: Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for n in names {
        let Some(stem) = n
            .strip_prefix(WHEEL_RUNTIME)
            .and_then(|s| s.strip_suffix(".dist-info"))
        else {
            continue;
        };
        let Some((_, version)) = stem.rsplit_once('-') else {
            continue;
        };
        if let Some(major) = version.split('.').next().filter(|m| !m.is_empty()) {
            out.insert(major.to_owned(), version.to_owned());
        }
    }
    out
}

/// Settles a `libcuda`'s kind once the loaded kernel module's version is known: a file taken
/// for a forward-compatibility one (it carries `.note.cuda.fwd_compatibility`, or lies in a
/// `compat` directory) whose version is the module's own is the driver's `libcuda`. The note
/// alone does not tell them apart: the 580 driver's own `libcuda.so.580.159.04` carries it too
/// (seen on a real H200 container, `tests/real/real-h200-580.159.04`), and a cuda-compat
/// package of the running driver's release changes nothing.
pub fn settle_compat(lib: &mut Library, module_version: &Version) {
    if lib.kind == KIND_COMPAT
        && lib
            .version
            .as_ref()
            .is_some_and(|v| v.cmp_numbers(module_version) == std::cmp::Ordering::Equal)
    {
        KIND_DRIVER.clone_into(&mut lib.kind);
    }
}

/// How much of the inventory a run reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the loader's pick for each of [`LOADER_SONAMES`], and the other places.
    All,
    /// What `report.cuda` depends on ([`crate::Options::cuda_only`]): the loader's
    /// `libcuda.so.1` and `libnvidia-ml.so.1`, and WSL's directories (the loader missing them
    /// blocks CUDA). The other places never hold a selected library, and the runtimes only
    /// matter to `check`; on a real H200 container they were most of the API call's system
    /// calls (the CUDA toolkit's directories, resolved file by file).
    Cuda,
}

/// Builds the inventory of a machine of nvprobe's own architecture.
pub fn collect(root: &Root, env: &Env) -> Inventory {
    collect_shared(
        root,
        env,
        &ldcache::Shared::default(),
        CpuArch::own(),
        Scope::All,
    )
}

/// [`collect`] with the run's `/etc/ld.so.cache` (read and parsed once per run), for a
/// machine of architecture `arch` (the model's `platform.arch`), as far as `scope` asks.
pub fn collect_shared(
    root: &Root,
    env: &Env,
    ld_cache: &ldcache::Shared,
    arch: CpuArch,
    scope: Scope,
) -> Inventory {
    let loaded = ld_cache.get(root);
    let mut sources = vec![match loaded {
        Ok(c) => Source::new(
            "ld-so-cache",
            SourceStatus::Ok,
            format!("{LD_SO_CACHE}: {} entries ({} format)", c.len(), c.format),
        ),
        Err((status, detail)) => Source::new("ld-so-cache", *status, detail.clone()),
    }];
    let cache = loaded.as_ref().ok();
    let ld_path: Vec<String> = env
        .get("LD_LIBRARY_PATH")
        .unwrap_or("")
        .split([':', ';'])
        .filter(|d| d.starts_with('/'))
        .take(64)
        .map(str::to_owned)
        .collect();

    let mut c = Collector {
        root,
        libs: Vec::new(),
        seen: BTreeMap::new(),
        skipped: Vec::new(),
        unreadable: Vec::new(),
        wheel_versions: BTreeMap::new(),
        default_dirs: Vec::new(),
        arch,
        listed: std::collections::BTreeSet::new(),
    };
    for d in default_dirs(arch) {
        match root.metadata(&d) {
            Ok(m) if m.is_dir() => c.default_dirs.push(d),
            Ok(_) => {}
            Err(e) if loader_skips(&e) => {}
            Err(e) => c.unreadable.push(format!("{d}: {e}")),
        }
    }
    let mut resolved = Vec::new();
    let sonames = match scope {
        Scope::All => LOADER_SONAMES,
        Scope::Cuda => LOADER_SONAMES.get(..2).unwrap_or(LOADER_SONAMES),
    };
    for soname in sonames {
        match c.resolve(soname, &ld_path, cache) {
            Some(i) => resolved.push(format!(
                "{soname} → {}",
                c.libs.get(i).map_or("?", |l| l.path.as_str())
            )),
            None => resolved.push(format!("{soname}: not found")),
        }
    }
    if scope == Scope::All {
        for dir in ["/usr/local/nvidia/lib64", "/usr/local/nvidia/lib"] {
            c.scan_dir(dir, "nvidia-docker", None);
        }
    }
    c.scan_dir("/usr/lib/wsl/lib", "wsl", None);
    if let Ok(stores) = root.read_dir_names("/usr/lib/wsl/drivers") {
        for s in stores.into_iter().take(64) {
            c.scan_dir(
                &format!("/usr/lib/wsl/drivers/{s}"),
                "wsl-driver-store",
                None,
            );
        }
    }
    if scope == Scope::All {
        c.other_places(env);
    }

    // Selected first, in SONAME order; the rest as found.
    let mut libs = c.libs;
    let rank = |l: &Library| -> usize {
        if l.selected {
            LOADER_SONAMES
                .iter()
                .position(|s| {
                    l.soname.as_deref() == Some(s)
                        || l.found_as.as_deref().is_some_and(|f| file_name(f) == *s)
                })
                .unwrap_or(LOADER_SONAMES.len())
        } else {
            LOADER_SONAMES.len() + 1
        }
    };
    libs.sort_by_key(rank);
    let mut detail = format!(
        "{} librar{} found; {}",
        libs.len(),
        if libs.len() == 1 { "y" } else { "ies" },
        resolved.join(", ")
    );
    if !c.skipped.is_empty() {
        detail.push_str("; skipped: ");
        detail.push_str(&c.skipped.join(", "));
    }
    // A path that could not be read may hold the library the loader would pick: the
    // inventory, and every answer drawn from it, is then incomplete.
    let status = if c.unreadable.is_empty() {
        SourceStatus::Ok
    } else {
        detail.push_str("; could not read: ");
        detail.push_str(
            &c.unreadable
                .iter()
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        );
        SourceStatus::Failed
    };
    sources.push(Source::new("library-inventory", status, detail));
    Inventory {
        libraries: libs,
        sources,
    }
}

/// The library `ld.so` would load for a SONAME.
pub fn selected<'a>(libs: &'a [Library], soname: &str) -> Option<&'a Library> {
    libs.iter().filter(|l| l.selected).find(|l| {
        l.soname.as_deref() == Some(soname)
            || l.found_as
                .as_deref()
                .is_some_and(|f| file_name(f) == soname)
            || file_name(&l.path) == soname
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn machine(name: &str) -> crate::testutil::Scratch {
        crate::testutil::Scratch::new(&format!("libs-{name}"))
    }

    fn put(root: &std::path::Path, path: &str, bytes: &[u8]) {
        let full = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, bytes).unwrap();
    }

    fn link(root: &std::path::Path, path: &str, target: &str) {
        let full = root.join(path.trim_start_matches('/'));
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        symlink(target, full).unwrap();
    }

    #[test]
    fn libs_names() {
        assert_eq!(
            driver_version_from_name("libcuda.so.580.65.06")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("580.65.06")
        );
        assert_eq!(
            driver_version_from_name("libnvidia-ml.so.570.26")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("570.26")
        );
        assert_eq!(driver_version_from_name("libcuda.so.1.1"), None);
        assert_eq!(driver_version_from_name("libcuda.so.1"), None);
        assert_eq!(driver_version_from_name("libcuda.so"), None);
        assert_eq!(
            runtime_version_from_name("libcudart.so.12.4.127")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("12.4.127")
        );
        assert_eq!(runtime_version_from_name("libcudart.so.12"), None);
    }

    /// `LD_LIBRARY_PATH` beats the cache, the cache beats the default directories, a file for
    /// another machine is skipped, and symlinks resolve inside the root.
    #[test]
    fn libs_loader_order() {
        let d = machine("order");
        let lib = elfinfo::build::shared_object("libcuda.so.1", None);
        put(&d, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15", &lib);
        link(
            &d,
            "/usr/lib/x86_64-linux-gnu/libcuda.so.1",
            "libcuda.so.550.54.15",
        );
        put(&d, "/opt/old/libcuda.so.535.104.05", &lib);
        link(
            &d,
            "/opt/old/libcuda.so.1",
            "/opt/old/libcuda.so.535.104.05",
        );
        put(&d, "/opt/bad/libcuda.so.1", b"not elf");
        let root = Root::at(&d);

        let inv = collect(&root, &Env::default());
        let l = selected(&inv.libraries, "libcuda.so.1").unwrap();
        assert_eq!(l.path, "/usr/lib/x86_64-linux-gnu/libcuda.so.550.54.15");
        assert_eq!(l.found_by.as_deref(), Some("default-dir"));
        assert_eq!(
            l.version.as_ref().map(ToString::to_string).as_deref(),
            Some("550.54.15")
        );
        assert!(!l.stub);

        let cache =
            ldcache::build::new_format(&[(0x0303, "libcuda.so.1", "/opt/old/libcuda.so.1")]);
        put(&d, "/etc/ld.so.cache", &cache);
        // A Root stands for one run: it remembers that /etc was missing.
        let root = Root::at(&d);
        let inv = collect(&root, &Env::default());
        let l = selected(&inv.libraries, "libcuda.so.1").unwrap();
        assert_eq!(
            l.version.as_ref().map(ToString::to_string).as_deref(),
            Some("535.104.05")
        );
        assert_eq!(l.found_by.as_deref(), Some("ld-so-cache"));

        let env = Env::from_pairs([("LD_LIBRARY_PATH", "/opt/bad::/usr/lib/x86_64-linux-gnu")]);
        let inv = collect(&root, &env);
        let l = selected(&inv.libraries, "libcuda.so.1").unwrap();
        assert_eq!(
            l.version.as_ref().map(ToString::to_string).as_deref(),
            Some("550.54.15")
        );
        assert_eq!(l.found_by.as_deref(), Some("ld-library-path"));
        assert_eq!(inv.libraries.iter().filter(|l| l.selected).count(), 1);
        let detail = &inv
            .sources
            .iter()
            .find(|s| s.name == "library-inventory")
            .unwrap()
            .detail;
        assert!(detail.contains("/opt/bad/libcuda.so.1"), "{detail}");
    }

    #[test]
    fn libs_stub_compat_and_wheel() {
        let d = machine("kinds");
        let plain = elfinfo::build::shared_object("libcuda.so.1", None);
        let note = r#"{"format":1,"CUDA version":"12.9","driver":[535,550,560,565,570,575],"device":[1,2,7,8,9,10,11,12,13,14]}"#;
        put(
            &d,
            "/usr/local/cuda-12.9/compat/libcuda.so.575.57.08",
            &elfinfo::build::shared_object("libcuda.so.1", Some(note)),
        );
        link(
            &d,
            "/usr/local/cuda-12.9/compat/libcuda.so.1",
            "libcuda.so.575.57.08",
        );
        put(
            &d,
            "/usr/local/cuda-12.9/targets/x86_64-linux/lib/stubs/libcuda.so",
            &plain,
        );
        let site = "/opt/venv/lib/python3.12/site-packages";
        put(
            &d,
            &format!("{site}/nvidia/cuda_runtime/lib/libcudart.so.12"),
            &elfinfo::build::shared_object("libcudart.so.12", None),
        );
        fs::create_dir_all(d.join(format!(
            "{}/nvidia_cuda_runtime_cu12-12.9.79.dist-info",
            &site[1..]
        )))
        .unwrap();
        let root = Root::at(&d);
        let inv = collect(&root, &Env::from_pairs([("VIRTUAL_ENV", "/opt/venv")]));
        let compat = inv
            .libraries
            .iter()
            .find(|l| l.kind == KIND_COMPAT)
            .unwrap();
        assert_eq!(
            compat.version.as_ref().map(ToString::to_string).as_deref(),
            Some("575.57.08")
        );
        assert_eq!(
            compat
                .cuda_version
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("12.9")
        );
        assert_eq!(
            compat
                .fwd_compat
                .as_ref()
                .unwrap()
                .driver_branches
                .as_deref(),
            Some(&[535, 550, 560, 565, 570, 575][..])
        );
        assert!(!compat.selected);
        let stub = inv
            .libraries
            .iter()
            .find(|l| l.path.ends_with("stubs/libcuda.so"))
            .unwrap();
        assert!(stub.stub);
        let rt = inv
            .libraries
            .iter()
            .find(|l| l.kind == KIND_RUNTIME)
            .unwrap();
        assert_eq!(
            rt.version.as_ref().map(ToString::to_string).as_deref(),
            Some("12.9.79")
        );
        assert_eq!(
            rt.cuda_version.as_ref().map(ToString::to_string).as_deref(),
            Some("12.9")
        );
        assert_eq!(rt.found_by.as_deref(), Some("python-wheel"));
    }

    /// A toolkit reached by four names (`$CUDA_HOME`, `/usr/local/cuda` and `cuda-13` through
    /// /etc/alternatives, `cuda-13.0`): its directories are looked at under the first name
    /// only, and its libraries are found once, under that name's `found_by`; a second toolkit
    /// beside it is still looked at.
    #[test]
    fn libs_toolkit_reached_by_several_names_is_looked_at_once() {
        let d = machine("toolkit-names");
        let lib = "/usr/local/cuda-13.0/targets/x86_64-linux/lib";
        put(
            &d,
            &format!("{lib}/libcudart.so.13.0.96"),
            &elfinfo::build::shared_object("libcudart.so.13", None),
        );
        link(&d, "/usr/local/cuda-13.0/lib64", "targets/x86_64-linux/lib");
        link(&d, "/etc/alternatives/cuda", "/usr/local/cuda-13.0");
        link(&d, "/etc/alternatives/cuda-13", "/usr/local/cuda-13.0");
        link(&d, "/usr/local/cuda", "/etc/alternatives/cuda");
        link(&d, "/usr/local/cuda-13", "/etc/alternatives/cuda-13");
        put(
            &d,
            "/usr/local/cuda-12.9/lib64/libcudart.so.12.9.79",
            &elfinfo::build::shared_object("libcudart.so.12", None),
        );
        let root = Root::at(&d);
        let env = Env::from_pairs([("CUDA_HOME", "/usr/local/cuda/")]);
        let homes: std::collections::BTreeSet<String> = cuda_dirs(&root, &env, CpuArch::X86_64)
            .into_iter()
            .filter_map(|(dir, _)| dir.strip_suffix("/compat").map(str::to_owned))
            .collect();
        assert_eq!(
            homes.into_iter().collect::<Vec<_>>(),
            ["/usr/local/cuda", "/usr/local/cuda-12.9"]
        );
        let inv = collect(&root, &env);
        let runtimes: Vec<(&str, Option<&str>)> = inv
            .libraries
            .iter()
            .filter(|l| l.kind == KIND_RUNTIME)
            .map(|l| (l.path.as_str(), l.found_by.as_deref()))
            .collect();
        assert_eq!(
            runtimes,
            [
                (
                    "/usr/local/cuda-13.0/targets/x86_64-linux/lib/libcudart.so.13.0.96",
                    Some("cuda-home")
                ),
                (
                    "/usr/local/cuda-12.9/lib64/libcudart.so.12.9.79",
                    Some("cuda-toolkit")
                ),
            ]
        );
    }

    #[test]
    fn settle_compat_keeps_forward_compat_only_for_another_release() {
        let lib = |version: &str| Library {
            kind: KIND_COMPAT.to_owned(),
            version: version.parse().ok(),
            ..Library::default()
        };
        let module: Version = "580.159.04".parse().unwrap();
        // The driver's own libcuda carries the note too (the real H200): its release is the
        // module's.
        let mut own = lib("580.159.04");
        settle_compat(&mut own, &module);
        assert_eq!(own.kind, KIND_DRIVER);
        // A newer one is forward compatibility; an older one stays compat (and its problem
        // says it is older).
        for v in ["590.44.01", "580.95.05"] {
            let mut other = lib(v);
            settle_compat(&mut other, &module);
            assert_eq!(other.kind, KIND_COMPAT, "{v}");
        }
        // Only a compat libcuda is settled.
        let mut nvml = Library {
            kind: KIND_NVML.to_owned(),
            version: Some(module.clone()),
            ..Library::default()
        };
        settle_compat(&mut nvml, &module);
        assert_eq!(nvml.kind, KIND_NVML);
    }
}
