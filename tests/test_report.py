"""Run report (figures, JSON + HTML files), summary text, progress line and logging."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import time

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline import progress, report, summary
from schemas.records import FeedRequest
from transforms import sink

T0 = dt.datetime(2025, 5, 17, 9, 0, tzinfo=dt.timezone.utc)
EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def manifest():
    """What ``MergeManifest`` produces, built from real sink manifest records."""
    records = [
        {"table": "articles", "partition": "topic=politics/date=2025-05-15", "path": "a", "rows": 3,
         "counts": {"source_domain": {"a.example": 2, "b.example": 1},
                    "feed_url": {"https://a.example/rss": 2, "(no feed)": 1},
                    "freshness_s": {"600": 1, "3600": 1, "86000": 1},
                    "entities": {"Vladimir Putin\tPERSON": 5, f"{EVIL}\tORG": 2}}},
        {"table": "articles", "partition": "topic=sports/date=2025-05-16", "path": "b", "rows": 1,
         "counts": {"source_domain": {"a.example": 1}, "feed_url": {"https://b.example/rss": 1},
                    "freshness_s": {"1200": 1}, "entities": {"Vladimir Putin\tPERSON": 1}}},
        {"table": "duplicates", "partition": "date=2025-05-17", "path": "c", "rows": 2,
         "counts": {"kind": {"url": 1, "near": 1}}},
        {"table": "dead_letters", "partition": "date=2025-05-17", "path": "d", "rows": 3,
         "counts": {"reason": {"fetch:http_4xx": 2, "extract:not_an_article": 1},
                    "host": {"b.example": 2, "c.example": 1}},
         "failed": [["https://b.example/gone", "fetch", "http_4xx"], ["https://b.example/old", "fetch", "http_4xx"],
                    ["https://c.example/menu", "extract", "not_an_article"]]},
        {"table": "_skipped", "rows": 4},
    ]
    return sink.merge_manifest(records)


def full_report():
    feeds = [FeedRequest(url="https://a.example/rss", tags=("eu", "wire")),
             FeedRequest(url="https://b.example/rss", tags=("wire",), topic="sports"),
             FeedRequest(url="https://dead.example/rss")]
    return report.build(manifest(), run_id="20250517T090000Z-abc123", output="/data/out", elapsed=8.0,
                        runner="FnApiRunner", started_at=T0, feeds=feeds,
                        inputs={"feeds": 3, "pages": 0, "html_dir": None, "warc": None})


def test_percentiles_nearest_rank():
    assert report.percentiles({"10": 1, "20": 1, "30": 1, "40": 1}) == {"p50": 20.0, "p90": 40.0, "p99": 40.0}
    assert report.percentiles({"5": 98, "500": 2}) == {"p50": 5.0, "p90": 5.0, "p99": 500.0}
    assert report.percentiles({}) == {}


def test_freshness_buckets_keep_percentiles_close():
    lags = [37, 145, 999, 3725, 86399, 200_000, 1_234_567]
    for lag in lags:
        bucket = sink.freshness_bucket(lag)
        assert abs(bucket - lag) <= 0.005 * lag, (lag, bucket)
    assert sink.freshness_bucket(-30) == 0


def test_build_report_figures():
    fig = full_report()["figures"]
    assert fig["articles"] == 4 and fig["duplicates"] == 2 and fig["dead_letters"] == 3
    assert fig["skipped_already_written"] == 4 and fig["articles_per_second"] == 0.5
    assert fig["articles_per_topic_date"] == [
        {"topic": "politics", "date": "2025-05-15", "articles": 3},
        {"topic": "sports", "date": "2025-05-16", "articles": 1}]
    assert fig["dead_letters_by_reason"] == {"fetch:http_4xx": 2, "extract:not_an_article": 1}
    assert fig["top_entities"][0] == {"text": "Vladimir Putin", "label": "PERSON", "mentions": 6}
    assert fig["top_sources"] == [{"source": "a.example", "articles": 3, "dead_letters": 0},
                                  {"source": "b.example", "articles": 1, "dead_letters": 2},
                                  {"source": "c.example", "articles": 0, "dead_letters": 1}]
    assert [(f["url"], f["articles"]) for f in fig["feeds"]] == [
        ("https://a.example/rss", 2), ("https://b.example/rss", 1), ("https://dead.example/rss", 0)]
    assert fig["articles_per_tag"] == {"wire": 3, "eu": 2}
    assert fig["freshness_seconds"] == {"p50": 1200.0, "p90": 86000.0, "p99": 86000.0,
                                        "articles_with_dates": 4}


def test_html_is_self_contained_and_escaped():
    page = report.render_html(full_report())
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4  # feeds are a table
    assert "<script" not in page.lower() and EVIL not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    # nothing to fetch: no element that loads anything, no src/href attribute, no url(), no @import
    tags, attributes = _markup(page)
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "use", "audio", "video"}
    assert not attributes & {"src", "href", "xlink:href", "srcset", "action", "data"}
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page
    for text in ("Articles per topic per day", "Dead letters by reason", "Top entities", "Per source",
                 "fetch:http_4xx", "Vladimir Putin (PERSON)", "a.example", "p50", "20 min"):
        assert text in page, text


def _markup(page):
    """Tag and attribute names actually in the markup (not in escaped text)."""
    from html.parser import HTMLParser
    tags, attributes = set(), set()

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            tags.add(tag)
            attributes.update(name for name, _ in attrs)

    Collect().feed(page)
    return tags, attributes


def test_html_for_an_empty_run():
    empty = report.build(sink.merge_manifest([]), run_id="r", output="o", elapsed=1.0, runner="FnApiRunner",
                         started_at=T0)
    page = report.render_html(empty)
    assert "No articles written in this run." in page and "<svg" not in page


def test_write_report_files(tmp_path):
    out = str(tmp_path / "out")
    written = report.write(out, "20250517T090000Z-abc123", full_report())
    files = written["report_files"]
    assert files["json"].endswith("/_reports/run-20250517T090000Z-abc123.json")
    assert files["html"].endswith("/_reports/run-20250517T090000Z-abc123.html")
    data = json.loads(open(files["json"]).read())
    assert data["figures"]["articles"] == 4 and data["report_files"] == files
    assert open(files["html"]).read() == report.render_html(written)
    assert sorted(p.name for p in (tmp_path / "out" / "_reports").iterdir()) == [
        "run-20250517T090000Z-abc123.html", "run-20250517T090000Z-abc123.json"]  # no temp files left


def test_summary_text():
    text = summary.render(dict(full_report(), report_files={
        "html": "/data/out/_reports/r.html", "json": "/data/out/_reports/r.json"}))
    for line in ("Articles written: 4", "politics  2025-05-15", "Duplicates recorded: 2 (near 1, url 1)",
                 "Dead letters: 3", "fetch:http_4xx", "Already in the output from earlier runs (skipped): 4",
                 "Top entities: Vladimir Putin (PERSON) 6", "Top sources: a.example 3, b.example 1",
                 "Articles per tag: wire 3, eu 2",
                 "Freshness (fetched - published): p50 20 min, p90 23.9 h, p99 23.9 h over 4 dated articles",
                 "Elapsed: 8.0 s, 0.5 articles/s", "Report: /data/out/_reports/r.html"):
        assert line in text, line
    assert text.count("Top entities:") == 1


def test_summary_of_a_bare_manifest_still_renders():
    text = summary.render(dict(manifest(), run_id="x", elapsed_seconds=2.0))
    assert "Articles written: 4" in text and "Top entities: Vladimir Putin (PERSON) 6" in text


# --------------------------------------------------------------------------- progress

def test_progress_counts_from_a_pipeline(tmp_path):
    directory = str(tmp_path / "progress")
    with TestPipeline(runner="FnApiRunner") as p:
        items = p | beam.Create(list(range(25)))
        progress.attach(directory, fetched=items, errors=items | beam.Filter(lambda i: i % 5 == 0),
                        written=[p | "Manifest" >> beam.Create([
                            {"table": "articles", "rows": 7}, {"table": "articles", "rows": 3},
                            {"table": "index", "rows": 99}])])
    counts = progress.read_counts(directory)
    assert counts["fetched"] == 25 and counts["errors"] == 5 and counts["written_articles"] == 10
    assert "written_index" not in counts


def test_progress_line_format():
    line = progress.format_line({"feeds_read": 2, "entries": 31, "fetched": 20, "read": 4, "extracted": 18,
                                 "written_articles": 15, "errors": 3}, elapsed=12.0, feeds_total=3)
    assert line == ("[00:12] feeds 2/3 · entries 31 · fetched 20 · read 4 · extracted 18 · written 15 · "
                    "errors 3 · 2.0 pages/s")
    assert progress.format_line({}, elapsed=3725.0).startswith("[1:02:05] fetched 0")


def test_reporter_redraws_one_line_on_a_terminal(tmp_path):
    directory = str(tmp_path)
    progress.bump(directory, "fetched", 3)
    progress._flush(directory, force=True)
    stream = io.StringIO()
    with progress.ProgressReporter(directory, stream=stream, interval=0.05, tty=True):
        time.sleep(0.3)
    out = stream.getvalue()
    assert out.count("\r\x1b[K") >= 3 and out.endswith("\n") and out.count("\n") == 1
    assert "fetched 3" in out


def test_reporter_logs_plain_lines_otherwise(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="newsbeam.progress"):
        with progress.ProgressReporter(str(tmp_path), stream=io.StringIO(), interval=0.05, tty=False) as rep:
            time.sleep(0.2)
    records = [r for r in caplog.records if r.name == "newsbeam.progress"]
    assert len(records) >= 2 and rep.lines_shown == len(records)
    assert "\r" not in records[0].getMessage() and "elapsed_seconds" in records[-1].progress


def test_quiet_or_zero_interval_or_remote_runner_means_no_progress():
    assert progress.wanted(False, None, True)
    assert not progress.wanted(True, None, True)
    assert not progress.wanted(False, 0, True)
    assert not progress.wanted(False, None, False)


def test_json_log_format():
    stream = io.StringIO()
    try:
        progress.configure_logging("INFO", "json", stream=stream)
        logging.getLogger("newsbeam.test").info("hello %s", "world", extra={"progress": {"fetched": 2}})
        logging.getLogger("apache_beam").info("hidden: third-party INFO stays out")
    finally:
        progress.configure_logging("WARNING", "text")
    [line] = stream.getvalue().splitlines()
    data = json.loads(line)
    assert data["message"] == "hello world" and data["level"] == "INFO" and data["logger"] == "newsbeam.test"
    assert data["progress"] == {"fetched": 2} and data["time"].endswith("+00:00")


def test_quiet_logging_keeps_warnings_only():
    stream = io.StringIO()
    try:
        progress.configure_logging(None, "text", quiet=True, stream=stream)
        logging.getLogger("newsbeam").info("not shown")
        logging.getLogger("newsbeam").warning("shown")
    finally:
        progress.configure_logging("WARNING", "text")
    assert "not shown" not in stream.getvalue() and "WARNING newsbeam: shown" in stream.getvalue()


def test_axis_ticks_are_whole_numbers():
    assert report.integer_ticks(10) == [0, 5, 10]
    assert report.integer_ticks(3) == [0, 1, 2, 3]
    assert report.integer_ticks(7) == [0, 2, 4, 6, 8]
    assert report.integer_ticks(1234) == [0, 500, 1000, 1500]
    for value in range(1, 300):
        ticks = report.integer_ticks(value)
        assert ticks[-1] >= value and len(ticks) <= 5 and all(isinstance(t, int) for t in ticks)


def test_html_dates_keep_their_year_feeds_show_in_full_and_failed_urls_are_listed():
    full = full_report()
    full["figures"]["feeds"][0]["url"] = "http://127.0.0.1:8765/feeds/a-rather-long-feed-name/econotimes.xml"
    page = report.render_html(full)
    axis = re.findall(r'class="axis" text-anchor="middle">([^<]+)<', page)
    assert axis == ["2025-05-15", "2025-05-16"]
    assert not re.search(r'class="axis"[^>]*>\d+\.\d+<', page)  # no 2.5 articles
    assert ">http://127.0.0.1:8765/feeds/a-rather-long-feed-name/econotimes.xml<" in page
    assert "Failed URLs (first 3 of 3)" in page
    for url, reason in (("https://b.example/gone", "http_4xx"), ("https://c.example/menu", "not_an_article")):
        assert f">{url}<" in page and f">{reason}<" in page
    text = summary.render(full)
    assert "Failed URLs (first 3 of 3" in text and "https://c.example/menu  extract:not_an_article" in text


def test_failed_urls_keep_the_first_100_in_order():
    records = [{"table": "dead_letters", "partition": "date=2025-05-17", "path": f"d{k}", "rows": 80,
                "counts": {}, "failed": [[f"https://x.example/{k}/{i:03d}", "fetch", "timeout"] for i in range(80)]}
               for k in (1, 0)]
    merged = sink.merge_manifest(records)
    assert len(merged["failed_urls"]) == 100 and merged["failed_urls"] == sorted(merged["failed_urls"])
    assert merged["failed_urls"][0][0] == "https://x.example/0/000"


def test_report_says_which_languages_were_tagged():
    """Top entities come only from languages with a model; the report and summary say which."""
    import dataclasses
    from schemas.arrow import article_to_row
    from schemas.records import Entity
    from tests.fixtures.write_schema_fixture import ARTICLE
    rows = [article_to_row(dataclasses.replace(ARTICLE, language=lang, entities=ents, entities_model=model))
            for lang, ents, model in (("en", (Entity("Jane Doe", "PERSON", 2),), "en-model"),
                                      ("en", (), "en-model"), ("de", (), None), ("ja", (), None), ("de", (), None))]
    manifest = sink.merge_manifest([{"table": "articles", "partition": "topic=politics/date=2025-05-14",
                                     "path": "a", "rows": len(rows), "counts": sink._counts("articles", rows)}])
    built = report.build(manifest, run_id="r", output="/o", elapsed=1.0, runner="FnApiRunner", started_at=T0)
    fig = built["figures"]
    assert fig["entities_languages"] == {"tagged": {"en": 2}, "not_tagged": {"de": 2, "ja": 1}}
    assert fig["top_entities"] == [{"text": "Jane Doe", "label": "PERSON", "mentions": 2}]
    line = "Entities from articles in: en 2; no model for: de 2, ja 1"
    assert line in summary.render(built) and line in report.render_html(built)
