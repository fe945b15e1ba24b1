"""The topic stage in Beam: a thin wrapper over :mod:`core.topics` (Beam-free: signals,
the classifier, the decision), which loads the classifier once per worker."""
from __future__ import annotations

from typing import Optional

import apache_beam as beam
from apache_beam.metrics import Metrics

from core.topics import (MAX_TEXT_CHARS, MODEL_FORMAT, MODEL_PATH, UNSUPPORTED_LANGUAGE,  # noqa: F401
                         TopicClassifier, TopicDecision, assign_topic, choose, choose_topic, classifier_text,
                         explicit_signals, is_opinion_marker, subject_and_genre, tokenize, url_slugs, url_topic)
from schemas.records import Article


class _AssignTopicFn(beam.DoFn):
    """Loads the classifier once per worker (``setup``), then assigns topics."""

    def __init__(self, use_classifier: bool = True):
        self._use_classifier = use_classifier
        self._classifier: Optional[TopicClassifier] = None

    def setup(self):
        if self._use_classifier:
            self._classifier = TopicClassifier.load()

    def process(self, article: Article):
        result = assign_topic(article, self._classifier)
        Metrics.counter("topics", result.topic).inc()
        yield result


class AssignTopics(beam.PTransform):
    """Article -> Article with ``topic``, ``topic_source``, ``topic_confidence``, ``is_opinion``."""

    def __init__(self, use_classifier: bool = True, label: Optional[str] = None):
        super().__init__(label)
        self._use_classifier = use_classifier

    def expand(self, articles):
        return articles | "Assign" >> beam.ParDo(_AssignTopicFn(self._use_classifier))
