//! The TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label + seed), cut to length.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Sha256, Sha384};

use crate::crypto::HashAlg;

/// PRF(secret, label, seed) = P_<hash>(secret, label + seed), `out.len()` bytes.
pub fn prf(hash: HashAlg, out: &mut [u8], secret: &[u8], label: &[u8], seed: &[&[u8]]) {
    match hash {
        HashAlg::Sha256 => p_hash::<Hmac<Sha256>>(out, secret, label, seed),
        HashAlg::Sha384 => p_hash::<Hmac<Sha384>>(out, secret, label, seed),
    }
}

/// P_hash (RFC 5246 §5). The secret is keyed into HMAC once and the keyed state cloned for
/// each HMAC: every one of them has the same key.
fn p_hash<M: Mac + KeyInit + Clone>(out: &mut [u8], secret: &[u8], label: &[u8], seed: &[&[u8]]) {
    let keyed = match <M as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    let hmac = |parts: &[&[u8]]| {
        let mut mac = keyed.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes()
    };
    let label_seed: Vec<&[u8]> = std::iter::once(label).chain(seed.iter().copied()).collect();
    // A(1) = HMAC(secret, label+seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = hmac(&label_seed);
    let mut filled = 0;
    while filled < out.len() {
        let mut parts = Vec::with_capacity(1 + label_seed.len());
        parts.push(a.as_slice());
        parts.extend_from_slice(&label_seed);
        let block = hmac(&parts);
        let n = block.len().min(out.len() - filled);
        out[filled..filled + n].copy_from_slice(&block[..n]);
        filled += n;
        if filled < out.len() {
            a = hmac(&[a.as_slice()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(s).unwrap()
    }

    /// TLS 1.2 PRF-SHA256 vector posted to the IETF TLS list (msg03416), the one rustls and
    /// others test against.
    #[test]
    fn prf_sha256_vector() {
        let mut out = [0u8; 100];
        prf(
            HashAlg::Sha256,
            &mut out,
            &h("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &[&h("a0ba9f936cda311827a6f796ffd5198c")],
        );
        assert_eq!(out.to_vec(), h("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a\
            6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f\
            796789baa48082d122ee42c5a72e5a5110fff70187347b66"));
    }

    /// The companion PRF-SHA384 vector from the same post.
    #[test]
    fn prf_sha384_vector() {
        let mut out = [0u8; 148];
        prf(
            HashAlg::Sha384,
            &mut out,
            &h("b80b733d6ceefcdc71566ea48e5567df"),
            b"test label",
            &[&h("cd665cf6a8447dd6ff8b27555edb7465")],
        );
        assert_eq!(out.to_vec(), h("7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cd\
            e9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722\
            a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236\
            a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f"));
    }

    #[test]
    fn seed_parts_concatenate() {
        let (mut a, mut b) = ([0u8; 40], [0u8; 40]);
        prf(HashAlg::Sha256, &mut a, b"k", b"l", &[b"ab", b"cd"]);
        prf(HashAlg::Sha256, &mut b, b"k", b"l", &[b"abcd"]);
        assert_eq!(a, b);
    }
}
