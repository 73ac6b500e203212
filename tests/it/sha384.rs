//! The SHA-384 suites (0x009D, 0xC030): pfslab's endpoints, its attacker and tshark agree.

use crate::common::{attack_sessions, json_file, path_str, record, tshark, with_keylog, TestDir};

#[test]
fn sha384_suites_record_attack_and_tshark_agree() {
    let dir = TestDir::new("sha384");
    let (keys, log) = (dir.join("keys"), dir.join("k.log"));
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &[
            "--sessions",
            "rsa256=1,ecdhe256=1",
            "--seed",
            "11",
            "--keylog",
            path_str(&log),
        ],
    );
    let pcap = path_str(&rec.pcap);
    let truth = json_file(&rec.truth_path);

    let key = keys.join("server.key");
    let sessions = attack_sessions(&["--key", path_str(&key), pcap]);
    assert_eq!(
        sessions[0]["cipher_suite"],
        "TLS_RSA_WITH_AES_256_GCM_SHA384"
    );
    assert_eq!(sessions[0]["verdict"], "decrypted");
    assert_eq!(sessions[0]["client_finished"], "verified");
    assert_eq!(
        sessions[0]["client_data"],
        truth["sessions"][0]["client_data"]
    );
    assert_eq!(
        sessions[0]["server_data"],
        truth["sessions"][0]["server_data"]
    );
    assert_eq!(
        sessions[1]["cipher_suite"],
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
    );
    assert_eq!(sessions[1]["verdict"], "forward-secret");

    let sessions = attack_sessions(&["--keylog", path_str(&log), pcap]);
    for (i, sess) in sessions.iter().enumerate() {
        assert_eq!(sess["verdict"], "decrypted");
        assert_eq!(sess["server_data"], truth["sessions"][i]["server_data"]);
    }

    // tshark, the independent judge, decrypts both with the key log (seeded captures use port 443).
    let text = tshark(
        &rec.pcap,
        &with_keylog(&log),
        &[
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "http.file_data",
        ],
    );
    for i in 0..2 {
        let password = truth["sessions"][i]["password"].as_str().unwrap();
        assert!(
            text.contains(password),
            "tshark did not decrypt session {i}: {text}"
        );
    }
}
