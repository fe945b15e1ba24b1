"""Command-line options, as Beam ``PipelineOptions`` subclasses.

Every newsbeam flag has a dashed name (``--host-delay``) and a Beam-style
snake_case alias (``--host_delay``). Beam's own flags (``--runner``,
``--direct_num_workers``, ...) pass through untouched.
"""
from __future__ import annotations

import argparse

from apache_beam.options.pipeline_options import PipelineOptions

from pipeline.config import DEFAULT_CHUNK_PAGES, DEFAULTS, ONE_JOB_PAGES
from transforms.usage import TDM_MODES


def _bounded(kind, low, high):
    """argparse type: a number in [low, high] (out of range = usage error, exit 2)."""
    def parse(text: str):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is not in [{low}, {high}]")
        return value
    parse.__name__ = kind.__name__
    return parse


def _at_least(kind, low):
    """argparse type: a number >= ``low`` (a negative delay or a zero timeout is a usage error)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value >= low or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number >= {low}, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _positive(kind):
    """argparse type: a number > 0."""
    def parse(text: str):
        value = _at_least(kind, 0)(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    parse.__name__ = kind.__name__
    return parse


def _flag(group, name: str, **kwargs):
    dashed = f"--{name}"
    snake = f"--{name.replace('-', '_')}"
    names = [dashed] if dashed == snake else [dashed, snake]
    group.add_argument(*names, dest=name.replace("-", "_"), **kwargs)


def _min_articles(value: str) -> int:
    """0 (off) or >= 2: a paragraph seen in one article is never template text."""
    import argparse
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {value!r}") from None
    if k != 0 and k < 2:
        raise argparse.ArgumentTypeError(f"must be 0 (off) or at least 2, got {k}")
    return k


def _sources_flags(parser) -> None:
    sources = parser.add_argument_group("sources")
    _flag(sources, "feed", action="append", default=None, metavar="URL",
          help="RSS/Atom/JSON feed URL (http(s):// or file://, or a local path); repeatable")
    _flag(sources, "url", action="append", default=None, metavar="URL",
          help="article page URL to fetch directly; repeatable")
    _flag(sources, "html-dir", default=DEFAULTS.html_dir, metavar="DIR",
          help="folder of saved pages (*.html, *.htm, .gz variants), read recursively")
    _flag(sources, "sources", default=None, metavar="FILE",
          help="sources file: TOML ([[feed]] url/topic/tags/poll_interval, [[page]], [hosts] "
               "allow/deny), OPML (a feed reader's export) or plain text (one URL per line, # comments)")
    _flag(sources, "warc", action="append", default=None, metavar="PATH_OR_GLOB",
          help="WARC/WARC.gz archive(s), e.g. CC-NEWS: a file, folder or glob; HTML responses are "
               "processed with fetched_at = WARC-Date; repeatable")


def _fetching_flags(parser) -> None:
    fetching = parser.add_argument_group("fetching")
    _flag(fetching, "allow-private-hosts", action="store_true", default=DEFAULTS.allow_private_hosts,
          help="allow loopback/private/link-local addresses (refused by default: SSRF guard)")
    _flag(fetching, "host-delay", type=_at_least(float, 0), default=DEFAULTS.host_delay, metavar="SECONDS",
          help=f"minimum pause between requests to one host (default {DEFAULTS.host_delay}; 0 disables)")
    _flag(fetching, "ignore-robots", action="store_true", default=DEFAULTS.ignore_robots,
          help="do not fetch or honour robots.txt (default: respect it)")
    _flag(fetching, "contact", default=DEFAULTS.contact, metavar="TEXT",
          help="contact (URL or e-mail) put in the User-Agent so site owners can reach you")
    _flag(fetching, "fetch-timeout", type=_positive(float), default=DEFAULTS.fetch_timeout, metavar="SECONDS",
          help=f"total time budget for one request, redirects included (default {DEFAULTS.fetch_timeout:g})")
    _flag(fetching, "max-page-bytes", type=_positive(int), default=DEFAULTS.max_page_bytes, metavar="BYTES",
          help=f"abort bodies larger than this, after decompression (default {DEFAULTS.max_page_bytes // 2 ** 20} MiB)")
    _flag(fetching, "max-parallel-hosts", type=_positive(int), default=DEFAULTS.max_parallel_hosts, metavar="N",
          help=f"hosts fetched at once per worker (default {DEFAULTS.max_parallel_hosts})")
    _flag(fetching, "host-concurrency", type=_positive(int), default=DEFAULTS.host_concurrency, metavar="N",
          help="requests in flight per host per worker, each waiting --host-delay after "
               f"its previous one (default {DEFAULTS.host_concurrency}; a robots.txt Crawl-delay forces 1)")


def _processing_flags(parser) -> None:
    processing = parser.add_argument_group("processing")
    _flag(processing, "min-words", type=_at_least(int, 0), default=DEFAULTS.min_words, metavar="N",
          help="pages with fewer words after cleaning (CJK and Thai estimated from characters) "
               "are dead-lettered as not_an_article; listings, error and index pages are "
               f"refused on evidence whatever their length (default {DEFAULTS.min_words})")
    _flag(processing, "extract-timeout", type=_at_least(float, 0), default=DEFAULTS.extract_timeout, metavar="SECONDS",
          help="time budget per page for extraction, in a worker process killed when it is "
               f"exceeded (dead letter extract_timeout; default {DEFAULTS.extract_timeout:g}; 0: in-process, no limit)")
    _flag(processing, "max-entities", type=_positive(int), default=DEFAULTS.max_entities, metavar="N",
          help=f"keep at most N entities per article, most mentioned first (default {DEFAULTS.max_entities})")
    _flag(processing, "boilerplate-min-articles", type=_min_articles, default=DEFAULTS.boilerplate_min_articles, metavar="K",
          help="per-site boilerplate learning: a paragraph found in K or more distinct, "
               f"unrelated articles of one site is template text and is removed (default {DEFAULTS.boilerplate_min_articles}; 0: off)")
    _flag(processing, "tdm", default=DEFAULTS.tdm, choices=TDM_MODES,
          help="pages whose publisher reserves text-and-data mining (W3C TDMRep): record "
               "(default: write them, usage.tdm_reservation says so), omit-body (write the row "
               "with metadata and entities, empty body) or skip (dead letter tdm_reserved)")


def _near_flags(parser) -> None:
    near = parser.add_argument_group("near-duplicates (MinHash + LSH, verified on shingles)")
    _flag(near, "shingle-size", type=_bounded(int, 1, 8), default=DEFAULTS.shingle_size, metavar="WORDS",
          help=f"words per shingle (default {DEFAULTS.shingle_size})")
    _flag(near, "near-dup-threshold", type=_bounded(float, 0.01, 1.0), default=DEFAULTS.near_dup_threshold, metavar="J",
          help="Jaccard of shingle sets at or above which two bodies are one story "
               f"(default {DEFAULTS.near_dup_threshold}; 1 disables Jaccard matching)")
    _flag(near, "near-dup-containment", type=_bounded(float, 0.01, 1.0), default=DEFAULTS.near_dup_containment, metavar="C",
          help="share of the shorter body's word 5-grams found in the other at or above which "
               f"it is an excerpt or cut-short copy (default {DEFAULTS.near_dup_containment}; 1 = whole text contained)")
    _flag(near, "lsh-bands", type=_bounded(int, 1, 128), default=DEFAULTS.lsh_bands, metavar="N",
          help=f"LSH bands (default {DEFAULTS.lsh_bands}); more bands find lower similarities, at more cost")
    _flag(near, "lsh-rows", type=_bounded(int, 1, 8), default=DEFAULTS.lsh_rows, metavar="N",
          help=f"signature values per band (default {DEFAULTS.lsh_rows}); signature size = bands x rows")
    _flag(near, "no-near-duplicates", action="store_true", default=False,
          help="skip near-duplicate detection (URL and exact-content dedup still run)")


def _output_flags(parser) -> None:
    output = parser.add_argument_group("output")
    _flag(output, "output", default=DEFAULTS.output, metavar="DIR",
          help="output location (local path, gs://, s3://); required")
    _flag(output, "max-rows-per-file", type=_positive(int), default=DEFAULTS.max_rows_per_file, metavar="N",
          help=f"split a partition into files of at most N rows (default {DEFAULTS.max_rows_per_file})")
    _flag(output, "wait", action="store_true", default=False,
          help="if another run is writing to --output, wait for it to end (default: refuse, "
               "naming the holder's host, pid and start time)")


def _display_flags(parser) -> None:
    display = parser.add_argument_group("progress and logging")
    _flag(display, "quiet", action="store_true", default=False,
          help="print only the final summary (no progress, warnings and errors only)")
    _flag(display, "log-level", default=None, type=str.upper,
          choices=("DEBUG", "INFO", "WARNING", "ERROR"),
          help="log level (default INFO; WARNING with --quiet)")
    _flag(display, "log-format", default="text", choices=("text", "json"),
          help="log lines as text (default) or one JSON object per line")
    _flag(display, "progress-interval", type=_at_least(float, 0), default=None, metavar="SECONDS",
          help="progress every N seconds (default: 2 on a terminal, redrawn in place; "
               "10 as log lines otherwise; 0 = off)")


def _performance_flags(parser) -> None:
    performance = parser.add_argument_group("performance")
    _flag(performance, "workers", type=_at_least(int, 0), default=0, metavar="N",
          help="worker processes for a local batch run (default 0: automatic, one per core when "
               "the input is big enough to pay their start-up and memory allows, in-process for "
               "small inputs; 1: in-process). Beam's --direct_running_mode/--direct_num_workers "
               "or --runner override it. Streaming always runs in one process")
    _flag(performance, "chunk-pages", type=_at_least(int, 0), default=None, metavar="N",
          help="a local batch run over more than N pages runs as consecutive chunks of at most N "
               "pages, each a Beam run into the same output (later chunks dedup against earlier "
               "ones as a rerun does), so memory stays flat in the input size; one summary and "
               f"report for the whole run (default {DEFAULT_CHUNK_PAGES}, and one job up to "
               f"{ONE_JOB_PAGES} pages; 0: one job). Remote "
               "runners (--runner Dataflow, Flink, Spark, Portable with a job server ...) always get one job")


def _streaming_flags(parser) -> None:
    streaming = parser.add_argument_group("streaming (with --streaming; see docs/streaming.md; runs in one "
                                          "process: no --workers, no multi_processing)")
    _flag(streaming, "poll-interval", type=_positive(float), default=DEFAULTS.poll_interval, metavar="SECONDS",
          help=f"poll each feed every N seconds (default {DEFAULTS.poll_interval:g}; a sources file's poll_interval "
               "overrides it per feed; feeds that rarely change or fail are polled less often)")
    _flag(streaming, "window", type=_positive(float), default=DEFAULTS.window, metavar="SECONDS",
          help="fixed windows of fetch time; each window's files are written once it is over "
               f"(default {DEFAULTS.window:g})")
    _flag(streaming, "max-runtime", type=float, default=DEFAULTS.max_runtime, metavar="SECONDS",
          help="stop after N seconds of polling (start-up not counted), flushing open windows "
               "(default: run until SIGINT/SIGTERM)")


class NewsbeamOptions(PipelineOptions):
    """Sources, fetching, processing and output flags."""

    @classmethod
    def _add_argparse_args(cls, parser):
        _sources_flags(parser)
        _fetching_flags(parser)
        _processing_flags(parser)
        _near_flags(parser)
        _output_flags(parser)
        _performance_flags(parser)
        _display_flags(parser)
        _streaming_flags(parser)
