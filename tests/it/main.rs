//! The integration tests, one binary (one link of the library and AWS-LC instead of fifteen):
//! one module per area, and `common`, the one harness they all use.

#[path = "../common/mod.rs"]
mod common;
// The fuzz targets' bodies, replayed by `fuzz_regressions`.
#[path = "../../fuzz/common.rs"]
#[allow(dead_code)]
mod fuzz;

mod abuse;
mod attack;
mod attack_tickets;
mod break_dh;
mod broken_captures;
mod capture;
mod cbc;
mod cbc_tamper;
mod chain13;
mod cli;
mod conformance;
mod course;
mod dhe;
mod explain;
mod explain_recovery;
mod fast_path;
mod fuzz_regressions;
mod handshake;
mod harvest;
mod hybrid;
mod interop;
mod memscan;
mod mitm;
mod oracle;
mod oracle_attack;
mod proptests;
mod record;
mod report;
mod resumption;
mod resumption12;
mod resumption13;
mod scenarios;
mod sha384;
mod tls13;
mod true_lines;
