"""Streaming dedup by key: the first article of a canonical URL (``article_id``) or
of a body (``content_hash``) is kept, later ones become ``_duplicates`` rows.

Keyed state in the global window, no timers and no GroupByKey (the local runner
holds a GroupByKey's input until an unbounded source ends). Batch's counterpart
is ``dedup.DedupArticles`` (its representative is the earliest published, not
the first seen); the streaming near-duplicate step is ``transforms/near_stream.py``.
"""
from __future__ import annotations

import datetime as dt
from typing import Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas.records import Article, Duplicate
from transforms.dedup import DUPLICATES, Sketched, duplicate_row, duplicates_of, stream_order


# Streaming semantics differ from batch on purpose: an article already written
# cannot be un-written, so the representative is the *first seen* copy (the
# earliest in (event time, representative order) among those still in state)
# and a later copy is recorded in ``_duplicates`` against it. Cluster sizes of
# written representatives are not updated afterwards (``pipeline.inspect``'s
# ``clusters`` view counts later copies). The transform is
# ``transforms.near_stream.StreamingNearDedup`` (re-exported by dedup): band
# buckets hold 12-byte ids, each signature is stored once in an id-sharded
# store that verifies, and the state is restored from ``DIR/_state/signatures``
# on restart. The first design kept the whole signature in each of a story's
# 42 buckets: 20.6 KB of state per story kept at 100,000 stories, against
# ~0.9 KB now (``python -m benchmarks.dedup --streaming-state 100000``).


class _EventOrderInBundleFn(beam.DoFn):
    """Re-emits each bundle in event-time order. Copies that arrive together
    (one polling round: several feeds carrying the same wire story) then reach
    the band buckets earliest first, so the later copy finds the earlier one
    instead of both becoming representatives (measured on 422 generated
    articles, 141 true stories, all in one go on the FnApiRunner: 196 stories
    written without it with 16 shards per band, 147 with it)."""

    def start_bundle(self):
        self._buffer = []

    def process(self, s: Sketched, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam):
        self._buffer.append((stream_order(s.article, int(timestamp.micros)), s, timestamp, window))

    def finish_bundle(self):
        from apache_beam.utils.windowed_value import WindowedValue
        buffered, self._buffer = sorted(self._buffer, key=lambda b: b[0]), []
        for _order, s, timestamp, window in buffered:
            yield WindowedValue(s, timestamp, [window])


class _FirstByIdFn(beam.DoFn):
    """Keyed by ``article_id``: the first copy passes, later ones are ``url`` duplicates."""
    SEEN = beam.transforms.userstate.ReadModifyWriteStateSpec("first", beam.coders.PickleCoder())
    KIND = "url"

    def process(self, element, first=beam.DoFn.StateParam(SEEN)):
        _key, article = element
        kept = first.read()
        if kept is None:
            first.write(article.article_id)
            yield article
            return
        target = article.article_id if self.KIND == "url" else kept
        now = dt.datetime.now(dt.timezone.utc)
        Metrics.counter("dedup", f"{self.KIND}_duplicates").inc()
        url = (article.input_url or article.url) if self.KIND == "url" else article.url
        yield pvalue.TaggedOutput(DUPLICATES, duplicate_row(url, article.article_id, target, self.KIND, 1.0, now))
        for dup in duplicates_of(article, target, now):
            yield pvalue.TaggedOutput(DUPLICATES, dup)


class _FirstByContentFn(_FirstByIdFn):
    """Keyed by ``content_hash``: later copies are ``exact`` duplicates of the first article."""
    KIND = "exact"


class StreamingDedupById(beam.PTransform):
    """Unbounded Articles -> {"articles": the first copy of each canonical URL
    (``article_id``), "duplicates": later copies (kind ``url``)}. Stateful per
    id, no timers and no GroupByKey (which the local runner would hold until an
    unbounded source ends); the global window, like ``StreamingNearDedup``."""

    def expand(self, articles):
        return (articles
                | "GlobalWindow" >> beam.WindowInto(beam.window.GlobalWindows())
                | "KeyById" >> beam.Map(lambda a: (a.article_id, a)).with_output_types(Tuple[str, Article])
                | "FirstById" >> beam.ParDo(_FirstByIdFn()).with_outputs(DUPLICATES, main="articles"))


class StreamingDedupByContent(beam.PTransform):
    """Unbounded Articles -> {"articles": the first article of each ``content_hash``,
    "duplicates": later ones (kind ``exact``)}: the streaming twin of batch's
    ``ByContent`` step, independent of near-duplicate detection."""

    def expand(self, articles):
        return (articles
                | "GlobalWindow" >> beam.WindowInto(beam.window.GlobalWindows())
                | "KeyByContent" >> beam.Map(lambda a: (a.content_hash, a)).with_output_types(
                    Tuple[str, Article])
                | "FirstByContent" >> beam.ParDo(_FirstByContentFn()).with_outputs(
                    DUPLICATES, main="articles"))
