#!/usr/bin/env bash
# `make bench` (issue 7): pfslab attack against tshark on one large capture of real OpenSSL
# traffic, then the same attack on a capture ten times larger, to show the cost is linear.
#
#  1. Builds pfslab (release).
#  2. Makes target/bench/openssl-1x.pcap if missing: `openssl s_server -WWW` serves a 16 KB page
#     with RSA key transport only (AES128-GCM-SHA256, TLS 1.2, the pfslab key), `pfslab tap`
#     records in front of it, and parallel `openssl s_time -new` clients open full handshakes
#     until at least $SESSIONS sessions are recorded (s_time reuses one process per client).
#  3. Makes target/bench/openssl-10x.pcap if missing, from the 1x capture: $SCALE copies one
#     after the other, copy i with its client address moved to 127.1.0.i (checksums fixed up)
#     and its clock moved past the copy before. Recording 54,000 sessions live would take
#     minutes and wrap the client's ephemeral ports (same 4-tuples); copies avoid both. Every
#     copy still costs the attacker a full RSA decryption per session: nothing is cached.
#  4. Times `pfslab attack --key K --json` and tshark (`uat:rsa_keys`, printing the decrypted
#     requests) on the 1x capture with /usr/bin/time -v: wall time, peak RSS, ratio; checks
#     both found every session. Then pfslab alone on the 10x capture.
#  5. With BENCH_MICRO=1, also `cargo bench --bench hot_paths` (Criterion micro-benchmarks).
#
# Knobs (environment): SESSIONS (5400), SCALE (10), CLIENTS (parallel s_time, 4), RUNS (timed
# runs per command, best wall time kept, 1), BENCH_DIR (target/bench), BENCH_MICRO (0).
# Outputs of the timed runs are kept in $BENCH_DIR (*.json, *.txt, *.time) for checking.
set -euo pipefail
cd "$(dirname "$0")/.."

SESSIONS=${SESSIONS:-5400}
SCALE=${SCALE:-10}
CLIENTS=${CLIENTS:-4}
RUNS=${RUNS:-1}
DIR=${BENCH_DIR:-target/bench}
PFSLAB=target/release/pfslab
CAP1="$DIR/openssl-1x.pcap"
CAPN="$DIR/openssl-${SCALE}x.pcap"
PAGE=file16k

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# --- tools ---------------------------------------------------------------------------------
need=""
for pair in openssl:openssl tshark:tshark time:/usr/bin/time python3:python3; do
    pkg=${pair%%:*}; cmd=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
if [ -n "$need" ]; then
    say "installing:$need"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
fi

say "building pfslab (release)"
cargo build --release --locked >&2
mkdir -p "$DIR"
DIR_ABS=$(cd "$DIR" && pwd)
KEY="$DIR_ABS/keys/server.key"
[ -f "$KEY" ] || "$PFSLAB" keygen --out-dir "$DIR/keys" --seed 7 >&2

# --- processes this script starts, stopped by their ids on exit ----------------------------
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# --- 1x capture: real OpenSSL traffic through the tap ---------------------------------------
record_capture() {
    local www="$DIR/www" sport tap_out tap_pid srv_pid tap_addr total rate remaining secs
    mkdir -p "$www"
    # A 16 KB text page (printable, as a web page is; deterministic).
    python3 - "$www/$PAGE" <<'EOF'
import sys
line = b"%05d pfslab bench page: the quick brown fox jumps over the lazy dog 0123456789\n"
out = b"".join(line % i for i in range(400))[:16384]
open(sys.argv[1], "wb").write(out)
EOF
    sport=$(free_port)
    (cd "$www" && exec openssl s_server -accept "127.0.0.1:$sport" -key "$KEY" -cert "$DIR_ABS/keys/server.crt" \
        -WWW -tls1_2 -cipher AES128-GCM-SHA256 -quiet) >"$DIR/s_server.log" 2>&1 &
    srv_pid=$!; PIDS+=("$srv_pid")
    tap_out="$DIR/tap.log"
    "$PFSLAB" tap --listen 127.0.0.1:0 --upstream "127.0.0.1:$sport" --write "$CAP1" >"$tap_out" 2>&1 &
    tap_pid=$!; PIDS+=("$tap_pid")
    for _ in $(seq 50); do
        tap_addr=$(sed -n 's/^pfslab tap listening on \([0-9.:]*\),.*/\1/p' "$tap_out")
        [ -n "$tap_addr" ] && break
        sleep 0.1
    done
    [ -n "$tap_addr" ] || die "the tap did not start: $(cat "$tap_out")"
    for _ in $(seq 50); do openssl s_client -connect "127.0.0.1:$sport" </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
    # Full handshakes through the tap until there are enough: rounds of $CLIENTS parallel
    # s_time runs, the next round sized from the rate of the last.
    total=0; secs=5
    while [ "$total" -lt "$SESSIONS" ]; do
        local i start end clients=()
        start=$(date +%s.%N)
        for i in $(seq "$CLIENTS"); do
            openssl s_time -connect "$tap_addr" -new -tls1_2 -cipher AES128-GCM-SHA256 -www "/$PAGE" -time "$secs" \
                >"$DIR/s_time.$i.log" 2>&1 &
            clients+=($!)
        done
        for i in "${clients[@]}"; do wait "$i" || true; done
        end=$(date +%s.%N)
        local round=0 n
        for i in $(seq "$CLIENTS"); do
            n=$(sed -n 's/^\([0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$DIR/s_time.$i.log" | tail -1)
            round=$((round + ${n:-0}))
        done
        [ "$round" -gt 0 ] || die "s_time made no connections: $(cat "$DIR/s_time.1.log")"
        total=$((total + round))
        rate=$(python3 -c "print(max(1.0, $round / ($end - $start)))")
        remaining=$((SESSIONS - total))
        secs=$(python3 -c "import math; print(max(1, math.ceil($remaining / $rate)))")
        say "recorded $total sessions so far ($round in this round, $(printf '%.0f' "$rate")/s)"
    done
    kill -INT "$tap_pid"; wait "$tap_pid" || true
    kill "$srv_pid"; wait "$srv_pid" 2>/dev/null || true
    PIDS=()
    grep -q "connections relayed" "$tap_out" || die "the tap did not finish the capture: $(cat "$tap_out")"
    say "$(grep 'connections relayed' "$tap_out")"
    sed -n 's/.*: \([0-9]*\) connections relayed.*/\1/p' "$tap_out" >"$CAP1.sessions"
    echo "$sport" >"$CAP1.port"
}

# --- Nx capture: copies of the 1x capture with distinct client addresses --------------------
scale_capture() {
    python3 - "$CAP1" "$CAPN" "$(cat "$CAP1.port")" "$SCALE" <<'EOF'
import struct, sys

src, dst, server_port, copies = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
data = memoryview(open(src, "rb").read())
magic = data[:4].tobytes()
end = {b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">"}.get(magic)
if end is None or struct.unpack(end + "I", data[20:24])[0] != 1:
    sys.exit("expected a classic microsecond pcap with Ethernet frames (what pfslab tap writes)")
rec = struct.Struct(end + "IIII")

packets = []  # (offset of record header, captured length, client is source?)
off = 24
while off + 16 <= len(data):
    _, _, incl, _ = rec.unpack_from(data, off)
    frame = data[off + 16: off + 16 + incl]
    client_is_src = None
    if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
        ihl = (frame[14] & 0x0F) * 4
        if len(frame) >= 14 + ihl + 20 and frame[23] == 6:
            sport, dport = struct.unpack_from(">HH", frame, 14 + ihl)
            client_is_src = dport == server_port if server_port in (sport, dport) else None
    packets.append((off, incl, client_is_src))
    off += 16 + incl
first = rec.unpack_from(data, 24)[:2]
last = rec.unpack_from(data, packets[-1][0])[:2] if packets else first
span = (last[0] - first[0]) + 2  # seconds between copies

def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

old_addr = b"\x7f\x00\x00\x01"
with open(dst + ".partial", "wb") as out:
    out.write(data[:24])
    out.write(data[24:off])  # copy 0: the capture itself
    for i in range(1, copies):
        new_addr = bytes([127, 1, (i >> 8) & 0xFF, i & 0xFF])
        # RFC 1624: HC' = ~(~HC + ~m + m') over the address words; the same delta fixes the IPv4
        # header checksum and the TCP checksum (its pseudo-header holds the addresses).
        delta = 0
        for k in (0, 2):
            delta += (~struct.unpack_from(">H", old_addr, k)[0]) & 0xFFFF
            delta += struct.unpack_from(">H", new_addr, k)[0]
        chunks = []
        for (o, incl, client_is_src) in packets:
            sec, usec, _, orig = rec.unpack_from(data, o)
            frame = bytearray(data[o + 16: o + 16 + incl])
            if client_is_src is not None:
                ihl = (frame[14] & 0x0F) * 4
                at = 26 if client_is_src else 30
                if frame[at:at + 4] == old_addr:
                    frame[at:at + 4] = new_addr
                    for c in (24, 14 + ihl + 16):
                        cs = struct.unpack_from(">H", frame, c)[0]
                        struct.pack_into(">H", frame, c, (~fold(((~cs) & 0xFFFF) + delta)) & 0xFFFF)
            chunks.append(rec.pack(sec + i * span, usec, incl, orig))
            chunks.append(frame)
        out.write(b"".join(chunks))
import os
os.replace(dst + ".partial", dst)
print(f"wrote {dst}: {copies} copies of {len(packets)} packets", file=sys.stderr)
EOF
}

if [ ! -f "$CAP1" ] || [ ! -f "$CAP1.port" ] || [ ! -f "$CAP1.sessions" ]; then
    say "recording $CAP1: >= $SESSIONS RSA-transport sessions of real OpenSSL traffic"
    rm -f "$CAPN"
    record_capture
fi
if [ ! -f "$CAPN" ]; then
    say "making $CAPN ($SCALE copies of the 1x capture)"
    scale_capture
fi
SPORT=$(cat "$CAP1.port")

# --- timed runs ----------------------------------------------------------------------------
# timed NAME OUTPUT COMMAND...: best wall time of $RUNS runs; sets WALL (s) and RSS (MB).
timed() {
    local name=$1 output=$2 run w r best_w="" best_r=0
    shift 2
    for run in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$DIR/$name.time" "$@" >"$output" 2>"$DIR/$name.stderr" || die "$name failed: $(tail -3 "$DIR/$name.stderr")"
        w=$(python3 - "$DIR/$name.time" <<'EOF'
import sys
for line in open(sys.argv[1]):
    if "Elapsed (wall clock)" in line:
        parts = [float(p) for p in line.rsplit(" ", 1)[1].split(":")]
        print(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))
EOF
)
        r=$(sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$DIR/$name.time")
        if [ -z "$best_w" ] || python3 -c "import sys; sys.exit(0 if $w < $best_w else 1)"; then best_w=$w; fi
        [ "$r" -gt "$best_r" ] && best_r=$r
    done
    WALL=$best_w
    RSS=$(python3 -c "print(f'{$best_r / 1024:.1f}')")
}

count_decrypted() { grep -o '"verdict": *"decrypted"' "$1" | wc -l; }

sessions=$(cat "$CAP1.sessions")
size1=$(du -m "$CAP1" | cut -f1)
say "1x capture: $CAP1, $size1 MB, $sessions sessions (server port $SPORT)"

say "pfslab attack on the 1x capture"
timed pfslab-1x "$DIR/pfslab-1x.json" "$PFSLAB" attack --key "$KEY" --json "$CAP1"
P_WALL=$WALL P_RSS=$RSS P_OK=$(count_decrypted "$DIR/pfslab-1x.json")

say "tshark on the 1x capture"
timed tshark-1x "$DIR/tshark-1x.txt" tshark -r "$CAP1" -o "uat:rsa_keys:\"$KEY\",\"\"" -d "tcp.port==$SPORT,tls" \
    -Y http.request -T fields -e http.request.method -e http.request.uri -e http.request.line
T_WALL=$WALL T_RSS=$RSS T_OK=$(grep -c "GET" "$DIR/tshark-1x.txt" || true)

say "pfslab attack on the ${SCALE}x capture"
sizeN=$(du -m "$CAPN" | cut -f1)
timed pfslab-${SCALE}x "$DIR/pfslab-${SCALE}x.json" "$PFSLAB" attack --key "$KEY" --json "$CAPN"
N_WALL=$WALL N_RSS=$RSS N_OK=$(count_decrypted "$DIR/pfslab-${SCALE}x.json")

python3 - <<EOF
p_wall, t_wall, n_wall = $P_WALL, $T_WALL, $N_WALL
p_rss, t_rss, n_rss = $P_RSS, $T_RSS, $N_RSS
sessions, scale = $sessions, $SCALE
print()
print(f"capture: {sessions} RSA-transport sessions of real OpenSSL traffic, ~16 KB responses, $size1 MB ($CAP1)")
print(f"{'':22} {'wall s':>8} {'peak RSS MB':>12} {'sessions decrypted':>19}")
print(f"{'pfslab attack --json':22} {p_wall:8.2f} {p_rss:12.1f} {$P_OK:>19}")
print(f"{'tshark (rsa_keys)':22} {t_wall:8.2f} {t_rss:12.1f} {$T_OK:>19}")
print(f"speed-up over tshark: {t_wall / p_wall:.2f}x (goal >= 5x: {'met' if t_wall / p_wall >= 5 else 'NOT met'}); "
      f"pfslab peak RSS {p_rss:.1f} MB (goal < 64 MB: {'met' if p_rss < 64 else 'NOT met'})")
print()
print(f"scaling: {scale}x capture ($sizeN MB, {sessions * scale} sessions): pfslab {n_wall:.2f} s, peak RSS {n_rss:.1f} MB, "
      f"{$N_OK} decrypted")
print(f"  time {n_wall / p_wall:.2f}x for {scale}x the sessions (linear: ~{scale}x); memory {n_rss / p_rss:.2f}x (flat: ~1x)")
if $P_OK != sessions or $T_OK != sessions or $N_OK != sessions * scale:
    print("WARNING: not every session was decrypted by every run; see $DIR/*.json, *.txt")
EOF

if [ "${BENCH_MICRO:-0}" = 1 ]; then
    say "micro-benchmarks (Criterion): cargo bench --bench hot_paths"
    cargo bench --locked --bench hot_paths
fi

# --- issue 18: the padding-oracle attack on RSA-2048 (ORACLE_RUNS runs, median and spread) and
# attack --break-dh on a 32-bit-factor backdoored group; self-contained in its own script.
bash scripts/bench-oracle.sh

# --- issue 20: the server's handshakes/s against openssl s_server (RSA, ECDHE, TLS 1.3).
PFSLAB_BIN=$PFSLAB bash scripts/bench-server.sh
