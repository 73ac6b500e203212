//! X.509 certificates (RFC 5280): the lab's self-signed certificate, and reading certificates
//! (PEM or DER) into what pfslab needs to know about them.

use std::fmt;
use std::fs;
use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rand::CryptoRng;
use rsa::pkcs8::DecodePublicKey;
use rsa::{PrivateKey, PublicKey};
use sha2::{Digest, Sha256};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::der::asn1::{Any, Ia5String, Ia5StringRef, Utf8StringRef};
use x509_cert::der::oid::db::{rfc4519, rfc5280, rfc5912};
use x509_cert::der::{Decode, Encode};
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

use super::key::describe_algorithm;
use super::pem::{decode_pem_block, find, pem_blocks, PEM_BEGIN};
use super::{encode_err, in_file, io_err, malformed, PkiError};

// ---------------------------------------------------------------------------------------------
// Building

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
// Reading

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

pub(super) fn rsa_public_key(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey, PkiError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    use rsa::pkcs8::{EncodePrivateKey, LineEnding};

    use crate::pki::tests::{key1024, lab_cert, rng, to_pem};
    use crate::pki::{
        check_validity, generate_key, key_matches_certificate, parse_private_key, verify_issued_by,
        write_certificate_pem, write_private_key,
    };
    use crate::test_support::{openssl, TempDir};

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
}
