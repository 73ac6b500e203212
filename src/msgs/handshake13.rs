//! TLS 1.3 handshake bodies and extensions (RFC 8446 §4).

use crate::codec::{
    put_prefixed, put_u16, put_vec_u16, put_vec_u24, put_vec_u8, CodecError, Reader,
};
use crate::msgs::enums::{ExtensionType, HandshakeType, PskKeyExchangeMode};
use crate::msgs::handshake::{read_extension_block, write_extension_block, ClientHello, Extension};
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

/// One PskIdentity of a ClientHello pre_shared_key (RFC 8446 §4.2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PskIdentity {
    pub identity: Vec<u8>,
    pub obfuscated_ticket_age: u32,
}

/// OfferedPsks: identities and their binders, in the same order (RFC 8446 §4.2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedPsks {
    pub identities: Vec<PskIdentity>,
    pub binders: Vec<Vec<u8>>,
}

impl OfferedPsks {
    /// The length of the encoded binders list with its 2-byte prefix: the bytes that come
    /// after the truncated ClientHello (§4.2.11.2).
    pub fn binders_len(&self) -> usize {
        2 + self.binders.iter().map(|b| 1 + b.len()).sum::<usize>()
    }
}

impl Extension {
    /// psk_key_exchange_modes: ke_modes<1..255> (RFC 8446 §4.2.9).
    pub fn psk_key_exchange_modes(modes: &[PskKeyExchangeMode]) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 1, |l| {
            modes.iter().for_each(|m| l.push(m.to_wire()))
        });
        Self::new(ExtensionType::PskKeyExchangeModes, data)
    }

    pub fn parse_psk_key_exchange_modes(&self) -> Result<Vec<PskKeyExchangeMode>, CodecError> {
        let mut r = Reader::new(&self.data);
        let list = r.vec_u8("ke_modes")?;
        r.expect_end("psk_key_exchange_modes")?;
        if list.is_empty() {
            return Err(CodecError::IllegalValue {
                what: "ke_modes",
                detail: "empty".into(),
            });
        }
        Ok(list
            .iter()
            .map(|m| PskKeyExchangeMode::from_wire(*m))
            .collect())
    }

    /// ClientHello pre_shared_key: identities<7..2^16-1>, binders<33..2^16-1> (§4.2.11).
    pub fn pre_shared_key_client(offer: &OfferedPsks) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 2, |l| {
            for id in &offer.identities {
                put_vec_u16(l, &id.identity);
                l.extend_from_slice(&id.obfuscated_ticket_age.to_be_bytes());
            }
        });
        put_prefixed(&mut data, 2, |l| {
            offer.binders.iter().for_each(|b| put_vec_u8(l, b))
        });
        Self::new(ExtensionType::PreSharedKey, data)
    }

    pub fn parse_pre_shared_key_client(&self) -> Result<OfferedPsks, CodecError> {
        let mut r = Reader::new(&self.data);
        let mut ids = Reader::new(r.vec_u16("identities")?);
        let mut binder_list = Reader::new(r.vec_u16("binders")?);
        r.expect_end("pre_shared_key")?;
        let mut identities = Vec::new();
        while ids.any_left() {
            let identity = ids.vec_u16("identity")?.to_vec();
            let obfuscated_ticket_age = ids.u32("obfuscated_ticket_age")?;
            if identity.is_empty() {
                return Err(CodecError::IllegalValue {
                    what: "identity",
                    detail: "empty".into(),
                });
            }
            identities.push(PskIdentity {
                identity,
                obfuscated_ticket_age,
            });
        }
        let mut binders = Vec::new();
        while binder_list.any_left() {
            let b = binder_list.vec_u8("PskBinderEntry")?;
            if b.len() < 32 {
                return Err(CodecError::IllegalValue {
                    what: "PskBinderEntry",
                    detail: format!("{} bytes", b.len()),
                });
            }
            binders.push(b.to_vec());
        }
        if identities.is_empty() || binders.is_empty() {
            return Err(CodecError::IllegalValue {
                what: "pre_shared_key",
                detail: "no identities or no binders".into(),
            });
        }
        Ok(OfferedPsks {
            identities,
            binders,
        })
    }

    /// ServerHello pre_shared_key: selected_identity.
    pub fn pre_shared_key_server(selected_identity: u16) -> Self {
        Self::new(
            ExtensionType::PreSharedKey,
            selected_identity.to_be_bytes().to_vec(),
        )
    }

    pub fn parse_pre_shared_key_server(&self) -> Result<u16, CodecError> {
        let mut r = Reader::new(&self.data);
        let v = r.u16("selected_identity")?;
        r.expect_end("pre_shared_key")?;
        Ok(v)
    }
}

/// The ClientHello message (header included) up to, not including, the binders list: the
/// input of the binder's transcript hash (RFC 8446 §4.2.11.2). The pre_shared_key extension
/// must be the last one (§4.2.11); the binders are then the message's last bytes.
pub fn client_hello_without_binders(encoded: &[u8]) -> Result<&[u8], CodecError> {
    let body = encoded.get(4..).ok_or(CodecError::Truncated {
        what: "ClientHello",
        needed: 4,
        available: encoded.len(),
    })?;
    let hello = ClientHello::read(body)?;
    let last = hello.extensions.last().ok_or(CodecError::IllegalValue {
        what: "pre_shared_key",
        detail: "absent".into(),
    })?;
    if last.typ != ExtensionType::PreSharedKey {
        return Err(CodecError::IllegalValue {
            what: "pre_shared_key",
            detail: "not the last extension".into(),
        });
    }
    let offer = last.parse_pre_shared_key_client()?;
    let cut = encoded
        .len()
        .checked_sub(offer.binders_len())
        .ok_or(CodecError::IllegalValue {
            what: "binders",
            detail: "longer than the ClientHello".into(),
        })?;
    encoded.get(..cut).ok_or(CodecError::IllegalValue {
        what: "binders",
        detail: "longer than the ClientHello".into(),
    })
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

    /// With no extensions (we never allow early data, RFC 8446 §4.6.1).
    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        b.extend_from_slice(&self.lifetime.to_be_bytes());
        b.extend_from_slice(&self.age_add.to_be_bytes());
        put_vec_u8(&mut b, &self.nonce);
        put_vec_u16(&mut b, &self.ticket);
        write_extension_block(&mut b, &[]);
        HandshakeMessage::new(HandshakeType::NewSessionTicket, &b)
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
    fn psk_extensions_round_trip_and_truncations() {
        let modes = vec![PskKeyExchangeMode::PskKe, PskKeyExchangeMode::PskDheKe];
        let e = Extension::psk_key_exchange_modes(&modes);
        assert_eq!(e.data, vec![2, 0, 1]);
        assert_eq!(e.parse_psk_key_exchange_modes().unwrap(), modes);
        truncations_fail(&e.data, |d| {
            Extension::new(ExtensionType::PskKeyExchangeModes, d.to_vec())
                .parse_psk_key_exchange_modes()
        });

        let offer = OfferedPsks {
            identities: vec![
                PskIdentity {
                    identity: vec![7; 40],
                    obfuscated_ticket_age: 0x0102_0304,
                },
                PskIdentity {
                    identity: vec![8],
                    obfuscated_ticket_age: 5,
                },
            ],
            binders: vec![vec![0xaa; 32], vec![0xbb; 48]],
        };
        let e = Extension::pre_shared_key_client(&offer);
        assert_eq!(e.parse_pre_shared_key_client().unwrap(), offer);
        assert_eq!(offer.binders_len(), 2 + 33 + 49);
        truncations_fail(&e.data, |d| {
            Extension::new(ExtensionType::PreSharedKey, d.to_vec()).parse_pre_shared_key_client()
        });
        // A 31-byte binder and an empty identity list are illegal.
        let short = OfferedPsks {
            identities: offer.identities.clone(),
            binders: vec![vec![0; 31]],
        };
        assert!(Extension::pre_shared_key_client(&short)
            .parse_pre_shared_key_client()
            .is_err());
        let none = OfferedPsks {
            identities: vec![],
            binders: vec![vec![0; 32]],
        };
        assert!(Extension::pre_shared_key_client(&none)
            .parse_pre_shared_key_client()
            .is_err());

        let e = Extension::pre_shared_key_server(3);
        assert_eq!(e.parse_pre_shared_key_server().unwrap(), 3);
        truncations_fail(&e.data, |d| {
            Extension::new(ExtensionType::PreSharedKey, d.to_vec()).parse_pre_shared_key_server()
        });
    }

    /// RFC 8448 §3: the NewSessionTicket (its early_data extension dropped: we never send one).
    #[test]
    fn new_session_ticket_round_trip_and_truncations() {
        let nst = NewSessionTicket13 {
            lifetime: 30,
            age_add: 0xfad6_aac5,
            nonce: vec![0, 0],
            ticket: vec![0x2c; 178],
        };
        let m = nst.encode();
        assert_eq!(
            &m.encoded[..16],
            &[4, 0, 0, 193, 0, 0, 0, 0x1e, 0xfa, 0xd6, 0xaa, 0xc5, 2, 0, 0, 0][..]
        );
        assert_eq!(NewSessionTicket13::read(m.body()).unwrap(), nst);
        truncations_fail(m.body(), NewSessionTicket13::read);
    }

    /// RFC 8448 §4: the resumed ClientHello's binder list is its last 35 bytes (00 21 20 ‖
    /// 32-byte binder), so the 477-octet prefix is what the binder hashes.
    #[test]
    fn client_hello_truncated_before_binders() {
        use crate::msgs::enums::NamedGroup;
        let offer = OfferedPsks {
            identities: vec![PskIdentity {
                identity: vec![0x2c; 178],
                obfuscated_ticket_age: 0,
            }],
            binders: vec![vec![0x3a; 32]],
        };
        let hello = ClientHello {
            client_version: 0x0303,
            random: [1; 32],
            session_id: vec![],
            cipher_suites: vec![0x1301],
            compression_methods: vec![0],
            extensions: vec![
                Extension::u16_list(
                    ExtensionType::SupportedGroups,
                    &[NamedGroup::X25519.to_wire()],
                ),
                Extension::psk_key_exchange_modes(&[PskKeyExchangeMode::PskDheKe]),
                Extension::pre_shared_key_client(&offer),
            ],
        };
        let full = hello.encode().encoded;
        let prefix = client_hello_without_binders(&full).unwrap();
        assert_eq!(prefix.len(), full.len() - 35);
        assert_eq!(&full[prefix.len()..prefix.len() + 3], &[0x00, 0x21, 0x20]);

        // Not last → refused; no pre_shared_key → refused; every truncation → refused.
        let mut swapped = hello.clone();
        swapped.extensions.swap(1, 2);
        assert!(client_hello_without_binders(&swapped.encode().encoded).is_err());
        let mut without = hello.clone();
        without.extensions.pop();
        assert!(client_hello_without_binders(&without.encode().encoded).is_err());
        for len in 0..full.len() {
            assert!(client_hello_without_binders(&full[..len]).is_err());
        }
    }

    /// RFC 8448 §4: the resumed ClientHello (512 octets); its 477-octet prefix hashes to the
    /// binder hash 63 22 4b 2e … and its binder is 3a dd 4f b2 ….
    const RFC8448_RESUMED_CLIENT_HELLO: [&str; 12] = [
        "010001fc03031bc3ceb6bbe39cff938355b5a50adb6db21b7a6af649d7b4bc419d7876487d95000006130113",
        "031302010001cd0000000b0009000006736572766572ff01000100000a00140012001d001700180019010001",
        "01010201030104003300260024001d0020e4ffb68ac05f8d96c99da26698346c6be16482badddafe051a66b4",
        "f18d668f0b002a0000002b0003020304000d0020001e04030503060302030804080508060401050106010201",
        "0402050206020202002d00020101001c00024001001500570000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000002900dd00b800b22c035d829359ee5ff7af4ec900",
        "000000262a6494dc486d2c8a34cb33fa90bf1b0070ad3c498883c9367c09a2be785abc55cd226097a3a98211",
        "7283f82a03a143efd3ff5dd36d64e861be7fd61d2827db279cce145077d454a3664d4e6da4d29ee03725a6a4",
        "dafcd0fc67d2aea70529513e3da2677fa5906c5b3f7d8f92f228bda40dda721470f9fbf297b5aea617646fac",
        "5c03272e970727c621a79141ef5f7de6505e5bfbc388e93343694093934ae4d357fad6aacb0021203add4fb2",
        "d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d",
    ];

    #[test]
    fn rfc8448_resumed_client_hello() {
        let full = crate::codec::unhex(&RFC8448_RESUMED_CLIENT_HELLO.concat()).unwrap();
        assert_eq!(full.len(), 512);
        let prefix = client_hello_without_binders(&full).unwrap();
        assert_eq!(prefix.len(), 477);
        assert_eq!(
            crate::crypto::HashAlg::Sha256.digest(prefix),
            crate::codec::unhex("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14")
                .unwrap()
        );
        let hello = ClientHello::read(&full[4..]).unwrap();
        let offer = hello
            .extension(ExtensionType::PreSharedKey)
            .unwrap()
            .parse_pre_shared_key_client()
            .unwrap();
        assert_eq!(offer.identities.len(), 1);
        assert_eq!(offer.identities[0].identity.len(), 178);
        assert_eq!(offer.identities[0].obfuscated_ticket_age, 0xfad6_aacb);
        assert_eq!(&offer.binders[0][..4], &[0x3a, 0xdd, 0x4f, 0xb2]);
        assert_eq!(
            hello
                .extension(ExtensionType::PskKeyExchangeModes)
                .unwrap()
                .parse_psk_key_exchange_modes()
                .unwrap(),
            vec![PskKeyExchangeMode::PskDheKe]
        );
    }

    #[test]
    fn signed_content_layout() {
        let m = CertificateVerify::signed_content(true, &[0xaa; 32]);
        assert_eq!(m.len(), 64 + 33 + 1 + 32);
        assert_eq!(&m[64..97], b"TLS 1.3, server CertificateVerify");
        assert_eq!(m[97], 0);
    }
}
