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
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rand::CryptoRng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::asn1::{Any, Ia5String, Ia5StringRef, ObjectIdentifier, Utf8StringRef};
use x509_cert::der::oid::db::{rfc4519, rfc5280, rfc5912, DB};
use x509_cert::der::{AnyRef, Decode, Encode, Reader, SliceReader, Tag, Tagged};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate};

mod files;
mod pem;
mod sign;
mod transport;
mod verify;

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
// Certificates: building

/// What goes into the lab's self-signed certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertParams {
    /// Subject (and issuer) commonName.
    pub common_name: String,
    /// subjectAltName dNSName entries (ASCII; RFC 5280 §4.2.1.6).
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub ip_addrs: Vec<IpAddr>,
    /// notBefore; fractions of a second are dropped.
    pub not_before: SystemTime,
    /// notAfter = notBefore + this many days.
    pub validity_days: u32,
}

impl CertParams {
    /// The lab server's certificate: CN "pfslab lab server", SAN `localhost` and `127.0.0.1`,
    /// ten years (3650 days) from `not_before`.
    #[must_use]
    pub fn lab_default(not_before: SystemTime) -> Self {
        Self {
            common_name: "pfslab lab server".to_owned(),
            dns_names: vec!["localhost".to_owned()],
            ip_addrs: vec![IpAddr::from([127, 0, 0, 1])],
            not_before,
            validity_days: 3650,
        }
    }
}

/// Builder profile for a self-signed TLS server certificate (RFC 5280 §4.2.1).
struct LabProfile {
    subject: Name,
    alt_names: Vec<GeneralName>,
}

impl BuilderProfile for LabProfile {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let mut exts: Vec<Extension> = Vec::new();
        // Self-signed, so it is its own trust anchor: CA:TRUE + keyCertSign (§4.2.1.9, §4.2.1.3).
        let bc = BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        exts.push(bc.to_extension(subject, &exts)?);
        let usage =
            KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment | KeyUsages::KeyCertSign;
        exts.push(KeyUsage(usage).to_extension(subject, &exts)?);
        let eku = ExtendedKeyUsage(vec![rfc5280::ID_KP_SERVER_AUTH]);
        exts.push(eku.to_extension(subject, &exts)?);
        if !self.alt_names.is_empty() {
            exts.push(SubjectAltName(self.alt_names.clone()).to_extension(subject, &exts)?);
        }
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(ski.0.clone()),
            ..Default::default()
        };
        exts.push(ski.to_extension(subject, &exts)?);
        exts.push(aki.to_extension(subject, &exts)?);
        Ok(exts)
    }
}

/// Builds a self-signed X.509 v3 certificate (RFC 5280) for `key`, signed with
/// sha256WithRSAEncryption (RFC 8017 §9.2, RFC 4055): issuer = subject = CN, a random positive
/// 16-byte serial drawn from `rng`, basicConstraints CA:TRUE, keyUsage digitalSignature +
/// keyEncipherment + keyCertSign, extKeyUsage serverAuth, subjectAltName, and key identifiers.
///
/// The DER depends only on `key`, `params` and the state of `rng`.
///
/// # Errors
/// [`PkiError::InvalidParams`] for an empty CN, a non-ASCII DNS name, zero days or a date out
/// of range; [`PkiError::Encode`] if building or signing fails.
pub fn self_signed_cert<R: CryptoRng + ?Sized>(
    key: &PrivateKey,
    params: &CertParams,
    rng: &mut R,
) -> Result<Vec<u8>, PkiError> {
    let invalid = |detail: String| PkiError::InvalidParams { detail };
    if params.common_name.is_empty() {
        return Err(invalid("common name is empty".into()));
    }
    if params.validity_days == 0 {
        return Err(invalid("validity_days is 0".into()));
    }
    let subject = common_name_to_name(&params.common_name)?;
    let mut alt_names = Vec::new();
    for dns in &params.dns_names {
        let ia5 = Ia5String::new(dns)
            .ok()
            .filter(|_| !dns.is_empty())
            .ok_or_else(|| invalid(format!("DNS name {dns:?} is empty or not ASCII")))?;
        alt_names.push(GeneralName::DnsName(ia5));
    }
    alt_names.extend(params.ip_addrs.iter().map(|ip| GeneralName::from(*ip)));

    let lifetime = Duration::from_secs(u64::from(params.validity_days) * 86_400);
    let not_after = params
        .not_before
        .checked_add(lifetime)
        .ok_or_else(|| invalid("notAfter overflows".into()))?;
    let to_time = |t: SystemTime, which: &str| {
        Time::try_from(t).map_err(|e| invalid(format!("{which} not representable: {e}")))
    };
    let validity = Validity::new(
        to_time(params.not_before, "notBefore")?,
        to_time(not_after, "notAfter")?,
    );

    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    // Positive (RFC 5280 §4.1.2.2) and exactly 16 bytes: clear the sign bit, keep byte 0 non-zero.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    let serial = SerialNumber::new(&serial).map_err(|e| encode_err("serial number", e))?;

    let spki = SubjectPublicKeyInfoOwned::from_key(key.as_public_key())
        .map_err(|e| encode_err("SubjectPublicKeyInfo", e))?;
    let profile = LabProfile { subject, alt_names };
    let builder = CertificateBuilder::new(profile, serial, validity, spki)
        .map_err(|e| encode_err("certificate", e))?;
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone());
    let cert = builder
        .build_with_rng::<_, rsa::pkcs1v15::Signature, _>(&signer, rng)
        .map_err(|e| encode_err("certificate", e))?;
    cert.to_der().map_err(|e| encode_err("certificate", e))
}

/// `CN=<cn>` as a one-attribute Name, the value a UTF8String (RFC 5280 §4.1.2.4).
fn common_name_to_name(cn: &str) -> Result<Name, PkiError> {
    let value = Utf8StringRef::new(cn)
        .and_then(|s| Any::encode_from(&s))
        .map_err(|e| PkiError::InvalidParams {
            detail: format!("common name {cn:?}: {e}"),
        })?;
    let atv = AttributeTypeAndValue {
        oid: rfc4519::CN,
        value,
    };
    let rdn = RelativeDistinguishedName::try_from(vec![atv])
        .map_err(|e| encode_err("subject name", e))?;
    let der = RdnSequence::from(vec![rdn])
        .to_der()
        .map_err(|e| encode_err("subject name", e))?;
    Name::from_der(&der).map_err(|e| encode_err("subject name", e))
}

// ---------------------------------------------------------------------------------------------
// Certificates: reading

/// What pfslab needs to know about a certificate.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// Subject in RFC 4514 string form.
    pub subject: String,
    /// Issuer in RFC 4514 string form.
    pub issuer: String,
    /// The subject's commonName, if any (used for name matching only without SANs).
    pub common_name: Option<String>,
    /// Serial number, upper-case hex without separators, as `openssl x509 -serial` prints it.
    pub serial_hex: String,
    /// notBefore, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_before: String,
    /// notAfter, `YYYY-MM-DDTHH:MM:SSZ`.
    pub not_after: String,
    /// subjectAltName dNSName entries.
    pub dns_names: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub ip_addrs: Vec<IpAddr>,
    /// The subject's RSA public key.
    pub public_key: PublicKey,
    /// SHA-256 of the certificate DER.
    pub sha256_fingerprint: [u8; 32],
}

/// Parses one or more certificates: PEM `CERTIFICATE` blocks (others are skipped) or a single
/// DER certificate. Each is checked to decode as an X.509 certificate (RFC 5280 §4.1).
///
/// # Errors
/// [`PkiError::Malformed`] for undecodable input, [`PkiError::MissingPemBlock`] for PEM
/// without a certificate.
pub fn parse_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, PkiError> {
    if find(bytes, PEM_BEGIN, 0).is_none() {
        Certificate::from_der(bytes).map_err(|e| malformed("X.509 certificate (DER)", e))?;
        return Ok(vec![bytes.to_vec()]);
    }
    let blocks = pem_blocks(bytes)?;
    let mut certs = Vec::new();
    for block in blocks.iter().filter(|b| b.label == "CERTIFICATE") {
        let der = decode_pem_block(block, "certificate PEM")?;
        Certificate::from_der(&der).map_err(|e| malformed("X.509 certificate", e))?;
        certs.push(der);
    }
    if certs.is_empty() {
        return Err(PkiError::MissingPemBlock {
            expected: "CERTIFICATE",
            found: blocks.iter().map(|b| b.label.to_owned()).collect(),
        });
    }
    Ok(certs)
}

/// Reads and parses a certificate file (see [`parse_certificates`]).
///
/// # Errors
/// [`PkiError::Io`] if the file cannot be read; otherwise the parse error wrapped in
/// [`PkiError::InFile`] naming the path.
pub fn load_certificates(path: &Path) -> Result<Vec<Vec<u8>>, PkiError> {
    let bytes = fs::read(path).map_err(io_err("read", path))?;
    parse_certificates(&bytes).map_err(in_file(path))
}

/// Decodes a DER certificate (RFC 5280 §4.1) into a [`CertInfo`].
///
/// # Errors
/// [`PkiError::Malformed`] for bad DER or extensions, [`PkiError::NotRsa`] (naming the
/// algorithm) if the subject key is not rsaEncryption.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, PkiError> {
    let cert = Certificate::from_der(der).map_err(|e| malformed("X.509 certificate", e))?;
    let tbs = cert.tbs_certificate();
    let public_key = rsa_public_key(tbs.subject_public_key_info())?;

    let mut dns_names = Vec::new();
    let mut ip_addrs = Vec::new();
    let san = tbs
        .get_extension::<SubjectAltName>()
        .map_err(|e| malformed("subjectAltName extension", e))?;
    for name in san.map(|(_, san)| san.0).unwrap_or_default() {
        match name {
            GeneralName::DnsName(dns) => {
                dns_names.push(Ia5StringRef::from(&dns).as_str().to_owned());
            }
            GeneralName::IpAddress(octets) => {
                let raw = octets.as_bytes();
                let ip = <[u8; 4]>::try_from(raw)
                    .map(IpAddr::from)
                    .or_else(|_| <[u8; 16]>::try_from(raw).map(IpAddr::from))
                    .map_err(|_| {
                        malformed("subjectAltName iPAddress", format!("{} bytes", raw.len()))
                    })?;
                ip_addrs.push(ip);
            }
            _ => {}
        }
    }
    let common_name = tbs
        .subject()
        .common_name()
        .map_err(|e| malformed("subject commonName", e))?
        .map(String::from);
    let validity = tbs.validity();
    Ok(CertInfo {
        subject: tbs.subject().to_string(),
        issuer: tbs.issuer().to_string(),
        common_name,
        serial_hex: hex_upper(tbs.serial_number().as_bytes()),
        not_before: validity.not_before.to_string(),
        not_after: validity.not_after.to_string(),
        dns_names,
        ip_addrs,
        public_key,
        sha256_fingerprint: Sha256::digest(der).into(),
    })
}

fn hex_upper(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02X}");
            out
        })
}

fn rsa_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey, PkiError> {
    if spki.algorithm.oid != rfc5912::RSA_ENCRYPTION {
        let alg = AlgorithmIdentifierRef {
            oid: spki.algorithm.oid,
            parameters: spki.algorithm.parameters.as_ref().map(Any::to_ref),
        };
        return Err(PkiError::NotRsa {
            algorithm: describe_algorithm(&alg),
        });
    }
    let der = spki
        .to_der()
        .map_err(|e| encode_err("SubjectPublicKeyInfo", e))?;
    PublicKey::from_public_key_der(&der).map_err(|e| malformed("RSA public key", e))
}

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    use rand::rngs::ChaCha20Rng;
    use rand::SeedableRng;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
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
    fn same_seed_same_key_and_cert() {
        let params =
            CertParams::lab_default(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let make = || {
            let mut r = rng(42);
            let key = generate_key(&mut r, 1024).expect("keygen");
            let der = self_signed_cert(&key, &params, &mut r).expect("cert");
            (key, der)
        };
        let (k1, c1) = make();
        let (k2, c2) = make();
        assert_eq!(k1, k2);
        assert_eq!(c1, c2);
        let (_, c3) = {
            let mut r = rng(43);
            let key = generate_key(&mut r, 1024).expect("keygen");
            let der = self_signed_cert(&key, &params, &mut r).expect("cert");
            (key, der)
        };
        assert_ne!(c1, c3);
    }

    #[test]
    fn self_signed_cert_contents() {
        let key = key1024(2);
        let params =
            CertParams::lab_default(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let der = self_signed_cert(&key, &params, &mut rng(2)).expect("cert");
        let info = parse_certificate(&der).expect("parse");
        assert_eq!(info.subject, "CN=pfslab lab server");
        assert_eq!(info.issuer, info.subject);
        assert_eq!(info.common_name.as_deref(), Some("pfslab lab server"));
        assert_eq!(info.dns_names, vec!["localhost".to_owned()]);
        assert_eq!(info.ip_addrs, vec![IpAddr::from([127, 0, 0, 1])]);
        assert_eq!(info.serial_hex.len(), 32);
        assert!(u8::from_str_radix(&info.serial_hex[..2], 16).expect("hex") < 0x80);
        assert_eq!(info.not_before, "2023-11-14T22:13:20Z");
        assert_eq!(info.not_after, "2033-11-11T22:13:20Z");
        assert!(key_matches_certificate(&key, &info));
        assert!(!key_matches_certificate(&key1024(3), &info));
        assert_eq!(
            info.sha256_fingerprint,
            <[u8; 32]>::from(Sha256::digest(&der))
        );
        verify_issued_by(&der, &der).expect("self-signature verifies");

        let cert = Certificate::from_der(&der).expect("decode");
        assert_eq!(
            cert.signature_algorithm().oid,
            rfc5912::SHA_256_WITH_RSA_ENCRYPTION
        );
        let tbs = cert.tbs_certificate();
        assert_eq!(tbs.version(), x509_cert::Version::V3);
        let (_, ku) = tbs
            .get_extension::<KeyUsage>()
            .expect("ku")
            .expect("ku present");
        assert!(ku.digital_signature() && ku.key_encipherment() && ku.key_cert_sign());
        let (_, eku) = tbs
            .get_extension::<ExtendedKeyUsage>()
            .expect("eku")
            .expect("eku present");
        assert_eq!(eku.0, vec![rfc5280::ID_KP_SERVER_AUTH]);
    }

    #[test]
    fn self_signed_cert_rejects_bad_params() {
        let key = key1024(4);
        let mut params = CertParams::lab_default(SystemTime::now());
        params.dns_names = vec!["bücher.example".into()];
        assert!(matches!(
            self_signed_cert(&key, &params, &mut rng(4)),
            Err(PkiError::InvalidParams { .. })
        ));
        let mut params = CertParams::lab_default(SystemTime::now());
        params.validity_days = 0;
        assert!(matches!(
            self_signed_cert(&key, &params, &mut rng(4)),
            Err(PkiError::InvalidParams { .. })
        ));
        let params = CertParams::lab_default(SystemTime::UNIX_EPOCH - Duration::from_secs(1));
        assert!(matches!(
            self_signed_cert(&key, &params, &mut rng(4)),
            Err(PkiError::InvalidParams { .. })
        ));
    }

    #[test]
    fn openssl_accepts_self_signed_cert() {
        let dir = TempDir::new("verify");
        let key = generate_key(&mut rng(5), 2048).expect("keygen");
        let der = lab_cert(&key, 5);
        let cert_path = dir.path("c.pem");
        let key_path = dir.path("k.pem");
        write_certificate_pem(&cert_path, &der, false).expect("write cert");
        write_private_key(&key_path, &key, false).expect("write key");
        let out = openssl(&dir, &["verify", "-CAfile", "c.pem", "c.pem"]);
        assert!(out.contains("c.pem: OK"), "{out}");
        openssl(
            &dir,
            &[
                "verify",
                "-purpose",
                "sslserver",
                "-CAfile",
                "c.pem",
                "c.pem",
            ],
        );
        let text = openssl(&dir, &["x509", "-in", "c.pem", "-noout", "-text"]);
        assert!(
            text.contains("DNS:localhost, IP Address:127.0.0.1"),
            "{text}"
        );
        assert!(text.contains("TLS Web Server Authentication"), "{text}");
        let serial = openssl(&dir, &["x509", "-in", "c.pem", "-noout", "-serial"]);
        let info = parse_certificate(&der).expect("parse");
        assert_eq!(serial.trim(), format!("serial={}", info.serial_hex));
        // The key file matches the certificate by openssl's reckoning too.
        let m1 = openssl(&dir, &["x509", "-in", "c.pem", "-noout", "-modulus"]);
        let m2 = openssl(&dir, &["rsa", "-in", "k.pem", "-noout", "-modulus"]);
        assert_eq!(m1, m2);
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
    fn garbage_and_truncation_are_errors_not_panics() {
        let key = key1024(8);
        let key_der = key.to_pkcs8_der().expect("der");
        let key_der = key_der.as_bytes();
        let pkcs1_der = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_der(&key).expect("pkcs1");
        let pkcs1_der = pkcs1_der.as_bytes();
        let cert_der = lab_cert(&key, 8);
        for cut in 0..key_der.len() {
            assert!(
                parse_private_key(&key_der[..cut]).is_err(),
                "pkcs8 cut {cut}"
            );
        }
        for cut in 0..pkcs1_der.len() {
            assert!(
                parse_private_key(&pkcs1_der[..cut]).is_err(),
                "pkcs1 cut {cut}"
            );
        }
        for cut in 0..cert_der.len() {
            let c = &cert_der[..cut];
            assert!(parse_certificate(c).is_err(), "cert cut {cut}");
            assert!(parse_certificates(c).is_err(), "certs cut {cut}");
            assert!(verify_issued_by(c, &cert_der).is_err(), "verify cut {cut}");
            assert!(verify_issued_by(&cert_der, c).is_err(), "issuer cut {cut}");
            assert!(
                check_validity(c, SystemTime::now()).is_err(),
                "validity cut {cut}"
            );
        }
        let key_pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem");
        let cert_pem = to_pem(&cert_der);
        // Cuts that keep the whole END line are still valid PEM.
        for cut in 0..key_pem.trim_end().len() {
            assert!(
                parse_private_key(&key_pem.as_bytes()[..cut]).is_err(),
                "key pem cut {cut}"
            );
        }
        for cut in 0..cert_pem.trim_end().len() {
            assert!(
                parse_certificates(&cert_pem.as_bytes()[..cut]).is_err(),
                "cert pem cut {cut}"
            );
        }
        // Flipped bytes anywhere: no panic (result may be Ok or Err).
        for i in 0..cert_der.len() {
            let mut c = cert_der.clone();
            c[i] ^= 0x55;
            let _ = parse_certificate(&c);
            let _ = verify_issued_by(&c, &cert_der);
        }
        for garbage in [
            &b""[..],
            b"\x30",
            b"\x30\x80",
            b"hello",
            b"-----BEGIN ",
            b"-----BEGIN X-----\n",
            b"-----BEGIN \n-----END -----",
            b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
        ] {
            assert!(parse_private_key(garbage).is_err());
            assert!(parse_certificates(garbage).is_err());
            assert!(parse_certificate(garbage).is_err());
        }
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
