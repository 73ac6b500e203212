//! The fuzz targets' bodies, one module each with `run(data)`, and what they, the seed generator
//! and tests/it/fuzz_regressions.rs share: the fixed server identity, the input
//! formats that carry several byte strings in one fuzz input, and the per-process temp file.
//!
//! The identity is the one `pfslab keygen --bits 1024 --seed 8` writes (same rng purpose, same
//! certificate dates), so a capture recorded with those keys decrypts under the fuzzers' key.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use pfslab::crypto::rng::{self, LabRng};
use pfslab::endpoint::server::ServerConfig;
use pfslab::lab::identity::{self, Identity};
use pfslab::pki;
use pfslab::suites;

/// `--seed` of the fixed identity.
pub const KEY_SEED: u64 = 8;
/// Small, so RSA costs little per execution.
pub const KEY_BITS: usize = 1024;

/// The fixed 1024-bit key and its self-signed certificate, generated once per process.
pub fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| {
        let mut r = rng::from_seed(KEY_SEED, "keygen");
        let key = pki::generate_key(&mut r, KEY_BITS).expect("generate the fuzz key");
        let params = pki::CertParams::lab_default(identity::cert_not_before(Some(KEY_SEED)));
        let cert = pki::self_signed_cert(&key, &params, &mut r).expect("self-sign the fuzz key");
        let leaf = pki::parse_certificate(&cert).expect("parse the fuzz certificate");
        Identity {
            key: Arc::new(key),
            chain: vec![cert],
            leaf,
        }
    })
}

/// A server that accepts every suite pfslab has, TLS 1.3 and 1.2, with the fixed identity.
pub fn server_config() -> Arc<ServerConfig> {
    static CONFIG: OnceLock<Arc<ServerConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let id = identity();
            let all = suites::TLS13_SUITES
                .iter()
                .chain(suites::TLS12_SUITES)
                .copied()
                .collect();
            Arc::new(ServerConfig {
                key: id.key.clone(),
                cert_chain: id.chain.clone(),
                suites: all,
                keylog: None,
                dh_group: pfslab::crypto::ffdh::DhGroup::ffdhe2048(),
                ephemerals: Default::default(),
                padding_oracle: Default::default(),
                resumption: Default::default(),
                fast_key: Default::default(),
            })
        })
        .clone()
}

/// The server's randomness: fixed, so a recorded client flight stays valid across runs.
pub fn server_rng() -> LabRng {
    rng::from_seed(KEY_SEED, "fuzz server")
}

/// Splits `data` into chunks, each prefixed by a big-endian u16 length; a short last prefix
/// takes the rest. At most `max` chunks; the rest is the last one.
pub fn split_chunks(mut data: &[u8], max: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while !data.is_empty() && out.len() + 1 < max {
        if data.len() < 2 {
            out.push(data);
            return out;
        }
        let len = usize::from(u16::from_be_bytes([data[0], data[1]]));
        let body = &data[2..];
        let n = len.min(body.len());
        out.push(&body[..n]);
        data = &body[n..];
    }
    if !data.is_empty() {
        out.push(data);
    }
    out
}

/// The inverse of [`split_chunks`] for chunks under 64 KiB.
pub fn join_chunks(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        let len = u16::try_from(c.len()).expect("chunk under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// A file path private to this process and thread, for targets that must go through a file.
pub fn scratch_file(name: &str) -> PathBuf {
    let thread = format!("{:?}", std::thread::current().id())
        .replace(|c: char| !c.is_ascii_alphanumeric(), "");
    std::env::temp_dir().join(format!(
        "pfslab-fuzz-{}-{thread}-{name}",
        std::process::id()
    ))
}

pub mod capture_reader {
    //! pcap / pcapng bytes → `CaptureReader` and `SegmentReader`, drained to the end.
    //!
    //! Checks besides "no panic": every packet's data fits its claimed lengths, packet numbers
    //! count up by one, and after an error the reader stays done.

    use std::io::Cursor;

    use pfslab::capture::reader::MAX_PACKET;
    use pfslab::capture::{decode, CaptureReader, Decoded, SegmentReader};

    /// One fuzz input.
    pub fn run(data: &[u8]) {
        if let Ok(mut reader) = CaptureReader::new(Cursor::new(data), "fuzz.pcap") {
            let mut last = 0u64;
            let mut failed = false;
            while let Some(item) = reader.next_packet() {
                match item {
                    Ok(pkt) => {
                        assert!(!failed, "a packet after an error");
                        assert_eq!(pkt.number, last + 1, "packet numbers must count up by one");
                        last = pkt.number;
                        assert!(
                            pkt.data.len() <= MAX_PACKET as usize + 65_536,
                            "{} bytes of packet data",
                            pkt.data.len()
                        );
                        assert!(pkt.data.len() <= data.len(), "more packet data than input");
                        if let Decoded::Tcp(seg) = decode(&pkt) {
                            assert!(seg.payload.len() <= pkt.data.len());
                            assert!(seg.options.len() <= 40);
                        }
                    }
                    Err(e) => {
                        let _ = e.to_string();
                        failed = true;
                    }
                }
            }
            assert!(reader.next_packet().is_none(), "the reader must stay done");
        }

        if let Ok(inner) = CaptureReader::new(Cursor::new(data), "fuzz.pcap") {
            let mut segments = SegmentReader::new(inner);
            let mut n = 0u64;
            while let Some(item) = segments.next_segment() {
                match item {
                    Ok(seg) => {
                        n += 1;
                        let _ = (seg.src, seg.dst, seg.flags, seg.payload.len());
                    }
                    Err(e) => {
                        let _ = e.to_string();
                    }
                }
            }
            let stats = segments.stats().clone();
            assert!(
                n + stats.total() <= segments.reader().packets(),
                "more segments and skips than packets"
            );
        }
    }
}

pub mod reassembly {
    //! Bytes → synthetic TCP segments → `Reassembler`.
    //!
    //! Each segment's payload byte at sequence number `s` is `s as u8`, so whatever the order,
    //! overlap or wrap-around, every delivered byte at stream offset `o` must equal
    //! `(base + o) as u8` for one `base` per direction: a wrong offset shows as a wrong byte.
    //!
    //! Input: byte 0 picks the out-of-order cap; then per segment
    //! `[ctl][flags][seq: 2 bytes relative, or 4 bytes absolute when ctl & 8][len]`, where ctl bits
    //! 0-1 pick one of four client ports and bit 2 the direction.

    use std::net::SocketAddr;
    use std::time::Duration;

    use pfslab::capture::{
        Connection, HalfStream, Reassembler, ReassemblyConfig, TcpFlags, TcpSegment,
    };

    const MAX_LEN: usize = 1500;

    fn check_half(conn: &Connection, half: &HalfStream, name: &str) {
        assert_eq!(
            half.pending(),
            0,
            "stream {} {name}: out-of-order bytes left after the end",
            conn.stream
        );
        let mut prev_end: Option<u64> = None;
        let mut phase: Option<u8> = None;
        for run in half.runs() {
            assert!(
                !run.data.is_empty(),
                "stream {} {name}: empty run at {}",
                conn.stream,
                run.offset
            );
            if let Some(end) = prev_end {
                assert!(
                    run.offset > end,
                    "stream {} {name}: run at {} overlaps or touches the one ending at {end}",
                    conn.stream,
                    run.offset
                );
            }
            prev_end = Some(run.end());
            for (i, b) in run.data.iter().enumerate() {
                let offset = run.offset.wrapping_add(i as u64) as u8;
                let k = b.wrapping_sub(offset);
                match phase {
                    None => phase = Some(k),
                    Some(p) => assert_eq!(
                        p,
                        k,
                        "stream {} {name}: byte at offset {} came from the wrong sequence number",
                        conn.stream,
                        run.offset + i as u64
                    ),
                }
            }
        }
        let delivered: u64 = half.runs().iter().map(|r| r.data.len() as u64).sum();
        assert_eq!(delivered, half.len());
        let _ = (
            half.gaps(),
            half.contiguous(),
            half.fin_offset(),
            half.isn(),
        );
    }

    /// One fuzz input.
    pub fn run(data: &[u8]) {
        let Some((&cap_sel, mut rest)) = data.split_first() else {
            return;
        };
        let cap = if cap_sel & 0x80 == 0 {
            ReassemblyConfig::default().max_out_of_order
        } else {
            usize::from(cap_sel & 0x7f) * 64
        };
        let mut asm = Reassembler::new(ReassemblyConfig {
            max_out_of_order: cap,
            ..ReassemblyConfig::default()
        });
        let server: SocketAddr = "10.0.0.2:443".parse().unwrap();
        let mut payload = vec![0u8; MAX_LEN];
        let mut total_in: u64 = 0;
        let mut done = Vec::new();
        let mut number = 0u64;
        while rest.len() >= 4 {
            let (ctl, flags) = (rest[0], rest[1]);
            let absolute = ctl & 8 != 0;
            let need = if absolute { 6 } else { 4 };
            if rest.len() < need + 1 {
                break;
            }
            let seq = if absolute {
                u32::from_be_bytes([rest[2], rest[3], rest[4], rest[5]])
            } else {
                // Near a per-direction ISN so segments meet; i16 spread covers overlaps and holes.
                let rel = i16::from_be_bytes([rest[2], rest[3]]) as i32;
                let isn: u32 = if ctl & 4 == 0 { 0xffff_ff00 } else { 0x1000 };
                isn.wrapping_add(rel as u32)
            };
            let len = usize::from(rest[need]) * (1 + usize::from(ctl >> 5)) % (MAX_LEN + 1);
            rest = &rest[need + 1..];
            let client: SocketAddr =
                SocketAddr::new("10.0.0.1".parse().unwrap(), 40000 + u16::from(ctl & 3));
            let (src, dst) = if ctl & 4 == 0 {
                (client, server)
            } else {
                (server, client)
            };
            // Payload bytes are their own sequence numbers (see the module comment); a SYN
            // occupies `seq` itself, so data rides from `seq + 1`.
            let first = if flags & TcpFlags::SYN != 0 {
                seq.wrapping_add(1)
            } else {
                seq
            };
            for (i, b) in payload[..len].iter_mut().enumerate() {
                *b = first.wrapping_add(i as u32) as u8;
            }
            number += 1;
            total_in += len as u64;
            let seg = TcpSegment {
                number,
                ts: Duration::from_millis(number),
                src,
                dst,
                seq,
                ack: 0,
                flags: TcpFlags(flags),
                window: 65535,
                options: &[],
                payload: &payload[..len],
            };
            asm.push(&seg);
            while let Some(c) = asm.pop_finished() {
                done.push(c);
            }
        }
        done.extend(asm.end_of_capture());
        assert_eq!(asm.live(), 0);
        let mut delivered = 0u64;
        for conn in &done {
            check_half(conn, &conn.to_server, "client→server");
            check_half(conn, &conn.to_client, "server→client");
            delivered += conn.to_server.len() + conn.to_client.len();
        }
        assert!(
            delivered <= total_in,
            "{delivered} bytes delivered from {total_in} bytes of payload"
        );
        let stats = asm.stats();
        assert_eq!(stats.segments, number);
        assert_eq!(stats.connections as usize, done.len());
    }
}

pub mod tls_messages {
    //! Bytes → the TLS record and handshake parsers: `Deframer` (fed in chunks), `HandshakeJoiner`,
    //! every handshake message reader, `Alert::read`, and `ObservedSession::observe` on the input
    //! split in two at a byte the input chooses.
    //!
    //! Whatever a reader accepts must encode back to something it reads as the same value.

    use pfslab::attack::observe::ObservedSession;
    use pfslab::msgs::alert::Alert;
    use pfslab::msgs::enums::{ContentType, ExtensionType, HandshakeType};
    use pfslab::msgs::handshake::{
        read_certificate_request, read_empty, CertificateMsg, ClientHello, EcdheClientKeyExchange,
        EcdheServerKeyExchange, Extension, Finished, NewSessionTicket12, RsaClientKeyExchange,
        ServerHello,
    };
    use pfslab::msgs::record::{
        Deframer, HandshakeJoiner, HandshakeMessage, MAX_CIPHERTEXT, MAX_HANDSHAKE_MESSAGE,
    };

    fn extensions(exts: &[Extension]) {
        for e in exts {
            let _ = e.parse_server_name();
            let _ = e.parse_u16_list("fuzz");
            let _ = e.parse_u8_list("fuzz");
        }
        let _ = exts
            .iter()
            .find(|e| e.typ == ExtensionType::SupportedVersions);
    }

    macro_rules! round_trip {
        ($ty:ty, $body:expr) => {
            if let Ok(v) = <$ty>::read($body) {
                let again = <$ty>::read(v.encode().body())
                    .expect(concat!(stringify!($ty), " does not read its own encoding"));
                assert_eq!(
                    again, v,
                    concat!(stringify!($ty), " changes in a round trip")
                );
                Some(v)
            } else {
                None
            }
        };
    }

    /// Every reader on one body, whatever its type says.
    fn all_readers(body: &[u8]) {
        if let Some(ch) = round_trip!(ClientHello, body) {
            extensions(&ch.extensions);
        }
        if let Some(sh) = round_trip!(ServerHello, body) {
            extensions(&sh.extensions);
        }
        round_trip!(CertificateMsg, body);
        if let Some(ske) = round_trip!(EcdheServerKeyExchange, body) {
            let _ = ske.signed_message(&[0; 32], &[1; 32]);
        }
        round_trip!(RsaClientKeyExchange, body);
        round_trip!(EcdheClientKeyExchange, body);
        round_trip!(Finished, body);
        round_trip!(NewSessionTicket12, body);
        let _ = read_certificate_request(body);
        let _ = read_empty(body, "fuzz");
        if let Ok(a) = Alert::read(body) {
            assert_eq!(Alert::read(&a.encode()), Ok(a));
        }
    }

    fn deframe(stream: &[u8], chunk: usize) {
        let mut deframer = Deframer::new();
        let mut joiner = HandshakeJoiner::new();
        let mut fed = 0usize;
        let mut out_bytes = 0usize;
        loop {
            match deframer.next_record() {
                Ok(Some(rec)) => {
                    assert!(rec.payload.len() <= MAX_CIPHERTEXT);
                    out_bytes += 5 + rec.payload.len();
                    assert_eq!(
                        rec.encode(),
                        stream[out_bytes - 5 - rec.payload.len()..out_bytes],
                        "a record is not the bytes it came from"
                    );
                    match rec.content_type {
                        ContentType::Handshake => {
                            joiner.push(&rec.payload);
                            while let Ok(Some(m)) = joiner.next_message() {
                                assert!(m.body().len() <= MAX_HANDSHAKE_MESSAGE);
                                assert_eq!(HandshakeMessage::new(m.typ, m.body()), m);
                                all_readers(m.body());
                                let _ = m.typ == HandshakeType::Finished;
                            }
                        }
                        ContentType::Alert => {
                            let _ = Alert::read(&rec.payload);
                        }
                        _ => {}
                    }
                }
                Ok(None) => {
                    if fed >= stream.len() {
                        assert_eq!(deframer.pending() + out_bytes, stream.len());
                        break;
                    }
                    let end = (fed + chunk).min(stream.len());
                    deframer.push(&stream[fed..end]);
                    fed = end;
                }
                Err(e) => {
                    let _ = e.to_string();
                    break;
                }
            }
        }
    }

    /// One fuzz input.
    pub fn run(data: &[u8]) {
        let Some((&ctl, rest)) = data.split_first() else {
            return;
        };
        deframe(rest, usize::from(ctl % 64) + 1);
        all_readers(rest);
        let split = if rest.is_empty() {
            0
        } else {
            usize::from(ctl) * rest.len() / 255
        };
        let (to_server, to_client) = rest.split_at(split.min(rest.len()));
        let seen = ObservedSession::observe(to_server, to_client);
        let _ = (
            seen.version_name(),
            seen.transcript_through_client_key_exchange(),
            seen.app_bytes(),
            seen.client_random(),
        );
        let _ = ObservedSession::observe(to_client, to_server);
    }
}

pub mod attack_pipeline {
    //! The attacker's whole road on one byte string: written to a file, read as a capture by
    //! `pipeline::for_each_tls_connection`, every TLS session analysed with no key and with the
    //! fixed 1024-bit key (the one `pfslab keygen --bits 1024 --seed 8` writes), resumption cache
    //! included, then rendered as `inspect`, `attack` (table, conversations, JSON) and `explain`
    //! would print it.

    use std::sync::OnceLock;

    use pfslab::attack::pipeline;
    use pfslab::attack::{recover, Loot, ResumptionCache};
    use pfslab::explain::{self, Style};
    use pfslab::report::{self, InspectRow};
    use pfslab::tls12::keys::MasterSecret;

    use super::*;

    fn loot_with_key() -> &'static Loot {
        static LOOT: OnceLock<Loot> = OnceLock::new();
        LOOT.get_or_init(|| Loot::new(Some((*identity().key).clone()), None))
    }

    /// One fuzz input.
    pub fn run(data: &[u8]) {
        let path = scratch_file("attack.pcap");
        std::fs::write(&path, data).expect("write the scratch capture");
        let no_key = Loot::default();
        let with_key = loot_with_key();
        let mut reports = Vec::new();
        let mut rows = Vec::new();
        let mut explained = 0;
        let mut caches = [ResumptionCache::default(), ResumptionCache::default()];
        let result = pipeline::for_each_tls_connection(&path, |conn| {
            for (loot, cache) in [&no_key, with_key].into_iter().zip(caches.iter_mut()) {
                let r = pfslab::attack::driver::analyse_connection("fuzz.pcap", &conn, loot, cache);
                if let Some(ms) = &r.master_secret {
                    if let Ok(arr) = <[u8; 48]>::try_from(ms.as_slice()) {
                        cache.remember(conn.stream, &conn.session, &MasterSecret(Box::new(arr)));
                    }
                }
                let _ = r.first_line();
                reports.push(r);
            }
            if explained < 2 {
                explained += 1;
                let recovered = recover(&conn.session, with_key, &caches[1]);
                let _ = explain::explain(
                    &conn,
                    "fuzz.pcap",
                    &recovered,
                    Style {
                        color: explained == 2,
                    },
                );
                let recovered = recover(&conn.session, &no_key, &caches[0]);
                let _ = explain::explain(&conn, "fuzz.pcap", &recovered, Style { color: false });
            }
            let _ = report::wire_summary(&conn);
            rows.push(InspectRow {
                capture: "fuzz.pcap".into(),
                conn,
            });
        });
        match result {
            Ok(summary) => {
                assert!(
                    summary.tls_sessions + summary.non_tls_connections <= summary.tcp_connections
                );
                let _ = report::inspect_table(&rows, true);
                let _ = report::attack_table(&reports, false);
                let _ = report::conversations(&reports);
                let _ = report::attack_json(&reports).to_string();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}

pub mod server_handshake {
    //! The server's handshake state machine fed arbitrary client flights: the input is a list of
    //! u16-length-prefixed chunks (see `pfslab_fuzz::split_chunks`), each one `read_tls` call on
    //! a fresh `server_connection` with the fixed 1024-bit identity and fixed randomness.
    //!
    //! Checks besides "no panic": the output is whole records; a failed connection stays failed
    //! and says nothing more; what it sent last is at most one fatal alert.

    use pfslab::endpoint::conn::Closed;
    use pfslab::msgs::record::Deframer;

    use super::*;

    /// Every byte the server writes must deframe into whole records.
    fn assert_whole_records(out: &[u8]) -> usize {
        let mut d = Deframer::new();
        d.push(out);
        let mut n = 0;
        while let Some(_rec) = d
            .next_record()
            .expect("the server wrote something that is not a TLS record")
        {
            n += 1;
        }
        assert_eq!(d.pending(), 0, "the server wrote a partial record");
        n
    }

    /// One fuzz input.
    pub fn run(data: &[u8]) {
        let mut server = pfslab::endpoint::server::server_connection(server_config(), server_rng())
            .expect("server connection");
        let mut total_out = 0usize;
        let mut failed = false;
        for flight in split_chunks(data, 64) {
            let result = server.read_tls(flight);
            let out = server.take_output();
            total_out += out.len();
            if failed {
                assert!(result.is_err(), "a failed connection accepted more bytes");
                assert!(out.is_empty(), "a failed connection wrote more bytes");
                continue;
            }
            assert_whole_records(&out);
            match result {
                Ok(()) => {
                    if let Some(Closed::Failed(why)) = server.closed() {
                        panic!("read_tls returned Ok on a failed connection: {why}");
                    }
                }
                Err(e) => {
                    failed = true;
                    let _ = e.to_string();
                    assert!(
                        matches!(server.closed(), Some(Closed::Failed(_))),
                        "an error left the connection open: {e}"
                    );
                }
            }
            if !server.is_handshaking() && server.closed().is_none() {
                let _ = server.take_received();
                let _ = server.send(b"HTTP/1.0 200 OK\r\n\r\n");
                server.send_close_notify();
                assert_whole_records(&server.take_output());
            }
        }
        // The whole server flight (hello, certificate, key exchange, done, then CCS and
        // Finished) is a few KiB; anything much larger means output grows with input.
        assert!(
            total_out <= 16 * 1024 + data.len() * 2,
            "{total_out} bytes out for {} bytes in",
            data.len()
        );
    }
}
