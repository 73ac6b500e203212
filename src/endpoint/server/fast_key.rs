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
//! The keys are found by the `Arc` the [`ServerConfig`](super::ServerConfig) holds (a `Weak`
//! here: an entry dies with the last configuration using its key, and AWS-LC's copy is freed).

use std::sync::{Arc, Mutex, Weak};

use zeroize::Zeroizing;

use crate::crypto::fast_rsa::{FastRsaKey, FastRsaSigner};
use crate::crypto::rng::LabRng;
use crate::pki::{self, PkiError};

/// One server key loaded into AWS-LC.
struct FastServerKey {
    decrypt: Option<FastRsaKey>,
    /// `None` for seeded servers (see the module docs) and keys AWS-LC does not take.
    sign: Option<FastRsaSigner>,
}

type Registry = Vec<(Weak<rsa::PrivateKey>, Arc<FastServerKey>)>;

static REGISTRY: Mutex<Registry> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Loads `key` into AWS-LC for every server configuration holding this `Arc`: decryption, and
/// signing when `fast_signatures` (pass `false` for a seeded server: its PSS salts and the
/// generator's later draws must stay those of the rsa crate). Once a key was registered
/// without fast signatures it keeps signing on the rsa crate. Returns whether AWS-LC took it.
pub fn accelerate(key: &Arc<rsa::PrivateKey>, fast_signatures: bool) -> bool {
    let mut reg = registry();
    reg.retain(|(k, _)| k.strong_count() > 0);
    let weak = Arc::downgrade(key);
    if let Some((_, entry)) = reg.iter_mut().find(|(k, _)| Weak::ptr_eq(k, &weak)) {
        if entry.sign.is_some() && !fast_signatures {
            *entry = Arc::new(FastServerKey {
                decrypt: FastRsaKey::new(key),
                sign: None,
            });
        }
        return entry.decrypt.is_some();
    }
    let entry = FastServerKey {
        decrypt: FastRsaKey::new(key),
        sign: if fast_signatures {
            FastRsaSigner::new(key)
        } else {
            None
        },
    };
    let taken = entry.decrypt.is_some();
    if taken {
        reg.push((weak, Arc::new(entry)));
    }
    taken
}

fn lookup(key: &Arc<rsa::PrivateKey>) -> Option<Arc<FastServerKey>> {
    let reg = registry();
    reg.iter()
        .find(|(k, _)| std::ptr::eq(k.as_ptr(), Arc::as_ptr(key)))
        .map(|(_, entry)| Arc::clone(entry))
}

/// RSAES-PKCS1-v1_5 decryption of a ClientKeyExchange (RFC 8017 §7.2.2). `None` for any
/// failure — bad length, not below n, bad padding — which the caller must not reveal
/// (RFC 5246 §7.4.7.1). On the rsa crate a bad padding gives a pseudo-random message instead
/// (implicit rejection); either way it is not the client's premaster, and the handshake goes
/// on with a random one.
pub(super) fn decrypt_pkcs1(
    key: &Arc<rsa::PrivateKey>,
    encrypted: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    match lookup(key).as_ref().and_then(|f| f.decrypt.as_ref()) {
        Some(fast) => fast.decrypt_pkcs1v15(encrypted),
        None => pki::rsa_decrypt_pkcs1(key, encrypted)
            .ok()
            .map(Zeroizing::new),
    }
}

/// [`pki::sign`] on AWS-LC when the key was loaded with fast signatures and AWS-LC signs
/// `scheme`; otherwise on the rsa crate with `rng`.
pub(super) fn sign(
    key: &Arc<rsa::PrivateKey>,
    scheme: u16,
    message: &[u8],
    rng: &mut LabRng,
) -> Result<Vec<u8>, PkiError> {
    let fast = lookup(key);
    let signer = fast.as_ref().and_then(|f| f.sign.as_ref());
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
        let key = Arc::new(pki::generate_key(&mut rng, 2048).expect("keygen"));
        let public = key.to_public_key();
        let pms = [3u8; 48];
        let ct = pki::rsa_encrypt_pkcs1(&public, &pms, &mut rng).expect("encrypt");
        let msg = b"client_random || server_random || params";

        // Not registered: the rsa crate, drawing from the generator.
        let slow_pkcs1 = sign(&key, pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        assert_eq!(decrypt_pkcs1(&key, &ct).as_deref(), Some(&pms.to_vec()));

        // Seeded server: fast decryption, signatures still on the rsa crate (same draws).
        assert!(accelerate(&key, false));
        assert!(lookup(&key).is_some_and(|f| f.sign.is_none()));
        assert_eq!(decrypt_pkcs1(&key, &ct).as_deref(), Some(&pms.to_vec()));
        let (mut a, mut b) = (from_seed(1, "x"), from_seed(1, "x"));
        let pss = sign(&key, pki::RSA_PSS_RSAE_SHA256, msg, &mut a).expect("sign");
        let pss_slow = pki::sign(&key, pki::RSA_PSS_RSAE_SHA256, msg, &mut b).expect("sign");
        assert_eq!(pss, pss_slow, "the seeded PSS salt");

        // A later unseeded registration does not turn fast signing on for that key.
        assert!(accelerate(&key, true));
        assert!(lookup(&key).is_some_and(|f| f.sign.is_none()));

        // Unseeded server, another key: AWS-LC signs; PKCS#1 v1.5 equals the rsa crate's bytes.
        let key2 = Arc::new(pki::generate_key(&mut rng, 2048).expect("keygen"));
        assert!(accelerate(&key2, true));
        let fast_pkcs1 = sign(&key2, pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        let slow2 = pki::sign(&key2, pki::RSA_PKCS1_SHA256, msg, &mut rng).expect("sign");
        assert_eq!(fast_pkcs1, slow2);
        assert_ne!(fast_pkcs1, slow_pkcs1, "two keys");
        for &scheme in pki::RSA_SCHEMES {
            let sig = sign(&key2, scheme, msg, &mut rng).expect("sign");
            pki::verify(&key2.to_public_key(), scheme, msg, &sig).expect("verifies");
            let mut flipped = sig.clone();
            flipped[7] ^= 1;
            assert!(pki::verify(&key2.to_public_key(), scheme, msg, &flipped).is_err());
        }
        // Bad paddings and lengths: nothing, on both paths.
        assert_eq!(decrypt_pkcs1(&key2, &ct), None, "another key's ciphertext");
        assert_eq!(decrypt_pkcs1(&key2, &ct[1..]), None);

        // The entry dies with the key.
        let weak = Arc::downgrade(&key2);
        drop(key2);
        assert!(weak.upgrade().is_none());
        accelerate(&key, false);
        assert!(!registry().iter().any(|(k, _)| Weak::ptr_eq(k, &weak)));
    }
}
