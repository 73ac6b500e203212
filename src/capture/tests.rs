//! Cross-module tests: writer → tshark, reader → reassembly, tap end to end.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::*;

static DIRS: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under the system temp dir.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let n = DIRS.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("pfslab-capture-{}-{n}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub(crate) fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address literal")
}

/// Deterministic test bytes.
pub(crate) fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn tshark(args: &[&str]) -> Option<String> {
    let out = Command::new("tshark").args(args).output().ok()?;
    assert!(
        out.status.success(),
        "tshark {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// tshark sees no malformed packet, no warning or error, and these tcp.streams.
pub(crate) fn tshark_clean(path: &Path) -> Option<BTreeSet<u64>> {
    let p = path.to_str()?;
    let expert = tshark(&["-r", p, "-q", "-z", "expert"])?;
    assert!(
        !expert.contains("Errors (") && !expert.contains("Warnings ("),
        "tshark expert:\n{expert}"
    );
    let fields = tshark(&[
        "-r",
        p,
        "-T",
        "fields",
        "-e",
        "_ws.malformed",
        "-e",
        "tcp.stream",
        "-e",
        "tcp.analysis.flags",
    ])?;
    let mut streams = BTreeSet::new();
    for line in fields.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "line {line:?}");
        assert!(cols[0].is_empty(), "malformed: {line:?}");
        assert!(cols[2].is_empty(), "tcp analysis flags: {line:?}");
        streams.insert(cols[1].parse::<u64>().expect("stream number"));
    }
    Some(streams)
}

/// Both directions of tcp.stream `n` as tshark's `follow,tcp,raw` reports them.
pub(crate) fn tshark_follow(path: &Path, n: u64) -> Option<(Vec<u8>, Vec<u8>)> {
    let p = path.to_str()?;
    let out = tshark(&["-r", p, "-q", "-z", &format!("follow,tcp,raw,{n}")])?;
    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let mut in_body = false;
    for line in out.lines() {
        if line.starts_with("Node 1:") {
            in_body = true;
            continue;
        }
        if !in_body || line.starts_with("=====") || line.trim().is_empty() {
            continue;
        }
        let (dst, hex) = match line.strip_prefix('\t') {
            Some(h) => (&mut s2c, h),
            None => (&mut c2s, line),
        };
        let hex = hex.trim();
        for i in (0..hex.len()).step_by(2) {
            dst.push(u8::from_str_radix(&hex[i..i + 2], 16).expect("hex from tshark"));
        }
    }
    Some((c2s, s2c))
}

pub(crate) fn have_tshark() -> bool {
    let ok = Command::new("tshark")
        .arg("-v")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("tshark not installed: skipping its checks");
    }
    ok
}

/// Reads a capture with our reader and reassembler.
pub(crate) fn reassemble(path: &Path) -> (Vec<Connection>, SkipStats) {
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
    let dir = temp_dir("writer");
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

    if have_tshark() {
        let streams = tshark_clean(&path).unwrap();
        assert_eq!(streams, BTreeSet::from([0, 1]));
        for (n, (up, down)) in expected.iter().enumerate() {
            let (c2s, s2c) = tshark_follow(&path, n as u64).unwrap();
            assert_eq!(&c2s, up, "stream {n} client bytes");
            assert_eq!(&s2c, down, "stream {n} server bytes");
        }
    }
}

// ---------------------------------------------------------------- reader

/// A raw IPv4/TCP packet (no link layer) with `payload`.
fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    etherparse::PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(1234, 443, 1000, 65535)
        .ack(55)
        .psh()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let mut src = [0u8; 16];
    src[15] = 1;
    let mut dst = [0u8; 16];
    dst[15] = 2;
    etherparse::PacketBuilder::ipv6(src, dst, 64)
        .tcp(1234, 443, 1000, 65535)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// Classic pcap bytes with the given magic order/resolution, one record per frame.
fn pcap_bytes(big_endian: bool, nanos: bool, link: u32, frames: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let u32b = |x: u32| {
        if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    let u16b = |x: u16| {
        if big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    };
    let mut v = Vec::new();
    v.extend(u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    v.extend(u16b(2));
    v.extend(u16b(4));
    v.extend([0u8; 8]);
    v.extend(u32b(65535));
    v.extend(u32b(link));
    for (s, f, d) in frames {
        v.extend(u32b(*s));
        v.extend(u32b(*f));
        v.extend(u32b(d.len() as u32));
        v.extend(u32b(d.len() as u32 + 10));
        v.extend_from_slice(d);
    }
    v
}

type Packets = Vec<(u64, Duration, LinkType, u32, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> (Packets, Option<CaptureError>) {
    let mut out = Vec::new();
    let mut r = match CaptureReader::new(bytes, "mem.pcap") {
        Ok(r) => r,
        Err(e) => return (out, Some(e)),
    };
    let mut err = None;
    while let Some(p) = r.next_packet() {
        match p {
            Ok(p) => out.push((p.number, p.ts, p.link, p.interface, p.data.to_vec())),
            Err(e) => err = Some(e),
        }
    }
    (out, err)
}

#[test]
fn reads_pcap_in_both_byte_orders_and_resolutions() {
    let ip = ipv4_tcp(b"abc");
    for be in [false, true] {
        for ns in [false, true] {
            let bytes = pcap_bytes(be, ns, 228, &[(10, 500, &ip), (11, 7, &ip)]);
            let (pkts, err) = read_all(&bytes);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(pkts.len(), 2);
            let frac = if ns { 500 } else { 500_000 };
            assert_eq!(pkts[0].1, Duration::new(10, frac));
            assert_eq!(pkts[1].0, 2);
            assert_eq!(pkts[0].2, LinkType::IPV4);
            assert_eq!(pkts[0].4, ip);
        }
    }
}

struct Ng {
    be: bool,
    v: Vec<u8>,
}

impl Ng {
    fn u32(&self, x: u32) -> [u8; 4] {
        if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }
    fn u16(&self, x: u16) -> [u8; 2] {
        if self.be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        }
    }
    fn block(&mut self, t: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let (a, b) = (self.u32(t), self.u32(len));
        self.v.extend(a);
        self.v.extend(b);
        self.v.extend(body);
        self.v.extend(b);
    }
    fn shb(&mut self) {
        let mut b = Vec::new();
        b.extend(self.u32(0x1a2b_3c4d));
        b.extend(self.u16(1));
        b.extend(self.u16(0));
        b.extend([0xff; 8]);
        self.block(0x0a0d_0d0a, &b);
    }
    fn idb(&mut self, link: u16, tsresol: Option<u8>) {
        let mut b = Vec::new();
        b.extend(self.u16(link));
        b.extend([0, 0]);
        b.extend(self.u32(0));
        // if_name option (skipped), then if_tsresol, then end of options.
        b.extend(self.u16(2));
        b.extend(self.u16(3));
        b.extend(*b"lo\0\0");
        if let Some(r) = tsresol {
            b.extend(self.u16(9));
            b.extend(self.u16(1));
            b.extend([r, 0, 0, 0]);
        }
        b.extend([0, 0, 0, 0]);
        self.block(1, &b);
    }
    fn epb(&mut self, iface: u32, units: u64, data: &[u8]) {
        let mut b = Vec::new();
        b.extend(self.u32(iface));
        b.extend(self.u32((units >> 32) as u32));
        b.extend(self.u32(units as u32));
        b.extend(self.u32(data.len() as u32));
        b.extend(self.u32(data.len() as u32));
        b.extend_from_slice(data);
        while b.len() % 4 != 0 {
            b.push(0);
        }
        self.block(6, &b);
    }
    fn spb(&mut self, data: &[u8]) {
        let mut b = self.u32(data.len() as u32).to_vec();
        b.extend_from_slice(data);
        self.block(3, &b);
    }
}

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend(ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn sample_pcapng(be: bool) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ip4 = ipv4_tcp(b"four");
    let ip6 = ipv6_tcp(b"six");
    let mut ng = Ng { be, v: Vec::new() };
    ng.shb();
    ng.idb(1, Some(9)); // Ethernet, nanoseconds
    ng.idb(229, None); // raw IPv6, default microseconds
    ng.block(4, &[0, 0, 0, 0]); // name resolution block: skipped
    ng.block(0x0bad, &[1, 2, 3, 4, 5, 6, 7, 8]); // unknown block: skipped
    ng.epb(0, 1_500_000_000_123_456_789, &eth(0x0800, &ip4));
    ng.epb(1, 1_500_000_000_654_321, &ip6);
    ng.spb(&eth(0x0800, &ip4));
    (ng.v, ip4, ip6)
}

#[test]
fn reads_pcapng_with_several_interfaces() {
    for be in [false, true] {
        let (bytes, ip4, ip6) = sample_pcapng(be);
        let (pkts, err) = read_all(&bytes);
        assert!(err.is_none(), "{err:?}");
        assert_eq!(pkts.len(), 3);
        assert_eq!(pkts[0].1, Duration::new(1_500_000_000, 123_456_789));
        assert_eq!(pkts[0].2, LinkType::ETHERNET);
        assert_eq!(pkts[1].1, Duration::new(1_500_000_000, 654_321_000));
        assert_eq!(pkts[1].2, LinkType::IPV6);
        assert_eq!(pkts[1].3, 1);
        assert_eq!(pkts[1].4, ip6);
        assert_eq!(pkts[2].4, eth(0x0800, &ip4));
        // And down to TCP.
        let mut r = SegmentReader::new(CaptureReader::new(&bytes[..], "mem.pcapng").unwrap());
        let mut payloads = Vec::new();
        while let Some(s) = r.next_segment() {
            payloads.push(s.unwrap().payload.to_vec());
        }
        assert_eq!(
            payloads,
            vec![b"four".to_vec(), b"six".to_vec(), b"four".to_vec()]
        );
    }
}

/// Every cut of a capture yields the whole packets before the cut, then a truncation
/// error unless the cut falls on a record boundary; never a panic.
fn check_every_cut(bytes: &[u8], boundaries: &[usize], header_len: usize) {
    let (all, err) = read_all(bytes);
    assert!(err.is_none());
    for cut in 0..bytes.len() {
        let (pkts, err) = read_all(&bytes[..cut]);
        let whole = boundaries.iter().filter(|b| **b <= cut).count();
        assert_eq!(pkts.len(), whole, "cut {cut}");
        assert_eq!(&pkts[..], &all[..whole], "cut {cut}");
        let on_boundary = boundaries.contains(&cut) || cut == header_len;
        match err {
            None => assert!(on_boundary, "cut {cut}: no error"),
            Some(CaptureError::Truncated { .. }) => assert!(!on_boundary, "cut {cut}"),
            Some(e) => panic!("cut {cut}: unexpected {e}"),
        }
    }
}

#[test]
fn truncated_pcap_at_every_length() {
    let ip = ipv4_tcp(b"some payload");
    let bytes = pcap_bytes(false, false, 228, &[(1, 2, &ip), (3, 4, &ip), (5, 6, &ip)]);
    let rec = 16 + ip.len();
    check_every_cut(&bytes, &[24 + rec, 24 + 2 * rec, 24 + 3 * rec], 24);
    let e = read_all(&bytes[..30]).1.unwrap().to_string();
    assert!(
        e.contains("mem.pcap") && e.contains("packet 1") && e.contains("offset 24"),
        "{e}"
    );
}

#[test]
fn truncated_pcapng_at_every_length() {
    let (bytes, _, _) = sample_pcapng(false);
    // Packet blocks end at these offsets; the header is SHB+IDBs (no packet yet).
    let mut ends = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let t = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let l = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        at += l;
        ends.push((t, at));
    }
    let packets: Vec<usize> = ends
        .iter()
        .filter(|(t, _)| *t == 6 || *t == 3)
        .map(|(_, e)| *e)
        .collect();
    let non_packet: Vec<usize> = ends
        .iter()
        .filter(|(t, _)| *t != 6 && *t != 3)
        .map(|(_, e)| *e)
        .collect();
    let (all, _) = read_all(&bytes);
    for cut in 0..bytes.len() {
        let (pkts, err) = read_all(&bytes[..cut]);
        let whole = packets.iter().filter(|b| **b <= cut).count();
        assert_eq!(&pkts[..], &all[..whole], "cut {cut}");
        let boundary = packets.contains(&cut) || non_packet.contains(&cut);
        match err {
            None => assert!(boundary, "cut {cut}"),
            Some(CaptureError::Truncated { .. }) => assert!(!boundary, "cut {cut}"),
            Some(e) => panic!("cut {cut}: {e}"),
        }
    }
}

/// pcap-file 2.0.0 on the same cuts: it must not panic. Its reader reports an io
/// UnexpectedEof at a cut inside a record (which is why ours does its own reading).
#[test]
fn pcap_file_crate_survives_every_cut() {
    let ip = ipv4_tcp(b"some payload");
    let bytes = pcap_bytes(true, false, 1, &[(1, 2, &ip), (3, 4, &ip)]);
    for cut in 0..bytes.len() {
        let res = std::panic::catch_unwind(|| {
            let mut n = 0;
            if let Ok(mut r) = pcap_file::pcap::PcapReader::new(&bytes[..cut]) {
                while let Some(p) = r.next_raw_packet() {
                    if p.is_err() {
                        break;
                    }
                    n += 1;
                }
            }
            n
        });
        assert!(res.is_ok(), "pcap-file panicked at cut {cut}");
    }
    let (ng, _, _) = sample_pcapng(false);
    for cut in 0..ng.len() {
        let res = std::panic::catch_unwind(|| {
            if let Ok(mut r) = pcap_file::pcapng::PcapNgReader::new(&ng[..cut]) {
                while let Some(b) = r.next_raw_block() {
                    if b.is_err() {
                        break;
                    }
                }
            }
        });
        assert!(res.is_ok(), "pcap-file (pcapng) panicked at cut {cut}");
    }
}

#[test]
fn our_reader_agrees_with_pcap_file_on_writer_output() {
    let dir = temp_dir("agree");
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
fn not_a_capture_and_corrupt_lengths_are_errors() {
    let e = CaptureReader::new(&b"GET / HTTP/1.1\r\n"[..], "x.txt")
        .err()
        .unwrap();
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
    let ip = ipv4_tcp(b"x");
    let mut bytes = pcap_bytes(false, false, 228, &[(1, 2, &ip)]);
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let (pkts, err) = read_all(&bytes);
    assert!(pkts.is_empty());
    assert!(
        matches!(
            err,
            Some(CaptureError::Malformed {
                packet: 1,
                offset: 24,
                ..
            })
        ),
        "{err:?}"
    );
}

fn decode_one(link: u32, frame: &[u8]) -> Result<(SocketAddr, SocketAddr, Vec<u8>), SkipReason> {
    let pkt = RawPacket {
        number: 1,
        ts: Duration::ZERO,
        link: LinkType(link),
        interface: 0,
        orig_len: 0,
        data: frame,
    };
    match decode(&pkt) {
        Decoded::Tcp(s) => Ok((s.src, s.dst, s.payload.to_vec())),
        Decoded::Skipped(r) => Err(r),
    }
}

#[test]
fn decodes_every_link_type() {
    let ip4 = ipv4_tcp(b"payload4");
    let ip6 = ipv6_tcp(b"payload6");
    let want4 = Ok((
        sa("192.0.2.1:1234"),
        sa("192.0.2.2:443"),
        b"payload4".to_vec(),
    ));
    let want6 = Ok((sa("[::1]:1234"), sa("[::2]:443"), b"payload6".to_vec()));
    assert_eq!(decode_one(1, &eth(0x0800, &ip4)), want4);
    assert_eq!(decode_one(1, &eth(0x86dd, &ip6)), want6);
    // 802.1Q and QinQ.
    let mut vlan = vec![0x00, 0x05, 0x08, 0x00];
    vlan.extend_from_slice(&ip4);
    assert_eq!(decode_one(1, &eth(0x8100, &vlan)), want4);
    let mut qinq = vec![0x00, 0x07, 0x81, 0x00, 0x00, 0x05, 0x86, 0xdd];
    qinq.extend_from_slice(&ip6);
    assert_eq!(decode_one(1, &eth(0x88a8, &qinq)), want6);
    assert_eq!(decode_one(101, &ip4), want4);
    assert_eq!(decode_one(101, &ip6), want6);
    assert_eq!(decode_one(228, &ip4), want4);
    assert_eq!(decode_one(229, &ip6), want6);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip4);
    assert_eq!(decode_one(113, &sll), want4);
    let mut sll2 = vec![
        0x86, 0xdd, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip6);
    assert_eq!(decode_one(276, &sll2), want6);
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(&ip4);
    assert_eq!(decode_one(0, &null_le), want4);
    let mut null_be = vec![0, 0, 0, 30];
    null_be.extend_from_slice(&ip6);
    assert_eq!(decode_one(0, &null_be), want6);
    let mut lo = vec![0, 0, 0, 2];
    lo.extend_from_slice(&ip4);
    assert_eq!(decode_one(108, &lo), want4);
    assert_eq!(decode_one(147, &ip4), Err(SkipReason::UnsupportedLink(147)));
    assert_eq!(
        decode_one(1, &eth(0x0806, &[0; 28])),
        Err(SkipReason::NotIp(0x0806))
    );
}

#[test]
fn ipv4_options_padding_and_fragments() {
    // IHL 6 (one 4-byte option word: NOPs + EOL), then Ethernet padding after the packet.
    let plain = ipv4_tcp(b"hi");
    let mut with_opt = plain[..20].to_vec();
    with_opt[0] = 0x46;
    let total = (plain.len() + 4) as u16;
    with_opt[2..4].copy_from_slice(&total.to_be_bytes());
    with_opt.extend([1, 1, 1, 0]);
    with_opt.extend_from_slice(&plain[20..]);
    with_opt.extend([0u8; 10]); // padding beyond total length
    let (_, _, payload) = decode_one(228, &with_opt).unwrap();
    assert_eq!(payload, b"hi");
    // More-fragments set, then a non-zero offset.
    let mut frag = plain.clone();
    frag[6] = 0x20;
    assert_eq!(decode_one(228, &frag), Err(SkipReason::Fragment));
    frag[6] = 0x00;
    frag[7] = 0x10;
    assert_eq!(decode_one(228, &frag), Err(SkipReason::Fragment));
    // UDP is counted as not TCP.
    let mut udp = Vec::new();
    etherparse::PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 9)
        .udp(1, 2)
        .write(&mut udp, b"u")
        .unwrap();
    assert_eq!(decode_one(228, &udp), Err(SkipReason::NotTcp(17)));
    // Every cut of a frame is skipped or decoded, never a panic.
    for cut in 0..with_opt.len() {
        let _ = decode_one(228, &with_opt[..cut]);
        let _ = decode_one(1, &eth(0x0800, &with_opt[..cut]));
    }
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let plain = ipv6_tcp(b"ext");
    let tcp = &plain[40..];
    // Hop-by-hop (8 bytes: next=60, len=0, PadN) then destination options (next=6).
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(tcp);
    let mut pkt = plain[..40].to_vec();
    pkt[4..6].copy_from_slice(&(ext.len() as u16).to_be_bytes());
    pkt[6] = 0;
    pkt.extend_from_slice(&ext);
    let (_, _, payload) = decode_one(229, &pkt).unwrap();
    assert_eq!(payload, b"ext");
    let mut frag = pkt.clone();
    frag[40] = 44;
    assert_eq!(decode_one(229, &frag), Err(SkipReason::Fragment));
    for cut in 0..pkt.len() {
        let _ = decode_one(229, &pkt[..cut]);
    }
}

#[test]
fn tshark_pcapng_conversion_reads_the_same() {
    if !have_tshark() {
        return;
    }
    let dir = temp_dir("editcap");
    let path = dir.join("two.pcap");
    let expected = write_two_conversations(&path);
    let ng = dir.join("two.pcapng");
    let ok = Command::new("editcap")
        .args(["-F", "pcapng", path.to_str().unwrap(), ng.to_str().unwrap()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("editcap unavailable: skipping");
        return;
    }
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

// ---------------------------------------------------------------- reassembly

struct Seg {
    from_client: bool,
    seq: u32,
    flags: u8,
    data: Vec<u8>,
}

const C: &str = "10.1.1.1:5000";
const S: &str = "10.1.1.2:443";

fn feed(asm: &mut Reassembler, segs: &[Seg], number0: u64) -> Vec<Connection> {
    let (c, s) = (sa(C), sa(S));
    let mut out = Vec::new();
    for (i, g) in segs.iter().enumerate() {
        let (src, dst) = if g.from_client { (c, s) } else { (s, c) };
        let seg = TcpSegment {
            number: number0 + i as u64 + 1,
            ts: Duration::from_millis(number0 + i as u64),
            src,
            dst,
            seq: g.seq,
            ack: 0,
            flags: TcpFlags(g.flags),
            window: 65535,
            options: &[],
            payload: &g.data,
        };
        asm.push(&seg);
        while let Some(c) = asm.pop_finished() {
            out.push(c);
        }
    }
    out
}

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
const RST: u8 = TcpFlags::RST;

/// Cuts `data` into segments (sizes from `cuts`), starting at sequence `isn + 1`.
fn segments(data: &[u8], isn: u32, sizes: &[usize], from_client: bool) -> Vec<Seg> {
    let mut v = Vec::new();
    let mut at = 0usize;
    let mut i = 0;
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        v.push(Seg {
            from_client,
            seq: isn.wrapping_add(1).wrapping_add(at as u32),
            flags: ACK,
            data: data[at..at + n].to_vec(),
        });
        at += n;
        i += 1;
    }
    v
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}

#[test]
fn any_permutation_duplication_and_overlap_reassembles() {
    for (isn, len) in [
        (1000u32, 3000usize),
        (u32::MAX - 1500, 4000),
        (u32::MAX, 700),
    ] {
        let data = pattern(len, isn);
        for seed in 0..200u64 {
            let mut segs = segments(&data, isn, &[100, 333, 1, 517, 64], true);
            // Overlapping copies: shifted windows of the same bytes.
            let extra: Vec<Seg> = segments(&data[50..], isn.wrapping_add(50), &[250, 90], true);
            segs.extend(extra);
            // Duplicates of a few segments.
            let dups: Vec<Seg> = segs
                .iter()
                .step_by(3)
                .map(|s| Seg {
                    data: s.data.clone(),
                    ..*s
                })
                .collect();
            segs.extend(dups);
            shuffle(&mut segs, seed);
            let mut all = vec![Seg {
                from_client: true,
                seq: isn,
                flags: SYN,
                data: vec![],
            }];
            all.push(Seg {
                from_client: false,
                seq: 77,
                flags: SYN | ACK,
                data: vec![],
            });
            all.extend(segs);
            all.push(Seg {
                from_client: true,
                seq: isn.wrapping_add(1).wrapping_add(len as u32),
                flags: FIN,
                data: vec![],
            });
            all.push(Seg {
                from_client: false,
                seq: 78,
                flags: FIN,
                data: vec![],
            });
            let mut asm = Reassembler::default();
            let done = feed(&mut asm, &all, 0);
            assert_eq!(done.len(), 1, "isn {isn} seed {seed}");
            let c = &done[0];
            assert_eq!(c.end, Some(EndReason::Fin));
            assert_eq!(c.client, sa(C));
            assert_eq!(c.to_server.contiguous(), &data[..], "isn {isn} seed {seed}");
            assert!(c.to_server.gaps().is_empty());
            assert_eq!(c.to_server.fin_offset(), Some(len as u64));
            assert!(c.to_server.retransmitted > 0);
        }
    }
}

impl Clone for Seg {
    fn clone(&self) -> Self {
        Seg {
            from_client: self.from_client,
            seq: self.seq,
            flags: self.flags,
            data: self.data.clone(),
        }
    }
}

#[test]
fn dropped_segment_is_a_gap_at_its_offset() {
    let isn = u32::MAX - 10; // the gap straddles the 2^32 wrap
    let data = pattern(1000, 9);
    let mut segs = segments(&data, isn, &[100], true);
    let lost = segs.remove(3); // bytes 300..400
    assert_eq!(lost.data, &data[300..400]);
    shuffle(&mut segs, 5);
    let mut all = vec![Seg {
        from_client: true,
        seq: isn,
        flags: SYN,
        data: vec![],
    }];
    all.extend(segs);
    let mut asm = Reassembler::default();
    assert!(feed(&mut asm, &all, 0).is_empty());
    let done = asm.end_of_capture();
    let h = &done[0].to_server;
    assert_eq!(done[0].end, Some(EndReason::EndOfCapture));
    assert_eq!(h.contiguous(), &data[..300]);
    assert_eq!(
        h.gaps(),
        vec![reassembly::Gap {
            offset: 300,
            len: 100
        }]
    );
    assert_eq!(h.runs().len(), 2);
    assert_eq!(h.runs()[1].offset, 400);
    assert_eq!(h.runs()[1].data, &data[400..]);
}

#[test]
fn out_of_order_cap_gives_up_the_hole() {
    let data = pattern(10_000, 4);
    let mut segs = segments(&data, 0, &[1000], true);
    segs.remove(0);
    let mut asm = Reassembler::new(ReassemblyConfig {
        max_out_of_order: 2500,
        ..ReassemblyConfig::default()
    });
    let mut all = vec![Seg {
        from_client: true,
        seq: 0,
        flags: SYN,
        data: vec![],
    }];
    all.extend(segs);
    feed(&mut asm, &all, 0);
    let done = asm.end_of_capture();
    let h = &done[0].to_server;
    assert_eq!(
        h.gaps(),
        vec![reassembly::Gap {
            offset: 0,
            len: 1000
        }]
    );
    assert_eq!(h.runs()[0].offset, 1000);
    assert_eq!(h.runs()[0].data, &data[1000..]);
    assert_eq!(h.pending(), 0);
}

#[test]
fn stream_numbers_follow_wireshark() {
    let mut asm = Reassembler::default();
    let conv = |isn: u32| {
        vec![
            Seg {
                from_client: true,
                seq: isn,
                flags: SYN,
                data: vec![],
            },
            Seg {
                from_client: false,
                seq: 9,
                flags: SYN | ACK,
                data: vec![],
            },
            Seg {
                from_client: true,
                seq: isn + 1,
                flags: ACK,
                data: b"x".to_vec(),
            },
            Seg {
                from_client: true,
                seq: isn + 2,
                flags: FIN,
                data: vec![],
            },
            Seg {
                from_client: false,
                seq: 10,
                flags: FIN,
                data: vec![],
            },
            Seg {
                from_client: true,
                seq: isn + 3,
                flags: ACK,
                data: vec![],
            }, // trailing ACK
        ]
    };
    let mut all = conv(100);
    all.extend(conv(5000)); // new SYN, new ISN, same 4-tuple
    all.push(Seg {
        from_client: true,
        seq: 9000,
        flags: SYN,
        data: vec![],
    });
    all.push(Seg {
        from_client: true,
        seq: 9000,
        flags: SYN,
        data: vec![],
    }); // retransmitted SYN
    all.push(Seg {
        from_client: false,
        seq: 1,
        flags: RST | ACK,
        data: vec![],
    });
    let done = feed(&mut asm, &all, 0);
    let streams: Vec<(u64, Option<EndReason>)> = done.iter().map(|c| (c.stream, c.end)).collect();
    assert_eq!(
        streams,
        vec![
            (0, Some(EndReason::Fin)),
            (1, Some(EndReason::Fin)),
            (2, Some(EndReason::Reset))
        ]
    );
    assert_eq!(done[1].to_server.contiguous(), b"x");
    assert_eq!(done[0].packets, 5);
    assert_eq!(done[2].packets, 3);
    assert_eq!(asm.stats().after_close, 2);
    assert!(asm.end_of_capture().is_empty());
}

#[test]
fn reused_tuple_matches_tshark_stream_numbers() {
    let dir = temp_dir("reuse");
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
    if have_tshark() {
        // Per-packet stream numbers agree with ours.
        let out = tshark(&[
            "-r",
            path.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "tcp.stream",
        ])
        .unwrap();
        let theirs: Vec<u64> = out.lines().map(|l| l.trim().parse().unwrap()).collect();
        for c in &conns {
            for n in c.first_packet..=c.last_packet {
                assert_eq!(theirs[n as usize - 1], c.stream, "frame {n}");
            }
        }
        assert_eq!(theirs.iter().max(), Some(&2));
    }
}

// ---------------------------------------------------------------- tap

use crate::lab::tap::*;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;

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
    let dir = temp_dir("tap");
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
    if have_tshark() {
        assert_eq!(tshark_clean(&out).unwrap(), BTreeSet::from([0, 1]));
        for c in &conns {
            let (c2s, s2c) = tshark_follow(&out, c.stream).unwrap();
            assert_eq!(c2s, c.to_server.contiguous());
            assert_eq!(s2c, c.to_client.contiguous());
        }
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
/// pieces of `split` bytes; returns the capture's SHA-256 and path.
fn deterministic_run(name: &str, split: usize) -> (Vec<u8>, PathBuf) {
    use sha2::{Digest, Sha256};
    let dir = temp_dir(name);
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
    (Sha256::digest(&bytes).to_vec(), out)
}

#[test]
fn tap_deterministic_mode_is_byte_identical() {
    // Different read chunking, same file: data is cut at TLS record boundaries.
    let (h1, p1) = deterministic_run("det1", 700);
    let (h2, _) = deterministic_run("det2", 1100);
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
    if have_tshark() {
        assert_eq!(tshark_clean(&p1).unwrap(), BTreeSet::from([0, 1]));
    }
}

#[test]
fn tap_upstream_refusing_is_handled() {
    let dir = temp_dir("refuse");
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
    let dir = temp_dir("missing");
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
    let dir = temp_dir("stop");
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
    if have_tshark() {
        assert_eq!(tshark_clean(&out).unwrap(), BTreeSet::from([0]));
    }
}

// ---------------------------------------------------------------- robustness

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }
}

#[test]
fn empty_segments_ahead_of_the_stream_do_not_disturb_it() {
    // A pure ACK and a FIN beyond a hole, then the hole's data.
    let segs = vec![
        Seg {
            from_client: true,
            seq: 10,
            flags: SYN,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 21,
            flags: ACK,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 21,
            flags: FIN,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 11,
            flags: ACK,
            data: b"0123456789".to_vec(),
        },
    ];
    let mut asm = Reassembler::default();
    feed(&mut asm, &segs, 0);
    let done = asm.end_of_capture();
    assert_eq!(done[0].to_server.contiguous(), b"0123456789");
    assert_eq!(done[0].to_server.fin_offset(), Some(10));
    assert!(done[0].to_server.gaps().is_empty());
}

#[test]
fn random_segments_never_panic_the_reassembler() {
    let mut rng = Rng(7);
    let mut asm = Reassembler::new(ReassemblyConfig {
        max_out_of_order: 3000,
        ..ReassemblyConfig::default()
    });
    for round in 0..20_000u64 {
        let len = (rng.next() % 1600) as usize;
        let base = [0u32, u32::MAX - 2000, 1 << 31][(round % 3) as usize];
        let seg = Seg {
            from_client: rng.next().is_multiple_of(2),
            seq: base.wrapping_add((rng.next() % 8000) as u32),
            flags: (rng.next() % 0x20) as u8,
            data: vec![0xab; len],
        };
        let port = 1000 + (rng.next() % 4) as u16;
        let (c, s) = (SocketAddr::new(sa(C).ip(), port), sa(S));
        let (src, dst) = if seg.from_client { (c, s) } else { (s, c) };
        asm.push(&TcpSegment {
            number: round + 1,
            ts: Duration::from_millis(round),
            src,
            dst,
            seq: seg.seq,
            ack: 0,
            flags: TcpFlags(seg.flags),
            window: 0,
            options: &[],
            payload: &seg.data,
        });
        while asm.pop_finished().is_some() {}
    }
    for c in asm.end_of_capture() {
        for h in [&c.to_server, &c.to_client] {
            assert_eq!(h.pending(), 0);
            let mut at = 0;
            for r in h.runs() {
                assert!(r.offset >= at);
                at = r.end();
            }
        }
    }
}

#[test]
fn random_frames_never_panic_the_decoder() {
    let mut rng = Rng(11);
    let seeds = [
        eth(0x0800, &ipv4_tcp(b"abc")),
        eth(0x86dd, &ipv6_tcp(b"abc")),
        ipv4_tcp(b"x"),
        ipv6_tcp(b"y"),
    ];
    for _ in 0..20_000 {
        let mut f = seeds[(rng.next() % 4) as usize].clone();
        for _ in 0..(rng.next() % 6) {
            let i = (rng.next() as usize) % f.len();
            f[i] = rng.next() as u8;
        }
        f.truncate((rng.next() as usize) % (f.len() + 1));
        for link in [0, 1, 101, 108, 113, 228, 229, 276] {
            let _ = decode_one(link, &f);
        }
    }
}

#[test]
fn random_capture_bytes_never_panic_the_reader() {
    let mut rng = Rng(3);
    let ip = ipv4_tcp(b"zz");
    let (ng, _, _) = sample_pcapng(false);
    let pcap = pcap_bytes(false, true, 1, &[(1, 2, &eth(0x0800, &ip)), (3, 4, &ip)]);
    for _ in 0..5_000 {
        let mut f = if rng.next().is_multiple_of(2) {
            ng.clone()
        } else {
            pcap.clone()
        };
        for _ in 0..(1 + rng.next() % 4) {
            let i = 4 + (rng.next() as usize) % (f.len() - 4);
            f[i] = rng.next() as u8;
        }
        let _ = read_all(&f);
        if let Ok(r) = CaptureReader::new(&f[..], "fuzz") {
            let mut r = SegmentReader::new(r);
            while let Some(s) = r.next_segment() {
                if s.is_err() {
                    break;
                }
            }
        }
    }
}

#[test]
fn partial_file_is_readable_while_writing_and_never_renamed_without_finish() {
    let dir = temp_dir("partial");
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

#[test]
fn closed_tuples_are_forgotten_after_the_linger_time() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_secs(60),
        ..ReassemblyConfig::default()
    });
    let seg = |from_client: bool, seq: u32, flags: u8, data: &[u8]| Seg {
        from_client,
        seq,
        flags,
        data: data.to_vec(),
    };
    let conversation = vec![
        seg(true, 100, SYN, b""),
        seg(false, 7, SYN | ACK, b""),
        seg(true, 101, ACK, b"hello"),
        seg(true, 106, FIN, b""),
        seg(false, 8, FIN, b""),
    ];
    let done = feed(&mut asm, &conversation, 0);
    assert_eq!(done.len(), 1);
    assert_eq!(asm.remembered_closed(), 1);
    // A trailing ACK 30 s later still belongs to the closed connection.
    assert!(feed(&mut asm, &[seg(true, 107, ACK, b"")], 30_000).is_empty());
    assert_eq!(asm.stats().after_close, 1);
    assert_eq!(asm.remembered_closed(), 1);
    // Another connection's packet 61 s after the close lets the first 4-tuple go.
    asm.push(&syn_of_another_connection(Duration::from_secs(61)));
    assert_eq!(asm.remembered_closed(), 0);
    // A stray segment on the old 4-tuple now opens a new stream, as it would for the peers.
    assert!(feed(&mut asm, &[seg(true, 107, ACK, b"")], 62_000).is_empty());
    assert_eq!(asm.stats().after_close, 1);
    assert_eq!(asm.stats().connections, 3);
    assert_eq!(asm.live(), 2);
}

/// A SYN on an unrelated 4-tuple at `ts`: moves the reassembler's clock.
fn syn_of_another_connection(ts: Duration) -> TcpSegment<'static> {
    TcpSegment {
        number: 99,
        ts,
        src: "10.9.9.9:1000".parse().expect("addr"),
        dst: sa(S),
        seq: 1,
        ack: 0,
        flags: TcpFlags(SYN),
        window: 65535,
        options: &[],
        payload: &[],
    }
}

/// An empty segment.
fn bare(from_client: bool, seq: u32, flags: u8) -> Seg {
    Seg {
        from_client,
        seq,
        flags,
        data: Vec::new(),
    }
}

/// A connection opened and closed with no data; fed from 0 ms it closes at 3 ms.
fn closed_at_3_ms() -> Vec<Seg> {
    vec![
        bare(true, 100, SYN),
        bare(false, 7, SYN | ACK),
        bare(true, 101, FIN),
        bare(false, 8, FIN),
    ]
}

#[test]
fn a_reused_tuple_is_not_forgotten_by_its_old_close() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_millis(10),
        ..ReassemblyConfig::default()
    });
    // Closed at 3 ms.
    assert_eq!(feed(&mut asm, &closed_at_3_ms(), 0).len(), 1);
    // Reused inside the linger (5–6 ms): a new connection on the same 4-tuple.
    let second = vec![bare(true, 5000, SYN), bare(false, 70, SYN | ACK)];
    assert!(feed(&mut asm, &second, 5).is_empty());
    assert_eq!(asm.live(), 1);
    // Another connection at 30 ms moves the clock past the old close: the live connection
    // that reused the 4-tuple must stay.
    asm.push(&syn_of_another_connection(Duration::from_millis(30)));
    assert_eq!(asm.live(), 2);
    let end = asm.end_of_capture();
    let streams: Vec<(u64, u64)> = end.iter().map(|c| (c.stream, c.packets)).collect();
    assert_eq!(streams, vec![(1, 2), (2, 1)]);
}

#[test]
fn a_closed_tuple_is_remembered_for_exactly_the_linger_time() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_millis(10),
        ..ReassemblyConfig::default()
    });
    // Closed at 3 ms; a trailing ACK at exactly 13 ms still belongs to it.
    assert_eq!(feed(&mut asm, &closed_at_3_ms(), 0).len(), 1);
    assert!(feed(&mut asm, &[bare(true, 102, ACK)], 13).is_empty());
    assert_eq!((asm.stats().after_close, asm.remembered_closed()), (1, 1));
    // At 14 ms it is forgotten.
    assert!(feed(&mut asm, &[bare(true, 102, ACK)], 14).is_empty());
    assert_eq!((asm.stats().after_close, asm.remembered_closed()), (1, 0));
    assert_eq!(asm.live(), 1);
}
