//! The attacker's memory of recovered sessions, for the abbreviated handshakes that resume them
//! (RFC 5246 §7.3, RFC 5077): by session ID and by ticket.

use std::collections::{HashMap, VecDeque};

use crate::attack::observe::{ObservedSession, Resumption};
use crate::attack::Recovery;
use crate::tls12::keys::MasterSecret;

/// Secrets recovered so far, for sessions that resume them.
///
/// Bounded, so memory stays flat however long the capture: the
/// [`ResumptionCache::MAX_ENTRIES`] session IDs and tickets remembered or used most recently
/// (OpenSSL's default server session cache size, `SSL_SESSION_CACHE_MAX_SIZE_DEFAULT`), within
/// [`ResumptionCache::MAX_BYTES`] of IDs and tickets; the least recent are forgotten first.
pub struct ResumptionCache {
    by_session_id: HashMap<Vec<u8>, CachedSecret>,
    by_ticket: HashMap<Vec<u8>, CachedSecret>,
    /// (generation, is a ticket, key), oldest first. An entry whose generation no longer
    /// matches the map's was remembered again later and is skipped.
    order: VecDeque<(u64, bool, Vec<u8>)>,
    next_generation: u64,
    key_bytes: usize,
    forgotten: u64,
    max_entries: usize,
    max_bytes: usize,
}

struct CachedSecret {
    generation: u64,
    stream: u64,
    master: MasterSecret,
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
                self.insert(false, &sh.session_id, stream, master);
            }
        }
        if let Some(t) = &obs.new_ticket {
            self.insert(true, t, stream, master);
        }
    }

    /// Remembers what `recovery` found for `obs`, if it decrypted the session.
    pub fn remember_recovered(&mut self, stream: u64, obs: &ObservedSession, recovery: &Recovery) {
        if let (true, Some((master, _))) = (recovery.verdict.opened(), &recovery.master) {
            self.remember(stream, obs, master);
        }
    }

    fn map(&mut self, ticket: bool) -> &mut HashMap<Vec<u8>, CachedSecret> {
        if ticket {
            &mut self.by_ticket
        } else {
            &mut self.by_session_id
        }
    }

    /// IDs and tickets held.
    pub fn len(&self) -> usize {
        self.by_session_id.len() + self.by_ticket.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers `key`, or remembers it again (it becomes the most recent).
    fn insert(&mut self, ticket: bool, key: &[u8], stream: u64, master: &MasterSecret) {
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = CachedSecret {
            generation,
            stream,
            master: master.clone(),
        };
        if self.map(ticket).insert(key.to_vec(), entry).is_none() {
            self.key_bytes += key.len();
        }
        self.order.push_back((generation, ticket, key.to_vec()));
        while self.len() > self.max_entries || self.key_bytes > self.max_bytes {
            let Some((generation, ticket, oldest)) = self.order.pop_front() else {
                break;
            };
            let map = self.map(ticket);
            if map.get(&oldest).is_some_and(|e| e.generation == generation) {
                map.remove(&oldest);
                self.key_bytes -= oldest.len();
                self.forgotten += 1;
            }
        }
        // Keys remembered again leave stale places behind; drop them before they add up.
        if self.order.len() > 2 * self.len() + 64 {
            let (ids, tickets) = (&self.by_session_id, &self.by_ticket);
            self.order.retain(|(generation, ticket, key)| {
                let map = if *ticket { tickets } else { ids };
                map.get(key).is_some_and(|e| e.generation == *generation)
            });
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
            Resumption::SessionId(id) => self.by_session_id.get(id)?,
            Resumption::Ticket(t) => self.by_ticket.get(t)?,
        };
        Some((e.stream, e.master.clone()))
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
            cache.insert(i % 2 == 1, &[i; 32], u64::from(i), &master(i));
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
        cache.insert(false, &[2; 32], 9, &master(9));
        assert_eq!(
            found(&cache, &Resumption::SessionId(vec![2; 32])),
            Some((9, 9))
        );
        assert_eq!((cache.len(), cache.forgotten()), (3, 2));
        cache.insert(true, &[5; 32], 5, &master(5));
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
        cache.insert(true, &[1; 600], 1, &master(1));
        cache.insert(true, &[2; 300], 2, &master(2));
        assert_eq!(cache.forgotten(), 0);
        cache.insert(true, &[3; 200], 3, &master(3));
        assert_eq!(cache.forgotten(), 1);
        assert_eq!(found(&cache, &Resumption::Ticket(vec![1; 600])), None);
        assert_eq!(
            found(&cache, &Resumption::Ticket(vec![3; 200])),
            Some((3, 3))
        );
        assert_eq!(cache.key_bytes, 500);
        // A ticket larger than the whole bound pushes everything out, itself last.
        cache.insert(true, &[4; 1200], 4, &master(4));
        assert_eq!(found(&cache, &Resumption::Ticket(vec![4; 1200])), None);
        assert_eq!(cache.key_bytes, 0);
    }

    #[test]
    fn a_key_remembered_again_and_again_leaves_no_trail() {
        let mut cache = ResumptionCache::with_limits(4, 1 << 20);
        for i in 0..4u8 {
            cache.insert(false, &[i; 32], u64::from(i), &master(i));
        }
        for round in 0..10_000u64 {
            cache.insert(false, &[1; 32], round, &master(1));
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 0));
        assert!(cache.order.len() <= 2 * 4 + 64, "{}", cache.order.len());
        assert_eq!(cache.key_bytes, 4 * 32);
        // Oldest first among the others: 0, 2, 3, then 1.
        for (next, gone) in [(10u8, 0u8), (11, 2), (12, 3), (13, 1)] {
            cache.insert(false, &[next; 32], 0, &master(next));
            assert_eq!(found(&cache, &Resumption::SessionId(vec![gone; 32])), None);
        }
        assert_eq!((cache.len(), cache.forgotten()), (4, 4));
    }

    #[test]
    fn default_resumption_cache_has_openssl_server_cache_size() {
        let mut cache = ResumptionCache::default();
        for i in 0..(ResumptionCache::MAX_ENTRIES as u32 + 10) {
            cache.insert(false, &i.to_be_bytes(), u64::from(i), &master(1));
        }
        assert_eq!(cache.forgotten(), 10);
        assert_eq!(cache.len(), 20 * 1024);
        assert!(found(&cache, &Resumption::SessionId(9u32.to_be_bytes().to_vec())).is_none());
        assert!(found(&cache, &Resumption::SessionId(10u32.to_be_bytes().to_vec())).is_some());
    }
}
