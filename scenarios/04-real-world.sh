#!/usr/bin/env bash
# Lesson 4: real-world traffic. OpenSSL's own client and server talk through pfslab's tap; the same
# attack works on traffic pfslab did not produce.
# Usage: scenarios/04-real-world.sh [--step]
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || fail "openssl is needed (make deps installs it)"

run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 4 --force
cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "${TAP_PID:-}" ] && kill "$TAP_PID" 2>/dev/null; true; }
trap cleanup EXIT

say "1. An OpenSSL web server, offering RSA key transport and ECDHE."
show openssl s_server -accept 127.0.0.1:0 -key "$LAB_DIR/keys/server.key" -cert "$LAB_DIR/keys/server.crt" -www -tls1_2 -cipher 'AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' '&'
openssl s_server -accept 127.0.0.1:0 -key "$LAB_DIR/keys/server.key" -cert "$LAB_DIR/keys/server.crt" \
  -www -tls1_2 -cipher 'AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256' > "$LAB_DIR/s_server.out" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do grep -q ACCEPT "$LAB_DIR/s_server.out" && break; sleep 0.1; done
SERVER_PORT=$(grep -o 'ACCEPT .*:[0-9]*' "$LAB_DIR/s_server.out" | grep -o '[0-9]*$') || fail "s_server did not start"
pause

say "2. pfslab's tap in front of it, recording."
rm -f "$LAB_DIR/openssl.pcap"
show pfslab tap --listen 127.0.0.1:0 --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/openssl.pcap" --connections 2 '&'
pfslab tap --listen 127.0.0.1:0 --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/openssl.pcap" --connections 2 > "$LAB_DIR/tap.out" 2>&1 &
TAP_PID=$!
for _ in $(seq 50); do grep -q listening "$LAB_DIR/tap.out" && break; sleep 0.1; done
TAP_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/tap.out" | grep -o '[0-9]*$') || fail "the tap did not start"
note "tap: 127.0.0.1:$TAP_PORT → s_server 127.0.0.1:$SERVER_PORT"
pause

say "3. OpenSSL's client visits twice: once with RSA key transport, once with ECDHE."
for cipher in AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256; do
  show "printf 'GET /account?user=alice HTTP/1.0\r\nCookie: secret=$cipher\r\n\r\n' | openssl s_client -connect 127.0.0.1:$TAP_PORT -tls1_2 -cipher $cipher -quiet -ign_eof"
  printf 'GET /account?user=alice HTTP/1.0\r\nCookie: secret=%s\r\n\r\n' "$cipher" |
    timeout 10 openssl s_client -connect "127.0.0.1:$TAP_PORT" -tls1_2 -cipher "$cipher" -quiet -ign_eof > /dev/null 2>&1 || true
done
wait "$TAP_PID" || fail "the tap failed"
TAP_PID=
pause

say "4. The stolen key against OpenSSL's traffic."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/openssl.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/openssl.pcap" > "$LAB_DIR/attack.json"
note "The table shortens the reasons. Each session's whole reason, in session order:"
run grep '"reason"' "$LAB_DIR/attack.json"
pause

say "5. Each request's cookie names the cipher its client asked for. The cookies recovered:"
grep -o 'secret=[A-Za-z0-9-]*' "$LAB_DIR/attack.json" || true
[ "$(count_verdict "$LAB_DIR/attack.json" decrypted)" = 1 ] || fail "the RSA session was not decrypted"
[ "$(count_verdict "$LAB_DIR/attack.json" forward-secret)" = 1 ] || fail "the ECDHE session was not shown forward-secret"
grep -q "secret=AES128-GCM-SHA256" "$LAB_DIR/attack.json" || fail "the RSA session's cookie was not recovered"
pass "OpenSSL's RSA session fell to the stolen key; its ECDHE session stood."
