"""The extraction worker does not grow with the input: it is replaced after
``RECYCLE_AFTER_CALLS`` pages and closed once idle (docs/performance.md, memory flat in
input size). Real child processes; results must not depend on which child ran them."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time

from core import sandbox
from core.article import extract_with_budget
from schemas.records import Article, FetchedPage, PageRequest
from tests.hostile import generate

NOW = dt.datetime(2025, 5, 15, 12, tzinfo=dt.timezone.utc)


def _page(seed: int) -> FetchedPage:
    url = f"http://example.com/news/story-{seed}"
    html = generate.article(generate.random.Random(seed)).encode()
    return FetchedPage(request=PageRequest(url=url), final_url=url, status=200, content=html,
                       content_type="text/html", fetched_at=NOW)


def _gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_child_is_replaced_after_n_calls_with_the_same_results(monkeypatch):
    sandbox.shutdown()
    monkeypatch.setattr(sandbox, "RECYCLE_AFTER_CALLS", 3)
    pids = [sandbox.call("os:getpid", timeout=30) for _ in range(7)]
    assert pids[0] == pids[1] == pids[2] != os.getpid()
    assert pids[3] == pids[4] == pids[5] != pids[0]
    assert pids[6] not in (pids[0], pids[3])
    assert _gone(pids[0]) and _gone(pids[3])  # closed, not left behind
    pages = [_page(seed) for seed in (1, 2, 3, 1)]  # page 1 again, in the next child
    results = [extract_with_budget(p, timeout=60)[0] for p in pages]
    assert all(isinstance(r, Article) for r in results), results
    assert dataclasses.replace(results[0], fetched_at=NOW) == dataclasses.replace(results[3], fetched_at=NOW)
    inside, _ = extract_with_budget(pages[0], timeout=0)
    assert dataclasses.replace(inside, fetched_at=NOW) == dataclasses.replace(results[3], fetched_at=NOW)


def test_idle_child_is_closed_and_the_next_call_starts_another(monkeypatch):
    sandbox.shutdown()
    monkeypatch.setattr(sandbox, "IDLE_CLOSE_SECONDS", 0.3)
    first = sandbox.call("os:getpid", timeout=30)
    assert sandbox.idle_children() == [first]
    assert _gone(first), "an idle child must be closed"
    assert sandbox.idle_children() == []
    second = sandbox.call("os:getpid", timeout=30)
    assert second != first and sandbox.idle_children() == [second]
    sandbox.shutdown()


def _extract_in_a_pipeline(close_workers: bool) -> list:
    import apache_beam as beam
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.util import assert_that, equal_to
    from transforms.extract import ExtractArticles
    with TestPipeline(runner="FnApiRunner") as p:
        extracted = (p | beam.Create([_page(1), _page(2)])
                     | ExtractArticles(close_workers=close_workers))
        assert_that(extracted.articles | beam.Map(lambda a: a.url),
                    equal_to([_page(1).request.url, _page(2).request.url]))
    return sandbox.idle_children()


def test_a_batch_extraction_stage_closes_its_workers_when_its_bundle_ends():
    """A batch stage's extraction workers go with the stage, not 5 s later beside the next
    stages' model loading (the in-process 600-page job peaked with the idle worker's 164 MiB
    beside it in some runs: docs/performance.md); a streaming job keeps them between bundles."""
    sandbox.shutdown()
    assert _extract_in_a_pipeline(close_workers=True) == []
    kept = _extract_in_a_pipeline(close_workers=False)
    assert len(kept) == 1 and not _gone(kept[0], seconds=0.5)
    sandbox.shutdown()


def test_batch_and_streaming_jobs_choose_how_extraction_workers_close():
    from pipeline import graph
    assert graph.Batch.closes_extraction_workers and not graph.Streaming.closes_extraction_workers
