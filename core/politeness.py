"""Per-host politeness: a minimum delay and a concurrency limit per host, shared by
every request a worker process makes (robots.txt, feeds, pages, retries).
"""
from __future__ import annotations

import contextlib
import threading
import time
import urllib.parse
from typing import Callable, Dict, Iterator, Tuple

from core import interrupt
from core.fetch_config import FetchConfig


def host_key(url: str) -> str:
    """The politeness key: host[:port] in lowercase, without user info."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


class _HostState:
    __slots__ = ("ends", "busy", "delay", "limit", "hold_until")

    def __init__(self, delay: float, concurrency: int):
        self.ends = [float("-inf")] * concurrency  # when each lane last finished a request
        self.busy = [False] * concurrency
        self.delay = delay
        self.limit = concurrency
        self.hold_until = float("-inf")


class HostThrottle:
    """Per-host politeness shared by all threads of a worker process.

    At most ``concurrency`` requests to a host are in flight; each of those
    lanes waits ``delay`` seconds after its previous request ended before
    starting the next. A robots.txt ``Crawl-delay`` raises the delay and
    limits the host to one lane; a ``Retry-After`` holds the whole host.
    """

    def __init__(self, delay: float, concurrency: int = 1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = interrupt.sleep):
        self.delay = max(0.0, delay)
        self.concurrency = max(1, int(concurrency))
        self._clock = clock
        self._sleep = sleep
        self._cond = threading.Condition()
        self._hosts: Dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _HostState(self.delay, self.concurrency)
        return state

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        with self._cond:
            state = self._state(host)
            state.delay = max(self.delay, seconds)
            state.limit = 1

    def hold(self, host: str, seconds: float) -> None:
        """No request to ``host`` before ``seconds`` from now (Retry-After)."""
        with self._cond:
            state = self._state(host)
            state.hold_until = max(state.hold_until, self._clock() + seconds)

    def delay_for(self, host: str) -> float:
        with self._cond:
            return self._state(host).delay

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """Hold a lane of ``host`` for one request; yields the seconds waited."""
        started = self._clock()
        with self._cond:
            state = self._state(host)
            while sum(state.busy) >= state.limit:
                self._cond.wait(interrupt.POLL_SECONDS)
                interrupt.check()
            free = [i for i, busy in enumerate(state.busy) if not busy]
            # One lane: wait after the most recent request; several: the lane free longest.
            pick = max if state.limit == 1 else min
            lane = pick(free, key=lambda i: state.ends[i])
            state.busy[lane] = True
            ready = max(state.ends[lane] + state.delay, state.hold_until)
            if state.limit == 1:
                ready = max(ready, max(state.ends) + state.delay)
        try:
            pause = ready - self._clock()
            if pause > 0:
                self._sleep(pause)
            yield self._clock() - started
        finally:
            with self._cond:
                state.ends[lane] = self._clock()
                state.busy[lane] = False
                self._cond.notify_all()


_SHARED: Dict[Tuple, object] = {}
_SHARED_LOCK = threading.Lock()


def shared_throttle(config: FetchConfig) -> HostThrottle:
    """One throttle per worker process and politeness setting, so feed reads,
    robots.txt and page fetches of a host are all spaced, whichever DoFn makes them."""
    key = ("throttle", config.host_delay, config.host_concurrency)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = HostThrottle(config.host_delay, config.host_concurrency)
        return _SHARED[key]  # type: ignore[return-value]
