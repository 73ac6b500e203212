//! AES-CBC with HMAC record protection for TLS 1.2: MAC-then-encrypt (RFC 5246 §6.2.3.2) and
//! encrypt-then-MAC (RFC 7366 §3).
//!
//! MAC-then-encrypt: fragment = IV ‖ CBC(content ‖ MAC ‖ padding ‖ padding_length), with
//! MAC = HMAC(seq ‖ type ‖ version ‖ content length ‖ content).
//! Encrypt-then-MAC: fragment = IV ‖ CBC(content ‖ padding ‖ padding_length) ‖ MAC, with
//! MAC = HMAC(seq ‖ type ‖ version ‖ length(IV ‖ ciphertext) ‖ IV ‖ ciphertext).
//!
//! Opening never tells bad padding from a bad MAC: both end in the one `BadRecordMac`, and with
//! MAC-then-encrypt a record with bad padding still has its MAC computed as if it had no padding
//! (RFC 5246 §6.2.3.2 implementation note). What remains: the HMAC's running time depends on
//! the content length the padding claims (the "Lucky Thirteen" residue RFC 5246 accepts), so
//! MAC-then-encrypt is not fully constant-time; encrypt-then-MAC checks the MAC before it
//! decrypts and has no such leak.

use aes::{Aes128, Aes256};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::crypto::{constant_time_eq, MacAlg};
use crate::msgs::enums::ContentType;
use crate::record_protect::BadRecordMac;

/// The AES block, and the length of the explicit IV (RFC 5246 §6.2.3.2).
pub const CBC_BLOCK_LEN: usize = 16;

#[derive(Clone)]
enum CbcKey {
    Aes128(Zeroizing<[u8; 16]>),
    Aes256(Zeroizing<[u8; 32]>),
}

impl CbcKey {
    fn new(key: &[u8]) -> Option<Self> {
        match key.len() {
            16 => Some(Self::Aes128(Zeroizing::new(key.try_into().ok()?))),
            32 => Some(Self::Aes256(Zeroizing::new(key.try_into().ok()?))),
            _ => None,
        }
    }

    /// CBC-encrypts whole blocks in place; `buf.len()` is a multiple of 16.
    fn encrypt(&self, iv: &[u8; 16], buf: &mut [u8]) {
        let n = buf.len();
        let r = match self {
            Self::Aes128(k) => cbc::Encryptor::<Aes128>::new(&(**k).into(), &(*iv).into())
                .encrypt_padded::<NoPadding>(buf, n)
                .map(|_| ()),
            Self::Aes256(k) => cbc::Encryptor::<Aes256>::new(&(**k).into(), &(*iv).into())
                .encrypt_padded::<NoPadding>(buf, n)
                .map(|_| ()),
        };
        // Only a length that is not a multiple of the block fails; callers pad first.
        debug_assert!(r.is_ok());
    }

    /// CBC-decrypts whole blocks in place; false when `buf.len()` is not a multiple of 16.
    fn decrypt(&self, iv: &[u8; 16], buf: &mut [u8]) -> bool {
        match self {
            Self::Aes128(k) => cbc::Decryptor::<Aes128>::new(&(**k).into(), &(*iv).into())
                .decrypt_padded::<NoPadding>(buf)
                .is_ok(),
            Self::Aes256(k) => cbc::Decryptor::<Aes256>::new(&(**k).into(), &(*iv).into())
                .decrypt_padded::<NoPadding>(buf)
                .is_ok(),
        }
    }
}

/// Every intermediate value of opening one CBC record, for `explain`.
#[derive(Debug, Clone, Default)]
pub struct CbcOpenTrace {
    pub etm: bool,
    pub iv: Vec<u8>,
    pub ciphertext: Vec<u8>,
    /// The CBC decryption of `ciphertext`: content (‖ MAC) ‖ padding ‖ padding_length.
    pub decrypted: Vec<u8>,
    pub padding_len: usize,
    pub padding_ok: bool,
    /// seq ‖ type ‖ version ‖ length, the MAC input's header.
    pub mac_header: Vec<u8>,
    pub mac_received: Vec<u8>,
    pub mac_computed: Vec<u8>,
}

/// One direction's TLS 1.2 AES-CBC + HMAC state.
#[derive(Clone)]
pub struct Tls12CbcProtector {
    key: CbcKey,
    mac: MacAlg,
    mac_key: Zeroizing<Vec<u8>>,
    etm: bool,
    seq: u64,
    /// Explicit IVs are SHA-256(iv_seed ‖ seq)[..16], the seed hashed from the write keys: unpredictable to
    /// anyone without the keys (RFC 5246 §6.2.3.2 "MUST be unpredictable"), and seeded
    /// captures stay reproducible.
    iv_seed: Zeroizing<[u8; 32]>,
}

impl Tls12CbcProtector {
    /// `enc_key` 16 or 32 bytes, `mac_key` as long as the MAC's output; else `None`.
    pub fn new(mac: MacAlg, mac_key: &[u8], enc_key: &[u8], etm: bool) -> Option<Self> {
        if mac_key.len() != mac.output_len() {
            return None;
        }
        let key = CbcKey::new(enc_key)?;
        let mut h = Sha256::new();
        h.update(b"pfslab cbc iv v1\0");
        h.update(mac_key);
        h.update(enc_key);
        let seed: [u8; 32] = h.finalize().into();
        Some(Self {
            key,
            mac,
            mac_key: Zeroizing::new(mac_key.to_vec()),
            etm,
            seq: 0,
            iv_seed: Zeroizing::new(seed),
        })
    }

    pub fn sequence(&self) -> u64 {
        self.seq
    }

    pub fn encrypt_then_mac(&self) -> bool {
        self.etm
    }

    pub fn mac_alg(&self) -> MacAlg {
        self.mac
    }

    fn mac_header(&self, typ: ContentType, version: u16, len: usize) -> [u8; 13] {
        let mut h = [0u8; 13];
        h[..8].copy_from_slice(&self.seq.to_be_bytes());
        h[8] = typ.to_wire();
        h[9..11].copy_from_slice(&version.to_be_bytes());
        h[11..13].copy_from_slice(&(len as u16).to_be_bytes());
        h
    }

    /// Encrypts one record's content; returns the fragment (IV first).
    pub fn seal(&mut self, typ: ContentType, version: u16, content: &[u8]) -> Vec<u8> {
        let mut iv = [0u8; CBC_BLOCK_LEN];
        let mut h = Sha256::new();
        h.update(*self.iv_seed);
        h.update(self.seq.to_be_bytes());
        iv.copy_from_slice(&h.finalize()[..CBC_BLOCK_LEN]);
        let mut body = content.to_vec();
        if !self.etm {
            let header = self.mac_header(typ, version, content.len());
            body.extend_from_slice(&self.mac.hmac(&self.mac_key, &[&header, content]));
        }
        // The least padding that fills the block; every padding byte holds padding_length.
        let pad = CBC_BLOCK_LEN - 1 - body.len() % CBC_BLOCK_LEN;
        body.resize(body.len() + pad + 1, pad as u8);
        self.key.encrypt(&iv, &mut body);
        let mut out = Vec::with_capacity(CBC_BLOCK_LEN + body.len() + self.mac.output_len());
        out.extend_from_slice(&iv);
        out.extend_from_slice(&body);
        if self.etm {
            let header = self.mac_header(typ, version, out.len());
            let mac = self.mac.hmac(&self.mac_key, &[&header, &out]);
            out.extend_from_slice(&mac);
        }
        self.seq = self.seq.wrapping_add(1);
        out
    }

    /// Decrypts and authenticates one fragment; advances the sequence number on success.
    pub fn open(
        &mut self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> Result<Vec<u8>, BadRecordMac> {
        self.open_traced(typ, version, fragment).0
    }

    /// `open`, also returning what it computed on the way.
    pub fn open_traced(
        &mut self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> (Result<Vec<u8>, BadRecordMac>, CbcOpenTrace) {
        let r = if self.etm {
            self.open_etm(typ, version, fragment)
        } else {
            self.open_mte(typ, version, fragment)
        };
        match r {
            Ok((content, trace)) => {
                self.seq = self.seq.wrapping_add(1);
                (Ok(content), trace)
            }
            Err(trace) => (Err(BadRecordMac), trace),
        }
    }

    /// RFC 7366 §3: MAC first, over IV ‖ ciphertext; only an authentic record is decrypted.
    fn open_etm(
        &self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> Result<(Vec<u8>, CbcOpenTrace), CbcOpenTrace> {
        let mac_len = self.mac.output_len();
        let mut t = CbcOpenTrace {
            etm: true,
            ..Default::default()
        };
        if fragment.len() < 2 * CBC_BLOCK_LEN + mac_len
            || (fragment.len() - mac_len) % CBC_BLOCK_LEN != 0
        {
            return Err(t);
        }
        let (signed, mac) = fragment.split_at(fragment.len() - mac_len);
        let header = self.mac_header(typ, version, signed.len());
        t.mac_header = header.to_vec();
        t.mac_received = mac.to_vec();
        t.mac_computed = self.mac.hmac(&self.mac_key, &[&header, signed]);
        let (iv, ciphertext) = signed.split_at(CBC_BLOCK_LEN);
        t.iv = iv.to_vec();
        t.ciphertext = ciphertext.to_vec();
        if !constant_time_eq(&t.mac_computed, mac) {
            return Err(t);
        }
        let mut buf = ciphertext.to_vec();
        let iv: [u8; CBC_BLOCK_LEN] = iv.try_into().map_err(|_| t.clone())?;
        if !self.key.decrypt(&iv, &mut buf) {
            return Err(t);
        }
        let (pad, ok) = check_padding(&buf, 0);
        t.decrypted = buf.clone();
        t.padding_len = pad;
        t.padding_ok = ok;
        if !ok {
            return Err(t);
        }
        buf.truncate(buf.len() - pad - 1);
        Ok((buf, t))
    }

    /// RFC 5246 §6.2.3.2: decrypt, strip padding, then check the MAC. Bad padding goes on to
    /// a MAC over the content as if the padding were empty, and both failures are one error.
    fn open_mte(
        &self,
        typ: ContentType,
        version: u16,
        fragment: &[u8],
    ) -> Result<(Vec<u8>, CbcOpenTrace), CbcOpenTrace> {
        let mac_len = self.mac.output_len();
        let mut t = CbcOpenTrace::default();
        let min_body = (mac_len + 1).div_ceil(CBC_BLOCK_LEN) * CBC_BLOCK_LEN;
        if fragment.len() < CBC_BLOCK_LEN + min_body || fragment.len() % CBC_BLOCK_LEN != 0 {
            return Err(t);
        }
        let (iv, ciphertext) = fragment.split_at(CBC_BLOCK_LEN);
        t.iv = iv.to_vec();
        t.ciphertext = ciphertext.to_vec();
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let iv: [u8; CBC_BLOCK_LEN] = iv.try_into().map_err(|_| t.clone())?;
        if !self.key.decrypt(&iv, &mut buf) {
            return Err(t);
        }
        let (pad, padding_ok) = check_padding(&buf, mac_len);
        // With bad padding the MAC is computed as if there were none (padding_length 0 is
        // always the last byte alone), and the record is rejected either way.
        let strip = if padding_ok { pad + 1 } else { 1 };
        let content_len = buf.len() - strip - mac_len;
        let (content, rest) = buf.split_at(content_len);
        let received = &rest[..mac_len];
        let header = self.mac_header(typ, version, content_len);
        let computed = self.mac.hmac(&self.mac_key, &[&header, content]);
        let mac_ok = constant_time_eq(&computed, received);
        t.decrypted = buf.to_vec();
        t.padding_len = pad;
        t.padding_ok = padding_ok;
        t.mac_header = header.to_vec();
        t.mac_received = received.to_vec();
        t.mac_computed = computed;
        if padding_ok & mac_ok {
            Ok((content.to_vec(), t))
        } else {
            Err(t)
        }
    }
}

/// Reads padding_length from the last byte and checks that it and every padding byte before
/// it equal it, leaving at least `reserve` bytes (the MAC) in front. Looks at the last 256
/// bytes (or all) whatever the padding length, with no early exit.
fn check_padding(buf: &[u8], reserve: usize) -> (usize, bool) {
    let n = buf.len();
    let Some(&last) = buf.last() else {
        return (0, false);
    };
    let pad = usize::from(last);
    let mut bad = u8::from(pad + 1 + reserve > n);
    for i in 0..n.min(256) {
        let b = buf[n - 1 - i];
        let in_pad = u8::from(i <= pad);
        bad |= in_pad & u8::from(b != last);
    }
    (pad, bad == 0)
}

#[cfg(test)]
#[path = "cbc_tests.rs"]
mod tests;
