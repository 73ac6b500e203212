//! The server's RSA private operations on AWS-LC (issue 20: handshakes/s against OpenSSL).
//!
//! A full RSA or ECDHE-RSA handshake costs the server one 2048-bit private operation — the
//! ClientKeyExchange decryption (RFC 5246 §7.4.7.1) or the ServerKeyExchange / CertificateVerify
//! signature (RFC 5246 §7.4.3, RFC 8446 §4.4.3) — and that operation was nearly all of its CPU on
//! the rsa crate. [`accelerate`] loads a server's key into AWS-LC once; the handshake code asks
//! [`decrypt_pkcs1`] and [`sign`], which fall back to the rsa crate for a key that was not
//! loaded (or that AWS-LC does not take: under 2048 bits, multi-prime).
//!
//! Seeded runs stay byte-identical: decryption draws nothing from the connection's generator
//! and gives the same premaster, and PKCS#1 v1.5 signatures are deterministic, but the rsa
//! crate draws its blinding and PSS salts from the seeded [`LabRng`], so a seeded server keeps
//! the rsa crate for signing (`fast_signatures = false`), and every later draw stays where it was.
//!
//! The AWS-LC copy lives in the [`ServerConfig`] it serves ([`ServerConfig::fast_key`]), loaded
//! once when a server starts serving it ([`accelerate`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use zeroize::Zeroizing;

use super::ServerConfig;
use crate::crypto::fast_rsa::{decrypt_pkcs1v15_with, FastRsaKey, FastRsaSigner};
use crate::crypto::rng::LabRng;
use crate::pki::{self, PkiError};

/// A server key loaded into AWS-LC.
pub struct FastServerKey {
    decrypt: FastRsaKey,
    /// `None` for keys AWS-LC does not sign with.
    sign: Option<FastRsaSigner>,
    /// Whether `sign` is used: off for seeded servers (see the module docs), and once off it
    /// stays off.
    fast_signatures: AtomicBool,
}

impl FastServerKey {
    /// `key` in AWS-LC: decryption, and signing when `fast_signatures` (pass `false` for a
    /// seeded server: its PSS salts and the generator's later draws must stay those of the rsa
    /// crate). `None` for a key AWS-LC does not take.
    pub fn load(key: &rsa::PrivateKey, fast_signatures: bool) -> Option<Self> {
        Some(Self {
            decrypt: FastRsaKey::new(key)?,
            sign: FastRsaSigner::new(key),
            fast_signatures: AtomicBool::new(fast_signatures),
        })
    }

    fn signer(&self) -> Option<&FastRsaSigner> {
        self.sign
            .as_ref()
            .filter(|_| self.fast_signatures.load(Ordering::Relaxed))
    }
}

/// The slot [`ServerConfig::fast_key`] holds: empty until the configuration is served.
pub type FastKeySlot = OnceLock<Option<FastServerKey>>;

/// Loads `config`'s key into AWS-LC for its private operations, once. A configuration served
/// by a seeded server (`fast_signatures` false) signs on the rsa crate from then on, whoever
/// served it first. Returns whether AWS-LC took the key.
pub fn accelerate(config: &ServerConfig, fast_signatures: bool) -> bool {
    settle(&config.fast_key, &config.key, fast_signatures)
}

fn settle(slot: &FastKeySlot, key: &rsa::PrivateKey, fast_signatures: bool) -> bool {
    let loaded = slot.get_or_init(|| FastServerKey::load(key, fast_signatures));
    if let Some(fast) = loaded {
        if !fast_signatures {
            fast.fast_signatures.store(false, Ordering::Relaxed);
        }
    }
    loaded.is_some()
}

/// RSAES-PKCS1-v1_5 decryption of a ClientKeyExchange (RFC 8017 §7.2.2) with `config`'s key.
/// `None` for any failure — bad length, not below n, bad padding — which the caller must not
/// reveal (RFC 5246 §7.4.7.1). On the rsa crate a bad padding gives a pseudo-random message
/// instead (implicit rejection); either way it is not the client's premaster, and the handshake
/// goes on with a random one.
pub(super) fn decrypt_pkcs1(config: &ServerConfig, encrypted: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    decrypt_with(
        &config.key,
        config.fast_key.get().and_then(Option::as_ref),
        encrypted,
    )
}

/// [`pki::sign`] with `config`'s key: on AWS-LC when the key was loaded with fast signatures
/// and AWS-LC signs `scheme`; otherwise on the rsa crate with `rng`.
pub(super) fn sign(
    config: &ServerConfig,
    scheme: u16,
    message: &[u8],
    rng: &mut LabRng,
) -> Result<Vec<u8>, PkiError> {
    let fast = config.fast_key.get().and_then(Option::as_ref);
    sign_with(&config.key, fast, scheme, message, rng)
}

fn decrypt_with(
    key: &rsa::PrivateKey,
    fast: Option<&FastServerKey>,
    encrypted: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    decrypt_pkcs1v15_with(key, fast.map(|f| &f.decrypt), encrypted)
}

fn sign_with(
    key: &rsa::PrivateKey,
    fast: Option<&FastServerKey>,
    scheme: u16,
    message: &[u8],
    rng: &mut LabRng,
) -> Result<Vec<u8>, PkiError> {
    let signer = fast.and_then(FastServerKey::signer);
    if let (Some(signer), Some(padding)) = (signer, pki::fast_signature(scheme)) {
        if let Some(signature) = signer.sign(padding, message) {
            return Ok(signature);
        }
    }
    pki::sign(key, scheme, message, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crypto::rng::from_seed;

    #[test]
    fn fast_and_slow_paths_agree() {
        let mut rng = from_seed(20, "server fast key");
        let key = pki::generate_key(&mut rng, 2048).expect("keygen");
        let public = key.to_public_key();
        let pms = [3u8; 48];
        let ct = pki::rsa_encrypt_pkcs1(&public, &pms, &mut rng).expect("encrypt");
        let msg = b"client_random || server_random || params";

        // Not loaded: the rsa crate, drawing from the generator.
        let slow_pkcs1 = sign_with(&key, None, pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        assert_eq!(
            decrypt_with(&key, None, &ct).as_deref(),
            Some(&pms.to_vec())
        );

        // Seeded server: fast decryption, signatures still on the rsa crate (same draws).
        let slot = FastKeySlot::new();
        assert!(settle(&slot, &key, false));
        let seeded = slot.get().and_then(Option::as_ref).expect("loaded");
        assert!(seeded.signer().is_none());
        assert_eq!(
            decrypt_with(&key, Some(seeded), &ct).as_deref(),
            Some(&pms.to_vec())
        );
        let (mut a, mut b) = (from_seed(1, "x"), from_seed(1, "x"));
        let pss =
            sign_with(&key, Some(seeded), pki::RSA_PSS_RSAE_SHA256, msg, &mut a).expect("sign");
        let pss_slow = pki::sign(&key, pki::RSA_PSS_RSAE_SHA256, msg, &mut b).expect("sign");
        assert_eq!(pss, pss_slow, "the seeded PSS salt");
        // A later unseeded server does not turn fast signing on for that configuration...
        assert!(settle(&slot, &key, true));
        assert!(seeded.signer().is_none());
        // ...and a seeded one turns it off where an unseeded one had it on.
        let slot = FastKeySlot::new();
        assert!(settle(&slot, &key, true));
        let fast = slot.get().and_then(Option::as_ref).expect("loaded");
        assert!(fast.signer().is_some());
        assert!(settle(&slot, &key, false));
        assert!(fast.signer().is_none());

        // Unseeded server, another key: AWS-LC signs; PKCS#1 v1.5 equals the rsa crate's bytes.
        let key2 = pki::generate_key(&mut rng, 2048).expect("keygen");
        let fast2 = FastServerKey::load(&key2, true).expect("AWS-LC takes it");
        assert!(fast2.signer().is_some());
        let fast_pkcs1 =
            sign_with(&key2, Some(&fast2), pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        let slow2 = pki::sign(&key2, pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        assert_eq!(fast_pkcs1, slow2);
        assert_ne!(fast_pkcs1, slow_pkcs1, "two keys");
        for &scheme in pki::RSA_SCHEMES {
            let sig = sign_with(&key2, Some(&fast2), scheme, msg, &mut rng).expect("sign");
            pki::verify(&key2.to_public_key(), scheme, msg, &sig).expect("verifies");
            let mut flipped = sig.clone();
            flipped[7] ^= 1;
            assert!(pki::verify(&key2.to_public_key(), scheme, msg, &flipped).is_err());
        }
        // Bad paddings and lengths: nothing, on both paths.
        assert_eq!(
            decrypt_with(&key2, Some(&fast2), &ct),
            None,
            "another key's ciphertext"
        );
        assert_eq!(decrypt_with(&key2, Some(&fast2), &ct[1..]), None);

        // A key AWS-LC does not take (the lab's --bits 1024) stays on the rsa crate.
        let small = pki::generate_key(&mut rng, 1024).expect("keygen");
        assert!(FastServerKey::load(&small, true).is_none());
        let slot = FastKeySlot::new();
        assert!(!settle(&slot, &small, true));
        assert_eq!(
            decrypt_with(&small, None, &ct),
            None,
            "another key's ciphertext"
        );
    }
}
