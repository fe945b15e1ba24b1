"""One counter protocol for the core: a callable ``inc(name, n=1)``.

Core functions never see Beam metrics; they take ``counter_inc_fn`` (as TFDS's
``c4_utils`` does) and the caller decides where counts go: a Beam counter in a
DoFn (``transforms.emit.beam_counter``), a dict in the extraction worker (whose
Beam metrics would be lost), nothing in a benchmark.
"""
from __future__ import annotations

from typing import Dict, Optional, Protocol


class CounterInc(Protocol):
    def __call__(self, name: str, n: int = 1) -> None: ...


def no_counters(name: str, n: int = 1) -> None:
    """The default sink: counts are dropped."""


def or_none(counter_inc_fn: Optional[CounterInc]) -> CounterInc:
    """``counter_inc_fn`` itself, or :func:`no_counters` when None."""
    return counter_inc_fn or no_counters


class Tally:
    """Counts in a dict (``tally.counts``); pass the object itself as ``counter_inc_fn``."""

    def __init__(self) -> None:
        self.counts: Dict[str, int] = {}

    def __call__(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n
