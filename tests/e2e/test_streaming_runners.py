"""The streaming job on the portable runner with an external worker pool (how
Flink, Spark and Dataflow run Python workers) writes the same rows as the
in-process streaming run, for a bounded time.

The portable runner takes the cloud path of the graph (Beam state per table and
shard, no in-process buffer). Locally its job service executes with the
FnApiRunner, which holds the output of a stateful step until the unbounded
source ends, so the files appear when ``--max-runtime`` is over (as late-window
files) instead of window by window; docs/streaming.md says so. The demo feeds do
not change while the job runs, so both runs see the same entries.
"""
from __future__ import annotations

import pathlib

import pyarrow.parquet as pq

from tests.e2e.test_demo_pipeline import feed_args, run_cli
from tests.e2e.test_runners import external_worker_pool

STREAMING = ["--streaming", "--poll-interval", "2", "--window", "5", "--max-runtime", "8",
             "--allow-private-hosts", "--host-delay", "0"]


def rows_of(out: pathlib.Path):
    def rows(pattern):
        return [r for f in sorted(out.glob(pattern)) for r in pq.read_table(f).to_pylist()]
    articles = sorted(
        (r["url"], r["article_id"], r["content_hash"], r["title"], tuple(r["authors"]),
         tuple((e["text"], e["label"], e["count"]) for e in r["entities"]), f.parent.parent.name, f.parent.name)
        for f in sorted(out.glob("topic=*/date=*/*.parquet")) for r in pq.read_table(f).to_pylist())
    duplicates = sorted((r["url"], r["duplicate_of"], r["kind"]) for r in rows("_duplicates/date=*/*.parquet"))
    dead = sorted((r["url"], r["stage"], r["reason"]) for r in rows("_dead_letters/date=*/*.parquet"))
    return {"articles": articles, "duplicates": duplicates, "dead": dead}


def test_streaming_on_external_worker_pool_matches_in_process(demo_site, tmp_path):
    local = tmp_path / "local"
    result = run_cli("--output", str(local), *STREAMING, *feed_args(demo_site), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    reference = rows_of(local)
    assert len(reference["articles"]) >= 26 and reference["duplicates"] and reference["dead"]

    remote = tmp_path / "portable"
    with external_worker_pool() as runner_args:
        result = run_cli("--output", str(remote), *STREAMING, *runner_args, *feed_args(demo_site), timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "streaming run" in result.stdout
    assert rows_of(remote) == reference
    assert not list(remote.glob("**/.*.tmp"))  # every file published atomically
