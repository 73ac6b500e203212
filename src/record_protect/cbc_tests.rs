use super::*;
use crate::codec::unhex;

fn h(s: &str) -> Vec<u8> {
    unhex(s).unwrap()
}

const AD: ContentType = ContentType::ApplicationData;

/// RFC 2202 §3 test cases 1 and 2 (HMAC-SHA1).
#[test]
fn hmac_sha1_rfc2202() {
    assert_eq!(
        MacAlg::Sha1.hmac(&[0x0b; 20], &[b"Hi There"]),
        h("b617318655057264e28bc0b6fb378c8ef146be00")
    );
    assert_eq!(
        MacAlg::Sha1.hmac(b"Jefe", &[b"what do ya want ", b"for nothing?"]),
        h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    );
}

/// RFC 4231 §4.2 and §4.3, test cases 1 and 2 (HMAC-SHA-256).
#[test]
fn hmac_sha256_rfc4231() {
    assert_eq!(
        MacAlg::Sha256.hmac(&[0x0b; 20], &[b"Hi There"]),
        h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    );
    assert_eq!(
        MacAlg::Sha256.hmac(b"Jefe", &[b"what do ya want for nothing?"]),
        h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    );
}

/// NIST SP 800-38A §F.2.1 CBC-AES128.Encrypt, blocks 1 and 2, and back.
#[test]
fn aes128_cbc_sp800_38a() {
    let key = CbcKey::new(&h("2b7e151628aed2a6abf7158809cf4f3c")).unwrap();
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let plain = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    let mut buf = plain.clone();
    key.encrypt(&iv, &mut buf);
    assert_eq!(
        buf,
        h("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2")
    );
    assert!(key.decrypt(&iv, &mut buf));
    assert_eq!(buf, plain);
}

/// NIST SP 800-38A §F.2.5 CBC-AES256.Encrypt, block 1.
#[test]
fn aes256_cbc_sp800_38a() {
    let key = CbcKey::new(&h(
        "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    ))
    .unwrap();
    let iv: [u8; 16] = h("000102030405060708090a0b0c0d0e0f").try_into().unwrap();
    let mut buf = h("6bc1bee22e409f96e93d7e117393172a");
    key.encrypt(&iv, &mut buf);
    assert_eq!(buf, h("f58c4c04d6e5f1ba779eabfb5f7bfbd6"));
}

fn pair(mac: MacAlg, key_len: usize, etm: bool) -> (Tls12CbcProtector, Tls12CbcProtector) {
    let p =
        Tls12CbcProtector::new(mac, &vec![7; mac.output_len()], &vec![9; key_len], etm).unwrap();
    (p.clone(), p)
}

/// MAC-then-encrypt on the wire: IV ‖ CBC(content ‖ HMAC(seq‖type‖version‖len‖content) ‖
/// padding), the padding bytes all equal to padding_length (RFC 5246 §6.2.3.2).
#[test]
fn mac_then_encrypt_layout() {
    let (mut tx, _) = pair(MacAlg::Sha1, 16, false);
    let _ = tx.seal(AD, 0x0303, b"first"); // seq 0
    let rec = tx.seal(AD, 0x0303, b"hello");
    // 5 content + 20 MAC = 25 bytes, padded to 32: six bytes of 6 and padding_length 6.
    assert_eq!(rec.len(), 16 + 32);
    let mut body = rec[16..].to_vec();
    let key = CbcKey::new(&[9; 16]).unwrap();
    assert!(key.decrypt(&rec[..16].try_into().unwrap(), &mut body));
    assert_eq!(&body[..5], b"hello");
    let header = [0, 0, 0, 0, 0, 0, 0, 1, 23, 3, 3, 0, 5];
    assert_eq!(
        &body[5..25],
        MacAlg::Sha1.hmac(&[7; 20], &[&header, b"hello"]).as_slice()
    );
    assert_eq!(&body[25..], &[6u8; 7]);
}

/// Encrypt-then-MAC on the wire: IV ‖ CBC(content ‖ padding) ‖ HMAC(seq‖type‖version‖
/// len(IV‖ciphertext)‖IV‖ciphertext) (RFC 7366 §3).
#[test]
fn encrypt_then_mac_layout() {
    let (mut tx, _) = pair(MacAlg::Sha256, 32, true);
    let rec = tx.seal(AD, 0x0303, b"hello");
    assert_eq!(rec.len(), 16 + 16 + 32);
    let (signed, mac) = rec.split_at(32);
    let header = [0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0, 32];
    assert_eq!(mac, MacAlg::Sha256.hmac(&[7; 32], &[&header, signed]));
    let mut body = signed[16..].to_vec();
    let key = CbcKey::new(&[9; 32]).unwrap();
    assert!(key.decrypt(&signed[..16].try_into().unwrap(), &mut body));
    assert_eq!(&body[..5], b"hello");
    assert_eq!(&body[5..], &[10u8; 11]);
}

#[test]
fn round_trips_every_shape_and_length() {
    for mac in [MacAlg::Sha1, MacAlg::Sha256] {
        for key_len in [16, 32] {
            for etm in [false, true] {
                let (mut tx, mut rx) = pair(mac, key_len, etm);
                for len in 0..70 {
                    let msg: Vec<u8> = (0..len as u8).collect();
                    let rec = tx.seal(AD, 0x0303, &msg);
                    assert_eq!(rx.open(AD, 0x0303, &rec), Ok(msg), "{mac:?} {etm} {len}");
                }
            }
        }
    }
}

#[test]
fn every_flipped_byte_is_one_bad_record_mac() {
    for etm in [false, true] {
        let (mut tx, rx) = pair(MacAlg::Sha1, 16, etm);
        let rec = tx.seal(AD, 0x0303, b"secret note, two blocks long at least");
        for i in 0..rec.len() {
            let mut bad = rec.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                rx.clone().open(AD, 0x0303, &bad),
                Err(BadRecordMac),
                "{etm} byte {i}"
            );
        }
        // The wrong type, version or sequence number is in the MAC too.
        assert!(rx
            .clone()
            .open(ContentType::Handshake, 0x0303, &rec)
            .is_err());
        assert!(rx.clone().open(AD, 0x0302, &rec).is_err());
        let mut later = rx.clone();
        later.seq = 1;
        assert!(later.open(AD, 0x0303, &rec).is_err());
        // A failed record does not advance the sequence number; the good one still opens.
        let mut rx = rx;
        assert!(rx.open(AD, 0x0303, &rec[..rec.len() - 16]).is_err());
        assert!(rx.open(AD, 0x0303, &rec).is_ok());
    }
}

/// MAC-then-encrypt with a correct MAC but inconsistent padding bytes, and with good padding
/// but a wrong MAC: the same error, and both computed a MAC (RFC 5246 §6.2.3.2 note).
#[test]
fn bad_padding_and_bad_mac_are_the_same_failure() {
    let (_, rx) = pair(MacAlg::Sha1, 16, false);
    let key = CbcKey::new(&[9; 16]).unwrap();
    let header = [0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0, 4];
    let mac = MacAlg::Sha1.hmac(&[7; 20], &[&header, b"data"]);
    let build = |mac: &[u8], padding: &[u8]| {
        let mut body = b"data".to_vec();
        body.extend_from_slice(mac);
        body.extend_from_slice(padding);
        let iv = [3u8; 16];
        key.encrypt(&iv, &mut body);
        let mut rec = iv.to_vec();
        rec.extend_from_slice(&body);
        rec
    };
    let good = build(&mac, &[7; 8]);
    assert_eq!(rx.clone().open(AD, 0x0303, &good), Ok(b"data".to_vec()));
    let bad_padding = build(&mac, &[7, 7, 7, 1, 7, 7, 7, 7]);
    let (r, t) = rx.clone().open_traced(AD, 0x0303, &bad_padding);
    assert_eq!(r, Err(BadRecordMac));
    assert!(!t.padding_ok && !t.mac_computed.is_empty());
    let mut wrong = mac.clone();
    wrong[0] ^= 1;
    let (r, t) = rx.clone().open_traced(AD, 0x0303, &build(&wrong, &[7; 8]));
    assert_eq!(r, Err(BadRecordMac));
    assert!(t.padding_ok && t.mac_computed != t.mac_received);
    // padding_length larger than the record.
    let too_long = build(&mac, &[0xff; 8]);
    assert_eq!(rx.clone().open(AD, 0x0303, &too_long), Err(BadRecordMac));
}

/// Encrypt-then-MAC with an authentic MAC over ciphertext whose padding is bad: still
/// bad_record_mac.
#[test]
fn etm_bad_padding_under_a_good_mac() {
    let (_, rx) = pair(MacAlg::Sha256, 16, true);
    let key = CbcKey::new(&[9; 16]).unwrap();
    let iv = [5u8; 16];
    let mut body = b"0123456789abcd\x01\x02".to_vec();
    key.encrypt(&iv, &mut body);
    let mut rec = iv.to_vec();
    rec.extend_from_slice(&body);
    let header = [0, 0, 0, 0, 0, 0, 0, 0, 23, 3, 3, 0, 32];
    let mac = MacAlg::Sha256.hmac(&[7; 32], &[&header, &rec]);
    rec.extend_from_slice(&mac);
    let (r, t) = rx.clone().open_traced(AD, 0x0303, &rec);
    assert_eq!(r, Err(BadRecordMac));
    assert!(!t.padding_ok);
}

#[test]
fn short_and_misaligned_fragments_rejected() {
    for etm in [false, true] {
        let (_, mut rx) = pair(MacAlg::Sha256, 16, etm);
        for len in 0..100 {
            let r = rx.open(AD, 0x0303, &vec![0; len]);
            assert_eq!(r, Err(BadRecordMac), "{etm} {len}");
        }
    }
}

#[test]
fn wrong_key_lengths_refused() {
    assert!(Tls12CbcProtector::new(MacAlg::Sha1, &[0; 32], &[0; 16], false).is_none());
    assert!(Tls12CbcProtector::new(MacAlg::Sha256, &[0; 32], &[0; 24], false).is_none());
}

/// A record OpenSSL 3.0 built: the client's first application data (sequence number 1) of
/// session 1 in tests/data/openssl-cbc.pcap, AES128-SHA256 with `s_client -no_etm`
/// (MAC-then-encrypt). Keys as tshark's `tls.debug_file` prints them for that session.
#[test]
fn openssl_mac_then_encrypt_record_opens_byte_exact() {
    let mac_key = h("53ffdc57d9f315b9f9f18fdb83c3cad327ba846140da4ebb2b68a6574c7e7428");
    let enc_key = h("ce9358b9e3eb15d6c6b540e63a29d002");
    let record = h(
        "e3eb334960d4f00f032911cb8f612dd7124e822b144b98f0a3c168bfc4971f72\
                    b77e70334d2faf08b4c4bb2f56ca71879ff9d2370cb00d8002dacb385bc5c99e\
                    241b36f446329404c98a2414023bbec5ec3e1b53623903b3bff070bed99925d4\
                    a752357240b1aaba421d092306f65a4d",
    );
    let mut rx = Tls12CbcProtector::new(MacAlg::Sha256, &mac_key, &enc_key, false).unwrap();
    rx.seq = 1;
    let (plain, t) = rx.open_traced(AD, 0x0303, &record);
    assert_eq!(
        plain.unwrap(),
        b"GET /fixture-cbc-sha256-mte HTTP/1.0\r\nHost: localhost\r\n\r\n"
    );
    // 57 content + 32 MAC = 89 bytes, padded to 96: six bytes of 6 and padding_length 6.
    assert_eq!((t.padding_len, t.padding_ok), (6, true));
    assert_eq!(t.mac_received, t.mac_computed);
    // One sequence number off, and OpenSSL's MAC no longer matches.
    rx.seq = 2;
    assert_eq!(rx.open(AD, 0x0303, &record), Err(BadRecordMac));
}
