//! The library reports server and tap events through the `log` facade; this logger prints each
//! one on stderr as one line, the message exactly as the library wrote it.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info && metadata.target().starts_with("pfslab")
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            eprintln!("{}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; a second call changes nothing).
pub fn install() {
    if log::set_logger(&StderrLogger).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}
