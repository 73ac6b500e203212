//! Property tests (issue 8): every handshake message, alert and record survives encode → read
//! whatever its contents; records survive any chunking of the byte stream, handshake messages
//! any fragmentation into records; and a TCP stream reassembles to its bytes from any
//! permutation, duplication and overlap of its segments.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use pfslab::capture::{EndReason, Reassembler, ReassemblyConfig, TcpFlags, TcpSegment};
use pfslab::msgs::alert::Alert;
use pfslab::msgs::enums::{ContentType, ExtensionType, HandshakeType};
use pfslab::msgs::handshake::{
    CertificateMsg, ClientHello, EcdheClientKeyExchange, EcdheServerKeyExchange, Extension,
    Finished, NewSessionTicket12, RsaClientKeyExchange, ServerHello,
};
use pfslab::msgs::record::{
    encode_record, Deframer, HandshakeJoiner, HandshakeMessage, OpaqueRecord, MAX_CIPHERTEXT,
};

// ---------------------------------------------------------------------------------------------
// Strategies

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

/// Extensions with distinct types (RFC 5246 §7.4.1.4), in arbitrary type order.
fn extensions() -> impl Strategy<Value = Vec<Extension>> {
    btree_map(any::<u16>(), bytes(64), 0..8)
        .prop_map(|m: BTreeMap<u16, Vec<u8>>| {
            m.into_iter()
                .map(|(t, d)| Extension::new(ExtensionType::from_wire(t), d))
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
}

prop_compose! {
    fn client_hello()(
        client_version in any::<u16>(),
        random in any::<[u8; 32]>(),
        session_id in bytes(32),
        cipher_suites in vec(any::<u16>(), 1..64),
        compression_methods in vec(any::<u8>(), 1..8),
        extensions in extensions(),
    ) -> ClientHello {
        ClientHello { client_version, random, session_id, cipher_suites, compression_methods, extensions }
    }
}

prop_compose! {
    fn server_hello()(
        server_version in any::<u16>(),
        random in any::<[u8; 32]>(),
        session_id in bytes(32),
        cipher_suite in any::<u16>(),
        compression_method in any::<u8>(),
        extensions in extensions(),
    ) -> ServerHello {
        ServerHello { server_version, random, session_id, cipher_suite, compression_method, extensions }
    }
}

prop_compose! {
    fn server_key_exchange()(named_group in any::<u16>(), public in bytes(255), signature_scheme in any::<u16>(), signature in bytes(600))
        -> EcdheServerKeyExchange {
        EcdheServerKeyExchange { named_group, public, signature_scheme, signature }
    }
}

/// Encodes, checks the 4-byte header, reads the body back.
fn round_trip<T: PartialEq + std::fmt::Debug>(
    value: &T,
    typ: HandshakeType,
    encode: impl Fn(&T) -> HandshakeMessage,
    read: impl Fn(&[u8]) -> Result<T, pfslab::codec::CodecError>,
) -> Result<(), TestCaseError> {
    let msg = encode(value);
    prop_assert_eq!(msg.typ, typ);
    prop_assert_eq!(msg.encoded[0], typ.to_wire());
    let len = u32::from_be_bytes([0, msg.encoded[1], msg.encoded[2], msg.encoded[3]]) as usize;
    prop_assert_eq!(len, msg.body().len());
    let back = read(msg.body())
        .map_err(|e| TestCaseError::fail(format!("{typ} does not read its own encoding: {e}")))?;
    prop_assert_eq!(&back, value);
    // Encoding is canonical: the value read encodes to the same bytes.
    prop_assert_eq!(encode(&back).encoded, msg.encoded);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Handshake messages, alerts, records

proptest! {
    #[test]
    fn client_hello_round_trips(ch in client_hello()) {
        round_trip(&ch, HandshakeType::ClientHello, ClientHello::encode, ClientHello::read)?;
    }

    #[test]
    fn server_hello_round_trips(sh in server_hello()) {
        round_trip(&sh, HandshakeType::ServerHello, ServerHello::encode, ServerHello::read)?;
    }

    #[test]
    fn certificate_round_trips(chain in vec(vec(any::<u8>(), 1..300), 0..6)) {
        round_trip(&CertificateMsg { chain }, HandshakeType::Certificate, CertificateMsg::encode, CertificateMsg::read)?;
    }

    #[test]
    fn ecdhe_server_key_exchange_round_trips(ske in server_key_exchange()) {
        round_trip(&ske, HandshakeType::ServerKeyExchange, EcdheServerKeyExchange::encode, EcdheServerKeyExchange::read)?;
    }

    #[test]
    fn rsa_client_key_exchange_round_trips(encrypted_premaster in bytes(1024)) {
        round_trip(&RsaClientKeyExchange { encrypted_premaster }, HandshakeType::ClientKeyExchange, RsaClientKeyExchange::encode, RsaClientKeyExchange::read)?;
    }

    #[test]
    fn ecdhe_client_key_exchange_round_trips(public in bytes(255)) {
        round_trip(&EcdheClientKeyExchange { public }, HandshakeType::ClientKeyExchange, EcdheClientKeyExchange::encode, EcdheClientKeyExchange::read)?;
    }

    #[test]
    fn finished_round_trips(verify_data in any::<[u8; 12]>()) {
        round_trip(&Finished { verify_data: verify_data.to_vec() }, HandshakeType::Finished, Finished::encode, Finished::read)?;
    }

    #[test]
    fn new_session_ticket_round_trips(lifetime_hint in any::<u32>(), ticket in bytes(1000)) {
        round_trip(&NewSessionTicket12 { lifetime_hint, ticket }, HandshakeType::NewSessionTicket, NewSessionTicket12::encode, NewSessionTicket12::read)?;
    }

    /// Every two-byte alert reads, and encodes back to the same two bytes (unknown levels and
    /// descriptions included).
    #[test]
    fn alert_round_trips(level in any::<u8>(), description in any::<u8>()) {
        let a = Alert::read(&[level, description]).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(a.encode(), [level, description]);
        prop_assert_eq!(Alert::read(&a.encode()), Ok(a));
    }

    /// Records encoded back to back come out of the deframer unchanged however the stream is
    /// cut into reads, with nothing left over.
    #[test]
    fn records_survive_any_chunking(
        records in vec((20u8..=23, 0u8..=4, bytes(3000)), 1..12),
        cuts in vec(1usize..700, 1..40),
    ) {
        let records: Vec<OpaqueRecord> = records
            .into_iter()
            .map(|(t, minor, payload)| OpaqueRecord { content_type: ContentType::from_wire(t), version: 0x0300 | u16::from(minor), payload })
            .collect();
        let stream: Vec<u8> = records.iter().flat_map(|r| encode_record(r.content_type, r.version, &r.payload)).collect();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        let (mut at, mut i) = (0usize, 0usize);
        while at < stream.len() {
            let n = cuts[i % cuts.len()].min(stream.len() - at);
            d.push(&stream[at..at + n]);
            at += n;
            i += 1;
            while let Some(r) = d.next_record().map_err(|e| TestCaseError::fail(e.to_string()))? {
                got.push(r);
            }
        }
        prop_assert_eq!(d.pending(), 0);
        prop_assert_eq!(d.offset(), stream.len() as u64);
        prop_assert_eq!(got, records);
    }

    /// Handshake messages split across and coalesced into records of any size come back whole.
    #[test]
    fn handshake_messages_survive_any_fragmentation(
        msgs in vec((any::<u8>(), bytes(2000)), 1..10),
        cuts in vec(1usize..400, 1..30),
    ) {
        let msgs: Vec<HandshakeMessage> = msgs.into_iter().map(|(t, body)| HandshakeMessage::new(HandshakeType::from_wire(t), &body)).collect();
        let all: Vec<u8> = msgs.iter().flat_map(|m| m.encoded.clone()).collect();
        let mut j = HandshakeJoiner::new();
        let mut got = Vec::new();
        let (mut at, mut i) = (0usize, 0usize);
        while at < all.len() {
            let n = cuts[i % cuts.len()].min(all.len() - at);
            j.push(&all[at..at + n]);
            at += n;
            i += 1;
            while let Some(m) = j.next_message().map_err(|e| TestCaseError::fail(e.to_string()))? {
                got.push(m);
            }
        }
        prop_assert!(j.is_empty());
        prop_assert_eq!(got, msgs);
    }
}

/// The largest record RFC 5246 §6.2.3 allows deframes; one byte more is record_overflow.
#[test]
fn record_length_limit_is_exact() {
    let mut d = Deframer::new();
    d.push(&encode_record(
        ContentType::ApplicationData,
        0x0303,
        &vec![7; MAX_CIPHERTEXT],
    ));
    assert_eq!(
        d.next_record().unwrap().unwrap().payload.len(),
        MAX_CIPHERTEXT
    );
    let mut d = Deframer::new();
    d.push(&encode_record(
        ContentType::ApplicationData,
        0x0303,
        &vec![7; MAX_CIPHERTEXT + 1],
    ));
    assert!(d.next_record().is_err());
}

// ---------------------------------------------------------------------------------------------
// TCP reassembly

/// One segment of a test stream, owning its payload.
#[derive(Clone, Debug)]
struct Seg {
    from_client: bool,
    seq: u32,
    flags: u8,
    data: Vec<u8>,
}

const ACK: u8 = TcpFlags::ACK;

/// `data` cut at `sizes` (cyclic), plus `overlaps` (start, len) windows of the same bytes and
/// duplicates of every `dup_every`-th segment, all as one direction's segments.
fn direction_segments(
    data: &[u8],
    isn: u32,
    from_client: bool,
    sizes: &[usize],
    overlaps: &[(usize, usize)],
    dup_every: usize,
) -> Vec<Seg> {
    let seg = |at: usize, n: usize| Seg {
        from_client,
        seq: isn.wrapping_add(1).wrapping_add(at as u32),
        flags: ACK,
        data: data[at..at + n].to_vec(),
    };
    let mut v = Vec::new();
    let (mut at, mut i) = (0usize, 0usize);
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        v.push(seg(at, n));
        at += n;
        i += 1;
    }
    for &(start, len) in overlaps {
        if data.is_empty() {
            break;
        }
        let start = start % data.len();
        let len = len.min(data.len() - start);
        if len > 0 {
            v.push(seg(start, len));
        }
    }
    let dups: Vec<Seg> = v.iter().step_by(dup_every.max(1)).cloned().collect();
    v.extend(dups);
    // The FIN takes the sequence number after the last byte (RFC 9293 §3.4).
    v.push(Seg {
        from_client,
        seq: isn.wrapping_add(1).wrapping_add(data.len() as u32),
        flags: TcpFlags::FIN | ACK,
        data: vec![],
    });
    v
}

prop_compose! {
    fn direction()(
        data in bytes(4000),
        // Half the time right below the 2^32 wrap, so the stream crosses it.
        isn in prop_oneof![any::<u32>(), (u32::MAX - 5000)..=u32::MAX],
        sizes in vec(1usize..1500, 1..8),
        overlaps in vec((any::<usize>(), 1usize..2000), 0..6),
        dup_every in 1usize..6,
    ) -> (Vec<u8>, u32, Vec<usize>, Vec<(usize, usize)>, usize) {
        (data, isn, sizes, overlaps, dup_every)
    }
}

fn arrival_order() -> impl Strategy<Value = (Vec<u8>, u32, Vec<u8>, u32, Vec<Seg>)> {
    (direction(), direction()).prop_flat_map(|(c, s)| {
        let mut segs = direction_segments(&c.0, c.1, true, &c.2, &c.3, c.4);
        segs.extend(direction_segments(&s.0, s.1, false, &s.2, &s.3, s.4));
        (
            Just(c.0),
            Just(c.1),
            Just(s.0),
            Just(s.1),
            Just(segs).prop_shuffle(),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// After SYN and SYN-ACK, any permutation of both directions' data segments, their
    /// duplicates, overlapping copies and FINs gives back both byte streams exactly, once,
    /// ended by FIN, with no gap.
    #[test]
    fn any_permutation_duplication_and_overlap_reassembles((to_server, client_isn, to_client, server_isn, segs) in arrival_order()) {
        let client: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let server: SocketAddr = "192.0.2.2:443".parse().unwrap();
        let mut all = vec![
            Seg { from_client: true, seq: client_isn, flags: TcpFlags::SYN, data: vec![] },
            Seg { from_client: false, seq: server_isn, flags: TcpFlags::SYN | ACK, data: vec![] },
        ];
        all.extend(segs);
        let mut asm = Reassembler::new(ReassemblyConfig::default());
        let mut done = Vec::new();
        for (i, g) in all.iter().enumerate() {
            let (src, dst) = if g.from_client { (client, server) } else { (server, client) };
            asm.push(&TcpSegment {
                number: i as u64 + 1,
                ts: Duration::from_millis(i as u64),
                src,
                dst,
                seq: g.seq,
                ack: 0,
                flags: TcpFlags(g.flags),
                window: 65535,
                options: &[],
                payload: &g.data,
            });
            while let Some(c) = asm.pop_finished() {
                done.push(c);
            }
        }
        done.extend(asm.end_of_capture());
        prop_assert_eq!(done.len(), 1, "one connection expected");
        let c = &done[0];
        prop_assert_eq!(c.end, Some(EndReason::Fin));
        prop_assert_eq!(c.client, client);
        prop_assert_eq!(c.to_server.contiguous(), &to_server[..]);
        prop_assert_eq!(c.to_client.contiguous(), &to_client[..]);
        prop_assert!(c.to_server.gaps().is_empty(), "{:?}", c.to_server.gaps());
        prop_assert!(c.to_client.gaps().is_empty(), "{:?}", c.to_client.gaps());
        prop_assert_eq!(c.to_server.fin_offset(), Some(to_server.len() as u64));
        prop_assert_eq!(c.to_client.fin_offset(), Some(to_client.len() as u64));
        prop_assert_eq!(c.to_server.len(), to_server.len() as u64);
    }
}

// ---------------------------------------------------------------------------------------------
// CBC record protection (issue 15): any content round-trips in both MAC orders; any bytes
// opened as a record are one clean error or the content, never a panic.

mod cbc_records {
    use proptest::prelude::*;

    use pfslab::crypto::MacAlg;
    use pfslab::msgs::enums::ContentType;
    use pfslab::record_protect::{BadRecordMac, Tls12CbcProtector};

    use super::bytes;

    fn protector(sha256: bool, aes256: bool, etm: bool) -> Tls12CbcProtector {
        let mac = if sha256 { MacAlg::Sha256 } else { MacAlg::Sha1 };
        let key = vec![5u8; if aes256 { 32 } else { 16 }];
        Tls12CbcProtector::new(mac, &vec![3u8; mac.output_len()], &key, etm).expect("shape")
    }

    proptest! {
        #[test]
        fn cbc_round_trip(content in bytes(600), sha256: bool, aes256: bool, etm: bool) {
            let mut tx = protector(sha256, aes256, etm);
            let mut rx = protector(sha256, aes256, etm);
            for _ in 0..2 {
                let rec = tx.seal(ContentType::ApplicationData, 0x0303, &content);
                prop_assert_eq!(rec.len() % 16, if etm && !sha256 { 4 } else { 0 });
                let opened = rx.open(ContentType::ApplicationData, 0x0303, &rec);
                prop_assert_eq!(opened, Ok(content.clone()));
            }
        }

        #[test]
        fn cbc_open_of_any_bytes_is_clean(junk in bytes(300), sha256: bool, etm: bool) {
            let mut rx = protector(sha256, false, etm);
            let r = rx.open(ContentType::ApplicationData, 0x0303, &junk);
            prop_assert_eq!(r, Err(BadRecordMac));
            prop_assert_eq!(rx.sequence(), 0);
        }
    }
}
