//! Every JSON document nvprobe writes, in `serde_json`'s pretty layout (two spaces per level),
//! from one place: `serde_json` serialises, with its own `PrettyFormatter`, into [`Out`].

use std::io;

use serde::Serialize;

/// `value` as pretty JSON, byte for byte what `serde_json::to_string_pretty` writes.
pub(crate) fn pretty<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    pretty_sized(value, 0)
}

/// [`pretty`] into a buffer of `capacity` bytes to begin with.
pub(crate) fn pretty_sized<T: Serialize + ?Sized>(
    value: &T,
    capacity: usize,
) -> serde_json::Result<String> {
    let mut out = Out(Vec::with_capacity(capacity));
    let mut ser = serde_json::Serializer::pretty(&mut out);
    value.serialize(&mut ser)?;
    // `serde_json` writes valid UTF-8 only; were it not to, the error says so.
    String::from_utf8(out.0).map_err(|e| serde::ser::Error::custom(e.utf8_error()))
}

/// The buffer a document is written into. `serde_json` writes a document as fragments of a
/// few bytes (a quote, a key, `": "`, an indent level, a number); `Vec::extend_from_slice`
/// copies each with a call to libc's `memcpy`, and musl's starts every copy with `rep movsq`,
/// whose start-up costs more than a short fragment's bytes. A fragment up to [`SHORT`] bytes
/// is copied byte by byte by `Vec::extend` (room made once, the length set once), not by one
/// `push` a byte, which stores and reloads the length and checks the capacity for every byte.
struct Out(Vec<u8>);

/// The longest fragment pushed byte by byte.
const SHORT: usize = 16;

impl io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.len() <= SHORT {
            self.0.extend(buf.iter().copied());
        } else {
            self.0.extend_from_slice(buf);
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Byte for byte `serde_json`'s own pretty output through [`super::Out`]: fragments on both
    /// sides of [`super::SHORT`], deep nesting, empty arrays and objects, escapes, numbers.
    #[test]
    fn json_pretty_matches_serde_json() {
        let mut deep = json!({"leaf": [1, {"k": "v"}, []]});
        for i in 0..40 {
            deep = json!({ format!("level{i}"): [deep, {}, [], "x\"\n\u{1}"] });
        }
        let docs = [
            json!(null),
            json!([]),
            json!({}),
            json!([[], {}, [[]], {"a": {}}]),
            json!({"a": 1, "b": [true, false, null, 1.5, -3], "c": "é\t"}),
            // Fragments on both sides of `SHORT`, escapes inside long strings.
            json!({"k".repeat(40): ["x".repeat(15), "y".repeat(16), "z".repeat(17), format!("{}\"\n{}", "a".repeat(30), "b".repeat(3))]}),
            deep,
        ];
        for doc in docs {
            assert_eq!(
                super::pretty(&doc).unwrap(),
                serde_json::to_string_pretty(&doc).unwrap()
            );
        }
    }
}
