//! Issue 19, the endpoints: the discrete-log stand-in file `record` writes beside a capture
//! (the clients' classical ephemeral private keys, labelled as a stand-in for Shor's algorithm).

use std::os::unix::fs::PermissionsExt;

use pfslab::crypto::ffdh::{DhGroup, DhKey};
use pfslab::standin::{self, DlogGroup};

use crate::common::*;

/// The classical public value a stand-in private key gives.
fn regenerate(group: DlogGroup, private: &[u8]) -> Vec<u8> {
    match group {
        DlogGroup::Secp256r1 => p256::SecretKey::from_slice(private)
            .expect("a P-256 scalar")
            .public_key()
            .to_sec1_bytes()
            .to_vec(),
        // The lab's recordings serve ffdhe2048 (RFC 7919).
        DlogGroup::Ffdhe => DhKey::from_exponent_be(&DhGroup::ffdhe2048(), private)
            .expect("an exponent")
            .public()
            .to_vec(),
        other => panic!("no regeneration for {other:?} yet"),
    }
}

#[test]
fn the_dlog_standin_holds_each_clients_classical_key_and_it_regenerates_the_public_share() {
    let dir = TestDir::new("hybrid-standin");
    let (rec, _, _) = seeded_recording(&dir, Some("ecdhe=1,dhe=1,rsa=1,tls13=1,tls13+psk=2"));
    let path = dir.join("lab.dlog-standin.json");
    assert!(
        rec.done.stdout.contains("lab.dlog-standin.json"),
        "record should say it wrote the stand-in: {}",
        rec.done.describe()
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the stand-in holds secrets");
    let raw = json_file(&path);
    assert_eq!(raw["stand_in"], standin::STAND_IN);
    assert_eq!(raw["capture"], "lab.pcap");
    let file = standin::read(&path).unwrap();
    let capture = read(&rec.pcap);
    // One key per handshake with a classical share: every session but the RSA one (a TLS 1.3
    // psk_dhe_ke resumption makes a fresh share too).
    assert_eq!(file.keys.len(), rec.truth.len() - 1, "{:?}", file.keys);
    for k in &file.keys {
        let session = rec.by_client_random(&hex(&k.client_random));
        let want = match session.key_exchange.as_str() {
            "ecdhe" | "tls13" => DlogGroup::Secp256r1,
            "dhe" => DlogGroup::Ffdhe,
            other => panic!("a {other} session has no classical ephemeral key"),
        };
        assert_eq!(k.group, want, "stream {}", session.stream);
        assert_eq!(
            regenerate(k.group, &k.private),
            k.public,
            "stream {}: the private key does not give the public value",
            session.stream
        );
        assert!(
            contains_bytes(&capture, &k.public),
            "stream {}: the public value never crossed the wire",
            session.stream
        );
    }
}
