//! `pfslab attack` from the outside: on `pfslab record` captures it recovers exactly the answer
//! key's bytes; on real OpenSSL and GnuTLS traffic (recorded through `pfslab tap`, and in
//! committed tcpdump/dumpcap fixtures) it opens the RSA-transport sessions and explains why the
//! ECDHE ones stay shut; its `--keylog-out` lets tshark decrypt the same bytes; and damaged or
//! foreign input gives clear notes, warnings and errors instead of panics.
//!
//! Judges and peers: tshark (Debian package tshark), openssl, gnutls-cli (gnutls-bin).

use std::path::Path;

use crate::common::*;

fn verdict_for<'a>(verdicts: &'a [Verdict], random: &str) -> &'a Verdict {
    verdicts
        .iter()
        .find(|v| v.client_random == random)
        .unwrap_or_else(|| {
            panic!("attack reported no session with client random {random}: {verdicts:#?}")
        })
}

fn by_stream(verdicts: &[Verdict], stream: u64) -> &Verdict {
    verdicts
        .iter()
        .find(|v| v.stream == stream)
        .unwrap_or_else(|| panic!("attack reported no stream {stream}: {verdicts:#?}"))
}

fn assert_matches_truth(v: &Verdict, t: &TruthSession, how: &str) {
    assert_eq!(v.verdict, "decrypted", "{how}: stream {}: {v:#?}", t.stream);
    assert_eq!(
        v.client_data, t.client_data,
        "{how}: stream {} client → server",
        t.stream
    );
    assert_eq!(
        v.server_data, t.server_data,
        "{how}: stream {} server → client",
        t.stream
    );
    assert!(
        v.client_data.contains(&format!("password={}", t.password)),
        "{how}: {v:#?}"
    );
}

/// ECDHE with the right server key: forward-secret, and the reason says the key only signed
/// the ServerKeyExchange, whose signature verifies.
fn assert_forward_secret_same_server(v: &Verdict) {
    assert_eq!(v.verdict, "forward-secret", "{v:#?}");
    assert!(
        v.reason.contains("ServerKeyExchange"),
        "reason should name the ServerKeyExchange: {:?}",
        v.reason
    );
    assert!(
        v.reason.contains("signature verifies"),
        "reason should say the signature verifies: {:?}",
        v.reason
    );
    assert!(
        v.client_data.is_empty() && v.server_data.is_empty(),
        "forward-secret session with data: {v:#?}"
    );
    assert!(
        v.raw["master_secret"].is_null(),
        "forward-secret session with a master secret: {v:#?}"
    );
}

/// A seeded recording with the server's key log, in a fresh directory.
fn seeded(dir: &TestDir) -> (Recording, std::path::PathBuf, std::path::PathBuf) {
    let (rec, key, keylog) = seeded_recording(dir, None);
    assert_eq!(rec.truth.len(), 6);
    (rec, key, keylog)
}

// ---------------------------------------------------------------------------------------------
// pfslab record captures against their answer key

#[test]
fn attack_with_the_key_decrypts_exactly_the_rsa_sessions_of_a_recording_to_the_answer_key() {
    let dir = TestDir::new("attack-seeded-key");
    let (rec, key, _) = seeded(&dir);
    let (verdicts, _) = attack_json(&["--key", path_str(&key), path_str(&rec.pcap)]);
    assert_eq!(verdicts.len(), rec.truth.len(), "{verdicts:#?}");
    for t in &rec.truth {
        let v = verdict_for(&verdicts, &t.client_random);
        assert_eq!(v.stream, t.stream);
        assert_eq!(v.key_exchange, t.key_exchange);
        assert_eq!(v.cipher_suite, t.cipher_suite);
        assert_eq!(v.server, "10.0.0.1:443");
        assert_eq!(v.client, format!("10.0.0.2:{}", 40000 + t.stream));
        assert!(v.capture.ends_with("lab.pcap"), "{v:#?}");
        if t.key_exchange == "rsa" {
            assert_matches_truth(v, t, "attack --key");
        } else {
            assert_forward_secret_same_server(v);
        }
    }
}

#[test]
fn attack_with_the_key_log_decrypts_every_session_of_a_recording_to_the_answer_key() {
    let dir = TestDir::new("attack-seeded-keylog");
    let (rec, key, keylog) = seeded(&dir);
    let masters = keylog_masters(&keylog);
    assert_eq!(
        masters.len(),
        rec.truth.len(),
        "server key log: {masters:?}"
    );
    for args in [
        vec!["--keylog", path_str(&keylog)],
        vec!["--keylog", path_str(&keylog), "--key", path_str(&key)],
    ] {
        let mut all = args.clone();
        all.push(path_str(&rec.pcap));
        let (verdicts, _) = attack_json(&all);
        assert_eq!(verdicts.len(), rec.truth.len(), "{args:?}: {verdicts:#?}");
        for t in &rec.truth {
            let v = verdict_for(&verdicts, &t.client_random);
            assert_matches_truth(v, t, &format!("attack {args:?}"));
            assert_eq!(
                v.raw["master_secret"]
                    .as_str()
                    .map(str::to_ascii_lowercase)
                    .as_ref(),
                masters.get(&t.client_random),
                "{args:?}: {v:#?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Real peers through the tap

#[derive(Clone, Copy, Debug)]
enum Peer {
    OpensslClient,
    GnutlsClient,
}

/// `peer` → tap → `openssl s_server -www`, one RSA and one ECDHE session, extended master
/// secret on or off (off: OpenSSL's server is configured without it; gnutls-cli is given
/// `%NO_SESSION_HASH`). The stolen key opens the RSA session; the server's key log both.
fn real_peers_through_the_tap(test: &str, peer: Peer, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let keylog = dir.join("s_server.keylog");
    let conf = (!ems && matches!(peer, Peer::OpensslClient)).then(|| no_ems_openssl_conf(&dir));
    let (_server, server_port) =
        openssl_s_server_logging(&dir, &key, &cert, &keylog, conf.as_deref());
    let cap = dir.join("tap.pcap");
    let tap = Tap::start(server_port, &cap, Some(2));

    let token = unique_token(test);
    let rsa_request = format!("GET /{token}-rsa HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let ecdhe_request = format!("GET /{token}-ecdhe HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let (rsa_out, ecdhe_out) = match peer {
        Peer::OpensslClient => (
            openssl_s_client_page(tap.port, RSA.openssl, &rsa_request, None).stdout,
            openssl_s_client_page(tap.port, ECDHE.openssl, &ecdhe_request, None).stdout,
        ),
        Peer::GnutlsClient => (
            gnutls_cli_insecure(tap.port, RSA.gnutls_kx, ems, &rsa_request).stdout,
            gnutls_cli_insecure(tap.port, ECDHE.gnutls_kx, ems, &ecdhe_request).stdout,
        ),
    };
    let ems_line = format!("Extended master secret: {}", if ems { "yes" } else { "no" });
    for (out, suite) in [(&rsa_out, RSA), (&ecdhe_out, ECDHE)] {
        assert!(
            out.contains(&format!("Cipher is {}", suite.openssl)),
            "{peer:?} {}: {out}",
            suite.cli
        );
        assert!(
            out.contains(&ems_line),
            "{peer:?} {}: expected {ems_line:?}: {out}",
            suite.cli
        );
    }
    tap.finish();

    // The stolen key: RSA decrypted to what was sent and what came back, ECDHE shut.
    let (verdicts, _) = attack_json(&["--key", path_str(&key), path_str(&cap)]);
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    let (rsa, ecdhe) = (by_stream(&verdicts, 0), by_stream(&verdicts, 1));
    assert_eq!(
        (rsa.cipher_suite.as_str(), ecdhe.cipher_suite.as_str()),
        (RSA.iana, ECDHE.iana),
        "{verdicts:#?}"
    );
    for v in [rsa, ecdhe] {
        assert_eq!(
            v.raw["extended_master_secret"].as_bool(),
            Some(ems),
            "{v:#?}"
        );
        assert_eq!(v.server, format!("127.0.0.1:{server_port}"), "{v:#?}");
    }
    assert_eq!(rsa.verdict, "decrypted", "{rsa:#?}");
    assert_eq!(rsa.client_data, rsa_request);
    assert!(
        rsa.server_data.starts_with("HTTP/1.0 200 ok\r\n"),
        "{rsa:#?}"
    );
    assert!(
        rsa.server_data
            .contains(&format!("Cipher is {}", RSA.openssl)),
        "{rsa:#?}"
    );
    assert!(rsa.server_data.contains(&ems_line), "{rsa:#?}");
    if let Peer::OpensslClient = peer {
        assert_eq!(
            rsa.server_data, rsa_out,
            "s_client printed exactly what the server sent"
        );
    } else {
        assert!(
            rsa_out.contains(&rsa.server_data),
            "gnutls-cli's output lacks the decrypted page"
        );
    }
    assert_forward_secret_same_server(ecdhe);

    // The server's key log: both sessions.
    let (verdicts, _) = attack_json(&["--keylog", path_str(&keylog), path_str(&cap)]);
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    for (stream, request, out, suite) in [
        (0, &rsa_request, &rsa_out, RSA),
        (1, &ecdhe_request, &ecdhe_out, ECDHE),
    ] {
        let v = by_stream(&verdicts, stream);
        assert_eq!(v.verdict, "decrypted", "{v:#?}");
        assert_eq!(&v.client_data, request);
        assert!(
            v.server_data
                .contains(&format!("Cipher is {}", suite.openssl)),
            "{v:#?}"
        );
        assert!(
            out.contains(&v.server_data),
            "{peer:?} printed something else than the decrypted page: {v:#?}"
        );
    }
}

#[test]
fn openssl_client_and_server_with_ems_through_the_tap() {
    real_peers_through_the_tap("real-openssl-ems", Peer::OpensslClient, true);
}

#[test]
fn openssl_client_and_server_without_ems_through_the_tap() {
    real_peers_through_the_tap("real-openssl-no-ems", Peer::OpensslClient, false);
}

#[test]
fn gnutls_client_and_openssl_server_with_ems_through_the_tap() {
    real_peers_through_the_tap("real-gnutls-ems", Peer::GnutlsClient, true);
}

#[test]
fn gnutls_client_and_openssl_server_without_ems_through_the_tap() {
    real_peers_through_the_tap("real-gnutls-no-ems", Peer::GnutlsClient, false);
}

// ---------------------------------------------------------------------------------------------
// Committed fixtures (tests/data/README.md says how they were made)

fn fixture(name: &str) -> std::path::PathBuf {
    let p = data_dir().join(name);
    let len = std::fs::metadata(&p)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
        .len();
    assert!(len < 50 * 1024, "fixture {} is {len} bytes", p.display());
    p
}

#[test]
fn committed_openssl_captures_decrypt_with_the_fixture_key() {
    let key = fixture("fixture-server.key");
    let (pcap, pcapng) = (fixture("openssl-rsa.pcap"), fixture("openssl-mixed.pcapng"));
    assert_eq!(
        read(&pcap)[..4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        "tcpdump's classic pcap"
    );
    assert_eq!(
        read(&pcapng)[..4],
        [0x0a, 0x0d, 0x0d, 0x0a],
        "dumpcap's pcapng"
    );

    let (verdicts, _) = attack_json(&["--key", path_str(&key), path_str(&pcap), path_str(&pcapng)]);
    assert_eq!(verdicts.len(), 3, "{verdicts:#?}");
    let in_file = |name: &str| {
        verdicts
            .iter()
            .filter(|v| v.capture.ends_with(name))
            .collect::<Vec<_>>()
    };
    let (single, mixed) = (in_file("openssl-rsa.pcap"), in_file("openssl-mixed.pcapng"));
    assert_eq!((single.len(), mixed.len()), (1, 2), "{verdicts:#?}");

    let v = single[0];
    assert_eq!(
        (v.cipher_suite.as_str(), v.verdict.as_str()),
        (RSA.iana, "decrypted"),
        "{v:#?}"
    );
    assert_eq!(
        v.raw["extended_master_secret"].as_bool(),
        Some(true),
        "{v:#?}"
    );
    assert!(
        v.client_data
            .starts_with("GET /fixture-openssl-rsa HTTP/1.0\r\n"),
        "{v:#?}"
    );
    assert!(
        v.server_data.contains("Cipher is AES128-GCM-SHA256"),
        "{v:#?}"
    );

    let rsa = mixed
        .iter()
        .find(|v| v.key_exchange == "rsa")
        .unwrap_or_else(|| panic!("{mixed:#?}"));
    let ecdhe = mixed
        .iter()
        .find(|v| v.key_exchange == "ecdhe")
        .unwrap_or_else(|| panic!("{mixed:#?}"));
    assert_eq!(rsa.verdict, "decrypted", "{rsa:#?}");
    assert!(
        rsa.client_data
            .starts_with("GET /fixture-openssl-mixed-rsa HTTP/1.0\r\n"),
        "{rsa:#?}"
    );
    assert_forward_secret_same_server(ecdhe);
}

#[test]
fn committed_openssl_captures_decrypt_with_the_fixture_key_log() {
    let keylog = fixture("openssl-fixtures.keylog");
    let (pcap, pcapng) = (fixture("openssl-rsa.pcap"), fixture("openssl-mixed.pcapng"));
    let (verdicts, _) = attack_json(&[
        "--keylog",
        path_str(&keylog),
        path_str(&pcap),
        path_str(&pcapng),
    ]);
    assert_eq!(verdicts.len(), 3, "{verdicts:#?}");
    let mut lines: Vec<String> = verdicts
        .iter()
        .map(|v| {
            assert_eq!(v.verdict, "decrypted", "{v:#?}");
            v.client_data.lines().next().unwrap_or_default().to_string()
        })
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "GET /fixture-openssl-mixed-ecdhe HTTP/1.0",
            "GET /fixture-openssl-mixed-rsa HTTP/1.0",
            "GET /fixture-openssl-rsa HTTP/1.0"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// --keylog-out and tshark

/// tshark given attack's `--keylog-out` decrypts the sessions attack decrypted, to the same bytes.
fn keylog_out_agrees_with_tshark(
    dir: &TestDir,
    cap: &Path,
    key: &Path,
    opts: &[String],
    want_decrypted: usize,
) {
    let out = dir.join("recovered.keylog");
    let (verdicts, _) = attack_json(&[
        "--key",
        path_str(key),
        "--keylog-out",
        path_str(&out),
        path_str(cap),
    ]);
    let decrypted: Vec<&Verdict> = verdicts
        .iter()
        .filter(|v| v.verdict == "decrypted")
        .collect();
    assert_eq!(decrypted.len(), want_decrypted, "{verdicts:#?}");
    let masters = keylog_masters(&out);
    assert_eq!(
        masters.len(),
        decrypted.len(),
        "one CLIENT_RANDOM line per decrypted session: {masters:?}"
    );
    for v in &decrypted {
        assert_eq!(
            masters.get(&v.client_random).map(String::as_str),
            v.raw["master_secret"].as_str(),
            "{v:#?}"
        );
    }

    let log_opts: Vec<String> = opts.iter().cloned().chain(with_keylog(&out)).collect();
    let streams: Vec<u64> = verdicts.iter().map(|v| v.stream).collect();
    let followed = follow_tls(cap, &log_opts, &streams);
    for v in &verdicts {
        let f = &followed[&v.stream];
        if v.verdict == "decrypted" {
            assert_eq!(f.first_addr, v.client, "stream {}", v.stream);
            assert_eq!(
                String::from_utf8_lossy(&f.first),
                v.client_data,
                "stream {} client → server",
                v.stream
            );
            assert_eq!(
                String::from_utf8_lossy(&f.second),
                v.server_data,
                "stream {} server → client",
                v.stream
            );
        } else {
            assert!(
                f.is_empty(),
                "tshark decrypted stream {} that attack did not: {f:?}",
                v.stream
            );
        }
    }
}

#[test]
fn keylog_out_lets_tshark_decrypt_a_recording_to_the_same_bytes() {
    let dir = TestDir::new("attack-keylog-out");
    let (rec, key, _) = seeded(&dir);
    keylog_out_agrees_with_tshark(&dir, &rec.pcap, &key, &[], 3);
}

#[test]
fn keylog_out_lets_tshark_decrypt_the_committed_pcapng_to_the_same_bytes() {
    let dir = TestDir::new("attack-keylog-out-fixture");
    let opts = decode_as(39175); // the fixtures' server port
    keylog_out_agrees_with_tshark(
        &dir,
        &fixture("openssl-mixed.pcapng"),
        &fixture("fixture-server.key"),
        &opts,
        1,
    );
}

// ---------------------------------------------------------------------------------------------
// Failure paths

#[test]
fn a_key_of_another_server_opens_nothing_and_says_whose_key_it_is_not() {
    let dir = TestDir::new("attack-other-key");
    let (rec, _, _) = seeded(&dir);
    let (other, _) = keygen(&dir, "other");
    let (verdicts, _) = attack_json(&["--key", path_str(&other), path_str(&rec.pcap)]);
    assert_eq!(verdicts.len(), rec.truth.len());
    for t in &rec.truth {
        let v = verdict_for(&verdicts, &t.client_random);
        assert!(
            v.client_data.is_empty() && v.server_data.is_empty(),
            "{v:#?}"
        );
        if t.key_exchange == "rsa" {
            assert_eq!(v.verdict, "not-decrypted", "{v:#?}");
            assert!(
                v.reason.contains("not this server's key"),
                "reason should say the key is not this server's: {:?}",
                v.reason
            );
        } else {
            assert_eq!(v.verdict, "forward-secret", "{v:#?}");
        }
    }
}

#[test]
fn a_truncated_capture_warns_and_analyses_the_sessions_before_the_cut() {
    let dir = TestDir::new("attack-truncated");
    let (rec, key, _) = seeded(&dir);
    let pcap = Pcap::load(&rec.pcap);
    // Cut in the middle of the first packet of stream 3 (client port 40003).
    let i = pcap
        .find(|t, _| t.src_port == 40003 || t.dst_port == 40003)
        .expect("a packet of stream 3");
    let r = &pcap.records[i];
    let cut = r.offset + 16 + r.data.len() / 2;
    let truncated = dir.join("truncated.pcap");
    write(&truncated, &read(&rec.pcap)[..cut]);

    let (verdicts, done) = attack_json(&["--key", path_str(&key), path_str(&truncated)]);
    let warning = done
        .stderr
        .lines()
        .find(|l| l.to_lowercase().contains("truncated"))
        .unwrap_or_else(|| panic!("no warning about the truncation: {}", done.describe()));
    assert!(
        warning.contains("truncated.pcap"),
        "the warning should name the file: {warning}"
    );
    for t in rec.truth.iter().filter(|t| t.stream < 3) {
        let v = verdict_for(&verdicts, &t.client_random);
        if t.key_exchange == "rsa" {
            assert_matches_truth(v, t, "before the cut");
        } else {
            assert_forward_secret_same_server(v);
        }
    }
    assert_eq!(
        warning.matches("truncated.pcap").count(),
        1,
        "the warning repeats the file name: {warning}"
    );
}

#[test]
fn a_missing_server_segment_is_reported_as_a_gap() {
    let dir = TestDir::new("attack-gap");
    let (rec, key, _) = seeded(&dir);
    let mut pcap = Pcap::load(&rec.pcap);
    // The server's application data of stream 0 (RSA): 10.0.0.1:443 → 10.0.0.2:40000.
    assert_eq!(rec.truth[0].key_exchange, "rsa");
    let i = pcap
        .find(|t, p| t.src_port == 443 && t.dst_port == 40000 && p.first() == Some(&0x17))
        .expect("server application data");
    pcap.records.remove(i);
    let gap = dir.join("gap.pcap");
    pcap.save(&gap);

    let (verdicts, done) = attack_json(&["--key", path_str(&key), path_str(&gap)]);
    assert_eq!(verdicts.len(), rec.truth.len(), "{}", done.describe());
    let v = by_stream(&verdicts, 0);
    let notes = v.notes.join(" | ");
    assert!(
        notes.contains("server"),
        "notes should name the direction: {v:#?}"
    );
    assert!(
        notes.contains("missing") || notes.contains("not captured") || notes.contains("gap"),
        "notes should mention the gap: {v:#?}"
    );
    assert_eq!(
        v.client_data, rec.truth[0].client_data,
        "the other direction is intact"
    );
    assert!(
        rec.truth[0].server_data.starts_with(&v.server_data),
        "server data past the gap: {v:#?}"
    );
    assert!(!v.server_data.contains("vault code"), "{v:#?}");
    // The other RSA sessions are untouched.
    for t in rec
        .truth
        .iter()
        .filter(|t| t.stream != 0 && t.key_exchange == "rsa")
    {
        assert_matches_truth(verdict_for(&verdicts, &t.client_random), t, "after the gap");
    }
}

#[test]
fn a_tampered_record_fails_gcm_authentication() {
    let dir = TestDir::new("attack-tampered");
    let (rec, key, _) = seeded(&dir);
    let mut pcap = Pcap::load(&rec.pcap);
    // One bit of the client's application data in stream 0 (the TCP checksum goes stale too).
    let i = pcap
        .find(|t, p| t.src_port == 40000 && t.dst_port == 443 && p.first() == Some(&0x17))
        .expect("client application data");
    let t = tcp_view(&pcap.records[i].data).expect("TCP");
    let at = t.payload.start + 5 + 8 + 3; // past the record header and the explicit nonce
    assert!(at < t.payload.end);
    pcap.records[i].data[at] ^= 0x01;
    let tampered = dir.join("tampered.pcap");
    pcap.save(&tampered);

    let (verdicts, _) = attack_json(&["--key", path_str(&key), path_str(&tampered)]);
    let v = by_stream(&verdicts, 0);
    let text = v.explanation();
    assert!(
        text.contains("GCM") && text.contains("authentication"),
        "notes/reason should say GCM authentication failed: {v:#?}"
    );
    assert!(
        !v.client_data.contains("password="),
        "a forged record was accepted: {v:#?}"
    );
    assert_eq!(
        v.server_data, rec.truth[0].server_data,
        "the server's direction is intact"
    );
}

#[test]
fn a_file_that_is_not_a_capture_fails_with_one_line() {
    let dir = TestDir::new("attack-not-a-capture");
    let (rec, key, _) = seeded(&dir);
    let done = attack(&["--key", path_str(&key), path_str(&rec.truth_path)]);
    let line = single_error_line(&done);
    assert!(
        line.contains("lab.truth.json"),
        "the message should name the file: {line}"
    );
    assert!(line.contains("not a pcap"), "{line}");
}

#[test]
fn non_tls_traffic_warns_that_no_tls_session_was_found() {
    let dir = TestDir::new("attack-plain-tcp");
    let (key, _) = keygen(&dir, "keys");
    let echo = echo_server(1);
    let cap = dir.join("plain.pcap");
    let tap = Tap::start(echo, &cap, Some(1));
    let sent = b"GET / HTTP/1.0\r\nHost: plain\r\n\r\n";
    assert_eq!(
        tcp_exchange(tap.port, sent),
        sent.to_vec(),
        "echo through the tap"
    );
    tap.finish();

    let (verdicts, done) = attack_json(&["--key", path_str(&key), path_str(&cap)]);
    assert!(verdicts.is_empty(), "{verdicts:#?}");
    let warning = done
        .stderr
        .lines()
        .find(|l| l.contains("no TLS session"))
        .unwrap_or_else(|| panic!("no 'no TLS sessions' warning: {}", done.describe()));
    assert!(warning.contains("plain.pcap"), "{warning}");
}

#[test]
fn attack_without_key_or_key_log_fails() {
    let dir = TestDir::new("attack-no-key");
    let (rec, _, _) = seeded(&dir);
    let done = attack(&[path_str(&rec.pcap)]);
    let line = single_error_line(&done);
    assert!(
        line.contains("--key") && line.contains("--keylog"),
        "{line}"
    );
}

#[test]
fn attack_with_a_missing_key_file_fails_naming_it() {
    let dir = TestDir::new("attack-missing-key");
    let (rec, _, _) = seeded(&dir);
    let missing = dir.join("stolen.key");
    let done = attack(&["--key", path_str(&missing), path_str(&rec.pcap)]);
    let line = single_error_line(&done);
    assert!(
        line.contains(path_str(&missing)),
        "the message should name {}: {line}",
        missing.display()
    );
}

#[test]
fn a_key_log_that_cannot_be_written_fails_the_run_but_loses_no_report() {
    let key = fixture("fixture-server.key");
    let pcap = fixture("openssl-rsa.pcap");
    let fine = run(
        pfslab(&["attack", "--key", path_str(&key), path_str(&pcap)]),
        b"",
    );
    assert!(fine.status.success(), "{}", fine.describe());
    // /dev/full takes the open and refuses every write (ENOSPC).
    let full = run(
        pfslab(&[
            "attack",
            "--key",
            path_str(&key),
            "--keylog-out",
            "/dev/full",
            path_str(&pcap),
        ]),
        b"",
    );
    assert_eq!(full.stdout, fine.stdout, "the report is printed whole");
    let line = single_error_line(&full);
    assert!(
        line.contains("cannot write /dev/full") && line.contains("No space left"),
        "{line}"
    );
}

#[test]
fn one_key_against_two_servers_opens_only_its_own_server_in_either_order() {
    // The attacker checks the key against each session's certificate (and remembers the last
    // answer): captures of two servers, in both orders, and with the captures alternating.
    let dir = TestDir::new("attack-two-servers");
    let (rec, _, _) = seeded(&dir);
    let key = fixture("fixture-server.key");
    let fixture_pcap = fixture("openssl-rsa.pcap");
    let orders: [Vec<&Path>; 3] = [
        vec![&fixture_pcap, &rec.pcap],
        vec![&rec.pcap, &fixture_pcap],
        vec![&fixture_pcap, &rec.pcap, &fixture_pcap],
    ];
    for order in orders {
        let mut args = vec!["--key", path_str(&key)];
        args.extend(order.iter().map(|p| path_str(p)));
        let (verdicts, _) = attack_json(&args);
        let fixture_runs = order.iter().filter(|p| **p == fixture_pcap).count();
        assert_eq!(verdicts.len(), rec.truth.len() + fixture_runs, "{order:?}");
        for v in &verdicts {
            if v.capture.ends_with("openssl-rsa.pcap") {
                assert_eq!(v.verdict, "decrypted", "{v:#?}");
            } else if v.key_exchange == "rsa" {
                assert_eq!(v.verdict, "not-decrypted", "{v:#?}");
                assert!(v.reason.contains("not this server's key"), "{v:#?}");
            } else {
                assert_eq!(v.verdict, "forward-secret", "{v:#?}");
            }
        }
    }
}
