//! Record protection: TLS 1.2 AES-GCM (here), TLS 1.2 AES-CBC with HMAC (`cbc`), TLS 1.3 AEAD
//! (here), and `Tls12Protector`, the one TLS 1.2 record protection whatever the suite.
//!
//! TLS 1.2 AES-GCM (RFC 5288 §3, RFC 5246 §6.2.3.3):
//! nonce = salt(4) ‖ explicit_nonce(8); the explicit part travels at the front of each record.
//! additional_data = seq_num(8) ‖ type(1) ‖ version(2) ‖ plaintext length(2).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::msgs::enums::ContentType;

pub mod cbc;

pub use cbc::{CbcOpenTrace, Tls12CbcProtector, CBC_BLOCK_LEN};

pub const GCM_EXPLICIT_NONCE_LEN: usize = 8;
pub const GCM_TAG_LEN: usize = 16;

/// A GCM key of either size.
#[derive(Clone)]
enum GcmCipher {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
}

impl GcmCipher {
    /// AES-128-GCM or AES-256-GCM by key length; `None` for any other length.
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Some(Self::Aes128(Box::new(Aes128Gcm::new_from_slice(key).ok()?))),
            32 => Some(Self::Aes256(Box::new(Aes256Gcm::new_from_slice(key).ok()?))),
            _ => None,
        }
    }
}

/// Authentication failed: wrong key, wrong sequence number, or a tampered record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecordMac;

impl std::fmt::Display for BadRecordMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("record failed authentication (bad_record_mac)")
    }
}

impl std::error::Error for BadRecordMac {}

/// The intermediate values of one record's protection, for explaining it step by step.
#[derive(Debug, Clone)]
pub struct RecordCryptoTrace {
    pub nonce: [u8; 12],
    pub aad: [u8; 13],
}

/// One direction's TLS 1.2 AES-GCM state: key, salt and sequence number.
#[derive(Clone)]
pub struct Tls12GcmProtector {
    cipher: GcmCipher,
    salt: Zeroizing<[u8; 4]>,
    seq: u64,
}

impl Tls12GcmProtector {
    /// `key` must be 16 or 32 bytes and `salt` 4 bytes; anything else is a programming error
    /// caught at key-block cutting, reported here as `None`.
    pub fn new(key: &[u8], salt: &[u8]) -> Option<Self> {
        let cipher = GcmCipher::new(key)?;
        let salt: [u8; 4] = salt.try_into().ok()?;
        Some(Self {
            cipher,
            salt: Zeroizing::new(salt),
            seq: 0,
        })
    }

    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The nonce and AAD for the next record with the given explicit nonce and plaintext length.
    pub fn trace(
        &self,
        typ: ContentType,
        version: u16,
        explicit: &[u8; 8],
        plaintext_len: usize,
    ) -> RecordCryptoTrace {
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&*self.salt);
        nonce[4..].copy_from_slice(explicit);
        let mut aad = [0u8; 13];
        aad[..8].copy_from_slice(&self.seq.to_be_bytes());
        aad[8] = typ.to_wire();
        aad[9..11].copy_from_slice(&version.to_be_bytes());
        aad[11..13].copy_from_slice(&(plaintext_len as u16).to_be_bytes());
        RecordCryptoTrace { nonce, aad }
    }

    /// Encrypts one record's plaintext; returns explicit_nonce ‖ ciphertext ‖ tag.
    /// The explicit nonce is the sequence number, which never repeats under one key.
    pub fn seal(&mut self, typ: ContentType, version: u16, plaintext: &[u8]) -> Vec<u8> {
        let explicit = self.seq.to_be_bytes();
        let t = self.trace(typ, version, &explicit, plaintext.len());
        let nonce = Nonce::from(t.nonce);
        let payload = Payload {
            msg: plaintext,
            aad: &t.aad,
        };
        let sealed = match &self.cipher {
            GcmCipher::Aes128(c) => c.encrypt(&nonce, payload),
            GcmCipher::Aes256(c) => c.encrypt(&nonce, payload),
        };
        self.seq = self.seq.wrapping_add(1);
        let mut out = Vec::with_capacity(8 + plaintext.len() + GCM_TAG_LEN);
        out.extend_from_slice(&explicit);
        // GCM encryption only fails on inputs longer than 2^36 bytes; records are ≤ 2^14.
        out.extend_from_slice(&sealed.unwrap_or_default());
        out
    }

    /// Decrypts explicit_nonce ‖ ciphertext ‖ tag and advances the sequence number.
    pub fn open(
        &mut self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> Result<Vec<u8>, BadRecordMac> {
        if fragment.len() < GCM_EXPLICIT_NONCE_LEN + GCM_TAG_LEN {
            return Err(BadRecordMac);
        }
        let (explicit, ciphertext) = fragment.split_at(GCM_EXPLICIT_NONCE_LEN);
        let explicit: [u8; 8] = explicit.try_into().map_err(|_| BadRecordMac)?;
        let t = self.trace(typ, version, &explicit, ciphertext.len() - GCM_TAG_LEN);
        let nonce = Nonce::from(t.nonce);
        let payload = Payload {
            msg: ciphertext,
            aad: &t.aad,
        };
        let plain = match &self.cipher {
            GcmCipher::Aes128(c) => c.decrypt(&nonce, payload),
            GcmCipher::Aes256(c) => c.decrypt(&nonce, payload),
        }
        .map_err(|_| BadRecordMac)?;
        self.seq = self.seq.wrapping_add(1);
        Ok(plain)
    }
}

/// One direction's TLS 1.2 record protection, AEAD or CBC by the suite (RFC 5246 §6.2.3).
#[derive(Clone)]
pub enum Tls12Protector {
    Gcm(Tls12GcmProtector),
    Cbc(Tls12CbcProtector),
}

impl Tls12Protector {
    pub fn sequence(&self) -> u64 {
        match self {
            Self::Gcm(p) => p.sequence(),
            Self::Cbc(p) => p.sequence(),
        }
    }

    pub fn seal(&mut self, typ: ContentType, version: u16, plaintext: &[u8]) -> Vec<u8> {
        match self {
            Self::Gcm(p) => p.seal(typ, version, plaintext),
            Self::Cbc(p) => p.seal(typ, version, plaintext),
        }
    }

    pub fn open(
        &mut self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> Result<Vec<u8>, BadRecordMac> {
        match self {
            Self::Gcm(p) => p.open(typ, version, fragment),
            Self::Cbc(p) => p.open(typ, version, fragment),
        }
    }
}

/// One direction's TLS 1.3 AEAD state (RFC 8446 §5.2–5.3): the nonce is the write IV XOR the
/// sequence number; the additional data is the record header; the real content type travels
/// inside, after the plaintext.
#[derive(Clone)]
pub struct Tls13Protector {
    cipher: GcmCipher,
    iv: Zeroizing<[u8; 12]>,
    seq: u64,
}

/// A TLS 1.3 record header: application_data, legacy version 0x0303, length.
pub fn tls13_header(ciphertext_len: usize) -> [u8; 5] {
    let len = (ciphertext_len as u16).to_be_bytes();
    [23, 3, 3, len[0], len[1]]
}

impl Tls13Protector {
    pub fn new(key: &[u8], iv: &[u8]) -> Option<Self> {
        let cipher = GcmCipher::new(key)?;
        let iv: [u8; 12] = iv.try_into().ok()?;
        Some(Self {
            cipher,
            iv: Zeroizing::new(iv),
            seq: 0,
        })
    }

    pub fn sequence(&self) -> u64 {
        self.seq
    }

    /// The per-record nonce: write_iv XOR the 64-bit sequence number, left-padded.
    pub fn nonce(&self) -> [u8; 12] {
        let mut nonce = *self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// TLSInnerPlaintext = content ‖ type (no padding); returns the record payload.
    pub fn seal(&mut self, inner_type: ContentType, plaintext: &[u8]) -> Vec<u8> {
        let mut inner = Vec::with_capacity(plaintext.len() + 1);
        inner.extend_from_slice(plaintext);
        inner.push(inner_type.to_wire());
        let aad = tls13_header(inner.len() + GCM_TAG_LEN);
        let nonce = Nonce::from(self.nonce());
        let payload = Payload {
            msg: &inner,
            aad: &aad,
        };
        let sealed = match &self.cipher {
            GcmCipher::Aes128(c) => c.encrypt(&nonce, payload),
            GcmCipher::Aes256(c) => c.encrypt(&nonce, payload),
        };
        self.seq = self.seq.wrapping_add(1);
        sealed.unwrap_or_default()
    }

    /// Opens a record payload; returns the inner content type and the content, padding removed.
    pub fn open(&mut self, payload: &[u8]) -> Result<(ContentType, Vec<u8>), BadRecordMac> {
        if payload.len() < GCM_TAG_LEN + 1 {
            return Err(BadRecordMac);
        }
        let aad = tls13_header(payload.len());
        let nonce = Nonce::from(self.nonce());
        let p = Payload {
            msg: payload,
            aad: &aad,
        };
        let mut inner = match &self.cipher {
            GcmCipher::Aes128(c) => c.decrypt(&nonce, p),
            GcmCipher::Aes256(c) => c.decrypt(&nonce, p),
        }
        .map_err(|_| BadRecordMac)?;
        self.seq = self.seq.wrapping_add(1);
        // Strip zero padding; the last non-zero byte is the real content type.
        while inner.last() == Some(&0) {
            inner.pop();
        }
        // No non-zero octet: an authentic record with no content type, which the reader
        // rejects as unexpected_message (RFC 8446 §5.4), not as a forgery.
        let typ = inner.pop().unwrap_or(0);
        Ok((ContentType::from_wire(typ), inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(s).unwrap()
    }

    const P: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
    const A: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

    fn raw_gcm128(key: &[u8], nonce: [u8; 12], msg: &[u8], aad: &[u8]) -> Vec<u8> {
        Aes128Gcm::new_from_slice(key)
            .unwrap()
            .encrypt(&Nonce::from(nonce), Payload { msg, aad })
            .unwrap()
    }

    /// McGrew–Viega GCM specification Test Case 4 (AES-128, 60-byte plaintext, 20-byte AAD),
    /// the vector NIST's GCM validation suite starts from.
    #[test]
    fn gcm_aes128_test_case_4() {
        let out = raw_gcm128(
            &h("feffe9928665731c6d6a8f9467308308"),
            h("cafebabefacedbaddecaf888").try_into().unwrap(),
            &h(P),
            &h(A),
        );
        assert_eq!(out, h("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091\
            5bc94fbc3221a5db94fae95ae7121a47"));
    }

    /// Test Case 16 (AES-256) of the same specification.
    #[test]
    fn gcm_aes256_test_case_16() {
        let key = h("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let out = Aes256Gcm::new_from_slice(&key)
            .unwrap()
            .encrypt(
                &Nonce::from(<[u8; 12]>::try_from(h("cafebabefacedbaddecaf888")).unwrap()),
                Payload {
                    msg: &h(P),
                    aad: &h(A),
                },
            )
            .unwrap();
        assert_eq!(out, h("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662\
            76fc6ece0f4e1768cddf8853bb2d551b"));
    }

    /// The TLS framing around the same primitive: nonce = salt ‖ explicit, AAD = seq ‖ hdr ‖ len.
    #[test]
    fn tls12_record_uses_salt_explicit_nonce_and_aad() {
        let key = h("feffe9928665731c6d6a8f9467308308");
        let mut p = Tls12GcmProtector::new(&key, &[0xca, 0xfe, 0xba, 0xbe]).unwrap();
        let _ = p.seal(ContentType::Handshake, 0x0303, b"first"); // seq 0
        let sealed = p.seal(ContentType::ApplicationData, 0x0303, b"hello");
        assert_eq!(&sealed[..8], &1u64.to_be_bytes());
        let mut nonce = [0u8; 12];
        nonce[..4].copy_from_slice(&[0xca, 0xfe, 0xba, 0xbe]);
        nonce[4..].copy_from_slice(&1u64.to_be_bytes());
        let aad = [0, 0, 0, 0, 0, 0, 0, 1, 23, 3, 3, 0, 5];
        assert_eq!(
            &sealed[8..],
            raw_gcm128(&key, nonce, b"hello", &aad).as_slice()
        );
    }

    #[test]
    fn round_trip_and_flipped_byte_rejected() {
        let key = [9u8; 16];
        let mut tx = Tls12GcmProtector::new(&key, &[1, 2, 3, 4]).unwrap();
        let mut rx = tx.clone();
        let rec = tx.seal(ContentType::ApplicationData, 0x0303, b"secret note");
        assert_eq!(
            rx.clone()
                .open(ContentType::ApplicationData, 0x0303, &rec)
                .unwrap(),
            b"secret note"
        );
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                rx.clone().open(ContentType::ApplicationData, 0x0303, &bad),
                Err(BadRecordMac),
                "byte {i}"
            );
        }
        // Wrong content type in the AAD is rejected too.
        assert!(rx
            .clone()
            .open(ContentType::Handshake, 0x0303, &rec)
            .is_err());
        // So is the wrong sequence number.
        rx.seq = 1;
        assert!(rx.open(ContentType::ApplicationData, 0x0303, &rec).is_err());
    }

    /// RFC 8448 §3: the server's first protected record (EncryptedExtensions) and its nonce.
    #[test]
    fn tls13_nonce_and_round_trip() {
        let mut p = Tls13Protector::new(
            &h("3fce516009c21727d0f2e4e86ee403bc"),
            &h("5d313eb2671276ee13000b30"),
        )
        .unwrap();
        assert_eq!(p.nonce().to_vec(), h("5d313eb2671276ee13000b30"));
        let mut rx = p.clone();
        let sealed = p.seal(ContentType::Handshake, b"encrypted extensions");
        assert_eq!(p.nonce().to_vec(), h("5d313eb2671276ee13000b31"));
        assert_eq!(
            rx.open(&sealed).unwrap(),
            (ContentType::Handshake, b"encrypted extensions".to_vec())
        );
        let mut bad = sealed.clone();
        bad[0] ^= 1;
        assert!(Tls13Protector::new(
            &h("3fce516009c21727d0f2e4e86ee403bc"),
            &h("5d313eb2671276ee13000b30")
        )
        .unwrap()
        .open(&bad)
        .is_err());
    }

    #[test]
    fn short_fragment_rejected() {
        let mut rx = Tls12GcmProtector::new(&[0u8; 16], &[0; 4]).unwrap();
        for len in 0..24 {
            assert!(rx
                .open(ContentType::ApplicationData, 0x0303, &vec![0; len])
                .is_err());
        }
    }
}
