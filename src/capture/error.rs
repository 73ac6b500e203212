//! The one error type of the capture layer.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while writing, reading or tapping captures.
///
/// Messages name the file and, where it applies, the packet number (1-based, like
/// Wireshark's `frame.number`) and the byte offset in the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum CaptureError {
    /// An operating-system error on a file or socket.
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    /// The file starts with neither a pcap nor a pcapng magic number.
    NotACapture { path: PathBuf, magic: [u8; 4] },
    /// The file ends inside a header or a packet; packets before it were delivered.
    Truncated {
        path: PathBuf,
        what: &'static str,
        packet: u64,
        offset: u64,
        needed: u64,
        got: u64,
    },
    /// A header field is impossible; reading stops here.
    Malformed {
        path: PathBuf,
        packet: u64,
        offset: u64,
        what: String,
    },
    /// A frame could not be built (for example a payload larger than IPv4 allows).
    Build { what: String },
    /// The writer was already finished, or a thread panicked while holding it.
    WriterUnavailable { path: PathBuf },
}

impl CaptureError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Self {
        CaptureError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Io { path, op, source } => {
                write!(f, "{}: {op} failed: {source}", path.display())
            }
            CaptureError::NotACapture { path, magic } => write!(
                f,
                "{}: not a pcap or pcapng file (starts with {:02x}{:02x}{:02x}{:02x})",
                path.display(),
                magic[0],
                magic[1],
                magic[2],
                magic[3]
            ),
            CaptureError::Truncated { path, what, packet, offset, needed, got } => write!(
                f,
                "{}: truncated in the {what} of packet {packet} (offset {offset}): needed {needed} bytes, file has {got}",
                path.display()
            ),
            CaptureError::Malformed { path, packet, offset, what } => write!(
                f,
                "{}: malformed at packet {packet} (offset {offset}): {what}",
                path.display()
            ),
            CaptureError::Build { what } => write!(f, "cannot build frame: {what}"),
            CaptureError::WriterUnavailable { path } => {
                write!(f, "{}: capture writer already finished or poisoned", path.display())
            }
        }
    }
}

impl std::error::Error for CaptureError {
    // The Display text already carries the OS error; no `source`, so `{:#}` prints it once.
}
