#!/usr/bin/env bash
# Set up (first time) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$ROOT/scripts/setup_env.sh" "test"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
