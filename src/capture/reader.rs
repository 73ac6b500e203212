//! Streaming reader for classic pcap (both byte orders, µs and ns magic) and pcapng
//! (several interfaces, each with its link type and timestamp resolution).
//!
//! One packet is held at a time in a reused buffer; packets are lent out as
//! [`RawPacket`] views. A file cut short yields every whole packet before the cut and
//! then one [`CaptureError::Truncated`]; after any error the reader returns `None`.
//!
//! pcap-file 2.0.0 is not used here: its readers allocate 8 MB per reader, reject
//! packets whose orig_len exceeds the snaplen (normal for sliced captures) and read
//! pcapng timestamps as nanoseconds whatever `if_tsresol` says. The last two are pinned
//! by the tests in `reader_vs_pcap_file.rs`.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::packet::{decode, Decoded, SkipReason, TcpSegment};
use super::CaptureError;

mod pcapng;

use pcapng::Interface;

/// Largest packet accepted (libpcap's MAXIMUM_SNAPLEN); bigger means a corrupt header.
pub const MAX_PACKET: u32 = 262_144;

/// A LINKTYPE_ value (tcpdump.org/linktypes.html); unknown values are kept as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    pub const RAW: LinkType = LinkType(101);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// One captured frame, borrowed from the reader's buffer.
#[derive(Clone, Copy, Debug)]
pub struct RawPacket<'a> {
    /// 1-based, like Wireshark's `frame.number`.
    pub number: u64,
    /// Since the Unix epoch.
    pub ts: Duration,
    pub link: LinkType,
    /// pcapng interface id (0 for classic pcap).
    pub interface: u32,
    /// Length on the wire; `data` may be shorter (snaplen).
    pub orig_len: u32,
    pub data: &'a [u8],
}

#[derive(Clone, Copy, Debug)]
enum Format {
    Pcap {
        big_endian: bool,
        nanos: bool,
        link: LinkType,
    },
    PcapNg {
        big_endian: bool,
    },
}

/// Streaming capture reader over any `Read`.
pub struct CaptureReader<R: Read> {
    src: R,
    path: PathBuf,
    format: Format,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    /// Bytes consumed so far (offset of the next block/record).
    offset: u64,
    /// Packets delivered so far.
    number: u64,
    last: Option<Meta>,
    done: bool,
}

impl CaptureReader<BufReader<File>> {
    /// Opens a capture file; the format is taken from its magic number.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let f = File::open(path).map_err(|e| CaptureError::io(path, "open", e))?;
        CaptureReader::new(BufReader::with_capacity(1 << 16, f), path)
    }
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header from `src`; `name` is used in error messages.
    pub fn new(src: R, name: impl Into<PathBuf>) -> Result<Self, CaptureError> {
        let mut r = CaptureReader {
            src,
            path: name.into(),
            format: Format::PcapNg { big_endian: false },
            interfaces: Vec::new(),
            buf: Vec::with_capacity(2048),
            offset: 0,
            number: 0,
            last: None,
            done: false,
        };
        r.fill(4, "file header")?;
        let magic = r.head4();
        match magic {
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0x4d, 0x3c, 0xb2, 0xa1] => {
                r.fill(24, "pcap global header")?;
                let big_endian = magic[0] == 0xa1;
                let nanos = magic == [0xa1, 0xb2, 0x3c, 0x4d] || magic == [0x4d, 0x3c, 0xb2, 0xa1];
                // Low 16 bits are the link type; the upper bits carry FCS information.
                let link = LinkType(r.u32_at(20, big_endian) & 0xffff);
                r.offset = 24;
                r.format = Format::Pcap {
                    big_endian,
                    nanos,
                    link,
                };
            }
            [0x0a, 0x0d, 0x0d, 0x0a] => {
                r.format = Format::PcapNg { big_endian: false };
                r.read_shb_rest()?;
            }
            _ => {
                return Err(CaptureError::NotACapture {
                    path: r.path.clone(),
                    magic,
                })
            }
        }
        Ok(r)
    }

    /// Name used in messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset of the next record in the file.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Packets delivered so far.
    pub fn packets(&self) -> u64 {
        self.number
    }

    /// Link type of a classic pcap, or of the first pcapng interface.
    pub fn link_type(&self) -> Option<LinkType> {
        match self.format {
            Format::Pcap { link, .. } => Some(link),
            Format::PcapNg { .. } => self.interfaces.first().map(|i| i.link),
        }
    }

    /// The next packet, `None` at the end of the file or after an error.
    #[allow(clippy::should_implement_trait)]
    pub fn next_packet(&mut self) -> Option<Result<RawPacket<'_>, CaptureError>> {
        if self.done {
            return None;
        }
        let res = match self.format {
            Format::Pcap {
                big_endian,
                nanos,
                link,
            } => self.next_pcap(big_endian, nanos, link),
            Format::PcapNg { .. } => self.next_pcapng(),
        };
        match res {
            Ok(Some(meta)) => {
                self.number += 1;
                self.last = Some(meta);
                self.current().map(Ok)
            }
            Ok(None) => {
                self.done = true;
                self.last = None;
                None
            }
            Err(e) => {
                self.done = true;
                self.last = None;
                Some(Err(e))
            }
        }
    }

    /// The packet last returned by [`next_packet`](Self::next_packet), again.
    pub fn current(&self) -> Option<RawPacket<'_>> {
        let meta = self.last?;
        let data = self.buf.get(meta.data_start..meta.data_end).unwrap_or(&[]);
        Some(RawPacket {
            number: self.number,
            ts: meta.ts,
            link: meta.link,
            interface: meta.interface,
            orig_len: meta.orig_len,
            data,
        })
    }

    fn next_pcap(
        &mut self,
        be: bool,
        nanos: bool,
        link: LinkType,
    ) -> Result<Option<Meta>, CaptureError> {
        if self.fill_or_eof(16, "packet header")? == 0 {
            return Ok(None);
        }
        let secs = self.u32_at(0, be);
        let frac = self.u32_at(4, be);
        let incl = self.u32_at(8, be);
        let orig = self.u32_at(12, be);
        if incl > MAX_PACKET {
            return Err(self.malformed(format!("captured length {incl} exceeds {MAX_PACKET}")));
        }
        // u32 -> usize is lossless on every supported target.
        self.fill(16 + incl as usize, "packet data")?;
        self.offset += 16 + u64::from(incl);
        // A fraction past one second is carried rather than rejected.
        let frac_ns = if nanos {
            u64::from(frac)
        } else {
            u64::from(frac) * 1000
        };
        let ts = Duration::from_secs(u64::from(secs)) + Duration::from_nanos(frac_ns);
        Ok(Some(Meta {
            ts,
            link,
            interface: 0,
            orig_len: orig,
            data_start: 16,
            data_end: 16 + incl as usize,
        }))
    }

    fn big_endian(&self) -> bool {
        match self.format {
            Format::Pcap { big_endian, .. } | Format::PcapNg { big_endian } => big_endian,
        }
    }

    fn head4(&self) -> [u8; 4] {
        let mut m = [0u8; 4];
        if let Some(b) = self.buf.get(0..4) {
            m.copy_from_slice(b);
        }
        m
    }

    /// Reads a u32 at `at` of the current buffer; 0 past its end (callers fill first).
    fn u32_at(&self, at: usize, be: bool) -> u32 {
        match self.buf.get(at..at + 4) {
            Some(b) => {
                let a = [b[0], b[1], b[2], b[3]];
                if be {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                }
            }
            None => 0,
        }
    }

    /// Makes the buffer hold exactly `n` bytes of the current record (keeping what it
    /// has); a short file is a truncation error.
    fn fill(&mut self, n: usize, what: &'static str) -> Result<(), CaptureError> {
        let got = self.read_up_to(n)?;
        if got < n {
            return Err(self.truncated(what, n as u64, got as u64));
        }
        Ok(())
    }

    /// Starts a new record: 0 at a clean end of file, else fills `n` bytes.
    fn fill_or_eof(&mut self, n: usize, what: &'static str) -> Result<usize, CaptureError> {
        self.buf.clear();
        let got = self.read_up_to(n)?;
        if got == 0 {
            return Ok(0);
        }
        if got < n {
            return Err(self.truncated(what, n as u64, got as u64));
        }
        Ok(got)
    }

    fn read_up_to(&mut self, n: usize) -> Result<usize, CaptureError> {
        let have = self.buf.len();
        if have >= n {
            return Ok(have);
        }
        let want = (n - have) as u64;
        let read = (&mut self.src)
            .take(want)
            .read_to_end(&mut self.buf)
            .map_err(|e| CaptureError::io(&self.path, "read", e))?;
        Ok(have + read)
    }

    fn truncated(&self, what: &'static str, needed: u64, got: u64) -> CaptureError {
        CaptureError::Truncated {
            path: self.path.clone(),
            what,
            packet: self.number + 1,
            offset: self.offset,
            needed,
            got,
        }
    }

    fn malformed(&self, what: String) -> CaptureError {
        self.malformed_at(self.offset, what)
    }

    fn malformed_at(&self, offset: u64, what: String) -> CaptureError {
        CaptureError::Malformed {
            path: self.path.clone(),
            packet: self.number + 1,
            offset,
            what,
        }
    }
}

#[derive(Clone, Copy)]
struct Meta {
    ts: Duration,
    link: LinkType,
    interface: u32,
    orig_len: u32,
    data_start: usize,
    data_end: usize,
}

/// Counts of packets that were not TCP or could not be decoded, with the first packet
/// number of each kind for messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkipStats {
    pub unsupported_link: u64,
    pub not_ip: u64,
    pub not_tcp: u64,
    pub fragments: u64,
    pub undecodable: u64,
    /// First packet number of any skipped fragment (fragments are not reassembled).
    pub first_fragment: Option<u64>,
    /// First packet number and reason of any undecodable packet.
    pub first_undecodable: Option<(u64, &'static str)>,
}

impl SkipStats {
    pub fn total(&self) -> u64 {
        self.unsupported_link + self.not_ip + self.not_tcp + self.fragments + self.undecodable
    }

    fn count(&mut self, number: u64, why: SkipReason) {
        match why {
            SkipReason::UnsupportedLink(_) => self.unsupported_link += 1,
            SkipReason::NotIp(_) => self.not_ip += 1,
            SkipReason::NotTcp(_) => self.not_tcp += 1,
            SkipReason::Fragment => {
                self.fragments += 1;
                self.first_fragment.get_or_insert(number);
            }
            SkipReason::Undecodable(what) => {
                self.undecodable += 1;
                self.first_undecodable.get_or_insert((number, what));
            }
        }
    }
}

/// TCP segments of a capture, streamed; everything else is counted in [`SkipStats`].
pub struct SegmentReader<R: Read> {
    inner: CaptureReader<R>,
    stats: SkipStats,
}

impl SegmentReader<BufReader<File>> {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Ok(SegmentReader {
            inner: CaptureReader::open(path)?,
            stats: SkipStats::default(),
        })
    }
}

impl<R: Read> SegmentReader<R> {
    pub fn new(inner: CaptureReader<R>) -> Self {
        SegmentReader {
            inner,
            stats: SkipStats::default(),
        }
    }

    /// The next TCP segment, `None` at the end or after an error.
    pub fn next_segment(&mut self) -> Option<Result<TcpSegment<'_>, CaptureError>> {
        // Two-phase lookup keeps the borrow checker happy with a lending reader: decode
        // once to classify, and return the borrowed view only for TCP.
        loop {
            let is_tcp = match self.inner.next_packet()? {
                Err(e) => return Some(Err(e)),
                Ok(pkt) => match decode(&pkt) {
                    Decoded::Tcp(_) => true,
                    Decoded::Skipped(why) => {
                        let n = pkt.number;
                        self.stats.count(n, why);
                        false
                    }
                },
            };
            if is_tcp {
                break;
            }
        }
        self.current()
    }

    fn current(&self) -> Option<Result<TcpSegment<'_>, CaptureError>> {
        let pkt = self.inner.current()?;
        match decode(&pkt) {
            Decoded::Tcp(seg) => Some(Ok(seg)),
            Decoded::Skipped(_) => None,
        }
    }

    pub fn stats(&self) -> &SkipStats {
        &self.stats
    }

    pub fn reader(&self) -> &CaptureReader<R> {
        &self.inner
    }
}
