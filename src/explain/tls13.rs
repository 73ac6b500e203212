//! TLS 1.3: the key schedule from public key shares to traffic secrets, and what a key log opens.

use std::fmt::Write as _;

use super::{field, text, Style};
use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::Recovery;

pub(super) fn walk(out: &mut String, s: &ObservedSession, recovery: &Recovery, style: Style) {
    let _ = writeln!(
        out,
        "{}",
        style.heading("The TLS 1.3 key schedule (RFC 8446 §7.1)")
    );
    if let KeyExchangeOnWire::Tls13KeyShares {
        client_share,
        server_share,
        server_group,
        ..
    } = &s.wire_key_exchange
    {
        text(
            out,
            "key share group",
            &server_group
                .map(|g| crate::msgs::enums::NamedGroup::from_wire(g).name())
                .unwrap_or_else(|| "?".into()),
        );
        if let Some(c) = client_share {
            field(out, "client key share", c);
        }
        if let Some(sv) = server_share {
            field(out, "server key share", sv);
        }
        text(
            out,
            "",
            "both shares are public; they crossed the wire in ClientHello and ServerHello",
        );
    }
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
    let _ = writeln!(out, "   The server's RSA key only signs CertificateVerify (encrypted, RSA-PSS): stolen, it opens nothing.");
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
        style.heading("Traffic secrets from the key log, and the keys they give (RFC 8446 §7.3)")
    );
    for (kind, secret, from_client) in secrets.each() {
        let label = kind.label();
        let records = if from_client {
            &s.client_protected.records
        } else {
            &s.server_protected.records
        };
        let Some(secret) = secret else {
            text(out, label, "(not in the key log)");
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
