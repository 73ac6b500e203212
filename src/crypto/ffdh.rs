//! Finite-field Diffie-Hellman for the DHE suites (RFC 5246 §8.1.2, RFC 7919).
//!
//! Modular exponentiation is crypto-bigint's constant-time Montgomery ladder over a runtime
//! modulus (`BoxedMontyForm::pow_bounded_exp`): its running time depends on the modulus size and
//! the exponent's bit bound, never on the secret exponent's value. Parsing, padding and the
//! validity checks of public values are not constant time; they only touch public data.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use rand::Rng;
use x509_cert::der::asn1::UintRef;
use x509_cert::der::{Decode, Reader as _, SliceReader};
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::rng::LabRng;

/// RFC 7919 Appendix A.1: the ffdhe2048 prime, p = 2^2048 - 2^1984 + (⌊2^1918·e⌋ + 560316)·2^64 - 1.
const FFDHE2048_P_HEX: [&str; 8] = [
    "FFFFFFFFFFFFFFFFADF85458A2BB4A9AAFDC5620273D3CF1D8B9C583CE2D3695",
    "A9E13641146433FBCC939DCE249B3EF97D2FE363630C75D8F681B202AEC4617A",
    "D3DF1ED5D5FD65612433F51F5F066ED0856365553DED1AF3B557135E7F57C935",
    "984F0C70E0E68B77E2A689DAF3EFE8721DF158A136ADE73530ACCA4F483A797A",
    "BC0AB182B324FB61D108A94BB2C8E3FBB96ADAB760D7F4681D4F42A3DE394DF4",
    "AE56EDE76372BB190B07A7C8EE0A6D709E02FCE1CDF7E2ECC03404CD28342F61",
    "9172FE9CE98583FF8E4F1232EEF28183C3FE3B1B4C6FAD733BB5FCBC2EC22005",
    "C58EF1837D1683B2C6F34A26C1B2EFFA886B423861285C97FFFFFFFFFFFFFFFF",
];

/// RFC 3526 §3: the 2048-bit MODP group 14, p = 2^2048 - 2^1984 - 1 + 2^64·(⌊2^1918·π⌋ + 124476),
/// g = 2: what OpenSSL 3.0's `s_server` serves for DHE without `-dhparam`. Recognised, not served.
const MODP2048_P_HEX: [&str; 8] = [
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
];

/// The smallest prime accepted by default (RFC 7919 §1; NIST SP 800-57: 112-bit strength).
pub const DEFAULT_MIN_BITS: usize = 2048;

/// RFC 7919 §6.1: NamedGroup codepoint of ffdhe2048.
pub const FFDHE2048_CODEPOINT: u16 = 0x0100;

/// Why a group, a public value or a parameter file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DhError {
    /// The prime is smaller than the configured minimum.
    PrimeTooSmall { bits: usize, min: usize },
    /// p is even or too small to be a prime worth using, or g is not in 1 < g < p−1.
    BadGroup(String),
    /// RFC 7919 §5.1 / SP 800-56A §5.6.2.3.1: the peer's value is not in 1 < Y < p−1.
    BadPublic(String),
    /// The shared secret came out as 1 or p−1 (a small-subgroup value).
    DegenerateSecret,
    /// A "DH PARAMETERS" file that does not parse.
    Malformed(String),
}

impl std::fmt::Display for DhError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PrimeTooSmall { bits, min } => write!(
                f,
                "the DH prime p has {bits} bits; at least {min} are required"
            ),
            Self::BadGroup(d) => write!(f, "unusable DH group: {d}"),
            Self::BadPublic(d) => write!(f, "DH public value refused: {d}"),
            Self::DegenerateSecret => write!(f, "DH shared secret is 1 or p-1"),
            Self::Malformed(d) => write!(f, "malformed DH PARAMETERS: {d}"),
        }
    }
}

impl std::error::Error for DhError {}

/// A finite-field group: prime p and generator g, both big-endian without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhGroup {
    p: Vec<u8>,
    g: Vec<u8>,
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

fn bit_len(be: &[u8]) -> usize {
    let be = strip_zeros(be);
    match be.first() {
        Some(b) => (be.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    }
}

/// a < b for big-endian magnitudes (public values only: not constant time).
fn less_than(a: &[u8], b: &[u8]) -> bool {
    let (a, b) = (strip_zeros(a), strip_zeros(b));
    a.len() < b.len() || (a.len() == b.len() && a < b)
}

/// p − 1 as big-endian bytes (p is odd, so only the last byte changes).
fn minus_one(p: &[u8]) -> Vec<u8> {
    let mut v = p.to_vec();
    if let Some(last) = v.last_mut() {
        *last &= 0xfe;
    }
    v
}

impl DhGroup {
    /// RFC 7919 ffdhe2048 (g = 2).
    pub fn ffdhe2048() -> Self {
        let hex: String = FFDHE2048_P_HEX.concat();
        let p = crate::codec::unhex(&hex).unwrap_or_default();
        Self { p, g: vec![2] }
    }

    /// A group from wire or file values; checks the shape (odd p, 1 < g < p−1), not the size.
    pub fn new(p: &[u8], g: &[u8]) -> Result<Self, DhError> {
        let (p, g) = (strip_zeros(p), strip_zeros(g));
        if bit_len(p) < 512 || p.last().is_some_and(|b| b & 1 == 0) {
            return Err(DhError::BadGroup(format!(
                "p of {} bits is not an odd prime of useful size",
                bit_len(p)
            )));
        }
        if !less_than(&[1], g) || !less_than(g, &minus_one(p)) {
            return Err(DhError::BadGroup("g is not in 1 < g < p-1".into()));
        }
        Ok(Self {
            p: p.to_vec(),
            g: g.to_vec(),
        })
    }

    /// Reads the first "DH PARAMETERS" block of PEM text as `openssl dhparam` writes it:
    /// DHParameter ::= SEQUENCE { prime INTEGER, base INTEGER, privateValueLength INTEGER OPTIONAL }
    /// (PKCS #3 §9).
    pub fn from_pem(text: &[u8]) -> Result<Self, DhError> {
        const BEGIN: &[u8] = b"-----BEGIN DH PARAMETERS-----";
        let start = text
            .windows(BEGIN.len())
            .position(|w| w == BEGIN)
            .ok_or_else(|| DhError::Malformed("no \"BEGIN DH PARAMETERS\" block".into()))?;
        let (_, der) = x509_cert::der::pem::decode_vec(&text[start..])
            .map_err(|e| DhError::Malformed(format!("PEM: {e}")))?;
        Self::from_der(&der)
    }

    /// PEM "DH PARAMETERS" as `openssl dhparam` writes it: DER SEQUENCE { prime, base }.
    pub fn to_pem(&self) -> String {
        fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            let len = body.len();
            if len < 0x80 {
                out.push(len as u8);
            } else {
                let lb: Vec<u8> = len
                    .to_be_bytes()
                    .into_iter()
                    .skip_while(|b| *b == 0)
                    .collect();
                out.push(0x80 | lb.len() as u8);
                out.extend_from_slice(&lb);
            }
            out.extend_from_slice(body);
            out
        }
        // DER INTEGER: positive, so a leading 0x00 when the top bit is set (X.690 §8.3).
        fn int(v: &[u8]) -> Vec<u8> {
            let mut body = Vec::with_capacity(v.len() + 1);
            if v.first().is_some_and(|b| b & 0x80 != 0) {
                body.push(0);
            }
            body.extend_from_slice(v);
            tlv(0x02, &body)
        }
        let mut seq = int(&self.p);
        seq.extend(int(&self.g));
        let der = tlv(0x30, &seq);
        use x509_cert::der::pem;
        // Encoding bytes we just built cannot fail; an empty string would fail parsing loudly.
        pem::encode_string("DH PARAMETERS", pem::LineEnding::LF, &der).unwrap_or_default()
    }

    /// Parses a DER DHParameter (PKCS #3 §9).
    pub fn from_der(der: &[u8]) -> Result<Self, DhError> {
        let bad = |e: x509_cert::der::Error| DhError::Malformed(format!("DER: {e}"));
        let mut r = SliceReader::new(der).map_err(bad)?;
        let (p, g) = r
            .sequence(|r| {
                let p = UintRef::decode(r)?;
                let g = UintRef::decode(r)?;
                // privateValueLength, if present, is a hint we do not need.
                if !r.is_finished() {
                    let _ = UintRef::decode(r)?;
                }
                Ok::<_, x509_cert::der::Error>((p.as_bytes().to_vec(), g.as_bytes().to_vec()))
            })
            .map_err(bad)?;
        r.finish().map_err(bad)?;
        Self::new(&p, &g)
    }

    pub fn p(&self) -> &[u8] {
        &self.p
    }

    pub fn g(&self) -> &[u8] {
        &self.g
    }

    pub fn bits(&self) -> usize {
        bit_len(&self.p)
    }

    /// The RFC 7919 name of this group, if it is one.
    pub fn name(&self) -> Option<&'static str> {
        (*self == Self::ffdhe2048()).then_some("ffdhe2048")
    }

    /// A description of a well-known group (RFC 7919 ffdhe2048, RFC 3526 group 14), if it is one.
    pub fn well_known(&self) -> Option<&'static str> {
        if self.name().is_some() {
            return Some("the RFC 7919 group ffdhe2048");
        }
        let modp = crate::codec::unhex(&MODP2048_P_HEX.concat()).unwrap_or_default();
        (self.p == modp && self.g == [2]).then_some("the RFC 3526 group 14, modp2048")
    }

    /// The client's policy check (size only, as OpenSSL and GnuTLS do).
    pub fn check_size(&self, min_bits: usize) -> Result<(), DhError> {
        if self.bits() < min_bits {
            return Err(DhError::PrimeTooSmall {
                bits: self.bits(),
                min: min_bits,
            });
        }
        Ok(())
    }

    /// RFC 7919 §5.1: a peer's public value must satisfy 1 < Y < p−1.
    pub fn check_public(&self, y: &[u8]) -> Result<(), DhError> {
        if !less_than(&[1], y) {
            return Err(DhError::BadPublic("Y <= 1".into()));
        }
        if !less_than(y, &minus_one(&self.p)) {
            return Err(DhError::BadPublic("Y >= p-1".into()));
        }
        Ok(())
    }

    fn params(&self) -> Result<BoxedMontyParams, DhError> {
        let precision = self.precision();
        let p = BoxedUint::from_be_slice(&self.p, precision)
            .map_err(|_| DhError::BadGroup("p does not fit".into()))?;
        let odd: Option<Odd<BoxedUint>> = Odd::new(p).into();
        odd.map(BoxedMontyParams::new)
            .ok_or_else(|| DhError::BadGroup("p is even".into()))
    }

    fn precision(&self) -> u32 {
        // Whole 64-bit limbs.
        (self.bits() as u32).div_ceil(64) * 64
    }

    /// Bits of the private exponent: 512 for the well-known safe-prime groups (twice its ~112-bit strength,
    /// above RFC 7919 §5.2's 225), the full size of p for other groups, whose subgroup
    /// structure we do not know (a short exponent is unsafe when p−1 is smooth).
    fn exponent_bits(&self) -> u32 {
        if self.well_known().is_some() {
            512
        } else {
            self.bits() as u32 - 1
        }
    }

    /// base^exp mod p, big-endian, left-padded to the length of p. Constant time in `exp`.
    fn pow(
        &self,
        base: &[u8],
        exp: &BoxedUint,
        exp_bits: u32,
    ) -> Result<Zeroizing<Vec<u8>>, DhError> {
        let params = self.params()?;
        let base = BoxedUint::from_be_slice(strip_zeros(base), self.precision())
            .map_err(|_| DhError::BadPublic("value longer than p".into()))?;
        let form = BoxedMontyForm::new(base, &params);
        let mut power = form.pow_bounded_exp(exp, exp_bits);
        let mut out = power.retrieve();
        power.zeroize();
        let mut bytes = out.to_be_bytes();
        out.zeroize();
        let skip = bytes.len().saturating_sub(self.p.len());
        let result = Zeroizing::new(bytes[skip..].to_vec());
        bytes.zeroize();
        Ok(result)
    }
}

/// An ephemeral DH key pair; the exponent is zeroized on drop.
pub struct DhKey {
    group: DhGroup,
    exponent: BoxedUint,
    exponent_bits: u32,
    public: Vec<u8>,
}

impl Drop for DhKey {
    fn drop(&mut self) {
        self.exponent.zeroize();
    }
}

impl DhKey {
    /// A fresh key x with 2^(n−1) ≤ x < 2^n, n = the group's exponent size; public = g^x mod p.
    pub fn generate(group: &DhGroup, rng: &mut LabRng) -> Result<Self, DhError> {
        let bits = group.exponent_bits();
        let mut raw = Zeroizing::new(vec![0u8; (bits as usize).div_ceil(8)]);
        rng.fill_bytes(&mut raw);
        let excess = raw.len() * 8 - bits as usize;
        raw[0] &= 0xff >> excess;
        raw[0] |= 0x80 >> excess;
        let exponent = BoxedUint::from_be_slice(&raw, group.precision())
            .map_err(|_| DhError::BadGroup("exponent does not fit".into()))?;
        let public = group.pow(&group.g, &exponent, bits)?.to_vec();
        Ok(Self {
            group: group.clone(),
            exponent,
            exponent_bits: bits,
            public,
        })
    }

    pub fn group(&self) -> &DhGroup {
        &self.group
    }

    /// The exponent x, big-endian without leading zero bytes (for the discrete-log stand-in).
    pub fn exponent_be(&self) -> Zeroizing<Vec<u8>> {
        let mut all = self.exponent.to_be_bytes();
        let out = Zeroizing::new(strip_zeros(&all).to_vec());
        all.zeroize();
        out
    }

    /// The key with exponent `x` (big-endian) in `group`: what a discrete-log solver would hand
    /// back, so its public value and shared secrets can be recomputed.
    pub fn from_exponent_be(group: &DhGroup, x: &[u8]) -> Result<Self, DhError> {
        let x = strip_zeros(x);
        let bits = (bit_len(x) as u32).max(1);
        let exponent = BoxedUint::from_be_slice(x, group.precision())
            .map_err(|_| DhError::BadGroup("exponent longer than p".into()))?;
        let public = group.pow(&group.g, &exponent, bits)?.to_vec();
        Ok(Self {
            group: group.clone(),
            exponent,
            exponent_bits: bits,
            public,
        })
    }

    /// g^x mod p, left-padded to the length of p (RFC 7919 §5.1).
    pub fn public(&self) -> &[u8] {
        &self.public
    }

    /// The premaster: peer^x mod p with leading zero bytes stripped (RFC 5246 §8.1.2).
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, DhError> {
        self.group.check_public(peer)?;
        let z = self.group.pow(peer, &self.exponent, self.exponent_bits)?;
        let stripped = strip_zeros(&z);
        // RFC 7919 §5.1: Z of 1 or p−1 means a peer value in a tiny subgroup.
        if stripped == [1] || stripped == minus_one(&self.group.p).as_slice() {
            return Err(DhError::DegenerateSecret);
        }
        Ok(Zeroizing::new(stripped.to_vec()))
    }
}

#[cfg(test)]
mod tests;
