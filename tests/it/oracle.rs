//! Bleichenbacher's padding oracle (`pfslab server --oracle`, issue 18): what the deliberately
//! vulnerable server tells a client that the default server never does.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use rsa::traits::PublicKeyParts;

use pfslab::crypto::rng;
use pfslab::endpoint::server::{PaddingOracle, ServerConfig};
use pfslab::lab::bank_server::{self, ServerHandle, ServerOptions};
use pfslab::pki;
use pfslab::suites;

use crate::abuse::{cke_then_finished, fatal_alert, raw_rsa};
use std::process::Command;

use crate::common::{exclusive, identity, keygen, pfslab, run, PfslabServer, Proc, TestDir};

fn start_oracle_server(padding_oracle: PaddingOracle) -> ServerHandle {
    let id = identity();
    let config = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: id.chain.clone(),
        suites: vec![suites::TLS_RSA_WITH_AES_128_GCM_SHA256],
        keylog: None,
        dh_group: pfslab::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle,
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    bank_server::spawn(
        listener,
        ServerOptions {
            config,
            timeout: Duration::from_secs(10),
            max_connections: 16,
            seed: Some(7),
        },
        false,
    )
    .expect("spawn server")
}

/// Strong: an immediate handshake_failure alert, before the client's Finished, exactly when the
/// decryption does not start 00 02; weak: exactly for a conformant padding with a message that
/// is not 48 bytes. Every other ClientKeyExchange gets the default server's answer (bad_record_mac
/// at a wrong Finished), and the right premaster still completes the handshake.
#[test]
fn oracle_servers_answer_one_class_of_paddings_differently() {
    let _turn = exclusive();
    let public = rsa::PublicKey::from(&*identity().key);
    let k = public.size();
    let mut r = rng::from_seed(18, "padding oracle server");
    let mut client_premaster: [u8; 48] = rng::random_array(&mut r);
    client_premaster[..2].copy_from_slice(&[3, 3]);
    let mut wrong: [u8; 48] = rng::random_array(&mut r);
    wrong[..2].copy_from_slice(&[3, 3]);
    let encrypt =
        |m: &[u8], r: &mut rng::LabRng| pki::rsa_encrypt_pkcs1(&public, m, r).expect("encrypt");
    let right = encrypt(&client_premaster, &mut r);
    let wrong_48 = encrypt(&wrong, &mut r);
    let wrong_47 = encrypt(&wrong[..47], &mut r);
    let mut type_1 = vec![0x00, 0x01];
    type_1.extend(vec![0xff; k - 3 - 48]);
    type_1.push(0x00);
    type_1.extend_from_slice(&wrong);
    let type_1 = raw_rsa(&public, &type_1);
    let mut no_separator = vec![0x00, 0x02];
    no_separator.extend(vec![0x5a; k - 2]);
    let no_separator = raw_rsa(&public, &no_separator);

    let handshake_failure = fatal_alert(40);
    let bad_record_mac = fatal_alert(20);
    // (name, ciphertext, leaks under strong, leaks under weak)
    let cases: [(&str, &[u8], bool, bool); 4] = [
        (
            "conformant, 48 bytes, wrong premaster",
            &wrong_48,
            false,
            false,
        ),
        ("conformant, 47 bytes", &wrong_47, false, true),
        ("00 02 without a separator", &no_separator, false, false),
        ("block type 01", &type_1, true, false),
    ];
    for (mode, pick) in [(PaddingOracle::Strong, 0), (PaddingOracle::Weak, 1)] {
        let handle = start_oracle_server(mode);
        let addr = handle.local_addr;
        let control = cke_then_finished(addr, 300, &right, &client_premaster);
        assert!(
            control.early.is_none()
                && control
                    .after_finished
                    .starts_with(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]),
            "{mode:?}: the right premaster did not finish the handshake"
        );
        for (i, (name, ct, strong, weak)) in cases.iter().enumerate() {
            let leaks = [*strong, *weak][pick];
            let answer = cke_then_finished(addr, 301 + i as u64, ct, &client_premaster);
            if leaks {
                assert_eq!(
                    answer.early.as_deref(),
                    Some(&handshake_failure[..]),
                    "{mode:?}, {name}: expected handshake_failure right after the ClientKeyExchange"
                );
            } else {
                assert!(answer.early.is_none(), "{mode:?}, {name}: answered early");
                assert_eq!(
                    answer.after_finished, bad_record_mac,
                    "{mode:?}, {name}: expected the default answer"
                );
            }
        }
    }
}

#[test]
fn oracle_server_refuses_a_non_loopback_address() {
    let out = run(
        pfslab(&["server", "--oracle", "strong", "--listen", "0.0.0.0:0"]),
        &[],
    );
    assert!(!out.status.success(), "{}", out.describe());
    assert!(
        out.stderr.contains("listens only on loopback"),
        "{}",
        out.describe()
    );
}

/// An outside tool confirms both modes: ROBOT's own scanner (robot-detect, PyPI) finds the
/// oracle in `--oracle strong` and nothing in the default server.
#[test]
fn robot_detect_finds_the_strong_oracle_and_nothing_in_the_default_server() {
    let dir = TestDir::new("robot-detect");
    let (key, cert) = keygen(&dir, "keys");
    for (extra, vulnerable) in [
        (&["--suites", "rsa,rsa-cbc", "--oracle", "strong"][..], true),
        (&["--suites", "rsa,rsa-cbc"][..], false),
    ] {
        let server = PfslabServer::start(&key, &cert, extra);
        let mut cmd = Command::new("scripts/robot-detect.sh");
        cmd.args(["-p", &server.port(), "127.0.0.1"]);
        let mut p = Proc::spawn(cmd);
        p.close_stdin();
        // The first run sets up the virtual environment (pip) first.
        let out = p.finish(Duration::from_secs(300));
        let verdict = if vulnerable {
            "VULNERABLE! Oracle (strong) found"
        } else {
            "NOT VULNERABLE!"
        };
        assert!(
            out.stdout.contains(verdict),
            "{extra:?}: robot-detect did not say {verdict:?}: {}",
            out.describe()
        );
    }
}
