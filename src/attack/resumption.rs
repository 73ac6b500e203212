//! The attacker's memory of recovered sessions, for the abbreviated handshakes that resume them
//! (RFC 5246 §7.3, RFC 5077): by session ID and by ticket.

use std::collections::{HashMap, VecDeque};

use zeroize::Zeroizing;

use crate::attack::chain13::IssuedPsk;
use crate::attack::observe::{ObservedSession, Resumption};
use crate::attack::Recovery;
use crate::crypto::HashAlg;
use crate::tls12::keys::MasterSecret;

/// Secrets recovered so far, for sessions that resume them.
///
/// Bounded, so memory stays flat however long the capture: the
/// [`ResumptionCache::MAX_ENTRIES`] session IDs and tickets remembered or used most recently
/// (OpenSSL's default server session cache size, `SSL_SESSION_CACHE_MAX_SIZE_DEFAULT`), within
/// [`ResumptionCache::MAX_BYTES`] of IDs and tickets; the least recent are forgotten first.
/// TLS 1.3 PSK identities (RFC 8446 §4.6.1) count with them.
///
/// IDs, tickets and identities are held by [`Fingerprint`], not whole: a TLS 1.2 ticket is
/// ~200 bytes and kept twice (map and order), which made a full cache ~11 MB; fingerprints keep
/// it ~4 MB (issue 20: the 10x capture's memory).
pub struct ResumptionCache {
    by_session_id: HashMap<Fingerprint, CachedSecret>,
    by_ticket: HashMap<Fingerprint, CachedSecret>,
    by_psk_identity: HashMap<Fingerprint, CachedSecret>,
    /// (generation, which map, key), oldest first. An entry whose generation no longer
    /// matches the map's was remembered again later and is skipped.
    order: VecDeque<(u64, Kind, Fingerprint)>,
    next_generation: u64,
    key_bytes: usize,
    forgotten: u64,
    max_entries: usize,
    max_bytes: usize,
}

/// The first 128 bits of SHA-256 over a session ID, ticket or PSK identity: two different
/// keys share one with probability ~2^-128 a pair (~2^-99 in a full cache), and a false match
/// would still fail the resumed session's Finished or binder check.
type Fingerprint = [u8; 16];

fn fingerprint(key: &[u8]) -> Fingerprint {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key);
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    SessionId,
    Ticket,
    PskIdentity,
}

struct CachedSecret {
    generation: u64,
    stream: u64,
    /// The length of the ID, ticket or identity, for the byte bound.
    key_len: usize,
    secret: Held,
}

enum Held {
    /// TLS 1.2: the master secret a session ID or ticket resumes.
    Master(MasterSecret),
    /// TLS 1.3: the PSK of an identity (`None`: the ticket was read, its PSK not had).
    Psk(Option<Zeroizing<Vec<u8>>>, HashAlg),
}

/// What the cache knows of a TLS 1.3 PSK identity: the session that issued it, and its PSK
/// and hash when they were had.
pub struct ChainedPsk {
    pub from_stream: u64,
    pub psk: Option<(Zeroizing<Vec<u8>>, HashAlg)>,
}

impl Default for ResumptionCache {
    fn default() -> Self {
        Self::with_limits(Self::MAX_ENTRIES, Self::MAX_BYTES)
    }
}

impl ResumptionCache {
    pub const MAX_ENTRIES: usize = 20 * 1024;
    pub const MAX_BYTES: usize = 16 << 20;

    /// A cache of at most `max_entries` IDs and tickets totalling at most `max_bytes`.
    pub fn with_limits(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            by_session_id: HashMap::new(),
            by_ticket: HashMap::new(),
            by_psk_identity: HashMap::new(),
            order: VecDeque::new(),
            next_generation: 0,
            key_bytes: 0,
            forgotten: 0,
            max_entries,
            max_bytes,
        }
    }

    pub fn remember(&mut self, stream: u64, obs: &ObservedSession, master: &MasterSecret) {
        if let Some(sh) = &obs.server_hello {
            if !sh.session_id.is_empty() {
                self.insert(
                    Kind::SessionId,
                    &sh.session_id,
                    stream,
                    Held::Master(master.clone()),
                );
            }
        }
        if let Some(t) = &obs.new_ticket {
            self.insert(Kind::Ticket, t, stream, Held::Master(master.clone()));
        }
    }

    /// Remembers the TLS 1.3 PSK identities a session issued (RFC 8446 §4.6.1).
    pub fn remember_psks(&mut self, stream: u64, issued: &[IssuedPsk]) {
        for p in issued {
            self.insert(
                Kind::PskIdentity,
                &p.identity,
                stream,
                Held::Psk(p.psk.clone(), p.hash),
            );
        }
    }

    /// Remembers what `recovery` found for `obs`, if it decrypted the session.
    pub fn remember_recovered(&mut self, stream: u64, obs: &ObservedSession, recovery: &Recovery) {
        if let (true, Some((master, _))) = (recovery.verdict.opened(), &recovery.master) {
            self.remember(stream, obs, master);
        }
        if recovery.verdict.opened() {
            self.remember_psks(stream, &recovery.issued_psks);
        }
    }

    fn map(&mut self, kind: Kind) -> &mut HashMap<Fingerprint, CachedSecret> {
        match kind {
            Kind::SessionId => &mut self.by_session_id,
            Kind::Ticket => &mut self.by_ticket,
            Kind::PskIdentity => &mut self.by_psk_identity,
        }
    }

    /// Whether the place `(generation, kind, key)` in `order` is still its key's latest.
    fn is_current(&self, generation: u64, kind: Kind, key: &Fingerprint) -> bool {
        let map = match kind {
            Kind::SessionId => &self.by_session_id,
            Kind::Ticket => &self.by_ticket,
            Kind::PskIdentity => &self.by_psk_identity,
        };
        map.get(key).is_some_and(|e| e.generation == generation)
    }

    /// IDs, tickets and PSK identities held.
    pub fn len(&self) -> usize {
        self.by_session_id.len() + self.by_ticket.len() + self.by_psk_identity.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers `key`, or remembers it again (it becomes the most recent).
    fn insert(&mut self, kind: Kind, key: &[u8], stream: u64, secret: Held) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let id = fingerprint(key);
        let entry = CachedSecret {
            generation,
            stream,
            key_len: key.len(),
            secret,
        };
        if let Some(old) = self.map(kind).insert(id, entry) {
            self.key_bytes -= old.key_len;
        }
        self.key_bytes += key.len();
        self.order.push_back((generation, kind, id));
        while self.len() > self.max_entries || self.key_bytes > self.max_bytes {
            let Some((generation, kind, oldest)) = self.order.pop_front() else {
                break;
            };
            if self.is_current(generation, kind, &oldest) {
                if let Some(gone) = self.map(kind).remove(&oldest) {
                    self.key_bytes -= gone.key_len;
                }
                self.forgotten += 1;
            }
        }
        // Keys remembered again leave stale places behind; drop them before they add up.
        if self.order.len() > 2 * self.len() + 64 {
            let mut order = std::mem::take(&mut self.order);
            order.retain(|(generation, kind, key)| self.is_current(*generation, *kind, key));
            self.order = order;
        }
    }

    /// The most IDs and tickets held at once.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// How many IDs and tickets were forgotten to keep the cache bounded.
    pub fn forgotten(&self) -> u64 {
        self.forgotten
    }

    /// The stream and master secret of the session `r` resumes, if it was recovered.
    pub fn lookup(&self, r: &Resumption) -> Option<(u64, MasterSecret)> {
        let e = match r {
            Resumption::SessionId(id) => self.by_session_id.get(&fingerprint(id))?,
            Resumption::Ticket(t) => self.by_ticket.get(&fingerprint(t))?,
        };
        match &e.secret {
            Held::Master(m) => Some((e.stream, m.clone())),
            Held::Psk(..) => None,
        }
    }

    /// What is known of the TLS 1.3 PSK `identity` (a ticket an opened session issued).
    pub fn lookup_psk(&self, identity: &[u8]) -> Option<ChainedPsk> {
        let e = self.by_psk_identity.get(&fingerprint(identity))?;
        match &e.secret {
            Held::Psk(psk, hash) => Some(ChainedPsk {
                from_stream: e.stream,
                psk: psk.clone().map(|p| (p, *hash)),
            }),
            Held::Master(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(byte: u8) -> MasterSecret {
        MasterSecret(Box::new([byte; 48]))
    }

    fn found(cache: &ResumptionCache, r: &Resumption) -> Option<(u64, u8)> {
        cache.lookup(r).map(|(stream, m)| (stream, m.0[0]))
    }

    #[test]
    fn resumption_cache_forgets_the_oldest_beyond_its_entry_bound() {
        let mut cache = ResumptionCache::with_limits(3, 1 << 20);
        for i in 0..5u8 {
            cache.insert(
                if i % 2 == 1 {
                    Kind::Ticket
                } else {
                    Kind::SessionId
                },
                &[i; 32],
                u64::from(i),
                Held::Master(master(i)),
            );
        }
        // 0 and 1 were forgotten; 2 (an ID), 3 (a ticket) and 4 (an ID) remain.
        assert_eq!(cache.forgotten(), 2);
        assert_eq!(found(&cache, &Resumption::SessionId(vec![0; 32])), None);
        assert_eq!(found(&cache, &Resumption::Ticket(vec![1; 32])), None);
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((2, 2))
        );
        assert_eq!(
            found(&cache, &Resumption::Ticket(vec![3; 32])),
            Some((3, 3))
        );
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![4; 32])),
            Some((4, 4))
        );
        // An ID is not a ticket.
        assert_eq!(found(&cache, &Resumption::Ticket(vec![4; 32])), None);
        // Remembering a key again updates it and makes it the most recent: 2 now outlives 3.
        cache.insert(Kind::SessionId, &[2; 32], 9, Held::Master(master(9)));
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((9, 9))
        );
        assert_eq!((cache.len(), cache.forgotten()), (3, 2));
        cache.insert(Kind::Ticket, &[5; 32], 5, Held::Master(master(5)));
        assert_eq!(found(&cache, &Resumption::Ticket(vec![3; 32])), None);
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((9, 9))
        );
        assert_eq!((cache.len(), cache.forgotten()), (3, 3));
    }

    #[test]
    fn resumption_cache_forgets_the_oldest_beyond_its_byte_bound() {
        let mut cache = ResumptionCache::with_limits(100, 1000);
        cache.insert(Kind::Ticket, &[1; 600], 1, Held::Master(master(1)));
        cache.insert(Kind::Ticket, &[2; 300], 2, Held::Master(master(2)));
        assert_eq!(cache.forgotten(), 0);
        cache.insert(Kind::Ticket, &[3; 200], 3, Held::Master(master(3)));
        assert_eq!(cache.forgotten(), 1);
        assert_eq!(found(&cache, &Resumption::Ticket(vec![1; 600])), None);
        assert_eq!(
            found(&cache, &Resumption::Ticket(vec![3; 200])),
            Some((3, 3))
        );
        assert_eq!(cache.key_bytes, 500);
        // A ticket larger than the whole bound pushes everything out, itself last.
        cache.insert(Kind::Ticket, &[4; 1200], 4, Held::Master(master(4)));
        assert_eq!(found(&cache, &Resumption::Ticket(vec![4; 1200])), None);
        assert_eq!(cache.key_bytes, 0);
    }

    #[test]
    fn a_key_remembered_again_and_again_leaves_no_trail() {
        let mut cache = ResumptionCache::with_limits(4, 1 << 20);
        for i in 0..4u8 {
            cache.insert(
                Kind::SessionId,
                &[i; 32],
                u64::from(i),
                Held::Master(master(i)),
            );
        }
        for round in 0..10_000u64 {
            cache.insert(Kind::SessionId, &[1; 32], round, Held::Master(master(1)));
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 0));
        assert!(cache.order.len() <= 2 * 4 + 64, "{}", cache.order.len());
        assert_eq!(cache.key_bytes, 4 * 32);
        // Oldest first among the others: 0, 2, 3, then 1.
        for (next, gone) in [(10u8, 0u8), (11, 2), (12, 3), (13, 1)] {
            cache.insert(Kind::SessionId, &[next; 32], 0, Held::Master(master(next)));
            assert_eq!(found(&cache, &Resumption::SessionId(vec![gone; 32])), None);
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 4));
    }

    #[test]
    fn default_resumption_cache_has_openssl_server_cache_size() {
        let mut cache = ResumptionCache::default();
        for i in 0..(ResumptionCache::MAX_ENTRIES as u32 + 10) {
            cache.insert(
                Kind::SessionId,
                &i.to_be_bytes(),
                u64::from(i),
                Held::Master(master(1)),
            );
        }
        assert_eq!(cache.forgotten(), 10);
        assert_eq!(cache.len(), 20 * 1024);
        assert!(found(&cache, &Resumption::SessionId(9u32.to_be_bytes().to_vec())).is_none());
        assert!(found(&cache, &Resumption::SessionId(10u32.to_be_bytes().to_vec())).is_some());
    }

    #[test]
    fn psk_identities_are_their_own_keys_and_count_against_the_bound() {
        let mut cache = ResumptionCache::with_limits(2, 1 << 20);
        let issued = [
            IssuedPsk {
                identity: vec![7; 40],
                psk: Some(Zeroizing::new(vec![0xaa; 32])),
                hash: HashAlg::Sha256,
            },
            IssuedPsk {
                identity: vec![8; 40],
                psk: None,
                hash: HashAlg::Sha256,
            },
        ];
        cache.remember_psks(4, &issued);
        let known = cache.lookup_psk(&[7; 40]).expect("remembered");
        assert_eq!(known.from_stream, 4);
        assert_eq!(known.psk.map(|(p, _)| p[0]), Some(0xaa));
        let unknown = cache.lookup_psk(&[8; 40]).expect("remembered");
        assert!(unknown.psk.is_none());
        // A TLS 1.3 identity is not a TLS 1.2 ticket, nor the other way round.
        assert!(cache.lookup(&Resumption::Ticket(vec![7; 40])).is_none());
        cache.insert(Kind::Ticket, &[9; 40], 5, Held::Master(master(9)));
        assert!(cache.lookup_psk(&[9; 40]).is_none());
        // Three keys in a cache of two: the oldest identity went.
        assert!(cache.lookup_psk(&[7; 40]).is_none());
        assert_eq!(cache.forgotten(), 1);
    }
}
