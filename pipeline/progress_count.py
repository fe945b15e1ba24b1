"""The progress line's counting in a Beam job: :class:`Count`, a side branch that adds
up what passes (``pipeline/progress.py`` sums the files it leaves). Apart from
``progress.py`` so that the CLI's chunk supervisor never imports Beam."""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import apache_beam as beam

from pipeline.progress import _flush, bump


class _CountFn(beam.DoFn):
    def __init__(self, directory: Optional[str], name: str,
                 weigh: Optional[Callable[[object], Iterable[tuple]]]):
        self._directory = directory
        self._name = name
        self._weigh = weigh

    def process(self, element):
        if self._weigh is None:
            bump(self._directory, self._name)
        else:
            for name, n, distinct in self._weigh(element):
                bump(self._directory, name, n, distinct)
        return ()

    def finish_bundle(self):
        if self._directory:
            _flush(self._directory, force=True)


class Count(beam.PTransform):
    """Count elements for the progress line; outputs nothing.

    ``weigh(element)`` may return ``(counter, n, distinct_or_None)`` triples
    instead of counting the element once under ``name``."""

    def __init__(self, directory: Optional[str], name: str,
                 weigh: Optional[Callable[[object], Iterable[tuple]]] = None,
                 label: Optional[str] = None):
        super().__init__(label)
        self._directory = directory
        self._name = name
        self._weigh = weigh

    def expand(self, pcoll):
        return pcoll | "Count" >> beam.ParDo(_CountFn(self._directory, self._name, self._weigh))
