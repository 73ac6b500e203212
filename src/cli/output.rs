//! Standard output for every command. A reader that stops reading (`pfslab attack … | head`)
//! has seen what it wanted: a broken pipe is not an error. This is the one place that says so.

use std::io::{self, BufWriter, StdoutLock, Write};

/// Buffered standard output that keeps the first write error for [`Stdout::finish`], so a long
/// run goes on (and finishes its key log) after its reader has gone.
pub struct Stdout {
    out: BufWriter<StdoutLock<'static>>,
    error: Option<io::Error>,
}

/// Bytes gathered before a write to standard output. `attack --json` writes ~18 KB a session
/// (a 16 KB response body, escaped), and standard output is line-buffered beneath: with the
/// default 8 KB this was ~3 write calls a session, 20,607 for `make bench`'s capture.
const STDOUT_BUFFER: usize = 256 << 10;

impl Default for Stdout {
    fn default() -> Self {
        Self {
            out: BufWriter::with_capacity(STDOUT_BUFFER, io::stdout().lock()),
            error: None,
        }
    }
}

impl Stdout {
    pub fn write(&mut self, bytes: &[u8]) {
        self.write_with(|out| out.write_all(bytes));
    }

    /// Runs `f` on the output; its error, if the first, is kept for [`Stdout::finish`].
    pub fn write_with(
        &mut self,
        f: impl FnOnce(&mut BufWriter<StdoutLock<'static>>) -> io::Result<()>,
    ) {
        if let Err(e) = f(&mut self.out) {
            self.error.get_or_insert(e);
        }
    }

    /// Flushes; the flush's error, or else the first write error, unless it is a broken pipe.
    pub fn finish(mut self) -> io::Result<()> {
        match self.out.flush().err().or(self.error) {
            Some(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Writes `text` to standard output and flushes it.
pub fn print(text: impl AsRef<[u8]>) -> io::Result<()> {
    let mut out = Stdout::default();
    out.write(text.as_ref());
    out.finish()
}
