//! TLS 1.3 key-share groups end to end in memory: P-256, X25519 and X25519MLKEM768 on both
//! sides, the server's preference, HelloRetryRequest between every pair (RFC 8446 §4.1.4), and
//! the illegal_parameter alerts for bad shares (RFC 8446 §4.2.8, draft-ietf-tls-ecdhe-mlkem §3).

use std::sync::Arc;

use crate::crypto::kx::{KxGroup, HYBRID_CLIENT_SHARE_LEN, MLKEM768_CT_LEN};
use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use crate::endpoint::conn::Connection;
use crate::endpoint::server::{server_connection, Ephemerals, ServerConfig};
use crate::msgs::enums::{AlertDescription, ContentType, ExtensionType};
use crate::msgs::handshake::{ClientHello, Extension, ServerHello};
use crate::msgs::handshake13::{KeyShareEntry, HELLO_RETRY_REQUEST_RANDOM};
use crate::msgs::record::encode_record;
use crate::pki;
use crate::standin::{DlogGroup, EphemeralMemory};
use crate::suites;

fn server(groups: &[KxGroup]) -> Connection {
    let (key, cert) = crate::test_support::lab_identity();
    let config = Arc::new(ServerConfig {
        key: key.clone(),
        cert_chain: vec![cert.clone()],
        suites: vec![suites::TLS13_AES_128_GCM_SHA256],
        keylog: None,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Ephemerals::default().with_groups(groups),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    server_connection(config, rng::from_seed(1, "kx server")).expect("server")
}

fn client(group: KxGroup, log: Arc<EphemeralMemory>) -> Connection {
    let config = Arc::new(ClientConfig {
        suites: vec![suites::TLS13_AES_128_GCM_SHA256],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(
            crate::test_support::lab_identity().1.clone(),
        ),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: group,
        ephemeral_log: Some(log),
    });
    client_connection(config, rng::from_seed(2, "kx client")).expect("client")
}

/// Moves bytes both ways until both sides are quiet; returns the server's first flight.
fn transfer(c: &mut Connection, s: &mut Connection) -> Vec<u8> {
    let mut first = None;
    for _ in 0..20 {
        let (to_server, to_client) = (c.take_output(), s.take_output());
        if to_server.is_empty() && to_client.is_empty() {
            return first.unwrap_or_default();
        }
        if first.is_none() && !to_client.is_empty() {
            first = Some(to_client.clone());
        }
        s.read_tls(&to_server).expect("server reads");
        c.read_tls(&to_client).expect("client reads");
    }
    panic!("the exchange did not settle");
}

/// The ServerHello at the start of a server flight (record and handshake headers skipped).
fn server_hello(flight: &[u8]) -> ServerHello {
    let len = u16::from_be_bytes([flight[3], flight[4]]) as usize;
    ServerHello::read(&flight[9..5 + len]).expect("a ServerHello")
}

fn key_share_group(sh: &ServerHello) -> u16 {
    let ext = sh.extension(ExtensionType::KeyShare).expect("key_share");
    u16::from_be_bytes([ext.data[0], ext.data[1]])
}

#[test]
fn every_client_group_meets_every_server_group_with_a_retry_when_they_differ() {
    for client_group in KxGroup::PREFERENCE {
        for server_group in KxGroup::PREFERENCE {
            // The default P-256 hello lists P-256 alone (unchanged); see the next test.
            if client_group == KxGroup::P256 && server_group != KxGroup::P256 {
                continue;
            }
            let log = Arc::new(EphemeralMemory::default());
            let (mut c, mut s) = (client(client_group, log.clone()), server(&[server_group]));
            let first = transfer(&mut c, &mut s);
            let case = format!("client {client_group:?}, server {server_group:?}");
            assert!(!c.is_handshaking() && !s.is_handshaking(), "{case}");
            assert_eq!(c.summary().key_share_group, Some(server_group), "{case}");
            assert_eq!(s.summary().key_share_group, Some(server_group), "{case}");
            let hello = server_hello(&first);
            let retried = hello.random == HELLO_RETRY_REQUEST_RANDOM;
            assert_eq!(retried, client_group != server_group, "{case}");
            assert_eq!(key_share_group(&hello), server_group.codepoint(), "{case}");
            // Both key shares reach the stand-in, the second in the group asked for.
            let keys = log.snapshot();
            assert_eq!(keys.len(), if retried { 2 } else { 1 }, "{case}");
            assert_eq!(
                keys.last().map(|k| k.group),
                Some(server_group.dlog_group())
            );
            c.send(b"ping").unwrap();
            s.send(b"pong").unwrap();
            transfer(&mut c, &mut s);
            assert_eq!(s.take_received(), b"ping", "{case}");
            assert_eq!(c.take_received(), b"pong", "{case}");
        }
    }
}

#[test]
fn the_default_p256_hello_lists_p256_alone_so_a_server_without_it_refuses() {
    for server_group in [KxGroup::X25519, KxGroup::X25519MlKem768] {
        let log = Arc::new(EphemeralMemory::default());
        let (mut c, mut s) = (client(KxGroup::P256, log), server(&[server_group]));
        let err = s.read_tls(&c.take_output()).expect_err("no common group");
        assert_eq!(
            err.alert(),
            Some(AlertDescription::HandshakeFailure),
            "{err}"
        );
    }
}

#[test]
fn the_server_prefers_the_hybrid_then_x25519_among_the_shares_sent() {
    let mut r = rng::from_seed(5, "shares");
    let shares: Vec<_> = KxGroup::PREFERENCE
        .into_iter()
        .map(|g| crate::crypto::kx::ClientShare::generate(g, &mut r))
        .collect();
    let entry = |i: usize| KeyShareEntry {
        group: shares[i].group().codepoint(),
        key_exchange: shares[i].public(),
    };
    // (shares sent, in this order) → the group the server must take.
    for (sent, want) in [
        (vec![2, 1, 0], KxGroup::X25519MlKem768),
        (vec![2, 1], KxGroup::X25519),
        (vec![2], KxGroup::P256),
    ] {
        let mut s = server(&KxGroup::PREFERENCE);
        let entries: Vec<_> = sent.iter().map(|i| entry(*i)).collect();
        s.read_tls(&hello(&entries)).expect("server reads");
        let sh = server_hello(&s.take_output());
        assert_ne!(sh.random, HELLO_RETRY_REQUEST_RANDOM);
        assert_eq!(key_share_group(&sh), want.codepoint(), "sent {sent:?}");
    }
}

/// A TLS 1.3 ClientHello listing all three groups with these key shares.
fn hello(shares: &[KeyShareEntry]) -> Vec<u8> {
    let groups: Vec<u16> = KxGroup::PREFERENCE.iter().map(|g| g.codepoint()).collect();
    let hello = ClientHello {
        client_version: 0x0303,
        random: [9; 32],
        session_id: vec![1; 32],
        cipher_suites: vec![0x1301],
        compression_methods: vec![0],
        extensions: vec![
            Extension::supported_versions_client(&[0x0304]),
            Extension::u16_list(ExtensionType::SupportedGroups, &groups),
            Extension::u16_list(ExtensionType::SignatureAlgorithms, pki::PSS_SCHEMES),
            Extension::key_share_client(shares),
        ],
    };
    encode_record(ContentType::Handshake, 0x0301, &hello.encode().encoded)
}

fn server_alert(shares: &[KeyShareEntry]) -> AlertDescription {
    let mut s = server(&KxGroup::PREFERENCE);
    let err = s
        .read_tls(&hello(shares))
        .expect_err("the server must refuse");
    err.alert().unwrap_or_else(|| panic!("no alert for {err}"))
}

#[test]
fn bad_client_shares_are_illegal_parameter() {
    let mut r = rng::from_seed(6, "shares");
    let hybrid = crate::crypto::kx::ClientShare::generate(KxGroup::X25519MlKem768, &mut r);
    let mut short = hybrid.public();
    short.pop();
    let mut bad_ek = hybrid.public();
    bad_ek[0] = 0xff;
    bad_ek[1] |= 0x0f;
    let mut zero_x25519 = hybrid.public();
    zero_x25519[HYBRID_CLIENT_SHARE_LEN - 32..].fill(0);
    for (what, group, key_exchange) in [
        ("hybrid share 1 byte short", KxGroup::X25519MlKem768, short),
        (
            "ek failing the modulus check",
            KxGroup::X25519MlKem768,
            bad_ek,
        ),
        (
            "hybrid with X25519 u = 0",
            KxGroup::X25519MlKem768,
            zero_x25519,
        ),
        ("X25519 u = 0", KxGroup::X25519, vec![0; 32]),
        ("X25519 of 33 bytes", KxGroup::X25519, vec![9; 33]),
    ] {
        let entry = KeyShareEntry {
            group: group.codepoint(),
            key_exchange,
        };
        assert_eq!(
            server_alert(&[entry]),
            AlertDescription::IllegalParameter,
            "{what}"
        );
    }
}

#[test]
fn a_server_share_with_a_zero_x25519_half_is_illegal_parameter_at_the_client() {
    let log = Arc::new(EphemeralMemory::default());
    let (mut c, mut s) = (
        client(KxGroup::X25519MlKem768, log.clone()),
        server(&KxGroup::PREFERENCE),
    );
    s.read_tls(&c.take_output()).unwrap();
    let flight = s.take_output();
    let len = u16::from_be_bytes([flight[3], flight[4]]) as usize;
    let mut sh = server_hello(&flight);
    for ext in sh.extensions.iter_mut() {
        if ext.typ == ExtensionType::KeyShare {
            assert_eq!(ext.data.len(), 4 + MLKEM768_CT_LEN + 32);
            let n = ext.data.len();
            ext.data[n - 32..].fill(0);
        }
    }
    let mut tampered = encode_record(ContentType::Handshake, 0x0303, &sh.encode().encoded);
    tampered.extend_from_slice(&flight[5 + len..]);
    let err = c.read_tls(&tampered).expect_err("the client must refuse");
    assert_eq!(
        err.alert(),
        Some(AlertDescription::IllegalParameter),
        "{err}"
    );
    // Only the classical half was logged, with the X25519 public value of the client share.
    let keys = log.snapshot();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].group, DlogGroup::X25519MlKem768);
    assert_eq!(keys[0].public.len(), 32);
    assert_eq!(keys[0].private.len(), 32);
}
