//! Cipher suites as data: what each one negotiates and how its key block is cut.

use crate::crypto::{HashAlg, MacAlg};

/// How the premaster secret comes to exist (RFC 5246 §7.4.7, RFC 8422 §5.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyExchange {
    /// The client picks the premaster and sends it encrypted to the server's RSA key.
    Rsa,
    /// Both peers send ephemeral P-256 points; the premaster is their ECDH product.
    EcdheRsa,
    /// Finite-field ephemeral Diffie-Hellman, RSA-signed (RFC 5246 §7.4.3, §8.1.2): the
    /// premaster is g^ab mod p with leading zero bytes stripped.
    DheRsa,
    /// TLS 1.3: always ephemeral (EC)DHE (RFC 8446 §2).
    Tls13,
}

impl KeyExchange {
    pub fn label(self) -> &'static str {
        match self {
            Self::Rsa => "RSA key transport",
            Self::EcdheRsa => "ECDHE, RSA-signed",
            Self::DheRsa => "finite-field DHE, RSA-signed",
            Self::Tls13 => "TLS 1.3 (EC)DHE",
        }
    }

    /// Short name used on the command line and in JSON.
    pub fn short(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::EcdheRsa => "ecdhe",
            Self::DheRsa => "dhe",
            Self::Tls13 => "tls13",
        }
    }

    pub fn is_forward_secret(self) -> bool {
        !matches!(self, Self::Rsa)
    }
}

/// How a suite protects records (RFC 5246 §6.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordCipher {
    /// AES-GCM: one key and an implicit nonce per direction, no MAC key (RFC 5288 §3).
    AesGcm,
    /// AES-CBC with an HMAC: a MAC key and a key per direction, explicit IVs (RFC 5246
    /// §6.2.3.2), MAC-then-encrypt unless encrypt-then-MAC was negotiated (RFC 7366).
    AesCbc(MacAlg),
}

impl RecordCipher {
    pub fn is_cbc(self) -> bool {
        matches!(self, Self::AesCbc(_))
    }
}

/// One cipher suite and the shape of its key block (RFC 5246 §6.3, RFC 5288 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub id: u16,
    pub name: &'static str,
    pub key_exchange: KeyExchange,
    /// The PRF / transcript hash.
    pub hash: HashAlg,
    /// AES key length: 16 or 32.
    pub enc_key_len: usize,
    /// GCM implicit nonce part (salt) in TLS 1.2: 4 bytes; the IV in TLS 1.3: 12.
    pub fixed_iv_len: usize,
    /// GCM suites have no MAC key (RFC 5288 §3); CBC suites one as long as the MAC.
    pub mac_key_len: usize,
    pub cipher: RecordCipher,
}

pub const TLS_RSA_WITH_AES_128_GCM_SHA256: Suite = Suite {
    id: 0x009c,
    name: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    key_exchange: KeyExchange::Rsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 4,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

pub const TLS_RSA_WITH_AES_256_GCM_SHA384: Suite = Suite {
    id: 0x009d,
    name: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    key_exchange: KeyExchange::Rsa,
    hash: HashAlg::Sha384,
    enc_key_len: 32,
    fixed_iv_len: 4,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

pub const TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: Suite = Suite {
    id: 0xc02f,
    name: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    key_exchange: KeyExchange::EcdheRsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 4,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

pub const TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: Suite = Suite {
    id: 0xc030,
    name: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    key_exchange: KeyExchange::EcdheRsa,
    hash: HashAlg::Sha384,
    enc_key_len: 32,
    fixed_iv_len: 4,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

/// RFC 5246 Appendix C: CBC suites take no IV from the key block in TLS 1.2 (explicit IVs).
pub const TLS_RSA_WITH_AES_128_CBC_SHA: Suite = Suite {
    id: 0x002f,
    name: "TLS_RSA_WITH_AES_128_CBC_SHA",
    key_exchange: KeyExchange::Rsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 0,
    mac_key_len: 20,
    cipher: RecordCipher::AesCbc(MacAlg::Sha1),
};

pub const TLS_RSA_WITH_AES_128_CBC_SHA256: Suite = Suite {
    id: 0x003c,
    name: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    key_exchange: KeyExchange::Rsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 0,
    mac_key_len: 32,
    cipher: RecordCipher::AesCbc(MacAlg::Sha256),
};

pub const TLS_RSA_WITH_AES_256_CBC_SHA256: Suite = Suite {
    id: 0x003d,
    name: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    key_exchange: KeyExchange::Rsa,
    hash: HashAlg::Sha256,
    enc_key_len: 32,
    fixed_iv_len: 0,
    mac_key_len: 32,
    cipher: RecordCipher::AesCbc(MacAlg::Sha256),
};

pub const TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: Suite = Suite {
    id: 0xc013,
    name: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    key_exchange: KeyExchange::EcdheRsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 0,
    mac_key_len: 20,
    cipher: RecordCipher::AesCbc(MacAlg::Sha1),
};

pub const TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: Suite = Suite {
    id: 0x009e,
    name: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    key_exchange: KeyExchange::DheRsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 4,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

pub const TLS_DHE_RSA_WITH_AES_128_CBC_SHA: Suite = Suite {
    id: 0x0033,
    name: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
    key_exchange: KeyExchange::DheRsa,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 0,
    mac_key_len: 20,
    cipher: RecordCipher::AesCbc(MacAlg::Sha1),
};

pub const TLS13_AES_128_GCM_SHA256: Suite = Suite {
    id: 0x1301,
    name: "TLS_AES_128_GCM_SHA256",
    key_exchange: KeyExchange::Tls13,
    hash: HashAlg::Sha256,
    enc_key_len: 16,
    fixed_iv_len: 12,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

pub const TLS13_AES_256_GCM_SHA384: Suite = Suite {
    id: 0x1302,
    name: "TLS_AES_256_GCM_SHA384",
    key_exchange: KeyExchange::Tls13,
    hash: HashAlg::Sha384,
    enc_key_len: 32,
    fixed_iv_len: 12,
    mac_key_len: 0,
    cipher: RecordCipher::AesGcm,
};

/// TLS 1.3 suites, in the server's order of preference.
pub const TLS13_SUITES: &[Suite] = &[TLS13_AES_128_GCM_SHA256, TLS13_AES_256_GCM_SHA384];

pub fn tls13_suite(id: u16) -> Option<Suite> {
    TLS13_SUITES.iter().copied().find(|s| s.id == id)
}

/// Every TLS 1.2 suite pfslab can decrypt.
pub const TLS12_SUITES: &[Suite] = &[
    TLS_RSA_WITH_AES_128_GCM_SHA256,
    TLS_RSA_WITH_AES_256_GCM_SHA384,
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
    TLS_RSA_WITH_AES_128_CBC_SHA,
    TLS_RSA_WITH_AES_128_CBC_SHA256,
    TLS_RSA_WITH_AES_256_CBC_SHA256,
    TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
    TLS_DHE_RSA_WITH_AES_128_CBC_SHA,
];

pub fn tls12_suite(id: u16) -> Option<Suite> {
    TLS12_SUITES.iter().copied().find(|s| s.id == id)
}

/// A name for any suite id, known or not.
pub fn suite_name(id: u16) -> String {
    match tls12_suite(id).or_else(|| tls13_suite(id)) {
        Some(s) => s.name.to_string(),
        None => match id {
            0x1303 => "TLS_CHACHA20_POLY1305_SHA256".into(),
            0x00ff => "TLS_EMPTY_RENEGOTIATION_INFO_SCSV".into(),
            _ => format!("0x{id:04x}"),
        },
    }
}
