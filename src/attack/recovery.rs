//! The one place that finds a session's secrets. [`recover`] walks what the attacker holds (a
//! stolen key, a key log, earlier sessions) against one observed session and returns a
//! [`Recovery`]: every secret it found, where each came from, the decryption, the verdict and
//! its reason. `attack` turns it into a report row; `explain` prints it; neither searches again.

use zeroize::Zeroizing;

use crate::attack::observe::{KeyExchangeOnWire, ObservedSession, Resumption};
use crate::attack::reasons::{dhe_reason, ecdhe_reason};
use crate::attack::resumption::ResumptionCache;
use crate::attack::tickets::{tls12_tickets, PskMode, TicketFact, TicketOrigin};
use crate::attack::tls12::{decrypt_premaster, decrypt_tls12, master_from_premaster, Decryption};
use crate::attack::tls13::{Direction13, Tls13Secrets};
use crate::attack::{FinishedCheck, Loot, Verdict};
use crate::codec::hex;
use crate::keylog::SecretKind;
use crate::msgs::dhe::DheServerKeyExchange;
use crate::pki;
use crate::suites::KeyExchange;
use crate::tickets::TicketState;
use crate::tls12::keys::MasterSecret;

/// Where a recovered TLS 1.2 secret came from.
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
    /// A stolen ticket key opened a ticket of this session; the state inside held the master
    /// secret (TLS 1.2) or the resumption PSK (TLS 1.3).
    TicketKey {
        origin: TicketOrigin,
        key_name: [u8; 16],
    },
    /// TLS 1.3: a stolen ticket key opened the PSK identity the server selected; the state
    /// inside held the resumption PSK.
    TicketPsk { key_name: [u8; 16] },
    /// TLS 1.3: the selected PSK identity is a ticket an opened earlier session issued; its
    /// PSK came from that session's resumption master secret and the ticket's nonce.
    ResumedPsk { from_stream: u64 },
    /// `--break-dh`: the discrete log of a DHE public value, taken with Pohlig–Hellman because
    /// the group's p−1 splits into small primes.
    BrokenDlog(crate::attack::break_dh::BrokenDlog),
    /// `oracle-attack`: Bleichenbacher's attack on the recorded ClientKeyExchange, asking a live
    /// server whose answers leak whether a ciphertext decrypts to 00 02 ….
    PaddingOracle { queries: u64, elapsed_ms: u64 },
    /// `--assume-dlog-broken`: the client's classical ephemeral key from the lab's stand-in
    /// file (no discrete log is taken), checked against its public value on the wire.
    AssumedDlog {
        group: crate::standin::DlogGroup,
        /// TLS 1.3: the secret is the (EC)DHE input of the key schedule, not a premaster.
        tls13: bool,
    },
}

impl SecretSource {
    pub fn describe(&self) -> String {
        match self {
            Self::StolenKey => {
                "premaster decrypted from the ClientKeyExchange with the stolen RSA key".into()
            }
            Self::KeyLogMaster => format!(
                "master secret from the key log ({} line)",
                SecretKind::ClientRandom
            ),
            Self::KeyLogPremaster => {
                format!(
                    "premaster from the key log ({} line)",
                    SecretKind::RsaPremaster
                )
            }
            Self::Resumed { from_stream } => {
                format!("resumes session {from_stream}, whose master secret was recovered")
            }
            Self::TicketKey {
                origin: TicketOrigin::Issued,
                key_name,
            } => format!(
                "the ticket sent in this session (NewSessionTicket) carried its master secret; opened with the stolen ticket key (name {})",
                hex(key_name)
            ),
            Self::TicketKey {
                origin: TicketOrigin::Presented,
                key_name,
            } => format!(
                "the ticket the client presented to resume carried the session's master secret; opened with the stolen ticket key (name {})",
                hex(key_name)
            ),
            Self::TicketPsk { key_name } => format!(
                "the ticket the client presented as its PSK identity carried the resumption PSK; opened with the stolen ticket key (name {})",
                hex(key_name)
            ),
            Self::ResumedPsk { from_stream } => {
                crate::attack::chain13::chained_route(*from_stream, "confirmed by the binder")
            }
            Self::BrokenDlog(b) => format!(
                "premaster computed from the {}'s DH exponent, found by Pohlig-Hellman: p-1 splits into {} primes, the largest of {} bits (g^x = Y checked)",
                b.party, b.primes, b.largest_bits
            ),
            Self::PaddingOracle { queries, .. } => format!(
                "premaster recovered by Bleichenbacher's attack: {queries} queries to the live server; the RSA key was never used"
            ),
            Self::AssumedDlog { group, tls13 } => format!(
                "{}: the client's {} ephemeral private key from the stand-in file (standing in for Shor's algorithm), checked to regenerate the client's public value on the wire, with the server's public value gives the {}",
                crate::attack::assumed_dlog::ASSUMED,
                group.name(),
                if *tls13 {
                    "(EC)DHE shared secret, then the handshake and traffic secrets (RFC 8446 §7.1)"
                } else {
                    "premaster, then the master secret"
                }
            ),
        }
    }
}

/// Whether the stolen key belongs to the certificate this session presented.
#[derive(Debug, Clone)]
pub enum KeyCheck {
    NoKey,
    NoCertificate,
    Matches,
    Mismatch(String),
}

/// Everything the attacker learnt about one session.
pub struct Recovery {
    pub verdict: Verdict,
    pub reason: String,
    /// The reason in a few words, for a table row.
    pub short: String,
    /// Said about the decryption (where it stopped, KeyUpdates, the decrypted certificate).
    pub notes: Vec<String>,
    pub key_check: KeyCheck,
    /// TLS 1.2 RSA key transport: the premaster and where it came from.
    pub premaster: Option<(Zeroizing<Vec<u8>>, SecretSource)>,
    /// Why the stolen key gave no premaster.
    pub premaster_failure: Option<String>,
    /// ECDHE: whether the ServerKeyExchange signature verifies with the stolen key.
    pub signature_verifies: Option<bool>,
    /// TLS 1.2: the master secret and where it came from.
    pub master: Option<(MasterSecret, SecretSource)>,
    pub tls12: Option<Decryption>,
    /// TLS 1.3: the traffic secrets the key log holds for this session (`None`: no key log).
    pub tls13_secrets: Option<Tls13Secrets>,
    /// TLS 1.3: (client → server, server → client), opened with those secrets.
    pub tls13: Option<(Direction13, Direction13)>,
    /// Every ticket seen in this session, and what the stolen ticket keys made of it.
    pub tickets: Vec<TicketFact>,
    /// TLS 1.3: how the session used a PSK.
    pub psk_mode: Option<PskMode>,
    /// TLS 1.3: the resumption PSK from an opened ticket, and where it came from.
    pub psk: Option<(Zeroizing<Vec<u8>>, SecretSource)>,
    /// TLS 1.3: whether the PSK's binder verifies (RFC 8446 §4.2.11.2).
    pub binder_verifies: Option<bool>,
    /// TLS 1.3: the (EC)DHE shared secret, and where it came from (`--assume-dlog-broken`).
    pub dhe: Option<(Zeroizing<Vec<u8>>, SecretSource)>,
    /// TLS 1.3: the tickets this session issued, with their PSKs when had.
    pub issued_psks: Vec<crate::attack::chain13::IssuedPsk>,
}

impl Recovery {
    fn new(key_check: KeyCheck) -> Self {
        Self {
            verdict: Verdict::NotDecrypted,
            reason: String::new(),
            short: String::new(),
            notes: Vec::new(),
            key_check,
            premaster: None,
            premaster_failure: None,
            signature_verifies: None,
            master: None,
            tls12: None,
            tls13_secrets: None,
            tls13: None,
            tickets: Vec::new(),
            psk_mode: None,
            psk: None,
            binder_verifies: None,
            dhe: None,
            issued_psks: Vec::new(),
        }
    }

    /// Why the tickets of this session stayed closed, as a clause to add to a reason ("" when
    /// there were none, or every one opened).
    pub fn tickets_clause(&self) -> String {
        let closed: Vec<String> = self
            .tickets
            .iter()
            .filter_map(|t| {
                t.why_closed().map(|why| {
                    format!(
                        "the ticket {} in this session stays opaque: {why}",
                        match t.origin {
                            TicketOrigin::Issued => "issued",
                            TicketOrigin::Presented => "presented",
                        }
                    )
                })
            })
            .collect();
        if closed.is_empty() {
            String::new()
        } else {
            format!("; {}", closed.join("; "))
        }
    }

    /// The Finished checks (client, server), when decryption got that far.
    pub fn finished(&self) -> (Option<FinishedCheck>, Option<FinishedCheck>) {
        if let Some(d) = &self.tls12 {
            return (
                Some(d.client_finished.clone()),
                Some(d.server_finished.clone()),
            );
        }
        match &self.tls13 {
            Some((c, s)) if self.verdict.opened() => {
                (Some(c.finished.clone()), Some(s.finished.clone()))
            }
            _ => (None, None),
        }
    }

    /// Decrypted application data (client → server, server → client).
    pub fn into_plaintext(self) -> (Vec<u8>, Vec<u8>) {
        if !self.verdict.opened() {
            return (Vec::new(), Vec::new());
        }
        match (self.tls12, self.tls13) {
            (Some(d), _) => (d.client.data, d.server.data),
            (None, Some((c, s))) => (c.data, s.data),
            _ => (Vec::new(), Vec::new()),
        }
    }
}

/// Finds every secret the loot gives for `obs`, and decrypts with them.
pub fn recover(obs: &ObservedSession, loot: &Loot, cache: &ResumptionCache) -> Recovery {
    let mut r = Recovery::new(check_key_against_certificate(obs, loot));
    let kx = obs.key_exchange;
    if obs.server_hello.is_none() {
        r.reason = "the handshake never reached ServerHello".into();
        r.short = "no ServerHello in the capture".into();
        return r;
    }
    if kx == Some(KeyExchange::Tls13) {
        crate::attack::recovery13::recover_tls13(&mut r, obs, loot, cache);
        return r;
    }
    if let (KeyExchangeOnWire::Ecdhe { .. } | KeyExchangeOnWire::Dhe { .. }, Some(key)) =
        (&obs.wire_key_exchange, &loot.key)
    {
        r.signature_verifies = server_key_exchange_verifies(obs, key);
    }
    if kx == Some(KeyExchange::DheRsa) && obs.suite.is_none() {
        // A DHE suite pfslab does not decrypt (e.g. CBC): still forward secret.
        r.verdict = Verdict::ForwardSecret;
        r.reason = dhe_reason(obs, &r.key_check, r.signature_verifies);
        r.short = "DHE: premaster never sent".into();
        return r;
    }
    let Some(suite) = obs.suite else {
        r.reason = format!(
            "cipher suite {} is not one pfslab decrypts (0x009C, 0x009D, 0x009E, 0xC02F, 0xC030)",
            obs.suite_id
                .map(crate::suites::suite_name)
                .unwrap_or_else(|| "?".into())
        );
        r.short = "suite not supported".into();
        if kx.is_some_and(|k| k.is_forward_secret()) {
            r.verdict = Verdict::ForwardSecret;
        }
        return r;
    };
    // 1. A master secret: key log, resumption, or the stolen key.
    let cr = obs.client_random();
    if let (Some(log), Some(cr)) = (&loot.keylog, cr) {
        if let Some(m) = log
            .master_secrets
            .get(&cr)
            .and_then(|m| <[u8; 48]>::try_from(m.as_slice()).ok())
        {
            r.master = Some((MasterSecret(Box::new(m)), SecretSource::KeyLogMaster));
        }
    }
    if r.master.is_none() {
        if let (Some(log), KeyExchangeOnWire::RsaEncryptedPremaster(enc)) =
            (&loot.keylog, &obs.wire_key_exchange)
        {
            let prefix: Option<[u8; 8]> = enc.get(..8).and_then(|p| p.try_into().ok());
            if let Some(pms) = prefix.and_then(|p| log.rsa_premasters.get(&p)) {
                r.master = master_from_premaster(obs, &suite, pms)
                    .map(|m| (m, SecretSource::KeyLogPremaster));
                r.premaster = Some((pms.clone(), SecretSource::KeyLogPremaster));
            }
        }
    }
    // A ticket opened with a stolen ticket key: the one presented to resume, or the one issued.
    for (fact, state) in tls12_tickets(obs, loot.ticket_keys.as_ref()) {
        let usable = fact.used || fact.origin == TicketOrigin::Issued;
        if let (None, true, Some(TicketState::Tls12(st)), Some(name)) =
            (&r.master, usable, &state, fact.key_name)
        {
            if Some(st.cipher_suite) == obs.suite_id {
                r.master = Some((
                    MasterSecret(Box::new(*st.master_secret)),
                    SecretSource::TicketKey {
                        origin: fact.origin,
                        key_name: name,
                    },
                ));
            } else {
                r.notes.push(format!(
                    "the {} ticket opened but holds a {} session, not this {} one",
                    fact.origin.as_str(),
                    crate::suites::suite_name(st.cipher_suite),
                    obs.suite_id
                        .map(crate::suites::suite_name)
                        .unwrap_or_else(|| "?".into())
                ));
            }
        } else if let (true, Some(TicketState::Tls13(_))) = (usable, &state) {
            r.notes.push(format!(
                "the {} ticket opened but holds a TLS 1.3 PSK, not a TLS 1.2 session",
                fact.origin.as_str()
            ));
        }
        r.tickets.push(fact);
    }
    if r.master.is_none() {
        if let Some(res) = &obs.resumed {
            let Some((from, m)) = cache.lookup(res) else {
                r.reason = format!(
                    "resumed session ({}): the abbreviated handshake carries no key exchange, and the session it resumes was not recovered in these captures{}",
                    match res {
                        Resumption::SessionId(_) => "session-id",
                        Resumption::Ticket(_) => "ticket",
                    },
                    if cache.forgotten() > 0 {
                        format!(" (or was forgotten: the attacker keeps only the latest {} session IDs and tickets)", cache.max_entries())
                    } else {
                        String::new()
                    }
                );
                r.reason.push_str(&r.tickets_clause());
                r.short = "resumes a session not recovered".into();
                if suite.key_exchange.is_forward_secret() {
                    r.verdict = Verdict::ForwardSecret;
                }
                return r;
            };
            r.master = Some((m, SecretSource::Resumed { from_stream: from }));
        }
    }
    if r.master.is_none() {
        match (&obs.wire_key_exchange, &loot.key) {
            (KeyExchangeOnWire::RsaEncryptedPremaster(enc), _)
                if loot
                    .padding_oracle
                    .as_ref()
                    .is_some_and(|o| o.encrypted == *enc) =>
            {
                if let Some(o) = &loot.padding_oracle {
                    let src = SecretSource::PaddingOracle {
                        queries: o.queries,
                        elapsed_ms: o.elapsed_ms,
                    };
                    r.master =
                        master_from_premaster(obs, &suite, &o.premaster).map(|m| (m, src.clone()));
                    r.premaster = Some((o.premaster.clone(), src));
                }
            }
            (KeyExchangeOnWire::RsaEncryptedPremaster(enc), Some(key)) => {
                match decrypt_premaster(key, loot.fast_key.as_ref(), obs, enc) {
                    Ok(pms) => {
                        r.master = master_from_premaster(obs, &suite, &pms)
                            .map(|m| (m, SecretSource::StolenKey));
                        r.premaster = Some((pms, SecretSource::StolenKey));
                    }
                    Err(e) => r.premaster_failure = Some(e),
                }
            }
            (KeyExchangeOnWire::Ecdhe { .. } | KeyExchangeOnWire::Dhe { .. }, _)
                if loot.assumed_dlog.is_some() =>
            {
                use crate::attack::assumed_dlog::{classical_secret, Classical, ASSUMED};
                match loot.assumed_dlog.as_ref().map(|a| classical_secret(a, obs)) {
                    Some(Ok(Classical::Secret(pms, group))) => {
                        let src = SecretSource::AssumedDlog {
                            group,
                            tls13: false,
                        };
                        r.master =
                            master_from_premaster(obs, &suite, &pms).map(|m| (m, src.clone()));
                        r.premaster = Some((pms, src));
                    }
                    other => {
                        let why = match other {
                            Some(Err(why)) => why,
                            _ => "no classical secret for a TLS 1.2 exchange".into(),
                        };
                        let base = match &obs.wire_key_exchange {
                            KeyExchangeOnWire::Dhe { .. } => {
                                dhe_reason(obs, &r.key_check, r.signature_verifies)
                            }
                            _ => ecdhe_reason(obs, &r.key_check, r.signature_verifies),
                        };
                        r.verdict = Verdict::ForwardSecret;
                        r.reason = format!("{base}; {ASSUMED} (--assume-dlog-broken): {why}");
                        r.reason.push_str(&r.tickets_clause());
                        r.short = format!("{ASSUMED}: stand-in key unusable");
                        return r;
                    }
                }
            }
            (KeyExchangeOnWire::Ecdhe { .. }, _) => {
                r.verdict = Verdict::ForwardSecret;
                r.reason = ecdhe_reason(obs, &r.key_check, r.signature_verifies);
                r.reason.push_str(&r.tickets_clause());
                r.short = if r.tickets.is_empty() {
                    "ECDHE: premaster never sent"
                } else {
                    "ECDHE: no premaster; ticket sealed"
                }
                .into();
                return r;
            }
            (
                KeyExchangeOnWire::Dhe {
                    p,
                    g,
                    server_public,
                    client_public,
                    ..
                },
                _,
            ) if loot.break_dh.is_some() => {
                let cache = loot.break_dh.as_ref();
                match cache
                    .map(|c| {
                        crate::attack::break_dh::break_dhe(c, p, g, server_public, client_public)
                    })
                    .unwrap_or_else(|| Err("--break-dh was not given".into()))
                {
                    Ok((pms, info)) => {
                        let src = SecretSource::BrokenDlog(info);
                        r.master =
                            master_from_premaster(obs, &suite, &pms).map(|m| (m, src.clone()));
                        r.premaster = Some((pms, src));
                    }
                    Err(why) => {
                        r.verdict = Verdict::ForwardSecret;
                        r.reason = format!(
                            "{}; --break-dh: {why}",
                            dhe_reason(obs, &r.key_check, r.signature_verifies)
                        );
                        r.reason.push_str(&r.tickets_clause());
                        r.short = "DHE: discrete log out of reach".into();
                        return r;
                    }
                }
            }
            (KeyExchangeOnWire::Dhe { .. }, _) => {
                r.verdict = Verdict::ForwardSecret;
                r.reason = dhe_reason(obs, &r.key_check, r.signature_verifies);
                r.reason.push_str(&r.tickets_clause());
                r.short = if r.tickets.is_empty() {
                    "DHE: premaster never sent"
                } else {
                    "DHE: no premaster; ticket sealed"
                }
                .into();
                return r;
            }
            (KeyExchangeOnWire::RsaEncryptedPremaster(_), None) => {
                r.reason = format!("RSA key transport: the premaster crossed the wire encrypted, but no server key was given to decrypt it{}", r.tickets_clause());
                r.short = "premaster encrypted; no key given".into();
                return r;
            }
            _ => {
                r.reason =
                    "the ClientKeyExchange was not captured; without it nothing can be derived"
                        .into();
                r.short = "ClientKeyExchange not captured".into();
                return r;
            }
        }
    }
    let Some((master, source)) = r.master.clone() else {
        r.reason = match (&r.key_check, &r.premaster_failure) {
            (KeyCheck::Mismatch(why), _) => format!("{why}; so it cannot decrypt the premaster"),
            (_, Some(e)) => e.clone(),
            _ => "no secret for this session".into(),
        };
        r.short = match &r.key_check {
            KeyCheck::Mismatch(_) => "the key is not this server's",
            _ => "the key gives no premaster",
        }
        .into();
        return r;
    };

    // 2. Decrypt both ways with the endpoints' record protection and verify Finished.
    let Some(dec) = decrypt_tls12(obs, &suite, &master) else {
        r.reason = "the handshake is incomplete (missing randoms)".into();
        r.short = "handshake incomplete".into();
        return r;
    };
    for (who, d) in [("client", &dec.client), ("server", &dec.server)] {
        if let Some(s) = &d.stopped {
            r.notes.push(format!(
                "{who} → {}: {s}",
                if who == "client" { "server" } else { "client" }
            ));
        }
    }
    let opened_anything = dec.client.records_opened + dec.server.records_opened > 0;
    let proof = match (dec.client_finished.clone(), dec.server_finished.clone()) {
        (FinishedCheck::Verified, FinishedCheck::Verified) => {
            "both Finished messages verify".to_string()
        }
        (c, s) => format!("client Finished {c:?}, server Finished {s:?}").to_lowercase(),
    };
    if !opened_anything {
        r.tls12 = Some(dec);
        r.reason = match source {
            SecretSource::StolenKey => "the stolen key gives a premaster, but its keys do not open the first record: it is not this server's key, or the record was tampered with".into(),
            SecretSource::PaddingOracle { .. } => "the premaster the oracle gave up does not open the first record: the record was tampered with, or the server's answers were not a padding oracle".into(),
            SecretSource::TicketKey { .. } => format!("a ticket opened with the stolen ticket key, but the master secret inside does not open this session's records: it belongs to another session ({})", source.describe()),
            _ => format!("the {} does not open this session's records", source.describe()),
        };
        r.short = "the keys open no record".into();
        return r;
    }
    r.reason = format!("{}; {proof}", source.describe());
    if let (
        SecretSource::TicketKey {
            origin: TicketOrigin::Presented,
            ..
        },
        Some(res @ Resumption::Ticket(_)),
    ) = (&source, &obs.resumed)
    {
        if let Some((from, _)) = cache.lookup(res) {
            r.reason.push_str(&ticket_issuer_clause(from));
        }
    }
    let closed: Vec<&str> = [
        ("client → server", &dec.client),
        ("server → client", &dec.server),
    ]
    .into_iter()
    .filter(|(_, d)| d.stopped.is_some())
    .map(|(who, _)| who)
    .collect();
    let no_data = dec.client.data.is_empty() && dec.server.data.is_empty();
    r.verdict = if closed.is_empty() && !no_data {
        Verdict::Decrypted
    } else {
        Verdict::PartlyDecrypted
    };
    if !closed.is_empty() {
        r.reason.push_str(&format!(
            "; {} stopped opening (see notes)",
            closed.join(" and ")
        ));
        r.short = format!("{} not all opened", closed.join(", "));
    } else if no_data {
        r.reason
            .push_str("; but the capture holds no application data to open");
        r.short = "keys proven; no application data".into();
    }
    r.tls12 = Some(dec);
    r
}

/// Names the session that received the ticket a resumption presented, when it is known.
pub fn ticket_issuer_clause(from_stream: u64) -> String {
    format!("; session {from_stream} received this ticket (NewSessionTicket)")
}

/// Whether the ServerKeyExchange signature (over both randoms and the params: RFC 8422 §5.4
/// for ECDHE, RFC 5246 §7.4.3 for DHE) verifies with the stolen key; `None` when the capture
/// lacks what it covers.
pub fn server_key_exchange_verifies(obs: &ObservedSession, key: &rsa::PrivateKey) -> Option<bool> {
    let (cr, sr) = (obs.client_random()?, obs.server_random()?);
    let (scheme, signed, signature) = match &obs.wire_key_exchange {
        KeyExchangeOnWire::Dhe {
            p,
            g,
            server_public,
            signature_scheme,
            signature,
            ..
        } => {
            let ske = DheServerKeyExchange {
                p: p.clone(),
                g: g.clone(),
                server_public: server_public.clone(),
                signature_scheme: *signature_scheme,
                signature: signature.clone(),
            };
            (
                *signature_scheme,
                ske.signed_message(&cr, &sr),
                signature.clone(),
            )
        }
        _ => {
            let ske = obs.server_key_exchange.as_ref()?;
            (
                ske.signature_scheme,
                ske.signed_message(&cr, &sr),
                ske.signature.clone(),
            )
        }
    };
    let public = rsa::PublicKey::from(key);
    Some(pki::verify(&public, scheme, &signed, &signature).is_ok())
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
        Ok(info) => KeyCheck::Mismatch(format!("the stolen key is not this server's key: the certificate ({}) holds a different RSA public key", info.subject)),
        Err(e) => KeyCheck::Mismatch(format!("the server's certificate cannot be read ({e})")),
    }
}
