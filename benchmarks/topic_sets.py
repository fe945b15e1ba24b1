"""Real labelled news sets for training and measuring the topic classifier.

Everything here reads ``../shared/data/dev`` (or the folder given as ``data``) at training
or measuring time; nothing of it is copied into the repository or needed by the product.

- AG News (``topics-agnews``): 7,600 real items, 4 classes mapped onto the taxonomy
  (World -> world, Sports -> sports, Business -> business, Sci/Tech -> technology). A
  stratified part (``AG_HELD_OUT_PER_CLASS`` per class, fixed seed) never enters training.
- extraction-fundus, English pages: real full articles. Two label sets: the URL section
  (``transforms.topics.url_topic``; only pages whose path names a section) and our hand
  labels (``benchmarks/data/topics_fundus_en.tsv``, written before any model saw them).
- MIND (``topics-mind``): MSN items whose category maps onto the taxonomy. Measure only:
  never trained on.
"""
from __future__ import annotations

import csv
import html
import json
import pathlib
import random
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "dev"
HAND_LABELS = pathlib.Path(__file__).resolve().parent / "data" / "topics_fundus_en.tsv"
OWN_ITEMS = pathlib.Path(__file__).resolve().parent / "data" / "topics.txt"
SHORT_ITEMS = pathlib.Path(__file__).resolve().parent / "data" / "topics_short.txt"  # briefs for AG's missing classes
MORE_ITEMS = pathlib.Path(__file__).resolve().parent / "data" / "topics_more.txt"  # briefs widening health, entertainment, lifestyle

AG_CLASSES = {"1": "world", "2": "sports", "3": "business", "4": "technology"}
# An AG class is wider than the slug it maps to: World news includes other countries'
# politics, Sci/Tech includes science. "Mapped" accuracy accepts these slugs.
AG_ACCEPTS = {"world": {"world", "politics"}, "sports": {"sports"}, "business": {"business"},
              "technology": {"technology", "science"}}
AG_HELD_OUT_PER_CLASS = 400
AG_SEED = 17

# MIND category / subcategory -> slug; anything else (news in general, crime, weather,
# video, kids, opinion -- a genre, not a subject) is not scored.
MIND_CATEGORIES = {
    "sports": "sports", "finance": "business", "health": "health", "lifestyle": "lifestyle",
    "foodanddrink": "lifestyle", "travel": "lifestyle", "autos": "lifestyle",
    "music": "entertainment", "tv": "entertainment", "movies": "entertainment",
    "entertainment": "entertainment",
}
MIND_NEWS_SUBCATEGORIES = {
    "newspolitics": "politics", "elections-2020-us": "politics", "newsworld": "world",
    "newsscienceandtechnology": "technology", "newsscience": "science", "newsbusiness": "business",
}

# MIND's "news / science and technology" holds both slugs, like AG's Sci/Tech.
MIND_ACCEPTS = {"technology": {"technology", "science"}}


class Item(NamedTuple):
    label: str
    ident: str
    title: str
    body: str


def _clean_ag(text: str) -> str:
    """AG's HTML-escape leftovers (``#36;`` = $, ``\\`` = line break)."""
    text = re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), text.replace("\\", " "))
    return html.unescape(text.replace("quot;", '"').replace("amp;", "&"))


def load_ag(data: pathlib.Path = DEFAULT_DATA) -> Tuple[List[Item], List[Item]]:
    """(train, held_out): ``AG_HELD_OUT_PER_CLASS`` items per class held out, chosen by a
    seeded shuffle of each class, so the split never changes."""
    by_class: Dict[str, List[Item]] = {}
    with open(data / "topics-agnews" / "ag_news_7600.csv", newline="", encoding="utf-8") as handle:
        for row_number, (cls, title, description) in enumerate(csv.reader(handle)):
            label = AG_CLASSES[cls]
            by_class.setdefault(label, []).append(
                Item(label, f"ag{row_number}", _clean_ag(title), _clean_ag(description)))
    train, held_out = [], []
    for label in sorted(by_class):
        items = by_class[label]
        order = list(range(len(items)))
        random.Random(f"{AG_SEED}-{label}").shuffle(order)
        chosen = set(order[:AG_HELD_OUT_PER_CLASS])
        for i, item in enumerate(items):
            (held_out if i in chosen else train).append(item)
    return train, held_out


def load_own(paths: Sequence[pathlib.Path] = (OWN_ITEMS, SHORT_ITEMS, MORE_ITEMS), skip: Sequence[str] = ("opinion",)
             ) -> List[Item]:
    """The project's hand-written items (``benchmarks/data/topics.txt``, ``topics_short.txt``),
    without ``skip`` labels (opinion is a genre now: its items have no subject label)."""
    items = []
    blocks = [b for path in paths for b in path.read_text(encoding="utf-8").split("\n## ")[1:]]
    for block in blocks:
        head, rest = block.split("\n", 1)
        label, ident = (p.strip() for p in head.split("|"))
        title, body = rest.strip().split("\n", 1)
        if label not in skip:
            items.append(Item(label, ident, title.strip(), body.strip()))
    return items


def _fundus_truth(data: pathlib.Path) -> Dict[str, dict]:
    truth = json.loads((data / "extraction-fundus" / "truth.json").read_text(encoding="utf-8"))
    return {page["id"]: page for page in truth}


def hand_labels(path: pathlib.Path = HAND_LABELS) -> Dict[str, str]:
    labels = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            ident, label = line.split("\t")[:2]
            labels[ident] = label.strip()
    return labels


def load_fundus_hand(data: pathlib.Path = DEFAULT_DATA) -> Tuple[List[Item], int]:
    """(items, excluded): English fundus pages with our hand label ('-' ones excluded)."""
    truth = _fundus_truth(data)
    items, excluded = [], 0
    for ident, label in sorted(hand_labels().items()):
        page = truth[ident]
        if label == "-":
            excluded += 1
            continue
        items.append(Item(label, ident, page.get("title") or "", page.get("body") or ""))
    return items, excluded


def load_fundus_url(data: pathlib.Path = DEFAULT_DATA) -> List[Item]:
    """English fundus pages whose URL path names a section that maps to a topic slug
    (the opinion genre excluded)."""
    from core.topics import url_topic
    truth = _fundus_truth(data)
    items = []
    for ident in sorted(hand_labels()):
        page = truth[ident]
        label = url_topic(page["url"])
        if label and label not in ("opinion", "other"):
            items.append(Item(label, ident, page.get("title") or "", page.get("body") or ""))
    return items


def load_mind(data: pathlib.Path = DEFAULT_DATA) -> List[Item]:
    """MIND items whose category maps (title + abstract). Measuring only."""
    items = []
    with open(data / "topics-mind" / "news.tsv", encoding="utf-8") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            ident, category, subcategory, title, abstract = fields[:5]
            label: Optional[str] = MIND_CATEGORIES.get(category)
            if category == "news":
                label = MIND_NEWS_SUBCATEGORIES.get(subcategory)
            if label:
                items.append(Item(label, ident, title, abstract))
    return items
