//! The tap (`pfslab::lab::tap`) in process, on sockets: it relays and records two concurrent
//! clients, its deterministic mode is byte-identical, a refusing upstream and a missing
//! output directory are handled, and stopping it closes idle connections.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use pfslab::capture::{CaptureError, EndReason, SegmentReader};
use pfslab::lab::tap::*;

use super::fixtures::{pattern, sa};
use super::{reassemble, tshark_clean, tshark_follow};
use crate::common::TestDir;

/// Upstream that answers every chunk with "echo:" + chunk, until EOF, then closes.
/// Serves `n` connections, then its thread ends.
fn echo_upstream(n: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        let mut hs = Vec::new();
        for _ in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            hs.push(thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut buf = [0u8; 4096];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            let mut reply = b"echo:".to_vec();
                            reply.extend_from_slice(&buf[..k]);
                            if s.write_all(&reply).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = s.shutdown(Shutdown::Write);
            }));
        }
        for h in hs {
            let _ = h.join();
        }
    });
    (addr, h)
}

/// Sends `msgs` one by one, waiting for each echo; returns all bytes received.
fn client(tap: SocketAddr, msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut s = TcpStream::connect(tap).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    for m in msgs {
        s.write_all(m).unwrap();
        let want = got.len() + 5 + m.len();
        let mut buf = [0u8; 4096];
        while got.len() < want {
            let k = s.read(&mut buf).unwrap();
            assert!(k > 0, "early EOF");
            got.extend_from_slice(&buf[..k]);
        }
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    got.extend(rest);
    got
}

fn expected_echo(msgs: &[Vec<u8>]) -> Vec<u8> {
    msgs.iter()
        .flat_map(|m| [b"echo:".to_vec(), m.clone()].concat())
        .collect()
}

#[test]
fn tap_relays_and_records_two_concurrent_clients() {
    let dir = TestDir::new("tap-relay");
    let out = dir.join("tap.pcap");
    let (up, up_thread) = echo_upstream(2);
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let tap = Tap::with_listener(l, TapConfig::new(sa("127.0.0.1:0"), up, &out)).unwrap();
    let addr = tap.local_addr();
    let msgs_a: Vec<Vec<u8>> = vec![b"GET /a".to_vec(), pattern(3000, 1), b"bye".to_vec()];
    let msgs_b: Vec<Vec<u8>> = vec![pattern(100, 2), pattern(2000, 3)];
    let (ma, mb) = (msgs_a.clone(), msgs_b.clone());
    let ta = thread::spawn(move || client(addr, &ma));
    let tb = thread::spawn(move || client(addr, &mb));
    assert_eq!(ta.join().unwrap(), expected_echo(&msgs_a));
    assert_eq!(tb.join().unwrap(), expected_echo(&msgs_b));
    assert!(tap.wait_idle(2, Duration::from_secs(10)));
    // While running, the capture is only the .partial file.
    assert!(!out.exists() && dir.join("tap.pcap.partial").exists());
    let summary = tap.stop().unwrap();
    up_thread.join().unwrap();
    assert_eq!((summary.relayed, summary.refused), (2, 0));
    assert_eq!(summary.path, out);

    let (conns, _) = reassemble(&out);
    assert_eq!(conns.len(), 2);
    let mut seen: Vec<(Vec<u8>, Vec<u8>)> = conns
        .iter()
        .map(|c| {
            (
                c.to_server.contiguous().to_vec(),
                c.to_client.contiguous().to_vec(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        (msgs_a.concat(), expected_echo(&msgs_a)),
        (msgs_b.concat(), expected_echo(&msgs_b)),
    ];
    want.sort();
    assert_eq!(seen, want);
    for c in &conns {
        assert_eq!(c.end, Some(EndReason::Fin));
        assert_eq!(c.server, up);
    }
    assert_eq!(tshark_clean(&out), BTreeSet::from([0, 1]));
    for c in &conns {
        let (c2s, s2c) = tshark_follow(&out, c.stream);
        assert_eq!(c2s, c.to_server.contiguous());
        assert_eq!(s2c, c.to_client.contiguous());
    }
}

/// A TLS-looking record: type 23, version 3.3, length, body.
fn record(len: usize, seed: u32) -> Vec<u8> {
    let mut r = vec![23, 3, 3, (len >> 8) as u8, len as u8];
    r.extend(pattern(len, seed));
    r
}

/// Upstream that reads until EOF, then answers with TLS-like records written in small
/// pieces, then closes. Serves `n` connections one after another.
fn tls_sink_upstream(n: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        for i in 0..n {
            let Ok((mut s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut all = Vec::new();
            let _ = s.read_to_end(&mut all);
            let reply = [record(40, 100 + i as u32), record(5000, 200 + i as u32)].concat();
            for piece in reply.chunks(999) {
                let _ = s.write_all(piece);
                thread::sleep(Duration::from_millis(2));
            }
        }
    });
    (addr, h)
}

/// One deterministic-mode run: two sequential clients writing TLS-like records in
/// pieces of `split` bytes; returns the capture's SHA-256, its path and the directory that
/// holds it.
fn deterministic_run(name: &str, split: usize) -> (Vec<u8>, PathBuf, TestDir) {
    use sha2::{Digest, Sha256};
    let dir = TestDir::new(&format!("tap-{name}"));
    let out = dir.join("det.pcap");
    let (up, up_thread) = tls_sink_upstream(2);
    let mut cfg = TapConfig::new(sa("127.0.0.1:0"), up, &out);
    cfg.mode = TapMode::Deterministic(DeterministicConfig::new(
        42,
        Duration::from_secs(1_700_000_000),
    ));
    let tap = Tap::with_listener(TcpListener::bind("127.0.0.1:0").unwrap(), cfg).unwrap();
    for i in 0..2u32 {
        let mut s = TcpStream::connect(tap.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let recs: Vec<u8> = [record(300, i), record(2000, i + 10), record(17, i + 20)].concat();
        // Pauses make the tap see the pieces as separate reads.
        for piece in recs.chunks(split) {
            s.write_all(piece).unwrap();
            thread::sleep(Duration::from_millis(3));
        }
        s.shutdown(Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        s.read_to_end(&mut reply).unwrap();
        assert_eq!(reply.len(), 45 + 5005);
        assert!(tap.wait_idle(u64::from(i) + 1, Duration::from_secs(10)));
    }
    tap.stop().unwrap();
    up_thread.join().unwrap();
    let bytes = std::fs::read(&out).unwrap();
    (Sha256::digest(&bytes).to_vec(), out, dir)
}

#[test]
fn tap_deterministic_mode_is_byte_identical() {
    // Different read chunking, same file: data is cut at TLS record boundaries.
    let (h1, p1, _dir1) = deterministic_run("det1", 700);
    let (h2, _, _dir2) = deterministic_run("det2", 1100);
    assert_eq!(h1, h2, "two runs, same bytes");
    let (conns, _) = reassemble(&p1);
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].client, sa("10.0.0.2:40000"));
    assert_eq!(conns[1].client, sa("10.0.0.2:40001"));
    assert_eq!(conns[0].server, sa("10.0.0.1:443"));
    assert_eq!(conns[0].first_ts, Duration::from_secs(1_700_000_000));
    assert_eq!(
        conns[0].to_server.contiguous(),
        &[record(300, 0), record(2000, 10), record(17, 20)].concat()[..]
    );
    // One run of segments per record: 305 | 1460 + 545 | 22 bytes.
    let mut r = SegmentReader::open(&p1).unwrap();
    let mut sizes = Vec::new();
    while let Some(s) = r.next_segment() {
        let s = s.unwrap();
        if s.src == sa("10.0.0.2:40000") && !s.payload.is_empty() {
            sizes.push(s.payload.len());
        }
    }
    assert_eq!(sizes, vec![305, 1460, 545, 22]);
    assert_eq!(tshark_clean(&p1), BTreeSet::from([0, 1]));
}

#[test]
fn tap_upstream_refusing_is_handled() {
    let dir = TestDir::new("tap-refuse");
    let out = dir.join("r.pcap");
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let up = closed.local_addr().unwrap();
    drop(closed);
    let tap = Tap::with_listener(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TapConfig::new(sa("127.0.0.1:0"), up, &out),
    )
    .unwrap();
    let mut s = TcpStream::connect(tap.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    let r = s.read(&mut buf);
    assert!(matches!(r, Ok(0)) || r.is_err(), "client closed: {r:?}");
    assert!(tap.wait_idle(1, Duration::from_secs(10)));
    let summary = tap.stop().unwrap();
    assert_eq!(
        (summary.relayed, summary.refused, summary.packets),
        (0, 1, 0)
    );
    let (conns, _) = reassemble(&out);
    assert!(conns.is_empty());
}

#[test]
fn tap_output_in_missing_directory_fails_at_start() {
    let dir = TestDir::new("tap-missing");
    let out = dir.join("no/such/dir/x.pcap");
    let err = Tap::with_listener(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        TapConfig::new(sa("127.0.0.1:0"), sa("127.0.0.1:9"), &out),
    )
    .err()
    .unwrap();
    let msg = err.to_string();
    assert!(matches!(err, CaptureError::Io { op: "create", .. }));
    assert!(msg.contains("no/such/dir/x.pcap.partial"), "{msg}");
}

#[test]
fn tap_stop_closes_idle_connections_and_records_teardown() {
    let dir = TestDir::new("tap-stop");
    let out = dir.join("s.pcap");
    let (up, up_thread) = echo_upstream(1);
    let mut cfg = TapConfig::new(sa("127.0.0.1:0"), up, &out);
    cfg.stop_grace = Duration::from_millis(200);
    let tap = Tap::with_listener(TcpListener::bind("127.0.0.1:0").unwrap(), cfg).unwrap();
    let mut s = TcpStream::connect(tap.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"ping").unwrap();
    let mut buf = [0u8; 9];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"echo:ping");
    let summary = tap.stop().unwrap();
    assert_eq!(summary.relayed, 1);
    // The tap closed the client: EOF.
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0);
    drop(s);
    up_thread.join().unwrap();
    let (conns, _) = reassemble(&out);
    assert_eq!(conns[0].end, Some(EndReason::Fin));
    assert_eq!(conns[0].to_server.contiguous(), b"ping");
    assert_eq!(tshark_clean(&out), BTreeSet::from([0]));
}
