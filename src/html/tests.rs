//! The page from sessions driven in memory by the lab's own client and server (and from the
//! committed OpenSSL resumption capture), recovered by `attack::recover` as the command does.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use super::*;
use crate::attack::observe::ObservedSession;
use crate::attack::pipeline::for_each_tls_connection;
use crate::attack::{recover, Loot, ResumptionCache};
use crate::crypto::rng;
use crate::endpoint::client::{client_connection, ClientConfig, ServerVerification};
use crate::endpoint::conn::Connection;
use crate::endpoint::server::{server_connection, ServerConfig};
use crate::keylog::{KeyLog, KeyLogWriter};
use crate::pki;
use crate::suites::{self, Suite};
use crate::test_support::TempDir;

pub(crate) struct Identity {
    pub(crate) key: Arc<rsa::PrivateKey>,
    pub(crate) cert: Vec<u8>,
}

pub(crate) fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let mut r = rng::from_seed(7, "html test identity");
        let key = pki::generate_key(&mut r, 2048).expect("key");
        let not_before = SystemTime::now() - Duration::from_secs(3600);
        let cert = pki::self_signed_cert(&key, &pki::CertParams::lab_default(not_before), &mut r)
            .expect("certificate");
        Identity {
            key: Arc::new(key),
            cert,
        }
    })
}

/// Moves bytes both ways until both sides are quiet, keeping what crossed each way.
pub(crate) fn transfer(c: &mut Connection, s: &mut Connection, wire: &mut (Vec<u8>, Vec<u8>)) {
    for _ in 0..20 {
        let (c2s, s2c) = (c.take_output(), s.take_output());
        if c2s.is_empty() && s2c.is_empty() {
            return;
        }
        wire.0.extend_from_slice(&c2s);
        wire.1.extend_from_slice(&s2c);
        s.read_tls(&c2s).expect("server reads");
        c.read_tls(&s2c).expect("client reads");
    }
    panic!("the exchange did not settle");
}

/// One session over the lab's endpoints: `request`, then `response`, as a capture shows it.
fn session(
    stream: u64,
    suite: Suite,
    request: &[u8],
    response: &[u8],
    keylog: Option<Arc<KeyLogWriter>>,
) -> TlsConnection {
    let id = identity();
    let server = Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: vec![id.cert.clone()],
        suites: vec![
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
            suites::TLS13_AES_128_GCM_SHA256,
            suites::TLS_RSA_WITH_AES_128_CBC_SHA,
        ],
        keylog,
        dh_group: crate::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    });
    let client = Arc::new(ClientConfig {
        suites: vec![suite],
        server_name: "localhost".into(),
        verification: ServerVerification::TrustAnchor(id.cert.clone()),
        offer_ems: true,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    });
    let mut c = client_connection(client, rng::from_seed(stream, "c")).expect("client");
    let mut s = server_connection(server, rng::from_seed(stream, "s")).expect("server");
    let mut wire = (Vec::new(), Vec::new());
    transfer(&mut c, &mut s, &mut wire);
    c.send(request).expect("request");
    transfer(&mut c, &mut s, &mut wire);
    s.send(response).expect("response");
    s.send_close_notify();
    transfer(&mut c, &mut s, &mut wire);
    TlsConnection {
        stream,
        client: format!("10.0.0.2:{}", 50000 + stream)
            .parse()
            .expect("address"),
        server: "10.0.0.1:443".parse().expect("address"),
        session: ObservedSession::observe(&wire.0, &wire.1),
        notes: Vec::new(),
    }
}

fn inputs(key: bool, keylog: bool) -> ReportInputs {
    ReportInputs {
        captures: vec!["memory.pcap".into()],
        key: key.then(|| "server.key".into()),
        keylog: keylog.then(|| "lab.sslkeylog".into()),
        ticket_keys: Vec::new(),
        assumed_dlog: None,
    }
}

fn page(conns: &[TlsConnection], loot: &Loot, inputs: ReportInputs) -> String {
    let cache = ResumptionCache::default();
    let mut report = HtmlReport::new(inputs);
    for conn in conns {
        report.add(0, conn, &recover(&conn.session, loot, &cache));
    }
    report.render()
}

/// (data-stream, data-verdict) of every card, in page order.
fn cards(html: &str) -> Vec<(String, String)> {
    html.split("<section class=\"session\"")
        .skip(1)
        .map(|card| {
            let attr = |name: &str| {
                let start = card.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
                card[start..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            };
            (attr("data-stream"), attr("data-verdict"))
        })
        .collect()
}

/// The `data-status` of the chain box `data-secret="id"` in the card of `stream`.
fn status(html: &str, stream: u64, id: &str) -> String {
    let card = html
        .split("<section class=\"session\"")
        .skip(1)
        .find(|c| c.contains(&format!("data-stream=\"{stream}\"")))
        .expect("card");
    let node = card
        .split("class=\"node ")
        .find(|n| n.contains(&format!("data-secret=\"{id}\"")))
        .unwrap_or_else(|| panic!("no box {id} in card {stream}"));
    let start = node.find("data-status=\"").expect("status") + 13;
    node[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn one_card_per_session_with_its_verdict() {
    let conns = [
        session(
            0,
            suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
            b"GET /a HTTP/1.0\r\n\r\n",
            b"ok",
            None,
        ),
        session(
            1,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            b"GET /b HTTP/1.0\r\n\r\n",
            b"ok",
            None,
        ),
        session(
            2,
            suites::TLS13_AES_128_GCM_SHA256,
            b"GET /c HTTP/1.0\r\n\r\n",
            b"ok",
            None,
        ),
    ];
    let loot = Loot::new(Some((*identity().key).clone()), None);
    let html = page(&conns, &loot, inputs(true, false));
    assert_eq!(
        cards(&html),
        [
            ("0".to_string(), "decrypted".to_string()),
            ("1".into(), "forward-secret".into()),
            ("2".into(), "forward-secret".into()),
        ]
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("data-verdict=\"decrypted\" data-count=\"1\""),
        "{html}"
    );
    assert!(html.contains("data-verdict=\"forward-secret\" data-count=\"2\""));
    assert!(
        html.contains("The stolen key opened 1 session (0)"),
        "{html}"
    );
    // One SVG ladder per card, drawn from what crossed the wire.
    assert_eq!(html.matches("<svg class=\"ladder\"").count(), 3);
    assert!(html.contains("GET /a HTTP/1.0"));
    assert!(
        !html.contains("GET /b"),
        "ECDHE plaintext cannot be in the page"
    );
    // Self-contained: nothing to fetch, nothing to run.
    for forbidden in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        let outside_svg_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !outside_svg_ns.contains(forbidden),
            "{forbidden} in the page"
        );
    }
}

#[test]
fn hostile_plaintext_is_escaped() {
    let evil_request = b"GET /</script><img src=x onerror=alert(1)> HTTP/1.0\r\n\r\n";
    let evil_response = b"<script>alert(\"pwned\")</script>&amp; \x00\x1b[31m";
    let conns = [session(
        0,
        suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
        evil_request,
        evil_response,
        None,
    )];
    let loot = Loot::new(Some((*identity().key).clone()), None);
    let html = page(&conns, &loot, inputs(true, false));
    assert_eq!(cards(&html).len(), 1);
    for raw in ["<img", "<script", "</script>", "onerror=alert(1)>"] {
        assert!(!html.contains(raw), "{raw} reached the page unescaped");
    }
    assert!(
        html.contains("GET /&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; HTTP/1.0"),
        "the request is shown, escaped, in the conversation and the overview"
    );
    assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&amp;amp;"));
    assert!(
        html.contains("\\x00\\x1b[31m"),
        "control bytes are shown as escapes"
    );
}

#[test]
fn rsa_chain_shows_the_recovered_keys_and_why_gcm_has_no_mac_keys() {
    let conn = session(
        0,
        suites::TLS_RSA_WITH_AES_128_GCM_SHA256,
        b"GET / HTTP/1.0\r\n\r\n",
        b"ok",
        None,
    );
    let loot = Loot::new(Some((*identity().key).clone()), None);
    let r = recover(&conn.session, &loot, &ResumptionCache::default());
    let rows = chain::nodes(&conn.session, &r);
    let (Some((master, _)), Some(cr), Some(sr)) = (
        &r.master,
        conn.session.client_random(),
        conn.session.server_random(),
    ) else {
        panic!("the stolen key recovers the master secret");
    };
    let kb =
        crate::tls12::keys::key_block(&suites::TLS_RSA_WITH_AES_128_GCM_SHA256, master, &cr, &sr);
    let find = |id: &str| {
        rows.iter()
            .flatten()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("no box {id}"))
    };
    assert_eq!(find("premaster").status, Status::Recovered);
    assert!(find("premaster")
        .why
        .contains("sent encrypted in the ClientKeyExchange"));
    assert_eq!(find("master").status, Status::Recovered);
    assert!(find("master").why.contains("never sent"));
    assert_eq!(find("client-write-key").values[0].1, kb.client.enc_key);
    assert_eq!(find("server-write-iv").values[0].1, kb.server.fixed_iv);
    assert_eq!(find("mac-keys").status, Status::None);
    assert!(find("mac-keys").why.contains("AES-GCM"));
}

/// A CBC-HMAC session's chain: the four session keys, no IVs (RFC 5246 §6.2.3.2).
#[test]
fn rsa_cbc_chain_shows_the_four_session_keys() {
    let suite = suites::TLS_RSA_WITH_AES_128_CBC_SHA;
    let conn = session(0, suite, b"GET / HTTP/1.0\r\n\r\n", b"ok", None);
    let loot = Loot::new(Some((*identity().key).clone()), None);
    let r = recover(&conn.session, &loot, &ResumptionCache::default());
    let rows = chain::nodes(&conn.session, &r);
    let (Some((master, _)), Some(cr), Some(sr)) = (
        &r.master,
        conn.session.client_random(),
        conn.session.server_random(),
    ) else {
        panic!("the stolen key recovers the master secret");
    };
    let kb = crate::tls12::keys::key_block(&suite, master, &cr, &sr);
    let find = |id: &str| rows.iter().flatten().find(|n| n.id == id);
    let value = |id: &str| find(id).map(|n| n.values[0].1.clone());
    assert_eq!(value("client-mac-key"), Some(kb.client.mac_key.clone()));
    assert_eq!(value("server-mac-key"), Some(kb.server.mac_key.clone()));
    assert_eq!(value("client-write-key"), Some(kb.client.enc_key.clone()));
    assert_eq!(value("server-write-key"), Some(kb.server.enc_key.clone()));
    assert_eq!(kb.client.mac_key.len(), 20);
    assert!(find("client-write-iv").is_none() && find("mac-keys").is_none());
}

#[test]
fn ecdhe_and_tls13_cards_stop_at_the_exchange_and_show_both_public_values() {
    let conns = [
        session(
            0,
            suites::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            b"x",
            b"y",
            None,
        ),
        session(1, suites::TLS13_AES_128_GCM_SHA256, b"x", b"y", None),
    ];
    let loot = Loot::new(Some((*identity().key).clone()), None);
    let html = page(&conns, &loot, inputs(true, false));
    assert_eq!(status(&html, 0, "premaster"), "out of reach");
    assert_eq!(status(&html, 0, "client-write-key"), "out of reach");
    assert_eq!(status(&html, 1, "shared-secret"), "out of reach");
    assert_eq!(status(&html, 1, "client-application"), "out of reach");
    assert_eq!(html.matches("class=\"ephemeral\"").count(), 2);
    assert!(html.matches("never left the peers").count() >= 2);
    assert!(html.contains("its signature verifies with it"), "{html}");
    assert_eq!(html.matches("data-recovered=\"false\"").count(), 2);
}

#[test]
fn dhe_card_stops_at_the_premaster_and_a_key_log_opens_it() {
    let dir = TempDir::new("html-dhe");
    let path = dir.path("keylog");
    let writer = Arc::new(KeyLogWriter::open(&path).expect("key log"));
    let conns = [session(
        0,
        suites::TLS_DHE_RSA_WITH_AES_128_GCM_SHA256,
        b"GET /dhe HTTP/1.0\r\n\r\n",
        b"hello",
        Some(writer),
    )];
    let stolen = Loot::new(Some((*identity().key).clone()), None);
    let html = page(&conns, &stolen, inputs(true, false));
    assert_eq!(status(&html, 0, "premaster"), "out of reach");
    assert_eq!(status(&html, 0, "client-write-key"), "out of reach");
    assert_eq!(html.matches("class=\"ephemeral\"").count(), 1);
    assert!(html.contains("Ys = g^a mod p"), "{html}");
    assert!(html.contains("Yc = g^b mod p"), "{html}");
    assert!(html.contains("the RFC 7919 group ffdhe2048"), "{html}");
    assert!(html.contains("the signature verifies with it"), "{html}");
    assert!(
        !html.contains("GET /dhe"),
        "DHE plaintext cannot be in the page"
    );

    let logged = Loot::new(None, Some(KeyLog::load(&path).expect("key log")));
    let html = page(&conns, &logged, inputs(false, true));
    assert_eq!(cards(&html), [("0".to_string(), "decrypted".to_string())]);
    assert_eq!(status(&html, 0, "master"), "recovered");
    assert!(html.contains("GET /dhe HTTP/1.0"));
}

#[test]
fn tls13_key_log_opens_the_traffic_secrets_but_never_the_shared_secret() {
    let dir = TempDir::new("html-tls13");
    let path = dir.path("keylog");
    let writer = Arc::new(KeyLogWriter::open(&path).expect("key log"));
    let conns = [session(
        0,
        suites::TLS13_AES_128_GCM_SHA256,
        b"GET /tls13 HTTP/1.0\r\n\r\n",
        b"hello",
        Some(writer),
    )];
    let loot = Loot::new(None, Some(KeyLog::load(&path).expect("key log")));
    let html = page(&conns, &loot, inputs(false, true));
    assert_eq!(cards(&html), [("0".to_string(), "decrypted".to_string())]);
    assert_eq!(status(&html, 0, "shared-secret"), "out of reach");
    assert_eq!(status(&html, 0, "master"), "out of reach");
    for id in [
        "client-handshake",
        "server-handshake",
        "client-application",
        "server-application",
    ] {
        assert_eq!(status(&html, 0, id), "recovered", "{id}");
    }
    assert!(html.contains("read from the key log (CLIENT_TRAFFIC_SECRET_0 line), not computed"));
    assert!(html.contains("GET /tls13 HTTP/1.0"));
    assert!(html.contains("The key log opened 1 session (0)"));
}

#[test]
fn resumed_sessions_open_through_the_session_they_resume() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let key = pki::load_private_key(&root.join("resumption-server.key")).expect("key");
    let loot = Loot::new(Some(key), None);
    let mut cache = ResumptionCache::default();
    let mut report = HtmlReport::new(inputs(true, false));
    let mut resumed = Vec::new();
    for_each_tls_connection(&root.join("openssl-resumption.pcap"), |conn| {
        let r = recover(&conn.session, &loot, &cache);
        cache.remember_recovered(conn.stream, &conn.session, &r);
        if conn.session.resumed.is_some() {
            resumed.push(conn.stream);
        }
        report.add(0, &conn, &r);
    })
    .expect("capture");
    let html = report.render();
    assert!(!resumed.is_empty());
    assert_eq!(cards(&html).len(), report.len());
    for stream in resumed {
        assert_eq!(status(&html, stream, "premaster"), "not needed");
        assert_eq!(status(&html, stream, "master"), "recovered");
        assert_eq!(status(&html, stream, "client-write-key"), "recovered");
    }
    assert!(html.contains("reused from session"));
    assert!(html.contains("resumed session"), "the summary counts them");
}
