//! The `pfslab` commands as the tests run them (keygen, server, client, tap, record, attack),
//! the answer key `pfslab record` writes beside its capture, and NSS key logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{
    complete_lines, json_file, path_str, pfslab, read, run, Finished, Proc, SuiteNames, TestDir,
    READY_TIMEOUT, RUN_TIMEOUT,
};

// ---------------------------------------------------------------------------------------------
// keygen, server, client

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

/// Runs `pfslab client` with `args` after the common `--connect 127.0.0.1:PORT`.
pub fn pfslab_client(port: u16, args: &[&str]) -> Finished {
    let connect = format!("127.0.0.1:{port}");
    let mut all = vec!["client", "--connect", connect.as_str()];
    all.extend_from_slice(args);
    run(pfslab(&all), b"")
}

/// [`pfslab_client`] checking the certificate for `localhost` against `ca`, plus `args`.
pub fn pfslab_client_verified(port: u16, ca: &Path, args: &[&str]) -> Finished {
    let mut all = vec!["--ca", path_str(ca), "--server-name", "localhost"];
    all.extend_from_slice(args);
    pfslab_client(port, &all)
}

/// The `connected to …` line a successful pfslab client prints.
pub fn connected_line(port: u16, suite: SuiteNames, ems: bool) -> String {
    format!(
        "connected to 127.0.0.1:{port}: TLS 1.2, {}, extended master secret {}",
        suite.iana,
        if ems { "yes" } else { "no" }
    )
}

// ---------------------------------------------------------------------------------------------
// pfslab tap

/// A running `pfslab tap --listen 127.0.0.1:0`.
pub struct Tap {
    pub proc: Proc,
    pub port: u16,
    pub write: PathBuf,
}

impl Tap {
    pub fn start(upstream_port: u16, write: &Path, connections: Option<u32>) -> Tap {
        let upstream = format!("127.0.0.1:{upstream_port}");
        let n = connections.map(|n| n.to_string());
        let mut args = vec![
            "tap",
            "--listen",
            "127.0.0.1:0",
            "--upstream",
            &upstream,
            "--write",
            path_str(write),
        ];
        if let Some(n) = &n {
            args.extend_from_slice(&["--connections", n]);
        }
        let proc = Proc::spawn(pfslab(&args));
        let port = proc.wait_stdout("'pfslab tap listening on' line", READY_TIMEOUT, |out| {
            let line = out
                .lines()
                .find(|l| l.starts_with("pfslab tap listening on "))?;
            if !out.contains('\n') {
                return None;
            }
            let rest = line.strip_prefix("pfslab tap listening on 127.0.0.1:")?;
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            port.parse::<u16>().ok()
        });
        assert!(port != 0);
        Tap {
            proc,
            port,
            write: write.to_path_buf(),
        }
    }

    /// Waits for the tap to stop by itself (`--connections`) and checks it wrote its file.
    pub fn finish(self) -> Finished {
        let write = self.write.clone();
        let done = self.proc.finish(RUN_TIMEOUT);
        assert!(
            done.status.success(),
            "pfslab tap failed: {}",
            done.describe()
        );
        assert!(
            write.is_file(),
            "tap did not leave {}: {}",
            write.display(),
            done.describe()
        );
        let partial = PathBuf::from(format!("{}.partial", path_str(&write)));
        assert!(!partial.exists(), "tap left {} behind", partial.display());
        done
    }
}

// ---------------------------------------------------------------------------------------------
// pfslab record and its answer key

/// One session of the answer key (`NAME.truth.json`).
#[derive(Clone, Debug)]
pub struct TruthSession {
    pub raw: Value,
    pub stream: u64,
    pub cipher_suite: String,
    pub key_exchange: String,
    pub user: String,
    pub password: String,
    pub client_random: String,
    pub client_data: String,
    pub server_data: String,
}

/// The string field `name` of a JSON object; panics naming the object if it is missing.
pub fn str_field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name:?} missing or not a string in {v}"))
        .to_string()
}

pub fn load_truth(path: &Path) -> Vec<TruthSession> {
    let v = json_file(path);
    let sessions = v["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions array in {}", path.display()));
    sessions
        .iter()
        .map(|s| TruthSession {
            raw: s.clone(),
            stream: s["stream"]
                .as_u64()
                .unwrap_or_else(|| panic!("no stream in {s}")),
            cipher_suite: str_field(s, "cipher_suite"),
            key_exchange: str_field(s, "key_exchange"),
            user: str_field(s, "user"),
            password: str_field(s, "password"),
            client_random: str_field(s, "client_random").to_ascii_lowercase(),
            client_data: str_field(s, "client_data"),
            server_data: str_field(s, "server_data"),
        })
        .collect()
}

/// A finished `pfslab record` run: the capture, its answer key, what it printed.
pub struct Recording {
    pub pcap: PathBuf,
    pub truth_path: PathBuf,
    pub truth: Vec<TruthSession>,
    pub done: Finished,
}

impl Recording {
    /// The server address the record command announced (`the server appears as ADDR`).
    pub fn server_port(&self) -> u16 {
        let rest = self
            .done
            .stdout
            .split("the server appears as ")
            .nth(1)
            .unwrap_or_else(|| {
                panic!(
                    "no 'the server appears as' in record output: {}",
                    self.done.describe()
                )
            });
        let addr: String = rest
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect();
        addr.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad address {addr:?}"))
    }

    pub fn by_client_random(&self, random: &str) -> &TruthSession {
        self.truth
            .iter()
            .find(|t| t.client_random == random.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("client random {random} is not in the answer key"))
    }

    /// The answer key's sessions as JSON, by stream.
    pub fn truth_by_stream(&self) -> BTreeMap<u64, Value> {
        self.truth
            .iter()
            .map(|t| (t.stream, t.raw.clone()))
            .collect()
    }
}

/// `pfslab record --out DIR/NAME.pcap --keys KEYS` plus `extra`, which must succeed.
pub fn record(dir: &Path, name: &str, keys: &Path, extra: &[&str]) -> Recording {
    let pcap = dir.join(format!("{name}.pcap"));
    let mut args = vec!["record", "--out", path_str(&pcap), "--keys", path_str(keys)];
    args.extend_from_slice(extra);
    let done = run(pfslab(&args), b"");
    assert!(
        done.status.success(),
        "pfslab {args:?} failed: {}",
        done.describe()
    );
    let truth_path = dir.join(format!("{name}.truth.json"));
    assert!(
        pcap.is_file(),
        "no capture after {args:?}: {}",
        done.describe()
    );
    assert!(
        truth_path.is_file(),
        "no answer key after {args:?}: {}",
        done.describe()
    );
    let truth = load_truth(&truth_path);
    Recording {
        pcap,
        truth_path,
        truth,
        done,
    }
}

/// A `--seed 7` recording into `dir` (keys in `dir/keys`, the server's key log beside the
/// capture), of `sessions` or `record`'s default; returns it with the key and the key log.
pub fn seeded_recording(dir: &TestDir, sessions: Option<&str>) -> (Recording, PathBuf, PathBuf) {
    let keys = dir.join("keys");
    let keylog = dir.join("server.keylog");
    let mut extra = vec!["--seed", "7", "--keylog", path_str(&keylog)];
    if let Some(s) = sessions {
        extra.extend_from_slice(&["--sessions", s]);
    }
    let rec = record(dir.path(), "lab", &keys, &extra);
    (rec, keys.join("server.key"), keylog)
}

// ---------------------------------------------------------------------------------------------
// pfslab attack

/// `pfslab attack` with `args`, bounded; the exit status is the caller's to check.
pub fn attack(args: &[&str]) -> Finished {
    let mut all = vec!["attack"];
    all.extend_from_slice(args);
    run(pfslab(&all), b"")
}

/// One session of `pfslab attack --json`.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub raw: Value,
    pub capture: String,
    pub stream: u64,
    pub client: String,
    pub server: String,
    pub key_exchange: String,
    pub cipher_suite: String,
    pub verdict: String,
    pub reason: String,
    pub notes: Vec<String>,
    pub client_random: String,
    pub client_data: String,
    pub server_data: String,
}

impl Verdict {
    /// Reason and notes together, for "does it mention …" checks.
    pub fn explanation(&self) -> String {
        format!("{} | {}", self.reason, self.notes.join(" | "))
    }
}

/// `pfslab attack --json` + `args`; must exit 0; returns its sessions.
pub fn attack_json(args: &[&str]) -> (Vec<Verdict>, Finished) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let done = attack(&all);
    assert!(
        done.status.success(),
        "pfslab attack {all:?}: {}",
        done.describe()
    );
    assert!(
        !done.stderr.contains("panicked"),
        "pfslab attack panicked: {}",
        done.describe()
    );
    let v: Value = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("attack --json printed no JSON ({e}): {}", done.describe()));
    let sessions = v["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions array: {}", done.describe()));
    let verdicts = sessions
        .iter()
        .map(|s| Verdict {
            raw: s.clone(),
            capture: str_field(s, "capture"),
            stream: s["stream"]
                .as_u64()
                .unwrap_or_else(|| panic!("no stream in {s}")),
            client: str_field(s, "client"),
            server: str_field(s, "server"),
            key_exchange: str_field(s, "key_exchange"),
            cipher_suite: str_field(s, "cipher_suite"),
            verdict: str_field(s, "verdict"),
            reason: str_field(s, "reason"),
            notes: s["notes"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|n| n.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default(),
            client_random: str_field(s, "client_random").to_ascii_lowercase(),
            client_data: s["client_data"].as_str().unwrap_or_default().to_string(),
            server_data: s["server_data"].as_str().unwrap_or_default().to_string(),
        })
        .collect();
    (verdicts, done)
}

/// `pfslab attack --json` + `args`: its sessions as JSON, in order.
pub fn attack_sessions(args: &[&str]) -> Vec<Value> {
    attack_json(args).0.into_iter().map(|v| v.raw).collect()
}

/// `pfslab attack --json` + `args`: its sessions as JSON, by stream.
pub fn attack_by_stream(args: &[&str]) -> BTreeMap<u64, Value> {
    attack_json(args)
        .0
        .into_iter()
        .map(|v| (v.stream, v.raw))
        .collect()
}

/// The string field `field` of a JSON session; panics naming the session if it is missing.
pub fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field:?} in {v:#}"))
}

/// Optional data fields: absent, null and "" all mean nothing was recovered.
pub fn data<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// NSS key logs

/// `CLIENT_RANDOM` lines of a key log: client random → master secret (hex, lower case).
pub fn keylog_masters(path: &Path) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&read(path))
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "CLIENT_RANDOM").then_some(())?;
            Some((
                f.next()?.to_ascii_lowercase(),
                f.next()?.to_ascii_lowercase(),
            ))
        })
        .collect()
}
