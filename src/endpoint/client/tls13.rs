//! The TLS 1.3 client handshake (RFC 8446 §2): ExpectServerHello → ExpectEncryptedExtensions →
//! ExpectCertificate → ExpectCertificateVerify → ExpectFinished → Traffic13; a resumption with a
//! PSK (§4.2.11) goes from EncryptedExtensions straight to Finished. The front (`mod.rs`) builds
//! the ClientHello (its PSK offer comes from [`encode_client_hello`]), reads the ServerHello and
//! hands a TLS 1.3 one here.

use std::sync::Arc;

use super::{verify_server_certificate, ClientConfig};
use crate::crypto::kx::{ClientShare, KxGroup};
use crate::endpoint::conn::{Context, Message, ResumedBy, State, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::session::ClientSession;
use crate::endpoint::traffic13::{log_secret, TicketReceiver, Traffic13};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ExtensionType, HandshakeType, PskKeyExchangeMode};
use crate::msgs::handshake::{ClientHello, Extension, ServerHello};
use crate::msgs::handshake13::{
    client_hello_without_binders, message_hash, Certificate13, CertificateVerify,
    EncryptedExtensions, KeyShareEntry, OfferedPsks, PskIdentity, HELLO_RETRY_REQUEST_RANDOM,
};
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::suites::{KeyExchange, Suite};
use crate::tls13::key_schedule::{EarlySecret, HandshakeSecret, TrafficSecret};

/// What the TLS 1.3 part of the ClientHello offered: the key share, and a PSK.
pub(super) struct Offer13 {
    pub key: ClientShare,
    pub psk: Option<PskOffer>,
}

/// The PSK the ClientHello offered (one identity, so the server can only select 0).
pub(super) struct PskOffer {
    suite_id: u16,
    early: EarlySecret,
    modes: Vec<PskKeyExchangeMode>,
}

/// Encodes the ClientHello; with a saved TLS 1.3 session whose suite is offered, first adds
/// psk_key_exchange_modes and pre_shared_key, the last extension, whose binder is a Finished
/// MAC over the hello up to the binders list (RFC 8446 §4.2.9, §4.2.11).
pub(super) fn encode_client_hello(
    config: &ClientConfig,
    hello: &mut ClientHello,
    offers_tls13: bool,
) -> (HandshakeMessage, Option<PskOffer>) {
    let usable = match &config.resumption.session {
        Some(ClientSession::Tls13(s)) if offers_tls13 && s.server_name == config.server_name => {
            config
                .suites
                .iter()
                .find(|x| x.id == s.state.cipher_suite && x.key_exchange == KeyExchange::Tls13)
                .map(|suite| (s, suite.hash))
        }
        _ => None,
    };
    let Some((session, hash)) = usable else {
        // Asking for a ticket to resume later: list the modes we would resume with, or a
        // server may rightly send none (RFC 8446 §4.2.9).
        if offers_tls13
            && config.resumption.request_tickets
            && !config.resumption.psk_modes.is_empty()
        {
            hello.extensions.push(Extension::psk_key_exchange_modes(
                &config.resumption.psk_modes,
            ));
        }
        return (hello.encode(), None);
    };
    let now_ms = config.resumption.clock.now_ms();
    // §4.2.11.1: the age in milliseconds plus ticket_age_add, modulo 2^32.
    let age_ms = now_ms.saturating_sub(session.state.issued_ms);
    let mut offer = OfferedPsks {
        identities: vec![PskIdentity {
            identity: session.ticket.clone(),
            obfuscated_ticket_age: (age_ms as u32).wrapping_add(session.state.ticket_age_add),
        }],
        binders: vec![vec![0; hash.output_len()]],
    };
    hello.extensions.push(Extension::psk_key_exchange_modes(
        &config.resumption.psk_modes,
    ));
    hello
        .extensions
        .push(Extension::pre_shared_key_client(&offer));
    let early = EarlySecret::with_psk(hash, &session.state.psk);
    let partial = hello.encode();
    // Our own hello always has pre_shared_key last, so the cut cannot fail.
    let binder = match client_hello_without_binders(&partial.encoded) {
        Ok(prefix) => early.resumption_binder_key().binder(&hash.digest(prefix)),
        Err(_) => vec![0; hash.output_len()],
    };
    offer.binders = vec![binder];
    hello.extensions.pop();
    hello
        .extensions
        .push(Extension::pre_shared_key_client(&offer));
    (
        hello.encode(),
        Some(PskOffer {
            suite_id: session.state.cipher_suite,
            early,
            modes: config.resumption.psk_modes.clone(),
        }),
    )
}
use crate::tls13::protector;

/// Continues a handshake whose ServerHello chose TLS 1.3 (RFC 8446 §4.1.3).
pub(super) fn handle_server_hello(
    config: Arc<ClientConfig>,
    hello: &ClientHello,
    transcript: Transcript,
    offer: Offer13,
    cx: &mut Context,
    msg: HandshakeMessage,
    sh: ServerHello,
) -> Result<Box<dyn State>, Error> {
    let Offer13 { key, psk } = offer;
    if sh.random == HELLO_RETRY_REQUEST_RANDOM {
        // RFC 8446 §4.1.4: a second HelloRetryRequest is unexpected_message.
        return Err(Error::unexpected(
            "a ServerHello after the HelloRetryRequest",
            "a second HelloRetryRequest",
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
    // RFC 8446 §4.2.11: a selected PSK must be the one offered (index 0), for the same hash.
    let resumed = match sh.extension(ExtensionType::PreSharedKey) {
        None => None,
        Some(ext) => {
            let selected = ext.parse_pre_shared_key_server()?;
            let Some(offer) = psk else {
                return Err(Error::IllegalParameter(
                    "ServerHello selects a PSK, but none was offered".into(),
                ));
            };
            let offered_hash = crate::suites::tls13_suite(offer.suite_id).map(|s| s.hash);
            if selected != 0 || offered_hash != Some(suite.hash) {
                return Err(Error::IllegalParameter(format!(
                    "ServerHello selects PSK {selected} with {}; one PSK was offered",
                    suite.name
                )));
            }
            Some(offer)
        }
    };
    // psk_ke has no key share; a full handshake and psk_dhe_ke have one (§4.2.8, §4.2.9).
    let shared = match sh.extension(ExtensionType::KeyShare) {
        Some(ext) => {
            let share = ext.parse_key_share_server()?;
            // RFC 8446 §4.2.8: the server's share is in the group of the client's share.
            if share.group != key.group().codepoint() {
                return Err(Error::IllegalParameter(format!(
                    "server key share is in group 0x{:04x}, the client's was {}",
                    share.group,
                    key.group().name()
                )));
            }
            cx.summary.key_share_group = Some(key.group());
            Some(
                key.complete(&share.key_exchange)
                    .map_err(|e| Error::IllegalParameter(e.to_string()))?,
            )
        }
        None => None,
    };
    let mode = match (&resumed, &shared) {
        (None, None) => {
            return Err(Error::MissingExtension(
                "TLS 1.3 ServerHello without key_share".into(),
            ))
        }
        (None, Some(_)) => None,
        (Some(_), Some(_)) => Some(PskKeyExchangeMode::PskDheKe),
        (Some(_), None) => Some(PskKeyExchangeMode::PskKe),
    };
    if let (Some(offer), Some(mode)) = (&resumed, mode) {
        if !offer.modes.contains(&mode) {
            return Err(Error::IllegalParameter(format!(
                "the server resumed in {mode}, which was not offered"
            )));
        }
    }
    cx.tls13 = true;
    cx.summary.suite = Some(suite);
    cx.summary.server_random = sh.random;
    cx.summary.resumed = mode.map(ResumedBy::Psk);
    let mut transcript = transcript;
    transcript.add(&msg);
    let early = match resumed {
        Some(offer) => offer.early,
        None => EarlySecret::without_psk(suite.hash),
    };
    let handshake = match &shared {
        Some(shared) => early.into_handshake(shared),
        None => early.into_handshake_without_dhe(),
    };
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
        resumed: mode.is_some(),
        config,
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

/// A HelloRetryRequest (RFC 8446 §4.1.4): check it, make a key share in the group it selects,
/// and send the second ClientHello; the transcript restarts with message_hash(ClientHello1).
pub(super) fn handle_hello_retry_request(
    config: Arc<ClientConfig>,
    mut hello: ClientHello,
    transcript: Transcript,
    offer: Offer13,
    cx: &mut Context,
    msg: HandshakeMessage,
    hrr: ServerHello,
) -> Result<Box<dyn State>, Error> {
    let Offer13 { key, psk } = offer;
    // 1. The suite must be one offered; the session ID echoed.
    let suite = config
        .suites
        .iter()
        .copied()
        .find(|s| s.id == hrr.cipher_suite && s.key_exchange == KeyExchange::Tls13)
        .ok_or_else(|| {
            Error::IllegalParameter(format!(
                "HelloRetryRequest chose {}, which was not offered",
                crate::suites::suite_name(hrr.cipher_suite)
            ))
        })?;
    if hrr.session_id != hello.session_id {
        return Err(Error::IllegalParameter(
            "legacy_session_id_echo does not match".into(),
        ));
    }
    if psk.is_some() {
        return Err(Error::HandshakeFailure(
            "HelloRetryRequest while resuming: pfslab's client does not re-offer a PSK".into(),
        ));
    }
    // 2. The selected group must be supported and not the one already sent (§4.2.8); a
    //    cookie is echoed (§4.2.2). A retry that would change nothing is illegal (§4.1.4).
    let selected = match hrr.extension(ExtensionType::KeyShare) {
        Some(ext) => {
            let mut r = crate::codec::Reader::new(&ext.data);
            let group = r.u16("selected_group")?;
            r.expect_end("key_share")?;
            let group = KxGroup::from_codepoint(group).ok_or_else(|| {
                Error::IllegalParameter(format!(
                    "HelloRetryRequest selects group 0x{group:04x}, which was not offered"
                ))
            })?;
            if group == key.group() {
                return Err(Error::IllegalParameter(format!(
                    "HelloRetryRequest selects {}, whose key share was already sent",
                    group.name()
                )));
            }
            Some(group)
        }
        None => None,
    };
    let cookie = hrr.extension(ExtensionType::Cookie).cloned();
    if selected.is_none() && cookie.is_none() {
        return Err(Error::IllegalParameter(
            "HelloRetryRequest asks for no change (no key_share, no cookie)".into(),
        ));
    }
    cx.tls13 = true;
    let mut transcript13 = Transcript::default();
    transcript13.add(&message_hash(&suite.hash.digest(transcript.bytes())));
    transcript13.add(&msg);

    // 3. ClientHello2: the same hello with the new key share and the cookie.
    let key = match selected {
        Some(group) => {
            let share = ClientShare::generate(group, &mut cx.rng);
            super::log_share(&config, &hello.random, &share);
            share
        }
        None => key,
    };
    for ext in hello.extensions.iter_mut() {
        if ext.typ == ExtensionType::KeyShare {
            *ext = Extension::key_share_client(&[KeyShareEntry {
                group: key.group().codepoint(),
                key_exchange: key.public(),
            }]);
        }
    }
    if let Some(cookie) = cookie {
        hello.extensions.push(cookie);
    }
    let second = hello.encode();
    cx.send_handshake(&second);
    transcript13.add(&second);
    Ok(Box::new(ExpectRetriedServerHello {
        config,
        hello,
        transcript: transcript13,
        key,
        suite_id: suite.id,
    }))
}

/// ClientHello2 is sent; the ServerHello must be TLS 1.3 with the retry's suite (§4.1.4).
struct ExpectRetriedServerHello {
    config: Arc<ClientConfig>,
    hello: ClientHello,
    transcript: Transcript,
    key: ClientShare,
    suite_id: u16,
}

impl State for ExpectRetriedServerHello {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerHello)?;
        let sh = ServerHello::read(msg.body())?;
        let version = match sh.extension(ExtensionType::SupportedVersions) {
            Some(ext) => ext.parse_supported_versions_server()?,
            None => sh.server_version,
        };
        if version != crate::msgs::enums::ProtocolVersion::Tls13.to_wire() {
            return Err(Error::IllegalParameter(format!(
                "the ServerHello after a HelloRetryRequest chose version 0x{version:04x}"
            )));
        }
        if sh.cipher_suite != self.suite_id {
            return Err(Error::IllegalParameter(
                "the ServerHello's cipher suite differs from the HelloRetryRequest's".into(),
            ));
        }
        handle_server_hello(
            self.config,
            &self.hello,
            self.transcript,
            Offer13 {
                key: self.key,
                psk: None,
            },
            cx,
            msg,
            sh,
        )
    }
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
    /// Resuming with a PSK: no Certificate or CertificateVerify (RFC 8446 §2.2).
    resumed: bool,
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
        if hs.resumed {
            return Ok(Box::new(ExpectFinished(hs)));
        }
        Ok(Box::new(ExpectCertificate(hs)))
    }
}

struct ExpectCertificate(Handshake13);

impl State for ExpectCertificate {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
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
        cx.summary.server_certificates = cert.chain.clone();
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
        hs.transcript.add(&finished);
        cx.set_write_keys(protector(&hs.suite, &client_ap)?);
        cx.set_read_keys(protector(&hs.suite, &server_ap)?)?;
        // RFC 8446 §7.1: tickets that arrive later are PSKs from the resumption master secret
        // over ClientHello…client Finished.
        let resumption = TicketReceiver {
            secret: master.resumption_master_secret(&hs.transcript.hash(hs.suite.hash)),
            server_name: hs.config.server_name.clone(),
            clock: hs.config.resumption.clock,
        };
        Ok(Box::new(Traffic13 {
            suite: hs.suite,
            read_secret: server_ap,
            write_secret: client_ap,
            resumption: Some(resumption),
        }))
    }
}
