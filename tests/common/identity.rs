//! The lab's server identity for in-process endpoints, and configs that use it.

use std::sync::{Arc, OnceLock};

use pfslab::crypto::rng;
use pfslab::endpoint::client::{ClientConfig, ServerVerification};
use pfslab::endpoint::server::ServerConfig;
use pfslab::keylog::KeyLogWriter;
use pfslab::lab::identity::{self, Identity};
use pfslab::pki;
use pfslab::suites::Suite;

/// A 2048-bit key like the lab's and its self-signed `localhost` certificate, generated once
/// per test binary from a fixed seed.
pub fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let mut r = rng::from_seed(42, "test identity");
        let key = pki::generate_key(&mut r, 2048).expect("generate the test key");
        let not_before = identity::cert_not_before(None);
        let params = pki::CertParams::lab_default(not_before);
        let cert = pki::self_signed_cert(&key, &params, &mut r).expect("self-sign the test key");
        let leaf = pki::parse_certificate(&cert).expect("parse the test certificate");
        Identity {
            key: Arc::new(key),
            chain: vec![cert],
            leaf,
        }
    })
}

/// A server with [`identity`] offering `suites`.
pub fn server_config(suites: Vec<Suite>, keylog: Option<Arc<KeyLogWriter>>) -> Arc<ServerConfig> {
    let id = identity();
    Arc::new(ServerConfig {
        key: id.key.clone(),
        cert_chain: id.chain.clone(),
        suites,
        keylog,
        dh_group: pfslab::crypto::ffdh::DhGroup::ffdhe2048(),
        ephemerals: Default::default(),
        padding_oracle: Default::default(),
        resumption: Default::default(),
        fast_key: Default::default(),
    })
}

/// A client offering `suite` to `server_name`, trusting [`identity`]'s certificate.
pub fn client_config(suite: Suite, ems: bool, server_name: &str) -> ClientConfig {
    ClientConfig {
        suites: vec![suite],
        server_name: server_name.to_string(),
        verification: ServerVerification::TrustAnchor(identity().chain[0].clone()),
        offer_ems: ems,
        offer_etm: true,
        keylog: None,
        dh_min_bits: 2048,
        resumption: Default::default(),
        tls13_group: Default::default(),
        ephemeral_log: None,
    }
}
