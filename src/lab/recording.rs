//! `pfslab record`: the lab server, the tap and a class's worth of clients in one process,
//! writing a capture and the instructor's answer key beside it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::codec::hex;
use crate::crypto::kx::KxGroup;
use crate::crypto::rng;
use crate::endpoint::client::{ClientConfig, ClientResumption, ServerVerification};
use crate::endpoint::conn::ResumedBy;
use crate::endpoint::server::{ServerConfig, ServerResumption, SessionCache};
use crate::endpoint::session::{ClientSession, Clock};
use crate::keylog::KeyLogWriter;
use crate::lab::bank_client::exchange_with;
use crate::lab::bank_server::{self, ServerOptions};
use crate::lab::identity;
use crate::lab::tap::{DeterministicConfig, Tap, TapConfig, TapMode};
use crate::msgs::enums::PskKeyExchangeMode;
use crate::standin::{self, EphemeralMemory};
use crate::suites::Suite;
use crate::tickets::TicketKeys;

pub struct RecordOptions {
    pub out: PathBuf,
    /// Sessions per kind, e.g. [(rsa, 3), (ecdhe+ticket, 3)]; they are interleaved.
    pub sessions: Vec<(SessionPlan, usize)>,
    /// The session-ticket key for plans that resume by ticket or PSK: read if the file exists,
    /// else made (mode 0600). Default: beside the capture, NAME.ticket.key.
    pub ticket_key: Option<PathBuf>,
    pub seed: Option<u64>,
    pub keylog: Option<PathBuf>,
    pub key_dir: PathBuf,
    /// Offer the extended master secret (as modern clients do).
    pub ems: bool,
    /// Offer encrypt-then-MAC with CBC suites (RFC 7366), as OpenSSL and GnuTLS do.
    pub etm: bool,
    /// Called with (done, total) after each session.
    pub progress: Option<Box<dyn Fn(usize, usize)>>,
}

/// One session's ground truth.
#[derive(Debug, Clone)]
pub struct TruthSession {
    pub stream: u64,
    pub suite: Suite,
    pub user: String,
    pub password: String,
    pub request: Vec<u8>,
    pub response: Vec<u8>,
    pub client_random: [u8; 32],
    /// The stream of the session this one resumed, and how.
    pub resumed: Option<(u64, ResumedBy)>,
    /// Tickets the server issued in this session.
    pub tickets_issued: usize,
    /// TLS 1.3: the group of the key exchange (none for TLS 1.2 and psk_ke).
    pub key_share_group: Option<KxGroup>,
}

/// What one planned session does: its suite, and whether it belongs to a resumption chain
/// (the first session of the kind is a full handshake; each later one resumes the one before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPlan {
    pub suite: Suite,
    pub resume: ResumePlan,
    /// TLS 1.3: the group of the client's key share (`tls13-hybrid`, `tls13-x25519`).
    pub group: KxGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumePlan {
    /// Every session is a full handshake (the default).
    None,
    /// TLS 1.2: resume by ticket (RFC 5077); the server seals tickets with the ticket key.
    Ticket,
    /// TLS 1.2: resume by session ID (RFC 5246 §7.3) from the server's cache.
    SessionId,
    /// TLS 1.3: resume with the ticket's PSK in this mode (RFC 8446 §4.2.9).
    Psk(PskKeyExchangeMode),
}

impl SessionPlan {
    /// The `--sessions` name: the suite's short name and the resumption suffix.
    pub fn label(&self) -> String {
        let base = match self.group {
            KxGroup::X25519MlKem768 => format!("{}-hybrid", self.suite.key_exchange.short()),
            KxGroup::X25519 => format!("{}-x25519", self.suite.key_exchange.short()),
            KxGroup::P256 => self.suite.key_exchange.short().to_string(),
        };
        match self.resume {
            ResumePlan::None => base.to_string(),
            ResumePlan::Ticket => format!("{base}+ticket"),
            ResumePlan::SessionId => format!("{base}+id"),
            ResumePlan::Psk(PskKeyExchangeMode::PskKe) => format!("{base}+psk_ke"),
            ResumePlan::Psk(_) => format!("{base}+psk"),
        }
    }

    fn uses_tickets(&self) -> bool {
        matches!(self.resume, ResumePlan::Ticket | ResumePlan::Psk(_))
    }
}

/// The ticket key file beside a capture: `lab.pcap` → `lab.ticket.key`.
pub fn ticket_key_path(capture: &Path) -> PathBuf {
    capture.with_extension("ticket.key")
}

pub struct RecordSummary {
    pub capture: PathBuf,
    pub truth: PathBuf,
    /// The discrete-log stand-in: the clients' classical ephemeral private keys.
    pub dlog_standin: PathBuf,
    pub sessions: Vec<TruthSession>,
    pub generated_keys: bool,
    /// With a seed and keys that were already there: whether `keygen --seed` made them (a
    /// seeded capture is reproducible from the seed alone only then).
    pub keys_match_seed: Option<bool>,
    pub server_port: u16,
    pub capture_server: SocketAddr,
    /// The ticket key the server sealed tickets with, when a plan resumed by ticket or PSK.
    pub ticket_key: Option<PathBuf>,
}

#[derive(Debug)]
pub enum RecordError {
    Keys(String),
    Io {
        what: String,
        source: std::io::Error,
    },
    Capture(crate::capture::CaptureError),
    Session {
        number: usize,
        source: crate::error::Error,
    },
    Incomplete(String),
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Keys(m) => write!(f, "server keys: {m}"),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
            Self::Capture(e) => write!(f, "capture: {e}"),
            Self::Session { number, source } => write!(f, "session {number} failed: {source}"),
            Self::Incomplete(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for RecordError {}

const USERS: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter",
];
const WORDS: &[&str] = &[
    "correct",
    "horse",
    "battery",
    "staple",
    "purple",
    "monkey",
    "dishwasher",
    "sunshine",
    "dragon",
    "letmein",
    "tiger",
    "falcon",
];

/// Plans interleaved: rsa, ecdhe, rsa, ecdhe, … until each count is used up. Each entry is
/// (index of its `--sessions` entry, plan), so a resumption chain stays within its entry.
fn interleave(sessions: &[(SessionPlan, usize)]) -> Vec<(usize, SessionPlan)> {
    let mut left: Vec<(SessionPlan, usize)> = sessions.to_vec();
    let mut out = Vec::new();
    while left.iter().any(|(_, n)| *n > 0) {
        for (entry, (plan, n)) in left.iter_mut().enumerate() {
            if *n > 0 {
                out.push((entry, *plan));
                *n -= 1;
            }
        }
    }
    out
}

/// Parses one `--sessions` kind: a suite name, optionally with a TLS 1.3 key-share group
/// (`tls13-hybrid`, `tls13-x25519`; P-256 otherwise) and a resumption suffix (`ecdhe+ticket`,
/// `rsa+id`, `tls13+psk`, `tls13+psk_ke`).
pub fn parse_plan(name: &str) -> Result<SessionPlan, String> {
    let (suite_name, suffix) = match name.split_once('+') {
        Some((s, r)) => (s, Some(r.trim().to_ascii_lowercase())),
        None => (name, None),
    };
    let lower = suite_name.trim().to_ascii_lowercase();
    let (suite_name, group) = match lower.rsplit_once('-') {
        Some((base, "hybrid")) => (base, KxGroup::X25519MlKem768),
        Some((base, "x25519")) => (base, KxGroup::X25519),
        _ => (lower.as_str(), KxGroup::P256),
    };
    let suite = identity::parse_suite(suite_name)?;
    let tls13 = suite.key_exchange == crate::suites::KeyExchange::Tls13;
    if group != KxGroup::P256 && !tls13 {
        return Err(format!(
            "'{name}': only TLS 1.3 kinds take a key-share group (tls13-hybrid, tls13-x25519)"
        ));
    }
    let resume = match (suffix.as_deref(), tls13) {
        (None, _) => ResumePlan::None,
        (Some("ticket"), false) => ResumePlan::Ticket,
        (Some("id"), false) => ResumePlan::SessionId,
        (Some("psk"), true) => ResumePlan::Psk(PskKeyExchangeMode::PskDheKe),
        (Some("psk_ke"), true) => ResumePlan::Psk(PskKeyExchangeMode::PskKe),
        (Some(other), false) => {
            return Err(format!(
                "'{name}': a TLS 1.2 suite resumes with +ticket or +id, not +{other}"
            ))
        }
        (Some(other), true) => {
            return Err(format!(
                "'{name}': TLS 1.3 resumes with +psk (psk_dhe_ke) or +psk_ke, not +{other}"
            ))
        }
    };
    Ok(SessionPlan {
        suite,
        resume,
        group,
    })
}

/// Parses `rsa=3,ecdhe=3,ecdhe+ticket=4,tls13+psk_ke=3`.
pub fn parse_sessions(spec: &str) -> Result<Vec<(SessionPlan, usize)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, count) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' should be SUITE=COUNT, e.g. rsa=3"))?;
        let suite = parse_plan(name)?;
        let count: usize = count
            .trim()
            .parse()
            .map_err(|_| format!("'{count}' in '{part}' is not a number"))?;
        if count > 10_000 {
            return Err(format!(
                "{count} sessions of {name} is more than the 10000 a recording allows"
            ));
        }
        out.push((suite, count));
    }
    if out.iter().map(|(_, n)| n).sum::<usize>() == 0 {
        return Err("no sessions to record".into());
    }
    Ok(out)
}

/// The ground-truth file beside a capture: `lab.pcap` → `lab.truth.json`.
pub fn truth_path(capture: &Path) -> PathBuf {
    capture.with_extension("truth.json")
}

pub fn record(opts: RecordOptions) -> Result<RecordSummary, RecordError> {
    // 1. Keys: make them if missing (seeded when the recording is).
    let (key_file, cert_file) = (
        identity::key_path(&opts.key_dir),
        identity::cert_path(&opts.key_dir),
    );
    let generated_keys = !key_file.exists() && !cert_file.exists();
    if generated_keys {
        identity::keygen(&opts.key_dir, 2048, opts.seed, false)
            .map_err(|e| RecordError::Keys(e.to_string()))?;
    }
    let id = identity::load_identity(&key_file, &cert_file)
        .map_err(|e| RecordError::Keys(e.to_string()))?;
    let keys_match_seed = match (opts.seed, generated_keys) {
        (Some(seed), false) => Some(
            identity::made_with_seed(&id, seed).map_err(|e| RecordError::Keys(e.to_string()))?,
        ),
        _ => None,
    };
    let anchor = id
        .chain
        .first()
        .cloned()
        .ok_or_else(|| RecordError::Keys("no certificate".into()))?;
    if let Some(parent) = opts.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| RecordError::Io {
            what: format!("cannot create {}", parent.display()),
            source: e,
        })?;
    }
    let keylog = match &opts.keylog {
        Some(p) => {
            // A fresh key log for a fresh capture.
            let _ = std::fs::remove_file(p);
            Some(Arc::new(KeyLogWriter::open(p).map_err(|e| {
                RecordError::Io {
                    what: format!("cannot create key log {}", p.display()),
                    source: e,
                }
            })?))
        }
        None => None,
    };

    // 2. The server, then the tap in front of it. Plans that resume get a server that issues
    //    tickets (sealed with the ticket key, kept beside the capture for the lesson) or keeps a
    //    session cache; the default recording's server does neither, as before.
    let mut all_suites: Vec<Suite> = Vec::new();
    for (plan, _) in &opts.sessions {
        if !all_suites.contains(&plan.suite) {
            all_suites.push(plan.suite);
        }
    }
    let mut resumption = ServerResumption::default();
    if let Some(seed) = opts.seed {
        resumption.clock = record_clock(seed);
    }
    let ticket_key_file = if opts.sessions.iter().any(|(p, _)| p.uses_tickets()) {
        let path = opts
            .ticket_key
            .clone()
            .unwrap_or_else(|| ticket_key_path(&opts.out));
        // Seeded: the key depends on its file name too, so two recordings with one seed and
        // two key files (a rotation) get two keys.
        let purpose = format!(
            "record ticket key {}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        );
        let mut rng = rng::for_purpose(opts.seed, &purpose);
        let (key, _) = crate::tickets::load_or_create(&path, &mut rng)
            .map_err(|e| RecordError::Keys(e.to_string()))?;
        resumption.tickets = Some(Arc::new(TicketKeys::new(key, Vec::new())));
        Some(path)
    } else {
        None
    };
    if opts
        .sessions
        .iter()
        .any(|(p, _)| p.resume == ResumePlan::SessionId)
    {
        resumption.session_cache = Some(Arc::new(SessionCache::default()));
    }
    // The server accepts all three TLS 1.3 groups; each client sends one share, so a P-256
    // session is exactly what it was before the others existed.
    let config = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: id.chain.clone(),
        suites: all_suites,
        keylog,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: crate::endpoint::server::Ephemerals::default()
            .with_groups(&KxGroup::PREFERENCE),
        padding_oracle: Default::default(),
        resumption,
        fast_key: Default::default(),
    });
    let server_listener = TcpListener::bind("127.0.0.1:0").map_err(|e| RecordError::Io {
        what: "cannot bind the lab server".into(),
        source: e,
    })?;
    let server = bank_server::spawn(
        server_listener,
        ServerOptions {
            config,
            timeout: Duration::from_secs(10),
            max_connections: 64,
            seed: opts.seed,
        },
        false,
    )
    .map_err(|e| RecordError::Io {
        what: "cannot start the lab server".into(),
        source: e,
    })?;
    let tap_listener = TcpListener::bind("127.0.0.1:0").map_err(|e| RecordError::Io {
        what: "cannot bind the tap".into(),
        source: e,
    })?;
    let tap_addr = tap_listener.local_addr().map_err(|e| RecordError::Io {
        what: "tap address".into(),
        source: e,
    })?;
    let mut tap_config = TapConfig::new(tap_addr, server.local_addr, &opts.out);
    let capture_server = match opts.seed {
        Some(seed) => {
            // 2026-01-01T09:00:00Z: a class morning; the clock then follows the packets.
            let cfg = DeterministicConfig::new(seed, Duration::from_secs(1_767_258_000));
            let (_, srv) = (cfg.addrs)(0);
            tap_config.mode = TapMode::Deterministic(cfg);
            srv
        }
        None => server.local_addr,
    };
    let tap = Tap::with_listener(tap_listener, tap_config).map_err(RecordError::Capture)?;

    // 3. The class conversation, one session at a time so the capture order is the plan's.
    //    On failure the unfinished capture is removed: no half-written file passed off as whole.
    let ephemerals = Arc::new(EphemeralMemory::default());
    let truth = match run_sessions(&opts, &anchor, tap_addr, &tap, &ephemerals) {
        Ok(t) => t,
        Err(e) => {
            let path = tap
                .stop()
                .map(|s| s.path)
                .unwrap_or_else(|_| opts.out.clone());
            let _ = std::fs::remove_file(&path);
            server.stop();
            return Err(e);
        }
    };

    // 4. Close the capture (renamed into place only now), then write the answer key.
    let summary = tap.stop().map_err(RecordError::Capture)?;
    let server_port = server.local_addr.port();
    server.stop();
    let truth_file = truth_path(&summary.path);
    write_truth(&truth_file, &summary.path, &truth).map_err(|e| RecordError::Io {
        what: format!("cannot write {}", truth_file.display()),
        source: e,
    })?;
    let standin_file = standin::standin_path(&summary.path);
    let capture_name = summary
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    standin::write(&standin_file, &capture_name, &ephemerals.snapshot()).map_err(|e| {
        RecordError::Io {
            what: format!("cannot write {}", standin_file.display()),
            source: e,
        }
    })?;
    Ok(RecordSummary {
        capture: summary.path,
        truth: truth_file,
        dlog_standin: standin_file,
        sessions: truth,
        generated_keys,
        keys_match_seed,
        server_port,
        capture_server,
        ticket_key: ticket_key_file,
    })
}

/// The clock of a seeded recording: the class morning the tap's packets start at, in ms.
fn record_clock(_seed: u64) -> Clock {
    Clock::Fixed(1_767_258_000_000)
}

fn run_sessions(
    opts: &RecordOptions,
    anchor: &[u8],
    tap_addr: SocketAddr,
    tap: &Tap,
    ephemerals: &Arc<EphemeralMemory>,
) -> Result<Vec<TruthSession>, RecordError> {
    let order = interleave(&opts.sessions);
    let mut rng_people = rng::for_purpose(opts.seed, "record people");
    let mut truth: Vec<TruthSession> = Vec::new();
    // Per `--sessions` entry: the session the next one of that entry resumes (stream, session).
    let mut chains: Vec<Option<(u64, ClientSession)>> = vec![None; opts.sessions.len()];
    for (i, (entry, plan)) in order.iter().enumerate() {
        let suite = &plan.suite;
        let user = format!(
            "{}{}",
            USERS[i % USERS.len()],
            if i >= USERS.len() {
                (i / USERS.len()).to_string()
            } else {
                String::new()
            }
        );
        let password = format!(
            "{}-{}-{:04}",
            WORDS[(rng_people.next_u32() as usize) % WORDS.len()],
            WORDS[(rng_people.next_u32() as usize) % WORDS.len()],
            rng_people.next_u32() % 10_000
        );
        let cookie: [u8; 8] = rng::random_array(&mut rng_people);
        let body = format!("user={user}&password={password}");
        let request = format!(
            "POST /login HTTP/1.0\r\nHost: localhost\r\nCookie: session={}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            hex(&cookie),
            body.len()
        )
        .into_bytes();
        let client_config = Arc::new(ClientConfig {
            suites: vec![*suite],
            server_name: "localhost".into(),
            verification: ServerVerification::TrustAnchor(anchor.to_vec()),
            offer_ems: opts.ems,
            offer_etm: opts.etm,
            keylog: None,
            dh_min_bits: 2048,
            resumption: client_resumption(plan, chains.get(*entry).cloned().flatten(), opts.seed),
            tls13_group: plan.group,
            ephemeral_log: Some(ephemerals.clone()),
        });
        let client_rng = rng::for_purpose(
            opts.seed.map(|s| s.wrapping_add(i as u64)),
            &format!("record client {i}"),
        );
        // TLS 1.3 chains wait for the ticket before sending (see `exchange_with`).
        let await_ticket = matches!(plan.resume, ResumePlan::Psk(_));
        let done = exchange_with(
            tap_addr,
            client_config,
            client_rng,
            &request,
            Duration::from_secs(10),
            await_ticket,
        )
        .map_err(|e| RecordError::Session {
            number: i,
            source: e,
        })?;
        if !tap.wait_idle(i as u64 + 1, Duration::from_secs(10)) {
            return Err(RecordError::Incomplete(format!(
                "session {i} did not finish in time"
            )));
        }
        let resumed_from = chains
            .get(*entry)
            .cloned()
            .flatten()
            .map(|(stream, _)| stream);
        let resumed = match (done.summary.resumed, resumed_from) {
            (Some(how), Some(from)) => Some((from, how)),
            (Some(_), None) => {
                return Err(RecordError::Incomplete(format!(
                    "session {i} resumed although it offered no session"
                )))
            }
            (None, Some(from)) => {
                return Err(RecordError::Incomplete(format!(
                    "session {i} ({}) should have resumed session {from} but the server made a full handshake",
                    plan.label()
                )))
            }
            (None, None) => None,
        };
        if plan.resume != ResumePlan::None {
            match (done.resumable, chains.get_mut(*entry)) {
                // A resumed TLS 1.2 session carries the same state; keep resuming the first.
                (Some(next), Some(slot))
                    if resumed.is_none()
                        || plan.suite.key_exchange == crate::suites::KeyExchange::Tls13 =>
                {
                    *slot = Some((i as u64, next));
                }
                (None, _) if resumed.is_none() => {
                    return Err(RecordError::Incomplete(format!(
                        "session {i} ({}) got nothing to resume from the server",
                        plan.label()
                    )))
                }
                _ => {}
            }
        }
        truth.push(TruthSession {
            stream: i as u64,
            suite: *suite,
            user,
            password,
            request,
            response: done.response,
            client_random: done.summary.client_random,
            resumed,
            tickets_issued: done.summary.tickets_issued,
            key_share_group: done.summary.key_share_group,
        });
        if let Some(p) = &opts.progress {
            p(i + 1, order.len());
        }
    }
    Ok(truth)
}

/// What a chain's client offers: the previous session of its entry, and a request for a ticket
/// (TLS 1.2 ticket plans) or PSK modes (TLS 1.3).
fn client_resumption(
    plan: &SessionPlan,
    previous: Option<(u64, ClientSession)>,
    seed: Option<u64>,
) -> ClientResumption {
    let mut r = ClientResumption::default();
    if let Some(seed) = seed {
        r.clock = record_clock(seed);
    }
    match plan.resume {
        ResumePlan::None => return r,
        ResumePlan::Ticket => r.request_tickets = true,
        ResumePlan::SessionId => {}
        ResumePlan::Psk(mode) => {
            r.request_tickets = true;
            r.psk_modes = vec![mode];
        }
    }
    r.session = previous.map(|(_, s)| s);
    r
}

/// Which stolen secret opens a session, for the answer key: the RSA key opens RSA key
/// transport; the ticket key opens a TLS 1.2 session that issued or used a ticket, and a TLS 1.3
/// psk_ke resumption; nothing but a key log opens the rest.
fn opened_by(s: &TruthSession, sessions: &[TruthSession]) -> Vec<&'static str> {
    use crate::suites::KeyExchange;
    let origin = |mut stream: u64| {
        // Follow a resumption chain back to its full handshake.
        while let Some((from, _)) = sessions.get(stream as usize).and_then(|x| x.resumed) {
            stream = from;
        }
        sessions.get(stream as usize)
    };
    let mut out = Vec::new();
    let tls13 = s.suite.key_exchange == KeyExchange::Tls13;
    let first = origin(s.stream).unwrap_or(s);
    if !tls13 && first.suite.key_exchange == KeyExchange::Rsa {
        out.push("RSA key");
    }
    let ticket_involved = if tls13 {
        matches!(
            s.resumed,
            Some((_, ResumedBy::Psk(PskKeyExchangeMode::PskKe)))
        )
    } else {
        // The ticket (issued here or in the chain's first session) carries this master secret.
        matches!(s.resumed, Some((_, ResumedBy::Ticket)))
            || s.tickets_issued > 0
            || (matches!(s.resumed, Some((_, ResumedBy::SessionId))) && first.tickets_issued > 0)
    };
    if ticket_involved {
        out.push("ticket key");
    }
    out
}

fn resumed_by_name(how: ResumedBy) -> &'static str {
    match how {
        ResumedBy::SessionId => "session_id",
        ResumedBy::Ticket => "ticket",
        ResumedBy::Psk(PskKeyExchangeMode::PskKe) => "psk_ke",
        ResumedBy::Psk(_) => "psk_dhe_ke",
    }
}

fn write_truth(path: &Path, capture: &Path, sessions: &[TruthSession]) -> std::io::Result<()> {
    let json = serde_json::json!({
        "capture": capture.file_name().map(|n| n.to_string_lossy().into_owned()),
        "note": "Ground truth for the instructor. The attacker never reads this file.",
        "sessions": sessions.iter().map(|s| serde_json::json!({
            "stream": s.stream,
            "cipher_suite": s.suite.name,
            "key_exchange": s.suite.key_exchange.short(),
            "forward_secret": s.suite.key_exchange.is_forward_secret(),
            "key_share_group": s.key_share_group.map(|g| g.name()),
            "resumes_stream": s.resumed.map(|(from, _)| from),
            "resumed_by": s.resumed.map(|(_, how)| resumed_by_name(how)),
            "tickets_issued": s.tickets_issued,
            "opened_by": opened_by(s, sessions),
            "user": s.user,
            "password": s.password,
            "client_random": hex(&s.client_random),
            "client_data": String::from_utf8_lossy(&s.request),
            "server_data": String::from_utf8_lossy(&s.response),
        })).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    let tmp = path.with_extension("json.partial");
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}
