//! `pfslab memscan`: find, in a server's memory, every secret that opens a captured session.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pfslab::attack::pipeline::for_each_tls_connection;
use pfslab::codec::hex;
use pfslab::keylog::KeyLogWriter;
use pfslab::memscan::{
    self, FoundKind, MemoryImage, Progress, ScanOptions, ScanReport, TargetSession,
};

use crate::cli::output;

/// `pfslab memscan --help`: what it reads, what it finds, and how the search stays cheap.
pub const LONG_ABOUT: &str = "\
Find, in a server's memory, every secret that opens a session in the captures.

Reads the writable memory of a live process (/proc/PID/maps + /proc/PID/mem) or of an ELF core \
file (`gcore PID`) and confirms each candidate against the captures with the lab's key schedule: \
P-256 ECDHE private scalars (scalar x G equals a public point on the wire: a ServerKeyExchange or a \
TLS 1.3 key share), TLS 1.2 master secrets (their key block opens the session's first record), \
TLS 1.3 traffic secrets (a record's tag), session-ticket keys (a captured ticket opens). It says \
where each was (address, mapping) and which sessions it opens.

How the search stays cheap: windows start at 8-byte boundaries (--align); a window must look random \
before any cryptography (every 8-byte word has a non-zero top 16 bits, which pointers and counters \
do not; at least 20 of 32 bytes, or 30 of 48, distinct); identical windows are tested once; a \
scalar candidate costs one multiplication per encoding (little-endian 64-bit limbs, as \
p256::SecretKey holds it, and big-endian), looked up in a hash set of the points on the wire; \
ticket keys are looked for only where a captured ticket's key name occurs; all cores work. A \
master-secret candidate is tried on every TLS 1.2 session, so the cost grows with random-looking \
memory times sessions.";

#[derive(Args)]
pub struct MemscanArgs {
    /// A running process to read (Linux; needs root, CAP_SYS_PTRACE or a permissive ptrace_scope).
    #[arg(long, conflicts_with = "core", required_unless_present = "core")]
    pid: Option<u32>,
    /// An ELF core file, e.g. from `gcore -o FILE PID`.
    #[arg(long)]
    core: Option<PathBuf>,
    /// Captures (pcap or pcapng) whose sessions the secrets should open.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Write the session keys found as an NSS key log (for `attack --keylog`, tshark, Wireshark).
    #[arg(long)]
    keylog_out: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Candidate windows start at multiples of this many bytes (1: every byte, 8× the work).
    #[arg(long, default_value_t = 8)]
    align: usize,
}

pub fn run(a: MemscanArgs) -> Result<()> {
    let mut targets = Vec::new();
    for path in &a.captures {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        for_each_tls_connection(path, |c| {
            targets.push(TargetSession {
                label: format!("{name} #{}", c.stream),
                obs: c.session,
            })
        })
        .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let image = match (&a.pid, &a.core) {
        (Some(pid), _) => memscan::read_process(*pid)?,
        (None, Some(core)) => memscan::read_core(core)?,
        (None, None) => bail!("say --pid PID or --core FILE"),
    };
    let opts = ScanOptions {
        align: a.align.max(1),
        ..ScanOptions::default()
    };
    let progress = Progress::default();
    let report = with_bar(&progress, || {
        memscan::scan(&image, &targets, &opts, &progress)
    });
    if let Some(path) = &a.keylog_out {
        write_keylog(path, &report)?;
    }
    let text = if a.json {
        json(&image, &targets, &report, a.keylog_out.as_ref())
    } else {
        text(&image, &targets, &report, &opts, a.keylog_out.as_ref())
    };
    output::print(text)?;
    Ok(())
}

fn with_bar<T>(progress: &Progress, work: impl FnOnce() -> T) -> T {
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let style = ProgressStyle::with_template("[{bar:24}] {percent:>3}%  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#-");
            let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr())
                .with_style(style);
            while !finished.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let (bt, bd) = (
                    progress.bytes_total.load(Ordering::Relaxed),
                    progress.bytes_done.load(Ordering::Relaxed),
                );
                let (ct, cd) = (
                    progress.candidates_total.load(Ordering::Relaxed),
                    progress.candidates_done.load(Ordering::Relaxed),
                );
                if ct == 0 {
                    bar.set_length(bt.max(1));
                    bar.set_position(bd);
                    bar.set_message(format!(
                        "filtering windows: {} of {} MB",
                        bd >> 20,
                        bt >> 20
                    ));
                } else {
                    bar.set_length(ct.max(1));
                    bar.set_position(cd);
                    bar.set_message(format!("testing candidates: {cd} of {ct}"));
                }
            }
            bar.finish_and_clear();
        });
        let result = work();
        finished.store(true, Ordering::Relaxed);
        result
    })
}

fn write_keylog(path: &PathBuf, report: &ScanReport) -> Result<()> {
    // A fresh file each run (mode 0600: it holds secrets), then the lab's one line format.
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).with_context(|| format!("cannot replace {}", path.display()))
        }
        _ => {}
    }
    let w = KeyLogWriter::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut seen = std::collections::HashSet::new();
    for keys in &report.keys {
        for (kind, cr, secret) in &keys.lines {
            if seen.insert((kind.label(), *cr)) {
                w.log(*kind, cr, secret)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
        }
    }
    Ok(())
}

fn text(
    image: &MemoryImage,
    targets: &[TargetSession],
    r: &ScanReport,
    opts: &ScanOptions,
    keylog: Option<&PathBuf>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "memory: {}: {} writable regions, {:.1} MB read{}",
        image.source,
        image.regions.len(),
        image.bytes() as f64 / 1e6,
        if image.unreadable.is_empty() {
            String::new()
        } else {
            format!(" ({} regions unreadable)", image.unreadable.len())
        }
    );
    let _ = writeln!(s, "captures: {} TLS sessions", targets.len());
    let _ = writeln!(
        s,
        "search: {} windows of 32 bytes → {} candidates; {} of 48 bytes → {} candidates (every {} bytes; shape filter before any cryptography); {} places start with a captured ticket's key name",
        r.windows_32, r.candidates_32, r.windows_48, r.candidates_48, opts.align, r.ticket_name_hits
    );
    if r.found.is_empty() {
        let _ = writeln!(s, "found: nothing that opens any of these sessions");
    } else {
        let _ = writeln!(s, "found {} secret(s):", r.found.len());
    }
    for f in &r.found {
        let what = match &f.kind {
            FoundKind::EcdheScalar { encoding, .. } => {
                format!("{}, stored as {}", f.kind.name(), encoding.describe())
            }
            FoundKind::TicketKey { name } => format!("{} (name {})", f.kind.name(), hex(name)),
            _ => f.kind.name(),
        };
        let _ = writeln!(
            s,
            "  {what}: {}…",
            hex(f.secret.get(..8).unwrap_or_default())
        );
        let _ = writeln!(s, "    proof: {}", f.proof);
        for p in &f.places {
            let _ = writeln!(
                s,
                "    at {:#x} in {:#x}-{:#x} {}",
                p.address, p.region_start, p.region_end, p.region_name
            );
        }
        let names: Vec<&str> = f
            .sessions
            .iter()
            .filter_map(|&i| targets.get(i).map(|t| t.label.as_str()))
            .collect();
        let _ = writeln!(
            s,
            "    opens {} session(s){}{}",
            names.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
    }
    let opened = r.opened();
    let _ = writeln!(s, "sessions opened: {} of {}", opened.len(), targets.len());
    for k in &r.keys {
        if let Some(t) = targets.get(k.session) {
            let _ = writeln!(s, "  {}: {}", t.label, k.via);
        }
    }
    if let Some(path) = keylog {
        let lines: usize = r.keys.iter().map(|k| k.lines.len()).sum();
        let _ = writeln!(
            s,
            "key log: {} ({} line(s) for {} session(s))",
            path.display(),
            lines,
            opened.len()
        );
    }
    s
}

fn json(
    image: &MemoryImage,
    targets: &[TargetSession],
    r: &ScanReport,
    keylog: Option<&PathBuf>,
) -> String {
    use serde_json::json;
    let found: Vec<_> = r
        .found
        .iter()
        .map(|f| {
            json!({
                "kind": f.kind.name(),
                "encoding": match &f.kind {
                    FoundKind::EcdheScalar { encoding, .. } => Some(format!("{encoding:?}")),
                    _ => None,
                },
                "proof": f.proof,
                "places": f.places.iter().map(|p| json!({
                    "address": format!("{:#x}", p.address),
                    "region": format!("{:#x}-{:#x}", p.region_start, p.region_end),
                    "mapping": p.region_name,
                })).collect::<Vec<_>>(),
                "sessions": f.sessions.iter().filter_map(|&i| targets.get(i).map(|t| t.label.clone())).collect::<Vec<_>>(),
            })
        })
        .collect();
    let v = json!({
        "source": image.source,
        "regions": image.regions.len(),
        "bytes": image.bytes(),
        "sessions": targets.len(),
        "candidates_32": r.candidates_32,
        "candidates_48": r.candidates_48,
        "found": found,
        "opened": r.opened().iter().filter_map(|&i| targets.get(i).map(|t| t.label.clone())).collect::<Vec<_>>(),
        "keylog": keylog.map(|p| p.display().to_string()),
    });
    format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
}
