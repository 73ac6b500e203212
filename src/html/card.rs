//! One session's card: what it was, the verdict and its reason, the handshake ladder, the
//! derivation chain, the ephemeral public values of a forward-secret exchange, and the
//! recovered conversation (escaped: it is whatever the peers sent).

use maud::{html, Markup};

use crate::attack::observe::{KeyExchangeOnWire, Resumption};
use crate::attack::pipeline::TlsConnection;
use crate::attack::{dh_bits, Recovery, SecretSource};
use crate::codec::hex;
use crate::msgs::enums::NamedGroup;
use crate::report::printable;
use crate::suites::suite_name;

use super::{chain, ladder};

/// Plaintext shown per direction; the rest is counted, not shown.
pub const CONVERSATION_LIMIT: usize = 16 * 1024;

/// The plaintext recovered each way (client → server, server → client).
pub fn plaintext(recovery: &Recovery) -> (&[u8], &[u8]) {
    if let Some(d) = &recovery.tls12 {
        return (&d.client.data, &d.server.data);
    }
    match &recovery.tls13 {
        Some((c, s)) => (&c.data, &s.data),
        None => (&[], &[]),
    }
}

/// The HTML id of a session's card.
pub fn anchor(capture_index: usize, stream: u64) -> String {
    format!("c{capture_index}-s{stream}")
}

pub fn render(
    capture_index: usize,
    capture: &str,
    conn: &TlsConnection,
    recovery: &Recovery,
) -> Markup {
    let obs = &conn.session;
    let verdict = recovery.verdict.as_str();
    let notes: Vec<&String> = conn
        .notes
        .iter()
        .chain(&obs.notes)
        .chain(&recovery.notes)
        .collect();
    let ladder = ladder::render(
        &ladder::steps(conn, recovery),
        &conn.client.to_string(),
        &conn.server.to_string(),
    );
    let chain = chain::render(&chain::nodes(obs, recovery));
    html! {
        section.session id=(anchor(capture_index, conn.stream)) data-stream=(conn.stream)
            data-capture=(capture) data-verdict=(verdict) {
            header.session-head {
                h2 { "Session " (conn.stream) }
                span class=(format!("verdict v-{verdict}")) { (verdict) }
                p.facts {
                    (capture) " · " (conn.client) " → " (conn.server) " · " (obs.version_name())
                    " · " (obs.suite_id.map(suite_name).unwrap_or_else(|| "?".into()))
                    " · " (obs.key_exchange.map(|k| k.label()).unwrap_or("key exchange not seen"))
                    @if let Some(r) = &obs.resumed {
                        " · resumed by " (match r { Resumption::Ticket(_) => "ticket", Resumption::SessionId(_) => "session ID" })
                        @if let Some((_, SecretSource::Resumed { from_stream })) = &recovery.master {
                            " from session " (from_stream)
                        }
                    }
                    @if let Some(m) = &recovery.psk_mode {
                        " · PSK mode " (m.as_str())
                    }
                }
            }
            @if !recovery.tickets.is_empty() {
                ul.tickets {
                    @for t in &recovery.tickets {
                        li data-opened=(t.opened()) { (t.describe()) }
                    }
                }
            }
            p.reason { (recovery.reason) }
            @if !notes.is_empty() {
                ul.notes { @for n in &notes { li { (n) } } }
            }
            h3 { "The handshake, as the eavesdropper saw it" }
            (ladder)
            h3 { "From the key exchange to the record keys" }
            (chain)
            (ephemeral_values(conn, recovery))
            (conversation(obs.app_bytes(), recovery))
        }
    }
}

/// For an ephemeral key exchange: both public values, and why they are not enough.
fn ephemeral_values(conn: &TlsConnection, recovery: &Recovery) -> Markup {
    let curve = |g: Option<u16>| {
        g.map(|g| NamedGroup::from_wire(g).name())
            .unwrap_or_else(|| "?".into())
    };
    let ((client_name, server_name, secrets), group, client, server) =
        match &conn.session.wire_key_exchange {
            KeyExchangeOnWire::Ecdhe {
                server_public,
                client_public,
                named_group,
                ..
            } => (
                ("Q_c = d_c·G", "Q_s = d_s·G", "d_c and d_s"),
                curve(Some(*named_group)),
                Some(client_public),
                Some(server_public),
            ),
            KeyExchangeOnWire::Tls13KeyShares {
                server_group,
                client_share,
                server_share,
                ..
            } => (
                ("Q_c = d_c·G", "Q_s = d_s·G", "d_c and d_s"),
                crate::attack::assumed_dlog::group_name(&conn.session)
                    .unwrap_or_else(|| curve(*server_group)),
                client_share.as_ref(),
                server_share.as_ref(),
            ),
            KeyExchangeOnWire::Dhe {
                p,
                server_public,
                client_public,
                ..
            } => (
                ("Yc = g^b mod p", "Ys = g^a mod p", "b and a"),
                format!("finite-field DHE, {}-bit p", dh_bits(p)),
                Some(client_public).filter(|v| !v.is_empty()),
                Some(server_public),
            ),
            _ => return html! {},
        };
    html! {
        div.ephemeral {
            h3 { "The ephemeral public values (" (group) ")" }
            dl {
                dt { (client_name) ", the client's (in clear on the wire)" }
                dd { code.hex { (client.map(|v| hex(v)).unwrap_or_else(|| "not captured".into())) } }
                dt { (server_name) ", the server's (in clear on the wire)" }
                dd { code.hex { (server.map(|v| hex(v)).unwrap_or_else(|| "not captured".into())) } }
            }
            p.note {
                "These two public values are all of the key exchange that crossed the wire. "
                "Their secrets " (secrets) " never left the peers and were thrown away after the handshake: "
                "without one of them no one — the holder of the stolen RSA key included — can compute the premaster."
                @match recovery.signature_verifies {
                    Some(true) => " The stolen RSA key verifies the server's signature over Q_s: signing it is all that key did here.",
                    Some(false) => " The stolen RSA key does not verify the server's signature over Q_s: it is not this server's key.",
                    None => "",
                }
            }
            @if let Some(how) = assumed_dlog(recovery) {
                p.note.assumed { "ASSUMED DLP break: " (how) }
            }
        }
    }
}

/// What the assumed DLP break gave this session, if it was used.
fn assumed_dlog(r: &Recovery) -> Option<String> {
    use crate::attack::SecretSource::AssumedDlog;
    match (&r.dhe, &r.master) {
        (Some((_, s @ AssumedDlog { .. })), _) | (_, Some((_, s @ AssumedDlog { .. })))
            if r.verdict.opened() =>
        {
            Some(s.describe())
        }
        (Some((_, AssumedDlog { .. })), _) => Some(r.reason.clone()),
        _ => None,
    }
}

fn conversation(app_bytes: (u64, u64), recovery: &Recovery) -> Markup {
    let (client, server) = plaintext(recovery);
    if client.is_empty() && server.is_empty() {
        return html! {
            div.conversation data-recovered="false" {
                h3 { "The conversation" }
                p.closed {
                    "Nothing decrypted: " (app_bytes.0) " bytes from the client and " (app_bytes.1)
                    " from the server stay ciphertext."
                }
            }
        };
    }
    html! {
        div.conversation data-recovered="true" {
            h3 { "The recovered conversation" }
            @for (who, data) in [("client → server", client), ("server → client", server)] {
                div.direction {
                    h4 { (who) " (" (data.len()) " bytes)" }
                    @if data.is_empty() {
                        p.closed { "nothing recovered this way" }
                    } @else {
                        pre.plaintext { (printable(&data[..data.len().min(CONVERSATION_LIMIT)])) }
                        @if data.len() > CONVERSATION_LIMIT {
                            p.note { "… and " (data.len() - CONVERSATION_LIMIT) " more bytes, not shown here (pfslab attack prints them all)." }
                        }
                    }
                }
            }
        }
    }
}
