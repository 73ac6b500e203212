//! `pfslab explain`: one session byte by byte, with every secret the loot derives.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::attack::pipeline::for_each_tls_connection;
use pfslab::attack::{recover, Loot, ResumptionCache};
use pfslab::explain::{explain, Style};
use pfslab::keylog::KeyLog;
use pfslab::pki;

use crate::cli::output;

#[derive(Args)]
pub struct ExplainArgs {
    /// A pcap or pcapng file.
    capture: PathBuf,
    /// The session (tcp.stream number, as in inspect and attack).
    #[arg(long, default_value_t = 0)]
    session: u64,
    /// The server's private key: go on to the premaster, master secret and keys.
    #[arg(long, conflicts_with = "keylog")]
    key: Option<PathBuf>,
    /// A key log: go on from the master secret it names.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// A stolen session-ticket encryption key: open the session's tickets. Repeatable.
    #[arg(long = "ticket-key", value_name = "FILE")]
    ticket_keys: Vec<PathBuf>,
    /// Assume the discrete-log problem broken: the clients' classical ephemeral keys from this
    /// stand-in file (`record` writes NAME.dlog-standin.json), as in `attack`.
    #[arg(long, value_name = "FILE")]
    assume_dlog_broken: Option<PathBuf>,
}

pub fn run(a: ExplainArgs) -> Result<()> {
    let key = a
        .key
        .as_ref()
        .map(|p| pki::load_private_key(p).context("cannot load --key"))
        .transpose()?;
    let keylog = a
        .keylog
        .as_ref()
        .map(|p| KeyLog::load(p).with_context(|| format!("cannot read key log {}", p.display())))
        .transpose()?;
    let mut loot = Loot::new(key, keylog)
        .with_ticket_keys(crate::cli::attack::load_ticket_keys(&a.ticket_keys)?);
    loot.assumed_dlog = crate::cli::attack::load_assumed_dlog(a.assume_dlog_broken.as_deref())?;
    let name = a
        .capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Sessions before the one asked for are recovered too, in order, when they issue a session
    // ID or ticket: a resumed session is opened through the session it resumes, as in attack.
    let mut cache = ResumptionCache::default();
    let mut found = None;
    let mut streams = Vec::new();
    for_each_tls_connection(&a.capture, |conn| {
        streams.push(conn.stream);
        if found.is_some() {
            return;
        }
        if conn.stream == a.session {
            let recovery = recover(&conn.session, &loot, &cache);
            found = Some((conn, recovery));
        } else if conn.session.issues_resumption() {
            let recovery = recover(&conn.session, &loot, &cache);
            cache.remember_recovered(conn.stream, &conn.session, &recovery);
        }
    })
    .with_context(|| format!("cannot read {}", a.capture.display()))?;
    let Some((conn, recovery)) = found else {
        bail!(crate::cli::attack::no_such_session(
            &a.capture, a.session, &streams
        ));
    };
    let color = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    Ok(output::print(explain(
        &conn,
        &name,
        &recovery,
        Style { color },
    ))?)
}
