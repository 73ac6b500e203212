//! pfslab against real TLS stacks over loopback: OpenSSL and GnuTLS as clients of the pfslab
//! server, and as servers for the pfslab client. Each test checks the negotiated suite and
//! application data in both directions (a unique path or token the peer must have decrypted,
//! and a reply the other side must have decrypted).
//!
//! Needs `openssl` (Debian package openssl) and `gnutls-cli` / `gnutls-serv` (gnutls-bin);
//! missing tools fail the test with the package to install.

use std::path::Path;

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// openssl s_client -> pfslab server

/// `openssl s_client` asks the pfslab server for a unique path with a cookie.
fn openssl_s_client_to_pfslab(test: &str, suite: SuiteNames, ems: bool) {
    require_tool("openssl", "openssl");
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    // OpenSSL 3.0's s_client has no -no_ems switch; an SSL_CONF option does the same.
    let conf = (!ems).then(|| no_ems_openssl_conf(&dir));
    let done = openssl_s_client_verified(
        server.addr.port(),
        &cert,
        &["-tls1_2", "-cipher", suite.openssl],
        &request,
        conf.as_deref(),
    );
    let out = &done.stdout;
    let why = || done.beside("openssl s_client", "server", &server.proc);

    assert!(done.status.success(), "{}", why());
    assert!(
        out.contains(&format!("New, TLSv1.2, Cipher is {}", suite.openssl)),
        "{}",
        why()
    );
    assert!(
        out.contains("Verify return code: 0 (ok)"),
        "certificate not accepted: {}",
        why()
    );
    let ems_line = format!("Extended master secret: {}", if ems { "yes" } else { "no" });
    assert!(out.contains(&ems_line), "expected {ems_line:?}: {}", why());
    // Server -> client: the reply repeats the path and the cookie.
    assert!(out.contains("HTTP/1.0 200 OK"), "{}", why());
    // Both directions: the reply repeats path and cookie; the server decrypted the request.
    assert_bank_round_trip(
        out,
        &server,
        &token,
        &format!("{} EMS={}", suite.iana, if ems { "yes" } else { "no" }),
        why,
    );
}

#[test]
fn openssl_s_client_to_pfslab_server_rsa() {
    openssl_s_client_to_pfslab("s_client-rsa", RSA, true);
}

#[test]
fn openssl_s_client_to_pfslab_server_ecdhe() {
    openssl_s_client_to_pfslab("s_client-ecdhe", ECDHE, true);
}

#[test]
fn openssl_s_client_without_ems_to_pfslab_server_rsa() {
    openssl_s_client_to_pfslab("s_client-noems-rsa", RSA, false);
}

#[test]
fn openssl_s_client_without_ems_to_pfslab_server_ecdhe() {
    openssl_s_client_to_pfslab("s_client-noems-ecdhe", ECDHE, false);
}

// ---------------------------------------------------------------------------------------------
// gnutls-cli -> pfslab server, extended master secret off

fn gnutls_cli_to_pfslab(test: &str, suite: SuiteNames) {
    require_tool("gnutls-cli", "gnutls-bin");
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    let priority = format!(
        "NONE:+VERS-TLS1.2:+AES-128-GCM:+AEAD:+{}:+SIGN-ALL:+GROUP-SECP256R1:+COMP-NULL:%NO_SESSION_HASH",
        suite.gnutls_kx
    );
    // stdin stays open: gnutls-cli leaves when the server closes the session.
    let done = gnutls_cli(
        server.addr.port(),
        &priority,
        &["--x509cafile", path_str(&cert)],
        &request,
    );
    let out = format!("{}\n{}", done.stdout, done.stderr); // status lines go to either stream
    let why = || done.beside("gnutls-cli", "server", &server.proc);

    assert!(done.status.success(), "{}", why());
    assert!(
        out.contains("- Status: The certificate is trusted."),
        "{}",
        why()
    );
    assert!(
        out.contains(&format!("- Description: {}", suite.gnutls_description)),
        "{}",
        why()
    );
    let options = out
        .lines()
        .find(|l| l.starts_with("- Options:"))
        .unwrap_or_else(|| panic!("no Options line: {}", why()));
    assert!(
        !options.contains("extended master secret"),
        "EMS negotiated despite %NO_SESSION_HASH: {}",
        why()
    );
    // Both directions: the reply repeats path and cookie; the server decrypted the request.
    assert_bank_round_trip(
        &out,
        &server,
        &token,
        &format!("{} EMS=no", suite.iana),
        why,
    );
}

#[test]
fn gnutls_cli_without_ems_to_pfslab_server_rsa() {
    gnutls_cli_to_pfslab("gnutls-cli-rsa", RSA);
}

#[test]
fn gnutls_cli_without_ems_to_pfslab_server_ecdhe() {
    gnutls_cli_to_pfslab("gnutls-cli-ecdhe", ECDHE);
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> openssl s_server

/// `openssl s_server -tls1_2` with the lab's two suites, serving from `dir/www` (no keys
/// there): `mode` is `-www` (a status page naming the session's cipher) or `-WWW` (files).
fn openssl_s_server12(dir: &TestDir, key: &Path, cert: &Path, mode: &str) -> (Proc, u16) {
    let suites = format!("{}:{}", RSA.openssl, ECDHE.openssl);
    openssl_s_server_www(dir, key, cert, &[mode, "-tls1_2", "-cipher", &suites])
}

fn pfslab_client_to_openssl_s_server(test: &str, suite: SuiteNames, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let mut args = vec!["--suite", suite.cli];
    if !ems {
        args.push("--no-ems");
    }

    // 1. The status page: the cipher OpenSSL chose, from its side.
    let (status_server, port) = openssl_s_server12(&dir, &key, &cert, "-www");
    let done = pfslab_client_verified(port, &cert, &args);
    let why = || done.beside("pfslab client", "s_server", &status_server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line(port, suite, ems)),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{}", why());
    assert!(
        page.contains(&format!("New, TLSv1.2, Cipher is {}", suite.openssl)),
        "{}",
        why()
    );
    // pfslab offered exactly the one suite it was asked for.
    assert!(
        page.contains(&format!(
            "Ciphers common between both SSL end points:\n{}\n",
            suite.openssl
        )),
        "{}",
        why()
    );
    let ems_line = format!("Extended master secret: {}", if ems { "yes" } else { "no" });
    assert!(page.contains(&ems_line), "expected {ems_line:?}: {}", why());
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
    let (file_server, port) = openssl_s_server12(&dir, &key, &cert, "-WWW");
    let request = format!("GET /{file_name} HTTP/1.0");
    let mut args2 = args.clone();
    args2.extend(["--request", request.as_str()]);
    let done = pfslab_client_verified(port, &cert, &args2);
    let why = || done.beside("pfslab client", "s_server", &file_server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line(port, suite, ems)),
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
}

#[test]
fn pfslab_client_to_openssl_s_server_rsa() {
    pfslab_client_to_openssl_s_server("s_server-rsa", RSA, true);
}

#[test]
fn pfslab_client_to_openssl_s_server_ecdhe() {
    pfslab_client_to_openssl_s_server("s_server-ecdhe", ECDHE, true);
}

#[test]
fn pfslab_client_without_ems_to_openssl_s_server_rsa() {
    pfslab_client_to_openssl_s_server("s_server-noems-rsa", RSA, false);
}

// ---------------------------------------------------------------------------------------------
// pfslab client -> gnutls-serv

/// gnutls-serv's priority for the TLS 1.2 tests: its defaults plus RSA key transport.
const GNUTLS_TLS12: &str = "NORMAL:+RSA";

fn pfslab_client_to_gnutls_serv(test: &str, suite: SuiteNames, ems: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let (server, port) = gnutls_serv(&key, &cert, GNUTLS_TLS12, &["-a"]);

    let token = unique_token(test);
    // A whole request (pfslab turns the \r\n escapes into CRLF); gnutls-serv's page repeats
    // the headers, so the token proves it decrypted them.
    let request = format!(
        "GET /{token} HTTP/1.0\\r\\nHost: localhost\\r\\nX-Pfslab-Token: {token}\\r\\n\\r\\n"
    );
    let mut args = vec!["--suite", suite.cli, "--request", &request];
    if !ems {
        args.push("--no-ems");
    }
    let done = pfslab_client_verified(port, &cert, &args);
    let why = || done.beside("pfslab client", "gnutls-serv", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains(&connected_line(port, suite, ems)),
        "{}",
        why()
    );
    let page = &done.stdout;
    assert!(page.starts_with("HTTP/1.0 200 OK"), "{}", why());
    assert!(
        page.contains("<TD>Protocol version:</TD><TD>TLS1.2</TD>"),
        "{}",
        why()
    );
    assert!(
        page.contains(&format!(
            "<TD>Description:</TD><TD>{}</TD>",
            suite.gnutls_description
        )),
        "{}",
        why()
    );
    assert!(
        page.contains(&format!(
            "<TD>Ciphersuite</TD><TD>{}</TD>",
            suite.gnutls_suite
        )),
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

    // gnutls-serv's own log of the session says whether EMS was used.
    let options = server.wait_output("Options line", READY_TIMEOUT, |out| {
        out.lines()
            .find(|l| l.starts_with("- Options:"))
            .map(str::to_string)
    });
    assert_eq!(
        options.contains("extended master secret"),
        ems,
        "gnutls-serv said {options:?}: {}",
        why()
    );
}

#[test]
fn pfslab_client_to_gnutls_serv_rsa() {
    pfslab_client_to_gnutls_serv("gnutls-serv-rsa", RSA, true);
}

#[test]
fn pfslab_client_to_gnutls_serv_ecdhe() {
    pfslab_client_to_gnutls_serv("gnutls-serv-ecdhe", ECDHE, true);
}

#[test]
fn pfslab_client_without_ems_to_gnutls_serv_ecdhe() {
    pfslab_client_to_gnutls_serv("gnutls-serv-noems-ecdhe", ECDHE, false);
}

/// gnutls-serv by default sends a CertificateRequest (client certificate optional). A client
/// without a certificate must answer with an empty Certificate message (RFC 5246 §7.4.6) and
/// carry on; the server then serves the page.
#[test]
fn pfslab_client_answers_optional_certificate_request() {
    let dir = TestDir::new("gnutls-serv-certreq");
    let (key, cert) = keygen(&dir, "keys");
    let (server, port) = gnutls_serv(&key, &cert, GNUTLS_TLS12, &[]);
    let done = pfslab_client_verified(port, &cert, &["--suite", "ecdhe"]);
    let why = || done.beside("pfslab client", "gnutls-serv", &server);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stdout.contains(&format!(
            "<TD>Ciphersuite</TD><TD>{}</TD>",
            ECDHE.gnutls_suite
        )),
        "{}",
        why()
    );
}
