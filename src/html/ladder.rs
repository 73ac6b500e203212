//! The handshake ladder: client and server as two columns, each message an arrow between them,
//! each field marked by what an eavesdropper has of it — in clear on the wire, encrypted on the
//! wire, or never sent (computed by the peers, drawn as a box on their column). Pure SVG.

use maud::{html, Markup};

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession, Resumption};
use crate::attack::pipeline::TlsConnection;
use crate::attack::{dh_bits, Recovery};
use crate::msgs::enums::{ContentType, HandshakeType, NamedGroup};
use crate::pki;
use crate::suites::{suite_name, KeyExchange};

use super::short;

/// What an eavesdropper on the wire has of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// Readable by anyone who captured the traffic.
    Clear,
    /// On the wire, but sealed (to the server's RSA key, or under the record keys).
    Encrypted,
    /// Never crosses the wire: each peer computes it.
    NeverSent,
}

impl Exposure {
    pub const ALL: [Exposure; 3] = [Self::Clear, Self::Encrypted, Self::NeverSent];

    pub fn class(self) -> &'static str {
        match self {
            Self::Clear => "x-clear",
            Self::Encrypted => "x-enc",
            Self::NeverSent => "x-never",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Clear => "in clear on the wire",
            Self::Encrypted => "encrypted on the wire",
            Self::NeverSent => "never sent",
        }
    }
}

/// One field of a message.
#[derive(Debug, Clone)]
pub struct Field {
    pub text: String,
    pub exposure: Exposure,
}

fn clear(text: impl Into<String>) -> Field {
    Field {
        text: text.into(),
        exposure: Exposure::Clear,
    }
}

fn sealed(text: impl Into<String>) -> Field {
    Field {
        text: text.into(),
        exposure: Exposure::Encrypted,
    }
}

/// One row of the ladder.
#[derive(Debug, Clone)]
pub enum Step {
    /// A message (or a flight sent together) crossing the wire.
    Arrow {
        to_server: bool,
        name: String,
        fields: Vec<Field>,
    },
    /// What each peer computes on its own and never sends.
    Local {
        client: Vec<String>,
        server: Vec<String>,
    },
}

fn arrow(to_server: bool, name: impl Into<String>, fields: Vec<Field>) -> Step {
    Step::Arrow {
        to_server,
        name: name.into(),
        fields,
    }
}

fn local(client: &[&str], server: &[&str]) -> Step {
    let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    Step::Local {
        client: own(client),
        server: own(server),
    }
}

/// The ladder's rows for one session, in the order its messages flowed.
pub fn steps(conn: &TlsConnection, recovery: &Recovery) -> Vec<Step> {
    let obs = &conn.session;
    let mut out = Vec::new();
    let tls13 = obs.key_exchange == Some(KeyExchange::Tls13);
    hellos(obs, recovery, tls13, &mut out);
    if obs.server_hello.is_none() {
        return out;
    }
    if tls13 {
        tls13_flights(obs, recovery, &mut out);
    } else if obs.resumed.is_some() {
        resumed_flights(obs, recovery, &mut out);
    } else {
        full_tls12_flights(obs, recovery, &mut out);
    }
    application_data(obs, tls13, &mut out);
    out
}

/// ", opened with the stolen one" when a stolen ticket key opened a ticket of this session.
fn ticket_opened(recovery: &Recovery) -> &'static str {
    if recovery.tickets.iter().any(|t| t.opened()) {
        "; opened with the stolen one"
    } else {
        ""
    }
}

fn hellos(obs: &ObservedSession, recovery: &Recovery, tls13: bool, out: &mut Vec<Step>) {
    let shares = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Tls13KeyShares {
            server_group,
            client_share,
            server_share,
            ..
        } => Some((*server_group, client_share, server_share)),
        _ => None,
    };
    if let Some(ch) = &obs.client_hello {
        let mut f = vec![clear(format!("client random {}", short(&ch.random)))];
        f.push(clear(format!(
            "offers {} cipher suites{}",
            ch.cipher_suites.len(),
            obs.sni
                .as_ref()
                .map(|s| format!(", server name {s}"))
                .unwrap_or_default()
        )));
        if let Some((group, Some(q), _)) = shares {
            f.push(clear(format!(
                "key share Q_c = d_c·G ({}) {}",
                group_name(group),
                short(q)
            )));
        }
        match &obs.resumed {
            Some(Resumption::Ticket(t)) => {
                f.push(clear(format!(
                    "session ticket {} (sealed by the server's ticket key)",
                    short(t)
                )));
                if !ticket_opened(recovery).is_empty() {
                    f.push(clear("ticket opened with the stolen ticket key"));
                }
            }
            Some(Resumption::SessionId(id)) => {
                f.push(clear(format!("session ID {} to resume", short(id))))
            }
            None => {}
        }
        if let Some(p) = &obs.psk {
            if !ticket_opened(recovery).is_empty() {
                f.push(clear("ticket opened with the stolen ticket key"));
            }
            let modes: Vec<String> = p.modes.iter().map(|m| m.name()).collect();
            f.push(clear(format!(
                "psk_key_exchange_modes: {}",
                if modes.is_empty() {
                    "none".into()
                } else {
                    modes.join(", ")
                }
            )));
            for id in p.offered.iter().flat_map(|o| o.identities.iter()) {
                f.push(clear(format!(
                    "PSK identity: ticket {} (sealed by the ticket key)",
                    short(&id.identity)
                )));
            }
        }
        out.push(arrow(true, "ClientHello", f));
    }
    if obs.hello_retry {
        out.push(arrow(
            false,
            "HelloRetryRequest",
            vec![clear("asks for a key share in another group")],
        ));
        out.push(arrow(
            true,
            "ClientHello (again)",
            vec![clear("a key share in the group the server asked for")],
        ));
    }
    if let Some(sh) = &obs.server_hello {
        let mut f = vec![
            clear(format!("server random {}", short(&sh.random))),
            clear(format!("chosen: {}", suite_name(sh.cipher_suite))),
        ];
        if let Some((group, _, Some(q))) = shares {
            f.push(clear(format!(
                "key share Q_s = d_s·G ({}) {}",
                group_name(group),
                short(q)
            )));
        } else if let Some(i) = obs.psk.as_ref().and_then(|p| p.selected) {
            f.push(clear(format!(
                "selected PSK identity {i}, no key share: psk_ke"
            )));
        } else if !tls13 && !sh.session_id.is_empty() {
            f.push(clear(format!("session ID {}", short(&sh.session_id))));
        }
        if let (Some(i), Some(_)) = (
            obs.psk.as_ref().and_then(|p| p.selected),
            shares.and_then(|s| s.2.as_ref()),
        ) {
            f.push(clear(format!(
                "selected PSK identity {i} and a key share: psk_dhe_ke"
            )));
        }
        if !tls13 {
            f.push(clear(if obs.ems {
                "extended master secret: yes (RFC 7627)"
            } else {
                "extended master secret: no"
            }));
        }
        out.push(arrow(false, "ServerHello", f));
    }
}

fn full_tls12_flights(obs: &ObservedSession, recovery: &Recovery, out: &mut Vec<Step>) {
    let sent = |t: HandshakeType| obs.handshake_server.iter().any(|m| m.typ == t);
    if let Some(leaf) = obs.certificates.first() {
        let what = match pki::parse_certificate(leaf) {
            Ok(info) => format!(
                "{}, RSA {}-bit public key",
                info.subject,
                pki::modulus_bits(&info.public_key)
            ),
            Err(e) => format!("unreadable: {e}"),
        };
        out.push(arrow(false, "Certificate", vec![clear(what)]));
    }
    let ecdhe = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Ecdhe {
            server_public,
            client_public,
            named_group,
            ..
        } => Some((server_public, client_public, *named_group)),
        _ => None,
    };
    if let Some(ske) = &obs.server_key_exchange {
        out.push(arrow(
            false,
            "ServerKeyExchange",
            vec![
                clear(format!(
                    "Q_s = d_s·G ({}) {}",
                    group_name(Some(ske.named_group)),
                    short(&ske.public)
                )),
                clear("signed with the server's RSA key (over both randoms and Q_s)"),
            ],
        ));
    }
    if let KeyExchangeOnWire::Dhe {
        p,
        g,
        server_public,
        ..
    } = &obs.wire_key_exchange
    {
        out.push(arrow(
            false,
            "ServerKeyExchange",
            vec![
                clear(format!(
                    "p: a {}-bit prime{}, g = {}",
                    dh_bits(p),
                    crate::crypto::ffdh::DhGroup::new(p, g)
                        .ok()
                        .and_then(|grp| grp.well_known())
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default(),
                    crate::codec::hex(g)
                )),
                clear(format!("Ys = g^a mod p {}", short(server_public))),
                clear("signed with the server's RSA key (over both randoms and p, g, Ys)"),
            ],
        ));
    }
    if sent(HandshakeType::ServerHelloDone) {
        out.push(arrow(false, "ServerHelloDone", Vec::new()));
    }
    match (&obs.wire_key_exchange, ecdhe) {
        (KeyExchangeOnWire::RsaEncryptedPremaster(enc), _) => {
            out.push(arrow(
                true,
                "ClientKeyExchange",
                vec![sealed(format!(
                    "premaster chosen by the client, RSA-encrypted to the certificate's key ({} bytes)",
                    enc.len()
                ))],
            ));
            out.push(local(
                &["master secret, key block, keys"],
                &[
                    "decrypts the premaster (RSA key)",
                    "master secret, key block, keys",
                ],
            ));
        }
        (KeyExchangeOnWire::Dhe { client_public, .. }, _) => {
            out.push(arrow(
                true,
                "ClientKeyExchange",
                vec![clear(format!("Yc = g^b mod p {}", short(client_public)))],
            ));
            out.push(local(
                &[
                    "b: ephemeral secret",
                    "premaster = Ys^b mod p",
                    "master secret, key block, keys",
                ],
                &[
                    "a: ephemeral secret",
                    "premaster = Yc^a mod p",
                    "master secret, key block, keys",
                ],
            ));
        }
        (_, Some((_, client_public, group))) => {
            out.push(arrow(
                true,
                "ClientKeyExchange",
                vec![clear(format!(
                    "Q_c = d_c·G ({}) {}",
                    group_name(Some(group)),
                    short(client_public)
                ))],
            ));
            out.push(local(
                &[
                    "d_c: ephemeral secret",
                    "premaster = x(d_c·Q_s)",
                    "master secret, key block, keys",
                ],
                &[
                    "d_s: ephemeral secret",
                    "premaster = x(d_s·Q_c)",
                    "master secret, key block, keys",
                ],
            ));
        }
        _ => {}
    }
    if obs.client_ccs {
        out.push(finished(true));
    }
    if let Some(t) = &obs.new_ticket {
        out.push(new_session_ticket(t, recovery));
    }
    if obs.server_ccs {
        out.push(finished(false));
    }
}

fn resumed_flights(obs: &ObservedSession, recovery: &Recovery, out: &mut Vec<Step>) {
    if let Some(t) = &obs.new_ticket {
        out.push(new_session_ticket(t, recovery));
    }
    out.push(local(
        &[
            "master secret of the resumed session",
            "key block from the new randoms",
        ],
        &[
            "master secret of the resumed session",
            "key block from the new randoms",
        ],
    ));
    // RFC 5246 §7.3: in an abbreviated handshake the server finishes first.
    if obs.server_ccs {
        out.push(finished(false));
    }
    if obs.client_ccs {
        out.push(finished(true));
    }
}

fn tls13_flights(obs: &ObservedSession, recovery: &Recovery, out: &mut Vec<Step>) {
    if recovery.psk_mode == Some(crate::attack::tickets::PskMode::PskKe) {
        out.push(local(
            &[
                "PSK from the ticket",
                "no (EC)DHE: psk_ke",
                "handshake traffic secrets",
            ],
            &[
                "PSK from the ticket",
                "no (EC)DHE: psk_ke",
                "handshake traffic secrets",
            ],
        ));
    } else if recovery.psk_mode == Some(crate::attack::tickets::PskMode::PskDheKe) {
        out.push(local(
            &[
                "PSK from the ticket",
                "d_c: ephemeral secret, shared secret",
                "handshake traffic secrets",
            ],
            &[
                "PSK from the ticket",
                "d_s: ephemeral secret, shared secret",
                "handshake traffic secrets",
            ],
        ));
    } else {
        out.push(local(
            &[
                "d_c: ephemeral secret",
                "shared secret = x(d_c·Q_s)",
                "handshake traffic secrets",
            ],
            &[
                "d_s: ephemeral secret",
                "shared secret = x(d_s·Q_c)",
                "handshake traffic secrets",
            ],
        ));
    }
    // What the server's encrypted flight held, when the key log opened it.
    let opened: Vec<String> = recovery
        .tls13
        .as_ref()
        .map(|(_, s)| s.handshake.iter().map(|m| m.typ.name()).collect())
        .unwrap_or_default();
    let server_flight = if opened.is_empty() {
        vec![
            sealed("EncryptedExtensions, Certificate (the certificate is encrypted in TLS 1.3)"),
            sealed("CertificateVerify: the RSA key signs the transcript"),
            sealed("Finished"),
        ]
    } else {
        opened.iter().map(sealed).collect()
    };
    if !obs.server_protected.records.is_empty() {
        out.push(arrow(false, "encrypted server flight", server_flight));
    }
    if !obs.client_protected.records.is_empty() {
        out.push(arrow(
            true,
            "Finished",
            vec![sealed("Finished (verify_data)")],
        ));
    }
    out.push(local(
        &["application traffic secrets, keys"],
        &["application traffic secrets, keys"],
    ));
}

fn finished(to_server: bool) -> Step {
    arrow(
        to_server,
        "ChangeCipherSpec, Finished",
        vec![
            clear("ChangeCipherSpec: switch to the new keys"),
            sealed("Finished (verify_data over the handshake)"),
        ],
    )
}

fn new_session_ticket(ticket: &[u8], recovery: &Recovery) -> Step {
    let opened = recovery
        .tickets
        .iter()
        .any(|t| t.origin == crate::attack::tickets::TicketOrigin::Issued && t.opened());
    let mut fields = vec![clear(format!(
        "ticket {}: master secret sealed by the ticket key",
        short(ticket)
    ))];
    if opened {
        fields.push(clear("opened with the stolen one: the master secret"));
    }
    arrow(false, "NewSessionTicket", fields)
}

fn application_data(obs: &ObservedSession, tls13: bool, out: &mut Vec<Step>) {
    for (to_server, records) in [
        (true, &obs.client_protected),
        (false, &obs.server_protected),
    ] {
        let app: Vec<_> = records
            .records
            .iter()
            .filter(|r| r.content_type == ContentType::ApplicationData)
            .collect();
        // TLS 1.3 hides every record's type; its handshake records are counted above.
        if app.is_empty() || tls13 {
            if tls13 && !records.records.is_empty() {
                out.push(arrow(
                    to_server,
                    "application data",
                    vec![sealed(if to_server {
                        "the request, under the client's application keys"
                    } else {
                        "the response, under the server's application keys"
                    })],
                ));
            }
            continue;
        }
        let bytes: usize = app.iter().map(|r| r.payload.len()).sum();
        out.push(arrow(
            to_server,
            "application data",
            vec![sealed(format!(
                "{} ({} record{}, {bytes} bytes)",
                if to_server {
                    "the request"
                } else {
                    "the response"
                },
                app.len(),
                if app.len() == 1 { "" } else { "s" }
            ))],
        ));
    }
}

fn group_name(group: Option<u16>) -> String {
    group
        .map(|g| NamedGroup::from_wire(g).name())
        .unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------
// Drawing

const WIDTH: u32 = 960;
const CLIENT_X: u32 = 150;
const SERVER_X: u32 = 810;
const TOP: u32 = 64;
const FIELD_LINE: u32 = 18;
const LOCAL_LINE: u32 = 16;
const LOCAL_BOX_WIDTH: u32 = 280;
/// Characters a field line may have between the columns at 13px.
const FIELD_CHARS: usize = 88;
/// Characters a line in a peer's box may have at 12px.
const LOCAL_CHARS: usize = 40;

fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

fn step_height(step: &Step) -> u32 {
    match step {
        Step::Arrow { fields, .. } => 40 + FIELD_LINE * fields.len() as u32,
        Step::Local { client, server } => {
            16 + LOCAL_LINE * client.len().max(server.len()) as u32 + 8
        }
    }
}

/// The ladder as an SVG drawing; `client` and `server` label the columns.
pub fn render(steps: &[Step], client: &str, server: &str) -> Markup {
    let height = TOP + steps.iter().map(step_height).sum::<u32>() + 16;
    let mut y = TOP;
    let placed: Vec<(u32, &Step)> = steps
        .iter()
        .map(|s| {
            let at = y;
            y += step_height(s);
            (at, s)
        })
        .collect();
    html! {
        svg.ladder xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {height}"))
            role="img" aria-label="handshake ladder: client on the left, server on the right" {
            @for (x, who, addr) in [(CLIENT_X, "client", client), (SERVER_X, "server", server)] {
                text.peer x=(x) y="22" text-anchor="middle" { (who) }
                text.addr x=(x) y="42" text-anchor="middle" { (addr) }
                line.lifeline x1=(x) y1="52" x2=(x) y2=(height - 8) {}
            }
            @for (y, step) in placed {
                (draw_step(y, step))
            }
        }
    }
}

fn draw_step(y: u32, step: &Step) -> Markup {
    match step {
        Step::Arrow {
            to_server,
            name,
            fields,
        } => {
            let line_y = y + 22;
            let (from, to) = if *to_server {
                (CLIENT_X + 4, SERVER_X - 4)
            } else {
                (SERVER_X - 4, CLIENT_X + 4)
            };
            let head = if *to_server {
                format!(
                    "{to},{line_y} {},{} {},{}",
                    to - 12,
                    line_y - 6,
                    to - 12,
                    line_y + 6
                )
            } else {
                format!(
                    "{to},{line_y} {},{} {},{}",
                    to + 12,
                    line_y - 6,
                    to + 12,
                    line_y + 6
                )
            };
            html! {
                g.msg data-dir=(if *to_server { "to-server" } else { "to-client" }) {
                    text.msg-name x=(WIDTH / 2) y=(y + 14) text-anchor="middle" { (name) }
                    line.msg-line x1=(from) y1=(line_y) x2=(to) y2=(line_y) {}
                    polygon.msg-head points=(head) {}
                    @for (i, f) in fields.iter().enumerate() {
                        @let fy = line_y + 20 + FIELD_LINE * i as u32;
                        g class=(format!("field {}", f.exposure.class())) {
                            title { (f.exposure.label()) }
                            rect.mark x=(CLIENT_X + 28) y=(fy - 10) width="11" height="11" rx="2" {}
                            text x=(CLIENT_X + 46) y=(fy) { (fit(&f.text, FIELD_CHARS)) }
                        }
                    }
                }
            }
        }
        Step::Local { client, server } => {
            let lines = client.len().max(server.len()) as u32;
            let box_h = 10 + LOCAL_LINE * lines;
            html! {
                g.local {
                    @for (x, texts) in [(CLIENT_X, client), (SERVER_X, server)] {
                        @if !texts.is_empty() {
                            g class=(format!("field {}", Exposure::NeverSent.class())) {
                                title { "computed by this peer, never sent" }
                                rect.peer-box x=(x - LOCAL_BOX_WIDTH / 2) y=(y + 6)
                                    width=(LOCAL_BOX_WIDTH) height=(box_h) rx="6" {}
                                @for (i, t) in texts.iter().enumerate() {
                                    text x=(x) y=(y + 22 + LOCAL_LINE * i as u32) text-anchor="middle" {
                                        (fit(t, LOCAL_CHARS))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_long_lines_on_characters() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("ééééé", 3), "éé…");
    }

    #[test]
    fn render_draws_one_group_per_arrow_and_escapes_text() {
        let steps = vec![
            arrow(true, "ClientHello", vec![clear("server name <b>x</b>")]),
            local(&["premaster"], &["premaster"]),
            arrow(false, "ServerHello", vec![sealed("s")]),
        ];
        let svg = render(&steps, "10.0.0.2:5000", "10.0.0.1:443").into_string();
        assert_eq!(svg.matches("<g class=\"msg\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("data-dir=\"to-server\"").count(), 1);
        assert_eq!(svg.matches("class=\"field x-never\"").count(), 2);
        assert!(svg.contains("server name &lt;b&gt;x&lt;/b&gt;"), "{svg}");
        assert!(!svg.contains("<b>"));
    }
}
