//! The TLS 1.2 client handshake, one type per state (RFC 5246 §7.3):
//! (the front reads the ServerHello) → ExpectCertificate → [ExpectServerKeyExchange] → ExpectServerHelloDone →
//! ExpectChangeCipherSpec → ExpectFinished → Traffic.

use std::sync::Arc;

use rand::Rng;
use zeroize::Zeroizing;

use super::tls12_resume::{self, Keep};
use super::{log_ephemeral, verify_server_certificate, ClientConfig};
use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::ffdh::{DhGroup, DhKey};
use crate::crypto::rng::random_array;
use crate::endpoint::conn::{Context, Message, State, Traffic, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::session::{ClientSession, Tls12Session};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::dhe::{DheClientKeyExchange, DheServerKeyExchange};
use crate::msgs::enums::{ExtensionType, HandshakeType, NamedGroup, ProtocolVersion};
use crate::msgs::handshake::{
    read_empty, CertificateMsg, ClientHello, EcdheClientKeyExchange, EcdheServerKeyExchange,
    Extension, Finished, RsaClientKeyExchange, ServerHello,
};
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::record_protect::Tls12Protector;
use crate::standin::DlogGroup;
use crate::suites::{KeyExchange, Suite};
use crate::tls12::keys::derive_master_secret;
use crate::tls12::keys::{MasterSecret, Side};
use crate::tls12::{finished_for, protectors};

/// What the ClientHello offered to resume a TLS 1.2 session or to get a ticket.
pub(super) struct Offer12 {
    /// The ClientHello's session ID: the saved one, or fresh with a ticket (RFC 5077 §3.4).
    pub session_id: Vec<u8>,
    session: Option<Tls12Session>,
}

/// The ClientHello's TLS 1.2 resumption part: pushes session_ticket (the saved ticket, or empty
/// to ask for one, RFC 5077 §3.1–3.2) and returns the session ID to send. `None`: nothing
/// offered, the hello stays as without resumption.
pub(super) fn offer_resumption(
    config: &ClientConfig,
    cx: &mut Context,
    extensions: &mut Vec<Extension>,
    offers_tls12: bool,
) -> Option<Offer12> {
    if !offers_tls12 {
        return None;
    }
    let r = &config.resumption;
    // Only a session whose suite is still offered (for TLS 1.2) can be resumed.
    let session = match &r.session {
        Some(ClientSession::Tls12(s))
            if config
                .suites
                .iter()
                .any(|x| x.id == s.state.cipher_suite && x.key_exchange != KeyExchange::Tls13) =>
        {
            Some(s.clone())
        }
        _ => None,
    };
    let (session_id, ticket_ext) = match &session {
        Some(s) => match &s.ticket {
            Some(t) => (
                random_array::<32>(&mut cx.rng).to_vec(),
                Some(Extension::new(ExtensionType::SessionTicket, t.clone())),
            ),
            None => (s.session_id.clone(), None),
        },
        None => (Vec::new(), None),
    };
    let ticket_ext = ticket_ext.or_else(|| {
        r.request_tickets
            .then(|| Extension::empty(ExtensionType::SessionTicket))
    });
    let session = session.filter(|s| s.ticket.is_some() || !s.session_id.is_empty());
    if session.is_none() && ticket_ext.is_none() {
        return None;
    }
    extensions.extend(ticket_ext);
    Some(Offer12 {
        session_id,
        session,
    })
}

/// Continues a handshake whose ServerHello chose TLS 1.2 (RFC 5246 §7.4.1.3).
pub(super) fn handle_server_hello(
    config: Arc<ClientConfig>,
    hello: &ClientHello,
    transcript: Transcript,
    cx: &mut Context,
    msg: HandshakeMessage,
    sh: ServerHello,
    offer: Option<Offer12>,
) -> Result<Box<dyn State>, Error> {
    if sh.server_version != ProtocolVersion::Tls12.to_wire() {
        return Err(Error::ProtocolVersion(format!(
            "server chose 0x{:04x}, pfslab speaks TLS 1.2 (0x0303)",
            sh.server_version
        )));
    }
    let suite = config
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
        let offered =
            hello.extension(ext.typ).is_some() || ext.typ == ExtensionType::RenegotiationInfo;
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
    // RFC 7366 §3: an answer for an AEAD suite changes nothing (the server must not send one).
    cx.summary.encrypt_then_mac =
        suite.cipher.is_cbc() && sh.extension(ExtensionType::EncryptThenMac).is_some();
    let mut transcript = transcript;
    transcript.add(&msg);
    let (offered_id, session) = match offer {
        Some(o) => (o.session_id, o.session),
        None => (Vec::new(), None),
    };
    let keep = Keep {
        config: config.clone(),
        session_id: sh.session_id.clone(),
        ticket_expected: sh.extension(ExtensionType::SessionTicket).is_some(),
        ticket: None,
        resumed: None,
    };
    // RFC 5246 §7.4.1.3: the server echoes our session ID when it resumes that session.
    if let Some(session) = session {
        if !sh.session_id.is_empty() && sh.session_id == offered_id {
            let keep = Keep {
                resumed: Some(session.clone()),
                ..keep
            };
            return tls12_resume::start_abbreviated(
                cx,
                suite,
                hello.random,
                sh.random,
                transcript,
                keep,
                &session,
            );
        }
    }
    Ok(Box::new(ExpectCertificate {
        config,
        suite,
        client_random: hello.random,
        server_random: sh.random,
        ems,
        transcript,
        keep,
    }))
}

struct ExpectCertificate {
    config: Arc<ClientConfig>,
    suite: Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    transcript: Transcript,
    keep: Keep,
}

impl State for ExpectCertificate {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Certificate)?;
        let cert = CertificateMsg::read(msg.body())?;
        let server_key = verify_server_certificate(&self.config, &cert.chain)?;
        cx.summary.server_certificates = cert.chain.clone();
        let mut transcript = self.transcript;
        transcript.add(&msg);
        let next = AfterCertificate {
            suite: self.suite,
            client_random: self.client_random,
            server_random: self.server_random,
            ems: self.ems,
            server_key,
            transcript,
            dh_min_bits: self.config.dh_min_bits,
            keep: self.keep,
            config: self.config.clone(),
        };
        Ok(match self.suite.key_exchange {
            KeyExchange::EcdheRsa | KeyExchange::DheRsa => Box::new(ExpectServerKeyExchange(next)),
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
    dh_min_bits: usize,
    keep: Keep,
    config: Arc<ClientConfig>,
}

/// The server's signed ephemeral public value.
enum ServerShare {
    /// An uncompressed P-256 point.
    Ecdhe(Vec<u8>),
    /// The validated group and Ys.
    Dhe(DhGroup, Vec<u8>),
}

/// The ServerKeyExchange signature covers both randoms and the params (RFC 8422 §5.4,
/// RFC 5246 §7.4.3).
fn verify_ske_signature(
    inner: &AfterCertificate,
    scheme: u16,
    signed: &[u8],
    signature: &[u8],
) -> Result<(), Error> {
    if !pki::RSA_SCHEMES.contains(&scheme) {
        return Err(Error::IllegalParameter(format!(
            "server signed with scheme 0x{scheme:04x}, which was not offered"
        )));
    }
    pki::verify(&inner.server_key, scheme, signed, signature).map_err(|e| {
        Error::DecryptError(format!(
            "ServerKeyExchange signature does not verify with the certificate's key: {e}"
        ))
    })
}

/// Checks a DHE server's group and public value (RFC 7919 §3, §5.1): a prime of at least
/// `min_bits`, 1 < g < p−1, 1 < Ys < p−1. Says why it refuses.
fn check_dhe_params(ske: &DheServerKeyExchange, min_bits: usize) -> Result<DhGroup, Error> {
    let group = DhGroup::new(&ske.p, &ske.g)
        .map_err(|e| Error::IllegalParameter(format!("server's DHE group refused: {e}")))?;
    group.check_size(min_bits).map_err(|e| {
        // RFC 7919 §3: a group too weak for the client is insufficient_security; the lab's
        // alert table has no such entry, so it is a handshake_failure with the reason.
        Error::HandshakeFailure(format!("server's DHE group refused: {e}"))
    })?;
    group
        .check_public(&ske.server_public)
        .map_err(|e| Error::IllegalParameter(format!("server's Ys refused: {e}")))?;
    Ok(group)
}

struct ExpectServerKeyExchange(AfterCertificate);

impl State for ExpectServerKeyExchange {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerKeyExchange)?;
        let mut inner = self.0;
        let share = if inner.suite.key_exchange == KeyExchange::DheRsa {
            let ske = DheServerKeyExchange::read(msg.body())?;
            let signed = ske.signed_message(&inner.client_random, &inner.server_random);
            verify_ske_signature(&inner, ske.signature_scheme, &signed, &ske.signature)?;
            let group = check_dhe_params(&ske, inner.dh_min_bits)?;
            cx.summary.signature_scheme = Some(ske.signature_scheme);
            ServerShare::Dhe(group, ske.server_public)
        } else {
            let ske = EcdheServerKeyExchange::read(msg.body())?;
            if ske.named_group != NamedGroup::Secp256r1.to_wire() {
                return Err(Error::IllegalParameter(format!(
                    "server chose group {}, only secp256r1 was offered",
                    NamedGroup::from_wire(ske.named_group)
                )));
            }
            let signed = ske.signed_message(&inner.client_random, &inner.server_random);
            verify_ske_signature(&inner, ske.signature_scheme, &signed, &ske.signature)?;
            crate::crypto::ecdh::parse_point(&ske.public).map_err(Error::IllegalParameter)?;
            cx.summary.signature_scheme = Some(ske.signature_scheme);
            ServerShare::Ecdhe(ske.public)
        };
        inner.transcript.add(&msg);
        Ok(Box::new(ExpectServerHelloDone {
            inner,
            server_point: Some(share),
            certificate_requested: false,
        }))
    }
}

struct ExpectServerHelloDone {
    inner: AfterCertificate,
    server_point: Option<ServerShare>,
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

        // 1. The premaster: chosen and encrypted (RSA), or agreed ((EC)DHE).
        let (cke, premaster): (HandshakeMessage, Zeroizing<Vec<u8>>) =
            match (&s.suite.key_exchange, &self.server_point) {
                (KeyExchange::Rsa, _) => {
                    let mut pms = Zeroizing::new(vec![0u8; 48]);
                    pms[..2].copy_from_slice(&ProtocolVersion::Tls12.to_wire().to_be_bytes());
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
                (KeyExchange::EcdheRsa, Some(ServerShare::Ecdhe(point))) => {
                    let key = EphemeralKey::generate(&mut cx.rng);
                    log_ephemeral(
                        &s.config,
                        &s.client_random,
                        DlogGroup::Secp256r1,
                        &key.public_sec1(),
                        key.scalar_be(),
                    );
                    let pms = key.agree(point).map_err(Error::IllegalParameter)?;
                    (
                        EcdheClientKeyExchange {
                            public: key.public_sec1(),
                        }
                        .encode(),
                        pms,
                    )
                }
                (KeyExchange::DheRsa, Some(ServerShare::Dhe(group, ys))) => {
                    let key = DhKey::generate(group, &mut cx.rng)
                        .map_err(|e| Error::Internal(format!("DH key generation: {e}")))?;
                    log_ephemeral(
                        &s.config,
                        &s.client_random,
                        DlogGroup::Ffdhe,
                        key.public(),
                        key.exponent_be(),
                    );
                    let pms = key
                        .agree(ys)
                        .map_err(|e| Error::IllegalParameter(e.to_string()))?;
                    (
                        DheClientKeyExchange {
                            public: key.public().to_vec(),
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
        let master = derive_master_secret(
            &s.suite,
            &premaster,
            s.ems,
            &s.client_random,
            &s.server_random,
            s.transcript.bytes(),
        );
        cx.log_secret(SecretKind::ClientRandom, &s.client_random, &master.0[..])?;
        // Both directions' keys from one key block (RFC 5246 §6.3); the server's wait for its CCS.
        let (client_write, server_write) = protectors(
            &s.suite,
            &master,
            &s.client_random,
            &s.server_random,
            cx.summary.encrypt_then_mac,
        )?;
        cx.send_change_cipher_spec(client_write);
        let finished = finished_for(
            &s.suite,
            &master,
            Side::Client,
            &s.transcript.hash(s.suite.hash),
        )
        .encode();
        cx.send_handshake(&finished);
        s.transcript.add(&finished);
        Ok(Box::new(ExpectChangeCipherSpec {
            suite: s.suite,
            master,
            transcript: s.transcript,
            client_write: None,
            server_write,
            keep: s.keep,
        }))
    }
}

/// The server's CCS (after a NewSessionTicket if one was promised), then its Finished; shared by
/// the full handshake and the abbreviated one (`tls12_resume`), which answers with its own.
pub(super) struct ExpectChangeCipherSpec {
    pub suite: Suite,
    pub master: MasterSecret,
    pub transcript: Transcript,
    /// Abbreviated handshake: our CCS and Finished go after the server's (RFC 5246 §7.3 fig. 2).
    /// A full handshake sent them already: `None`.
    pub client_write: Option<Tls12Protector>,
    /// The server's write protection, cut from the key block with ours.
    pub server_write: Tls12Protector,
    pub keep: Keep,
}

impl State for ExpectChangeCipherSpec {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let mut s = *self;
        // RFC 5077 §3.3: a promised NewSessionTicket comes before the server's CCS.
        if s.keep.take_ticket(&msg, &mut s.transcript)?.is_some() {
            cx.summary.tickets_issued += 1;
            return Ok(Box::new(s));
        }
        match msg {
            Message::ChangeCipherSpec => {
                cx.accept_change_cipher_spec(s.server_write);
                Ok(Box::new(ExpectFinished {
                    suite: s.suite,
                    master: s.master,
                    transcript: s.transcript,
                    client_write: s.client_write,
                    keep: s.keep,
                }))
            }
            other => Err(Error::unexpected("ChangeCipherSpec", other.describe())),
        }
    }
}

struct ExpectFinished {
    suite: Suite,
    master: MasterSecret,
    transcript: Transcript,
    client_write: Option<Tls12Protector>,
    keep: Keep,
}

impl State for ExpectFinished {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let finished = Finished::read(msg.body())?;
        let mut transcript = self.transcript;
        let expected = finished_for(
            &self.suite,
            &self.master,
            Side::Server,
            &transcript.hash(self.suite.hash),
        );
        if !crate::crypto::constant_time_eq(&expected.verify_data, &finished.verify_data) {
            return Err(Error::DecryptError(match self.client_write {
                Some(_) => "server Finished does not match the resumed session".into(),
                None => "server Finished does not match".into(),
            }));
        }
        if let Some(client_write) = self.client_write {
            transcript.add(&msg);
            cx.send_change_cipher_spec(client_write);
            let ours = finished_for(
                &self.suite,
                &self.master,
                Side::Client,
                &transcript.hash(self.suite.hash),
            );
            cx.send_handshake(&ours.encode());
        }
        self.keep.finish(cx, &self.suite, &self.master);
        Ok(Box::new(Traffic))
    }
}
