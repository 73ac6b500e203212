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

mod cert;
mod files;
mod key;
mod pem;
mod sign;
mod transport;
mod verify;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use cert::{
    load_certificates, parse_certificate, parse_certificates, self_signed_cert, CertInfo,
    CertParams,
};
pub use files::{write_certificate_pem, write_private_key};
pub use key::{
    generate_key, key_matches_certificate, load_private_key, modulus_bits, parse_private_key,
    public_key_der, MAX_KEY_BITS, MIN_KEY_BITS,
};
pub use sign::{
    fast_signature, scheme_name, sign, verify, PSS_SCHEMES, RSA_PKCS1_SHA1, RSA_PKCS1_SHA256,
    RSA_PKCS1_SHA384, RSA_PKCS1_SHA512, RSA_PSS_RSAE_SHA256, RSA_PSS_RSAE_SHA384,
    RSA_PSS_RSAE_SHA512, RSA_SCHEMES,
};
pub use transport::{rsa_decrypt_pkcs1, rsa_encrypt_pkcs1};
pub use verify::{check_validity, matches_server_name, verify_issued_by};

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

#[cfg(test)]
mod tests {
    //! Helpers shared by the unit tests of the pki files, and the error tests.

    use super::*;

    use std::time::{Duration, SystemTime};

    use rand::rngs::ChaCha20Rng;
    use rand::SeedableRng;
    use rsa::pkcs8::LineEnding;
    use rsa::PrivateKey;
    use x509_cert::der;

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
