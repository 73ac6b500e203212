//! The one harness of the integration tests: a temporary directory per test ([`TestDir`]),
//! child processes that die with the test ([`Proc`]), the peers (OpenSSL, GnuTLS) and the
//! judge (tshark), a real browser (chromium, for `report`), the `pfslab` commands (server, client, tap, record, attack), the answer key
//! `pfslab record` writes, the lab's in-process identity, and classic-pcap surgery.
//!
//! Nothing here waits without a limit, and nothing skips a test: a missing tool is a failure
//! that names the Debian package to install (`make deps` installs them all).

#![allow(dead_code)] // each test module uses a different part of the harness

mod browser;
mod dir;
mod identity;
mod lab;
mod pcap;
mod peers;
mod process;
mod tshark;

pub use browser::*;
pub use dir::TestDir;
pub use identity::{client_config, identity, server_config};
pub use lab::*;
pub use pcap::*;
pub use peers::*;
pub use process::{pfslab, run, Finished, Proc};
pub use tshark::*;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The binary under test.
pub const PFSLAB: &str = env!("CARGO_BIN_EXE_pfslab");

/// Limit for a peer tool or a pfslab command to finish a whole exchange.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// Limit for a server to announce that it listens, or for a log line to appear.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Suites as each tool names them

/// The lab's two TLS 1.2 suites as the tests name them.
#[derive(Clone, Copy, Debug)]
pub struct SuiteNames {
    /// `pfslab --suite` value.
    pub cli: &'static str,
    /// IANA name, as pfslab prints it.
    pub iana: &'static str,
    /// OpenSSL's name (`-cipher`, `Cipher is …`).
    pub openssl: &'static str,
    /// GnuTLS priority keyword for the key exchange.
    pub gnutls_kx: &'static str,
    /// GnuTLS "Description" line as gnutls-cli and gnutls-serv print it.
    pub gnutls_description: &'static str,
    /// GnuTLS ciphersuite name as gnutls-serv's HTTP page prints it.
    pub gnutls_suite: &'static str,
}

pub const RSA: SuiteNames = SuiteNames {
    cli: "rsa",
    iana: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    openssl: "AES128-GCM-SHA256",
    gnutls_kx: "RSA",
    gnutls_description: "(TLS1.2-X.509)-(RSA)-(AES-128-GCM)",
    gnutls_suite: "RSA_AES_128_GCM_SHA256",
};

pub const ECDHE: SuiteNames = SuiteNames {
    cli: "ecdhe",
    iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    openssl: "ECDHE-RSA-AES128-GCM-SHA256",
    gnutls_kx: "ECDHE-RSA",
    gnutls_description: "(TLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-GCM)",
    gnutls_suite: "ECDHE_RSA_AES_128_GCM_SHA256",
};

pub const DHE: SuiteNames = SuiteNames {
    cli: "dhe",
    iana: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
    openssl: "DHE-RSA-AES128-GCM-SHA256",
    gnutls_kx: "DHE-RSA",
    gnutls_description: "(TLS1.2-X.509)-(DHE-FFDHE2048)-(RSA-SHA256)-(AES-128-GCM)",
    gnutls_suite: "DHE_RSA_AES_128_GCM_SHA256",
};

/// A TLS 1.3 suite under its names in each tool.
#[derive(Clone, Copy, Debug)]
pub struct Suite13 {
    /// `pfslab client --suite` value offering this suite only.
    pub cli: &'static str,
    /// IANA name: pfslab, OpenSSL (`-ciphersuites`, `Cipher is …`) and the truth file use it.
    pub iana: &'static str,
    /// Code point in ServerHello.
    pub code: u16,
    /// GnuTLS cipher keyword (priority strings, Description and Cipher rows).
    pub gnutls_cipher: &'static str,
}

pub const AES128: Suite13 = Suite13 {
    cli: "tls13-aes128",
    iana: "TLS_AES_128_GCM_SHA256",
    code: 0x1301,
    gnutls_cipher: "AES-128-GCM",
};

pub const AES256: Suite13 = Suite13 {
    cli: "tls13-aes256",
    iana: "TLS_AES_256_GCM_SHA384",
    code: 0x1302,
    gnutls_cipher: "AES-256-GCM",
};

// ---------------------------------------------------------------------------------------------
// Files, text and hex

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

pub fn sha256_hex(path: &Path) -> String {
    hex(&Sha256::digest(read(path)))
}

pub fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(
        s.len().is_multiple_of(2) && s.chars().all(|c| c.is_ascii_hexdigit()),
        "not hex: {s:?}"
    );
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
        })
        .collect()
}

pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The directory with the committed fixtures.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

/// OpenSSL traffic recorded through `pfslab tap`: full TLS 1.2 handshakes and their
/// resumptions (`resumption.rs` says how); the s_server key that opens it.
pub const RESUMPTION_CAPTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/openssl-resumption.pcap"
);
pub const RESUMPTION_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/resumption-server.key"
);

/// The NSS key-log labels of a TLS 1.3 session.
pub const TLS13_KEYLOG_LABELS: [&str; 5] = [
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EXPORTER_SECRET",
];

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// The whole lines of `text`: a line still being written is left out, so a search never
/// matches half a line.
pub fn complete_lines(text: &str) -> &str {
    text.rfind('\n').map_or("", |end| &text[..=end])
}

/// The non-empty stderr lines of a finished command.
pub fn stderr_lines(done: &Finished) -> Vec<String> {
    done.stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// The one `pfslab: error: …` line of a command that failed with exit status 1.
pub fn single_error_line(done: &Finished) -> String {
    assert_eq!(
        done.status.code(),
        Some(1),
        "expected exit status 1: {}",
        done.describe()
    );
    let lines = stderr_lines(done);
    assert_eq!(
        lines.len(),
        1,
        "expected exactly one stderr line: {}",
        done.describe()
    );
    assert!(
        lines[0].starts_with("pfslab: error: "),
        "{}",
        done.describe()
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.describe());
    lines[0].clone()
}

// ---------------------------------------------------------------------------------------------
// Tools, ports, tokens, turns

/// Fails (never skips) when `tool` is not on PATH.
pub fn require_tool(tool: &str, debian_package: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(tool);
        std::fs::metadata(&candidate)
            .map(|m| m.is_file())
            .unwrap_or(false)
    });
    assert!(
        found,
        "required tool `{tool}` is not on PATH: install the Debian package `{debian_package}` \
         (`make deps` does it). These tests fail rather than skip when a tool is missing."
    );
}

/// A string no other test (or earlier run) uses, for request paths and cookies.
pub fn unique_token(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{label}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A port on 127.0.0.1 that was free a moment ago (for tools that cannot report their own).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Tests that measure time, load or this process's memory take turns, so they do not skew
/// each other (they share one test binary).
pub fn exclusive() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
