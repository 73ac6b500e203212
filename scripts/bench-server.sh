#!/usr/bin/env bash
# `make bench`, issue 20 section (also runs alone): the server's full handshakes per second
# against `openssl s_server`, same key, same suite, same driver.
#
#  For each suite — RSA key transport (AES128-GCM-SHA256), ECDHE-RSA (ECDHE-RSA-AES128-GCM-SHA256,
#  P-256 on both servers: the curve pfslab's TLS 1.2 ECDHE uses) and TLS 1.3
#  (TLS_AES_128_GCM_SHA256, X25519 key shares on both) — $ROUNDS interleaved rounds: openssl
#  s_server, then pfslab server, then openssl again … Each side is driven by $CLIENTS parallel
#  `openssl s_time -new -www /bench.txt` clients for $SECS s (a full handshake, one GET, a
#  ~190-byte response, per connection). handshakes/s = connections completed / $SECS summed over
#  the clients. Prints every round, the median per side, the ratio and whether it meets 0.8x.
#  s_server is one single-threaded process; pfslab serves a thread per connection and may use
#  both cores, so each run also reports handshakes per second of the server's own CPU time
#  (user + system, from /proc): the cost of a handshake, whatever the threading.
#
# Knobs (environment): ROUNDS (3), SECS (5), CLIENTS (4), SUITES ("rsa ecdhe tls13"),
# PFSLAB_BIN (target/release/pfslab; set it to compare another build, skips the build),
# BENCH_DIR (target/bench). The machine is shared: numbers are noisy, hence interleaving.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
CLIENTS=${CLIENTS:-4}
SUITES=${SUITES:-"rsa ecdhe tls13"}
DIR=${BENCH_DIR:-target/bench}/server
PFSLAB=${PFSLAB_BIN:-target/release/pfslab}
GOAL=0.8

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench-server: %s\n' "$*" >&2; exit 1; }

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do if [ -n "$p" ]; then kill "$p" 2>/dev/null || true; fi; done; }
trap cleanup EXIT

if [ -z "${PFSLAB_BIN:-}" ]; then
    say "building pfslab (release)"
    cargo build --release --locked >&2
fi
mkdir -p "$DIR/www"
DIR_ABS=$(cd "$DIR" && pwd)
KEYS="$DIR_ABS/keys"
[ -f "$KEYS/server.key" ] || "$PFSLAB" keygen --out-dir "$KEYS" --seed 7 >&2
# openssl's page: the body pfslab's bank answers to `GET /bench.txt` (headers differ by a few bytes).
printf 'pfslab bank: you asked for GET /bench.txt\n' >"$DIR/www/bench.txt"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_tls PORT: until a TLS handshake with the server on PORT succeeds (≤ 10 s).
wait_tls() {
    local i
    for i in $(seq 100); do
        openssl s_client -connect "127.0.0.1:$1" $CLIENT_ARGS </dev/null >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

# drive PORT: $CLIENTS parallel s_time runs for $SECS s; sets TOTAL (connections completed).
drive() {
    local port=$1 i n total=0 pids=()
    for i in $(seq "$CLIENTS"); do
        # shellcheck disable=SC2086
        openssl s_time -connect "127.0.0.1:$port" -new $CLIENT_ARGS -www /bench.txt -time "$SECS" \
            >"$DIR/s_time.$i.log" 2>&1 &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || true; done
    for i in $(seq "$CLIENTS"); do
        n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$DIR/s_time.$i.log" | tail -1)
        total=$((total + ${n:-0}))
    done
    [ "$total" -gt 0 ] || die "s_time made no connections: $(cat "$DIR/s_time.1.log")"
    TOTAL=$total
}

# run_side openssl|pfslab: start that server, drive it, stop it; prints "handshakes/s
# handshakes-per-CPU-second".
run_side() {
    local port pid t0 t1
    port=$(free_port)
    if [ "$1" = openssl ]; then
        # shellcheck disable=SC2086
        (cd "$DIR/www" && exec openssl s_server -accept "127.0.0.1:$port" -key "$KEYS/server.key" \
            -cert "$KEYS/server.crt" -WWW -quiet -no_ticket -num_tickets 0 $OPENSSL_ARGS) >"$DIR/s_server.log" 2>&1 &
    else
        # shellcheck disable=SC2086
        "$PFSLAB" server --listen "127.0.0.1:$port" --key "$KEYS/server.key" --cert "$KEYS/server.crt" \
            $PFSLAB_ARGS >"$DIR/pfslab.out" 2>"$DIR/pfslab.err" &
    fi
    pid=$!; PIDS+=("$pid")
    wait_tls "$port" || die "the $1 server did not start (see $DIR)"
    t0=$(cpu_ticks "$pid")
    drive "$port"
    t1=$(cpu_ticks "$pid")
    kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    python3 -c "print(f'{$TOTAL / $SECS:.0f} {$TOTAL * $TICKS / max(1, $t1 - $t0):.0f}')"
}

RESULTS="$DIR/results.txt"
: >"$RESULTS"
for suite in $SUITES; do
    case $suite in
        rsa)
            name="RSA (AES128-GCM-SHA256)"
            OPENSSL_ARGS="-tls1_2 -cipher AES128-GCM-SHA256"
            PFSLAB_ARGS="--suites rsa"
            CLIENT_ARGS="-tls1_2 -cipher AES128-GCM-SHA256" ;;
        ecdhe)
            name="ECDHE-RSA P-256 (ECDHE-RSA-AES128-GCM-SHA256)"
            OPENSSL_ARGS="-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups P-256"
            PFSLAB_ARGS="--suites ecdhe"
            CLIENT_ARGS="-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256" ;;
        tls13)
            name="TLS 1.3 X25519 (TLS_AES_128_GCM_SHA256)"
            OPENSSL_ARGS="-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256 -groups X25519"
            PFSLAB_ARGS="--suites tls13 --groups x25519"
            CLIENT_ARGS="-tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256" ;;
        *) die "unknown suite $suite (rsa, ecdhe, tls13)" ;;
    esac
    for r in $(seq "$ROUNDS"); do
        read -r o oc < <(run_side openssl)
        read -r p pc < <(run_side pfslab)
        [ -n "${o:-}" ] && [ -n "${p:-}" ] || die "a $suite run failed (see $DIR)"
        say "$suite round $r: openssl s_server $o/s ($oc per CPU-s), pfslab server $p/s ($pc per CPU-s)"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$suite" "$name" "$o" "$p" "$oc" "$pc" >>"$RESULTS"
    done
done

python3 - "$RESULTS" "$GOAL" "$SECS" "$CLIENTS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
goal, secs, clients = float(sys.argv[2]), sys.argv[3], sys.argv[4]
print()
print(f"server full handshakes/s (openssl s_time -new, {clients} clients, {secs} s per run; "
      "rounds interleaved openssl, pfslab, ...)")
order = []
for r in rows:
    if r[0] not in order:
        order.append(r[0])
for s in order:
    mine = [r for r in rows if r[0] == s]
    o = [float(r[2]) for r in mine]
    p = [float(r[3]) for r in mine]
    ratios = [b / a if a else 0.0 for a, b in zip(o, p)]
    med = statistics.median(ratios)
    print(f"{mine[0][1]}")
    print(f"  openssl s_server: {' '.join(f'{x:.0f}' for x in o)}  (median {statistics.median(o):.0f})")
    print(f"  pfslab server:    {' '.join(f'{x:.0f}' for x in p)}  (median {statistics.median(p):.0f})")
    print(f"  ratio per round:  {' '.join(f'{x:.2f}' for x in ratios)}  median {med:.2f}x "
          f"(goal >= {goal}x: {'met' if med >= goal else 'NOT met'})")
    oc = [float(r[4]) for r in mine]
    pc = [float(r[5]) for r in mine]
    cr = [b / a if a else 0.0 for a, b in zip(oc, pc)]
    print(f"  per server CPU-second: openssl {' '.join(f'{x:.0f}' for x in oc)}, pfslab "
          f"{' '.join(f'{x:.0f}' for x in pc)}; ratio {' '.join(f'{x:.2f}' for x in cr)} "
          f"(median {statistics.median(cr):.2f}x)")
EOF
