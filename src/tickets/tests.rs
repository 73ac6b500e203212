use zeroize::Zeroizing;

use super::*;
use crate::crypto::rng::from_seed;

fn kat_key() -> TicketKey {
    let bytes: Vec<u8> = (0u8..80).collect();
    TicketKey::from_bytes(&bytes).unwrap()
}

const KAT_IV: [u8; 16] = [
    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
];
const KAT_STATE: &[u8] = b"pfslab ticket KAT: 40 bytes of state....";
/// Source: computed independently with OpenSSL 3.0.19 — `openssl enc -aes-256-cbc -K <bytes
/// 48..80> -iv a0a1..af` over KAT_STATE, then `openssl dgst -sha256 -mac HMAC -macopt
/// hexkey:<bytes 16..48>` over key_name ‖ iv ‖ length ‖ ciphertext (RFC 5077 §4 layout).
const KAT_TICKET: &str = "000102030405060708090a0b0c0d0e0fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf0030e7ded0460ebc6c6fc8a77a30ee4fb822115ad47a36b43fd167e34c765799cd1bb0f8c84ec736036dbe5ae680aa084be97d0646b033150b3541df701a44a0492d536b5db7627bd84f198eca7668fc8241";

#[test]
fn seal_matches_openssl_known_answer() {
    let ticket = kat_key().seal(KAT_IV, KAT_STATE);
    assert_eq!(crate::codec::hex(&ticket), KAT_TICKET);
    assert_eq!(&kat_key().open(&ticket).unwrap()[..], KAT_STATE);
}

#[test]
fn every_flipped_byte_is_refused() {
    let ticket = kat_key().seal(KAT_IV, KAT_STATE);
    for i in 0..ticket.len() {
        let mut bad = ticket.clone();
        bad[i] ^= 0x01;
        let err = kat_key().open(&bad).unwrap_err();
        match i {
            0..=15 => assert!(
                matches!(err, TicketError::UnknownKeyName { .. }),
                "byte {i}: {err}"
            ),
            32 | 33 => assert!(
                matches!(err, TicketError::Truncated { .. }),
                "byte {i}: {err}"
            ),
            _ => assert_eq!(err, TicketError::BadMac, "byte {i}"),
        }
    }
}

#[test]
fn every_truncation_is_refused() {
    let ticket = kat_key().seal(KAT_IV, KAT_STATE);
    for len in 0..ticket.len() {
        let err = kat_key().open(&ticket[..len]).unwrap_err();
        assert!(
            matches!(err, TicketError::Truncated { .. } | TicketError::BadMac),
            "{len}: {err}"
        );
    }
    let mut longer = ticket.clone();
    longer.push(0);
    assert!(matches!(
        kat_key().open(&longer),
        Err(TicketError::Truncated { .. })
    ));
}

#[test]
fn a_wrong_key_with_the_same_name_fails_the_mac() {
    let mut other: Vec<u8> = (0u8..80).collect();
    other[20] ^= 0xff; // the HMAC key
    let other = TicketKey::from_bytes(&other).unwrap();
    let ticket = kat_key().seal(KAT_IV, KAT_STATE);
    assert_eq!(other.open(&ticket).unwrap_err(), TicketError::BadMac);
}

#[test]
fn key_files_are_80_bytes() {
    assert_eq!(
        TicketKey::from_bytes(&[0; 79]).unwrap_err(),
        TicketError::KeyLength(79)
    );
    assert_eq!(
        TicketKey::from_bytes(&[0; 81]).unwrap_err(),
        TicketError::KeyLength(81)
    );
}

fn tls12_state() -> TicketState {
    TicketState::Tls12(Tls12State {
        cipher_suite: 0xc02f,
        master_secret: Zeroizing::new([7; 48]),
        issued: 1_767_258_000,
        extended_master_secret: true,
        encrypt_then_mac: false,
        server_name: Some("localhost".into()),
    })
}

fn tls13_state() -> TicketState {
    TicketState::Tls13(Tls13State {
        cipher_suite: 0x1301,
        psk: Zeroizing::new(vec![9; 32]),
        ticket_age_add: 0xdead_beef,
        issued_ms: 1_767_258_000_123,
    })
}

#[test]
fn states_round_trip_and_refuse_truncation() {
    for state in [tls12_state(), tls13_state()] {
        let bytes = state.encode();
        assert_eq!(TicketState::read(&bytes).unwrap(), state);
        for len in 0..bytes.len() {
            assert!(TicketState::read(&bytes[..len]).is_err(), "{len}");
        }
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(TicketState::read(&longer).is_err());
    }
}

#[test]
fn rotation_keeps_old_keys_for_opening_only() {
    let mut rng = from_seed(1, "ticket test");
    let old = TicketKey::generate(&mut rng);
    let new = TicketKey::generate(&mut rng);
    let old_ticket = old.seal_random(&tls12_state().encode(), &mut rng);
    let keys = TicketKeys::new(new.clone(), vec![old.clone()]);
    assert_eq!(keys.current().name(), new.name());
    assert_eq!(keys.open_state(&old_ticket).unwrap(), tls12_state());
    let only_new = TicketKeys::new(new, vec![]);
    assert!(matches!(
        only_new.open_state(&old_ticket),
        Err(TicketError::UnknownKeyName { .. })
    ));
}

#[test]
fn key_file_is_created_0600_and_read_back() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ticket.key");
    let mut rng = from_seed(2, "ticket file test");
    let (made, created) = load_or_create(&path, &mut rng).unwrap();
    assert!(created);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (read, created) = load_or_create(&path, &mut rng).unwrap();
    assert!(!created);
    assert_eq!(read.as_bytes(), made.as_bytes());
    std::fs::write(&path, [0u8; 12]).unwrap();
    let err = read_ticket_key(&path).unwrap_err().to_string();
    assert!(err.contains("80 bytes") && err.contains("12"), "{err}");
}
