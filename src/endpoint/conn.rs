//! A sans-I/O TLS connection: bytes in, bytes out, plaintext in between. The handshake is a
//! chain of state values (`endpoint::client`, `endpoint::server` and their `tls12`/`tls13`
//! states); this module owns the record layer they share, for both versions.

use crate::crypto::rng::LabRng;
use crate::crypto::HashAlg;
use crate::error::Error;
use crate::keylog::{KeyLogWriter, SecretKind};
use crate::msgs::alert::{Alert, AlertLevel};
use crate::msgs::enums::{AlertDescription, ContentType, HandshakeType, ProtocolVersion};
use crate::msgs::record::{
    encode_record, Deframer, HandshakeJoiner, HandshakeMessage, MAX_PLAINTEXT,
};
use crate::record_protect::{Tls12Protector, Tls13Protector, GCM_TAG_LEN};
use crate::suites::Suite;

/// What the record layer hands to a handshake state.
#[derive(Debug)]
pub enum Message {
    Handshake(HandshakeMessage),
    ChangeCipherSpec,
    ApplicationData(Vec<u8>),
}

impl Message {
    pub fn describe(&self) -> String {
        match self {
            Self::Handshake(m) => m.typ.name(),
            Self::ChangeCipherSpec => "ChangeCipherSpec".into(),
            Self::ApplicationData(_) => "application data".into(),
        }
    }
}

/// One step of a handshake: consumes itself and a message, returns the next state.
pub trait State: Send {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error>;

    /// True once application data may flow.
    fn is_traffic(&self) -> bool {
        false
    }

    /// TLS 1.3: update our write keys and ask the peer to update theirs (RFC 8446 §4.6.3).
    fn initiate_key_update(&mut self, _cx: &mut Context) -> Result<(), Error> {
        Err(Error::Internal(
            "KeyUpdate needs an established TLS 1.3 connection".into(),
        ))
    }
}

/// The bytes of every handshake message so far (RFC 5246 §7.4.9 "handshake_messages").
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    bytes: Vec<u8>,
}

impl Transcript {
    pub fn add(&mut self, msg: &HandshakeMessage) {
        self.bytes.extend_from_slice(&msg.encoded);
    }

    pub fn hash(&self, alg: HashAlg) -> Vec<u8> {
        alg.digest(&self.bytes)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Facts about the session both endpoints print and tests check. No secrets.
#[derive(Debug, Clone, Default)]
pub struct SessionSummary {
    pub suite: Option<Suite>,
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub extended_master_secret: bool,
    /// RFC 7366: the server answered encrypt_then_mac for a CBC suite.
    pub encrypt_then_mac: bool,
    pub server_name: Option<String>,
    pub signature_scheme: Option<u16>,
    pub secure_renegotiation: bool,
    /// How this handshake resumed an earlier session, if it did.
    pub resumed: Option<ResumedBy>,
    /// Tickets the server issued on this connection (TLS 1.2: at most one; TLS 1.3: any number).
    pub tickets_issued: usize,
    /// The certificate chain the server presented (DER, leaf first), as a client saw it.
    pub server_certificates: Vec<Vec<u8>>,
    /// TLS 1.3: the group of the key exchange (none for a psk_ke resumption).
    pub key_share_group: Option<crate::crypto::kx::KxGroup>,
}

/// How an abbreviated handshake found the earlier session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumedBy {
    /// TLS 1.2 session ID (RFC 5246 §7.4.1.2).
    SessionId,
    /// TLS 1.2 ticket (RFC 5077 §3.1).
    Ticket,
    /// TLS 1.3 PSK from a ticket, in this key exchange mode (RFC 8446 §4.2.9).
    Psk(crate::msgs::enums::PskKeyExchangeMode),
}

/// Record protection of either version.
#[derive(Clone)]
pub enum Protector {
    Tls12(Tls12Protector),
    Tls13(Tls13Protector),
}

impl Protector {
    /// Returns the outer content type and the protected payload.
    fn seal(&mut self, typ: ContentType, version: u16, plaintext: &[u8]) -> (ContentType, Vec<u8>) {
        match self {
            Self::Tls12(p) => (typ, p.seal(typ, version, plaintext)),
            Self::Tls13(p) => (ContentType::ApplicationData, p.seal(typ, plaintext)),
        }
    }

    /// Returns the real content type and the plaintext.
    fn open(
        &mut self,
        outer: ContentType,
        version: u16,
        payload: &[u8],
    ) -> Result<(ContentType, Vec<u8>), Error> {
        match self {
            Self::Tls12(p) => p
                .open(outer, version, payload)
                .map(|plain| (outer, plain))
                .map_err(|_| Error::BadRecordMac),
            Self::Tls13(p) => {
                if outer != ContentType::ApplicationData {
                    return Err(Error::unexpected(
                        "a protected (application_data) record",
                        format!("a {outer} record"),
                    ));
                }
                p.open(payload).map_err(|_| Error::BadRecordMac)
            }
        }
    }
}

/// State shared by every handshake step: the record layer, output, randomness.
pub struct Context {
    pub rng: LabRng,
    pub keylog: Option<std::sync::Arc<KeyLogWriter>>,
    pub summary: SessionSummary,
    /// Record version written before the version is agreed, and after.
    pub record_version: u16,
    read_protector: Option<Protector>,
    write_protector: Option<Protector>,
    /// TLS 1.3 negotiated: stray ChangeCipherSpec is ignored during the handshake (RFC 8446 §5).
    pub tls13: bool,
    /// TLS 1.3 0-RTT the server does not accept: bytes of early data still to skip
    /// (RFC 8446 §4.2.10).
    pub early_data_to_skip: usize,
    /// Client: the newest session it can resume later (set after a full or resumed handshake,
    /// and replaced by each ticket that arrives).
    pub resumable: Option<crate::endpoint::session::ClientSession>,
    joiner: HandshakeJoiner,
    out: Vec<u8>,
    received: Vec<u8>,
}

impl Context {
    fn new(rng: LabRng, keylog: Option<std::sync::Arc<KeyLogWriter>>) -> Self {
        Self {
            rng,
            keylog,
            summary: SessionSummary::default(),
            record_version: ProtocolVersion::Tls12.to_wire(),
            read_protector: None,
            write_protector: None,
            tls13: false,
            early_data_to_skip: 0,
            resumable: None,
            joiner: HandshakeJoiner::new(),
            out: Vec::new(),
            received: Vec::new(),
        }
    }

    fn write_record(&mut self, typ: ContentType, plaintext: &[u8]) {
        let (outer, payload) = match self.write_protector.as_mut() {
            Some(p) => p.seal(typ, self.record_version, plaintext),
            None => (typ, plaintext.to_vec()),
        };
        self.out
            .extend_from_slice(&encode_record(outer, self.record_version, &payload));
    }

    /// Writes a record without protection even after keys are set (TLS 1.3 compatibility
    /// ChangeCipherSpec, RFC 8446 §D.4).
    pub fn send_plaintext_change_cipher_spec(&mut self) {
        self.out.extend_from_slice(&encode_record(
            ContentType::ChangeCipherSpec,
            self.record_version,
            &[1],
        ));
    }

    /// TLS 1.3: protect everything written from now on with these keys.
    pub fn set_write_keys(&mut self, p: Tls13Protector) {
        self.write_protector = Some(Protector::Tls13(p));
    }

    /// TLS 1.3: records read from now on are protected with these keys.
    pub fn set_read_keys(&mut self, p: Tls13Protector) -> Result<(), Error> {
        // RFC 8446 §5.1: handshake messages must not span a key change.
        if !self.joiner.is_empty() {
            return Err(crate::msgs::record::RecordError::IncompleteHandshake.into());
        }
        self.read_protector = Some(Protector::Tls13(p));
        Ok(())
    }

    /// Sends a handshake message, fragmented into records of at most 2^14 bytes.
    pub fn send_handshake(&mut self, msg: &HandshakeMessage) {
        for chunk in msg.encoded.chunks(MAX_PLAINTEXT) {
            self.write_record(ContentType::Handshake, chunk);
        }
    }

    /// Sends ChangeCipherSpec, then protects everything after it with `next` (RFC 5246 §7.1).
    pub fn send_change_cipher_spec(&mut self, next: Tls12Protector) {
        self.write_record(ContentType::ChangeCipherSpec, &[1]);
        self.write_protector = Some(Protector::Tls12(next));
    }

    /// Applies the peer's ChangeCipherSpec: records from now on are protected with `next`.
    pub fn accept_change_cipher_spec(&mut self, next: Tls12Protector) {
        self.read_protector = Some(Protector::Tls12(next));
    }

    pub fn send_alert(&mut self, alert: Alert) {
        self.write_record(ContentType::Alert, &alert.encode());
    }

    pub fn log_secret(
        &self,
        kind: SecretKind,
        client_random: &[u8],
        secret: &[u8],
    ) -> Result<(), Error> {
        if let Some(k) = &self.keylog {
            k.log(kind, client_random, secret).map_err(|e| {
                Error::Internal(format!("cannot write key log {}: {e}", k.path().display()))
            })?;
        }
        Ok(())
    }
}

/// Why a connection is no longer usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The peer sent close_notify.
    CloseNotify,
    /// A fatal error: this side sent the alert (if any) and stopped.
    Failed(String),
}

/// Warning alerts a TLS 1.2 connection tolerates before it fails.
const MAX_WARNING_ALERTS: usize = 5;

/// A TLS connection with no socket: feed it bytes with `read_tls`, send what `take_output`
/// returns.
pub struct Connection {
    cx: Context,
    state: Option<Box<dyn State>>,
    deframer: Deframer,
    closed: Option<Closed>,
    sent_close_notify: bool,
    /// TLS 1.3: the one middlebox-compatibility ChangeCipherSpec was dropped already.
    dropped_compat_ccs: bool,
    /// TLS 1.2 warning alerts received, bounded (the "SSL Death Alert", CVE-2016-8610).
    warning_alerts: usize,
}

impl Connection {
    pub(crate) fn new(
        rng: LabRng,
        keylog: Option<std::sync::Arc<KeyLogWriter>>,
        start: impl FnOnce(&mut Context) -> Result<Box<dyn State>, Error>,
    ) -> Result<Self, Error> {
        let mut cx = Context::new(rng, keylog);
        let state = start(&mut cx)?;
        Ok(Self {
            cx,
            state: Some(state),
            deframer: Deframer::new(),
            closed: None,
            sent_close_notify: false,
            dropped_compat_ccs: false,
            warning_alerts: 0,
        })
    }

    pub fn is_handshaking(&self) -> bool {
        self.closed.is_none() && !self.state.as_ref().is_some_and(|s| s.is_traffic())
    }

    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    pub fn summary(&self) -> &SessionSummary {
        &self.cx.summary
    }

    /// Client: a session to resume later (`--session-out`), once there is one.
    pub fn resumable_session(&self) -> Option<&crate::endpoint::session::ClientSession> {
        self.cx.resumable.as_ref()
    }

    /// TLS bytes waiting to be sent.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.cx.out)
    }

    pub fn has_output(&self) -> bool {
        !self.cx.out.is_empty()
    }

    /// Application data received so far.
    pub fn take_received(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.cx.received)
    }

    /// Queues application data, split into records of at most 2^14 bytes. The peer's
    /// close_notify closes only its own write side (RFC 8446 §6.1): we may still answer.
    pub fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        let failed = matches!(self.closed, Some(Closed::Failed(_)));
        if self.is_handshaking() || failed || self.sent_close_notify {
            return Err(Error::Internal(
                "application data can only be sent on an open, established connection".into(),
            ));
        }
        for chunk in data.chunks(MAX_PLAINTEXT) {
            self.cx.write_record(ContentType::ApplicationData, chunk);
        }
        Ok(())
    }

    /// TLS 1.3: sends KeyUpdate(update_requested) and switches to the next write keys.
    pub fn request_key_update(&mut self) -> Result<(), Error> {
        let state = self
            .state
            .as_mut()
            .ok_or_else(|| Error::Internal("connection is closed".into()))?;
        state.initiate_key_update(&mut self.cx)
    }

    /// Queues close_notify (RFC 5246 §7.2.1).
    pub fn send_close_notify(&mut self) {
        if !self.sent_close_notify {
            self.sent_close_notify = true;
            self.cx.send_alert(Alert::close_notify());
        }
    }

    /// Processes bytes from the peer. On a fatal error the alert is queued in the output
    /// (send it, then close), and the same error is returned now and the connection stays failed.
    pub fn read_tls(&mut self, bytes: &[u8]) -> Result<(), Error> {
        if let Some(Closed::Failed(reason)) = &self.closed {
            return Err(Error::Internal(format!(
                "connection already failed: {reason}"
            )));
        }
        self.deframer.push(bytes);
        match self.process() {
            Ok(()) => Ok(()),
            Err(e) => {
                if let Some(alert) = e.alert() {
                    self.cx.send_alert(Alert::fatal(alert));
                }
                self.closed = Some(Closed::Failed(e.to_string()));
                self.state = None;
                Err(e)
            }
        }
    }

    fn process(&mut self) -> Result<(), Error> {
        while self.closed.is_none() {
            let Some(record) = self.deframer.next_record()? else {
                break;
            };
            // RFC 8446 §5: in TLS 1.3 an unprotected ChangeCipherSpec of 0x01 during the
            // handshake is only for middleboxes and is dropped.
            // Only one is dropped, as OpenSSL does; a second is unexpected.
            if self.cx.tls13 && record.content_type == ContentType::ChangeCipherSpec {
                if record.payload == [1] && self.is_handshaking() && !self.dropped_compat_ccs {
                    self.dropped_compat_ccs = true;
                    continue;
                }
                return Err(Error::unexpected(
                    "no ChangeCipherSpec after the TLS 1.3 handshake",
                    "ChangeCipherSpec",
                ));
            }
            // RFC 8446 §5.2: a TLS 1.3 record's ciphertext is at most 2^14 + 256 bytes.
            if self.cx.tls13 && record.payload.len() > MAX_PLAINTEXT + 256 {
                return Err(Error::RecordOverflow(format!(
                    "a TLS 1.3 record of {} bytes (at most 2^14 + 256)",
                    record.payload.len()
                )));
            }
            // RFC 8446 §5.4: the TLSInnerPlaintext (content, type, padding) is at most 2^14 + 1.
            if self.cx.tls13
                && self.cx.read_protector.is_some()
                && record.payload.len() > MAX_PLAINTEXT + 1 + GCM_TAG_LEN
            {
                return Err(Error::RecordOverflow(format!(
                    "a TLS 1.3 inner plaintext of {} bytes (at most 2^14 + 1)",
                    record.payload.len() - GCM_TAG_LEN
                )));
            }
            // RFC 8446 §5.1: once protected, a plaintext alert can only be the peer giving up
            // (it cannot read our records); it ends the connection and is not answered.
            if self.cx.tls13
                && record.content_type == ContentType::Alert
                && self.cx.read_protector.is_some()
            {
                let alert = Alert::read(&record.payload)?;
                return Err(Error::PeerAlert(alert.description));
            }
            // RFC 8446 §4.2.10: rejected 0-RTT is skipped, up to a limit: records that do not
            // open under the handshake key, or (after a HelloRetryRequest, before any key)
            // application_data records.
            if self.cx.early_data_to_skip > 0 && self.is_handshaking() {
                let skip = match self.cx.read_protector.as_mut() {
                    Some(p) => {
                        let mut trial = p.clone();
                        trial
                            .open(record.content_type, record.version, &record.payload)
                            .is_err()
                    }
                    None => record.content_type == ContentType::ApplicationData,
                };
                if skip {
                    self.cx.early_data_to_skip = self
                        .cx
                        .early_data_to_skip
                        .saturating_sub(record.payload.len());
                    continue;
                }
                // The first record that opens starts the client's real flight: from here on
                // a record that fails is an error, not skipped early data.
                if self.cx.read_protector.is_some() {
                    self.cx.early_data_to_skip = 0;
                }
            }
            let (content_type, plaintext) = match self.cx.read_protector.as_mut() {
                Some(p) => p.open(record.content_type, record.version, &record.payload)?,
                None => (record.content_type, record.payload),
            };
            if plaintext.len() > MAX_PLAINTEXT {
                return Err(Error::RecordOverflow(format!(
                    "{} bytes of plaintext in one record",
                    plaintext.len()
                )));
            }
            match content_type {
                ContentType::Handshake => {
                    if plaintext.is_empty() {
                        return Err(Error::unexpected(
                            "a handshake fragment",
                            "an empty handshake record",
                        ));
                    }
                    self.cx.joiner.push(&plaintext);
                    while let Some(msg) = self.cx.joiner.next_message()? {
                        self.dispatch(Message::Handshake(msg))?;
                        if self.closed.is_some() {
                            break;
                        }
                    }
                }
                ContentType::ChangeCipherSpec => {
                    // RFC 5246 §7.1: exactly one byte of value 1, at a message boundary.
                    if plaintext != [1] {
                        return Err(Error::unexpected(
                            "a ChangeCipherSpec of the single byte 0x01",
                            format!("{} bytes", plaintext.len()),
                        ));
                    }
                    if !self.cx.joiner.is_empty() {
                        return Err(crate::msgs::record::RecordError::IncompleteHandshake.into());
                    }
                    self.dispatch(Message::ChangeCipherSpec)?;
                }
                ContentType::Alert => {
                    // RFC 8446 §5.1, RFC 5246 §6.2.1: zero-length Alert fragments are not sent.
                    if plaintext.is_empty() {
                        return Err(Error::unexpected("an alert", "an empty alert record"));
                    }
                    let alert = Alert::read(&plaintext)?;
                    if alert.description == AlertDescription::CloseNotify {
                        if self.is_handshaking() {
                            return Err(Error::PeerClosed(
                                "with close_notify during the handshake",
                            ));
                        }
                        self.closed = Some(Closed::CloseNotify);
                    } else if alert.level == AlertLevel::Warning && !self.cx.tls13 {
                        // RFC 5246 §7.2.2: after a warning the connection goes on (a refused
                        // renegotiation, say); only so many, as OpenSSL allows (CVE-2016-8610).
                        self.warning_alerts += 1;
                        if self.warning_alerts >= MAX_WARNING_ALERTS {
                            return Err(Error::unexpected(
                                "a handshake message or data",
                                format!("{} warning alerts", self.warning_alerts),
                            ));
                        }
                    } else {
                        let e = Error::PeerAlert(alert.description);
                        self.closed = Some(Closed::Failed(e.to_string()));
                        self.state = None;
                        return Err(e);
                    }
                }
                ContentType::ApplicationData => {
                    if self.is_handshaking() {
                        return Err(Error::unexpected("a handshake message", "application data"));
                    }
                    // RFC 8446 §5.1: handshake messages are not interleaved with other records.
                    if !self.cx.joiner.is_empty() {
                        return Err(Error::unexpected(
                            "the rest of a fragmented handshake message",
                            "application data",
                        ));
                    }
                    self.cx.received.extend_from_slice(&plaintext);
                }
                ContentType::Unknown(t) => {
                    return Err(Error::unexpected(
                        "a known record type",
                        format!("record type {t}"),
                    ))
                }
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, msg: Message) -> Result<(), Error> {
        let state = self
            .state
            .take()
            .ok_or_else(|| Error::Internal("no handshake state".into()))?;
        self.state = Some(state.handle(&mut self.cx, msg)?);
        Ok(())
    }
}

/// The traffic state both sides end in: handshake messages now are renegotiation attempts,
/// which pfslab refuses with a warning (RFC 5746 §4.2, RFC 5246 §7.2.2 no_renegotiation).
pub struct Traffic;

impl State for Traffic {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        match msg {
            Message::Handshake(m)
                if matches!(
                    m.typ,
                    HandshakeType::HelloRequest | HandshakeType::ClientHello
                ) =>
            {
                cx.send_alert(Alert {
                    level: AlertLevel::Warning,
                    description: AlertDescription::NoRenegotiation,
                });
                Ok(self)
            }
            other => Err(Error::unexpected("application data", other.describe())),
        }
    }

    fn is_traffic(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "conformance_tests.rs"]
mod conformance_tests;
