//! `pfslab inspect`: what an eavesdropper sees without any key, one row per TLS session.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::attack::pipeline::for_each_tls_connection;
use pfslab::report;

use crate::cli::output::Stdout;
use crate::cli::spool::Spool;

#[derive(Args)]
pub struct InspectArgs {
    /// pcap or pcapng files.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
}

pub fn run(a: InspectArgs) -> Result<()> {
    // Rows are held in a spool (memory, then a temporary file) until every capture is read, so
    // memory does not grow with the capture.
    let show_capture = a.captures.len() > 1;
    let mut table = Spool::new(Spool::DEFAULT_LIMIT);
    let mut spool_error = None;
    for path in &a.captures {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let summary = for_each_tls_connection(path, |conn| {
            let row = report::inspect_table_row(&name, &conn, show_capture);
            if let Err(e) = table.append(row.as_bytes()) {
                spool_error.get_or_insert(e);
            }
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
        if let Some(e) = spool_error.take() {
            bail!("cannot hold the table in a temporary file: {e}");
        }
        eprintln!(
            "{}: {} packets, {} TCP connections, {} TLS sessions, {} other",
            path.display(),
            summary.packets,
            summary.tcp_connections,
            summary.tls_sessions,
            summary.non_tls_connections
        );
        if let Some(t) = &summary.truncated {
            eprintln!("warning: {t}; the packets before it were used");
        }
    }
    let mut out = Stdout::default();
    out.write_with(|out| {
        std::io::Write::write_all(out, report::inspect_table_header(show_capture).as_bytes())?;
        table.copy_to(out)
    });
    Ok(out.finish()?)
}
