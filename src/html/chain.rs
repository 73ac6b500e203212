//! The derivation chain of one session, box by box — premaster → master secret → key block →
//! keys for TLS 1.2, the (EC)DHE shared secret → traffic secrets for TLS 1.3 — each marked
//! recovered or out of reach, and why. It prints what a [`Recovery`] holds and derives nothing
//! but the key block (and TLS 1.3 record keys) from secrets the recovery found.

use maud::{html, Markup};

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession};
use crate::attack::tickets::PskMode;
use crate::attack::{Recovery, SecretSource, Tls13Secrets};
use crate::codec::hex;
use crate::keylog::SecretKind;
use crate::suites::Suite;
use crate::tls12::keys::key_block;

/// Where the attacker stands with one secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Recovered,
    OutOfReach,
    /// The attacker got past this box another way (a key log line, a resumed session).
    NotNeeded,
    /// The suite has no such secret.
    None,
}

impl Status {
    pub fn class(self) -> &'static str {
        match self {
            Self::Recovered => "st-recovered",
            Self::OutOfReach => "st-out-of-reach",
            Self::NotNeeded => "st-not-needed",
            Self::None => "st-none",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Recovered => "recovered",
            Self::OutOfReach => "out of reach",
            Self::NotNeeded => "not needed",
            Self::None => "none in this suite",
        }
    }
}

/// One box of the chain.
#[derive(Debug, Clone)]
pub struct Node {
    /// Short machine name, for `data-secret`.
    pub id: &'static str,
    pub title: String,
    pub status: Status,
    pub why: String,
    /// Named values shown when recovered (the secret itself, or the keys it gives).
    pub values: Vec<(String, Vec<u8>)>,
}

fn node(id: &'static str, title: &str, status: Status, why: impl Into<String>) -> Node {
    Node {
        id,
        title: title.to_string(),
        status,
        why: why.into(),
        values: Vec::new(),
    }
}

impl Node {
    fn with(mut self, name: &str, value: &[u8]) -> Self {
        self.values.push((name.to_string(), value.to_vec()));
        self
    }
}

/// The chain as rows of boxes, left to right.
pub fn nodes(obs: &ObservedSession, recovery: &Recovery) -> Vec<Vec<Node>> {
    match obs.suite {
        Some(suite) if obs.key_exchange == Some(crate::suites::KeyExchange::Tls13) => {
            tls13_nodes(&suite, recovery)
        }
        Some(suite) => tls12_nodes(obs, &suite, recovery),
        None => unsupported_suite_nodes(obs, recovery),
    }
}

/// A suite pfslab does not derive keys for (finite-field DHE, CBC, ChaCha20): the chain stops
/// at the premaster, with the recovery's reason.
fn unsupported_suite_nodes(obs: &ObservedSession, r: &Recovery) -> Vec<Vec<Node>> {
    let premaster = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Dhe { .. } => premaster_out_of_reach(obs, r),
        _ => r.reason.clone(),
    };
    let after = |what: &str| format!("never sent; computed from the {what}, which is out of reach");
    vec![vec![
        node(
            "premaster",
            "premaster secret",
            Status::OutOfReach,
            premaster,
        ),
        node(
            "master",
            "master secret",
            Status::OutOfReach,
            after("premaster"),
        ),
        node(
            "key-block",
            "key block and keys",
            Status::OutOfReach,
            after("master secret"),
        ),
    ]]
}

/// Whether the recovered TLS 1.2 secrets opened any record: a premaster from the wrong key
/// still yields a "master secret", but not this session's.
fn tls12_opened(recovery: &Recovery) -> bool {
    recovery
        .tls12
        .as_ref()
        .is_some_and(|d| d.client.records_opened + d.server.records_opened > 0)
}

fn tls12_nodes(obs: &ObservedSession, suite: &Suite, r: &Recovery) -> Vec<Vec<Node>> {
    let opened = tls12_opened(r);
    let sent_encrypted = "chosen by the client, sent encrypted in the ClientKeyExchange";

    // 1. The premaster.
    let premaster = match (&r.premaster, &r.master) {
        (Some((pms, source)), _) if opened => node(
            "premaster",
            "premaster secret",
            Status::Recovered,
            match source {
                SecretSource::KeyLogPremaster => format!(
                    "{sent_encrypted}; read from the key log ({} line)",
                    SecretKind::RsaPremaster
                ),
                SecretSource::StolenKey => {
                    format!("{sent_encrypted}; decrypted with the stolen RSA key")
                }
                SecretSource::PaddingOracle { .. } => {
                    format!("{sent_encrypted}; {}", source.describe())
                }
                // Computed, never sent (ECDHE/DHE under --break-dh or --assume-dlog-broken).
                _ => source.describe(),
            },
        )
        .with("premaster", pms),
        (None, Some((_, SecretSource::KeyLogMaster))) if opened => node(
            "premaster",
            "premaster secret",
            Status::NotNeeded,
            format!(
                "the key log names the master secret directly ({} line)",
                SecretKind::ClientRandom
            ),
        ),
        (None, Some((_, SecretSource::Resumed { from_stream }))) if opened => node(
            "premaster",
            "premaster secret",
            Status::NotNeeded,
            format!("none in this handshake: it resumes session {from_stream}, whose master secret was recovered (RFC 5246 §7.3)"),
        ),
        (None, Some((_, SecretSource::TicketKey { .. }))) if opened => node(
            "premaster",
            "premaster secret",
            Status::NotNeeded,
            "the session ticket carries the master secret itself: the stolen ticket key skips the key exchange, ECDHE or not (RFC 5077 §4)",
        ),
        _ => node(
            "premaster",
            "premaster secret",
            Status::OutOfReach,
            premaster_out_of_reach(obs, r),
        ),
    };

    // 2. The master secret.
    let master = match &r.master {
        Some((m, source)) if opened => node(
            "master",
            "master secret",
            Status::Recovered,
            match source {
                SecretSource::KeyLogMaster => format!(
                    "read from the key log ({} line), not computed",
                    SecretKind::ClientRandom
                ),
                SecretSource::Resumed { from_stream } => format!(
                    "never sent; reused from session {from_stream}: an abbreviated handshake keeps the master secret of the session it resumes"
                ),
                SecretSource::TicketKey { .. } => format!(
                    "never sent in clear; {}",
                    source.describe()
                ),
                _ if obs.ems => format!(
                    "computed by both peers, never sent: PRF-{}(premaster, \"extended master secret\", hash of ClientHello … ClientKeyExchange) (RFC 7627 §4)",
                    suite.hash.name()
                ),
                _ => format!(
                    "computed by both peers, never sent: PRF-{}(premaster, \"master secret\", client random ‖ server random) (RFC 5246 §8.1)",
                    suite.hash.name()
                ),
            },
        )
        .with("master secret", &m.0[..]),
        _ => node(
            "master",
            "master secret",
            Status::OutOfReach,
            if obs.resumed.is_some() {
                "never sent; this handshake reuses the master secret of the session it resumes, which was not recovered".to_string()
            } else if premaster.status == Status::OutOfReach {
                "never sent; computed from the premaster, which is out of reach".to_string()
            } else {
                format!("never sent; {}", r.reason)
            },
        ),
    };

    // 3. The key block and the keys cut from it (RFC 5246 §6.3).
    let kb = match (&r.master, obs.client_random(), obs.server_random()) {
        (Some((m, _)), Some(cr), Some(sr)) if opened => Some(key_block(suite, m, &cr, &sr)),
        _ => None,
    };
    let block = match &kb {
        Some(kb) => node(
            "key-block",
            "key block",
            Status::Recovered,
            format!(
                "computed by both peers, never sent: PRF(master secret, \"key expansion\", server random ‖ client random), {} bytes",
                kb.raw.len()
            ),
        )
        .with("key block", &kb.raw),
        None => node(
            "key-block",
            "key block",
            Status::OutOfReach,
            "never sent; needs the master secret",
        ),
    };
    let mut keys = Vec::new();
    let key = |id, title: &str, value: Option<&[u8]>| match value {
        Some(v) => node(
            id,
            title,
            Status::Recovered,
            "cut from the key block; never sent",
        )
        .with(title, v),
        None => node(
            id,
            title,
            Status::OutOfReach,
            "never sent; cut from the key block, which is out of reach",
        ),
    };
    if suite.mac_key_len == 0 {
        keys.push(node(
            "mac-keys",
            "client/server MAC keys",
            Status::None,
            format!(
                "{} is AES-GCM: each record carries its own authentication tag, so the key block has no MAC keys (RFC 5288 §3)",
                suite.name
            ),
        ));
    } else {
        keys.push(key(
            "client-mac-key",
            "client write MAC key",
            kb.as_ref().map(|k| k.client.mac_key.as_slice()),
        ));
        keys.push(key(
            "server-mac-key",
            "server write MAC key",
            kb.as_ref().map(|k| k.server.mac_key.as_slice()),
        ));
    }
    keys.push(key(
        "client-write-key",
        "client write key",
        kb.as_ref().map(|k| k.client.enc_key.as_slice()),
    ));
    keys.push(key(
        "server-write-key",
        "server write key",
        kb.as_ref().map(|k| k.server.enc_key.as_slice()),
    ));
    // TLS 1.2 CBC records carry their IVs (RFC 5246 §6.2.3.2): no IVs in the key block.
    if suite.fixed_iv_len > 0 {
        keys.push(key(
            "client-write-iv",
            "client write IV (GCM salt)",
            kb.as_ref().map(|k| k.client.fixed_iv.as_slice()),
        ));
        keys.push(key(
            "server-write-iv",
            "server write IV (GCM salt)",
            kb.as_ref().map(|k| k.server.fixed_iv.as_slice()),
        ));
    }
    let mut rows = vec![vec![premaster, master, block], keys];
    if !r.tickets.is_empty() {
        rows.insert(0, ticket_nodes(r));
    }
    rows
}

/// One box per ticket seen: opened with the stolen ticket key, or why not.
fn ticket_nodes(r: &Recovery) -> Vec<Node> {
    r.tickets
        .iter()
        .map(|t| {
            let title = format!("{} ticket", t.origin.as_str());
            match t.why_closed() {
                None => node(
                    "ticket",
                    &title,
                    Status::Recovered,
                    format!("{}; opened with the stolen ticket key", t.describe()),
                ),
                Some(why) => node(
                    "ticket",
                    &title,
                    Status::OutOfReach,
                    format!("{}; {why}", t.describe()),
                ),
            }
        })
        .collect()
}

fn premaster_out_of_reach(obs: &ObservedSession, r: &Recovery) -> String {
    if obs.resumed.is_some() {
        return format!("none in this handshake; {}", r.reason);
    }
    match &obs.wire_key_exchange {
        KeyExchangeOnWire::Ecdhe { .. } => {
            let mut why = "never sent: each peer computes it as x(d_c·Q_s) = x(d_s·Q_c), and the ephemeral secrets d_c and d_s never left the peers".to_string();
            match r.signature_verifies {
                Some(true) => why.push_str("; the stolen RSA key only signed Q_s (its signature verifies with it)"),
                Some(false) => why.push_str("; the stolen key does not even verify this server's ServerKeyExchange signature"),
                None => {}
            }
            why
        }
        KeyExchangeOnWire::Dhe { .. } => "never sent: each peer computes it as Ys^b = Yc^a mod p, and the ephemeral secrets a and b never left the peers; the stolen RSA key only signed p, g and Ys".to_string(),
        KeyExchangeOnWire::RsaEncryptedPremaster(_) => format!(
            "chosen by the client, sent encrypted in the ClientKeyExchange; {}",
            r.premaster_failure.as_deref().unwrap_or(&r.reason)
        ),
        _ => r.reason.clone(),
    }
}

fn tls13_nodes(suite: &Suite, r: &Recovery) -> Vec<Vec<Node>> {
    let psk_ke = r.psk_mode == Some(PskMode::PskKe);
    let from_psk = psk_ke && r.psk.is_some() && r.verdict.opened();
    let shared = if psk_ke {
        node(
            "shared-secret",
            "(EC)DHE shared secret",
            Status::None,
            "none: psk_ke (the ServerHello has no key share), so the handshake secret takes Hash.length zeros instead",
        )
    } else {
        node(
            "shared-secret",
            "(EC)DHE shared secret",
            Status::OutOfReach,
            "never sent: x(d_c·Q_s) = x(d_s·Q_c), and the ephemeral secrets d_c and d_s never left the peers; the server's RSA key only signs CertificateVerify",
        )
    };
    let handshake = if from_psk {
        node(
            "handshake-secret",
            "handshake secret",
            Status::Recovered,
            "HKDF-Extract(Derive-Secret(early secret from the PSK, \"derived\"), 0): the PSK alone gives it",
        )
    } else {
        node(
            "handshake-secret",
            "handshake secret",
            Status::OutOfReach,
            "never sent: HKDF-Extract(Derive-Secret(early secret, \"derived\"), shared secret) needs the shared secret",
        )
    };
    let psk_node = match (&r.psk_mode, &r.psk) {
        (Some(PskMode::Full) | None, _) => None,
        (Some(_), Some((psk, source))) => Some(
            node(
                "psk",
                "resumption PSK",
                Status::Recovered,
                format!(
                    "{}{}",
                    source.describe(),
                    match r.binder_verifies {
                        Some(true) => "; its binder verifies",
                        Some(false) => "; its binder does NOT verify",
                        None => "",
                    }
                ),
            )
            .with("PSK", psk),
        ),
        (Some(_), None) => Some(node(
            "psk",
            "resumption PSK",
            Status::OutOfReach,
            r.tickets
                .iter()
                .find(|t| t.used)
                .and_then(|t| t.why_closed())
                .unwrap_or_else(|| "sealed in the ticket".into()),
        )),
    };
    let master = node(
        "master",
        "master secret",
        Status::OutOfReach,
        "never sent: HKDF-Extract(Derive-Secret(handshake secret, \"derived\"), 0) needs the handshake secret",
    );
    let empty = Tls13Secrets::default();
    let (secrets, have_log) = match &r.tls13_secrets {
        Some(s) => (s, true),
        None => (&empty, false),
    };
    let opened = |from_client: bool, handshake: bool| {
        r.tls13.as_ref().is_some_and(|(c, s)| {
            let d = if from_client { c } else { s };
            if handshake {
                !d.handshake.is_empty()
            } else {
                d.app_opened
            }
        })
    };
    let traffic = |kind: SecretKind, id, title: &str, from_client, handshake| {
        let secret = secrets.each().into_iter().find(|(k, ..)| *k == kind);
        match secret.and_then(|(_, s, _)| s) {
            Some(s) if opened(from_client, handshake) => {
                let (key, iv) = s.record_keys(suite.enc_key_len);
                node(
                    id,
                    title,
                    Status::Recovered,
                    if from_psk {
                        "derived from the PSK (psk_ke: no (EC)DHE input); the write key and IV are derived from it (RFC 8446 §7.3)".to_string()
                    } else {
                        format!("read from the key log ({kind} line), not computed; the write key and IV are derived from it (RFC 8446 §7.3)")
                    },
                )
                .with(title, s.secret())
                .with("write key", &key)
                .with("write IV", &iv)
            }
            Some(_) => node(
                id,
                title,
                Status::OutOfReach,
                format!(
                    "the key log has a {kind} line, but it opens none of this session's records"
                ),
            ),
            None if have_log => node(
                id,
                title,
                Status::OutOfReach,
                format!("never sent, and not in the key log (no {kind} line)"),
            ),
            None => node(
                id,
                title,
                Status::OutOfReach,
                "never sent: derived from the shared secret; only a key log gives it",
            ),
        }
    };
    let hs = vec![
        traffic(
            SecretKind::ClientHandshakeTrafficSecret,
            "client-handshake",
            "client handshake traffic secret",
            true,
            true,
        ),
        traffic(
            SecretKind::ServerHandshakeTrafficSecret,
            "server-handshake",
            "server handshake traffic secret",
            false,
            true,
        ),
    ];
    let app = vec![
        traffic(
            SecretKind::ClientTrafficSecret0,
            "client-application",
            "client application traffic secret",
            true,
            false,
        ),
        traffic(
            SecretKind::ServerTrafficSecret0,
            "server-application",
            "server application traffic secret",
            false,
            false,
        ),
    ];
    let master = if from_psk {
        node(
            "master",
            "master secret",
            Status::Recovered,
            "HKDF-Extract(Derive-Secret(handshake secret, \"derived\"), 0), from the PSK",
        )
    } else {
        master
    };
    let mut first = Vec::new();
    first.extend(psk_node);
    first.extend([shared, handshake]);
    let mut rows = vec![first, hs, vec![master], app];
    if r.psk_mode == Some(PskMode::Full) && !r.tickets.is_empty() {
        rows.insert(0, ticket_nodes(r));
    }
    rows
}

/// The chain as HTML: a row of boxes per stage, arrows between them.
pub fn render(rows: &[Vec<Node>]) -> Markup {
    html! {
        div.chain {
            @for (i, row) in rows.iter().enumerate() {
                @if i > 0 { div.chain-down { "↓" } }
                div class=(if i == 0 { "chain-row" } else { "chain-row keys" }) {
                    @for (j, n) in row.iter().enumerate() {
                        @if j > 0 && i == 0 { span.chain-arrow { "→" } }
                        (render_node(n))
                    }
                }
            }
        }
    }
}

fn render_node(n: &Node) -> Markup {
    html! {
        div class=(format!("node {}", n.status.class())) data-secret=(n.id) data-status=(n.status.label()) {
            div.node-head {
                span.node-title { (n.title) }
                span.badge { (n.status.label()) }
            }
            p.why { (n.why) }
            @for (name, value) in &n.values {
                div.value {
                    span.value-name { (name) " (" (value.len()) " bytes)" }
                    code.hex { (hex(value)) }
                }
            }
        }
    }
}
