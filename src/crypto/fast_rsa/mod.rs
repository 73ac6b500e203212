//! RSA private-key decryption on AWS-LC, called directly (aws-lc-sys): the attacker's (without
//! blinding) and the lab server's (blinded).
//!
//! The attacker decrypts one recorded premaster per RSA-transport session with a key it
//! already holds, so on a large capture RSA is nearly the whole cost. The rsa crate (0.10),
//! which the lab's server keeps, runs blinded constant-time arithmetic on crypto-bigint; AWS-LC
//! (the library under aws-lc-rs, the crypto provider rustls uses by default) runs the same
//! operation — RSADP with the Chinese remainder theorem, RFC 8017 §5.1.2 step 2.b — on
//! hand-tuned Montgomery assembly (AVX-512 IFMA where the CPU has it): 0.7 ms against 2.9 ms
//! per 2048-bit premaster here (`cargo bench --bench hot_paths -- rsa`).
//!
//! Without blinding: a server blinds each ciphertext (multiplies it by r^e, a fresh random r,
//! and divides r out after) so its timing tells a remote observer nothing about the key, and
//! [`FastRsaKey::new`] keeps that for the lab's server (AWS-LC's `RSA_decrypt`). The attacker
//! already has the key and decrypts offline, so [`FastRsaKey::unblinded`] decrypts through
//! [`crt`] instead: the same exponentiation on AWS-LC's constant-time Montgomery assembly,
//! without the blinding (a random number, a modular inverse and two multiplications per
//! premaster: ~6% of the attacker's CPU on the `make bench` capture, by `perf`) and without the
//! re-encryption a server does against faults (~5% more).
//!
//! Rejection: the rsa crate's PKCS#1 v1.5 decryption uses implicit rejection — bad padding
//! gives `Ok` with a deterministic pseudo-random message. [`FastRsaKey::decrypt_pkcs1v15`]
//! returns `None` instead; a server must then go on with a random premaster and answer exactly
//! as for a good padding (RFC 5246 §7.4.7.1), which the lab's server does. Where
//! the padding is valid both return the same message. Where it is not, the rsa crate's fake
//! message is one the attacker's own checks (a 48-byte premaster starting with the client
//! version, then the Finished MAC or GCM tag) reject anyway, so the two paths lead the attacker
//! to the same verdict.
//!
//! Two-prime keys of 2048 to 8192 bits only (what aws-lc-rs takes). For anything else (the
//! lab's `--bits 1024`, multi-prime keys) [`FastRsaKey::new`] returns `None` and the attacker
//! keeps the rsa crate's path, which is fast enough at those sizes.

mod crt;

use std::ptr::NonNull;

use aws_lc_sys as sys;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use zeroize::Zeroizing;

/// An RSA private key loaded into AWS-LC for PKCS#1 v1.5 decryption. AWS-LC clears the key's
/// numbers when it is freed (`BN_clear_free`); the PKCS#1 bytes used to load it are zeroized.
pub struct FastRsaKey {
    /// Owned: from `RSA_private_key_from_bytes`, freed by `RSA_free` in `drop`.
    rsa: NonNull<sys::RSA>,
    /// Modulus length in bytes (`k` in RFC 8017).
    k: usize,
    /// The attacker's path ([`FastRsaKey::unblinded`]); `None` for a server's key.
    crt: Option<crt::CrtKey>,
}

// SAFETY: `rsa` is owned by this value and never handed out. AWS-LC's `RSA` is safe to use
// from several threads at once for private-key operations: the Montgomery contexts it builds
// on first use are built under its own lock (`freeze_private_key`), and nothing here mutates
// the key after `new`.
unsafe impl Send for FastRsaKey {}
unsafe impl Sync for FastRsaKey {}

impl FastRsaKey {
    /// Loads `key` into AWS-LC with blinding (a server's key), or `None` for a key this path
    /// does not take (fewer than 2048 or more than 8192 bits, more than two primes): the caller
    /// then keeps the rsa crate's.
    pub fn new(key: &rsa::PrivateKey) -> Option<Self> {
        Self::load(key, true)
    }

    /// As [`FastRsaKey::new`], without blinding: for the attacker, who holds the stolen key
    /// and decrypts recordings offline (see the module docs).
    pub fn unblinded(key: &rsa::PrivateKey) -> Option<Self> {
        Self::load(key, false)
    }

    fn load(key: &rsa::PrivateKey, blinding: bool) -> Option<Self> {
        let k = key.size();
        if key.primes().len() != 2 {
            return None;
        }
        let der = Zeroizing::new(key.to_pkcs1_der().ok()?.as_bytes().to_vec());
        // SAFETY: `der` is a valid slice for the call; AWS-LC copies what it parses and
        // returns an owned key or null.
        let rsa = NonNull::new(unsafe { sys::RSA_private_key_from_bytes(der.as_ptr(), der.len()) });
        let Some(rsa) = rsa else {
            // SAFETY: clears this thread's AWS-LC error queue; no arguments.
            unsafe { sys::ERR_clear_error() };
            return None;
        };
        let mut loaded = Self { rsa, k, crt: None };
        // SAFETY: `rsa` is a valid key owned by `loaded`; no other thread sees it yet.
        let bits = unsafe { sys::RSA_bits(rsa.as_ptr()) };
        if !(2048..=8192).contains(&bits) {
            return None;
        }
        if !blinding {
            // SAFETY: as above.
            loaded.crt = Some(unsafe { crt::CrtKey::from_rsa(rsa.as_ptr()) }?);
        }
        Some(loaded)
    }

    /// The modulus length in bytes: every ciphertext has exactly this length.
    pub fn size(&self) -> usize {
        self.k
    }

    /// RSAES-PKCS1-v1_5 decryption (RFC 8017 §7.2.2): the message of a type-2 padded
    /// ciphertext, or `None` when the ciphertext is not `k` bytes, is not below the modulus,
    /// or does not decrypt to `00 02 PS(≥ 8 nonzero bytes) 00 M`.
    ///
    /// The message is secret (a premaster), so it comes back zeroized on drop.
    pub fn decrypt_pkcs1v15(&self, ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.k {
            return None;
        }
        let mut out = Zeroizing::new(vec![0u8; self.k]);
        if let Some(crt) = &self.crt {
            if !crt.rsadp(ciphertext, &mut out) {
                return None;
            }
            let message = crt::type2_message(&out)?;
            return Some(Zeroizing::new(message.to_vec()));
        }
        let mut out_len = 0usize;
        // SAFETY: `rsa` is valid for the life of `self` (see the `Sync` note); `out` has room
        // for `out.len()` bytes and `ciphertext` is a valid slice; AWS-LC writes at most
        // `max_out` bytes and sets `out_len` on success.
        let ok = unsafe {
            sys::RSA_decrypt(
                self.rsa.as_ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                ciphertext.as_ptr(),
                ciphertext.len(),
                sys::RSA_PKCS1_PADDING,
            )
        };
        if ok != 1 || out_len > out.len() {
            // SAFETY: clears this thread's AWS-LC error queue; no arguments.
            unsafe { sys::ERR_clear_error() };
            return None;
        }
        out.truncate(out_len);
        Some(out)
    }
}

/// RSAES-PKCS1-v1_5 decryption of `ciphertext` with `key`: on AWS-LC through `fast` when there
/// is one, else on the rsa crate. `None` for any failure; on the rsa crate a bad padding gives
/// its implicit-rejection message instead (see the module docs), which is not the sender's
/// message either.
pub fn decrypt_pkcs1v15_with(
    key: &rsa::PrivateKey,
    fast: Option<&FastRsaKey>,
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    match fast {
        Some(fast) => fast.decrypt_pkcs1v15(ciphertext),
        None => crate::pki::rsa_decrypt_pkcs1(key, ciphertext)
            .ok()
            .map(Zeroizing::new),
    }
}

impl Drop for FastRsaKey {
    fn drop(&mut self) {
        // SAFETY: `rsa` is owned by `self` and freed once, here.
        unsafe { sys::RSA_free(self.rsa.as_ptr()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::Rng;
    use rsa::BoxedUint;

    use crate::crypto::rng::{from_seed, LabRng};
    use crate::test_support::{openssl, openssl_encrypt_pkcs1, TempDir};

    /// The decrypted message as a plain vector, for comparisons.
    fn plain(fast: &FastRsaKey, ct: &[u8]) -> Option<Vec<u8>> {
        fast.decrypt_pkcs1v15(ct).map(|m| m.to_vec())
    }

    /// c = m^e mod n for an arbitrary encoded message (RSAEP, RFC 8017 §5.1.1), so tests can
    /// build paddings the rsa crate would never produce.
    fn raw_encrypt(key: &rsa::PrivateKey, em: &[u8]) -> Vec<u8> {
        let m = BoxedUint::from_be_slice(em, key.n().bits_precision()).expect("em fits");
        let c = rsa::hazmat::rsa_encrypt(key, &m).expect("below n");
        left_pad(&c.to_be_bytes(), key.size())
    }

    /// m = c^d mod n (RSADP, RFC 8017 §5.1.2) by the rsa crate, checked by re-encryption.
    fn raw_decrypt(key: &rsa::PrivateKey, ct: &[u8]) -> Vec<u8> {
        let c = BoxedUint::from_be_slice(ct, key.n().bits_precision()).expect("ct fits");
        let m = rsa::hazmat::rsa_decrypt_and_check(key, None::<&mut LabRng>, &c).expect("RSADP");
        left_pad(&m.to_be_bytes(), key.size())
    }

    /// The message of EM = 00 02 PS 00 M with |PS| ≥ 8 (RFC 8017 §7.2.2 step 3), else `None`:
    /// what every decryption must agree with.
    fn type2_message(em: &[u8]) -> Option<Vec<u8>> {
        if em.len() < 11 || em[0] != 0x00 || em[1] != 0x02 {
            return None;
        }
        let separator = 2 + em[2..].iter().position(|&b| b == 0x00)?;
        (separator >= 10).then(|| em[separator + 1..].to_vec())
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
    /// Checks one key loaded `blinded` (the server's way) or not (the attacker's).
    fn check_key(key: &rsa::PrivateKey, rng: &mut LabRng, randoms: usize, blinded: bool) {
        let fast = if blinded {
            FastRsaKey::new(key)
        } else {
            FastRsaKey::unblinded(key)
        }
        .expect("a two-prime key of 2048..=8192 bits");
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
            assert_eq!(plain(&fast, &ct), Some(msg), "{len}-byte message");
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
        let body = random_bytes(rng, k - 11);
        let mut nonzero_first = encode(rng, k, 8, &body);
        nonzero_first[0] = 0x01;
        if BoxedUint::from_be_slice(&nonzero_first, key.n().bits_precision()).expect("fits")
            < *key.n().as_ref()
        {
            crafted.push((nonzero_first, None));
        }
        for (em, expected) in crafted {
            assert_eq!(
                type2_message(&em),
                expected,
                "test vector is what it claims"
            );
            let ct = raw_encrypt(key, &em);
            assert_eq!(raw_decrypt(key, &ct), em);
            let ours = plain(&fast, &ct);
            let theirs = key.pkcs1v15_decrypt(&ct).expect("implicit rejection is Ok");
            assert_eq!(ours, expected, "EM {}", crate::codec::hex(&em[..12]));
            if let Some(m) = &ours {
                assert_eq!(&theirs, m);
            }
        }

        // Random ciphertexts: whatever c^d mod n is, AWS-LC's answer is its type-2 message, and
        // where there is one the rsa crate returns it too (else its fake, which we refuse).
        for _ in 0..randoms {
            let ct = random_below_n(rng, key);
            let em = raw_decrypt(key, &ct);
            let ours = plain(&fast, &ct);
            assert_eq!(ours, type2_message(&em));
            if let Some(m) = ours {
                assert_eq!(m, key.pkcs1v15_decrypt(&ct).expect("Ok"));
            }
        }

        // Edges: 0, 1 and n − 1 are their own roots (no padding); n, n + 1, all ones and wrong
        // lengths are refused, as the rsa crate refuses them with an error.
        let n_bytes = left_pad(&key.n().as_ref().to_be_bytes(), k);
        let one = BoxedUint::one();
        let n_minus_1 = left_pad(&key.n().as_ref().wrapping_sub(&one).to_be_bytes(), k);
        let n_plus_1 = left_pad(&key.n().as_ref().wrapping_add(&one).to_be_bytes(), k);
        let mut zero = vec![0u8; k];
        let mut unit = vec![0u8; k];
        unit[k - 1] = 1;
        for own_root in [&mut zero, &mut unit] {
            assert_eq!(plain(&fast, own_root), None);
        }
        assert_eq!(raw_decrypt(key, &n_minus_1), n_minus_1);
        assert_eq!(plain(&fast, &n_minus_1), None);
        for bad in [
            n_bytes,
            n_plus_1,
            vec![0xff; k],
            vec![0x00; k - 1],
            vec![0x00; k + 1],
            Vec::new(),
        ] {
            assert_eq!(plain(&fast, &bad), None);
            assert!(key.pkcs1v15_decrypt(&bad).is_err());
        }
    }

    #[test]
    fn matches_rsa_crate_on_seeded_keys() {
        // The lab's size, and sizes whose modulus does not fill its last byte or word.
        let sizes = [2048, 2048, 2048, 2048, 2049, 2050, 2056, 2100];
        for (i, bits) in sizes.into_iter().enumerate() {
            let mut rng = from_seed(i as u64, "fast_rsa test key");
            let key = crate::pki::generate_key(&mut rng, bits).expect("keygen");
            check_key(
                &key,
                &mut from_seed(i as u64, "fast_rsa test ciphertexts"),
                8,
                i % 2 == 0,
            );
        }
    }

    #[test]
    fn keys_aws_lc_does_not_take_fall_back() {
        let mut rng = from_seed(8, "fast_rsa refused keys");
        // Below 2048 bits (the lab's --bits 1024 among them).
        for bits in [1024, 2047] {
            let key = crate::pki::generate_key(&mut rng, bits).expect("keygen");
            assert!(FastRsaKey::new(&key).is_none(), "{bits} bits");
        }
        // A three-prime key (RFC 8017 §3.2) of 2304 bits, a size AWS-LC takes with two primes.
        let a = crate::pki::generate_key(&mut rng, 1536).expect("keygen");
        let b = crate::pki::generate_key(&mut rng, 1536).expect("keygen");
        let primes = vec![
            a.primes()[0].as_ref().clone(),
            a.primes()[1].as_ref().clone(),
            b.primes()[0].as_ref().clone(),
        ];
        let key =
            rsa::PrivateKey::from_primes(primes, BoxedUint::from(65537u64)).expect("3-prime key");
        assert!(key.size() >= 256);
        assert!(FastRsaKey::new(&key).is_none());
    }

    #[test]
    fn wrong_key_is_refused_where_rsa_crate_fakes() {
        let mut rng = from_seed(7, "fast_rsa wrong key");
        let right = crate::pki::generate_key(&mut rng, 2048).expect("keygen");
        let wrong = crate::pki::generate_key(&mut rng, 2048).expect("keygen");
        let fast_wrong = FastRsaKey::new(&wrong).expect("fast");
        let mut fakes = 0;
        for _ in 0..8 {
            let pms = random_bytes(&mut rng, 48);
            let ct = right
                .to_public_key()
                .pkcs1v15_encrypt_with_rng(&mut rng, &pms)
                .expect("encrypt");
            // Same modulus length, different key: the rsa crate answers with a fake message.
            if let Ok(fake) = wrong.pkcs1v15_decrypt(&ct) {
                assert_ne!(fake, pms);
                fakes += 1;
            }
            // Whatever the wrong key's RSADP gives, AWS-LC answers exactly its padding check.
            let expected = BoxedUint::from_be_slice(&ct, wrong.n().bits_precision())
                .ok()
                .filter(|c| c < wrong.n().as_ref())
                .and_then(|_| type2_message(&raw_decrypt(&wrong, &ct)));
            assert_eq!(plain(&fast_wrong, &ct), expected);
            assert_ne!(plain(&fast_wrong, &ct), Some(pms));
        }
        assert!(
            fakes > 0,
            "the rsa crate's implicit rejection was exercised"
        );
    }

    #[test]
    fn openssl_keys_and_ciphertexts() {
        let dir = TempDir::new("fast-rsa");
        let mut rng = from_seed(9, "fast_rsa openssl");
        for bits in ["2048", "3072", "4096"] {
            openssl(&dir, &["genrsa", "-out", "key.pem", bits]);
            openssl(
                &dir,
                &["pkey", "-in", "key.pem", "-pubout", "-out", "pub.pem"],
            );
            let key = crate::pki::load_private_key(&dir.path("key.pem")).expect("load");
            for _ in 0..3 {
                let pms = [&[0x03, 0x03][..], &random_bytes(&mut rng, 46)].concat();
                let ct = openssl_encrypt_pkcs1(&dir, "pub.pem", &pms);
                let fast = FastRsaKey::new(&key).expect("fast");
                assert_eq!(
                    plain(&fast, &ct),
                    Some(pms.clone()),
                    "{bits}-bit OpenSSL key"
                );
            }
            check_key(&key, &mut rng, 4, bits == "3072");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Signing (issue 20, the server's handshakes/s): the same key loaded into AWS-LC as a key pair.

/// The RSA signature paddings TLS uses (RFC 8446 §4.2.3), with the hash named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastSignature {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2). (AWS-LC signs nothing with SHA-1: rsa_pkcs1_sha1
    /// stays on the rsa crate.)
    Pkcs1Sha256,
    Pkcs1Sha384,
    Pkcs1Sha512,
    /// RSASSA-PSS (RFC 8017 §8.1), MGF1 with the same hash, salt length = hash length.
    PssSha256,
    PssSha384,
    PssSha512,
}

/// An RSA private key loaded into AWS-LC for signing: RSASP1 with CRT and blinding on AWS-LC's
/// Montgomery assembly (~4× the rsa crate's speed here). PKCS#1 v1.5 signatures are
/// deterministic (RFC 8017 §8.2.1), so they equal the rsa crate's byte for byte; a PSS salt
/// comes from AWS-LC's own generator, not from the caller's (seeded) one.
pub struct FastRsaSigner {
    key: aws_lc_rs::rsa::KeyPair,
}

impl FastRsaSigner {
    /// Loads `key` into AWS-LC, or `None` for a key AWS-LC does not take (see [`FastRsaKey::new`]).
    pub fn new(key: &rsa::PrivateKey) -> Option<Self> {
        if key.primes().len() != 2 {
            return None;
        }
        let der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(key).ok()?;
        let loaded = aws_lc_rs::rsa::KeyPair::from_pkcs8(der.as_bytes()).ok()?;
        (loaded.public_modulus_len() == key.size()).then_some(Self { key: loaded })
    }

    /// Signs `message` (hashed here); `None` if AWS-LC refuses (e.g. a key too small for the
    /// scheme: RFC 8017 §9.1.1 wants emLen ≥ hLen + sLen + 2).
    pub fn sign(&self, padding: FastSignature, message: &[u8]) -> Option<Vec<u8>> {
        use aws_lc_rs::signature as s;
        let encoding: &'static s::RsaSignatureEncoding = match padding {
            FastSignature::Pkcs1Sha256 => &s::RSA_PKCS1_SHA256,
            FastSignature::Pkcs1Sha384 => &s::RSA_PKCS1_SHA384,
            FastSignature::Pkcs1Sha512 => &s::RSA_PKCS1_SHA512,
            FastSignature::PssSha256 => &s::RSA_PSS_SHA256,
            FastSignature::PssSha384 => &s::RSA_PSS_SHA384,
            FastSignature::PssSha512 => &s::RSA_PSS_SHA512,
        };
        let mut signature = vec![0u8; self.key.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.key
            .sign(encoding, &rng, message, &mut signature)
            .ok()?;
        Some(signature)
    }
}
