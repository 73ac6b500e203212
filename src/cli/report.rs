//! `pfslab report`: one self-contained HTML page for a class — per session the handshake
//! ladder, the derivation chain and what fell — written atomically (a temporary file beside the
//! target, renamed over it once whole).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;

use pfslab::attack::pipeline::for_each_tls_connection;
use pfslab::attack::{recover, ResumptionCache};
use pfslab::html::{HtmlReport, ReportInputs};

use crate::cli::{load_loot, output};

#[derive(Args)]
pub struct ReportArgs {
    /// The stolen server private key (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A leaked NSS key log (SSLKEYLOGFILE): CLIENT_RANDOM, RSA and TLS 1.3 secret lines.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// A stolen session-ticket encryption key (80 bytes). Repeatable.
    #[arg(long = "ticket-key", value_name = "FILE")]
    ticket_keys: Vec<PathBuf>,
    /// Assume the discrete-log problem broken: the clients' classical ephemeral keys from this
    /// stand-in file (`record` writes NAME.dlog-standin.json), as in `attack`.
    #[arg(long, value_name = "FILE")]
    assume_dlog_broken: Option<PathBuf>,
    /// The HTML file to write (replaced whole, mode 0600: it holds the recovered plaintext).
    #[arg(long)]
    out: PathBuf,
    /// pcap or pcapng files.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

pub fn run(a: ReportArgs) -> Result<()> {
    // 1. What can fail before the walk: the loot, the captures, the place to write.
    let mut loot = load_loot(a.key.as_deref(), a.keylog.as_deref())?
        .with_ticket_keys(crate::cli::attack::load_ticket_keys(&a.ticket_keys)?);
    loot.assumed_dlog = crate::cli::attack::load_assumed_dlog(a.assume_dlog_broken.as_deref())?;
    for path in &a.captures {
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    }
    let dir = match a.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{}.", file_name(&a.out)))
        .suffix(".partial")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;

    // 2. Every session in order, so a resumed session opens through the one it resumes.
    let mut report = HtmlReport::new(ReportInputs {
        captures: a.captures.iter().map(|p| file_name(p)).collect(),
        key: a.key.as_deref().map(file_name),
        keylog: a.keylog.as_deref().map(file_name),
        ticket_keys: a.ticket_keys.iter().map(|p| file_name(p)).collect(),
        assumed_dlog: a.assume_dlog_broken.as_deref().map(file_name),
    });
    let mut cache = ResumptionCache::default();
    for (i, path) in a.captures.iter().enumerate() {
        let summary = for_each_tls_connection(path, |conn| {
            let recovery = recover(&conn.session, &loot, &cache);
            cache.remember_recovered(conn.stream, &conn.session, &recovery);
            report.add(i, &conn, &recovery);
        })?; // the error names the file
        if let Some(t) = &summary.truncated {
            eprintln!("warning: {t}; the sessions before it are in the report");
        }
        if summary.tls_sessions == 0 {
            eprintln!(
                "warning: {}: no TLS sessions found ({} TCP connections, {} packets)",
                path.display(),
                summary.tcp_connections,
                summary.packets
            );
        }
    }

    // 3. The page, whole, then renamed into place: no reader ever sees half of it.
    report
        .write_to(&mut tmp)
        .and_then(|()| tmp.flush())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(&a.out)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    Ok(output::print(format!(
        "wrote {}: {} TLS session{} ({})\n",
        a.out.display(),
        report.len(),
        if report.len() == 1 { "" } else { "s" },
        report.verdict_counts()
    ))?)
}
