"""Deduplication: the same URL fetched once, the same content written once.

Pure part: choosing a cluster representative with an explicit total order
(earliest ``published_at``, then longest body, then smallest URL) so that
bundle order and worker count never change the result, and folding copies into
it as ``Member``s. Beam part: joins against what earlier runs wrote (the index
under ``DIR/_state/index``) so reruns and later batches add nothing twice.

Stages: requests by URL key (before fetching) -> articles by ``article_id``
(canonical URL) -> articles by ``content_hash`` -> duplicates emitted.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas.records import Article, Duplicate, IndexEntry, Member, PageRequest
from transforms import urls

DUPLICATES = "duplicates"
SKIPPED = "skipped"  # already written by an earlier run: accounted for there
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
_ORIGIN_RANK = {"feed": 0, "sources": 1, "url": 2, "html_dir": 3}


def representative_order(article: Article) -> Tuple:
    """Total order: the smallest is the representative."""
    return (article.published_at is None, article.published_at or _FAR_FUTURE,
            -len(article.body), article.url, article.article_id)


def request_order(request: PageRequest) -> Tuple:
    """Prefer the copy with the richest metadata, then a stable tie-break."""
    richness = sum(1 for v in (request.entry_title, request.entry_published, request.entry_summary,
                               request.topic_hint) if v) + len(request.entry_categories)
    return (_ORIGIN_RANK.get(request.origin, 9), -richness, request.feed_url or "", request.url)


def merge_requests(requests_: Sequence[PageRequest]) -> PageRequest:
    """One request per URL key; other input URLs ride along as aliases."""
    ordered = sorted(requests_, key=request_order)
    keep = ordered[0]
    aliases = sorted({r.url for r in ordered[1:] if r.url != keep.url} |
                     {a for r in ordered for a in r.aliases if a != keep.url})
    return dataclasses.replace(keep, aliases=tuple(aliases))


def fold(representative: Article, others: Iterable[Article], kind: str,
         similarity: float = 1.0) -> Article:
    """Fold copies (and the copies they already hold) into the representative."""
    members = list(representative.members)
    for other in others:
        members.append(Member(url=other.url, article_id=other.article_id, kind=kind,
                              similarity=similarity, domain=other.source_domain))
        members.extend(other.members)
        members.extend(Member(url=a, article_id=other.article_id, kind="url", similarity=1.0,
                              domain=urls.domain_of(a)) for a in other.aliases)
    members.sort(key=lambda m: (m.url, m.kind))
    domains = sorted({representative.source_domain} | {m.domain for m in members if m.domain})
    return dataclasses.replace(representative, members=tuple(members),
                               cluster_size=1 + len(members), cluster_sources=tuple(domains))


def choose(articles: Sequence[Article]) -> Tuple[Article, List[Article]]:
    ordered = sorted(articles, key=representative_order)
    return ordered[0], ordered[1:]


def duplicates_of(article: Article, duplicate_of: str, at: dt.datetime) -> List[Duplicate]:
    """Duplicate rows for everything folded into ``article``; when ``duplicate_of``
    is not the article itself (an earlier run holds the story), the article is
    one of them too."""
    rows = [Duplicate(url=m.url, article_id=m.article_id, duplicate_of=duplicate_of, kind=m.kind,
                      similarity=m.similarity, detected_at=at) for m in article.members]
    rows += [Duplicate(url=a, article_id=article.article_id, duplicate_of=duplicate_of, kind="url",
                       similarity=1.0, detected_at=at) for a in article.aliases]
    return rows


# --------------------------------------------------------------------------- Beam

def _is_article(entry: IndexEntry) -> bool:
    return entry.kind == "article"


class DedupRequests(beam.PTransform):
    """PageRequest -> PageRequest, one per URL key, minus URLs earlier runs wrote.

    Tagged output ``skipped``: URLs already in the dataset."""

    def __init__(self, previous, label: Optional[str] = None):
        super().__init__(label)
        self._previous = previous

    def expand(self, requests_):
        keyed = requests_ | "KeyByUrl" >> beam.Map(
            lambda r: (urls.url_key(r.url), r)).with_output_types(Tuple[str, PageRequest])
        seen = self._previous | "SeenUrls" >> beam.Map(
            lambda e: (urls.url_key(e.url), True)).with_output_types(Tuple[str, bool])

        def _merge(element):
            _key, groups = element
            new = list(groups["new"])
            if not new:
                return
            if list(groups["seen"]):
                for request in new:
                    Metrics.counter("dedup", "skipped_already_written").inc()
                    yield pvalue.TaggedOutput(SKIPPED, request.url)
                    for alias in request.aliases:
                        yield pvalue.TaggedOutput(SKIPPED, alias)
                return
            yield merge_requests(new)

        return ({"new": keyed, "seen": seen}
                | "JoinSeen" >> beam.CoGroupByKey()
                | "MergeRequests" >> beam.FlatMap(_merge).with_outputs(SKIPPED, main="requests"))


class _FoldGroups(beam.PTransform):
    """Group articles by a key, join with earlier runs, keep one per group."""

    def __init__(self, key_fn, previous_key_fn, kind: str, skip_same_id: bool):
        super().__init__()
        self._key_fn = key_fn
        self._previous_key_fn = previous_key_fn
        self._kind = kind
        self._skip_same_id = skip_same_id

    def expand(self, pcolls):
        articles, previous = pcolls
        key_fn, prev_key_fn, kind, skip_same_id = (self._key_fn, self._previous_key_fn,
                                                   self._kind, self._skip_same_id)
        keyed = articles | "Key" >> beam.Map(lambda a: (key_fn(a), a)).with_output_types(
            Tuple[str, Article])
        prev = (previous
                | "OnlyArticles" >> beam.Filter(_is_article)
                | "KeyPrevious" >> beam.Map(lambda e: (prev_key_fn(e), e.article_id)).with_output_types(
                    Tuple[str, str]))

        def _fold(element):
            _key, groups = element
            new = list(groups["new"])
            if not new:
                return
            earlier = sorted(set(groups["prev"]))
            now = dt.datetime.now(dt.timezone.utc)
            if earlier:
                target = earlier[0]
                for article in new:
                    if skip_same_id and article.article_id == target:
                        Metrics.counter("dedup", "skipped_already_written").inc()
                        yield pvalue.TaggedOutput(SKIPPED, article.url)
                        for dup in duplicates_of(article, target, now):
                            yield pvalue.TaggedOutput(DUPLICATES, dup)
                        continue
                    Metrics.counter("dedup", f"{kind}_duplicates").inc()
                    yield pvalue.TaggedOutput(DUPLICATES, Duplicate(
                        url=article.url, article_id=article.article_id, duplicate_of=target,
                        kind=kind, similarity=1.0, detected_at=now))
                    for dup in duplicates_of(article, target, now):
                        yield pvalue.TaggedOutput(DUPLICATES, dup)
                return
            representative, others = choose(new)
            if others:
                Metrics.counter("dedup", f"{kind}_duplicates").inc(len(others))
            yield fold(representative, others, kind)

        return ({"new": keyed, "prev": prev}
                | "Join" >> beam.CoGroupByKey()
                | "Fold" >> beam.FlatMap(_fold).with_outputs(DUPLICATES, SKIPPED, main="articles"))


class DedupArticles(beam.PTransform):
    """Article -> one Article per story; tagged ``duplicates`` (Duplicate rows for
    every folded copy) and ``skipped`` (URLs whose article an earlier run wrote)."""

    def __init__(self, previous, label: Optional[str] = None):
        super().__init__(label)
        self._previous = previous

    def expand(self, articles):
        by_url = (articles, self._previous) | "ByCanonicalUrl" >> _FoldGroups(
            lambda a: a.article_id, lambda e: e.article_id, "url", skip_same_id=True)
        by_content = (by_url.articles, self._previous) | "ByContent" >> _FoldGroups(
            lambda a: a.content_hash, lambda e: e.content_hash or "", "exact", skip_same_id=False)

        def _emit(article: Article):
            now = dt.datetime.now(dt.timezone.utc)
            for dup in duplicates_of(article, article.article_id, now):
                yield pvalue.TaggedOutput(DUPLICATES, dup)
            yield article

        final = by_content.articles | "EmitDuplicates" >> beam.FlatMap(_emit).with_outputs(
            DUPLICATES, main="articles")
        duplicates = ((by_url.duplicates, by_content.duplicates, final.duplicates)
                      | "FlattenDuplicates" >> beam.Flatten())
        skipped = (by_url.skipped, by_content.skipped) | "FlattenSkipped" >> beam.Flatten()
        return {"articles": final.articles, DUPLICATES: duplicates, SKIPPED: skipped}
