//! A backdoored finite-field group for the lab: a prime p whose p−1 = 2·∏qᵢ splits into small
//! distinct primes qᵢ, and g of order divisible by every qᵢ. Whoever knows the qᵢ takes any
//! discrete log with Pohlig–Hellman; to everyone else p looks like any other 2048-bit prime
//! (finding the qᵢ from p alone is as hard as factoring p−1: cheap only because they are small).

use num_bigint::BigUint;
use num_traits::One;
use rand::Rng;

use super::is_probable_prime;

/// Why a backdoored group could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackdoorError {
    /// Sizes outside what the construction supports.
    BadSize(String),
    /// No prime found within the attempt budget (should not happen for supported sizes).
    GaveUp,
}

impl std::fmt::Display for BackdoorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadSize(s) => write!(f, "{s}"),
            Self::GaveUp => write!(f, "no prime p found within the attempt budget"),
        }
    }
}

impl std::error::Error for BackdoorError {}

/// The group and the instructor's secret: the odd prime factors of p−1.
#[derive(Debug, Clone)]
pub struct BackdoorGroup {
    pub p: BigUint,
    pub g: BigUint,
    /// The distinct odd primes qᵢ with p − 1 = 2·∏qᵢ, ascending.
    pub factors: Vec<BigUint>,
}

/// A random prime of exactly `bits` bits (top bit set).
fn random_prime(bits: u64, rng: &mut impl Rng) -> BigUint {
    loop {
        let mut bytes = vec![0u8; bits.div_ceil(8) as usize];
        rng.fill_bytes(&mut bytes);
        let mut c = BigUint::from_bytes_be(&bytes);
        c &= (BigUint::one() << bits) - 1u32;
        c |= BigUint::one() << (bits - 1);
        c |= BigUint::one();
        if is_probable_prime(&c) {
            return c;
        }
    }
}

/// Small primes for a quick sieve of p candidates before Miller–Rabin.
fn sieve_primes() -> Vec<u32> {
    (3u32..2000)
        .filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0))
        .collect()
}

/// Makes p of exactly `bits` bits with p − 1 = 2·∏qᵢ, every qᵢ a distinct prime of at most
/// `factor_bits` bits, and g (the smallest of 2, 3, 5, …) whose order is divisible by every qᵢ.
pub fn generate(
    bits: u64,
    factor_bits: u64,
    rng: &mut impl Rng,
) -> Result<BackdoorGroup, BackdoorError> {
    if !(512..=8192).contains(&bits) {
        return Err(BackdoorError::BadSize(
            "--bits must be between 512 and 8192".into(),
        ));
    }
    if !(16..=64).contains(&factor_bits) {
        return Err(BackdoorError::BadSize(
            "--factor-bits must be between 16 and 64".into(),
        ));
    }
    let sieve = sieve_primes();
    for _restart in 0..64 {
        // Full-size factors until fewer than 2·factor_bits bits remain; the last two are chosen
        // so that p has exactly `bits` bits.
        let mut qs: Vec<BigUint> = Vec::new();
        let mut prod = BigUint::from(2u32);
        while prod.bits() + 2 * factor_bits < bits {
            let q = random_prime(factor_bits, rng);
            if !qs.contains(&q) {
                prod *= &q;
                qs.push(q);
            }
        }
        // p − 1 = prod·a·b with b filling the rest exactly; a is sized so that b keeps at
        // least factor_bits/2 bits (no tiny subgroup by accident).
        let rest = bits.saturating_sub(prod.bits());
        let a_bits = factor_bits.min(rest.saturating_sub(factor_bits / 2)).max(2);
        for _ in 0..4096 {
            let a = random_prime(a_bits, rng);
            if qs.contains(&a) {
                continue;
            }
            let pa = &prod * &a;
            // b in [2^(bits−1) / pa, (2^bits − 1) / pa]
            let lo = ((BigUint::one() << (bits - 1)) + &pa - 1u32) / &pa;
            let hi = ((BigUint::one() << bits) - 1u32) / &pa;
            if lo.bits() < 2 || hi.bits() > factor_bits || lo > hi {
                continue;
            }
            let span = &hi - &lo + 1u32;
            let mut bytes = vec![0u8; span.bits().div_ceil(8) as usize + 8];
            rng.fill_bytes(&mut bytes);
            let b = &lo + BigUint::from_bytes_be(&bytes) % span;
            if b == a || qs.contains(&b) || !is_probable_prime(&b) || b == BigUint::from(2u32) {
                continue;
            }
            let p = &pa * &b + 1u32;
            if sieve
                .iter()
                .any(|s| (&p % *s) == BigUint::from(0u32) && p != BigUint::from(*s))
            {
                continue;
            }
            if p.bits() != bits || !is_probable_prime(&p) {
                continue;
            }
            qs.push(a);
            qs.push(b);
            qs.sort();
            let n = &p - 1u32;
            let g = (2u32..1000)
                .map(BigUint::from)
                .find(|g| qs.iter().all(|q| !g.modpow(&(&n / q), &p).is_one()))
                .ok_or(BackdoorError::GaveUp)?;
            return Ok(BackdoorGroup { p, g, factors: qs });
        }
    }
    Err(BackdoorError::GaveUp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng;

    #[test]
    fn a_small_backdoored_group_is_what_it_claims() {
        let mut r = rng::from_seed(1, "test backdoor");
        let grp = generate(512, 20, &mut r).unwrap();
        assert_eq!(grp.p.bits(), 512);
        assert!(is_probable_prime(&grp.p));
        let prod: BigUint = grp.factors.iter().product::<BigUint>() * 2u32;
        assert_eq!(prod, &grp.p - 1u32);
        for w in grp.factors.windows(2) {
            assert!(w[0] < w[1], "distinct and sorted");
        }
        let n = &grp.p - 1u32;
        for q in &grp.factors {
            assert!(q.bits() <= 20 && is_probable_prime(q));
            assert!(!grp.g.modpow(&(&n / q), &grp.p).is_one());
        }
        // Same seed, same group.
        let again = generate(512, 20, &mut rng::from_seed(1, "test backdoor")).unwrap();
        assert_eq!(again.p, grp.p);
    }
}
