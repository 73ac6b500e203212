//! `pfslab explain`: one session walked through in the order its bytes flowed, every secret
//! laid out where it comes to be — and, for a forward-secret session, where the chain breaks.

use std::fmt::Write as _;

mod shares;
mod tls12;
mod tls13;

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession, Resumption};
use crate::attack::pipeline::TlsConnection;
use crate::attack::short_hex;
use crate::attack::tickets::{TicketOpening, TicketOrigin};
use crate::attack::{Recovery, SecretSource};
use crate::codec::hex;
use crate::msgs::enums::ExtensionType;
use crate::pki;
use crate::suites::{suite_name, KeyExchange};

/// Terminal styling; plain when piped or with NO_COLOR.
#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub(crate) fn heading(&self, t: &str) -> String {
        self.paint("1", t)
    }
    /// Bytes an eavesdropper saw.
    pub(crate) fn seen(&self) -> String {
        self.paint("33", "[on the wire]")
    }
    /// Bytes computed by the peers (and by the attacker, if the chain holds).
    pub(crate) fn computed(&self) -> String {
        self.paint("32", "[computed by both peers, never sent]")
    }
    pub(crate) fn broken(&self, t: &str) -> String {
        self.paint("31;1", t)
    }
}

/// Hex in 4-byte groups, 16 bytes a line, continuation lines indented to `indent`.
pub fn grouped_hex(bytes: &[u8], indent: usize) -> String {
    let mut out = String::new();
    for (i, line) in bytes.chunks(16).enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
        }
        let groups: Vec<String> = line.chunks(4).map(hex).collect();
        out.push_str(&groups.join(" "));
    }
    if bytes.is_empty() {
        out.push_str("(empty)");
    }
    out
}

const LABEL_WIDTH: usize = 26;

pub(crate) fn field(out: &mut String, label: &str, bytes: &[u8]) {
    let _ = writeln!(
        out,
        "   {label:<w$}{}",
        grouped_hex(bytes, 3 + LABEL_WIDTH),
        w = LABEL_WIDTH
    );
}

pub(crate) fn text(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "   {label:<w$}{value}", w = LABEL_WIDTH);
}

/// The walk-through of one session, printing what [`crate::attack::recover`] found for it.
pub fn explain(conn: &TlsConnection, capture: &str, recovery: &Recovery, style: Style) -> String {
    let s = &conn.session;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}",
        style.heading(&format!(
            "Session {} of {}: {} → {}, {}, {}",
            conn.stream,
            capture,
            conn.client,
            conn.server,
            s.version_name(),
            s.suite_id.map(suite_name).unwrap_or_else(|| "?".into())
        ))
    );
    for n in conn.notes.iter().chain(s.notes.iter()) {
        let _ = writeln!(out, "note: {n}");
    }
    out.push('\n');
    handshake_walk(&mut out, s, style);
    tickets_walk(&mut out, recovery, style);
    if s.key_exchange == Some(KeyExchange::Tls13) {
        tls13::walk(&mut out, s, recovery, style);
        return out;
    }
    let Some(suite) = s.suite else {
        let _ = writeln!(out, "{}", style.heading("The secrets"));
        let _ = writeln!(out, "{}", recovery.reason);
        let _ = writeln!(
            out,
            "pfslab derives keys for 0x009C, 0x009D, 0xC02F and 0xC030 only; stopping here."
        );
        return out;
    };
    tls12::walk(&mut out, s, &suite, recovery, style);
    out
}

/// Each ticket seen, part by part (RFC 5077 §4), and what the stolen ticket key made of it:
/// the state inside, with the master secret (TLS 1.2) or the PSK (TLS 1.3) recovery found.
fn tickets_walk(out: &mut String, recovery: &Recovery, style: Style) {
    if recovery.tickets.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", style.heading("The tickets"));
    for t in &recovery.tickets {
        let _ = writeln!(
            out,
            "{} ticket, {} bytes {}",
            match t.origin {
                TicketOrigin::Issued => "NewSessionTicket:",
                TicketOrigin::Presented => "presented by the client:",
            },
            t.length,
            style.seen()
        );
        match (t.key_name, t.iv, t.encrypted_state_len, &t.mac) {
            (Some(name), Some(iv), Some(len), Some(mac)) => {
                field(out, "key name (16)", &name);
                field(out, "IV (16)", &iv);
                text(
                    out,
                    "encrypted state",
                    &format!("{len} bytes (AES-256-CBC)"),
                );
                field(out, "HMAC-SHA256 (32)", mac);
            }
            _ => text(
                out,
                "layout",
                "not the RFC 5077 §4 layout (name, IV, state, MAC)",
            ),
        }
        if let Some(l) = t.lifetime_hint {
            text(out, "lifetime hint", &format!("{l} s"));
        }
        if t.used {
            text(out, "used", "the server resumed the session with it");
        }
        match &t.opening {
            TicketOpening::Opened {
                version,
                cipher_suite,
            } => {
                let _ = writeln!(
                    out,
                    "   {}",
                    style.paint(
                        "35",
                        "opened with the stolen ticket key: HMAC verifies, AES-256-CBC decrypts"
                    )
                );
                text(
                    out,
                    "state: version",
                    if *version == 0x0304 {
                        "TLS 1.3"
                    } else {
                        "TLS 1.2"
                    },
                );
                text(out, "state: suite", &suite_name(*cipher_suite));
                match (&recovery.master, &recovery.psk) {
                    (Some((m, SecretSource::TicketKey { origin, .. })), _)
                        if *origin == t.origin =>
                    {
                        field(out, "state: master secret", &m.0[..])
                    }
                    (_, Some((psk, SecretSource::TicketPsk { .. }))) if t.used => {
                        field(out, "state: PSK", psk)
                    }
                    _ => text(
                        out,
                        "state: secret",
                        "not this session's route (another ticket gave it)",
                    ),
                }
            }
            TicketOpening::NoKey => text(
                out,
                "opened",
                "no: no ticket key was given (--ticket-key); the state stays sealed",
            ),
            TicketOpening::Failed(e) => text(out, "opened", &format!("no: {e}")),
        }
    }
    out.push('\n');
}

fn handshake_walk(out: &mut String, s: &ObservedSession, style: Style) {
    let mut step = 1;
    let mut head = |out: &mut String, title: &str, dir: &str, tag: &str| {
        let _ = writeln!(
            out,
            "{} {}",
            style.heading(&format!("{step}. {title}")),
            format_args!("({dir}) {tag}")
        );
        step += 1;
    };
    if let Some(ch) = &s.client_hello {
        head(out, "ClientHello", "client → server", &style.seen());
        field(out, "client random", &ch.random);
        let offered: Vec<String> = ch.cipher_suites.iter().map(|c| suite_name(*c)).collect();
        text(out, "offered suites", &offered.join(", "));
        text(out, "SNI", s.sni.as_deref().unwrap_or("(none)"));
        text(
            out,
            "offers EMS",
            if ch.extension(ExtensionType::ExtendedMasterSecret).is_some() {
                "yes (RFC 7627)"
            } else {
                "no"
            },
        );
        if !ch.session_id.is_empty() {
            field(out, "session id", &ch.session_id);
        }
    }
    if let Some(sh) = &s.server_hello {
        head(out, "ServerHello", "server → client", &style.seen());
        field(out, "server random", &sh.random);
        text(out, "chosen suite", &suite_name(sh.cipher_suite));
        let suite_kx = s.key_exchange.map(|k| k.label()).unwrap_or("?");
        // TLS 1.3 resumption (RFC 8446 §4.2.9): the ServerHello selected a PSK identity.
        let psk_selected = s.psk.as_ref().filter(|p| p.selected.is_some());
        let tls12_resumed = s.resumed.is_some() && s.key_exchange != Some(KeyExchange::Tls13);
        if tls12_resumed {
            text(
                out,
                "key exchange",
                &format!("none in this handshake (the suite names {suite_kx}; an abbreviated handshake reuses the earlier master secret)"),
            );
        } else if let Some(psk) = psk_selected {
            text(
                out,
                "key exchange",
                if psk.server_key_share {
                    "psk_dhe_ke: the resumption PSK and a fresh (EC)DHE exchange (RFC 8446 §4.2.9)"
                } else {
                    "psk_ke: none — the resumption PSK alone (no key share, RFC 8446 §4.2.9)"
                },
            );
        } else {
            text(out, "key exchange", suite_kx);
        }
        if s.key_exchange == Some(KeyExchange::Tls13) {
            text(
                out,
                "transcript",
                "every TLS 1.3 secret is bound to the hash of the handshake so far (RFC 8446 §4.4.1); extended master secret is a TLS 1.2 repair 1.3 has no need of",
            );
        } else {
            text(
                out,
                "EMS",
                match (s.ems, tls12_resumed) {
                    (true, false) => "yes: the master secret is bound to the whole handshake",
                    (false, false) => "no: the master secret is bound to the two randoms",
                    (true, true) => "yes, in the session resumed (RFC 7627 §5.3): its master secret is reused as it was",
                    (false, true) => "no, as in the session resumed: its master secret is reused as it was",
                },
            );
        }
        if let Some(r) = &s.resumed {
            text(
                out,
                "resumes",
                &format!(
                    "{} (abbreviated handshake, RFC 5246 §7.3)",
                    match r {
                        Resumption::SessionId(id) => format!("by session ID {}", short_hex(id)),
                        Resumption::Ticket(t) => format!(
                            "by ticket {} from an earlier NewSessionTicket",
                            short_hex(t)
                        ),
                    }
                ),
            );
        }
    }
    if let Some(leaf) = s.certificates.first() {
        head(out, "Certificate", "server → client", &style.seen());
        match pki::parse_certificate(leaf) {
            Ok(info) => {
                text(out, "subject", &info.subject);
                text(
                    out,
                    "RSA public key",
                    &format!("{} bits", pki::modulus_bits(&info.public_key)),
                );
                field(out, "sha256 fingerprint", &info.sha256_fingerprint);
            }
            Err(e) => text(out, "unreadable", &e.to_string()),
        }
    }
    if let Some(ske) = &s.server_key_exchange {
        head(out, "ServerKeyExchange", "server → client", &style.seen());
        text(
            out,
            "curve",
            &crate::msgs::enums::NamedGroup::from_wire(ske.named_group).name(),
        );
        field(out, "server public point", &ske.public);
        text(
            out,
            "signed with",
            pki::scheme_name(ske.signature_scheme).unwrap_or("?"),
        );
        text(
            out,
            "signature covers",
            "client random ‖ server random ‖ curve ‖ point (RFC 8422 §5.4)",
        );
        field(out, "signature", &ske.signature);
    }
    if let KeyExchangeOnWire::Dhe {
        p,
        g,
        server_public,
        signature_scheme,
        signature,
        ..
    } = &s.wire_key_exchange
    {
        head(out, "ServerKeyExchange", "server → client", &style.seen());
        let group = crate::crypto::ffdh::DhGroup::new(p, g)
            .ok()
            .and_then(|grp| grp.well_known())
            .map(|n| format!(", {n}"))
            .unwrap_or_else(|| ", a custom group".into());
        text(
            out,
            "prime p",
            &format!(
                "{} bits{group}: {}",
                crate::attack::dh_bits(p),
                crate::attack::short_hex(p)
            ),
        );
        field(out, "generator g", g);
        field(out, "Ys = g^a mod p (server)", server_public);
        text(
            out,
            "signed with",
            pki::scheme_name(*signature_scheme).unwrap_or("?"),
        );
        text(
            out,
            "signature covers",
            "client random ‖ server random ‖ p ‖ g ‖ Ys (RFC 5246 §7.4.3)",
        );
        field(out, "signature", signature);
    }
    match &s.wire_key_exchange {
        KeyExchangeOnWire::Dhe { client_public, .. } if !client_public.is_empty() => {
            head(out, "ClientKeyExchange", "client → server", &style.seen());
            field(out, "Yc = g^b mod p (client)", client_public);
            text(
                out,
                "what it is",
                "only a public value: the premaster g^ab mod p is never sent",
            );
        }
        KeyExchangeOnWire::RsaEncryptedPremaster(enc) => {
            head(out, "ClientKeyExchange", "client → server", &style.seen());
            text(
                out,
                "what it is",
                "the premaster secret, encrypted to the certificate's RSA key (PKCS#1 v1.5)",
            );
            field(out, "encrypted premaster", enc);
        }
        KeyExchangeOnWire::Ecdhe { client_public, .. } => {
            head(out, "ClientKeyExchange", "client → server", &style.seen());
            field(out, "client public point", client_public);
            text(
                out,
                "what it is",
                "only a public point: the premaster itself is never sent",
            );
        }
        _ => {}
    }
    let (c, sv) = (
        s.client_protected.records.len(),
        s.server_protected.records.len(),
    );
    if s.key_exchange == Some(KeyExchange::Tls13) {
        head(
            out,
            "Protected records, right after ServerHello",
            "both ways",
            &style.seen(),
        );
        text(
            out,
            "records",
            &format!(
                "{c} from the client, {sv} from the server; the server's first is EncryptedExtensions (then {}), the client's first is its Finished (RFC 8446 §2)",
                if s.psk.as_ref().is_some_and(|p| p.selected.is_some()) {
                    "Finished: a resumption sends no Certificate or CertificateVerify"
                } else {
                    "Certificate, CertificateVerify, Finished"
                }
            ),
        );
    } else {
        head(
            out,
            "ChangeCipherSpec, then protected records",
            "both ways",
            &style.seen(),
        );
        text(
            out,
            "records",
            &format!(
                "{c} from the client, {sv} from the server; the first of each is its Finished"
            ),
        );
    }
    out.push('\n');
}
