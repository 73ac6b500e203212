#!/usr/bin/env bash
# Lesson 10: TLS 1.3 resumption. A TLS 1.3 ticket holds a pre-shared key (PSK), sealed under the
# server's ticket key. Resuming with psk_ke keys the session with that PSK alone: whoever steals the
# ticket key reads it. Resuming with psk_dhe_ke mixes a fresh ECDHE secret in: the stolen ticket key
# gives the PSK and still opens nothing. The full handshakes that issued the tickets stand either way.
# Usage: scenarios/10-tls13-resumption.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. Two TLS 1.3 clients: each makes a full handshake, gets a ticket, and resumes twice — one with psk_dhe_ke, one with psk_ke."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 10 --force
rm -f "$LAB_DIR/lab.ticket.key"
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions tls13+psk=3,tls13+psk_ke=3 --keylog "$LAB_DIR/server.sslkeylog" --seed 10
pause

say "2. What the wire shows: the PSK modes each client offered and which one the server took."
run pfslab inspect "$LAB_DIR/lab.pcap"
pause

say "3. The stolen RSA key opens nothing: TLS 1.3 has no RSA key transport."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/rsa.json"
pause

say "4. The stolen ticket key: the psk_ke resumptions fall; psk_dhe_ke and the full handshakes stand."
run pfslab attack --ticket-key "$LAB_DIR/lab.ticket.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --ticket-key "$LAB_DIR/lab.ticket.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/stek.json"
note "Each session's whole reason, in session order:"
run grep '"reason"' "$LAB_DIR/stek.json"
pause

say "5. The same capture through the server's key log opens everything: the check that the attacker read the right bytes."
pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/keylog.json"
run pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --table-only "$LAB_DIR/lab.pcap"

[ "$(count_verdict "$LAB_DIR/rsa.json" decrypted)" = 0 ] || fail "the RSA key should open no TLS 1.3 session"
[ "$(count_verdict "$LAB_DIR/stek.json" decrypted)" = 2 ] || fail "the ticket key should open exactly the 2 psk_ke resumptions"
[ "$(count_verdict "$LAB_DIR/stek.json" forward-secret)" = 4 ] || fail "psk_dhe_ke resumptions and full handshakes should stand"
[ "$(count_verdict "$LAB_DIR/keylog.json" decrypted)" = 6 ] || fail "the key log should open all 6 sessions"
pass "psk_ke fell to the stolen ticket key; psk_dhe_ke and the full handshakes stood."
