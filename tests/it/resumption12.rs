//! TLS 1.2 resumption on the lab's own endpoints (issue 16): session tickets (RFC 5077) and
//! session IDs (RFC 5246 §7.3), pfslab against pfslab, OpenSSL and GnuTLS, both ways.

use std::path::Path;

use crate::common::*;

/// `pfslab client --tls-version 1.2` against `port`, asking for `/token`, plus `args`.
fn client(port: u16, token: &str, args: &[&str]) -> Finished {
    let request = format!("GET /{token} HTTP/1.0");
    let mut all = vec!["--tls-version", "1.2", "--insecure", "--request", &request];
    all.extend_from_slice(args);
    let done = pfslab_client(port, &all);
    assert!(done.status.success(), "pfslab client: {}", done.describe());
    done
}

/// The server's log line for `/token`.
fn server_line(server: &PfslabServer, token: &str) -> String {
    server.wait_log_line(&format!("\"GET /{token} HTTP/1.0\""))
}

/// Flips one byte in the middle of the ticket of a session file.
fn tamper_ticket(session: &Path, out: &Path) {
    let text = std::fs::read_to_string(session).expect("read session");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line = lines
        .iter_mut()
        .find(|l| l.starts_with("ticket: "))
        .expect("a ticket line");
    let at = "ticket: ".len() + 80;
    let flipped = if &line[at..at + 1] == "0" { "1" } else { "0" };
    line.replace_range(at..at + 1, flipped);
    std::fs::write(out, lines.join("\n") + "\n").expect("write tampered session");
}

#[test]
fn pfslab_resumes_pfslab_by_ticket_and_by_session_id() {
    let dir = TestDir::new("resume12");
    let (key, cert) = keygen(&dir, "keys");
    let tk = dir.join("ticket.key");
    let server = PfslabServer::start(
        &key,
        &cert,
        &["--session-cache", "--ticket-key", path_str(&tk)],
    );
    let port = server.addr.port();
    let s1 = dir.join("s1.session");

    // 1. Full handshake: a session ID and a ticket come back.
    let full = client(port, "full", &["--session-out", path_str(&s1)]);
    assert!(!full.stderr.contains("resumed"), "{}", full.describe());
    let line = server_line(&server, "full");
    assert!(
        line.contains(" tickets=1 ") && !line.contains("resumed"),
        "{line}"
    );
    let text = std::fs::read_to_string(&s1).expect("session file");
    assert!(
        text.contains("\nticket: ") && !text.contains("\nticket: \n"),
        "{text}"
    );

    // 2. By ticket: no Certificate, the server says so.
    let t = client(port, "ticket", &["--session-in", path_str(&s1)]);
    assert!(
        t.stderr
            .contains("resumed the saved session by ticket (RFC 5077)"),
        "{}",
        t.describe()
    );
    assert!(
        t.stdout.contains("you asked for GET /ticket"),
        "{}",
        t.describe()
    );
    assert!(server_line(&server, "ticket").contains(" resumed=ticket "));

    // 3. By session ID (--no-ticket drops the ticket from the offer).
    let id = client(port, "sid", &["--session-in", path_str(&s1), "--no-ticket"]);
    assert!(
        id.stderr
            .contains("resumed the saved session by session ID"),
        "{}",
        id.describe()
    );
    assert!(server_line(&server, "sid").contains(" resumed=session-id "));

    // 4. A tampered ticket (and a random session ID): full handshake, still a session.
    let bad = dir.join("bad.session");
    tamper_ticket(&s1, &bad);
    let fb = client(port, "tampered", &["--session-in", path_str(&bad)]);
    assert!(
        fb.stderr
            .contains("did not resume the saved session: full handshake"),
        "{}",
        fb.describe()
    );
    assert!(fb.stdout.contains("you asked for GET /tampered"));
    assert!(!server_line(&server, "tampered").contains("resumed"));
}

#[test]
fn ticket_key_rotation_decides_resumption() {
    let dir = TestDir::new("resume12-keys");
    let (key, cert) = keygen(&dir, "keys");
    let (old, new) = (dir.join("old.key"), dir.join("new.key"));
    let s1 = dir.join("s1.session");
    {
        let first = PfslabServer::start(
            &key,
            &cert,
            &["--session-cache", "--ticket-key", path_str(&old)],
        );
        client(
            first.addr.port(),
            "first",
            &["--session-out", path_str(&s1)],
        );
    }
    // A server with another key and no cache of the first's sessions: full handshake.
    let other = PfslabServer::start(
        &key,
        &cert,
        &["--session-cache", "--ticket-key", path_str(&new)],
    );
    let fb = client(other.addr.port(), "other", &["--session-in", path_str(&s1)]);
    assert!(fb.stderr.contains("full handshake"), "{}", fb.describe());
    // The same new key with the old one kept for opening: resumed.
    let rotated = PfslabServer::start(
        &key,
        &cert,
        &[
            "--ticket-key",
            path_str(&new),
            "--old-ticket-key",
            path_str(&old),
        ],
    );
    let r = client(
        rotated.addr.port(),
        "rotated",
        &["--session-in", path_str(&s1)],
    );
    assert!(r.stderr.contains("by ticket"), "{}", r.describe());
}

#[test]
fn resumed_session_decrypts_in_tshark_with_the_servers_key_log() {
    let dir = TestDir::new("resume12-tshark");
    let (key, cert) = keygen(&dir, "keys");
    let keylog = dir.join("server.keylog");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--session-cache",
            "--tickets",
            "--ticket-key",
            path_str(&dir.join("t.key")),
            "--keylog",
            path_str(&keylog),
        ],
    );
    let s1 = dir.join("s1.session");
    client(
        server.addr.port(),
        "first",
        &["--session-out", path_str(&s1)],
    );
    let cap = dir.join("resumed.pcap");
    let tap = Tap::start(server.addr.port(), &cap, Some(1));
    let r = client(tap.port, "secret-resumed", &["--session-in", path_str(&s1)]);
    assert!(r.stderr.contains("by ticket"), "{}", r.describe());
    let tap_port = tap.port;
    tap.finish();
    let mut opts = decode_as(tap_port);
    opts.extend(decode_as(server.addr.port()));
    opts.extend(with_keylog(&keylog));
    let out = tshark(
        &cap,
        &opts,
        &[
            "-Y",
            "http.request",
            "-T",
            "fields",
            "-e",
            "http.request.uri",
        ],
    );
    assert_eq!(out.trim(), "/secret-resumed", "tshark output: {out}");
    // The abbreviated handshake: no Certificate on the wire.
    let certs = tshark(&cap, &opts, &["-Y", "tls.handshake.type == 11"]);
    assert!(
        certs.trim().is_empty(),
        "a Certificate in a resumed handshake: {certs}"
    );
}

#[test]
fn openssl_s_client_resumes_against_pfslab_by_ticket_and_session_id() {
    let dir = TestDir::new("resume12-openssl");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--session-cache",
            "--ticket-key",
            path_str(&dir.join("t.key")),
        ],
    );
    let port = server.addr.port();
    for (name, extra) in [("ticket", None), ("sid", Some("-no_ticket"))] {
        let sess = dir.join(&format!("{name}.pem"));
        let mut args = vec!["-tls1_2", "-ign_eof", "-sess_out", path_str(&sess)];
        args.extend(extra);
        let first = openssl_s_client(port, &args, "GET / HTTP/1.0\r\n\r\n", None);
        assert!(
            first.stdout.contains("New, TLSv1.2"),
            "{}",
            first.describe()
        );
        let mut args = vec!["-tls1_2", "-ign_eof", "-sess_in", path_str(&sess)];
        args.extend(extra);
        let second = openssl_s_client(port, &args, "GET / HTTP/1.0\r\n\r\n", None);
        assert!(
            second.stdout.contains("Reused, TLSv1.2"),
            "{name}: {}",
            second.describe()
        );
    }
}

#[test]
fn gnutls_cli_resumes_against_pfslab() {
    let dir = TestDir::new("resume12-gnutls");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--session-cache",
            "--ticket-key",
            path_str(&dir.join("t.key")),
        ],
    );
    require_tool("gnutls-cli", "gnutls-bin");
    let mut cmd = std::process::Command::new("gnutls-cli");
    cmd.args([
        "--port",
        &server.port(),
        "--priority",
        "NORMAL:-VERS-TLS1.3",
    ])
    .args(["--insecure", "--resume", "127.0.0.1"]);
    // stdin closed: gnutls-cli makes both handshakes, then leaves.
    let mut proc = Proc::spawn(cmd);
    proc.close_stdin();
    let done = proc.finish(RUN_TIMEOUT);
    assert!(
        done.stdout.contains("This is a resumed session"),
        "{}",
        done.describe()
    );
}

#[test]
fn pfslab_client_resumes_against_openssl_s_server() {
    let dir = TestDir::new("resume12-s-server");
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = openssl_s_server_www(&dir, &key, &cert, &["-www", "-tls1_2"]);
    let s1 = dir.join("s1.session");
    client(port, "", &["--session-out", path_str(&s1)]);
    let r = client(port, "", &["--session-in", path_str(&s1)]);
    assert!(r.stderr.contains("by ticket"), "{}", r.describe());
    // s_server -www names the session as reused.
    assert!(r.stdout.contains("Reused, TLSv1.2"), "{}", r.describe());
}

#[test]
fn pfslab_client_resumes_against_gnutls_serv_by_ticket_and_session_id() {
    let dir = TestDir::new("resume12-gnutls-serv");
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = gnutls_serv(&key, &cert, "NORMAL:-VERS-TLS1.3", &["-a"]);
    let (t, id) = (dir.join("t.session"), dir.join("id.session"));
    client(port, "", &["--session-out", path_str(&t)]);
    let r = client(port, "", &["--session-in", path_str(&t)]);
    assert!(r.stderr.contains("by ticket"), "{}", r.describe());
    client(port, "", &["--session-out", path_str(&id), "--no-ticket"]);
    let r = client(port, "", &["--session-in", path_str(&id), "--no-ticket"]);
    assert!(r.stderr.contains("by session ID"), "{}", r.describe());
}
