//! TLS 1.2 resumption driven in memory (issue 16): full handshake → ticket and session ID;
//! abbreviated handshakes by ticket and by session ID; what falls back to a full handshake.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ClientResumption};
use crate::endpoint::conn::{Connection, ResumedBy};
use crate::endpoint::server::{server_connection, ServerConfig, ServerResumption, SessionCache};
use crate::endpoint::session::{ClientSession, Clock, Tls12Session};
use crate::endpoint::ServerVerification;
use crate::error::Error;
use crate::msgs::enums::AlertDescription;
use crate::suites::{self, Suite};
use crate::tickets::{TicketKey, TicketKeys};

const NOW_MS: u64 = 1_800_000_000_000;

fn identity() -> &'static (Arc<rsa::PrivateKey>, Vec<u8>) {
    crate::test_support::lab_identity()
}

fn ticket_keys(seed: u64) -> Arc<TicketKeys> {
    let key = TicketKey::generate(&mut rng::from_seed(seed, "stek"));
    Arc::new(TicketKeys::new(key, Vec::new()))
}

/// A server issuing tickets under `keys` and caching sessions in `cache`, at `now_ms`.
fn server(keys: &Arc<TicketKeys>, cache: &Arc<SessionCache>, now_ms: u64) -> Connection {
    let (key, cert) = identity();
    let config = Arc::new(ServerConfig {
        key: key.clone(),
        cert_chain: vec![cert.clone()],
        suites: vec![
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
        ],
        keylog: None,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: ServerResumption {
            tickets: Some(keys.clone()),
            session_cache: Some(cache.clone()),
            clock: Clock::Fixed(now_ms),
            ..Default::default()
        },
        fast_key: Default::default(),
    });
    // A fresh seed per connection: equal seeds would make equal session IDs.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let seed = NEXT.fetch_add(1, Ordering::Relaxed);
    server_connection(config, rng::from_seed(seed, "server")).expect("server")
}

fn client(suite: Suite, session: Option<ClientSession>, offer_ems: bool) -> Connection {
    let config = Arc::new(ClientConfig {
        suites: vec![suite],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(identity().1.clone()),
        offer_ems,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: ClientResumption {
            session,
            request_tickets: true,
            clock: Clock::Fixed(NOW_MS),
            ..Default::default()
        },
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    client_connection(config, rng::from_seed(3, "client")).expect("client")
}

/// Moves bytes both ways until both sides are quiet; the first error either side hits.
fn transfer(c: &mut Connection, s: &mut Connection) -> Result<(), Error> {
    for _ in 0..20 {
        let (to_server, to_client) = (c.take_output(), s.take_output());
        if to_server.is_empty() && to_client.is_empty() {
            return Ok(());
        }
        s.read_tls(&to_server)?;
        c.read_tls(&to_client)?;
    }
    panic!("the exchange did not settle");
}

/// Application data goes both ways.
fn exchange(c: &mut Connection, s: &mut Connection) {
    c.send(b"ping").expect("client sends");
    transfer(c, s).expect("transfer");
    assert_eq!(s.take_received(), b"ping");
    s.send(b"pong").expect("server sends");
    transfer(c, s).expect("transfer");
    assert_eq!(c.take_received(), b"pong");
}

fn tls12(session: &ClientSession) -> Tls12Session {
    match session {
        ClientSession::Tls12(s) => s.clone(),
        other => panic!("not a TLS 1.2 session: {other:?}"),
    }
}

/// A full handshake; returns the session the client may resume.
fn first(
    keys: &Arc<TicketKeys>,
    cache: &Arc<SessionCache>,
    suite: Suite,
    ems: bool,
) -> Tls12Session {
    let (mut c, mut s) = (client(suite, None, ems), server(keys, cache, NOW_MS));
    transfer(&mut c, &mut s).expect("full handshake");
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(s.summary().resumed, None);
    assert_eq!(s.summary().tickets_issued, 1);
    assert_eq!(cache.len(), 1);
    let session = tls12(c.resumable_session().expect("resumable"));
    assert_eq!(session.session_id.len(), 32);
    assert!(session.ticket.is_some());
    assert_eq!(session.lifetime_hint, 7200);
    assert_eq!(session.state.extended_master_secret, ems);
    session
}

/// Connects with `session` at `now_ms`; returns how each side says it resumed.
fn again(
    keys: &Arc<TicketKeys>,
    cache: &Arc<SessionCache>,
    suite: Suite,
    session: Tls12Session,
    now_ms: u64,
) -> (Option<ResumedBy>, Option<ResumedBy>) {
    let mut c = client(suite, Some(ClientSession::Tls12(session)), true);
    let mut s = server(keys, cache, now_ms);
    transfer(&mut c, &mut s).expect("second handshake");
    assert!(!c.is_handshaking() && !s.is_handshaking());
    exchange(&mut c, &mut s);
    assert!(c.resumable_session().is_some());
    (c.summary().resumed, s.summary().resumed)
}

#[test]
fn resumes_by_ticket_then_by_session_id() {
    let (keys, cache) = (ticket_keys(1), Arc::new(SessionCache::default()));
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, true);
    let by_ticket = again(&keys, &cache, suite, session.clone(), NOW_MS);
    assert_eq!(
        by_ticket,
        (Some(ResumedBy::Ticket), Some(ResumedBy::Ticket))
    );
    let without_ticket = Tls12Session {
        ticket: None,
        ..session
    };
    let by_id = again(&keys, &cache, suite, without_ticket, NOW_MS);
    assert_eq!(
        by_id,
        (Some(ResumedBy::SessionId), Some(ResumedBy::SessionId))
    );
}

#[test]
fn rsa_key_exchange_session_resumes_too() {
    let (keys, cache) = (ticket_keys(2), Arc::new(SessionCache::default()));
    let suite = suites::TLS_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, true);
    let r = again(&keys, &cache, suite, session, NOW_MS);
    assert_eq!(r.1, Some(ResumedBy::Ticket));
}

#[test]
fn unusable_tickets_fall_back_to_a_full_handshake() {
    let (keys, cache) = (ticket_keys(3), Arc::new(SessionCache::default()));
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, true);
    let empty = Arc::new(SessionCache::default());
    // A flipped ticket byte (bad MAC).
    let mut tampered = session.clone();
    if let Some(t) = tampered.ticket.as_mut() {
        t[40] ^= 1;
    }
    assert_eq!(again(&keys, &empty, suite, tampered, NOW_MS), (None, None));
    // Another server's key (unknown key name).
    assert_eq!(
        again(&ticket_keys(4), &empty, suite, session.clone(), NOW_MS),
        (None, None)
    );
    // Past the lifetime (7200 s).
    let late = NOW_MS + 7201 * 1000;
    assert_eq!(
        again(&keys, &empty, suite, session.clone(), late),
        (None, None)
    );
    // A truncated ticket.
    let mut short = session;
    short.ticket = short.ticket.map(|t| t[..20].to_vec());
    assert_eq!(again(&keys, &empty, suite, short, NOW_MS), (None, None));
}

#[test]
fn a_non_ems_session_is_not_resumed_by_an_ems_hello_rfc7627_5_3() {
    let (keys, cache) = (ticket_keys(5), Arc::new(SessionCache::default()));
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, false);
    assert_eq!(again(&keys, &cache, suite, session, NOW_MS), (None, None));
}

#[test]
fn an_ems_session_offered_without_ems_is_handshake_failure_rfc7627_5_3() {
    let (keys, cache) = (ticket_keys(6), Arc::new(SessionCache::default()));
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, true);
    let mut c = client(suite, Some(ClientSession::Tls12(session)), false);
    let mut s = server(&keys, &cache, NOW_MS);
    let err = transfer(&mut c, &mut s).expect_err("the server must abort");
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
}

#[test]
fn a_server_resuming_with_another_suite_is_illegal_parameter() {
    // The client saved a session under RSA key exchange but claims it was ECDHE: the server
    // resumes the RSA session it knows, and the client sees a suite that does not match.
    let (keys, cache) = (ticket_keys(7), Arc::new(SessionCache::default()));
    let rsa = suites::TLS_RSA_WITH_AES_128_GCM_SHA256;
    let ecdhe = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let mut session = first(&keys, &cache, rsa, true);
    session.state.cipher_suite = ecdhe.id;
    let config = Arc::new(ClientConfig {
        suites: vec![ecdhe, rsa],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(identity().1.clone()),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: ClientResumption {
            session: Some(ClientSession::Tls12(session)),
            ..Default::default()
        },
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let mut c = client_connection(config, rng::from_seed(4, "client")).expect("client");
    let mut s = server(&keys, &cache, NOW_MS);
    let err = transfer(&mut c, &mut s).expect_err("the client must refuse");
    assert_eq!(
        err.alert(),
        Some(AlertDescription::IllegalParameter),
        "{err}"
    );
}

#[test]
fn a_session_for_another_server_name_is_not_resumed_rfc6066_3() {
    let (keys, cache) = (ticket_keys(8), Arc::new(SessionCache::default()));
    let suite = suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256;
    let session = first(&keys, &cache, suite, true);
    for ticket in [session.ticket.clone(), None] {
        let config = Arc::new(ClientConfig {
            suites: vec![suite],
            server_name: "other.example".into(),
            verification: ServerVerification::Insecure,
            offer_ems: true,
            offer_etm: true,
            keylog: None,
            dh_min_bits: 2048,
            resumption: ClientResumption {
                session: Some(ClientSession::Tls12(Tls12Session {
                    ticket,
                    ..session.clone()
                })),
                ..Default::default()
            },
            tls13_group: Default::default(),
            ephemeral_log: None,
        });
        let mut c = client_connection(config, rng::from_seed(5, "client")).expect("client");
        let mut s = server(&keys, &cache, NOW_MS);
        transfer(&mut c, &mut s).expect("full handshake");
        assert!(!c.is_handshaking());
        assert_eq!((c.summary().resumed, s.summary().resumed), (None, None));
    }
}
