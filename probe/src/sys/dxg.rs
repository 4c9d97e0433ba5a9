//! The host side of WSL2's `/dev/dxg`: opening it and sending the three `dxgkrnl` ioctls the
//! probe uses (`LX_DXENUMADAPTERS3`, `LX_DXQUERYADAPTERINFO`, `LX_DXCLOSEADAPTER`).
//!
//! # Safety
//! `ioctl(2)` lets `dxgkrnl` read and write user memory at addresses taken from the argument
//! struct. [`HostDxgFile::ioctl`] only sends requests it can vouch for, checked by `prepare`
//! before the call:
//! - the request is one of the three above, whose encoded size equals the argument buffer's
//!   length, so the kernel's copy-in and copy-out of the struct stay inside it;
//! - `LX_DXENUMADAPTERS3`: this module writes the `adapters` pointer (offset 16) itself, from
//!   the caller's `data` slice (or 0 for the count-only call), and writes `adapter_count`
//!   (offset 8) as the number of whole 20-byte `d3dkmt_adapterinfo` elements the slice holds,
//!   at most 64; the kernel writes at most `adapter_count` elements;
//! - `LX_DXQUERYADAPTERINFO`: this module writes `private_data` (offset 8) from the `data`
//!   slice and `private_data_size` (offset 16) as its length (1 to 4096 bytes); the kernel
//!   copies at most `private_data_size` bytes back;
//! - `LX_DXCLOSEADAPTER` carries no pointer and takes no `data`;
//! - the fd is a character device opened by this module.
//!
//! Both buffers are exclusive borrows for the duration of the call, so no Rust reference
//! aliases the memory the kernel writes.
#![allow(unsafe_code)]

use std::os::fd::OwnedFd;

use nvprobe_abi::dxg::{
    D3DKMT_ADAPTERS_MAX, LX_DXCLOSEADAPTER, LX_DXENUMADAPTERS3, LX_DXQUERYADAPTERINFO,
    d3dkmt_adapterinfo, d3dkmt_closeadapter, d3dkmt_enumadapters3, d3dkmt_queryadapterinfo,
};
use rustix::fs::OFlags;
use rustix::io::Errno;

use crate::ioctl::OpenError;
use crate::platform::dxg::{DXG_PATH, DxgDevice, DxgFile};
use crate::root::Root;

/// The largest reply buffer the probe hands to `LX_DXQUERYADAPTERINFO`.
const MAX_REPLY: usize = 4096;

/// Opens `/dev/dxg` under a [`Root`]; a fixture's stand-in file is reported as
/// [`OpenError::NotCharDevice`] and never opened.
#[derive(Clone, Debug)]
pub struct HostDxg {
    root: Root,
}

impl HostDxg {
    /// The device under `root`.
    pub fn new(root: Root) -> Self {
        Self { root }
    }
}

impl DxgDevice for HostDxg {
    fn open(&self) -> Result<Box<dyn DxgFile>, OpenError> {
        let fd = super::open_device(&self.root, DXG_PATH, OFlags::RDWR)?;
        Ok(Box::new(HostDxgFile { fd }))
    }
}

/// An open `/dev/dxg`.
#[derive(Debug)]
pub struct HostDxgFile {
    fd: OwnedFd,
}

fn put_u32(arg: &mut [u8], off: usize, v: u32) -> Result<(), Errno> {
    super::write_at(arg, off, &v.to_ne_bytes())
}

fn put_u64(arg: &mut [u8], off: usize, v: u64) -> Result<(), Errno> {
    super::write_at(arg, off, &v.to_ne_bytes())
}

/// Checks a request against the module's `# Safety` rules and fills the embedded pointer and
/// size. Returns `EOPNOTSUPP` for anything else.
fn prepare(request: u32, arg: &mut [u8], data: Option<&mut [u8]>) -> Result<(), Errno> {
    let refuse = Err(Errno::NOTSUP);
    match request {
        LX_DXENUMADAPTERS3 if arg.len() == size_of::<d3dkmt_enumadapters3>() => {
            let (ptr, count) = match data {
                None => (0, 0),
                Some(d) => {
                    let elem = size_of::<d3dkmt_adapterinfo>();
                    let count = d.len() / elem;
                    if count == 0 || count > D3DKMT_ADAPTERS_MAX as usize {
                        return refuse;
                    }
                    (
                        d.as_mut_ptr() as u64,
                        u32::try_from(count).map_err(|_| Errno::NOTSUP)?,
                    )
                }
            };
            put_u32(arg, 8, count)?;
            put_u64(arg, 16, ptr)?;
            Ok(())
        }
        LX_DXQUERYADAPTERINFO if arg.len() == size_of::<d3dkmt_queryadapterinfo>() => {
            let Some(d) = data else { return refuse };
            if d.is_empty() || d.len() > MAX_REPLY {
                return refuse;
            }
            put_u64(arg, 8, d.as_mut_ptr() as u64)?;
            put_u32(arg, 16, u32::try_from(d.len()).map_err(|_| Errno::NOTSUP)?)?;
            Ok(())
        }
        LX_DXCLOSEADAPTER if arg.len() == size_of::<d3dkmt_closeadapter>() && data.is_none() => {
            Ok(())
        }
        _ => refuse,
    }
}

impl DxgFile for HostDxgFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        data: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        // `data` is borrowed from the caller for the whole of this call; the pointer `prepare`
        // derives from it stays valid until we return.
        prepare(request, arg, data)?;
        let raw = super::RawIoctl { request, arg };
        // SAFETY: `prepare` accepted the request: it is `_IOWR(0x47, nr, arg.len())` for one of
        // the three dxgkrnl ioctls above, so the kernel copies at most `arg.len()` bytes in and
        // out of `arg`; the one embedded pointer was written by `prepare` from `data`, which
        // stays exclusively borrowed (and alive) until this call returns, and the count or size
        // beside it bounds what the kernel writes through it. `self.fd` is an open character
        // device.
        unsafe { rustix::ioctl::ioctl(&self.fd, raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sys_dxg_prepare_fills_pointers_and_refuses_the_rest() {
        let mut e = [0_u8; 24];
        assert_eq!(prepare(LX_DXENUMADAPTERS3, &mut e, None), Ok(()));
        assert_eq!(&e[8..12], &0_u32.to_ne_bytes());
        // 3 whole elements and a stray byte: the count is 3.
        let mut items = vec![0_u8; 61];
        assert_eq!(
            prepare(LX_DXENUMADAPTERS3, &mut e, Some(&mut items)),
            Ok(())
        );
        assert_eq!(u32::from_ne_bytes(e[8..12].try_into().unwrap()), 3);
        assert_eq!(
            u64::from_ne_bytes(e[16..24].try_into().unwrap()),
            items.as_ptr() as u64
        );
        // More than 64 adapters, or less than one, is refused.
        let mut big = vec![0_u8; 20 * 65];
        assert_eq!(
            prepare(LX_DXENUMADAPTERS3, &mut e, Some(&mut big)),
            Err(Errno::NOTSUP)
        );
        let mut tiny = [0_u8; 19];
        assert_eq!(
            prepare(LX_DXENUMADAPTERS3, &mut e, Some(&mut tiny)),
            Err(Errno::NOTSUP)
        );
        // Queries need a reply buffer of 1..=4096 bytes.
        let mut q = [0_u8; 24];
        assert_eq!(
            prepare(LX_DXQUERYADAPTERINFO, &mut q, None),
            Err(Errno::NOTSUP)
        );
        let mut reply = [0_u8; 28];
        assert_eq!(
            prepare(LX_DXQUERYADAPTERINFO, &mut q, Some(&mut reply)),
            Ok(())
        );
        assert_eq!(u32::from_ne_bytes(q[16..20].try_into().unwrap()), 28);
        let mut huge = vec![0_u8; MAX_REPLY + 1];
        assert_eq!(
            prepare(LX_DXQUERYADAPTERINFO, &mut q, Some(&mut huge)),
            Err(Errno::NOTSUP)
        );
        // Close takes no data; wrong sizes and other requests are refused.
        let mut c = [0_u8; 4];
        assert_eq!(prepare(LX_DXCLOSEADAPTER, &mut c, None), Ok(()));
        assert_eq!(
            prepare(LX_DXCLOSEADAPTER, &mut c, Some(&mut [0_u8; 4])),
            Err(Errno::NOTSUP)
        );
        assert_eq!(
            prepare(LX_DXENUMADAPTERS3, &mut [0_u8; 16], None),
            Err(Errno::NOTSUP)
        );
        assert_eq!(
            prepare(nvprobe_abi::dxg::dxg_iowr(0x14, 16), &mut [0_u8; 16], None),
            Err(Errno::NOTSUP)
        );
    }

    #[test]
    fn sys_dxg_fixture_stand_in_is_skipped() {
        let dir = crate::testutil::Scratch::new("dxg");
        std::fs::create_dir_all(dir.join("dev")).unwrap();
        std::fs::write(dir.join("dev/dxg"), "type=char\n").unwrap();
        let out = crate::platform::dxg::query(&HostDxg::new(Root::at(&dir)));
        assert_eq!(out.status, crate::report::SourceStatus::Skipped);
        std::fs::remove_file(dir.join("dev/dxg")).unwrap();
        let out = crate::platform::dxg::query(&HostDxg::new(Root::at(&dir)));
        assert_eq!(out.status, crate::report::SourceStatus::Absent);
    }
}
