#!/usr/bin/env bash
# Lesson 0: what crosses the wire. "The browser makes a session key, encrypts it with the server's
# public key and sends it" — look at the lab's own bytes instead. With RSA key transport the
# client chooses and sends, encrypted, the 48-byte premaster secret, not a session key; the
# session keys are derived by both peers and sent by no one. With ECDHE not even the premaster
# is sent: only two public points.
# Usage: scenarios/00-what-crosses-the-wire.sh [--step]
source "$(dirname "$0")/lib.sh"
for tool in tshark openssl xxd python3; do
  command -v "$tool" >/dev/null || fail "$tool is needed (make deps installs it)"
done

# The hex value on explain's line LABEL (a regex on the label column), continuation lines included.
from_explain() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
values, label = {}, None
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    row = re.match(r"^   (\S.*?)\s{2,}(\S.*)$", line)
    more = re.match(r"^\s{20,}([0-9a-f]{2}[0-9a-f ]*)$", line)
    if row and not line.startswith(" " * 20):
        label = row.group(1)
        values[label] = row.group(2)
    elif more and label is not None:
        values[label] += " " + more.group(1)
    else:
        label = None
found = [v for k, v in values.items() if re.fullmatch(sys.argv[2], k)]
hexval = found[0].replace(" ", "") if found else ""
if not re.fullmatch(r"(?:[0-9a-f]{2})+", hexval):
    sys.exit(f"explain shows no hex value labelled /{sys.argv[2]}/")
print(hexval)
EOF
}

say "1. One server key and two logins, the same for the whole class (seeded): session 0 uses RSA"
note "   key transport, session 1 ephemeral ECDHE. The tap records every byte into lab.pcap."
run pfslab keygen --out-dir "$LAB_DIR/keys" --seed 0 --force
run pfslab record --out "$LAB_DIR/lab.pcap" --keys "$LAB_DIR/keys" --sessions rsa=1,ecdhe=1 --seed 0
note "The claim to test: \"the browser makes a session key, encrypts it, and sends it\"."
pause

say "2. What did the RSA client send? tshark decodes session 0's ClientKeyExchange, with no key:"
run tshark -r "$LAB_DIR/lab.pcap" -Y 'tcp.stream == 0 && tls.handshake.type == 16' -O tls
note "256 encrypted bytes: exactly the size of the server's 2048-bit RSA key. What is inside?"
pause

say "3. Open it with the server's key (here we are the server; in lesson 01 the attacker steals it)."
run_into "$LAB_DIR/ckx.hex" tshark -r "$LAB_DIR/lab.pcap" -Y 'tcp.stream == 0 && tls.handshake.type == 16' -T fields -e tls.handshake.epms
run xxd -r -p "$LAB_DIR/ckx.hex" "$LAB_DIR/ckx.bin"
run openssl pkeyutl -decrypt -inkey "$LAB_DIR/keys/server.key" -in "$LAB_DIR/ckx.bin" -out "$LAB_DIR/premaster.bin"
run xxd "$LAB_DIR/premaster.bin"
note "48 bytes: 03 03 (the TLS version the client offered) and 46 random bytes. This is the"
note "premaster secret. The client chose it and sent it, encrypted. It encrypts nothing itself."
pause

say "4. Where do the session keys come from? pfslab walks session 0 through, byte by byte:"
run pfslab explain "$LAB_DIR/lab.pcap" --session 0 --key "$LAB_DIR/keys/server.key"
pfslab explain "$LAB_DIR/lab.pcap" --session 0 --key "$LAB_DIR/keys/server.key" > "$LAB_DIR/explain-rsa.txt"
note "premaster + the two randoms → master secret → key block → client and server write keys and IVs."
note "Both peers compute them; no message carries them. AES-GCM suites have no MAC keys: GCM"
note "authenticates every record with its own tag (RFC 5288), so the key block holds only keys and IVs."
pause

say "5. Are those keys anywhere in the capture? Search every byte of it for each value."
ckx_head=$(cut -c1-32 "$LAB_DIR/ckx.hex")
premaster=$(from_explain "$LAB_DIR/explain-rsa.txt" 'premaster \(48 bytes\)') || fail "explain's premaster not found"
master=$(from_explain "$LAB_DIR/explain-rsa.txt" 'master secret \(48 bytes\)') || fail "explain's master secret not found"
cwk=$(from_explain "$LAB_DIR/explain-rsa.txt" 'client write key') || fail "explain's client write key not found"
swk=$(from_explain "$LAB_DIR/explain-rsa.txt" 'server write key') || fail "explain's server write key not found"
civ=$(from_explain "$LAB_DIR/explain-rsa.txt" 'client write IV.*') || fail "explain's client write IV not found"
siv=$(from_explain "$LAB_DIR/explain-rsa.txt" 'server write IV.*') || fail "explain's server write IV not found"
note "(the first line is a control: the start of the encrypted premaster, which did cross the wire)"
run python3 -c 'import sys; cap = open(sys.argv[1], "rb").read(); [print(n.ljust(20), "ON THE WIRE" if bytes.fromhex(h) in cap else "not in the capture") for n, h in (a.split("=") for a in sys.argv[2:])]' \
  "$LAB_DIR/lab.pcap" "encrypted-premaster=$ckx_head" "premaster=$premaster" "master-secret=$master" \
  "client-write-key=$cwk" "server-write-key=$swk" "client-write-IV=$civ" "server-write-IV=$siv"
note "Only the encrypted premaster crossed the wire. Nobody sent a session key: not the client, not"
note "the server. Whoever decrypts the premaster can compute them all — that is lesson 01."
pause

say "6. Now the ECDHE login, session 1. Its ClientKeyExchange:"
run tshark -r "$LAB_DIR/lab.pcap" -Y 'tcp.stream == 1 && tls.handshake.type == 16' -O tls
note "65 bytes: 04 ‖ x ‖ y, the client's public point Q_c on P-256. The server's Q_s came in its"
note "ServerKeyExchange, signed with the RSA key:"
run tshark -r "$LAB_DIR/lab.pcap" -Y 'tcp.stream == 1 && tls.handshake.type == 12' -T fields -e tls.handshake.server_point
run pfslab explain "$LAB_DIR/lab.pcap" --session 1 --key "$LAB_DIR/keys/server.key"
pfslab explain "$LAB_DIR/lab.pcap" --session 1 --key "$LAB_DIR/keys/server.key" > "$LAB_DIR/explain-ecdhe.txt"
note "Each peer multiplies its own ephemeral secret by the other's point and gets the same premaster."
note "Nothing on the wire decrypts to it: even the server's key only signed Q_s."
pause

say "What crossed the wire, then:"
note "  RSA key transport: the premaster, chosen by the client, encrypted to the server's key."
note "  ECDHE:             two public points. The premaster never travels."
note "  Both:              the master secret, the write keys and IVs are computed by both peers, never sent."

# The check: the bytes said what the lesson says.
tshark -r "$LAB_DIR/lab.pcap" -Y 'tcp.stream == 1 && tls.handshake.type == 16' -T fields \
  -e tls.handshake.epms -e tls.handshake.client_point > "$LAB_DIR/ckx-ecdhe.txt" 2>/dev/null
python3 - "$LAB_DIR" "$premaster" "$master" "$cwk" "$swk" "$civ" "$siv" <<'EOF' || fail "the bytes did not show what this lesson claims (see above)"
import re, sys
lab, premaster, master, *keys = sys.argv[1:]
cap = open(f"{lab}/lab.pcap", "rb").read()
ckx = open(f"{lab}/ckx.hex").read().strip()
explain_rsa = open(f"{lab}/explain-rsa.txt", encoding="utf-8").read()
explain_ecdhe = open(f"{lab}/explain-ecdhe.txt", encoding="utf-8").read()
errors = []
if len(ckx) != 512 or bytes.fromhex(ckx) not in cap:
    errors.append("tshark found no 256-byte encrypted premaster in session 0's ClientKeyExchange")
if ckx not in re.sub(r"[ \n]", "", explain_rsa):
    errors.append("the ClientKeyExchange ciphertext tshark shows is not the one explain decrypted")
decrypted = open(f"{lab}/premaster.bin", "rb").read()
if len(decrypted) != 48 or decrypted[:2] != b"\x03\x03":
    errors.append(f"openssl's premaster is {len(decrypted)} bytes starting {decrypted[:2].hex()}, not 48 starting 0303")
if decrypted.hex() != premaster:
    errors.append("explain's premaster is not what openssl decrypted from the ClientKeyExchange")
if len(master) != 96 or [len(k) for k in keys] != [32, 32, 8, 8]:
    errors.append("explain did not show a 48-byte master secret and 16-byte keys, 4-byte IVs")
for name, value in zip(["premaster", "master secret", "client write key", "server write key",
                        "client write IV", "server write IV"], [premaster, master, *keys]):
    if bytes.fromhex(value) in cap:
        errors.append(f"the {name} {value} appears in the capture")
premaster_line = next((l for l in explain_ecdhe.splitlines() if l.startswith("premaster secret")), "")
if "never sent" not in premaster_line:
    errors.append(f"explain's ECDHE premaster line does not say it was never sent: {premaster_line!r}")
epms, point = (open(f"{lab}/ckx-ecdhe.txt").read().rstrip("\n").split("\t") + ["", ""])[:2]
if epms or len(point) != 130 or not point.startswith("04"):
    errors.append("session 1's ClientKeyExchange is not just a 65-byte public point")
if point not in re.sub(r"[ \n]", "", explain_ecdhe):
    errors.append("explain's ECDHE session does not show the client's point tshark found")
for error in errors:
    print(f"check: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
pass "the client sent the 48-byte premaster (encrypted) with RSA and only a public point with ECDHE; no session key is anywhere in the capture."
