//! The attacker: given what a passive eavesdropper observed and what was stolen (the server's
//! RSA key, a key log), recover what can be recovered — with the endpoints' own key schedule
//! and record protection — and say precisely why the rest cannot be.

pub mod driver;
pub mod observe;
pub mod pipeline;

use std::collections::HashMap;

use zeroize::Zeroizing;

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession, Resumption};
use crate::codec::hex;
use crate::crypto::HashAlg;
use crate::keylog::KeyLog;
use crate::msgs::enums::{AlertDescription, ContentType, HandshakeType, ProtocolVersion};
use crate::msgs::record::{HandshakeJoiner, HandshakeMessage, OpaqueRecord};
use crate::pki;
use crate::suites::{KeyExchange, Suite};
use crate::tls12::keys::{derive_master_secret, verify_data, MasterSecret, Side};
use crate::tls12::protectors;
use crate::tls13::key_schedule::TrafficSecret;

/// What the attacker holds.
#[derive(Default)]
pub struct Loot {
    pub key: Option<rsa::PrivateKey>,
    pub keylog: Option<KeyLog>,
    /// The stolen key loaded into AWS-LC for fast decryption, when AWS-LC takes it.
    pub fast_key: Option<crate::crypto::fast_rsa::FastRsaKey>,
    /// The last certificate checked against the key, and the answer: a capture usually shows
    /// one server certificate thousands of times, and parsing it is not free.
    last_key_check: std::sync::Mutex<Option<(Vec<u8>, KeyCheck)>>,
}

impl Loot {
    pub fn new(key: Option<rsa::PrivateKey>, keylog: Option<KeyLog>) -> Self {
        let fast_key = key
            .as_ref()
            .and_then(crate::crypto::fast_rsa::FastRsaKey::new);
        Self {
            key,
            keylog,
            fast_key,
            last_key_check: Default::default(),
        }
    }

    /// The same loot decrypting premasters with the rsa crate only (to compare the paths).
    pub fn without_fast_path(key: Option<rsa::PrivateKey>, keylog: Option<KeyLog>) -> Self {
        Self {
            key,
            keylog,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Decrypted,
    ForwardSecret,
    NotDecrypted,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decrypted => "decrypted",
            Self::ForwardSecret => "forward-secret",
            Self::NotDecrypted => "not-decrypted",
        }
    }
}

/// Where a recovered master secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The premaster was decrypted from the ClientKeyExchange with the stolen key.
    StolenKey,
    /// A `CLIENT_RANDOM` line of the key log.
    KeyLogMaster,
    /// An `RSA` line of the key log gave the premaster.
    KeyLogPremaster,
    /// The session resumed one recovered earlier (stream number).
    Resumed { from_stream: u64 },
}

impl SecretSource {
    pub fn describe(&self) -> String {
        match self {
            Self::StolenKey => {
                "premaster decrypted from the ClientKeyExchange with the stolen RSA key".into()
            }
            Self::KeyLogMaster => "master secret from the key log (CLIENT_RANDOM line)".into(),
            Self::KeyLogPremaster => "premaster from the key log (RSA line)".into(),
            Self::Resumed { from_stream } => {
                format!("resumes session {from_stream}, whose master secret was recovered")
            }
        }
    }
}

/// Outcome of checking one Finished message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishedCheck {
    Verified,
    Mismatch,
    NotSeen,
}

/// The plaintext of one direction and how far decryption went.
#[derive(Debug, Clone, Default)]
pub struct DirectionPlaintext {
    pub data: Vec<u8>,
    pub records_opened: usize,
    pub finished: Option<Vec<u8>>,
    /// Handshake messages after Finished (e.g. NewSessionTicket in TLS 1.3, renegotiation).
    pub alerts: Vec<String>,
    /// Why decryption stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Decryption of a TLS 1.2 session with a known master secret.
#[derive(Debug, Clone)]
pub struct Decryption {
    pub client: DirectionPlaintext,
    pub server: DirectionPlaintext,
    pub client_finished: FinishedCheck,
    pub server_finished: FinishedCheck,
}

impl Decryption {
    /// The proof the recovery is right: at least one Finished verified and none failed.
    pub fn proven(&self) -> bool {
        let checks = [&self.client_finished, &self.server_finished];
        checks.iter().any(|c| **c == FinishedCheck::Verified)
            && !checks.iter().any(|c| **c == FinishedCheck::Mismatch)
    }
}

/// Opens one direction's records with the endpoints' record protection.
fn open_direction(
    records: &[OpaqueRecord],
    mut protector: crate::record_protect::Tls12GcmProtector,
) -> DirectionPlaintext {
    let mut out = DirectionPlaintext::default();
    let mut joiner = HandshakeJoiner::new();
    for (i, rec) in records.iter().enumerate() {
        let plain = match protector.open(rec.content_type, rec.version, &rec.payload) {
            Ok(p) => p,
            Err(_) => {
                out.stopped = Some(format!(
                    "protected record {} ({}, {} bytes) fails GCM authentication: the keys are wrong or the record was tampered with",
                    i + 1,
                    rec.content_type,
                    rec.payload.len()
                ));
                break;
            }
        };
        out.records_opened += 1;
        match rec.content_type {
            ContentType::ApplicationData => out.data.extend_from_slice(&plain),
            ContentType::Handshake => {
                joiner.push(&plain);
                while let Ok(Some(m)) = joiner.next_message() {
                    if m.typ == HandshakeType::Finished && out.finished.is_none() {
                        out.finished = Some(m.body().to_vec());
                    }
                }
            }
            ContentType::Alert => {
                if let Ok(a) = crate::msgs::alert::Alert::read(&plain) {
                    out.alerts.push(a.description.name());
                    if a.description != AlertDescription::CloseNotify {
                        out.stopped = Some(format!("fatal alert {}", a.description));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn concat(msgs: &[&HandshakeMessage]) -> Vec<u8> {
    msgs.iter()
        .flat_map(|m| m.encoded.iter().copied())
        .collect()
}

/// Decrypts both directions and verifies both Finished messages (RFC 5246 §7.4.9).
pub fn decrypt_tls12(
    obs: &ObservedSession,
    suite: &Suite,
    master: &MasterSecret,
) -> Option<Decryption> {
    let (cr, sr) = (obs.client_random()?, obs.server_random()?);
    let (client_write, server_write) = protectors(suite, master, &cr, &sr).ok()?;
    let client = open_direction(&obs.client_protected.records, client_write);
    let server = open_direction(&obs.server_protected.records, server_write);

    // Transcripts for the two Finished messages, full or abbreviated handshake.
    let ch: Vec<&HandshakeMessage> = obs.handshake_client.iter().take(1).collect();
    let server_plain: Vec<&HandshakeMessage> = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ != HandshakeType::NewSessionTicket)
        .collect();
    let tickets: Vec<&HandshakeMessage> = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ == HandshakeType::NewSessionTicket)
        .collect();
    let client_rest: Vec<&HandshakeMessage> = obs.handshake_client.iter().skip(1).collect();
    let finished_msg = |body: &[u8]| HandshakeMessage::new(HandshakeType::Finished, body);
    let (client_hash_input, server_hash_input) = if obs.resumed.is_some() {
        let base = concat(&[ch.as_slice(), server_plain.as_slice(), tickets.as_slice()].concat());
        let mut with_server_fin = base.clone();
        if let Some(f) = &server.finished {
            with_server_fin.extend_from_slice(&finished_msg(f).encoded);
        }
        (with_server_fin, base)
    } else {
        let base = concat(
            &[
                ch.as_slice(),
                server_plain.as_slice(),
                client_rest.as_slice(),
            ]
            .concat(),
        );
        let mut with_client_fin = base.clone();
        if let Some(f) = &client.finished {
            with_client_fin.extend_from_slice(&finished_msg(f).encoded);
        }
        with_client_fin.extend_from_slice(&concat(&tickets));
        (base, with_client_fin)
    };
    let check = |sent: &Option<Vec<u8>>, side: Side, input: &[u8]| match sent {
        None => FinishedCheck::NotSeen,
        Some(v) => {
            let expected = verify_data(suite, master, side, &suite.hash.digest(input));
            if crate::crypto::constant_time_eq(&expected, v) {
                FinishedCheck::Verified
            } else {
                FinishedCheck::Mismatch
            }
        }
    };
    let client_finished = check(&client.finished, Side::Client, &client_hash_input);
    let server_finished = check(&server.finished, Side::Server, &server_hash_input);
    Some(Decryption {
        client,
        server,
        client_finished,
        server_finished,
    })
}

/// The master secret a premaster gives in this session.
pub fn master_from_premaster(
    obs: &ObservedSession,
    suite: &Suite,
    premaster: &[u8],
) -> Option<MasterSecret> {
    let (cr, sr) = (obs.client_random()?, obs.server_random()?);
    Some(derive_master_secret(
        suite,
        premaster,
        obs.ems,
        &cr,
        &sr,
        &obs.transcript_through_client_key_exchange(),
    ))
}

/// What the stolen key says about a premaster ciphertext (RFC 5246 §7.4.7.1 format check).
/// With `fast`, AWS-LC decrypts (`crate::crypto::fast_rsa`, ~4× faster; the server keeps the rsa
/// crate); otherwise the rsa crate does.
pub fn decrypt_premaster(
    key: &rsa::PrivateKey,
    fast: Option<&crate::crypto::fast_rsa::FastRsaKey>,
    obs: &ObservedSession,
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, String> {
    use rsa::traits::PublicKeyParts;
    let modulus_len = key.size();
    if encrypted.len() != modulus_len {
        return Err(format!("the encrypted premaster is {} bytes but the stolen key's modulus is {modulus_len}: it was encrypted to another key", encrypted.len()));
    }
    // rsa 0.10 uses implicit rejection (a wrong key yields a random-looking message instead of
    // an error) and the fast path may fail padding; either way only the expected shape counts.
    let plain = match fast {
        Some(f) => f.decrypt_pkcs1v15(encrypted),
        None => pki::rsa_decrypt_pkcs1(key, encrypted)
            .ok()
            .map(Zeroizing::new),
    };
    let version = obs
        .client_hello
        .as_ref()
        .map(|c| c.client_version)
        .unwrap_or(ProtocolVersion::Tls12.to_wire())
        .to_be_bytes();
    match plain {
        Some(plain) if plain.len() == 48 && plain[..2] == version => Ok(plain),
        _ => Err("the stolen key does not decrypt this premaster (wrong key: the result is not a 48-byte premaster)".into()),
    }
}

/// One analysed session, ready for the table, the conversations and JSON.
#[derive(Debug, Clone)]
pub struct SessionReport {
    pub capture: String,
    pub stream: u64,
    pub client: String,
    pub server: String,
    pub version: String,
    pub cipher_suite: String,
    pub key_exchange: String,
    pub ems: bool,
    pub sni: Option<String>,
    pub resumed: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    pub source: Option<SecretSource>,
    pub client_random: Option<[u8; 32]>,
    pub master_secret: Option<Zeroizing<Vec<u8>>>,
    pub client_data: Vec<u8>,
    pub server_data: Vec<u8>,
    pub client_finished: Option<FinishedCheck>,
    pub server_finished: Option<FinishedCheck>,
    pub notes: Vec<String>,
}

impl SessionReport {
    pub fn first_line(&self) -> String {
        let line = self
            .client_data
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default();
        String::from_utf8_lossy(line).trim().to_string()
    }
}

/// Secrets recovered so far, for sessions that resume them.
///
/// Bounded, so memory stays flat however long the capture: the
/// [`ResumptionCache::MAX_ENTRIES`] session IDs and tickets remembered or used most recently
/// (OpenSSL's default server session cache size, `SSL_SESSION_CACHE_MAX_SIZE_DEFAULT`), within
/// [`ResumptionCache::MAX_BYTES`] of IDs and tickets; the least recent are forgotten first.
pub struct ResumptionCache {
    by_session_id: HashMap<Vec<u8>, CachedSecret>,
    by_ticket: HashMap<Vec<u8>, CachedSecret>,
    /// (generation, is a ticket, key), oldest first. An entry whose generation no longer
    /// matches the map's was remembered again later and is skipped.
    order: std::collections::VecDeque<(u64, bool, Vec<u8>)>,
    next_generation: u64,
    key_bytes: usize,
    forgotten: u64,
    max_entries: usize,
    max_bytes: usize,
}

struct CachedSecret {
    generation: u64,
    stream: u64,
    master: MasterSecret,
}

impl Default for ResumptionCache {
    fn default() -> Self {
        Self::with_limits(Self::MAX_ENTRIES, Self::MAX_BYTES)
    }
}

impl ResumptionCache {
    pub const MAX_ENTRIES: usize = 20 * 1024;
    pub const MAX_BYTES: usize = 16 << 20;

    /// A cache of at most `max_entries` IDs and tickets totalling at most `max_bytes`.
    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            by_session_id: HashMap::new(),
            by_ticket: HashMap::new(),
            order: std::collections::VecDeque::new(),
            next_generation: 0,
            key_bytes: 0,
            forgotten: 0,
            max_entries,
            max_bytes,
        }
    }

    pub fn remember(&mut self, stream: u64, obs: &ObservedSession, master: &MasterSecret) {
        if let Some(sh) = &obs.server_hello {
            if !sh.session_id.is_empty() {
                self.insert(false, &sh.session_id, stream, master);
            }
        }
        if let Some(t) = &obs.new_ticket {
            self.insert(true, t, stream, master);
        }
    }

    fn map(&mut self, ticket: bool) -> &mut HashMap<Vec<u8>, CachedSecret> {
        if ticket {
            &mut self.by_ticket
        } else {
            &mut self.by_session_id
        }
    }

    /// IDs and tickets held.
    pub fn len(&self) -> usize {
        self.by_session_id.len() + self.by_ticket.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers `key`, or remembers it again (it becomes the most recent).
    fn insert(&mut self, ticket: bool, key: &[u8], stream: u64, master: &MasterSecret) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = CachedSecret {
            generation,
            stream,
            master: master.clone(),
        };
        if self.map(ticket).insert(key.to_vec(), entry).is_none() {
            self.key_bytes += key.len();
        }
        self.order.push_back((generation, ticket, key.to_vec()));
        while self.len() > self.max_entries || self.key_bytes > self.max_bytes {
            let Some((generation, ticket, oldest)) = self.order.pop_front() else {
                break;
            };
            let map = self.map(ticket);
            if map.get(&oldest).is_some_and(|e| e.generation == generation) {
                map.remove(&oldest);
                self.key_bytes -= oldest.len();
                self.forgotten += 1;
            }
        }
        // Keys remembered again leave stale places behind; drop them before they add up.
        if self.order.len() > 2 * self.len() + 64 {
            let (ids, tickets) = (&self.by_session_id, &self.by_ticket);
            self.order.retain(|(generation, ticket, key)| {
                let map = if *ticket { tickets } else { ids };
                map.get(key).is_some_and(|e| e.generation == *generation)
            });
        }
    }

    /// How many IDs and tickets were forgotten to keep the cache bounded.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    fn lookup(&self, r: &Resumption) -> Option<(u64, MasterSecret)> {
        let e = match r {
            Resumption::SessionId(id) => self.by_session_id.get(id)?,
            Resumption::Ticket(t) => self.by_ticket.get(t)?,
        };
        Some((e.stream, e.master.clone()))
    }
}

fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 12 {
        hex(bytes)
    } else {
        format!(
            "{}…{} ({} bytes)",
            hex(&bytes[..6]),
            hex(&bytes[bytes.len() - 4..]),
            bytes.len()
        )
    }
}

/// Analyses one observed session against the loot.
pub fn analyse(
    capture: &str,
    stream: u64,
    client: String,
    server: String,
    obs: &ObservedSession,
    loot: &Loot,
    cache: &ResumptionCache,
) -> SessionReport {
    let suite_name = obs
        .suite_id
        .map(crate::suites::suite_name)
        .unwrap_or_else(|| "?".into());
    let kx = obs.key_exchange;
    let mut report = SessionReport {
        capture: capture.to_string(),
        stream,
        client,
        server,
        version: obs.version_name(),
        cipher_suite: suite_name,
        key_exchange: kx
            .map(|k| k.short().to_string())
            .unwrap_or_else(|| "?".into()),
        ems: obs.ems,
        sni: obs.sni.clone(),
        resumed: obs.resumed.as_ref().map(|r| match r {
            Resumption::SessionId(_) => "session-id".to_string(),
            Resumption::Ticket(_) => "ticket".to_string(),
        }),
        verdict: Verdict::NotDecrypted,
        reason: String::new(),
        source: None,
        client_random: obs.client_random(),
        master_secret: None,
        client_data: Vec::new(),
        server_data: Vec::new(),
        client_finished: None,
        server_finished: None,
        notes: obs.notes.clone(),
    };
    let key_check = check_key_against_certificate(obs, loot);

    if obs.server_hello.is_none() {
        report.reason = "the handshake never reached ServerHello".into();
        return report;
    }
    if kx == Some(KeyExchange::Tls13) {
        analyse_tls13(&mut report, obs, loot);
        return report;
    }
    let Some(suite) = obs.suite else {
        report.reason = format!(
            "cipher suite {} is not one pfslab decrypts (0x009C, 0x009D, 0xC02F, 0xC030)",
            report.cipher_suite
        );
        if kx.is_some_and(|k| k.is_forward_secret()) {
            report.verdict = Verdict::ForwardSecret;
        }
        return report;
    };

    // 1. Find a master secret: key log, resumption, or the stolen key.
    let mut candidate: Option<(MasterSecret, SecretSource)> = None;
    let cr = obs.client_random();
    if let (Some(log), Some(cr)) = (&loot.keylog, cr) {
        if let Some(m) = log
            .master_secrets
            .get(&cr)
            .and_then(|m| <[u8; 48]>::try_from(m.as_slice()).ok())
        {
            candidate = Some((MasterSecret(m), SecretSource::KeyLogMaster));
        }
    }
    if candidate.is_none() {
        if let (Some(log), KeyExchangeOnWire::RsaEncryptedPremaster(enc)) =
            (&loot.keylog, &obs.wire_key_exchange)
        {
            let prefix: Option<[u8; 8]> = enc.get(..8).and_then(|p| p.try_into().ok());
            if let Some(pms) = prefix.and_then(|p| log.rsa_premasters.get(&p)) {
                candidate = master_from_premaster(obs, &suite, pms)
                    .map(|m| (m, SecretSource::KeyLogPremaster));
            }
        }
    }
    if candidate.is_none() {
        if let Some(r) = &obs.resumed {
            match cache.lookup(r) {
                Some((from, m)) => {
                    candidate = Some((m, SecretSource::Resumed { from_stream: from }))
                }
                None => {
                    report.reason = format!(
                        "resumed session ({}): the abbreviated handshake carries no key exchange, and the session it resumes was not recovered in these captures{}",
                        report.resumed.clone().unwrap_or_default(),
                        if cache.forgotten() > 0 {
                            format!(" (or was forgotten: the attacker keeps only the latest {} session IDs and tickets)", cache.max_entries)
                        } else {
                            String::new()
                        }
                    );
                    if suite.key_exchange.is_forward_secret() {
                        report.verdict = Verdict::ForwardSecret;
                    }
                    return report;
                }
            }
        }
    }
    let mut stolen_key_failure = None;
    if candidate.is_none() {
        match (&obs.wire_key_exchange, &loot.key) {
            (KeyExchangeOnWire::RsaEncryptedPremaster(enc), Some(key)) => {
                match decrypt_premaster(key, loot.fast_key.as_ref(), obs, enc) {
                    Ok(pms) => {
                        candidate = master_from_premaster(obs, &suite, &pms)
                            .map(|m| (m, SecretSource::StolenKey))
                    }
                    Err(e) => stolen_key_failure = Some(e),
                }
            }
            (KeyExchangeOnWire::Ecdhe { .. }, _) => {
                report.verdict = Verdict::ForwardSecret;
                report.reason = ecdhe_reason(obs, loot, &key_check);
                return report;
            }
            (KeyExchangeOnWire::RsaEncryptedPremaster(_), None) => {
                report.reason = "RSA key transport: the premaster crossed the wire encrypted, but no server key was given to decrypt it".into();
                return report;
            }
            _ => {
                report.reason =
                    "the ClientKeyExchange was not captured; without it nothing can be derived"
                        .into();
                return report;
            }
        }
    }
    let Some((master, source)) = candidate else {
        report.reason = match (&key_check, stolen_key_failure) {
            (KeyCheck::Mismatch(why), _) => {
                format!("{why}; {}", "so it cannot decrypt the premaster")
            }
            (_, Some(e)) => e,
            _ => "no secret for this session".into(),
        };
        return report;
    };

    // 2. Decrypt both ways with the endpoints' record protection and verify Finished.
    let Some(dec) = decrypt_tls12(obs, &suite, &master) else {
        report.reason = "the handshake is incomplete (missing randoms)".into();
        return report;
    };
    report.client_finished = Some(dec.client_finished.clone());
    report.server_finished = Some(dec.server_finished.clone());
    for (who, d) in [("client", &dec.client), ("server", &dec.server)] {
        if let Some(s) = &d.stopped {
            report.notes.push(format!(
                "{who} → {}: {s}",
                if who == "client" { "server" } else { "client" }
            ));
        }
    }
    let opened_anything = dec.client.records_opened + dec.server.records_opened > 0;
    if !opened_anything {
        report.reason = match source {
            SecretSource::StolenKey => "the stolen key gives a premaster, but its keys do not open the first record: it is not this server's key, or the record was tampered with".into(),
            _ => format!("the {} does not open this session's records", source.describe()),
        };
        return report;
    }
    report.verdict = Verdict::Decrypted;
    let proof = match (dec.client_finished.clone(), dec.server_finished.clone()) {
        (FinishedCheck::Verified, FinishedCheck::Verified) => {
            "both Finished messages verify".to_string()
        }
        (c, s) => format!("client Finished {c:?}, server Finished {s:?}").to_lowercase(),
    };
    report.reason = format!("{}; {proof}", source.describe());
    report.master_secret = Some(Zeroizing::new(master.0.to_vec()));
    report.source = Some(source);
    report.client_data = dec.client.data;
    report.server_data = dec.server.data;
    report
}

/// TLS 1.3 traffic secrets found for one session (any may be missing).
#[derive(Default)]
pub struct Tls13Secrets {
    pub client_handshake: Option<TrafficSecret>,
    pub server_handshake: Option<TrafficSecret>,
    pub client_application: Option<TrafficSecret>,
    pub server_application: Option<TrafficSecret>,
}

impl Tls13Secrets {
    pub fn from_keylog(log: &KeyLog, client_random: &[u8; 32], suite: &Suite) -> Self {
        let get = |label: &str| {
            log.tls13_secrets
                .get(&(label.to_string(), *client_random))
                .map(|s| TrafficSecret::new(suite.hash, s.to_vec()))
        };
        Self {
            client_handshake: get("CLIENT_HANDSHAKE_TRAFFIC_SECRET"),
            server_handshake: get("SERVER_HANDSHAKE_TRAFFIC_SECRET"),
            client_application: get("CLIENT_TRAFFIC_SECRET_0"),
            server_application: get("SERVER_TRAFFIC_SECRET_0"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.client_handshake.is_none()
            && self.server_handshake.is_none()
            && self.client_application.is_none()
            && self.server_application.is_none()
    }
}

/// One direction of a TLS 1.3 session, opened with whatever secrets are known.
#[derive(Debug, Default, Clone)]
pub struct Direction13 {
    pub data: Vec<u8>,
    /// Handshake messages decrypted under the handshake traffic secret.
    pub handshake: Vec<HandshakeMessage>,
    pub handshake_records_skipped: usize,
    pub finished: FinishedCheck13,
    pub key_updates: usize,
    pub stopped: Option<String>,
    pub app_opened: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum FinishedCheck13 {
    Verified,
    Mismatch,
    #[default]
    NotChecked,
}

/// Opens one direction: handshake records under `hs` until Finished, then application records
/// under `ap` (following KeyUpdates). Without `hs`, the first record that opens under `ap`
/// marks where application data starts. `transcript` holds the handshake so far and grows.
fn open_direction13(
    records: &[OpaqueRecord],
    suite: &Suite,
    hs: Option<&TrafficSecret>,
    ap: Option<&TrafficSecret>,
    transcript: &mut Vec<u8>,
) -> Direction13 {
    let mut out = Direction13::default();
    let mut hs_prot = hs.and_then(|h| crate::tls13::protector(suite, h).ok());
    let mut ap_secret = ap.cloned();
    let mut ap_prot = ap.and_then(|a| crate::tls13::protector(suite, a).ok());
    let mut in_handshake = true;
    let mut joiner = HandshakeJoiner::new();
    for (i, rec) in records.iter().enumerate() {
        if in_handshake {
            if let Some(p) = hs_prot.as_mut() {
                if let Ok((typ, plain)) = p.open(&rec.payload) {
                    if typ == ContentType::Handshake {
                        joiner.push(&plain);
                        while let Ok(Some(m)) = joiner.next_message() {
                            if m.typ == HandshakeType::Finished {
                                let expected =
                                    hs.map(|h| h.verify_data(&suite.hash.digest(transcript)));
                                out.finished = if expected.as_deref() == Some(m.body()) {
                                    FinishedCheck13::Verified
                                } else {
                                    FinishedCheck13::Mismatch
                                };
                                in_handshake = false;
                            }
                            transcript.extend_from_slice(&m.encoded);
                            out.handshake.push(m);
                        }
                    }
                    continue;
                }
            }
            // No handshake key, or it does not open this record: is this the first application record?
            let opens_as_app = ap_prot
                .clone()
                .is_some_and(|mut p| p.open(&rec.payload).is_ok());
            if !opens_as_app {
                if hs_prot.is_some() {
                    out.stopped = Some(format!("protected record {} fails GCM authentication under the handshake traffic secret", i + 1));
                    break;
                }
                out.handshake_records_skipped += 1;
                continue;
            }
            in_handshake = false;
        }
        let Some(p) = ap_prot.as_mut() else { break };
        let Ok((typ, plain)) = p.open(&rec.payload) else {
            out.stopped = Some(format!(
                "protected record {} fails GCM authentication under the application traffic secret",
                i + 1
            ));
            break;
        };
        out.app_opened = true;
        match typ {
            ContentType::ApplicationData => out.data.extend_from_slice(&plain),
            ContentType::Handshake => {
                joiner.push(&plain);
                while let Ok(Some(m)) = joiner.next_message() {
                    // RFC 8446 §4.6.3: later records use the next generation of the secret.
                    if m.typ == HandshakeType::KeyUpdate {
                        if let Some(next) = ap_secret.as_ref().map(|s| s.next_generation()) {
                            ap_prot = crate::tls13::protector(suite, &next).ok();
                            ap_secret = Some(next);
                            out.key_updates += 1;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Decrypts a TLS 1.3 session with the secrets a key log gave.
pub fn decrypt_tls13(
    obs: &ObservedSession,
    suite: &Suite,
    secrets: &Tls13Secrets,
) -> (Direction13, Direction13) {
    // Transcript: ClientHello (or message_hash of the first, HelloRetryRequest, the second)
    // and ServerHello, then the decrypted server flight (RFC 8446 §4.4.1).
    let mut transcript = Vec::new();
    let hellos: Vec<&HandshakeMessage> = obs
        .handshake_client
        .iter()
        .filter(|m| m.typ == HandshakeType::ClientHello)
        .collect();
    let server_hellos: Vec<&HandshakeMessage> = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ == HandshakeType::ServerHello)
        .collect();
    if obs.hello_retry {
        if let (Some(ch1), Some(hrr), Some(ch2), Some(sh)) = (
            hellos.first(),
            server_hellos.first(),
            hellos.get(1),
            server_hellos.get(1),
        ) {
            transcript.extend_from_slice(
                &crate::msgs::handshake13::message_hash(&suite.hash.digest(&ch1.encoded)).encoded,
            );
            transcript.extend_from_slice(&hrr.encoded);
            transcript.extend_from_slice(&ch2.encoded);
            transcript.extend_from_slice(&sh.encoded);
        }
    } else if let (Some(ch), Some(sh)) = (hellos.first(), server_hellos.first()) {
        transcript.extend_from_slice(&ch.encoded);
        transcript.extend_from_slice(&sh.encoded);
    }
    let server = open_direction13(
        &obs.server_protected.records,
        suite,
        secrets.server_handshake.as_ref(),
        secrets.server_application.as_ref(),
        &mut transcript,
    );
    // The client's Finished covers the transcript through the server's Finished, which is
    // only known when the server's flight was decrypted.
    let mut client_transcript = if server.finished == FinishedCheck13::NotChecked {
        Vec::new()
    } else {
        transcript
    };
    let mut client = open_direction13(
        &obs.client_protected.records,
        suite,
        secrets.client_handshake.as_ref(),
        secrets.client_application.as_ref(),
        &mut client_transcript,
    );
    if server.finished == FinishedCheck13::NotChecked
        && client.finished != FinishedCheck13::NotChecked
    {
        client.finished = FinishedCheck13::NotChecked;
    }
    (client, server)
}

fn analyse_tls13(report: &mut SessionReport, obs: &ObservedSession, loot: &Loot) {
    report.verdict = Verdict::ForwardSecret;
    report.reason = tls13_reason(obs);
    let (Some(log), Some(cr), Some(suite)) = (&loot.keylog, obs.client_random(), obs.suite) else {
        return;
    };
    let secrets = Tls13Secrets::from_keylog(log, &cr, &suite);
    if secrets.is_empty() {
        return;
    }
    let (client, server) = decrypt_tls13(obs, &suite, &secrets);
    let mut opened = Vec::new();
    let mut closed = Vec::new();
    let mut describe = |have: bool, what: &str, label: &str| {
        if have {
            opened.push(what.to_string());
        } else {
            closed.push(format!("{what} (no {label})"));
        }
    };
    describe(
        secrets.server_handshake.is_some() && !server.handshake.is_empty(),
        "the server's handshake (certificate included)",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    );
    describe(
        secrets.client_handshake.is_some() && !client.handshake.is_empty(),
        "the client's handshake records (its Finished)",
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    );
    describe(
        secrets.client_application.is_some() && client.app_opened,
        "client → server application data",
        "CLIENT_TRAFFIC_SECRET_0",
    );
    describe(
        secrets.server_application.is_some() && server.app_opened,
        "server → client application data",
        "SERVER_TRAFFIC_SECRET_0",
    );
    if opened.is_empty() {
        report.verdict = Verdict::NotDecrypted;
        report.reason = "the key log names this session, but its secrets do not open any record (wrong secrets or a tampered capture)".into();
        return;
    }
    report.verdict = Verdict::Decrypted;
    let mut reason = format!(
        "TLS 1.3 traffic secrets from the key log opened {}",
        opened.join(", ")
    );
    if !closed.is_empty() {
        reason.push_str(&format!("; still closed: {}", closed.join(", ")));
    }
    match server.finished {
        FinishedCheck13::Verified => reason.push_str("; the server Finished verifies"),
        FinishedCheck13::Mismatch => reason.push_str("; the server Finished does NOT verify"),
        FinishedCheck13::NotChecked => {}
    }
    if client.finished == FinishedCheck13::Verified {
        reason.push_str(", and so does the client's");
    }
    report.reason = reason;
    report.client_finished = Some(match client.finished {
        FinishedCheck13::Verified => FinishedCheck::Verified,
        FinishedCheck13::Mismatch => FinishedCheck::Mismatch,
        FinishedCheck13::NotChecked => FinishedCheck::NotSeen,
    });
    report.server_finished = Some(match server.finished {
        FinishedCheck13::Verified => FinishedCheck::Verified,
        FinishedCheck13::Mismatch => FinishedCheck::Mismatch,
        FinishedCheck13::NotChecked => FinishedCheck::NotSeen,
    });
    if let Some(cert) = server
        .handshake
        .iter()
        .find(|m| m.typ == HandshakeType::Certificate)
    {
        if let Some(leaf) = crate::msgs::handshake13::Certificate13::read(cert.body())
            .ok()
            .and_then(|c| c.chain.into_iter().next())
        {
            if let Ok(info) = pki::parse_certificate(&leaf) {
                report.notes.push(format!(
                    "decrypted server certificate: {} (sha256 {})",
                    info.subject,
                    hex(&info.sha256_fingerprint)
                ));
            }
        }
    }
    for (who, d) in [("client → server", &client), ("server → client", &server)] {
        if let Some(s) = &d.stopped {
            report.notes.push(format!("{who}: {s}"));
        }
        if d.key_updates > 0 {
            report
                .notes
                .push(format!("{who}: followed {} KeyUpdate(s)", d.key_updates));
        }
    }
    report.client_data = client.data;
    report.server_data = server.data;
}

/// Whether the stolen key belongs to the certificate this session presented.
#[derive(Debug, Clone)]
pub enum KeyCheck {
    NoKey,
    NoCertificate,
    Matches,
    Mismatch(String),
}

pub fn check_key_against_certificate(obs: &ObservedSession, loot: &Loot) -> KeyCheck {
    let Some(key) = &loot.key else {
        return KeyCheck::NoKey;
    };
    let Some(leaf) = obs.certificates.first() else {
        return KeyCheck::NoCertificate;
    };
    let lock = || {
        loot.last_key_check
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    if let Some((cert, answer)) = lock().as_ref() {
        if cert == leaf {
            return answer.clone();
        }
    }
    let answer = check_key_against(key, leaf);
    *lock() = Some((leaf.clone(), answer.clone()));
    answer
}

fn check_key_against(key: &rsa::PrivateKey, leaf: &[u8]) -> KeyCheck {
    match pki::parse_certificate(leaf) {
        Ok(info) if pki::key_matches_certificate(key, &info) => KeyCheck::Matches,
        Ok(info) => Mismatch(format!("the stolen key is not this server's key: the certificate ({}) holds a different RSA public key", info.subject)),
        Err(e) => KeyCheck::Mismatch(format!("the server's certificate cannot be read ({e})")),
    }
}

use KeyCheck::Mismatch;

fn ecdhe_reason(obs: &ObservedSession, loot: &Loot, key_check: &KeyCheck) -> String {
    let KeyExchangeOnWire::Ecdhe {
        server_public,
        client_public,
        signature_scheme,
        signature,
        named_group,
    } = &obs.wire_key_exchange
    else {
        return "ECDHE".into();
    };
    let signed_by = match (
        key_check,
        &loot.key,
        obs.server_key_exchange.as_ref(),
        obs.client_random(),
        obs.server_random(),
    ) {
        (KeyCheck::Matches, Some(key), Some(ske), Some(cr), Some(sr)) => {
            let public = rsa::PublicKey::from(key);
            match pki::verify(&public, *signature_scheme, &ske.signed_message(&cr, &sr), signature) {
                Ok(()) => format!(
                    "the stolen RSA key only signed the ServerKeyExchange ({}; the signature verifies with it, so this is the same server)",
                    pki::scheme_name(*signature_scheme).unwrap_or("?")
                ),
                Err(_) => "the ServerKeyExchange signature does not verify with the stolen key".into(),
            }
        }
        (KeyCheck::Mismatch(why), ..) => why.clone(),
        _ => "the server's RSA key only signed the ServerKeyExchange".into(),
    };
    format!(
        "ECDHE on {}: only the ephemeral public points crossed the wire (server {}, client {}); {}; the premaster is the ECDH product of two ephemeral secrets that never left the peers",
        crate::msgs::enums::NamedGroup::from_wire(*named_group).name(),
        short_hex(server_public),
        short_hex(client_public),
        signed_by
    )
}

fn tls13_reason(obs: &ObservedSession) -> String {
    let shares = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(g),
            client_share,
            server_share,
            ..
        } => format!(
            "key shares on {}: client {}, server {}",
            crate::msgs::enums::NamedGroup::from_wire(*g).name(),
            client_share
                .as_deref()
                .map(short_hex)
                .unwrap_or_else(|| "?".into()),
            server_share
                .as_deref()
                .map(short_hex)
                .unwrap_or_else(|| "?".into())
        ),
        _ => "key shares".into(),
    };
    format!(
        "TLS 1.3: only ephemeral public key shares crossed the wire ({shares}); there is no RSA key transport in TLS 1.3 — the server's RSA key only signed CertificateVerify (itself encrypted); every traffic secret comes from the (EC)DHE shared secret of two ephemeral keys that never left the peers"
    )
}

/// Hash used by a suite, for display.
pub fn suite_hash(suite: &Suite) -> HashAlg {
    suite.hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: u8) -> MasterSecret {
        MasterSecret([byte; 48])
    }

    fn found(cache: &ResumptionCache, r: &Resumption) -> Option<(u64, u8)> {
        cache.lookup(r).map(|(stream, m)| (stream, m.0[0]))
    }

    #[test]
    fn resumption_cache_forgets_the_oldest_beyond_its_entry_bound() {
        let mut cache = ResumptionCache::with_limits(3, 1 << 20);
        for i in 0..5u8 {
            cache.insert(i % 2 == 1, &[i; 32], u64::from(i), &master(i));
        }
        // 0 and 1 were forgotten; 2 (an ID), 3 (a ticket) and 4 (an ID) remain.
        assert_eq!(cache.forgotten(), 2);
        assert_eq!(found(&cache, &Resumption::SessionId(vec![0; 32])), None);
        assert_eq!(found(&cache, &Resumption::Ticket(vec![1; 32])), None);
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((2, 2))
        );
        assert_eq!(
            found(&cache, &Resumption::Ticket(vec![3; 32])),
            Some((3, 3))
        );
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![4; 32])),
            Some((4, 4))
        );
        // An ID is not a ticket.
        assert_eq!(found(&cache, &Resumption::Ticket(vec![4; 32])), None);
        // Remembering a key again updates it and makes it the most recent: 2 now outlives 3.
        cache.insert(false, &[2; 32], 9, &master(9));
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((9, 9))
        );
        assert_eq!((cache.len(), cache.forgotten()), (3, 2));
        cache.insert(true, &[5; 32], 5, &master(5));
        assert_eq!(found(&cache, &Resumption::Ticket(vec![3; 32])), None);
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((9, 9))
        );
        assert_eq!((cache.len(), cache.forgotten()), (3, 3));
    }

    #[test]
    fn resumption_cache_forgets_the_oldest_beyond_its_byte_bound() {
        let mut cache = ResumptionCache::with_limits(100, 1000);
        cache.insert(true, &[1; 600], 1, &master(1));
        cache.insert(true, &[2; 300], 2, &master(2));
        assert_eq!(cache.forgotten(), 0);
        cache.insert(true, &[3; 200], 3, &master(3));
        assert_eq!(cache.forgotten(), 1);
        assert_eq!(found(&cache, &Resumption::Ticket(vec![1; 600])), None);
        assert_eq!(
            found(&cache, &Resumption::Ticket(vec![3; 200])),
            Some((3, 3))
        );
        assert_eq!(cache.key_bytes, 500);
        // A ticket larger than the whole bound pushes everything out, itself last.
        cache.insert(true, &[4; 1200], 4, &master(4));
        assert_eq!(found(&cache, &Resumption::Ticket(vec![4; 1200])), None);
        assert_eq!(cache.key_bytes, 0);
    }

    #[test]
    fn a_key_remembered_again_and_again_leaves_no_trail() {
        let mut cache = ResumptionCache::with_limits(4, 1 << 20);
        for i in 0..4u8 {
            cache.insert(false, &[i; 32], u64::from(i), &master(i));
        }
        for round in 0..10_000u64 {
            cache.insert(false, &[1; 32], round, &master(1));
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 0));
        assert!(cache.order.len() <= 2 * 4 + 64, "{}", cache.order.len());
        assert_eq!(cache.key_bytes, 4 * 32);
        // Oldest first among the others: 0, 2, 3, then 1.
        for (next, gone) in [(10u8, 0u8), (11, 2), (12, 3), (13, 1)] {
            cache.insert(false, &[next; 32], 0, &master(next));
            assert_eq!(found(&cache, &Resumption::SessionId(vec![gone; 32])), None);
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 4));
    }

    #[test]
    fn default_resumption_cache_has_openssl_server_cache_size() {
        let mut cache = ResumptionCache::default();
        for i in 0..(ResumptionCache::MAX_ENTRIES as u32 + 10) {
            cache.insert(false, &i.to_be_bytes(), u64::from(i), &master(1));
        }
        assert_eq!(cache.forgotten(), 10);
        assert_eq!(cache.len(), 20 * 1024);
        assert!(found(&cache, &Resumption::SessionId(9u32.to_be_bytes().to_vec())).is_none());
        assert!(found(&cache, &Resumption::SessionId(10u32.to_be_bytes().to_vec())).is_some());
    }
}
