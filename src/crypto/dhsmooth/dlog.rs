//! Pohlig–Hellman in (Z/pZ)*: baby-step giant-step per prime, Hensel lifting per prime power,
//! and the Chinese remainder theorem to put the pieces together (Pohlig & Hellman 1978;
//! Menezes et al., Handbook of Applied Cryptography, Alg. 3.63).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use num_bigint::BigUint;
use num_traits::{One, ToPrimitive, Zero};

use super::monty::Monty;
use super::Factorization;

/// Why a discrete log was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlogError {
    /// The factorisation of the group order is not complete; the attack would need to walk a
    /// subgroup of this many bits.
    LargeFactor { bits: u64 },
    /// A prime factor of ord(g) is above the caller's baby-step giant-step bound.
    PrimeTooLarge { bits: u64, max_bits: u64 },
    /// y is not a power of g.
    NotInSubgroup,
}

impl std::fmt::Display for DlogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::LargeFactor { bits } => write!(
                f,
                "the group order has an unfactored part of {bits} bits: up to ~2^{} group operations",
                bits / 2
            ),
            Self::PrimeTooLarge { bits, max_bits } => write!(
                f,
                "a prime factor of the order has {bits} bits (this tool walks at most {max_bits}): \
                 ~2^{} group operations",
                bits / 2
            ),
            Self::NotInSubgroup => write!(f, "the public value is not a power of g"),
        }
    }
}

impl std::error::Error for DlogError {}

/// Baby-step giant-step: x in [0, q) with gamma^x = h (mod p), where gamma has order q.
/// About √(2q) multiplications on average and √(q/2) table entries (m = √(q/2) balances
/// m baby steps against the q/2m giant steps expected).
pub fn bsgs(gamma: &BigUint, h: &BigUint, q: u64, p: &BigUint) -> Option<u64> {
    bsgs_monty(&Monty::new(p)?, gamma, h, q)
}

/// [`bsgs`] with the modulus's Montgomery context. The table holds (low limb of γ^j in
/// Montgomery form, j), sorted; a giant step whose low limb matches is confirmed with a
/// modular power before it is returned, so a 64-bit collision cannot give a wrong answer.
pub fn bsgs_monty(mo: &Monty, gamma: &BigUint, h: &BigUint, q: u64) -> Option<u64> {
    if q == 0 {
        return None;
    }
    let p = mo.modulus();
    let m = (q as f64 / 2.0).sqrt().ceil() as u64 + 1;
    let giants = q / m + 1;
    let g_m = mo.to_monty(gamma);
    let mut e = mo.one();
    let mut next = vec![0u64; mo.len()];
    let mut table: Vec<(u64, u64)> = Vec::with_capacity(m as usize);
    for j in 0..m {
        table.push((e.first().copied().unwrap_or(0), j));
        mo.mul(&e, &g_m, &mut next);
        std::mem::swap(&mut e, &mut next);
    }
    table.sort_unstable();
    // gamma^-m = gamma^(q - m mod q)
    let step = mo.to_monty(&gamma.modpow(&BigUint::from((q - m % q) % q), p));
    let target = h % p;
    let mut y = mo.to_monty(h);
    for i in 0..=giants {
        let key = y.first().copied().unwrap_or(0);
        let from = table.partition_point(|(k, _)| *k < key);
        for (_, j) in table.iter().skip(from).take_while(|(k, _)| *k == key) {
            let x = ((i as u128 * m as u128 + *j as u128) % q as u128) as u64;
            if gamma.modpow(&BigUint::from(x), p) == target {
                return Some(x);
            }
        }
        mo.mul(&y, &step, &mut next);
        std::mem::swap(&mut y, &mut next);
    }
    None
}

/// log_g(y) mod ord(g) in (Z/pZ)*, given the factorisation of p−1 (or of any multiple of
/// ord(g)). Prime factors above `max_prime_bits` are refused (baby-step giant-step would need
/// ~2^(bits/2) memory). The primes are independent: they are solved on every core
/// (`available_parallelism`), and put together in the factorisation's order, so the answer
/// does not depend on scheduling. `progress` is called with (primes done, total) as each
/// finishes, from any of the worker threads.
pub fn pohlig_hellman(
    g: &BigUint,
    y: &BigUint,
    p: &BigUint,
    order: &Factorization,
    max_prime_bits: u64,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<BigUint, DlogError> {
    if !order.complete() {
        return Err(DlogError::LargeFactor {
            bits: order.cofactor.bits(),
        });
    }
    let mo = Monty::new(p).ok_or(DlogError::NotInSubgroup)?;
    let n = order.product();
    let total = order.primes.len();
    // A prime too large to walk stops everything, before any walking, if it divides ord(g).
    for (q, _) in &order.primes {
        if q.bits() > max_prime_bits.min(64) && !g.modpow(&(&n / q), p).is_one() {
            return Err(DlogError::PrimeTooLarge {
                bits: q.bits(),
                max_bits: max_prime_bits,
            });
        }
    }
    progress(0, total);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = std::thread::available_parallelism()
        .map(|c| c.get())
        .unwrap_or(1)
        .clamp(1, total.max(1));
    let mut results: Vec<(usize, PrimeResult)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let idx = next.fetch_add(1, Ordering::Relaxed);
                        let Some((q, e)) = order.primes.get(idx) else {
                            break;
                        };
                        let r = solve_prime_power(&mo, g, y, &n, q, *e, max_prime_bits);
                        if r.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        mine.push((idx, r));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|(idx, _)| *idx);
    let mut residues = Vec::with_capacity(results.len());
    for (_, r) in results {
        if let Some(res) = r? {
            residues.push(res);
        }
    }
    let x = crt(&residues);
    if g.modpow(&x, p) != y % p {
        return Err(DlogError::NotInSubgroup);
    }
    Ok(x)
}

/// log of y's component in the q-part: (x mod q^f, q^f) with q^f the exact power of q in ord(g),
/// or `None` when q does not divide ord(g).
type PrimeResult = Result<Option<(BigUint, BigUint)>, DlogError>;

fn solve_prime_power(
    mo: &Monty,
    g: &BigUint,
    y: &BigUint,
    n: &BigUint,
    q: &BigUint,
    e: u32,
    max_prime_bits: u64,
) -> PrimeResult {
    let p = mo.modulus();
    let qe = q.pow(e);
    let cof = n / &qe;
    let gi = g.modpow(&cof, p);
    let yi = y.modpow(&cof, p);
    // The exact power of q in ord(g): gi has order q^f with f ≤ e.
    let mut f = 0u32;
    let mut t = gi.clone();
    while !t.is_one() {
        t = t.modpow(q, p);
        f += 1;
        if f > e {
            return Err(DlogError::NotInSubgroup);
        }
    }
    if f == 0 {
        if !yi.is_one() {
            return Err(DlogError::NotInSubgroup);
        }
        return Ok(None);
    }
    if q.bits() > max_prime_bits {
        return Err(DlogError::PrimeTooLarge {
            bits: q.bits(),
            max_bits: max_prime_bits,
        });
    }
    let qs = q.to_u64().ok_or(DlogError::PrimeTooLarge {
        bits: q.bits(),
        max_bits: 64,
    })?;
    // gi has order q^f; reduce to that subgroup and lift digit by digit (HAC 3.63).
    let gamma = gi.modpow(&q.pow(f - 1), p);
    let gi_inv = modinv(&gi, p);
    let mut x = BigUint::zero();
    let mut qk = BigUint::one();
    for k in 0..f {
        let hk = (&yi * gi_inv.modpow(&x, p)) % p;
        let hk = hk.modpow(&q.pow(f - 1 - k), p);
        let d = bsgs_monty(mo, &gamma, &hk, qs).ok_or(DlogError::NotInSubgroup)?;
        x += &qk * d;
        qk *= q;
    }
    Ok(Some((x, q.pow(f))))
}

/// a^-1 mod p for prime p (Fermat).
fn modinv(a: &BigUint, p: &BigUint) -> BigUint {
    a.modpow(&(p - 2u32), p)
}

/// The x mod ∏mᵢ with x ≡ rᵢ (mod mᵢ), for pairwise coprime mᵢ (Garner-free textbook CRT).
pub fn crt(residues: &[(BigUint, BigUint)]) -> BigUint {
    let m: BigUint = residues.iter().map(|(_, mi)| mi).product();
    let mut x = BigUint::zero();
    for (ri, mi) in residues {
        let ni = &m / mi;
        // ni^-1 mod mi via extended Euclid on signed integers.
        let inv = inverse_mod(&(&ni % mi), mi);
        x += ri * &ni * inv;
    }
    x % m
}

fn inverse_mod(a: &BigUint, m: &BigUint) -> BigUint {
    use num_bigint::BigInt;
    use num_integer::Integer;
    let e = BigInt::from(a.clone()).extended_gcd(&BigInt::from(m.clone()));
    let mi = BigInt::from(m.clone());
    let x = ((e.x % &mi) + &mi) % &mi;
    x.to_biguint().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::dhsmooth::factor;

    #[test]
    fn bsgs_small() {
        // 2 generates (Z/101)*, order 100; 2^37 mod 101.
        let p = BigUint::from(101u32);
        let g = BigUint::from(2u32);
        let h = g.modpow(&BigUint::from(37u32), &p);
        assert_eq!(bsgs(&g, &h, 100, &p), Some(37));
    }

    #[test]
    fn crt_known_answer() {
        // x ≡ 2 (3), 3 (5), 2 (7) → 23 (Sunzi).
        let r = [(2u32, 3u32), (3, 5), (2, 7)].map(|(a, b)| (BigUint::from(a), BigUint::from(b)));
        assert_eq!(crt(&r), BigUint::from(23u32));
    }

    #[test]
    fn ph_on_a_smooth_prime_with_prime_powers() {
        // p = 2·3^5·5^2·7·11·13·17 + 1? Use a known smooth prime: p − 1 = 2^4·3^2·5·7·11·13.
        // Search a small prime with smooth p−1 instead of hard-coding.
        let base = BigUint::from(2u32.pow(4) * 9 * 5 * 7 * 11 * 13);
        let mut k = 1u32;
        let p = loop {
            let c = &base * k + 1u32;
            if crate::crypto::dhsmooth::is_probable_prime(&c) {
                break c;
            }
            k += 1;
        };
        let order = factor(&(&p - 1u32), 1 << 16);
        assert!(order.complete());
        // A generator: g with g^((p−1)/q) ≠ 1 for every q.
        let n = &p - 1u32;
        let g = (2u32..)
            .map(BigUint::from)
            .find(|g| {
                order
                    .primes
                    .iter()
                    .all(|(q, _)| !g.modpow(&(&n / q), &p).is_one())
            })
            .unwrap();
        for x in [0u64, 1, 12_345, 99_999] {
            let x = BigUint::from(x) % &n;
            let y = g.modpow(&x, &p);
            let got = pohlig_hellman(&g, &y, &p, &order, 32, |_, _| {}).unwrap();
            assert_eq!(got, x);
        }
    }

    #[test]
    fn ph_in_a_subgroup_and_a_256_bit_smooth_prime() {
        // p−1 = 2·∏ of 16-bit primes, found deterministically; g = 4 lies in a subgroup.
        let mut qs = Vec::new();
        let mut c = 40_000u64;
        while qs.len() < 14 {
            c += 1;
            if crate::crypto::dhsmooth::is_probable_prime(&BigUint::from(c)) {
                qs.push(c);
            }
        }
        // p = 2·k·∏q + 1 for the first k that gives a prime (k is small, so p−1 stays smooth).
        let prod: BigUint = qs.iter().map(|q| BigUint::from(*q)).product();
        let p = (1u32..10_000)
            .map(|k| &prod * 2u32 * k + 1u32)
            .find(crate::crypto::dhsmooth::is_probable_prime)
            .unwrap();
        let order = factor(&(&p - 1u32), 1 << 16);
        assert!(order.complete());
        let g = BigUint::from(4u32);
        let x = BigUint::from(0xDEAD_BEEF_CAFEu64);
        let y = g.modpow(&x, &p);
        let got = pohlig_hellman(&g, &y, &p, &order, 20, |_, _| {}).unwrap();
        assert_eq!(g.modpow(&got, &p), y);
        // A 16-bit prime above a 15-bit walking bound is refused with its size.
        assert!(matches!(
            pohlig_hellman(&g, &y, &p, &order, 15, |_, _| {}),
            Err(DlogError::PrimeTooLarge { bits: 16, .. })
        ));
    }

    #[test]
    fn ph_refuses_an_incomplete_factorisation() {
        let p = BigUint::from(1_000_003u32);
        let partial = Factorization {
            primes: vec![(BigUint::from(2u32), 1)],
            cofactor: BigUint::from(500_001u32),
        };
        let err = pohlig_hellman(
            &BigUint::from(2u32),
            &BigUint::from(8u32),
            &p,
            &partial,
            32,
            |_, _| {},
        );
        assert_eq!(err, Err(DlogError::LargeFactor { bits: 19 }));
    }
}
