//! TLS 1.2: the PRF and key schedule (pure, shared with the attacker) and the client and
//! server handshakes.

pub mod keys;
pub mod prf;

use crate::endpoint::conn::{Message, Transcript};
use crate::error::Error;
use crate::msgs::enums::HandshakeType;
use crate::msgs::handshake::Finished;
use crate::msgs::record::HandshakeMessage;
use crate::record_protect::Tls12GcmProtector;
use crate::suites::Suite;
use keys::{key_block, verify_data, MasterSecret, Side};

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

/// Client-write and server-write record protection cut from the key block (RFC 5246 §6.3).
pub fn protectors(
    suite: &Suite,
    master: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> Result<(Tls12GcmProtector, Tls12GcmProtector), Error> {
    let kb = key_block(suite, master, client_random, server_random);
    let client = Tls12GcmProtector::new(&kb.client.enc_key, &kb.client.fixed_iv);
    let server = Tls12GcmProtector::new(&kb.server.enc_key, &kb.server.fixed_iv);
    match (client, server) {
        (Some(c), Some(s)) => Ok((c, s)),
        _ => Err(Error::Internal(format!(
            "{} has no AES-GCM key shape",
            suite.name
        ))),
    }
}

/// The Finished message `sender` must send after `transcript` (RFC 5246 §7.4.9).
pub fn finished_for(
    suite: &Suite,
    master: &MasterSecret,
    sender: Side,
    transcript: &Transcript,
) -> Finished {
    let hash = transcript.hash(suite.hash);
    Finished {
        verify_data: verify_data(suite, master, sender, &hash).to_vec(),
    }
}
