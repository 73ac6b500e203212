//! Where the server's ephemeral (EC)DH keys come from: a fresh key per handshake (the default;
//! the key is zeroized when the handshake drops it), or one key reused for a while — the
//! shortcut Springall et al. (IMC 2016, "Measuring the Security Harm of TLS Crypto Shortcuts")
//! measured on real servers. A reused key stays in memory, and it opens every session it served.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::ffdh::{DhError, DhGroup, DhKey};
use crate::crypto::kx::{self, KxError, KxGroup, ServerShare};
use crate::crypto::rng::LabRng;

/// How long one ephemeral key serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyLifetime {
    /// A new key for every handshake (forward secrecy as designed).
    #[default]
    PerHandshake,
    /// One key until it is this old, then a new one.
    For(Duration),
    /// One key for the life of the process.
    Forever,
}

impl KeyLifetime {
    /// `60s`, `10m`, `2h`, a plain number of seconds, or `forever`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t == "forever" {
            return Ok(Self::Forever);
        }
        let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
            Some(i) => t.split_at(i),
            None => (t, "s"),
        };
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("{text:?}: expected e.g. 60s, 10m, 2h or forever"))?;
        let secs = match unit {
            "s" => n,
            "m" => n.saturating_mul(60),
            "h" => n.saturating_mul(3600),
            _ => {
                return Err(format!(
                    "{text:?}: the unit must be s, m or h (or say forever)"
                ))
            }
        };
        if secs == 0 {
            return Err(format!(
                "{text:?}: a key that lives 0 s is a fresh key per handshake; leave the option out"
            ));
        }
        Ok(Self::For(Duration::from_secs(secs)))
    }
}

/// The server's source of ephemeral keys, shared by all its connections, and the TLS 1.3
/// groups it makes them in.
pub struct Ephemerals {
    lifetime: KeyLifetime,
    /// TLS 1.3 key-share groups, in the server's order of preference.
    groups: Vec<KxGroup>,
    ecdhe: Mutex<Option<(Instant, Arc<EphemeralKey>)>>,
    dhe: Mutex<Option<(Instant, Arc<DhKey>)>>,
}

impl Default for Ephemerals {
    /// Fresh keys, and TLS 1.3 in secp256r1 only, as before the other groups existed: a peer's
    /// X25519 share is answered with a HelloRetryRequest for secp256r1.
    fn default() -> Self {
        Self {
            lifetime: KeyLifetime::default(),
            groups: vec![KxGroup::P256],
            ecdhe: Mutex::new(None),
            dhe: Mutex::new(None),
        }
    }
}

impl Ephemerals {
    pub fn new(lifetime: KeyLifetime) -> Self {
        Self {
            lifetime,
            ..Self::default()
        }
    }

    /// The TLS 1.3 groups to accept; they are preferred hybrid first, then X25519, then
    /// P-256, whatever order they are given in. An empty list keeps the default.
    pub fn with_groups(mut self, groups: &[KxGroup]) -> Self {
        let chosen: Vec<KxGroup> = KxGroup::PREFERENCE
            .into_iter()
            .filter(|g| groups.contains(g))
            .collect();
        if !chosen.is_empty() {
            self.groups = chosen;
        }
        self
    }

    /// The TLS 1.3 groups, most preferred first.
    pub fn groups(&self) -> &[KxGroup] {
        &self.groups
    }

    /// The server's key share answering a client's share in `group`: P-256 through the
    /// lifetime policy above, X25519 and the hybrid fresh every handshake.
    pub fn respond(
        &self,
        group: KxGroup,
        client: &[u8],
        rng: &mut LabRng,
    ) -> Result<ServerShare, KxError> {
        match group {
            KxGroup::P256 => {
                let key = FastP256::new(self.ecdhe(rng));
                let shared = key.agree(client).map_err(KxError::P256)?;
                Ok(ServerShare {
                    public: key.public_sec1(),
                    shared,
                })
            }
            other => kx::server_respond(other, client, rng),
        }
    }

    pub fn lifetime(&self) -> KeyLifetime {
        self.lifetime
    }

    /// The P-256 key for this handshake (TLS 1.2 ECDHE and TLS 1.3 key shares).
    pub fn ecdhe(&self, rng: &mut LabRng) -> Arc<EphemeralKey> {
        if self.lifetime == KeyLifetime::PerHandshake {
            return Arc::new(EphemeralKey::generate(rng));
        }
        let mut held = self.ecdhe.lock().unwrap_or_else(|p| p.into_inner());
        match &*held {
            Some((made, key)) if self.fresh_enough(*made) => key.clone(),
            _ => {
                let key = Arc::new(EphemeralKey::generate(rng));
                *held = Some((Instant::now(), key.clone()));
                key
            }
        }
    }

    /// The finite-field key for this handshake (TLS 1.2 DHE) in `group`.
    pub fn dhe(&self, group: &DhGroup, rng: &mut LabRng) -> Result<Arc<DhKey>, DhError> {
        if self.lifetime == KeyLifetime::PerHandshake {
            return DhKey::generate(group, rng).map(Arc::new);
        }
        let mut held = self.dhe.lock().unwrap_or_else(|p| p.into_inner());
        match &*held {
            Some((made, key)) if self.fresh_enough(*made) && key.group().p() == group.p() => {
                Ok(key.clone())
            }
            _ => {
                let key = Arc::new(DhKey::generate(group, rng)?);
                *held = Some((Instant::now(), key.clone()));
                Ok(key)
            }
        }
    }

    /// The reused P-256 key, if one is held (tests read its scalar).
    #[cfg(test)]
    pub(crate) fn held_ecdhe(&self) -> Option<Arc<EphemeralKey>> {
        self.ecdhe
            .lock()
            .ok()
            .and_then(|h| h.as_ref().map(|(_, k)| k.clone()))
    }

    fn fresh_enough(&self, made: Instant) -> bool {
        match self.lifetime {
            KeyLifetime::PerHandshake => false,
            KeyLifetime::Forever => true,
            KeyLifetime::For(d) => made.elapsed() < d,
        }
    }
}

/// A P-256 ephemeral key whose point multiplications run on AWS-LC (issue 20): the scalar is
/// the one [`EphemeralKey`] drew from the connection's generator (seeded runs keep their
/// bytes; a memory dump still finds it), only the arithmetic moves — about 5× the p256 crate's
/// speed here. AWS-LC clears its copy of the scalar when the key is freed.
pub(super) struct FastP256 {
    key: Arc<EphemeralKey>,
    /// `None` only if AWS-LC refused the scalar (it does not: 0 < scalar < n); then the p256
    /// crate does the work.
    lc: Option<aws_lc_rs::agreement::PrivateKey>,
}

impl FastP256 {
    pub(super) fn new(key: Arc<EphemeralKey>) -> Self {
        let lc = aws_lc_rs::agreement::PrivateKey::from_private_key(
            &aws_lc_rs::agreement::ECDH_P256,
            &key.scalar_be(),
        )
        .ok();
        Self { key, lc }
    }

    /// The public point, uncompressed SEC1 (RFC 8422 §5.4).
    pub(super) fn public_sec1(&self) -> Vec<u8> {
        self.lc
            .as_ref()
            .and_then(|lc| lc.compute_public_key().ok())
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_else(|| self.key.public_sec1())
    }

    /// The premaster: the x-coordinate of scalar × peer point (RFC 8422 §5.10), as
    /// [`EphemeralKey::agree`] (an uncompressed point on the curve, else an error).
    pub(super) fn agree(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        let Some(lc) = &self.lc else {
            return self.key.agree(peer_public);
        };
        if peer_public.len() != crate::crypto::ecdh::POINT_LEN || peer_public.first() != Some(&0x04)
        {
            return Err(format!(
                "ECDH public value of {} bytes is not an uncompressed P-256 point",
                peer_public.len()
            ));
        }
        // AWS-LC checks that the point is on the curve (SEC 1 §3.2.2.1).
        let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(
            &aws_lc_rs::agreement::ECDH_P256,
            peer_public,
        );
        aws_lc_rs::agreement::agree(
            lc,
            peer,
            "ECDH public value is not a point on P-256".to_string(),
            |shared| Ok(Zeroizing::new(shared.to_vec())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng;

    #[test]
    fn aws_lc_p256_matches_the_p256_crate() {
        let mut r = rng::from_seed(20, "fast p256");
        for _ in 0..4 {
            let ours = Arc::new(EphemeralKey::generate(&mut r));
            let peer = EphemeralKey::generate(&mut r);
            let fast = FastP256::new(ours.clone());
            assert!(fast.lc.is_some());
            assert_eq!(fast.public_sec1(), ours.public_sec1());
            let shared = fast.agree(&peer.public_sec1()).expect("agree");
            assert_eq!(*shared, *ours.agree(&peer.public_sec1()).expect("agree"));
            assert_eq!(*shared, *peer.agree(&fast.public_sec1()).expect("agree"));
            // Off the curve, compressed, truncated: the same errors as the p256 crate's.
            let mut off = peer.public_sec1();
            off[64] ^= 1;
            let mut compressed = peer.public_sec1()[..33].to_vec();
            compressed[0] = 0x02;
            for bad in [
                off,
                compressed,
                peer.public_sec1()[..64].to_vec(),
                Vec::new(),
            ] {
                assert_eq!(fast.agree(&bad).err(), ours.agree(&bad).err());
                assert!(fast.agree(&bad).is_err());
            }
        }
    }

    #[test]
    fn lifetimes_parse() {
        assert_eq!(KeyLifetime::parse("forever"), Ok(KeyLifetime::Forever));
        assert_eq!(
            KeyLifetime::parse("10m"),
            Ok(KeyLifetime::For(Duration::from_secs(600)))
        );
        assert_eq!(
            KeyLifetime::parse("60"),
            Ok(KeyLifetime::For(Duration::from_secs(60)))
        );
        assert!(KeyLifetime::parse("0s").is_err());
        assert!(KeyLifetime::parse("5d").is_err());
        assert!(KeyLifetime::parse("s").is_err());
    }

    #[test]
    fn reuse_keeps_one_key_and_fresh_makes_new_ones() {
        let mut r = rng::from_seed(1, "eph");
        let fresh = Ephemerals::default();
        assert_ne!(
            fresh.ecdhe(&mut r).public_sec1(),
            fresh.ecdhe(&mut r).public_sec1()
        );
        let reuse = Ephemerals::new(KeyLifetime::Forever);
        assert_eq!(
            reuse.ecdhe(&mut r).public_sec1(),
            reuse.ecdhe(&mut r).public_sec1()
        );
        let group = DhGroup::ffdhe2048();
        let a = reuse.dhe(&group, &mut r).unwrap();
        let b = reuse.dhe(&group, &mut r).unwrap();
        assert_eq!(a.public(), b.public());
    }
}
