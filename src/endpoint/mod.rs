//! The lab's TLS endpoints: the sans-I/O connection ([`conn`]), the blocking stream over TCP
//! ([`stream`]), and the client and server handshakes, each reading or writing the hello in its
//! `mod.rs` and handing off to `tls12.rs` or `tls13.rs`.

pub mod client;
pub mod conn;
pub mod server;
pub mod stream;
