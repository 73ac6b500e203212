//! The attacker's TLS 1.3 road: traffic secrets (only a key log has them), then the handshake
//! flight and application data opened with the endpoints' own key schedule and record protection.

use crate::attack::observe::ObservedSession;
use crate::attack::FinishedCheck;
use crate::keylog::{KeyLog, SecretKind};
use crate::msgs::enums::{ContentType, HandshakeType};
use crate::msgs::record::{HandshakeJoiner, HandshakeMessage, OpaqueRecord};
use crate::suites::Suite;
use crate::tls13::key_schedule::{MasterSecret13, TrafficSecret};

/// TLS 1.3 traffic secrets found for one session (any may be missing).
#[derive(Default)]
pub struct Tls13Secrets {
    pub client_handshake: Option<TrafficSecret>,
    pub server_handshake: Option<TrafficSecret>,
    pub client_application: Option<TrafficSecret>,
    pub server_application: Option<TrafficSecret>,
    /// The master secret, when the attacker derived the key schedule itself (a key log holds
    /// only traffic secrets): the resumption master secret comes from it (RFC 8446 §7.1).
    pub master: Option<MasterSecret13>,
}

impl Tls13Secrets {
    pub fn from_keylog(log: &KeyLog, client_random: &[u8; 32], suite: &Suite) -> Self {
        let get = |kind| {
            log.tls13_secret(kind, client_random)
                .map(|s| TrafficSecret::new(suite.hash, s.to_vec()))
        };
        Self {
            client_handshake: get(SecretKind::ClientHandshakeTrafficSecret),
            server_handshake: get(SecretKind::ServerHandshakeTrafficSecret),
            client_application: get(SecretKind::ClientTrafficSecret0),
            server_application: get(SecretKind::ServerTrafficSecret0),
            master: None,
        }
    }

    /// Each secret with its key log kind and the direction whose records it opens.
    pub fn each(&self) -> [(SecretKind, Option<&TrafficSecret>, bool); 4] {
        [
            (
                SecretKind::ServerHandshakeTrafficSecret,
                self.server_handshake.as_ref(),
                false,
            ),
            (
                SecretKind::ClientHandshakeTrafficSecret,
                self.client_handshake.as_ref(),
                true,
            ),
            (
                SecretKind::ServerTrafficSecret0,
                self.server_application.as_ref(),
                false,
            ),
            (
                SecretKind::ClientTrafficSecret0,
                self.client_application.as_ref(),
                true,
            ),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.client_handshake.is_none()
            && self.server_handshake.is_none()
            && self.client_application.is_none()
            && self.server_application.is_none()
    }
}

/// One direction of a TLS 1.3 session, opened with whatever secrets are known.
#[derive(Debug, Default, Clone)]
pub struct Direction13 {
    pub data: Vec<u8>,
    /// Handshake messages decrypted under the handshake traffic secret.
    pub handshake: Vec<HandshakeMessage>,
    pub handshake_records_skipped: usize,
    pub finished: FinishedCheck,
    pub key_updates: usize,
    pub stopped: Option<String>,
    pub app_opened: bool,
    /// Post-handshake NewSessionTickets decrypted under the application traffic secret
    /// (RFC 8446 §4.6.1).
    pub tickets: Vec<HandshakeMessage>,
}

/// Opens one direction: handshake records under `hs` until Finished, then application records
/// under `ap` (following KeyUpdates). Without `hs`, the first record that opens under `ap`
/// marks where application data starts. `transcript` holds the handshake so far and grows.
fn open_direction13(
    records: &[OpaqueRecord],
    suite: &Suite,
    hs: Option<&TrafficSecret>,
    ap: Option<&TrafficSecret>,
    transcript: &mut Vec<u8>,
) -> Direction13 {
    let mut out = Direction13::default();
    let mut hs_prot = hs.and_then(|h| crate::tls13::protector(suite, h).ok());
    let mut ap_secret = ap.cloned();
    let mut ap_prot = ap.and_then(|a| crate::tls13::protector(suite, a).ok());
    let mut in_handshake = true;
    let mut joiner = HandshakeJoiner::new();
    for (i, rec) in records.iter().enumerate() {
        if in_handshake {
            if let Some(p) = hs_prot.as_mut() {
                if let Ok((typ, plain)) = p.open(&rec.payload) {
                    if typ == ContentType::Handshake {
                        joiner.push(&plain);
                        while let Ok(Some(m)) = joiner.next_message() {
                            if m.typ == HandshakeType::Finished {
                                let expected =
                                    hs.map(|h| h.verify_data(&suite.hash.digest(transcript)));
                                out.finished = if expected.as_deref() == Some(m.body()) {
                                    FinishedCheck::Verified
                                } else {
                                    FinishedCheck::Mismatch
                                };
                                in_handshake = false;
                            }
                            transcript.extend_from_slice(&m.encoded);
                            out.handshake.push(m);
                        }
                    }
                    continue;
                }
            }
            // No handshake key, or it does not open this record: is this the first application record?
            let opens_as_app = ap_prot
                .clone()
                .is_some_and(|mut p| p.open(&rec.payload).is_ok());
            if !opens_as_app {
                if hs_prot.is_some() {
                    out.stopped = Some(format!("protected record {} fails GCM authentication under the handshake traffic secret", i + 1));
                    break;
                }
                out.handshake_records_skipped += 1;
                continue;
            }
            in_handshake = false;
        }
        let Some(p) = ap_prot.as_mut() else { break };
        let Ok((typ, plain)) = p.open(&rec.payload) else {
            out.stopped = Some(format!(
                "protected record {} fails GCM authentication under the application traffic secret",
                i + 1
            ));
            break;
        };
        out.app_opened = true;
        match typ {
            ContentType::ApplicationData => out.data.extend_from_slice(&plain),
            ContentType::Handshake => {
                joiner.push(&plain);
                while let Ok(Some(m)) = joiner.next_message() {
                    // RFC 8446 §4.6.3: later records use the next generation of the secret.
                    if m.typ == HandshakeType::KeyUpdate {
                        if let Some(next) = ap_secret.as_ref().map(|s| s.next_generation()) {
                            ap_prot = crate::tls13::protector(suite, &next).ok();
                            ap_secret = Some(next);
                            out.key_updates += 1;
                        }
                    }
                    if m.typ == HandshakeType::NewSessionTicket {
                        out.tickets.push(m);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Which of the first `within` records of one direction a protector opens (the cheap test of a
/// candidate traffic secret: one record's GCM tag, RFC 8446 §5.2). `None`: none opens.
pub fn first_record_opened(
    records: &[OpaqueRecord],
    protector: &crate::record_protect::Tls13Protector,
    within: usize,
) -> Option<usize> {
    records
        .iter()
        .take(within)
        .position(|rec| protector.clone().open(&rec.payload).is_ok())
}

/// Decrypts a TLS 1.3 session with the secrets a key log gave.
pub fn decrypt_tls13(
    obs: &ObservedSession,
    suite: &Suite,
    secrets: &Tls13Secrets,
) -> (Direction13, Direction13) {
    let mut transcript = hello_transcript(obs, suite).unwrap_or_default();
    let server = open_direction13(
        &obs.server_protected.records,
        suite,
        secrets.server_handshake.as_ref(),
        secrets.server_application.as_ref(),
        &mut transcript,
    );
    // The client's Finished covers the transcript through the server's Finished, which is
    // only known when the server's flight was decrypted.
    let mut client_transcript = if server.finished == FinishedCheck::NotSeen {
        Vec::new()
    } else {
        transcript
    };
    let mut client = open_direction13(
        &obs.client_protected.records,
        suite,
        secrets.client_handshake.as_ref(),
        secrets.client_application.as_ref(),
        &mut client_transcript,
    );
    if server.finished == FinishedCheck::NotSeen && client.finished != FinishedCheck::NotSeen {
        client.finished = FinishedCheck::NotSeen;
    }
    (client, server)
}

/// Appends one direction's encrypted handshake messages to `transcript`, through its Finished
/// (RFC 8446 §4.4.1: the transcript is the concatenation of the handshake messages).
pub fn extend_through_finished(transcript: &mut Vec<u8>, direction: &Direction13) {
    for m in &direction.handshake {
        transcript.extend_from_slice(&m.encoded);
        if m.typ == HandshakeType::Finished {
            break;
        }
    }
}

/// The transcript through ServerHello: ClientHello and ServerHello, or after a
/// HelloRetryRequest message_hash(ClientHello1), the HelloRetryRequest, ClientHello2 and
/// ServerHello (RFC 8446 §4.4.1). `None` when a hello is missing.
pub fn hello_transcript(obs: &ObservedSession, suite: &Suite) -> Option<Vec<u8>> {
    let mut transcript = Vec::new();
    let hellos: Vec<&HandshakeMessage> = obs
        .handshake_client
        .iter()
        .filter(|m| m.typ == HandshakeType::ClientHello)
        .collect();
    let server_hellos: Vec<&HandshakeMessage> = obs
        .handshake_server
        .iter()
        .filter(|m| m.typ == HandshakeType::ServerHello)
        .collect();
    if obs.hello_retry {
        let (ch1, hrr, ch2, sh) = (
            hellos.first()?,
            server_hellos.first()?,
            hellos.get(1)?,
            server_hellos.get(1)?,
        );
        transcript.extend_from_slice(
            &crate::msgs::handshake13::message_hash(&suite.hash.digest(&ch1.encoded)).encoded,
        );
        transcript.extend_from_slice(&hrr.encoded);
        transcript.extend_from_slice(&ch2.encoded);
        transcript.extend_from_slice(&sh.encoded);
    } else {
        transcript.extend_from_slice(&hellos.first()?.encoded);
        transcript.extend_from_slice(&server_hellos.first()?.encoded);
    }
    Some(transcript)
}
