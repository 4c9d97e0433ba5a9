//! NVIDIA device nodes under `/dev`: present, a character device, accessible?
//!
//! Nothing is opened here: `/dev/nvidiaN` may initialise its GPU when opened, and a FIFO in
//! place of a node would block. On the host the probe asks `faccessat(2)` with the effective
//! ids whether it could open each node read-write, which is what CUDA does. Under `--root` a
//! node is looked up inside the root and held with `O_PATH` (which calls no driver), and the
//! question is asked of that file.
//!
//! Under `--root` a regular file stands for a node (fixtures and captures cannot hold device
//! nodes). Its content may record what the real node was, as `key=value` lines:
//! `type=char`, `major=195`, `minor=255`, `mode=0666`, `uid=0`, `gid=0`, and
//! `open=ok|EACCES|EPERM|ENXIO|…` (what opening it gave). An empty stand-in means "this node
//! exists", with its access unknown.
//!
//! `nvprobe capture` writes these records for every node the run touched
//! ([`crate::capture::copy::stand_in_record`]): `open=` is what `faccessat(R_OK|W_OK,
//! AT_EACCESS)` answered (`ok`, or the errno's name), never a real open. Additive since then:
//! `type=block`, `type=fifo`, `type=socket` (and `type=other`) for nodes that are not
//! character devices; those have no `major`/`minor` (block devices do) and no `open`, and
//! read back as kind `other`, as such a node reads in place. Readers ignore keys and values
//! they do not know.

use std::os::fd::OwnedFd;

use crate::report::DeviceNode;
use rustix::fs::FileType;

use crate::root::{Meta, Root};

/// The fixed NVIDIA nodes, besides `/dev/nvidiaN`.
pub const FIXED_NODES: &[&str] = &[
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
];

/// Reads every NVIDIA node present under `/dev`, sorted by path (numbers in numeric order).
pub fn scan(root: &Root) -> std::io::Result<Vec<DeviceNode>> {
    // Only NVIDIA's names are kept (every node below is `nvidia*`): a host's /dev has a
    // hundred or more others.
    let entries = root.read_dir_entries_where("/dev", crate::root::DEVICE_DIR_LIMIT, &|n| {
        n.starts_with(b"nvidia")
    })?;
    let listed = |name: &str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, kind)| *kind)
    };
    let mut minors: Vec<u32> = entries
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("nvidia"))
        .filter(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .collect();
    minors.sort_unstable();
    let mut paths: Vec<String> = FIXED_NODES
        .iter()
        .filter(|p| p.strip_prefix("/dev/").is_some_and(|n| listed(n).is_some()))
        .map(|p| (*p).to_owned())
        .collect();
    paths.extend(minors.iter().map(|m| format!("/dev/nvidia{m}")));
    Ok(paths
        .iter()
        .filter_map(|p| node_listed(root, p, p.strip_prefix("/dev/").and_then(listed)))
        .collect())
}

/// Describes one node, `None` when absent.
pub fn node(root: &Root, path: &str) -> Option<DeviceNode> {
    // Under `--root` the node is held (`O_PATH`, found inside the root) while it is described
    // and its access asked, so both answers are about that file, whatever a link swapped in
    // meanwhile leads to. The host's `/dev` is asked by path.
    let (held, meta) = if root.is_host() {
        (None, root.metadata(path).ok()?)
    } else {
        let (fd, meta) = root.open_node(path).ok()?;
        (Some(fd), meta)
    };
    let mut n = described(path, &meta);
    if meta.is_char_device() {
        let rdev = meta.rdev();
        n.kind = "char".to_owned();
        n.major = Some(rustix::fs::major(rdev));
        n.minor = Some(rustix::fs::minor(rdev));
        n.access = access(held.as_ref(), path);
    } else if meta.is_file() && !root.is_host() {
        n.kind = "file".to_owned();
        if let Ok(text) = root.read_text_limited(path, STAND_IN_LIMIT) {
            apply_stand_in(&mut n, &text.text);
        }
    }
    Some(n)
}

/// The most of a stand-in record read.
const STAND_IN_LIMIT: u64 = 4096;

/// [`node`] for a path that the listing of `/dev` gave as `listed` (`None`: not listed under
/// that name). Under `--root`, an entry listed as a regular file is a stand-in, read with one
/// open whose `fstat` stands for the `stat` [`node`] makes first; should it have become
/// something else since the listing, or not open, [`node`] describes it as it is.
fn node_listed(root: &Root, path: &str, listed: Option<FileType>) -> Option<DeviceNode> {
    if root.is_host() || listed != Some(FileType::RegularFile) {
        return node(root, path);
    }
    let Ok((meta, text)) = root.read_text_with_meta(path, STAND_IN_LIMIT) else {
        return node(root, path);
    };
    let mut n = described(path, &meta);
    n.kind = "file".to_owned();
    apply_stand_in(&mut n, &text.text);
    Some(n)
}

/// A node of kind `other` with the mode and owner `meta` gives, its access unknown.
fn described(path: &str, meta: &Meta) -> DeviceNode {
    DeviceNode {
        path: path.to_owned(),
        kind: "other".to_owned(),
        major: None,
        minor: None,
        mode: Some(format!("{:04o}", meta.mode() & 0o7777)),
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
        access: "unknown".to_owned(),
    }
}

/// Whether the process could open the node read-write, asked with its effective ids
/// (`faccessat2(AT_EACCESS)`): of `held` when given, through its `/proc/self/fd` entry (which
/// leads to that inode; without `/proc` the answer is "unknown"), else of `path`.
fn access(held: Option<&OwnedFd>, path: &str) -> String {
    use rustix::fs::{Access, AtFlags, CWD, accessat};
    use rustix::io::Errno;
    let rw = Access::READ_OK | Access::WRITE_OK;
    let answer = match held {
        None => accessat(CWD, path, rw, AtFlags::EACCESS),
        Some(fd) => accessat(CWD, crate::root::fd_entry(fd).as_str(), rw, AtFlags::EACCESS),
    };
    match answer {
        Ok(()) => "ok",
        Err(Errno::ACCESS | Errno::PERM) => "denied",
        Err(_) => "unknown",
    }
    .to_owned()
}

/// Applies the `key=value` record of a fixture stand-in. A node recorded as something other
/// than a character device reads as the probe reads such a node in place: kind `other`, no
/// major/minor numbers (a block device's are not kept), access unknown.
pub fn apply_stand_in(n: &mut DeviceNode, text: &str) {
    let mut not_char = false;
    for line in text.lines() {
        let Some((key, value)) = line.trim().split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "type" if value == "char" => n.kind = "char".to_owned(),
            "type" if matches!(value, "block" | "fifo" | "socket" | "other") => not_char = true,
            "major" => n.major = value.parse().ok(),
            "minor" => n.minor = value.parse().ok(),
            "mode" => {
                n.mode = u32::from_str_radix(value, 8)
                    .ok()
                    .map(|m| format!("{:04o}", m & 0o7777));
            }
            "uid" => n.uid = value.parse().ok(),
            "gid" => n.gid = value.parse().ok(),
            "open" => {
                n.access = match value {
                    "ok" => "ok",
                    "EACCES" | "EPERM" => "denied",
                    _ => "unknown",
                }
                .to_owned();
            }
            _ => {}
        }
    }
    if not_char {
        n.kind = "other".to_owned();
        n.major = None;
        n.minor = None;
        n.access = "unknown".to_owned();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character device is described, and its access asked, through the node the lookup
    /// found (`O_PATH` under a root, then its `/proc/self/fd` entry), as on the host by path;
    /// a link that would leave the root is not followed out of it.
    #[test]
    fn devnodes_char_device_described_through_the_node_found() {
        let want = |n: Option<DeviceNode>| {
            let n = n.expect("present");
            assert_eq!(
                (n.kind.as_str(), n.major, n.minor, n.access.as_str()),
                ("char", Some(1), Some(3), "ok"),
                "{n:?}"
            );
        };
        want(node(&Root::host(), "/dev/null"));
        want(node(&Root::at("/"), "/dev/null"));
        let dir = crate::testutil::Scratch::new("devnodes-char");
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.join("dev/nvidiactl")).unwrap();
        assert_eq!(node(&Root::at(&*dir), "/dev/nvidiactl"), None);
    }

    /// The listing's shortcut (a stand-in listed as a regular file is opened once) describes
    /// every node as [`node`] does from a `stat`: stand-ins, a symlink to one, a FIFO (never
    /// opened), a directory, an unreadable stand-in, and names that parse to another node's
    /// number (`nvidia01` is not `/dev/nvidia1`).
    #[test]
    fn devnodes_listing_shortcut_matches_stat() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = crate::testutil::Scratch::new("devnodes-listed");
        let dev = dir.join("dev");
        std::fs::create_dir_all(dev.join("nvidia3")).unwrap();
        std::fs::write(
            dev.join("nvidiactl"),
            "type=char\nmajor=195\nminor=255\nmode=0666\nopen=ok\n",
        )
        .unwrap();
        std::fs::write(dev.join("nvidia0"), "type=char\nmajor=195\nminor=0\n").unwrap();
        std::fs::write(dev.join("nvidia-uvm"), "").unwrap();
        std::fs::write(dev.join("nvidia01"), "type=char\nmajor=195\nminor=9\n").unwrap();
        std::os::unix::fs::symlink("nvidia0", dev.join("nvidia1")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            dev.join("nvidia2"),
            FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let locked = dev.join("nvidia-modeset");
        std::fs::write(&locked, "type=char\nopen=ok\n").unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let root = Root::at(&*dir);
        let nodes = scan(&root).unwrap();
        let paths: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/dev/nvidiactl",
                "/dev/nvidia-uvm",
                "/dev/nvidia-modeset",
                "/dev/nvidia0",
                "/dev/nvidia1",
                "/dev/nvidia1",
                "/dev/nvidia2",
                "/dev/nvidia3",
            ]
        );
        for n in &nodes {
            assert_eq!(Some(n), node(&root, &n.path).as_ref(), "{}", n.path);
        }
        assert_eq!(nodes[0].kind, "char");
        assert_eq!(nodes[0].access, "ok");
        assert_eq!(nodes[1].kind, "file");
        assert_eq!(nodes[3].minor, Some(0));
        assert_eq!(nodes[4].minor, Some(0), "a symlink to a stand-in reads as it");
        assert_eq!(nodes[6].kind, "other", "a FIFO is not read");
    }

    #[test]
    fn devnodes_stand_in_record() {
        let mut n = DeviceNode {
            path: "/dev/nvidia0".into(),
            kind: "file".into(),
            major: None,
            minor: None,
            mode: Some("0644".into()),
            uid: Some(0),
            gid: Some(0),
            access: "unknown".into(),
        };
        apply_stand_in(
            &mut n,
            "type=char\nmajor=195\nminor=0\nmode=0660\ngid=44\nopen=EACCES\n",
        );
        assert_eq!(n.kind, "char");
        assert_eq!((n.major, n.minor), (Some(195), Some(0)));
        assert_eq!(n.mode.as_deref(), Some("0660"));
        assert_eq!(n.gid, Some(44));
        assert_eq!(n.access, "denied");
        apply_stand_in(&mut n, "mode=99999999999\nopen=weird\n\u{0}=\u{0}");
        assert_eq!(n.mode, None);
        assert_eq!(n.access, "unknown");
        // A capture's record of a block device, FIFO or socket in place of a node reads as such
        // a node does in place (kind "other"), whatever other keys it holds.
        for kind in ["block", "fifo", "socket", "other"] {
            let mut m = n.clone();
            apply_stand_in(
                &mut m,
                &format!("type={kind}\nmajor=8\nminor=0\nmode=0600\nopen=ok\n"),
            );
            assert_eq!(m.kind, "other", "{kind}");
            assert_eq!((m.major, m.minor), (None, None), "{kind}");
            assert_eq!(m.access, "unknown", "{kind}");
            assert_eq!(m.mode.as_deref(), Some("0600"), "{kind}");
        }
    }
}
