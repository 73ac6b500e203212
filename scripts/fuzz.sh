#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time, one after another, and prints the
# executions each one made. Exit status: 0 when no target found a crash, 1 otherwise (the
# crashing input is under fuzz/artifacts/<target>/; see fuzz/README.md for what to do next).
#
#   FUZZ_SECONDS=60        seconds per target
#   FUZZ_TARGETS="a b"     targets to run (default: all five)
#   FUZZ_RSS_MB=1024       libFuzzer's memory limit; FUZZ_MALLOC_MB=256 is the largest single
#                          allocation it tolerates
#   FUZZ_TOOLCHAIN=nightly use a nightly toolchain instead of the default one with
#                          RUSTC_BOOTSTRAP=1 (cargo-fuzz passes -Z flags; stable accepts them so)
#
# Needs only what a fresh machine has: rustup's default toolchain, gcc and crates.io (cargo-fuzz
# is installed from there when missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fuzz="$root/fuzz"
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-capture_reader reassembly tls_messages attack_pipeline server_handshake}"
rss="${FUZZ_RSS_MB:-1024}"
malloc="${FUZZ_MALLOC_MB:-256}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi

if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
  cargo_fuzz=(cargo "+$FUZZ_TOOLCHAIN" fuzz)
else
  export RUSTC_BOOTSTRAP=1
  cargo_fuzz=(cargo fuzz)
fi

echo "== seed corpora (fuzz/corpus/<target>/seed-*)"
cargo build --quiet --release --manifest-path "$fuzz/seedgen/Cargo.toml"
"$fuzz/seedgen/target/release/pfslab-fuzz-seedgen" "$fuzz/corpus"

echo "== building the targets (release, debug assertions on)"
(cd "$fuzz" && "${cargo_fuzz[@]}" build --debug-assertions)

logs="$fuzz/target/fuzz-logs"
mkdir -p "$logs"
failed=()
summary=()
for t in $targets; do
  echo "== $t: ${seconds}s"
  mkdir -p "$fuzz/corpus/$t"
  status=0
  (cd "$fuzz" && "${cargo_fuzz[@]}" run --debug-assertions "$t" "corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb="$rss" -malloc_limit_mb="$malloc" \
      -print_final_stats=1) >"$logs/$t.log" 2>&1 || status=$?
  runs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$logs/$t.log" | tail -1 | grep -o '[0-9]*$' || true)"
  corpus="$(find "$fuzz/corpus/$t" -type f | wc -l)"
  if [ "$status" -eq 0 ]; then
    summary+=("$(printf '%-18s %12s executions  %6s corpus files  ok' "$t" "${runs:-?}" "$corpus")")
  else
    failed+=("$t")
    summary+=("$(printf '%-18s %12s executions  %6s corpus files  CRASH (log: %s)' "$t" "${runs:-?}" "$corpus" "$logs/$t.log")")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to' "$logs/$t.log" | head -5 | sed 's/^/    /' || true
  fi
done

echo
echo "== executions per target (${seconds}s each)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes in: ${failed[*]} — inputs under fuzz/artifacts/<target>/" >&2
  exit 1
fi
