//! `openssl s_client -tls1_3` and `gnutls-cli` → the pfslab server.

use crate::common::*;

use super::gnutls_description;

/// RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest.
const HRR_RANDOM: &str = "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c";

// ---------------------------------------------------------------------------------------------
// openssl s_client -> pfslab server

/// Which key shares meet in an `openssl s_client -tls1_3` → pfslab server handshake.
#[derive(Clone, Copy, PartialEq)]
enum Shares {
    /// The server as the old lab ran it (`--groups p256`) and OpenSSL's default groups: the
    /// X25519 share in the first ClientHello draws a HelloRetryRequest for secp256r1.
    RetryForP256,
    /// The default server (all three groups) and OpenSSL's default X25519 share: one round.
    DefaultX25519,
    /// The default server and `s_client -groups P-256`: one round on secp256r1.
    ClientP256,
}

/// `openssl s_client -tls1_3` asks the pfslab server for a unique path with a cookie, the
/// key shares as `shares` says.
fn openssl_s_client_to_pfslab(test: &str, suite: Suite13, shares: Shares) {
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server_args: &[&str] = match shares {
        Shares::RetryForP256 => &["--groups", "p256"],
        Shares::DefaultX25519 | Shares::ClientP256 => &[],
    };
    let server = PfslabServer::start(&key, &cert, server_args);

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    let mut args = vec!["-tls1_3", "-ciphersuites", suite.iana, "-msg"];
    if shares == Shares::ClientP256 {
        args.extend(["-groups", "P-256"]);
    }
    let done = openssl_s_client_verified(server.addr.port(), &cert, &args, &request, None);
    let out = &done.stdout;
    let why = || done.beside("openssl s_client", "server", &server.proc);

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
    let temp_key = match shares {
        Shares::DefaultX25519 => "Server Temp Key: X25519, 253 bits",
        Shares::RetryForP256 | Shares::ClientP256 => "Server Temp Key: ECDH, prime256v1, 256 bits",
    };
    assert!(out.contains(temp_key), "{}", why());

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
    if shares != Shares::RetryForP256 {
        assert_eq!(
            client_hellos,
            1,
            "a key share in a group the server takes needs no retry: {}",
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
    assert_bank_round_trip(out, &server, &token, &format!("{} TLS1.3", suite.iana), why);
}

#[test]
fn openssl_s_client_default_groups_hello_retry_to_p256_pfslab_server_aes128() {
    openssl_s_client_to_pfslab("s_client13-hrr-aes128", AES128, Shares::RetryForP256);
}

#[test]
fn openssl_s_client_default_groups_hello_retry_to_p256_pfslab_server_aes256() {
    openssl_s_client_to_pfslab("s_client13-hrr-aes256", AES256, Shares::RetryForP256);
}

#[test]
fn openssl_s_client_default_groups_x25519_one_round_to_pfslab_server_aes128() {
    openssl_s_client_to_pfslab("s_client13-x25519-aes128", AES128, Shares::DefaultX25519);
}

#[test]
fn openssl_s_client_default_groups_x25519_one_round_to_pfslab_server_aes256() {
    openssl_s_client_to_pfslab("s_client13-x25519-aes256", AES256, Shares::DefaultX25519);
}

#[test]
fn openssl_s_client_p256_to_pfslab_server_aes128() {
    openssl_s_client_to_pfslab("s_client13-p256-aes128", AES128, Shares::ClientP256);
}

#[test]
fn openssl_s_client_p256_to_pfslab_server_aes256() {
    openssl_s_client_to_pfslab("s_client13-p256-aes256", AES256, Shares::ClientP256);
}

// ---------------------------------------------------------------------------------------------
// gnutls-cli -> pfslab server

/// `gnutls-cli` with a TLS 1.3-only priority. GnuTLS's default groups send P-256 and X25519
/// shares at once: the default server takes the X25519 one, a `--groups p256` server (`p256`)
/// the P-256 one, with no retry either way; `retry` starts the group list with P-384, whose
/// share the server must refuse with a HelloRetryRequest for P-256.
fn gnutls_cli_to_pfslab(test: &str, suite: Suite13, p256: bool, retry: bool) {
    require_tool("gnutls-cli", "gnutls-bin");
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server_args: &[&str] = if p256 { &["--groups", "p256"] } else { &[] };
    let server = PfslabServer::start(&key, &cert, server_args);
    // The group the handshake ends on, as GnuTLS names it.
    let group = if p256 || retry { "SECP256R1" } else { "X25519" };

    let token = unique_token(test);
    let request = bank_request_with_cookie(&token);
    let mut priority = format!(
        "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+{}",
        suite.gnutls_cipher
    );
    if retry {
        priority.push_str(":-GROUP-ALL:+GROUP-SECP384R1:+GROUP-SECP256R1");
    }
    // stdin stays open: gnutls-cli prints the reply and leaves when the server closes.
    let done = gnutls_cli(
        server.addr.port(),
        &priority,
        &[
            "--x509cafile",
            path_str(&cert),
            "--sni-hostname",
            "localhost",
            "--verify-hostname",
            "localhost",
            "-d",
            "4",
        ],
        &request,
    );
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
        status.contains(&format!(
            "- Description: {}",
            gnutls_description(suite, group)
        )),
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
fn gnutls_cli_x25519_to_pfslab_server_aes128() {
    gnutls_cli_to_pfslab("gnutls-cli13-aes128", AES128, false, false);
}

#[test]
fn gnutls_cli_x25519_to_pfslab_server_aes256() {
    gnutls_cli_to_pfslab("gnutls-cli13-aes256", AES256, false, false);
}

#[test]
fn gnutls_cli_to_p256_pfslab_server_aes128() {
    gnutls_cli_to_pfslab("gnutls-cli13-p256-aes128", AES128, true, false);
}

#[test]
fn gnutls_cli_p384_share_hello_retry_to_pfslab_server_aes128() {
    gnutls_cli_to_pfslab("gnutls-cli13-hrr-aes128", AES128, false, true);
}

#[test]
fn gnutls_cli_p384_share_hello_retry_to_pfslab_server_aes256() {
    gnutls_cli_to_pfslab("gnutls-cli13-hrr-aes256", AES256, false, true);
}
