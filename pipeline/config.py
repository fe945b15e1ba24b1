"""One job's settings: every default and every cross-flag check in one place.

``pipeline/options.py`` declares the flags and takes its defaults from
:data:`DEFAULTS`; the job builders read a :class:`JobConfig` (never the raw
options), so a setting cannot have two defaults or be read two ways. Fetching
and near-duplicate defaults are those of ``FetchConfig`` / ``NearDupConfig``
themselves (the fetcher and dedup used without the CLI behave the same).
"""
from __future__ import annotations

import dataclasses
from typing import List, Optional, Tuple, Union

from pipeline.errors import UsageError
from core.fetch_config import FetchConfig, user_agent
from core.warc import WarcRange
from transforms.minhash import NearDupConfig

_FETCH, _NEAR = FetchConfig(), NearDupConfig()  # the fetcher's and dedup's own defaults

# Beam's local runner modes that cannot run a streaming job here: each worker is
# another process, so the poller's stop flag and the in-process window buffer
# are not shared (docs/streaming.md).
STREAMING_UNSUPPORTED_MODES = ("multi_processing",)


# Pages of a chunk when --chunk-pages is not given (docs/performance.md "Memory flat in input
# size"): a 600-page chunk peaks at about the 600-page job (1.05-1.08x on 3,000 pages, in-process)
# and costs no more CPU than 1,000-page chunks; a 1,000-page chunk peaked at 1.12x in-process and
# 1.18x with 2 workers, too close to the 1.2x bound once a chunk also reads the state.
# The same for every runner and worker count: the chunks decide which copy is the
# representative, so they must not depend on how the run executes.
DEFAULT_CHUNK_PAGES = 600

# Up to this many pages, a run with the default chunk size is one job: a second chunk's start-up
# (~3.5 CPU-s in-process, ~12 with 2 workers) costs more than it saves, and a 1,000-page job
# peaks within 1.2x of a 600-page one. An explicit --chunk-pages N is a hard limit.
ONE_JOB_PAGES = 1000


@dataclasses.dataclass(frozen=True)
class JobConfig:
    """Every newsbeam setting, with its default (the flags' defaults come from here)."""
    output: Optional[str] = None
    streaming: bool = False
    # sources
    html_dir: Optional[str] = None
    html_files: Tuple[str, ...] = ()  # a chunk's share of --html-dir (empty: the whole folder)
    warc: Tuple[Union[str, WarcRange], ...] = ()  # patterns, or a chunk's record ranges (pipeline/chunks.py)
    # fetching
    contact: Optional[str] = None
    allow_private_hosts: bool = False
    host_delay: float = _FETCH.host_delay
    ignore_robots: bool = not _FETCH.respect_robots
    fetch_timeout: float = _FETCH.total_timeout
    max_page_bytes: int = _FETCH.max_bytes
    max_parallel_hosts: int = _FETCH.max_parallel_hosts
    host_concurrency: int = _FETCH.host_concurrency
    # processing
    min_words: int = 25
    extract_timeout: float = 30.0
    max_entities: int = 50
    boilerplate_min_articles: int = 3  # 0: off
    tdm: str = "record"
    # near-duplicates
    near_duplicates: bool = True
    shingle_size: int = _NEAR.shingle
    near_dup_threshold: float = _NEAR.jaccard
    near_dup_containment: float = _NEAR.containment
    lsh_bands: int = _NEAR.bands
    lsh_rows: int = _NEAR.rows
    # output
    max_rows_per_file: int = 100_000
    # performance: a local batch run over more pages runs as chunks of this many (0: one job;
    # None: DEFAULT_CHUNK_PAGES, and one job up to ONE_JOB_PAGES)
    chunk_pages: Optional[int] = None
    # streaming
    poll_interval: float = 60.0
    window: float = 60.0
    max_runtime: Optional[float] = None
    direct_running_mode: Optional[str] = None  # Beam's flag, checked for streaming

    @classmethod
    def from_options(cls, options) -> "JobConfig":
        """From Beam ``PipelineOptions`` (any view) holding the newsbeam flags."""
        from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
        from pipeline.options import NewsbeamOptions
        nb = options.view_as(NewsbeamOptions)
        values = {f.name: getattr(nb, f.name) for f in dataclasses.fields(cls) if hasattr(nb, f.name)}
        values["warc"] = tuple(nb.warc or ())
        values["near_duplicates"] = not nb.no_near_duplicates
        values["streaming"] = bool(options.view_as(StandardOptions).streaming)
        values["direct_running_mode"] = options.view_as(DirectOptions).direct_running_mode
        return cls(**values)

    def fetch(self) -> FetchConfig:
        """The fetcher's settings."""
        return FetchConfig(
            user_agent=user_agent(self.contact), total_timeout=self.fetch_timeout,
            connect_timeout=min(10.0, self.fetch_timeout), max_bytes=self.max_page_bytes,
            allow_private_hosts=self.allow_private_hosts, host_delay=max(0.0, self.host_delay),
            respect_robots=not self.ignore_robots, max_parallel_hosts=max(1, self.max_parallel_hosts),
            host_concurrency=max(1, self.host_concurrency))

    def near(self) -> Optional[NearDupConfig]:
        """Near-duplicate settings, None when off."""
        if not self.near_duplicates:
            return None
        return NearDupConfig(shingle=self.shingle_size, bands=self.lsh_bands, rows=self.lsh_rows,
                             jaccard=self.near_dup_threshold,
                             containment=self.near_dup_containment).validate()

    def problems(self, inputs=None) -> List[str]:
        """Usage problems of this configuration (with ``inputs``: of the job as a whole)."""
        found = []
        if self.boilerplate_min_articles not in (0,) and self.boilerplate_min_articles < 2:
            found.append("--boilerplate-min-articles must be 0 (off) or at least 2")
        if self.streaming:
            found += self._streaming_problems(inputs)
        return found

    def _streaming_problems(self, inputs) -> List[str]:
        found = []
        if inputs is not None and (inputs.pages or self.html_dir or self.warc):
            found.append("streaming mode polls feeds only; run pages (--url, [[page]]), --html-dir and "
                         "--warc as a batch job")
        elif inputs is not None and not inputs.feeds:
            found.append("streaming mode needs at least one feed (--feed or --sources)")
        for name in ("poll_interval", "window"):
            if getattr(self, name) <= 0:
                found.append(f"--{name.replace('_', '-')} must be > 0 seconds")
        if self.max_runtime is not None and self.max_runtime <= 0:
            found.append("--max-runtime must be > 0 seconds")
        if (self.direct_running_mode or "") in STREAMING_UNSUPPORTED_MODES:
            found.append(f"--direct_running_mode={self.direct_running_mode} cannot run a streaming job "
                         f"(workers in other processes share no stop flag or window buffer); use "
                         f"in_memory or multi_threading")
        return found

    def check(self, inputs=None) -> "JobConfig":
        """Raise :class:`UsageError` on the first problem; returns self."""
        found = self.problems(inputs)
        if found:
            raise UsageError(found[0])
        return self


DEFAULTS = JobConfig()
