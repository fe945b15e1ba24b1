"""Streaming mode parts: back-off, seen-set, windows, late data and dedup across
windows (TestStream on the BundleBasedDirectRunner, the only local runner that
runs it), and the tick source's early stop (FnApiRunner)."""
from __future__ import annotations

import datetime as dt
import glob
import os
import threading
import time

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from schemas.records import Article, DeadLetter
from transforms import dedup, poll, sink, urls, window_sink
from transforms.poll import Tick

T0 = 1_800_000_000.0  # a window boundary for 2 s windows
UTC = dt.timezone.utc


def at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, UTC)


def art(url: str, fetched: float, body: str = "word " * 80) -> Article:
    canonical = urls.normalize_url(url)
    return Article(article_id=urls.article_id(canonical), url=url, canonical_url=canonical,
                   source_domain=urls.domain_of(url), feed_url=None, title="t", authors=(),
                   published_at=at(fetched - 5), modified_at=None, date_source="meta",
                   fetched_at=at(fetched), language="en", topic="world", topic_source="section",
                   section=None, body=body, word_count=len(body.split()), content_hash=f"h-{url}")


def streaming_pipeline():
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    return TestPipeline(runner="BundleBasedDirectRunner", options=options)


# --------------------------------------------------------------------------- pure parts

def test_back_off_for_unchanged_and_failing_feeds():
    assert poll.next_interval(60, 0, 0) == 60
    assert poll.next_interval(60, 2, 0) == 60 * 1.5 ** 2
    assert poll.next_interval(60, 50, 0) == 60 * poll.MAX_UNCHANGED_FACTOR
    assert poll.next_interval(60, 0, 3) == 60 * 8
    assert poll.next_interval(60, 5, 30) == 60 * poll.MAX_BACKOFF
    state = poll.FeedPollState()
    for i in range(3):
        poll.after_poll(state, 100.0 + i, 10, failed=True, new_entries=0)
    assert state.failures == 3 and state.next_due == 102.0 + 80
    poll.after_poll(state, 200.0, 10, failed=False, new_entries=2)
    assert (state.failures, state.unchanged, state.next_due) == (0, 0, 210.0)


def test_seen_set_ttl_and_bound():
    seen = poll.SeenSet({}, ttl=100, max_size=3)
    assert seen.add_new(["a", "b", "a"], 0) == ["a", "b"]
    assert seen.add_new(["b", "c"], 50) == ["c"]
    seen.prune(120)  # a and b are older than the TTL
    assert sorted(seen.entries) == ["c"]
    seen.add_new(["d", "e", "f"], 130)
    seen.prune(130)
    assert sorted(seen.entries) == ["d", "e", "f"]  # the oldest beyond max_size went


def test_seen_set_is_seeded_from_written_data(tmp_path):
    out = str(tmp_path)
    now = time.time()
    fresh = art("https://news.example/a?utm_source=x", now - 10 - T0)
    old = art("https://news.example/old", now - 30 * 86400 - T0)
    window_sink.write_window(out, "articles", 0, 60, 0, sink.article_partition(fresh),
                             [window_sink._CONVERT["articles"](fresh)], 100)
    window_sink.write_window(out, "articles", 0, 60, 0, sink.article_partition(old),
                             [window_sink._CONVERT["articles"](old)], 100)
    letter = DeadLetter(url="https://news.example/gone", stage="fetch", reason="http_4xx", detail="",
                        at=dt.datetime.fromtimestamp(now, UTC))
    window_sink.write_window(out, "dead_letters", 0, 60, 0, sink.partition_of("dead_letters", letter),
                             [window_sink._CONVERT["dead_letters"](letter)], 100)
    seen = poll.seed_seen(out, ttl=7 * 86400, now=now)
    assert poll.entry_key("https://news.example/a") in seen
    assert poll.entry_key("https://news.example/gone") in seen
    assert poll.entry_key("https://news.example/old") not in seen  # beyond the TTL


def test_window_names_and_percentiles():
    assert window_sink.window_start(T0 + 3.9, 2) == T0 + 2
    name = window_sink.window_file_name(T0 + 2, 2, 0)
    assert name == "part-w20270115T080002Z-2s-s00.parquet", name
    assert window_sink.window_file_name(T0, 60, 3, late_hash="abc").endswith("-s03-late-abc.parquet")
    assert window_sink.percentile([], 50) is None
    assert window_sink.percentile([5, 1, 3, 2, 4], 50) == 3
    assert window_sink.percentile(list(range(1, 101)), 95) == 95


def test_in_process_buffer_refuses_rows_of_closed_windows():
    buffer = window_sink.WindowBuffer(2)
    assert buffer.add("articles", T0, "p", {"article_id": "a"})
    assert buffer.add("articles", T0 + 2, "p", {"article_id": "b"})
    closed = buffer.close(T0 + 2)
    assert [(t, s, [r["article_id"] for r in rows]) for t, s, _p, rows in closed] == [("articles", T0, ["a"])]
    assert not buffer.add("articles", T0, "p", {"article_id": "late"})  # written as a late file instead


# --------------------------------------------------------------------------- TestStream

def _split(elements):
    records = elements | "Records" >> beam.Filter(lambda e: not isinstance(e, Tick))
    ticks = elements | "Ticks" >> beam.Filter(lambda e: isinstance(e, Tick))
    return records, ticks


def _files(out):
    return sorted(os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "**", "*.parquet"),
                                                            recursive=True))


def test_windowed_writer_with_late_data_and_final_flush(tmp_path):
    """Rows are written when a tick passes their window's end (+ grace); a row
    for a window already written is a late file beside it, not lost and not
    overwriting; the final tick flushes the open window."""
    out = str(tmp_path)
    a1, a2, a3 = art("https://n.example/1", 0.5), art("https://n.example/2", 1.5), art("https://n.example/3", 2.5)
    late = art("https://n.example/late", 1.0)
    stream = (TestStream()
              .advance_watermark_to(T0)
              .add_elements([TimestampedValue(a1, T0 + 0.5), TimestampedValue(a2, T0 + 1.5)])
              .add_elements([TimestampedValue(a3, T0 + 2.5)])
              .add_elements([TimestampedValue(Tick(T0 + 3.0, 3), T0 + 3)])  # closes [0, 2)
              .add_elements([TimestampedValue(late, T0 + 3.1)])
              .add_elements([TimestampedValue(Tick(T0 + 4.0, 4, final=True), T0 + 4)])
              .advance_watermark_to_infinity())
    with streaming_pipeline() as p:
        records, ticks = _split(p | stream)
        manifest = (records, ticks) | window_sink.WriteWindowed(out, "articles", 2, grace=0.5)
        files = manifest | beam.Filter(lambda r: r["kind"] == "file") | beam.Map(
            lambda r: (os.path.basename(r["path"]).split("-late-")[0], r["rows"], r["late"]))
        assert_that(files, equal_to([
            ("part-w20270115T080000Z-2s-s00.parquet", 2, False),
            ("part-w20270115T080000Z-2s-s00", 1, True),
            ("part-w20270115T080002Z-2s-s00.parquet", 1, False)]))
    written = _files(out)
    assert len(written) == 3 and sum(1 for f in written if "-late-" in f) == 1, written
    urls_written = sorted(r["url"] for f in written for r in pq.read_table(os.path.join(out, f)).to_pylist())
    assert urls_written == sorted(a.url for a in (a1, a2, a3, late))


def test_window_reports_count_each_window_once(tmp_path):
    out = str(tmp_path)
    arts = [art(f"https://n.example/{i}", 0.2 + i) for i in range(5)]  # windows 0, 0, 2, 2, 4
    stream = TestStream().advance_watermark_to(T0)
    for i, a in enumerate(arts):
        stream = stream.add_elements([TimestampedValue(a, T0 + 0.2 + i)])
        stream = stream.add_elements([TimestampedValue(Tick(T0 + 0.3 + i, i), T0 + 0.3 + i)])
    stream = stream.add_elements([TimestampedValue(Tick(T0 + 6, 9, final=True), T0 + 6)]).advance_watermark_to_infinity()
    with streaming_pipeline() as p:
        records, ticks = _split(p | stream)
        manifest = (records, ticks) | window_sink.WriteWindowed(out, "articles", 2)
        summaries = manifest | window_sink.ReportWindows(out, 2, tables=["articles"])
        assert_that(summaries | beam.Map(lambda s: (s["window_start"][11:19], s["articles"], s["freshness_median_s"])),
                    equal_to([("08:00:00", 2, 5.0), ("08:00:02", 2, 5.0), ("08:00:04", 1, 5.0)]))
    reports = glob.glob(os.path.join(out, "_reports", "windows", "window-*.json"))
    assert len(reports) == 3


def test_dedup_by_canonical_url_across_windows():
    """The same story (same canonical URL) fetched again minutes later, in a
    later window, is a duplicate of the first copy, not a second article."""
    first = art("https://n.example/story?utm_source=rss", 1)
    again = art("https://n.example/story", 125)
    other = art("https://n.example/other", 130)
    stream = (TestStream().advance_watermark_to(T0)
              .add_elements([TimestampedValue(first, T0 + 1)])
              .advance_watermark_to(T0 + 120)
              .add_elements([TimestampedValue(again, T0 + 125), TimestampedValue(other, T0 + 130)])
              .advance_watermark_to_infinity())
    with streaming_pipeline() as p:
        windowed = p | stream | beam.WindowInto(beam.window.FixedWindows(60))
        out = windowed | dedup.StreamingDedupById()
        assert_that(out.articles | "A" >> beam.Map(lambda a: a.url), equal_to([first.url, other.url]),
                    label="articles")
        assert_that(out.duplicates | "D" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(again.url, "url", first.article_id)]), label="dups")


# --------------------------------------------------------------------------- tick source

_SEEN_TICKS = []  # the FnApiRunner runs in this process (assert_that needs a GroupByKey: bounded only)


def _keep(tick):
    _SEEN_TICKS.append(tick)


def test_ticks_stop_early_on_request_and_end_with_a_final_tick():
    poll.clear_stop()
    _SEEN_TICKS.clear()
    start = time.time()
    timer = threading.Timer(2.5, poll.request_stop)
    timer.start()
    try:
        with TestPipeline(runner="FnApiRunner") as p:
            _ = p | poll.PollTicks(60, 0.5) | beam.Map(_keep)
    finally:
        timer.cancel()
        poll.clear_stop()
    assert time.time() - start < 15  # not the 60 s it was built for
    finals = [t.final for t in _SEEN_TICKS]
    assert finals[-1] is True and finals.count(True) == 1, _SEEN_TICKS
    assert 1 <= finals.count(False) <= 7, _SEEN_TICKS
    times = [t.time for t in _SEEN_TICKS]
    assert times == sorted(times)
