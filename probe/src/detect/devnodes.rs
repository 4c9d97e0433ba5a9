//! NVIDIA device nodes under `/dev`: present, a character device, accessible?
//!
//! Nothing is opened here: `/dev/nvidiaN` may initialise its GPU when opened, and a FIFO in
//! place of a node would block. On the host the probe asks `faccessat(2)` with the effective
//! ids whether it could open each node read-write, which is what CUDA does.
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

use crate::report::DeviceNode;
use crate::root::Root;

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
    let names = root.read_dir_names_where("/dev", crate::root::DEVICE_DIR_LIMIT, &|n| {
        n.starts_with(b"nvidia")
    })?;
    let mut minors: Vec<u32> = names
        .iter()
        .filter_map(|n| n.strip_prefix("nvidia"))
        .filter(|n| !n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|n| n.parse().ok())
        .collect();
    minors.sort_unstable();
    let mut paths: Vec<String> = FIXED_NODES
        .iter()
        .filter(|p| {
            names
                .iter()
                .any(|n| Some(n.as_str()) == p.strip_prefix("/dev/"))
        })
        .map(|p| (*p).to_owned())
        .collect();
    paths.extend(minors.iter().map(|m| format!("/dev/nvidia{m}")));
    Ok(paths.iter().filter_map(|p| node(root, p)).collect())
}

/// Describes one node, `None` when absent.
pub fn node(root: &Root, path: &str) -> Option<DeviceNode> {
    let meta = root.metadata(path).ok()?;
    let mut n = DeviceNode {
        path: path.to_owned(),
        kind: "other".to_owned(),
        major: None,
        minor: None,
        mode: Some(format!("{:04o}", meta.mode() & 0o7777)),
        uid: Some(meta.uid()),
        gid: Some(meta.gid()),
        access: "unknown".to_owned(),
    };
    if meta.is_char_device() {
        let rdev = meta.rdev();
        n.kind = "char".to_owned();
        n.major = Some(rustix::fs::major(rdev));
        n.minor = Some(rustix::fs::minor(rdev));
        n.access = access(root, path);
    } else if meta.is_file() && !root.is_host() {
        n.kind = "file".to_owned();
        if let Ok(text) = root.read_text_limited(path, 4096) {
            apply_stand_in(&mut n, &text.text);
        }
    }
    Some(n)
}

fn access(root: &Root, path: &str) -> String {
    use rustix::fs::{Access, AtFlags, CWD};
    let Ok(real) = root.resolve(path) else {
        return "unknown".to_owned();
    };
    match rustix::fs::accessat(
        CWD,
        &real,
        Access::READ_OK | Access::WRITE_OK,
        AtFlags::EACCESS,
    ) {
        Ok(()) => "ok",
        Err(e) if e == rustix::io::Errno::ACCESS || e == rustix::io::Errno::PERM => "denied",
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
