//! `pfslab tap`: a recording relay in front of a server, until Ctrl-C or N connections.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use pfslab::lab::bank_client::resolve;
use pfslab::lab::{Tap, TapConfig};

use crate::cli::output;

#[derive(Args)]
pub struct TapArgs {
    /// Address to accept clients on (port 0 picks one; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: String,
    /// The server to relay to, host:port.
    #[arg(long, default_value = "127.0.0.1:8443")]
    upstream: String,
    /// The capture to write (complete, and renamed into place, when the tap stops).
    #[arg(long, default_value = "captures/tap.pcap")]
    write: PathBuf,
    /// Stop after this many connections have come and gone (default: run until Ctrl-C).
    #[arg(long)]
    connections: Option<u64>,
}

pub fn run(a: TapArgs) -> Result<()> {
    let upstream = resolve(&a.upstream)?;
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let mut cfg = TapConfig::new(addr, upstream, &a.write);
    cfg.stop_grace = Duration::from_secs(2);
    let tap = Tap::with_listener(listener, cfg)
        .with_context(|| format!("cannot record to {}", a.write.display()))?;
    // The handler is in place before the tap says it listens: a SIGTERM sent as soon as the
    // line is read must stop it cleanly, never kill it with the capture still `.partial`.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    output::print(format!(
        "pfslab tap listening on {addr}, relaying to {upstream}, recording to {}\n",
        a.write.display()
    ))?;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(n) = a.connections {
            if tap.wait_idle(n, Duration::from_millis(100)) {
                break;
            }
        } else {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let summary = tap.stop().context("cannot finish the capture")?;
    eprintln!(
        "wrote {}: {} connections relayed, {} refused upstream, {} packets",
        summary.path.display(),
        summary.relayed,
        summary.refused,
        summary.packets
    );
    Ok(())
}
