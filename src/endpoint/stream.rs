//! Drives a sans-I/O `Connection` over a blocking socket.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::endpoint::conn::{Closed, Connection};
use crate::error::Error;

/// A socket that can bound how long one read waits.
pub trait Timed {
    fn set_read_wait(&self, wait: Duration) -> std::io::Result<()>;
}

impl Timed for TcpStream {
    fn set_read_wait(&self, wait: Duration) -> std::io::Result<()> {
        self.set_read_timeout(Some(wait.max(Duration::from_millis(1))))
    }
}

pub struct TlsStream<S: Read + Write + Timed> {
    pub conn: Connection,
    pub sock: S,
    eof: bool,
    /// No read may wait past this instant.
    deadline: Option<Instant>,
    what: &'static str,
}

impl<S: Read + Write + Timed> TlsStream<S> {
    pub fn new(conn: Connection, sock: S) -> Self {
        Self {
            conn,
            sock,
            eof: false,
            deadline: None,
            what: "waiting for the peer",
        }
    }

    /// Every read from now on must finish within `limit` of now; `what` names the phase in
    /// the timeout error.
    pub fn set_deadline(&mut self, limit: Duration, what: &'static str) {
        self.deadline = Some(Instant::now() + limit);
        self.what = what;
    }

    /// Sends whatever the connection has queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        let out = self.conn.take_output();
        if !out.is_empty() {
            self.sock.write_all(&out)?;
            self.sock.flush()?;
        }
        Ok(())
    }

    /// Reads one chunk from the socket into the connection. Returns false at EOF.
    fn read_once(&mut self) -> Result<bool, Error> {
        let mut buf = [0u8; 16 * 1024];
        let n = loop {
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout(self.what));
                }
                self.sock.set_read_wait(left)?;
            }
            match self.sock.read(&mut buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(Error::Timeout(self.what))
                }
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        let result = self.conn.read_tls(&buf[..n]);
        // Send the alert a failure queued before reporting the failure.
        let _ = self.flush();
        result.map(|_| true)
    }

    /// Runs the handshake to completion.
    pub fn handshake(&mut self) -> Result<(), Error> {
        self.flush()?;
        while self.conn.is_handshaking() {
            if !self.read_once()? {
                return Err(Error::PeerClosed("during the handshake"));
            }
        }
        self.flush()
    }

    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send(data)?;
        self.flush()
    }

    /// Whatever application data has arrived; blocks for more if none has. Empty at close.
    pub fn read_some(&mut self) -> Result<Vec<u8>, Error> {
        loop {
            let got = self.conn.take_received();
            if !got.is_empty() {
                return Ok(got);
            }
            if self.conn.closed().is_some() || self.eof {
                return Ok(Vec::new());
            }
            self.read_once()?;
        }
    }

    /// Processes what the peer sends until a session ticket has arrived (TLS 1.3 tickets come
    /// after the handshake, RFC 8446 §4.6.1), or the peer closes. Only for a peer known to
    /// issue tickets: otherwise this waits for the deadline.
    pub fn await_ticket(&mut self) -> Result<(), Error> {
        while self.conn.summary().tickets_issued == 0 && self.conn.closed().is_none() && !self.eof {
            self.read_once()?;
        }
        Ok(())
    }

    /// Reads until `done` says the data so far is complete, or the peer closes.
    pub fn read_until(
        &mut self,
        limit: usize,
        done: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<u8>, Error> {
        let mut all = Vec::new();
        while !done(&all) {
            let chunk = self.read_some()?;
            if chunk.is_empty() {
                break;
            }
            all.extend_from_slice(&chunk);
            if all.len() > limit {
                return Err(Error::Internal(format!(
                    "peer sent more than {limit} bytes"
                )));
            }
        }
        Ok(all)
    }

    /// True if the peer closed properly with close_notify.
    pub fn peer_sent_close_notify(&self) -> bool {
        self.conn.closed() == Some(&Closed::CloseNotify)
    }

    pub fn peer_eof(&self) -> bool {
        self.eof
    }

    /// Reads (and discards) until the peer closes its side of the TCP connection, or the
    /// deadline passes. Lets the peer's FIN come first, so teardown order is deterministic.
    pub fn wait_for_peer_eof(&mut self) {
        let mut buf = [0u8; 4096];
        while !self.eof {
            if let Some(deadline) = self.deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || self.sock.set_read_wait(left).is_err() {
                    return;
                }
            }
            match self.sock.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }

    /// Sends close_notify.
    pub fn close(&mut self) -> Result<(), Error> {
        self.conn.send_close_notify();
        self.flush()
    }
}
