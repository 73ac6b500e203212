#!/usr/bin/env bash
# Lesson 5: see it in Wireshark. The attacker exports a key log of every session it recovered;
# Wireshark (or tshark) then shows the same decrypted conversation.
# Usage: scenarios/05-open-in-wireshark.sh [--step]
source "$(dirname "$0")/lib.sh"
command -v tshark >/dev/null || fail "tshark is needed (make deps installs it)"

run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 5 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=2,ecdhe=1 --seed 5
pause

say "1. The attack writes a CLIENT_RANDOM line for every session it opened."
rm -f "$LAB_DIR/recovered.keylog"
run pfslab attack --key "$LAB_DIR/keys/server.key" --keylog-out "$LAB_DIR/recovered.keylog" --table-only "$LAB_DIR/lab.pcap"
run cat "$LAB_DIR/recovered.keylog"
pause

say "2. tshark with that key log shows the logins (Wireshark: Preferences → Protocols → TLS →"
note "   (Pre)-Master-Secret log filename). The seeded capture's server is 10.0.0.1:443."
run_into "$LAB_DIR/tshark.txt" tshark -r "$LAB_DIR/lab.pcap" -o "tls.keylog_file:$LAB_DIR/recovered.keylog" -Y http.request \
  -T fields -e tcp.stream -e http.request.line -e http.file_data 2>/dev/null
run cat "$LAB_DIR/tshark.txt"
pause

say "3. In the Wireshark GUI:"
note "   wireshark -o 'tls.keylog_file:$LAB_DIR/recovered.keylog' '$LAB_DIR/lab.pcap'"
note "   then Follow → TLS Stream on any decrypted session."

lines=$(grep -c 'password=' "$LAB_DIR/tshark.txt" || true)
[ "$lines" = 2 ] || fail "tshark should show the 2 RSA logins, shows $lines"
password=$(grep -m1 -o '"password": "[^"]*"' "$LAB_DIR/lab.truth.json" | cut -d'"' -f4)
grep -q "$password" "$LAB_DIR/tshark.txt" || fail "tshark's plaintext does not contain the recorded password"
pass "Wireshark's dissector decrypted the same sessions from pfslab's exported key log."
