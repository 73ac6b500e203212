//! tshark, the independent judge: one wrapper to run it, the options that give it a port,
//! a key or a key log, every packet of a capture in one pass, and `-z follow` streams.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use super::{hex_decode, path_str, require_tool, run};

/// Expert info severities (epan/proto.h `PI_CHAT`, `PI_WARN`).
pub const PI_CHAT: u32 = 0x0020_0000;
pub const PI_WARN: u32 = 0x0060_0000;

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

/// Runs `tshark -n -r cap` with `opts` then `args`; must exit 0. Returns stdout.
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

/// One packet as tshark dissects it (only the fields these tests look at).
#[derive(Clone, Debug, Default)]
pub struct PacketRow {
    pub frame: u64,
    /// `None` for a packet that is not TCP.
    pub stream: Option<u64>,
    pub dst_port: Option<u16>,
    /// SYN without ACK: a connection attempt.
    pub syn: bool,
    /// `tcp.analysis.flags` as tshark prints it: empty unless TCP analysis flagged the packet
    /// (retransmission, lost segment, …).
    pub tcp_analysis: String,
    pub tls_content_types: Vec<u8>,
    pub handshake_types: Vec<u8>,
    /// Hex, lower case, no colons.
    pub handshake_randoms: Vec<String>,
    /// As tshark prints them, e.g. `0x009c`.
    pub cipher_suites: Vec<String>,
    /// `supported_versions` in hellos, as tshark prints them, e.g. `0x0304`.
    pub supported_versions: Vec<String>,
    pub http_methods: Vec<String>,
    pub http_response_codes: Vec<String>,
    pub malformed: bool,
    pub severities: Vec<u32>,
    pub expert_messages: String,
}

impl PacketRow {
    pub fn http_request(&self) -> bool {
        !self.http_methods.is_empty()
    }
}

/// Every packet of a capture in one tshark run.
#[derive(Clone, Debug)]
pub struct Overview {
    pub rows: Vec<PacketRow>,
}

const OVERVIEW_FIELDS: [&str; 16] = [
    "frame.number",
    "tcp.stream",
    "tcp.dstport",
    "tcp.flags.syn",
    "tcp.flags.ack",
    "tcp.analysis.flags",
    "tls.record.content_type",
    "tls.handshake.type",
    "tls.handshake.random",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions.supported_version",
    "http.request.method",
    "http.response.code",
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

fn lower_list(field: &str) -> Vec<String> {
    field
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().to_ascii_lowercase())
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
                tcp_analysis: get(5).to_string(),
                tls_content_types: list(get(6)),
                handshake_types: list(get(7)),
                handshake_randoms: lower_list(get(8))
                    .into_iter()
                    .map(|r| r.replace(':', ""))
                    .collect(),
                cipher_suites: lower_list(get(9)),
                supported_versions: lower_list(get(10)),
                http_methods: list(get(11)),
                http_response_codes: list(get(12)),
                malformed: !get(13).trim().is_empty(),
                severities: list(get(14)),
                expert_messages: get(15).to_string(),
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
        self.streams_where(|r| r.http_request())
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

    /// (client bytes, server bytes), placing the first speaker by its address.
    pub fn by_side(&self, client: &str, server: &str) -> (&[u8], &[u8]) {
        if self.first_addr == server {
            (&self.second, &self.first)
        } else if self.first_addr == client {
            (&self.first, &self.second)
        } else {
            panic!(
                "tshark's first speaker {} is neither {client} nor {server}",
                self.first_addr
            );
        }
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
