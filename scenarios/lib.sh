# Shared by the lesson scripts: narration, optional pauses, and the final check.
# Environment: PFSLAB (the binary; built if unset), LAB_DIR (where a lesson keeps its files).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STEP_MODE=0
for arg in "$@"; do
  case "$arg" in
    --step) STEP_MODE=1 ;;
    -h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg (use --step to pause between steps)" >&2; exit 2 ;;
  esac
done

if [ -z "${PFSLAB:-}" ]; then
  PFSLAB="$ROOT/target/release/pfslab"
  if [ ! -x "$PFSLAB" ]; then
    (cd "$ROOT" && cargo build --release --locked --quiet)
  fi
fi
pfslab() { "$PFSLAB" "$@"; }

LESSON="$(basename "$0" .sh)"
LAB_DIR="${LAB_DIR:-$ROOT/captures/$LESSON}"
mkdir -p "$LAB_DIR"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then B=$'\e[1m'; G=$'\e[32m'; R=$'\e[31m'; N=$'\e[0m'; else B=; G=; R=; N=; fi

say() { printf '\n%s\n' "${B}$*${N}"; }
note() { printf '%s\n' "$*"; }
# The command as a student would type it: $LAB_DIR for the lab directory, and quotes where the
# shell needs them (double quotes keep $LAB_DIR working; single quotes for anything with $, ", \).
as_typed() {
  local arg shown=()
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then shown+=("${arg//"$LAB_DIR"/\$LAB_DIR}")
    elif [[ "$arg" != *[\"\\\$\`!]* ]]; then shown+=("\"${arg//"$LAB_DIR"/\$LAB_DIR}\"")
    else shown+=("'${arg//\'/\'\\\'\'}'")
    fi
  done
  printf '%s' "${shown[*]}"
}
# Shows a command the student can copy, then runs it.
run() {
  printf '$ %s\n' "$(as_typed "$@")"
  "$@"
}
# `run_into FILE cmd…`: shows `$ cmd… > FILE`, then runs the command with its output in FILE
# (with `run cmd > FILE` the shown command would land in the file, not on the screen).
run_into() {
  local out="$1"; shift
  printf '$ %s > %s\n' "$(as_typed "$@")" "$(as_typed "$out")"
  "$@" > "$out"
}
# Shows a command without running it (for commands started in the background or piped).
show() { printf '%s\n' "\$ ${*//$LAB_DIR/\$LAB_DIR}"; }
pause() {
  if [ "$STEP_MODE" = 1 ] && [ -t 0 ]; then read -r -p "[press Enter for the next step] " _; fi
}
pass() { printf '\n%s\n' "${G}LESSON PASSED:${N} $*"; }
fail() { printf '\n%s\n' "${R}LESSON FAILED:${N} $*" >&2; exit 1; }

# Counts sessions with a verdict in attack --json output.
count_verdict() { grep -c "\"verdict\": \"$2\"" "$1" || true; }
