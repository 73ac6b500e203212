//! `pfslab server`: the lab's TLS server (a tiny HTTP/1.0 bank) until interrupted.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use pfslab::crypto::ffdh::DhGroup;
use pfslab::endpoint::server::ServerConfig;
use pfslab::lab::bank_server::{self, ConnectionReport, ServerOptions};
use pfslab::lab::identity;

use crate::cli::{open_keylog, output};

#[derive(Args)]
pub struct ServerArgs {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// The server's private key (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long, default_value = "keys/server.key")]
    key: PathBuf,
    /// The server's certificate chain (PEM or DER), leaf first.
    #[arg(long, default_value = "keys/server.crt")]
    cert: PathBuf,
    /// Suites to accept, in preference order: rsa, ecdhe, dhe, rsa256, ecdhe256 (TLS 1.2 AES-GCM),
    /// rsa-cbc, ecdhe-cbc, dhe-cbc, rsa-cbc256, rsa256-cbc (TLS 1.2 AES-CBC with HMAC; encrypt-then-MAC
    /// when the client asks) and tls13 (both TLS 1.3 suites). TLS 1.3 is chosen when the client offers it.
    #[arg(long, default_value = "rsa,ecdhe,tls13")]
    suites: String,
    /// The finite-field group for DHE: a PEM "DH PARAMETERS" file as `openssl dhparam` writes
    /// (default: RFC 7919 ffdhe2048).
    #[arg(long)]
    dh_params: Option<PathBuf>,
    /// Append NSS key log lines here (CLIENT_RANDOM for TLS 1.2; the five TLS 1.3 secret lines), as
    /// a careless operator's server would.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Seconds a client may take for the handshake and for each later step.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Connections served at once; more are closed on arrival.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Derive all server randomness from this number (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(a: ServerArgs) -> Result<()> {
    let suites = identity::parse_suite_list(&a.suites).map_err(anyhow::Error::msg)?;
    let id = identity::load_identity(&a.key, &a.cert).context("cannot load the server identity")?;
    let keylog = open_keylog(&a.keylog)?;
    let dh_group = match &a.dh_params {
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            DhGroup::from_pem(&text).with_context(|| format!("{}", path.display()))?
        }
        None => DhGroup::ffdhe2048(),
    };
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let config = Arc::new(ServerConfig {
        key: id.key,
        cert_chain: id.chain,
        suites: suites.clone(),
        keylog,
        dh_group,
    });
    output::print(format!("pfslab server listening on {addr}\n"))?;
    eprintln!(
        "suites: {}; DH group: {}; certificate: {}; key log: {}",
        suites.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        config
            .dh_group
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("custom {}-bit", config.dh_group.bits())),
        id.leaf.subject,
        a.keylog
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "off".into())
    );
    let options = ServerOptions {
        config,
        timeout: Duration::from_secs(a.timeout.max(1)),
        max_connections: a.max_connections.max(1),
        seed: a.seed,
    };
    // One line per connection on stderr; tests and lesson scripts read them.
    let report: Arc<dyn Fn(&ConnectionReport) + Send + Sync> = Arc::new(|r| eprintln!("{r}"));
    bank_server::serve(listener, options, Arc::new(AtomicBool::new(false)), report);
    Ok(())
}
