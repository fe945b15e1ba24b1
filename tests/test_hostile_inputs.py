"""Hostile inputs to the pure core: extraction budget, parsers, and paths.

Everything real: the extraction worker is a real child process that is really
killed, feeds that try to fetch external entities point at a real loopback
server that records requests, and the sink writes real files under tmp_path.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import pathlib
import time

import pyarrow.parquet as pq
import pytest

from schemas import reasons
from schemas.records import Article, DeadLetter, FeedRequest, FetchedPage, PageRequest
from schemas.taxonomy import TOPICS
from tests.hostile import generate
from transforms import extract, feeds, sandbox, sink

NOW = dt.datetime(2025, 5, 15, 12, tzinfo=dt.timezone.utc)
SLOW = {"single-line-5mb.html"}  # seconds in-process: exercised through the budget below and e2e
STUCK = (b"<html><body><div " + b" ".join(b"a%d='x'" % i for i in range(200_000)) + b">"
         + b"<p>" + b"words in a paragraph " * 50 + b"</p></div></body></html>")  # minutes in lxml/trafilatura


def page(content: bytes, url: str = "http://example.com/news/story") -> FetchedPage:
    return FetchedPage(request=PageRequest(url=url), final_url=url, status=200, content=content,
                       content_type="text/html", fetched_at=NOW)


# --------------------------------------------------------------------------- extraction budget

def test_stuck_page_is_dead_lettered_within_budget_and_the_worker_recovers():
    ok = generate.article(generate.random.Random(1)).encode()
    first, _ = extract.extract_with_budget(page(ok), timeout=60)  # warms a worker up
    assert isinstance(first, Article)
    pids_before = sandbox.idle_children()
    started = time.monotonic()
    result, _ = extract.extract_with_budget(page(STUCK), timeout=2.0)
    took = time.monotonic() - started
    assert isinstance(result, DeadLetter) and result.reason == reasons.EXTRACT_TIMEOUT, result
    assert result.stage == reasons.STAGE_EXTRACT and "2 s" in result.detail
    assert took < 8, took  # the budget plus killing; never the minutes the page would take
    killed = [pid for pid in pids_before if pid not in sandbox.idle_children()]
    for pid in killed:  # the busy worker is gone, not left spinning
        with pytest.raises(ProcessLookupError):
            for _ in range(50):
                os.kill(pid, 0)
                time.sleep(0.1)
    again, counts = extract.extract_with_budget(page(ok), timeout=60)
    assert isinstance(again, Article) and again.body == first.body
    assert "boilerplate_chars_removed" in counts


def test_budget_result_equals_in_process_result():
    html = generate.article(generate.random.Random(2), title="Harbour strike ends").encode()
    inside, _ = extract.extract_with_budget(page(html), timeout=0)
    outside, _ = extract.extract_with_budget(page(html), timeout=60)
    assert dataclasses.replace(inside, fetched_at=NOW) == dataclasses.replace(outside, fetched_at=NOW)


def test_pre_parse_guard_refuses_before_parsing():
    started = time.monotonic()
    for content in (b"<i>x</i>" * (extract.MAX_TAGS // 2 + 10), b"a" * (extract.MAX_EXTRACT_BYTES + 1)):
        result = extract.extract_article(page(content))
        assert isinstance(result, DeadLetter) and result.reason == reasons.TOO_LARGE, result
    assert time.monotonic() - started < 2


@pytest.mark.parametrize("family, name, content",
                         [c for c in generate.pages(0, big=False) if c[0] in ("bytes", "structure", "dates")],
                         ids=lambda v: v if isinstance(v, str) and not v.startswith("<") else "")
def test_hostile_page_gives_a_row_or_a_dead_letter(family, name, content):
    started = time.monotonic()
    result = extract.extract_article(page(content))
    took = time.monotonic() - started
    assert isinstance(result, (Article, DeadLetter))
    if isinstance(result, DeadLetter):
        assert result.reason in reasons.REASONS and result.stage == reasons.STAGE_EXTRACT
    else:
        assert "\x00" not in result.body and result.body.strip()
        assert result.word_count > 0 and len(result.title or "") <= extract.MAX_TITLE_CHARS
        if result.published_at is not None:
            assert result.published_at.tzinfo is not None and 1990 <= result.published_at.year <= NOW.year
    assert took < 15, (name, took)  # generous: a noisy shared machine


def test_named_hostile_outcomes():
    by_name = {name: extract.extract_article(page(content)) for _f, name, content in generate.pages(0, big=False)}
    reason = lambda n: getattr(by_name[n], "reason", "article")  # noqa: E731
    assert reason("empty.html") == reasons.EMPTY_EXTRACTION
    assert reason("whitespace.html") == reasons.EMPTY_EXTRACTION
    assert reason("nul-only.html") == reasons.EMPTY_EXTRACTION
    assert reason("many-tags-guarded.html") == reasons.TOO_LARGE
    assert reason("invalid-utf8-mostly.html") in (reasons.BAD_ENCODING, reasons.EMPTY_EXTRACTION)
    for name in ("nul-everywhere.html", "latin1-declared.html", "utf16-bom.html", "shift-jis.html",
                 "gb18030.html", "invalid-utf8-sprinkled.html"):
        assert isinstance(by_name[name], Article), (name, by_name[name])
    assert "Zürich" in by_name["latin1-declared.html"].title
    assert "東京" in by_name["shift-jis.html"].title
    xxe = by_name["xxe-in-html.html"]
    assert "root:" not in getattr(xxe, "body", "")


# --------------------------------------------------------------------------- feeds

@pytest.mark.parametrize("name", [n for n, _ in generate.feeds("http://127.0.0.1:9")])
def test_hostile_feed_has_no_effect(name, http_server):
    content = dict(generate.feeds(http_server.base))[name]
    started = time.monotonic()
    requests_, dead = feeds.parse_feed(content, FeedRequest(url="https://feeds.example.com/x.xml"),
                                       base_url="https://feeds.example.com/x.xml")
    assert time.monotonic() - started < 5
    assert not any(http_server.hits.get(p) for p in generate.FETCH_PROBES), http_server.hits
    texts = [str(v) for r in requests_ for v in dataclasses.asdict(r).values()]
    assert not any("root:" in t or "lollollol" in t for t in texts)
    assert all(len(t) < 100_000 for t in texts)
    assert [r.url for r in requests_] or dead  # the entry is read (or dead-lettered), never silently lost


# --------------------------------------------------------------------------- paths

def _article(**changes) -> Article:
    base = Article(article_id="a" * 64, url="https://example.com/a", canonical_url="https://example.com/a",
                   source_domain="example.com", feed_url=None, title="t", authors=(), published_at=NOW,
                   modified_at=None, date_source="meta", fetched_at=NOW, language="en", topic="politics",
                   topic_source="meta", section=None, body="body text", word_count=2, content_hash="h")
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("trick", generate.PATH_TRICKS + ["", ".", "..", "\n", "topic=politics", "/"])
def test_no_input_string_reaches_a_path(trick, tmp_path):
    out = tmp_path / "out"
    article = _article(topic=trick, section=trick, title=trick, source_domain=trick or "x",
                       url=trick or "x", canonical_url=trick or "x", article_id=trick or "x",
                       authors=(trick,), feed_url=trick)
    partition = sink.article_partition(article)
    topic, date = partition.split("/")
    assert topic in {f"topic={t}" for t in TOPICS} and date == "date=2025-05-15"
    rows = [sink.arrow_schemas.article_to_row(article)]
    written = sink.write_partition(str(out), "articles", partition, rows)
    dead = DeadLetter(url=trick, stage=trick, reason=trick, detail=trick, at=NOW)
    written += sink.write_partition(str(out), "dead_letters", sink.partition_of("dead_letters", dead),
                                    [sink.arrow_schemas.dead_letter_to_row(dead)])
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 2 and all(out.resolve() in p.resolve().parents for p in files)
    assert {pathlib.Path(w["path"]).resolve() for w in written} == {p.resolve() for p in files}
    assert pq.read_table(files[0]).num_rows == 1


@pytest.mark.parametrize("when", [dt.datetime(1, 1, 1, tzinfo=dt.timezone.utc),
                                  dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone.utc),
                                  dt.datetime(2025, 5, 15, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))])
def test_partition_dates_are_always_valid(when):
    partition = sink.article_partition(_article(published_at=when))
    date = partition.split("date=")[1]
    assert dt.date.fromisoformat(date) == when.astimezone(dt.timezone.utc).date()
