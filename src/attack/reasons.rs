//! Why a session stayed closed, said in the capture's own terms.

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::recovery::KeyCheck;
use crate::codec::hex;
use crate::pki;

/// Bytes for a sentence: whole when short, else first 6 … last 4 and the length.
pub fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 12 {
        hex(bytes)
    } else {
        format!(
            "{}…{} ({} bytes)",
            hex(&bytes[..6]),
            hex(&bytes[bytes.len() - 4..]),
            bytes.len()
        )
    }
}

pub(crate) fn ecdhe_reason(
    obs: &ObservedSession,
    key_check: &KeyCheck,
    signature_verifies: Option<bool>,
) -> String {
    let KeyExchangeOnWire::Ecdhe {
        server_public,
        client_public,
        signature_scheme,
        named_group,
        ..
    } = &obs.wire_key_exchange
    else {
        return "ECDHE".into();
    };
    let signed_by = match (key_check, signature_verifies) {
        (KeyCheck::Matches, Some(true)) => format!(
            "the stolen RSA key only signed the ServerKeyExchange ({}; the signature verifies with it, so this is the same server)",
            pki::scheme_name(*signature_scheme).unwrap_or("?")
        ),
        (KeyCheck::Matches, Some(false)) => {
            "the ServerKeyExchange signature does not verify with the stolen key".into()
        }
        (KeyCheck::Mismatch(why), _) => why.clone(),
        _ => "the server's RSA key only signed the ServerKeyExchange".into(),
    };
    format!(
        "ECDHE on {}: only the ephemeral public points crossed the wire (server {}, client {}); {}; the premaster is the ECDH product of two ephemeral secrets that never left the peers",
        crate::msgs::enums::NamedGroup::from_wire(*named_group).name(),
        short_hex(server_public),
        short_hex(client_public),
        signed_by
    )
}

/// Bits of a big-endian unsigned number (a DH prime).
pub fn dh_bits(p: &[u8]) -> usize {
    match p.iter().position(|b| *b != 0) {
        Some(i) => (p.len() - i) * 8 - p[i].leading_zeros() as usize,
        None => 0,
    }
}

pub(crate) fn dhe_reason(
    obs: &ObservedSession,
    key_check: &KeyCheck,
    signature_verifies: Option<bool>,
) -> String {
    let KeyExchangeOnWire::Dhe {
        p,
        g,
        server_public,
        client_public,
        signature_scheme,
        ..
    } = &obs.wire_key_exchange
    else {
        return "finite-field DHE: the ServerKeyExchange was not captured or not readable".into();
    };
    let group = match crate::crypto::ffdh::DhGroup::new(p, g) {
        Ok(grp) => match grp.well_known() {
            Some(name) => name.to_string(),
            None => "a custom group, not a well-known one".into(),
        },
        Err(e) => format!("an unusable group ({e})"),
    };
    let signed_by = match (key_check, signature_verifies) {
        (KeyCheck::Matches, Some(true)) => format!(
            "the stolen RSA key only signed p, g and Ys = g^a ({}; the signature verifies with it, so this is the same server)",
            pki::scheme_name(*signature_scheme).unwrap_or("?")
        ),
        (KeyCheck::Matches, Some(false)) => {
            "the ServerKeyExchange signature does not verify with the stolen key".into()
        }
        (KeyCheck::Mismatch(why), _) => why.clone(),
        _ => "the server's RSA key only signed p, g and Ys = g^a".into(),
    };
    format!(
        "finite-field DHE on a {}-bit prime p ({group}), g = {}: only the public values Ys = g^a mod p (server {}) and Yc = g^b mod p (client {}) crossed the wire; {signed_by}; the premaster g^ab mod p never left the peers",
        dh_bits(p),
        hex(g),
        short_hex(server_public),
        if client_public.is_empty() { "not captured".to_string() } else { short_hex(client_public) }
    )
}

pub(crate) fn tls13_reason(obs: &ObservedSession) -> String {
    let shares = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(g),
            client_share,
            server_share,
            ..
        } => format!(
            "key shares on {}: client {}, server {}",
            crate::msgs::enums::NamedGroup::from_wire(*g).name(),
            client_share
                .as_deref()
                .map(short_hex)
                .unwrap_or_else(|| "?".into()),
            server_share
                .as_deref()
                .map(short_hex)
                .unwrap_or_else(|| "?".into())
        ),
        _ => "key shares".into(),
    };
    format!(
        "TLS 1.3: only ephemeral public key shares crossed the wire ({shares}); there is no RSA key transport in TLS 1.3 — the server's RSA key only signed CertificateVerify (itself encrypted); every traffic secret comes from the (EC)DHE shared secret of two ephemeral keys that never left the peers"
    )
}
