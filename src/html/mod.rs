//! `pfslab report`'s page: one self-contained HTML file (inline CSS and SVG, no script, nothing
//! fetched) that a class opens in any browser or projects. A summary of what the stolen key or
//! key log opened, then one card per session: the handshake ladder, the derivation chain, the
//! ephemeral values and the recovered conversation.
//!
//! Like `explain`, it only prints what [`crate::attack::recover`] found: the caller walks the
//! connections in order and hands each one with its [`Recovery`] to [`HtmlReport::add`], which
//! renders its card at once, so nothing of a session is kept but its HTML. Templates are maud's
//! `html!`, which escapes every value it is given.

mod card;
mod chain;
mod ladder;

use std::collections::HashMap;
use std::io::{self, Write};

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::attack::pipeline::TlsConnection;
use crate::attack::{Recovery, SecretSource};
use crate::codec::hex;
use crate::report::number_ranges;

pub use card::CONVERSATION_LIMIT;
pub use chain::Status;
pub use ladder::Exposure;

/// What the report was made from, as the page names it.
#[derive(Debug, Clone, Default)]
pub struct ReportInputs {
    pub captures: Vec<String>,
    /// The stolen key's file name, if one was given.
    pub key: Option<String>,
    /// The key log's file name, if one was given.
    pub keylog: Option<String>,
    /// The stolen ticket keys' file names.
    pub ticket_keys: Vec<String>,
    /// `--assume-dlog-broken`: the stand-in file's name.
    pub assumed_dlog: Option<String>,
}

/// What opened a session, following resumptions back to the session that was opened first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opener {
    StolenKey,
    KeyLog,
    TicketKey,
    /// The classical keys of the discrete-log stand-in (an assumed DLP break).
    AssumedDlog,
}

/// The summary's line for one session.
struct Row {
    capture_index: usize,
    stream: u64,
    peers: String,
    version: String,
    key_exchange: String,
    verdict: &'static str,
    opener: Option<Opener>,
    resumed_from: Option<u64>,
    first_line: String,
    /// The key-exchange group's name (TLS 1.3 share, TLS 1.2 curve).
    group: Option<String>,
}

/// The page being built, one session at a time.
pub struct HtmlReport {
    inputs: ReportInputs,
    rows: Vec<Row>,
    cards: Vec<Markup>,
    /// stream → what opened it, for the sessions that resume it.
    openers: HashMap<u64, Opener>,
}

impl HtmlReport {
    pub fn new(inputs: ReportInputs) -> Self {
        Self {
            inputs,
            rows: Vec::new(),
            cards: Vec::new(),
            openers: HashMap::new(),
        }
    }

    /// Adds a session of the capture numbered `capture_index` in [`ReportInputs::captures`].
    pub fn add(&mut self, capture_index: usize, conn: &TlsConnection, recovery: &Recovery) {
        let capture = self
            .inputs
            .captures
            .get(capture_index)
            .cloned()
            .unwrap_or_default();
        let (opener, resumed_from) = self.opener(recovery);
        if let Some(o) = opener {
            self.openers.insert(conn.stream, o);
        }
        let (client_data, _) = card::plaintext(recovery);
        let first_line = client_data
            .split(|b| *b == b'\n')
            .next()
            .map(|l| crate::report::printable(l).trim().to_string())
            .unwrap_or_default();
        self.rows.push(Row {
            capture_index,
            stream: conn.stream,
            peers: format!("{} → {}", conn.client, conn.server),
            version: conn.session.version_name(),
            key_exchange: conn
                .session
                .key_exchange
                .map(|k| k.short().to_string())
                .unwrap_or_else(|| "?".into()),
            verdict: recovery.verdict.as_str(),
            opener,
            resumed_from,
            first_line,
            group: crate::attack::assumed_dlog::group_name(&conn.session),
        });
        self.cards
            .push(card::render(capture_index, &capture, conn, recovery));
    }

    /// What opened the session (any of its records), if anything did.
    fn opener(&self, r: &Recovery) -> (Option<Opener>, Option<u64>) {
        let tls12_opened = r
            .tls12
            .as_ref()
            .is_some_and(|d| d.client.records_opened + d.server.records_opened > 0);
        let tls13_opened = r.tls13.as_ref().is_some_and(|(c, s)| {
            c.app_opened || s.app_opened || !c.handshake.is_empty() || !s.handshake.is_empty()
        });
        if tls13_opened {
            if let Some((_, SecretSource::AssumedDlog { .. })) = &r.dhe {
                return (Some(Opener::AssumedDlog), None);
            }
            return match &r.psk {
                Some((_, SecretSource::TicketPsk { .. }))
                    if r.tls13_secrets.is_some()
                        && r.psk_mode == Some(crate::attack::tickets::PskMode::PskKe) =>
                {
                    (Some(Opener::TicketKey), None)
                }
                _ => (Some(Opener::KeyLog), None),
            };
        }
        if !tls12_opened {
            return (None, None);
        }
        match r.master.as_ref().map(|(_, s)| s) {
            Some(SecretSource::StolenKey) => (Some(Opener::StolenKey), None),
            Some(SecretSource::TicketKey { .. }) => (Some(Opener::TicketKey), None),
            Some(SecretSource::AssumedDlog { .. }) => (Some(Opener::AssumedDlog), None),
            Some(SecretSource::Resumed { from_stream }) => {
                (self.openers.get(from_stream).copied(), Some(*from_stream))
            }
            Some(_) => (Some(Opener::KeyLog), None),
            None => (None, None),
        }
    }

    /// Sessions added so far.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The whole page.
    pub fn render(&self) -> String {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { "pfslab report: " (self.inputs.captures.join(", ")) }
                    style { (PreEscaped(CSS)) }
                }
                body {
                    main {
                        (self.summary())
                        @for c in &self.cards { (c) }
                        footer {
                            "Made by pfslab report. This page is self-contained: no script, and nothing is fetched."
                        }
                    }
                }
            }
        }
        .into_string()
    }

    /// Writes the page to `out`.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(self.render().as_bytes())
    }

    fn streams_where(&self, pred: impl Fn(&Row) -> bool) -> (usize, String) {
        let mut by_capture: Vec<(usize, Vec<u64>)> = Vec::new();
        let mut n = 0;
        for r in self.rows.iter().filter(|r| pred(r)) {
            n += 1;
            match by_capture.last_mut() {
                Some((i, v)) if *i == r.capture_index => v.push(r.stream),
                _ => by_capture.push((r.capture_index, vec![r.stream])),
            }
        }
        let several = self.inputs.captures.len() > 1;
        let text = by_capture
            .iter()
            .map(|(i, streams)| {
                let name = self.inputs.captures.get(*i).map(String::as_str);
                match (several, name) {
                    (true, Some(name)) => format!("{name}: {}", number_ranges(streams)),
                    _ => number_ranges(streams),
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        (n, text)
    }

    /// How many sessions got each verdict, in order of first appearance.
    fn counts(&self) -> Vec<(&'static str, usize)> {
        let mut counts: Vec<(&'static str, usize)> = Vec::new();
        for r in &self.rows {
            match counts.iter_mut().find(|(v, _)| *v == r.verdict) {
                Some((_, n)) => *n += 1,
                None => counts.push((r.verdict, 1)),
            }
        }
        counts
    }

    /// "2 decrypted, 1 forward-secret", or "none".
    pub fn verdict_counts(&self) -> String {
        let counts = self.counts();
        if counts.is_empty() {
            return "none".into();
        }
        counts
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn summary(&self) -> Markup {
        let counts = self.counts();
        let (by_key, key_streams) =
            self.streams_where(|r| r.opener == Some(Opener::StolenKey) && r.resumed_from.is_none());
        let (by_key_resumed, key_resumed_streams) =
            self.streams_where(|r| r.opener == Some(Opener::StolenKey) && r.resumed_from.is_some());
        let (by_log, log_streams) = self.streams_where(|r| r.opener == Some(Opener::KeyLog));
        let (by_ticket, ticket_streams) =
            self.streams_where(|r| r.opener == Some(Opener::TicketKey));
        let (fs, fs_streams) = self.streams_where(|r| r.verdict == "forward-secret");
        let (by_dlog, dlog_streams) = self.streams_where(|r| r.opener == Some(Opener::AssumedDlog));
        let (hybrid_closed, hybrid_streams) = self.streams_where(|r| {
            r.verdict == "forward-secret" && r.group.as_deref() == Some("X25519MLKEM768")
        });
        let several = self.inputs.captures.len() > 1;
        html! {
            section.summary {
                h1 { "What the capture gave up" }
                p.inputs {
                    "Captures: " (self.inputs.captures.join(", ")) ". The attacker holds "
                    @match (&self.inputs.key, &self.inputs.keylog) {
                        (Some(k), Some(l)) => { "the server's stolen RSA key (" (k) ") and a leaked key log (" (l) ")." }
                        (Some(k), None) => { "the server's stolen RSA key (" (k) ")." }
                        (None, Some(l)) => { "a leaked key log (" (l) ")." }
                        (None, None) => {
                            @if self.inputs.ticket_keys.is_empty() { "nothing but the capture." } @else { "no RSA key and no key log." }
                        }
                    }
                    @if !self.inputs.ticket_keys.is_empty() {
                        " Stolen session-ticket key" @if self.inputs.ticket_keys.len() != 1 { "s" }
                        ": " (self.inputs.ticket_keys.join(", ")) "."
                    }
                }
                div.counts {
                    span.count data-verdict="all" data-count=(self.rows.len()) {
                        b { (self.rows.len()) } " TLS session" @if self.rows.len() != 1 { "s" }
                    }
                    @for (v, n) in &counts {
                        span class=(format!("count verdict v-{v}")) data-verdict=(v) data-count=(n) {
                            b { (n) } " " (v)
                        }
                    }
                }
                @if self.rows.is_empty() {
                    p.closed { "No TLS session in these captures." }
                }
                ul.findings {
                    @if let Some(file) = &self.inputs.assumed_dlog {
                        li.assumed {
                            "ASSUMED, not done: the discrete-log problem is treated as broken (a stand-in for Shor's algorithm on a quantum computer); "
                            "the clients' classical ephemeral keys come from the lab's stand-in file " (file) ", each checked against its public share on the wire. "
                            "Under that assumption " (by_dlog) " session" @if by_dlog != 1 { "s" }
                            @if by_dlog > 0 { " (" (dlog_streams) ")" }
                            " opened: their only secret input was classical (EC)DHE."
                            @if hybrid_closed > 0 {
                                " " (hybrid_closed) " X25519MLKEM768 session" @if hybrid_closed != 1 { "s" }
                                " (" (hybrid_streams) ") stayed closed: the X25519 half is recovered under the assumption, but the ML-KEM-768 half is missing, and a quantum computer is not known to break ML-KEM."
                            }
                        }
                    }
                    @if self.inputs.key.is_some() {
                        li {
                            @if by_key == 0 && by_key_resumed == 0 {
                                "The stolen key opened nothing."
                            } @else {
                                "The stolen key opened " (by_key) " session" @if by_key != 1 { "s" }
                                " (" (key_streams) "): RSA key transport, whose premaster crossed the wire encrypted to that key"
                                @if by_key_resumed > 0 {
                                    ", and " (by_key_resumed) " resumed session" @if by_key_resumed != 1 { "s" }
                                    " (" (key_resumed_streams) ") that reuse their master secret"
                                }
                                "."
                            }
                        }
                    }
                    @if !self.inputs.ticket_keys.is_empty() {
                        li {
                            "The stolen ticket key opened " (by_ticket) " session" @if by_ticket != 1 { "s" }
                            @if by_ticket > 0 { " (" (ticket_streams) ")" }
                            ": a TLS 1.2 ticket carries the master secret, ECDHE or not, and a TLS 1.3 psk_ke resumption has no (EC)DHE to protect it"
                            "; psk_dhe_ke resumptions and full TLS 1.3 handshakes stand."
                        }
                    }
                    @if self.inputs.keylog.is_some() {
                        li {
                            "The key log opened " (by_log) " session" @if by_log != 1 { "s" }
                            @if by_log > 0 { " (" (log_streams) ")" }
                            ": it names the secrets themselves, forward secrecy or not."
                        }
                    }
                    @if fs > 0 {
                        li {
                            (fs) " session" @if fs != 1 { "s" } " (" (fs_streams) ") stayed forward-secret: "
                            "their premaster was never sent, only ephemeral public values; the stolen key only signed them."
                        }
                    }
                }
                (legend())
                table.overview {
                    thead {
                        tr {
                            @if several { th { "capture" } }
                            th { "session" } th { "client → server" } th { "version" }
                            th { "key exchange" } th { "verdict" } th { "first line recovered" }
                        }
                    }
                    tbody {
                        @for r in &self.rows {
                            tr data-stream=(r.stream) data-verdict=(r.verdict) {
                                @if several {
                                    td { (self.inputs.captures.get(r.capture_index).map(String::as_str).unwrap_or("?")) }
                                }
                                td { a href=(format!("#{}", card::anchor(r.capture_index, r.stream))) { (r.stream) } }
                                td { (r.peers) }
                                td { (r.version) }
                                td { (r.key_exchange) }
                                td { span class=(format!("verdict v-{}", r.verdict)) { (r.verdict) } }
                                td { code { (r.first_line) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn legend() -> Markup {
    html! {
        div.legend {
            span.legend-title { "On the wire: " }
            @for x in Exposure::ALL {
                span class=(format!("legend-item {}", x.class())) {
                    span.swatch {} (x.label())
                }
            }
            span.legend-title { " Secrets: " }
            @for s in [Status::Recovered, Status::OutOfReach, Status::NotNeeded] {
                span class=(format!("legend-item node-legend {}", s.class())) {
                    span.swatch {} (s.label())
                }
            }
        }
    }
}

/// Bytes as hex, shortened to their first 4 and last 2 bytes when longer than 8.
fn short(bytes: &[u8]) -> String {
    if bytes.len() <= 8 {
        hex(bytes)
    } else {
        format!(
            "{}…{} ({} bytes)",
            hex(&bytes[..4]),
            hex(&bytes[bytes.len() - 2..]),
            bytes.len()
        )
    }
}

/// Large type for a projector; colours that survive a washed-out beamer; prints on paper.
const CSS: &str = r#"
:root { --clear:#c0392b; --enc:#b7791f; --never:#2f855a; --ink:#1a202c; --muted:#4a5568;
        --recovered:#c53030; --closed:#2f855a; --paper:#fff; --line:#cbd5e0; }
* { box-sizing: border-box; }
body { margin:0; font:17px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--ink); background:#f7fafc; }
main { max-width:1180px; margin:0 auto; padding:24px; }
h1 { font-size:30px; margin:0 0 8px; }
h2 { font-size:24px; margin:0; display:inline-block; margin-right:12px; }
h3 { font-size:19px; margin:22px 0 8px; }
h4 { font-size:16px; margin:10px 0 4px; }
code, pre, .hex { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
section { background:var(--paper); border:1px solid var(--line); border-radius:10px; padding:20px 24px; margin:0 0 28px; }
.facts { color:var(--muted); margin:6px 0 0; }
.reason { font-size:18px; border-left:5px solid var(--line); padding:6px 12px; background:#edf2f7; }
.notes { color:var(--muted); font-size:15px; }
.verdict { display:inline-block; padding:2px 10px; border-radius:999px; font-weight:600; color:#fff; background:#718096; }
.verdict.v-decrypted { background:var(--recovered); }
.verdict.v-forward-secret { background:var(--closed); }
.verdict.v-partly-decrypted { background:#dd6b20; }
.verdict.v-not-decrypted { background:#718096; }
.counts { display:flex; flex-wrap:wrap; gap:10px; margin:12px 0; }
.count { padding:4px 12px; border-radius:8px; background:#e2e8f0; color:var(--ink); }
.count.verdict { color:#fff; border-radius:8px; font-weight:400; }
.findings li { margin:4px 0; }
table.overview { border-collapse:collapse; width:100%; margin-top:14px; font-size:15px; }
.overview th, .overview td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
.overview code { word-break:break-all; }
.legend { display:flex; flex-wrap:wrap; gap:6px 14px; align-items:center; font-size:15px; margin:10px 0; }
.legend-title { font-weight:600; }
.swatch { display:inline-block; width:14px; height:14px; border-radius:3px; margin-right:5px; vertical-align:-2px; }
.legend-item.x-clear .swatch { background:var(--clear); }
.legend-item.x-enc .swatch { background:var(--enc); }
.legend-item.x-never .swatch { background:var(--never); }
.node-legend .swatch { background:#fff; border:3px solid var(--muted); }
.node-legend.st-recovered .swatch { border-color:var(--recovered); }
.node-legend.st-out-of-reach .swatch { border-color:var(--closed); }
.node-legend.st-not-needed .swatch { border-style:dashed; }
svg.ladder { width:100%; height:auto; display:block; background:#fff; }
.ladder text { font-size:13px; fill:var(--ink); }
.ladder .peer { font-size:17px; font-weight:700; }
.ladder .addr { fill:var(--muted); }
.ladder .lifeline { stroke:#a0aec0; stroke-width:2; }
.ladder .msg-name { font-weight:700; font-size:14px; }
.ladder .msg-line { stroke:var(--ink); stroke-width:2; }
.ladder .msg-head { fill:var(--ink); }
.ladder .x-clear .mark { fill:var(--clear); }
.ladder .x-enc .mark { fill:var(--enc); }
.ladder .x-never .peer-box { fill:#f0fff4; stroke:var(--never); stroke-width:2; stroke-dasharray:5 3; }
.ladder .x-never text { fill:#22543d; font-size:12px; }
.chain-row { display:flex; flex-wrap:wrap; gap:8px; align-items:stretch; }
.chain-row.keys { display:grid; grid-template-columns:repeat(auto-fit, minmax(200px, 1fr)); }
.chain-arrow, .chain-down { font-size:24px; color:var(--muted); align-self:center; }
.chain-down { text-align:center; margin:2px 0; }
.node { flex:1 1 200px; border:3px solid var(--muted); border-radius:8px; padding:8px 10px; background:#fff; min-width:0; }
.node.st-recovered { border-color:var(--recovered); background:#fff5f5; }
.node.st-out-of-reach { border-color:var(--closed); background:#f0fff4; }
.node.st-not-needed, .node.st-none { border-style:dashed; background:#f7fafc; }
.node-head { display:flex; flex-wrap:wrap; justify-content:space-between; gap:4px 8px; font-weight:700; }
.badge { font-size:13px; padding:1px 8px; border-radius:999px; background:#e2e8f0; white-space:nowrap; align-self:flex-start; }
.st-recovered .badge { background:var(--recovered); color:#fff; }
.st-out-of-reach .badge { background:var(--closed); color:#fff; }
.why { font-size:14px; margin:6px 0; color:var(--muted); overflow-wrap:anywhere; }
.value { margin-top:4px; }
.value-name { font-size:13px; color:var(--muted); display:block; }
.hex { font-size:13px; word-break:break-all; }
.ephemeral dd { margin:0 0 8px 0; }
.ephemeral dt { font-weight:600; }
.note { color:var(--muted); }
pre.plaintext { white-space:pre-wrap; word-break:break-all; background:#1a202c; color:#f7fafc; padding:12px; border-radius:8px; font-size:15px; max-height:420px; overflow:auto; }
.closed { color:var(--closed); font-weight:600; }
footer { color:var(--muted); font-size:14px; text-align:center; }
@media print { body { background:#fff; } section { break-inside:avoid; } pre.plaintext { max-height:none; } }
"#;

#[cfg(test)]
pub(crate) mod tests;
