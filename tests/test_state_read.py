"""Earlier runs' ``_state`` is read bounded by what this run can match (issue 22, memory flat):
the reading steps emit only the entries this run's requests, articles or LSH buckets can
join, never the whole table; what they do emit still skips and dedups as before."""
import dataclasses

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas import arrow as arrow_schemas
from schemas.records import IndexEntry, PageRequest
from tests.test_dedup import NEAR_DUPS, T0, art, near_articles
from transforms import dedup, minhash, sink, urls
from transforms.minhash import NearDupConfig


def _write_state(output, table, records):
    sink.write_partition(str(output), table, "", arrow_schemas.rows_for(table, records))


def _entry(url, kind="article", article_id=None, content_hash=None):
    return IndexEntry(url=url, article_id=article_id or urls.article_id(urls.normalize_url(url)),
                      content_hash=content_hash, kind=kind, written_at=T0)


def _unrelated(n):
    """Entries of pages this run never sees (the bulk of a big output's index)."""
    return [_entry(f"https://old{i % 7}.example/story-{i}.html", content_hash=f"{i:064x}") for i in range(n)]


def test_previous_requests_read_only_this_runs_urls(tmp_path):
    seen = _entry("https://a.example/story.html")
    alias = _entry("https://b.example/wire.html", kind="url")
    _write_state(tmp_path, "index", _unrelated(3000) + [seen, alias])
    requests = [PageRequest(url="https://a.example/story.html?utm_source=x", origin="url"),  # same URL key
                PageRequest(url="https://b.example/wire.html", origin="url"),
                PageRequest(url="https://new.example/never-seen.html", origin="url")]
    with TestPipeline(runner="FnApiRunner") as p:
        read = p | beam.Create(requests) | dedup.ReadPreviousRequests(str(tmp_path))
        assert_that(read | beam.Map(lambda e: (e.url, e.kind)),
                    equal_to([(seen.url, "article"), (alias.url, "url")]))


def test_previous_articles_read_only_this_runs_ids_content_hashes_and_copy_urls(tmp_path):
    a, b = art("https://a.example/1.html", "one story"), art("https://b.example/2.html", "another story")
    same_id = _entry(a.url, content_hash="f" * 64)
    same_body = _entry("https://c.example/copy.html", content_hash=b.content_hash)
    recorded_copy = _entry(a.url, kind="exact")  # a copy recorded at one of this run's URLs
    other_copy = _entry("https://d.example/elsewhere.html", kind="near")
    _write_state(tmp_path, "index", _unrelated(3000) + [same_id, same_body, recorded_copy, other_copy])
    with TestPipeline(runner="FnApiRunner") as p:
        read = p | beam.Create([a, b]) | dedup.ReadPreviousArticles(str(tmp_path))
        assert_that(read | beam.Map(lambda e: (e.url, e.kind)),
                    equal_to([(a.url, "article"), (same_body.url, "article"), (a.url, "exact")]))


def _signatures(articles, config):
    hasher = minhash.MinHasher(config.num_perm, config.seed)
    return [dedup.signature_entry(dedup.sketch(a, hasher, config), config, T0) for a in articles]


def test_previous_signatures_read_only_in_this_runs_buckets(tmp_path):
    """Of a state of many stories, only the one this run's copies share buckets with
    crosses to the grouping; the copies are still found as copies of it."""
    config = NearDupConfig()
    articles = near_articles()
    story, *others = _signatures(articles, config)
    bulk = [dataclasses.replace(e, article_id=f"{i:032x}")
            for i, e in enumerate(_signatures([art(f"https://old.example/{i}.html", f"word{i} " * 80 + f"tail {i}")
                                               for i in range(40)], config) * 50)]
    _write_state(tmp_path, "signatures", bulk + [story])
    new = [dedup.sketch(a, minhash.MinHasher(config.num_perm, config.seed), config) for a in articles[1:4]]
    new_at = {}
    for s in new:
        for key, value in dedup._band_keys_new(s, config):
            new_at.setdefault(key, []).append(value)
    sketches = {s.article.article_id: (s.signature, s.size) for s in new}
    read = list(dedup.read_band_keys(str(tmp_path), set(new_at), config, new_at, sketches))
    assert read and {article_id for _key, (article_id, _new) in read} == {story.article_id}
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        out = p | beam.Create(articles[1:4]) | dedup.DedupArticles(prev, signatures_from=str(tmp_path))
        assert_that(out["articles"], equal_to([]), label="articles")
        assert_that(out["duplicates"] | beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to(NEAR_DUPS), label="dups")


def test_state_rows_are_read_a_batch_at_a_time(tmp_path):
    """An older file of one big row group is not turned into Python rows all at once."""
    _write_state(tmp_path, "index", _unrelated(3 * sink.STATE_BATCH_ROWS))
    rows = sink.iter_state_rows(str(tmp_path), "index",
                                keep=lambda batch: [batch.num_rows <= sink.STATE_BATCH_ROWS] * batch.num_rows)
    assert sum(1 for _ in rows) == 3 * sink.STATE_BATCH_ROWS
