//! The server handshake's front (rustls' `server/hs.rs` shape): read the ClientHello, choose the
//! version, and hand off to [`tls13`] (RFC 8446) or [`tls12`] (RFC 5246).

mod tls12;
mod tls13;

use std::sync::Arc;

use crate::crypto::rng::LabRng;
use crate::endpoint::conn::{Connection, Context, Message, State};
use crate::endpoint::require_handshake;
use crate::error::Error;
use crate::keylog::KeyLogWriter;
use crate::msgs::enums::{ExtensionType, HandshakeType, ProtocolVersion};
use crate::msgs::handshake::ClientHello;
use crate::msgs::handshake13::DOWNGRADE_TLS12;
use crate::suites::{KeyExchange, Suite};

/// What a server needs: its identity and what it is willing to negotiate.
pub struct ServerConfig {
    pub key: Arc<rsa::PrivateKey>,
    /// DER certificates, leaf first.
    pub cert_chain: Vec<Vec<u8>>,
    /// In preference order.
    pub suites: Vec<Suite>,
    pub keylog: Option<Arc<KeyLogWriter>>,
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
        // TLS 1.3 when the client offers it and a 1.3 suite is shared (RFC 8446 §4.2.1).
        if offers_tls13(&hello)? {
            if let Some(suite) = choose_tls13_suite(&self.config, &hello) {
                return tls13::handle_client_hello(self.config, cx, msg, hello, suite, None);
            }
        }
        // RFC 8446 §4.1.3: a TLS 1.3-capable server that settles for 1.2 marks its random.
        let supports_tls13 = self
            .config
            .suites
            .iter()
            .any(|s| s.key_exchange == KeyExchange::Tls13);
        let marker = supports_tls13.then_some(DOWNGRADE_TLS12);
        tls12::handle_client_hello(self.config, cx, msg, hello, marker)
    }
}

/// Whether this ClientHello asks for TLS 1.3 (supported_versions lists 0x0304).
fn offers_tls13(hello: &ClientHello) -> Result<bool, Error> {
    match hello.extension(ExtensionType::SupportedVersions) {
        Some(ext) => Ok(ext
            .parse_supported_versions_client()?
            .contains(&ProtocolVersion::Tls13.to_wire())),
        None => Ok(false),
    }
}

/// The TLS 1.3 suite both sides accept, in the server's order.
fn choose_tls13_suite(config: &ServerConfig, hello: &ClientHello) -> Option<Suite> {
    config
        .suites
        .iter()
        .copied()
        .find(|s| s.key_exchange == KeyExchange::Tls13 && hello.cipher_suites.contains(&s.id))
}
