"""A process-wide "stop now" flag for batch runs (the CLI sets it on the first Ctrl-C).

Fetching checks it before every request and while it waits (host delay,
backoff), and the sink before staging each partition, so an interrupted run
stops within a poll interval and publishes nothing (see ``sink.CommitStaged``).
Only the process that received the signal sees the flag: the in-process runner
(the default) honours it; remote runners have their own cancel.
"""
from __future__ import annotations

import threading
import time

_STOP = threading.Event()
POLL_SECONDS = 0.1


class Interrupted(Exception):
    """Raised inside the job when the operator asked it to stop."""


def request() -> None:
    _STOP.set()


def clear() -> None:
    _STOP.clear()


def requested() -> bool:
    return _STOP.is_set()


def check() -> None:
    if _STOP.is_set():
        raise Interrupted("stopped by the operator")


def sleep(seconds: float) -> None:
    """``time.sleep`` that ends early (raising :class:`Interrupted`) once a stop is requested."""
    deadline = time.monotonic() + max(0.0, seconds)
    while True:
        check()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        _STOP.wait(min(left, POLL_SECONDS))
