//! The lab's TLS endpoints: the sans-I/O connection ([`conn`]), the blocking stream over TCP
//! ([`stream`]), and the client and server handshakes. Each side's `mod.rs` writes or reads the
//! hello, chooses the version, and hands off to its `tls12.rs` or `tls13.rs` (rustls' `hs.rs`
//! shape); what both versions need lives here or in those fronts, never in one version's file.

pub mod client;
pub mod conn;
pub mod server;
pub mod session;
pub mod stream;
mod traffic13;

#[cfg(test)]
mod kx_tests;
#[cfg(test)]
mod resumption12_tests;

pub use client::{client_connection, ClientConfig, ServerVerification};
pub use server::{server_connection, ServerConfig};

use crate::error::Error;
use crate::msgs::enums::HandshakeType;
use crate::msgs::record::HandshakeMessage;
use conn::Message;

/// The message must be a handshake message of type `want`; anything else is
/// unexpected_message.
pub(crate) fn require_handshake(
    msg: Message,
    want: HandshakeType,
) -> Result<HandshakeMessage, Error> {
    match msg {
        Message::Handshake(m) if m.typ == want => Ok(m),
        other => Err(Error::UnexpectedMessage {
            expected: handshake_name(want),
            got: other.describe(),
        }),
    }
}

fn handshake_name(t: HandshakeType) -> &'static str {
    match t {
        HandshakeType::ClientHello => "ClientHello",
        HandshakeType::ServerHello => "ServerHello",
        HandshakeType::Certificate => "Certificate",
        HandshakeType::ServerKeyExchange => "ServerKeyExchange",
        HandshakeType::ServerHelloDone => "ServerHelloDone",
        HandshakeType::ClientKeyExchange => "ClientKeyExchange",
        HandshakeType::Finished => "Finished",
        _ => "a handshake message",
    }
}
