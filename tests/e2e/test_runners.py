"""The same job on every local engine gives the same rows as the in-process run.

Engines: the in-process FnApiRunner (reference), multi-process local workers,
the portable runner with an embedded job service (LOOPBACK workers), and the
portable runner with an external worker pool (how Flink/Spark/Dataflow run
Python: SDK harness processes started by a pool service).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from tests.e2e.test_demo_pipeline import EXPECTED, feed_args, run_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_BIN = pathlib.Path(sys.executable).parent


def snapshot(out: pathlib.Path):
    """Everything that must not depend on the engine (not timestamps)."""
    def rows(pattern):
        return [r for f in sorted(out.glob(pattern)) for r in pq.read_table(f).to_pylist()]
    articles = sorted(
        (r["url"], r["article_id"], r["content_hash"], r["title"], r["cluster_size"],
         tuple(r["authors"]), tuple((e["text"], e["label"], e["count"]) for e in r["entities"]),
         str(f.parent.parent.name), str(f.parent.name))  # topic and date: the path
        for f in sorted(out.glob("topic=*/date=*/*.parquet")) for r in pq.read_table(f).to_pylist())
    duplicates = sorted((r["url"], r["duplicate_of"], r["kind"]) for r in rows("_duplicates/date=*/*.parquet"))
    dead = sorted((r["url"], r["stage"], r["reason"]) for r in rows("_dead_letters/date=*/*.parquet"))
    files = sorted(str(p.relative_to(out)) for p in out.glob("topic=*/date=*/*.parquet"))
    return {"articles": articles, "duplicates": duplicates, "dead": dead, "files": files}


def run_on(engine_args, out, base_url, env=None):
    result = run_cli("--output", str(out), "--allow-private-hosts", "--host-delay", "0",
                     *feed_args(base_url), *engine_args, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return snapshot(out)


@pytest.fixture(scope="module")
def reference(demo_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "out"
    snap = run_on([], out, demo_site)
    assert len(snap["articles"]) >= 26 and snap["dead"]
    return snap


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("engine", ["multi_processing", "portable_loopback"])
def test_engine_matches_in_process(engine, reference, demo_site, tmp_path):
    args = {
        "multi_processing": ["--direct_running_mode=multi_processing", "--direct_num_workers=2"],
        "portable_loopback": ["--runner=PortableRunner", "--job_endpoint=embed",
                              "--environment_type=LOOPBACK"],
    }[engine]
    assert run_on(args, tmp_path / "out", demo_site) == reference


@contextlib.contextmanager
def external_worker_pool():
    """A Beam worker pool service on a free loopback port (how Flink/Spark/Dataflow
    start Python SDK workers); yields the runner flags that use it."""
    port = _free_port()
    # The pool starts SDK workers with a bare `python`: the venv must come first on PATH,
    # or the job hangs without an error.
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=str(ROOT))
    pool = subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                             f"--service_port={port}"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.closing(socket.socket()) as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("worker pool did not start")
        yield ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=EXTERNAL",
               f"--environment_config=localhost:{port}"]
    finally:
        pool.terminate()
        pool.wait(timeout=10)


def test_external_worker_pool_matches_in_process(reference, demo_site, tmp_path):
    with external_worker_pool() as args:
        assert run_on(args, tmp_path / "out", demo_site) == reference
