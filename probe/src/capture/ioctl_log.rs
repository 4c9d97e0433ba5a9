//! Recording and replaying the ioctl path: [`RecordingDriver`] wraps any [`NvDriver`] and logs
//! every open and every ioctl with the bytes sent and returned; [`ReplayDriver`] answers from
//! such a log, so a captured GPU machine (gVisor included) replays its ioctl source too.
//!
//! # The log (`DIR/.nvprobe/ioctl.json`, format `nvprobe-ioctl/1`)
//! ```json
//! { "format": "nvprobe-ioctl/1",
//!   "events": [
//!     { "op": "open", "path": "/dev/nvidiactl", "write": false, "nonblock": false, "file": 0 },
//!     { "op": "open", "path": "/dev/nvidia0", "write": false, "nonblock": true,
//!       "errno": 13, "error": "EACCES" },
//!     { "op": "open", "path": "/dev/nvidiactl", "write": false, "nonblock": false,
//!       "not_char_device": "not a character device (fixture)" },
//!     { "op": "ioctl", "file": 0, "request": "0xc0484600", "what": "NV_ESC_CHECK_VERSION_STR",
//!       "arg_in": "01000000…", "arg_out": "01000000…",
//!       "params_in": null, "params_out": null, "errno": null, "error": null } ] }
//! ```
//! Byte buffers are lowercase hex. `file` numbers the files opened successfully, in order.
//! `arg_in`/`params_in` are what the probe passed, `arg_out`/`params_out` what came back
//! (written even when the ioctl failed, as the kernel may). For `NV_ESC_RM_CONTROL` and
//! `NV_ESC_RM_ALLOC` the embedded pointer (offset 16, 8 bytes) is zeroed in both, so a log does
//! not depend on addresses. `what` and `error` are for people; replay reads `request` and
//! `errno`.
//!
//! # Replay
//! An open is matched by (path, write, nonblock), an ioctl by (file, request, `arg_in`,
//! `params_in`), each taking the first unused matching event, or the last used one when all
//! were used. What matches nothing is answered as absent from the capture: an open as
//! "not in the capture" (the ioctl source is then `skipped`), an ioctl with `EOPNOTSUPP`; both
//! are counted in [`ReplayDriver::misses`].

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use nvprobe_abi::escape::{NV_ESC_RM_ALLOC, NV_ESC_RM_CONTROL, escape_name, ioc_nr};
use rustix::io::Errno;
use serde::{Deserialize, Serialize};

use crate::ioctl::{NvDriver, NvFile, OpenError, OpenMode, errno_from_raw, errno_name};

/// The `format` of the log.
pub const IOCTL_FORMAT: &str = "nvprobe-ioctl/1";

/// Where the embedded pointer of NVOS21/NVOS54 lies.
const POINTER: std::ops::Range<usize> = 16..24;

/// A whole log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoctlLog {
    /// [`IOCTL_FORMAT`].
    pub format: String,
    /// Opens and ioctls in the order they happened.
    pub events: Vec<Event>,
}

impl Default for IoctlLog {
    fn default() -> Self {
        Self {
            format: IOCTL_FORMAT.to_owned(),
            events: Vec::new(),
        }
    }
}

/// One open or ioctl.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Event {
    /// `open(path)`.
    Open {
        /// The machine path.
        path: String,
        /// `O_RDWR`.
        write: bool,
        /// `O_NONBLOCK`.
        nonblock: bool,
        /// The file's number when the open succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<u32>,
        /// The errno when `open(2)` failed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errno: Option<i32>,
        /// The errno's name, for people.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// Not a character device: what it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_char_device: Option<String>,
    },
    /// `ioctl(file, request, arg)`.
    Ioctl {
        /// The file's number.
        file: u32,
        /// The request number, `0x…`.
        request: String,
        /// The escape (and control command or class), for people.
        what: String,
        /// The argument as sent.
        arg_in: String,
        /// The parameters as sent.
        params_in: Option<String>,
        /// The argument as returned.
        arg_out: String,
        /// The parameters as returned.
        params_out: Option<String>,
        /// The errno when the ioctl failed.
        errno: Option<i32>,
        /// The errno's name, for people.
        error: Option<String>,
    },
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses lowercase or uppercase hex; `None` for anything else (a sign too, which
/// `u8::from_str_radix` would take).
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let (pairs, rest) = s.as_bytes().as_chunks::<2>();
    if !rest.is_empty() {
        return None;
    }
    pairs
        .iter()
        .map(|&[hi, lo]| Some((nibble(hi)? << 4) | nibble(lo)?))
        .collect()
}

fn has_pointer(request: u32) -> bool {
    matches!(ioc_nr(request), NV_ESC_RM_CONTROL | NV_ESC_RM_ALLOC)
}

/// The argument with its embedded pointer zeroed (for the escapes that have one).
fn masked(request: u32, arg: &[u8]) -> Vec<u8> {
    let mut v = arg.to_vec();
    if has_pointer(request)
        && let Some(p) = v.get_mut(POINTER)
    {
        p.fill(0);
    }
    v
}

fn describe(request: u32, arg: &[u8]) -> String {
    let nr = ioc_nr(request);
    let word = |off: usize| {
        arg.get(off..off + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
    };
    let mut s = escape_name(nr).to_owned();
    if nr == NV_ESC_RM_CONTROL
        && let Some(cmd) = word(8)
    {
        let name = nvprobe_abi::ctrl::command_name(cmd)
            .map_or_else(|| format!("{cmd:#010x}"), str::to_owned);
        let _ = write!(s, " {name}");
    } else if nr == NV_ESC_RM_ALLOC
        && let Some(class) = word(12)
    {
        let _ = write!(s, " class {class:#x}");
    }
    s
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// Recording.

/// Wraps a driver and logs what goes through it. Clones share the log.
#[derive(Clone)]
pub struct RecordingDriver {
    inner: Arc<dyn NvDriver>,
    log: Arc<Mutex<IoctlLog>>,
}

impl std::fmt::Debug for RecordingDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingDriver")
            .field("events", &lock(&self.log).events.len())
            .finish_non_exhaustive()
    }
}

impl RecordingDriver {
    /// Records what `inner` does.
    pub fn new(inner: Arc<dyn NvDriver>) -> Self {
        Self {
            inner,
            log: Arc::new(Mutex::new(IoctlLog::default())),
        }
    }

    /// The log so far.
    pub fn log(&self) -> IoctlLog {
        lock(&self.log).clone()
    }
}

impl NvDriver for RecordingDriver {
    fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        let r = self.inner.open(path, mode);
        let mut log = lock(&self.log);
        let next = log
            .events
            .iter()
            .filter(|e| matches!(e, Event::Open { file: Some(_), .. }))
            .count();
        let next = u32::try_from(next).unwrap_or(u32::MAX);
        let (file, errno, error, not_char_device) = match &r {
            Ok(_) => (Some(next), None, None, None),
            Err(OpenError::Os(e)) => (None, Some(e.raw_os_error()), Some(errno_name(*e)), None),
            Err(OpenError::NotCharDevice(what)) => (None, None, None, Some(what.clone())),
        };
        log.events.push(Event::Open {
            path: path.to_owned(),
            write: mode.write,
            nonblock: mode.nonblock,
            file,
            errno,
            error,
            not_char_device,
        });
        drop(log);
        r.map(|inner| -> Box<dyn NvFile> {
            Box::new(RecordingFile {
                inner,
                file: next,
                log: Arc::clone(&self.log),
            })
        })
    }
}

struct RecordingFile {
    inner: Box<dyn NvFile>,
    file: u32,
    log: Arc<Mutex<IoctlLog>>,
}

impl NvFile for RecordingFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        mut params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        let arg_in = masked(request, arg);
        let params_in = params.as_deref().map(to_hex);
        let r = self.inner.ioctl(request, arg, params.as_deref_mut());
        let event = Event::Ioctl {
            file: self.file,
            request: format!("{request:#010x}"),
            what: describe(request, &arg_in),
            arg_in: to_hex(&arg_in),
            params_in,
            arg_out: to_hex(&masked(request, arg)),
            params_out: params.as_deref().map(to_hex),
            errno: r.err().map(Errno::raw_os_error),
            error: r.err().map(errno_name),
        };
        lock(&self.log).events.push(event);
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Replay.

#[derive(Debug)]
struct OpenRecord {
    path: String,
    mode: OpenMode,
    result: Result<u32, OpenError>,
    used: bool,
}

#[derive(Debug)]
struct IoctlRecord {
    file: u32,
    request: u32,
    arg_in: Vec<u8>,
    params_in: Option<Vec<u8>>,
    arg_out: Vec<u8>,
    params_out: Option<Vec<u8>>,
    errno: Option<Errno>,
    used: bool,
}

#[derive(Debug, Default)]
struct ReplayState {
    opens: Vec<OpenRecord>,
    ioctls: Vec<IoctlRecord>,
    misses: Vec<String>,
    replayed: usize,
}

/// Answers opens and ioctls from a log. Clones share the state.
#[derive(Clone, Debug)]
pub struct ReplayDriver {
    state: Arc<Mutex<ReplayState>>,
}

/// Takes the first unused match, else the last used one.
fn pick<T>(
    items: &mut [T],
    matches: impl Fn(&T) -> bool,
    used: impl Fn(&mut T) -> &mut bool,
) -> Option<usize> {
    let mut last = None;
    for (i, item) in items.iter_mut().enumerate() {
        if !matches(item) {
            continue;
        }
        let u = used(item);
        if !*u {
            *u = true;
            return Some(i);
        }
        last = Some(i);
    }
    last
}

impl ReplayDriver {
    /// A replay of `log`.
    ///
    /// # Errors
    /// A log of another format, or a malformed event (bad hex, bad request number), in words.
    pub fn new(log: &IoctlLog) -> Result<Self, String> {
        if log.format != IOCTL_FORMAT {
            return Err(format!(
                "ioctl log format {:?}, expected {IOCTL_FORMAT:?}",
                log.format
            ));
        }
        let mut state = ReplayState::default();
        let hex = |s: &str, i: usize| from_hex(s).ok_or_else(|| format!("event {i}: bad hex"));
        let to_errno = |e: i32, i: usize| {
            errno_from_raw(e).ok_or_else(|| format!("event {i}: errno {e} is not a Linux errno"))
        };
        for (i, e) in log.events.iter().enumerate() {
            match e {
                Event::Open {
                    path,
                    write,
                    nonblock,
                    file,
                    errno,
                    not_char_device,
                    ..
                } => {
                    let result = match (file, errno, not_char_device) {
                        (Some(f), _, _) => Ok(*f),
                        (None, Some(e), _) => Err(OpenError::Os(to_errno(*e, i)?)),
                        (None, None, Some(what)) => Err(OpenError::NotCharDevice(what.clone())),
                        (None, None, None) => {
                            return Err(format!("event {i}: an open with no result"));
                        }
                    };
                    state.opens.push(OpenRecord {
                        path: path.clone(),
                        mode: OpenMode {
                            write: *write,
                            nonblock: *nonblock,
                        },
                        result,
                        used: false,
                    });
                }
                Event::Ioctl {
                    file,
                    request,
                    arg_in,
                    params_in,
                    arg_out,
                    params_out,
                    errno,
                    ..
                } => {
                    let request = request
                        .strip_prefix("0x")
                        .and_then(|r| u32::from_str_radix(r, 16).ok())
                        .ok_or_else(|| format!("event {i}: bad request {request:?}"))?;
                    let arg_in = hex(arg_in, i)?;
                    let arg_out = hex(arg_out, i)?;
                    if arg_in.len() != arg_out.len() {
                        return Err(format!("event {i}: arg_in and arg_out differ in length"));
                    }
                    let params_in = params_in.as_deref().map(|p| hex(p, i)).transpose()?;
                    let params_out = params_out.as_deref().map(|p| hex(p, i)).transpose()?;
                    state.ioctls.push(IoctlRecord {
                        file: *file,
                        request,
                        arg_in,
                        params_in,
                        arg_out,
                        params_out,
                        errno: errno.map(|e| to_errno(e, i)).transpose()?,
                        used: false,
                    });
                }
            }
        }
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// Requests the log had no answer for, in words.
    pub fn misses(&self) -> Vec<String> {
        lock(&self.state).misses.clone()
    }

    /// How many opens and ioctls were answered from the log.
    pub fn replayed(&self) -> usize {
        lock(&self.state).replayed
    }
}

impl NvDriver for ReplayDriver {
    fn open(&self, path: &str, mode: OpenMode) -> Result<Box<dyn NvFile>, OpenError> {
        let mut s = lock(&self.state);
        let Some(i) = pick(
            &mut s.opens,
            |o| o.path == path && o.mode == mode,
            |o| &mut o.used,
        ) else {
            s.misses.push(format!("open {path}"));
            return Err(OpenError::NotCharDevice(
                "not in the capture (replay)".to_owned(),
            ));
        };
        s.replayed += 1;
        match s.opens.get(i).map(|o| o.result.clone()) {
            Some(Ok(file)) => Ok(Box::new(ReplayFile {
                state: Arc::clone(&self.state),
                file,
            })),
            Some(Err(e)) => Err(e),
            None => Err(OpenError::NotCharDevice(
                "not in the capture (replay)".to_owned(),
            )),
        }
    }
}

struct ReplayFile {
    state: Arc<Mutex<ReplayState>>,
    file: u32,
}

impl NvFile for ReplayFile {
    fn ioctl(
        &mut self,
        request: u32,
        arg: &mut [u8],
        params: Option<&mut [u8]>,
    ) -> Result<(), Errno> {
        let arg_in = masked(request, arg);
        let mut s = lock(&self.state);
        let file = self.file;
        let found = pick(
            &mut s.ioctls,
            |r| {
                r.file == file
                    && r.request == request
                    && r.arg_in == arg_in
                    && r.params_in.as_deref() == params.as_deref()
            },
            |r| &mut r.used,
        );
        let Some(i) = found else {
            let what = describe(request, &arg_in);
            s.misses.push(format!("ioctl {what}"));
            return Err(Errno::NOTSUP);
        };
        // A log whose reply has another length than the request (a damaged or hand-edited
        // bundle) is a miss, never a panic.
        if s.ioctls.get(i).is_none_or(|r| r.arg_out.len() != arg.len()) {
            let what = describe(request, &arg_in);
            s.misses
                .push(format!("ioctl {what} (reply of the wrong size)"));
            return Err(Errno::NOTSUP);
        }
        s.replayed += 1;
        let Some(r) = s.ioctls.get(i) else {
            return Err(Errno::NOTSUP);
        };
        arg.copy_from_slice(&r.arg_out);
        if let (Some(p), Some(out)) = (params, &r.params_out)
            && p.len() == out.len()
        {
            p.copy_from_slice(out);
        }
        match r.errno {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_hex_round_trip() {
        assert_eq!(to_hex(&[0, 0xab, 0x10]), "00ab10");
        assert_eq!(from_hex("00ab10"), Some(vec![0, 0xab, 0x10]));
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(from_hex("+f"), None);
        assert_eq!(from_hex("-1"), None);
        assert_eq!(from_hex("é0"), None);
        assert_eq!(from_hex("FfA0"), Some(vec![0xff, 0xa0]));
        assert_eq!(from_hex(""), Some(vec![]));
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(from_hex(&to_hex(&all)), Some(all));
    }

    #[test]
    fn capture_pointer_is_masked() {
        let req = nvprobe_abi::nvos::REQ_RM_CONTROL;
        let mut a = [0xFF_u8; 32];
        a[..16].fill(1);
        let m = masked(req, &a);
        assert_eq!(&m[16..24], &[0; 8]);
        assert_eq!(&m[..16], &[1; 16]);
        let other = masked(nvprobe_abi::frontend::REQ_CHECK_VERSION_STR, &a);
        assert_eq!(other, a.to_vec());
    }

    /// Errnos that Linux never returns are refused when the log is loaded, naming the event.
    // See: 11
    #[test]
    fn r11_replay_refuses_errnos_out_of_range() {
        let open = |errno| Event::Open {
            path: "/dev/nvidiactl".to_owned(),
            write: false,
            nonblock: false,
            file: None,
            errno: Some(errno),
            error: None,
            not_char_device: None,
        };
        let ioctl = |errno| Event::Ioctl {
            file: 0,
            request: "0xc00846d6".to_owned(),
            what: "NV_ESC_SYS_PARAMS".to_owned(),
            arg_in: "00".to_owned(),
            params_in: None,
            arg_out: "00".to_owned(),
            params_out: None,
            errno: Some(errno),
            error: None,
        };
        let load = |events| {
            ReplayDriver::new(&IoctlLog {
                format: IOCTL_FORMAT.to_owned(),
                events,
            })
        };
        for bad in [0, -1, 4096, i32::MIN, i32::MAX] {
            let err = load(vec![open(bad)]).unwrap_err();
            assert_eq!(err, format!("event 0: errno {bad} is not a Linux errno"));
            let err = load(vec![open(13), ioctl(bad)]).unwrap_err();
            assert_eq!(err, format!("event 1: errno {bad} is not a Linux errno"));
        }
        for good in [1, 13, 4095] {
            assert!(load(vec![open(good), ioctl(good)]).is_ok(), "{good}");
        }
        assert_eq!(errno_from_raw(13), Some(Errno::ACCESS));
        assert_eq!(errno_from_raw(4095).map(Errno::raw_os_error), Some(4095));
    }

    /// A damaged or hand-edited bundle: a recorded reply shorter than its request is refused
    /// when the log is loaded (and the replay would count it as a miss, never copy it).
    // See: 10
    #[test]
    fn r10_replay_reply_of_the_wrong_size_is_a_miss() {
        let log = IoctlLog {
            format: IOCTL_FORMAT.to_owned(),
            events: vec![
                Event::Open {
                    path: "/dev/nvidiactl".to_owned(),
                    write: false,
                    nonblock: false,
                    file: Some(0),
                    errno: None,
                    error: None,
                    not_char_device: None,
                },
                Event::Ioctl {
                    file: 0,
                    request: "0xc00846d6".to_owned(),
                    what: "NV_ESC_SYS_PARAMS".to_owned(),
                    arg_in: "0000000000000000".to_owned(),
                    params_in: None,
                    arg_out: "0102".to_owned(),
                    params_out: None,
                    errno: None,
                    error: None,
                },
            ],
        };
        let err = ReplayDriver::new(&log).unwrap_err();
        assert!(err.contains("differ in length"), "{err}");
    }
}
