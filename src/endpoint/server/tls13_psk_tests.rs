//! TLS 1.3 resumption driven in memory: a full handshake that issues a ticket, resumptions in
//! both modes, and ClientHellos crafted where a client would never send them (RFC 8446
//! §4.2.9–§4.2.11, §4.4.1).

use std::sync::Arc;

use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use crate::endpoint::conn::{Connection, ResumedBy, Transcript};
use crate::endpoint::server::{server_connection, ServerConfig, ServerResumption};
use crate::endpoint::session::{ClientSession, Clock, Tls13Session};
use crate::msgs::enums::{
    AlertDescription, ContentType, ExtensionType, HandshakeType, NamedGroup, PskKeyExchangeMode,
};
use crate::msgs::handshake::{ClientHello, Extension, ServerHello};
use crate::msgs::handshake13::{
    client_hello_without_binders, message_hash, KeyShareEntry, OfferedPsks, PskIdentity,
};
use crate::msgs::record::{encode_record, HandshakeMessage};
use crate::suites;
use crate::tickets::{TicketKey, TicketKeys};
use crate::tls13::key_schedule::EarlySecret;

const NOW_MS: u64 = 1_800_000_000_000;

fn identity() -> &'static (Arc<rsa::PrivateKey>, Vec<u8>) {
    crate::test_support::lab_identity()
}

fn ticket_keys() -> Arc<TicketKeys> {
    Arc::new(TicketKeys::new(
        TicketKey::generate(&mut rng::from_seed(5, "stek")),
        Vec::new(),
    ))
}

fn server_with(prefer_psk_ke: bool, now_ms: u64) -> Connection {
    let (key, cert) = identity();
    let config = Arc::new(ServerConfig {
        key: key.clone(),
        cert_chain: vec![cert.clone()],
        suites: vec![suites::TLS13_AES_128_GCM_SHA256],
        keylog: None,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: ServerResumption {
            tickets: Some(ticket_keys()),
            prefer_psk_ke,
            clock: Clock::Fixed(now_ms),
            ..Default::default()
        },
        fast_key: Default::default(),
    });
    server_connection(config, rng::from_seed(1, "server")).expect("server")
}

fn server() -> Connection {
    server_with(false, NOW_MS)
}

fn client(session: Option<ClientSession>, modes: &[PskKeyExchangeMode]) -> Connection {
    client_with(session, modes, true)
}

fn client_with(
    session: Option<ClientSession>,
    modes: &[PskKeyExchangeMode],
    request_tickets: bool,
) -> Connection {
    let mut config = ClientConfig {
        suites: vec![suites::TLS13_AES_128_GCM_SHA256],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(identity().1.clone()),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    };
    config.resumption.session = session;
    config.resumption.psk_modes = modes.to_vec();
    config.resumption.clock = Clock::Fixed(NOW_MS + 1500);
    config.resumption.request_tickets = request_tickets;
    client_connection(Arc::new(config), rng::from_seed(2, "client")).expect("client")
}

fn transfer(c: &mut Connection, s: &mut Connection) {
    for _ in 0..20 {
        let (to_server, to_client) = (c.take_output(), s.take_output());
        if to_server.is_empty() && to_client.is_empty() {
            return;
        }
        s.read_tls(&to_server).expect("server reads");
        c.read_tls(&to_client).expect("client reads");
    }
    panic!("the exchange did not settle");
}

/// A full handshake; the session its ticket stands for.
fn first_session() -> Tls13Session {
    let (mut c, mut s) = (client(None, &[PskKeyExchangeMode::PskDheKe]), server());
    transfer(&mut c, &mut s);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(s.summary().tickets_issued, 1);
    assert_eq!(c.summary().tickets_issued, 1);
    assert_eq!(s.summary().resumed, None);
    match c.resumable_session() {
        Some(ClientSession::Tls13(t)) => t.clone(),
        other => panic!("no TLS 1.3 session after the full handshake: {other:?}"),
    }
}

fn resume(
    session: &Tls13Session,
    modes: &[PskKeyExchangeMode],
    s: &mut Connection,
) -> Option<ResumedBy> {
    let mut c = client(Some(ClientSession::Tls13(session.clone())), modes);
    transfer(&mut c, s);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(c.summary().resumed, s.summary().resumed);
    // Application data flows both ways under the resumed keys.
    c.send(b"ping").expect("client sends");
    s.read_tls(&c.take_output()).expect("server reads");
    assert_eq!(s.take_received(), b"ping");
    s.summary().resumed
}

/// The ClientHello record a client with `session` sends, as a message.
fn client_hello_of(session: &Tls13Session) -> ClientHello {
    let mut c = client(
        Some(ClientSession::Tls13(session.clone())),
        &[PskKeyExchangeMode::PskDheKe],
    );
    let out = c.take_output();
    ClientHello::read(&out[9..]).expect("our ClientHello")
}

/// The alert the server answers `bytes` with.
fn server_alert(s: &mut Connection, bytes: &[u8]) -> AlertDescription {
    let err = s.read_tls(bytes).expect_err("the server must refuse this");
    err.alert().unwrap_or_else(|| panic!("no alert for {err}"))
}

fn record(hello: &HandshakeMessage) -> Vec<u8> {
    encode_record(ContentType::Handshake, 0x0301, &hello.encoded)
}

/// Re-encodes `hello` with the binder of `session`'s PSK over `before` ‖ the truncated hello.
fn bind(mut hello: ClientHello, session: &Tls13Session, before: &Transcript) -> HandshakeMessage {
    let offer = OfferedPsks {
        identities: vec![PskIdentity {
            identity: session.ticket.clone(),
            obfuscated_ticket_age: session.state.ticket_age_add,
        }],
        binders: vec![vec![0; 32]],
    };
    hello
        .extensions
        .retain(|e| e.typ != ExtensionType::PreSharedKey);
    hello
        .extensions
        .push(Extension::pre_shared_key_client(&offer));
    let partial = hello.encode();
    let mut input = before.bytes().to_vec();
    input.extend_from_slice(client_hello_without_binders(&partial.encoded).unwrap());
    let hash = crate::crypto::HashAlg::Sha256;
    let binder = EarlySecret::with_psk(hash, &session.state.psk)
        .resumption_binder_key()
        .binder(&hash.digest(&input));
    let offer = OfferedPsks {
        binders: vec![binder],
        ..offer
    };
    hello.extensions.pop();
    hello
        .extensions
        .push(Extension::pre_shared_key_client(&offer));
    hello.encode()
}

/// The first handshake message in the server's plaintext output.
fn first_server_message(out: &[u8]) -> HandshakeMessage {
    assert_eq!(out[0], ContentType::Handshake.to_wire(), "{out:02x?}");
    let len = u16::from_be_bytes([out[3], out[4]]) as usize;
    let body = &out[9..5 + len];
    HandshakeMessage::new(HandshakeType::ServerHello, body)
}

#[test]
fn resumes_in_both_modes_and_issues_a_ticket_each_time() {
    use PskKeyExchangeMode::{PskDheKe, PskKe};
    let session = first_session();
    assert_eq!(session.lifetime, 7200);
    let mut s = server();
    assert_eq!(
        resume(&session, &[PskDheKe], &mut s),
        Some(ResumedBy::Psk(PskDheKe))
    );
    assert_eq!(s.summary().tickets_issued, 1);
    let mut s = server();
    assert_eq!(
        resume(&session, &[PskKe], &mut s),
        Some(ResumedBy::Psk(PskKe))
    );
    // Both offered: psk_dhe_ke unless the server prefers psk_ke (RFC 8446 §4.2.9).
    let mut s = server();
    assert_eq!(
        resume(&session, &[PskKe, PskDheKe], &mut s),
        Some(ResumedBy::Psk(PskDheKe))
    );
    let mut s = server_with(true, NOW_MS);
    assert_eq!(
        resume(&session, &[PskKe, PskDheKe], &mut s),
        Some(ResumedBy::Psk(PskKe))
    );
}

#[test]
fn a_tampered_or_expired_ticket_gets_a_full_handshake() {
    let session = first_session();
    let mut tampered = session.clone();
    let last = tampered.ticket.len() - 1;
    tampered.ticket[last] ^= 1;
    let mut s = server();
    assert_eq!(
        resume(&tampered, &[PskKeyExchangeMode::PskDheKe], &mut s),
        None
    );
    // RFC 8446 §4.6.1: past its lifetime (7200 s) the ticket is not used.
    let mut s = server_with(false, NOW_MS + 7_201_000);
    assert_eq!(
        resume(&session, &[PskKeyExchangeMode::PskDheKe], &mut s),
        None
    );
}

#[test]
fn a_wrong_binder_is_decrypt_error_rfc8446_4_2_11() {
    let session = first_session();
    let mut c = client(
        Some(ClientSession::Tls13(session)),
        &[PskKeyExchangeMode::PskDheKe],
    );
    let mut out = c.take_output();
    let last = out.len() - 1;
    out[last] ^= 0x80;
    assert_eq!(
        server_alert(&mut server(), &out),
        AlertDescription::DecryptError
    );
}

#[test]
fn pre_shared_key_not_last_is_illegal_parameter_rfc8446_4_2_11() {
    let mut hello = client_hello_of(&first_session());
    let n = hello.extensions.len();
    hello.extensions.swap(n - 2, n - 1);
    let alert = server_alert(&mut server(), &record(&hello.encode()));
    assert_eq!(alert, AlertDescription::IllegalParameter);
}

#[test]
fn pre_shared_key_without_modes_is_missing_extension_rfc8446_4_2_9() {
    let session = first_session();
    let mut hello = client_hello_of(&session);
    hello
        .extensions
        .retain(|e| e.typ != ExtensionType::PskKeyExchangeModes);
    let msg = bind(hello, &session, &Transcript::default());
    let alert = server_alert(&mut server(), &record(&msg));
    assert_eq!(alert, AlertDescription::MissingExtension);
}

/// RFC 8446 §4.4.1: after a HelloRetryRequest the second ClientHello's binder covers
/// message_hash(ClientHello1) ‖ HelloRetryRequest ‖ its own truncated self.
#[test]
fn a_psk_survives_a_hello_retry_request_rfc8446_4_4_1() {
    let session = first_session();
    let mut hello = client_hello_of(&session);
    let p256_share = |h: &ClientHello| {
        h.extension(ExtensionType::KeyShare)
            .unwrap()
            .parse_key_share_client()
            .unwrap()
    };
    assert_eq!(p256_share(&hello)[0].group, NamedGroup::Secp256r1.to_wire());
    // ClientHello1 guesses x25519 only (the server speaks secp256r1).
    for e in hello.extensions.iter_mut() {
        if e.typ == ExtensionType::KeyShare {
            *e = Extension::key_share_client(&[KeyShareEntry {
                group: NamedGroup::X25519.to_wire(),
                key_exchange: vec![9; 32],
            }]);
        }
        if e.typ == ExtensionType::SupportedGroups {
            *e = Extension::u16_list(
                ExtensionType::SupportedGroups,
                &[
                    NamedGroup::X25519.to_wire(),
                    NamedGroup::Secp256r1.to_wire(),
                ],
            );
        }
    }
    let ch1 = bind(hello.clone(), &session, &Transcript::default());
    let mut s = server();
    s.read_tls(&record(&ch1)).expect("HelloRetryRequest");
    let hrr = first_server_message(&s.take_output());
    let hrr_body = ServerHello::read(hrr.body()).unwrap();
    assert_eq!(
        hrr_body.random,
        crate::msgs::handshake13::HELLO_RETRY_REQUEST_RANDOM
    );

    // ClientHello2: a secp256r1 share, the binder over the new transcript.
    let share = EphemeralKey::generate(&mut rng::from_seed(4, "share"));
    for e in hello.extensions.iter_mut() {
        if e.typ == ExtensionType::KeyShare {
            *e = Extension::key_share_client(&[KeyShareEntry {
                group: NamedGroup::Secp256r1.to_wire(),
                key_exchange: share.public_sec1(),
            }]);
        }
    }
    let mut before = Transcript::default();
    before.add(&message_hash(
        &crate::crypto::HashAlg::Sha256.digest(&ch1.encoded),
    ));
    before.add(&hrr);
    // A binder over ClientHello2 alone (no message_hash) is refused …
    let unbound = bind(hello.clone(), &session, &Transcript::default());
    let mut s2 = server();
    s2.read_tls(&record(&ch1)).expect("HelloRetryRequest");
    s2.take_output();
    assert_eq!(
        server_alert(&mut s2, &record(&unbound)),
        AlertDescription::DecryptError
    );
    // … the one over the whole transcript resumes.
    let ch2 = bind(hello, &session, &before);
    s.read_tls(&record(&ch2)).expect("ServerHello");
    let sh = ServerHello::read(first_server_message(&s.take_output()).body()).unwrap();
    assert_eq!(
        sh.extension(ExtensionType::PreSharedKey)
            .unwrap()
            .parse_pre_shared_key_server()
            .unwrap(),
        0
    );
    assert!(sh.extension(ExtensionType::KeyShare).is_some());
    assert_eq!(
        s.summary().resumed,
        Some(ResumedBy::Psk(PskKeyExchangeMode::PskDheKe))
    );
}

/// The client: one PSK was offered, so a ServerHello selecting identity 1 is illegal_parameter
/// (RFC 8446 §4.2.11).
#[test]
fn the_client_refuses_a_selected_identity_it_did_not_offer() {
    let session = first_session();
    let mut c = client(
        Some(ClientSession::Tls13(session)),
        &[PskKeyExchangeMode::PskDheKe],
    );
    let mut s = server();
    s.read_tls(&c.take_output()).expect("server answers");
    let mut out = s.take_output();
    let psk_ext = [0x00, 0x29, 0x00, 0x02, 0x00, 0x00];
    let at = out
        .windows(psk_ext.len())
        .position(|w| w == psk_ext)
        .expect("pre_shared_key in the ServerHello");
    out[at + 5] = 1;
    let err = c
        .read_tls(&out)
        .expect_err("the client must refuse identity 1");
    assert_eq!(err.alert(), Some(AlertDescription::IllegalParameter));
}
