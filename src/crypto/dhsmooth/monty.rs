//! Montgomery multiplication over fixed-length u64 limbs for the attacker's hot loops
//! (Montgomery 1985; CIOS variant, Koç, Acar & Kaliski 1996). One context per odd modulus;
//! values stay in Montgomery form (aR mod n, R = 2^(64·limbs)) and every product writes into a
//! caller's buffer, so the walks allocate nothing per step. Variable-time, like the rest of
//! dhsmooth: nothing secret is at stake on the attacker's side.

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::Zero;

/// The modulus, −n⁻¹ mod 2^64 and R² mod n for one odd n.
#[derive(Debug, Clone)]
pub struct Monty {
    n: Vec<u64>,
    n_inv: u64,
    r2: Vec<u64>,
    modulus: BigUint,
}

impl Monty {
    /// A context for the odd modulus `n` > 1; `None` for an even or trivial one.
    pub fn new(n: &BigUint) -> Option<Self> {
        if n.is_even() || n.bits() < 2 {
            return None;
        }
        let limbs = n.to_u64_digits();
        let n0 = *limbs.first()?;
        // Newton's iteration doubles the correct low bits each round: 1 → 64 in six rounds.
        let mut inv: u64 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        }
        let k = limbs.len();
        let r2 = (BigUint::from(1u32) << (128 * k)) % n;
        let mut me = Self {
            n: limbs,
            n_inv: inv.wrapping_neg(),
            r2: Vec::new(),
            modulus: n.clone(),
        };
        me.r2 = me.limbs_of(&r2);
        Some(me)
    }

    /// Limbs per value.
    pub fn len(&self) -> usize {
        self.n.len()
    }

    /// Never true: a context has at least one limb (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.n.is_empty()
    }

    /// The modulus.
    pub fn modulus(&self) -> &BigUint {
        &self.modulus
    }

    fn limbs_of(&self, a: &BigUint) -> Vec<u64> {
        let mut v = (a % &self.modulus).to_u64_digits();
        v.resize(self.n.len(), 0);
        v
    }

    /// aR mod n.
    pub fn to_monty(&self, a: &BigUint) -> Vec<u64> {
        let a = self.limbs_of(a);
        let mut out = vec![0; self.n.len()];
        self.mul(&a, &self.r2, &mut out);
        out
    }

    /// a from aR mod n.
    pub fn from_monty(&self, a: &[u64]) -> BigUint {
        let mut one = vec![0; self.n.len()];
        if let Some(l) = one.first_mut() {
            *l = 1;
        }
        let mut out = vec![0; self.n.len()];
        self.mul(a, &one, &mut out);
        BigUint::from_slice(&to_u32(&out))
    }

    /// R mod n: the Montgomery form of 1.
    pub fn one(&self) -> Vec<u64> {
        self.to_monty(&BigUint::from(1u32))
    }

    /// out = a·b·R⁻¹ mod n for a, b < n (all of `len()` limbs); out may not alias a or b.
    /// One pass per limb of b that multiplies and reduces together (FIOS): t stays below 2n.
    #[inline]
    pub fn mul(&self, a: &[u64], b: &[u64], out: &mut [u64]) {
        let k = self.n.len();
        // t has k + 1 limbs; kept on the stack for moduli up to 4096 bits.
        let mut buf = [0u64; 65];
        let mut heap;
        let t: &mut [u64] = if k < buf.len() {
            &mut buf[..k + 1]
        } else {
            heap = vec![0u64; k + 1];
            &mut heap
        };
        let (a, n) = (&a[..k], &self.n[..k]);
        let n_inv = self.n_inv;
        for &bi in b.iter().take(k) {
            let s = t[0] as u128 + (a[0] as u128) * (bi as u128);
            let m = (s as u64).wrapping_mul(n_inv);
            // The low limb of s + m·n[0] is zero by the choice of m.
            let r = (s as u64) as u128 + (m as u128) * (n[0] as u128);
            let (mut c1, mut c2) = ((s >> 64) as u64, (r >> 64) as u64);
            for j in 1..k {
                let s = t[j] as u128 + (a[j] as u128) * (bi as u128) + c1 as u128;
                c1 = (s >> 64) as u64;
                let r = (s as u64) as u128 + (m as u128) * (n[j] as u128) + c2 as u128;
                c2 = (r >> 64) as u64;
                t[j - 1] = r as u64;
            }
            let s = t[k] as u128 + c1 as u128 + c2 as u128;
            t[k - 1] = s as u64;
            t[k] = (s >> 64) as u64;
        }
        // t < 2n: one conditional subtraction.
        if t[k] != 0 || !less_than(&t[..k], n) {
            sub_in_place(&mut t[..k], n);
        }
        out.copy_from_slice(&t[..k]);
    }

    /// a = a + b mod n (a, b < n).
    pub fn add_assign(&self, a: &mut [u64], b: &[u64]) {
        let mut carry = 0u64;
        for (aj, &bj) in a.iter_mut().zip(b.iter()) {
            let s = *aj as u128 + bj as u128 + carry as u128;
            *aj = s as u64;
            carry = (s >> 64) as u64;
        }
        if carry != 0 || !less_than(a, &self.n) {
            sub_in_place(a, &self.n);
        }
    }

    /// out = a − b mod n (a, b < n).
    pub fn sub(&self, a: &[u64], b: &[u64], out: &mut [u64]) {
        out.copy_from_slice(a);
        if less_than(a, b) {
            // a − b + n: add n first (may wrap past 2^64k; the subtraction wraps back).
            let mut carry = 0u64;
            for (oj, &nj) in out.iter_mut().zip(self.n.iter()) {
                let s = *oj as u128 + nj as u128 + carry as u128;
                *oj = s as u64;
                carry = (s >> 64) as u64;
            }
        }
        sub_in_place(out, b);
    }
}

/// a < b for equal-length little-endian limbs.
fn less_than(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// a −= b modulo 2^(64·len), ignoring the final borrow.
fn sub_in_place(a: &mut [u64], b: &[u64]) {
    let mut borrow = 0u64;
    for (aj, &bj) in a.iter_mut().zip(b.iter()) {
        let (d1, b1) = aj.overflowing_sub(bj);
        let (d2, b2) = d1.overflowing_sub(borrow);
        *aj = d2;
        borrow = (b1 | b2) as u64;
    }
}

fn to_u32(limbs: &[u64]) -> Vec<u32> {
    limbs
        .iter()
        .flat_map(|l| [*l as u32, (*l >> 32) as u32])
        .collect()
}

/// True when every limb is zero.
pub fn is_zero(a: &[u64]) -> bool {
    a.iter().all(Zero::is_zero)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::rng::{from_seed, LabRng};
    use rand::Rng;

    fn random_below(rng: &mut LabRng, n: &BigUint) -> BigUint {
        let mut bytes = vec![0u8; n.bits().div_ceil(8) as usize + 8];
        rng.fill_bytes(&mut bytes);
        BigUint::from_bytes_be(&bytes) % n
    }

    #[test]
    fn montgomery_matches_num_bigint_on_random_inputs() {
        let mut rng = from_seed(18, "monty kat");
        for bits in [3u64, 64, 65, 127, 521, 1024, 2048, 3000] {
            for _ in 0..20 {
                let mut n = random_below(&mut rng, &(BigUint::from(1u32) << bits));
                n |= BigUint::from(1u32) | (BigUint::from(1u32) << (bits - 1));
                let m = Monty::new(&n).unwrap();
                let (a, b) = (random_below(&mut rng, &n), random_below(&mut rng, &n));
                let (am, bm) = (m.to_monty(&a), m.to_monty(&b));
                assert_eq!(m.from_monty(&am), a);
                let mut out = vec![0; m.len()];
                m.mul(&am, &bm, &mut out);
                assert_eq!(m.from_monty(&out), (&a * &b) % &n, "{bits} bits");
                let mut s = am.clone();
                m.add_assign(&mut s, &bm);
                assert_eq!(m.from_monty(&s), (&a + &b) % &n);
                m.sub(&am, &bm, &mut out);
                assert_eq!(m.from_monty(&out), (&a + &n - &b) % &n);
                // A power by square-and-multiply in Montgomery form vs num-bigint's modpow.
                let e = rng.next_u64();
                let mut acc = m.one();
                for i in (0..64).rev() {
                    m.mul(&acc.clone(), &acc.clone(), &mut acc);
                    if e >> i & 1 == 1 {
                        m.mul(&acc.clone(), &am, &mut acc);
                    }
                }
                assert_eq!(m.from_monty(&acc), a.modpow(&BigUint::from(e), &n));
            }
        }
        assert!(Monty::new(&BigUint::from(10u32)).is_none());
        assert!(Monty::new(&BigUint::from(1u32)).is_none());
    }
}
