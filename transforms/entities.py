"""The entity stage in Beam: ``BatchElements`` + a DoFn that loads the English model
once per worker in ``setup`` (other languages' models on first use).

Tagging itself is Beam-free, in ``core/entities.py`` (re-exported here).
"""
from __future__ import annotations

import logging
from typing import List, Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from core.entities import *  # noqa: F401,F403  (the plain API, for existing callers)
from core.entities import (BATCH_SIZE, LANGUAGE_MODELS, MAX_ENTITIES, ModelCache,  # noqa: F401
                           _single_blas_thread, tag_articles)
from core.dead_letters import DEAD_LETTER, dead_letter
from schemas import reasons
from schemas.records import Article
from transforms.emit import dead_letter_outputs

LOG = logging.getLogger(__name__)


class _TagBatchFn(beam.DoFn):
    def __init__(self, cap: int):
        self._cap = cap
        self._models: Optional[ModelCache] = None
        self.tagged = Metrics.counter("entities", "articles")
        self.untagged = Metrics.counter("entities", "articles_without_model")
        self.words = Metrics.counter("entities", "words")

    def setup(self):
        self._models = ModelCache()
        self._models.get(LANGUAGE_MODELS["en"])

    def process(self, batch: List[Article]):
        try:
            results = tag_articles(self._models, batch, cap=self._cap)
        except Exception as exc:  # fall back to one at a time to isolate a bad article
            LOG.warning("NER batch failed (%r); retrying articles one by one", exc)
            results = []
            for article in batch:
                try:
                    results.append(tag_articles(self._models, [article], cap=self._cap)[0])
                except Exception as inner:  # keep the article, record the failure
                    yield from dead_letter_outputs(dead_letter(
                        article.url, reasons.STAGE_ENTITIES, reasons.NER_ERROR,
                        f"{type(inner).__name__}: {inner}", at=article.fetched_at))
                    results.append(None)
        tagged = untagged = words = 0
        for article in results:
            if article is None:
                continue
            if article.entities_model is None:
                untagged += 1
            else:
                tagged += 1
                words += article.word_count
            yield article
        self.tagged.inc(tagged)  # once per batch: counters cost more than the rest per article
        self.untagged.inc(untagged)
        self.words.inc(words)


class TagEntities(beam.PTransform):
    """Article -> Article with ``entities``; a ``dead_letter`` output for NER failures."""

    def __init__(self, cap: int = MAX_ENTITIES, batch_size: int = BATCH_SIZE,
                 label: Optional[str] = None):
        super().__init__(label)
        self._cap = cap
        self._batch_size = batch_size

    def expand(self, articles):
        return (articles
                | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=self._batch_size)
                | "NER" >> beam.ParDo(_TagBatchFn(self._cap)).with_outputs(DEAD_LETTER, main="articles"))
