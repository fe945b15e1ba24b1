"""The Dataflow job builds offline (``--dry_run=True``), packaging included.

Needs ``apache-beam[gcp]``, which ``run_tests.sh`` installs into ``.venv-gcp``
(kept apart so the main environment stays lean).
"""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
GCP_PYTHON = ROOT / ".venv-gcp" / "bin" / "python"


@pytest.mark.skipif(not GCP_PYTHON.exists(),
                    reason=".venv-gcp missing: run ./run_tests.sh (or scripts/setup_env.sh gcp .venv-gcp)")
def test_dataflow_dry_run_builds_the_job(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(GCP_PYTHON), "-m", "pipeline", "--runner", "DataflowRunner", "--project", "newsbeam-ci",
            "--region", "europe-west1", "--temp_location", "gs://newsbeam-ci/tmp",
            "--setup_file", "./setup.py", "--dry_run=True", "--no_auth",
            "--feed", "https://example.com/rss.xml", "--output", "gs://newsbeam-ci/out"]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dry run on DataflowRunner: job graph with" in result.stdout
    assert "nothing was submitted" in result.stdout
