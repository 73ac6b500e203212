#!/usr/bin/env bash
# Lesson 11: what forgetting means. Forward secrecy holds only if the server really forgets: a server
# that reuses its "ephemeral" ECDHE key (a shortcut Springall et al. measured on real servers, IMC
# 2016) keeps in memory the one secret that opens every session since the key was made. memscan reads
# the running server's memory and finds it. A server with fresh keys and no session cache, once its
# sessions end, leaves nothing to find (pfslab's default); a session-ID cache remembers master secrets.
# Usage: scenarios/11-what-forgetting-means.sh [--step]
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is needed (make deps installs it)"

run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 11 --force
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "${TAP_PID:-}" ] && kill "$TAP_PID" 2>/dev/null; true; }
trap cleanup EXIT

# `serve NAME ARGS…`: a pfslab server with ARGS in the background, a tap in front of it recording
# NAME.pcap, and three visits: pfslab TLS 1.2 ECDHE, pfslab TLS 1.3, OpenSSL TLS 1.2 ECDHE.
serve() {
  local name="$1"; shift
  show pfslab server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" --suites ecdhe,tls13 "$@" '&'
  # The binary itself, not the pfslab shell function: $! must be the server's own pid.
  "$PFSLAB" server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" \
    --suites ecdhe,tls13 "$@" > "$LAB_DIR/$name.server.out" 2> "$LAB_DIR/$name.server.err" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -qs listening "$LAB_DIR/$name.server.out" && break; sleep 0.1; done
  SERVER_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/$name.server.out" | grep -o '[0-9]*$') || fail "the server did not start"
  rm -f "$LAB_DIR/$name.pcap"
  "$PFSLAB" tap --listen 127.0.0.1:0 --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/$name.pcap" --connections 3 > "$LAB_DIR/$name.tap.out" 2>&1 &
  TAP_PID=$!
  for _ in $(seq 50); do grep -qs listening "$LAB_DIR/$name.tap.out" && break; sleep 0.1; done
  TAP_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/$name.tap.out" | grep -o '[0-9]*$') || fail "the tap did not start"
  note "server pid $SERVER_PID on 127.0.0.1:$SERVER_PORT; tap 127.0.0.1:$TAP_PORT recording $name.pcap"
  for v in 1.2 1.3; do
    run pfslab client --connect "127.0.0.1:$TAP_PORT" --tls-version "$v" --insecure --request "GET /$name/pfslab-tls$v HTTP/1.0" > /dev/null
  done
  show "printf 'GET /$name/openssl HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$TAP_PORT -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -quiet -ign_eof"
  printf 'GET /%s/openssl HTTP/1.0\r\n\r\n' "$name" |
    timeout 10 openssl s_client -connect "127.0.0.1:$TAP_PORT" -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256 -quiet -ign_eof > /dev/null 2>&1 || true
  wait "$TAP_PID" || fail "the tap failed"
  TAP_PID=
}

say "1. A server that reuses its ephemeral key for ever, and three visits recorded (ECDHE and TLS 1.3)."
serve reuse --reuse-ephemeral forever
pause

say "2. The stolen RSA key opens none of them: the premasters never crossed the wire."
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/reuse.pcap" > "$LAB_DIR/rsa.json"
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/reuse.pcap"
pause

say "3. Read the running server's memory. One scalar, one key log line per session."
run pfslab memscan --pid "$SERVER_PID" "$LAB_DIR/reuse.pcap" --keylog-out "$LAB_DIR/reuse.keys"
pfslab memscan --json --pid "$SERVER_PID" "$LAB_DIR/reuse.pcap" > "$LAB_DIR/reuse.memscan.json"
run pfslab attack --keylog "$LAB_DIR/reuse.keys" --table-only "$LAB_DIR/reuse.pcap"
pfslab attack --keylog "$LAB_DIR/reuse.keys" --json "$LAB_DIR/reuse.pcap" > "$LAB_DIR/reuse.attack.json"
note "What the clients asked for, read from the capture with the key from memory:"
grep -o 'GET /reuse/[a-z0-9.-]*' "$LAB_DIR/reuse.attack.json" | sort -u || true
kill "$SERVER_PID"; SERVER_PID=
pause

say "4. Fresh keys, but a session-ID cache (--session-cache; OpenSSL and nginx keep one by default)."
serve cache --session-cache
run pfslab memscan --pid "$SERVER_PID" "$LAB_DIR/cache.pcap"
pfslab memscan --json --pid "$SERVER_PID" "$LAB_DIR/cache.pcap" > "$LAB_DIR/cache.memscan.json"
note "The cache keeps each TLS 1.2 master secret so the client can resume: that is memory too."
kill "$SERVER_PID"; SERVER_PID=
pause

say "5. pfslab's default server: fresh keys, no session cache. Once the sessions end, it holds nothing."
serve forget
run pfslab memscan --pid "$SERVER_PID" "$LAB_DIR/forget.pcap"
pfslab memscan --json --pid "$SERVER_PID" "$LAB_DIR/forget.pcap" > "$LAB_DIR/forget.memscan.json"
kill "$SERVER_PID"; SERVER_PID=

opened() { grep -A3 '"opened"' "$1" | grep -c '\.pcap #' || true; }
[ "$(count_verdict "$LAB_DIR/rsa.json" forward-secret)" = 3 ] || fail "the RSA key should open none of the three sessions"
grep -q '"encoding": "LittleEndianLimbs"' "$LAB_DIR/reuse.memscan.json" || fail "memscan should find the reused scalar as p256 holds it"
[ "$(opened "$LAB_DIR/reuse.memscan.json")" = 3 ] || fail "the reused scalar should open all three sessions"
[ "$(count_verdict "$LAB_DIR/reuse.attack.json" decrypted)" = 3 ] || fail "memscan's key log should decrypt all three sessions"
[ "$(grep -o 'GET /reuse/[a-z0-9.-]*' "$LAB_DIR/reuse.attack.json" | sort -u | wc -l)" = 3 ] || fail "all three requests should be read"
grep -q '"kind": "ECDHE P-256 private scalar"' "$LAB_DIR/cache.memscan.json" && fail "a server with fresh keys should keep no scalar"
[ "$(opened "$LAB_DIR/cache.memscan.json")" = 2 ] || fail "the session cache should give away the two TLS 1.2 sessions (not TLS 1.3)"
grep -q '"found": \[\]' "$LAB_DIR/forget.memscan.json" || fail "the forgetting server should leave nothing to find"
pass "The reused key, read from memory, opened all three sessions; the session cache gave away the TLS 1.2 ones; the server that forgot left nothing."
