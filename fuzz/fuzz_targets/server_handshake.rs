//! Fuzz target `server_handshake`: see `pfslab_fuzz::server_handshake` (fuzz/common.rs), which
//! tests/it/fuzz_regressions.rs also runs on every kept crash input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pfslab_fuzz::server_handshake::run(data));
