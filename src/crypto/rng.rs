//! Injectable randomness. Every random byte pfslab uses comes from a `LabRng`: seeded from the
//! OS normally, or from `--seed N` so captures are reproducible byte for byte.

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

pub type LabRng = ChaCha20Rng;

/// A generator seeded from the operating system.
pub fn from_os() -> LabRng {
    let mut seed = [0u8; 32];
    rand::rng().fill_bytes(&mut seed);
    ChaCha20Rng::from_seed(seed)
}

/// A generator that depends only on `seed` and a purpose label, so independent users of one
/// seed (key generation, each connection, …) draw independent streams.
pub fn from_seed(seed: u64, purpose: &str) -> LabRng {
    let mut h = Sha256::new();
    h.update(b"pfslab rng v1\0");
    h.update(seed.to_be_bytes());
    h.update(purpose.as_bytes());
    let digest: [u8; 32] = h.finalize().into();
    ChaCha20Rng::from_seed(digest)
}

/// `from_seed` when a seed was given, else `from_os`.
pub fn for_purpose(seed: Option<u64>, purpose: &str) -> LabRng {
    match seed {
        Some(s) => from_seed(s, purpose),
        None => from_os(),
    }
}

/// A child generator drawn from a parent (per-connection streams from a server's generator).
pub fn fork(parent: &mut LabRng) -> LabRng {
    let mut seed = [0u8; 32];
    parent.fill_bytes(&mut seed);
    ChaCha20Rng::from_seed(seed)
}

pub fn random_array<const N: usize>(rng: &mut LabRng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat_and_differ_by_purpose() {
        let a: [u8; 16] = random_array(&mut from_seed(7, "x"));
        let b: [u8; 16] = random_array(&mut from_seed(7, "x"));
        let c: [u8; 16] = random_array(&mut from_seed(7, "y"));
        let d: [u8; 16] = random_array(&mut from_seed(8, "x"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        let e: [u8; 16] = random_array(&mut from_os());
        let f: [u8; 16] = random_array(&mut from_os());
        assert_ne!(e, f);
    }
}
