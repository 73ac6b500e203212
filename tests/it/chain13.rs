//! Issue 19: TLS 1.3 resumptions chained from an opened parent. The parent's decrypted
//! NewSessionTicket and key schedule give the PSK a later session resumes with (RFC 8446
//! §4.6.1, §7.1); with the assumed DLP break also giving the child's (EC)DHE secret, a
//! psk_dhe_ke resumption opens. A key log holds traffic secrets only, so it gives no PSK.

use crate::common::*;

const CHAIN: &str = "tls13=1,tls13-x25519=1,tls13-hybrid=1,ecdhe=1,tls13+psk=2";

fn recording(dir: &TestDir, sessions: &str, keylog: Option<&std::path::Path>) -> Recording {
    let mut extra = vec!["--seed", "15", "--sessions", sessions];
    if let Some(k) = keylog {
        extra.extend_from_slice(&["--keylog", path_str(k)]);
    }
    record(dir.path(), "C", &dir.join("keys"), &extra)
}

#[test]
fn a_psk_dhe_ke_resumption_of_an_opened_session_opens_under_the_assumed_dlog_break() {
    let dir = TestDir::new("chain13-dlog");
    let rec = recording(&dir, CHAIN, None);
    let pcap = path_str(&rec.pcap);
    let standin = dir.join("C.dlog-standin.json");

    let (later, _) = attack_json(&["--assume-dlog-broken", path_str(&standin), pcap]);
    assert_eq!(later.len(), 6);
    let (parent, child) = (&later[4], &later[5]);
    assert_eq!(parent.verdict, "decrypted", "{}", parent.reason);
    assert_eq!(child.raw["psk_mode"], "psk_dhe_ke", "{}", child.raw);
    assert_eq!(child.verdict, "decrypted", "{}", child.reason);
    let truth = rec.by_client_random(&child.client_random);
    assert!(!truth.client_data.is_empty());
    assert_eq!(child.client_data, truth.client_data);
    assert_eq!(child.server_data, truth.server_data);
    for words in [
        "PSK derived from session 4's resumption master secret",
        "confirmed by its binder",
        "assumed DLP break",
        "the server Finished verifies",
    ] {
        assert!(
            child.reason.contains(words),
            "{words:?} not in {}",
            child.reason
        );
    }
    assert!(
        text(&child.raw, "secret_source").starts_with("PSK derived from session 4's"),
        "{}",
        child.raw
    );
    // The hybrid session stays closed; the totals count the child.
    assert_eq!(later[2].verdict, "forward-secret");
    let decrypted = later.iter().filter(|v| v.verdict == "decrypted").count();
    assert_eq!(decrypted, 5);

    // Without the flag nothing gives the parent's secrets, so the child stays closed.
    let (today, _) = attack_json(&["--key", path_str(&dir.join("keys/server.key")), pcap]);
    assert_eq!(today[5].verdict, "forward-secret", "{}", today[5].reason);
    assert!(
        !today[5].reason.contains("session 4"),
        "{}",
        today[5].reason
    );
    assert_eq!(today[5].client_data, "");
}

#[test]
fn a_key_log_of_the_parent_alone_names_the_ticket_but_gives_no_psk() {
    let dir = TestDir::new("chain13-keylog");
    let keylog = dir.join("server.keylog");
    let rec = recording(&dir, "tls13+psk_ke=2", Some(&keylog));
    let pcap = path_str(&rec.pcap);
    let parent = &rec.truth[0];
    let lines: String = std::fs::read_to_string(&keylog)
        .unwrap()
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains(&parent.client_random))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(lines.lines().count(), 5, "{lines}");
    let only_parent = dir.join("parent.keylog");
    std::fs::write(&only_parent, lines).unwrap();

    let (v, _) = attack_json(&["--keylog", path_str(&only_parent), pcap]);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].verdict, "decrypted", "{}", v[0].reason);
    assert_eq!(v[1].raw["psk_mode"], "psk_ke", "{}", v[1].raw);
    // The resumption master secret comes from the master secret, which no key log line holds.
    assert_eq!(v[1].verdict, "not-decrypted", "{}", v[1].reason);
    for words in [
        "a ticket session 0 issued",
        "yet its PSK is not had",
        "a key log holds only traffic secrets",
    ] {
        assert!(
            v[1].reason.contains(words),
            "{words:?} not in {}",
            v[1].reason
        );
    }
    assert_eq!(v[1].client_data, "");

    // The whole key log still opens both.
    let (all, _) = attack_json(&["--keylog", path_str(&keylog), pcap]);
    assert!(all.iter().all(|v| v.verdict == "decrypted"));
}
