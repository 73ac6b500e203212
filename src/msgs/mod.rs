//! Messages on the wire: enums, records, handshake bodies, alerts.

pub mod alert;
pub mod dhe;
pub mod enums;
pub mod handshake;
pub mod handshake13;
pub mod record;
