#!/usr/bin/env bash
# Lesson 9: the ticket key. ECDHE sessions stand against a stolen RSA key — until the server's
# session-ticket key (STEK) is stolen: a TLS 1.2 ticket carries the session's master secret, sealed
# under that key, so every session that received or used a ticket falls with it. Rotating the key
# protects the sessions made after the rotation, not the ones before.
# Usage: scenarios/09-the-ticket-key.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. Monday: two RSA sessions, and an ECDHE session that gets a ticket, then three visits resuming it."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 9 --force
rm -f "$LAB_DIR/monday.ticket.key" "$LAB_DIR/tuesday.ticket.key"
run pfslab record --out "$LAB_DIR/monday.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe+ticket=4 --ticket-key "$LAB_DIR/monday.ticket.key" --seed 9
run xxd -l 16 "$LAB_DIR/monday.ticket.key"
note "The first 16 bytes of the ticket key are its name: every ticket sealed under it starts with them."
pause

say "2. The stolen RSA key: the RSA sessions fall, the ECDHE session and its resumptions stand."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/monday.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/monday.pcap" > "$LAB_DIR/rsa.json"
pause

say "3. The stolen ticket key: the ticket opens, and with it the ECDHE session and every resumption."
run pfslab attack --ticket-key "$LAB_DIR/monday.ticket.key" --table-only "$LAB_DIR/monday.pcap"
pfslab attack --ticket-key "$LAB_DIR/monday.ticket.key" --json "$LAB_DIR/monday.pcap" > "$LAB_DIR/stek.json"
note "The whole reason for the ECDHE session:"
grep -m1 -o '"reason": "[^"]*ticket[^"]*"' "$LAB_DIR/stek.json" || true
pause

say "4. Walk it: from the ticket on the wire to the session keys."
run pfslab explain --ticket-key "$LAB_DIR/monday.ticket.key" --session 3 "$LAB_DIR/monday.pcap"
pause

say "5. Tuesday the server rotates to a fresh ticket key. Monday's stolen key opens nothing new."
run pfslab record --out "$LAB_DIR/tuesday.pcap" --keys "$LAB_DIR/keys" --sessions ecdhe+ticket=3 --ticket-key "$LAB_DIR/tuesday.ticket.key" --seed 10
run pfslab attack --ticket-key "$LAB_DIR/monday.ticket.key" --table-only "$LAB_DIR/tuesday.pcap"
pfslab attack --ticket-key "$LAB_DIR/monday.ticket.key" --json "$LAB_DIR/tuesday.pcap" > "$LAB_DIR/rotated.json"

[ "$(count_verdict "$LAB_DIR/rsa.json" decrypted)" = 2 ] || fail "the RSA key should open exactly the 2 RSA sessions"
[ "$(count_verdict "$LAB_DIR/rsa.json" forward-secret)" = 4 ] || fail "the ECDHE session and its 3 resumptions should stand against the RSA key"
[ "$(count_verdict "$LAB_DIR/stek.json" decrypted)" = 4 ] || fail "the ticket key should open the ECDHE session and its 3 resumptions"
grep -q 'POST /login' "$LAB_DIR/stek.json" || fail "the ticket key's plaintext should show the logins"
[ "$(count_verdict "$LAB_DIR/rotated.json" decrypted)" = 0 ] || fail "Monday's key should open nothing sealed on Tuesday"
pass "The ECDHE sessions stood against the RSA key and fell to the ticket key; after the rotation, the old key opened nothing."
