"""SIGKILL the CLI mid-run: only complete Parquet files are left, and a rerun
completes the dataset without duplicate rows.

The job is killed (its whole process group, extraction workers included) the
moment the first article file appears under its final name. A clean run into
another folder, at the same time, is the reference for "complete".
"""
from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.e2e.test_accounting import SUMMARY
from tests.e2e.test_demo_pipeline import ROOT, run_cli
from tests.hostile import generate

PAGES = 60


def _args(corpus: pathlib.Path, out: pathlib.Path):
    return ["--output", str(out), "--html-dir", str(corpus), "--quiet", "--extract-timeout", "20"]


def _final_files(out: pathlib.Path):
    return [p for p in out.rglob("*.parquet") if not p.name.startswith(".")]


def _articles(out: pathlib.Path):
    files = [p for p in _final_files(out) if not any(part.startswith("_") for part in p.relative_to(out).parts)]
    return [r for f in files for r in pq.read_table(f).to_pylist()]


def _rows(out: pathlib.Path, folder: str):
    return [r for f in sorted((out / folder).rglob("*.parquet")) if not f.name.startswith(".")
            for r in pq.read_table(f).to_pylist()]


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    corpus = root / "pages"
    corpus.mkdir()
    for _family, name, data in generate.pages(PAGES, big=False):
        if _family in ("plain", "path"):
            (corpus / name).write_bytes(data)
    out, reference = root / "out", root / "reference"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    ref = subprocess.Popen([sys.executable, "-m", "pipeline", *_args(corpus, reference)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    job = subprocess.Popen([sys.executable, "-m", "pipeline", *_args(corpus, out)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    killed_at = None
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and job.poll() is None:
        if any(p for p in out.glob("topic=*/date=*/part-*.parquet")):
            os.killpg(job.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            break
        time.sleep(0.02)
    job.wait(timeout=30)
    ref_out, ref_err = ref.communicate(timeout=300)
    assert ref.returncode == 0, ref_err[-3000:]
    assert killed_at is not None, "the job ended before its first file appeared"
    snapshot = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return {"corpus": corpus, "out": out, "reference": reference, "job": job, "snapshot": snapshot,
            "reference_summary": ref_out}


def test_killed_job_leaves_only_complete_files(crashed):
    assert crashed["job"].returncode == -signal.SIGKILL
    out = crashed["out"]
    finals = _final_files(out)
    assert finals, crashed["snapshot"]
    for path in finals:
        pq.read_table(path)  # complete: footer and every page decode
    # The run report is written last: a killed job has none.
    assert not list(out.glob("_reports/run-*.json"))
    # Later runs trust the index: it only exists once every data file does.
    if list(out.glob("_state/index/*.parquet")):
        assert len(_articles(out)) == len(_articles(crashed["reference"]))


def test_rerun_completes_the_dataset_without_duplicates(crashed):
    out, reference = crashed["out"], crashed["reference"]
    result = run_cli(*_args(crashed["corpus"], out))
    assert result.returncode == 0, result.stderr[-3000:]
    for path in _final_files(out):
        pq.read_table(path)
    got, want = _articles(out), _articles(reference)
    ids = [r["article_id"] for r in got]
    assert len(ids) == len(set(ids)), "duplicate article rows after the rerun"
    assert set(ids) == {r["article_id"] for r in want}
    for folder, key in (("_duplicates", ("url", "duplicate_of", "kind")), ("_dead_letters", ("url", "stage", "reason"))):
        rows = [tuple(r[k] for k in key) for r in _rows(out, folder)]
        assert len(rows) == len(set(rows)), folder
        assert set(rows) == {tuple(r[k] for k in key) for r in _rows(reference, folder)}, folder
    match = SUMMARY.search(result.stdout)
    assert match and int(match.group(6)) == 0, result.stdout
