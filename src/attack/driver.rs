//! Runs the attacker over captures: packets are read once, sessions are analysed on every core
//! as soon as their connections finish, and results come out in session order, each freed once
//! it has been handed on — so memory does not grow with the capture.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use crate::attack::pipeline::{
    for_each_tls_connection_with_progress, CaptureSummary, TlsConnection,
};
use crate::attack::recovery::ticket_issuer_clause;
use crate::attack::tickets::TicketOrigin;
use crate::attack::{analyse, Loot, ResumptionCache, SecretSource, SessionReport, Verdict};
use crate::capture::CaptureError;
use crate::tls12::keys::MasterSecret;

/// One capture's outcome besides its sessions.
pub struct CaptureOutcome {
    pub path: PathBuf,
    pub result: Result<CaptureSummary, CaptureError>,
}

/// What the run saw so far, for a progress display: [`run`] updates the counters as it goes.
#[derive(Default)]
pub struct Progress {
    pub bytes_read: AtomicU64,
    pub bytes_total: AtomicU64,
    pub sessions_found: AtomicUsize,
    pub sessions_done: AtomicUsize,
    pub sessions_decrypted: AtomicUsize,
}

struct Job {
    index: u64,
    capture: String,
    conn: TlsConnection,
}

struct Done {
    index: u64,
    report: SessionReport,
    /// Kept only for a resumed session that may need a second look in order.
    conn: Option<TlsConnection>,
}

/// Sessions handed between threads at a time: one wake-up per batch, not per session (the
/// hand-offs cost ~3% of the CPU one at a time), while the batches in flight stay a few MB.
const BATCH: usize = 8;

/// Analyses every TLS session of `captures` with `threads` workers; `emit` receives the reports
/// in capture order, then session order.
pub fn run(
    captures: &[PathBuf],
    loot: &Loot,
    threads: usize,
    progress: &Progress,
    mut emit: impl FnMut(SessionReport),
) -> Vec<CaptureOutcome> {
    let threads = threads.max(1);
    let (job_tx, job_rx) = sync_channel::<Vec<Job>>(threads);
    let (done_tx, done_rx) = sync_channel::<Vec<Done>>(threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    // Only the in-order emitter touches it (see `worker`).
    let mut cache = ResumptionCache::default();
    let stop = AtomicBool::new(false);
    let mut outcomes = Vec::new();

    std::thread::scope(|scope| {
        // Reader: the only thread touching the files.
        let reader = scope.spawn(|| {
            let mut outcomes = Vec::new();
            let mut index = 0u64;
            let mut batch = Vec::with_capacity(BATCH);
            for path in captures {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                progress.bytes_total.fetch_add(
                    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
                    Ordering::Relaxed,
                );
                let base = progress.bytes_read.load(Ordering::Relaxed);
                let local = AtomicU64::new(0);
                let result = for_each_tls_connection_with_progress(path, Some(&local), |conn| {
                    progress
                        .bytes_read
                        .store(base + local.load(Ordering::Relaxed), Ordering::Relaxed);
                    progress.sessions_found.fetch_add(1, Ordering::Relaxed);
                    if !stop.load(Ordering::Relaxed) {
                        batch.push(Job {
                            index,
                            capture: name.clone(),
                            conn,
                        });
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            let _ = job_tx.send(full);
                        }
                    }
                    index += 1;
                });
                if let Ok(meta) = std::fs::metadata(path) {
                    progress
                        .bytes_read
                        .store(base + meta.len(), Ordering::Relaxed);
                }
                outcomes.push(CaptureOutcome {
                    path: path.clone(),
                    result,
                });
            }
            if !batch.is_empty() {
                let _ = job_tx.send(batch);
            }
            drop(job_tx);
            outcomes
        });

        // Workers: RSA decryption and record decryption, independent per session.
        for _ in 0..threads {
            let (job_rx, done_tx) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || worker(&job_rx, done_tx, loot));
        }
        drop(done_tx);

        // In-order emitter (this thread).
        let mut pending: BTreeMap<u64, Done> = BTreeMap::new();
        let mut next = 0u64;
        let mut handle = |done: Done, next: &mut u64| {
            let mut report = done.report;
            // A resumption the worker could not open is looked up now, with every earlier
            // session (and no later one) in the cache.
            if !report.verdict.opened() {
                if let Some(conn) = done.conn.as_ref().filter(|c| resumes(&c.session)) {
                    report = analyse_connection(&report.capture, conn, loot, &cache);
                }
            } else if let (
                Some(SecretSource::TicketKey {
                    origin: TicketOrigin::Presented,
                    ..
                }),
                Some(res),
            ) = (
                &report.source,
                done.conn.as_ref().and_then(|c| c.session.resumed.as_ref()),
            ) {
                // The worker had no cache: name the session that received the ticket now.
                if let Some((from, _)) = cache.lookup(res) {
                    report.reason.push_str(&ticket_issuer_clause(from));
                }
            }
            if let (Some(conn), Some(ms)) = (&done.conn, report.master_secret.as_ref()) {
                if let Ok(arr) = <[u8; 48]>::try_from(ms.as_slice()) {
                    cache.remember(conn.stream, &conn.session, &MasterSecret(Box::new(arr)));
                }
            }
            // TLS 1.3: the tickets an opened session issued, for the PSK resumptions after it.
            cache.remember_psks(report.stream, &std::mem::take(&mut report.issued_psks));
            if report.verdict == Verdict::Decrypted {
                progress.sessions_decrypted.fetch_add(1, Ordering::Relaxed);
            }
            progress.sessions_done.fetch_add(1, Ordering::Relaxed);
            emit(report);
            *next += 1;
        };
        for batch in done_rx.iter() {
            for done in batch {
                pending.insert(done.index, done);
            }
            while let Some(d) = pending.remove(&next) {
                handle(d, &mut next);
            }
        }
        while let Some((_, d)) = pending.pop_first() {
            handle(d, &mut next);
        }
        stop.store(true, Ordering::Relaxed);
        outcomes = reader.join().unwrap_or_default();
    });
    outcomes
}

/// One connection analysed, with the reassembler's notes on it.
pub fn analyse_connection(
    capture: &str,
    conn: &TlsConnection,
    loot: &Loot,
    cache: &ResumptionCache,
) -> SessionReport {
    let mut report = analyse(
        capture,
        conn.stream,
        conn.client.to_string(),
        conn.server.to_string(),
        &conn.session,
        loot,
        cache,
    );
    report.notes.extend(conn.notes.iter().cloned());
    report
}

fn worker(
    jobs: &Mutex<Receiver<Vec<Job>>>,
    done: std::sync::mpsc::SyncSender<Vec<Done>>,
    loot: &Loot,
) {
    loop {
        let batch = {
            let rx = jobs.lock().unwrap_or_else(|p| p.into_inner());
            match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        let results = batch
            .into_iter()
            .map(|job| analyse_job(job, loot))
            .collect();
        if done.send(results).is_err() {
            return;
        }
    }
}

fn analyse_job(job: Job, loot: &Loot) -> Done {
    let mut conn = job.conn;
    // Workers never read the resumption cache: what it holds depends on how far the
    // in-order emitter has got, so a resumption that needs it is looked up again there, in
    // session order, and the verdict does not depend on thread timing.
    let report = analyse_connection(
        &job.capture,
        &conn,
        loot,
        &ResumptionCache::with_limits(0, 0),
    );
    // Sessions that issue tickets or IDs are needed in the cache; keep the observation of
    // those and of resumptions, drop the rest now.
    let keep = resumes(&conn.session) || conn.session.issues_resumption();
    if keep && report.verdict.opened() {
        // The emitter only needs what names this session's ID or ticket, and what it
        // resumed: the records and handshake bytes are freed here, not carried over.
        let s = &mut conn.session;
        s.client_protected.records = Vec::new();
        s.server_protected.records = Vec::new();
        s.handshake_client = Vec::new();
        s.handshake_server = Vec::new();
        s.certificates = Vec::new();
    }
    Done {
        index: job.index,
        report,
        conn: keep.then_some(conn),
    }
}

/// A TLS 1.2 abbreviated handshake, or a TLS 1.3 one whose server selected a PSK.
fn resumes(s: &crate::attack::observe::ObservedSession) -> bool {
    s.resumed.is_some() || s.psk.as_ref().is_some_and(|p| p.selected.is_some())
}
