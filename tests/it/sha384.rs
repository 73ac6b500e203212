//! The SHA-384 suites (0x009D, 0xC030): pfslab's endpoints, its attacker and tshark agree.

use std::process::Command;

fn pfslab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pfslab"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn sha384_suites_record_attack_and_tshark_agree() {
    let dir = std::env::temp_dir().join(format!("pfslab-sha384-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (pcap, keys, log) = (dir.join("lab.pcap"), dir.join("keys"), dir.join("k.log"));
    let s = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let out = pfslab(&[
        "record",
        "--sessions",
        "rsa256=1,ecdhe256=1",
        "--seed",
        "11",
        "--out",
        &s(&pcap),
        "--keys",
        &s(&keys),
        "--keylog",
        &s(&log),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("lab.truth.json")).unwrap()).unwrap();

    let key = s(&keys.join("server.key"));
    let out = pfslab(&["attack", "--json", "--key", &key, &s(&pcap)]);
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sessions = json["sessions"].as_array().unwrap();
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

    let out = pfslab(&["attack", "--json", "--keylog", &s(&log), &s(&pcap)]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (i, sess) in json["sessions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(sess["verdict"], "decrypted");
        assert_eq!(sess["server_data"], truth["sessions"][i]["server_data"]);
    }

    // tshark, the independent judge, decrypts both with the key log (seeded captures use port 443).
    let t = Command::new("tshark")
        .args([
            "-r",
            &s(&pcap),
            "-o",
            &format!("tls.keylog_file:{}", s(&log)),
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "tcp.stream",
            "-e",
            "http.file_data",
        ])
        .output()
        .expect("tshark is required (make deps installs it)");
    let text = String::from_utf8_lossy(&t.stdout);
    for i in 0..2 {
        let password = truth["sessions"][i]["password"].as_str().unwrap();
        assert!(
            text.contains(password),
            "tshark did not decrypt session {i}: {text}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
