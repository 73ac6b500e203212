#!/usr/bin/env bash
# Lesson 14: the oracle. RSA key transport sends the premaster encrypted to the server's key; a server
# that lets slip whether a ClientKeyExchange decrypts to a well-formed PKCS#1 v1.5 block (00 02 ...)
# decrypts any recorded premaster for whoever asks it enough questions (Bleichenbacher, CRYPTO 1998;
# still found in real products by ROBOT, 2018). No key is stolen: the attacker has the recording, the
# server's certificate, and the server's answers. The lesson uses an RSA-1024 key to keep the attack
# to seconds; `make bench` runs it against RSA-2048.
# Usage: scenarios/14-the-oracle.sh [--step]
source "$(dirname "$0")/lib.sh"

cleanup() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null; true; }
trap cleanup EXIT

# `serve NAME ARGS…`: a pfslab server with the lesson's key and ARGS, in the background.
serve() {
  local name="$1"; shift
  show pfslab server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" "$@" '&'
  # The binary itself, not the pfslab shell function: $! must be the server's own pid.
  "$PFSLAB" server --listen 127.0.0.1:0 --key "$LAB_DIR/keys/server.key" --cert "$LAB_DIR/keys/server.crt" \
    "$@" > "$LAB_DIR/$name.server.out" 2> "$LAB_DIR/$name.server.err" &
  SERVER_PID=$!
  for _ in $(seq 50); do grep -qs listening "$LAB_DIR/$name.server.out" && break; sleep 0.1; done
  SERVER_PORT=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$LAB_DIR/$name.server.out" | grep -o '[0-9]*$') || fail "the server did not start"
}
stop() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

say "1. Two customers log in to the bank over RSA key transport; the class records it. (RSA-1024 keeps the attack short.)"
run pfslab keygen --bits 1024 --out-dir "$LAB_DIR/keys" --seed 17 --force
run pfslab record --keys "$LAB_DIR/keys" --sessions rsa=2 --seed 17 --out "$LAB_DIR/logins.pcap"
note "The logins are encrypted; the premaster crossed the wire encrypted to the server's key:"
run pfslab inspect "$LAB_DIR/logins.pcap"
pause

say "2. The same server key, in a server whose alerts leak the padding (--oracle strong). Ask it."
serve strong --suites rsa --oracle strong
run_into "$LAB_DIR/strong.txt" pfslab oracle-attack --connect "127.0.0.1:$SERVER_PORT" --capture "$LAB_DIR/logins.pcap" --session 0 --quiet
sed -n '1,4p' "$LAB_DIR/strong.txt"
grep -E '^(0 |how:|user=)' "$LAB_DIR/strong.txt" || true
note "The server handled $(grep -c '^\[conn ' "$LAB_DIR/strong.server.err" || true) connections from the attacker."
stop
pause

say "3. The same attack against the default server, which answers every padding alike (RFC 5246 §7.4.7.1)."
serve default --suites rsa
show pfslab oracle-attack --connect "127.0.0.1:$SERVER_PORT" --capture "\$LAB_DIR/logins.pcap" --session 0 --quiet
default_rc=0
"$PFSLAB" oracle-attack --connect "127.0.0.1:$SERVER_PORT" --capture "$LAB_DIR/logins.pcap" --session 0 --quiet \
  > "$LAB_DIR/default.txt" 2> "$LAB_DIR/default.err" || default_rc=$?
cat "$LAB_DIR/default.err"
note "(exit status $default_rc)"
stop
pause

say "4. An outside tool agrees: ROBOT's own scanner (robot-detect) on both servers."
robot_strong="" robot_default=""
# `robot NAME`: robot-detect against the running server into NAME.txt; its verdict line. It exits
# non-zero when it finds nothing, and on a loaded machine it sometimes gives up ("Getting
# inconsistent results"): then it is asked again, up to three times.
robot() {
  local verdict="" attempt
  show "scripts/robot-detect.sh -p $SERVER_PORT 127.0.0.1 > \$LAB_DIR/$1.txt"
  for attempt in 1 2 3; do
    "$ROOT/scripts/robot-detect.sh" -p "$SERVER_PORT" 127.0.0.1 > "$LAB_DIR/$1.txt" 2>&1 || true
    verdict=$(grep -o 'VULNERABLE! Oracle ([a-z]*) found\|NOT VULNERABLE!' "$LAB_DIR/$1.txt" | head -1) || true
    [ -n "$verdict" ] && break
    note "(robot-detect gave no verdict: $(tail -1 "$LAB_DIR/$1.txt"); asking again)"
  done
  ROBOT_VERDICT=$verdict
}
if [ -x "$ROOT/target/robot/venv/bin/robot-detect" ]; then
  serve robot-strong --suites rsa,rsa-cbc --oracle strong
  robot robot-strong
  robot_strong=$ROBOT_VERDICT
  note "strong: $robot_strong"
  stop
  serve robot-default --suites rsa,rsa-cbc
  robot robot-default
  robot_default=$ROBOT_VERDICT
  note "default: $robot_default"
  stop
else
  note "robot-detect is not set up here (scripts/robot-detect.sh installs it with pip): step skipped."
fi

password=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sessions'][0]['password'])" "$LAB_DIR/logins.truth.json")
grep -q 'DECRYPTED' "$LAB_DIR/strong.txt" || fail "the strong oracle should give up session 0"
grep -q "password=$password" "$LAB_DIR/strong.txt" || fail "the recorded password should come back"
grep -q "Bleichenbacher's attack: [0-9]* queries to the live server; the RSA key was never used" "$LAB_DIR/strong.txt" || fail "the route should name the attack"
[ "$default_rc" != 0 ] || fail "the attack on the default server should fail"
grep -q 'no oracle: the server answers every padding the same way' "$LAB_DIR/default.err" || fail "the default server should give no oracle"
[ ! -s "$LAB_DIR/default.txt" ] || fail "nothing should be decrypted from the default server"
if [ -n "$robot_strong$robot_default" ]; then
  [ "$robot_strong" = 'VULNERABLE! Oracle (strong) found' ] || fail "robot-detect should find the strong oracle"
  [ "$robot_default" = 'NOT VULNERABLE!' ] || fail "robot-detect should find nothing in the default server"
fi
pass "The oracle server gave back the recorded login without its key ever being touched; the default server gave the attack nothing."
