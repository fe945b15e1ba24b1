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
# Spark for the lake-reader test (tests/e2e/test_demo_pipeline.py::test_spark_reads_the_lake_as_it_is):
# a headless JDK with apt-get where no Java is installed, and pyspark in its own .venv-spark.
# Never fatal: without them that test skips and says why. NEWSBEAM_SKIP_SPARK=1 skips it.
if [ "${NEWSBEAM_SKIP_SPARK:-0}" != "1" ]; then
  if ! command -v java >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
    echo "newsbeam: installing a headless Java runtime with apt-get for the Spark reader test" >&2
    { timeout 600 $SUDO apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive timeout 600 $SUDO apt-get install -y -qq --no-install-recommends \
           default-jre-headless; } >/dev/null 2>&1 \
      || echo "newsbeam: could not install Java; the Spark reader test will skip" >&2
  fi
  SPARK_VENV="$ROOT/.venv-spark"
  if command -v java >/dev/null 2>&1 && [ ! -f "$SPARK_VENV/.newsbeam-pyspark" ]; then
    echo "newsbeam: installing pyspark into .venv-spark for the Spark reader test" >&2
    { "${PYTHON:-python3}" -m venv "$SPARK_VENV" \
      && "$SPARK_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pyspark>=3.5,<5" \
      && touch "$SPARK_VENV/.newsbeam-pyspark"; } >"$ROOT/.venv/spark-install.log" 2>&1 \
      || echo "newsbeam: could not install pyspark (see .venv/spark-install.log); the Spark reader test will skip" >&2
  fi
fi
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m pytest "$@"
