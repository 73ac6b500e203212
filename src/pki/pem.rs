//! PEM scanning (RFC 7468): the `-----BEGIN X-----` blocks of a text, decoded on demand.

use x509_cert::der;

use super::{malformed, PkiError};

pub(super) const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_DASHES: &[u8] = b"-----";

/// One `-----BEGIN X----- ... -----END X-----` block of a larger text.
pub(super) struct PemBlock<'a> {
    pub(super) label: &'a str,
    pub(super) text: &'a [u8],
}

pub(super) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits PEM text into its blocks (RFC 7468 §2); text between blocks is ignored, as
/// OpenSSL does (certificate files often carry `subject=` lines or comments).
pub(super) fn pem_blocks(input: &[u8]) -> Result<Vec<PemBlock<'_>>, PkiError> {
    let mut blocks = Vec::new();
    let mut pos = 0;
    while let Some(start) = find(input, PEM_BEGIN, pos) {
        let label_start = start + PEM_BEGIN.len();
        let bad = |detail: &str| malformed("PEM", format!("{detail} at byte {start}"));
        let label_end =
            find(input, PEM_DASHES, label_start).ok_or_else(|| bad("unterminated BEGIN line"))?;
        let label = input
            .get(label_start..label_end)
            .and_then(|l| std::str::from_utf8(l).ok())
            .filter(|l| !l.contains(['\n', '\r']))
            .ok_or_else(|| bad("invalid BEGIN line"))?;
        let end_line = format!("-----END {label}-----");
        let end = find(input, end_line.as_bytes(), label_end)
            .ok_or_else(|| bad(&format!("no \"{end_line}\" line for the block starting")))?;
        let stop = end + end_line.len();
        let text = input
            .get(start..stop)
            .ok_or_else(|| bad("truncated block"))?;
        blocks.push(PemBlock { label, text });
        pos = stop;
    }
    Ok(blocks)
}

pub(super) fn decode_pem_block(
    block: &PemBlock<'_>,
    what: &'static str,
) -> Result<Vec<u8>, PkiError> {
    der::pem::decode_vec(block.text)
        .map(|(_, der)| der)
        .map_err(|e| malformed(what, e))
}
