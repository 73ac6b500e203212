//! A fast RSA private-key operation for the attacker, who works offline on a capture.
//!
//! **This code leaks the private key through timing. It must never run in a server, nor
//! anywhere an adversary can send it ciphertexts and time the answers.** Its exponentiation
//! skips zero windows of the secret exponents, its reductions and comparisons branch on secret
//! values, and it answers bad padding with an explicit `None` — the textbook Bleichenbacher
//! (1998) / Marvin (2023) oracle. The lab's server keeps the rsa crate's blinded, constant-time
//! path ([`crate::pki::rsa_decrypt_pkcs1`]); this module exists because the attacker decrypts
//! thousands of recorded premasters with a key it already holds, where nobody is timing it.
//!
//! How: RSADP with the Chinese remainder theorem (RFC 8017 §5.1.2, step 2.b), one Montgomery
//! exponentiation per prime with crypto-bigint's variable-time `FixedMontyForm::pow_vartime`
//! on stack integers whose width (8 … 64 limbs) is picked from the prime's size, then
//! EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2, step 3). crypto-bigint is the big-integer library
//! the rsa crate itself is built on, so no new crate comes in. The rsa crate (0.10) instead
//! blinds the base, the exponent and the moduli and runs constant-time arithmetic; it measures
//! about 2× slower on 2048-bit keys (`cargo bench --bench hot_paths -- rsa`).
//!
//! Rejection: the rsa crate's PKCS#1 v1.5 decryption uses implicit rejection — bad padding
//! gives `Ok` with a deterministic pseudo-random message. [`FastRsaKey::decrypt_pkcs1v15`]
//! returns `None` instead. Where the padding is valid both return the same message. Where it
//! is not, the rsa crate's fake message is one the attacker's own checks (a 48-byte premaster
//! starting with the client version, then the Finished MAC or GCM tag) reject anyway, so the
//! two paths lead the attacker to the same verdict; `None` just gets there sooner.

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams, FixedMontyForm, FixedMontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul, NonZero, Odd, Resize, Uint};
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::{Zeroize, Zeroizing};

/// An RSA private key prepared for fast, variable-time CRT decryption. See the module docs:
/// it leaks the key through timing and is for offline use only.
pub struct FastRsaKey {
    n: NonZero<BoxedUint>,
    /// Modulus length in bytes (`k` in RFC 8017).
    k: usize,
    p: PrimeFactor,
    q: PrimeFactor,
    /// q⁻¹ mod p, at p's working precision.
    qinv: BoxedUint,
}

impl FastRsaKey {
    /// Prepares `key`: d mod (p−1), d mod (q−1), q⁻¹ mod p and Montgomery parameters per prime.
    ///
    /// `None` for a key that is not a two-prime key (RFC 8017 multi-prime keys; pfslab and
    /// OpenSSL make two-prime keys) or whose primes are inconsistent with its modulus; the
    /// caller then keeps the rsa crate's path.
    pub fn new(key: &rsa::PrivateKey) -> Option<Self> {
        Self::build(key, false)
    }

    /// `force_boxed` keeps both primes on the arbitrary-width path, for tests.
    fn build(key: &rsa::PrivateKey, force_boxed: bool) -> Option<Self> {
        let [p, q] = key.primes() else { return None };
        let n = key.n().clone();
        let p_factor = PrimeFactor::new(p, key.d(), force_boxed)?;
        let q_factor = PrimeFactor::new(q, key.d(), force_boxed)?;
        // The product must be the modulus, or the CRT recombination is meaningless.
        let product = p.as_ref().concatenating_mul(q.as_ref());
        if product.to_be_bytes_trimmed_vartime() != n.as_ref().to_be_bytes_trimmed_vartime() {
            return None;
        }
        let q_mod_p = q
            .as_ref()
            .rem_vartime(p_factor.modulus.as_nz_ref())
            .try_resize(p_factor.width())?;
        let qinv = Option::<BoxedUint>::from(q_mod_p.invert_odd_mod(&p_factor.modulus))?;
        Some(Self {
            k: key.size(),
            n,
            p: p_factor,
            q: q_factor,
            qinv,
        })
    }

    /// The modulus length in bytes: every ciphertext has exactly this length.
    pub fn size(&self) -> usize {
        self.k
    }

    /// RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2): the message of a type-2 padded
    /// ciphertext, or `None` when the ciphertext is not `k` bytes, is not below the modulus,
    /// or does not decrypt to `00 02 PS(≥ 8 nonzero bytes) 00 M`.
    ///
    /// Variable-time and an explicit padding oracle: offline use only (see the module docs).
    /// The message is secret (a premaster): wrap it in `Zeroizing` as the rsa crate's is.
    pub fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Option<Vec<u8>> {
        let em = self.rsadp(ciphertext)?;
        // RFC 8017 §7.2.2 step 3: EM = 0x00 ‖ 0x02 ‖ PS ‖ 0x00 ‖ M with |PS| ≥ 8, PS nonzero.
        if self.k < 11 || em[0] != 0x00 || em[1] != 0x02 {
            return None;
        }
        let separator = 2 + em[2..].iter().position(|&b| b == 0x00)?;
        if separator < 10 {
            return None;
        }
        Some(em[separator + 1..].to_vec())
    }

    /// RSADP (RFC 8017 §5.1.2) with CRT: the encoded message EM, `k` bytes, big-endian.
    fn rsadp(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.k {
            return None;
        }
        let c = BoxedUint::from_be_slice(ciphertext, self.n.as_ref().bits_precision()).ok()?;
        if c >= *self.n.as_ref() {
            return None;
        }
        // 2.b.i–iii: m1 = c^dP mod p, m2 = c^dQ mod q, h = (m1 − m2)·qInv mod p.
        let m1 = Zeroizing::new(self.p.pow(&c));
        let m2 = Zeroizing::new(self.q.pow(&c));
        let p = self.p.modulus.as_nz_ref();
        let m2_mod_p = Zeroizing::new(m2.rem_vartime(p).try_resize(self.p.width())?);
        let diff = Zeroizing::new(m1.sub_mod(&m2_mod_p, p));
        let h = Zeroizing::new(diff.concatenating_mul(&self.qinv).rem_vartime(p));
        // 2.b.v: m = m2 + q·h, which is below n.
        let wide = self
            .n
            .as_ref()
            .bits_precision()
            .max(self.p.width() + self.q.width());
        let mut m = Zeroizing::new(
            self.q
                .modulus
                .as_ref()
                .concatenating_mul(&*h)
                .try_resize(wide)?,
        );
        let m2_wide: Zeroizing<BoxedUint> = Zeroizing::new((*m2).clone().try_resize(wide)?);
        m.wrapping_add_assign(&*m2_wide);
        let bytes = Zeroizing::new(m.to_be_bytes());
        let (high, em) = bytes.split_at(bytes.len().checked_sub(self.k)?);
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        Some(Zeroizing::new(em.to_vec()))
    }
}

impl Drop for FastRsaKey {
    fn drop(&mut self) {
        // p and q are wiped by PrimeFactor; n is public.
        self.qinv.zeroize();
    }
}

/// One prime with its CRT exponent d mod (prime − 1), ready to exponentiate.
struct PrimeFactor {
    /// The prime at the working precision of `exp`.
    modulus: Odd<BoxedUint>,
    exp: PrimeExp,
}

/// Fixed widths for the primes of key sizes up to 8192 bits (a prime is rounded up to the next
/// width); anything wider takes the arbitrary-width path. (Boxed so the enum stays small.)
enum PrimeExp {
    L8(Box<FixedExp<8>>),
    L16(Box<FixedExp<16>>),
    L24(Box<FixedExp<24>>),
    L32(Box<FixedExp<32>>),
    L48(Box<FixedExp<48>>),
    L64(Box<FixedExp<64>>),
    Boxed(BoxedExp),
}

struct FixedExp<const L: usize> {
    params: FixedMontyParams<L>,
    /// d mod (p − 1).
    exp: Uint<L>,
}

/// The fallback for primes wider than 64 limbs (keys over 8192 bits): crypto-bigint's
/// arbitrary-width Montgomery form, whose exponentiation happens to be constant-time.
struct BoxedExp {
    /// These parameters sit behind an `Arc`, so their copy of the prime cannot be zeroized
    /// here (the rsa crate has the same limitation).
    params: BoxedMontyParams,
    exp: BoxedUint,
}

/// The limbs of `x`; callers only pass values below a prime that fits in `L` limbs.
fn to_fixed<const L: usize>(x: &BoxedUint) -> Uint<L> {
    let mut out = Uint::<L>::ZERO;
    for (o, i) in out.as_mut_limbs().iter_mut().zip(x.as_limbs()) {
        *o = *i;
    }
    out
}

impl<const L: usize> FixedExp<L> {
    fn new(prime: &BoxedUint, exp: &BoxedUint) -> Option<Self> {
        let params = FixedMontyParams::new_vartime(Option::from(Odd::new(to_fixed::<L>(prime)))?);
        Some(Self {
            params,
            exp: to_fixed(exp),
        })
    }

    /// base^exp mod p; `base` is already reduced mod p.
    fn pow(&self, base: &BoxedUint) -> BoxedUint {
        let mut b = to_fixed::<L>(base);
        let mut x = FixedMontyForm::new(&b, &self.params).pow_vartime(&self.exp);
        let r = BoxedUint::from(&x.retrieve());
        b.zeroize();
        x.zeroize();
        r
    }
}

impl<const L: usize> Drop for FixedExp<L> {
    fn drop(&mut self) {
        self.params.zeroize();
        self.exp.zeroize();
    }
}

impl Drop for BoxedExp {
    fn drop(&mut self) {
        self.exp.zeroize();
    }
}

impl PrimeFactor {
    fn new(prime: &Odd<BoxedUint>, d: &BoxedUint, force_boxed: bool) -> Option<Self> {
        let bits = prime.as_ref().bit_width_vartime();
        let limbs = bits.div_ceil(64);
        let width = match limbs {
            _ if force_boxed => limbs.max(1) * 64,
            0..=8 => 8 * 64,
            9..=16 => 16 * 64,
            17..=24 => 24 * 64,
            25..=32 => 32 * 64,
            33..=48 => 48 * 64,
            49..=64 => 64 * 64,
            _ => limbs * 64,
        };
        let modulus: Odd<BoxedUint> = Option::from(Odd::new(prime.as_ref().try_resize(width)?))?;
        let p_minus_1 = Option::<NonZero<BoxedUint>>::from(NonZero::new(
            modulus
                .as_ref()
                .wrapping_sub(BoxedUint::one_with_precision(width)),
        ))?;
        let mut exp = d.rem_vartime(&p_minus_1).try_resize(width)?;
        let built = match width / 64 {
            _ if force_boxed => Some(PrimeExp::Boxed(BoxedExp {
                params: BoxedMontyParams::new_vartime(modulus.clone()),
                exp: exp.clone(),
            })),
            8 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L8(Box::new(f))),
            16 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L16(Box::new(f))),
            24 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L24(Box::new(f))),
            32 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L32(Box::new(f))),
            48 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L48(Box::new(f))),
            64 => FixedExp::new(modulus.as_ref(), &exp).map(|f| PrimeExp::L64(Box::new(f))),
            _ => Some(PrimeExp::Boxed(BoxedExp {
                params: BoxedMontyParams::new_vartime(modulus.clone()),
                exp: exp.clone(),
            })),
        };
        exp.zeroize();
        Some(Self {
            modulus,
            exp: built?,
        })
    }

    /// The working precision in bits.
    fn width(&self) -> u32 {
        self.modulus.as_ref().bits_precision()
    }

    /// (c mod p)^(d mod (p − 1)) mod p, at the working precision.
    fn pow(&self, c: &BoxedUint) -> BoxedUint {
        // The remainder has the divisor's precision, which is the working precision.
        let base = Zeroizing::new(c.rem_vartime(self.modulus.as_nz_ref()));
        match &self.exp {
            PrimeExp::L8(f) => f.pow(&base),
            PrimeExp::L16(f) => f.pow(&base),
            PrimeExp::L24(f) => f.pow(&base),
            PrimeExp::L32(f) => f.pow(&base),
            PrimeExp::L48(f) => f.pow(&base),
            PrimeExp::L64(f) => f.pow(&base),
            PrimeExp::Boxed(b) => BoxedMontyForm::new((*base).clone(), &b.params)
                .pow_bounded_exp(&b.exp, b.exp.bit_width_vartime())
                .retrieve(),
        }
    }
}

impl Drop for PrimeFactor {
    fn drop(&mut self) {
        self.modulus.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;
    use std::process::Command;

    use rand::Rng;

    use crate::rng::{from_seed, LabRng};

    /// c = m^e mod n for an arbitrary encoded message (textbook RSAEP, RFC 8017 §5.1.1), so
    /// tests can build paddings the rsa crate would never produce and check RSADP results.
    fn raw_encrypt(key: &rsa::PrivateKey, em: &[u8]) -> Vec<u8> {
        let m = BoxedUint::from_be_slice(em, key.n().bits_precision()).expect("em fits");
        let c = BoxedMontyForm::new(m, key.n_params())
            .pow(key.e())
            .retrieve();
        left_pad(&c.to_be_bytes(), key.size())
    }

    fn left_pad(bytes: &[u8], k: usize) -> Vec<u8> {
        let skip = bytes.len().saturating_sub(k);
        assert!(bytes[..skip].iter().all(|&b| b == 0));
        let mut out = vec![0u8; k - (bytes.len() - skip)];
        out.extend_from_slice(&bytes[skip..]);
        out
    }

    fn random_bytes(rng: &mut LabRng, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        rng.fill_bytes(&mut v);
        v
    }

    /// A random integer below n, as `k` bytes.
    fn random_below_n(rng: &mut LabRng, key: &rsa::PrivateKey) -> Vec<u8> {
        loop {
            let mut v = random_bytes(rng, key.size());
            let top_bits = key.n().as_ref().bit_width_vartime() as usize % 8;
            if top_bits != 0 {
                v[0] &= (1u8 << top_bits) - 1;
            }
            if BoxedUint::from_be_slice(&v, key.n().bits_precision()).expect("fits")
                < *key.n().as_ref()
            {
                return v;
            }
        }
    }

    /// EM = 00 02 PS 00 M with a nonzero PS of `ps_len` bytes (RFC 8017 §7.2.1 step 2).
    fn encode(rng: &mut LabRng, k: usize, ps_len: usize, msg: &[u8]) -> Vec<u8> {
        let mut em = vec![0x00, 0x02];
        em.extend((0..ps_len).map(|_| loop {
            let b = random_bytes(rng, 1)[0];
            if b != 0 {
                break b;
            }
        }));
        em.push(0x00);
        em.extend_from_slice(msg);
        assert_eq!(em.len(), k);
        em
    }

    /// Checks one key against the rsa crate on valid, crafted and random ciphertexts.
    fn check_key(key: &rsa::PrivateKey, rng: &mut LabRng, randoms: usize) {
        let fast = FastRsaKey::new(key).expect("two-prime key");
        let public = key.to_public_key();
        let k = key.size();
        assert_eq!(fast.size(), k);

        // Valid encryptions by the rsa crate: empty, one byte, a TLS premaster, the longest.
        let lengths = [0, 1, 48, k - 11, (rng.next_u32() as usize) % (k - 10)];
        for len in lengths {
            let msg = random_bytes(rng, len);
            let ct = public
                .pkcs1v15_encrypt_with_rng(rng, &msg)
                .expect("encrypt");
            assert_eq!(key.pkcs1v15_decrypt(&ct).expect("rsa decrypts"), msg);
            assert_eq!(fast.decrypt_pkcs1v15(&ct), Some(msg), "{len}-byte message");
        }

        // Crafted paddings: the shortest allowed PS (8 bytes) passes, 7 bytes and every other
        // malformed shape fail; the rsa crate gives Ok(the message) or Ok(a fake) in step.
        let mut crafted: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let msg = random_bytes(rng, k - 11);
        crafted.push((encode(rng, k, 8, &msg), Some(msg)));
        crafted.push((encode(rng, k, k - 3, &[]), Some(Vec::new())));
        let body = random_bytes(rng, k - 10);
        let mut short_ps = encode(rng, k, 7, &body);
        short_ps[9] = 0x00; // separator right after 7 PS bytes
        crafted.push((short_ps, None));
        let body = random_bytes(rng, k - 11);
        let mut wrong_type = encode(rng, k, 8, &body);
        wrong_type[1] = 0x01;
        crafted.push((wrong_type, None));
        let mut no_separator = encode(rng, k, k - 3, &[]);
        let last = no_separator.len() - 1;
        no_separator[last] = 0x01;
        crafted.push((no_separator, None));
        let body = random_bytes(rng, k - 23);
        let mut zero_in_ps = encode(rng, k, 20, &body);
        zero_in_ps[5] = 0x00; // PS of 3 bytes
        crafted.push((zero_in_ps, None));
        for (em, expected) in crafted {
            let ct = raw_encrypt(key, &em);
            assert_eq!(
                fast.rsadp(&ct).as_deref().map(|v| v.as_slice()),
                Some(em.as_slice())
            );
            let ours = fast.decrypt_pkcs1v15(&ct);
            let theirs = key.pkcs1v15_decrypt(&ct).expect("implicit rejection is Ok");
            assert_eq!(ours, expected, "EM {}", crate::codec::hex(&em[..12]));
            if let Some(m) = &ours {
                assert_eq!(&theirs, m);
            }
        }

        // Random ciphertexts: the CRT result is the preimage (RSA is a permutation of Z_n, so
        // em^e = c pins em = c^d), and where our padding check passes the rsa crate returns the
        // same message (else its fake, which we refuse).
        for _ in 0..randoms {
            let ct = random_below_n(rng, key);
            let em = fast.rsadp(&ct).expect("below n");
            assert_eq!(raw_encrypt(key, &em), ct);
            let theirs = key.pkcs1v15_decrypt(&ct).expect("implicit rejection is Ok");
            match fast.decrypt_pkcs1v15(&ct) {
                Some(m) => assert_eq!(m, theirs),
                None => assert!(
                    em[0] != 0
                        || em[1] != 2
                        || em[2..].iter().position(|&b| b == 0).is_none_or(|i| i < 8)
                ),
            }
        }

        // Edges: 0, 1 and n − 1 are their own roots; n, n + 1 and wrong lengths are refused,
        // as the rsa crate refuses them with an error.
        for small in [0u8, 1] {
            let mut ct = vec![0u8; k];
            ct[k - 1] = small;
            assert_eq!(*fast.rsadp(&ct).expect("small"), ct);
        }
        let n_bytes = left_pad(&key.n().as_ref().to_be_bytes(), k);
        let n_minus_1 = left_pad(
            &key.n()
                .as_ref()
                .wrapping_sub(BoxedUint::one())
                .to_be_bytes(),
            k,
        );
        // (−1)^d = −1 mod n, d being odd.
        assert_eq!(*fast.rsadp(&n_minus_1).expect("n - 1"), n_minus_1);
        let n_plus_1 = left_pad(
            &key.n()
                .as_ref()
                .wrapping_add(BoxedUint::one())
                .to_be_bytes(),
            k,
        );
        for bad in [
            n_bytes,
            n_plus_1,
            vec![0xff; k],
            vec![0x00; k - 1],
            vec![0x00; k + 1],
            Vec::new(),
        ] {
            assert_eq!(fast.decrypt_pkcs1v15(&bad), None);
            assert!(key.pkcs1v15_decrypt(&bad).is_err());
        }
    }

    #[test]
    fn matches_rsa_crate_on_seeded_keys() {
        // 20 keys: the lab's sizes, and sizes whose primes do not fill their limbs (1100, 1536 and
        // 2050 bits take 16- and 24-limb arithmetic for 9 to 17 limbs of prime; 1032, 9 limbs).
        let sizes = [
            1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 2048, 2048, 2048, 2048,
            2048, 2048, 1100, 1536, 2050, 1032,
        ];
        for (i, bits) in sizes.into_iter().enumerate() {
            let mut rng = from_seed(i as u64, "fast_rsa test key");
            let key = crate::pki::generate_key(&mut rng, bits).expect("keygen");
            check_key(
                &key,
                &mut from_seed(i as u64, "fast_rsa test ciphertexts"),
                6,
            );
        }
    }

    #[test]
    fn boxed_path_matches_fixed_path() {
        let key =
            crate::pki::generate_key(&mut from_seed(100, "fast_rsa boxed"), 1100).expect("keygen");
        let fixed = FastRsaKey::new(&key).expect("fixed");
        let boxed = FastRsaKey::build(&key, true).expect("boxed");
        assert!(
            matches!(boxed.p.exp, PrimeExp::Boxed(_)) && matches!(fixed.p.exp, PrimeExp::L16(_))
        );
        let mut rng = from_seed(100, "fast_rsa boxed ciphertexts");
        for _ in 0..8 {
            let ct = random_below_n(&mut rng, &key);
            assert_eq!(fixed.rsadp(&ct), boxed.rsadp(&ct));
        }
        let ct = key
            .to_public_key()
            .pkcs1v15_encrypt_with_rng(&mut rng, &[0x03; 48])
            .expect("encrypt");
        assert_eq!(boxed.decrypt_pkcs1v15(&ct), Some(vec![0x03; 48]));
    }

    #[test]
    fn wrong_key_is_refused_where_rsa_crate_fakes() {
        let mut rng = from_seed(7, "fast_rsa wrong key");
        let right = crate::pki::generate_key(&mut rng, 1024).expect("keygen");
        let wrong = crate::pki::generate_key(&mut rng, 1024).expect("keygen");
        let fast_wrong = FastRsaKey::new(&wrong).expect("fast");
        for _ in 0..8 {
            let pms = random_bytes(&mut rng, 48);
            let ct = right
                .to_public_key()
                .pkcs1v15_encrypt_with_rng(&mut rng, &pms)
                .expect("encrypt");
            // Same modulus length, different key: the rsa crate answers with a fake message.
            if let Ok(fake) = wrong.pkcs1v15_decrypt(&ct) {
                assert_ne!(fake, pms);
            }
            assert_eq!(fast_wrong.decrypt_pkcs1v15(&ct), None);
        }
    }

    #[test]
    fn refuses_multi_prime_keys() {
        let mut rng = from_seed(8, "fast_rsa multi-prime");
        let a = crate::pki::generate_key(&mut rng, 1024).expect("keygen");
        let b = crate::pki::generate_key(&mut rng, 1024).expect("keygen");
        let primes = vec![
            a.primes()[0].as_ref().clone(),
            a.primes()[1].as_ref().clone(),
            b.primes()[0].as_ref().clone(),
        ];
        let key =
            rsa::PrivateKey::from_primes(primes, BoxedUint::from(65537u64)).expect("3-prime key");
        assert!(FastRsaKey::new(&key).is_none());
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = std::env::temp_dir()
                .join(format!("pfslab-fast-rsa-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            Self(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn openssl(dir: &TempDir, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir.0)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn openssl_keys_and_ciphertexts() {
        let dir = TempDir::new();
        let mut rng = from_seed(9, "fast_rsa openssl");
        for bits in ["1024", "2048", "3072"] {
            openssl(&dir, &["genrsa", "-out", "key.pem", bits]);
            openssl(
                &dir,
                &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
            );
            let key = crate::pki::load_private_key(&dir.0.join("key.pem")).expect("load");
            for _ in 0..3 {
                let pms = [&[0x03, 0x03][..], &random_bytes(&mut rng, 46)].concat();
                std::fs::write(dir.0.join("pms"), &pms).expect("write");
                openssl(
                    &dir,
                    &[
                        "pkeyutl",
                        "-encrypt",
                        "-pubin",
                        "-inkey",
                        "pub.pem",
                        "-pkeyopt",
                        "rsa_padding_mode:pkcs1",
                        "-in",
                        "pms",
                        "-out",
                        "ct",
                    ],
                );
                let ct = std::fs::read(dir.0.join("ct")).expect("read");
                assert_eq!(
                    FastRsaKey::new(&key)
                        .expect("fast")
                        .decrypt_pkcs1v15(&ct)
                        .as_deref(),
                    Some(pms.as_slice()),
                    "{bits}-bit OpenSSL key"
                );
            }
            check_key(&key, &mut rng, 3);
        }
    }
}
