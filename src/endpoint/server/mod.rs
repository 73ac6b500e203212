//! The server handshake's front (rustls' `server/hs.rs` shape): read the ClientHello, choose the
//! version, and hand off to [`tls13`] (RFC 8446) or [`tls12`] (RFC 5246).

mod ephemeral;
mod fast_key;
mod oracle;
mod session_cache;
mod tls12;
mod tls12_resume;
mod tls13;
mod tls13_psk;

pub use ephemeral::{Ephemerals, KeyLifetime};
pub use fast_key::{accelerate, FastKeySlot, FastServerKey};
pub use oracle::PaddingOracle;
pub use session_cache::SessionCache;

use std::sync::Arc;

use crate::crypto::rng::LabRng;
use crate::endpoint::conn::{Connection, Context, Message, State};
use crate::endpoint::require_handshake;
use crate::endpoint::session::Clock;
use crate::error::Error;
use crate::keylog::KeyLogWriter;
use crate::msgs::enums::{ExtensionType, HandshakeType, ProtocolVersion, TLS_FALLBACK_SCSV};
use crate::msgs::handshake::ClientHello;
use crate::msgs::handshake13::DOWNGRADE_TLS12;
use crate::suites::{KeyExchange, Suite};
use crate::tickets::TicketKeys;

/// What a server needs: its identity and what it is willing to negotiate.
pub struct ServerConfig {
    pub key: Arc<rsa::PrivateKey>,
    /// DER certificates, leaf first.
    pub cert_chain: Vec<Vec<u8>>,
    /// In preference order.
    pub suites: Vec<Suite>,
    pub keylog: Option<Arc<KeyLogWriter>>,
    /// The finite-field group for DHE suites: RFC 7919 ffdhe2048 unless `--dh-params` says.
    pub dh_group: crate::crypto::ffdh::DhGroup,
    /// Session IDs, tickets and PSK resumption (off by default).
    pub resumption: ServerResumption,
    /// Ephemeral (EC)DH keys: fresh per handshake by default, or reused (`--reuse-ephemeral`).
    pub ephemerals: Ephemerals,
    /// A deliberate Bleichenbacher padding oracle for RSA key transport (`--oracle`; off by
    /// default).
    pub padding_oracle: PaddingOracle,
    /// `key` loaded into AWS-LC ([`accelerate`], when a server starts serving this
    /// configuration); until then, or for a key AWS-LC does not take, the rsa crate does every
    /// private operation. Build it empty: `Default::default()`.
    pub fast_key: fast_key::FastKeySlot,
}

/// How the server lets clients come back (RFC 5246 §7.3 session IDs, RFC 5077 tickets,
/// RFC 8446 §4.6.1 resumption tickets). The default issues nothing and resumes nothing.
#[derive(Clone)]
pub struct ServerResumption {
    /// Seals TLS 1.2 tickets and TLS 1.3 resumption tickets; `None` issues no tickets.
    pub tickets: Option<Arc<TicketKeys>>,
    /// Remembers TLS 1.2 sessions by session ID; `None` sends empty session IDs.
    pub session_cache: Option<Arc<SessionCache>>,
    /// TLS 1.3: choose psk_ke over psk_dhe_ke when the client offers both — a deliberately weak
    /// setting (OpenSSL 3.3 calls it SSL_OP_PREFER_NO_DHE_KEX). Default: psk_dhe_ke.
    pub prefer_psk_ke: bool,
    /// Seconds a ticket is good for (lifetime hint in 1.2, ticket_lifetime in 1.3).
    pub ticket_lifetime: u32,
    /// Dates tickets (fixed for seeded runs).
    pub clock: Clock,
}

impl Default for ServerResumption {
    fn default() -> Self {
        Self {
            tickets: None,
            session_cache: None,
            prefer_psk_ke: false,
            ticket_lifetime: 7200,
            clock: Clock::System,
        }
    }
}

/// A server-side connection waiting for a ClientHello.
pub fn server_connection(config: Arc<ServerConfig>, rng: LabRng) -> Result<Connection, Error> {
    let keylog = config.keylog.clone();
    Connection::new(rng, keylog, |_| Ok(Box::new(ExpectClientHello { config })))
}

struct ExpectClientHello {
    config: Arc<ServerConfig>,
}

impl State for ExpectClientHello {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ClientHello)?;
        let hello = ClientHello::read(msg.body())?;
        // RFC 8446 §D.5: a legacy_version of SSL 3.0 or older is refused outright.
        if hello.client_version <= ProtocolVersion::Ssl3.to_wire() {
            return Err(Error::ProtocolVersion(format!(
                "ClientHello.legacy_version 0x{:04x} (RFC 8446 §D.5)",
                hello.client_version
            )));
        }
        let supports_tls13 = self
            .config
            .suites
            .iter()
            .any(|s| s.key_exchange == KeyExchange::Tls13);
        let offered = offered_versions(&hello)?;
        let (tls13, tls12) = (
            offered.contains(&ProtocolVersion::Tls13.to_wire()),
            offered.contains(&ProtocolVersion::Tls12.to_wire()),
        );
        // RFC 7507 §3: a fallback retry below a version both sides speak is refused.
        if hello.cipher_suites.contains(&TLS_FALLBACK_SCSV) && supports_tls13 && !tls13 {
            return Err(Error::InappropriateFallback(
                "the client signals a fallback, but both sides speak TLS 1.3".into(),
            ));
        }
        // TLS 1.3 when both sides speak it (RFC 8446 §4.2.1): the version is chosen first, so a
        // hello with no TLS 1.3 suite fails rather than falling back to 1.2 (§4.1.1).
        if tls13 && supports_tls13 {
            let Some(suite) = choose_tls13_suite(&self.config, &hello) else {
                return Err(Error::HandshakeFailure(
                    "the client offers TLS 1.3 but none of its TLS 1.3 suites".into(),
                ));
            };
            return tls13::handle_client_hello(self.config, cx, msg, hello, suite, None);
        }
        if !tls12 {
            return Err(Error::ProtocolVersion(format!(
                "the client offers no version this server speaks: {offered:04x?}"
            )));
        }
        // RFC 8446 §4.1.3: a TLS 1.3-capable server that settles for 1.2 marks its random.
        let marker = supports_tls13.then_some(DOWNGRADE_TLS12);
        tls12::handle_client_hello(self.config, cx, msg, hello, marker)
    }
}

/// The versions a ClientHello offers: its supported_versions (RFC 8446 §4.2.1), or without
/// that extension, TLS 1.2 when legacy_version is at least 0x0303 (RFC 5246 Appendix E.1).
fn offered_versions(hello: &ClientHello) -> Result<Vec<u16>, Error> {
    Ok(match hello.extension(ExtensionType::SupportedVersions) {
        Some(ext) => ext.parse_supported_versions_client()?,
        None if hello.client_version >= ProtocolVersion::Tls12.to_wire() => {
            vec![ProtocolVersion::Tls12.to_wire()]
        }
        None => vec![hello.client_version],
    })
}

/// Whether this ClientHello asks for TLS 1.3 (supported_versions lists 0x0304).
fn offers_tls13(hello: &ClientHello) -> Result<bool, Error> {
    Ok(offered_versions(hello)?.contains(&ProtocolVersion::Tls13.to_wire()))
}

/// The TLS 1.3 suite both sides accept, in the server's order.
fn choose_tls13_suite(config: &ServerConfig, hello: &ClientHello) -> Option<Suite> {
    config
        .suites
        .iter()
        .copied()
        .find(|s| s.key_exchange == KeyExchange::Tls13 && hello.cipher_suites.contains(&s.id))
}
