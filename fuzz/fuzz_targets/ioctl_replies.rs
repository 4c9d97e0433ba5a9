//! The ioctl path's decoding of driver replies: a driver whose every reply (the argument
//! struct, the RM status inside it, the control parameters, the errno) comes from the input,
//! on the default and the `--deep` path.
#![no_main]
use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use nvprobe::ioctl::{IoctlOptions, NvDriver, NvFile, OpenError, OpenMode, probe_ioctl};
use rustix::io::Errno;

/// The report the ioctl outcome is merged into: a machine with no files, built once.
fn base() -> &'static nvprobe::report::Report {
    static REPORT: std::sync::OnceLock<nvprobe::report::Report> = std::sync::OnceLock::new();
    REPORT.get_or_init(|| {
        nvprobe::probe(&nvprobe::Options::new(nvprobe::root::Root::at(
            "/nonexistent/nvprobe-fuzz",
        )))
    })
}

struct Input {
    data: Vec<u8>,
    at: usize,
}

impl Input {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at = self.at.saturating_add(1);
        b
    }

    fn fill(&mut self, out: &mut [u8]) {
        for b in out {
            *b = self.byte();
        }
    }
}

struct FuzzDriver(Arc<Mutex<Input>>);
struct FuzzFile(Arc<Mutex<Input>>);

impl NvDriver for FuzzDriver {
    fn open(&self, _path: &str, _mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        let mut input = self.0.lock().unwrap();
        match input.byte() % 8 {
            0 => Err(OpenError::Os(Errno::ACCESS)),
            1 => Err(OpenError::Os(Errno::NOENT)),
            _ => Ok(Box::new(FuzzFile(Arc::clone(&self.0)))),
        }
    }
}

impl NvFile for FuzzFile {
    fn ioctl(
        &mut self,
        _request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        let mut input = self.0.lock().unwrap();
        let how = input.byte();
        // Mostly keep the caller's bytes and overwrite a prefix, so the handles and status
        // fields the probe checks are sometimes consistent.
        let n = usize::from(input.byte()).min(arg.len());
        if how & 0x10 == 0 {
            input.fill(&mut arg[..n]);
        } else {
            input.fill(arg);
        }
        if let Some(p) = params {
            if how & 0x20 == 0 {
                let m = usize::from(input.byte()).min(p.len());
                input.fill(&mut p[..m]);
            } else {
                input.fill(p);
            }
        }
        match how % 8 {
            0 => Err(Errno::INVAL),
            1 => Err(Errno::AGAIN),
            2 => Err(Errno::IO),
            _ => Ok(()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let deep = data.first().is_some_and(|b| b & 1 == 1);
    let hint = data.get(1).is_some_and(|b| b & 1 == 1);
    let input = Arc::new(Mutex::new(Input {
        data: data.to_vec(),
        at: 2,
    }));
    let driver = FuzzDriver(Arc::clone(&input));
    let opts = IoctlOptions {
        deep,
        gvisor: false,
        version_hint: hint.then(|| "570.133.07".to_owned()),
        allow_strict_check: true,
    };
    let outcome = probe_ioctl(&driver, &opts);
    let mut report = base().clone();
    nvprobe::ioctl::merge_into(&mut report, &outcome);
    let _ = report.to_json();
});
