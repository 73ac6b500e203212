//! JSON strings written straight into a writer, byte for byte as serde_json writes them, with
//! the scan for characters to escape done eight bytes at a time: `attack --json` writes every
//! decrypted body through here (~110 MB on the `make bench` capture), where serde_json's
//! byte-at-a-time scan was ~1.5% of the attacker's CPU.

use std::io::{self, Write};

/// Writes `s` as a JSON string (RFC 8259 §7) with serde_json's escapes: `\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, and `\u00xx` (lowercase hex) for the other control characters; everything
/// else, DEL and non-ASCII included, as it is.
pub fn write_json_str(out: &mut dyn Write, s: &str) -> io::Result<()> {
    let bytes = s.as_bytes();
    out.write_all(b"\"")?;
    let mut written = 0;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(word) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
            if !any_needs_escape(u64::from_le_bytes(*word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if let Some(escape) = escape_of(b) {
            out.write_all(&bytes[written..i])?;
            match escape {
                Escape::Short(c) => out.write_all(&[b'\\', c])?,
                Escape::Unicode => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
                    out.write_all(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]])?;
                }
            }
            written = i + 1;
        }
        i += 1;
    }
    out.write_all(&bytes[written..])?;
    out.write_all(b"\"")
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Whether any byte of `word` is below 0x20, a quote or a backslash ("Bit Twiddling Hacks":
/// `haszero` and `hasless`; exact as a yes/no for every byte value).
fn any_needs_escape(word: u64) -> bool {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH_BITS != 0;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS != 0;
    below_space
        || has_zero(word ^ (ONES * u64::from(b'"')))
        || has_zero(word ^ (ONES * u64::from(b'\\')))
}

enum Escape {
    Short(u8),
    Unicode,
}

fn escape_of(b: u8) -> Option<Escape> {
    Some(match b {
        b'"' => Escape::Short(b'"'),
        b'\\' => Escape::Short(b'\\'),
        0x08 => Escape::Short(b'b'),
        0x0c => Escape::Short(b'f'),
        b'\n' => Escape::Short(b'n'),
        b'\r' => Escape::Short(b'r'),
        b'\t' => Escape::Short(b't'),
        0x00..=0x1f => Escape::Unicode,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(s: &str) -> String {
        let mut out = Vec::new();
        write_json_str(&mut out, s).expect("a Vec takes every write");
        String::from_utf8(out).expect("UTF-8 in, UTF-8 out")
    }

    /// Every ASCII character, and a few multi-byte ones, at every position of an eight-byte
    /// word and across word boundaries: the same bytes as serde_json.
    #[test]
    fn same_bytes_as_serde_json() {
        let specials: Vec<String> = (0u8..0x80)
            .map(|b| char::from(b).to_string())
            .chain(["é", "€", "😀", "\u{fffd}", "\u{2028}"].map(String::from))
            .collect();
        for special in &specials {
            for pad in 0..17 {
                for tail in [0, 1, 7, 8, 9] {
                    let s = format!("{}{special}{}", "a".repeat(pad), "z".repeat(tail));
                    let expected = serde_json::to_string(&s).expect("serde_json");
                    assert_eq!(ours(&s), expected, "{s:?}");
                }
            }
        }
        let all: String = specials.concat();
        assert_eq!(ours(&all), serde_json::to_string(&all).expect("serde_json"));
        assert_eq!(ours(""), "\"\"");
    }

    /// The word test against the byte test, for every byte value in every lane.
    #[test]
    fn word_scan_flags_exactly_the_bytes_to_escape() {
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut word = [b'a'; 8];
                word[lane] = b;
                assert_eq!(
                    any_needs_escape(u64::from_le_bytes(word)),
                    escape_of(b).is_some(),
                    "byte {b:#04x} in lane {lane}"
                );
            }
        }
    }
}
