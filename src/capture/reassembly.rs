//! TCP stream reassembly from captured segments.
//!
//! Connections are keyed by their 4-tuple and numbered from 0 in the order their first
//! packet appears, like Wireshark's `tcp.stream`; a pure SYN with a new initial sequence
//! number on a known 4-tuple starts a new stream, as in Wireshark.
//!
//! Each direction is a [`HalfStream`]: sequence numbers are compared with wrapping
//! 32-bit arithmetic (RFC 9293 §3.4, RFC 1982) and mapped to 64-bit stream offsets.
//! Overlaps: the bytes that arrived FIRST win; later copies of the same offsets are
//! dropped (counted in `retransmitted`). Out-of-order data waits in a buffer capped by
//! [`ReassemblyConfig::max_out_of_order`]; when the cap is passed, or the connection
//! ends, the missing range is given up as a gap and delivery resumes after it, in a new
//! [`Run`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use super::packet::TcpSegment;

/// Limits for the reassembler.
#[derive(Clone, Copy, Debug)]
pub struct ReassemblyConfig {
    /// Out-of-order bytes held per direction before the oldest hole becomes a gap.
    pub max_out_of_order: usize,
    /// How long (capture time) a closed connection's 4-tuple is remembered, so trailing ACKs
    /// and retransmissions stay with it instead of starting a new stream. Forgetting it keeps
    /// memory flat however long the capture.
    pub closed_linger: Duration,
    /// At most this many closed 4-tuples are remembered (the most recently closed), however
    /// short the linger: their table otherwise grows with connections per second × linger
    /// (~60,000 entries, ~12 MB, on `make bench`'s 10x capture).
    pub max_closed: usize,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_out_of_order: 4 << 20,
            // Linux's TIME-WAIT (TCP_TIMEWAIT_LEN): after it the peers themselves no longer
            // take a segment as part of the old connection.
            closed_linger: Duration::from_secs(60),
            // At the 1,000 connections/s of `make bench`'s OpenSSL capture that is 8 s, far
            // longer than a trailing ACK or a retransmission lags behind its connection.
            max_closed: 8192,
        }
    }
}

/// Contiguous bytes of a stream starting at `offset` (0 = first byte after the SYN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub offset: u64,
    pub data: Vec<u8>,
}

impl Run {
    pub fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }
}

/// Bytes never seen: `len` bytes from stream offset `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub offset: u64,
    pub len: u64,
}

/// One direction of a connection.
#[derive(Clone, Debug, Default)]
pub struct HalfStream {
    runs: Vec<Run>,
    /// Sequence number of stream offset 0.
    base: Option<u32>,
    /// Sequence number of the SYN, if one was seen.
    isn: Option<u32>,
    /// Offset of the next byte expected in order.
    next: u64,
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    fin: Option<u64>,
    /// Segments sent in this direction.
    pub packets: u64,
    /// Payload bytes that duplicated bytes already held (retransmissions, overlaps).
    pub retransmitted: u64,
}

impl HalfStream {
    /// The delivered runs, in offset order; a gap lies before each run after the first
    /// (and before the first when it does not start at 0).
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The bytes from offset 0 up to the first gap.
    pub fn contiguous(&self) -> &[u8] {
        match self.runs.first() {
            Some(r) if r.offset == 0 => &r.data,
            _ => &[],
        }
    }

    /// Missing ranges, including one before a FIN whose preceding bytes never came.
    pub fn gaps(&self) -> Vec<Gap> {
        let mut gaps = Vec::new();
        let mut at = 0u64;
        for r in &self.runs {
            if r.offset > at {
                gaps.push(Gap {
                    offset: at,
                    len: r.offset - at,
                });
            }
            at = r.end();
        }
        // Bytes still waiting out of order are not gaps yet; the range before them is.
        let end = self.ooo.keys().next().copied().or(self.fin).unwrap_or(at);
        if end > at && self.next == at {
            gaps.push(Gap {
                offset: at,
                len: end - at,
            });
        }
        gaps
    }

    /// Total bytes delivered.
    pub fn len(&self) -> u64 {
        self.runs.iter().map(|r| r.data.len() as u64).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.runs.iter().all(|r| r.data.is_empty())
    }

    /// Stream offset of the FIN, when one was seen.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// Initial sequence number (from the SYN), when seen.
    pub fn isn(&self) -> Option<u32> {
        self.isn
    }

    /// Bytes waiting out of order.
    pub fn pending(&self) -> usize {
        self.ooo_bytes
    }

    /// All data up to the FIN has arrived.
    fn complete_to_fin(&self) -> bool {
        matches!(self.fin, Some(f) if self.next >= f && self.ooo.is_empty())
    }

    fn syn(&mut self, seq: u32) {
        if self.isn.is_none() {
            self.isn = Some(seq);
        }
        if self.base.is_none() {
            // The SYN occupies one sequence number (RFC 9293 §3.4).
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// Offset of `seq`, relative to the next expected byte with signed 32-bit distance.
    fn offset_of(&self, base: u32, seq: u32) -> i128 {
        let next_seq = base.wrapping_add(self.next as u32);
        i128::from(self.next) + i128::from(seq.wrapping_sub(next_seq) as i32)
    }

    fn insert(&mut self, seq: u32, payload: &[u8], fin: bool, cap: usize) {
        let base = *self.base.get_or_insert(seq);
        let start = self.offset_of(base, seq);
        let end = start + payload.len() as i128;
        if fin && self.fin.is_none() && end >= 0 {
            self.fin = u64::try_from(end).ok();
        }
        let next = i128::from(self.next);
        if end <= next {
            self.retransmitted += payload.len() as u64;
            return;
        }
        // Trim what was already delivered: first-arrived bytes win.
        let skip = usize::try_from((next - start).max(0)).unwrap_or(usize::MAX);
        let data = payload.get(skip..).unwrap_or(&[]);
        self.retransmitted += skip.min(payload.len()) as u64;
        let start = u64::try_from(start.max(next)).unwrap_or(self.next);
        if start == self.next && self.ooo.is_empty() {
            // In order with nothing waiting (nearly every segment): straight onto the stream.
            if !data.is_empty() {
                self.append(data);
            }
            return;
        }
        self.add_ooo(start, data);
        self.drain();
        while self.ooo_bytes > cap {
            self.give_up_hole();
        }
    }

    /// Stores the parts of `[start, start+len)` not already held out of order.
    fn add_ooo(&mut self, start: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = start + data.len() as u64;
        let before = self.ooo_bytes;
        let mut held: Vec<(u64, u64)> = Vec::new();
        if let Some((k, v)) = self.ooo.range(..=start).next_back() {
            held.push((*k, *k + v.len() as u64));
        }
        // start < end here, so the range is never inverted.
        for (k, v) in self.ooo.range(start.saturating_add(1).min(end)..end) {
            held.push((*k, *k + v.len() as u64));
        }
        let mut cursor = start;
        for (k, e) in held {
            if e <= cursor {
                continue;
            }
            if k > cursor {
                self.put(cursor, k.min(end), start, data);
            }
            cursor = cursor.max(e);
            if cursor >= end {
                break;
            }
        }
        if cursor < end {
            self.put(cursor, end, start, data);
        }
        self.retransmitted += (data.len() - (self.ooo_bytes - before)) as u64;
    }

    fn put(&mut self, from: u64, to: u64, start: u64, data: &[u8]) {
        let (a, b) = ((from - start) as usize, (to - start) as usize);
        if let Some(piece) = data.get(a..b) {
            self.ooo_bytes += piece.len();
            self.ooo.insert(from, piece.to_vec());
        }
    }

    /// Moves out-of-order data that now continues the stream into the last run.
    fn drain(&mut self) {
        while let Some(entry) = self.ooo.first_entry() {
            if *entry.key() != self.next {
                break;
            }
            let data = entry.remove();
            self.ooo_bytes -= data.len();
            self.append(&data);
        }
    }

    fn append(&mut self, data: &[u8]) {
        match self.runs.last_mut() {
            Some(r) if r.end() == self.next => r.data.extend_from_slice(data),
            _ => self.runs.push(Run {
                offset: self.next,
                data: data.to_vec(),
            }),
        }
        self.next += data.len() as u64;
    }

    /// Declares the hole before the first out-of-order byte a gap and resumes after it.
    fn give_up_hole(&mut self) {
        if let Some(k) = self.ooo.keys().next().copied() {
            self.next = k;
            self.drain();
        }
    }

    /// End of the connection: every remaining hole becomes a gap.
    fn flush(&mut self) {
        while !self.ooo.is_empty() {
            self.give_up_hole();
        }
    }
}

/// Why a connection was handed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// FIN seen both ways and all data before them arrived.
    Fin,
    /// A RST was seen.
    Reset,
    /// A new SYN reused the 4-tuple.
    Reused,
    /// The capture ended first.
    EndOfCapture,
}

/// A reassembled TCP connection.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Wireshark's `tcp.stream` number.
    pub stream: u64,
    /// Who sent the SYN; else the receiver of a SYN-ACK; else who sent first.
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub first_ts: Duration,
    pub last_ts: Duration,
    /// Packet numbers of the first and last packet.
    pub first_packet: u64,
    pub last_packet: u64,
    pub packets: u64,
    pub to_server: HalfStream,
    pub to_client: HalfStream,
    pub end: Option<EndReason>,
}

impl Connection {
    fn new(stream: u64, seg: &TcpSegment<'_>) -> Self {
        let (client, server) = if seg.flags.syn() && seg.flags.ack() {
            (seg.dst, seg.src)
        } else {
            (seg.src, seg.dst)
        };
        Connection {
            stream,
            client,
            server,
            first_ts: seg.ts,
            last_ts: seg.ts,
            first_packet: seg.number,
            last_packet: seg.number,
            packets: 0,
            to_server: HalfStream::default(),
            to_client: HalfStream::default(),
            end: None,
        }
    }

    fn half_mut(&mut self, from: SocketAddr) -> &mut HalfStream {
        if from == self.client {
            &mut self.to_server
        } else {
            &mut self.to_client
        }
    }

    fn half(&self, from: SocketAddr) -> &HalfStream {
        if from == self.client {
            &self.to_server
        } else {
            &self.to_client
        }
    }
}

/// A finished connection's 4-tuple stays known, so trailing ACKs are not a new stream.
#[derive(Clone, Copy, Debug)]
struct Closed {
    client: SocketAddr,
    isn: [Option<u32>; 2],
    stream: u64,
}

enum Entry {
    Live(Box<Connection>),
    Closed(Closed),
}

/// Counters over the whole capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    pub segments: u64,
    /// Segments for a connection already handed out (trailing ACKs, late retransmissions).
    pub after_close: u64,
    pub connections: u64,
}

/// Streaming reassembler: push segments, pop finished connections, then call
/// [`end_of_capture`](Self::end_of_capture).
pub struct Reassembler {
    cfg: ReassemblyConfig,
    conns: HashMap<(SocketAddr, SocketAddr), Entry>,
    finished: VecDeque<Connection>,
    /// Closed entries by closing time, oldest first, to be forgotten after `closed_linger`.
    closed_order: VecDeque<(Duration, (SocketAddr, SocketAddr), u64)>,
    /// The latest timestamp seen (captures need not be in time order).
    clock: Duration,
    stats: ReassemblyStats,
}

impl Default for Reassembler {
    fn default() -> Self {
        Reassembler::new(ReassemblyConfig::default())
    }
}

impl Reassembler {
    pub fn new(cfg: ReassemblyConfig) -> Self {
        Reassembler {
            cfg,
            conns: HashMap::new(),
            finished: VecDeque::new(),
            closed_order: VecDeque::new(),
            clock: Duration::ZERO,
            stats: ReassemblyStats::default(),
        }
    }

    pub fn stats(&self) -> ReassemblyStats {
        self.stats
    }

    /// Connections still open.
    pub fn live(&self) -> usize {
        self.conns
            .values()
            .filter(|e| matches!(e, Entry::Live(_)))
            .count()
    }

    /// Feeds one segment.
    pub fn push(&mut self, seg: &TcpSegment<'_>) {
        self.stats.segments += 1;
        self.clock = self.clock.max(seg.ts);
        self.forget_closed();
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let pure_syn = seg.flags.syn() && !seg.flags.ack();
        let mut start_new = false;
        match self.conns.get(&key) {
            None => start_new = true,
            Some(Entry::Live(c)) => {
                let h = c.half(seg.src);
                let known = h.isn.or(h.base.map(|b| b.wrapping_sub(1)));
                if pure_syn && known.is_some_and(|isn| isn != seg.seq) {
                    self.finish(key, EndReason::Reused);
                    start_new = true;
                }
            }
            Some(Entry::Closed(c)) => {
                let dir = usize::from(seg.src != c.client);
                let same = c.isn.get(dir).copied().flatten() == Some(seg.seq);
                if pure_syn && !same {
                    start_new = true;
                } else {
                    self.stats.after_close += 1;
                    return;
                }
            }
        }
        if start_new {
            let stream = self.stats.connections;
            self.stats.connections += 1;
            self.conns
                .insert(key, Entry::Live(Box::new(Connection::new(stream, seg))));
        }
        let cap = self.cfg.max_out_of_order;
        let Some(Entry::Live(c)) = self.conns.get_mut(&key) else {
            return;
        };
        c.packets += 1;
        c.last_ts = c.last_ts.max(seg.ts);
        c.first_ts = c.first_ts.min(seg.ts);
        c.last_packet = seg.number;
        let h = c.half_mut(seg.src);
        h.packets += 1;
        let mut seq = seg.seq;
        if seg.flags.syn() {
            h.syn(seg.seq);
            seq = seq.wrapping_add(1);
        }
        if !seg.flags.rst() {
            h.insert(seq, seg.payload, seg.flags.fin(), cap);
        }
        let done = if seg.flags.rst() {
            Some(EndReason::Reset)
        } else if c.to_server.complete_to_fin() && c.to_client.complete_to_fin() {
            Some(EndReason::Fin)
        } else {
            None
        };
        if let Some(why) = done {
            self.finish(key, why);
        }
    }

    /// Next connection that finished (FIN both ways, RST, or 4-tuple reuse).
    pub fn pop_finished(&mut self) -> Option<Connection> {
        self.finished.pop_front()
    }

    /// Ends the capture: returns the queued finished connections and then every open
    /// one (marked [`EndReason::EndOfCapture`]), in stream order.
    pub fn end_of_capture(&mut self) -> Vec<Connection> {
        let keys: Vec<_> = self
            .conns
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Live(_)))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.finish(k, EndReason::EndOfCapture);
        }
        let mut out: Vec<Connection> = self.finished.drain(..).collect();
        out.sort_by_key(|c| c.stream);
        out
    }

    fn finish(&mut self, key: (SocketAddr, SocketAddr), why: EndReason) {
        let Some(Entry::Live(mut c)) = self.conns.remove(&key) else {
            return;
        };
        c.to_server.flush();
        c.to_client.flush();
        c.end = Some(why);
        let closed = Closed {
            client: c.client,
            isn: [known_isn(&c.to_server), known_isn(&c.to_client)],
            stream: c.stream,
        };
        self.conns.insert(key, Entry::Closed(closed));
        self.closed_order.push_back((self.clock, key, c.stream));
        self.finished.push_back(*c);
    }

    /// Drops closed 4-tuples older than `closed_linger`, unless reused since, and the oldest
    /// beyond `max_closed`.
    fn forget_closed(&mut self) {
        while let Some(&(closed_at, key, stream)) = self.closed_order.front() {
            if self.clock.saturating_sub(closed_at) <= self.cfg.closed_linger
                && self.closed_order.len() <= self.cfg.max_closed
            {
                break;
            }
            self.closed_order.pop_front();
            if matches!(self.conns.get(&key), Some(Entry::Closed(c)) if c.stream == stream) {
                self.conns.remove(&key);
            }
        }
    }

    /// 4-tuples of closed connections still remembered (for trailing segments).
    pub fn remembered_closed(&self) -> usize {
        self.conns
            .values()
            .filter(|e| matches!(e, Entry::Closed(_)))
            .count()
    }
}

fn known_isn(h: &HalfStream) -> Option<u32> {
    h.isn.or(h.base.map(|b| b.wrapping_sub(1)))
}
