//! How the nvidia kernel module is built for the running kernel (issue 23): the source
//! `kernel-build`, what people otherwise find with `uname -r`, `ls /usr/src`, `dkms status`,
//! `mokutil --sb-state` and `cat /proc/sys/kernel/tainted`.
//!
//! Read, for the running kernel `<release>`:
//! - its headers: `/lib/modules/<release>/build` (a link into the headers package),
//!   `/usr/src/linux-headers-<release>` (Debian, Ubuntu), `/usr/src/kernels/<release>`
//!   (`kernel-devel` on Fedora and RHEL): a directory with a `Makefile`;
//! - DKMS: `/var/lib/dkms/nvidia*/<version>/` with its `source` link (to
//!   `/usr/src/<module>-<version>`, gone once the package is removed) and the built modules in
//!   `<release>/<arch>/module/`;
//! - signatures: the loaded module's taint (`E`: an unsigned module was loaded), else the end
//!   of an uncompressed `nvidia.ko` (`~Module signature appended~\n`; a compressed one is signed
//!   before compression, so it is not known without decompressing);
//!   `/sys/module/module/parameters/sig_enforce`, `/sys/kernel/security/lockdown`, the
//!   `SecureBoot` EFI variable (4 bytes of attributes, then the value), the DKMS signing key and
//!   the firmware's `MokListRT` (the efivar, or `/sys/firmware/efi/mok-variables/MokListRT`);
//! - `/proc/sys/kernel/tainted`, decoded with the letters of the kernel's `taint_flags`.
//!
//! Unreadable is unknown (`null`), never a pass.

use crate::report::stack::{DkmsTree, KernelBuildInfo};
use crate::report::{InstalledModule, LoadedModule, Source, SourceStatus};
use crate::root::Root;

/// The source's name.
pub const SOURCE: &str = "kernel-build";

const DKMS: &str = "/var/lib/dkms";
const SIG_ENFORCE: &str = "/sys/module/module/parameters/sig_enforce";
const LOCKDOWN: &str = "/sys/kernel/security/lockdown";
const SECURE_BOOT: &str =
    "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
const MOK_LIST: &[&str] = &[
    "/sys/firmware/efi/mok-variables/MokListRT",
    "/sys/firmware/efi/efivars/MokListRT-605dab50-e046-4300-abb6-3dd810dd8b23",
];
/// Where DKMS keeps the key it signs modules with: Ubuntu's shim-signed, then DKMS 3's own.
pub const MOK_KEYS: &[&str] = &["/var/lib/shim-signed/mok/MOK.der", "/var/lib/dkms/mok.pub"];
const TAINTED: &str = "/proc/sys/kernel/tainted";
/// What `scripts/sign-file` appends last (`include/linux/module_signature.h`).
pub const SIGNATURE_MAGIC: &[u8] = b"~Module signature appended~\n";

/// The kernel's taint letters by bit (`kernel/panic.c`, `taint_flags`).
const TAINT_LETTERS: &[char] = &[
    'P', 'F', 'S', 'R', 'M', 'B', 'U', 'D', 'A', 'W', 'C', 'I', 'O', 'E', 'L', 'K', 'X', 'T', 'N',
    'J',
];

/// The letters of a taint mask, in bit order (`P` for bit 0); unknown bits as `?`.
pub fn taint_letters(mask: u64) -> String {
    (0..64)
        .filter(|b| mask & (1 << b) != 0)
        .map(|b| TAINT_LETTERS.get(b).copied().unwrap_or('?'))
        .collect()
}

/// The selected mode of `/sys/kernel/security/lockdown` (`none [integrity] confidentiality`).
pub fn lockdown_mode(text: &str) -> Option<String> {
    let (_, rest) = text.split_once('[')?;
    let (mode, _) = rest.split_once(']')?;
    Some(mode.to_owned())
}

/// The value of a boolean EFI variable as efivarfs shows it: 4 bytes of attributes, then
/// the data (`SecureBoot`: one byte, 1 when on).
pub fn efivar_bool(bytes: &[u8]) -> Option<bool> {
    match bytes.get(4..)? {
        [v] => Some(*v != 0),
        _ => None,
    }
}

/// Whether a module file's end is a signature, from its last bytes: `None` when they are all
/// zero (a capture keeps only the head of a large file and its size).
pub fn signed_from_tail(tail: &[u8]) -> Option<bool> {
    if tail.ends_with(SIGNATURE_MAGIC) {
        Some(true)
    } else if tail.iter().all(|&b| b == 0) {
        None
    } else {
        Some(false)
    }
}

fn read_trim(root: &Root, path: &str) -> Option<String> {
    root.read_text_limited(path, 4096)
        .ok()
        .map(|t| t.text.trim().to_owned())
}

fn headers(root: &Root, release: &str) -> Option<String> {
    [
        format!("/lib/modules/{release}/build"),
        format!("/usr/src/linux-headers-{release}"),
        format!("/usr/src/kernels/{release}"),
    ]
    .into_iter()
    .find(|d| root.exists(&format!("{d}/Makefile")))
}

fn dkms_trees(root: &Root, problems: &mut Vec<String>) -> Vec<DkmsTree> {
    let modules = match root.read_dir_names_limited(DKMS, 1024) {
        Ok(m) => m,
        Err(e) => {
            if e.kind() != std::io::ErrorKind::NotFound {
                problems.push(format!("{DKMS}: {}", crate::root::describe_error(&e)));
            }
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for module in modules.iter().filter(|m| m.starts_with("nvidia")) {
        let dir = format!("{DKMS}/{module}");
        let versions = match root.read_dir_names_limited(&dir, 256) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{dir}: {}", crate::root::describe_error(&e)));
                continue;
            }
        };
        for version in versions
            .iter()
            .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        {
            let vdir = format!("{dir}/{version}");
            let entries = root.read_dir_names_limited(&vdir, 256).unwrap_or_default();
            let built_for = entries
                .iter()
                .filter(|e| !matches!(e.as_str(), "source" | "build" | "log"))
                .filter(|rel| {
                    root.read_dir_names_limited(&format!("{vdir}/{rel}"), 16)
                        .unwrap_or_default()
                        .iter()
                        .any(|arch| {
                            root.read_dir_names_limited(&format!("{vdir}/{rel}/{arch}/module"), 64)
                                .is_ok_and(|m| !m.is_empty())
                        })
                })
                .cloned()
                .collect();
            out.push(DkmsTree {
                module: module.clone(),
                version: version.clone(),
                built_for,
                source_present: root.exists(&format!("{vdir}/source/dkms.conf")),
            });
        }
    }
    out
}

fn module_signed(
    root: &Root,
    release: &str,
    loaded: &[LoadedModule],
    installed: Option<&[InstalledModule]>,
    sig_enforce_known: bool,
) -> (Option<bool>, Option<String>) {
    if let Some(m) = loaded.iter().find(|m| m.name == "nvidia")
        && let Some(t) = &m.taint
    {
        if t.contains('E') {
            return (
                Some(false),
                Some(format!("the loaded module's taint {t} has E (unsigned)")),
            );
        }
        if sig_enforce_known {
            return (
                Some(true),
                Some(format!(
                    "the loaded module's taint {t} has no E, on a kernel that checks signatures"
                )),
            );
        }
    }
    let file = installed
        .unwrap_or_default()
        .iter()
        .find(|m| m.name == "nvidia" && m.kernel_release == release);
    let Some(file) = file else {
        return (None, None);
    };
    // Module files are named by the kernel's build: `.ko` exactly, never `.KO`.
    if std::path::Path::new(&file.path).extension() != Some(std::ffi::OsStr::new("ko")) {
        return (
            None,
            Some(format!(
                "{} is compressed: signed before compression, not decompressed here",
                file.path
            )),
        );
    }
    match root.read_tail(&file.path, 64) {
        Ok(tail) => match signed_from_tail(&tail) {
            Some(true) => (
                Some(true),
                Some(format!("{} ends with a signature", file.path)),
            ),
            Some(false) => (
                Some(false),
                Some(format!("{} ends without a signature", file.path)),
            ),
            None => (None, Some(format!("{}: its end was not read", file.path))),
        },
        Err(e) => (
            None,
            Some(format!(
                "{}: {}",
                file.path,
                crate::root::describe_error(&e)
            )),
        ),
    }
}

fn mok(root: &Root) -> (Option<String>, Option<bool>) {
    let Some((path, key)) = MOK_KEYS.iter().find_map(|p| {
        root.read_bytes_whole(p, 64 * 1024)
            .ok()
            .filter(|k| k.len() > 16)
            .map(|k| ((*p).to_owned(), k))
    }) else {
        return (None, None);
    };
    let list = MOK_LIST
        .iter()
        .find_map(|p| root.read_bytes_whole(p, 1 << 20).ok());
    let enrolled = list.map(|l| l.windows(key.len()).any(|w| w == key.as_slice()));
    (Some(path), enrolled)
}

/// Reads the module build facts for the running kernel `release`.
pub fn read(
    root: &Root,
    release: Option<&str>,
    loaded: &[LoadedModule],
    installed: Option<&[InstalledModule]>,
) -> (KernelBuildInfo, Source) {
    let mut problems = Vec::new();
    let sig_enforce = read_trim(root, SIG_ENFORCE).map(|v| v == "Y" || v == "1");
    let (module_signed, module_signed_by) = match release {
        Some(r) => module_signed(root, r, loaded, installed, sig_enforce.is_some()),
        None => (None, None),
    };
    let (mok_key, mok_enrolled) = mok(root);
    let tainted = read_trim(root, TAINTED).and_then(|t| t.parse::<u64>().ok());
    let info = KernelBuildInfo {
        kernel_release: release.map(str::to_owned),
        headers: release.and_then(|r| headers(root, r)),
        dkms: dkms_trees(root, &mut problems),
        module_signed,
        module_signed_by,
        sig_enforce,
        lockdown: read_trim(root, LOCKDOWN).and_then(|t| lockdown_mode(&t)),
        secure_boot: root
            .read_bytes_whole(SECURE_BOOT, 64)
            .ok()
            .and_then(|b| efivar_bool(&b)),
        mok_key,
        mok_enrolled,
        tainted,
        taint_flags: tainted.map(taint_letters),
    };
    let mut detail = format!(
        "headers {}; {} DKMS tree(s); Secure Boot {}; sig_enforce {}; lockdown {}",
        info.headers.as_deref().unwrap_or("not found"),
        info.dkms.len(),
        word(info.secure_boot),
        word(info.sig_enforce),
        info.lockdown.as_deref().unwrap_or("unknown"),
    );
    let status = if problems.is_empty() {
        SourceStatus::Ok
    } else {
        detail.push_str("; ");
        detail.push_str(&problems.join("; "));
        SourceStatus::Failed
    };
    (info, Source::new(SOURCE, status, detail))
}

fn word(b: Option<bool>) -> &'static str {
    match b {
        Some(true) => "on",
        Some(false) => "off",
        None => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kbuild_taint_letters_as_the_kernel_names_them() {
        // 4097 = P (proprietary) + O (out of tree): the nvidia proprietary module.
        assert_eq!(taint_letters(4097), "PO");
        assert_eq!(taint_letters(0), "");
        // P O E: an unsigned out-of-tree proprietary module.
        assert_eq!(taint_letters(1 | 4096 | 8192), "POE");
        assert_eq!(taint_letters(1 << 40), "?");
    }

    #[test]
    fn kbuild_lockdown_and_efivar_formats() {
        assert_eq!(
            lockdown_mode("none [integrity] confidentiality\n").as_deref(),
            Some("integrity")
        );
        assert_eq!(
            lockdown_mode("[none] integrity confidentiality").as_deref(),
            Some("none")
        );
        assert_eq!(lockdown_mode("garbage"), None);
        assert_eq!(efivar_bool(&[0x06, 0, 0, 0, 1]), Some(true));
        assert_eq!(efivar_bool(&[0x06, 0, 0, 0, 0]), Some(false));
        assert_eq!(efivar_bool(&[0x06, 0, 0, 0]), None);
        assert_eq!(efivar_bool(&[1]), None);
    }

    #[test]
    fn kbuild_signature_from_the_end_of_a_module() {
        let mut signed = vec![0x7f, b'E', b'L', b'F', 1, 2, 3];
        signed.extend_from_slice(SIGNATURE_MAGIC);
        assert_eq!(signed_from_tail(&signed), Some(true));
        assert_eq!(signed_from_tail(b"\x7fELF section headers"), Some(false));
        assert_eq!(signed_from_tail(&[0; 64]), None);
    }
}
