"""Assigning each article a topic slug from the fixed taxonomy.

Signals in order of trust: the operator's topic for the feed (``feed_config``),
the page's own section (``section``), the feed entry's / page's categories
(``category``), URL path segments (``url``), and last a text classifier over
title + body (``classifier``). Anything unrecognised maps to ``other``; a raw
string never becomes a slug.

The classifier is a linear model (TF-IDF of words -> softmax over the topical slugs)
shipped as ``transforms/topic_model.json`` and trained by ``benchmarks/train_topics.py``
from the labelled set in ``benchmarks/data/topics.txt``. Pure Python at run time:
no numpy, no download; ~0.1 ms per article. Below ``min_confidence`` it says ``other``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import re
import urllib.parse
from typing import Dict, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import Article
from schemas.taxonomy import DEFAULT_TOPIC, TOPICS, first_slug, is_topic, to_slug

MODEL_PATH = pathlib.Path(__file__).with_name("topic_model.json")
MAX_TEXT_CHARS = 6000  # the lede carries the topic; the tail only costs time

_SKIP_SEGMENTS = {"news", "article", "articles", "story", "stories", "www", "en", "index.html",
                  "amp", "content", "post", "posts", "the", "a"}


def url_topic(url: str) -> Optional[str]:
    """Topic from the URL path: the first segment that maps to a slug, ignoring
    the file name (``/politics/2025/05/x.html`` -> politics)."""
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return None
    segments = [s for s in path.split("/") if s][:-1]  # the last one is the slug/file name
    for segment in segments[:4]:
        if segment.lower() in _SKIP_SEGMENTS or segment.isdigit():
            continue
        slug = to_slug(segment)
        if slug is not None:
            return slug
    return None


# --------------------------------------------------------------------------- classifier

_WORD = re.compile(r"[a-z][a-z'\-]*[a-z]|[a-z]")
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
me more most my myself no nor not now of off on once only or other our ours ourselves out over
own same she should so some such than that the their theirs them themselves then there these they
this those through to too under until up very was we were what when where which while who whom
why will with would you your yours yourself yourselves said says say mr ms mrs one two three
four five six seven eight nine ten percent year years last first new week month day monday
tuesday wednesday thursday friday saturday sunday
""".split())


def tokenize(text: str, ngram: int = 1) -> List[str]:
    """Lowercase words (stopwords and 1-letter words dropped), plus word pairs if ``ngram`` is 2."""
    words = [w for w in _WORD.findall(text.lower().replace("\u2019", "'"))
             if len(w) > 1 and w not in STOPWORDS]
    words = [w[:-2] if w.endswith("'s") else w for w in words]
    if ngram >= 2:
        words += [f"{a} {b}" for a, b in zip(words, words[1:])]
    return words


def classifier_text(title: Optional[str], body: Optional[str]) -> str:
    """What the classifier reads: the title twice (it is dense in topic words), then the body."""
    title = title or ""
    return f"{title}\n{title}\n{(body or '')[:MAX_TEXT_CHARS]}"


def tfidf(tokens: Sequence[str], idf: Dict[str, float]) -> Dict[str, float]:
    """Sublinear term frequency x idf, L2-normalised; unknown terms are ignored."""
    counts: Dict[str, int] = {}
    for token in tokens:
        if token in idf:
            counts[token] = counts.get(token, 0) + 1
    vector = {t: (1.0 + math.log(c)) * idf[t] for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
    return {t: v / norm for t, v in vector.items()}


@dataclasses.dataclass(frozen=True)
class TopicClassifier:
    """A softmax-linear model over TF-IDF features (see ``benchmarks/train_topics.py``)."""
    labels: Tuple[str, ...]
    idf: Dict[str, float]
    weights: Dict[str, Tuple[float, ...]]  # term -> one weight per label
    bias: Tuple[float, ...]
    ngram: int = 1
    min_confidence: float = 0.0

    def __post_init__(self):
        assert all(label in TOPICS for label in self.labels), self.labels

    @classmethod
    def load(cls, path: pathlib.Path = MODEL_PATH) -> "TopicClassifier":
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        labels = tuple(data["labels"])
        terms = data["terms"]  # term -> [idf, w_label1, w_label2, ...]
        return cls(labels=labels, idf={t: v[0] for t, v in terms.items()},
                   weights={t: tuple(v[1:]) for t, v in terms.items()},
                   bias=tuple(data["bias"]), ngram=int(data.get("ngram", 1)),
                   min_confidence=float(data.get("min_confidence", 0.0)))

    def to_json(self, extra: Optional[dict] = None) -> str:
        terms = {t: [round(self.idf[t], 4)] + [round(w, 4) for w in self.weights[t]]
                 for t in sorted(self.weights)}
        data = {"format": "newsbeam-topic-model/1", "labels": list(self.labels),
                "ngram": self.ngram, "min_confidence": self.min_confidence,
                "bias": [round(b, 4) for b in self.bias], **(extra or {}), "terms": terms}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)

    def probabilities(self, text: str) -> Dict[str, float]:
        scores = list(self.bias)
        for term, value in tfidf(tokenize(text, self.ngram), self.idf).items():
            for i, w in enumerate(self.weights[term]):
                scores[i] += w * value
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {label: e / total for label, e in zip(self.labels, exps)}

    def predict(self, title: Optional[str], body: Optional[str]) -> Tuple[str, float]:
        """(slug, confidence); ``other`` when the best topic is below ``min_confidence``
        or there is no text. Ties go to the label listed first (a total order)."""
        text = classifier_text(title, body)
        if not text.strip():
            return DEFAULT_TOPIC, 0.0
        probs = self.probabilities(text)
        label = max(self.labels, key=lambda l: (probs[l], -self.labels.index(l)))
        if probs[label] < self.min_confidence:
            return DEFAULT_TOPIC, probs[label]
        return label, probs[label]


# --------------------------------------------------------------------------- choice

def choose_topic(article: Article, classifier: Optional[TopicClassifier] = None
                 ) -> Tuple[str, Optional[str]]:
    """(topic slug, topic_source): the first signal that maps to a slug wins."""
    if is_topic(article.topic_hint):
        return article.topic_hint, "feed_config"
    slug = to_slug(article.topic_hint)  # a raw topic in the sources file ("Sport")
    if slug is not None:
        return slug, "feed_config"
    slug = to_slug(article.section)
    if slug is not None:
        return slug, "section"
    slug = first_slug(article.categories)
    if slug is not None:
        return slug, "category"
    for url in (article.canonical_url, article.url):
        slug = url_topic(url)
        if slug is not None:
            return slug, "url"
    if classifier is not None:
        slug, _confidence = classifier.predict(article.title, article.body)
        return slug, "classifier"
    return DEFAULT_TOPIC, None


def assign_topic(article: Article, classifier: Optional[TopicClassifier] = None) -> Article:
    topic, source = choose_topic(article, classifier)
    return dataclasses.replace(article, topic=topic, topic_source=source)


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
    """Article -> Article with ``topic`` and ``topic_source``."""

    def __init__(self, use_classifier: bool = True, label: Optional[str] = None):
        super().__init__(label)
        self._use_classifier = use_classifier

    def expand(self, articles):
        return articles | "Assign" >> beam.ParDo(_AssignTopicFn(self._use_classifier))
