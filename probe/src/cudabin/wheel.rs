//! The full version of a CUDA runtime installed by a Python wheel, from the wheel's
//! `.dist-info` directory beside the library: `libcudart.so.12` says only `12`, while
//! `site-packages/nvidia_cuda_runtime_cu12-12.4.127.dist-info` says `12.4.127` (CUDA 13 wheels:
//! `nvidia_cuda_runtime-13.5.37.dist-info`, the library in `nvidia/cu13/lib/`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::types::Installed;

/// The runtime `.dist-info` directories of the directories above the paths given to a scan,
/// listed by [`look_above`] before the sandbox, which allows reading only beneath those paths,
/// goes on: directory → `(version, dist-info path)`.
static ABOVE: OnceLock<Mutex<Listing>> = OnceLock::new();

/// Directory → the runtime wheels in it: `(version, dist-info path)`.
type Listing = BTreeMap<PathBuf, Vec<(String, String)>>;

/// Lists the runtime wheels' `.dist-info` directories in the directories above each of
/// `real_paths` (up to the levels `installed_runtime` looks at), for a scan that runs under
/// the sandbox. The paths are as `fs::canonicalize` gives them: the caller resolves them once
/// for this and for the sandbox's rules. Call before the sandbox goes on.
pub fn look_above(real_paths: &[PathBuf]) {
    let mut found = BTreeMap::new();
    for path in real_paths {
        let mut dir = path.parent();
        for _ in 0..MAX_LEVELS {
            let Some(here) = dir else { break };
            found
                .entry(here.to_path_buf())
                .or_insert_with(|| runtimes_in(here));
            dir = here.parent();
        }
    }
    let cache = ABOVE.get_or_init(|| Mutex::new(BTreeMap::new()));
    if let Ok(mut cache) = cache.lock() {
        cache.extend(found);
    }
}

/// The runtime wheels' `(version, dist-info path)` in `dir`, from [`look_above`]'s list when
/// it has `dir`, else by reading it.
fn runtimes_near(dir: &Path) -> Vec<(String, String)> {
    let listed = ABOVE
        .get()
        .and_then(|c| c.lock().ok())
        .and_then(|c| c.get(dir).cloned());
    listed.unwrap_or_else(|| runtimes_in(dir))
}

/// Reads `dir` for runtime wheels' `.dist-info` directories. The listing is `getdents64` into
/// a buffer on the stack: `std::fs::read_dir` adds musl's `opendir` (an `fcntl`, and an 8 KiB
/// block mapped and unmapped) for each of the four directories above every file scanned.
fn runtimes_in(dir: &Path) -> Vec<(String, String)> {
    use rustix::fs::{Mode, OFlags, RawDir};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let Ok(fd) = rustix::fs::open(dir, flags, Mode::empty()) else {
        return Vec::new();
    };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&fd, &mut buf);
    let mut found = Vec::new();
    let mut seen = 0_usize;
    while let Some(Ok(entry)) = entries.next() {
        // Most entries are something else (a site-packages holds hundreds): told apart by
        // their bytes, not copied into a String each.
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        seen += 1;
        if seen > MAX_ENTRIES {
            break;
        }
        if !name.starts_with(b"nvidia_cuda_runtime") {
            continue;
        }
        let name = String::from_utf8_lossy(name);
        if let Some(version) = dist_info_version(&name) {
            found.push((version, dir.join(&*name).display().to_string()));
        }
    }
    found
}

/// Directories above the file looked at (`site-packages/nvidia/cuda_runtime/lib/x.so`: 3).
const MAX_LEVELS: usize = 4;
/// Entries of one directory looked at.
const MAX_ENTRIES: usize = 20_000;

/// The wheel-installed runtime of major `major` found beside `file`: the first
/// `nvidia_cuda_runtime[_cuN]-X.Y.Z.dist-info` in a directory above it whose version's major
/// is `major`. `None` when none is there (the file did not come from a wheel).
pub(crate) fn installed_runtime(file: &Path, major: &str) -> Option<Installed> {
    let file = fs::canonicalize(file).ok()?;
    let mut dir = file.parent();
    for _ in 0..MAX_LEVELS {
        let here = dir?;
        let mut found: Vec<(String, String)> = runtimes_near(here)
            .into_iter()
            .filter(|(v, _)| v.split('.').next() == Some(major))
            .collect();
        found.sort_unstable();
        if let Some((version, from)) = found.pop() {
            return Some(Installed { version, from });
        }
        dir = here.parent();
    }
    None
}

/// `12.4.127` from `nvidia_cuda_runtime_cu12-12.4.127.dist-info` (or
/// `nvidia_cuda_runtime-13.5.37.dist-info`); `None` for any other name.
fn dist_info_version(name: &str) -> Option<String> {
    let stem = name.strip_suffix(".dist-info")?;
    let (project, version) = stem.rsplit_once('-')?;
    let rest = project.strip_prefix("nvidia_cuda_runtime")?;
    if !(rest.is_empty()
        || rest
            .strip_prefix("_cu")
            .is_some_and(|n| n.parse::<u32>().is_ok()))
    {
        return None;
    }
    let ok = !version.is_empty()
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_dist_info_names() {
        let v = |n: &str| dist_info_version(n);
        assert_eq!(
            v("nvidia_cuda_runtime_cu12-12.4.127.dist-info").as_deref(),
            Some("12.4.127")
        );
        assert_eq!(
            v("nvidia_cuda_runtime-13.5.37.dist-info").as_deref(),
            Some("13.5.37")
        );
        assert_eq!(v("nvidia_cuda_runtime_cu12-12.4.127.egg-info"), None);
        assert_eq!(v("nvidia_cuda_nvrtc_cu12-12.4.127.dist-info"), None);
        assert_eq!(v("nvidia_cuda_runtime_cuX-12.4.dist-info"), None);
        assert_eq!(v("nvidia_cuda_runtime_cu12-12.4rc1.dist-info"), None);
    }

    #[test]
    fn wheel_runtime_beside_the_library() {
        let root = crate::testutil::Scratch::new("wheel");
        let lib = root.join("site-packages/nvidia/cuda_runtime/lib");
        fs::create_dir_all(&lib).unwrap();
        fs::create_dir_all(root.join("site-packages/nvidia_cuda_runtime_cu12-12.4.127.dist-info"))
            .unwrap();
        let so = lib.join("libcudart.so.12");
        fs::write(&so, b"").unwrap();
        let found = installed_runtime(&so, "12").unwrap();
        assert_eq!(found.version, "12.4.127");
        assert!(
            found
                .from
                .ends_with("nvidia_cuda_runtime_cu12-12.4.127.dist-info")
        );
        assert_eq!(installed_runtime(&so, "13"), None);
    }
}
