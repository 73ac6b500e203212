//! The TLS 1.3 half of [`recover`](crate::attack::recover): traffic secrets from a key log, or
//! from a resumption PSK when a stolen ticket key opens the ticket a psk_ke handshake resumed
//! with (RFC 8446 §4.2.9–4.2.11, §7.1). psk_dhe_ke and full handshakes stay forward-secret.

use zeroize::Zeroizing;

use crate::attack::chain13::{chained_route, issued_psks, psk_unknown_clause};
use crate::attack::observe::ObservedSession;
use crate::attack::reasons::{short_hex, tls13_reason};
use crate::attack::tickets::{PskMode, TicketFact, TicketOrigin};
use crate::attack::tls13::{
    decrypt_tls13, extend_through_finished, hello_transcript, Tls13Secrets,
};
use crate::attack::{FinishedCheck, Loot, Recovery, ResumptionCache, SecretSource, Verdict};
use crate::codec::hex;
use crate::keylog::SecretKind;
use crate::msgs::enums::HandshakeType;
use crate::pki;
use crate::suites::Suite;
use crate::tickets::{TicketState, Tls13State};
use crate::tls13::key_schedule::EarlySecret;

/// How the secrets handed to [`open_with_secrets`] were had, for its sentences.
struct SecretsFrom {
    /// Put before the reason (the route, for a PSK).
    prefix: String,
    /// "from the key log", "derived from the PSK".
    source: &'static str,
    /// The start of the sentence when nothing opens.
    named: &'static str,
    no_record: &'static str,
}

/// How the session used a PSK, from its hellos.
pub fn psk_mode(obs: &ObservedSession) -> PskMode {
    match &obs.psk {
        Some(p) if p.selected.is_some() && p.server_key_share => PskMode::PskDheKe,
        Some(p) if p.selected.is_some() => PskMode::PskKe,
        _ => PskMode::Full,
    }
}

pub(crate) fn recover_tls13(
    r: &mut Recovery,
    obs: &ObservedSession,
    loot: &Loot,
    cache: &ResumptionCache,
) {
    r.verdict = Verdict::ForwardSecret;
    r.reason = tls13_reason(obs);
    r.short = "TLS 1.3: (EC)DHE; key only signs".into();
    let mode = psk_mode(obs);
    r.psk_mode = Some(mode.clone());
    // 1. Every PSK identity offered is a ticket in clear (RFC 8446 §4.2.11): try the keys.
    let mut selected: Option<(Tls13State, [u8; 16])> = None;
    if let Some(p) = &obs.psk {
        for (i, id) in p
            .offered
            .iter()
            .flat_map(|o| o.identities.iter())
            .enumerate()
        {
            let used = p.selected.map(usize::from) == Some(i);
            let (fact, state) = TicketFact::read(
                TicketOrigin::Presented,
                &id.identity,
                None,
                used,
                loot.ticket_keys.as_ref(),
            );
            match (used, state, fact.key_name) {
                (true, Some(TicketState::Tls13(st)), Some(name)) => selected = Some((st, name)),
                (true, Some(TicketState::Tls12(_)), _) => r.notes.push(
                    "the selected PSK identity opened but holds a TLS 1.2 session, not a PSK"
                        .into(),
                ),
                _ => {}
            }
            r.tickets.push(fact);
        }
    }
    let Some(suite) = obs.suite else {
        return;
    };
    // 2. A key log names the traffic secrets directly.
    if let (Some(log), Some(cr)) = (&loot.keylog, obs.client_random()) {
        let secrets = Tls13Secrets::from_keylog(log, &cr, &suite);
        if !secrets.is_empty() {
            let from = SecretsFrom {
                prefix: String::new(),
                source: "from the key log",
                named: "the key log names this session",
                no_record: "key log secrets open no record",
            };
            open_with_secrets(r, obs, &suite, secrets, &from);
            return;
        }
        r.tls13_secrets = Some(secrets);
    }
    // The assumed DLP break: the client's classical key from the stand-in, checked on the wire.
    if let Some(a) = &loot.assumed_dlog {
        if assumed_dlog(r, obs, &suite, &mode, a) {
            return;
        }
    }
    // 3. The PSK from the selected ticket, proven by its binder (RFC 8446 §4.2.11.2), or
    // derived from the earlier session that issued it (RFC 8446 §4.6.1).
    let closed = r
        .tickets
        .iter()
        .find(|t| t.used)
        .and_then(|t| t.why_closed());
    let ticket_psk = selected.and_then(|(st, name)| {
        let hash_ok =
            crate::suites::tls13_suite(st.cipher_suite).map(|s| s.hash) == Some(suite.hash);
        if !hash_ok {
            r.notes.push(format!(
                "the ticket's PSK was made under {}, whose hash is not this session's",
                crate::suites::suite_name(st.cipher_suite)
            ));
            return None;
        }
        Some((st.psk.clone(), SecretSource::TicketPsk { key_name: name }))
    });
    let chained = obs
        .psk
        .as_ref()
        .and_then(|p| p.selected_identity())
        .and_then(|id| cache.lookup_psk(id));
    let mut unknown_psk: Option<String> = None;
    let psk = ticket_psk.or_else(|| {
        let c = chained.as_ref()?;
        match &c.psk {
            Some((psk, hash)) if *hash == suite.hash => Some((
                psk.clone(),
                SecretSource::ResumedPsk {
                    from_stream: c.from_stream,
                },
            )),
            Some(_) => {
                r.notes.push(format!(
                    "the PSK derived from session {} was made under another hash than this session's",
                    c.from_stream
                ));
                None
            }
            None => {
                unknown_psk = Some(psk_unknown_clause(c.from_stream));
                None
            }
        }
    });
    if let Some((psk, source)) = &psk {
        r.binder_verifies = binder_verifies(obs, &suite, psk);
        r.psk = Some((psk.clone(), source.clone()));
    }
    let closed = unknown_psk.or(closed);
    let binder = match r.binder_verifies {
        Some(true) => "confirmed by its binder",
        Some(false) => "but its binder does NOT verify (not this session's PSK)",
        None => "its binder could not be checked",
    };
    let route = |source: &SecretSource| match source {
        SecretSource::ResumedPsk { from_stream } => chained_route(*from_stream, binder),
        SecretSource::TicketPsk { key_name } => format!(
            "PSK from the ticket opened with the stolen ticket key (name {}), {binder}",
            hex(key_name)
        ),
        other => other.describe(),
    };
    match mode {
        PskMode::Full => {
            if loot.ticket_keys.is_some() {
                r.reason.push_str("; a stolen ticket key does not open a full TLS 1.3 handshake: its NewSessionTicket travels encrypted, and a ticket holds the resumption PSK for later sessions, not this session's traffic secrets");
            }
        }
        PskMode::PskDheKe => {
            if let Some((psk, source)) = &psk {
                if r.binder_verifies != Some(false)
                    && psk_and_assumed_dhe(r, obs, &suite, psk, &route(source), loot)
                {
                    return;
                }
            }
            let psk_part = match (&psk, &closed) {
                (Some((_, source)), _) => format!("the {}", route(source)),
                (None, Some(why)) => format!("the PSK stays sealed ({why})"),
                (None, None) => "the PSK was not recovered".into(),
            };
            r.verdict = Verdict::ForwardSecret;
            r.short = if psk.is_some() {
                "psk_dhe_ke: PSK had, (EC)DHE not".into()
            } else {
                "psk_dhe_ke: fresh ECDHE mixed in".into()
            };
            r.reason = format!(
                "psk_dhe_ke: {psk_part}; but the server answered with a key share, so fresh (EC)DHE was mixed into the handshake secret (HKDF-Extract(Derive-Secret(early secret, \"derived\"), (EC)DHE shared secret), RFC 8446 §7.1): {}; the PSK is not enough",
                tls13_shares(obs)
            );
            r.reason
                .push_str(&assumed_psk_dhe_clause(obs, loot, psk.is_some()));
        }
        PskMode::PskKe => match &psk {
            Some((psk, source)) if r.binder_verifies != Some(false) => {
                let Some(secrets) = psk_ke_secrets(obs, &suite, psk) else {
                    r.verdict = Verdict::NotDecrypted;
                    r.reason = "psk_ke: the PSK was recovered but the hellos needed for the key schedule are missing".into();
                    r.short = "hellos missing".into();
                    return;
                };
                let from = SecretsFrom {
                    prefix: format!(
                        "psk_ke: the PSK alone keys this session (no key share in the ServerHello, so no (EC)DHE input); {}; ",
                        route(source)
                    ),
                    source: "derived from the PSK",
                    named: "psk_ke: the secrets derived from the PSK were had",
                    no_record: "PSK secrets open no record",
                };
                open_with_secrets(r, obs, &suite, secrets, &from);
            }
            Some((_, source)) => {
                r.verdict = Verdict::NotDecrypted;
                r.reason = format!(
                    "psk_ke: the PSK alone keys this session; the {}",
                    route(source)
                );
                r.short = "psk_ke: the binder does not verify".into();
            }
            None => {
                r.verdict = Verdict::NotDecrypted;
                r.reason = format!(
                    "psk_ke: the PSK alone keys this session (no (EC)DHE), so whoever holds the server's ticket key can open it; but {}",
                    closed.unwrap_or_else(|| "the PSK was not recovered".into())
                );
                r.short = "psk_ke: PSK not recovered".into();
            }
        },
    }
}

/// psk_dhe_ke with the PSK had: the (EC)DHE half from `--assume-dlog-broken`, if the stand-in
/// gives it, completes the key schedule (RFC 8446 §7.1). True when it settled the session.
fn psk_and_assumed_dhe(
    r: &mut Recovery,
    obs: &ObservedSession,
    suite: &Suite,
    psk: &Zeroizing<Vec<u8>>,
    route: &str,
    loot: &Loot,
) -> bool {
    use crate::attack::assumed_dlog::{classical_secret, Classical, ASSUMED};
    let Some(Ok(Classical::Secret(shared, group))) =
        loot.assumed_dlog.as_ref().map(|a| classical_secret(a, obs))
    else {
        return false;
    };
    let handshake = EarlySecret::with_psk(suite.hash, psk).into_handshake(&shared);
    let Some(secrets) = schedule_from(obs, suite, handshake) else {
        return false;
    };
    let from = SecretsFrom {
        prefix: format!(
            "psk_dhe_ke: the {route}; {ASSUMED}: the client's {} private key from the stand-in file regenerates its key share on the wire, and with the server's share gives the (EC)DHE secret; with both inputs the key schedule (RFC 8446 §7.1) gives the traffic secrets: the ",
            group.name()
        ),
        source: "derived from them",
        named: "psk_dhe_ke under the assumed DLP break: the secrets derived from the PSK and the stand-in key were had",
        no_record: "assumed DLP break: PSK and (EC)DHE secrets open no record",
    };
    r.dhe = Some((shared, SecretSource::AssumedDlog { group, tls13: true }));
    open_with_secrets(r, obs, suite, secrets, &from);
    true
}

/// `--assume-dlog-broken` on a TLS 1.3 session; true when it settled the session.
fn assumed_dlog(
    r: &mut Recovery,
    obs: &ObservedSession,
    suite: &Suite,
    mode: &PskMode,
    a: &crate::attack::assumed_dlog::AssumedDlog,
) -> bool {
    use crate::attack::assumed_dlog::{classical_secret, hybrid_reason, Classical, ASSUMED};
    match (mode, classical_secret(a, obs)) {
        (PskMode::PskKe, _) => false,
        (PskMode::Full, Ok(Classical::Secret(shared, group))) => {
            let Some(secrets) = dhe_secrets(obs, suite, &shared) else {
                r.reason.push_str(&format!("; {ASSUMED}: the (EC)DHE secret was computed, but the hellos needed for the key schedule are missing"));
                r.short = format!("{ASSUMED}: hellos missing");
                return true;
            };
            let from = SecretsFrom {
                prefix: format!(
                    "{ASSUMED}: the client's {} private key from the stand-in file regenerates its key share on the wire; with the server's share it gives the (EC)DHE secret, and the one key schedule (RFC 8446 §7.1) gives the traffic secrets: the ",
                    group.name()
                ),
                source: "derived from it",
                named: "assumed DLP break: the secrets derived from the stand-in key were had",
                no_record: "assumed DLP break: the secrets open no record",
            };
            r.dhe = Some((shared, SecretSource::AssumedDlog { group, tls13: true }));
            open_with_secrets(r, obs, suite, secrets, &from);
            true
        }
        (PskMode::Full, Ok(Classical::HybridHalf(x25519))) => {
            r.verdict = Verdict::ForwardSecret;
            r.reason = hybrid_reason();
            r.short = format!("{ASSUMED}: ML-KEM half missing");
            // Kept for `explain` (the attacker's half); it opens nothing on its own.
            r.dhe = Some((
                x25519,
                SecretSource::AssumedDlog {
                    group: crate::standin::DlogGroup::X25519MlKem768,
                    tls13: true,
                },
            ));
            true
        }
        // Said after the psk_dhe_ke reason (step 3): [`assumed_psk_dhe_clause`].
        (PskMode::PskDheKe, _) => false,
        (PskMode::Full, Err(why)) => {
            r.reason
                .push_str(&format!("; {ASSUMED} (--assume-dlog-broken): {why}"));
            r.short = format!("{ASSUMED}: stand-in key unusable");
            true
        }
    }
}

/// psk_dhe_ke under `--assume-dlog-broken`: the (EC)DHE half alone does not key it.
fn assumed_psk_dhe_clause(obs: &ObservedSession, loot: &Loot, psk_had: bool) -> String {
    use crate::attack::assumed_dlog::{classical_secret, Classical, ASSUMED};
    match loot.assumed_dlog.as_ref().map(|a| classical_secret(a, obs)) {
        None if psk_had => "; and the (EC)DHE secret was not had".into(),
        None => String::new(),
        Some(Ok(Classical::HybridHalf(_))) => format!("; {ASSUMED}: only the X25519 half of this X25519MLKEM768 secret is had; the ML-KEM-768 half is missing"),
        Some(Ok(_)) if psk_had => format!("; {ASSUMED}: the (EC)DHE secret was computed as well, but the key schedule could not be run over this capture's hellos"),
        Some(Ok(_)) => format!("; {ASSUMED}: the stand-in key (checked against the key share on the wire) gives this handshake's (EC)DHE secret, but psk_dhe_ke mixes the PSK in as well (RFC 8446 §7.1), and the PSK was not had"),
        Some(Err(why)) => format!("; {ASSUMED} (--assume-dlog-broken): {why}"),
    }
}

/// The key shares of a psk_dhe_ke handshake, for its reason.
fn tls13_shares(obs: &ObservedSession) -> String {
    match &obs.wire_key_exchange {
        crate::attack::observe::KeyExchangeOnWire::Tls13KeyShares {
            server_group: Some(g),
            client_share,
            server_share,
            ..
        } => format!(
            "only ephemeral key shares crossed the wire on {} (client {}, server {}), and their secrets never left the peers",
            crate::msgs::enums::NamedGroup::from_wire(*g).name(),
            client_share.as_deref().map(short_hex).unwrap_or_else(|| "?".into()),
            server_share.as_deref().map(short_hex).unwrap_or_else(|| "?".into())
        ),
        _ => "the ephemeral secrets of the key shares never left the peers".into(),
    }
}

/// Whether the selected binder is HMAC(binder finished key, Transcript-Hash(truncated
/// ClientHello)) for `psk` (RFC 8446 §4.2.11.2); `None` when the capture lacks it.
pub fn binder_verifies(obs: &ObservedSession, suite: &Suite, psk: &[u8]) -> Option<bool> {
    let p = obs.psk.as_ref()?;
    let binder = p.selected_binder()?;
    if p.binder_transcript.is_empty() {
        return None;
    }
    let expected = EarlySecret::with_psk(suite.hash, psk)
        .resumption_binder_key()
        .binder(&suite.hash.digest(&p.binder_transcript));
    Some(crate::crypto::constant_time_eq(&expected, binder))
}

/// psk_ke: the handshake secret from the PSK alone, its traffic secrets over the hellos, and —
/// once the server's flight opens to its Finished — the application traffic secrets.
pub fn psk_ke_secrets(
    obs: &ObservedSession,
    suite: &Suite,
    psk: &Zeroizing<Vec<u8>>,
) -> Option<Tls13Secrets> {
    schedule_from(
        obs,
        suite,
        EarlySecret::with_psk(suite.hash, psk).into_handshake_without_dhe(),
    )
}

/// A full handshake: the handshake secret from the (EC)DHE shared secret — e.g. from an
/// ephemeral scalar found in a memory dump — and the traffic secrets it gives (RFC 8446 §7.1).
pub fn dhe_secrets(obs: &ObservedSession, suite: &Suite, shared: &[u8]) -> Option<Tls13Secrets> {
    schedule_from(
        obs,
        suite,
        EarlySecret::without_psk(suite.hash).into_handshake(shared),
    )
}

/// The handshake traffic secrets over the hellos and — once the server's flight opens to its
/// Finished — the application traffic secrets.
fn schedule_from(
    obs: &ObservedSession,
    suite: &Suite,
    handshake: crate::tls13::key_schedule::HandshakeSecret,
) -> Option<Tls13Secrets> {
    let hellos = hello_transcript(obs, suite)?;
    let (client_hs, server_hs) = handshake.traffic_secrets(&suite.hash.digest(&hellos));
    let mut secrets = Tls13Secrets {
        client_handshake: Some(client_hs),
        server_handshake: Some(server_hs),
        ..Default::default()
    };
    let (_, server) = decrypt_tls13(obs, suite, &secrets);
    if server.finished != FinishedCheck::Verified {
        return Some(secrets);
    }
    let mut transcript = hellos;
    extend_through_finished(&mut transcript, &server);
    let master = handshake.into_master();
    let (client_ap, server_ap) = master.traffic_secrets(&suite.hash.digest(&transcript));
    secrets.client_application = Some(client_ap);
    secrets.server_application = Some(server_ap);
    secrets.master = Some(master);
    Some(secrets)
}

/// Opens both directions with `secrets` and says what opened, what stayed closed and why.
fn open_with_secrets(
    r: &mut Recovery,
    obs: &ObservedSession,
    suite: &Suite,
    secrets: Tls13Secrets,
    from: &SecretsFrom,
) {
    let (client, server) = decrypt_tls13(obs, suite, &secrets);
    let mut opened = Vec::new();
    let mut closed = Vec::new();
    let mut describe = |have: bool, what: &str, kind: SecretKind| {
        if have {
            opened.push(what.to_string());
        } else {
            closed.push(format!("{what} (no {kind})"));
        }
    };
    describe(
        secrets.server_handshake.is_some() && !server.handshake.is_empty(),
        "the server's handshake (certificate included)",
        SecretKind::ServerHandshakeTrafficSecret,
    );
    describe(
        secrets.client_handshake.is_some() && !client.handshake.is_empty(),
        "the client's handshake records (its Finished)",
        SecretKind::ClientHandshakeTrafficSecret,
    );
    describe(
        secrets.client_application.is_some() && client.app_opened,
        "client → server application data",
        SecretKind::ClientTrafficSecret0,
    );
    describe(
        secrets.server_application.is_some() && server.app_opened,
        "server → client application data",
        SecretKind::ServerTrafficSecret0,
    );
    let client_open = secrets.client_application.is_some() && client.app_opened;
    let server_open = secrets.server_application.is_some() && server.app_opened;
    r.issued_psks = issued_psks(obs, suite, &secrets, &client, &server);
    r.tls13_secrets = Some(secrets);
    if opened.is_empty() {
        r.verdict = Verdict::NotDecrypted;
        r.reason = format!(
            "{}, but they do not open any record (wrong secrets or a tampered capture)",
            from.named
        );
        r.short = from.no_record.into();
        r.tls13 = Some((client, server));
        return;
    }
    let no_data = client.data.is_empty() && server.data.is_empty();
    r.verdict = if closed.is_empty() && !no_data {
        Verdict::Decrypted
    } else {
        Verdict::PartlyDecrypted
    };
    r.short = match (closed.is_empty(), client_open, server_open) {
        (true, ..) => "keys proven; no application data",
        (false, true, true) => "part of the handshake closed",
        (false, true, false) => "server → client still closed",
        (false, false, true) => "client → server still closed",
        (false, false, false) => "application data still closed",
    }
    .into();
    let mut reason = format!(
        "{}TLS 1.3 traffic secrets {} opened {}",
        from.prefix,
        from.source,
        opened.join(", ")
    );
    if !closed.is_empty() {
        reason.push_str(&format!("; still closed: {}", closed.join(", ")));
    } else if no_data {
        reason.push_str("; but the capture holds no application data to open");
    }
    match server.finished {
        FinishedCheck::Verified => reason.push_str("; the server Finished verifies"),
        FinishedCheck::Mismatch => reason.push_str("; the server Finished does NOT verify"),
        FinishedCheck::NotSeen => {}
    }
    if client.finished == FinishedCheck::Verified {
        reason.push_str(", and so does the client's");
    }
    r.reason = reason;
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
                r.notes.push(format!(
                    "decrypted server certificate: {} (sha256 {})",
                    info.subject,
                    hex(&info.sha256_fingerprint)
                ));
            }
        }
    }
    for (who, d) in [("client → server", &client), ("server → client", &server)] {
        if let Some(s) = &d.stopped {
            r.notes.push(format!("{who}: {s}"));
        }
        if d.key_updates > 0 {
            r.notes
                .push(format!("{who}: followed {} KeyUpdate(s)", d.key_updates));
        }
    }
    r.tls13 = Some((client, server));
}
