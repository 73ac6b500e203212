//! Wire codec: one `Reader` over a byte slice and the length-prefixed helpers every TLS
//! structure is built from (RFC 5246 §4, RFC 8446 §3).

use std::fmt;

/// A read that ran off the end of its input, or found bytes where none were allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    /// The input ended while `what` still needed `needed` bytes.
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// A length-prefixed body was followed by bytes that belong to nothing.
    TrailingBytes { what: &'static str, extra: usize },
    /// A field held a value the protocol forbids.
    IllegalValue { what: &'static str, detail: String },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated {
                what,
                needed,
                available,
            } => {
                write!(
                    f,
                    "{what} truncated: needed {needed} bytes, {available} left"
                )
            }
            Self::TrailingBytes { what, extra } => {
                write!(f, "{extra} unexpected bytes after {what}")
            }
            Self::IllegalValue { what, detail } => write!(f, "illegal {what}: {detail}"),
        }
    }
}

impl std::error::Error for CodecError {}

/// A cursor over borrowed bytes. Every read is bounds-checked and returns a `CodecError`.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn any_left(&self) -> bool {
        self.pos < self.buf.len()
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        let available = self.left();
        if len > available {
            return Err(CodecError::Truncated {
                what,
                needed: len,
                available,
            });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// A child reader over the next `len` bytes.
    pub fn sub(&mut self, len: usize, what: &'static str) -> Result<Reader<'a>, CodecError> {
        self.take(len, what).map(Reader::new)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, CodecError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A fixed-size array, e.g. a 32-byte random.
    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], CodecError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// `opaque x<0..2^8-1>`: the body of a one-byte length prefix.
    pub fn vec_u8(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::from(self.u8(what)?);
        self.take(len, what)
    }

    /// `opaque x<0..2^16-1>`.
    pub fn vec_u16(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = usize::from(self.u16(what)?);
        self.take(len, what)
    }

    /// `opaque x<0..2^24-1>`.
    pub fn vec_u24(&mut self, what: &'static str) -> Result<&'a [u8], CodecError> {
        let len = self.u24(what)? as usize;
        self.take(len, what)
    }

    /// Fails unless every byte was consumed.
    pub fn expect_end(&self, what: &'static str) -> Result<(), CodecError> {
        match self.left() {
            0 => Ok(()),
            extra => Err(CodecError::TrailingBytes { what, extra }),
        }
    }
}

/// Append helpers for encoding.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

pub fn put_u24(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes()[1..]);
}

/// Writes a length prefix of `prefix_len` bytes (1, 2 or 3) around whatever `body` appends.
pub fn put_prefixed(out: &mut Vec<u8>, prefix_len: usize, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend(std::iter::repeat_n(0, prefix_len));
    body(out);
    let len = (out.len() - start - prefix_len) as u32;
    let be = len.to_be_bytes();
    out[start..start + prefix_len].copy_from_slice(&be[4 - prefix_len..]);
}

pub fn put_vec_u8(out: &mut Vec<u8>, bytes: &[u8]) {
    put_prefixed(out, 1, |o| o.extend_from_slice(bytes));
}

pub fn put_vec_u16(out: &mut Vec<u8>, bytes: &[u8]) {
    put_prefixed(out, 2, |o| o.extend_from_slice(bytes));
}

pub fn put_vec_u24(out: &mut Vec<u8>, bytes: &[u8]) {
    put_prefixed(out, 3, |o| o.extend_from_slice(bytes));
}

/// Lower-case hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Parses hex (whitespace ignored); `None` on odd length or a non-hex digit.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_rejects_truncation() {
        let data = [0x01, 0x00, 0x02, 0xaa, 0xbb, 0x03];
        let mut r = Reader::new(&data);
        assert_eq!(r.u8("a").unwrap(), 1);
        assert_eq!(r.vec_u16("b").unwrap(), &[0xaa, 0xbb]);
        assert!(r.any_left());
        assert!(matches!(
            r.u16("c"),
            Err(CodecError::Truncated {
                needed: 2,
                available: 1,
                ..
            })
        ));
    }

    #[test]
    fn sub_reader_flags_trailing_bytes() {
        let data = [0x00, 0x03, 1, 2, 3];
        let mut r = Reader::new(&data);
        let mut body = r.sub(2, "x").unwrap();
        body.u8("y").unwrap();
        assert!(body.expect_end("x").is_err());
    }

    #[test]
    fn prefixed_round_trip() {
        let mut out = Vec::new();
        put_vec_u24(&mut out, b"hello");
        put_vec_u8(&mut out, b"");
        let mut r = Reader::new(&out);
        assert_eq!(r.vec_u24("a").unwrap(), b"hello");
        assert_eq!(r.vec_u8("b").unwrap(), b"");
        r.expect_end("all").unwrap();
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0x00, 0xab, 0xff]), "00abff");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert_eq!(unhex(&expected).unwrap(), all);
        assert_eq!(unhex("00 AB ff").unwrap(), vec![0x00, 0xab, 0xff]);
        assert!(unhex("abc").is_none());
        assert!(unhex("zz").is_none());
    }
}
