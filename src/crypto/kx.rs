//! TLS 1.3 key-share groups (RFC 8446 §4.2.7–4.2.8): which ones the lab speaks.

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
}
