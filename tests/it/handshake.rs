//! Client and server driven against each other in memory, no sockets.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pfslab::crypto::rng;
use pfslab::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use pfslab::endpoint::conn::{Closed, Connection};
use pfslab::endpoint::server::server_connection;
use pfslab::error::Error;
use pfslab::keylog::{KeyLog, KeyLogWriter};
use pfslab::msgs::enums::AlertDescription;
use pfslab::pki;
use pfslab::suites::{self, Suite};

use crate::common::{client_config, server_config, TestDir, TLS13_KEYLOG_LABELS};

/// Moves bytes both ways until neither side has anything to say; the first error wins.
fn transfer(client: &mut Connection, server: &mut Connection) -> Result<(), (&'static str, Error)> {
    for _ in 0..20 {
        let c2s = client.take_output();
        let s2c = server.take_output();
        if c2s.is_empty() && s2c.is_empty() {
            return Ok(());
        }
        if !c2s.is_empty() {
            server.read_tls(&c2s).map_err(|e| ("server", e))?;
        }
        if !s2c.is_empty() {
            client.read_tls(&s2c).map_err(|e| ("client", e))?;
        }
    }
    panic!("handshake did not settle");
}

fn make_pair(suite: Suite, ems: bool) -> (Connection, Connection) {
    let client = client_connection(
        Arc::new(client_config(suite, ems, "localhost")),
        rng::from_seed(1, "c"),
    )
    .unwrap();
    let server = server_connection(
        server_config(
            vec![
                suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
                suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ],
            None,
        ),
        rng::from_seed(1, "s"),
    )
    .unwrap();
    (client, server)
}

fn handshake_and_talk(suite: Suite, ems: bool) {
    let (mut c, mut s) = make_pair(suite, ems);
    transfer(&mut c, &mut s).unwrap();
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(c.summary().suite, Some(suite));
    assert_eq!(s.summary().suite, Some(suite));
    assert_eq!(c.summary().extended_master_secret, ems);
    assert_eq!(s.summary().extended_master_secret, ems);
    assert_eq!(c.summary().client_random, s.summary().client_random);
    c.send(b"GET /balance HTTP/1.0\r\n\r\n").unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(s.take_received(), b"GET /balance HTTP/1.0\r\n\r\n");
    s.send(&vec![b'x'; 40_000]).unwrap();
    s.send_close_notify();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(c.take_received().len(), 40_000);
    assert_eq!(c.closed(), Some(&Closed::CloseNotify));
}

#[test]
fn rsa_with_ems() {
    handshake_and_talk(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, true);
}

#[test]
fn rsa_without_ems() {
    handshake_and_talk(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, false);
}

#[test]
fn ecdhe_with_ems() {
    handshake_and_talk(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true);
}

#[test]
fn ecdhe_without_ems() {
    handshake_and_talk(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, false);
}

#[test]
fn sha384_suites_work_too() {
    for suite in [
        suites::TLS_RSA_WITH_AES_256_GCM_SHA384,
        suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ] {
        let mut c = client_connection(
            Arc::new(client_config(suite, true, "localhost")),
            rng::from_os(),
        )
        .unwrap();
        let mut s = server_connection(
            server_config(suites::TLS12_SUITES.to_vec(), None),
            rng::from_os(),
        )
        .unwrap();
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(s.summary().suite, Some(suite));
    }
}

#[test]
fn tampered_record_fails_with_bad_record_mac() {
    let (mut c, mut s) = make_pair(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, true);
    transfer(&mut c, &mut s).unwrap();
    c.send(b"transfer $100 to alice").unwrap();
    let mut wire = c.take_output();
    let last = wire.len() - 1;
    wire[last - 20] ^= 0x80;
    let err = s.read_tls(&wire).unwrap_err();
    assert!(matches!(err, Error::BadRecordMac), "{err}");
    // The server queued a fatal bad_record_mac alert, encrypted under its keys.
    let alert = s.take_output();
    let e = c.read_tls(&alert).unwrap_err();
    assert!(
        matches!(e, Error::PeerAlert(AlertDescription::BadRecordMac)),
        "{e}"
    );
}

#[test]
fn no_shared_suite_is_handshake_failure() {
    let mut c = client_connection(
        Arc::new(client_config(
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            true,
            "localhost",
        )),
        rng::from_os(),
    )
    .unwrap();
    let mut s = server_connection(
        server_config(vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256], None),
        rng::from_os(),
    )
    .unwrap();
    let (who, err) = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(who, "server");
    assert_eq!(err.alert(), Some(AlertDescription::HandshakeFailure));
    let e = c.read_tls(&s.take_output()).unwrap_err();
    assert!(matches!(
        e,
        Error::PeerAlert(AlertDescription::HandshakeFailure)
    ));
}

#[test]
fn wrong_server_name_is_rejected_by_client() {
    let mut c = client_connection(
        Arc::new(client_config(
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            true,
            "bank.example",
        )),
        rng::from_os(),
    )
    .unwrap();
    let mut s = server_connection(
        server_config(vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256], None),
        rng::from_os(),
    )
    .unwrap();
    let (who, err) = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(who, "client");
    assert_eq!(err.alert(), Some(AlertDescription::BadCertificate), "{err}");
}

#[test]
fn untrusted_certificate_is_rejected_by_client() {
    let mut r = rng::from_seed(9, "other");
    let other_key = pki::generate_key(&mut r, 1024).unwrap();
    let other = pki::self_signed_cert(
        &other_key,
        &pki::CertParams::lab_default(SystemTime::now() - Duration::from_secs(60)),
        &mut r,
    )
    .unwrap();
    let config = Arc::new(ClientConfig {
        suites: vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(other),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let mut c = client_connection(config, rng::from_os()).unwrap();
    let mut s = server_connection(
        server_config(vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256], None),
        rng::from_os(),
    )
    .unwrap();
    let (who, err) = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(who, "client");
    assert_eq!(err.alert(), Some(AlertDescription::UnknownCa), "{err}");
}

/// RFC 5246 §7.4.7.1: a garbled encrypted premaster is not reported at ClientKeyExchange; the
/// server carries on with a random premaster and fails only when the client's Finished record
/// does not decrypt under the keys that premaster gives.
#[test]
fn garbled_premaster_fails_only_at_finished() {
    let (mut c, mut s) = make_pair(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, false);
    s.read_tls(&c.take_output()).unwrap();
    c.read_tls(&s.take_output()).unwrap();
    let mut flight = c.take_output();
    // The RSA ciphertext starts after record header (5), handshake header (4) and length (2).
    flight[5 + 4 + 2 + 10] ^= 0xff;
    let cke_record_len = 5 + usize::from(u16::from_be_bytes([flight[3], flight[4]]));
    s.read_tls(&flight[..cke_record_len])
        .expect("ClientKeyExchange itself must be accepted");
    assert!(!s.has_output(), "no alert may follow the ClientKeyExchange");
    let err = s.read_tls(&flight[cke_record_len..]).unwrap_err();
    assert!(matches!(err, Error::BadRecordMac), "{err}");
}

#[test]
fn keylog_lines_match_on_both_sides() {
    let dir = TestDir::new("hs-keylog");
    let (cpath, spath) = (dir.join("c.log"), dir.join("s.log"));
    let ckl = Arc::new(KeyLogWriter::open(&cpath).unwrap());
    let skl = Arc::new(KeyLogWriter::open(&spath).unwrap());
    let mut cc = client_config(
        suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        true,
        "localhost",
    );
    cc.keylog = Some(ckl);
    let mut c = client_connection(Arc::new(cc), rng::from_os()).unwrap();
    let mut s = server_connection(
        server_config(
            vec![suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256],
            Some(skl),
        ),
        rng::from_os(),
    )
    .unwrap();
    transfer(&mut c, &mut s).unwrap();
    let (cl, sl) = (KeyLog::load(&cpath).unwrap(), KeyLog::load(&spath).unwrap());
    let cr = c.summary().client_random;
    assert_eq!(
        cl.master_secrets.get(&cr).map(|m| m.to_vec()),
        sl.master_secrets.get(&cr).map(|m| m.to_vec())
    );
    assert!(cl.master_secrets.contains_key(&cr));
}

fn tls13_pair(suite: Suite) -> (Connection, Connection) {
    let config = Arc::new(client_config(suite, true, "localhost"));
    let client = client_connection(config, rng::from_seed(2, "c13")).unwrap();
    let all: Vec<Suite> = suites::TLS12_SUITES
        .iter()
        .chain(suites::TLS13_SUITES)
        .copied()
        .collect();
    let server = server_connection(server_config(all, None), rng::from_seed(2, "s13")).unwrap();
    (client, server)
}

#[test]
fn tls13_both_suites_talk_and_update_keys() {
    for suite in [
        suites::TLS13_AES_128_GCM_SHA256,
        suites::TLS13_AES_256_GCM_SHA384,
    ] {
        let (mut c, mut s) = tls13_pair(suite);
        transfer(&mut c, &mut s).unwrap();
        assert!(!c.is_handshaking() && !s.is_handshaking());
        assert_eq!(c.summary().suite, Some(suite));
        assert_eq!(s.summary().suite, Some(suite));
        assert_eq!(s.summary().signature_scheme, Some(0x0804));
        c.send(b"GET /tls13 HTTP/1.0\r\n\r\n").unwrap();
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(s.take_received(), b"GET /tls13 HTTP/1.0\r\n\r\n");
        // KeyUpdate from the client: the server follows and answers with its own update.
        c.request_key_update().unwrap();
        c.send(b"after update").unwrap();
        transfer(&mut c, &mut s).unwrap();
        assert_eq!(s.take_received(), b"after update");
        s.send(&vec![b'y'; 20_000]).unwrap();
        s.request_key_update().unwrap();
        s.send(b"and again").unwrap();
        s.send_close_notify();
        transfer(&mut c, &mut s).unwrap();
        let got = c.take_received();
        assert_eq!(got.len(), 20_000 + 9);
        assert!(got.ends_with(b"and again"));
        assert_eq!(c.closed(), Some(&Closed::CloseNotify));
    }
}

#[test]
fn tls13_tampered_record_fails_with_bad_record_mac() {
    let (mut c, mut s) = tls13_pair(suites::TLS13_AES_128_GCM_SHA256);
    transfer(&mut c, &mut s).unwrap();
    c.send(b"pay bob").unwrap();
    let mut wire = c.take_output();
    let n = wire.len();
    wire[n - 3] ^= 1;
    assert!(matches!(
        s.read_tls(&wire).unwrap_err(),
        Error::BadRecordMac
    ));
    let e = c.read_tls(&s.take_output()).unwrap_err();
    assert!(
        matches!(e, Error::PeerAlert(AlertDescription::BadRecordMac)),
        "{e}"
    );
}

#[test]
fn tls13_client_rejects_untrusted_server_and_tls12_server_marks_downgrade() {
    // A TLS 1.3-capable server that must fall back to 1.2 sets the RFC 8446 §4.1.3 marker.
    let mut c = client_connection(
        Arc::new(client_config(
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            true,
            "localhost",
        )),
        rng::from_os(),
    )
    .unwrap();
    let all: Vec<Suite> = suites::TLS12_SUITES
        .iter()
        .chain(suites::TLS13_SUITES)
        .copied()
        .collect();
    let mut s = server_connection(server_config(all, None), rng::from_os()).unwrap();
    transfer(&mut c, &mut s).unwrap();
    assert_eq!(&s.summary().server_random[24..], b"DOWNGRD\x01");
    // A TLS 1.3 client facing a 1.2-only server refuses: it required TLS 1.3.
    let config = Arc::new(client_config(
        suites::TLS13_AES_128_GCM_SHA256,
        true,
        "localhost",
    ));
    let mut c = client_connection(config, rng::from_os()).unwrap();
    let mut s = server_connection(
        server_config(suites::TLS12_SUITES.to_vec(), None),
        rng::from_os(),
    )
    .unwrap();
    let (who, err) = transfer(&mut c, &mut s).unwrap_err();
    assert_eq!(who, "server");
    // RFC 8446 §4.2.1: supported_versions holds no version the server speaks (issue 14).
    assert_eq!(
        err.alert(),
        Some(AlertDescription::ProtocolVersion),
        "{err}"
    );
}

#[test]
fn tls13_keylog_has_all_five_labels() {
    let dir = TestDir::new("hs13-keylog");
    let path = dir.join("s.log");
    let writer = Arc::new(KeyLogWriter::open(&path).unwrap());
    let (mut c, _) = tls13_pair(suites::TLS13_AES_128_GCM_SHA256);
    let all: Vec<Suite> = suites::TLS13_SUITES.to_vec();
    let mut s = server_connection(server_config(all, Some(writer)), rng::from_os()).unwrap();
    transfer(&mut c, &mut s).unwrap();
    let log = KeyLog::load(&path).unwrap();
    let cr = c.summary().client_random;
    for label in TLS13_KEYLOG_LABELS {
        assert!(
            log.tls13_secrets.contains_key(&(label.to_string(), cr)),
            "missing {label}"
        );
    }
}
