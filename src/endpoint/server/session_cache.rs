//! The TLS 1.2 server's session-ID cache (RFC 5246 §7.4.1.2, §F.1.4): session ID → the state a
//! ticket would carry. Bounded; the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::tickets::Tls12State;

pub struct SessionCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Vec<u8>, Tls12State>,
    order: VecDeque<Vec<u8>>,
}

impl SessionCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    pub fn insert(&self, session_id: &[u8], state: Tls12State) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.map.insert(session_id.to_vec(), state).is_none() {
            inner.order.push_back(session_id.to_vec());
        }
        while inner.map.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.map.remove(&oldest);
        }
    }

    pub fn get(&self, session_id: &[u8]) -> Option<Tls12State> {
        self.inner.lock().ok()?.map.get(session_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.map.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self::new(1024)
    }
}

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;

    fn state(b: u8) -> Tls12State {
        Tls12State {
            cipher_suite: 0x009c,
            master_secret: Zeroizing::new([b; 48]),
            issued: 0,
            extended_master_secret: true,
            encrypt_then_mac: false,
            server_name: None,
        }
    }

    #[test]
    fn session_cache_forgets_the_oldest() {
        let cache = SessionCache::new(2);
        cache.insert(&[1], state(1));
        cache.insert(&[2], state(2));
        cache.insert(&[3], state(3));
        assert!(cache.get(&[1]).is_none());
        assert_eq!(cache.get(&[3]).unwrap().master_secret[0], 3);
        assert_eq!(cache.len(), 2);
    }
}
