//! TLS 1.3 after the handshake: application data, KeyUpdate and NewSessionTicket (RFC 8446 §4.6).

use crate::codec::CodecError;
use crate::endpoint::conn::{Context, Message, State};
use crate::endpoint::session::{ClientSession, Clock, Tls13Session};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::HandshakeType;
use crate::msgs::handshake13::{key_update, read_key_update, NewSessionTicket13};
use crate::suites::Suite;
use crate::tickets::Tls13State;
use crate::tls13::key_schedule::{ResumptionMasterSecret, TrafficSecret};
use crate::tls13::protector;

pub(crate) fn log_secret(
    cx: &Context,
    kind: SecretKind,
    client_random: &[u8; 32],
    secret: &TrafficSecret,
) -> Result<(), Error> {
    cx.log_secret(kind, client_random, secret.secret())
}

/// Application data flows; post-handshake messages are handled here (RFC 8446 §4.6).
pub struct Traffic13 {
    pub suite: Suite,
    pub read_secret: TrafficSecret,
    pub write_secret: TrafficSecret,
    /// Client: what turns a NewSessionTicket into a session to resume (RFC 8446 §4.6.1).
    pub resumption: Option<TicketReceiver>,
}

/// The client's side of resumption: the resumption master secret, and what a saved session
/// records beside the ticket.
pub struct TicketReceiver {
    pub secret: ResumptionMasterSecret,
    pub server_name: String,
    pub clock: Clock,
}

impl TicketReceiver {
    /// PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, …); the
    /// newest ticket replaces the one before. A lifetime of 0 means "do not keep" (§4.6.1).
    fn receive(&self, suite: &Suite, nst: NewSessionTicket13, cx: &mut Context) {
        cx.summary.tickets_issued += 1;
        if nst.lifetime == 0 {
            return;
        }
        let psk = self.secret.ticket_psk(&nst.nonce);
        cx.resumable = Some(ClientSession::Tls13(Tls13Session {
            server_name: self.server_name.clone(),
            ticket: nst.ticket,
            lifetime: nst.lifetime,
            state: Tls13State {
                cipher_suite: suite.id,
                psk,
                ticket_age_add: nst.age_add,
                issued_ms: self.clock.now_ms(),
            },
            max_early_data: 0,
        }));
    }
}

impl State for Traffic13 {
    fn handle(
        mut self: Box<Self>,
        cx: &mut Context,
        msg: Message,
    ) -> Result<Box<dyn State>, Error> {
        let Message::Handshake(m) = msg else {
            return Err(Error::unexpected("application data", msg.describe()));
        };
        match m.typ {
            // RFC 8446 §4.6.1: a client keeps the ticket and its PSK; a server never gets one.
            HandshakeType::NewSessionTicket => {
                let nst = NewSessionTicket13::read(m.body())?;
                match &self.resumption {
                    Some(r) => r.receive(&self.suite, nst, cx),
                    None => return Err(Error::unexpected("application data", "NewSessionTicket")),
                }
            }
            HandshakeType::KeyUpdate => {
                // RFC 8446 §4.6.3: a request value other than 0 or 1 is illegal_parameter.
                let requested = read_key_update(m.body()).map_err(|e| match e {
                    CodecError::IllegalValue { .. } => Error::IllegalParameter(e.to_string()),
                    other => other.into(),
                })?;
                self.read_secret = self.read_secret.next_generation();
                cx.set_read_keys(protector(&self.suite, &self.read_secret)?)?;
                if requested {
                    cx.send_handshake(&key_update(false));
                    self.write_secret = self.write_secret.next_generation();
                    cx.set_write_keys(protector(&self.suite, &self.write_secret)?);
                }
            }
            other => return Err(Error::unexpected("application data", other.name())),
        }
        Ok(self)
    }

    fn is_traffic(&self) -> bool {
        true
    }

    fn initiate_key_update(&mut self, cx: &mut Context) -> Result<(), Error> {
        cx.send_handshake(&key_update(true));
        self.write_secret = self.write_secret.next_generation();
        cx.set_write_keys(protector(&self.suite, &self.write_secret)?);
        Ok(())
    }
}
