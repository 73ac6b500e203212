//! The attacker's RSADP (RFC 8017 §5.1.2, step 2.b: the Chinese remainder theorem) on AWS-LC's
//! BIGNUM functions, without the checks a server needs.
//!
//! `RSA_decrypt` spends ~5% of its time on the 2048-bit premasters of the `make bench` capture
//! re-encrypting each result with the public exponent and comparing: a defence against a fault
//! (Boneh–DeMillo–Lipton 1997) making a server sign or decrypt wrongly and leak a prime. The
//! attacker decrypts recordings offline with a key it already holds, so there is nothing to leak,
//! and a wrong result would fail the padding check and then the Finished MAC, both of which
//! the attacker checks anyway. This path keeps AWS-LC's two-exponent Montgomery assembly
//! (`BN_mod_exp_mont_consttime_x2`: both halves at once on AVX-512 IFMA where the CPU has it
//! and the primes are 1024, 1536 or 2048 bits; one after the other otherwise) and
//! does the rest — reduction, recombination, padding check — in variable time: a timing side
//! channel can only leak a key the attacker already has.
//!
//! AWS-LC cleanses every buffer it frees (`OPENSSL_free`), so the BIGNUMs here (primes,
//! exponents, intermediate results) are wiped when they are freed.

use std::ptr::{self, NonNull};

use aws_lc_sys as sys;

/// An owned AWS-LC BIGNUM.
struct Bn(NonNull<sys::BIGNUM>);

impl Bn {
    /// A copy of `src`, or `None` if `src` is null or AWS-LC cannot allocate.
    fn dup(src: *const sys::BIGNUM) -> Option<Self> {
        if src.is_null() {
            return None;
        }
        // SAFETY: `src` is a valid BIGNUM (non-null, owned by the caller's RSA); BN_dup copies it.
        NonNull::new(unsafe { sys::BN_dup(src) }).map(Self)
    }

    fn ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: owned by `self`, freed once.
        unsafe { sys::BN_free(self.0.as_ptr()) }
    }
}

/// An owned Montgomery context for one prime.
struct Mont(NonNull<sys::BN_MONT_CTX>);

impl Drop for Mont {
    fn drop(&mut self) {
        // SAFETY: owned by `self`, freed once.
        unsafe { sys::BN_MONT_CTX_free(self.0.as_ptr()) }
    }
}

/// A BN_CTX for one decryption, freed (with every BIGNUM it handed out) on drop.
struct Ctx(NonNull<sys::BN_CTX>);

impl Ctx {
    fn new() -> Option<Self> {
        // SAFETY: no arguments; null on allocation failure.
        NonNull::new(unsafe { sys::BN_CTX_new() }).map(Self)
    }

    fn ptr(&self) -> *mut sys::BN_CTX {
        self.0.as_ptr()
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: owned by `self`; BN_CTX_free frees the BIGNUMs from BN_CTX_get too.
        unsafe { sys::BN_CTX_free(self.0.as_ptr()) }
    }
}

/// The CRT form of a two-prime key (RFC 8017 §3.2: p, q, dP, dQ, qInv) and n, with the
/// Montgomery contexts of p and q built once.
pub(super) struct CrtKey {
    n: Bn,
    p: Bn,
    q: Bn,
    dp: Bn,
    dq: Bn,
    qinv: Bn,
    mont_p: Mont,
    mont_q: Mont,
}

// SAFETY: every field is owned and only read after `from_rsa` (AWS-LC's BIGNUM and
// BN_MONT_CTX reads are thread-safe; each decryption has its own BN_CTX).
unsafe impl Send for CrtKey {}
unsafe impl Sync for CrtKey {}

impl CrtKey {
    /// Copies the CRT numbers out of a loaded AWS-LC key; `None` if it lacks them.
    ///
    /// # Safety
    /// `rsa` must be a valid AWS-LC key for the duration of the call.
    pub(super) unsafe fn from_rsa(rsa: *const sys::RSA) -> Option<Self> {
        let (mut p, mut q) = (ptr::null(), ptr::null());
        let (mut dp, mut dq, mut qinv) = (ptr::null(), ptr::null(), ptr::null());
        // SAFETY: `rsa` is valid (the caller's contract); the getters write borrowed pointers.
        let n = unsafe {
            sys::RSA_get0_factors(rsa, &mut p, &mut q);
            sys::RSA_get0_crt_params(rsa, &mut dp, &mut dq, &mut qinv);
            sys::RSA_get0_n(rsa)
        };
        let ctx = Ctx::new()?;
        let (p, q) = (Bn::dup(p)?, Bn::dup(q)?);
        let mont = |m: &Bn| {
            // SAFETY: `m` is a valid odd modulus (a prime of a key AWS-LC parsed and checked).
            NonNull::new(unsafe { sys::BN_MONT_CTX_new_for_modulus(m.ptr(), ctx.ptr()) }).map(Mont)
        };
        Some(Self {
            n: Bn::dup(n)?,
            dp: Bn::dup(dp)?,
            dq: Bn::dup(dq)?,
            qinv: Bn::dup(qinv)?,
            mont_p: mont(&p)?,
            mont_q: mont(&q)?,
            p,
            q,
        })
    }

    /// m = c^d mod n as `out.len()` big-endian bytes (RFC 8017 §5.1.2), or `false` when c is not
    /// below n (step 1) or AWS-LC fails.
    pub(super) fn rsadp(&self, ciphertext: &[u8], out: &mut [u8]) -> bool {
        let Some(ctx) = Ctx::new() else {
            return false;
        };
        let cx = ctx.ptr();
        // SAFETY: every pointer is a valid BIGNUM (owned by `self`, or handed out by `ctx`
        // between BN_CTX_start and BN_CTX_end, nulls checked); `ciphertext` and `out` are valid
        // slices of the lengths passed. Results are written only to the BN_CTX temporaries.
        unsafe {
            sys::BN_CTX_start(cx);
            let temps: [*mut sys::BIGNUM; 6] = std::array::from_fn(|_| sys::BN_CTX_get(cx));
            if temps.iter().any(|t| t.is_null()) {
                sys::BN_CTX_end(cx);
                sys::ERR_clear_error();
                return false;
            }
            let [ct, c_p, c_q, m_p, m_q, m] = temps;
            let ok = !sys::BN_bin2bn(ciphertext.as_ptr(), ciphertext.len(), ct).is_null()
                && sys::BN_ucmp(ct, self.n.ptr()) < 0
                // c mod p, c mod q (BN_mod is BN_div with no quotient).
                && sys::BN_div(ptr::null_mut(), c_p, ct, self.p.ptr(), cx) == 1
                && sys::BN_div(ptr::null_mut(), c_q, ct, self.q.ptr(), cx) == 1
                // m_p = c^dP mod p and m_q = c^dQ mod q, side by side (step 2.b.i).
                && sys::BN_mod_exp_mont_consttime_x2(
                    m_q, c_q, self.dq.ptr(), self.q.ptr(), self.mont_q.0.as_ptr(),
                    m_p, c_p, self.dp.ptr(), self.p.ptr(), self.mont_p.0.as_ptr(),
                    cx,
                ) == 1
                // h = (m_p − m_q) · qInv mod p (step 2.b.iii), in m_p.
                && sys::BN_mod_sub(m_p, m_p, m_q, self.p.ptr(), cx) == 1
                && sys::BN_mod_mul(m_p, m_p, self.qinv.ptr(), self.p.ptr(), cx) == 1
                // m = m_q + q · h (step 2.b.iv).
                && sys::BN_mul(m, m_p, self.q.ptr(), cx) == 1
                && sys::BN_add(m, m, m_q) == 1
                && sys::BN_bn2bin_padded(out.as_mut_ptr(), out.len(), m) == 1;
            sys::BN_CTX_end(cx);
            if !ok {
                sys::ERR_clear_error();
            }
            ok
        }
    }
}

/// The message of EM = 00 02 PS 00 M with at least 8 bytes of nonzero PS (RFC 8017 §7.2.2
/// step 3), or `None`. Variable time: the attacker's, not a server's.
pub(super) fn type2_message(em: &[u8]) -> Option<&[u8]> {
    let rest = em.strip_prefix(&[0x00, 0x02])?;
    let ps_len = rest.iter().position(|&b| b == 0x00)?;
    (ps_len >= 8).then(|| rest.get(ps_len + 1..)).flatten()
}
