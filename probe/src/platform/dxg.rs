//! WSL2's `/dev/dxg`: the host's GPU adapters, asked directly with the `dxgkrnl` ioctls.
//!
//! # Call sequence
//! 1. `open("/dev/dxg", O_RDWR)`.
//! 2. `LX_DXENUMADAPTERS3` with `filter = include_compute_only` and no buffer: the count.
//!    `ENUMADAPTERS2` is not used: newer kernels skip compute-only (MCDM) adapters there.
//! 3. `LX_DXENUMADAPTERS3` again with room for that many (at most 64) adapters; one retry when
//!    the kernel says `EOVERFLOW` (an adapter appeared in between).
//! 4. Per adapter: `LX_DXQUERYADAPTERINFO` for `ADAPTERTYPE`, `PHYSICALADAPTERDEVICEIDS`,
//!    `UMD_DRIVER_VERSION`, `ADAPTERADDRESS` and `ADAPTERREGISTRYINFO` (the replies have the
//!    Windows layouts); a failed query is noted and the next one is tried.
//! 5. `LX_DXCLOSEADAPTER` for every handle the enumeration opened, on every path.
//!
//! Replies are untrusted: counts are capped at [`D3DKMT_ADAPTERS_MAX`], a count larger than the
//! buffer is clipped to it, handle 0 is skipped, and UTF-16 names are decoded lossily up to the
//! first NUL with control characters dropped.
//!
//! The raw syscalls sit behind [`DxgDevice`] / [`DxgFile`]; the host implementation is
//! [`crate::sys::dxg::HostDxg`], the test one is `emu::EmuDxg`.

use bytemuck::Zeroable as _;
use nvprobe_abi::dxg::{
    ADAPTERREGISTRYINFO_CHARS, ADAPTERREGISTRYINFO_SIZE, ADAPTERTYPE_COMPUTE_ONLY,
    ADAPTERTYPE_DISPLAY_SUPPORTED, ADAPTERTYPE_PARAVIRTUALIZED, ADAPTERTYPE_RENDER_SUPPORTED,
    ADAPTERTYPE_SOFTWARE_DEVICE, D3DKMT_ADAPTERADDRESS, D3DKMT_ADAPTERS_MAX,
    D3DKMT_QUERY_DEVICE_IDS, D3DKMT_UMD_DRIVER_VERSION, ENUMADAPTERS_FILTER_INCLUDE_COMPUTE_ONLY,
    KMTQAITYPE_ADAPTERADDRESS, KMTQAITYPE_ADAPTERREGISTRYINFO, KMTQAITYPE_ADAPTERTYPE,
    KMTQAITYPE_PHYSICALADAPTERDEVICEIDS, KMTQAITYPE_UMD_DRIVER_VERSION, LX_DXCLOSEADAPTER,
    LX_DXENUMADAPTERS3, LX_DXQUERYADAPTERINFO, d3dkmt_adapterinfo, d3dkmt_closeadapter,
    d3dkmt_enumadapters3, d3dkmt_queryadapterinfo, d3dkmthandle,
};
use rustix::io::Errno;

use crate::ioctl::{NvDriver, NvFile, OpenError, OpenMode};
use crate::report::SourceStatus;

#[cfg(any(test, feature = "emulator"))]
#[cfg_attr(
    not(test),
    expect(
        clippy::indexing_slicing,
        reason = "test support (feature `emulator`): a bad index is a test bug"
    )
)]
pub mod emu;

/// The path of the device.
pub const DXG_PATH: &str = "/dev/dxg";

/// Opens `/dev/dxg`. Implemented by [`crate::sys::dxg::HostDxg`] and by the emulator.
pub trait DxgDevice: Send + Sync {
    /// Opens the device read-write.
    fn open(&self) -> Result<Box<dyn DxgFile>, OpenError>;
}

/// An open `/dev/dxg`: the raw ioctl boundary. Closing is `Drop`.
pub trait DxgFile: Send {
    /// `ioctl(fd, request, arg)`.
    ///
    /// `arg` is the argument struct's bytes (its length is `_IOC_SIZE(request)`). `data` is the
    /// memory the struct's embedded pointer points at: for `LX_DXENUMADAPTERS3` the adapter
    /// array (the implementation writes the pointer and caps `adapter_count` to the buffer), for
    /// `LX_DXQUERYADAPTERINFO` the reply buffer (the implementation writes the pointer and
    /// `private_data_size`). Callers leave those fields 0.
    ///
    /// # Errors
    /// The errno of the ioctl; `EOPNOTSUPP` for a request the implementation will not send.
    fn ioctl(&mut self, request: u32, arg: &mut [u8], data: Option<&mut [u8]>)
    -> Result<(), Errno>;
}

/// One adapter as `/dev/dxg` describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DxgAdapter {
    /// The adapter LUID (`a` low, `b` high).
    pub luid: (u32, u32),
    /// The `ADAPTERTYPE` bitfield.
    pub adapter_type: Option<u32>,
    /// PCI vendor, device, subsystem vendor, subsystem device.
    pub ids: Option<(u32, u32, u32, u32)>,
    /// The UMD driver version, four 16-bit words high to low.
    pub umd_version: Option<u64>,
    /// Host PCI bus, device, function (`None` when not on PCI).
    pub address: Option<(u32, u32, u32)>,
    /// The adapter's name from the host registry.
    pub name: Option<String>,
    /// Queries that failed, in words.
    pub problems: Vec<String>,
}

impl DxgAdapter {
    /// True for Microsoft's software renderer.
    pub fn is_software(&self) -> bool {
        self.adapter_type
            .is_some_and(|t| t & ADAPTERTYPE_SOFTWARE_DEVICE != 0)
    }

    /// The adapter type flags in words.
    pub fn flags(&self) -> Vec<String> {
        let Some(t) = self.adapter_type else {
            return Vec::new();
        };
        [
            (ADAPTERTYPE_RENDER_SUPPORTED, "render"),
            (ADAPTERTYPE_DISPLAY_SUPPORTED, "display"),
            (ADAPTERTYPE_SOFTWARE_DEVICE, "software"),
            (ADAPTERTYPE_PARAVIRTUALIZED, "paravirtualized"),
            (ADAPTERTYPE_COMPUTE_ONLY, "compute-only"),
        ]
        .into_iter()
        .filter(|(bit, _)| t & bit != 0)
        .map(|(_, name)| name.to_owned())
        .collect()
    }
}

/// What the dxg pass found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DxgOutcome {
    /// `ok`, `absent`, `denied`, `skipped` (not a character device), `failed`.
    pub status: SourceStatus,
    /// In words.
    pub detail: String,
    /// The adapters, in enumeration order.
    pub adapters: Vec<DxgAdapter>,
}

/// Formats a UMD driver version as the Windows file version `a.b.c.d`.
pub fn windows_version(v: u64) -> String {
    let w = |shift: u32| (v >> shift) & 0xFFFF;
    format!("{}.{}.{}.{}", w(48), w(32), w(16), w(0))
}

/// The NVIDIA version of a Windows driver file version: `32.0.15.6094` → `560.94`
/// (`(c − 10) × 10000 + d`, the last five digits with a dot before the last two). `None` when
/// the string is not a four-part version or the result is not a plausible NVIDIA version.
pub fn nvidia_version_of_windows(windows: &str) -> Option<String> {
    let parts: Vec<u32> = windows
        .trim()
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [_, _, c, d] = parts[..] else {
        return None;
    };
    if !(10..=19).contains(&c) || d > 9999 {
        return None;
    }
    let merged = (c - 10) * 10_000 + d;
    let (major, minor) = (merged / 100, merged % 100);
    (100..=999)
        .contains(&major)
        .then(|| format!("{major}.{minor:02}"))
}

/// The Linux branch family a Windows NVIDIA version belongs to: the branch numbers go in steps
/// of five (R560, R565, R570, ...), and the Windows releases of a branch use the numbers up to
/// the next one (`566.36` is R565, `596.36` is R595).
pub fn linux_branch_family(nvidia_version: &str) -> Option<u32> {
    let major: u32 = nvidia_version.split('.').next()?.parse().ok()?;
    Some(major - major % 5)
}

/// Decodes a fixed `WCHAR[n]` field: up to the first NUL, unpaired surrogates replaced, control
/// characters dropped, trimmed; `None` when nothing is left.
pub fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes(c.try_into().unwrap_or([0, 0])))
        .take_while(|&u| u != 0)
        .collect();
    let s: String = String::from_utf16_lossy(&units)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

fn errno_name(e: Errno) -> String {
    match e {
        Errno::INVAL => "EINVAL".to_owned(),
        Errno::ACCESS => "EACCES".to_owned(),
        Errno::PERM => "EPERM".to_owned(),
        Errno::NOENT => "ENOENT".to_owned(),
        Errno::OVERFLOW => "EOVERFLOW".to_owned(),
        Errno::FAULT => "EFAULT".to_owned(),
        Errno::NOTSUP => "EOPNOTSUPP".to_owned(),
        Errno::NOTTY => "ENOTTY".to_owned(),
        other => format!("errno {}", other.raw_os_error()),
    }
}

/// `LX_DXENUMADAPTERS3`: with `capacity == 0` the count only.
fn enumerate(
    f: &mut dyn DxgFile,
    capacity: usize,
) -> Result<(u32, Vec<d3dkmt_adapterinfo>), (Errno, u32)> {
    let mut arg = d3dkmt_enumadapters3::zeroed();
    arg.filter = ENUMADAPTERS_FILTER_INCLUDE_COMPUTE_ONLY;
    let mut items = vec![d3dkmt_adapterinfo::zeroed(); capacity];
    let r = {
        let data: &mut [u8] = bytemuck::cast_slice_mut(&mut items);
        let data = (capacity > 0).then_some(data);
        f.ioctl(LX_DXENUMADAPTERS3, bytemuck::bytes_of_mut(&mut arg), data)
    };
    match r {
        Ok(()) => {
            let n = arg.adapter_count;
            if capacity > 0 {
                // A count beyond the buffer is clipped: only `capacity` elements were written.
                items.truncate(capacity.min(n as usize));
            }
            Ok((n, items))
        }
        Err(e) => Err((e, arg.adapter_count)),
    }
}

/// `LX_DXQUERYADAPTERINFO` into `reply`.
fn query_info(
    f: &mut dyn DxgFile,
    handle: d3dkmthandle,
    type_: u32,
    reply: &mut [u8],
) -> Result<(), Errno> {
    let mut arg = d3dkmt_queryadapterinfo::zeroed();
    arg.adapter = handle;
    arg.type_ = type_;
    f.ioctl(
        LX_DXQUERYADAPTERINFO,
        bytemuck::bytes_of_mut(&mut arg),
        Some(reply),
    )
}

fn close(f: &mut dyn DxgFile, handle: d3dkmthandle) -> Result<(), Errno> {
    let mut arg = d3dkmt_closeadapter {
        adapter_handle: handle,
    };
    f.ioctl(LX_DXCLOSEADAPTER, bytemuck::bytes_of_mut(&mut arg), None)
}

fn describe(f: &mut dyn DxgFile, info: &d3dkmt_adapterinfo) -> DxgAdapter {
    let h = info.adapter_handle;
    let mut a = DxgAdapter {
        luid: (info.adapter_luid.a, info.adapter_luid.b),
        ..DxgAdapter::default()
    };
    let note = |a: &mut DxgAdapter, what: &str, e: Errno| {
        a.problems.push(format!("{what}: {}", errno_name(e)));
    };
    let mut ty = [0_u8; 4];
    match query_info(f, h, KMTQAITYPE_ADAPTERTYPE, &mut ty) {
        Ok(()) => a.adapter_type = Some(u32::from_le_bytes(ty)),
        Err(e) => note(&mut a, "ADAPTERTYPE", e),
    }
    let mut ids = D3DKMT_QUERY_DEVICE_IDS::zeroed();
    match query_info(
        f,
        h,
        KMTQAITYPE_PHYSICALADAPTERDEVICEIDS,
        bytemuck::bytes_of_mut(&mut ids),
    ) {
        Ok(()) => {
            let d = ids.device_ids;
            a.ids = Some((d.vendor_id, d.device_id, d.sub_vendor_id, d.sub_system_id));
        }
        Err(e) => note(&mut a, "PHYSICALADAPTERDEVICEIDS", e),
    }
    let mut umd = D3DKMT_UMD_DRIVER_VERSION::zeroed();
    match query_info(
        f,
        h,
        KMTQAITYPE_UMD_DRIVER_VERSION,
        bytemuck::bytes_of_mut(&mut umd),
    ) {
        Ok(()) if umd.driver_version != 0 => a.umd_version = Some(umd.driver_version),
        Ok(()) => a.problems.push("UMD_DRIVER_VERSION: 0".to_owned()),
        Err(e) => note(&mut a, "UMD_DRIVER_VERSION", e),
    }
    let mut addr = D3DKMT_ADAPTERADDRESS::zeroed();
    match query_info(
        f,
        h,
        KMTQAITYPE_ADAPTERADDRESS,
        bytemuck::bytes_of_mut(&mut addr),
    ) {
        Ok(()) if addr.function_number != 0xFFFF => {
            a.address = Some((addr.bus_number, addr.device_number, addr.function_number));
        }
        Ok(()) => {}
        Err(e) => note(&mut a, "ADAPTERADDRESS", e),
    }
    let mut reg = vec![0_u8; ADAPTERREGISTRYINFO_SIZE];
    match query_info(f, h, KMTQAITYPE_ADAPTERREGISTRYINFO, &mut reg) {
        Ok(()) => {
            a.name = decode_utf16(reg.get(..ADAPTERREGISTRYINFO_CHARS * 2).unwrap_or_default());
        }
        Err(e) => note(&mut a, "ADAPTERREGISTRYINFO", e),
    }
    a
}

/// Lists the host's adapters through `/dev/dxg` and closes every handle it opened.
pub fn query(dev: &dyn DxgDevice) -> DxgOutcome {
    let fail = |status, detail: String| DxgOutcome {
        status,
        detail,
        adapters: Vec::new(),
    };
    let mut f = match dev.open() {
        Ok(f) => f,
        Err(OpenError::NotCharDevice(what)) => {
            return fail(SourceStatus::Skipped, format!("{DXG_PATH}: {what}"));
        }
        Err(OpenError::Os(e)) => {
            let status = match e {
                Errno::NOENT => SourceStatus::Absent,
                Errno::ACCESS | Errno::PERM => SourceStatus::Denied,
                _ => SourceStatus::Failed,
            };
            return fail(status, format!("{DXG_PATH}: open: {}", errno_name(e)));
        }
    };
    let max = D3DKMT_ADAPTERS_MAX as usize;
    let mut notes = Vec::new();
    let count = match enumerate(f.as_mut(), 0) {
        Ok((n, _)) => n as usize,
        Err((e, _)) => {
            return fail(
                SourceStatus::Failed,
                format!("{DXG_PATH}: LX_DXENUMADAPTERS3 (count): {}", errno_name(e)),
            );
        }
    };
    if count > max {
        notes.push(format!(
            "the kernel reported {count} adapters; read the first {max}"
        ));
    }
    let mut want = count.min(max);
    let mut listed = Vec::new();
    for attempt in 0..2 {
        if want == 0 {
            break;
        }
        match enumerate(f.as_mut(), want) {
            Ok((_, items)) => {
                listed = items;
                break;
            }
            Err((Errno::OVERFLOW, needed)) if attempt == 0 => {
                want = (needed as usize).clamp(1, max);
            }
            Err((e, _)) => {
                return fail(
                    SourceStatus::Failed,
                    format!("{DXG_PATH}: LX_DXENUMADAPTERS3: {}", errno_name(e)),
                );
            }
        }
    }
    let mut adapters = Vec::new();
    let mut closed: Vec<u32> = Vec::new();
    for info in &listed {
        let h = info.adapter_handle;
        if h.v == 0 {
            notes.push("an adapter without a handle was skipped".to_owned());
            continue;
        }
        if closed.contains(&h.v) {
            continue;
        }
        adapters.push(describe(f.as_mut(), info));
        if let Err(e) = close(f.as_mut(), h) {
            notes.push(format!("LX_DXCLOSEADAPTER: {}", errno_name(e)));
        }
        closed.push(h.v);
    }
    let nvidia = adapters
        .iter()
        .filter(|a| a.ids.is_some_and(|i| i.0 == 0x10de))
        .count();
    let mut detail = format!("{DXG_PATH}: {} adapter(s), {nvidia} NVIDIA", adapters.len());
    for n in notes {
        detail.push_str("; ");
        detail.push_str(&n);
    }
    DxgOutcome {
        status: SourceStatus::Ok,
        detail,
        adapters,
    }
}

/// `/dev/dxg` served by an [`NvDriver`]: how a capture's recording or replaying driver, which
/// logs every open and ioctl by path, stands in for the device (`nvprobe capture` on WSL2, and
/// `--root` on such a bundle).
pub struct DxgViaNv<'a>(pub &'a dyn NvDriver);

impl DxgDevice for DxgViaNv<'_> {
    fn open(&self) -> Result<Box<dyn DxgFile>, OpenError> {
        let mode = OpenMode {
            write: true,
            nonblock: false,
        };
        Ok(Box::new(NvFileAsDxg(self.0.open(DXG_PATH, mode)?)))
    }
}

struct NvFileAsDxg(Box<dyn NvFile>);

impl DxgFile for NvFileAsDxg {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        data: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        self.0.ioctl(request, arg, data)
    }
}

/// An [`NvDriver`] that serves only `/dev/dxg`, from a [`DxgDevice`], so that the capture's
/// recording driver can log the `/dev/dxg` exchanges like those of the NVIDIA nodes.
pub struct NvViaDxg<D>(pub D);

impl<D: DxgDevice> NvDriver for NvViaDxg<D> {
    fn open(&self, path: &str, _mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        if path != DXG_PATH {
            return Err(OpenError::Os(Errno::NOENT));
        }
        Ok(Box::new(DxgFileAsNv(self.0.open()?)))
    }
}

struct DxgFileAsNv(Box<dyn DxgFile>);

impl NvFile for DxgFileAsNv {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        self.0.ioctl(request, arg, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dxg_windows_version_mapping() {
        assert_eq!(
            nvidia_version_of_windows("32.0.15.6094").as_deref(),
            Some("560.94")
        );
        assert_eq!(
            nvidia_version_of_windows("31.0.15.2657").as_deref(),
            Some("526.57")
        );
        assert_eq!(
            nvidia_version_of_windows("32.0.15.9636").as_deref(),
            Some("596.36")
        );
        assert_eq!(
            nvidia_version_of_windows("32.0.15.6603").as_deref(),
            Some("566.03")
        );
        assert_eq!(nvidia_version_of_windows("32.0.15"), None);
        assert_eq!(nvidia_version_of_windows("1.2.3.x"), None);
        assert_eq!(nvidia_version_of_windows("30.0.3.99999"), None);
        assert_eq!(linux_branch_family("560.94"), Some(560));
        assert_eq!(linux_branch_family("566.36"), Some(565));
        assert_eq!(linux_branch_family("596.36"), Some(595));
    }

    #[test]
    fn dxg_windows_version_from_umd_words() {
        let v = (32_u64 << 48) | (15 << 16) | 0x17ce;
        assert_eq!(windows_version(v), "32.0.15.6094");
    }

    #[test]
    fn dxg_utf16_is_decoded_defensively() {
        let mut b: Vec<u8> = "NVIDIA GeForce RTX 4070"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        b.extend([0, 0, b'x', 0]);
        assert_eq!(decode_utf16(&b).as_deref(), Some("NVIDIA GeForce RTX 4070"));
        // An unpaired surrogate, a control character, no NUL.
        let units = [0xD800_u16, u16::from(b'A'), 0x0007, u16::from(b'B')];
        let b: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(decode_utf16(&b).as_deref(), Some("\u{FFFD}AB"));
        assert_eq!(decode_utf16(&[0, 0, 65, 0]), None);
        assert_eq!(decode_utf16(&[65]), None, "an odd byte is dropped");
    }
}
