//! TLS 1.3: the key schedule from public key shares to traffic secrets, and what a key log opens.

use std::fmt::Write as _;

use super::{field, text, Style};
use crate::attack::observe::ObservedSession;
use crate::attack::tickets::PskMode;
use crate::attack::Recovery;

pub(super) fn walk(out: &mut String, s: &ObservedSession, recovery: &Recovery, style: Style) {
    let _ = writeln!(
        out,
        "{}",
        style.heading("The TLS 1.3 key schedule (RFC 8446 §7.1)")
    );
    super::shares::layout(out, s);
    match recovery.psk_mode {
        Some(PskMode::PskKe) => psk_schedule(out, recovery, false, style),
        Some(PskMode::PskDheKe) => psk_schedule(out, recovery, true, style),
        _ => {
            if !super::shares::shared_secret(out, s, recovery, style) {
                full_schedule(out, style);
            }
        }
    }
    if matches!(recovery.psk_mode, Some(PskMode::PskKe | PskMode::PskDheKe)) {
        let _ = writeln!(out, "   A resumed handshake has no Certificate or CertificateVerify: the server's RSA key takes no part.");
    } else {
        let _ = writeln!(out, "   The server's RSA key only signs CertificateVerify (encrypted, RSA-PSS): stolen, it opens nothing.");
    }
    out.push('\n');
    let Some(suite) = s.suite else { return };
    let Some(secrets) = &recovery.tls13_secrets else {
        let _ = writeln!(
            out,
            "give --keylog with this session's TLS 1.3 lines to go on."
        );
        return;
    };
    if secrets.is_empty() {
        let _ = writeln!(
            out,
            "the key log has no TLS 1.3 secrets for this client random."
        );
        return;
    }
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Traffic secrets {}, and the keys they give (RFC 8446 §7.3)",
            if recovery.psk.is_some()
                && recovery.tls13_secrets.is_some()
                && recovery.verdict.opened()
                && recovery.psk_mode == Some(PskMode::PskKe)
            {
                "derived from the PSK"
            } else if recovery.dhe.is_some() && recovery.verdict.opened() {
                "derived from the (EC)DHE secret under the assumed DLP break"
            } else {
                "from the key log"
            }
        ))
    );
    for (kind, secret, from_client) in secrets.each() {
        let label = kind.label();
        let records = if from_client {
            &s.client_protected.records
        } else {
            &s.server_protected.records
        };
        let Some(secret) = secret else {
            text(out, label, "(not had)");
            continue;
        };
        let _ = writeln!(out, "{label} {}", style.computed());
        field(out, "secret", secret.secret());
        let (key, iv) = secret.record_keys(suite.enc_key_len);
        field(out, "write key = Expand(\"key\")", &key);
        field(out, "write IV  = Expand(\"iv\")", &iv);
        // The first record this secret opens, step by step.
        let Some(mut p) = crate::record_protect::Tls13Protector::new(&key, &iv) else {
            continue;
        };
        if let Some(rec) = records.iter().find(|r| p.clone().open(&r.payload).is_ok()) {
            field(out, "first record: nonce", &p.nonce());
            field(
                out,
                "AAD = record header",
                &crate::record_protect::tls13_header(rec.payload.len()),
            );
            match p.open(&rec.payload) {
                Ok((typ, plain)) => {
                    text(out, "tag check", "OK");
                    text(out, "inner content type", &typ.name());
                    field(out, "plaintext (start)", &plain[..plain.len().min(32)]);
                }
                Err(_) => text(out, "tag check", &style.broken("FAILED")),
            }
        }
        out.push('\n');
    }
}

/// The full handshake's schedule: it needs the (EC)DHE shared secret, which never crossed.
fn full_schedule(out: &mut String, style: Style) {
    let _ = writeln!(
        out,
        "(EC)DHE shared secret {}",
        style.broken("[never sent — the chain breaks here without a key log]")
    );
    let _ = writeln!(
        out,
        "   the x-coordinate of d_c · Q_s = d_s · Q_c; d_c and d_s never left the peers."
    );
    let _ = writeln!(out, "   Early Secret     = HKDF-Extract(0, 0)");
    let _ = writeln!(out, "   Handshake Secret = HKDF-Extract(Derive-Secret(Early, \"derived\", \"\"), shared secret)");
    let _ = writeln!(out, "     → client/server handshake traffic secrets = Derive-Secret(., \"c hs traffic\"/\"s hs traffic\", ClientHello…ServerHello)");
    let _ = writeln!(
        out,
        "   Master Secret    = HKDF-Extract(Derive-Secret(Handshake, \"derived\", \"\"), 0)"
    );
    let _ = writeln!(out, "     → client/server application traffic secrets = Derive-Secret(., \"c ap traffic\"/\"s ap traffic\", ClientHello…server Finished)");
}

/// A resumption: the PSK from the ticket, its binder, and — psk_ke — the schedule with no
/// (EC)DHE input, or — psk_dhe_ke — where fresh (EC)DHE stops the attacker.
fn psk_schedule(out: &mut String, recovery: &Recovery, dhe: bool, style: Style) {
    let _ = writeln!(
        out,
        "mode {} {}",
        if dhe { "psk_dhe_ke" } else { "psk_ke" },
        style.paint("33", "[the ServerHello selected a PSK identity]")
    );
    match &recovery.psk {
        Some((psk, source)) => {
            let _ = writeln!(
                out,
                "PSK {}",
                style.paint(
                    "35",
                    "[sealed in the ticket; opened with the stolen ticket key]"
                )
            );
            text(out, "from", &source.describe());
            field(out, "PSK", psk);
            text(
                out,
                "binder",
                match recovery.binder_verifies {
                    Some(true) => "verifies: HMAC(finished key of binder_key, Transcript-Hash(ClientHello up to the binders)) — the PSK is the one the client used",
                    Some(false) => "does NOT verify: this is not the PSK the client used",
                    None => "not checked (the ClientHello could not be cut before its binders)",
                },
            );
            let _ = writeln!(out, "   Early Secret     = HKDF-Extract(0, PSK); binder_key = Derive-Secret(Early, \"res binder\", \"\")");
        }
        None => {
            let _ = writeln!(
                out,
                "PSK {}",
                style.broken(
                    "[sealed in the ticket — give --ticket-key with the server's ticket key]"
                )
            );
            let _ = writeln!(out, "   Early Secret     = HKDF-Extract(0, PSK)");
        }
    }
    if dhe {
        let _ = writeln!(
            out,
            "(EC)DHE shared secret {}",
            style.broken("[never sent — the chain breaks here]")
        );
        let _ = writeln!(out, "   Handshake Secret = HKDF-Extract(Derive-Secret(Early, \"derived\", \"\"), (EC)DHE shared secret)");
        let _ = writeln!(out, "   psk_dhe_ke mixes a fresh key exchange into the handshake secret: the PSK alone derives nothing");
        let _ = writeln!(out, "   past the early secret, and d_c, d_s never left the peers. The ticket key does not open this session.");
    } else {
        let _ = writeln!(out, "   Handshake Secret = HKDF-Extract(Derive-Secret(Early, \"derived\", \"\"), 0…0): psk_ke has no (EC)DHE input,");
        let _ = writeln!(out, "   so the PSK alone gives every traffic secret:");
        let _ = writeln!(out, "     → client/server handshake traffic secrets = Derive-Secret(., \"c hs traffic\"/\"s hs traffic\", ClientHello…ServerHello)");
        let _ = writeln!(
            out,
            "   Master Secret    = HKDF-Extract(Derive-Secret(Handshake, \"derived\", \"\"), 0)"
        );
        let _ = writeln!(out, "     → client/server application traffic secrets = Derive-Secret(., \"c ap traffic\"/\"s ap traffic\", ClientHello…server Finished)");
    }
}
