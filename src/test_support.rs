//! Helpers for the unit tests: a scratch directory and the openssl command line.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "pfslab-unit-{tag}-{}-{nanos}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
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
