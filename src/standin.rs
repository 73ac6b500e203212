//! The discrete-log stand-in: the classical ephemeral private keys the lab's own clients
//! generated, written beside a capture as `NAME.dlog-standin.json`.
//!
//! No one runs Shor's algorithm here. An adversary who can solve discrete logs (a large quantum
//! computer) would compute these scalars from the public shares in the capture; the lab hands
//! them over instead, through a file that says so in its first field. Only the classical halves
//! are recorded: an ML-KEM decapsulation key never reaches this file, so a hybrid session stays
//! closed to whoever holds it.
//!
//! The client reports each key share it generates through an [`EphemeralLog`] (like the key log,
//! a hook on the config); [`EphemeralMemory`] collects them, and [`write`] stores them whole.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use crate::codec::{hex, unhex};

/// The file's first field, word for word.
pub const STAND_IN: &str = "Shor's algorithm is not run here; these are the classical ephemeral \
private keys the lab's clients generated, recorded by the lab itself, standing in for a \
discrete-log-capable (quantum) adversary who would compute them from the public shares in the \
capture. ML-KEM decapsulation keys are never written here.";

/// The group a recorded classical key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DlogGroup {
    /// P-256 (TLS 1.2 ECDHE, TLS 1.3 secp256r1): a 65-byte SEC1 point, a 32-byte scalar.
    Secp256r1,
    /// X25519 (RFC 7748): 32-byte u-coordinate and scalar.
    X25519,
    /// The X25519 half of X25519MLKEM768; the ML-KEM half is not here.
    X25519MlKem768,
    /// TLS 1.2 DHE over whatever prime the server sent: Y and the exponent, big-endian.
    Ffdhe,
}

impl DlogGroup {
    pub const ALL: [DlogGroup; 4] = [
        Self::Secp256r1,
        Self::X25519,
        Self::X25519MlKem768,
        Self::Ffdhe,
    ];

    /// The name in the file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Secp256r1 => "secp256r1",
            Self::X25519 => "x25519",
            Self::X25519MlKem768 => "x25519mlkem768",
            Self::Ffdhe => "ffdhe",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// One classical ephemeral key a client generated, and the session it belongs to.
#[derive(Clone)]
pub struct EphemeralSecret {
    pub client_random: [u8; 32],
    pub group: DlogGroup,
    /// The classical public value exactly as it crossed the wire (for the hybrid: the 32-byte
    /// X25519 part of the share only).
    pub public: Vec<u8>,
    /// P-256: the scalar, 32 bytes big-endian; X25519: the 32-byte scalar as RFC 7748 §5
    /// encodes it; DHE: the exponent, big-endian.
    pub private: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for EphemeralSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "EphemeralSecret({}, {}, public {} bytes)",
            hex(&self.client_random),
            self.group.name(),
            self.public.len()
        )
    }
}

/// Where a client reports each classical key share it generates (once per share: a TLS 1.3
/// HelloRetryRequest makes a second one).
pub trait EphemeralLog: Send + Sync {
    fn log(&self, secret: EphemeralSecret);
}

/// Collects the reported keys in memory, in the order they were made.
#[derive(Default)]
pub struct EphemeralMemory {
    entries: Mutex<Vec<EphemeralSecret>>,
}

impl EphemeralMemory {
    /// Everything collected so far.
    pub fn snapshot(&self) -> Vec<EphemeralSecret> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl EphemeralLog for EphemeralMemory {
    fn log(&self, secret: EphemeralSecret) {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(secret);
    }
}

/// The stand-in file beside a capture: `lab.pcap` → `lab.dlog-standin.json`.
pub fn standin_path(capture: &Path) -> PathBuf {
    capture.with_extension("dlog-standin.json")
}

/// Writes the file whole (a temporary file, then a rename), mode 0600: it holds secrets.
pub fn write(path: &Path, capture_name: &str, keys: &[EphemeralSecret]) -> std::io::Result<()> {
    // Written by hand so the stand-in sentence comes first for a reader (serde_json's maps
    // sort their keys); every value still goes through the JSON encoder.
    let q = |v: &str| serde_json::Value::from(v).to_string();
    let mut text = Zeroizing::new(format!(
        "{{\n  \"stand_in\": {},\n  \"capture\": {},\n  \"keys\": [",
        q(STAND_IN),
        q(capture_name)
    ));
    for (i, k) in keys.iter().enumerate() {
        let private = Zeroizing::new(hex(&k.private));
        text.push_str(if i == 0 { "\n" } else { ",\n" });
        text.push_str(&format!(
            "    {{\"client_random\": \"{}\", \"group\": \"{}\", \"public\": \"{}\", \"private\": \"",
            hex(&k.client_random),
            k.group.name(),
            hex(&k.public)
        ));
        text.push_str(&private);
        text.push_str("\"}");
    }
    text.push_str(if keys.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    let tmp = path.with_extension("json.partial");
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// A stand-in file as read back.
#[derive(Debug)]
pub struct StandIn {
    /// The capture it belongs to (a file name).
    pub capture: String,
    pub keys: Vec<EphemeralSecret>,
}

#[derive(Debug)]
pub enum StandInError {
    Io(std::io::Error),
    Malformed(String),
}

impl std::fmt::Display for StandInError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Malformed(m) => write!(f, "not a pfslab discrete-log stand-in file: {m}"),
        }
    }
}

impl std::error::Error for StandInError {}

/// Reads a stand-in file; it must carry the stand-in sentence, so nothing else passes for one.
pub fn read(path: &Path) -> Result<StandIn, StandInError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(StandInError::Io)?);
    parse(&text)
}

pub fn parse(text: &str) -> Result<StandIn, StandInError> {
    let bad = |m: &str| StandInError::Malformed(m.to_string());
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| StandInError::Malformed(e.to_string()))?;
    if v.get("stand_in").and_then(|s| s.as_str()) != Some(STAND_IN) {
        return Err(bad("the stand_in sentence is missing or changed"));
    }
    let capture = v
        .get("capture")
        .and_then(|c| c.as_str())
        .ok_or_else(|| bad("no capture name"))?
        .to_string();
    let entries = v
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| bad("no keys list"))?;
    let mut keys = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let field = |name: &str| {
            e.get(name)
                .and_then(|x| x.as_str())
                .ok_or_else(|| StandInError::Malformed(format!("key {i}: no {name}")))
        };
        let hex_field = |name: &str| {
            field(name).and_then(|s| {
                unhex(s)
                    .ok_or_else(|| StandInError::Malformed(format!("key {i}: {name} is not hex")))
            })
        };
        let client_random: [u8; 32] = hex_field("client_random")?.try_into().map_err(|_| {
            StandInError::Malformed(format!("key {i}: client_random is not 32 bytes"))
        })?;
        let group = DlogGroup::from_name(field("group")?)
            .ok_or_else(|| StandInError::Malformed(format!("key {i}: unknown group")))?;
        keys.push(EphemeralSecret {
            client_random,
            group,
            public: hex_field("public")?,
            private: Zeroizing::new(hex_field("private")?),
        });
    }
    Ok(StandIn { capture, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EphemeralSecret {
        EphemeralSecret {
            client_random: [7; 32],
            group: DlogGroup::X25519,
            public: vec![1; 32],
            private: Zeroizing::new(vec![2; 32]),
        }
    }

    #[test]
    fn writes_0600_and_reads_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("pfslab-standin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = standin_path(&dir.join("lab.pcap"));
        assert!(path.ends_with("lab.dlog-standin.json"));
        write(&path, "lab.pcap", &[sample()]).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = read(&path).unwrap();
        assert_eq!(back.capture, "lab.pcap");
        assert_eq!(back.keys.len(), 1);
        assert_eq!(back.keys[0].group, DlogGroup::X25519);
        assert_eq!(*back.keys[0].private, vec![2; 32]);
        let text = std::fs::read_to_string(&path).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["stand_in"], STAND_IN);
        assert_eq!(v["keys"][0]["client_random"], hex(&[7; 32]));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_without_the_sentence_is_refused() {
        assert!(parse(r#"{"capture":"x","keys":[]}"#).is_err());
        let ok = format!(
            r#"{{"stand_in":{},"capture":"x","keys":[]}}"#,
            serde_json::json!(STAND_IN)
        );
        assert!(parse(&ok).is_ok());
        let bad_group = format!(
            r#"{{"stand_in":{},"capture":"x","keys":[{{"client_random":"{}","group":"p521","public":"","private":""}}]}}"#,
            serde_json::json!(STAND_IN),
            hex(&[0; 32])
        );
        assert!(parse(&bad_group).is_err());
    }
}
