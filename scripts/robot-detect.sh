#!/usr/bin/env bash
# robot-detect (PyPI; Böck, Somorovsky and Young's ROBOT scanner) in a pinned virtual environment
# under target/robot/venv, then run with the given arguments:
#
#   scripts/robot-detect.sh -p PORT 127.0.0.1
#
# It reports VULNERABLE when the server answers some malformed PKCS#1 v1.5 ClientKeyExchange
# differently from a well-formed one (`pfslab server --oracle strong|weak`), NOT VULNERABLE
# when every answer is the same (the default server). Environment: ROBOT_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${ROBOT_VENV:-target/robot/venv}
requirements='robot-detect==0.3
cryptography==50.0.2
gmpy2==2.3.2
cffi==2.1.1
pycparser==3.12'
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "robot-detect: installing python3 and python3-venv" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3 python3-venv >&2
fi
stamp="$venv/.pfslab-requirements"
if [ ! -x "$venv/bin/robot-detect" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
  echo "robot-detect: setting up $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  printf '%s\n' "$requirements" > "$venv/requirements.txt"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$venv/requirements.txt" >&2
  printf '%s' "$requirements" > "$stamp"
fi
exec "$venv/bin/robot-detect" "$@"
