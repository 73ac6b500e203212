//! Classic-pcap surgery for damaged copies of a capture (parse, edit records, save), and
//! small pcap and pcapng writers for frames built by hand.

use std::ops::Range;
use std::path::Path;

use super::{read, write};

/// A classic pcap file: 24-byte global header, then records of a 16-byte header + data.
#[derive(Clone)]
pub struct Pcap {
    pub header: Vec<u8>,
    pub big_endian: bool,
    pub records: Vec<PcapRecord>,
}

#[derive(Clone)]
pub struct PcapRecord {
    /// Offset of the 16-byte record header in the original file.
    pub offset: usize,
    pub header: [u8; 16],
    pub data: Vec<u8>,
}

/// The TCP view of one Ethernet/IPv4 frame.
#[derive(Clone, Debug)]
pub struct TcpView {
    pub src_port: u16,
    pub dst_port: u16,
    /// The TCP payload's byte range within the frame.
    pub payload: Range<usize>,
}

impl Pcap {
    pub fn parse(bytes: &[u8]) -> Pcap {
        assert!(bytes.len() >= 24, "pcap shorter than its header");
        let big_endian = match &bytes[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
            m => panic!("not a classic pcap (magic {m:02x?})"),
        };
        let u32_at = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        assert_eq!(
            u32_at(&bytes[20..24]),
            1,
            "these helpers read Ethernet captures only"
        );
        let mut records = Vec::new();
        let mut off = 24;
        while off < bytes.len() {
            assert!(off + 16 <= bytes.len(), "record header cut at {off}");
            let incl = u32_at(&bytes[off + 8..off + 12]) as usize;
            assert!(off + 16 + incl <= bytes.len(), "record data cut at {off}");
            let mut header = [0u8; 16];
            header.copy_from_slice(&bytes[off..off + 16]);
            records.push(PcapRecord {
                offset: off,
                header,
                data: bytes[off + 16..off + 16 + incl].to_vec(),
            });
            off += 16 + incl;
        }
        Pcap {
            header: bytes[..24].to_vec(),
            big_endian,
            records,
        }
    }

    pub fn load(path: &Path) -> Pcap {
        Pcap::parse(&read(path))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        for r in &self.records {
            out.extend_from_slice(&r.header);
            out.extend_from_slice(&r.data);
        }
        out
    }

    pub fn save(&self, path: &Path) {
        write(path, &self.to_bytes());
    }

    /// Index of the first record whose TCP view satisfies `pred`.
    pub fn find(&self, mut pred: impl FnMut(&TcpView, &[u8]) -> bool) -> Option<usize> {
        self.records.iter().position(|r| {
            tcp_view(&r.data)
                .map(|t| pred(&t, &r.data[t.payload.clone()]))
                .unwrap_or(false)
        })
    }
}

/// Ethernet II + IPv4 + TCP, or `None` for anything else.
pub fn tcp_view(frame: &[u8]) -> Option<TcpView> {
    if frame.len() < 14 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..total.min(ip.len()))?;
    if tcp.len() < 20 {
        return None;
    }
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    let start = 14 + ihl + data_offset;
    let end = 14 + total.min(ip.len());
    (start <= end).then(|| TcpView {
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        payload: start..end,
    })
}

// ---------------------------------------------------------------------------------------------
// Captures of frames built by hand

/// A classic pcap of `frames`, each cut to `snap` bytes (orig_len stays the full length).
pub fn build_pcap(frames: &[Vec<u8>], snap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xa1b2_c3d4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (i, f) in frames.iter().enumerate() {
        let incl = f.len().min(snap);
        for v in [1_700_000_000u32 + i as u32, 0, incl as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f[..incl]);
    }
    out
}

/// The same frames as pcapng (one Ethernet interface, microsecond timestamps); also returns
/// the offset where each block ends.
pub fn build_pcapng(frames: &[Vec<u8>]) -> (Vec<u8>, Vec<usize>) {
    fn block(out: &mut Vec<u8>, ends: &mut Vec<usize>, typ: u32, body: &[u8]) {
        let len = (12 + body.len().div_ceil(4) * 4) as u32;
        out.extend_from_slice(&typ.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (4 - body.len() % 4) % 4, 0);
        out.extend_from_slice(&len.to_le_bytes());
        ends.push(out.len());
    }
    let (mut out, mut ends) = (Vec::new(), Vec::new());
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, &mut ends, 0x0a0d_0d0a, &shb);
    let mut idb = vec![1, 0, 0, 0];
    idb.extend_from_slice(&65535u32.to_le_bytes());
    block(&mut out, &mut ends, 1, &idb);
    for (i, f) in frames.iter().enumerate() {
        let ts = 1_700_000_000_000_000u64 + i as u64;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut out, &mut ends, 6, &epb);
    }
    (out, ends)
}
