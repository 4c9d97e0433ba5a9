//! The result types of a scan: one [`ScanResult`] per file, with its fatbins and their entries.

use std::fmt;

use serde::{Serialize, Serializer};

/// Which flavour of an SM target: plain, architecture-specific (`a`) or family-specific (`f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Variant {
    /// `sm_90`: runs on the same major with an equal or higher minor.
    None,
    /// `sm_90a`: architecture-specific features; runs only on exactly this compute capability.
    A,
    /// `sm_100f`: family-specific features (CUDA 12.9+); runs on the family members with an
    /// equal or higher minor.
    F,
}

impl Variant {
    /// The suffix as nvcc spells it: `""`, `"a"` or `"f"`.
    pub fn suffix(self) -> &'static str {
        match self {
            Variant::None => "",
            Variant::A => "a",
            Variant::F => "f",
        }
    }
}

/// An SM architecture: `sm_XY` with its variant. `major`/`minor` are the compute capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SmArch {
    /// Compute capability major (`10` for `sm_100`).
    pub major: u8,
    /// Compute capability minor (`0` for `sm_100`).
    pub minor: u8,
    /// `a`, `f` or neither.
    pub variant: Variant,
}

impl SmArch {
    /// A target from its number as nvcc writes it (`90` → 9.0, `121` → 12.1). `None` for numbers
    /// no toolkit has used (below 10, above 2559).
    pub fn from_number(number: u32, variant: Variant) -> Option<Self> {
        if !(10..=2559).contains(&number) {
            return None;
        }
        let major = u8::try_from(number / 10).ok()?;
        let minor = u8::try_from(number % 10).ok()?;
        Some(Self {
            major,
            minor,
            variant,
        })
    }

    /// The number nvcc uses (`sm_100` → 100).
    pub fn number(self) -> u32 {
        u32::from(self.major) * 10 + u32::from(self.minor)
    }

    /// The compute capability `(major, minor)`.
    pub fn cc(self) -> (u8, u8) {
        (self.major, self.minor)
    }

    /// Parses `sm_90a`, `compute_100f`, `sm_75` (no other spellings).
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text
            .strip_prefix("sm_")
            .or_else(|| text.strip_prefix("compute_"))?;
        let (digits, variant) = match rest.as_bytes().last()? {
            b'a' => (rest.get(..rest.len() - 1)?, Variant::A),
            b'f' => (rest.get(..rest.len() - 1)?, Variant::F),
            _ => (rest, Variant::None),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::from_number(digits.parse().ok()?, variant)
    }

    /// `compute_90a`: the name of the virtual architecture (PTX).
    pub fn compute_name(self) -> String {
        format!("compute_{}{}", self.number(), self.variant.suffix())
    }
}

impl fmt::Display for SmArch {
    /// `sm_90a`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sm_{}{}", self.number(), self.variant.suffix())
    }
}

/// What an embedded image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A cubin (ELF with machine code, SASS). Fatbin entry kind 2.
    Sass,
    /// PTX text that the driver can JIT-compile. Fatbin entry kind 1.
    Ptx,
    /// Any other kind number (for example LTO-IR); listed, never used for a verdict.
    Unknown(u16),
}

impl Serialize for EntryKind {
    /// `"sass"`, `"ptx"` or `"unknown-N"`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EntryKind::Sass => serializer.serialize_str("sass"),
            EntryKind::Ptx => serializer.serialize_str("ptx"),
            EntryKind::Unknown(kind) => serializer.serialize_str(&format!("unknown-{kind}")),
        }
    }
}

/// How an entry's payload is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Fatbin flag `0x2000` (nvcc up to 12.x, and `--compress-mode=speed`).
    Lz4,
    /// Fatbin flag `0x8000` (the default of newer toolkits).
    Zstd,
    /// Both flags at once: not something a toolkit writes.
    Unknown,
}

/// One image inside a fatbin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// SASS, PTX or another kind.
    pub kind: EntryKind,
    /// The SM architecture the image was built for (the virtual architecture for PTX).
    pub arch: SmArch,
    /// `sm_90a` for SASS, `compute_90a` for PTX, `unknown_90` otherwise.
    pub target: String,
    /// PTX only: the ISA version (`.version 8.4`), serialised as `"8.4"`.
    #[serde(serialize_with = "serialize_version")]
    pub ptx_isa: Option<(u32, u32)>,
    /// The payload is compressed (its header is still read).
    pub compressed: bool,
    /// Which compression, when compressed.
    pub compression: Option<Compression>,
    /// The image size, uncompressed (as the entry header states it when compressed).
    pub size: u64,
    /// Bytes the entry's payload occupies in the file.
    pub stored_size: u64,
    /// Built with debug information (`-G`).
    pub debug: bool,
    /// File offset of the entry header.
    pub offset: u64,
    /// A relocatable cubin in the `__nv_relfatbin` of a linked file (`-rdc` whose own code is
    /// PTX only): device-library code (libcudadevrt) the driver links with the PTX at load
    /// time. It carries none of the program's kernels unless [`Entry::kernels`] counts some, so
    /// by itself it never counts as code for a GPU. Serialised only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relocatable: bool,
    /// Relocatable cubins only: the kernels they define, as far as they were read
    /// (`inflate.rs`). Serialised only for relocatable cubins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernels: Option<Kernels>,
    /// Inside a concatenated entry (`nvcc --concat`, fatbin entry kind `0x100`): this image's
    /// header came from the concatenated entry's options area, and `offset` is that entry's.
    /// Serialised only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub concatenated: bool,
}

/// What was read of a relocatable cubin's kernels (entry functions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Kernels {
    /// The kernels (`__global__` functions) it defines: 0 for device-library code such as
    /// libcudadevrt's; `None` when not read.
    pub count: Option<u32>,
    /// It was decompressed to read them (`check --binary` only, within its budget).
    pub decompressed: bool,
    /// Why they were not read: compressed and not decompressed (by `scan`, or past the
    /// budget), or unreadable. Serialised only when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread: Option<String>,
}

/// One fatbin section of an ELF file, all its containers' entries together.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fatbin {
    /// `.nv_fatbin` (linked) or `__nv_relfatbin` (relocatable, `-rdc`).
    pub section: String,
    /// File offset of the section.
    pub offset: u64,
    /// Section size in bytes.
    pub size: u64,
    /// How many fatbin containers (each with its own header) the section holds.
    pub containers: u32,
    /// Every entry of every container, in file order.
    pub entries: Vec<Entry>,
    /// The toolkit release an uncompressed image of this section names (see
    /// [`ScanResult::toolkit`]).
    #[serde(skip)]
    pub(crate) toolkit: Option<(u32, u32)>,
}

/// Which CUDA runtime (`cudart`) a file uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CudaRuntime {
    /// `DT_NEEDED libcudart.so.N`: the shared runtime, found at load time.
    Shared {
        /// The needed name, `libcudart.so.12`.
        soname: String,
        /// Its version suffix, `12`.
        version: Option<String>,
        /// The runtime a wheel installed beside the file, when one did (see [`Installed`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        installed: Option<Installed>,
    },
    /// The runtime is linked in (`-cudart static`, nvcc's default): the file carries cudart's
    /// own error strings and needs no `libcudart`.
    Static {
        /// What showed it.
        evidence: String,
        /// The CUDA release the runtime is of, as far as the file shows: the toolkit release
        /// named in its device code (`13.5`), else the CUDA major its newest PTX ISA implies
        /// (`13`). `None` when neither is readable (compressed images only, no PTX).
        version: Option<String>,
    },
    /// The file is the shared runtime itself (`SONAME libcudart.so.N`).
    IsRuntime {
        /// Its SONAME.
        soname: String,
        /// Its version: the file name's suffix when longer (`12.9.79`), else the SONAME's.
        version: Option<String>,
    },
}

/// The full version of a shared runtime a Python wheel installed: `nvidia-cuda-runtime-cu12`
/// puts `libcudart.so.12` in `site-packages/nvidia/cuda_runtime/lib/` and its version in
/// `site-packages/nvidia_cuda_runtime_cu12-12.4.127.dist-info/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// `12.4.127`.
    pub version: String,
    /// The `.dist-info` directory it was read from.
    pub from: String,
}

/// What kind of file was scanned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// An ELF file (its problems, if any, are listed).
    Elf,
    /// An `ar` archive (`libfoo.a`): each ELF member is read, its fatbins listed with the
    /// member's name before the section's (`foo.o:__nv_relfatbin`).
    Archive,
    /// A bare fatbin file (`nvcc -fatbin`): one pseudo-section `fatbin` holds its containers.
    Fatbin,
    /// A bare cubin (`nvcc -cubin`): an `EM_CUDA` ELF file, itself one SASS image.
    Cubin,
    /// Readable, but not ELF.
    NotElf,
    /// Could not be read at all (see `problems`).
    Error,
}

/// The CUDA content of one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScanResult {
    /// The path as given or as found under a directory.
    pub path: String,
    /// ELF, not ELF, or unreadable.
    pub kind: FileKind,
    /// File size in bytes, when known.
    pub size: Option<u64>,
    /// `DT_SONAME`, for shared libraries.
    pub soname: Option<String>,
    /// The file's own version: the suffix after `.so.` of its file name or SONAME.
    pub version: Option<String>,
    /// `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// The CUDA runtime it uses, when it has CUDA code or is the runtime.
    pub cuda_runtime: Option<CudaRuntime>,
    /// Fatbin sections and their entries.
    pub fatbins: Vec<Fatbin>,
    /// Fatbin wrapper records (`__fatBinC_Wrapper_t`, magic `0x466243b1`) in
    /// `.nvFatBinSegment`: how many fatbins the file registers with the runtime at load time.
    pub fatbin_registrations: u64,
    /// `e_machine` of the ELF file (of the first ELF member of an archive): `62` x86-64, `183`
    /// `AArch64`, `190` CUDA (a bare cubin). `None` for bare fatbins and unreadable files.
    pub elf_machine: Option<u16>,
    /// The CUDA toolkit release that built the device code (`13.5`), from the header comment
    /// of an uncompressed PTX image or the tool note of an uncompressed cubin, when one says.
    pub toolkit: Option<String>,
    /// Fatbin container headers found outside the fatbin sections (cuFFT keeps thousands in
    /// `.data`): their images are not listed (nor by `cuobjdump`), so what GPUs they cover is
    /// not known. Counted in `.ldata`, and in `.data` when more fatbins are registered than
    /// the fatbin sections hold: the first run of them in each section, at most 200. Serialised only when not zero.
    #[serde(skip_serializing_if = "is_zero")]
    pub fatbin_headers_elsewhere: u64,
    /// What could not be read or made sense of, in words. Never fatal: the rest is still valid.
    pub problems: Vec<String>,
    /// The scan's deadline passed while this file was read: what is listed was read before,
    /// the rest of the file was not (a problem says so). Serialised only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

impl ScanResult {
    /// An empty result for `path`.
    pub(crate) fn new(path: String, kind: FileKind) -> Self {
        Self {
            path,
            kind,
            size: None,
            soname: None,
            version: None,
            needed: Vec::new(),
            cuda_runtime: None,
            fatbins: Vec::new(),
            fatbin_registrations: 0,
            elf_machine: None,
            toolkit: None,
            fatbin_headers_elsewhere: 0,
            problems: Vec::new(),
            incomplete: false,
        }
    }

    /// Keeps the newest toolkit release an image named.
    pub(crate) fn toolkit_seen(&mut self, release: Option<(u32, u32)>) {
        let Some((major, minor)) = release else {
            return;
        };
        let known = self.toolkit.as_deref().and_then(|t| {
            let (a, b) = t.split_once('.')?;
            Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
        });
        if known.is_none_or(|k| (major, minor) > k) {
            self.toolkit = Some(format!("{major}.{minor}"));
        }
    }

    /// Every entry of every fatbin.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.fatbins.iter().flat_map(|f| f.entries.iter())
    }

    /// True when the file carries GPU code (any fatbin entry), registers fatbins or holds
    /// fatbin headers elsewhere.
    pub fn has_cuda_code(&self) -> bool {
        self.entries().next().is_some()
            || self.fatbin_registrations > 0
            || self.fatbin_headers_elsewhere > 0
    }

    /// The distinct SASS architectures that carry kernels (not [`Entry::relocatable`]), sorted.
    pub fn sass_archs(&self) -> Vec<SmArch> {
        self.archs_of(|e| e.kind == EntryKind::Sass && !e.relocatable)
    }

    /// The distinct architectures of relocatable device-library cubins, sorted.
    pub fn relocatable_archs(&self) -> Vec<SmArch> {
        self.archs_of(|e| e.relocatable)
    }

    fn archs_of(&self, pick: impl Fn(&Entry) -> bool) -> Vec<SmArch> {
        let mut archs: Vec<SmArch> = self.entries().filter(|e| pick(e)).map(|e| e.arch).collect();
        archs.sort_unstable();
        archs.dedup();
        archs
    }

    /// The distinct PTX (virtual architecture, ISA version) pairs, sorted.
    pub fn ptx_archs(&self) -> Vec<(SmArch, Option<(u32, u32)>)> {
        let mut archs: Vec<_> = self
            .entries()
            .filter(|e| e.kind == EntryKind::Ptx)
            .map(|e| (e.arch, e.ptx_isa))
            .collect();
        archs.sort_unstable();
        archs.dedup();
        archs
    }
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes &T"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Problems listed per file; a hostile file can otherwise raise one per fatbin entry (millions).
pub(crate) const MAX_PROBLEMS: usize = 200;

/// Appends `problem` to a file's problems, unless [`MAX_PROBLEMS`] are listed already: the last
/// line listed then says that more were left out.
pub(crate) fn note(problems: &mut Vec<String>, problem: String) {
    match problems.len().cmp(&(MAX_PROBLEMS - 1)) {
        std::cmp::Ordering::Less => problems.push(problem),
        std::cmp::Ordering::Equal => problems.push(format!(
            "more problems were not listed (at most {MAX_PROBLEMS} per file)"
        )),
        std::cmp::Ordering::Greater => {}
    }
}

/// Serialises `Some((8, 4))` as `"8.4"` (versions are strings in the report).
#[expect(
    clippy::ref_option,
    reason = "serde's serialize_with passes &Option<T>"
)]
fn serialize_version<S: Serializer>(
    version: &Option<(u32, u32)>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match version {
        Some((major, minor)) => serializer.serialize_str(&format!("{major}.{minor}")),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smarch_parse_and_display() {
        let a = SmArch::parse("sm_90a").unwrap();
        assert_eq!((a.major, a.minor, a.variant), (9, 0, Variant::A));
        assert_eq!(a.to_string(), "sm_90a");
        let f = SmArch::parse("compute_100f").unwrap();
        assert_eq!((f.major, f.minor, f.variant), (10, 0, Variant::F));
        assert_eq!(f.compute_name(), "compute_100f");
        assert_eq!(SmArch::parse("sm_121").unwrap().cc(), (12, 1));
        for bad in ["sm_", "sm_a", "sm_9x", "gfx90a", "sm_5", "sm_99999"] {
            assert_eq!(SmArch::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn problems_are_capped() {
        let mut problems = Vec::new();
        for i in 0..MAX_PROBLEMS * 3 {
            note(&mut problems, format!("problem {i}"));
        }
        assert_eq!(problems.len(), MAX_PROBLEMS);
        assert_eq!(
            problems[MAX_PROBLEMS - 2],
            format!("problem {}", MAX_PROBLEMS - 2)
        );
        assert!(problems[MAX_PROBLEMS - 1].starts_with("more problems were not listed"));
    }

    #[test]
    fn entry_serializes_versions_as_strings() {
        let entry = Entry {
            kind: EntryKind::Unknown(4),
            arch: SmArch::parse("sm_80").unwrap(),
            target: "unknown_80".into(),
            ptx_isa: Some((8, 4)),
            compressed: true,
            compression: Some(Compression::Zstd),
            size: 1,
            stored_size: 1,
            debug: false,
            offset: 0,
            relocatable: false,
            kernels: None,
            concatenated: false,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["kind"], "unknown-4");
        assert_eq!(json["ptx_isa"], "8.4");
        assert_eq!(json["compression"], "zstd");
        assert_eq!(json["arch"]["variant"], "none");
    }
}
