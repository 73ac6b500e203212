#!/usr/bin/env bash
# make conformance: tlsfuzzer's scripts against `pfslab server` (TLS 1.2 and 1.3, every suite).
#
# The scripts to run, with their arguments, and every script left out with the reason, are in
# tests/conformance/scripts.txt. Each runs alone with a time limit; the server is started once on a
# free loopback port and killed on exit. Exits non-zero if any script fails.
#
#   scripts/conformance.sh                  every listed script against a fresh pfslab server
#   scripts/conformance.sh NAME…            only the scripts whose file name contains a NAME
#   CONFORMANCE_PORT=4433 CONFORMANCE_REFERENCE=1 scripts/conformance.sh
#                                           against a server already listening on 127.0.0.1:4433,
#                                           without the `lab` lines (the OpenSSL reference: see
#                                           the head of scripts.txt)
#
# Environment: TLSFUZZER_DIR (a tlsfuzzer checkout; default ../shared/tools/tlsfuzzer),
# CONFORMANCE_VENV (default target/conformance/venv), CONFORMANCE_TIMEOUT (seconds per script, 300),
# CONFORMANCE_BUDGET (seconds for the whole run, 900: scripts left when it is spent FAIL unrun),
# CONFORMANCE_LIST (another list, same format), CONFORMANCE_OPTIONAL (set: exit 0 with a note when there is no tlsfuzzer checkout; for CI),
# CONFORMANCE_OUT (logs, default target/conformance/logs), CONFORMANCE_N (replaces every `-n N`:
# 0 runs all the randomised cases, for a long run).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

list=${CONFORMANCE_LIST:-tests/conformance/scripts.txt}
requirements=tests/conformance/requirements.txt
tlsfuzzer=${TLSFUZZER_DIR:-../shared/tools/tlsfuzzer}
# A git worktree elsewhere (e.g. /work/wt/NAME) finds it beside the main checkout too.
if [ -z "${TLSFUZZER_DIR:-}" ] && [ ! -d "$tlsfuzzer" ]; then
  common=$(git rev-parse --path-format=absolute --git-common-dir 2>/dev/null || true)
  [ -n "$common" ] && [ -d "$common/../../shared/tools/tlsfuzzer" ] && tlsfuzzer=$common/../../shared/tools/tlsfuzzer
fi
venv=${CONFORMANCE_VENV:-target/conformance/venv}
out=${CONFORMANCE_OUT:-target/conformance/logs}
limit=${CONFORMANCE_TIMEOUT:-300}
budget=${CONFORMANCE_BUDGET:-900}
port=${CONFORMANCE_PORT:-}
pfslab=target/release/pfslab

# 1. tlsfuzzer: not on PyPI, so a checkout is needed.
if [ ! -f "$tlsfuzzer/tlsfuzzer/runner.py" ]; then
  if [ -n "${CONFORMANCE_OPTIONAL:-}" ]; then     # CI: run it when the checkout is there
    echo "conformance: no tlsfuzzer checkout at $tlsfuzzer; skipped (CONFORMANCE_OPTIONAL)"
    exit 0
  fi
  cat >&2 <<EOF
conformance: no tlsfuzzer checkout at $tlsfuzzer
  get one (GPL-2.0, kept beside the project, not in it), then run again:
    git clone https://github.com/tlsfuzzer/tlsfuzzer ../shared/tools/tlsfuzzer
    (tests/conformance/scripts.txt is checked against its commit 14555fe2)
  or point TLSFUZZER_DIR at an existing checkout:
    TLSFUZZER_DIR=/path/to/tlsfuzzer make conformance
EOF
  exit 1
fi
tlsfuzzer=$(cd "$tlsfuzzer" && pwd)

# 2. Its Python dependencies, pinned, in a virtual environment (rebuilt when the pins change).
#    Debian splits venv's ensurepip into python3-venv: install it like `make deps` would.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "conformance: installing python3 and python3-venv"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv
fi
stamp="$venv/.pfslab-requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
  echo "conformance: setting up $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi
python=$root/$venv/bin/python
[ "${venv#/}" != "$venv" ] && python=$venv/bin/python

mkdir -p "$out"
rm -f "$out"/*.log

# 3. The server: release build, a key, all suites, session tickets (a ticket key beside the
#    key), on a free loopback port; its log beside the scripts' logs.
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_server() {
  server_log=$out/server.log
  echo "--- $(date -u +%FT%TZ) pfslab server" >>"$server_log"
  "$pfslab" server --listen 127.0.0.1:0 --key "$keys/server.key" --cert "$keys/server.crt" \
    --suites rsa,ecdhe,dhe,rsa256,ecdhe256,rsa-cbc,ecdhe-cbc,dhe-cbc,rsa-cbc256,rsa256-cbc,tls13 \
    --tickets --ticket-key "$keys/ticket.key" --session-cache \
    >>"$server_log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$server_log" | tail -1)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "conformance: pfslab server did not start:" >&2; cat "$server_log" >&2
  exit 1
}

managed=0
if [ -z "$port" ]; then
  managed=1
  cargo build --release --locked --quiet
  keys=target/conformance/keys
  [ -f "$keys/server.key" ] || "$pfslab" keygen --out-dir "$keys" >/dev/null
  start_server
  echo "conformance: $(grep -m1 'listening on' "$server_log")"
else
  echo "conformance: against the server on 127.0.0.1:$port"
fi

# 4. Every listed script, one at a time.
# "test-x.py -C SUITE -n 20 -e×3": the arguments, with case names counted instead of shown.
describe() {
  local text=$1 excluded=0 named=0 value=0
  shift
  for a in "$@"; do
    if [ $value = 1 ]; then text="$text $a"; value=0
    elif [ $value = 2 ]; then excluded=$((excluded + 1)); value=0
    elif [ "$a" = -e ]; then value=2
    elif [ "${a#-}" != "$a" ]; then
      text="$text $a"
      case $a in -C|-n|-t|-a|--repeat|--groups|--kems) value=1;; esac
    else named=$((named + 1))
    fi
  done
  [ $excluded = 0 ] || text="$text (-e ×$excluded)"
  [ $named = 0 ] || text="$text ($named named cases)"
  printf '%s' "$text"
}

n=0; pass=0; fail=0; failed=()
began=$(date +%s)
# `read` without -r: a trailing backslash continues the line (see scripts.txt).
# shellcheck disable=SC2162
while read kind script rest; do
  case $kind in
    run) ;;
    lab) [ -z "${CONFORMANCE_REFERENCE:-}" ] || continue ;;  # cases the reference gets wrong
    *) continue ;;
  esac
  if [ $# -gt 0 ]; then
    want=0; for f in "$@"; do case $script in *"$f"*) want=1;; esac; done
    [ $want = 1 ] || continue
  fi
  eval "args=($rest)"
  if [ -n "${CONFORMANCE_N:-}" ]; then     # e.g. CONFORMANCE_N=0: every randomised case
    for i in "${!args[@]}"; do [ "${args[$i]}" = -n ] && args[i+1]=$CONFORMANCE_N; done
  fi
  shown=$(describe "$script" "${args[@]}")
  [ "$kind" = lab ] && shown="$shown [lab]"
  n=$((n + 1))
  log=$out/$(printf '%02d' $n)-${script%.py}.log
  module=$tlsfuzzer/tlsfuzzer/_apps/$(printf '%s' "${script%.py}" | tr - _).py
  [ -f "$module" ] || module=$tlsfuzzer/scripts/$script    # checkouts from before tlsfuzzer/_apps
  t0=$(date +%s)
  if [ $((t0 - began)) -ge "$budget" ]; then
    fail=$((fail + 1)); failed+=("$script")
    printf 'FAIL  %-66s  not run: the %ss budget is spent\n' "$shown" "$budget"
    continue
  fi
  rc=0
  (cd "$tlsfuzzer" && PYTHONPATH=$tlsfuzzer timeout -k 5 "$limit" \
     "$python" "$module" -h 127.0.0.1 -p "$port" "${args[@]}") >"$log" 2>&1 </dev/null || rc=$?
  secs=$(( $(date +%s) - t0 ))
  summary=$(awk '/^TOTAL:/{t=$2} /^FAIL:/{f=$2} END{if (t!="") printf "%s of %s cases failed", f, t}' "$log" || true)
  [ $rc = 124 ] && summary="timed out after ${limit}s"
  if [ $rc = 0 ]; then
    pass=$((pass + 1)); printf 'PASS  %-66s %4ss\n' "$shown" "$secs"
  else
    fail=$((fail + 1)); failed+=("$script")
    printf 'FAIL  %-66s %4ss  %s; %s\n' "$shown" "$secs" "${summary:-exit $rc}" "$log"
  fi
  if [ $managed = 1 ] && ! kill -0 "$server_pid" 2>/dev/null; then
    echo "conformance: pfslab server died during $script:" >&2; tail -5 "$server_log" >&2
    start_server
  fi
done <"$list"

secs=$(( $(date +%s) - began ))
printf 'conformance: %d script runs, %d PASS, %d FAIL in %dm%02ds\n' $((pass + fail)) $pass $fail $((secs / 60)) $((secs % 60))
[ $fail = 0 ] || { echo "conformance: failed: ${failed[*]}" >&2; exit 1; }
