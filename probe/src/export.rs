//! Outputs for other tools, derived from a [`Report`] without prose to parse
//! (`nvprobe labels`, `nvprobe export --format ...`). Every function here is pure: the same
//! report gives the same bytes.
//!
//! - [`nfd_labels`]: a Node Feature Discovery feature file (the `features.d` local source
//!   format: one `name=value` line each, no comments, as GPU Feature Discovery writes it),
//!   with GPU Feature Discovery's label names (`nvidia.com/cuda.driver.major`, ...), so
//!   selectors written for GFD work unchanged.
//! - [`shell`]: `NVPROBE_*=value` lines for `eval` in shell scripts and CI. The names differ
//!   from the `NVPROBE_DRIVER_VERSION`-style override variables on purpose: exporting them
//!   must not turn detection off in a later run.
//! - [`conda`]: the conda virtual packages `__cuda` and `__cuda_arch` (CEP 46: the *minimum*
//!   compute capability) as `name=version=build`, after `# cuda_arch_min:` and
//!   `# cuda_arch_max:` header lines (conda's own `# platform:` header style).
//! - [`wheel_variant`]: the `nvidia` namespace properties of wheel variants
//!   (`cuda_version_lower_bound`, `cuda_version_upper_bound`, `sm_arch` as `90_real`), most
//!   preferred first, exactly as nvidia-variant-provider computes them (it uses the *highest*
//!   SM on the machine and switches itself off outside CUDA 11.0–15.20).
//! - [`overrides`]: the variables each tool already honours in place of its own detection
//!   (`UV_CUDA_DRIVER_VERSION`, `CONDA_OVERRIDE_CUDA`, `CONDA_OVERRIDE_CUDA_ARCH`,
//!   `NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION`, `NV_VARIANT_PROVIDER_FORCE_SM_ARCH`),
//!   as plain `KEY=VALUE` lines (`export $(nvprobe export --format overrides)`, or a
//!   `docker --env-file`).
//!
//! Each has a `*_json` twin (`--json`) holding the same values as one JSON object.
//!
//! # Which CUDA version, which GPUs
//! Every output reads the rules' answer (`report.cuda`, [`crate::rules`]) rather than working
//! it out again. Node labels describe the node as GPU Feature Discovery would: its device
//! labels (`nvidia.com/...`) only where GFD's NVML (CUDA on Tegra) starts, for the GPUs it
//! lists; `nvidia.com/cuda.runtime-version.*` is the kernel driver's CUDA version, as GFD's
//! label is; `nvprobe.cuda` says whether CUDA starts here (`yes`, `no`, `unknown`). The
//! package-manager outputs describe what a CUDA program started *here* gets from
//! `cuDriverGetVersion` ([`package_cuda_version`]): nothing where `cuInit` would fail (a stub,
//! a library of another release, a rejected cuda-compat library, missing or denied nodes, no
//! fabric manager, no usable GPU: conda then has no `__cuda` either), the cuda-compat
//! library's version under forward compatibility, the L4T release's on Jetson, else the
//! driver's; and the compute capabilities of the GPUs CUDA can use there
//! ([`usable_cc_range`]).
//!
//! # Mixed GPUs
//! A node gets one label set. When its GPUs differ, the per-GPU labels (`gpu.product`,
//! `gpu.family`, `gpu.compute.*`, `gpu.memory`) describe the GPU with the **lowest** compute
//! capability (ties: the lowest index), because a workload scheduled by those labels must run
//! on whichever GPU it gets; `nvprobe.gpu.mixed=true` says the node is mixed. `gpu.count`
//! counts the GPUs GFD would list. conda's `__cuda_arch` is the minimum too (CEP 46); the wheel
//! variant's `sm_arch` is the maximum (nvidia-variant-provider's rule); `shell` gives both,
//! over every GPU of the machine.

use std::fmt::Write as _;

use serde_json::{Map, Value, json};

use crate::report::{CudaVersion, Gpu, Report};

/// A compute capability as numbers.
fn cc(g: &Gpu) -> Option<(u32, u32)> {
    g.compute_capability.map(|c| (c.major, c.minor))
}

/// The GPUs whose indices are listed.
fn among<'a>(r: &'a Report, indices: &'a [u32]) -> impl Iterator<Item = &'a Gpu> + 'a {
    r.gpus.iter().filter(move |g| indices.contains(&g.index))
}

/// The GPU that represents the node among `gpus`: the lowest compute capability, else the
/// first.
fn representative<'a>(gpus: &[&'a Gpu]) -> Option<&'a Gpu> {
    gpus.iter()
        .copied()
        .filter(|g| cc(g).is_some())
        .min_by_key(|g| (cc(g), g.index))
        .or_else(|| gpus.first().copied())
}

/// The compute capabilities on the machine, lowest and highest (every GPU it has).
pub fn cc_range(r: &Report) -> Option<((u32, u32), (u32, u32))> {
    range(r.gpus.iter())
}

/// The compute capabilities of the GPUs a CUDA program can use here (`cuda.usable_gpus`),
/// lowest and highest: what conda's `__cuda_arch` and the wheel variant's `sm_arch` see.
pub fn usable_cc_range(r: &Report) -> Option<((u32, u32), (u32, u32))> {
    range(among(r, &r.cuda.usable_gpus))
}

fn range<'a>(gpus: impl Iterator<Item = &'a Gpu>) -> Option<((u32, u32), (u32, u32))> {
    let all: Vec<(u32, u32)> = gpus.filter_map(cc).collect();
    Some((*all.iter().min()?, *all.iter().max()?))
}

/// True when the GPUs are not all the same model.
fn mixed(gpus: &[&Gpu]) -> bool {
    let first = gpus.first();
    gpus.iter().any(|g| {
        first.is_some_and(|f| {
            f.pci.device_id != g.pci.device_id || f.name != g.name || cc(f) != cc(g)
        })
    })
}

/// The CUDA version a CUDA program started in this environment gets from
/// `cuDriverGetVersion` (`cuda.version`, [`crate::rules`]): `None` unless CUDA can start here
/// (a stub, a library of another release, a rejected cuda-compat library, missing nodes, no
/// usable GPU, an incomplete report: conda then has no `__cuda` either).
pub fn package_cuda_version(r: &Report) -> Option<CudaVersion> {
    (r.cuda.can_start == crate::rules::Answer::Yes)
        .then_some(r.cuda.version)
        .flatten()
}

/// A Kubernetes label value: at most 63 characters of `[A-Za-z0-9._-]`, beginning and ending
/// with an alphanumeric; other characters become `-`.
pub fn label_value(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// `nvidia.com/gpu.product` as GPU Feature Discovery writes it: characters outside
/// `[A-Za-z0-9._ -]` dropped, runs of spaces joined by `-` (`NVIDIA GeForce RTX 4090` →
/// `NVIDIA-GeForce-RTX-4090`), then made a valid label value.
pub fn product_label(name: &str) -> String {
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        .collect();
    label_value(&kept.split_whitespace().collect::<Vec<_>>().join("-"))
}

/// `nvidia.com/gpu.family` from a compute capability, exactly as GPU Feature Discovery maps it
/// (`getArchFamily` in NVIDIA/k8s-device-plugin `internal/lm/resource.go`, 2026-08): `8.9` →
/// `ada-lovelace`, 10.x and 12.x → `blackwell`, 13.x → `rubin`; `undefined` for any other major
/// (11.x, Thor, included: GFD has no family for it).
pub fn gpu_family(major: u32, minor: u32) -> &'static str {
    match (major, minor) {
        (1, _) => "tesla",
        (2, _) => "fermi",
        (3, _) => "kepler",
        (5, _) => "maxwell",
        (6, _) => "pascal",
        (7, m) if m < 5 => "volta",
        (7, _) => "turing",
        (8, m) if m < 9 => "ampere",
        (8, _) => "ada-lovelace",
        (9, _) => "hopper",
        (10 | 12, _) => "blackwell",
        (13, _) => "rubin",
        _ => "undefined",
    }
}

/// The node labels in output order, names with their values (already valid label values).
/// Without a GPU there are no `nvidia.com/` labels (a selector on `nvidia.com/gpu.count`
/// must not match a CPU node); `nvprobe.*` labels (NFD prefixes them with
/// `feature.node.kubernetes.io/`) are always there.
pub fn labels(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut label = |k: &str, v: &str| out.push((k.to_owned(), label_value(v)));
    // GFD's labels only where GFD would write them: NVML (CUDA on Tegra) starts, and there is
    // a GPU it lists.
    let gfd: Vec<&Gpu> = among(r, &r.cuda.gfd_gpus).collect();
    if r.cuda.gfd_labels == crate::rules::Answer::Yes && !gfd.is_empty() {
        if let Some(d) = &r.driver {
            // GFD splits NVML's text (`580.65.06` → `580`, `65`, `06`): the text it is.
            let mut parts = d.version.as_str().split('.');
            let (major, minor, rev) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let cuda = d
                .cuda_version
                .map(|c| (c.major.to_string(), c.minor.to_string()));
            let cuda = cuda.as_ref().map(|(a, b)| (a.as_str(), b.as_str()));
            // GFD writes the deprecated names and the current ones side by side.
            label("nvidia.com/cuda.driver.major", major);
            label("nvidia.com/cuda.driver.minor", minor);
            label("nvidia.com/cuda.driver.rev", rev);
            if let Some((cmaj, cmin)) = cuda {
                label("nvidia.com/cuda.runtime.major", cmaj);
                label("nvidia.com/cuda.runtime.minor", cmin);
            }
            label("nvidia.com/cuda.driver-version.major", major);
            label("nvidia.com/cuda.driver-version.minor", minor);
            label("nvidia.com/cuda.driver-version.revision", rev);
            label("nvidia.com/cuda.driver-version.full", d.version.as_str());
            if let Some((cmaj, cmin)) = cuda {
                label("nvidia.com/cuda.runtime-version.major", cmaj);
                label("nvidia.com/cuda.runtime-version.minor", cmin);
                label(
                    "nvidia.com/cuda.runtime-version.full",
                    &format!("{cmaj}.{cmin}"),
                );
            }
        }
        label("nvidia.com/gpu.count", &gfd.len().to_string());
        if let Some(g) = representative(&gfd) {
            if let Some(name) = &g.name {
                label("nvidia.com/gpu.product", &product_label(name));
            }
            // As GFD: the family only with a known compute capability.
            if let Some((a, b)) = cc(g) {
                label("nvidia.com/gpu.family", gpu_family(a, b));
            }
            if let Some((major, minor)) = cc(g) {
                label("nvidia.com/gpu.compute.major", &major.to_string());
                label("nvidia.com/gpu.compute.minor", &minor.to_string());
            }
            if let Some(bytes) = g.memory_bytes {
                label("nvidia.com/gpu.memory", &(bytes >> 20).to_string());
            }
        }
        label(
            "nvprobe.gpu.mixed",
            if mixed(&gfd) { "true" } else { "false" },
        );
    }
    label("nvprobe.platform", r.platform.kind.as_str());
    label("nvprobe.cuda", r.cuda.can_start.as_str());
    label(
        "nvprobe.healthy",
        if r.has_error() { "false" } else { "true" },
    );
    out
}

/// The NFD feature file: [`labels`] as `name=value` lines.
pub fn nfd_labels(r: &Report) -> String {
    lines(&labels(r))
}

/// [`labels`] as one JSON object.
pub fn labels_json(r: &Report) -> Value {
    object(labels(r))
}

/// The `shell` variables in output order.
pub fn shell_vars(r: &Report) -> Vec<(String, String)> {
    let d = r.driver.as_ref();
    let range = cc_range(r);
    let mut sms: Vec<String> = r
        .gpus
        .iter()
        .filter_map(cc)
        .map(|(a, b)| format!("{a}{b}"))
        .collect();
    sms.sort_by_key(|s| (s.len(), s.clone()));
    sms.dedup();
    let errors: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.severity == crate::report::Severity::Error)
        .map(|f| f.code.as_str())
        .collect();
    vec![
        ("NVPROBE_PLATFORM", r.platform.kind.as_str().to_owned()),
        (
            "NVPROBE_DRIVER",
            d.map_or(String::new(), |d| d.version.to_string()),
        ),
        (
            "NVPROBE_DRIVER_BRANCH",
            d.map_or(String::new(), |d| d.branch.to_string()),
        ),
        (
            "NVPROBE_DRIVER_CUDA",
            d.and_then(|d| d.cuda_version)
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        (
            "NVPROBE_CUDA",
            package_cuda_version(r)
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        (
            "NVPROBE_CUDA_CAN_START",
            r.cuda.can_start.as_str().to_owned(),
        ),
        ("NVPROBE_GPU_COUNT", r.gpus.len().to_string()),
        (
            "NVPROBE_CC_MIN",
            range.map_or(String::new(), |((a, b), _)| format!("{a}.{b}")),
        ),
        (
            "NVPROBE_CC_MAX",
            range.map_or(String::new(), |(_, (a, b))| format!("{a}.{b}")),
        ),
        ("NVPROBE_SM_ARCHS", sms.join(" ")),
        (
            "NVPROBE_HEALTHY",
            if r.has_error() { "false" } else { "true" }.to_owned(),
        ),
        ("NVPROBE_ERRORS", errors.join(" ")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// `KEY=VALUE` lines for shells (values single-quoted when they need it).
pub fn shell(r: &Report) -> String {
    let mut out = String::new();
    for (k, v) in shell_vars(r) {
        let safe = v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/".contains(&b));
        if safe && !v.is_empty() {
            let _ = writeln!(out, "{k}={v}");
        } else {
            let _ = writeln!(out, "{k}='{}'", v.replace('\'', r"'\''"));
        }
    }
    out
}

/// [`shell_vars`] as one JSON object.
pub fn shell_json(r: &Report) -> Value {
    object(shell_vars(r))
}

/// The conda virtual packages `(name, version, build)`: `__cuda` when a CUDA version is
/// known ([`package_cuda_version`]), and with it `__cuda_arch`, the lowest compute
/// capability (CEP 46; present only with `__cuda`, as the NVIDIA plugin does).
pub fn conda_packages(r: &Report) -> Vec<(&'static str, String, &'static str)> {
    let mut out = Vec::new();
    if let Some(cuda) = package_cuda_version(r) {
        out.push(("__cuda", cuda.to_string(), "0"));
        if let Some(((a, b), _)) = usable_cc_range(r) {
            out.push(("__cuda_arch", format!("{a}.{b}"), "0"));
        }
    }
    out
}

/// conda virtual packages, one `name=version=build` per line (nothing when there is no
/// usable driver), after `# cuda_arch_min: X.Y` and `# cuda_arch_max: X.Y` when
/// `__cuda_arch` is there.
pub fn conda(r: &Report) -> String {
    let mut out = String::new();
    let packages = conda_packages(r);
    if let Some(((a, b), (c, d))) = usable_cc_range(r).filter(|_| packages.len() > 1) {
        let _ = writeln!(out, "# cuda_arch_min: {a}.{b}");
        let _ = writeln!(out, "# cuda_arch_max: {c}.{d}");
    }
    for (name, version, build) in packages {
        let _ = writeln!(out, "{name}={version}={build}");
    }
    out
}

/// `{"virtual_packages": [{name, version, build}], "cuda_arch": {min, max} | null}`.
pub fn conda_json(r: &Report) -> Value {
    let packages = conda_packages(r);
    let arch = usable_cc_range(r)
        .filter(|_| packages.len() > 1)
        .map(|((a, b), (c, d))| json!({"min": format!("{a}.{b}"), "max": format!("{c}.{d}")}));
    json!({
        "virtual_packages": packages
            .iter()
            .map(|(n, v, b)| json!({"name": n, "version": v, "build": b}))
            .collect::<Vec<_>>(),
        "cuda_arch": arch,
    })
}

/// One feature of the `nvidia` wheel-variant namespace: its name, the acceptable values in
/// priority order, and whether several may hold at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantFeature {
    /// `cuda_version_lower_bound`, `cuda_version_upper_bound`, `sm_arch`.
    pub name: &'static str,
    /// Most preferred first.
    pub values: Vec<String>,
    /// True for `sm_arch`.
    pub multi_value: bool,
}

/// The `nvidia` wheel-variant features, as nvidia-variant-provider computes them
/// (`detect_cuda.py`, `get_supported_configs`): only where NVML starts (`cuda.nvml`), from the
/// user-mode driver's CUDA version (`nvmlSystemGetCudaDriverVersion_v2`, which asks libcuda's
/// `cuDriverGetVersion` and needs no `cuInit`) and the *highest* compute capability of the
/// GPUs NVML lists. Empty outside CUDA 11.0–15.20 (the provider switches itself off); no
/// `sm_arch` below 5.0.
pub fn wheel_variant_features(r: &Report) -> Vec<VariantFeature> {
    const MAJORS: std::ops::RangeInclusive<u32> = 11..=15;
    const MAX_MINOR: u32 = 20;
    if r.cuda.nvml != crate::rules::Answer::Yes {
        return Vec::new();
    }
    // `_v2` fails without a libcuda; the provider then asks `nvmlSystemGetCudaDriverVersion`,
    // which answers with the version the kernel driver supports.
    let version = r
        .cuda
        .user_mode_driver_version
        .or_else(|| r.driver.as_ref().and_then(|d| d.cuda_version));
    let Some((umd_major, umd_minor)) = version.map(|v| (v.major, v.minor)) else {
        return Vec::new();
    };
    if !MAJORS.contains(&umd_major) || umd_minor > MAX_MINOR {
        return Vec::new();
    }
    let mut lower = Vec::new();
    for major in (*MAJORS.start()..=umd_major).rev() {
        let top = if major == umd_major {
            umd_minor
        } else {
            MAX_MINOR
        };
        lower.extend((0..=top).rev().map(|m| format!("{major}.{m}")));
        lower.push(major.to_string());
    }
    let mut upper = Vec::new();
    for major in (umd_major..=*MAJORS.end()).rev() {
        if major == umd_major {
            upper.extend(
                (umd_minor + 1..=MAX_MINOR)
                    .rev()
                    .map(|m| format!("{major}.{m}")),
            );
        } else {
            upper.extend((0..=MAX_MINOR).rev().map(|m| format!("{major}.{m}")));
            upper.push(major.to_string());
        }
    }
    let mut out = vec![VariantFeature {
        name: "cuda_version_lower_bound",
        values: lower,
        multi_value: false,
    }];
    if !upper.is_empty() {
        out.push(VariantFeature {
            name: "cuda_version_upper_bound",
            values: upper,
            multi_value: false,
        });
    }
    if let Some((_, (major, minor))) =
        range(among(r, &r.cuda.nvml_gpus)).filter(|(_, max)| *max >= (5, 0))
    {
        let mut values: Vec<String> = (0..=minor)
            .rev()
            .map(|m| format!("{major}{m}_real"))
            .collect();
        values.push(format!("{major}0_virtual"));
        out.push(VariantFeature {
            name: "sm_arch",
            values,
            multi_value: true,
        });
    }
    out
}

/// Wheel-variant properties, `nvidia :: feature :: value` per line, most preferred first.
pub fn wheel_variant(r: &Report) -> String {
    let mut out = String::new();
    for f in wheel_variant_features(r) {
        for v in &f.values {
            let _ = writeln!(out, "nvidia :: {} :: {v}", f.name);
        }
    }
    out
}

/// `{"namespace": "nvidia", "features": [{name, values, multi_value}]}`.
pub fn wheel_variant_json(r: &Report) -> Value {
    json!({
        "namespace": "nvidia",
        "features": wheel_variant_features(r)
            .iter()
            .map(|f| json!({"name": f.name, "values": f.values, "multi_value": f.multi_value}))
            .collect::<Vec<_>>(),
    })
}

/// The override variables uv, conda, pixi/rattler and nvidia-variant-provider honour, with
/// this machine's values. Where CUDA cannot start here, `CONDA_OVERRIDE_CUDA` and
/// `CONDA_OVERRIDE_CUDA_ARCH` are empty (conda and pixi then have no `__cuda`, as their own
/// detection would find), and the others are left out (an empty value would be an error or be
/// ignored). Where that is unknown (an incomplete report), nothing is pinned at all.
pub fn override_vars(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if r.cuda.can_start == crate::rules::Answer::Unknown {
        return Vec::new();
    }
    let range = usable_cc_range(r);
    let cuda = package_cuda_version(r).map(|c| c.to_string());
    if let Some(d) = r.driver.as_ref().filter(|_| cuda.is_some()) {
        out.push(("UV_CUDA_DRIVER_VERSION", d.version.to_string()));
    }
    out.push(("CONDA_OVERRIDE_CUDA", cuda.clone().unwrap_or_default()));
    match (&cuda, range) {
        (Some(_), Some(((a, b), _))) => out.push(("CONDA_OVERRIDE_CUDA_ARCH", format!("{a}.{b}"))),
        (None, _) => out.push(("CONDA_OVERRIDE_CUDA_ARCH", String::new())),
        (Some(_), None) => {}
    }
    if let Some(cuda) = &cuda {
        out.push((
            "NV_VARIANT_PROVIDER_FORCE_CUDA_DRIVER_VERSION",
            cuda.clone(),
        ));
        if let Some((_, (a, b))) = range {
            out.push(("NV_VARIANT_PROVIDER_FORCE_SM_ARCH", format!("{a}.{b}")));
        }
    }
    out.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// [`override_vars`] as `KEY=VALUE` lines (values are versions: never quoted, never spaces).
pub fn overrides(r: &Report) -> String {
    lines(&override_vars(r))
}

/// [`override_vars`] as one JSON object.
pub fn overrides_json(r: &Report) -> Value {
    object(override_vars(r))
}

/// PyTorch's CUDA builds (`data/torch-builds.tsv`): backend, CUDA release, SASS, PTX, source.
const TORCH_BUILDS: &str = include_str!("../../data/torch-builds.tsv");

/// One CUDA build of PyTorch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TorchBuild {
    /// `cu128`: uv's backend name and the index's.
    pub backend: String,
    /// The CUDA release it is built for.
    pub cuda: (u32, u32),
    /// Compute capabilities with SASS.
    pub sass: Vec<(u32, u32)>,
    /// The compute capability with PTX, if any.
    pub ptx: Option<(u32, u32)>,
    /// The torch release the lists are known for (`2.4`), when not the newest builds: newer
    /// torch on that index may carry other code.
    pub torch: Option<String>,
}

fn parse_cc(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The rows of `data/torch-builds.tsv`, oldest CUDA first; a malformed row is left out (the
/// table's test fails on it).
pub fn torch_builds() -> Vec<TorchBuild> {
    let mut rows: Vec<TorchBuild> = crate::tables::tsv_records(TORCH_BUILDS)
        .filter_map(|cols| {
            let [backend, cuda, sass, ptx, torch, source] = cols.as_slice() else {
                return None;
            };
            if !source.contains("https://") {
                return None;
            }
            let sass: Option<Vec<_>> = sass.split(' ').map(parse_cc).collect();
            Some(TorchBuild {
                backend: (*backend).to_owned(),
                cuda: parse_cc(cuda)?,
                sass: sass?,
                ptx: if ptx.is_empty() {
                    None
                } else {
                    Some(parse_cc(ptx)?)
                },
                torch: (!torch.is_empty()).then(|| (*torch).to_owned()),
            })
        })
        .collect();
    rows.sort_by_key(|b| b.cuda);
    rows
}

/// Does `build` carry code for a GPU of compute capability `cc`, on a driver giving CUDA
/// `driver`? SASS of the same major and a minor not above; or its PTX, not newer than the GPU,
/// which the driver JITs only when it is at least the build's CUDA release.
fn torch_build_runs_on(build: &TorchBuild, cc: (u32, u32), driver: (u32, u32)) -> bool {
    build.sass.iter().any(|s| s.0 == cc.0 && s.1 <= cc.1)
        || build.ptx.is_some_and(|p| p <= cc && driver >= build.cuda)
}

/// The PyTorch build `uv` should install here (`UV_TORCH_BACKEND`): the newest CUDA build
/// whose runtime the user-mode driver runs natively (its CUDA version at least the build's)
/// and that carries code for every usable GPU; else the newest that runs through minor-version
/// compatibility (same major); the builds of an older torch (a `torch` release in the table)
/// only where none of the newest torch's fits; `cpu` where CUDA cannot start or no build fits. `Err` with the
/// reason where no pick can be made (the answer is unknown, or the machine is not x86-64,
/// whose builds the table lists): nothing is pinned then.
pub fn uv_torch_backend(r: &Report) -> Result<(String, String), String> {
    use crate::rules::Answer;
    if r.platform.kind == crate::report::PlatformKind::Tegra
        || r.cpu_arch() != crate::report::CpuArch::X86_64
    {
        return Err(
            "no pick: the table lists PyTorch's x86-64 builds, and this machine is not x86-64"
                .to_owned(),
        );
    }
    match r.cuda.can_start {
        Answer::Unknown => {
            return Err(format!(
                "no pick: whether CUDA can start here is unknown ({})",
                r.cuda.reason
            ));
        }
        Answer::No => {
            return Ok((
                "cpu".to_owned(),
                format!("CUDA cannot start here: {}", r.cuda.reason),
            ));
        }
        Answer::Yes => {}
    }
    let Some(driver) = package_cuda_version(r).map(|v| (v.major, v.minor)) else {
        return Err("no pick: the user-mode driver's CUDA version is not known".to_owned());
    };
    let gpus: Vec<&Gpu> = among(r, &r.cuda.usable_gpus).collect();
    if gpus.is_empty() {
        return Ok(("cpu".to_owned(), "no GPU here that CUDA can use".to_owned()));
    }
    let mut ccs = Vec::new();
    for g in &gpus {
        match cc(g) {
            Some(c) => ccs.push(c),
            None => {
                return Err(format!(
                    "no pick: GPU {}'s compute capability is not known (run with --deep or set \
                     NVPROBE_COMPUTE_CAPABILITY)",
                    g.index
                ));
            }
        }
    }
    ccs.sort_unstable();
    ccs.dedup();
    let arch = ccs
        .iter()
        .map(|(a, b)| format!("{a}.{b}"))
        .collect::<Vec<_>>()
        .join(", ");
    let fits = |b: &&TorchBuild| ccs.iter().all(|&c| torch_build_runs_on(b, c, driver));
    let builds = torch_builds();
    let (dmaj, dmin) = driver;
    // Who gives that CUDA version: the driver (its release), or cuda-compat on it.
    let release = r
        .driver
        .as_ref()
        .map(|d| format!(" {}", d.version))
        .unwrap_or_default();
    let giver = if r.cuda.user_mode_driver == crate::report::UserModeDriver::CudaCompat {
        format!("the cuda-compat libcuda on driver{release}")
    } else {
        format!("the driver{release}")
    };
    // The builds of the newest torch first; the lists of an older torch (the `torch` column)
    // only where none of those runs here. Natively before minor-version compatibility.
    let mvc = "through minor-version compatibility (no PTX JIT of newer code)";
    let pick = [false, true].into_iter().find_map(|older| {
        let of = || {
            builds
                .iter()
                .rev()
                .filter(move |b| b.torch.is_some() == older)
        };
        of().filter(|b| b.cuda <= driver)
            .find(fits)
            .map(|b| (b, "natively"))
            .or_else(|| {
                of().filter(|b| b.cuda.0 == dmaj)
                    .find(fits)
                    .map(|b| (b, mvc))
            })
    });
    let Some((b, how)) = pick else {
        let why: Vec<String> = builds
            .iter()
            .rev()
            .map(|b| not_picked(b, &ccs, driver))
            .collect();
        return Ok((
            "cpu".to_owned(),
            format!(
                "no PyTorch CUDA build in nvprobe's table both runs on the driver's CUDA \
                 {dmaj}.{dmin} and carries code for compute capability {arch} ({}): {}",
                gpus_by_cc(&gpus, &ccs, None),
                why.join("; ")
            ),
        ));
    };
    let newer: Vec<String> = builds
        .iter()
        .filter(|n| n.cuda > b.cuda && !(b.torch.is_none() && n.torch.is_some()))
        .map(|n| not_picked(n, &ccs, driver))
        .collect();
    let mut newer = if newer.is_empty() {
        String::new()
    } else {
        format!("; newer builds: {}", newer.join("; "))
    };
    if let Some(t) = &b.torch {
        let _ = write!(
            newer,
            "; the code lists are torch {t}'s: install torch=={t}.* from this index (newer torch \
             there may be built for other GPUs)"
        );
    }
    Ok((
        b.backend.clone(),
        format!(
            "{giver} gives CUDA {dmaj}.{dmin}, which runs the CUDA {}.{} build {how}, and it \
             carries code for compute capability {arch} ({}){newer}",
            b.cuda.0,
            b.cuda.1,
            gpus_by_cc(&gpus, &ccs, Some(b))
        ),
    ))
}

/// `sm_61`.
fn sm(cc: (u32, u32)) -> String {
    format!("sm_{}{}", cc.0, cc.1)
}

/// The code of `build` a GPU of compute capability `cc` runs: `SASS sm_60`, or its PTX.
fn code_for(build: &TorchBuild, cc: (u32, u32)) -> Option<String> {
    build
        .sass
        .iter()
        .filter(|s| s.0 == cc.0 && s.1 <= cc.1)
        .max()
        .map(|&s| format!("SASS {}", sm(s)))
        .or_else(|| {
            build
                .ptx
                .filter(|&p| p <= cc)
                .map(|p| format!("PTX compute_{}{} (JIT)", p.0, p.1))
        })
}

/// The GPUs of each compute capability, with the code of `build` each runs:
/// `GPU 0 NVIDIA GeForce GTX 1080 Ti, sm_61 Pascal: SASS sm_60`.
fn gpus_by_cc(gpus: &[&Gpu], ccs: &[(u32, u32)], build: Option<&TorchBuild>) -> String {
    ccs.iter()
        .map(|&c| {
            let of: Vec<&&Gpu> = gpus.iter().filter(|g| cc(g) == Some(c)).collect();
            let arch = of
                .iter()
                .find_map(|g| g.architecture.as_deref())
                .map(|a| format!(" {a}"))
                .unwrap_or_default();
            let names: Vec<String> = of
                .iter()
                .map(|g| match &g.name {
                    Some(n) => format!("GPU {} {n}", g.index),
                    None => format!("GPU {}", g.index),
                })
                .collect();
            let code = build
                .and_then(|b| code_for(b, c))
                .map(|k| format!(": {k}"))
                .unwrap_or_default();
            format!("{}, {}{arch}{code}", names.join(", "), sm(c))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why `build` is not the pick on a driver giving CUDA `driver`: it needs a newer driver, has
/// no code for some GPU, or runs only through minor-version compatibility.
fn not_picked(build: &TorchBuild, ccs: &[(u32, u32)], driver: (u32, u32)) -> String {
    let (bmaj, bmin) = build.cuda;
    let name = &build.backend;
    if bmaj > driver.0 || (bmaj < 11 && build.cuda > driver) {
        return format!("{name} needs CUDA {bmaj}.{bmin} (a newer driver)");
    }
    let missing: Vec<String> = ccs
        .iter()
        .filter(|&&c| !torch_build_runs_on(build, c, driver))
        .map(|&c| sm(c))
        .collect();
    if !missing.is_empty() {
        let from = build
            .sass
            .first()
            .map(|&s| format!(", its SASS starts at {}", sm(s)))
            .unwrap_or_default();
        return format!("{name} has no code for {}{from}", missing.join(", "));
    }
    if build.cuda > driver {
        return format!(
            "{name} (CUDA {bmaj}.{bmin}) runs only through minor-version compatibility"
        );
    }
    format!("{name} also fits")
}

/// `export --format uv`: `UV_TORCH_BACKEND=...` for `eval`, the reason and pip's
/// `--index-url` as comments; only comments where no pick can be made.
pub fn uv(r: &Report) -> String {
    match uv_torch_backend(r) {
        Ok((backend, why)) => format!(
            "# nvprobe: {backend}: {why}\n# pip: --index-url https://download.pytorch.org/whl/{backend}\nUV_TORCH_BACKEND={backend}\n",
            why = crate::escape::escape(&why).replace('\n', " ")
        ),
        Err(why) => format!(
            "# nvprobe: {}\n",
            crate::escape::escape(&why).replace('\n', " ")
        ),
    }
}

/// [`uv`] as one JSON object: `UV_TORCH_BACKEND` (`null` where no pick), `index_url`,
/// `reason`.
pub fn uv_json(r: &Report) -> Value {
    match uv_torch_backend(r) {
        Ok((backend, why)) => json!({
            "UV_TORCH_BACKEND": backend,
            "index_url": format!("https://download.pytorch.org/whl/{backend}"),
            "reason": why,
        }),
        Err(why) => json!({"UV_TORCH_BACKEND": null, "index_url": null, "reason": why}),
    }
}

/// Pretty JSON and a newline.
pub fn json_text(v: &Value) -> String {
    crate::report::json::pretty(v).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")) + "\n"
}

fn lines(pairs: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

fn object(pairs: Vec<(String, String)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect::<Map<_, _>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_torch_builds_table_is_valid() {
        let rows: Vec<String> = crate::tables::tsv_records(TORCH_BUILDS)
            .map(|c| c.join("\t"))
            .collect();
        assert_eq!(rows.len(), torch_builds().len(), "a malformed row");
        for (row, b) in rows.iter().zip(torch_builds()) {
            assert!(
                row.contains("https://github.com/pytorch/pytorch/blob/")
                    || row.contains("https://github.com/pytorch/builder/blob/"),
                "{row}"
            );
            let digits = b.backend.strip_prefix("cu").unwrap_or_default();
            assert_eq!(digits, format!("{}{}", b.cuda.0, b.cuda.1), "{row}");
            assert!(b.sass.windows(2).all(|w| w[0] < w[1]), "{row}");
            assert!(b.ptx.is_none_or(|p| b.sass.contains(&p)), "{row}");
        }
    }

    #[test]
    fn export_torch_build_code_rules() {
        let builds = torch_builds();
        let by = |n: &str| {
            builds
                .iter()
                .find(|b| b.backend == n)
                .cloned()
                .unwrap_or_else(|| panic!("{n}"))
        };
        // Pascal (6.1): only cu126 carries sm_60.
        assert!(torch_build_runs_on(&by("cu126"), (6, 1), (13, 0)));
        assert!(!torch_build_runs_on(&by("cu128"), (6, 1), (13, 0)));
        assert!(!torch_build_runs_on(&by("cu130"), (6, 1), (13, 0)));
        // Blackwell (12.0): no code in cu126.
        assert!(!torch_build_runs_on(&by("cu126"), (12, 0), (12, 8)));
        assert!(torch_build_runs_on(&by("cu128"), (12, 0), (12, 8)));
        // SASS sm_120 runs on a 12.1 GPU (same major, minor not above).
        assert!(torch_build_runs_on(&by("cu128"), (12, 1), (12, 8)));
        // PTX 12.0 JITs on a newer major only where the driver is at least the build's CUDA;
        // cu128 has no PTX.
        assert!(torch_build_runs_on(&by("cu129"), (13, 0), (12, 9)));
        assert!(!torch_build_runs_on(&by("cu129"), (13, 0), (12, 8)));
        assert!(!torch_build_runs_on(&by("cu128"), (13, 0), (13, 0)));
    }

    #[test]
    fn export_label_values_are_kubernetes_safe() {
        assert_eq!(
            label_value("NVIDIA H100 80GB HBM3"),
            "NVIDIA-H100-80GB-HBM3"
        );
        assert_eq!(label_value("  (x) "), "x");
        assert_eq!(label_value(&"a".repeat(100)).len(), 63);
        assert_eq!(label_value("05"), "05");
        assert_eq!(label_value(""), "");
    }

    #[test]
    fn export_product_label_as_gfd_writes_it() {
        assert_eq!(
            product_label("NVIDIA GeForce RTX 4090"),
            "NVIDIA-GeForce-RTX-4090"
        );
        assert_eq!(
            product_label("NVIDIA A100-SXM4-40GB"),
            "NVIDIA-A100-SXM4-40GB"
        );
        // GFD drops characters it cannot use rather than turning them into dashes.
        assert_eq!(
            product_label("Quadro RTX 8000 (Rev. A)"),
            "Quadro-RTX-8000-Rev.-A"
        );
        assert_eq!(product_label("  Tesla   K80 "), "Tesla-K80");
    }
}
