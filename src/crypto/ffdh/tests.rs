use super::*;

/// Exponent/expected-secret triple computed independently (Python `pow(pow(2, a, p), b, p)`
/// over the RFC 7919 ffdhe2048 prime): g^ab mod p is only 255 bytes long, so the premaster
/// must be 255 bytes, not 256 (RFC 5246 §8.1.2 strips leading zeros).
const A_HEX: &str = "1f2e3d4c5b6a79880123456789abcdef00112233445566778899aabbccddeeff";
const B_HEX: &str = "0badc0de000000000000000000000000000000000000000000000000000003af";
const Z_HEX: [&str; 8] = [
    "7d05559747786ba5d60fb8c785cac6f0dbe3b82887c2ef7c69d5f111b3bfe267",
    "9fc7ad6ffbd55b254a4a7e805029732b5f8bbbf1ae51968fee5b0a3922fed63c",
    "2ff835715faa8b8dae6f9c0c61590831d2045088a9f17ddeb72df6ee88fa5a20",
    "28ba66368711dab3f303c876d050a6a3169bfd352a3917cc687bc4435d792935",
    "56a123c86c6f6429186bb82d957a54301ebcddcaa2892e20fec5e7dcf02bcd97",
    "14b9321508b00a5530134739f1caf7b798067e61a0a18783f16672fcf1cda466",
    "62cb9993d1aa734f76b0b97717c215a68dcad935a246f0689d995479d0362951",
    "8cc70bf4e77a67a368a95a93a84b6d0978c31cf60431553ba326995e2978ac",
];

fn key_with_exponent(group: &DhGroup, hex: &str) -> DhKey {
    let raw = crate::codec::unhex(hex).unwrap();
    let exponent = BoxedUint::from_be_slice(&raw, group.precision()).unwrap();
    let bits = 256;
    let public = group.pow(group.g(), &exponent, bits).unwrap().to_vec();
    DhKey {
        group: group.clone(),
        exponent,
        exponent_bits: bits,
        public,
    }
}

/// RFC 7919 Appendix A.1, as OpenSSL 3.0 writes it
/// (`openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048`).
#[test]
fn ffdhe2048_matches_rfc7919_and_openssl() {
    let ours = DhGroup::ffdhe2048();
    assert_eq!(ours.bits(), 2048);
    assert_eq!(ours.p().len(), 256);
    assert_eq!(ours.g(), &[2]);
    // The RFC's construction: the top and bottom 64 bits are all ones.
    assert!(ours.p()[..8].iter().all(|b| *b == 0xff));
    assert!(ours.p()[248..].iter().all(|b| *b == 0xff));
    assert_eq!(
        crate::codec::hex(&ours.p()[8..16]),
        "adf85458a2bb4a9a",
        "RFC 7919 A.1 second word"
    );
    let pem = include_bytes!("../../../tests/data/ffdhe2048-openssl.pem");
    let theirs = DhGroup::from_pem(pem).unwrap();
    assert_eq!(theirs, ours);
    assert_eq!(theirs.name(), Some("ffdhe2048"));
}

/// RFC 3526 §3's formula, checked offline; OpenSSL 3.0 `s_server` serves it by default
/// (tests/data/openssl-dhe.pcap, session 0).
#[test]
fn modp2048_is_recognised() {
    let modp = crate::codec::unhex(&MODP2048_P_HEX.concat()).unwrap();
    let group = DhGroup::new(&modp, &[2]).unwrap();
    assert_eq!(group.well_known(), Some("the RFC 3526 group 14, modp2048"));
    assert_eq!(group.name(), None);
    assert_eq!(crate::codec::hex(&modp[8..16]), "c90fdaa22168c234");
    let custom =
        DhGroup::from_pem(include_bytes!("../../../tests/data/dh2048-openssl.pem")).unwrap();
    assert_eq!(custom.well_known(), None);
    assert_eq!(custom.bits(), 2048);
}

#[test]
fn leading_zero_secret_is_stripped() {
    let group = DhGroup::ffdhe2048();
    let a = key_with_exponent(&group, A_HEX);
    let b = key_with_exponent(&group, B_HEX);
    assert_eq!(a.public().len(), 256, "public values are padded to p");
    let expected = crate::codec::unhex(&Z_HEX.concat()).unwrap();
    assert_eq!(expected.len(), 255);
    let ab = a.agree(b.public()).unwrap();
    let ba = b.agree(a.public()).unwrap();
    assert_eq!(*ab, expected);
    assert_eq!(*ba, expected);
}

#[test]
fn random_keys_agree() {
    let mut rng = crate::crypto::rng::from_seed(3, "ffdh");
    let group = DhGroup::ffdhe2048();
    let a = DhKey::generate(&group, &mut rng).unwrap();
    let b = DhKey::generate(&group, &mut rng).unwrap();
    assert_eq!(*a.agree(b.public()).unwrap(), *b.agree(a.public()).unwrap());
    assert_eq!(a.exponent_bits, 512);
}

#[test]
fn public_values_outside_one_and_p_minus_one_fail() {
    let group = DhGroup::ffdhe2048();
    let mut rng = crate::crypto::rng::from_seed(4, "ffdh");
    let key = DhKey::generate(&group, &mut rng).unwrap();
    let p = group.p().to_vec();
    let p_minus_1 = minus_one(&p);
    for bad in [
        vec![],
        vec![0],
        vec![1],
        vec![0, 0, 1],
        p_minus_1,
        p.clone(),
        vec![0xff; 257],
    ] {
        assert!(
            key.agree(&bad).is_err(),
            "accepted {}",
            crate::codec::hex(&bad)
        );
    }
    assert!(group.check_public(&[2]).is_ok());
    assert!(group.check_public(&[0, 2]).is_ok());
    // A valid value with more leading zeros than p has bytes still agrees.
    let mut long = vec![0u8; 300];
    long[299] = 2;
    assert!(key.agree(&long).is_ok());
}

#[test]
fn size_policy_and_bad_groups() {
    let group = DhGroup::ffdhe2048();
    assert!(group.check_size(2048).is_ok());
    assert_eq!(
        group.check_size(3072),
        Err(DhError::PrimeTooSmall {
            bits: 2048,
            min: 3072
        })
    );
    let p = group.p().to_vec();
    assert!(DhGroup::new(&p, &[1]).is_err());
    assert!(DhGroup::new(&p, &minus_one(&p)).is_err());
    let mut even = p.clone();
    even[255] = 0xfe;
    assert!(DhGroup::new(&even, &[2]).is_err());
    assert!(DhGroup::new(&[0x17], &[2]).is_err());
    assert!(DhGroup::new(&[0, 0, 0x17], &[5]).is_err());
}

#[test]
fn pem_errors_are_typed() {
    assert!(matches!(
        DhGroup::from_pem(b"nothing"),
        Err(DhError::Malformed(_))
    ));
    let pem = include_str!("../../../tests/data/ffdhe2048-openssl.pem");
    let cut = &pem[..pem.len() / 2];
    assert!(DhGroup::from_pem(cut.as_bytes()).is_err());
    assert!(DhGroup::from_der(&[0x30, 0x03, 0x02, 0x01, 0x05]).is_err());
}

#[test]
fn to_pem_is_byte_identical_to_openssls_file() {
    // tests/data/dh2048-openssl.pem was written by `openssl dhparam`: same PEM bytes back.
    let file = include_str!("../../../tests/data/dh2048-openssl.pem");
    let group = DhGroup::from_pem(file.as_bytes()).unwrap();
    assert_eq!(group.to_pem(), file);
    assert_eq!(DhGroup::from_pem(group.to_pem().as_bytes()).unwrap(), group);
}
