#!/usr/bin/env bash
# Lesson 13: the group was the backdoor. DHE is forward secret only if the discrete log in its group
# is hard. A prime p whose p-1 splits into small primes looks like any other 2048-bit prime on the
# wire, but whoever knows (or finds) those factors takes any exponent with Pohlig-Hellman: no key, no
# key log, no memory dump — the recorded handshake alone opens the session. RFC 7919's ffdhe2048 is a
# safe prime (p-1 = 2q), and the same attack stops there.
# Usage: scenarios/13-the-group-was-the-backdoor.sh [--step]
source "$(dirname "$0")/lib.sh"

cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "${TAP_PID:-}" ] && kill "$TAP_PID" 2>/dev/null; true; }
trap cleanup EXIT

# `serve NAME ARGS…`: a DHE-only pfslab server with ARGS in the background, a tap in front of it
# recording NAME.pcap, and two OpenSSL visits, TLS 1.2 DHE. (pfslab's client offers ffdhe2048 in
# supported_groups, and a server with its own group must then refuse DHE: RFC 7919 §4.)
serve() {
  local name="$1"; shift
  show pfslab server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" --suites dhe "$@" '&'
  # The binary itself, not the pfslab shell function: $! must be the server's own pid.
  "$PFSLAB" server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" \
    --suites dhe "$@" > "$LAB_DIR/$name.server.out" 2> "$LAB_DIR/$name.server.err" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -qs listening "$LAB_DIR/$name.server.out" && break; sleep 0.1; done
  SERVER_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/$name.server.out" | grep -o '[0-9]*$') || fail "the server did not start"
  rm -f "$LAB_DIR/$name.pcap"
  "$PFSLAB" tap --listen 127.0.0.1:0 --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/$name.pcap" --connections 2 > "$LAB_DIR/$name.tap.out" 2>&1 &
  TAP_PID=$!
  for _ in $(seq 50); do grep -qs listening "$LAB_DIR/$name.tap.out" && break; sleep 0.1; done
  TAP_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/$name.tap.out" | grep -o '[0-9]*$') || fail "the tap did not start"
  for visit in 1 2; do
    show "printf 'GET /$name/openssl-$visit HTTP/1.0\r\n\r\n' | openssl s_client -connect 127.0.0.1:$TAP_PORT -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 -quiet -ign_eof"
    printf 'GET /%s/openssl-%s HTTP/1.0\r\n\r\n' "$name" "$visit" |
      timeout 10 openssl s_client -connect "127.0.0.1:$TAP_PORT" -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 -quiet -ign_eof > /dev/null 2>&1 || true
  done
  wait "$TAP_PID" || fail "the tap failed"
  TAP_PID=
  kill "$SERVER_PID"; SERVER_PID=
}

say "1. The instructor makes a group with a trapdoor: p prime, p-1 = 2 times many primes of at most 24 bits."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 13 --force
run pfslab dhparams --backdoor --bits 2048 --factor-bits 24 --seed 13 --out "$LAB_DIR/backdoored.pem" --force
show openssl dhparam -in "$LAB_DIR/backdoored.pem" -check -noout
# It exits 1 on this group: that refusal is the point of the step.
check=$(openssl dhparam -in "$LAB_DIR/backdoored.pem" -check -noout 2>&1 || true)
grep -o 'check p not safe prime' <<< "$check" || fail "openssl should see that p is not a safe prime"
note "OpenSSL reads it as any 2048-bit group; only its check notices that p is not a safe prime."
run sed -n '3,7p' "$LAB_DIR/backdoored.pem.factors"
note "… $(grep -vc '^#' "$LAB_DIR/backdoored.pem.factors") factors in all: the instructor's secret, never sent."
pause

say "2. A server uses it for DHE; two clients visit through a recording tap."
serve backdoor --dh-params "$LAB_DIR/backdoored.pem"
pause

say "3. The stolen RSA key does nothing here: DHE never sends the premaster."
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/backdoor.pcap" > "$LAB_DIR/rsa.json"
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/backdoor.pcap"
pause

say "4. No key at all: factor p-1 from the capture, take the server's exponent with Pohlig-Hellman."
run pfslab attack --break-dh --table-only "$LAB_DIR/backdoor.pcap"
pfslab attack --break-dh --quiet --json "$LAB_DIR/backdoor.pcap" > "$LAB_DIR/break.json"
note "How it got in:"
grep -m1 -o '"secret_source": "[^"]*"' "$LAB_DIR/break.json" || true
pause

say "5. The same attack against RFC 7919 ffdhe2048, the server's default group."
serve honest
pfslab attack --break-dh --quiet --json "$LAB_DIR/honest.pcap" > "$LAB_DIR/honest.json"
run pfslab attack --break-dh --table-only "$LAB_DIR/honest.pcap"
grep -m1 -o 'break-dh: [^"]*' "$LAB_DIR/honest.json" || true

[ "$(count_verdict "$LAB_DIR/rsa.json" forward-secret)" = 2 ] || fail "the RSA key should open neither DHE session"
[ "$(count_verdict "$LAB_DIR/break.json" decrypted)" = 2 ] || fail "the backdoored group should give up both sessions"
grep -q 'GET /backdoor/openssl-2' "$LAB_DIR/break.json" || fail "the OpenSSL client's request should be read back"
grep -q 'Pohlig-Hellman' "$LAB_DIR/break.json" || fail "the route should name Pohlig-Hellman"
[ "$(count_verdict "$LAB_DIR/honest.json" forward-secret)" = 2 ] || fail "ffdhe2048 should stand"
grep -q '2047 bits' "$LAB_DIR/honest.json" || fail "the reason should say how large ffdhe2048's factor is"
pass "The stolen RSA key opened nothing; the backdoored group gave up both sessions from the capture alone; ffdhe2048 stood, and the reason says why."
