//! TLS 1.2 key schedule as pure functions, shared by the client, the server and the attacker:
//! premaster → master secret → key block → record keys, and Finished verify_data.

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::suites::Suite;
use crate::tls12::prf::prf;

/// RFC 5246 §8.1: always 48 bytes. Boxed, so that moving the secret from one handshake state
/// to the next moves a pointer: a by-value array would leave a copy in every freed state (Rust
/// moves are memcpys and the moved-from bytes are never dropped) — `memscan` found those copies
/// in the lab server's heap before this was a box.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret(pub Box<[u8; 48]>);

impl std::fmt::Debug for MasterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterSecret(..)")
    }
}

/// Which derivation produced a master secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterSecretKind {
    /// RFC 5246 §8.1: PRF(pms, "master secret", client_random + server_random).
    Classic,
    /// RFC 7627 §4: PRF(pms, "extended master secret", session_hash).
    Extended,
}

/// The seed a master secret is bound to.
pub enum MasterSecretSeed<'a> {
    Randoms {
        client_random: &'a [u8; 32],
        server_random: &'a [u8; 32],
    },
    /// Hash of ClientHello … ClientKeyExchange (RFC 7627 §3).
    SessionHash(&'a [u8]),
}

pub fn master_secret(suite: &Suite, premaster: &[u8], seed: MasterSecretSeed<'_>) -> MasterSecret {
    // Derived in place in its box: no copy of the secret is left on the stack.
    let mut out = MasterSecret(Box::new([0u8; 48]));
    match seed {
        MasterSecretSeed::Randoms {
            client_random,
            server_random,
        } => prf(
            suite.hash,
            &mut out.0[..],
            premaster,
            b"master secret",
            &[client_random, server_random],
        ),
        MasterSecretSeed::SessionHash(hash) => prf(
            suite.hash,
            &mut out.0[..],
            premaster,
            b"extended master secret",
            &[hash],
        ),
    }
    out
}

/// The master secret of a full handshake: from the randoms, or with EMS (RFC 7627 §4) from
/// the hash of the handshake messages ClientHello … ClientKeyExchange (`session_hash_input`).
/// Endpoints and the attacker both derive it here.
pub fn derive_master_secret(
    suite: &Suite,
    premaster: &[u8],
    ems: bool,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
    session_hash_input: &[u8],
) -> MasterSecret {
    if ems {
        let session_hash = suite.hash.digest(session_hash_input);
        master_secret(
            suite,
            premaster,
            MasterSecretSeed::SessionHash(&session_hash),
        )
    } else {
        master_secret(
            suite,
            premaster,
            MasterSecretSeed::Randoms {
                client_random,
                server_random,
            },
        )
    }
}

/// One direction's record keys (RFC 5246 §6.3).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DirectionKeys {
    pub mac_key: Vec<u8>,
    pub enc_key: Vec<u8>,
    /// The GCM salt (implicit nonce part, RFC 5288 §3).
    pub fixed_iv: Vec<u8>,
}

/// The key block cut into its parts.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyBlock {
    /// The whole block as the PRF produced it.
    pub raw: Vec<u8>,
    pub client: DirectionKeys,
    pub server: DirectionKeys,
}

/// key_block = PRF(master, "key expansion", server_random + client_random), cut as
/// client MAC, server MAC, client key, server key, client IV, server IV (RFC 5246 §6.3).
pub fn key_block(
    suite: &Suite,
    master: &MasterSecret,
    client_random: &[u8; 32],
    server_random: &[u8; 32],
) -> KeyBlock {
    let (mac, key, iv) = (suite.mac_key_len, suite.enc_key_len, suite.fixed_iv_len);
    let mut raw = Zeroizing::new(vec![0u8; 2 * (mac + key + iv)]);
    prf(
        suite.hash,
        &mut raw,
        &master.0[..],
        b"key expansion",
        &[server_random, client_random],
    );
    let (client_mac, rest) = raw.split_at(mac);
    let (server_mac, rest) = rest.split_at(mac);
    let (client_key, rest) = rest.split_at(key);
    let (server_key, rest) = rest.split_at(key);
    let (client_iv, server_iv) = rest.split_at(iv);
    KeyBlock {
        raw: raw.to_vec(),
        client: DirectionKeys {
            mac_key: client_mac.to_vec(),
            enc_key: client_key.to_vec(),
            fixed_iv: client_iv.to_vec(),
        },
        server: DirectionKeys {
            mac_key: server_mac.to_vec(),
            enc_key: server_key.to_vec(),
            fixed_iv: server_iv.to_vec(),
        },
    }
}

/// Who sent a Finished message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn peer(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// verify_data = PRF(master, finished_label, Hash(handshake_messages))[0..12] (RFC 5246 §7.4.9).
pub fn verify_data(
    suite: &Suite,
    master: &MasterSecret,
    sender: Side,
    handshake_hash: &[u8],
) -> [u8; 12] {
    let label: &[u8] = match sender {
        Side::Client => b"client finished",
        Side::Server => b"server finished",
    };
    let mut out = [0u8; 12];
    prf(
        suite.hash,
        &mut out,
        &master.0[..],
        label,
        &[handshake_hash],
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suites::{TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_RSA_WITH_AES_128_GCM_SHA256};

    #[test]
    fn key_block_shape_follows_suite() {
        let ms = MasterSecret(Box::new([7; 48]));
        let kb = key_block(&TLS_RSA_WITH_AES_128_GCM_SHA256, &ms, &[1; 32], &[2; 32]);
        assert_eq!(kb.raw.len(), 40);
        assert_eq!(kb.client.enc_key, kb.raw[0..16]);
        assert_eq!(kb.server.enc_key, kb.raw[16..32]);
        assert_eq!(kb.client.fixed_iv, kb.raw[32..36]);
        assert_eq!(kb.server.fixed_iv, kb.raw[36..40]);
        let kb384 = key_block(
            &TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            &ms,
            &[1; 32],
            &[2; 32],
        );
        assert_eq!(kb384.raw.len(), 72);
        assert_eq!(kb384.client.enc_key.len(), 32);
    }

    #[test]
    fn ems_and_classic_differ() {
        let s = TLS_RSA_WITH_AES_128_GCM_SHA256;
        let a = master_secret(
            &s,
            &[3; 48],
            MasterSecretSeed::Randoms {
                client_random: &[1; 32],
                server_random: &[2; 32],
            },
        );
        let b = master_secret(&s, &[3; 48], MasterSecretSeed::SessionHash(&[9; 32]));
        assert_ne!(a.0, b.0);
    }
}
