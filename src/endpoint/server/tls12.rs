//! The TLS 1.2 server handshake, one type per state (RFC 5246 §7.3):
//! (the front reads the ClientHello) → ExpectClientKeyExchange → ExpectChangeCipherSpec → ExpectFinished → Traffic.

use std::sync::Arc;

use rand::Rng;

use super::ephemeral::FastP256;
use super::{fast_key, tls12_resume, PaddingOracle, ServerConfig};
use crate::crypto::ffdh::{DhKey, FFDHE2048_CODEPOINT};
use crate::crypto::rng::{random_array, LabRng};
use crate::endpoint::conn::{Context, Message, State, Traffic, Transcript};
use crate::endpoint::require_handshake;
use crate::error::Error;
use crate::keylog::SecretKind;
use crate::msgs::dhe::{DheClientKeyExchange, DheServerKeyExchange};
use crate::msgs::enums::{
    ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, SignatureScheme,
    EC_POINT_FORMAT_UNCOMPRESSED, TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
};
use crate::msgs::handshake::{
    CertificateMsg, ClientHello, EcdheClientKeyExchange, EcdheServerKeyExchange, Extension,
    Finished, RsaClientKeyExchange, ServerHello,
};
use crate::msgs::record::HandshakeMessage;
use crate::pki;
use crate::record_protect::Tls12Protector;
use crate::suites::{KeyExchange, Suite};
use crate::tls12::keys::{derive_master_secret, MasterSecret, Side};
use crate::tls12::{finished_for, protectors};

/// Picks the signature scheme for the ServerKeyExchange from what the client offered
/// (RFC 5246 §7.4.1.4.1: without the extension, {sha1, rsa} is assumed).
fn choose_signature_scheme(hello: &ClientHello) -> Result<Option<u16>, Error> {
    let Some(ext) = hello.extension(ExtensionType::SignatureAlgorithms) else {
        return Ok(Some(SignatureScheme::RsaPkcs1Sha1.to_wire()));
    };
    let offered = ext.parse_u16_list("signature_algorithms")?;
    // RFC 5246 §7.4.1.4.1: supported_signature_algorithms<2..2^16-2> is never empty.
    if offered.is_empty() {
        return Err(Error::Decode("empty signature_algorithms list".into()));
    }
    Ok(pki::RSA_SCHEMES
        .iter()
        .copied()
        .find(|s| offered.contains(s)))
}

fn client_supports_p256(hello: &ClientHello) -> Result<bool, Error> {
    // RFC 8422 §4: without the extensions, the client is assumed to support any curve and
    // the uncompressed format.
    let groups_ok = match hello.extension(ExtensionType::SupportedGroups) {
        Some(ext) => ext
            .parse_u16_list("supported_groups")?
            .contains(&NamedGroup::Secp256r1.to_wire()),
        None => true,
    };
    // RFC 8422 §5.1.2: ec_point_format_list<1..2^8-1>, and it must hold the uncompressed
    // format, or the server aborts with illegal_parameter.
    if let Some(ext) = hello.extension(ExtensionType::EcPointFormats) {
        let formats = ext.parse_u8_list("ec_point_formats")?;
        if formats.is_empty() {
            return Err(Error::Decode("empty ec_point_formats list".into()));
        }
        if !formats.contains(&EC_POINT_FORMAT_UNCOMPRESSED) {
            return Err(Error::IllegalParameter(
                "ec_point_formats without the uncompressed format (RFC 8422 §5.1.2)".into(),
            ));
        }
    }
    Ok(groups_ok)
}

/// RFC 7919 §4: a client that lists any FFDHE group (0x0100..=0x01FF) gets DHE only with a
/// group it listed; a client that lists none accepts any group.
fn client_accepts_our_dh_group(hello: &ClientHello, config: &ServerConfig) -> Result<bool, Error> {
    let Some(ext) = hello.extension(ExtensionType::SupportedGroups) else {
        return Ok(true);
    };
    let groups = ext.parse_u16_list("supported_groups")?;
    if !groups.iter().any(|g| (0x0100..=0x01ff).contains(g)) {
        return Ok(true);
    }
    Ok(config.dh_group.name() == Some("ffdhe2048") && groups.contains(&FFDHE2048_CODEPOINT))
}

/// The server's ephemeral key for this handshake.
enum Ephemeral {
    Ecdhe(FastP256),
    Dhe(Arc<DhKey>),
}

/// Continues a handshake whose ClientHello did not choose TLS 1.3 (RFC 5246 §7.4.1.2).
/// `downgrade_marker` ends the server random when the front could have spoken a later version.
pub(super) fn handle_client_hello(
    config: Arc<ServerConfig>,
    cx: &mut Context,
    msg: HandshakeMessage,
    hello: ClientHello,
    downgrade_marker: Option<[u8; 8]>,
) -> Result<Box<dyn State>, Error> {
    // 1. Version: TLS 1.2 (RFC 5246 Appendix E.1).
    if hello.client_version < ProtocolVersion::Tls12.to_wire() {
        return Err(Error::ProtocolVersion(format!(
            "client offers at most 0x{:04x}; pfslab needs TLS 1.2",
            hello.client_version
        )));
    }
    if !hello.compression_methods.contains(&0) {
        return Err(Error::IllegalParameter(
            "client does not offer null compression".into(),
        ));
    }

    // 2. Secure renegotiation (RFC 5746 §3.6): SCSV or an empty renegotiation_info.
    let reneg_ext = hello.extension(ExtensionType::RenegotiationInfo);
    if let Some(ext) = reneg_ext {
        if !ext.parse_u8_list("renegotiation_info")?.is_empty() {
            return Err(Error::HandshakeFailure(
                "non-empty renegotiation_info on an initial handshake".into(),
            ));
        }
    }
    let secure_reneg = reneg_ext.is_some()
        || hello
            .cipher_suites
            .contains(&TLS_EMPTY_RENEGOTIATION_INFO_SCSV);

    // RFC 7627 §5.1: the extension's extension_data is empty.
    let ems = match hello.extension(ExtensionType::ExtendedMasterSecret) {
        Some(ext) if !ext.data.is_empty() => {
            return Err(Error::Decode(
                "extended_master_secret with a non-empty body".into(),
            ))
        }
        Some(_) => true,
        None => false,
    };
    let server_name = match hello.extension(ExtensionType::ServerName) {
        Some(ext) => ext.parse_server_name()?,
        None => None,
    };

    // 3. Resumption (RFC 5246 §7.3, RFC 5077 §3.4): an earlier session the client may resume
    //    gets the abbreviated handshake; anything wrong with it, a full one.
    let etm_offered = hello.extension(ExtensionType::EncryptThenMac).is_some();
    let resume =
        tls12_resume::find_session(&config, &hello, ems, etm_offered, server_name.as_deref())?;
    if let Some(found) = resume.found {
        return tls12_resume::start_abbreviated(
            cx,
            msg,
            &hello,
            found,
            resume.wants_ticket.then_some(&*config),
            secure_reneg,
            server_name,
            downgrade_marker,
        );
    }

    // 4. Suite, in the server's order of preference.
    let p256_ok = client_supports_p256(&hello)?;
    let dh_ok = client_accepts_our_dh_group(&hello, &config)?;
    let scheme = choose_signature_scheme(&hello)?;
    let suite = config
        .suites
        .iter()
        .copied()
        .find(|s| {
            hello.cipher_suites.contains(&s.id)
                && match s.key_exchange {
                    KeyExchange::Rsa => true,
                    KeyExchange::EcdheRsa => p256_ok && scheme.is_some(),
                    KeyExchange::DheRsa => dh_ok && scheme.is_some(),
                    KeyExchange::Tls13 => false,
                }
        })
        .ok_or_else(|| {
            let offered: Vec<String> = hello
                .cipher_suites
                .iter()
                .map(|s| crate::suites::suite_name(*s))
                .collect();
            let ours: Vec<&str> = config.suites.iter().map(|s| s.name).collect();
            Error::HandshakeFailure(format!(
                "no shared cipher suite: client offered [{}], server allows [{}]",
                offered.join(", "),
                ours.join(", ")
            ))
        })?;
    // RFC 7366 §3: encrypt-then-MAC is answered only when the chosen suite is CBC.
    let etm = suite.cipher.is_cbc() && etm_offered;

    // 5. ServerHello with the extensions we honour.
    let mut server_random: [u8; 32] = random_array(&mut cx.rng);
    if let Some(marker) = downgrade_marker {
        server_random[24..].copy_from_slice(&marker);
    }
    let remember = tls12_resume::Remember::new(&config, cx, resume.wants_ticket);
    let mut extensions = Vec::new();
    if secure_reneg {
        extensions.push(Extension::renegotiation_info(&[]));
    }
    if ems {
        extensions.push(Extension::empty(ExtensionType::ExtendedMasterSecret));
    }
    if etm {
        extensions.push(Extension::empty(ExtensionType::EncryptThenMac));
    }
    if suite.key_exchange == KeyExchange::EcdheRsa
        && hello.extension(ExtensionType::EcPointFormats).is_some()
    {
        extensions.push(Extension::ec_point_formats(&[EC_POINT_FORMAT_UNCOMPRESSED]));
    }
    extensions.extend(remember.extensions());
    let server_hello = ServerHello {
        server_version: ProtocolVersion::Tls12.to_wire(),
        random: server_random,
        session_id: remember.session_id.clone(),
        cipher_suite: suite.id,
        compression_method: 0,
        extensions,
    };
    cx.summary.suite = Some(suite);
    cx.summary.client_random = hello.random;
    cx.summary.server_random = server_random;
    cx.summary.extended_master_secret = ems;
    cx.summary.encrypt_then_mac = etm;
    cx.summary.server_name = server_name;
    cx.summary.secure_renegotiation = secure_reneg;

    let mut transcript = Transcript::default();
    transcript.add(&msg);
    let mut flight: Vec<HandshakeMessage> = vec![
        server_hello.encode(),
        CertificateMsg {
            chain: config.cert_chain.clone(),
        }
        .encode(),
    ];

    // 6. (EC)DHE: an ephemeral key (fresh, unless the server reuses one), its public value signed with the long-term RSA key
    //    over both randoms (RFC 8422 §5.4, RFC 5246 §7.4.3). This signature is all the RSA
    //    key does in an (EC)DHE handshake.
    let ephemeral = match suite.key_exchange {
        KeyExchange::EcdheRsa | KeyExchange::DheRsa => {
            let scheme = scheme.ok_or_else(|| {
                Error::HandshakeFailure("no RSA signature scheme in common".into())
            })?;
            let (ephemeral, signed, mut encode): (
                Ephemeral,
                Vec<u8>,
                Box<dyn FnMut(Vec<u8>) -> HandshakeMessage>,
            ) = if suite.key_exchange == KeyExchange::EcdheRsa {
                let key = FastP256::new(config.ephemerals.ecdhe(&mut cx.rng));
                let mut ske = EcdheServerKeyExchange {
                    named_group: NamedGroup::Secp256r1.to_wire(),
                    public: key.public_sec1(),
                    signature_scheme: scheme,
                    signature: Vec::new(),
                };
                let signed = ske.signed_message(&hello.random, &server_random);
                let encode = Box::new(move |sig| {
                    ske.signature = sig;
                    ske.encode()
                });
                (Ephemeral::Ecdhe(key), signed, encode)
            } else {
                let key = config
                    .ephemerals
                    .dhe(&config.dh_group, &mut cx.rng)
                    .map_err(|e| Error::Internal(format!("DH key generation: {e}")))?;
                let mut ske = DheServerKeyExchange {
                    p: config.dh_group.p().to_vec(),
                    g: config.dh_group.g().to_vec(),
                    server_public: key.public().to_vec(),
                    signature_scheme: scheme,
                    signature: Vec::new(),
                };
                let signed = ske.signed_message(&hello.random, &server_random);
                let encode = Box::new(move |sig| {
                    ske.signature = sig;
                    ske.encode()
                });
                (Ephemeral::Dhe(key), signed, encode)
            };
            let signature = fast_key::sign(&config, scheme, &signed, &mut cx.rng)
                .map_err(|e| Error::Internal(format!("signing ServerKeyExchange: {e}")))?;
            cx.summary.signature_scheme = Some(scheme);
            flight.push(encode(signature));
            Some(ephemeral)
        }
        _ => None,
    };
    flight.push(HandshakeMessage::new(HandshakeType::ServerHelloDone, &[]));
    for m in &flight {
        transcript.add(m);
        cx.send_handshake(m);
    }
    Ok(Box::new(ExpectClientKeyExchange {
        config,
        suite,
        client_version: hello.client_version,
        client_random: hello.random,
        server_random,
        ems,
        ephemeral,
        transcript,
        remember,
    }))
}

struct ExpectClientKeyExchange {
    config: Arc<ServerConfig>,
    suite: Suite,
    client_version: u16,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    ephemeral: Option<Ephemeral>,
    transcript: Transcript,
    remember: tls12_resume::Remember,
}

/// RFC 5246 §7.4.7.1: decrypt the premaster, but on any failure carry on with a random one so
/// the failure is indistinguishable until Finished (Bleichenbacher, ROBOT).
fn rsa_premaster(
    config: &ServerConfig,
    client_version: u16,
    encrypted: &[u8],
    rng: &mut LabRng,
    oracle: PaddingOracle,
) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
    let mut fallback = zeroize::Zeroizing::new(vec![0u8; 48]);
    rng.fill_bytes(&mut fallback);
    // The deliberate oracle (off by default): an early, different alert for one class of
    // paddings — the difference RFC 5246 §7.4.7.1 forbids.
    if oracle.leaks(&config.key, encrypted) {
        return Err(Error::HandshakeFailure(format!(
            "--oracle {oracle:?}: rejected the ClientKeyExchange padding at once (a padding oracle)"
        )));
    }
    let decrypted = fast_key::decrypt_pkcs1(config, encrypted).unwrap_or_default();
    let version = client_version.to_be_bytes();
    let good = decrypted.len() == 48 && decrypted[..2] == version;
    Ok(if good { decrypted } else { fallback })
}

impl State for ExpectClientKeyExchange {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ClientKeyExchange)?;
        let premaster = match (&self.suite.key_exchange, &self.ephemeral) {
            (KeyExchange::Rsa, _) => {
                let cke = RsaClientKeyExchange::read(msg.body())?;
                rsa_premaster(
                    &self.config,
                    self.client_version,
                    &cke.encrypted_premaster,
                    &mut cx.rng,
                    self.config.padding_oracle,
                )?
            }
            (KeyExchange::EcdheRsa, Some(Ephemeral::Ecdhe(ephemeral))) => {
                let cke = EcdheClientKeyExchange::read(msg.body())?;
                ephemeral
                    .agree(&cke.public)
                    .map_err(Error::IllegalParameter)?
            }
            (KeyExchange::DheRsa, Some(Ephemeral::Dhe(ephemeral))) => {
                // RFC 7919 §5.1: 1 < Yc < p−1, else illegal_parameter.
                let cke = DheClientKeyExchange::read(msg.body())?;
                ephemeral
                    .agree(&cke.public)
                    .map_err(|e| Error::IllegalParameter(e.to_string()))?
            }
            _ => return Err(Error::Internal("key exchange state missing".into())),
        };
        let mut transcript = self.transcript;
        transcript.add(&msg);
        let master = derive_master_secret(
            &self.suite,
            &premaster,
            self.ems,
            &self.client_random,
            &self.server_random,
            transcript.bytes(),
        );
        cx.log_secret(SecretKind::ClientRandom, &self.client_random, &master.0[..])?;
        // Both directions' keys from one key block (RFC 5246 §6.3).
        let (client_write, server_write) = protectors(
            &self.suite,
            &master,
            &self.client_random,
            &self.server_random,
            cx.summary.encrypt_then_mac,
        )?;
        Ok(Box::new(ExpectChangeCipherSpec {
            config: self.config,
            suite: self.suite,
            master,
            transcript,
            client_write,
            server_write,
            remember: self.remember,
        }))
    }
}

struct ExpectChangeCipherSpec {
    config: Arc<ServerConfig>,
    suite: Suite,
    master: MasterSecret,
    transcript: Transcript,
    client_write: Tls12Protector,
    server_write: Tls12Protector,
    remember: tls12_resume::Remember,
}

impl State for ExpectChangeCipherSpec {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        match msg {
            Message::ChangeCipherSpec => {
                cx.accept_change_cipher_spec(self.client_write);
                Ok(Box::new(ExpectFinished {
                    config: self.config,
                    suite: self.suite,
                    master: self.master,
                    transcript: self.transcript,
                    server_write: self.server_write,
                    remember: self.remember,
                }))
            }
            other => Err(Error::unexpected("ChangeCipherSpec", other.describe())),
        }
    }
}

struct ExpectFinished {
    config: Arc<ServerConfig>,
    suite: Suite,
    master: MasterSecret,
    transcript: Transcript,
    server_write: Tls12Protector,
    remember: tls12_resume::Remember,
}

impl State for ExpectFinished {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Finished)?;
        let finished = Finished::read(msg.body())?;
        let mut transcript = self.transcript;
        let expected = finished_for(
            &self.suite,
            &self.master,
            Side::Client,
            &transcript.hash(self.suite.hash),
        );
        if !crate::crypto::constant_time_eq(&expected.verify_data, &finished.verify_data) {
            return Err(Error::DecryptError(
                "client Finished does not match (wrong premaster or tampered handshake)".into(),
            ));
        }
        transcript.add(&msg);
        // RFC 5077 §3.3: NewSessionTicket goes after the client's Finished, before our CCS.
        self.remember
            .finish(&self.config, cx, &self.suite, &self.master, &mut transcript);
        cx.send_change_cipher_spec(self.server_write);
        let ours = finished_for(
            &self.suite,
            &self.master,
            Side::Server,
            &transcript.hash(self.suite.hash),
        );
        cx.send_handshake(&ours.encode());
        Ok(Box::new(Traffic))
    }
}
