//! TLS 1.2 handshake message bodies (RFC 5246 §7.4, RFC 8422 §5, RFC 7627, RFC 5746).
//! Each type reads from a `Reader` that must be consumed exactly, and encodes back to bytes.

use crate::codec::{
    put_prefixed, put_u16, put_vec_u16, put_vec_u24, put_vec_u8, CodecError, Reader,
};
use crate::msgs::enums::{ExtensionType, HandshakeType, EC_CURVE_TYPE_NAMED};
use crate::msgs::record::HandshakeMessage;

/// One hello extension, body kept as bytes; typed accessors below parse the ones we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub typ: ExtensionType,
    pub data: Vec<u8>,
}

impl Extension {
    pub fn new(typ: ExtensionType, data: Vec<u8>) -> Self {
        Self { typ, data }
    }

    /// RFC 6066 §3: a host_name entry. IP literals are not sent (RFC 6066 §3).
    pub fn server_name(host: &str) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 2, |list| {
            list.push(0); // host_name
            put_vec_u16(list, host.as_bytes());
        });
        Self::new(ExtensionType::ServerName, data)
    }

    pub fn u16_list(typ: ExtensionType, values: &[u16]) -> Self {
        let mut data = Vec::new();
        put_prefixed(&mut data, 2, |list| {
            values.iter().for_each(|v| put_u16(list, *v))
        });
        Self::new(typ, data)
    }

    pub fn ec_point_formats(formats: &[u8]) -> Self {
        let mut data = Vec::new();
        put_vec_u8(&mut data, formats);
        Self::new(ExtensionType::EcPointFormats, data)
    }

    /// RFC 5746 §3.2: renegotiated_connection, empty on an initial handshake.
    pub fn renegotiation_info(renegotiated_connection: &[u8]) -> Self {
        let mut data = Vec::new();
        put_vec_u8(&mut data, renegotiated_connection);
        Self::new(ExtensionType::RenegotiationInfo, data)
    }

    pub fn empty(typ: ExtensionType) -> Self {
        Self::new(typ, Vec::new())
    }

    pub fn parse_server_name(&self) -> Result<Option<String>, CodecError> {
        let mut r = Reader::new(&self.data);
        let mut list = Reader::new(r.vec_u16("server_name list")?);
        r.expect_end("server_name extension")?;
        // RFC 6066 §3: ServerName server_name_list<1..2^16-1> is never empty.
        if !list.any_left() {
            return Err(CodecError::IllegalValue {
                what: "server_name list",
                detail: "empty".into(),
            });
        }
        let mut host = None;
        while list.any_left() {
            let kind = list.u8("server name type")?;
            let name = list.vec_u16("server name")?;
            if kind == 0 && host.is_none() {
                host = Some(String::from_utf8_lossy(name).into_owned());
            }
        }
        Ok(host)
    }

    pub fn parse_u16_list(&self, what: &'static str) -> Result<Vec<u16>, CodecError> {
        let mut r = Reader::new(&self.data);
        let len = usize::from(r.u16(what)?);
        if len % 2 != 0 {
            return Err(CodecError::IllegalValue {
                what,
                detail: format!("odd list length {len}"),
            });
        }
        let mut list = r.sub(len, what)?;
        r.expect_end(what)?;
        let mut out = Vec::with_capacity(len / 2);
        while list.any_left() {
            out.push(list.u16(what)?);
        }
        Ok(out)
    }

    pub fn parse_u8_list(&self, what: &'static str) -> Result<Vec<u8>, CodecError> {
        let mut r = Reader::new(&self.data);
        let list = r.vec_u8(what)?;
        r.expect_end(what)?;
        Ok(list.to_vec())
    }
}

fn read_extensions(r: &mut Reader<'_>) -> Result<Vec<Extension>, CodecError> {
    // RFC 5246 §7.4.1.2: the extensions block may be absent altogether.
    if !r.any_left() {
        return Ok(Vec::new());
    }
    read_extension_block(r)
}

/// A length-prefixed extension list (RFC 5246 §7.4.1.4, RFC 8446 §4.2).
pub(crate) fn read_extension_block(r: &mut Reader<'_>) -> Result<Vec<Extension>, CodecError> {
    let mut block = Reader::new(r.vec_u16("extensions")?);
    let mut out: Vec<Extension> = Vec::new();
    while block.any_left() {
        let typ = ExtensionType::from_wire(block.u16("extension type")?);
        let data = block.vec_u16("extension data")?.to_vec();
        // RFC 5246 §7.4.1.4: no two extensions of the same type.
        if out.iter().any(|e| e.typ == typ) {
            return Err(CodecError::IllegalValue {
                what: "extensions",
                detail: format!("{typ} appears twice"),
            });
        }
        out.push(Extension { typ, data });
    }
    Ok(out)
}

fn write_extensions(out: &mut Vec<u8>, exts: &[Extension]) {
    if !exts.is_empty() {
        write_extension_block(out, exts);
    }
}

pub(crate) fn write_extension_block(out: &mut Vec<u8>, exts: &[Extension]) {
    put_prefixed(out, 2, |block| {
        for e in exts {
            put_u16(block, e.typ.to_wire());
            put_vec_u16(block, &e.data);
        }
    });
}

pub fn find_extension(exts: &[Extension], typ: ExtensionType) -> Option<&Extension> {
    exts.iter().find(|e| e.typ == typ)
}

/// RFC 5246 §7.4.1.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHello {
    pub client_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    pub compression_methods: Vec<u8>,
    pub extensions: Vec<Extension>,
}

impl ClientHello {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let client_version = r.u16("client_version")?;
        let random = r.array::<32>("client random")?;
        let session_id = r.vec_u8("session_id")?;
        if session_id.len() > 32 {
            return Err(CodecError::IllegalValue {
                what: "session_id",
                detail: format!("{} bytes", session_id.len()),
            });
        }
        let suites = r.vec_u16("cipher_suites")?;
        if suites.len() < 2 || suites.len() % 2 != 0 {
            return Err(CodecError::IllegalValue {
                what: "cipher_suites",
                detail: format!("length {}", suites.len()),
            });
        }
        let cipher_suites = suites
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let compression_methods = r.vec_u8("compression_methods")?.to_vec();
        if compression_methods.is_empty() {
            return Err(CodecError::IllegalValue {
                what: "compression_methods",
                detail: "empty".into(),
            });
        }
        let extensions = read_extensions(&mut r)?;
        r.expect_end("ClientHello")?;
        Ok(Self {
            client_version,
            random,
            session_id: session_id.to_vec(),
            cipher_suites,
            compression_methods,
            extensions,
        })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_u16(&mut b, self.client_version);
        b.extend_from_slice(&self.random);
        put_vec_u8(&mut b, &self.session_id);
        put_prefixed(&mut b, 2, |l| {
            self.cipher_suites.iter().for_each(|s| put_u16(l, *s))
        });
        put_vec_u8(&mut b, &self.compression_methods);
        write_extensions(&mut b, &self.extensions);
        HandshakeMessage::new(HandshakeType::ClientHello, &b)
    }

    pub fn extension(&self, typ: ExtensionType) -> Option<&Extension> {
        find_extension(&self.extensions, typ)
    }
}

/// RFC 5246 §7.4.1.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHello {
    pub server_version: u16,
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    pub compression_method: u8,
    pub extensions: Vec<Extension>,
}

impl ServerHello {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let server_version = r.u16("server_version")?;
        let random = r.array::<32>("server random")?;
        let session_id = r.vec_u8("session_id")?.to_vec();
        if session_id.len() > 32 {
            return Err(CodecError::IllegalValue {
                what: "session_id",
                detail: format!("{} bytes", session_id.len()),
            });
        }
        let cipher_suite = r.u16("cipher_suite")?;
        let compression_method = r.u8("compression_method")?;
        let extensions = read_extensions(&mut r)?;
        r.expect_end("ServerHello")?;
        Ok(Self {
            server_version,
            random,
            session_id,
            cipher_suite,
            compression_method,
            extensions,
        })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_u16(&mut b, self.server_version);
        b.extend_from_slice(&self.random);
        put_vec_u8(&mut b, &self.session_id);
        put_u16(&mut b, self.cipher_suite);
        b.push(self.compression_method);
        write_extensions(&mut b, &self.extensions);
        HandshakeMessage::new(HandshakeType::ServerHello, &b)
    }

    pub fn extension(&self, typ: ExtensionType) -> Option<&Extension> {
        find_extension(&self.extensions, typ)
    }
}

/// RFC 5246 §7.4.2: the chain, leaf first, each a DER certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateMsg {
    pub chain: Vec<Vec<u8>>,
}

impl CertificateMsg {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let mut list = Reader::new(r.vec_u24("certificate_list")?);
        r.expect_end("Certificate")?;
        let mut chain = Vec::new();
        while list.any_left() {
            let cert = list.vec_u24("ASN.1Cert")?;
            if cert.is_empty() {
                return Err(CodecError::IllegalValue {
                    what: "ASN.1Cert",
                    detail: "empty certificate".into(),
                });
            }
            chain.push(cert.to_vec());
        }
        Ok(Self { chain })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_prefixed(&mut b, 3, |l| {
            self.chain.iter().for_each(|c| put_vec_u24(l, c))
        });
        HandshakeMessage::new(HandshakeType::Certificate, &b)
    }
}

/// RFC 8422 §5.4: ServerECDHParams plus the signature over the randoms and params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdheServerKeyExchange {
    pub named_group: u16,
    /// The server's ephemeral public point, uncompressed (0x04 ‖ X ‖ Y).
    pub public: Vec<u8>,
    /// RFC 5246 §7.4.1.4.1 SignatureAndHashAlgorithm, as a TLS 1.3 SignatureScheme value.
    pub signature_scheme: u16,
    pub signature: Vec<u8>,
}

impl EcdheServerKeyExchange {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let curve_type = r.u8("ECCurveType")?;
        if curve_type != EC_CURVE_TYPE_NAMED {
            return Err(CodecError::IllegalValue {
                what: "ECCurveType",
                detail: format!("{curve_type} (only named_curve is allowed)"),
            });
        }
        let named_group = r.u16("named curve")?;
        let public = r.vec_u8("ECPoint")?.to_vec();
        let signature_scheme = r.u16("signature algorithm")?;
        let signature = r.vec_u16("signature")?.to_vec();
        r.expect_end("ServerKeyExchange")?;
        Ok(Self {
            named_group,
            public,
            signature_scheme,
            signature,
        })
    }

    /// The ServerECDHParams bytes the signature covers (after the two randoms).
    pub fn params(&self) -> Vec<u8> {
        ecdhe_params(self.named_group, &self.public)
    }

    /// client_random ‖ server_random ‖ params: what the server's RSA key signs.
    pub fn signed_message(&self, client_random: &[u8; 32], server_random: &[u8; 32]) -> Vec<u8> {
        let mut m = Vec::with_capacity(64 + 4 + self.public.len());
        m.extend_from_slice(client_random);
        m.extend_from_slice(server_random);
        m.extend_from_slice(&self.params());
        m
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = self.params();
        put_u16(&mut b, self.signature_scheme);
        put_vec_u16(&mut b, &self.signature);
        HandshakeMessage::new(HandshakeType::ServerKeyExchange, &b)
    }
}

pub fn ecdhe_params(named_group: u16, public: &[u8]) -> Vec<u8> {
    let mut p = vec![EC_CURVE_TYPE_NAMED];
    put_u16(&mut p, named_group);
    put_vec_u8(&mut p, public);
    p
}

/// RFC 5246 §7.4.7.1: the RSA-encrypted premaster secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaClientKeyExchange {
    pub encrypted_premaster: Vec<u8>,
}

impl RsaClientKeyExchange {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let encrypted_premaster = r.vec_u16("EncryptedPreMasterSecret")?.to_vec();
        r.expect_end("ClientKeyExchange")?;
        Ok(Self {
            encrypted_premaster,
        })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_vec_u16(&mut b, &self.encrypted_premaster);
        HandshakeMessage::new(HandshakeType::ClientKeyExchange, &b)
    }
}

/// RFC 8422 §5.7: the client's ephemeral public point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdheClientKeyExchange {
    pub public: Vec<u8>,
}

impl EcdheClientKeyExchange {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let public = r.vec_u8("ECPoint")?.to_vec();
        r.expect_end("ClientKeyExchange")?;
        Ok(Self { public })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = Vec::new();
        put_vec_u8(&mut b, &self.public);
        HandshakeMessage::new(HandshakeType::ClientKeyExchange, &b)
    }
}

/// RFC 5246 §7.4.9: verify_data, 12 bytes for every suite here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub verify_data: Vec<u8>,
}

impl Finished {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        if body.len() != 12 {
            return Err(CodecError::IllegalValue {
                what: "Finished",
                detail: format!("verify_data of {} bytes, expected 12", body.len()),
            });
        }
        Ok(Self {
            verify_data: body.to_vec(),
        })
    }

    pub fn encode(&self) -> HandshakeMessage {
        HandshakeMessage::new(HandshakeType::Finished, &self.verify_data)
    }
}

/// RFC 5077 §3.3: a TLS 1.2 session ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSessionTicket12 {
    pub lifetime_hint: u32,
    pub ticket: Vec<u8>,
}

impl NewSessionTicket12 {
    pub fn read(body: &[u8]) -> Result<Self, CodecError> {
        let mut r = Reader::new(body);
        let lifetime_hint = r.u32("ticket_lifetime_hint")?;
        let ticket = r.vec_u16("ticket")?.to_vec();
        r.expect_end("NewSessionTicket")?;
        Ok(Self {
            lifetime_hint,
            ticket,
        })
    }

    pub fn encode(&self) -> HandshakeMessage {
        let mut b = self.lifetime_hint.to_be_bytes().to_vec();
        put_vec_u16(&mut b, &self.ticket);
        HandshakeMessage::new(HandshakeType::NewSessionTicket, &b)
    }
}

/// RFC 5246 §7.4.4 CertificateRequest: certificate types, signature algorithms and CA names,
/// checked for shape only (pfslab has no client certificate to offer).
pub fn read_certificate_request(body: &[u8]) -> Result<(), CodecError> {
    let mut r = Reader::new(body);
    r.vec_u8("certificate_types")?;
    r.vec_u16("supported_signature_algorithms")?;
    r.vec_u16("certificate_authorities")?;
    r.expect_end("CertificateRequest")
}

/// Checks that a body is empty (ServerHelloDone, RFC 5246 §7.4.5).
pub fn read_empty(body: &[u8], what: &'static str) -> Result<(), CodecError> {
    Reader::new(body).expect_end(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msgs::enums::{NamedGroup, ProtocolVersion, SignatureScheme};

    fn sample_client_hello() -> ClientHello {
        ClientHello {
            client_version: ProtocolVersion::Tls12.to_wire(),
            random: [0x11; 32],
            session_id: vec![],
            cipher_suites: vec![0x009c, 0x00ff],
            compression_methods: vec![0],
            extensions: vec![
                Extension::server_name("localhost"),
                Extension::u16_list(
                    ExtensionType::SupportedGroups,
                    &[NamedGroup::Secp256r1.to_wire()],
                ),
                Extension::ec_point_formats(&[0]),
                Extension::u16_list(
                    ExtensionType::SignatureAlgorithms,
                    &[
                        SignatureScheme::RsaPkcs1Sha256.to_wire(),
                        SignatureScheme::RsaPssRsaeSha256.to_wire(),
                    ],
                ),
                Extension::empty(ExtensionType::ExtendedMasterSecret),
                Extension::renegotiation_info(&[]),
            ],
        }
    }

    fn sample_server_hello() -> ServerHello {
        ServerHello {
            server_version: ProtocolVersion::Tls12.to_wire(),
            random: [0x22; 32],
            session_id: vec![5; 32],
            cipher_suite: 0xc02f,
            compression_method: 0,
            extensions: vec![
                Extension::renegotiation_info(&[]),
                Extension::empty(ExtensionType::ExtendedMasterSecret),
            ],
        }
    }

    fn sample_ske() -> EcdheServerKeyExchange {
        let mut public = vec![4];
        public.extend([0x33; 64]);
        EcdheServerKeyExchange {
            named_group: 0x17,
            public,
            signature_scheme: SignatureScheme::RsaPkcs1Sha256.to_wire(),
            signature: vec![0x44; 256],
        }
    }

    /// Every encoding, cut at every shorter length, must fail cleanly.
    fn assert_truncations_fail<T: std::fmt::Debug>(
        full: &[u8],
        read: impl Fn(&[u8]) -> Result<T, CodecError>,
    ) {
        for len in 0..full.len() {
            assert!(
                read(&full[..len]).is_err(),
                "accepted a {len}-byte prefix of {} bytes",
                full.len()
            );
        }
        let mut long = full.to_vec();
        long.push(0);
        assert!(read(&long).is_err(), "accepted a trailing byte");
    }

    #[test]
    fn client_hello_round_trip_and_truncation() {
        let ch = sample_client_hello();
        let msg = ch.encode();
        assert_eq!(ClientHello::read(msg.body()).unwrap(), ch);
        assert_eq!(
            ch.extension(ExtensionType::ServerName)
                .unwrap()
                .parse_server_name()
                .unwrap()
                .as_deref(),
            Some("localhost")
        );
        assert_eq!(
            ch.extension(ExtensionType::SignatureAlgorithms)
                .unwrap()
                .parse_u16_list("sig")
                .unwrap(),
            vec![0x0401, 0x0804]
        );
        // A prefix ending exactly where the extensions block starts is a valid, extension-less hello.
        let body = msg.body();
        let no_ext_len = 2 + 32 + 1 + 2 + 4 + 1 + 1;
        for len in 0..body.len() {
            if len != no_ext_len {
                assert!(
                    ClientHello::read(&body[..len]).is_err(),
                    "accepted prefix {len}"
                );
            }
        }
        assert!(ClientHello::read(&body[..no_ext_len])
            .unwrap()
            .extensions
            .is_empty());
    }

    #[test]
    fn server_hello_round_trip_and_truncation() {
        let sh = sample_server_hello();
        let msg = sh.encode();
        assert_eq!(ServerHello::read(msg.body()).unwrap(), sh);
        let body = msg.body();
        let no_ext_len = 2 + 32 + 1 + 32 + 2 + 1;
        for len in 0..body.len() {
            if len != no_ext_len {
                assert!(
                    ServerHello::read(&body[..len]).is_err(),
                    "accepted prefix {len}"
                );
            }
        }
    }

    #[test]
    fn duplicate_extension_rejected() {
        let mut ch = sample_client_hello();
        ch.extensions
            .push(Extension::empty(ExtensionType::ExtendedMasterSecret));
        assert!(ClientHello::read(ch.encode().body()).is_err());
    }

    #[test]
    fn certificate_round_trip_and_truncation() {
        let c = CertificateMsg {
            chain: vec![vec![0x30; 40], vec![0x31; 3]],
        };
        let msg = c.encode();
        assert_eq!(CertificateMsg::read(msg.body()).unwrap(), c);
        assert_truncations_fail(msg.body(), CertificateMsg::read);
    }

    #[test]
    fn server_key_exchange_round_trip_and_truncation() {
        let ske = sample_ske();
        let msg = ske.encode();
        assert_eq!(EcdheServerKeyExchange::read(msg.body()).unwrap(), ske);
        assert_truncations_fail(msg.body(), EcdheServerKeyExchange::read);
        let signed = ske.signed_message(&[1; 32], &[2; 32]);
        assert_eq!(&signed[64..68], &[3, 0, 0x17, 65]);
    }

    #[test]
    fn client_key_exchange_round_trips_and_truncation() {
        let rsa = RsaClientKeyExchange {
            encrypted_premaster: vec![9; 256],
        };
        assert_eq!(
            RsaClientKeyExchange::read(rsa.encode().body()).unwrap(),
            rsa
        );
        assert_truncations_fail(rsa.encode().body(), RsaClientKeyExchange::read);
        let ec = EcdheClientKeyExchange {
            public: vec![4; 65],
        };
        assert_eq!(
            EcdheClientKeyExchange::read(ec.encode().body()).unwrap(),
            ec
        );
        assert_truncations_fail(ec.encode().body(), EcdheClientKeyExchange::read);
    }

    #[test]
    fn finished_and_ticket_round_trip() {
        let f = Finished {
            verify_data: vec![7; 12],
        };
        assert_eq!(Finished::read(f.encode().body()).unwrap(), f);
        assert_truncations_fail(f.encode().body(), Finished::read);
        let t = NewSessionTicket12 {
            lifetime_hint: 300,
            ticket: vec![1, 2, 3],
        };
        assert_eq!(NewSessionTicket12::read(t.encode().body()).unwrap(), t);
        assert_truncations_fail(t.encode().body(), NewSessionTicket12::read);
    }
}
