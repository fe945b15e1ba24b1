"""The Dataflow job builds offline (``--dry_run=True``), packaging included.

Needs ``apache-beam[gcp]``, which ``run_tests.sh`` installs into ``.venv-gcp``
(kept apart so the main environment stays lean).
"""
import json
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


@pytest.mark.skipif(not GCP_PYTHON.exists(),
                    reason=".venv-gcp missing: run ./run_tests.sh (or scripts/setup_env.sh gcp .venv-gcp)")
def test_dataflow_streaming_dry_run_builds_the_streaming_graph(tmp_path):
    """`--streaming --dry_run=True` builds the streaming job (not the batch one) for
    Dataflow, with Beam state instead of the local runner's in-memory buffer."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    common = ["--streaming", "--runner", "DataflowRunner", "--project", "newsbeam-ci",
              "--region", "europe-west1", "--temp_location", "gs://newsbeam-ci/tmp", "--dry_run=True",
              "--no_auth", "--enable_streaming_engine", "--poll-interval", "300", "--window", "600",
              "--feed", "https://example.com/rss.xml", "--output", "gs://newsbeam-ci/out"]
    result = subprocess.run([str(GCP_PYTHON), "-m", "pipeline", *common], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dry run on DataflowRunner: streaming job graph with" in result.stdout
    assert "stateful steps" in result.stdout and "nothing was submitted" in result.stdout
    # The same build, looked into: the graph Dataflow would get.
    probe = ("import json, sys; from pipeline import cli; r = cli.run(sys.argv[1:]); "
             "print(json.dumps({k: r[k] for k in ('streaming', 'stateful_steps', 'in_process_only_steps', 'names')}))")
    result = subprocess.run([str(GCP_PYTHON), "-c", probe, *common], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["streaming"] is True and facts["in_process_only_steps"] == []
    assert any(name.startswith("PollTicks") for name in facts["names"])
    assert not any("Buffer" in name or "FlushWindows" in name for name in facts["names"])
    assert {"PollFeeds/PollFeed/ParDo(_PollFeedFn)", "WriteArticles/WriteWindows"} <= set(facts["stateful_steps"])


@pytest.mark.skipif(not GCP_PYTHON.exists(), reason=".venv-gcp missing")
def test_dataflow_streaming_dry_run_refuses_pages():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    args = [str(GCP_PYTHON), "-m", "pipeline", "--streaming", "--runner", "DataflowRunner",
            "--project", "newsbeam-ci", "--region", "europe-west1", "--temp_location", "gs://newsbeam-ci/tmp",
            "--dry_run=True", "--no_auth", "--url", "https://example.com/a.html", "--output", "gs://newsbeam-ci/out"]
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2 and "streaming mode polls feeds only" in result.stderr
