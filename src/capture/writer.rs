//! Classic pcap writer (LINKTYPE_ETHERNET, microsecond timestamps) and a TCP
//! conversation model that synthesises Ethernet/IPv4-or-IPv6/TCP frames.
//!
//! Frames are built with etherparse; the file format (global header, record headers) is
//! written by pcap-file's `PcapWriter`. The file is written as `<path>.partial` and
//! renamed by [`PcapWriter::finish`], so a crash never leaves a complete-looking file.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use etherparse::{
    IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6Header, PacketBuilder,
    TcpHeader,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter as PcapFileWriter};
use pcap_file::{DataLink, Endianness, PcapError, TsResolution};

use super::CaptureError;

/// Largest TCP payload per synthesised segment (Ethernet MTU 1500 - 20 - 20).
pub const MSS: usize = 1460;
/// Receive window advertised in every segment; no window scaling (RFC 7323) is offered.
pub const WINDOW: u16 = 65535;
/// A pure ACK is emitted after this many bytes in flight, well under [`WINDOW`].
const ACK_EVERY: usize = 16 * MSS;
const SNAPLEN: u32 = 65535;

/// A writer shared by many threads; each lock holder writes whole packets.
pub type SharedPcapWriter = Arc<Mutex<PcapWriter>>;

/// Classic pcap writer to `<path>.partial`, renamed to `path` on [`finish`](Self::finish).
pub struct PcapWriter {
    path: PathBuf,
    partial: PathBuf,
    /// pcap-file's writer over the file; `None` once finished.
    out: Option<PcapFileWriter<FileSink>>,
    /// The same buffered file, for flush and fsync.
    file: FileSink,
    packets: u64,
    frame: Vec<u8>,
    clock: Option<(Duration, Duration)>,
}

impl PcapWriter {
    /// Creates `<path>.partial` and writes the global header (native byte order).
    pub fn create(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let path = path.as_ref().to_path_buf();
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|e| CaptureError::io(&partial, "create", e))?;
        let file = FileSink::new(file);
        let out = PcapFileWriter::with_header(file.clone(), global_header())
            .map_err(|e| pcap_error(&partial, "write header", e))?;
        let mut w = PcapWriter {
            path,
            partial,
            out: Some(out),
            file,
            packets: 0,
            frame: Vec::with_capacity(1600),
            clock: None,
        };
        w.flush()?;
        Ok(w)
    }

    /// Wraps the writer for use from many threads.
    pub fn shared(self) -> SharedPcapWriter {
        Arc::new(Mutex::new(self))
    }

    /// Virtual clock: from now on packet `n` (0-based, counted over the file) is stamped
    /// `start + n * step` and the timestamps passed in are ignored.
    pub fn set_virtual_clock(&mut self, start: Duration, step: Duration) {
        self.clock = Some((start, step));
    }

    /// Final path (after [`finish`](Self::finish)).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once [`finish`](Self::finish) has run.
    pub fn is_finished(&self) -> bool {
        self.out.is_none()
    }

    /// Path being written now.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    /// Packets written so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Writes one Ethernet frame.
    pub fn write_frame(&mut self, ts: Duration, frame: &[u8]) -> Result<(), CaptureError> {
        let ts = match self.clock {
            Some((start, step)) => {
                start + step.saturating_mul(u32::try_from(self.packets).unwrap_or(u32::MAX))
            }
            None => ts,
        };
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| CaptureError::WriterUnavailable {
                path: self.path.clone(),
            })?;
        // pcap-file checks both too, but with messages of its own: keep ours.
        let len = u32::try_from(frame.len())
            .ok()
            .filter(|l| *l <= SNAPLEN)
            .ok_or_else(|| CaptureError::Build {
                what: format!("frame of {} bytes exceeds snaplen", frame.len()),
            })?;
        if u32::try_from(ts.as_secs()).is_err() {
            return Err(CaptureError::Build {
                what: "timestamp after 2106 does not fit classic pcap".into(),
            });
        }
        out.write_packet(&PcapPacket::new(ts, len, frame))
            .map_err(|e| pcap_error(&self.partial, "write packet", e))?;
        self.packets += 1;
        Ok(())
    }

    /// Pushes buffered packets to the file so readers see them.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        if self.out.is_some() {
            self.file
                .flush()
                .map_err(|e| CaptureError::io(&self.partial, "flush", e))?;
        }
        Ok(())
    }

    /// Flushes, fsyncs and renames `<path>.partial` to `path`; returns `path`.
    /// Later writes fail with [`CaptureError::WriterUnavailable`].
    pub fn finish(&mut self) -> Result<PathBuf, CaptureError> {
        let out = self
            .out
            .take()
            .ok_or_else(|| CaptureError::WriterUnavailable {
                path: self.path.clone(),
            })?;
        drop(out);
        let file = self
            .file
            .take()
            .map_err(|e| CaptureError::io(&self.partial, "flush", e))?
            .into_inner()
            .map_err(|e| CaptureError::io(&self.partial, "flush", e.into_error()))?;
        file.sync_all()
            .map_err(|e| CaptureError::io(&self.partial, "fsync", e))?;
        drop(file);
        fs::rename(&self.partial, &self.path)
            .map_err(|e| CaptureError::io(&self.path, "rename", e))?;
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            // Make the rename durable; not every platform can fsync a directory.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(self.path.clone())
    }
}

/// Classic pcap global header in native byte order: magic a1b2c3d4 (microseconds),
/// version 2.4, snaplen, LINKTYPE_ETHERNET (1).
fn global_header() -> PcapHeader {
    PcapHeader {
        version_major: 2,
        version_minor: 4,
        ts_correction: 0,
        ts_accuracy: 0,
        snaplen: SNAPLEN,
        datalink: DataLink::ETHERNET,
        ts_resolution: TsResolution::MicroSecond,
        endianness: Endianness::native(),
    }
}

/// pcap-file's I/O errors become ours; anything else is a packet it refused to encode.
fn pcap_error(path: &Path, op: &'static str, e: PcapError) -> CaptureError {
    match e {
        PcapError::IoError(e) => CaptureError::io(path, op, e),
        e => CaptureError::Build {
            what: e.to_string(),
        },
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        // Not finished: leave `<path>.partial` flushed but never renamed.
        if self.out.is_some() {
            let _ = self.file.flush();
        }
    }
}

/// The buffered `.partial` file, held both by pcap-file's writer and by [`PcapWriter`]:
/// pcap-file 2.0.0's `PcapWriter` lends out no reference to its writer, and ours must
/// flush while it keeps writing, and fsync and close the file on finish. Only the holder
/// of the [`PcapWriter`] takes the lock, so it is never contended.
#[derive(Clone)]
struct FileSink(Arc<Mutex<Option<BufWriter<File>>>>);

impl FileSink {
    fn new(file: File) -> Self {
        FileSink(Arc::new(Mutex::new(Some(BufWriter::new(file)))))
    }

    fn with<T>(&self, f: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>) -> io::Result<T> {
        let mut file = self.lock()?;
        match file.as_mut() {
            Some(file) => f(file),
            None => Err(io::Error::other("capture file already closed")),
        }
    }

    /// Takes the file out; later writes fail.
    fn take(&self) -> io::Result<BufWriter<File>> {
        self.lock()?
            .take()
            .ok_or_else(|| io::Error::other("capture file already closed"))
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, Option<BufWriter<File>>>> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("a thread panicked while writing the capture"))
    }
}

impl Write for FileSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|f| f.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.with(|f| f.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with(|f| f.flush())
    }
}

/// Which way a segment travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    /// The other way.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    fn idx(self) -> usize {
        match self {
            Direction::ClientToServer => 0,
            Direction::ServerToClient => 1,
        }
    }
}

/// TCP control bits (RFC 9293 §3.1).
mod flag {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One synthesised TCP connection: addresses, MACs and the sequence state of both sides.
///
/// Methods write whole exchanges (segment + the peer's ACK) so the capture reads as a
/// well-behaved connection to Wireshark's TCP analysis.
#[derive(Clone, Debug)]
pub struct TcpConversation {
    addr: [SocketAddr; 2],
    mac: [[u8; 6]; 2],
    isn: [u32; 2],
    /// Next sequence number each side will send (RFC 9293 SND.NXT).
    next: [u32; 2],
    ident: [u16; 2],
    fin_sent: [bool; 2],
    reset: bool,
    open: bool,
}

/// Default MACs: locally administered addresses (bit 0x02 of the first octet).
pub const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
pub const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

impl TcpConversation {
    /// A connection from `client` to `server` with the given initial sequence numbers.
    pub fn new(client: SocketAddr, server: SocketAddr, client_isn: u32, server_isn: u32) -> Self {
        TcpConversation {
            addr: [client, server],
            mac: [CLIENT_MAC, SERVER_MAC],
            isn: [client_isn, server_isn],
            next: [client_isn, server_isn],
            // IPv4 identification starts from a value derived from the ISN (RFC 6864 allows any).
            ident: [(client_isn >> 16) as u16, (server_isn >> 16) as u16],
            fin_sent: [false; 2],
            reset: false,
            open: false,
        }
    }

    /// Replaces the client and server MAC addresses.
    pub fn with_macs(mut self, client: [u8; 6], server: [u8; 6]) -> Self {
        self.mac = [client, server];
        self
    }

    pub fn client(&self) -> SocketAddr {
        self.addr[0]
    }

    pub fn server(&self) -> SocketAddr {
        self.addr[1]
    }

    /// Initial sequence numbers (client, server).
    pub fn isns(&self) -> (u32, u32) {
        (self.isn[0], self.isn[1])
    }

    /// True after a RST, or after both FINs.
    pub fn is_closed(&self) -> bool {
        self.reset || (self.fin_sent[0] && self.fin_sent[1])
    }

    /// True once `dir` has sent its FIN (or the connection was reset).
    pub fn is_half_closed(&self, dir: Direction) -> bool {
        self.reset || self.fin_sent[dir.idx()]
    }

    /// SYN, SYN-ACK, ACK (RFC 9293 §3.5). A second call does nothing.
    pub fn handshake(&mut self, w: &mut PcapWriter, ts: Duration) -> Result<(), CaptureError> {
        if self.open || self.reset {
            return Ok(());
        }
        let (c, s) = (Direction::ClientToServer, Direction::ServerToClient);
        self.segment(w, ts, c, flag::SYN, 0, &[])?;
        self.next[0] = self.next[0].wrapping_add(1);
        let ack = self.next[0];
        self.segment(w, ts, s, flag::SYN | flag::ACK, ack, &[])?;
        self.next[1] = self.next[1].wrapping_add(1);
        let ack = self.next[1];
        self.segment(w, ts, c, flag::ACK, ack, &[])?;
        self.open = true;
        w.flush()
    }

    /// `bytes` from `dir` in segments of at most [`MSS`] bytes, PSH on the last, then a
    /// pure ACK from the peer. Empty data, or data after FIN/RST, writes nothing.
    pub fn data(
        &mut self,
        w: &mut PcapWriter,
        dir: Direction,
        bytes: &[u8],
        ts: Duration,
    ) -> Result<(), CaptureError> {
        if bytes.is_empty() || self.reset || self.fin_sent[dir.idx()] {
            return Ok(());
        }
        self.handshake(w, ts)?;
        let (d, p) = (dir.idx(), dir.reverse().idx());
        let mut unacked = 0usize;
        let mut chunks = bytes.chunks(MSS).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            let flags = if last {
                flag::ACK | flag::PSH
            } else {
                flag::ACK
            };
            let ack = self.next[p];
            self.segment(w, ts, dir, flags, ack, chunk)?;
            // usize -> u32 cannot lose data: chunk.len() <= MSS.
            self.next[d] = self.next[d].wrapping_add(chunk.len() as u32);
            unacked += chunk.len();
            if last || unacked >= ACK_EVERY {
                let ack = self.next[d];
                self.segment(w, ts, dir.reverse(), flag::ACK, ack, &[])?;
                unacked = 0;
            }
        }
        w.flush()
    }

    /// FIN from `dir` and the peer's ACK (RFC 9293 §3.6). Repeated calls do nothing.
    pub fn fin(
        &mut self,
        w: &mut PcapWriter,
        dir: Direction,
        ts: Duration,
    ) -> Result<(), CaptureError> {
        if self.reset || self.fin_sent[dir.idx()] {
            return Ok(());
        }
        self.handshake(w, ts)?;
        let (d, p) = (dir.idx(), dir.reverse().idx());
        let ack = self.next[p];
        self.segment(w, ts, dir, flag::FIN | flag::ACK, ack, &[])?;
        self.next[d] = self.next[d].wrapping_add(1);
        self.fin_sent[d] = true;
        let ack = self.next[d];
        self.segment(w, ts, dir.reverse(), flag::ACK, ack, &[])?;
        w.flush()
    }

    /// RST+ACK from `dir` (RFC 9293 §3.5.2); the connection is closed afterwards.
    pub fn rst(
        &mut self,
        w: &mut PcapWriter,
        dir: Direction,
        ts: Duration,
    ) -> Result<(), CaptureError> {
        if self.reset {
            return Ok(());
        }
        let ack = self.next[dir.reverse().idx()];
        let flags = if self.open {
            flag::RST | flag::ACK
        } else {
            flag::RST
        };
        self.segment(w, ts, dir, flags, if self.open { ack } else { 0 }, &[])?;
        self.reset = true;
        w.flush()
    }

    fn segment(
        &mut self,
        w: &mut PcapWriter,
        ts: Duration,
        dir: Direction,
        flags: u8,
        ack: u32,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        let (d, p) = (dir.idx(), dir.reverse().idx());
        let (src, dst) = (self.addr[d], self.addr[p]);
        let mut tcp = TcpHeader::new(src.port(), dst.port(), self.next[d], WINDOW);
        tcp.fin = flags & flag::FIN != 0;
        tcp.syn = flags & flag::SYN != 0;
        tcp.rst = flags & flag::RST != 0;
        tcp.psh = flags & flag::PSH != 0;
        tcp.ack = flags & flag::ACK != 0;
        if tcp.ack {
            tcp.acknowledgment_number = ack;
        }
        let ip =
            match (src.ip(), dst.ip()) {
                (IpAddr::V4(s), IpAddr::V4(t)) => {
                    let mut h = Ipv4Header::new(0, 64, IpNumber::TCP, s.octets(), t.octets())
                        .map_err(|e| CaptureError::Build {
                            what: e.to_string(),
                        })?;
                    h.identification = self.ident[d];
                    self.ident[d] = self.ident[d].wrapping_add(1);
                    IpHeaders::Ipv4(h, Ipv4Extensions::default())
                }
                (s, t) => {
                    let h = Ipv6Header {
                        hop_limit: 64,
                        source: v6(s).octets(),
                        destination: v6(t).octets(),
                        ..Ipv6Header::default()
                    };
                    IpHeaders::Ipv6(h, Ipv6Extensions::default())
                }
            };
        let builder = PacketBuilder::ethernet2(self.mac[d], self.mac[p])
            .ip(ip)
            .tcp_header(tcp);
        let mut frame = std::mem::take(&mut w.frame);
        frame.clear();
        let built = builder
            .write(&mut frame, payload)
            .map_err(|e| CaptureError::Build {
                what: e.to_string(),
            });
        let res = built.and_then(|()| w.write_frame(ts, &frame));
        w.frame = frame;
        res
    }
}

/// IPv4 addresses become IPv4-mapped IPv6 addresses (RFC 4291 §2.5.5.2) in mixed pairs.
fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}
