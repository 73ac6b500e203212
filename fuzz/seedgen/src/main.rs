//! Seed corpora for the fuzz targets: `pfslab-fuzz-seedgen <corpus dir>` writes
//! `<dir>/<target>/seed-*` files (existing files are overwritten, others left alone).

#[path = "../../common.rs"]
#[allow(dead_code)]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pfslab::endpoint::conn::Connection;
use pfslab::lab::recording::{record, RecordOptions};
use pfslab::crypto::rng;
use pfslab::suites::{self, Suite};
use pfslab::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use pfslab::endpoint::server::server_connection;

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
    let p = d.join(format!("seed-{name}"));
    std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

/// The client's flights against the fuzzers' server, exactly as `server_handshake` replays
/// them (same config, same server randomness), plus the bytes each side sent.
fn handshake_flights(suite: Suite, ems: bool, seed: u64) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
    let config = Arc::new(ClientConfig {
        suites: vec![suite],
        server_name: "localhost".into(),
        verification: ServerVerification::Insecure,
        offer_ems: ems,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let mut client = client_connection(config, rng::from_seed(seed, "seed client")).expect("client");
    let mut server = server_connection(common::server_config(), common::server_rng()).expect("server");
    let (mut flights, mut c2s, mut s2c) = (Vec::new(), Vec::new(), Vec::new());
    let mut step = |client: &mut Connection, server: &mut Connection| {
        let out = client.take_output();
        if !out.is_empty() {
            server.read_tls(&out).expect("server accepts the client");
            c2s.extend_from_slice(&out);
            flights.push(out);
        }
        let back = server.take_output();
        if !back.is_empty() {
            client.read_tls(&back).expect("client accepts the server");
            s2c.extend_from_slice(&back);
        }
    };
    for _ in 0..4 {
        step(&mut client, &mut server);
    }
    assert!(!client.is_handshaking() && !server.is_handshaking(), "seed handshake did not finish");
    client.send(b"GET /balance HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("send");
    client.send_close_notify();
    step(&mut client, &mut server);
    (flights, c2s, s2c)
}

/// One reassembly input segment in the `reassembly` target's format (relative seq).
fn seg(out: &mut Vec<u8>, port: u8, to_client: bool, flags: u8, rel: i16, len: u8) {
    out.push(port | if to_client { 4 } else { 0 });
    out.push(flags);
    out.extend_from_slice(&rel.to_be_bytes());
    out.push(len);
}

/// A minimal little-endian pcapng: section header, one Ethernet interface, one packet.
fn tiny_pcapng(frame: &[u8]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, typ: u32, body: &[u8]) {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (4 - body.len() % 4) % 4, 0);
        out.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = vec![1, 0, 0, 0];
    idb.extend_from_slice(&0u32.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 9 (ns)
    idb.extend_from_slice(&[0, 0, 0, 0]);
    block(&mut out, 1, &idb);
    let mut epb = 0u32.to_le_bytes().to_vec();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&1_000_000u32.to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    epb.extend_from_slice(frame);
    block(&mut out, 6, &epb);
    out
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let tmp = std::env::temp_dir().join(format!("pfslab-seedgen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");

    // 1. A recorded capture under the fuzzers' key (`pfslab keygen --bits 1024 --seed 8`).
    let keys = tmp.join("keys");
    pfslab::lab::identity::keygen(&keys, common::KEY_BITS, Some(common::KEY_SEED), true).expect("keygen");
    let pcap = tmp.join("lab.pcap");
    record(RecordOptions {
        out: pcap.clone(),
        sessions: pfslab::lab::recording::parse_sessions("rsa=1,ecdhe=1,rsa-cbc=1").expect("sessions"),
        ticket_key: None,
        seed: Some(1),
        keylog: None,
        key_dir: keys,
        ems: true,
        etm: true,
        progress: None,
    })
    .expect("record");
    let capture = std::fs::read(&pcap).expect("read capture");
    for t in ["capture_reader", "attack_pipeline"] {
        write(&dir, t, "lab.pcap", &capture);
    }
    let resumption = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/openssl-resumption.pcap");
    if let Ok(bytes) = std::fs::read(&resumption) {
        for t in ["capture_reader", "attack_pipeline"] {
            write(&dir, t, "openssl-resumption.pcap", &bytes);
        }
    }
    // The first frame of the capture (after the 24-byte header and 16-byte record header),
    // wrapped in pcapng.
    let caplen = u32::from_le_bytes(capture[32..36].try_into().unwrap()) as usize;
    let ng = tiny_pcapng(&capture[40..40 + caplen]);
    for t in ["capture_reader", "attack_pipeline"] {
        write(&dir, t, "tiny.pcapng", &ng);
    }

    // 2. Handshakes against the fuzzers' server.
    for (name, suite) in [("rsa", suites::TLS_RSA_WITH_AES_128_GCM_SHA256), ("ecdhe", suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), ("rsa384", suites::TLS_RSA_WITH_AES_256_GCM_SHA384), ("ecdhe384", suites::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), ("rsa-cbc", suites::TLS_RSA_WITH_AES_128_CBC_SHA), ("ecdhe-cbc", suites::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA), ("tls13", suites::TLS13_AES_128_GCM_SHA256), ("tls13-256", suites::TLS13_AES_256_GCM_SHA384)] {
        for ems in [true, false] {
            let (flights, c2s, s2c) = handshake_flights(suite, ems, 1);
            let tag = format!("{name}-{}", if ems { "ems" } else { "noems" });
            write(&dir, "server_handshake", &tag, &common::join_chunks(&flights));
            let mut both = vec![((c2s.len() * 255) / (c2s.len() + s2c.len())) as u8];
            both.extend_from_slice(&c2s);
            both.extend_from_slice(&s2c);
            write(&dir, "tls_messages", &tag, &both);
            let mut just_server = vec![0u8];
            just_server.extend_from_slice(&s2c);
            write(&dir, "tls_messages", &format!("{tag}-server"), &just_server);
        }
    }

    // 3. Reassembly: a clean connection, then one with reordering and overlap.
    let (syn, ack, fin) = (0x02u8, 0x10u8, 0x11u8);
    let mut clean = vec![0u8];
    seg(&mut clean, 0, false, syn, 0, 0);
    seg(&mut clean, 0, true, syn | ack, 0, 0);
    seg(&mut clean, 0, false, ack, 1, 100);
    seg(&mut clean, 0, true, ack, 1, 200);
    seg(&mut clean, 0, false, fin, 101, 0);
    seg(&mut clean, 0, true, fin, 201, 0);
    write(&dir, "reassembly", "clean", &clean);
    let mut messy = vec![0x81u8];
    seg(&mut messy, 1, false, syn, -300, 0);
    seg(&mut messy, 1, false, ack, 200, 150);
    seg(&mut messy, 1, false, ack, -299, 255);
    seg(&mut messy, 1, false, ack, 100, 120);
    seg(&mut messy, 2, true, ack, 0, 10);
    seg(&mut messy, 1, false, 0x04, 500, 0);
    write(&dir, "reassembly", "messy", &messy);

    let _ = std::fs::remove_dir_all(&tmp);
    println!("seeds written under {}", dir.display());
}
