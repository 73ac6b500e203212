//! The lab's TLS client over TCP: one request, one response.

use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crate::crypto::rng::LabRng;
use crate::endpoint::client::{client_connection, ClientConfig};
use crate::endpoint::conn::SessionSummary;
use crate::endpoint::stream::TlsStream;
use crate::error::Error;

/// The result of one exchange.
pub struct Exchange {
    pub summary: SessionSummary,
    pub response: Vec<u8>,
    /// The server ended with close_notify (rather than a bare TCP close).
    pub clean_close: bool,
    /// A session to resume later, if the server gave one (session ID, ticket or TLS 1.3 PSK).
    pub resumable: Option<crate::endpoint::session::ClientSession>,
}

/// Resolves `host:port`; the first address wins.
pub fn resolve(target: &str) -> Result<SocketAddr, Error> {
    target
        .to_socket_addrs()
        .map_err(|e| {
            Error::Io(std::io::Error::new(
                e.kind(),
                format!("cannot resolve '{target}': {e}"),
            ))
        })?
        .next()
        .ok_or_else(|| {
            Error::Io(std::io::Error::other(format!(
                "'{target}' resolves to no address"
            )))
        })
}

/// Connects, handshakes, sends `request`, reads the response until the server closes.
pub fn exchange(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    rng: LabRng,
    request: &[u8],
    timeout: Duration,
) -> Result<Exchange, Error> {
    exchange_with(addr, config, rng, request, timeout, false)
}

/// [`exchange`]; with `await_ticket`, a TLS 1.3 client waits for the server's ticket before it
/// sends the request, so a recording's packet order does not depend on which of the two
/// reaches the tap first (`record` uses it for seeded resumption chains).
pub fn exchange_with(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    rng: LabRng,
    request: &[u8],
    timeout: Duration,
    await_ticket: bool,
) -> Result<Exchange, Error> {
    let sock = TcpStream::connect_timeout(&addr, timeout).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot connect to {addr}: {e}"),
        ))
    })?;
    sock.set_write_timeout(Some(timeout))?;
    let _ = sock.set_nodelay(true);
    let mut tls = TlsStream::new(client_connection(config, rng)?, sock);
    tls.set_deadline(timeout, "waiting for the server's handshake");
    tls.handshake()?;
    let tls13 = tls
        .conn
        .summary()
        .suite
        .is_some_and(|s| s.key_exchange == crate::suites::KeyExchange::Tls13);
    if await_ticket && tls13 {
        tls.set_deadline(timeout, "waiting for the server's session ticket");
        tls.await_ticket()?;
    }
    tls.write_all(request)?;
    tls.set_deadline(timeout, "waiting for the server's response");
    let mut response = Vec::new();
    loop {
        let chunk = tls.read_some()?;
        if chunk.is_empty() {
            break;
        }
        response.extend_from_slice(&chunk);
    }
    let clean_close = tls.peer_sent_close_notify();
    // Read after the response: TLS 1.3 tickets arrive after the handshake (RFC 8446 §4.6.1).
    let resumable = tls.conn.resumable_session().cloned();
    let summary = tls.conn.summary().clone();
    let _ = tls.close();
    let _ = tls.sock.shutdown(Shutdown::Write);
    // Drain until the server closes too, briefly.
    tls.set_deadline(
        Duration::from_millis(500).min(timeout),
        "waiting for the server to close",
    );
    let _ = std::io::Read::read(&mut tls.sock, &mut [0u8; 64]);
    Ok(Exchange {
        summary,
        response,
        clean_close,
        resumable,
    })
}

/// Turns a request line (or a whole request) into request bytes: a bare line gets a Host
/// header and the blank line that ends the head.
pub fn build_request(request: &str, host: &str) -> Vec<u8> {
    let text = request.replace("\\r\\n", "\r\n");
    if text.contains("\r\n\r\n") {
        return text.into_bytes();
    }
    let line = text.trim_end_matches(['\r', '\n']);
    format!("{line}\r\nHost: {host}\r\nUser-Agent: pfslab-client\r\n\r\n").into_bytes()
}
