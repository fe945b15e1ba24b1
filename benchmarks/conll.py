"""CoNLL-2003 (IOB1) documents as plain text with entity character spans.

Shared by the real-data entity benchmark (``benchmarks/ner_real.py``) and the NER training
script (``benchmarks/train_ner.py``): one reader, one detokeniser, one gold mapping, so the
model is trained on text shaped exactly like the text it is scored on.
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Iterator, List, Optional, Sequence, Set, Tuple

Span = Tuple[int, int, str]  # (start char, end char, CoNLL label: PER/ORG/LOC/MISC)

# spaCy's labels -> the measure's three classes (dev README: PERSON->PER, ORG, GPE/LOC/FAC->LOC).
MEASURED = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
            "PER": "PER"}  # already-mapped labels pass through
LABELS = ("PER", "ORG", "LOC")

_NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "'s", "'S", "n't", "'re",
                    "'ve", "'ll", "'d", "'m", "'"}
_NO_SPACE_AFTER = {"(", "[", "{", "$"}


@dataclasses.dataclass(frozen=True)
class Sentence:
    text: str
    spans: Tuple[Span, ...]


@dataclasses.dataclass(frozen=True)
class Document:
    """One ``-DOCSTART-`` document: sentences joined by newlines (like paragraphs of a body)."""
    text: str
    spans: Tuple[Span, ...]
    sentences: Tuple[Sentence, ...]

    def gold(self) -> Set[Tuple[str, str]]:
        """Distinct (text, label) of the measured classes (MISC is not measured)."""
        return {(self.text[s:e], label) for s, e, label in self.spans if label in LABELS}


def detokenise(tokens: Sequence[str]) -> Tuple[str, List[Tuple[int, int]]]:
    """Tokens -> text with natural spacing (no space before ",", ")", "'s"; quotes hug their
    content), and each token's (start, end) in it."""
    text = ""
    offsets: List[Tuple[int, int]] = []
    open_quote = False
    glue_next = False
    for token in tokens:
        space = bool(text) and not glue_next and token not in _NO_SPACE_BEFORE
        if token == '"':
            if open_quote:
                space = False
            open_quote = not open_quote
        if space:
            text += " "
        offsets.append((len(text), len(text) + len(token)))
        text += token
        glue_next = token in _NO_SPACE_AFTER or (token == '"' and open_quote)
    return text, offsets


def _entity_spans(tags: Sequence[str], offsets: Sequence[Tuple[int, int]]) -> List[Span]:
    """IOB1 tags (I-X inside, B-X only to split two adjacent X) -> character spans."""
    spans: List[Span] = []
    current: Optional[List] = None
    for tag, (start, end) in zip(tags, offsets):
        if tag == "O":
            current = None
            continue
        prefix, label = tag.split("-", 1)
        if current is not None and current[2] == label and prefix == "I":
            current[1] = end
            spans[-1] = tuple(current)
            continue
        current = [start, end, label]
        spans.append(tuple(current))
    return spans


def _sentences(lines: Sequence[str]) -> Iterator[List[Tuple[str, str]]]:
    sentence: List[Tuple[str, str]] = []
    for line in lines:
        parts = line.split()
        if not parts:
            if sentence:
                yield sentence
            sentence = []
            continue
        sentence.append((parts[0], parts[-1]))
    if sentence:
        yield sentence


def read_documents(path: pathlib.Path) -> List[Document]:
    """Documents of a CoNLL-2003 file, split at ``-DOCSTART-`` lines."""
    blocks: List[List[str]] = [[]]
    for line in pathlib.Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("-DOCSTART-"):
            blocks.append([])
        else:
            blocks[-1].append(line)
    documents = []
    for block in blocks:
        sentences = []
        for tokens_tags in _sentences(block):
            text, offsets = detokenise([t for t, _ in tokens_tags])
            spans = _entity_spans([tag for _, tag in tokens_tags], offsets)
            sentences.append(Sentence(text, tuple(spans)))
        if not sentences:
            continue
        text, spans, offset = "", [], 0
        for sentence in sentences:
            if text:
                text += "\n"
            offset = len(text)
            text += sentence.text
            spans.extend((s + offset, e + offset, label) for s, e, label in sentence.spans)
        documents.append(Document(text, tuple(spans), tuple(sentences)))
    return documents


def measured(entities: Sequence[Tuple[str, str]]) -> Set[Tuple[str, str]]:
    """(text, spaCy label) -> distinct (text, PER/ORG/LOC); other labels dropped."""
    return {(text, MEASURED[label]) for text, label in entities if label in MEASURED}


def micro_prf(predicted: Sequence[Set[Tuple[str, str]]], gold: Sequence[Set[Tuple[str, str]]]) -> dict:
    """Micro precision/recall/F1 over per-document sets of (text, label)."""
    tp = fp = fn = 0
    for pred, ref in zip(predicted, gold):
        tp += len(pred & ref)
        fp += len(pred - ref)
        fn += len(ref - pred)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"p": round(p, 4), "r": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def score(predicted: Sequence[Set[Tuple[str, str]]], gold: Sequence[Set[Tuple[str, str]]]) -> dict:
    """Micro precision/recall/F1 over per-document sets, overall and per label."""
    out = {"all": micro_prf(predicted, gold)}
    for label in LABELS:
        out[label] = micro_prf([{x for x in pred if x[1] == label} for pred in predicted],
                               [{x for x in ref if x[1] == label} for ref in gold])
    return out
