//! Scanning paths: files directly, directories by a bounded walk that never follows symlinks.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::archive::{AR_MAGIC, scan_archive};
use super::elf::{MAX_FILE_SIZE, scan_elf};
use super::fatbin::{FATBIN_MAGIC, MAX_ENTRIES, parse_section};
use super::source::{Budget, FileRegion, Stop};
use super::types::{CudaRuntime, FileKind, ScanResult};
use super::wheel::installed_runtime;

/// Bounds on a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanLimits {
    /// Directory levels below a given directory (the directory itself is depth 0).
    pub max_depth: usize,
    /// Files looked at (opened for their magic) per directory argument.
    pub max_files: usize,
    /// Files larger than this are reported, not read.
    pub max_file_size: u64,
    /// Bytes read from one file at most, all reads together; the rest of a file is not read
    /// (and its problems say so).
    pub max_read_per_file: u64,
    /// When the scan stops: checked before each directory and file and before each read, so
    /// it is overrun by at most one read (16 MiB at most). `None`: no deadline.
    pub deadline: Option<Deadline>,
    /// Bytes one file may decompress, all its images together, to tell whether its relocatable
    /// cubins define kernels (`inflate.rs`: LZ4 output counts a quarter); 0 (the default, and
    /// `scan`'s): nothing is decompressed. `check --binary` uses [`DECOMPRESS_FOR_CHECK`](super::DECOMPRESS_FOR_CHECK).
    pub max_decompressed_per_file: u64,
}

/// The moment a scan stops, and the `--timeout` it came from (for the words that say so).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    /// When.
    pub at: Instant,
    /// The run's timeout it was computed from.
    pub timeout: Duration,
}

impl Deadline {
    /// `timeout` after `start` (`None` if that instant cannot be represented).
    pub fn after(start: Instant, timeout: Duration) -> Option<Self> {
        Some(Self {
            at: start.checked_add(timeout)?,
            timeout,
        })
    }

    /// True once it has passed.
    pub fn passed(&self) -> bool {
        Instant::now() >= self.at
    }
}

/// Paths listed in [`Stopped::not_read`] at most; the rest are counted.
pub const MAX_NOT_READ_LISTED: usize = 100;

/// A scan cut short by its deadline: why, and what it did not read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stopped {
    /// In words, such as "the 300 ms deadline (--timeout) passed after 1234 file(s) were read to
    /// the end; ...".
    #[serde(rename = "incomplete_reason")]
    pub reason: String,
    /// The paths not read, or not to the end, in the order the scan would have read them: a
    /// file (cut while being read, or not opened), a directory (none of what it holds that was
    /// not listed in the results was read) or a path given on the command line. At most
    /// [`MAX_NOT_READ_LISTED`].
    pub not_read: Vec<String>,
    /// How many more paths were not read than are listed in `not_read`.
    pub not_read_more: usize,
}

/// What a scan found, and where it stopped when it did not finish.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// One result per file, as [`scan_paths`] returns them.
    pub results: Vec<ScanResult>,
    /// `Some` when the deadline cut the scan short: the results are partial.
    pub stopped: Option<Stopped>,
}

/// [`ScanLimits::max_read_per_file`] by default: 512 MiB, twice what a real library costs
/// (`.rodata` is searched up to 256 MiB; fatbins cost 64 bytes per entry, plus up to 8 KiB per
/// uncompressed PTX entry).
pub const MAX_READ_PER_FILE: u64 = 512 << 20;

impl Default for ScanLimits {
    /// 32 levels, 200,000 files, 2 GiB, 512 MiB read per file, no deadline, no decompression.
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_files: 200_000,
            max_file_size: MAX_FILE_SIZE,
            max_read_per_file: MAX_READ_PER_FILE,
            deadline: None,
            max_decompressed_per_file: 0,
        }
    }
}

/// Scans each path: a file is reported whatever it is (ELF, not ELF, unreadable); a directory
/// is walked depth-first (each directory's files by name, then its subdirectories by name) and
/// only its ELF files (and unreadable entries) are reported.
///
/// Inside a directory, symlinks are skipped (so links like `libfoo.so -> libfoo.so.1` are not
/// scanned twice and link cycles cannot loop), as are FIFOs, sockets and devices. A path given
/// directly is followed if it is a symlink. Hitting a limit adds an `error` result for the
/// directory that says so. The results of [`scan`], without saying whether the deadline cut
/// them short: a caller with a deadline wants [`scan`].
pub fn scan_paths<P: AsRef<Path>>(paths: &[P], limits: &ScanLimits) -> Vec<ScanResult> {
    scan(paths, limits).results
}

/// [`scan_paths`] within `limits.deadline`: when it passes, the scan stops and
/// [`Scan::stopped`] says what was not read. A file cut while being read is in the results,
/// with what was read before, marked [`ScanResult::incomplete`].
pub fn scan<P: AsRef<Path>>(paths: &[P], limits: &ScanLimits) -> Scan {
    let mut results = Vec::new();
    let mut left_over = None;
    for (i, path) in paths.iter().enumerate() {
        let path = path.as_ref();
        let rest = || paths.iter().skip(i + 1).map(|p| p.as_ref().to_path_buf());
        if passed(limits) {
            left_over = Some(std::iter::once(path.to_path_buf()).chain(rest()).collect());
            break;
        }
        let cut = match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, limits, &mut results),
            Ok(meta) if meta.is_file() => {
                let result = scan_file_limited(path, limits);
                let cut = result.incomplete.then(|| vec![path.to_path_buf()]);
                results.push(result);
                cut
            }
            Ok(_) => {
                results.push(error(path, "not a regular file or directory".into()));
                None
            }
            Err(e) => {
                results.push(error(path, e.to_string()));
                None
            }
        };
        if let Some(mut not_read) = cut {
            not_read.extend(rest());
            left_over = Some(not_read);
            break;
        }
    }
    let stopped = left_over.map(|not_read: Vec<PathBuf>| {
        let files = results
            .iter()
            .filter(|r| r.kind != FileKind::Error && !r.incomplete)
            .count();
        let timeout = limits.deadline.map_or(0, |d| d.timeout.as_millis());
        Stopped {
            reason: format!(
                "the {timeout} ms deadline (--timeout) passed after {files} file(s) were read \
                 to the end; the paths in not_read were not read, or not to the end"
            ),
            not_read: not_read
                .iter()
                .take(MAX_NOT_READ_LISTED)
                .map(|p| p.display().to_string())
                .collect(),
            not_read_more: not_read.len().saturating_sub(MAX_NOT_READ_LISTED),
        }
    });
    Scan { results, stopped }
}

/// The directories still on a walk's stack, in the order it would pop them.
fn pending(stack: &[(PathBuf, usize)]) -> impl Iterator<Item = PathBuf> + '_ {
    stack.iter().rev().map(|(p, _)| p.clone())
}

/// True once the scan's deadline has passed.
fn passed(limits: &ScanLimits) -> bool {
    limits.deadline.is_some_and(|d| d.passed())
}

/// Scans one file (any kind): the [`ScanResult`] says what it is.
pub fn scan_file(path: &Path) -> ScanResult {
    scan_file_limited(path, &ScanLimits::default())
}

fn error(path: &Path, problem: String) -> ScanResult {
    let mut result = ScanResult::new(path.display().to_string(), FileKind::Error);
    result.problems.push(problem);
    result
}

fn scan_file_limited(path: &Path, limits: &ScanLimits) -> ScanResult {
    // Never blocks on a FIFO swapped in after the caller's `stat` (issue 10).
    let (mut file, len) = match crate::root::open_regular(path) {
        Ok(f) => f,
        Err(e) => return error(path, e.to_string()),
    };
    let mut magic = [0u8; 8];
    let mut got = 0;
    while let Some(rest) = magic.get_mut(got..).filter(|r| !r.is_empty()) {
        match file.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return error(path, e.to_string()),
        }
    }
    let magic = magic.get(..got).unwrap_or_default();
    // What cuobjdump reads: ELF files (a bare cubin is one), archives, bare fatbins.
    let kind = if magic.starts_with(b"\x7fELF") {
        FileKind::Elf
    } else if magic == AR_MAGIC {
        FileKind::Archive
    } else if magic.starts_with(&FATBIN_MAGIC.to_le_bytes()) {
        FileKind::Fatbin
    } else {
        FileKind::NotElf
    };
    let mut result = ScanResult::new(path.display().to_string(), kind);
    result.size = Some(len);
    if kind == FileKind::NotElf {
        return result;
    }
    if len > limits.max_file_size {
        result.problems.push(format!(
            "file is {len} bytes, over the {} byte limit; not read",
            limits.max_file_size
        ));
        return result;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let budget = Budget::new(limits.deadline.map(|d| d.at), limits.max_read_per_file)
        .with_inflate(limits.max_decompressed_per_file);
    match kind {
        FileKind::Archive => scan_archive(&file, len, &budget, &mut result),
        FileKind::Fatbin => {
            let region = FileRegion::new(&file, 0, len, &budget);
            let fatbin = parse_section(&region, "fatbin", 0, MAX_ENTRIES, &mut result.problems);
            result.toolkit_seen(fatbin.toolkit);
            result.fatbins.push(fatbin);
        }
        _ => {
            scan_elf(&file, (0, len), &name, &budget, &mut result);
            wheel_runtime(path, &mut result);
        }
    }
    match budget.stopped() {
        Some(Stop::Deadline) => {
            result.incomplete = true;
            // The read that was refused said so, unless its failure was not worth a problem.
            if !result.problems.iter().any(|p| p.contains("deadline")) {
                result.problems.push(budget.message(Stop::Deadline));
            }
        }
        // The byte limit cuts a file as surely as the deadline: what was not read may hold the
        // code that matters, so the file is not read to the end.
        Some(Stop::Bytes) => {
            result.incomplete = true;
            let message = budget.message(Stop::Bytes);
            if !result.problems.contains(&message) {
                result.problems.push(message);
            }
        }
        None => {}
    }
    result
}

/// The full version of the shared runtime, from a wheel's `.dist-info` beside the file when
/// it came from one: for the runtime itself when its name says only the major, and for the
/// runtime a file needs.
fn wheel_runtime(path: &Path, result: &mut ScanResult) {
    match &mut result.cuda_runtime {
        Some(CudaRuntime::IsRuntime {
            version: Some(version),
            ..
        }) if !version.contains('.') => {
            if let Some(found) = installed_runtime(path, version) {
                *version = found.version;
            }
        }
        Some(CudaRuntime::Shared {
            version: Some(major),
            installed,
            ..
        }) => *installed = installed_runtime(path, major),
        _ => {}
    }
}

/// Depth-first walk of `root`, entries sorted by name. When the deadline passes, returns what
/// it did not read (or not to the end), in the order it would have read it.
fn walk(root: &Path, limits: &ScanLimits, results: &mut Vec<ScanResult>) -> Option<Vec<PathBuf>> {
    let mut seen_files = 0usize;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        if passed(limits) {
            return Some(std::iter::once(dir).chain(pending(&stack)).collect());
        }
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) => {
                results.push(error(&dir, e.to_string()));
                continue;
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(fs::DirEntry::file_name);
        let mut subdirs = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            // `file_type` does not follow symlinks.
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                if depth < limits.max_depth {
                    subdirs.push((path, depth + 1));
                } else {
                    results.push(error(
                        &path,
                        format!("not entered: deeper than {} levels", limits.max_depth),
                    ));
                }
            } else if file_type.is_file() {
                if seen_files >= limits.max_files {
                    results.push(error(
                        root,
                        format!(
                            "stopped after {} files; the rest was not scanned",
                            limits.max_files
                        ),
                    ));
                    return None;
                }
                // What is left when the deadline cuts the walk here: this directory's other
                // files, then its subdirectories, then the directories still on the stack.
                let rest = |from: usize| {
                    let files = entries
                        .iter()
                        .skip(from)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(fs::DirEntry::path);
                    let dirs = subdirs.iter().map(|(p, _)| p.clone()).chain(
                        entries
                            .iter()
                            .skip(from)
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                            .map(fs::DirEntry::path),
                    );
                    files.chain(dirs).chain(pending(&stack)).collect::<Vec<_>>()
                };
                if passed(limits) {
                    return Some(rest(index));
                }
                seen_files += 1;
                let result = scan_file_limited(&path, limits);
                if result.incomplete {
                    results.push(result);
                    return Some(std::iter::once(path).chain(rest(index + 1)).collect());
                }
                if result.kind != FileKind::NotElf {
                    results.push(result);
                }
            }
        }
        // Reverse so the stack pops them in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    None
}
