//! The reader: classic pcap in both byte orders and resolutions, pcapng with several
//! interfaces, every cut of a file, absurd lengths, every link type, IPv4 options and
//! fragments, IPv6 extension headers; random frames and files never make it panic.

use std::net::SocketAddr;
use std::time::Duration;

use super::fixtures::{eth, read_all, sa};
use super::Rng;
use crate::capture::*;

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
