//! `nvprobe check --python`: the fixture environments of `probe/tests/venvs` (written by
//! `scripts/gen-venvs.py`: real `.dist-info` formats, the real nvcc-built `libconcat.so` as
//! each framework's CUDA library) on the fixture machines.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{codes, copy_tree, fixture, nvprobe, scratch_dir};

fn venv(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/venvs")
        .join(name)
}

fn site(name: &str) -> PathBuf {
    venv(name).join("lib/python3.12/site-packages")
}

/// `check --python PATH --json` on a fixture machine: the exit code and the JSON.
fn check(machine: &str, path: &Path) -> (i32, Value) {
    let out = nvprobe(&[
        "--root",
        fixture(machine).to_str().unwrap(),
        "check",
        "--no-sandbox",
        "--json",
        "--python",
        path.to_str().unwrap(),
    ]);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

/// The one framework item of a check.
fn framework(json: &Value) -> &Value {
    let checks = json["check"]["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1, "{checks:#?}");
    assert_eq!(checks[0]["kind"], "python");
    &checks[0]
}

fn part<'a>(item: &'a Value, name: &str) -> &'a Value {
    item["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part"] == name)
        .unwrap_or_else(|| panic!("no part {name}: {item:#?}"))
}

#[test]
fn python_torch_cu124_on_rtx5090_has_no_kernel_image() {
    let (code, json) = check("rtx5090-open-570", &venv("torch-cu124"));
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "not-satisfied");
    assert_eq!(item["expression"], "torch 2.5.1+cu124");
    let f = &item["framework"];
    assert_eq!(f["name"], "torch");
    assert_eq!(f["version"], "2.5.1+cu124");
    assert_eq!(f["cuda"], "12.4");
    assert_eq!(f["cuda_from"], "torch/version.py");
    assert!(
        f["libraries"][0]
            .as_str()
            .unwrap()
            .ends_with("torch/lib/libtorch_cuda.so")
    );
    assert!(
        f["cuda_wheels"]
            .as_array()
            .unwrap()
            .contains(&Value::from("nvidia-cuda-runtime-cu12 12.4.127"))
    );
    assert_eq!(f["missing_wheels"], Value::Array(Vec::new()));
    // The runtime runs (CUDA 12.4 on the 570 driver's 12.8); the kernels do not: no sm_120.
    assert_eq!(part(item, "runtime")["verdict"], "satisfied");
    assert_eq!(part(item, "kernels")["verdict"], "not-satisfied");
    let reason = item["reason"].as_str().unwrap();
    assert!(reason.contains("no kernel image is available"), "{reason}");
    assert!(reason.contains("compute capability 12.0"), "{reason}");
    assert!(codes(&json).contains(&"arch-missing-from-binary".to_owned()));
    assert_eq!(json["check"]["verdict"], "not-satisfied");
}

#[test]
fn python_torch_cu124_on_h100_runs() {
    let (code, json) = check("bare-metal-h100x8-open-580", &venv("torch-cu124"));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    let reason = item["reason"].as_str().unwrap();
    assert!(reason.contains("SASS sm_90"), "{reason}");
    assert!(reason.contains("(CUDA 12.4)"), "{reason}");
}

#[test]
fn python_torch_cu130_on_570_runtime_too_new() {
    let (code, json) = check("mixed-a4000-rtx4090-570", &venv("torch-cu130"));
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "not-satisfied");
    assert_eq!(item["framework"]["cuda"], "13.0");
    assert_eq!(
        item["framework"]["cuda_wheels"],
        serde_json::json!(["nvidia-cuda-runtime 13.0.96"])
    );
    assert_eq!(part(item, "runtime")["verdict"], "not-satisfied");
    let reason = item["reason"].as_str().unwrap();
    assert!(reason.contains("cudaErrorInsufficientDriver"), "{reason}");
    assert!(reason.contains("(CUDA 13.0)"), "{reason}");
    assert!(reason.contains("CUDA 12.8"), "{reason}");
    assert!(codes(&json).contains(&"cuda-runtime-too-new".to_owned()));
}

/// A cu128 wheel on a 535 driver (CUDA 12.2): it runs, through minor-version compatibility,
/// with the warning that PTX JIT and newer APIs fail.
#[test]
fn python_torch_cu128_on_535_runs_through_minor_version_compat() {
    let (code, json) = check("h100-pcie-proprietary-535", &venv("torch-cu128"));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    let runtime = part(item, "runtime")["reason"].as_str().unwrap();
    assert!(
        runtime.contains("through minor-version compatibility"),
        "{runtime}"
    );
    assert!(runtime.contains("(CUDA 12.8)"), "{runtime}");
    assert!(runtime.contains("CUDA 12.2"), "{runtime}");
    assert!(codes(&json).contains(&"cuda-minor-version-compat".to_owned()));
}

/// A conda environment with conda-forge's cuda-compat 12.9 (575.57.08) and torch cu128: the
/// libcuda it loads once activated is judged with the forward-compatibility rules.
const COMPAT_ENV: &str = "conda-cuda-compat-12.9-torch-cu128";

/// Accepted: an H100 on R535 (in the note's driver list, a data-center brand): the framework
/// runs on the compat's CUDA 12.9, not through minor-version compatibility on 12.2.
#[test]
fn python_env_cuda_compat_accepted_on_h100_535() {
    let (code, json) = check("h100-pcie-proprietary-535", &venv(COMPAT_ENV));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    let runtime = part(item, "runtime")["reason"].as_str().unwrap();
    assert!(
        runtime.contains("cuda-compat user-mode driver's CUDA 12.9 through forward compatibility"),
        "{runtime}"
    );
    let reason = item["reason"].as_str().unwrap();
    assert!(
        reason.contains("cuda-compat/libcuda.so.575.57.08 (575.57.08, CUDA 12.9, from cuda-compat-impl-575.57.08-"),
        "{reason}"
    );
    assert!(reason.contains("accepted by driver 535.230.02"), "{reason}");
    let codes = codes(&json);
    assert!(
        codes.contains(&"forward-compat-active".to_owned()),
        "{codes:?}"
    );
    assert!(
        !codes.contains(&"cuda-minor-version-compat".to_owned()),
        "{codes:?}"
    );
    assert!(
        !codes.contains(&"forward-compat-unsupported".to_owned()),
        "{codes:?}"
    );
}

/// Rejected: a consumer RTX 4090 (R565): forward compatibility does not run on consumer GPUs
/// (804), so the framework fails whatever its kernels, with the finding that says why.
#[test]
fn python_env_cuda_compat_rejected_on_geforce() {
    let (code, json) = check("rtx4090-565-toolkit-wheels", &venv(COMPAT_ENV));
    assert_eq!(code, 1, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "not-satisfied");
    let reason = item["reason"].as_str().unwrap();
    assert!(
        reason.contains("is loaded, but NVIDIA GeForce RTX 4090"),
        "{reason}"
    );
    assert!(
        reason.contains("CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE (804)"),
        "{reason}"
    );
    let f = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "forward-compat-unsupported")
        .unwrap_or_else(|| panic!("{json:#}"));
    assert_eq!(f["severity"], "error");
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("conda remove cuda-compat")
    );
}

/// Older than the driver (580 > 575): the activation removes its links, the system's libcuda
/// runs the framework natively.
#[test]
fn python_env_cuda_compat_older_than_the_driver_is_not_used() {
    let (code, json) = check("bare-metal-h100x8-open-580", &venv(COMPAT_ENV));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    let runtime = part(item, "runtime")["reason"].as_str().unwrap();
    assert!(
        runtime.contains("native user-mode driver's CUDA 13.0"),
        "{runtime}"
    );
    let reason = item["reason"].as_str().unwrap();
    assert!(
        reason.contains("is not loaded: the driver 580.65.06 is at least as new"),
        "{reason}"
    );
    let codes = codes(&json);
    assert!(
        !codes.contains(&"forward-compat-active".to_owned()),
        "{codes:?}"
    );
    assert!(
        !codes.contains(&"forward-compat-unsupported".to_owned()),
        "{codes:?}"
    );
}

/// The Pascal machine: `export --format uv` picks cu126, and a torch cu126 environment whose
/// library is a real `sm_61` build (`libsm61.so`, ptxas 12.6) runs there; the cu124 fixture's
/// library (`sm_75`, `sm_90`, `sm_100`) does not.
#[test]
fn python_torch_cu126_runs_on_pascal() {
    let (code, json) = check("pascal-gtx1080ti-580", &venv("torch-cu126"));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    assert_eq!(item["framework"]["cuda"], "12.6");
    let kernels = part(item, "kernels")["reason"].as_str().unwrap();
    assert!(kernels.contains("NVIDIA GeForce GTX 1080 Ti"), "{kernels}");
    assert!(kernels.contains("SASS sm_61"), "{kernels}");
    assert_eq!(part(item, "runtime")["verdict"], "satisfied");
    let uv = nvprobe(&[
        "--root",
        fixture("pascal-gtx1080ti-580").to_str().unwrap(),
        "export",
        "--format",
        "uv",
    ]);
    assert!(String::from_utf8_lossy(&uv.stdout).ends_with("UV_TORCH_BACKEND=cu126\n"));
    let (code, json) = check("pascal-gtx1080ti-580", &venv("torch-cu124"));
    assert_eq!(code, 1);
    assert_eq!(framework(&json)["verdict"], "not-satisfied");
}

#[test]
fn python_torch_cpu_only_is_its_own_verdict() {
    let (code, json) = check("rtx5090-open-570", &venv("torch-cpu"));
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "cpu-only");
    assert_eq!(json["check"]["verdict"], "cpu-only");
    assert_eq!(item["framework"]["cuda"], Value::Null);
    assert_eq!(item["framework"]["libraries"], Value::Array(Vec::new()));
    assert!(item["parts"].is_null());
    let text = nvprobe(&[
        "--root",
        fixture("rtx5090-open-570").to_str().unwrap(),
        "check",
        "--no-sandbox",
        "--python",
        venv("torch-cpu").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.starts_with("CPU only: torch 2.5.1+cpu"), "{text}");
}

#[test]
fn python_jax_with_cuda_plugins() {
    let (code, json) = check("bare-metal-h100x8-open-580", &venv("jax-cuda12"));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    assert_eq!(item["framework"]["name"], "jax");
    assert_eq!(item["framework"]["cuda"], "12");
    assert!(
        item["framework"]["libraries"][0]
            .as_str()
            .unwrap()
            .ends_with("jax_plugins/xla_cuda12/xla_cuda_plugin.so")
    );
    let (code, json) = check("rtx5090-open-570", &venv("jax-cuda12"));
    assert_eq!(code, 1);
    assert_eq!(framework(&json)["verdict"], "not-satisfied");
}

#[test]
fn python_cupy_cuda12x() {
    let (code, json) = check("bare-metal-h100x8-open-580", &venv("cupy-cuda12x"));
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["expression"], "cupy-cuda12x 13.3.0");
    assert_eq!(item["framework"]["cuda"], "12");
    assert_eq!(item["framework"]["cuda_from"], "the package name");
    assert_eq!(part(item, "nvrtc")["verdict"], "satisfied");
    assert_eq!(
        part(item, "nvrtc")["reason"],
        "libnvrtc.so.12 from nvidia-cuda-nvrtc-cu12 12.6.85"
    );
}

/// cupy compiles its kernels at run time with NVRTC: a GPU its prebuilt CUB module has no code
/// for (an RTX 5090, a Pascal GTX 1080 Ti: the module has `sm_75`, `sm_90`, `sm_100`) still runs it,
/// which `no-cuda-code` or a missing-SASS verdict would get wrong. Without NVRTC in the
/// environment it is unknown; on a CUDA 11.4 driver its CUDA 12 runtime fails.
#[test]
fn python_cupy_jit_compiles_with_nvrtc() {
    for (m, arch) in [
        ("rtx5090-open-570", "sm_120, newer than NVRTC 12.6 knows"),
        (
            "pascal-gtx1080ti-580",
            "GPU 0 (NVIDIA GeForce GTX 1080 Ti): sm_61",
        ),
    ] {
        let (code, json) = check(m, &venv("cupy-cuda12x"));
        assert_eq!(code, 0, "{m}: {json:#}");
        let item = framework(&json);
        assert_eq!(item["verdict"], "satisfied", "{m}");
        let kernels = part(item, "kernels");
        assert_eq!(kernels["verdict"], "satisfied", "{m}");
        let reason = kernels["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("compiled at run time by NVRTC for "),
            "{reason}"
        );
        assert!(reason.contains(arch), "{reason}");
        assert!(
            reason.contains("its prebuilt CUB/Thrust modules have no code for it"),
            "{reason}"
        );
        // The prebuilt module's missing architecture is not the framework's finding.
        assert!(
            !codes(&json).contains(&"arch-missing-from-binary".to_owned()),
            "{m}"
        );
        assert!(
            item["reason"]
                .as_str()
                .unwrap()
                .contains(" runs: its kernels are compiled at run time")
        );
    }
    // No NVRTC wheel: unknown, and the wheel to install.
    let dir = scratch_dir("python", "cupy-no-nvrtc");
    copy_tree(&venv("cupy-cuda12x"), &dir);
    std::fs::remove_dir_all(
        dir.join("lib/python3.12/site-packages/nvidia_cuda_nvrtc_cu12-12.6.85.dist-info"),
    )
    .unwrap();
    let (code, json) = check("bare-metal-h100x8-open-580", &dir);
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "unknown");
    assert_eq!(part(item, "nvrtc")["verdict"], "unknown");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("compiles its kernels with NVRTC (libnvrtc.so.12) at run time, and the wheel nvidia-cuda-nvrtc-cu12 is not installed"),
        "{item:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // CUDA 11.4 (R470): the CUDA 12 runtime cannot start; sm_37 is past NVRTC 12's range too.
    let (code, json) = check("legacy-k80-proprietary-470", &venv("cupy-cuda12x"));
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "not-satisfied");
    assert_eq!(part(item, "runtime")["verdict"], "not-satisfied");
    let kernels = part(item, "kernels");
    assert_eq!(kernels["verdict"], "not-satisfied");
    assert!(
        kernels["reason"]
            .as_str()
            .unwrap()
            .contains("sm_37, which NVRTC 12.6 cannot build for"),
        "{kernels:#}"
    );
}

/// The venv, its site-packages and its interpreter give the same answer; the interpreter is
/// a link to a base interpreter that need not exist here (it is never run).
#[test]
fn python_venv_site_packages_and_interpreter_agree() {
    let answer = |p: &Path| {
        let (code, json) = check("rtx5090-open-570", p);
        (code, framework(&json)["verdict"].clone())
    };
    let want = answer(&venv("torch-cu124"));
    assert_eq!(answer(&site("torch-cu124")), want);
    assert_eq!(answer(&venv("torch-cu124").join("bin/python")), want);
    assert_eq!(answer(&venv("torch-cu124").join("bin/python3")), want);
}

#[test]
fn python_no_framework_and_usage_errors() {
    let (code, json) = check("rtx5090-open-570", &venv("no-framework"));
    assert_eq!(code, 1);
    assert_eq!(framework(&json)["verdict"], "no-cuda-code");
    let out = nvprobe(&[
        "--root",
        fixture("rtx5090-open-570").to_str().unwrap(),
        "check",
        "--python",
        "/nonexistent/venv",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--python"));
}

/// A library that is a link out of the environment is not read, and the verdict is unknown,
/// never satisfied, even on a machine where the real library would run.
#[test]
fn python_links_out_of_the_venv_are_not_followed() {
    let dir = scratch_dir("python", "escape");
    copy_tree(&venv("torch-cu124"), &dir);
    let lib = dir.join("lib/python3.12/site-packages/torch/lib/libtorch_cuda.so");
    let outside = dir.join("outside.so");
    std::fs::rename(&lib, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &lib).unwrap();
    let (code, json) = check("bare-metal-h100x8-open-580", &dir);
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "unknown");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("a link out of the environment"),
        "{item:#}"
    );
    // A RECORD cut by a hostile writer: a path with `..` is never joined.
    std::fs::remove_file(&lib).unwrap();
    std::fs::rename(&outside, &lib).unwrap();
    let record = dir.join("lib/python3.12/site-packages/torch-2.5.1+cu124.dist-info/RECORD");
    let text = std::fs::read_to_string(&record).unwrap();
    std::fs::write(
        &record,
        text + "torch/lib/../../../../../../etc/libcuda_evil.so,,\n",
    )
    .unwrap();
    let (_, json) = check("bare-metal-h100x8-open-580", &dir);
    assert_eq!(framework(&json)["verdict"], "unknown");
    let _ = std::fs::remove_dir_all(&dir);
}

/// With the sandbox on (the default), the environment is read all the same.
#[test]
fn python_under_the_sandbox() {
    let out = nvprobe(&[
        "--root",
        fixture("bare-metal-h100x8-open-580").to_str().unwrap(),
        "check",
        "--json",
        "--python",
        venv("torch-cu124").to_str().unwrap(),
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{json:#}");
    assert_eq!(framework(&json)["verdict"], "satisfied");
}

/// `export --format uv` on every fixture machine: the backend, and why.
#[test]
fn python_export_uv_on_every_fixture_machine() {
    let want: &[(&str, Option<&str>, &str)] = &[
        (
            "bare-metal-h100x8-open-580",
            Some("cu130"),
            "runs the CUDA 13.0 build natively",
        ),
        (
            "compat-geforce-rtx4090-550",
            Some("cpu"),
            "CUDA cannot start here",
        ),
        (
            "container-a100-proprietary-535",
            Some("cpu"),
            "no libcuda.so.1",
        ),
        (
            "container-gpu-manager-570",
            Some("cu128"),
            "compute capability 9.0",
        ),
        // cuda-compat 12.9 under the 535 driver: its CUDA 12.9 runs cu129 natively.
        (
            "container-h100-535-compat-12.9",
            Some("cu129"),
            "gives CUDA 12.9",
        ),
        ("container-hami-580-cuda11", Some("cu130"), "CUDA 13.0"),
        ("container-missing-nodes", Some("cpu"), "device nodes"),
        ("container-no-gpu-injected", Some("cpu"), "device nodes"),
        ("container-visible-subset", Some("cu128"), "CUDA 12.8"),
        ("dkms-no-headers-550", Some("cpu"), "not loaded"),
        (
            "dkms-secure-boot-mok-not-enrolled",
            Some("cpu"),
            "not loaded",
        ),
        (
            "dpkg-desktop-flavour-orphans-570",
            Some("cu128"),
            "CUDA 12.8",
        ),
        ("dpkg-split-branch-530-535", Some("cpu"), "another release"),
        ("gvisor-h100", Some("cu130"), "CUDA 13.0"),
        ("gvisor-no-nvproxy", Some("cpu"), "not usable"),
        // 535 gives CUDA 12.2: none of the newest torch's builds is native; cu129 runs
        // through minor-version compatibility and carries sm_90 (cu121, native, is torch 2.4's
        // and only a fallback).
        (
            "h100-pcie-proprietary-535",
            Some("cu129"),
            "CUDA 12.9 build through minor-version compatibility",
        ),
        ("hgx-h100-no-fabricmanager-570", Some("cpu"), "fabric"),
        // PyTorch's table is x86-64's: nothing is pinned on a Jetson.
        ("jetson-orin-container-no-runtime", None, "not x86-64"),
        ("jetson-orin-l4t-36", None, "not x86-64"),
        ("kernel-6.8-driver-545-no-module", Some("cpu"), "not loaded"),
        ("kernel-update-no-dkms", Some("cpu"), "not loaded"),
        // CUDA 11.4 runs none of the CUDA 12/13 builds; torch 2.4's cu118 carries sm_37 and
        // runs through minor-version compatibility (CUDA 11.8 on 11.4).
        (
            "legacy-k80-proprietary-470",
            Some("cu118"),
            "CUDA 11.8 build through minor-version compatibility",
        ),
        ("mismatch-l40s-550", Some("cpu"), "another release"),
        (
            "mixed-a4000-rtx4090-570",
            Some("cu128"),
            "compute capability 8.6, 8.9",
        ),
        ("no-gpu", Some("cpu"), "no NVIDIA driver"),
        (
            "nodes-missing-rtx5090-open-570",
            Some("cpu"),
            "device nodes",
        ),
        ("nouveau", Some("cpu"), "no NVIDIA driver"),
        // Pascal on 580: CUDA 13.0 starts, but only cu126 carries sm_60 (uv's driver-only
        // pick, cu130, would have no kernel for it).
        (
            "pascal-gtx1080ti-580",
            Some("cu126"),
            "compute capability 6.1",
        ),
        (
            "pascal-unbound-open-590",
            Some("cpu"),
            "no GPU here that CUDA can use",
        ),
        (
            "permission-denied-l40s-open-550",
            Some("cpu"),
            "may not open",
        ),
        // libcuda 550 under the 560 module (split rpm packages): CUDA cannot start.
        ("rpm-split-branch-550-560", Some("cpu"), "another release"),
        // 565 gives CUDA 12.7: cu126 natively, rather than cu128 by minor-version compatibility.
        (
            "rtx4090-565-toolkit-wheels",
            Some("cu126"),
            "runs the CUDA 12.6 build natively",
        ),
        // An RTX 5090 on 570: cu128 carries sm_120 (cu126 does not; cu13x needs R580).
        ("rtx5090-open-570", Some("cu128"), "compute capability 12.0"),
        ("wsl2-ldconfig-off", Some("cpu"), "not usable"),
        ("wsl2-rtx4070", Some("cu126"), "CUDA 12.6"),
    ];
    let machines: Vec<String> = std::fs::read_dir(common::fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        want.len(),
        machines.len(),
        "a fixture without an expectation"
    );
    for (m, backend, why) in want {
        let root = fixture(m);
        let out = nvprobe(&["--root", root.to_str().unwrap(), "export", "--format", "uv"]);
        assert_eq!(out.status.code(), Some(0), "{m}");
        let text = String::from_utf8(out.stdout).unwrap();
        let pinned = text
            .lines()
            .find_map(|l| l.strip_prefix("UV_TORCH_BACKEND="));
        assert_eq!(pinned, *backend, "{m}: {text}");
        assert!(text.contains(why), "{m}: {text}");
        if let Some(b) = backend {
            assert!(
                text.contains(&format!(
                    "# pip: --index-url https://download.pytorch.org/whl/{b}\n"
                )),
                "{m}: {text}"
            );
        }
        let out = nvprobe(&[
            "--root",
            root.to_str().unwrap(),
            "export",
            "--format",
            "uv",
            "--json",
        ]);
        let json: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["UV_TORCH_BACKEND"].as_str(), *backend, "{m}");
        assert!(json["reason"].as_str().unwrap().contains(why), "{m}");
    }
}

/// A copy of `name` whose `pyvenv.cfg` says `include-system-site-packages = true` with the
/// base interpreter in `home` (the fixture's own names a path that is not on this machine).
fn with_system_site(name: &str, tag: &str, home: &str) -> common::Scratch {
    let dir = scratch_dir("python", tag);
    copy_tree(&venv(name), &dir);
    std::fs::write(
        dir.join("pyvenv.cfg"),
        format!(
            "home = {home}\ninclude-system-site-packages = true\nversion = 3.12.3\n\
             executable = {home}/python3.12\ncommand = {home}/python3 -m venv \
             --system-site-packages /opt/x\n"
        ),
    )
    .unwrap();
    dir
}

/// `include-system-site-packages = true`: the base interpreter's torch is found, judged, and
/// marked as the base's; the environment's own framework shadows the base's of the same name;
/// a `home` that is not there makes an environment without its own framework unknown.
#[test]
fn python_system_site_packages_are_read() {
    let base = venv("base-python3.12");
    let home = base.join("bin");
    let dir = with_system_site(
        "system-site-packages",
        "system-site",
        home.to_str().unwrap(),
    );
    let (code, json) = check("bare-metal-h100x8-open-580", &dir);
    assert_eq!(code, 0, "{json:#}");
    let item = framework(&json);
    assert_eq!(item["verdict"], "satisfied");
    assert_eq!(item["expression"], "torch 2.5.1+cu124");
    assert_eq!(item["framework"]["from_base"], true);
    assert!(
        item["framework"]["libraries"][0]
            .as_str()
            .unwrap()
            .starts_with(base.to_str().unwrap())
    );
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("(from the base interpreter: include-system-site-packages = true)"),
        "{item:#}"
    );
    // Read under the sandbox too (the base's site-packages is allowed like the venv's).
    let out = nvprobe(&[
        "--root",
        fixture("bare-metal-h100x8-open-580").to_str().unwrap(),
        "check",
        "--json",
        "--python",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The fixture as written, its false flag: the base is not read.
    let (code, json) = check("bare-metal-h100x8-open-580", &venv("torch-cu128"));
    assert_eq!(code, 0);
    assert_eq!(framework(&json)["framework"]["from_base"], false);
    // The environment's own torch cu128 shadows the base's cu124.
    let own = with_system_site("torch-cu128", "system-site-own", home.to_str().unwrap());
    let (_, json) = check("bare-metal-h100x8-open-580", &own);
    let item = framework(&json);
    assert_eq!(item["expression"], "torch 2.9.0+cu128");
    assert_eq!(item["framework"]["from_base"], false);
    // A home that is not there (the fixture's own pyvenv.cfg): no verdict, and why.
    let (code, json) = check("bare-metal-h100x8-open-580", &venv("system-site-packages"));
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "unknown");
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("include-system-site-packages = true, but the base interpreter's prefix /opt/base-python3.12"),
        "{item:#}"
    );
    // A relative home is refused.
    let rel = with_system_site("system-site-packages", "system-site-rel", "../base/bin");
    let (_, json) = check("bare-metal-h100x8-open-580", &rel);
    assert!(
        framework(&json)["reason"]
            .as_str()
            .unwrap()
            .contains("no absolute home"),
        "{json:#}"
    );
    for d in [dir, own, rel] {
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// The uv pick says why, in its comment line: the driver release and the CUDA version it
/// gives, each GPU with its architecture and the code it runs, and why each newer build is not
/// the pick. The lines scripts read stay as they were: two comments, then the assignment.
#[test]
fn python_export_uv_names_the_driver_and_the_architecture() {
    let uv = |m: &str| {
        let out = nvprobe(&[
            "--root",
            fixture(m).to_str().unwrap(),
            "export",
            "--format",
            "uv",
        ]);
        assert_eq!(out.status.code(), Some(0), "{m}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = uv("pascal-gtx1080ti-580");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[1],
        "# pip: --index-url https://download.pytorch.org/whl/cu126"
    );
    assert_eq!(lines[2], "UV_TORCH_BACKEND=cu126");
    let why = lines[0];
    assert!(
        why.starts_with("# nvprobe: cu126: the driver 580.95.05 gives CUDA 13.0, "),
        "{why}"
    );
    assert!(
        why.contains("(GPU 0 NVIDIA GeForce GTX 1080 Ti, sm_61 Pascal: SASS sm_60)"),
        "{why}"
    );
    assert!(
        why.contains("cu128 has no code for sm_61, its SASS starts at sm_70"),
        "{why}"
    );
    assert!(
        why.contains("cu130 has no code for sm_61, its SASS starts at sm_75"),
        "{why}"
    );
    // An RTX 5090 on 570 (CUDA 12.8): cu129 only through minor-version compatibility, cu130
    // needs a newer driver.
    let why = uv("rtx5090-open-570");
    assert!(
        why.contains("the driver 570.195.03 gives CUDA 12.8"),
        "{why}"
    );
    assert!(why.contains("sm_120 Blackwell: SASS sm_120"), "{why}");
    assert!(
        why.contains("cu129 (CUDA 12.9) runs only through minor-version compatibility"),
        "{why}"
    );
    assert!(
        why.contains("cu130 needs CUDA 13.0 (a newer driver)"),
        "{why}"
    );
    // cuda-compat on 535: the CUDA version comes from it, and the reason says so.
    let why = uv("container-h100-535-compat-12.9");
    assert!(
        why.contains("the cuda-compat libcuda on driver 535.216.03 gives CUDA 12.9"),
        "{why}"
    );
    // A build from torch 2.4's lists says to pin torch 2.4: cu118 on a K80 with R470.
    let why = uv("legacy-k80-proprietary-470");
    assert!(
        why.contains("GPU 0 Tesla K80, GPU 1 Tesla K80, sm_37 Kepler: SASS sm_37"),
        "{why}"
    );
    assert!(
        why.contains("cu121 needs CUDA 12.1 (a newer driver)"),
        "{why}"
    );
    assert!(
        why.contains("the code lists are torch 2.4's: install torch==2.4.*"),
        "{why}"
    );
    assert!(why.ends_with("UV_TORCH_BACKEND=cu118\n"), "{why}");
    // No build fits (compute capability 3.0 on the K80 machine): each build's reason.
    let out = common::nvprobe_env(
        &[
            "--root",
            fixture("legacy-k80-proprietary-470").to_str().unwrap(),
            "export",
            "--format",
            "uv",
        ],
        &[("NVPROBE_COMPUTE_CAPABILITY", "3.0")],
    );
    let why = String::from_utf8(out.stdout).unwrap();
    assert!(why.ends_with("UV_TORCH_BACKEND=cpu\n"), "{why}");
    assert!(
        why.contains("cu124 needs CUDA 12.4 (a newer driver); cu121 needs CUDA 12.1 (a newer driver); cu118 has no code for sm_30, its SASS starts at sm_37"),
        "{why}"
    );
}

/// A FIFO where `torch/version.py` should be is not opened (it would block): the verdict is
/// unknown, and the run ends.
#[test]
fn python_a_fifo_is_not_opened() {
    let dir = scratch_dir("python", "fifo");
    copy_tree(&venv("torch-cu124"), &dir);
    let version = dir.join("lib/python3.12/site-packages/torch/version.py");
    std::fs::remove_file(&version).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&version).status();
    if !made.is_ok_and(|s| s.success()) {
        println!("skipped: no mkfifo");
        return;
    }
    let (code, json) = check("bare-metal-h100x8-open-580", &dir);
    assert_eq!(code, 1);
    let item = framework(&json);
    assert_eq!(item["verdict"], "unknown", "{item:#}");
    assert!(
        item["reason"].as_str().unwrap().contains("not a file"),
        "{item:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
