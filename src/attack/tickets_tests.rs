//! The attacker's ticket routes on sessions driven in memory by the lab's own endpoints.

use std::sync::Arc;

use crate::attack::observe::ObservedSession;
use crate::attack::pipeline::TlsConnection;
use crate::attack::tickets::{PskMode, TicketOpening, TicketOrigin};
use crate::attack::{recover, Loot, Recovery, ResumptionCache, SecretSource, Verdict};
use crate::crypto::rng;
use crate::endpoint::client::{
    client_connection, ClientConfig, ClientResumption, ServerVerification,
};
use crate::endpoint::server::{server_connection, ServerConfig, ServerResumption};
use crate::html::tests::{identity, transfer};
use crate::suites::{self, Suite};
use crate::tickets::{TicketKey, TicketState, Tls12State};

pub(crate) const REQUEST: &[u8] = b"GET /ticket HTTP/1.0\r\n\r\n";
pub(crate) const RESPONSE: &[u8] = b"HTTP/1.0 200 ok\r\n\r\nsecret balance";

pub(crate) fn ticket_key(byte: u8) -> TicketKey {
    TicketKey::from_bytes(&[byte; 80]).expect("80 bytes")
}

/// One session over the lab's endpoints with the given resumption settings; what crossed the
/// wire, observed, and the client's session to resume later.
pub(crate) fn session(
    stream: u64,
    suite: Suite,
    server_resumption: ServerResumption,
    client_resumption: ClientResumption,
) -> (
    TlsConnection,
    Option<crate::endpoint::session::ClientSession>,
) {
    session_logged(stream, suite, server_resumption, client_resumption, None)
}

/// As `session`, the server writing its secrets to `keylog`.
pub(crate) fn session_logged(
    stream: u64,
    suite: Suite,
    server_resumption: ServerResumption,
    client_resumption: ClientResumption,
    keylog: Option<Arc<crate::keylog::KeyLogWriter>>,
) -> (
    TlsConnection,
    Option<crate::endpoint::session::ClientSession>,
) {
    let id = identity();
    let server = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: vec![id.cert.clone()],
        suites: vec![
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS13_AES_128_GCM_SHA256,
        ],
        keylog,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: server_resumption,
        fast_key: Default::default(),
    });
    let client = Arc::new(ClientConfig {
        suites: vec![suite],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(id.cert.clone()),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: client_resumption,
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let mut c = client_connection(client, rng::from_seed(stream, "tc")).expect("client");
    let mut s = server_connection(server, rng::from_seed(stream, "ts")).expect("server");
    let mut wire = (Vec::new(), Vec::new());
    transfer(&mut c, &mut s, &mut wire);
    c.send(REQUEST).expect("request");
    transfer(&mut c, &mut s, &mut wire);
    s.send(RESPONSE).expect("response");
    s.send_close_notify();
    transfer(&mut c, &mut s, &mut wire);
    let resumable = c.resumable_session().cloned();
    let conn = TlsConnection {
        stream,
        client: format!("10.0.0.2:{}", 50000 + stream)
            .parse()
            .expect("address"),
        server: "10.0.0.1:443".parse().expect("address"),
        session: ObservedSession::observe(&wire.0, &wire.1),
        notes: Vec::new(),
    };
    (conn, resumable)
}

fn plain(stream: u64, suite: Suite) -> ObservedSession {
    session(stream, suite, Default::default(), Default::default())
        .0
        .session
}

/// The master secret of a session, as only the endpoints know it: `session` run again with
/// the same seeds and a server key log.
fn master_of(stream: u64, suite: Suite) -> [u8; 48] {
    let dir = crate::test_support::TempDir::new("ticket-master");
    let path = dir.path("keys.log");
    let writer = Arc::new(crate::keylog::KeyLogWriter::open(&path).expect("key log"));
    let (conn, _) = session_logged(
        stream,
        suite,
        Default::default(),
        Default::default(),
        Some(writer),
    );
    let log = crate::keylog::KeyLog::load(&path).expect("key log");
    let cr = conn.session.client_random().expect("client random");
    <[u8; 48]>::try_from(log.master_secrets.get(&cr).expect("logged").as_slice()).expect("48")
}

fn ticket_for(master: [u8; 48], suite: u16, key: &TicketKey) -> Vec<u8> {
    let state = TicketState::Tls12(Tls12State {
        cipher_suite: suite,
        master_secret: zeroize::Zeroizing::new(master),
        issued: 1_700_000_000,
        extended_master_secret: true,
        encrypt_then_mac: false,
        server_name: None,
    });
    key.seal([7; 16], &state.encode())
}

fn attack(obs: &ObservedSession, keys: Vec<TicketKey>) -> Recovery {
    recover(
        obs,
        &Loot::new(None, None).with_ticket_keys(keys),
        &ResumptionCache::default(),
    )
}

/// An ECDHE session whose observation carries a ticket sealed under `key` with its own master
/// secret, as a NewSessionTicket would.
fn ecdhe_with_issued_ticket(key: &TicketKey) -> ObservedSession {
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let mut obs = plain(1, suite);
    let master = master_of(1, suite);
    obs.new_ticket = Some(ticket_for(master, suite.id, key));
    obs.new_ticket_lifetime = Some(7200);
    obs
}

#[test]
fn a_stolen_ticket_key_opens_an_ecdhe_session_through_its_ticket() {
    let key = ticket_key(1);
    let obs = ecdhe_with_issued_ticket(&key);
    let r = attack(&obs, vec![key.clone()]);
    assert_eq!(r.verdict, Verdict::Decrypted, "{}", r.reason);
    assert!(
        matches!(
            r.master.as_ref().map(|m| &m.1),
            Some(SecretSource::TicketKey {
                origin: TicketOrigin::Issued,
                key_name
            }) if *key_name == key.name()
        ),
        "{}",
        r.reason
    );
    assert!(
        r.reason.contains("opened with the stolen ticket key"),
        "{}",
        r.reason
    );
    assert_eq!(r.tickets.len(), 1);
    assert!(r.tickets[0].opened());
    assert_eq!(r.tickets[0].lifetime_hint, Some(7200));
    let (c, s) = r.into_plaintext();
    assert_eq!((c.as_slice(), s.as_slice()), (REQUEST, RESPONSE));
}

#[test]
fn without_the_ticket_key_the_ticket_stays_opaque_and_the_reason_says_so() {
    let key = ticket_key(1);
    let obs = ecdhe_with_issued_ticket(&key);
    let r = attack(&obs, vec![]);
    assert_eq!(r.verdict, Verdict::ForwardSecret);
    assert!(
        r.reason.contains(&format!(
            "its key (name {}) was not stolen",
            crate::codec::hex(&key.name())
        )),
        "{}",
        r.reason
    );
    assert!(matches!(r.tickets[0].opening, TicketOpening::NoKey));
}

#[test]
fn a_wrong_key_a_rotated_key_and_a_cut_ticket_give_clear_reasons() {
    let key = ticket_key(1);
    let obs = ecdhe_with_issued_ticket(&key);
    // Same name, other secrets: the MAC fails.
    let mut same_name = [9u8; 80];
    same_name[..16].copy_from_slice(&key.name());
    let r = attack(&obs, vec![TicketKey::from_bytes(&same_name).expect("key")]);
    assert_eq!(r.verdict, Verdict::ForwardSecret);
    assert!(r.reason.contains("HMAC does not verify"), "{}", r.reason);
    // Another name: the ticket was sealed under a key the attacker does not hold.
    let r = attack(&obs, vec![ticket_key(2)]);
    assert!(r.reason.contains("sealed under key name"), "{}", r.reason);
    // Cut at every length: a reason, never a panic.
    let ticket = obs.new_ticket.clone().expect("ticket");
    for len in 0..ticket.len() {
        let mut cut = obs.clone();
        cut.new_ticket = Some(ticket[..len].to_vec());
        let r = attack(&cut, vec![key.clone()]);
        assert_eq!(r.verdict, Verdict::ForwardSecret, "{len}");
        assert!(r.reason.contains("truncated"), "{len}: {}", r.reason);
    }
    // A flipped byte in the sealed state: the MAC catches it.
    let mut flipped = obs.clone();
    let mut t = ticket.clone();
    t[40] ^= 1;
    flipped.new_ticket = Some(t);
    assert!(attack(&flipped, vec![key.clone()]).reason.contains("HMAC"));
    // Several keys: the one whose name the ticket carries opens it, even after a wrong copy
    // under the same name.
    let wrong_copy = TicketKey::from_bytes(&same_name).expect("key");
    let r = attack(&obs, vec![ticket_key(2), wrong_copy, key]);
    assert_eq!(r.verdict, Verdict::Decrypted, "{}", r.reason);
}

#[test]
fn a_ticket_holding_another_sessions_secret_does_not_open_this_one() {
    let key = ticket_key(1);
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let mut obs = plain(1, suite);
    obs.new_ticket = Some(ticket_for([5; 48], suite.id, &key));
    let r = attack(&obs, vec![key]);
    assert_eq!(r.verdict, Verdict::NotDecrypted);
    assert!(r.reason.contains("does not open"), "{}", r.reason);
}

#[test]
fn explain_json_and_inspect_show_the_ticket_route() {
    let key = ticket_key(1);
    let obs = ecdhe_with_issued_ticket(&key);
    let r = attack(&obs, vec![key.clone()]);
    let conn = TlsConnection {
        stream: 3,
        client: "10.0.0.2:50003".parse().expect("address"),
        server: "10.0.0.1:443".parse().expect("address"),
        session: obs.clone(),
        notes: Vec::new(),
    };
    let text = crate::explain::explain(
        &conn,
        "memory.pcap",
        &r,
        crate::explain::Style { color: false },
    );
    let name = crate::codec::hex(&key.name()[..4]);
    for needle in [
        "The tickets",
        "NewSessionTicket:",
        "key name (16)",
        name.as_str(),
        "IV (16)",
        "HMAC-SHA256 (32)",
        "lifetime hint",
        "opened with the stolen ticket key",
        "state: master secret",
        "[sealed in the ticket; opened with the stolen ticket key]",
        "key block",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let report = crate::attack::analyse(
        "memory.pcap",
        3,
        "c".into(),
        "s".into(),
        &obs,
        &Loot::new(None, None).with_ticket_keys(vec![key.clone()]),
        &ResumptionCache::default(),
    );
    let json = crate::report::session_json(&report);
    assert_eq!(json["verdict"], "decrypted");
    assert_eq!(json["tickets"][0]["origin"], "issued");
    assert_eq!(json["tickets"][0]["opened"], true);
    assert_eq!(
        json["tickets"][0]["key_name"],
        crate::codec::hex(&key.name())
    );
    assert_eq!(json["tickets"][0]["lifetime_hint"], 7200);
    assert!(json["secret_source"]
        .as_str()
        .unwrap_or_default()
        .contains("stolen ticket key"));
    let lines = crate::report::inspect_table_row("memory.pcap", &conn, false);
    assert!(lines.contains("ticket: issued ticket"), "{lines}");
    assert!(lines.contains("lifetime hint 7200 s"), "{lines}");
    // Without the key, the explanation says the state stays sealed.
    let r = attack(&obs, vec![]);
    let text = crate::explain::explain(
        &conn,
        "memory.pcap",
        &r,
        crate::explain::Style { color: false },
    );
    assert!(text.contains("no ticket key was given"), "{text}");
}

#[test]
fn the_html_report_shows_the_ticket_route() {
    let key = ticket_key(1);
    let conn = TlsConnection {
        stream: 0,
        client: "10.0.0.2:50000".parse().expect("address"),
        server: "10.0.0.1:443".parse().expect("address"),
        session: ecdhe_with_issued_ticket(&key),
        notes: Vec::new(),
    };
    let page = |keys: Vec<TicketKey>| {
        let mut report = crate::html::HtmlReport::new(crate::html::ReportInputs {
            captures: vec!["memory.pcap".into()],
            key: None,
            keylog: None,
            ticket_keys: if keys.is_empty() {
                vec![]
            } else {
                vec!["stek.key".into()]
            },
            assumed_dlog: None,
        });
        report.add(0, &conn, &attack(&conn.session, keys));
        report.render()
    };
    let html = page(vec![key.clone()]);
    for needle in [
        "The stolen ticket key opened 1 session (0)",
        "Stolen session-ticket key: stek.key.",
        "data-secret=\"ticket\" data-status=\"recovered\"",
        "the session ticket carries the master secret itself",
        "opened with the stolen one: the master secret",
        "data-verdict=\"decrypted\"",
        "GET /ticket HTTP/1.0",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    let html = page(vec![]);
    assert!(html.contains("data-secret=\"ticket\" data-status=\"out of reach\""));
    assert!(html.contains("was not stolen"));
    assert!(!html.contains("GET /ticket"));
}

/// A TLS 1.3 chain in memory: a full handshake that issues a ticket under `key`, then one
/// resumption offering only `mode`.
fn tls13_resumption(
    key: &TicketKey,
    mode: crate::msgs::enums::PskKeyExchangeMode,
) -> (ObservedSession, ObservedSession) {
    let suite = suites::TLS13_AES_128_GCM_SHA256;
    let server = || ServerResumption {
        tickets: Some(Arc::new(crate::tickets::TicketKeys::new(
            key.clone(),
            vec![],
        ))),
        prefer_psk_ke: true,
        clock: crate::endpoint::session::Clock::Fixed(1_700_000_000_000),
        ..Default::default()
    };
    let client = |session| ClientResumption {
        session,
        request_tickets: true,
        psk_modes: vec![mode],
        clock: crate::endpoint::session::Clock::Fixed(1_700_000_001_000),
    };
    let (full, resumable) = session(20, suite, server(), client(None));
    assert!(
        resumable.is_some(),
        "the full handshake left nothing to resume"
    );
    let (resumed, _) = session(21, suite, server(), client(resumable));
    (full.session, resumed.session)
}

#[test]
fn tls13_psk_ke_falls_to_the_ticket_key_and_psk_dhe_ke_and_the_full_handshake_stand() {
    use crate::msgs::enums::PskKeyExchangeMode;
    let key = ticket_key(3);
    let (full, psk_ke) = tls13_resumption(&key, PskKeyExchangeMode::PskKe);
    let r = attack(&psk_ke, vec![key.clone()]);
    assert_eq!(r.psk_mode, Some(PskMode::PskKe));
    assert_eq!(r.verdict, Verdict::Decrypted, "{}", r.reason);
    assert_eq!(r.binder_verifies, Some(true));
    assert!(
        r.reason.contains("psk_ke: the PSK alone keys this session"),
        "{}",
        r.reason
    );
    let (c, s) = r.into_plaintext();
    assert_eq!((c.as_slice(), s.as_slice()), (REQUEST, RESPONSE));
    // Without the key: not forward-secret, just not opened — the reason says what would.
    let r = attack(&psk_ke, vec![]);
    assert_eq!(r.verdict, Verdict::NotDecrypted, "{}", r.reason);
    assert!(r.reason.contains("was not stolen"), "{}", r.reason);
    // A key that is not the server's: the ticket names another key.
    let r = attack(&psk_ke, vec![ticket_key(4)]);
    assert!(r.reason.contains("sealed under key name"), "{}", r.reason);
    // A ticket that opens but holds another PSK: the binder catches it.
    let mut swapped = psk_ke.clone();
    let forged = key.seal(
        [1; 16],
        &TicketState::Tls13(crate::tickets::Tls13State {
            cipher_suite: 0x1301,
            psk: zeroize::Zeroizing::new(vec![9; 32]),
            ticket_age_add: 0,
            issued_ms: 0,
        })
        .encode(),
    );
    if let Some(o) = swapped.psk.as_mut().and_then(|p| p.offered.as_mut()) {
        o.identities[0].identity = forged;
    }
    let r = attack(&swapped, vec![key.clone()]);
    assert_eq!(r.binder_verifies, Some(false));
    assert_eq!(r.verdict, Verdict::NotDecrypted, "{}", r.reason);
    assert!(r.reason.contains("binder does NOT verify"), "{}", r.reason);
    // The full handshake that issued the ticket stands, and says why.
    let r = attack(&full, vec![key.clone()]);
    assert_eq!(r.psk_mode, Some(PskMode::Full));
    assert_eq!(r.verdict, Verdict::ForwardSecret);
    assert!(
        r.reason.contains("does not open a full TLS 1.3 handshake"),
        "{}",
        r.reason
    );
    let (_, psk_dhe_ke) = tls13_resumption(&key, PskKeyExchangeMode::PskDheKe);
    let r = attack(&psk_dhe_ke, vec![key]);
    assert_eq!(r.psk_mode, Some(PskMode::PskDheKe));
    assert_eq!(r.verdict, Verdict::ForwardSecret);
    assert_eq!(r.binder_verifies, Some(true));
    assert!(r.psk.is_some());
    assert!(r.reason.contains("fresh (EC)DHE was mixed"), "{}", r.reason);
    assert!(r.into_plaintext().0.is_empty());
}
