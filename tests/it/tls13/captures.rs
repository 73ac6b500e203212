//! TLS 1.3 captures: tshark judges a seeded `pfslab record` capture against the attacker and
//! the answer key; OpenSSL's own key log of TLS 1.3 traffic through `pfslab tap`; partial key
//! logs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::*;

use super::openssl_s_server13;

/// `pfslab record` into `out_dir` (keys generated there) with the server's key log; returns
/// (capture, key log, answer key by stream).
fn record_with_keylog(
    out_dir: &Path,
    sessions: &str,
    seed: &str,
) -> (PathBuf, PathBuf, BTreeMap<u64, Value>) {
    let keylog = out_dir.join("server.keylog");
    let rec = record(
        out_dir,
        "lab",
        &out_dir.join("keys"),
        &[
            "--seed",
            seed,
            "--sessions",
            sessions,
            "--keylog",
            path_str(&keylog),
        ],
    );
    let truth = rec.truth_by_stream();
    (rec.pcap, keylog, truth)
}

// ---------------------------------------------------------------------------------------------
// tshark judges a seeded capture with TLS 1.3 sessions

#[test]
fn tshark_decrypts_recorded_tls13_sessions_like_the_attacker_and_the_truth() {
    let dir = TestDir::new("tshark13");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let (pcap, keylog, truth) = record_with_keylog(&a, "rsa=1,ecdhe=1,tls13=2", "4");
    assert_eq!(truth.len(), 4, "{truth:#?}");
    let tls13_streams: Vec<u64> = truth
        .iter()
        .filter(|(_, s)| s["key_exchange"] == "tls13")
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(tls13_streams.len(), 2, "{truth:#?}");
    let log_text = std::fs::read_to_string(&keylog).expect("key log");
    for label in TLS13_KEYLOG_LABELS {
        assert_eq!(
            log_text
                .lines()
                .filter(|l| l.starts_with(&format!("{label} ")))
                .count(),
            2,
            "{label} lines in the key log:\n{log_text}"
        );
    }

    // Reproducible: a second run with the same seed writes the same bytes.
    let (pcap_b, keylog_b, _) = record_with_keylog(&b, "rsa=1,ecdhe=1,tls13=2", "4");
    assert_eq!(
        sha256_hex(&pcap),
        sha256_hex(&pcap_b),
        "same seed, different captures"
    );
    assert_eq!(
        sha256_hex(&keylog),
        sha256_hex(&keylog_b),
        "same seed, different key logs"
    );
    assert_eq!(
        sha256_hex(&a.join("lab.truth.json")),
        sha256_hex(&b.join("lab.truth.json")),
        "same seed, different truth files"
    );

    // Without keys: no malformed frame, no expert info of Warning or Error severity.
    let bad = tshark(
        &pcap,
        &[],
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 0x00600000",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(
        bad.trim().is_empty(),
        "tshark flags frames (no keys):\n{}",
        bad
    );

    let attacked = attack_by_stream(&["--keylog", path_str(&keylog), path_str(&pcap)]);
    assert_eq!(
        attacked.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>()
    );
    let opts = with_keylog(&keylog);
    let view = overview(&pcap, &opts);
    let followed = follow_tls(&pcap, &opts, &tls13_streams);

    // Decrypted, still clean (a malformed frame is an Error-severity expert info); the
    // severity column is populated at all (TCP's Chat infos), so this check can fail.
    let severities: Vec<u32> = view
        .rows
        .iter()
        .flat_map(|r| r.severities.iter().copied())
        .collect();
    assert!(
        severities.contains(&PI_CHAT),
        "tshark reports no expert info at all: the check proves nothing"
    );
    assert!(
        severities.iter().all(|s| *s < PI_WARN),
        "tshark flags decrypted frames: severities {severities:x?}"
    );

    // tshark sees TLS 1.3 ServerHellos in exactly the truth's TLS 1.3 streams, with its suite.
    let mut seen13 = BTreeSet::new();
    for r in &view.rows {
        if r.handshake_types.contains(&2) && r.supported_versions == ["0x0304"] {
            let s = r
                .stream
                .unwrap_or_else(|| panic!("frame {} has no tcp.stream: {r:?}", r.frame));
            seen13.insert(s);
            let code = if truth[&s]["cipher_suite"] == AES256.iana {
                AES256.code
            } else {
                AES128.code
            };
            assert_eq!(
                r.cipher_suites,
                [format!("0x{code:04x}")],
                "stream {s}: {r:?}"
            );
        }
    }
    assert_eq!(
        seen13,
        tls13_streams.iter().copied().collect(),
        "tshark's TLS 1.3 ServerHellos"
    );

    // With the key log tshark reads an HTTP request and a 200 response in every stream.
    let all: BTreeSet<u64> = truth.keys().copied().collect();
    let streams_with = |pred: &dyn Fn(&PacketRow) -> bool| -> BTreeSet<u64> {
        view.streams_where(pred).into_iter().collect()
    };
    assert_eq!(
        streams_with(&|r| r.http_methods.iter().any(|m| m == "POST" || m == "GET")),
        all,
        "streams with an HTTP request"
    );
    assert_eq!(
        streams_with(&|r| r.http_response_codes.iter().any(|c| c == "200")),
        all,
        "streams with an HTTP 200"
    );

    // Byte for byte: tshark's decryption = pfslab attack's = the truth, each direction.
    for s in &tls13_streams {
        let (ours, theirs) = (&attacked[s], &truth[s]);
        assert_eq!(text(ours, "verdict"), "decrypted", "stream {s}: {ours:#}");
        assert_eq!(text(ours, "version"), "TLS 1.3", "stream {s}: {ours:#}");
        assert_eq!(
            text(ours, "cipher_suite"),
            text(theirs, "cipher_suite"),
            "stream {s}"
        );
        let (client_bytes, server_bytes) = followed
            .get(s)
            .unwrap_or_else(|| panic!("tshark followed no stream {s}"))
            .by_side(text(ours, "client"), text(ours, "server"));
        let (client_data, server_data) = (
            String::from_utf8_lossy(client_bytes),
            String::from_utf8_lossy(server_bytes),
        );
        assert!(
            !client_data.is_empty() && !server_data.is_empty(),
            "stream {s}: tshark decrypted nothing"
        );
        assert_eq!(
            client_data,
            text(theirs, "client_data"),
            "stream {s}: tshark's client data vs the truth"
        );
        assert_eq!(
            server_data,
            text(theirs, "server_data"),
            "stream {s}: tshark's server data vs the truth"
        );
        assert_eq!(
            data(ours, "client_data"),
            client_data,
            "stream {s}: attack's client data vs tshark's"
        );
        assert_eq!(
            data(ours, "server_data"),
            server_data,
            "stream {s}: attack's server data vs tshark's"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// OpenSSL's own key log of TLS 1.3 traffic through the tap

/// `openssl s_server -tls1_3 -groups P-256 -keylogfile K` behind `pfslab tap`; `openssl
/// s_client` visits twice: with its default groups (X25519 share first: HelloRetryRequest) and
/// with `-groups P-256`. The key log opens both sessions; the server key alone opens neither.
#[test]
fn openssl_keylog_opens_tls13_sessions_through_the_tap() {
    let test = "openssl-keylog13";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let keylog = dir.join("s_server.keylog");
    let token = unique_token(test);
    let file_name = format!("{token}.txt");
    let body = format!("s_server reply for {token}\n");
    std::fs::create_dir_all(dir.join("www")).expect("mkdir www");
    std::fs::write(dir.join("www").join(&file_name), &body).expect("write served file");
    let (server, server_port) = openssl_s_server13(
        &dir,
        &key,
        &cert,
        "-WWW",
        &format!("{}:{}", AES128.iana, AES256.iana),
        &["-groups", "P-256", "-keylogfile", path_str(&keylog)],
    );

    let capture = dir.join("openssl13.pcap");
    let tap = Tap::start(server_port, &capture, Some(2));

    let mut cookies = Vec::new();
    for (i, groups) in [None, Some("P-256")].into_iter().enumerate() {
        let cookie = format!("{token}-visit{i}");
        let request = format!("GET /{file_name} HTTP/1.0\r\nCookie: session={cookie}\r\n\r\n");
        let mut args = vec![
            "-tls1_3",
            "-CAfile",
            path_str(&cert),
            "-verify_return_error",
            "-ign_eof",
            "-msg",
        ];
        if let Some(g) = groups {
            args.extend(["-groups", g]);
        }
        let done = openssl_s_client(tap.port, &args, &request, None);
        let why = || done.beside("openssl s_client", "s_server", &server);
        assert!(done.status.success(), "{}", why());
        assert!(
            done.stdout.contains("New, TLSv1.3, Cipher is TLS_AES_"),
            "{}",
            why()
        );
        assert!(done.stdout.contains(&body), "{}", why());
        let client_hellos = msg_trace(&done.stdout)
            .iter()
            .filter(|m| m.sent && m.name == "ClientHello")
            .count();
        assert_eq!(
            client_hellos,
            if groups.is_none() { 2 } else { 1 },
            "HelloRetryRequest expected only with default groups: {}",
            why()
        );
        cookies.push(cookie);
    }
    let tap_done = tap.finish();
    assert!(
        tap_done.status.success(),
        "pfslab tap: {}",
        tap_done.describe()
    );
    assert!(
        format!("{}{}", tap_done.stdout, tap_done.stderr).contains("2 connections relayed"),
        "pfslab tap: {}",
        tap_done.describe()
    );
    let log_text = std::fs::read_to_string(&keylog).expect("s_server key log");
    assert_eq!(
        log_text
            .lines()
            .filter(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 "))
            .count(),
        2,
        "s_server key log:\n{log_text}"
    );

    // The key log opens both sessions, each direction.
    let opened = attack_by_stream(&["--keylog", path_str(&keylog), path_str(&capture)]);
    assert_eq!(opened.len(), 2, "{opened:#?}");
    for (i, s) in opened.values().enumerate() {
        let why = || format!("session {i} (HelloRetryRequest: {}): {s:#}", i == 0);
        assert_eq!(text(s, "version"), "TLS 1.3", "{}", why());
        assert_eq!(text(s, "key_exchange"), "tls13", "{}", why());
        assert_eq!(text(s, "verdict"), "decrypted", "{}", why());
        assert!(
            !text(s, "reason").contains("still closed"),
            "the full key log left something closed: {}",
            why()
        );
        let client_data = data(s, "client_data");
        assert!(
            client_data.starts_with(&format!("GET /{file_name} HTTP/1.0\r\n")),
            "{}",
            why()
        );
        assert!(
            client_data.contains(&format!("Cookie: session={}", cookies[i])),
            "{}",
            why()
        );
        assert!(
            data(s, "server_data").starts_with("HTTP/1.0 200 ok\r\n"),
            "{}",
            why()
        );
        assert!(data(s, "server_data").ends_with(&body), "{}", why());
        assert_eq!(s["server_finished"], "verified", "{}", why());
        assert_eq!(s["client_finished"], "verified", "{}", why());
    }

    // The server's key alone: forward secret, and the reason says why.
    let with_key = attack_by_stream(&["--key", path_str(&key), path_str(&capture)]);
    assert_eq!(with_key.len(), 2, "{with_key:#?}");
    for (i, s) in with_key.values().enumerate() {
        let why = || format!("session {i}: {s:#}");
        assert_eq!(text(s, "verdict"), "forward-secret", "{}", why());
        let reason = text(s, "reason");
        assert!(
            reason.contains("key share") && reason.contains("CertificateVerify"),
            "{}",
            why()
        );
        assert!(
            reason.contains("secp256r1"),
            "the session's key shares were on secp256r1: {}",
            why()
        );
        assert_eq!(data(s, "client_data"), "", "{}", why());
        assert_eq!(data(s, "server_data"), "", "{}", why());
    }
}

// ---------------------------------------------------------------------------------------------
// Partial key logs

#[test]
fn partial_tls13_key_logs_open_only_the_direction_they_cover() {
    let dir = TestDir::new("partial13");
    let (pcap, keylog, truth) = record_with_keylog(dir.path(), "rsa=1,tls13=2", "11");
    let log_text = std::fs::read_to_string(&keylog).expect("key log");
    let keep = |name: &str, pred: &dyn Fn(&str) -> bool| {
        let path = dir.join(name);
        let lines: Vec<&str> = log_text.lines().filter(|l| pred(l)).collect();
        assert!(!lines.is_empty(), "{name}: nothing kept from\n{log_text}");
        std::fs::write(&path, lines.join("\n") + "\n").expect("write partial key log");
        path
    };
    let server_only = keep("server-app.keylog", &|l| {
        l.starts_with("SERVER_TRAFFIC_SECRET_0 ")
    });
    let client_only = keep("client.keylog", &|l| {
        l.starts_with("CLIENT_HANDSHAKE_TRAFFIC_SECRET ")
            || l.starts_with("CLIENT_TRAFFIC_SECRET_0 ")
    });

    for (log, server_side) in [(&server_only, true), (&client_only, false)] {
        let opened = attack_by_stream(&["--keylog", path_str(log), path_str(&pcap)]);
        assert_eq!(opened.len(), truth.len(), "{opened:#?}");
        for (stream, t) in &truth {
            let s = &opened[stream];
            let why = || format!("{} on stream {stream}: {s:#}", log.display());
            if t["key_exchange"] != "tls13" {
                // No CLIENT_RANDOM line: the TLS 1.2 session stays shut.
                assert_ne!(text(s, "verdict"), "decrypted", "{}", why());
                assert_eq!(data(s, "client_data"), "", "{}", why());
                continue;
            }
            // Issue 13: a partial key log is a partial recovery, not "decrypted".
            assert_eq!(text(s, "verdict"), "partly-decrypted", "{}", why());
            assert!(text(s, "reason").contains("still closed"), "{}", why());
            if server_side {
                assert_eq!(data(s, "server_data"), text(t, "server_data"), "{}", why());
                assert_eq!(data(s, "client_data"), "", "{}", why());
                assert!(
                    text(s, "reason").contains("CLIENT_TRAFFIC_SECRET_0"),
                    "the reason should name the missing secret: {}",
                    why()
                );
            } else {
                assert_eq!(data(s, "client_data"), text(t, "client_data"), "{}", why());
                assert_eq!(data(s, "server_data"), "", "{}", why());
                assert!(
                    text(s, "reason").contains("SERVER_TRAFFIC_SECRET_0"),
                    "the reason should name the missing secret: {}",
                    why()
                );
            }
        }
    }
}
