//! Weak or backdoored finite-field groups (issue 18): `pfslab dhparams --backdoor` makes a
//! prime p with p−1 = 2·∏(small qᵢ); OpenSSL is the outside judge that p is prime and that the
//! PEM is what `openssl dhparam` reads.

use num_bigint::BigUint;

use crate::common::*;

/// The p in `openssl dhparam -text` output ("P:" then hex lines of "aa:bb:…").
fn openssl_p(text: &str) -> BigUint {
    let mut hex = String::new();
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("P:") {
            inside = true;
            continue;
        }
        if inside {
            if t.contains(':') && t.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                hex.extend(t.chars().filter(|c| *c != ':'));
            } else {
                break;
            }
        }
    }
    BigUint::parse_bytes(hex.as_bytes(), 16).expect("P in openssl's output")
}

fn openssl(args: &[&str]) -> Finished {
    let mut cmd = std::process::Command::new("openssl");
    cmd.args(args);
    run(cmd, b"")
}

#[test]
fn dhparams_backdoor_is_a_prime_openssl_reads_with_a_smooth_p_minus_1() {
    require_tool("openssl", "openssl");
    let dir = TestDir::new("dhparams-backdoor");
    let pem = dir.join("backdoored.pem");
    let done = run(
        pfslab(&[
            "dhparams",
            "--backdoor",
            "--bits",
            "2048",
            "--factor-bits",
            "20",
            "--seed",
            "5",
            "--out",
            path_str(&pem),
        ]),
        b"",
    );
    assert!(done.status.success(), "{}", done.describe());
    assert!(
        done.stdout.contains("p of 2048 bits"),
        "{}",
        done.describe()
    );

    let text = openssl(&["dhparam", "-in", path_str(&pem), "-text", "-noout"]);
    assert!(text.status.success(), "{}", text.describe());
    assert!(
        text.stdout.contains("DH Parameters: (2048 bit)"),
        "{}",
        text.stdout
    );
    let p = openssl_p(&text.stdout);
    assert_eq!(p.bits(), 2048);

    // OpenSSL's own primality test on p, and its refusal to call p safe.
    let prime = openssl(&["prime", "-hex", &format!("{p:x}")]);
    assert!(prime.stdout.contains("is prime"), "{}", prime.describe());
    let check = openssl(&["dhparam", "-in", path_str(&pem), "-check", "-noout"]);
    assert!(
        check.describe().contains("not safe prime"),
        "{}",
        check.describe()
    );

    // The instructor's file: primes of ≤ 20 bits, distinct, multiplying back to p − 1; each
    // one checked by OpenSSL too, and g's order divisible by each.
    let factors = std::fs::read_to_string(dir.join("backdoored.pem.factors")).unwrap();
    let qs: Vec<BigUint> = factors
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert!(qs.len() > 100, "2047 bits of ≤ 20-bit primes: {}", qs.len());
    let prod: BigUint = qs.iter().product();
    assert_eq!(prod, &p - 1u32);
    let mut sorted = qs.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), qs.len(), "distinct");
    let args: Vec<String> = qs.iter().map(|q| q.to_string()).collect();
    let mut cmd = std::process::Command::new("openssl");
    cmd.arg("prime").args(&args);
    let all = run(cmd, b"");
    assert_eq!(
        all.stdout.matches("is prime").count(),
        qs.len(),
        "{}",
        all.describe()
    );
    let g = BigUint::from(2u32);
    assert!(text.stdout.contains("G:    2 (0x2)"), "{}", text.stdout);
    for q in qs.iter().filter(|q| **q != BigUint::from(2u32)) {
        assert!(q.bits() <= 20);
        assert_ne!(
            g.modpow(&((&p - 1u32) / q), &p),
            BigUint::from(1u32),
            "order of g misses {q}"
        );
    }
}
