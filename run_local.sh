#!/usr/bin/env bash
# Set up (first time) and run newsbeam.
#   ./run_local.sh                       the default job on the bundled demo site
#   ./run_local.sh --feed URL --output DIR [flags]   a real run (flags pass through)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$ROOT/scripts/setup_env.sh" ""
cd "$ROOT"
if [ "$#" -eq 0 ] || { [ "$1" != "--help" ] && ! printf '%s\n' "$@" | grep -qE '^--(feed|url|html[-_]dir|sources|warc)(=|$)'; }; then
  exec "$ROOT/.venv/bin/python" -m pipeline.demo "$@"
fi
exec "$ROOT/.venv/bin/python" -m pipeline "$@"
