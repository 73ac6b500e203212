//! Issue 19, the endpoints: X25519 and X25519MLKEM768 against a peer nobody here wrote (the
//! `rustls` crate with its aws-lc-rs provider, in process, both ways), the graceful fallback
//! with Debian's OpenSSL 3.0 (which knows no hybrid), tshark with rustls's key log as the
//! judge, seeded hybrid recordings, and the discrete-log stand-in file `record` writes (the
//! clients' classical ephemeral private keys, labelled as a stand-in for Shor's algorithm).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pfslab::crypto::ffdh::{DhGroup, DhKey};
use pfslab::crypto::kx::X25519Key;
use pfslab::standin::{self, DlogGroup};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::common::*;

/// rustls's key log, kept in memory as NSS lines.
#[derive(Debug, Default)]
struct MemKeyLog(Mutex<Vec<String>>);

impl rustls::KeyLog for MemKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}", hex(client_random), hex(secret));
        self.0.lock().unwrap().push(line);
    }
}

impl MemKeyLog {
    fn lines(&self) -> Vec<String> {
        let mut v = self.0.lock().unwrap().clone();
        v.sort();
        v
    }

    fn write(&self, path: &Path) {
        std::fs::write(path, self.lines().join("\n") + "\n").unwrap();
    }
}

/// aws-lc-rs with rustls's defaults: X25519MLKEM768 first (the `prefer-post-quantum` feature).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The rustls group name of a connection, e.g. "X25519MLKEM768".
fn group_name(g: Option<&'static dyn rustls::crypto::SupportedKxGroup>) -> String {
    g.map(|g| format!("{:?}", g.name())).unwrap_or_default()
}

/// The sorted TLS 1.3 lines of a key log file.
fn keylog_lines(path: &Path) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(&read(path))
        .lines()
        .filter(|l| l.contains("_SECRET"))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// The lab certificate is a self-signed CA, which webpki refuses as an end entity
/// (CaUsedAsEndEntity); this verifier pins it byte for byte instead and still checks the
/// CertificateVerify signature with aws-lc-rs.
#[derive(Debug)]
struct PinnedCertificate(CertificateDer<'static>);

impl rustls::client::danger::ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_ref() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("not the lab certificate".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("TLS 1.3 only".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A rustls TLS 1.3 client pinning `cert`: sends `request`, returns the reply, the group and
/// its key log.
fn rustls_client(port: u16, cert: &Path, request: &[u8]) -> (Vec<u8>, String, Arc<MemKeyLog>) {
    let pinned = CertificateDer::from_pem_file(cert).expect("certificate PEM");
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate(pinned)))
        .with_no_client_auth();
    let log = Arc::new(MemKeyLog::default());
    config.key_log = log.clone();
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap())
            .unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(request).expect("rustls writes");
    let mut reply = Vec::new();
    match tls.read_to_end(&mut reply) {
        Ok(_) => {}
        // A peer that closes TCP without close_notify: the reply is still whole.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        Err(e) => panic!(
            "rustls client: {e}; read so far {:?}",
            String::from_utf8_lossy(&reply)
        ),
    }
    let group = group_name(conn.negotiated_key_exchange_group());
    (reply, group, log)
}

/// What the rustls server saw: the request, the group and its key log.
type ServerSaw = (Vec<u8>, String, Arc<MemKeyLog>);

/// A one-connection rustls TLS 1.3 server with the lab's key: it answers the first request
/// with `body`. The thread returns the request, the group and the key log.
fn rustls_server(
    key: &Path,
    cert: &Path,
    body: String,
) -> (u16, std::thread::JoinHandle<ServerSaw>) {
    let chain = vec![CertificateDer::from_pem_file(cert).expect("certificate PEM")];
    let key = PrivateKeyDer::from_pem_file(key).expect("key PEM");
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("rustls takes the lab key");
    let log = Arc::new(MemKeyLog::default());
    config.key_log = log.clone();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        sock.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut sock);
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !contains_bytes(&request, b"\r\n\r\n") {
            let n = tls.read(&mut buf).expect("rustls server reads");
            assert!(n > 0, "the client closed before its request ended");
            request.extend_from_slice(&buf[..n]);
        }
        let reply = format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(reply.as_bytes()).unwrap();
        tls.conn.send_close_notify();
        tls.flush().unwrap();
        let group = group_name(conn.negotiated_key_exchange_group());
        (request, group, log)
    });
    (port, handle)
}

const ALL_GROUPS: &str = "x25519mlkem768,x25519,p256";

#[test]
fn rustls_client_through_the_tap_gets_the_hybrid_from_pfslab_and_tshark_agrees() {
    let test = "hybrid-rustls-client";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let server_log = dir.join("server.keylog");
    let server = PfslabServer::start(
        &key,
        &cert,
        &[
            "--suites",
            "tls13",
            "--groups",
            ALL_GROUPS,
            "--keylog",
            path_str(&server_log),
        ],
    );
    let capture = dir.join("hybrid.pcap");
    let tap = Tap::start(server.addr.port(), &capture, Some(1));
    let token = unique_token(test);
    let (reply, group, log) =
        rustls_client(tap.port, &cert, bank_request_with_cookie(&token).as_bytes());
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let why = || format!("rustls got {reply:?}; server: {}", server.proc.describe());
    assert_eq!(group, "X25519MLKEM768", "{}", why());
    assert!(
        reply.contains(&format!("pfslab bank: you asked for GET /{token}\n")),
        "{}",
        why()
    );
    assert!(
        reply.contains(&format!("your cookie: session={token}-cookie")),
        "{}",
        why()
    );
    tap.finish();

    // The two endpoints derived the same secrets: rustls's key log is pfslab's.
    let rustls_lines = log.lines();
    assert_eq!(rustls_lines.len(), 5, "{rustls_lines:#?}");
    assert_eq!(keylog_lines(&server_log), rustls_lines);

    // On the wire: a 1216-byte hybrid share from rustls, a 1120-byte answer.
    let shares = tshark(
        &capture,
        &decode_as(server.addr.port()),
        &[
            "-Y",
            "tls.handshake.type == 2",
            "-T",
            "fields",
            "-e",
            "tls.handshake.extensions_key_share_group",
            "-e",
            "tls.handshake.extensions_key_share_key_exchange_length",
        ],
    );
    assert_eq!(shares.trim(), "4588\t1120", "ServerHello key share");

    // tshark with rustls's key log decrypts to the bytes `attack --keylog` recovers.
    let rustls_keylog = dir.join("rustls.keylog");
    log.write(&rustls_keylog);
    let (verdicts, done) = attack_json(&["--keylog", path_str(&rustls_keylog), path_str(&capture)]);
    assert_eq!(verdicts.len(), 1, "{}", done.describe());
    let v = &verdicts[0];
    assert_eq!(v.verdict, "decrypted", "{v:#?}");
    let opts: Vec<String> = decode_as(server.addr.port())
        .into_iter()
        .chain(with_keylog(&rustls_keylog))
        .collect();
    let followed = follow_tls(&capture, &opts, &[v.stream]);
    let (client_bytes, server_bytes) = followed[&v.stream].by_side(&v.client, &v.server);
    assert_eq!(String::from_utf8_lossy(client_bytes), v.client_data);
    assert_eq!(String::from_utf8_lossy(server_bytes), v.server_data);
    assert!(
        v.client_data
            .starts_with(&format!("GET /{token} HTTP/1.0\r\n")),
        "{v:#?}"
    );
    assert_eq!(v.server_data, reply);
}

#[test]
fn pfslab_client_gets_the_hybrid_from_a_rustls_server() {
    let test = "hybrid-rustls-server";
    let dir = TestDir::new(test);
    let (key, cert) = keygen(&dir, "keys");
    let token = unique_token(test);
    let body = format!("rustls says hello to {token}\n");
    let (port, server) = rustls_server(&key, &cert, body.clone());
    let client_log = dir.join("client.keylog");
    let done = pfslab_client_verified(
        port,
        &cert,
        &[
            "--tls-version",
            "1.3",
            "--group",
            "x25519mlkem768",
            "--keylog",
            path_str(&client_log),
            "--request",
            &format!("GET /{token} HTTP/1.0"),
        ],
    );
    let (request, group, log) = server.join().expect("rustls server thread");
    let why = || done.describe();
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stderr.contains("key share X25519MLKEM768"),
        "{}",
        why()
    );
    assert!(done.stdout.contains(&body), "{}", why());
    assert_eq!(group, "X25519MLKEM768");
    assert!(contains_bytes(
        &request,
        format!("GET /{token} HTTP/1.0\r\n").as_bytes()
    ));
    assert_eq!(keylog_lines(&client_log), log.lines());
}

/// Debian's OpenSSL 3.0 knows no X25519MLKEM768: offering only X25519 or only P-256, it still
/// completes TLS 1.3 with pfslab's server in that group.
#[test]
fn openssl_offering_classic_groups_still_completes_with_that_group() {
    let dir = TestDir::new("hybrid-openssl-fallback");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", "tls13", "--groups", ALL_GROUPS]);
    for (groups, temp_key) in [
        ("X25519", "Server Temp Key: X25519"),
        ("P-256", "Server Temp Key: ECDH, prime256v1"),
    ] {
        let token = unique_token(&format!("fallback-{groups}"));
        let done = openssl_s_client_verified(
            server.addr.port(),
            &cert,
            &["-tls1_3", "-groups", groups],
            &bank_request_with_cookie(&token),
            None,
        );
        let why = || done.beside("openssl s_client", "pfslab server", &server.proc);
        assert!(done.status.success(), "{}", why());
        assert!(
            done.stdout.contains("New, TLSv1.3, Cipher is TLS_AES_"),
            "{}",
            why()
        );
        assert!(done.stdout.contains(temp_key), "{}", why());
        assert!(
            done.stdout
                .contains(&format!("pfslab bank: you asked for GET /{token}\n")),
            "{}",
            why()
        );
    }
}

#[test]
fn seeded_hybrid_recordings_repeat_byte_for_byte() {
    let dir = TestDir::new("hybrid-seeded");
    let sessions = "tls13-hybrid=2,tls13-x25519=1,tls13=1";
    let a = record(
        &dir.join("a"),
        "lab",
        &dir.join("keys"),
        &["--seed", "19", "--sessions", sessions],
    );
    let b = record(
        &dir.join("b"),
        "lab",
        &dir.join("keys"),
        &["--seed", "19", "--sessions", sessions],
    );
    assert_eq!(sha256_hex(&a.pcap), sha256_hex(&b.pcap));
    assert_eq!(
        read(&dir.join("a").join("lab.dlog-standin.json")),
        read(&dir.join("b").join("lab.dlog-standin.json"))
    );
    let groups: Vec<&str> = a
        .truth
        .iter()
        .map(|t| t.raw["key_share_group"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        groups,
        ["X25519MLKEM768", "x25519", "secp256r1", "X25519MLKEM768"]
    );
}

/// The classical public value a stand-in private key gives.
fn regenerate(group: DlogGroup, private: &[u8]) -> Vec<u8> {
    match group {
        DlogGroup::Secp256r1 => p256::SecretKey::from_slice(private)
            .expect("a P-256 scalar")
            .public_key()
            .to_sec1_bytes()
            .to_vec(),
        // The lab's recordings serve ffdhe2048 (RFC 7919).
        DlogGroup::Ffdhe => DhKey::from_exponent_be(&DhGroup::ffdhe2048(), private)
            .expect("an exponent")
            .public()
            .to_vec(),
        // RFC 7748 §5 scalar; for the hybrid, the X25519 half only.
        DlogGroup::X25519 | DlogGroup::X25519MlKem768 => {
            X25519Key::from_scalar(private.try_into().expect("32-byte scalar"))
                .public()
                .to_vec()
        }
    }
}

#[test]
fn the_dlog_standin_holds_each_clients_classical_key_and_it_regenerates_the_public_share() {
    let dir = TestDir::new("hybrid-standin");
    let (rec, _, _) = seeded_recording(
        &dir,
        Some("ecdhe=1,dhe=1,rsa=1,tls13=1,tls13+psk=2,tls13-x25519=1,tls13-hybrid=1"),
    );
    let path = dir.join("lab.dlog-standin.json");
    assert!(
        rec.done.stdout.contains("lab.dlog-standin.json"),
        "record should say it wrote the stand-in: {}",
        rec.done.describe()
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the stand-in holds secrets");
    let raw = json_file(&path);
    assert_eq!(raw["stand_in"], standin::STAND_IN);
    assert_eq!(raw["capture"], "lab.pcap");
    let file = standin::read(&path).unwrap();
    let capture = read(&rec.pcap);
    // One key per handshake with a classical share: every session but the RSA one (a TLS 1.3
    // psk_dhe_ke resumption makes a fresh share too).
    assert_eq!(file.keys.len(), rec.truth.len() - 1, "{:?}", file.keys);
    for k in &file.keys {
        let session = rec.by_client_random(&hex(&k.client_random));
        let want = match (
            session.key_exchange.as_str(),
            session.raw["key_share_group"].as_str(),
        ) {
            ("tls13", Some("X25519MLKEM768")) => DlogGroup::X25519MlKem768,
            ("tls13", Some("x25519")) => DlogGroup::X25519,
            ("ecdhe" | "tls13", _) => DlogGroup::Secp256r1,
            ("dhe", _) => DlogGroup::Ffdhe,
            (other, _) => panic!("a {other} session has no classical ephemeral key"),
        };
        assert_eq!(k.group, want, "stream {}", session.stream);
        assert_eq!(
            regenerate(k.group, &k.private),
            k.public,
            "stream {}: the private key does not give the public value",
            session.stream
        );
        assert!(
            contains_bytes(&capture, &k.public),
            "stream {}: the public value never crossed the wire",
            session.stream
        );
        // The hybrid's entry is the X25519 half alone: 32 bytes each, no ML-KEM key.
        if k.group == DlogGroup::X25519MlKem768 {
            assert_eq!((k.public.len(), k.private.len()), (32, 32));
        }
    }
}
