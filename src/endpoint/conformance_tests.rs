//! The alerts tlsfuzzer found wrong (issue 14), each as the RFC names it, driven in memory:
//! a client and a server connection, and records crafted where the peer would never send them.

use std::sync::Arc;

use super::*;
use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use crate::endpoint::server::{server_connection, ServerConfig};
use crate::keylog::KeyLog;
use crate::msgs::enums::{ExtensionType, NamedGroup, TLS_FALLBACK_SCSV};
use crate::msgs::handshake::{ClientHello, Extension};
use crate::msgs::handshake13::KeyShareEntry;
use crate::pki;
use crate::suites::{self, Suite};
use crate::test_support::TempDir;
use crate::tls13::key_schedule::TrafficSecret;

fn identity() -> &'static (Arc<rsa::PrivateKey>, Vec<u8>) {
    crate::test_support::lab_identity()
}

fn server(keylog: Option<Arc<KeyLogWriter>>) -> Connection {
    let (key, cert) = identity();
    let config = Arc::new(ServerConfig {
        key: key.clone(),
        cert_chain: vec![cert.clone()],
        suites: vec![
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS13_AES_128_GCM_SHA256,
        ],
        keylog,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    server_connection(config, rng::from_seed(1, "server")).expect("server")
}

fn client(suite: Suite, keylog: Option<Arc<KeyLogWriter>>) -> Connection {
    let config = Arc::new(ClientConfig {
        suites: vec![suite],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(identity().1.clone()),
        offer_ems: true,
        offer_etm: true,
        keylog,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    client_connection(config, rng::from_seed(2, "client")).expect("client")
}

/// Moves bytes both ways until both sides are quiet.
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

/// The alert the server answers `bytes` with: the error's alert, and the same alert queued.
fn server_alert(s: &mut Connection, bytes: &[u8]) -> AlertDescription {
    let err = s.read_tls(bytes).expect_err("the server must refuse this");
    let alert = err.alert().unwrap_or_else(|| panic!("no alert for {err}"));
    // The alert is queued: in the clear before keys, else as one protected record.
    let out = s.take_output();
    let plain = out.get(out.len().saturating_sub(2)..) == Some(&[2, alert.to_wire()][..]);
    let protected = matches!(out.as_slice(), [0x15 | 0x17, 3, 3, ..]);
    assert!(plain || protected, "no alert sent for {err}: {out:02x?}");
    alert
}

/// A TLS 1.2 ClientHello record with the lab's suites and these extensions, version 0x0303.
fn hello12(extensions: Vec<Extension>, suites: &[u16]) -> Vec<u8> {
    hello_record(ClientHello {
        client_version: 0x0303,
        random: [7; 32],
        session_id: Vec::new(),
        cipher_suites: suites.to_vec(),
        compression_methods: vec![0],
        extensions,
    })
}

fn hello_record(hello: ClientHello) -> Vec<u8> {
    encode_record(ContentType::Handshake, 0x0301, &hello.encode().encoded)
}

/// A TLS 1.3 ClientHello with a real P-256 share unless `key_share` is false.
fn hello13(versions: &[u16], legacy_version: u16, key_share: bool) -> Vec<u8> {
    hello13_with(versions, legacy_version, key_share, Vec::new())
}

fn hello13_with(
    versions: &[u16],
    legacy_version: u16,
    key_share: bool,
    extra: Vec<Extension>,
) -> Vec<u8> {
    hello13_suites(versions, legacy_version, key_share, extra, &[0x1301])
}

fn hello13_suites(
    versions: &[u16],
    legacy_version: u16,
    key_share: bool,
    extra: Vec<Extension>,
    cipher_suites: &[u16],
) -> Vec<u8> {
    let mut r = rng::from_seed(3, "share");
    let share = crate::crypto::ecdh::EphemeralKey::generate(&mut r);
    let mut extensions = vec![
        Extension::supported_versions_client(versions),
        Extension::u16_list(
            ExtensionType::SupportedGroups,
            &[NamedGroup::Secp256r1.to_wire()],
        ),
        Extension::u16_list(ExtensionType::SignatureAlgorithms, pki::PSS_SCHEMES),
    ];
    extensions.extend(extra);
    if key_share {
        extensions.push(Extension::key_share_client(&[KeyShareEntry {
            group: NamedGroup::Secp256r1.to_wire(),
            key_exchange: share.public_sec1(),
        }]));
    }
    hello_record(ClientHello {
        client_version: legacy_version,
        random: [9; 32],
        session_id: vec![1; 32],
        cipher_suites: cipher_suites.to_vec(),
        compression_methods: vec![0],
        extensions,
    })
}

const LAB_SUITES: [u16; 2] = [0x009c, 0xc02f];

#[test]
fn two_byte_change_cipher_spec_is_unexpected_message_rfc5246_7_1() {
    let (mut c, mut s) = (
        client(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, None),
        server(None),
    );
    s.read_tls(&c.take_output()).expect("ClientHello");
    let ccs = encode_record(ContentType::ChangeCipherSpec, 0x0303, &[1, 1]);
    assert_eq!(
        server_alert(&mut s, &ccs),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn heartbeat_after_the_handshake_is_unexpected_message_rfc6520_2() {
    let (mut c, mut s) = (
        client(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, None),
        server(None),
    );
    transfer(&mut c, &mut s);
    // A heartbeat_request, protected like any record after the handshake.
    c.cx.write_record(ContentType::from_wire(24), &[1, 0, 16, 0, 0, 0]);
    assert_eq!(
        server_alert(&mut s, &c.take_output()),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn empty_signature_algorithms_is_decode_error_rfc5246_7_4_1_4_1() {
    let hello = hello12(
        vec![Extension::u16_list(ExtensionType::SignatureAlgorithms, &[])],
        &LAB_SUITES,
    );
    assert_eq!(
        server_alert(&mut server(None), &hello),
        AlertDescription::DecodeError
    );
}

#[test]
fn point_formats_without_uncompressed_are_illegal_parameter_rfc8422_5_1_2() {
    let missing = hello12(vec![Extension::ec_point_formats(&[1])], &[0xc02f]);
    assert_eq!(
        server_alert(&mut server(None), &missing),
        AlertDescription::IllegalParameter
    );
    let empty = hello12(vec![Extension::ec_point_formats(&[])], &[0xc02f]);
    assert_eq!(
        server_alert(&mut server(None), &empty),
        AlertDescription::DecodeError
    );
}

#[test]
fn tls13_hello_without_key_share_is_missing_extension_rfc8446_9_2() {
    let hello = hello13(&[0x0304], 0x0303, false);
    assert_eq!(
        server_alert(&mut server(None), &hello),
        AlertDescription::MissingExtension
    );
}

#[test]
fn legacy_version_of_ssl3_or_less_is_protocol_version_rfc8446_d_5() {
    for legacy in [0x0300, 0x0000, 0x0103, 0x0200] {
        let hello = hello13(&[0x0304], legacy, true);
        assert_eq!(
            server_alert(&mut server(None), &hello),
            AlertDescription::ProtocolVersion,
            "legacy_version {legacy:04x}"
        );
    }
}

#[test]
fn ssl3_alone_in_supported_versions_is_protocol_version_rfc8446_4_2_1() {
    let hello = hello13(&[0x0300], 0x0303, true);
    assert_eq!(
        server_alert(&mut server(None), &hello),
        AlertDescription::ProtocolVersion
    );
}

#[test]
fn a_fallback_below_tls13_is_inappropriate_fallback_rfc7507_3() {
    let hello = hello12(Vec::new(), &[0x009c, TLS_FALLBACK_SCSV]);
    assert_eq!(
        server_alert(&mut server(None), &hello),
        AlertDescription::InappropriateFallback
    );
}

/// A TLS 1.3 client and server stopped after the server's flight; the client's handshake
/// traffic secret (from the client's key log) seals what the test sends next.
fn tls13_after_server_flight(dir: &TempDir) -> (Connection, Tls13Protector) {
    let path = dir.path("client.keylog");
    let log = Arc::new(KeyLogWriter::open(&path).expect("key log"));
    let (mut c, mut s) = (
        client(suites::TLS13_AES_128_GCM_SHA256, Some(log)),
        server(None),
    );
    s.read_tls(&c.take_output()).expect("ClientHello");
    c.read_tls(&s.take_output()).expect("server flight");
    let _ = c.take_output(); // the client's real Finished is never delivered
    let keylog = KeyLog::load(&path).expect("read key log");
    let suite = suites::TLS13_AES_128_GCM_SHA256;
    let random = c.summary().client_random;
    let secret = keylog
        .tls13_secret(SecretKind::ClientHandshakeTrafficSecret, &random)
        .expect("client handshake secret");
    let p = crate::tls13::protector(&suite, &TrafficSecret::new(suite.hash, secret.to_vec()))
        .expect("protector");
    (s, p)
}

fn sealed13(p: &mut Tls13Protector, typ: ContentType, content: &[u8]) -> Vec<u8> {
    let payload = p.seal(typ, content);
    let mut record = crate::record_protect::tls13_header(payload.len()).to_vec();
    record.extend_from_slice(&payload);
    record
}

#[test]
fn tls13_finished_of_the_wrong_length_is_decode_error_rfc8446_4_4_4() {
    let dir = TempDir::new("finished-length");
    let (mut s, mut p) = tls13_after_server_flight(&dir);
    let short = HandshakeMessage::new(HandshakeType::Finished, &[0; 24]);
    assert_eq!(
        server_alert(
            &mut s,
            &sealed13(&mut p, ContentType::Handshake, &short.encoded)
        ),
        AlertDescription::DecodeError
    );
}

#[test]
fn tls13_record_without_content_type_is_unexpected_message_rfc8446_5_4() {
    let dir = TempDir::new("zero-type");
    let (mut s, mut p) = tls13_after_server_flight(&dir);
    // All-zero TLSInnerPlaintext: padding only, no content type.
    let record = sealed13(&mut p, ContentType::from_wire(0), &[0; 8]);
    assert_eq!(
        server_alert(&mut s, &record),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn tls13_empty_alert_is_unexpected_message_rfc8446_5_1() {
    let dir = TempDir::new("empty-alert");
    let (mut s, mut p) = tls13_after_server_flight(&dir);
    let record = sealed13(&mut p, ContentType::Alert, &[]);
    assert_eq!(
        server_alert(&mut s, &record),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn tls13_inner_plaintext_over_2_14_plus_1_is_record_overflow_rfc8446_5_4() {
    let dir = TempDir::new("overflow");
    let (mut s, mut p) = tls13_after_server_flight(&dir);
    // 2^14 - 8 bytes of content, its type, and 9 bytes of padding: 2^14 + 2 in all.
    let mut content = vec![0x17; (1 << 14) - 8];
    content.push(ContentType::ApplicationData.to_wire());
    content.extend_from_slice(&[0; 8]);
    let record = sealed13(&mut p, ContentType::from_wire(0), &content);
    assert_eq!(
        server_alert(&mut s, &record),
        AlertDescription::RecordOverflow
    );
}

#[test]
fn a_second_compatibility_ccs_is_unexpected_message_rfc8446_5() {
    let dir = TempDir::new("two-ccs");
    let (mut s, _) = tls13_after_server_flight(&dir);
    let ccs = encode_record(ContentType::ChangeCipherSpec, 0x0303, &[1]);
    s.read_tls(&ccs).expect("the first is dropped");
    assert_eq!(
        server_alert(&mut s, &ccs),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn tls13_key_update_with_a_bad_request_is_illegal_parameter_rfc8446_4_6_3() {
    let (mut c, mut s) = (client(suites::TLS13_AES_128_GCM_SHA256, None), server(None));
    transfer(&mut c, &mut s);
    c.cx.send_handshake(&HandshakeMessage::new(HandshakeType::KeyUpdate, &[2]));
    assert_eq!(
        server_alert(&mut s, &c.take_output()),
        AlertDescription::IllegalParameter
    );
}

#[test]
fn tls13_server_answers_after_the_clients_close_notify_rfc8446_6_1() {
    let (mut c, mut s) = (client(suites::TLS13_AES_128_GCM_SHA256, None), server(None));
    transfer(&mut c, &mut s);
    c.send(b"GET / HTTP/1.0\r\n\r\n").expect("request");
    c.send_close_notify();
    s.read_tls(&c.take_output())
        .expect("request and close_notify");
    assert_eq!(s.closed(), Some(&Closed::CloseNotify));
    s.send(b"HTTP/1.0 200 OK\r\n\r\n")
        .expect("the server may still answer");
    c.read_tls(&s.take_output())
        .expect("the client reads the answer");
    assert_eq!(c.take_received(), b"HTTP/1.0 200 OK\r\n\r\n");
}

#[test]
fn rejected_early_data_is_skipped_rfc8446_4_2_10() {
    let garbage = encode_record(ContentType::ApplicationData, 0x0303, &[0x5a; 64]);
    // Offered 0-RTT: records that do not open under the handshake key are skipped.
    let early = Extension::empty(ExtensionType::EarlyData);
    let mut s = server(None);
    s.read_tls(&hello13_with(&[0x0304], 0x0303, true, vec![early]))
        .expect("ClientHello with early_data");
    s.read_tls(&garbage)
        .expect("rejected early data is skipped");
    s.read_tls(&garbage).expect("and the next record too");
    // Not offered: the same record is a forgery.
    let mut s = server(None);
    s.read_tls(&hello13(&[0x0304], 0x0303, true))
        .expect("ClientHello");
    let _ = s.take_output(); // the server's flight
    assert_eq!(
        server_alert(&mut s, &garbage),
        AlertDescription::BadRecordMac
    );
}

#[test]
fn application_data_inside_a_fragmented_key_update_is_unexpected_message_rfc8446_5_1() {
    let (mut c, mut s) = (client(suites::TLS13_AES_128_GCM_SHA256, None), server(None));
    transfer(&mut c, &mut s);
    let update = HandshakeMessage::new(HandshakeType::KeyUpdate, &[1]);
    let (first, rest) = update.encoded.split_at(2);
    c.cx.write_record(ContentType::Handshake, first);
    c.cx.write_record(ContentType::ApplicationData, b"GET / HTTP/1.0\r\n\r\n");
    c.cx.write_record(ContentType::Handshake, rest);
    assert_eq!(
        server_alert(&mut s, &c.take_output()),
        AlertDescription::UnexpectedMessage
    );
}

#[test]
fn tls13_offered_with_only_tls12_suites_is_handshake_failure_rfc8446_4_1_1() {
    for suite in LAB_SUITES {
        let hello = hello13_suites(&[0x0304, 0x0303], 0x0303, true, Vec::new(), &[suite]);
        assert_eq!(
            server_alert(&mut server(None), &hello),
            AlertDescription::HandshakeFailure,
            "only {suite:04x}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Finite-field DHE (RFC 5246 §7.4.3, RFC 7919)

fn dhe_server(group: crate::crypto::ffdh::DhGroup) -> Connection {
    let (key, cert) = identity();
    let config = Arc::new(ServerConfig {
        key: key.clone(),
        cert_chain: vec![cert.clone()],
        suites: vec![suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256],
        keylog: None,
        dh_group: group,
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    server_connection(config, rng::from_seed(1, "server")).expect("server")
}

fn groups_ext(groups: &[u16]) -> Extension {
    Extension::u16_list(ExtensionType::SupportedGroups, groups)
}

#[test]
fn dhe_handshake_in_memory() {
    let mut s = dhe_server(crate::crypto::ffdh::DhGroup::ffdhe2048());
    let mut c = client(suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, None);
    transfer(&mut c, &mut s);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    assert_eq!(s.summary().suite.map(|x| x.id), Some(0x009e));
    assert_eq!(c.summary().suite.map(|x| x.id), Some(0x009e));
}

/// RFC 7919 §4: FFDHE groups listed but not ours → no DHE; ours listed, or none listed → DHE.
#[test]
fn dhe_follows_rfc7919_section_4() {
    let custom = crate::crypto::ffdh::DhGroup::from_pem(include_bytes!(
        "../../tests/data/dh2048-openssl.pem"
    ))
    .expect("fixture group");
    let ffdhe = crate::crypto::ffdh::DhGroup::ffdhe2048();
    let sigs = Extension::u16_list(ExtensionType::SignatureAlgorithms, pki::RSA_SCHEMES);
    let cases: [(crate::crypto::ffdh::DhGroup, Vec<u16>, bool); 5] = [
        (ffdhe.clone(), vec![0x0100], true),
        (ffdhe.clone(), vec![0x0101], false),
        (ffdhe.clone(), vec![NamedGroup::Secp256r1.to_wire()], true),
        (custom.clone(), vec![0x0100], false),
        (custom, vec![NamedGroup::Secp256r1.to_wire()], true),
    ];
    for (group, listed, dhe) in cases {
        let mut s = dhe_server(group);
        let hello = hello12(vec![groups_ext(&listed), sigs.clone()], &[0x009e]);
        if dhe {
            s.read_tls(&hello).expect("DHE accepted");
            assert_eq!(
                s.summary().suite.map(|x| x.id),
                Some(0x009e),
                "{listed:04x?}"
            );
        } else {
            assert_eq!(
                server_alert(&mut s, &hello),
                AlertDescription::HandshakeFailure,
                "{listed:04x?}"
            );
        }
    }
}

/// RFC 7919 §5.1: Yc outside 1 < Yc < p−1 is illegal_parameter; an empty dh_Yc is a decode error.
#[test]
fn dhe_server_refuses_bad_client_public_values() {
    let p = crate::crypto::ffdh::DhGroup::ffdhe2048().p().to_vec();
    let mut p_minus_1 = p.clone();
    p_minus_1[255] &= 0xfe;
    for (yc, want) in [
        (vec![1u8], AlertDescription::IllegalParameter),
        (vec![0u8], AlertDescription::IllegalParameter),
        (p_minus_1, AlertDescription::IllegalParameter),
        (p, AlertDescription::IllegalParameter),
        (vec![], AlertDescription::DecodeError),
    ] {
        let mut s = dhe_server(crate::crypto::ffdh::DhGroup::ffdhe2048());
        s.read_tls(&hello12(Vec::new(), &[0x009e])).expect("hello");
        let _ = s.take_output();
        let cke = crate::msgs::dhe::DheClientKeyExchange { public: yc.clone() }.encode();
        let record = encode_record(ContentType::Handshake, 0x0303, &cke.encoded);
        assert_eq!(
            server_alert(&mut s, &record),
            want,
            "Yc of {} bytes",
            yc.len()
        );
    }
}

#[test]
fn extended_master_secret_with_a_body_is_decode_error_rfc7627_5_1() {
    let ems = Extension {
        typ: ExtensionType::ExtendedMasterSecret,
        data: vec![0],
    };
    assert_eq!(
        server_alert(&mut server(None), &hello12(vec![ems], &LAB_SUITES)),
        AlertDescription::DecodeError
    );
}

#[test]
fn an_empty_server_name_list_is_decode_error_rfc6066_3() {
    let sni = Extension {
        typ: ExtensionType::ServerName,
        data: vec![0, 0],
    };
    assert_eq!(
        server_alert(&mut server(None), &hello12(vec![sni], &LAB_SUITES)),
        AlertDescription::DecodeError
    );
}

#[test]
fn tls12_warning_alerts_are_survived_up_to_four_rfc5246_7_2_2() {
    let warning = encode_record(ContentType::Alert, 0x0303, &[1, 43]);
    let (mut c, mut s) = (
        client(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, None),
        server(None),
    );
    s.read_tls(&c.take_output()).expect("ClientHello");
    for _ in 0..4 {
        s.read_tls(&warning).expect("a warning is not fatal");
    }
    c.read_tls(&s.take_output()).expect("the handshake goes on");
    transfer(&mut c, &mut s);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    // The fifth ends it (CVE-2016-8610).
    let mut s = server(None);
    s.read_tls(&client(suites::TLS_RSA_WITH_AES_128_GCM_SHA256, None).take_output())
        .expect("ClientHello");
    let _ = s.take_output();
    for _ in 0..4 {
        s.read_tls(&warning).expect("a warning is not fatal");
    }
    assert_eq!(
        server_alert(&mut s, &warning),
        AlertDescription::UnexpectedMessage
    );
}
