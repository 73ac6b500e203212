//! `pfslab record`: the lab server, the tap and a class's clients; a capture and its answer key.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use pfslab::crypto::kx::KxGroup;
use pfslab::endpoint::conn::ResumedBy;
use pfslab::lab::identity;
use pfslab::lab::recording::{self, RecordOptions, RecordSummary};
use pfslab::msgs::enums::PskKeyExchangeMode;

use crate::cli::output;

#[derive(Args)]
pub struct RecordArgs {
    /// The capture to write; its answer key goes beside it as NAME.truth.json.
    #[arg(long, default_value = "captures/lab.pcap")]
    out: PathBuf,
    /// Sessions per kind, interleaved: KIND=COUNT,… where KIND is rsa, ecdhe, dhe (TLS 1.2, AES-128),
    /// rsa256, ecdhe256 (TLS 1.2, AES-256/SHA-384), rsa-cbc, ecdhe-cbc, dhe-cbc (TLS 1.2, AES-128-CBC
    /// with HMAC-SHA1), rsa-cbc256, rsa256-cbc (AES-128/256-CBC with HMAC-SHA256), tls13,
    /// tls13-aes256 (TLS 1.3 with a P-256 key share), tls13-x25519, tls13-hybrid (the
    /// X25519MLKEM768 post-quantum hybrid), or an IANA suite name. A suffix makes a resumption chain (the first session
    /// of the kind is a full handshake, the later ones resume it): +ticket (TLS 1.2 ticket,
    /// RFC 5077), +id (TLS 1.2 session ID), +psk (TLS 1.3 PSK with fresh ECDHE, psk_dhe_ke),
    /// +psk_ke (TLS 1.3 PSK alone), e.g. ecdhe+ticket=4,tls13+psk_ke=3.
    #[arg(long, default_value = "rsa=3,ecdhe=3")]
    sessions: String,
    /// The server's session-ticket key for +ticket and +psk kinds: used if the file exists
    /// (a later recording under the same key), else made with mode 0600. [default: beside the
    /// capture, NAME.ticket.key]
    #[arg(long)]
    ticket_key: Option<PathBuf>,
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
    /// Clients do not offer encrypt-then-MAC (RFC 7366): CBC sessions are MAC-then-encrypt.
    #[arg(long)]
    no_etm: bool,
    /// Also print each session's user and password (they are always in the answer key,
    /// NAME.truth.json; printing them spoils the lesson for a class watching the screen).
    #[arg(long)]
    show_answers: bool,
}

pub fn run(a: RecordArgs) -> Result<()> {
    let sessions = recording::parse_sessions(&a.sessions).map_err(anyhow::Error::msg)?;
    let total: usize = sessions.iter().map(|(_, n)| n).sum();
    let progress: Option<Box<dyn Fn(usize, usize)>> =
        if std::io::stderr().is_terminal() && total > 1 {
            Some(Box::new(|done, total| {
                eprint!("\rrecording session {done}/{total}");
                if done == total {
                    eprintln!();
                }
            }))
        } else {
            None
        };
    let summary = recording::record(RecordOptions {
        out: a.out.clone(),
        sessions,
        ticket_key: a.ticket_key.clone(),
        seed: a.seed,
        keylog: a.keylog.clone(),
        key_dir: a.keys.clone(),
        ems: !a.no_ems,
        etm: !a.no_etm,
        progress,
    })
    .context("recording failed")?;
    if let (Some(seed), Some(false)) = (a.seed, summary.keys_match_seed) {
        eprintln!(
            "note: {} was not made with --seed {seed} (it was there before, unseeded or from another seed), \
so this capture can be rebuilt byte for byte only with those key files. For a handout anyone can rebuild \
from the seed, record with a fresh --keys directory, or first run: pfslab keygen --out-dir {} --seed {seed} --force",
            identity::key_path(&a.keys).display(),
            a.keys.display()
        );
    }
    Ok(output::print(what_was_written(&a, &summary))?)
}

/// The files written, and each session with its suite and the credentials it carried.
fn what_was_written(a: &RecordArgs, summary: &RecordSummary) -> String {
    let mut text = String::new();
    if summary.generated_keys {
        let _ = writeln!(
            text,
            "generated {} and {}",
            identity::key_path(&a.keys).display(),
            identity::cert_path(&a.keys).display()
        );
    }
    let _ = writeln!(
        text,
        "wrote {} ({} TLS sessions; the server appears as {})",
        summary.capture.display(),
        summary.sessions.len(),
        summary.capture_server
    );
    let _ = writeln!(
        text,
        "wrote {} (the instructor's answer key; the attacker never reads it)",
        summary.truth.display()
    );
    let _ = writeln!(
        text,
        "wrote {} (the clients' classical ephemeral private keys: a labelled stand-in for a discrete-log-capable adversary)",
        summary.dlog_standin.display()
    );
    if let Some(k) = &a.keylog {
        let _ = writeln!(text, "wrote {} (the server's SSLKEYLOGFILE)", k.display());
    }
    if let Some(k) = &summary.ticket_key {
        let _ = writeln!(
            text,
            "ticket key {} (the server's session-ticket key: it opens every ticket in the capture)",
            k.display()
        );
    }
    for s in &summary.sessions {
        let _ = write!(
            text,
            "  session {}: {:<6} {:<40}",
            s.stream,
            match (s.resumed, s.key_share_group) {
                (Some(_), _) => "resume".to_string(),
                (None, Some(KxGroup::X25519MlKem768)) => "tls13-hybrid".to_string(),
                (None, Some(KxGroup::X25519)) => "tls13-x25519".to_string(),
                (None, _) => s.suite.key_exchange.short().to_string(),
            },
            s.suite.name,
        );
        match s.resumed {
            Some((from, how)) => {
                let _ = write!(text, " resumes {from} by {}", resumed_by(how));
            }
            None if s.tickets_issued > 0 => {
                let _ = write!(text, " full handshake, ticket issued");
            }
            None => {}
        }
        if a.show_answers {
            let _ = write!(text, " user {:<8} password {}", s.user, s.password);
        }
        text.push('\n');
    }
    if !a.show_answers {
        let _ = writeln!(
            text,
            "(users and passwords are in the answer key; --show-answers prints them here)"
        );
    }
    text
}

fn resumed_by(how: ResumedBy) -> &'static str {
    match how {
        ResumedBy::SessionId => "session ID",
        ResumedBy::Ticket => "ticket",
        ResumedBy::Psk(PskKeyExchangeMode::PskKe) => "PSK (psk_ke)",
        ResumedBy::Psk(_) => "PSK (psk_dhe_ke)",
    }
}
