//! What the victim could have noticed: the facts behind the mitm's closing summary and the
//! lesson "after the theft". Each field is something checked on this run, not a claim.

use sha2::{Digest, Sha256};

use crate::suites::KeyExchange;

use super::Intercepted;

/// How the victims' sessions were keyed, and what the certificate comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VictimView {
    /// SHA-256 of the leaf certificate the mitm presented (the `--cert` file's first).
    pub presented_sha256: [u8; 32],
    /// SHA-256 of the leaf the real server sent to the mitm, if an upstream handshake
    /// completed; `None` when none did (nothing was compared).
    pub real_sha256: Option<[u8; 32]>,
    /// The whole chain the mitm presented equals, byte for byte, the chain the real server sent.
    pub chain_identical: Option<bool>,
    /// The mitm checked the real server's certificate (it was not told to skip the check).
    pub upstream_verified: bool,
    /// Victim handshakes that completed with the stolen key, by key exchange.
    pub victims_rsa: u64,
    pub victims_ecdhe: u64,
    pub victims_dhe: u64,
    pub victims_tls13: u64,
    /// Victim handshakes that failed (for example a victim that rejected the certificate).
    pub victims_failed: u64,
}

impl VictimView {
    /// Sums up `connections`, given the chain the mitm presents and whether it verified the
    /// real server.
    pub fn new(
        presented_chain: &[Vec<u8>],
        upstream_verified: bool,
        connections: &[&Intercepted],
    ) -> Self {
        let mut v = VictimView {
            presented_sha256: presented_chain
                .first()
                .map(|c| sha256(c))
                .unwrap_or_default(),
            upstream_verified,
            ..VictimView::default()
        };
        for c in connections {
            match c.victim_session.as_ref().and_then(|s| s.suite) {
                Some(s) => match s.key_exchange {
                    KeyExchange::Rsa => v.victims_rsa += 1,
                    KeyExchange::EcdheRsa => v.victims_ecdhe += 1,
                    KeyExchange::DheRsa => v.victims_dhe += 1,
                    KeyExchange::Tls13 => v.victims_tls13 += 1,
                },
                None => v.victims_failed += 1,
            }
            let real = c
                .upstream_session
                .as_ref()
                .map(|s| s.server_certificates.as_slice())
                .filter(|chain| !chain.is_empty());
            if let Some(real) = real {
                let same = real == presented_chain;
                v.real_sha256 = real.first().map(|c| sha256(c));
                v.chain_identical = Some(v.chain_identical.unwrap_or(true) && same);
            }
        }
        v
    }

    /// Victim handshakes that completed.
    pub fn victims(&self) -> u64 {
        self.victims_rsa + self.victims_ecdhe + self.victims_dhe + self.victims_tls13
    }

    /// Completed victim sessions with an ephemeral key exchange (forward-secret).
    pub fn forward_secret(&self) -> u64 {
        self.victims_ecdhe + self.victims_dhe + self.victims_tls13
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::conn::SessionSummary;
    use crate::suites;

    fn conn(victim: Option<suites::Suite>, real_chain: Vec<Vec<u8>>) -> Intercepted {
        Intercepted {
            number: 0,
            victim: "127.0.0.1:1".parse().unwrap(),
            victim_session: victim.map(|s| SessionSummary {
                suite: Some(s),
                ..SessionSummary::default()
            }),
            upstream_session: Some(SessionSummary {
                server_certificates: real_chain,
                ..SessionSummary::default()
            }),
            to_server: Vec::new(),
            to_victim: Vec::new(),
            outcome: Ok(()),
        }
    }

    #[test]
    fn test_identical_and_different_chains() {
        let ours = vec![b"leaf".to_vec(), b"ca".to_vec()];
        let same = conn(Some(suites::TLS13_AES_128_GCM_SHA256), ours.clone());
        let v = VictimView::new(&ours, true, &[&same]);
        assert_eq!(v.chain_identical, Some(true));
        assert_eq!(v.real_sha256, Some(v.presented_sha256));
        assert_eq!(
            (v.victims_tls13, v.forward_secret(), v.victims()),
            (1, 1, 1)
        );
        let other = conn(None, vec![b"other leaf".to_vec()]);
        let v = VictimView::new(&ours, true, &[&same, &other]);
        assert_eq!(v.chain_identical, Some(false));
        assert_eq!(v.victims_failed, 1);
        let none = VictimView::new(&ours, false, &[]);
        assert_eq!((none.chain_identical, none.real_sha256), (None, None));
    }
}
