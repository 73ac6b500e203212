//! TLS 1.2 key schedule (RFC 5246 §6.3, §7.4.9, RFC 7627): the PRF, the master secret, the key
//! block and Finished. Pure: shared by the endpoints, the attacker and explain.

pub mod keys;
pub mod prf;

use crate::error::Error;
use crate::msgs::handshake::Finished;
use crate::record_protect::Tls12GcmProtector;
use crate::suites::Suite;
use keys::{key_block, verify_data, MasterSecret, Side};

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

/// The Finished message `sender` must send after the handshake messages hashed to
/// `handshake_hash` (RFC 5246 §7.4.9).
pub fn finished_for(
    suite: &Suite,
    master: &MasterSecret,
    sender: Side,
    handshake_hash: &[u8],
) -> Finished {
    Finished {
        verify_data: verify_data(suite, master, sender, handshake_hash).to_vec(),
    }
}
