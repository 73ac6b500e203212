//! The TLS 1.3 server handshake (RFC 8446 §2): ClientHello → [HelloRetryRequest → ClientHello]
//! → ServerHello, {EncryptedExtensions, Certificate, CertificateVerify, Finished} →
//! ExpectFinished → [NewSessionTicket] → Traffic13. A resumption (a PSK from a ticket,
//! `tls13_psk`) sends no Certificate or CertificateVerify.

use std::sync::Arc;

use super::tls13_psk;
use super::{offers_tls13, ServerConfig};
use crate::crypto::kx::KxGroup;
use crate::crypto::rng::random_array;
use crate::endpoint::conn::{Context, Message, ResumedBy, State, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::traffic13::{log_secret, Traffic13};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ExtensionType, HandshakeType, ProtocolVersion, PskKeyExchangeMode};
use crate::msgs::handshake::{ClientHello, Extension, ServerHello};
use crate::msgs::handshake13::{
    message_hash, Certificate13, CertificateVerify, EncryptedExtensions, KeyShareEntry,
    HELLO_RETRY_REQUEST_RANDOM,
};
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::suites::Suite;
use crate::tls13::key_schedule::{EarlySecret, MasterSecret13, TrafficSecret};
use crate::tls13::protector;

/// Bytes of rejected early data skipped before the connection fails (OpenSSL's default
/// max_early_data, plus one record's protection overhead).
const MAX_SKIPPED_EARLY_DATA: usize = (1 << 14) + 256;

/// Continues a handshake whose ClientHello chose TLS 1.3.
pub(super) fn handle_client_hello(
    config: Arc<ServerConfig>,
    cx: &mut Context,
    msg: HandshakeMessage,
    hello: ClientHello,
    suite: Suite,
    retried: Option<Transcript>,
) -> Result<Box<dyn State>, Error> {
    cx.tls13 = true;
    // RFC 8446 §4.2.10: pfslab never accepts 0-RTT, so offered early data is skipped.
    // After a HelloRetryRequest only the records before the second ClientHello are skipped.
    cx.early_data_to_skip =
        if retried.is_none() && hello.extension(ExtensionType::EarlyData).is_some() {
            MAX_SKIPPED_EARLY_DATA
        } else {
            0
        };
    // 1. A PSK to resume with (RFC 8446 §4.2.11); the offer's shape is checked even when the
    //    server resumes nothing. A resumption signs nothing, so it needs no signature scheme.
    let psk = match tls13_psk::read_offer(&hello)? {
        Some((offer, modes)) => {
            tls13_psk::choose_psk(&config, &msg, &offer, &modes, &suite, retried.as_ref())?
        }
        None => None,
    };
    let scheme = match psk {
        Some(_) => None,
        None => Some(choose_signature_scheme(&hello)?),
    };

    // 2. Key share: the most preferred group the client sent a share in, or a
    //    HelloRetryRequest for the most preferred group it supports. psk_ke resumes without
    //    one (RFC 8446 §4.2.9).
    let share = match &psk {
        Some(p) if p.mode == PskKeyExchangeMode::PskKe => None,
        _ => match choose_share(&config, &hello, retried.is_some())? {
            Chosen::Share(group, share) => Some((group, share)),
            Chosen::Retry(group) => {
                return send_hello_retry_request(config, cx, msg, hello, suite, group)
            }
        },
    };

    // 3. ServerHello: key_share in a full handshake and psk_dhe_ke, pre_shared_key when
    //    resuming (RFC 8446 §4.2.8, §4.2.11).
    let mut extensions = vec![Extension::supported_versions_server(
        ProtocolVersion::Tls13.to_wire(),
    )];
    let mut shared = None;
    if let Some((group, share)) = share {
        // RFC 8446 §4.2.8, draft-ietf-tls-ecdhe-mlkem §3: a malformed share, an all-zero
        // X25519 result or an encapsulation key failing FIPS 203 §7.2 is illegal_parameter.
        let answer = config
            .ephemerals
            .respond(group, &share.key_exchange, &mut cx.rng)
            .map_err(|e| Error::IllegalParameter(e.to_string()))?;
        shared = Some(answer.shared);
        cx.summary.key_share_group = Some(group);
        extensions.push(Extension::key_share_server(&KeyShareEntry {
            group: share.group,
            key_exchange: answer.public,
        }));
    }
    if let Some(p) = &psk {
        extensions.push(Extension::pre_shared_key_server(p.selected_identity));
    }
    let server_random: [u8; 32] = random_array(&mut cx.rng);
    let server_hello = ServerHello {
        server_version: ProtocolVersion::Tls12.to_wire(),
        random: server_random,
        session_id: hello.session_id.clone(),
        cipher_suite: suite.id,
        compression_method: 0,
        extensions,
    }
    .encode();
    let mut transcript = retried.unwrap_or_default();
    transcript.add(&msg);
    transcript.add(&server_hello);
    cx.summary.suite = Some(suite);
    cx.summary.client_random = hello.random;
    cx.summary.server_random = server_random;
    cx.summary.server_name = hello
        .extension(ExtensionType::ServerName)
        .and_then(|e| e.parse_server_name().ok().flatten());
    cx.summary.signature_scheme = scheme;
    cx.summary.resumed = psk.as_ref().map(|p| ResumedBy::Psk(p.mode));
    cx.send_handshake(&server_hello);
    // RFC 8446 §D.4: a compatibility ChangeCipherSpec after the first server flight message,
    // when the client sent a legacy session ID (and no CCS went with a HelloRetryRequest).
    if !hello.session_id.is_empty()
        && transcript.bytes().first() != Some(&HandshakeType::MessageHash.to_wire())
    {
        cx.send_plaintext_change_cipher_spec();
    }

    // 4. Handshake secrets; the rest of the flight is encrypted. With a PSK the early secret
    //    comes from it, and psk_ke has no (EC)DHE input (RFC 8446 §7.1).
    let early = match psk {
        Some(p) => p.early,
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
    cx.set_write_keys(protector(&suite, &server_hs)?);

    let mut flight = vec![EncryptedExtensions {
        extensions: Vec::new(),
    }
    .encode()];
    if scheme.is_some() {
        flight.push(
            Certificate13 {
                context: Vec::new(),
                chain: config.cert_chain.clone(),
            }
            .encode(),
        );
    }
    for m in &flight {
        transcript.add(m);
    }
    if let Some(scheme) = scheme {
        let content = CertificateVerify::signed_content(true, &transcript.hash(suite.hash));
        let signature = super::fast_key::sign(&config, scheme, &content, &mut cx.rng)
            .map_err(|e| Error::Internal(format!("signing CertificateVerify: {e}")))?;
        let cv = CertificateVerify { scheme, signature }.encode();
        transcript.add(&cv);
        flight.push(cv);
    }
    let finished = HandshakeMessage::new(
        HandshakeType::Finished,
        &server_hs.verify_data(&transcript.hash(suite.hash)),
    );
    transcript.add(&finished);
    flight.push(finished);
    for m in &flight {
        cx.send_handshake(m);
    }

    // 5. Application secrets over ClientHello … server Finished; the server may write with
    //    them at once (RFC 8446 §4.4.4), and reads the client's Finished under the handshake keys.
    let master = handshake.into_master();
    let handshake_hash = transcript.hash(suite.hash);
    let (client_ap, server_ap) = master.traffic_secrets(&handshake_hash);
    log_secret(
        cx,
        SecretKind::ClientTrafficSecret0,
        &hello.random,
        &client_ap,
    )?;
    log_secret(
        cx,
        SecretKind::ServerTrafficSecret0,
        &hello.random,
        &server_ap,
    )?;
    cx.log_secret(
        SecretKind::ExporterSecret,
        &hello.random,
        &master.exporter_secret(&handshake_hash),
    )?;
    cx.set_write_keys(protector(&suite, &server_ap)?);
    cx.set_read_keys(protector(&suite, &client_hs)?)?;
    Ok(Box::new(ExpectClientFinished {
        config,
        master,
        suite,
        client_hs,
        client_ap,
        server_ap,
        transcript,
    }))
}

/// An RSA-PSS scheme the client accepts (RFC 8446 §4.2.3).
fn choose_signature_scheme(hello: &ClientHello) -> Result<u16, Error> {
    let offered = match hello.extension(ExtensionType::SignatureAlgorithms) {
        Some(ext) => ext.parse_u16_list("signature_algorithms")?,
        None => {
            return Err(Error::MissingExtension(
                "TLS 1.3 ClientHello without signature_algorithms (RFC 8446 §9.2)".into(),
            ))
        }
    };
    // RFC 8446 §4.2.3: supported_signature_algorithms<2..2^16-2> is never empty.
    if offered.is_empty() {
        return Err(Error::Decode("empty signature_algorithms list".into()));
    }
    pki::PSS_SCHEMES
        .iter()
        .copied()
        .find(|s| offered.contains(s))
        .ok_or_else(|| {
            Error::HandshakeFailure("the client accepts no RSA-PSS signature scheme".into())
        })
}

/// What the server does with the client's key shares.
enum Chosen {
    /// Use this share.
    Share(KxGroup, KeyShareEntry),
    /// Ask for a share in this group (HelloRetryRequest).
    Retry(KxGroup),
}

/// The share in the server's most preferred group among those the client sent shares for;
/// else a retry in its most preferred group the client supports (RFC 8446 §4.2.8, §4.1.4).
fn choose_share(
    config: &ServerConfig,
    hello: &ClientHello,
    retried: bool,
) -> Result<Chosen, Error> {
    let shares = match hello.extension(ExtensionType::KeyShare) {
        Some(ext) => ext.parse_key_share_client()?,
        None => {
            return Err(Error::MissingExtension(
                "TLS 1.3 ClientHello without key_share (RFC 8446 §9.2)".into(),
            ))
        }
    };
    let groups = match hello.extension(ExtensionType::SupportedGroups) {
        Some(ext) => ext.parse_u16_list("supported_groups")?,
        None => Vec::new(),
    };
    let ours = config.ephemerals.groups();
    for group in ours {
        if let Some(share) = shares.iter().find(|s| s.group == group.codepoint()) {
            return Ok(Chosen::Share(*group, share.clone()));
        }
    }
    let names = || ours.iter().map(|g| g.name()).collect::<Vec<_>>().join(", ");
    if retried {
        return Err(Error::IllegalParameter(format!(
            "the retried ClientHello still has no key share in a group pfslab offers ({})",
            names()
        )));
    }
    match ours.iter().find(|g| groups.contains(&g.codepoint())) {
        Some(group) => Ok(Chosen::Retry(*group)),
        None => Err(Error::HandshakeFailure(format!(
            "the client supports no group pfslab offers ({})",
            names()
        ))),
    }
}

fn send_hello_retry_request(
    config: Arc<ServerConfig>,
    cx: &mut Context,
    msg: HandshakeMessage,
    hello: ClientHello,
    suite: Suite,
    group: KxGroup,
) -> Result<Box<dyn State>, Error> {
    let mut transcript = Transcript::default();
    transcript.add(&message_hash(&suite.hash.digest(&msg.encoded)));
    let hrr = ServerHello {
        server_version: ProtocolVersion::Tls12.to_wire(),
        random: HELLO_RETRY_REQUEST_RANDOM,
        session_id: hello.session_id.clone(),
        cipher_suite: suite.id,
        compression_method: 0,
        extensions: vec![
            Extension::supported_versions_server(ProtocolVersion::Tls13.to_wire()),
            Extension::key_share_retry(group.codepoint()),
        ],
    }
    .encode();
    transcript.add(&hrr);
    cx.send_handshake(&hrr);
    if !hello.session_id.is_empty() {
        cx.send_plaintext_change_cipher_spec();
    }
    Ok(Box::new(ExpectRetriedClientHello {
        config,
        suite,
        first: hello,
        transcript,
    }))
}

struct ExpectRetriedClientHello {
    config: Arc<ServerConfig>,
    suite: Suite,
    first: ClientHello,
    transcript: Transcript,
}

impl State for ExpectRetriedClientHello {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ClientHello)?;
        let hello = ClientHello::read(msg.body())?;
        // RFC 8446 §4.1.2: the second ClientHello repeats the first but for the key share.
        if hello.random != self.first.random
            || !hello.cipher_suites.contains(&self.suite.id)
            || !offers_tls13(&hello)?
        {
            return Err(Error::IllegalParameter(
                "the retried ClientHello changed more than its key share".into(),
            ));
        }
        handle_client_hello(
            self.config,
            cx,
            msg,
            hello,
            self.suite,
            Some(self.transcript),
        )
    }
}

struct ExpectClientFinished {
    config: Arc<ServerConfig>,
    /// For the resumption master secret once the client Finished is in (RFC 8446 §7.1).
    master: MasterSecret13,
    suite: Suite,
    client_hs: TrafficSecret,
    client_ap: TrafficSecret,
    server_ap: TrafficSecret,
    transcript: Transcript,
}

impl State for ExpectClientFinished {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let expected = self
            .client_hs
            .verify_data(&self.transcript.hash(self.suite.hash));
        // RFC 8446 §4.4.4: verify_data is Hash.length bytes; another length is malformed.
        if msg.body().len() != expected.len() {
            return Err(Error::Decode(format!(
                "client Finished of {} bytes, not {}",
                msg.body().len(),
                expected.len()
            )));
        }
        if !crate::crypto::constant_time_eq(&expected, msg.body()) {
            return Err(Error::DecryptError("client Finished does not match".into()));
        }
        cx.set_read_keys(protector(&self.suite, &self.client_ap)?)?;
        // RFC 8446 §4.6.1: tickets go after the client Finished, under the server's
        // application keys.
        let mut transcript = self.transcript;
        transcript.add(&msg);
        // Issued whether or not the client listed PSK modes, as OpenSSL does and tlsfuzzer's
        // count-tickets expects; a client that cannot use a ticket ignores it.
        tls13_psk::send_ticket(
            &self.config,
            cx,
            &self.suite,
            &self.master,
            &transcript.hash(self.suite.hash),
        );
        Ok(Box::new(Traffic13 {
            suite: self.suite,
            read_secret: self.client_ap,
            write_secret: self.server_ap,
            resumption: None,
        }))
    }
}
