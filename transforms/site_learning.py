"""Per-site boilerplate learning: paragraphs that recur across a site's articles are template.

Pages of one site share template text that no page-local rule can recognise (a newsletter
box worded the site's own way, a standard disclaimer, a tip line). A paragraph whose
normalised hash occurs in at least ``k`` distinct articles of the same site is template text
and is removed from the bodies of that site. Rules that hold everywhere:

* a paragraph seen in only one article is never removed (``k`` is at least 2);
* a body is never emptied;
* distinct means distinct content: copies of one article (same ``content_hash``) count once;
* distinct also means *unrelated*: near-copies of one story on one site (updated versions,
  syndicated rewrites) share story paragraphs. Two articles are related when they share a
  paragraph that occurs in those two articles only; a recurring paragraph is template only
  if its articles fall into at least ``k`` groups of related articles. (Template text itself
  recurs in many articles, so it never relates two of them.)
* an article whose words are mostly in paragraphs found elsewhere on the site
  (``STORY_SHARE``) is a copy, or drowned in template text: it is left as it is.

Pure part first (usable without Beam, e.g. by ``benchmarks/extraction.py``), then two
transforms: :class:`LearnSiteTemplates` for batch (a Beam combine counts paragraph hashes per
site; the removal uses the counts as a side input) and :class:`LearnSiteTemplatesStreaming`
(a stateful per-site DoFn that learns as articles arrive; earlier articles of a site are not
revisited, so the first ``k - 1`` keep their template text).
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import re
from typing import Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms import window
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from schemas.records import Article
from transforms.extract import content_hash, word_count

DEFAULT_MIN_ARTICLES = 3
STORY_SHARE = 0.5                  # an article mostly made of shared paragraphs is left alone
MAX_TRACKED_ARTICLES = 16          # per paragraph, the articles kept to relate them (beyond: template)
MAX_PARAGRAPHS_PER_SITE = 50_000   # streaming state bound: one-off paragraphs are forgotten first
MAX_SEEN_PER_SITE = 20_000         # streaming state bound: content hashes remembered per site
_WORD = re.compile(r"\w+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_MASK = (1 << 63) - 1  # keys stay within a signed 64-bit varint (Beam's int coder)


def check_min_articles(k: int) -> int:
    if k < 2:
        raise ValueError(f"min_articles must be >= 2 (a paragraph seen once is never template), got {k}")
    return k


def normalise(paragraph: str) -> str:
    """Case, punctuation, whitespace and digits do not make a paragraph different
    ("12 comments" and "4 comments" are the same template line)."""
    return " ".join(_WORD.findall(_DIGITS.sub("0", paragraph.lower())))


def paragraph_key(paragraph: str) -> Optional[int]:
    normalised = normalise(paragraph)
    if not normalised:
        return None
    return int.from_bytes(hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).digest(), "big") & _MASK


def paragraph_keys(body: str) -> List[Optional[int]]:
    """One key per line of ``body`` (``None`` for lines without words)."""
    return [paragraph_key(line) for line in body.split("\n")]


def article_key(content_hash_hex: str) -> int:
    return int(content_hash_hex[:15], 16)


def site_of(article: Article) -> str:
    return article.source_domain or "local"


@dataclasses.dataclass(frozen=True)
class SiteModel:
    """What one site taught: for paragraphs in >= 2 distinct articles, their count and (up to
    ``MAX_TRACKED_ARTICLES``) the articles; and which article pairs are related."""
    paragraphs: Mapping[int, Tuple[int, Tuple[int, ...]]]
    related: Mapping[Tuple[int, int], int]  # article pair -> paragraphs found in exactly those two

    def count(self, key: Optional[int]) -> int:
        entry = self.paragraphs.get(key) if key is not None else None
        return entry[0] if entry else 0


EMPTY_MODEL = SiteModel({}, {})


class ParagraphCounts:
    """Per site: in how many distinct articles each paragraph occurs, and the smallest
    ``MAX_TRACKED_ARTICLES`` of their keys. Adding and merging do not depend on order."""

    __slots__ = ("counts",)

    def __init__(self, counts: Optional[Dict[int, list]] = None):
        self.counts: Dict[int, list] = counts if counts is not None else {}

    def add(self, article: int, keys: Iterable[Optional[int]]) -> "ParagraphCounts":
        counts = self.counts
        for key in set(keys):
            if key is None:
                continue
            entry = counts.get(key)
            if entry is None:
                counts[key] = [1, (article,)]
            else:
                entry[0] += 1
                if len(entry[1]) < MAX_TRACKED_ARTICLES or article < entry[1][-1]:
                    entry[1] = tuple(sorted(entry[1] + (article,)))[:MAX_TRACKED_ARTICLES]
        return self

    def merge(self, other: "ParagraphCounts") -> "ParagraphCounts":
        counts = self.counts
        for key, (n, articles) in other.counts.items():
            entry = counts.get(key)
            if entry is None:
                counts[key] = [n, articles]
            else:
                entry[0] += n
                entry[1] = tuple(sorted(set(entry[1]) | set(articles)))[:MAX_TRACKED_ARTICLES]
        return self

    def model(self) -> SiteModel:
        paragraphs = {key: (n, articles) for key, (n, articles) in self.counts.items() if n >= 2}
        related = collections.Counter(articles for n, articles in paragraphs.values() if n == 2)
        return SiteModel(paragraphs, dict(related))

    def forget_singletons(self) -> None:
        self.counts = {key: entry for key, entry in self.counts.items() if entry[0] > 1}


def unrelated_groups(articles: Sequence[int], related: Mapping[Tuple[int, int], int],
                     own_pair: Optional[Tuple[int, int]] = None) -> int:
    """Number of groups of related articles (connected components) among ``articles``
    (sorted). ``own_pair``: the pair the paragraph under test itself relates (it does not count)."""
    parent = {a: a for a in articles}

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, a in enumerate(articles):
        for b in articles[i + 1:]:
            support = related.get((a, b), 0) - (1 if (a, b) == own_pair else 0)
            if support > 0:
                parent[root(a)] = root(b)
    return len({root(a) for a in articles})


def is_template(model: SiteModel, key: int, k: int) -> bool:
    entry = model.paragraphs.get(key)
    if entry is None or entry[0] < k:
        return False
    n, articles = entry
    if n > len(articles):
        return True  # in more articles than we track: site-wide text
    own_pair = articles if n == 2 else None
    return unrelated_groups(articles, model.related, own_pair) >= k


def template_keys(body: str, model: SiteModel, k: int) -> FrozenSet[int]:
    """Keys of ``body``'s paragraphs to remove: template paragraphs of the site, unless the
    body is mostly text found elsewhere (a copy of another article, or mostly template)."""
    total = shared = 0
    candidates: Set[int] = set()
    for line in body.split("\n"):
        words = word_count(line)
        total += words
        key = paragraph_key(line)
        n = model.count(key)
        if n >= 2:
            shared += words
            if n >= k:
                candidates.add(key)
    if not candidates or shared >= STORY_SHARE * total:
        return frozenset()
    return frozenset(key for key in candidates if is_template(model, key, k))


def remove_template_paragraphs(body: str, removable: FrozenSet[int]) -> Tuple[str, int]:
    """Drop lines whose key is removable; returns (body, characters removed). Never empties."""
    if not removable:
        return body, 0
    lines = body.split("\n")
    kept = [line for line in lines if paragraph_key(line) not in removable]
    if len(kept) == len(lines):
        return body, 0
    if not any(_WORD.search(line) for line in kept):
        return body, 0
    cleaned = "\n".join(kept).strip()
    return cleaned, len(body) - len(cleaned)


def clean_body(body: str, model: SiteModel, k: int) -> Tuple[str, int]:
    return remove_template_paragraphs(body, template_keys(body, model, k))


def apply_removal(article: Article, model: SiteModel, k: int) -> Tuple[Article, int]:
    body, removed = clean_body(article.body, model, k)
    if not removed:
        return article, 0
    return dataclasses.replace(
        article, body=body, word_count=word_count(body), content_hash=content_hash(body),
        boilerplate_removed_chars=article.boilerplate_removed_chars + removed), removed


def learn(bodies: Iterable[str]) -> SiteModel:
    """The model of one site from its article bodies (copies counted once)."""
    counts = ParagraphCounts()
    seen: Set[str] = set()
    for body in bodies:
        digest = content_hash(body)
        if digest not in seen:
            seen.add(digest)
            counts.add(article_key(digest), paragraph_keys(body))
    return counts.model()


def clean_site_bodies(items: Sequence[Tuple[str, str]], k: int = DEFAULT_MIN_ARTICLES) -> Dict[str, str]:
    """The batch pass for one site without Beam: ``(id, body)`` pairs in, cleaned bodies out."""
    check_min_articles(k)
    model = learn(body for _id, body in items)
    return {item_id: clean_body(body, model, k)[0] for item_id, body in items}


# --------------------------------------------------------------------------- batch

class CountParagraphsPerSite(beam.CombineFn):
    """(article key, paragraph keys) of one site's distinct articles -> its ``SiteModel``."""

    def create_accumulator(self) -> ParagraphCounts:
        return ParagraphCounts()

    def add_input(self, acc: ParagraphCounts, element: Tuple[int, Tuple[int, ...]]) -> ParagraphCounts:
        article, keys = element
        return acc.add(article, keys)

    def merge_accumulators(self, accumulators: Iterable[ParagraphCounts]) -> ParagraphCounts:
        accumulators = iter(accumulators)
        merged = next(accumulators, None) or ParagraphCounts()
        for acc in accumulators:
            merged.merge(acc)
        return merged

    def extract_output(self, acc: ParagraphCounts) -> SiteModel:
        return acc.model()


def _signature(article: Article) -> Tuple[str, int, Tuple[int, ...]]:
    keys = sorted({k for k in paragraph_keys(article.body) if k is not None})
    return site_of(article), article_key(article.content_hash), tuple(keys)


class _CleanFn(beam.DoFn):
    def __init__(self, min_articles: int):
        self._k = min_articles
        self.cleaned = Metrics.counter("site_learning", "articles_cleaned")
        self.chars = Metrics.counter("site_learning", "chars_removed")

    def process(self, article: Article, models: Mapping[str, SiteModel]):
        cleaned, removed = apply_removal(article, models.get(site_of(article), EMPTY_MODEL), self._k)
        if removed:
            self.cleaned.inc()
            self.chars.inc(removed)
        yield cleaned


class LearnSiteTemplates(beam.PTransform):
    """Articles -> articles without their site's template paragraphs (batch).

    A combine counts normalised paragraph hashes per site over distinct articles (by
    ``content_hash``); paragraphs in >= ``min_articles`` of them are removed, as a side input
    to the cleaning step. ``min_articles=0`` disables the pass.

    ``counted``: the input's articles as the PCollections a Flatten made it from (one per
    page source). Counting those instead lets the Flatten's output flow straight into the
    cleaning step: a Flatten feeding both the counts and the step that reads them as a side
    input is materialised twice by the local runner (each article shipped once more)."""

    def __init__(self, min_articles: int = DEFAULT_MIN_ARTICLES, label: Optional[str] = None,
                 counted: Sequence[beam.PCollection] = ()):
        super().__init__(label)
        self._k = min_articles if min_articles == 0 else check_min_articles(min_articles)
        self._counted = list(counted)

    def expand(self, articles):
        if not self._k:
            return articles | "NoSiteLearning" >> beam.Map(lambda a: a)
        sources = self._counted or [articles]
        signatures = [pcoll | f"ParagraphSignatures{i or ''}" >> beam.Map(_signature)
                      for i, pcoll in enumerate(sources)]
        if len(signatures) > 1:
            signatures = [signatures | "AllSignatures" >> beam.Flatten()]
        models = (signatures[0]
                  | "DistinctArticles" >> beam.Distinct()
                  | "KeyBySite" >> beam.Map(lambda s: (s[0], (s[1], s[2])))
                  | "CountParagraphsPerSite" >> beam.CombinePerKey(CountParagraphsPerSite()))
        return articles | "RemoveTemplateParagraphs" >> beam.ParDo(
            _CleanFn(self._k), beam.pvalue.AsDict(models))


# --------------------------------------------------------------------------- streaming

class SiteState:
    """What the streaming pass remembers about one site (bounded)."""

    __slots__ = ("counts", "seen", "related")

    def __init__(self):
        self.counts = ParagraphCounts()
        self.seen: "collections.OrderedDict[str, None]" = collections.OrderedDict()
        self.related: Dict[Tuple[int, int], int] = {}

    def observe(self, article: Article) -> None:
        if article.content_hash in self.seen:
            return  # a copy already counted
        self.seen[article.content_hash] = None
        if len(self.seen) > MAX_SEEN_PER_SITE:
            self.seen.popitem(last=False)
        keys = {k for k in paragraph_keys(article.body) if k is not None}
        counts = self.counts.counts
        leaving_pairs = [counts[key][1] for key in keys if key in counts and counts[key][0] == 2]
        self.counts.add(article_key(article.content_hash), keys)
        for pair in leaving_pairs:  # these paragraphs now occur in a third article
            left = self.related.get(pair, 0) - 1
            if left > 0:
                self.related[pair] = left
            else:
                self.related.pop(pair, None)
        for key in keys:
            entry = counts[key]
            if entry[0] == 2:
                self.related[entry[1]] = self.related.get(entry[1], 0) + 1
        if len(counts) > MAX_PARAGRAPHS_PER_SITE:
            self.counts.forget_singletons()
            if len(self.counts.counts) > MAX_PARAGRAPHS_PER_SITE // 2:
                # Still large: keep the most widespread half (template text is widespread).
                ranked = sorted(self.counts.counts.items(), key=lambda kv: (-kv[1][0], kv[0]))
                self.counts.counts = dict(ranked[:MAX_PARAGRAPHS_PER_SITE // 2])
            self.related = dict(self.counts.model().related)

    def model_for(self, body: str) -> SiteModel:
        """The part of the site model ``body`` needs (its own paragraphs)."""
        counts = self.counts.counts
        paragraphs = {}
        for key in paragraph_keys(body):
            entry = counts.get(key) if key is not None else None
            if entry is not None and entry[0] >= 2:
                paragraphs[key] = (entry[0], entry[1])
        return SiteModel(paragraphs, self.related)


def clean_streaming(state: SiteState, article: Article, k: int) -> Tuple[Article, int]:
    """Learn from ``article``, then clean it with what the site has taught so far."""
    state.observe(article)
    return apply_removal(article, state.model_for(article.body), k)


class _LearnPerSiteFn(beam.DoFn):
    SITE = ReadModifyWriteStateSpec("site", PickleCoder())

    def __init__(self, min_articles: int):
        self._k = check_min_articles(min_articles)
        self.cleaned = Metrics.counter("site_learning", "articles_cleaned")
        self.chars = Metrics.counter("site_learning", "chars_removed")

    def process(self, element: Tuple[str, Article], site=beam.DoFn.StateParam(SITE)):
        _key, article = element
        state = site.read() or SiteState()
        cleaned, removed = clean_streaming(state, article, self._k)
        site.write(state)
        if removed:
            self.cleaned.inc()
            self.chars.inc(removed)
        yield cleaned


class LearnSiteTemplatesStreaming(beam.PTransform):
    """Articles -> articles, learning each site's template paragraphs as they arrive.

    State is per site in the global window (the input is re-windowed into it, and the output
    put back into the input's window function), so learning is not reset by windowing; element
    timestamps are kept. For unbounded input; works on bounded input too. ``min_articles=0``
    disables the pass."""

    def __init__(self, min_articles: int = DEFAULT_MIN_ARTICLES, label: Optional[str] = None):
        super().__init__(label)
        self._k = min_articles if min_articles == 0 else check_min_articles(min_articles)

    def expand(self, articles):
        if not self._k:  # 0: off, as in batch
            return articles | "NoSiteLearning" >> beam.Map(lambda a: a)
        windowfn = articles.windowing.windowfn
        keyed = (articles
                 | "GlobalWindow" >> beam.WindowInto(window.GlobalWindows())
                 | "KeyBySite" >> beam.Map(lambda a: (site_of(a), a)).with_output_types(Tuple[str, Article]))
        cleaned = keyed | "LearnPerSite" >> beam.ParDo(_LearnPerSiteFn(self._k))
        if not isinstance(windowfn, window.GlobalWindows):
            cleaned = cleaned | "RestoreWindows" >> beam.WindowInto(windowfn)
        return cleaned
