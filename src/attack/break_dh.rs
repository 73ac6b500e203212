//! `attack --break-dh`: the discrete log of a DHE public value when the group's p−1 is smooth
//! (Pohlig–Hellman, [`crate::crypto::dhsmooth`]), then the premaster g^xy (RFC 5246 §8.1.2).
//! A safe prime (p−1 = 2q, RFC 7919) stops it: the reason says what it would cost.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use num_bigint::BigUint;
use zeroize::Zeroizing;

use crate::crypto::dhsmooth::dlog::{pohlig_hellman, DlogError};
use crate::crypto::dhsmooth::{factor, Factorization};

/// The factorisation of p−1 per group seen, shared by the worker threads: a capture usually
/// holds many sessions in one group, and factoring is the slow part.
#[derive(Debug, Default)]
pub struct GroupCache {
    factored: Mutex<HashMap<Vec<u8>, Arc<Factorization>>>,
    /// The discrete log last worked on: primes of ord(g) solved, and in all (for a progress
    /// display; with several sessions at once, whichever reported last).
    pub primes_done: AtomicUsize,
    pub primes_total: AtomicUsize,
}

impl GroupCache {
    fn factor_p_minus_1(&self, p: &[u8]) -> Arc<Factorization> {
        if let Some(f) = self.factored.lock().ok().and_then(|m| m.get(p).cloned()) {
            return f;
        }
        let n = BigUint::from_bytes_be(p) - 1u32;
        let f = Arc::new(factor(&n, RHO_BUDGET));
        if let Ok(mut m) = self.factored.lock() {
            m.insert(p.to_vec(), f.clone());
        }
        f
    }
}

/// Pollard rho steps allowed past the last split of p−1: finds prime factors up to ~42 bits
/// (one walk splits them all, see `crate::crypto::dhsmooth::factor`).
pub const RHO_BUDGET: u64 = 1 << 21;
/// Largest prime factor of ord(g) walked by baby-step giant-step: 2^22 table entries of 16
/// bytes (64 MiB) per core, ~2^22.6 multiplications per prime.
pub const MAX_PRIME_BITS: u64 = 44;

/// What broke: whose exponent, and the shape of p−1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenDlog {
    /// "server" or "client": whose DH public value gave up its exponent.
    pub party: &'static str,
    /// Distinct primes of p−1.
    pub primes: usize,
    /// Bits of the largest.
    pub largest_bits: u64,
}

/// Recovers the premaster of a DHE exchange, or says why not.
pub fn break_dhe(
    cache: &GroupCache,
    p: &[u8],
    g: &[u8],
    server_public: &[u8],
    client_public: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, BrokenDlog), String> {
    let (pn, gn) = (BigUint::from_bytes_be(p), BigUint::from_bytes_be(g));
    if pn.bits() < 3 || client_public.is_empty() || server_public.is_empty() {
        return Err("the capture lacks the group or the client's public value".into());
    }
    let order = cache.factor_p_minus_1(p);
    let largest = order.largest_bits();
    let mut last = None;
    for (party, mine, theirs) in [
        ("server", server_public, client_public),
        ("client", client_public, server_public),
    ] {
        let y = BigUint::from_bytes_be(mine);
        let progress = |done: usize, total: usize| {
            cache.primes_total.store(total, Ordering::Relaxed);
            cache.primes_done.store(done, Ordering::Relaxed);
        };
        match pohlig_hellman(&gn, &y, &pn, order.as_ref(), MAX_PRIME_BITS, progress) {
            Ok(x) => {
                // pohlig_hellman checked g^x = Y; the premaster is Y_peer^x, leading zero bytes
                // stripped (RFC 5246 §8.1.2).
                let z = BigUint::from_bytes_be(theirs).modpow(&x, &pn);
                let pms = Zeroizing::new(z.to_bytes_be());
                let info = BrokenDlog {
                    party,
                    primes: order.primes.len(),
                    largest_bits: largest,
                };
                return Ok((pms, info));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(DlogError::PrimeTooLarge { bits, .. }) if order.complete() => format!(
            "the largest prime factor of p-1 has {bits} bits: Pohlig-Hellman would need ~2^{} group operations",
            bits / 2
        ),
        Some(DlogError::LargeFactor { bits }) => format!(
            "p-1 has a part of {bits} bits that Pollard rho did not split within {RHO_BUDGET} steps (factors of p-1 found: {}); if it is prime, Pohlig-Hellman there costs ~2^{} group operations",
            order.primes.len(),
            bits / 2
        ),
        Some(e) => e.to_string(),
        None => "no discrete log found".into(),
    })
}
