"""The Beam side of the core's counters and dead letters (thin on purpose)."""
from __future__ import annotations

from typing import Iterator

from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from core.counters import CounterInc
from core.dead_letters import COUNTER_NAMESPACE, DEAD_LETTER, counter_name
from schemas.records import DeadLetter


def beam_counter(namespace: str) -> CounterInc:
    """A :class:`core.counters.CounterInc` bumping Beam counters ``namespace/<name>``."""
    def inc(name: str, n: int = 1) -> None:
        Metrics.counter(namespace, name).inc(n)
    return inc


def dead_letter_outputs(letter: DeadLetter, window=None, timestamp=None) -> Iterator[pvalue.TaggedOutput]:
    """Count ``letter`` and emit it on the :data:`DEAD_LETTER` output (in ``window``
    at ``timestamp`` when given: results of a thread pool may belong to an earlier element)."""
    Metrics.counter(COUNTER_NAMESPACE, counter_name(letter)).inc()
    value = letter if window is None else WindowedValue(letter, timestamp, [window])
    yield pvalue.TaggedOutput(DEAD_LETTER, value)
