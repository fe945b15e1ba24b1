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

The classifier (``core/topic_model.json``, trained by ``benchmarks/train_topics.py``)
is linear over TF-IDF: the subjects of real labelled news (AG) are decided by a head trained
on those real items only, the subjects AG lacks take an article only on strong evidence, and
a split picks world/politics and technology/science within their group. Pure Python and numpy
at run time, no download. Its probability is calibrated on held-out real items
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

import numpy as np

from schemas.records import Article
from schemas.taxonomy import DEFAULT_TOPIC, OPINION, SYNONYMS, TOPICS, to_slug

MODEL_PATH = pathlib.Path(__file__).with_name("topic_model.json")
MODEL_FORMAT = "newsbeam-topic-model/3"
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

# Words as scikit-learn's TfidfVectorizer finds them by default (2+ word characters,
# lowercased): the AG model is trained with it, so inference must split text the same way.
_WORD = re.compile(r"(?u)\b\w\w+\b")


def tokenize(text: str, ngram: int = 2) -> List[str]:
    """Lowercase words of 2+ characters, plus word pairs if ``ngram`` is 2."""
    words = _WORD.findall(text.lower())
    if ngram >= 2:
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]
    return words


def classifier_text(title: Optional[str], body: Optional[str]) -> str:
    """What the classifier reads: the title twice (it is dense in topic words), then the body."""
    title = title or ""
    return f"{title}\n{title}\n{(body or '')[:MAX_TEXT_CHARS]}"


def _softmax(scores: np.ndarray) -> np.ndarray:
    exps = np.exp(scores - scores.max())
    return exps / exps.sum()


def _sigmoid(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, score))))


@dataclasses.dataclass(frozen=True)
class TopicClassifier:
    """Three linear heads over one TF-IDF vector (see ``benchmarks/train_topics.py``):

    - *groups*: the subjects real labelled news (AG) covers, decided by a model trained on
      those real items only (temperature-calibrated softmax over one-vs-rest scores), so on
      them it is never worse than the plain library;
    - *extras*: subjects AG lacks (health, ...), learnt from few items; one softmax over
      ``[none] + extras`` that takes an article only when its probability reaches
      ``extra_gate`` times the best group's (set so that almost no real AG-class item is taken);
    - *splits*: a group that holds two slugs (AG's World: world and politics) shares its
      probability by a logistic score: p(politics) = p(world) * sigmoid(s).

    ``topic_confidence`` is the chosen slug's probability; below ``min_confidence`` the
    answer is ``other``. ``languages`` are those of the training text: :func:`choose`
    never runs it on anything else."""
    groups: Tuple[str, ...]
    idf: Dict[str, float]
    weights: Dict[str, Tuple[float, ...]]  # term -> weights: groups, then extras, then splits
    bias: Tuple[float, ...]                # the same layout
    extras: Tuple[str, ...] = ()
    splits: Tuple[Tuple[str, str], ...] = ()  # (group, second slug): sigmoid(s) goes to the second
    extra_gate: float = 1.0
    ngram: int = 2
    min_confidence: float = 0.0
    languages: Tuple[str, ...] = ("en",)

    def __post_init__(self):
        assert all(label in TOPICS and label not in (OPINION, DEFAULT_TOPIC) for label in self.labels), self.labels
        assert all(group in self.groups for group, _ in self.splits), self.splits
        assert len(self.bias) == len(self.groups) + len(self.extras) + len(self.splits), len(self.bias)

    @property
    def labels(self) -> Tuple[str, ...]:
        """Every slug it can answer, in tie-breaking order."""
        seconds = dict(self.splits)
        grouped = tuple(s for g in self.groups for s in ((g, seconds[g]) if g in seconds else (g,)))
        return grouped + self.extras

    @classmethod
    def load(cls, path: pathlib.Path = MODEL_PATH) -> "TopicClassifier":
        data = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: not a {MODEL_FORMAT} file")
        terms = data["terms"]  # term -> [idf, weights...]
        return cls(groups=tuple(data["groups"]), idf={t: v[0] for t, v in terms.items()},
                   weights={t: tuple(v[1:]) for t, v in terms.items()}, bias=tuple(data["bias"]),
                   extras=tuple(data.get("extras", ())), splits=tuple(tuple(s) for s in data.get("splits", ())),
                   extra_gate=float(data.get("extra_gate", 1.0)), ngram=int(data.get("ngram", 2)),
                   min_confidence=float(data.get("min_confidence", 0.0)),
                   languages=tuple(data.get("languages", ("en",))))

    def to_json(self, extra: Optional[dict] = None) -> str:
        terms = {t: [round(self.idf[t], 4)] + [round(w, 4) for w in self.weights[t]]
                 for t in sorted(self.weights)}
        data = {"format": MODEL_FORMAT, "labels": list(self.labels), "groups": list(self.groups),
                "extras": list(self.extras), "splits": [list(s) for s in self.splits],
                "languages": list(self.languages), "ngram": self.ngram, "extra_gate": self.extra_gate,
                "min_confidence": self.min_confidence, "bias": [round(b, 4) for b in self.bias],
                **(extra or {}), "terms": terms}
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

    def scores(self, text: str) -> np.ndarray:
        """Sublinear tf x idf, L2-normalised (as the trainer's TfidfVectorizer), times the
        weights: one score per group, extra and split."""
        index, idf, matrix, bias = self._matrix()
        counted = collections.Counter(tokenize(text, self.ngram))
        known = counted.keys() & index.keys()  # set intersection in C: most pairs are unknown
        if not known:
            return bias
        rows = [index[t] for t in known]
        values = (1.0 + np.log(np.array([counted[t] for t in known], dtype=float))) * idf[rows]
        values /= np.sqrt(values @ values)
        return bias + values @ matrix[rows]

    def _heads(self, text: str) -> Tuple[Dict[str, float], Dict[str, float], Dict[str, float]]:
        """(group probabilities; each split's share for its second slug; extras' probabilities
        against none)."""
        scores = self.scores(text)
        n_groups, n_extras = len(self.groups), len(self.extras)
        groups = dict(zip(self.groups, map(float, _softmax(scores[:n_groups]))))
        shares = {group: _sigmoid(float(score))
                  for (group, _), score in zip(self.splits, scores[n_groups + n_extras:])}
        extras = _softmax(np.concatenate([[0.0], scores[n_groups:n_groups + n_extras]]))
        return groups, shares, dict(zip(self.extras, map(float, extras[1:])))

    def probabilities(self, text: str) -> Dict[str, float]:
        """One distribution over the labels: p(extra), and the groups' (split) share of p(none)."""
        groups, shares, extras = self._heads(text)
        rest = 1.0 - sum(extras.values())
        seconds = dict(self.splits)
        probs = dict(extras)
        for group, p in groups.items():
            share = shares.get(group, 0.0)
            probs[group] = p * rest * (1.0 - share)
            if group in seconds:
                probs[seconds[group]] = p * rest * share
        return {label: probs[label] for label in self.labels}

    def predict(self, title: Optional[str], body: Optional[str],
                min_confidence: Optional[float] = None) -> Tuple[str, float]:
        """(slug, confidence). An extra when its probability reaches ``extra_gate`` times the
        best group's (the evidence for it against the subjects real news taught); else that
        group, and within a split group the slug its split favours. The
        confidence is the calibrated probability that this group is right (a split's two
        slugs share it); below the threshold (``min_confidence``, default the model's) or
        without text the answer is ``other``. Ties go to the label listed first."""
        text = classifier_text(title, body)
        if not text.strip():
            return DEFAULT_TOPIC, 0.0
        groups, shares, extras = self._heads(text)
        group = max(self.groups, key=lambda g: (groups[g], -self.groups.index(g)))
        if extras:
            extra = max(self.extras, key=lambda e: (extras[e], -self.extras.index(e)))
            if extras[extra] >= self.extra_gate * groups[group]:
                return extra, extras[extra]
        threshold = self.min_confidence if min_confidence is None else min_confidence
        if groups[group] < threshold:
            return DEFAULT_TOPIC, groups[group]
        label = dict(self.splits)[group] if shares.get(group, 0.0) > 0.5 else group
        return label, groups[group]


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
