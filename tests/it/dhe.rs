//! Finite-field DHE (TLS_DHE_RSA_WITH_AES_128_GCM_SHA256, RFC 5246 §7.4.3, RFC 7919) against
//! OpenSSL and GnuTLS in both directions, with ffdhe2048 and with a group made by
//! `openssl dhparam 2048` (committed: tests/data/dh2048-openssl.pem); the attacker on recorded
//! and on real OpenSSL DHE traffic; tshark with the key log as the judge.

use std::path::{Path, PathBuf};

use crate::common::*;

fn data(name: &str) -> PathBuf {
    data_dir().join(name)
}

// ---------------------------------------------------------------------------------------------
// OpenSSL and GnuTLS clients -> pfslab server

fn openssl_s_client_to_pfslab_dhe(test: &str, server_args: &[&str], ems: bool) {
    require_tool("openssl", "openssl");
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let mut args = vec!["--suites", "dhe"];
    args.extend_from_slice(server_args);
    let server = PfslabServer::start(&key, &cert, &args);
    let token = unique_token(test);
    let conf = (!ems).then(|| no_ems_openssl_conf(&dir));
    let done = openssl_s_client_verified(
        server.addr.port(),
        &cert,
        &["-tls1_2", "-cipher", DHE.openssl],
        &bank_request_with_cookie(&token),
        conf.as_deref(),
    );
    let out = &done.stdout;
    let why = || done.beside("openssl s_client", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        out.contains(&format!("New, TLSv1.2, Cipher is {}", DHE.openssl)),
        "{}",
        why()
    );
    assert!(out.contains("Server Temp Key: DH, 2048 bits"), "{}", why());
    let ems_line = format!("Extended master secret: {}", if ems { "yes" } else { "no" });
    assert!(out.contains(&ems_line), "expected {ems_line:?}: {}", why());
    assert_bank_round_trip(
        out,
        &server,
        &token,
        &format!("{} EMS={}", DHE.iana, if ems { "yes" } else { "no" }),
        why,
    );
}

#[test]
fn openssl_s_client_to_pfslab_server_dhe_ffdhe2048() {
    openssl_s_client_to_pfslab_dhe("dhe-s_client-ffdhe", &[], true);
}

#[test]
fn openssl_s_client_without_ems_to_pfslab_server_dhe() {
    openssl_s_client_to_pfslab_dhe("dhe-s_client-noems", &[], false);
}

#[test]
fn openssl_s_client_to_pfslab_server_dhe_with_dh_params_file() {
    let params = data("dh2048-openssl.pem");
    openssl_s_client_to_pfslab_dhe(
        "dhe-s_client-dhparams",
        &["--dh-params", path_str(&params)],
        true,
    );
}

fn gnutls_dhe_priority(groups: &str, ems: bool) -> String {
    format!(
        "NONE:+VERS-TLS1.2:+AES-128-GCM:+AEAD:+DHE-RSA:+SIGN-ALL:{groups}:+COMP-NULL{}",
        if ems { "" } else { ":%NO_SESSION_HASH" }
    )
}

fn gnutls_cli_to_pfslab_dhe(test: &str, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", "ecdhe,dhe"]);
    let token = unique_token(test);
    // GnuTLS lists ffdhe2048 in supported_groups (RFC 7919 §3); no EC group, so DHE it is.
    let done = gnutls_cli(
        server.addr.port(),
        &gnutls_dhe_priority("+GROUP-FFDHE2048", ems),
        &["--x509cafile", path_str(&cert)],
        &bank_request_with_cookie(&token),
    );
    let out = format!("{}\n{}", done.stdout, done.stderr);
    let why = || done.beside("gnutls-cli", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        out.contains(&format!("- Description: {}", DHE.gnutls_description)),
        "{}",
        why()
    );
    assert_bank_round_trip(
        &out,
        &server,
        &token,
        &format!("{} EMS={}", DHE.iana, if ems { "yes" } else { "no" }),
        why,
    );
}

#[test]
fn gnutls_cli_to_pfslab_server_dhe() {
    gnutls_cli_to_pfslab_dhe("dhe-gnutls-cli", true);
}

#[test]
fn gnutls_cli_without_ems_to_pfslab_server_dhe() {
    gnutls_cli_to_pfslab_dhe("dhe-gnutls-cli-noems", false);
}

/// RFC 7919 §4: a client listing FFDHE groups, none of them the server's (a `--dh-params`
/// group), must not be given DHE: with nothing else in common the handshake fails.
#[test]
fn pfslab_server_with_custom_group_refuses_dhe_to_a_client_listing_other_ffdhe_groups() {
    let dir = TestDir::new("dhe-rfc7919-s4");
    let (key, cert) = keygen(&dir, "keys");
    let params = data("dh2048-openssl.pem");
    let server = PfslabServer::start(
        &key,
        &cert,
        &["--suites", "dhe", "--dh-params", path_str(&params)],
    );
    let done = gnutls_cli(
        server.addr.port(),
        &gnutls_dhe_priority("+GROUP-FFDHE2048", true),
        &["--insecure"],
        "GET / HTTP/1.0\r\n\r\n",
    );
    let why = || done.beside("gnutls-cli", "server", &server.proc);
    assert!(!done.status.success(), "{}", why());
    server.wait_log_line("no shared cipher suite");
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> OpenSSL and GnuTLS servers

fn pfslab_client_to_openssl_s_server_dhe(test: &str, dhparam: Option<&str>, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let token = unique_token(test);
    std::fs::create_dir_all(dir.join("www")).expect("mkdir www");
    let file_name = format!("{token}.txt");
    std::fs::write(
        dir.join("www").join(&file_name),
        format!("s_server file for {token}\n"),
    )
    .expect("write served file");
    let params = dhparam.map(data);
    let mut server_args = vec!["-WWW", "-tls1_2", "-cipher", DHE.openssl];
    if let Some(p) = &params {
        server_args.extend(["-dhparam", path_str(p)]);
    }
    let (server, port) = openssl_s_server_www(&dir, &key, &cert, &server_args);
    let request = format!("GET /{file_name} HTTP/1.0");
    let mut args = vec!["--suite", "dhe", "--request", request.as_str()];
    if !ems {
        args.push("--no-ems");
    }
    let done = pfslab_client_verified(port, &cert, &args);
    let why = || done.beside("pfslab client", "s_server", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line(port, DHE, ems)),
        "{}",
        why()
    );
    assert!(
        done.stdout
            .contains(&format!("s_server file for {token}\n")),
        "{}",
        why()
    );
}

#[test]
fn pfslab_client_to_openssl_s_server_dhe_default_group() {
    pfslab_client_to_openssl_s_server_dhe("dhe-s_server", None, true);
}

#[test]
fn pfslab_client_without_ems_to_openssl_s_server_dhe_dhparam() {
    pfslab_client_to_openssl_s_server_dhe(
        "dhe-s_server-dhparam",
        Some("dh2048-openssl.pem"),
        false,
    );
}

/// The client refuses a 1024-bit group and says why; `--dh-min-bits 1024` lets it through.
#[test]
fn pfslab_client_refuses_a_1024_bit_group_and_says_why() {
    let dir = TestDir::new("dhe-1024");
    let (key, cert) = keygen(&dir, "keys");
    let params = data("dh1024-openssl.pem");
    let cipher = format!("{}:@SECLEVEL=0", DHE.openssl);
    let (server, port) = openssl_s_server_www(
        &dir,
        &key,
        &cert,
        &[
            "-www",
            "-tls1_2",
            "-cipher",
            &cipher,
            "-dhparam",
            path_str(&params),
        ],
    );
    let done = pfslab_client_verified(port, &cert, &["--suite", "dhe"]);
    let why = || done.beside("pfslab client", "s_server", &server);
    assert!(!done.status.success(), "{}", why());
    assert!(
        done.stderr
            .contains("the DH prime p has 1024 bits; at least 2048 are required"),
        "{}",
        why()
    );
    let done = pfslab_client_verified(port, &cert, &["--suite", "dhe", "--dh-min-bits", "1024"]);
    assert!(done.status.success(), "{}", done.describe());
}

fn pfslab_client_to_gnutls_serv_dhe(test: &str, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let (server, port) = gnutls_serv(&key, &cert, "NORMAL:+DHE-RSA", &["-a"]);
    let token = unique_token(test);
    let request = format!(
        "GET /{token} HTTP/1.0\\r\\nHost: localhost\\r\\nX-Pfslab-Token: {token}\\r\\n\\r\\n"
    );
    let mut args = vec!["--suite", "dhe", "--request", &request];
    if !ems {
        args.push("--no-ems");
    }
    let done = pfslab_client_verified(port, &cert, &args);
    let why = || done.beside("pfslab client", "gnutls-serv", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line(port, DHE, ems)),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(
        page.contains(&format!(
            "<TD>Description:</TD><TD>{}</TD>",
            DHE.gnutls_description
        )),
        "{}",
        why()
    );
    assert!(
        page.contains(&format!("X-Pfslab-Token: {token}")),
        "{}",
        why()
    );
}

#[test]
fn pfslab_client_to_gnutls_serv_dhe_with_ems() {
    pfslab_client_to_gnutls_serv_dhe("dhe-gnutls-serv", true);
}

#[test]
fn pfslab_client_without_ems_to_gnutls_serv_dhe() {
    pfslab_client_to_gnutls_serv_dhe("dhe-gnutls-serv-noems", false);
}

// ---------------------------------------------------------------------------------------------
// The attacker

/// A recording with DHE sessions: the stolen key opens none of them (forward-secret, with the
/// group and both public values in the reason, the signature verified); the server's key log
/// opens all, to the same bytes tshark decrypts with that key log.
#[test]
fn recorded_dhe_sessions_are_forward_secret_and_open_with_the_key_log_like_tshark() {
    let dir = TestDir::new("dhe-record");
    let (rec, key, keylog) = seeded_recording(&dir, Some("dhe=2,rsa=1"));
    assert_eq!(rec.truth.len(), 3);
    let pcap = path_str(&rec.pcap);

    let (verdicts, done) = attack_json(&[pcap, "--key", path_str(&key)]);
    assert!(done.status.success(), "{}", done.describe());
    let dhe: Vec<_> = verdicts
        .iter()
        .filter(|v| v.key_exchange == "dhe")
        .collect();
    assert_eq!(dhe.len(), 2, "{verdicts:#?}");
    for v in &dhe {
        assert_eq!(v.verdict, "forward-secret", "{v:#?}");
        assert_eq!(v.cipher_suite, DHE.iana, "{v:#?}");
        for needle in [
            "2048-bit prime p",
            "the RFC 7919 group ffdhe2048",
            "g = 02",
            "Ys = g^a mod p (server ",
            "Yc = g^b mod p (client ",
            "the signature verifies with it",
            "never left the peers",
        ] {
            assert!(
                v.reason.contains(needle),
                "{needle:?} not in {:?}",
                v.reason
            );
        }
    }

    let (opened, done) = attack_json(&[pcap, "--keylog", path_str(&keylog)]);
    assert!(done.status.success(), "{}", done.describe());
    let opts: Vec<String> = decode_as(rec.server_port())
        .into_iter()
        .chain(with_keylog(&keylog))
        .collect();
    let streams: Vec<u64> = opened.iter().map(|v| v.stream).collect();
    let followed = follow_tls(&rec.pcap, &opts, &streams);
    for v in opened.iter().filter(|v| v.key_exchange == "dhe") {
        assert_eq!(v.verdict, "decrypted", "{v:#?}");
        let truth = rec.by_client_random(&v.client_random);
        assert!(v.client_data.contains("POST /login"), "{v:#?} {truth:?}");
        let f = &followed[&v.stream];
        assert_eq!(String::from_utf8_lossy(&f.first), v.client_data);
        assert_eq!(String::from_utf8_lossy(&f.second), v.server_data);
    }
}

/// `explain` on a DHE session: both public values on the wire, the premaster never sent.
#[test]
fn explain_shows_both_dh_public_values_and_the_premaster_never_sent() {
    let dir = TestDir::new("dhe-explain");
    let (rec, key, _) = seeded_recording(&dir, Some("dhe=1"));
    let done = run(
        pfslab(&[
            "explain",
            path_str(&rec.pcap),
            "--session",
            "0",
            "--key",
            path_str(&key),
        ]),
        b"",
    );
    assert!(done.status.success(), "{}", done.describe());
    for needle in [
        "ServerKeyExchange (server → client) [on the wire]",
        "the RFC 7919 group ffdhe2048",
        "Ys = g^a mod p (server)",
        "Yc = g^b mod p (client)",
        "client random ‖ server random ‖ p ‖ g ‖ Ys (RFC 5246 §7.4.3)",
        "premaster secret [never sent — the chain breaks here]",
        "The stolen RSA key verifies the ServerKeyExchange signature",
    ] {
        assert!(
            done.stdout.contains(needle),
            "{needle:?} missing:\n{}",
            done.stdout
        );
    }
}

/// Real OpenSSL DHE-GCM traffic (tests/data/README.md): session 0 in OpenSSL's default group
/// (RFC 3526 group 14), session 1 in the committed `openssl dhparam 2048` group.
#[test]
fn committed_openssl_dhe_capture_verdicts_and_bytes() {
    let pcap = data("openssl-dhe.pcap");
    let key = data("fixture-server.key");
    let keylog = data("openssl-dhe.keylog");
    let (verdicts, done) = attack_json(&[path_str(&pcap), "--key", path_str(&key)]);
    assert!(done.status.success(), "{}", done.describe());
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    for (v, group) in verdicts.iter().zip([
        "the RFC 3526 group 14, modp2048",
        "a custom group, not a well-known one",
    ]) {
        assert_eq!(v.key_exchange, "dhe");
        assert_eq!(v.verdict, "forward-secret", "{v:#?}");
        assert!(v.reason.contains(group), "{group:?} not in {:?}", v.reason);
        assert!(
            v.reason
                .contains("rsa_pss_rsae_sha256; the signature verifies with it"),
            "{:?}",
            v.reason
        );
    }

    key_log_opens_like_tshark(
        &pcap,
        &keylog,
        39175,
        &[
            "GET /fixture-openssl-dhe-ffdhe2048 HTTP/1.0\r\n",
            "GET /fixture-openssl-dhe-custom HTTP/1.0\r\n",
        ],
    );
}

/// `attack --keylog` opens every session of a committed OpenSSL capture (server on `port`),
/// each asking for its `requests` line, to the bytes tshark shows with the same key log.
fn key_log_opens_like_tshark(pcap: &Path, keylog: &Path, port: u16, requests: &[&str]) {
    let (opened, done) = attack_json(&[path_str(pcap), "--keylog", path_str(keylog)]);
    assert!(done.status.success(), "{}", done.describe());
    assert_eq!(opened.len(), requests.len(), "{opened:#?}");
    let opts: Vec<String> = decode_as(port)
        .into_iter()
        .chain(with_keylog(keylog))
        .collect();
    let streams: Vec<u64> = opened.iter().map(|v| v.stream).collect();
    let followed = follow_tls(pcap, &opts, &streams);
    for (v, request) in opened.iter().zip(requests) {
        assert_eq!(v.verdict, "decrypted", "{v:#?}");
        assert!(v.client_data.starts_with(request), "{v:#?}");
        assert!(v.server_data.starts_with("HTTP/1.0 200 ok"), "{v:#?}");
        let f = &followed[&v.stream];
        assert_eq!(String::from_utf8_lossy(&f.first), v.client_data);
        assert_eq!(String::from_utf8_lossy(&f.second), v.server_data);
    }
}

/// Real OpenSSL DHE-CBC (0x0033) traffic (tests/data/README.md): session 0 with encrypt-then-MAC,
/// session 1 with `-no_etm`.
#[test]
fn committed_openssl_dhe_cbc_capture_verdicts_and_bytes() {
    let pcap = data("openssl-dhe-cbc.pcap");
    let key = data("fixture-server.key");
    let keylog = data("openssl-dhe-cbc.keylog");
    let (verdicts, done) = attack_json(&[path_str(&pcap), "--key", path_str(&key)]);
    assert!(done.status.success(), "{}", done.describe());
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    for (v, etm) in verdicts.iter().zip([true, false]) {
        assert_eq!(v.key_exchange, "dhe");
        assert_eq!(v.raw["cipher_suite"], "TLS_DHE_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(v.raw["encrypt_then_mac"], etm, "{v:#?}");
        assert_eq!(v.verdict, "forward-secret", "{v:#?}");
    }
    key_log_opens_like_tshark(
        &pcap,
        &keylog,
        39177,
        &[
            "GET /fixture-openssl-dhe-cbc-etm HTTP/1.0\r\n",
            "GET /fixture-openssl-dhe-cbc-no-etm HTTP/1.0\r\n",
        ],
    );
}
