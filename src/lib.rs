//! pfslab: a forward-secrecy attack lab.
//!
//! Real TLS 1.2 and 1.3 endpoints (RSA key transport, ECDHE), a recorder that writes real pcap
//! files, and an attacker that runs the very same key schedule and record code on what it
//! captured. Layers, top to bottom (each imports only the ones below it):
//!
//! - [`lab`]: the tap, the `record` orchestration, identities, the bank app;
//!   [`attack`], [`explain`], [`report`], [`html`]: the attacker and what it shows.
//! - [`endpoint`]: the sans-I/O connection, the blocking stream, the client and the server.
//! - [`tls12`], [`tls13`]: key schedules only (pure); [`record_protect`]: record protection;
//!   [`suites`], [`keylog`], [`standin`] (the discrete-log stand-in file).
//! - [`msgs`], [`codec`]: bytes on the wire; [`pki`], [`crypto`]: keys and primitives;
//!   [`capture`]: pcap files and TCP reassembly (knows nothing of TLS).

pub mod attack;
pub mod capture;
pub mod codec;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod explain;
pub mod html;
pub mod keylog;
pub mod lab;
pub mod memscan;
pub mod msgs;
pub mod pki;
pub mod record_protect;
pub mod report;
pub mod standin;
pub mod suites;
pub mod tickets;
pub mod tls12;
pub mod tls13;

#[cfg(test)]
mod test_support;
