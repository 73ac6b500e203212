//! The server as real TLS stacks see it (issue 14): GnuTLS sends its request and close_notify
//! together and still gets the bank's answer (RFC 8446 §6.1: close_notify closes only the
//! sender's write side), in TLS 1.3 and 1.2; and the server closes TCP once close_notify is
//! exchanged, so a client waiting for that close is not left hanging.

use std::process::Command;
use std::time::Instant;

use crate::common::*;

/// `printf 'GET / HTTP/1.0\r\n\r\n' | gnutls-cli …`: stdin ends right after the request.
fn gnutls_half_close(port: u16, priority: &str) -> Finished {
    require_tool("gnutls-cli", "gnutls-bin");
    let mut cmd = Command::new("gnutls-cli");
    cmd.args([
        "--insecure",
        "--port",
        &port.to_string(),
        "--priority",
        priority,
    ])
    .arg("127.0.0.1");
    let mut client = Proc::spawn(cmd);
    client.write_stdin(b"GET / HTTP/1.0\r\n\r\n");
    client.close_stdin();
    client.finish(RUN_TIMEOUT)
}

#[test]
fn gnutls_half_close_gets_the_banks_answer_in_tls13_and_tls12_rfc8446_6_1() {
    let dir = TestDir::new("half-close");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);
    for (priority, version) in [
        ("NORMAL:-VERS-ALL:+VERS-TLS1.3", "TLS1.3"),
        ("NORMAL:-VERS-ALL:+VERS-TLS1.2", "EMS=yes"),
    ] {
        let done = gnutls_half_close(server.addr.port(), priority);
        assert!(
            done.stdout.contains("HTTP/1.0 200 OK")
                && done.stdout.contains("pfslab bank: you asked for GET /"),
            "{priority}: {}",
            done.beside("gnutls-cli", "pfslab server", &server.proc)
        );
        let line = server.wait_log_line(version);
        assert!(line.contains("\"GET / HTTP/1.0\" 200"), "{line}");
    }
}

#[test]
fn the_server_closes_tcp_after_close_notify_rfc5246_7_2_1() {
    let dir = TestDir::new("server-closes");
    let (key, cert) = keygen(&dir, "keys");
    // A long per-step timeout: a server that waits for the client's FIN outlasts the check.
    let server = PfslabServer::start(&key, &cert, &["--timeout", "60"]);
    // openssl s_client keeps its side open (stdin stays open); the server must close anyway.
    let started = Instant::now();
    let done = openssl_s_client(
        server.addr.port(),
        &["-tls1_3", "-ign_eof", "-quiet"],
        "GET / HTTP/1.0\r\n\r\n",
        None,
    );
    assert!(
        done.stdout.contains("HTTP/1.0 200 OK"),
        "{}",
        done.describe()
    );
    assert!(
        started.elapsed() < RUN_TIMEOUT / 2,
        "s_client only left at its timeout: the server did not close"
    );
}
