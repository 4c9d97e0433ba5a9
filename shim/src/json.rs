//! A minimal JSON writer: the shim prints one object, so a value tree and an escaper are all it
//! needs (`serde_json` would add tens of kilobytes for this).

use std::fmt::Write as _;

/// A JSON value. Object keys are static: the shim only writes keys it knows.
#[derive(Debug)]
pub(crate) enum Json {
    /// `null`.
    Null,
    /// An unsigned integer.
    U64(u64),
    /// A string; written with escapes.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in insertion order.
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    /// A string value.
    pub(crate) fn str(s: impl Into<String>) -> Self {
        Self::Str(s.into())
    }

    /// Appends the compact JSON text of `self` to `out`.
    pub(crate) fn write(&self, out: &mut String) {
        match self {
            Self::Null => out.push_str("null"),
            Self::U64(n) => {
                let _ = write!(out, "{n}");
            }
            Self::Str(s) => write_str(s, out),
            Self::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Self::Obj(fields) => {
                out.push('{');
                for (i, (key, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(key, out);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string literal (RFC 8259 escapes; control characters as `\u00XX`).
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::Json;

    fn text(j: &Json) -> String {
        let mut s = String::new();
        j.write(&mut s);
        s
    }

    #[test]
    fn json_escapes_quotes_backslashes_and_controls() {
        let j = Json::str("a\"b\\c\nd\u{1}é");
        assert_eq!(text(&j), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn json_object_keeps_order() {
        let j = Json::Obj(vec![
            ("protocol", Json::str("nvprobe-shim/1")),
            ("n", Json::U64(3)),
            ("a", Json::Arr(vec![Json::Null, Json::U64(1)])),
        ]);
        assert_eq!(
            text(&j),
            r#"{"protocol":"nvprobe-shim/1","n":3,"a":[null,1]}"#
        );
    }
}
