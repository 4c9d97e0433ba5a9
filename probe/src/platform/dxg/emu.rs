//! An emulated `/dev/dxg` for tests: it answers at the raw ioctl boundary ([`DxgDevice`] /
//! [`DxgFile`]) with the bytes `dxgkrnl` and the Windows host would write, keeps count of open
//! adapter handles (so tests can check that every one is closed), and can be hostile.

use std::sync::{Arc, Mutex, MutexGuard};

use nvprobe_abi::dxg::{
    ADAPTERREGISTRYINFO_SIZE, ADAPTERTYPE_COMPUTE_ONLY, ADAPTERTYPE_DISPLAY_SUPPORTED,
    ADAPTERTYPE_PARAVIRTUALIZED, ADAPTERTYPE_RENDER_SUPPORTED, ADAPTERTYPE_SOFTWARE_DEVICE,
    D3DKMT_ADAPTERS_MAX, ENUMADAPTERS_FILTER_INCLUDE_COMPUTE_ONLY, KMTQAITYPE_ADAPTERADDRESS,
    KMTQAITYPE_ADAPTERREGISTRYINFO, KMTQAITYPE_ADAPTERTYPE, KMTQAITYPE_PHYSICALADAPTERDEVICEIDS,
    KMTQAITYPE_UMD_DRIVER_VERSION, LX_DXCLOSEADAPTER, LX_DXENUMADAPTERS3, LX_DXQUERYADAPTERINFO,
};
use rustix::io::Errno;

use super::{DxgDevice, DxgFile};
use crate::ioctl::OpenError;

/// One emulated host adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuAdapter {
    /// LUID low part.
    pub luid: u32,
    /// `ADAPTERTYPE` bits (before `dxgkrnl` adds `paravirtualized`).
    pub adapter_type: u32,
    /// Vendor, device, subsystem vendor, subsystem device.
    pub ids: (u32, u32, u32, u32),
    /// UMD driver version, `a.b.c.d` as 16-bit words.
    pub umd: (u16, u16, u16, u16),
    /// Host PCI bus, device, function (`function = 0xFFFF`: not PCI).
    pub address: (u32, u32, u32),
    /// The raw UTF-16 units of the adapter string (no NUL needed).
    pub name: Vec<u16>,
}

impl EmuAdapter {
    /// A `GeForce` RTX 4070 (AD104, `0x2786`) on host bus 1, driver 32.0.15.6094 (560.94).
    pub fn rtx4070() -> Self {
        Self {
            luid: 0x0000_d1a5,
            adapter_type: ADAPTERTYPE_RENDER_SUPPORTED | ADAPTERTYPE_DISPLAY_SUPPORTED,
            ids: (0x10de, 0x2786, 0x1043, 0x8902),
            umd: (32, 0, 15, 6094),
            address: (1, 0, 0),
            name: "NVIDIA GeForce RTX 4070".encode_utf16().collect(),
        }
    }

    /// An H100 PCIe in MCDM (compute-only) mode on host bus 0x41, driver 32.0.15.7283
    /// (572.83).
    pub fn h100_mcdm() -> Self {
        Self {
            luid: 0x0001_2000,
            adapter_type: ADAPTERTYPE_RENDER_SUPPORTED | ADAPTERTYPE_COMPUTE_ONLY,
            ids: (0x10de, 0x2331, 0x10de, 0x1626),
            umd: (32, 0, 15, 7283),
            address: (0x41, 0, 0),
            name: "NVIDIA H100 PCIe".encode_utf16().collect(),
        }
    }

    /// Microsoft Basic Render Driver (software, not PCI).
    pub fn basic_render() -> Self {
        Self {
            luid: 0x0000_0100,
            adapter_type: ADAPTERTYPE_RENDER_SUPPORTED | ADAPTERTYPE_SOFTWARE_DEVICE,
            ids: (0x1414, 0x008c, 0, 0),
            umd: (10, 0, 26100, 1),
            address: (0, 0, 0xFFFF),
            name: "Microsoft Basic Render Driver".encode_utf16().collect(),
        }
    }

    /// An Intel iGPU.
    pub fn intel_igpu() -> Self {
        Self {
            luid: 0x0000_0200,
            adapter_type: ADAPTERTYPE_RENDER_SUPPORTED | ADAPTERTYPE_DISPLAY_SUPPORTED,
            ids: (0x8086, 0xa7a0, 0x1043, 0x1f2d),
            umd: (32, 0, 101, 6078),
            address: (0, 2, 0),
            name: "Intel(R) Iris(R) Xe Graphics".encode_utf16().collect(),
        }
    }
}

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DxgFault {
    /// `open` fails with this errno.
    Open(Errno),
    /// The count call reports this many adapters, whatever is there.
    Count(u32),
    /// The filled call reports this `adapter_count` (more than the buffer holds).
    FilledCount(u32),
    /// The first filled call says `EOVERFLOW` with one adapter more than asked.
    OverflowOnce,
    /// Every `QUERYADAPTERINFO` of this type fails with `EINVAL`.
    QueryFails(u32),
    /// Compute-only adapters are skipped unless the filter asks for them (newer kernels).
    HonourComputeOnlyFilter,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<String>,
    /// (handle, index into the adapter list).
    open_handles: Vec<(u32, usize)>,
    next_handle: u32,
    overflowed: bool,
    open_files: usize,
}

/// The emulated device.
#[derive(Clone, Debug)]
pub struct EmuDxg {
    adapters: Vec<EmuAdapter>,
    faults: Vec<DxgFault>,
    state: Arc<Mutex<State>>,
}

impl EmuDxg {
    /// A device listing `adapters`, with `faults`.
    pub fn new(adapters: Vec<EmuAdapter>, faults: Vec<DxgFault>) -> Self {
        Self {
            adapters,
            faults,
            state: Arc::new(Mutex::new(State {
                next_handle: 0x4000_0000,
                ..State::default()
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every call, in words.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Adapter handles opened and not closed.
    pub fn open_handles(&self) -> usize {
        self.lock().open_handles.len()
    }

    /// Open files.
    pub fn open_files(&self) -> usize {
        self.lock().open_files
    }
}

impl DxgDevice for EmuDxg {
    fn open(&self) -> Result<Box<dyn DxgFile>, OpenError> {
        for f in &self.faults {
            if let DxgFault::Open(e) = f {
                return Err(OpenError::Os(*e));
            }
        }
        self.lock().open_files += 1;
        Ok(Box::new(EmuDxgFile { dev: self.clone() }))
    }
}

/// An open emulated `/dev/dxg`.
#[derive(Debug)]
pub struct EmuDxgFile {
    dev: EmuDxg,
}

impl Drop for EmuDxgFile {
    fn drop(&mut self) {
        let mut s = self.dev.lock();
        s.open_files = s.open_files.saturating_sub(1);
        // Closing the file releases the process's adapters in the real kernel too, but the
        // probe must not rely on that: the count is kept so tests can see leaks.
    }
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

impl EmuDxgFile {
    fn visible(&self, filter: u64) -> Vec<(usize, &EmuAdapter)> {
        let honour = self.dev.faults.contains(&DxgFault::HonourComputeOnlyFilter);
        self.dev
            .adapters
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                !honour
                    || a.adapter_type & ADAPTERTYPE_COMPUTE_ONLY == 0
                    || filter & ENUMADAPTERS_FILTER_INCLUDE_COMPUTE_ONLY != 0
            })
            .collect()
    }

    fn enumerate(&self, arg: &mut [u8], data: Option<&mut [u8]>) -> Result<(), Errno> {
        let filter = u64::from_ne_bytes(arg[0..8].try_into().map_err(|_| Errno::INVAL)?);
        let list = self.visible(filter);
        let n = u32::try_from(list.len()).unwrap_or(u32::MAX);
        let mut s = self.dev.lock();
        let count_fault = self.dev.faults.iter().find_map(|f| match f {
            DxgFault::Count(c) => Some(*c),
            _ => None,
        });
        let Some(data) = data else {
            s.calls.push("ENUMADAPTERS3(count)".to_owned());
            arg[8..12].copy_from_slice(&count_fault.unwrap_or(n).to_ne_bytes());
            return Ok(());
        };
        let capacity = u32_at(arg, 8);
        s.calls.push(format!("ENUMADAPTERS3({capacity})"));
        if capacity > D3DKMT_ADAPTERS_MAX {
            return Err(Errno::INVAL);
        }
        if self.dev.faults.contains(&DxgFault::OverflowOnce) && !s.overflowed {
            s.overflowed = true;
            arg[8..12].copy_from_slice(&(capacity + 1).to_ne_bytes());
            return Err(Errno::OVERFLOW);
        }
        if capacity < n {
            arg[8..12].copy_from_slice(&n.to_ne_bytes());
            return Err(Errno::OVERFLOW);
        }
        for (i, (index, a)) in list.iter().enumerate() {
            let h = s.next_handle;
            s.next_handle += 0x40;
            s.open_handles.push((h, *index));
            let off = i * 20;
            let Some(slot) = data.get_mut(off..off + 20) else {
                break;
            };
            slot[0..4].copy_from_slice(&h.to_ne_bytes());
            slot[4..8].copy_from_slice(&a.luid.to_ne_bytes());
            slot[8..12].copy_from_slice(&0_u32.to_ne_bytes());
            slot[12..20].copy_from_slice(&[0; 8]);
        }
        let reported = self
            .dev
            .faults
            .iter()
            .find_map(|f| match f {
                DxgFault::FilledCount(c) => Some(*c),
                _ => None,
            })
            .unwrap_or(n);
        arg[8..12].copy_from_slice(&reported.to_ne_bytes());
        Ok(())
    }

    fn query(&self, arg: &[u8], data: Option<&mut [u8]>) -> Result<(), Errno> {
        let handle = u32_at(arg, 0);
        let ty = u32_at(arg, 4);
        let mut state = self.dev.lock();
        state.calls.push(format!("QUERYADAPTERINFO({ty})"));
        let Some(data) = data else {
            return Err(Errno::INVAL);
        };
        if data.is_empty() || u32_at(arg, 16) as usize != data.len() {
            return Err(Errno::INVAL);
        }
        let Some(&(_, index)) = state.open_handles.iter().find(|(h, _)| *h == handle) else {
            return Err(Errno::INVAL);
        };
        drop(state);
        if self.dev.faults.contains(&DxgFault::QueryFails(ty)) {
            return Err(Errno::INVAL);
        }
        let a = self.dev.adapters.get(index).ok_or(Errno::INVAL)?;
        let mut put = |bytes: &[u8]| -> Result<(), Errno> {
            if data.len() < bytes.len() {
                return Err(Errno::INVAL);
            }
            data[..bytes.len()].copy_from_slice(bytes);
            Ok(())
        };
        match ty {
            KMTQAITYPE_ADAPTERTYPE => {
                // dxgkrnl marks every adapter paravirtualized and clears display support.
                let t =
                    (a.adapter_type | ADAPTERTYPE_PARAVIRTUALIZED) & !ADAPTERTYPE_DISPLAY_SUPPORTED;
                put(&t.to_le_bytes())
            }
            KMTQAITYPE_PHYSICALADAPTERDEVICEIDS => {
                let mut b = [0_u8; 28];
                for (i, v) in [a.ids.0, a.ids.1, a.ids.2, a.ids.3, 0xa1, 0]
                    .iter()
                    .enumerate()
                {
                    b[4 + i * 4..8 + i * 4].copy_from_slice(&v.to_le_bytes());
                }
                put(&b)
            }
            KMTQAITYPE_UMD_DRIVER_VERSION => {
                let (major, minor, build, revision) = a.umd;
                let packed = (u64::from(major) << 48)
                    | (u64::from(minor) << 32)
                    | (u64::from(build) << 16)
                    | u64::from(revision);
                put(&packed.to_le_bytes())
            }
            KMTQAITYPE_ADAPTERADDRESS => {
                let mut b = [0_u8; 12];
                b[0..4].copy_from_slice(&a.address.0.to_le_bytes());
                b[4..8].copy_from_slice(&a.address.1.to_le_bytes());
                b[8..12].copy_from_slice(&a.address.2.to_le_bytes());
                put(&b)
            }
            KMTQAITYPE_ADAPTERREGISTRYINFO => {
                if data.len() < ADAPTERREGISTRYINFO_SIZE {
                    return Err(Errno::INVAL);
                }
                let bytes: Vec<u8> = a.name.iter().flat_map(|u| u.to_le_bytes()).collect();
                let n = bytes.len().min(520);
                data[..n].copy_from_slice(&bytes[..n]);
                Ok(())
            }
            _ => Err(Errno::INVAL),
        }
    }
}

impl DxgFile for EmuDxgFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        data: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        match request {
            LX_DXENUMADAPTERS3 if arg.len() == 24 => {
                // As `sys` does: the capacity is the number of whole elements in `data`.
                if let Some(d) = &data {
                    let n = d.len() / 20;
                    if n == 0 || n > D3DKMT_ADAPTERS_MAX as usize {
                        return Err(Errno::NOTSUP);
                    }
                    let n = u32::try_from(n).map_err(|_| Errno::NOTSUP)?;
                    arg[8..12].copy_from_slice(&n.to_ne_bytes());
                }
                self.enumerate(arg, data)
            }
            LX_DXQUERYADAPTERINFO if arg.len() == 24 => {
                // The implementation under test leaves the size to the boundary; do as sys does.
                if let Some(d) = &data {
                    let n = u32::try_from(d.len()).map_err(|_| Errno::INVAL)?;
                    arg[16..20].copy_from_slice(&n.to_ne_bytes());
                }
                self.query(arg, data)
            }
            LX_DXCLOSEADAPTER if arg.len() == 4 && data.is_none() => {
                let h = u32_at(arg, 0);
                let mut s = self.dev.lock();
                s.calls.push("CLOSEADAPTER".to_owned());
                match s.open_handles.iter().position(|&(x, _)| x == h) {
                    Some(i) => {
                        s.open_handles.remove(i);
                        Ok(())
                    }
                    None => Err(Errno::INVAL),
                }
            }
            _ => Err(Errno::NOTSUP),
        }
    }
}
