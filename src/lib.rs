//! pfslab: a forward-secrecy attack lab.
//!
//! Real TLS 1.2 endpoints (RSA key transport and ECDHE), a recorder that writes real pcap files,
//! and an attacker that runs the very same key schedule and record code on what it captured.

pub mod app;
pub mod attack;
pub mod capture;
pub mod client;
pub mod codec;
pub mod conn;
pub mod crypto;
pub mod driver;
pub mod error;
pub mod explain;
pub mod fast_rsa;
pub mod keylog;
pub mod lab;
pub mod msgs;
pub mod observe;
pub mod pipeline;
pub mod pki;
pub mod record;
pub mod record_protect;
pub mod report;
pub mod rng;
pub mod server;
pub mod spool;
pub mod stream;
pub mod suites;
pub mod tls12;
pub mod tls13;

#[cfg(test)]
mod test_support;
