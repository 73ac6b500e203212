//! Child processes that die with the test: output captured in the background, every wait
//! bounded, and the child's whole process group killed and reaped when its guard drops (also
//! while a test panics), so nothing a test started outlives `cargo test`.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::{complete_lines, PFSLAB, RUN_TIMEOUT};

/// Output of one stream, filled by a background thread.
#[derive(Default)]
struct Captured {
    state: Mutex<(Vec<u8>, bool)>, // bytes so far, end of stream reached
    changed: Condvar,
}

impl Captured {
    fn spawn_reader(mut from: impl Read + Send + 'static) -> Arc<Captured> {
        let cap = Arc::new(Captured::default());
        let c = cap.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = from.read(&mut buf).unwrap_or(0);
                let mut st = c.state.lock().unwrap_or_else(|p| p.into_inner());
                if n == 0 {
                    st.1 = true;
                    c.changed.notify_all();
                    return;
                }
                st.0.extend_from_slice(&buf[..n]);
                c.changed.notify_all();
            }
        });
        cap
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap_or_else(|p| p.into_inner()).0)
            .into_owned()
    }

    fn ended(&self) -> bool {
        self.state.lock().map(|s| s.1).unwrap_or(true)
    }

    /// Waits until `pred` holds for the text so far; `None` on timeout or end of stream first.
    fn wait_for<T>(&self, timeout: Duration, mut pred: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(v) = pred(&String::from_utf8_lossy(&st.0)) {
                return Some(v);
            }
            let now = Instant::now();
            if st.1 || now >= deadline {
                return None;
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wait_eof(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !st.1 && Instant::now() < deadline {
            st = self
                .changed
                .wait_timeout(st, deadline - Instant::now())
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// A running child process, the guard of everything it starts.
///
/// The child leads a process group of its own; dropping the guard (also while a test panics)
/// kills that whole group (a shell script's background jobs too) and reaps the child. The
/// child also gets SIGKILL if the thread that spawned it dies (`PR_SET_PDEATHSIG`), so a test
/// binary killed from outside (Ctrl-C, a CI timeout) takes its children along: keep a `Proc`
/// on the thread that spawned it.
pub struct Proc {
    pub name: String,
    child: Child,
    /// Set once the child is reaped; its group was killed just before.
    status: Option<ExitStatus>,
    stdin: Option<ChildStdin>,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

/// How a finished process ended and what it printed.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Both streams, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "status {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }

    /// This run (`what`) beside what a peer has printed so far, for failure messages.
    pub fn beside(&self, what: &str, peer_name: &str, peer: &Proc) -> String {
        format!(
            "{what}: {}\n--- {peer_name} ---\n{}",
            self.describe(),
            peer.describe()
        )
    }
}

impl Proc {
    /// Starts `cmd` with all three standard streams piped.
    pub fn spawn(mut cmd: Command) -> Proc {
        let name = format!("{cmd:?}");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: between fork and exec the closure only calls prctl(2), which is
        // async-signal-safe, and allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Captured::spawn_reader(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::spawn_reader(child.stderr.take().expect("piped stderr"));
        let stdin = child.stdin.take();
        Proc {
            name,
            child,
            status: None,
            stdin,
            stdout,
            stderr,
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn write_stdin(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(data)
            .and_then(|_| stdin.flush())
            .unwrap_or_else(|e| panic!("writing to {}: {e}", self.name));
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Both streams so far, for failure messages.
    pub fn describe(&self) -> String {
        format!(
            "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.name,
            self.stdout(),
            self.stderr()
        )
    }

    /// Waits for a match in stdout; panics with everything printed so far if none comes.
    pub fn wait_stdout<T>(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl FnMut(&str) -> Option<T>,
    ) -> T {
        self.stdout.wait_for(timeout, pred).unwrap_or_else(|| {
            panic!(
                "no {what} on stdout within {timeout:?}: {}",
                self.describe()
            )
        })
    }

    /// Waits for a match in stderr; panics with everything printed so far if none comes.
    pub fn wait_stderr<T>(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl FnMut(&str) -> Option<T>,
    ) -> T {
        self.stderr.wait_for(timeout, pred).unwrap_or_else(|| {
            panic!(
                "no {what} on stderr within {timeout:?}: {}",
                self.describe()
            )
        })
    }

    /// Waits for a match in the whole lines of stdout and stderr together (stdout first);
    /// polls, for tools that print status on either stream.
    pub fn wait_output<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + timeout;
        loop {
            let (out, err) = (self.stdout(), self.stderr());
            if let Some(v) = pred(&format!("{}{}", complete_lines(&out), complete_lines(&err))) {
                return v;
            }
            let ended = self.stdout.ended() && self.stderr.ended();
            if ended || Instant::now() >= deadline {
                panic!("no {what} within {timeout:?}: {}", self.describe());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status if the process has ended; then whatever it left running in its group
    /// is killed, and it is reaped.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() && self.has_exited() {
            self.kill_group();
            let status = self
                .child
                .wait()
                .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name));
            self.status = Some(status);
        }
        self.status
    }

    /// Waits (bounded) for the process to exit and for its output to drain.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(s) = self.try_status() {
                break s;
            }
            if Instant::now() >= deadline {
                panic!(
                    "still running after {timeout:?} (killed): {}",
                    self.describe()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.stdin = None;
        self.stdout.wait_eof(Duration::from_secs(2));
        self.stderr.wait_eof(Duration::from_secs(2));
        Finished {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }

    /// Whether the child has ended, without reaping it: until it is reaped its pid, which is
    /// also its group's id, cannot be reused, so [`Proc::kill_group`] cannot hit a stranger.
    fn has_exited(&self) -> bool {
        // SAFETY: waitid(2) writes only into `info`, a zeroed siginfo_t we own; WNOWAIT leaves
        // the child waitable, so std's Child::wait still reaps it later.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.child.id(),
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        }
    }

    /// SIGKILL to every process of the child's group. Only call it before the child is reaped.
    fn kill_group(&self) {
        let group = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory effects; the negative id names the child's own group.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if self.status.is_none() {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}

/// Runs `cmd` to the end with `input` on stdin (closed afterwards), bounded by [`RUN_TIMEOUT`].
pub fn run(cmd: Command, input: &[u8]) -> Finished {
    let mut p = Proc::spawn(cmd);
    if !input.is_empty() {
        p.write_stdin(input);
    }
    p.close_stdin();
    p.finish(RUN_TIMEOUT)
}

/// The binary under test with `args`.
pub fn pfslab(args: &[&str]) -> Command {
    let mut cmd = Command::new(PFSLAB);
    cmd.args(args);
    cmd
}
