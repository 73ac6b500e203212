//! TLS 1.2 key schedule (RFC 5246 §6.3, §7.4.9, RFC 7627): the PRF, the master secret, the key
//! block and Finished. Pure: shared by the endpoints, the attacker and explain.

pub mod keys;
pub mod prf;

use crate::error::Error;
use crate::msgs::handshake::Finished;
use crate::record_protect::{Tls12CbcProtector, Tls12GcmProtector, Tls12Protector};
use crate::suites::{RecordCipher, Suite};
use keys::{key_block, verify_data, MasterSecret, Side};

/// Client-write and server-write record protection cut from the key block (RFC 5246 §6.3):
/// AES-GCM keys and salts, or for CBC the MAC keys and keys (no IVs: TLS 1.2 CBC records carry
/// them). `encrypt_then_mac` is whether the ServerHello answered extension 22 (RFC 7366).
pub fn protectors(
    suite: &Suite,
    master: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    encrypt_then_mac: bool,
) -> Result<(Tls12Protector, Tls12Protector), Error> {
    let kb = key_block(suite, master, client_random, server_random);
    let pair = match suite.cipher {
        RecordCipher::AesGcm => {
            let c = Tls12GcmProtector::new(&kb.client.enc_key, &kb.client.fixed_iv);
            let s = Tls12GcmProtector::new(&kb.server.enc_key, &kb.server.fixed_iv);
            c.zip(s)
                .map(|(c, s)| (Tls12Protector::Gcm(c), Tls12Protector::Gcm(s)))
        }
        RecordCipher::AesCbc(mac) => {
            let c = Tls12CbcProtector::new(
                mac,
                &kb.client.mac_key,
                &kb.client.enc_key,
                encrypt_then_mac,
            );
            let s = Tls12CbcProtector::new(
                mac,
                &kb.server.mac_key,
                &kb.server.enc_key,
                encrypt_then_mac,
            );
            c.zip(s)
                .map(|(c, s)| (Tls12Protector::Cbc(c), Tls12Protector::Cbc(s)))
        }
    };
    pair.ok_or_else(|| Error::Internal(format!("{} has no usable key shape", suite.name)))
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
