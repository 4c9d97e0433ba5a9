//! The RM session on `/dev/nvidiactl`: a root client, the objects allocated under it, controls,
//! and `Drop` that frees every handle on every path.

use bytemuck::{Pod, Zeroable as _};
use nvprobe_abi::NvStatus;
use nvprobe_abi::classes::NV01_ROOT_CLIENT;
use nvprobe_abi::nvos::{
    NVOS00_PARAMETERS, NVOS21_PARAMETERS, NVOS21_PARAMETERS_V515, NVOS54_PARAMETERS, REQ_RM_ALLOC,
    REQ_RM_CONTROL, REQ_RM_FREE,
};
use nvprobe_abi::types::NvHandle;
use rustix::io::Errno;

use super::NvFile;
use super::variant::Nvos21Layout;

/// How an RM escape failed: the ioctl itself (errno), or the RM status inside the struct.
/// The two are kept apart on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RmError {
    /// The ioctl returned -1 (wrong fd, wrong size, unknown escape, sandbox refusal).
    Os(Errno),
    /// The ioctl returned 0 and `status` was not `NV_OK`.
    Status(NvStatus),
}

impl RmError {
    pub(crate) fn describe(self) -> String {
        match self {
            Self::Os(e) => super::errno_name(e),
            Self::Status(s) => format!("status {s}"),
        }
    }

    pub(crate) fn is_wrong_params_size(self) -> bool {
        matches!(self, Self::Status(s) if s.is_wrong_params_size())
    }
}

/// Never a real status: written into NVOS21's status slot at 28 to see which layout the
/// driver used when the version is not known.
const SENTINEL: NvStatus = NvStatus(0xFFFF_FFFF);

/// A root client and the objects under it. Dropping it frees them, children first.
pub(crate) struct Rm<'f> {
    file: &'f mut dyn NvFile,
    layout: Option<Nvos21Layout>,
    client: NvHandle,
    /// (parent, handle), in allocation order.
    objects: Vec<(NvHandle, NvHandle)>,
}

impl<'f> Rm<'f> {
    /// Allocates a root client (`NV01_ROOT_CLIENT`, handle chosen by RM). With `layout` `None`
    /// the NVOS21 layout is detected from where the driver wrote the status.
    pub(crate) fn new(
        file: &'f mut dyn NvFile,
        layout: Option<Nvos21Layout>,
    ) -> Result<Self, RmError> {
        let mut rm = Self {
            file,
            layout,
            client: 0,
            objects: Vec::new(),
        };
        let client = rm.alloc_raw(0, 0, 0, NV01_ROOT_CLIENT, None)?;
        if client == 0 {
            // A client handle of 0 cannot be freed or used; treat it as a broken reply.
            return Err(RmError::Status(NvStatus::ERR_INVALID_CLIENT));
        }
        rm.client = client;
        Ok(rm)
    }

    /// The client handle.
    pub(crate) fn client(&self) -> NvHandle {
        self.client
    }

    fn alloc_raw(
        &mut self,
        root: NvHandle,
        parent: NvHandle,
        handle: NvHandle,
        class: u32,
        params: Option<&mut [u8]>,
    ) -> Result<NvHandle, RmError> {
        let params_size = params
            .as_ref()
            .map_or(0, |p| u32::try_from(p.len()).unwrap_or(0));
        match self.layout {
            Some(Nvos21Layout::V515) => {
                let mut a = NVOS21_PARAMETERS_V515::zeroed();
                a.h_root = root;
                a.h_object_parent = parent;
                a.h_object_new = handle;
                a.h_class = class;
                self.file
                    .ioctl(REQ_RM_ALLOC, bytemuck::bytes_of_mut(&mut a), params)
                    .map_err(RmError::Os)?;
                ok(a.status).map(|()| a.h_object_new)
            }
            Some(Nvos21Layout::V535) | None => {
                let mut a = NVOS21_PARAMETERS::zeroed();
                a.h_root = root;
                a.h_object_parent = parent;
                a.h_object_new = handle;
                a.h_class = class;
                a.params_size = params_size;
                a.status = SENTINEL;
                self.file
                    .ioctl(REQ_RM_ALLOC, bytemuck::bytes_of_mut(&mut a), params)
                    .map_err(RmError::Os)?;
                let status = if a.status == SENTINEL {
                    // The driver did not touch offset 28: the old layout, status at 24.
                    if self.layout.is_none() {
                        self.layout = Some(Nvos21Layout::V515);
                    }
                    NvStatus(a.params_size)
                } else {
                    if self.layout.is_none() {
                        self.layout = Some(Nvos21Layout::V535);
                    }
                    a.status
                };
                ok(status).map(|()| a.h_object_new)
            }
        }
    }

    /// Allocates `class` under `parent` with the caller's handle; remembered for freeing.
    pub(crate) fn alloc(
        &mut self,
        parent: NvHandle,
        handle: NvHandle,
        class: u32,
        params: Option<&mut [u8]>,
    ) -> Result<NvHandle, RmError> {
        let h = self.alloc_raw(self.client, parent, handle, class, params)?;
        if h != 0 {
            self.objects.push((parent, h));
        }
        Ok(h)
    }

    /// `NV_ESC_RM_CONTROL` with `P` as the parameters; `paramsSize` is `size_of::<P>()`.
    pub(crate) fn control<P: Pod>(
        &mut self,
        object: NvHandle,
        cmd: u32,
        params: &mut P,
    ) -> Result<(), RmError> {
        let mut c = NVOS54_PARAMETERS::zeroed();
        c.h_client = self.client;
        c.h_object = object;
        c.cmd = cmd;
        c.params_size = u32::try_from(size_of::<P>()).unwrap_or(u32::MAX);
        self.file
            .ioctl(
                REQ_RM_CONTROL,
                bytemuck::bytes_of_mut(&mut c),
                Some(bytemuck::bytes_of_mut(params)),
            )
            .map_err(RmError::Os)?;
        ok(c.status)
    }

    fn free_raw(&mut self, parent: NvHandle, handle: NvHandle) -> Result<(), RmError> {
        let mut f = NVOS00_PARAMETERS::zeroed();
        f.h_root = self.client;
        f.h_object_parent = parent;
        f.h_object_old = handle;
        self.file
            .ioctl(REQ_RM_FREE, bytemuck::bytes_of_mut(&mut f), None)
            .map_err(RmError::Os)?;
        ok(f.status)
    }

    /// Frees `handle` (and, in RM, its children) now; forgets it and everything allocated
    /// after it under it.
    pub(crate) fn free(&mut self, handle: NvHandle) -> Result<(), RmError> {
        let Some(pos) = self.objects.iter().position(|(_, h)| *h == handle) else {
            return Ok(());
        };
        // Children were allocated after their parent: free them first, newest first.
        let mut result = Ok(());
        while self.objects.len() > pos {
            if let Some((parent, h)) = self.objects.pop() {
                let r = self.free_raw(parent, h);
                if result.is_ok() {
                    result = r;
                }
            }
        }
        result
    }
}

impl Drop for Rm<'_> {
    fn drop(&mut self) {
        while let Some((parent, h)) = self.objects.pop() {
            let _ = self.free_raw(parent, h);
        }
        // Freeing the client frees anything left; closing the ctl fd would too.
        let _ = self.free_raw(self.client, self.client);
    }
}

fn ok(status: NvStatus) -> Result<(), RmError> {
    if status.is_ok() {
        Ok(())
    } else {
        Err(RmError::Status(status))
    }
}
