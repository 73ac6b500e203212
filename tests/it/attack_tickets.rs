//! The attacker with a stolen session-ticket key (issue 16), on captures recorded through
//! pfslab's own server (`pfslab record` with resumption chains): every TLS 1.2 session that
//! issued or used a ticket under the key falls, ECDHE included; a rotated key stands; TLS 1.3
//! psk_ke resumptions fall while psk_dhe_ke resumptions and full handshakes stand; tshark with
//! the server's key log agrees byte for byte; broken tickets give reasons, never a panic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use crate::common::{
    attack, attack_by_stream, data, follow_tls, gnutls_cli, keygen, openssl_s_client, path_str,
    read, record, text, with_keylog, with_rsa_key, write, Pcap, PfslabServer, Recording, Tap,
    TestDir,
};

/// A seeded recording of `sessions` with the server's key log beside it; the ticket key is
/// `ticket_key` (created by `record` when missing).
fn recording(dir: &TestDir, name: &str, sessions: &str, ticket_key: &Path) -> Recording {
    let keylog = dir.join(&format!("{name}.keylog"));
    record(
        dir.path(),
        name,
        &dir.join("keys"),
        &[
            "--seed",
            "7",
            "--sessions",
            sessions,
            "--keylog",
            path_str(&keylog),
            "--ticket-key",
            path_str(ticket_key),
        ],
    )
}

fn opened_by_ticket_key(truth: &Value) -> bool {
    truth["opened_by"]
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v == "ticket key"))
}

/// Streams whose secrets a ticket under the key carries: those the answer key says the ticket
/// key opens, and every session a later one resumed by ticket (it received that ticket).
fn ticket_streams(rec: &Recording) -> BTreeSet<u64> {
    let truth = rec.truth_by_stream();
    let mut out: BTreeSet<u64> = truth
        .iter()
        .filter(|(_, t)| opened_by_ticket_key(t))
        .map(|(s, _)| *s)
        .collect();
    out.extend(
        truth
            .values()
            .filter(|t| t["resumed_by"] == "ticket")
            .filter_map(|t| t["resumes_stream"].as_u64()),
    );
    out
}

/// Every session the answer key says the ticket key opens is decrypted to its exact bytes;
/// every other one stays closed.
fn assert_ticket_key_opens_what_the_truth_says(
    rec: &Recording,
    got: &BTreeMap<u64, Value>,
) -> usize {
    let truth = rec.truth_by_stream();
    let by_ticket = ticket_streams(rec);
    assert_eq!(got.len(), truth.len(), "{got:#?}");
    let mut opened = 0;
    for (stream, t) in &truth {
        let s = &got[stream];
        if by_ticket.contains(stream) {
            assert_eq!(text(s, "verdict"), "decrypted", "stream {stream}: {s:#}");
            assert_eq!(
                data(s, "client_data"),
                text(t, "client_data"),
                "stream {stream}"
            );
            assert_eq!(
                data(s, "server_data"),
                text(t, "server_data"),
                "stream {stream}"
            );
            assert_eq!(s["client_finished"], "verified", "stream {stream}: {s:#}");
            assert_eq!(s["server_finished"], "verified", "stream {stream}: {s:#}");
            opened += 1;
        } else {
            assert_ne!(text(s, "verdict"), "decrypted", "stream {stream}: {s:#}");
            assert_eq!(data(s, "client_data"), "", "stream {stream}");
        }
    }
    opened
}

#[test]
fn the_stolen_ticket_key_alone_opens_every_tls12_session_that_issued_or_used_a_ticket() {
    let dir = TestDir::new("stek-12");
    let stek = dir.join("lab.ticket.key");
    let rec = recording(
        &dir,
        "lab",
        "ecdhe+ticket=3,rsa+ticket=2,dhe+ticket=2,ecdhe=2,ecdhe+id=2",
        &stek,
    );
    let got = attack_by_stream(&["--ticket-key", path_str(&stek), path_str(&rec.pcap)]);
    let opened = assert_ticket_key_opens_what_the_truth_says(&rec, &got);
    // 3 + 2 + 2 ticket chains at least (and the session-ID chain when its first session got a
    // ticket); the plain ECDHE sessions stand.
    assert!(opened >= 7, "{opened} opened: {got:#?}");
    let by_ticket = ticket_streams(&rec);
    for (stream, t) in rec.truth_by_stream() {
        let s = &got[&stream];
        if !by_ticket.contains(&stream) {
            continue;
        }
        let reason = text(s, "reason");
        assert!(
            reason.contains("stolen ticket key") || reason.contains("resumes session"),
            "stream {stream}: {reason}"
        );
        // A full ECDHE handshake that received a ticket: the route is its NewSessionTicket.
        if t["resumes_stream"].is_null() && text(&t, "key_exchange") == "ecdhe" {
            assert!(
                reason.contains(
                    "the ticket sent in this session (NewSessionTicket) carried its master secret"
                ),
                "stream {stream}: {reason}"
            );
            assert_eq!(s["tickets"][0]["origin"], "issued", "{s:#}");
            assert_eq!(s["tickets"][0]["opened"], true, "{s:#}");
        }
        // A ticket resumption: the ticket in its ClientHello opens directly.
        if t["resumed_by"] == "ticket" {
            let presented = s["tickets"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["origin"] == "presented"))
                .unwrap_or_else(|| panic!("no presented ticket: {s:#}"));
            assert_eq!(presented["used"], true, "{s:#}");
            assert_eq!(presented["opened"], true, "{s:#}");
            let from = t["resumes_stream"].as_u64().expect("resumes_stream");
            assert!(
                reason.contains(&format!("session {from} received this ticket")),
                "stream {stream}: {reason}"
            );
        }
    }
    // Without the ticket key, the ECDHE sessions that issued tickets say why they stand.
    let keys = dir.join("keys");
    let without = attack_by_stream(&[
        "--key",
        path_str(&keys.join("server.key")),
        path_str(&rec.pcap),
    ]);
    for (stream, t) in rec.truth_by_stream() {
        if t["resumes_stream"].is_null()
            && text(&t, "key_exchange") == "ecdhe"
            && by_ticket.contains(&stream)
        {
            let s = &without[&stream];
            assert_eq!(text(s, "verdict"), "forward-secret", "{s:#}");
            assert!(
                text(s, "reason").contains("was not stolen"),
                "stream {stream}: {}",
                text(s, "reason")
            );
        }
    }
}

#[test]
fn after_a_rotation_the_old_stolen_key_opens_nothing_new() {
    let dir = TestDir::new("stek-rotation");
    let before_key = dir.join("before.ticket.key");
    let after_key = dir.join("after.ticket.key");
    let before = recording(&dir, "before", "ecdhe+ticket=3", &before_key);
    // The same seed would make the same key again: the rotated key is written beforehand, as
    // an operator's `openssl rand 80` would be.
    let mut rotated = read(&before_key);
    rotated.reverse();
    write(&after_key, &rotated);
    let after = recording(&dir, "after", "ecdhe+ticket=3", &after_key);
    assert_ne!(
        read(&before_key),
        read(&after_key),
        "the key was not rotated"
    );
    let got = attack_by_stream(&[
        "--ticket-key",
        path_str(&before_key),
        path_str(&before.pcap),
    ]);
    assert_eq!(
        assert_ticket_key_opens_what_the_truth_says(&before, &got),
        3
    );
    let got = attack_by_stream(&["--ticket-key", path_str(&before_key), path_str(&after.pcap)]);
    for (stream, s) in &got {
        assert_eq!(
            text(s, "verdict"),
            "forward-secret",
            "stream {stream}: {s:#}"
        );
        assert_eq!(data(s, "client_data"), "");
        assert!(
            text(s, "reason").contains("sealed under key name"),
            "stream {stream}: {}",
            text(s, "reason")
        );
    }
    // Both keys stolen (repeatable --ticket-key): both recordings fall.
    let got = attack_by_stream(&[
        "--ticket-key",
        path_str(&before_key),
        "--ticket-key",
        path_str(&after_key),
        path_str(&after.pcap),
    ]);
    assert_eq!(assert_ticket_key_opens_what_the_truth_says(&after, &got), 3);
}

#[test]
fn tshark_with_the_key_log_and_the_attacker_with_the_ticket_key_read_the_same_bytes() {
    let dir = TestDir::new("stek-tshark");
    let stek = dir.join("lab.ticket.key");
    let rec = recording(&dir, "lab", "ecdhe+ticket=3,rsa+ticket=3", &stek);
    let keylog = dir.join("lab.keylog");
    let by_ticket = attack_by_stream(&["--ticket-key", path_str(&stek), path_str(&rec.pcap)]);
    let by_key = attack_by_stream(&[
        "--key",
        path_str(&dir.join("keys").join("server.key")),
        path_str(&rec.pcap),
    ]);
    let streams: Vec<u64> = rec.truth.iter().map(|t| t.stream).collect();
    let followed = follow_tls(&rec.pcap, &with_keylog(&keylog), &streams);
    let rsa_followed = follow_tls(
        &rec.pcap,
        &with_rsa_key(&dir.join("keys").join("server.key")),
        &streams,
    );
    for t in &rec.truth {
        let s = &by_ticket[&t.stream];
        assert_eq!(text(s, "verdict"), "decrypted", "{s:#}");
        let (c, sv) = followed[&t.stream].by_side(text(s, "client"), text(s, "server"));
        assert_eq!(
            String::from_utf8_lossy(c),
            data(s, "client_data"),
            "stream {}",
            t.stream
        );
        assert_eq!(
            String::from_utf8_lossy(sv),
            data(s, "server_data"),
            "stream {}",
            t.stream
        );
        if t.key_exchange == "rsa" {
            // TLS 1.2 RSA: the RSA key alone reads the same bytes, in tshark and in pfslab.
            let k = &by_key[&t.stream];
            assert_eq!(text(k, "verdict"), "decrypted", "{k:#}");
            assert_eq!(data(k, "client_data"), data(s, "client_data"));
            assert_eq!(data(k, "server_data"), data(s, "server_data"));
            // tshark with the RSA key reads the full handshakes; it loses a ticket resumption
            // whose server renews the ticket (RFC 5077 §3.4), so those are left to the key log.
            if t.raw["resumes_stream"].is_null() {
                let (c, sv) = rsa_followed[&t.stream].by_side(text(s, "client"), text(s, "server"));
                assert_eq!(String::from_utf8_lossy(c), data(s, "client_data"));
                assert_eq!(String::from_utf8_lossy(sv), data(s, "server_data"));
            }
        }
    }
}

#[test]
fn tls13_psk_ke_resumptions_fall_to_the_ticket_key_and_psk_dhe_ke_and_full_handshakes_stand() {
    let dir = TestDir::new("stek-13");
    let stek = dir.join("lab.ticket.key");
    let rec = recording(&dir, "lab", "tls13+psk_ke=3,tls13+psk=3", &stek);
    let derived = dir.join("derived.keylog");
    let got = attack_by_stream(&[
        "--ticket-key",
        path_str(&stek),
        "--keylog-out",
        path_str(&derived),
        path_str(&rec.pcap),
    ]);
    let keylog = dir.join("lab.keylog");
    let streams: Vec<u64> = rec.truth.iter().map(|t| t.stream).collect();
    let followed = follow_tls(&rec.pcap, &with_keylog(&keylog), &streams);
    // The secrets the attacker derived from the PSK, written as a key log: tshark reads the
    // psk_ke sessions with them too.
    let by_derived = follow_tls(&rec.pcap, &with_keylog(&derived), &streams);
    let mut seen = BTreeMap::new();
    for (stream, t) in rec.truth_by_stream() {
        let s = &got[&stream];
        let reason = text(s, "reason");
        let mode = s["psk_mode"].as_str().unwrap_or("?").to_string();
        *seen.entry(mode.clone()).or_insert(0) += 1;
        match mode.as_str() {
            "psk_ke" => {
                assert_eq!(text(s, "verdict"), "decrypted", "{s:#}");
                assert!(
                    reason.contains("psk_ke: the PSK alone keys this session"),
                    "{reason}"
                );
                assert!(
                    reason.contains("opened with the stolen ticket key"),
                    "{reason}"
                );
                assert!(reason.contains("confirmed by its binder"), "{reason}");
                assert_eq!(data(s, "client_data"), text(&t, "client_data"));
                assert_eq!(data(s, "server_data"), text(&t, "server_data"));
                for f in [&followed[&stream], &by_derived[&stream]] {
                    let (c, sv) = f.by_side(text(s, "client"), text(s, "server"));
                    assert_eq!(String::from_utf8_lossy(c), data(s, "client_data"));
                    assert_eq!(String::from_utf8_lossy(sv), data(s, "server_data"));
                }
            }
            "psk_dhe_ke" => {
                assert!(by_derived[&stream].is_empty(), "{:?}", by_derived[&stream]);
                assert_eq!(text(s, "verdict"), "forward-secret", "{s:#}");
                assert!(reason.contains("confirmed by its binder"), "{reason}");
                assert!(reason.contains("fresh (EC)DHE was mixed"), "{reason}");
            }
            "full" => {
                assert_eq!(text(s, "verdict"), "forward-secret", "{s:#}");
                assert!(
                    reason.contains("does not open a full TLS 1.3 handshake"),
                    "{reason}"
                );
            }
            other => panic!("psk mode {other}: {s:#}"),
        }
        assert_eq!(opened_by_ticket_key(&t), mode == "psk_ke", "{t:#} vs {s:#}");
    }
    assert_eq!(
        seen,
        BTreeMap::from([
            ("full".to_string(), 2),
            ("psk_ke".to_string(), 2),
            ("psk_dhe_ke".to_string(), 2)
        ])
    );
}

#[test]
fn a_wrong_key_a_cut_ticket_and_an_unknown_key_name_give_reasons_not_panics() {
    let dir = TestDir::new("stek-broken");
    let stek = dir.join("lab.ticket.key");
    let rec = recording(&dir, "lab", "ecdhe+ticket=2", &stek);
    // Same name, other secrets.
    let mut wrong = read(&stek);
    for b in &mut wrong[16..] {
        *b ^= 0x5a;
    }
    let wrong_key = dir.join("wrong.key");
    write(&wrong_key, &wrong);
    let got = attack_by_stream(&["--ticket-key", path_str(&wrong_key), path_str(&rec.pcap)]);
    for s in got.values() {
        assert_eq!(text(s, "verdict"), "forward-secret", "{s:#}");
        assert!(text(s, "reason").contains("HMAC does not verify"), "{s:#}");
    }
    // Another key entirely: the ticket names a key the attacker does not hold.
    let other = dir.join("other.key");
    write(&other, &[0x42; 80]);
    let got = attack_by_stream(&["--ticket-key", path_str(&other), path_str(&rec.pcap)]);
    for s in got.values() {
        assert!(text(s, "reason").contains("sealed under key name"), "{s:#}");
    }
    // A cut ticket: the NewSessionTicket of session 0 rewritten in place so the ticket's own
    // encrypted_state length claims more than it holds (RFC 5077 §4 layout), record lengths
    // untouched: session 0 keeps its reason, the resumption still opens by its own ticket.
    let name = read(&stek)[..16].to_vec();
    let mut pcap = Pcap::load(&rec.pcap);
    let at = pcap
        .find(|t, payload| t.src_port == 443 && payload.windows(16).any(|w| w == name.as_slice()))
        .expect("a server segment carrying the ticket");
    let frame = &mut pcap.records[at].data;
    let start = frame
        .windows(16)
        .position(|w| w == name.as_slice())
        .expect("the ticket's key name");
    frame[start + 32] = 0xff;
    frame[start + 33] = 0xf0;
    let cut = dir.join("cut.pcap");
    pcap.save(&cut);
    let got = attack_by_stream(&["--ticket-key", path_str(&stek), path_str(&cut)]);
    let s0 = &got[&0];
    assert_eq!(text(s0, "verdict"), "forward-secret", "{s0:#}");
    assert!(text(s0, "reason").contains("truncated"), "{s0:#}");
    assert_eq!(s0["tickets"][0]["opened"], false, "{s0:#}");
    assert_eq!(text(&got[&1], "verdict"), "decrypted", "{:#}", got[&1]);
    // A key file of the wrong size: refused up front, in one line.
    let short = dir.join("short.key");
    write(&short, &[1; 48]);
    let done = attack(&["--ticket-key", path_str(&short), path_str(&rec.pcap)]);
    assert!(!done.status.success(), "{}", done.describe());
    assert!(done.stderr.contains("80 bytes"), "{}", done.describe());
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());
}

/// OpenSSL's own hellos through the tap: its TLS 1.2 ticket resumption, and its TLS 1.3
/// resumptions in psk_dhe_ke (after a HelloRetryRequest: the binder covers it) and psk_ke.
/// The server runs with `--groups p256` so that OpenSSL's X25519 share draws that retry.
#[test]
fn openssl_clients_resuming_against_pfslab_fall_or_stand_as_their_mode_says() {
    let dir = TestDir::new("stek-openssl");
    let (key, cert) = keygen(&dir, "keys");
    let stek = dir.join("ticket.key");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--session-cache",
            "--tickets",
            "--ticket-key",
            path_str(&stek),
            "--prefer-psk-ke",
            "--groups",
            "p256",
        ],
    );
    let cap = dir.join("openssl.pcap");
    let tap = Tap::start(server.addr.port(), &cap, Some(5));
    let request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    let s12 = dir.join("s12.sess");
    let s13 = dir.join("s13.sess");
    let run = |args: &[&str], reused: bool| {
        let done = openssl_s_client(tap.port, args, request, None);
        let want = if reused {
            "Reused, TLSv1."
        } else {
            "New, TLSv1."
        };
        assert!(done.stdout.contains(want), "{want}: {}", done.describe());
    };
    run(&["-tls1_2", "-ign_eof", "-sess_out", path_str(&s12)], false);
    run(&["-tls1_2", "-ign_eof", "-sess_in", path_str(&s12)], true);
    run(&["-tls1_3", "-ign_eof", "-sess_out", path_str(&s13)], false);
    run(&["-tls1_3", "-ign_eof", "-sess_in", path_str(&s13)], true);
    run(
        &[
            "-tls1_3",
            "-ign_eof",
            "-allow_no_dhe_kex",
            "-sess_in",
            path_str(&s13),
        ],
        true,
    );
    tap.finish();
    let got = attack_by_stream(&["--ticket-key", path_str(&stek), path_str(&cap)]);
    assert_eq!(got.len(), 5, "{got:#?}");
    let verdicts: Vec<(&str, &str)> = got
        .values()
        .map(|s| (text(s, "verdict"), s["psk_mode"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("decrypted", "-"),
            ("decrypted", "-"),
            ("forward-secret", "full"),
            ("forward-secret", "psk_dhe_ke"),
            ("decrypted", "psk_ke"),
        ],
        "{got:#?}"
    );
    for stream in [0, 1, 4] {
        assert_eq!(
            data(&got[&stream], "client_data"),
            request,
            "{:#}",
            got[&stream]
        );
        assert!(!data(&got[&stream], "server_data").is_empty());
    }
    assert!(
        text(&got[&3], "reason").contains("confirmed by its binder"),
        "{:#}",
        got[&3]
    );
    assert!(
        text(&got[&4], "reason").contains("confirmed by its binder"),
        "{:#}",
        got[&4]
    );
}

/// GnuTLS's resumptions (`gnutls-cli --resume`: a full handshake, then a resumption) through
/// the tap: its TLS 1.2 ticket falls to the stolen key; its TLS 1.3 psk_dhe_ke stands.
#[test]
fn gnutls_resumptions_against_pfslab_fall_or_stand_as_their_mode_says() {
    let dir = TestDir::new("stek-gnutls");
    let (key, cert) = keygen(&dir, "keys");
    let stek = dir.join("ticket.key");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--session-cache",
            "--tickets",
            "--ticket-key",
            path_str(&stek),
        ],
    );
    let cap = dir.join("gnutls.pcap");
    let tap = Tap::start(server.addr.port(), &cap, Some(4));
    let request = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
    for priority in [
        "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA",
        "NORMAL:-VERS-ALL:+VERS-TLS1.3",
    ] {
        let done = gnutls_cli(tap.port, priority, &["--insecure", "--resume"], request);
        assert!(
            done.stdout.contains("This is a resumed session"),
            "{priority}: {}",
            done.describe()
        );
    }
    tap.finish();
    let got = attack_by_stream(&["--ticket-key", path_str(&stek), path_str(&cap)]);
    // gnutls-cli sends its request on the resumed connection only: the first handshake proves
    // its keys (both Finished verify) with no application data to open.
    let verdicts: Vec<(&str, &str, &str, &str)> = got
        .values()
        .map(|s| {
            (
                text(s, "key_exchange"),
                text(s, "verdict"),
                s["psk_mode"].as_str().unwrap_or("-"),
                s["server_finished"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("ecdhe", "partly-decrypted", "-", "verified"),
            ("ecdhe", "decrypted", "-", "verified"),
            ("tls13", "forward-secret", "full", "-"),
            ("tls13", "forward-secret", "psk_dhe_ke", "-"),
        ],
        "{got:#?}"
    );
    assert_eq!(data(&got[&1], "client_data"), request);
    assert!(
        text(&got[&3], "reason").contains("confirmed by its binder"),
        "{:#}",
        got[&3]
    );
}
