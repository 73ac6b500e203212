//! TLS 1.3 key shares laid out part by part — for X25519MLKEM768 both halves of the hybrid
//! secret (draft-ietf-tls-ecdhe-mlkem §3) — and, under `--assume-dlog-broken`, which half the
//! attacker has.

use std::fmt::Write as _;

use super::{field, text, Style};
use crate::attack::assumed_dlog::{group_name, ASSUMED};
use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::{Recovery, SecretSource};
use crate::crypto::kx::{MLKEM768_CT_LEN, MLKEM768_EK_LEN, X25519_LEN};

const HYBRID: u16 = 0x11ec;

/// The group and both shares, cut into their parts for the hybrid.
pub(super) fn layout(out: &mut String, s: &ObservedSession) {
    let KeyExchangeOnWire::Tls13KeyShares {
        client_share,
        server_share,
        server_group: Some(group),
        ..
    } = &s.wire_key_exchange
    else {
        return;
    };
    text(
        out,
        "key share group",
        &format!(
            "{} (0x{group:04x})",
            group_name(s).unwrap_or_else(|| "?".into())
        ),
    );
    let sizes = format!(
        "client {} bytes, server {} bytes",
        client_share.as_ref().map_or(0, Vec::len),
        server_share.as_ref().map_or(0, Vec::len)
    );
    text(out, "share sizes", &sizes);
    match (client_share, server_share) {
        (Some(c), Some(sv)) if *group == HYBRID => {
            match hybrid_parts(c, MLKEM768_EK_LEN) {
                Some((ek, x)) => {
                    field(out, "client: ML-KEM-768 ek", ek);
                    field(out, "client: X25519 public", x);
                }
                None => field(out, "client key share", c),
            }
            match hybrid_parts(sv, MLKEM768_CT_LEN) {
                Some((ct, x)) => {
                    field(out, "server: ML-KEM-768 ct", ct);
                    field(out, "server: X25519 public", x);
                }
                None => field(out, "server key share", sv),
            }
        }
        (c, sv) => {
            if let Some(c) = c {
                field(out, "client key share", c);
            }
            if let Some(sv) = sv {
                field(out, "server key share", sv);
            }
        }
    }
    text(
        out,
        "",
        "both shares are public; they crossed the wire in ClientHello and ServerHello",
    );
}

/// A hybrid share cut into its ML-KEM part (`first` bytes) and its X25519 part.
fn hybrid_parts(share: &[u8], first: usize) -> Option<(&[u8], &[u8])> {
    (share.len() == first + X25519_LEN).then(|| share.split_at(first))
}

/// The full handshake's (EC)DHE input when the session's group is the hybrid, or when the
/// assumed DLP break gave it; `false` when neither applies (the caller prints its own).
pub(super) fn shared_secret(
    out: &mut String,
    s: &ObservedSession,
    recovery: &Recovery,
    style: Style,
) -> bool {
    let hybrid = matches!(
        s.wire_key_exchange,
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(HYBRID),
            ..
        }
    );
    let assumed = match &recovery.dhe {
        Some((secret, src @ SecretSource::AssumedDlog { .. })) => Some((secret, src)),
        _ => None,
    };
    if hybrid {
        let _ = writeln!(
            out,
            "shared secret (64 bytes) = ML-KEM-768 shared secret (32) ‖ X25519 shared secret (32)   [draft-ietf-tls-ecdhe-mlkem §3: ML-KEM first]"
        );
        let _ = writeln!(
            out,
            "   ML-KEM-768 half {}",
            style.broken("[never sent — only the client's decapsulation key opens the ciphertext]")
        );
        let _ = writeln!(out, "     the server encapsulated it to the client's 1184-byte key; the 1088-byte ciphertext is public.");
        let _ = writeln!(out, "     Protects against a discrete-log-capable (quantum) adversary: no quantum algorithm is known to");
        let _ = writeln!(out, "     break ML-KEM (FIPS 203, module lattices). The decapsulation key never left the client.");
        match assumed {
            Some((x, _)) => {
                let _ = writeln!(
                    out,
                    "   X25519 half {}",
                    style.paint(
                        "33",
                        &format!("[computed under the {ASSUMED}: the stand-in key regenerates the client's X25519 public value]")
                    )
                );
                field(out, "X25519 shared secret", x);
                let _ = writeln!(out, "     Protects against today's attackers, and against a flaw in the young ML-KEM; it does not");
                let _ = writeln!(out, "     protect against a discrete-log-capable adversary — which is what is assumed here.");
                let _ = writeln!(out, "   The attacker holds the X25519 half only: 32 of the 64 bytes, and HKDF-Extract needs all 64.");
            }
            None => {
                let _ = writeln!(
                    out,
                    "   X25519 half {}",
                    style.broken("[never sent — X25519(a, B) = X25519(b, A)]")
                );
                let _ = writeln!(out, "     Protects against today's attackers, and against a flaw in the young ML-KEM: the session is");
                let _ = writeln!(out, "     at least as strong as X25519. A discrete-log (quantum) adversary would recover this half.");
            }
        }
        let _ = writeln!(out, "   Handshake Secret = HKDF-Extract(Derive-Secret(Early, \"derived\", \"\"), ML-KEM secret ‖ X25519 secret)");
        return true;
    }
    let Some((secret, src)) = assumed else {
        return false;
    };
    let _ = writeln!(
        out,
        "(EC)DHE shared secret {}",
        style.paint("33", &format!("[never sent; computed under the {ASSUMED}]"))
    );
    text(out, "from", &src.describe());
    field(out, "shared secret", secret);
    let _ = writeln!(out, "   Early Secret     = HKDF-Extract(0, 0)");
    let _ = writeln!(out, "   Handshake Secret = HKDF-Extract(Derive-Secret(Early, \"derived\", \"\"), shared secret)");
    let _ = writeln!(out, "     → client/server handshake traffic secrets = Derive-Secret(., \"c hs traffic\"/\"s hs traffic\", ClientHello…ServerHello)");
    let _ = writeln!(
        out,
        "   Master Secret    = HKDF-Extract(Derive-Secret(Handshake, \"derived\", \"\"), 0)"
    );
    let _ = writeln!(out, "     → client/server application traffic secrets = Derive-Secret(., \"c ap traffic\"/\"s ap traffic\", ClientHello…server Finished)");
    true
}
