//! TLS 1.3 handshake bodies and extensions (RFC 8446 §4).

use crate::codec::{
    put_prefixed, put_u16, put_vec_u16, put_vec_u24, put_vec_u8, CodecError, Reader,
};
use crate::msgs::enums::{ExtensionType, HandshakeType};
use crate::msgs::handshake::{read_extension_block, write_extension_block, Extension};
use crate::msgs::record::HandshakeMessage;

/// RFC 8446 §4.1.3: ServerHello.random of a HelloRetryRequest, SHA-256("HelloRetryRequest").
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// RFC 8446 §4.1.3: the last 8 bytes of a TLS 1.3-capable server's random when it negotiates
/// TLS 1.2.
pub const DOWNGRADE_TLS12: [u8; 8] = [0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01];

/// A key share entry (RFC 8446 §4.2.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShareEntry {
    pub group: u16,
    pub key_exchange: Vec<u8>,
}

impl Extension {
    /// ClientHello supported_versions: a list (RFC 8446 §4.2.1).
    pub fn supported_versions_client(versions: &[u16]) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 1, |l| {
            versions.iter().for_each(|v| put_u16(l, *v))
        });
        Self::new(ExtensionType::SupportedVersions, data)
    }

    /// ServerHello supported_versions: the one selected.
    pub fn supported_versions_server(version: u16) -> Self {
        Self::new(
            ExtensionType::SupportedVersions,
            version.to_be_bytes().to_vec(),
        )
    }

    pub fn parse_supported_versions_client(&self) -> Result<Vec<u16>, CodecError> {
        let mut r = Reader::new(&self.data);
        let mut list = Reader::new(r.vec_u8("supported_versions")?);
        r.expect_end("supported_versions")?;
        let mut out = Vec::new();
        while list.any_left() {
            out.push(list.u16("version")?);
        }
        Ok(out)
    }

    pub fn parse_supported_versions_server(&self) -> Result<u16, CodecError> {
        let mut r = Reader::new(&self.data);
        let v = r.u16("selected_version")?;
        r.expect_end("supported_versions")?;
        Ok(v)
    }

    pub fn key_share_client(entries: &[KeyShareEntry]) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 2, |l| {
            for e in entries {
                put_u16(l, e.group);
                put_vec_u16(l, &e.key_exchange);
            }
        });
        Self::new(ExtensionType::KeyShare, data)
    }

    pub fn key_share_server(entry: &KeyShareEntry) -> Self {
        let mut data = Vec::new();
        put_u16(&mut data, entry.group);
        put_vec_u16(&mut data, &entry.key_exchange);
        Self::new(ExtensionType::KeyShare, data)
    }

    /// HelloRetryRequest key_share: the selected group only.
    pub fn key_share_retry(group: u16) -> Self {
        Self::new(ExtensionType::KeyShare, group.to_be_bytes().to_vec())
    }

    pub fn parse_key_share_client(&self) -> Result<Vec<KeyShareEntry>, CodecError> {
        let mut r = Reader::new(&self.data);
        let mut list = Reader::new(r.vec_u16("client_shares")?);
        r.expect_end("key_share")?;
        let mut out = Vec::new();
        while list.any_left() {
            let group = list.u16("group")?;
            let key_exchange = list.vec_u16("key_exchange")?.to_vec();
            out.push(KeyShareEntry {
                group,
                key_exchange,
            });
        }
        Ok(out)
    }

    pub fn parse_key_share_server(&self) -> Result<KeyShareEntry, CodecError> {
        let mut r = Reader::new(&self.data);
        let group = r.u16("group")?;
        let key_exchange = r.vec_u16("key_exchange")?.to_vec();
        r.expect_end("key_share")?;
        Ok(KeyShareEntry {
            group,
            key_exchange,
        })
    }
}

/// RFC 8446 §4.3.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedExtensions {
    pub extensions: Vec<Extension>,
}

impl EncryptedExtensions {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let extensions = read_extension_block(&mut r)?;
        r.expect_end("EncryptedExtensions")?;
        Ok(Self { extensions })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        write_extension_block(&mut b, &self.extensions);
        HandshakeMessage::new(HandshakeType::EncryptedExtensions, &b)
    }
}

/// RFC 8446 §4.4.2: certificates with per-entry extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate13 {
    pub context: Vec<u8>,
    pub chain: Vec<Vec<u8>>,
}

impl Certificate13 {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let context = r.vec_u8("certificate_request_context")?.to_vec();
        let mut list = Reader::new(r.vec_u24("certificate_list")?);
        r.expect_end("Certificate")?;
        let mut chain = Vec::new();
        while list.any_left() {
            let cert = list.vec_u24("cert_data")?;
            if cert.is_empty() {
                return Err(CodecError::IllegalValue {
                    what: "cert_data",
                    detail: "empty certificate".into(),
                });
            }
            chain.push(cert.to_vec());
            read_extension_block(&mut list)?;
        }
        Ok(Self { context, chain })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_vec_u8(&mut b, &self.context);
        put_prefixed(&mut b, 3, |l| {
            for c in &self.chain {
                put_vec_u24(l, c);
                put_vec_u16(l, &[]);
            }
        });
        HandshakeMessage::new(HandshakeType::Certificate, &b)
    }
}

/// RFC 8446 §4.4.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateVerify {
    pub scheme: u16,
    pub signature: Vec<u8>,
}

impl CertificateVerify {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let scheme = r.u16("signature scheme")?;
        let signature = r.vec_u16("signature")?.to_vec();
        r.expect_end("CertificateVerify")?;
        Ok(Self { scheme, signature })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_u16(&mut b, self.scheme);
        put_vec_u16(&mut b, &self.signature);
        HandshakeMessage::new(HandshakeType::CertificateVerify, &b)
    }

    /// The content a CertificateVerify signs: 64 spaces, the context string, a zero byte, and
    /// the transcript hash (RFC 8446 §4.4.3).
    pub fn signed_content(server: bool, transcript_hash: &[u8]) -> Vec<u8> {
        let mut m = vec![0x20u8; 64];
        m.extend_from_slice(if server {
            b"TLS 1.3, server CertificateVerify"
        } else {
            b"TLS 1.3, client CertificateVerify"
        });
        m.push(0);
        m.extend_from_slice(transcript_hash);
        m
    }
}

/// RFC 8446 §4.6.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionTicket13 {
    pub lifetime: u32,
    pub age_add: u32,
    pub nonce: Vec<u8>,
    pub ticket: Vec<u8>,
}

impl NewSessionTicket13 {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let lifetime = r.u32("ticket_lifetime")?;
        let age_add = r.u32("ticket_age_add")?;
        let nonce = r.vec_u8("ticket_nonce")?.to_vec();
        let ticket = r.vec_u16("ticket")?.to_vec();
        read_extension_block(&mut r)?;
        r.expect_end("NewSessionTicket")?;
        Ok(Self {
            lifetime,
            age_add,
            nonce,
            ticket,
        })
    }
}

/// RFC 8446 §4.6.3: KeyUpdate; true when the peer must update too.
pub fn read_key_update(body: &[u8]) -> Result<bool, CodecError> {
    let mut r = Reader::new(body);
    let v = r.u8("request_update")?;
    r.expect_end("KeyUpdate")?;
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(CodecError::IllegalValue {
            what: "KeyUpdateRequest",
            detail: other.to_string(),
        }),
    }
}

pub fn key_update(request_update: bool) -> HandshakeMessage {
    HandshakeMessage::new(HandshakeType::KeyUpdate, &[u8::from(request_update)])
}

/// RFC 8446 §4.4.1: after a HelloRetryRequest, ClientHello1 enters the transcript as
/// message_hash(254) ‖ 00 00 ‖ Hash.length ‖ Hash(ClientHello1).
pub fn message_hash(hash_of_client_hello1: &[u8]) -> HandshakeMessage {
    HandshakeMessage::new(HandshakeType::MessageHash, hash_of_client_hello1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::enums::{ProtocolVersion, SignatureScheme};

    fn truncations_fail<T: std::fmt::Debug>(
        full: &[u8],
        read: impl Fn(&[u8]) -> Result<T, CodecError>,
    ) {
        for len in 0..full.len() {
            assert!(read(&full[..len]).is_err(), "accepted a {len}-byte prefix");
        }
        let mut long = full.to_vec();
        long.push(0);
        assert!(read(&long).is_err());
    }

    #[test]
    fn round_trips_and_truncations() {
        let ee = EncryptedExtensions {
            extensions: vec![Extension::empty(ExtensionType::ServerName)],
        };
        assert_eq!(EncryptedExtensions::read(ee.encode().body()).unwrap(), ee);
        truncations_fail(ee.encode().body(), EncryptedExtensions::read);

        let c = Certificate13 {
            context: vec![],
            chain: vec![vec![0x30; 50], vec![0x31; 7]],
        };
        assert_eq!(Certificate13::read(c.encode().body()).unwrap(), c);
        truncations_fail(c.encode().body(), Certificate13::read);

        let cv = CertificateVerify {
            scheme: SignatureScheme::RsaPssRsaeSha256.to_wire(),
            signature: vec![9; 256],
        };
        assert_eq!(CertificateVerify::read(cv.encode().body()).unwrap(), cv);
        truncations_fail(cv.encode().body(), CertificateVerify::read);

        let shares = vec![
            KeyShareEntry {
                group: 0x17,
                key_exchange: vec![4; 65],
            },
            KeyShareEntry {
                group: 0x1d,
                key_exchange: vec![1; 32],
            },
        ];
        assert_eq!(
            Extension::key_share_client(&shares)
                .parse_key_share_client()
                .unwrap(),
            shares
        );
        assert_eq!(
            Extension::key_share_server(&shares[0])
                .parse_key_share_server()
                .unwrap(),
            shares[0]
        );
        assert_eq!(
            Extension::supported_versions_client(&[
                ProtocolVersion::Tls13.to_wire(),
                ProtocolVersion::Tls12.to_wire()
            ])
            .parse_supported_versions_client()
            .unwrap(),
            vec![0x0304, 0x0303]
        );
        assert_eq!(
            Extension::supported_versions_server(ProtocolVersion::Tls13.to_wire())
                .parse_supported_versions_server()
                .unwrap(),
            0x0304
        );
        assert!(read_key_update(&[1]).unwrap());
        assert!(read_key_update(&[2]).is_err());
        assert!(read_key_update(&[]).is_err());
    }

    #[test]
    fn signed_content_layout() {
        let m = CertificateVerify::signed_content(true, &[0xaa; 32]);
        assert_eq!(m.len(), 64 + 33 + 1 + 32);
        assert_eq!(&m[64..97], b"TLS 1.3, server CertificateVerify");
        assert_eq!(m[97], 0);
    }
}
