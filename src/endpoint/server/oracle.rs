//! A deliberately vulnerable RSA key transport: Bleichenbacher's padding oracle (CRYPTO 1998),
//! as ROBOT (Böck, Somorovsky, Young, USENIX Security 2018) found it in real products.
//!
//! The default server follows RFC 5246 §7.4.7.1: whatever the ClientKeyExchange decrypts to,
//! it carries on with a random premaster, so every bad padding ends the same way — a
//! bad_record_mac alert when the client's Finished record fails to open. With
//! [`PaddingOracle::Strong`] or [`PaddingOracle::Weak`] the server first decrypts the
//! ClientKeyExchange itself (raw RSADP, RFC 8017 §5.1.2), checks the padding its own way, and
//! for the leaking class answers at once with a fatal handshake_failure alert, before it reads
//! the client's ChangeCipherSpec and Finished. Everything else goes on exactly as by default.
//!
//! What differs on the wire, for a client that sends ClientKeyExchange, ChangeCipherSpec and
//! Finished in one flight: the leaking class draws `15 03 03 00 02 02 28` (fatal
//! handshake_failure) and a close; the rest draw `15 03 03 00 02 02 14` (fatal bad_record_mac)
//! — or the server's ChangeCipherSpec and Finished when the premaster is right.

use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;
use zeroize::Zeroizing;

/// Which ClientKeyExchange paddings the server gives away (`pfslab server --oracle`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PaddingOracle {
    /// No oracle: every padding draws the same answer (RFC 5246 §7.4.7.1). The default.
    #[default]
    Off,
    /// An immediate alert whenever the decryption does not start `00 02` (Bardou et al.'s
    /// "TTT" oracle: the most useful one to an attacker).
    Strong,
    /// An immediate alert only for a fully PKCS#1-conformant block (`00 02`, at least 8 nonzero
    /// padding bytes, a `00` separator) whose message is not 48 bytes long.
    Weak,
}

impl PaddingOracle {
    /// Whether this ClientKeyExchange falls in the class that draws the immediate alert.
    /// Always `false` for [`PaddingOracle::Off`] (which does no decryption at all).
    pub fn leaks(self, key: &rsa::PrivateKey, encrypted: &[u8]) -> bool {
        match self {
            Self::Off => false,
            Self::Strong => match raw_decrypt(key, encrypted) {
                Some(em) => !em.starts_with(&[0x00, 0x02]),
                // Not a ciphertext for this key (wrong length, not below n): not 00 02 either.
                None => true,
            },
            Self::Weak => raw_decrypt(key, encrypted)
                .and_then(|em| type2_message_len(&em))
                .is_some_and(|len| len != 48),
        }
    }
}

/// m = c^d mod n (RSADP, RFC 8017 §5.1.2), left-padded to the modulus length `k`; `None` when
/// the ciphertext is not `k` bytes or not below n.
fn raw_decrypt(key: &rsa::PrivateKey, encrypted: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let k = key.size();
    if encrypted.len() != k {
        return None;
    }
    let c = BoxedUint::from_be_slice(encrypted, key.n().bits_precision()).ok()?;
    let m = rsa::hazmat::rsa_decrypt_and_check(key, None::<&mut crate::crypto::rng::LabRng>, &c)
        .ok()?;
    let bytes = Zeroizing::new(m.to_be_bytes().to_vec());
    let skip = bytes.len().checked_sub(k)?;
    // to_be_bytes is at least k bytes long (the modulus' precision); the excess is zeros.
    let mut em = Zeroizing::new(vec![0u8; k]);
    em.copy_from_slice(bytes.get(skip..)?);
    Some(em)
}

/// The message length of EM = 00 02 PS 00 M with |PS| ≥ 8 (RFC 8017 §7.2.2 step 3), else `None`.
fn type2_message_len(em: &[u8]) -> Option<usize> {
    if em.len() < 11 || !em.starts_with(&[0x00, 0x02]) {
        return None;
    }
    let separator = 2 + em.get(2..)?.iter().position(|&b| b == 0x00)?;
    (separator >= 10).then(|| em.len() - separator - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::crypto::rng::from_seed;
    use crate::pki;

    fn raw_encrypt(key: &rsa::PrivateKey, em: &[u8]) -> Vec<u8> {
        let m = BoxedUint::from_be_slice(em, key.n().bits_precision()).expect("em fits");
        let c = rsa::hazmat::rsa_encrypt(key, &m).expect("below n");
        let bytes = c.to_be_bytes();
        bytes[bytes.len() - key.size()..].to_vec()
    }

    fn block(k: usize, ps: usize, message: usize) -> Vec<u8> {
        let mut em = vec![0x00, 0x02];
        em.extend(vec![0x5a; ps]);
        em.push(0x00);
        em.extend(vec![0x03; message]);
        assert_eq!(em.len(), k);
        em
    }

    #[test]
    fn strong_and_weak_classify_paddings() {
        let mut r = from_seed(18, "padding oracle");
        let key = pki::generate_key(&mut r, 1024).expect("keygen");
        let k = key.size();
        let public = key.to_public_key();
        let good = pki::rsa_encrypt_pkcs1(&public, &[3u8; 48], &mut r).expect("encrypt");
        let short = pki::rsa_encrypt_pkcs1(&public, &[3u8; 47], &mut r).expect("encrypt");
        let mut no_separator = vec![0x00, 0x02];
        no_separator.extend(vec![0x5a; k - 2]);
        let no_separator = raw_encrypt(&key, &no_separator);
        let mut type1 = block(k, k - 3 - 48, 48);
        type1[1] = 0x01;
        let type1 = raw_encrypt(&key, &type1);
        let short_ps = raw_encrypt(&key, &block(k, 4, k - 7));
        let cases: [(&str, &[u8], bool, bool); 6] = [
            ("good, 48 bytes", &good, false, false),
            ("good, 47 bytes", &short, false, true),
            ("00 02 without separator", &no_separator, false, false),
            ("00 02 with 4 padding bytes", &short_ps, false, false),
            ("00 01", &type1, true, false),
            ("wrong length", &good[1..], true, false),
        ];
        for (name, ct, strong, weak) in cases {
            assert!(!PaddingOracle::Off.leaks(&key, ct), "{name}: off");
            assert_eq!(
                PaddingOracle::Strong.leaks(&key, ct),
                strong,
                "{name}: strong"
            );
            assert_eq!(PaddingOracle::Weak.leaks(&key, ct), weak, "{name}: weak");
        }
    }
}
