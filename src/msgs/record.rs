//! TLS records (RFC 5246 §6.2): the header, a deframer that turns a byte stream into records,
//! and a joiner that turns handshake records back into handshake messages. Endpoints and the
//! attacker both read through these.

use crate::codec::{put_u16, Reader};
use crate::msgs::enums::{ContentType, HandshakeType};

pub const RECORD_HEADER_LEN: usize = 5;
/// RFC 5246 §6.2.1: a plaintext fragment is at most 2^14 bytes.
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// RFC 5246 §6.2.3: a ciphertext fragment is at most 2^14 + 2048 bytes.
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 2048;
/// Largest handshake message accepted: a ClientHello with 2^16-1 bytes of extensions (RFC 5246
/// §7.4.1.2; tlsfuzzer sends such) fits, and nothing larger is ever buffered.
pub const MAX_HANDSHAKE_MESSAGE: usize = 160 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The length field exceeds 2^14 + 2048 (record_overflow).
    Overflow { length: usize },
    /// The header's type or version cannot begin a TLS record.
    NotTls { first_bytes: [u8; 5] },
    /// A handshake message claims more than `MAX_HANDSHAKE_MESSAGE` bytes.
    HandshakeTooLarge { length: usize },
    /// Handshake bytes were left over where a message boundary is required.
    IncompleteHandshake,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Overflow { length } => write!(f, "record length {length} exceeds 2^14+2048"),
            Self::NotTls { first_bytes } => {
                write!(
                    f,
                    "bytes are not a TLS record header: {}",
                    crate::codec::hex(first_bytes)
                )
            }
            Self::HandshakeTooLarge { length } => {
                write!(f, "handshake message of {length} bytes exceeds the {MAX_HANDSHAKE_MESSAGE}-byte limit")
            }
            Self::IncompleteHandshake => f.write_str("handshake message split across a key change"),
        }
    }
}

impl std::error::Error for RecordError {}

/// The 5-byte record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub content_type: ContentType,
    pub version: u16,
    pub length: usize,
}

impl RecordHeader {
    pub fn read(r: &mut Reader<'_>) -> Result<Self, crate::codec::CodecError> {
        Ok(Self {
            content_type: ContentType::from_wire(r.u8("record content type")?),
            version: r.u16("record version")?,
            length: usize::from(r.u16("record length")?),
        })
    }
}

/// Whether `bytes` can begin a TLS record (RFC 5246 §6.2.1): a registered content type
/// (change_cipher_spec 20 … heartbeat 24, RFC 6520) and a 3.x version. Only the bytes present
/// are judged, so a prefix that may still become a record counts. The one "looks like TLS"
/// test: the endpoints' deframer, the tap and the attacker all use it.
pub fn could_begin_record(bytes: &[u8]) -> bool {
    let mut b = bytes.iter();
    // Any 3.x: RFC 5246 Appendix E.1 has servers accept every {03,XX} record version.
    b.next().is_none_or(|t| (20..=24).contains(t)) && b.next().is_none_or(|major| *major == 3)
}

/// Whether a client's stream starts like TLS: a handshake record carrying a ClientHello.
pub fn starts_with_client_hello(bytes: &[u8]) -> bool {
    could_begin_record(bytes) && matches!(bytes, [22, _, _, _, _, 1, ..])
}

/// A record as it crossed the wire, payload still protected (or plaintext before keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueRecord {
    pub content_type: ContentType,
    pub version: u16,
    pub payload: Vec<u8>,
}

impl OpaqueRecord {
    pub fn encode(&self) -> Vec<u8> {
        encode_record(self.content_type, self.version, &self.payload)
    }
}

pub fn encode_record(typ: ContentType, version: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(RECORD_HEADER_LEN + payload.len());
    out.push(typ.to_wire());
    put_u16(&mut out, version);
    put_u16(&mut out, payload.len() as u16);
    out.extend_from_slice(payload);
    out
}

/// Accumulates stream bytes and yields whole records.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    /// Where the bytes not yet returned start in `buf`: records are taken from the front by
    /// moving this, and the bytes before it are dropped when more arrive.
    start: usize,
    /// Stream offset of `buf[start]`, for error messages.
    consumed: u64,
}

impl Deframer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that do not yet form a record.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Stream offset of the next record.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// The next whole record, `Ok(None)` if more bytes are needed.
    pub fn next_record(&mut self) -> Result<Option<OpaqueRecord>, RecordError> {
        let held = self.buf.get(self.start..).unwrap_or_default();
        let record = read_record(held)?;
        if let Some((_, total)) = &record {
            self.start += total;
            self.consumed += *total as u64;
        }
        Ok(record.map(|(r, _)| r))
    }
}

/// The whole record at the start of `bytes` and its length on the wire (header included),
/// `Ok(None)` if `bytes` ends before the record does.
pub fn read_record(bytes: &[u8]) -> Result<Option<(OpaqueRecord, usize)>, RecordError> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Ok(None);
    }
    let mut r = Reader::new(bytes);
    let header = match RecordHeader::read(&mut r) {
        Ok(h) => h,
        Err(_) => return Ok(None),
    };
    if !could_begin_record(bytes) {
        let mut first_bytes = [0u8; 5];
        first_bytes.copy_from_slice(&bytes[..5]);
        return Err(RecordError::NotTls { first_bytes });
    }
    if header.length > MAX_CIPHERTEXT {
        return Err(RecordError::Overflow {
            length: header.length,
        });
    }
    let total = RECORD_HEADER_LEN + header.length;
    let Some(payload) = bytes.get(RECORD_HEADER_LEN..total) else {
        return Ok(None);
    };
    Ok(Some((
        OpaqueRecord {
            content_type: header.content_type,
            version: header.version,
            payload: payload.to_vec(),
        },
        total,
    )))
}

/// A handshake message with its 4-byte header, as it enters the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeMessage {
    pub typ: HandshakeType,
    /// Header and body, exactly as sent.
    pub encoded: Vec<u8>,
}

impl HandshakeMessage {
    pub fn new(typ: HandshakeType, body: &[u8]) -> Self {
        let mut encoded = Vec::with_capacity(4 + body.len());
        encoded.push(typ.to_wire());
        crate::codec::put_u24(&mut encoded, body.len() as u32);
        encoded.extend_from_slice(body);
        Self { typ, encoded }
    }

    pub fn body(&self) -> &[u8] {
        self.encoded.get(4..).unwrap_or_default()
    }
}

/// Rebuilds handshake messages from handshake record payloads that may split or coalesce them
/// (RFC 5246 §6.2.1).
#[derive(Debug, Default)]
pub struct HandshakeJoiner {
    buf: Vec<u8>,
}

impl HandshakeJoiner {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, payload: &[u8]) {
        self.buf.extend_from_slice(payload);
    }

    /// True when no partial message is held: a key change may happen only here.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn next_message(&mut self) -> Result<Option<HandshakeMessage>, RecordError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([0, self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if length > MAX_HANDSHAKE_MESSAGE {
            return Err(RecordError::HandshakeTooLarge { length });
        }
        if self.buf.len() < 4 + length {
            return Ok(None);
        }
        let encoded: Vec<u8> = self.buf.drain(..4 + length).collect();
        Ok(Some(HandshakeMessage {
            typ: HandshakeType::from_wire(encoded[0]),
            encoded,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::enums::ProtocolVersion;

    #[test]
    fn deframes_across_arbitrary_splits() {
        let mut stream = encode_record(
            ContentType::Handshake,
            ProtocolVersion::Tls12.to_wire(),
            b"abc",
        );
        stream.extend(encode_record(
            ContentType::ApplicationData,
            ProtocolVersion::Tls12.to_wire(),
            &[7; 300],
        ));
        for split in 0..stream.len() {
            let mut d = Deframer::new();
            let mut got = Vec::new();
            d.push(&stream[..split]);
            while let Some(r) = d.next_record().unwrap() {
                got.push(r);
            }
            d.push(&stream[split..]);
            while let Some(r) = d.next_record().unwrap() {
                got.push(r);
            }
            assert_eq!(got.len(), 2, "split {split}");
            assert_eq!(got[0].payload, b"abc");
            assert_eq!(got[1].payload.len(), 300);
            assert_eq!(d.pending(), 0);
        }
    }

    #[test]
    fn one_test_for_the_start_of_tls() {
        // Every prefix of a record header is judged on the bytes it has.
        for prefix in [&[][..], &[22], &[22, 3], &[22, 3, 254], &[24, 3, 4, 0, 1]] {
            assert!(could_begin_record(prefix), "{prefix:?}");
        }
        for not_tls in [
            &b"GET /"[..],
            &[19],
            &[25],
            &[22, 2],
            &[22, 4, 1],
            &[0x80, 3, 1],
        ] {
            assert!(!could_begin_record(not_tls), "{not_tls:?}");
        }
        let hello = HandshakeMessage::new(HandshakeType::ClientHello, &[0; 4]);
        let record = encode_record(ContentType::Handshake, 0x0301, &hello.encoded);
        assert!(starts_with_client_hello(&record));
        let finished = HandshakeMessage::new(HandshakeType::Finished, &[0; 12]);
        let record = encode_record(ContentType::Handshake, 0x0303, &finished.encoded);
        assert!(!starts_with_client_hello(&record));
        assert!(
            !starts_with_client_hello(&[22, 3, 1]),
            "too short to show the type"
        );
    }

    #[test]
    fn rejects_overflow_and_non_tls() {
        let mut d = Deframer::new();
        d.push(&[23, 3, 3, 0x48, 0x01]);
        assert_eq!(
            d.next_record(),
            Err(RecordError::Overflow { length: 0x4801 })
        );
        let mut d = Deframer::new();
        d.push(b"GET / HTTP/1.0\r\n");
        assert!(matches!(d.next_record(), Err(RecordError::NotTls { .. })));
    }

    #[test]
    fn joins_and_splits_handshake_messages() {
        let a = HandshakeMessage::new(HandshakeType::ServerHelloDone, b"");
        let b = HandshakeMessage::new(HandshakeType::Finished, &[1; 12]);
        let mut all = a.encoded.clone();
        all.extend_from_slice(&b.encoded);
        let mut j = HandshakeJoiner::new();
        for byte in &all {
            j.push(&[*byte]);
        }
        assert_eq!(j.next_message().unwrap(), Some(a));
        assert_eq!(j.next_message().unwrap().unwrap().body(), &[1; 12]);
        assert!(j.is_empty());
    }

    #[test]
    fn rejects_huge_handshake_claim() {
        let mut j = HandshakeJoiner::new();
        j.push(&[1, 0xff, 0xff, 0xff]);
        assert!(matches!(
            j.next_message(),
            Err(RecordError::HandshakeTooLarge { .. })
        ));
    }
}
