//! The lab around the TLS endpoints: the bank application and its server and client, the tap
//! that records a class's traffic, the `record` orchestration, and the server's identity.

pub mod bank;
pub mod bank_client;
pub mod bank_server;
pub mod connection_thread;
pub mod identity;
pub mod mitm;
pub mod recording;
pub mod tap;

pub use tap::{
    default_virtual_addrs, AddrFn, DeterministicConfig, Tap, TapConfig, TapMode, TapSummary,
};
