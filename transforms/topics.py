"""Assigning each article a topic slug from the fixed taxonomy.

Signals in order of trust: the operator's topic for the feed (``feed_config``),
the page's own section (``section``), the feed entry's / page's categories
(``category``), URL path segments (``url``), and last a text classifier over
title + body (``classifier``). Anything unrecognised maps to ``other``; a raw
string never becomes a slug.

Opinion is a genre, not a subject: an explicit signal that says opinion (a section, URL
segment or feed topic "Opinion"/"Comment", JSON-LD ``OpinionNewsArticle`` or ``genre``,
``article:opinion``, a kicker; not the categories) sets ``is_opinion``, and the subject still comes from the other
signals or the classifier, which never predicts opinion.

The classifier is a linear model (TF-IDF of words and word pairs -> softmax over the
topical slugs) shipped as ``transforms/topic_model.json`` and trained by
``benchmarks/train_topics.py`` on real news (AG News) plus hand-written items. Pure Python
and numpy at run time, no download. Its probability is calibrated on held-out real items
(``topic_confidence``); below the model's ``min_confidence`` it says ``other``. It runs only
on the languages it was trained on (``unsupported_language`` otherwise).
"""
from __future__ import annotations

import collections
import dataclasses
import json
import math
import pathlib
import re
import urllib.parse
from typing import Dict, List, Optional, Tuple

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from schemas.records import Article
from schemas.taxonomy import DEFAULT_TOPIC, OPINION, SYNONYMS, TOPICS, to_slug

MODEL_PATH = pathlib.Path(__file__).with_name("topic_model.json")
MODEL_FORMAT = "newsbeam-topic-model/2"
MAX_TEXT_CHARS = 2000  # the lede carries the topic; the tail only costs time (measured: same or better accuracy on full articles than 6000, a third of the time)

_SKIP_SEGMENTS = {"news", "article", "articles", "story", "stories", "www", "en", "index.html",
                  "amp", "content", "post", "posts", "the", "a"}


def url_slugs(url: str) -> List[str]:
    """Slugs named by the URL path's section segments, in order, ignoring the file name
    (``/opinion/politics/2025/05/x.html`` -> [opinion, politics])."""
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return []
    segments = [s for s in path.split("/") if s][:-1]  # the last one is the slug/file name
    slugs = []
    for segment in segments[:4]:
        if segment.lower() in _SKIP_SEGMENTS or segment.isdigit():
            continue
        slug = to_slug(segment)
        if slug is not None:
            slugs.append(slug)
    return slugs


def url_topic(url: str) -> Optional[str]:
    """Topic from the URL path: the first segment that maps to a slug
    (``/politics/2025/05/x.html`` -> politics)."""
    return next(iter(url_slugs(url)), None)


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


@dataclasses.dataclass(frozen=True)
class TopicClassifier:
    """A softmax-linear model over TF-IDF features (see ``benchmarks/train_topics.py``),
    with optional binary *splits*: a group the real training data cannot tell apart
    (AG's World holds both world and politics news) gets one softmax probability, which a
    logistic split shares between its two slugs: p(politics) = p(world group) * sigmoid(s).

    The weights come calibrated (temperature folded in), so the top probability is the
    ``topic_confidence``; below ``min_confidence`` the answer is ``other``. ``languages``
    are those of its training text: :func:`choose` never runs it on anything else."""
    groups: Tuple[str, ...]
    idf: Dict[str, float]
    weights: Dict[str, Tuple[float, ...]]  # term -> one weight per group, then one per split
    bias: Tuple[float, ...]                # one per group, then one per split
    splits: Tuple[Tuple[str, str], ...] = ()  # (group, second slug): sigmoid(s) goes to the second
    ngram: int = 1
    min_confidence: float = 0.0
    languages: Tuple[str, ...] = ("en",)

    def __post_init__(self):
        assert all(label in TOPICS and label not in (OPINION, DEFAULT_TOPIC) for label in self.labels), self.labels
        assert all(group in self.groups for group, _ in self.splits), self.splits

    @property
    def labels(self) -> Tuple[str, ...]:
        """Every slug it can answer, in tie-breaking order."""
        seconds = dict(self.splits)
        return tuple(s for g in self.groups for s in ((g, seconds[g]) if g in seconds else (g,)))

    @classmethod
    def load(cls, path: pathlib.Path = MODEL_PATH) -> "TopicClassifier":
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        terms = data["terms"]  # term -> [idf, w_group1, ..., w_split1, ...]
        return cls(groups=tuple(data["groups"]), idf={t: v[0] for t, v in terms.items()},
                   weights={t: tuple(v[1:]) for t, v in terms.items()},
                   bias=tuple(data["bias"]), splits=tuple(tuple(s) for s in data.get("splits", ())),
                   ngram=int(data.get("ngram", 1)), min_confidence=float(data.get("min_confidence", 0.0)),
                   languages=tuple(data.get("languages", ("en",))))

    def to_json(self, extra: Optional[dict] = None) -> str:
        terms = {t: [round(self.idf[t], 4)] + [round(w, 4) for w in self.weights[t]]
                 for t in sorted(self.weights)}
        data = {"format": MODEL_FORMAT, "labels": list(self.labels), "groups": list(self.groups),
                "splits": [list(s) for s in self.splits], "languages": list(self.languages),
                "ngram": self.ngram, "min_confidence": self.min_confidence,
                "bias": [round(b, 4) for b in self.bias], **(extra or {}), "terms": terms}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=False)

    def supports(self, language: Optional[str]) -> bool:
        return language is not None and language.lower()[:2] in self.languages

    def _matrix(self):
        """Terms as rows of one numpy matrix (built once): scoring an article is then a
        gather and a small product instead of a Python loop over terms x labels."""
        cached = self.__dict__.get("_cache")
        if cached is None:
            terms = sorted(self.weights)
            cached = ({t: i for i, t in enumerate(terms)}, np.array([self.idf[t] for t in terms]),
                      np.array([self.weights[t] for t in terms]).reshape(len(terms), len(self.bias)),
                      np.array(self.bias))
            object.__setattr__(self, "_cache", cached)
        return cached

    def probabilities(self, text: str) -> Dict[str, float]:
        """Sublinear tf x idf, L2-normalised (as the trainer's TfidfVectorizer), then the
        group softmax and the splits."""
        index, idf, matrix, bias = self._matrix()
        counted = collections.Counter(tokenize(text, self.ngram))
        known = counted.keys() & index.keys()  # set intersection in C: most pairs are unknown
        rows = [index[t] for t in known]
        counts = [counted[t] for t in known]
        scores = bias
        if rows:
            values = (1.0 + np.log(np.array(counts, dtype=float))) * idf[rows]
            values /= np.sqrt(values @ values)
            scores = bias + values @ matrix[rows]
        groups = scores[:len(self.groups)]
        exps = np.exp(groups - groups.max())
        probs = {group: float(e) for group, e in zip(self.groups, exps / exps.sum())}
        for (group, second), score in zip(self.splits, scores[len(self.groups):]):
            share = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, float(score)))))
            probs[second] = probs[group] * share
            probs[group] *= 1.0 - share
        return {label: probs[label] for label in self.labels}

    def predict(self, title: Optional[str], body: Optional[str],
                min_confidence: Optional[float] = None) -> Tuple[str, float]:
        """(slug, confidence); ``other`` when the best topic is below the threshold
        (``min_confidence``, default the model's) or there is no text. Ties go to the
        label listed first (a total order)."""
        text = classifier_text(title, body)
        if not text.strip():
            return DEFAULT_TOPIC, 0.0
        probs = self.probabilities(text)
        label = max(self.labels, key=lambda l: (probs[l], -self.labels.index(l)))
        threshold = self.min_confidence if min_confidence is None else min_confidence
        if probs[label] < threshold:
            return DEFAULT_TOPIC, probs[label]
        return label, probs[label]


# --------------------------------------------------------------------------- choice

# Explicit genre markers besides the taxonomy's opinion words (schema.org's type; its
# ReviewNewsArticle and BackgroundNewsArticle are not opinion).
_OPINION_TYPES = {"opinionnewsarticle"}
UNSUPPORTED_LANGUAGE = "unsupported_language"  # topic_source when no signal and the text's
# language is not one the classifier was trained on: the topic is other, not a guess


@dataclasses.dataclass(frozen=True)
class TopicDecision:
    topic: str
    source: Optional[str]            # feed_config | section | category | url | classifier | unsupported_language
    confidence: Optional[float]      # the classifier's calibrated probability; None for explicit signals
    is_opinion: bool


def subject_and_genre(raw: Optional[str]) -> Tuple[Optional[str], bool]:
    """(topical slug or None, whether the string marks opinion): "Opinion | Politics" ->
    (politics, True); "Comment" -> (None, True); "Sport" -> (sports, False)."""
    slug = to_slug(raw)
    if slug is None:
        return None, False
    if slug != OPINION:
        return slug, any(SYNONYMS.get(t) == OPINION for t in re.findall(r"[a-z]+", raw.casefold()))
    rest = " ".join(t for t in re.findall(r"[a-z0-9]+", raw.casefold()) if SYNONYMS.get(t) != OPINION
                    and t not in ("op", "ed"))
    subject = to_slug(rest) if rest else None
    return (subject if subject != OPINION else None), True


def is_opinion_marker(raw: str) -> bool:
    """A JSON-LD type or genre, or a kicker, that says opinion."""
    folded = raw.strip().casefold()
    return folded in _OPINION_TYPES or subject_and_genre(raw)[1]


def explicit_signals(article: Article) -> List[Tuple[str, Optional[str]]]:
    """(source, raw string) pairs in order of trust."""
    signals: List[Tuple[str, Optional[str]]] = [("feed_config", article.topic_hint), ("section", article.section)]
    signals += [("category", c) for c in article.categories]
    return signals


def choose(article: Article, classifier: Optional[TopicClassifier] = None) -> TopicDecision:
    """The topic (a subject) and the opinion genre, each from explicit signals first; the
    classifier decides the subject only when no signal does, only for languages it was
    trained on, and never says opinion."""
    topic, source = None, None
    opinion = any(is_opinion_marker(g) for g in article.genre_hints)
    for kind, raw in explicit_signals(article):
        slug, says_opinion = subject_and_genre(raw)
        if kind == "feed_config" and raw == DEFAULT_TOPIC:
            slug = DEFAULT_TOPIC  # the operator may file a feed under "other" on purpose
        # Page categories are often the site's whole category list (one real page listed 53,
        # "Opinions" among them): a subject hint at best, never proof of the genre.
        opinion = opinion or (says_opinion and kind != "category")
        if topic is None and slug is not None:
            topic, source = slug, kind
    for url in (article.canonical_url, article.url):
        slugs = url_slugs(url)
        opinion = opinion or OPINION in slugs
        subject = next((s for s in slugs if s != OPINION), None)
        if topic is None and subject is not None:
            topic, source = subject, "url"
    if topic is not None:
        return TopicDecision(topic, source, None, opinion)
    if classifier is None:
        return TopicDecision(DEFAULT_TOPIC, None, None, opinion)
    if not classifier.supports(article.language):
        return TopicDecision(DEFAULT_TOPIC, UNSUPPORTED_LANGUAGE, None, opinion)
    slug, confidence = classifier.predict(article.title, article.body)
    return TopicDecision(slug, "classifier", round(confidence, 4), opinion)


def choose_topic(article: Article, classifier: Optional[TopicClassifier] = None
                 ) -> Tuple[str, Optional[str]]:
    """(topic slug, topic_source): see :func:`choose`."""
    decision = choose(article, classifier)
    return decision.topic, decision.source


def assign_topic(article: Article, classifier: Optional[TopicClassifier] = None) -> Article:
    decision = choose(article, classifier)
    return dataclasses.replace(article, topic=decision.topic, topic_source=decision.source,
                               topic_confidence=decision.confidence, is_opinion=decision.is_opinion)


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
