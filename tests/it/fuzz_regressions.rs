//! Fuzz regressions (issue 8): every input a fuzz target ever crashed on is kept as
//! `tests/data/fuzz-regressions/<target>-<n>.bin` and replayed here through the very code the
//! target runs (`fuzz/common.rs`, included below), so `make test` catches a crash coming back
//! without cargo-fuzz or a nightly toolchain.
//!
//! To keep a new crash: `cargo fuzz tmin <target> fuzz/artifacts/<target>/crash-…`, copy the
//! minimised input here under the next free number, and fix the bug.

use crate::common::RESUMPTION_CAPTURE;
use crate::fuzz;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A target's name and body.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 5] = [
    ("capture_reader", fuzz::capture_reader::run),
    ("reassembly", fuzz::reassembly::run),
    ("tls_messages", fuzz::tls_messages::run),
    ("attack_pipeline", fuzz::attack_pipeline::run),
    ("server_handshake", fuzz::server_handshake::run),
];

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-regressions")
}

/// The target a kept input belongs to, from its file name.
fn target_of(name: &str) -> Option<fn(&[u8])> {
    let stem = name.strip_suffix(".bin")?;
    let (target, n) = stem.rsplit_once('-')?;
    n.parse::<u32>().ok()?;
    TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, run)| *run)
}

/// Runs `input` through `target`, turning a panic into a message.
fn replay(target: fn(&[u8]), input: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| target(input))).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

#[test]
fn every_kept_crash_input_passes_its_target() {
    let dir = regressions_dir();
    let mut failures = Vec::new();
    let mut replayed = 0;
    let entries = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with('.') || name == "README.md" {
            continue;
        }
        let target = target_of(&name).unwrap_or_else(|| {
            panic!(
                "{}: name it <target>-<n>.bin with a target of {:?}",
                path.display(),
                TARGETS.map(|t| t.0)
            )
        });
        let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(why) = replay(target, &input) {
            failures.push(format!("{name}: {why}"));
        }
        replayed += 1;
    }
    eprintln!(
        "replayed {replayed} kept fuzz inputs from {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "kept fuzz inputs crash again:\n{}",
        failures.join("\n")
    );
}

/// The shared target bodies themselves work here: each runs on an empty input, on noise, and on
/// a real capture, without a panic.
#[test]
fn every_target_runs_on_fixed_inputs() {
    let capture = std::fs::read(RESUMPTION_CAPTURE).expect("fixture capture");
    let noise: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (name, target) in TARGETS {
        for (what, input) in [
            ("empty", &[][..]),
            ("noise", &noise[..]),
            ("capture", &capture[..]),
        ] {
            replay(target, input).unwrap_or_else(|why| panic!("{name} on {what}: {why}"));
        }
    }
}
