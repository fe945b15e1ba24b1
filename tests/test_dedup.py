"""Deduplication transforms under TestPipeline, including determinism."""
import dataclasses
import datetime as dt
import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article, IndexEntry, PageRequest
from transforms import dedup, urls
from transforms.extract import content_hash

T0 = dt.datetime(2025, 5, 15, 8, 0, tzinfo=dt.timezone.utc)


def art(url, body, published=T0, canonical=None):
    canonical = canonical or urls.normalize_url(url)
    return Article(article_id=urls.article_id(canonical), url=url, canonical_url=canonical,
                   source_domain=urls.domain_of(canonical), feed_url=None, title="t", authors=(),
                   published_at=published, modified_at=None, date_source=None, fetched_at=T0,
                   language="en", topic="other", topic_source=None, section=None, body=body,
                   word_count=len(body.split()), content_hash=content_hash(body),
                   cluster_sources=(urls.domain_of(canonical),))


STORY = "The port strike spread to three more terminals on Thursday, union leaders said."
ARTICLES = [
    art("https://a.example/story.html", STORY, published=T0 + dt.timedelta(hours=1)),
    art("https://b.example/wire/story.html", STORY.upper()),  # exact copy (case-insensitive), earlier
    art("https://c.example/copy.html", STORY + "!!", published=T0 + dt.timedelta(hours=2)),
    art("https://a.example/story.html?ref=amp", STORY, published=T0 + dt.timedelta(hours=1),
        canonical="https://a.example/story.html"),
    art("https://d.example/other.html", "A different story about football."),
]


def run_dedup(articles, previous=()):
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(list(previous), reshuffle=False)
        out = p | beam.Create(articles) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | "Ids" >> beam.Map(lambda a: (a.url, a.cluster_size,
                                                                    a.cluster_sources)),
                    equal_to(EXPECTED_ARTICLES), label="articles")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d.url, d.kind,
                                                                      d.duplicate_of)),
                    equal_to(EXPECTED_DUPS), label="dups")


B_ID = urls.article_id("https://b.example/wire/story.html")
EXPECTED_ARTICLES = [
    ("https://b.example/wire/story.html", 4, ("a.example", "b.example", "c.example")),
    ("https://d.example/other.html", 1, ("d.example",)),
]
EXPECTED_DUPS = [
    ("https://a.example/story.html", "exact", B_ID),
    ("https://a.example/story.html?ref=amp", "url", B_ID),
    ("https://c.example/copy.html", "exact", B_ID),
]


def test_clusters_and_representative():
    run_dedup(ARTICLES)


def test_order_does_not_matter():
    shuffled = ARTICLES[:]
    random.Random(7).shuffle(shuffled)
    run_dedup(list(reversed(shuffled)))


def test_representative_order_is_total():
    a = art("https://x.example/1", STORY)
    b = art("https://x.example/2", STORY + " More words here.")
    c = art("https://x.example/0", STORY, published=None)
    assert dedup.choose([a, b, c])[0] == b  # same date: longest body wins
    assert dedup.choose([c, a])[0] == a  # undated loses to dated


def test_previous_runs_are_respected():
    previous = [IndexEntry(url="https://a.example/story.html", article_id=ARTICLES[0].article_id,
                           content_hash=ARTICLES[0].content_hash, kind="article", written_at=T0)]
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(previous)
        out = p | beam.Create([ARTICLES[0], ARTICLES[2], ARTICLES[4]]) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | beam.Map(lambda a: a.url), equal_to(["https://d.example/other.html"]))
        assert_that(out["skipped"], equal_to(["https://a.example/story.html"]), label="skipped")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda d: (d.url, d.duplicate_of)),
                    equal_to([("https://c.example/copy.html", ARTICLES[0].article_id)]), label="dups")


def test_request_dedup_folds_tracking_variants():
    reqs = [PageRequest(url="https://a.example/s.html?utm_source=rss", origin="feed", feed_url="f1"),
            PageRequest(url="https://a.example/s.html", origin="feed", feed_url="f2",
                        entry_title="Title"),
            PageRequest(url="https://a.example/s.html", origin="feed", feed_url="f3"),
            PageRequest(url="https://a.example/old.html", origin="url")]
    previous = [IndexEntry(url="https://a.example/old.html", article_id="x", content_hash=None,
                           kind="article", written_at=T0)]
    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create(reqs)
               | dedup.DedupRequests(p | "Prev" >> beam.Create(previous)))
        assert_that(out.requests | beam.Map(lambda r: (r.url, r.feed_url, r.aliases)),
                    equal_to([("https://a.example/s.html", "f2", ("https://a.example/s.html?utm_source=rss",))]))
        assert_that(out.skipped, equal_to(["https://a.example/old.html"]), label="skipped")
