//! The client handshake.

pub mod tls12;
pub mod tls13;
