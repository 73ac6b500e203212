#!/usr/bin/env bash
# Lesson 2: a leaked SSLKEYLOGFILE. The same kind of capture, but the server's operator left a key
# log behind. It names each session's master secret, so ECDHE falls too: forward secrecy protects
# against losing the long-term key, not against losing the session secrets.
# Usage: scenarios/02-keylog-leak.sh [--step]
source "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || fail "tshark is needed (make deps installs it)"

say "1. A careless server writes every session's master secret to a key log (SSLKEYLOGFILE)."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 2 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe=2 --keylog "$LAB_DIR/server.sslkeylog" --seed 2
pause

say "2. The key log is plain text: CLIENT_RANDOM <client random> <master secret>."
run head -n 2 "$LAB_DIR/server.sslkeylog"
note "And each session's client random, read by tshark from the ClientHellos in the capture:"
run tshark -r "$LAB_DIR/lab.pcap" -Y 'tls.handshake.type == 1' -T fields -e tcp.stream -e tls.handshake.random
pause

say "3. The attacker has the key log but NOT the server's key."
run pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/attack.json"

decrypted=$(count_verdict "$LAB_DIR/attack.json" decrypted)
[ "$decrypted" = 4 ] || fail "expected all 4 sessions (ECDHE included) decrypted, got $decrypted"
pass "the key log opened every session, ECDHE included: session secrets must never leak."
