"""Streaming near-duplicate dedup: TestStream across windows on the
BundleBasedDirectRunner (the only local runner that runs TestStream)."""
import datetime as dt

import apache_beam as beam
import numpy as np
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.test_stream import TestStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import FixedWindows, TimestampedValue

from transforms import dedup, minhash, urls
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
    after_ttl = art("https://late.example/santos.html", santos[1], published=T0 + 8 * 24 * HOUR)
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
              .advance_watermark_to(ts(T0 + 8 * 24 * HOUR))       # beyond the 7-day TTL
              .add_elements([TimestampedValue(after_ttl, ts(after_ttl.published_at))])
              .advance_watermark_to_infinity())
    options = PipelineOptions()
    options.view_as(StandardOptions).streaming = True
    original_id = original.article_id
    with TestPipeline(runner="BundleBasedDirectRunner", options=options) as p:
        out = (p | stream
               | "Hourly" >> beam.WindowInto(FixedWindows(3600))
               | dedup.StreamingNearDedup(NearDupConfig(), ttl=dt.timedelta(days=7), shards=8))
        assert_that(out.articles | "Urls" >> beam.Map(lambda a: a.url),
                    equal_to([original.url, cup_a.url, cup_b.url, after_ttl.url]), label="articles")
        assert_that(out.duplicates | "Dups" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(ledger.url, "near", original_id), (techwire.url, "near", original_id),
                              (exact.url, "exact", original_id)]), label="dups")


def _entry(doc_id, text, micros, config, hasher):
    sh = minhash.shingles(text, config.shingle)
    return dedup.BandEntry(doc_id, (micros, doc_id), hasher.signature(sh).tobytes(), len(sh), micros, doc_id)


def test_band_state_is_bounded_by_ttl_and_cap_without_timers():
    config = NearDupConfig()
    hasher = minhash.MinHasher(config.num_perm, config.seed)
    day = 86_400 * 1_000_000
    ttl = 7 * day
    state, newest = {}, 0
    rng = np.random.default_rng(0)
    for i in range(200):  # 200 unrelated stories, one per day, all in one bucket key
        text = " ".join(f"w{x}" for x in rng.integers(0, 100_000, size=120))
        entry = _entry(f"a{i:03d}", text, i * day, config, hasher)
        state, newest, matches = dedup.band_step(state, newest, f"h{i % 3}", entry, config, ttl, 4)
        assert not matches
        assert sum(len(v) for v in state.values()) <= 8  # at most the last 7-8 days
    assert all(e.event_micros >= newest - ttl for v in state.values() for e in v)
    # cap: many stories in one bucket within the TTL keep only the latest
    state, newest = {}, 0
    for i in range(20):
        text = " ".join(f"v{x}" for x in rng.integers(0, 100_000, size=120))
        state, newest, _ = dedup.band_step(state, newest, "same", _entry(f"b{i:02d}", text, i, config, hasher),
                                           config, ttl, 4)
    assert [e.article_id for e in state["same"]] == ["b16", "b17", "b18", "b19"]


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
        out = ticks | "Poll" >> beam.FlatMap(poll) | dedup.StreamingNearDedup(shards=4)
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
        out = p | stream | dedup.StreamingNearDedup(shards=4)
        assert_that(out.articles | "Urls" >> beam.Map(lambda a: a.url), equal_to([original.url]),
                    label="articles")
        assert_that(out.duplicates | "Dups" >> beam.Map(lambda d: (d.url, d.duplicate_of)),
                    equal_to([(c.url, original.article_id) for c in copies]), label="dups")
