//! `pfslab client`: one TLS session, one request, the response on stdout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::codec::hex;
use pfslab::crypto::kx::KxGroup;
use pfslab::crypto::rng;
use pfslab::endpoint::client::{ClientConfig, ClientResumption, ServerVerification};
use pfslab::endpoint::conn::ResumedBy;
use pfslab::endpoint::session::{ClientSession, Clock};
use pfslab::lab::bank_client::{build_request, exchange, resolve};
use pfslab::lab::identity;
use pfslab::msgs::enums::PskKeyExchangeMode;
use pfslab::pki;
use pfslab::suites::{KeyExchange, Suite};

use crate::cli::{open_keylog, output};

#[derive(Args)]
pub struct ClientArgs {
    /// Server address, host:port.
    #[arg(long, default_value = "127.0.0.1:8443")]
    connect: String,
    /// What to offer: rsa, ecdhe, dhe, rsa256, ecdhe256 (one TLS 1.2 AES-GCM suite), rsa-cbc,
    /// ecdhe-cbc, dhe-cbc (AES-128-CBC-SHA), rsa-cbc256 (AES-128-CBC-SHA256), rsa256-cbc
    /// (AES-256-CBC-SHA256), tls13 (both TLS 1.3 suites), tls13-aes128, tls13-aes256, an IANA
    /// name; or a comma-separated list.
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
    /// The smallest DHE prime accepted from the server, in bits (RFC 7919 §3; OpenSSL 3.0's
    /// default security level also asks for 2048).
    #[arg(long, default_value_t = 2048)]
    dh_min_bits: usize,
    /// Do not offer the extended master secret (RFC 7627).
    #[arg(long)]
    no_ems: bool,
    /// Do not offer encrypt-then-MAC (RFC 7366) with CBC suites: records are MACed, then
    /// encrypted (RFC 5246 §6.2.3.2).
    #[arg(long)]
    no_etm: bool,
    /// Append NSS key log lines here (CLIENT_RANDOM for TLS 1.2; the TLS 1.3 secret lines).
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// Resume the session saved in this file (TLS 1.2 by ticket or session ID, TLS 1.3 by PSK),
    /// like `openssl s_client -sess_in`.
    #[arg(long)]
    session_in: Option<PathBuf>,
    /// Save the session the server lets us resume (the ticket, or the session ID, and the
    /// master secret or PSK: a secret, written 0600), like `openssl s_client -sess_out`.
    /// Asks a TLS 1.2 server for a ticket.
    #[arg(long)]
    session_out: Option<PathBuf>,
    /// Do not ask a TLS 1.2 server for a ticket (resume by session ID only).
    #[arg(long)]
    no_ticket: bool,
    /// TLS 1.3 PSK modes to offer when resuming (RFC 8446 §4.2.9): dhe (psk_dhe_ke: fresh ECDHE
    /// mixed in, forward-secret), ke (psk_ke: the PSK alone, not forward-secret), or both.
    #[arg(long, value_parser = ["dhe", "ke", "both"], default_value = "dhe")]
    psk_modes: String,
    /// Seconds to wait for each step.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// TLS 1.3: the group of the key share sent first — x25519mlkem768 (the hybrid
    /// post-quantum group, 1216 bytes), x25519 or p256. With x25519mlkem768 or x25519 the hello
    /// lists all three in supported_groups, so a server may ask for another with a
    /// HelloRetryRequest. The default stays p256 (listing P-256 alone) so the ClientHello, and
    /// with it every recording and lesson made before, comes out byte for byte as it did.
    #[arg(long, value_name = "GROUP", default_value = "p256", value_parser = parse_group)]
    group: KxGroup,
    /// Derive all client randomness from this number.
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(a: ClientArgs) -> Result<()> {
    let suites = offered_suites(&a)?;
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
    let session = match &a.session_in {
        Some(path) => Some(
            ClientSession::read_file(path)
                .with_context(|| format!("cannot read the session file {}", path.display()))?,
        ),
        None => None,
    };
    // --no-ticket: a saved TLS 1.2 session is offered by its session ID only.
    let session = session.map(|s| match s {
        ClientSession::Tls12(mut s12) if a.no_ticket => {
            s12.ticket = None;
            ClientSession::Tls12(s12)
        }
        other => other,
    });
    let config = Arc::new(ClientConfig {
        suites,
        server_name: server_name.clone(),
        verification,
        offer_ems: !a.no_ems,
        offer_etm: !a.no_etm,
        keylog: open_keylog(&a.keylog)?,
        dh_min_bits: a.dh_min_bits,
        resumption: ClientResumption {
            session,
            request_tickets: a.session_out.is_some() && !a.no_ticket,
            psk_modes: match a.psk_modes.as_str() {
                "ke" => vec![PskKeyExchangeMode::PskKe],
                "both" => vec![PskKeyExchangeMode::PskKe, PskKeyExchangeMode::PskDheKe],
                _ => vec![PskKeyExchangeMode::PskDheKe],
            },
            clock: Clock::System,
        },
        tls13_group: a.group,
        ephemeral_log: None,
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
        Some(suite) if suite.key_exchange == KeyExchange::Tls13 => {
            eprintln!(
                "connected to {addr}: TLS 1.3, {}, {}",
                suite.name,
                match s.key_share_group {
                    _ if s.resumed == Some(ResumedBy::Psk(PskKeyExchangeMode::PskKe)) => {
                        "no key share (psk_ke)".to_string()
                    }
                    Some(g) => format!("key share {}", g.name()),
                    None => "no key share".to_string(),
                }
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
    if s.suite.is_some_and(|x| x.cipher.is_cbc()) {
        eprintln!(
            "CBC records: {}",
            if s.encrypt_then_mac {
                "encrypt-then-MAC (RFC 7366)"
            } else {
                "MAC-then-encrypt (RFC 5246)"
            }
        );
    }
    match s.resumed {
        Some(ResumedBy::SessionId) => {
            eprintln!("resumed the saved session by session ID (RFC 5246 §7.3)")
        }
        Some(ResumedBy::Ticket) => eprintln!("resumed the saved session by ticket (RFC 5077)"),
        Some(ResumedBy::Psk(mode)) => {
            eprintln!("resumed the saved session with its PSK, mode {mode} (RFC 8446 §4.2.9)")
        }
        None if a.session_in.is_some() => {
            eprintln!("the server did not resume the saved session: full handshake")
        }
        None => {}
    }
    eprintln!("client random {}", hex(&s.client_random));
    eprintln!("server random {}", hex(&s.server_random));
    if let Some(path) = &a.session_out {
        match &done.resumable {
            Some(session) => {
                session
                    .write_file(path)
                    .with_context(|| format!("cannot write the session file {}", path.display()))?;
                eprintln!("session saved to {} (secret: mode 0600)", path.display());
            }
            None => eprintln!(
                "note: the server gave nothing to resume (no session ID, no ticket); {} not written",
                path.display()
            ),
        }
    }
    output::print(&done.response)?;
    if !done.clean_close {
        eprintln!("note: the server closed the connection without close_notify");
    }
    Ok(())
}

/// The suites `--suite` names, kept to the `--tls-version` asked for.
fn offered_suites(a: &ClientArgs) -> Result<Vec<Suite>> {
    let default_suite = match a.tls_version.as_deref() {
        Some("1.3") => "tls13",
        _ => "ecdhe",
    };
    let mut suites = identity::parse_suite_list(a.suite.as_deref().unwrap_or(default_suite))
        .map_err(anyhow::Error::msg)?;
    if let Some(v) = &a.tls_version {
        let want13 = v == "1.3";
        suites.retain(|s| (s.key_exchange == KeyExchange::Tls13) == want13);
        if suites.is_empty() {
            bail!(
                "--suite {} has no suite for TLS {v}",
                a.suite.as_deref().unwrap_or_default()
            );
        }
    }
    Ok(suites)
}

/// `--group`: x25519mlkem768, x25519 or p256 (the IANA names work too).
pub(crate) fn parse_group(text: &str) -> Result<KxGroup, String> {
    KxGroup::parse(text)
        .ok_or_else(|| format!("{text:?}: the groups are x25519mlkem768, x25519 and p256"))
}
