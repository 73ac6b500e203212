#!/usr/bin/env bash
# Lesson 1: steal the key. Record RSA and ECDHE sessions, steal the server's RSA key, and watch
# the RSA sessions fall while the ECDHE sessions stand.
# Usage: scenarios/01-steal-the-key.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. The bank's server gets a key pair and a certificate."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 1 --force
pause

say "2. Clients log in. Three sessions use RSA key transport, three use ephemeral ECDHE."
note "An eavesdropper's tap records every byte into a pcap file."
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=3,ecdhe=3 --seed 1
pause

say "3. What the eavesdropper sees without any key: randoms, certificates, and for RSA sessions"
note "the premaster secret itself, encrypted to the server's key. For ECDHE only two public points."
run pfslab inspect "$LAB_DIR/lab.pcap"
pause

say "4. Years later the server's private key is stolen. The attacker replays the recording."
run pfslab attack --key "$LAB_DIR/keys/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/keys/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/attack.json"
note "The table shortens the reasons. Each session's whole reason, in session order:"
run grep '"reason"' "$LAB_DIR/attack.json"
pause

say "5. A recovered login, from an RSA session:"
grep -m1 -o 'user=[^"\\]*' "$LAB_DIR/attack.json" || true

decrypted=$(count_verdict "$LAB_DIR/attack.json" decrypted)
fs=$(count_verdict "$LAB_DIR/attack.json" forward-secret)
[ "$decrypted" = 3 ] || fail "expected the 3 RSA sessions decrypted, got $decrypted"
[ "$fs" = 3 ] || fail "expected the 3 ECDHE sessions to stand, got $fs"
password=$(grep -m1 -o '"password": "[^"]*"' "$LAB_DIR/lab.truth.json" | cut -d'"' -f4)
grep -q "$password" "$LAB_DIR/attack.json" || fail "the first RSA session's password was not recovered"
pass "the stolen key opened all 3 RSA sessions; the 3 ECDHE sessions stayed closed (forward secrecy)."
