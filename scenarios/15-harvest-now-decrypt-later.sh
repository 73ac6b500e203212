#!/usr/bin/env bash
# Lesson 15: harvest now, decrypt later. An eavesdropper records TLS 1.3 sessions today and keeps
# them. Against a stolen server key they are forward-secret. Against a future adversary who can
# take discrete logs (a large quantum computer running Shor's algorithm) the classical ones are
# not: the public key shares in the recording are all it needs. Sessions that used the hybrid
# X25519MLKEM768 also depend on ML-KEM-768, which no quantum algorithm is known to break.
# Nobody runs Shor's algorithm here: `--assume-dlog-broken` is handed the clients' classical
# ephemeral keys through a labelled stand-in file, and checks each against the wire.
# Usage: scenarios/15-harvest-now-decrypt-later.sh [--step]
source "$(dirname "$0")/lib.sh"

CAP="$LAB_DIR/harvest.pcap"
STANDIN="$LAB_DIR/harvest.dlog-standin.json"

say "1. Today: a bank's clients log in over TLS 1.3 — P-256, X25519 and the hybrid X25519MLKEM768 — plus one TLS 1.2 ECDHE; an eavesdropper records it all."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 15 --force
run pfslab record --seed 15 --keys "$LAB_DIR/keys" --out "$CAP" --sessions tls13=2,tls13-x25519=2,tls13-hybrid=2,ecdhe=1
pause

say "2. What the recording holds: the key share groups and their sizes, in clear."
run pfslab inspect "$CAP"
note "The hybrid client share is 1216 bytes (ML-KEM-768 encapsulation key 1184 ‖ X25519 32); the server's 1120 (ciphertext 1088 ‖ X25519 32)."
pause

say "3. Still today: the server's RSA key is stolen. It opens nothing — every session is (EC)DHE."
pfslab attack --key "$LAB_DIR/keys/server.key" --quiet --json "$CAP" > "$LAB_DIR/today.json"
run pfslab attack --key "$LAB_DIR/keys/server.key" --quiet --table-only "$CAP"
pause

say "4. Years later: assume discrete logs can be taken. The lab stands in for Shor's algorithm with the clients' own classical keys."
run grep -o '"stand_in": "[^"]*"' "$STANDIN"
pfslab attack --assume-dlog-broken "$STANDIN" --quiet --json "$CAP" > "$LAB_DIR/later.json"
run pfslab attack --assume-dlog-broken "$STANDIN" --quiet --table-only "$CAP"
note "Why the hybrid sessions stand:"
grep -m1 -o 'X25519MLKEM768 (0x11EC): [^"]*' "$LAB_DIR/later.json" | cut -c1-400 || true
pause

say "5. One hybrid session, both halves of its secret laid out."
HYBRID=$(python3 -c 'import json,sys; print(next(s["stream"] for s in json.load(open(sys.argv[1]))["sessions"] if s["group"] == "X25519MLKEM768"))' "$LAB_DIR/later.json")
pfslab explain "$CAP" --session "$HYBRID" --assume-dlog-broken "$STANDIN" > "$LAB_DIR/explain-hybrid.txt"
show pfslab explain "$CAP" --session "$HYBRID" --assume-dlog-broken "$STANDIN"
grep -E '^(shared secret|   ML-KEM-768 half|   X25519 half|   The attacker holds|   Handshake Secret)' "$LAB_DIR/explain-hybrid.txt" || true

[ "$(count_verdict "$LAB_DIR/today.json" forward-secret)" = 7 ] || fail "the stolen RSA key should open none of the 7 sessions"
[ "$(count_verdict "$LAB_DIR/later.json" decrypted)" = 5 ] || fail "the assumed DLP break should open the 5 classical sessions"
[ "$(count_verdict "$LAB_DIR/later.json" forward-secret)" = 2 ] || fail "the 2 hybrid sessions should stay forward-secret"
python3 - "$LAB_DIR/later.json" "$LAB_DIR/harvest.truth.json" <<'EOF' || fail "a decrypted session does not match the answer key, or a line lacks the assumption"
import json, sys
later = json.load(open(sys.argv[1]))
truth = {s["client_random"]: s for s in json.load(open(sys.argv[2]))["sessions"]}
assert later["assumption"].startswith("ASSUMED")
for s in later["sessions"]:
    assert "assumed DLP break" in s["reason"] and "assumed DLP break" in s["assumed_dlog_break"], s["stream"]
    if s["group"] == "X25519MLKEM768":
        assert s["verdict"] == "forward-secret" and "ML-KEM-768 shared secret" in s["reason"], s["stream"]
    else:
        assert s["client_data"] == truth[s["client_random"]]["client_data"], s["stream"]
EOF
grep -q 'The attacker holds the X25519 half only' "$LAB_DIR/explain-hybrid.txt" || fail "explain should say which half the attacker has"
pass "Today the stolen key opened none of the 7 sessions; under the assumed DLP break the 5 classical ones opened to the answer key's bytes, and the 2 X25519MLKEM768 sessions stayed closed: their ML-KEM-768 half is missing."
