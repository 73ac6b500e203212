//! Byte fixtures shared by the capture unit tests (`src/capture/tests/`) and the integration
//! tests (`tests/it/capture/`, which include this file by path): socket addresses,
//! deterministic bytes, Ethernet frames, and every packet of a capture in memory. Public API
//! only; `super` is the including module, which has the capture layer's names in scope.

use std::net::SocketAddr;
use std::time::Duration;

use super::{CaptureError, CaptureReader, LinkType};

/// The client and the server of the hand-made conversations.
pub const C: &str = "10.1.1.1:5000";
pub const S: &str = "10.1.1.2:443";

pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address literal")
}

/// Deterministic test bytes.
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
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

/// An Ethernet II frame between two fixed MAC addresses.
pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    v.extend(ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// (number, timestamp, link type, interface, bytes) of each packet.
pub type Packets = Vec<(u64, Duration, LinkType, u32, Vec<u8>)>;

/// Every packet of the capture `bytes`, and the error that ended the reading, if any.
pub fn read_all(bytes: &[u8]) -> (Packets, Option<CaptureError>) {
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
