//! Cryptographic building blocks: the two hashes the lab's suites use (SHA-256, SHA-384) and
//! HMAC over them, randomness ([`rng`]), ephemeral ECDH ([`ecdh`]), the TLS 1.3 key shares
//! (P-256, X25519, X25519MLKEM768: [`kx`]), finite-field DH
//! ([`ffdh`]) and the attacker's fast RSA
//! ([`fast_rsa`]).

pub mod dhsmooth;
pub mod ecdh;
pub mod fast_rsa;
pub mod ffdh;
pub mod kx;
pub mod rng;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha384};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Sha384,
}

impl HashAlg {
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
        }
    }

    /// A hash to feed piece by piece.
    pub fn start(self) -> RunningHash {
        match self {
            Self::Sha256 => RunningHash::Sha256(Sha256::new()),
            Self::Sha384 => RunningHash::Sha384(Sha384::new()),
        }
    }

    /// HMAC over the concatenation of `parts` (RFC 2104).
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC accepts keys of any length, so this cannot fail.
            let mut mac = match <M as KeyInit>::new_from_slice(key) {
                Ok(m) => m,
                Err(_) => unreachable!("HMAC takes keys of any length"),
            };
            for p in parts {
                mac.update(p);
            }
            mac.finalize().into_bytes().to_vec()
        }
        match self {
            Self::Sha256 => run::<Hmac<Sha256>>(key, parts),
            Self::Sha384 => run::<Hmac<Sha384>>(key, parts),
        }
    }
}

/// A hash fed piece by piece ([`HashAlg::start`]): a clone forks it, so a handshake transcript
/// hashed up to one message can be finished there and continued to the next (RFC 5246 §7.4.9
/// hashes the handshake at each Finished).
#[derive(Clone)]
pub enum RunningHash {
    Sha256(Sha256),
    Sha384(Sha384),
}

impl RunningHash {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha384(h) => h.finalize().to_vec(),
        }
    }
}

/// The HMAC hash of a CBC suite's records (RFC 5246 §6.2.3.1, Appendix C): SHA-1 for the
/// `_SHA` suites, SHA-256 for `_SHA256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    Sha1,
    Sha256,
}

impl MacAlg {
    /// mac_length = mac_key_length (RFC 5246 Appendix C).
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "HMAC-SHA1",
            Self::Sha256 => "HMAC-SHA256",
        }
    }

    /// HMAC over the concatenation of `parts` (RFC 2104).
    pub fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Self::Sha1 => hmac_parts::<Hmac<sha1::Sha1>>(key, parts),
            Self::Sha256 => hmac_parts::<Hmac<Sha256>>(key, parts),
        }
    }
}

fn hmac_parts<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = match <M as KeyInit>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
