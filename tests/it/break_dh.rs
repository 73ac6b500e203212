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

/// `openssl s_client` (TLS 1.2, DHE-RSA-AES128-GCM-SHA256) → tap → `pfslab server --suites dhe
/// --dh-params FILE`; then `attack --break-dh` on the capture, with no key and no key log.
fn s_client_dhe_through_the_tap(
    dir: &TestDir,
    server_args: &[&str],
) -> (std::path::PathBuf, String) {
    let (key, cert) = keygen(dir, "keys");
    let mut args = vec!["--suites", "dhe"];
    args.extend_from_slice(server_args);
    let server = PfslabServer::start(&key, &cert, &args);
    let cap = dir.join("dhe.pcap");
    let tap = Tap::start(server.addr.port(), &cap, Some(1));
    let token = unique_token("break-dh");
    let request = bank_request_with_cookie(&token);
    let done = openssl_s_client_verified(
        tap.port,
        &cert,
        &["-tls1_2", "-cipher", DHE.openssl],
        &request,
        None,
    );
    let why = || done.beside("openssl s_client", "server", &server.proc);
    assert!(done.status.success(), "{}", why());
    assert!(
        done.stdout
            .contains(&format!("New, TLSv1.2, Cipher is {}", DHE.openssl)),
        "{}",
        why()
    );
    assert!(
        done.stdout.contains("Server Temp Key: DH, 2048 bits"),
        "{}",
        why()
    );
    tap.finish();
    (cap, token)
}

#[test]
fn break_dh_decrypts_a_dhe_session_in_a_backdoored_group() {
    require_tool("openssl", "openssl");
    let dir = TestDir::new("break-dh-backdoor");
    let pem = dir.join("backdoored.pem");
    let made = run(
        pfslab(&[
            "dhparams",
            "--backdoor",
            "--factor-bits",
            "24",
            "--seed",
            "18",
            "--out",
            path_str(&pem),
        ]),
        b"",
    );
    assert!(made.status.success(), "{}", made.describe());
    let (cap, token) = s_client_dhe_through_the_tap(&dir, &["--dh-params", path_str(&pem)]);

    let (verdicts, done) = attack_json(&[path_str(&cap), "--break-dh"]);
    assert_eq!(verdicts.len(), 1, "{}", done.describe());
    let v = &verdicts[0];
    assert_eq!(v.key_exchange, "dhe", "{v:#?}");
    assert_eq!(v.verdict, "decrypted", "{v:#?}");
    assert!(v.client_data.contains(&token), "{v:#?}");
    assert!(v.client_data.starts_with("GET /"), "{v:#?}");
    assert_eq!(text(&v.raw, "client_finished"), "verified", "{v:#?}");
    assert_eq!(text(&v.raw, "server_finished"), "verified", "{v:#?}");
    let route = text(&v.raw, "secret_source");
    assert!(
        route.contains("Pohlig-Hellman"),
        "the route names the attack: {route}"
    );
    assert!(route.contains("the largest of 24 bits"), "{route}");

    // Without --break-dh (and with nothing else) the attacker has nothing to try.
    let none = attack(&[path_str(&cap)]);
    assert!(!none.status.success(), "{}", none.describe());
}

#[test]
fn break_dh_stops_at_ffdhe2048_and_says_what_it_would_cost() {
    require_tool("openssl", "openssl");
    let dir = TestDir::new("break-dh-ffdhe");
    let (cap, _) = s_client_dhe_through_the_tap(&dir, &[]);
    let (verdicts, done) = attack_json(&[path_str(&cap), "--break-dh"]);
    assert_eq!(verdicts.len(), 1, "{}", done.describe());
    let v = &verdicts[0];
    assert_eq!(v.verdict, "forward-secret", "{v:#?}");
    assert!(
        v.reason.contains(
            "the largest prime factor of p-1 has 2047 bits: Pohlig-Hellman would need ~2^1023 group operations"
        ),
        "{}",
        v.reason
    );
    assert!(v.client_data.is_empty(), "{v:#?}");
}
