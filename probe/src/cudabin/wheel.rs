//! The full version of a CUDA runtime installed by a Python wheel, from the wheel's
//! `.dist-info` directory beside the library: `libcudart.so.12` says only `12`, while
//! `site-packages/nvidia_cuda_runtime_cu12-12.4.127.dist-info` says `12.4.127` (CUDA 13 wheels:
//! `nvidia_cuda_runtime-13.5.37.dist-info`, the library in `nvidia/cu13/lib/`).

use std::fs;
use std::path::Path;

use super::types::Installed;

/// Directories above the file looked at (`site-packages/nvidia/cuda_runtime/lib/x.so`: 3).
const MAX_LEVELS: usize = 4;
/// Entries of one directory looked at.
const MAX_ENTRIES: usize = 20_000;

/// The wheel-installed runtime of major `major` found beside `file`: the first
/// `nvidia_cuda_runtime[_cuN]-X.Y.Z.dist-info` in a directory above it whose version's major
/// is `major`. `None` when none is there (the file did not come from a wheel).
pub(crate) fn installed_runtime(file: &Path, major: &str) -> Option<Installed> {
    let mut dir = file.parent();
    for _ in 0..MAX_LEVELS {
        let here = dir?;
        if let Ok(entries) = fs::read_dir(here) {
            let mut found: Vec<(String, String)> = entries
                .take(MAX_ENTRIES)
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let version = dist_info_version(&name)?;
                    Some((version, name))
                })
                .filter(|(v, _)| v.split('.').next() == Some(major))
                .collect();
            found.sort();
            if let Some((version, name)) = found.pop() {
                return Some(Installed {
                    version,
                    from: here.join(name).display().to_string(),
                });
            }
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
        let root = std::env::temp_dir().join(format!("nvprobe-wheel-{}", std::process::id()));
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
        let _ = fs::remove_dir_all(&root);
    }
}
