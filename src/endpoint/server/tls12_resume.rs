//! TLS 1.2 session resumption on the server: finding the earlier session (RFC 5077 §3.4 ticket,
//! RFC 5246 §7.4.1.2 session ID), the abbreviated handshake (RFC 5246 §7.3 fig. 2)
//! ServerHello → CCS → Finished → ExpectChangeCipherSpec → ExpectFinished → Traffic, and what a
//! full handshake remembers so a later one can resume.

use zeroize::Zeroizing;

use super::ServerConfig;
use crate::crypto::rng::random_array;
use crate::endpoint::conn::{Context, Message, ResumedBy, State, Traffic, Transcript};
use crate::endpoint::require_handshake;
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ExtensionType, HandshakeType, ProtocolVersion};
use crate::msgs::handshake::{ClientHello, Extension, Finished, NewSessionTicket12, ServerHello};
use crate::msgs::record::HandshakeMessage;
use crate::record_protect::Tls12Protector;
use crate::suites::{KeyExchange, Suite};
use crate::tickets::{TicketState, Tls12State};
use crate::tls12::keys::{MasterSecret, Side};
use crate::tls12::{finished_for, protectors};

/// What the ClientHello asks of resumption.
pub(super) struct ResumeRequest {
    /// The earlier session to resume, and how it was found.
    pub found: Option<(Tls12State, Suite, ResumedBy)>,
    /// The client sent session_ticket and this server issues tickets (RFC 5077 §3.2).
    pub wants_ticket: bool,
}

/// Looks for a session the ClientHello can resume. Any failure (unknown key, bad MAC, expired,
/// suite not offered or not allowed, a non-EMS session under an EMS hello) is no resumption:
/// the server falls back to a full handshake (RFC 5077 §3.4, RFC 7627 §5.3). The one error:
/// an EMS session offered without EMS, which RFC 7627 §5.3 says to abort (as OpenSSL does,
/// handshake_failure).
pub(super) fn find_session(
    config: &ServerConfig,
    hello: &ClientHello,
    ems: bool,
    etm_offered: bool,
    server_name: Option<&str>,
) -> Result<ResumeRequest, Error> {
    let r = &config.resumption;
    let ticket_ext = hello.extension(ExtensionType::SessionTicket);
    let wants_ticket = r.tickets.is_some() && ticket_ext.is_some();
    let usable = |state: Tls12State| -> Option<(Tls12State, Suite)> {
        let suite = config.suites.iter().copied().find(|s| {
            s.id == state.cipher_suite
                && s.key_exchange != KeyExchange::Tls13
                && hello.cipher_suites.contains(&s.id)
        })?;
        // RFC 7627 §5.3: a non-EMS session is not resumed by an EMS hello (full handshake);
        // an EMS session resumed without EMS aborts (checked by the caller).
        if state.extended_master_secret != ems {
            return None;
        }
        // RFC 6066 §3: a session made for another name is not resumed (full handshake).
        let same_name = match (&state.server_name, server_name) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => a.is_none() && b.is_none(),
        };
        if !same_name {
            return None;
        }
        // RFC 7366 §3.1: an encrypt-then-MAC session keeps it, so the client must still ask.
        if state.encrypt_then_mac && !etm_offered {
            return None;
        }
        let now = r.clock.now_secs();
        let age = now.checked_sub(state.issued)?;
        (age <= r.ticket_lifetime).then_some((state, suite))
    };
    let downgrade = |state: &Tls12State| -> Result<(), Error> {
        if state.extended_master_secret && !ems {
            return Err(Error::HandshakeFailure(
                "the client resumes an extended-master-secret session without the extension (RFC 7627 §5.3)"
                    .into(),
            ));
        }
        Ok(())
    };
    let by_ticket = match (ticket_ext, &r.tickets) {
        (Some(ext), Some(keys)) if !ext.data.is_empty() => match keys.open_state(&ext.data) {
            Ok(TicketState::Tls12(state)) => {
                downgrade(&state)?;
                usable(state)
            }
            _ => None,
        },
        _ => None,
    };
    if let Some((state, suite)) = by_ticket {
        return Ok(ResumeRequest {
            found: Some((state, suite, ResumedBy::Ticket)),
            wants_ticket,
        });
    }
    let cached = match &r.session_cache {
        Some(cache) if !hello.session_id.is_empty() => cache.get(&hello.session_id),
        _ => None,
    };
    if let Some(state) = &cached {
        downgrade(state)?;
    }
    Ok(ResumeRequest {
        found: cached
            .and_then(usable)
            .map(|(state, suite)| (state, suite, ResumedBy::SessionId)),
        wants_ticket,
    })
}

/// What a full handshake keeps for later: the session ID it assigned (cache on) and whether it
/// owes the client a ticket.
pub(super) struct Remember {
    pub session_id: Vec<u8>,
    pub issue_ticket: bool,
}

impl Remember {
    /// Session ID for the ServerHello: 32 random bytes with the cache on, else empty (RFC 5246
    /// §7.4.1.3: empty means the session cannot be resumed by ID).
    pub fn new(config: &ServerConfig, cx: &mut Context, wants_ticket: bool) -> Self {
        let session_id = match &config.resumption.session_cache {
            Some(_) => random_array::<32>(&mut cx.rng).to_vec(),
            None => Vec::new(),
        };
        Self {
            session_id,
            issue_ticket: wants_ticket,
        }
    }

    /// RFC 5077 §3.2: an empty session_ticket extension in the ServerHello promises a ticket.
    pub fn extensions(&self) -> Option<Extension> {
        self.issue_ticket
            .then(|| Extension::empty(ExtensionType::SessionTicket))
    }

    /// After the client's Finished: the NewSessionTicket (RFC 5077 §3.3, before the server's
    /// CCS, and hashed into its Finished), and the session-cache entry.
    pub fn finish(
        &self,
        config: &ServerConfig,
        cx: &mut Context,
        suite: &Suite,
        master: &MasterSecret,
        transcript: &mut Transcript,
    ) {
        let issued = config.resumption.clock.now_secs();
        self.seal(config, cx, suite, master, issued, transcript);
    }

    fn seal(
        &self,
        config: &ServerConfig,
        cx: &mut Context,
        suite: &Suite,
        master: &MasterSecret,
        issued: u32,
        transcript: &mut Transcript,
    ) {
        let r = &config.resumption;
        let state = Tls12State {
            cipher_suite: suite.id,
            master_secret: Zeroizing::new(*master.0),
            issued,
            extended_master_secret: cx.summary.extended_master_secret,
            encrypt_then_mac: cx.summary.encrypt_then_mac,
            server_name: cx.summary.server_name.clone(),
        };
        if let (true, Some(keys)) = (self.issue_ticket, &r.tickets) {
            let plain = TicketState::Tls12(state.clone()).encode();
            let ticket = keys.current().seal_random(&plain, &mut cx.rng);
            let nst = NewSessionTicket12 {
                lifetime_hint: r.ticket_lifetime,
                ticket,
            }
            .encode();
            cx.send_handshake(&nst);
            transcript.add(&nst);
            cx.summary.tickets_issued += 1;
        }
        if let (false, Some(cache)) = (self.session_id.is_empty(), &r.session_cache) {
            cache.insert(&self.session_id, state);
        }
    }
}

/// The abbreviated handshake's first flight (RFC 5246 §7.3 fig. 2): ServerHello echoing the
/// client's session ID (RFC 5077 §3.4), ChangeCipherSpec, Finished; keys from the remembered
/// master secret and the new randoms.
#[allow(clippy::too_many_arguments)]
pub(super) fn start_abbreviated(
    cx: &mut Context,
    msg: HandshakeMessage,
    hello: &ClientHello,
    found: (Tls12State, Suite, ResumedBy),
    renew: Option<&ServerConfig>,
    secure_reneg: bool,
    server_name: Option<String>,
    downgrade_marker: Option<[u8; 8]>,
) -> Result<Box<dyn State>, Error> {
    let (state, suite, by) = found;
    let mut server_random: [u8; 32] = random_array(&mut cx.rng);
    if let Some(marker) = downgrade_marker {
        server_random[24..].copy_from_slice(&marker);
    }
    let etm = suite.cipher.is_cbc() && state.encrypt_then_mac;
    let mut extensions = Vec::new();
    if secure_reneg {
        extensions.push(Extension::renegotiation_info(&[]));
    }
    if state.extended_master_secret {
        extensions.push(Extension::empty(ExtensionType::ExtendedMasterSecret));
    }
    if etm {
        extensions.push(Extension::empty(ExtensionType::EncryptThenMac));
    }
    // RFC 5077 §3.4: a client that sent session_ticket may get a renewed ticket.
    if renew.is_some() {
        extensions.push(Extension::empty(ExtensionType::SessionTicket));
    }
    let server_hello = ServerHello {
        server_version: ProtocolVersion::Tls12.to_wire(),
        random: server_random,
        session_id: hello.session_id.clone(),
        cipher_suite: suite.id,
        compression_method: 0,
        extensions,
    }
    .encode();
    cx.summary.suite = Some(suite);
    cx.summary.client_random = hello.random;
    cx.summary.server_random = server_random;
    cx.summary.extended_master_secret = state.extended_master_secret;
    cx.summary.encrypt_then_mac = etm;
    cx.summary.server_name = server_name;
    cx.summary.secure_renegotiation = secure_reneg;
    cx.summary.resumed = Some(by);

    let master = MasterSecret(Box::new(*state.master_secret));
    // The key log needs the new client random: each resumption has its own key block.
    cx.log_secret(SecretKind::ClientRandom, &hello.random, &master.0[..])?;
    let (client_write, server_write) =
        protectors(&suite, &master, &hello.random, &server_random, etm)?;
    let mut transcript = Transcript::default();
    transcript.add(&msg);
    transcript.add(&server_hello);
    cx.send_handshake(&server_hello);
    if let Some(config) = renew {
        // The renewed ticket keeps the session's original date: renewal does not extend it.
        let remember = Remember {
            session_id: Vec::new(),
            issue_ticket: true,
        };
        let issued = state.issued;
        remember.seal(config, cx, &suite, &master, issued, &mut transcript);
    }
    cx.send_change_cipher_spec(server_write);
    let ours = finished_for(&suite, &master, Side::Server, &transcript.hash(suite.hash)).encode();
    cx.send_handshake(&ours);
    transcript.add(&ours);
    Ok(Box::new(ExpectChangeCipherSpec {
        suite,
        master,
        transcript,
        client_write,
    }))
}

struct ExpectChangeCipherSpec {
    suite: Suite,
    master: MasterSecret,
    transcript: Transcript,
    client_write: Tls12Protector,
}

impl State for ExpectChangeCipherSpec {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        match msg {
            Message::ChangeCipherSpec => {
                cx.accept_change_cipher_spec(self.client_write);
                Ok(Box::new(ExpectFinished {
                    suite: self.suite,
                    master: self.master,
                    transcript: self.transcript,
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
}

impl State for ExpectFinished {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let finished = Finished::read(msg.body())?;
        let expected = finished_for(
            &self.suite,
            &self.master,
            Side::Client,
            &self.transcript.hash(self.suite.hash),
        );
        if !crate::crypto::constant_time_eq(&expected.verify_data, &finished.verify_data) {
            return Err(Error::DecryptError(
                "client Finished does not match the resumed session".into(),
            ));
        }
        Ok(Box::new(Traffic))
    }
}
