//! `pfslab mitm` with a stolen key between real clients (OpenSSL's s_client verifying the
//! certificate, curl) and a real `pfslab server`: the victims' checks pass, they get the real
//! server's page, and the mitm's recording opens with its key log. Loopback only.

use std::path::Path;
use std::process::Command;

use crate::common::*;

/// A running `pfslab mitm --listen 127.0.0.1:0` that stops after `connections` victims.
struct MitmProc {
    proc: Proc,
    port: u16,
}

fn start_mitm(key: &Path, cert: &Path, upstream: u16, extra: &[&str]) -> MitmProc {
    let up = format!("127.0.0.1:{upstream}");
    let mut args = vec![
        "mitm",
        "--key",
        path_str(key),
        "--cert",
        path_str(cert),
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &up,
    ];
    args.extend_from_slice(extra);
    let proc = Proc::spawn(pfslab(&args));
    let port = proc.wait_stdout("'pfslab mitm listening on' line", READY_TIMEOUT, |out| {
        let line = out.lines().next()?;
        if !out.contains('\n') {
            return None;
        }
        let rest = line.strip_prefix("pfslab mitm listening on 127.0.0.1:")?;
        let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
        port.parse::<u16>().ok()
    });
    MitmProc { proc, port }
}

fn curl(port: u16, ca: &Path, path: &str) -> Finished {
    require_tool("curl", "curl");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "15", "--cacert", path_str(ca)])
        .arg(format!("https://localhost:{port}/{path}"));
    run(cmd, b"")
}

/// Five victims through the mitm — s_client at TLS 1.2 ECDHE, at TLS 1.3, and at TLS 1.2 with RSA
/// key transport and with DHE, all with `-verify_return_error -CAfile server.crt`, and curl with
/// `--cacert server.crt` — each get the
/// real server's page for their own path; the mitm prints their plaintext and says the
/// certificate is byte-identical; tshark opens its recording with its key log (and not without).
#[test]
fn mitm_passes_certificate_checks_and_records_what_it_reads() {
    let dir = TestDir::new("mitm_relay");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);
    let (cap, keylog) = (dir.join("mitm.pcap"), dir.join("mitm.keys"));
    let mitm = start_mitm(
        &key,
        &cert,
        server.addr.port(),
        &[
            "--write",
            path_str(&cap),
            "--keylog",
            path_str(&keylog),
            "--connections",
            "5",
        ],
    );
    let tokens: Vec<String> = (0..5).map(|i| unique_token(&format!("mitm{i}"))).collect();
    let [t12, t13, trsa, tdhe, tcurl] =
        [&tokens[0], &tokens[1], &tokens[2], &tokens[3], &tokens[4]];

    for (token, args, version) in [
        (
            t12,
            &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"][..],
            "New, TLSv1.2, Cipher is ECDHE-RSA-AES128-GCM-SHA256",
        ),
        (t13, &["-tls1_3"][..], "New, TLSv1.3, Cipher is TLS_AES_"),
        (
            trsa,
            &["-tls1_2", "-cipher", "AES128-GCM-SHA256"][..],
            "New, TLSv1.2, Cipher is AES128-GCM-SHA256",
        ),
        (
            tdhe,
            &["-tls1_2", "-cipher", "DHE-RSA-AES128-GCM-SHA256"][..],
            "New, TLSv1.2, Cipher is DHE-RSA-AES128-GCM-SHA256",
        ),
    ] {
        let done = openssl_s_client_verified(
            mitm.port,
            &cert,
            args,
            &format!("GET /{token} HTTP/1.0\r\nHost: localhost\r\n\r\n"),
            None,
        );
        let why = || done.beside("openssl s_client", "mitm", &mitm.proc);
        assert!(done.status.success(), "{}", why());
        assert!(done.stdout.contains(version), "{}", why());
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
        // The real server answered it: its own log has the request line.
        server.wait_log_line(&format!("\"GET /{token} HTTP/1.0\" 200"));
    }
    let done = curl(mitm.port, &cert, tcurl);
    assert!(
        done.status.success()
            && done
                .stdout
                .contains(&format!("you asked for GET /{tcurl}\n")),
        "curl through the mitm: {}",
        done.beside("curl", "mitm", &mitm.proc)
    );
    server.wait_log_line(&format!("\"GET /{tcurl} HTTP/1.1\" 200"));

    let done = mitm.proc.finish(RUN_TIMEOUT);
    assert!(done.status.success(), "pfslab mitm: {}", done.describe());
    let out = &done.stdout;
    assert!(
        out.contains(
            "victim finished TLS 1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 with the stolen key"
        ),
        "{out}"
    );
    assert_eq!(
        out.matches("victim finished TLS 1.3 TLS_AES_").count(),
        2,
        "{out}"
    );
    for token in &tokens {
        assert!(out.contains(&format!("GET /{token} HTTP/1.")), "{out}");
        assert!(
            out.contains(&format!("you asked for GET /{token}\n")),
            "{out}"
        );
    }
    assert!(
        out.contains("5 handshake(s) completed with the stolen key (TLS 1.3: 2, ECDHE: 1, DHE: 1, RSA key transport: 1)"),
        "{out}"
    );
    assert!(out.contains(": byte-identical (the whole chain)"), "{out}");
    assert!(!out.contains("DIFFERENT"), "{out}");

    // tshark, with the mitm's key log, finds each request in the victim-side recording.
    let with_keys: Vec<String> = [decode_as(mitm.port), with_keylog(&keylog)].concat();
    let overview = assert_tshark_clean(&cap, &with_keys);
    let streams = overview.tls_streams();
    assert_eq!(streams.len(), 5, "{streams:?}");
    let followed = follow_tls(&cap, &with_keys, &streams);
    // (tshark may name either side first in a TLS 1.3 stream: look at both.)
    for token in &tokens {
        let needle = format!("GET /{token} HTTP/1.");
        assert!(
            followed.values().any(|f| {
                contains_bytes(&f.first, needle.as_bytes())
                    || contains_bytes(&f.second, needle.as_bytes())
            }),
            "no stream of {} holds {needle:?} with the key log",
            cap.display()
        );
    }
    // Without the key log the same recording holds no readable request.
    let followed = follow_tls(&cap, &decode_as(mitm.port), &streams);
    assert!(
        followed.values().all(|f| f.is_empty()),
        "tshark decrypted without the key log: {followed:?}"
    );
}

/// A listening address that is not loopback is refused, and the error names --allow-remote.
#[test]
fn mitm_refuses_non_loopback_listen_without_allow_remote() {
    let dir = TestDir::new("mitm_remote");
    let (key, cert) = keygen(&dir, "keys");
    let done = run(
        pfslab(&[
            "mitm",
            "--key",
            path_str(&key),
            "--cert",
            path_str(&cert),
            "--listen",
            "0.0.0.0:0",
            "--upstream",
            "127.0.0.1:1",
        ]),
        b"",
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    let line = single_error_line(&done);
    assert!(
        line.contains("refusing to listen on 0.0.0.0:0: not a loopback address")
            && line.contains("unless --allow-remote is given"),
        "{line}"
    );
    assert!(done.stdout.is_empty(), "{}", done.describe());
}

/// Another server's key (a second `pfslab keygen`) does not match the certificate: the mitm
/// refuses at start and says so.
#[test]
fn mitm_refuses_a_key_that_does_not_match_the_certificate() {
    let dir = TestDir::new("mitm_wrong_key");
    let (_, cert) = keygen(&dir, "real");
    let (other_key, _) = keygen(&dir, "other");
    let done = run(
        pfslab(&[
            "mitm",
            "--key",
            path_str(&other_key),
            "--cert",
            path_str(&cert),
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            "127.0.0.1:1",
        ]),
        b"",
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.describe());
    let line = single_error_line(&done);
    assert!(
        line.contains("does not belong to the certificate")
            && line.contains("the key does not match the certificate"),
        "{line}"
    );
    assert!(done.stdout.is_empty(), "{}", done.describe());
}
