//! Every JSON document nvprobe writes, in `serde_json`'s pretty layout (two spaces per level),
//! from one place.
//!
//! `serde_json`'s `PrettyFormatter` writes a line break, then the indent one level at a time: a
//! line at depth 4 is five writes, each a `memcpy` call of one or two bytes, and those calls
//! were most of what writing a report cost. [`Formatter`] writes the same bytes, each break
//! with its indent in one piece, into [`Out`], which copies short fragments without a call.

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
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Formatter::default());
    value.serialize(&mut ser)?;
    // `serde_json` writes valid UTF-8 only; were it not to, the error says so.
    String::from_utf8(out.0).map_err(|e| serde::ser::Error::custom(e.utf8_error()))
}

/// The buffer a document is written into. `serde_json` writes a document as fragments of a
/// few bytes (a quote, a key, `": "`, a number); `Vec::extend_from_slice` copies each with a call
/// to libc's `memcpy`, and musl's starts every copy with `rep movsq`, whose start-up costs more
/// than a short fragment's bytes. A fragment up to [`SHORT`] bytes is copied byte by byte by
/// `Vec::extend` (room made once, the length set once), not by one `push` a byte, which stores
/// and reloads the length and checks the capacity for every byte.
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

/// The levels of indent written in one piece; deeper lines add the rest two spaces at a time.
const LEVELS: usize = 32;

/// `,` then a line break then [`LEVELS`] levels of indent: each break is a slice of it.
const BREAK: [u8; 2 + 2 * LEVELS] = {
    let mut b = [b' '; 2 + 2 * LEVELS];
    b[0] = b',';
    b[1] = b'\n';
    b
};

/// `serde_json`'s `PrettyFormatter` with an indent of two spaces, writing each line break and
/// its indent at once.
#[derive(Default)]
struct Formatter {
    depth: usize,
    has_value: bool,
}

impl Formatter {
    /// A line break (after a `,` when `comma`) and the indent of the current depth.
    fn line<W: ?Sized + io::Write>(&self, w: &mut W, comma: bool) -> io::Result<()> {
        let levels = self.depth.min(LEVELS);
        let start = usize::from(!comma);
        w.write_all(BREAK.get(start..2 + 2 * levels).unwrap_or_default())?;
        for _ in levels..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + io::Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.line(w, false)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Formatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(w, !first)
    }

    fn end_array_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(w, !first)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + io::Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// Byte for byte `serde_json`'s own pretty output: nesting past [`super::LEVELS`], empty
    /// arrays and objects, escapes, numbers.
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
