//! Capture file → TCP connections → observed TLS sessions, in `tcp.stream` order. Shared by
//! `inspect`, `attack` and `explain`, so all three number sessions the same way.

use std::collections::BTreeMap;
use std::path::Path;

use crate::attack::observe::ObservedSession;
use crate::capture::{
    CaptureError, Connection, Reassembler, ReassemblyConfig, SegmentReader, SkipStats,
};
use crate::msgs::record::starts_with_client_hello;

/// One TCP connection that carried TLS.
pub struct TlsConnection {
    pub stream: u64,
    pub client: std::net::SocketAddr,
    pub server: std::net::SocketAddr,
    pub session: ObservedSession,
    /// Gaps and truncation in the capture, in its terms.
    pub notes: Vec<String>,
}

/// What was in a capture besides TLS.
#[derive(Debug, Default, Clone)]
pub struct CaptureSummary {
    pub packets: u64,
    pub tcp_connections: u64,
    pub tls_sessions: u64,
    pub non_tls_connections: u64,
    pub skipped: SkipStats,
    /// A read error that ended the capture early (truncated file): what came before was used.
    pub truncated: Option<String>,
}

fn describe_gaps(conn: &Connection) -> Vec<String> {
    let mut notes = Vec::new();
    for (name, half) in [
        ("client → server", &conn.to_server),
        ("server → client", &conn.to_client),
    ] {
        for gap in half.gaps() {
            notes.push(format!(
                "{name}: {} bytes missing at stream offset {} (a segment was not captured); decryption of this direction stops there",
                gap.len, gap.offset
            ));
        }
    }
    notes
}

fn to_tls(conn: Connection) -> Option<TlsConnection> {
    let to_server = conn.to_server.contiguous();
    if !starts_with_client_hello(to_server) {
        return None;
    }
    let notes = describe_gaps(&conn);
    let session = ObservedSession::observe(to_server, conn.to_client.contiguous());
    Some(TlsConnection {
        stream: conn.stream,
        client: conn.client,
        server: conn.server,
        session,
        notes,
    })
}

/// Reads a capture and calls `each` for every TLS connection in stream order. Connections are
/// analysed as soon as they finish and held only until the ones before them are done.
pub fn for_each_tls_connection(
    path: &Path,
    each: impl FnMut(TlsConnection),
) -> Result<CaptureSummary, CaptureError> {
    for_each_tls_connection_with_progress(path, None, each)
}

/// As `for_each_tls_connection`, publishing the bytes read so far in `progress`.
pub fn for_each_tls_connection_with_progress(
    path: &Path,
    progress: Option<&std::sync::atomic::AtomicU64>,
    mut each: impl FnMut(TlsConnection),
) -> Result<CaptureSummary, CaptureError> {
    let mut reader = SegmentReader::open(path)?;
    let mut reassembler = Reassembler::new(ReassemblyConfig::default());
    let mut summary = CaptureSummary::default();
    let mut ready: BTreeMap<u64, Option<TlsConnection>> = BTreeMap::new();
    let mut next_stream: u64 = 0;
    let mut started: u64 = 0;

    let mut emit = |ready: &mut BTreeMap<u64, Option<TlsConnection>>,
                    next: &mut u64,
                    summary: &mut CaptureSummary| {
        while let Some(entry) = ready.remove(next) {
            match entry {
                Some(c) => {
                    summary.tls_sessions += 1;
                    each(c);
                }
                None => summary.non_tls_connections += 1,
            }
            *next += 1;
        }
    };

    loop {
        let seg = match reader.next_segment() {
            None => break,
            Some(Ok(seg)) => seg,
            Some(Err(e)) => {
                summary.truncated = Some(e.to_string());
                break;
            }
        };
        reassembler.push(&seg);
        if let Some(p) = progress {
            p.store(
                reader.reader().offset(),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        while let Some(conn) = reassembler.pop_finished() {
            started = started.max(conn.stream + 1);
            ready.insert(conn.stream, to_tls(conn));
        }
        emit(&mut ready, &mut next_stream, &mut summary);
    }
    for conn in reassembler.end_of_capture() {
        started = started.max(conn.stream + 1);
        ready.insert(conn.stream, to_tls(conn));
    }
    // Streams numbers never handed out (none expected) must not stall the output.
    while next_stream < started {
        ready.entry(next_stream).or_insert(None);
        emit(&mut ready, &mut next_stream, &mut summary);
    }
    emit(&mut ready, &mut next_stream, &mut summary);
    summary.packets = reader.reader().packets();
    summary.tcp_connections = reassembler.stats().connections;
    summary.skipped = reader.stats().clone();
    Ok(summary)
}
