//! The lab's TLS server over TCP: one thread per connection, bounded in number and in time,
//! so a stalled or hostile client blocks nobody.

use std::io::Read as _;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::crypto::rng::{self, LabRng};
use crate::endpoint::server::{server_connection, ServerConfig};
use crate::endpoint::stream::TlsStream;
use crate::error::Error;
use crate::lab::bank;
use crate::lab::connection_thread;

#[derive(Clone)]
pub struct ServerOptions {
    pub config: Arc<ServerConfig>,
    /// Limit for the handshake and for each later wait on the client.
    pub timeout: Duration,
    /// Connections served at once; more are closed on arrival.
    pub max_connections: usize,
    /// Per-connection randomness follows from this seed and the connection's number.
    pub seed: Option<u64>,
}

/// What happened on one connection, for the log line.
#[derive(Debug)]
pub struct ConnectionReport {
    pub number: u64,
    pub peer: SocketAddr,
    pub outcome: Result<String, Error>,
}

impl std::fmt::Display for ConnectionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.outcome {
            Ok(s) => write!(f, "[conn {}] {} {}", self.number, self.peer, s),
            Err(e) => {
                write!(f, "[conn {}] {} failed: {}", self.number, self.peer, e)?;
                if let Some(a) = e.alert() {
                    write!(f, " (sent alert {a})")?;
                }
                Ok(())
            }
        }
    }
}

/// After a fatal alert: close our half, then read (bounded) what the client had already sent
/// before closing the socket. Closing with unread input makes the kernel answer with a TCP
/// reset, which can overtake the alert: the client would see a reset or the alert depending
/// on timing (robot-detect calls that "inconsistent results").
fn linger_close(sock: &TcpStream) {
    const MOST: usize = 1 << 16;
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let _ = sock.shutdown(Shutdown::Write);
    let _ = sock.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < MOST && std::time::Instant::now() < until {
        match (&*sock).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
}

/// Serves one accepted connection to the end.
pub fn serve_connection(
    sock: TcpStream,
    options: &ServerOptions,
    rng: LabRng,
) -> Result<String, Error> {
    sock.set_write_timeout(Some(options.timeout))?;
    let _ = sock.set_nodelay(true);
    let conn = server_connection(options.config.clone(), rng)?;
    let mut tls = TlsStream::new(conn, sock);
    tls.set_deadline(options.timeout, "waiting for the client's handshake");
    if let Err(e) = tls.handshake() {
        linger_close(&tls.sock);
        return Err(e);
    }
    let summary = tls.conn.summary().clone();
    tls.set_deadline(options.timeout, "waiting for the client's request");
    let request = tls.read_until(bank::MAX_REQUEST, bank::request_complete)?;
    if request.is_empty() {
        // The client closed without asking anything (RFC 5246 §7.2.1): close, answer nothing.
        let _ = tls.close();
        let _ = tls.sock.shutdown(Shutdown::Both);
        return Ok("closed without a request".into());
    }
    let first_line =
        String::from_utf8_lossy(request.split(|b| *b == b'\n').next().unwrap_or_default())
            .trim()
            .to_string();
    let response = bank::respond(&request);
    let status = String::from_utf8_lossy(response.get(9..12).unwrap_or_default()).into_owned();
    tls.write_all(&response)?;
    tls.close()?;
    // Wait (bounded) for the client's close_notify or EOF, then close the TCP connection
    // (RFC 8446 §6.1, RFC 5246 §7.2.1): a peer that waits for our close is not left hanging.
    tls.set_deadline(options.timeout, "waiting for the client to close");
    while !tls.peer_sent_close_notify() && !tls.peer_eof() {
        if tls.read_some().map(|d| d.is_empty()).unwrap_or(true) {
            break;
        }
    }
    let _ = tls.sock.shutdown(Shutdown::Both);
    let suite = summary.suite.map(|s| s.name).unwrap_or("?");
    let version = match summary.suite.map(|s| s.key_exchange) {
        Some(crate::suites::KeyExchange::Tls13) => "TLS1.3".to_string(),
        _ => format!(
            "EMS={}{}",
            if summary.extended_master_secret {
                "yes"
            } else {
                "no"
            },
            match summary.suite {
                Some(s) if s.cipher.is_cbc() && summary.encrypt_then_mac => " ETM=yes",
                Some(s) if s.cipher.is_cbc() => " ETM=no",
                _ => "",
            }
        ),
    };
    let mut resumption = String::new();
    match summary.resumed {
        Some(crate::endpoint::conn::ResumedBy::SessionId) => resumption += " resumed=session-id",
        Some(crate::endpoint::conn::ResumedBy::Ticket) => resumption += " resumed=ticket",
        Some(crate::endpoint::conn::ResumedBy::Psk(mode)) => {
            resumption += &format!(" resumed=psk({mode})")
        }
        None => {}
    }
    if summary.tickets_issued > 0 {
        resumption += &format!(" tickets={}", summary.tickets_issued);
    }
    Ok(format!(
        "{suite} {version}{resumption} \"{}\" {status}",
        first_line.escape_default()
    ))
}

/// A running server: its address, and a way to stop it.
pub struct ServerHandle {
    pub local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl ServerHandle {
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.local_addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Accepts connections on `listener` until stopped; each report goes to `on_report`.
pub fn serve(
    listener: TcpListener,
    options: ServerOptions,
    stop: Arc<AtomicBool>,
    on_report: Arc<dyn Fn(&ConnectionReport) + Send + Sync>,
) {
    // The key's private operations on AWS-LC; a seeded server signs on the rsa crate, whose
    // blinding and PSS salts come from the seeded generator (captures stay byte-identical).
    crate::endpoint::server::accelerate(&options.config, options.seed.is_none());
    let active = Arc::new(AtomicUsize::new(0));
    let mut parent_rng = rng::for_purpose(options.seed, "server");
    let mut number: u64 = 0;
    for incoming in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let sock = match incoming {
            Ok(s) => s,
            Err(e) => {
                log::warn!("pfslab server: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = sock
            .peer_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let this = number;
        number += 1;
        let conn_rng = match options.seed {
            Some(seed) => rng::from_seed(seed, &format!("server connection {this}")),
            None => rng::fork(&mut parent_rng),
        };
        if active.load(Ordering::SeqCst) >= options.max_connections {
            on_report(&ConnectionReport {
                number: this,
                peer,
                outcome: Err(Error::Internal(
                    "too many connections; closed on arrival".into(),
                )),
            });
            drop(sock);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (options, active, on_report) = (options.clone(), active.clone(), on_report.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("conn-{this}"))
            .stack_size(connection_thread::STACK)
            .spawn(move || {
                let outcome = serve_connection(sock, &options, conn_rng);
                connection_thread::scrub_stack();
                on_report(&ConnectionReport {
                    number: this,
                    peer,
                    outcome,
                });
                active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            log::error!("pfslab server: cannot start a thread for connection {this}: {e}");
        }
    }
}

/// Starts a server on `listener` in the background; each connection's line goes to
/// [`ServerHandle::log`] and, with `echo_log`, to the `log` facade too.
pub fn spawn(
    listener: TcpListener,
    options: ServerOptions,
    echo_log: bool,
) -> std::io::Result<ServerHandle> {
    let local_addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let report: Arc<dyn Fn(&ConnectionReport) + Send + Sync> =
        Arc::new(move |r: &ConnectionReport| {
            let line = r.to_string();
            if echo_log {
                log::info!("{line}");
            }
            log2.lock().unwrap_or_else(|p| p.into_inner()).push(line);
        });
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("accept".into())
        .spawn(move || serve(listener, options, stop2, report))?;
    Ok(ServerHandle {
        local_addr,
        stop,
        thread: Some(thread),
        log,
    })
}
