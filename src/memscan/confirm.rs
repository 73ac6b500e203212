//! Proving candidates against the captures, with the lab's one key schedule:
//! - a scalar: s × G is a public point a session sent (ServerKeyExchange, RFC 8422 §5.4; a TLS
//!   1.3 key share, RFC 8446 §4.2.8); the premaster (x of s × peer point) then gives the TLS 1.2
//!   master secret (`attack::master_from_premaster`) or the TLS 1.3 secrets (`attack::dhe_secrets`);
//! - a 48-byte window: a TLS 1.2 master secret when its key block opens the session's first
//!   protected record (RFC 5246 §6.3);
//! - a 32/48-byte window: a TLS 1.3 traffic secret when its key and IV open a record (§7.3);
//! - an 80-byte window starting with a captured ticket's key name: a ticket key when the
//!   ticket's MAC verifies and it decrypts (RFC 5077 §4).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use crate::attack::observe::KeyExchangeOnWire;
use crate::attack::tls12::master_opens_first_record;
use crate::attack::tls13::first_record_opened;
use crate::attack::{dhe_secrets, master_from_premaster, Loot, ResumptionCache};
use crate::crypto::ecdh::EphemeralKey;
use crate::keylog::SecretKind;
use crate::memscan::image::MemoryImage;
use crate::memscan::search::{find_prefixes, random_windows, Places};
use crate::memscan::{
    Found, FoundKind, Place, Progress, ScalarEncoding, ScanOptions, ScanReport, SessionKeys,
    TargetSession,
};
use crate::suites::{KeyExchange, Suite};
use crate::tickets::{TicketKey, TicketParts, TICKET_KEY_LEN};
use crate::tls12::keys::MasterSecret;
use crate::tls13::key_schedule::TrafficSecret;

/// Records of each direction a candidate TLS 1.3 secret is tried on.
const TLS13_RECORDS_TRIED: usize = 8;

/// Scans `image` for every secret that opens one of `targets`.
pub fn scan(
    image: &MemoryImage,
    targets: &[TargetSession],
    opts: &ScanOptions,
    progress: &Progress,
) -> ScanReport {
    progress
        .bytes_total
        .store(image.bytes() * 2, Ordering::Relaxed);
    let c32 = random_windows::<32>(image, opts.align, opts.threads, &progress.bytes_done);
    let c48 = random_windows::<48>(image, opts.align, opts.threads, &progress.bytes_done);
    progress.candidates_total.store(
        (c32.windows.len() + c48.windows.len()) as u64,
        Ordering::Relaxed,
    );
    let mut report = ScanReport {
        found: Vec::new(),
        keys: Vec::new(),
        windows_32: c32.examined,
        candidates_32: c32.windows.len(),
        windows_48: c48.examined,
        candidates_48: c48.windows.len(),
        ticket_name_hits: 0,
    };
    let points = wire_points(targets);
    let list32: Vec<(&[u8; 32], &Places)> = c32.windows.iter().collect();
    let list48: Vec<(&[u8; 48], &Places)> = c48.windows.iter().collect();
    let tls13_suites: Vec<Suite> = {
        let mut v: Vec<Suite> = targets
            .iter()
            .filter(|t| t.obs.key_exchange == Some(KeyExchange::Tls13))
            .filter_map(|t| t.obs.suite)
            .collect();
        v.sort_by_key(|s| s.id);
        v.dedup();
        v
    };

    // 1. Scalars: two encodings per window, one scalar multiplication each.
    let hits = parallel(
        &list32,
        opts.threads,
        &progress.candidates_done,
        |(w, places)| {
            let mut out = Vec::new();
            for encoding in [ScalarEncoding::LittleEndianLimbs, ScalarEncoding::BigEndian] {
                let mut be = Zeroizing::new(**w);
                if encoding == ScalarEncoding::LittleEndianLimbs {
                    be.reverse();
                }
                let Some(key) = EphemeralKey::from_scalar_be(&*be) else {
                    continue;
                };
                let point = key.public_sec1();
                if points.contains_key(&point) {
                    out.push((encoding, point, be, (*places).clone()));
                }
            }
            out
        },
    );
    for (encoding, point, be, places) in hits {
        let Some(key) = EphemeralKey::from_scalar_be(&*be) else {
            continue;
        };
        let mut sessions = Vec::new();
        for &(i, peer_is_client) in points.get(&point).map(Vec::as_slice).unwrap_or_default() {
            if let Some(keys) = keys_from_scalar(&targets[i], i, &key, peer_is_client) {
                sessions.push(i);
                report.keys.push(keys);
            }
        }
        report.found.push(Found {
            kind: FoundKind::EcdheScalar {
                encoding,
                point: point.clone(),
            },
            secret: Zeroizing::new(be.to_vec()),
            places: places_of(image, &places),
            sessions,
            proof: format!(
                "scalar × G = the point {}… on the wire; read as {}",
                crate::codec::hex(point.get(1..9).unwrap_or_default()),
                encoding.describe()
            ),
        });
    }

    // 2. TLS 1.2 master secrets and 3. TLS 1.3 traffic secrets (48-byte windows: SHA-384).
    let tls12: Vec<(usize, Suite)> = targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.obs.key_exchange.is_some_and(|k| k != KeyExchange::Tls13))
        .filter_map(|(i, t)| t.obs.suite.map(|s| (i, s)))
        .collect();
    let masters = parallel(
        &list48,
        opts.threads,
        &progress.candidates_done,
        |(w, places)| {
            let master = MasterSecret(Box::new(**w));
            let opened: Vec<usize> = tls12
                .iter()
                .filter(|(i, s)| master_opens_first_record(&targets[*i].obs, s, &master))
                .map(|(i, _)| *i)
                .collect();
            let mut out = Vec::new();
            if !opened.is_empty() {
                out.push((
                    FoundKind::MasterSecret,
                    w.to_vec(),
                    (*places).clone(),
                    opened,
                ));
            }
            out.extend(tls13_hits(&w[..], places, targets, &tls13_suites));
            out
        },
    );
    let secrets32 = parallel(&list32, opts.threads, &AtomicU64::new(0), |(w, places)| {
        tls13_hits(&w[..], places, targets, &tls13_suites)
    });
    for (kind, secret, places, sessions) in masters.into_iter().chain(secrets32) {
        for &i in &sessions {
            if let Some(t) = targets.get(i) {
                report.keys.push(keys_from_secret(t, i, &kind, &secret));
            }
        }
        report.found.push(Found {
            proof: match &kind {
                FoundKind::MasterSecret => {
                    "its key block opens the first protected record (RFC 5246 §6.3)".into()
                }
                _ => "its key and IV open a record (RFC 8446 §7.3)".into(),
            },
            kind,
            secret: Zeroizing::new(secret),
            places: places_of(image, &places),
            sessions,
        });
    }

    // 4. Ticket keys: windows that start with a captured ticket's key name.
    let tickets = captured_tickets(targets);
    let names: HashSet<[u8; 16]> = tickets.iter().map(|(n, _)| *n).collect();
    let prefix_hits = find_prefixes(image, &names, opts.align);
    report.ticket_name_hits = prefix_hits.len();
    let mut keys_seen: BTreeMap<Vec<u8>, Vec<(usize, u64)>> = BTreeMap::new();
    for (ri, address, off) in prefix_hits {
        let Some(bytes) = image
            .regions
            .get(ri)
            .and_then(|r| r.data.get(off..off + TICKET_KEY_LEN))
        else {
            continue;
        };
        let Ok(key) = TicketKey::from_bytes(bytes) else {
            continue;
        };
        let opens = tickets
            .iter()
            .any(|(name, t)| *name == key.name() && key.open(t).is_ok());
        if opens {
            keys_seen
                .entry(bytes.to_vec())
                .or_default()
                .push((ri, address));
        }
    }
    for (bytes, places) in keys_seen {
        let Ok(key) = TicketKey::from_bytes(&bytes) else {
            continue;
        };
        let name = key.name();
        let loot = Loot::default().with_ticket_keys(vec![key]);
        let cache = ResumptionCache::default();
        let mut sessions = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let r = crate::attack::recovery::recover(&t.obs, &loot, &cache);
            let mut lines = Vec::new();
            let Some(cr) = t.obs.client_random() else {
                continue;
            };
            if let Some((m, _)) = &r.master {
                lines.push((SecretKind::ClientRandom, cr, Zeroizing::new(m.0.to_vec())));
            }
            if let Some(s) = &r.tls13_secrets {
                for (kind, secret, _) in s.each() {
                    if let Some(secret) = secret {
                        lines.push((kind, cr, Zeroizing::new(secret.secret().to_vec())));
                    }
                }
            }
            if r.verdict.opened() && !lines.is_empty() {
                sessions.push(i);
                report.keys.push(SessionKeys {
                    session: i,
                    lines,
                    via: format!("ticket key {}", crate::codec::hex(&name)),
                });
            }
        }
        report.found.push(Found {
            kind: FoundKind::TicketKey { name },
            secret: Zeroizing::new(bytes),
            places: places_of(image, &places),
            sessions,
            proof:
                "a captured ticket with its key name opens under it (RFC 5077 §4 MAC and AES-CBC)"
                    .into(),
        });
    }
    report
}

/// Every public point on the wire: (session index, whether the point's owner's peer is the
/// client — true for the server's point).
fn wire_points(targets: &[TargetSession]) -> HashMap<Vec<u8>, Vec<(usize, bool)>> {
    let mut map: HashMap<Vec<u8>, Vec<(usize, bool)>> = HashMap::new();
    for (i, t) in targets.iter().enumerate() {
        let (server, client) = match &t.obs.wire_key_exchange {
            KeyExchangeOnWire::Ecdhe {
                server_public,
                client_public,
                named_group: 23,
                ..
            } => (Some(server_public), Some(client_public)),
            KeyExchangeOnWire::Tls13KeyShares {
                server_group: Some(23),
                client_share,
                server_share,
                ..
            } => (server_share.as_ref(), client_share.as_ref()),
            _ => (None, None),
        };
        if let Some(p) = server {
            map.entry(p.clone()).or_default().push((i, true));
        }
        if let Some(p) = client {
            map.entry(p.clone()).or_default().push((i, false));
        }
    }
    map
}

/// The session keys a scalar gives for session `i`: the premaster from the other side's point,
/// then the one key schedule; `None` unless they open the session's first record.
fn keys_from_scalar(
    t: &TargetSession,
    i: usize,
    key: &EphemeralKey,
    peer_is_client: bool,
) -> Option<SessionKeys> {
    let obs = &t.obs;
    let suite = obs.suite?;
    let cr = obs.client_random()?;
    let who = if peer_is_client { "server" } else { "client" };
    match &obs.wire_key_exchange {
        KeyExchangeOnWire::Ecdhe {
            server_public,
            client_public,
            ..
        } => {
            let peer = if peer_is_client {
                client_public
            } else {
                server_public
            };
            let pms = key.agree(peer).ok()?;
            let master = master_from_premaster(obs, &suite, &pms)?;
            master_opens_first_record(obs, &suite, &master).then(|| SessionKeys {
                session: i,
                lines: vec![(
                    SecretKind::ClientRandom,
                    cr,
                    Zeroizing::new(master.0.to_vec()),
                )],
                via: format!(
                    "the {who}'s ECDHE scalar → premaster → master secret (first record opens)"
                ),
            })
        }
        KeyExchangeOnWire::Tls13KeyShares {
            client_share: Some(c),
            server_share: Some(s),
            ..
        } => {
            let shared = key.agree(if peer_is_client { c } else { s }).ok()?;
            let secrets = dhe_secrets(obs, &suite, &shared)?;
            let server_hs = secrets.server_handshake.as_ref()?;
            let prot = crate::tls13::protector(&suite, server_hs).ok()?;
            if first_record_opened(&obs.server_protected.records, &prot, 1) != Some(0) {
                return None;
            }
            let lines = secrets
                .each()
                .into_iter()
                .filter_map(|(kind, s, _)| {
                    s.map(|s| (kind, cr, Zeroizing::new(s.secret().to_vec())))
                })
                .collect();
            Some(SessionKeys {
                session: i,
                lines,
                via: format!("the {who}'s key-share scalar → shared secret → TLS 1.3 key schedule (the server's first record opens)"),
            })
        }
        _ => None,
    }
}

/// The key-log line a directly found secret gives.
fn keys_from_secret(t: &TargetSession, i: usize, kind: &FoundKind, secret: &[u8]) -> SessionKeys {
    let cr = t.obs.client_random().unwrap_or_default();
    let label = match kind {
        FoundKind::Tls13Secret { kind } => *kind,
        _ => SecretKind::ClientRandom,
    };
    SessionKeys {
        session: i,
        lines: vec![(label, cr, Zeroizing::new(secret.to_vec()))],
        via: format!("the {} found in memory", kind.name()),
    }
}

/// A candidate as a TLS 1.3 traffic secret of every session whose hash length matches.
fn tls13_hits(
    w: &[u8],
    places: &Places,
    targets: &[TargetSession],
    suites: &[Suite],
) -> Vec<(FoundKind, Vec<u8>, Places, Vec<usize>)> {
    let mut out = Vec::new();
    for suite in suites.iter().filter(|s| s.hash.output_len() == w.len()) {
        let secret = TrafficSecret::new(suite.hash, w.to_vec());
        let Ok(prot) = crate::tls13::protector(suite, &secret) else {
            continue;
        };
        let mut by_kind: HashMap<SecretKind, Vec<usize>> = HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            if t.obs.suite.map(|s| s.id) != Some(suite.id)
                || t.obs.key_exchange != Some(KeyExchange::Tls13)
            {
                continue;
            }
            for (records, hs, ap) in [
                (
                    &t.obs.server_protected.records,
                    SecretKind::ServerHandshakeTrafficSecret,
                    SecretKind::ServerTrafficSecret0,
                ),
                (
                    &t.obs.client_protected.records,
                    SecretKind::ClientHandshakeTrafficSecret,
                    SecretKind::ClientTrafficSecret0,
                ),
            ] {
                match first_record_opened(records, &prot, TLS13_RECORDS_TRIED) {
                    Some(0) => by_kind.entry(hs).or_default().push(i),
                    Some(_) => by_kind.entry(ap).or_default().push(i),
                    None => {}
                }
            }
        }
        for (kind, sessions) in by_kind {
            out.push((
                FoundKind::Tls13Secret { kind },
                w.to_vec(),
                places.clone(),
                sessions,
            ));
        }
    }
    out
}

/// Every ticket that crossed the wire in clear, by key name (RFC 5077 §4 layout).
fn captured_tickets(targets: &[TargetSession]) -> Vec<([u8; 16], Vec<u8>)> {
    let mut out = Vec::new();
    for t in targets {
        let mut all: Vec<&Vec<u8>> = Vec::new();
        all.extend(t.obs.new_ticket.iter());
        all.extend(t.obs.offered_ticket.iter());
        if let Some(offered) = t.obs.psk.as_ref().and_then(|p| p.offered.as_ref()) {
            all.extend(offered.identities.iter().map(|id| &id.identity));
        }
        for ticket in all {
            if let Ok(parts) = TicketParts::parse(ticket) {
                out.push((parts.key_name, ticket.clone()));
            }
        }
    }
    out
}

fn places_of(image: &MemoryImage, places: &Places) -> Vec<Place> {
    places
        .iter()
        .filter_map(|&(ri, address)| {
            let r = image.regions.get(ri)?;
            Some(Place {
                address,
                region_start: r.start,
                region_end: r.end,
                region_name: r.name.clone(),
            })
        })
        .collect()
}

/// Runs `f` over `items` on `threads` threads; `done` counts items finished.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    done: &AtomicU64,
    f: impl Fn(&T) -> Vec<R> + Sync,
) -> Vec<R> {
    let next = AtomicU64::new(0);
    const BATCH: usize = 256;
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let start = next.fetch_add(BATCH as u64, Ordering::Relaxed) as usize;
                        let Some(batch) = items.get(start..(start + BATCH).min(items.len())) else {
                            break;
                        };
                        if batch.is_empty() {
                            break;
                        }
                        for item in batch {
                            out.extend(f(item));
                        }
                        done.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().ok())
            .flatten()
            .collect()
    })
}
