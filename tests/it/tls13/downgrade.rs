//! Downgrade: TLS 1.2 clients of the TLS 1.3-capable server get TLS 1.2 and the RFC 8446
//! §4.1.3 marker; a server without TLS 1.3 sends none.

use crate::common::*;

/// RFC 8446 §4.1.3: last 8 bytes of a TLS 1.2 ServerHello.random from a TLS 1.3-capable server.
const DOWNGRADE_TLS12: &str = "444f574e47524401";
/// The same marker for TLS 1.1 and below.
const DOWNGRADE_TLS11: &str = "444f574e47524400";

/// `server random <hex>` from pfslab client's stderr.
fn server_random(client_stderr: &str) -> String {
    client_stderr
        .lines()
        .find_map(|l| l.strip_prefix("server random "))
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|| {
            panic!("pfslab client printed no 'server random' line:\n{client_stderr}")
        })
}

// ---------------------------------------------------------------------------------------------
// Downgrade

/// TLS 1.2-only clients still get TLS 1.2 from the TLS 1.3-capable server, whose ServerHello
/// random then ends in the RFC 8446 §4.1.3 marker `DOWNGRD\x01`; a TLS 1.3 session's does not.
#[test]
fn tls12_clients_of_the_tls13_server_get_tls12_with_the_downgrade_marker() {
    let test = "downgrade";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);
    let port = server.addr.port();

    // pfslab's own TLS 1.2 client, by suite and by version.
    for (args, iana) in [
        (
            vec!["--suite", "ecdhe"],
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ),
        (vec!["--suite", "rsa"], "TLS_RSA_WITH_AES_128_GCM_SHA256"),
        (
            vec!["--tls-version", "1.2"],
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ),
    ] {
        let path = format!("/{}", unique_token(test));
        let request = format!("GET {path} HTTP/1.0");
        let mut all = args.clone();
        all.extend(["--request", &request]);
        let done = pfslab_client_verified(port, &cert, &all);
        let why = || done.beside(&format!("pfslab client {args:?}"), "server", &server.proc);
        assert!(done.status.success(), "{}", why());
        assert!(
            done.stderr.contains(&format!(
                "connected to 127.0.0.1:{port}: TLS 1.2, {iana}, extended master secret yes"
            )),
            "{}",
            why()
        );
        assert!(
            done.stdout
                .contains(&format!("pfslab bank: you asked for GET {path}\n")),
            "{}",
            why()
        );
        let random = server_random(&done.stderr);
        assert_eq!(random.len(), 64, "{}", why());
        assert!(
            random.ends_with(DOWNGRADE_TLS12),
            "server random {random} lacks the TLS 1.2 downgrade marker: {}",
            why()
        );
        let line = server.wait_log_line(&format!("\"GET {path} HTTP/1.0\""));
        assert!(
            line.ends_with(&format!("{iana} EMS=yes \"GET {path} HTTP/1.0\" 200")),
            "{line}"
        );
    }

    // OpenSSL with TLS 1.2 only: the marker as OpenSSL received it.
    let token = unique_token(test);
    let request = format!("GET /{token} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let done = openssl_s_client_verified(
        port,
        &cert,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-msg"],
        &request,
        None,
    );
    let why = || done.beside("openssl s_client", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stdout
            .contains("New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256"),
        "{}",
        why()
    );
    assert!(
        done.stdout.contains("Verify return code: 0 (ok)"),
        "{}",
        why()
    );
    assert!(
        done.stdout
            .contains(&format!("pfslab bank: you asked for GET /{token}\n")),
        "{}",
        why()
    );
    let trace = msg_trace(&done.stdout);
    let hellos: Vec<&WireMessage> = trace
        .iter()
        .filter(|m| !m.sent && m.name == "ServerHello")
        .collect();
    assert_eq!(hellos.len(), 1, "{}", why());
    let (random, suite) = server_hello_fields(&hellos[0].bytes);
    assert_eq!(suite, 0xc02f, "{}", why());
    assert!(
        random.ends_with(DOWNGRADE_TLS12),
        "ServerHello random {random} lacks the downgrade marker: {}",
        why()
    );
    let line = server.wait_log_line(&format!("\"GET /{token} HTTP/1.0\""));
    assert!(
        line.ends_with(&format!(
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 EMS=yes \"GET /{token} HTTP/1.0\" 200"
        )),
        "{line}"
    );

    // A TLS 1.3 session carries no marker.
    let done = pfslab_client_verified(port, &cert, &["--suite", "tls13"]);
    assert!(done.status.success(), "{}", done.describe());
    assert!(
        done.stderr
            .contains(&format!("connected to 127.0.0.1:{port}: TLS 1.3, ")),
        "{}",
        done.describe()
    );
    let random = server_random(&done.stderr);
    assert!(
        !random.ends_with(DOWNGRADE_TLS12) && !random.ends_with(DOWNGRADE_TLS11),
        "TLS 1.3 server random {random} carries a downgrade marker"
    );
}

/// A server with TLS 1.3 switched off must not send the marker (RFC 8446 §4.1.3 is for servers
/// that negotiate TLS 1.3): OpenSSL, offering 1.3 and 1.2, would abort with illegal_parameter.
#[test]
fn server_without_tls13_sends_no_downgrade_marker() {
    let test = "no-downgrade-marker";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", "ecdhe,rsa"]);
    let port = server.addr.port();

    let done = pfslab_client_verified(port, &cert, &["--suite", "ecdhe"]);
    assert!(done.status.success(), "{}", done.describe());
    let random = server_random(&done.stderr);
    assert!(
        !random.ends_with(DOWNGRADE_TLS12) && !random.ends_with(DOWNGRADE_TLS11),
        "server random {random} carries a downgrade marker although TLS 1.3 is off"
    );

    // OpenSSL's default client offers TLS 1.3 and 1.2 and checks the marker.
    let token = unique_token(test);
    let request = format!("GET /{token} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let done = openssl_s_client_verified(port, &cert, &[], &request, None);
    let why = || done.beside("openssl s_client", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stdout
            .contains("New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256"),
        "{}",
        why()
    );
    assert!(
        done.stdout
            .contains(&format!("pfslab bank: you asked for GET /{token}\n")),
        "{}",
        why()
    );
    server.wait_log_line(&format!("\"GET /{token} HTTP/1.0\" 200"));
}
