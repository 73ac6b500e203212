//! The built `pfslab` binary from the outside: keygen files, key formats the server loads,
//! hostile and silent clients, and the client's errors.
//!
//! Uses `openssl` (Debian package openssl) as the judge of keys and certificates.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

// ---------------------------------------------------------------------------------------------
// help

#[test]
fn help_for_every_command_exits_zero_and_names_its_options() {
    let cases: [(&[&str], &[&str]); 4] = [
        (&["--help"], &["keygen", "server", "client", "Exit codes"]),
        (
            &["keygen", "--help"],
            &["--out-dir", "--bits", "--seed", "--force"],
        ),
        (
            &["server", "--help"],
            &[
                "--listen",
                "--key",
                "--cert",
                "--suites",
                "--keylog",
                "--timeout",
            ],
        ),
        (
            &["client", "--help"],
            &[
                "--connect",
                "--suite",
                "--ca",
                "--insecure",
                "--server-name",
                "--request",
                "--no-ems",
                "--keylog",
            ],
        ),
    ];
    for (args, words) in cases {
        let done = run(pfslab(args), b"");
        assert!(
            done.status.success(),
            "pfslab {args:?}: {}",
            done.describe()
        );
        for w in words {
            assert!(
                done.stdout.contains(w),
                "pfslab {args:?} does not mention {w}: {}",
                done.describe()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_writes_private_key_0600_and_a_certificate_openssl_accepts() {
    let dir = TestDir::new("keygen-files");
    let (key, cert) = keygen(&dir, "keys");
    assert_eq!(mode(&key), 0o600, "private key mode");
    assert!(
        String::from_utf8_lossy(&read(&key)).starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "PKCS#8 PEM expected"
    );

    let verify = openssl(&["verify", "-CAfile", path_str(&cert), path_str(&cert)]);
    assert!(
        verify.stdout.trim_end().ends_with(": OK"),
        "{}",
        verify.describe()
    );
    let text = openssl(&["x509", "-in", path_str(&cert), "-noout", "-text"]).stdout;
    assert!(text.contains("DNS:localhost"), "{text}");
    assert!(text.contains("IP Address:127.0.0.1"), "{text}");
    assert!(
        text.contains("Signature Algorithm: sha256WithRSAEncryption"),
        "{text}"
    );
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    // The key is the certificate's.
    let from_key = openssl(&["rsa", "-in", path_str(&key), "-noout", "-modulus"]).stdout;
    let from_cert = openssl(&["x509", "-in", path_str(&cert), "-noout", "-modulus"]).stdout;
    assert_eq!(from_key, from_cert);
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let dir = TestDir::new("keygen-refuse");
    let (key, cert) = keygen(&dir, "keys");
    let (key_before, cert_before) = (read(&key), read(&cert));

    let done = run(
        pfslab(&["keygen", "--out-dir", path_str(&dir.join("keys"))]),
        b"",
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    let line = single_error_line(&done);
    assert!(
        line.contains(path_str(&key)),
        "message should name {}: {line}",
        key.display()
    );
    assert!(
        line.contains("--force"),
        "message should say how to overwrite: {line}"
    );
    assert_eq!(read(&key), key_before, "key changed");
    assert_eq!(read(&cert), cert_before, "certificate changed");
    assert_eq!(mode(&key), 0o600);

    // Only the certificate there: still refused, and no key appears.
    let lone = dir.join("lone");
    std::fs::create_dir(&lone).expect("mkdir");
    std::fs::write(lone.join("server.crt"), b"not mine").expect("write");
    let done = run(pfslab(&["keygen", "--out-dir", path_str(&lone)]), b"");
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    assert!(
        single_error_line(&done).contains("server.crt"),
        "{}",
        done.describe()
    );
    assert!(
        !lone.join("server.key").exists(),
        "a key was written although keygen refused"
    );
    assert_eq!(read(&lone.join("server.crt")), b"not mine");
}

#[test]
fn keygen_force_replaces_files_and_keeps_the_key_private() {
    let dir = TestDir::new("keygen-force");
    let (key, cert) = keygen(&dir, "keys");
    let (key_before, cert_before) = (read(&key), read(&cert));
    // A careless chmod must not survive the rewrite.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let done = run(
        pfslab(&[
            "keygen",
            "--out-dir",
            path_str(&dir.join("keys")),
            "--force",
        ]),
        b"",
    );
    assert!(done.status.success(), "{}", done.describe());
    assert_ne!(read(&key), key_before, "key not replaced");
    assert_ne!(read(&cert), cert_before, "certificate not replaced");
    assert_eq!(mode(&key), 0o600, "replaced key must be 0600");
    let from_key = openssl(&["rsa", "-in", path_str(&key), "-noout", "-modulus"]).stdout;
    let from_cert = openssl(&["x509", "-in", path_str(&cert), "-noout", "-modulus"]).stdout;
    assert_eq!(
        from_key, from_cert,
        "new key and new certificate do not match"
    );
}

#[test]
fn keygen_with_seed_is_reproducible() {
    let dir = TestDir::new("keygen-seed");
    let (a, b) = (dir.join("a"), dir.join("b"));
    for out in [&a, &b] {
        let done = run(
            pfslab(&[
                "keygen",
                "--seed",
                "7",
                "--force",
                "--out-dir",
                path_str(out),
            ]),
            b"",
        );
        assert!(done.status.success(), "{}", done.describe());
    }
    assert_eq!(
        read(&a.join("server.key")),
        read(&b.join("server.key")),
        "keys differ"
    );
    assert_eq!(
        read(&a.join("server.crt")),
        read(&b.join("server.crt")),
        "certificates differ"
    );
    assert_eq!(mode(&a.join("server.key")), 0o600);
}

// ---------------------------------------------------------------------------------------------
// Key formats made by OpenSSL

#[derive(Clone, Copy)]
enum KeyForm {
    Pkcs1Pem,
    Pkcs8Pem,
    Pkcs1Der,
    Pkcs8Der,
}

/// An OpenSSL-made key in `form` with a matching `openssl req -x509` certificate (DER for the
/// DER forms); a pfslab client then completes a session with each suite.
fn server_loads_openssl_key(test: &str, form: KeyForm) {
    let dir = TestDir::new(test);
    let pem = dir.join("key.pem");
    match form {
        KeyForm::Pkcs1Pem | KeyForm::Pkcs1Der => {
            openssl(&["genrsa", "-traditional", "-out", path_str(&pem), "2048"]);
            assert!(
                String::from_utf8_lossy(&read(&pem)).starts_with("-----BEGIN RSA PRIVATE KEY-----")
            );
        }
        KeyForm::Pkcs8Pem | KeyForm::Pkcs8Der => {
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                path_str(&pem),
            ]);
            assert!(String::from_utf8_lossy(&read(&pem)).starts_with("-----BEGIN PRIVATE KEY-----"));
        }
    }
    let cert_pem = dir.join("cert.pem");
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        path_str(&pem),
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-days",
        "2",
        "-out",
        path_str(&cert_pem),
    ]);
    let (key, cert) = match form {
        KeyForm::Pkcs1Pem | KeyForm::Pkcs8Pem => (pem, cert_pem),
        KeyForm::Pkcs1Der | KeyForm::Pkcs8Der => {
            let (key_der, cert_der) = (dir.join("key.der"), dir.join("cert.der"));
            if matches!(form, KeyForm::Pkcs1Der) {
                openssl(&[
                    "rsa",
                    "-in",
                    path_str(&pem),
                    "-traditional",
                    "-outform",
                    "DER",
                    "-out",
                    path_str(&key_der),
                ]);
            } else {
                openssl(&[
                    "pkcs8",
                    "-topk8",
                    "-nocrypt",
                    "-in",
                    path_str(&pem),
                    "-outform",
                    "DER",
                    "-out",
                    path_str(&key_der),
                ]);
            }
            openssl(&[
                "x509",
                "-in",
                path_str(&cert_pem),
                "-outform",
                "DER",
                "-out",
                path_str(&cert_der),
            ]);
            (key_der, cert_der)
        }
    };

    let server = PfslabServer::start(&key, &cert, &[]);
    for suite in [RSA, ECDHE] {
        let path = format!("/{}", unique_token(test));
        let request = format!("GET {path} HTTP/1.0");
        let done = pfslab_client_verified(
            server.addr.port(),
            &cert,
            &["--suite", suite.cli, "--request", &request],
        );
        let why = || done.beside("pfslab client", "server", &server.proc);
        assert!(done.status.success(), "{}", why());
        assert!(
            done.stderr
                .contains(&connected_line(server.addr.port(), suite, true)),
            "{}",
            why()
        );
        assert!(
            done.stdout
                .contains(&format!("pfslab bank: you asked for GET {path}\n")),
            "{}",
            why()
        );
        let line = server.wait_log_line(&format!("\"GET {path} HTTP/1.0\""));
        assert!(line.contains(suite.iana), "{line}");
    }
}

#[test]
fn server_loads_pkcs1_pem_key_from_openssl_genrsa() {
    server_loads_openssl_key("format-pkcs1-pem", KeyForm::Pkcs1Pem);
}

#[test]
fn server_loads_pkcs8_pem_key_from_openssl_genpkey() {
    server_loads_openssl_key("format-pkcs8-pem", KeyForm::Pkcs8Pem);
}

#[test]
fn server_loads_pkcs1_der_key_and_der_certificate() {
    server_loads_openssl_key("format-pkcs1-der", KeyForm::Pkcs1Der);
}

#[test]
fn server_loads_pkcs8_der_key_and_der_certificate() {
    server_loads_openssl_key("format-pkcs8-der", KeyForm::Pkcs8Der);
}

#[test]
fn server_refuses_a_key_that_is_not_the_certificates() {
    let dir = TestDir::new("mismatch");
    let (key_a, _) = keygen(&dir, "a");
    let (_, cert_b) = keygen(&dir, "b");
    let done = run(
        pfslab(&[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--key",
            path_str(&key_a),
            "--cert",
            path_str(&cert_b),
        ]),
        b"",
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    assert!(
        !done.stdout.contains("listening"),
        "server started anyway: {}",
        done.describe()
    );
    let line = single_error_line(&done);
    assert!(
        line.contains(path_str(&key_a)) && line.contains(path_str(&cert_b)),
        "should name both files: {line}"
    );
    assert!(
        line.contains("does not belong"),
        "should say they do not match: {line}"
    );
}

// ---------------------------------------------------------------------------------------------
// Hostile and silent clients

/// A fixed pseudo-random pattern (xorshift64*), the same on every run.
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// Sends `bytes` on a raw socket; the server must answer with a TLS alert record or close,
/// within a bounded time. Returns the socket's local address as the server logs it.
fn send_garbage(server: &PfslabServer, bytes: &[u8]) -> String {
    let mut sock = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5))
        .expect("connect to pfslab server");
    let local = sock.local_addr().expect("local_addr").to_string();
    sock.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    sock.set_write_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server may close before it has read everything; a failed write is a close too.
    let _ = sock.write_all(bytes);
    let started = Instant::now();
    let mut reply = [0u8; 7];
    match sock.read(&mut reply) {
        Ok(0) => {} // closed
        Ok(_) => assert_eq!(
            reply[0], 0x15,
            "server answered garbage with a non-alert record: {reply:02x?}"
        ),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {} // closed with unread data
        Err(e) => panic!(
            "no alert or close within 5 s of garbage ({e}): {}",
            server.proc.describe()
        ),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = sock.shutdown(Shutdown::Both);
    local
}

#[test]
fn server_survives_random_bytes_and_serves_the_next_client() {
    let dir = TestDir::new("garbage");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);

    // Pure noise, then noise inside a well-formed handshake record header.
    let raw = noise(2048, 0x9e37_79b9_7f4a_7c15);
    let mut in_record = vec![0x16, 0x03, 0x03, 0x07, 0xfb];
    in_record.extend_from_slice(&noise(2043, 42));
    for bytes in [raw, in_record] {
        let local = send_garbage(&server, &bytes);
        let line = server.wait_log_line(&format!("] {local} failed: "));
        assert!(
            line.contains("(sent alert ") || line.contains("closed"),
            "unexplained failure line: {line}"
        );
    }

    let done = pfslab_client_verified(
        server.addr.port(),
        &cert,
        &[
            "--suite",
            "ecdhe",
            "--request",
            "GET /after-garbage HTTP/1.0",
        ],
    );
    let why = || done.beside("pfslab client", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stdout.contains("you asked for GET /after-garbage"),
        "{}",
        why()
    );
    server.wait_log_line("\"GET /after-garbage HTTP/1.0\" 200");
    assert_eq!(
        server.proc.stderr().matches(" failed: ").count(),
        2,
        "{}",
        why()
    );
}

#[test]
fn server_times_out_a_silent_client_while_serving_others() {
    let dir = TestDir::new("silent");
    let (key, cert) = keygen(&dir, "keys");
    let mut server = PfslabServer::start(&key, &cert, &["--timeout", "1"]);

    let mut silent =
        TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)).expect("connect");
    let connected = Instant::now();
    let local = silent.local_addr().expect("local_addr").to_string();

    // Another client is served while the silent one holds its connection.
    let done = pfslab_client_verified(
        server.addr.port(),
        &cert,
        &["--suite", "rsa", "--request", "GET /meanwhile HTTP/1.0"],
    );
    assert!(
        done.status.success(),
        "{}\n--- server ---\n{}",
        done.describe(),
        server.proc.describe()
    );
    assert!(
        done.stdout.contains("you asked for GET /meanwhile"),
        "{}",
        done.describe()
    );
    assert!(
        !server.proc.stderr().contains(&format!("] {local} ")),
        "the silent client was dropped before the other was served"
    );

    // Then the silent one is cut off: EOF (or reset) after about a second, and a log line.
    silent
        .set_read_timeout(Some(Duration::from_secs(6)))
        .expect("timeout");
    match silent.read(&mut [0u8; 16]) {
        Ok(0) => {}
        Ok(n) => panic!("server sent {n} bytes to a client that said nothing"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!(
            "silent client not closed within 6 s ({e}): {}",
            server.proc.describe()
        ),
    }
    let waited = connected.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed after {waited:?}, before the 1 s timeout"
    );
    let line = server.wait_log_line(&format!("] {local} failed: "));
    assert!(line.contains("timed out"), "{line}");
    assert!(
        server.proc.try_status().is_none(),
        "server exited: {}",
        server.proc.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Client errors

#[test]
fn client_to_a_closed_port_fails_with_one_line_naming_the_address() {
    let port = free_port(); // bound and released: nothing listens there now
    let done = pfslab_client(port, &["--suite", "rsa", "--insecure", "--timeout", "5"]);
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    let line = single_error_line(&done);
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(done.stdout.is_empty(), "{}", done.describe());
}

/// `{:#}` prints an error's chain of causes; a cause that already appears in its parent's
/// text is printed twice.
#[test]
fn client_error_line_does_not_repeat_its_cause() {
    let port = free_port();
    let done = pfslab_client(port, &["--suite", "rsa", "--insecure", "--timeout", "5"]);
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    let line = single_error_line(&done);
    assert_eq!(
        line.matches("Connection refused").count(),
        1,
        "cause repeated: {line}"
    );
}

#[test]
fn client_rejects_a_certificate_it_does_not_trust_and_the_server_logs_the_alert() {
    let dir = TestDir::new("untrusted");
    let (key, cert) = keygen(&dir, "server");
    let (_, other_cert) = keygen(&dir, "other");
    let server = PfslabServer::start(&key, &cert, &[]);
    for suite in [RSA, ECDHE] {
        let done = pfslab_client_verified(server.addr.port(), &other_cert, &["--suite", suite.cli]);
        assert_eq!(done.status.code(), Some(1), "{}", done.describe());
        let line = single_error_line(&done);
        assert!(line.contains("untrusted certificate"), "{line}");
        assert!(done.stdout.is_empty(), "{}", done.describe());
    }
    // The server saw both clients refuse it with unknown_ca.
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let failures: Vec<String> = complete_lines(&server.proc.stderr())
            .lines()
            .filter(|l| l.contains(" failed: "))
            .map(str::to_string)
            .collect();
        if failures.len() == 2 {
            for l in &failures {
                assert!(l.contains("alert unknown_ca"), "{l}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "expected two failure lines: {}",
            server.proc.describe()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
