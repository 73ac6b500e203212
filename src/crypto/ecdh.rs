//! Ephemeral P-256 Diffie–Hellman for ECDHE suites (RFC 8422 §5.10).
//!
//! The secret is a `p256::SecretKey` rather than `ecdh::EphemeralSecret` so a lesson can dump it
//! deliberately; it is still zeroized when dropped.

use p256::{PublicKey, SecretKey};
use zeroize::Zeroizing;

use crate::crypto::rng::LabRng;

/// Uncompressed SEC1 point: 0x04 ‖ X(32) ‖ Y(32).
pub const POINT_LEN: usize = 65;

pub struct EphemeralKey {
    secret: SecretKey,
}

impl EphemeralKey {
    pub fn generate(rng: &mut LabRng) -> Self {
        Self {
            secret: <SecretKey as rsa::Generate>::generate_from_rng(rng),
        }
    }

    /// The key whose private scalar is `be` (32 bytes big-endian, SEC1 §2.3.7); `None` when it
    /// is 0 or not below the group order n. For an attacker holding a scalar found in memory.
    pub fn from_scalar_be(be: &[u8]) -> Option<Self> {
        SecretKey::from_slice(be).ok().map(|secret| Self { secret })
    }

    /// The private scalar, 32 bytes big-endian (SEC1 §2.3.7): for the discrete-log stand-in
    /// file, and for tests that plant it in memory images.
    pub fn scalar_be(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.secret.to_bytes().to_vec())
    }

    /// The public point as it crosses the wire.
    pub fn public_sec1(&self) -> Vec<u8> {
        self.secret.public_key().to_sec1_bytes().to_vec()
    }

    /// The premaster secret: the x-coordinate of secret × peer point (RFC 8422 §5.10).
    /// A point that is not uncompressed, or not on the curve, is an error.
    pub fn agree(&self, peer_public: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        let peer = parse_point(peer_public)?;
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), peer.as_affine());
        Ok(Zeroizing::new(shared.raw_secret_bytes().to_vec()))
    }
}

/// Parses an uncompressed P-256 point and checks it lies on the curve.
pub fn parse_point(bytes: &[u8]) -> Result<PublicKey, String> {
    if bytes.len() != POINT_LEN || bytes.first() != Some(&0x04) {
        return Err(format!(
            "ECDH public value of {} bytes is not an uncompressed P-256 point",
            bytes.len()
        ));
    }
    PublicKey::from_sec1_bytes(bytes)
        .map_err(|_| "ECDH public value is not a point on P-256".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_agree_and_bad_points_fail() {
        let mut rng = crate::crypto::rng::from_seed(1, "ecdh");
        let a = EphemeralKey::generate(&mut rng);
        let b = EphemeralKey::generate(&mut rng);
        assert_eq!(a.public_sec1().len(), POINT_LEN);
        let ab = a.agree(&b.public_sec1()).unwrap();
        let ba = b.agree(&a.public_sec1()).unwrap();
        assert_eq!(*ab, *ba);
        assert_eq!(ab.len(), 32);
        let mut off_curve = b.public_sec1();
        off_curve[64] ^= 1;
        assert!(a.agree(&off_curve).is_err());
        assert!(a.agree(&[4; 10]).is_err());
        assert!(a.agree(&[]).is_err());
    }
}
