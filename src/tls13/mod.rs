//! TLS 1.3 (RFC 8446): the HKDF key schedule, shared by the endpoints and the attacker.

pub mod key_schedule;
