//! RSA key transport: RSAES-PKCS1-v1_5 (RFC 8017 §7.2) of the TLS 1.2 pre-master secret in
//! ClientKeyExchange (RFC 5246 §7.4.7.1).

use rand::CryptoRng;
use rsa::{PrivateKey, PublicKey};

use super::{rsa_err, PkiError};

/// RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1), as a TLS 1.2 client encrypts the
/// pre-master secret in ClientKeyExchange (RFC 5246 §7.4.7.1). `rng` fills the padding.
///
/// # Errors
/// [`PkiError::Rsa`] if `msg` is longer than the modulus size minus 11 bytes.
pub fn rsa_encrypt_pkcs1<R: CryptoRng + ?Sized>(
    public: &PublicKey,
    msg: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, PkiError> {
    public
        .pkcs1v15_encrypt_with_rng(rng, msg)
        .map_err(rsa_err("PKCS#1 v1.5 encryption"))
}

/// RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2) of a ClientKeyExchange (RFC 5246 §7.4.7.1).
///
/// **Implicit rejection:** rsa 0.10 does not report bad padding. A ciphertext made for another
/// key, or tampered with, gives `Ok` with a deterministic pseudo-random message of
/// pseudo-random length. `Ok` therefore proves nothing: the caller must check the result (a
/// TLS pre-master secret is 48 bytes starting with the client_version) and, as RFC 5246
/// §7.4.7.1 requires, continue with a random pre-master on any mismatch so that the Finished
/// check fails without a distinguishable alert.
///
/// Timing: the private operation is blinded with the operating system RNG. The rsa crate's
/// CHANGELOG says 0.10 moved to constant-time arithmetic for the Marvin attack
/// (RUSTSEC-2023-0071), but its module docs still warn about timing leaks; treat this as
/// possibly leaking through timing when exposed to untrusted peers.
///
/// # Errors
/// [`PkiError::Rsa`] only for a ciphertext whose length differs from the modulus size or whose
/// value is not below the modulus.
pub fn rsa_decrypt_pkcs1(key: &PrivateKey, ciphertext: &[u8]) -> Result<Vec<u8>, PkiError> {
    key.pkcs1v15_decrypt(ciphertext)
        .map_err(rsa_err("PKCS#1 v1.5 decryption"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;

    use rand::Rng;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};

    use crate::pki::tests::{key1024, rng};
    use crate::pki::write_private_key;
    use crate::test_support::{openssl_encrypt_pkcs1, TempDir};

    #[test]
    fn key_transport_round_trip_and_implicit_rejection() {
        let key = key1024(14);
        let public = key.to_public_key();
        let mut r = rng(14);
        let mut pms = [0u8; 48];
        pms[0] = 0x03;
        pms[1] = 0x03;
        r.fill_bytes(&mut pms[2..]);
        let ct = rsa_encrypt_pkcs1(&public, &pms, &mut r).expect("encrypt");
        assert_eq!(ct.len(), 128);
        assert_eq!(rsa_decrypt_pkcs1(&key, &ct).expect("decrypt"), pms);
        // Wrong key or tampered ciphertext: Ok, but not the pre-master secret.
        let other = key1024(15);
        let fake = rsa_decrypt_pkcs1(&other, &ct);
        assert!(fake.map_or(true, |m| m != pms));
        let mut bad = ct.clone();
        bad[5] ^= 0x80;
        assert!(rsa_decrypt_pkcs1(&key, &bad).map_or(true, |m| m != pms));
        // Wrong length is an error.
        assert!(rsa_decrypt_pkcs1(&key, &ct[1..]).is_err());
        assert!(rsa_encrypt_pkcs1(&public, &[0u8; 118], &mut r).is_err());
    }

    #[test]
    fn rsa_decrypt_matches_openssl() {
        let dir = TempDir::new("kex");
        let key = key1024(16);
        write_private_key(&dir.path("key.pem"), &key, false).expect("key");
        fs::write(
            dir.path("pub.pem"),
            key.to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem"),
        )
        .expect("w");
        let ct = openssl_encrypt_pkcs1(&dir, "pub.pem", &[0x03u8; 48]);
        assert_eq!(
            rsa_decrypt_pkcs1(&key, &ct).expect("decrypt"),
            vec![0x03u8; 48]
        );
    }
}
