//! TCP reassembly, case by case: any permutation, duplication and overlap of segments, gaps,
//! the out-of-order cap, stream numbers as Wireshark counts them, empty segments, random
//! segments, and how long a closed 4-tuple is remembered.

use std::net::SocketAddr;
use std::time::Duration;

use super::fixtures::{pattern, sa, C, S};
use super::Rng;
use crate::capture::*;

struct Seg {
    from_client: bool,
    seq: u32,
    flags: u8,
    data: Vec<u8>,
}

fn feed(asm: &mut Reassembler, segs: &[Seg], number0: u64) -> Vec<Connection> {
    let (c, s) = (sa(C), sa(S));
    let mut out = Vec::new();
    for (i, g) in segs.iter().enumerate() {
        let (src, dst) = if g.from_client { (c, s) } else { (s, c) };
        let seg = TcpSegment {
            number: number0 + i as u64 + 1,
            ts: Duration::from_millis(number0 + i as u64),
            src,
            dst,
            seq: g.seq,
            ack: 0,
            flags: TcpFlags(g.flags),
            window: 65535,
            options: &[],
            payload: &g.data,
        };
        asm.push(&seg);
        while let Some(c) = asm.pop_finished() {
            out.push(c);
        }
    }
    out
}

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;
const RST: u8 = TcpFlags::RST;

/// Cuts `data` into segments (sizes from `cuts`), starting at sequence `isn + 1`.
fn segments(data: &[u8], isn: u32, sizes: &[usize], from_client: bool) -> Vec<Seg> {
    let mut v = Vec::new();
    let mut at = 0usize;
    let mut i = 0;
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        v.push(Seg {
            from_client,
            seq: isn.wrapping_add(1).wrapping_add(at as u32),
            flags: ACK,
            data: data[at..at + n].to_vec(),
        });
        at += n;
        i += 1;
    }
    v
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}

#[test]
fn any_permutation_duplication_and_overlap_reassembles() {
    for (isn, len) in [
        (1000u32, 3000usize),
        (u32::MAX - 1500, 4000),
        (u32::MAX, 700),
    ] {
        let data = pattern(len, isn);
        for seed in 0..200u64 {
            let mut segs = segments(&data, isn, &[100, 333, 1, 517, 64], true);
            // Overlapping copies: shifted windows of the same bytes.
            let extra: Vec<Seg> = segments(&data[50..], isn.wrapping_add(50), &[250, 90], true);
            segs.extend(extra);
            // Duplicates of a few segments.
            let dups: Vec<Seg> = segs
                .iter()
                .step_by(3)
                .map(|s| Seg {
                    data: s.data.clone(),
                    ..*s
                })
                .collect();
            segs.extend(dups);
            shuffle(&mut segs, seed);
            let mut all = vec![Seg {
                from_client: true,
                seq: isn,
                flags: SYN,
                data: vec![],
            }];
            all.push(Seg {
                from_client: false,
                seq: 77,
                flags: SYN | ACK,
                data: vec![],
            });
            all.extend(segs);
            all.push(Seg {
                from_client: true,
                seq: isn.wrapping_add(1).wrapping_add(len as u32),
                flags: FIN,
                data: vec![],
            });
            all.push(Seg {
                from_client: false,
                seq: 78,
                flags: FIN,
                data: vec![],
            });
            let mut asm = Reassembler::default();
            let done = feed(&mut asm, &all, 0);
            assert_eq!(done.len(), 1, "isn {isn} seed {seed}");
            let c = &done[0];
            assert_eq!(c.end, Some(EndReason::Fin));
            assert_eq!(c.client, sa(C));
            assert_eq!(c.to_server.contiguous(), &data[..], "isn {isn} seed {seed}");
            assert!(c.to_server.gaps().is_empty());
            assert_eq!(c.to_server.fin_offset(), Some(len as u64));
            assert!(c.to_server.retransmitted > 0);
        }
    }
}

impl Clone for Seg {
    fn clone(&self) -> Self {
        Seg {
            from_client: self.from_client,
            seq: self.seq,
            flags: self.flags,
            data: self.data.clone(),
        }
    }
}

#[test]
fn dropped_segment_is_a_gap_at_its_offset() {
    let isn = u32::MAX - 10; // the gap straddles the 2^32 wrap
    let data = pattern(1000, 9);
    let mut segs = segments(&data, isn, &[100], true);
    let lost = segs.remove(3); // bytes 300..400
    assert_eq!(lost.data, &data[300..400]);
    shuffle(&mut segs, 5);
    let mut all = vec![Seg {
        from_client: true,
        seq: isn,
        flags: SYN,
        data: vec![],
    }];
    all.extend(segs);
    let mut asm = Reassembler::default();
    assert!(feed(&mut asm, &all, 0).is_empty());
    let done = asm.end_of_capture();
    let h = &done[0].to_server;
    assert_eq!(done[0].end, Some(EndReason::EndOfCapture));
    assert_eq!(h.contiguous(), &data[..300]);
    assert_eq!(
        h.gaps(),
        vec![reassembly::Gap {
            offset: 300,
            len: 100
        }]
    );
    assert_eq!(h.runs().len(), 2);
    assert_eq!(h.runs()[1].offset, 400);
    assert_eq!(h.runs()[1].data, &data[400..]);
}

#[test]
fn out_of_order_cap_gives_up_the_hole() {
    let data = pattern(10_000, 4);
    let mut segs = segments(&data, 0, &[1000], true);
    segs.remove(0);
    let mut asm = Reassembler::new(ReassemblyConfig {
        max_out_of_order: 2500,
        ..ReassemblyConfig::default()
    });
    let mut all = vec![Seg {
        from_client: true,
        seq: 0,
        flags: SYN,
        data: vec![],
    }];
    all.extend(segs);
    feed(&mut asm, &all, 0);
    let done = asm.end_of_capture();
    let h = &done[0].to_server;
    assert_eq!(
        h.gaps(),
        vec![reassembly::Gap {
            offset: 0,
            len: 1000
        }]
    );
    assert_eq!(h.runs()[0].offset, 1000);
    assert_eq!(h.runs()[0].data, &data[1000..]);
    assert_eq!(h.pending(), 0);
}

#[test]
fn stream_numbers_follow_wireshark() {
    let mut asm = Reassembler::default();
    let conv = |isn: u32| {
        vec![
            Seg {
                from_client: true,
                seq: isn,
                flags: SYN,
                data: vec![],
            },
            Seg {
                from_client: false,
                seq: 9,
                flags: SYN | ACK,
                data: vec![],
            },
            Seg {
                from_client: true,
                seq: isn + 1,
                flags: ACK,
                data: b"x".to_vec(),
            },
            Seg {
                from_client: true,
                seq: isn + 2,
                flags: FIN,
                data: vec![],
            },
            Seg {
                from_client: false,
                seq: 10,
                flags: FIN,
                data: vec![],
            },
            Seg {
                from_client: true,
                seq: isn + 3,
                flags: ACK,
                data: vec![],
            }, // trailing ACK
        ]
    };
    let mut all = conv(100);
    all.extend(conv(5000)); // new SYN, new ISN, same 4-tuple
    all.push(Seg {
        from_client: true,
        seq: 9000,
        flags: SYN,
        data: vec![],
    });
    all.push(Seg {
        from_client: true,
        seq: 9000,
        flags: SYN,
        data: vec![],
    }); // retransmitted SYN
    all.push(Seg {
        from_client: false,
        seq: 1,
        flags: RST | ACK,
        data: vec![],
    });
    let done = feed(&mut asm, &all, 0);
    let streams: Vec<(u64, Option<EndReason>)> = done.iter().map(|c| (c.stream, c.end)).collect();
    assert_eq!(
        streams,
        vec![
            (0, Some(EndReason::Fin)),
            (1, Some(EndReason::Fin)),
            (2, Some(EndReason::Reset))
        ]
    );
    assert_eq!(done[1].to_server.contiguous(), b"x");
    assert_eq!(done[0].packets, 5);
    assert_eq!(done[2].packets, 3);
    assert_eq!(asm.stats().after_close, 2);
    assert!(asm.end_of_capture().is_empty());
}

#[test]
fn empty_segments_ahead_of_the_stream_do_not_disturb_it() {
    // A pure ACK and a FIN beyond a hole, then the hole's data.
    let segs = vec![
        Seg {
            from_client: true,
            seq: 10,
            flags: SYN,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 21,
            flags: ACK,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 21,
            flags: FIN,
            data: vec![],
        },
        Seg {
            from_client: true,
            seq: 11,
            flags: ACK,
            data: b"0123456789".to_vec(),
        },
    ];
    let mut asm = Reassembler::default();
    feed(&mut asm, &segs, 0);
    let done = asm.end_of_capture();
    assert_eq!(done[0].to_server.contiguous(), b"0123456789");
    assert_eq!(done[0].to_server.fin_offset(), Some(10));
    assert!(done[0].to_server.gaps().is_empty());
}

#[test]
fn random_segments_never_panic_the_reassembler() {
    let mut rng = Rng(7);
    let mut asm = Reassembler::new(ReassemblyConfig {
        max_out_of_order: 3000,
        ..ReassemblyConfig::default()
    });
    for round in 0..20_000u64 {
        let len = (rng.next() % 1600) as usize;
        let base = [0u32, u32::MAX - 2000, 1 << 31][(round % 3) as usize];
        let seg = Seg {
            from_client: rng.next().is_multiple_of(2),
            seq: base.wrapping_add((rng.next() % 8000) as u32),
            flags: (rng.next() % 0x20) as u8,
            data: vec![0xab; len],
        };
        let port = 1000 + (rng.next() % 4) as u16;
        let (c, s) = (SocketAddr::new(sa(C).ip(), port), sa(S));
        let (src, dst) = if seg.from_client { (c, s) } else { (s, c) };
        asm.push(&TcpSegment {
            number: round + 1,
            ts: Duration::from_millis(round),
            src,
            dst,
            seq: seg.seq,
            ack: 0,
            flags: TcpFlags(seg.flags),
            window: 0,
            options: &[],
            payload: &seg.data,
        });
        while asm.pop_finished().is_some() {}
    }
    for c in asm.end_of_capture() {
        for h in [&c.to_server, &c.to_client] {
            assert_eq!(h.pending(), 0);
            let mut at = 0;
            for r in h.runs() {
                assert!(r.offset >= at);
                at = r.end();
            }
        }
    }
}

#[test]
fn closed_tuples_are_forgotten_after_the_linger_time() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_secs(60),
        ..ReassemblyConfig::default()
    });
    let seg = |from_client: bool, seq: u32, flags: u8, data: &[u8]| Seg {
        from_client,
        seq,
        flags,
        data: data.to_vec(),
    };
    let conversation = vec![
        seg(true, 100, SYN, b""),
        seg(false, 7, SYN | ACK, b""),
        seg(true, 101, ACK, b"hello"),
        seg(true, 106, FIN, b""),
        seg(false, 8, FIN, b""),
    ];
    let done = feed(&mut asm, &conversation, 0);
    assert_eq!(done.len(), 1);
    assert_eq!(asm.remembered_closed(), 1);
    // A trailing ACK 30 s later still belongs to the closed connection.
    assert!(feed(&mut asm, &[seg(true, 107, ACK, b"")], 30_000).is_empty());
    assert_eq!(asm.stats().after_close, 1);
    assert_eq!(asm.remembered_closed(), 1);
    // Another connection's packet 61 s after the close lets the first 4-tuple go.
    asm.push(&syn_of_another_connection(Duration::from_secs(61)));
    assert_eq!(asm.remembered_closed(), 0);
    // A stray segment on the old 4-tuple now opens a new stream, as it would for the peers.
    assert!(feed(&mut asm, &[seg(true, 107, ACK, b"")], 62_000).is_empty());
    assert_eq!(asm.stats().after_close, 1);
    assert_eq!(asm.stats().connections, 3);
    assert_eq!(asm.live(), 2);
}

#[test]
fn only_the_most_recently_closed_tuples_are_remembered_beyond_max_closed() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        max_closed: 2,
        ..ReassemblyConfig::default()
    });
    // Three connections from three client ports, each opened and closed within a second.
    for port in 1..=3u16 {
        let client: SocketAddr = format!("10.0.0.{port}:{}", 4000 + port)
            .parse()
            .expect("addr");
        let at = |ms: u64| Duration::from_millis(u64::from(port) * 1000 + ms);
        for s in [
            empty_segment(client, sa(S), 100, SYN, at(0)),
            empty_segment(sa(S), client, 7, SYN | ACK, at(1)),
            empty_segment(client, sa(S), 101, FIN, at(2)),
            empty_segment(sa(S), client, 8, FIN, at(3)),
        ] {
            asm.push(&s);
        }
        while asm.pop_finished().is_some() {}
    }
    // Well within the 60 s linger, yet only the last two are remembered.
    asm.push(&syn_of_another_connection(Duration::from_secs(4)));
    assert_eq!(asm.remembered_closed(), 2);
}

/// A segment without payload from `src` to `dst` at `ts`.
fn empty_segment(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    flags: u8,
    ts: Duration,
) -> TcpSegment<'static> {
    TcpSegment {
        number: 99,
        ts,
        src,
        dst,
        seq,
        ack: 0,
        flags: TcpFlags(flags),
        window: 65535,
        options: &[],
        payload: &[],
    }
}

/// A SYN on an unrelated 4-tuple at `ts`: moves the reassembler's clock.
fn syn_of_another_connection(ts: Duration) -> TcpSegment<'static> {
    empty_segment("10.9.9.9:1000".parse().expect("addr"), sa(S), 1, SYN, ts)
}

/// An empty segment.
fn bare(from_client: bool, seq: u32, flags: u8) -> Seg {
    Seg {
        from_client,
        seq,
        flags,
        data: Vec::new(),
    }
}

/// A connection opened and closed with no data; fed from 0 ms it closes at 3 ms.
fn closed_at_3_ms() -> Vec<Seg> {
    vec![
        bare(true, 100, SYN),
        bare(false, 7, SYN | ACK),
        bare(true, 101, FIN),
        bare(false, 8, FIN),
    ]
}

#[test]
fn a_reused_tuple_is_not_forgotten_by_its_old_close() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_millis(10),
        ..ReassemblyConfig::default()
    });
    // Closed at 3 ms.
    assert_eq!(feed(&mut asm, &closed_at_3_ms(), 0).len(), 1);
    // Reused inside the linger (5–6 ms): a new connection on the same 4-tuple.
    let second = vec![bare(true, 5000, SYN), bare(false, 70, SYN | ACK)];
    assert!(feed(&mut asm, &second, 5).is_empty());
    assert_eq!(asm.live(), 1);
    // Another connection at 30 ms moves the clock past the old close: the live connection
    // that reused the 4-tuple must stay.
    asm.push(&syn_of_another_connection(Duration::from_millis(30)));
    assert_eq!(asm.live(), 2);
    let end = asm.end_of_capture();
    let streams: Vec<(u64, u64)> = end.iter().map(|c| (c.stream, c.packets)).collect();
    assert_eq!(streams, vec![(1, 2), (2, 1)]);
}

#[test]
fn a_closed_tuple_is_remembered_for_exactly_the_linger_time() {
    let mut asm = Reassembler::new(ReassemblyConfig {
        closed_linger: Duration::from_millis(10),
        ..ReassemblyConfig::default()
    });
    // Closed at 3 ms; a trailing ACK at exactly 13 ms still belongs to it.
    assert_eq!(feed(&mut asm, &closed_at_3_ms(), 0).len(), 1);
    assert!(feed(&mut asm, &[bare(true, 102, ACK)], 13).is_empty());
    assert_eq!((asm.stats().after_close, asm.remembered_closed()), (1, 1));
    // At 14 ms it is forgotten.
    assert!(feed(&mut asm, &[bare(true, 102, ACK)], 14).is_empty());
    assert_eq!((asm.stats().after_close, asm.remembered_closed()), (1, 0));
    assert_eq!(asm.live(), 1);
}
