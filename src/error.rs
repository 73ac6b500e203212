//! The TLS endpoint error type and the alert each error sends (RFC 5246 §7.2.2).

use std::fmt;

use crate::codec::CodecError;
use crate::msgs::enums::AlertDescription;
use crate::msgs::record::RecordError;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A message could not be parsed (decode_error).
    Decode(String),
    /// A message arrived that the current state does not allow (unexpected_message).
    UnexpectedMessage { expected: &'static str, got: String },
    /// No acceptable parameters, or a peer choice we never offered (handshake_failure).
    HandshakeFailure(String),
    /// A field was well-formed but its value is wrong (illegal_parameter).
    IllegalParameter(String),
    /// A required extension is absent (missing_extension).
    MissingExtension(String),
    /// An extension we did not offer came back (unsupported_extension).
    UnsupportedExtension(String),
    /// A record failed authentication (bad_record_mac).
    BadRecordMac,
    /// A record or message exceeded its limit (record_overflow).
    RecordOverflow(String),
    /// A Finished or signature did not verify (decrypt_error).
    DecryptError(String),
    /// The certificate is malformed or does not match (bad_certificate).
    BadCertificate(String),
    /// The certificate does not chain to the trusted one (unknown_ca).
    UnknownCa(String),
    /// The certificate is outside its validity period (certificate_expired).
    CertificateExpired(String),
    /// The peer offers or chooses no version the lab speaks (protocol_version).
    ProtocolVersion(String),
    /// A fallback retry although both sides speak a higher version (inappropriate_fallback,
    /// RFC 7507 §3).
    InappropriateFallback(String),
    /// The peer sent a fatal alert.
    PeerAlert(AlertDescription),
    /// The peer closed the connection in the middle of the handshake or without close_notify.
    PeerClosed(&'static str),
    /// The peer sent nothing for too long.
    Timeout(&'static str),
    /// The socket failed.
    Io(std::io::Error),
    /// A local failure (internal_error).
    Internal(String),
}

impl Error {
    /// The fatal alert this error sends to the peer, if any.
    pub fn alert(&self) -> Option<AlertDescription> {
        use AlertDescription as A;
        Some(match self {
            Self::Decode(_) => A::DecodeError,
            Self::UnexpectedMessage { .. } => A::UnexpectedMessage,
            Self::HandshakeFailure(_) => A::HandshakeFailure,
            Self::IllegalParameter(_) => A::IllegalParameter,
            Self::UnsupportedExtension(_) => A::UnsupportedExtension,
            Self::MissingExtension(_) => A::MissingExtension,
            Self::BadRecordMac => A::BadRecordMac,
            Self::RecordOverflow(_) => A::RecordOverflow,
            Self::DecryptError(_) => A::DecryptError,
            Self::BadCertificate(_) => A::BadCertificate,
            Self::UnknownCa(_) => A::UnknownCa,
            Self::CertificateExpired(_) => A::CertificateExpired,
            Self::ProtocolVersion(_) => A::ProtocolVersion,
            Self::InappropriateFallback(_) => A::InappropriateFallback,
            Self::Internal(_) => A::InternalError,
            Self::PeerAlert(_) | Self::PeerClosed(_) | Self::Timeout(_) | Self::Io(_) => {
                return None
            }
        })
    }

    pub fn unexpected(expected: &'static str, got: impl fmt::Display) -> Self {
        Self::UnexpectedMessage {
            expected,
            got: got.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decode(m) => write!(f, "malformed message: {m}"),
            Self::UnexpectedMessage { expected, got } => {
                write!(f, "unexpected message: expected {expected}, got {got}")
            }
            Self::HandshakeFailure(m) => write!(f, "handshake failure: {m}"),
            Self::IllegalParameter(m) => write!(f, "illegal parameter: {m}"),
            Self::UnsupportedExtension(m) => write!(f, "unsupported extension: {m}"),
            Self::MissingExtension(m) => write!(f, "missing extension: {m}"),
            Self::BadRecordMac => f.write_str("record failed authentication (bad_record_mac)"),
            Self::RecordOverflow(m) => write!(f, "record overflow: {m}"),
            Self::DecryptError(m) => write!(f, "verification failed: {m}"),
            Self::BadCertificate(m) => write!(f, "bad certificate: {m}"),
            Self::UnknownCa(m) => write!(f, "untrusted certificate: {m}"),
            Self::CertificateExpired(m) => write!(f, "certificate expired: {m}"),
            Self::ProtocolVersion(m) => write!(f, "unsupported protocol version: {m}"),
            Self::InappropriateFallback(m) => write!(f, "inappropriate fallback: {m}"),
            Self::PeerAlert(a) => write!(f, "peer sent fatal alert {a}"),
            Self::PeerClosed(when) => write!(f, "peer closed the connection {when}"),
            Self::Timeout(when) => write!(f, "timed out {when}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

/// The Display text already carries every cause, so `source` is not reported again.
impl std::error::Error for Error {}

impl From<CodecError> for Error {
    fn from(e: CodecError) -> Self {
        Self::Decode(e.to_string())
    }
}

impl From<RecordError> for Error {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Overflow { .. } => Self::RecordOverflow(e.to_string()),
            RecordError::NotTls { .. } => Self::Decode(e.to_string()),
            RecordError::HandshakeTooLarge { .. } => Self::IllegalParameter(e.to_string()),
            RecordError::IncompleteHandshake => {
                Self::unexpected("a complete handshake message", "a key change mid-message")
            }
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                Self::Timeout("waiting for the peer")
            }
            _ => Self::Io(e),
        }
    }
}
