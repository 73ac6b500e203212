//! Resumed sessions in real OpenSSL traffic: `tests/data/openssl-resumption.pcap` was recorded
//! through `pfslab tap` between `openssl s_client` and `openssl s_server -tls1_2` (RSA key
//! transport): a full handshake, its ticket resumption, a full handshake with -no_ticket, and
//! its session-ID resumption. The server's key is `tests/data/resumption-server.key`.

use crate::common::{
    attack_sessions, openssl, path_str, TestDir, RESUMPTION_CAPTURE, RESUMPTION_KEY,
};

const CAPTURE: &str = RESUMPTION_CAPTURE;
const KEY: &str = RESUMPTION_KEY;

#[test]
fn ticket_and_session_id_resumptions_are_decrypted_from_their_originals() {
    let sessions = attack_sessions(&["--key", KEY, CAPTURE]);
    assert_eq!(sessions.len(), 4);
    let resumed: Vec<_> = sessions
        .iter()
        .map(|s| s["resumed"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        resumed,
        vec![None, Some("ticket".into()), None, Some("session-id".into())]
    );
    for s in &sessions {
        assert_eq!(s["verdict"], "decrypted", "{s}");
        assert_eq!(s["client_finished"], "verified", "{s}");
        assert_eq!(s["server_finished"], "verified", "{s}");
        assert!(
            s["client_data"]
                .as_str()
                .unwrap()
                .starts_with("GET /r HTTP/1.0"),
            "{s}"
        );
        assert!(
            s["server_data"]
                .as_str()
                .unwrap()
                .contains("HTTP/1.0 200 ok"),
            "{s}"
        );
    }
    assert!(sessions[1]["reason"]
        .as_str()
        .unwrap()
        .contains("resumes session 0"));
    assert!(sessions[3]["reason"]
        .as_str()
        .unwrap()
        .contains("resumes session 2"));
    // The resumed session shares the original's master secret.
    assert_eq!(sessions[0]["master_secret"], sessions[1]["master_secret"]);
}

#[test]
fn resumption_without_its_original_is_explained() {
    // A key log naming only the resumed session's client random is not enough either: the
    // abbreviated handshake has no key exchange of its own; here no secret at all is given
    // for the originals, so only a key log line for them would help.
    let dir = TestDir::new("resume");
    let other = dir.join("other.key");
    openssl(&["genrsa", "-out", path_str(&other), "2048"]);
    let sessions = attack_sessions(&["--key", path_str(&other), CAPTURE]);
    for s in &sessions {
        assert_eq!(s["verdict"], "not-decrypted", "{s}");
    }
    let reason = sessions[1]["reason"].as_str().unwrap();
    assert!(reason.contains("resumed session"), "{reason}");
    let reason0 = sessions[0]["reason"].as_str().unwrap();
    assert!(reason0.contains("not this server's key"), "{reason0}");
}
