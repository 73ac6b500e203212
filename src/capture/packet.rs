//! Zero-copy decoding of captured frames down to TCP segments.
//!
//! Each layer is a checked view over the borrowed bytes (smoltcp style): a constructor
//! checks the lengths once, after which accessors cannot fail. Checksums are not
//! verified: captures taken on the sending host often carry offloaded, unfilled ones.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::reader::{LinkType, RawPacket};

/// TCP control bits (RFC 9293 §3.1).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn psh(self) -> bool {
        self.0 & Self::PSH != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

impl fmt::Debug for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::SYN, "SYN"),
            (Self::ACK, "ACK"),
            (Self::PSH, "PSH"),
            (Self::FIN, "FIN"),
            (Self::RST, "RST"),
            (Self::URG, "URG"),
        ];
        let set: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.0 & b != 0)
            .map(|(_, n)| *n)
            .collect();
        write!(f, "[{}]", set.join(","))
    }
}

/// A TCP segment borrowed from a captured frame.
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    /// Packet number in the capture (1-based, Wireshark's `frame.number`).
    pub number: u64,
    pub ts: Duration,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Raw option bytes (RFC 9293 §3.2), unparsed.
    pub options: &'a [u8],
    /// Payload, trimmed to the IP length (Ethernet padding removed); may be shorter than
    /// sent when the capture was sliced by its snaplen.
    pub payload: &'a [u8],
}

/// Why a packet was not turned into a TCP segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    UnsupportedLink(u32),
    /// Link payload is not IPv4/IPv6 (EtherType or address family given).
    NotIp(u32),
    /// IP payload is another protocol (IP protocol number given).
    NotTcp(u8),
    /// IPv4 fragment or IPv6 Fragment header: fragments are not reassembled.
    Fragment,
    /// A header is cut short or impossible.
    Undecodable(&'static str),
}

/// The outcome of [`decode`].
#[derive(Clone, Copy, Debug)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    Skipped(SkipReason),
}

/// Decodes one frame down to TCP.
pub fn decode<'a>(pkt: &RawPacket<'a>) -> Decoded<'a> {
    match decode_inner(pkt) {
        Ok(seg) => Decoded::Tcp(seg),
        Err(why) => Decoded::Skipped(why),
    }
}

fn decode_inner<'a>(pkt: &RawPacket<'a>) -> Result<TcpSegment<'a>, SkipReason> {
    let (proto, ip) = link_payload(pkt.link, pkt.data)?;
    let (src, dst, l4proto, l4) = match proto {
        Net::V4 => ipv4(ip)?,
        Net::V6 => ipv6(ip)?,
        Net::ByVersion => match ip.first().map(|b| b >> 4) {
            Some(4) => ipv4(ip)?,
            Some(6) => ipv6(ip)?,
            _ => return Err(SkipReason::Undecodable("raw IP version is neither 4 nor 6")),
        },
    };
    if l4proto != 6 {
        return Err(SkipReason::NotTcp(l4proto));
    }
    let tcp = TcpView::new_checked(l4)?;
    Ok(TcpSegment {
        number: pkt.number,
        ts: pkt.ts,
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        seq: tcp.seq(),
        ack: tcp.ack(),
        flags: TcpFlags(tcp.flags()),
        window: tcp.window(),
        options: tcp.options(),
        payload: tcp.payload(),
    })
}

enum Net {
    V4,
    V6,
    ByVersion,
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

fn ethertype(t: u16) -> Result<Net, SkipReason> {
    match t {
        ETHERTYPE_IPV4 => Ok(Net::V4),
        ETHERTYPE_IPV6 => Ok(Net::V6),
        other => Err(SkipReason::NotIp(u32::from(other))),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some([x, y]) => Some(u16::from_be_bytes([*x, *y])),
        _ => None,
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some([a, b2, c, d]) => Some(u32::from_be_bytes([*a, *b2, *c, *d])),
        _ => None,
    }
}

const SHORT_LINK: SkipReason = SkipReason::Undecodable("link-layer header cut short");

/// Strips the link-layer header.
fn link_payload(link: LinkType, d: &[u8]) -> Result<(Net, &[u8]), SkipReason> {
    match link {
        LinkType::ETHERNET => {
            // IEEE 802.3 header, then any number of 802.1Q / 802.1ad tags.
            let mut t = be16(d, 12).ok_or(SHORT_LINK)?;
            let mut at = 14;
            while matches!(t, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
                t = be16(d, at + 2).ok_or(SHORT_LINK)?;
                at += 4;
            }
            Ok((ethertype(t)?, d.get(at..).ok_or(SHORT_LINK)?))
        }
        LinkType::RAW => Ok((Net::ByVersion, d)),
        LinkType::IPV4 => Ok((Net::V4, d)),
        LinkType::IPV6 => Ok((Net::V6, d)),
        LinkType::LINUX_SLL => {
            // 16-byte cooked header; protocol (EtherType) in the last two bytes.
            let t = be16(d, 14).ok_or(SHORT_LINK)?;
            Ok((ethertype(t)?, d.get(16..).ok_or(SHORT_LINK)?))
        }
        LinkType::LINUX_SLL2 => {
            // 20-byte cooked v2 header; protocol first.
            let t = be16(d, 0).ok_or(SHORT_LINK)?;
            Ok((ethertype(t)?, d.get(20..).ok_or(SHORT_LINK)?))
        }
        LinkType::NULL | LinkType::LOOP => {
            // 4-byte address family: host order for NULL, network order for LOOP.
            let raw = d.get(0..4).ok_or(SHORT_LINK)?;
            let be = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
            let le = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
            // The writer's byte order is unknown for NULL: take whichever value is small.
            let fam = if link == LinkType::LOOP || be < 0x1_0000 {
                be
            } else {
                le
            };
            let net = match fam {
                2 => Net::V4,
                // AF_INET6 on BSDs (24, 28, 30) and Linux (10).
                10 | 24 | 28 | 30 => Net::V6,
                other => return Err(SkipReason::NotIp(other)),
            };
            Ok((net, d.get(4..).ok_or(SHORT_LINK)?))
        }
        other => Err(SkipReason::UnsupportedLink(other.0)),
    }
}

/// IPv4 (RFC 791): honours IHL, trims to total length, skips fragments.
fn ipv4(d: &[u8]) -> Result<(IpAddr, IpAddr, u8, &[u8]), SkipReason> {
    const SHORT: SkipReason = SkipReason::Undecodable("IPv4 header cut short");
    let vihl = *d.first().ok_or(SHORT)?;
    if vihl >> 4 != 4 {
        return Err(SkipReason::Undecodable("IPv4 version field is not 4"));
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return Err(SkipReason::Undecodable("IPv4 IHL below 5"));
    }
    let total = usize::from(be16(d, 2).ok_or(SHORT)?);
    if d.len() < ihl {
        return Err(SHORT);
    }
    if total < ihl {
        return Err(SkipReason::Undecodable(
            "IPv4 total length below header length",
        ));
    }
    // More Fragments flag or a non-zero offset (RFC 791 §3.1).
    let frag = be16(d, 6).ok_or(SHORT)?;
    if frag & 0x3fff != 0 {
        return Err(SkipReason::Fragment);
    }
    let proto = *d.get(9).ok_or(SHORT)?;
    let src = be32(d, 12).ok_or(SHORT)?;
    let dst = be32(d, 16).ok_or(SHORT)?;
    // Total length trims Ethernet padding; a sliced capture may hold less than that.
    let end = total.min(d.len());
    let payload = d.get(ihl..end).ok_or(SHORT)?;
    Ok((
        IpAddr::V4(Ipv4Addr::from(src)),
        IpAddr::V4(Ipv4Addr::from(dst)),
        proto,
        payload,
    ))
}

/// IPv6 (RFC 8200): walks Hop-by-Hop, Routing and Destination Options headers; a
/// Fragment header means a fragment, which is skipped.
fn ipv6(d: &[u8]) -> Result<(IpAddr, IpAddr, u8, &[u8]), SkipReason> {
    const SHORT: SkipReason = SkipReason::Undecodable("IPv6 header cut short");
    if d.first().map(|b| b >> 4) != Some(6) {
        return Err(SkipReason::Undecodable("IPv6 version field is not 6"));
    }
    let plen = usize::from(be16(d, 4).ok_or(SHORT)?);
    let mut next = *d.get(6).ok_or(SHORT)?;
    let mut src = [0u8; 16];
    src.copy_from_slice(d.get(8..24).ok_or(SHORT)?);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(d.get(24..40).ok_or(SHORT)?);
    // Payload length 0 with a Hop-by-Hop jumbo option (RFC 2675): take the rest.
    let end = if plen == 0 {
        d.len()
    } else {
        (40 + plen).min(d.len())
    };
    let mut rest = d.get(40..end).ok_or(SHORT)?;
    loop {
        match next {
            // Hop-by-Hop, Routing, Destination Options: length in 8-octet units, less the first.
            0 | 43 | 60 => {
                let n = *rest.first().ok_or(SHORT)?;
                let len = (usize::from(*rest.get(1).ok_or(SHORT)?) + 1) * 8;
                rest = rest.get(len..).ok_or(SHORT)?;
                next = n;
            }
            44 => return Err(SkipReason::Fragment),
            p => {
                return Ok((
                    IpAddr::V6(Ipv6Addr::from(src)),
                    IpAddr::V6(Ipv6Addr::from(dst)),
                    p,
                    rest,
                ))
            }
        }
    }
}

/// A checked view of a TCP header and its payload (RFC 9293 §3.1).
struct TcpView<'a> {
    buf: &'a [u8],
    header_len: usize,
}

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const MIN_LEN: usize = 20;
}

impl<'a> TcpView<'a> {
    fn new_checked(buf: &'a [u8]) -> Result<Self, SkipReason> {
        if buf.len() < field::MIN_LEN {
            return Err(SkipReason::Undecodable("TCP header cut short"));
        }
        let header_len = usize::from(buf[field::DATA_OFFSET] >> 4) * 4;
        if header_len < field::MIN_LEN {
            return Err(SkipReason::Undecodable("TCP data offset below 5"));
        }
        if buf.len() < header_len {
            return Err(SkipReason::Undecodable("TCP options cut short"));
        }
        Ok(TcpView { buf, header_len })
    }

    // Accessors index within the first MIN_LEN bytes, which new_checked guaranteed.
    fn src_port(&self) -> u16 {
        be16(self.buf, field::SRC_PORT.start).unwrap_or(0)
    }
    fn dst_port(&self) -> u16 {
        be16(self.buf, field::DST_PORT.start).unwrap_or(0)
    }
    fn seq(&self) -> u32 {
        be32(self.buf, field::SEQ.start).unwrap_or(0)
    }
    fn ack(&self) -> u32 {
        be32(self.buf, field::ACK.start).unwrap_or(0)
    }
    fn flags(&self) -> u8 {
        self.buf.get(field::FLAGS).copied().unwrap_or(0)
    }
    fn window(&self) -> u16 {
        be16(self.buf, field::WINDOW.start).unwrap_or(0)
    }
    fn options(&self) -> &'a [u8] {
        self.buf.get(field::MIN_LEN..self.header_len).unwrap_or(&[])
    }
    fn payload(&self) -> &'a [u8] {
        self.buf.get(self.header_len..).unwrap_or(&[])
    }
}
