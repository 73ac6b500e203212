//! `pfslab keygen`: the server's RSA key and a self-signed certificate.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::codec::hex;
use pfslab::lab::identity;

use crate::cli::output;

#[derive(Args)]
pub struct KeygenArgs {
    /// Directory for server.key and server.crt.
    #[arg(long, default_value = identity::DEFAULT_KEY_DIR)]
    out_dir: PathBuf,
    /// RSA modulus size in bits.
    #[arg(long, default_value_t = 2048)]
    bits: usize,
    /// Make the key and certificate reproducible from this number (for class handouts).
    #[arg(long)]
    seed: Option<u64>,
    /// Overwrite existing files.
    #[arg(long)]
    force: bool,
}

pub fn run(a: KeygenArgs) -> Result<()> {
    if !(1024..=8192).contains(&a.bits) {
        bail!("--bits must be between 1024 and 8192");
    }
    let (key, cert, info) =
        identity::keygen(&a.out_dir, a.bits, a.seed, a.force).context("keygen failed")?;
    let names = info
        .dns_names
        .iter()
        .cloned()
        .chain(info.ip_addrs.iter().map(|i| i.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut text = String::new();
    let _ = writeln!(text, "wrote {} (private key, mode 0600)", key.display());
    let _ = writeln!(
        text,
        "wrote {} (self-signed certificate, {} bits)",
        cert.display(),
        a.bits
    );
    let _ = writeln!(text, "  subject      {}", info.subject);
    let _ = writeln!(text, "  names        {names}");
    let _ = writeln!(
        text,
        "  valid        {} .. {}",
        info.not_before, info.not_after
    );
    let _ = writeln!(text, "  sha256       {}", hex(&info.sha256_fingerprint));
    Ok(output::print(text)?)
}
