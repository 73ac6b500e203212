//! `pfslab record`: the lab server, the tap and a class's worth of clients in one process,
//! writing a capture and the instructor's answer key beside it.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::codec::hex;
use crate::crypto::rng;
use crate::endpoint::client::{ClientConfig, ServerVerification};
use crate::endpoint::server::ServerConfig;
use crate::keylog::KeyLogWriter;
use crate::lab::bank_client::exchange;
use crate::lab::bank_server::{self, ServerOptions};
use crate::lab::identity;
use crate::lab::tap::{DeterministicConfig, Tap, TapConfig, TapMode};
use crate::suites::Suite;

pub struct RecordOptions {
    pub out: PathBuf,
    /// Sessions per suite, e.g. [(rsa, 3), (ecdhe, 3)]; they are interleaved.
    pub sessions: Vec<(Suite, usize)>,
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
}

pub struct RecordSummary {
    pub capture: PathBuf,
    pub truth: PathBuf,
    pub sessions: Vec<TruthSession>,
    pub generated_keys: bool,
    /// With a seed and keys that were already there: whether `keygen --seed` made them (a
    /// seeded capture is reproducible from the seed alone only then).
    pub keys_match_seed: Option<bool>,
    pub server_port: u16,
    pub capture_server: SocketAddr,
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

/// Suites interleaved: rsa, ecdhe, rsa, ecdhe, … until each count is used up.
fn interleave(sessions: &[(Suite, usize)]) -> Vec<Suite> {
    let mut left: Vec<(Suite, usize)> = sessions.to_vec();
    let mut out = Vec::new();
    while left.iter().any(|(_, n)| *n > 0) {
        for (suite, n) in left.iter_mut() {
            if *n > 0 {
                out.push(*suite);
                *n -= 1;
            }
        }
    }
    out
}

/// Parses `rsa=3,ecdhe=3`.
pub fn parse_sessions(spec: &str) -> Result<Vec<(Suite, usize)>, String> {
    let mut out = Vec::new();
    for part in spec.split(',').filter(|p| !p.trim().is_empty()) {
        let (name, count) = part
            .split_once('=')
            .ok_or_else(|| format!("'{part}' should be SUITE=COUNT, e.g. rsa=3"))?;
        let suite = identity::parse_suite(name)?;
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

    // 2. The server, then the tap in front of it.
    let all_suites: Vec<Suite> = opts.sessions.iter().map(|(s, _)| *s).collect();
    let config = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: id.chain.clone(),
        suites: all_suites,
        keylog,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        resumption: Default::default(),
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
    let truth = match run_sessions(&opts, &anchor, tap_addr, &tap) {
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
    Ok(RecordSummary {
        capture: summary.path,
        truth: truth_file,
        sessions: truth,
        generated_keys,
        keys_match_seed,
        server_port,
        capture_server,
    })
}

fn run_sessions(
    opts: &RecordOptions,
    anchor: &[u8],
    tap_addr: SocketAddr,
    tap: &Tap,
) -> Result<Vec<TruthSession>, RecordError> {
    let order = interleave(&opts.sessions);
    let mut rng_people = rng::for_purpose(opts.seed, "record people");
    let mut truth = Vec::new();
    for (i, suite) in order.iter().enumerate() {
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
            resumption: Default::default(),
        });
        let client_rng = rng::for_purpose(
            opts.seed.map(|s| s.wrapping_add(i as u64)),
            &format!("record client {i}"),
        );
        let done = exchange(
            tap_addr,
            client_config,
            client_rng,
            &request,
            Duration::from_secs(10),
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
        truth.push(TruthSession {
            stream: i as u64,
            suite: *suite,
            user,
            password,
            request,
            response: done.response,
            client_random: done.summary.client_random,
        });
        if let Some(p) = &opts.progress {
            p(i + 1, order.len());
        }
    }
    Ok(truth)
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
