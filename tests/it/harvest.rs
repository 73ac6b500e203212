//! Issue 19, the attacker: `attack --assume-dlog-broken` (harvest now, decrypt later). On one
//! capture holding classical and hybrid sessions, the assumed DLP break opens the classical
//! ones to the answer key's bytes and leaves X25519MLKEM768 closed; a key that does not
//! regenerate its wire share is refused; every affected line says the break is assumed.

use serde_json::Value;

use crate::common::*;

const MIX: &str = "ecdhe=1,dhe=1,tls13=1,tls13-x25519=1,tls13-hybrid=2";

fn standin(dir: &TestDir) -> String {
    path_str(&dir.join("lab.dlog-standin.json")).to_string()
}

#[test]
fn the_assumed_dlog_break_opens_classical_sessions_and_not_the_hybrid() {
    let dir = TestDir::new("harvest-mix");
    let (rec, key, _) = seeded_recording(&dir, Some(MIX));
    let pcap = path_str(&rec.pcap);
    let file = standin(&dir);

    // 1. Today: the stolen key opens none of them.
    let (today, _) = attack_json(&["--key", path_str(&key), pcap]);
    assert_eq!(today.len(), 6);
    for v in &today {
        assert_eq!(
            v.verdict, "forward-secret",
            "stream {}: {}",
            v.stream, v.reason
        );
        assert!(!v.reason.contains("assumed"), "{}", v.reason);
    }

    // 2. Later, with discrete logs assumed broken.
    let (later, done) = attack_json(&["--assume-dlog-broken", &file, pcap]);
    let top: Value = serde_json::from_str(&done.stdout).unwrap();
    assert!(text(&top, "assumption").starts_with("ASSUMED"), "{top}");
    let mut seen = std::collections::BTreeMap::new();
    for v in &later {
        let truth = rec.by_client_random(&v.client_random);
        // The answer key names the TLS 1.3 group; TLS 1.2 sessions have none.
        let group = truth.raw["key_share_group"].as_str().map(str::to_string);
        let json_group = v.raw["group"].as_str().unwrap_or_default().to_string();
        *seen.entry(json_group.clone()).or_insert(0) += 1;
        let assumed = text(&v.raw, "assumed_dlog_break");
        assert!(assumed.starts_with("assumed DLP break"), "{assumed}");
        assert!(v.reason.contains("assumed DLP break"), "{}", v.reason);
        if json_group == "X25519MLKEM768" {
            assert_eq!(v.verdict, "forward-secret", "stream {}", v.stream);
            for words in [
                "X25519 half is recovered",
                "ML-KEM-768 shared secret (32 bytes",
                "is missing",
                "not known to break ML-KEM",
            ] {
                assert!(v.reason.contains(words), "{words:?} not in {}", v.reason);
            }
            assert_eq!(v.client_data, "");
        } else {
            assert_eq!(v.verdict, "decrypted", "stream {}: {}", v.stream, v.reason);
            assert_eq!(v.client_data, truth.client_data, "stream {}", v.stream);
            assert_eq!(v.server_data, truth.server_data, "stream {}", v.stream);
            assert!(text(&v.raw, "secret_source").contains("assumed DLP break"));
            if let Some(g) = &group {
                assert_eq!(
                    json_group.to_lowercase(),
                    g.to_lowercase(),
                    "stream {}",
                    v.stream
                );
            }
        }
    }
    let want: Vec<(&str, i32)> = vec![
        ("X25519MLKEM768", 2),
        ("ffdhe", 1),
        ("secp256r1", 2),
        ("x25519", 1),
    ];
    assert_eq!(
        seen.iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        want
    );

    // 3. The text output: the banner first, then every session row and the totals carry it.
    let done = attack(&[
        "--assume-dlog-broken",
        &file,
        "--table-only",
        "--quiet",
        pcap,
    ]);
    assert!(done.status.success(), "{}", done.describe());
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert!(lines[0].starts_with("ASSUMED: the discrete-log problem is treated as broken"));
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(rows.len(), 7, "{}", done.stdout); // 6 sessions + the totals
    for row in rows {
        assert!(row.contains("assumed DLP break"), "{row}");
    }
    assert!(done
        .stdout
        .contains("6 sessions: 4 decrypted, 2 forward-secret"));

    // 4. explain lays out both halves of the hybrid; report names the assumption.
    let hybrid = later
        .iter()
        .find(|v| v.raw["group"] == "X25519MLKEM768")
        .unwrap()
        .stream
        .to_string();
    let shown = run(
        pfslab(&[
            "explain",
            pcap,
            "--session",
            &hybrid,
            "--assume-dlog-broken",
            &file,
        ]),
        b"",
    );
    assert!(shown.status.success(), "{}", shown.describe());
    for words in [
        "X25519MLKEM768 (0x11ec)",
        "client 1216 bytes, server 1120 bytes",
        "client: ML-KEM-768 ek",
        "server: ML-KEM-768 ct",
        "ML-KEM-768 shared secret (32) ‖ X25519 shared secret (32)",
        "X25519 half [computed under the assumed DLP break",
        "The attacker holds the X25519 half only",
    ] {
        assert!(shown.stdout.contains(words), "{words:?}: {}", shown.stdout);
    }
    let html = dir.join("r.html");
    let made = run(
        pfslab(&[
            "report",
            "--assume-dlog-broken",
            &file,
            "--out",
            path_str(&html),
            pcap,
        ]),
        b"",
    );
    assert!(made.status.success(), "{}", made.describe());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("ASSUMED, not done"),
        "report lacks the assumption"
    );
    assert!(page.contains("Under that assumption 4 sessions"));
    assert!(page.contains("2 X25519MLKEM768 sessions"));
}

#[test]
fn a_standin_key_that_does_not_regenerate_the_wire_share_is_refused() {
    let dir = TestDir::new("harvest-tamper");
    let (rec, _, _) = seeded_recording(&dir, Some("ecdhe=1,tls13-x25519=1,tls13=1"));
    let pcap = path_str(&rec.pcap);
    let path = dir.join("lab.dlog-standin.json");
    // Flip one bit of the X25519 and the TLS 1.2 P-256 private keys; keep the file's own
    // public values, so only the check against the wire can catch it.
    let mut raw = json_file(&path);
    let mut flipped = Vec::new();
    for k in raw["keys"].as_array_mut().unwrap() {
        let cr = k["client_random"].as_str().unwrap().to_string();
        let kx = rec.by_client_random(&cr).key_exchange.clone();
        if k["group"] == "x25519" || kx == "ecdhe" {
            let mut private = hex_decode(k["private"].as_str().unwrap());
            private[5] ^= 0x10;
            k["private"] = Value::from(hex(&private));
            flipped.push(cr);
        }
    }
    assert_eq!(flipped.len(), 2);
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, raw.to_string()).unwrap();
    let (got, _) = attack_json(&["--assume-dlog-broken", path_str(&tampered), pcap]);
    assert_eq!(got.len(), 3);
    for v in got {
        if flipped.contains(&v.client_random) {
            assert_eq!(v.verdict, "forward-secret", "stream {}", v.stream);
            assert!(
                v.reason
                    .contains("does not regenerate the client's public value on the wire")
                    && v.reason.contains("refused, not used")
                    && v.reason.contains("assumed DLP break"),
                "{}",
                v.reason
            );
            assert_eq!(v.client_data, "");
        } else {
            assert_eq!(v.verdict, "decrypted", "stream {}: {}", v.stream, v.reason);
        }
    }
}
