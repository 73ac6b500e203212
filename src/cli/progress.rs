//! The attack's progress bar: drawn on stderr from the driver's counters while it runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use pfslab::attack::driver::Progress;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(200);
/// Runs shorter than this show no bar at all.
const DELAY: Duration = Duration::from_millis(600);

/// Runs `work`; meanwhile, when `show`, draws `progress` on stderr (cleared at the end), with
/// what `detail` says (if anything) appended to the line.
pub fn while_running<T>(
    show: bool,
    progress: &Progress,
    detail: &(dyn Fn() -> Option<String> + Sync),
    work: impl FnOnce() -> T,
) -> T {
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if show {
            scope.spawn(|| draw(progress, detail, &finished));
        }
        // Set even if `work` panics, so the scope does not wait on the bar forever.
        let _done = SetOnDrop(&finished);
        work()
    })
}

struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn draw(progress: &Progress, detail: &(dyn Fn() -> Option<String> + Sync), finished: &AtomicBool) {
    let start = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    while !finished.load(Ordering::Relaxed) {
        std::thread::sleep(TICK);
        if start.elapsed() < DELAY {
            continue;
        }
        let bar = bar.get_or_insert_with(new_bar);
        bar.set_length(progress.bytes_total.load(Ordering::Relaxed).max(1));
        bar.set_position(progress.bytes_read.load(Ordering::Relaxed));
        let mut message = format!(
            "sessions: {} found, {} analysed, {} decrypted",
            progress.sessions_found.load(Ordering::Relaxed),
            progress.sessions_done.load(Ordering::Relaxed),
            progress.sessions_decrypted.load(Ordering::Relaxed)
        );
        if let Some(more) = detail() {
            message.push_str(&format!("; {more}"));
        }
        bar.set_message(message);
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}

fn new_bar() -> ProgressBar {
    let style =
        ProgressStyle::with_template("[{bar:24}] {percent:>3}%  {bytes} / {total_bytes}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#-");
    ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr()).with_style(style)
}

/// Runs `work` (`oracle-attack`); meanwhile, when `show`, draws a line on stderr with the
/// queries sent, their rate and how many bits of candidates for m are still open.
pub fn oracle_while_running<T>(
    show: bool,
    progress: &pfslab::attack::oracle_client::OracleProgress,
    work: impl FnOnce() -> T,
) -> T {
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if show {
            scope.spawn(|| {
                let start = Instant::now();
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                    .with_style(
                        ProgressStyle::with_template("{spinner} {elapsed}  {msg}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    let queries = progress.queries.load(Ordering::Relaxed);
                    let rate = queries as f64 / start.elapsed().as_secs_f64().max(0.001);
                    bar.set_message(format!(
                        "queries: {queries}  ({rate:.0}/s)  candidates for m: 2^{} ",
                        progress.width_bits.load(Ordering::Relaxed)
                    ));
                    bar.tick();
                }
                bar.finish_and_clear();
            });
        }
        let _done = SetOnDrop(&finished);
        work()
    })
}
