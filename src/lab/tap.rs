//! The recording relay: accepts TCP connections, connects each upstream, forwards bytes
//! unchanged both ways and records every exchange into one pcap file.
//!
//! Causality: each chunk is recorded (under the writer lock) BEFORE it is forwarded, so
//! a reply can never precede its cause in the file.
//!
//! Teardown: a read of 0 bytes records a FIN and half-closes the other side
//! (`shutdown(Write)`); a read error such as ECONNRESET records a RST from that side and
//! closes both sockets (std cannot set SO_LINGER 0, so the other peer sees a FIN). A
//! failed forward records a RST from the side that could not be written. A refused
//! upstream closes the client, logs one line (the `log` facade, a warning) and records nothing. On
//! [`Tap::stop`] connections still open after the grace period are closed by the tap
//! and recorded as FINs from both sides.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::capture::writer::{Direction, PcapWriter, SharedPcapWriter, TcpConversation};
use crate::capture::CaptureError;
use crate::msgs::record::{could_begin_record, MAX_CIPHERTEXT, RECORD_HEADER_LEN};

/// Gives the (client, server) addresses written for connection `i` (0-based, in
/// accept order) in deterministic mode.
pub type AddrFn = Arc<dyn Fn(u64) -> (SocketAddr, SocketAddr) + Send + Sync>;

/// Settings for byte-identical captures across runs.
#[derive(Clone)]
pub struct DeterministicConfig {
    /// Seeds the initial sequence numbers.
    pub seed: u64,
    /// Timestamp of the first packet (since the Unix epoch).
    pub start: Duration,
    /// Added per packet.
    pub step: Duration,
    pub addrs: AddrFn,
}

impl DeterministicConfig {
    /// Seed and start time, +1 ms per packet, addresses from [`default_virtual_addrs`].
    pub fn new(seed: u64, start: Duration) -> Self {
        DeterministicConfig {
            seed,
            start,
            step: Duration::from_millis(1),
            addrs: Arc::new(default_virtual_addrs),
        }
    }
}

/// Client 10.0.0.2:(40000 + i), server 10.0.0.1:443.
pub fn default_virtual_addrs(i: u64) -> (SocketAddr, SocketAddr) {
    let port = 40000u16.wrapping_add((i % 25536) as u16);
    (
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), port)),
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 443)),
    )
}

/// What is written into the capture.
#[derive(Clone)]
pub enum TapMode {
    /// Real addresses (client's address, upstream address), wall-clock time, random ISNs,
    /// one segment run per read.
    Real,
    /// Virtual addresses and clock, seeded ISNs, data cut at TLS record boundaries.
    Deterministic(DeterministicConfig),
}

/// How to run a [`Tap`].
#[derive(Clone)]
pub struct TapConfig {
    /// Address to bind in [`Tap::start`]; [`Tap::with_listener`] ignores it.
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
    /// The pcap to produce (written as `<output>.partial` until the tap stops).
    pub output: PathBuf,
    pub mode: TapMode,
    pub connect_timeout: Duration,
    /// How long [`Tap::stop`] waits for live connections before closing them.
    pub stop_grace: Duration,
    /// Socket read timeout; bounds how quickly threads notice a stop.
    pub poll: Duration,
}

impl TapConfig {
    pub fn new(listen: SocketAddr, upstream: SocketAddr, output: impl Into<PathBuf>) -> Self {
        TapConfig {
            listen,
            upstream,
            output: output.into(),
            mode: TapMode::Real,
            connect_timeout: Duration::from_secs(5),
            stop_grace: Duration::from_secs(2),
            poll: Duration::from_millis(50),
        }
    }
}

/// What a stopped tap did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapSummary {
    pub path: PathBuf,
    /// Connections relayed (upstream connect succeeded).
    pub relayed: u64,
    /// Connections whose upstream connect failed.
    pub refused: u64,
    pub packets: u64,
}

#[derive(Default)]
struct Counts {
    accepted: u64,
    refused: u64,
    active: u64,
}

struct Shared {
    writer: SharedPcapWriter,
    path: PathBuf,
    upstream: SocketAddr,
    mode: TapMode,
    connect_timeout: Duration,
    poll: Duration,
    stop: AtomicBool,
    kill: AtomicBool,
    counts: Mutex<Counts>,
    changed: Condvar,
    handles: Mutex<Vec<JoinHandle<()>>>,
    error: Mutex<Option<CaptureError>>,
}

/// A running tap. Stop it with [`Tap::stop`]; dropping it stops it too.
pub struct Tap {
    local: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    stop_grace: Duration,
    summary: Option<Result<TapSummary, String>>,
}

impl Tap {
    /// Binds `cfg.listen` and starts.
    pub fn start(cfg: TapConfig) -> Result<Tap, CaptureError> {
        let l = TcpListener::bind(cfg.listen)
            .map_err(|e| CaptureError::io(cfg.listen.to_string(), "bind", e))?;
        Tap::with_listener(l, cfg)
    }

    /// Starts on an already bound listener (bind port 0 and read the port back).
    /// Fails at once when the output file cannot be created.
    pub fn with_listener(listener: TcpListener, cfg: TapConfig) -> Result<Tap, CaptureError> {
        let local = listener
            .local_addr()
            .map_err(|e| CaptureError::io("listener", "local_addr", e))?;
        let mut writer = PcapWriter::create(&cfg.output)?;
        if let TapMode::Deterministic(d) = &cfg.mode {
            writer.set_virtual_clock(d.start, d.step);
        }
        // accept() blocks (no polling while idle); stopping wakes it with a connection.
        listener
            .set_nonblocking(false)
            .map_err(|e| CaptureError::io(local.to_string(), "set_nonblocking", e))?;
        let shared = Arc::new(Shared {
            writer: writer.shared(),
            path: cfg.output.clone(),
            upstream: cfg.upstream,
            mode: cfg.mode.clone(),
            connect_timeout: cfg.connect_timeout,
            poll: cfg.poll,
            stop: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            counts: Mutex::new(Counts::default()),
            changed: Condvar::new(),
            handles: Mutex::new(Vec::new()),
            error: Mutex::new(None),
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("tap-accept".into())
            .spawn(move || accept_loop(&s, &listener))
            .map_err(|e| CaptureError::io("tap", "spawn", e))?;
        Ok(Tap {
            local,
            shared,
            accept: Some(accept),
            stop_grace: cfg.stop_grace,
            summary: None,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Connections accepted so far (relayed or refused).
    pub fn accepted(&self) -> u64 {
        lock(&self.shared.counts).accepted
    }

    /// Connections accepted and not yet finished.
    pub fn active(&self) -> u64 {
        lock(&self.shared.counts).active
    }

    /// Waits until at least `connections` were accepted and none is active; false on
    /// timeout.
    pub fn wait_idle(&self, connections: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut c = lock(&self.shared.counts);
        loop {
            if c.accepted >= connections && c.active == 0 {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = match self.shared.changed.wait_timeout(c, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Stops accepting, waits up to the grace period for live connections (then closes
    /// them, recording FINs), and renames the capture into place.
    pub fn stop(mut self) -> Result<TapSummary, CaptureError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<TapSummary, CaptureError> {
        if let Some(prev) = &self.summary {
            return prev.clone().map_err(|what| CaptureError::Build { what });
        }
        let sh = &self.shared;
        sh.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            // Wake the blocked accept() with a connection of our own; should that fail, the
            // thread stays parked in accept() (it holds nothing but the listener) rather than
            // hanging the stop.
            if wake_listener(self.local, self.shared.connect_timeout) {
                let _ = h.join();
            }
        }
        let accepted = self.accepted();
        if !self.wait_idle(accepted, self.stop_grace) {
            sh.kill.store(true, Ordering::SeqCst);
            let _ = self.wait_idle(accepted, self.stop_grace + sh.poll * 4);
        }
        let handles: Vec<_> = lock(&sh.handles).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
        let res = (|| {
            let mut w = sh
                .writer
                .lock()
                .map_err(|_| CaptureError::WriterUnavailable {
                    path: sh.path.clone(),
                })?;
            let packets = w.packets();
            let path = w.finish()?;
            if let Some(e) = lock(&sh.error).take() {
                return Err(e);
            }
            let c = lock(&sh.counts);
            Ok(TapSummary {
                path,
                relayed: c.accepted.saturating_sub(c.refused),
                refused: c.refused,
                packets,
            })
        })();
        self.summary = Some(res.as_ref().map(Clone::clone).map_err(ToString::to_string));
        res
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        if self.summary.is_none() {
            let _ = self.shutdown();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Connects to the tap's own listener so a blocked accept() returns and sees the stop flag.
fn wake_listener(local: SocketAddr, timeout: Duration) -> bool {
    let mut addr = local;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    TcpStream::connect_timeout(&addr, timeout.max(Duration::from_millis(100))).is_ok()
}

fn accept_loop(sh: &Arc<Shared>, listener: &TcpListener) {
    loop {
        let accepted = listener.accept();
        if sh.stop.load(Ordering::SeqCst) {
            // The wake-up connection from `shutdown`, or a client arriving as the tap stops:
            // neither is relayed nor recorded.
            return;
        }
        match accepted {
            Ok((client, peer)) => {
                let index = {
                    let mut c = lock(&sh.counts);
                    c.accepted += 1;
                    c.active += 1;
                    c.accepted - 1
                };
                let s = Arc::clone(sh);
                let spawned = thread::Builder::new()
                    .name(format!("tap-conn-{index}"))
                    .spawn(move || connection(&s, index, client, peer));
                match spawned {
                    Ok(h) => {
                        let mut handles = lock(&sh.handles);
                        // Finished relays need no join: keep the list as long as the live ones.
                        handles.retain(|h| !h.is_finished());
                        handles.push(h);
                    }
                    Err(e) => {
                        log::error!("tap: cannot start a thread for connection {index}: {e}");
                        end_connection(sh, false);
                    }
                }
            }
            Err(e) => {
                log::warn!("tap: accept failed: {e}");
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

fn end_connection(sh: &Shared, refused: bool) {
    let mut c = lock(&sh.counts);
    c.active = c.active.saturating_sub(1);
    if refused {
        c.refused += 1;
    }
    sh.changed.notify_all();
}

/// One relayed connection; shared by its two pump threads.
struct Conn {
    sh: Arc<Shared>,
    conv: Mutex<TcpConversation>,
    client: TcpStream,
    server: TcpStream,
    pumps_left: AtomicU8,
    /// Signalled when a FIN is recorded, for the deterministic teardown order.
    fin_recorded: Condvar,
}

/// How long a deterministic recording holds the server's FIN back for the client's.
const TEARDOWN_ORDER_WAIT: Duration = Duration::from_secs(2);

fn connection(sh: &Arc<Shared>, index: u64, client: TcpStream, peer: SocketAddr) {
    let server = match TcpStream::connect_timeout(&sh.upstream, sh.connect_timeout) {
        Ok(s) => s,
        Err(e) => {
            log::warn!(
                "tap: connection {index} from {peer}: upstream {} failed: {e}; closing client",
                sh.upstream
            );
            let _ = client.shutdown(Shutdown::Both);
            end_connection(sh, true);
            return;
        }
    };
    let (conv, det) = match &sh.mode {
        TapMode::Real => (
            TcpConversation::new(peer, sh.upstream, rand::random(), rand::random()),
            false,
        ),
        TapMode::Deterministic(d) => {
            let (c, s) = (d.addrs)(index);
            (
                TcpConversation::new(
                    c,
                    s,
                    seeded_isn(d.seed, index, 0),
                    seeded_isn(d.seed, index, 1),
                ),
                true,
            )
        }
    };
    let setup = (|| {
        for s in [&client, &server] {
            s.set_nonblocking(false)?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(sh.poll))?;
            s.set_write_timeout(Some(Duration::from_secs(5)))?;
        }
        Ok::<_, io::Error>((client.try_clone()?, server.try_clone()?))
    })();
    let (c2, s2) = match setup {
        Ok(p) => p,
        Err(e) => {
            log::warn!("tap: connection {index}: socket setup failed: {e}");
            end_connection(sh, true);
            return;
        }
    };
    let conn = Arc::new(Conn {
        sh: Arc::clone(sh),
        conv: Mutex::new(conv),
        client,
        server,
        pumps_left: AtomicU8::new(2),
        fin_recorded: Condvar::new(),
    });
    conn.record(|conv, w, ts| conv.handshake(w, ts));
    let back = Arc::clone(&conn);
    let spawned = thread::Builder::new()
        .name(format!("tap-s2c-{index}"))
        .spawn(move || pump(&back, Direction::ServerToClient, s2, det));
    match spawned {
        Ok(h) => lock(&sh.handles).push(h),
        Err(e) => {
            log::error!("tap: connection {index}: cannot start a thread: {e}");
            conn.pump_done();
        }
    }
    pump(&conn, Direction::ClientToServer, c2, det);
}

/// ISN for connection `index`, side 0 (client) or 1 (server): the first four bytes of
/// SHA-256 over a label, the seed and both numbers.
fn seeded_isn(seed: u64, index: u64, side: u8) -> u32 {
    let mut h = Sha256::new();
    h.update(b"pfslab tap isn");
    h.update(seed.to_be_bytes());
    h.update(index.to_be_bytes());
    h.update([side]);
    let d = h.finalize();
    match d.get(0..4) {
        Some([a, b, c, e]) => u32::from_be_bytes([*a, *b, *c, *e]),
        _ => 0,
    }
}

impl Conn {
    /// Runs `f` with the conversation and the writer locked (in that order).
    fn record(
        &self,
        f: impl FnOnce(&mut TcpConversation, &mut PcapWriter, Duration) -> Result<(), CaptureError>,
    ) {
        let mut conv = lock(&self.conv);
        let res = match self.sh.writer.lock() {
            Ok(mut w) => {
                // Wall time is read under the lock so timestamps never go backwards.
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                f(&mut conv, &mut w, ts)
            }
            Err(_) => Err(CaptureError::WriterUnavailable {
                path: self.sh.path.clone(),
            }),
        };
        if let Err(e) = res {
            let mut slot = lock(&self.sh.error);
            if slot.is_none() {
                log::error!("tap: recording failed: {e}");
                *slot = Some(e);
            }
        }
    }

    fn socket(&self, dir: Direction) -> &TcpStream {
        match dir {
            Direction::ClientToServer => &self.server,
            Direction::ServerToClient => &self.client,
        }
    }

    /// Deterministic recordings put the client's FIN first, whichever side closed first in
    /// real time (the server closes as soon as close_notify is exchanged): the recorder, not
    /// the peers' timing, orders the teardown. Bounded, for a client that never closes.
    fn await_client_fin(&self) {
        let conv = lock(&self.conv);
        let _ = self
            .fin_recorded
            .wait_timeout_while(conv, TEARDOWN_ORDER_WAIT, |c| {
                !c.is_half_closed(Direction::ClientToServer)
            });
    }

    fn close_both(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.server.shutdown(Shutdown::Both);
    }

    fn pump_done(&self) {
        if self.pumps_left.fetch_sub(1, Ordering::SeqCst) == 1 {
            end_connection(&self.sh, false);
        }
    }
}

/// Copies `from` to the socket on the other side, recording each chunk first.
fn pump(conn: &Arc<Conn>, dir: Direction, mut from: TcpStream, deterministic: bool) {
    let mut framer = Framer::new(deterministic);
    let mut buf = vec![0u8; 16 * 1024];
    let to = conn.socket(dir);
    loop {
        match from.read(&mut buf) {
            Ok(0) => {
                if let Some(rest) = framer.take() {
                    if !forward(conn, dir, to, &rest) {
                        break;
                    }
                }
                if deterministic && dir == Direction::ServerToClient {
                    conn.await_client_fin();
                }
                // Recorded before it is passed on, so nothing the peer does next comes first.
                conn.record(|c, w, ts| c.fin(w, dir, ts));
                conn.fin_recorded.notify_all();
                let _ = to.shutdown(Shutdown::Write);
                break;
            }
            Ok(n) => {
                let chunks = framer.push(buf.get(..n).unwrap_or(&[]));
                if !chunks.iter().all(|ch| forward(conn, dir, to, ch)) {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if framer.stalled() {
                    if let Some(rest) = framer.take() {
                        if !forward(conn, dir, to, &rest) {
                            break;
                        }
                    }
                }
                if conn.sh.kill.load(Ordering::SeqCst) {
                    conn.record(|c, w, ts| {
                        c.fin(w, dir, ts)?;
                        c.fin(w, dir.reverse(), ts)
                    });
                    conn.close_both();
                    break;
                }
            }
            Err(_) => {
                // ECONNRESET and friends: that side reset the connection.
                conn.record(|c, w, ts| c.rst(w, dir, ts));
                conn.close_both();
                break;
            }
        }
        if lock(&conn.conv).is_half_closed(dir) {
            break;
        }
    }
    conn.pump_done();
}

/// Records then forwards one chunk; false when the connection is over.
fn forward(conn: &Conn, dir: Direction, mut to: &TcpStream, chunk: &[u8]) -> bool {
    if lock(&conn.conv).is_half_closed(dir) {
        return false;
    }
    conn.record(|c, w, ts| c.data(w, dir, chunk, ts));
    if to.write_all(chunk).is_err() {
        conn.record(|c, w, ts| c.rst(w, dir.reverse(), ts));
        conn.close_both();
        return false;
    }
    true
}

/// A partial record older than this is passed on as it is (the peer is not TLS, or
/// is stalling mid-record).
const STALL: Duration = Duration::from_millis(500);

#[derive(PartialEq, Eq)]
enum FrameMode {
    Detect,
    Tls,
    Raw,
}

/// Cuts a byte stream at TLS record boundaries (deterministic mode) or passes read
/// chunks through (real mode, or once the bytes are seen not to be TLS).
struct Framer {
    mode: FrameMode,
    buf: Vec<u8>,
    since: Option<Instant>,
}

impl Framer {
    fn new(deterministic: bool) -> Self {
        Framer {
            mode: if deterministic {
                FrameMode::Detect
            } else {
                FrameMode::Raw
            },
            buf: Vec::new(),
            since: None,
        }
    }

    fn push(&mut self, data: &[u8]) -> Vec<Vec<u8>> {
        if self.mode == FrameMode::Raw {
            return vec![data.to_vec()];
        }
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        loop {
            match tls_record_len(&self.buf) {
                Some(Ok(len)) if self.buf.len() >= len => {
                    self.mode = FrameMode::Tls;
                    let rest = self.buf.split_off(len);
                    out.push(std::mem::replace(&mut self.buf, rest));
                }
                Some(Ok(_)) | None => break,
                Some(Err(())) => {
                    // Not TLS: from here on, chunks as read.
                    self.mode = FrameMode::Raw;
                    if !self.buf.is_empty() {
                        out.push(std::mem::take(&mut self.buf));
                    }
                    break;
                }
            }
        }
        self.since = if self.buf.is_empty() {
            None
        } else {
            self.since.or(Some(Instant::now()))
        };
        out
    }

    fn stalled(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= STALL)
    }

    fn take(&mut self) -> Option<Vec<u8>> {
        self.since = None;
        if self.buf.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.buf))
        }
    }
}

/// Whole length of the record at the start of `b`: `None` if more bytes are needed,
/// `Err` if the bytes cannot start a TLS record.
fn tls_record_len(b: &[u8]) -> Option<Result<usize, ()>> {
    if !could_begin_record(b) {
        return Some(Err(()));
    }
    match b {
        [_, _, _, hi, lo, ..] => {
            let len = usize::from(u16::from_be_bytes([*hi, *lo]));
            if len > MAX_CIPHERTEXT {
                Some(Err(()))
            } else {
                Some(Ok(RECORD_HEADER_LEN + len))
            }
        }
        _ => None,
    }
}
