//! Every line the lab prints is true (issue 13 §1): one test per line that used to be false.

use crate::common::*;

/// A seeded capture with one RSA, one ECDHE and one TLS 1.3 session, and the server's key log.
fn mixed(dir: &TestDir) -> (Recording, std::path::PathBuf, std::path::PathBuf) {
    seeded_recording(dir, Some("rsa=1,ecdhe=1,tls13=1"))
}

fn explain(args: &[&str]) -> String {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    let done = run(pfslab(&all), b"");
    assert!(done.status.success(), "{}", done.describe());
    done.stdout
}

/// The line of `text` that starts with `prefix`.
fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
}

#[test]
fn each_secret_is_labelled_by_where_it_came_from() {
    let dir = TestDir::new("true-labels");
    let (rec, key, keylog) = mixed(&dir);
    let pcap = path_str(&rec.pcap);
    // RSA key transport: the premaster crossed the wire, encrypted; it was not "computed".
    let text = explain(&[pcap, "--session", "0", "--key", path_str(&key)]);
    let premaster = line(&text, "premaster secret");
    assert!(
        premaster.contains("chosen by the client, sent encrypted")
            && premaster.contains("recovered with the stolen key")
            && !premaster.contains("never sent"),
        "{premaster}"
    );
    assert!(line(&text, "master secret").contains("computed by both peers, never sent"));
    // From a key log: read, not computed.
    let text = explain(&[pcap, "--session", "0", "--keylog", path_str(&keylog)]);
    let master = line(&text, "master secret");
    assert!(
        master.contains("read from the key log") && !master.contains("computed"),
        "{master}"
    );
    assert!(
        !line(&text, "premaster secret").contains("computed"),
        "{text}"
    );
}

#[test]
fn tls13_explain_neither_claims_ems_nor_a_finished_first_record() {
    let dir = TestDir::new("true-tls13");
    let (rec, _, keylog) = mixed(&dir);
    let text = explain(&[
        path_str(&rec.pcap),
        "--session",
        "2",
        "--keylog",
        path_str(&keylog),
    ]);
    assert!(!text.contains("bound to the two randoms"), "{text}");
    assert!(
        !text.contains("   EMS "),
        "EMS does not exist in TLS 1.3:\n{text}"
    );
    assert!(
        !text.contains("the first of each is its Finished"),
        "{text}"
    );
    assert!(text.contains("EncryptedExtensions"), "{text}");
    assert!(text.contains("RFC 8446 §4.4.1"), "{text}");
}

#[test]
fn partial_and_empty_recoveries_are_not_called_decrypted() {
    let dir = TestDir::new("true-partly");
    let (rec, key, keylog) = mixed(&dir);
    let pcap = path_str(&rec.pcap);
    let half = dir.join("half.keylog");
    let lines: String = std::fs::read_to_string(&keylog)
        .expect("key log")
        .lines()
        .filter(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&half, lines).expect("write");
    let sessions = attack_by_stream(&["--keylog", path_str(&half), pcap]);
    let s = &sessions[&2];
    assert_eq!(text(s, "verdict"), "partly-decrypted", "{s:#}");
    assert!(text(s, "reason").contains("still closed"), "{s:#}");
    assert!(
        text(s, "reason").contains("CLIENT_TRAFFIC_SECRET_0"),
        "{s:#}"
    );
    let table = attack(&["--keylog", path_str(&half), "--table-only", pcap]);
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("2 "))
        .expect("row 2");
    assert!(
        row.contains("PARTLY-DECRYPTED") && !row.contains("\"\""),
        "{row}"
    );

    // A capture cut right after the handshake: the keys are proven, but nothing was opened.
    let mut cut = Pcap::load(&rec.pcap);
    let first_data = cut
        .find(|t, p| t.src_port == 40000 && t.dst_port == 443 && p.first() == Some(&0x17))
        .expect("client application data");
    cut.records.truncate(first_data);
    let cut_path = dir.join("cut.pcap");
    cut.save(&cut_path);
    let sessions = attack_by_stream(&["--key", path_str(&key), path_str(&cut_path)]);
    let s = &sessions[&0];
    assert_eq!(text(s, "verdict"), "partly-decrypted", "{s:#}");
    assert!(text(s, "reason").contains("no application data"), "{s:#}");
}

#[test]
fn a_seeded_recording_says_when_its_keys_are_not_the_seeds() {
    let dir = TestDir::new("true-seed");
    let (key, _) = keygen(&dir, "unseeded");
    let keys = key.parent().expect("keys dir");
    let rec = record(
        dir.path(),
        "a",
        keys,
        &["--seed", "7", "--sessions", "rsa=1"],
    );
    assert!(
        rec.done.stderr.contains("was not made with --seed 7"),
        "{}",
        rec.done.describe()
    );
    // Keys made with the seed: no note, and two recordings are the same bytes.
    let seeded = dir.join("seeded");
    let done = run(
        pfslab(&["keygen", "--out-dir", path_str(&seeded), "--seed", "7"]),
        b"",
    );
    assert!(done.status.success(), "{}", done.describe());
    let one = record(
        dir.path(),
        "b",
        &seeded,
        &["--seed", "7", "--sessions", "rsa=1"],
    );
    let two = record(
        dir.path(),
        "c",
        &seeded,
        &["--seed", "7", "--sessions", "rsa=1"],
    );
    assert!(
        !one.done.stderr.contains("note:"),
        "{}",
        one.done.describe()
    );
    assert_eq!(sha256_hex(&one.pcap), sha256_hex(&two.pcap));
}

#[test]
fn an_openssl_dhe_session_is_recognised_as_forward_secret() {
    let dir = TestDir::new("true-dhe");
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = openssl_s_server_www(
        &dir,
        &key,
        &cert,
        &["-www", "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"],
    );
    let capture = dir.join("dhe.pcap");
    let tap = Tap::start(port, &capture, Some(1));
    let client = openssl_s_client(
        tap.port,
        &[
            "-tls1_2",
            "-cipher",
            "DHE-RSA-AES128-GCM-SHA256",
            "-ign_eof",
            "-quiet",
        ],
        "GET / HTTP/1.0\r\n\r\n",
        None,
    );
    assert!(
        client.stdout.contains("DHE-RSA-AES128-GCM-SHA256"),
        "{}",
        client.describe()
    );
    tap.finish();
    let sessions = attack_by_stream(&["--key", path_str(&key), path_str(&capture)]);
    let s = &sessions[&0];
    assert_eq!(text(s, "key_exchange"), "dhe", "{s:#}");
    assert_eq!(text(s, "verdict"), "forward-secret", "{s:#}");
    let reason = text(s, "reason");
    assert!(
        reason.contains("finite-field DHE") && reason.contains("2048-bit"),
        "{reason}"
    );
    assert!(!reason.contains("ECCurveType"), "{reason}");
}

#[test]
fn help_names_tls13_and_record_help_lists_the_session_kinds() {
    let top = run(pfslab(&["--help"]), b"");
    assert!(top.stdout.contains("TLS 1.3"), "{}", top.stdout);
    let short = run(pfslab(&["-h"]), b"");
    assert!(short.stdout.contains("TLS 1.2 and 1.3"), "{}", short.stdout);
    let rec = run(pfslab(&["record", "--help"]), b"");
    for kind in ["rsa", "ecdhe", "rsa256", "ecdhe256", "tls13"] {
        assert!(
            rec.stdout.contains(kind),
            "record --help lacks {kind}:\n{}",
            rec.stdout
        );
    }
    assert!(rec.stdout.contains("--show-answers"), "{}", rec.stdout);
}

#[test]
fn explain_opens_the_first_application_data_record() {
    let dir = TestDir::new("true-appdata");
    let (rec, key, _) = mixed(&dir);
    let text = explain(&[
        path_str(&rec.pcap),
        "--session",
        "0",
        "--key",
        path_str(&key),
    ]);
    assert!(
        text.contains("first client application data, decrypted step by step"),
        "{text}"
    );
    assert!(
        line(&text, "   as text").contains("POST /login HTTP/1.0"),
        "{text}"
    );
}

#[test]
fn record_keeps_the_answers_off_the_screen_and_the_table_fits_100_columns() {
    let dir = TestDir::new("true-spoil");
    let (rec, key, keylog) = mixed(&dir);
    for t in &rec.truth {
        let password = str_field(&t.raw, "password");
        assert!(
            !rec.done.stdout.contains(&password),
            "{}",
            rec.done.describe()
        );
    }
    let shown = record(
        dir.path(),
        "shown",
        &dir.join("keys"),
        &["--sessions", "rsa=1", "--seed", "7", "--show-answers"],
    );
    let password = str_field(&shown.truth[0].raw, "password");
    assert!(
        shown.done.stdout.contains(&password),
        "{}",
        shown.done.describe()
    );

    for loot in [["--key", path_str(&key)], ["--keylog", path_str(&keylog)]] {
        let done = attack(&[loot[0], loot[1], "--table-only", path_str(&rec.pcap)]);
        assert!(done.status.success(), "{}", done.describe());
        for l in done.stdout.lines() {
            assert!(l.chars().count() <= 100, "{} chars: {l}", l.chars().count());
        }
    }
}
