//! The pfslab client → `openssl s_server -tls1_3` and → `gnutls-serv`.

use std::collections::BTreeSet;

use crate::common::*;

use super::{gnutls_description, openssl_s_server13};

fn connected_line13(port: u16, suite: Suite13) -> String {
    format!(
        "connected to 127.0.0.1:{port}: TLS 1.3, {}, key share secp256r1",
        suite.iana
    )
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> openssl s_server

fn pfslab_client_to_openssl_s_server(test: &str, suite: Suite13) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let args = ["--suite", suite.cli];

    // 1. The status page: OpenSSL allows both suites and reports what it saw pfslab offer.
    let both = format!("{}:{}", AES128.iana, AES256.iana);
    let (status_server, port) = openssl_s_server13(&dir, &key, &cert, "-www", &both, &[]);
    let done = pfslab_client_verified(port, &cert, &args);
    let why = || done.beside("pfslab client", "s_server", &status_server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line13(port, suite)),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{}", why());
    assert!(
        page.contains(&format!("New, TLSv1.3, Cipher is {}", suite.iana)),
        "{}",
        why()
    );
    assert!(page.contains("Protocol  : TLSv1.3"), "{}", why());
    // pfslab offered exactly the one suite it was asked for, and a P-256 share only.
    assert!(
        page.contains(&format!(
            "Ciphers common between both SSL end points:\n{}\n",
            suite.iana
        )),
        "{}",
        why()
    );
    assert!(page.contains("Supported groups: secp256r1\n"), "{}", why());
    assert!(page.contains("Shared groups: secp256r1\n"), "{}", why());
    drop(status_server);

    // 2. A file named by a unique path: s_server must have decrypted the request line to find
    //    it, and pfslab must decrypt the file to show it.
    let token = unique_token(test);
    let file_name = format!("{token}.txt");
    std::fs::write(
        dir.join("www").join(&file_name),
        format!("s_server file for {token}\n"),
    )
    .expect("write served file");
    let (file_server, port) = openssl_s_server13(&dir, &key, &cert, "-WWW", suite.iana, &[]);
    let request = format!("GET /{file_name} HTTP/1.0");
    let mut args2 = args.to_vec();
    args2.extend(["--request", request.as_str()]);
    let done = pfslab_client_verified(port, &cert, &args2);
    let why = || done.beside("pfslab client", "s_server", &file_server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line13(port, suite)),
        "{}",
        why()
    );
    assert!(done.stdout.starts_with("HTTP/1.0 200 ok"), "{}", why());
    assert!(
        done.stdout
            .contains(&format!("s_server file for {token}\n")),
        "{}",
        why()
    );
    // s_server names the file it served (on stderr).
    file_server.wait_output("FILE line", READY_TIMEOUT, |out| {
        out.contains(&format!("FILE:{file_name}\n")).then_some(())
    });
}

#[test]
fn pfslab_client_to_openssl_s_server_aes128() {
    pfslab_client_to_openssl_s_server("s_server13-aes128", AES128);
}

#[test]
fn pfslab_client_to_openssl_s_server_aes256() {
    pfslab_client_to_openssl_s_server("s_server13-aes256", AES256);
}

/// `--tls-version 1.3` without `--suite` offers both TLS 1.3 suites (and nothing else).
#[test]
fn pfslab_client_tls_version_13_offers_both_suites_to_openssl_s_server() {
    let dir = TestDir::new("s_server13-version");
    let (key, cert) = keygen(&dir, "keys");
    let both = format!("{}:{}", AES128.iana, AES256.iana);
    let (server, port) = openssl_s_server13(&dir, &key, &cert, "-www", &both, &[]);
    let done = pfslab_client_verified(port, &cert, &["--tls-version", "1.3"]);
    let why = || done.beside("pfslab client", "s_server", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr
            .contains(&format!("connected to 127.0.0.1:{port}: TLS 1.3, ")),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(
        page.contains("New, TLSv1.3, Cipher is TLS_AES_"),
        "{}",
        why()
    );
    let common = page
        .split("Ciphers common between both SSL end points:\n")
        .nth(1)
        .and_then(|r| r.split("\nSignature Algorithms").next())
        .unwrap_or_else(|| panic!("no common ciphers section: {}", why()));
    let offered: BTreeSet<&str> = common
        .split(|c: char| c == ':' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        offered,
        BTreeSet::from([AES128.iana, AES256.iana]),
        "{}",
        why()
    );
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> gnutls-serv

/// gnutls-serv's priority for the TLS 1.3 tests: TLS 1.3 only, both AES-GCM suites.
const GNUTLS_TLS13: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM";

fn pfslab_client_to_gnutls_serv(test: &str, suite: Suite13, extra: &[&str]) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let (server, port) = gnutls_serv(&key, &cert, GNUTLS_TLS13, extra);

    let token = unique_token(test);
    // gnutls-serv's page repeats the request headers: the token crosses both ways.
    let request = format!(
        "GET /{token} HTTP/1.0\\r\\nHost: localhost\\r\\nX-Pfslab-Token: {token}\\r\\n\\r\\n"
    );
    let done = pfslab_client_verified(port, &cert, &["--suite", suite.cli, "--request", &request]);
    let why = || done.beside("pfslab client", "gnutls-serv", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line13(port, suite)),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{}", why());
    assert!(
        page.contains("<TD>Protocol version:</TD><TD>TLS1.3</TD>"),
        "{}",
        why()
    );
    assert!(
        page.contains(&format!(
            "<TD>Description:</TD><TD>{}</TD>",
            gnutls_description(suite, "SECP256R1")
        )),
        "{}",
        why()
    );
    assert!(
        page.contains(&format!("<TD>Cipher</TD><TD>{}</TD>", suite.gnutls_cipher)),
        "{}",
        why()
    );
    assert!(
        page.contains("<p>Server Name: localhost</p>"),
        "SNI not seen: {}",
        why()
    );
    assert!(
        page.contains(&format!("X-Pfslab-Token: {token}")),
        "request headers not echoed: {}",
        why()
    );

    // gnutls-serv's own log of the session.
    server.wait_output("session log", READY_TIMEOUT, |out| {
        out.contains("- Version: TLS1.3\n").then_some(())
    });
    let log = format!("{}{}", server.stdout(), server.stderr());
    assert!(
        log.contains(&format!(
            "- Description: {}",
            gnutls_description(suite, "SECP256R1")
        )),
        "{}",
        why()
    );
    assert!(
        log.contains("- Server Signature: RSA-PSS-RSAE-SHA256"),
        "{}",
        why()
    );
    assert!(
        log.contains(&format!("- Cipher: {}", suite.gnutls_cipher)),
        "{}",
        why()
    );
}

#[test]
fn pfslab_client_to_gnutls_serv_aes128() {
    pfslab_client_to_gnutls_serv("gnutls-serv13-aes128", AES128, &["-a"]);
}

#[test]
fn pfslab_client_to_gnutls_serv_aes256() {
    pfslab_client_to_gnutls_serv("gnutls-serv13-aes256", AES256, &["-a"]);
}

/// Without `-a` gnutls-serv sends a TLS 1.3 CertificateRequest (client certificate optional):
/// the client answers with an empty Certificate (RFC 8446 §4.4.2) and no CertificateVerify.
#[test]
fn pfslab_client_answers_optional_tls13_certificate_request() {
    pfslab_client_to_gnutls_serv("gnutls-serv13-certreq", AES128, &[]);
}
