"""The one stage graph: each setting reaches both modes the same way (the drifts
issue #14 found between the old batch and streaming builders), and every
default and cross-flag check lives in ``pipeline.config``."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipeline import graph
from pipeline.config import DEFAULTS, JobConfig
from pipeline.errors import UsageError
from pipeline.options import NewsbeamOptions
from pipeline.sources_file import Sources
from schemas.records import FeedRequest
from transforms import extract, site_learning

FEEDS = Sources(feeds=(FeedRequest(url="https://a.example/rss.xml"),))


OUTPUT = {"out": "gs://bucket/news"}  # batch builds read the output's index: a local folder


@pytest.fixture(autouse=True)
def _local_output(tmp_path):
    OUTPUT["out"] = str(tmp_path / "out")
    yield
    OUTPUT["out"] = "gs://bucket/news"


def _job(*argv: str) -> JobConfig:
    return JobConfig.from_options(PipelineOptions(["--output", OUTPUT["out"], *argv]))


def _transforms(job: JobConfig, mode) -> dict:
    """Full label -> transform of the built (never run) graph."""
    pipeline = beam.Pipeline(runner="PortableRunner", options=PipelineOptions())
    graph.build(pipeline, job, FEEDS, mode)
    found = {}

    class _Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            found[node.full_label] = node.transform

        def visit_transform(self, node):
            found[node.full_label] = node.transform

    pipeline.visit(_Visitor())
    return found


MODES = {"batch": lambda: graph.Batch("run-1"), "streaming": lambda: graph.Streaming(60.0, in_process=False)}


def test_flag_defaults_come_from_the_config():
    nb = PipelineOptions([]).view_as(NewsbeamOptions)
    for name in ("host_delay", "fetch_timeout", "min_words", "extract_timeout", "max_entities",
                 "boilerplate_min_articles", "tdm", "shingle_size", "near_dup_threshold", "lsh_bands",
                 "max_rows_per_file", "poll_interval", "window", "max_runtime"):
        assert getattr(nb, name) == getattr(DEFAULTS, name), name
    assert _job() == JobConfig(output=OUTPUT["out"], direct_running_mode=_job().direct_running_mode)


@pytest.mark.parametrize("mode", MODES)
def test_extract_timeout_reaches_both_modes(mode):
    """Drift: streaming ignored --extract-timeout."""
    stage = _transforms(_job("--extract-timeout", "7"), MODES[mode]())["ExtractArticles"]
    assert isinstance(stage, extract.ExtractArticles) and stage._timeout == 7.0


@pytest.mark.parametrize("mode", MODES)
def test_boilerplate_learning_off_in_both_modes(mode):
    """Drift: --boilerplate-min-articles 0 raised ValueError in streaming."""
    labels = _transforms(_job("--boilerplate-min-articles", "0"), MODES[mode]())
    assert "LearnSiteTemplates/NoSiteLearning" in labels
    assert not any(label.startswith("LearnSiteTemplates/LearnPerSite") for label in labels)
    on = _transforms(_job("--boilerplate-min-articles", "4"), MODES[mode]())
    assert on["LearnSiteTemplates"]._k == 4


@pytest.mark.parametrize("mode", MODES)
def test_no_near_duplicates_keeps_exact_dedup(mode):
    """Drift: --no-near-duplicates also turned off exact dedup in streaming."""
    labels = _transforms(_job("--no-near-duplicates"), MODES[mode]())
    exact = {"batch": "Deduplicate/ByContent", "streaming": "DedupByContent"}[mode]
    assert exact in labels
    assert not any("NearDuplicates" in label for label in labels)


def test_streaming_exact_dedup_keeps_the_first_copy():
    """The streaming ByContent step: a later copy of the same body under another
    URL is an ``exact`` duplicate of the first, as in batch."""
    import dataclasses
    from apache_beam.testing.test_stream import TestStream
    from apache_beam.testing.util import assert_that, equal_to
    from apache_beam.transforms.window import TimestampedValue
    from tests.test_streaming import T0, art, streaming_pipeline
    from transforms import dedup

    first, other = art("https://a.example/one", 1), art("https://a.example/two", 3)
    copy = dataclasses.replace(art("https://b.example/copy", 125), content_hash=first.content_hash)
    stream = (TestStream().advance_watermark_to(T0)
              .add_elements([TimestampedValue(first, T0 + 1), TimestampedValue(other, T0 + 3)])
              .advance_watermark_to(T0 + 120)
              .add_elements([TimestampedValue(copy, T0 + 125)])
              .advance_watermark_to_infinity())
    with streaming_pipeline() as p:
        out = p | stream | dedup.StreamingDedupByContent()
        assert_that(out.articles | "A" >> beam.Map(lambda a: a.url), equal_to([first.url, other.url]),
                    label="articles")
        assert_that(out.duplicates | "D" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(copy.url, "exact", first.article_id)]), label="dups")


def test_streaming_refuses_multi_processing():
    """Drift: documented as unsupported for streaming, but not refused."""
    job = _job("--streaming", "--direct_running_mode=multi_processing")
    with pytest.raises(UsageError, match="multi_processing"):
        job.check(FEEDS)
    assert _job("--direct_running_mode=multi_processing").problems(FEEDS) == []  # batch: fine
    assert _job("--streaming", "--direct_running_mode=multi_threading").problems(FEEDS) == []


def test_streaming_input_checks():
    job = _job("--streaming")
    assert "at least one feed" in job.problems(Sources())[0]
    assert "polls feeds only" in _job("--streaming", "--html-dir", "/tmp").problems(FEEDS)[0]


def test_streaming_feed_host_rules_are_applied_by_the_poller():
    """Drift: the sources file's host lists applied to feeds in batch only."""
    hosts = Sources(feeds=FEEDS.feeds, deny_hosts=("a.example",))
    pipeline = beam.Pipeline(runner="PortableRunner", options=PipelineOptions())
    graph.build(pipeline, _job("--streaming"), hosts, graph.Streaming(60.0, in_process=False))
    found = []

    class _Visitor(beam.pipeline.PipelineVisitor):
        def enter_composite_transform(self, node):
            if node.full_label == "PollFeeds":
                found.append(node.transform)

    pipeline.visit(_Visitor())
    assert found and found[0]._hosts == ((), ("a.example",))


def test_site_learning_zero_is_a_pass_through_in_streaming():
    assert site_learning.LearnSiteTemplatesStreaming(0)._k == 0
    with pytest.raises(ValueError):
        site_learning.LearnSiteTemplatesStreaming(1)


def test_pages_are_extracted_before_any_flatten(tmp_path):
    """Raw HTML never crosses a multi-input Flatten (the local runner materialises each
    one: every element encoded, buffered by the runner process and shipped again): each
    page source has its own ExtractArticles, the articles are flattened after."""
    from apache_beam.portability import common_urns
    job = _job("--html-dir", str(tmp_path), "--warc", str(tmp_path / "x.warc.gz"))
    pipeline = beam.Pipeline(runner="PortableRunner", options=PipelineOptions())
    graph.build(pipeline, job, FEEDS, graph.Batch("run-1"))
    transforms = pipeline.to_runner_api().components.transforms
    leaves = [t for t in transforms.values() if not t.subtransforms]
    producer = {pcoll: (t.unique_name, tag) for t in leaves for tag, pcoll in t.outputs.items()}
    flattened = {producer[pcoll] for t in leaves if t.spec.urn == common_urns.primitives.FLATTEN.urn
                 and len(t.inputs) > 1 for pcoll in t.inputs.values()}
    page_steps = ("FetchPages/", "ReadHtmlDir/", "ReadWarc/", "CheckArchiveHosts/")
    assert ("ExtractArticlesSaved/Extract/ParDo(_ExtractFn)", "None") in flattened  # main output
    assert not [(name, tag) for name, tag in flattened if name.startswith(page_steps) and tag != "dead_letter"]
    extracts = {t.unique_name.split("/")[0] for t in leaves if t.unique_name.startswith("ExtractArticles")}
    assert extracts == {"ExtractArticles", "ExtractArticlesSaved", "ExtractArticlesArchived"}


_TORN_DOWN: list = []  # labels of DoFns torn down in this process (the in-process runner)


class _MarksTeardown(beam.DoFn):
    def __init__(self, label: str):
        self._label = label

    def process(self, element):
        yield element

    def teardown(self):
        _TORN_DOWN.append(self._label)


def _saw_first_stage_released(element, wait: float = 20.0) -> bool:
    import time
    deadline = time.monotonic() + wait
    while "first" not in _TORN_DOWN and time.monotonic() < deadline:
        time.sleep(0.05)
    return "first" in _TORN_DOWN


def test_a_batch_run_releases_finished_stages_while_later_ones_run():
    """A finished stage's processor (and what its operations hold) goes while the job runs on,
    not 60 s later: the in-process peak (NER, late in the job) no longer carries every earlier
    stage (docs/performance.md, "What a chunk holds per page")."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.testing.util import assert_that, equal_to
    graph.Batch("run")  # the batch mode: this process keeps no finished stage
    _TORN_DOWN.clear()
    try:
        with beam.Pipeline(runner=FnApiRunner()) as p:
            seen = (p | beam.Create([1, 2, 3])
                    | "First" >> beam.ParDo(_MarksTeardown("first"))
                    | beam.GroupBy(lambda n: n % 2)  # a stage boundary
                    | "Later" >> beam.Map(lambda _group: _saw_first_stage_released(_group)))
            assert_that(seen, equal_to([True, True]))
    finally:
        graph.keep_idle_stages(None)


def test_streaming_keeps_its_stages_between_polling_rounds():
    """Stages run again every polling round: a streaming job keeps Beam's own delay (its
    models are not reloaded each round)."""
    from apache_beam.runners.worker import sdk_worker
    graph.Batch("run")
    assert sdk_worker.DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S == graph.IDLE_STAGE_SECONDS
    graph.Streaming(duration=1.0)
    assert (sdk_worker.DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S
            == graph.beam_default(sdk_worker, graph._CACHE_SECONDS) > 1)


def _side_inputs_cached() -> int:
    """Bytes (Beam's estimate) the in-process harness's state caches hold now."""
    import gc
    from apache_beam.runners.worker.statecache import StateCache
    return sum(cache._current_weight for cache in gc.get_objects() if isinstance(cache, StateCache))


def test_a_batch_run_keeps_no_side_input_once_its_stage_is_done():
    """Beam's in-process harness caches each side input it decodes for the whole job (up to
    100 MB); a batch stage reads its side inputs once, so what a later stage (the NER stage's
    peak) would carry of them is only waste (docs/performance.md)."""
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.testing.util import assert_that, equal_to
    graph.Batch("run")
    try:
        with beam.Pipeline(runner=FnApiRunner()) as p:
            side = p | "Side" >> beam.Create([(f"k{i}", "v" * 1000) for i in range(200)])
            looked = (p | "Numbers" >> beam.Create([1, 2, 3])
                      | "Look" >> beam.Map(lambda n, table: len(table[f"k{n}"]), beam.pvalue.AsDict(side)))
            later = (looked | beam.GroupBy(lambda n: n)  # a stage boundary
                     | "Later" >> beam.Map(lambda _group: _side_inputs_cached()))
            assert_that(later, equal_to([0]))
    finally:
        graph.cache_side_inputs(None)
        graph.keep_idle_stages(None)


def test_a_batch_run_gives_arrow_memory_back_and_streaming_keeps_arrows_own(monkeypatch):
    """A batch job uses jemalloc with no decay (below), passed on to its worker processes; a
    streaming job gets pyarrow's own back; a user's own ARROW_DEFAULT_MEMORY_POOL or
    JE_ARROW_MALLOC_CONF is left alone."""
    import os
    import pyarrow as pa
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.delenv("JE_ARROW_MALLOC_CONF", raising=False)
    from pipeline import arrow_pool
    graph.returning_arrow_allocator(False)  # as before any batch job of this process
    before = pa.default_memory_pool().backend_name
    graph.Batch("run")
    assert pa.default_memory_pool().backend_name == "jemalloc"
    assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
    assert os.environ["JE_ARROW_MALLOC_CONF"] == arrow_pool.RETURNING_JEMALLOC_CONF

    graph.Streaming(duration=1.0)
    assert pa.default_memory_pool().backend_name == before
    assert "ARROW_DEFAULT_MEMORY_POOL" not in os.environ and "JE_ARROW_MALLOC_CONF" not in os.environ
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    graph.Batch("run")
    assert pa.default_memory_pool().backend_name == before
    assert "JE_ARROW_MALLOC_CONF" not in os.environ  # only with the jemalloc newsbeam chose
    graph.Streaming(duration=1.0)


# What reading ``_state`` does to pyarrow's pool: few-hundred-KiB column buffers among many
# small allocations that stay, then the buffers freed. In a fresh process: pyarrow reads its
# settings once, when it loads. Measured: the system allocator and mimalloc keep all ~150 MiB,
# jemalloc without our setting (its decay: 1 s) ~70 MiB at first, with it nothing.
_ARROW_FREES = """
import json, os, sys
if sys.argv[1] == "cli":  # a batch job in the CLI's own process (python -m pipeline)
    from pipeline import arrow_pool
    arrow_pool.before_pyarrow_loads()
    import pyarrow as pa
    from pipeline import graph
    graph.returning_arrow_allocator(True)
import pyarrow as pa, pyarrow.compute as pc  # else: a chunk's or a worker's process, none of our code
def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
base = pa.array(range(32 * 1024), type=pa.int64())
small = [pa.array([str(i)] * 20) for i in range(20000)]
start, columns = rss(), []
for i in range(600):
    columns.append(pc.add(base, i))
    small.append(pa.array([str(i)] * 20))
held = rss()
del columns
print(json.dumps({"pool": pa.default_memory_pool().backend_name, "start": start, "held": held, "after": rss()}))
"""


@pytest.mark.parametrize("process", ["cli", "child"])
def test_the_batch_arrow_allocator_gives_freed_column_buffers_back_at_once(process):
    import json
    import os
    import subprocess
    import sys
    from pipeline import arrow_pool
    env = {k: v for k, v in os.environ.items() if k not in (arrow_pool.POOL_VARIABLE, arrow_pool.JEMALLOC_VARIABLE)}
    if process == "child":
        assert arrow_pool.for_child_processes(env)  # what a chunked run and a batch job set for theirs
    out = subprocess.run([sys.executable, "-c", _ARROW_FREES, process], env=env, capture_output=True, text=True,
                         check=True, timeout=120).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["pool"] == "jemalloc"
    assert got["held"] - got["start"] > 100, got
    assert got["after"] - got["start"] < 20, got


def test_child_processes_get_the_pool_unless_the_user_chose_one():
    from pipeline import arrow_pool
    env = {}
    assert arrow_pool.for_child_processes(env)
    assert env == {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "JE_ARROW_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
    users = {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    assert not arrow_pool.for_child_processes(users) and users == {"ARROW_DEFAULT_MEMORY_POOL": "mimalloc"}
    tuned = {"JE_ARROW_MALLOC_CONF": "dirty_decay_ms:500"}
    assert arrow_pool.for_child_processes(tuned) and tuned["JE_ARROW_MALLOC_CONF"] == "dirty_decay_ms:500"


def test_the_cli_chooses_the_pool_before_pyarrow_loads_and_keeps_a_users_choice():
    """``python -m pipeline`` (pipeline/__main__.py) sets the variables before anything loads
    pyarrow, from pyarrow's own build configuration (it has jemalloc here, as in its wheels)."""
    from pipeline import arrow_pool
    assert arrow_pool.built_with_jemalloc()
    env = {}
    arrow_pool.before_pyarrow_loads(env)
    assert env == {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "JE_ARROW_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
    users = {"ARROW_DEFAULT_MEMORY_POOL": "system"}
    arrow_pool.before_pyarrow_loads(users)
    assert users["ARROW_DEFAULT_MEMORY_POOL"] == "system"
    import pathlib
    main = pathlib.Path(arrow_pool.__file__).with_name("__main__.py").read_text()
    assert main.index("arrow_pool.before_pyarrow_loads()") < main.index("from pipeline import cli")
