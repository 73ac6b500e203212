//! What a client keeps to resume a session later (`pfslab client --session-out/--session-in`,
//! like `openssl s_client -sess_out/-sess_in`), and the clock tickets are dated with.
//!
//! The file is text a student can read: one `field: value` per line, secrets in hex, written with
//! mode 0600 because the master secret (TLS 1.2) or the PSK (TLS 1.3) in it opens the session it
//! came from and every session that resumes it.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::codec::{hex, unhex};
use crate::tickets::{Tls12State, Tls13State};

/// Where "now" comes from: the system clock, or a fixed instant for seeded, reproducible runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    /// Unix milliseconds.
    Fixed(u64),
}

impl Clock {
    pub fn now_ms(self) -> u64 {
        match self {
            Self::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_millis() as u64,
            Self::Fixed(ms) => ms,
        }
    }

    pub fn now_secs(self) -> u32 {
        (self.now_ms() / 1000) as u32
    }
}

/// A TLS 1.2 session the client can resume: by ticket when it has one (RFC 5077 §3.4), else by
/// session ID (RFC 5246 §7.4.1.2).
#[derive(Clone, PartialEq, Eq)]
pub struct Tls12Session {
    pub server_name: String,
    pub session_id: Vec<u8>,
    pub ticket: Option<Vec<u8>>,
    /// Seconds, from the NewSessionTicket (0: unspecified).
    pub lifetime_hint: u32,
    pub state: Tls12State,
}

/// A TLS 1.3 ticket and the PSK it stands for (RFC 8446 §4.6.1).
#[derive(Clone, PartialEq, Eq)]
pub struct Tls13Session {
    pub server_name: String,
    pub ticket: Vec<u8>,
    /// Seconds (at most 604800, §4.6.1).
    pub lifetime: u32,
    /// `state.issued_ms` is when the client received the ticket; `state.psk` the resumption PSK.
    pub state: Tls13State,
    pub max_early_data: u32,
}

#[derive(Clone, PartialEq, Eq)]
pub enum ClientSession {
    Tls12(Tls12Session),
    Tls13(Tls13Session),
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls12(s) => write!(
                f,
                "Tls12Session({}, ticket: {})",
                s.server_name,
                s.ticket.is_some()
            ),
            Self::Tls13(s) => write!(f, "Tls13Session({})", s.server_name),
        }
    }
}

/// A session file that cannot be read.
#[derive(Debug)]
pub enum SessionFileError {
    Io(std::io::Error),
    /// Line number (1-based, 0 for the whole file) and what is wrong.
    Format(usize, String),
}

impl std::fmt::Display for SessionFileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Format(0, why) => write!(f, "not a pfslab session file: {why}"),
            Self::Format(line, why) => write!(f, "line {line}: {why}"),
        }
    }
}

impl std::error::Error for SessionFileError {}

const HEADER: &str = "# pfslab session";

impl ClientSession {
    pub fn server_name(&self) -> &str {
        match self {
            Self::Tls12(s) => &s.server_name,
            Self::Tls13(s) => &s.server_name,
        }
    }

    /// The text of a session file.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut t = Zeroizing::new(String::new());
        let _ = writeln!(
            t,
            "{HEADER} (SECRET: whoever reads this can decrypt the session and its resumptions)"
        );
        match self {
            Self::Tls12(s) => {
                let _ = writeln!(t, "version: TLS 1.2");
                let _ = writeln!(t, "server_name: {}", s.server_name);
                let _ = writeln!(t, "cipher_suite: 0x{:04x}", s.state.cipher_suite);
                let _ = writeln!(t, "session_id: {}", hex(&s.session_id));
                let _ = writeln!(
                    t,
                    "ticket: {}",
                    s.ticket.as_deref().map(hex).unwrap_or_default()
                );
                let _ = writeln!(t, "ticket_lifetime_hint: {}", s.lifetime_hint);
                let _ = writeln!(t, "master_secret: {}", hex(&s.state.master_secret[..]));
                let _ = writeln!(
                    t,
                    "extended_master_secret: {}",
                    s.state.extended_master_secret
                );
                let _ = writeln!(t, "encrypt_then_mac: {}", s.state.encrypt_then_mac);
                let _ = writeln!(t, "created: {}", s.state.issued);
            }
            Self::Tls13(s) => {
                let _ = writeln!(t, "version: TLS 1.3");
                let _ = writeln!(t, "server_name: {}", s.server_name);
                let _ = writeln!(t, "cipher_suite: 0x{:04x}", s.state.cipher_suite);
                let _ = writeln!(t, "ticket: {}", hex(&s.ticket));
                let _ = writeln!(t, "ticket_lifetime: {}", s.lifetime);
                let _ = writeln!(t, "ticket_age_add: {}", s.state.ticket_age_add);
                let _ = writeln!(t, "received_ms: {}", s.state.issued_ms);
                let _ = writeln!(t, "max_early_data: {}", s.max_early_data);
                let _ = writeln!(t, "resumption_psk: {}", hex(&s.state.psk));
            }
        }
        t
    }

    pub fn from_text(text: &str) -> Result<Self, SessionFileError> {
        if !text.trim_start().starts_with(HEADER) {
            return Err(SessionFileError::Format(
                0,
                format!("the first line should start {HEADER:?}"),
            ));
        }
        let mut fields: Vec<(usize, &str, &str)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once(':').ok_or_else(|| {
                SessionFileError::Format(i + 1, format!("expected `field: value`, got {line:?}"))
            })?;
            fields.push((i + 1, k.trim(), v.trim()));
        }
        let f = Fields(fields);
        match f.get("version")?.1 {
            "TLS 1.2" => {
                let (line, ms) = f.get("master_secret")?;
                let master: [u8; 48] =
                    f.hex("master_secret")?.as_slice().try_into().map_err(|_| {
                        SessionFileError::Format(
                            line,
                            format!(
                                "master_secret must be 48 bytes of hex, got {} characters",
                                ms.len()
                            ),
                        )
                    })?;
                let ticket = f.hex("ticket")?;
                Ok(Self::Tls12(Tls12Session {
                    server_name: f.get("server_name")?.1.to_string(),
                    session_id: f.hex("session_id")?,
                    ticket: (!ticket.is_empty()).then_some(ticket),
                    lifetime_hint: f.number("ticket_lifetime_hint")? as u32,
                    state: Tls12State {
                        cipher_suite: f.suite()?,
                        master_secret: Zeroizing::new(master),
                        issued: f.number("created")? as u32,
                        extended_master_secret: f.flag("extended_master_secret")?,
                        encrypt_then_mac: f.flag("encrypt_then_mac")?,
                        server_name: None,
                    },
                }))
            }
            "TLS 1.3" => {
                let psk = f.hex("resumption_psk")?;
                if psk.len() != 32 && psk.len() != 48 {
                    let line = f.get("resumption_psk")?.0;
                    return Err(SessionFileError::Format(
                        line,
                        format!("resumption_psk must be 32 or 48 bytes, got {}", psk.len()),
                    ));
                }
                Ok(Self::Tls13(Tls13Session {
                    server_name: f.get("server_name")?.1.to_string(),
                    ticket: f.hex("ticket")?,
                    lifetime: f.number("ticket_lifetime")? as u32,
                    max_early_data: f.number("max_early_data")? as u32,
                    state: Tls13State {
                        cipher_suite: f.suite()?,
                        psk: Zeroizing::new(psk),
                        ticket_age_add: f.number("ticket_age_add")? as u32,
                        issued_ms: f.number("received_ms")?,
                    },
                }))
            }
            other => Err(SessionFileError::Format(
                f.get("version")?.0,
                format!("version must be `TLS 1.2` or `TLS 1.3`, got {other:?}"),
            )),
        }
    }

    /// Reads a session file.
    pub fn read_file(path: &Path) -> Result<Self, SessionFileError> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(SessionFileError::Io)?);
        Self::from_text(&text)
    }

    /// Writes the session file with mode 0600, replacing an older one through a temporary file
    /// so a reader never sees half a session.
    pub fn write_file(&self, path: &Path) -> std::io::Result<()> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("session"),
            std::process::id()
        ));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            file.set_permissions(fs::Permissions::from_mode(0o600))?;
            file.write_all(self.to_text().as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

struct Fields<'a>(Vec<(usize, &'a str, &'a str)>);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Result<(usize, &'a str), SessionFileError> {
        self.0
            .iter()
            .find(|(_, k, _)| *k == name)
            .map(|(line, _, v)| (*line, *v))
            .ok_or_else(|| SessionFileError::Format(0, format!("the field `{name}` is missing")))
    }

    fn hex(&self, name: &str) -> Result<Vec<u8>, SessionFileError> {
        let (line, v) = self.get(name)?;
        unhex(v).ok_or_else(|| SessionFileError::Format(line, format!("`{name}` is not hex")))
    }

    fn number(&self, name: &str) -> Result<u64, SessionFileError> {
        let (line, v) = self.get(name)?;
        v.parse()
            .map_err(|_| SessionFileError::Format(line, format!("`{name}` is not a number: {v:?}")))
    }

    fn flag(&self, name: &str) -> Result<bool, SessionFileError> {
        let (line, v) = self.get(name)?;
        v.parse().map_err(|_| {
            SessionFileError::Format(line, format!("`{name}` must be true or false, got {v:?}"))
        })
    }

    fn suite(&self) -> Result<u16, SessionFileError> {
        let (line, v) = self.get("cipher_suite")?;
        v.strip_prefix("0x")
            .and_then(|h| u16::from_str_radix(h, 16).ok())
            .ok_or_else(|| {
                SessionFileError::Format(
                    line,
                    format!("cipher_suite must be like 0xc02f, got {v:?}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> [ClientSession; 2] {
        [
            ClientSession::Tls12(Tls12Session {
                server_name: "localhost".into(),
                session_id: vec![1; 32],
                ticket: Some(vec![2; 114]),
                lifetime_hint: 7200,
                state: Tls12State {
                    cipher_suite: 0xc02f,
                    master_secret: Zeroizing::new([3; 48]),
                    issued: 1_767_258_000,
                    extended_master_secret: true,
                    encrypt_then_mac: false,
                    server_name: None,
                },
            }),
            ClientSession::Tls13(Tls13Session {
                server_name: "localhost".into(),
                ticket: vec![4; 130],
                lifetime: 7200,
                max_early_data: 0,
                state: Tls13State {
                    cipher_suite: 0x1302,
                    psk: Zeroizing::new(vec![5; 48]),
                    ticket_age_add: 123_456,
                    issued_ms: 1_767_258_000_500,
                },
            }),
        ]
    }

    #[test]
    fn session_files_round_trip() {
        for s in sessions() {
            assert_eq!(ClientSession::from_text(&s.to_text()).unwrap(), s);
        }
    }

    #[test]
    fn session_files_refuse_damage_with_the_line() {
        let text = sessions()[0]
            .to_text()
            .replace("master_secret: 0303", "master_secret: 03");
        let err = ClientSession::from_text(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("line ") && err.contains("48 bytes"),
            "{err}"
        );
        let err = ClientSession::from_text("hello").unwrap_err().to_string();
        assert!(err.contains("not a pfslab session file"), "{err}");
        // Every prefix that cuts a field off is refused, never a panic.
        let full = sessions()[1].to_text();
        for (i, _) in full.match_indices('\n').take(9) {
            assert!(ClientSession::from_text(&full[..i]).is_err(), "{i}");
        }
    }

    #[test]
    fn session_file_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.txt");
        sessions()[1].write_file(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(ClientSession::read_file(&path).unwrap(), sessions()[1]);
    }
}
