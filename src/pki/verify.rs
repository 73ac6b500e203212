//! Certificate checks a TLS client makes (RFC 5280 §6.1, RFC 6125 §6): who signed it, when
//! it is valid, which names it covers.

use std::net::IpAddr;
use std::time::SystemTime;

use sha1::Sha1;
use sha2::{Sha256, Sha384, Sha512};
use x509_cert::der::oid::db::rfc5912;
use x509_cert::der::{self, DateTime, Decode, Header, Reader, SliceReader, Tag};
use x509_cert::spki::AlgorithmIdentifierRef;
use x509_cert::Certificate;

use super::cert::rsa_public_key;
use super::key::describe_algorithm;
use super::{malformed, CertInfo, PkiError};

/// The DER TBSCertificate exactly as it appears inside `cert_der` (RFC 5280 §4.1.1.1: the
/// signature covers these bytes, so they are not re-encoded).
fn tbs_bytes(cert_der: &[u8]) -> Result<&[u8], der::Error> {
    let mut reader = SliceReader::new(cert_der)?;
    let header = Header::decode(&mut reader)?;
    header.tag().assert_eq(Tag::Sequence)?;
    reader.tlv_bytes()
}

/// Verifies that `issuer_der`'s key signed `cert_der` (RFC 5280 §4.1.1.3, §6.1.3 (a)(1) and
/// (a)(4)): the issuer name must equal the issuer's subject, and the signature over the
/// TBSCertificate must verify with PKCS#1 v1.5 (RFC 8017 §8.2) and SHA-1/256/384/512.
///
/// # Errors
/// [`PkiError::IssuerMismatch`], [`PkiError::BadSignature`],
/// [`PkiError::UnsupportedSignatureAlgorithm`] (RSASSA-PSS, ECDSA, ...), or parse errors.
pub fn verify_issued_by(cert_der: &[u8], issuer_der: &[u8]) -> Result<(), PkiError> {
    let cert = Certificate::from_der(cert_der).map_err(|e| malformed("X.509 certificate", e))?;
    let issuer =
        Certificate::from_der(issuer_der).map_err(|e| malformed("issuer certificate", e))?;
    let (cert_issuer, issuer_subject) = (
        cert.tbs_certificate().issuer(),
        issuer.tbs_certificate().subject(),
    );
    if cert_issuer != issuer_subject {
        return Err(PkiError::IssuerMismatch {
            cert_issuer: cert_issuer.to_string(),
            issuer_subject: issuer_subject.to_string(),
        });
    }
    let alg = cert.signature_algorithm();
    if alg.oid != cert.tbs_certificate().signature().oid {
        return Err(malformed(
            "X.509 certificate",
            "signatureAlgorithm differs from the TBSCertificate signature field (RFC 5280 §4.1.1.2)",
        ));
    }
    let public = rsa_public_key(issuer.tbs_certificate().subject_public_key_info())?;
    let tbs = tbs_bytes(cert_der).map_err(|e| malformed("X.509 certificate", e))?;
    let signature = cert
        .signature()
        .as_bytes()
        .ok_or_else(|| malformed("certificate signature", "BIT STRING has unused bits"))?;
    let result = match alg.oid {
        rfc5912::SHA_256_WITH_RSA_ENCRYPTION => public.pkcs1v15_verify::<Sha256>(tbs, signature),
        rfc5912::SHA_384_WITH_RSA_ENCRYPTION => public.pkcs1v15_verify::<Sha384>(tbs, signature),
        rfc5912::SHA_512_WITH_RSA_ENCRYPTION => public.pkcs1v15_verify::<Sha512>(tbs, signature),
        rfc5912::SHA_1_WITH_RSA_ENCRYPTION => public.pkcs1v15_verify::<Sha1>(tbs, signature),
        _ => {
            let alg_ref = AlgorithmIdentifierRef {
                oid: alg.oid,
                parameters: None,
            };
            return Err(PkiError::UnsupportedSignatureAlgorithm {
                algorithm: describe_algorithm(&alg_ref),
            });
        }
    };
    result.map_err(|_| PkiError::BadSignature {
        what: format!(
            "certificate \"{}\" was not signed by the key of \"{issuer_subject}\"",
            cert.tbs_certificate().subject()
        ),
    })
}

/// Checks `now` against the certificate's validity period (RFC 5280 §4.1.2.5; both ends
/// inclusive).
///
/// # Errors
/// [`PkiError::NotYetValid`], [`PkiError::Expired`], or [`PkiError::Malformed`].
pub fn check_validity(cert_der: &[u8], now: SystemTime) -> Result<(), PkiError> {
    let cert = Certificate::from_der(cert_der).map_err(|e| malformed("X.509 certificate", e))?;
    let validity = cert.tbs_certificate().validity();
    let now_text = || {
        DateTime::from_system_time(now).map_or_else(|_| "before 1970".to_owned(), |t| t.to_string())
    };
    if now < validity.not_before.to_system_time() {
        return Err(PkiError::NotYetValid {
            not_before: validity.not_before.to_string(),
            now: now_text(),
        });
    }
    if now > validity.not_after.to_system_time() {
        return Err(PkiError::Expired {
            not_after: validity.not_after.to_string(),
            now: now_text(),
        });
    }
    Ok(())
}

/// Does the certificate name `name` (RFC 6125 §6)? An IP literal (optionally in brackets)
/// matches iPAddress SANs only; a DNS name matches dNSName SANs case-insensitively, where a
/// left-most `*` label stands for exactly one label (`*.example.com` matches `a.example.com`,
/// not `example.com` nor `a.b.example.com`). The subject CN is consulted only when the
/// certificate has no DNS or IP SANs at all (RFC 6125 §6.4.4).
#[must_use]
pub fn matches_server_name(info: &CertInfo, name: &str) -> bool {
    let bare = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let no_sans = info.dns_names.is_empty() && info.ip_addrs.is_empty();
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if no_sans {
            return info
                .common_name
                .as_deref()
                .and_then(|cn| cn.parse::<IpAddr>().ok())
                == Some(ip);
        }
        return info.ip_addrs.contains(&ip);
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return false;
    }
    if no_sans {
        return info
            .common_name
            .as_deref()
            .is_some_and(|cn| dns_name_matches(cn, name));
    }
    info.dns_names
        .iter()
        .any(|pattern| dns_name_matches(pattern, name))
}

fn dns_name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    match pattern.strip_prefix("*.") {
        Some(suffix) => {
            // At least two labels under the wildcard, and no further wildcards.
            if suffix.contains('*') || suffix.split('.').filter(|l| !l.is_empty()).count() < 2 {
                return false;
            }
            match name.split_once('.') {
                Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern.eq_ignore_ascii_case(name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::fs;
    use std::time::Duration;

    use crate::pki::tests::{key1024, lab_cert};
    use crate::pki::{
        key_matches_certificate, load_certificates, load_private_key, modulus_bits,
        parse_certificate, parse_certificates,
    };
    use crate::test_support::{openssl, TempDir};

    #[test]
    fn parses_openssl_certificates_and_chains() {
        let dir = TempDir::new("certs");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "30",
                "-subj",
                "/O=Lab Org/CN=Lab CA",
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:1024",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                "/CN=www.example.com",
            ],
        );
        fs::write(
            dir.path("ext.cnf"),
            "subjectAltName=DNS:www.example.com,DNS:*.example.net,IP:10.0.0.1,IP:::1\n",
        )
        .expect("write");
        for (hash, out) in [
            ("-sha256", "leaf256.pem"),
            ("-sha384", "leaf384.pem"),
            ("-sha512", "leaf512.pem"),
            ("-sha1", "leaf1.pem"),
        ] {
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    "leaf.csr",
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    hash,
                    "-days",
                    "5",
                    "-extfile",
                    "ext.cnf",
                    "-out",
                    out,
                ],
            );
        }
        let ca = load_certificates(&dir.path("ca.pem"))
            .expect("ca")
            .remove(0);
        let ca_info = parse_certificate(&ca).expect("ca info");
        assert_eq!(ca_info.common_name.as_deref(), Some("Lab CA"));
        assert!(ca_info.subject.contains("CN=Lab CA") && ca_info.subject.contains("O=Lab Org"));
        let ca_key = load_private_key(&dir.path("ca.key")).expect("ca key");
        assert!(key_matches_certificate(&ca_key, &ca_info));
        verify_issued_by(&ca, &ca).expect("ca self-signed");
        let fp = openssl(
            &dir,
            &["x509", "-in", "ca.pem", "-noout", "-fingerprint", "-sha256"],
        );
        let ours: Vec<String> = ca_info
            .sha256_fingerprint
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        assert!(fp.contains(&ours.join(":")), "{fp}");

        for name in ["leaf256.pem", "leaf384.pem", "leaf512.pem", "leaf1.pem"] {
            let leaf = load_certificates(&dir.path(name)).expect(name).remove(0);
            verify_issued_by(&leaf, &ca).expect(name);
            let e = verify_issued_by(&leaf, &leaf).expect_err("wrong issuer");
            assert!(matches!(e, PkiError::IssuerMismatch { .. }), "{e:?}");
            check_validity(&leaf, SystemTime::now()).expect("valid now");
        }
        let leaf = load_certificates(&dir.path("leaf256.pem"))
            .expect("leaf")
            .remove(0);
        let info = parse_certificate(&leaf).expect("leaf info");
        assert_eq!(
            info.dns_names,
            vec!["www.example.com".to_owned(), "*.example.net".to_owned()]
        );
        assert_eq!(
            info.ip_addrs,
            vec![
                IpAddr::from([10, 0, 0, 1]),
                "::1".parse::<IpAddr>().expect("ip")
            ]
        );
        assert_eq!(modulus_bits(&info.public_key), 1024);

        // Chain file: leaf then CA.
        let chain = format!(
            "{}{}",
            fs::read_to_string(dir.path("leaf256.pem")).expect("r"),
            fs::read_to_string(dir.path("ca.pem")).expect("r")
        );
        let certs = parse_certificates(chain.as_bytes()).expect("chain");
        assert_eq!(certs, vec![leaf.clone(), ca.clone()]);
        // DER form.
        openssl(
            &dir,
            &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
        );
        assert_eq!(
            load_certificates(&dir.path("ca.der")).expect("der"),
            vec![ca.clone()]
        );

        // A signature made by another key with the same names fails.
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:1024",
                "-nodes",
                "-keyout",
                "fake.key",
                "-out",
                "fake.pem",
                "-days",
                "30",
                "-subj",
                "/O=Lab Org/CN=Lab CA",
            ],
        );
        let fake = load_certificates(&dir.path("fake.pem"))
            .expect("fake")
            .remove(0);
        let e = verify_issued_by(&leaf, &fake).expect_err("fake CA");
        assert!(matches!(e, PkiError::BadSignature { .. }), "{e:?}");

        // Validity window.
        let e = check_validity(&leaf, SystemTime::now() + Duration::from_secs(10 * 86_400))
            .expect_err("expired");
        assert!(matches!(e, PkiError::Expired { .. }), "{e}");
        let e = check_validity(&leaf, SystemTime::now() - Duration::from_secs(86_400))
            .expect_err("early");
        assert!(matches!(e, PkiError::NotYetValid { .. }), "{e}");
    }

    #[test]
    fn non_rsa_and_pss_certificates() {
        let dir = TempDir::new("ecpss");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ec.key",
                "-out",
                "ec.pem",
                "-days",
                "1",
                "-subj",
                "/CN=ec",
            ],
        );
        let ec = load_certificates(&dir.path("ec.pem"))
            .expect("ec")
            .remove(0);
        let e = parse_certificate(&ec).expect_err("ec cert");
        assert!(
            e.to_string().contains("not an RSA key: id-ecPublicKey"),
            "{e}"
        );
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:1024",
                "-nodes",
                "-keyout",
                "pss.key",
                "-out",
                "pss.pem",
                "-days",
                "1",
                "-subj",
                "/CN=pss",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sha256",
            ],
        );
        let pss = load_certificates(&dir.path("pss.pem"))
            .expect("pss")
            .remove(0);
        parse_certificate(&pss).expect("rsa key in a PSS-signed cert");
        let e = verify_issued_by(&pss, &pss).expect_err("pss");
        assert!(
            matches!(e, PkiError::UnsupportedSignatureAlgorithm { .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("RSASSA-PSS"), "{e}");
    }

    #[test]
    fn server_name_matching() {
        let key = key1024(11);
        let mut info = parse_certificate(&lab_cert(&key, 11)).expect("info");
        assert!(matches_server_name(&info, "localhost"));
        assert!(matches_server_name(&info, "LOCALHOST."));
        assert!(matches_server_name(&info, "127.0.0.1"));
        assert!(!matches_server_name(&info, "127.0.0.2"));
        assert!(!matches_server_name(&info, "::1"));
        assert!(!matches_server_name(&info, "pfslab lab server"));
        assert!(!matches_server_name(&info, ""));

        info.dns_names = vec!["*.Example.com".into(), "*.com".into()];
        assert!(matches_server_name(&info, "www.example.com"));
        assert!(!matches_server_name(&info, "example.com"));
        assert!(!matches_server_name(&info, "a.b.example.com"));
        assert!(!matches_server_name(&info, "foo.com"));

        info.dns_names.clear();
        info.ip_addrs = vec!["::1".parse().expect("ip")];
        assert!(matches_server_name(&info, "[::1]"));

        info.ip_addrs.clear();
        info.common_name = Some("legacy.example".into());
        assert!(matches_server_name(&info, "Legacy.Example"));
        assert!(!matches_server_name(&info, "other.example"));
    }
}
