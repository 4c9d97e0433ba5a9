//! `nvprobe check --python PATH`: will this Python environment's CUDA frameworks run here?
//!
//! PATH is a virtual environment (its `pyvenv.cfg` and `lib/python3.*/site-packages`), a
//! `site-packages` (or Debian `dist-packages`) directory, or an interpreter (`bin/python3`,
//! whose prefix is the directory above `bin/`; it is never run). Only these are read, each
//! with a size limit and none through a symlink that leaves the directory:
//! - the names in `site-packages` (the `*.dist-info` directories: name and version, local tag
//!   such as `+cu124` included);
//! - a framework's `METADATA` (its `Requires-Dist`: the `nvidia-*` CUDA wheels it needs) and
//!   `RECORD` (the files it installed: its CUDA libraries);
//! - `torch/version.py` (`cuda = '12.4'`, or `None` for a CPU-only build).
//!
//! The frameworks: `torch`, `jax` (`jaxlib` with its `jax-cudaNN-plugin` / `-pjrt` plugins),
//! `cupy-cudaNNx`, `tensorflow`, `onnxruntime-gpu`, `vllm`, `paddlepaddle-gpu`. Each one's
//! CUDA libraries get the verdict `check --binary` gives (`super::binary::check`): the worst
//! of its libraries'. A build without CUDA (torch `+cpu`, jax without a CUDA plugin) is
//! `cpu-only`: it runs, but not on a GPU, which is never "satisfied" for a CUDA question.
//!
//! A conda environment can carry its own forward-compatibility libcuda: conda-forge's
//! `cuda-compat` (`cuda-compat-impl`) installs `PREFIX/cuda-compat/libcuda.so.<driver>`, and
//! its activation script links it into `PREFIX/lib`, "so they are on the default library
//! search path when the environment is active" (conda-forge/cuda-compat-feedstock
//! `recipe/activate.sh`). No `PyPI` wheel ships one (`pip index versions nvidia-cuda-compat`,
//! `-cu12`, `-cu13`, `cuda-compat`: none). Its note is judged with the machine's own
//! forward-compatibility rules ([`super::compat_problem`]): accepted, the frameworks are judged
//! against its CUDA version; rejected, every CUDA framework fails (803 or 804, or the
//! activation undoes the links); older than the driver, the activation removes the links and
//! the system's libcuda is used.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::binary::{self, Here};
use super::{Machine, NO_CUDA_CODE, NOT_SATISFIED, SATISFIED, UNKNOWN};
use crate::codes::{FORWARD_COMPAT_ACTIVE, FORWARD_COMPAT_UNSUPPORTED};
use crate::cudabin::Deadline;
use crate::report::{
    BinaryPart, CheckItem, Finding, FwdCompat, Library, OrUnknown, PythonFramework, Severity,
    Version,
};

/// A framework build without CUDA (exit 1: nothing here runs on a GPU).
pub(super) const CPU_ONLY: &str = "cpu-only";

/// Entries of one `site-packages` directory read at most.
const MAX_ENTRIES: usize = 200_000;
/// Bytes of a `METADATA` read at most (its headers come first; the description follows).
const MAX_METADATA: u64 = 1 << 20;
/// Bytes of a `RECORD` read at most (torch's is about 2 MB).
const MAX_RECORD: u64 = 16 << 20;
/// Bytes of `torch/version.py` read at most.
const MAX_VERSION_PY: u64 = 64 << 10;
/// Libraries checked per framework at most.
const MAX_LIBRARIES: usize = 64;

/// One installed distribution (a `*.dist-info` directory).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Dist {
    /// Normalised (PEP 503): lower case, runs of `-_.` as `-`.
    name: String,
    version: String,
    /// The `.dist-info` directory.
    dir: PathBuf,
}

/// A framework found, and what its verdict is computed from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Framework {
    /// What the JSON lists.
    info: PythonFramework,
    /// The libraries to check (inside the environment).
    libraries: Vec<PathBuf>,
    /// A build without CUDA: why.
    cpu_only: Option<String>,
    /// What could not be read or does not add up: the verdict is at best unknown.
    problems: Vec<String>,
}

/// A Python environment as found, before any verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PythonEnv {
    /// The path given.
    pub path: PathBuf,
    /// The `site-packages` directories read.
    pub site_packages: Vec<PathBuf>,
    frameworks: Vec<Framework>,
    /// The environment's own forward-compatibility libcuda (conda-forge `cuda-compat`).
    compat: Option<EnvCompat>,
    /// The `nvidia-*` distributions installed (cupy's NVRTC is one, required by no one).
    dists: Vec<Dist>,
    /// What could not be read.
    problems: Vec<String>,
}

/// A cuda-compat libcuda inside the environment: `PREFIX/cuda-compat/libcuda.so.<driver>`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct EnvCompat {
    path: PathBuf,
    /// From the file name (`libcuda.so.575.57.08`).
    version: Option<Version>,
    /// Its `.note.cuda.fwd_compatibility`; `Err` says why it could not be read.
    note: Result<FwdCompat, String>,
    /// The conda package that installed it (`conda-meta/cuda-compat-impl-*.json`), if listed.
    package: Option<String>,
}

/// Entries of `PREFIX/cuda-compat` and `PREFIX/conda-meta` read at most.
const MAX_COMPAT_ENTRIES: usize = 4096;

/// The environment's own cuda-compat libcuda, when it has one.
fn env_compat(prefix: &Path) -> Option<EnvCompat> {
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|e| {
                e.take(MAX_COMPAT_ENTRIES)
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable();
        v
    };
    let dir = prefix.join("cuda-compat");
    let (file, version) = names(&dir).into_iter().find_map(|n| {
        let v = super::libs::driver_version_from_name(&n)?;
        n.starts_with("libcuda.so.").then_some((n, v))
    })?;
    let note = match inside(&dir, &file) {
        Err(e) => Err(e),
        Ok(path) => match super::elfinfo::read(&path) {
            Err(e) => Err(format!("{}: {e}", path.display())),
            Ok(info) => info
                .fwd_compat
                .map(|n| FwdCompat {
                    cuda_version: n.cuda_version,
                    driver_branches: n.drivers,
                    devices: n.devices,
                })
                .ok_or_else(|| {
                    format!(
                        "{}: no {} note",
                        path.display(),
                        super::elfinfo::FWD_COMPAT_SECTION
                    )
                }),
        },
    };
    let package = names(&prefix.join("conda-meta")).into_iter().find_map(|n| {
        n.strip_prefix("cuda-compat-impl-")?;
        n.strip_suffix(".json").map(str::to_owned)
    });
    Some(EnvCompat {
        path: dir.join(file),
        version: Some(version),
        note,
        package,
    })
}

impl PythonEnv {
    /// Every library a verdict will read (for the sandbox and the runtime wheels' look-up).
    pub fn libraries(&self) -> Vec<PathBuf> {
        self.frameworks
            .iter()
            .flat_map(|f| f.libraries.iter().cloned())
            .collect()
    }
}

/// PEP 503 normalisation.
fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// `torch-2.5.1+cu124.dist-info` → (`torch`, `2.5.1+cu124`).
fn dist_info_name(file: &str) -> Option<(String, String)> {
    let stem = file.strip_suffix(".dist-info")?;
    let (name, version) = stem.split_once('-')?;
    (!name.is_empty() && !version.is_empty()).then(|| (normalise(name), version.to_owned()))
}

/// Reads `rel` under `dir`, at most `limit` bytes; `Err` says why not. A symlink is followed
/// only when its target stays inside `dir`. The file is opened as every file the probe reads
/// ([`crate::root::open_regular`]: `O_NONBLOCK`, and refused by `fstat` unless regular), so a
/// FIFO swapped in after [`inside`]'s check cannot block the open.
fn read_in(dir: &Path, rel: &str, limit: u64) -> Result<(Vec<u8>, bool), String> {
    let path = inside(dir, rel)?;
    let (file, _) =
        crate::root::open_regular(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut buf = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let cut = buf.len() as u64 > limit;
    buf.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok((buf, cut))
}

/// `dir/rel` when it (after symlinks) is a regular file inside `dir`.
fn inside(dir: &Path, rel: &str) -> Result<PathBuf, String> {
    if rel.split('/').any(|c| c == ".." || c.is_empty()) || rel.starts_with('/') {
        return Err(format!("{rel}: a path outside the environment"));
    }
    let path = dir.join(rel);
    let meta = fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.file_type().is_symlink() || !meta.is_file() {
        let (Ok(real), Ok(base)) = (fs::canonicalize(&path), fs::canonicalize(dir)) else {
            return Err(format!("{}: a broken link", path.display()));
        };
        if !real.starts_with(&base) {
            return Err(format!("{}: a link out of the environment", path.display()));
        }
        if !real.is_file() {
            return Err(format!("{}: not a file", path.display()));
        }
    }
    Ok(path)
}

/// The `site-packages` directories of PATH.
fn site_dirs(path: &Path) -> Result<Vec<PathBuf>, String> {
    // An interpreter: `PREFIX/bin/python3` (the path as given, not followed: a venv's
    // interpreter is a link to the base one, whose prefix is not the venv).
    fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let interpreter = !path.is_dir();
    let prefix = if interpreter {
        path.parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .ok_or_else(|| format!("{}: no prefix above the interpreter", path.display()))?
    } else {
        path.to_path_buf()
    };
    let mut found = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        let mut versions: Vec<PathBuf> = entries
            .take(256)
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect();
        versions.sort();
        for v in versions {
            for name in ["site-packages", "dist-packages"] {
                let dir = v.join(name);
                // lib64 is often a link to lib: one directory, read once.
                let canon = fs::canonicalize(&dir).ok();
                if dir.is_dir()
                    && !found
                        .iter()
                        .any(|d: &PathBuf| fs::canonicalize(d).ok() == canon)
                {
                    found.push(dir);
                }
            }
        }
    }
    if found.is_empty() && !interpreter {
        // A site-packages directory itself.
        found.push(prefix);
    }
    if found.is_empty() {
        return Err(format!(
            "{}: no lib/python3.*/site-packages beside this interpreter",
            path.display()
        ));
    }
    Ok(found)
}

/// The `*.dist-info` directories of `site`, or why the listing is incomplete.
fn dists(site: &Path, deadline: Option<Deadline>) -> (Vec<Dist>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let entries = match fs::read_dir(site) {
        Ok(e) => e,
        Err(e) => return (out, vec![format!("{}: {e}", site.display())]),
    };
    for (n, entry) in entries.enumerate() {
        if n >= MAX_ENTRIES {
            problems.push(format!(
                "{}: more than {MAX_ENTRIES} entries, the rest not read",
                site.display()
            ));
            break;
        }
        if n % 1024 == 0 && deadline.is_some_and(|d| d.passed()) {
            problems.push(format!(
                "{}: not listed to the end before the deadline",
                site.display()
            ));
            break;
        }
        let Ok(entry) = entry else { continue };
        let file = entry.file_name().to_string_lossy().into_owned();
        if let Some((name, version)) = dist_info_name(&file) {
            out.push(Dist {
                name,
                version,
                dir: site.join(&file),
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, problems)
}

/// The `Requires-Dist` of a `METADATA` that apply on this machine (no extra, a
/// `platform_machine` marker that names this one): normalised names.
fn requires_dist(metadata: &str) -> Vec<String> {
    let arch = std::env::consts::ARCH;
    metadata
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.strip_prefix("Requires-Dist:"))
        .filter_map(|r| {
            let (req, marker) = r.split_once(';').unwrap_or((r, ""));
            if marker.contains("extra ==") || marker.contains("extra==") {
                return None;
            }
            if marker.contains("platform_machine") && !marker.contains(arch) {
                return None;
            }
            if marker.contains("platform_system") && !marker.contains("Linux") {
                return None;
            }
            let end = req
                .trim()
                .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .unwrap_or(req.trim().len());
            Some(normalise(&req.trim()[..end]))
        })
        .collect()
}

/// The files a `RECORD` lists (`path,sha256=...,size`).
fn record_paths(record: &str) -> Vec<String> {
    record
        .lines()
        .filter_map(|l| {
            // Paths with commas are quoted (csv); they are no CUDA library anyway.
            let path = l.split(',').next()?;
            (!path.is_empty() && !path.starts_with('"')).then(|| path.to_owned())
        })
        .collect()
}

fn is_shared_lib(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    Path::new(file)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("so"))
        || file.contains(".so.")
}

/// What `torch/version.py` says of CUDA.
#[derive(Debug, PartialEq, Eq)]
enum PyCuda {
    /// `cuda = '12.4'` or `cuda: Optional[str] = '12.4'`.
    Version(String),
    /// `cuda: Optional[str] = None`: a build without CUDA.
    NoCuda,
}

/// The `cuda` line of `torch/version.py`; `None` when it has none.
fn torch_version_py_cuda(text: &str) -> Option<PyCuda> {
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cuda") else {
            continue;
        };
        if !rest.starts_with([' ', ':', '=']) {
            continue;
        }
        let value = rest.split_once('=')?.1.trim();
        if value == "None" {
            return Some(PyCuda::NoCuda);
        }
        let v = value.trim_matches(|c| c == '\'' || c == '"');
        return Some(PyCuda::Version(v.to_owned()));
    }
    None
}

/// `+cu124` → `12.4`, `+cu130` → `13.0`; `+cpu` → `Err(())`.
fn local_tag_cuda(version: &str) -> Option<Result<String, ()>> {
    let local = version.split_once('+')?.1;
    if local == "cpu" || local.starts_with("rocm") || local.starts_with("xpu") {
        return Some(Err(()));
    }
    let digits = local.strip_prefix("cu")?;
    if digits.len() < 3 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = digits.split_at(digits.len() - 1);
    Some(Ok(format!("{major}.{minor}")))
}

/// What one framework's `.dist-info` says: its `Requires-Dist` and `RECORD` files.
fn read_dist(site: &Path, d: &Dist, problems: &mut Vec<String>) -> (Vec<String>, Vec<String>) {
    let rel = |f: &str| {
        format!(
            "{}/{f}",
            d.dir.file_name().unwrap_or_default().to_string_lossy()
        )
    };
    let requires = match read_in(site, &rel("METADATA"), MAX_METADATA) {
        Ok((bytes, _)) => requires_dist(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    let files = match read_in(site, &rel("RECORD"), MAX_RECORD) {
        Ok((_, true)) => {
            problems.push(format!(
                "{}: longer than {MAX_RECORD} bytes, not read to the end",
                rel("RECORD")
            ));
            Vec::new()
        }
        Ok((bytes, false)) => record_paths(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    (requires, files)
}

/// Finds the CUDA frameworks of the environment at `path`.
///
/// # Errors
/// A usage message when `path` is not an environment, `site-packages` or interpreter.
pub fn inspect(path: &Path, deadline: Option<Deadline>) -> Result<PythonEnv, String> {
    let sites = site_dirs(path)?;
    let prefix = if path.is_dir() {
        Some(path)
    } else {
        path.parent().and_then(Path::parent)
    };
    let mut env = PythonEnv {
        path: path.to_path_buf(),
        site_packages: sites.clone(),
        frameworks: Vec::new(),
        compat: prefix.and_then(env_compat),
        dists: Vec::new(),
        problems: Vec::new(),
    };
    for site in &sites {
        let (all, problems) = dists(site, deadline);
        env.problems.extend(problems);
        frameworks_in(site, &all, &mut env.frameworks);
        env.dists
            .extend(all.into_iter().filter(|d| d.name.starts_with("nvidia-")));
    }
    // `include-system-site-packages = true`: the base interpreter's site-packages come after
    // the environment's on `sys.path`, so a framework there is imported unless the
    // environment has its own.
    if let Some(prefix) = prefix {
        match base_sites(prefix) {
            Ok(base) => {
                for site in base {
                    let (all, problems) = dists(&site, deadline);
                    env.problems.extend(problems);
                    let mut found = Vec::new();
                    frameworks_in(&site, &all, &mut found);
                    env.dists
                        .extend(all.into_iter().filter(|d| d.name.starts_with("nvidia-")));
                    for mut f in found {
                        if env.frameworks.iter().any(|e| e.info.name == f.info.name) {
                            continue;
                        }
                        f.info.from_base = true;
                        env.frameworks.push(f);
                    }
                    env.site_packages.push(site);
                }
            }
            Err(e) => env.problems.push(e),
        }
    }
    Ok(env)
}

/// Bytes of `pyvenv.cfg` read at most.
const MAX_PYVENV_CFG: u64 = 64 << 10;

/// The base interpreter's `site-packages` of a virtual environment whose `pyvenv.cfg` says
/// `include-system-site-packages = true` (empty otherwise, or without a `pyvenv.cfg`): from
/// `home =` (the base interpreter's directory, `PREFIX/bin`), `PREFIX/lib/python3.X/
/// site-packages` of the `version` it names, and Debian's `dist-packages`. `Err` when the
/// file says so but cannot be followed (a relative or missing `home`).
fn base_sites(prefix: &Path) -> Result<Vec<PathBuf>, String> {
    let Ok((bytes, _)) = read_in(prefix, "pyvenv.cfg", MAX_PYVENV_CFG) else {
        return Ok(Vec::new());
    };
    // site.py: `key = value` lines, the key stripped and lower-cased.
    let text = String::from_utf8_lossy(&bytes);
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().to_owned())
        })
    };
    if !get("include-system-site-packages").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(Vec::new());
    }
    let shown = prefix.join("pyvenv.cfg");
    let home = get("home").map(PathBuf::from);
    let Some(base) = home
        .as_deref()
        .filter(|h| h.is_absolute())
        .and_then(Path::parent)
    else {
        return Err(format!(
            "{}: include-system-site-packages = true, but no absolute home = to find the base \
             interpreter's site-packages",
            shown.display()
        ));
    };
    // `version = 3.12.3` (venv) or `version_info = 3.12.3.final.0` (virtualenv, uv).
    let minor = get("version")
        .or_else(|| get("version_info"))
        .and_then(|v| {
            let mut p = v.split('.');
            Some(format!("python{}.{}", p.next()?, p.next()?))
        });
    let mut sites = Vec::new();
    let mut names: Vec<String> = vec!["python3".to_owned()];
    names.extend(minor);
    for lib in ["lib", "lib64", "local/lib"] {
        for name in &names {
            for leaf in ["site-packages", "dist-packages"] {
                let dir = base.join(lib).join(name).join(leaf);
                let canon = fs::canonicalize(&dir).ok();
                if canon.is_some()
                    && dir.is_dir()
                    && !sites
                        .iter()
                        .any(|d: &PathBuf| fs::canonicalize(d).ok() == canon)
                {
                    sites.push(dir);
                }
            }
        }
    }
    if sites.is_empty() {
        return Err(format!(
            "{}: include-system-site-packages = true, but the base interpreter's prefix {} has \
             no lib/python3*/site-packages here",
            shown.display(),
            base.display()
        ));
    }
    Ok(sites)
}

/// Chooses a framework's CUDA libraries among the paths of its `RECORD`.
type Pick = dyn Fn(&str) -> bool;

/// The frameworks among `all`, the distributions of `site`.
fn frameworks_in(site: &Path, all: &[Dist], out: &mut Vec<Framework>) {
    let find = |name: &str| all.iter().find(|d| d.name == name);
    let wheels: Vec<&Dist> = all
        .iter()
        .filter(|d| d.name.starts_with("nvidia-"))
        .collect();
    // torch and the frameworks whose CUDA libraries are their own files.
    let simple: [(&str, &Pick); 5] = [
        ("torch", &|p: &str| {
            p.starts_with("torch/lib/") && p.contains("cuda") && is_shared_lib(p)
        }),
        ("tensorflow", &|p: &str| {
            is_shared_lib(p)
                && (p.contains("_pywrap_tensorflow_internal")
                    || p.contains("libtensorflow_framework"))
        }),
        ("onnxruntime-gpu", &|p: &str| {
            is_shared_lib(p) && p.contains("onnxruntime_providers_cuda")
        }),
        ("vllm", &|p: &str| {
            p.starts_with("vllm/") && is_shared_lib(p) && p.matches('/').count() == 1
        }),
        ("paddlepaddle-gpu", &|p: &str| {
            is_shared_lib(p) && p.starts_with("paddle/") && p.contains("libpaddle")
        }),
    ];
    for (name, pick) in &simple {
        let Some(d) = find(name) else { continue };
        let mut f = framework(site, d, &[d], &wheels, pick);
        if *name == "torch" {
            torch_cuda(site, d, &mut f);
        } else if let Some(Ok(cuda)) = local_tag_cuda(&d.version) {
            f.info.cuda = Some(cuda);
            f.info.cuda_from = "the local version tag".to_owned();
        }
        out.push(f);
    }
    // jax: jaxlib's CUDA lives in the jax-cudaNN-plugin and -pjrt wheels.
    if let Some(d) = find("jax").or_else(|| find("jaxlib")) {
        let plugins: Vec<&Dist> = all
            .iter()
            .filter(|p| p.name.starts_with("jax-cuda") || p.name.starts_with("jax-rocm"))
            .collect();
        let mut with = vec![d];
        with.extend(plugins.iter().copied());
        let mut f = framework(site, d, &with, &wheels, &|p: &str| {
            is_shared_lib(p) && (p.starts_with("jax_cuda") || p.starts_with("jax_plugins/xla_cuda"))
        });
        match plugins.iter().find(|p| p.name.starts_with("jax-cuda")) {
            Some(p) => {
                let major = p.name["jax-cuda".len()..]
                    .split('-')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                f.info.cuda = Some(major);
                f.info.cuda_from = format!("the plugin {}", p.name);
            }
            None => {
                f.cpu_only = Some(format!(
                    "jax {} has no CUDA plugin installed (jax-cuda12-plugin, jax-cuda13-plugin): \
                     it runs on the CPU only",
                    d.version
                ));
            }
        }
        out.push(f);
    }
    // cupy-cuda12x, cupy-cuda11x, cupy-cuda13x.
    for d in all.iter().filter(|d| d.name.starts_with("cupy-cuda")) {
        let mut f = framework(site, d, &[d], &wheels, &|p: &str| {
            is_shared_lib(p) && (p.starts_with("cupy/") || p.starts_with("cupy_backends/"))
        });
        let major: String = d.name["cupy-cuda".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !major.is_empty() {
            f.info.cuda = Some(major);
            f.info.cuda_from = "the package name".to_owned();
        }
        out.push(f);
    }
}

/// A framework from its distributions: its libraries (the files of `dists` that `pick`
/// chooses) and the `nvidia-*` wheels it requires.
fn framework(
    site: &Path,
    main: &Dist,
    dists: &[&Dist],
    wheels: &[&Dist],
    pick: &Pick,
) -> Framework {
    let mut problems = Vec::new();
    let mut libraries = Vec::new();
    let mut cuda_wheels = Vec::new();
    let mut missing_wheels = Vec::new();
    for d in dists {
        let (requires, files) = read_dist(site, d, &mut problems);
        for r in requires.iter().filter(|r| r.starts_with("nvidia-")) {
            match wheels.iter().find(|w| &w.name == r) {
                Some(w) => cuda_wheels.push(format!("{} {}", w.name, w.version)),
                None => missing_wheels.push(r.clone()),
            }
        }
        for f in files.iter().filter(|f| pick(f)) {
            if libraries.len() >= MAX_LIBRARIES {
                problems.push(format!(
                    "{}: more than {MAX_LIBRARIES} CUDA libraries, the rest not checked",
                    main.name
                ));
                break;
            }
            match inside(site, f) {
                Ok(p) => libraries.push(p),
                Err(e) => problems.push(format!("{} lists {}: {e}", d.name, f)),
            }
        }
    }
    cuda_wheels.sort_unstable();
    cuda_wheels.dedup();
    missing_wheels.sort_unstable();
    missing_wheels.dedup();
    Framework {
        info: PythonFramework {
            name: main.name.clone(),
            version: main.version.clone(),
            cuda: None,
            cuda_from: "not known".to_owned(),
            libraries: libraries.iter().map(|p| p.display().to_string()).collect(),
            cuda_wheels,
            missing_wheels,
            from_base: false,
        },
        libraries,
        cpu_only: None,
        problems,
    }
}

/// torch's CUDA version: `torch/version.py`, else the local tag.
fn torch_cuda(site: &Path, d: &Dist, f: &mut Framework) {
    let from_py = match read_in(site, "torch/version.py", MAX_VERSION_PY) {
        Ok((bytes, _)) => torch_version_py_cuda(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            f.problems.push(e);
            None
        }
    };
    let tag = local_tag_cuda(&d.version);
    match (from_py, tag) {
        (Some(PyCuda::Version(cuda)), _) => {
            f.info.cuda = Some(cuda);
            f.info.cuda_from = "torch/version.py".to_owned();
        }
        (Some(PyCuda::NoCuda), Some(Ok(cuda))) => f.problems.push(format!(
            "torch/version.py says no CUDA, and the version {} says CUDA {cuda}",
            d.version
        )),
        (Some(PyCuda::NoCuda), _) => {
            f.info.cuda_from = "torch/version.py".to_owned();
            f.cpu_only = Some(format!(
                "torch {} is a build without CUDA (torch/version.py: cuda = None): it runs on the \
                 CPU only",
                d.version
            ));
        }
        (None, Some(Ok(cuda))) => {
            f.info.cuda = Some(cuda);
            f.info.cuda_from = "the local version tag".to_owned();
        }
        (None, Some(Err(()))) => {
            f.info.cuda_from = "the local version tag".to_owned();
            f.cpu_only = Some(format!(
                "torch {} is a build without CUDA: it runs on the CPU only",
                d.version
            ));
        }
        (None, None) => {}
    }
    if f.cpu_only.is_none() && f.info.cuda.is_some() && f.libraries.is_empty() {
        f.problems.push(format!(
            "torch {} is a CUDA build but its RECORD lists no torch/lib/*cuda*.so",
            d.version
        ));
    }
}

/// One check item per framework of `env` (or one saying none was found), and the findings of
/// the libraries that fail.
pub(super) fn check(
    env: &PythonEnv,
    here: &Here,
    m: &Machine<'_>,
    deadline: Option<Deadline>,
) -> (Vec<CheckItem>, Vec<Finding>) {
    let shown = env.path.display().to_string();
    let mut items = Vec::new();
    let mut findings = Vec::new();
    let compat = env
        .compat
        .as_ref()
        .map(|c| judge_compat(c, &shown, m, here, &mut findings));
    let (here, compat_failed, compat_said) = match &compat {
        Some(CompatUse::Loaded(h, said)) => (h, None, Some(said.as_str())),
        Some(CompatUse::Unused(said)) => (here, None, Some(said.as_str())),
        Some(CompatUse::Fails(why)) => (here, Some(why.as_str()), None),
        None => (here, None, None),
    };
    let item = |expression: String, verdict: &str, reason: String| CheckItem {
        kind: "python".to_owned(),
        expression,
        source: "--python".to_owned(),
        verdict: verdict.to_owned(),
        via: None,
        reason,
        parts: Vec::new(),
        framework: None,
    };
    if env.frameworks.is_empty() {
        let (verdict, reason) = if env.problems.is_empty() {
            (
                NO_CUDA_CODE,
                format!(
                    "{shown}: no CUDA framework installed (torch, jax, cupy, tensorflow, \
                     onnxruntime-gpu, vllm, paddlepaddle-gpu) in {}",
                    list(&env.site_packages)
                ),
            )
        } else {
            (
                UNKNOWN,
                format!(
                    "{shown}: not read to the end, so no verdict: {}",
                    env.problems.join("; ")
                ),
            )
        };
        items.push(item(shown.clone(), verdict, reason));
        return (items, findings);
    }
    for f in &env.frameworks {
        let what = format!("{} {}", f.info.name, f.info.version);
        let mut built = f
            .info
            .cuda
            .as_ref()
            .map(|c| format!(" (CUDA {}, from {})", c, f.info.cuda_from))
            .unwrap_or_default();
        if f.info.from_base {
            built.push_str(" (from the base interpreter: include-system-site-packages = true)");
        }
        let mut it = if let Some(why) = &f.cpu_only {
            item(what.clone(), CPU_ONLY, why.clone())
        } else if let Some(why) = compat_failed {
            item(what.clone(), NOT_SATISFIED, format!("{what}{built}: {why}"))
        } else if !f.problems.is_empty() {
            item(
                what.clone(),
                UNKNOWN,
                format!("{what}{built}: no verdict: {}", f.problems.join("; ")),
            )
        } else if f.info.name.starts_with("cupy-cuda") {
            let (it, found) = cupy(f, &what, &built, env, here, deadline);
            findings.extend(found);
            it
        } else if f.libraries.is_empty() {
            item(
                what.clone(),
                NO_CUDA_CODE,
                format!("{what}{built}: its RECORD lists no CUDA library to check"),
            )
        } else {
            let (lib_items, lib_findings) = binary::check(&f.libraries, here, deadline);
            findings.extend(lib_findings);
            let worst = [NOT_SATISFIED, UNKNOWN, SATISFIED, NO_CUDA_CODE]
                .iter()
                .find_map(|v| lib_items.iter().find(|i| i.verdict == *v));
            match worst {
                Some(w) => {
                    let mut it = item(
                        what.clone(),
                        &w.verdict,
                        format!("{what}{built}: {}", w.reason),
                    );
                    it.parts.clone_from(&w.parts);
                    it
                }
                None => item(what.clone(), UNKNOWN, format!("{what}{built}: no verdict")),
            }
        };
        // Required CUDA wheels that are not installed: the library may not load at all.
        if it.verdict == SATISFIED && !f.info.missing_wheels.is_empty() {
            it.verdict = UNKNOWN.to_owned();
            it.reason = format!(
                "{}; but it requires {}, which is not installed here: whether its libraries are \
                 found elsewhere is not known",
                it.reason,
                f.info.missing_wheels.join(", ")
            );
        }
        if let Some(said) = compat_said
            && f.cpu_only.is_none()
        {
            let _ = write!(it.reason, " ({said})");
        }
        it.framework = Some(f.info.clone());
        items.push(it);
    }
    (items, findings)
}

/// cupy's verdict. Its kernels (elementwise, reductions, the user's `RawKernel`s) are
/// compiled at run time by NVRTC for the GPU at hand, so a wheel without prebuilt code for this
/// GPU still runs (`no-cuda-code` or a missing SASS is not its verdict). It runs when CUDA
/// starts, the driver runs a CUDA runtime of its major, its prebuilt modules (CUB, Thrust) are
/// for this machine's CPU, and NVRTC is there: `libnvrtc.so.N` from the `nvidia-cuda-nvrtc-cuNN`
/// wheel (`nvidia-cuda-nvrtc` for CUDA 13; cupy 13.3.0's `METADATA` requires neither, it
/// `dlopen`s it). Without that wheel NVRTC may come from a CUDA Toolkit on the system
/// (`CUDA_PATH`), which `--python` does not look for: unknown.
fn cupy(
    f: &Framework,
    what: &str,
    built: &str,
    env: &PythonEnv,
    here: &Here,
    deadline: Option<Deadline>,
) -> (CheckItem, Vec<Finding>) {
    let major: Option<u32> = f.info.cuda.as_deref().and_then(|c| c.parse().ok());
    let mut parts = binary::start_parts(here, what, major);
    let mut findings = Vec::new();
    let mut prebuilt = String::new();
    if !f.libraries.is_empty() {
        let (lib_items, lib_findings) = binary::check(&f.libraries, here, deadline);
        // The prebuilt kernels' findings are not the framework's: it compiles its own.
        findings.extend(
            lib_findings
                .into_iter()
                .filter(|x| x.code != crate::codes::ARCH_MISSING_FROM_BINARY),
        );
        for li in &lib_items {
            if li.verdict == UNKNOWN && li.parts.is_empty() {
                parts.push(BinaryPart {
                    part: "elf-machine".to_owned(),
                    verdict: UNKNOWN.to_owned(),
                    reason: li.reason.clone(),
                });
            }
            for p in &li.parts {
                match p.part.as_str() {
                    "elf-machine" if p.verdict != SATISFIED => parts.push(p.clone()),
                    "kernels" if p.verdict != SATISFIED => {
                        prebuilt = format!(
                            "; its prebuilt CUB/Thrust modules have no code for it ({}), so the \
                             routines that use them fail",
                            p.reason.split(". Launching").next().unwrap_or_default()
                        );
                    }
                    _ => {}
                }
            }
        }
    }
    // NVRTC: the nvidia-cuda-nvrtc wheel of its major (CUDA 13's has no -cu13 suffix).
    let wanted = major.map(|m| {
        if m >= 13 {
            "nvidia-cuda-nvrtc".to_owned()
        } else {
            format!("nvidia-cuda-nvrtc-cu{m}")
        }
    });
    let nvrtc = wanted.as_ref().and_then(|w| {
        env.dists
            .iter()
            .find(|d| &d.name == w || d.name == format!("{w}-cu{}", major.unwrap_or(0)))
    });
    let so = major.map_or_else(|| "libnvrtc.so".to_owned(), |m| format!("libnvrtc.so.{m}"));
    parts.push(match nvrtc {
        Some(d) => BinaryPart {
            part: "nvrtc".to_owned(),
            verdict: SATISFIED.to_owned(),
            reason: format!("{so} from {} {}", d.name, d.version),
        },
        None => BinaryPart {
            part: "nvrtc".to_owned(),
            verdict: UNKNOWN.to_owned(),
            reason: format!(
                "{what} compiles its kernels with NVRTC ({so}) at run time, and the wheel {w} \
                 is not installed in this environment ('pip install {w}'); whether a CUDA \
                 Toolkit on the system provides it (CUDA_PATH) is not checked",
                w = wanted.as_deref().unwrap_or("nvidia-cuda-nvrtc"),
            ),
        },
    });
    let nvrtc_version = nvrtc.and_then(|d| {
        let mut p = d.version.split('.');
        Some((p.next()?.parse().ok()?, p.next()?.parse().ok()?))
    });
    parts.push(binary::jit_kernels_part(here, nvrtc_version, &prebuilt));
    let failed = parts
        .iter()
        .find(|p| p.verdict == NOT_SATISFIED)
        .or_else(|| parts.iter().find(|p| p.verdict == UNKNOWN));
    let mut it = match failed {
        Some(p) => CheckItem {
            verdict: p.verdict.clone(),
            reason: format!("{what}{built}: {}", p.reason),
            ..python_item(what)
        },
        None => CheckItem {
            verdict: SATISFIED.to_owned(),
            reason: format!(
                "{what}{built} runs: its kernels are {} (NVRTC: {}); {}",
                parts
                    .iter()
                    .find(|p| p.part == "kernels")
                    .map_or("", |p| p.reason.as_str()),
                parts
                    .iter()
                    .find(|p| p.part == "nvrtc")
                    .map_or("", |p| p.reason.as_str()),
                parts
                    .iter()
                    .find(|p| p.part == "runtime")
                    .map_or("", |p| p.reason.as_str()),
            ),
            ..python_item(what)
        },
    };
    it.parts = parts;
    (it, findings)
}

fn python_item(expression: &str) -> CheckItem {
    CheckItem {
        kind: "python".to_owned(),
        expression: expression.to_owned(),
        source: "--python".to_owned(),
        verdict: UNKNOWN.to_owned(),
        via: None,
        reason: String::new(),
        parts: Vec::new(),
        framework: None,
    }
}

/// What an environment's own cuda-compat libcuda means for its frameworks.
enum CompatUse {
    /// Accepted: the frameworks run on it (the machine with it loaded, and what to say).
    Loaded(Here, String),
    /// Not used (older than the driver: the activation removes its links); what to say.
    Unused(String),
    /// Rejected: every CUDA framework fails; why.
    Fails(String),
}

/// Judges the environment's cuda-compat libcuda with the machine's forward-compatibility
/// rules ([`super::compat_problem`]), adding the finding that says what happens.
fn judge_compat(
    c: &EnvCompat,
    shown: &str,
    m: &Machine<'_>,
    here: &Here,
    findings: &mut Vec<Finding>,
) -> CompatUse {
    let note = match &c.note {
        Ok(n) => n,
        Err(e) => {
            return CompatUse::Fails(format!(
                "the environment's cuda-compat libcuda {} cannot be read as one ({e}), so \
                 whether CUDA starts with it is not known",
                c.path.display()
            ));
        }
    };
    let cv = note.cuda_version.or_q();
    let from = c
        .package
        .as_ref()
        .map(|p| format!(", from {p}"))
        .unwrap_or_default();
    let what = format!(
        "the environment's cuda-compat libcuda {} ({}, CUDA {cv}{from})",
        c.path.display(),
        c.version.or_q()
    );
    let lib = Library {
        path: c.path.display().to_string(),
        kind: super::libs::KIND_COMPAT.to_owned(),
        version: c.version.clone(),
        cuda_version: note.cuda_version,
        fwd_compat: Some(note.clone()),
        ..Library::default()
    };
    // Older than (or as new as) the driver: conda-forge's activation removes its links ("The
    // system driver is sufficient; cuda-compat will not be activated").
    if let (Some(lv), Some(dv)) = (&c.version, &m.driver_version)
        && lv.major() <= dv.major()
    {
        return CompatUse::Unused(format!(
            "{what} is not loaded: the driver {dv} is at least as new, so the environment's \
             activation removes its links and the system's libcuda is used"
        ));
    }
    match super::compat_problem(&lib, m) {
        None => {
            let Some(cuda) = note.cuda_version else {
                return CompatUse::Fails(format!(
                    "{what} names no CUDA version in its note, so what it runs is not known"
                ));
            };
            findings.push(Finding::new(
                FORWARD_COMPAT_ACTIVE,
                Severity::Info,
                format!(
                    "{shown}: programs of this environment load {what} on driver {}: CUDA {cv} \
                     programs run on this older kernel module.",
                    m.driver_version.or_q()
                ),
                "Nothing to do. Upgrading the driver to a branch that supports CUDA natively \
                 removes the need for it.",
            ));
            CompatUse::Loaded(
                here.with_compat((cuda.major, cuda.minor)),
                format!(
                    "with {what}, accepted by driver {}",
                    m.driver_version.or_q()
                ),
            )
        }
        Some(why) => {
            findings.push(Finding::new(
                FORWARD_COMPAT_UNSUPPORTED,
                Severity::Error,
                format!(
                    "{shown}: programs of this environment load {what} once it is activated, \
                     but {why}: its CUDA programs fail, also those the driver itself would run."
                ),
                "Remove it from the environment ('conda remove cuda-compat cuda-compat-impl'), \
                 or install builds for the driver's CUDA version. Forward compatibility needs a \
                 data-center GPU and a driver branch in the library's list.",
            ));
            CompatUse::Fails(format!("{what} is loaded, but {why}"))
        }
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names_and_versions_parse() {
        assert_eq!(
            dist_info_name("torch-2.5.1+cu124.dist-info"),
            Some(("torch".to_owned(), "2.5.1+cu124".to_owned()))
        );
        assert_eq!(
            dist_info_name("nvidia_cuda_runtime_cu12-12.4.127.dist-info")
                .unwrap()
                .0,
            "nvidia-cuda-runtime-cu12"
        );
        assert_eq!(dist_info_name("torch"), None);
        assert_eq!(local_tag_cuda("2.5.1+cu124"), Some(Ok("12.4".to_owned())));
        assert_eq!(local_tag_cuda("2.9.0+cu130"), Some(Ok("13.0".to_owned())));
        assert_eq!(local_tag_cuda("2.5.1+cpu"), Some(Err(())));
        assert_eq!(local_tag_cuda("2.5.1"), None);
        assert_eq!(
            torch_version_py_cuda("__version__ = '2.5.1+cu124'\ncuda: Optional[str] = '12.4'\n"),
            Some(PyCuda::Version("12.4".to_owned()))
        );
        assert_eq!(
            torch_version_py_cuda("cuda = '11.8'\n"),
            Some(PyCuda::Version("11.8".to_owned()))
        );
        assert_eq!(
            torch_version_py_cuda("cuda: Optional[str] = None\n"),
            Some(PyCuda::NoCuda)
        );
        assert_eq!(torch_version_py_cuda("cudnn = 9\n"), None);
    }

    #[test]
    fn python_requires_dist_for_this_platform() {
        let meta = "Metadata-Version: 2.1\nName: torch\n\
            Requires-Dist: filelock\n\
            Requires-Dist: nvidia-cuda-runtime-cu12==12.4.127; platform_system == \"Linux\" and platform_machine == \"x86_64\"\n\
            Requires-Dist: opt-einsum>=3.3; extra == \"opt-einsum\"\n\
            \nRequires-Dist: not-a-header\n";
        let got = requires_dist(meta);
        assert!(got.contains(&"filelock".to_owned()));
        assert!(!got.contains(&"opt-einsum".to_owned()));
        assert!(!got.contains(&"not-a-header".to_owned()));
        assert_eq!(
            got.contains(&"nvidia-cuda-runtime-cu12".to_owned()),
            std::env::consts::ARCH == "x86_64"
        );
        assert_eq!(
            record_paths(
                "torch/lib/libtorch_cuda.so,sha256=abc,12\ntorch-2.5.1.dist-info/RECORD,,\n"
            ),
            ["torch/lib/libtorch_cuda.so", "torch-2.5.1.dist-info/RECORD"]
        );
    }
}
