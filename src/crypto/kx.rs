//! TLS 1.3 key shares (RFC 8446 §4.2.8) in the three groups the lab speaks: secp256r1 (P-256),
//! x25519 (RFC 7748) and the hybrid X25519MLKEM768 (draft-ietf-tls-ecdhe-mlkem: ML-KEM-768 from
//! FIPS 203 beside X25519). One enum for "a key share": generated from the [`LabRng`] (so
//! `--seed` stays reproducible), its public bytes, and the shared secret — by agreement for the
//! classical groups, by encapsulation (server) and decapsulation (client) for the ML-KEM half.
//!
//! The lattice code is RustCrypto's `ml-kem`, X25519 is `x25519-dalek`; nothing here is
//! hand-written cryptography.

use ml_kem::ml_kem_768::{Ciphertext, DecapsulationKey, EncapsulationKey};
use ml_kem::{Decapsulate, KeyExport, Seed, B32};
use rand::Rng;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::ecdh::EphemeralKey;
use crate::crypto::rng::LabRng;
use crate::standin::DlogGroup;

/// ML-KEM-768 encapsulation key (FIPS 203 §8, Table 3: 384·k + 32 with k = 3).
pub const MLKEM768_EK_LEN: usize = 1184;
/// ML-KEM-768 ciphertext (32·(du·k + dv) = 1088).
pub const MLKEM768_CT_LEN: usize = 1088;
/// X25519 public values and scalars (RFC 7748 §5).
pub const X25519_LEN: usize = 32;
/// The hybrid client share: encapsulation key ‖ X25519 (draft-ietf-tls-ecdhe-mlkem §3).
pub const HYBRID_CLIENT_SHARE_LEN: usize = MLKEM768_EK_LEN + X25519_LEN;
/// The hybrid server share: ciphertext ‖ X25519.
pub const HYBRID_SERVER_SHARE_LEN: usize = MLKEM768_CT_LEN + X25519_LEN;

/// A group the lab's TLS 1.3 endpoints can make a key share in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KxGroup {
    /// secp256r1 (0x0017): the default, so captures recorded before the other groups existed
    /// come out byte for byte the same.
    #[default]
    P256,
    /// x25519 (0x001D, RFC 7748).
    X25519,
    /// X25519MLKEM768 (0x11EC, draft-ietf-tls-ecdhe-mlkem): ML-KEM-768 (FIPS 203) ‖ X25519.
    X25519MlKem768,
}

impl KxGroup {
    /// The server's order of preference: the hybrid first, then X25519, then P-256.
    pub const PREFERENCE: [KxGroup; 3] = [Self::X25519MlKem768, Self::X25519, Self::P256];

    /// The NamedGroup codepoint.
    pub fn codepoint(self) -> u16 {
        match self {
            Self::P256 => 0x0017,
            Self::X25519 => 0x001d,
            Self::X25519MlKem768 => 0x11ec,
        }
    }

    pub fn from_codepoint(v: u16) -> Option<Self> {
        Self::PREFERENCE.into_iter().find(|g| g.codepoint() == v)
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "secp256r1",
            Self::X25519 => "x25519",
            Self::X25519MlKem768 => "X25519MLKEM768",
        }
    }

    /// The `--group` spelling.
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::P256 => "p256",
            Self::X25519 => "x25519",
            Self::X25519MlKem768 => "x25519mlkem768",
        }
    }

    /// Reads a `--group` value (the IANA names work too).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim().to_ascii_lowercase();
        Self::PREFERENCE
            .into_iter()
            .find(|g| g.cli_name() == t || g.name().to_ascii_lowercase() == t)
    }

    /// The classical group a discrete-log solver would attack in this key share.
    pub fn dlog_group(self) -> DlogGroup {
        match self {
            Self::P256 => DlogGroup::Secp256r1,
            Self::X25519 => DlogGroup::X25519,
            Self::X25519MlKem768 => DlogGroup::X25519MlKem768,
        }
    }

    /// The client's key_exchange length, for the server's check.
    pub fn client_share_len(self) -> usize {
        match self {
            Self::P256 => crate::crypto::ecdh::POINT_LEN,
            Self::X25519 => X25519_LEN,
            Self::X25519MlKem768 => HYBRID_CLIENT_SHARE_LEN,
        }
    }

    /// The server's key_exchange length, for the client's check.
    pub fn server_share_len(self) -> usize {
        match self {
            Self::P256 => crate::crypto::ecdh::POINT_LEN,
            Self::X25519 => X25519_LEN,
            Self::X25519MlKem768 => HYBRID_SERVER_SHARE_LEN,
        }
    }
}

/// Why a peer's key share was refused; every case is illegal_parameter (RFC 8446 §4.2.8,
/// draft-ietf-tls-ecdhe-mlkem §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KxError {
    /// The key_exchange is not the group's length.
    Length {
        group: KxGroup,
        got: usize,
        want: usize,
    },
    /// An X25519 product of all zeros: a small-order peer value (RFC 8446 §7.4.2, RFC 7748 §6.1).
    X25519AllZero,
    /// The ML-KEM encapsulation key fails the modulus check (FIPS 203 §7.2).
    EncapsulationKey,
    /// A P-256 point that is not on the curve (or not uncompressed).
    P256(String),
}

impl std::fmt::Display for KxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Length { group, got, want } => write!(
                f,
                "{} key share of {got} bytes, not {want}",
                group.name()
            ),
            Self::X25519AllZero => write!(
                f,
                "the X25519 shared secret is all zeros (a small-order public value, RFC 8446 §7.4.2)"
            ),
            Self::EncapsulationKey => write!(
                f,
                "the ML-KEM-768 encapsulation key fails the modulus check (FIPS 203 §7.2)"
            ),
            Self::P256(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for KxError {}

/// An X25519 key pair whose scalar can be written to the discrete-log stand-in.
pub struct X25519Key {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl X25519Key {
    pub fn generate(rng: &mut LabRng) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let key = Self::from_scalar(bytes);
        bytes.zeroize();
        key
    }

    /// The key with this 32-byte scalar (RFC 7748 §5: clamped when used).
    pub fn from_scalar(scalar: [u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(scalar);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }

    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// The scalar as RFC 7748 §5 encodes it (before clamping).
    pub fn scalar(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.secret.to_bytes().to_vec())
    }

    /// X25519(k, peer); an all-zero result is refused (RFC 8446 §7.4.2).
    pub fn agree(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, KxError> {
        let peer: [u8; 32] = peer.try_into().map_err(|_| KxError::Length {
            group: KxGroup::X25519,
            got: peer.len(),
            want: X25519_LEN,
        })?;
        let shared = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(peer));
        if !shared.was_contributory() {
            return Err(KxError::X25519AllZero);
        }
        Ok(Zeroizing::new(shared.as_bytes().to_vec()))
    }
}

/// The client's half of a key share: its private parts, kept until the ServerHello.
pub enum ClientShare {
    P256(EphemeralKey),
    X25519(X25519Key),
    /// ML-KEM-768 decapsulation key and X25519 key.
    Hybrid {
        mlkem: Box<DecapsulationKey>,
        x25519: X25519Key,
    },
}

impl ClientShare {
    /// A fresh share. P-256 draws exactly what it always drew, so seeded captures stay put;
    /// ML-KEM-768 is KeyGen from (d, z) drawn from the generator (FIPS 203 Algorithm 19).
    pub fn generate(group: KxGroup, rng: &mut LabRng) -> Self {
        match group {
            KxGroup::P256 => Self::P256(EphemeralKey::generate(rng)),
            KxGroup::X25519 => Self::X25519(X25519Key::generate(rng)),
            KxGroup::X25519MlKem768 => {
                let mut seed = [0u8; 64];
                rng.fill_bytes(&mut seed);
                let share = Self::hybrid_from_seed(&seed, X25519Key::generate(rng));
                seed.zeroize();
                share
            }
        }
    }

    /// The hybrid share whose ML-KEM-768 key is KeyGen_internal(d, z) with `seed` = d ‖ z
    /// (FIPS 203 Algorithm 16), beside `x25519`.
    pub fn hybrid_from_seed(seed: &[u8; 64], x25519: X25519Key) -> Self {
        Self::Hybrid {
            mlkem: Box::new(DecapsulationKey::from_seed(Seed::from(*seed))),
            x25519,
        }
    }

    pub fn group(&self) -> KxGroup {
        match self {
            Self::P256(_) => KxGroup::P256,
            Self::X25519(_) => KxGroup::X25519,
            Self::Hybrid { .. } => KxGroup::X25519MlKem768,
        }
    }

    /// The key_exchange bytes of the KeyShareEntry.
    pub fn public(&self) -> Vec<u8> {
        match self {
            Self::P256(k) => k.public_sec1(),
            Self::X25519(k) => k.public().to_vec(),
            Self::Hybrid { mlkem, x25519 } => {
                let mut out = mlkem.encapsulation_key().to_bytes().to_vec();
                out.extend_from_slice(&x25519.public());
                out
            }
        }
    }

    /// The classical half (public as on the wire, private) for the discrete-log stand-in.
    /// Never the ML-KEM decapsulation key.
    pub fn classical(&self) -> (DlogGroup, Vec<u8>, Zeroizing<Vec<u8>>) {
        match self {
            Self::P256(k) => (DlogGroup::Secp256r1, k.public_sec1(), k.scalar_be()),
            Self::X25519(k) => (DlogGroup::X25519, k.public().to_vec(), k.scalar()),
            Self::Hybrid { x25519, .. } => (
                DlogGroup::X25519MlKem768,
                x25519.public().to_vec(),
                x25519.scalar(),
            ),
        }
    }

    /// The shared secret from the server's key_exchange: the P-256 x-coordinate (RFC 8446
    /// §7.4.2), X25519 (§7.4.2), or ML-KEM-768 Decaps(ct) ‖ X25519 for the hybrid.
    pub fn complete(&self, server: &[u8]) -> Result<Zeroizing<Vec<u8>>, KxError> {
        let group = self.group();
        if server.len() != group.server_share_len() {
            return Err(KxError::Length {
                group,
                got: server.len(),
                want: group.server_share_len(),
            });
        }
        match self {
            Self::P256(k) => k.agree(server).map_err(KxError::P256),
            Self::X25519(k) => k.agree(server),
            Self::Hybrid { mlkem, x25519 } => {
                let (ct, x) = server.split_at(MLKEM768_CT_LEN);
                let ct = Ciphertext::try_from(ct).map_err(|_| KxError::Length {
                    group,
                    got: server.len(),
                    want: HYBRID_SERVER_SHARE_LEN,
                })?;
                let mut ss = mlkem.decapsulate(&ct);
                let classical = x25519.agree(x)?;
                let mut out = Zeroizing::new(Vec::with_capacity(64));
                out.extend_from_slice(&ss);
                out.extend_from_slice(&classical);
                ss.zeroize();
                Ok(out)
            }
        }
    }
}

/// The server's answer to a client's key share: its own key_exchange and the shared secret.
pub struct ServerShare {
    pub public: Vec<u8>,
    pub shared: Zeroizing<Vec<u8>>,
}

/// Answers a client's X25519 or hybrid share (P-256 goes through the server's ephemeral-key
/// policy instead). The hybrid encapsulates to the client's key with m drawn from the
/// generator (FIPS 203 Algorithm 20), after the modulus check.
pub fn server_respond(
    group: KxGroup,
    client: &[u8],
    rng: &mut LabRng,
) -> Result<ServerShare, KxError> {
    if client.len() != group.client_share_len() {
        return Err(KxError::Length {
            group,
            got: client.len(),
            want: group.client_share_len(),
        });
    }
    match group {
        KxGroup::P256 => {
            let key = EphemeralKey::generate(rng);
            let shared = key.agree(client).map_err(KxError::P256)?;
            Ok(ServerShare {
                public: key.public_sec1(),
                shared,
            })
        }
        KxGroup::X25519 => {
            let key = X25519Key::generate(rng);
            let shared = key.agree(client)?;
            Ok(ServerShare {
                public: key.public().to_vec(),
                shared,
            })
        }
        KxGroup::X25519MlKem768 => {
            let mut m = [0u8; 32];
            rng.fill_bytes(&mut m);
            let answer = hybrid_encapsulate(client, &m, X25519Key::generate(rng));
            m.zeroize();
            answer
        }
    }
}

/// The hybrid server share for a client share `ek ‖ X25519`: Encaps_internal(ek, m) (FIPS 203
/// Algorithm 17) after the modulus check, and `x25519`'s agreement; the secret is
/// ML-KEM ‖ X25519 (draft-ietf-tls-ecdhe-mlkem §3).
pub fn hybrid_encapsulate(
    client: &[u8],
    m: &[u8; 32],
    x25519: X25519Key,
) -> Result<ServerShare, KxError> {
    if client.len() != HYBRID_CLIENT_SHARE_LEN {
        return Err(KxError::Length {
            group: KxGroup::X25519MlKem768,
            got: client.len(),
            want: HYBRID_CLIENT_SHARE_LEN,
        });
    }
    let (ek, x) = client.split_at(MLKEM768_EK_LEN);
    let ek = encapsulation_key(ek)?;
    let classical = x25519.agree(x)?;
    let (ct, mut ss) = ek.encapsulate_deterministic(&B32::from(*m));
    let mut public = ct.to_vec();
    public.extend_from_slice(&x25519.public());
    let mut shared = Zeroizing::new(Vec::with_capacity(64));
    shared.extend_from_slice(&ss);
    shared.extend_from_slice(&classical);
    ss.zeroize();
    Ok(ServerShare { public, shared })
}

/// An ML-KEM-768 encapsulation key, after the FIPS 203 §7.2 type and modulus checks.
pub fn encapsulation_key(bytes: &[u8]) -> Result<EncapsulationKey, KxError> {
    let key = bytes.try_into().map_err(|_| KxError::Length {
        group: KxGroup::X25519MlKem768,
        got: bytes.len() + X25519_LEN,
        want: HYBRID_CLIENT_SHARE_LEN,
    })?;
    EncapsulationKey::new(&key).map_err(|_| KxError::EncapsulationKey)
}

#[cfg(test)]
mod tests;
