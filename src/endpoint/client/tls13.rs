//! The TLS 1.3 client handshake (RFC 8446 §2): ExpectServerHello → ExpectEncryptedExtensions →
//! ExpectCertificate → ExpectCertificateVerify → ExpectFinished → Traffic13. The front
//! (`mod.rs`) reads the ServerHello and hands a TLS 1.3 one here.

use std::sync::Arc;

use super::{verify_server_certificate, ClientConfig};
use crate::crypto::ecdh::EphemeralKey;
use crate::endpoint::conn::{Context, Message, State, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::traffic13::{log_secret, Traffic13};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ExtensionType, HandshakeType, NamedGroup};
use crate::msgs::handshake::{ClientHello, ServerHello};
use crate::msgs::handshake13::{
    Certificate13, CertificateVerify, EncryptedExtensions, HELLO_RETRY_REQUEST_RANDOM,
};
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::suites::{KeyExchange, Suite};
use crate::tls13::key_schedule::{EarlySecret, HandshakeSecret, TrafficSecret};
use crate::tls13::protector;

/// Continues a handshake whose ServerHello chose TLS 1.3 (RFC 8446 §4.1.3).
pub(super) fn handle_server_hello(
    config: Arc<ClientConfig>,
    hello: &ClientHello,
    transcript: Transcript,
    key: EphemeralKey,
    cx: &mut Context,
    msg: HandshakeMessage,
    sh: ServerHello,
) -> Result<Box<dyn State>, Error> {
    if sh.random == HELLO_RETRY_REQUEST_RANDOM {
        return Err(Error::IllegalParameter(
            "HelloRetryRequest although the secp256r1 key share was already sent".into(),
        ));
    }
    let suite = config
        .suites
        .iter()
        .copied()
        .find(|s| s.id == sh.cipher_suite && s.key_exchange == KeyExchange::Tls13)
        .ok_or_else(|| {
            Error::IllegalParameter(format!(
                "server chose {}, which was not offered",
                crate::suites::suite_name(sh.cipher_suite)
            ))
        })?;
    if sh.session_id != hello.session_id {
        return Err(Error::IllegalParameter(
            "legacy_session_id_echo does not match".into(),
        ));
    }
    let share = sh
        .extension(ExtensionType::KeyShare)
        .ok_or_else(|| Error::MissingExtension("TLS 1.3 ServerHello without key_share".into()))?
        .parse_key_share_server()?;
    if share.group != NamedGroup::Secp256r1.to_wire() {
        return Err(Error::IllegalParameter(
            "server key share is not on secp256r1".into(),
        ));
    }
    let shared = key
        .agree(&share.key_exchange)
        .map_err(Error::IllegalParameter)?;
    cx.tls13 = true;
    cx.summary.suite = Some(suite);
    cx.summary.server_random = sh.random;
    let mut transcript = transcript;
    transcript.add(&msg);
    let handshake = EarlySecret::without_psk(suite.hash).into_handshake(&shared);
    let (client_hs, server_hs) = handshake.traffic_secrets(&transcript.hash(suite.hash));
    log_secret(
        cx,
        SecretKind::ClientHandshakeTrafficSecret,
        &hello.random,
        &client_hs,
    )?;
    log_secret(
        cx,
        SecretKind::ServerHandshakeTrafficSecret,
        &hello.random,
        &server_hs,
    )?;
    cx.set_read_keys(protector(&suite, &server_hs)?)?;
    Ok(Box::new(ExpectEncryptedExtensions(Handshake13 {
        config: config,
        suite,
        client_random: hello.random,
        handshake,
        client_hs,
        server_hs,
        transcript,
        server_key: None,
        certificate_requested: None,
    })))
}

/// What the client knows between ServerHello and its Finished.
struct Handshake13 {
    config: Arc<ClientConfig>,
    suite: Suite,
    client_random: [u8; 32],
    handshake: HandshakeSecret,
    client_hs: TrafficSecret,
    server_hs: TrafficSecret,
    transcript: Transcript,
    server_key: Option<rsa::PublicKey>,
    /// The context of a CertificateRequest, to echo in an empty Certificate.
    certificate_requested: Option<Vec<u8>>,
}

struct ExpectEncryptedExtensions(Handshake13);

impl State for ExpectEncryptedExtensions {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::EncryptedExtensions)?;
        EncryptedExtensions::read(msg.body())?;
        let mut hs = self.0;
        hs.transcript.add(&msg);
        Ok(Box::new(ExpectCertificate(hs)))
    }
}

struct ExpectCertificate(Handshake13);

impl State for ExpectCertificate {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let mut hs = self.0;
        if let Message::Handshake(m) = &msg {
            // RFC 8446 §4.3.2: a CertificateRequest may come first; pfslab answers with no
            // certificate.
            if m.typ == HandshakeType::CertificateRequest && hs.certificate_requested.is_none() {
                let mut r = crate::codec::Reader::new(m.body());
                hs.certificate_requested = Some(r.vec_u8("certificate_request_context")?.to_vec());
                hs.transcript.add(m);
                return Ok(Box::new(ExpectCertificate(hs)));
            }
        }
        let msg = require_handshake(msg, HandshakeType::Certificate)?;
        let cert = Certificate13::read(msg.body())?;
        hs.server_key = Some(verify_server_certificate(&hs.config, &cert.chain)?);
        hs.transcript.add(&msg);
        Ok(Box::new(ExpectCertificateVerify(hs)))
    }
}

struct ExpectCertificateVerify(Handshake13);

impl State for ExpectCertificateVerify {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::CertificateVerify)?;
        let mut hs = self.0;
        let cv = CertificateVerify::read(msg.body())?;
        if !pki::PSS_SCHEMES.contains(&cv.scheme) {
            return Err(Error::IllegalParameter(format!(
                "CertificateVerify uses scheme 0x{:04x}; TLS 1.3 RSA keys sign with RSA-PSS",
                cv.scheme
            )));
        }
        let key = hs
            .server_key
            .as_ref()
            .ok_or_else(|| Error::Internal("no server key".into()))?;
        let content = CertificateVerify::signed_content(true, &hs.transcript.hash(hs.suite.hash));
        pki::verify(key, cv.scheme, &content, &cv.signature).map_err(|e| {
            Error::DecryptError(format!(
                "CertificateVerify does not verify with the certificate's key: {e}"
            ))
        })?;
        cx.summary.signature_scheme = Some(cv.scheme);
        hs.transcript.add(&msg);
        Ok(Box::new(ExpectFinished(hs)))
    }
}

struct ExpectFinished(Handshake13);

impl State for ExpectFinished {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let mut hs = self.0;
        let expected = hs.server_hs.verify_data(&hs.transcript.hash(hs.suite.hash));
        // RFC 8446 §4.4.4: verify_data is Hash.length bytes; another length is malformed.
        if msg.body().len() != expected.len() {
            return Err(Error::Decode(format!(
                "server Finished of {} bytes, not {}",
                msg.body().len(),
                expected.len()
            )));
        }
        if !crate::crypto::constant_time_eq(&expected, msg.body()) {
            return Err(Error::DecryptError("server Finished does not match".into()));
        }
        hs.transcript.add(&msg);

        // Application secrets over ClientHello … server Finished.
        let handshake_hash = hs.transcript.hash(hs.suite.hash);
        let master = hs.handshake.clone().into_master();
        let (client_ap, server_ap) = master.traffic_secrets(&handshake_hash);
        log_secret(
            cx,
            SecretKind::ClientTrafficSecret0,
            &hs.client_random,
            &client_ap,
        )?;
        log_secret(
            cx,
            SecretKind::ServerTrafficSecret0,
            &hs.client_random,
            &server_ap,
        )?;
        cx.log_secret(
            SecretKind::ExporterSecret,
            &hs.client_random,
            &master.exporter_secret(&handshake_hash),
        )?;

        // RFC 8446 §D.4: the compatibility ChangeCipherSpec before the first encrypted record.
        cx.send_plaintext_change_cipher_spec();
        cx.set_write_keys(protector(&hs.suite, &hs.client_hs)?);
        if let Some(context) = &hs.certificate_requested {
            let empty = Certificate13 {
                context: context.clone(),
                chain: Vec::new(),
            }
            .encode();
            cx.send_handshake(&empty);
            hs.transcript.add(&empty);
        }
        let finished = HandshakeMessage::new(
            HandshakeType::Finished,
            &hs.client_hs.verify_data(&hs.transcript.hash(hs.suite.hash)),
        );
        cx.send_handshake(&finished);
        cx.set_write_keys(protector(&hs.suite, &client_ap)?);
        cx.set_read_keys(protector(&hs.suite, &server_ap)?)?;
        Ok(Box::new(Traffic13 {
            suite: hs.suite,
            read_secret: server_ap,
            write_secret: client_ap,
        }))
    }
}
