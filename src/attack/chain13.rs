//! TLS 1.3 resumptions chained from an opened parent: the parent's decrypted NewSessionTickets
//! give each ticket's identity and nonce, its key schedule the resumption master secret, and so
//! the PSK a later session resumes with (RFC 8446 §4.6.1, §7.1).

use zeroize::Zeroizing;

use crate::attack::observe::ObservedSession;
use crate::attack::tls13::{extend_through_finished, hello_transcript, Direction13, Tls13Secrets};
use crate::attack::FinishedCheck;
use crate::crypto::HashAlg;
use crate::msgs::handshake13::NewSessionTicket13;
use crate::suites::Suite;

/// A PSK identity a session issued (a NewSessionTicket's ticket), and its PSK when the
/// attacker had the session's resumption master secret.
#[derive(Clone)]
pub struct IssuedPsk {
    pub identity: Vec<u8>,
    /// `None`: the ticket was read (e.g. with a key log's traffic secrets) but the master secret
    /// it is derived from was not had.
    pub psk: Option<Zeroizing<Vec<u8>>>,
    pub hash: HashAlg,
}

impl std::fmt::Debug for IssuedPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedPsk")
            .field("identity_len", &self.identity.len())
            .field("psk_known", &self.psk.is_some())
            .finish()
    }
}

/// The tickets the server sent in a session opened with `secrets`, each with its PSK =
/// HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce) when the master
/// secret is known and both Finished messages verified (the resumption master secret covers
/// the transcript through the client's Finished, RFC 8446 §7.1).
pub fn issued_psks(
    obs: &ObservedSession,
    suite: &Suite,
    secrets: &Tls13Secrets,
    client: &Direction13,
    server: &Direction13,
) -> Vec<IssuedPsk> {
    let rms = match (&secrets.master, hello_transcript(obs, suite)) {
        (Some(master), Some(mut transcript))
            if server.finished == FinishedCheck::Verified
                && client.finished == FinishedCheck::Verified =>
        {
            extend_through_finished(&mut transcript, server);
            extend_through_finished(&mut transcript, client);
            Some(master.resumption_master_secret(&suite.hash.digest(&transcript)))
        }
        _ => None,
    };
    // With the master secret but no verified transcript, the PSK is not said to be unknown for
    // want of a key log: such tickets are left out.
    if secrets.master.is_some() && rms.is_none() {
        return Vec::new();
    }
    server
        .tickets
        .iter()
        .filter_map(|m| NewSessionTicket13::read(m.body()).ok())
        .map(|t| IssuedPsk {
            psk: rms.as_ref().map(|r| r.ticket_psk(&t.nonce)),
            identity: t.ticket,
            hash: suite.hash,
        })
        .collect()
}

/// The clause for a PSK identity issued in an opened session whose PSK was not had.
pub fn psk_unknown_clause(from_stream: u64) -> String {
    format!(
        "the selected PSK identity is a ticket session {from_stream} issued (its NewSessionTicket was decrypted with that session's key log lines), yet its PSK is not had: it is derived from session {from_stream}'s resumption master secret, which comes from its master secret (RFC 8446 §4.6.1, §7.1), and a key log holds only traffic secrets derived one-way from that"
    )
}

/// The route sentence for a PSK derived from an earlier session.
pub fn chained_route(from_stream: u64, binder: &str) -> String {
    format!(
        "PSK derived from session {from_stream}'s resumption master secret and its NewSessionTicket's nonce (RFC 8446 §4.6.1), {binder}"
    )
}
