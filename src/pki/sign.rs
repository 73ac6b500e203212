//! TLS signatures identified by their SignatureScheme code point (RFC 8446 §4.2.3, RFC 5246
//! §7.4.1.4.1): RSASSA-PKCS1-v1_5 and RSASSA-PSS (rsae) with SHA-1/256/384/512.

use rand::CryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha1::Sha1;
use sha2::digest::FixedOutputReset;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::der::oid::AssociatedOid;

use super::{modulus_bits, rsa_err, PkiError};
use crate::crypto::fast_rsa::FastSignature;
use crate::msgs::enums::SignatureScheme;

/// RSA signature schemes in server preference order (RFC 8446 §4.2.3 code points):
/// PKCS#1 v1.5 with SHA-256/384/512, then RSASSA-PSS (rsae) with SHA-256/384/512, and
/// rsa_pkcs1_sha1 last, kept only for TLS 1.2 peers that send no signature_algorithms
/// (RFC 5246 §7.4.1.4.1 then implies {sha1, rsa}).
pub const RSA_SCHEMES: &[u16] = &[
    RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384,
    RSA_PKCS1_SHA512,
    RSA_PSS_RSAE_SHA256,
    RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512,
    RSA_PKCS1_SHA1,
];

/// The PSS schemes a TLS 1.3 RSA CertificateVerify may use (RFC 8446 §4.2.3), in preference.
pub const PSS_SCHEMES: &[u16] = &[
    RSA_PSS_RSAE_SHA256,
    RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512,
];

/// rsa_pkcs1_sha1 (RFC 8446 §4.2.3; TLS 1.2 {sha1, rsa} = 0x02, 0x01).
pub const RSA_PKCS1_SHA1: u16 = SignatureScheme::RsaPkcs1Sha1.to_wire();
/// rsa_pkcs1_sha256 (RFC 8446 §4.2.3).
pub const RSA_PKCS1_SHA256: u16 = SignatureScheme::RsaPkcs1Sha256.to_wire();
/// rsa_pkcs1_sha384 (RFC 8446 §4.2.3).
pub const RSA_PKCS1_SHA384: u16 = SignatureScheme::RsaPkcs1Sha384.to_wire();
/// rsa_pkcs1_sha512 (RFC 8446 §4.2.3).
pub const RSA_PKCS1_SHA512: u16 = SignatureScheme::RsaPkcs1Sha512.to_wire();
/// rsa_pss_rsae_sha256 (RFC 8446 §4.2.3).
pub const RSA_PSS_RSAE_SHA256: u16 = SignatureScheme::RsaPssRsaeSha256.to_wire();
/// rsa_pss_rsae_sha384 (RFC 8446 §4.2.3).
pub const RSA_PSS_RSAE_SHA384: u16 = SignatureScheme::RsaPssRsaeSha384.to_wire();
/// rsa_pss_rsae_sha512 (RFC 8446 §4.2.3).
pub const RSA_PSS_RSAE_SHA512: u16 = SignatureScheme::RsaPssRsaeSha512.to_wire();

#[derive(Clone, Copy)]
enum Padding {
    Pkcs1,
    Pss,
}

#[derive(Clone, Copy)]
enum HashAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

fn scheme_parts(scheme: u16) -> Result<(Padding, HashAlg), PkiError> {
    use SignatureScheme as S;
    Ok(match S::from_wire(scheme) {
        S::RsaPkcs1Sha1 => (Padding::Pkcs1, HashAlg::Sha1),
        S::RsaPkcs1Sha256 => (Padding::Pkcs1, HashAlg::Sha256),
        S::RsaPkcs1Sha384 => (Padding::Pkcs1, HashAlg::Sha384),
        S::RsaPkcs1Sha512 => (Padding::Pkcs1, HashAlg::Sha512),
        S::RsaPssRsaeSha256 => (Padding::Pss, HashAlg::Sha256),
        S::RsaPssRsaeSha384 => (Padding::Pss, HashAlg::Sha384),
        S::RsaPssRsaeSha512 => (Padding::Pss, HashAlg::Sha512),
        S::Unknown(other) => return Err(PkiError::UnknownScheme(other)),
    })
}

/// IANA name of an RSA SignatureScheme (RFC 8446 §4.2.3), e.g. `rsa_pss_rsae_sha256`.
#[must_use]
pub fn scheme_name(scheme: u16) -> Option<&'static str> {
    scheme_parts(scheme).ok()?;
    SignatureScheme::from_wire(scheme).known_name()
}

fn sign_with<D, R>(
    key: &PrivateKey,
    padding: Padding,
    msg: &[u8],
    rng: &mut R,
) -> rsa::Result<Vec<u8>>
where
    D: Digest + AssociatedOid + FixedOutputReset,
    R: CryptoRng + ?Sized,
{
    match padding {
        Padding::Pkcs1 => key.pkcs1v15_sign_with_rng::<D, R>(rng, msg),
        Padding::Pss => key.pss_sign_with_rng::<D, R>(rng, msg),
    }
}

fn verify_with<D>(public: &PublicKey, padding: Padding, msg: &[u8], sig: &[u8]) -> rsa::Result<()>
where
    D: Digest + AssociatedOid + FixedOutputReset,
{
    match padding {
        Padding::Pkcs1 => public.pkcs1v15_verify::<D>(msg, sig),
        Padding::Pss => public.pss_verify::<D>(msg, sig),
    }
}

/// Signs `message` with the RSA SignatureScheme `scheme` (RFC 8446 §4.2.3): RSASSA-PKCS1-v1_5
/// (RFC 8017 §8.2) or RSASSA-PSS with MGF1 of the same hash and salt length = hash length
/// (RFC 8446 §4.2.3, RFC 8017 §8.1). `message` is hashed here. `rng` supplies the PSS salt and
/// the blinding of the private operation.
///
/// # Errors
/// [`PkiError::UnknownScheme`] for any other code point; [`PkiError::Rsa`] if the key is too
/// small for the scheme.
pub fn sign<R: CryptoRng + ?Sized>(
    key: &PrivateKey,
    scheme: u16,
    message: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, PkiError> {
    let (padding, hash) = scheme_parts(scheme)?;
    // RFC 8017 §9.1.1: emLen >= hLen + sLen + 2 with sLen = hLen (e.g. 1040 bits for SHA-512).
    let hash_len = match hash {
        HashAlg::Sha1 => 20,
        HashAlg::Sha256 => 32,
        HashAlg::Sha384 => 48,
        HashAlg::Sha512 => 64,
    };
    let min_len = match padding {
        Padding::Pss => 2 * hash_len + 2,
        Padding::Pkcs1 => hash_len + 19 + 11, // DigestInfo prefix (<= 19) + 11 of padding
    };
    if key.size() < min_len {
        return Err(PkiError::KeyTooSmall {
            scheme,
            bits: modulus_bits(key.as_public_key()),
        });
    }
    match hash {
        HashAlg::Sha1 => sign_with::<Sha1, R>(key, padding, message, rng),
        HashAlg::Sha256 => sign_with::<Sha256, R>(key, padding, message, rng),
        HashAlg::Sha384 => sign_with::<Sha384, R>(key, padding, message, rng),
        HashAlg::Sha512 => sign_with::<Sha512, R>(key, padding, message, rng),
    }
    .map_err(rsa_err("signing"))
}

/// The AWS-LC padding for `scheme` ([`crate::crypto::fast_rsa::FastRsaSigner`]), or `None` for
/// a scheme only [`sign`] handles (rsa_pkcs1_sha1, unknown code points).
#[must_use]
pub fn fast_signature(scheme: u16) -> Option<FastSignature> {
    Some(match scheme_parts(scheme).ok()? {
        (Padding::Pkcs1, HashAlg::Sha256) => FastSignature::Pkcs1Sha256,
        (Padding::Pkcs1, HashAlg::Sha384) => FastSignature::Pkcs1Sha384,
        (Padding::Pkcs1, HashAlg::Sha512) => FastSignature::Pkcs1Sha512,
        (Padding::Pss, HashAlg::Sha256) => FastSignature::PssSha256,
        (Padding::Pss, HashAlg::Sha384) => FastSignature::PssSha384,
        (Padding::Pss, HashAlg::Sha512) => FastSignature::PssSha512,
        (_, HashAlg::Sha1) => return None,
    })
}

/// Verifies a signature made as [`sign`] describes. PSS signatures must use salt length =
/// hash length, as RFC 8446 §4.2.3 requires.
///
/// # Errors
/// [`PkiError::UnknownScheme`], or [`PkiError::BadSignature`] naming the scheme.
pub fn verify(
    public: &PublicKey,
    scheme: u16,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PkiError> {
    let (padding, hash) = scheme_parts(scheme)?;
    match hash {
        HashAlg::Sha1 => verify_with::<Sha1>(public, padding, message, signature),
        HashAlg::Sha256 => verify_with::<Sha256>(public, padding, message, signature),
        HashAlg::Sha384 => verify_with::<Sha384>(public, padding, message, signature),
        HashAlg::Sha512 => verify_with::<Sha512>(public, padding, message, signature),
    }
    .map_err(|_| PkiError::BadSignature {
        what: format!("{} (0x{scheme:04x})", scheme_name(scheme).unwrap_or("?")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;

    use rsa::pkcs8::{EncodePublicKey, LineEnding};

    use crate::pki::tests::{key1024, rng};
    use crate::pki::{generate_key, write_private_key};
    use crate::test_support::{openssl, TempDir};

    #[test]
    fn tls_signatures_round_trip() {
        // 2048 bits: rsa_pss_rsae_sha512 needs more than 1024 (RFC 8017 §9.1.1).
        let mut r = rng(12);
        let key = generate_key(&mut r, 2048).expect("keygen");
        let public = key.to_public_key();
        let msg = b"client_random || server_random || params";
        assert_eq!(RSA_SCHEMES.first(), Some(&RSA_PKCS1_SHA256));
        assert_eq!(RSA_SCHEMES.last(), Some(&RSA_PKCS1_SHA1));
        for &scheme in RSA_SCHEMES {
            let sig = sign(&key, scheme, msg, &mut r).expect("sign");
            assert_eq!(sig.len(), 256);
            verify(&public, scheme, msg, &sig).expect("verify");
            let mut bad = sig.clone();
            bad[40] ^= 1;
            let e = verify(&public, scheme, msg, &bad).expect_err("flipped");
            assert!(
                e.to_string().contains(scheme_name(scheme).expect("name")),
                "{e}"
            );
            assert!(verify(&public, scheme, b"other message", &sig).is_err());
            assert!(verify(&public, scheme, msg, &sig[1..]).is_err());
            assert!(verify(&public, scheme, msg, &[]).is_err());
            // A signature under one scheme does not verify under another.
            for &other in RSA_SCHEMES.iter().filter(|&&s| s != scheme) {
                assert!(verify(&public, other, msg, &sig).is_err());
            }
        }
        // PKCS#1 v1.5 is deterministic; PSS is salted.
        let a = sign(&key, RSA_PKCS1_SHA256, msg, &mut r).expect("a");
        let b = sign(&key, RSA_PKCS1_SHA256, msg, &mut r).expect("b");
        assert_eq!(a, b);
        let a = sign(&key, RSA_PSS_RSAE_SHA256, msg, &mut r).expect("a");
        let b = sign(&key, RSA_PSS_RSAE_SHA256, msg, &mut r).expect("b");
        assert_ne!(a, b);
        let small = key1024(12);
        let e = sign(&small, RSA_PSS_RSAE_SHA512, msg, &mut r).expect_err("too small");
        assert!(
            matches!(e, PkiError::KeyTooSmall { bits: 1024, .. }),
            "{e:?}"
        );
        for scheme in [RSA_PKCS1_SHA512, RSA_PSS_RSAE_SHA384] {
            let sig = sign(&small, scheme, msg, &mut r).expect("1024-bit key suffices");
            verify(small.as_public_key(), scheme, msg, &sig).expect("verify");
        }
        for unknown in [0x0403, 0x0807, 0x0809, 0x0000, 0xffff] {
            assert!(
                matches!(sign(&key, unknown, msg, &mut r), Err(PkiError::UnknownScheme(s)) if s == unknown)
            );
            assert!(matches!(
                verify(&public, unknown, msg, &a),
                Err(PkiError::UnknownScheme(_))
            ));
        }
    }

    #[test]
    fn signatures_interoperate_with_openssl() {
        let dir = TempDir::new("sig");
        let key = key1024(13);
        let public = key.to_public_key();
        fs::write(
            dir.path("pub.pem"),
            public.to_public_key_pem(LineEnding::LF).expect("pem"),
        )
        .expect("w");
        write_private_key(&dir.path("key.pem"), &key, false).expect("key");
        let msg = b"ServerKeyExchange params to be signed";
        fs::write(dir.path("msg"), msg).expect("w");
        let mut r = rng(13);

        let sig = sign(&key, RSA_PKCS1_SHA256, msg, &mut r).expect("sign");
        fs::write(dir.path("p1.sig"), &sig).expect("w");
        let out = openssl(
            &dir,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "p1.sig",
                "msg",
            ],
        );
        assert!(out.contains("Verified OK"), "{out}");

        let sig = sign(&key, RSA_PSS_RSAE_SHA256, msg, &mut r).expect("sign");
        fs::write(dir.path("pss.sig"), &sig).expect("w");
        let out = openssl(
            &dir,
            &[
                "dgst",
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-verify",
                "pub.pem",
                "-signature",
                "pss.sig",
                "msg",
            ],
        );
        assert!(out.contains("Verified OK"), "{out}");

        // And the other way round.
        openssl(
            &dir,
            &[
                "dgst", "-sha384", "-sign", "key.pem", "-out", "o1.sig", "msg",
            ],
        );
        let sig = fs::read(dir.path("o1.sig")).expect("r");
        verify(&public, RSA_PKCS1_SHA384, msg, &sig).expect("openssl pkcs1 sha384");
        openssl(
            &dir,
            &[
                "dgst",
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
                "-sign",
                "key.pem",
                "-out",
                "o2.sig",
                "msg",
            ],
        );
        let sig = fs::read(dir.path("o2.sig")).expect("r");
        verify(&public, RSA_PSS_RSAE_SHA256, msg, &sig).expect("openssl pss sha256");
    }
}
