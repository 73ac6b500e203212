//! Helpers shared by the tests that run the built binary and real peers (`interop.rs`,
//! `cli.rs`): a temporary directory per test, child processes that die with the test, output
//! captured in the background and waited on with a deadline.
//!
//! Nothing here waits without a limit, and nothing skips a test: a missing tool is a failure
//! that names the Debian package to install (`make deps` installs them all).

#![allow(dead_code)] // each test crate uses a different part of this module

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The binary under test.
pub const PFSLAB: &str = env!("CARGO_BIN_EXE_pfslab");

/// Limit for a peer tool or a pfslab command to finish a whole exchange.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// Limit for a server to announce that it listens, or for a log line to appear.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The lab's two suites as the tests name them.
#[derive(Clone, Copy, Debug)]
pub struct SuiteNames {
    /// `pfslab --suite` value.
    pub cli: &'static str,
    /// IANA name, as pfslab prints it.
    pub iana: &'static str,
    /// OpenSSL's name (`-cipher`, `Cipher is …`).
    pub openssl: &'static str,
    /// GnuTLS priority keyword for the key exchange.
    pub gnutls_kx: &'static str,
    /// GnuTLS "Description" line as gnutls-cli and gnutls-serv print it.
    pub gnutls_description: &'static str,
    /// GnuTLS ciphersuite name as gnutls-serv's HTTP page prints it.
    pub gnutls_suite: &'static str,
}

pub const RSA: SuiteNames = SuiteNames {
    cli: "rsa",
    iana: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    openssl: "AES128-GCM-SHA256",
    gnutls_kx: "RSA",
    gnutls_description: "(TLS1.2-X.509)-(RSA)-(AES-128-GCM)",
    gnutls_suite: "RSA_AES_128_GCM_SHA256",
};

pub const ECDHE: SuiteNames = SuiteNames {
    cli: "ecdhe",
    iana: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    openssl: "ECDHE-RSA-AES128-GCM-SHA256",
    gnutls_kx: "ECDHE-RSA",
    gnutls_description: "(TLS1.2-X.509)-(ECDHE-SECP256R1)-(RSA-SHA256)-(AES-128-GCM)",
    gnutls_suite: "ECDHE_RSA_AES_128_GCM_SHA256",
};

// ---------------------------------------------------------------------------------------------
// Temporary directories and tools

/// A fresh directory under the system temp dir, removed when the test passes and kept (with
/// its path printed) when it fails, for a look at keys and logs.
pub struct TestDir {
    pub path: PathBuf,
}

impl TestDir {
    pub fn new(test: &str) -> TestDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "pfslab-test-{test}-{}-{nanos}-{n}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TestDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Fails (never skips) when `tool` is not on PATH.
pub fn require_tool(tool: &str, debian_package: &str) {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        let candidate = dir.join(tool);
        std::fs::metadata(&candidate)
            .map(|m| m.is_file())
            .unwrap_or(false)
    });
    assert!(
        found,
        "required tool `{tool}` is not on PATH: install the Debian package `{debian_package}` \
         (`make deps` does it). These tests fail rather than skip when a peer is missing."
    );
}

/// A string no other test (or earlier run) uses, for request paths and cookies.
pub fn unique_token(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{label}-{}-{nanos:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A port on 127.0.0.1 that was free a moment ago (for tools that cannot report their own).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

// ---------------------------------------------------------------------------------------------
// Child processes

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

/// A running child process. Dropping it (also while a test panics) kills and reaps it.
pub struct Proc {
    pub name: String,
    child: Child,
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
}

impl Proc {
    /// Starts `cmd` with all three standard streams piped.
    pub fn spawn(mut cmd: Command) -> Proc {
        let name = format!("{cmd:?}");
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = Captured::spawn_reader(child.stdout.take().expect("piped stdout"));
        let stderr = Captured::spawn_reader(child.stderr.take().expect("piped stderr"));
        let stdin = child.stdin.take();
        Proc {
            name,
            child,
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
            let ended = self.stdout.state.lock().map(|s| s.1).unwrap_or(true)
                && self.stderr.state.lock().map(|s| s.1).unwrap_or(true);
            if ended || Instant::now() >= deadline {
                panic!("no {what} within {timeout:?}: {}", self.describe());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status if the process has ended.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("waiting for {}: {e}", self.name))
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
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stdin = None;
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
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

pub fn pfslab(args: &[&str]) -> Command {
    let mut cmd = Command::new(PFSLAB);
    cmd.args(args);
    cmd
}

/// The whole lines of `text`: a line still being written is left out, so a search never
/// matches half a line.
pub fn complete_lines(text: &str) -> &str {
    text.rfind('\n').map_or("", |end| &text[..=end])
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Peer servers

/// `openssl s_server` on an OS-assigned port of 127.0.0.1, run in `cwd` (with `-WWW` it serves
/// files from there, so keep keys out of it). `args` names the rest: mode, version, suites,
/// key log. `conf` is an `OPENSSL_CONF` file.
pub fn openssl_s_server(
    cwd: &Path,
    key: &Path,
    cert: &Path,
    args: &[&str],
    conf: Option<&Path>,
) -> (Proc, u16) {
    require_tool("openssl", "openssl");
    let mut cmd = Command::new("openssl");
    cmd.current_dir(cwd)
        .args(["s_server", "-accept", "127.0.0.1:0"])
        .args(["-key", path_str(key), "-cert", path_str(cert)])
        .args(args);
    if let Some(conf) = conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let proc = Proc::spawn(cmd);
    let port = proc.wait_stdout("ACCEPT line", READY_TIMEOUT, |out| {
        let rest = complete_lines(out)
            .lines()
            .find_map(|l| l.strip_prefix("ACCEPT 127.0.0.1:"))?;
        rest.trim().parse::<u16>().ok()
    });
    (proc, port)
}

/// An OpenSSL config file that turns extended master secret off (OpenSSL 3.0 has no -no_ems).
pub fn no_ems_openssl_conf(dir: &TestDir) -> PathBuf {
    let conf = dir.join("no-ems.cnf");
    std::fs::write(
        &conf,
        "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n\
         system_default = system_default_sect\n[system_default_sect]\nOptions = -ExtendedMasterSecret\n",
    )
    .expect("write openssl config");
    conf
}

/// `openssl s_client` to 127.0.0.1:`port` checking the certificate for `localhost` against
/// `ca`, plus `args` (version, suites, `-msg`, …); sends `request` and leaves stdin open, so
/// s_client leaves when the server closes the session. `conf` is an `OPENSSL_CONF` file.
pub fn openssl_s_client_verified(
    port: u16,
    ca: &Path,
    args: &[&str],
    request: &str,
    conf: Option<&Path>,
) -> Finished {
    require_tool("openssl", "openssl");
    let connect = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &connect])
        .args(["-servername", "localhost", "-verify_hostname", "localhost"])
        .args(["-verify_return_error", "-CAfile", path_str(ca), "-ign_eof"])
        .args(args);
    if let Some(conf) = conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let mut client = Proc::spawn(cmd);
    client.write_stdin(request.as_bytes());
    client.finish(RUN_TIMEOUT)
}

/// `gnutls-serv --http` with `priority` on a free port, retried when another process takes the
/// port first (gnutls-serv cannot pick its own). It binds the wildcard addresses; the tests
/// only connect to 127.0.0.1. `extra` adds options such as `-a` (no client certificate
/// request).
pub fn gnutls_serv(key: &Path, cert: &Path, priority: &str, extra: &[&str]) -> (Proc, u16) {
    require_tool("gnutls-serv", "gnutls-bin");
    let mut last = String::new();
    for _attempt in 0..5 {
        let port = free_port();
        let mut cmd = Command::new("gnutls-serv");
        cmd.args(["--http", "--priority", priority, "-p", &port.to_string()])
            .args(["--x509keyfile", path_str(key)])
            .args(["--x509certfile", path_str(cert)])
            .args(extra);
        let proc = Proc::spawn(cmd);
        let ready = format!("IPv4 0.0.0.0 port {port}...done");
        let outcome = proc.wait_output("listening line", READY_TIMEOUT, |out| {
            if out.contains(&ready) {
                Some(true)
            } else if out.contains("bind() failed") {
                Some(false)
            } else {
                None
            }
        });
        if outcome {
            return (proc, port);
        }
        last = proc.describe();
    }
    panic!("gnutls-serv could not listen after 5 ports: {last}");
}

// ---------------------------------------------------------------------------------------------
// pfslab itself

/// `pfslab keygen --out-dir dir/name`, returning (key, certificate).
pub fn keygen(dir: &TestDir, name: &str) -> (PathBuf, PathBuf) {
    let out = dir.join(name);
    let done = run(pfslab(&["keygen", "--out-dir", path_str(&out)]), b"");
    assert!(
        done.status.success(),
        "pfslab keygen failed: {}",
        done.describe()
    );
    (out.join("server.key"), out.join("server.crt"))
}

/// A running `pfslab server` on an OS-assigned port of 127.0.0.1.
pub struct PfslabServer {
    pub proc: Proc,
    pub addr: SocketAddr,
}

impl PfslabServer {
    pub fn start(key: &Path, cert: &Path, extra: &[&str]) -> PfslabServer {
        let mut args = vec![
            "server",
            "--listen",
            "127.0.0.1:0",
            "--key",
            path_str(key),
            "--cert",
            path_str(cert),
        ];
        args.extend_from_slice(extra);
        let proc = Proc::spawn(pfslab(&args));
        let addr = proc.wait_stdout("'pfslab server listening on' line", READY_TIMEOUT, |out| {
            let line = out.lines().next()?;
            if !out.contains('\n') {
                return None; // the first line is not complete yet
            }
            let addr = line.strip_prefix("pfslab server listening on ")?;
            Some(
                addr.trim()
                    .parse::<SocketAddr>()
                    .unwrap_or_else(|e| panic!("bad address in {line:?}: {e}")),
            )
        });
        assert!(
            addr.ip().is_loopback() && addr.port() != 0,
            "server announced {addr}"
        );
        PfslabServer { proc, addr }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Waits for the log line (stderr) that contains `needle` and returns it.
    pub fn wait_log_line(&self, needle: &str) -> String {
        self.proc
            .wait_stderr(&format!("log line with {needle:?}"), READY_TIMEOUT, |err| {
                complete_lines(err)
                    .lines()
                    .find(|l| l.contains(needle) && l.starts_with("[conn "))
                    .map(str::to_string)
            })
    }
}

/// Runs `pfslab client` with `args` after the common `--connect 127.0.0.1:PORT`.
/// A request to the bank for `/token` with a cookie, so both directions can be checked
/// (see [`assert_bank_round_trip`]).
pub fn bank_request_with_cookie(token: &str) -> String {
    format!("GET /{token} HTTP/1.0\r\nHost: localhost\r\nCookie: session={token}-cookie\r\n\r\n")
}

/// The bank's reply to [`bank_request_with_cookie`] is in the client's output (path and cookie
/// came back), and the server logged the decrypted request line ending in
/// `{log_prefix} "GET /token HTTP/1.0" 200` (log_prefix: suite and EMS or version).
pub fn assert_bank_round_trip(
    client_output: &str,
    server: &PfslabServer,
    token: &str,
    log_prefix: &str,
    why: impl Fn() -> String,
) {
    assert!(
        client_output.contains(&format!("pfslab bank: you asked for GET /{token}\n")),
        "{}",
        why()
    );
    assert!(
        client_output.contains(&format!("your cookie: session={token}-cookie")),
        "{}",
        why()
    );
    let line = server.wait_log_line(&format!("\"GET /{token} HTTP/1.0\""));
    let expected = format!("{log_prefix} \"GET /{token} HTTP/1.0\" 200");
    assert!(
        line.ends_with(&expected),
        "server log line {line:?}, expected it to end with {expected:?}"
    );
}

pub fn pfslab_client(port: u16, args: &[&str]) -> Finished {
    let connect = format!("127.0.0.1:{port}");
    let mut all = vec!["client", "--connect", connect.as_str()];
    all.extend_from_slice(args);
    run(pfslab(&all), b"")
}

/// The `connected to …` line a successful pfslab client prints.
pub fn connected_line(port: u16, suite: SuiteNames, ems: bool) -> String {
    format!(
        "connected to 127.0.0.1:{port}: TLS 1.2, {}, extended master secret {}",
        suite.iana,
        if ems { "yes" } else { "no" }
    )
}
