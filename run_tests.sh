#!/usr/bin/env bash
# Set up (first time) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$ROOT/scripts/setup_env.sh" "test"
# A second environment with the [gcp] extra, used only by the Dataflow dry-run test
# (about a minute the first time; NEWSBEAM_SKIP_GCP=1 skips it and the test then skips).
if [ "${NEWSBEAM_SKIP_GCP:-0}" != "1" ]; then
  "$ROOT/scripts/setup_env.sh" "gcp" "$ROOT/.venv-gcp" \
    || echo "newsbeam: could not install the [gcp] extra; the Dataflow dry-run test will skip" >&2
fi
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
