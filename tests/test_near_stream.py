"""Streaming near-duplicate dedup with small state (``transforms.near_stream``): the scenarios
of the first design's tests (TestStream on the BundleBasedDirectRunner, PeriodicImpulse on the
FnApiRunner), the pure bucket and store steps, and the state size."""
import datetime as dt

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue

from transforms import dedup, minhash, near_stream, urls
from transforms.minhash import NearDupConfig
from tests.test_dedup import CUP, SANTOS, T0, _body, art

HOUR = dt.timedelta(hours=1)


def ts(when: dt.datetime) -> float:
    return when.timestamp()


def test_streaming_near_dedup_across_windows_and_ttl():
    santos = [_body(r) for r in SANTOS]
    original = art("https://econotimes.example/santos.html", santos[0])
    ledger = art("https://ledger.example/santos.html", santos[1], published=T0 + HOUR)
    techwire = art("https://techwire.example/santos.html", santos[2], published=T0 + 30 * HOUR)
    exact = art("https://mirror.example/santos.html", santos[0], published=T0 + 31 * HOUR)
    cup_a = art("https://ledger.example/cup.html", _body(CUP[0]), published=T0 + 2 * HOUR)
    cup_b = art("https://econotimes.example/cup.html", _body(CUP[1]), published=T0 + 2 * HOUR)
    # Every copy is registered (a later copy finds the story itself, not a copy), so the
    # story stays matchable for 7 days after its *last* copy (T0 + 31 h).
    after_ttl = art("https://late.example/santos.html", santos[1], published=T0 + 31 * HOUR + 8 * 24 * HOUR)
    stream = (TestStream()
              .advance_watermark_to(ts(T0) - 60)
              .add_elements([TimestampedValue(original, ts(T0)), TimestampedValue(cup_a, ts(cup_a.published_at))])
              .advance_watermark_to(ts(T0 + HOUR))
              .add_elements([TimestampedValue(ledger, ts(ledger.published_at)),
                             TimestampedValue(cup_b, ts(cup_b.published_at))])
              .advance_watermark_to(ts(T0 + 24 * HOUR))           # later windows
              .add_elements([TimestampedValue(techwire, ts(techwire.published_at))])
              .advance_watermark_to(ts(T0 + 31 * HOUR))
              .add_elements([TimestampedValue(exact, ts(exact.published_at))])
              .advance_watermark_to(ts(after_ttl.published_at))   # beyond the 7-day TTL
              .add_elements([TimestampedValue(after_ttl, ts(after_ttl.published_at))])
              .advance_watermark_to_infinity())
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    original_id = original.article_id
    with TestPipeline(runner="BundleBasedDirectRunner", options=options) as p:
        out = (p | stream
               | "Hourly" >> beam.WindowInto(FixedWindows(3600))
               | near_stream.StreamingNearDedup(NearDupConfig(), ttl=dt.timedelta(days=7), shards=8))
        assert_that(out.articles | "Urls" >> beam.Map(lambda a: a.url),
                    equal_to([original.url, cup_a.url, cup_b.url, after_ttl.url]), label="articles")
        assert_that(out.duplicates | "Dups" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(ledger.url, "near", original_id), (techwire.url, "near", original_id),
                              (exact.url, "exact", original_id)]), label="dups")


def _record(doc_id, text, event_s, config, hasher):
    sh = minhash.shingles(text, config.shingle)
    return near_stream.Record(near_stream.id64(doc_id), doc_id, event_s * 1_000_000, -len(text), len(sh),
                              near_stream.content_prefix(doc_id), hasher.signature(sh).tobytes())


def test_bucket_state_is_bounded_by_ttl_and_cap_without_timers():
    day = 86_400
    state = near_stream.Buckets()
    for i in range(200):  # 200 stories, one per day, all in one bucket key (3 buckets)
        state, candidates = near_stream.bucket_step(state, i % 3 << 16, i + 1, i * day, 7 * day, 4)
        assert len(state.ids) <= 9  # at most the last 7-8 days
        assert all(c != i + 1 for c, _ in candidates)
    assert sorted(int(x) for x in state.ids) == list(range(193, 201))
    state = near_stream.Buckets()
    for i in range(20):  # cap: one bucket keeps the latest 4
        state, candidates = near_stream.bucket_step(state, 5 << 16, 100 + i, 1_000 + i, 7 * day, 4)
        assert [c for c, _ in candidates] == list(range(100 + max(0, i - 4), 100 + i))
    assert [int(x) for x in state.ids] == [116, 117, 118, 119]


def test_store_answers_an_ask_that_arrived_before_the_record_and_expires_what_is_gone():
    config = NearDupConfig()
    hasher = minhash.MinHasher(config.num_perm, config.seed)
    santos = [_body(r) for r in SANTOS]
    story = _record("story", santos[0], 1_000_000, config, hasher)
    copy = _record("copy", santos[1], 1_000_000 + 60, config, hasher)
    store = near_stream.Store()
    ttl = 7 * 86_400
    ask = near_stream.Ask(story.ident, story.event_micros // 1_000_000 // 3600, copy)
    assert near_stream.store_ask(store, ask, ttl, config) == []  # waits for the story's record
    [(probe_id, answer)] = near_stream.store_register(store, story, ttl, config)
    assert probe_id == "copy" and answer.match[1] == "story" and answer.match[2] >= config.jaccard
    assert near_stream.Record.unpack(story.ident, store.records[story.ident]) == story
    # The story asking about the copy (later in event order): never a match.
    [(_, back)] = near_stream.store_ask(store, near_stream.Ask(copy.ident, 0, story), ttl, config)
    assert back.match is None
    # Ten days later the story is gone: an ask about it is answered at once, with no match.
    late = _record("late", santos[1], 1_000_000 + 10 * 86_400, config, hasher)
    near_stream.store_register(store, late, ttl, config)
    assert story.ident not in store.records
    [(_, gone)] = near_stream.store_ask(store, near_stream.Ask(story.ident, 1_000_000 // 3600, late), ttl, config)
    assert gone == near_stream.Answer(story.ident, None)


def test_state_per_article_kept_is_under_one_kilobyte():
    """2,000 distinct stories through the bucket and store steps, encoded with pickle as
    Beam's PickleCoder does (``python -m benchmarks.dedup --streaming-state 100000`` for the
    full measure)."""
    from benchmarks import dedup_state
    result = dedup_state.measure_compact(2_000, shards=4)  # fewer keys: their fixed cost amortised
    assert result["bytes_per_article"] <= 1024, result


def test_streaming_near_dedup_under_periodic_impulse_on_fnapirunner():
    """The combination the streaming mode polls with (PeriodicImpulse on the
    FnApiRunner), where event-time timers clear state after every polling round
    (apache/beam#35168): this design has no timers, so copies arriving in later
    rounds still find the story of the first round."""
    import time
    from apache_beam.transforms.periodicsequence import PeriodicImpulse
    santos = [_body(r) for r in SANTOS]
    rounds = [
        [art("https://econotimes.example/santos.html", santos[0]),
         art("https://ledger.example/cup.html", _body(CUP[0]), published=T0 + 2 * HOUR)],
        [art("https://ledger.example/santos.html", santos[1], published=T0 + HOUR)],
        [art("https://techwire.example/santos.html", santos[2], published=T0 + 3 * HOUR),
         art("https://econotimes.example/cup.html", _body(CUP[1]), published=T0 + 3 * HOUR)],
    ]
    start = time.time()

    def poll(tick):
        index = min(len(rounds) - 1, int(round(float(tick) - start)))
        for article in rounds[index] if index >= 0 else []:
            yield TimestampedValue(article, ts(article.published_at))

    original_id = urls.article_id("https://econotimes.example/santos.html")
    with TestPipeline(runner="FnApiRunner") as p:
        ticks = p | PeriodicImpulse(start_timestamp=start, stop_timestamp=start + len(rounds) - 0.5,
                                    fire_interval=1.0)
        out = ticks | "Poll" >> beam.FlatMap(poll) | near_stream.StreamingNearDedup(shards=4)
        assert_that(out.articles | "Urls" >> beam.Map(lambda a: a.url),
                    equal_to(["https://econotimes.example/santos.html", "https://ledger.example/cup.html",
                              "https://econotimes.example/cup.html"]), label="articles")
        assert_that(out.duplicates | "Dups" >> beam.Map(lambda d: (d.url, d.duplicate_of)),
                    equal_to([("https://ledger.example/santos.html", original_id),
                              ("https://techwire.example/santos.html", original_id)]), label="dups")


def test_copies_arriving_together_out_of_event_order():
    """One polling round delivers the later copy first: the earlier one is
    still the representative (bundles are replayed in event-time order)."""
    santos = [_body(r) for r in SANTOS]
    original = art("https://econotimes.example/santos.html", santos[0])
    copies = [art("https://techwire.example/santos.html", santos[2], published=T0 + HOUR),
              art("https://ledger.example/santos.html", santos[1], published=T0 + 2 * HOUR)]
    stream = (TestStream()
              .advance_watermark_to(ts(T0) - 60)
              .add_elements([TimestampedValue(a, ts(a.published_at)) for a in copies[::-1] + [original]])
              .advance_watermark_to_infinity())
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    with TestPipeline(runner="BundleBasedDirectRunner", options=options) as p:
        out = p | stream | near_stream.StreamingNearDedup(shards=4)
        assert_that(out.articles | "Urls" >> beam.Map(lambda a: a.url), equal_to([original.url]),
                    label="articles")
        assert_that(out.duplicates | "Dups" >> beam.Map(lambda d: (d.url, d.duplicate_of)),
                    equal_to([(c.url, original.article_id) for c in copies]), label="dups")


def test_an_ask_about_a_story_dropped_as_too_late_is_answered():
    """A record older than the store's TTL horizon is not kept; an ask about it must
    still be answered (else the asking article would wait forever: lost)."""
    config = NearDupConfig()
    hasher = minhash.MinHasher(config.num_perm, config.seed)
    ttl = 7 * 86_400
    store = near_stream.Store()
    fresh = _record("fresh", "fresh story " * 30, 10 * 86_400 + 1_800, config, hasher)  # horizon mid-hour
    near_stream.store_register(store, fresh, ttl, config)
    stale = _record("stale", "stale story " * 30, 10 * 86_400 + 1_800 - ttl - 60, config, hasher)
    assert near_stream.store_register(store, stale, ttl, config) == []
    assert stale.ident not in store.records
    ask = near_stream.Ask(stale.ident, stale.event_micros // 1_000_000 // 3600, fresh)
    assert near_stream.store_ask(store, ask, ttl, config) == [("fresh", near_stream.Answer(stale.ident, None))]
