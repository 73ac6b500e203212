//! Writing keys and certificates: through a temporary file in the same directory, with the
//! mode set before any byte is written, then moved into place (no reader sees a half-written
//! or world-readable key).

use std::fs::{self, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::PrivateKey;
use x509_cert::der::{self, Decode};
use x509_cert::Certificate;

use super::{encode_err, io_err, malformed, PkiError};

/// Writes `key` as PKCS#8 PEM (RFC 5958, RFC 7468) with mode 0600.
///
/// The key is written to a temporary file in the same directory, created with mode 0600 (and
/// set to 0600 again in case the umask interfered), then moved into place, so no reader ever
/// sees a half-written or world-readable key.
///
/// # Errors
/// [`PkiError::AlreadyExists`] if `path` exists and `force` is false; [`PkiError::Io`] naming
/// the path for file-system failures.
pub fn write_private_key(path: &Path, key: &PrivateKey, force: bool) -> Result<(), PkiError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| encode_err("private key as PKCS#8 PEM", e))?;
    write_atomically(path, pem.as_bytes(), 0o600, force)
}

/// Writes a DER certificate as PEM `CERTIFICATE` (RFC 7468 §5) with mode 0644, atomically as
/// [`write_private_key`] does.
///
/// # Errors
/// [`PkiError::Malformed`] if `der` is not a certificate, [`PkiError::AlreadyExists`] if `path`
/// exists and `force` is false, [`PkiError::Io`] for file-system failures.
pub fn write_certificate_pem(path: &Path, der: &[u8], force: bool) -> Result<(), PkiError> {
    Certificate::from_der(der).map_err(|e| malformed("X.509 certificate (DER)", e))?;
    let pem = der::pem::encode_string("CERTIFICATE", LineEnding::LF, der)
        .map_err(|e| encode_err("certificate as PEM", e))?;
    write_atomically(path, pem.as_bytes(), 0o644, force)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `contents` to `path` through a temporary file in the same directory: created
/// exclusively with `mode`, flushed to disk, then linked (no `force`) or renamed (`force`) into
/// place. Without `force` the final step cannot replace a file that appeared meanwhile.
fn write_atomically(path: &Path, contents: &[u8], mode: u32, force: bool) -> Result<(), PkiError> {
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(PkiError::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    let Some(file_name) = path.file_name() else {
        return Err(PkiError::Io {
            action: "write",
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"),
        });
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_place(&tmp, path, contents, mode, force);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_place(
    tmp: &Path,
    path: &Path,
    contents: &[u8],
    mode: u32,
    force: bool,
) -> Result<(), PkiError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(tmp)
        .map_err(io_err("create", tmp))?;
    file.set_permissions(Permissions::from_mode(mode))
        .map_err(io_err("set permissions on", tmp))?;
    file.write_all(contents).map_err(io_err("write", tmp))?;
    file.sync_all().map_err(io_err("flush", tmp))?;
    drop(file);
    if force {
        return fs::rename(tmp, path).map_err(io_err("replace", path));
    }
    match fs::hard_link(tmp, path) {
        Ok(()) => {
            let _ = fs::remove_file(tmp);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(PkiError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        // File systems without hard links: fall back to check-then-rename.
        Err(_) => {
            if fs::symlink_metadata(path).is_ok() {
                return Err(PkiError::AlreadyExists {
                    path: path.to_path_buf(),
                });
            }
            fs::rename(tmp, path).map_err(io_err("create", path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::pki::tests::{key1024, lab_cert};
    use crate::pki::{load_certificates, load_private_key};
    use crate::test_support::TempDir;

    #[test]
    fn write_modes_and_overwrite_refusal() {
        let dir = TempDir::new("write");
        let key = key1024(9);
        let key_path = dir.path("server.key");
        write_private_key(&key_path, &key, false).expect("write");
        let mode = fs::metadata(&key_path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let e = write_private_key(&key_path, &key, false).expect_err("exists");
        assert!(matches!(e, PkiError::AlreadyExists { .. }));
        assert!(
            e.to_string().contains("server.key") && e.to_string().contains("--force"),
            "{e}"
        );

        // force replaces, and fixes a too-open mode left by someone else.
        fs::set_permissions(&key_path, Permissions::from_mode(0o644)).expect("chmod");
        let other = key1024(10);
        write_private_key(&key_path, &other, true).expect("force");
        assert_eq!(load_private_key(&key_path).expect("load"), other);
        let mode = fs::metadata(&key_path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let cert_path = dir.path("server.crt");
        let der = lab_cert(&key, 9);
        write_certificate_pem(&cert_path, &der, false).expect("write cert");
        let mode = fs::metadata(&cert_path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        assert!(write_certificate_pem(&cert_path, &der, false).is_err());
        assert_eq!(
            load_certificates(&cert_path).expect("load"),
            vec![der.clone()]
        );
        assert!(write_certificate_pem(&dir.path("bad.crt"), b"junk", false).is_err());
        assert!(!dir.path("bad.crt").exists());

        // No temporary files left behind.
        let names: Vec<_> = fs::read_dir(&dir.0)
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        // A directory that does not exist: error names the path.
        let e = write_private_key(&dir.path("no/such/dir.key"), &key, false).expect_err("no dir");
        assert!(e.to_string().contains("no/such"), "{e}");
    }
}
