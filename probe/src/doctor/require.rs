//! The `NVIDIA_REQUIRE_*` language, with libnvidia-container's semantics (`src/cli/dsl.c`
//! `dsl_evaluate`, `dsl_compare_version`, `dsl_compare_string`; `src/cli/configure.c` for the
//! properties and the per-GPU loop).
//!
//! # Grammar
//! A requirement is OR-groups separated by spaces; a group is AND-conditions separated by
//! commas; empty pieces are skipped (a group of commas alone is true, as is an empty
//! requirement). A condition is `NAME OP VALUE` with no whitespace: `NAME` is everything before
//! the first of `<>=!` and must be `cuda`, `driver`, `arch` or `brand` (any case); `OP` is the
//! maximal run of `<>=!` and must be `=`, `!=`, `<`, `<=`, `>`, `>=` — or a prefix of one, found
//! in that order, which makes a lone `!` mean `!=` (C's `strncmp` with the run's length);
//! `VALUE` is the non-empty rest.
//!
//! # Comparison
//! `cuda`, `driver`, `arch` compare as versions: both sides only `[0-9.]`; dot-separated
//! numbers compared in turn, the first difference decides; when one side runs out, trailing
//! `.` and `0` are skipped on both and `=`, `<=`, `>=` hold when both are exhausted, `<` when
//! only the left is, `>` when only the right is (`12.4 = 12.4.0`, `470.57.02 < 471`).
//! `brand` compares as a string, case-insensitively, with `=` and `!=` only.
//!
//! # Evaluation
//! Groups are tried left to right; in a group the first false condition ends it; the first
//! all-true group satisfies the requirement. Missing data (no driver, no CUDA version, no device
//! or no value for it) makes that condition true. Every requirement must hold for every visible
//! GPU; with none visible it is evaluated once without device data. The failure text names the
//! last false condition, as `dsl_evaluate` does: `unsatisfied condition: cuda >= 12.4`.
//!
//! # Difference
//! libnvidia-container finds a malformed condition only when it evaluates it (after a true
//! group nothing more is read); nvprobe checks the whole requirement before evaluating, so a
//! fault is reported wherever it is, with its position.

use std::fmt;

/// A property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    /// The CUDA version the driver supports.
    Cuda,
    /// The driver version.
    Driver,
    /// The GPU's compute capability.
    Arch,
    /// The GPU's NVML brand.
    Brand,
}

impl Property {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cuda" => Some(Self::Cuda),
            "driver" => Some(Self::Driver),
            "arch" => Some(Self::Arch),
            "brand" => Some(Self::Brand),
            _ => None,
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// In libnvidia-container's order.
const OPERATORS: [(&str, Op); 6] = [
    ("=", Op::Eq),
    ("!=", Op::Ne),
    ("<", Op::Lt),
    ("<=", Op::Le),
    (">", Op::Gt),
    (">=", Op::Ge),
];

impl Op {
    /// As written.
    pub fn as_str(self) -> &'static str {
        OPERATORS
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(s, _)| s)
    }
}

/// One condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The property.
    pub property: Property,
    /// The name as written (`CUDA`).
    pub name: String,
    /// The operator.
    pub op: Op,
    /// The value as written.
    pub value: String,
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.name, self.op.as_str(), self.value)
    }
}

/// A parsed requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The text as given.
    pub text: String,
    /// OR-groups of AND-conditions.
    pub groups: Vec<Vec<Condition>>,
}

/// A malformed requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based character position of the fault.
    pub position: usize,
    /// What is wrong.
    pub message: String,
    /// The requirement.
    pub text: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed requirement at position {}: {}\n  {}\n  {}^",
            self.position,
            self.message,
            self.text,
            " ".repeat(self.position.saturating_sub(1))
        )
    }
}

impl std::error::Error for ParseError {}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// `s` without its first `n` bytes (empty when `n` runs past the end).
fn tail(s: &[u8], n: usize) -> &[u8] {
    s.get(n..).unwrap_or_default()
}

/// Compares versions as `dsl_compare_version` does; `None` where it returns an error.
pub fn compare_version(left: &str, op: Op, right: &str) -> Option<bool> {
    let valid = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !valid(left) || !valid(right) {
        return None;
    }
    let (mut a, mut b) = (left.as_bytes(), right.as_bytes());
    // strtoumax: leading digits; no digits is an error; UINTMAX_MAX (overflow) is an error.
    let number = |s: &[u8]| -> Option<(u64, usize)> {
        let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let mut v: u64 = 0;
        for &d in s.get(..n)? {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        (v != u64::MAX).then_some((v, n))
    };
    let skip = |s: &[u8], set: &[u8]| s.iter().take_while(|c| set.contains(c)).count();
    while !a.is_empty() && !b.is_empty() {
        let (n1, l1) = number(a)?;
        let (n2, l2) = number(b)?;
        if n1 != n2 {
            return Some(match op {
                Op::Eq => false,
                Op::Ne => true,
                Op::Lt | Op::Le => n1 < n2,
                Op::Gt | Op::Ge => n1 > n2,
            });
        }
        a = tail(a, l1);
        a = tail(a, skip(a, b"."));
        b = tail(b, l2);
        b = tail(b, skip(b, b"."));
    }
    a = tail(a, skip(a, b".0"));
    b = tail(b, skip(b, b".0"));
    Some(match op {
        Op::Ne => !a.is_empty() || !b.is_empty(),
        Op::Eq => a.is_empty() && b.is_empty(),
        Op::Le => (a.is_empty() && b.is_empty()) || (a.is_empty() && !b.is_empty()),
        Op::Ge => (a.is_empty() && b.is_empty()) || (!a.is_empty() && b.is_empty()),
        Op::Lt => a.is_empty() && !b.is_empty(),
        Op::Gt => !a.is_empty() && b.is_empty(),
    })
}

/// Compares strings as `dsl_compare_string` does.
pub fn compare_string(left: &str, op: Op, right: &str) -> Option<bool> {
    match op {
        Op::Eq => Some(left.eq_ignore_ascii_case(right)),
        Op::Ne => Some(!left.eq_ignore_ascii_case(right)),
        _ => None,
    }
}

fn parse_condition(piece: &str, at: usize, text: &str) -> Result<Condition, ParseError> {
    let err = |offset: usize, message: String| ParseError {
        position: text[..at + offset].chars().count() + 1,
        message,
        text: text.to_owned(),
    };
    let name_len = piece.find(is_op_char).unwrap_or(piece.len());
    if name_len == 0 {
        return Err(err(
            0,
            format!("'{piece}' has no property name before its operator"),
        ));
    }
    if name_len == piece.len() {
        return Err(err(
            0,
            format!("'{piece}' has no operator (one of = != < <= > >=)"),
        ));
    }
    let name = &piece[..name_len];
    let rest = &piece[name_len..];
    let run_len = rest.find(|c| !is_op_char(c)).unwrap_or(rest.len());
    let run = &rest[..run_len];
    let Some(&(_, op)) = OPERATORS
        .iter()
        .find(|(s, _)| run.len() <= s.len() && s.starts_with(run))
    else {
        return Err(err(
            name_len,
            format!("'{run}' is not an operator (one of = != < <= > >=)"),
        ));
    };
    let value = &rest[run_len..];
    if value.is_empty() {
        return Err(err(
            name_len,
            format!("'{piece}' has no value after '{run}'"),
        ));
    }
    let Some(property) = Property::parse(name) else {
        return Err(err(
            0,
            format!("unknown property '{name}' (one of cuda, driver, arch, brand)"),
        ));
    };
    let value_at = name_len + run_len;
    match property {
        Property::Brand => {
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(err(
                    name_len,
                    format!("brand compares only with = or !=, not '{}'", op.as_str()),
                ));
            }
        }
        _ => {
            if compare_version(value, Op::Eq, "0").is_none() {
                return Err(err(
                    value_at,
                    format!("'{value}' is not a version (digits and dots, starting with a digit)"),
                ));
            }
        }
    }
    Ok(Condition {
        property,
        name: name.to_owned(),
        op,
        value: value.to_owned(),
    })
}

/// Parses a requirement, checking every condition.
///
/// # Errors
/// The first malformed condition, with its 1-based position.
pub fn parse(text: &str) -> Result<Requirement, ParseError> {
    let mut groups = Vec::new();
    let mut at = 0;
    for group in text.split(' ') {
        let group_at = at;
        at += group.len() + 1;
        if group.is_empty() {
            continue;
        }
        let mut conds = Vec::new();
        let mut cat = group_at;
        for piece in group.split(',') {
            let piece_at = cat;
            cat += piece.len() + 1;
            if piece.is_empty() {
                continue;
            }
            conds.push(parse_condition(piece, piece_at, text)?);
        }
        groups.push(conds);
    }
    Ok(Requirement {
        text: text.to_owned(),
        groups,
    })
}

/// The machine facts a requirement is evaluated against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// The CUDA version the driver supports (`12.4`).
    pub cuda: Option<String>,
    /// The driver version.
    pub driver: Option<String>,
}

/// One visible GPU's facts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Device {
    /// Compute capability.
    pub arch: Option<String>,
    /// NVML brand name (`tesla`, `geforce`, ...).
    pub brand: Option<String>,
}

/// The result of one evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A group held.
    Satisfied,
    /// No group held; the last false condition.
    Unsatisfied(String),
    /// A machine value could not be compared (libnvidia-container: "invalid expression").
    Invalid(String),
}

/// Evaluates a requirement for one device (or none).
pub fn evaluate(req: &Requirement, facts: &Facts, device: Option<&Device>) -> Outcome {
    let mut last_false = None;
    let mut any_true_group = req.groups.is_empty();
    for group in &req.groups {
        let mut holds = true;
        for c in group {
            let data = match c.property {
                Property::Cuda => facts.cuda.as_deref(),
                Property::Driver => facts.driver.as_deref(),
                Property::Arch => device.and_then(|d| d.arch.as_deref()),
                Property::Brand => device.and_then(|d| d.brand.as_deref()),
            };
            // Missing data evaluates true.
            let Some(data) = data else { continue };
            let r = match c.property {
                Property::Brand => compare_string(data, c.op, &c.value),
                _ => compare_version(data, c.op, &c.value),
            };
            match r {
                Some(true) => {}
                Some(false) => {
                    last_false = Some(c.to_string());
                    holds = false;
                    break;
                }
                None => {
                    return Outcome::Invalid(format!(
                        "{c}: this machine's value '{data}' cannot be compared"
                    ));
                }
            }
        }
        if holds {
            any_true_group = true;
            break;
        }
    }
    if any_true_group {
        Outcome::Satisfied
    } else {
        Outcome::Unsatisfied(last_false.unwrap_or_default())
    }
}

/// `NVIDIA_DISABLE_REQUIRE` as Go's `strconv.ParseBool` reads it.
pub fn disabled(value: Option<&str>) -> bool {
    matches!(value, Some("1" | "t" | "T" | "TRUE" | "true" | "True"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(l: &str, op: &str, r: &str) -> Option<bool> {
        let op = OPERATORS.iter().find(|(s, _)| *s == op).unwrap().1;
        compare_version(l, op, r)
    }

    #[test]
    fn require_version_rules_of_dsl_c() {
        assert_eq!(v("12.4", "=", "12.4.0"), Some(true));
        assert_eq!(v("12.4.0", "=", "12.4"), Some(true));
        assert_eq!(v("470.57.02", "<", "471"), Some(true));
        assert_eq!(v("470.57.02", ">=", "470"), Some(true));
        assert_eq!(v("470.57.02", "<", "470"), Some(false));
        assert_eq!(v("470", "<", "470.57.02"), Some(true));
        assert_eq!(v("12.4", "!=", "12.4.0"), Some(false));
        assert_eq!(v("12.10", ">", "12.9"), Some(true));
        assert_eq!(v("13.0", ">=", "12.4"), Some(true));
        assert_eq!(v("12.4", "<=", "12.4"), Some(true));
        assert_eq!(v("12.4", ">", "12.4"), Some(false));
        assert_eq!(v("12", "<", "12.0.5"), Some(true));
        assert_eq!(v("12..4", "=", "12.4"), Some(true));
        assert_eq!(v("12.4a", "=", "12.4"), None);
        assert_eq!(v(".5", "=", "0.5"), None);
        assert_eq!(v("99999999999999999999", "=", "1"), None);
        assert_eq!(compare_string("Tesla", Op::Eq, "tesla"), Some(true));
        assert_eq!(compare_string("Tesla", Op::Lt, "tesla"), None);
    }

    #[test]
    fn require_parse_cuda_image_expression() {
        let r = parse(
            "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=535,driver<536",
        )
        .unwrap();
        assert_eq!(r.groups.len(), 3);
        assert_eq!(r.groups[1].len(), 3);
        assert_eq!(r.groups[1][2].to_string(), "driver < 471");
        // Empty pieces are skipped; a group of commas alone is vacuously true.
        let r = parse("  cuda>=12.4,,arch>=8.0   ,").unwrap();
        assert_eq!(r.groups.len(), 2);
        assert!(r.groups[1].is_empty());
        // Case-insensitive names; a lone '!' is '!=' (strncmp with the run's length).
        let r = parse("CUDA!12.4").unwrap();
        assert_eq!(r.groups[0][0].op, Op::Ne);
        assert_eq!(r.groups[0][0].name, "CUDA");
    }

    #[test]
    fn require_parse_errors_have_positions() {
        let e = parse("cuda>=12.4 cdua>=12").unwrap_err();
        assert_eq!(e.position, 12);
        assert!(e.message.contains("unknown property 'cdua'"), "{e}");
        let e = parse("cuda=>12.4").unwrap_err();
        assert_eq!(e.position, 5);
        let e = parse("cuda>=").unwrap_err();
        assert!(e.message.contains("no value"), "{e}");
        let e = parse("driver>=535,brand<tesla").unwrap_err();
        assert_eq!(e.position, 18);
        let e = parse("cuda>=12.4x").unwrap_err();
        assert_eq!(e.position, 7);
        let e = parse(">=12").unwrap_err();
        assert_eq!(e.position, 1);
        let e = parse("cuda").unwrap_err();
        assert!(e.message.contains("no operator"));
        let e = parse("cuda==12").unwrap_err();
        assert_eq!(e.position, 5);
        assert!(e.to_string().contains("\n      ^"), "{e}");
    }

    #[test]
    fn require_evaluate() {
        let img = parse("cuda>=12.4 brand=tesla,driver>=535,driver<536").unwrap();
        let f = |cuda: &str, drv: &str| Facts {
            cuda: Some(cuda.to_owned()),
            driver: Some(drv.to_owned()),
        };
        let tesla = Device {
            arch: Some("8.0".into()),
            brand: Some("Tesla".into()),
        };
        let geforce = Device {
            arch: Some("8.9".into()),
            brand: Some("geforce".into()),
        };
        assert_eq!(
            evaluate(&img, &f("12.4", "550.54.15"), Some(&geforce)),
            Outcome::Satisfied
        );
        assert_eq!(
            evaluate(&img, &f("12.2", "535.216.03"), Some(&tesla)),
            Outcome::Satisfied
        );
        assert_eq!(
            evaluate(&img, &f("12.2", "535.216.03"), Some(&geforce)),
            Outcome::Unsatisfied("brand = tesla".into())
        );
        // Missing data is true.
        assert_eq!(evaluate(&img, &Facts::default(), None), Outcome::Satisfied);
        let arch = parse("arch>=9.0").unwrap();
        assert_eq!(evaluate(&arch, &Facts::default(), None), Outcome::Satisfied);
        assert_eq!(
            evaluate(&arch, &Facts::default(), Some(&tesla)),
            Outcome::Unsatisfied("arch >= 9.0".into())
        );
        assert_eq!(
            evaluate(&parse("").unwrap(), &Facts::default(), None),
            Outcome::Satisfied
        );
        assert!(matches!(
            evaluate(
                &parse("driver>=1").unwrap(),
                &f("12.4", "32.0.15.6094x"),
                None
            ),
            Outcome::Invalid(_)
        ));
    }

    #[test]
    fn require_disable() {
        for t in ["1", "t", "T", "TRUE", "true", "True"] {
            assert!(disabled(Some(t)));
        }
        for f in ["0", "yes", "", "on"] {
            assert!(!disabled(Some(f)));
        }
        assert!(!disabled(None));
    }
}
