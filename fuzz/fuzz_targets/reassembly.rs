//! Fuzz target `reassembly`: see `pfslab_fuzz::reassembly` (fuzz/common.rs), which
//! tests/it/fuzz_regressions.rs also runs on every kept crash input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pfslab_fuzz::reassembly::run(data));
