//! `attack --assume-dlog-broken FILE`: what an adversary who can take discrete logs (a large
//! quantum computer running Shor's algorithm) recovers from a capture.
//!
//! Nobody runs Shor's algorithm here. The lab's own clients wrote their classical ephemeral
//! private keys to a stand-in file ([`crate::standin`]); this module takes a session's key from
//! it by client_random, and uses it only after checking that it regenerates the public share
//! that crossed the wire in that session. It then computes the classical shared secret with the
//! server's share from the capture. For X25519MLKEM768 that is only half the secret: the
//! ML-KEM-768 half (FIPS 203) is missing, and no quantum algorithm is known to recover it.

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::reasons::short_hex;
use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::ffdh::{DhGroup, DhKey};
use crate::crypto::kx::{
    X25519Key, HYBRID_CLIENT_SHARE_LEN as HYBRID_CLIENT_SHARE,
    HYBRID_SERVER_SHARE_LEN as HYBRID_SERVER_SHARE, MLKEM768_CT_LEN as MLKEM768_CIPHERTEXT,
    MLKEM768_EK_LEN as MLKEM768_ENCAPS_KEY, X25519_LEN,
};
use crate::standin::{DlogGroup, EphemeralSecret, StandIn};

/// The words every line affected by the flag carries.
pub const ASSUMED: &str = "assumed DLP break";

/// The banner `attack` prints first when the flag is set.
pub const BANNER: &str = "ASSUMED: the discrete-log problem is treated as broken (--assume-dlog-broken, a stand-in for Shor's algorithm on a quantum computer): the classical ephemeral private keys come from the lab's own stand-in file, each checked against the public share in the capture; nothing here breaks a discrete log";

/// The stand-in keys, by client_random (a HelloRetryRequest gives two keys for one random).
#[derive(Default)]
pub struct AssumedDlog {
    by_random: HashMap<[u8; 32], Vec<EphemeralSecret>>,
    /// The capture the file says it belongs to.
    pub capture: String,
    pub keys: usize,
}

impl AssumedDlog {
    pub fn new(file: StandIn) -> Self {
        let keys = file.keys.len();
        let mut by_random: HashMap<[u8; 32], Vec<EphemeralSecret>> = HashMap::new();
        for k in file.keys {
            by_random.entry(k.client_random).or_default().push(k);
        }
        Self {
            by_random,
            capture: file.capture,
            keys,
        }
    }
}

/// The session's key-exchange group by its IANA name: the TLS 1.3 key share's group, or the
/// TLS 1.2 ECDHE curve; "ffdhe" (any prime) for TLS 1.2 DHE.
pub fn group_name(obs: &ObservedSession) -> Option<String> {
    let name = |g: u16| {
        crate::crypto::kx::KxGroup::from_codepoint(g)
            .map(|k| k.name().to_string())
            .unwrap_or_else(|| crate::msgs::enums::NamedGroup::from_wire(g).name())
    };
    match &obs.wire_key_exchange {
        KeyExchangeOnWire::Ecdhe { named_group, .. } => Some(name(*named_group)),
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(g),
            ..
        } => Some(name(*g)),
        KeyExchangeOnWire::Dhe { .. } => Some("ffdhe".into()),
        _ => None,
    }
}

/// What the assumed break gives for one session.
pub enum Classical {
    /// The whole (EC)DHE secret of a classical group: the TLS 1.2 premaster, or the TLS 1.3
    /// (EC)DHE input to HKDF-Extract (RFC 8446 §7.1).
    Secret(Zeroizing<Vec<u8>>, DlogGroup),
    /// X25519MLKEM768: the X25519 half only; the ML-KEM-768 half stays unknown.
    HybridHalf(Zeroizing<Vec<u8>>),
}

/// Finds the client's classical key for `obs` in the stand-in, checks it against the wire, and
/// computes the classical shared secret with the server's share. `Err` says why not.
pub fn classical_secret(a: &AssumedDlog, obs: &ObservedSession) -> Result<Classical, String> {
    let cr = obs
        .client_random()
        .ok_or("the capture lacks the ClientHello's random")?;
    let keys = a.by_random.get(&cr).map(Vec::as_slice).unwrap_or_default();
    let none = || {
        format!(
            "the stand-in file (for {}) holds no key for this session's client_random",
            a.capture
        )
    };
    if keys.is_empty() {
        return Err(none());
    }
    match &obs.wire_key_exchange {
        KeyExchangeOnWire::Ecdhe {
            server_public,
            client_public,
            named_group: 0x0017,
            ..
        } => {
            let key = p256_key(keys, client_public)?;
            agree_p256(&key, server_public).map(|s| Classical::Secret(s, DlogGroup::Secp256r1))
        }
        KeyExchangeOnWire::Ecdhe { named_group, .. } => Err(format!(
            "ECDHE on group 0x{named_group:04x}: the lab's stand-in covers P-256 only here"
        )),
        KeyExchangeOnWire::Dhe {
            p,
            g,
            server_public,
            client_public,
            ..
        } => {
            let group = DhGroup::new(p, g).map_err(|e| format!("the DHE group: {e}"))?;
            let key = dh_key(keys, &group, client_public)?;
            let pms = key
                .agree(server_public)
                .map_err(|e| format!("the server's Ys: {e}"))?;
            Ok(Classical::Secret(pms, DlogGroup::Ffdhe))
        }
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(group),
            client_share: Some(client),
            server_share: Some(server),
            ..
        } => match *group {
            0x0017 => {
                let key = p256_key(keys, client)?;
                agree_p256(&key, server).map(|s| Classical::Secret(s, DlogGroup::Secp256r1))
            }
            0x001d => {
                let key = x25519_key(keys, DlogGroup::X25519, client)?;
                agree_x25519(&key, server).map(|s| Classical::Secret(s, DlogGroup::X25519))
            }
            0x11ec => {
                if client.len() != HYBRID_CLIENT_SHARE || server.len() != HYBRID_SERVER_SHARE {
                    return Err(format!(
                        "X25519MLKEM768 shares of {} and {} bytes, not {HYBRID_CLIENT_SHARE} and {HYBRID_SERVER_SHARE}",
                        client.len(),
                        server.len()
                    ));
                }
                // draft-ietf-tls-ecdhe-mlkem §3: client = ML-KEM-768 encapsulation key (1184)
                // ‖ X25519 (32); server = ML-KEM-768 ciphertext (1088) ‖ X25519 (32).
                let (c, s) = (
                    client.get(MLKEM768_ENCAPS_KEY..).unwrap_or_default(),
                    server.get(MLKEM768_CIPHERTEXT..).unwrap_or_default(),
                );
                let key = x25519_key(keys, DlogGroup::X25519MlKem768, c)?;
                agree_x25519(&key, s).map(Classical::HybridHalf)
            }
            other => Err(format!(
                "key share group 0x{other:04x} has no classical key in the stand-in"
            )),
        },
        _ => Err("the capture lacks the key exchange's public values".into()),
    }
}

/// The refusal when no stand-in key regenerates the wire value.
fn refused(wire: &[u8], tried: usize) -> String {
    if tried == 0 {
        return "the stand-in file holds no key of this group for this session's client_random"
            .into();
    }
    format!(
        "the stand-in key for this client_random does not regenerate the client's public value on the wire ({}): refused, not used",
        short_hex(wire)
    )
}

fn p256_key(keys: &[EphemeralSecret], wire: &[u8]) -> Result<EphemeralKey, String> {
    let mut tried = 0;
    for k in keys.iter().filter(|k| k.group == DlogGroup::Secp256r1) {
        tried += 1;
        if let Some(key) = EphemeralKey::from_scalar_be(&k.private) {
            if key.public_sec1() == wire {
                return Ok(key);
            }
        }
    }
    Err(refused(wire, tried))
}

fn agree_p256(key: &EphemeralKey, server: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    key.agree(server)
        .map_err(|e| format!("the server's share: {e}"))
}

fn dh_key(keys: &[EphemeralSecret], group: &DhGroup, wire: &[u8]) -> Result<DhKey, String> {
    let strip = |v: &[u8]| -> Vec<u8> { v.iter().copied().skip_while(|b| *b == 0).collect() };
    let mut tried = 0;
    for k in keys.iter().filter(|k| k.group == DlogGroup::Ffdhe) {
        tried += 1;
        if let Ok(key) = DhKey::from_exponent_be(group, &k.private) {
            if strip(key.public()) == strip(wire) {
                return Ok(key);
            }
        }
    }
    Err(refused(wire, tried))
}

/// An X25519 private key from the stand-in whose public value (RFC 7748 §6.1) is `wire`.
fn x25519_key(
    keys: &[EphemeralSecret],
    group: DlogGroup,
    wire: &[u8],
) -> Result<X25519Key, String> {
    let mut tried = 0;
    for k in keys.iter().filter(|k| k.group == group) {
        tried += 1;
        let Ok(scalar) = <[u8; 32]>::try_from(k.private.as_slice()) else {
            continue;
        };
        let key = X25519Key::from_scalar(scalar);
        if key.public() == wire {
            return Ok(key);
        }
    }
    Err(refused(wire, tried))
}

/// X25519(k, u) (RFC 7748 §5); an all-zero result is refused (RFC 8446 §7.4.2).
fn agree_x25519(key: &X25519Key, server: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    key.agree(server)
        .map_err(|e| format!("the server's X25519 share: {e}"))
}

/// The reason a hybrid session stays closed under the assumed break.
pub fn hybrid_reason() -> String {
    format!(
        "X25519MLKEM768 (0x11EC): under the {ASSUMED} the X25519 half is recovered — the stand-in's X25519 key regenerates the last {X25519_LEN} bytes of the {HYBRID_CLIENT_SHARE}-byte client share, and with the last {X25519_LEN} bytes of the server's {HYBRID_SERVER_SHARE}-byte share it gives the 32-byte X25519 secret — but the ML-KEM-768 shared secret (32 bytes, encapsulated in the first {MLKEM768_CIPHERTEXT} bytes of the server's share) is missing: only the client's ML-KEM decapsulation key opens it, it never left the client, and a quantum computer is not known to break ML-KEM (FIPS 203). The handshake secret takes both halves (ML-KEM secret ‖ X25519 secret, draft-ietf-tls-ecdhe-mlkem), so half of it is not enough"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x25519_pair(seed: u8) -> (Vec<u8>, Vec<u8>) {
        let key = X25519Key::from_scalar([seed; 32]);
        (vec![seed; 32], key.public().to_vec())
    }

    fn entry(group: DlogGroup, private: Vec<u8>, public: Vec<u8>) -> EphemeralSecret {
        EphemeralSecret {
            client_random: [1; 32],
            group,
            public,
            private: Zeroizing::new(private),
        }
    }

    /// RFC 7748 §6.1: Alice's and Bob's keys give the shared secret K.
    #[test]
    fn x25519_matches_rfc7748_section_6_1() {
        let h = |s: &str| crate::codec::unhex(s).unwrap();
        let alice = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let alice_pub = h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let bob_pub = h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let k = h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let keys = [entry(DlogGroup::X25519, alice, alice_pub.clone())];
        let key = x25519_key(&keys, DlogGroup::X25519, &alice_pub).unwrap();
        assert_eq!(*agree_x25519(&key, &bob_pub).unwrap(), k);
    }

    #[test]
    fn a_key_that_does_not_regenerate_the_wire_value_is_refused() {
        let (private, public) = x25519_pair(5);
        let (_, other_public) = x25519_pair(6);
        // The file's own "public" field is not trusted: only the regeneration counts.
        let keys = [entry(DlogGroup::X25519, private, other_public.clone())];
        let e = x25519_key(&keys, DlogGroup::X25519, &other_public)
            .err()
            .unwrap();
        assert!(e.contains("does not regenerate"), "{e}");
        assert!(x25519_key(&keys, DlogGroup::X25519, &public).is_ok());
        // The hybrid's X25519 part is looked up under its own group only.
        assert!(x25519_key(&keys, DlogGroup::X25519MlKem768, &public).is_err());
    }
}
