//! `explain` prints what `attack` recovers, by the same road: a session keyed only by a key
//! log's `RSA` line, and resumed sessions opened through the sessions they resume (real OpenSSL
//! traffic; the premaster for the key log comes from tshark and `openssl pkeyutl`, not pfslab).

use std::path::Path;

use crate::common::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

/// `pfslab ARGS` without colour, which must succeed; its stdout.
fn pfslab_ok(args: &[&str]) -> String {
    let mut cmd = pfslab(args);
    cmd.env("NO_COLOR", "1");
    let done = run(cmd, b"");
    assert!(
        done.status.success(),
        "pfslab {args:?} failed: {}",
        done.stderr
    );
    done.stdout
}

/// The hex that explain prints under `label` (4-byte groups, continuation lines indented).
fn explain_field(text: &str, label: &str) -> String {
    let mut lines = text.lines();
    let Some(first) = lines.find(|l| l.get(3..).is_some_and(|b| b.starts_with(label))) else {
        panic!("explain printed no '{label}':\n{text}");
    };
    let mut hex: String = first[3 + 26..].split_whitespace().collect();
    for l in lines {
        let words: Vec<&str> = l.split_whitespace().collect();
        let is_hex = !words.is_empty()
            && l.starts_with(&" ".repeat(29))
            && words
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_hexdigit()));
        if !is_hex {
            break;
        }
        hex.push_str(&words.concat());
    }
    hex
}

/// `attack --json`'s master secret for each session, by stream.
fn attack_masters(args: &[&str]) -> Vec<Option<String>> {
    attack_sessions(args)
        .iter()
        .map(|s| s["master_secret"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn explain_opens_a_session_keyed_only_by_an_rsa_keylog_line() {
    let dir = TestDir::new("explain-rsa-keylog");
    let capture = format!("{DATA}/openssl-rsa.pcap");
    let key = format!("{DATA}/fixture-server.key");
    // The encrypted premaster, as tshark reads it, decrypted by OpenSSL.
    let epms = tshark(
        Path::new(&capture),
        &decode_as(39175),
        &[
            "-Y",
            "tls.handshake.type==16",
            "-T",
            "fields",
            "-e",
            "tls.handshake.epms",
        ],
    )
    .trim()
    .to_string();
    assert_eq!(epms.len(), 512, "a 2048-bit encrypted premaster: {epms}");
    let epms_file = dir.write("epms.bin", &hex_decode(&epms));
    let pms_file = dir.join("pms.bin");
    openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        &key,
        "-pkeyopt",
        "rsa_padding_mode:pkcs1",
        "-in",
        path_str(&epms_file),
        "-out",
        path_str(&pms_file),
    ]);
    let pms = read(&pms_file);
    assert_eq!(pms.len(), 48);
    let premaster = hex(&pms);
    let keylog = dir.path().join("rsa-only.keylog");
    std::fs::write(&keylog, format!("RSA {} {premaster}\n", &epms[..16])).expect("write");
    let keylog = keylog.to_str().expect("utf-8 path");

    let text = pfslab_ok(&["explain", &capture, "--keylog", keylog]);
    assert!(text.contains("the key log's RSA line"), "{text}");
    assert_eq!(explain_field(&text, "premaster (48 bytes)"), premaster);
    // The same master secret attack finds with the key log and with the stolen key.
    let master = explain_field(&text, "master secret (48 bytes)");
    assert_eq!(
        attack_masters(&["--keylog", keylog, &capture]),
        vec![Some(master.clone())]
    );
    assert_eq!(
        attack_masters(&["--key", &key, &capture]),
        vec![Some(master)]
    );
    assert!(text.contains("OK: the keys are right"), "{text}");
}

#[test]
fn explain_walks_resumed_sessions_through_the_sessions_they_resume() {
    let capture = format!("{DATA}/openssl-resumption.pcap");
    let key = format!("{DATA}/resumption-server.key");
    let masters = attack_masters(&["--key", &key, &capture]);
    assert_eq!(masters.len(), 4);
    // Session 1 resumes session 0 by ticket; session 3 resumes session 2 by session ID.
    for (resumed, original, how) in [(1usize, 0usize, "by ticket"), (3, 2, "by session ID")] {
        let text = pfslab_ok(&[
            "explain",
            &capture,
            "--session",
            &resumed.to_string(),
            "--key",
            &key,
        ]);
        assert!(text.contains(how), "{text}");
        assert!(
            text.contains(&format!("it resumes session {original}")),
            "{text}"
        );
        let master = explain_field(&text, "master secret (48 bytes)");
        assert_eq!(Some(&master), masters[resumed].as_ref());
        assert_eq!(Some(&master), masters[original].as_ref());
        assert!(!text.contains("no key exchange in this capture"), "{text}");
        // Each direction's Finished and first application data open under the recovered keys.
        assert_eq!(text.matches("OK: the keys are right").count(), 4, "{text}");
        assert!(
            text.contains("as text                   GET /r HTTP/1.0"),
            "{text}"
        );
    }
}
