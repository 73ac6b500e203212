//! The commands behind `pfslab`, one module each: everything that prints lives here.

pub mod attack;
pub mod client;
pub mod explain;
pub mod inspect;
pub mod keygen;
pub mod logger;
pub mod output;
pub mod progress;
pub mod record;
pub mod server;
pub mod spool;
pub mod tap;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use pfslab::keylog::KeyLogWriter;

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
