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
            pub fn to_wire(self) -> $ty {
                match self {
                    $(Self::$variant => $value,)*
                    Self::Unknown(v) => v,
                }
            }

            pub fn from_wire(v: $ty) -> Self {
                match v {
                    $($value => Self::$variant,)*
                    other => Self::Unknown(other),
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
        SupportedVersions = 43 => "supported_versions",
        KeyShare = 51 => "key_share",
        RenegotiationInfo = 0xff01 => "renegotiation_info",
    }
}

wire_enum! {
    /// RFC 8422 §5.1.1 / RFC 8446 §4.2.7.
    NamedGroup: u16 {
        Secp256r1 = 0x0017 => "secp256r1",
        Secp384r1 = 0x0018 => "secp384r1",
        X25519 = 0x001d => "x25519",
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
}
