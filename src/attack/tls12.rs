//! The attacker's TLS 1.2 road: the premaster from the ClientKeyExchange, the master secret, then
//! both directions opened with the endpoints' own key schedule and record protection.

use zeroize::Zeroizing;

use crate::attack::observe::ObservedSession;
use crate::attack::FinishedCheck;
use crate::msgs::enums::{AlertDescription, ContentType, HandshakeType, ProtocolVersion};
use crate::msgs::record::{HandshakeJoiner, HandshakeMessage, OpaqueRecord};
use crate::suites::Suite;
use crate::tls12::keys::{derive_master_secret, verify_data, MasterSecret, Side};
use crate::tls12::protectors;

/// The plaintext of one direction and how far decryption went.
#[derive(Debug, Clone, Default)]
pub struct DirectionPlaintext {
    pub data: Vec<u8>,
    pub records_opened: usize,
    pub finished: Option<Vec<u8>>,
    /// Handshake messages after Finished (e.g. NewSessionTicket in TLS 1.3, renegotiation).
    pub alerts: Vec<String>,
    /// Why decryption stopped before the end, if it did.
    pub stopped: Option<String>,
}

/// Decryption of a TLS 1.2 session with a known master secret.
#[derive(Debug, Clone)]
pub struct Decryption {
    pub client: DirectionPlaintext,
    pub server: DirectionPlaintext,
    pub client_finished: FinishedCheck,
    pub server_finished: FinishedCheck,
}

impl Decryption {
    /// The proof the recovery is right: at least one Finished verified and none failed.
    pub fn proven(&self) -> bool {
        let checks = [&self.client_finished, &self.server_finished];
        checks.iter().any(|c| **c == FinishedCheck::Verified)
            && !checks.iter().any(|c| **c == FinishedCheck::Mismatch)
    }
}

/// Opens one direction's records with the endpoints' record protection.
fn open_direction(
    records: &[OpaqueRecord],
    mut protector: crate::record_protect::Tls12Protector,
) -> DirectionPlaintext {
    let mut out = DirectionPlaintext::default();
    // Room for all of it at once (the ciphertexts' lengths bound the plaintexts').
    out.data.reserve(
        records
            .iter()
            .filter(|r| r.content_type == ContentType::ApplicationData)
            .map(|r| r.payload.len())
            .sum(),
    );
    let mut joiner = HandshakeJoiner::new();
    for (i, rec) in records.iter().enumerate() {
        let plain = match protector.open(rec.content_type, rec.version, &rec.payload) {
            Ok(p) => p,
            Err(_) => {
                out.stopped = Some(format!(
                    "protected record {} ({}, {} bytes) fails authentication (GCM tag, or CBC padding and MAC): the keys are wrong or the record was tampered with",
                    i + 1,
                    rec.content_type,
                    rec.payload.len()
                ));
                break;
            }
        };
        out.records_opened += 1;
        match rec.content_type {
            ContentType::ApplicationData => out.data.extend_from_slice(&plain),
            ContentType::Handshake => {
                joiner.push(&plain);
                while let Ok(Some(m)) = joiner.next_message() {
                    if m.typ == HandshakeType::Finished && out.finished.is_none() {
                        out.finished = Some(m.body().to_vec());
                    }
                }
            }
            ContentType::Alert => {
                if let Ok(a) = crate::msgs::alert::Alert::read(&plain) {
                    out.alerts.push(a.description.name());
                    if a.description != AlertDescription::CloseNotify {
                        out.stopped = Some(format!("fatal alert {}", a.description));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Decrypts both directions and verifies both Finished messages (RFC 5246 §7.4.9).
pub fn decrypt_tls12(
    obs: &ObservedSession,
    suite: &Suite,
    master: &MasterSecret,
) -> Option<Decryption> {
    let (cr, sr) = (obs.client_random()?, obs.server_random()?);
    let (client_write, server_write) =
        protectors(suite, master, &cr, &sr, obs.encrypt_then_mac).ok()?;
    let client = open_direction(&obs.client_protected.records, client_write);
    let server = open_direction(&obs.server_protected.records, server_write);

    // Transcript hashes for the two Finished messages, full or abbreviated handshake: the
    // common part is hashed once and forked at the first Finished.
    let ch = obs.handshake_client.iter().take(1);
    let server_plain = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ != HandshakeType::NewSessionTicket);
    let tickets = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ == HandshakeType::NewSessionTicket);
    let client_rest = obs.handshake_client.iter().skip(1);
    let finished_msg = |body: &[u8]| HandshakeMessage::new(HandshakeType::Finished, body);
    let mut base = suite.hash.start();
    let (client_hash, server_hash) = if obs.resumed.is_some() {
        // RFC 5246 §7.3: the server's Finished comes first, after its NewSessionTicket.
        for m in ch.chain(server_plain).chain(tickets) {
            base.update(&m.encoded);
        }
        let server_hash = base.clone().finish();
        if let Some(f) = &server.finished {
            base.update(&finished_msg(f).encoded);
        }
        (base.finish(), server_hash)
    } else {
        for m in ch.chain(server_plain).chain(client_rest) {
            base.update(&m.encoded);
        }
        let client_hash = base.clone().finish();
        if let Some(f) = &client.finished {
            base.update(&finished_msg(f).encoded);
        }
        for m in tickets {
            base.update(&m.encoded);
        }
        (client_hash, base.finish())
    };
    let check = |sent: &Option<Vec<u8>>, side: Side, transcript_hash: &[u8]| match sent {
        None => FinishedCheck::NotSeen,
        Some(v) => {
            let expected = verify_data(suite, master, side, transcript_hash);
            if crate::crypto::constant_time_eq(&expected, v) {
                FinishedCheck::Verified
            } else {
                FinishedCheck::Mismatch
            }
        }
    };
    let client_finished = check(&client.finished, Side::Client, &client_hash);
    let server_finished = check(&server.finished, Side::Server, &server_hash);
    Some(Decryption {
        client,
        server,
        client_finished,
        server_finished,
    })
}

/// Whether `master` opens this session's first protected record (normally the client's
/// Finished): the cheap test of a candidate master secret — the key block (RFC 5246 §6.3), then
/// one record's GCM tag or CBC MAC. Decrypting the whole session is [`decrypt_tls12`]'s job.
pub fn master_opens_first_record(
    obs: &ObservedSession,
    suite: &Suite,
    master: &MasterSecret,
) -> bool {
    let (Some(cr), Some(sr)) = (obs.client_random(), obs.server_random()) else {
        return false;
    };
    let Ok((mut client, mut server)) = protectors(suite, master, &cr, &sr, obs.encrypt_then_mac)
    else {
        return false;
    };
    if let Some(rec) = obs.client_protected.records.first() {
        return client
            .open(rec.content_type, rec.version, &rec.payload)
            .is_ok();
    }
    obs.server_protected.records.first().is_some_and(|rec| {
        server
            .open(rec.content_type, rec.version, &rec.payload)
            .is_ok()
    })
}

/// The master secret a premaster gives in this session.
pub fn master_from_premaster(
    obs: &ObservedSession,
    suite: &Suite,
    premaster: &[u8],
) -> Option<MasterSecret> {
    let (cr, sr) = (obs.client_random()?, obs.server_random()?);
    Some(derive_master_secret(
        suite,
        premaster,
        obs.ems,
        &cr,
        &sr,
        &obs.transcript_through_client_key_exchange(),
    ))
}

/// What the stolen key says about a premaster ciphertext (RFC 5246 §7.4.7.1 format check).
/// With `fast`, AWS-LC decrypts (`crate::crypto::fast_rsa`, ~4× faster); otherwise the rsa crate
/// does.
pub fn decrypt_premaster(
    key: &rsa::PrivateKey,
    fast: Option<&crate::crypto::fast_rsa::FastRsaKey>,
    obs: &ObservedSession,
    encrypted: &[u8],
) -> Result<Zeroizing<Vec<u8>>, String> {
    use rsa::traits::PublicKeyParts;
    let modulus_len = key.size();
    if encrypted.len() != modulus_len {
        return Err(format!("the encrypted premaster is {} bytes but the stolen key's modulus is {modulus_len}: it was encrypted to another key", encrypted.len()));
    }
    // rsa 0.10 uses implicit rejection (a wrong key yields a random-looking message instead of
    // an error) and the fast path may fail padding; either way only the expected shape counts.
    let plain = crate::crypto::fast_rsa::decrypt_pkcs1v15_with(key, fast, encrypted);
    let version = obs
        .client_hello
        .as_ref()
        .map(|c| c.client_version)
        .unwrap_or(ProtocolVersion::Tls12.to_wire())
        .to_be_bytes();
    match plain {
        Some(plain) if plain.len() == 48 && plain[..2] == version => Ok(plain),
        _ => Err("the stolen key does not decrypt this premaster (wrong key: the result is not a 48-byte premaster)".into()),
    }
}
