//! Issue 8, the places where other tools go blind: WSL2, gVisor, Tegra/Jetson and containers.
//!
//! Binary tests run `nvprobe --json --root <fixture>` on the platform fixtures (the file side).
//! What a fixture tree cannot hold (`/dev/dxg` replies, ioctls through gVisor's nvproxy) is
//! tested in-process: the same stages as `nvprobe::probe`, with the emulated `/dev/dxg` and the
//! emulated NVIDIA driver at the ioctl boundary.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use nvprobe::ioctl::emu::{EmuDriver, EmuGpu, Fault};
use nvprobe::ioctl::{IoctlOptions, NvDriver};
use nvprobe::platform::dxg::DxgDevice;
use nvprobe::platform::dxg::emu::{DxgFault, EmuAdapter, EmuDxg};
use nvprobe::report::{DriverSource, Flavor, PlatformKind, Report, Severity, SourceStatus};
use nvprobe::root::Root;
use nvprobe::{Env, Options, ioctl, platform};
use rustix::io::Errno;
use serde_json::Value;

mod common;
use common::{codes, fixture, nvprobe_env as nvprobe};

// --- helpers (as in tests/cli.rs) ----------------------------------------------------------------

fn json_report(name: &str, env: &[(&str, &str)]) -> (i32, Value) {
    let root = fixture(name);
    let out = nvprobe(&["--json", "--root", root.to_str().unwrap()], env);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{name}: stdout is not one JSON object ({e}): {stdout}"));
    let typed: Report = serde_json::from_str(&stdout).expect("typed report");
    assert_eq!(typed.schema_version, 1);
    (out.status.code().expect("exit code"), report)
}

fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no finding {code}: {report:#}"))
}

/// `nvprobe::probe` with emulated devices: the run's own sources (`model::read_on`) and rules
/// (`rules::evaluate`), not a copy of them.
fn pipeline(name: &str, env: Env, nv: &dyn NvDriver, dxg: &dyn DxgDevice, deep: bool) -> Report {
    let mut opts = Options::new(Root::at(fixture(name)));
    opts.env = env;
    opts.deep = deep;
    nvprobe::rules::evaluate(nvprobe::model::read_on(&opts, nv, dxg))
}

fn no_nv() -> EmuDriver {
    EmuDriver::new(
        "580.65.06",
        Vec::new(),
        vec![Fault::OpenFails("/dev/nvidiactl".to_owned(), Errno::NOENT)],
    )
}

/// One H100 behind gVisor's nvproxy, which refuses the GPU name control.
fn nvproxy_h100() -> EmuDriver {
    let name_string = nvprobe_abi::ctrl::ctrl2080gpu::NV2080_CTRL_CMD_GPU_GET_NAME_STRING;
    EmuDriver::new(
        "580.65.06",
        vec![EmuGpu::h100(0x1b, 0)],
        vec![Fault::Gvisor, Fault::GvisorDenyControl(name_string)],
    )
}

fn has(report: &Report, code: &str) -> bool {
    report.findings.iter().any(|f| f.code == code)
}

// --- WSL2 ----------------------------------------------------------------------------------------

#[test]
fn platforms_wsl2_fixture_file_side() {
    let (code, r) = json_report("wsl2-rtx4070", &[]);
    assert_eq!(r["platform"]["kind"], "wsl2", "{r:#}");
    let wsl = &r["platform"]["wsl"];
    // The stand-in /dev/dxg takes no ioctls, but the bundle's log answers them.
    assert_eq!(wsl["dxg"], "ok");
    assert_eq!(wsl["interop"], true);
    assert_eq!(wsl["lib_dir_on_loader_path"], true);
    assert_eq!(wsl["loader_path_via"], "ld.so.cache");
    assert_eq!(
        wsl["driver_store"][0],
        "/usr/lib/wsl/drivers/nv_dispi.inf_amd64_3c1b5a2e8f0d4e71"
    );
    assert!(
        !codes(&r)
            .iter()
            .any(|c| c == "wsl-libraries-not-on-loader-path")
    );
    // nvidia-smi is in /usr/lib/wsl/lib, which this PATH lacks (the SSH/systemd case).
    assert!(
        codes(&r).contains(&"wsl-tools-not-on-path".to_owned()),
        "{r:#}"
    );
    assert_eq!(code, 0, "{r:#}");
    // With WSL's PATH the tool is found (on the other WSL machine: a bundle replays its own
    // captured environment, not the caller's).
    let (_, r) = json_report(
        "wsl2-ldconfig-off",
        &[("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/lib/wsl/lib")],
    );
    assert!(!codes(&r).contains(&"wsl-tools-not-on-path".to_owned()));
}

#[test]
fn platforms_wsl2_ldconfig_off_is_an_error_with_the_fix() {
    let (code, r) = json_report("wsl2-ldconfig-off", &[]);
    assert_eq!(code, 1);
    let f = finding(&r, "wsl-libraries-not-on-loader-path");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("ldconfig = false"), "{msg}");
    assert!(f["remedy"].as_str().unwrap().contains("ldconfig"));
    // LD_LIBRARY_PATH is enough for the loader.
    let (_, r) = json_report(
        "wsl2-ldconfig-off",
        &[("LD_LIBRARY_PATH", "/usr/lib/wsl/lib")],
    );
    assert_eq!(r["platform"]["wsl"]["loader_path_via"], "LD_LIBRARY_PATH");
    assert!(!codes(&r).contains(&"wsl-libraries-not-on-loader-path".to_owned()));
}

#[test]
fn platforms_wsl2_dxg_gives_driver_and_gpus() {
    let dxg = EmuDxg::new(
        vec![
            EmuAdapter::basic_render(),
            EmuAdapter::intel_igpu(),
            EmuAdapter::rtx4070(),
            EmuAdapter::h100_mcdm(),
        ],
        vec![DxgFault::HonourComputeOnlyFilter],
    );
    let r = pipeline("wsl2-rtx4070", Env::default(), &no_nv(), &dxg, false);
    assert_eq!(r.platform.kind, PlatformKind::Wsl2);
    let d = r.driver.as_ref().expect("driver from dxg");
    assert_eq!(d.version, "560.94");
    assert_eq!(d.branch, 560);
    assert_eq!(d.flavor, Flavor::Wsl);
    assert_eq!(d.source, DriverSource::Dxg);
    assert_eq!(
        d.cuda_version.as_ref().map(ToString::to_string).as_deref(),
        Some("12.6")
    );
    // Only NVIDIA adapters are GPUs; the compute-only H100 is listed (ENUMADAPTERS3 filter).
    assert_eq!(r.gpus.len(), 2, "{:#?}", r.gpus);
    let rtx = &r.gpus[0];
    assert_eq!(rtx.pci.bus_id, "0000:01:00.0");
    assert_eq!(
        rtx.pci
            .device_id
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("0x2786")
    );
    assert_eq!(rtx.name.as_deref(), Some("NVIDIA GeForce RTX 4070"));
    assert_eq!(
        rtx.compute_capability.map(|c| c.to_string()).as_deref(),
        Some("8.9")
    );
    assert_eq!(
        r.gpus[1]
            .compute_capability
            .map(|c| c.to_string())
            .as_deref(),
        Some("9.0")
    );
    let wsl = r.platform.details.wsl.as_ref().unwrap();
    assert_eq!(wsl.windows_driver_version.as_deref(), Some("32.0.15.6094"));
    assert_eq!(wsl.linux_branch_family, Some(560));
    assert_eq!(wsl.adapters.len(), 4);
    assert!(wsl.adapters[3].flags.contains(&"compute-only".to_owned()));
    assert!(wsl.adapters[0].flags.contains(&"software".to_owned()));
    // Every adapter handle was closed, the file too.
    assert_eq!(dxg.open_handles(), 0, "{:?}", dxg.calls());
    assert_eq!(dxg.open_files(), 0);
    assert!(!r.has_error(), "{:#?}", r.findings);
    assert!(!has(&r, "driver-branch-unknown"));
}

#[test]
fn platforms_wsl2_no_nvidia_adapter() {
    let dxg = EmuDxg::new(vec![EmuAdapter::basic_render()], Vec::new());
    let r = pipeline("wsl2-rtx4070", Env::default(), &no_nv(), &dxg, false);
    assert!(r.driver.is_none());
    assert!(r.gpus.is_empty());
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "wsl-gpu-not-exposed")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(f.message.contains("1 adapter(s)"), "{}", f.message);
    // /dev/dxg denied.
    let dxg = EmuDxg::new(Vec::new(), vec![DxgFault::Open(Errno::ACCESS)]);
    let r = pipeline("wsl2-rtx4070", Env::default(), &no_nv(), &dxg, false);
    assert_eq!(r.source("dxg").unwrap().status, SourceStatus::Denied);
    assert!(has(&r, "wsl-gpu-not-exposed"));
}

#[test]
fn platforms_wsl2_hostile_dxg_replies() {
    // A count above 64, a filled count beyond the buffer, an EOVERFLOW race, a failing query and
    // a name with an unpaired surrogate: the probe stays bounded and closes every handle.
    let mut odd = EmuAdapter::rtx4070();
    odd.name = vec![
        0xD800,
        u16::from(b'G'),
        0x0001,
        u16::from(b'P'),
        u16::from(b'U'),
    ];
    for faults in [
        vec![DxgFault::Count(100)],
        vec![DxgFault::FilledCount(1000)],
        vec![DxgFault::OverflowOnce],
        vec![DxgFault::QueryFails(31), DxgFault::QueryFails(18)],
    ] {
        let dxg = EmuDxg::new(vec![odd.clone(), EmuAdapter::h100_mcdm()], faults.clone());
        let out = platform::dxg::query(&dxg);
        assert_eq!(out.status, SourceStatus::Ok, "{faults:?}: {out:?}");
        assert_eq!(out.adapters.len(), 2, "{faults:?}: {out:?}");
        assert_eq!(dxg.open_handles(), 0, "{faults:?}: {:?}", dxg.calls());
        assert_eq!(dxg.open_files(), 0);
        assert_eq!(out.adapters[0].name.as_deref(), Some("\u{FFFD}GPU"));
        if faults.contains(&DxgFault::QueryFails(31)) {
            assert!(out.adapters[0].ids.is_none());
            assert_eq!(out.adapters[0].problems.len(), 2);
        }
    }
    // Without the compute-only filter a newer kernel would hide the H100: the probe asks for it.
    let dxg = EmuDxg::new(
        vec![EmuAdapter::h100_mcdm()],
        vec![DxgFault::HonourComputeOnlyFilter],
    );
    assert_eq!(platform::dxg::query(&dxg).adapters.len(), 1);
}

// --- gVisor --------------------------------------------------------------------------------------

#[test]
fn platforms_gvisor_fixture_file_side() {
    let (code, r) = json_report("gvisor-h100", &[]);
    assert_eq!(r["platform"]["kind"], "gvisor", "{r:#}");
    let g = &r["platform"]["gvisor"];
    assert_eq!(g["nvproxy"], true);
    assert_eq!(g["procfs_params_only"], true);
    assert_eq!(g["missing_nodes"], serde_json::json!([]));
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn platforms_gvisor_without_nvproxy() {
    let (code, r) = json_report("gvisor-no-nvproxy", &[]);
    assert_eq!(r["platform"]["kind"], "gvisor");
    assert_eq!(code, 1);
    let f = finding(&r, "gvisor-nvproxy-not-enabled");
    assert!(f["remedy"].as_str().unwrap().contains("--nvproxy"));
}

#[test]
fn platforms_gvisor_version_through_nvproxy_and_refusals_named() {
    let nv = nvproxy_h100();
    let r = pipeline(
        "gvisor-h100",
        Env::default(),
        &nv,
        &EmuDxg::new(Vec::new(), Vec::new()),
        true,
    );
    let d = r.driver.as_ref().expect("driver through nvproxy");
    assert_eq!(d.version, "580.65.06");
    assert_eq!(d.source, DriverSource::Ioctl);
    assert_eq!(r.gpus.len(), 1);
    assert_eq!(
        r.gpus[0]
            .compute_capability
            .map(|c| c.to_string())
            .as_deref(),
        Some("9.0")
    );
    let limit = r
        .findings
        .iter()
        .find(|f| f.code == "gvisor-nvproxy-limit")
        .expect("refusal reported");
    assert!(limit.message.contains("NAME_STRING"), "{}", limit.message);
    let g = r.platform.details.gvisor.as_ref().unwrap();
    assert_eq!(g.driver_in_nvproxy_list.as_deref(), Some("supported"));
    assert!(g.missing_capabilities.is_empty());
}

/// The report came from a bundle whose every recorded exchange was replayed.
fn assert_replayed(r: &Value) {
    let capture = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "capture");
    assert!(
        capture.is_some_and(|s| s["status"] == "ok"),
        "{:#}",
        r["sources"]
    );
}

/// Checks a fixture bundle's recorded ioctl log against what the emulators answer now, or
/// rewrites it with `NVPROBE_UPDATE_FIXTURES=1` (then run `python3 scripts/gen-fixtures.py`).
fn assert_recorded_log(machine: &str, log: &nvprobe::capture::IoctlLog) {
    let log = serde_json::to_string_pretty(log).unwrap() + "\n";
    let path = fixture(machine).join(".nvprobe/ioctl.json");
    if std::env::var_os("NVPROBE_UPDATE_FIXTURES").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &log).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == log,
        "{} is not what the emulators answer: run NVPROBE_UPDATE_FIXTURES=1 cargo test -p nvprobe --test platforms, then python3 scripts/gen-fixtures.py",
        path.display()
    );
}

/// The gVisor fixture is a capture bundle whose ioctl log is the emulated nvproxy's replies
/// (`NVPROBE_UPDATE_FIXTURES=1` rewrites the log, then `python3 scripts/gen-fixtures.py`), so
/// the real binary on the fixture gets the driver and GPU facts through the replayed ioctls,
/// as it would inside runsc with --nvproxy.
#[test]
fn platforms_gvisor_fixture_replays_nvproxy() {
    use std::sync::Arc;
    let emu = nvproxy_h100();
    let rec = nvprobe::capture::RecordingDriver::new(Arc::new(emu));
    let _ = ioctl::probe_ioctl(
        &rec,
        &IoctlOptions {
            deep: true,
            gvisor: true,
            version_hint: None,
            allow_strict_check: true,
        },
    );
    assert_recorded_log("gvisor-h100", &rec.log());

    let (_, r) = json_report("gvisor-h100", &[]);
    assert_eq!(r["platform"]["kind"], "gvisor");
    assert_eq!(r["driver"]["version"], "580.65.06", "{r:#}");
    assert_eq!(r["driver"]["source"], "ioctl");
    assert_eq!(r["driver"]["cuda_version"], "13.0");
    let gpus = r["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1, "{r:#}");
    assert_eq!(gpus[0]["compute_capability"], "9.0");
    assert_eq!(gpus[0]["compute_capability_source"], "arch-info");
    let limit = finding(&r, "gvisor-nvproxy-limit");
    assert!(
        limit["message"].as_str().unwrap().contains("NAME_STRING"),
        "{limit}"
    );
    assert_replayed(&r);
}

/// The WSL2 fixture is a capture bundle whose ioctl log holds the emulated `/dev/dxg` replies
/// (an RTX 4070 and a compute-only H100 beside a software renderer and an Intel iGPU) and the
/// failed `/dev/nvidiactl` open of a machine without nvidia.ko; `NVPROBE_UPDATE_FIXTURES=1`
/// rewrites it. The real binary on the fixture then reports the Windows driver and the GPUs.
#[test]
fn platforms_wsl2_fixture_replays_dxg() {
    use std::sync::Arc;
    struct Nodes {
        nv: EmuDriver,
        dxg: platform::dxg::NvViaDxg<EmuDxg>,
    }
    impl NvDriver for Nodes {
        fn open(
            &self,
            path: &str,
            mode: ioctl::OpenMode,
        ) -> Result<Box<dyn ioctl::NvFile>, ioctl::OpenError> {
            if path == platform::dxg::DXG_PATH {
                self.dxg.open(path, mode)
            } else {
                self.nv.open(path, mode)
            }
        }
    }
    let dxg = EmuDxg::new(
        vec![
            EmuAdapter::basic_render(),
            EmuAdapter::intel_igpu(),
            EmuAdapter::rtx4070(),
            EmuAdapter::h100_mcdm(),
        ],
        vec![DxgFault::HonourComputeOnlyFilter],
    );
    let rec = nvprobe::capture::RecordingDriver::new(Arc::new(Nodes {
        nv: no_nv(),
        dxg: platform::dxg::NvViaDxg(dxg),
    }));
    // The binary's order: the ioctl stage, then the platform stage's /dev/dxg query.
    let _ = ioctl::probe_ioctl(
        &rec,
        &IoctlOptions {
            deep: false,
            gvisor: false,
            version_hint: None,
            allow_strict_check: true,
        },
    );
    let _ = platform::dxg::query(&platform::dxg::DxgViaNv(&rec));
    assert_recorded_log("wsl2-rtx4070", &rec.log());

    let (_, r) = json_report("wsl2-rtx4070", &[]);
    assert_eq!(r["platform"]["kind"], "wsl2");
    assert_eq!(r["driver"]["version"], "560.94", "{r:#}");
    assert_eq!(r["driver"]["source"], "dxg");
    assert_eq!(r["driver"]["flavor"], "wsl");
    assert_eq!(r["driver"]["cuda_version"], "12.6");
    let ccs: Vec<&str> = r["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["compute_capability"].as_str().unwrap())
        .collect();
    assert_eq!(ccs, ["8.9", "9.0"], "{r:#}");
    assert_replayed(&r);
}

// --- Tegra ---------------------------------------------------------------------------------------

#[test]
fn platforms_jetson_orin_integrated_gpu() {
    let (code, r) = json_report("jetson-orin-l4t-36", &[]);
    assert_eq!(r["platform"]["kind"], "tegra", "{r:#}");
    let t = &r["platform"]["tegra"];
    assert_eq!(t["soc"], "nvidia,tegra234");
    assert_eq!(t["family"], "Orin");
    assert_eq!(t["soc_id"], 35);
    assert_eq!(t["l4t_release"], "36.4.0");
    assert_eq!(t["l4t_cuda_version"], "12.6");
    assert_eq!(t["gpu_driver"], "nvgpu");
    let gpus = r["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1);
    assert_eq!(gpus[0]["compute_capability"], "8.7");
    assert_eq!(gpus[0]["compute_capability_source"], "soc-table");
    assert_eq!(gpus[0]["architecture"], "Ampere");
    assert_eq!(gpus[0]["pci"]["vendor_id"], Value::Null);
    assert_eq!(code, 0, "{r:#}");
}

#[test]
fn platforms_jetson_container_without_runtime() {
    let (code, r) = json_report("jetson-orin-container-no-runtime", &[]);
    assert_eq!(r["platform"]["kind"], "tegra");
    assert_eq!(r["platform"]["in_container"], true);
    assert_eq!(code, 1);
    let f = finding(&r, "tegra-gpu-nodes-missing");
    assert!(f["remedy"].as_str().unwrap().contains("--runtime nvidia"));
}

// --- Containers ----------------------------------------------------------------------------------

#[test]
fn platforms_container_visible_subset() {
    let (code, r) = json_report(
        "container-visible-subset",
        &[("NVIDIA_VISIBLE_DEVICES", "2,3")],
    );
    assert_eq!(r["platform"]["kind"], "container");
    let c = &r["platform"]["container"];
    assert_eq!(c["nvidia_visible_devices"], "2,3");
    assert_eq!(
        c["visible_gpus"],
        serde_json::json!(["0000:52:00.0", "0000:61:00.0"])
    );
    assert_eq!(
        c["hidden_gpus"],
        serde_json::json!(["0000:1b:00.0", "0000:43:00.0"])
    );
    assert_eq!(c["driver_capabilities_from"], "default");
    assert_eq!(r["gpus"].as_array().unwrap().len(), 4);
    assert_eq!(codes(&r), ["container-visible-subset"]);
    assert_eq!(code, 0);
}

#[test]
fn platforms_container_missing_nodes_and_libraries() {
    let (code, r) = json_report("container-missing-nodes", &[]);
    assert_eq!(code, 1);
    let c = &r["platform"]["container"];
    assert_eq!(
        c["missing_device_nodes"],
        serde_json::json!(["/dev/nvidia-uvm"])
    );
    let nodes = finding(&r, "container-device-nodes-missing");
    assert!(nodes["remedy"].as_str().unwrap().contains("load-kmods"));
    let libs = finding(&r, "container-libraries-missing");
    assert_eq!(libs["severity"], "warning");
    assert!(
        libs["message"]
            .as_str()
            .unwrap()
            .contains("libcuda.so.1 (compute)")
    );
    // Asking only for utility: nothing compute-related is missing.
    let (_, r) = json_report(
        "container-missing-nodes",
        &[("NVIDIA_DRIVER_CAPABILITIES", "utility")],
    );
    assert!(!codes(&r).contains(&"container-libraries-missing".to_owned()));
    assert!(!codes(&r).contains(&"container-device-nodes-missing".to_owned()));
}

#[test]
fn platforms_container_gpu_not_injected() {
    let (code, r) = json_report(
        "container-no-gpu-injected",
        &[("NVIDIA_VISIBLE_DEVICES", "all")],
    );
    assert_eq!(code, 1);
    let f = finding(&r, "container-gpu-not-visible");
    assert_eq!(f["severity"], "error");
    assert!(f["remedy"].as_str().unwrap().contains("--gpus all"));
    // Without the variable it is a warning: maybe no GPU was wanted.
    let (_, r) = json_report("container-no-gpu-injected", &[]);
    assert_eq!(
        finding(&r, "container-gpu-not-visible")["severity"],
        "warning"
    );
}
