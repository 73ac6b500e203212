//! Captures as an outside judge sees them: `pfslab record` and `pfslab tap` write pcaps that
//! tshark reads cleanly and decrypts (RSA sessions with the server key, all with a key log) to
//! exactly the bytes of the answer key; seeded recordings are byte-identical; the tap records
//! programs that are not ours; and the failure paths of both commands.
//!
//! Judges and peers: tshark (Debian package tshark), openssl.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use crate::common::*;

/// Every file below `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
    {
        let p = entry.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn no_capture_left(dir: &Path) {
    let left: Vec<_> = files_under(dir)
        .into_iter()
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".pcap") || name.ends_with(".partial") || name.ends_with(".truth.json")
        })
        .collect();
    assert!(left.is_empty(), "capture files left behind: {left:?}");
}

/// tshark's view of a `pfslab record` capture: clean, one TLS session per answer-key entry,
/// the key decrypting exactly the RSA sessions and the key log all of them, to the answer
/// key's bytes. `opts` are extra tshark options (decode-as for a real port).
fn judge_recording(rec: &Recording, key: &Path, keylog: &Path, opts: &[String], client_ip: &str) {
    assert!(!rec.truth.is_empty(), "empty answer key");
    let plain = assert_tshark_clean(&rec.pcap, opts);

    // Every TCP stream is a TLS session, one ClientHello each, and they are the answer key's.
    let streams = plain.streams();
    assert_eq!(
        plain.tls_streams(),
        streams,
        "TCP streams tshark did not dissect as TLS"
    );
    let hellos = plain.client_hellos();
    assert_eq!(
        hellos.len(),
        rec.truth.len(),
        "ClientHellos {hellos:?} vs {} sessions in the answer key",
        rec.truth.len()
    );
    assert_eq!(streams.len(), rec.truth.len(), "TCP streams {streams:?}");
    let randoms: BTreeSet<&str> = hellos.iter().map(|(_, r)| r.as_str()).collect();
    let truth_randoms: BTreeSet<&str> =
        rec.truth.iter().map(|t| t.client_random.as_str()).collect();
    assert_eq!(
        randoms, truth_randoms,
        "client randoms on the wire vs the answer key"
    );
    for (stream, random) in &hellos {
        assert_eq!(
            rec.by_client_random(random).stream,
            *stream,
            "answer key stream number for client random {random}"
        );
    }

    // With the server key: http requests in exactly the RSA streams, to the answer key's bytes.
    let key_opts: Vec<String> = opts.iter().cloned().chain(with_rsa_key(key)).collect();
    let rsa_streams: Vec<u64> = hellos
        .iter()
        .filter(|(_, r)| rec.by_client_random(r).key_exchange == "rsa")
        .map(|(s, _)| *s)
        .collect();
    assert!(
        !rsa_streams.is_empty() && rsa_streams.len() < hellos.len(),
        "need both kinds of session: {:?}",
        rec.truth
    );
    let keyed = overview(&rec.pcap, &key_opts);
    keyed.assert_clean("the capture decrypted with the key");
    assert_eq!(
        keyed.http_request_streams(),
        rsa_streams,
        "streams with a decrypted request (key)"
    );
    let followed = follow_tls(&rec.pcap, &key_opts, &streams);
    for (stream, random) in &hellos {
        let truth = rec.by_client_random(random);
        let got = &followed[stream];
        if truth.key_exchange == "rsa" {
            assert_decrypted_as_truth(got, truth, client_ip, "tshark with the server key");
        } else {
            assert_eq!(truth.key_exchange, "ecdhe");
            assert!(
                got.is_empty(),
                "tshark decrypted ECDHE stream {stream} with only the RSA key: {got:?}"
            );
        }
    }

    // With the server's key log: every session, same bytes.
    let log_opts: Vec<String> = opts.iter().cloned().chain(with_keylog(keylog)).collect();
    let followed = follow_tls(&rec.pcap, &log_opts, &streams);
    for (stream, random) in &hellos {
        assert_decrypted_as_truth(
            &followed[stream],
            rec.by_client_random(random),
            client_ip,
            "tshark with the key log",
        );
    }
}

fn assert_decrypted_as_truth(got: &Followed, truth: &TruthSession, client_ip: &str, how: &str) {
    let stream = truth.stream;
    assert!(
        got.first_addr.starts_with(&format!("{client_ip}:")),
        "{how}: stream {stream} first speaker {:?}",
        got.first_addr
    );
    let client = String::from_utf8_lossy(&got.first);
    let server = String::from_utf8_lossy(&got.second);
    // The secrets an eavesdropper is after, then the exact bytes.
    assert!(
        client.contains(&format!("password={}", truth.password)),
        "{how}: stream {stream} request {client:?}"
    );
    let vault = truth
        .server_data
        .lines()
        .find(|l| l.contains("the vault code is"))
        .unwrap_or_else(|| panic!("no vault line in {truth:?}"));
    assert!(
        server.lines().any(|l| l == vault),
        "{how}: stream {stream} response lacks {vault:?}: {server:?}"
    );
    assert_eq!(
        client, truth.client_data,
        "{how}: stream {stream} client → server bytes"
    );
    assert_eq!(
        server, truth.server_data,
        "{how}: stream {stream} server → client bytes"
    );
}

// ---------------------------------------------------------------------------------------------
// pfslab record, seeded

#[test]
fn seeded_recording_is_clean_for_tshark_with_every_stream_dissected_as_tls() {
    let dir = TestDir::new("record-seeded-clean");
    let rec = record(
        dir.path(),
        "lab",
        &dir.join("keys"),
        &["--seed", "7", "--sessions", "rsa=3,ecdhe=3"],
    );
    assert_eq!(rec.truth.len(), 6, "{:?}", rec.truth);
    assert_eq!(
        rec.truth.iter().filter(|t| t.key_exchange == "rsa").count(),
        3
    );
    for t in &rec.truth {
        let want = if t.key_exchange == "rsa" {
            RSA.iana
        } else {
            ECDHE.iana
        };
        assert_eq!(t.cipher_suite, want, "{t:?}");
    }
    let plain = assert_tshark_clean(&rec.pcap, &[]);
    assert_eq!(
        plain.tls_streams(),
        plain.streams(),
        "TCP streams tshark did not dissect as TLS"
    );
    let hellos = plain.client_hellos();
    assert_eq!(hellos.len(), 6, "ClientHellos: {hellos:?}");
    assert_eq!(
        hellos.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (0..6).collect::<Vec<u64>>()
    );
    // The server appears as 10.0.0.1:443 and the clients as 10.0.0.2:40000+i.
    let endpoints = tshark(
        &rec.pcap,
        &[],
        &[
            "-Y",
            "tls.handshake.type == 1",
            "-T",
            "fields",
            "-e",
            "ip.src",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.dst",
            "-e",
            "tcp.dstport",
        ],
    );
    let want: Vec<String> = (0..6)
        .map(|i| format!("10.0.0.2\t{}\t10.0.0.1\t443", 40000 + i))
        .collect();
    assert_eq!(
        endpoints.lines().map(str::to_string).collect::<Vec<_>>(),
        want
    );
    assert!(
        rec.done
            .stdout
            .contains("the server appears as 10.0.0.1:443"),
        "{}",
        rec.done.describe()
    );
}

#[test]
fn tshark_decrypts_exactly_the_rsa_sessions_of_a_seeded_recording_with_the_key_and_all_with_the_key_log(
) {
    let dir = TestDir::new("record-seeded-decrypt");
    let keylog = dir.join("server.keylog");
    let keys = dir.join("keys");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &["--seed", "7", "--keylog", path_str(&keylog)],
    );
    judge_recording(&rec, &keys.join("server.key"), &keylog, &[], "10.0.0.2");
}

#[test]
fn tshark_decrypts_a_recording_without_ems() {
    let dir = TestDir::new("record-no-ems");
    let keylog = dir.join("server.keylog");
    let keys = dir.join("keys");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &[
            "--seed",
            "3",
            "--sessions",
            "rsa=2,ecdhe=1",
            "--no-ems",
            "--keylog",
            path_str(&keylog),
        ],
    );
    assert_eq!(rec.truth.len(), 3);
    // No ClientHello offers extension 23 (extended_master_secret).
    let ems = tshark(
        &rec.pcap,
        &[],
        &[
            "-Y",
            "tls.handshake.type == 1 && tls.handshake.extension.type == 23",
        ],
    );
    assert!(
        ems.trim().is_empty(),
        "--no-ems clients offered EMS:\n{ems}"
    );
    judge_recording(&rec, &keys.join("server.key"), &keylog, &[], "10.0.0.2");
}

// ---------------------------------------------------------------------------------------------
// pfslab record, real addresses; reproducibility

#[test]
fn unseeded_recording_on_real_addresses_is_clean_and_decrypts() {
    let dir = TestDir::new("record-unseeded");
    let keylog = dir.join("server.keylog");
    let keys = dir.join("keys");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &["--sessions", "rsa=2,ecdhe=2", "--keylog", path_str(&keylog)],
    );
    let port = rec.server_port();
    assert!(
        port != 443 && port != 0,
        "unseeded recording should show the real port, got {port}"
    );

    // inspect (no key) shows the same server address for every session.
    let inspect = run(pfslab(&["inspect", path_str(&rec.pcap)]), b"");
    assert!(inspect.status.success(), "{}", inspect.describe());
    let server = format!("→ 127.0.0.1:{port} ");
    assert_eq!(
        inspect.stdout.matches(&server).count(),
        4,
        "inspect rows naming {server:?}: {}",
        inspect.describe()
    );

    judge_recording(
        &rec,
        &keys.join("server.key"),
        &keylog,
        &decode_as(port),
        "127.0.0.1",
    );
}

#[test]
fn unseeded_recordings_differ_and_seeded_ones_are_byte_identical() {
    let dir = TestDir::new("record-reproducible");
    let keys = dir.join("keys");
    let seeded_a = record(dir.path(), "seeded-a", &keys, &["--seed", "7"]);
    assert!(
        keys.join("server.key").is_file(),
        "record did not generate the missing key"
    );
    let seeded_b = record(dir.path(), "seeded-b", &keys, &["--seed", "7"]);
    let seeded_c = record(dir.path(), "seeded-c", &keys, &["--seed", "8"]);
    let free_a = record(dir.path(), "free-a", &keys, &[]);
    let free_b = record(dir.path(), "free-b", &keys, &[]);

    assert_eq!(
        sha256_hex(&seeded_a.pcap),
        sha256_hex(&seeded_b.pcap),
        "seed 7 twice with the same keys"
    );
    let (ta, tb) = (
        json_file(&seeded_a.truth_path),
        json_file(&seeded_b.truth_path),
    );
    assert_eq!(
        ta["sessions"], tb["sessions"],
        "answer keys of two seed-7 runs"
    );
    assert_ne!(
        sha256_hex(&seeded_a.pcap),
        sha256_hex(&seeded_c.pcap),
        "seeds 7 and 8 gave the same capture"
    );
    assert_ne!(
        sha256_hex(&free_a.pcap),
        sha256_hex(&free_b.pcap),
        "two unseeded recordings are identical"
    );
    let randoms = |r: &Recording| {
        r.truth
            .iter()
            .map(|t| t.client_random.clone())
            .collect::<BTreeSet<_>>()
    };
    assert!(
        randoms(&free_a).is_disjoint(&randoms(&free_b)),
        "unseeded runs share client randoms"
    );
}

// ---------------------------------------------------------------------------------------------
// pfslab tap between programs that are not ours

#[test]
fn tap_records_openssl_s_server_and_s_client_and_tshark_decrypts_the_rsa_session() {
    let dir = TestDir::new("tap-openssl");
    let (key, cert) = keygen(&dir, "keys");
    let keylog = dir.join("s_server.keylog");
    let (_server, server_port) = openssl_s_server_logging(&dir, &key, &cert, &keylog, None);
    let cap = dir.join("tap.pcap");
    let tap = Tap::start(server_port, &cap, Some(2));

    let token = unique_token("tap-openssl");
    let rsa_request = format!("GET /{token}-rsa HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let ecdhe_request = format!("GET /{token}-ecdhe HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let rsa_reply = openssl_s_client_page(tap.port, RSA.openssl, &rsa_request, None).stdout;
    let ecdhe_reply = openssl_s_client_page(tap.port, ECDHE.openssl, &ecdhe_request, None).stdout;
    assert!(
        rsa_reply.contains(&format!("Cipher is {}", RSA.openssl)),
        "{rsa_reply}"
    );
    assert!(
        ecdhe_reply.contains(&format!("Cipher is {}", ECDHE.openssl)),
        "{ecdhe_reply}"
    );
    let done = tap.finish();
    assert!(
        done.stderr.contains("2 connections relayed"),
        "{}",
        done.describe()
    );

    let opts = decode_as(server_port);
    let plain = assert_tshark_clean(&cap, &opts);
    assert_eq!(
        plain.syn_ports(),
        vec![server_port, server_port],
        "connections in the tap's capture"
    );
    assert_eq!(plain.tls_streams(), vec![0, 1]);
    let suites = plain.server_hello_suites();
    assert_eq!(
        suites,
        vec![(0, "0x009c".to_string()), (1, "0xc02f".to_string())],
        "ServerHello suites per stream"
    );

    // The server key opens the RSA session only, to the bytes both programs saw.
    let key_opts: Vec<String> = opts.iter().cloned().chain(with_rsa_key(&key)).collect();
    let keyed = overview(&cap, &key_opts);
    keyed.assert_clean("the tap's capture decrypted with the key");
    assert_eq!(keyed.http_request_streams(), vec![0]);
    let f = follow_tls(&cap, &key_opts, &[0, 1]);
    assert_eq!(String::from_utf8_lossy(&f[&0].first), rsa_request);
    assert_eq!(String::from_utf8_lossy(&f[&0].second), rsa_reply);
    assert!(
        f[&1].is_empty(),
        "ECDHE decrypted with the RSA key: {:?}",
        f[&1]
    );

    // s_server's key log opens both.
    let log_opts: Vec<String> = opts.iter().cloned().chain(with_keylog(&keylog)).collect();
    let f = follow_tls(&cap, &log_opts, &[0, 1]);
    assert_eq!(String::from_utf8_lossy(&f[&0].first), rsa_request);
    assert_eq!(String::from_utf8_lossy(&f[&0].second), rsa_reply);
    assert_eq!(String::from_utf8_lossy(&f[&1].first), ecdhe_request);
    assert_eq!(String::from_utf8_lossy(&f[&1].second), ecdhe_reply);
}

// ---------------------------------------------------------------------------------------------
// Failure paths

#[test]
fn tap_closes_a_client_when_the_upstream_refuses_and_says_so_in_one_line() {
    let dir = TestDir::new("tap-refused");
    let upstream = free_port(); // nothing listens there
    let cap = dir.join("refused.pcap");
    let tap = Tap::start(upstream, &cap, Some(1));

    let mut s = TcpStream::connect(("127.0.0.1", tap.port)).expect("connect to the tap");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set_read_timeout");
    let _ = s.write_all(b"hello?");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!(
            "tap relayed {n} bytes from a refused upstream: {:?}",
            &buf[..n]
        ),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            panic!("the tap did not close the client within 10 s")
        }
        Err(_) => {} // reset: closed too
    }
    let done = tap.finish();

    let addr = format!("127.0.0.1:{upstream}");
    let lines: Vec<&str> = done.stderr.lines().filter(|l| l.contains(&addr)).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line about {addr}: {}",
        done.describe()
    );
    assert!(
        lines[0].to_lowercase().contains("refused"),
        "{}",
        done.describe()
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());
    // The capture is a valid (empty) pcap.
    let packets = tshark(&cap, &[], &["-T", "fields", "-e", "frame.number"]);
    assert!(packets.trim().is_empty(), "{packets}");
}

#[test]
fn record_into_a_directory_that_cannot_be_created_fails_with_one_line_and_leaves_no_capture() {
    let dir = TestDir::new("record-bad-out");
    let blocker = dir.write("a-file", b"not a directory\n");
    let out = blocker.join("x").join("y.pcap");
    let done = run(
        pfslab(&[
            "record",
            "--out",
            path_str(&out),
            "--keys",
            path_str(&dir.join("keys")),
            "--seed",
            "1",
        ]),
        b"",
    );
    let line = single_error_line(&done);
    assert!(
        line.contains(path_str(&blocker)),
        "the message should name the path: {line}"
    );
    assert!(line.contains("Not a directory"), "{line}");
    no_capture_left(dir.path());
}

#[test]
fn tap_on_a_port_in_use_fails_with_one_line() {
    let dir = TestDir::new("tap-port-in-use");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local_addr").to_string();
    let cap = dir.join("busy.pcap");
    let done = run(
        pfslab(&[
            "tap",
            "--listen",
            &addr,
            "--upstream",
            "127.0.0.1:9",
            "--write",
            path_str(&cap),
            "--connections",
            "1",
        ]),
        b"",
    );
    let line = single_error_line(&done);
    assert!(
        line.contains(&addr),
        "the message should name {addr}: {line}"
    );
    assert!(line.contains("in use"), "{line}");
    no_capture_left(dir.path());
    drop(taken);
}

#[test]
fn tap_writing_into_an_unwritable_location_fails_and_leaves_no_file() {
    // Under a regular file: unwritable even for root.
    let dir = TestDir::new("tap-unwritable");
    let blocker = dir.write("a-file", b"not a directory\n");
    let cap = blocker.join("x.pcap");
    let done = run(
        pfslab(&[
            "tap",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:9",
            "--write",
            path_str(&cap),
            "--connections",
            "1",
        ]),
        b"",
    );
    let line = single_error_line(&done);
    assert!(
        line.contains(path_str(&cap)),
        "the message should name {}: {line}",
        cap.display()
    );
    assert!(
        !done.stdout.contains("listening"),
        "tap listened before it could record: {}",
        done.describe()
    );
    no_capture_left(dir.path());
    assert_eq!(
        line.matches("Not a directory").count(),
        1,
        "the error line repeats its cause: {line}"
    );
}

#[test]
fn tap_stops_on_sigterm_and_renames_its_capture_into_place() {
    let dir = TestDir::new("tap-sigterm");
    let echo = echo_server(1);
    let cap = dir.join("term.pcap");
    let tap = Tap::start(echo, &cap, None);
    let partial = dir.join("term.pcap.partial");
    let sent = b"hello through the tap\n";
    assert_eq!(
        tcp_exchange(tap.port, sent),
        sent.to_vec(),
        "echo through the tap"
    );

    // Wait (bounded) for the relayed connection to be recorded, then ask the tap to stop.
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    while std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) <= 24 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing recorded into {}: {}",
            partial.display(),
            tap.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!cap.exists(), "capture in place before the tap stopped");
    let kill = run(
        {
            let mut c = std::process::Command::new("kill");
            c.args(["-TERM", &tap.proc.id().to_string()]);
            c
        },
        b"",
    );
    assert!(kill.status.success(), "{}", kill.describe());
    tap.finish(); // exit 0, F.pcap in place, no .partial

    let f = follow(&cap, &[], "tcp", &[0]);
    assert_eq!(f[&0].first, sent.to_vec(), "client → server bytes recorded");
    assert_eq!(
        f[&0].second,
        sent.to_vec(),
        "server → client bytes recorded"
    );
    assert_tshark_clean(&cap, &[]);
}

/// The judge can fail: a malformed ServerHello and a missing segment are flagged.
#[test]
fn tshark_judge_flags_a_malformed_handshake_and_a_missing_segment() {
    let dir = TestDir::new("judge-self-test");
    let rec = record(
        dir.path(),
        "lab",
        &dir.join("keys"),
        &["--seed", "7", "--sessions", "rsa=1,ecdhe=1"],
    );
    let pcap = Pcap::load(&rec.pcap);

    let mut malformed = pcap.clone();
    let i = malformed
        .find(|t, p| t.src_port == 443 && p.len() > 5 + 4 + 2 + 32 && p[0] == 0x16 && p[5] == 0x02)
        .expect("ServerHello");
    let t = tcp_view(&malformed.records[i].data).expect("TCP");
    malformed.records[i].data[t.payload.start + 5 + 4 + 2 + 32] = 0xff; // session_id length
    let path = dir.join("malformed.pcap");
    malformed.save(&path);
    assert!(
        overview(&path, &[]).rows.iter().any(|r| r.malformed),
        "tshark did not flag the malformed ServerHello"
    );

    let mut gap = pcap.clone();
    let i = gap
        .find(|t, p| t.src_port == 40000 && p.first() == Some(&0x17))
        .expect("client application data");
    gap.records.remove(i);
    let path = dir.join("gap.pcap");
    gap.save(&path);
    assert!(
        overview(&path, &[])
            .rows
            .iter()
            .any(|r| r.severities.iter().any(|s| *s >= PI_WARN)),
        "tshark did not warn about the missing segment"
    );
}
