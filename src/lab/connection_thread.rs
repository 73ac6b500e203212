//! What a connection thread leaves behind. The Rust secrets zeroize themselves on drop, but
//! AWS-LC's C code (the P-256 and RSA private operations) leaves copies of an ephemeral scalar
//! in its stack frames, and glibc keeps a finished thread's stack for the next one: a memory scan
//! of an idle server found the last session's scalar there (lesson 11). The lab's servers give
//! each connection a thread of [`STACK`] bytes and call [`scrub_stack`] when it is done.

/// A connection thread's stack: Rust's default, set explicitly so that `RUST_MIN_STACK` cannot
/// make it too small for [`scrub_stack`].
pub const STACK: usize = 2 << 20;

/// Bytes of a connection thread's stack overwritten when its connection ends.
const SCRUB: usize = 128 * 1024;

/// Zeroes the stack a finished connection used. Call it from the thread's outermost frame, so
/// everything the handshake used lies below it.
#[inline(never)]
pub fn scrub_stack() {
    let mut area = [0u8; SCRUB];
    // The zeroes must be written: black_box makes the compiler assume the area is read.
    std::hint::black_box(&mut area);
}
