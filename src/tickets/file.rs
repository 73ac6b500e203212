//! The ticket key file: 80 raw bytes (16 name, 32 HMAC-SHA256 key, 32 AES-256 key), as
//! `openssl rand 80 > ticket.key` makes for nginx. Created with mode 0600 when missing.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{TicketError, TicketKey};
use crate::crypto::rng::LabRng;

/// A ticket key file that could not be read or written.
#[derive(Debug)]
pub enum TicketKeyFile {
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    Invalid {
        path: PathBuf,
        source: TicketError,
    },
}

impl std::fmt::Display for TicketKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io {
                path,
                action,
                source,
            } => {
                write!(
                    f,
                    "cannot {action} ticket key file {}: {source}",
                    path.display()
                )
            }
            Self::Invalid { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for TicketKeyFile {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Invalid { source, .. } => Some(source),
        }
    }
}

/// Reads an 80-byte ticket key file.
pub fn read_ticket_key(path: &Path) -> Result<TicketKey, TicketKeyFile> {
    let bytes = zeroize::Zeroizing::new(fs::read(path).map_err(|source| TicketKeyFile::Io {
        path: path.to_path_buf(),
        action: "read",
        source,
    })?);
    TicketKey::from_bytes(&bytes).map_err(|source| TicketKeyFile::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `key` to a new file with mode 0600 (never replacing an existing file).
pub fn write_ticket_key(path: &Path, key: &TicketKey) -> Result<(), TicketKeyFile> {
    let io_err = |action, source| TicketKeyFile::Io {
        path: path.to_path_buf(),
        action,
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| io_err("create", e))?;
    // The umask can only remove bits; set 0600 again in case the file system ignored the mode.
    file.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(|e| io_err("set the mode of", e))?;
    let written = file
        .write_all(key.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // Never leave a short key file behind to be read as a key later.
        let _ = fs::remove_file(path);
        return Err(io_err("write", e));
    }
    Ok(())
}

/// Reads the key at `path`, or makes a fresh one there (mode 0600) when the file is missing.
/// Returns the key and whether it was created.
pub fn load_or_create(path: &Path, rng: &mut LabRng) -> Result<(TicketKey, bool), TicketKeyFile> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok((read_ticket_key(path)?, false)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = TicketKey::generate(rng);
            write_ticket_key(path, &key)?;
            Ok((key, true))
        }
        Err(source) => Err(TicketKeyFile::Io {
            path: path.to_path_buf(),
            action: "inspect",
            source,
        }),
    }
}
