#!/usr/bin/env bash
# Lesson 3: the wrong key. The attacker holds an RSA key, but not this server's. pfslab checks the
# key against the certificate each session presented and says so plainly.
# Usage: scenarios/03-wrong-key.sh [--step]
source "$(dirname "$0")/lib.sh"

say "1. The real server records some traffic."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 3 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe=1 --seed 3
pause

say "2. The attacker stole a key from a different server."
run pfslab keygen --out-dir "$LAB_DIR/other" --seed 30 --force
run pfslab attack --key "$LAB_DIR/other/server.key" --table-only "$LAB_DIR/lab.pcap"
pfslab attack --key "$LAB_DIR/other/server.key" --json "$LAB_DIR/lab.pcap" > "$LAB_DIR/attack.json"
note "The table shortens the reasons. Each session's whole reason, in session order:"
run grep '"reason"' "$LAB_DIR/attack.json"

decrypted=$(count_verdict "$LAB_DIR/attack.json" decrypted)
[ "$decrypted" = 0 ] || fail "a foreign key must decrypt nothing, yet $decrypted sessions opened"
grep -q "not this server's key" "$LAB_DIR/attack.json" || fail "pfslab did not say the key is not this server's"
pass "nothing opened, and pfslab said why: the key does not match the server's certificate."
