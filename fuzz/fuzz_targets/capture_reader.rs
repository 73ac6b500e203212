//! Fuzz target `capture_reader`: see `pfslab_fuzz::capture_reader` (fuzz/common.rs), which
//! tests/it/fuzz_regressions.rs also runs on every kept crash input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pfslab_fuzz::capture_reader::run(data));
