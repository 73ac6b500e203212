//! TLS 1.3 (RFC 8446) against real stacks over loopback, and the attacker and judges on TLS 1.3
//! captures. Like `interop.rs`, every connection checks the negotiated version and suite from
//! both sides and application data in both directions through a unique token.
//!
//! 1. `openssl s_client -tls1_3` → pfslab server, each suite, with OpenSSL's default groups
//!    (X25519 first: the server must answer with a HelloRetryRequest) and with `-groups P-256`.
//! 2. `gnutls-cli` → pfslab server, each suite, GnuTLS's default groups (a P-256 share is among
//!    them: no retry) and a group list that starts with P-384 (retry).
//! 3. pfslab client → `openssl s_server -tls1_3` (`-www` status page, `-WWW` unique file).
//! 4. pfslab client → `gnutls-serv` (with `-a`, and once with its optional CertificateRequest).
//! 5. tshark as judge of a seeded `pfslab record` capture with TLS 1.3 sessions.
//! 6. OpenSSL's own key log of OpenSSL-to-OpenSSL TLS 1.3 traffic through `pfslab tap`.
//! 7. Partial TLS 1.3 key logs.
//! 8. Downgrade: TLS 1.2 clients of the TLS 1.3-capable server, and the RFC 8446 §4.1.3 marker.
//!
//! Needs `openssl`, `gnutls-cli` / `gnutls-serv` (gnutls-bin) and `tshark`; a missing tool fails
//! the test with the package to install.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A TLS 1.3 suite under its names in each tool.
#[derive(Clone, Copy, Debug)]
struct Suite13 {
    /// `pfslab client --suite` value offering this suite only.
    cli: &'static str,
    /// IANA name: pfslab, OpenSSL (`-ciphersuites`, `Cipher is …`) and the truth file use it.
    iana: &'static str,
    /// Code point in ServerHello.
    code: u16,
    /// GnuTLS cipher keyword (priority strings, Description and Cipher rows).
    gnutls_cipher: &'static str,
}

const AES128: Suite13 = Suite13 {
    cli: "tls13-aes128",
    iana: "TLS_AES_128_GCM_SHA256",
    code: 0x1301,
    gnutls_cipher: "AES-128-GCM",
};
const AES256: Suite13 = Suite13 {
    cli: "tls13-aes256",
    iana: "TLS_AES_256_GCM_SHA384",
    code: 0x1302,
    gnutls_cipher: "AES-256-GCM",
};

/// RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";
/// RFC 8446 §4.1.3: last 8 bytes of a TLS 1.2 ServerHello.random from a TLS 1.3-capable server.
const DOWNGRADE_TLS12: &str = "444f574e47524401";
/// The same marker for TLS 1.1 and below.
const DOWNGRADE_TLS11: &str = "444f574e47524400";

fn gnutls_description(suite: Suite13) -> String {
    format!(
        "(TLS1.3-X.509)-(ECDHE-SECP256R1)-(RSA-PSS-RSAE-SHA256)-({})",
        suite.gnutls_cipher
    )
}

fn connected_line13(port: u16, suite: Suite13) -> String {
    format!(
        "connected to 127.0.0.1:{port}: TLS 1.3, {}, key share secp256r1",
        suite.iana
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(
        text.len().is_multiple_of(2) && text.chars().all(|c| c.is_ascii_hexdigit()),
        "not hex: {text:?}"
    );
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

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

fn openssl_cmd() -> Command {
    require_tool("openssl", "openssl");
    Command::new("openssl")
}

// ---------------------------------------------------------------------------------------------
// `openssl s_client -msg` output: the handshake messages as they crossed the wire

#[derive(Debug)]
struct WireMessage {
    /// true: sent by s_client (`>>>`); false: received (`<<<`).
    sent: bool,
    /// `ClientHello`, `ServerHello`, `RecordHeader`, …
    name: String,
    bytes: Vec<u8>,
}

fn msg_trace(out: &str) -> Vec<WireMessage> {
    let mut msgs: Vec<WireMessage> = Vec::new();
    let mut current: Option<WireMessage> = None;
    for line in out.lines() {
        let header = line
            .strip_prefix(">>> ")
            .map(|r| (true, r))
            .or_else(|| line.strip_prefix("<<< ").map(|r| (false, r)));
        if let Some((sent, rest)) = header {
            msgs.extend(current.take());
            let name = rest.rsplit("], ").next().unwrap_or(rest).trim().to_string();
            current = Some(WireMessage {
                sent,
                name,
                bytes: Vec::new(),
            });
            continue;
        }
        let hex_line = line.strip_prefix("    ").filter(|r| {
            !r.trim().is_empty()
                && r.split_whitespace()
                    .all(|w| w.len() == 2 && w.chars().all(|c| c.is_ascii_hexdigit()))
        });
        match (&mut current, hex_line) {
            (Some(m), Some(h)) => m.bytes.extend(
                h.split_whitespace()
                    .map(|w| u8::from_str_radix(w, 16).expect("hex byte")),
            ),
            _ => msgs.extend(current.take()),
        }
    }
    msgs.extend(current);
    msgs
}

/// (random, cipher suite) of a ServerHello handshake message (with its 4-byte header).
fn server_hello_fields(msg: &[u8]) -> (String, u16) {
    assert!(
        msg.len() > 40 && msg[0] == 2,
        "not a ServerHello: {}",
        hex(msg)
    );
    let random = hex(&msg[6..38]);
    let sid_len = msg[38] as usize;
    let at = 39 + sid_len;
    (random, u16::from_be_bytes([msg[at], msg[at + 1]]))
}

// ---------------------------------------------------------------------------------------------
// 1. openssl s_client -> pfslab server

/// `openssl s_client -tls1_3` asks the pfslab server for a unique path with a cookie. With
/// `p256_only` false, OpenSSL's default groups put an X25519 key share in the first
/// ClientHello, which the server must answer with a HelloRetryRequest for secp256r1.
fn openssl_s_client_to_pfslab(test: &str, suite: Suite13, p256_only: bool) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    let mut args = vec!["-tls1_3", "-ciphersuites", suite.iana, "-msg"];
    if p256_only {
        args.extend(["-groups", "P-256"]);
    }
    let done = openssl_s_client_verified(server.addr.port(), &cert, &args, &request, None);
    let out = &done.stdout;
    let why = || {
        format!(
            "openssl s_client: {}\n--- server ---\n{}",
            done.describe(),
            server.proc.describe()
        )
    };

    assert!(done.status.success(), "{}", why());
    assert!(
        out.contains(&format!("New, TLSv1.3, Cipher is {}", suite.iana)),
        "{}",
        why()
    );
    assert!(out.contains("Verification: OK"), "{}", why());
    assert!(out.contains("Verified peername: localhost"), "{}", why());
    assert!(
        out.contains("Verify return code: 0 (ok)"),
        "certificate not accepted: {}",
        why()
    );
    assert!(
        out.contains("Peer signature type: RSA-PSS"),
        "CertificateVerify must be RSA-PSS: {}",
        why()
    );
    assert!(
        out.contains("Server Temp Key: ECDH, prime256v1, 256 bits"),
        "{}",
        why()
    );

    // The hellos on the wire: one round, or a HelloRetryRequest for secp256r1 and a second round.
    let trace = msg_trace(out);
    let client_hellos = trace
        .iter()
        .filter(|m| m.sent && m.name == "ClientHello")
        .count();
    let server_hellos: Vec<&WireMessage> = trace
        .iter()
        .filter(|m| !m.sent && m.name == "ServerHello")
        .collect();
    if p256_only {
        assert_eq!(
            client_hellos,
            1,
            "a P-256 key share needs no retry: {}",
            why()
        );
        assert_eq!(server_hellos.len(), 1, "{}", why());
    } else {
        assert_eq!(
            client_hellos,
            2,
            "expected a second ClientHello after a HelloRetryRequest: {}",
            why()
        );
        assert_eq!(server_hellos.len(), 2, "{}", why());
        let (random, hrr_suite) = server_hello_fields(&server_hellos[0].bytes);
        assert_eq!(
            random,
            HRR_RANDOM,
            "first ServerHello is not a HelloRetryRequest: {}",
            why()
        );
        assert_eq!(
            hrr_suite,
            suite.code,
            "HelloRetryRequest names another suite: {}",
            why()
        );
        // key_share (51) with the selected group secp256r1 (23).
        assert!(
            contains_bytes(
                &server_hellos[0].bytes,
                &[0x00, 0x33, 0x00, 0x02, 0x00, 0x17]
            ),
            "HelloRetryRequest does not ask for secp256r1: {}",
            why()
        );
    }
    let (random, chosen) = server_hello_fields(&server_hellos.last().expect("a ServerHello").bytes);
    assert_ne!(random, HRR_RANDOM, "{}", why());
    assert_eq!(chosen, suite.code, "{}", why());

    // Server -> client: the reply repeats the path and the cookie.
    assert!(out.contains("HTTP/1.0 200 OK"), "{}", why());
    // Both directions: the reply repeats path and cookie; the server decrypted the request.
    assert_bank_round_trip(
        &out,
        &server,
        &token,
        &format!("{} TLS1.3", suite.iana),
        why,
    );
}

#[test]
fn openssl_s_client_default_groups_hello_retry_to_pfslab_server_aes128() {
    openssl_s_client_to_pfslab("s_client13-hrr-aes128", AES128, false);
}

#[test]
fn openssl_s_client_default_groups_hello_retry_to_pfslab_server_aes256() {
    openssl_s_client_to_pfslab("s_client13-hrr-aes256", AES256, false);
}

#[test]
fn openssl_s_client_p256_to_pfslab_server_aes128() {
    openssl_s_client_to_pfslab("s_client13-p256-aes128", AES128, true);
}

#[test]
fn openssl_s_client_p256_to_pfslab_server_aes256() {
    openssl_s_client_to_pfslab("s_client13-p256-aes256", AES256, true);
}

// ---------------------------------------------------------------------------------------------
// 2. gnutls-cli -> pfslab server

/// `gnutls-cli` with a TLS 1.3-only priority. GnuTLS's default groups send P-256 and X25519
/// shares at once (the server takes the P-256 one: no retry); `retry` starts the group list
/// with P-384, whose share the server must refuse with a HelloRetryRequest for P-256.
fn gnutls_cli_to_pfslab(test: &str, suite: Suite13, retry: bool) {
    require_tool("gnutls-cli", "gnutls-bin");
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    let mut priority = format!(
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{}",
        suite.gnutls_cipher
    );
    if retry {
        priority.push_str(":-GROUP-ALL:+GROUP-SECP384R1:+GROUP-SECP256R1");
    }
    let mut cmd = Command::new("gnutls-cli");
    cmd.args([
        "--x509cafile",
        path_str(&cert),
        "--port",
        &server.port(),
        "--priority",
        &priority,
    ])
    .args([
        "--sni-hostname",
        "localhost",
        "--verify-hostname",
        "localhost",
        "-d",
        "4",
        "127.0.0.1",
    ]);
    // stdin stays open: gnutls-cli prints the reply and leaves when the server closes.
    let mut client = Proc::spawn(cmd);
    client.write_stdin(request.as_bytes());
    let done = client.finish(RUN_TIMEOUT);
    let status = format!("{}\n{}", done.stdout, done.stderr); // status lines go to either stream
    let why = || {
        // Leave GnuTLS's debug lines out of failure messages: they drown the rest.
        let trim = |s: &str| {
            s.lines()
                .filter(|l| !l.starts_with("|<"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        format!("gnutls-cli ({}):\n--- stdout ---\n{}\n--- stderr (debug lines left out) ---\n{}\n--- server ---\n{}", done.status, trim(&done.stdout), trim(&done.stderr), server.proc.describe())
    };

    assert!(done.status.success(), "{}", why());
    assert!(
        status.contains("- Status: The certificate is trusted."),
        "{}",
        why()
    );
    assert!(
        status.contains(&format!("- Description: {}", gnutls_description(suite))),
        "{}",
        why()
    );
    let hrr_seen = done.stderr.contains("HELLO RETRY REQUEST");
    assert_eq!(
        hrr_seen,
        retry,
        "HelloRetryRequest seen: {hrr_seen}, expected {retry}: {}",
        why()
    );
    if retry {
        assert!(
            done.stderr.contains("HRR key share with SECP256R1"),
            "{}",
            why()
        );
    }
    // Both directions: the reply repeats path and cookie; the server decrypted the request.
    assert_bank_round_trip(
        &done.stdout,
        &server,
        &token,
        &format!("{} TLS1.3", suite.iana),
        why,
    );
}

#[test]
fn gnutls_cli_to_pfslab_server_aes128() {
    gnutls_cli_to_pfslab("gnutls-cli13-aes128", AES128, false);
}

#[test]
fn gnutls_cli_to_pfslab_server_aes256() {
    gnutls_cli_to_pfslab("gnutls-cli13-aes256", AES256, false);
}

#[test]
fn gnutls_cli_p384_share_hello_retry_to_pfslab_server_aes128() {
    gnutls_cli_to_pfslab("gnutls-cli13-hrr-aes128", AES128, true);
}

#[test]
fn gnutls_cli_p384_share_hello_retry_to_pfslab_server_aes256() {
    gnutls_cli_to_pfslab("gnutls-cli13-hrr-aes256", AES256, true);
}

// ---------------------------------------------------------------------------------------------
// 3. pfslab client -> openssl s_server

/// `openssl s_server -tls1_3` with `ciphersuites`, serving from `dir/www` (no keys there).
/// `mode` is `-www` (status page) or `-WWW` (files); `extra` adds options such as
/// `-keylogfile`.
fn openssl_s_server13(
    dir: &TestDir,
    key: &Path,
    cert: &Path,
    mode: &str,
    ciphersuites: &str,
    extra: &[&str],
) -> (Proc, u16) {
    let www = dir.join("www");
    std::fs::create_dir_all(&www).expect("mkdir www");
    let mut args = vec![mode, "-tls1_3", "-ciphersuites", ciphersuites];
    args.extend_from_slice(extra);
    openssl_s_server(&www, key, cert, &args, None)
}

fn pfslab_client_to_openssl_s_server(test: &str, suite: Suite13) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let args = [
        "--suite",
        suite.cli,
        "--ca",
        path_str(&cert),
        "--server-name",
        "localhost",
    ];

    // 1. The status page: OpenSSL allows both suites and reports what it saw pfslab offer.
    let both = format!("{}:{}", AES128.iana, AES256.iana);
    let (status_server, port) = openssl_s_server13(&dir, &key, &cert, "-www", &both, &[]);
    let done = pfslab_client(port, &args);
    let why = || {
        format!(
            "pfslab client: {}\n--- s_server ---\n{}",
            done.describe(),
            status_server.describe()
        )
    };
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
    let done = pfslab_client(port, &args2);
    let why = || {
        format!(
            "pfslab client: {}\n--- s_server ---\n{}",
            done.describe(),
            file_server.describe()
        )
    };
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
    let done = pfslab_client(
        port,
        &[
            "--tls-version",
            "1.3",
            "--ca",
            path_str(&cert),
            "--server-name",
            "localhost",
        ],
    );
    let why = || {
        format!(
            "pfslab client: {}\n--- s_server ---\n{}",
            done.describe(),
            server.describe()
        )
    };
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
// 4. pfslab client -> gnutls-serv

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
    let done = pfslab_client(
        port,
        &[
            "--suite",
            suite.cli,
            "--ca",
            path_str(&cert),
            "--server-name",
            "localhost",
            "--request",
            &request,
        ],
    );
    let why = || {
        format!(
            "pfslab client: {}\n--- gnutls-serv ---\n{}",
            done.describe(),
            server.describe()
        )
    };
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
            gnutls_description(suite)
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
        log.contains(&format!("- Description: {}", gnutls_description(suite))),
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

// ---------------------------------------------------------------------------------------------
// Captures, the attacker and tshark

fn tshark(args: &[&str]) -> Finished {
    require_tool("tshark", "tshark");
    let mut cmd = Command::new("tshark");
    cmd.args(args);
    let done = run(cmd, b"");
    assert!(
        done.status.success(),
        "tshark {args:?}: {}",
        done.describe()
    );
    done
}

/// `pfslab record` into `out_dir` (keys generated there); returns (capture, key log, truth).
fn record(
    out_dir: &Path,
    sessions: &str,
    seed: &str,
) -> (std::path::PathBuf, std::path::PathBuf, serde_json::Value) {
    let pcap = out_dir.join("lab.pcap");
    let keylog = out_dir.join("server.keylog");
    let done = run(
        pfslab(&[
            "record",
            "--seed",
            seed,
            "--sessions",
            sessions,
            "--keylog",
            path_str(&keylog),
            "--out",
            path_str(&pcap),
            "--keys",
            path_str(&out_dir.join("keys")),
        ]),
        b"",
    );
    assert!(done.status.success(), "pfslab record: {}", done.describe());
    let truth_path = out_dir.join("lab.truth.json");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&truth_path).expect("truth file"))
            .expect("truth file is JSON");
    (pcap, keylog, truth)
}

/// `pfslab attack --json ARGS`, its sessions by stream.
fn attack(args: &[&str]) -> BTreeMap<u64, serde_json::Value> {
    let mut all = vec!["attack", "--json"];
    all.extend_from_slice(args);
    let done = run(pfslab(&all), b"");
    assert!(done.status.success(), "pfslab {all:?}: {}", done.describe());
    let json: serde_json::Value = serde_json::from_str(&done.stdout).unwrap_or_else(|e| {
        panic!(
            "attack --json output is not JSON ({e}): {}",
            done.describe()
        )
    });
    json["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions array: {}", done.stdout))
        .iter()
        .map(|s| {
            (
                s["stream"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("session without stream: {s}")),
                s.clone(),
            )
        })
        .collect()
}

fn text<'a>(v: &'a serde_json::Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field:?} in {v:#}"))
}

/// Optional data fields: absent, null and "" all mean nothing was recovered.
fn data<'a>(v: &'a serde_json::Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

fn truth_sessions(truth: &serde_json::Value) -> BTreeMap<u64, serde_json::Value> {
    truth["sessions"]
        .as_array()
        .expect("truth sessions")
        .iter()
        .map(|s| (s["stream"].as_u64().expect("truth stream"), s.clone()))
        .collect()
}

/// Expert-info severities (epan/proto.h): Chat, Note, Warning, Error.
const PI_CHAT: u32 = 0x0020_0000;
const PI_WARN: u32 = 0x0060_0000;

/// One tshark pass over `capture` decrypted with `keylog`: per frame the columns of `FIELDS`,
/// and the decrypted application data of each stream in `addresses` as
/// `-z follow,tls,raw` shows it, as stream -> (client bytes, server bytes). `addresses` maps
/// a stream to its (client, server) address; tshark names the node whose lines are not
/// indented ("Node 0").
struct TsharkView {
    frames: Vec<Vec<String>>,
    follow: BTreeMap<u64, (Vec<u8>, Vec<u8>)>,
}

const FIELDS: [&str; 7] = [
    "tcp.stream",
    "_ws.expert.severity",
    "tls.handshake.type",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.ciphersuite",
    "http.request.method",
    "http.response.code",
];

fn tshark_view(
    capture: &Path,
    keylog: &Path,
    addresses: &BTreeMap<u64, (String, String)>,
) -> TsharkView {
    let keylog_opt = format!("tls.keylog_file:{}", path_str(keylog));
    let mut args = vec![
        "-r",
        path_str(capture),
        "-o",
        keylog_opt.as_str(),
        "-T",
        "fields",
    ];
    for f in FIELDS {
        args.extend(["-e", f]);
    }
    let follows: Vec<String> = addresses
        .keys()
        .map(|s| format!("follow,tls,raw,{s}"))
        .collect();
    for f in &follows {
        args.extend(["-z", f.as_str()]);
    }
    let done = tshark(&args);
    // Packet lines first, then the follow blocks, each framed by lines of '='.
    let (packets, follows_text) = done
        .stdout
        .split_once("\n=")
        .map_or((done.stdout.as_str(), ""), |(p, f)| (p, f));
    let frames = packets
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    let mut follow = BTreeMap::new();
    for block in follows_text.split("Follow: tls,raw").skip(1) {
        let stream: u64 = block
            .lines()
            .find_map(|l| l.strip_prefix("Filter: tcp.stream eq "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("follow block without its stream: {block}"));
        let node0 = block
            .lines()
            .find_map(|l| l.strip_prefix("Node 0: "))
            .unwrap_or_else(|| panic!("no Node 0 in {block}"))
            .trim()
            .to_string();
        let (mut node0_bytes, mut other_bytes) = (Vec::new(), Vec::new());
        for line in block.lines() {
            if line.is_empty() || line.starts_with('=') || line.contains(':') {
                continue;
            }
            match line.strip_prefix('\t') {
                Some(h) => other_bytes.extend(unhex(h.trim())),
                None => node0_bytes.extend(unhex(line.trim())),
            }
        }
        let (client, server) = &addresses[&stream];
        let pair = if &node0 == server {
            (other_bytes, node0_bytes)
        } else if &node0 == client {
            (node0_bytes, other_bytes)
        } else {
            panic!("tshark's Node 0 {node0} is neither {client} nor {server} in stream {stream}");
        };
        follow.insert(stream, pair);
    }
    TsharkView { frames, follow }
}

impl TsharkView {
    /// The values of `field` in frame `i` (tshark separates repeats with commas).
    fn values(&self, i: usize, field: &str) -> Vec<&str> {
        let col = FIELDS
            .iter()
            .position(|f| *f == field)
            .expect("a field of FIELDS");
        self.frames[i]
            .get(col)
            .map(|v| v.split(',').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    fn stream(&self, i: usize) -> u64 {
        self.frames[i][0]
            .parse()
            .unwrap_or_else(|_| panic!("frame {} has no tcp.stream: {:?}", i + 1, self.frames[i]))
    }

    /// Streams with at least one frame carrying `field`.
    fn streams_with(&self, field: &str, pred: impl Fn(&str) -> bool) -> BTreeSet<u64> {
        (0..self.frames.len())
            .filter(|&i| self.values(i, field).iter().any(|v| pred(v)))
            .map(|i| self.stream(i))
            .collect()
    }
}

fn severity(v: &str) -> u32 {
    v.parse()
        .unwrap_or_else(|_| panic!("expert severity {v:?}"))
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    ))
}

// ---------------------------------------------------------------------------------------------
// 5. tshark judges a seeded capture with TLS 1.3 sessions

#[test]
fn tshark_decrypts_recorded_tls13_sessions_like_the_attacker_and_the_truth() {
    let dir = TestDir::new("tshark13");
    let (a, b) = (dir.join("a"), dir.join("b"));
    let (pcap, keylog, truth) = record(&a, "rsa=1,ecdhe=1,tls13=2", "4");
    let truth = truth_sessions(&truth);
    assert_eq!(truth.len(), 4, "{truth:#?}");
    let tls13_streams: Vec<u64> = truth
        .iter()
        .filter(|(_, s)| s["key_exchange"] == "tls13")
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(tls13_streams.len(), 2, "{truth:#?}");
    let log_text = std::fs::read_to_string(&keylog).expect("key log");
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
    ] {
        assert_eq!(
            log_text
                .lines()
                .filter(|l| l.starts_with(&format!("{label} ")))
                .count(),
            2,
            "{label} lines in the key log:\n{log_text}"
        );
    }

    // Reproducible: a second run with the same seed writes the same bytes.
    let (pcap_b, keylog_b, _) = record(&b, "rsa=1,ecdhe=1,tls13=2", "4");
    assert_eq!(
        sha256(&pcap),
        sha256(&pcap_b),
        "same seed, different captures"
    );
    assert_eq!(
        sha256(&keylog),
        sha256(&keylog_b),
        "same seed, different key logs"
    );
    assert_eq!(
        sha256(&a.join("lab.truth.json")),
        sha256(&b.join("lab.truth.json")),
        "same seed, different truth files"
    );

    // Without keys: no malformed frame, no expert info of Warning or Error severity.
    let bad = tshark(&[
        "-r",
        path_str(&pcap),
        "-Y",
        "_ws.malformed || _ws.expert.severity >= 0x00600000",
        "-T",
        "fields",
        "-e",
        "frame.number",
        "-e",
        "_ws.expert.message",
    ]);
    assert!(
        bad.stdout.trim().is_empty(),
        "tshark flags frames (no keys):\n{}",
        bad.stdout
    );

    let attacked = attack(&["--keylog", path_str(&keylog), path_str(&pcap)]);
    assert_eq!(
        attacked.keys().collect::<Vec<_>>(),
        truth.keys().collect::<Vec<_>>()
    );
    let addresses: BTreeMap<u64, (String, String)> = tls13_streams
        .iter()
        .map(|s| {
            (
                *s,
                (
                    text(&attacked[s], "client").to_string(),
                    text(&attacked[s], "server").to_string(),
                ),
            )
        })
        .collect();
    let view = tshark_view(&pcap, &keylog, &addresses);

    // Decrypted, still clean (a malformed frame is an Error-severity expert info); the
    // severity column is populated at all (TCP's Chat infos), so this check can fail.
    let severities: Vec<u32> = (0..view.frames.len())
        .flat_map(|i| view.values(i, "_ws.expert.severity"))
        .map(severity)
        .collect();
    assert!(
        severities.contains(&PI_CHAT),
        "tshark reports no expert info at all: the check proves nothing"
    );
    assert!(
        severities.iter().all(|s| *s < PI_WARN),
        "tshark flags decrypted frames: severities {severities:x?}"
    );

    // tshark sees TLS 1.3 ServerHellos in exactly the truth's TLS 1.3 streams, with its suite.
    let mut seen13 = BTreeSet::new();
    for i in 0..view.frames.len() {
        if view.values(i, "tls.handshake.type").contains(&"2")
            && view.values(i, "tls.handshake.extensions.supported_version") == ["0x0304"]
        {
            let s = view.stream(i);
            seen13.insert(s);
            let code = if truth[&s]["cipher_suite"] == AES256.iana {
                AES256.code
            } else {
                AES128.code
            };
            assert_eq!(
                view.values(i, "tls.handshake.ciphersuite"),
                [format!("0x{code:04x}")],
                "stream {s}: {:?}",
                view.frames[i]
            );
        }
    }
    assert_eq!(
        seen13,
        tls13_streams.iter().copied().collect(),
        "tshark's TLS 1.3 ServerHellos"
    );

    // With the key log tshark reads an HTTP request and a 200 response in every stream.
    let all: BTreeSet<u64> = truth.keys().copied().collect();
    assert_eq!(
        view.streams_with("http.request.method", |m| m == "POST" || m == "GET"),
        all,
        "streams with an HTTP request"
    );
    assert_eq!(
        view.streams_with("http.response.code", |c| c == "200"),
        all,
        "streams with an HTTP 200"
    );

    // Byte for byte: tshark's decryption = pfslab attack's = the truth, each direction.
    for s in &tls13_streams {
        let (ours, theirs) = (&attacked[s], &truth[s]);
        assert_eq!(text(ours, "verdict"), "decrypted", "stream {s}: {ours:#}");
        assert_eq!(text(ours, "version"), "TLS 1.3", "stream {s}: {ours:#}");
        assert_eq!(
            text(ours, "cipher_suite"),
            text(theirs, "cipher_suite"),
            "stream {s}"
        );
        let (client_bytes, server_bytes) = view
            .follow
            .get(s)
            .unwrap_or_else(|| panic!("tshark followed no stream {s}"));
        let (client_data, server_data) = (
            String::from_utf8_lossy(client_bytes),
            String::from_utf8_lossy(server_bytes),
        );
        assert!(
            !client_data.is_empty() && !server_data.is_empty(),
            "stream {s}: tshark decrypted nothing"
        );
        assert_eq!(
            client_data,
            text(theirs, "client_data"),
            "stream {s}: tshark's client data vs the truth"
        );
        assert_eq!(
            server_data,
            text(theirs, "server_data"),
            "stream {s}: tshark's server data vs the truth"
        );
        assert_eq!(
            data(ours, "client_data"),
            client_data,
            "stream {s}: attack's client data vs tshark's"
        );
        assert_eq!(
            data(ours, "server_data"),
            server_data,
            "stream {s}: attack's server data vs tshark's"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 6. OpenSSL's own key log of TLS 1.3 traffic through the tap

/// `openssl s_server -tls1_3 -groups P-256 -keylogfile K` behind `pfslab tap`; `openssl
/// s_client` visits twice: with its default groups (X25519 share first: HelloRetryRequest) and
/// with `-groups P-256`. The key log opens both sessions; the server key alone opens neither.
#[test]
fn openssl_keylog_opens_tls13_sessions_through_the_tap() {
    let test = "openssl-keylog13";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let keylog = dir.join("s_server.keylog");
    let token = unique_token(test);
    let file_name = format!("{token}.txt");
    let body = format!("s_server reply for {token}\n");
    std::fs::create_dir_all(dir.join("www")).expect("mkdir www");
    std::fs::write(dir.join("www").join(&file_name), &body).expect("write served file");
    let (server, server_port) = openssl_s_server13(
        &dir,
        &key,
        &cert,
        "-WWW",
        &format!("{}:{}", AES128.iana, AES256.iana),
        &["-groups", "P-256", "-keylogfile", path_str(&keylog)],
    );

    let capture = dir.join("openssl13.pcap");
    let upstream = format!("127.0.0.1:{server_port}");
    let tap = Proc::spawn(pfslab(&[
        "tap",
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream,
        "--write",
        path_str(&capture),
        "--connections",
        "2",
    ]));
    let tap_port = tap.wait_stdout("tap listening line", READY_TIMEOUT, |out| {
        let rest = complete_lines(out)
            .lines()
            .find_map(|l| l.strip_prefix("pfslab tap listening on 127.0.0.1:"))?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse::<u16>()
            .ok()
    });

    let connect = format!("127.0.0.1:{tap_port}");
    let mut cookies = Vec::new();
    for (i, groups) in [None, Some("P-256")].into_iter().enumerate() {
        let cookie = format!("{token}-visit{i}");
        let request = format!("GET /{file_name} HTTP/1.0\r\nCookie: session={cookie}\r\n\r\n");
        let mut cmd = openssl_cmd();
        cmd.args([
            "s_client",
            "-connect",
            &connect,
            "-tls1_3",
            "-CAfile",
            path_str(&cert),
            "-verify_return_error",
            "-ign_eof",
            "-msg",
        ]);
        if let Some(g) = groups {
            cmd.args(["-groups", g]);
        }
        let done = run(cmd, request.as_bytes());
        let why = || {
            format!(
                "openssl s_client: {}\n--- s_server ---\n{}",
                done.describe(),
                server.describe()
            )
        };
        assert!(done.status.success(), "{}", why());
        assert!(
            done.stdout.contains("New, TLSv1.3, Cipher is TLS_AES_"),
            "{}",
            why()
        );
        assert!(done.stdout.contains(&body), "{}", why());
        let client_hellos = msg_trace(&done.stdout)
            .iter()
            .filter(|m| m.sent && m.name == "ClientHello")
            .count();
        assert_eq!(
            client_hellos,
            if groups.is_none() { 2 } else { 1 },
            "HelloRetryRequest expected only with default groups: {}",
            why()
        );
        cookies.push(cookie);
    }
    let tap_done = tap.finish(RUN_TIMEOUT);
    assert!(
        tap_done.status.success(),
        "pfslab tap: {}",
        tap_done.describe()
    );
    assert!(
        format!("{}{}", tap_done.stdout, tap_done.stderr).contains("2 connections relayed"),
        "pfslab tap: {}",
        tap_done.describe()
    );
    let log_text = std::fs::read_to_string(&keylog).expect("s_server key log");
    assert_eq!(
        log_text
            .lines()
            .filter(|l| l.starts_with("SERVER_TRAFFIC_SECRET_0 "))
            .count(),
        2,
        "s_server key log:\n{log_text}"
    );

    // The key log opens both sessions, each direction.
    let opened = attack(&["--keylog", path_str(&keylog), path_str(&capture)]);
    assert_eq!(opened.len(), 2, "{opened:#?}");
    for (i, s) in opened.values().enumerate() {
        let why = || format!("session {i} (HelloRetryRequest: {}): {s:#}", i == 0);
        assert_eq!(text(s, "version"), "TLS 1.3", "{}", why());
        assert_eq!(text(s, "key_exchange"), "tls13", "{}", why());
        assert_eq!(text(s, "verdict"), "decrypted", "{}", why());
        assert!(
            !text(s, "reason").contains("still closed"),
            "the full key log left something closed: {}",
            why()
        );
        let client_data = data(s, "client_data");
        assert!(
            client_data.starts_with(&format!("GET /{file_name} HTTP/1.0\r\n")),
            "{}",
            why()
        );
        assert!(
            client_data.contains(&format!("Cookie: session={}", cookies[i])),
            "{}",
            why()
        );
        assert!(
            data(s, "server_data").starts_with("HTTP/1.0 200 ok\r\n"),
            "{}",
            why()
        );
        assert!(data(s, "server_data").ends_with(&body), "{}", why());
        assert_eq!(s["server_finished"], "verified", "{}", why());
        assert_eq!(s["client_finished"], "verified", "{}", why());
    }

    // The server's key alone: forward secret, and the reason says why.
    let with_key = attack(&["--key", path_str(&key), path_str(&capture)]);
    assert_eq!(with_key.len(), 2, "{with_key:#?}");
    for (i, s) in with_key.values().enumerate() {
        let why = || format!("session {i}: {s:#}");
        assert_eq!(text(s, "verdict"), "forward-secret", "{}", why());
        let reason = text(s, "reason");
        assert!(
            reason.contains("key share") && reason.contains("CertificateVerify"),
            "{}",
            why()
        );
        assert!(
            reason.contains("secp256r1"),
            "the session's key shares were on secp256r1: {}",
            why()
        );
        assert_eq!(data(s, "client_data"), "", "{}", why());
        assert_eq!(data(s, "server_data"), "", "{}", why());
    }
}

// ---------------------------------------------------------------------------------------------
// 7. Partial key logs

#[test]
fn partial_tls13_key_logs_open_only_the_direction_they_cover() {
    let dir = TestDir::new("partial13");
    let (pcap, keylog, truth) = record(&dir.path, "rsa=1,tls13=2", "11");
    let truth = truth_sessions(&truth);
    let log_text = std::fs::read_to_string(&keylog).expect("key log");
    let keep = |name: &str, pred: &dyn Fn(&str) -> bool| {
        let path = dir.join(name);
        let lines: Vec<&str> = log_text.lines().filter(|l| pred(l)).collect();
        assert!(!lines.is_empty(), "{name}: nothing kept from\n{log_text}");
        std::fs::write(&path, lines.join("\n") + "\n").expect("write partial key log");
        path
    };
    let server_only = keep("server-app.keylog", &|l| {
        l.starts_with("SERVER_TRAFFIC_SECRET_0 ")
    });
    let client_only = keep("client.keylog", &|l| {
        l.starts_with("CLIENT_HANDSHAKE_TRAFFIC_SECRET ")
            || l.starts_with("CLIENT_TRAFFIC_SECRET_0 ")
    });

    for (log, server_side) in [(&server_only, true), (&client_only, false)] {
        let opened = attack(&["--keylog", path_str(log), path_str(&pcap)]);
        assert_eq!(opened.len(), truth.len(), "{opened:#?}");
        for (stream, t) in &truth {
            let s = &opened[stream];
            let why = || format!("{} on stream {stream}: {s:#}", log.display());
            if t["key_exchange"] != "tls13" {
                // No CLIENT_RANDOM line: the TLS 1.2 session stays shut.
                assert_ne!(text(s, "verdict"), "decrypted", "{}", why());
                assert_eq!(data(s, "client_data"), "", "{}", why());
                continue;
            }
            assert_eq!(text(s, "verdict"), "decrypted", "{}", why());
            assert!(text(s, "reason").contains("still closed"), "{}", why());
            if server_side {
                assert_eq!(data(s, "server_data"), text(t, "server_data"), "{}", why());
                assert_eq!(data(s, "client_data"), "", "{}", why());
                assert!(
                    text(s, "reason").contains("CLIENT_TRAFFIC_SECRET_0"),
                    "the reason should name the missing secret: {}",
                    why()
                );
            } else {
                assert_eq!(data(s, "client_data"), text(t, "client_data"), "{}", why());
                assert_eq!(data(s, "server_data"), "", "{}", why());
                assert!(
                    text(s, "reason").contains("SERVER_TRAFFIC_SECRET_0"),
                    "the reason should name the missing secret: {}",
                    why()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Downgrade

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
        all.extend([
            "--ca",
            path_str(&cert),
            "--server-name",
            "localhost",
            "--request",
            &request,
        ]);
        let done = pfslab_client(port, &all);
        let why = || {
            format!(
                "pfslab client {args:?}: {}\n--- server ---\n{}",
                done.describe(),
                server.proc.describe()
            )
        };
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
    let why = || {
        format!(
            "openssl s_client: {}\n--- server ---\n{}",
            done.describe(),
            server.proc.describe()
        )
    };
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
    let done = pfslab_client(
        port,
        &[
            "--suite",
            "tls13",
            "--ca",
            path_str(&cert),
            "--server-name",
            "localhost",
        ],
    );
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

    let done = pfslab_client(
        port,
        &[
            "--suite",
            "ecdhe",
            "--ca",
            path_str(&cert),
            "--server-name",
            "localhost",
        ],
    );
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
    let why = || {
        format!(
            "openssl s_client: {}\n--- server ---\n{}",
            done.describe(),
            server.proc.describe()
        )
    };
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
