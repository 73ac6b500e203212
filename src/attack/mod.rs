//! The attacker: given what a passive eavesdropper observed and what was stolen (the server's
//! RSA key, a key log), recover what can be recovered — with the endpoints' own key schedule
//! and record protection — and say precisely why the rest cannot be.
//!
//! The road: [`pipeline`] finds TLS connections in captures, [`observe`] reads each one's
//! handshake, [`recovery`] finds its secrets (the one place that does), [`tls12`] and [`tls13`]
//! decrypt, [`reasons`] says why a session stays closed, [`driver`] runs it all over many cores.

pub mod assumed_dlog;
pub mod bleichenbacher;
pub mod break_dh;
pub mod chain13;
pub mod driver;
pub mod observe;
pub mod oracle_client;
pub mod pipeline;
mod reasons;
pub mod recovery;
mod recovery13;
pub mod resumption;
pub mod tickets;
pub mod tls12;
pub mod tls13;

use zeroize::Zeroizing;

use crate::attack::observe::{ObservedSession, Resumption};
use crate::attack::tickets::{PskMode, TicketFact};
use crate::keylog::KeyLog;
use crate::tickets::{TicketKey, TicketKeys};

pub use reasons::{dh_bits, short_hex};
pub use recovery::{recover, KeyCheck, Recovery, SecretSource};
pub use recovery13::dhe_secrets;
pub use recovery13::{binder_verifies, psk_ke_secrets, psk_mode};
pub use resumption::ResumptionCache;
pub use tls12::{decrypt_premaster, decrypt_tls12, master_from_premaster, Decryption};
pub use tls13::{decrypt_tls13, Direction13, Tls13Secrets};

/// What the attacker holds.
#[derive(Default)]
pub struct Loot {
    pub key: Option<rsa::PrivateKey>,
    pub keylog: Option<KeyLog>,
    /// Stolen session-ticket encryption keys (STEKs): every ticket sealed under one opens.
    pub ticket_keys: Option<TicketKeys>,
    /// The stolen key loaded into AWS-LC for fast decryption, when AWS-LC takes it.
    pub fast_key: Option<crate::crypto::fast_rsa::FastRsaKey>,
    /// The last certificate checked against the key, and the answer: a capture usually shows
    /// one server certificate thousands of times, and parsing it is not free.
    pub(crate) last_key_check: std::sync::Mutex<Option<(Vec<u8>, KeyCheck)>>,
    /// Try the discrete log of DHE public values (`attack --break-dh`, [`break_dh`]).
    pub break_dh: Option<break_dh::GroupCache>,
    /// A premaster Bleichenbacher's attack took from a live server (`oracle-attack`).
    pub padding_oracle: Option<oracle_client::OraclePremaster>,
    /// The discrete-log stand-in (`--assume-dlog-broken`, [`assumed_dlog`]).
    pub assumed_dlog: Option<assumed_dlog::AssumedDlog>,
}

impl Loot {
    pub fn new(key: Option<rsa::PrivateKey>, keylog: Option<KeyLog>) -> Self {
        let fast_key = key
            .as_ref()
            .and_then(crate::crypto::fast_rsa::FastRsaKey::unblinded);
        Self {
            key,
            keylog,
            ticket_keys: None,
            fast_key,
            last_key_check: Default::default(),
            break_dh: None,
            padding_oracle: None,
            assumed_dlog: None,
        }
    }

    /// The same loot with stolen ticket keys (none: no change).
    pub fn with_ticket_keys(mut self, keys: Vec<TicketKey>) -> Self {
        let mut keys = keys.into_iter();
        if let Some(first) = keys.next() {
            self.ticket_keys = Some(TicketKeys::new(first, keys.collect()));
        }
        self
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
    /// Every protected record of both directions opened.
    Decrypted,
    /// The keys are proven (a record opened) but part of the session stayed closed: a direction
    /// or stage whose secret is missing, records that fail authentication, or no application
    /// data in the capture. The reason says which.
    PartlyDecrypted,
    ForwardSecret,
    NotDecrypted,
}

impl Verdict {
    pub const ALL: [Verdict; 4] = [
        Self::Decrypted,
        Self::PartlyDecrypted,
        Self::ForwardSecret,
        Self::NotDecrypted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Decrypted => "decrypted",
            Self::PartlyDecrypted => "partly-decrypted",
            Self::ForwardSecret => "forward-secret",
            Self::NotDecrypted => "not-decrypted",
        }
    }

    /// Whether some plaintext was recovered with proven keys.
    pub fn opened(self) -> bool {
        matches!(self, Self::Decrypted | Self::PartlyDecrypted)
    }
}

/// Outcome of checking one Finished message (RFC 5246 §7.4.9, RFC 8446 §4.4.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FinishedCheck {
    Verified,
    Mismatch,
    #[default]
    NotSeen,
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
    /// CBC suites only: whether records were encrypt-then-MAC (RFC 7366); `None` for AEAD.
    pub encrypt_then_mac: Option<bool>,
    pub sni: Option<String>,
    pub resumed: Option<String>,
    pub verdict: Verdict,
    pub reason: String,
    /// The reason in a few words, for the table.
    pub short_reason: String,
    pub source: Option<SecretSource>,
    pub client_random: Option<[u8; 32]>,
    pub master_secret: Option<Zeroizing<Vec<u8>>>,
    pub client_data: Vec<u8>,
    pub server_data: Vec<u8>,
    pub client_finished: Option<FinishedCheck>,
    pub server_finished: Option<FinishedCheck>,
    pub notes: Vec<String>,
    /// Every ticket seen in the session, and what the stolen ticket keys made of it.
    pub tickets: Vec<TicketFact>,
    /// TLS 1.3: full handshake, psk_ke or psk_dhe_ke.
    pub psk_mode: Option<PskMode>,
    /// TLS 1.3 traffic secrets derived from a recovered PSK, by key log label.
    pub derived_tls13_secrets: Vec<(crate::keylog::SecretKind, Zeroizing<Vec<u8>>)>,
    /// The key-exchange group: the TLS 1.3 key share's, or the TLS 1.2 ECDHE curve.
    pub group: Option<String>,
    /// `--assume-dlog-broken` gave this session a classical secret (the hybrid's X25519 half
    /// included), and how.
    pub assumed_dlog: Option<SecretSource>,
    /// TLS 1.3: the tickets the session issued, with their PSKs when had (for the resumption
    /// cache; not printed).
    pub issued_psks: Vec<chain13::IssuedPsk>,
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

/// Analyses one observed session against the loot: its [`Recovery`], as a report row.
pub fn analyse(
    capture: &str,
    stream: u64,
    client: String,
    server: String,
    obs: &ObservedSession,
    loot: &Loot,
    cache: &ResumptionCache,
) -> SessionReport {
    let recovery = recover(obs, loot, cache);
    let (client_finished, server_finished) = recovery.finished();
    let mut notes = obs.notes.clone();
    notes.extend(recovery.notes.iter().cloned());
    let verdict = recovery.verdict;
    let reason = recovery.reason.clone();
    let short_reason = recovery.short.clone();
    let (master_secret, source) = match (&recovery.master, verdict) {
        (Some((m, s)), v) if v.opened() => (Some(Zeroizing::new(m.0.to_vec())), Some(s.clone())),
        _ => (None, None),
    };
    let tickets = recovery.tickets.clone();
    let psk_mode = recovery.psk_mode.clone();
    let (master_secret, source) = match (source, recovery.psk.as_ref().or(recovery.dhe.as_ref())) {
        (None, Some((_, s))) if verdict.opened() => (None, Some(s.clone())),
        other => (master_secret, other.0),
    };
    // The assumed DLP break settled this session even where nothing opened (the hybrid).
    let assumed_dlog =
        recovery
            .dhe
            .as_ref()
            .map(|(_, s)| s.clone())
            .or_else(|| match &recovery.master {
                Some((_, s @ SecretSource::AssumedDlog { .. })) => Some(s.clone()),
                _ => None,
            });
    // TLS 1.3 secrets the attacker derived (not read from a key log), for --keylog-out.
    let derived = recovery.psk.is_some() || recovery.dhe.is_some();
    let derived_tls13_secrets = match (derived, &recovery.tls13_secrets) {
        (true, Some(secrets)) if verdict.opened() => secrets
            .each()
            .into_iter()
            .filter_map(|(kind, s, _)| s.map(|s| (kind, Zeroizing::new(s.secret().to_vec()))))
            .collect(),
        _ => Vec::new(),
    };
    let issued_psks = if verdict.opened() {
        recovery.issued_psks.clone()
    } else {
        Vec::new()
    };
    let (client_data, server_data) = recovery.into_plaintext();
    SessionReport {
        capture: capture.to_string(),
        stream,
        client,
        server,
        version: obs.version_name(),
        cipher_suite: obs
            .suite_id
            .map(crate::suites::suite_name)
            .unwrap_or_else(|| "?".into()),
        key_exchange: obs
            .key_exchange
            .map(|k| k.short().to_string())
            .unwrap_or_else(|| "?".into()),
        ems: obs.ems,
        encrypt_then_mac: obs
            .suite
            .filter(|s| s.cipher.is_cbc())
            .map(|_| obs.encrypt_then_mac),
        sni: obs.sni.clone(),
        resumed: obs.resumed.as_ref().map(|r| match r {
            Resumption::SessionId(_) => "session-id".to_string(),
            Resumption::Ticket(_) => "ticket".to_string(),
        }),
        verdict,
        reason,
        short_reason,
        source,
        client_random: obs.client_random(),
        master_secret,
        client_data,
        server_data,
        client_finished,
        server_finished,
        notes,
        tickets,
        psk_mode,
        derived_tls13_secrets,
        group: assumed_dlog::group_name(obs),
        assumed_dlog,
        issued_psks,
    }
}

#[cfg(test)]
mod tickets_tests;
