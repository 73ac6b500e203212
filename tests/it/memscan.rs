//! `pfslab memscan` against real processes: the lab server's memory, read live through
//! /proc/PID/mem and from a `gcore` core file, holds the reused ECDHE key that opens every
//! session it served; a server with fresh keys holds nothing once its sessions have ended.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::*;

/// Four sessions through the tap: pfslab TLS 1.2 ECDHE and TLS 1.3, `openssl s_client` TLS 1.2
/// ECDHE and TLS 1.3; each asks for its own token. Returns the tokens by session order.
fn four_sessions(server: &PfslabServer, cap: &Path, client_keylog: &Path) -> Vec<String> {
    let tap = Tap::start(server.addr.port(), cap, Some(4));
    let mut tokens = Vec::new();
    for version in ["1.2", "1.3"] {
        let token = unique_token(&format!("memscan-pfslab-{version}"));
        let done = pfslab_client(
            tap.port,
            &[
                "--tls-version",
                version,
                "--insecure",
                "--request",
                &format!("GET /{token} HTTP/1.0"),
                "--keylog",
                path_str(client_keylog),
            ],
        );
        assert!(done.status.success(), "{}", done.describe());
        server.wait_log_line(&format!("GET /{token} "));
        tokens.push(token);
    }
    for version in ["-tls1_2", "-tls1_3"] {
        let token = unique_token(&format!("memscan-openssl{version}"));
        let mut args = vec![version, "-ign_eof", "-keylogfile", path_str(client_keylog)];
        if version == "-tls1_2" {
            args.extend(["-cipher", "ECDHE-RSA-AES128-GCM-SHA256"]);
        }
        let done = openssl_s_client(
            tap.port,
            &args,
            &format!("GET /{token} HTTP/1.0\r\n\r\n"),
            None,
        );
        assert!(done.status.success(), "{}", done.describe());
        server.wait_log_line(&format!("GET /{token} "));
        tokens.push(token);
    }
    tap.finish();
    tokens
}

/// `pfslab memscan --json` + args; must succeed.
fn memscan_json(args: &[&str]) -> Value {
    let mut all = vec!["memscan", "--json"];
    all.extend_from_slice(args);
    let done = run(pfslab(&all), b"");
    assert!(
        done.status.success(),
        "memscan {all:?}: {}",
        done.describe()
    );
    serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("memscan --json printed no JSON ({e}): {}", done.describe()))
}

/// `gcore -o DIR/core PID`: the core file of a running process (it keeps running).
fn gcore(dir: &TestDir, pid: u32) -> PathBuf {
    require_tool("gcore", "gdb");
    let prefix = dir.join("core");
    let mut cmd = Command::new("gcore");
    cmd.arg("-o").arg(&prefix).arg(pid.to_string());
    let done = run(cmd, b"");
    let core = PathBuf::from(format!("{}.{pid}", path_str(&prefix)));
    assert!(
        done.status.success() && core.is_file(),
        "gcore {pid}: {}",
        done.describe()
    );
    core
}

/// What memscan found, and the sessions its key log opens through `attack --keylog`.
fn check_reused_scalar(report: &Value, keylog: &Path, cap: &Path, tokens: &[String]) {
    let found = report["found"].as_array().expect("found array");
    let scalars: Vec<&Value> = found
        .iter()
        .filter(|f| f["kind"] == "ECDHE P-256 private scalar")
        .collect();
    assert_eq!(scalars.len(), 1, "one reused scalar: {report:#}");
    let scalar = scalars[0];
    // How the lab's server really holds it: p256::SecretKey's crypto-bigint limbs.
    assert_eq!(scalar["encoding"], "LittleEndianLimbs", "{scalar:#}");
    assert_eq!(
        scalar["sessions"].as_array().map(Vec::len),
        Some(4),
        "the one scalar opens all four sessions: {scalar:#}"
    );
    let place = &scalar["places"][0];
    assert!(
        place["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("0x"))
            && place["region"].as_str().is_some_and(|r| r.contains('-')),
        "{place:#}"
    );
    assert_eq!(
        report["opened"].as_array().map(Vec::len),
        Some(4),
        "{report:#}"
    );

    let (verdicts, _) = attack_json(&["--keylog", path_str(keylog), path_str(cap)]);
    assert_eq!(verdicts.len(), 4);
    for (v, token) in verdicts.iter().zip(tokens) {
        assert_eq!(v.verdict, "decrypted", "{v:#?}");
        assert!(
            v.client_data.contains(&format!("GET /{token} HTTP/1.0")),
            "stream {}: {:?}",
            v.stream,
            v.client_data
        );
        assert!(v.server_data.contains("HTTP/1.0 200"), "{v:#?}");
    }
    // tshark reads the same key log.
    let streams: Vec<u64> = verdicts.iter().map(|v| v.stream).collect();
    let followed = follow_tls(cap, &with_keylog(keylog), &streams);
    for (v, token) in verdicts.iter().zip(tokens) {
        let f = &followed[&v.stream];
        assert!(
            String::from_utf8_lossy(&f.first).contains(&format!("GET /{token}")),
            "tshark stream {}",
            v.stream
        );
    }
}

/// With `--reuse-ephemeral forever`, the live server's memory and its core file both give the
/// one scalar that opens every ECDHE and TLS 1.3 session it served (pfslab and OpenSSL clients).
/// The session-ID cache is off (the default) so that the scalar is the only way in.
#[test]
fn a_reused_ephemeral_key_in_memory_opens_every_session() {
    let dir = TestDir::new("memscan-reuse");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(
        &key,
        &cert,
        &["--suites", "ecdhe,tls13", "--reuse-ephemeral", "forever"],
    );
    let cap = dir.join("reuse.pcap");
    let tokens = four_sessions(&server, &cap, &dir.join("clients.keys"));

    let live_keys = dir.join("live.keys");
    let pid = server.proc.id().to_string();
    let live = memscan_json(&[
        "--pid",
        &pid,
        "--keylog-out",
        path_str(&live_keys),
        path_str(&cap),
    ]);
    check_reused_scalar(&live, &live_keys, &cap, &tokens);

    let core = gcore(&dir, server.proc.id());
    let core_keys = dir.join("core.keys");
    let from_core = memscan_json(&[
        "--core",
        path_str(&core),
        "--keylog-out",
        path_str(&core_keys),
        path_str(&cap),
    ]);
    check_reused_scalar(&from_core, &core_keys, &cap, &tokens);
    // The key log memscan writes holds the clients' own secrets.
    let clients = keylog_masters(&dir.join("clients.keys"));
    for (cr, master) in keylog_masters(&live_keys) {
        assert_eq!(clients.get(&cr), Some(&master), "client random {cr}");
    }
}

/// The zeroization claim, tested against real memory: with fresh ephemeral keys (the default)
/// and the session-ID cache off (both the default), once the sessions have ended neither `memscan` (live and from a
/// core; windows at 8-byte boundaries, where `U256` limbs and heap blocks lie) nor a plain byte
/// search of the core at every offset finds an ephemeral scalar, a master secret or a TLS 1.3
/// traffic secret of those sessions. The byte search uses the clients' key logs, so it needs no
/// trust in memscan's filters; the scalars, which no client knows, rest on memscan alone.
/// (With `--session-cache`, the server keeps each TLS 1.2 master secret on purpose, to resume:
/// memscan finds them — lesson 11 shows it.) Before `MasterSecret` was boxed this test failed:
/// moving the secret between handshake states left copies in freed heap blocks.
#[test]
fn a_server_with_fresh_keys_forgets_its_finished_sessions() {
    let dir = TestDir::new("memscan-forget");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &["--suites", "ecdhe,tls13"]);
    let cap = dir.join("fresh.pcap");
    let client_keys = dir.join("clients.keys");
    four_sessions(&server, &cap, &client_keys);

    let pid = server.proc.id().to_string();
    let live = memscan_json(&["--pid", &pid, path_str(&cap)]);
    assert_eq!(live["sessions"], 4, "{live:#}");
    assert!(
        live["candidates_32"].as_u64().is_some_and(|n| n > 100),
        "the scan looked at real candidates: {live:#}"
    );
    assert_eq!(live["found"], Value::Array(vec![]), "{live:#}");
    assert_eq!(live["opened"], Value::Array(vec![]), "{live:#}");

    let core = gcore(&dir, server.proc.id());
    let from_core = memscan_json(&["--core", path_str(&core), path_str(&cap)]);
    assert_eq!(from_core["found"], Value::Array(vec![]), "{from_core:#}");

    let image = read(&core);
    let text = String::from_utf8_lossy(&read(&client_keys)).into_owned();
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [label, _, secret] = f.as_slice() else {
            continue;
        };
        let secret = hex_decode(secret);
        assert!(
            !contains_bytes(&image, &secret[..16]),
            "the core still holds (the first 16 bytes of) the {label} of a finished session"
        );
        checked += 1;
    }
    assert!(checked >= 2 + 2 * 5, "key-log lines checked: {checked}");
}

/// Reading a process the kernel will not let us read (an unprivileged user reading a root
/// process: `setpriv` drops to nobody), a process that does not exist, or a file that is not a
/// core, fails with a message that says why and how to allow it.
#[test]
fn memscan_says_why_it_cannot_read() {
    let dir = TestDir::new("memscan-errors");
    let cap = dir.write("empty.pcap", &build_pcap(&[], 65535));
    require_tool("setpriv", "util-linux");
    let (key, cert) = keygen(&dir, "keys");
    let server = PfslabServer::start(&key, &cert, &[]);
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_pfslab"))
        .args([
            "memscan",
            "--pid",
            &server.proc.id().to_string(),
            path_str(&cap),
        ]);
    let done = run(cmd, b"");
    assert!(!done.status.success(), "{}", done.describe());
    let line = single_error_line(&done);
    for needed in ["refuses", "ptrace_scope", "CAP_SYS_PTRACE", "root"] {
        assert!(line.contains(needed), "{needed:?} missing: {line}");
    }
    let done = run(
        pfslab(&["memscan", "--pid", "4194303", path_str(&cap)]),
        b"",
    );
    assert!(!done.status.success());
    assert!(
        single_error_line(&done).contains("no process 4194303"),
        "{}",
        done.describe()
    );
    let not_core = dir.write("core.txt", b"not a core");
    let done = run(
        pfslab(&["memscan", "--core", path_str(&not_core), path_str(&cap)]),
        b"",
    );
    assert!(!done.status.success());
    assert!(
        single_error_line(&done).contains("no ELF magic"),
        "{}",
        done.describe()
    );
}
