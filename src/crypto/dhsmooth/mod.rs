//! The arithmetic behind "the group was the backdoor": bounded factoring of p−1 (trial division,
//! Pollard rho), a Miller–Rabin test, and Pohlig–Hellman discrete logs ([`dlog`]).
//!
//! Pohlig–Hellman (1978) costs about Σ eᵢ·√qᵢ group operations for ord(g) = ∏ qᵢ^eᵢ, so a
//! group whose p−1 has only small factors hides nothing; a safe prime (p−1 = 2q, RFC 7919's
//! ffdhe groups) leaves ~√q ≈ 2^1023 operations. Variable-width, variable-time integers
//! (num-bigint): this is the attacker's side, where nothing secret is at stake.

pub mod backdoor;
pub mod dlog;
pub mod monty;

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};

use monty::Monty;

/// Primes below this bound are found by trial division.
pub const TRIAL_BOUND: u32 = 1 << 16;

/// A (possibly partial) factorisation: `n = ∏ p^e · cofactor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factorization {
    /// Proven-by-Miller–Rabin primes with their exponents, ascending.
    pub primes: Vec<(BigUint, u32)>,
    /// What is left: 1 when the factorisation is complete; otherwise a composite the rho budget
    /// did not split, or a prime too large for the caller's purpose.
    pub cofactor: BigUint,
}

impl Factorization {
    /// True when every factor is known and prime.
    pub fn complete(&self) -> bool {
        self.cofactor.is_one()
    }

    /// Bits of the largest factor (prime or unsplit cofactor).
    pub fn largest_bits(&self) -> u64 {
        let p = self.primes.iter().map(|(q, _)| q.bits()).max().unwrap_or(0);
        p.max(if self.cofactor.is_one() {
            0
        } else {
            self.cofactor.bits()
        })
    }

    /// The product of all factors, cofactor included.
    pub fn product(&self) -> BigUint {
        self.primes
            .iter()
            .fold(self.cofactor.clone(), |acc, (q, e)| acc * q.pow(*e))
    }
}

/// Miller–Rabin with 40 rounds (error ≤ 4^-40 for a composite), bases from a fixed
/// deterministic sequence so results are reproducible (FIPS 186-5 B.3.1).
pub fn is_probable_prime(n: &BigUint) -> bool {
    let two = BigUint::from(2u32);
    if *n < two {
        return false;
    }
    for sp in SMALL_PRIMES {
        let sp = BigUint::from(*sp);
        if *n == sp {
            return true;
        }
        if (n % &sp).is_zero() {
            return false;
        }
    }
    let n1 = n - 1u32;
    let s = n1.trailing_zeros().unwrap_or(0);
    let d = &n1 >> s;
    // Bases: a simple LCG over 64 bits reduced into [2, n−2]; fixed so runs repeat.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    'rounds: for _ in 0..40 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let a = BigUint::from(state) % (n - 3u32) + &two;
        let mut x = a.modpow(&d, n);
        if x.is_one() || x == n1 {
            continue;
        }
        for _ in 1..s {
            x = (&x * &x) % n;
            if x == n1 {
                continue 'rounds;
            }
        }
        return false;
    }
    true
}

const SMALL_PRIMES: &[u32] = &[
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// Pollard's rho with Brent's cycle detection: a non-trivial factor of the odd composite `n`,
/// or `None` after `budget` iterations (expected ~√q for the smallest prime factor q).
pub fn pollard_rho(n: &BigUint, budget: u64) -> Option<BigUint> {
    if n.is_even() {
        return Some(BigUint::from(2u32));
    }
    // A few polynomials x² + c in case one cycles without a factor.
    (1u32..=4).find_map(|c| {
        let pieces = rho_walk(n, c, budget);
        if pieces.len() > 1 {
            pieces.into_iter().next()
        } else {
            None
        }
    })
}

/// One Brent walk x → x² + c (mod n) in Montgomery form that keeps going after a split: each
/// factor found is divided out and the walk goes on modulo what is left (its sequence modulo
/// the remaining primes is unchanged), so the many small primes of a smooth p−1 come out of one
/// walk instead of one walk each. Returns pieces > 1 whose product is n, not necessarily prime;
/// a single piece means no split within `budget` steps of the last one.
fn rho_walk(n: &BigUint, c: u32, budget: u64) -> Vec<BigUint> {
    const M: u64 = 128; // gcd once per M steps
    let mut pieces = Vec::new();
    let mut n = n.clone();
    let Some(mut mo) = Monty::new(&n) else {
        return vec![n];
    };
    let mut cm = mo.to_monty(&BigUint::from(c));
    let mut y = mo.to_monty(&BigUint::from(2u32));
    let (mut x, mut ys, mut q) = (y.clone(), y.clone(), mo.one());
    let (mut t, mut d) = (vec![0u64; mo.len()], vec![0u64; mo.len()]);
    let step = |mo: &Monty, y: &mut Vec<u64>, t: &mut Vec<u64>, cm: &[u64]| {
        mo.mul(y, y, t);
        mo.add_assign(t, cm);
        std::mem::swap(y, t);
    };
    let (mut r, mut spent) = (1u64, 0u64);
    loop {
        x.clone_from(&y);
        for _ in 0..r {
            step(&mo, &mut y, &mut t, &cm);
        }
        let mut k = 0;
        while k < r {
            ys.clone_from(&y);
            let steps = M.min(r - k);
            for _ in 0..steps {
                step(&mo, &mut y, &mut t, &cm);
                mo.sub(&x, &y, &mut d);
                mo.mul(&q, &d, &mut t);
                std::mem::swap(&mut q, &mut t);
            }
            k += steps;
            spent += steps;
            // q is ∏(x − y)·R mod n and R is prime to n, so gcd(q, n) is the factor found.
            let mut g = limbs_to_biguint(&q).gcd(&n);
            if g == n {
                // Several primes (or all) met in these M steps: one step at a time from ys.
                let mut z = ys.clone();
                for _ in 0..steps {
                    step(&mo, &mut z, &mut t, &cm);
                    mo.sub(&x, &z, &mut d);
                    g = limbs_to_biguint(&d).gcd(&n);
                    if !g.is_one() {
                        break;
                    }
                }
            }
            if g == n || g.is_zero() {
                // The walk cycled modulo every prime left at the same step: it cannot split n.
                pieces.push(n);
                return pieces;
            }
            if !g.is_one() {
                n /= &g;
                pieces.push(g);
                let new = match Monty::new(&n) {
                    Some(m) => m,
                    None => {
                        pieces.push(n);
                        return pieces;
                    }
                };
                let move_to = |v: &[u64]| new.to_monty(&mo.from_monty(v));
                (x, y, ys, cm) = (move_to(&x), move_to(&y), move_to(&ys), move_to(&cm));
                q = new.one();
                (t, d) = (vec![0u64; new.len()], vec![0u64; new.len()]);
                mo = new;
                spent = 0;
            }
            if spent > budget {
                pieces.push(n);
                return pieces;
            }
        }
        r *= 2;
    }
}

fn limbs_to_biguint(v: &[u64]) -> BigUint {
    BigUint::from_slice(
        &v.iter()
            .flat_map(|l| [*l as u32, (*l >> 32) as u32])
            .collect::<Vec<u32>>(),
    )
}

/// Factors `n` by trial division below [`TRIAL_BOUND`], then Pollard rho with `rho_budget`
/// iterations per split. Whatever does not split is left in `cofactor`.
pub fn factor(n: &BigUint, rho_budget: u64) -> Factorization {
    let mut primes: Vec<(BigUint, u32)> = Vec::new();
    let mut m = n.clone();
    let add = |primes: &mut Vec<(BigUint, u32)>, q: BigUint, e: u32| match primes
        .iter_mut()
        .find(|(p, _)| *p == q)
    {
        Some(entry) => entry.1 += e,
        None => primes.push((q, e)),
    };
    if m.is_zero() {
        return Factorization {
            primes,
            cofactor: m,
        };
    }
    let mut d = 2u32;
    while d < TRIAL_BOUND && m > BigUint::one() {
        let bd = BigUint::from(d);
        let mut e = 0;
        while (&m % &bd).is_zero() {
            m /= &bd;
            e += 1;
        }
        if e > 0 {
            add(&mut primes, bd, e);
        }
        d += if d == 2 { 1 } else { 2 };
    }
    let mut cofactor = BigUint::one();
    let mut stack = vec![m];
    while let Some(x) = stack.pop() {
        if x.is_one() {
            continue;
        }
        if is_probable_prime(&x) {
            let mut e = 1;
            // x may divide what is left on the stack; count it once here.
            for other in stack.iter_mut() {
                while (&*other % &x).is_zero() {
                    *other /= &x;
                    e += 1;
                }
            }
            add(&mut primes, x, e);
            continue;
        }
        // Odd here (trial division took the 2s), as Montgomery arithmetic needs.
        match (1u32..=4)
            .map(|c| rho_walk(&x, c, rho_budget))
            .find(|pieces| pieces.len() > 1)
        {
            Some(pieces) => stack.extend(pieces),
            None => cofactor *= x,
        }
    }
    primes.sort();
    Factorization { primes, cofactor }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn big(s: &str) -> BigUint {
        s.parse().unwrap()
    }

    #[test]
    fn miller_rabin_known_answers() {
        // 2^127 − 1 is prime; 2^128 + 1 = 59649589127497217 · 5704689200685129054721.
        assert!(is_probable_prime(&((BigUint::one() << 127u32) - 1u32)));
        assert!(!is_probable_prime(&((BigUint::one() << 128u32) + 1u32)));
        // Carmichael number 561 and a strong pseudoprime to base 2 (2047 = 23·89).
        assert!(!is_probable_prime(&BigUint::from(561u32)));
        assert!(!is_probable_prime(&BigUint::from(2047u32)));
        assert!(is_probable_prime(&BigUint::from(65_537u32)));
    }

    #[test]
    fn rho_splits_fermat_f6() {
        // F6 = 2^64 + 1 = 274177 · 67280421310721 (Landry 1880); 274177 is above the
        // trial-division bound, so rho must find it.
        let f6 = (BigUint::one() << 64u32) + 1u32;
        assert!(pollard_rho(&f6, 1 << 16).is_some());
        let f = factor(&f6, 1 << 16);
        assert!(f.complete(), "{f:?}");
        assert_eq!(
            f.primes,
            vec![(big("274177"), 1), (big("67280421310721"), 1)]
        );
    }

    #[test]
    fn factor_mixes_trial_division_rho_and_powers() {
        // 2^3 · 65537 · (2^31−1)^2 · (2^61−1)
        let m31 = BigUint::from((1u64 << 31) - 1);
        let m61 = BigUint::from((1u64 << 61) - 1);
        let n = BigUint::from(8u32) * 65_537u32 * &m31 * &m31 * &m61;
        let f = factor(&n, 1 << 20);
        assert!(f.complete());
        assert_eq!(f.product(), n);
        assert_eq!(
            f.primes,
            vec![
                (BigUint::from(2u32), 3),
                (BigUint::from(65_537u32), 1),
                (m31, 2),
                (m61, 1)
            ]
        );
    }

    #[test]
    fn one_walk_splits_many_primes_and_a_square() {
        // 2·∏ of 30 consecutive primes above 2^24, the first one squared: what a backdoored
        // group's p−1 looks like, small. Every prime must come out with its exponent.
        let mut qs = Vec::new();
        let mut c = 1u64 << 24;
        while qs.len() < 30 {
            c += 1;
            if is_probable_prime(&BigUint::from(c)) {
                qs.push(BigUint::from(c));
            }
        }
        let n: BigUint = qs.iter().product::<BigUint>() * &qs[0] * 2u32;
        let f = factor(&n, 1 << 16);
        assert!(f.complete(), "{f:?}");
        assert_eq!(f.product(), n);
        let mut want: Vec<(BigUint, u32)> = vec![(BigUint::from(2u32), 1)];
        want.extend(
            qs.iter()
                .enumerate()
                .map(|(i, q)| (q.clone(), 1 + (i == 0) as u32)),
        );
        assert_eq!(f.primes, want);
    }

    #[test]
    fn rho_budget_leaves_a_cofactor() {
        // Two 64-bit primes: rho needs ~2^32 steps, far beyond a budget of 2^10.
        let p = big("18446744073709551557");
        let q = big("18446744073709551533");
        let f = factor(&(&p * &q), 1 << 10);
        assert!(!f.complete());
        assert_eq!(f.cofactor, &p * &q);
        assert_eq!(f.largest_bits(), 128);
    }
}
