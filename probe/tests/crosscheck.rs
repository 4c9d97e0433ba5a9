//! The NVML cross-check end to end: the real `nvprobe-shim` dlopens a stand-in
//! `libnvidia-ml.so.1` (and `libcuda.so.1`) compiled here from `tests/nvml-standin/*.c`, found
//! through `LD_LIBRARY_PATH`; nvprobe runs it, enforces the deadline and compares.
//!
//! Two layers:
//! - always on: `nvprobe::crosscheck::run_cross_check` in-process, with the shim path pointing
//!   at a per-scenario wrapper script that sets the environment and `exec`s the real shim (so
//!   the process nvprobe kills is the shim itself);
//! - the real `nvprobe --json --cross-check` binary on a fixture
//!   machine, with `NVPROBE_SHIM` and `LD_LIBRARY_PATH` in its environment.
//!
//! Everything that is written and later executed (scripts, copies of binaries) is written once,
//! before any test spawns a process, so no test can hit ETXTBSY from another test's fork.
//!
//! Needs a C compiler (`$CC`, else `cc`). The shim is built with `cargo build -p nvprobe-shim`
//! into the current target directory, or taken from `NVPROBE_TEST_SHIM` when set.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test set-up helpers: a failed step should stop the test with its message"
)]

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nvprobe::crosscheck::{self, Status, run_cross_check};
use nvprobe::report::{Report, Severity, SourceStatus};

/// A scenario: a wrapper script that runs the real shim with this environment.
struct Scenario {
    name: &'static str,
    /// Stand-in library directories for `LD_LIBRARY_PATH` (`full`, `old`, `notnvml`, `cuda`,
    /// `empty`).
    libs: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "agree",
        libs: &["full", "cuda"],
        env: &[],
    },
    Scenario {
        name: "disagree",
        libs: &["full", "cuda"],
        env: &[
            ("NVML_STANDIN_DRIVER", "580.82.07"),
            (
                "NVML_STANDIN_GPU0_UUID",
                "GPU-00000000-0000-0000-0000-000000000bad",
            ),
            ("NVML_STANDIN_GPU0_MEM", "42"),
        ],
    },
    Scenario {
        name: "driver-not-loaded",
        libs: &["full"],
        env: &[("NVML_STANDIN_MODE", "init-driver-not-loaded")],
    },
    Scenario {
        name: "no-permission",
        libs: &["full"],
        env: &[("NVML_STANDIN_MODE", "init-no-permission")],
    },
    Scenario {
        name: "rm-mismatch",
        libs: &["full"],
        env: &[("NVML_STANDIN_MODE", "init-rm-mismatch")],
    },
    // An old NVML cannot report the compute capability: the wrong one here is not compared.
    Scenario {
        name: "old",
        libs: &["old", "cuda"],
        env: &[("NVML_STANDIN_GPU0_CC", "8.0")],
    },
    // ... and its CUDA version comes from libcuda's cuDriverGetVersion instead.
    Scenario {
        name: "old-cuda-differs",
        libs: &["old", "cuda"],
        env: &[("CUDA_STANDIN_VERSION", "12080")],
    },
    Scenario {
        name: "not-nvml",
        libs: &["notnvml"],
        env: &[],
    },
    Scenario {
        name: "no-library",
        libs: &["empty"],
        env: &[],
    },
    Scenario {
        name: "hang",
        libs: &["full"],
        env: &[("NVML_STANDIN_MODE", "hang")],
    },
    Scenario {
        name: "crash",
        libs: &["full"],
        env: &[("NVML_STANDIN_MODE", "crash")],
    },
    Scenario {
        name: "noise",
        libs: &["full", "cuda"],
        env: &[("NVML_STANDIN_MODE", "noise")],
    },
    Scenario {
        name: "device-errors",
        libs: &["full", "cuda"],
        env: &[("NVML_STANDIN_MODE", "device-errors")],
    },
];

/// Fake shims: scripts that misbehave the ways a broken or foreign binary could.
const FAKES: &[(&str, &str)] = &[
    ("garbage", "printf 'Segmentation fault? not JSON\\n'"),
    ("empty", "exit 0"),
    (
        "wrong-protocol",
        r#"printf '{"protocol":"nvprobe-shim/2","init":{"function":"x"}}\n'"#,
    ),
    (
        "exit-nonzero",
        r#"printf '{"protocol":"nvprobe-shim/1","library":{"name":"x","error":{"code":"library-not-found","message":"m"}}}\n'; exit 3"#,
    ),
    ("huge", "head -c 3000000 /dev/zero | tr '\\0' 'x'"),
    ("endless", "exec yes '{\"protocol\":\"nvprobe-shim/1\"}'"),
    ("silent-hang", "exec sleep 60"),
    (
        "answers-then-hangs",
        r#"printf '{"protocol":"nvprobe-shim/1","library":{"name":"x","error":{"code":"library-not-found","message":"m"}}}\n'; sleep 60"#,
    ),
];

struct Setup {
    dir: PathBuf,
    shim: PathBuf,
}

impl Setup {
    fn lib_dir(&self, name: &str) -> PathBuf {
        self.dir.join("lib").join(name)
    }

    fn scenario(&self, name: &str) -> PathBuf {
        self.dir.join("scenario").join(name).join("nvprobe-shim")
    }

    fn pidfile(&self, name: &str) -> PathBuf {
        self.dir.join("scenario").join(name).join("pid")
    }

    fn fake(&self, name: &str) -> PathBuf {
        self.dir.join("fake").join(name).join("nvprobe-shim")
    }

    fn ld_library_path(&self, libs: &[&str]) -> String {
        libs.iter()
            .map(|l| self.lib_dir(l).display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("nvprobe-crosscheck-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let setup = Setup {
            shim: shim_binary(),
            dir,
        };
        build_standins(&setup);
        for s in SCENARIOS {
            let mut env: Vec<(String, String)> =
                vec![("LD_LIBRARY_PATH".into(), setup.ld_library_path(s.libs))];
            env.push((
                "NVML_STANDIN_PIDFILE".into(),
                setup.pidfile(s.name).display().to_string(),
            ));
            env.extend(
                s.env
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            let mut body = String::new();
            for (k, v) in &env {
                writeln!(body, "export {k}='{v}'").unwrap();
            }
            writeln!(body, "exec '{}' \"$@\"", setup.shim.display()).unwrap();
            write_script(&setup.scenario(s.name), &body);
        }
        for (name, body) in FAKES {
            write_script(&setup.fake(name), body);
        }
        cli::prepare(&setup);
        setup
    })
}

fn write_script(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Builds `nvprobe-shim` with the cargo running these tests (same target directory).
fn shim_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("NVPROBE_TEST_SHIM") {
        return PathBuf::from(p);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["build", "-p", "nvprobe-shim", "--bin", "nvprobe-shim"])
        .arg("--message-format=json-render-diagnostics")
        .arg("--manifest-path")
        .arg(&manifest)
        // The shim is a host (glibc) binary even when the tests target something else.
        .env_remove("CARGO_BUILD_TARGET")
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build -p nvprobe-shim");
    assert!(out.status.success(), "cargo build -p nvprobe-shim failed");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] == "compiler-artifact"
            && msg["target"]["name"] == "nvprobe-shim"
            && let Some(exe) = msg["executable"].as_str()
        {
            return PathBuf::from(exe);
        }
    }
    panic!("cargo build did not report the nvprobe-shim executable");
}

/// Compiles the stand-in libraries into `lib/{full,old,notnvml,cuda,empty}`.
fn build_standins(setup: &Setup) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nvml-standin");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    for (dir, file, soname, define) in [
        ("full", "nvml_standin.c", "libnvidia-ml.so.1", None),
        (
            "old",
            "nvml_standin.c",
            "libnvidia-ml.so.1",
            Some("-DNVML_STANDIN_OLD"),
        ),
        (
            "notnvml",
            "nvml_standin.c",
            "libnvidia-ml.so.1",
            Some("-DNVML_STANDIN_NOT_NVML"),
        ),
        ("cuda", "cuda_standin.c", "libcuda.so.1", None),
    ] {
        let out_dir = setup.lib_dir(dir);
        std::fs::create_dir_all(&out_dir).unwrap();
        let status = Command::new(&cc)
            .args(["-shared", "-fPIC", "-O1", "-Wall"])
            .args(define)
            .arg("-o")
            .arg(out_dir.join(soname))
            .arg(src.join(file))
            .status()
            .unwrap_or_else(|e| panic!("cannot run the C compiler {}: {e}", cc.display()));
        assert!(status.success(), "compiling the stand-in {dir} failed");
    }
    std::fs::create_dir_all(setup.lib_dir("empty")).unwrap();
}

/// The report the stand-in's default data agrees with: one H100 at 0000:3b:00.0.
fn report() -> Report {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1,
        "tool": {"name": "nvprobe", "version": "0.1.0"},
        "platform": {"kind": "bare-metal", "kernel_release": "6.8.0-45-generic", "os": null,
                     "in_container": false, "hints": []},
        "driver": {"version": "580.95.05", "branch": 580, "flavor": "open",
                   "cuda_version": "13.0", "source": "procfs", "version_line": null,
                   "params": null},
        "gpus": [{
            "index": 0,
            "pci": {"bus_id": "0000:3b:00.0", "vendor_id": "0x10de", "device_id": "0x2330",
                    "subsystem_vendor_id": "0x10de", "subsystem_device_id": "0x16c1",
                    "class": "0x030200", "revision": "0xa1"},
            "name": "NVIDIA H100 80GB HBM3", "chip": "GH100", "architecture": "Hopper",
            "compute_capability": "9.0", "compute_capability_source": "pci-table",
            "kernel_driver": "nvidia", "uuid": "GPU-8f6c0e2a-1b3d-4c5e-9f70-123456789000",
            "memory_bytes": 85_520_809_984_u64, "minor_number": 0, "vbios_version": null,
            "firmware_version": null, "seen_by": ["sysfs-pci"]}],
        "libraries": [],
        "cross_check": null,
        "kernel_modules": {"loaded": [], "installed": []},
        "device_nodes": [],
        "sources": [],
        "findings": []
    }))
    .unwrap()
}

fn run(shim: &Path, timeout: Duration) -> crosscheck::Outcome {
    run_cross_check(&report(), Some(shim), Instant::now() + timeout)
}

fn scenario(name: &str) -> crosscheck::Outcome {
    let s = setup();
    run(&s.scenario(name), Duration::from_secs(20))
}

fn fake(name: &str, timeout: Duration) -> crosscheck::Outcome {
    let s = setup();
    run(&s.fake(name), timeout)
}

/// The findings the rule words from a cross-check of [`report`].
fn found(o: &crosscheck::Outcome) -> Vec<nvprobe::report::Finding> {
    nvprobe::findings::cross_check(&report(), o)
}

fn fields(o: &crosscheck::Outcome) -> Vec<&str> {
    o.cross_check
        .differences
        .iter()
        .map(|d| d.field.as_str())
        .collect()
}

/// True when the process is gone (reaped) or is no longer the one we started.
fn process_gone(pid: &str, name: &str) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Err(_) => true,
        Ok(cmdline) => !String::from_utf8_lossy(&cmdline).contains(name),
    }
}

fn system_has_nvml() -> bool {
    Command::new("/sbin/ldconfig")
        .arg("-p")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libnvidia-ml.so.1"))
}

#[test]
fn crosscheck_e2e_agree() {
    let o = scenario("agree");
    assert_eq!(o.status(), Some(Status::Agree), "{o:#?}");
    assert!(found(&o).is_empty());
    assert_eq!(o.source.name, crosscheck::SOURCE);
    assert_eq!(o.source.status, SourceStatus::Ok);
    // The path of the library the loader picked, through LD_LIBRARY_PATH.
    let lib = setup().lib_dir("full").join("libnvidia-ml.so.1");
    assert!(
        o.source.detail.contains(&lib.display().to_string()),
        "{}",
        o.source.detail
    );
    assert!(
        o.source.detail.contains("13.580.95.05"),
        "{}",
        o.source.detail
    );
}

#[test]
fn crosscheck_e2e_disagree() {
    let o = scenario("disagree");
    assert_eq!(o.status(), Some(Status::Disagree), "{o:#?}");
    assert_eq!(
        fields(&o),
        [
            "driver.version",
            "gpus[0000:3b:00.0].uuid",
            "gpus[0000:3b:00.0].memory_bytes"
        ]
    );
    let d = &o.cross_check.differences[0];
    assert_eq!(
        (d.probe.as_deref(), d.nvml.as_deref()),
        (Some("580.95.05"), Some("580.82.07"))
    );
    assert_eq!(found(&o).len(), 1);
    assert_eq!(found(&o)[0].code, crosscheck::CROSS_CHECK_DISAGREES);
    assert_eq!(found(&o)[0].severity, Severity::Warning);
}

#[test]
fn crosscheck_e2e_init_driver_not_loaded() {
    let o = scenario("driver-not-loaded");
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert_eq!(o.source.status, SourceStatus::Absent);
    assert!(
        o.source.detail.contains("NVML_ERROR_DRIVER_NOT_LOADED (9)"),
        "{}",
        o.source.detail
    );
    assert!(found(&o).is_empty());
}

#[test]
fn crosscheck_e2e_init_no_permission() {
    let o = scenario("no-permission");
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert_eq!(o.source.status, SourceStatus::Denied);
    assert!(
        o.source.detail.contains("NVML_ERROR_NO_PERMISSION"),
        "{}",
        o.source.detail
    );
}

#[test]
fn crosscheck_e2e_init_rm_mismatch() {
    let o = scenario("rm-mismatch");
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert_eq!(found(&o).len(), 1);
    let fs = found(&o);
    let f = &fs[0];
    assert_eq!(f.code, crosscheck::DRIVER_LIBRARY_MISMATCH);
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("580.95.05"), "{}", f.message);
    assert!(
        f.remedy
            .contains("sudo rmmod nvidia_uvm nvidia_drm nvidia_modeset nvidia")
    );
    assert!(f.remedy.contains("sudo modprobe nvidia"));
}

#[test]
fn crosscheck_e2e_old_nvml_missing_symbols() {
    let o = scenario("old");
    assert_eq!(o.status(), Some(Status::Agree), "{o:#?}");
    assert!(
        o.source.detail.contains("nvmlInit_v2") && o.source.detail.contains("not exported"),
        "{}",
        o.source.detail
    );
    // libcuda's version stands in for NVML's missing nvmlSystemGetCudaDriverVersion.
    let o = scenario("old-cuda-differs");
    assert_eq!(o.status(), Some(Status::Disagree), "{o:#?}");
    assert_eq!(fields(&o), ["driver.cuda_version"]);
    assert_eq!(o.cross_check.differences[0].nvml.as_deref(), Some("12.8"));
}

#[test]
fn crosscheck_e2e_not_nvml() {
    let o = scenario("not-nvml");
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert!(o.source.detail.contains("not NVML"), "{}", o.source.detail);
}

#[test]
fn crosscheck_e2e_no_library() {
    if system_has_nvml() {
        eprintln!("skipped: this machine has a real libnvidia-ml.so.1 in the loader cache");
        return;
    }
    let o = scenario("no-library");
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert_eq!(o.source.status, SourceStatus::Absent);
    assert!(
        o.source.detail.contains("libnvidia-ml.so.1"),
        "{}",
        o.source.detail
    );
}

#[test]
fn crosscheck_e2e_hang_costs_at_most_the_deadline() {
    let s = setup();
    let deadline = Duration::from_secs(1);
    let started = Instant::now();
    let o = run(&s.scenario("hang"), deadline);
    let took = started.elapsed();
    assert_eq!(o.status(), Some(Status::Timeout), "{o:#?}");
    assert_eq!(o.source.status, SourceStatus::Timeout);
    assert!(
        took >= deadline.saturating_sub(Duration::from_millis(50)),
        "returned early: {took:?}"
    );
    // Generous slack for a loaded CI machine; a hang without the kill would take 60 s+.
    assert!(took < deadline + Duration::from_secs(3), "took {took:?}");
    // The shim got as far as nvmlInit (it wrote its pid there) and is gone now: killed, and
    // reaped (a zombie keeps its /proc entry with state Z).
    let pid = std::fs::read_to_string(s.pidfile("hang")).unwrap();
    let pid = pid.trim();
    assert!(
        process_gone(pid, "nvprobe-shim"),
        "shim {pid} still running"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(!status.contains("State:\tZ"), "shim {pid} was not reaped");
}

#[test]
fn crosscheck_e2e_crash_is_failed() {
    let o = scenario("crash");
    assert_eq!(o.status(), Some(Status::Failed), "{o:#?}");
    assert!(o.source.detail.contains("signal 11"), "{}", o.source.detail);
}

#[test]
fn crosscheck_e2e_library_noise_on_stdout_is_harmless() {
    let o = scenario("noise");
    assert_eq!(o.status(), Some(Status::Agree), "{o:#?}");
}

#[test]
fn crosscheck_e2e_device_errors_compare_the_rest() {
    let o = scenario("device-errors");
    assert_eq!(o.status(), Some(Status::Agree), "{o:#?}");
    // UUID and memory failed in NVML, so fewer values were compared than in `agree`.
    let compared = |o: &crosscheck::Outcome| {
        let d = &o.source.detail;
        let end = d.find(" value(s) compared").unwrap();
        d[..end].rsplit(' ').next().unwrap().parse::<u32>().unwrap()
    };
    assert_eq!(
        compared(&scenario("agree")),
        compared(&o) + 2,
        "{}",
        o.source.detail
    );
}

#[test]
fn crosscheck_e2e_untrusted_output_fails() {
    for name in ["garbage", "empty", "wrong-protocol", "exit-nonzero"] {
        let o = fake(name, Duration::from_secs(20));
        assert_eq!(o.status(), Some(Status::Failed), "{name}: {o:#?}");
        assert_eq!(o.source.status, SourceStatus::Failed, "{name}");
    }
    let o = fake("wrong-protocol", Duration::from_secs(20));
    assert!(
        o.source.detail.contains("nvprobe-shim/2"),
        "{}",
        o.source.detail
    );
}

#[test]
fn crosscheck_e2e_huge_output_is_refused() {
    for name in ["huge", "endless"] {
        let started = Instant::now();
        let o = fake(name, Duration::from_secs(20));
        assert_eq!(o.status(), Some(Status::Failed), "{name}: {o:#?}");
        assert!(o.source.detail.contains("more than"), "{}", o.source.detail);
        // Refused at the cap, not at the deadline.
        assert!(started.elapsed() < Duration::from_secs(10), "{name}");
    }
}

#[test]
fn crosscheck_e2e_silent_or_lingering_shim_times_out() {
    for name in ["silent-hang", "answers-then-hangs"] {
        let started = Instant::now();
        let o = fake(name, Duration::from_millis(500));
        assert_eq!(o.status(), Some(Status::Timeout), "{name}: {o:#?}");
        assert!(started.elapsed() < Duration::from_millis(500) + Duration::from_secs(3));
    }
}

#[test]
fn crosscheck_e2e_missing_shim_is_unavailable() {
    let missing = setup().dir.join("no-such-dir/nvprobe-shim");
    let o = run(&missing, Duration::from_secs(5));
    assert_eq!(o.status(), Some(Status::Unavailable), "{o:#?}");
    assert_eq!(o.source.status, SourceStatus::Absent);
}

/// The real `nvprobe` binary with `--cross-check`.
mod cli {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// A fixture machine with nvidia-bound GPUs.
    fn fixture_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bare-metal-h100x8-open-580")
    }

    /// Copies of `nvprobe` and the shim side by side, and a shim that leaves a marker file.
    pub(super) fn prepare(setup: &Setup) {
        let side = setup.dir.join("side-by-side");
        std::fs::create_dir_all(&side).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_nvprobe"), side.join("nvprobe")).unwrap();
        std::fs::copy(&setup.shim, side.join("nvprobe-shim")).unwrap();
        let marker = setup.dir.join("marker");
        write_script(
            &setup.dir.join("marker-shim/nvprobe-shim"),
            &format!("touch '{}'\nexit 1", marker.display()),
        );
    }

    fn nvprobe(
        exe: &Path,
        args: &[&str],
        env: &BTreeMap<String, String>,
    ) -> (i32, Value, Duration) {
        let started = Instant::now();
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .env_remove("NVPROBE_SHIM")
            .env_remove("NVPROBE_DRIVER_VERSION")
            .env_remove("NVPROBE_CUDA_VERSION")
            .env_remove("NVPROBE_COMPUTE_CAPABILITY")
            .envs(env);
        let out = cmd.output().expect("run nvprobe");
        let took = started.elapsed();
        let code = out.status.code().unwrap_or(-1);
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "nvprobe {args:?} exited {code} without a JSON report ({e}); stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (code, report, took)
    }

    fn root_args(extra: &[&'static str]) -> Vec<String> {
        let mut v = vec!["--json".to_owned(), "--root".to_owned()];
        v.push(fixture_root().display().to_string());
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v
    }

    fn run_cli(extra: &[&'static str], env: &BTreeMap<String, String>) -> (i32, Value, Duration) {
        let args = root_args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        nvprobe(Path::new(env!("CARGO_BIN_EXE_nvprobe")), &args, env)
    }

    /// Stand-in data equal to what nvprobe reports for the fixture, so it must agree.
    fn standin_env_from(report: &Value, libs: &[&str]) -> BTreeMap<String, String> {
        let s = setup();
        let mut env = BTreeMap::new();
        env.insert("LD_LIBRARY_PATH".to_owned(), s.ld_library_path(libs));
        env.insert("NVPROBE_SHIM".to_owned(), s.shim.display().to_string());
        if let Some(v) = report["driver"]["version"].as_str() {
            env.insert("NVML_STANDIN_DRIVER".into(), v.into());
        }
        if let Some((major, minor)) = report["driver"]["cuda_version"]
            .as_str()
            .and_then(|v| v.split_once('.'))
        {
            let n = major.parse::<u32>().unwrap() * 1000 + minor.parse::<u32>().unwrap() * 10;
            env.insert("NVML_STANDIN_CUDA".into(), n.to_string());
            env.insert("CUDA_STANDIN_VERSION".into(), n.to_string());
        }
        let gpus: Vec<&Value> = report["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g["kernel_driver"] == "nvidia")
            .collect();
        env.insert("NVML_STANDIN_GPUS".into(), gpus.len().to_string());
        for (i, g) in gpus.iter().enumerate() {
            let key = |k: &str| format!("NVML_STANDIN_GPU{i}_{k}");
            let bus = g["pci"]["bus_id"].as_str().unwrap();
            env.insert(key("BUSID"), format!("0000{}", bus.to_ascii_uppercase()));
            let id = |f: &str, dflt: &str| {
                g["pci"][f]
                    .as_str()
                    .unwrap_or(dflt)
                    .trim_start_matches("0x")
                    .to_owned()
            };
            env.insert(
                key("PCIID"),
                format!("0x{}{}", id("device_id", "2330"), id("vendor_id", "10de")),
            );
            env.insert(
                key("SUBSYS"),
                format!(
                    "0x{}{}",
                    id("subsystem_device_id", "0000"),
                    id("subsystem_vendor_id", "10de")
                ),
            );
            for (field, k) in [
                ("name", "NAME"),
                ("uuid", "UUID"),
                ("compute_capability", "CC"),
            ] {
                if let Some(v) = g[field].as_str() {
                    env.insert(key(k), v.to_owned());
                }
            }
            if let Some(m) = g["memory_bytes"].as_u64() {
                env.insert(key("MEM"), m.to_string());
            }
        }
        env
    }

    fn baseline() -> Value {
        let (_, report, _) = run_cli(&[], &BTreeMap::new());
        report
    }

    #[test]
    fn cli_crosscheck_agree() {
        let base = baseline();
        let (code_without, _, _) = run_cli(&[], &BTreeMap::new());
        let env = standin_env_from(&base, &["full", "cuda"]);
        let (code, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
        assert_eq!(
            report["cross_check"]["status"], "agree",
            "{:#}",
            report["cross_check"]
        );
        assert_eq!(report["cross_check"]["differences"], serde_json::json!([]));
        assert_eq!(
            code, code_without,
            "an agreeing cross-check changes no exit code"
        );
        let source = report["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "nvml-shim");
        assert_eq!(source.unwrap()["status"], "ok");
    }

    #[test]
    fn cli_crosscheck_disagree() {
        let base = baseline();
        let mut env = standin_env_from(&base, &["full", "cuda"]);
        env.insert("NVML_STANDIN_DRIVER".into(), "1.2.3".into());
        let (_, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
        assert_eq!(report["cross_check"]["status"], "disagree");
        assert_eq!(
            report["cross_check"]["differences"][0]["field"],
            "driver.version"
        );
        assert_eq!(report["cross_check"]["differences"][0]["nvml"], "1.2.3");
        let codes: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&"cross-check-disagrees"), "{codes:?}");
    }

    #[test]
    fn cli_crosscheck_rm_mismatch_is_an_error() {
        let mut env = standin_env_from(&baseline(), &["full"]);
        env.insert("NVML_STANDIN_MODE".into(), "init-rm-mismatch".into());
        let (code, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
        assert_eq!(report["cross_check"]["status"], "unavailable");
        let f = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "driver-library-mismatch")
            .expect("a driver-library-mismatch finding");
        assert_eq!(f["severity"], "error");
        assert!(f["remedy"].as_str().unwrap().contains("modprobe nvidia"));
        assert_eq!(code, 1);
    }

    #[test]
    fn cli_crosscheck_init_errors() {
        for mode in ["init-driver-not-loaded", "init-no-permission"] {
            let mut env = standin_env_from(&baseline(), &["full"]);
            env.insert("NVML_STANDIN_MODE".into(), mode.into());
            let (_, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
            assert_eq!(report["cross_check"]["status"], "unavailable", "{mode}");
        }
    }

    #[test]
    fn cli_crosscheck_old_nvml() {
        let env = standin_env_from(&baseline(), &["old", "cuda"]);
        let (_, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
        assert_eq!(
            report["cross_check"]["status"], "agree",
            "{:#}",
            report["cross_check"]
        );
    }

    #[test]
    fn cli_crosscheck_hang_honours_the_deadline() {
        let s = setup();
        let mut env = standin_env_from(&baseline(), &["full"]);
        env.insert("NVML_STANDIN_MODE".into(), "hang".into());
        let pidfile = s.dir.join("cli-hang.pid");
        env.insert("NVML_STANDIN_PIDFILE".into(), pidfile.display().to_string());
        // `--no-sandbox`: the stand-in writes its pid file, and the sandbox (which the shim
        // inherits) allows no writes.
        let (code, report, took) = run_cli(
            &["--cross-check", "--timeout", "1500", "--no-sandbox"],
            &env,
        );
        assert_ne!(code, 3, "the deadline must leave time to write the report");
        assert_eq!(report["cross_check"]["status"], "timeout");
        assert!(
            took < Duration::from_millis(1500) + Duration::from_secs(3),
            "took {took:?}"
        );
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        assert!(
            process_gone(pid.trim(), "nvprobe-shim"),
            "the hung shim was not killed"
        );
    }

    #[test]
    fn cli_crosscheck_crash_and_missing_shim() {
        let mut env = standin_env_from(&baseline(), &["full"]);
        env.insert("NVML_STANDIN_MODE".into(), "crash".into());
        let (_, report, _) = run_cli(&["--cross-check", "--timeout", "10000"], &env);
        assert_eq!(report["cross_check"]["status"], "failed");

        let mut env = BTreeMap::new();
        env.insert(
            "NVPROBE_SHIM".to_owned(),
            "/nonexistent/nvprobe-shim".to_owned(),
        );
        let (_, report, _) = run_cli(&["--cross-check"], &env);
        assert_eq!(report["cross_check"]["status"], "unavailable");
    }

    #[test]
    fn cli_without_cross_check_never_starts_the_shim() {
        let s = setup();
        let mut env = BTreeMap::new();
        env.insert(
            "NVPROBE_SHIM".to_owned(),
            s.dir.join("marker-shim/nvprobe-shim").display().to_string(),
        );
        let (_, report, _) = run_cli(&[], &env);
        assert_eq!(report["cross_check"], Value::Null);
        assert!(
            !s.dir.join("marker").exists(),
            "the shim ran without --cross-check"
        );
        assert!(
            !report["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "nvml-shim"),
            "no nvml-shim source without --cross-check"
        );
    }

    #[test]
    fn cli_crosscheck_finds_the_shim_next_to_nvprobe() {
        let s = setup();
        let base = baseline();
        let mut env = standin_env_from(&base, &["full", "cuda"]);
        env.remove("NVPROBE_SHIM");
        let root = fixture_root().display().to_string();
        let (_, report, _) = nvprobe(
            &s.dir.join("side-by-side/nvprobe"),
            &[
                "--json",
                "--root",
                &root,
                "--cross-check",
                "--timeout",
                "10000",
            ],
            &env,
        );
        assert_eq!(
            report["cross_check"]["status"], "agree",
            "{:#}",
            report["cross_check"]
        );
    }
}
