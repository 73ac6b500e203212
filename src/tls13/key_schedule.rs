//! The TLS 1.3 key schedule (RFC 8446 §7.1), one type per stage so code cannot encrypt with a
//! secret from the wrong stage. Pure functions over the hkdf crate, shared by the endpoints and
//! the attacker.
//!
//! ```text
//! 0 → HKDF-Extract(0, PSK or 0) = Early Secret
//!       → Derive-Secret(., "res binder", "") = binder_key (resumption PSKs, §4.2.11.2)
//!       → Derive-Secret(., "derived", "") → HKDF-Extract(., (EC)DHE) = Handshake Secret
//!           → "c hs traffic" / "s hs traffic" (ClientHello…ServerHello)
//!           → Derive-Secret(., "derived", "") → HKDF-Extract(., 0) = Master Secret
//!               → "c ap traffic" / "s ap traffic" / "exp master" (ClientHello…server Finished)
//!               → "res master" (ClientHello…client Finished)
//!                   → HKDF-Expand-Label(., "resumption", ticket_nonce) = the ticket's PSK (§4.6.1)
//! ```

use hkdf::Hkdf;
use sha2::{Sha256, Sha384};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::crypto::HashAlg;

fn extract(hash: HashAlg, salt: &[u8], ikm: &[u8]) -> Vec<u8> {
    match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::extract(Some(salt), ikm).0.to_vec(),
        HashAlg::Sha384 => Hkdf::<Sha384>::extract(Some(salt), ikm).0.to_vec(),
    }
}

fn expand(hash: HashAlg, prk: &[u8], info: &[u8], out: &mut [u8]) {
    // PRKs here are always Hash.length bytes and outputs far below 255 * Hash.length.
    let ok = match hash {
        HashAlg::Sha256 => Hkdf::<Sha256>::from_prk(prk)
            .ok()
            .and_then(|h| h.expand(info, out).ok()),
        HashAlg::Sha384 => Hkdf::<Sha384>::from_prk(prk)
            .ok()
            .and_then(|h| h.expand(info, out).ok()),
    };
    debug_assert!(
        ok.is_some(),
        "HKDF-Expand with a Hash.length PRK cannot fail"
    );
}

/// HKDF-Expand-Label(secret, label, context, length) (RFC 8446 §7.1).
pub fn expand_label(
    hash: HashAlg,
    secret: &[u8],
    label: &str,
    context: &[u8],
    length: usize,
) -> Zeroizing<Vec<u8>> {
    let mut info = Vec::with_capacity(4 + 6 + label.len() + context.len());
    info.extend_from_slice(&(length as u16).to_be_bytes());
    crate::codec::put_vec_u8(&mut info, format!("tls13 {label}").as_bytes());
    crate::codec::put_vec_u8(&mut info, context);
    let mut out = Zeroizing::new(vec![0u8; length]);
    expand(hash, secret, &info, &mut out);
    out
}

/// Derive-Secret(secret, label, transcript_hash).
pub fn derive_secret(
    hash: HashAlg,
    secret: &[u8],
    label: &str,
    transcript_hash: &[u8],
) -> Zeroizing<Vec<u8>> {
    expand_label(hash, secret, label, transcript_hash, hash.output_len())
}

/// Early Secret = HKDF-Extract(0, PSK or 0).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct EarlySecret {
    #[zeroize(skip)]
    hash: HashAlg,
    secret: Vec<u8>,
}

impl EarlySecret {
    /// Without a PSK (a full handshake): both inputs are Hash.length zeros.
    pub fn without_psk(hash: HashAlg) -> Self {
        let zeros = vec![0u8; hash.output_len()];
        Self {
            hash,
            secret: extract(hash, &zeros, &zeros),
        }
    }

    /// With a PSK (a resumption): HKDF-Extract(0, PSK).
    pub fn with_psk(hash: HashAlg, psk: &[u8]) -> Self {
        let zeros = vec![0u8; hash.output_len()];
        Self {
            hash,
            secret: extract(hash, &zeros, psk),
        }
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// binder_key = Derive-Secret(early, "res binder", "") for a resumption PSK (§7.1).
    pub fn resumption_binder_key(&self) -> BinderKey {
        let empty = self.hash.digest(b"");
        BinderKey {
            hash: self.hash,
            secret: derive_secret(self.hash, &self.secret, "res binder", &empty).to_vec(),
        }
    }

    /// psk_ke (RFC 8446 §4.2.9): no (EC)DHE, so the Handshake Secret's IKM is Hash.length zeros.
    pub fn into_handshake_without_dhe(self) -> HandshakeSecret {
        let zeros = vec![0u8; self.hash.output_len()];
        self.into_handshake(&zeros)
    }

    /// Handshake Secret = HKDF-Extract(Derive-Secret(early, "derived", ""), (EC)DHE).
    pub fn into_handshake(self, shared_secret: &[u8]) -> HandshakeSecret {
        let empty = self.hash.digest(b"");
        let salt = derive_secret(self.hash, &self.secret, "derived", &empty);
        HandshakeSecret {
            hash: self.hash,
            secret: extract(self.hash, &salt, shared_secret),
        }
    }
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct HandshakeSecret {
    #[zeroize(skip)]
    hash: HashAlg,
    secret: Vec<u8>,
}

impl HandshakeSecret {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// (client_handshake_traffic_secret, server_handshake_traffic_secret) over
    /// Hash(ClientHello…ServerHello).
    pub fn traffic_secrets(&self, hello_hash: &[u8]) -> (TrafficSecret, TrafficSecret) {
        (
            TrafficSecret::new(
                self.hash,
                derive_secret(self.hash, &self.secret, "c hs traffic", hello_hash).to_vec(),
            ),
            TrafficSecret::new(
                self.hash,
                derive_secret(self.hash, &self.secret, "s hs traffic", hello_hash).to_vec(),
            ),
        )
    }

    /// Master Secret = HKDF-Extract(Derive-Secret(handshake, "derived", ""), 0).
    pub fn into_master(self) -> MasterSecret13 {
        let empty = self.hash.digest(b"");
        let salt = derive_secret(self.hash, &self.secret, "derived", &empty);
        let zeros = vec![0u8; self.hash.output_len()];
        MasterSecret13 {
            hash: self.hash,
            secret: extract(self.hash, &salt, &zeros),
        }
    }
}

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSecret13 {
    #[zeroize(skip)]
    hash: HashAlg,
    secret: Vec<u8>,
}

impl MasterSecret13 {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// (client_application_traffic_secret_0, server_application_traffic_secret_0) over
    /// Hash(ClientHello…server Finished).
    pub fn traffic_secrets(&self, handshake_hash: &[u8]) -> (TrafficSecret, TrafficSecret) {
        (
            TrafficSecret::new(
                self.hash,
                derive_secret(self.hash, &self.secret, "c ap traffic", handshake_hash).to_vec(),
            ),
            TrafficSecret::new(
                self.hash,
                derive_secret(self.hash, &self.secret, "s ap traffic", handshake_hash).to_vec(),
            ),
        )
    }

    pub fn exporter_secret(&self, handshake_hash: &[u8]) -> Zeroizing<Vec<u8>> {
        derive_secret(self.hash, &self.secret, "exp master", handshake_hash)
    }

    /// resumption_master_secret = Derive-Secret(master, "res master", ClientHello…client
    /// Finished) (§7.1).
    pub fn resumption_master_secret(&self, client_finished_hash: &[u8]) -> ResumptionMasterSecret {
        ResumptionMasterSecret {
            hash: self.hash,
            secret: derive_secret(self.hash, &self.secret, "res master", client_finished_hash)
                .to_vec(),
        }
    }
}

/// The binder key of a resumption PSK; a binder is a Finished MAC over the truncated
/// ClientHello (RFC 8446 §4.2.11.2).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct BinderKey {
    #[zeroize(skip)]
    hash: HashAlg,
    secret: Vec<u8>,
}

impl BinderKey {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// HMAC(HKDF-Expand-Label(binder_key, "finished", "", Hash.length), Transcript-Hash(…
    /// truncated ClientHello)); after a HelloRetryRequest the transcript starts with
    /// message_hash and the HelloRetryRequest (§4.2.11.2, §4.4.1).
    pub fn binder(&self, truncated_transcript_hash: &[u8]) -> Vec<u8> {
        TrafficSecret::new(self.hash, self.secret.clone()).verify_data(truncated_transcript_hash)
    }
}

/// The resumption master secret; each NewSessionTicket's PSK comes from it and the ticket's
/// nonce (RFC 8446 §4.6.1).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ResumptionMasterSecret {
    #[zeroize(skip)]
    hash: HashAlg,
    secret: Vec<u8>,
}

impl ResumptionMasterSecret {
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// PSK = HKDF-Expand-Label(resumption_master_secret, "resumption", ticket_nonce, Hash.length).
    pub fn ticket_psk(&self, ticket_nonce: &[u8]) -> Zeroizing<Vec<u8>> {
        expand_label(
            self.hash,
            &self.secret,
            "resumption",
            ticket_nonce,
            self.hash.output_len(),
        )
    }
}

/// A traffic secret: the source of one direction's record keys, its Finished key, and the
/// next generation after KeyUpdate.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TrafficSecret {
    #[zeroize(skip)]
    pub hash: HashAlg,
    secret: Vec<u8>,
}

impl TrafficSecret {
    pub fn new(hash: HashAlg, secret: Vec<u8>) -> Self {
        Self { hash, secret }
    }

    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    /// write_key and write_iv (RFC 8446 §7.3).
    pub fn record_keys(&self, key_len: usize) -> (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>) {
        (
            expand_label(self.hash, &self.secret, "key", b"", key_len),
            expand_label(self.hash, &self.secret, "iv", b"", 12),
        )
    }

    /// finished_key = HKDF-Expand-Label(secret, "finished", "", Hash.length) (RFC 8446 §4.4.4).
    pub fn finished_key(&self) -> Zeroizing<Vec<u8>> {
        expand_label(
            self.hash,
            &self.secret,
            "finished",
            b"",
            self.hash.output_len(),
        )
    }

    /// verify_data = HMAC(finished_key, Transcript-Hash(…)).
    pub fn verify_data(&self, transcript_hash: &[u8]) -> Vec<u8> {
        self.hash.hmac(&self.finished_key(), &[transcript_hash])
    }

    /// application_traffic_secret_N+1 (RFC 8446 §7.2).
    pub fn next_generation(&self) -> Self {
        Self::new(
            self.hash,
            expand_label(
                self.hash,
                &self.secret,
                "traffic upd",
                b"",
                self.hash.output_len(),
            )
            .to_vec(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(s).unwrap()
    }

    /// RFC 8448 §3 "Simple 1-RTT Handshake": every stage of the schedule.
    #[test]
    fn rfc8448_simple_1rtt() {
        let early = EarlySecret::without_psk(HashAlg::Sha256);
        assert_eq!(
            early.secret(),
            h("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
        );

        let shared = h("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d");
        let hs = early.into_handshake(&shared);
        assert_eq!(
            hs.secret(),
            h("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
        );

        let hello_hash = h("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8");
        let (c_hs, s_hs) = hs.traffic_secrets(&hello_hash);
        assert_eq!(
            c_hs.secret(),
            h("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
        );
        assert_eq!(
            s_hs.secret(),
            h("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
        );
        let (key, iv) = s_hs.record_keys(16);
        assert_eq!(*key, h("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(*iv, h("5d313eb2671276ee13000b30"));
        let (key, iv) = c_hs.record_keys(16);
        assert_eq!(*key, h("dbfaa693d1762c5b666af5d950258d01"));
        assert_eq!(*iv, h("5bd3c71b836e0b76bb73265f"));
        assert_eq!(
            *s_hs.finished_key(),
            h("008d3b66f816ea559f96b537e885c31fc068bf492c652f01f288a1d8cdc19fc8")
        );
        assert_eq!(
            *c_hs.finished_key(),
            h("b80ad01015fb2f0bd65ff7d4da5d6bf83f84821d1f87fdc7d3c75b5a7b42d9c4")
        );

        let master = hs.into_master();
        assert_eq!(
            master.secret(),
            h("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
        );
        let handshake_hash = h("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13");
        let (c_ap, s_ap) = master.traffic_secrets(&handshake_hash);
        assert_eq!(
            c_ap.secret(),
            h("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
        );
        assert_eq!(
            s_ap.secret(),
            h("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
        );
        assert_eq!(
            *master.exporter_secret(&handshake_hash),
            h("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50")
        );
        let (key, iv) = s_ap.record_keys(16);
        assert_eq!(*key, h("9f02283b6c9c07efc26bb9f2ac92e356"));
        assert_eq!(*iv, h("cf782b88dd83549aadf1e984"));
        let (key, iv) = c_ap.record_keys(16);
        assert_eq!(*key, h("17422dda596ed5d9acd890e3c63f5051"));
        assert_eq!(*iv, h("5b78923dee08579033e523d9"));
    }

    /// RFC 8448 §3: the resumption master secret after the client Finished, and the PSK of the
    /// NewSessionTicket (nonce 00 00).
    #[test]
    fn rfc8448_resumption_master_and_ticket_psk() {
        let master = EarlySecret::without_psk(HashAlg::Sha256)
            .into_handshake(&h(
                "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d",
            ))
            .into_master();
        let client_finished_hash =
            h("209145a96ee8e2a122ff810047cc952684658d6049e86429426db87c54ad143d");
        let res = master.resumption_master_secret(&client_finished_hash);
        assert_eq!(
            res.secret(),
            h("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")
        );
        assert_eq!(
            *res.ticket_psk(&[0, 0]),
            h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
        );
    }

    /// RFC 8448 §4 "Resumed 0-RTT Handshake": the early secret from the ticket's PSK, the
    /// binder key, the binder over the 477-octet ClientHello prefix, and the handshake secret.
    #[test]
    fn rfc8448_resumed_handshake() {
        let psk = h("4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3");
        let early = EarlySecret::with_psk(HashAlg::Sha256, &psk);
        assert_eq!(
            early.secret(),
            h("9b2188e9b2fc6d64d71dc329900e20bb41915000f678aa839cbb797cb7d8332c")
        );
        let binder_key = early.resumption_binder_key();
        assert_eq!(
            binder_key.secret(),
            h("69fe131a3bbad5d63c64eebcc30e395b9d8107726a13d074e389dbc8a4e47256")
        );
        let binder_hash = h("63224b2e4573f2d3454ca84b9d009a04f6be9e05711a8396473aefa01e924a14");
        assert_eq!(
            binder_key.binder(&binder_hash),
            h("3add4fb2d8fdf822a0ca3cf7678ef5e88dae990141c5924d57bb6fa31b9e5f9d")
        );
        let shared = h("f44194756ff9ec9d25180635d66ea6824c6ab3bf179977be37f723570e7ccb2e");
        let hs = early.clone().into_handshake(&shared);
        assert_eq!(
            hs.secret(),
            h("005cb112fd8eb4ccc623bb88a07c64b3ede1605363fc7d0df8c7ce4ff0fb4ae6")
        );
        // psk_ke: the same stage with Hash.length zeros as IKM.
        let zeros = vec![0u8; 32];
        assert_eq!(
            early.clone().into_handshake_without_dhe().secret(),
            early.into_handshake(&zeros).secret()
        );
    }

    /// RFC 5869 Appendix A.1, the first HKDF test case, through the same helpers.
    #[test]
    fn rfc5869_case_1() {
        let prk = extract(
            HashAlg::Sha256,
            &h("000102030405060708090a0b0c"),
            &h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
        );
        assert_eq!(
            prk,
            h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let mut okm = [0u8; 42];
        expand(HashAlg::Sha256, &prk, &h("f0f1f2f3f4f5f6f7f8f9"), &mut okm);
        assert_eq!(okm.to_vec(), h("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
    }
}
