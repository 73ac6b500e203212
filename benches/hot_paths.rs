//! Micro-benchmarks of the attacker's hot paths (issue 7): RSA premaster recovery (the rsa
//! crate's path and `fast_rsa`, AWS-LC), PRF + key block, 16 KB record decryption, pcap
//! parsing + TCP reassembly, and pipeline + analyse end to end on a seeded `pfslab record`
//! capture.
//!
//! `cargo bench --bench hot_paths` (all) or `cargo bench --bench hot_paths -- rsa` (a subset).
//! `scripts/bench.sh` measures the whole command against tshark on a large OpenSSL capture.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::Rng;

use pfslab::attack::{analyse, Loot, ResumptionCache};
use pfslab::capture::{Reassembler, ReassemblyConfig, SegmentReader};
use pfslab::crypto::fast_rsa::FastRsaKey;
use pfslab::crypto::rng::from_seed;
use pfslab::msgs::enums::ContentType;
use pfslab::record_protect::Tls12GcmProtector;
use pfslab::suites::TLS_RSA_WITH_AES_128_GCM_SHA256;
use pfslab::tls12::keys::{derive_master_secret, key_block};

const SEED: u64 = 7;
/// RSA-transport and ECDHE sessions in the end-to-end capture.
const RSA_SESSIONS: usize = 32;
const ECDHE_SESSIONS: usize = 8;

fn rsa_premaster(c: &mut Criterion) {
    let mut rng = from_seed(SEED, "bench rsa key");
    let key = pfslab::pki::generate_key(&mut rng, 2048).expect("keygen");
    let mut premaster = [0u8; 48];
    rng.fill_bytes(&mut premaster);
    premaster[..2].copy_from_slice(&[0x03, 0x03]);
    let ct = pfslab::pki::rsa_encrypt_pkcs1(&key.to_public_key(), &premaster, &mut rng)
        .expect("encrypt");
    let fast = FastRsaKey::unblinded(&key).expect("two-prime key");
    assert_eq!(
        fast.decrypt_pkcs1v15(&ct).map(|m| m.to_vec()),
        Some(premaster.to_vec())
    );

    let mut g = c.benchmark_group("rsa_premaster_2048");
    g.sample_size(30).measurement_time(Duration::from_secs(4));
    g.bench_function("rsa_crate_pkcs1v15", |b| {
        b.iter(|| pfslab::pki::rsa_decrypt_pkcs1(black_box(&key), black_box(&ct)).expect("decrypt"))
    });
    g.bench_function("fast_rsa_aws_lc", |b| {
        b.iter(|| fast.decrypt_pkcs1v15(black_box(&ct)).expect("decrypt"))
    });
    g.bench_function("fast_rsa_key_setup", |b| {
        b.iter(|| FastRsaKey::new(black_box(&key)).expect("key"))
    });
    g.finish();
}

fn prf_key_block(c: &mut Criterion) {
    let suite = TLS_RSA_WITH_AES_128_GCM_SHA256;
    let mut rng = from_seed(SEED, "bench prf");
    let (mut premaster, mut cr, mut sr) = ([0u8; 48], [0u8; 32], [0u8; 32]);
    rng.fill_bytes(&mut premaster);
    rng.fill_bytes(&mut cr);
    rng.fill_bytes(&mut sr);
    // ClientHello … ClientKeyExchange of an OpenSSL handshake with a 2048-bit certificate.
    let mut transcript = vec![0u8; 2_400];
    rng.fill_bytes(&mut transcript);

    let mut g = c.benchmark_group("prf");
    g.bench_function("ems_master_secret_and_key_block", |b| {
        b.iter(|| {
            let master = derive_master_secret(
                &suite,
                black_box(&premaster),
                true,
                &cr,
                &sr,
                black_box(&transcript),
            );
            key_block(&suite, &master, &cr, &sr)
        })
    });
    g.bench_function("key_block_only", |b| {
        let master = derive_master_secret(&suite, &premaster, false, &cr, &sr, &[]);
        b.iter(|| key_block(&suite, black_box(&master), &cr, &sr))
    });
    g.finish();
}

fn record_open(c: &mut Criterion) {
    const LEN: usize = 16_384; // the largest TLS plaintext (RFC 5246 §6.2.1)
    let mut rng = from_seed(SEED, "bench record");
    let (mut key, mut salt, mut plain) = ([0u8; 16], [0u8; 4], vec![0u8; LEN]);
    rng.fill_bytes(&mut key);
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut plain);
    let opener = Tls12GcmProtector::new(&key, &salt).expect("protector");
    let sealed = opener
        .clone()
        .seal(ContentType::ApplicationData, 0x0303, &plain);

    let mut g = c.benchmark_group("record_open_16k");
    g.throughput(Throughput::Bytes(LEN as u64));
    g.bench_function("aes128gcm_open", |b| {
        b.iter_batched_ref(
            || opener.clone(),
            |p| {
                p.open(ContentType::ApplicationData, 0x0303, black_box(&sealed))
                    .expect("open")
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A seeded `pfslab record` capture and its server key, made fresh for each run.
fn lab_capture() -> (PathBuf, rsa::PrivateKey) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hot_paths");
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("lab.pcap");
    let summary = pfslab::lab::recording::record(pfslab::lab::recording::RecordOptions {
        out: out.clone(),
        sessions: pfslab::lab::recording::parse_sessions(&format!(
            "rsa={RSA_SESSIONS},ecdhe={ECDHE_SESSIONS}"
        ))
        .expect("sessions"),
        ticket_key: None,
        seed: Some(SEED),
        keylog: None,
        key_dir: dir.join("keys"),
        ems: true,
        etm: true,
        progress: None,
    })
    .expect("record");
    let key = pfslab::pki::load_private_key(&pfslab::lab::identity::key_path(&dir.join("keys")))
        .expect("key");
    (summary.capture, key)
}

fn capture_paths(c: &mut Criterion) {
    let (path, key) = lab_capture();
    let size = std::fs::metadata(&path).expect("capture").len();

    let mut g = c.benchmark_group("capture");
    g.throughput(Throughput::Bytes(size));
    g.bench_function("read_and_reassemble", |b| {
        b.iter(|| {
            let mut reader = SegmentReader::open(&path).expect("open");
            let mut reassembler = Reassembler::new(ReassemblyConfig::default());
            let mut connections = 0usize;
            while let Some(seg) = reader.next_segment() {
                reassembler.push(&seg.expect("segment"));
                while reassembler.pop_finished().is_some() {
                    connections += 1;
                }
            }
            connections + reassembler.end_of_capture().len()
        })
    });
    g.finish();

    let loot = Loot::new(Some(key), None);
    let mut g = c.benchmark_group("attack");
    g.throughput(Throughput::Elements((RSA_SESSIONS + ECDHE_SESSIONS) as u64));
    g.sample_size(10).measurement_time(Duration::from_secs(8));
    g.bench_function("pipeline_and_analyse", |b| {
        b.iter(|| {
            let cache = ResumptionCache::default();
            let mut decrypted = 0usize;
            pfslab::attack::pipeline::for_each_tls_connection(&path, |conn| {
                let r = analyse(
                    "lab.pcap",
                    conn.stream,
                    conn.client.to_string(),
                    conn.server.to_string(),
                    &conn.session,
                    &loot,
                    &cache,
                );
                decrypted += usize::from(r.verdict == pfslab::attack::Verdict::Decrypted);
            })
            .expect("pipeline");
            assert_eq!(decrypted, RSA_SESSIONS);
            decrypted
        })
    });
    g.finish();
}

/// memscan on a 20 MB image shaped like a server's heap: 19 MB of pointers, counters and text
/// (32-byte records, so every aligned window holds a pointer)
/// (thrown away by the shape filter) and 1 MB of random bytes (ciphertext, keys: every window a
/// candidate, each costing a scalar multiplication per encoding and the PRF/HKDF checks), against
/// 8 sessions of the lab capture (issue 17: "a ~20 MB server process in well under a minute").
/// A master-secret candidate is tried on every TLS 1.2 session: the cost grows as random-looking
/// windows × sessions. Measured: 9.6 s a scan on a shared 2-core machine (release).
fn memscan_image(c: &mut Criterion) {
    use pfslab::memscan::{scan, MemoryImage, Progress, Region, ScanOptions, TargetSession};
    let (path, _) = lab_capture();
    let mut targets = Vec::new();
    pfslab::attack::pipeline::for_each_tls_connection(&path, |conn| {
        targets.push(TargetSession {
            label: conn.stream.to_string(),
            obs: conn.session,
        })
    })
    .expect("pipeline");
    targets.truncate(8);
    let mut data = Vec::with_capacity(20 << 20);
    let mut i = 0u64;
    while data.len() < 19 << 20 {
        data.extend_from_slice(&(0x7f3a_5c00_0000u64 + i * 48).to_le_bytes());
        data.extend_from_slice(&i.to_le_bytes());
        data.extend_from_slice(b"Host: localhost\r");
        i += 1;
    }
    let mut random = vec![0u8; 1 << 20];
    from_seed(SEED, "bench memscan").fill_bytes(&mut random);
    data.extend_from_slice(&random);
    let image = MemoryImage {
        source: "bench".into(),
        regions: vec![Region {
            start: 0x5555_0000_0000,
            end: 0x5555_0000_0000 + data.len() as u64,
            name: "[heap]".into(),
            data,
        }],
        unreadable: Vec::new(),
    };
    let mut g = c.benchmark_group("memscan");
    g.throughput(Throughput::Bytes(image.bytes()));
    g.sample_size(10).measurement_time(Duration::from_secs(30));
    g.bench_function("scan_20mb", |b| {
        b.iter(|| {
            let r = scan(
                &image,
                &targets,
                &ScanOptions::default(),
                &Progress::default(),
            );
            assert!(r.found.is_empty());
            r.candidates_32
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    rsa_premaster,
    prf_key_block,
    record_open,
    capture_paths,
    memscan_image
);
criterion_main!(benches);
