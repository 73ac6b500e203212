//! `pfslab mitm`: the man in the middle with a stolen server key. It prints one summary and the
//! plaintext of each intercepted connection, and at the end what the victim could have noticed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::codec::hex;
use pfslab::endpoint::client::{ClientConfig, ClientResumption, ServerVerification};
use pfslab::endpoint::conn::SessionSummary;
use pfslab::endpoint::server::{ServerConfig, ServerResumption};
use pfslab::lab::bank_client::resolve;
use pfslab::lab::identity::{self, IdentityError};
use pfslab::lab::mitm::view::VictimView;
use pfslab::lab::mitm::{check_listen, Intercepted, Mitm, MitmConfig};
use pfslab::pki;
use pfslab::suites::KeyExchange;

use crate::cli::{open_keylog, output};

#[derive(Args)]
pub struct MitmArgs {
    /// The stolen private key of the real server (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long)]
    key: PathBuf,
    /// The real server's certificate chain (public: any client is sent it), leaf first.
    #[arg(long)]
    cert: PathBuf,
    /// Address to accept victims on. Loopback only unless --allow-remote (port 0 picks one; the
    /// real one is printed).
    #[arg(long, default_value = "127.0.0.1:9443")]
    listen: String,
    /// The real server, host:port.
    #[arg(long, default_value = "127.0.0.1:8443")]
    upstream: String,
    /// Write the victim-side TLS bytes as a pcap (open it with the --keylog file).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Append the victim-side session secrets here as an NSS key log (tshark, Wireshark and
    /// `pfslab attack --keylog` open the --write recording with it).
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Check the real server's certificate against this one (default: the --cert file).
    #[arg(long, conflicts_with = "insecure_upstream")]
    upstream_ca: Option<PathBuf>,
    /// Do not check the real server's certificate.
    #[arg(long)]
    insecure_upstream: bool,
    /// The name to ask the real server for and check in its certificate (default: the host in
    /// --upstream).
    #[arg(long)]
    upstream_name: Option<String>,
    /// Suites offered to victims and to the real server (names as in `pfslab server --suites`).
    #[arg(long, default_value = "ecdhe,rsa,dhe,tls13")]
    suites: String,
    /// Listen on an address that is not loopback (the mitm then intercepts other machines'
    /// traffic: only on a network you are allowed to attack).
    #[arg(long)]
    allow_remote: bool,
    /// Stop after this many victim connections have come and gone (default: until Ctrl-C).
    #[arg(long)]
    connections: Option<u64>,
    /// Print at most this many bytes of plaintext per direction and connection.
    #[arg(long, default_value_t = 4096)]
    show_bytes: usize,
    /// Seconds allowed for each handshake, and for silence on a relayed connection.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
}

pub fn run(a: MitmArgs) -> Result<()> {
    let listen = resolve(&a.listen)?;
    check_listen(listen, a.allow_remote)?;
    let upstream = resolve(&a.upstream)?;
    let id = identity::load_identity(&a.key, &a.cert).map_err(|e| match e {
        IdentityError::Mismatch { .. } => anyhow::anyhow!(
            "{e}: the key does not match the certificate, so no victim would finish a handshake \
             with it (steal the key of the server that certificate names)"
        ),
        other => anyhow::Error::new(other).context("cannot load the stolen key and certificate"),
    })?;
    let suites = identity::parse_suite_list(&a.suites).map_err(anyhow::Error::msg)?;
    let verification = match (&a.upstream_ca, a.insecure_upstream) {
        (_, true) => ServerVerification::Insecure,
        (Some(path), false) => ServerVerification::TrustAnchor(
            pki::load_certificates(path)
                .context("cannot load --upstream-ca")?
                .into_iter()
                .next()
                .context("--upstream-ca holds no certificate")?,
        ),
        (None, false) => ServerVerification::TrustAnchor(
            id.chain
                .first()
                .cloned()
                .context("--cert holds no certificate")?,
        ),
    };
    let upstream_name = a.upstream_name.clone().unwrap_or_else(|| {
        a.upstream
            .rsplit_once(':')
            .map(|(h, _)| h.trim_matches(['[', ']']).to_string())
            .unwrap_or_else(|| a.upstream.clone())
    });
    let presented = id.chain.clone();
    let config = MitmConfig {
        server: Arc::new(ServerConfig {
            key: id.key,
            cert_chain: id.chain,
            suites: suites.clone(),
            keylog: open_keylog(&a.keylog)?,
            dh_group: pfslab::crypto::ffdh::DhGroup::ffdhe2048(),
            ephemerals: Default::default(),
            padding_oracle: Default::default(),
            resumption: ServerResumption::default(),
            fast_key: Default::default(),
        }),
        upstream,
        upstream_client: Arc::new(ClientConfig {
            suites,
            server_name: upstream_name,
            verification,
            offer_ems: true,
            offer_etm: true,
            keylog: None,
            dh_min_bits: 2048,
            resumption: ClientResumption::default(),
            tls13_group: Default::default(),
            ephemeral_log: None,
        }),
        capture: a.write.clone(),
        timeout: Duration::from_secs(a.timeout.max(1)),
        stop_grace: Duration::from_secs(2),
    };
    let listener =
        TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let seen: Arc<Mutex<Vec<Intercepted>>> = Arc::new(Mutex::new(Vec::new()));
    let (seen2, show) = (Arc::clone(&seen), a.show_bytes);
    let report = Arc::new(move |c: Intercepted| {
        // Printing is best effort from a connection thread; a closed stdout stops nothing.
        let _ = output::print(describe(&c, show));
        seen2.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    });
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")?;
    let mitm = Mitm::start(listener, config, report).context("cannot start the mitm")?;
    output::print(format!(
        "pfslab mitm listening on {addr}, posing as {} with the stolen key, relaying to {upstream}\n",
        subject_of(&presented)
    ))?;
    while !stop.load(Ordering::SeqCst) {
        match a.connections {
            Some(n) if mitm.wait_idle(n, Duration::from_millis(100)) => break,
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let summary = mitm.stop().context("cannot finish the recording")?;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    let refs: Vec<&Intercepted> = seen.iter().collect();
    let view = VictimView::new(&presented, !a.insecure_upstream, &refs);
    output::print(victim_view(&view))?;
    if let Some((path, packets)) = &summary.capture {
        eprintln!(
            "wrote {}: {} connections, {packets} packets (victim side{})",
            path.display(),
            summary.connections,
            match &a.keylog {
                Some(k) => format!("; key log {}", k.display()),
                None => String::new(),
            }
        );
    }
    if view.victims() == 0 && summary.connections > 0 {
        bail!("no victim handshake completed");
    }
    Ok(())
}

fn subject_of(chain: &[Vec<u8>]) -> String {
    chain
        .first()
        .and_then(|c| pki::parse_certificate(c).ok())
        .map(|c| c.subject)
        .unwrap_or_else(|| "?".into())
}

fn session_words(s: &SessionSummary) -> String {
    match s.suite {
        Some(suite) if suite.key_exchange == KeyExchange::Tls13 => {
            format!("TLS 1.3 {}", suite.name)
        }
        Some(suite) => format!("TLS 1.2 {}", suite.name),
        None => "no session".into(),
    }
}

/// The connection's summary line and its plaintext, both directions.
fn describe(c: &Intercepted, show: usize) -> String {
    let mut out = format!("[mitm {}] {}: ", c.number, c.victim);
    match &c.victim_session {
        Some(v) => out += &format!("victim finished {} with the stolen key", session_words(v)),
        None => out += "victim handshake failed",
    }
    if let Some(u) = &c.upstream_session {
        out += &format!("; real server: {}", session_words(u));
    }
    out += &format!(
        "; victim sent {} bytes, real server answered {} bytes",
        c.to_server.len(),
        c.to_victim.len()
    );
    match &c.outcome {
        Ok(()) => out += "\n",
        Err(e) => out += &format!("; ended: {e}\n"),
    }
    for (what, bytes) in [
        ("victim -> real server", &c.to_server),
        ("real server -> victim", &c.to_victim),
    ] {
        if bytes.is_empty() {
            continue;
        }
        out += &format!("--- {what}, {} bytes of plaintext", bytes.len());
        if bytes.len() > show {
            out += &format!(" (first {show} shown)");
        }
        out += "\n";
        out += &printable(bytes.get(..show).unwrap_or(bytes));
        if !out.ends_with('\n') {
            out += "\n";
        }
    }
    out
}

/// Text as it is (UTF-8 included); `\r` before `\n` dropped, other control characters escaped
/// (`\u{1b}`), bytes that are not UTF-8 as `\xNN`.
fn printable(bytes: &[u8]) -> String {
    let mut s = String::new();
    for chunk in bytes.utf8_chunks() {
        let mut chars = chunk.valid().chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\t' => s.push(c),
                c if c.is_control() => s.extend(c.escape_default()),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s += &format!("\\x{b:02x}");
        }
    }
    s
}

/// The closing view: what the victim could have noticed, from what this run checked.
fn victim_view(v: &VictimView) -> String {
    let mut out = String::from("\nWhat the victim could have noticed\n");
    out += &format!(
        "  victims: {} handshake(s) completed with the stolen key (TLS 1.3: {}, ECDHE: {}, DHE: {}, RSA key transport: {}); {} failed\n",
        v.victims(),
        v.victims_tls13,
        v.victims_ecdhe,
        v.victims_dhe,
        v.victims_rsa,
        v.victims_failed
    );
    out += &format!(
        "  certificate presented: SHA-256 {}\n",
        hex(&v.presented_sha256)
    );
    match (v.chain_identical, v.real_sha256) {
        (Some(true), Some(real)) => {
            out += &format!(
                "  certificate the real server sent: SHA-256 {}: byte-identical (the whole chain)\n",
                hex(&real)
            );
            out += "  in the certificate: nothing betrays the man in the middle: same bytes, so the same subject, issuer, serial, validity and public key\n";
        }
        (Some(false), Some(real)) => {
            out += &format!(
                "  certificate the real server sent: SHA-256 {}: DIFFERENT from the one presented\n",
                hex(&real)
            )
        }
        _ => out += "  certificate the real server sent: not seen (no handshake with the real server completed)\n",
    }
    out += if v.upstream_verified {
        "  the mitm checked the real server's certificate like any client; a victim that checks ours finds the same certificate, and our handshake signature (or RSA decryption) proves we hold the key that goes with it\n"
    } else {
        "  the mitm did not verify the real server's certificate (--insecure-upstream)\n"
    };
    out += "  what would have helped: revoking the certificate once the theft is known (clients that check revocation then refuse it) and rotating the key (a new certificate: the stolen key matches nothing trusted); pinning only if the pin is not this key; Certificate Transparency monitoring shows new certificates for the name, and none was needed here\n";
    out += &format!(
        "  the past: sessions recorded before the theft with ECDHE, DHE or TLS 1.3 stay closed to this key (forward secrecy; `pfslab attack --key` says why); RSA key-transport sessions open with it. Forward secrecy protects the past, not the future: the {} forward-secret session(s) here were read because the mitm was in the middle\n",
        v.forward_secret()
    );
    out
}
