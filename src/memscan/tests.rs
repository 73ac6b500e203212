//! Each confirmation path on in-memory images: a secret planted in random noise (the worst case
//! for the shape filter: every noise window is a candidate) among sessions driven in memory by
//! the lab's own endpoints; and noise alone, which must give nothing.

use std::sync::Arc;

use rand::Rng;

use crate::attack::observe::ObservedSession;
use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use crate::endpoint::server::{server_connection, Ephemerals, KeyLifetime, ServerConfig};
use crate::html::tests::{identity, transfer};
use crate::keylog::{KeyLog, KeyLogWriter, SecretKind};
use crate::memscan::{
    scan, FoundKind, MemoryImage, Progress, Region, ScalarEncoding, ScanOptions, ScanReport,
    TargetSession,
};
use crate::suites::{self, Suite};
use crate::tickets::{TicketKey, TicketState, Tls12State};

/// Sessions against one server (reusing its ECDHE key), with the server's key log.
fn sessions(suites_run: &[Suite]) -> (Vec<TargetSession>, Arc<ServerConfig>, KeyLog) {
    let dir = crate::test_support::TempDir::new("memscan");
    let path = dir.path("server.keys");
    let id = identity();
    let server = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: vec![id.cert.clone()],
        suites: vec![
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS13_AES_128_GCM_SHA256,
        ],
        keylog: Some(Arc::new(KeyLogWriter::open(&path).expect("key log"))),
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Ephemerals::new(KeyLifetime::Forever),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    let mut targets = Vec::new();
    for (i, suite) in suites_run.iter().enumerate() {
        let client = Arc::new(ClientConfig {
            suites: vec![*suite],
            server_name: "localhost".into(),
            verification: ServerVerification::TrustAnchor(id.cert.clone()),
            offer_ems: true,
            offer_etm: true,
            keylog: None,
            dh_min_bits: 2048,
            resumption: Default::default(),
            tls13_group: Default::default(),
            ephemeral_log: None,
        });
        let seed = i as u64 + 1;
        let mut c = client_connection(client, rng::from_seed(seed, "mc")).expect("client");
        let mut s = server_connection(server.clone(), rng::from_seed(seed, "ms")).expect("server");
        let mut wire = (Vec::new(), Vec::new());
        transfer(&mut c, &mut s, &mut wire);
        c.send(b"GET /memscan HTTP/1.0\r\n\r\n").expect("request");
        transfer(&mut c, &mut s, &mut wire);
        s.send(b"HTTP/1.0 200 ok\r\n\r\nbalance").expect("response");
        s.send_close_notify();
        transfer(&mut c, &mut s, &mut wire);
        targets.push(TargetSession {
            label: format!("session {i}"),
            obs: ObservedSession::observe(&wire.0, &wire.1),
        });
    }
    let log = KeyLog::load(&path).expect("key log");
    (targets, server, log)
}

/// 32 KiB of random noise with `planted` written at `at` (8-aligned).
fn noise_with(planted: &[u8], at: usize) -> MemoryImage {
    let mut data = vec![0u8; 32 * 1024];
    rng::from_seed(99, "noise").fill_bytes(&mut data);
    data[at..at + planted.len()].copy_from_slice(planted);
    MemoryImage {
        source: "test image".into(),
        regions: vec![Region {
            start: 0x10_0000,
            end: 0x10_8000,
            name: "[heap]".into(),
            data,
        }],
        unreadable: Vec::new(),
    }
}

fn run(image: &MemoryImage, targets: &[TargetSession]) -> ScanReport {
    scan(
        image,
        targets,
        &ScanOptions::default(),
        &Progress::default(),
    )
}

fn cr(t: &TargetSession) -> [u8; 32] {
    t.obs.client_random().expect("client random")
}

#[test]
fn a_planted_scalar_in_little_endian_limbs_opens_tls12_and_tls13_sessions() {
    let (targets, server, log) = sessions(&[
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        suites::TLS13_AES_128_GCM_SHA256,
    ]);
    let key = server.ephemerals.held_ecdhe().expect("a reused key");
    let mut le = key.scalar_be();
    le.reverse();
    let r = run(&noise_with(&le, 4096), &targets);
    assert_eq!(
        r.found.len(),
        1,
        "{:?}",
        r.found.iter().map(|f| f.kind.name()).collect::<Vec<_>>()
    );
    let f = &r.found[0];
    assert!(matches!(
        f.kind,
        FoundKind::EcdheScalar {
            encoding: ScalarEncoding::LittleEndianLimbs,
            ..
        }
    ));
    assert_eq!(f.places.len(), 1);
    assert_eq!(f.places[0].address, 0x10_0000 + 4096);
    assert_eq!(f.sessions, vec![0, 1]);
    // The key-log lines are the server's own.
    let master = r
        .keys
        .iter()
        .find(|k| k.session == 0)
        .expect("session 0 keys");
    assert_eq!(
        master.lines[0].2.as_slice(),
        log.master_secrets
            .get(&cr(&targets[0]))
            .expect("logged")
            .as_slice()
    );
    let tls13 = r
        .keys
        .iter()
        .find(|k| k.session == 1)
        .expect("session 1 keys");
    for (kind, c, secret) in &tls13.lines {
        assert_eq!(
            Some(secret.as_slice()),
            log.tls13_secret(*kind, c),
            "{kind}"
        );
    }
    assert_eq!(tls13.lines.len(), 4);
    // The same scalar big-endian is found too, and says so.
    let r = run(&noise_with(&key.scalar_be(), 8192), &targets);
    assert!(matches!(
        r.found.first().map(|f| &f.kind),
        Some(FoundKind::EcdheScalar {
            encoding: ScalarEncoding::BigEndian,
            ..
        })
    ));
}

#[test]
fn a_planted_master_secret_opens_its_session_only() {
    let (targets, _, log) = sessions(&[
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ]);
    let master = log
        .master_secrets
        .get(&cr(&targets[1]))
        .expect("logged")
        .clone();
    let r = run(&noise_with(&master, 1000 * 8), &targets);
    assert_eq!(r.found.len(), 1);
    assert_eq!(r.found[0].kind, FoundKind::MasterSecret);
    assert_eq!(r.found[0].sessions, vec![1]);
    assert_eq!(r.keys.len(), 1);
    assert_eq!(r.keys[0].lines[0].0, SecretKind::ClientRandom);
}

#[test]
fn a_planted_ticket_key_opens_the_session_whose_ticket_it_sealed() {
    let (mut targets, _, log) = sessions(&[suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]);
    let mut bytes = [0u8; 80];
    rng::from_seed(5, "stek").fill_bytes(&mut bytes);
    let key = TicketKey::from_bytes(&bytes).expect("80 bytes");
    let master = log.master_secrets.get(&cr(&targets[0])).expect("logged");
    let state = TicketState::Tls12(Tls12State {
        cipher_suite: suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.id,
        master_secret: zeroize::Zeroizing::new(master.as_slice().try_into().expect("48")),
        issued: 1_700_000_000,
        extended_master_secret: true,
        encrypt_then_mac: false,
        server_name: None,
    });
    targets[0].obs.new_ticket = Some(key.seal([7; 16], &state.encode()));
    let r = run(&noise_with(&bytes, 2048), &targets);
    assert_eq!(
        r.found.len(),
        1,
        "{:?}",
        r.found.iter().map(|f| f.kind.name()).collect::<Vec<_>>()
    );
    assert_eq!(r.found[0].kind, FoundKind::TicketKey { name: key.name() });
    assert_eq!(r.found[0].sessions, vec![0]);
    assert_eq!(r.keys[0].lines[0].2.as_slice(), master.as_slice());
}

#[test]
fn a_planted_tls13_traffic_secret_opens_its_direction() {
    let (targets, _, log) = sessions(&[suites::TLS13_AES_128_GCM_SHA256]);
    let secret = log
        .tls13_secret(SecretKind::ServerTrafficSecret0, &cr(&targets[0]))
        .expect("logged")
        .to_vec();
    let r = run(&noise_with(&secret, 512), &targets);
    assert_eq!(r.found.len(), 1);
    assert_eq!(
        r.found[0].kind,
        FoundKind::Tls13Secret {
            kind: SecretKind::ServerTrafficSecret0
        }
    );
    assert_eq!(r.found[0].sessions, vec![0]);
}

#[test]
fn noise_alone_opens_nothing() {
    let (targets, _, _) = sessions(&[
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        suites::TLS13_AES_128_GCM_SHA256,
    ]);
    let r = run(&noise_with(&[], 0), &targets);
    assert!(r.found.is_empty());
    assert!(r.keys.is_empty());
    assert!(
        r.candidates_32 > 3000,
        "noise windows all pass the shape filter"
    );
}
