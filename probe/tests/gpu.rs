//! Checks against real NVIDIA hardware, behind the `test-gpu` feature:
//! `cargo test -p nvprobe --features test-gpu --test gpu`. Without a GPU they fail, loudly: a
//! GPU run that silently passes on a machine without one would prove nothing.
//!
//! On a machine without a Rust toolchain (the lent GPU machines), build here with
//! `cargo test -p nvprobe --features test-gpu --test gpu --no-run`, carry the test binary, the
//! static `nvprobe` and `nvprobe-shim`, and point the tests at them with `NVPROBE_BIN` and
//! `NVPROBE_SHIM` (`scripts/gpu-check.sh` does all of it and also captures the machine).
#![cfg(feature = "test-gpu")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> String {
    std::env::var("NVPROBE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nvprobe").to_owned())
}

fn nvprobe(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run nvprobe")
}

fn report(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json", "--timeout", "20000"];
    all.extend_from_slice(args);
    let out = nvprobe(&all);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn source<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

/// Fails with the report when the machine has no usable NVIDIA GPU.
fn require_gpu(r: &Value) {
    assert!(
        !r["driver"].is_null() && !r["gpus"].as_array().unwrap().is_empty(),
        "test-gpu is enabled but nvprobe sees no NVIDIA driver or GPU here:\n{r:#}"
    );
}

#[test]
fn gpu_default_path_sees_driver_and_gpus() {
    let (code, r) = report(&[]);
    require_gpu(&r);
    assert!(matches!(code, 0 | 1), "{r:#}");
    let version = r["driver"]["version"].as_str().unwrap();
    assert!(version.split('.').count() >= 2, "{version}");
    assert!(r["driver"]["cuda_version"].is_string(), "{r:#}");
    for g in r["gpus"].as_array().unwrap() {
        assert!(
            g["compute_capability"].is_string(),
            "every GPU has a compute capability: {g:#}"
        );
        assert!(g["name"].is_string(), "{g:#}");
    }
    // The ioctl path answered (or gVisor refused it, which the report must say).
    let ioctl = source(&r, "ioctl").expect("an ioctl source");
    let gvisor = r["platform"]["kind"] == "gvisor";
    assert!(ioctl["status"] == "ok" || gvisor, "{ioctl:#}");
}

#[test]
fn gpu_deep_reads_arch_info_uuid_and_memory() {
    let (_, r) = report(&["--deep"]);
    require_gpu(&r);
    let gvisor = r["platform"]["kind"] == "gvisor";
    for g in r["gpus"].as_array().unwrap() {
        if g["kernel_driver"] != "nvidia" && !gvisor {
            continue;
        }
        if !gvisor {
            assert_eq!(g["compute_capability_source"], "arch-info", "{g:#}");
            assert!(
                g["memory_bytes"].as_u64().is_some_and(|m| m > 1 << 30),
                "{g:#}"
            );
        }
        assert!(
            g["uuid"].as_str().is_some_and(|u| u.starts_with("GPU-")),
            "{g:#}"
        );
    }
}

/// The kernel's answers match `nvidia-smi`'s where both exist.
#[test]
fn gpu_deep_agrees_with_nvidia_smi() {
    let (_, r) = report(&["--deep"]);
    require_gpu(&r);
    let Ok(smi) = Command::new("nvidia-smi")
        .args([
            "--query-gpu=pci.bus_id,uuid,driver_version,compute_cap",
            "--format=csv,noheader",
        ])
        .output()
    else {
        eprintln!("skipped: nvidia-smi is not installed here");
        return;
    };
    let text = String::from_utf8_lossy(&smi.stdout);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let bus = f[0].to_ascii_lowercase();
        // nvidia-smi writes an 8-digit domain (00000000:18:00.0).
        let bus = bus.get(bus.len().saturating_sub(12)..).unwrap().to_owned();
        let g = r["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["pci"]["bus_id"] == bus.as_str())
            .unwrap_or_else(|| panic!("nvidia-smi lists {bus}, nvprobe does not: {r:#}"));
        assert_eq!(g["uuid"], f[1], "{bus}");
        assert_eq!(r["driver"]["version"], f[2]);
        assert_eq!(g["compute_capability"], f[3], "{bus}");
    }
}

/// `nvidia-smi -q` key/value lines, split on the first " : " (drivers from 610 pad the key
/// column wider and print `KMD Version`/`CUDA UMD Version` beside the deprecated
/// `Driver Version`/`CUDA Version`).
fn smi_q_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(" : "))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| {
            // "610.57.04 [Deprecated; will be removed in CUDA 14.0. ...]"
            v.split(" [").next().unwrap_or(v).trim().to_owned()
        })
        .collect()
}

/// The brand table and the native CUDA version agree with `nvidia-smi -q` where nvprobe
/// knows them (a brand nvprobe does not know is `null`, never a guess).
#[test]
fn gpu_brand_and_cuda_version_agree_with_nvidia_smi_q() {
    let (_, r) = report(&[]);
    require_gpu(&r);
    let Ok(smi) = Command::new("nvidia-smi").arg("-q").output() else {
        eprintln!("skipped: nvidia-smi is not installed here");
        return;
    };
    let text = String::from_utf8_lossy(&smi.stdout);
    let mut cuda = smi_q_values(&text, "CUDA UMD Version");
    cuda.extend(smi_q_values(&text, "CUDA Version"));
    if let Some(c) = cuda.first() {
        assert_eq!(r["driver"]["cuda_version"], c.as_str(), "{text}");
    }
    // nvidia-smi's words for NVML's brand values (nvidia-ml-py example.py).
    let words = |b: &str| match b {
        "geforce" => "GeForce",
        "titan" => "Titan",
        "tesla" => "Tesla",
        "quadro" => "Quadro",
        "nvidiartx" => "NVIDIA RTX",
        "nvidia" => "NVIDIA",
        "vws" => "NVIDIA RTX Virtual Workstation",
        _ => "",
    };
    let brands = smi_q_values(&text, "Product Brand");
    for (g, smi_brand) in r["gpus"].as_array().unwrap().iter().zip(&brands) {
        if let Some(b) = g["brand"].as_str() {
            if b == "vcs" {
                assert!(
                    smi_brand == "NVIDIA Virtual Compute Server"
                        || smi_brand == "NVIDIA vGPU for Compute",
                    "{g:#}: nvidia-smi says {smi_brand}"
                );
            } else {
                assert_eq!(words(b), smi_brand, "{g:#}");
            }
        } else {
            eprintln!(
                "brand of {} not in the table; nvidia-smi says {smi_brand}",
                g["name"]
            );
        }
    }
}

#[test]
fn gpu_cross_check_agrees_with_nvml() {
    let (_, r) = report(&["--cross-check"]);
    require_gpu(&r);
    let status = &r["cross_check"]["status"];
    assert!(
        status == "agree" || status == "unavailable",
        "{:#}",
        r["cross_check"]
    );
}

#[test]
fn gpu_capture_replays_to_the_same_report() {
    let dir = std::env::temp_dir().join(format!("nvprobe-gpu-capture-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = nvprobe(&[
        "--json",
        "--deep",
        "capture",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let captured: Value = serde_json::from_slice(&out.stdout).unwrap();
    require_gpu(&captured);
    let (_, replayed) = report(&["--root", dir.to_str().unwrap()]);
    assert_eq!(replayed["driver"], captured["driver"]);
    assert_eq!(replayed["gpus"], captured["gpus"]);
    let _ = std::fs::remove_dir_all(&dir);
}
