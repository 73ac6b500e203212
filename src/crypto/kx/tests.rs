use super::*;
use crate::codec::unhex;
use crate::crypto::rng;

fn h(s: &str) -> Vec<u8> {
    unhex(s).expect("hex")
}

fn h32(s: &str) -> [u8; 32] {
    h(s).try_into().expect("32 bytes")
}

/// A JSON vector file under tests/data, field by field.
fn field(json: &str, name: &str) -> Vec<u8> {
    let v: serde_json::Value = serde_json::from_str(json).expect("vector file");
    h(v[name].as_str().expect(name))
}

/// RFC 7748 §5.2, the two single-step vectors: scalar, u-coordinate, output.
const RFC7748_5_2: [(&str, &str, &str); 2] = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
];

/// RFC 7748 §6.1: Alice's and Bob's keys and their shared secret K.
const ALICE_PRIVATE: &str = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
const ALICE_PUBLIC: &str = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
const BOB_PRIVATE: &str = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
const BOB_PUBLIC: &str = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
const SHARED_K: &str = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

/// NIST ACVP ML-KEM-768 vectors (FIPS 203 final): keyGen from (d, z), encapsulation from
/// (ek, m), decapsulation from (dk, c); each file names its source.
const KEYGEN: &str = include_str!("../../../tests/data/mlkem768-acvp-keygen.json");
const ENCAPS: &str = include_str!("../../../tests/data/mlkem768-acvp-encaps.json");
const DECAPS: &str = include_str!("../../../tests/data/mlkem768-acvp-decaps.json");

#[test]
fn x25519_rfc7748_5_2_vectors_through_the_key_share() {
    for (k, u, out) in RFC7748_5_2 {
        let key = X25519Key::from_scalar(h32(k));
        assert_eq!(*key.agree(&h(u)).unwrap(), h(out), "scalar {k}");
    }
}

#[test]
fn x25519_rfc7748_6_1_diffie_hellman() {
    let alice = X25519Key::from_scalar(h32(ALICE_PRIVATE));
    let bob = X25519Key::from_scalar(h32(BOB_PRIVATE));
    assert_eq!(alice.public().to_vec(), h(ALICE_PUBLIC));
    assert_eq!(bob.public().to_vec(), h(BOB_PUBLIC));
    assert_eq!(*alice.agree(&h(BOB_PUBLIC)).unwrap(), h(SHARED_K));
    assert_eq!(*bob.agree(&h(ALICE_PUBLIC)).unwrap(), h(SHARED_K));
    // The stand-in records the scalar as RFC 7748 writes it.
    assert_eq!(*alice.scalar(), h(ALICE_PRIVATE));
}

#[test]
fn x25519_small_order_peers_give_illegal_parameter() {
    let alice = X25519Key::from_scalar(h32(ALICE_PRIVATE));
    // u = 0, and a point of order 8 (both give the all-zero output, RFC 7748 §6.1).
    for u in [
        [0u8; 32].to_vec(),
        h("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    ] {
        assert_eq!(alice.agree(&u), Err(KxError::X25519AllZero));
    }
    assert!(matches!(alice.agree(&[9; 31]), Err(KxError::Length { .. })));
}

#[test]
fn mlkem768_keygen_acvp_through_the_hybrid_share() {
    let seed: [u8; 64] = [field(KEYGEN, "d"), field(KEYGEN, "z")]
        .concat()
        .try_into()
        .unwrap();
    let share = ClientShare::hybrid_from_seed(&seed, X25519Key::from_scalar(h32(ALICE_PRIVATE)));
    let public = share.public();
    assert_eq!(public.len(), HYBRID_CLIENT_SHARE_LEN);
    assert_eq!(public[..MLKEM768_EK_LEN], field(KEYGEN, "ek")[..]);
    assert_eq!(public[MLKEM768_EK_LEN..], h(ALICE_PUBLIC)[..]);
    let ClientShare::Hybrid { mlkem, .. } = &share else {
        panic!("not a hybrid share")
    };
    #[allow(deprecated)]
    let expanded = ml_kem::ExpandedKeyEncoding::to_expanded_bytes(mlkem.as_ref());
    assert_eq!(expanded.to_vec(), field(KEYGEN, "dk"));
    // Only the X25519 half reaches the stand-in.
    let (group, public_x, private_x) = share.classical();
    assert_eq!(group, DlogGroup::X25519MlKem768);
    assert_eq!(public_x, h(ALICE_PUBLIC));
    assert_eq!(*private_x, h(ALICE_PRIVATE));
}

#[test]
fn mlkem768_encaps_acvp_through_the_server_share() {
    let m: [u8; 32] = field(ENCAPS, "m").try_into().unwrap();
    let client = [field(ENCAPS, "ek"), h(ALICE_PUBLIC)].concat();
    let answer = hybrid_encapsulate(&client, &m, X25519Key::from_scalar(h32(BOB_PRIVATE))).unwrap();
    assert_eq!(answer.public.len(), HYBRID_SERVER_SHARE_LEN);
    assert_eq!(answer.public[..MLKEM768_CT_LEN], field(ENCAPS, "c")[..]);
    assert_eq!(answer.public[MLKEM768_CT_LEN..], h(BOB_PUBLIC)[..]);
    // draft-ietf-tls-ecdhe-mlkem: ML-KEM secret first, then X25519.
    assert_eq!(*answer.shared, [field(ENCAPS, "k"), h(SHARED_K)].concat());
}

#[test]
fn mlkem768_decaps_acvp_through_the_client_share() {
    let v: serde_json::Value = serde_json::from_str(DECAPS).unwrap();
    #[allow(deprecated)]
    let dk = DecapsulationKey::from_expanded(&field(DECAPS, "dk").as_slice().try_into().unwrap())
        .unwrap();
    let share = ClientShare::Hybrid {
        mlkem: Box::new(dk),
        x25519: X25519Key::from_scalar(h32(ALICE_PRIVATE)),
    };
    let tests = v["tests"].as_array().unwrap();
    assert!(tests.len() >= 2);
    for t in tests {
        // "modify ciphertext" cases expect the implicit-rejection key (FIPS 203 §6.3).
        let c = h(t["c"].as_str().unwrap());
        let server = [c, h(BOB_PUBLIC)].concat();
        let secret = share.complete(&server).unwrap();
        assert_eq!(
            secret[..32],
            h(t["k"].as_str().unwrap())[..],
            "tcId {}",
            t["tcId"]
        );
        assert_eq!(secret[32..], h(SHARED_K)[..]);
    }
    let server = [h(tests[0]["c"].as_str().unwrap()), h(BOB_PUBLIC)].concat();
    assert!(matches!(
        share.complete(&server[1..]),
        Err(KxError::Length { .. })
    ));
    // A flipped X25519 byte changes only the classical half.
    let mut flipped = server.clone();
    flipped[MLKEM768_CT_LEN + 3] ^= 1;
    let other = share.complete(&flipped).unwrap();
    assert_eq!(other[..32], h(tests[0]["k"].as_str().unwrap())[..]);
    assert_ne!(other[32..], h(SHARED_K)[..]);
}

#[test]
fn an_encapsulation_key_failing_the_modulus_check_is_refused() {
    let mut client = [field(ENCAPS, "ek"), h(ALICE_PUBLIC)].concat();
    // The first 12-bit coefficient becomes 0xFFF ≥ q = 3329 (FIPS 203 §7.2).
    client[0] = 0xff;
    client[1] |= 0x0f;
    let mut r = rng::from_seed(1, "kx");
    assert!(matches!(
        server_respond(KxGroup::X25519MlKem768, &client, &mut r),
        Err(KxError::EncapsulationKey)
    ));
    assert!(matches!(
        server_respond(KxGroup::X25519MlKem768, &client[..1215], &mut r),
        Err(KxError::Length { .. })
    ));
    assert!(matches!(
        server_respond(KxGroup::X25519, &[0; 32], &mut r),
        Err(KxError::X25519AllZero)
    ));
}

#[test]
fn every_group_agrees_both_ways_and_sizes_match_the_draft() {
    let mut r = rng::from_seed(2, "kx");
    for group in KxGroup::PREFERENCE {
        let client = ClientShare::generate(group, &mut r);
        assert_eq!(client.public().len(), group.client_share_len());
        let answer = server_respond(group, &client.public(), &mut r).unwrap();
        assert_eq!(answer.public.len(), group.server_share_len());
        assert_eq!(*client.complete(&answer.public).unwrap(), *answer.shared);
        let want = match group {
            KxGroup::X25519MlKem768 => 64,
            _ => 32,
        };
        assert_eq!(answer.shared.len(), want, "{group:?}");
    }
    assert_eq!(
        (HYBRID_CLIENT_SHARE_LEN, HYBRID_SERVER_SHARE_LEN),
        (1216, 1120)
    );
}

#[test]
fn seeded_shares_repeat() {
    for group in KxGroup::PREFERENCE {
        let a = ClientShare::generate(group, &mut rng::from_seed(3, "kx")).public();
        let b = ClientShare::generate(group, &mut rng::from_seed(3, "kx")).public();
        assert_eq!(a, b);
    }
}

#[test]
fn group_names_parse() {
    assert_eq!(
        KxGroup::parse("x25519mlkem768"),
        Some(KxGroup::X25519MlKem768)
    );
    assert_eq!(
        KxGroup::parse("X25519MLKEM768"),
        Some(KxGroup::X25519MlKem768)
    );
    assert_eq!(KxGroup::parse("p256"), Some(KxGroup::P256));
    assert_eq!(KxGroup::parse("secp256r1"), Some(KxGroup::P256));
    assert_eq!(KxGroup::parse("ffdhe2048"), None);
    assert_eq!(
        KxGroup::from_codepoint(0x11ec),
        Some(KxGroup::X25519MlKem768)
    );
}
