//! Helpers shared by the workspace-level tests: where the fixture machines live, and the real
//! machines' capture bundles written back with their holes.
use std::fs::{self, File};
use std::io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The directory holding the fixture machines (`tests/fixtures/<name>`).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The root directory of one fixture machine.
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// The directory holding the capture bundles of real machines (`tests/real/<name>`), their
/// large sparse files packed as `NAME.nvprobe-sparse` (`scripts/pack-sparse.py`).
pub fn real_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("real")
}

/// The real bundles' names, sorted.
pub fn real_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(real_dir())
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.path().join(".nvprobe/capture.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The suffix of a packed sparse file.
const PACKED: &str = ".nvprobe-sparse";

/// A real bundle written out in a scratch directory as the capture made it: each packed file
/// is its original size again, its kept ranges at their offsets and holes between them. The
/// directory is removed on drop.
pub struct RealFixture {
    dir: PathBuf,
}

impl RealFixture {
    /// Writes out `tests/real/<name>`.
    pub fn new(name: &str) -> io::Result<Self> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nvprobe-real-{name}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        let fixture = Self { dir };
        unpack_tree(&real_dir().join(name), &fixture.dir)?;
        Ok(fixture)
    }

    /// The bundle's root, for `--root`.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RealFixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Copies the tree `from` to `to`, writing each `.nvprobe-sparse` pack back as the file it
/// holds (symlinks stay links).
pub fn unpack_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, name) = (entry.path(), entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, to.join(&name))?;
        } else if kind.is_dir() {
            unpack_tree(&src, &to.join(&name))?;
        } else if let Some(real) = name.to_str().and_then(|n| n.strip_suffix(PACKED)) {
            unpack(&src, &to.join(real))?;
        } else {
            fs::copy(&src, to.join(&name))?;
        }
    }
    Ok(())
}

fn bad(what: &str, path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// Writes the file a `.nvprobe-sparse` pack holds (the format: `scripts/pack-sparse.py`).
fn unpack(pack: &Path, out: &Path) -> io::Result<()> {
    let mut r = BufReader::new(File::open(pack)?);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let head: Vec<&str> = line.split_whitespace().collect();
    let (size, count) = match head.as_slice() {
        ["nvprobe-sparse/1", size, count] => (size.parse::<u64>(), count.parse::<usize>()),
        _ => return Err(bad("not an nvprobe-sparse/1 pack", pack)),
    };
    let (Ok(size), Ok(count)) = (size, count) else {
        return Err(bad("bad header", pack));
    };
    let mut runs = Vec::new();
    for _ in 0..count {
        line.clear();
        r.read_line(&mut line)?;
        let mut it = line.split_whitespace().map(str::parse::<u64>);
        match (it.next(), it.next()) {
            (Some(Ok(off)), Some(Ok(len))) if off.checked_add(len).is_some_and(|e| e <= size) => {
                runs.push((off, len));
            }
            _ => return Err(bad("bad range line", pack)),
        }
    }
    let mut f = File::create(out)?;
    for (off, len) in runs {
        let mut buf = vec![0_u8; usize::try_from(len).map_err(|_| bad("range too long", pack))?];
        r.read_exact(&mut buf)?;
        f.seek(SeekFrom::Start(off))?;
        f.write_all(&buf)?;
    }
    f.set_len(size)?;
    fs::set_permissions(out, fs::metadata(pack)?.permissions())
}
