//! Issue 15 §2: the CBC-HMAC suites 0x002F, 0x003C, 0x003D and 0xC013 against OpenSSL and
//! GnuTLS in both directions (encrypt-then-MAC on and off, EMS on and off), the committed
//! tcpdump fixture of their CBC traffic, `pfslab record` of CBC sessions judged by tshark, and
//! `explain`'s four session keys against tshark's `tls.debug_file`.
//!
//! Needs openssl, gnutls-bin and tshark; missing tools fail the test with the package to install.

use crate::common::*;

/// One CBC suite under each tool's name.
#[derive(Clone, Copy, Debug)]
struct Cbc {
    cli: &'static str,
    iana: &'static str,
    openssl: &'static str,
    /// GnuTLS priority items: key exchange, cipher, MAC.
    gnutls: &'static str,
    /// GnuTLS "Description" line.
    gnutls_description: &'static str,
}

const CBC_SUITES: [Cbc; 5] = [
    Cbc {
        cli: "rsa-cbc",
        iana: "TLS_RSA_WITH_AES_128_CBC_SHA",
        openssl: "AES128-SHA",
        gnutls: "+RSA:+AES-128-CBC:+SHA1",
        gnutls_description: "(TLS1.2-X.509)-(RSA)-(AES-128-CBC)-(SHA1)",
    },
    Cbc {
        cli: "rsa-cbc256",
        iana: "TLS_RSA_WITH_AES_128_CBC_SHA256",
        openssl: "AES128-SHA256",
        gnutls: "+RSA:+AES-128-CBC:+SHA256",
        gnutls_description: "(TLS1.2-X.509)-(RSA)-(AES-128-CBC)-(SHA256)",
    },
    Cbc {
        cli: "rsa256-cbc",
        iana: "TLS_RSA_WITH_AES_256_CBC_SHA256",
        openssl: "AES256-SHA256",
        gnutls: "+RSA:+AES-256-CBC:+SHA256",
        gnutls_description: "(TLS1.2-X.509)-(RSA)-(AES-256-CBC)-(SHA256)",
    },
    Cbc {
        cli: "ecdhe-cbc",
        iana: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        openssl: "ECDHE-RSA-AES128-SHA",
        gnutls: "+ECDHE-RSA:+AES-128-CBC:+SHA1:+GROUP-SECP256R1",
        gnutls_description: "(TLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-CBC)-(SHA1)",
    },
    Cbc {
        cli: "dhe-cbc",
        iana: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        openssl: "DHE-RSA-AES128-SHA",
        gnutls: "+DHE-RSA:+AES-128-CBC:+SHA1:+GROUP-FFDHE2048",
        gnutls_description: "(TLS1.2-X.509)-(DHE-FFDHE2048)-(RSA-SHA256)-(AES-128-CBC)-(SHA1)",
    },
];

const ALL_CLI: &str = "rsa-cbc,rsa-cbc256,rsa256-cbc,ecdhe-cbc,dhe-cbc";

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The pfslab server's log tail for a CBC session: suite, EMS and EtM.
fn log_prefix(s: Cbc, ems: bool, etm: bool) -> String {
    format!("{} EMS={} ETM={}", s.iana, yes_no(ems), yes_no(etm))
}

// ---------------------------------------------------------------------------------------------
// openssl s_client and gnutls-cli -> pfslab server

#[test]
fn openssl_s_client_to_pfslab_server_every_cbc_suite_etm_on_and_off() {
    let dir = TestDir::new("cbc-s_client");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", ALL_CLI]);
    let no_ems = no_ems_openssl_conf(&dir);
    for s in CBC_SUITES {
        for (etm, ems) in [(true, true), (false, true), (false, false)] {
            let token = unique_token(&format!("s_client-{}-{etm}-{ems}", s.cli));
            let request = bank_request_with_cookie(&token);
            let mut args = vec!["-tls1_2", "-cipher", s.openssl];
            if !etm {
                args.push("-no_etm");
            }
            let conf = (!ems).then_some(no_ems.as_path());
            let done = openssl_s_client_verified(server.addr.port(), &cert, &args, &request, conf);
            let why = || done.beside("openssl s_client", "server", &server.proc);
            assert!(done.status.success(), "{}", why());
            assert!(
                done.stdout.contains(&format!("Cipher is {}", s.openssl)),
                "{}",
                why()
            );
            let ems_line = format!("Extended master secret: {}", yes_no(ems));
            assert!(done.stdout.contains(&ems_line), "{}", why());
            assert_bank_round_trip(&done.stdout, &server, &token, &log_prefix(s, ems, etm), why);
        }
    }
}

#[test]
fn gnutls_cli_to_pfslab_server_every_cbc_suite_etm_on_and_off() {
    let dir = TestDir::new("cbc-gnutls-cli");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", ALL_CLI]);
    for s in CBC_SUITES {
        for (etm, ems) in [(true, true), (false, false)] {
            let token = unique_token(&format!("gnutls-cli-{}-{etm}", s.cli));
            let mut priority = format!("NONE:+VERS-TLS1.2:{}:+SIGN-ALL:+COMP-NULL", s.gnutls);
            if !etm {
                priority.push_str(":%NO_ETM");
            }
            if !ems {
                priority.push_str(":%NO_SESSION_HASH");
            }
            let done = gnutls_cli(
                server.addr.port(),
                &priority,
                &["--x509cafile", path_str(&cert)],
                &bank_request_with_cookie(&token),
            );
            let out = format!("{}\n{}", done.stdout, done.stderr);
            let why = || done.beside("gnutls-cli", "server", &server.proc);
            assert!(done.status.success(), "{}", why());
            assert!(
                out.contains(&format!("- Description: {}", s.gnutls_description)),
                "{}",
                why()
            );
            assert_bank_round_trip(&out, &server, &token, &log_prefix(s, ems, etm), why);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> openssl s_server and gnutls-serv

fn cbc_line(etm: bool) -> &'static str {
    if etm {
        "CBC records: encrypt-then-MAC (RFC 7366)"
    } else {
        "CBC records: MAC-then-encrypt (RFC 5246)"
    }
}

#[test]
fn pfslab_client_to_openssl_s_server_every_cbc_suite_etm_on_and_off() {
    let dir = TestDir::new("cbc-s_server");
    let (key, cert) = keygen(&dir, "keys");
    let ciphers = CBC_SUITES.map(|s| s.openssl).join(":");
    for server_etm in [true, false] {
        let mut sargs = vec!["-www", "-tls1_2", "-cipher", ciphers.as_str()];
        if !server_etm {
            sargs.push("-no_etm");
        }
        let (server, port) = openssl_s_server_www(&dir, &key, &cert, &sargs);
        for s in CBC_SUITES {
            for (client_etm, ems) in [(true, true), (false, false)] {
                let mut args = vec!["--suite", s.cli];
                if !client_etm {
                    args.push("--no-etm");
                }
                if !ems {
                    args.push("--no-ems");
                }
                let done = pfslab_client_verified(port, &cert, &args);
                let why = || done.beside("pfslab client", "openssl s_server", &server);
                assert!(done.status.success(), "{}", why());
                let connected = format!(
                    "connected to 127.0.0.1:{port}: TLS 1.2, {}, extended master secret {}",
                    s.iana,
                    yes_no(ems)
                );
                assert!(done.stderr.contains(&connected), "{}", why());
                let etm = server_etm && client_etm;
                assert!(done.stderr.contains(cbc_line(etm)), "{}", why());
                // s_server's status page names the suite it decrypted the request under.
                assert!(
                    done.stdout.contains(&format!("Cipher is {}", s.openssl)),
                    "{}",
                    why()
                );
            }
        }
    }
}

#[test]
fn pfslab_client_to_gnutls_serv_every_cbc_suite_etm_on_and_off() {
    let dir = TestDir::new("cbc-gnutls-serv");
    let (key, cert) = keygen(&dir, "keys");
    for priority in ["NORMAL:+SHA256", "NORMAL:+SHA256:%NO_ETM"] {
        let (server, port) = gnutls_serv(&key, &cert, priority, &["-a"]);
        let server_etm = !priority.contains("NO_ETM");
        for s in CBC_SUITES {
            for client_etm in [true, false] {
                let token = unique_token(&format!("gnutls-serv-{}", s.cli));
                let request =
                    format!("GET /{token} HTTP/1.0\\r\\nX-Pfslab-Token: {token}\\r\\n\\r\\n");
                let mut args = vec!["--suite", s.cli, "--request", &request];
                if !client_etm {
                    args.push("--no-etm");
                }
                let done = pfslab_client_verified(port, &cert, &args);
                let why = || done.beside("pfslab client", "gnutls-serv", &server);
                assert!(done.status.success(), "{}", why());
                assert!(
                    done.stderr.contains(cbc_line(server_etm && client_etm)),
                    "{}",
                    why()
                );
                let page = &done.stdout;
                assert!(page.starts_with("HTTP/1.0 200 OK"), "{}", why());
                assert!(
                    page.contains(&format!(
                        "<TD>Description:</TD><TD>{}</TD>",
                        s.gnutls_description
                    )),
                    "{}",
                    why()
                );
                assert!(page.contains(&token), "{}", why());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The committed fixture: real OpenSSL and GnuTLS CBC traffic (tests/data/README.md)

const FIXTURE_PORT: u16 = 39176;

/// (stream, suite, EMS, EtM, request path) of the six sessions in `openssl-cbc.pcap`.
const FIXTURE_SESSIONS: [(u64, &str, bool, bool, &str); 6] = [
    (
        0,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        true,
        true,
        "/fixture-cbc-sha-etm",
    ),
    (
        1,
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        true,
        false,
        "/fixture-cbc-sha256-mte",
    ),
    (
        2,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        true,
        true,
        "/fixture-cbc-aes256-etm",
    ),
    (
        3,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        true,
        true,
        "/fixture-cbc-ecdhe",
    ),
    (
        4,
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        false,
        false,
        "/fixture-cbc-gnutls-mte-noems",
    ),
    (
        5,
        "TLS_RSA_WITH_AES_256_CBC_SHA256",
        true,
        true,
        "/fixture-cbc-gnutls-aes256-etm",
    ),
];

#[test]
fn committed_cbc_fixture_verdicts_and_bytes_match_tshark() {
    let (key, pcap) = (
        data_dir().join("fixture-server.key"),
        data_dir().join("openssl-cbc.pcap"),
    );
    let by_stream = attack_by_stream(&["--key", path_str(&key), path_str(&pcap)]);
    assert_eq!(by_stream.len(), 6, "{by_stream:#?}");
    let mut opts = decode_as(FIXTURE_PORT);
    opts.extend(with_rsa_key(&key));
    let followed = follow_tls(&pcap, &opts, &[0, 1, 2, 3, 4, 5]);
    for (stream, suite, ems, etm, path) in FIXTURE_SESSIONS {
        let v = &by_stream[&stream];
        assert_eq!(text(v, "cipher_suite"), suite, "{v:#}");
        assert_eq!(v["extended_master_secret"].as_bool(), Some(ems), "{v:#}");
        assert_eq!(v["encrypt_then_mac"].as_bool(), Some(etm), "{v:#}");
        if suite.starts_with("TLS_ECDHE") {
            assert_eq!(text(v, "verdict"), "forward-secret", "{v:#}");
            assert!(
                followed[&stream].is_empty(),
                "tshark opened ECDHE with the key"
            );
            continue;
        }
        assert_eq!(text(v, "verdict"), "decrypted", "{v:#}");
        assert_eq!(text(v, "client_finished"), "verified", "{v:#}");
        assert_eq!(text(v, "server_finished"), "verified", "{v:#}");
        let client_data = data(v, "client_data");
        assert!(
            client_data.starts_with(&format!("GET {path} HTTP/1.0\r\n")),
            "{v:#}"
        );
        let (c, s) = (text(v, "client"), text(v, "server"));
        let (tc, ts) = followed[&stream].by_side(c, s);
        assert_eq!(String::from_utf8_lossy(tc), client_data, "stream {stream}");
        assert_eq!(
            String::from_utf8_lossy(ts),
            data(v, "server_data"),
            "stream {stream}"
        );
    }
    // inspect says how each session's records are protected.
    let inspect = run(pfslab(&["inspect", path_str(&pcap)]), b"");
    assert!(inspect.status.success(), "{}", inspect.describe());
    let etm = "records: AES-CBC + HMAC-SHA256, encrypt-then-MAC (RFC 7366)";
    let mte = "records: AES-CBC + HMAC-SHA1, MAC-then-encrypt (RFC 5246 §6.2.3.2)";
    assert_eq!(inspect.stdout.matches(etm).count(), 2, "{}", inspect.stdout);
    assert_eq!(inspect.stdout.matches(mte).count(), 1, "{}", inspect.stdout);
    assert_eq!(inspect.stdout.matches("records: AES-CBC").count(), 6);

    // The key log opens the ECDHE session too.
    let keylog = data_dir().join("openssl-cbc.keylog");
    let by_log = attack_by_stream(&["--keylog", path_str(&keylog), path_str(&pcap)]);
    let v = &by_log[&3];
    assert_eq!(text(v, "verdict"), "decrypted", "{v:#}");
    assert!(data(v, "client_data").starts_with("GET /fixture-cbc-ecdhe HTTP/1.0\r\n"));
}

// ---------------------------------------------------------------------------------------------
// pfslab record of CBC sessions, judged by tshark; explain's four keys

/// Every `LABEL[n]:` hex dump in a tshark TLS debug file, in order.
fn debug_file_values(debug: &str, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = debug.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix(label) else {
            continue;
        };
        if !rest.starts_with('[') {
            continue;
        }
        let mut hex = String::new();
        while let Some(l) = lines.peek().filter(|l| l.starts_with('|')) {
            hex.extend(l.split('|').nth(1).unwrap_or_default().split_whitespace());
            lines.next();
        }
        out.push(hex);
    }
    out
}

/// The hex value `explain` prints after `label`, continuation lines included.
fn explain_value(explain: &str, label: &str) -> String {
    let mut lines = explain.lines();
    let first = lines
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in explain:\n{explain}"));
    let mut hex: String = first.trim_start()[label.len()..]
        .split_whitespace()
        .collect();
    for l in lines {
        let is_hex = l.starts_with("                    ")
            && l.split_whitespace()
                .all(|w| w.chars().all(|c| c.is_ascii_hexdigit()));
        if !is_hex || l.trim().is_empty() {
            break;
        }
        hex.extend(l.split_whitespace());
    }
    hex
}

fn record_and_judge(dir: &TestDir, name: &str, extra: &[&str], etm: bool) {
    let keys = dir.join("keys");
    let mut args = vec![
        "--seed",
        "7",
        "--sessions",
        "rsa-cbc=1,ecdhe-cbc=1,rsa-cbc256=1,rsa256-cbc=1",
    ];
    args.extend_from_slice(extra);
    let rec = record(dir.path(), name, &keys, &args);
    let key = keys.join("server.key");
    let by_stream = attack_by_stream(&["--key", path_str(&key), path_str(&rec.pcap)]);
    let debug = dir.join(&format!("{name}.tls-debug.txt"));
    let mut opts = decode_as(rec.server_port());
    opts.extend(with_rsa_key(&key));
    opts.extend([
        "-o".to_string(),
        format!("tls.debug_file:{}", path_str(&debug)),
    ]);
    let followed = follow_tls(&rec.pcap, &opts, &[0, 1, 2, 3]);
    let debug_text = std::fs::read_to_string(&debug).expect("tshark's debug file");
    let labels = [
        ("Client MAC key", "client write MAC key"),
        ("Server MAC key", "server write MAC key"),
        ("Client Write key", "client write key"),
        ("Server Write key", "server write key"),
    ];
    let tshark_keys: Vec<Vec<String>> = labels
        .iter()
        .map(|(t, _)| debug_file_values(&debug_text, t))
        .collect();
    let mut rsa_seen = 0;
    for (stream, v) in &by_stream {
        assert_eq!(v["encrypt_then_mac"].as_bool(), Some(etm), "{v:#}");
        if text(v, "key_exchange") == "ecdhe" {
            assert_eq!(text(v, "verdict"), "forward-secret", "{v:#}");
            continue;
        }
        assert_eq!(text(v, "verdict"), "decrypted", "{v:#}");
        assert_eq!(text(v, "client_finished"), "verified", "{v:#}");
        assert_eq!(text(v, "server_finished"), "verified", "{v:#}");
        let (tc, ts) = followed[stream].by_side(text(v, "client"), text(v, "server"));
        assert_eq!(String::from_utf8_lossy(tc), data(v, "client_data"));
        assert_eq!(String::from_utf8_lossy(ts), data(v, "server_data"));
        assert!(data(v, "client_data").starts_with("POST /login HTTP/1.0"));

        // explain's four keys are tshark's (its sessions in stream order; ECDHE has none).
        let session = stream.to_string();
        let done = run(
            pfslab(&[
                "explain",
                path_str(&rec.pcap),
                "--key",
                path_str(&key),
                "--session",
                &session,
            ]),
            b"",
        );
        assert!(done.status.success(), "{}", done.describe());
        for (i, (_, ours)) in labels.iter().enumerate() {
            let tshark_value = tshark_keys[i].get(rsa_seen).unwrap_or_else(|| {
                panic!("tshark's debug file lacks {:?} #{rsa_seen}", labels[i].0)
            });
            assert_eq!(
                &explain_value(&done.stdout, ours),
                tshark_value,
                "{ours}, stream {stream}"
            );
        }
        assert!(done
            .stdout
            .contains("MAC check                 OK: MAC recomputed = MAC received"));
        rsa_seen += 1;
    }
    assert_eq!(rsa_seen, 3);
}

#[test]
fn recorded_cbc_sessions_decrypt_like_tshark_and_explain_shows_its_four_keys() {
    let dir = TestDir::new("cbc-record-etm");
    record_and_judge(&dir, "etm", &[], true);
}

#[test]
fn recorded_mac_then_encrypt_sessions_decrypt_like_tshark() {
    let dir = TestDir::new("cbc-record-mte");
    record_and_judge(&dir, "mte", &["--no-etm", "--no-ems"], false);
}
