//! What a passive eavesdropper can read from one TCP connection's two byte streams: the
//! plaintext handshake, the parameters each side chose, and the protected records that follow.
//! No keys are needed here; `attack` takes it from there with the endpoints' own key schedule.

mod psk;

pub use psk::ObservedPsk;

use crate::codec::Reader;
use crate::msgs::dhe::{DheClientKeyExchange, DheServerKeyExchange};
use crate::msgs::enums::{ContentType, ExtensionType, HandshakeType, ProtocolVersion};
use crate::msgs::handshake::{
    CertificateMsg, ClientHello, EcdheClientKeyExchange, EcdheServerKeyExchange,
    NewSessionTicket12, RsaClientKeyExchange, ServerHello,
};
use crate::msgs::handshake13::client_hello_without_binders;
use crate::msgs::record::{read_record, HandshakeJoiner, HandshakeMessage, OpaqueRecord};
use crate::suites::{self, KeyExchange, Suite};

/// What the client sent to establish the premaster, as it appeared on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyExchangeOnWire {
    /// RFC 5246 §7.4.7.1: the premaster, encrypted to the server's RSA key.
    RsaEncryptedPremaster(Vec<u8>),
    /// RFC 5246 §7.4.3: finite-field DHE: the group (p, g) and both public values g^a, g^b.
    Dhe {
        p: Vec<u8>,
        g: Vec<u8>,
        server_public: Vec<u8>,
        client_public: Vec<u8>,
        signature_scheme: u16,
        signature: Vec<u8>,
    },
    /// RFC 8422: both ephemeral public points; the premaster is never sent.
    Ecdhe {
        server_public: Vec<u8>,
        client_public: Vec<u8>,
        signature_scheme: u16,
        signature: Vec<u8>,
        named_group: u16,
    },
    /// TLS 1.3 key shares (RFC 8446 §4.2.8).
    Tls13KeyShares {
        client_groups: Vec<u16>,
        server_group: Option<u16>,
        client_share: Option<Vec<u8>>,
        server_share: Option<Vec<u8>>,
    },
    /// The handshake ended (or the capture did) before the key exchange was seen.
    NotSeen,
}

/// One direction's protected records, in order.
#[derive(Debug, Clone, Default)]
pub struct ProtectedRecords {
    pub records: Vec<OpaqueRecord>,
    /// Bytes of application_data record payload (ciphertext) seen.
    pub app_data_bytes: u64,
}

/// Everything readable without keys.
#[derive(Debug, Clone)]
pub struct ObservedSession {
    pub client_hello: Option<ClientHello>,
    pub server_hello: Option<ServerHello>,
    /// Version the session runs: 0x0303, or 0x0304 from supported_versions (RFC 8446 §4.2.1).
    pub version: Option<u16>,
    pub suite_id: Option<u16>,
    pub suite: Option<Suite>,
    pub key_exchange: Option<KeyExchange>,
    pub ems: bool,
    /// The ServerHello answered encrypt_then_mac (RFC 7366 §2): CBC records are MACed after
    /// encryption. Meaningless for AEAD suites.
    pub encrypt_then_mac: bool,
    pub sni: Option<String>,
    /// Leaf first, DER.
    pub certificates: Vec<Vec<u8>>,
    pub server_key_exchange: Option<EcdheServerKeyExchange>,
    pub wire_key_exchange: KeyExchangeOnWire,
    /// An abbreviated handshake: the server accepted the client's session ID or ticket.
    pub resumed: Option<Resumption>,
    /// A ticket the server issued in this session (RFC 5077).
    pub new_ticket: Option<Vec<u8>>,
    /// Its ticket_lifetime_hint, in seconds (RFC 5077 §3.3).
    pub new_ticket_lifetime: Option<u32>,
    /// The ticket the client presented in its session_ticket extension (RFC 5077 §3.2), whether
    /// or not the server resumed with it.
    pub offered_ticket: Option<Vec<u8>>,
    /// Plaintext handshake messages in the order they were sent (both directions merged by
    /// protocol order: the client's flight, then the server's, …).
    pub handshake_client: Vec<HandshakeMessage>,
    pub handshake_server: Vec<HandshakeMessage>,
    /// Records after each side's ChangeCipherSpec (TLS 1.2) or after ServerHello (TLS 1.3).
    pub client_protected: ProtectedRecords,
    pub server_protected: ProtectedRecords,
    /// Whether each side sent ChangeCipherSpec.
    pub client_ccs: bool,
    pub server_ccs: bool,
    /// Problems met while reading, in the capture's terms.
    pub notes: Vec<String>,
    /// TLS 1.3: the server answered the first ClientHello with a HelloRetryRequest.
    pub hello_retry: bool,
    /// TLS 1.3: what the hellos said about a PSK (RFC 8446 §4.2.9–4.2.11).
    pub psk: Option<ObservedPsk>,
}

/// How an abbreviated handshake named the session it resumes (RFC 5246 §7.3, RFC 5077 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumption {
    SessionId(Vec<u8>),
    /// The ticket the client presented (the session ID it sent alongside is only an echo).
    Ticket(Vec<u8>),
}

/// One direction split into plaintext handshake messages and protected records.
struct DirectionParse {
    handshake: Vec<HandshakeMessage>,
    protected: ProtectedRecords,
    ccs: bool,
    error: Option<String>,
    saw_any_record: bool,
}

fn parse_direction(
    bytes: &[u8],
    plaintext_until_ccs: bool,
    tls13_after: Option<usize>,
) -> DirectionParse {
    // The direction's bytes are all here: records are read in place (no Deframer buffer).
    let mut at = 0usize;
    let mut joiner = HandshakeJoiner::new();
    let mut out = DirectionParse {
        handshake: Vec::new(),
        protected: ProtectedRecords::default(),
        ccs: false,
        error: None,
        saw_any_record: false,
    };
    let mut protected = false;
    loop {
        let record_at = at;
        let rest = bytes.get(at..).unwrap_or_default();
        let record = match read_record(rest) {
            Ok(Some((r, len))) => {
                at += len;
                r
            }
            Ok(None) => {
                if !rest.is_empty() {
                    out.error = Some(format!(
                        "stream ends inside a record ({} bytes of it at offset {at})",
                        rest.len(),
                    ));
                }
                break;
            }
            Err(e) => {
                out.error = Some(format!("at stream offset {at}: {e}"));
                break;
            }
        };
        out.saw_any_record = true;
        if protected {
            if record.content_type == ContentType::ApplicationData {
                out.protected.app_data_bytes += record.payload.len() as u64;
            }
            // TLS 1.3 middlebox-compatibility CCS stays plaintext (RFC 8446 §D.4).
            if record.content_type == ContentType::ChangeCipherSpec {
                out.ccs = true;
                continue;
            }
            out.protected.records.push(record);
            continue;
        }
        match record.content_type {
            ContentType::Handshake => {
                joiner.push(&record.payload);
                loop {
                    match joiner.next_message() {
                        Ok(Some(m)) => out.handshake.push(m),
                        Ok(None) => break,
                        Err(e) => {
                            out.error = Some(e.to_string());
                            return out;
                        }
                    }
                }
                if let Some(n) = tls13_after {
                    if out.handshake.len() >= n {
                        protected = true;
                    }
                }
            }
            ContentType::ChangeCipherSpec if plaintext_until_ccs && tls13_after.is_none() => {
                out.ccs = true;
                protected = true;
            }
            ContentType::ChangeCipherSpec => out.ccs = true,
            ContentType::Alert => {}
            ContentType::ApplicationData => {
                // Application data before any key change: plaintext cannot be; count it.
                out.protected.app_data_bytes += record.payload.len() as u64;
                out.protected.records.push(record);
                protected = true;
            }
            ContentType::Unknown(t) => {
                out.error = Some(format!(
                    "record of unknown type {t} at stream offset {record_at}"
                ));
                break;
            }
        }
    }
    out
}

impl ObservedSession {
    /// Reads a session from the client→server and server→client bytes.
    pub fn observe(to_server: &[u8], to_client: &[u8]) -> Self {
        let mut s = ObservedSession {
            client_hello: None,
            server_hello: None,
            version: None,
            suite_id: None,
            suite: None,
            key_exchange: None,
            ems: false,
            encrypt_then_mac: false,
            sni: None,
            certificates: Vec::new(),
            server_key_exchange: None,
            wire_key_exchange: KeyExchangeOnWire::NotSeen,
            resumed: None,
            new_ticket: None,
            new_ticket_lifetime: None,
            offered_ticket: None,
            handshake_client: Vec::new(),
            handshake_server: Vec::new(),
            client_protected: ProtectedRecords::default(),
            server_protected: ProtectedRecords::default(),
            client_ccs: false,
            server_ccs: false,
            notes: Vec::new(),
            hello_retry: false,
            psk: None,
        };

        // The server's first flight tells the version; in TLS 1.3 everything after
        // ServerHello is protected.
        let server_peek = parse_direction(to_client, true, Some(1));
        let first_server_hello = server_peek
            .handshake
            .first()
            .and_then(|m| ServerHello::read(m.body()).ok());
        let is_tls13 = first_server_hello
            .as_ref()
            .is_some_and(|sh| selected_version(sh) == ProtocolVersion::Tls13.to_wire());
        // After a HelloRetryRequest two hellos each way travel in clear (RFC 8446 §4.1.4).
        let retried = first_server_hello
            .as_ref()
            .is_some_and(|sh| sh.random == crate::msgs::handshake13::HELLO_RETRY_REQUEST_RANDOM);
        s.hello_retry = retried;
        let (server, client) = if is_tls13 && retried {
            (
                parse_direction(to_client, true, Some(2)),
                parse_direction(to_server, false, Some(2)),
            )
        } else if is_tls13 {
            (server_peek, parse_direction(to_server, false, Some(1)))
        } else {
            (
                parse_direction(to_client, true, None),
                parse_direction(to_server, true, None),
            )
        };
        for (who, d) in [("client", &client), ("server", &server)] {
            if let Some(e) = &d.error {
                s.notes.push(format!("{who} stream: {e}"));
            }
        }
        s.client_ccs = client.ccs;
        s.server_ccs = server.ccs;
        s.client_protected = client.protected;
        s.server_protected = server.protected;

        for m in &client.handshake {
            match m.typ {
                HandshakeType::ClientHello if s.client_hello.is_none() => {
                    match ClientHello::read(m.body()) {
                        Ok(ch) => {
                            s.sni = ch
                                .extension(ExtensionType::ServerName)
                                .and_then(|e| e.parse_server_name().ok().flatten());
                            s.offered_ticket = ch
                                .extension(ExtensionType::SessionTicket)
                                .filter(|e| !e.data.is_empty())
                                .map(|e| e.data.clone());
                            s.client_hello = Some(ch);
                        }
                        Err(e) => s.notes.push(format!("ClientHello unreadable: {e}")),
                    }
                }
                _ => {}
            }
        }
        for m in &server.handshake {
            match m.typ {
                HandshakeType::ServerHello if s.server_hello.is_none() || s.hello_retry => {
                    match ServerHello::read(m.body()) {
                        Ok(sh) => {
                            s.version = Some(selected_version(&sh));
                            s.suite_id = Some(sh.cipher_suite);
                            s.ems = sh.extension(ExtensionType::ExtendedMasterSecret).is_some();
                            s.encrypt_then_mac =
                                sh.extension(ExtensionType::EncryptThenMac).is_some();
                            s.server_hello = Some(sh);
                        }
                        Err(e) => s.notes.push(format!("ServerHello unreadable: {e}")),
                    }
                }
                HandshakeType::Certificate if s.certificates.is_empty() => {
                    match CertificateMsg::read(m.body()) {
                        Ok(c) => s.certificates = c.chain,
                        Err(e) => s.notes.push(format!("Certificate unreadable: {e}")),
                    }
                }
                // Read once the suite says which kind it is (below).
                HandshakeType::ServerKeyExchange => {}
                HandshakeType::NewSessionTicket => match NewSessionTicket12::read(m.body()) {
                    Ok(t) => {
                        s.new_ticket = Some(t.ticket);
                        s.new_ticket_lifetime = Some(t.lifetime_hint);
                    }
                    Err(e) => s.notes.push(format!("NewSessionTicket unreadable: {e}")),
                },
                _ => {}
            }
        }
        if is_tls13 {
            s.key_exchange = Some(KeyExchange::Tls13);
            s.suite = s.suite_id.and_then(suites::tls13_suite);
            // The last ClientHello carries the share the server used (after a retry, the second).
            let last_hello = client
                .handshake
                .iter()
                .rev()
                .find(|m| m.typ == HandshakeType::ClientHello)
                .and_then(|m| ClientHello::read(m.body()).ok());
            let client_entries = last_hello
                .as_ref()
                .and_then(|ch| ch.extension(ExtensionType::KeyShare))
                .and_then(|e| e.parse_key_share_client().ok())
                .unwrap_or_default();
            let client_groups = client_entries.iter().map(|e| e.group).collect();
            let server_entry = s
                .server_hello
                .as_ref()
                .and_then(|sh| sh.extension(ExtensionType::KeyShare))
                .and_then(|e| e.parse_key_share_server().ok());
            let server_group = server_entry.as_ref().map(|e| e.group);
            let client_share = client_entries
                .iter()
                .find(|e| Some(e.group) == server_group)
                .map(|e| e.key_exchange.clone());
            s.psk = s.read_psk(&client.handshake, &server.handshake);
            s.wire_key_exchange = KeyExchangeOnWire::Tls13KeyShares {
                client_groups,
                server_group,
                client_share,
                server_share: server_entry.map(|e| e.key_exchange),
            };
        } else if let Some(id) = s.suite_id {
            s.suite = suites::tls12_suite(id);
            s.key_exchange = s
                .suite
                .map(|x| x.key_exchange)
                .or_else(|| guess_key_exchange(id));
            s.detect_resumption(&server.handshake);
            s.read_server_key_exchange(&server.handshake);
            s.read_client_key_exchange(&client.handshake);
        }
        s.handshake_client = client.handshake;
        s.handshake_server = server.handshake;
        s
    }

    /// TLS 1.3: the PSK offer of the last ClientHello and the ServerHello's answer.
    fn read_psk(
        &mut self,
        client_msgs: &[HandshakeMessage],
        server_msgs: &[HandshakeMessage],
    ) -> Option<ObservedPsk> {
        let hellos: Vec<&HandshakeMessage> = client_msgs
            .iter()
            .filter(|m| m.typ == HandshakeType::ClientHello)
            .collect();
        let last = hellos.last()?;
        let ch = ClientHello::read(last.body()).ok()?;
        let modes_ext = ch.extension(ExtensionType::PskKeyExchangeModes);
        let psk_ext = ch.extension(ExtensionType::PreSharedKey);
        if modes_ext.is_none() && psk_ext.is_none() {
            return None;
        }
        let mut psk = ObservedPsk::default();
        if let Some(e) = modes_ext {
            match e.parse_psk_key_exchange_modes() {
                Ok(m) => psk.modes = m,
                Err(e) => self
                    .notes
                    .push(format!("psk_key_exchange_modes unreadable: {e}")),
            }
        }
        if let Some(e) = psk_ext {
            match e.parse_pre_shared_key_client() {
                Ok(o) => psk.offered = Some(o),
                Err(e) => self.notes.push(format!("pre_shared_key unreadable: {e}")),
            }
        }
        if let Some(sh) = &self.server_hello {
            if let Some(e) = sh.extension(ExtensionType::PreSharedKey) {
                match e.parse_pre_shared_key_server() {
                    Ok(i) => psk.selected = Some(i),
                    Err(e) => self
                        .notes
                        .push(format!("ServerHello pre_shared_key unreadable: {e}")),
                }
            }
            psk.server_key_share = sh.extension(ExtensionType::KeyShare).is_some();
        }
        if psk.offered.is_some() {
            match client_hello_without_binders(&last.encoded) {
                Ok(truncated) => {
                    // After a retry the binder covers message_hash(ClientHello1) and the
                    // HelloRetryRequest too (RFC 8446 §4.2.11.2); the hash is the suite's.
                    if self.hello_retry {
                        let hash = self.suite_id.and_then(suites::tls13_suite).map(|x| x.hash);
                        if let (Some(hash), Some(ch1), Some(hrr)) =
                            (hash, hellos.first(), server_msgs.first())
                        {
                            psk.binder_transcript.extend_from_slice(
                                &crate::msgs::handshake13::message_hash(&hash.digest(&ch1.encoded))
                                    .encoded,
                            );
                            psk.binder_transcript.extend_from_slice(&hrr.encoded);
                            psk.binder_transcript.extend_from_slice(truncated);
                        }
                    } else {
                        psk.binder_transcript = truncated.to_vec();
                    }
                }
                Err(e) => self.notes.push(format!(
                    "the ClientHello cannot be cut before its binders: {e}"
                )),
            }
        }
        Some(psk)
    }

    fn detect_resumption(&mut self, server_msgs: &[HandshakeMessage]) {
        let (Some(ch), Some(sh)) = (&self.client_hello, &self.server_hello) else {
            return;
        };
        let full = server_msgs.iter().any(|m| {
            m.typ == HandshakeType::Certificate || m.typ == HandshakeType::ServerHelloDone
        });
        if full {
            return;
        }
        // RFC 5246 §7.3 abbreviated handshake: ServerHello then straight to ChangeCipherSpec.
        // A presented ticket takes precedence: with tickets the echoed session ID is arbitrary.
        if let Some(t) = ch
            .extension(ExtensionType::SessionTicket)
            .filter(|e| !e.data.is_empty())
        {
            self.resumed = Some(Resumption::Ticket(t.data.clone()));
        } else if (!sh.session_id.is_empty() && sh.session_id == ch.session_id) || self.server_ccs {
            self.resumed = Some(Resumption::SessionId(sh.session_id.clone()));
        }
    }

    fn read_server_key_exchange(&mut self, server_msgs: &[HandshakeMessage]) {
        let Some(ske) = server_msgs
            .iter()
            .find(|m| m.typ == HandshakeType::ServerKeyExchange)
        else {
            return;
        };
        match self.key_exchange {
            Some(KeyExchange::DheRsa) => match DheServerKeyExchange::read(ske.body()) {
                Ok(ske) => {
                    self.wire_key_exchange = KeyExchangeOnWire::Dhe {
                        p: ske.p,
                        g: ske.g,
                        server_public: ske.server_public,
                        client_public: Vec::new(),
                        signature_scheme: ske.signature_scheme,
                        signature: ske.signature,
                    }
                }
                Err(e) => self
                    .notes
                    .push(format!("DHE ServerKeyExchange unreadable: {e}")),
            },
            _ => match EcdheServerKeyExchange::read(ske.body()) {
                Ok(ske) => self.server_key_exchange = Some(ske),
                Err(e) => self
                    .notes
                    .push(format!("ServerKeyExchange is not ECDHE: {e}")),
            },
        }
    }

    fn read_client_key_exchange(&mut self, client_msgs: &[HandshakeMessage]) {
        let Some(cke) = client_msgs
            .iter()
            .find(|m| m.typ == HandshakeType::ClientKeyExchange)
        else {
            return;
        };
        match self.key_exchange {
            Some(KeyExchange::Rsa) => match RsaClientKeyExchange::read(cke.body()) {
                Ok(r) => {
                    self.wire_key_exchange =
                        KeyExchangeOnWire::RsaEncryptedPremaster(r.encrypted_premaster)
                }
                Err(e) => self
                    .notes
                    .push(format!("ClientKeyExchange unreadable: {e}")),
            },
            Some(KeyExchange::DheRsa) => {
                match (
                    DheClientKeyExchange::read(cke.body()),
                    &mut self.wire_key_exchange,
                ) {
                    (Ok(c), KeyExchangeOnWire::Dhe { client_public, .. }) => {
                        *client_public = c.public
                    }
                    (Err(e), _) => self
                        .notes
                        .push(format!("ClientKeyExchange unreadable: {e}")),
                    _ => {}
                }
            }
            Some(KeyExchange::EcdheRsa) => match (
                EcdheClientKeyExchange::read(cke.body()),
                &self.server_key_exchange,
            ) {
                (Ok(c), Some(ske)) => {
                    self.wire_key_exchange = KeyExchangeOnWire::Ecdhe {
                        server_public: ske.public.clone(),
                        client_public: c.public,
                        signature_scheme: ske.signature_scheme,
                        signature: ske.signature.clone(),
                        named_group: ske.named_group,
                    }
                }
                (Err(e), _) => self
                    .notes
                    .push(format!("ClientKeyExchange unreadable: {e}")),
                (_, None) => self
                    .notes
                    .push("ECDHE ClientKeyExchange without a ServerKeyExchange".into()),
            },
            _ => {}
        }
    }

    /// Whether a later session could resume this one: it issued a session ID or a ticket.
    pub fn issues_resumption(&self) -> bool {
        self.new_ticket.is_some()
            || self
                .server_hello
                .as_ref()
                .is_some_and(|s| !s.session_id.is_empty())
    }

    pub fn client_random(&self) -> Option<[u8; 32]> {
        self.client_hello.as_ref().map(|c| c.random)
    }

    pub fn server_random(&self) -> Option<[u8; 32]> {
        self.server_hello.as_ref().map(|s| s.random)
    }

    /// The handshake messages in protocol order for a full TLS 1.2 handshake, up to and
    /// including ClientKeyExchange: ClientHello, server flight, client flight (RFC 7627 §3).
    pub fn transcript_through_client_key_exchange(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut client = self.handshake_client.iter();
        if let Some(ch) = client.next() {
            out.extend_from_slice(&ch.encoded);
        }
        for m in &self.handshake_server {
            if m.typ == HandshakeType::NewSessionTicket {
                continue;
            }
            out.extend_from_slice(&m.encoded);
        }
        for m in client {
            out.extend_from_slice(&m.encoded);
            if m.typ == HandshakeType::ClientKeyExchange {
                break;
            }
        }
        out
    }

    /// Application data bytes each way (ciphertext, as seen).
    pub fn app_bytes(&self) -> (u64, u64) {
        (
            self.client_protected.app_data_bytes,
            self.server_protected.app_data_bytes,
        )
    }

    pub fn version_name(&self) -> String {
        match self.version.map(ProtocolVersion::from_wire) {
            Some(ProtocolVersion::Tls13) => "TLS 1.3".into(),
            Some(ProtocolVersion::Tls12) => "TLS 1.2".into(),
            Some(ProtocolVersion::Tls11) => "TLS 1.1".into(),
            Some(ProtocolVersion::Tls10) => "TLS 1.0".into(),
            Some(v) => format!("0x{:04x}", v.to_wire()),
            None => "?".into(),
        }
    }
}

fn selected_version(sh: &ServerHello) -> u16 {
    sh.extension(ExtensionType::SupportedVersions)
        .and_then(|e| Reader::new(&e.data).u16("selected_version").ok())
        .unwrap_or(sh.server_version)
}

/// Key exchange of suites pfslab cannot decrypt, from the IANA registry, for the report.
fn guess_key_exchange(id: u16) -> Option<KeyExchange> {
    match id {
        // TLS_DHE_RSA_WITH_*: 3DES, AES-CBC, Camellia, AES-GCM, AES-CCM, ChaCha20-Poly1305.
        0x0014..=0x0016
        | 0x0033
        | 0x0039
        | 0x0045
        | 0x0067
        | 0x006b
        | 0x0088
        | 0x009e
        | 0x009f
        | 0xc09e
        | 0xc09f
        | 0xc0a2
        | 0xc0a3
        | 0xccaa => Some(KeyExchange::DheRsa),
        // TLS_RSA_WITH_*.
        0x0001..=0x000a
        | 0x002f
        | 0x0035
        | 0x003b..=0x003d
        | 0x0041
        | 0x0084
        | 0x009c
        | 0x009d
        | 0xc09c
        | 0xc09d
        | 0xc0a0
        | 0xc0a1 => Some(KeyExchange::Rsa),
        0xc010..=0xc014 | 0xc027 | 0xc028 | 0xc02f | 0xc030 | 0xcca8 => Some(KeyExchange::EcdheRsa),
        0x1301..=0x1305 => Some(KeyExchange::Tls13),
        _ => None,
    }
}
