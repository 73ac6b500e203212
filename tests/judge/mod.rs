//! Judges and tools for the capture tests (`record.rs`, `attack.rs`): tshark wrappers, the
//! `pfslab tap` and `pfslab record` runners, real peers recorded through the tap, the answer
//! key, and a tiny classic-pcap rewriter for damaged copies of a capture.
//!
//! Builds on `common` (declare `mod common;` before `mod judge;`). Nothing here skips a test:
//! a missing tool fails it, naming its Debian package.

#![allow(dead_code)] // each test crate uses a different part of this module

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Small file helpers

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

pub fn sha256_hex(path: &Path) -> String {
    Sha256::digest(read(path))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&read(path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    let s = s.trim();
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16).unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
        })
        .collect()
}

/// The directory with the committed fixtures.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
}

// ---------------------------------------------------------------------------------------------
// The answer key `pfslab record` writes beside its capture

#[derive(Clone, Debug)]
pub struct TruthSession {
    pub stream: u64,
    pub cipher_suite: String,
    pub key_exchange: String,
    pub user: String,
    pub password: String,
    pub client_random: String,
    pub client_data: String,
    pub server_data: String,
}

fn str_field(v: &Value, name: &str) -> String {
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

// ---------------------------------------------------------------------------------------------
// pfslab record

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
}

/// `pfslab record --out dir/NAME.pcap --keys KEYS` plus `extra`, which must succeed.
pub fn record(dir: &TestDir, name: &str, keys: &Path, extra: &[&str]) -> Recording {
    let pcap = dir.join(&format!("{name}.pcap"));
    let mut args = vec!["record", "--out", path_str(&pcap), "--keys", path_str(keys)];
    args.extend_from_slice(extra);
    let done = run(pfslab(&args), b"");
    assert!(
        done.status.success(),
        "pfslab {args:?} failed: {}",
        done.describe()
    );
    let truth_path = dir.join(&format!("{name}.truth.json"));
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

// ---------------------------------------------------------------------------------------------
// tshark

/// Extra tshark options: dissect a port as TLS, give it the RSA key or a key log.
pub fn decode_as(port: u16) -> Vec<String> {
    vec!["-d".into(), format!("tcp.port=={port},tls")]
}

pub fn with_rsa_key(key: &Path) -> Vec<String> {
    let abs = std::fs::canonicalize(key).unwrap_or_else(|e| panic!("{}: {e}", key.display()));
    vec![
        "-o".into(),
        format!("uat:rsa_keys:\"{}\",\"\"", path_str(&abs)),
    ]
}

pub fn with_keylog(keylog: &Path) -> Vec<String> {
    let abs = std::fs::canonicalize(keylog).unwrap_or_else(|e| panic!("{}: {e}", keylog.display()));
    vec!["-o".into(), format!("tls.keylog_file:{}", path_str(&abs))]
}

/// Runs `tshark -r cap` with `opts` then `args`; must exit 0. Returns stdout.
pub fn tshark(cap: &Path, opts: &[String], args: &[&str]) -> String {
    require_tool("tshark", "tshark");
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(cap).args(opts).args(args);
    let done = run(cmd, b"");
    assert!(
        done.status.success(),
        "tshark -r {} {opts:?} {args:?}: {}",
        cap.display(),
        done.describe()
    );
    done.stdout
}

/// Expert info severities (epan/proto.h `PI_WARN`, `PI_ERROR`).
pub const PI_WARN: u32 = 0x0060_0000;

/// One packet as tshark dissects it (only the fields these tests look at).
#[derive(Clone, Debug, Default)]
pub struct PacketRow {
    pub frame: u64,
    /// `None` for a packet that is not TCP.
    pub stream: Option<u64>,
    pub dst_port: Option<u16>,
    /// SYN without ACK: a connection attempt.
    pub syn: bool,
    pub tls_content_types: Vec<u8>,
    pub handshake_types: Vec<u8>,
    /// Hex, lower case, no colons.
    pub handshake_randoms: Vec<String>,
    /// As tshark prints them, e.g. `0x009c`.
    pub cipher_suites: Vec<String>,
    pub http_request: bool,
    pub malformed: bool,
    pub severities: Vec<u32>,
    pub expert_messages: String,
}

/// Every packet of a capture in one tshark run.
#[derive(Clone, Debug)]
pub struct Overview {
    pub rows: Vec<PacketRow>,
}

const OVERVIEW_FIELDS: [&str; 13] = [
    "frame.number",
    "tcp.stream",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tls.record.content_type",
    "tls.handshake.type",
    "tls.handshake.random",
    "tls.handshake.ciphersuite",
    "http.request.method",
    "_ws.malformed",
    "_ws.expert.severity",
    "_ws.expert.message",
];

fn list<T: std::str::FromStr>(field: &str) -> Vec<T> {
    field
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

fn truthy(field: &str) -> bool {
    matches!(field.trim(), "1" | "True" | "true")
}

/// Dissects `cap` once with `opts` (decode-as, keys) and returns every packet.
pub fn overview(cap: &Path, opts: &[String]) -> Overview {
    let mut args: Vec<&str> = vec![
        "-T",
        "fields",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ];
    for f in OVERVIEW_FIELDS {
        args.extend_from_slice(&["-e", f]);
    }
    let out = tshark(cap, opts, &args);
    let rows = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(
                f.len() >= OVERVIEW_FIELDS.len() - 1,
                "bad tshark line {l:?}"
            );
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            PacketRow {
                frame: get(0)
                    .trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("bad tshark line {l:?}")),
                stream: get(1).trim().parse().ok(),
                dst_port: get(2).trim().parse().ok(),
                syn: truthy(get(3)) && !truthy(get(4)),
                tls_content_types: list(get(5)),
                handshake_types: list(get(6)),
                handshake_randoms: get(7)
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().replace(':', "").to_ascii_lowercase())
                    .collect(),
                cipher_suites: get(8)
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| s.trim().to_ascii_lowercase())
                    .collect(),
                http_request: !get(9).trim().is_empty(),
                malformed: !get(10).trim().is_empty(),
                severities: list(get(11)),
                expert_messages: get(12).to_string(),
            }
        })
        .collect();
    Overview { rows }
}

impl Overview {
    /// No malformed packet and no expert info of severity Warning or Error.
    pub fn assert_clean(&self, what: &str) {
        let bad: Vec<&PacketRow> = self
            .rows
            .iter()
            .filter(|r| r.malformed || r.severities.iter().any(|s| *s >= PI_WARN))
            .collect();
        assert!(bad.is_empty(), "tshark flags packets of {what}:\n{bad:#?}");
    }

    /// All TCP stream numbers, sorted.
    pub fn streams(&self) -> Vec<u64> {
        self.streams_where(|_| true)
    }

    /// Streams with at least one packet dissected as a TLS record.
    pub fn tls_streams(&self) -> Vec<u64> {
        self.streams_where(|r| !r.tls_content_types.is_empty())
    }

    /// Streams with a dissected HTTP request.
    pub fn http_request_streams(&self) -> Vec<u64> {
        self.streams_where(|r| r.http_request)
    }

    pub fn streams_where(&self, pred: impl Fn(&PacketRow) -> bool) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .rows
            .iter()
            .filter(|r| pred(r))
            .filter_map(|r| r.stream)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// (stream, client random) of every ClientHello, in capture order.
    pub fn client_hellos(&self) -> Vec<(u64, String)> {
        self.rows
            .iter()
            .filter(|r| r.handshake_types.contains(&1))
            .map(|r| {
                let random = r
                    .handshake_randoms
                    .first()
                    .unwrap_or_else(|| panic!("ClientHello without a random: {r:?}"));
                (r.stream.expect("TLS over TCP"), random.clone())
            })
            .collect()
    }

    /// (stream, cipher suite) of every ServerHello, in capture order.
    pub fn server_hello_suites(&self) -> Vec<(u64, String)> {
        self.rows
            .iter()
            .filter(|r| r.handshake_types.contains(&2))
            .map(|r| {
                let suite = r
                    .cipher_suites
                    .last()
                    .unwrap_or_else(|| panic!("ServerHello without a suite: {r:?}"));
                (r.stream.expect("TLS over TCP"), suite.clone())
            })
            .collect()
    }

    /// Destination ports of the connection attempts (SYN without ACK).
    pub fn syn_ports(&self) -> Vec<u16> {
        self.rows
            .iter()
            .filter(|r| r.syn)
            .filter_map(|r| r.dst_port)
            .collect()
    }
}

/// tshark finds no malformed packet and no expert info of severity Warning or Error.
pub fn assert_tshark_clean(cap: &Path, opts: &[String]) -> Overview {
    let o = overview(cap, opts);
    o.assert_clean(path_str(cap));
    o
}

/// What tshark decrypted in one TCP stream (`-z follow,tls,raw`): the bytes sent by the side
/// that spoke first (`first`, from address `first_addr`) and by the other side.
#[derive(Debug, Default, Clone)]
pub struct Followed {
    pub first_addr: String,
    pub first: Vec<u8>,
    pub second: Vec<u8>,
}

impl Followed {
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.second.is_empty()
    }
}

/// Decrypted application data of `streams`, one tshark run for all.
pub fn follow_tls(cap: &Path, opts: &[String], streams: &[u64]) -> BTreeMap<u64, Followed> {
    follow(cap, opts, "tls", streams)
}

/// `tshark -z follow,PROTO,raw,N` for every stream in `streams`, one run for all.
pub fn follow(
    cap: &Path,
    opts: &[String],
    proto: &str,
    streams: &[u64],
) -> BTreeMap<u64, Followed> {
    let mut args: Vec<String> = vec!["-q".into()];
    for s in streams {
        args.push("-z".into());
        args.push(format!("follow,{proto},raw,{s}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = tshark(cap, opts, &args);
    let mut result = BTreeMap::new();
    let mut current: Option<(u64, Followed)> = None;
    for line in out.lines() {
        if let Some(n) = line.strip_prefix("Filter: tcp.stream eq ") {
            current = Some((
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("bad follow header {line:?}")),
                Followed::default(),
            ));
        } else if line.starts_with("=====") {
            if let Some((n, f)) = current.take() {
                result.insert(n, f);
            }
        } else if let Some((_, f)) = current.as_mut() {
            if let Some(addr) = line.strip_prefix("Node 0: ") {
                f.first_addr = addr.trim().to_string();
            } else if line.starts_with("Node 1: ")
                || line.starts_with("Follow: ")
                || line.trim().is_empty()
            {
            } else if let Some(hex) = line.strip_prefix('\t') {
                f.second.extend(hex_decode(hex));
            } else {
                f.first.extend(hex_decode(line));
            }
        }
    }
    for s in streams {
        assert!(
            result.contains_key(s),
            "tshark printed no follow block for stream {s}:\n{out}"
        );
    }
    result
}

// ---------------------------------------------------------------------------------------------
// pfslab tap and pfslab attack

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

// ---------------------------------------------------------------------------------------------
// Real peers

/// `openssl s_server -tls1_2 -www` with the lab's two suites, writing its key log.
pub fn openssl_s_server_logging(
    dir: &TestDir,
    key: &Path,
    cert: &Path,
    keylog: &Path,
    conf: Option<&Path>,
) -> (Proc, u16) {
    let suites = format!("{}:{}", RSA.openssl, ECDHE.openssl);
    let args = [
        "-www",
        "-tls1_2",
        "-cipher",
        &suites,
        "-keylogfile",
        path_str(keylog),
    ];
    openssl_s_server(&dir.path, key, cert, &args, conf)
}

/// `openssl s_client -quiet` with one suite sends `request` and prints only what the server
/// sent back; stdin stays open until the server closes.
pub fn openssl_s_client(port: u16, cipher: &str, request: &str, conf: Option<&Path>) -> Finished {
    require_tool("openssl", "openssl");
    let connect = format!("127.0.0.1:{port}");
    let mut cmd = Command::new("openssl");
    cmd.args([
        "s_client", "-connect", &connect, "-tls1_2", "-cipher", cipher, "-ign_eof", "-quiet",
    ]);
    if let Some(conf) = conf {
        cmd.env("OPENSSL_CONF", conf);
    }
    let mut p = Proc::spawn(cmd);
    p.write_stdin(request.as_bytes());
    let done = p.finish(RUN_TIMEOUT);
    assert!(
        done.status.success(),
        "openssl s_client {cipher}: {}",
        done.describe()
    );
    done
}

/// `gnutls-cli --insecure` with one key exchange (`RSA` or `ECDHE-RSA`); `ems` false adds
/// `%NO_SESSION_HASH`.
pub fn gnutls_cli(port: u16, kx: &str, ems: bool, request: &str) -> Finished {
    require_tool("gnutls-cli", "gnutls-bin");
    let priority = format!(
        "NONE:+VERS-TLS1.2:+AES-128-GCM:+AEAD:+{kx}:+SIGN-ALL:+GROUP-SECP256R1:+COMP-NULL{}",
        if ems { "" } else { ":%NO_SESSION_HASH" }
    );
    let port = port.to_string();
    let mut cmd = Command::new("gnutls-cli");
    cmd.args([
        "--insecure",
        "--port",
        &port,
        "--priority",
        &priority,
        "127.0.0.1",
    ]);
    let mut p = Proc::spawn(cmd);
    p.write_stdin(request.as_bytes());
    let done = p.finish(RUN_TIMEOUT);
    assert!(
        done.status.success(),
        "gnutls-cli {kx}: {}",
        done.describe()
    );
    done
}

/// A plain TCP echo server on 127.0.0.1 for `connections` connections, in a thread.
pub fn echo_server(connections: usize) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = l.local_addr().expect("local_addr").port();
    std::thread::spawn(move || {
        for _ in 0..connections {
            let Ok((mut s, _)) = l.accept() else { return };
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 || s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    });
    port
}

/// Sends `data` to 127.0.0.1:port, half-closes, and reads everything back (bounded).
pub fn tcp_exchange(port: u16, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set_read_timeout");
    s.write_all(data).expect("write");
    s.shutdown(std::net::Shutdown::Write).expect("shutdown");
    let mut back = Vec::new();
    let _ = s.read_to_end(&mut back);
    back
}

// ---------------------------------------------------------------------------------------------
// Classic pcap rewriting

/// A classic pcap file: 24-byte global header, then records of a 16-byte header + data.
#[derive(Clone)]
pub struct Pcap {
    pub header: Vec<u8>,
    pub big_endian: bool,
    pub records: Vec<PcapRecord>,
}

#[derive(Clone)]
pub struct PcapRecord {
    /// Offset of the 16-byte record header in the original file.
    pub offset: usize,
    pub header: [u8; 16],
    pub data: Vec<u8>,
}

/// The TCP view of one Ethernet/IPv4 frame.
#[derive(Clone, Debug)]
pub struct TcpView {
    pub src_port: u16,
    pub dst_port: u16,
    /// The TCP payload's byte range within the frame.
    pub payload: Range<usize>,
}

impl Pcap {
    pub fn parse(bytes: &[u8]) -> Pcap {
        assert!(bytes.len() >= 24, "pcap shorter than its header");
        let big_endian = match &bytes[..4] {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
            m => panic!("not a classic pcap (magic {m:02x?})"),
        };
        let u32_at = |b: &[u8]| {
            let a = [b[0], b[1], b[2], b[3]];
            if big_endian {
                u32::from_be_bytes(a)
            } else {
                u32::from_le_bytes(a)
            }
        };
        assert_eq!(
            u32_at(&bytes[20..24]),
            1,
            "these helpers read Ethernet captures only"
        );
        let mut records = Vec::new();
        let mut off = 24;
        while off < bytes.len() {
            assert!(off + 16 <= bytes.len(), "record header cut at {off}");
            let incl = u32_at(&bytes[off + 8..off + 12]) as usize;
            assert!(off + 16 + incl <= bytes.len(), "record data cut at {off}");
            let mut header = [0u8; 16];
            header.copy_from_slice(&bytes[off..off + 16]);
            records.push(PcapRecord {
                offset: off,
                header,
                data: bytes[off + 16..off + 16 + incl].to_vec(),
            });
            off += 16 + incl;
        }
        Pcap {
            header: bytes[..24].to_vec(),
            big_endian,
            records,
        }
    }

    pub fn load(path: &Path) -> Pcap {
        Pcap::parse(&read(path))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header.clone();
        for r in &self.records {
            out.extend_from_slice(&r.header);
            out.extend_from_slice(&r.data);
        }
        out
    }

    pub fn save(&self, path: &Path) {
        write(path, &self.to_bytes());
    }

    /// Index of the first record whose TCP view satisfies `pred`.
    pub fn find(&self, mut pred: impl FnMut(&TcpView, &[u8]) -> bool) -> Option<usize> {
        self.records.iter().position(|r| {
            tcp_view(&r.data)
                .map(|t| pred(&t, &r.data[t.payload.clone()]))
                .unwrap_or(false)
        })
    }
}

/// Ethernet II + IPv4 + TCP, or `None` for anything else.
pub fn tcp_view(frame: &[u8]) -> Option<TcpView> {
    if frame.len() < 14 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 6 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let tcp = ip.get(ihl..total.min(ip.len()))?;
    if tcp.len() < 20 {
        return None;
    }
    let data_offset = usize::from(tcp[12] >> 4) * 4;
    let start = 14 + ihl + data_offset;
    let end = 14 + total.min(ip.len());
    (start <= end).then(|| TcpView {
        src_port: u16::from_be_bytes([tcp[0], tcp[1]]),
        dst_port: u16::from_be_bytes([tcp[2], tcp[3]]),
        payload: start..end,
    })
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
