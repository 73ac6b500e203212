//! RSA keys, X.509 certificates and the RSA operations TLS needs.
//!
//! Everything a pfslab endpoint or the attacker does with RSA goes through here:
//! key generation and loading (PKCS#1, PKCS#8; RFC 8017, RFC 5208), a self-signed lab
//! certificate and certificate inspection (RFC 5280), TLS signatures identified by their
//! SignatureScheme code point (RFC 8446 §4.2.3, RFC 5246 §7.4.1.4.1) and PKCS#1 v1.5 key
//! transport (RFC 5246 §7.4.7.1).
//!
//! Nothing here panics on bytes read from a file or the network: malformed input gives a
//! [`PkiError`] that says what is wrong and, for files, where.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use rand::CryptoRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::oid::db::{rfc5912, DB};
use x509_cert::der::{AnyRef, Decode, Reader, SliceReader, Tag, Tagged};
use x509_cert::spki::AlgorithmIdentifierRef;

mod cert;
mod files;
mod pem;
mod sign;
mod transport;
mod verify;

pub use cert::{
    load_certificates, parse_certificate, parse_certificates, self_signed_cert, CertInfo,
    CertParams,
};
pub use files::{write_certificate_pem, write_private_key};
use pem::{decode_pem_block, find, pem_blocks, PEM_BEGIN};
pub use sign::{
    scheme_name, sign, verify, PSS_SCHEMES, RSA_PKCS1_SHA1, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384,
    RSA_PKCS1_SHA512, RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384, RSA_PSS_RSAE_SHA512, RSA_SCHEMES,
};
pub use transport::{rsa_decrypt_pkcs1, rsa_encrypt_pkcs1};
pub use verify::{check_validity, matches_server_name, verify_issued_by};

/// Smallest RSA modulus [`generate_key`] accepts, in bits.
pub const MIN_KEY_BITS: usize = 1024;
/// Largest RSA modulus [`generate_key`] accepts, in bits.
pub const MAX_KEY_BITS: usize = 8192;

// ---------------------------------------------------------------------------------------------
// Errors

/// Everything that can go wrong in this module.
#[derive(Debug)]
#[non_exhaustive]
pub enum PkiError {
    /// A file could not be read, created, written or renamed.
    Io {
        /// What was being done ("read", "create", ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The contents of a file are wrong; `source` says how. Displays as "PATH: problem".
    InFile {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong with its contents.
        source: Box<PkiError>,
    },
    /// The destination exists and overwriting was not asked for.
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Bytes that are not valid PEM or DER of the expected structure.
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// PEM input without a block of the expected kind.
    MissingPemBlock {
        /// The labels that would have been accepted.
        expected: &'static str,
        /// The labels that were found.
        found: Vec<String>,
    },
    /// A password-protected private key.
    EncryptedKey {
        /// The encryption format found.
        format: &'static str,
    },
    /// A key (or certificate key) of another algorithm than RSA.
    NotRsa {
        /// The algorithm, by name and OID where known.
        algorithm: String,
    },
    /// A key size outside [`MIN_KEY_BITS`]..=[`MAX_KEY_BITS`].
    KeySize {
        /// The size asked for.
        bits: usize,
    },
    /// The key is too small for the signature scheme (RSASSA-PSS with SHA-512 needs > 1024 bits).
    KeyTooSmall {
        /// The TLS SignatureScheme.
        scheme: u16,
        /// The modulus size.
        bits: usize,
    },
    /// Certificate parameters that cannot be encoded (names, dates).
    InvalidParams {
        /// What is wrong.
        detail: String,
    },
    /// An RSA operation failed.
    Rsa {
        /// The operation.
        op: &'static str,
        /// The rsa crate's error.
        source: rsa::Error,
    },
    /// Building or encoding a structure failed.
    Encode {
        /// What was being encoded.
        what: &'static str,
        /// The encoder's complaint.
        detail: String,
    },
    /// A TLS SignatureScheme that is not an RSA scheme this module implements.
    UnknownScheme(u16),
    /// A certificate signature algorithm this module cannot verify.
    UnsupportedSignatureAlgorithm {
        /// The algorithm, by name and OID where known.
        algorithm: String,
    },
    /// A signature that does not verify.
    BadSignature {
        /// What was being verified.
        what: String,
    },
    /// The certificate names another issuer than the certificate offered as its issuer.
    IssuerMismatch {
        /// The certificate's issuer field.
        cert_issuer: String,
        /// The would-be issuer's subject field.
        issuer_subject: String,
    },
    /// The certificate's notBefore lies after the time checked.
    NotYetValid {
        /// notBefore.
        not_before: String,
        /// The time checked.
        now: String,
    },
    /// The certificate's notAfter lies before the time checked.
    Expired {
        /// notAfter.
        not_after: String,
        /// The time checked.
        now: String,
    },
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io {
                action,
                path,
                source,
            } => {
                write!(f, "cannot {action} {}: {source}", path.display())
            }
            Self::InFile { path, source } => write!(f, "{}: {source}", path.display()),
            Self::AlreadyExists { path } => write!(
                f,
                "refusing to overwrite existing file {} (use --force to replace it)",
                path.display()
            ),
            Self::Malformed { what, detail } => write!(f, "malformed {what}: {detail}"),
            Self::MissingPemBlock { expected, found } => {
                if found.is_empty() {
                    write!(f, "no PEM block found, expected {expected}")
                } else {
                    write!(
                        f,
                        "no {expected} PEM block found (found: {})",
                        found.join(", ")
                    )
                }
            }
            Self::EncryptedKey { format } => write!(
                f,
                "private key is encrypted ({format}); decrypt it first, e.g. \
                 `openssl pkey -in enc.key -out plain.key`"
            ),
            Self::NotRsa { algorithm } => write!(f, "not an RSA key: {algorithm}"),
            Self::KeySize { bits } => write!(
                f,
                "RSA key size {bits} bits is out of range {MIN_KEY_BITS}..={MAX_KEY_BITS}"
            ),
            Self::KeyTooSmall { scheme, bits } => write!(
                f,
                "a {bits}-bit RSA key is too small for {} (0x{scheme:04x})",
                scheme_name(*scheme).unwrap_or("?")
            ),
            Self::InvalidParams { detail } => write!(f, "invalid certificate parameters: {detail}"),
            Self::Rsa { op, source } => write!(f, "RSA {op} failed: {source}"),
            Self::Encode { what, detail } => write!(f, "cannot encode {what}: {detail}"),
            Self::UnknownScheme(s) => {
                write!(f, "unknown or non-RSA TLS signature scheme 0x{s:04x}")
            }
            Self::UnsupportedSignatureAlgorithm { algorithm } => {
                write!(
                    f,
                    "unsupported certificate signature algorithm: {algorithm}"
                )
            }
            Self::BadSignature { what } => write!(f, "signature verification failed: {what}"),
            Self::IssuerMismatch {
                cert_issuer,
                issuer_subject,
            } => write!(
                f,
                "certificate issuer \"{cert_issuer}\" does not match the issuer certificate's \
                 subject \"{issuer_subject}\""
            ),
            Self::NotYetValid { not_before, now } => {
                write!(
                    f,
                    "certificate is not valid before {not_before} (time checked: {now})"
                )
            }
            Self::Expired { not_after, now } => {
                write!(
                    f,
                    "certificate expired at {not_after} (time checked: {now})"
                )
            }
        }
    }
}

/// Every message is self-contained (it already includes the underlying cause), so
/// `source()` is `None` and `{:#}` in anyhow does not repeat it.
impl std::error::Error for PkiError {}

fn malformed(what: &'static str, detail: impl fmt::Display) -> PkiError {
    PkiError::Malformed {
        what,
        detail: detail.to_string(),
    }
}

fn encode_err(what: &'static str, detail: impl fmt::Display) -> PkiError {
    PkiError::Encode {
        what,
        detail: detail.to_string(),
    }
}

fn rsa_err(op: &'static str) -> impl FnOnce(rsa::Error) -> PkiError {
    move |source| PkiError::Rsa { op, source }
}

fn in_file(path: &Path) -> impl FnOnce(PkiError) -> PkiError + '_ {
    move |e| PkiError::InFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    }
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PkiError + 'a {
    move |source| PkiError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

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
fn describe_algorithm(alg: &AlgorithmIdentifierRef<'_>) -> String {
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

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use rand::rngs::ChaCha20Rng;
    use rand::SeedableRng;
    use std::time::{Duration, SystemTime};

    use rsa::pkcs8::{DecodePublicKey, LineEnding};
    use x509_cert::der;

    use crate::test_support::{openssl, TempDir};

    pub(super) fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    pub(super) fn key1024(seed: u64) -> PrivateKey {
        generate_key(&mut rng(seed), 1024).expect("keygen")
    }

    pub(super) fn lab_cert(key: &PrivateKey, seed: u64) -> Vec<u8> {
        let params = CertParams::lab_default(SystemTime::now() - Duration::from_secs(3600));
        self_signed_cert(key, &params, &mut rng(seed)).expect("cert")
    }

    pub(super) fn to_pem(der: &[u8]) -> String {
        der::pem::encode_string("CERTIFICATE", LineEnding::LF, der).expect("pem")
    }

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

    #[test]
    fn errors_display_and_chain() {
        let e = PkiError::InFile {
            path: PathBuf::from("/x/server.key"),
            source: Box::new(PkiError::NotRsa {
                algorithm: "id-ecPublicKey".into(),
            }),
        };
        assert_eq!(
            e.to_string(),
            "/x/server.key: not an RSA key: id-ecPublicKey"
        );
        assert!(std::error::Error::source(&e).is_none());
        assert_eq!(
            PkiError::UnknownScheme(0x0403).to_string(),
            "unknown or non-RSA TLS signature scheme 0x0403"
        );
    }
}
