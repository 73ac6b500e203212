//! TLS 1.2 session resumption on the client: the abbreviated handshake (RFC 5246 §7.3 fig. 2)
//! (the ServerHello echoes our session ID) → [NewSessionTicket] → the full handshake's
//! ExpectChangeCipherSpec → ExpectFinished (in `tls12.rs`; it then sends our CCS and Finished)
//! → Traffic, and what any TLS 1.2 handshake keeps so the next one can resume (RFC 5077 §3.3
//! ticket, RFC 5246 §7.4.1.3 session ID).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::ClientConfig;
use crate::endpoint::conn::{Context, Message, ResumedBy, State, Transcript};
use crate::endpoint::session::{ClientSession, Tls12Session};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::HandshakeType;
use crate::msgs::handshake::NewSessionTicket12;
use crate::suites::Suite;
use crate::tickets::Tls12State;
use crate::tls12::keys::MasterSecret;
use crate::tls12::protectors;

/// What a TLS 1.2 handshake keeps for the next connection.
pub(super) struct Keep {
    pub config: Arc<ClientConfig>,
    /// The ServerHello's session ID (empty: not resumable by ID).
    pub session_id: Vec<u8>,
    /// The ServerHello answered session_ticket: a NewSessionTicket comes before its CCS.
    pub ticket_expected: bool,
    pub ticket: Option<NewSessionTicket12>,
    /// The session this handshake resumed, if it did.
    pub resumed: Option<Tls12Session>,
}

impl Keep {
    /// A NewSessionTicket where the server's CCS could come (RFC 5077 §3.3); `None` when `msg`
    /// is something else.
    pub fn take_ticket(
        &mut self,
        msg: &Message,
        transcript: &mut Transcript,
    ) -> Result<Option<()>, Error> {
        let Message::Handshake(m) = msg else {
            return Ok(None);
        };
        if m.typ != HandshakeType::NewSessionTicket {
            return Ok(None);
        }
        if !self.ticket_expected || self.ticket.is_some() {
            return Err(Error::unexpected("ChangeCipherSpec", msg.describe()));
        }
        self.ticket = Some(NewSessionTicket12::read(m.body())?);
        transcript.add(m);
        Ok(Some(()))
    }

    /// After the handshake: the session to offer next time, if the server gave a way back.
    pub fn finish(self, cx: &mut Context, suite: &Suite, master: &MasterSecret) {
        let (ticket, lifetime_hint) = match (self.ticket, &self.resumed) {
            // RFC 5077 §3.3: an empty ticket means the server will not issue one after all.
            (Some(t), _) if !t.ticket.is_empty() => (Some(t.ticket), t.lifetime_hint),
            (_, Some(old)) if cx.summary.resumed == Some(ResumedBy::Ticket) => {
                (old.ticket.clone(), old.lifetime_hint)
            }
            _ => (None, 0),
        };
        if ticket.is_none() && self.session_id.is_empty() {
            return;
        }
        let issued = match &self.resumed {
            Some(old) => old.state.issued,
            None => self.config.resumption.clock.now_secs(),
        };
        cx.resumable = Some(ClientSession::Tls12(Tls12Session {
            server_name: self.config.server_name.clone(),
            session_id: self.session_id,
            ticket,
            lifetime_hint,
            state: Tls12State {
                cipher_suite: suite.id,
                master_secret: Zeroizing::new(*master.0),
                issued,
                extended_master_secret: cx.summary.extended_master_secret,
                encrypt_then_mac: cx.summary.encrypt_then_mac,
                server_name: None,
            },
        }));
    }
}

/// The ServerHello echoed the session ID we offered: the server resumes `session`
/// (RFC 5246 §7.4.1.3, RFC 5077 §3.4). Keys from its master secret and the new randoms.
pub(super) fn start_abbreviated(
    cx: &mut Context,
    suite: Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    transcript: Transcript,
    keep: Keep,
    session: &Tls12Session,
) -> Result<Box<dyn State>, Error> {
    if suite.id != session.state.cipher_suite {
        return Err(Error::IllegalParameter(format!(
            "the server resumes the session with {}, but it was made with {}",
            suite.name,
            crate::suites::suite_name(session.state.cipher_suite)
        )));
    }
    // RFC 7627 §5.3: the resumed handshake keeps the original's extended master secret.
    if cx.summary.extended_master_secret != session.state.extended_master_secret {
        return Err(Error::IllegalParameter(
            "the server resumes the session with a different extended_master_secret (RFC 7627 §5.3)"
                .into(),
        ));
    }
    cx.summary.resumed = Some(if session.ticket.is_some() {
        ResumedBy::Ticket
    } else {
        ResumedBy::SessionId
    });
    let master = MasterSecret(Box::new(*session.state.master_secret));
    cx.log_secret(SecretKind::ClientRandom, &client_random, &master.0[..])?;
    let (client_write, server_write) = protectors(
        &suite,
        &master,
        &client_random,
        &server_random,
        cx.summary.encrypt_then_mac,
    )?;
    Ok(Box::new(super::tls12::ExpectChangeCipherSpec {
        suite,
        master,
        transcript,
        client_write: Some(client_write),
        server_write,
        keep,
    }))
}
