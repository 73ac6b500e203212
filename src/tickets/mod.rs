//! Session tickets: the server's session-ticket encryption key (STEK) and the ticket it seals
//! (RFC 5077 §4), shared by TLS 1.2 tickets and TLS 1.3 resumption tickets.
//!
//! The key file is the 80 bytes nginx's `ssl_session_ticket_key` and OpenSSL 1.1+ use: a 16-byte
//! key name, a 32-byte HMAC-SHA256 key, a 32-byte AES-256-CBC key. A ticket is
//! `key_name[16] ‖ iv[16] ‖ encrypted_state<0..2^16-1> ‖ mac[32]` with
//! `mac = HMAC-SHA256(hmac_key, key_name ‖ iv ‖ encrypted_state (with its length))`, the layout
//! RFC 5077 §4 recommends. Whoever holds the STEK opens every ticket sealed under it, which is the
//! whole point of the lessons built on this module.

mod file;
mod state;

pub use file::{load_or_create, read_ticket_key, write_ticket_key, TicketKeyFile};
pub use state::{TicketState, Tls12State, Tls13State};

use std::fmt;

use aes::Aes256;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use zeroize::Zeroizing;

use crate::codec::{hex, put_vec_u16, Reader};
use crate::crypto::rng::{random_array, LabRng};
use crate::crypto::{constant_time_eq, HashAlg};

/// Length of a ticket key file (RFC 5077 §4 recommendation, OpenSSL/nginx layout).
pub const TICKET_KEY_LEN: usize = 80;
/// key_name (16) + iv (16) + length (2) + at least one AES block (16) + mac (32).
pub const MIN_TICKET_LEN: usize = 16 + 16 + 2 + 16 + 32;

/// Why a ticket could not be opened. Each reason is one a lesson can print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketError {
    /// A key file that is not exactly 80 bytes.
    KeyLength(usize),
    /// The ticket is shorter than its layout or its length field claims.
    Truncated { len: usize },
    /// Sealed under a key whose name is not this key's (a rotated or another server's key).
    UnknownKeyName { name: [u8; 16] },
    /// The HMAC does not verify: a wrong key with the same name, or a tampered ticket.
    BadMac,
    /// The MAC verified but the plaintext does not decrypt to a state this lab knows.
    BadState(String),
}

impl fmt::Display for TicketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyLength(n) => write!(
                f,
                "a ticket key file holds {TICKET_KEY_LEN} bytes (16 name, 32 HMAC, 32 AES); this one has {n}"
            ),
            Self::Truncated { len } => write!(
                f,
                "the ticket is truncated ({len} bytes; RFC 5077 §4 needs name, IV, state and MAC)"
            ),
            Self::UnknownKeyName { name } => write!(
                f,
                "the ticket was sealed under key name {}, not this key's (rotated away, or another server's key)",
                hex(name)
            ),
            Self::BadMac => write!(
                f,
                "the ticket's HMAC does not verify with this key (wrong key, or the ticket was altered)"
            ),
            Self::BadState(why) => write!(f, "the ticket opened but its state is unreadable: {why}"),
        }
    }
}

impl std::error::Error for TicketError {}

/// A session-ticket encryption key. Zeroized on drop.
#[derive(Clone)]
pub struct TicketKey {
    bytes: Zeroizing<[u8; TICKET_KEY_LEN]>,
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketKey(name {})", hex(&self.name()))
    }
}

impl TicketKey {
    /// A key from the 80 bytes of a key file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TicketError> {
        let arr: [u8; TICKET_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| TicketError::KeyLength(bytes.len()))?;
        Ok(Self {
            bytes: Zeroizing::new(arr),
        })
    }

    /// A fresh random key.
    pub fn generate(rng: &mut LabRng) -> Self {
        Self {
            bytes: Zeroizing::new(random_array(rng)),
        }
    }

    pub fn as_bytes(&self) -> &[u8; TICKET_KEY_LEN] {
        &self.bytes
    }

    /// The 16-byte name every ticket sealed under this key starts with (not secret).
    pub fn name(&self) -> [u8; 16] {
        let mut name = [0u8; 16];
        name.copy_from_slice(&self.bytes[..16]);
        name
    }

    fn hmac_key(&self) -> &[u8] {
        &self.bytes[16..48]
    }

    fn aes_key(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.bytes[48..80]);
        k
    }

    /// Seals `state` into a ticket with the given IV (RFC 5077 §4).
    pub fn seal(&self, iv: [u8; 16], state: &[u8]) -> Vec<u8> {
        let mut aes_key = Zeroizing::new(self.aes_key());
        let mut encrypted = Zeroizing::new(vec![0u8; (state.len() / 16 + 1) * 16]);
        let written = cbc::Encryptor::<Aes256>::new(&(*aes_key).into(), &iv.into())
            .encrypt_padded_b2b::<Pkcs7>(state, &mut encrypted)
            .map(|ct| ct.len());
        // The buffer is sized for PKCS#7 padding, which always fits.
        debug_assert_eq!(written.ok(), Some(encrypted.len()));
        aes_key.as_mut().fill(0);
        let mut ticket = Vec::with_capacity(MIN_TICKET_LEN + state.len());
        ticket.extend_from_slice(&self.name());
        ticket.extend_from_slice(&iv);
        put_vec_u16(&mut ticket, &encrypted);
        let mac = HashAlg::Sha256.hmac(self.hmac_key(), &[&ticket]);
        ticket.extend_from_slice(&mac);
        ticket
    }

    /// Seals `state` with a fresh random IV.
    pub fn seal_random(&self, state: &[u8], rng: &mut LabRng) -> Vec<u8> {
        self.seal(random_array(rng), state)
    }

    /// Opens a ticket sealed under this key: checks the name, then the HMAC, then decrypts.
    pub fn open(&self, ticket: &[u8]) -> Result<Zeroizing<Vec<u8>>, TicketError> {
        let parts = TicketParts::parse(ticket)?;
        if parts.key_name != self.name() {
            return Err(TicketError::UnknownKeyName {
                name: parts.key_name,
            });
        }
        let mac = HashAlg::Sha256.hmac(self.hmac_key(), &[parts.authenticated]);
        if !constant_time_eq(&mac, parts.mac) {
            return Err(TicketError::BadMac);
        }
        let aes_key = Zeroizing::new(self.aes_key());
        let mut plain = Zeroizing::new(parts.encrypted_state.to_vec());
        let len = cbc::Decryptor::<Aes256>::new(&(*aes_key).into(), &parts.iv.into())
            .decrypt_padded::<Pkcs7>(&mut plain)
            .map_err(|_| TicketError::BadState("bad CBC padding under a verified MAC".into()))?
            .len();
        plain.truncate(len);
        Ok(plain)
    }

    /// Opens a ticket and reads the state inside.
    pub fn open_state(&self, ticket: &[u8]) -> Result<TicketState, TicketError> {
        let plain = self.open(ticket)?;
        TicketState::read(&plain).map_err(|e| TicketError::BadState(e.to_string()))
    }
}

/// A ticket's fields as RFC 5077 §4 lays them out; nothing here needs the key.
#[derive(Debug, Clone, Copy)]
pub struct TicketParts<'a> {
    pub key_name: [u8; 16],
    pub iv: [u8; 16],
    pub encrypted_state: &'a [u8],
    pub mac: &'a [u8],
    /// key_name ‖ iv ‖ encrypted_state with its length: what the MAC covers.
    authenticated: &'a [u8],
}

impl<'a> TicketParts<'a> {
    pub fn parse(ticket: &'a [u8]) -> Result<Self, TicketError> {
        let truncated = || TicketError::Truncated { len: ticket.len() };
        let mut r = Reader::new(ticket);
        let key_name = r.array::<16>("key_name").map_err(|_| truncated())?;
        let iv = r.array::<16>("iv").map_err(|_| truncated())?;
        let encrypted_state = r.vec_u16("encrypted_state").map_err(|_| truncated())?;
        let authenticated_len = r.position();
        let mac = r.take(32, "mac").map_err(|_| truncated())?;
        if r.any_left() || encrypted_state.is_empty() || encrypted_state.len() % 16 != 0 {
            return Err(truncated());
        }
        Ok(Self {
            key_name,
            iv,
            encrypted_state,
            mac,
            authenticated: ticket.get(..authenticated_len).ok_or_else(truncated)?,
        })
    }
}

/// The keys a server holds: the current one seals; every one opens (rotation keeps old keys for
/// a while so old tickets still resume, as nginx's list of `ssl_session_ticket_key` files does).
#[derive(Debug, Clone)]
pub struct TicketKeys {
    keys: Vec<TicketKey>,
}

impl TicketKeys {
    /// `current` seals new tickets; `older` only open.
    pub fn new(current: TicketKey, older: Vec<TicketKey>) -> Self {
        let mut keys = vec![current];
        keys.extend(older);
        Self { keys }
    }

    pub fn current(&self) -> &TicketKey {
        &self.keys[0]
    }

    pub fn all(&self) -> &[TicketKey] {
        &self.keys
    }

    /// Opens with the key whose name the ticket carries.
    pub fn open_state(&self, ticket: &[u8]) -> Result<TicketState, TicketError> {
        let parts = TicketParts::parse(ticket)?;
        match self.keys.iter().find(|k| k.name() == parts.key_name) {
            Some(key) => key.open_state(ticket),
            None => Err(TicketError::UnknownKeyName {
                name: parts.key_name,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
