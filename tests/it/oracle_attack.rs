//! `pfslab oracle-attack` (issue 18): Bleichenbacher's attack against a live `--oracle strong`
//! server gives back a recorded RSA session without the server's key; the default server, which
//! answers every padding alike, gives nothing after a bounded probe.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{
    path_str, pfslab, record, run, single_error_line, text, Finished, PfslabServer, Proc,
    Recording, TestDir,
};

/// A bound, not a timing: an RSA-1024 attack takes some thousands of handshakes.
const ATTACK_LIMIT: Duration = Duration::from_secs(600);

/// An RSA-1024 key (short attacks) and a recording of one RSA and one ECDHE login with it.
fn recording_with_a_small_key(
    dir: &TestDir,
) -> (Recording, std::path::PathBuf, std::path::PathBuf) {
    let keys = dir.join("keys");
    let done = run(
        pfslab(&[
            "keygen",
            "--bits",
            "1024",
            "--seed",
            "18",
            "--out-dir",
            path_str(&keys),
        ]),
        b"",
    );
    assert!(done.status.success(), "keygen: {}", done.describe());
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &["--seed", "18", "--sessions", "rsa=1,ecdhe=1"],
    );
    (rec, keys.join("server.key"), keys.join("server.crt"))
}

fn oracle_attack(server: &PfslabServer, capture: &Path, session: u64, extra: &[&str]) -> Finished {
    let connect = format!("127.0.0.1:{}", server.port());
    let session = session.to_string();
    let mut args = vec![
        "oracle-attack",
        "--connect",
        &connect,
        "--capture",
        path_str(capture),
        "--session",
        &session,
    ];
    args.extend_from_slice(extra);
    let mut p = Proc::spawn(pfslab(&args));
    p.close_stdin();
    p.finish(ATTACK_LIMIT)
}

fn stream_of(rec: &Recording, kx: &str) -> u64 {
    rec.truth
        .iter()
        .find(|t| t.key_exchange == kx)
        .unwrap_or_else(|| panic!("no {kx} session in the answer key"))
        .stream
}

/// The strong oracle gives up the recorded RSA login: the decrypted bytes are the answer key's,
/// the route is the padding oracle, and the server's key was never loaded. The ECDHE session
/// is refused with a reason (no premaster crossed the wire).
#[test]
fn oracle_attack_recovers_a_recorded_rsa_login_from_a_strong_oracle() {
    let dir = TestDir::new("oracle-attack");
    let (rec, key, cert) = recording_with_a_small_key(&dir);
    let server = PfslabServer::start(&key, &cert, &["--suites", "rsa", "--oracle", "strong"]);
    let rsa = stream_of(&rec, "rsa");
    let done = oracle_attack(&server, &rec.pcap, rsa, &["--json"]);
    assert!(done.status.success(), "{}", done.describe());
    let v: Value = serde_json::from_str(&done.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", done.describe()));
    assert_eq!(text(&v, "route"), "padding-oracle", "{v:#}");
    let queries = v["queries"].as_u64().expect("queries");
    assert!(queries > 100, "{queries} queries: {v:#}");
    assert!(v["elapsed_seconds"].as_f64().is_some(), "{v:#}");
    let session = &v["session"];
    assert_eq!(text(session, "verdict"), "decrypted", "{v:#}");
    let truth = rec
        .truth
        .iter()
        .find(|t| t.stream == rsa)
        .expect("truth session");
    assert_eq!(text(session, "client_data"), truth.client_data);
    assert_eq!(text(session, "server_data"), truth.server_data);
    assert!(
        text(session, "secret_source").contains(&format!(
            "Bleichenbacher's attack: {queries} queries to the live server; the RSA key was never used"
        )),
        "{v:#}"
    );
    assert!(
        text(session, "reason").contains("both Finished messages verify"),
        "{v:#}"
    );
    // The premaster starts with the ClientHello's version (TLS 1.2).
    assert!(text(&v, "premaster").starts_with("0303"), "{v:#}");

    let ecdhe = oracle_attack(&server, &rec.pcap, stream_of(&rec, "ecdhe"), &[]);
    let line = single_error_line(&ecdhe);
    assert!(
        line.contains("is not an RSA key-transport session (ECDHE"),
        "{line}"
    );
}

/// The default server answers every ClientKeyExchange alike (RFC 5246 §7.4.7.1): the attack
/// stops after its probe with the "no oracle" line, having decrypted nothing. A `--oracle weak`
/// server singles out only conformant blocks with a wrong message length: the probe says so and
/// the attack, which needs a strong oracle, does not start either.
#[test]
fn oracle_attack_learns_nothing_from_the_default_or_a_weak_server() {
    let dir = TestDir::new("oracle-attack-none");
    let (rec, key, cert) = recording_with_a_small_key(&dir);
    for (extra, expected) in [
        (
            &["--suites", "rsa"][..],
            "pfslab: error: no oracle: the server answers every padding the same way (9 probes:",
        ),
        (
            &["--suites", "rsa", "--oracle", "weak"][..],
            "pfslab: error: only a weak oracle: of 9 probes, a conformant block with a 47-byte message drew fatal alert handshake_failure",
        ),
    ] {
        let server = PfslabServer::start(&key, &cert, extra);
        let done = oracle_attack(&server, &rec.pcap, stream_of(&rec, "rsa"), &["--quiet"]);
        let line = single_error_line(&done);
        assert!(line.starts_with(expected), "{extra:?}: {line}");
        assert!(line.contains("bad_record_mac"), "{extra:?}: {line}");
        assert!(done.stdout.is_empty(), "{extra:?}: {}", done.describe());
    }
}

#[test]
fn oracle_attack_refuses_a_non_loopback_server() {
    let done = run(
        pfslab(&[
            "oracle-attack",
            "--connect",
            "192.0.2.1:443",
            "--capture",
            "/nonexistent.pcap",
            "--session",
            "0",
        ]),
        b"",
    );
    let line = single_error_line(&done);
    assert!(
        line.contains("asks only loopback addresses, not 192.0.2.1:443"),
        "{line}"
    );
}
