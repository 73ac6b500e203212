//! Human-readable tables and JSON for `inspect` and `attack`.

mod json_text;

use std::fmt::Write as _;

use crate::attack::observe::{KeyExchangeOnWire, Resumption};
use crate::attack::pipeline::TlsConnection;
use crate::attack::tickets::{TicketFact, TicketOpening};
use crate::attack::{SessionReport, Verdict};
use crate::codec::hex;

/// Shortens long hex for tables: first and last bytes with the length.
pub fn abbrev(bytes: &[u8]) -> String {
    if bytes.len() <= 8 {
        hex(bytes)
    } else {
        format!("{}…{}", hex(&bytes[..4]), hex(&bytes[bytes.len() - 2..]))
    }
}

/// Sorted numbers, runs of three or more as ranges: `0–3, 5, 7, 8`.
pub fn number_ranges(numbers: &[u64]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(&start) = sorted.get(i) {
        let mut end = start;
        while end
            .checked_add(1)
            .is_some_and(|next| sorted.get(i + 1) == Some(&next))
        {
            end += 1;
            i += 1;
        }
        match end - start {
            0 => parts.push(start.to_string()),
            1 => parts.extend([start.to_string(), end.to_string()]),
            _ => parts.push(format!("{start}–{end}")),
        }
        i += 1;
    }
    parts.join(", ")
}

/// The capture column of a table (shown when several captures are read), with its gap.
fn capture_column(show_capture: bool, text: &str) -> String {
    if show_capture {
        cell(text, 16) + " "
    } else {
        String::new()
    }
}

/// Pads to `width` characters (not bytes), cutting with … when longer.
pub fn cell(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        format!("{text}{}", " ".repeat(width - count))
    } else {
        let cut: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// What an eavesdropper saw of the key exchange.
pub fn wire_summary(c: &TlsConnection) -> String {
    match &c.session.wire_key_exchange {
        KeyExchangeOnWire::RsaEncryptedPremaster(e) => {
            format!("encrypted premaster, {} bytes ({})", e.len(), abbrev(e))
        }
        KeyExchangeOnWire::Ecdhe {
            server_public,
            client_public,
            ..
        } => format!(
            "ECDHE points: server {} ({} B), client {} ({} B)",
            abbrev(server_public),
            server_public.len(),
            abbrev(client_public),
            client_public.len()
        ),
        KeyExchangeOnWire::Dhe {
            p,
            server_public,
            client_public,
            ..
        } => format!(
            "DHE ({}-bit p): Ys server {} ({} B), Yc client {} ({} B)",
            crate::attack::dh_bits(p),
            abbrev(server_public),
            server_public.len(),
            abbrev(client_public),
            client_public.len()
        ),
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: None, ..
        } if c.session.psk.as_ref().is_some_and(|p| p.selected.is_some()) => {
            "no key share: psk_ke, the PSK alone".into()
        }
        KeyExchangeOnWire::Tls13KeyShares {
            client_share,
            server_share,
            ..
        } => {
            let name = crate::attack::assumed_dlog::group_name(&c.session);
            let (cl, sl) = (
                client_share.as_ref().map_or(0, Vec::len),
                server_share.as_ref().map_or(0, Vec::len),
            );
            let parts = |len: usize, mlkem: usize, what: &str| {
                if len == mlkem + crate::crypto::kx::X25519_LEN {
                    format!("{len} B = ML-KEM-768 {what} {mlkem} ‖ X25519 32")
                } else {
                    format!("{len} B")
                }
            };
            match name.as_deref() {
                // draft-ietf-tls-ecdhe-mlkem §3: the ML-KEM part first, then X25519.
                Some("X25519MLKEM768") => format!(
                    "TLS 1.3 key shares (X25519MLKEM768): client {}, server {}",
                    parts(cl, crate::crypto::kx::MLKEM768_EK_LEN, "key"),
                    parts(sl, crate::crypto::kx::MLKEM768_CT_LEN, "ciphertext")
                ),
                Some(g) => format!("TLS 1.3 key shares ({g}): client {cl} B, server {sl} B"),
                None => "TLS 1.3 key shares (?)".into(),
            }
        }
        KeyExchangeOnWire::NotSeen if c.session.resumed.is_some() => {
            "none (resumed session)".into()
        }
        KeyExchangeOnWire::NotSeen => "no key exchange captured".into(),
    }
}

pub struct InspectRow {
    pub capture: String,
    pub conn: TlsConnection,
}

pub fn inspect_table(rows: &[InspectRow], show_capture: bool) -> String {
    let mut out = inspect_table_header(show_capture);
    for r in rows {
        out.push_str(&inspect_table_row(&r.capture, &r.conn, show_capture));
    }
    out
}

/// The inspect table's heading line.
pub fn inspect_table_header(show_capture: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}{} {} {} {} {} {} {} {}  on the wire",
        capture_column(show_capture, "capture"),
        cell("#", 3),
        cell("client → server", 44),
        cell("version", 7),
        cell("suite", 38),
        cell("kx", 5),
        cell("EMS", 3),
        cell("SNI", 12),
        cell("app data c→s / s→c", 19),
    );
    out
}

/// One connection's line of the inspect table, with its notes.
pub fn inspect_table_row(capture: &str, conn: &TlsConnection, show_capture: bool) -> String {
    let mut out = String::new();
    let s = &conn.session;
    let (c2s, s2c) = s.app_bytes();
    let _ = writeln!(
        out,
        "{}{} {} {} {} {} {} {} {}  {}",
        capture_column(show_capture, capture),
        cell(&conn.stream.to_string(), 3),
        cell(&format!("{} → {}", conn.client, conn.server), 44),
        cell(&s.version_name(), 7),
        cell(
            &s.suite_id
                .map(crate::suites::suite_name)
                .unwrap_or_else(|| "?".into()),
            38
        ),
        cell(s.key_exchange.map(|k| k.short()).unwrap_or("?"), 5),
        // TLS 1.3 has no extended master secret to offer: its key schedule binds every secret
        // to the transcript (RFC 8446 §7.1), so the column does not apply.
        cell(
            match (s.key_exchange, s.ems) {
                (Some(crate::suites::KeyExchange::Tls13), _) => "n/a",
                (_, true) => "yes",
                (_, false) => "no",
            },
            3,
        ),
        cell(s.sni.as_deref().unwrap_or("-"), 12),
        cell(&format!("{c2s} / {s2c} B"), 19),
        wire_summary(conn)
    );
    for note in conn.notes.iter().chain(s.notes.iter()) {
        let _ = writeln!(out, "      note: {note}");
    }
    match &s.resumed {
        Some(Resumption::Ticket(t)) => {
            let _ = writeln!(out, "      resumed: by ticket ({} bytes)", t.len());
        }
        Some(Resumption::SessionId(id)) => {
            let _ = writeln!(out, "      resumed: by session ID {}", hex(id));
        }
        None => {}
    }
    for line in crate::attack::tickets::inspect_lines(s) {
        let _ = writeln!(out, "      {line}");
    }
    if let Some(crate::suites::RecordCipher::AesCbc(mac)) = s.suite.map(|x| x.cipher) {
        let order = if s.encrypt_then_mac {
            "encrypt-then-MAC (RFC 7366)"
        } else {
            "MAC-then-encrypt (RFC 5246 §6.2.3.2)"
        };
        let _ = writeln!(out, "      records: AES-CBC + {}, {order}", mac.name());
    }
    out
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Decrypted => "DECRYPTED",
        Verdict::PartlyDecrypted => "PARTLY-DECRYPTED",
        Verdict::ForwardSecret => "forward-secret",
        Verdict::NotDecrypted => "not-decrypted",
    }
}

/// The attack table fits a terminal this wide; the full reasons are in `--json` and `explain`.
pub const TABLE_WIDTH: usize = 100;

pub fn attack_table(reports: &[SessionReport], show_capture: bool) -> String {
    let mut out = attack_table_header(show_capture);
    for r in reports {
        out.push_str(&attack_table_row(r, show_capture));
    }
    out
}

/// The attack table's heading line.
pub fn attack_table_header(show_capture: bool) -> String {
    let mut out = String::new();
    let line = format!(
        "{}{} {} {} {}  why / first line recovered",
        capture_column(show_capture, "capture"),
        cell("#", 3),
        cell("client → server", 33),
        cell("kx", 5),
        cell("verdict", 16),
    );
    let _ = writeln!(out, "{}", fit(&line, TABLE_WIDTH));
    out
}

/// `line` cut with … to `width` characters.
fn fit(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        line.to_string()
    } else {
        let cut: String = line.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// One session's line of the attack table.
pub fn attack_table_row(r: &SessionReport, show_capture: bool) -> String {
    let first = r.first_line();
    let detail = match r.verdict {
        // The assumption goes on the row itself, not only in the full reason.
        Verdict::Decrypted if r.assumed_dlog.is_some() => {
            format!("{}: \"{first}\"", crate::attack::assumed_dlog::ASSUMED)
        }
        Verdict::Decrypted => format!("\"{first}\""),
        Verdict::PartlyDecrypted if !first.is_empty() => {
            format!("{}: \"{first}\"", r.short_reason)
        }
        _ => r.short_reason.clone(),
    };
    let line = format!(
        "{}{} {} {} {}  {}",
        capture_column(show_capture, &r.capture),
        cell(&r.stream.to_string(), 3),
        cell(&format!("{} → {}", r.client, r.server), 33),
        cell(&r.key_exchange, 5),
        cell(verdict_label(r.verdict), 16),
        detail
    );
    format!("{}\n", fit(&line, TABLE_WIDTH))
}

/// The recovered conversations, both directions, after the table.
pub fn conversations(reports: &[SessionReport]) -> String {
    reports.iter().map(conversation).collect()
}

/// One decrypted session's conversation (empty for a session that was not decrypted).
pub fn conversation(r: &SessionReport) -> String {
    if !r.verdict.opened() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "=== {} session {}: {} → {} ({}){} ===",
        r.capture,
        r.stream,
        r.client,
        r.server,
        r.cipher_suite,
        if r.assumed_dlog.is_some() {
            format!(", under the {}", crate::attack::assumed_dlog::ASSUMED)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "how: {}", r.reason);
    if let Some(m) = &r.psk_mode {
        let _ = writeln!(out, "psk mode: {}", m.as_str());
    }
    for t in &r.tickets {
        let _ = writeln!(out, "ticket: {}", t.describe());
    }
    if let (Some(cr), Some(ms)) = (&r.client_random, &r.master_secret) {
        let _ = writeln!(out, "client random  {}", hex(cr));
        let _ = writeln!(out, "master secret  {}", hex(ms));
    }
    for note in &r.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(
        out,
        "--- client → server ({} bytes) ---",
        r.client_data.len()
    );
    out.push_str(&printable(&r.client_data));
    let _ = writeln!(
        out,
        "\n--- server → client ({} bytes) ---",
        r.server_data.len()
    );
    out.push_str(&printable(&r.server_data));
    out.push_str("\n\n");
    out
}

/// Text with invalid UTF-8 replaced and control characters other than newline/tab escaped.
pub fn printable(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            '\r' => String::new(),
            c if c.is_control() => format!("\\x{:02x}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

pub fn attack_json(reports: &[SessionReport]) -> serde_json::Value {
    let sessions: Vec<serde_json::Value> = reports.iter().map(session_json).collect();
    serde_json::json!({ "sessions": sessions })
}

/// One session as JSON (the `sessions` array's element): what [`write_session_json`] writes,
/// read back, so the fields are listed once.
pub fn session_json(r: &SessionReport) -> serde_json::Value {
    let mut bytes = Vec::new();
    // Writing into memory does not fail, and the writer's output is JSON (tested below).
    write_session_json(&mut bytes, r).expect("writing JSON into memory");
    serde_json::from_slice(&bytes).expect("write_session_json writes JSON")
}

/// What `String::from_utf8_lossy` gives, checked the fast way first (most bodies are text).
fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Writes one session as pretty-printed JSON into `out`, keys sorted as serde_json's map sorts
/// them, without building a `Value`: the 16 KB bodies are escaped once, straight into the
/// writer, not copied three times.
pub fn write_session_json(out: &mut impl std::io::Write, r: &SessionReport) -> std::io::Result<()> {
    use serde_json::Value;
    // serde_json's map sorts keys; the pretty printer puts each at two spaces.
    let mut first = true;
    let mut key = |out: &mut dyn std::io::Write, name: &str| {
        let sep = if std::mem::take(&mut first) {
            "{\n  \""
        } else {
            ",\n  \""
        };
        write!(out, "{sep}{name}\": ")
    };
    // A small value pretty-printed one level down: its continuation lines indented two more
    // spaces (strings hold no raw newline, so every newline is the printer's).
    let small = |out: &mut dyn std::io::Write, v: Value| -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&v).map_err(std::io::Error::from)?;
        out.write_all(text.replace('\n', "\n  ").as_bytes())
    };
    let text = json_text::write_json_str;
    // Scalars straight into the writer: a string or null, a bool or null.
    let nullable = |out: &mut dyn std::io::Write, v: Option<&str>| match v {
        Some(s) => text(out, s),
        None => out.write_all(b"null"),
    };
    let flag = |out: &mut dyn std::io::Write, v: Option<bool>| {
        out.write_all(match v {
            Some(true) => b"true",
            Some(false) => b"false",
            None => b"null",
        })
    };
    let finished = |f: &Option<crate::attack::FinishedCheck>| {
        f.as_ref().map(|f| format!("{f:?}").to_lowercase())
    };
    let out: &mut dyn std::io::Write = out;
    key(out, "assumed_dlog_break")?;
    nullable(
        out,
        r.assumed_dlog.as_ref().map(|s| s.describe()).as_deref(),
    )?;
    key(out, "capture")?;
    text(out, &r.capture)?;
    key(out, "cipher_suite")?;
    text(out, &r.cipher_suite)?;
    key(out, "client")?;
    text(out, &r.client)?;
    key(out, "client_data")?;
    text(out, &lossy(&r.client_data))?;
    key(out, "client_finished")?;
    nullable(out, finished(&r.client_finished).as_deref())?;
    key(out, "client_random")?;
    nullable(out, r.client_random.map(|c| hex(&c)).as_deref())?;
    key(out, "encrypt_then_mac")?;
    flag(out, r.encrypt_then_mac)?;
    key(out, "extended_master_secret")?;
    flag(out, Some(r.ems))?;
    key(out, "group")?;
    nullable(out, r.group.as_deref())?;
    key(out, "key_exchange")?;
    text(out, &r.key_exchange)?;
    key(out, "master_secret")?;
    nullable(out, r.master_secret.as_ref().map(|m| hex(m)).as_deref())?;
    key(out, "notes")?;
    small(out, r.notes.clone().into())?;
    key(out, "psk_mode")?;
    nullable(out, r.psk_mode.as_ref().map(|m| m.as_str()))?;
    key(out, "reason")?;
    text(out, &r.reason)?;
    key(out, "resumed")?;
    nullable(out, r.resumed.as_deref())?;
    key(out, "secret_source")?;
    nullable(out, r.source.as_ref().map(|s| s.describe()).as_deref())?;
    key(out, "server")?;
    text(out, &r.server)?;
    key(out, "server_data")?;
    text(out, &lossy(&r.server_data))?;
    key(out, "server_finished")?;
    nullable(out, finished(&r.server_finished).as_deref())?;
    key(out, "sni")?;
    nullable(out, r.sni.as_deref())?;
    key(out, "stream")?;
    write!(out, "{}", r.stream)?;
    key(out, "tickets")?;
    small(
        out,
        r.tickets.iter().map(ticket_json).collect::<Vec<_>>().into(),
    )?;
    key(out, "verdict")?;
    text(out, r.verdict.as_str())?;
    key(out, "version")?;
    text(out, &r.version)?;
    out.write_all(b"\n}")
}

/// One ticket's facts as JSON: where it was seen, its parts, and whether it opened.
pub fn ticket_json(t: &TicketFact) -> serde_json::Value {
    let (opened, why_not, state) = match &t.opening {
        TicketOpening::Opened {
            version,
            cipher_suite,
        } => (
            true,
            None,
            Some(serde_json::json!({
                "version": if *version == 0x0304 { "TLS 1.3" } else { "TLS 1.2" },
                "cipher_suite": crate::suites::suite_name(*cipher_suite),
            })),
        ),
        TicketOpening::NoKey => (false, Some("no ticket key given".to_string()), None),
        TicketOpening::Failed(e) => (false, Some(e.to_string()), None),
    };
    serde_json::json!({
        "origin": t.origin.as_str(),
        "length": t.length,
        "key_name": t.key_name.map(|n| hex(&n)),
        "lifetime_hint": t.lifetime_hint,
        "used": t.used,
        "opened": opened,
        "why_not": why_not,
        "state": state,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The streaming writer gives `to_string_pretty(session_json(..))`'s bytes, for every
    /// shape of field: nulls and values, nested arrays, escapes, invalid UTF-8.
    #[test]
    fn write_session_json_matches_the_value() {
        use crate::attack::tickets::PskMode;
        use crate::attack::{FinishedCheck, SecretSource};
        let full = SessionReport {
            capture: "a \"b\".pcap".into(),
            stream: 7,
            client: "127.0.0.1:5000".into(),
            server: "127.0.0.1:443".into(),
            version: "TLS 1.2".into(),
            cipher_suite: "TLS_RSA_WITH_AES_128_GCM_SHA256".into(),
            key_exchange: "RSA".into(),
            ems: true,
            encrypt_then_mac: Some(false),
            sni: Some("bank.lab".into()),
            resumed: Some("session ID".into()),
            verdict: Verdict::Decrypted,
            reason: "why\twith a tab".into(),
            short_reason: String::new(),
            source: Some(SecretSource::Resumed { from_stream: 3 }),
            client_random: Some([0xab; 32]),
            master_secret: Some(zeroize::Zeroizing::new(vec![1; 48])),
            client_data: b"GET / HTTP/1.1\r\n\x01\xff\xfe\n\xe2\x82\xac".to_vec(),
            server_data: b"HTTP/1.1 200 OK\r\n\r\n<p>\"hi\"</p>\\".to_vec(),
            client_finished: Some(FinishedCheck::Verified),
            server_finished: Some(FinishedCheck::Mismatch),
            notes: vec!["one".into(), "two\nlines".into()],
            tickets: Vec::new(),
            psk_mode: Some(PskMode::PskKe),
            derived_tls13_secrets: Vec::new(),
            group: Some("x25519".into()),
            assumed_dlog: Some(SecretSource::StolenKey),
            issued_psks: Vec::new(),
        };
        let empty = SessionReport {
            encrypt_then_mac: None,
            sni: None,
            resumed: None,
            source: None,
            client_random: None,
            master_secret: None,
            client_data: Vec::new(),
            server_data: Vec::new(),
            client_finished: None,
            server_finished: None,
            notes: Vec::new(),
            psk_mode: None,
            group: None,
            assumed_dlog: None,
            verdict: Verdict::ForwardSecret,
            ..full.clone()
        };
        for r in [&full, &empty] {
            let mut streamed = Vec::new();
            write_session_json(&mut streamed, r).unwrap();
            let value = serde_json::to_string_pretty(&session_json(r)).unwrap();
            assert_eq!(String::from_utf8(streamed).unwrap(), value);
        }
    }

    #[test]
    fn number_ranges_collapse_runs() {
        assert_eq!(number_ranges(&[]), "");
        assert_eq!(number_ranges(&[4]), "4");
        assert_eq!(number_ranges(&[0, 1]), "0, 1");
        assert_eq!(
            number_ranges(&[0, 1, 2, 3, 5, 7, 8, 10, 11, 12]),
            "0–3, 5, 7, 8, 10–12"
        );
        assert_eq!(number_ranges(&[9, 8, 7, 7, 0]), "0, 7–9");
        let top = [u64::MAX - 2, u64::MAX - 1, u64::MAX];
        assert_eq!(
            number_ranges(&top),
            format!("{}–{}", u64::MAX - 2, u64::MAX)
        );
    }
}
