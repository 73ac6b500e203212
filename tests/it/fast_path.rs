//! The attacker's fast RSA path (AWS-LC) gives exactly what the rsa crate's constant-time
//! path gives: same verdicts, same bytes, session by session.

use std::path::Path;

use pfslab::attack::driver::analyse_connection;
use pfslab::attack::pipeline::for_each_tls_connection;
use pfslab::attack::{Loot, ResumptionCache, SessionReport};

use crate::common::{record, TestDir};

/// Every session of `pcap` analysed with loot `a` and with loot `b`.
fn for_each_session_on_both(
    pcap: &Path,
    a: &Loot,
    b: &Loot,
    mut check: impl FnMut(u64, SessionReport, SessionReport),
) {
    let cache = ResumptionCache::default();
    for_each_tls_connection(pcap, |c| {
        check(
            c.stream,
            analyse_connection("lab", &c, a, &cache),
            analyse_connection("lab", &c, b, &cache),
        )
    })
    .unwrap();
}

#[test]
fn fast_and_constant_time_paths_agree_on_every_session() {
    let dir = TestDir::new("fastpath");
    let keys = dir.join("keys");
    let pcap = record(
        dir.path(),
        "lab",
        &keys,
        &["--sessions", "rsa=6,ecdhe=2,rsa256=2", "--seed", "21"],
    )
    .pcap;
    let key = pfslab::pki::load_private_key(&keys.join("server.key")).unwrap();
    let fast = Loot::new(Some(key.clone()), None);
    assert!(
        fast.fast_key.is_some(),
        "a 2048-bit two-prime key must get the fast path"
    );
    let slow = Loot::without_fast_path(Some(key), None);
    let mut compared = 0;
    for_each_session_on_both(&pcap, &fast, &slow, |stream, a, b| {
        assert_eq!(a.verdict, b.verdict, "session {stream}");
        assert_eq!(a.client_data, b.client_data);
        assert_eq!(a.server_data, b.server_data);
        assert_eq!(a.master_secret.as_deref(), b.master_secret.as_deref());
        compared += 1;
    });
    assert_eq!(compared, 10);
    // And a foreign key fails the same way on both paths.
    let mut r = pfslab::crypto::rng::from_seed(5, "other key");
    let other = pfslab::pki::generate_key(&mut r, 2048).unwrap();
    let fast = Loot::new(Some(other.clone()), None);
    let slow = Loot::without_fast_path(Some(other), None);
    for_each_session_on_both(&pcap, &fast, &slow, |_, a, b| {
        assert_eq!(a.verdict, b.verdict);
        assert_eq!(a.reason, b.reason);
    });
}
