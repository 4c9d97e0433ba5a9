//! `NVPROBE_DRIVER_VERSION`, `NVPROBE_CUDA_VERSION`, `NVPROBE_COMPUTE_CAPABILITY`: values for
//! build hosts without a GPU (the `CONDA_OVERRIDE_CUDA` idea). A set override replaces
//! detection and is reported as `override-used`; a malformed one is ignored and reported as
//! `override-invalid`. An empty variable counts as unset.

use crate::Env;
use crate::report::{
    CcSource, ComputeCapability, CudaVersion, Driver, DriverSource, Finding, Flavor, Gpu, Report,
    Severity, Version,
};
use crate::tables;

use super::{OVERRIDE_INVALID, OVERRIDE_USED};

/// The driver version variable.
pub const DRIVER_VAR: &str = "NVPROBE_DRIVER_VERSION";
/// The CUDA version variable.
pub const CUDA_VAR: &str = "NVPROBE_CUDA_VERSION";
/// The compute capability variable.
pub const CC_VAR: &str = "NVPROBE_COMPUTE_CAPABILITY";

/// The valid overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// A driver version such as `550.54.15`.
    pub driver: Option<Version>,
    /// A CUDA version, normalised to `major.minor`.
    pub cuda: Option<CudaVersion>,
    /// A compute capability `major.minor`.
    pub compute_capability: Option<ComputeCapability>,
}

fn digits(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
}

/// `550.54.15`, `570.26`: two or three numeric parts, a branch of at least 100.
pub fn parse_driver(v: &str) -> Option<Version> {
    let parts: Vec<&str> = v.split('.').collect();
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| digits(p, 4)) {
        return None;
    }
    let version: Version = v.parse().ok()?;
    (version.major() >= 100).then_some(version)
}

/// `12.4`, `12` (→ `12.0`), `12.4.1` (→ `12.4`).
pub fn parse_cuda(v: &str) -> Option<CudaVersion> {
    let parts: Vec<&str> = v.split('.').collect();
    if parts.is_empty() || parts.len() > 3 || !parts.iter().all(|p| digits(p, 3)) {
        return None;
    }
    let major: u32 = parts.first()?.parse().ok()?;
    let minor: u32 = parts.get(1).map_or(Some(0), |m| m.parse().ok())?;
    (major > 0).then_some(CudaVersion::new(major, minor))
}

/// `8.6`, `12.0`.
pub fn parse_cc(v: &str) -> Option<ComputeCapability> {
    let (a, b) = v.split_once('.')?;
    if !digits(a, 2) || !digits(b, 2) {
        return None;
    }
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a > 0).then_some(ComputeCapability::new(a, b))
}

/// One override variable: its parsed value, or a note in `bad` when it is malformed.
fn take<T>(
    env: &Env,
    bad: &mut Vec<(String, String)>,
    var: &str,
    parse: fn(&str) -> Option<T>,
    expect: &str,
) -> Option<T> {
    let raw = env.get(var)?.trim();
    if raw.is_empty() {
        return None;
    }
    let v = parse(raw);
    if v.is_none() {
        let shown: String = raw.chars().take(40).collect();
        bad.push((
            format!("{var}={shown:?} is not {expect}"),
            format!("set {var} to {expect}, or unset it"),
        ));
    }
    v
}

/// The overrides as read from the environment and, once [`apply`] has put them into the
/// model, what each replaced: the facts [`findings`] words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Read {
    /// The valid overrides.
    pub values: Overrides,
    /// Each malformed variable: what is wrong with it, and the fix.
    pub invalid: Vec<(String, String)>,
    /// What each override did to the model, in words (filled by [`apply`]).
    pub said: Vec<String>,
    /// An override stands for a driver or GPU nothing detected (filled by [`apply`]).
    pub stands_in: bool,
}

impl Overrides {
    /// Whether any override is set.
    pub fn any(&self) -> bool {
        self.driver.is_some() || self.cuda.is_some() || self.compute_capability.is_some()
    }
}

/// Reads the variables; a malformed value is recorded in `invalid` (and ignored).
pub fn read(env: &Env) -> Read {
    let mut o = Overrides::default();
    let mut bad = Vec::new();
    o.driver = take(
        env,
        &mut bad,
        DRIVER_VAR,
        parse_driver,
        "a driver version such as 550.54.15",
    );
    o.cuda = take(
        env,
        &mut bad,
        CUDA_VAR,
        parse_cuda,
        "a CUDA version such as 12.4",
    );
    o.compute_capability = take(
        env,
        &mut bad,
        CC_VAR,
        parse_cc,
        "a compute capability such as 8.6",
    );
    Read {
        values: o,
        invalid: bad,
        ..Read::default()
    }
}

/// The rule: `override-invalid` for malformed variables (one finding for all), and
/// `override-used` for what the overrides replaced; an override that stands for a GPU or
/// driver nothing detected takes back `no-nvidia-gpu`.
pub fn findings(read: &Read, found: &mut Vec<Finding>) {
    if !read.invalid.is_empty() {
        let (what, fix): (Vec<&str>, Vec<&str>) = read
            .invalid
            .iter()
            .map(|(w, f)| (w.as_str(), f.as_str()))
            .unzip();
        let mut fix = fix.join("; ");
        if let Some(c) = fix.get_mut(..1) {
            c.make_ascii_uppercase();
        }
        found.push(Finding::new(
            OVERRIDE_INVALID,
            Severity::Warning,
            format!("{}; ignored, detection was used instead.", what.join("; ")),
            format!("{fix}."),
        ));
    }
    if read.stands_in {
        found.retain(|f| f.code != crate::codes::NO_NVIDIA_GPU);
    }
    if !read.said.is_empty() {
        found.push(Finding::new(
            OVERRIDE_USED,
            Severity::Info,
            format!("Environment override in use: {}.", read.said.join("; ")),
            "Unset the NVPROBE_* variables to report what is detected on this machine.",
        ));
    }
}

/// Puts the overrides into the model, and records what each replaced.
pub fn apply(mut read: Read, report: &mut Report) -> Read {
    let o = &read.values;
    let mut said = Vec::new();
    // An override that stands for a driver or GPU nothing detected: the report then has one,
    // and `no-nvidia-gpu` would contradict it (`override-used` says none was detected).
    let mut stands_in = false;
    if let Some(v) = &o.driver {
        let branch = v.major();
        let native = tables::native_cuda(v);
        let detected = report.driver.as_ref().map(|d| d.version.clone());
        let d = report.driver.get_or_insert_with(|| Driver {
            version: v.clone(),
            branch: 0,
            flavor: Flavor::Unknown,
            cuda_version: None,
            source: DriverSource::Override,
            version_line: None,
            params: None,
        });
        d.version.clone_from(v);
        d.branch = branch;
        d.source = DriverSource::Override;
        d.cuda_version = native;
        said.push(match detected {
            Some(det) if det != *v => {
                format!("{DRIVER_VAR}={v} replaced the detected driver {det}")
            }
            Some(_) => format!("{DRIVER_VAR}={v} (the same as detected)"),
            None => {
                stands_in = true;
                format!("{DRIVER_VAR}={v} stands for a driver (none was detected)")
            }
        });
    }
    if let Some(c) = &o.cuda {
        match report.driver.as_mut() {
            Some(d) => {
                let before = d.cuda_version.replace(*c);
                said.push(match before {
                    Some(b) if b != *c => format!("{CUDA_VAR}={c} replaced the driver's CUDA version {b}"),
                    _ => format!("{CUDA_VAR}={c} gives the driver's CUDA version"),
                });
            }
            None => said.push(format!(
                "{CUDA_VAR}={c} is used by 'nvprobe check' (the report has no driver object: no driver version is known; set {DRIVER_VAR} too)"
            )),
        }
    }
    if let Some(cc) = &o.compute_capability {
        if report.gpus.is_empty() {
            stands_in = true;
            report.gpus.push(override_gpu());
            said.push(format!(
                "{CC_VAR}={cc} stands for one GPU (none was detected; it is listed with bus id \"override\")"
            ));
        } else {
            said.push(format!(
                "{CC_VAR}={cc} replaced the compute capability of every GPU"
            ));
        }
        for g in &mut report.gpus {
            g.compute_capability = Some(*cc);
            g.compute_capability_source = Some(CcSource::Override);
        }
    }
    read.said = said;
    read.stands_in = stands_in;
    read
}

fn override_gpu() -> Gpu {
    Gpu {
        seen_by: vec!["override".to_owned()],
        ..Gpu::new("override")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse() {
        assert_eq!(
            parse_driver("550.54.15")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("550.54.15")
        );
        assert_eq!(
            parse_driver("570.26")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("570.26")
        );
        assert_eq!(parse_driver("550"), None);
        assert_eq!(parse_driver("5.5.5"), None);
        assert_eq!(parse_driver("550.54.15-1"), None);
        assert_eq!(
            parse_cuda("12.4")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("12.4")
        );
        assert_eq!(
            parse_cuda("12")
                .as_ref()
                .map(ToString::to_string)
                .as_deref(),
            Some("12.0")
        );
        assert_eq!(
            parse_cuda("12.4.1")
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("12.4")
        );
        assert_eq!(parse_cuda("twelve"), None);
        assert_eq!(parse_cuda("0.0"), None);
        assert_eq!(
            parse_cc("8.6").as_ref().map(ToString::to_string).as_deref(),
            Some("8.6")
        );
        assert_eq!(parse_cc("86"), None);
        assert_eq!(parse_cc("sm_86"), None);
    }

    #[test]
    fn overrides_malformed_is_a_finding() {
        let env = Env::from_pairs([(DRIVER_VAR, "latest"), (CUDA_VAR, ""), (CC_VAR, "9.0")]);
        let r = read(&env);
        let o = &r.values;
        let mut bad = Vec::new();
        findings(&r, &mut bad);
        assert_eq!(o.driver, None);
        assert_eq!(o.cuda, None);
        assert_eq!(
            o.compute_capability
                .as_ref()
                .map(std::string::ToString::to_string)
                .as_deref(),
            Some("9.0")
        );
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].code, OVERRIDE_INVALID);
        let env = Env::from_pairs([(DRIVER_VAR, "latest"), (CC_VAR, "sm_90")]);
        let mut bad = Vec::new();
        findings(&read(&env), &mut bad);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].message.contains(DRIVER_VAR) && bad[0].message.contains(CC_VAR));
    }
}
