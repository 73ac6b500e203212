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

mod cli;

use pfslab::codec::hex;
use pfslab::crypto::rng;
use pfslab::endpoint::client::{ClientConfig, ServerVerification};
use pfslab::endpoint::server::ServerConfig;
use pfslab::keylog::KeyLogWriter;
use pfslab::lab::bank_client::{build_request, exchange, resolve};
use pfslab::lab::bank_server::{self, ServerOptions};
use pfslab::lab::identity;
use pfslab::pki;

#[derive(Parser)]
#[command(
    name = "pfslab",
    version,
    about = "A forward-secrecy attack lab: real TLS 1.2, real captures, a real attacker.",
    long_about = "A forward-secrecy attack lab.\n\nThe lab's TLS 1.2 server and client talk RSA key transport \
(TLS_RSA_WITH_AES_128_GCM_SHA256) or ephemeral ECDHE (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). \
Record their traffic, steal the server's RSA key, and see which sessions fall.\n\n\
Exit codes: 0 success, 1 the command failed, 2 bad usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate the server's RSA key (PKCS#8 PEM, mode 0600) and a self-signed certificate.
    Keygen(KeygenArgs),
    /// Run the lab's TLS server (a tiny HTTP/1.0 bank; TLS 1.3 or 1.2 as the client offers) until interrupted.
    Server(ServerArgs),
    /// Connect to a TLS server with one suite (TLS 1.2) or TLS 1.3, send one request, print the response.
    Client(ClientArgs),
    /// Relay TCP connections to an upstream server and record every byte into a pcap file.
    Tap(TapArgs),
    /// Run the lab server, the tap and a class's clients: write a capture and its answer key.
    Record(RecordArgs),
    /// Show what an eavesdropper sees in captures without any key, one row per TLS session.
    Inspect(InspectArgs),
    /// Decrypt what a stolen server key (or a leaked key log) opens; explain what it cannot.
    Attack(AttackArgs),
    /// Walk through one session byte by byte: what crossed the wire, and every secret derived.
    Explain(ExplainArgs),
}

#[derive(Args)]
struct ExplainArgs {
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
}

#[derive(Args)]
struct TapArgs {
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

#[derive(Args)]
struct RecordArgs {
    /// The capture to write; its answer key goes beside it as NAME.truth.json.
    #[arg(long, default_value = "captures/lab.pcap")]
    out: PathBuf,
    /// Sessions per suite, interleaved: e.g. rsa=3,ecdhe=3.
    #[arg(long, default_value = "rsa=3,ecdhe=3")]
    sessions: String,
    /// Make the capture byte-for-byte reproducible (randoms, keys, addresses, timestamps).
    #[arg(long)]
    seed: Option<u64>,
    /// Make the server leave an SSLKEYLOGFILE here (a fresh file).
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Directory with server.key and server.crt (generated if missing).
    #[arg(long, default_value = identity::DEFAULT_KEY_DIR)]
    keys: PathBuf,
    /// Clients do not offer the extended master secret.
    #[arg(long)]
    no_ems: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// pcap or pcapng files.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
}

#[derive(Args)]
struct AttackArgs {
    /// The stolen server private key (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A leaked NSS key log (SSLKEYLOGFILE): CLIENT_RANDOM, RSA and TLS 1.3 secret lines.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Write a CLIENT_RANDOM line for every session recovered, for Wireshark.
    #[arg(long)]
    keylog_out: Option<PathBuf>,
    /// Print {"sessions": [...]} instead of the table and conversations.
    #[arg(long)]
    json: bool,
    /// Print only the table, not the recovered conversations.
    #[arg(long)]
    table_only: bool,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar, even on a terminal.
    #[arg(long)]
    quiet: bool,
    /// pcap or pcapng files.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
}

#[derive(Args)]
struct KeygenArgs {
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
    /// Suites to accept, in preference order: rsa, ecdhe, rsa256, ecdhe256 (TLS 1.2) and tls13
    /// (both TLS 1.3 suites). TLS 1.3 is chosen when the client offers it.
    #[arg(long, default_value = "rsa,ecdhe,tls13")]
    suites: String,
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

#[derive(Args)]
struct ClientArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:8443")]
    connect: String,
    /// What to offer: rsa, ecdhe, rsa256, ecdhe256 (one TLS 1.2 suite), tls13 (both TLS 1.3
    /// suites), tls13-aes128, tls13-aes256; or a comma-separated list.
    #[arg(long, required_unless_present = "tls_version")]
    suite: Option<String>,
    /// The protocol version: 1.2 or 1.3 (with no --suite: ecdhe for 1.2, tls13 for 1.3).
    #[arg(long, value_parser = ["1.2", "1.3"])]
    tls_version: Option<String>,
    /// Trust this certificate: the server's must be it or be signed by it, and name the host.
    #[arg(
        long,
        conflicts_with = "insecure",
        required_unless_present = "insecure"
    )]
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
    /// Append NSS key log lines here (CLIENT_RANDOM for TLS 1.2; the TLS 1.3 secret lines).
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
        Command::Tap(a) => run_tap(a),
        Command::Record(a) => run_record(a),
        Command::Inspect(a) => run_inspect(a),
        Command::Attack(a) => run_attack(a),
        Command::Explain(a) => run_explain(a),
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
    let (key, cert, info) =
        identity::keygen(&a.out_dir, a.bits, a.seed, a.force).context("keygen failed")?;
    println!("wrote {} (private key, mode 0600)", key.display());
    println!(
        "wrote {} (self-signed certificate, {} bits)",
        cert.display(),
        a.bits
    );
    println!("  subject      {}", info.subject);
    println!(
        "  names        {}",
        info.dns_names
            .iter()
            .cloned()
            .chain(info.ip_addrs.iter().map(|i| i.to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  valid        {} .. {}", info.not_before, info.not_after);
    println!("  sha256       {}", hex(&info.sha256_fingerprint));
    Ok(())
}

fn open_keylog(path: &Option<PathBuf>) -> Result<Option<Arc<KeyLogWriter>>> {
    path.as_ref()
        .map(|p| {
            KeyLogWriter::open(p)
                .map(Arc::new)
                .with_context(|| format!("cannot open key log {}", p.display()))
        })
        .transpose()
}

fn run_server(a: ServerArgs) -> Result<()> {
    let suites = identity::parse_suite_list(&a.suites).map_err(anyhow::Error::msg)?;
    let id = identity::load_identity(&a.key, &a.cert).context("cannot load the server identity")?;
    let keylog = open_keylog(&a.keylog)?;
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let config = Arc::new(ServerConfig {
        key: id.key,
        cert_chain: id.chain,
        suites: suites.clone(),
        keylog,
    });
    println!("pfslab server listening on {addr}");
    eprintln!(
        "suites: {}; certificate: {}; key log: {}",
        suites.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
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
    let report: Arc<dyn Fn(&bank_server::ConnectionReport) + Send + Sync> =
        Arc::new(|r| eprintln!("{r}"));
    bank_server::serve(
        listener,
        options,
        Arc::new(std::sync::atomic::AtomicBool::new(false)),
        report,
    );
    Ok(())
}

fn run_client(a: ClientArgs) -> Result<()> {
    let default_suite = match a.tls_version.as_deref() {
        Some("1.3") => "tls13",
        _ => "ecdhe",
    };
    let mut suites = identity::parse_suite_list(a.suite.as_deref().unwrap_or(default_suite))
        .map_err(anyhow::Error::msg)?;
    if let Some(v) = &a.tls_version {
        let want13 = v == "1.3";
        suites.retain(|s| (s.key_exchange == pfslab::suites::KeyExchange::Tls13) == want13);
        if suites.is_empty() {
            bail!(
                "--suite {} has no suite for TLS {v}",
                a.suite.as_deref().unwrap_or_default()
            );
        }
    }
    let addr = resolve(&a.connect)?;
    let host = a
        .connect
        .rsplit_once(':')
        .map(|(h, _)| h.trim_matches(['[', ']']))
        .unwrap_or(&a.connect)
        .to_string();
    let server_name = a.server_name.clone().unwrap_or(host);
    let verification = match &a.ca {
        Some(path) => {
            let chain = pki::load_certificates(path).context("cannot load --ca")?;
            ServerVerification::TrustAnchor(
                chain
                    .into_iter()
                    .next()
                    .context("--ca holds no certificate")?,
            )
        }
        None => ServerVerification::Insecure,
    };
    let config = Arc::new(ClientConfig {
        suites,
        server_name: server_name.clone(),
        verification,
        offer_ems: !a.no_ems,
        keylog: open_keylog(&a.keylog)?,
    });
    let request = build_request(&a.request, &server_name);
    let rng = rng::for_purpose(a.seed, "client");
    let done = exchange(
        addr,
        config,
        rng,
        &request,
        Duration::from_secs(a.timeout.max(1)),
    )
    .with_context(|| format!("TLS session with {addr} failed"))?;
    let s = &done.summary;
    match s.suite {
        Some(suite) if suite.key_exchange == pfslab::suites::KeyExchange::Tls13 => {
            eprintln!(
                "connected to {addr}: TLS 1.3, {}, key share secp256r1",
                suite.name
            )
        }
        _ => eprintln!(
            "connected to {addr}: TLS 1.2, {}, extended master secret {}",
            s.suite.map(|s| s.name).unwrap_or("?"),
            if s.extended_master_secret {
                "yes"
            } else {
                "no"
            }
        ),
    }
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

fn run_tap(a: TapArgs) -> Result<()> {
    let upstream = resolve(&a.upstream)?;
    let listener =
        TcpListener::bind(&a.listen).with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    let mut cfg = pfslab::lab::TapConfig::new(addr, upstream, &a.write);
    cfg.stop_grace = Duration::from_secs(2);
    let tap = pfslab::lab::Tap::with_listener(listener, cfg)
        .with_context(|| format!("cannot record to {}", a.write.display()))?;
    println!(
        "pfslab tap listening on {addr}, relaying to {upstream}, recording to {}",
        a.write.display()
    );
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    loop {
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
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

fn run_record(a: RecordArgs) -> Result<()> {
    let sessions =
        pfslab::lab::recording::parse_sessions(&a.sessions).map_err(anyhow::Error::msg)?;
    let total: usize = sessions.iter().map(|(_, n)| n).sum();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress: Option<Box<dyn Fn(usize, usize)>> = if interactive && total > 1 {
        Some(Box::new(|done, total| {
            eprint!("\rrecording session {done}/{total}");
            if done == total {
                eprintln!();
            }
        }))
    } else {
        None
    };
    let summary = pfslab::lab::recording::record(pfslab::lab::recording::RecordOptions {
        out: a.out.clone(),
        sessions,
        seed: a.seed,
        keylog: a.keylog.clone(),
        key_dir: a.keys.clone(),
        ems: !a.no_ems,
        progress,
    })
    .context("recording failed")?;
    if summary.generated_keys {
        println!(
            "generated {} and {}",
            identity::key_path(&a.keys).display(),
            identity::cert_path(&a.keys).display()
        );
    }
    println!(
        "wrote {} ({} TLS sessions; the server appears as {})",
        summary.capture.display(),
        summary.sessions.len(),
        summary.capture_server
    );
    println!(
        "wrote {} (the instructor's answer key; the attacker never reads it)",
        summary.truth.display()
    );
    if let Some(k) = &a.keylog {
        println!("wrote {} (the server's SSLKEYLOGFILE)", k.display());
    }
    for s in &summary.sessions {
        println!(
            "  session {}: {:<6} {:<40} user {:<8} password {}",
            s.stream,
            s.suite.key_exchange.short(),
            s.suite.name,
            s.user,
            s.password
        );
    }
    Ok(())
}

fn run_inspect(a: InspectArgs) -> Result<()> {
    // Rows are held in a spool (memory, then a temporary file) until every capture is read, so
    // memory does not grow with the capture.
    let show_capture = a.captures.len() > 1;
    let mut table = cli::spool::Spool::new(cli::spool::Spool::DEFAULT_LIMIT);
    let mut spool_error = None;
    for path in &a.captures {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let summary = pfslab::attack::pipeline::for_each_tls_connection(path, |conn| {
            let row = pfslab::report::inspect_table_row(&name, &conn, show_capture);
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
    let mut out = std::io::stdout().lock();
    let written = std::io::Write::write_all(
        &mut out,
        pfslab::report::inspect_table_header(show_capture).as_bytes(),
    )
    .and_then(|_| table.copy_to(&mut out))
    .and_then(|_| std::io::Write::flush(&mut out));
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn print_or_broken_pipe(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn run_attack(a: AttackArgs) -> Result<()> {
    use std::io::Write;
    if a.key.is_none() && a.keylog.is_none() {
        bail!("nothing to attack with: give --key (the stolen server key) and/or --keylog (a leaked key log)");
    }
    let key = a
        .key
        .as_ref()
        .map(|p| pki::load_private_key(p).context("cannot load the stolen key"))
        .transpose()?;
    let keylog = match &a.keylog {
        Some(p) => {
            let log = pfslab::keylog::KeyLog::load(p)
                .with_context(|| format!("cannot read key log {}", p.display()))?;
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
    for path in &a.captures {
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    }
    let keylog_out = a
        .keylog_out
        .as_ref()
        .map(|out| {
            pfslab::keylog::KeyLogWriter::open(out)
                .with_context(|| format!("cannot write {}", out.display()))
        })
        .transpose()?;
    let loot = pfslab::attack::Loot::new(key, keylog);
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });

    let progress = pfslab::attack::driver::Progress::default();
    let finished = std::sync::atomic::AtomicBool::new(false);
    let show = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !a.quiet;
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    // The table and conversations are printed once every session is in; held in spools (memory,
    // then a temporary file) so memory does not grow with the capture.
    let show_capture = a.captures.len() > 1;
    let mut table = cli::spool::Spool::new(cli::spool::Spool::DEFAULT_LIMIT);
    let mut conversations = cli::spool::Spool::new(cli::spool::Spool::DEFAULT_LIMIT);
    let mut counts = [0usize; 3];
    let mut first = true;
    // Kept apart: a broken pipe on stdout is a reader that has seen enough; on the key log, or
    // in the spools, it is a failure.
    let mut write_error: Option<std::io::Error> = None;
    let mut keylog_error: Option<std::io::Error> = None;
    let mut spool_error: Option<std::io::Error> = None;
    if a.json {
        let _ = stdout.write_all(b"{\"sessions\": [");
    }
    let outcomes = std::thread::scope(|scope| {
        if show {
            scope.spawn(|| pfslab::attack::driver::show_progress(&progress, &finished));
        }
        let outcomes =
            pfslab::attack::driver::run(&a.captures, &loot, threads, &progress, |report| {
                counts[match report.verdict {
                    pfslab::attack::Verdict::Decrypted => 0,
                    pfslab::attack::Verdict::ForwardSecret => 1,
                    pfslab::attack::Verdict::NotDecrypted => 2,
                }] += 1;
                if let (Some(w), Some(cr), Some(ms)) =
                    (&keylog_out, &report.client_random, &report.master_secret)
                {
                    if let Err(e) = w.log("CLIENT_RANDOM", cr, ms) {
                        keylog_error.get_or_insert(e);
                    }
                }
                if a.json {
                    let text = serde_json::to_string_pretty(&pfslab::report::session_json(&report))
                        .unwrap_or_default();
                    let sep = if first { "\n" } else { ",\n" };
                    first = false;
                    if let Err(e) = stdout
                        .write_all(sep.as_bytes())
                        .and_then(|_| stdout.write_all(text.as_bytes()))
                    {
                        write_error.get_or_insert(e);
                    }
                } else {
                    let row = pfslab::report::attack_table_row(&report, show_capture);
                    let mut spooled = table.append(row.as_bytes());
                    if !a.table_only {
                        spooled = spooled.and_then(|_| {
                            conversations.append(pfslab::report::conversation(&report).as_bytes())
                        });
                    }
                    if let Err(e) = spooled {
                        spool_error.get_or_insert(e);
                    }
                }
            });
        finished.store(true, std::sync::atomic::Ordering::Relaxed);
        outcomes
    });
    let mut failure = None;
    for o in &outcomes {
        match &o.result {
            Ok(summary) => {
                if let Some(t) = &summary.truncated {
                    eprintln!("warning: {t}; the sessions before it were analysed");
                }
                if summary.tls_sessions == 0 {
                    eprintln!(
                        "warning: {}: no TLS sessions found ({} TCP connections, {} packets)",
                        o.path.display(),
                        summary.tcp_connections,
                        summary.packets
                    );
                }
            }
            Err(e) => {
                if let Some(earlier) = failure.replace(e.to_string()) {
                    eprintln!("pfslab: error: {earlier}");
                }
            }
        }
    }
    if a.json {
        let _ = stdout.write_all(if first { b"]}\n" as &[u8] } else { b"\n]}\n" });
    } else if spool_error.is_none() {
        let summary = format!(
            "\n{} sessions: {} decrypted, {} forward-secret, {} not decrypted\n\n",
            counts.iter().sum::<usize>(),
            counts[0],
            counts[1],
            counts[2]
        );
        let written = stdout
            .write_all(pfslab::report::attack_table_header(show_capture).as_bytes())
            .and_then(|_| table.copy_to(&mut stdout))
            .and_then(|_| stdout.write_all(summary.as_bytes()))
            .and_then(|_| conversations.copy_to(&mut stdout));
        if let Err(e) = written {
            write_error.get_or_insert(e);
        }
    }
    let mut errors: Vec<String> = Vec::new();
    match stdout.flush().err().or(write_error) {
        Some(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Some(e) => errors.push(format!("cannot write the report: {e}")),
        None => {}
    }
    if let Some(e) = spool_error {
        errors.push(format!(
            "cannot hold the report in a temporary file (in {}): {e}; nothing was printed",
            std::env::temp_dir().display()
        ));
    }
    if let (Some(e), Some(path)) = (keylog_error, &a.keylog_out) {
        errors.push(format!("cannot write {}: {e}", path.display()));
    }
    errors.extend(failure);
    if let Some((last, earlier)) = errors.split_last() {
        for e in earlier {
            eprintln!("pfslab: error: {e}");
        }
        bail!("{last}");
    }
    Ok(())
}

fn run_explain(a: ExplainArgs) -> Result<()> {
    let key = a
        .key
        .as_ref()
        .map(|p| pki::load_private_key(p).context("cannot load --key"))
        .transpose()?;
    let keylog = a
        .keylog
        .as_ref()
        .map(|p| {
            pfslab::keylog::KeyLog::load(p)
                .with_context(|| format!("cannot read key log {}", p.display()))
        })
        .transpose()?;
    let loot = pfslab::attack::Loot::new(key, keylog);
    let name = a
        .capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut found = None;
    let mut streams = Vec::new();
    pfslab::attack::pipeline::for_each_tls_connection(&a.capture, |conn| {
        streams.push(conn.stream);
        if conn.stream == a.session {
            found = Some(conn);
        }
    })
    .with_context(|| format!("cannot read {}", a.capture.display()))?;
    let Some(conn) = found else {
        bail!(
            "{} has no TLS session {} (TLS sessions: {})",
            a.capture.display(),
            a.session,
            if streams.is_empty() {
                "none".to_string()
            } else {
                pfslab::report::number_ranges(&streams)
            }
        );
    };
    let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    print_or_broken_pipe(&pfslab::explain::explain(
        &conn,
        &name,
        &loot,
        pfslab::explain::Style { color },
    ))
}
