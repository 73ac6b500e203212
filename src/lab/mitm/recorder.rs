//! The victim's socket, recorded: every byte the victim sends or receives goes into the pcap as
//! one synthesised TCP conversation (the capture writer's [`TcpConversation`]), before it is
//! passed on, so the recording reads like the tap's.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::capture::writer::{Direction, PcapWriter, SharedPcapWriter, TcpConversation};
use crate::capture::CaptureError;
use crate::endpoint::stream::Timed;

/// Where the recording of all connections goes, and its first failure.
pub(crate) struct Recording {
    pub writer: SharedPcapWriter,
    pub error: Mutex<Option<CaptureError>>,
}

impl Recording {
    fn with(
        &self,
        conv: &mut TcpConversation,
        f: impl FnOnce(&mut TcpConversation, &mut PcapWriter, Duration) -> Result<(), CaptureError>,
    ) {
        let res = match self.writer.lock() {
            Ok(mut w) => {
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                f(conv, &mut w, ts)
            }
            Err(p) => {
                let mut w = p.into_inner();
                let ts = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                f(conv, &mut w, ts)
            }
        };
        if let Err(e) = res {
            let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                log::error!("mitm: recording failed: {e}");
                *slot = Some(e);
            }
        }
    }
}

/// The victim-side socket; with a recording, a [`TcpConversation`] from the victim (client) to
/// the mitm's listening address (server).
pub(crate) struct VictimSocket {
    pub sock: TcpStream,
    rec: Option<(Arc<Recording>, TcpConversation)>,
}

impl VictimSocket {
    pub fn new(sock: TcpStream, rec: Option<(Arc<Recording>, TcpConversation)>) -> Self {
        let mut s = VictimSocket { sock, rec };
        s.record(|c, w, ts| c.handshake(w, ts));
        s
    }

    fn record(
        &mut self,
        f: impl FnOnce(&mut TcpConversation, &mut PcapWriter, Duration) -> Result<(), CaptureError>,
    ) {
        if let Some((rec, conv)) = &mut self.rec {
            rec.with(conv, f);
        }
    }

    /// Ends the conversation: our FIN, and the victim's if it has not closed yet (it is gone
    /// or about to be: the recording must not stay open).
    pub fn finish(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
        self.record(|c, w, ts| {
            c.fin(w, Direction::ServerToClient, ts)?;
            c.fin(w, Direction::ClientToServer, ts)
        });
    }
}

impl Read for VictimSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.sock.read(buf) {
            Ok(0) => {
                self.record(|c, w, ts| c.fin(w, Direction::ClientToServer, ts));
                Ok(0)
            }
            Ok(n) => {
                let got = buf.get(..n).unwrap_or_default().to_vec();
                self.record(|c, w, ts| c.data(w, Direction::ClientToServer, &got, ts));
                Ok(n)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Err(e)
            }
            Err(e) => {
                self.record(|c, w, ts| c.rst(w, Direction::ClientToServer, ts));
                Err(e)
            }
        }
    }
}

impl Write for VictimSocket {
    /// Records the whole buffer, then sends it all: a reply never precedes its record.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.record(|c, w, ts| c.data(w, Direction::ServerToClient, buf, ts));
        self.sock.write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

impl Timed for VictimSocket {
    fn set_read_wait(&self, wait: Duration) -> io::Result<()> {
        self.sock.set_read_wait(wait)
    }
}
