//! Whole-file tests: synthetic ELF files written here (plain, hostile), directory walks, and
//! the real CUDA libraries fetched by `scripts/fetch-cuda-samples.sh` when they are cached.

use std::fs;
use std::path::{Path, PathBuf};

use super::elf::STATIC_RUNTIME_MARKER;
use super::fatbin::WRAPPER_MAGIC;
use super::fatbin::tests::{TestEntry, container, ptx};
use super::image::tests::cubin;
use super::*;

/// A scratch directory ([`crate::testutil::Scratch`]) that writes files.
struct TempDir(crate::testutil::Scratch);

impl TempDir {
    fn new() -> Self {
        Self(crate::testutil::Scratch::new("cudabin"))
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        path
    }
}

/// A section for [`elf`]: name, `sh_type`, contents, `sh_link`.
struct Sec<'a>(&'a str, u32, Vec<u8>, u32);

const SHT_PROGBITS: u32 = 1;
const SHT_STRTAB: u32 = 3;
const SHT_DYNAMIC: u32 = 6;

/// A little-endian ELF64 shared object with `sections` (after the null section and
/// `.shstrtab`, which are added as sections 0 and 1). Returns the bytes and the file offset of
/// the section header table.
fn elf(sections: &[Sec<'_>]) -> (Vec<u8>, usize) {
    let mut names = vec![0u8];
    let mut name_offsets = Vec::new();
    for name in std::iter::once(".shstrtab").chain(sections.iter().map(|s| s.0)) {
        name_offsets.push(u32::try_from(names.len()).unwrap());
        names.extend_from_slice(name.as_bytes());
        names.push(0);
    }
    let mut out = vec![0u8; 64];
    let mut headers = vec![[0u8; 64]];
    let all = std::iter::once((SHT_STRTAB, names.clone(), 0u32))
        .chain(sections.iter().map(|s| (s.1, s.2.clone(), s.3)));
    for (i, (sh_type, data, link)) in all.enumerate() {
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
        let mut h = [0u8; 64];
        h[0..4].copy_from_slice(&name_offsets[i].to_le_bytes());
        h[4..8].copy_from_slice(&sh_type.to_le_bytes());
        h[24..32].copy_from_slice(&(out.len() as u64).to_le_bytes());
        h[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
        h[40..44].copy_from_slice(&link.to_le_bytes());
        headers.push(h);
        out.extend_from_slice(&data);
    }
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len();
    for h in &headers {
        out.extend_from_slice(h);
    }
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2; // ELFCLASS64
    out[5] = 1; // little-endian
    out[6] = 1;
    out[16..18].copy_from_slice(&3u16.to_le_bytes()); // ET_DYN
    out[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86-64
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[40..48].copy_from_slice(&(shoff as u64).to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
    out[60..62].copy_from_slice(&u16::try_from(headers.len()).unwrap().to_le_bytes());
    out[62..64].copy_from_slice(&1u16.to_le_bytes()); // e_shstrndx
    (out, shoff)
}

/// `.dynstr` and `.dynamic` (at section indices `dynstr_index` and the next) naming `needed`
/// and `soname`.
fn dynamic(needed: &[&str], soname: Option<&str>, dynstr_index: u32) -> [Sec<'static>; 2] {
    let mut strings = vec![0u8];
    let mut dyn_entries = Vec::new();
    let mut add = |tag: u64, s: &str| {
        dyn_entries.extend_from_slice(&tag.to_le_bytes());
        dyn_entries.extend_from_slice(&(strings.len() as u64).to_le_bytes());
        strings.extend_from_slice(s.as_bytes());
        strings.push(0);
    };
    for n in needed {
        add(1, n);
    }
    if let Some(s) = soname {
        add(14, s);
    }
    dyn_entries.extend_from_slice(&[0; 16]);
    [
        Sec(".dynstr", SHT_STRTAB, strings, 0),
        Sec(".dynamic", SHT_DYNAMIC, dyn_entries, dynstr_index),
    ]
}

fn wrapper_records(n: usize) -> Vec<u8> {
    let mut seg = Vec::new();
    for _ in 0..n {
        seg.extend_from_slice(&WRAPPER_MAGIC.to_le_bytes());
        seg.extend_from_slice(&1u32.to_le_bytes());
        seg.extend_from_slice(&[0; 16]);
    }
    seg
}

/// A CUDA library like nvcc links it: fatbin, wrappers, static runtime marker in `.rodata`.
fn cuda_library(needed: &[&str], soname: Option<&str>, rodata: &[u8]) -> Vec<u8> {
    let fatbin = container(&[
        TestEntry::new(2, 80, 0, &cubin(7, 0x0050_0550)),
        TestEntry::new(2, 90, 0x10_0000, &cubin(7, 0x005a_0d5a)),
        {
            let mut e = TestEntry::new(1, 90, 0x8000, &[0x28, 0xb5, 0x2f, 0xfd]);
            e.uncompressed_size = 900;
            e
        },
    ]);
    let [dynstr, dynamic] = dynamic(needed, soname, 2);
    let (bytes, _) = elf(&[
        dynstr,
        dynamic,
        Sec(".rodata", SHT_PROGBITS, rodata.to_vec(), 0),
        Sec(".nv_fatbin", SHT_PROGBITS, fatbin, 0),
        Sec(".nvFatBinSegment", SHT_PROGBITS, wrapper_records(1), 0),
    ]);
    bytes
}

fn rodata_with_marker() -> Vec<u8> {
    let mut r = b"some strings\0".to_vec();
    r.extend_from_slice(STATIC_RUNTIME_MARKER);
    r.push(0);
    r
}

#[test]
fn scan_synthetic_library_static_runtime() {
    let dir = TempDir::new();
    let path = dir.write(
        "libk.so.3.1",
        &cuda_library(&["libc.so.6"], Some("libk.so.3"), &rodata_with_marker()),
    );
    let result = scan_file(&path);
    assert_eq!(result.kind, FileKind::Elf);
    assert_eq!(result.problems, Vec::<String>::new());
    assert_eq!(result.soname.as_deref(), Some("libk.so.3"));
    assert_eq!(result.version.as_deref(), Some("3.1"));
    assert_eq!(result.needed, ["libc.so.6"]);
    assert_eq!(result.fatbin_registrations, 1);
    assert!(matches!(
        result.cuda_runtime,
        Some(CudaRuntime::Static { .. })
    ));
    let targets: Vec<_> = result.entries().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["sm_80", "sm_90a", "compute_90"]);
    assert_eq!(result.fatbins[0].section, ".nv_fatbin");

    let json = serde_json::to_value(&result).unwrap();
    assert_eq!(json["kind"], "elf");
    assert_eq!(json["cuda_runtime"]["kind"], "static");
    assert_eq!(json["fatbins"][0]["entries"][2]["compression"], "zstd");

    // The verdicts for this file on a few GPUs.
    let on = |cc| check_binary(&result, cc, Some((8, 4))).unwrap();
    assert_eq!(
        on((8, 6)),
        Verdict::Sass {
            arch: SmArch::parse("sm_80").unwrap()
        }
    );
    assert_eq!(
        on((9, 0)),
        Verdict::Sass {
            arch: SmArch::parse("sm_90a").unwrap()
        }
    );
    assert!(matches!(on((12, 0)), Verdict::PtxJit { .. }));
    let missing = on((7, 5));
    let finding = verdict_finding(&result.path, "GPU 0 (Tesla T4)", (7, 5), &missing).unwrap();
    assert_eq!(finding.code, ARCH_MISSING_FROM_BINARY);
    assert!(
        finding.message.contains("sm_80, sm_90a"),
        "{}",
        finding.message
    );
    assert!(finding.message.contains("compute_90"));
    assert!(finding.remedy.contains("sm_75"));
    let too_new = check_binary(&result, (12, 0), Some((8, 0))).unwrap();
    let finding = verdict_finding(&result.path, "GPU 0", (12, 0), &too_new).unwrap();
    assert_eq!(finding.code, PTX_TOO_NEW_FOR_DRIVER);
    assert_eq!(verdict_finding("x", "GPU 0", (9, 0), &on((9, 0))), None);
}

#[test]
fn scan_synthetic_runtime_kinds() {
    let dir = TempDir::new();
    let shared = dir.write(
        "ext.so",
        &cuda_library(
            &["libcudart.so.12", "libc.so.6"],
            None,
            &rodata_with_marker(),
        ),
    );
    let result = scan_file(&shared);
    assert_eq!(
        result.cuda_runtime,
        Some(CudaRuntime::Shared {
            soname: "libcudart.so.12".into(),
            version: Some("12".into()),
            installed: None,
        })
    );
    let cudart = dir.write(
        "libcudart.so.12.9.79",
        &elf(&dynamic(&["libc.so.6"], Some("libcudart.so.12"), 2)).0,
    );
    let result = scan_file(&cudart);
    assert_eq!(
        result.cuda_runtime,
        Some(CudaRuntime::IsRuntime {
            soname: "libcudart.so.12".into(),
            version: Some("12.9.79".into())
        })
    );
    assert!(!result.has_cuda_code());
    // CUDA code, no libcudart, no marker: runtime unknown.
    let unknown = dir.write("plain.so", &cuda_library(&[], None, b"nothing here"));
    assert_eq!(scan_file(&unknown).cuda_runtime, None);
    // No CUDA code: no runtime is claimed even with the marker.
    let host = dir.write(
        "host.so",
        &elf(&[Sec(".rodata", SHT_PROGBITS, rodata_with_marker(), 0)]).0,
    );
    let result = scan_file(&host);
    assert_eq!((result.cuda_runtime, result.fatbins.len()), (None, 0));
}

#[test]
fn scan_relocatable_fatbin_section() {
    let dir = TempDir::new();
    let fatbin = container(&[TestEntry::new(1, 75, 0, &ptx("7.5", "sm_75"))]);
    let (bytes, _) = elf(&[Sec("__nv_relfatbin", SHT_PROGBITS, fatbin, 0)]);
    let result = scan_file(&dir.write("k.o", &bytes));
    assert_eq!(result.fatbins[0].section, "__nv_relfatbin");
    assert_eq!(
        result.ptx_archs(),
        [(SmArch::parse("sm_75").unwrap(), Some((7, 5)))]
    );
}

#[test]
fn scan_not_elf_and_errors() {
    let dir = TempDir::new();
    let text = scan_file(&dir.write("a.py", b"print('hi')\n"));
    assert_eq!((text.kind, text.size), (FileKind::NotElf, Some(12)));
    let empty = scan_file(&dir.write("empty", b""));
    assert_eq!(empty.kind, FileKind::NotElf);
    let missing = scan_file(&dir.0.join("nope.so"));
    assert_eq!(missing.kind, FileKind::Error);
    assert_eq!(missing.problems.len(), 1);
    let json = serde_json::to_value(&missing).unwrap();
    assert_eq!(json["kind"], "error");
}

/// Every hostile variant: a result with a problem, never a panic, never a huge allocation
/// (a 2^63-byte section would abort the test process if anything tried to allocate it).
#[test]
fn scan_hostile_elf_files() {
    let dir = TempDir::new();
    let good = cuda_library(&["libc.so.6"], None, &rodata_with_marker());
    let shoff_of = |bytes: &[u8]| {
        usize::try_from(u64::from_le_bytes(bytes[40..48].try_into().unwrap())).unwrap()
    };
    let good_shoff = shoff_of(&good);
    // Section indices in `cuda_library`: 1 .shstrtab, 2 .dynstr, 3 .dynamic, 4 .rodata,
    // 5 .nv_fatbin, 6 .nvFatBinSegment.
    let section_field = |bytes: &mut Vec<u8>, index: usize, field: usize, value: u64| {
        let at = good_shoff + index * 64 + field;
        bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
    };

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    for cut in [5, 20, 40, 63] {
        cases.push(("truncated header", good[..cut].to_vec()));
    }
    cases.push(("truncated section table", good[..good.len() - 10].to_vec()));
    let mut huge = good.clone();
    section_field(&mut huge, 5, 32, 1 << 63);
    cases.push(("fatbin size 2^63", huge));
    let mut huge_dyn = good.clone();
    section_field(&mut huge_dyn, 3, 32, u64::MAX);
    cases.push(("dynamic size 2^64-1", huge_dyn));
    let mut past_eof = good.clone();
    past_eof[40..48].copy_from_slice(&(1u64 << 40).to_le_bytes());
    cases.push(("section table past EOF", past_eof));
    let mut many = good.clone();
    many[60..62].copy_from_slice(&0xfffeu16.to_le_bytes());
    cases.push(("65534 sections claimed", many));
    let mut overlap = good.clone();
    let fatbin_offset = u64::from_le_bytes(
        overlap[good_shoff + 5 * 64 + 24..good_shoff + 5 * 64 + 32]
            .try_into()
            .unwrap(),
    );
    section_field(&mut overlap, 4, 24, fatbin_offset);
    cases.push(("overlapping sections", overlap));
    let mut bad_entsize = good.clone();
    bad_entsize[58..60].copy_from_slice(&7u16.to_le_bytes());
    cases.push(("odd section header size", bad_entsize));
    let mut bad_class = good.clone();
    bad_class[4] = 9;
    cases.push(("unknown ELF class", bad_class));
    let mut strtab_lie = good.clone();
    section_field(&mut strtab_lie, 1, 32, 1 << 40);
    cases.push(("huge name table", strtab_lie));
    let mut dyn_link = good.clone();
    let at = good_shoff + 3 * 64 + 40;
    dyn_link[at..at + 4].copy_from_slice(&999u32.to_le_bytes());
    cases.push(("dynamic links to no section", dyn_link));
    let mut fatbin_garbage = good.clone();
    let at = usize::try_from(fatbin_offset).unwrap();
    fatbin_garbage[at + 8..at + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("fatbin container size 2^64-1", fatbin_garbage));

    for (what, bytes) in cases {
        let path = dir.write("hostile.so", &bytes);
        let result = scan_file(&path);
        assert!(
            !result.problems.is_empty(),
            "{what}: no problem reported: {result:?}"
        );
        assert_ne!(result.kind, FileKind::Error, "{what}");
    }
}

/// One long string named many times: every name used to be copied whole, 100,000 × 100 KB
/// from a 1.7 MB file (`DT_NEEDED`), or 60,000 × 1 MB (section names): an abort on memory.
#[test]
fn scan_long_names_named_many_times() {
    let dir = TempDir::new();
    let long = "A".repeat(100_000);
    let mut dynstr = vec![0u8];
    dynstr.extend_from_slice(long.as_bytes());
    dynstr.push(0);
    let mut dynamic = Vec::new();
    for _ in 0..100_000 {
        dynamic.extend_from_slice(&1u64.to_le_bytes());
        dynamic.extend_from_slice(&1u64.to_le_bytes());
    }
    dynamic.extend_from_slice(&[0; 16]);
    let (bytes, _) = elf(&[
        Sec(".dynstr", SHT_STRTAB, dynstr, 0),
        Sec(".dynamic", SHT_DYNAMIC, dynamic, 2),
    ]);
    let result = scan_file(&dir.write("libneeds.so", &bytes));
    assert_eq!(result.needed.len(), 1024);
    assert_eq!(result.needed[0].len(), 4096);
    assert!(
        result
            .problems
            .iter()
            .any(|p| p.contains("98976 DT_NEEDED")),
        "{:?}",
        result.problems
    );

    // 60,000 section headers, all named by a 1 MB name.
    let name = "B".repeat(1 << 20);
    let (mut bytes, shoff) = elf(&[Sec(&name, SHT_PROGBITS, Vec::new(), 0)]);
    let header: Vec<u8> = bytes[shoff + 2 * 64..shoff + 3 * 64].to_vec();
    for _ in 0..60_000 {
        bytes.extend_from_slice(&header);
    }
    bytes[60..62].copy_from_slice(&60_003u16.to_le_bytes());
    let result = scan_file(&dir.write("libnames.so", &bytes));
    assert_eq!(result.kind, FileKind::Elf);
    assert!(result.fatbins.is_empty());
}

#[test]
fn scan_directory_walk_bounded() {
    let dir = TempDir::new();
    let lib = cuda_library(&["libcudart.so.12"], None, b"");
    dir.write("site-packages/pkg/_C.so", &lib);
    dir.write("site-packages/pkg/__init__.py", b"");
    dir.write("site-packages/pkg/deep/a/b/c/d/lib.so", &lib);
    dir.write("site-packages/other/libx.so.1", &elf(&[]).0);
    std::os::unix::fs::symlink("libx.so.1", dir.0.join("site-packages/other/libx.so")).unwrap();
    // A directory symlink cycle is never followed.
    std::os::unix::fs::symlink("..", dir.0.join("site-packages/other/loop")).unwrap();

    let root = dir.0.join("site-packages");
    let results = scan_paths(&[&root], &ScanLimits::default());
    let names: Vec<_> = results
        .iter()
        .map(|r| {
            Path::new(&r.path)
                .strip_prefix(&root)
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["other/libx.so.1", "pkg/_C.so", "pkg/deep/a/b/c/d/lib.so"]
    );

    let shallow = ScanLimits {
        max_depth: 2,
        ..ScanLimits::default()
    };
    let results = scan_paths(&[&root], &shallow);
    assert!(
        results
            .iter()
            .any(|r| r.kind == FileKind::Error && r.problems[0].contains("deeper"))
    );
    assert!(!results.iter().any(|r| r.path.ends_with("lib.so")));

    let few = ScanLimits {
        max_files: 2,
        ..ScanLimits::default()
    };
    let results = scan_paths(&[&root], &few);
    assert!(
        results
            .iter()
            .any(|r| r.problems.iter().any(|p| p.contains("stopped after 2")))
    );

    let small = ScanLimits {
        max_file_size: 100,
        ..ScanLimits::default()
    };
    let results = scan_paths(&[root.join("pkg/_C.so")], &small);
    assert!(results[0].problems[0].contains("limit"));

    // A path given directly is reported whatever it is, symlinks followed.
    let results = scan_paths(
        &[
            root.join("pkg/__init__.py"),
            root.join("other/libx.so"),
            root.join("missing"),
        ],
        &ScanLimits::default(),
    );
    let kinds: Vec<_> = results.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [FileKind::NotElf, FileKind::Elf, FileKind::Error]);

    // Within a deadline far off, nothing changes and nothing is said.
    let later = ScanLimits {
        deadline: Deadline::after(
            std::time::Instant::now(),
            std::time::Duration::from_mins(10),
        ),
        ..ScanLimits::default()
    };
    let full = scan(&[&root], &later);
    assert_eq!(full.stopped, None);
    assert_eq!(full.results, scan_paths(&[&root], &ScanLimits::default()));

    // A deadline already passed: nothing is read, and every path is listed as not read.
    let passed = ScanLimits {
        deadline: Deadline::after(std::time::Instant::now(), std::time::Duration::ZERO),
        ..ScanLimits::default()
    };
    let paths = [root.join("pkg/_C.so"), root.clone()];
    let cut = scan(&paths, &passed);
    assert!(cut.results.is_empty());
    let stopped = cut.stopped.unwrap();
    assert_eq!(
        stopped.not_read,
        [paths[0].display().to_string(), root.display().to_string()]
    );
    assert_eq!(stopped.not_read_more, 0);
    assert!(
        stopped.reason.starts_with("the 0 ms deadline"),
        "{}",
        stopped.reason
    );
}

#[test]
fn scan_output_when_cut_short() {
    let cut = Scan {
        results: Vec::new(),
        stopped: Some(Stopped {
            reason: "the 5 ms deadline (--timeout) passed".into(),
            not_read: (0..12).map(|i| format!("/lib/l{i}.so")).collect(),
            not_read_more: 3,
        }),
    };
    let text = render_scan(&cut);
    assert!(
        text.starts_with(
            "INCOMPLETE: the 5 ms deadline (--timeout) passed:\n  not read  /lib/l0.so\n"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("  not read  /lib/l9.so\n  and 5 more path(s) not read\n"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&scan_json(&cut)).unwrap();
    assert_eq!(json["incomplete"], true);
    assert_eq!(json["not_read"].as_array().unwrap().len(), 12);
    assert_eq!(json["not_read_more"], 3);
    // A scan that finished says nothing of it.
    let done = scan_json(&Scan::default());
    assert!(
        !done.contains("incomplete") && !done.contains("not_read"),
        "{done}"
    );
    assert_eq!(render_scan(&Scan::default()), "no ELF files found\n");
}

/// The cache of `scripts/fetch-cuda-samples.sh`: `$NVPROBE_SAMPLES_DIR`, else
/// `$XDG_CACHE_HOME/nvprobe-samples`, else `~/.cache/nvprobe-samples`.
fn samples_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("NVPROBE_SAMPLES_DIR") {
        return Some(PathBuf::from(dir));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("nvprobe-samples"))
}

/// A cached sample. The sample tests are `#[ignore]`d, so a run without the cache says
/// "ignored" rather than "ok"; asked for (`cargo test -- --ignored`), a missing sample fails.
fn sample(name: &str) -> PathBuf {
    let path = samples_dir()
        .expect("no cache directory: set NVPROBE_SAMPLES_DIR")
        .join(name);
    assert!(
        path.is_file(),
        "{} not cached; run scripts/fetch-cuda-samples.sh",
        path.display()
    );
    path
}

fn arch_names(archs: &[SmArch]) -> Vec<String> {
    archs.iter().map(ToString::to_string).collect()
}

/// `libnvjpeg` 12.4.0.76 (`PyPI` `nvidia-nvjpeg-cu12`): CUDA 12.x, ABI-7 cubins for `sm_50` to
/// `sm_90`, ABI-8 for `sm_100` to `sm_121`, LZ4-compressed, PTX ISA 8.8
/// for `compute_121`, static runtime.
#[test]
#[ignore = "needs NVIDIA libraries from scripts/fetch-cuda-samples.sh; run with --ignored"]
fn sample_nvjpeg_12() {
    let path = sample("libnvjpeg.so.12");
    let result = scan_file(&path);
    assert_eq!(result.problems, Vec::<String>::new());
    assert_eq!(result.version.as_deref(), Some("12"));
    assert_eq!(
        arch_names(&result.sass_archs()),
        [
            "sm_50", "sm_52", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_89",
            "sm_90", "sm_100", "sm_101", "sm_103", "sm_120", "sm_121"
        ]
    );
    // Built by CUDA 12.9 (PTX ISA 8.8): a driver of CUDA 12.8 (ISA 8.7) cannot JIT it for a
    // GPU newer than every SASS here.
    assert_eq!(
        result.ptx_archs(),
        [(SmArch::parse("sm_121").unwrap(), Some((8, 8)))]
    );
    assert_eq!(
        check_binary(&result, (13, 0), driver_max_ptx_isa(12, 8)),
        Some(Verdict::PtxTooNew {
            arch: SmArch::parse("sm_121").unwrap(),
            isa: (8, 8),
            driver_max: (8, 7)
        })
    );
    assert!(matches!(
        result.cuda_runtime,
        Some(CudaRuntime::Static { .. })
    ));
    assert!(
        result
            .entries()
            .any(|e| e.compression == Some(Compression::Lz4))
    );
    assert!(check_binary(&result, (8, 9), None).unwrap().runs());
    assert!(!check_binary(&result, (3, 5), None).unwrap().runs());
}

/// `libnvjpeg` 13.2.3.58 (`PyPI` `nvidia-nvjpeg`): CUDA 13, `sm_75` to `sm_121`, Zstandard, PTX ISA
/// 9.4 for `compute_121`, static runtime.
#[test]
#[ignore = "needs NVIDIA libraries from scripts/fetch-cuda-samples.sh; run with --ignored"]
fn sample_nvjpeg_13() {
    let path = sample("libnvjpeg.so.13");
    let result = scan_file(&path);
    assert_eq!(result.problems, Vec::<String>::new());
    assert_eq!(
        arch_names(&result.sass_archs()),
        [
            "sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_103", "sm_107", "sm_110",
            "sm_120", "sm_121"
        ]
    );
    assert_eq!(
        result.ptx_archs(),
        [(SmArch::parse("sm_121").unwrap(), Some((9, 4)))]
    );
    assert!(matches!(
        result.cuda_runtime,
        Some(CudaRuntime::Static { .. })
    ));
    assert_eq!(result.fatbins[0].containers, 11);
    let verdict = check_binary(&result, (7, 0), Some((9, 4))).unwrap();
    assert!(matches!(verdict, Verdict::Missing { .. }));
}

/// `libcudart` 12.9.79 (`PyPI` `nvidia-cuda-runtime-cu12`): the runtime itself.
#[test]
#[ignore = "needs NVIDIA libraries from scripts/fetch-cuda-samples.sh; run with --ignored"]
fn sample_cudart_12() {
    let path = sample("libcudart.so.12");
    let result = scan_file(&path);
    assert_eq!(result.problems, Vec::<String>::new());
    assert_eq!(
        result.cuda_runtime,
        Some(CudaRuntime::IsRuntime {
            soname: "libcudart.so.12".into(),
            version: Some("12".into())
        })
    );
}

/// A file cut by the per-file byte limit is not read to the end, like one cut by the
/// deadline: `check --binary` must not judge it on the part it read. Before, it kept
/// `incomplete: false` and the check gave a verdict from part of the file.
#[test]
fn scan_byte_limit_marks_the_file_incomplete() {
    let dir = TempDir::new();
    let path = dir.write(
        "libk.so.3.1",
        &cuda_library(&["libc.so.6"], Some("libk.so.3"), &rodata_with_marker()),
    );
    let whole = scan_paths(&[&path], &ScanLimits::default());
    assert!(!whole[0].incomplete);
    let tight = ScanLimits {
        max_read_per_file: 600,
        ..ScanLimits::default()
    };
    let cut = scan_paths(&[&path], &tight);
    assert!(cut[0].incomplete, "{:?}", cut[0].problems);
    assert!(
        cut[0]
            .problems
            .iter()
            .any(|p| p.contains("the limit per file")),
        "{:?}",
        cut[0].problems
    );
}

/// cuFFT keeps its fatbins in `.data`: more registrations than `.nv_fatbin` holds containers
/// makes the scan count the headers there, so the file is never "nothing found".
#[test]
fn scan_fatbins_in_data_are_counted() {
    let dir = TempDir::new();
    let mut data = vec![0u8; 24];
    for _ in 0..3 {
        data.extend(container(&[TestEntry::new(2, 80, 0, &[1; 16])]));
        while !data.len().is_multiple_of(8) {
            data.push(0);
        }
    }
    let (bytes, _) = elf(&[
        Sec(".nv_fatbin", SHT_PROGBITS, container(&[]), 0),
        Sec(".data", SHT_PROGBITS, data.clone(), 0),
        Sec(".nvFatBinSegment", SHT_PROGBITS, wrapper_records(4), 0),
    ]);
    let result = scan_file(&dir.write("libcufft_like.so", &bytes));
    assert_eq!(result.fatbin_headers_elsewhere, 3, "{result:?}");
    assert!(result.has_cuda_code());
    // As many registrations as containers: .data is not searched.
    let (bytes, _) = elf(&[
        Sec(".nv_fatbin", SHT_PROGBITS, container(&[]), 0),
        Sec(".data", SHT_PROGBITS, data, 0),
        Sec(".nvFatBinSegment", SHT_PROGBITS, wrapper_records(1), 0),
    ]);
    let result = scan_file(&dir.write("libplain.so", &bytes));
    assert_eq!(result.fatbin_headers_elsewhere, 0);
    // cuFFT: `.ldata` (not 8-aligned in the file) holds them, with no registration at all.
    let mut ldata = vec![0u8; 4];
    ldata.extend(container(&[TestEntry::new(2, 80, 0, &[1; 16])]));
    ldata.extend(container(&[TestEntry::new(2, 90, 0, &[1; 16])]));
    let (bytes, _) = elf(&[
        Sec(".nv_fatbin", SHT_PROGBITS, container(&[]), 0),
        Sec(".ldata", SHT_PROGBITS, ldata, 0),
    ]);
    let result = scan_file(&dir.write("libcufft.so.11", &bytes));
    assert_eq!(result.fatbin_headers_elsewhere, 2, "{result:?}");
}

/// Concatenated entries whose options area lies: counts past the header, no area at all.
#[test]
fn scan_hostile_concatenated_entries() {
    let dir = TempDir::new();
    let concat = |count: u32, options: u32, header_size: u32| {
        let mut e = TestEntry::new(0x100, 0, 0x8000, &[0x28, 0xb5, 0x2f, 0xfd]);
        e.header_size = header_size;
        let mut bytes = e.bytes();
        bytes[20..24].copy_from_slice(&options.to_le_bytes());
        if let Some(area) = bytes
            .get_mut(usize::try_from(options).unwrap()..)
            .filter(|a| a.len() >= 8)
        {
            area[..4].copy_from_slice(&count.to_le_bytes());
            area[4..8].copy_from_slice(&count.wrapping_mul(64).wrapping_add(8).to_le_bytes());
            for (i, sub) in area[8..].chunks_exact_mut(64).enumerate() {
                sub[0] = 2;
                sub[28..32].copy_from_slice(&(80 + u32::try_from(i).unwrap()).to_le_bytes());
            }
        }
        let mut c = Vec::new();
        c.extend_from_slice(&super::fatbin::FATBIN_MAGIC.to_le_bytes());
        c.extend_from_slice(&1u16.to_le_bytes());
        c.extend_from_slice(&16u16.to_le_bytes());
        c.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        c.extend(bytes);
        c
    };
    // Two images, honest.
    let r = scan_file(&dir.write("ok.fatbin", &concat(2, 64, 200)));
    let targets: Vec<&str> = r.entries().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["sm_80", "sm_81"], "{r:?}");
    assert!(r.entries().all(|e| e.concatenated && e.compressed));
    // A count far past the header: only what fits is listed, and a problem says so.
    let r = scan_file(&dir.write("lie.fatbin", &concat(u32::MAX, 64, 200)));
    assert_eq!(r.entries().count(), 2);
    assert!(r.problems.iter().any(|p| p.contains("claims")), "{r:?}");
    // An options offset past the header: nothing listed, a problem.
    let r = scan_file(&dir.write("far.fatbin", &concat(2, 4000, 200)));
    assert_eq!(r.entries().count(), 0);
    assert!(
        r.problems.iter().any(|p| p.contains("options area")),
        "{r:?}"
    );
}

/// Archives that lie about their members' sizes, or are cut, never panic and say so.
#[test]
fn scan_hostile_archives() {
    let dir = TempDir::new();
    let member = |name: &str, size: &str, data: &[u8]| {
        let mut h =
            format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644).into_bytes();
        h.extend_from_slice(data);
        if h.len() % 2 == 1 {
            h.push(b'\n');
        }
        h
    };
    let (elf_bytes, _) = elf(&[Sec(
        "__nv_relfatbin",
        SHT_PROGBITS,
        container(&[TestEntry::new(2, 80, 0, &cubin(8, 0x0600_5004))]),
        0,
    )]);
    let mut good = b"!<arch>\n".to_vec();
    good.extend(member("/", "4", &[0; 4]));
    good.extend(member("a.o/", &elf_bytes.len().to_string(), &elf_bytes));
    good.extend(member("notes.txt/", "5", b"hello"));
    let r = scan_file(&dir.write("libgood.a", &good));
    assert_eq!(r.kind, FileKind::Archive);
    assert_eq!(r.fatbins.len(), 1, "{r:?}");
    assert_eq!(r.fatbins[0].section, "a.o:__nv_relfatbin");
    assert!(r.problems.is_empty(), "{r:?}");

    let mut lying = b"!<arch>\n".to_vec();
    lying.extend(member("a.o/", "99999999", &elf_bytes));
    let r = scan_file(&dir.write("liblie.a", &lying));
    assert!(r.fatbins.is_empty());
    assert!(r.problems.iter().any(|p| p.contains("lying size")), "{r:?}");

    for cut in [8, 20, 67, 100, good.len() - 3] {
        let r = scan_file(&dir.write("libcut.a", &good[..cut]));
        assert_eq!(r.kind, FileKind::Archive, "cut at {cut}");
    }
    let mut garbage = b"!<arch>\n".to_vec();
    garbage.extend_from_slice(&[0xff; 200]);
    let r = scan_file(&dir.write("libjunk.a", &garbage));
    assert!(!r.problems.is_empty());
}
