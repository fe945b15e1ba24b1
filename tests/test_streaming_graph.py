"""The streaming job graph as a cloud runner gets it: stable step names (the
precondition for Dataflow ``--update``), no step that needs every worker in
this process, built without running anything."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.options import NewsbeamOptions
from pipeline.streaming import build_streaming_pipeline, graph_facts
from pipeline import sources_file as sources

# Renaming one of these breaks `--update` of a running job (its state is keyed by step name):
# give Dataflow a --transform_name_mapping from the old name, then update this list.
# (Adding a step keeps the others' state: DedupByContent was added when streaming got
# the exact-content dedup batch always had, independent of --no-near-duplicates.)
STATEFUL_STEPS = [
    "DedupByContent/FirstByContent/ParDo(_FirstByContentFn)",
    "DedupById/FirstById/ParDo(_FirstByIdFn)",
    "LearnSiteTemplates/LearnPerSite",
    "NearDuplicates/Buckets",
    "NearDuplicates/Decide/ParDo(_DecideFn)",
    "NearDuplicates/Store",
    "PollFeeds/PollFeed/ParDo(_PollFeedFn)",
    "ReportWindows/PerWindow",
    "WriteArticles/WriteWindows",
    "WriteDeadLetters/WriteWindows",
    "WriteDuplicates/WriteWindows",
    "WriteIndex/WriteWindows",
    "WriteSignatures/WriteWindows",
]
FEEDS = ["https://a.example/rss.xml", "https://b.example/atom.xml"]


def _build(extra=(), in_process=False):
    argv = ["--streaming", "--output", "gs://bucket/news", *extra]
    for feed in FEEDS:
        argv += ["--feed", feed]
    options = PipelineOptions(argv)
    nb = options.view_as(NewsbeamOptions)
    pipeline = beam.Pipeline(runner="PortableRunner", options=options)  # built, never run
    build_streaming_pipeline(pipeline, nb, sources.cli_sources(nb.feed, []), duration=3600,
                             in_process=in_process)
    return graph_facts(pipeline)


def test_two_builds_have_the_same_step_names():
    first, second = _build(), _build()
    assert first["names"] == second["names"]
    assert len(set(first["names"])) == len(first["names"])  # unique
    assert first["stateful_steps"] == second["stateful_steps"] == STATEFUL_STEPS


def test_step_names_do_not_depend_on_the_feed_list_or_output():
    """An update that adds feeds or moves the output keeps every step (and its state)."""
    base = _build()
    argv_more = ["--feed", "https://c.example/feed.json", "--poll-interval", "120", "--window", "600"]
    assert _build(argv_more)["names"] == base["names"]


def test_cloud_graph_has_no_in_process_only_step():
    assert _build()["in_process_only_steps"] == []
    local = _build(in_process=True)["in_process_only_steps"]  # the local runner's buffer is detected
    assert local and all("Buffer" in name or "WriteWindows" in name for name in local)


@pytest.mark.parametrize("flag", ["--no-near-duplicates", "--boilerplate-min-articles=5"])
def test_option_variants_build_with_unique_names(flag):
    facts = _build([flag])
    assert len(set(facts["names"])) == len(facts["names"])
    assert facts["in_process_only_steps"] == []


class _TrackerView:
    """What the runner hands ``process()``: a tracker plus ``defer_remainder``."""

    def __init__(self, restriction):
        from apache_beam.io.restriction_trackers import OffsetRestrictionTracker
        self.tracker = OffsetRestrictionTracker(restriction)
        self.deferred = None

    def current_restriction(self):
        return self.tracker.current_restriction()

    def try_claim(self, position):
        return self.tracker.try_claim(position)

    def defer_remainder(self, when=None):
        self.deferred = when


def test_draining_the_poller_still_emits_the_final_tick():
    """Dataflow's drain truncates the unbounded source: what remains is the final
    tick alone, emitted at once, so the window writers flush instead of dropping."""
    from apache_beam.io.restriction_trackers import OffsetRange
    from transforms import poll

    element = ("token", 0.0, 3600.0, 60.0)  # an hour of 1-minute rounds
    provider = poll._TickRestrictions()
    assert provider.initial_restriction(element) == OffsetRange(0, 61)
    view = _TrackerView(provider.truncate(element, OffsetRange(5, 61)))
    out = list(poll._TickFn().process(element, tracker=view))
    assert len(out) == 1 and out[0].value.final and view.deferred is None
    assert view.tracker.check_done() is None  # the whole truncated range was claimed

    # Undrained, the first round is an ordinary tick and the rest is deferred.
    first = _TrackerView(provider.initial_restriction(element))
    ticks = list(poll._TickFn().process(("token-2", 0.0, 3600.0, 60.0), tracker=first))
    assert len(ticks) == 1 and not ticks[0].value.final and first.deferred is not None
