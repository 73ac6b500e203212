//! `pfslab explain` against tshark's own derivation (its `tls.debug_file`), on real OpenSSL
//! traffic: every part of the key block, the premaster and the master secret must agree.

use std::collections::HashMap;
use std::path::Path;

use crate::common::*;

const CAPTURE: &str = RESUMPTION_CAPTURE;
const KEY: &str = RESUMPTION_KEY;
/// The fixture's s_server listened here (see tests/it/resumption.rs).
const SERVER_PORT: u16 = 44815;

fn is_hex_group(word: &str) -> bool {
    !word.is_empty() && word.len().is_multiple_of(2) && word.chars().all(|c| c.is_ascii_hexdigit())
}

/// Labelled hex fields of explain's output: "   label   aabbccdd …" plus continuation lines.
fn explain_fields(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if !line.starts_with("   ") || line.starts_with("    ") {
            continue;
        }
        let body = &line[3..];
        let (label, value) = (
            body.get(..26).unwrap_or(body).trim().to_string(),
            body.get(26..).unwrap_or(""),
        );
        let words: Vec<&str> = value.split_whitespace().collect();
        if label.is_empty() || words.is_empty() || !words.iter().all(|w| is_hex_group(w)) {
            continue;
        }
        let mut hex: String = words.concat();
        while i < lines.len() && lines[i].starts_with(&" ".repeat(29)) {
            let cont: Vec<&str> = lines[i].split_whitespace().collect();
            if !cont.iter().all(|w| is_hex_group(w)) {
                break;
            }
            hex.push_str(&cont.concat());
            i += 1;
        }
        out.entry(label).or_insert(hex);
    }
    out
}

/// The first value tshark's debug file prints under `name[len]:`.
fn tshark_value(debug: &str, name: &str) -> String {
    let lines: Vec<&str> = debug.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(name) && l.contains('['))
        .unwrap_or_else(|| panic!("tshark printed no {name}"));
    let mut hex = String::new();
    for l in &lines[start + 1..] {
        let Some(rest) = l.strip_prefix("| ") else {
            break;
        };
        let bytes = rest.get(..48).unwrap_or(rest);
        hex.push_str(&bytes.split_whitespace().collect::<String>());
    }
    hex
}

#[test]
fn key_block_matches_tshark_derivation_for_an_openssl_session() {
    let dir = TestDir::new("explain");
    let debug_file = dir.join("tls-debug.txt");
    let mut opts = decode_as(SERVER_PORT);
    opts.extend(with_rsa_key(Path::new(KEY)));
    opts.extend([
        "-o".to_string(),
        format!("tls.debug_file:{}", debug_file.display()),
    ]);
    tshark(Path::new(CAPTURE), &opts, &["-Y", "tcp.stream==0", "-q"]);
    let debug = std::fs::read_to_string(&debug_file).unwrap();

    let mut cmd = pfslab(&["explain", CAPTURE, "--session", "0", "--key", KEY]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd, b"");
    assert!(out.status.success(), "{}", out.stderr);
    let text = out.stdout;
    assert!(!text.contains('\x1b'), "colour must be off when piped");
    let ours = explain_fields(&text);

    for (label, theirs) in [
        ("premaster (48 bytes)", "pre master secret"),
        ("master secret (48 bytes)", "master secret"),
        ("client write key", "Client Write key"),
        ("server write key", "Server Write key"),
        ("client write IV (salt)", "Client Write IV"),
        ("server write IV (salt)", "Server Write IV"),
    ] {
        let mine = ours
            .get(label)
            .unwrap_or_else(|| panic!("explain printed no '{label}':\n{text}"));
        assert_eq!(
            mine,
            &tshark_value(&debug, theirs),
            "{label} differs from tshark's {theirs}"
        );
    }
    // tshark derives a longer generic key expansion; ours is exactly this suite's 40 bytes and
    // must be its prefix.
    let kb = &ours["key block"];
    assert_eq!(kb.len(), 80);
    assert!(tshark_value(&debug, "key expansion").starts_with(kb.as_str()));
    assert!(text.contains("none: AES-GCM authenticates by itself"));
    assert!(
        text.contains("tag check               OK")
            || text.contains("tag check                 OK"),
        "{text}"
    );
}

#[test]
fn forward_secret_session_shows_where_the_chain_breaks() {
    let dir = TestDir::new("explain-fs");
    let keys = dir.join("keys");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &["--sessions", "rsa=1,ecdhe=1", "--seed", "3"],
    );
    let (pcap, key) = (path_str(&rec.pcap), keys.join("server.key"));
    let out = run(
        pfslab(&["explain", pcap, "--session", "1", "--key", path_str(&key)]),
        b"",
    );
    let text = &out.stdout;
    assert!(out.status.success());
    assert!(text.contains("ServerKeyExchange"), "{text}");
    assert!(
        text.contains("never sent — the chain breaks here"),
        "{text}"
    );
    assert!(
        text.contains("The stolen RSA key verifies the ServerKeyExchange signature"),
        "{text}"
    );
    assert!(
        !text.contains("master secret (48 bytes)"),
        "no master secret can be shown for ECDHE:\n{text}"
    );
    // Without a key, the RSA session stops at the encrypted premaster.
    let out = run(pfslab(&["explain", pcap]), b"");
    let text = &out.stdout;
    assert!(text.contains("encrypted on the wire; give --key"), "{text}");
    // A session that does not exist is an error naming the ones that do.
    let out = run(pfslab(&["explain", pcap, "--session", "7"]), b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("TLS sessions: 0, 1"));
}
