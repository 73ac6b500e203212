//! NSS key log format (SSLKEYLOGFILE): writing it, as a careless operator's server does, and
//! reading it, as an attacker who found one does.
//!
//! `CLIENT_RANDOM <client random hex> <master secret hex>` for TLS 1.2;
//! `RSA <first 8 bytes of encrypted premaster hex> <premaster hex>`;
//! TLS 1.3 lines `<LABEL> <client random hex> <secret hex>`.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::codec::{hex, unhex};

/// An append-only key log file shared by all connections of a process.
#[derive(Debug)]
pub struct KeyLogWriter {
    path: PathBuf,
    file: Mutex<File>,
}

impl KeyLogWriter {
    /// Opens `path` for appending, creating it with mode 0600: it holds secrets.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line; whole lines are written under a lock so concurrent writers never
    /// interleave.
    pub fn log(&self, kind: SecretKind, first: &[u8], secret: &[u8]) -> std::io::Result<()> {
        let line = Zeroizing::new(format!("{kind} {} {}\n", hex(first), hex(secret)));
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        file.write_all(line.as_bytes())?;
        file.flush()
    }
}

/// Secrets found in a key log, indexed the way sessions look them up.
#[derive(Default)]
pub struct KeyLog {
    /// TLS 1.2 master secrets by client random.
    pub master_secrets: HashMap<[u8; 32], Zeroizing<Vec<u8>>>,
    /// Premaster secrets by the first 8 bytes of the encrypted premaster.
    pub rsa_premasters: HashMap<[u8; 8], Zeroizing<Vec<u8>>>,
    /// TLS 1.3 secrets by ([`SecretKind::label`], client random).
    pub tls13_secrets: HashMap<(String, [u8; 32]), Zeroizing<Vec<u8>>>,
    /// Lines that were skipped, with their line numbers and why.
    pub skipped: Vec<(usize, String)>,
}

impl std::fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyLog({} master secrets, {} RSA premasters, {} TLS 1.3 secrets)",
            self.master_secrets.len(),
            self.rsa_premasters.len(),
            self.tls13_secrets.len()
        )
    }
}

/// Every kind of secret a key log line can carry; the one owner of the NSS labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    /// TLS 1.2 master secret, by client random.
    ClientRandom,
    /// TLS 1.2 RSA premaster, by the first 8 bytes of the encrypted premaster.
    RsaPremaster,
    ClientEarlyTrafficSecret,
    ClientHandshakeTrafficSecret,
    ServerHandshakeTrafficSecret,
    ClientTrafficSecret0,
    ServerTrafficSecret0,
    ExporterSecret,
    EarlyExporterSecret,
}

impl SecretKind {
    pub const ALL: [SecretKind; 9] = [
        Self::ClientRandom,
        Self::RsaPremaster,
        Self::ClientEarlyTrafficSecret,
        Self::ClientHandshakeTrafficSecret,
        Self::ServerHandshakeTrafficSecret,
        Self::ClientTrafficSecret0,
        Self::ServerTrafficSecret0,
        Self::ExporterSecret,
        Self::EarlyExporterSecret,
    ];

    /// The label that opens the key log line.
    pub fn label(self) -> &'static str {
        match self {
            Self::ClientRandom => "CLIENT_RANDOM",
            Self::RsaPremaster => "RSA",
            Self::ClientEarlyTrafficSecret => "CLIENT_EARLY_TRAFFIC_SECRET",
            Self::ClientHandshakeTrafficSecret => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            Self::ServerHandshakeTrafficSecret => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            Self::ClientTrafficSecret0 => "CLIENT_TRAFFIC_SECRET_0",
            Self::ServerTrafficSecret0 => "SERVER_TRAFFIC_SECRET_0",
            Self::ExporterSecret => "EXPORTER_SECRET",
            Self::EarlyExporterSecret => "EARLY_EXPORTER_SECRET",
        }
    }

    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.label() == label)
    }

    /// A TLS 1.3 secret, keyed by client random.
    pub fn is_tls13(self) -> bool {
        !matches!(self, Self::ClientRandom | Self::RsaPremaster)
    }
}

impl std::fmt::Display for SecretKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl KeyLog {
    /// Parses key log text. Comments and blank lines are ignored; malformed lines are kept in
    /// `skipped` so the caller can report them, never fatal.
    pub fn parse(text: &str) -> Self {
        let mut log = Self::default();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [label, first, secret] = fields.as_slice() else {
                log.skipped.push((line_no, "expected three fields".into()));
                continue;
            };
            let (Some(first), Some(secret)) = (unhex(first), unhex(secret)) else {
                log.skipped.push((line_no, "fields are not hex".into()));
                continue;
            };
            let secret = Zeroizing::new(secret);
            match SecretKind::from_label(label) {
                Some(SecretKind::ClientRandom) => {
                    match (<[u8; 32]>::try_from(first.as_slice()), secret.len()) {
                        (Ok(cr), 48) => {
                            log.master_secrets.insert(cr, secret);
                        }
                        _ => log.skipped.push((
                            line_no,
                            "CLIENT_RANDOM needs a 32-byte random and a 48-byte master secret"
                                .into(),
                        )),
                    }
                }
                Some(SecretKind::RsaPremaster) => {
                    match (<[u8; 8]>::try_from(first.as_slice()), secret.len()) {
                        (Ok(prefix), 48) => {
                            log.rsa_premasters.insert(prefix, secret);
                        }
                        _ => log.skipped.push((
                            line_no,
                            "RSA needs 8 bytes of encrypted premaster and a 48-byte premaster"
                                .into(),
                        )),
                    }
                }
                Some(kind) => match <[u8; 32]>::try_from(first.as_slice()) {
                    Ok(cr) => {
                        log.tls13_secrets
                            .insert((kind.label().to_string(), cr), secret);
                    }
                    Err(_) => log
                        .skipped
                        .push((line_no, format!("{kind} needs a 32-byte client random"))),
                },
                None => log
                    .skipped
                    .push((line_no, format!("unknown label {label}"))),
            }
        }
        log
    }

    pub fn load(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        Ok(Self::parse(&text))
    }

    /// A TLS 1.3 secret of this session, if the log has it.
    pub fn tls13_secret(&self, kind: SecretKind, client_random: &[u8; 32]) -> Option<&[u8]> {
        self.tls13_secrets
            .get(&(kind.label().to_string(), *client_random))
            .map(|s| s.as_slice())
    }

    pub fn is_empty(&self) -> bool {
        self.master_secrets.is_empty()
            && self.rsa_premasters.is_empty()
            && self.tls13_secrets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_line_kinds_and_reports_bad_ones() {
        let cr = "11".repeat(32);
        let text = format!(
            "# comment\nCLIENT_RANDOM {cr} {}\nRSA {} {}\nSERVER_TRAFFIC_SECRET_0 {cr} {}\nCLIENT_RANDOM zz 00\nBOGUS 00 00\nshort\n",
            "22".repeat(48), "33".repeat(8), "44".repeat(48), "55".repeat(32)
        );
        let log = KeyLog::parse(&text);
        assert_eq!(
            log.master_secrets.get(&[0x11; 32]).map(|s| s.to_vec()),
            Some(vec![0x22; 48])
        );
        assert_eq!(
            log.rsa_premasters.get(&[0x33; 8]).map(|s| s.to_vec()),
            Some(vec![0x44; 48])
        );
        assert_eq!(log.tls13_secrets.len(), 1);
        assert_eq!(
            log.skipped.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
    }

    #[test]
    fn writer_appends_lines_with_private_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pfslab-keylog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.log");
        let _ = std::fs::remove_file(&path);
        let w = KeyLogWriter::open(&path).unwrap();
        w.log(SecretKind::ClientRandom, &[1; 32], &[2; 48]).unwrap();
        w.log(SecretKind::ClientRandom, &[3; 32], &[4; 48]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let log = KeyLog::load(&path).unwrap();
        assert_eq!(log.master_secrets.len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
