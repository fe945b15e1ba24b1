#!/usr/bin/env bash
# Shared by run_local.sh and run_tests.sh: create a virtualenv if missing and install
# the project (with the given extras) when setup.py changed since the last install.
#   scripts/setup_env.sh [EXTRAS] [VENV_DIR]     (default: no extras, ./.venv)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-}"
PYTHON="${PYTHON:-python3}"
VENV="${2:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "newsbeam: creating virtualenv in $VENV" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >"$VENV/install.log" 2>&1 \
    || echo "newsbeam: could not upgrade pip (continuing with the bundled one)" >&2
fi
STAMP="$VENV/.newsbeam-installed${EXTRAS:+-$EXTRAS}"
WANT="$(cat "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "newsbeam: installing dependencies${EXTRAS:+ [$EXTRAS]} (first run takes about a minute)" >&2
  SPEC="."
  [ -n "$EXTRAS" ] && SPEC=".[$EXTRAS]"
  LOG="$VENV/install.log"
  if ! (cd "$ROOT" && "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$SPEC" >"$LOG" 2>&1); then
    tail -n 40 "$LOG" >&2
    echo "newsbeam: installation failed (full log: $LOG)" >&2
    exit 1
  fi
  echo "$WANT" > "$STAMP"
fi
