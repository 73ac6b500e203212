//! TLS 1.3 after the handshake: application data, KeyUpdate and NewSessionTicket (RFC 8446 §4.6).

use crate::codec::CodecError;
use crate::endpoint::conn::{Context, Message, State};
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::enums::HandshakeType;
use crate::msgs::handshake13::{key_update, read_key_update, NewSessionTicket13};
use crate::suites::Suite;
use crate::tls13::key_schedule::TrafficSecret;
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
            // Tickets are for resumption, which pfslab does not do: read and ignore them.
            HandshakeType::NewSessionTicket => {
                NewSessionTicket13::read(m.body())?;
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
