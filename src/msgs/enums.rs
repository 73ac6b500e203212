//! Protocol enums with their wire values. Unknown values round-trip as `Unknown(x)`.

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident : $ty:ty { $($variant:ident = $value:expr => $label:expr,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            Unknown($ty),
        }

        impl $name {
            pub const fn to_wire(self) -> $ty {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(v) => v,
                }
            }

            pub const fn from_wire(v: $ty) -> Self {
                match v {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other),
                }
            }

            /// The name the RFCs use, or `None` for a value not listed here.
            pub const fn known_name(self) -> Option<&'static str> {
                match self {
                    $(Self::$variant => Some($label),)*
                    Self::Unknown(_) => None,
                }
            }

            /// The name the RFCs use.
            pub fn name(self) -> String {
                match self {
                    $(Self::$variant => $label.to_string(),)*
                    Self::Unknown(v) => format!("unknown(0x{:x})", v),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.name())
            }
        }
    };
}

wire_enum! {
    /// RFC 5246 §6.2.1.
    ContentType: u8 {
        ChangeCipherSpec = 20 => "change_cipher_spec",
        Alert = 21 => "alert",
        Handshake = 22 => "handshake",
        ApplicationData = 23 => "application_data",
    }
}

wire_enum! {
    /// RFC 5246 §7.4, RFC 8446 §4.
    HandshakeType: u8 {
        HelloRequest = 0 => "HelloRequest",
        ClientHello = 1 => "ClientHello",
        ServerHello = 2 => "ServerHello",
        NewSessionTicket = 4 => "NewSessionTicket",
        EndOfEarlyData = 5 => "EndOfEarlyData",
        EncryptedExtensions = 8 => "EncryptedExtensions",
        Certificate = 11 => "Certificate",
        ServerKeyExchange = 12 => "ServerKeyExchange",
        CertificateRequest = 13 => "CertificateRequest",
        ServerHelloDone = 14 => "ServerHelloDone",
        CertificateVerify = 15 => "CertificateVerify",
        ClientKeyExchange = 16 => "ClientKeyExchange",
        Finished = 20 => "Finished",
        KeyUpdate = 24 => "KeyUpdate",
        MessageHash = 254 => "message_hash",
    }
}

wire_enum! {
    /// RFC 5246 §7.2, RFC 8446 §6.
    AlertDescription: u8 {
        CloseNotify = 0 => "close_notify",
        UnexpectedMessage = 10 => "unexpected_message",
        BadRecordMac = 20 => "bad_record_mac",
        RecordOverflow = 22 => "record_overflow",
        HandshakeFailure = 40 => "handshake_failure",
        BadCertificate = 42 => "bad_certificate",
        UnsupportedCertificate = 43 => "unsupported_certificate",
        CertificateExpired = 45 => "certificate_expired",
        CertificateUnknown = 46 => "certificate_unknown",
        IllegalParameter = 47 => "illegal_parameter",
        UnknownCa = 48 => "unknown_ca",
        DecodeError = 50 => "decode_error",
        DecryptError = 51 => "decrypt_error",
        ProtocolVersion = 70 => "protocol_version",
        InsufficientSecurity = 71 => "insufficient_security",
        InappropriateFallback = 86 => "inappropriate_fallback",
        InternalError = 80 => "internal_error",
        UserCanceled = 90 => "user_canceled",
        NoRenegotiation = 100 => "no_renegotiation",
        MissingExtension = 109 => "missing_extension",
        UnsupportedExtension = 110 => "unsupported_extension",
        UnrecognisedName = 112 => "unrecognized_name",
    }
}

wire_enum! {
    /// IANA TLS ExtensionType values used here.
    ExtensionType: u16 {
        ServerName = 0 => "server_name",
        SupportedGroups = 10 => "supported_groups",
        EcPointFormats = 11 => "ec_point_formats",
        SignatureAlgorithms = 13 => "signature_algorithms",
        EncryptThenMac = 22 => "encrypt_then_mac",
        ExtendedMasterSecret = 23 => "extended_master_secret",
        SessionTicket = 35 => "session_ticket",
        PreSharedKey = 41 => "pre_shared_key",
        EarlyData = 42 => "early_data",
        SupportedVersions = 43 => "supported_versions",
        Cookie = 44 => "cookie",
        PskKeyExchangeModes = 45 => "psk_key_exchange_modes",
        KeyShare = 51 => "key_share",
        RenegotiationInfo = 0xff01 => "renegotiation_info",
    }
}

wire_enum! {
    /// RFC 8446 §4.2.9: how a PSK is used; only psk_dhe_ke mixes in a fresh (EC)DHE secret.
    PskKeyExchangeMode: u8 {
        PskKe = 0 => "psk_ke",
        PskDheKe = 1 => "psk_dhe_ke",
    }
}

wire_enum! {
    /// RFC 8422 §5.1.1 / RFC 8446 §4.2.7.
    NamedGroup: u16 {
        Secp256r1 = 0x0017 => "secp256r1",
        Secp384r1 = 0x0018 => "secp384r1",
        X25519 = 0x001d => "x25519",
        X25519MlKem768 = 0x11ec => "X25519MLKEM768",
    }
}

wire_enum! {
    /// RFC 8446 §4.2.3 SignatureScheme; in TLS 1.2 the {hash, signature} pair of a
    /// SignatureAndHashAlgorithm read as one u16 (RFC 5246 §7.4.1.4.1). The RSA schemes pfslab
    /// signs and verifies with.
    SignatureScheme: u16 {
        RsaPkcs1Sha1 = 0x0201 => "rsa_pkcs1_sha1",
        RsaPkcs1Sha256 = 0x0401 => "rsa_pkcs1_sha256",
        RsaPkcs1Sha384 = 0x0501 => "rsa_pkcs1_sha384",
        RsaPkcs1Sha512 = 0x0601 => "rsa_pkcs1_sha512",
        RsaPssRsaeSha256 = 0x0804 => "rsa_pss_rsae_sha256",
        RsaPssRsaeSha384 = 0x0805 => "rsa_pss_rsae_sha384",
        RsaPssRsaeSha512 = 0x0806 => "rsa_pss_rsae_sha512",
    }
}

wire_enum! {
    /// RFC 5246 §6.2.1 ProtocolVersion.
    ProtocolVersion: u16 {
        Ssl3 = 0x0300 => "SSL 3.0",
        Tls10 = 0x0301 => "TLS 1.0",
        Tls11 = 0x0302 => "TLS 1.1",
        Tls12 = 0x0303 => "TLS 1.2",
        Tls13 = 0x0304 => "TLS 1.3",
    }
}

/// RFC 5746 §3.3: the signalling cipher suite value.
pub const TLS_EMPTY_RENEGOTIATION_INFO_SCSV: u16 = 0x00ff;

/// RFC 7507 §2: a client's fallback retry at a lower version than it supports.
pub const TLS_FALLBACK_SCSV: u16 = 0x5600;

/// RFC 8422 §5.1.2: uncompressed points.
pub const EC_POINT_FORMAT_UNCOMPRESSED: u8 = 0;

/// RFC 8422 §5.4: ECCurveType named_curve.
pub const EC_CURVE_TYPE_NAMED: u8 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip() {
        assert_eq!(ContentType::from_wire(99).to_wire(), 99);
        assert_eq!(ContentType::from_wire(22), ContentType::Handshake);
        assert_eq!(AlertDescription::BadRecordMac.to_wire(), 20);
        assert_eq!(
            ExtensionType::from_wire(0xff01),
            ExtensionType::RenegotiationInfo
        );
        assert_eq!(HandshakeType::from_wire(3).name(), "unknown(0x3)");
    }

    #[test]
    fn signature_scheme_round_trip() {
        use SignatureScheme as S;
        for (wire, scheme, name) in [
            (0x0201, S::RsaPkcs1Sha1, "rsa_pkcs1_sha1"),
            (0x0401, S::RsaPkcs1Sha256, "rsa_pkcs1_sha256"),
            (0x0501, S::RsaPkcs1Sha384, "rsa_pkcs1_sha384"),
            (0x0601, S::RsaPkcs1Sha512, "rsa_pkcs1_sha512"),
            (0x0804, S::RsaPssRsaeSha256, "rsa_pss_rsae_sha256"),
            (0x0805, S::RsaPssRsaeSha384, "rsa_pss_rsae_sha384"),
            (0x0806, S::RsaPssRsaeSha512, "rsa_pss_rsae_sha512"),
        ] {
            assert_eq!(S::from_wire(wire), scheme);
            assert_eq!(S::from_wire(wire).to_wire(), wire);
            assert_eq!(scheme.known_name(), Some(name));
        }
        // ecdsa_secp256r1_sha256 (RFC 8446 §4.2.3): not one pfslab uses, kept as it came.
        assert_eq!(S::from_wire(0x0403), S::Unknown(0x0403));
        assert_eq!(S::from_wire(0x0403).to_wire(), 0x0403);
        assert_eq!(S::from_wire(0x0403).known_name(), None);
        assert_eq!(S::from_wire(0x0403).name(), "unknown(0x403)");
    }

    #[test]
    fn protocol_version_round_trip() {
        use ProtocolVersion as V;
        for (wire, version, name) in [
            (0x0300, V::Ssl3, "SSL 3.0"),
            (0x0301, V::Tls10, "TLS 1.0"),
            (0x0302, V::Tls11, "TLS 1.1"),
            (0x0303, V::Tls12, "TLS 1.2"),
            (0x0304, V::Tls13, "TLS 1.3"),
        ] {
            assert_eq!(V::from_wire(wire), version);
            assert_eq!(V::from_wire(wire).to_wire(), wire);
            assert_eq!(version.to_string(), name);
        }
        // DTLS 1.2 (RFC 6347 §4.1): not TLS, kept as it came.
        assert_eq!(V::from_wire(0xfefd), V::Unknown(0xfefd));
        assert_eq!(V::from_wire(0xfefd).to_wire(), 0xfefd);
        assert_eq!(V::from_wire(0xfefd).known_name(), None);
    }
}
