#!/usr/bin/env bash
# Lesson 6: TLS 1.3. Record TLS 1.2 and TLS 1.3 sessions side by side and steal the key: only the
# TLS 1.2 RSA sessions fall. TLS 1.3 has no RSA key transport at all; the server's key only signs.
# A leaked key log (with the TLS 1.3 labels) still opens the 1.3 sessions.
# Usage: scenarios/06-tls13.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. Two sessions of each: RSA key transport, ECDHE, and TLS 1.3. The server keeps a key log."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 6 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe=2,tls13=2 --keylog "$LAB_DIR/server.sslkeylog" --seed 6
pause

say "2. The stolen key: only the TLS 1.2 RSA sessions fall."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/key.json"
note "The table shortens the reasons. Each session's whole reason, in session order:"
run grep '"reason"' "$LAB_DIR/key.json"
pause

say "3. In TLS 1.3 the key log has five lines per session, one per secret:"
run grep -c _SECRET "$LAB_DIR/server.sslkeylog"
note "CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0, EXPORTER_SECRET"
run pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/keylog.json"
pause

say "4. Half a key log: only SERVER_TRAFFIC_SECRET_0 opens only what the server sent."
grep SERVER_TRAFFIC_SECRET_0 "$LAB_DIR/server.sslkeylog" > "$LAB_DIR/half.sslkeylog"
run pfslab attack --keylog "$LAB_DIR/half.sslkeylog" --table-only "$LAB_DIR/lab.pcap"
run_into "$LAB_DIR/half.json" pfslab attack --keylog "$LAB_DIR/half.sslkeylog" --json "$LAB_DIR/lab.pcap"
grep -m1 -o '"reason": "TLS 1.3 traffic secrets[^"]*"' "$LAB_DIR/half.json" || true

[ "$(count_verdict "$LAB_DIR/key.json" decrypted)" = 2 ] || fail "the stolen key should open exactly the 2 RSA sessions"
[ "$(count_verdict "$LAB_DIR/key.json" forward-secret)" = 4 ] || fail "ECDHE and TLS 1.3 sessions should stand"
grep -q '"key_exchange": "tls13"' "$LAB_DIR/key.json" || fail "no TLS 1.3 session in the capture"
[ "$(count_verdict "$LAB_DIR/keylog.json" decrypted)" = 6 ] || fail "the key log should open all 6 sessions"
python3 -m json.tool "$LAB_DIR/half.json" > /dev/null || fail "half.json is not JSON"
grep -q "still closed" "$LAB_DIR/half.json" || fail "a partial key log should say what stays closed"
pass "TLS 1.3 stood against the stolen key; the leaked key log opened it — and half a log, half of it."
