//! Unit tests of the capture layer on bytes in memory: the reader (pcap, pcapng, link types,
//! every cut) and TCP reassembly, case by case. The tests that write files, run tshark or
//! open sockets (the writer's output, the tap) are integration tests, in `tests/it/capture/`.

mod fixtures;
mod reader;
mod reassembly;

// What fixtures.rs takes from its parent (it is also included by tests/it/capture).
use crate::capture::{CaptureError, CaptureReader, LinkType};

/// A small deterministic generator for the robustness loops.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 17
    }
}
