//! Fuzz target `attack_pipeline`: see `pfslab_fuzz::attack_pipeline` (fuzz/common.rs), which
//! tests/it/fuzz_regressions.rs also runs on every kept crash input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pfslab_fuzz::attack_pipeline::run(data));
