//! `memscan`: find, in a server's memory, every secret that opens a captured session.
//!
//! The memory comes from a live process or a core file ([`image`]); the cheap filters cut it
//! into a few candidate windows ([`search`]); [`confirm`] proves each candidate against the
//! captures with the lab's one key schedule (scalar × G against the points on the wire, a
//! record tag, a ticket's MAC) and turns what it proves into session keys for an NSS key log.
//!
//! How the lab's server holds its secrets (checked against the running process, see
//! `tests/it/memscan.rs`): the ECDHE private key is a `p256::SecretKey`, whose scalar is a
//! crypto-bigint `U256` — four 64-bit limbs, least significant first, i.e. the scalar's bytes
//! little-endian on x86-64, 8-byte aligned; not Montgomery form (p256 0.14 keeps scalars
//! canonical). Big-endian copies appear where the scalar is serialized. Master secrets are a
//! `[u8; 48]`, traffic secrets a `Vec<u8>`, ticket keys a `[u8; 80]` behind a `Zeroizing`.

pub mod confirm;
pub mod image;
pub mod search;
#[cfg(test)]
mod tests;

use std::sync::atomic::AtomicU64;

use zeroize::Zeroizing;

use crate::attack::observe::ObservedSession;
use crate::keylog::SecretKind;

pub use confirm::scan;
pub use image::{read_core, read_process, ImageError, MemoryImage, Region};

/// One captured session the scan tries to open.
pub struct TargetSession {
    /// How the report names it, e.g. `lab.pcap #3`.
    pub label: String,
    pub obs: ObservedSession,
}

pub struct ScanOptions {
    /// Candidate windows start at multiples of this (8: where the heap and the limbs put them;
    /// 1: every byte, 8× the candidates).
    pub align: usize,
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            align: 8,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

/// Counters the CLI draws while the scan runs.
#[derive(Default)]
pub struct Progress {
    pub bytes_total: AtomicU64,
    pub bytes_done: AtomicU64,
    pub candidates_total: AtomicU64,
    pub candidates_done: AtomicU64,
}

/// How a scalar's bytes lay in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarEncoding {
    /// Four u64 limbs, least significant first (crypto-bigint `U256` on a little-endian CPU).
    LittleEndianLimbs,
    /// SEC1 big-endian bytes (`to_bytes`, a serialized key).
    BigEndian,
}

impl ScalarEncoding {
    pub fn describe(self) -> &'static str {
        match self {
            Self::LittleEndianLimbs => {
                "little-endian 64-bit limbs (crypto-bigint U256 inside p256::SecretKey)"
            }
            Self::BigEndian => "big-endian bytes (SEC1 encoding)",
        }
    }
}

/// What a confirmed secret is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundKind {
    /// A P-256 private scalar whose public point was on the wire.
    EcdheScalar {
        encoding: ScalarEncoding,
        /// The uncompressed point it gives (65 bytes).
        point: Vec<u8>,
    },
    /// A TLS 1.2 master secret: it opened a session's first protected record.
    MasterSecret,
    /// A session-ticket key (80 bytes): it opened a captured ticket.
    TicketKey { name: [u8; 16] },
    /// A TLS 1.3 traffic secret: it opened a record of a session.
    Tls13Secret { kind: SecretKind },
}

impl FoundKind {
    pub fn name(&self) -> String {
        match self {
            Self::EcdheScalar { .. } => "ECDHE P-256 private scalar".into(),
            Self::MasterSecret => "TLS 1.2 master secret".into(),
            Self::TicketKey { .. } => "session-ticket key".into(),
            Self::Tls13Secret { kind } => format!("TLS 1.3 {kind}"),
        }
    }
}

/// Where a secret's bytes were seen.
#[derive(Debug, Clone)]
pub struct Place {
    pub address: u64,
    pub region_start: u64,
    pub region_end: u64,
    pub region_name: String,
}

/// One confirmed secret.
pub struct Found {
    pub kind: FoundKind,
    /// Canonical bytes (a scalar big-endian).
    pub secret: Zeroizing<Vec<u8>>,
    pub places: Vec<Place>,
    /// Indices into the targets of the sessions it opens.
    pub sessions: Vec<usize>,
    /// How it was proven, in words.
    pub proof: String,
}

/// Key-log secrets for one session, and how they were obtained.
pub struct SessionKeys {
    pub session: usize,
    /// (label, client random, secret) — the NSS key log line.
    pub lines: Vec<(SecretKind, [u8; 32], Zeroizing<Vec<u8>>)>,
    /// Which finding gave them, in words.
    pub via: String,
}

/// What the scan found.
pub struct ScanReport {
    pub found: Vec<Found>,
    pub keys: Vec<SessionKeys>,
    /// Windows examined and the candidates left after the cheap filters.
    pub windows_32: u64,
    pub candidates_32: usize,
    pub windows_48: u64,
    pub candidates_48: usize,
    pub ticket_name_hits: usize,
}

impl ScanReport {
    /// The sessions opened by at least one finding.
    pub fn opened(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self.keys.iter().map(|k| k.session).collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}
