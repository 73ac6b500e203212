//! `pfslab explain`: one session walked through in the order its bytes flowed, every secret
//! laid out where it comes to be — and, for a forward-secret session, where the chain breaks.

use std::fmt::Write as _;

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession, Resumption};
use crate::attack::pipeline::TlsConnection;
use crate::attack::short_hex;
use crate::attack::{Recovery, SecretSource};
use crate::codec::hex;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ContentType, ExtensionType, HandshakeType};
use crate::msgs::record::OpaqueRecord;
use crate::pki;
use crate::record_protect::{Tls12GcmProtector, GCM_EXPLICIT_NONCE_LEN, GCM_TAG_LEN};
use crate::suites::{suite_name, KeyExchange, Suite};
use crate::tls12::keys::key_block;

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
    fn heading(&self, t: &str) -> String {
        self.paint("1", t)
    }
    /// Bytes an eavesdropper saw.
    fn seen(&self) -> String {
        self.paint("33", "[on the wire]")
    }
    /// Bytes computed by the peers (and by the attacker, if the chain holds).
    fn computed(&self) -> String {
        self.paint("32", "[computed by both peers, never sent]")
    }
    fn broken(&self, t: &str) -> String {
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

fn field(out: &mut String, label: &str, bytes: &[u8]) {
    let _ = writeln!(
        out,
        "   {label:<w$}{}",
        grouped_hex(bytes, 3 + LABEL_WIDTH),
        w = LABEL_WIDTH
    );
}

fn text(out: &mut String, label: &str, value: &str) {
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
    if s.key_exchange == Some(KeyExchange::Tls13) {
        tls13_walk(&mut out, s, recovery, style);
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
    secrets_walk(&mut out, s, &suite, recovery, style);
    out
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
        text(
            out,
            "key exchange",
            s.key_exchange.map(|k| k.label()).unwrap_or("?"),
        );
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
                if s.ems {
                    "yes: the master secret is bound to the whole handshake"
                } else {
                    "no: the master secret is bound to the two randoms"
                },
            );
        }
        if let Some(r) = &s.resumed {
            text(
                out,
                "resumes",
                &format!(
                    "{} (abbreviated handshake: no key exchange of its own)",
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
    match &s.wire_key_exchange {
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
            &format!("{c} from the client, {sv} from the server; the server's first is EncryptedExtensions (then Certificate, CertificateVerify, Finished), the client's first is its Finished (RFC 8446 §2)"),
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

fn tls13_walk(out: &mut String, s: &ObservedSession, recovery: &Recovery, style: Style) {
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

fn secrets_walk(
    out: &mut String,
    s: &ObservedSession,
    suite: &Suite,
    recovery: &Recovery,
    style: Style,
) {
    let (Some(cr), Some(sr)) = (s.client_random(), s.server_random()) else {
        return;
    };
    let _ = writeln!(out, "{}", style.heading("The secrets"));

    // The premaster — where it came from, or why it cannot be had.
    match (&recovery.premaster, &recovery.master) {
        (Some((pms, source)), _) => {
            let from = match source {
                SecretSource::KeyLogPremaster => format!(
                    "the key log's {} line for this ClientKeyExchange",
                    SecretKind::RsaPremaster
                ),
                _ => match &s.wire_key_exchange {
                    KeyExchangeOnWire::RsaEncryptedPremaster(enc) => format!(
                        "RSA-decrypting the {}-byte ClientKeyExchange with the stolen key",
                        enc.len()
                    ),
                    _ => source.describe(),
                },
            };
            let _ = writeln!(
                out,
                "premaster secret {}",
                style.paint(
                    "33",
                    match source {
                        SecretSource::KeyLogPremaster =>
                            "[chosen by the client, sent encrypted; read from the key log]",
                        _ =>
                            "[chosen by the client, sent encrypted; recovered with the stolen key]",
                    }
                )
            );
            text(out, "from", &from);
            field(out, "premaster (48 bytes)", pms);
            if let [major, minor, ..] = pms.as_slice() {
                text(out, "", &format!("starts with the client version {major:02x}{minor:02x}; 46 random bytes follow"));
            }
        }
        (None, Some((_, SecretSource::KeyLogMaster))) => {
            let _ = writeln!(out, "premaster secret");
            text(
                out,
                "",
                "not needed: the key log names this session's master secret directly",
            );
        }
        (None, Some((_, SecretSource::Resumed { from_stream }))) => {
            let _ = writeln!(out, "premaster secret");
            text(
                out,
                "",
                &format!("none in this handshake: it resumes session {from_stream} (RFC 5246 §7.3), whose master secret was recovered"),
            );
        }
        _ => match &s.wire_key_exchange {
            KeyExchangeOnWire::Ecdhe {
                server_public,
                client_public,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "premaster secret {}",
                    style.broken("[never sent — the chain breaks here]")
                );
                let _ = writeln!(out, "   The premaster is the x-coordinate of d_c · Q_s = d_s · Q_c on P-256 (RFC 8422 §5.10).");
                let _ = writeln!(
                    out,
                    "   The capture holds both public points, Q_s ({}…) and Q_c ({}…),",
                    hex(server_public.get(..6).unwrap_or_default()),
                    hex(client_public.get(..6).unwrap_or_default())
                );
                let _ = writeln!(out, "   but the ephemeral secrets d_s and d_c never left the peers and were discarded.");
                if let Some(ok) = recovery.signature_verifies {
                    let _ = writeln!(
                        out,
                        "   The stolen RSA key {} the ServerKeyExchange signature: all it ever did here was sign Q_s.",
                        if ok { "verifies" } else { "does NOT verify" }
                    );
                }
                let _ = writeln!(out, "   Without the premaster there is no master secret, no key block, no plaintext.");
                return;
            }
            KeyExchangeOnWire::RsaEncryptedPremaster(_) => match &recovery.premaster_failure {
                Some(e) => {
                    let _ = writeln!(
                        out,
                        "premaster secret {}",
                        style.paint(
                            "33",
                            "[chosen by the client, sent encrypted in the ClientKeyExchange]"
                        )
                    );
                    text(out, "cannot be had", e);
                    return;
                }
                None => {
                    let _ = writeln!(out, "premaster secret: encrypted on the wire; give --key (the server's key) or --keylog to go on.");
                    return;
                }
            },
            _ => {
                let _ = writeln!(out, "premaster secret: {}.", recovery.reason);
                return;
            }
        },
    }
    let Some((master, source)) = &recovery.master else {
        return;
    };

    // Master secret.
    let origin = match source {
        SecretSource::KeyLogMaster => style.paint("35", "[read from the key log]"),
        SecretSource::Resumed { .. } => style.paint("35", "[from the session it resumes]"),
        _ => style.computed(),
    };
    let _ = writeln!(out, "master secret {origin}");
    if let SecretSource::Resumed { from_stream } = source {
        text(
            out,
            "from",
            &format!("session {from_stream}: an abbreviated handshake reuses the master secret of the session it resumes"),
        );
    } else if *source == SecretSource::KeyLogMaster {
        text(
            out,
            "from",
            &format!(
                "the key log's {} line for this client random",
                SecretKind::ClientRandom
            ),
        );
    } else if s.ems {
        let input = s.transcript_through_client_key_exchange();
        let session_hash = suite.hash.digest(&input);
        text(
            out,
            "derivation",
            &format!(
                "PRF-{}(premaster, \"extended master secret\", session_hash)  (RFC 7627 §4)",
                suite.hash.name()
            ),
        );
        text(
            out,
            "session_hash",
            &format!(
                "{}(ClientHello … ClientKeyExchange, {} bytes)",
                suite.hash.name(),
                input.len()
            ),
        );
        field(out, "", &session_hash);
    } else {
        text(out, "derivation", &format!("PRF-{}(premaster, \"master secret\", client random ‖ server random)  (RFC 5246 §8.1)", suite.hash.name()));
    }
    field(out, "master secret (48 bytes)", &master.0);

    // Key block.
    let kb = key_block(suite, master, &cr, &sr);
    let _ = writeln!(out, "key block {}", style.computed());
    text(out, "derivation", &format!("PRF(master, \"key expansion\", server random ‖ client random), {} bytes (RFC 5246 §6.3)", kb.raw.len()));
    field(out, "key block", &kb.raw);
    if suite.mac_key_len == 0 {
        text(
            out,
            "client/server MAC key",
            "none: AES-GCM authenticates by itself (RFC 5288 §3)",
        );
    } else {
        field(out, "client MAC key", &kb.client.mac_key);
        field(out, "server MAC key", &kb.server.mac_key);
    }
    field(out, "client write key", &kb.client.enc_key);
    field(out, "server write key", &kb.server.enc_key);
    field(out, "client write IV (salt)", &kb.client.fixed_iv);
    field(out, "server write IV (salt)", &kb.server.fixed_iv);
    out.push('\n');

    // Each direction's first record (its Finished) and first application data, step by step.
    for (who, records, keys) in [
        ("client", &s.client_protected.records, &kb.client),
        ("server", &s.server_protected.records, &kb.server),
    ] {
        let Some(mut p) = Tls12GcmProtector::new(&keys.enc_key, &keys.fixed_iv) else {
            continue;
        };
        let mut shown_data = false;
        for (i, rec) in records.iter().enumerate() {
            let is_data = rec.content_type == ContentType::ApplicationData;
            let title = match (i, is_data && !shown_data) {
                (0, _) => format!("first {who} record, decrypted step by step"),
                (_, true) => format!("first {who} application data, decrypted step by step"),
                // Records in between are opened only to keep the sequence number (RFC 5246 §6.1).
                _ => {
                    let _ = p.open(rec.content_type, rec.version, &rec.payload);
                    continue;
                }
            };
            shown_data |= is_data;
            let _ = writeln!(out, "{}", style.heading(&title));
            tls12_record_walk(out, rec, &mut p, style);
            if shown_data {
                break;
            }
        }
    }
}

/// One TLS 1.2 AES-GCM record opened in the open (RFC 5288 §3, RFC 5246 §6.2.3.3).
fn tls12_record_walk(
    out: &mut String,
    rec: &OpaqueRecord,
    p: &mut Tls12GcmProtector,
    style: Style,
) {
    if rec.payload.len() < GCM_EXPLICIT_NONCE_LEN + GCM_TAG_LEN {
        text(
            out,
            "too short",
            &format!("{} bytes cannot hold a GCM record", rec.payload.len()),
        );
        return;
    }
    let (explicit, rest) = rec.payload.split_at(GCM_EXPLICIT_NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - GCM_TAG_LEN);
    let explicit_arr: [u8; 8] = explicit.try_into().unwrap_or_default();
    let t = p.trace(
        rec.content_type,
        rec.version,
        &explicit_arr,
        ciphertext.len(),
    );
    text(
        out,
        "record",
        &format!("{}, {} bytes", rec.content_type, rec.payload.len()),
    );
    field(out, "explicit nonce", explicit);
    field(out, "nonce = salt ‖ explicit", &t.nonce);
    field(out, "AAD = seq‖type‖ver‖len", &t.aad);
    field(out, "ciphertext", ciphertext);
    field(out, "tag", tag);
    match p.open(rec.content_type, rec.version, &rec.payload) {
        Ok(plain) => {
            text(
                out,
                "tag check",
                "OK: the keys are right and the record is untouched",
            );
            if rec.content_type == ContentType::Handshake
                && plain.first() == Some(&HandshakeType::Finished.to_wire())
            {
                field(out, "plaintext: Finished", &plain);
                text(out, "", "verify_data = PRF(master, \"… finished\", Hash(handshake))[0..12] (RFC 5246 §7.4.9)");
            } else if rec.content_type == ContentType::ApplicationData {
                field(out, "plaintext (start)", &plain[..plain.len().min(48)]);
                let first_line = plain.split(|b| *b == b'\n').next().unwrap_or_default();
                text(out, "as text", &crate::report::printable(first_line));
            } else {
                field(out, "plaintext", &plain);
            }
        }
        Err(_) => text(
            out,
            "tag check",
            &style.broken("FAILED: wrong keys, or a tampered record"),
        ),
    }
    out.push('\n');
}
