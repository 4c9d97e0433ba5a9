//! The typed values of the machine model. Each is parsed once, where a source reads it, and
//! serialises to exactly the text the wire format has always carried (`"580.65.06"`,
//! `"12.8"`, `"9.0"`, `"0x10de"`), so the JSON contract does not change while every reader
//! works with numbers instead of parsing strings back.
//!
//! Deserialising (a report read back, a capture) accepts only what the probe itself writes:
//! a value that does not parse is an error, never a guess.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A value's text did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    what: &'static str,
    text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}' is not {}", self.text, self.what)
    }
}

impl std::error::Error for ParseError {}

fn err(what: &'static str, text: &str) -> ParseError {
    // Bounded: an error message never carries a whole hostile file.
    ParseError {
        what,
        text: text.chars().take(64).collect(),
    }
}

/// Up to `max_digits` ASCII digits, nothing else, as a number.
fn number(s: &str, max_digits: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

macro_rules! text_serde {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(D::Error::custom)
            }
        }
    };
}

/// A CUDA version as `cuDriverGetVersion` reports it and the tables list it: `major.minor`
/// (`12.8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion {
    /// `12` of `12.8`.
    pub major: u32,
    /// `8` of `12.8`.
    pub minor: u32,
}

impl CudaVersion {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// The `major.minor` of a longer dotted version (`12.6.77` → `12.6`).
    pub fn of_dotted(v: &Version) -> Option<Self> {
        match v.parts() {
            [major, minor, ..] => Some(Self::new(*major, *minor)),
            _ => None,
        }
    }

    /// The integer `cuDriverGetVersion` returns (`12080` for 12.8).
    pub const fn as_int(self) -> u32 {
        self.major * 1000 + self.minor * 10
    }
}

impl FromStr for CudaVersion {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || err("a CUDA version such as 12.8", s);
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self::new(
            number(a, 4).ok_or_else(bad)?,
            number(b, 4).ok_or_else(bad)?,
        ))
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

text_serde!(CudaVersion);

/// A GPU's compute capability (`9.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    /// `9` of `9.0`.
    pub major: u32,
    /// `0` of `9.0`.
    pub minor: u32,
}

impl ComputeCapability {
    /// `major.minor`.
    pub const fn new(major: u32, minor: u32) -> Self {
        Self { major, minor }
    }

    /// `sm_90` style: `major * 10 + minor`.
    pub const fn sm(self) -> u32 {
        self.major * 10 + self.minor
    }
}

impl FromStr for ComputeCapability {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || err("a compute capability such as 8.6", s);
        let (a, b) = s.split_once('.').ok_or_else(bad)?;
        Ok(Self::new(
            number(a, 2).ok_or_else(bad)?,
            number(b, 2).ok_or_else(bad)?,
        ))
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

text_serde!(ComputeCapability);

/// A dotted release number as written (`580.65.06`, `560.94`, `12.6.77`): the text is kept
/// (zero padding is part of a driver's name: files are `libcuda.so.580.65.06`), and
/// comparisons use the numbers (`570.9` < `570.10`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    text: String,
    parts: [u32; 4],
    len: u8,
}

impl Version {
    /// The text, as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The numbers, 1 to 4 of them.
    pub fn parts(&self) -> &[u32] {
        self.parts.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// The first number: a driver's branch (`580`), a library's major.
    pub fn major(&self) -> u32 {
        self.parts[0]
    }

    /// Compares by the numbers, missing ones counting as 0 (`570.86` = `570.86.0`).
    pub fn cmp_numbers(&self, other: &Self) -> Ordering {
        self.parts.cmp(&other.parts)
    }

    /// `self >= other` by the numbers.
    pub fn at_least(&self, other: &Self) -> bool {
        self.cmp_numbers(other) != Ordering::Less
    }
}

impl FromStr for Version {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || err("a version such as 580.65.06", s);
        let mut parts = [0u32; 4];
        let mut len = 0u8;
        for (i, p) in s.split('.').enumerate() {
            let slot = parts.get_mut(i).ok_or_else(bad)?;
            *slot = number(p, 9).ok_or_else(bad)?;
            len += 1;
        }
        Ok(Self {
            text: s.to_owned(),
            parts,
            len,
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// By the numbers, then by the text, so that it agrees with `==`.
    fn cmp(&self, other: &Self) -> Ordering {
        self.cmp_numbers(other)
            .then_with(|| self.text.cmp(&other.text))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<str> for Version {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for Version {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

text_serde!(Version);

/// A PCI register value written as sysfs writes it: `0x` and `DIGITS` lowercase hex digits
/// (vendor and device ids: 4, class: 6, revision: 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciHex<const DIGITS: usize>(pub u32);

/// A vendor or device id (`0x10de`).
pub type PciId = PciHex<4>;
/// A class code (`0x030200`).
pub type PciClass = PciHex<6>;
/// A revision (`0xa1`).
pub type PciRevision = PciHex<2>;

impl PciHex<4> {
    /// NVIDIA's PCI vendor id.
    pub const NVIDIA: Self = Self(0x10de);
}

impl<const DIGITS: usize> PciHex<DIGITS> {
    /// The value as a 16-bit id (vendor and device ids always fit).
    pub fn as_u16(self) -> Option<u16> {
        u16::try_from(self.0).ok()
    }
}

impl<const DIGITS: usize> FromStr for PciHex<DIGITS> {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || err("a PCI value such as 0x10de", s);
        let hex = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .ok_or_else(bad)?;
        if hex.len() != DIGITS || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u32::from_str_radix(hex, 16).map(Self).map_err(|_| bad())
    }
}

impl<const DIGITS: usize> fmt::Display for PciHex<DIGITS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:0width$x}", self.0, width = DIGITS)
    }
}

impl<const DIGITS: usize> Serialize for PciHex<DIGITS> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de, const DIGITS: usize> Deserialize<'de> for PciHex<DIGITS> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

/// A value for a message: its text, or `?` when unknown.
pub trait OrUnknown {
    /// The value's text, or `?`.
    fn or_q(&self) -> String;
}

impl<T: fmt::Display> OrUnknown for Option<T> {
    fn or_q(&self) -> String {
        self.as_ref()
            .map_or_else(|| "?".to_owned(), ToString::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_their_wire_text() {
        for s in ["580.65.06", "560.94", "12.6.77", "470.161.03", "1"] {
            let v: Version = s.parse().unwrap();
            assert_eq!(v.to_string(), s);
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
        }
        for s in ["12.8", "13.0", "10.2"] {
            assert_eq!(s.parse::<CudaVersion>().unwrap().to_string(), s);
        }
        for s in ["9.0", "12.1", "1.3"] {
            assert_eq!(s.parse::<ComputeCapability>().unwrap().to_string(), s);
        }
        assert_eq!("0x10de".parse::<PciId>().unwrap(), PciHex(0x10de));
        assert_eq!(
            "0x030200".parse::<PciClass>().unwrap().to_string(),
            "0x030200"
        );
        assert_eq!("0xa1".parse::<PciRevision>().unwrap().to_string(), "0xa1");
        assert_eq!(PciId::from_str("0X10DE").unwrap().to_string(), "0x10de");
    }

    #[test]
    fn values_refuse_what_they_cannot_represent() {
        for s in [
            "",
            ".",
            "580.",
            "580..1",
            "580.65.06.1.2",
            "v580",
            "580.65-1",
            "1234567890",
        ] {
            assert!(s.parse::<Version>().is_err(), "{s}");
        }
        for s in ["12", "12.8.1", "x.y", "12.", "+1.2"] {
            assert!(s.parse::<CudaVersion>().is_err(), "{s}");
        }
        for s in ["9", "9.100", "100.0", "9.0.0"] {
            assert!(s.parse::<ComputeCapability>().is_err(), "{s}");
        }
        for s in ["10de", "0x10d", "0x10dee", "0xzzzz", ""] {
            assert!(s.parse::<PciId>().is_err(), "{s}");
        }
        assert!(serde_json::from_str::<Version>("\"580.x\"").is_err());
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        let v = |s: &str| s.parse::<Version>().unwrap();
        assert!(v("570.9").cmp_numbers(&v("570.10")).is_lt());
        assert!(v("570.86").cmp_numbers(&v("570.86.0")).is_eq());
        assert!(v("580.65.06").at_least(&v("580.65.6")));
        assert_eq!(v("580.65.06").major(), 580);
        assert!(CudaVersion::new(12, 10) > CudaVersion::new(12, 9));
        assert_eq!(CudaVersion::new(12, 8).as_int(), 12080);
    }
}

/// A machine's CPU architecture, for where its dynamic loader looks and which ELF files it
/// loads. Read from the model's `platform.arch` ([`crate::report::Report::cpu_arch`]), never
/// re-derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuArch {
    /// `x86_64`.
    X86_64,
    /// `aarch64` (SBSA servers, Jetson).
    Aarch64,
    /// `ppc64le` (POWER, which CUDA 12 still built for).
    Ppc64le,
    /// Anything else.
    Other,
}

/// nvprobe's own architecture, as `uname -m` spells it (`x86_64`, `aarch64`, `ppc64le`).
pub fn own_arch_name() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    }
}

impl CpuArch {
    /// nvprobe's own architecture.
    pub fn own() -> Self {
        Self::named(own_arch_name())
    }

    /// From `uname -m`'s name.
    pub fn named(name: &str) -> Self {
        match name {
            "x86_64" => Self::X86_64,
            "aarch64" => Self::Aarch64,
            "ppc64le" => Self::Ppc64le,
            _ => Self::Other,
        }
    }

    /// The name `check --binary` gives its ELF machine (`x86-64`, as `file` and cuobjdump
    /// write it), `None` for an architecture nvprobe has no ELF machine for.
    pub fn elf_name(self) -> Option<&'static str> {
        match self {
            Self::X86_64 => Some("x86-64"),
            Self::Aarch64 => Some("aarch64"),
            Self::Ppc64le => Some("ppc64le"),
            Self::Other => None,
        }
    }

    /// The Debian multiarch triplet of its library directories.
    pub fn triplet(self) -> &'static str {
        match self {
            Self::Aarch64 => "aarch64-linux-gnu",
            Self::Ppc64le => "powerpc64le-linux-gnu",
            Self::X86_64 | Self::Other => "x86_64-linux-gnu",
        }
    }

    /// The CUDA toolkit's target directory name (`targets/<this>`).
    pub fn cuda_target(self) -> &'static str {
        match self {
            Self::Aarch64 => "sbsa-linux",
            Self::Ppc64le => "ppc64le-linux",
            Self::X86_64 | Self::Other => "x86_64-linux",
        }
    }

    /// Its ELF `e_machine` (`EM_X86_64`, `EM_AARCH64`, `EM_PPC64`; `EM_NONE` for others).
    pub fn elf_machine(self) -> u16 {
        match self {
            Self::X86_64 => 62,
            Self::Aarch64 => 183,
            Self::Ppc64le => 21,
            Self::Other => 0,
        }
    }
}
