//! `nvprobe capture --redact`: GPU and MIG UUIDs and serial numbers replaced by placeholders,
//! consistently (the same value gets the same placeholder everywhere in a bundle: text files,
//! ioctl replies and the shim's output).
//!
//! - A UUID is `GPU-` or `MIG-` followed by `8-4-4-4-12` hex digits (any case). It becomes
//!   `GPU-00000000-0000-0000-0000-00000000000N` (the prefix kept, `N` counting distinct UUIDs
//!   from 1), so the result still parses as a UUID. In binary ioctl replies the same 16 bytes
//!   are replaced by the placeholder's 16 bytes, so a replay of `--deep` shows the placeholder.
//! - A serial number is the value after `serial` (any case, optionally followed by ` number`
//!   or `_number`) and `:` or `=` or `":"` on one line, and the whole content of files named
//!   `*serial*` (DMI `product_serial`, `board_serial`). It becomes `REDACTED-SERIAL-N`.

use std::collections::BTreeMap;

/// The placeholders handed out so far.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    /// Lowercase 32-hex-digit UUID → placeholder number.
    uuids: BTreeMap<String, usize>,
    /// Serial → placeholder.
    serials: BTreeMap<String, String>,
}

const UUID_GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
const UUID_TEXT_LEN: usize = 36;

/// The 32 hex digits of a `8-4-4-4-12` UUID at the start of `s`, lowercase.
fn uuid_at(s: &[u8]) -> Option<String> {
    let text = s.get(..UUID_TEXT_LEN)?;
    let mut hex = String::with_capacity(32);
    let mut i = 0;
    for (g, len) in UUID_GROUPS.iter().enumerate() {
        if g > 0 {
            if *text.get(i)? != b'-' {
                return None;
            }
            i += 1;
        }
        for _ in 0..*len {
            let c = *text.get(i)?;
            if !c.is_ascii_hexdigit() {
                return None;
            }
            hex.push(char::from(c.to_ascii_lowercase()));
            i += 1;
        }
    }
    // A longer run of hex digits is not this UUID's end.
    if s.get(UUID_TEXT_LEN).is_some_and(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(hex)
}

fn placeholder_hex(n: usize) -> String {
    format!("{n:032x}")
}

fn dashed(hex: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Redactor {
    /// A redactor with no placeholders handed out.
    pub fn new() -> Self {
        Self::default()
    }

    fn uuid_number(&mut self, hex: &str) -> usize {
        let next = self.uuids.len() + 1;
        *self.uuids.entry(hex.to_owned()).or_insert(next)
    }

    /// Notes every UUID in `text` (so binary replies can be redacted before the text is).
    pub fn learn_text(&mut self, text: &[u8]) {
        let _ = self.redact_uuids(text);
    }

    /// Notes a UUID given as `GPU-…`/`MIG-…` or as bare `8-4-4-4-12` text.
    pub fn learn_uuid(&mut self, uuid: &str) {
        let bare = uuid
            .strip_prefix("GPU-")
            .or_else(|| uuid.strip_prefix("MIG-"))
            .unwrap_or(uuid);
        if let Some(hex) = uuid_at(bare.as_bytes()) {
            self.uuid_number(&hex);
        }
    }

    fn redact_uuids(&mut self, text: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            let rest = text.get(i..).unwrap_or_default();
            if (rest.starts_with(b"GPU-") || rest.starts_with(b"MIG-"))
                && let Some(hex) = uuid_at(rest.get(4..).unwrap_or_default())
            {
                let n = self.uuid_number(&hex);
                out.extend_from_slice(rest.get(..4).unwrap_or_default());
                out.extend_from_slice(dashed(&placeholder_hex(n)).as_bytes());
                i += 4 + UUID_TEXT_LEN;
                continue;
            }
            out.extend_from_slice(text.get(i..=i).unwrap_or_default());
            i += 1;
        }
        out
    }

    fn serial_placeholder(&mut self, value: &str) -> String {
        let next = self.serials.len() + 1;
        self.serials
            .entry(value.to_owned())
            .or_insert_with(|| format!("REDACTED-SERIAL-{next}"))
            .clone()
    }

    fn redact_serial_lines(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            out.push_str(&self.redact_serial_line(line));
        }
        out
    }

    /// `... serial[ _]number<sep>VALUE...` with `<sep>` one of `:`, `=`, `":` (JSON).
    fn redact_serial_line(&mut self, line: &str) -> String {
        let lower = line.to_ascii_lowercase();
        let Some(at) = lower.find("serial") else {
            return line.to_owned();
        };
        let mut j = at + "serial".len();
        for suffix in [" number", "_number", "number"] {
            if lower[j..].starts_with(suffix) {
                j += suffix.len();
                break;
            }
        }
        let bytes = line.as_bytes();
        // Optional closing quote of a JSON key, spaces, then the separator.
        if bytes.get(j) == Some(&b'"') {
            j += 1;
        }
        while bytes.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
            j += 1;
        }
        if !matches!(bytes.get(j), Some(b':' | b'=')) {
            return line.to_owned();
        }
        j += 1;
        while bytes.get(j).is_some_and(|b| *b == b' ' || *b == b'\t') {
            j += 1;
        }
        let quoted = bytes.get(j) == Some(&b'"');
        if quoted {
            j += 1;
        }
        let end = line[j..]
            .find(|c: char| {
                if quoted {
                    c == '"'
                } else {
                    c == '\n' || c == '\r' || c == ',' || c == '}'
                }
            })
            .map_or(line.len(), |k| j + k);
        let value = line[j..end].trim();
        if value.is_empty() || value.eq_ignore_ascii_case("n/a") || value == "null" {
            return line.to_owned();
        }
        let ph = self.serial_placeholder(value);
        format!("{}{}{}", &line[..j], ph, &line[end..])
    }

    /// A copied file's bytes, redacted. `name` is the file's name (for `*serial*` files).
    /// Binary content (not UTF-8) only has its UUID text replaced.
    pub fn redact_file(&mut self, name: &str, bytes: &[u8]) -> Vec<u8> {
        let bytes = self.redact_uuids(bytes);
        let Ok(text) = std::str::from_utf8(&bytes) else {
            return bytes;
        };
        if name.to_ascii_lowercase().contains("serial") {
            let value = text.trim();
            if value.is_empty() {
                return bytes;
            }
            let ph = self.serial_placeholder(value);
            let tail = &text[text.trim_end().len()..];
            return format!("{ph}{tail}").into_bytes();
        }
        self.redact_serial_lines(text).into_bytes()
    }

    /// Pages of a binary file kept in place (a database's pages): UUID text replaced by its
    /// placeholder, which has the same length, so nothing moves. Serial lines are text-only
    /// and not looked for here.
    pub fn redact_in_place(&mut self, bytes: &mut [u8]) {
        let out = self.redact_uuids(bytes);
        if let Some(dst) = (out.len() == bytes.len()).then_some(bytes) {
            dst.copy_from_slice(&out);
        }
    }

    /// Text (the shim's JSON output), redacted.
    pub fn redact_text(&mut self, text: &str) -> String {
        let bytes = self.redact_uuids(text.as_bytes());
        let text = String::from_utf8_lossy(&bytes).into_owned();
        self.redact_serial_lines(&text)
    }

    /// Binary ioctl bytes: every known UUID's 16 bytes replaced by its placeholder's.
    pub fn redact_binary(&self, bytes: &mut [u8]) {
        for (hex, n) in &self.uuids {
            let (Some(from), Some(to)) = (
                super::ioctl_log::from_hex(hex),
                super::ioctl_log::from_hex(&placeholder_hex(*n)),
            ) else {
                continue;
            };
            if from.len() != to.len() {
                continue;
            }
            let mut i = 0;
            while let Some(window) = bytes.get_mut(i..i + from.len()) {
                if *window == from[..] {
                    window.copy_from_slice(&to);
                    i += from.len();
                } else {
                    i += 1;
                }
            }
        }
    }

    /// How many distinct UUIDs and serials were replaced.
    pub fn counts(&self) -> (usize, usize) {
        (self.uuids.len(), self.serials.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_keeps_only_the_vcuda_core_of_a_vcuda_config() {
        // gpu-manager's packed resource_data_t: the pod UID first, the container name later,
        // `utilization` (vcuda-core) at byte 8216.
        let mut cfg = vec![0u8; 8240];
        cfg[..36].copy_from_slice(b"5f3c2a10-1111-2222-3333-444455556666");
        cfg[100..118].copy_from_slice(b"my-secret-workload");
        cfg[8216..8220].copy_from_slice(&50i32.to_le_bytes());
        let out = crate::detect::vgpu::vcuda_config_for_capture(&cfg);
        assert_eq!(out.len(), cfg.len());
        assert_eq!(crate::detect::vgpu::vcuda_core(&out), Some(50));
        assert!(out.iter().enumerate().all(|(i, b)| *b == 0 || (8216..8220).contains(&i)));
        // A file of another size keeps nothing.
        assert!(
            crate::detect::vgpu::vcuda_config_for_capture(b"pod-uid")
                .iter()
                .all(|b| *b == 0)
        );
    }

    #[test]
    fn capture_redact_uuids_consistently() {
        let mut r = Redactor::new();
        let a = r.redact_file(
            "information",
            b"GPU UUID: \t GPU-4B2D6A1E-900c-3f5a-8e21-7710abcdef00\nx GPU-11111111-2222-3333-4444-555555555555\n",
        );
        let b = r.redact_file(
            "other",
            b"MIG-GPU-4b2d6a1e-900c-3f5a-8e21-7710abcdef00/1/0 GPU-4b2d6a1e-900c-3f5a-8e21-7710abcdef00",
        );
        let a = String::from_utf8(a).unwrap();
        let b = String::from_utf8(b).unwrap();
        assert_eq!(
            a,
            "GPU UUID: \t GPU-00000000-0000-0000-0000-000000000001\nx GPU-00000000-0000-0000-0000-000000000002\n"
        );
        assert_eq!(
            b,
            "MIG-GPU-00000000-0000-0000-0000-000000000001/1/0 GPU-00000000-0000-0000-0000-000000000001"
        );
        let mut bin = vec![
            0_u8, 0x4b, 0x2d, 0x6a, 0x1e, 0x90, 0x0c, 0x3f, 0x5a, 0x8e, 0x21,
        ];
        bin.extend_from_slice(&[0x77, 0x10, 0xab, 0xcd, 0xef, 0x00, 9]);
        r.redact_binary(&mut bin);
        let mut want = [0_u8; 16];
        want[15] = 1;
        assert_eq!(&bin[1..17], &want[..]);
        assert_eq!((bin[0], bin[17]), (0, 9));
    }

    #[test]
    fn capture_redact_serials() {
        let mut r = Redactor::new();
        let t = r.redact_text("{\"serial\":\"1320223045678\",\"name\":\"x\"}\nSerial Number: 1320223045678\nserial=N/A\n");
        assert_eq!(
            t,
            "{\"serial\":\"REDACTED-SERIAL-1\",\"name\":\"x\"}\nSerial Number: REDACTED-SERIAL-1\nserial=N/A\n"
        );
        let f = r.redact_file("product_serial", b"ABC123\n");
        assert_eq!(f, b"REDACTED-SERIAL-2\n");
        assert_eq!(r.counts(), (0, 2));
    }
}
