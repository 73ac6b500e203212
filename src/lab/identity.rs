//! Loading the lab's identity and naming its suites: the shared glue between commands.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::crypto::rng;
use crate::pki::{self, PkiError};
use crate::suites::{self, Suite};

/// Where `keygen` writes and other commands look by default.
pub const DEFAULT_KEY_DIR: &str = "keys";

pub fn key_path(dir: &Path) -> PathBuf {
    dir.join("server.key")
}

pub fn cert_path(dir: &Path) -> PathBuf {
    dir.join("server.crt")
}

/// A certificate's start of validity: an hour ago, or a fixed date when seeded so the
/// certificate (and every capture that carries it) is reproducible.
pub fn cert_not_before(seed: Option<u64>) -> SystemTime {
    match seed {
        // 2026-01-01T00:00:00Z
        Some(_) => UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        None => SystemTime::now() - Duration::from_secs(3600),
    }
}

/// The key and certificate `keygen` makes for `seed`, in memory.
fn seeded_identity(bits: usize, seed: Option<u64>) -> Result<(rsa::PrivateKey, Vec<u8>), PkiError> {
    let mut r = rng::for_purpose(seed, "keygen");
    let key = pki::generate_key(&mut r, bits)?;
    let cert = pki::self_signed_cert(
        &key,
        &pki::CertParams::lab_default(cert_not_before(seed)),
        &mut r,
    )?;
    Ok((key, cert))
}

/// Whether `identity` is the one `keygen --seed seed` makes: only then is a seeded recording
/// reproducible from the seed alone.
pub fn made_with_seed(identity: &Identity, seed: u64) -> Result<bool, PkiError> {
    let bits = pki::modulus_bits(&identity.leaf.public_key);
    let (_, cert) = seeded_identity(bits, Some(seed))?;
    Ok(identity.chain.first() == Some(&cert))
}

/// Generates a key and a self-signed certificate into `dir`.
pub fn keygen(
    dir: &Path,
    bits: usize,
    seed: Option<u64>,
    force: bool,
) -> Result<(PathBuf, PathBuf, pki::CertInfo), PkiError> {
    let (key, cert) = seeded_identity(bits, seed)?;
    let info = pki::parse_certificate(&cert)?;
    std::fs::create_dir_all(dir).map_err(|e| PkiError::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source: e,
    })?;
    let (kp, cp) = (key_path(dir), cert_path(dir));
    if !force {
        for p in [&kp, &cp] {
            if p.exists() {
                return Err(PkiError::AlreadyExists { path: p.clone() });
            }
        }
    }
    pki::write_private_key(&kp, &key, force)?;
    pki::write_certificate_pem(&cp, &cert, force)?;
    Ok((kp, cp, info))
}

/// The server's key and chain, checked to belong together.
pub struct Identity {
    pub key: Arc<rsa::PrivateKey>,
    pub chain: Vec<Vec<u8>>,
    pub leaf: pki::CertInfo,
}

#[derive(Debug)]
pub enum IdentityError {
    Pki(PkiError),
    Mismatch { key: PathBuf, cert: PathBuf },
    NoCertificate { cert: PathBuf },
}

impl std::fmt::Display for IdentityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pki(e) => write!(f, "{e}"),
            Self::Mismatch { key, cert } => write!(
                f,
                "the private key {} does not belong to the certificate {}",
                key.display(),
                cert.display()
            ),
            Self::NoCertificate { cert } => write!(f, "{} holds no certificate", cert.display()),
        }
    }
}

impl std::error::Error for IdentityError {}

impl From<PkiError> for IdentityError {
    fn from(e: PkiError) -> Self {
        Self::Pki(e)
    }
}

pub fn load_identity(key_file: &Path, cert_file: &Path) -> Result<Identity, IdentityError> {
    let key = pki::load_private_key(key_file)?;
    let chain = pki::load_certificates(cert_file)?;
    let leaf_der = chain.first().ok_or_else(|| IdentityError::NoCertificate {
        cert: cert_file.to_path_buf(),
    })?;
    let leaf = pki::parse_certificate(leaf_der)?;
    if !pki::key_matches_certificate(&key, &leaf) {
        return Err(IdentityError::Mismatch {
            key: key_file.to_path_buf(),
            cert: cert_file.to_path_buf(),
        });
    }
    Ok(Identity {
        key: Arc::new(key),
        chain,
        leaf,
    })
}

/// Command-line suite names: `rsa`, `ecdhe`, `dhe` (the lab's three), `rsa256`/`ecdhe256` (AES-256,
/// SHA-384), `rsa-cbc`/`ecdhe-cbc`/`dhe-cbc` (AES-128-CBC-SHA), `rsa-cbc256` (AES-128-CBC-SHA256),
/// `rsa256-cbc` (AES-256-CBC-SHA256), or an IANA name.
pub fn parse_suite(name: &str) -> Result<Suite, String> {
    let lower = name.trim().to_ascii_lowercase();
    let found = match lower.as_str() {
        "rsa" => Some(suites::TLS_RSA_WITH_AES_128_GCM_SHA256),
        "ecdhe" => Some(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        "dhe" => Some(suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256),
        "rsa256" => Some(suites::TLS_RSA_WITH_AES_256_GCM_SHA384),
        "ecdhe256" => Some(suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384),
        "rsa-cbc" => Some(suites::TLS_RSA_WITH_AES_128_CBC_SHA),
        "rsa-cbc256" => Some(suites::TLS_RSA_WITH_AES_128_CBC_SHA256),
        "rsa256-cbc" => Some(suites::TLS_RSA_WITH_AES_256_CBC_SHA256),
        "ecdhe-cbc" => Some(suites::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA),
        "dhe-cbc" => Some(suites::TLS_DHE_RSA_WITH_AES_128_CBC_SHA),
        "tls13" | "tls13-aes128" => Some(suites::TLS13_AES_128_GCM_SHA256),
        "tls13-aes256" => Some(suites::TLS13_AES_256_GCM_SHA384),
        _ => suites::TLS12_SUITES
            .iter()
            .chain(suites::TLS13_SUITES)
            .copied()
            .find(|s| s.name.eq_ignore_ascii_case(name.trim())),
    };
    found.ok_or_else(|| format!("unknown suite '{name}' (use rsa, ecdhe, dhe, rsa256, ecdhe256, rsa-cbc, rsa-cbc256, rsa256-cbc, ecdhe-cbc, dhe-cbc, tls13, tls13-aes256 or an IANA name such as TLS_RSA_WITH_AES_128_GCM_SHA256)"))
}

pub fn parse_suite_list(list: &str) -> Result<Vec<Suite>, String> {
    let mut out: Vec<Suite> = Vec::new();
    for name in list.split(',').filter(|s| !s.trim().is_empty()) {
        // `tls13` in a list means both TLS 1.3 suites.
        let group: Vec<Suite> = if name.trim().eq_ignore_ascii_case("tls13") {
            suites::TLS13_SUITES.to_vec()
        } else {
            vec![parse_suite(name)?]
        };
        for s in group {
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    if out.is_empty() {
        return Err("no suites given".into());
    }
    Ok(out)
}
