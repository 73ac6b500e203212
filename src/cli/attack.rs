//! `pfslab attack`: decrypt what a stolen server key or a leaked key log opens, and say why the
//! rest stays closed.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;

use pfslab::attack::assumed_dlog::{self, AssumedDlog};
use pfslab::attack::driver::{self, CaptureOutcome, Progress};
use pfslab::attack::{SessionReport, Verdict};
use pfslab::keylog::KeyLogWriter;
use pfslab::keylog::SecretKind;
use pfslab::report;
use pfslab::standin;
use pfslab::tickets::{read_ticket_key, TicketKey};

use crate::cli::load_loot;
use crate::cli::output::Stdout;
use crate::cli::progress;
use crate::cli::spool::Spool;

#[derive(Args)]
pub struct AttackArgs {
    /// The stolen server private key (PKCS#1 or PKCS#8, PEM or DER).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A leaked NSS key log (SSLKEYLOGFILE): CLIENT_RANDOM, RSA and TLS 1.3 secret lines.
    #[arg(long)]
    keylog: Option<PathBuf>,
    /// A stolen session-ticket encryption key (80 bytes: name, HMAC key, AES key, as nginx and
    /// OpenSSL use). Repeat for several keys (e.g. before and after a rotation).
    #[arg(long = "ticket-key", value_name = "FILE")]
    ticket_keys: Vec<PathBuf>,
    /// Write a CLIENT_RANDOM line for every session recovered (and the TLS 1.3 traffic secrets
    /// of psk_ke sessions derived from a stolen ticket key), for Wireshark.
    #[arg(long)]
    keylog_out: Option<PathBuf>,
    /// DHE sessions: factor p-1 (bounded) and take the discrete log of a public value with
    /// Pohlig-Hellman; works when the group was built with a smooth p-1 (`pfslab dhparams
    /// --backdoor`), says why not for a safe prime such as RFC 7919 ffdhe2048.
    #[arg(long)]
    break_dh: bool,
    /// Assume the discrete-log problem broken (a stand-in for Shor's algorithm): take each
    /// client's classical ephemeral key from FILE (`record` writes NAME.dlog-standin.json),
    /// check it against the public share on the wire, and derive the session's secrets.
    /// X25519MLKEM768 sessions stay closed: their ML-KEM-768 half is not in the file.
    #[arg(long, value_name = "FILE")]
    assume_dlog_broken: Option<PathBuf>,
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

/// Marks this thread, and the threads it starts, as a batch job (SCHED_BATCH, sched(7)): their
/// wake-ups no longer preempt one another. The attack's reader, workers and writer hand sessions
/// along thousands of times a second; this halves its context switches on the `make bench`
/// capture and takes ~1% off its wall time. Best effort: where it fails nothing changes.
fn run_as_batch_job() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread and `param` a valid sched_param; on failure the
        // call changes nothing.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
        }
    }
}

pub fn run(a: AttackArgs) -> Result<()> {
    // 1. Everything that can fail before the run: the loot, the captures, the key log to write.
    if a.key.is_none()
        && a.keylog.is_none()
        && a.ticket_keys.is_empty()
        && !a.break_dh
        && a.assume_dlog_broken.is_none()
    {
        bail!("nothing to attack with: give --key (the stolen server key), --keylog (a leaked key log) and/or --ticket-key (a stolen ticket key), or try --break-dh");
    }
    let mut loot = load_loot(a.key.as_deref(), a.keylog.as_deref())?
        .with_ticket_keys(load_ticket_keys(&a.ticket_keys)?);
    if a.break_dh {
        loot.break_dh = Some(Default::default());
        if !a.quiet {
            eprintln!(
                "--break-dh: for each DHE group, factoring p-1 (trial division below 2^16, Pollard rho up to {} steps per split), then Pohlig-Hellman over its primes of at most {} bits",
                pfslab::attack::break_dh::RHO_BUDGET,
                pfslab::attack::break_dh::MAX_PRIME_BITS
            );
        }
    }
    loot.assumed_dlog = load_assumed_dlog(a.assume_dlog_broken.as_deref())?;
    for path in &a.captures {
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    }
    let keylog_out = a
        .keylog_out
        .as_ref()
        .map(|out| {
            KeyLogWriter::open(out).with_context(|| format!("cannot write {}", out.display()))
        })
        .transpose()?;
    let threads = a.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });

    // 2. The run: each session's report goes out (JSON) or into the spools as it comes.
    run_as_batch_job();
    let mut reports = Reports::new(&a, keylog_out);
    let progress = Progress::default();
    let show = std::io::stderr().is_terminal() && !a.quiet;
    // --break-dh: how far the discrete log in progress has got (it can take a while).
    let dlog_detail = || {
        let cache = loot.break_dh.as_ref()?;
        let total = cache
            .primes_total
            .load(std::sync::atomic::Ordering::Relaxed);
        (total > 0).then(|| {
            let done = cache.primes_done.load(std::sync::atomic::Ordering::Relaxed);
            format!("discrete log: {done} of {total} primes of p-1 solved")
        })
    };
    let outcomes = progress::while_running(show, &progress, &dlog_detail, || {
        driver::run(&a.captures, &loot, threads, &progress, |r| reports.add(&r))
    });

    // 3. What the captures held besides sessions, then the report and every error.
    let failure = warn_about_captures(&outcomes);
    let mut errors = reports.finish(a.keylog_out.as_deref());
    errors.extend(failure);
    if let Some((last, earlier)) = errors.split_last() {
        for e in earlier {
            eprintln!("pfslab: error: {e}");
        }
        bail!("{last}");
    }
    Ok(())
}

/// Reads every stolen ticket key file (80 bytes each).
pub fn load_ticket_keys(paths: &[PathBuf]) -> Result<Vec<TicketKey>> {
    paths
        .iter()
        .map(|p| read_ticket_key(p).context("cannot load the stolen ticket key"))
        .collect()
}

/// The error for a `--session` the capture does not hold, naming the sessions it does.
pub fn no_such_session(capture: &Path, session: u64, streams: &[u64]) -> String {
    format!(
        "{} has no TLS session {session} (TLS sessions: {})",
        capture.display(),
        if streams.is_empty() {
            "none".to_string()
        } else {
            report::number_ranges(streams)
        }
    )
}

/// Reads the discrete-log stand-in file of `--assume-dlog-broken`.
pub fn load_assumed_dlog(path: Option<&Path>) -> Result<Option<AssumedDlog>> {
    path.map(|p| {
        standin::read(p)
            .map(AssumedDlog::new)
            .with_context(|| format!("cannot load the discrete-log stand-in {}", p.display()))
    })
    .transpose()
}

/// Warns about truncated captures and captures without TLS; gives the last capture that could
/// not be read, after printing the ones before it.
fn warn_about_captures(outcomes: &[CaptureOutcome]) -> Option<String> {
    let mut failure = None;
    for o in outcomes {
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
    failure
}

/// Where the session reports go. JSON is written as it comes; the table and the conversations
/// are printed once every session is in, held in spools (memory, then a temporary file) so
/// memory does not grow with the capture.
struct Reports {
    json: bool,
    table_only: bool,
    show_capture: bool,
    stdout: Stdout,
    table: Spool,
    conversations: Spool,
    /// Decrypted, forward-secret, not decrypted.
    counts: [usize; 4],
    /// Tickets seen, and how many the stolen ticket keys opened.
    tickets: (usize, usize),
    have_ticket_key: bool,
    /// `--assume-dlog-broken`: the banner first, the assumption in the totals.
    assumed_dlog: bool,
    first: bool,
    keylog_out: Option<KeyLogWriter>,
    // Kept apart from stdout's: a broken pipe on stdout is a reader that has seen enough; on
    // the key log, or in the spools, it is a failure.
    keylog_error: Option<std::io::Error>,
    spool_error: Option<std::io::Error>,
}

impl Reports {
    fn new(a: &AttackArgs, keylog_out: Option<KeyLogWriter>) -> Self {
        let mut stdout = Stdout::default();
        let assumed = a.assume_dlog_broken.is_some();
        if a.json && assumed {
            let banner = serde_json::Value::from(assumed_dlog::BANNER).to_string();
            stdout.write(format!("{{\"assumption\": {banner},\n\"sessions\": [").as_bytes());
        } else if a.json {
            stdout.write(b"{\"sessions\": [");
        } else if assumed {
            stdout.write(format!("{}\n\n", assumed_dlog::BANNER).as_bytes());
        }
        Self {
            json: a.json,
            table_only: a.table_only,
            show_capture: a.captures.len() > 1,
            stdout,
            table: Spool::new(Spool::DEFAULT_LIMIT),
            conversations: Spool::new(Spool::DEFAULT_LIMIT),
            counts: [0; 4],
            tickets: (0, 0),
            have_ticket_key: !a.ticket_keys.is_empty(),
            assumed_dlog: assumed,
            first: true,
            keylog_out,
            keylog_error: None,
            spool_error: None,
        }
    }

    fn add(&mut self, report: &SessionReport) {
        self.counts[match report.verdict {
            Verdict::Decrypted => 0,
            Verdict::PartlyDecrypted => 1,
            Verdict::ForwardSecret => 2,
            Verdict::NotDecrypted => 3,
        }] += 1;
        self.tickets.0 += report.tickets.len();
        self.tickets.1 += report.tickets.iter().filter(|t| t.opened()).count();
        if let (Some(w), Some(cr), Some(ms)) = (
            &self.keylog_out,
            &report.client_random,
            &report.master_secret,
        ) {
            if let Err(e) = w.log(SecretKind::ClientRandom, cr, ms) {
                self.keylog_error.get_or_insert(e);
            }
        }
        // TLS 1.3 secrets derived from a PSK the stolen ticket key gave (psk_ke).
        if let (Some(w), Some(cr)) = (&self.keylog_out, &report.client_random) {
            for (kind, secret) in &report.derived_tls13_secrets {
                if let Err(e) = w.log(*kind, cr, secret) {
                    self.keylog_error.get_or_insert(e);
                }
            }
        }
        if self.json {
            let sep = if self.first { "\n" } else { ",\n" };
            self.first = false;
            self.stdout.write_with(|out| {
                out.write_all(sep.as_bytes())?;
                report::write_session_json(out, report)
            });
        } else {
            let row = report::attack_table_row(report, self.show_capture);
            let mut spooled = self.table.append(row.as_bytes());
            if !self.table_only {
                spooled = spooled.and_then(|_| {
                    self.conversations
                        .append(report::conversation(report).as_bytes())
                });
            }
            if let Err(e) = spooled {
                self.spool_error.get_or_insert(e);
            }
        }
    }

    /// Ends the JSON, or prints the table, the totals and the conversations; gives the errors.
    fn finish(mut self, keylog_out: Option<&Path>) -> Vec<String> {
        if self.json {
            self.stdout.write(if self.first {
                b"]}\n" as &[u8]
            } else {
                b"\n]}\n"
            });
        } else if self.spool_error.is_none() {
            let [decrypted, partly, forward_secret, not_decrypted] = self.counts;
            let partly = if partly > 0 {
                format!(", {partly} partly decrypted")
            } else {
                String::new()
            };
            let mut summary = format!(
                "\n{} sessions: {decrypted} decrypted{partly}, {forward_secret} forward-secret, {not_decrypted} not decrypted{}\n",
                self.counts.iter().sum::<usize>(),
                if self.assumed_dlog {
                    format!(" (under the {})", assumed_dlog::ASSUMED)
                } else {
                    String::new()
                }
            );
            if self.tickets.0 > 0 && self.have_ticket_key {
                summary.push_str(&format!(
                    "{} session tickets seen, {} opened with the stolen ticket key\n",
                    self.tickets.0, self.tickets.1
                ));
            } else if self.tickets.0 > 0 {
                summary.push_str(&format!(
                    "{} session tickets seen, all sealed (--ticket-key opens those under a stolen key)\n",
                    self.tickets.0
                ));
            }
            if decrypted < self.counts.iter().sum::<usize>() {
                summary.push_str(
                    "Each session's whole reason: --json, or pfslab explain CAPTURE --session N\n",
                );
            }
            summary.push('\n');
            let (table, conversations) = (&mut self.table, &mut self.conversations);
            let header = report::attack_table_header(self.show_capture);
            self.stdout.write_with(|out| {
                out.write_all(header.as_bytes())?;
                table.copy_to(out)?;
                out.write_all(summary.as_bytes())?;
                conversations.copy_to(out)
            });
        }
        let mut errors = Vec::new();
        if let Err(e) = self.stdout.finish() {
            errors.push(format!("cannot write the report: {e}"));
        }
        if let Some(e) = self.spool_error {
            errors.push(format!(
                "cannot hold the report in a temporary file (in {}): {e}; nothing was printed",
                std::env::temp_dir().display()
            ));
        }
        if let (Some(e), Some(path)) = (self.keylog_error, keylog_out) {
            errors.push(format!("cannot write {}: {e}", path.display()));
        }
        errors
    }
}
