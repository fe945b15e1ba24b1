"""The fetch stage in Beam: PageRequest -> FetchedPage, grouped by host.

The fetching itself is Beam-free, in ``core/``: the address guard and guarded
session (``core.addresses``), one logical GET with redirects, retries and caps
(``core.http``), per-host politeness (``core.politeness``), robots.txt
(``core.robots``) and page fetching (``core.pages``). :class:`FetchPages` groups
requests by host so each host is fetched with its delay while different hosts
proceed in parallel on a thread pool. The names below are re-exported for
existing callers (feeds, the streaming poller, benchmarks, tests).
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from core import interrupt
from core.addresses import (check_url_allowed, is_public_address, make_session, resolve,  # noqa: F401
                            supported_encodings, validate_url)
from core.charset import header_charset, resolve_charset  # noqa: F401
from core.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, alias_dead_letters, counter_name  # noqa: F401
from core.fetch_config import (DEFAULT_CONTACT, HTML_TYPES, INCOMPLETE_FEEDS, MAX_BODY_BYTES,  # noqa: F401
                               MAX_CRAWL_DELAY, MAX_REDIRECTS, PROJECT_URL, RETRY_STATUSES, TRANSIENT_REASONS,
                               FetchConfig, FetchError, Response, user_agent)
from core.http import (check_html, fetch_url, looks_like_html, parse_retry_after,  # noqa: F401
                       status_error)
from core.pages import fetch_host, fetch_host_pairs, fetch_page  # noqa: F401
from core.politeness import HostThrottle, host_key, shared_throttle
from core.robots import RobotsCache, parse_crawl_delay  # noqa: F401
from schemas.records import DeadLetter, PageRequest
from transforms.emit import dead_letter_outputs


def dead_letter_counter(letter: DeadLetter):
    """The Beam counter of a dead letter: namespace ``dead_letters``, name ``<stage>.<reason>``."""
    return Metrics.counter(COUNTER_NAMESPACE, counter_name(letter))


class _FetchHostsFn(beam.DoFn):
    """Fetches (host, requests) groups; several hosts at once on a thread pool.

    Each page is emitted as soon as it is fetched (fetch threads hand results
    over through a queue; the bundle's thread emits them and bumps counters),
    so extraction downstream overlaps with fetching. At most
    ``2 * max_parallel_hosts`` hosts are in flight so memory stays bounded.
    The throttle is per worker process (shared with the feed reader), the
    robots.txt cache per DoFn instance (in practice one per worker).
    """

    def __init__(self, config: FetchConfig):
        self._config = config
        self._pool: Optional[ThreadPoolExecutor] = None
        self._local: Optional[threading.local] = None
        self._robots: Optional[RobotsCache] = None
        self._throttle: Optional[HostThrottle] = None
        self._pending: List[Future] = []
        self._results: Optional["queue.Queue"] = None  # made per bundle
        self.fetched = Metrics.counter("fetch", "pages_fetched")
        self.failed = Metrics.counter("fetch", "pages_failed")

    def setup(self):
        self._pool = ThreadPoolExecutor(max_workers=self._config.max_parallel_hosts,
                                        thread_name_prefix="newsbeam-fetch")
        self._local = threading.local()
        self._throttle = shared_throttle(self._config)
        self._robots = RobotsCache(make_session(self._config), self._config, throttle=self._throttle)

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = make_session(self._config)
        return session

    def _run_host(self, requests_: List[PageRequest], window, timestamp) -> None:
        for request, result in fetch_host_pairs(self._session(), self._robots, requests_,
                                                self._config, throttle=self._throttle):
            self._results.put((request, result, window, timestamp))

    def start_bundle(self):
        self._pending = []
        self._results = queue.Queue()

    def process(self, element, window=beam.DoFn.WindowParam, timestamp=beam.DoFn.TimestampParam):
        _host, requests_ = element
        self._pending.append(self._pool.submit(self._run_host, list(requests_), window, timestamp))
        while len(self._pending) > 2 * self._config.max_parallel_hosts:
            self._pending.pop(0).result()
        yield from self._drain(block=False)

    def _drain(self, block: bool) -> Iterator:
        """Emit queued results; with ``block``, until every pending host is done."""
        while True:
            interrupt.check()  # Ctrl-C: stop emitting, do not wait for requests in flight
            try:
                item = self._results.get(timeout=0.05) if block else self._results.get_nowait()
            except queue.Empty:
                if not block:
                    return
                for future in [f for f in self._pending if f.done()]:
                    future.result()  # surface a bug in a fetch thread instead of losing it
                self._pending = [f for f in self._pending if not f.done()]
                if not self._pending and self._results.empty():
                    return
                continue
            yield from self._emit(*item)

    def _emit(self, request: PageRequest, result, window, timestamp) -> Iterator:
        # Results may belong to an earlier element: emit them in its window.
        if isinstance(result, DeadLetter):
            self.failed.inc()
            yield from dead_letter_outputs(result, window, timestamp)
            if result.reason in TRANSIENT_REASONS and request.feed_url and result.url == request.url:
                yield pvalue.TaggedOutput(INCOMPLETE_FEEDS,
                                          WindowedValue(request.feed_url, timestamp, [window]))
        else:
            self.fetched.inc()
            yield WindowedValue(result, timestamp, [window])

    def finish_bundle(self):
        yield from self._drain(block=True)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class FetchPages(beam.PTransform):
    """PageRequest -> FetchedPage (``pages``), with a ``dead_letter`` output of
    DeadLetter and an ``incomplete_feeds`` output: URLs of feeds some of whose
    entries failed transiently (so their conditional-GET state is not committed)."""

    def __init__(self, config: FetchConfig, label: Optional[str] = None):
        super().__init__(label)
        self._config = config

    def expand(self, requests_):
        return (
            requests_
            | "KeyByHost" >> beam.Map(lambda r: (host_key(r.url), r)).with_output_types(
                Tuple[str, PageRequest])
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchHosts" >> beam.ParDo(_FetchHostsFn(self._config)).with_outputs(
                DEAD_LETTER, INCOMPLETE_FEEDS, main="pages")
        )


class FetchHostGroups(beam.PTransform):
    """(host, requests) -> like :class:`FetchPages`, for input already grouped by
    host (the streaming poller groups each round's entries itself: a
    GroupByKey after an unbounded source holds everything until it ends on
    the local runner)."""

    def __init__(self, config: FetchConfig, label: Optional[str] = None):
        super().__init__(label)
        self._config = config

    def expand(self, groups):
        return groups | "FetchHosts" >> beam.ParDo(_FetchHostsFn(self._config)).with_outputs(
            DEAD_LETTER, INCOMPLETE_FEEDS, main="pages")
