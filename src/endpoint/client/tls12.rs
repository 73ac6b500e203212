//! The TLS 1.2 client handshake, one type per state (RFC 5246 §7.3):
//! ExpectServerHello → ExpectCertificate → [ExpectServerKeyExchange] → ExpectServerHelloDone →
//! ExpectChangeCipherSpec → ExpectFinished → Traffic.

use std::sync::Arc;
use std::time::SystemTime;

use rand::Rng;
use zeroize::Zeroizing;

use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::rng::{random_array, LabRng};
use crate::endpoint::client::tls13::ExpectServerHello13;
use crate::endpoint::conn::{Connection, Context, Message, State, Traffic, Transcript};
use crate::endpoint::server::tls12::derive_master;
use crate::error::Error;
use crate::keylog::KeyLogWriter;
use crate::msgs::enums::{
    ExtensionType, HandshakeType, NamedGroup, EC_POINT_FORMAT_UNCOMPRESSED,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
};
use crate::msgs::handshake::{
    read_empty, CertificateMsg, ClientHello, EcdheClientKeyExchange, EcdheServerKeyExchange,
    Extension, Finished, RsaClientKeyExchange, ServerHello,
};
use crate::msgs::handshake13::KeyShareEntry;
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::suites::{KeyExchange, Suite};
use crate::tls12::keys::{MasterSecret, Side};
use crate::tls12::{finished_for, protectors, require_handshake};

/// How the client decides to trust the server's certificate.
#[derive(Clone)]
pub enum ServerVerification {
    /// Accept any certificate (the ServerKeyExchange signature is still checked against it).
    Insecure,
    /// The leaf must be this certificate or be signed by it, and name `server_name`.
    TrustAnchor(Vec<u8>),
}

pub struct ClientConfig {
    /// Offered, in order.
    pub suites: Vec<Suite>,
    /// Sent as SNI when it is a DNS name, and checked against the certificate.
    pub server_name: String,
    pub verification: ServerVerification,
    /// Offer extended_master_secret (RFC 7627).
    pub offer_ems: bool,
    pub keylog: Option<Arc<KeyLogWriter>>,
}

/// A client connection whose ClientHello is already queued for sending.
pub fn client_connection(config: Arc<ClientConfig>, rng: LabRng) -> Result<Connection, Error> {
    let keylog = config.keylog.clone();
    Connection::new(rng, keylog, |cx| {
        let random: [u8; 32] = random_array(&mut cx.rng);
        let offers_tls13 = config
            .suites
            .iter()
            .any(|s| s.key_exchange == KeyExchange::Tls13);
        let offers_tls12 = config
            .suites
            .iter()
            .any(|s| s.key_exchange != KeyExchange::Tls13);
        let mut cipher_suites: Vec<u16> = config.suites.iter().map(|s| s.id).collect();
        if offers_tls12 {
            cipher_suites.push(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
        }
        let mut extensions = Vec::new();
        // RFC 6066 §3: literal IP addresses are not sent as SNI.
        if config.server_name.parse::<std::net::IpAddr>().is_err() && !config.server_name.is_empty()
        {
            extensions.push(Extension::server_name(&config.server_name));
        }
        if config
            .suites
            .iter()
            .any(|s| s.key_exchange != KeyExchange::Rsa)
        {
            extensions.push(Extension::u16_list(
                ExtensionType::SupportedGroups,
                &[NamedGroup::Secp256r1.to_wire()],
            ));
            extensions.push(Extension::ec_point_formats(&[EC_POINT_FORMAT_UNCOMPRESSED]));
        }
        extensions.push(Extension::u16_list(
            ExtensionType::SignatureAlgorithms,
            pki::RSA_SCHEMES,
        ));
        if config.offer_ems && offers_tls12 {
            extensions.push(Extension::empty(ExtensionType::ExtendedMasterSecret));
        }
        // TLS 1.3 (RFC 8446 §4.1.2): supported_versions, a P-256 key share, and a legacy
        // session ID so middleboxes see a resumption-looking hello (§D.4).
        let mut session_id = Vec::new();
        let mut key = None;
        if offers_tls13 {
            let versions: &[u16] = if offers_tls12 {
                &[0x0304, 0x0303]
            } else {
                &[0x0304]
            };
            extensions.push(Extension::supported_versions_client(versions));
            let k = EphemeralKey::generate(&mut cx.rng);
            extensions.push(Extension::key_share_client(&[KeyShareEntry {
                group: NamedGroup::Secp256r1.to_wire(),
                key_exchange: k.public_sec1(),
            }]));
            key = Some(k);
            session_id = random_array::<32>(&mut cx.rng).to_vec();
        }
        let hello = ClientHello {
            client_version: 0x0303,
            random,
            session_id,
            cipher_suites,
            compression_methods: vec![0],
            extensions,
        };
        let msg = hello.encode();
        cx.send_handshake(&msg);
        cx.summary.client_random = random;
        let mut transcript = Transcript::default();
        transcript.add(&msg);
        let tls12: Box<dyn State> = Box::new(ExpectServerHello {
            config: config.clone(),
            hello: hello.clone(),
            transcript: transcript.clone(),
        });
        Ok(match key {
            Some(key) => Box::new(ExpectServerHello13 {
                config,
                hello,
                transcript,
                key,
                tls12_fallback: offers_tls12.then_some(tls12),
            }),
            None => tls12,
        })
    })
}

struct ExpectServerHello {
    config: Arc<ClientConfig>,
    hello: ClientHello,
    transcript: Transcript,
}

impl State for ExpectServerHello {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerHello)?;
        let sh = ServerHello::read(msg.body())?;
        if sh.server_version != 0x0303 {
            return Err(Error::ProtocolVersion(format!(
                "server chose 0x{:04x}, pfslab speaks TLS 1.2 (0x0303)",
                sh.server_version
            )));
        }
        let suite = self
            .config
            .suites
            .iter()
            .copied()
            .find(|s| s.id == sh.cipher_suite)
            .ok_or_else(|| {
                Error::IllegalParameter(format!(
                    "server chose {} which was not offered",
                    crate::suites::suite_name(sh.cipher_suite)
                ))
            })?;
        if sh.compression_method != 0 {
            return Err(Error::IllegalParameter("server chose compression".into()));
        }
        // RFC 5246 §7.4.1.4: only extensions the client offered may come back.
        for ext in &sh.extensions {
            let offered = self.hello.extension(ext.typ).is_some()
                || ext.typ == ExtensionType::RenegotiationInfo;
            if !offered {
                return Err(Error::UnsupportedExtension(format!(
                    "server sent {} which was not offered",
                    ext.typ
                )));
            }
        }
        if let Some(ext) = sh.extension(ExtensionType::RenegotiationInfo) {
            if !ext.parse_u8_list("renegotiation_info")?.is_empty() {
                return Err(Error::HandshakeFailure(
                    "non-empty renegotiation_info on an initial handshake".into(),
                ));
            }
            cx.summary.secure_renegotiation = true;
        }
        let ems = sh.extension(ExtensionType::ExtendedMasterSecret).is_some();
        cx.summary.suite = Some(suite);
        cx.summary.server_random = sh.random;
        cx.summary.extended_master_secret = ems;
        let mut transcript = self.transcript;
        transcript.add(&msg);
        Ok(Box::new(ExpectCertificate {
            config: self.config,
            suite,
            client_random: self.hello.random,
            server_random: sh.random,
            ems,
            transcript,
        }))
    }
}

struct ExpectCertificate {
    config: Arc<ClientConfig>,
    suite: Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    transcript: Transcript,
}

/// Checks the chain against the configured trust, returns the leaf's public key.
pub(crate) fn verify_server_certificate(
    config: &ClientConfig,
    chain: &[Vec<u8>],
) -> Result<rsa::PublicKey, Error> {
    let leaf_der = chain
        .first()
        .ok_or_else(|| Error::BadCertificate("server sent an empty certificate chain".into()))?;
    let leaf =
        pki::parse_certificate(leaf_der).map_err(|e| Error::BadCertificate(e.to_string()))?;
    if let ServerVerification::TrustAnchor(anchor) = &config.verification {
        let trusted = leaf_der == anchor || pki::verify_issued_by(leaf_der, anchor).is_ok();
        if !trusted {
            return Err(Error::UnknownCa(format!(
                "certificate for '{}' is not the trusted certificate and not signed by it",
                leaf.subject
            )));
        }
        pki::check_validity(leaf_der, SystemTime::now())
            .map_err(|e| Error::CertificateExpired(e.to_string()))?;
        if !pki::matches_server_name(&leaf, &config.server_name) {
            return Err(Error::BadCertificate(format!(
                "certificate names {:?} {:?}, not '{}'",
                leaf.dns_names, leaf.ip_addrs, config.server_name
            )));
        }
    }
    Ok(leaf.public_key)
}

impl State for ExpectCertificate {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Certificate)?;
        let cert = CertificateMsg::read(msg.body())?;
        let server_key = verify_server_certificate(&self.config, &cert.chain)?;
        let mut transcript = self.transcript;
        transcript.add(&msg);
        let next = AfterCertificate {
            suite: self.suite,
            client_random: self.client_random,
            server_random: self.server_random,
            ems: self.ems,
            server_key,
            transcript,
        };
        Ok(match self.suite.key_exchange {
            KeyExchange::EcdheRsa => Box::new(ExpectServerKeyExchange(next)),
            _ => Box::new(ExpectServerHelloDone {
                inner: next,
                server_point: None,
                certificate_requested: false,
            }),
        })
    }
}

/// Everything known once the certificate is accepted.
struct AfterCertificate {
    suite: Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    server_key: rsa::PublicKey,
    transcript: Transcript,
}

struct ExpectServerKeyExchange(AfterCertificate);

impl State for ExpectServerKeyExchange {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerKeyExchange)?;
        let mut inner = self.0;
        let ske = EcdheServerKeyExchange::read(msg.body())?;
        if ske.named_group != NamedGroup::Secp256r1.to_wire() {
            return Err(Error::IllegalParameter(format!(
                "server chose group {}, only secp256r1 was offered",
                NamedGroup::from_wire(ske.named_group)
            )));
        }
        if !pki::RSA_SCHEMES.contains(&ske.signature_scheme) {
            return Err(Error::IllegalParameter(format!(
                "server signed with scheme 0x{:04x}, which was not offered",
                ske.signature_scheme
            )));
        }
        // RFC 8422 §5.4: the signature covers both randoms and the params.
        let signed = ske.signed_message(&inner.client_random, &inner.server_random);
        pki::verify(
            &inner.server_key,
            ske.signature_scheme,
            &signed,
            &ske.signature,
        )
        .map_err(|e| {
            Error::DecryptError(format!(
                "ServerKeyExchange signature does not verify with the certificate's key: {e}"
            ))
        })?;
        crate::crypto::ecdh::parse_point(&ske.public).map_err(Error::IllegalParameter)?;
        cx.summary.signature_scheme = Some(ske.signature_scheme);
        inner.transcript.add(&msg);
        Ok(Box::new(ExpectServerHelloDone {
            inner,
            server_point: Some(ske.public),
            certificate_requested: false,
        }))
    }
}

struct ExpectServerHelloDone {
    inner: AfterCertificate,
    server_point: Option<Vec<u8>>,
    certificate_requested: bool,
}

impl State for ExpectServerHelloDone {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        // RFC 5246 §7.4.4: an optional CertificateRequest may precede ServerHelloDone.
        if let Message::Handshake(m) = &msg {
            if m.typ == HandshakeType::CertificateRequest && !self.certificate_requested {
                let mut next = *self;
                crate::msgs::handshake::read_certificate_request(m.body())?;
                next.inner.transcript.add(m);
                next.certificate_requested = true;
                return Ok(Box::new(next));
            }
        }
        let msg = require_handshake(msg, HandshakeType::ServerHelloDone)?;
        read_empty(msg.body(), "ServerHelloDone")?;
        let mut s = self.inner;
        s.transcript.add(&msg);

        // 0. RFC 5246 §7.4.6: a client without a certificate answers a request with an empty one.
        if self.certificate_requested {
            let empty = CertificateMsg { chain: Vec::new() }.encode();
            cx.send_handshake(&empty);
            s.transcript.add(&empty);
        }

        // 1. The premaster: chosen and encrypted (RSA), or agreed (ECDHE).
        let (cke, premaster): (HandshakeMessage, Zeroizing<Vec<u8>>) =
            match (&s.suite.key_exchange, &self.server_point) {
                (KeyExchange::Rsa, _) => {
                    let mut pms = Zeroizing::new(vec![0u8; 48]);
                    pms[..2].copy_from_slice(&0x0303u16.to_be_bytes());
                    cx.rng.fill_bytes(&mut pms[2..]);
                    let encrypted = pki::rsa_encrypt_pkcs1(&s.server_key, &pms, &mut cx.rng)
                        .map_err(|e| Error::Internal(format!("encrypting the premaster: {e}")))?;
                    (
                        RsaClientKeyExchange {
                            encrypted_premaster: encrypted,
                        }
                        .encode(),
                        pms,
                    )
                }
                (KeyExchange::EcdheRsa, Some(point)) => {
                    let key = EphemeralKey::generate(&mut cx.rng);
                    let pms = key.agree(point).map_err(Error::IllegalParameter)?;
                    (
                        EcdheClientKeyExchange {
                            public: key.public_sec1(),
                        }
                        .encode(),
                        pms,
                    )
                }
                _ => return Err(Error::Internal("key exchange state missing".into())),
            };
        cx.send_handshake(&cke);
        s.transcript.add(&cke);

        // 2. Master secret and keys; ChangeCipherSpec; Finished under the new keys.
        let master = derive_master(
            &s.suite,
            &premaster,
            s.ems,
            &s.client_random,
            &s.server_random,
            &s.transcript,
        );
        cx.log_secret("CLIENT_RANDOM", &s.client_random, &master.0)?;
        let (client_write, _) = protectors(&s.suite, &master, &s.client_random, &s.server_random)?;
        cx.send_change_cipher_spec(client_write);
        let finished = finished_for(&s.suite, &master, Side::Client, &s.transcript).encode();
        cx.send_handshake(&finished);
        s.transcript.add(&finished);
        Ok(Box::new(ExpectChangeCipherSpec {
            suite: s.suite,
            client_random: s.client_random,
            server_random: s.server_random,
            master,
            transcript: s.transcript,
        }))
    }
}

struct ExpectChangeCipherSpec {
    suite: Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    master: MasterSecret,
    transcript: Transcript,
}

impl State for ExpectChangeCipherSpec {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        match msg {
            Message::ChangeCipherSpec => {
                let (_, server_write) = protectors(
                    &self.suite,
                    &self.master,
                    &self.client_random,
                    &self.server_random,
                )?;
                cx.accept_change_cipher_spec(server_write);
                Ok(Box::new(ExpectFinished {
                    suite: self.suite,
                    master: self.master,
                    transcript: self.transcript,
                }))
            }
            // A session ticket would come here; pfslab does not offer session_ticket.
            other => Err(Error::unexpected("ChangeCipherSpec", other.describe())),
        }
    }
}

struct ExpectFinished {
    suite: Suite,
    master: MasterSecret,
    transcript: Transcript,
}

impl State for ExpectFinished {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let finished = Finished::read(msg.body())?;
        let expected = finished_for(&self.suite, &self.master, Side::Server, &self.transcript);
        if !crate::crypto::constant_time_eq(&expected.verify_data, &finished.verify_data) {
            return Err(Error::DecryptError("server Finished does not match".into()));
        }
        Ok(Box::new(Traffic))
    }
}
