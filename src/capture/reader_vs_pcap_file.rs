//! Why `reader.rs` is hand-written: pcap-file 2.0.0's readers and ours on the same bytes.
//!
//! Each test asserts pcap-file's wrong answer and ours. When a pcap-file release fixes a
//! case, its half of the test fails: that is the moment to reconsider using its reader.

use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::PcapError;

use super::CaptureReader;

/// An Ethernet/IPv4/TCP frame of `len` bytes.
fn frame(len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len - 54).map(|i| i as u8).collect();
    let mut f = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 2], [2, 0, 0, 0, 0, 1])
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .tcp(40000, 443, 1, 65535)
        .write(&mut f, &payload)
        .expect("frame");
    assert_eq!(f.len(), len);
    f
}

/// Classic little-endian µs pcap, LINKTYPE_ETHERNET, with the given snaplen and records
/// `(secs, micros, orig_len, data)`.
fn pcap(snaplen: u32, records: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(0xa1b2_c3d4u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend([0u8; 8]);
    v.extend(snaplen.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    for (secs, micros, orig, data) in records {
        v.extend(secs.to_le_bytes());
        v.extend(micros.to_le_bytes());
        v.extend((data.len() as u32).to_le_bytes());
        v.extend(orig.to_le_bytes());
        v.extend_from_slice(data);
    }
    v
}

/// A little-endian pcapng block: type, total length, body padded to 4, total length.
fn block(t: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let len = (body.len() + 12) as u32;
    let mut v = Vec::new();
    v.extend(t.to_le_bytes());
    v.extend(len.to_le_bytes());
    v.extend(body);
    v.extend(len.to_le_bytes());
    v
}

/// One section, one Ethernet interface (with `if_tsresol` if given), one Enhanced Packet
/// Block stamped `units` of that interface's resolution.
fn pcapng(tsresol: Option<u8>, units: u64, data: &[u8]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend(1u16.to_le_bytes());
    idb.extend(0u16.to_le_bytes());
    idb.extend(0u32.to_le_bytes());
    if let Some(r) = tsresol {
        // if_tsresol (option 9), then opt_endofopt.
        idb.extend(9u16.to_le_bytes());
        idb.extend(1u16.to_le_bytes());
        idb.extend([r, 0, 0, 0]);
        idb.extend([0u8; 4]);
    }
    let mut epb = Vec::new();
    epb.extend(0u32.to_le_bytes());
    epb.extend(((units >> 32) as u32).to_le_bytes());
    epb.extend((units as u32).to_le_bytes());
    epb.extend((data.len() as u32).to_le_bytes());
    epb.extend((data.len() as u32).to_le_bytes());
    epb.extend_from_slice(data);
    let mut v = block(0x0a0d_0d0a, &shb);
    v.extend(block(1, &idb));
    v.extend(block(6, &epb));
    v
}

/// pcap-file's one packet timestamp of a single-interface pcapng.
fn pcap_file_pcapng_ts(bytes: &[u8]) -> Duration {
    let mut r = PcapNgReader::new(bytes).expect("pcap-file reads the section header");
    while let Some(b) = r.next_block() {
        if let Block::EnhancedPacket(epb) = b.expect("pcap-file reads every block") {
            return epb.timestamp;
        }
    }
    panic!("pcap-file found no packet");
}

/// Our one packet timestamp.
fn our_ts(bytes: &[u8]) -> Duration {
    let mut r = CaptureReader::new(bytes, "mem").expect("header");
    let ts = r.next_packet().expect("a packet").expect("readable").ts;
    ts
}

/// A capture sliced with `tcpdump -s 96`: snaplen 96, a 150-byte frame stored as its
/// first 96 bytes with orig_len 150, then a whole 60-byte frame. That is how snaplen is
/// meant to work (pcap(5)), and Wireshark reads it.
/// pcap-file 2.0.0 checks `orig_len <= snaplen` and refuses the packet; we deliver both.
#[test]
fn pcap_file_refuses_a_packet_sliced_to_the_snaplen() {
    let long = frame(150);
    let short = frame(60);
    let bytes = pcap(
        96,
        &[
            (1_700_000_000, 1, 150, &long[..96]),
            (1_700_000_000, 2, 60, &short),
        ],
    );

    let mut theirs = PcapReader::new(&bytes[..]).expect("pcap-file reads the header");
    match theirs.next_packet() {
        Some(Err(PcapError::InvalidField(why))) => {
            assert_eq!(why, "PacketHeader orig_len > snap_len")
        }
        other => panic!("pcap-file now reads sliced packets ({other:?}): reconsider reader.rs"),
    }

    let mut ours = CaptureReader::new(&bytes[..], "sliced.pcap").expect("header");
    let p = ours.next_packet().expect("packet 1").expect("readable");
    assert_eq!(p.number, 1);
    assert_eq!(p.ts, Duration::new(1_700_000_000, 1_000));
    assert_eq!(p.orig_len, 150);
    assert_eq!(p.data, &long[..96]);
    let p = ours.next_packet().expect("packet 2").expect("readable");
    assert_eq!((p.number, p.orig_len, p.data), (2, 60, &short[..]));
    assert!(ours.next_packet().is_none());
}

/// pcapng timestamps count units of the interface's `if_tsresol`, 10^-6 s when the option
/// is absent (pcapng §4.2), as dumpcap writes them. pcap-file 2.0.0 reads the units as
/// nanoseconds whatever the interface says: a µs capture lands 1000 times too close to
/// 1970. With an explicit nanosecond resolution both readers agree.
#[test]
fn pcap_file_reads_pcapng_microseconds_as_nanoseconds() {
    let data = frame(60);
    let at = Duration::new(1_700_000_000, 123_456_000);

    let micros = pcapng(None, 1_700_000_000_123_456, &data);
    assert_eq!(our_ts(&micros), at);
    assert_eq!(
        pcap_file_pcapng_ts(&micros),
        Duration::new(1_700_000, 123_456),
        "pcap-file now honours the default if_tsresol: reconsider reader.rs"
    );

    let micros_explicit = pcapng(Some(6), 1_700_000_000_123_456, &data);
    assert_eq!(our_ts(&micros_explicit), at);
    assert_eq!(
        pcap_file_pcapng_ts(&micros_explicit),
        Duration::new(1_700_000, 123_456)
    );

    let nanos = pcapng(Some(9), 1_700_000_000_123_456_000, &data);
    assert_eq!(our_ts(&nanos), at);
    assert_eq!(pcap_file_pcapng_ts(&nanos), at);
}
