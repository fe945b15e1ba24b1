"""Polling feeds continuously: the streaming job's source.

Pure part (testable without Beam): :func:`next_interval` (adaptive back-off),
:class:`FeedPollState` and :func:`after_poll` (what one poll changes),
:class:`SeenSet` (entry keys already emitted, bounded by TTL and size) and
:func:`seed_seen` (what an earlier run with the same output already wrote, so a
restart does not emit it again).

Beam part:

- :class:`PollTicks`: an unbounded splittable DoFn like ``PeriodicImpulse``
  (same defer-the-remainder mechanism) that emits one :class:`Tick` per polling
  round, at most one per bundle, skips rounds it is too late for instead of
  bursting, stops early when :func:`request_stop` is called (SIGINT/SIGTERM in
  the CLI) and always ends with a ``final`` tick in a bundle of its own, after
  every earlier round's output has been processed. The final tick tells the
  window writers to flush what they hold.
- :class:`PollFeeds`: ticks -> new page requests grouped by host, plus dead
  letters. A stateful DoFn keyed by feed URL keeps each feed's conditional-GET
  validators, back-off and seen-set in Beam state (no timers: correctness never
  depends on a timer firing, cf. apache/beam#35168).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import threading
import time
import uuid
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.restriction_trackers import OffsetRange, OffsetRestrictionTracker
from apache_beam.metrics import Metrics
from apache_beam.transforms.core import RestrictionProvider
from apache_beam.utils.timestamp import Timestamp

from core.dead_letters import DEAD_LETTER
from schemas import reasons
from schemas.records import DeadLetter, FeedRequest, PageRequest
from transforms import feed_state, urls
from transforms.sources import host_refusal
from transforms import feeds as feeds_mod
from transforms import fetch as fetch_mod

LOG = logging.getLogger("newsbeam.poll")

FAILING_AFTER = 3          # consecutive failures before a feed is reported as failing
MAX_BACKOFF = 16           # a feed is never polled less often than base x this
UNCHANGED_GROWTH = 1.5     # each unchanged poll stretches the interval by this factor...
MAX_UNCHANGED_FACTOR = 4   # ...up to this many times the base interval
DEFAULT_TTL = dt.timedelta(days=7)
MAX_SEEN_PER_FEED = 20_000
_STOP = threading.Event()


def request_stop() -> None:
    """Ask running :class:`PollTicks` sources (in this process) to end: the
    current round finishes, then the final tick flushes every window."""
    _STOP.set()


def clear_stop() -> None:
    _STOP.clear()


def stop_requested() -> bool:
    return _STOP.is_set()


# --------------------------------------------------------------------------- back-off

def next_interval(base: float, unchanged: int, failures: int) -> float:
    """Seconds until a feed's next poll: ``base`` for a feed that just changed;
    stretched x1.5 per unchanged poll (up to x4) for feeds that rarely change;
    doubled per consecutive failure (up to x16) for failing feeds."""
    base = max(0.001, base)
    if failures > 0:
        return base * min(MAX_BACKOFF, 2 ** failures)
    return base * min(MAX_UNCHANGED_FACTOR, UNCHANGED_GROWTH ** unchanged)


@dataclasses.dataclass
class FeedPollState:
    """What the poller remembers about one feed (Beam state, pickled)."""
    validators: Optional[feed_state.FeedState] = None  # ETag / Last-Modified / body hash
    unchanged: int = 0         # consecutive polls with nothing new
    failures: int = 0          # consecutive failed reads
    next_due: float = 0.0      # epoch seconds
    polls: int = 0
    seen: Dict[str, float] = dataclasses.field(default_factory=dict)  # entry key -> first seen


def after_poll(state: FeedPollState, now: float, base: float, *, failed: bool, new_entries: int
               ) -> FeedPollState:
    """The state after a poll at ``now``; returns the same object, updated."""
    state.polls += 1
    if failed:
        state.failures += 1
    else:
        state.failures = 0
        state.unchanged = 0 if new_entries else state.unchanged + 1
    state.next_due = now + next_interval(base, state.unchanged, state.failures)
    return state


def entry_key(url: str) -> str:
    """An entry's identity: its link's URL key (tracking parameters, fragments
    and letter case of the host do not make a new entry)."""
    return urls.url_key(url)


class SeenSet:
    """Entry keys with the time first seen, forgetting those older than ``ttl``
    seconds and the oldest beyond ``max_size``. Works on a plain dict so it can
    live in Beam state."""

    def __init__(self, entries: Dict[str, float], ttl: float, max_size: int = MAX_SEEN_PER_FEED):
        self.entries = entries
        self.ttl = ttl
        self.max_size = max_size

    def prune(self, now: float) -> None:
        horizon = now - self.ttl
        stale = [k for k, t in self.entries.items() if t < horizon]
        for key in stale:
            del self.entries[key]
        if len(self.entries) > self.max_size:
            for key, _t in sorted(self.entries.items(), key=lambda kv: (kv[1], kv[0]))[:len(self.entries) - self.max_size]:
                del self.entries[key]

    def add_new(self, keys: Iterable[str], now: float) -> List[str]:
        """Record ``keys``; returns those not seen before (in order, once each)."""
        fresh = []
        for key in keys:
            if key not in self.entries:
                self.entries[key] = now
                fresh.append(key)
        return fresh


def _columns(path: str, names: Sequence[str]):
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        data = handle.read()
    schema_names = set(pq.read_schema(io.BytesIO(data)).names)
    return pq.read_table(io.BytesIO(data), columns=[n for n in names if n in schema_names]).to_pylist()


def seed_seen(output: str, ttl: float, now: Optional[float] = None) -> Dict[str, float]:
    """Entry keys an earlier run wrote into ``output`` (articles' URL and
    canonical URL, duplicates' and dead letters' URL), with their time, within
    ``ttl``. Read from the written data, not from a separate journal, so what is
    in the lake is exactly what a restart skips."""
    from apache_beam.io.filesystems import FileSystems
    from transforms.sink import join_path
    now = time.time() if now is None else now
    horizon = now - ttl
    seen: Dict[str, float] = {}
    sources = (("", "**/*.parquet", ("url", "canonical_url", "fetched_at")),
               ("_duplicates", "**/*.parquet", ("url", "detected_at")),
               ("_dead_letters", "**/*.parquet", ("url", "at")))
    for folder, pattern, columns in sources:
        try:
            matches = [m.path for r in FileSystems.match([join_path(output, folder, pattern)])
                       for m in r.metadata_list]
        except Exception:  # no such folder yet
            continue
        for path in sorted(matches):
            if "/_" in path[len(output):] and folder == "":
                continue  # the articles' glob also matches _duplicates, _state, ...
            if "/." in path[len(output):]:
                continue  # a temp file being written
            try:
                rows = _columns(path, columns)
            except Exception as exc:  # a damaged file costs a re-fetch, not the job
                LOG.warning("seen-set: cannot read %s: %s", path, exc)
                continue
            for row in rows:
                stamp = row.get(columns[-1])
                when = stamp.timestamp() if stamp is not None else now
                if when < horizon:
                    continue
                for name in columns[:-1]:
                    if row.get(name):
                        key = entry_key(row[name])
                        seen[key] = max(seen.get(key, when), when)
    return seen


# --------------------------------------------------------------------------- ticks

@dataclasses.dataclass(frozen=True)
class Tick:
    """One polling round at ``time`` (epoch seconds); ``final``: the source is
    ending, flush everything (no data is polled on it)."""
    time: float
    index: int
    final: bool = False


_ORIGINS: Dict[str, float] = {}  # source token -> time of its first round (this process)


def _rounds(duration: float, interval: float) -> int:
    return max(1, int(duration / interval + 0.999999))  # ticks at origin + k*interval < origin + duration


class _TickRestrictions(RestrictionProvider):
    def initial_restriction(self, element):
        _token, _start, duration, interval = element
        return OffsetRange(0, _rounds(duration, interval) + 1)  # + the final tick

    def create_tracker(self, restriction):
        return OffsetRestrictionTracker(restriction)

    def truncate(self, element, restriction):
        """Draining (Dataflow ``drain``): no more rounds, but still the final tick,
        at once, so the window writers flush what they hold instead of dropping it.
        Index ``rounds + 1`` (past the normal range) marks it as a drain."""
        _token, _start, duration, interval = element
        drained = _rounds(duration, interval) + 1
        return OffsetRange(drained, drained + 1)

    def restriction_size(self, element, restriction):
        return restriction.size()


class _TickFn(beam.DoFn):
    """Emits at most one tick per call, then defers the rest of its range; the
    deferral is short (``check`` s) so a stop request is noticed quickly.

    The clock starts at the first call (every DoFn of the stage is set up by
    then: loading models does not eat into the run time); a worker that never
    saw the first call (a distributed runner) falls back to the build time."""

    def __init__(self, check: float = 0.25):
        self._check = check

    @beam.DoFn.unbounded_per_element()
    def process(self, element, tracker=beam.DoFn.RestrictionParam(_TickRestrictions())):
        token, built, duration, interval = element
        restriction = tracker.current_restriction()
        index, last = restriction.start, restriction.stop - 1
        if index > last:
            return
        now = time.time()
        if index > _rounds(duration, interval):  # a drained source: the final tick, now
            if tracker.try_claim(index):
                yield beam.window.TimestampedValue(Tick(time=now, index=index, final=True), Timestamp(now))
            return
        start = _ORIGINS.setdefault(token, now if index == 0 else built)
        stop = start + duration
        if _STOP.is_set() or now >= stop:
            index = last
        elif index < last:
            # Too late for some rounds (a slow round): poll once now, not in a burst.
            index = max(index, min(last - 1, int((now - start) / interval)))
        due = stop if index == last and not _STOP.is_set() else start + index * interval
        if index == last and _STOP.is_set():
            due = now
        if due > now:
            tracker.defer_remainder(Timestamp(min(due, now + self._check)))
            return
        if not tracker.try_claim(index):
            return
        yield beam.window.TimestampedValue(Tick(time=due, index=index, final=index == last),
                                           Timestamp(due))
        if index < last:
            tracker.defer_remainder(Timestamp(now))  # next tick in a bundle of its own


class PollTicks(beam.PTransform):
    """Begin -> Tick every ``interval`` s for ``duration`` s, then a final tick.
    Like ``PeriodicImpulse``, but the clock starts when the source first runs
    (no catch-up burst, start-up not counted), it can stop early
    (:func:`request_stop`) and it ends with the final tick."""

    def __init__(self, duration: float, interval: float, label: Optional[str] = None):
        super().__init__(label)
        if interval <= 0 or duration <= 0:
            raise ValueError("need interval > 0 and duration > 0")
        self._element = (uuid.uuid4().hex, time.time(), float(duration), float(interval))

    def expand(self, pbegin):
        return (pbegin
                | "Impulse" >> beam.Create([self._element])
                | "Ticks" >> beam.ParDo(_TickFn()).with_output_types(Tick))


# --------------------------------------------------------------------------- polling

class _PollFeedFn(beam.DoFn):
    """One feed per key: poll it when due (conditional GET), emit the entries
    not seen before, grouped by host; dead letters for failures."""

    STATE = beam.transforms.userstate.ReadModifyWriteStateSpec("feed", beam.coders.PickleCoder())

    def __init__(self, config: fetch_mod.FetchConfig, output: Optional[str], base_interval: float,
                 ttl: float, hosts: Tuple[Tuple[str, ...], Tuple[str, ...]] = ((), ())):
        self._hosts = hosts  # the sources file's (allow, deny) lists
        self._config = config
        self._output = output
        self._base = base_interval
        self._ttl = ttl
        self._session = None
        self._throttle = None
        self._seeded: Dict[str, float] = {}
        self.polled = Metrics.counter("poll", "feeds_polled")
        self.new_entries = Metrics.counter("poll", "new_entries")
        self.skipped = Metrics.counter("poll", "entries_already_seen")

    def setup(self):
        self._session = fetch_mod.make_session(self._config)
        self._throttle = fetch_mod.shared_throttle(self._config)
        self._seeded = seed_seen(self._output, self._ttl) if self._output else {}
        if self._seeded:
            LOG.info("seen-set seeded with %d entries already written to %s", len(self._seeded),
                     self._output)

    def teardown(self):
        if self._session is not None:
            self._session.close()

    def process(self, element: Tuple[str, Tuple[Tick, FeedRequest]],
                feed=beam.DoFn.StateParam(STATE)):
        _url, (tick, request) = element
        state: FeedPollState = feed.read() or FeedPollState()
        now = time.time()
        if tick.final or now < state.next_due:
            return
        refusal = host_refusal(request.url, *self._hosts)
        if refusal is not None:  # refused by the sources file: one dead letter, never polled
            state.next_due = float("inf")
            feed.write(state)
            Metrics.counter("dead_letters", f"sources.{reasons.HOST_NOT_ALLOWED}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
                url=request.url, stage=reasons.STAGE_SOURCES, reason=reasons.HOST_NOT_ALLOWED,
                detail=refusal, at=dt.datetime.now(dt.timezone.utc)))
            return
        base = request.poll_interval or self._base
        self.polled.inc()
        try:
            response = feeds_mod.fetch_feed(request, self._session, self._config,
                                            headers=feed_state.conditional_headers(state.validators),
                                            throttle=self._throttle)
        except Exception as exc:
            letter = self._failed(request, state, now, base, exc)
            feed.write(state)
            yield pvalue.TaggedOutput(DEAD_LETTER, letter)
            return
        new_pages, dead = self._read(request, response, state, now, base)
        feed.write(state)
        by_host: Dict[str, List[PageRequest]] = {}
        for page in new_pages:
            by_host.setdefault(fetch_mod.host_key(page.url), []).append(page)
        for host in sorted(by_host):
            yield host, tuple(by_host[host])
        for letter in dead:
            yield pvalue.TaggedOutput(DEAD_LETTER, letter)

    def _failed(self, request: FeedRequest, state: FeedPollState, now: float, base: float,
                exc: Exception) -> DeadLetter:
        """A failed read: back off, warn when it keeps failing; its dead letter."""
        reason = exc.reason if isinstance(exc, fetch_mod.FetchError) else reasons.CONNECTION_ERROR
        detail = exc.detail if isinstance(exc, fetch_mod.FetchError) else f"{type(exc).__name__}: {exc}"
        after_poll(state, now, base, failed=True, new_entries=0)
        if state.failures >= FAILING_AFTER:
            Metrics.counter("poll", "feeds_failing").inc()
            LOG.warning("feed %s failed %d times in a row (%s); next poll in %.0f s",
                        request.url, state.failures, reason, state.next_due - now)
        return DeadLetter(url=request.url, stage=reasons.STAGE_FETCH, reason=reason, detail=detail[:500],
                          at=dt.datetime.now(dt.timezone.utc))

    def _read(self, request: FeedRequest, response, state: FeedPollState, now: float, base: float
              ) -> Tuple[List[PageRequest], List[DeadLetter]]:
        """A feed read: its entries not seen before (once each) and new dead letters;
        updates ``state`` (validators, seen-set, back-off)."""
        seen = SeenSet(state.seen, self._ttl)
        seen.prune(now)
        changed = True
        if urllib_scheme(request.url) in ("http", "https"):
            check = feed_state.assess(state.validators, request.url, response.status, response.headers,
                                      response.content, dt.datetime.fromtimestamp(now, dt.timezone.utc))
            state.validators = check.state
            changed = check.changed
        pages: List[PageRequest] = []
        dead: List[DeadLetter] = []
        if changed:
            pages, dead = feeds_mod.parse_feed(response.content, request,
                                               content_type=response.headers.get("content-type"),
                                               base_url=response.url)
        unparseable = any(d.reason == reasons.FEED_UNPARSEABLE for d in dead)
        if unparseable:
            state.validators = None  # read it in full next time
        fresh_keys = set(seen.add_new(
            [k for k in dict.fromkeys(entry_key(p.url) for p in pages) if k not in self._seeded], now))
        new_pages, emitted = [], set()
        for page in pages:
            key = entry_key(page.url)
            if key in fresh_keys and key not in emitted:
                emitted.add(key)
                new_pages.append(page)
        self.skipped.inc(len(pages) - len(new_pages))
        self.new_entries.inc(len(new_pages))
        # An entry without a link (or similar) is reported once, not on every poll.
        dead = [d for d in dead if d.reason == reasons.FEED_UNPARSEABLE or seen.add_new([d.url], now)]
        after_poll(state, now, base, failed=bool(dead) and not pages and unparseable,
                   new_entries=len(new_pages))
        return new_pages, dead


def urllib_scheme(url: str) -> str:
    import urllib.parse
    return urllib.parse.urlsplit(url).scheme


class PollFeeds(beam.PTransform):
    """Tick -> (host, requests) for entries not seen before (``requests``), and
    ``dead_letter``. ``feeds``: the feeds to poll; each is polled on the first
    tick at or after its due time (``interval`` or its own ``poll_interval``,
    stretched by back-off). ``output``: seed the seen-set from what is written
    there. ``ttl``: how long an entry key is remembered (seconds). ``allow_hosts`` /
    ``deny_hosts``: the sources file's host lists; a refused feed is never polled
    and becomes one dead letter (``host_not_allowed``), as in batch."""

    def __init__(self, feeds: Sequence[FeedRequest], config: fetch_mod.FetchConfig, interval: float,
                 output: Optional[str] = None, ttl: float = DEFAULT_TTL.total_seconds(),
                 label: Optional[str] = None, allow_hosts: Sequence[str] = (),
                 deny_hosts: Sequence[str] = ()):
        super().__init__(label)
        self._hosts = (tuple(allow_hosts), tuple(deny_hosts))
        self._feeds = list(feeds)
        self._config = config
        self._interval = interval
        self._output = output
        self._ttl = ttl

    def expand(self, ticks):
        feeds = self._feeds

        def _per_feed(tick: Tick):
            for request in feeds:
                yield request.url, (tick, request)

        return (ticks
                | "PerFeed" >> beam.FlatMap(_per_feed).with_output_types(Tuple[str, Tuple[Tick, FeedRequest]])
                | "PollFeed" >> beam.ParDo(_PollFeedFn(self._config, self._output, self._interval, self._ttl,
                                                  self._hosts))
                .with_outputs(DEAD_LETTER, main="requests"))
