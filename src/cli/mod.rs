//! The commands behind `pfslab`, one module each: everything that prints lives here.

pub mod allocator;
pub mod attack;
pub mod client;
pub mod dhparams;
pub mod explain;
pub mod inspect;
pub mod keygen;
pub mod logger;
pub mod memscan;
pub mod mitm;
pub mod oracle_attack;
pub mod output;
pub mod progress;
pub mod record;
pub mod report;
pub mod server;
pub mod spool;
pub mod tap;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};

use pfslab::attack::Loot;
use pfslab::keylog::{KeyLog, KeyLogWriter};
use pfslab::pki;

/// Opens `--keylog` for appending, if given.
fn open_keylog(path: &Option<PathBuf>) -> Result<Option<Arc<KeyLogWriter>>> {
    path.as_ref()
        .map(|p| {
            KeyLogWriter::open(p)
                .map(Arc::new)
                .with_context(|| format!("cannot open key log {}", p.display()))
        })
        .transpose()
}

/// What the attacker holds: `--key` (the stolen server key) and `--keylog` (a leaked key log).
/// Warns about key-log lines it skips; a key log with no usable line is an error.
fn load_loot(key: Option<&Path>, keylog: Option<&Path>) -> Result<Loot> {
    let key = key
        .map(|p| pki::load_private_key(p).context("cannot load the stolen key"))
        .transpose()?;
    let keylog = match keylog {
        Some(p) => {
            let log =
                KeyLog::load(p).with_context(|| format!("cannot read key log {}", p.display()))?;
            for (line, why) in log.skipped.iter().take(5) {
                eprintln!("warning: {}:{line}: skipped: {why}", p.display());
            }
            if log.is_empty() {
                bail!("{} holds no key log lines (expected CLIENT_RANDOM, RSA or TLS 1.3 secret lines)", p.display());
            }
            Some(log)
        }
        None => None,
    };
    Ok(Loot::new(key, keylog))
}
