//! Helpers for the unit tests: a scratch directory and the openssl command line.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// A fresh directory under the system temp dir (a `tempfile::TempDir`, like the integration
/// tests' `TestDir`), removed on drop, kept (its path logged) when the test fails.
pub struct TempDir(pub tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("pfslab-unit-{tag}-"))
            .tempdir()
            .expect("create temp dir");
        Self(dir)
    }

    /// The file `name` in this directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.disable_cleanup(true);
            // The library does not print, its tests included: the path goes to the log.
            log::warn!("test files kept in {}", self.0.path().display());
        }
    }
}

/// Runs openssl in `dir`, panicking with its output on failure; returns stdout.
pub fn openssl(dir: &TempDir, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(&dir.0)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `message` encrypted by `openssl pkeyutl` with the public key file `public_pem` in `dir`,
/// PKCS#1 v1.5 padding (RFC 8017 §7.2.1).
pub fn openssl_encrypt_pkcs1(dir: &TempDir, public_pem: &str, message: &[u8]) -> Vec<u8> {
    fs::write(dir.path("message"), message).expect("write the message");
    openssl(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            public_pem,
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-in",
            "message",
            "-out",
            "ciphertext",
        ],
    );
    fs::read(dir.path("ciphertext")).expect("read the ciphertext")
}

/// One 2048-bit lab key and its self-signed certificate (valid from an hour ago), made once per
/// test run and shared by the in-memory handshake tests.
pub fn lab_identity() -> &'static (std::sync::Arc<rsa::PrivateKey>, Vec<u8>) {
    use std::time::{Duration, SystemTime};
    static ID: std::sync::OnceLock<(std::sync::Arc<rsa::PrivateKey>, Vec<u8>)> =
        std::sync::OnceLock::new();
    ID.get_or_init(|| {
        let mut r = crate::crypto::rng::from_seed(14, "in-memory test identity");
        let key = crate::pki::generate_key(&mut r, 2048).expect("key");
        let not_before = SystemTime::now() - Duration::from_secs(3600);
        let params = crate::pki::CertParams::lab_default(not_before);
        let cert = crate::pki::self_signed_cert(&key, &params, &mut r).expect("certificate");
        (std::sync::Arc::new(key), cert)
    })
}
