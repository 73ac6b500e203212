//! TLS 1.3 key schedule (RFC 8446 §7): HKDF stages, traffic secrets, Finished keys. Pure: shared
//! by the endpoints, the attacker and explain.

pub mod key_schedule;

use crate::error::Error;
use crate::record_protect::Tls13Protector;
use crate::suites::Suite;
use key_schedule::TrafficSecret;

/// Record protection for a traffic secret.
pub fn protector(suite: &Suite, secret: &TrafficSecret) -> Result<Tls13Protector, Error> {
    let (key, iv) = secret.record_keys(suite.enc_key_len);
    Tls13Protector::new(&key, &iv)
        .ok_or_else(|| Error::Internal(format!("{} has no AES-GCM key shape", suite.name)))
}
