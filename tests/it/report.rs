//! `pfslab report` checked in a real browser: Debian's chromium, headless, network off, loads
//! the page; its DOM must hold one card per session with the verdict `pfslab attack` gives (and
//! the answer key implies), and its screenshot must be a real picture. On the lab's own RSA,
//! ECDHE and TLS 1.3 sessions, and on OpenSSL traffic pfslab did not produce.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::*;

/// `pfslab report` + `args`; must exit 0.
fn report(args: &[&str]) -> Finished {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let done = run(pfslab(&all), b"");
    assert!(done.status.success(), "pfslab {all:?}: {}", done.describe());
    assert!(done.stdout.starts_with("wrote "), "{}", done.describe());
    done
}

/// The value of attribute `name` in the start tag `tag` (as chromium serialises: `name="v"`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[at..].split('"').next()?.to_string())
}

/// stream → verdict of every `<section class="session">` in the DOM, and how many there are.
fn session_cards(dom: &str) -> (usize, BTreeMap<u64, String>) {
    let tags: Vec<&str> = dom
        .split("<section")
        .skip(1)
        .filter_map(|s| s.split('>').next())
        .filter(|tag| attribute(tag, "class").as_deref() == Some("session"))
        .collect();
    let cards = tags
        .iter()
        .map(|tag| {
            let stream = attribute(tag, "data-stream")
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("card without a stream: {tag}"));
            let verdict = attribute(tag, "data-verdict")
                .unwrap_or_else(|| panic!("card without a verdict: {tag}"));
            (stream, verdict)
        })
        .collect();
    (tags.len(), cards)
}

/// stream → verdict as `pfslab attack --json` gives it with the same loot.
fn attack_verdicts(args: &[&str]) -> BTreeMap<u64, String> {
    attack_json(args)
        .0
        .into_iter()
        .map(|v| (v.stream, v.verdict))
        .collect()
}

/// Writes the page, loads it in chromium; returns the DOM after checking its cards against
/// `expected` and a 1280×2000 screenshot.
fn check_in_browser(
    dir: &TestDir,
    name: &str,
    loot: &[&str],
    captures: &[&Path],
    expected: &BTreeMap<u64, String>,
) -> String {
    let page = dir.join(&format!("{name}.html"));
    let mut args: Vec<&str> = loot.to_vec();
    args.extend(["--out", path_str(&page)]);
    args.extend(captures.iter().map(|c| path_str(c)));
    let done = report(&args);
    assert!(
        done.stdout.contains(&format!(
            "{} TLS session{} (",
            expected.len(),
            if expected.len() == 1 { "" } else { "s" }
        )),
        "{}",
        done.describe()
    );

    let dom = chromium_dump_dom(&page);
    let (count, cards) = session_cards(&dom);
    assert_eq!(count, expected.len(), "one card per session in {name}");
    assert_eq!(&cards, expected, "verdicts of the cards in {name}");
    assert_eq!(
        dom.matches("<svg class=\"ladder\"").count(),
        expected.len(),
        "one handshake ladder per card in {name}"
    );
    // The summary counts agree with the cards.
    for verdict in expected.values() {
        let n = expected.values().filter(|v| *v == verdict).count();
        assert!(
            dom.contains(&format!("data-verdict=\"{verdict}\" data-count=\"{n}\"")),
            "summary count of {verdict} in {name}"
        );
    }

    let shot = dir.join(&format!("{name}.png"));
    let png = chromium_screenshot(&page, &shot, 1280, 2000);
    assert_eq!(png_size(&png), Some((1280, 2000)), "screenshot of {name}");
    // A blank 1280×2000 page compresses to a few kilobytes; text, ladders and colours do not.
    assert!(
        png.len() > 20_000,
        "screenshot of {name} is nearly empty ({} bytes)",
        png.len()
    );
    dom
}

#[test]
fn report_of_rsa_ecdhe_and_tls13_sessions_in_a_real_browser() {
    let dir = TestDir::new("report-lab");
    let keys = dir.join("keys");
    let keylog = dir.join("lab.sslkeylog");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &[
            "--sessions",
            "rsa=1,ecdhe=1,tls13=1",
            "--seed",
            "3",
            "--keylog",
            path_str(&keylog),
        ],
    );
    let key = keys.join("server.key");
    let (key_s, log_s, pcap_s) = (path_str(&key), path_str(&keylog), path_str(&rec.pcap));
    let kinds: BTreeMap<u64, &str> = rec
        .truth
        .iter()
        .map(|t| (t.stream, t.key_exchange.as_str()))
        .collect();
    assert_eq!(
        kinds.values().copied().collect::<Vec<_>>(),
        ["rsa", "ecdhe", "tls13"]
    );

    // 1. The stolen key: only RSA key transport falls.
    let expected: BTreeMap<u64, String> = kinds
        .iter()
        .map(|(s, k)| {
            (
                *s,
                if *k == "rsa" {
                    "decrypted"
                } else {
                    "forward-secret"
                }
                .to_string(),
            )
        })
        .collect();
    assert_eq!(attack_verdicts(&["--key", key_s, pcap_s]), expected);
    let dom = check_in_browser(&dir, "key", &["--key", key_s], &[&rec.pcap], &expected);
    for t in &rec.truth {
        assert_eq!(
            dom.contains(&t.password),
            t.key_exchange == "rsa",
            "session {} ({}): its password is in the page exactly when the key opens it",
            t.stream,
            t.key_exchange
        );
    }
    assert!(dom.contains("The stolen key opened 1 session (0)"));
    assert!(dom.contains("never left the peers"));

    // 2. The stolen key and the server's key log: everything falls.
    let all: BTreeMap<u64, String> = kinds
        .keys()
        .map(|s| (*s, "decrypted".to_string()))
        .collect();
    assert_eq!(
        attack_verdicts(&["--key", key_s, "--keylog", log_s, pcap_s]),
        all
    );
    let dom = check_in_browser(
        &dir,
        "key-and-log",
        &["--key", key_s, "--keylog", log_s],
        &[&rec.pcap],
        &all,
    );
    for t in &rec.truth {
        assert!(dom.contains(&t.password), "session {}: password", t.stream);
    }
    assert!(dom.contains("read from the key log (CLIENT_TRAFFIC_SECRET_0 line), not computed"));

    // 3. Half a key log (the server's application secrets only): TLS 1.3 opens one way.
    let half = dir.write(
        "half.sslkeylog",
        std::fs::read_to_string(&keylog)
            .expect("key log")
            .lines()
            .filter(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 "))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .as_bytes(),
    );
    let partly = attack_verdicts(&["--keylog", path_str(&half), pcap_s]);
    assert_eq!(partly[&2], "partly-decrypted", "{partly:?}");
    let dom = check_in_browser(
        &dir,
        "half-log",
        &["--keylog", path_str(&half)],
        &[&rec.pcap],
        &partly,
    );
    assert!(dom.contains("never sent, and not in the key log (no CLIENT_TRAFFIC_SECRET_0 line)"));
}

#[test]
fn report_of_real_openssl_traffic_in_a_real_browser() {
    let dir = TestDir::new("report-openssl");
    let capture = data_dir().join("openssl-mixed.pcapng");
    let key = data_dir().join("fixture-server.key");
    let expected: BTreeMap<u64, String> = [(0, "decrypted"), (1, "forward-secret")]
        .into_iter()
        .map(|(s, v)| (s, v.to_string()))
        .collect();
    assert_eq!(
        attack_verdicts(&["--key", path_str(&key), path_str(&capture)]),
        expected
    );
    let dom = check_in_browser(
        &dir,
        "openssl",
        &["--key", path_str(&key)],
        &[&capture],
        &expected,
    );
    assert!(dom.contains("GET /fixture-openssl-mixed-rsa HTTP/1.0"));
    assert!(
        !dom.contains("/fixture-openssl-mixed-ecdhe"),
        "the ECDHE request stays ciphertext"
    );
    assert!(
        dom.contains("The ephemeral public values (x25519)"),
        "OpenSSL picks X25519"
    );

    // A live finite-field DHE session, OpenSSL on both ends, through the lab's tap.
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = openssl_s_server_www(
        &dir,
        &key,
        &cert,
        &["-www", "-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"],
    );
    let capture = dir.join("dhe.pcap");
    let tap = Tap::start(port, &capture, Some(1));
    openssl_s_client_page(
        tap.port,
        "DHE-RSA-AES128-GCM-SHA256",
        "GET /report-dhe HTTP/1.0\r\n\r\n",
        None,
    );
    tap.finish();
    let expected = attack_verdicts(&["--key", path_str(&key), path_str(&capture)]);
    assert_eq!(expected.values().collect::<Vec<_>>(), ["forward-secret"]);
    let dom = check_in_browser(
        &dir,
        "dhe",
        &["--key", path_str(&key)],
        &[&capture],
        &expected,
    );
    assert!(
        dom.contains("The ephemeral public values (finite-field DHE, "),
        "DHE's public values"
    );
    assert!(
        dom.contains("Yc = g^b mod p"),
        "the ladder shows the client's DHE value"
    );
    assert!(
        !dom.contains("/report-dhe"),
        "the DHE request stays ciphertext"
    );

    // Its resumptions (session IDs and tickets) open through the sessions they resume.
    let resumption = PathBuf::from(RESUMPTION_CAPTURE);
    let expected = attack_verdicts(&["--key", RESUMPTION_KEY, RESUMPTION_CAPTURE]);
    assert!(expected.values().all(|v| v == "decrypted"), "{expected:?}");
    let dom = check_in_browser(
        &dir,
        "resumption",
        &["--key", RESUMPTION_KEY],
        &[&resumption],
        &expected,
    );
    assert!(dom.contains("reused from session"));
}

#[test]
fn report_is_written_whole_or_not_at_all() {
    let dir = TestDir::new("report-atomic");
    let page = dir.write("page.html", b"the page from before");
    let garbage = dir.write("garbage.pcap", b"this is not a capture at all");
    let key = data_dir().join("fixture-server.key");
    let leftovers = || {
        std::fs::read_dir(dir.path())
            .expect("test dir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect::<Vec<_>>()
    };

    // A capture that cannot be read: the old page stays, no half page is left behind.
    let done = run(
        pfslab(&[
            "report",
            "--key",
            path_str(&key),
            "--out",
            path_str(&page),
            path_str(&garbage),
        ]),
        b"",
    );
    let line = single_error_line(&done);
    assert!(line.contains("garbage.pcap"), "{line}");
    assert_eq!(read(&page), b"the page from before");
    assert_eq!(leftovers(), Vec::<String>::new());

    // A missing capture, a directory that does not exist: one clear line, exit 1.
    let missing = dir.join("missing.pcap");
    let done = run(
        pfslab(&["report", "--out", path_str(&page), path_str(&missing)]),
        b"",
    );
    assert!(
        single_error_line(&done).contains("cannot open"),
        "{}",
        done.describe()
    );
    let capture = data_dir().join("openssl-mixed.pcapng");
    let nowhere = dir.join("no/such/dir/page.html");
    let done = run(
        pfslab(&["report", "--out", path_str(&nowhere), path_str(&capture)]),
        b"",
    );
    assert!(
        single_error_line(&done).contains("no/such/dir"),
        "{}",
        done.describe()
    );
    // No --out: bad usage.
    let done = run(pfslab(&["report", path_str(&capture)]), b"");
    assert_eq!(done.status.code(), Some(2), "{}", done.describe());

    // And a good run replaces the page whole.
    report(&["--out", path_str(&page), path_str(&capture)]);
    let html = String::from_utf8(read(&page)).expect("UTF-8 page");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(leftovers(), Vec::<String>::new());
}
