#!/usr/bin/env bash
# Lesson 12: after the theft. The server's RSA key is stolen. The ECDHE and TLS 1.3 sessions
# recorded before the theft stay closed to it: forward secrecy protects the past. But the key lets
# the thief pose as the server from now on: a man in the middle holding it passes every
# certificate check and reads the new sessions in full. Forward secrecy protects the past, not the
# future.
# Usage: scenarios/12-after-the-theft.sh [--step]
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || fail "curl is needed (make deps installs it)"
command -v tshark >/dev/null || fail "tshark is needed (make deps installs it)"

cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; [ -n "${MITM_PID:-}" ] && kill "$MITM_PID" 2>/dev/null; true; }
trap cleanup EXIT

say "1. Before the theft: the class's traffic is recorded, ECDHE and TLS 1.3 only."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 12 --force
run pfslab record --out "$LAB_DIR/before.pcap" --keys "$LAB_DIR/keys" --sessions ecdhe=2,tls13=2 --seed 12
pause

say "2. The key is stolen. Against the recording made before, it opens nothing."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/before.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/before.pcap" > "$LAB_DIR/before.json"
note "Each session's key came from an ephemeral key exchange; the RSA key only signed it."
pause

say "3. Today: the real server runs, and the thief puts pfslab mitm in front of it with the stolen key."
show pfslab server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" '&'
pfslab server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" \
  > "$LAB_DIR/server.out" 2> "$LAB_DIR/server.err" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q listening "$LAB_DIR/server.out" && break; sleep 0.1; done
SERVER_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/server.out" | grep -o '[0-9]*$') || fail "the server did not start"
rm -f "$LAB_DIR/today.pcap" "$LAB_DIR/today.keys"
show pfslab mitm --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" --listen 127.0.0.1:0 --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/today.pcap" --keylog "$LAB_DIR/today.keys" --connections 2 '&'
pfslab mitm --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" --listen 127.0.0.1:0 \
  --upstream "127.0.0.1:$SERVER_PORT" --write "$LAB_DIR/today.pcap" --keylog "$LAB_DIR/today.keys" \
  --connections 2 > "$LAB_DIR/mitm.out" 2> "$LAB_DIR/mitm.err" &
MITM_PID=$!
for _ in $(seq 50); do grep -q listening "$LAB_DIR/mitm.out" && break; sleep 0.1; done
MITM_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/mitm.out" | grep -o '[0-9]*$') || fail "the mitm did not start"
note "victims now reach 127.0.0.1:$MITM_PORT (the thief's) instead of 127.0.0.1:$SERVER_PORT (the server)"
pause

say "4. The victims log in, checking the certificate as they should: curl (TLS 1.3), and pfslab's client at TLS 1.2 ECDHE."
run_into "$LAB_DIR/curl.out" curl -sS --cacert "$LAB_DIR/keys/server.crt" --data 'user=alice&password=correct-horse' "https://localhost:$MITM_PORT/login" || fail "curl refused the connection"
cat "$LAB_DIR/curl.out"
run_into "$LAB_DIR/client.out" pfslab client --connect "127.0.0.1:$MITM_PORT" --ca "$LAB_DIR/keys/server.crt" --server-name localhost --suite ecdhe \
  --request 'POST /login HTTP/1.0\r\nContent-Length: 27\r\n\r\nuser=bob&password=battery42' || fail "pfslab client refused the connection"
cat "$LAB_DIR/client.out"
wait "$MITM_PID" || fail "the mitm failed: $(cat "$LAB_DIR/mitm.err")"
MITM_PID=
note "Both checks passed: each victim got the real bank's answer."
pause

say "5. What the thief read: everything, both ways — and what the victims could have noticed."
run cat "$LAB_DIR/mitm.out"
pause

say "6. The thief's recording opens in tshark with the mitm's own key log."
run_into "$LAB_DIR/tshark.out" tshark -r "$LAB_DIR/today.pcap" -o "tls.keylog_file:$LAB_DIR/today.keys" -d "tcp.port==$MITM_PORT,tls" -Y http.request -T fields -e tcp.stream -e http.request.method -e http.request.uri -e http.file_data 2>/dev/null
cat "$LAB_DIR/tshark.out"
note "And the stolen key alone still opens none of today's sessions either: the mitm did not break them, it took part in them."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/today.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/today.pcap" > "$LAB_DIR/today.json"

[ "$(count_verdict "$LAB_DIR/before.json" decrypted)" = 0 ] || fail "the stolen key should open none of the sessions recorded before the theft"
[ "$(count_verdict "$LAB_DIR/before.json" forward-secret)" = 4 ] || fail "the 4 ECDHE and TLS 1.3 sessions should stand as forward-secret"
grep -q "you asked for POST /login" "$LAB_DIR/curl.out" || fail "curl should have got the real bank's page"
grep -q "you asked for POST /login" "$LAB_DIR/client.out" || fail "pfslab client should have got the real bank's page"
grep -q "user=alice&password=correct-horse" "$LAB_DIR/mitm.out" || fail "the mitm should have read alice's password"
grep -q "user=bob&password=battery42" "$LAB_DIR/mitm.out" || fail "the mitm should have read bob's password"
grep -q "byte-identical (the whole chain)" "$LAB_DIR/mitm.out" || fail "the mitm should have found the certificate byte-identical"
grep -q "user=alice&password=correct-horse" "$LAB_DIR/tshark.out" || fail "tshark should open curl's session in the mitm's recording with its key log"
grep -q "user=bob&password=battery42" "$LAB_DIR/tshark.out" || fail "tshark should open pfslab client's session in the mitm's recording with its key log"
[ "$(count_verdict "$LAB_DIR/today.json" forward-secret)" = 2 ] || fail "today's sessions should stand against the key alone"
pass "The stolen key opened none of the past sessions, and every new one through the man in the middle."
