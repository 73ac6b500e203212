//! TLS 1.2: the premaster, the master secret, the key block, and records opened in the open.

use std::fmt::Write as _;

use super::{field, text, Style};
use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::{Recovery, SecretSource};
use crate::codec::hex;
use crate::keylog::SecretKind;
use crate::msgs::enums::{ContentType, HandshakeType};
use crate::msgs::record::OpaqueRecord;
use crate::record_protect::{
    Tls12CbcProtector, Tls12GcmProtector, GCM_EXPLICIT_NONCE_LEN, GCM_TAG_LEN,
};
use crate::suites::{RecordCipher, Suite};
use crate::tls12::keys::key_block;

pub(super) fn walk(
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
                SecretSource::StolenKey => match &s.wire_key_exchange {
                    KeyExchangeOnWire::RsaEncryptedPremaster(enc) => format!(
                        "RSA-decrypting the {}-byte ClientKeyExchange with the stolen key",
                        enc.len()
                    ),
                    _ => source.describe(),
                },
                _ => source.describe(),
            };
            let _ = writeln!(
                out,
                "premaster secret {}",
                style.paint(
                    "33",
                    match source {
                        SecretSource::KeyLogPremaster =>
                            "[chosen by the client, sent encrypted; read from the key log]",
                        SecretSource::AssumedDlog { .. } =>
                            "[never sent; computed under the assumed DLP break, from the stand-in key]",
                        SecretSource::BrokenDlog(_) =>
                            "[never sent; computed from a discrete log taken with Pohlig-Hellman]",
                        SecretSource::PaddingOracle { .. } =>
                            "[chosen by the client, sent encrypted; recovered through the server's padding oracle, without its key]",
                        _ =>
                            "[chosen by the client, sent encrypted; recovered with the stolen key]",
                    }
                )
            );
            text(out, "from", &from);
            field(out, &format!("premaster ({} bytes)", pms.len()), pms);
            if let (KeyExchangeOnWire::RsaEncryptedPremaster(_), [major, minor, ..]) =
                (&s.wire_key_exchange, pms.as_slice())
            {
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
        (None, Some((_, SecretSource::TicketKey { .. }))) => {
            let _ = writeln!(out, "premaster secret");
            text(
                out,
                "",
                "not needed: the ticket carries the master secret itself (RFC 5077 §4), whatever the key exchange was",
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
            KeyExchangeOnWire::Dhe {
                p,
                server_public,
                client_public,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "premaster secret {}",
                    style.broken("[never sent — the chain breaks here]")
                );
                let _ = writeln!(out, "   The premaster is g^ab mod p = Yc^a = Ys^b, leading zero bytes stripped (RFC 5246 §8.1.2),");
                let _ = writeln!(
                    out,
                    "   on a {}-bit prime p. The capture holds Ys = g^a ({}…) and Yc = g^b ({}…),",
                    crate::attack::dh_bits(p),
                    hex(server_public.get(..6).unwrap_or_default()),
                    hex(client_public.get(..6).unwrap_or_default())
                );
                let _ = writeln!(out, "   but the ephemeral exponents a and b never left the peers and were discarded;");
                let _ = writeln!(
                    out,
                    "   finding a from g^a is the discrete logarithm problem."
                );
                if let Some(ok) = recovery.signature_verifies {
                    let _ = writeln!(
                        out,
                        "   The stolen RSA key {} the ServerKeyExchange signature: all it ever did here was sign p, g and Ys.",
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
        SecretSource::TicketKey { .. } => style.paint(
            "35",
            "[sealed in the ticket; opened with the stolen ticket key]",
        ),
        _ => style.computed(),
    };
    let _ = writeln!(out, "master secret {origin}");
    if let SecretSource::TicketKey { .. } = source {
        text(out, "from", &source.describe());
    } else if let SecretSource::Resumed { from_stream } = source {
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
    field(out, "master secret (48 bytes)", &master.0[..]);

    // Key block.
    let kb = key_block(suite, master, &cr, &sr);
    let _ = writeln!(out, "key block {}", style.computed());
    text(out, "derivation", &format!("PRF(master, \"key expansion\", server random ‖ client random), {} bytes (RFC 5246 §6.3)", kb.raw.len()));
    field(out, "key block", &kb.raw);
    match suite.cipher {
        RecordCipher::AesGcm => {
            text(
                out,
                "client/server MAC key",
                "none: AES-GCM authenticates by itself (RFC 5288 §3)",
            );
            field(out, "client write key", &kb.client.enc_key);
            field(out, "server write key", &kb.server.enc_key);
            field(out, "client write IV (salt)", &kb.client.fixed_iv);
            field(out, "server write IV (salt)", &kb.server.fixed_iv);
        }
        RecordCipher::AesCbc(mac) => {
            text(
                out,
                "the four session keys",
                &format!(
                    "{} MAC keys, then AES-{} keys, in key block order (RFC 5246 §6.3)",
                    mac.name(),
                    suite.enc_key_len * 8
                ),
            );
            field(out, "client write MAC key", &kb.client.mac_key);
            field(out, "server write MAC key", &kb.server.mac_key);
            field(out, "client write key", &kb.client.enc_key);
            field(out, "server write key", &kb.server.enc_key);
            text(
                out,
                "IVs",
                "none from the key block: each TLS 1.2 CBC record carries its own (RFC 5246 §6.2.3.2)",
            );
            text(
                out,
                "record MAC",
                if s.encrypt_then_mac {
                    "encrypt-then-MAC: the ServerHello answered extension 22 (RFC 7366)"
                } else {
                    "MAC-then-encrypt: no encrypt_then_mac in the ServerHello (RFC 5246 §6.2.3.2)"
                },
            );
        }
    }
    out.push('\n');

    // Each direction's first record (its Finished) and first application data, step by step.
    for (who, records, keys) in [
        ("client", &s.client_protected.records, &kb.client),
        ("server", &s.server_protected.records, &kb.server),
    ] {
        let walker = match suite.cipher {
            RecordCipher::AesGcm => {
                Tls12GcmProtector::new(&keys.enc_key, &keys.fixed_iv).map(Walker::Gcm)
            }
            RecordCipher::AesCbc(mac) => {
                Tls12CbcProtector::new(mac, &keys.mac_key, &keys.enc_key, s.encrypt_then_mac)
                    .map(Walker::Cbc)
            }
        };
        let Some(mut p) = walker else {
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
                    p.skip(rec);
                    continue;
                }
            };
            shown_data |= is_data;
            let _ = writeln!(out, "{}", style.heading(&title));
            match &mut p {
                Walker::Gcm(p) => tls12_record_walk(out, rec, p, style),
                Walker::Cbc(p) => cbc_record_walk(out, rec, p, style),
            }
            if shown_data {
                break;
            }
        }
    }
}

/// The record protection `explain` steps through, one per direction.
enum Walker {
    Gcm(Tls12GcmProtector),
    Cbc(Tls12CbcProtector),
}

impl Walker {
    /// Opens a record only to keep the sequence number (RFC 5246 §6.1).
    fn skip(&mut self, rec: &OpaqueRecord) {
        let _ = match self {
            Self::Gcm(p) => p.open(rec.content_type, rec.version, &rec.payload),
            Self::Cbc(p) => p.open(rec.content_type, rec.version, &rec.payload),
        };
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
    let opened = p.open(rec.content_type, rec.version, &rec.payload).ok();
    record_check(
        out,
        rec,
        opened,
        (
            "tag check",
            "OK: the keys are right and the record is untouched",
        ),
        "FAILED: wrong keys, or a tampered record",
        style,
    );
}

fn show_plain(out: &mut String, rec: &OpaqueRecord, plain: &[u8]) {
    if rec.content_type == ContentType::Handshake
        && plain.first() == Some(&HandshakeType::Finished.to_wire())
    {
        field(out, "plaintext: Finished", plain);
        text(
            out,
            "",
            "verify_data = PRF(master, \"… finished\", Hash(handshake))[0..12] (RFC 5246 §7.4.9)",
        );
    } else if rec.content_type == ContentType::ApplicationData {
        field(out, "plaintext (start)", &plain[..plain.len().min(48)]);
        let first_line = plain.split(|b| *b == b'\n').next().unwrap_or_default();
        text(out, "as text", &crate::report::printable(first_line));
    } else {
        field(out, "plaintext", plain);
    }
}

/// One TLS 1.2 AES-CBC record opened in the open: IV, CBC decryption, padding, and the MAC
/// recomputed beside the one received (RFC 5246 §6.2.3.2, RFC 7366 §3).
fn cbc_record_walk(out: &mut String, rec: &OpaqueRecord, p: &mut Tls12CbcProtector, style: Style) {
    let mac = p.mac_alg();
    let (result, t) = p.open_traced(rec.content_type, rec.version, &rec.payload);
    text(
        out,
        "record",
        &format!("{}, {} bytes", rec.content_type, rec.payload.len()),
    );
    if t.iv.is_empty() {
        text(
            out,
            "too short",
            &format!("{} bytes cannot hold a CBC record", rec.payload.len()),
        );
        return;
    }
    field(out, "IV (explicit)", &t.iv);
    field(out, "ciphertext", &t.ciphertext);
    if t.etm {
        text(
            out,
            "order",
            "encrypt-then-MAC: the MAC covers IV ‖ ciphertext and is checked before decrypting",
        );
        field(out, "MAC hdr seq‖type‖ver‖len", &t.mac_header);
        field(
            out,
            &format!("MAC received ({})", mac.name().trim_start_matches("HMAC-")),
            &t.mac_received,
        );
        field(out, "MAC recomputed", &t.mac_computed);
    }
    if !t.decrypted.is_empty() {
        field(out, "AES-CBC decrypt", &t.decrypted);
        text(
            out,
            "padding",
            &format!(
                "last byte {:#04x}: {} padding byte(s) + the length byte, {}",
                t.padding_len,
                t.padding_len,
                if t.padding_ok {
                    "all equal to it (good)"
                } else {
                    "NOT all equal (bad padding)"
                }
            ),
        );
        if !t.etm {
            text(
                out,
                "order",
                "MAC-then-encrypt: the MAC sits inside, after the content",
            );
            field(out, "MAC hdr seq‖type‖ver‖len", &t.mac_header);
            field(
                out,
                &format!("MAC received ({})", mac.name().trim_start_matches("HMAC-")),
                &t.mac_received,
            );
            field(out, "MAC recomputed", &t.mac_computed);
        }
    }
    record_check(
        out,
        rec,
        result.ok(),
        (
            "MAC check",
            "OK: MAC recomputed = MAC received; the keys are right and the record is untouched",
        ),
        "FAILED (bad_record_mac): wrong keys, or a tampered record",
        style,
    );
}

/// The last lines of a record walk: whether the record authenticated, and what it held.
fn record_check(
    out: &mut String,
    rec: &OpaqueRecord,
    opened: Option<Vec<u8>>,
    (label, ok): (&str, &str),
    failed: &str,
    style: Style,
) {
    match opened {
        Some(plain) => {
            text(out, label, ok);
            show_plain(out, rec, &plain);
        }
        None => text(out, label, &style.broken(failed)),
    }
    out.push('\n');
}
