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
# Debian's Chromium for the HTML report test (tests/e2e/test_report_browser.py): only where
# apt-get exists and no Chromium is installed yet. Never fatal: without it that test skips.
if [ "${NEWSBEAM_SKIP_CHROMIUM:-0}" != "1" ] && command -v apt-get >/dev/null 2>&1 \
   && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
  echo "newsbeam: installing chromium with apt-get for the report browser test" >&2
  { timeout 600 $SUDO apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq --no-install-recommends \
         chromium fonts-liberation fonts-dejavu-core; } >/dev/null 2>&1 \
    || echo "newsbeam: could not install chromium; the report browser test will skip" >&2
fi
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
