//! RSA keys: generation (RFC 8017 §3), loading PKCS#1 and PKCS#8 (RFC 8017 Appendix A.1.2,
//! RFC 5208/5958) from PEM or DER, with a clear error for keys of other kinds.

use std::fs;
use std::path::Path;

use rand::CryptoRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::db::{rfc5912, DB};
use x509_cert::der::{AnyRef, Decode, Reader, SliceReader, Tag, Tagged};
use x509_cert::spki::AlgorithmIdentifierRef;

use super::pem::{decode_pem_block, find, pem_blocks, PEM_BEGIN};
use super::{encode_err, in_file, io_err, malformed, rsa_err, CertInfo, PkiError};

/// Smallest RSA modulus [`generate_key`] accepts, in bits.
pub const MIN_KEY_BITS: usize = 1024;
/// Largest RSA modulus [`generate_key`] accepts, in bits.
pub const MAX_KEY_BITS: usize = 8192;

/// Generates an RSA key with public exponent 65537 (RFC 8017 §3.1).
///
/// The result depends only on `rng`, so a seeded RNG gives a reproducible key.
///
/// # Errors
/// [`PkiError::KeySize`] unless `bits` is in 1024..=8192; [`PkiError::Rsa`] if generation fails.
pub fn generate_key<R: CryptoRng + ?Sized>(
    rng: &mut R,
    bits: usize,
) -> Result<PrivateKey, PkiError> {
    if !(MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        return Err(PkiError::KeySize { bits });
    }
    PrivateKey::new(rng, bits).map_err(rsa_err("key generation"))
}

/// Parses an RSA private key from PEM or DER, sniffing the format.
///
/// Accepted: PKCS#8 `PRIVATE KEY` (RFC 5208/5958) and PKCS#1 `RSA PRIVATE KEY` (RFC 8017
/// Appendix A.1.2), each as PEM (the first private-key block of the input is used) or DER.
///
/// # Errors
/// [`PkiError::EncryptedKey`] for password-protected keys, [`PkiError::NotRsa`] for EC, DSA,
/// Ed25519 and other keys, [`PkiError::Malformed`] / [`PkiError::MissingPemBlock`] otherwise.
pub fn parse_private_key(bytes: &[u8]) -> Result<PrivateKey, PkiError> {
    if find(bytes, PEM_BEGIN, 0).is_none() {
        return private_key_from_der(bytes);
    }
    let blocks = pem_blocks(bytes)?;
    for block in &blocks {
        match block.label {
            "PRIVATE KEY" => {
                let der = decode_pem_block(block, "PKCS#8 private key PEM")?;
                return private_key_from_pkcs8(&der);
            }
            "RSA PRIVATE KEY" => {
                if find(block.text, b"Proc-Type:", 0).is_some() {
                    return Err(PkiError::EncryptedKey {
                        format: "legacy OpenSSL PEM encryption, Proc-Type: 4,ENCRYPTED",
                    });
                }
                let der = decode_pem_block(block, "PKCS#1 private key PEM")?;
                return PrivateKey::from_pkcs1_der(&der)
                    .map_err(|e| malformed("PKCS#1 RSA private key", e));
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(PkiError::EncryptedKey {
                    format: "PKCS#8 EncryptedPrivateKeyInfo",
                })
            }
            "EC PRIVATE KEY" => {
                let der = decode_pem_block(block, "EC private key PEM")?;
                return Err(
                    sniff_other_private_key_der(&der).unwrap_or(PkiError::NotRsa {
                        algorithm: "EC (SEC 1 \"EC PRIVATE KEY\")".into(),
                    }),
                );
            }
            "DSA PRIVATE KEY" => {
                return Err(PkiError::NotRsa {
                    algorithm: "DSA (\"DSA PRIVATE KEY\")".into(),
                })
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(malformed(
                    "private key",
                    "OpenSSH key format is not supported; convert it with `ssh-keygen -p -m PEM`",
                ))
            }
            _ => {}
        }
    }
    Err(PkiError::MissingPemBlock {
        expected: "PRIVATE KEY or RSA PRIVATE KEY",
        found: blocks.iter().map(|b| b.label.to_owned()).collect(),
    })
}

/// Reads and parses an RSA private key file (see [`parse_private_key`]).
///
/// # Errors
/// [`PkiError::Io`] if the file cannot be read; otherwise the parse error wrapped in
/// [`PkiError::InFile`] naming the path.
pub fn load_private_key(path: &Path) -> Result<PrivateKey, PkiError> {
    let bytes = zeroize::Zeroizing::new(fs::read(path).map_err(io_err("read", path))?);
    parse_private_key(&bytes).map_err(in_file(path))
}

/// DER SubjectPublicKeyInfo of an RSA public key (RFC 5280 §4.1.2.7, RFC 8017 Appendix A.1).
///
/// # Errors
/// [`PkiError::Encode`] if encoding fails (it does not for keys this crate accepts).
pub fn public_key_der(public: &PublicKey) -> Result<Vec<u8>, PkiError> {
    public
        .to_public_key_der()
        .map(|doc| doc.as_bytes().to_vec())
        .map_err(|e| encode_err("RSA SubjectPublicKeyInfo", e))
}

/// Size of the RSA modulus in bits (e.g. 2048).
#[must_use]
pub fn modulus_bits(public: &PublicKey) -> usize {
    public.n().bit_width_vartime() as usize
}

/// True when `key` is the private half of the key in `info` (same modulus and exponent).
#[must_use]
pub fn key_matches_certificate(key: &PrivateKey, info: &CertInfo) -> bool {
    key.n_bytes() == info.public_key.n_bytes() && key.e_bytes() == info.public_key.e_bytes()
}

fn private_key_from_der(der: &[u8]) -> Result<PrivateKey, PkiError> {
    let pkcs8_err = match rsa::pkcs8::PrivateKeyInfoRef::from_der(der) {
        Ok(_) => return private_key_from_pkcs8(der),
        Err(e) => e,
    };
    let pkcs1_err = match PrivateKey::from_pkcs1_der(der) {
        Ok(key) => return Ok(key),
        Err(e) => e,
    };
    if let Some(err) = sniff_other_private_key_der(der) {
        return Err(err);
    }
    Err(malformed(
        "private key (DER)",
        format!("neither PKCS#8 ({pkcs8_err}) nor PKCS#1 ({pkcs1_err})"),
    ))
}

fn private_key_from_pkcs8(der: &[u8]) -> Result<PrivateKey, PkiError> {
    let info = rsa::pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| malformed("PKCS#8 private key", e))?;
    if info.algorithm.oid != rfc5912::RSA_ENCRYPTION {
        return Err(PkiError::NotRsa {
            algorithm: describe_algorithm(&info.algorithm),
        });
    }
    PrivateKey::try_from(info).map_err(|e| malformed("PKCS#8 RSA private key", e))
}

/// Recognises DER that is a private key, but not one we can use: PKCS#8 encrypted
/// (`SEQUENCE { AlgorithmIdentifier(PBES2 or PKCS#12 PBE), OCTET STRING }`) or SEC 1 EC
/// (`SEQUENCE { INTEGER 1, OCTET STRING, ... }`, RFC 5915).
fn sniff_other_private_key_der(der: &[u8]) -> Option<PkiError> {
    let outer = AnyRef::from_der(der).ok()?;
    if outer.tag() != Tag::Sequence {
        return None;
    }
    let mut reader = SliceReader::new(outer.value()).ok()?;
    match Tag::peek(&reader).ok()? {
        Tag::Sequence => {
            let alg = reader.decode::<AlgorithmIdentifierRef<'_>>().ok()?;
            let oid = alg.oid.to_string();
            let encrypted =
                oid.starts_with("1.2.840.113549.1.5.") || oid.starts_with("1.2.840.113549.1.12.");
            (encrypted && Tag::peek(&reader).ok()? == Tag::OctetString).then_some(
                PkiError::EncryptedKey {
                    format: "PKCS#8 EncryptedPrivateKeyInfo (DER)",
                },
            )
        }
        Tag::Integer => {
            let version = reader.decode::<u8>().ok()?;
            let secret = reader.decode::<AnyRef<'_>>().ok()?;
            if version != 1 || secret.tag() != Tag::OctetString {
                return None;
            }
            // parameters [0] EXPLICIT ECParameters OPTIONAL: usually a named-curve OID.
            let curve = reader
                .decode::<AnyRef<'_>>()
                .ok()
                .and_then(|p| ObjectIdentifier::from_der(p.value()).ok())
                .map(|oid| {
                    DB.by_oid(&oid)
                        .map_or_else(|| oid.to_string(), str::to_owned)
                });
            let algorithm = match curve {
                Some(curve) => format!("EC on {curve} (SEC 1 ECPrivateKey)"),
                None => "EC (SEC 1 ECPrivateKey)".to_owned(),
            };
            Some(PkiError::NotRsa { algorithm })
        }
        _ => None,
    }
}

/// Names an algorithm for error messages: "id-ecPublicKey (1.2.840.10045.2.1) on secp256r1".
pub(super) fn describe_algorithm(alg: &AlgorithmIdentifierRef<'_>) -> String {
    let mut text = match DB.by_oid(&alg.oid) {
        Some(name) => format!("{name} ({})", alg.oid),
        None => format!("algorithm {}", alg.oid),
    };
    if let Some(param) = alg
        .parameters
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
    {
        let name = DB
            .by_oid(&param)
            .map_or_else(|| param.to_string(), str::to_owned);
        text.push_str(" on ");
        text.push_str(&name);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use rsa::pkcs8::DecodePublicKey;

    use crate::pki::tests::{key1024, lab_cert, rng, to_pem};
    use crate::pki::write_private_key;
    use crate::test_support::{openssl, TempDir};

    #[test]
    fn generate_key_bounds() {
        assert!(matches!(
            generate_key(&mut rng(1), 512),
            Err(PkiError::KeySize { bits: 512 })
        ));
        assert!(matches!(
            generate_key(&mut rng(1), 8193),
            Err(PkiError::KeySize { .. })
        ));
        let key = key1024(1);
        assert_eq!(modulus_bits(key.as_public_key()), 1024);
        assert_eq!(key.e_bytes().as_ref(), &[0x01, 0x00, 0x01]);
    }

    #[test]
    fn loads_openssl_keys_in_all_formats() {
        let dir = TempDir::new("keys");
        openssl(
            &dir,
            &["genrsa", "-traditional", "-out", "pkcs1.pem", "1024"],
        );
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:1024",
                "-out",
                "pkcs8.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "pkey",
                "-in",
                "pkcs8.pem",
                "-outform",
                "DER",
                "-out",
                "pkcs8.der",
            ],
        );
        openssl(
            &dir,
            &[
                "rsa",
                "-in",
                "pkcs1.pem",
                "-traditional",
                "-outform",
                "DER",
                "-out",
                "pkcs1.der",
            ],
        );
        openssl(
            &dir,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "pkcs1.pem",
                "-outform",
                "DER",
                "-out",
                "topk8.der",
            ],
        );
        // PKCS#8 DER has the AlgorithmIdentifier SEQUENCE after the version; PKCS#1 an INTEGER.
        let topk8 = fs::read(dir.path("topk8.der")).expect("read");
        assert_eq!(topk8.get(4..8), Some(&[0x02, 0x01, 0x00, 0x30][..]));
        let pkcs1 = fs::read(dir.path("pkcs1.der")).expect("read");
        assert_eq!(pkcs1.get(4..8), Some(&[0x02, 0x01, 0x00, 0x02][..]));
        let pem1 = fs::read_to_string(dir.path("pkcs1.pem")).expect("read");
        assert!(pem1.contains("BEGIN RSA PRIVATE KEY"));
        let k1 = load_private_key(&dir.path("pkcs1.pem")).expect("pkcs1 pem");
        let k1d = load_private_key(&dir.path("pkcs1.der")).expect("pkcs1 der");
        assert_eq!(k1, k1d);
        assert_eq!(
            load_private_key(&dir.path("topk8.der")).expect("pkcs8 der"),
            k1
        );
        let k8 = load_private_key(&dir.path("pkcs8.pem")).expect("pkcs8 pem");
        let k8d = load_private_key(&dir.path("pkcs8.der")).expect("pkcs8 der");
        assert_eq!(k8, k8d);
        assert_eq!(modulus_bits(k8.as_public_key()), 1024);

        // Our own PKCS#8 output reads back, and openssl reads it.
        write_private_key(&dir.path("ours.pem"), &k1, false).expect("write");
        assert_eq!(load_private_key(&dir.path("ours.pem")).expect("reload"), k1);
        openssl(&dir, &["pkey", "-in", "ours.pem", "-check", "-noout"]);

        // A key after other PEM blocks (e.g. a combined cert + key file) is found.
        let cert_pem = to_pem(&lab_cert(&k1, 6));
        let combined = format!("{cert_pem}{pem1}");
        assert_eq!(
            parse_private_key(combined.as_bytes()).expect("combined"),
            k1
        );
    }

    #[test]
    fn clear_errors_for_unusable_keys() {
        let dir = TempDir::new("badkeys");
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "ec8.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "ecparam",
                "-genkey",
                "-name",
                "prime256v1",
                "-out",
                "sec1.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "ec", "-in", "sec1.pem", "-outform", "DER", "-out", "sec1.der",
            ],
        );
        openssl(
            &dir,
            &[
                "pkcs8", "-topk8", "-nocrypt", "-in", "ec8.pem", "-outform", "DER", "-out",
                "ec8.der",
            ],
        );
        openssl(
            &dir,
            &["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"],
        );
        openssl(
            &dir,
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:1024",
                "-aes-128-cbc",
                "-pass",
                "pass:x",
                "-out",
                "enc8.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "pkcs8", "-topk8", "-in", "enc8.pem", "-passin", "pass:x", "-passout", "pass:x",
                "-outform", "DER", "-out", "enc8.der",
            ],
        );
        openssl(
            &dir,
            &[
                "rsa",
                "-in",
                "enc8.pem",
                "-passin",
                "pass:x",
                "-traditional",
                "-aes128",
                "-passout",
                "pass:x",
                "-out",
                "legacy.pem",
            ],
        );

        let err = |name: &str| {
            let path = dir.path(name);
            let e = load_private_key(&path).expect_err(name);
            let PkiError::InFile { path: p, source } = e else {
                panic!("{name}: {e:?}")
            };
            assert_eq!(p, path);
            *source
        };
        for name in ["ec8.pem", "ec8.der"] {
            let e = err(name);
            assert!(
                e.to_string().starts_with("not an RSA key: id-ecPublicKey"),
                "{name}: {e}"
            );
            assert!(e.to_string().contains("secp256r1"), "{name}: {e}");
        }
        for name in ["sec1.pem", "sec1.der"] {
            let e = err(name);
            assert!(
                e.to_string().starts_with("not an RSA key: EC on secp256r1"),
                "{name}: {e}"
            );
        }
        let e = err("ed.pem");
        assert!(e.to_string().starts_with("not an RSA key:"), "{e}");
        for name in ["enc8.pem", "enc8.der", "legacy.pem"] {
            let e = err(name);
            assert!(matches!(e, PkiError::EncryptedKey { .. }), "{name}: {e:?}");
            assert!(e.to_string().contains("encrypted"), "{name}: {e}");
        }
        // Missing file: the path is in the message.
        let missing = dir.path("nope.pem");
        let e = load_private_key(&missing).expect_err("missing");
        assert!(e.to_string().contains("nope.pem"), "{e}");
        // A certificate is not a key.
        let cert_pem = to_pem(&lab_cert(&key1024(7), 7));
        let e = parse_private_key(cert_pem.as_bytes()).expect_err("cert");
        assert!(e.to_string().contains("found: CERTIFICATE"), "{e}");
    }

    #[test]
    fn public_key_der_round_trips() {
        let key = key1024(17);
        let der = public_key_der(key.as_public_key()).expect("der");
        assert_eq!(
            PublicKey::from_public_key_der(&der).expect("decode"),
            key.to_public_key()
        );
    }
}
