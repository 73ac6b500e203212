//! Tickets in a capture, as the attacker sees them: where each one crossed the wire, its RFC 5077
//! §4 parts (nothing secret), and — with stolen ticket keys — what opening it gave or why it
//! did not open. `recover` uses the opened states; the report, `inspect` and `explain` print the
//! facts.

use crate::attack::observe::{ObservedSession, Resumption};
use crate::codec::hex;
use crate::tickets::{TicketError, TicketKeys, TicketParts, TicketState};

/// Where a ticket crossed the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketOrigin {
    /// The server sent it in this session: a TLS 1.2 NewSessionTicket (in clear, before the
    /// server's ChangeCipherSpec, RFC 5077 §3.3).
    Issued,
    /// The client presented it: the session_ticket extension of a TLS 1.2 ClientHello
    /// (RFC 5077 §3.2), or a pre_shared_key identity of a TLS 1.3 one (RFC 8446 §4.2.11).
    Presented,
}

impl TicketOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Presented => "presented",
        }
    }
}

/// What the stolen ticket keys made of one ticket.
#[derive(Debug, Clone)]
pub enum TicketOpening {
    /// No ticket key was given.
    NoKey,
    /// Opened: the protocol version and suite of the state inside (its secret is in the
    /// [`crate::attack::Recovery`], not here).
    Opened {
        version: u16,
        cipher_suite: u16,
    },
    Failed(TicketError),
}

/// One ticket seen in a session.
#[derive(Debug, Clone)]
pub struct TicketFact {
    pub origin: TicketOrigin,
    pub length: usize,
    /// RFC 5077 §4 parts when the ticket has that layout (key name, IV, state length).
    pub key_name: Option<[u8; 16]>,
    pub iv: Option<[u8; 16]>,
    pub encrypted_state_len: Option<usize>,
    pub mac: Option<Vec<u8>>,
    /// NewSessionTicket's ticket_lifetime_hint (TLS 1.2, seconds) or ticket_lifetime (1.3).
    pub lifetime_hint: Option<u32>,
    /// The server resumed the session with this ticket (an abbreviated handshake, or the
    /// selected TLS 1.3 PSK identity).
    pub used: bool,
    pub opening: TicketOpening,
}

impl TicketFact {
    /// Reads a ticket's parts and tries the stolen keys on it; the opened state, if any, is
    /// given back beside the fact.
    pub fn read(
        origin: TicketOrigin,
        ticket: &[u8],
        lifetime_hint: Option<u32>,
        used: bool,
        keys: Option<&TicketKeys>,
    ) -> (Self, Option<TicketState>) {
        let parts = TicketParts::parse(ticket).ok();
        let (opening, state) = match keys.map(|k| open_with_any(k, ticket)) {
            None => (TicketOpening::NoKey, None),
            Some(Ok(state)) => (
                TicketOpening::Opened {
                    version: match &state {
                        TicketState::Tls12(_) => 0x0303,
                        TicketState::Tls13(_) => 0x0304,
                    },
                    cipher_suite: state.cipher_suite(),
                },
                Some(state),
            ),
            Some(Err(e)) => (TicketOpening::Failed(e), None),
        };
        let fact = Self {
            origin,
            length: ticket.len(),
            key_name: parts.map(|p| p.key_name),
            iv: parts.map(|p| p.iv),
            encrypted_state_len: parts.map(|p| p.encrypted_state.len()),
            mac: parts.map(|p| p.mac.to_vec()),
            lifetime_hint,
            used,
            opening,
        };
        (fact, state)
    }

    pub fn opened(&self) -> bool {
        matches!(self.opening, TicketOpening::Opened { .. })
    }

    /// "key name 6c61…": the name, or why the ticket has none.
    pub fn key_name_text(&self) -> String {
        match &self.key_name {
            Some(n) => format!("key name {}", hex(n)),
            None => "not in RFC 5077 §4 layout".into(),
        }
    }

    /// Why the ticket stayed closed, as a clause ("its key (name …) was not stolen").
    pub fn why_closed(&self) -> Option<String> {
        match &self.opening {
            TicketOpening::Opened { .. } => None,
            TicketOpening::NoKey => Some(match &self.key_name {
                Some(n) => format!("its key (name {}) was not stolen", hex(n)),
                None => {
                    "no ticket key was given (and it is not in the RFC 5077 §4 layout pfslab reads)"
                        .into()
                }
            }),
            TicketOpening::Failed(e) => {
                Some(format!("the stolen ticket key does not open it: {e}"))
            }
        }
    }

    /// One line for tables and explanations.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "{} ticket, {} bytes, {}",
            self.origin.as_str(),
            self.length,
            self.key_name_text()
        );
        if let Some(l) = self.lifetime_hint {
            s.push_str(&format!(", lifetime {l} s"));
        }
        if self.used {
            s.push_str(", used to resume");
        }
        s.push_str(&match &self.opening {
            TicketOpening::NoKey => "; not opened (no ticket key)".to_string(),
            TicketOpening::Opened {
                version,
                cipher_suite,
            } => format!(
                "; opened: {} state, {}",
                if *version == 0x0304 {
                    "TLS 1.3"
                } else {
                    "TLS 1.2"
                },
                crate::suites::suite_name(*cipher_suite)
            ),
            TicketOpening::Failed(e) => format!("; not opened: {e}"),
        });
        s
    }
}

/// Opens `ticket` with the first stolen key that takes it: several stolen keys may share a
/// name (a wrong copy beside the right one), so every key of that name is tried.
fn open_with_any(keys: &TicketKeys, ticket: &[u8]) -> Result<TicketState, TicketError> {
    let name = TicketParts::parse(ticket)?.key_name;
    let mut last = TicketError::UnknownKeyName { name };
    for key in keys.all().iter().filter(|k| k.name() == name) {
        match key.open_state(ticket) {
            Ok(state) => return Ok(state),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// How a TLS 1.3 session used a PSK, read from its hellos (RFC 8446 §4.2.9–4.2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PskMode {
    /// The client offered no PSK, or the server selected none: a full handshake.
    Full,
    /// The server selected a PSK identity and sent no key_share: the PSK alone keys the session.
    PskKe,
    /// The server selected a PSK identity and sent a key_share: fresh (EC)DHE mixed in.
    PskDheKe,
}

impl PskMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::PskKe => "psk_ke",
            Self::PskDheKe => "psk_dhe_ke",
        }
    }
}

/// Every ticket of a TLS 1.2 session, tried with `keys`: the presented one first, then the
/// issued one. The opened states come back in the same order.
pub fn tls12_tickets(
    obs: &ObservedSession,
    keys: Option<&TicketKeys>,
) -> Vec<(TicketFact, Option<TicketState>)> {
    let mut out = Vec::new();
    if let Some(t) = &obs.offered_ticket {
        let used = obs.resumed == Some(Resumption::Ticket(t.clone()));
        out.push(TicketFact::read(
            TicketOrigin::Presented,
            t,
            None,
            used,
            keys,
        ));
    }
    if let Some(t) = &obs.new_ticket {
        out.push(TicketFact::read(
            TicketOrigin::Issued,
            t,
            obs.new_ticket_lifetime,
            false,
            keys,
        ));
    }
    out
}

/// What `inspect` says about a session's tickets and PSK use, without any key.
pub fn inspect_lines(obs: &ObservedSession) -> Vec<String> {
    let mut out: Vec<String> = tls12_tickets(obs, None)
        .into_iter()
        .map(|(t, _)| {
            let mut line = format!(
                "ticket: {} ticket, {} bytes, {}",
                t.origin.as_str(),
                t.length,
                t.key_name_text()
            );
            if let (Some(iv), Some(len)) = (t.iv, t.encrypted_state_len) {
                line.push_str(&format!(
                    ", IV {}, encrypted state {len} bytes, HMAC 32 bytes",
                    hex(&iv)
                ));
            }
            if let Some(l) = t.lifetime_hint {
                line.push_str(&format!(", lifetime hint {l} s"));
            }
            if t.used {
                line.push_str(", used to resume");
            }
            line
        })
        .collect();
    out.extend(psk_inspect_lines(obs));
    out
}

fn psk_inspect_lines(obs: &ObservedSession) -> Vec<String> {
    let Some(p) = &obs.psk else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let modes: Vec<String> = p.modes.iter().map(|m| m.name()).collect();
    let mode = crate::attack::psk_mode(obs);
    out.push(format!(
        "psk: client offers modes {}, {} identit{}; server {}; mode {}",
        if modes.is_empty() {
            "none".to_string()
        } else {
            modes.join(", ")
        },
        p.offered.as_ref().map_or(0, |o| o.identities.len()),
        if p.offered.as_ref().map_or(0, |o| o.identities.len()) == 1 {
            "y"
        } else {
            "ies"
        },
        match p.selected {
            Some(i) => format!(
                "selects identity {i}{}",
                if p.server_key_share {
                    " and sends a key share"
                } else {
                    " with no key share"
                }
            ),
            None => "selects none (full handshake)".into(),
        },
        mode.as_str()
    ));
    for (i, id) in p
        .offered
        .iter()
        .flat_map(|o| o.identities.iter())
        .enumerate()
    {
        let (fact, _) = TicketFact::read(
            TicketOrigin::Presented,
            &id.identity,
            None,
            p.selected.map(usize::from) == Some(i),
            None,
        );
        let mut line = format!(
            "ticket: PSK identity {i}, {} bytes, {}",
            fact.length,
            fact.key_name_text()
        );
        if let (Some(iv), Some(len)) = (fact.iv, fact.encrypted_state_len) {
            line.push_str(&format!(
                ", IV {}, encrypted state {len} bytes, HMAC 32 bytes",
                hex(&iv)
            ));
        }
        line.push_str(&format!(
            ", obfuscated age 0x{:08x}",
            id.obfuscated_ticket_age
        ));
        if fact.used {
            line.push_str(", selected");
        }
        out.push(line);
    }
    out
}
