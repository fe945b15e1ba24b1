"""The extraction stage in Beam: FetchedPage -> Article, with dead letters and lineage.

The decision for one page is Beam-free, in ``core/`` (``core.article`` for the
whole page, ``core.body`` for the text, ``core.metadata`` for what the page says
about itself, ``core.charset`` for decoding); it runs in a killable worker process
that imports no Beam. The names below are re-exported for existing callers.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from core import usage as usage_rights
from core.article import (EXTRACT_TIMEOUT_S, MAX_TITLE_CHARS, MIN_ARTICLE_WORDS, NO_DATE,  # noqa: F401
                          extract_article, extract_counted, extract_with_budget, read_metadata)
from core.body import (FALLBACK_OPTIONS, MAX_EXTRACT_BYTES, MAX_TAGS, TRAFILATURA_OPTIONS,  # noqa: F401
                       ExtractedBody, ExtractionError, extract_body, extract_text, parse_page, precheck,
                       publisher_body)
from core.charset import decode_html  # noqa: F401
from core.dates import parse_datetime, plausible  # noqa: F401
from core.dead_letters import DEAD_LETTER, alias_dead_letters
from core.metadata import (_iter_jsonld, _jsonld_article, _meta, clean_authors, clean_title,  # noqa: F401
                           content_hash, detect_language, genre_hints, page_date, word_count)
from schemas.records import DeadLetter, FetchedPage
from transforms.emit import dead_letter_outputs
from transforms.sources import load_content

LINEAGE = "lineage"  # (request URL, article URL) pairs, for the run's accounting


class _ExtractFn(beam.DoFn):
    def __init__(self, min_words: int, timeout: Optional[float] = EXTRACT_TIMEOUT_S, tdm: str = "record",
                 close_workers: bool = False):
        self._min_words = min_words
        self._timeout = timeout
        self._tdm = tdm
        self._close_workers = close_workers
        self.extracted = Metrics.counter("extract", "articles")

    def finish_bundle(self):
        # A batch stage extracts all its pages in one bundle (per worker): its extraction
        # workers (~165 MiB each) are not needed after it, and their 5 s idle close left them
        # beside the next stages' model loading (docs/performance.md, "The 600-page job's peak was a race").
        if self._close_workers:
            from core import sandbox
            sandbox.close_idle(0)

    def process(self, page: FetchedPage):
        page = load_content(page)  # a saved page's bytes are read here, not shipped between stages
        if isinstance(page, DeadLetter):
            yield from dead_letter_outputs(page)
            return
        result, counts = extract_with_budget(page, min_words=self._min_words, timeout=self._timeout)
        if self._tdm == "skip":
            result = usage_rights.skip_if_reserved(result, page.request.url)
        for name, n in counts.items():
            Metrics.counter("extract", name).inc(n)
        if isinstance(result, DeadLetter):
            yield from dead_letter_outputs(result)
            for alias in alias_dead_letters(result, page.request.aliases):
                yield beam.pvalue.TaggedOutput(DEAD_LETTER, alias)
        else:
            self.extracted.inc()
            yield beam.pvalue.TaggedOutput(LINEAGE, (page.request.url, result.url))
            yield (result if page.request.url == result.url
                   else dataclasses.replace(result, input_url=page.request.url))


class ExtractArticles(beam.PTransform):
    """FetchedPage -> Article, with a ``dead_letter`` output and ``lineage``
    ((request URL, article URL) pairs: redirects and canonical links change the URL).

    ``timeout``: seconds per page (None/0: in-process, unlimited)."""

    def __init__(self, min_words: int = MIN_ARTICLE_WORDS, label: Optional[str] = None,
                 timeout: Optional[float] = EXTRACT_TIMEOUT_S, tdm: str = "record",
                 close_workers: bool = False):
        super().__init__(label)
        self._min_words = min_words
        self._timeout = timeout
        self._tdm = tdm  # core.usage.TDM_MODES; "skip" dead-letters TDM-reserved pages
        self._close_workers = close_workers  # after each bundle (batch); else once idle 5 s

    def expand(self, pages):
        return pages | "Extract" >> beam.ParDo(_ExtractFn(
            self._min_words, self._timeout, self._tdm, self._close_workers)).with_outputs(
            DEAD_LETTER, LINEAGE, main="articles")
