//! The capture layer on files, judged by tshark and the pcap-file crate: the writer's output
//! reads cleanly and decodes to the bytes written, tshark's pcapng conversion reads the same,
//! stream numbers of a reused 4-tuple agree with tshark's, and a capture being written is
//! readable. `tap` runs the recording relay on sockets.

#[path = "../../../src/capture/tests/fixtures.rs"]
pub mod fixtures;
mod tap;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use pfslab::capture::*;

use crate::common::{assert_tshark_clean, follow, path_str, require_tool, run, tshark, TestDir};
use fixtures::{pattern, read_all, sa, C, S};

/// tshark sees no malformed packet, no warning or error and no TCP analysis flag
/// (retransmission, lost segment, …) in the capture, only TCP; returns its tcp.streams.
fn tshark_clean(path: &Path) -> BTreeSet<u64> {
    let overview = assert_tshark_clean(path, &[]);
    overview
        .rows
        .iter()
        .map(|r| {
            assert!(r.tcp_analysis.is_empty(), "tcp analysis flags: {r:?}");
            r.stream
                .unwrap_or_else(|| panic!("a packet that is not TCP: {r:?}"))
        })
        .collect()
}

/// Both directions of tcp.stream `n` as tshark's `follow,tcp,raw` reports them: the bytes of
/// the side that opened the connection, then the other side's.
fn tshark_follow(path: &Path, n: u64) -> (Vec<u8>, Vec<u8>) {
    let f = follow(path, &[], "tcp", &[n])
        .remove(&n)
        .expect("a follow block for the stream");
    (f.first, f.second)
}

/// Reads a capture with our reader and reassembler.
fn reassemble(path: &Path) -> (Vec<Connection>, SkipStats) {
    let mut r = SegmentReader::open(path).expect("open capture");
    let mut asm = Reassembler::default();
    let mut done = Vec::new();
    while let Some(seg) = r.next_segment() {
        asm.push(&seg.expect("segment"));
        while let Some(c) = asm.pop_finished() {
            done.push(c);
        }
    }
    done.extend(asm.end_of_capture());
    done.sort_by_key(|c| c.stream);
    (done, r.stats().clone())
}

fn write_two_conversations(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut w = PcapWriter::create(path).expect("create");
    let t0 = Duration::from_secs(1_700_000_000);
    let mut a = TcpConversation::new(sa("10.0.0.2:40000"), sa("10.0.0.1:443"), 0xffff_ff00, 1000);
    let mut b = TcpConversation::new(sa("10.0.0.3:40001"), sa("10.0.0.1:443"), 7, 0x8000_0000);
    let a_up = [b"hello".to_vec(), pattern(5000, 1)].concat();
    let a_down = pattern(100_000, 2);
    let b_up = pattern(3000, 3);
    let b_down = b"world".to_vec();
    let ms = |n| t0 + Duration::from_millis(n);
    a.handshake(&mut w, ms(0)).unwrap();
    b.handshake(&mut w, ms(1)).unwrap();
    a.data(&mut w, Direction::ClientToServer, b"hello", ms(2))
        .unwrap();
    b.data(&mut w, Direction::ClientToServer, &b_up, ms(3))
        .unwrap();
    a.data(&mut w, Direction::ClientToServer, &a_up[5..], ms(4))
        .unwrap();
    a.data(&mut w, Direction::ServerToClient, &a_down, ms(5))
        .unwrap();
    b.data(&mut w, Direction::ServerToClient, &b_down, ms(6))
        .unwrap();
    a.fin(&mut w, Direction::ClientToServer, ms(7)).unwrap();
    b.fin(&mut w, Direction::ServerToClient, ms(8)).unwrap();
    a.fin(&mut w, Direction::ServerToClient, ms(9)).unwrap();
    b.fin(&mut w, Direction::ClientToServer, ms(10)).unwrap();
    assert!(path.with_extension("pcap.partial").exists() || !path.exists());
    w.finish().unwrap();
    vec![(a_up, a_down), (b_up, b_down)]
}

#[test]
fn writer_output_is_clean_for_tshark_and_our_reader() {
    let dir = TestDir::new("capture-writer");
    let path = dir.join("two.pcap");
    let expected = write_two_conversations(&path);
    assert!(path.exists());
    assert!(!dir.join("two.pcap.partial").exists());

    let (conns, stats) = reassemble(&path);
    assert_eq!(stats.total(), 0);
    assert_eq!(conns.len(), 2);
    for (c, (up, down)) in conns.iter().zip(&expected) {
        assert_eq!(c.end, Some(EndReason::Fin));
        assert_eq!(c.to_server.contiguous(), &up[..]);
        assert_eq!(c.to_client.contiguous(), &down[..]);
        assert!(c.to_server.gaps().is_empty() && c.to_client.gaps().is_empty());
    }

    let streams = tshark_clean(&path);
    assert_eq!(streams, BTreeSet::from([0, 1]));
    for (n, (up, down)) in expected.iter().enumerate() {
        let (c2s, s2c) = tshark_follow(&path, n as u64);
        assert_eq!(&c2s, up, "stream {n} client bytes");
        assert_eq!(&s2c, down, "stream {n} server bytes");
    }
}

#[test]
fn our_reader_agrees_with_pcap_file_on_writer_output() {
    let dir = TestDir::new("capture-agree");
    let path = dir.join("two.pcap");
    write_two_conversations(&path);
    let bytes = std::fs::read(&path).unwrap();
    let (ours, err) = read_all(&bytes);
    assert!(err.is_none());
    let mut theirs = pcap_file::pcap::PcapReader::new(&bytes[..]).unwrap();
    let mut n = 0;
    while let Some(p) = theirs.next_packet() {
        let p = p.unwrap();
        assert_eq!(ours[n].1, p.timestamp);
        assert_eq!(ours[n].4, &p.data[..]);
        n += 1;
    }
    assert_eq!(n, ours.len());
}

#[test]
fn tshark_pcapng_conversion_reads_the_same() {
    let dir = TestDir::new("capture-editcap");
    let path = dir.join("two.pcap");
    let expected = write_two_conversations(&path);
    let ng = dir.join("two.pcapng");
    require_tool("editcap", "wireshark-common");
    let mut editcap = Command::new("editcap");
    editcap.args(["-F", "pcapng", path_str(&path), path_str(&ng)]);
    let done = run(editcap, b"");
    assert!(done.status.success(), "editcap: {}", done.describe());
    let (conns, _) = reassemble(&ng);
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].to_client.contiguous(), &expected[0].1[..]);
    let (a, _) = read_all(&std::fs::read(&path).unwrap());
    let (b, _) = read_all(&std::fs::read(&ng).unwrap());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.1, &x.4), (y.1, &y.4));
    }
}

#[test]
fn reused_tuple_matches_tshark_stream_numbers() {
    let dir = TestDir::new("capture-reuse");
    let path = dir.join("reuse.pcap");
    let mut w = PcapWriter::create(&path).unwrap();
    let t = Duration::from_secs(1_700_000_000);
    for (i, isn) in [1000u32, 900_000, 5].into_iter().enumerate() {
        let mut c =
            TcpConversation::new(sa("10.0.0.2:40000"), sa("10.0.0.1:443"), isn, isn ^ 0x5555);
        let t = t + Duration::from_secs(i as u64);
        c.handshake(&mut w, t).unwrap();
        c.data(&mut w, Direction::ClientToServer, &pattern(10 + i, 1), t)
            .unwrap();
        c.fin(&mut w, Direction::ClientToServer, t).unwrap();
        c.fin(&mut w, Direction::ServerToClient, t).unwrap();
    }
    w.finish().unwrap();
    let (conns, _) = reassemble(&path);
    assert_eq!(
        conns.iter().map(|c| c.stream).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    for (i, c) in conns.iter().enumerate() {
        assert_eq!(c.to_server.contiguous(), &pattern(10 + i, 1)[..]);
        // The final ACK comes after the connection was handed out.
        assert_eq!(c.packets, 8);
    }
    // Per-packet stream numbers agree with ours.
    let out = tshark(&path, &[], &["-T", "fields", "-e", "tcp.stream"]);
    let theirs: Vec<u64> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
    for c in &conns {
        for n in c.first_packet..=c.last_packet {
            assert_eq!(theirs[n as usize - 1], c.stream, "frame {n}");
        }
    }
    assert_eq!(theirs.iter().max(), Some(&2));
}

#[test]
fn partial_file_is_readable_while_writing_and_never_renamed_without_finish() {
    let dir = TestDir::new("capture-partial");
    let path = dir.join("p.pcap");
    let w = PcapWriter::create(&path).unwrap().shared();
    let mut handles = Vec::new();
    for i in 0..4u16 {
        let w = std::sync::Arc::clone(&w);
        handles.push(thread::spawn(move || {
            let mut c = TcpConversation::new(
                SocketAddr::new(sa(C).ip(), 2000 + i),
                sa(S),
                u32::from(i) * 1000,
                9,
            );
            let t = Duration::from_secs(1_700_000_000);
            c.handshake(&mut w.lock().unwrap(), t).unwrap();
            c.data(
                &mut w.lock().unwrap(),
                Direction::ClientToServer,
                &pattern(2000, u32::from(i)),
                t,
            )
            .unwrap();
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    // Flushed per call: another reader sees every packet of the .partial file now.
    let (pkts, err) = read_all(&std::fs::read(dir.join("p.pcap.partial")).unwrap());
    assert!(err.is_none());
    assert_eq!(pkts.len(), 4 * (3 + 2 + 1));
    drop(w);
    assert!(
        !path.exists(),
        "an unfinished capture must not appear under its final name"
    );
    let (conns, _) = reassemble(&dir.join("p.pcap.partial"));
    assert_eq!(conns.len(), 4);
    for c in &conns {
        let i = u32::from(c.client.port() - 2000);
        assert_eq!(c.to_server.contiguous(), &pattern(2000, i)[..]);
    }
}
