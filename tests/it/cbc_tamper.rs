//! A tampered CBC record, bad padding under a good MAC, or a wrong MAC under good padding:
//! the server answers each with the same single bad_record_mac alert and closes, and keeps
//! serving (RFC 5246 §6.2.3.2 implementation note; RFC 7366 §3). A hand-driven RSA client
//! brings the handshake to the client's Finished, the first protected record, and builds that
//! record itself so every variant is exact.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use aes::Aes128;
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeEncrypt, KeyIvInit};

use pfslab::crypto::{rng, MacAlg};
use pfslab::lab::bank_client::{build_request, exchange};
use pfslab::lab::bank_server::{self, ServerOptions};
use pfslab::msgs::enums::{ContentType, ExtensionType, HandshakeType};
use pfslab::msgs::handshake::{
    ClientHello, Extension, Finished, RsaClientKeyExchange, ServerHello,
};
use pfslab::msgs::record::{encode_record, Deframer, HandshakeJoiner};
use pfslab::pki;
use pfslab::suites::{self, Suite};
use pfslab::tls12::keys::{derive_master_secret, key_block, verify_data, Side};

use crate::common::{client_config, exclusive, identity, server_config};

const SUITE: Suite = suites::TLS_RSA_WITH_AES_128_CBC_SHA;

/// How the client's Finished record is spoiled.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Spoil {
    None,
    FlipCiphertext,
    BadPadding,
    WrongMac,
}

/// IV ‖ AES-128-CBC(body) with a fixed IV.
fn cbc_encrypt(key: &[u8], body: &mut Vec<u8>) -> Vec<u8> {
    let iv = [0x42u8; 16];
    let n = body.len();
    let key: [u8; 16] = key.try_into().expect("AES-128 key");
    cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into())
        .encrypt_padded::<NoPadding>(body, n)
        .expect("whole blocks");
    let mut out = iv.to_vec();
    out.extend_from_slice(body);
    out
}

/// The client's Finished as a protected record payload, spoiled as asked, MAC-then-encrypt
/// (RFC 5246 §6.2.3.2) or encrypt-then-MAC (RFC 7366 §3), sequence number 0.
fn finished_payload(fin: &[u8], mac_key: &[u8], key: &[u8], etm: bool, spoil: Spoil) -> Vec<u8> {
    let mac = MacAlg::Sha1;
    if etm {
        let mut body = fin.to_vec();
        // 16 bytes of Finished → a whole block of padding (15 bytes of 15, then 15).
        body.extend_from_slice(&[15u8; 16]);
        if spoil == Spoil::BadPadding {
            body[20] = 3;
        }
        let mut signed = cbc_encrypt(key, &mut body);
        let mut header = vec![0u8; 8];
        header.extend_from_slice(&[22, 3, 3]);
        header.extend_from_slice(&(signed.len() as u16).to_be_bytes());
        let mut tag = mac.hmac(mac_key, &[&header, &signed]);
        // The MAC is over the original ciphertext: the flip is what the receiver must catch.
        if spoil == Spoil::FlipCiphertext {
            signed[20] ^= 1;
        }
        if spoil == Spoil::WrongMac {
            tag[0] ^= 1;
        }
        signed.extend_from_slice(&tag);
        return signed;
    }
    let mut header = vec![0u8; 8];
    header.extend_from_slice(&[22, 3, 3]);
    header.extend_from_slice(&(fin.len() as u16).to_be_bytes());
    let mut tag = mac.hmac(mac_key, &[&header, fin]);
    if spoil == Spoil::WrongMac {
        tag[0] ^= 1;
    }
    let mut body = fin.to_vec();
    body.extend_from_slice(&tag);
    // 16 + 20 = 36 → 12 bytes: 11 padding bytes of 11 and padding_length 11.
    body.extend_from_slice(&[11u8; 12]);
    if spoil == Spoil::BadPadding {
        body[40] = 7;
    }
    let mut out = cbc_encrypt(key, &mut body);
    if spoil == Spoil::FlipCiphertext {
        let n = out.len();
        out[n - 20] ^= 1;
    }
    out
}

/// Everything the server sends until it closes (bounded).
fn read_to_close(sock: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, false);
        }
        sock.set_read_timeout(Some(left)).expect("timeout");
        match sock.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, false)
            }
            Err(_) => return (got, true),
        }
    }
}

/// One handshake up to the client's Finished, sent as `spoil` makes it; returns what the
/// server sent after it and whether it closed.
fn handshake_with(addr: SocketAddr, etm: bool, spoil: Spoil) -> (Vec<u8>, bool) {
    let mut r = rng::from_seed(11, "cbc tamper client");
    let client_random: [u8; 32] = rng::random_array(&mut r);
    let mut extensions = vec![
        Extension::renegotiation_info(&[]),
        Extension::empty(ExtensionType::ExtendedMasterSecret),
    ];
    if etm {
        extensions.push(Extension::empty(ExtensionType::EncryptThenMac));
    }
    let hello = ClientHello {
        client_version: 0x0303,
        random: client_random,
        session_id: vec![],
        cipher_suites: vec![SUITE.id],
        compression_methods: vec![0],
        extensions,
    }
    .encode();
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.write_all(&encode_record(
        ContentType::Handshake,
        0x0303,
        &hello.encoded,
    ))
    .expect("send ClientHello");
    let mut transcript = hello.encoded.clone();
    let (mut deframer, mut joiner) = (Deframer::new(), HandshakeJoiner::new());
    let mut server_hello = None;
    let mut buf = [0u8; 4096];
    'flight: loop {
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = sock.read(&mut buf).expect("read the server flight");
        assert!(n > 0, "server closed during its flight");
        deframer.push(&buf[..n]);
        while let Some(rec) = deframer.next_record().expect("server records") {
            joiner.push(&rec.payload);
            while let Some(m) = joiner.next_message().expect("server handshake") {
                transcript.extend_from_slice(&m.encoded);
                if m.typ == HandshakeType::ServerHello {
                    server_hello = Some(ServerHello::read(m.body()).expect("ServerHello"));
                }
                if m.typ == HandshakeType::ServerHelloDone {
                    break 'flight;
                }
            }
        }
    }
    let sh = server_hello.expect("a ServerHello");
    assert_eq!(
        sh.extension(ExtensionType::EncryptThenMac).is_some(),
        etm,
        "the server answers encrypt_then_mac exactly when offered for a CBC suite"
    );
    let public = rsa::PublicKey::from(&*identity().key);
    let mut premaster: [u8; 48] = rng::random_array(&mut r);
    premaster[..2].copy_from_slice(&[3, 3]);
    let cke = RsaClientKeyExchange {
        encrypted_premaster: pki::rsa_encrypt_pkcs1(&public, &premaster, &mut r).expect("encrypt"),
    }
    .encode();
    transcript.extend_from_slice(&cke.encoded);
    let master = derive_master_secret(
        &SUITE,
        &premaster,
        true,
        &client_random,
        &sh.random,
        &transcript,
    );
    let kb = key_block(&SUITE, &master, &client_random, &sh.random);
    let fin = Finished {
        verify_data: verify_data(
            &SUITE,
            &master,
            Side::Client,
            &SUITE.hash.digest(&transcript),
        )
        .to_vec(),
    }
    .encode();
    let payload = finished_payload(
        &fin.encoded,
        &kb.client.mac_key,
        &kb.client.enc_key,
        etm,
        spoil,
    );
    let mut flight = encode_record(ContentType::Handshake, 0x0303, &cke.encoded);
    flight.extend(encode_record(ContentType::ChangeCipherSpec, 0x0303, &[1]));
    flight.extend(encode_record(ContentType::Handshake, 0x0303, &payload));
    sock.write_all(&flight).expect("send the client's flight");
    read_to_close(&mut sock, Duration::from_secs(6))
}

#[test]
fn tampered_cbc_records_get_one_bad_record_mac_and_the_server_keeps_serving() {
    let _turn = exclusive();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let handle = bank_server::spawn(
        listener,
        ServerOptions {
            config: server_config(vec![SUITE], None),
            timeout: Duration::from_secs(10),
            max_connections: 16,
            seed: Some(7),
        },
        false,
    )
    .expect("spawn server");
    let addr = handle.local_addr;
    let bad_record_mac = vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 20];
    for etm in [false, true] {
        // Control: the right record finishes the handshake (ChangeCipherSpec comes back).
        let (good, _) = handshake_with(addr, etm, Spoil::None);
        assert!(
            good.starts_with(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]),
            "etm={etm}: the control handshake failed: {good:02x?}"
        );
        for spoil in [Spoil::FlipCiphertext, Spoil::BadPadding, Spoil::WrongMac] {
            let (got, closed) = handshake_with(addr, etm, spoil);
            // Unencrypted: the alert goes out before the server's keys are in use.
            assert_eq!(
                got, bad_record_mac,
                "etm={etm} {spoil:?}: one bad_record_mac"
            );
            assert!(closed, "etm={etm} {spoil:?}: the connection stays open");
        }
    }
    // Still serving: a whole CBC exchange after the abuse.
    let done = exchange(
        addr,
        std::sync::Arc::new(client_config(SUITE, true, "localhost")),
        rng::from_seed(1, "after tampering"),
        &build_request("GET / HTTP/1.0", "localhost"),
        Duration::from_secs(10),
    )
    .expect("a normal CBC client after the tampered ones");
    assert!(!done.response.is_empty());
    handle.stop();
}
