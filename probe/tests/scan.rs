//! `nvprobe scan` and `nvprobe check --binary` on synthetic CUDA ELF files built here (a
//! `.nv_fatbin` section holding cubin and PTX entries, as nvcc lays it out), run through the
//! real binary against the fixture machines.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{codes, fixture, nvprobe, nvprobe_in_private_mounts};

fn tmpdir(name: &str) -> common::Scratch {
    common::Scratch::new(&format!("scan-{name}"))
}

/// One fatbin entry: kind 2 = cubin (SASS), 1 = PTX.
fn entry(kind: u16, arch: u32, version: (u16, u16), payload: &[u8]) -> Vec<u8> {
    let mut payload = payload.to_vec();
    payload.resize(payload.len().div_ceil(8) * 8, 0);
    let mut h = vec![0u8; 64];
    h[0..2].copy_from_slice(&kind.to_le_bytes());
    h[2..4].copy_from_slice(&0x0101u16.to_le_bytes());
    h[4..8].copy_from_slice(&64u32.to_le_bytes());
    h[8..16].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    h[24..26].copy_from_slice(&version.1.to_le_bytes());
    h[26..28].copy_from_slice(&version.0.to_le_bytes());
    h[28..32].copy_from_slice(&arch.to_le_bytes());
    h[40..48].copy_from_slice(&0x11u64.to_le_bytes()); // 64-bit, host Linux
    h.extend_from_slice(&payload);
    h
}

/// A cubin's ELF header: `EM_CUDA`, ABI version 7, `e_flags` with the SM in the low byte.
fn cubin(sm: u32) -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2;
    h[5] = 1;
    h[6] = 1;
    h[8] = 7;
    h[18..20].copy_from_slice(&190u16.to_le_bytes());
    h[48..52].copy_from_slice(&(0x0050_0500 | sm).to_le_bytes());
    h
}

fn ptx(isa: &str, target: &str) -> Vec<u8> {
    format!(".version {isa}\n.target {target}\n.address_size 64\n\n.visible .entry k()\n{{\n\tret;\n}}\n\0")
        .into_bytes()
}

/// A fatbin container (magic 0xBA55ED50) holding `entries`.
fn container(entries: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = entries.concat();
    let mut c = Vec::new();
    c.extend_from_slice(&0xBA55_ED50u32.to_le_bytes());
    c.extend_from_slice(&1u16.to_le_bytes());
    c.extend_from_slice(&16u16.to_le_bytes());
    c.extend_from_slice(&(body.len() as u64).to_le_bytes());
    c.extend_from_slice(&body);
    c
}

/// A little-endian ELF64 shared object with `.nv_fatbin` = `fatbin` and `.shstrtab`.
fn cuda_elf(fatbin: &[u8]) -> Vec<u8> {
    cuda_elf_headers(fatbin, 1)
}

/// [`cuda_elf`] with `copies` `.nv_fatbin` section headers, all over the same bytes.
fn cuda_elf_headers(fatbin: &[u8], copies: u16) -> Vec<u8> {
    let shstr = b"\0.shstrtab\0.nv_fatbin\0".to_vec();
    let mut out = vec![0u8; 64];
    let shstr_off = out.len();
    out.extend_from_slice(&shstr);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let fat_off = out.len();
    out.extend_from_slice(fatbin);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len();
    let mut sh = |name: u32, ty: u32, off: usize, size: usize| {
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&ty.to_le_bytes());
        h[24..32].copy_from_slice(&(off as u64).to_le_bytes());
        h[32..40].copy_from_slice(&(size as u64).to_le_bytes());
        out.extend_from_slice(&h);
    };
    sh(0, 0, 0, 0);
    sh(1, 3, shstr_off, shstr.len());
    for _ in 0..copies {
        sh(11, 1, fat_off, fatbin.len());
    }
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&3u16.to_le_bytes());
    out[18..20].copy_from_slice(&62u16.to_le_bytes());
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[58..60].copy_from_slice(&64u16.to_le_bytes());
    out[60..62].copy_from_slice(&(2 + copies).to_le_bytes());
    out[62..64].copy_from_slice(&1u16.to_le_bytes());
    out
}

/// Writes a CUDA library with SASS for each of `sass` and PTX `(isa, target)` entries.
fn library(dir: &Path, name: &str, sass: &[u32], ptxs: &[(&str, u32)]) -> PathBuf {
    let mut entries: Vec<Vec<u8>> = sass
        .iter()
        .map(|&sm| entry(2, sm, (1, 8), &cubin(sm)))
        .collect();
    for (isa, sm) in ptxs {
        let (a, b) = isa.split_once('.').unwrap();
        entries.push(entry(
            1,
            *sm,
            (a.parse().unwrap(), b.parse().unwrap()),
            &ptx(isa, &format!("sm_{sm}")),
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, cuda_elf(&container(&entries))).unwrap();
    path
}

fn check_binary(machine: &str, lib: &Path) -> (i32, Value) {
    let out = nvprobe(&[
        "--json",
        "--root",
        fixture(machine).to_str().unwrap(),
        "check",
        "--binary",
        lib.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code().unwrap(), v)
}

#[test]
fn scan_lists_sass_and_ptx_of_a_library() {
    let dir = tmpdir("list");
    let lib = library(&dir, "libkernels.so", &[80, 86], &[("8.0", 80)]);
    let out = nvprobe(&["--json", "scan", lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["schema_version"], 1);
    let file = &v["scan"][0];
    assert_eq!(file["kind"], "elf");
    let targets: Vec<&str> = file["fatbins"][0]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["sm_80", "sm_86", "compute_80"]);
    let text = String::from_utf8(nvprobe(&["scan", lib.to_str().unwrap()]).stdout).unwrap();
    assert!(text.contains("SASS     sm_80 sm_86"), "{text}");
    assert!(text.contains("PTX      compute_80 (ISA 8.0)"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scan_directory_and_unreadable_paths() {
    let dir = tmpdir("dir");
    library(&dir, "liba.so", &[90], &[]);
    std::fs::write(dir.join("README"), "not an ELF").unwrap();
    std::fs::write(dir.join("libtrunc.so"), b"\x7fELF\x02\x01\x01").unwrap();
    let out = nvprobe(&["--json", "scan", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = v["scan"].as_array().unwrap();
    assert!(
        files
            .iter()
            .any(|f| f["path"].as_str().unwrap().ends_with("liba.so"))
    );
    let trunc = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("libtrunc.so"));
    assert!(
        trunc.is_some_and(|f| !f["problems"].as_array().unwrap().is_empty()),
        "a truncated ELF is listed with its problem: {files:?}"
    );
    let missing = nvprobe(&["scan", "/nonexistent/libnope.so"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        nvprobe(&["scan"]).status.code(),
        Some(2),
        "a path is required"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_binary_sass_for_the_gpu_runs() {
    let dir = tmpdir("sass");
    // sm_86 SASS runs on the A4000 (8.6) and the RTX 4090 (8.9): same major, minor not above.
    let lib = library(&dir, "libsm86.so", &[86], &[]);
    let (code, v) = check_binary("mixed-a4000-rtx4090-570", &lib);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["check"]["verdict"], "satisfied");
    let reason = v["check"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("GPU 0 (NVIDIA GeForce RTX 4090): SASS sm_86")
            && reason.contains("GPU 1 (NVIDIA RTX A4000): SASS sm_86"),
        "{}",
        v["check"]
    );
    // Every part is listed, each satisfied.
    let parts = v["check"]["checks"][0]["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["part"].as_str().unwrap()).collect();
    assert_eq!(names, ["elf-machine", "cuda", "runtime", "kernels"]);
    assert!(
        parts.iter().all(|p| p["verdict"] == "satisfied"),
        "{parts:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_binary_ptx_jit_covers_a_newer_gpu() {
    let dir = tmpdir("jit");
    // sm_80 SASS does not run on 9.0 (other major), but compute_80 PTX JIT-compiles there.
    let lib = library(&dir, "libjit.so", &[80], &[("7.0", 80)]);
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &lib);
    assert_eq!(code, 0, "{v:#}");
    assert!(
        v["check"]["reason"]
            .as_str()
            .unwrap()
            .contains("PTX compute_80 (JIT)"),
        "{}",
        v["check"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_binary_missing_arch_fails_with_the_finding() {
    let dir = tmpdir("missing");
    let lib = library(&dir, "libsm80only.so", &[80, 86], &[]);
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &lib);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["check"]["verdict"], "not-satisfied");
    assert!(
        codes(&v).contains(&"arch-missing-from-binary".to_owned()),
        "{:?}",
        codes(&v)
    );
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "arch-missing-from-binary")
        .unwrap();
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("sm_80") && msg.contains("9.0"), "{msg}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_binary_ptx_newer_than_the_driver() {
    let dir = tmpdir("ptxnew");
    // Driver 570 supports CUDA 12.8 (PTX ISA 8.7); ISA 8.8 PTX cannot be JIT-compiled.
    let lib = library(&dir, "libptx88.so", &[], &[("8.8", 80)]);
    let (code, v) = check_binary("container-visible-subset", &lib);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        codes(&v).contains(&"ptx-too-new-for-driver".to_owned()),
        "{:?}",
        codes(&v)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_binary_without_gpu_and_bad_paths() {
    let dir = tmpdir("nogpu");
    let lib = library(&dir, "libsm90.so", &[90], &[]);
    let (code, v) = check_binary("no-gpu", &lib);
    assert_eq!(code, 1);
    assert_eq!(v["check"]["verdict"], "not-satisfied");
    let reason = v["check"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("CUDA cannot start on this machine: no NVIDIA driver is loaded"),
        "{reason}"
    );
    // No CUDA code found is its own verdict, never "satisfied".
    let plain = dir.join("libplain.so");
    std::fs::write(&plain, cuda_elf(&[])).unwrap();
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &plain);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["check"]["verdict"], "no-cuda-code");
    assert!(
        v["check"]["reason"]
            .as_str()
            .unwrap()
            .contains("no CUDA code found"),
        "{v:#}"
    );
    let out = nvprobe(&["check", "--binary", "/nonexistent/lib.so"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18: 100 section headers over one fatbin used to parse it 100 times (0.25 s and
/// 65 MB each on a big fatbin, then an abort). Its bytes are read once: the same inventory as
/// with one header, in about the time of one.
#[test]
fn scan_duplicate_fatbin_headers_read_once() {
    let dir = tmpdir("dupheaders");
    let entries: Vec<Vec<u8>> = (0..5_000)
        .map(|i| {
            let sm = [80, 86, 90][i % 3];
            entry(2, sm, (1, 8), &cubin(sm))
        })
        .collect();
    let fatbin = container(&entries);
    let one = dir.join("libone.so");
    let many = dir.join("libmany.so");
    std::fs::write(&one, cuda_elf_headers(&fatbin, 1)).unwrap();
    std::fs::write(&many, cuda_elf_headers(&fatbin, 100)).unwrap();
    let scan = |path: &Path| {
        let started = std::time::Instant::now();
        let out = nvprobe(&[
            "--json",
            "--timeout",
            "600000",
            "scan",
            path.to_str().unwrap(),
        ]);
        let took = started.elapsed();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v["scan"][0].clone(), took)
    };
    let (single, _) = scan(&one);
    let (dup, took) = scan(&many);
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    assert_eq!(dup["fatbins"], single["fatbins"]);
    assert_eq!(
        dup["fatbins"][0]["entries"].as_array().unwrap().len(),
        5_000
    );
    let problems: Vec<&str> = dup["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        problems.iter().any(|p| p.contains("read once")),
        "{problems:?}"
    );
    assert!(problems.len() < 20, "{problems:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A library whose fatbin has `n` SASS entries: reading it costs about `n` reads.
fn big_library(dir: &Path, name: &str, n: usize) -> PathBuf {
    let entries: Vec<Vec<u8>> = (0..n).map(|_| entry(2, 80, (1, 8), &cubin(80))).collect();
    let path = dir.join(name);
    std::fs::write(&path, cuda_elf(&container(&entries))).unwrap();
    path
}

/// A tree that takes far longer to scan than the timeouts below: 2,000 hard links to a
/// library of 20,000 entries (about 20 ms a file for a debug build on a 2-CPU VM, so seconds
/// for the 50 at the top and tens of seconds in all), 50 of them at the top and the rest in
/// `sub/`, which is walked after them. With 2,000 entries, a faster VM read the 50 within
/// 300 ms and went on into `sub/`.
fn slow_tree(name: &str) -> common::Scratch {
    let dir = tmpdir(name);
    let lib = big_library(&dir, "libbig.so", 20_000);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for i in 0..2_000 {
        let link = if i < 50 {
            dir.join(format!("lib{i:04}.so"))
        } else {
            dir.join(format!("sub/lib{i:04}.so"))
        };
        std::fs::hard_link(&lib, link).unwrap();
    }
    dir
}

/// Issue 18: `scan /usr --timeout 300` ran 10 s. The scan stops at the deadline, says so, lists
/// what it did not read, and exits 1. (Unbounded, this tree takes about a minute in a debug
/// build.)
#[test]
fn scan_stops_at_the_deadline() {
    let dir = slow_tree("deadline");
    let timeout_ms = 300;
    let started = std::time::Instant::now();
    let out = nvprobe(&[
        "--timeout",
        &timeout_ms.to_string(),
        "scan",
        dir.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    // Twice the timeout plus a margin for start-up and the output.
    assert!(
        took < std::time::Duration::from_millis(2 * timeout_ms + 500),
        "took {took:?}"
    );
    assert_eq!(out.status.code(), Some(1), "cut short is not success");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("INCOMPLETE: the 300 ms deadline (--timeout) passed"),
        "{text}"
    );
    assert!(text.contains("  not read  "), "{text}");

    // The JSON of what was read costs more to write in a debug build (every entry of every
    // file), so only a loose bound here.
    let started = std::time::Instant::now();
    let out = nvprobe(&["--json", "--timeout", "300", "scan", dir.to_str().unwrap()]);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    assert_eq!(out.status.code(), Some(1), "cut short is not success");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["incomplete"], true, "{v:#}");
    let reason = v["incomplete_reason"].as_str().unwrap();
    assert!(reason.contains("300 ms deadline"), "{reason}");
    let not_read: Vec<&str> = v["not_read"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(!not_read.is_empty());
    // The subdirectory was never reached: it is listed, not its files.
    let sub = dir.join("sub");
    assert!(not_read.contains(&sub.to_str().unwrap()), "{not_read:?}");
    let scanned = v["scan"].as_array().unwrap();
    println!("read {} of the 50 files at the top", scanned.len());
    assert!(scanned.len() < 50, "{}", scanned.len());
    // A file cut mid-read is marked and listed; every other one listed was read to the end.
    for f in scanned {
        if f["incomplete"] == true {
            assert!(not_read.contains(&f["path"].as_str().unwrap()));
        } else {
            assert!(f.get("incomplete").is_none(), "{f:#}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A deadline that passes while one big file is read cuts that file: its results so far are
/// kept, it is marked, and it is listed as not read to the end.
#[test]
fn scan_deadline_cuts_a_file_mid_read() {
    let dir = tmpdir("midread");
    let lib = big_library(&dir, "libhuge.so", 200_000);
    let out = nvprobe(&["--json", "--timeout", "150", "scan", lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = &v["scan"][0];
    assert_eq!(file["incomplete"], true, "{:#}", file["problems"]);
    let entries = file["fatbins"][0]["entries"].as_array().unwrap().len();
    assert!(entries > 0 && entries < 200_000, "{entries}");
    assert!(
        file["problems"].as_array().unwrap().iter().any(|p| p
            .as_str()
            .unwrap()
            .contains("deadline passed while reading")),
        "{:#}",
        file["problems"]
    );
    assert_eq!(v["not_read"][0], lib.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 18: `check --binary` read every file whatever `--timeout` said. Cut short, it must not
/// answer "satisfied" from the files it did read: the rest may hold the code that is missing.
#[test]
fn check_binary_cut_short_is_unknown() {
    let dir = slow_tree("checkdeadline");
    let started = std::time::Instant::now();
    let out = nvprobe(&[
        "--json",
        "--timeout",
        "400",
        "--root",
        fixture("container-a100-proprietary-535").to_str().unwrap(),
        "check",
        "--binary",
        dir.to_str().unwrap(),
    ]);
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(1), "{:#}", v["check"]);
    // Every file read has SASS sm_80, which runs on the A100: still no "yes", but "unknown".
    assert_eq!(v["check"]["verdict"], "unknown", "{:#}", v["check"]);
    let reason = v["check"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("not read to the end") && reason.contains("400 ms deadline"),
        "{reason}"
    );
    assert!(codes(&v).contains(&"deadline-exceeded".to_owned()));
    assert!(!codes(&v).contains(&"arch-missing-from-binary".to_owned()));

    // With time enough, a small library in the same command line is read and runs.
    let small = tmpdir("checkdeadline-small");
    let lib = library(&small, "libsm86.so", &[86], &[]);
    let (code, v) = check_binary("mixed-a4000-rtx4090-570", &lib);
    assert_eq!(
        (code, &v["check"]["verdict"]),
        (0, &Value::from("satisfied"))
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&small);
}

// --- Real files built by nvcc 13.5 (probe/tests/cuda-files, scripts/build-cuda-files.sh) ---

fn cuda_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cuda-files")
        .join(name)
}

/// What cuobjdump lists for a file, as sorted names: `sm_80` for a cubin, `ptx sm_90` for PTX.
fn cuobjdump_listing(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(cuda_file(&format!("{name}.cuobjdump"))).unwrap();
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let (kind, file) = line.split_once(": ")?;
            let (stem, ext) = file.rsplit_once('.')?;
            let sm = stem.rsplit('.').next()?;
            match (kind.split_whitespace().next()?, ext) {
                ("ELF", "cubin") => Some(sm.to_owned()),
                ("PTX", "ptx") => Some(format!("ptx {sm}")),
                _ => None,
            }
        })
        .collect();
    names.sort();
    names
}

/// What `scan --json` lists for a file, in cuobjdump's names (an `f` cubin without its suffix,
/// PTX by its number), and the file's scan result.
fn scan_listing(name: &str) -> (Vec<String>, Value) {
    let out = nvprobe(&["--json", "scan", cuda_file(name).to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let file = v["scan"][0].clone();
    let mut names: Vec<String> = file["fatbins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["entries"].as_array().unwrap().iter())
        .map(|e| {
            let target = e["target"].as_str().unwrap();
            match e["kind"].as_str().unwrap() {
                "sass" => target.trim_end_matches('f').to_owned(),
                "ptx" => format!("ptx sm_{}", target.trim_start_matches("compute_")),
                other => format!("{other} {target}"),
            }
        })
        .collect();
    names.sort();
    (names, file)
}

#[test]
fn scan_real_files_agree_with_cuobjdump() {
    for (name, kind) in [
        ("libconcat.so", "elf"),
        ("concat.fatbin", "fatbin"),
        ("bare.fatbin", "fatbin"),
        ("bare.cubin", "cubin"),
        ("librdc.a", "archive"),
        ("librdcptx.so", "elf"),
        ("librdclz4.so", "elf"),
        ("libsm61.so", "elf"),
        ("scale", "elf"),
        ("plain.o", "elf"),
    ] {
        let (listed, file) = scan_listing(name);
        assert_eq!(listed, cuobjdump_listing(name), "{name}: {file:#}");
        assert_eq!(file["kind"], kind, "{name}");
        assert_eq!(file["problems"], Value::Array(vec![]), "{name}: {file:#}");
    }
}

#[test]
fn scan_real_files_details() {
    // --concat: the images inside the kind-0x100 entries, with their a/f targets.
    let (_, file) = scan_listing("concat.fatbin");
    let entries = file["fatbins"][0]["entries"].as_array().unwrap();
    let inside: Vec<&str> = entries
        .iter()
        .filter(|e| e["concatenated"] == true)
        .map(|e| e["target"].as_str().unwrap())
        .collect();
    assert_eq!(inside, ["sm_90a", "sm_80"]);
    assert!(entries.iter().any(|e| e["target"] == "sm_100f"));
    assert_eq!(file["toolkit"], "13.5");

    let (_, file) = scan_listing("libconcat.so");
    assert_eq!(file["cuda_runtime"]["soname"], "libcudart.so.13");
    assert_eq!(file["elf_machine"], 62);

    // PTX-only -rdc: the device library's sm_90 cubin is relocatable, no kernel of the program.
    let (_, file) = scan_listing("librdcptx.so");
    let sass: Vec<&Value> = file["fatbins"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["entries"].as_array().unwrap().iter())
        .filter(|e| e["kind"] == "sass")
        .collect();
    assert_eq!(sass.len(), 1);
    assert_eq!(sass[0]["relocatable"], true);
    // Its kernels are in the zstd-compressed cubin, which scan does not decompress, and says so.
    assert_eq!(sass[0]["compression"], "zstd");
    let kernels = &sass[0]["kernels"];
    assert_eq!(
        (&kernels["count"], &kernels["decompressed"]),
        (&Value::Null, &Value::Bool(false)),
        "{kernels}"
    );
    assert!(
        kernels["unread"]
            .as_str()
            .unwrap()
            .contains("scan does not decompress"),
        "{kernels}"
    );
    let out = nvprobe(&["scan", cuda_file("librdcptx.so").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("SASS     sm_90 (relocatable; kernels not read: compressed)"),
        "{text}"
    );

    let (_, file) = scan_listing("librdc.a");
    assert_eq!(file["fatbins"][0]["section"], "rdc.o:__nv_relfatbin");
    assert_eq!(file["elf_machine"], 62);

    let (_, file) = scan_listing("bare.cubin");
    assert_eq!(file["elf_machine"], 190);
    assert_eq!(file["toolkit"], "13.5");

    // An executable: two registered containers in .nv_fatbin (cuobjdump lists both sm_80
    // cubins), the shared runtime it needs.
    let (_, file) = scan_listing("scale");
    assert_eq!(file["fatbin_registrations"], 2);
    assert_eq!(file["fatbins"][0]["section"], ".nv_fatbin");
    assert_eq!(file["fatbins"][0]["containers"], 2);
    assert_eq!(file["cuda_runtime"]["kind"], "shared");
    assert_eq!(file["cuda_runtime"]["soname"], "libcudart.so.13");

    // A relocatable object without -rdc: .nv_fatbin, not __nv_relfatbin; no runtime of its own
    // (it is linked in later).
    let (_, file) = scan_listing("plain.o");
    assert_eq!(file["fatbins"][0]["section"], ".nv_fatbin");
    assert_eq!(file["cuda_runtime"], Value::Null);
    assert_eq!(file["elf_machine"], 62);
}

/// The parts of the first check item, by name.
fn parts(v: &Value) -> Vec<(String, String)> {
    v["check"]["checks"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["part"].as_str().unwrap().to_owned(),
                p["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn part<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["check"]["checks"][0]["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["part"] == name)
        .unwrap()
}

#[test]
fn check_real_binary_verdicts_by_machine() {
    // A CUDA 13 library on a CUDA 13.0 driver with H100s: SASS sm_90 from the concatenated
    // entry, libcudart.so.13 natively.
    let lib = cuda_file("libconcat.so");
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &lib);
    assert_eq!(
        (code, v["check"]["verdict"].as_str()),
        (0, Some("satisfied")),
        "{v:#}"
    );
    assert!(
        part(&v, "kernels")["reason"]
            .as_str()
            .unwrap()
            .contains("SASS sm_90")
    );

    // The same library on a 570 driver (CUDA 12.8): libcudart.so.13 cannot start, whatever
    // the kernels; the reason names the runtime, the first part that fails.
    let (code, v) = check_binary("mixed-a4000-rtx4090-570", &lib);
    assert_eq!(code, 1);
    assert_eq!(v["check"]["verdict"], "not-satisfied");
    let reason = v["check"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("libcudart.so.13") && reason.contains("cudaErrorInsufficientDriver"),
        "{reason}"
    );
    assert!(codes(&v).contains(&"cuda-runtime-too-new".to_owned()));
    assert_eq!(
        parts(&v),
        [
            ("elf-machine".into(), "satisfied".into()),
            ("cuda".into(), "satisfied".into()),
            ("runtime".into(), "not-satisfied".into()),
            ("kernels".into(), "not-satisfied".into()),
        ]
    );

    // Forward compatibility: cuda-compat 12.9 on a 535 driver gives CUDA 12.9, not 13.
    let (code, v) = check_binary("container-h100-535-compat-12.9", &lib);
    assert_eq!(code, 1);
    assert!(
        part(&v, "runtime")["reason"]
            .as_str()
            .unwrap()
            .contains("the cuda-compat user-mode driver gives CUDA 12.9"),
        "{v:#}"
    );

    // Jetson (aarch64): an x86-64 library cannot load at all; that is the reason given.
    let (code, v) = check_binary("jetson-orin-l4t-36", &lib);
    assert_eq!(code, 1);
    assert!(codes(&v).contains(&"binary-wrong-machine".to_owned()));
    assert!(
        v["check"]["reason"]
            .as_str()
            .unwrap()
            .contains("x86-64 code and this machine is aarch64"),
        "{v:#}"
    );
}

#[test]
fn check_real_binary_executable_by_machine() {
    // nvcc 13.5 with SASS sm_80 and compute_90 PTX. On H100s with a 580 driver (CUDA 13.0)
    // the runtime starts, but no kernel loads: sm_80 SASS does not run on 9.0, and the PTX is
    // ISA 9.5, newer than the 13.0 driver's JIT takes (9.0).
    let exe = cuda_file("scale");
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &exe);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(
        parts(&v),
        [
            ("elf-machine".into(), "satisfied".into()),
            ("cuda".into(), "satisfied".into()),
            ("runtime".into(), "satisfied".into()),
            ("kernels".into(), "not-satisfied".into()),
        ]
    );
    let reason = v["check"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("no SASS for GPUs 0,1,2,3,4,5,6,7")
            && reason.contains("ISA 9.5")
            && reason.contains("up to ISA 9.0"),
        "{reason}"
    );
    assert!(codes(&v).contains(&"ptx-too-new-for-driver".to_owned()));

    // On a 570 driver (CUDA 12.8) the SASS fits both GPUs (8.9 and 8.6 run sm_80), but
    // libcudart.so.13 cannot start: the runtime is the reason.
    let (code, v) = check_binary("mixed-a4000-rtx4090-570", &exe);
    assert_eq!(code, 1);
    assert_eq!(
        parts(&v),
        [
            ("elf-machine".into(), "satisfied".into()),
            ("cuda".into(), "satisfied".into()),
            ("runtime".into(), "not-satisfied".into()),
            ("kernels".into(), "satisfied".into()),
        ]
    );
    assert!(codes(&v).contains(&"cuda-runtime-too-new".to_owned()));
}

#[test]
fn check_real_binary_ptx_jit_limit_of_the_loaded_driver() {
    // compute_90 PTX is ISA 9.5: with cuda-compat 12.9 the JIT takes up to ISA 8.8 (not 535's
    // 8.2), so it is too new there, and the message says 8.8.
    let (code, v) = check_binary("container-h100-535-compat-12.9", &cuda_file("bare.fatbin"));
    assert_eq!(code, 1);
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "ptx-too-new-for-driver")
        .unwrap_or_else(|| panic!("{v:#}"));
    assert!(
        f["message"].as_str().unwrap().contains("up to ISA 8.8"),
        "{f}"
    );
    // A bare fatbin has no host code and needs no runtime: those parts pass.
    assert_eq!(part(&v, "runtime")["verdict"], "satisfied");
    assert_eq!(part(&v, "elf-machine")["verdict"], "satisfied");

    // Jetson: the L4T release's CUDA (12.6, PTX ISA 8.5) limits the JIT.
    let dir = tmpdir("jetson-ptx");
    let fatbin = dir.join("ptx88.fatbin");
    std::fs::write(
        &fatbin,
        container(&[entry(1, 80, (8, 8), &ptx("8.8", "sm_80"))]),
    )
    .unwrap();
    let (code, v) = check_binary("jetson-orin-l4t-36", &fatbin);
    assert_eq!(code, 1, "{v:#}");
    assert!(
        v["check"]["reason"]
            .as_str()
            .unwrap()
            .contains("up to ISA 8.5"),
        "{v:#}"
    );
    // ... and a cubin for sm_86 runs on the Orin (8.7).
    let (code, v) = check_binary("jetson-orin-l4t-36", &cuda_file("bare.cubin"));
    assert_eq!(
        (code, v["check"]["verdict"].as_str()),
        (0, Some("satisfied")),
        "{v:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_real_binary_rdc_ptx_only_is_not_its_device_library() {
    // The relocatable sm_90 cubin in __nv_relfatbin carries no kernel: on H100s only the
    // compute_120 PTX could, and it cannot run on 9.0. Never "runs: SASS sm_90".
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &cuda_file("librdcptx.so"));
    assert_eq!(code, 1, "{v:#}");
    let kernels = part(&v, "kernels");
    assert_eq!(kernels["verdict"], "not-satisfied");
    let reason = kernels["reason"].as_str().unwrap();
    assert!(
        reason.contains("SASS for none") && reason.contains("compute_120"),
        "{reason}"
    );
    // check --binary decompresses the cubin (zstd, 2,688 bytes): no kernel in it, so on an
    // RTX 5090 (12.0) the program's compute_120 PTX decides, against the driver's PTX ISA
    // (CUDA 12.8: up to 8.7; the PTX is 9.5), not the cubin's sm_90.
    let (code, v) = check_binary("rtx5090-open-570", &cuda_file("librdcptx.so"));
    assert_eq!(code, 1, "{v:#}");
    let kernels = part(&v, "kernels");
    assert_eq!(kernels["verdict"], "not-satisfied");
    let reason = kernels["reason"].as_str().unwrap();
    assert!(
        reason.contains("PTX for compute_120 is ISA 9.5") && reason.contains("up to ISA 8.7"),
        "{reason}"
    );
    assert!(codes(&v).contains(&"ptx-too-new-for-driver".to_owned()));
    assert!(!codes(&v).contains(&"arch-missing-from-binary".to_owned()));
    // An archive of -rdc objects: its SASS sm_80 is the program's (linked later).
    let (code, v) = check_binary("mixed-a4000-rtx4090-570", &cuda_file("librdc.a"));
    assert_eq!(
        (code, v["check"]["verdict"].as_str()),
        (0, Some("satisfied")),
        "{v:#}"
    );
}

/// A little-endian ELF64 x86-64 shared object holding `sections` (name, bytes), each at an
/// 8-aligned offset after `pad` bytes of zeros, plus `.shstrtab`.
fn elf_with(sections: &[(&str, &[u8])], pad: usize) -> Vec<u8> {
    let mut names = b"\0.shstrtab\0".to_vec();
    let mut out = vec![0u8; 64];
    let mut headers: Vec<[u8; 64]> = vec![[0; 64]];
    let add = |out: &mut Vec<u8>, name: u32, ty: u32, data: &[u8], pad: usize| {
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0, pad));
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&name.to_le_bytes());
        h[4..8].copy_from_slice(&ty.to_le_bytes());
        h[24..32].copy_from_slice(&(out.len() as u64).to_le_bytes());
        h[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(data);
        h
    };
    let mut offsets = Vec::new();
    for (name, _) in sections {
        offsets.push(u32::try_from(names.len()).unwrap());
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    headers.push(add(&mut out, 1, 3, &names, 0));
    for ((_, data), name) in sections.iter().zip(offsets) {
        headers.push(add(&mut out, name, 1, data, pad));
    }
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len();
    for h in &headers {
        out.extend_from_slice(h);
    }
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&3u16.to_le_bytes());
    out[18..20].copy_from_slice(&62u16.to_le_bytes());
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[58..60].copy_from_slice(&64u16.to_le_bytes());
    out[60..62].copy_from_slice(&u16::try_from(headers.len()).unwrap().to_le_bytes());
    out[62..64].copy_from_slice(&1u16.to_le_bytes());
    out
}

/// cuFFT keeps its fatbins in `.ldata`, where neither scan nor cuobjdump lists them: the SASS
/// it does list covers the GPU, but what the hidden ones cover is not known, so the answer is
/// "unknown", never "satisfied" on what was found.
#[test]
fn check_binary_with_fatbins_outside_the_fatbin_sections_is_unknown() {
    let dir = tmpdir("cufft");
    let sm90 = container(&[entry(2, 90, (1, 8), &cubin(90))]);
    let mut ldata = Vec::new();
    for sm in [80, 90, 100] {
        ldata.extend(container(&[entry(2, sm, (1, 8), &cubin(sm))]));
    }
    let lib = dir.join("libcufft.so.11");
    std::fs::write(
        &lib,
        elf_with(&[(".nv_fatbin", &sm90), (".ldata", &ldata)], 4),
    )
    .unwrap();
    let out = nvprobe(&["--json", "scan", lib.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["scan"][0]["fatbin_headers_elsewhere"], 3, "{v:#}");
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &lib);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["check"]["verdict"], "unknown");
    let kernels = part(&v, "kernels");
    assert_eq!(kernels["verdict"], "unknown");
    assert!(
        kernels["reason"].as_str().unwrap().contains("(3 counted"),
        "{kernels}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A library from a wheel needs `libcudart.so.13`, which says only "13": the runtime wheel's
/// `.dist-info` above it gives the full version, read before the sandbox goes on (the scan may
/// read only beneath the path given).
#[test]
fn scan_runtime_version_from_a_wheel_dist_info() {
    let dir = tmpdir("wheel");
    let site = dir.join("site-packages");
    let lib_dir = site.join("torch/lib");
    std::fs::create_dir_all(&lib_dir).unwrap();
    std::fs::create_dir_all(site.join("nvidia_cuda_runtime-13.5.37.dist-info")).unwrap();
    std::fs::create_dir_all(site.join("nvidia_cuda_runtime_cu12-12.4.127.dist-info")).unwrap();
    let lib = lib_dir.join("libconcat.so");
    std::fs::copy(cuda_file("libconcat.so"), &lib).unwrap();
    for args in [
        &["--json", "scan"][..],
        &["--json", "scan", "--no-sandbox"][..],
    ] {
        let mut args = args.to_vec();
        args.push(lib.to_str().unwrap());
        let out = nvprobe(&args);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let runtime = &v["scan"][0]["cuda_runtime"];
        assert_eq!(
            runtime["installed"]["version"], "13.5.37",
            "{args:?}: {v:#}"
        );
        assert!(
            runtime["installed"]["from"]
                .as_str()
                .unwrap()
                .ends_with("nvidia_cuda_runtime-13.5.37.dist-info")
        );
    }
    // And check --binary weighs 13.5, not 13: minor-version compatibility on CUDA 13.0.
    let (code, v) = check_binary("bare-metal-h100x8-open-580", &lib);
    assert_eq!(code, 0, "{v:#}");
    let runtime = part(&v, "runtime")["reason"].as_str().unwrap();
    assert!(
        runtime.contains("(CUDA 13.5)") && runtime.contains("minor-version compatibility"),
        "{runtime}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check --binary` judges the ELF machine against the machine under `--root`, never against
/// nvprobe's own: an aarch64 server (a GH200 node's root, say, read on an x86-64 laptop) cannot
/// load x86-64 code, and a root that names no architecture leaves that part unknown.
#[test]
fn check_binary_elf_machine_is_the_roots() {
    let lib = cuda_file("libconcat.so");
    let arm = tmpdir("root-aarch64");
    common::copy_tree(&fixture("bare-metal-h100x8-open-580"), &arm);
    let version = arm.join("proc/driver/nvidia/version");
    let text = std::fs::read_to_string(&version).unwrap();
    assert!(text.contains("for x86_64"), "{text}");
    std::fs::write(&version, text.replace("for x86_64", "for aarch64")).unwrap();
    let run = || {
        let out = nvprobe(&[
            "--json",
            "--root",
            arm.to_str().unwrap(),
            "check",
            "--binary",
            lib.to_str().unwrap(),
        ]);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, v) = run();
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["platform"]["arch"], "aarch64", "{v:#}");
    assert!(codes(&v).contains(&"binary-wrong-machine".to_owned()));
    assert_eq!(part(&v, "elf-machine")["verdict"], "not-satisfied", "{v:#}");

    // /proc/sys/kernel/arch (a capture of a 6.1+ kernel keeps it) wins over the module's line.
    std::fs::create_dir_all(arm.join("proc/sys/kernel")).unwrap();
    std::fs::write(arm.join("proc/sys/kernel/arch"), "x86_64\n").unwrap();
    let (_, v) = run();
    assert_eq!(v["platform"]["arch"], "x86_64", "{v:#}");
    assert_eq!(part(&v, "elf-machine")["verdict"], "satisfied", "{v:#}");

    // No driver version file and not Tegra: the architecture is unknown, so is that part.
    let (_, v) = check_binary("nouveau", &lib);
    assert!(v["platform"]["arch"].is_null(), "{v:#}");
    assert_eq!(part(&v, "elf-machine")["verdict"], "unknown", "{v:#}");
}

/// `scan` opens each file after checking its type on an `O_PATH` handle, through its
/// `/proc/self/fd` entry; without `/proc` (a mount namespace where it is unmounted) it opens
/// the path again instead, and reads the same. Needs `unshare`; says "skipped" without.
#[test]
fn scan_reads_the_same_without_proc() {
    let files = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cuda-files");
    let dir = files.to_str().unwrap();
    let with = nvprobe(&["scan", "--json", dir]);
    assert_eq!(with.status.code(), Some(0));
    let without =
        nvprobe_in_private_mounts("umount -l /proc && exec \"$0\" scan --json \"$1\"", dir);
    match without {
        Ok(out) if !out.stdout.is_empty() => {
            let strip = |o: &[u8]| {
                let mut v: Value = serde_json::from_slice(o).unwrap();
                v.as_object_mut().unwrap().remove("timing");
                v
            };
            assert_eq!(strip(&out.stdout), strip(&with.stdout));
            assert_eq!(out.status.code(), Some(0));
        }
        Ok(out) => eprintln!(
            "skipped: unshare -m did not run ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("skipped: no unshare ({e})"),
    }
}
