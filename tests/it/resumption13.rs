//! TLS 1.3 resumption (RFC 8446 §4.6.1, §4.2.9–§4.2.11) between real processes: pfslab's client
//! and server with each other, with OpenSSL and with GnuTLS, in psk_dhe_ke and psk_ke.

use std::path::Path;

use crate::common::{
    gnutls_cli, gnutls_serv, keygen, msg_trace, openssl_s_client, openssl_s_server_www, path_str,
    pfslab_client, Finished, PfslabServer, TestDir,
};

const REQUEST: &str = "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
const GNUTLS_TLS13: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

fn tickets_server(dir: &TestDir, extra: &[&str]) -> PfslabServer {
    let (key, cert) = keygen(dir, "keys");
    let stek = dir.join("ticket.key");
    let mut args = vec!["--tickets", "--ticket-key", path_str(&stek)];
    args.extend_from_slice(extra);
    PfslabServer::start(&key, &cert, &args)
}

/// `pfslab client --insecure --tls-version 1.3 ARGS`, which must succeed.
fn client13(port: u16, args: &[&str]) -> Finished {
    let mut all = vec!["--insecure", "--tls-version", "1.3"];
    all.extend_from_slice(args);
    let done = pfslab_client(port, &all);
    assert!(done.status.success(), "pfslab client: {}", done.describe());
    done
}

/// The mode the client says it resumed in, or None after a full handshake.
fn resumed_mode(done: &Finished) -> Option<String> {
    let line = done
        .stderr
        .lines()
        .find(|l| l.starts_with("resumed the saved session with its PSK, mode "))?;
    Some(
        line.split_whitespace()
            .nth(8)
            .unwrap_or_default()
            .to_string(),
    )
}

/// A full handshake saving its ticket to `dir/name`.
fn save_session(port: u16, dir: &TestDir, name: &str) -> std::path::PathBuf {
    let file = dir.join(name);
    let done = client13(port, &["--session-out", path_str(&file)]);
    assert_eq!(resumed_mode(&done), None, "{}", done.describe());
    assert!(
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("version: TLS 1.3"),
        "{}",
        done.describe()
    );
    file
}

fn resume_with(port: u16, session: &Path, extra: &[&str]) -> Option<String> {
    let mut args = vec!["--session-in", path_str(session)];
    args.extend_from_slice(extra);
    let done = client13(port, &args);
    let mode = resumed_mode(&done);
    if mode.is_none() {
        assert!(
            done.stderr
                .contains("the server did not resume the saved session: full handshake"),
            "{}",
            done.describe()
        );
    }
    mode
}

#[test]
fn pfslab_client_resumes_against_pfslab_server_in_each_mode() {
    let dir = TestDir::new("res13-self");
    let server = tickets_server(&dir, &[]);
    let port = server.addr.port();
    let session = save_session(port, &dir, "s1");
    assert_eq!(
        resume_with(port, &session, &[]).as_deref(),
        Some("psk_dhe_ke")
    );
    server.wait_log_line("resumed=psk(psk_dhe_ke)");
    assert_eq!(
        resume_with(port, &session, &["--psk-modes", "ke"]).as_deref(),
        Some("psk_ke")
    );
    server.wait_log_line("resumed=psk(psk_ke)");
    // Both offered: the server's default is psk_dhe_ke …
    assert_eq!(
        resume_with(port, &session, &["--psk-modes", "both"]).as_deref(),
        Some("psk_dhe_ke")
    );
    // … and with --prefer-psk-ke (same ticket key) psk_ke.
    let dir2 = TestDir::new("res13-self-ke");
    std::fs::copy(dir.join("ticket.key"), dir2.join("ticket.key")).expect("copy STEK");
    let ke_server = tickets_server(&dir2, &["--prefer-psk-ke"]);
    let done = client13(
        ke_server.addr.port(),
        &["--session-in", path_str(&session), "--psk-modes", "both"],
    );
    assert_eq!(resumed_mode(&done).as_deref(), Some("psk_ke"));
    assert!(
        done.stderr.contains("no key share (psk_ke)"),
        "{}",
        done.describe()
    );
}

#[test]
fn a_tampered_ticket_gets_a_full_handshake() {
    let dir = TestDir::new("res13-tamper");
    let server = tickets_server(&dir, &[]);
    let port = server.addr.port();
    let session = save_session(port, &dir, "s1");
    let text = std::fs::read_to_string(&session).expect("session file");
    let tampered: String = text
        .lines()
        .map(|l| match l.strip_prefix("ticket: ") {
            // Flip one hex digit in the middle of the ticket (its encrypted state).
            Some(hex) => {
                let mut h = hex.to_string();
                let at = h.len() / 2;
                let c = if &h[at..at + 1] == "0" { "1" } else { "0" };
                h.replace_range(at..at + 1, c);
                format!("ticket: {h}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(tampered, text);
    let bad = dir.write("tampered", tampered.as_bytes());
    assert_eq!(resume_with(port, &bad, &[]), None);
}

/// How many ServerHellos `openssl s_client -msg` received (2: a HelloRetryRequest first), and
/// the extension types of the last.
fn server_hello_extensions(out: &str) -> (usize, Vec<u16>) {
    let trace = msg_trace(out);
    let hellos: Vec<_> = trace
        .iter()
        .filter(|m| !m.sent && m.name == "ServerHello")
        .collect();
    let sh = hellos
        .last()
        .unwrap_or_else(|| panic!("no ServerHello in {out}"));
    let b = &sh.bytes;
    let sid_len = b[38] as usize;
    let mut at = 39 + sid_len + 3 + 2;
    let mut types = Vec::new();
    while at + 4 <= b.len() {
        types.push(u16::from_be_bytes([b[at], b[at + 1]]));
        at += 4 + u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
    }
    (hellos.len(), types)
}

#[test]
fn openssl_s_client_resumes_against_pfslab_with_and_without_dhe() {
    let dir = TestDir::new("res13-openssl-client");
    // `--groups p256`: OpenSSL's X25519 share draws a HelloRetryRequest, whose transcript the
    // resumption's binder must cover (the default server would take X25519 in one round).
    let server = tickets_server(&dir, &["--prefer-psk-ke", "--groups", "p256"]);
    let port = server.addr.port();
    let sess = dir.join("openssl.sess");
    let first = openssl_s_client(
        port,
        &["-tls1_3", "-ign_eof", "-sess_out", path_str(&sess)],
        REQUEST,
        None,
    );
    assert!(
        first.stdout.contains("New, TLSv1.3"),
        "{}",
        first.describe()
    );
    // psk_dhe_ke only (OpenSSL's default offer): a key_share (51) next to pre_shared_key (41).
    // OpenSSL guesses x25519, which this server refuses, so a HelloRetryRequest comes first and
    // the second ClientHello's binder covers it (RFC 8446 §4.4.1).
    let again = openssl_s_client(
        port,
        &["-tls1_3", "-ign_eof", "-msg", "-sess_in", path_str(&sess)],
        REQUEST,
        None,
    );
    assert!(
        again.stdout.contains("Reused, TLSv1.3"),
        "{}",
        again.describe()
    );
    let (hellos, exts) = server_hello_extensions(&again.stdout);
    assert_eq!(hellos, 2, "{}", again.stdout);
    assert!(exts.contains(&41) && exts.contains(&51), "{exts:?}");
    server.wait_log_line("resumed=psk(psk_dhe_ke)");
    // -allow_no_dhe_kex offers psk_ke too; the server prefers it: no key_share at all.
    let ke = openssl_s_client(
        port,
        &[
            "-tls1_3",
            "-ign_eof",
            "-msg",
            "-allow_no_dhe_kex",
            "-sess_in",
            path_str(&sess),
        ],
        REQUEST,
        None,
    );
    assert!(ke.stdout.contains("Reused, TLSv1.3"), "{}", ke.describe());
    // psk_ke needs no key share, so no HelloRetryRequest either.
    let (hellos, exts) = server_hello_extensions(&ke.stdout);
    assert_eq!(hellos, 1, "{}", ke.stdout);
    assert!(exts.contains(&41) && !exts.contains(&51), "{exts:?}");
    server.wait_log_line("resumed=psk(psk_ke)");
}

#[test]
fn gnutls_cli_resumes_against_pfslab() {
    let dir = TestDir::new("res13-gnutls-client");
    let server = tickets_server(&dir, &[]);
    let done = gnutls_cli(
        server.addr.port(),
        GNUTLS_TLS13,
        &["--insecure", "--resume"],
        REQUEST,
    );
    assert!(
        done.stdout.contains("This is a resumed session"),
        "{}",
        done.describe()
    );
    server.wait_log_line("resumed=psk(psk_dhe_ke)");
}

#[test]
fn pfslab_client_resumes_against_openssl_s_server() {
    let dir = TestDir::new("res13-openssl-server");
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = openssl_s_server_www(&dir, &key, &cert, &["-www", "-tls1_3"]);
    let session = save_session(port, &dir, "s1");
    assert_eq!(
        resume_with(port, &session, &[]).as_deref(),
        Some("psk_dhe_ke")
    );
    // Without -allow_no_dhe_kex OpenSSL does not resume in psk_ke: a full handshake.
    assert_eq!(resume_with(port, &session, &["--psk-modes", "ke"]), None);

    let (_server, port) =
        openssl_s_server_www(&dir, &key, &cert, &["-www", "-tls1_3", "-allow_no_dhe_kex"]);
    let session = save_session(port, &dir, "s2");
    assert_eq!(
        resume_with(port, &session, &["--psk-modes", "ke"]).as_deref(),
        Some("psk_ke")
    );
}

#[test]
fn pfslab_client_resumes_against_gnutls_serv() {
    let dir = TestDir::new("res13-gnutls-server");
    let (key, cert) = keygen(&dir, "keys");
    let (_server, port) = gnutls_serv(&key, &cert, GNUTLS_TLS13, &["-a"]);
    let session = save_session(port, &dir, "s1");
    assert_eq!(
        resume_with(port, &session, &[]).as_deref(),
        Some("psk_dhe_ke")
    );
}
