//! The real machines' bundles (`tests/real`) against what each machine itself said when it
//! was captured (`scripts/gpu-check.sh run`: `nvidia-smi`, `nvidia-smi -q`, PyTorch, `CuPy`;
//! quoted in `tests/real/README.md`). A fixture written by hand can only agree with its
//! author; these agree with the driver.

use nvprobe::root::Root;
use nvprobe_tests::{RealFixture, real_names};
use serde_json::Value;

/// The report of a real bundle, replayed as `--root` replays it.
fn report(name: &str) -> (nvprobe::report::Report, Value) {
    let fixture = RealFixture::new(name).unwrap();
    let mut opts = nvprobe::Options::new(Root::at(fixture.path()));
    nvprobe::capture::prepare_replay(&mut opts, fixture.path());
    let report = nvprobe::probe(&opts);
    let json: Value = serde_json::from_str(&report.to_json()).unwrap();
    (report, json)
}

/// What one real machine said of itself when its bundles were captured.
struct Machine {
    /// The bundles' names: the plain capture, then the `--deep --cross-check` one.
    bundles: [&'static str; 2],
    /// `nvidia-smi -q`: the product name, the bus, the memory in MiB.
    name: &'static str,
    bus_id: &'static str,
    memory_mib: u64,
}

/// The machines whose bundles are in `tests/real`, with what each said
/// (`tests/real/README.md` quotes it).
const MACHINES: [Machine; 2] = [
    // An H200 in a container (`NVIDIA_VISIBLE_DEVICES=0`), open module 580.159.04, captured
    // 2026-12-04.
    Machine {
        bundles: ["real-h200-580.159.04", "real-h200-580.159.04-deep"],
        name: "NVIDIA H200",
        bus_id: "0000:00:06.0",
        memory_mib: 143_771,
    },
    // An H100 SXM in the same kind of container, open module 580.159.04, captured 2026-12-05.
    Machine {
        bundles: ["real-h100-580.159.04", "real-h100-580.159.04-deep"],
        name: "NVIDIA H100 80GB HBM3",
        bus_id: "0000:00:06.0",
        memory_mib: 81_559,
    },
];

/// Every bundle here is listed above with what its machine said; a new one needs its own.
#[test]
fn real_bundles_all_have_expectations() {
    for name in real_names() {
        assert!(
            MACHINES.iter().any(|m| m.bundles.contains(&name.as_str())),
            "{name}: a real bundle without expectations in tests/it/real.rs"
        );
    }
}

/// Each machine's bundles, plain and with `--deep --cross-check`, against what the machine
/// said: both were single-GPU Hopper machines in containers on driver 580.159.04, where
/// PyTorch, `CuPy` and JAX ran a kernel.
#[test]
fn real_machines_agree_with_what_they_said() {
    for machine in &MACHINES {
        for name in machine.bundles {
            agrees(machine, name);
        }
    }
}

fn agrees(machine: &Machine, name: &str) {
    let deep = name.ends_with("-deep");
    let (report, v) = report(name);
    // nvidia-smi: "Driver Version: 580.159.04     CUDA Version: 13.0"; CuPy:
    // cudaDriverGetVersion() = 13000.
    assert_eq!(v["driver"]["version"], "580.159.04", "{name}");
    assert_eq!(v["driver"]["flavor"], "open", "{name}");
    assert_eq!(v["driver"]["cuda_version"], "13.0", "{name}");
    // nvidia-smi -q: one GPU, its name, bus and memory; PyTorch: get_device_capability(0) =
    // (9, 0).
    let gpus = v["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 1, "{name}");
    let g = &gpus[0];
    assert_eq!(g["name"], machine.name, "{name}");
    assert_eq!(g["pci"]["bus_id"], machine.bus_id, "{name}");
    assert_eq!(g["compute_capability"], "9.0", "{name}");
    if deep {
        assert_eq!(
            g["memory_bytes"].as_u64(),
            Some(machine.memory_mib * 1024 * 1024),
            "{name}"
        );
        // NVML through the shim, on the machine: it agreed.
        assert_eq!(v["cross_check"]["status"], "agree", "{name}");
    }
    // PyTorch: torch.cuda.is_available() and a kernel ran. The driver's own libcuda
    // (580.159.04, the module's version) is loaded, not a forward-compatibility one, though it
    // carries the forward-compatibility note too.
    assert_eq!(v["cuda"]["can_start"], "yes", "{name}");
    assert_eq!(v["cuda"]["user_mode_driver"], "native", "{name}");
    assert_eq!(v["cuda"]["version"], "13.0", "{name}");
    assert_eq!(v["cuda"]["usable_gpus"], serde_json::json!([0]), "{name}");
    let lib = &v["libraries"][0];
    assert_eq!(lib["path"], "/usr/local/nvidia/lib64/libcuda.so.580.159.04");
    assert_eq!(lib["kind"], "cuda-driver", "{name}");
    assert!(lib["fwd_compat"].is_object(), "{name}: {lib:#}");
    // A healthy machine: no finding at all (forward-compat-active was one, wrongly).
    assert_eq!(v["findings"], serde_json::json!([]), "{name}");
    // conda's virtual packages: __cuda from cuDriverGetVersion (13000), __cuda_arch from the
    // device (9.0).
    let conda = nvprobe::export::conda(&report);
    assert!(conda.contains("__cuda=13.0=0\n"), "{name}: {conda}");
    assert!(conda.contains("__cuda_arch=9.0=0\n"), "{name}: {conda}");
}

/// The API's `Machine::cuda` reads less than a full run (`Options::cuda_only`); on the real
/// bundles, as on every fixture (`probe/tests/api.rs`), its `cuda`, driver and GPUs are the
/// full run's.
#[test]
fn real_bundles_cuda_only_run_answers_as_the_full_report() {
    for name in real_names() {
        let fixture = RealFixture::new(&name).unwrap();
        let machine = nvprobe::api::Machine::at(fixture.path());
        let full = machine.report().unwrap();
        let fast = machine.cuda_report().unwrap();
        assert_eq!(fast.cuda, full.cuda, "{name}");
        assert_eq!(fast.driver, full.driver, "{name}");
        assert_eq!(fast.gpus, full.gpus, "{name}");
        // And it read less: the runtimes and the toolkit's directories are not listed.
        assert!(fast.libraries.len() < full.libraries.len(), "{name}");
    }
}

/// `scripts/pack-sparse.py` and `unpack_tree` give back every byte, the size and the mode of a
/// sparse file, and leave small files and symlinks as they are.
#[test]
fn real_bundles_pack_and_unpack_round_trip() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("nvprobe-pack-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let packed = dir.join("packed");
    std::fs::create_dir_all(packed.join("lib")).unwrap();
    // 3 MiB, mostly a hole: a header, a block in the middle, the last bytes.
    let mut big = vec![0_u8; 3 << 20];
    big[..64].copy_from_slice(&[0x7f; 64]);
    big[(1 << 20) + 5..(1 << 20) + 9000].fill(0xab);
    let n = big.len();
    big[n - 10..].fill(0xcd);
    let lib = packed.join("lib/libbig.so.1.2");
    std::fs::write(&lib, &big).unwrap();
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o750)).unwrap();
    std::fs::write(packed.join("lib/small"), b"small file\n").unwrap();
    std::os::unix::fs::symlink("libbig.so.1.2", packed.join("lib/libbig.so.1")).unwrap();

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pack-sparse.py");
    let Ok(out) = std::process::Command::new("python3")
        .arg(&script)
        .arg(&packed)
        .output()
    else {
        println!("skipped: no python3 to run scripts/pack-sparse.py");
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert!(!lib.exists());
    let pack = packed.join("lib/libbig.so.1.2.nvprobe-sparse");
    // Five 4 KiB blocks hold data: the pack keeps them, not the 3 MiB.
    assert!(std::fs::metadata(&pack).unwrap().len() < 24 << 10);

    let back = dir.join("back");
    nvprobe_tests::unpack_tree(&packed, &back).unwrap();
    let file = back.join("lib/libbig.so.1.2");
    assert_eq!(std::fs::read(&file).unwrap(), big);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o750);
    assert_eq!(
        std::fs::read(back.join("lib/small")).unwrap(),
        b"small file\n"
    );
    assert_eq!(
        std::fs::read_link(back.join("lib/libbig.so.1")).unwrap(),
        std::path::Path::new("libbig.so.1.2")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
