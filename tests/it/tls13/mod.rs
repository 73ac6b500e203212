//! TLS 1.3 (RFC 8446) against real stacks over loopback, and the attacker and judges on TLS 1.3
//! captures. Like `interop.rs`, every connection checks the negotiated version and suite from
//! both sides and application data in both directions through a unique token.
//!
//! - `to_pfslab_server`: `openssl s_client -tls1_3` → pfslab server, each suite, with OpenSSL's
//!   default groups (an X25519 share: one round with the default server; a `--groups p256`
//!   server must answer with a HelloRetryRequest) and with `-groups P-256`; `gnutls-cli` →
//!   pfslab server, each suite, GnuTLS's default groups (P-256 and X25519 shares: the default
//!   server takes X25519, a `--groups p256` one P-256, no retry) and a group list that starts
//!   with P-384 (retry).
//! - `pfslab_client`: pfslab client → `openssl s_server -tls1_3` (`-www` status page, `-WWW`
//!   unique file) and → `gnutls-serv` (with `-a`, and once with its optional
//!   CertificateRequest).
//! - `captures`: tshark as judge of a seeded `pfslab record` capture with TLS 1.3 sessions;
//!   OpenSSL's own key log of OpenSSL-to-OpenSSL TLS 1.3 traffic through `pfslab tap`; partial
//!   TLS 1.3 key logs.
//! - `downgrade`: TLS 1.2 clients of the TLS 1.3-capable server, and the RFC 8446 §4.1.3 marker.
//!
//! Needs `openssl`, `gnutls-cli` / `gnutls-serv` (gnutls-bin) and `tshark`; a missing tool fails
//! the test with the package to install.

mod captures;
mod downgrade;
mod pfslab_client;
mod to_pfslab_server;

use std::path::Path;

use crate::common::{openssl_s_server_www, Proc, Suite13, TestDir};

/// The Description line GnuTLS prints for a TLS 1.3 session with the lab's server.
/// GnuTLS's "- Description:" of a TLS 1.3 session on `group` (e.g. "SECP256R1", "X25519").
fn gnutls_description(suite: Suite13, group: &str) -> String {
    format!(
        "(TLS1.3-X.509)-(ECDHE-{group})-(RSA-PSS-RSAE-SHA256)-({})",
        suite.gnutls_cipher
    )
}

/// `openssl s_server -tls1_3` with `ciphersuites`, serving from `dir/www` (no keys there).
/// `mode` is `-www` (status page) or `-WWW` (files); `extra` adds options such as
/// `-keylogfile`.
fn openssl_s_server13(
    dir: &TestDir,
    key: &Path,
    cert: &Path,
    mode: &str,
    ciphersuites: &str,
    extra: &[&str],
) -> (Proc, u16) {
    let mut args = vec![mode, "-tls1_3", "-ciphersuites", ciphersuites];
    args.extend_from_slice(extra);
    openssl_s_server_www(dir, key, cert, &args)
}
