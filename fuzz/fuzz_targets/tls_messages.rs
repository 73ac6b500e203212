//! Fuzz target `tls_messages`: see `pfslab_fuzz::tls_messages` (fuzz/common.rs), which
//! tests/it/fuzz_regressions.rs also runs on every kept crash input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pfslab_fuzz::tls_messages::run(data));
