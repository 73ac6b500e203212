//! The attacker against broken captures (issue 8): truncation at every block boundary, wrong
//! magic, absurd lengths, zero-length and snaplen-cut packets, non-TCP traffic, bit flips
//! anywhere, and 100,000 tiny sessions. Each must end in a clear error or a verdict, in
//! bounded time and memory, without a panic.
//!
//! The in-process checks go through `pfslab::attack::driver::run`, the code `pfslab attack` runs; the
//! binary checks run `pfslab attack` itself on a copy of a capture that `pfslab record` made.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

use pfslab::attack::driver::{self, Progress};
use pfslab::attack::pipeline::CaptureSummary;
use pfslab::attack::{Loot, SessionReport, Verdict};
use pfslab::capture::{Direction, PcapWriter, TcpConversation};
use pfslab::pki;

use crate::capture::fixtures::eth;
use crate::common::{
    build_pcap, build_pcapng, exclusive, read, record, run, Finished, Pcap, Proc, TestDir, PFSLAB,
};

/// A capture `pfslab record` made (one RSA and one ECDHE session) and the key that opens it.
struct Fixture {
    dir: TestDir,
    pcap: Vec<u8>,
    key: PathBuf,
}

fn fixture(name: &str) -> Fixture {
    let dir = TestDir::new(name);
    let keys = dir.join("keys");
    let rec = record(
        dir.path(),
        "lab",
        &keys,
        &["--seed", "1", "--sessions", "rsa=1,ecdhe=1"],
    );
    let pcap = read(&rec.pcap);
    assert_eq!(
        &pcap[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "the recorder writes little-endian microsecond pcap"
    );
    Fixture {
        key: keys.join("server.key"),
        pcap,
        dir,
    }
}

fn loot(key: &Path) -> Loot {
    Loot::new(
        Some(pki::load_private_key(key).expect("load the recorded key")),
        None,
    )
}

/// What `pfslab attack` would conclude, in process: the capture's outcome and every report.
fn attack(path: &Path, loot: &Loot) -> (Result<CaptureSummary, String>, Vec<SessionReport>) {
    let mut reports = Vec::new();
    let outcomes = driver::run(&[path.to_path_buf()], loot, 2, &Progress::default(), |r| {
        reports.push(r)
    });
    assert_eq!(outcomes.len(), 1);
    let result = outcomes
        .into_iter()
        .next()
        .expect("one outcome")
        .result
        .map_err(|e| e.to_string());
    (result, reports)
}

fn verdicts(reports: &[SessionReport]) -> Vec<Verdict> {
    reports.iter().map(|r| r.verdict).collect()
}

/// `pfslab attack --key KEY --table-only PATH`, memory capped at 1 GiB of address space.
fn attack_binary(path: &Path, key: &Path) -> Finished {
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" attack --key \"$1\" --table-only \"$2\"")
        .arg(PFSLAB)
        .arg(key)
        .arg(path);
    run(cmd, b"")
}

/// One `pfslab: error: …` line and exit status 1, or exit status 0; never a crash.
fn assert_clean_exit(done: &Finished, what: &str) {
    match done.status.code() {
        Some(0) => {}
        Some(1) => {
            let lines: Vec<&str> = done
                .stderr
                .lines()
                .filter(|l| l.starts_with("pfslab: error: "))
                .collect();
            assert_eq!(
                lines.len(),
                1,
                "{what}: exit 1 without exactly one error line: {}",
                done.describe()
            );
        }
        _ => panic!(
            "{what}: pfslab attack crashed or was killed: {}",
            done.describe()
        ),
    }
    assert!(
        !done.stderr.contains("panicked"),
        "{what}: {}",
        done.describe()
    );
}

// ---------------------------------------------------------------------------------------------
// Capture surgery

/// Byte ranges of a classic pcap's packet records (header and data).
fn pcap_records(pcap: &[u8]) -> Vec<(usize, usize)> {
    Pcap::parse(pcap)
        .records
        .iter()
        .map(|r| (r.offset, r.offset + 16 + r.data.len()))
        .collect()
}

/// The frames of a pcap, with their original lengths.
fn frames(pcap: &[u8]) -> Vec<Vec<u8>> {
    Pcap::parse(pcap)
        .records
        .into_iter()
        .map(|r| r.data)
        .collect()
}

fn ipv4(proto: u8, flags_frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 1]);
    h.extend_from_slice(&flags_frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0, 10, 9, 9, 1, 10, 9, 9, 2]);
    h.extend_from_slice(payload);
    eth(0x0800, &h)
}

/// Traffic pfslab must skip: UDP (DNS-like), ICMP echo, ARP, IPv6 UDP, a TCP fragment,
/// an unknown EtherType, and a runt frame.
fn non_tcp_frames() -> Vec<Vec<u8>> {
    let udp = [&[0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0, 0][..], b"abcd"].concat();
    let mut ipv6 = vec![0x60, 0, 0, 0, 0, udp.len() as u8, 17, 64];
    ipv6.extend_from_slice(&[0xfd; 16]);
    ipv6.extend_from_slice(&[0xfe; 16]);
    ipv6.extend_from_slice(&udp);
    vec![
        ipv4(17, 0, &udp),
        ipv4(1, 0, &[8, 0, 0, 0, 0, 1, 0, 1]),
        eth(
            0x0806,
            &[
                0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 10, 9, 9, 1, 0, 0, 0, 0, 0, 0, 10, 9, 9,
                2,
            ],
        ),
        eth(0x86dd, &ipv6),
        ipv4(6, 0x2000, &[0u8; 24]),
        eth(0x88b5, b"local experimental"),
        vec![0x02, 0, 0],
    ]
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn the_fixture_decrypts_rsa_and_not_ecdhe() {
    let fx = fixture("broken-fixture");
    let path = fx.dir.write("whole.pcap", &fx.pcap);
    let (result, reports) = attack(&path, &loot(&fx.key));
    let summary = result.expect("the recorded capture reads");
    assert!(summary.truncated.is_none());
    assert_eq!(
        verdicts(&reports),
        [Verdict::Decrypted, Verdict::ForwardSecret]
    );
}

/// Cut at every block boundary (and one, 9 and 17 bytes past it), in pcap and in pcapng: a
/// clear error before the first packet, else the sessions before the cut and a warning.
#[test]
fn truncated_at_every_block_boundary() {
    let fx = fixture("broken-truncated");
    let loot = loot(&fx.key);
    let frames = frames(&fx.pcap);
    let (ng, ng_ends) = build_pcapng(&frames);
    let pcap_ends: Vec<usize> = std::iter::once(24)
        .chain(pcap_records(&fx.pcap).into_iter().map(|(_, e)| e))
        .collect();
    for (name, bytes, ends, header) in [
        ("pcap", &fx.pcap, &pcap_ends, 24usize),
        ("pcapng", &ng, &ng_ends, ng_ends[0]),
    ] {
        let (result, reports) = attack(&fx.dir.write(&format!("whole.{name}"), bytes), &loot);
        assert!(result.expect("whole capture").truncated.is_none());
        assert_eq!(
            verdicts(&reports),
            [Verdict::Decrypted, Verdict::ForwardSecret],
            "{name}"
        );
        let mut cuts: Vec<usize> = std::iter::once(0)
            .chain(ends.iter().flat_map(|&e| [e, e + 1, e + 9, e + 17]))
            .filter(|&c| c < bytes.len())
            .collect();
        cuts.sort();
        cuts.dedup();
        for (n, &cut) in cuts.iter().enumerate() {
            let path = fx.dir.write(&format!("cut.{name}"), &bytes[..cut]);
            let (result, reports) = attack(&path, &loot);
            let on_boundary = ends.contains(&cut);
            match (&result, cut < header) {
                (Err(e), true) => assert!(
                    e.contains("cut.") && (e.contains("truncated") || e.contains("not a pcap")),
                    "{name} cut at {cut}: unclear error {e}"
                ),
                (Ok(s), false) => {
                    assert_eq!(
                        s.truncated.is_some(),
                        !on_boundary,
                        "{name} cut at {cut}: truncation warning {:?}",
                        s.truncated
                    );
                    if let Some(t) = &s.truncated {
                        assert!(
                            t.contains("truncated") || t.contains("malformed"),
                            "{name} cut at {cut}: {t}"
                        );
                    }
                }
                (other, _) => panic!(
                    "{name} cut at {cut} (header {header}): {other:?} with {} reports",
                    reports.len()
                ),
            }
            assert!(reports.len() <= 2);
            // The binary, at every boundary of the pcap and a sample of the rest.
            if name == "pcap" && (on_boundary || n % 7 == 0) {
                let done = attack_binary(&path, &fx.key);
                assert_clean_exit(&done, &format!("{name} cut at {cut}"));
                assert_eq!(
                    done.status.code() == Some(1),
                    cut < header,
                    "{name} cut at {cut}: {}",
                    done.describe()
                );
                if !on_boundary && cut >= header {
                    assert!(
                        done.stderr.contains("warning:") && done.stderr.contains("truncated"),
                        "{name} cut at {cut}: no truncation warning: {}",
                        done.describe()
                    );
                }
            }
        }
    }
}

#[test]
fn wrong_magic_and_non_captures_are_a_clear_error() {
    let fx = fixture("broken-magic");
    let loot = loot(&fx.key);
    let mut wrong = fx.pcap.clone();
    wrong[..4].copy_from_slice(b"GIF8");
    let mut swapped = fx.pcap.clone();
    swapped[..4].copy_from_slice(&[0xa1, 0xb2, 0xc3, 0xd5]);
    let cases: [(&str, Vec<u8>, &str); 5] = [
        ("gif-magic", wrong, "not a pcap or pcapng file"),
        ("near-magic", swapped, "not a pcap or pcapng file"),
        (
            "text",
            b"CLIENT_RANDOM 00 11\n".to_vec(),
            "not a pcap or pcapng file",
        ),
        ("empty", Vec::new(), "truncated"),
        ("three-bytes", vec![0xd4, 0xc3, 0xb2], "truncated"),
    ];
    for (name, bytes, says) in cases {
        let path = fx.dir.write(name, &bytes);
        let (result, reports) = attack(&path, &loot);
        let e = result.expect_err(name);
        assert!(e.contains(says) && e.contains(name), "{name}: {e}");
        assert!(reports.is_empty());
        let done = attack_binary(&path, &fx.key);
        assert_eq!(done.status.code(), Some(1), "{name}: {}", done.describe());
        assert_clean_exit(&done, name);
        assert!(done.stderr.contains(says), "{name}: {}", done.describe());
    }
}

/// Length fields that claim up to 4 GiB: a clear error (or the packets before), quickly,
/// inside a 1 GiB address-space cap for the binary.
#[test]
fn absurd_lengths_are_errors_not_allocations() {
    let fx = fixture("broken-lengths");
    let loot = loot(&fx.key);
    let records = pcap_records(&fx.pcap);
    let (ng, ng_ends) = build_pcapng(&frames(&fx.pcap));
    let set32 = |bytes: &[u8], at: usize, v: u32| {
        let mut b = bytes.to_vec();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    };
    let mid = records[records.len() / 2].0;
    let first_epb = ng_ends[1];
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for v in [u32::MAX, 0x8000_0000, 262_145, 65_536 * 4] {
        cases.push((
            format!("pcap incl_len {v:#x} at the first packet"),
            set32(&fx.pcap, 24 + 8, v),
        ));
        cases.push((
            format!("pcap incl_len {v:#x} mid-file"),
            set32(&fx.pcap, mid + 8, v),
        ));
        cases.push((
            format!("pcap orig_len {v:#x}"),
            set32(&fx.pcap, mid + 12, v),
        ));
        cases.push((
            format!("pcapng block length {v:#x}"),
            set32(&ng, first_epb + 4, v & !3),
        ));
        cases.push((
            format!("pcapng captured length {v:#x}"),
            set32(&ng, first_epb + 20, v),
        ));
        cases.push((
            format!("pcapng section length {v:#x}"),
            set32(&ng, 4, v & !3),
        ));
    }
    cases.push(("pcap snaplen 0".into(), set32(&fx.pcap, 16, 0)));
    cases.push((
        "pcapng block length 13".into(),
        set32(&ng, first_epb + 4, 13),
    ));
    cases.push(("pcapng block length 8".into(), set32(&ng, first_epb + 4, 8)));
    cases.push(("pcapng interface id 7".into(), set32(&ng, first_epb + 8, 7)));
    cases.push(("pcapng idb option overrun".into(), {
        let mut b = ng.clone();
        let idb = ng_ends[0];
        // An option block claiming 0xfff0 bytes inside a 20-byte interface block.
        let mut body = vec![1, 0, 0, 0];
        body.extend_from_slice(&65535u32.to_le_bytes());
        body.extend_from_slice(&[2, 0, 0xf0, 0xff]);
        b.splice(idb + 8..idb + 16, body);
        let len = (b[idb + 4] as usize) + 4;
        b[idb + 4] = len as u8;
        b.splice(idb + len - 8..idb + len - 4, (len as u32).to_le_bytes());
        b
    }));
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let path = fx.dir.write(&format!("absurd-{i}.cap"), bytes);
        let t = Instant::now();
        let (result, _reports) = attack(&path, &loot);
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{name}: took {:?}",
            t.elapsed()
        );
        match &result {
            Err(e) => assert!(
                e.contains("malformed") || e.contains("truncated") || e.contains("not a pcap"),
                "{name}: unclear error {e}"
            ),
            Ok(s) => {
                if let Some(t) = &s.truncated {
                    assert!(
                        t.contains("malformed") || t.contains("truncated"),
                        "{name}: {t}"
                    );
                }
            }
        }
        let done = attack_binary(&path, &fx.key);
        assert_clean_exit(&done, name);
    }
}

/// Zero-length packets are skipped without changing a verdict; packets cut by a snaplen leave
/// gaps the report names, and nothing is claimed decrypted that was not.
#[test]
fn zero_length_and_snaplen_cut_packets() {
    let fx = fixture("broken-snaplen");
    let loot = loot(&fx.key);
    let frames = frames(&fx.pcap);
    let with_empty: Vec<Vec<u8>> = frames
        .iter()
        .flat_map(|f| [Vec::new(), f.clone()])
        .collect();
    let (result, reports) = attack(
        &fx.dir
            .write("empty-packets.pcap", &build_pcap(&with_empty, 65535)),
        &loot,
    );
    let s = result.expect("zero-length packets are readable");
    assert!(s.truncated.is_none());
    assert_eq!(s.skipped.total(), frames.len() as u64, "{:?}", s.skipped);
    assert_eq!(
        verdicts(&reports),
        [Verdict::Decrypted, Verdict::ForwardSecret]
    );

    for snap in [0usize, 14, 34, 54, 60, 96, 200, 1000, 1400, 65535] {
        let path = fx
            .dir
            .write(&format!("snap-{snap}.pcap"), &build_pcap(&frames, snap));
        let (result, reports) = attack(&path, &loot);
        let s = result.unwrap_or_else(|e| panic!("snaplen {snap}: {e}"));
        assert!(s.truncated.is_none(), "snaplen {snap}: {:?}", s.truncated);
        if frames.iter().all(|f| f.len() <= snap) {
            assert_eq!(
                verdicts(&reports),
                [Verdict::Decrypted, Verdict::ForwardSecret],
                "snaplen {snap} cuts nothing"
            );
        } else {
            assert!(
                !reports.iter().any(|r| r.verdict == Verdict::Decrypted),
                "snaplen {snap}: decrypted from cut packets"
            );
        }
        let done = attack_binary(&path, &fx.key);
        assert_eq!(
            done.status.code(),
            Some(0),
            "snaplen {snap}: {}",
            done.describe()
        );
        assert_clean_exit(&done, &format!("snaplen {snap}"));
    }
}

/// Non-TCP traffic around the sessions changes nothing but the skip counts; a capture of only
/// non-TCP traffic says there is no TLS in it.
#[test]
fn non_tcp_traffic_is_skipped() {
    let fx = fixture("broken-non-tcp");
    let loot = loot(&fx.key);
    let others = non_tcp_frames();
    let mut mixed = Vec::new();
    for (i, f) in frames(&fx.pcap).into_iter().enumerate() {
        mixed.push(others[i % others.len()].clone());
        mixed.push(f);
    }
    let inserted = mixed.len() as u64 / 2;
    let path = fx.dir.write("mixed.pcap", &build_pcap(&mixed, 65535));
    let (result, reports) = attack(&path, &loot);
    let s = result.expect("mixed capture");
    assert_eq!(s.skipped.total(), inserted, "{:?}", s.skipped);
    assert!(
        s.skipped.not_tcp > 0 && s.skipped.not_ip > 0 && s.skipped.fragments > 0,
        "{:?}",
        s.skipped
    );
    assert_eq!(
        verdicts(&reports),
        [Verdict::Decrypted, Verdict::ForwardSecret]
    );

    let only = fx.dir.write("only-other.pcap", &build_pcap(&others, 65535));
    let done = attack_binary(&only, &fx.key);
    assert_eq!(done.status.code(), Some(0), "{}", done.describe());
    assert!(
        done.stderr.contains("no TLS sessions found"),
        "{}",
        done.describe()
    );
    let (ng, _) = build_pcapng(&others);
    let (result, reports) = attack(&fx.dir.write("only-other.pcapng", &ng), &loot);
    assert_eq!(result.expect("pcapng of other traffic").tls_sessions, 0);
    assert!(reports.is_empty());
}

/// One to four bit flips anywhere, and every bit of the file and packet headers: never a
/// panic, never more than a few seconds; a failing input is kept in the test directory.
#[test]
fn bit_flips_anywhere() {
    let fx = fixture("broken-bitflips");
    let loot = loot(&fx.key);
    let (ng, _) = build_pcapng(&frames(&fx.pcap));
    let mut r = rand::rngs::ChaCha20Rng::seed_from_u64(8);
    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, base) in [("pcap", &fx.pcap), ("pcapng", &ng)] {
        for bit in 0..(64 * 8) {
            let mut b = base.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            variants.push((format!("{name} header bit {bit}"), b));
        }
        for n in 0..250 {
            let mut b = base.clone();
            let flips = 1 + n % 4;
            let mut at = Vec::new();
            for _ in 0..flips {
                let bit = r.random_range(0..b.len() * 8);
                b[bit / 8] ^= 1 << (bit % 8);
                at.push(bit);
            }
            variants.push((format!("{name} bits {at:?}"), b));
        }
    }
    let path = fx.dir.join("flipped.cap");
    let mut failures = Vec::new();
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    let started = Instant::now();
    for (i, (name, bytes)) in variants.iter().enumerate() {
        std::fs::write(&path, bytes).expect("write variant");
        let t = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| attack(&path, &loot))) {
            Ok((result, reports)) => {
                let kind = match (
                    &result,
                    reports.iter().any(|r| r.verdict == Verdict::Decrypted),
                ) {
                    (Err(_), _) => "error",
                    (Ok(_), true) => "decrypted",
                    (Ok(_), false) => "verdict",
                };
                *outcomes.entry(kind).or_default() += 1;
            }
            Err(_) => {
                let kept = fx.dir.write(&format!("panic-{i}.cap"), bytes);
                failures.push(format!(
                    "{name}: panicked (input kept in {})",
                    kept.display()
                ));
            }
        }
        if t.elapsed() > Duration::from_secs(5) {
            failures.push(format!("{name}: took {:?}", t.elapsed()));
        }
    }
    eprintln!(
        "bit flips: {} variants in {:.1} s: {outcomes:?}",
        variants.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} variants failed:\n{}",
        failures.len(),
        variants.len(),
        failures.join("\n")
    );
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .expect("VmHWM in /proc/self/status")
}

/// 100,000 connections, each a handshake, a cut-short ClientHello and FINs: every one gets a
/// verdict, in bounded time and memory.
#[test]
fn a_hundred_thousand_tiny_sessions() {
    const SESSIONS: u32 = 100_000;
    let _turn = exclusive(); // measures this process's peak memory
    let dir = TestDir::new("broken-100k");
    let path = dir.join("tiny.pcap");
    let t = Instant::now();
    let mut w = PcapWriter::create(&path).expect("create");
    w.set_virtual_clock(
        Duration::from_secs(1_700_000_000),
        Duration::from_micros(10),
    );
    let server = SocketAddr::from(([10, 0, 0, 1], 443));
    // A ClientHello record header and the start of its body, then the stream ends.
    let hello_start = [
        0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03, 0xaa, 0xbb,
    ];
    for i in 0..SESSIONS {
        let client = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::new(10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8),
            40_000 + (i % 20_000) as u16,
        ));
        let mut c = TcpConversation::new(client, server, i.wrapping_mul(2_654_435_761), !i);
        let ts = Duration::ZERO;
        c.data(&mut w, Direction::ClientToServer, &hello_start, ts)
            .expect("data");
        c.fin(&mut w, Direction::ClientToServer, ts).expect("fin");
        c.fin(&mut w, Direction::ServerToClient, ts).expect("fin");
    }
    w.finish().expect("finish");
    let size = std::fs::metadata(&path).expect("stat").len();
    let written = t.elapsed();

    let before = vm_hwm_kib();
    let t = Instant::now();
    let mut counts = [0usize; Verdict::ALL.len()];
    let mut reasons = std::collections::BTreeSet::new();
    let outcomes = driver::run(
        std::slice::from_ref(&path),
        &Loot::default(),
        2,
        &Progress::default(),
        |r| {
            counts[r.verdict as usize] += 1;
            if reasons.len() < 4 {
                reasons.insert(r.reason.clone());
            }
        },
    );
    let took = t.elapsed();
    let peak = vm_hwm_kib();
    let summary = outcomes
        .into_iter()
        .next()
        .expect("one outcome")
        .result
        .expect("the capture reads");
    eprintln!(
        "100k sessions: {size} bytes, {} packets written in {:.1} s; attacked in {:.1} s; peak RSS {} MiB (was {} MiB before); verdicts {counts:?}; reasons {reasons:?}",
        summary.packets,
        written.as_secs_f64(),
        took.as_secs_f64(),
        peak / 1024,
        before / 1024
    );
    assert_eq!(summary.tcp_connections, u64::from(SESSIONS));
    assert_eq!(summary.tls_sessions, u64::from(SESSIONS));
    assert_eq!(counts.iter().sum::<usize>(), SESSIONS as usize);
    assert_eq!(counts[Verdict::NotDecrypted as usize], SESSIONS as usize);
    assert!(peak < 300 * 1024, "peak RSS {} MiB", peak / 1024);
    assert!(took < Duration::from_secs(300), "took {took:?}");

    // The binary on the same file (`inspect`: the same pipeline, no key needed), under a
    // 1 GiB address-space cap.
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg("set -o pipefail; ulimit -v 1048576 && \"$0\" inspect \"$1\" | wc -l")
        .arg(PFSLAB)
        .arg(&path);
    let t = Instant::now();
    let done = Proc::spawn(cmd).finish(Duration::from_secs(300));
    assert!(done.status.success(), "{}", done.describe());
    let rows: usize = done.stdout.trim().parse().expect("line count");
    assert!(
        rows > SESSIONS as usize,
        "inspect printed {rows} lines: {}",
        done.describe()
    );
    eprintln!(
        "pfslab inspect on 100k sessions: {:.1} s",
        t.elapsed().as_secs_f64()
    );
}
