//! Scanning paths: files directly, directories by a bounded walk that never follows symlinks.

use std::fs;
use std::io::Read;
use std::path::Path;

use super::elf::{MAX_FILE_SIZE, scan_elf};
use super::source::Budget;
use super::types::{FileKind, ScanResult};

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
}

/// [`ScanLimits::max_read_per_file`] by default: 512 MiB, twice what a real library costs
/// (`.rodata` is searched up to 256 MiB; fatbins cost 64 bytes per entry, plus up to 8 KiB per
/// uncompressed PTX entry).
pub const MAX_READ_PER_FILE: u64 = 512 << 20;

impl Default for ScanLimits {
    /// 32 levels, 200,000 files, 2 GiB, 512 MiB read per file.
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_files: 200_000,
            max_file_size: MAX_FILE_SIZE,
            max_read_per_file: MAX_READ_PER_FILE,
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
/// directory that says so.
pub fn scan_paths<P: AsRef<Path>>(paths: &[P], limits: &ScanLimits) -> Vec<ScanResult> {
    let mut results = Vec::new();
    for path in paths {
        let path = path.as_ref();
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, limits, &mut results),
            Ok(meta) if meta.is_file() => results.push(scan_file_limited(path, limits)),
            Ok(_) => results.push(error(path, "not a regular file or directory".into())),
            Err(e) => results.push(error(path, e.to_string())),
        }
    }
    results
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
    let mut file = match crate::root::open_regular(path) {
        Ok(f) => f,
        Err(e) => return error(path, e.to_string()),
    };
    let len = match file.metadata() {
        Ok(m) if m.is_file() => m.len(),
        Ok(_) => return error(path, "not a regular file".into()),
        Err(e) => return error(path, e.to_string()),
    };
    let mut magic = [0u8; 4];
    let is_elf = match file.read_exact(&mut magic) {
        Ok(()) => magic == *b"\x7fELF",
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => false,
        Err(e) => return error(path, e.to_string()),
    };
    let kind = if is_elf {
        FileKind::Elf
    } else {
        FileKind::NotElf
    };
    let mut result = ScanResult::new(path.display().to_string(), kind);
    result.size = Some(len);
    if !is_elf {
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
    let budget = Budget::new(None, limits.max_read_per_file);
    scan_elf(&file, len, &name, &budget, &mut result);
    result
}

/// Depth-first walk of `root`, entries sorted by name.
fn walk(root: &Path, limits: &ScanLimits, results: &mut Vec<ScanResult>) {
    let mut seen_files = 0usize;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
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
        for entry in entries {
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
                    return;
                }
                seen_files += 1;
                let result = scan_file_limited(&path, limits);
                if result.kind != FileKind::NotElf {
                    results.push(result);
                }
            }
        }
        // Reverse so the stack pops them in name order.
        stack.extend(subdirs.into_iter().rev());
    }
}
