#!/usr/bin/env bash
# Lesson 7: the four session keys. A TLS 1.2 CBC-HMAC session makes four keys from its master
# secret: a MAC key and an encryption key for each direction. Steal the server's key, let explain
# print the four and check one record's MAC by hand; then compare AES-GCM, which has no MAC keys.
# Usage: scenarios/07-four-session-keys.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. Three sessions: RSA key transport with AES-CBC + HMAC-SHA1, RSA with AES-GCM, ECDHE with CBC."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 7 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa-cbc=1,rsa=1,ecdhe-cbc=1 --seed 7
pause

say "2. The stolen key opens both RSA sessions, CBC or GCM; ECDHE stands whatever its cipher."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/attack.json"
pause

say "3. Session 0 (CBC): the key block cut into the four session keys."
run_into "$LAB_DIR/explain-cbc.txt" pfslab explain "$LAB_DIR/lab.pcap" --key "$LAB_DIR/keys/server.key" --session 0
run grep -A1 -E 'four session keys|write MAC key|write key|IVs|record MAC' "$LAB_DIR/explain-cbc.txt"
pause

say "4. Its first application data record, opened by hand: IV, decrypt, padding, MAC."
run sed -n '/^first client application data/,/^$/p' "$LAB_DIR/explain-cbc.txt"
pause

say "5. Session 1 (AES-GCM) for comparison: two keys and two salts, no MAC keys."
run_into "$LAB_DIR/explain-gcm.txt" pfslab explain "$LAB_DIR/lab.pcap" --key "$LAB_DIR/keys/server.key" --session 1
run grep -E 'MAC key|write key|write IV|tag check' "$LAB_DIR/explain-gcm.txt"

[ "$(count_verdict "$LAB_DIR/attack.json" decrypted)" = 2 ] || fail "the stolen key should open both RSA sessions"
[ "$(count_verdict "$LAB_DIR/attack.json" forward-secret)" = 1 ] || fail "the ECDHE-CBC session should stand"
[ "$(grep -cE '^ +(client|server) write (MAC )?key ' "$LAB_DIR/explain-cbc.txt")" = 4 ] || fail "explain should print four session keys for CBC"
grep -q 'MAC check .*OK: MAC recomputed = MAC received' "$LAB_DIR/explain-cbc.txt" || fail "the CBC record's MAC did not check"
grep -q 'none: AES-GCM authenticates by itself' "$LAB_DIR/explain-gcm.txt" || fail "AES-GCM should show no MAC keys"
pass "CBC-HMAC made four session keys, and the MAC recomputed from the stolen key matched; AES-GCM needs no MAC keys."
