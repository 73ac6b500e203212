//! TLS 1.3 server resumption (RFC 8446 §4.2.9–§4.2.11, §4.6.1): choose a PSK from the
//! ClientHello's pre_shared_key, verify its binder, and issue NewSessionTickets.

use zeroize::Zeroizing;

use super::ServerConfig;
use crate::crypto::constant_time_eq;
use crate::endpoint::conn::{Context, Transcript};
use crate::error::Error;
use crate::msgs::enums::{ExtensionType, PskKeyExchangeMode};
use crate::msgs::handshake::ClientHello;
use crate::msgs::handshake13::{client_hello_without_binders, NewSessionTicket13, OfferedPsks};
use crate::msgs::record::HandshakeMessage;
use crate::suites::Suite;
use crate::tickets::{TicketState, Tls13State};
use crate::tls13::key_schedule::{EarlySecret, MasterSecret13};

/// RFC 8446 §4.6.1: a ticket lives at most seven days.
const MAX_TICKET_LIFETIME: u32 = 604_800;

/// The PSK the server resumes with.
pub(super) struct ChosenPsk {
    /// Index into the client's identities (ServerHello pre_shared_key.selected_identity).
    pub selected_identity: u16,
    pub mode: PskKeyExchangeMode,
    pub early: EarlySecret,
}

/// The client's PSK offer, checked for shape whether or not the server resumes (§4.2.11):
/// pre_shared_key must be the last extension and come with psk_key_exchange_modes.
pub(super) fn read_offer(
    hello: &ClientHello,
) -> Result<Option<(OfferedPsks, Vec<PskKeyExchangeMode>)>, Error> {
    let Some(ext) = hello.extension(ExtensionType::PreSharedKey) else {
        return Ok(None);
    };
    if hello.extensions.last().map(|e| e.typ) != Some(ExtensionType::PreSharedKey) {
        return Err(Error::IllegalParameter(
            "pre_shared_key is not the last extension of the ClientHello (RFC 8446 §4.2.11)".into(),
        ));
    }
    let Some(modes) = hello.extension(ExtensionType::PskKeyExchangeModes) else {
        return Err(Error::MissingExtension(
            "pre_shared_key without psk_key_exchange_modes (RFC 8446 §4.2.9)".into(),
        ));
    };
    let modes = modes.parse_psk_key_exchange_modes()?;
    let offer = ext.parse_pre_shared_key_client()?;
    if offer.identities.len() != offer.binders.len() {
        return Err(Error::IllegalParameter(format!(
            "{} PSK identities but {} binders (RFC 8446 §4.2.11)",
            offer.identities.len(),
            offer.binders.len()
        )));
    }
    Ok(Some((offer, modes)))
}

/// The key exchange mode to resume in: psk_dhe_ke when offered, unless the server prefers
/// psk_ke and the client offers that too (RFC 8446 §4.2.9).
fn choose_mode(config: &ServerConfig, modes: &[PskKeyExchangeMode]) -> Option<PskKeyExchangeMode> {
    let ke = modes.contains(&PskKeyExchangeMode::PskKe);
    let dhe = modes.contains(&PskKeyExchangeMode::PskDheKe);
    match (dhe, ke) {
        (true, true) if config.resumption.prefer_psk_ke => Some(PskKeyExchangeMode::PskKe),
        (true, _) => Some(PskKeyExchangeMode::PskDheKe),
        (false, true) => Some(PskKeyExchangeMode::PskKe),
        (false, false) => None,
    }
}

/// The first offered ticket this server can resume for `suite`, with its binder verified
/// (RFC 8446 §4.2.11). Tickets that do not open, are for another hash or are expired are
/// skipped (a full handshake follows); a wrong binder on the chosen one is fatal.
/// `before_hello` is the transcript before this ClientHello (message_hash and the
/// HelloRetryRequest after a retry, §4.4.1).
pub(super) fn choose_psk(
    config: &ServerConfig,
    msg: &HandshakeMessage,
    offer: &OfferedPsks,
    modes: &[PskKeyExchangeMode],
    suite: &Suite,
    before_hello: Option<&Transcript>,
) -> Result<Option<ChosenPsk>, Error> {
    let Some(keys) = &config.resumption.tickets else {
        return Ok(None);
    };
    let Some(mode) = choose_mode(config, modes) else {
        return Ok(None);
    };
    let now_ms = config.resumption.clock.now_ms();
    let found = offer.identities.iter().enumerate().find_map(|(i, id)| {
        let TicketState::Tls13(state) = keys.open_state(&id.identity).ok()? else {
            return None;
        };
        let hash = crate::suites::tls13_suite(state.cipher_suite)?.hash;
        // §4.6.1: the lifetime counts from issue; the age the client claims is not checked
        // against ours beyond that (loose, as 0-RTT replay windows do not apply here).
        let age_ms = now_ms.saturating_sub(state.issued_ms);
        let live =
            age_ms <= u64::from(config.resumption.ticket_lifetime.min(MAX_TICKET_LIFETIME)) * 1000;
        (hash == suite.hash && live).then_some((i, state))
    });
    let Some((index, state)) = found else {
        return Ok(None);
    };
    let early = EarlySecret::with_psk(suite.hash, &state.psk);
    // §4.2.11.2: the binder is a Finished MAC over the transcript up to the binders list.
    let mut truncated = before_hello.cloned().unwrap_or_default().bytes().to_vec();
    truncated.extend_from_slice(client_hello_without_binders(&msg.encoded)?);
    let expected = early
        .resumption_binder_key()
        .binder(&suite.hash.digest(&truncated));
    let offered = offer
        .binders
        .get(index)
        .ok_or_else(|| Error::Internal("binder count checked in read_offer".into()))?;
    if offered.len() != expected.len() || !constant_time_eq(&expected, offered) {
        return Err(Error::DecryptError(format!(
            "the binder of PSK identity {index} does not verify (RFC 8446 §4.2.11)"
        )));
    }
    Ok(Some(ChosenPsk {
        selected_identity: index as u16,
        mode,
        early,
    }))
}

/// After the client Finished: one NewSessionTicket whose ticket seals the resumption PSK under
/// the current ticket key (RFC 8446 §4.6.1). `client_finished_hash` is
/// Hash(ClientHello…client Finished).
pub(super) fn send_ticket(
    config: &ServerConfig,
    cx: &mut Context,
    suite: &Suite,
    master: &MasterSecret13,
    client_finished_hash: &[u8],
) {
    let Some(keys) = &config.resumption.tickets else {
        return;
    };
    let resumption = master.resumption_master_secret(client_finished_hash);
    // A per-connection counter: unique among this connection's tickets (§4.6.1).
    let nonce = (cx.summary.tickets_issued as u64).to_be_bytes().to_vec();
    let psk: Zeroizing<Vec<u8>> = resumption.ticket_psk(&nonce);
    let age_add = u32::from_be_bytes(crate::crypto::rng::random_array(&mut cx.rng));
    let state = TicketState::Tls13(Tls13State {
        cipher_suite: suite.id,
        psk,
        ticket_age_add: age_add,
        issued_ms: config.resumption.clock.now_ms(),
    });
    let ticket = keys.current().seal_random(&state.encode(), &mut cx.rng);
    let nst = NewSessionTicket13 {
        lifetime: config.resumption.ticket_lifetime.min(MAX_TICKET_LIFETIME),
        age_add,
        nonce,
        ticket,
    }
    .encode();
    cx.send_handshake(&nst);
    cx.summary.tickets_issued += 1;
}

#[cfg(test)]
#[path = "tls13_psk_tests.rs"]
mod tests;
