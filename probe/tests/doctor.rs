//! The compatibility doctor (issue 6) on the fixture machines: `nvprobe check --cuda`,
//! `--require`, the `NVIDIA_REQUIRE_*` environment, the overrides, and the library findings of
//! the plain report. Every verdict, every rule-table edge, exit codes, one-line reasons, JSON.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::Path;

use serde_json::Value;

mod common;
use common::{codes, fixture, nvprobe_env as nvprobe};

/// `nvprobe check ARGS --root FIXTURE` as text: (exit code, first line, whole stdout).
fn check(machine: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let root = fixture(machine);
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--root", root.to_str().unwrap()]);
    let out = nvprobe(&all, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first = stdout.lines().next().unwrap_or_default().to_owned();
    (out.status.code().unwrap(), first, stdout)
}

/// `nvprobe check ARGS --json --root FIXTURE`: (exit code, JSON).
fn check_json(machine: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let root = fixture(machine);
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--root", root.to_str().unwrap()]);
    let out = nvprobe(&all, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let typed: nvprobe::report::Report = serde_json::from_str(&stdout).expect("typed report");
    assert_eq!(typed.schema_version, 1);
    let _: nvprobe::report::CheckResult =
        serde_json::from_value(v["check"].clone()).expect("typed check");
    (out.status.code().unwrap(), v)
}

fn report(machine: &str, env: &[(&str, &str)]) -> (i32, Value) {
    let root = fixture(machine);
    let out = nvprobe(&["--json", "--root", root.to_str().unwrap()], env);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.code().unwrap(), v)
}

fn finding<'a>(r: &'a Value, code: &str) -> &'a Value {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", codes(r)))
}

// --- --cuda: native, minor-version compatibility, forward compatibility, too new ---------------

#[test]
fn doctor_cuda_native() {
    let (code, line, _) = check("bare-metal-h100x8-open-580", &["--cuda", "13.0"], &[]);
    assert_eq!(code, 0);
    assert!(
        line.starts_with("satisfied: CUDA 13.0 runs natively"),
        "{line}"
    );
    let (code, v) = check_json("bare-metal-h100x8-open-580", &["--cuda", "12.4"], &[]);
    assert_eq!(code, 0);
    assert_eq!(v["check"]["verdict"], "satisfied");
    assert_eq!(v["check"]["checks"][0]["via"], "native");
}

/// Rule edge: 13.x on 580.65.06 (the 13.0 GA driver and the CUDA 13 MVC floor).
#[test]
fn doctor_cuda_13_on_580_65_06_is_minor_version_compat() {
    let (code, v) = check_json("bare-metal-h100x8-open-580", &["--cuda", "13.2"], &[]);
    assert_eq!(code, 0, "{:#}", v["check"]);
    assert_eq!(v["check"]["checks"][0]["via"], "minor-version-compat");
    let f = finding(&v, "cuda-minor-version-compat");
    assert_eq!(f["severity"], "warning");
    assert!(f["message"].as_str().unwrap().contains("580.65.06"));
    assert!(f["message"].as_str().unwrap().contains("PTX"));
}

/// Rule edge: R565 reports CUDA 12.7, which no toolkit has.
#[test]
fn doctor_cuda_r565_is_12_7() {
    let m = "rtx4090-565-toolkit-wheels";
    let (code, line, _) = check(m, &["--cuda", "12.7"], &[]);
    assert_eq!(code, 0);
    assert!(
        line.contains("runs natively") && line.contains("12.7"),
        "{line}"
    );
    let (code, line, out) = check(m, &["--cuda", "12.8"], &[]);
    assert_eq!(code, 0);
    assert!(line.contains("minor-version compatibility"), "{line}");
    assert!(out.contains("WARNING cuda-minor-version-compat"), "{out}");
    let (code, v) = check_json(m, &["--cuda", "13.0"], &[]);
    assert_eq!(code, 1);
    let f = finding(&v, "cuda-runtime-too-new");
    assert!(f["message"].as_str().unwrap().contains("580.65.06"), "{f}");
    assert!(f["remedy"].as_str().unwrap().contains("R580"), "{f}");
    assert_eq!(report(m, &[]).1["driver"]["cuda_version"], "12.7");
}

/// Rule edge: the CUDA 12 MVC floor is 525.60.13 exactly, compared as a full version.
#[test]
fn doctor_cuda_mvc_floor_525_60_13_exactly() {
    let (code, v) = check_json(
        "no-gpu",
        &["--cuda", "12.4"],
        &[("NVPROBE_DRIVER_VERSION", "525.60.13")],
    );
    assert_eq!(code, 0, "{:#}", v["check"]);
    assert_eq!(v["check"]["checks"][0]["via"], "minor-version-compat");
    assert!(codes(&v).contains(&"override-used".to_owned()));
    assert_eq!(v["driver"]["source"], "override");
    assert_eq!(v["driver"]["cuda_version"], "12.0");

    let (code, line, _) = check(
        "no-gpu",
        &["--cuda", "12.4"],
        &[("NVPROBE_DRIVER_VERSION", "525.60.12")],
    );
    assert_eq!(code, 1);
    assert!(
        line.starts_with("not satisfied: CUDA 12.4 is too new"),
        "{line}"
    );
    assert!(line.contains("550.54.14"), "{line}");
    // 12.0 itself runs natively on every R525 build (the branch rule).
    let (code, _, _) = check(
        "no-gpu",
        &["--cuda", "12.0"],
        &[("NVPROBE_DRIVER_VERSION", "525.60.12")],
    );
    assert_eq!(code, 0);
}

#[test]
fn doctor_cuda_too_new() {
    let (code, v) = check_json("container-a100-proprietary-535", &["--cuda", "13.0"], &[]);
    assert_eq!(code, 1);
    assert_eq!(v["check"]["verdict"], "not-satisfied");
    let f = finding(&v, "cuda-runtime-too-new");
    assert_eq!(f["severity"], "error");
    // A data-center GPU: forward compatibility is offered as a way out.
    assert!(
        f["remedy"].as_str().unwrap().contains("cuda-compat-13-0"),
        "{f}"
    );
}

#[test]
fn doctor_cuda_forward_compat_active() {
    let m = "container-h100-535-compat-12.9";
    let (code, r) = report(m, &[]);
    assert_eq!(code, 0);
    assert_eq!(codes(&r), ["forward-compat-active"]);
    let lib = &r["libraries"][0];
    assert_eq!(lib["kind"], "cuda-compat");
    assert_eq!(lib["selected"], true);
    assert_eq!(lib["found_by"], "ld-so-cache");
    assert_eq!(lib["version"], "575.57.08");
    assert_eq!(lib["fwd_compat"]["cuda_version"], "12.9");
    assert_eq!(
        lib["fwd_compat"]["driver_branches"],
        serde_json::json!([535, 550, 560, 565, 570, 575])
    );
    let (code, v) = check_json(m, &["--cuda", "12.9"], &[]);
    assert_eq!(code, 0);
    assert_eq!(v["check"]["checks"][0]["via"], "forward-compat");
    // Forward compatibility gives 12.9, not 13.0 (which needs a 580 user-mode driver).
    let (code, line, _) = check(m, &["--cuda", "13.0"], &[]);
    assert_eq!(code, 1);
    assert!(line.contains("too new"), "{line}");
}

#[test]
fn doctor_cuda_forward_compat_unsupported_on_geforce() {
    let m = "compat-geforce-rtx4090-550";
    let (code, r) = report(m, &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["forward-compat-unsupported"]);
    let f = finding(&r, "forward-compat-unsupported");
    assert!(f["message"].as_str().unwrap().contains("804"), "{f}");
    assert!(
        f["remedy"]
            .as_str()
            .unwrap()
            .contains("/usr/local/cuda-12.9/compat")
    );
    // Even a version the driver runs natively fails: cuInit refuses.
    let (code, line, _) = check(m, &["--cuda", "12.4"], &[]);
    assert_eq!(code, 1);
    assert!(
        line.contains("cuda-compat library") && line.contains("not usable"),
        "{line}"
    );
}

/// A cuda-compat library whose branch list lacks the host's branch.
#[test]
fn doctor_cuda_forward_compat_unsupported_branch() {
    let (code, r) = report(
        "container-h100-535-compat-12.9",
        &[("NVPROBE_DRIVER_VERSION", "545.23.08")],
    );
    assert_eq!(code, 1);
    let f = finding(&r, "forward-compat-unsupported");
    assert!(f["message"].as_str().unwrap().contains("R545"), "{f}");
}

#[test]
fn doctor_cuda_arch_unsupported_by_driver() {
    let (code, v) = check_json("pascal-unbound-open-590", &["--cuda", "12.4"], &[]);
    assert_eq!(code, 1);
    let f = finding(&v, "arch-unsupported-by-driver");
    assert!(f["message"].as_str().unwrap().contains("Pascal"), "{f}");
    assert!(f["remedy"].as_str().unwrap().contains("R580"), "{f}");
    assert!(
        v["check"]["reason"].as_str().unwrap().contains("R580"),
        "{}",
        v["check"]["reason"]
    );
}

/// CUDA 13 cannot target Pascal at all, whatever the driver (checked with an overridden one).
#[test]
fn doctor_cuda_cannot_target_arch() {
    let (code, line, out) = check(
        "no-gpu",
        &["--cuda", "13.0"],
        &[
            ("NVPROBE_DRIVER_VERSION", "580.95.05"),
            ("NVPROBE_COMPUTE_CAPABILITY", "6.1"),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        line.contains("compute capability 6.1") && line.contains("12.9"),
        "{line}"
    );
    assert!(out.contains("ERROR cuda-cannot-target-arch"), "{out}");
    // Too old a CUDA for Blackwell (12.0 needs CUDA 12.8).
    let (code, line, _) = check(
        "no-gpu",
        &["--cuda", "12.4"],
        &[
            ("NVPROBE_DRIVER_VERSION", "570.195.03"),
            ("NVPROBE_COMPUTE_CAPABILITY", "12.0"),
        ],
    );
    assert_eq!(code, 1);
    assert!(line.contains("predates"), "{line}");
    // Kepler K80 with CUDA 12.0.
    let (code, line, _) = check("legacy-k80-proprietary-470", &["--cuda", "12.0"], &[]);
    assert_eq!(code, 1);
    assert!(line.contains("3.7") && line.contains("11.8"), "{line}");
}

#[test]
fn doctor_cuda_no_driver() {
    let (code, line, _) = check("no-gpu", &["--cuda", "12.4"], &[]);
    assert_eq!(code, 1);
    assert!(line.contains("no NVIDIA driver"), "{line}");
    // A CUDA version alone is enough on a build host.
    let (code, line, _) = check(
        "no-gpu",
        &["--cuda", "12.4"],
        &[("NVPROBE_CUDA_VERSION", "12.6")],
    );
    assert_eq!(code, 0, "{line}");
}

#[test]
fn doctor_cuda_library_mismatch_blocks() {
    let (code, line, _) = check("mismatch-l40s-550", &["--cuda", "12.4"], &[]);
    assert_eq!(code, 1);
    assert!(
        line.contains("550.107.02") && line.contains("550.90.07"),
        "{line}"
    );
}

#[test]
fn doctor_cuda_usage_errors() {
    for bad in ["twelve", "12.x", ""] {
        let (code, _, out) = check("no-gpu", &["--cuda", bad], &[]);
        assert_eq!(code, 2, "{bad}: {out}");
        assert!(out.is_empty());
    }
}

// --- --require and the environment --------------------------------------------------------

const IMAGE_12_4: &str = "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 brand=nvidia,driver>=470,driver<471 brand=tesla,driver>=535,driver<536 brand=nvidia,driver>=535,driver<536";

#[test]
fn doctor_require_image_expression() {
    // A100 on R535 (CUDA 12.2): the brand,driver>=535,driver<536 group holds.
    let (code, v) = check_json(
        "container-a100-proprietary-535",
        &["--require", IMAGE_12_4],
        &[],
    );
    assert_eq!(code, 0, "{:#}", v["check"]);
    // GeForce on 550 (CUDA 12.4): cuda>=12.4 holds.
    let (code, _, _) = check(
        "rtx4090-565-toolkit-wheels",
        &["--require", IMAGE_12_4],
        &[],
    );
    assert_eq!(code, 0);
    // GeForce on 550 asking for 12.6: no group holds; the reason names the last false
    // condition and carries libnvidia-container's hint.
    let (code, line, _) = check(
        "compat-geforce-rtx4090-550",
        &["--require", "cuda>=12.6 brand=tesla,driver>=550,driver<551"],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        line.contains("unsatisfied condition: brand = tesla"),
        "{line}"
    );
    assert!(line.contains("please update your driver"), "{line}");
}

#[test]
fn doctor_require_every_gpu_must_pass_and_versions_compare_like_dsl_c() {
    let m = "bare-metal-h100x8-open-580";
    for (expr, want) in [
        ("arch>=9.0", 0),
        ("arch=9", 0),
        ("arch>9.0", 1),
        ("driver>=580.65.6", 0),
        ("driver<580.65.06.1", 0),
        ("driver>=580,driver<581", 0),
        ("cuda=13.0.0", 0),
        ("CUDA>=13 BRAND=NVIDIA", 0),
        ("brand!=geforce", 0),
        ("brand=tesla", 1),
        ("cuda>=13.1 driver<500", 1),
    ] {
        let (code, line, _) = check(m, &["--require", expr], &[]);
        assert_eq!(code, want, "{expr}: {line}");
    }
}

#[test]
fn doctor_require_missing_data_is_true() {
    let (code, line, _) = check(
        "no-gpu",
        &["--require", "cuda>=13.0,arch>=9.0,brand=tesla"],
        &[],
    );
    assert_eq!(code, 0, "{line}");
    assert!(line.contains("missing data"), "{line}");
}

#[test]
fn doctor_require_malformed_is_exit_2_with_position() {
    for (expr, pos) in [
        ("cuda>=12.4 cdua>=12", "position 12"),
        ("cuda=>12.4", "position 5"),
        ("brand<tesla", "position 6"),
        ("driver>=535x", "position 9"),
        ("cuda>=", "position 5"),
    ] {
        let root = fixture("no-gpu");
        let out = nvprobe(
            &["check", "--require", expr, "--root", root.to_str().unwrap()],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{expr}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(pos), "{expr}: {err}");
        assert!(err.contains('^'), "{err}");
    }
}

#[test]
fn doctor_require_from_environment() {
    let m = "container-a100-proprietary-535";
    let (code, line, _) = check(m, &[], &[("NVIDIA_REQUIRE_CUDA", "cuda>=12.4")]);
    assert_eq!(code, 1);
    assert!(
        line.starts_with("not satisfied: NVIDIA_REQUIRE_CUDA: unsatisfied condition: cuda >= 12.4"),
        "{line}"
    );
    // Every NVIDIA_REQUIRE_* must hold.
    let (code, line, _) = check(
        m,
        &[],
        &[
            ("NVIDIA_REQUIRE_CUDA", "cuda>=12.0"),
            ("NVIDIA_REQUIRE_ARCH", "arch>=9.0"),
        ],
    );
    assert_eq!(code, 1);
    assert!(line.contains("NVIDIA_REQUIRE_ARCH"), "{line}");
    // NVIDIA_DISABLE_REQUIRE turns them off.
    let (code, _, _) = check(
        m,
        &[],
        &[
            ("NVIDIA_REQUIRE_CUDA", "cuda>=12.4"),
            ("NVIDIA_DISABLE_REQUIRE", "true"),
        ],
    );
    assert_eq!(code, 0);
    // Legacy images: CUDA_VERSION alone means cuda>=major.minor.
    let (code, line, _) = check(m, &[], &[("CUDA_VERSION", "12.4.1")]);
    assert_eq!(code, 1);
    assert!(
        line.contains("CUDA_VERSION") && line.contains("cuda >= 12.4"),
        "{line}"
    );
    // A malformed variable is exit 2.
    let (code, line, _) = check(m, &[], &[("NVIDIA_REQUIRE_CUDA", "cuda>>12")]);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("position 5"), "{line}");
    // Nothing to check.
    let (code, line, _) = check(m, &[], &[]);
    assert_eq!(code, 0);
    assert!(line.contains("nothing to check"), "{line}");
}

// --- the plain report ----------------------------------------------------------------------

#[test]
fn doctor_driver_library_mismatch() {
    let (code, r) = report("mismatch-l40s-550", &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["driver-library-mismatch"]);
    let f = finding(&r, "driver-library-mismatch");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("550.107.02") && msg.contains("550.90.07"),
        "{msg}"
    );
    assert!(msg.contains("Driver/library version mismatch"), "{msg}");
    assert!(f["remedy"].as_str().unwrap().contains("reboot"));
    let libs = r["libraries"].as_array().unwrap();
    assert_eq!(
        libs[0]["path"],
        "/usr/lib/x86_64-linux-gnu/libcuda.so.550.107.02"
    );
    assert_eq!(
        libs[0]["found_as"],
        "/usr/lib/x86_64-linux-gnu/libcuda.so.1"
    );
    assert_eq!(libs[0]["soname"], "libcuda.so.1");
    assert_eq!(libs[1]["kind"], "nvml");
    // The text report says what is wrong and what to run.
    let root = fixture("mismatch-l40s-550");
    let out = nvprobe(&["--root", root.to_str().unwrap()], &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ERROR   driver-library-mismatch"), "{text}");
    assert!(
        text.contains("Fix: The driver packages were upgraded"),
        "{text}"
    );
    assert!(
        text.contains("Libraries /usr/lib/x86_64-linux-gnu/libcuda.so.550.107.02"),
        "{text}"
    );
}

#[test]
fn doctor_fabric_manager() {
    let (code, r) = report("hgx-h100-no-fabricmanager-570", &[]);
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["fabric-manager-missing"]);
    assert!(
        finding(&r, "fabric-manager-missing")["remedy"]
            .as_str()
            .unwrap()
            .contains("nvidia-fabricmanager-570")
    );
    // The 8-GPU HGX fixture runs its fabric manager of the driver's version.
    let (code, r) = report("bare-metal-h100x8-open-580", &[]);
    assert_eq!(code, 0);
    assert!(!codes(&r).contains(&"fabric-manager-missing".to_owned()));
}

#[test]
fn doctor_inventory_toolkit_wheels_and_stubs() {
    let m = "rtx4090-565-toolkit-wheels";
    let (code, r) = report(m, &[("VIRTUAL_ENV", "/opt/venv")]);
    assert_eq!(code, 0, "{:?}", codes(&r));
    let libs = r["libraries"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| libs.iter().find(|l| pred(l)).unwrap().clone();
    let wheel = find(&|l| l["found_by"] == "python-wheel");
    assert_eq!(wheel["kind"], "cuda-runtime");
    assert_eq!(wheel["version"], "12.6.77");
    assert_eq!(wheel["cuda_version"], "12.6");
    let cudart = find(&|l| l["selected"] == true && l["kind"] == "cuda-runtime");
    assert_eq!(cudart["version"], "12.6.77");
    let stub = find(&|l| l["stub"] == true);
    assert_eq!(stub["selected"], false);
    // LD_LIBRARY_PATH pointing at the stubs (the Docker-build trick) selects a stub.
    let env = [(
        "LD_LIBRARY_PATH",
        "/usr/local/cuda/targets/x86_64-linux/lib/stubs",
    )];
    let (code, r) = report(m, &env);
    assert_eq!(code, 1);
    assert_eq!(codes(&r), ["stub-library-selected"]);
    assert_eq!(r["libraries"][0]["found_by"], "ld-library-path");
}

#[test]
fn doctor_overrides() {
    let (code, r) = report(
        "no-gpu",
        &[
            ("NVPROBE_DRIVER_VERSION", "550.54.15"),
            ("NVPROBE_COMPUTE_CAPABILITY", "8.6"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(r["driver"]["version"], "550.54.15");
    assert_eq!(r["driver"]["branch"], 550);
    assert_eq!(r["driver"]["cuda_version"], "12.4");
    assert_eq!(r["driver"]["source"], "override");
    assert_eq!(r["gpus"][0]["compute_capability"], "8.6");
    assert_eq!(r["gpus"][0]["compute_capability_source"], "override");
    assert_eq!(finding(&r, "override-used")["severity"], "info");
    // A CUDA override replaces the detected driver's CUDA version.
    let (_, r) = report(
        "bare-metal-h100x8-open-580",
        &[("NVPROBE_CUDA_VERSION", "13.1")],
    );
    assert_eq!(r["driver"]["cuda_version"], "13.1");
    assert_eq!(r["driver"]["version"], "580.65.06");
    // Malformed values are a finding, not a crash.
    let (code, r) = report(
        "no-gpu",
        &[
            ("NVPROBE_DRIVER_VERSION", "latest"),
            ("NVPROBE_COMPUTE_CAPABILITY", "sm_90"),
        ],
    );
    assert_eq!(code, 0);
    assert_eq!(r["driver"], Value::Null);
    let msg = finding(&r, "override-invalid")["message"].as_str().unwrap();
    assert!(
        msg.contains("NVPROBE_DRIVER_VERSION") && msg.contains("NVPROBE_COMPUTE_CAPABILITY"),
        "{msg}"
    );
}

/// Every fixture answers `check --cuda` with 0 or 1 and a one-line reason.
#[test]
fn doctor_every_fixture_answers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.join("proc").exists() {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        for cuda in ["11.8", "12.4", "13.0"] {
            let (code, line, _) = check(&name, &["--cuda", cuda], &[]);
            assert!(matches!(code, 0 | 1), "{name} {cuda}: {code}");
            let want = if code == 0 {
                "satisfied: "
            } else {
                "not satisfied: "
            };
            assert!(line.starts_with(want), "{name} {cuda}: {line}");
            assert!(line.contains(cuda), "{name} {cuda}: {line}");
        }
        seen += 1;
    }
    assert!(seen >= 14, "{seen}");
}

/// `brand=` conditions see the NVML brand `nvidia-smi -q` reports (`data/nvml-brands.tsv`): a
/// `GeForce RTX` card is `geforce`, an H100 `nvidia`, never a guess from the name; a GPU whose
/// brand is not known makes a `brand=` requirement unknown, not satisfied.
#[test]
fn doctor_require_brand_is_the_nvml_brand() {
    for (machine, expr, want) in [
        ("rtx4090-565-toolkit-wheels", "brand=geforce", "satisfied"),
        (
            "rtx4090-565-toolkit-wheels",
            "brand=geforcertx",
            "not-satisfied",
        ),
        ("bare-metal-h100x8-open-580", "brand=nvidia", "satisfied"),
        ("bare-metal-h100x8-open-580", "brand=tesla", "not-satisfied"),
        ("legacy-k80-proprietary-470", "brand=tesla", "satisfied"),
        (
            "mixed-a4000-rtx4090-570",
            "brand=nvidiartx",
            "not-satisfied",
        ),
        ("jetson-orin-l4t-36", "brand=tesla", "unknown"),
        ("jetson-orin-l4t-36", "cuda>=12.0", "satisfied"),
    ] {
        let (code, v) = check_json(machine, &["--require", expr], &[]);
        let verdict = v["check"]["verdict"].as_str().unwrap_or_default();
        assert_eq!(verdict, want, "{machine} {expr}: {}", v["check"]["reason"]);
        assert_eq!(code, i32::from(want != "satisfied"), "{machine} {expr}");
    }
}

/// The library inventory searches as the machine's loader does, not as nvprobe's own would:
/// an aarch64 root (an SBSA server's, read on an x86-64 machine) is searched in
/// `aarch64-linux-gnu`, not `x86_64-linux-gnu`, and an x86-64 library found there is flagged
/// as ELF for another machine.
#[test]
fn doctor_library_search_follows_the_machines_architecture() {
    let dir = common::Scratch::absent("doctor-arm");
    common::copy_tree(&fixture("mixed-a4000-rtx4090-570"), &dir);
    let version = dir.join("proc/driver/nvidia/version");
    let text = std::fs::read_to_string(&version).unwrap();
    assert!(text.contains("for x86_64"), "{text}");
    std::fs::write(&version, text.replace("for x86_64", "for aarch64")).unwrap();
    let run = |dir: &Path| {
        let out = nvprobe(&["--json", "--root", dir.to_str().unwrap()], &[]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    // The libraries sit in the x86-64 directory, which an aarch64 loader never searches.
    let v = run(&dir);
    assert_eq!(v["platform"]["arch"], "aarch64");
    let libs = v["libraries"].as_array().unwrap();
    assert!(
        libs.iter().all(|l| !l["path"]
            .as_str()
            .unwrap()
            .starts_with("/usr/lib/x86_64-linux-gnu/")
            || l["found_by"] != "default-dir"),
        "{libs:#?}"
    );
    assert_ne!(v["cuda"]["can_start"], "yes", "{:#}", v["cuda"]);
    // In the aarch64 directory they are found, and being x86-64 ELF files, flagged.
    std::fs::rename(
        dir.join("usr/lib/x86_64-linux-gnu"),
        dir.join("usr/lib/aarch64-linux-gnu"),
    )
    .unwrap();
    let v = run(&dir);
    let libs = v["libraries"].as_array().unwrap();
    let cuda = libs
        .iter()
        .find(|l| {
            l["path"]
                .as_str()
                .unwrap()
                .starts_with("/usr/lib/aarch64-linux-gnu/libcuda.so.")
        })
        .unwrap_or_else(|| panic!("{libs:#?}"));
    assert!(
        cuda["problem"]
            .as_str()
            .is_some_and(|p| p.contains("ELF for another machine")),
        "{cuda:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
