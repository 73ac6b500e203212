//! `pfslab server`: the lab's TLS server (a tiny HTTP/1.0 bank) until interrupted.

use std::net::{TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use pfslab::crypto::ffdh::DhGroup;
use pfslab::crypto::kx::KxGroup;
use pfslab::endpoint::server::{
    Ephemerals, KeyLifetime, PaddingOracle, ServerConfig, ServerResumption, SessionCache,
};
use pfslab::endpoint::session::Clock;
use pfslab::lab::bank_server::{self, ConnectionReport, ServerOptions};
use pfslab::lab::identity;
use pfslab::tickets::{self, TicketKeys};

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
    /// Issue session tickets (TLS 1.2 NewSessionTicket, RFC 5077; TLS 1.3 resumption tickets,
    /// RFC 8446 §4.6.1), sealed with the key in --ticket-key.
    #[arg(long)]
    tickets: bool,
    /// The session-ticket encryption key (STEK): 80 bytes (16 name, 32 HMAC-SHA256, 32
    /// AES-256-CBC), the layout of nginx's ssl_session_ticket_key; created (mode 0600) if
    /// missing. Implies --tickets. [default with --tickets: keys/ticket.key]
    #[arg(long)]
    ticket_key: Option<PathBuf>,
    /// Older ticket keys still accepted for resumption but never used to seal (key rotation).
    #[arg(long)]
    old_ticket_key: Vec<PathBuf>,
    /// Seconds a ticket is good for (the lifetime hint the server sends).
    #[arg(long, default_value_t = 7200)]
    ticket_lifetime: u32,
    /// Remember TLS 1.2 sessions by session ID so clients can resume them (RFC 5246 §7.3), as
    /// OpenSSL and nginx servers do by default. Off by default here: the cache keeps each
    /// session's master secret in the server's memory (lesson 11 shows what that gives away).
    #[arg(long)]
    session_cache: bool,
    /// TLS 1.3: resume with psk_ke (the PSK alone: not forward-secret) when the client offers
    /// it, even if it also offers psk_dhe_ke. A deliberately weak setting for the lessons.
    #[arg(long)]
    prefer_psk_ke: bool,
    /// Seconds a client may take for the handshake and for each later step.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Connections served at once; more are closed on arrival.
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Keep one ephemeral (EC)DH private key and reuse it for this long (`60s`, `10m`, `2h`,
    /// `forever`) for TLS 1.2 ECDHE/DHE and TLS 1.3 key shares — the shortcut Springall et al.
    /// (IMC 2016) measured on real servers. Default: a fresh key per handshake, zeroized after.
    #[arg(long, value_name = "DURATION", value_parser = KeyLifetime::parse)]
    reuse_ephemeral: Option<KeyLifetime>,
    /// TLS 1.3 key-share groups to accept, comma-separated: x25519mlkem768 (hybrid
    /// post-quantum), x25519, p256. The server takes the client's share in the most preferred
    /// of them (hybrid, then x25519, then p256, whatever the order here) and otherwise asks for
    /// one with a HelloRetryRequest. Default all three, as a modern server; `p256` alone is the
    /// old lab server (an X25519 share draws a HelloRetryRequest). With --reuse-ephemeral the
    /// default is p256 alone: only the P-256 key is reused, X25519 and hybrid shares are fresh.
    #[arg(long, value_name = "GROUPS", value_delimiter = ',', value_parser = crate::cli::client::parse_group)]
    groups: Vec<KxGroup>,
    /// A deliberate Bleichenbacher padding oracle for RSA key transport (robot-detect flags it:
    /// scripts/robot-detect.sh): `strong` sends a fatal handshake_failure alert at once for a
    /// ClientKeyExchange whose decryption does not start 00 02; `weak` only for a conformant padding whose message is not 48
    /// bytes. Every other ClientKeyExchange ends as by default (bad_record_mac at a wrong
    /// Finished). Off by default; refused unless --listen is a loopback address.
    #[arg(long, value_enum, value_name = "STRENGTH")]
    oracle: Option<OracleArg>,
    /// Derive all server randomness from this number (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OracleArg {
    Strong,
    Weak,
}

pub fn run(a: ServerArgs) -> Result<()> {
    let padding_oracle = match a.oracle {
        None => PaddingOracle::Off,
        Some(OracleArg::Strong) => PaddingOracle::Strong,
        Some(OracleArg::Weak) => PaddingOracle::Weak,
    };
    if padding_oracle != PaddingOracle::Off {
        let addrs: Vec<_> = a
            .listen
            .to_socket_addrs()
            .with_context(|| format!("cannot resolve {}", a.listen))?
            .collect();
        if addrs.is_empty() || addrs.iter().any(|s| !s.ip().is_loopback()) {
            anyhow::bail!(
                "--oracle makes a deliberately vulnerable server; it listens only on loopback, not {}",
                a.listen
            );
        }
    }
    let suites = identity::parse_suite_list(&a.suites).map_err(anyhow::Error::msg)?;
    let groups = default_groups(&a.groups, a.reuse_ephemeral);
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
    let tickets = match (&a.ticket_key, a.tickets) {
        (Some(path), _) => Some(path.clone()),
        (None, true) => Some(PathBuf::from("keys/ticket.key")),
        (None, false) => None,
    };
    let ticket_keys = match &tickets {
        Some(path) => {
            let mut rng = pfslab::crypto::rng::for_purpose(a.seed, "ticket key");
            let (current, created) = tickets::load_or_create(path, &mut rng)?;
            if created {
                eprintln!("made a new ticket key {} (mode 0600)", path.display());
            }
            let mut older = Vec::new();
            for old in &a.old_ticket_key {
                older.push(tickets::read_ticket_key(old)?);
            }
            Some(Arc::new(TicketKeys::new(current, older)))
        }
        None => None,
    };
    let resumption = ServerResumption {
        tickets: ticket_keys,
        session_cache: a.session_cache.then(|| Arc::new(SessionCache::default())),
        prefer_psk_ke: a.prefer_psk_ke,
        ticket_lifetime: a.ticket_lifetime,
        clock: Clock::System,
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
        ephemerals: Ephemerals::new(a.reuse_ephemeral.unwrap_or_default()).with_groups(&groups),
        resumption,
        padding_oracle,
        fast_key: Default::default(),
    });
    output::print(format!("pfslab server listening on {addr}\n"))?;
    eprintln!(
        "session tickets: {}; session-ID cache: {}{}",
        match &tickets {
            Some(path) => format!("on (ticket key {})", path.display()),
            None => "off".into(),
        },
        if a.session_cache { "on" } else { "off" },
        if a.prefer_psk_ke {
            "; TLS 1.3 prefers psk_ke (not forward-secret)"
        } else {
            ""
        }
    );
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
    eprintln!(
        "TLS 1.3 key-share groups: {} (most preferred first)",
        config
            .ephemerals
            .groups()
            .iter()
            .map(|g| g.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let fresh_kinds: Vec<&str> = config
        .ephemerals
        .groups()
        .iter()
        .filter(|g| **g != KxGroup::P256)
        .map(|g| g.name())
        .collect();
    if a.reuse_ephemeral
        .is_some_and(|l| l != KeyLifetime::PerHandshake)
        && !fresh_kinds.is_empty()
    {
        eprintln!(
            "ephemeral keys: TLS 1.3 {} shares stay fresh per handshake (only the P-256 key is reused)",
            fresh_kinds.join(" and ")
        );
    }
    match a.reuse_ephemeral {
        Some(KeyLifetime::Forever) => eprintln!(
            "ephemeral keys: REUSED for the life of the process (one (EC)DH key opens every session it serves)"
        ),
        Some(KeyLifetime::For(d)) => eprintln!(
            "ephemeral keys: REUSED, a new one every {} s (one (EC)DH key opens every session of its period)",
            d.as_secs()
        ),
        _ => {}
    }
    match padding_oracle {
        PaddingOracle::Strong => eprintln!(
            "padding oracle: STRONG (handshake_failure at once when an RSA ClientKeyExchange does not decrypt to 00 02 ...)"
        ),
        PaddingOracle::Weak => eprintln!(
            "padding oracle: WEAK (handshake_failure at once for a conformant RSA ClientKeyExchange padding whose message is not 48 bytes)"
        ),
        PaddingOracle::Off => {}
    }
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

/// The TLS 1.3 groups when --groups is not given: all three, as a modern server (RFC 8446
/// §4.2.7 lets the server choose; it prefers the hybrid), or P-256 alone under
/// --reuse-ephemeral, whose reused key is a P-256 key.
fn default_groups(given: &[KxGroup], reuse: Option<KeyLifetime>) -> Vec<KxGroup> {
    match (given.is_empty(), reuse) {
        (false, _) => given.to_vec(),
        (true, Some(l)) if l != KeyLifetime::PerHandshake => vec![KxGroup::P256],
        (true, _) => KxGroup::PREFERENCE.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_default_to_all_three_or_p256_under_reuse() {
        assert_eq!(default_groups(&[], None), KxGroup::PREFERENCE);
        assert_eq!(
            default_groups(&[], Some(KeyLifetime::PerHandshake)),
            KxGroup::PREFERENCE
        );
        assert_eq!(
            default_groups(&[], Some(KeyLifetime::Forever)),
            [KxGroup::P256]
        );
        let given = [KxGroup::X25519, KxGroup::P256];
        assert_eq!(default_groups(&given, Some(KeyLifetime::Forever)), given);
        assert_eq!(default_groups(&[KxGroup::P256], None), [KxGroup::P256]);
    }
}
