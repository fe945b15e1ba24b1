"""The one stage graph of a newsbeam job, for batch and for streaming.

    source -> fetch -> ExtractArticles (one per page source) -> LearnSiteTemplates -> dedup
           -> TagEntities -> AssignTopics -> sink (articles, _duplicates,
              _dead_letters, _state/index, _state/signatures) -> report

:func:`build` applies the stages every job shares; a :class:`Batch` or
:class:`Streaming` mode supplies only what must differ:

- the source: one-shot (feeds read once, pages, ``--html-dir``, ``--warc``) or
  polling (ticks, feeds re-read on their schedule, a seen-set in keyed state);
- the dedup state: per run, joined with what earlier runs wrote (batch), or
  keyed state in the global window with a TTL (streaming, first seen wins);
- the sink: staged partition files published together, then the index, the run
  report and the feeds' conditional-GET state (batch); windowed files written
  while the job runs (streaming).

Step names are part of the contract: a streaming job's stateful steps are
updated in place by name (``tests/test_streaming_graph.py``).
"""
from __future__ import annotations

import dataclasses
import os
import uuid
from typing import Dict, List, Optional, Tuple

import apache_beam as beam

from pipeline import arrow_pool
from pipeline.config import JobConfig
from pipeline.sources_file import Sources
from transforms import (accounting, dedup, entities, extract, feed_state, feeds, fetch, poll, sink,
                        site_learning, sources, topics, usage, warc, window_sink)


@dataclasses.dataclass
class Sourced:
    """What a source stage hands on: pages to extract, one PCollection per page source
    (name -> pages; "" for fetched pages), and its dead letters."""
    page_sets: Dict[str, beam.PCollection]
    dead_letters: List[beam.PCollection]


@dataclasses.dataclass
class Extracted:
    """ExtractArticles' outputs over every page source: the articles (flattened), and
    per source the articles, the (request URL, article URL) lineage pairs and the dead
    letters."""
    articles: beam.PCollection
    article_sets: List[beam.PCollection]
    lineage: List[beam.PCollection]
    dead_letters: List[beam.PCollection]


@dataclasses.dataclass
class Deduped:
    """One article per story, the copies as Duplicate rows (one or more PCollections)."""
    articles: beam.PCollection
    duplicates: List[beam.PCollection]


@dataclasses.dataclass
class Outputs:
    """The shared stages' results, handed to the mode's sink."""
    articles: beam.PCollection      # with entities and topics
    to_write: beam.PCollection      # the same, bodies omitted where --tdm omit-body says so
    duplicates: List[beam.PCollection]
    dead_letters: List[beam.PCollection]
    extracted: Extracted            # ExtractArticles' outputs (articles, lineage)


def build(p: beam.Pipeline, job: JobConfig, inputs: Sources, mode) -> Dict[str, object]:
    """Add the job to ``p``; returns its main PCollections (for tests and the CLI)."""
    sourced = mode.source(p, job, inputs)
    extracted = _extract(sourced.page_sets, job, mode.closes_extraction_workers)
    # Per-site template paragraphs out before dedup, so copies compare on clean text.
    learned = extracted.articles | "LearnSiteTemplates" >> mode.site_learning(
        job.boilerplate_min_articles, counted=extracted.article_sets)
    unique = mode.dedup(p, learned, job)
    tagged = unique.articles | "TagEntities" >> entities.TagEntities(job.max_entities)
    articles = tagged.articles | "AssignTopics" >> topics.AssignTopics()
    to_write = articles
    if job.tdm == "omit-body":  # bodies dropped only from what is written
        to_write = articles | "OmitReservedBodies" >> beam.Map(usage.omit_body)
    dead_letters = sourced.dead_letters + extracted.dead_letters + [tagged.dead_letter]
    return mode.sink(p, job, Outputs(articles, to_write, unique.duplicates, dead_letters, extracted))


def _extract(page_sets: Dict[str, beam.PCollection], job: JobConfig, close_workers: bool) -> Extracted:
    """One ExtractArticles per page source, the articles flattened after: raw HTML
    (~90 KB a page) never crosses a Flatten, which the local runner materialises
    (every element encoded, buffered by the runner and shipped again)."""
    found = {name: pages | f"ExtractArticles{name}" >> extract.ExtractArticles(
        job.min_words, timeout=job.extract_timeout, tdm=job.tdm, close_workers=close_workers)
        for name, pages in page_sets.items()}
    article_sets = [outputs.articles for outputs in found.values()]
    articles = article_sets[0] if len(article_sets) == 1 else article_sets | "AllArticles" >> beam.Flatten()
    return Extracted(articles, article_sets, [outputs[extract.LINEAGE] for outputs in found.values()],
                     [outputs.dead_letter for outputs in found.values()])


# --------------------------------------------------------------------------- batch

# Beam's SDK harness keeps each fused stage's BundleProcessor (its operations and DoFns) for
# 60 s after its last bundle (sdk_worker.DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S).
# A batch job in-process runs each stage once, one after another in a few minutes, so that
# cache only holds finished stages: native memory in proportion to the pages they processed,
# ~0.1 MiB a page, all of it still held when the NER stage peaks (docs/performance.md, "What
# a chunk holds per page"). One second lets a stage go once it is done.
IDLE_STAGE_SECONDS = 1.0
_CACHE_SECONDS = "DEFAULT_BUNDLE_PROCESSOR_CACHE_SHUTDOWN_THRESHOLD_S"
_beam_defaults: Dict[Tuple[str, str], object] = {}  # Beam's own values, for streaming jobs


def _set_beam_setting(module, name: str, value) -> None:
    """One of Beam's module-level settings (None: Beam's own value); left alone where
    another Beam version does not have it. Read when the runner starts its in-process worker."""
    current = getattr(module, name, None)
    if current is None:
        return
    own = _beam_defaults.setdefault((module.__name__, name), current)
    setattr(module, name, own if value is None else value)


def beam_default(module, name: str):
    """Beam's own value of a setting this process changed (None if unchanged)."""
    return _beam_defaults.get((module.__name__, name))


def keep_idle_stages(seconds: Optional[float]) -> None:
    """How long this process's SDK harness keeps a stage's processor after its last bundle
    (None: Beam's default)."""
    from apache_beam.runners.worker import sdk_worker
    _set_beam_setting(sdk_worker, _CACHE_SECONDS, seconds)


# The in-process SDK harness also keeps every side input it has read, decoded, for the whole
# job, up to 100 MB (worker_handlers.STATE_CACHE_SIZE_MB; worker processes have Beam's
# --max_cache_memory_usage_mb, 0 by default: no cache). A batch stage reads its side inputs
# in its own bundle and no later stage reads them again: the cache held ~40 MB of the band
# keys of a run into a large output when the NER stage peaked, ~45 MiB of that peak
# (docs/performance.md, "What a run into a large output still held").
BATCH_SIDE_INPUT_CACHE_MB = 0


def cache_side_inputs(mb: Optional[int]) -> None:
    """The in-process harness's side-input (and state) cache, in MB (None: Beam's default)."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers
    _set_beam_setting(worker_handlers, "STATE_CACHE_SIZE_MB", mb)


# pyarrow's pool: jemalloc giving freed pages back at once (pipeline/arrow_pool.py says why).
_arrow_default = None  # (pool, {variable: value}) before a batch job changed them


def returning_arrow_allocator(on: bool) -> None:
    """On: an allocator that gives freed memory back, for the Python calls of this process and
    (through the variables) for all of the worker processes it starts; a user's own
    ARROW_DEFAULT_MEMORY_POOL wins. Off: what was there before."""
    global _arrow_default
    import pyarrow as pa
    if on:
        if _arrow_default is None:
            _arrow_default = (pa.default_memory_pool(),
                              {name: os.environ.get(name) for name in (arrow_pool.POOL_VARIABLE,
                                                                       arrow_pool.JEMALLOC_VARIABLE)})
        if not _arrow_default[1][arrow_pool.POOL_VARIABLE]:
            arrow_pool.for_child_processes()
            pa.set_memory_pool(arrow_pool.returning_pool())
    elif _arrow_default is not None:
        pool, variables = _arrow_default
        _arrow_default = None
        pa.set_memory_pool(pool)
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Batch:
    """One run over a fixed set of inputs; dedup joins what earlier runs wrote."""

    closes_extraction_workers = True  # each extraction stage runs once: its workers go with it

    def __init__(self, run_id: str, progress_dir: Optional[str] = None):
        self.run_id = run_id
        self.progress_dir = progress_dir  # where workers leave counts for the CLI's progress line
        self.input_urls: List[beam.PCollection] = []  # accounting: every input URL reaches an outcome
        self.skipped: List[beam.PCollection] = []     # URLs an earlier run already wrote
        # Set by source(), read by sink(): the source's branches the accounting, progress
        # and feed-state steps hang on.
        self.feed_entries = self.fetched = None
        self.copy_signatures = None  # set by dedup(): near copies' state rows, for _state/signatures
        self.page_sets: Dict[str, beam.PCollection] = {}  # "" (fetched), "Saved", "Archived"
        keep_idle_stages(IDLE_STAGE_SECONDS)  # every stage runs once: none is needed again
        cache_side_inputs(BATCH_SIDE_INPUT_CACHE_MB)  # nor are its side inputs
        returning_arrow_allocator(True)

    site_learning = staticmethod(site_learning.LearnSiteTemplates)

    def source(self, p, job: JobConfig, inputs: Sources) -> Sourced:
        dead: List[beam.PCollection] = []
        config = job.fetch()
        feed_list = p | "FeedSources" >> beam.Create(list(inputs.feeds))
        self.feed_entries = (_check_hosts(feed_list, inputs, "CheckFeedHosts", dead)
                             | "ReadFeeds" >> feeds.ReadFeeds(config, state_output=job.output))
        dead.append(self.feed_entries.dead_letter)
        direct_pages = p | "PageSources" >> beam.Create(list(inputs.pages))
        all_requests = (self.feed_entries.entries, direct_pages) | "AllRequests" >> beam.Flatten()
        checked = _check_hosts(all_requests, inputs, "CheckPageHosts", dead)
        # Earlier runs' index: only the entries under this run's request URLs are read.
        previous = checked | "ReadPreviousRuns" >> dedup.ReadPreviousRequests(job.output)
        requests_ = checked | "DedupRequests" >> dedup.DedupRequests(previous)
        self.skipped.append(requests_.skipped)
        self.input_urls += [all_requests | "RequestUrls" >> beam.FlatMap(lambda r: (r.url,) + tuple(r.aliases)),
                            self.feed_entries.dead_letter | "FeedFailureUrls" >> beam.Map(lambda d: d.url)]
        self.fetched = requests_.requests | "FetchPages" >> fetch.FetchPages(config)
        dead.append(self.fetched.dead_letter)
        self.page_sets = {"": self.fetched.pages, **self._saved_pages(p, job, inputs, dead)}
        return Sourced(self.page_sets, dead)

    def _saved_pages(self, p, job: JobConfig, inputs: Sources, dead: list) -> Dict[str, beam.PCollection]:
        """Pages read rather than fetched: ``--html-dir`` and ``--warc``."""
        found = {}
        if job.html_dir:
            saved = p | "ReadHtmlDir" >> sources.ReadHtmlDir(job.html_dir, files=job.html_files)
            dead.append(saved.dead_letter)
            found["Saved"] = saved.pages
            self.input_urls += [saved.pages | "SavedPageUrls" >> beam.Map(lambda page: page.request.url),
                                saved.dead_letter | "SavedFailureUrls" >> beam.Map(lambda d: d.url)]
        if job.warc:
            archived = p | "ReadWarc" >> warc.ReadWarc(list(job.warc))
            dead.append(archived.dead_letter)
            self.input_urls += [archived.pages | "ArchivedPageUrls" >> beam.Map(lambda page: page.request.url),
                                archived.dead_letter | "ArchiveFailureUrls" >> beam.Map(lambda d: d.url)]
            found["Archived"] = _check_hosts(archived.pages, inputs, "CheckArchiveHosts", dead)
        return found

    def dedup(self, p, articles, job: JobConfig) -> Deduped:
        # What earlier runs wrote, read only where this run's articles can match it: their
        # ids and content hashes (index), their LSH buckets (signatures, in NearDuplicates).
        previous = articles | "ReadPreviousArticles" >> dedup.ReadPreviousArticles(job.output)
        unique = articles | "Deduplicate" >> dedup.DedupArticles(
            previous, near=job.near(), signatures_from=job.output)
        self.skipped.append(unique["skipped"])
        self.copy_signatures = unique.get(dedup.COPY_SIGNATURES)
        return Deduped(unique["articles"], [unique["duplicates"]])

    def sink(self, p, job: JobConfig, out: Outputs) -> Dict[str, object]:
        duplicates = out.duplicates[0]
        all_dead = out.dead_letters | "AllDeadLetters" >> beam.Flatten()
        written = self._write_data(job, out.to_write, duplicates, all_dead)
        # Data files are staged, then published together once all are written: a run
        # stopped before (Ctrl-C, a crash) shows readers nothing of itself.
        published = (written | "AllStagedFiles" >> beam.Flatten()
                     | "PublishStaged" >> sink.CommitStaged())
        present_urls = published | "PresentUrls" >> beam.FlatMap(
            lambda r: r.get("urls", []) if r.get("table") == sink.PRESENT else []).with_output_types(str)
        if self.progress_dir:
            from pipeline import progress
            read = [pages for name, pages in self.page_sets.items() if name]  # saved, archived
            progress.attach(self.progress_dir, entries=self.feed_entries.entries, fetched=self.fetched.pages,
                            read=read, extracted=out.extracted.articles, errors=all_dead, written=written)
        index, state_files = self._write_state(job, out.articles, duplicates, published)
        report = self._report(job, out, duplicates, all_dead, published, present_urls, state_files)
        # Conditional-GET state last: a feed is only remembered once its entries are written.
        feed_states = (self.feed_entries.feed_state
                       | "CommitFeedStates" >> feed_state.CommitFeedStates(
                           job.output, incomplete=self.fetched.incomplete_feeds, after=[report, index]))
        return {"articles": out.articles, "duplicates": duplicates, "dead_letters": all_dead,
                "index": index, "report": report, "feed_states": feed_states}

    def _write_data(self, job: JobConfig, articles, duplicates, dead) -> List[beam.PCollection]:
        staging = sink.staging_root(job.output, self.run_id)
        rows = job.max_rows_per_file
        return [articles | "WriteArticles" >> sink.WritePartitioned(job.output, "articles", rows, staging=staging),
                duplicates | "WriteDuplicates" >> sink.WritePartitioned(job.output, "duplicates", rows,
                                                                        staging=staging),
                dead | "WriteDeadLetters" >> sink.WritePartitioned(job.output, "dead_letters", rows,
                                                                   staging=staging)]

    def _write_state(self, job: JobConfig, articles, duplicates, published):
        """Crash safety: the index and signatures tell later runs what to skip, so they
        are written only once the data files exist (a side input forces the order); a
        job killed in between leaves data without index, and the rerun rewrites them."""
        data_written = published | "CountDataFiles" >> beam.combiners.Count.Globally()

        def after_data(pcoll, label):
            return pcoll | label >> beam.Map(lambda record, _done: record, beam.pvalue.AsSingleton(data_written))

        entries = ((articles | "IndexArticles" >> beam.FlatMap(sink.index_entries_for_article),
                    duplicates | "IndexDuplicates" >> beam.Map(sink.index_entry_for_duplicate))
                   | "AllIndexEntries" >> beam.Flatten())
        index = (after_data(entries, "IndexAfterData")
                 | "WriteIndex" >> sink.WritePartitioned(job.output, "index", job.max_rows_per_file))
        near = job.near()
        if near is None:
            return index, []
        signatures = articles | "ArticleSignatures" >> dedup.SignaturesOf(near)
        if self.copy_signatures is not None:  # a later run finds copies of copies too
            signatures = (signatures, self.copy_signatures) | "AllSignatures" >> beam.Flatten()
        signatures = after_data(signatures, "SignaturesAfterData")
        return index, [signatures | "WriteSignatures" >> sink.WritePartitioned(
            job.output, "signatures", job.max_rows_per_file)]

    def _report(self, job: JobConfig, out: Outputs, duplicates, all_dead, published, present_urls,
                state_files) -> beam.PCollection:
        skipped_urls = (*self.skipped, present_urls) | "AllSkipped" >> beam.Flatten()
        skipped = (skipped_urls
                   | "CountSkipped" >> beam.combiners.Count.Globally()
                   | "SkippedRecord" >> beam.Map(lambda n: {"table": "_skipped", "rows": n}))
        page_lineage = [pages | f"PageLineage{name}" >> beam.Map(lambda page: (page.request.url, page.final_url))
                        for name, pages in self.page_sets.items()]
        # Lists, not Flattens: Account tags each part where it is produced (one Flatten per join).
        accounted = ({"inputs": tuple(self.input_urls), "lineage": tuple(out.extracted.lineage + page_lineage),
                      "articles": out.articles, "duplicates": duplicates, "dead_letters": all_dead,
                      "skipped": skipped_urls, "present": present_urls}
                     | "Accounting" >> accounting.Account())
        data_files = published | "DataFiles" >> beam.Filter(lambda r: r.get("table") != sink.PRESENT)
        run_id, output = self.run_id, job.output
        return (([data_files] + state_files + [skipped, accounted])
                | "AllWrittenFiles" >> beam.Flatten()
                | "MergeManifest" >> beam.CombineGlobally(MergeManifest())
                | "WriteReport" >> beam.Map(lambda r: sink.write_report(output, run_id, r)))


def _check_hosts(pcoll, inputs: Sources, label: str, dead: list):
    """The sources file's allow/deny host lists (a pass-through without them)."""
    if not inputs.has_host_rules:
        return pcoll
    checked = pcoll | label >> sources.FilterHosts(inputs.allow_hosts, inputs.deny_hosts)
    dead.append(checked.dead_letter)
    return checked.allowed


class MergeManifest(beam.CombineFn):
    """Every written file's record -> the run's manifest (sorted: deterministic)."""

    def create_accumulator(self):
        return []

    def add_input(self, acc, record):
        acc.append(record)
        return acc

    def merge_accumulators(self, accs):
        return [r for acc in accs for r in acc]

    def extract_output(self, acc):
        records = sorted(acc, key=lambda r: (r.get("table", ""), r.get("path", "")))
        return sink.merge_manifest(records)


# --------------------------------------------------------------------------- streaming

class Streaming:
    """Polls the feeds for ``duration`` s (or until :func:`transforms.poll.request_stop`);
    dedup state is keyed, in the global window, with a TTL; windows are written as
    they close. No GroupByKey on the path (the local FnApiRunner holds a GroupByKey's
    input until an unbounded source ends) and no timers (apache/beam#35168).

    ``in_process``: every worker is this process (the local FnApiRunner): windows are
    buffered in memory instead of Beam state."""

    closes_extraction_workers = False  # bundles every polling round: the pool's 5 s idle close

    @staticmethod
    def site_learning(min_articles: int, counted=()):
        """One page source in streaming: nothing to count apart (``counted`` unused)."""
        return site_learning.LearnSiteTemplatesStreaming(min_articles)

    def __init__(self, duration: float, in_process: bool = True):
        keep_idle_stages(None)  # stages run again every polling round: keep them (and their models)
        cache_side_inputs(None)  # and their side inputs and state
        returning_arrow_allocator(False)
        self.duration = duration
        self.in_process = in_process
        self.ticks = None  # set by source(): the sink's windows are flushed by the ticks

    def source(self, p, job: JobConfig, inputs: Sources) -> Sourced:
        config = job.fetch()
        self.ticks = p | "PollTicks" >> poll.PollTicks(self.duration, job.poll_interval)
        polled = self.ticks | "PollFeeds" >> poll.PollFeeds(
            inputs.feeds, config, job.poll_interval, output=job.output,
            allow_hosts=inputs.allow_hosts, deny_hosts=inputs.deny_hosts)
        dead = [polled.dead_letter]
        groups = polled.requests
        if inputs.has_host_rules:  # the sources file's allow/deny host lists, per request
            checked = (groups
                       | "Requests" >> beam.FlatMap(lambda group: group[1])
                       | "CheckPageHosts" >> sources.FilterHosts(inputs.allow_hosts, inputs.deny_hosts))
            dead.append(checked.dead_letter)
            groups = checked.allowed | "OnePerGroup" >> beam.Map(lambda r: (fetch.host_key(r.url), (r,)))
        fetched = groups | "FetchPages" >> fetch.FetchHostGroups(config)
        dead.append(fetched.dead_letter)
        return Sourced({"": fetched.pages}, dead)

    def dedup(self, p, articles, job: JobConfig) -> Deduped:
        # Event time = fetch time: windows, TTLs and "first seen" all count from it.
        timed = articles | "EventTimeIsFetchTime" >> beam.Map(
            lambda a: beam.window.TimestampedValue(a, a.fetched_at.timestamp()))
        by_id = timed | "DedupById" >> dedup.StreamingDedupById()
        by_content = by_id.articles | "DedupByContent" >> dedup.StreamingDedupByContent()
        duplicates, unique = [by_id.duplicates, by_content.duplicates], by_content.articles
        near = job.near()
        if near is not None:
            folded = unique | "NearDuplicates" >> dedup.StreamingNearDedup(near, ttl=poll.DEFAULT_TTL,
                                                                             restore_from=job.output)
            duplicates.append(folded.duplicates)
            unique = folded.articles
        return Deduped(unique, duplicates)

    def sink(self, p, job: JobConfig, out: Outputs) -> Dict[str, object]:
        index = [out.articles | "IndexArticles" >> beam.FlatMap(sink.index_entries_for_article)]
        index += [dups | f"IndexDuplicates{i}" >> beam.Map(sink.index_entry_for_duplicate)
                  for i, dups in enumerate(out.duplicates)]
        tables = {"articles": [out.to_write], "duplicates": out.duplicates, "dead_letters": out.dead_letters,
                  "index": index}
        near = job.near()
        if near is not None:  # what a restart restores its near-duplicate state from
            tables["signatures"] = [out.articles | "Signatures" >> dedup.SignaturesOf(near)]
        windows = self._write_in_process(job, tables) if self.in_process else self._write_stateful(job, tables)
        return {"ticks": self.ticks, "articles": out.articles, "duplicates": out.duplicates,
                "dead_letters": out.dead_letters, "windows": windows}

    def _write_in_process(self, job: JobConfig, tables) -> beam.PCollection:
        """No multi-input Flatten (the local runner would hold it until the end): every
        branch feeds one in-process buffer, flushed by the ticks."""
        buffer_id = f"{job.output}#{uuid.uuid4().hex}"
        for name, pcolls in tables.items():
            for i, pcoll in enumerate(pcolls):
                pcoll | f"Buffer{_camel(name)}{i}" >> window_sink.BufferRows(
                    buffer_id, job.output, name, job.window, job.max_rows_per_file)
        return self.ticks | "WriteWindows" >> window_sink.FlushWindows(
            buffer_id, job.output, job.window, grace=0.0, max_rows=job.max_rows_per_file)

    def _write_stateful(self, job: JobConfig, tables) -> beam.PCollection:
        """Runners with real streaming: Beam state per table/shard, driven by the ticks."""
        manifests = []
        for name, pcolls in tables.items():
            merged = pcolls | f"All{_camel(name)}" >> beam.Flatten()
            manifests.append((merged, self.ticks) | f"Write{_camel(name)}" >> window_sink.WriteWindowed(
                job.output, name, job.window, grace=job.poll_interval, shards=1,
                max_rows=job.max_rows_per_file))
        return (manifests
                | "AllManifests" >> beam.Flatten()
                | "ReportWindows" >> window_sink.ReportWindows(job.output, job.window, tables=list(tables)))


def _camel(name: str) -> str:
    return name.title().replace("_", "")
