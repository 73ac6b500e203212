//! The server under abuse and load (issue 8): many concurrent clients, stalled clients,
//! hostile bytes, oversized claims, and the RFC 5246 §7.4.7.1 Bleichenbacher countermeasure.
//!
//! The load, stall and Bleichenbacher tests run an in-process server (`pfslab::lab::bank_server::spawn`
//! on 127.0.0.1:0); the hostile-input test runs the `pfslab server` binary so its peak memory
//! (VmHWM) can be read from /proc without other tests' allocations mixed in. Every wait is
//! bounded; servers and children stop when the test ends.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rand::{Rng, RngExt, SeedableRng};
use rsa::traits::PublicKeyParts;
use rsa::BoxedUint;

use pfslab::crypto::rng;
use pfslab::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use pfslab::endpoint::stream::TlsStream;
use pfslab::lab::bank_client::{build_request, exchange};
use pfslab::lab::bank_server::{self, ServerHandle, ServerOptions};
use pfslab::msgs::enums::{ContentType, ExtensionType, HandshakeType};
use pfslab::msgs::handshake::{
    ClientHello, Extension, Finished, RsaClientKeyExchange, ServerHello,
};
use pfslab::msgs::record::{encode_record, Deframer, HandshakeJoiner};
use pfslab::pki;
use pfslab::suites::{self, Suite};
use pfslab::tls12::keys::{derive_master_secret, verify_data, Side};
use pfslab::tls12::protectors;

use crate::common::{
    client_config, exclusive, identity, keygen, server_config, PfslabServer, TestDir,
};

fn start_server(timeout: Duration, max_connections: usize) -> ServerHandle {
    let config = server_config(
        vec![
            suites::TLS13_AES_128_GCM_SHA256,
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ],
        None,
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    bank_server::spawn(
        listener,
        ServerOptions {
            config,
            timeout,
            max_connections,
            seed: Some(7),
        },
        false,
    )
    .expect("spawn server")
}

fn trusting_client(suite: Suite) -> Arc<ClientConfig> {
    Arc::new(client_config(suite, true, "localhost"))
}

/// Waits (bounded) until the server's log has `n` lines.
fn wait_log(handle: &ServerHandle, n: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let lines = handle.log.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if lines.len() >= n || Instant::now() >= deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything the peer sends until it closes, and when it closed; `None` if it had not
/// closed by `limit`.
fn read_to_close(sock: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Instant>) {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (got, None);
        }
        sock.set_read_timeout(Some(left)).expect("set_read_timeout");
        match sock.read(&mut buf) {
            Ok(0) => return (got, Some(Instant::now())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (got, None)
            }
            // A reset is a close too.
            Err(_) => return (got, Some(Instant::now())),
        }
    }
}

pub(crate) fn fatal_alert(description: u8) -> Vec<u8> {
    vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description]
}

// ---------------------------------------------------------------------------------------------
// Load

/// 200 clients at once, a third each RSA key transport, ECDHE and TLS 1.3: all 200 complete
/// their handshakes and hold them open together (200 sessions live on the server at one
/// moment), then each sends its request and reads the whole response.
#[test]
fn two_hundred_concurrent_clients_all_complete() {
    const CLIENTS: usize = 200;
    let _turn = exclusive();
    let handle = start_server(Duration::from_secs(30), 512);
    let addr = handle.local_addr;
    let request = build_request("GET /balance HTTP/1.0", "localhost");
    let (go, all_up) = (Barrier::new(CLIENTS), Barrier::new(CLIENTS));
    type Outcome = (Result<Vec<u8>, String>, Instant, Option<Instant>, Instant);
    let results: Vec<Outcome> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let (go, all_up, request) = (&go, &all_up, &request);
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || {
                        let suite = [
                            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
                            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                            suites::TLS13_AES_128_GCM_SHA256,
                        ][i % 3];
                        go.wait();
                        let start = Instant::now();
                        let handshake = || -> Result<TlsStream<TcpStream>, String> {
                            let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(30))
                                .map_err(|e| format!("connect: {e}"))?;
                            sock.set_write_timeout(Some(Duration::from_secs(30)))
                                .map_err(|e| e.to_string())?;
                            let conn = client_connection(
                                trusting_client(suite),
                                rng::from_seed(i as u64, "abuse client"),
                            )
                            .map_err(|e| e.to_string())?;
                            let mut tls = TlsStream::new(conn, sock);
                            tls.set_deadline(
                                Duration::from_secs(60),
                                "waiting for the server's handshake",
                            );
                            tls.handshake().map_err(|e| format!("handshake: {e}"))?;
                            Ok(tls)
                        };
                        let up = handshake();
                        let handshaken = up.is_ok().then(Instant::now);
                        // Every client waits here, failed or not, so none is left waiting.
                        all_up.wait();
                        let exchanged = up.and_then(|mut tls| {
                            tls.set_deadline(
                                Duration::from_secs(60),
                                "waiting for the server's response",
                            );
                            tls.write_all(request)
                                .map_err(|e| format!("request: {e}"))?;
                            let mut response = Vec::new();
                            loop {
                                let chunk =
                                    tls.read_some().map_err(|e| format!("response: {e}"))?;
                                if chunk.is_empty() {
                                    break;
                                }
                                response.extend_from_slice(&chunk);
                            }
                            let _ = tls.close();
                            Ok(response)
                        });
                        (exchanged, start, handshaken, Instant::now())
                    })
                    .expect("spawn client thread")
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("client thread panicked"))
            .collect()
    });
    let failures: Vec<String> = results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.0.as_ref().err().map(|e| format!("client {i}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for r in &results {
        let response = r.0.as_ref().expect("checked above");
        assert!(
            response.starts_with(b"HTTP/1.0 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(response)
        );
    }
    let first = results.iter().map(|r| r.1).min().expect("clients");
    let all_handshaken = results.iter().filter_map(|r| r.2).max().expect("clients") - first;
    let all_done = results.iter().map(|r| r.3).max().expect("clients") - first;
    let mut latencies: Vec<Duration> = results
        .iter()
        .filter_map(|r| r.2.map(|h| h - r.1))
        .collect();
    latencies.sort();
    let log = wait_log(&handle, CLIENTS, Duration::from_secs(10));
    let ok = log.iter().filter(|l| !l.contains(" failed: ")).count();
    eprintln!(
        "load: {CLIENTS} handshakes (RSA, ECDHE, TLS 1.3) all up and held open together after {:.2} s ({:.0} handshakes/s), \
         every exchange done after {:.2} s; handshake latency median {:.0} ms, p95 {:.0} ms, max {:.0} ms; server logged {ok} successes",
        all_handshaken.as_secs_f64(),
        CLIENTS as f64 / all_handshaken.as_secs_f64(),
        all_done.as_secs_f64(),
        latencies[CLIENTS / 2].as_secs_f64() * 1e3,
        latencies[CLIENTS * 95 / 100].as_secs_f64() * 1e3,
        latencies[CLIENTS - 1].as_secs_f64() * 1e3,
    );
    assert_eq!(ok, CLIENTS, "server log:\n{}", log.join("\n"));
    assert!(
        all_done < Duration::from_secs(60),
        "200 clients took {all_done:?}"
    );
}

/// 50 clients connect and stall (half silent, half after a partial ClientHello). A normal
/// client is served meanwhile, and each stalled one is closed once the server's 2 s timeout
/// has passed, not before and not much after.
#[test]
fn stalled_clients_do_not_block_others_and_are_timed_out() {
    const STALLED: usize = 50;
    let timeout = Duration::from_secs(2);
    let _turn = exclusive();
    let handle = start_server(timeout, 256);
    let addr = handle.local_addr;
    let partial_hello = &encode_record(ContentType::Handshake, 0x0301, &[1, 0, 0, 200, 3, 3])[..];
    let mut stalled: Vec<(TcpStream, Instant)> = (0..STALLED)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i % 2 == 1 {
                s.write_all(partial_hello)
                    .expect("write a partial ClientHello");
            }
            (s, Instant::now())
        })
        .collect();
    let t = Instant::now();
    let done = exchange(
        addr,
        trusting_client(suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256),
        rng::from_seed(1, "patient"),
        &build_request("GET / HTTP/1.0", "localhost"),
        Duration::from_secs(10),
    )
    .expect("a normal client must be served while 50 others stall");
    let served_in = t.elapsed();
    assert!(done.response.starts_with(b"HTTP/1.0 200 OK"));
    // The stalled ones are all still open: the normal client did not wait for them.
    for (s, _) in &stalled {
        s.set_nonblocking(true).expect("nonblocking");
        let mut b = [0u8; 1];
        match s.peek(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("a stalled connection was closed within {served_in:?}, before the 2 s timeout: {other:?}"),
        }
        s.set_nonblocking(false).expect("blocking");
    }
    let mut closed_after = Vec::new();
    for (s, opened) in &mut stalled {
        let (got, closed) = read_to_close(s, timeout + Duration::from_secs(5));
        let closed = closed.unwrap_or_else(|| {
            panic!(
                "a stalled connection was not closed {:?} after the server's {timeout:?} timeout",
                timeout + Duration::from_secs(5)
            )
        });
        assert!(got.is_empty(), "a timed-out connection got {got:02x?}");
        closed_after.push(closed - *opened);
    }
    let (min, max) = (
        closed_after.iter().min().copied().unwrap_or_default(),
        closed_after.iter().max().copied().unwrap_or_default(),
    );
    eprintln!("stall: normal client served in {:.0} ms beside {STALLED} stalled connections; those closed after {:.2}..{:.2} s (timeout {timeout:?})", served_in.as_secs_f64() * 1e3, min.as_secs_f64(), max.as_secs_f64());
    assert!(
        min >= timeout - Duration::from_millis(100),
        "closed after {min:?}, before the {timeout:?} timeout"
    );
    assert!(
        max <= timeout + Duration::from_secs(3),
        "closed only after {max:?}"
    );
    let log = wait_log(&handle, STALLED + 1, Duration::from_secs(5));
    let timed_out = log
        .iter()
        .filter(|l| l.contains("timed out waiting for the client's handshake"))
        .count();
    assert_eq!(timed_out, STALLED, "server log:\n{}", log.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Hostile bytes, against the binary

/// Peak resident memory of a process, from /proc/PID/status.
fn vm_hwm_kib(pid: u32) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// Sends `bytes`, returns what came back until the server closed, and how long that took.
fn poke(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let t = Instant::now();
    s.write_all(bytes).expect("write");
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(6));
    let closed = closed.unwrap_or_else(|| {
        panic!(
            "the server neither answered nor closed after {:02x?}…: got {got:02x?}",
            &bytes[..bytes.len().min(16)]
        )
    });
    (got, closed - t)
}

/// Sends a header claiming a large body, then tries to send that body: the alert must come
/// at once, and the server must not have read (or kept) the body.
fn oversized_claim(addr: SocketAddr, header: &[u8], body_len: usize) -> (Vec<u8>, Duration) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let t = Instant::now();
    s.write_all(header).expect("write header");
    let (got, closed) = read_to_close(&mut s, Duration::from_secs(6));
    let closed = closed.expect("the server must close after rejecting the header");
    // The body, into a closed connection: the writes fail (reset) or vanish; never block long.
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("set_write_timeout");
    let chunk = vec![0x41u8; 64 * 1024];
    let mut sent = 0;
    while sent < body_len {
        match s.write(&chunk[..chunk.len().min(body_len - sent)]) {
            Ok(n) if n > 0 => sent += n,
            _ => break,
        }
    }
    (got, closed - t)
}

#[test]
fn hostile_bytes_get_the_right_alert_or_close_within_memory_limits() {
    let dir = TestDir::new("abuse-hostile");
    let (key, cert) = keygen(&dir, "keys");
    let srv = PfslabServer::start(&key, &cert, &["--timeout", "1"]);
    let addr = srv.addr;
    let anyone = Arc::new(ClientConfig {
        suites: vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256],
        server_name: "localhost".into(),
        verification: ServerVerification::Insecure,
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let request = build_request("GET / HTTP/1.0", "localhost");
    // Warm up with a real exchange, then take the peak memory as the baseline.
    exchange(
        addr,
        anyone.clone(),
        rng::from_seed(1, "warm"),
        &request,
        Duration::from_secs(10),
    )
    .expect("normal client before the abuse");
    let baseline = vm_hwm_kib(srv.proc.id());

    // 1. A record longer than 2^14 + 2048 (RFC 5246 §6.2.3): record_overflow at the header.
    let (got, took) = oversized_claim(addr, &[0x16, 0x03, 0x03, 0x48, 0x01], 18433);
    assert_eq!(
        got,
        fatal_alert(22),
        "record of 18433 bytes: expected record_overflow"
    );
    assert!(
        took < Duration::from_millis(900),
        "record_overflow took {took:?}: the server waited for the body"
    );

    // 2. A handshake message claiming 2^24 - 1 bytes (16 MB): rejected at its header with
    //    illegal_parameter (RecordError::HandshakeTooLarge), nothing buffered.
    let (got, took) = oversized_claim(
        addr,
        &[0x16, 0x03, 0x03, 0x00, 0x04, 0x01, 0xff, 0xff, 0xff],
        16 << 20,
    );
    assert_eq!(
        got,
        fatal_alert(47),
        "16 MB handshake claim: expected illegal_parameter"
    );
    assert!(
        took < Duration::from_millis(900),
        "the 16 MB claim took {took:?}: the server waited for the body"
    );

    // 3. Application data before any handshake: unexpected_message.
    let (got, _) = poke(
        addr,
        &encode_record(
            ContentType::ApplicationData,
            0x0303,
            b"GET / HTTP/1.0\r\n\r\n",
        ),
    );
    assert_eq!(
        got,
        fatal_alert(10),
        "application data before the handshake: expected unexpected_message"
    );

    // 4. Random bytes, bare and behind a plausible handshake record header: at most one fatal
    //    alert, then a close, always within the 1 s timeout (plus slack).
    let mut r = rand::rngs::ChaCha20Rng::seed_from_u64(4);
    let mut alerts = std::collections::BTreeMap::<String, usize>::new();
    for i in 0..40 {
        let len = r.random_range(1..3000usize);
        let mut bytes = vec![0u8; len];
        r.fill_bytes(&mut bytes);
        if i % 2 == 1 {
            let mut framed = encode_record(
                ContentType::Handshake,
                0x0303,
                &bytes[..bytes.len().min(16384)],
            );
            if i % 4 == 3 {
                framed.truncate(5 + len / 2); // and cut short: the server must time out, not hang
            }
            bytes = framed;
        }
        let (got, took) = poke(addr, &bytes);
        assert!(
            took < Duration::from_secs(3),
            "random input {i} ({len} bytes): closed only after {took:?}"
        );
        let kind = match got.as_slice() {
            [] => "close".to_string(),
            [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, d] => format!(
                "alert {}",
                pfslab::msgs::enums::AlertDescription::from_wire(*d)
            ),
            other => {
                panic!("random input {i}: expected one fatal alert or nothing, got {other:02x?}")
            }
        };
        *alerts.entry(kind).or_default() += 1;
    }
    eprintln!("random inputs: {alerts:?}");

    // 5. Still serving, and the abuse cost no memory to speak of.
    exchange(
        addr,
        anyone,
        rng::from_seed(2, "after"),
        &request,
        Duration::from_secs(10),
    )
    .expect("normal client after the abuse");
    let peak = vm_hwm_kib(srv.proc.id());
    eprintln!("server peak RSS: {baseline} KiB after one handshake, {peak} KiB after the abuse");
    assert!(peak < baseline + 8 * 1024, "server peak memory grew from {baseline} KiB to {peak} KiB: something buffered a claimed length");
}

// ---------------------------------------------------------------------------------------------
// RFC 5246 §7.4.7.1: no padding oracle

/// A hand-driven RSA key-transport client up to its first flight: ClientHello out, the
/// server's flight in, with what the rest of the handshake needs.
struct RsaHandshake {
    sock: TcpStream,
    client_random: [u8; 32],
    server_random: [u8; 32],
    transcript: Vec<u8>,
}

const SUITE: Suite = suites::TLS_RSA_WITH_AES_128_GCM_SHA256;

fn start_rsa_handshake(addr: SocketAddr, seed: u64) -> RsaHandshake {
    let mut r = rng::from_seed(seed, "bleichenbacher client");
    let client_random: [u8; 32] = rng::random_array(&mut r);
    let hello = ClientHello {
        client_version: 0x0303,
        random: client_random,
        session_id: vec![],
        cipher_suites: vec![SUITE.id],
        compression_methods: vec![0],
        extensions: vec![
            Extension::renegotiation_info(&[]),
            Extension::empty(ExtensionType::ExtendedMasterSecret),
        ],
    }
    .encode();
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.write_all(&encode_record(
        ContentType::Handshake,
        0x0303,
        &hello.encoded,
    ))
    .expect("send ClientHello");
    let mut transcript = hello.encoded.clone();
    let (mut deframer, mut joiner) = (Deframer::new(), HandshakeJoiner::new());
    let mut server_random = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    'flight: loop {
        assert!(Instant::now() < deadline, "no ServerHelloDone within 10 s");
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let n = sock.read(&mut buf).expect("read the server flight");
        assert!(n > 0, "server closed during its flight");
        deframer.push(&buf[..n]);
        while let Some(rec) = deframer.next_record().expect("server records") {
            assert_eq!(
                rec.content_type,
                ContentType::Handshake,
                "server sent {:?}: {:02x?}",
                rec.content_type,
                rec.payload
            );
            joiner.push(&rec.payload);
            while let Some(m) = joiner.next_message().expect("server handshake") {
                transcript.extend_from_slice(&m.encoded);
                if m.typ == HandshakeType::ServerHello {
                    server_random = Some(ServerHello::read(m.body()).expect("ServerHello").random);
                }
                if m.typ == HandshakeType::ServerHelloDone {
                    break 'flight;
                }
            }
        }
    }
    RsaHandshake {
        sock,
        client_random,
        server_random: server_random.expect("a ServerHello"),
        transcript,
    }
}

/// Sends ClientKeyExchange carrying `encrypted`, checks the server stays silent, then sends
/// ChangeCipherSpec and a Finished computed from `client_premaster`; returns every byte the
/// server sends after that until it closes.
fn finish_with(addr: SocketAddr, seed: u64, encrypted: &[u8], client_premaster: &[u8]) -> Vec<u8> {
    let answer = cke_then_finished(addr, seed, encrypted, client_premaster);
    // RFC 5246 §7.4.7.1: nothing may come back for a ClientKeyExchange, good or bad.
    if let Some(early) = answer.early {
        panic!("the server answered a ClientKeyExchange on its own: {early:02x?}");
    }
    answer.after_finished
}

/// What a server sent back to [`cke_then_finished`].
pub(crate) struct CkeAnswer {
    /// Bytes (maybe none) up to the close, when the server answered or closed within 300 ms of
    /// the ClientKeyExchange, before the client's Finished was sent.
    pub early: Option<Vec<u8>>,
    /// Every byte after the client's ChangeCipherSpec and Finished, up to the close.
    pub after_finished: Vec<u8>,
}

/// An RSA key-transport handshake up to a ClientKeyExchange carrying `encrypted`; then, if the
/// server stays silent for 300 ms, ChangeCipherSpec and a Finished computed from
/// `client_premaster`.
pub(crate) fn cke_then_finished(
    addr: SocketAddr,
    seed: u64,
    encrypted: &[u8],
    client_premaster: &[u8],
) -> CkeAnswer {
    let mut h = start_rsa_handshake(addr, seed);
    let cke = RsaClientKeyExchange {
        encrypted_premaster: encrypted.to_vec(),
    }
    .encode();
    h.sock
        .write_all(&encode_record(ContentType::Handshake, 0x0303, &cke.encoded))
        .expect("send ClientKeyExchange");
    h.transcript.extend_from_slice(&cke.encoded);
    h.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    let mut b = [0u8; 64];
    match h.sock.read(&mut b) {
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
        Ok(n) => {
            let mut early = b.get(..n).unwrap_or_default().to_vec();
            early.extend(read_to_close(&mut h.sock, Duration::from_secs(6)).0);
            return CkeAnswer {
                early: Some(early),
                after_finished: Vec::new(),
            };
        }
        Err(_) => {
            return CkeAnswer {
                early: Some(Vec::new()),
                after_finished: Vec::new(),
            }
        }
    }
    let master = derive_master_secret(
        &SUITE,
        client_premaster,
        true,
        &h.client_random,
        &h.server_random,
        &h.transcript,
    );
    let (mut client_write, _) =
        protectors(&SUITE, &master, &h.client_random, &h.server_random, false).expect("keys");
    let fin = Finished {
        verify_data: verify_data(
            &SUITE,
            &master,
            Side::Client,
            &SUITE.hash.digest(&h.transcript),
        )
        .to_vec(),
    }
    .encode();
    let mut flight = encode_record(ContentType::ChangeCipherSpec, 0x0303, &[1]);
    flight.extend(encode_record(
        ContentType::Handshake,
        0x0303,
        &client_write.seal(ContentType::Handshake, 0x0303, &fin.encoded),
    ));
    h.sock
        .write_all(&flight)
        .expect("send ChangeCipherSpec and Finished");
    let (got, closed) = read_to_close(&mut h.sock, Duration::from_secs(6));
    assert!(
        closed.is_some() || !got.is_empty(),
        "no answer to the client's Finished"
    );
    CkeAnswer {
        early: None,
        after_finished: got,
    }
}

/// m^e mod n for a 65537 exponent: textbook RSA with no padding, for blocks the PKCS#1
/// encoder refuses to make.
pub(crate) fn raw_rsa(public: &rsa::PublicKey, block: &[u8]) -> Vec<u8> {
    let n = public.n();
    assert_eq!(
        public.e().to_be_bytes_trimmed_vartime().as_ref(),
        &[1, 0, 1],
        "exponent 65537 expected"
    );
    let m = BoxedUint::from_be_slice(block, n.bits_precision()).expect("block fits the modulus");
    let mut c = m.clone();
    for _ in 0..16 {
        c = c.square_mod(n);
    }
    c = c.mul_mod(&m, n);
    let bytes = c.to_be_bytes();
    let k = block.len();
    bytes[bytes.len() - k..].to_vec()
}

/// A ClientKeyExchange with bad PKCS#1 padding (or no decryptable premaster at all) draws
/// exactly the bytes one with good padding and a wrong premaster does: no alert at the
/// ClientKeyExchange, then one bad_record_mac alert at the client's Finished (its keys differ
/// from the server's), then a close.
#[test]
fn bad_pkcs1_padding_draws_the_same_response_as_a_wrong_premaster() {
    let _turn = exclusive();
    let handle = start_server(Duration::from_secs(10), 64);
    let addr = handle.local_addr;
    let public = rsa::PublicKey::from(&*identity().key);
    let k = pki::modulus_bits(&public).div_ceil(8);
    let mut r = rng::from_seed(3, "bleichenbacher variants");
    let premaster = |r: &mut rng::LabRng, version: [u8; 2]| {
        let mut p: [u8; 48] = rng::random_array(r);
        p[..2].copy_from_slice(&version);
        p.to_vec()
    };
    let client_premaster = premaster(&mut r, [3, 3]);

    // Control: the right premaster finishes the handshake (ChangeCipherSpec comes back).
    let good = pki::rsa_encrypt_pkcs1(&public, &client_premaster, &mut r).expect("encrypt");
    let answer = finish_with(addr, 100, &good, &client_premaster);
    assert!(
        answer.starts_with(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]),
        "the control handshake failed: {answer:02x?}"
    );

    // The reference: good padding, wrong premaster.
    let wrong = premaster(&mut r, [3, 3]);
    let reference = finish_with(
        addr,
        101,
        &pki::rsa_encrypt_pkcs1(&public, &wrong, &mut r).expect("encrypt"),
        &client_premaster,
    );
    assert_eq!(
        reference,
        fatal_alert(20),
        "wrong premaster: expected one bad_record_mac alert"
    );

    let nonzero = |r: &mut rng::LabRng, n: usize| -> Vec<u8> {
        (0..n).map(|_| r.random_range(1..=255u8)).collect()
    };
    let mut variants: Vec<(&str, Vec<u8>)> = vec![
        (
            "good padding, wrong version",
            pki::rsa_encrypt_pkcs1(&public, &premaster(&mut r, [3, 1]), &mut r).expect("encrypt"),
        ),
        (
            "good padding, 47-byte message",
            pki::rsa_encrypt_pkcs1(&public, &wrong[..47], &mut r).expect("encrypt"),
        ),
        (
            "good padding, 49-byte message",
            pki::rsa_encrypt_pkcs1(&public, &[&wrong[..], &[0]].concat(), &mut r).expect("encrypt"),
        ),
        (
            "good padding, empty message",
            pki::rsa_encrypt_pkcs1(&public, &[], &mut r).expect("encrypt"),
        ),
    ];
    // Bad padding, made with raw RSA.
    let mut no_separator = vec![0x00, 0x02];
    no_separator.extend(nonzero(&mut r, k - 2));
    variants.push((
        "bad padding: no zero separator",
        raw_rsa(&public, &no_separator),
    ));
    let mut block_type_1 = vec![0x00, 0x01];
    block_type_1.extend(vec![0xff; k - 3 - 48]);
    block_type_1.push(0x00);
    block_type_1.extend_from_slice(&wrong);
    variants.push((
        "bad padding: block type 01",
        raw_rsa(&public, &block_type_1),
    ));
    let mut first_byte_nonzero = vec![0x01, 0x02];
    first_byte_nonzero.extend(nonzero(&mut r, k - 3 - 48));
    first_byte_nonzero.push(0x00);
    first_byte_nonzero.extend_from_slice(&wrong);
    // Below n as long as n's top byte exceeds 1, which a 2048-bit modulus's always does.
    variants.push((
        "bad padding: leading byte 01",
        raw_rsa(&public, &first_byte_nonzero),
    ));
    let mut short_padding = vec![0x00, 0x02];
    short_padding.extend(nonzero(&mut r, 4));
    short_padding.push(0x00);
    short_padding.extend(nonzero(&mut r, k - 7));
    variants.push((
        "bad padding: 4 padding bytes",
        raw_rsa(&public, &short_padding),
    ));
    let mut random_block = vec![0x00];
    random_block.extend(nonzero(&mut r, k - 1));
    variants.push((
        "bad padding: random integer",
        raw_rsa(&public, &random_block),
    ));
    // Not RSA ciphertexts for this key at all.
    let fine = pki::rsa_encrypt_pkcs1(&public, &wrong, &mut r).expect("encrypt");
    variants.push(("ciphertext one byte short", fine[1..].to_vec()));
    variants.push(("ciphertext one byte long", [&[0u8][..], &fine].concat()));
    variants.push(("ciphertext not below the modulus", vec![0xff; k]));
    variants.push(("empty ciphertext", vec![]));

    for (i, (name, encrypted)) in variants.iter().enumerate() {
        let answer = finish_with(addr, 200 + i as u64, encrypted, &client_premaster);
        assert_eq!(answer, reference, "{name}: the server's answer differs from the wrong-premaster answer (a padding oracle)");
    }
}
