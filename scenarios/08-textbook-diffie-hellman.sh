#!/usr/bin/env bash
# Lesson 8: textbook Diffie-Hellman. Record finite-field DHE (g^a mod p) beside ECDHE and RSA key
# transport, steal the server's RSA key, and see that it opens neither Diffie-Hellman kind; then
# read the two public values off the wire and see where the premaster is not.
# Usage: scenarios/08-textbook-diffie-hellman.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. The bank's server gets a key pair and a certificate."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 8 --force
pause

say "2. Clients log in: two sessions each of RSA key transport, ECDHE (P-256) and finite-field DHE."
note "DHE is the textbook exchange: the server sends p, g and g^a mod p; the client answers g^b mod p."
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe=2,dhe=2 --keylog "$LAB_DIR/server.sslkeylog" --seed 8
pause

say "3. Without any key: for DHE sessions the eavesdropper has the 2048-bit prime and both public values."
run pfslab inspect "$LAB_DIR/lab.pcap"
pause

say "4. The server's RSA key is stolen. It opens the RSA sessions only."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/attack.json"
note "The whole reason for a DHE session (session 2):"
run pfslab explain "$LAB_DIR/lab.pcap" --session 2 --key "$LAB_DIR/keys/server.key"
pause

say "5. The server's key log names every session's master secret: all six open."
run pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --keylog "$LAB_DIR/server.sslkeylog" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/keylog.json"

decrypted=$(count_verdict "$LAB_DIR/attack.json" decrypted)
fs=$(count_verdict "$LAB_DIR/attack.json" forward-secret)
[ "$decrypted" = 2 ] || fail "expected the 2 RSA sessions decrypted with the stolen key, got $decrypted"
[ "$fs" = 4 ] || fail "expected the 2 ECDHE and 2 DHE sessions to stand, got $fs"
grep -q 'the RFC 7919 group ffdhe2048' "$LAB_DIR/attack.json" || fail "the DHE reason does not name the group"
grep -q 'the signature verifies with it' "$LAB_DIR/attack.json" || fail "the DHE signature was not checked"
opened=$(count_verdict "$LAB_DIR/keylog.json" decrypted)
[ "$opened" = 6 ] || fail "expected the key log to open all 6 sessions, got $opened"
pass "the stolen key opened the 2 RSA sessions; both Diffie-Hellman kinds (2 ECDHE, 2 DHE) stood; the key log opened all 6."
