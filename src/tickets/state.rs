//! What a ticket (or the server's session cache) remembers about a session.
//!
//! TLS 1.2: RFC 5077 §4's recommended `StatePlaintext` (protocol_version, cipher_suite,
//! compression_method, master_secret[48], client_identity = anonymous, timestamp), followed by
//! one flags byte pfslab adds: RFC 7627 §5.3 forbids resuming an extended-master-secret session
//! without EMS, so the server must remember which kind it was; with its SNI bit set, the
//! server_name<1..255> the session was made for follows (RFC 6066 §3: a different name is not
//! resumed).
//! TLS 1.3: the resumption PSK itself (RFC 8446 §4.6.1: HKDF-Expand-Label(resumption_master_secret,
//! "resumption", ticket_nonce, Hash.length)), the ticket_age_add and the issue time.

use zeroize::Zeroizing;

use crate::codec::{put_u16, put_vec_u8, CodecError, Reader};

const TLS12: u16 = 0x0303;
const TLS13: u16 = 0x0304;
const FLAG_EMS: u8 = 0x01;
const FLAG_ETM: u8 = 0x02;
const FLAG_SNI: u8 = 0x04;

/// A remembered TLS 1.2 session (RFC 5246 §7.3 session state).
#[derive(Clone, PartialEq, Eq)]
pub struct Tls12State {
    pub cipher_suite: u16,
    pub master_secret: Zeroizing<[u8; 48]>,
    /// Unix seconds when the session was made.
    pub issued: u32,
    pub extended_master_secret: bool,
    pub encrypt_then_mac: bool,
    /// The SNI host name of the handshake that made the session (server side; RFC 6066 §3).
    pub server_name: Option<String>,
}

/// A remembered TLS 1.3 session: the PSK a later handshake resumes with.
#[derive(Clone, PartialEq, Eq)]
pub struct Tls13State {
    pub cipher_suite: u16,
    /// Hash.length bytes (32 for SHA-256 suites, 48 for SHA-384).
    pub psk: Zeroizing<Vec<u8>>,
    pub ticket_age_add: u32,
    /// Unix milliseconds when the ticket was issued (ticket ages are in milliseconds, §4.2.11.1).
    pub issued_ms: u64,
}

#[derive(Clone, PartialEq, Eq)]
pub enum TicketState {
    Tls12(Tls12State),
    Tls13(Tls13State),
}

impl std::fmt::Debug for TicketState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls12(s) => write!(f, "Tls12State(suite 0x{:04x}, ..)", s.cipher_suite),
            Self::Tls13(s) => write!(f, "Tls13State(suite 0x{:04x}, ..)", s.cipher_suite),
        }
    }
}

impl TicketState {
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(96));
        match self {
            Self::Tls12(s) => {
                put_u16(&mut out, TLS12);
                put_u16(&mut out, s.cipher_suite);
                out.push(0); // compression_method: null
                out.extend_from_slice(&s.master_secret[..]);
                out.push(0); // ClientIdentity: anonymous (RFC 5077 §4)
                out.extend_from_slice(&s.issued.to_be_bytes());
                let mut flags = 0;
                if s.extended_master_secret {
                    flags |= FLAG_EMS;
                }
                if s.encrypt_then_mac {
                    flags |= FLAG_ETM;
                }
                let name = s
                    .server_name
                    .as_deref()
                    .filter(|n| (1..=255).contains(&n.len()));
                if name.is_some() {
                    flags |= FLAG_SNI;
                }
                out.push(flags);
                if let Some(name) = name {
                    put_vec_u8(&mut out, name.as_bytes());
                }
            }
            Self::Tls13(s) => {
                put_u16(&mut out, TLS13);
                put_u16(&mut out, s.cipher_suite);
                put_vec_u8(&mut out, &s.psk);
                out.extend_from_slice(&s.ticket_age_add.to_be_bytes());
                out.extend_from_slice(&s.issued_ms.to_be_bytes());
            }
        }
        out
    }

    pub fn read(bytes: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(bytes);
        let version = r.u16("protocol_version")?;
        let cipher_suite = r.u16("cipher_suite")?;
        let state = match version {
            TLS12 => {
                if r.u8("compression_method")? != 0 {
                    return Err(CodecError::IllegalValue {
                        what: "compression_method",
                        detail: "not null".into(),
                    });
                }
                let master_secret = Zeroizing::new(r.array::<48>("master_secret")?);
                if r.u8("client_identity")? != 0 {
                    return Err(CodecError::IllegalValue {
                        what: "client_identity",
                        detail: "not anonymous".into(),
                    });
                }
                let issued = r.u32("timestamp")?;
                let flags = r.u8("flags")?;
                let server_name = if flags & FLAG_SNI != 0 {
                    let name = r.vec_u8("server_name")?;
                    Some(String::from_utf8(name.to_vec()).map_err(|_| {
                        CodecError::IllegalValue {
                            what: "server_name",
                            detail: "not UTF-8".into(),
                        }
                    })?)
                } else {
                    None
                };
                Self::Tls12(Tls12State {
                    cipher_suite,
                    master_secret,
                    issued,
                    extended_master_secret: flags & FLAG_EMS != 0,
                    encrypt_then_mac: flags & FLAG_ETM != 0,
                    server_name,
                })
            }
            TLS13 => {
                let psk = Zeroizing::new(r.vec_u8("psk")?.to_vec());
                if psk.len() != 32 && psk.len() != 48 {
                    return Err(CodecError::IllegalValue {
                        what: "psk",
                        detail: format!(
                            "{} bytes (SHA-256 and SHA-384 suites use 32 or 48)",
                            psk.len()
                        ),
                    });
                }
                let ticket_age_add = r.u32("ticket_age_add")?;
                let hi = r.u32("issued")? as u64;
                let lo = r.u32("issued")? as u64;
                Self::Tls13(Tls13State {
                    cipher_suite,
                    psk,
                    ticket_age_add,
                    issued_ms: hi << 32 | lo,
                })
            }
            other => {
                return Err(CodecError::IllegalValue {
                    what: "protocol_version",
                    detail: format!("0x{other:04x}"),
                })
            }
        };
        r.expect_end("ticket state")?;
        Ok(state)
    }

    pub fn cipher_suite(&self) -> u16 {
        match self {
            Self::Tls12(s) => s.cipher_suite,
            Self::Tls13(s) => s.cipher_suite,
        }
    }
}
