//! The `pfslab` command: argument parsing and exit codes; the work is in the library.
//!
//! Exit codes: 0 success; 1 the command failed (message on stderr); 2 bad usage.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Parser, Subcommand};

use pfslab::client::{build_request, exchange, resolve};
use pfslab::codec::hex;
use pfslab::keylog::KeyLogWriter;
use pfslab::lab;
use pfslab::pki;
use pfslab::rng;
use pfslab::server::{self, ServerOptions};
use pfslab::tls12::client::{ClientConfig, ServerVerification};
use pfslab::tls12::server::ServerConfig;

#[derive(Parser)]
#[command(name = "pfslab", version, about = "A forward-secrecy attack lab: real TLS 1.2, real captures, a real attacker.",
    long_about = "A forward-secrecy attack lab.\n\nThe lab's TLS 1.2 server and client talk RSA key transport \
(TLS_RSA_WITH_AES_128_GCM_SHA256) or ephemeral ECDHE (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). \
Record their traffic, steal the server's RSA key, and see which sessions fall.\n\n\
Exit codes: 0 success, 1 the command failed, 2 bad usage.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the server's RSA key (PKCS#8 PEM, mode 0600) and a self-signed certificate.
    Keygen(KeygenArgs),
    /// Run the lab's TLS 1.2 server (a tiny HTTP/1.0 bank) until interrupted.
    Server(ServerArgs),
    /// Connect to a TLS 1.2 server with one suite, send one request, print the response.
    Client(ClientArgs),
}

#[derive(Args)]
struct KeygenArgs {
    /// Directory for server.key and server.crt.
    #[arg(long, default_value = lab::DEFAULT_KEY_DIR)]
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

#[derive(Args)]
struct ServerArgs {
    /// Address to listen on (port 0 picks a free port; the real one is printed).
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// The server's private key (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long, default_value = "keys/server.key")]
    key: PathBuf,
    /// The server's certificate chain (PEM or DER), leaf first.
    #[arg(long, default_value = "keys/server.crt")]
    cert: PathBuf,
    /// Suites to accept, in preference order: rsa, ecdhe, rsa256, ecdhe256.
    #[arg(long, default_value = "rsa,ecdhe")]
    suites: String,
    /// Append NSS key log lines (CLIENT_RANDOM) here, as a careless operator's server would.
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

#[derive(Args)]
struct ClientArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:8443")]
    connect: String,
    /// The one suite to offer: rsa, ecdhe, rsa256 or ecdhe256.
    #[arg(long)]
    suite: String,
    /// Trust this certificate: the server's must be it or be signed by it, and name the host.
    #[arg(long, conflicts_with = "insecure", required_unless_present = "insecure")]
    ca: Option<PathBuf>,
    /// Accept any server certificate (the ECDHE signature is still checked against it).
    #[arg(long)]
    insecure: bool,
    /// Name to send as SNI and to check in the certificate (default: the host in --connect).
    #[arg(long)]
    server_name: Option<String>,
    /// The request: a request line (a Host header and blank line are added) or a whole request
    /// with \r\n escapes.
    #[arg(long, default_value = "GET / HTTP/1.0")]
    request: String,
    /// Do not offer the extended master secret (RFC 7627).
    #[arg(long)]
    no_ems: bool,
    /// Append NSS key log lines (CLIENT_RANDOM) here.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Seconds to wait for each step.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Derive all client randomness from this number.
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(a) => keygen(a),
        Command::Server(a) => run_server(a),
        Command::Client(a) => run_client(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pfslab: error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn keygen(a: KeygenArgs) -> Result<()> {
    if !(1024..=8192).contains(&a.bits) {
        bail!("--bits must be between 1024 and 8192");
    }
    let (key, cert, info) = lab::keygen(&a.out_dir, a.bits, a.seed, a.force).context("keygen failed")?;
    println!("wrote {} (private key, mode 0600)", key.display());
    println!("wrote {} (self-signed certificate, {} bits)", cert.display(), a.bits);
    println!("  subject      {}", info.subject);
    println!("  names        {}", info.dns_names.iter().cloned().chain(info.ip_addrs.iter().map(|i| i.to_string())).collect::<Vec<_>>().join(", "));
    println!("  valid        {} .. {}", info.not_before, info.not_after);
    println!("  sha256       {}", hex(&info.sha256_fingerprint));
    Ok(())
}

fn open_keylog(path: &Option<PathBuf>) -> Result<Option<Arc<KeyLogWriter>>> {
    path.as_ref()
        .map(|p| KeyLogWriter::open(p).map(Arc::new).with_context(|| format!("cannot open key log {}", p.display())))
        .transpose()
}

fn run_server(a: ServerArgs) -> Result<()> {
    let suites = lab::parse_suite_list(&a.suites).map_err(anyhow::Error::msg)?;
    let id = lab::load_identity(&a.key, &a.cert).context("cannot load the server identity")?;
    let keylog = open_keylog(&a.keylog)?;
    let listener = TcpListener::bind(&a.listen).with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let config = Arc::new(ServerConfig { key: id.key, cert_chain: id.chain, suites: suites.clone(), keylog });
    println!("pfslab server listening on {addr}");
    eprintln!(
        "suites: {}; certificate: {}; key log: {}",
        suites.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        id.leaf.subject,
        a.keylog.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "off".into())
    );
    let options = ServerOptions { config, timeout: Duration::from_secs(a.timeout.max(1)), max_connections: a.max_connections.max(1), seed: a.seed };
    let report: Arc<dyn Fn(&server::ConnectionReport) + Send + Sync> = Arc::new(|r| eprintln!("{r}"));
    server::serve(listener, options, Arc::new(std::sync::atomic::AtomicBool::new(false)), report);
    Ok(())
}

fn run_client(a: ClientArgs) -> Result<()> {
    let suite = lab::parse_suite(&a.suite).map_err(anyhow::Error::msg)?;
    let addr = resolve(&a.connect)?;
    let host = a.connect.rsplit_once(':').map(|(h, _)| h.trim_matches(['[', ']'])).unwrap_or(&a.connect).to_string();
    let server_name = a.server_name.clone().unwrap_or(host);
    let verification = match &a.ca {
        Some(path) => {
            let chain = pki::load_certificates(path).context("cannot load --ca")?;
            ServerVerification::TrustAnchor(chain.into_iter().next().context("--ca holds no certificate")?)
        }
        None => ServerVerification::Insecure,
    };
    let config = Arc::new(ClientConfig { suites: vec![suite], server_name: server_name.clone(), verification, offer_ems: !a.no_ems, keylog: open_keylog(&a.keylog)? });
    let request = build_request(&a.request, &server_name);
    let rng = rng::for_purpose(a.seed, "client");
    let done = exchange(addr, config, rng, &request, Duration::from_secs(a.timeout.max(1))).with_context(|| format!("TLS session with {addr} failed"))?;
    let s = &done.summary;
    eprintln!(
        "connected to {addr}: TLS 1.2, {}, extended master secret {}",
        s.suite.map(|s| s.name).unwrap_or("?"),
        if s.extended_master_secret { "yes" } else { "no" }
    );
    eprintln!("client random {}", hex(&s.client_random));
    eprintln!("server random {}", hex(&s.server_random));
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(&done.response).and_then(|_| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    if !done.clean_close {
        eprintln!("note: the server closed the connection without close_notify");
    }
    Ok(())
}
