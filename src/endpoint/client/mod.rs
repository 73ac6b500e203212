//! The client handshake's front (rustls' `client/hs.rs` shape): write the ClientHello, read the
//! ServerHello, choose the version, and hand off to [`tls13`] (RFC 8446) or [`tls12`] (RFC 5246).

mod tls12;
mod tls12_resume;
mod tls13;

use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

use crate::crypto::kx::{ClientShare, KxGroup};
use crate::crypto::rng::{random_array, LabRng};
use crate::endpoint::conn::{Connection, Context, Message, State, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::session::{ClientSession, Clock};
use crate::error::Error;
use crate::keylog::KeyLogWriter;
use crate::msgs::enums::{
    ExtensionType, HandshakeType, NamedGroup, ProtocolVersion, PskKeyExchangeMode,
    EC_POINT_FORMAT_UNCOMPRESSED, TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
};
use crate::msgs::handshake::{ClientHello, Extension, ServerHello};
use crate::msgs::handshake13::{KeyShareEntry, DOWNGRADE_TLS12, HELLO_RETRY_REQUEST_RANDOM};
use crate::pki;
use crate::standin::{DlogGroup, EphemeralLog, EphemeralSecret};
use crate::suites::{KeyExchange, Suite};

/// How the client decides to trust the server's certificate.
#[derive(Clone)]
pub enum ServerVerification {
    /// Accept any certificate (the ServerKeyExchange signature is still checked against it).
    Insecure,
    /// The leaf must be this certificate or be signed by it, and name `server_name`.
    TrustAnchor(Vec<u8>),
}

pub struct ClientConfig {
    /// Offered, in order.
    pub suites: Vec<Suite>,
    /// Sent as SNI when it is a DNS name, and checked against the certificate.
    pub server_name: String,
    pub verification: ServerVerification,
    /// Offer extended_master_secret (RFC 7627).
    pub offer_ems: bool,
    /// Offer encrypt_then_mac (RFC 7366) when a CBC suite is offered.
    pub offer_etm: bool,
    pub keylog: Option<Arc<KeyLogWriter>>,
    /// The smallest DH prime accepted from a DHE server, in bits (default 2048).
    pub dh_min_bits: usize,
    /// Resuming a session and keeping the next one (off by default).
    pub resumption: ClientResumption,
    /// The group of the TLS 1.3 key share sent first (P-256 by default).
    pub tls13_group: KxGroup,
    /// Receives every classical ephemeral private key this client generates (the lab's
    /// discrete-log stand-in, [`crate::standin`]); `None` outside `record`.
    pub ephemeral_log: Option<Arc<dyn EphemeralLog>>,
}

/// The TLS 1.3 supported_groups: the key share's group first, then the others in the lab's
/// order of preference.
fn supported_groups13(first: KxGroup) -> Vec<u16> {
    std::iter::once(first)
        .chain(KxGroup::PREFERENCE.into_iter().filter(|g| *g != first))
        .map(KxGroup::codepoint)
        .collect()
}

/// Reports a TLS 1.3 key share's classical half to the stand-in log (never the ML-KEM key).
pub(crate) fn log_share(config: &ClientConfig, client_random: &[u8; 32], share: &ClientShare) {
    if config.ephemeral_log.is_some() {
        let (group, public, private) = share.classical();
        log_ephemeral(config, client_random, group, &public, private);
    }
}

/// Reports one classical ephemeral key to the config's stand-in log, if there is one.
pub(crate) fn log_ephemeral(
    config: &ClientConfig,
    client_random: &[u8; 32],
    group: DlogGroup,
    public: &[u8],
    private: Zeroizing<Vec<u8>>,
) {
    if let Some(log) = &config.ephemeral_log {
        log.log(EphemeralSecret {
            client_random: *client_random,
            group,
            public: public.to_vec(),
            private,
        });
    }
}

/// What the client offers to resume, and whether it asks for something to resume later.
#[derive(Clone, Debug)]
pub struct ClientResumption {
    /// The session to resume (TLS 1.2: ticket or session ID; TLS 1.3: PSK).
    pub session: Option<ClientSession>,
    /// Ask for a TLS 1.2 ticket (an empty session_ticket extension, RFC 5077 §3.2).
    pub request_tickets: bool,
    /// TLS 1.3 psk_key_exchange_modes to offer (RFC 8446 §4.2.9); psk_dhe_ke by default.
    pub psk_modes: Vec<PskKeyExchangeMode>,
    /// Ticket ages (fixed for seeded runs).
    pub clock: Clock,
}

impl Default for ClientResumption {
    fn default() -> Self {
        Self {
            session: None,
            request_tickets: false,
            psk_modes: vec![PskKeyExchangeMode::PskDheKe],
            clock: Clock::System,
        }
    }
}

/// A client connection whose ClientHello is already queued for sending.
pub fn client_connection(config: Arc<ClientConfig>, rng: LabRng) -> Result<Connection, Error> {
    let keylog = config.keylog.clone();
    Connection::new(rng, keylog, |cx| {
        let random: [u8; 32] = random_array(&mut cx.rng);
        let offers_tls13 = config
            .suites
            .iter()
            .any(|s| s.key_exchange == KeyExchange::Tls13);
        let offers_tls12 = config
            .suites
            .iter()
            .any(|s| s.key_exchange != KeyExchange::Tls13);
        let mut cipher_suites: Vec<u16> = config.suites.iter().map(|s| s.id).collect();
        if offers_tls12 {
            cipher_suites.push(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
        }
        let mut extensions = Vec::new();
        // RFC 6066 §3: literal IP addresses are not sent as SNI.
        if config.server_name.parse::<std::net::IpAddr>().is_err() && !config.server_name.is_empty()
        {
            extensions.push(Extension::server_name(&config.server_name));
        }
        let offers_ec = config
            .suites
            .iter()
            .any(|s| matches!(s.key_exchange, KeyExchange::EcdheRsa | KeyExchange::Tls13));
        let offers_dhe = config
            .suites
            .iter()
            .any(|s| s.key_exchange == KeyExchange::DheRsa);
        // RFC 7919 §3: a client offering DHE suites lists the FFDHE groups it accepts. A TLS
        // 1.3 hello with an X25519 or hybrid share lists all three groups, its share's first
        // (RFC 8446 §4.2.7), so a server may retry in another; the default P-256 hello lists
        // P-256 alone, byte for byte what it always was.
        let mut groups = Vec::new();
        if offers_tls13 && config.tls13_group != KxGroup::P256 {
            groups.extend(supported_groups13(config.tls13_group));
        } else if offers_ec {
            groups.push(NamedGroup::Secp256r1.to_wire());
        }
        if offers_dhe {
            groups.push(crate::crypto::ffdh::FFDHE2048_CODEPOINT);
        }
        if !groups.is_empty() {
            extensions.push(Extension::u16_list(ExtensionType::SupportedGroups, &groups));
        }
        if offers_ec {
            extensions.push(Extension::ec_point_formats(&[EC_POINT_FORMAT_UNCOMPRESSED]));
        }
        extensions.push(Extension::u16_list(
            ExtensionType::SignatureAlgorithms,
            pki::RSA_SCHEMES,
        ));
        if config.offer_ems && offers_tls12 {
            extensions.push(Extension::empty(ExtensionType::ExtendedMasterSecret));
        }
        // RFC 7366 §2: only a hello offering a CBC suite asks for encrypt-then-MAC, so the
        // AEAD-only hellos stay as they were.
        if config.offer_etm && config.suites.iter().any(|s| s.cipher.is_cbc()) {
            extensions.push(Extension::empty(ExtensionType::EncryptThenMac));
        }
        // TLS 1.2 resumption and tickets (RFC 5077 §3.1–3.2, RFC 5246 §7.4.1.2).
        let offer12 = tls12::offer_resumption(&config, cx, &mut extensions, offers_tls12);
        // TLS 1.3 (RFC 8446 §4.1.2): supported_versions, a key share in the configured group
        // (P-256 unless asked), and a legacy session ID so middleboxes see a
        // resumption-looking hello (§D.4).
        let mut session_id = Vec::new();
        let mut key = None;
        if offers_tls13 {
            let versions: &[u16] = if offers_tls12 {
                &[
                    ProtocolVersion::Tls13.to_wire(),
                    ProtocolVersion::Tls12.to_wire(),
                ]
            } else {
                &[ProtocolVersion::Tls13.to_wire()]
            };
            extensions.push(Extension::supported_versions_client(versions));
            let k = ClientShare::generate(config.tls13_group, &mut cx.rng);
            log_share(&config, &random, &k);
            extensions.push(Extension::key_share_client(&[KeyShareEntry {
                group: k.group().codepoint(),
                key_exchange: k.public(),
            }]));
            key = Some(k);
            session_id = random_array::<32>(&mut cx.rng).to_vec();
        }
        // RFC 8446 §4.1.2: a session ID from a TLS 1.2 server replaces the random one.
        if let Some(o) = offer12.as_ref().filter(|o| !o.session_id.is_empty()) {
            session_id = o.session_id.clone();
        }
        let mut hello = ClientHello {
            client_version: ProtocolVersion::Tls12.to_wire(),
            random,
            session_id,
            cipher_suites,
            compression_methods: vec![0],
            extensions,
        };
        // RFC 8446 §4.2.11: a saved TLS 1.3 session adds its PSK, the last extension.
        let (msg, psk) = tls13::encode_client_hello(&config, &mut hello, offers_tls13);
        cx.send_handshake(&msg);
        cx.summary.client_random = random;
        let mut transcript = Transcript::default();
        transcript.add(&msg);
        Ok(Box::new(ExpectServerHello {
            config,
            hello,
            transcript,
            key,
            psk,
            offers_tls12,
            offer12,
        }))
    })
}

/// The ClientHello is sent; the ServerHello decides the version.
struct ExpectServerHello {
    config: Arc<ClientConfig>,
    hello: ClientHello,
    transcript: Transcript,
    /// The key share, when TLS 1.3 was offered.
    key: Option<ClientShare>,
    /// The PSK offered with TLS 1.3, when resuming.
    psk: Option<tls13::PskOffer>,
    offers_tls12: bool,
    /// TLS 1.2 resumption offered in the hello.
    offer12: Option<tls12::Offer12>,
}

impl State for ExpectServerHello {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerHello)?;
        let sh = ServerHello::read(msg.body())?;
        let Some(key) = self.key else {
            return tls12::handle_server_hello(
                self.config,
                &self.hello,
                self.transcript,
                cx,
                msg,
                sh,
                self.offer12,
            );
        };
        let version = match sh.extension(ExtensionType::SupportedVersions) {
            Some(ext) => ext.parse_supported_versions_server()?,
            None => sh.server_version,
        };
        if version == ProtocolVersion::Tls13.to_wire() && sh.random == HELLO_RETRY_REQUEST_RANDOM {
            return tls13::handle_hello_retry_request(
                self.config,
                self.hello,
                self.transcript,
                tls13::Offer13 { key, psk: self.psk },
                cx,
                msg,
                sh,
            );
        }
        if version == ProtocolVersion::Tls13.to_wire() {
            return tls13::handle_server_hello(
                self.config,
                &self.hello,
                self.transcript,
                tls13::Offer13 { key, psk: self.psk },
                cx,
                msg,
                sh,
            );
        }
        // RFC 8446 §4.1.3: a TLS 1.3 server that negotiates 1.2 marks its random.
        if sh.random[24..] == DOWNGRADE_TLS12 {
            return Err(Error::IllegalParameter(
                "the server's random carries the TLS 1.2 downgrade marker".into(),
            ));
        }
        if !self.offers_tls12 {
            return Err(Error::ProtocolVersion(format!(
                "server chose 0x{version:04x}; TLS 1.3 was required"
            )));
        }
        tls12::handle_server_hello(
            self.config,
            &self.hello,
            self.transcript,
            cx,
            msg,
            sh,
            self.offer12,
        )
    }
}

/// Checks the chain against the configured trust, returns the leaf's public key.
fn verify_server_certificate(
    config: &ClientConfig,
    chain: &[Vec<u8>],
) -> Result<rsa::PublicKey, Error> {
    let leaf_der = chain
        .first()
        .ok_or_else(|| Error::BadCertificate("server sent an empty certificate chain".into()))?;
    let leaf =
        pki::parse_certificate(leaf_der).map_err(|e| Error::BadCertificate(e.to_string()))?;
    if let ServerVerification::TrustAnchor(anchor) = &config.verification {
        let trusted = leaf_der == anchor || pki::verify_issued_by(leaf_der, anchor).is_ok();
        if !trusted {
            return Err(Error::UnknownCa(format!(
                "certificate for '{}' is not the trusted certificate and not signed by it",
                leaf.subject
            )));
        }
        pki::check_validity(leaf_der, SystemTime::now())
            .map_err(|e| Error::CertificateExpired(e.to_string()))?;
        if !pki::matches_server_name(&leaf, &config.server_name) {
            return Err(Error::BadCertificate(format!(
                "certificate names {:?} {:?}, not '{}'",
                leaf.dns_names, leaf.ip_addrs, config.server_name
            )));
        }
    }
    Ok(leaf.public_key)
}
