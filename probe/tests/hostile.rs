//! Issue 10: never hang, never crash, never write. Runs the real binary over machines built
//! of hostile input at test time (garbage bytes in every file the probe reads, truncated
//! files, symlink loops, FIFOs, a 1 GiB sparse file, directories where files belong, absurd
//! device stand-ins, an oversized directory), with the sandbox on and off, and checks that each
//! run writes one valid JSON report, exits 0 or 1, never panics and finishes within its
//! deadline. Also: the process exits at the deadline while a source is stuck, and the sandbox
//! changes no report.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{
    copy_tree, fixtures, make_char_node, nvprobe_command, nvprobe_in_private_mounts, opens_of,
};

fn scratch(name: &str) -> common::Scratch {
    common::scratch_dir("hostile", name)
}

fn nvprobe(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let start = Instant::now();
    let out = nvprobe_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run nvprobe");
    (out, start.elapsed())
}

/// A small deterministic byte generator (xorshift), so a failure can be replayed.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.to_le_bytes()[3]
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next()).collect()
    }
}

/// Every regular file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_dir_all(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn put(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

fn sparse(root: &Path, rel: &str, head: &[u8], len: u64) {
    let p = root.join(rel);
    let _ = fs::remove_file(&p);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, head).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(&p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// The traps every hostile machine gets on top of its mangled files.
fn add_traps(root: &Path) {
    // Symlink loops: two links pointing at each other, one pointing at itself, and a directory
    // link that contains itself (a walk that follows it never ends).
    let pci = root.join("sys/bus/pci/devices");
    fs::create_dir_all(&pci).unwrap();
    symlink(
        "/sys/bus/pci/devices/0000:f1:00.0",
        pci.join("0000:f0:00.0"),
    )
    .unwrap();
    symlink(
        "/sys/bus/pci/devices/0000:f0:00.0",
        pci.join("0000:f1:00.0"),
    )
    .unwrap();
    symlink("../../../lib/modules", root.join("lib/modules/self")).unwrap_or(());
    let _ = fs::create_dir_all(root.join("usr/lib/x86_64-linux-gnu"));
    let _ = symlink(
        "/usr/lib/x86_64-linux-gnu",
        root.join("usr/lib/x86_64-linux-gnu/loop"),
    );
    // FIFOs where a device node, a procfs file and the loader cache belong: an open without
    // O_NONBLOCK would block forever.
    mkfifo(&root.join("dev/nvidiactl"));
    mkfifo(&root.join("proc/driver/nvidia/params"));
    mkfifo(&root.join("etc/ld.so.cache"));
    mkfifo(&root.join("etc/os-release"));
    // 1 GiB sparse files: /proc/modules (text) and a library the inventory inspects (ELF).
    sparse(root, "proc/modules", b"nvidia 1 2 - Live 0x0\n", 1 << 30);
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    elf.resize(64, 0xff);
    sparse(root, "usr/lib/x86_64-linux-gnu/libcuda.so.1", &elf, 1 << 30);
    // Directories where files belong.
    for rel in ["proc/sys/kernel/osrelease", "sys/module/nvidia/version"] {
        let p = root.join(rel);
        let _ = fs::remove_file(&p);
        fs::create_dir_all(p.join("nested")).unwrap();
    }
    // Device stand-ins with absurd records.
    put(
        root,
        "dev/nvidia0",
        b"type=char\nmajor=99999999999999999999\nminor=-1\nmode=7777777777777777\nuid=\xff\xfe\nopen=EWHAT\n",
    );
    put(root, "dev/nvidia1", &vec![b'='; 70_000]);
    // A directory with more entries than the probe lists.
    let many = root.join("proc/driver/nvidia/gpus");
    fs::create_dir_all(&many).unwrap();
    for i in 0..5000 {
        let d = many.join(format!("0000:{:02x}:{:02x}.0", i / 256, i % 256));
        fs::create_dir_all(&d).unwrap();
        if i % 1000 == 0 {
            fs::write(
                d.join("information"),
                b"Model: \t\t \xff\xfe\nBus Location: \t",
            )
            .unwrap();
        }
    }
}

/// A machine copied from a real fixture with every file mangled: by turns replaced with
/// garbage, truncated at a random point, or cut to its first line.
fn mangled_machine(name: &str, fixture: &str, seed: u64) -> common::Scratch {
    let root = scratch(name);
    copy_tree(&fixtures().join(fixture), &root);
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let mut rng = Bytes(seed);
    for (i, f) in all.iter().enumerate() {
        let data = fs::read(f).unwrap();
        let new = match i % 3 {
            0 => {
                let n = usize::from(rng.next()) * 4;
                rng.take(n)
            }
            1 => {
                let cut = if data.is_empty() {
                    0
                } else {
                    usize::from(rng.next()) * data.len() / 256
                };
                data[..cut].to_vec()
            }
            _ => data
                .split(|b| *b == b'\n')
                .next()
                .unwrap_or_default()
                .to_vec(),
        };
        fs::write(f, new).unwrap();
    }
    add_traps(&root);
    root
}

/// Checks one run: a JSON report on stdout that deserialises into the library's type, exit
/// 0 or 1, no panic, within the deadline (plus slack for process start and the debug build).
fn assert_survives(what: &str, out: &Output, took: Duration, timeout: Duration) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: {:?} {stderr}",
        out.status
    );
    assert!(
        took < timeout + Duration::from_secs(3),
        "{what}: took {took:?} with a {timeout:?} deadline"
    );
    let stdout = std::str::from_utf8(&out.stdout).expect("UTF-8 stdout");
    let typed: nvprobe::report::Report =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{what}: not a report ({e})"));
    assert_eq!(typed.schema_version, 1);
    serde_json::from_str(stdout).unwrap()
}

/// No source ran into the deadline: every FIFO, loop and huge file was refused or bounded
/// rather than waited on. Details stay short (a directory of thousands of bad entries must not
/// make a huge report).
fn assert_nothing_blocked(what: &str, report: &Value) {
    for s in report["sources"].as_array().unwrap() {
        assert_ne!(s["status"], "timeout", "{what}: {s}");
        let detail = s["detail"].as_str().unwrap_or_default();
        assert!(
            detail.len() < 8192,
            "{what}: {} bytes of detail in {}",
            detail.len(),
            s["name"]
        );
    }
}

/// The entry of `sources` named `name`.
fn source<'a>(report: &'a Value, name: &str) -> Option<&'a Value> {
    report["sources"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
}

fn status_of(report: &Value, name: &str) -> Option<String> {
    source(report, name)
        .and_then(|s| s["status"].as_str())
        .map(str::to_owned)
}

#[test]
fn hostile_mangled_machines_give_a_report_within_the_deadline() {
    let cases = [
        ("h100", "bare-metal-h100x8-open-580", 0x9E37_79B9_7F4A_7C15),
        (
            "compat",
            "container-h100-535-compat-12.9",
            0xD1B5_4A32_D192_ED03,
        ),
        (
            "wheels",
            "rtx4090-565-toolkit-wheels",
            0x2545_F491_4F6C_DD1D,
        ),
    ];
    let timeout = Duration::from_secs(5);
    for (name, fixture, seed) in cases {
        if !fixtures().join(fixture).is_dir() {
            continue;
        }
        let root = mangled_machine(name, fixture, seed);
        let r = root.to_str().unwrap();
        for extra in [
            &["--json"][..],
            &["--json", "--no-sandbox"],
            &["--json", "--deep"],
            &["--json", "check", "--cuda", "12.4"],
            &[
                "--json",
                "check",
                "--require",
                "cuda>=12.4 brand=tesla,driver>=535",
            ],
        ] {
            let mut args = vec!["--root", r, "--timeout", "5000"];
            args.extend_from_slice(extra);
            let what = format!("{name} {extra:?}");
            let (out, took) = nvprobe(&args, &[]);
            let report = assert_survives(&what, &out, took, timeout);
            assert_nothing_blocked(&what, &report);
            // The FIFO at /dev/nvidiactl was never opened as a device.
            assert_ne!(status_of(&report, "ioctl").as_deref(), Some("ok"), "{what}");
        }
        let _ = fs::remove_dir_all(&root);
    }
}

/// The traps alone, on an otherwise empty machine, and with garbage in each file the probe
/// names (the checklist of issue 10: garbage, truncated, symlink loop, FIFO, 1 GiB file).
#[test]
fn hostile_traps_alone_give_a_report() {
    let root = scratch("traps");
    let mut rng = Bytes(0x5DEE_CE66_D1CE_4E5B);
    for rel in [
        "proc/driver/nvidia/version",
        "proc/driver/nvidia/gpus/0000:3b:00.0/information",
        "sys/bus/pci/devices/0000:3b:00.0/vendor",
        "sys/bus/pci/devices/0000:3b:00.0/device",
        "sys/bus/pci/devices/0000:3b:00.0/class",
        "sys/bus/pci/devices/0000:3b:00.0/uevent",
        "sys/module/nvidia/taint",
        "etc/nvidia-container-runtime/config.toml",
        "var/lib/dpkg/status",
    ] {
        let n = usize::from(rng.next()) * 16;
        put(&root, rel, &rng.take(n));
    }
    put(
        &root,
        "sys/bus/pci/devices/0000:3b:00.0/vendor",
        b"0x10de\n",
    );
    put(
        &root,
        "sys/bus/pci/devices/0000:3b:00.0/class",
        b"0x030200\n",
    );
    fs::create_dir_all(root.join("lib/modules")).unwrap();
    add_traps(&root);
    let (out, took) = nvprobe(
        &[
            "--json",
            "--root",
            root.to_str().unwrap(),
            "--timeout",
            "3000",
        ],
        &[],
    );
    let report = assert_survives("traps", &out, took, Duration::from_secs(3));
    assert_nothing_blocked("traps", &report);
    assert_eq!(status_of(&report, "ioctl").as_deref(), Some("skipped"));
    let _ = fs::remove_dir_all(&root);
}

/// The process exits at the deadline even though the worker is stuck (debug builds stall a
/// source through `NVPROBE_TEST_STALL`): the partial report goes out with the stuck source
/// marked `timeout`, and stdout reaches end-of-file at once.
#[test]
fn hostile_stuck_source_exits_at_the_deadline() {
    let fixture = fixtures().join("kernel-update-no-dkms");
    let root = fixture.to_str().unwrap();
    for extra in [&[][..], &["check", "--cuda", "12.4"]] {
        let mut args = vec!["--json", "--root", root, "--timeout", "300"];
        args.extend_from_slice(extra);
        let (out, took) = nvprobe(&args, &[("NVPROBE_TEST_STALL", "sysfs-pci:30000")]);
        assert!(
            took < Duration::from_secs(5),
            "exited after {took:?}, not at the 300 ms deadline"
        );
        let report = assert_survives("stall", &out, took, Duration::from_millis(300));
        assert_eq!(status_of(&report, "sysfs-pci").as_deref(), Some("timeout"));
        let codes: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&"deadline-exceeded"), "{codes:?}");
    }
}

/// With the sandbox on, every fixture gives the same report as with `--no-sandbox` (but for
/// the `sandbox` source), and on a kernel with Landlock and seccomp the sandbox says `ok`.
#[test]
fn hostile_sandbox_changes_no_report() {
    let mut names: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    let mut sandboxed = 0;
    for dir in names {
        let root = dir.to_str().unwrap();
        for extra in [&[][..], &["--deep"], &["check", "--cuda", "12.4"]] {
            let mut on = vec!["--json", "--root", root];
            on.extend_from_slice(extra);
            let mut off = on.clone();
            off.push("--no-sandbox");
            let (a, _) = nvprobe(&on, &[]);
            let (b, _) = nvprobe(&off, &[]);
            assert_eq!(a.status.code(), b.status.code(), "{root} {extra:?}");
            let mut a: Value = serde_json::from_slice(&a.stdout).unwrap();
            let mut b: Value = serde_json::from_slice(&b.stdout).unwrap();
            let sa = a["sources"].as_array_mut().unwrap().remove(0);
            let sb = b["sources"].as_array_mut().unwrap().remove(0);
            assert_eq!(sa["name"], "sandbox");
            assert_eq!(sb["status"], "skipped");
            assert_ne!(sa["status"], "failed", "{sa}");
            if sa["status"] == "ok" {
                sandboxed += 1;
            }
            assert_eq!(a, b, "{root} {extra:?}: the sandbox changed the report");
        }
    }
    if landlock_and_seccomp_available() {
        assert!(
            sandboxed > 0,
            "the kernel has Landlock and seccomp but no run was sandboxed"
        );
    } else {
        eprintln!("skipped the sandbox-applied check: no Landlock or seccomp on this kernel");
    }
}

/// True when this kernel offers both layers (`/proc/self/status` has a `Seccomp:` line and a
/// Landlock LSM is listed, where the list is readable).
fn landlock_and_seccomp_available() -> bool {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let lsm = fs::read_to_string("/sys/kernel/security/lsm").ok();
    status.contains("Seccomp:") && lsm.is_none_or(|l| l.contains("landlock"))
}

/// A run under a low `RLIMIT_NOFILE` (`ulimit -n` 8 to 64) gives every fixture's report
/// unchanged: the probe holds no descriptors beyond the root's and the file it reads (no
/// directory cache). Once, with a cache of open directories, an 8-GPU replay under
/// `ulimit -n 24` failed four sources, and under `ulimit -n 12` a WSL2 machine's libraries
/// read as unreadable ELF files.
#[test]
fn hostile_low_open_files_limit_gives_the_same_report() {
    let bin = env!("CARGO_BIN_EXE_nvprobe");
    let mut names: Vec<_> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(names.len() > 20, "{names:?}");
    for fixture in &names {
        let root = fixtures().join(fixture);
        let r = root.to_str().unwrap();
        let (plain, _) = nvprobe(&["--json", "--deep", "--root", r], &[]);
        assert!(!plain.stdout.is_empty(), "{fixture}: {plain:?}");
        for limit in [8, 16, 64] {
            let limited = Command::new("/bin/sh")
                .arg("-c")
                .arg(format!(
                    "ulimit -n {limit} && exec \"$0\" --json --deep --root \"$1\""
                ))
                .arg(bin)
                .arg(r)
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&limited.stdout),
                String::from_utf8_lossy(&plain.stdout),
                "{fixture} under ulimit -n {limit}: {}",
                String::from_utf8_lossy(&limited.stderr)
            );
            assert_eq!(
                limited.status.code(),
                plain.status.code(),
                "{fixture} {limit}"
            );
        }
    }
}

/// Real character devices inside a root (what `--root /host` in a container meets) are found
/// and opened inside the root, sandboxed: the probe's ioctls reach them (`/dev/null`'s numbers
/// answer `ENOTTY`), their access is asked of the node found, and a link out of the root is
/// not followed out. Without `/proc` (a mount namespace where it is unmounted) the nodes are
/// looked up again inside the root instead of reopened through `/proc/self/fd`, and their
/// access reads "unknown". Needs `CAP_MKNOD` (and `unshare` for the second part); says
/// "skipped" without.
#[test]
fn hostile_real_device_nodes_under_a_root_are_opened_inside_it() {
    let dir = scratch("real-nodes");
    copy_tree(&fixtures().join("bare-metal-h100x8-open-580"), &dir);
    for node in ["nvidiactl", "nvidia0"] {
        if !make_char_node(&dir.join("dev").join(node), 1, 3) {
            eprintln!("skipped: mknod is not allowed here (no CAP_MKNOD)");
            return;
        }
    }
    // Leads to the host's /dev/zero if followed out of the root; inside it, to nothing.
    fs::remove_file(dir.join("dev/nvidia1")).unwrap();
    symlink(
        "../../../../../../../../../dev/zero",
        dir.join("dev/nvidia1"),
    )
    .unwrap();
    let root = dir.to_str().unwrap();
    let check = |out: &Output, access: &str| {
        // 1: the finding that /dev/nvidia1 is missing, which it is inside the root.
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let ioctl = source(&report, "ioctl").unwrap();
        assert!(
            ioctl["detail"].as_str().unwrap().contains("ENOTTY"),
            "the ioctls reached the node: {ioctl}"
        );
        let nodes = report["device_nodes"].as_array().unwrap();
        let node = |path: &str| nodes.iter().find(|n| n["path"] == path);
        for path in ["/dev/nvidiactl", "/dev/nvidia0"] {
            let n = node(path).unwrap();
            assert_eq!(
                (&n["kind"], &n["major"], &n["minor"], &n["access"]),
                (
                    &Value::from("char"),
                    &Value::from(1),
                    &Value::from(3),
                    &Value::from(access)
                ),
                "{n}"
            );
        }
        assert_eq!(
            node("/dev/nvidia1"),
            None,
            "the link was followed out of the root"
        );
    };
    let (out, _) = nvprobe(&["--json", "--root", root], &[]);
    check(&out, "ok");
    // The same without /proc: the binary is run by a shell that unmounts it first, in a mount
    // namespace of its own whose mounts are private (said, not left to unshare's default: a
    // shared one would carry the unmount back to the machine running the tests).
    let unmounted = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("umount -l /proc && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_nvprobe"))
        .args(["--json", "--root", root])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output();
    match unmounted {
        Ok(out) if !out.stdout.is_empty() => check(&out, "unknown"),
        Ok(out) => eprintln!(
            "skipped the run without /proc: unshare -m did not run ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => eprintln!("skipped the run without /proc: no unshare ({e})"),
    }
}

/// A report without its `sandbox` source and its timing, for comparing runs with the sandbox
/// on and off.
fn without_sandbox(out: &Output) -> (Value, Value) {
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sources = report["sources"].as_array_mut().unwrap();
    let at = sources.iter().position(|s| s["name"] == "sandbox").unwrap();
    let sandbox = sources.remove(at);
    report.as_object_mut().unwrap().remove("timing");
    (report, sandbox)
}

/// A device node where the probe reads a file, inside a `--root` (a bundle unpacked by root
/// with `tar` keeps its nodes): read through the root's `nodev` copy of its mounts, it is
/// refused before its driver's open runs, and the report is the one a plain open and `fstat`
/// give. With `--no-sandbox` (no copy) the node is opened before it is refused, which shows the
/// watch sees the open. A `/proc` mounted over the tree's own (what `--root /host` meets: the
/// host's mounts beneath it) reads the same through the copy. Needs `CAP_MKNOD` and
/// `CAP_SYS_ADMIN` (and `unshare` for the mount); says "skipped" without.
#[test]
fn hostile_device_node_where_a_file_belongs_is_not_opened_under_a_root() {
    let dir = scratch("node-for-file");
    copy_tree(&fixtures().join("bare-metal-h100x8-open-580"), &dir);
    let node = dir.join("proc/driver/nvidia/version");
    if !make_char_node(&node, 1, 3) {
        eprintln!("skipped: mknod is not allowed here (no CAP_MKNOD)");
        return;
    }
    let root = dir.to_str().unwrap();
    let (opened, plain) = opens_of(&node, || {
        nvprobe(&["--json", "--root", root, "--no-sandbox"], &[]).0
    });
    assert_eq!(opened, 1, "the control run did not open the node once");
    let (opened, guarded) = opens_of(&node, || nvprobe(&["--json", "--root", root], &[]).0);
    assert_eq!(guarded.status.code(), plain.status.code());
    let (report, sandbox) = without_sandbox(&guarded);
    let detail = sandbox["detail"].as_str().unwrap();
    if detail.contains(nvprobe::sys::sandbox::NODEV_MISSING) {
        eprintln!("skipped: no nodev copy of the root's mounts here ({detail})");
        return;
    }
    assert!(
        detail.contains(nvprobe::sys::sandbox::NODEV_MADE),
        "{detail}"
    );
    assert_eq!(opened, 0, "the node was opened through the nodev copy");
    assert_eq!(
        report,
        without_sandbox(&plain).0,
        "the copy changed the report"
    );
    // The tree's /proc moved aside and mounted again over an empty directory: only a copy of
    // the mounts beneath the root (`AT_RECURSIVE`) sees its files.
    fs::rename(dir.join("proc"), dir.join("proc.real")).unwrap();
    fs::create_dir(dir.join("proc")).unwrap();
    let (opened, mounted) = opens_of(&dir.join("proc.real/driver/nvidia/version"), || {
        nvprobe_in_private_mounts(
            "mount --bind \"$1/proc.real\" \"$1/proc\" && exec \"$0\" --json --root \"$1\"",
            root,
        )
        .unwrap_or_else(|e| Output {
            status: std::os::unix::process::ExitStatusExt::from_raw(0),
            stdout: Vec::new(),
            stderr: e.to_string().into_bytes(),
        })
    });
    if mounted.stdout.is_empty() {
        eprintln!(
            "skipped the mounted /proc: unshare -m did not run ({})",
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        return;
    }
    assert_eq!(opened, 0, "the node was opened through the nodev copy");
    assert_eq!(
        without_sandbox(&mounted).0,
        report,
        "a mount beneath the root read differently through the copy"
    );
}

/// A root's libraries are named by the kernel (`/proc/self/fd`, after `openat2` found them
/// inside the root); without `/proc` the walk names them, and the names are the same: every
/// link resolved inside the root, however the directories were reached.
#[test]
fn root_libraries_are_named_alike_without_proc() {
    for name in [
        "container-h100-535-compat-12.9",
        "container-gpu-manager-570",
    ] {
        let root = fixtures().join(name);
        let root = root.to_str().unwrap();
        let (out, _) = nvprobe(&["--json", "--root", root], &[]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let libraries = &report["libraries"];
        assert!(
            libraries.as_array().unwrap().len() >= 2,
            "{name}: {libraries}"
        );
        let unmounted =
            nvprobe_in_private_mounts("umount -l /proc && exec \"$0\" --json --root \"$1\"", root);
        match unmounted {
            Ok(out) if !out.stdout.is_empty() => {
                let without: Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(&without["libraries"], libraries, "{name}");
            }
            Ok(out) => eprintln!(
                "skipped the run without /proc: unshare -m did not run ({})",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => eprintln!("skipped the run without /proc: no unshare ({e})"),
        }
    }
}
