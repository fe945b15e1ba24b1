"""Deduplication: the same URL fetched once, the same content written once.

Pure part: choosing a cluster representative with an explicit total order
(earliest ``published_at``, then longest body, then smallest URL) so that
bundle order and worker count never change the result, and folding copies into
it as ``Member``s. Beam part: joins against what earlier runs wrote (the index
under ``DIR/_state/index``) so reruns and later batches add nothing twice.

Stages: requests by URL key (before fetching) -> articles by ``article_id``
(canonical URL) -> articles by ``content_hash`` -> near-duplicates (MinHash +
LSH bands, verified on shingle sets against the cluster representative, see
``transforms/minhash.py``) -> duplicates emitted. The earlier runs' index is
joined once, in the first pass; its entries ride on to the second keyed by
content hash, so that pass is a plain GroupByKey (each multi-input Flatten is
one more time every article is shipped through the local runner). Each earlier-run
table is read only where this run can match it, filtered inside the reading step
(``ReadPreviousRequests``: URL keys; ``ReadPreviousArticles``: ids, content hashes, and
the URLs of recorded copies;
``read_band_keys``: LSH buckets): memory grows with the run, not with the output.

Near-duplicates in batch: articles sharing an LSH band are linked; each
connected group of links (a "component", normally one story and its copies) is
clustered in one place by ``minhash.cluster`` — greedy in representative order,
every member verified directly against its representative, so a chain of
pairwise-similar copies never merges unrelated stories. Stories written by
earlier runs (or earlier chunks) take part through ``DIR/_state/signatures``
with the evidence one job has for its own articles: signature (bands), anchors,
body (exact verification, read only for the stories a new article links to) and
the rows of the near copies folded into them (``copy_of``): they stay
representatives, and a new copy of one is only recorded in ``_duplicates``. The streaming variant is ``StreamingNearDedup`` (``transforms/near_stream.py``).
"""
from __future__ import annotations

import dataclasses
import functools
import datetime as dt
import hashlib
import zlib
from typing import AbstractSet, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

import numpy as np

from schemas.records import Article, Duplicate, IndexEntry, Member, PageRequest, SignatureEntry
from transforms import minhash, sink, urls
from transforms.minhash import NearDupConfig

DUPLICATES = "duplicates"
SKIPPED = "skipped"  # already written by an earlier run: accounted for there
COPY_SIGNATURES = "copy_signatures"  # near copies' state rows, under their story (_state/signatures)
_FAR_FUTURE = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
_ORIGIN_RANK = {"feed": 0, "sources": 1, "url": 2, "html_dir": 3}


def representative_order(article: Article) -> Tuple:
    """Total order: the smallest is the representative. Copies of one canonical
    URL tie on everything but their input URL (and, rarely, body text), so those
    close the order: the choice never depends on arrival or bundle order."""
    return (article.published_at is None, article.published_at or _FAR_FUTURE,
            -len(article.body), article.url, article.article_id,
            article.input_url or article.url, article.content_hash, article.body)


def copy_id(url: str, article_id: str, duplicate_of: str) -> str:
    """The ``article_id`` of a duplicate row: the copy's own id, unless that is
    the representative's (a page whose canonical URL is another's, a saved page
    under two names, a tracking-parameter variant): then the id of the copy's
    own URL, or of its exact spelling, so that a row never points at itself."""
    if article_id != duplicate_of:
        return article_id
    own = urls.article_id(url)
    if own != duplicate_of:
        return own
    return hashlib.sha256(("copy\x1f" + url).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def duplicate_row(url: str, article_id: str, duplicate_of: str, kind: str, similarity: float,
                  at: dt.datetime) -> Duplicate:
    return Duplicate(url=url, article_id=copy_id(url, article_id, duplicate_of), duplicate_of=duplicate_of,
                     kind=kind, similarity=similarity, detected_at=at)


def copy_url(representative: Article, other: Article, kind: str) -> str:
    """The URL a folded copy is recorded under: for a copy of the same canonical
    URL the input URL it came from (two saved pages, two redirects ending at one
    page: their page URLs may be the representative's or each other's), else its
    own page URL."""
    if (kind == "url" or other.url == representative.url) and other.input_url:
        return other.input_url
    return other.url


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
        members.append(Member(url=copy_url(representative, other, kind), article_id=other.article_id, kind=kind,
                              similarity=similarity, domain=other.source_domain))
        members.extend(other.members)
        members.extend(Member(url=a, article_id=other.article_id, kind="url", similarity=1.0,
                              domain=urls.domain_of(a)) for a in other.aliases)
    members.sort(key=lambda m: (m.url, m.kind, m.article_id))
    domains = sorted({representative.source_domain} | {m.domain for m in members if m.domain})
    return dataclasses.replace(representative, members=tuple(members),
                               cluster_size=1 + len(members), cluster_sources=tuple(domains))


def choose(articles: Sequence[Article]) -> Tuple[Article, List[Article]]:
    """(representative, the others in representative order)."""
    ordered = sorted(articles, key=representative_order)
    return ordered[0], ordered[1:]


def duplicates_of(article: Article, duplicate_of: str, at: dt.datetime) -> List[Duplicate]:
    """Duplicate rows for everything folded into ``article``; when ``duplicate_of``
    is not the article itself (an earlier run holds the story), the article is
    one of them too."""
    rows = [duplicate_row(m.url, m.article_id, duplicate_of, m.kind, m.similarity, at)
            for m in article.members]
    rows += [duplicate_row(a, article.article_id, duplicate_of, "url", 1.0, at) for a in article.aliases]
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


def previous_requests(output: str, url_keys: AbstractSet[str]) -> Iterator[IndexEntry]:
    """The earlier runs' index entries under this run's request URL keys (what
    ``DedupRequests`` skips): the rest of the index is read past, never held."""
    if not url_keys:
        return iter(())
    return sink.iter_index(output, lambda batch: [urls.url_key(u) in url_keys
                                                  for u in batch.column("url").to_pylist()])


def previous_articles(output: str, keys: AbstractSet[str]) -> Iterator[IndexEntry]:
    """The earlier runs' article entries whose id or content hash is one of this run's
    articles' (``keys``): all that ``_ByCanonicalUrl`` and ``_ByContent`` can join; and
    their duplicate entries under one of this run's article URLs (also in ``keys``), so
    that a copy an earlier run recorded is not recorded again (``_DropRecorded``)."""
    if not keys:
        return iter(())

    import pyarrow as pa
    import pyarrow.compute as pc
    value_set = pa.array(sorted(keys), pa.string())

    def keep(batch):  # in Arrow: no Python string for each row read past
        ours = pc.is_in(batch.column("article_id"), value_set=value_set)
        if "content_hash" in batch.schema.names:
            ours = pc.or_(ours, pc.fill_null(pc.is_in(batch.column("content_hash"), value_set=value_set), False))
        article = pc.equal(batch.column("kind"), "article")
        recorded_copy = pc.and_(pc.invert(article), pc.is_in(batch.column("url"), value_set=value_set))
        return pc.or_(pc.and_(article, ours), recorded_copy)
    return sink.iter_index(output, keep)


def article_keys(article: Article) -> Tuple[str, ...]:
    """What ``previous_articles`` looks up for one article: its id and content hash, and
    every URL a duplicate row of it may carry (``duplicate_row``, ``copy_url``)."""
    return (article.article_id, article.content_hash, article.url,
            *((article.input_url,) if article.input_url else ()), *article.aliases)


def _key_set(keys) -> pvalue.AsSingleton:
    """A set of keys as a side input, empty when there are none (no default-injecting
    step: one stage and one side input fewer than ``ToSet()`` with defaults)."""
    return pvalue.AsSingleton(keys, default_value=frozenset())


class ReadPreviousRequests(beam.PTransform):
    """PageRequest -> the earlier runs' IndexEntry for their URL keys (bounded by this run)."""

    def __init__(self, output: str, label: Optional[str] = None):
        super().__init__(label)
        self._output = output

    def expand(self, requests_):
        keys = (requests_ | "UrlKeys" >> beam.Map(lambda r: urls.url_key(r.url)).with_output_types(str)
                | "UrlKeySet" >> beam.combiners.ToSet().without_defaults())
        return requests_.pipeline | "Index" >> sink.ReadFromOutput(
            self._output, previous_requests, IndexEntry, side_inputs=[_key_set(keys)])


class ReadPreviousArticles(beam.PTransform):
    """Article -> the earlier runs' article IndexEntry sharing an id or a content hash
    with one of them, and duplicate IndexEntry under one of their URLs (bounded by this run)."""

    def __init__(self, output: str, label: Optional[str] = None):
        super().__init__(label)
        self._output = output

    def expand(self, articles):
        keys = (articles | "IdsHashesUrls" >> beam.FlatMap(article_keys).with_output_types(str)
                | "KeySet" >> beam.combiners.ToSet().without_defaults())
        return articles.pipeline | "Index" >> sink.ReadFromOutput(
            self._output, previous_articles, IndexEntry, side_inputs=[_key_set(keys)])


def fold_group(new: Sequence[Article], earlier: Iterable[str], kind: str, skip_same_id: bool,
               now: dt.datetime):
    """One key's articles -> their representative (copies folded in), or, when an
    earlier run wrote the key (``earlier``: its article ids), Duplicate rows (tagged
    ``duplicates``) and, for ``skip_same_id``, the URLs it already wrote (``skipped``)."""
    earlier = sorted(set(earlier))
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
            yield pvalue.TaggedOutput(DUPLICATES, duplicate_row(
                article.url, article.article_id, target, kind, 1.0, now))
            for dup in duplicates_of(article, target, now):
                yield pvalue.TaggedOutput(DUPLICATES, dup)
        return
    representative, others = choose(new)
    if others:
        Metrics.counter("dedup", f"{kind}_duplicates").inc(len(others))
    yield fold(representative, others, kind)


_NEW, _EARLIER = 0, 1  # what a content-keyed value holds: an article, or an earlier run's article id


def _fold_by_url(element):
    """One canonical URL's group -> its representative, keyed by content hash for the
    next pass; the earlier runs' index entries of the group go on with it (keyed by
    their content hash), so that pass needs no second join (no Flatten: one
    materialised boundary fewer for every article)."""
    _key, groups = element
    earlier = list(groups["prev"])
    for article_id, content in earlier:
        yield content, (_EARLIER, article_id)
    new = list(groups["new"])
    if not new:
        return
    now = dt.datetime.now(dt.timezone.utc)
    for out in fold_group(new, [article_id for article_id, _ in earlier], "url", True, now):
        yield out if isinstance(out, pvalue.TaggedOutput) else (out.content_hash, (_NEW, out))


def _fold_by_content(element):
    _key, values = element
    new, earlier = [], []
    for tag, value in values:
        (new if tag == _NEW else earlier).append(value)
    if new:
        yield from fold_group(new, earlier, "exact", False, dt.datetime.now(dt.timezone.utc))


class _ByCanonicalUrl(beam.PTransform):
    """(articles, earlier runs' index) -> one article per canonical URL, keyed by
    content hash (with the earlier runs' entries); tagged ``duplicates``, ``skipped``."""

    def expand(self, pcolls):
        articles, previous = pcolls
        keyed = articles | "Key" >> beam.Map(lambda a: (a.article_id, a)).with_output_types(
            Tuple[str, Article])
        prev = (previous
                | "OnlyArticles" >> beam.Filter(_is_article)
                | "KeyPrevious" >> beam.Map(lambda e: (e.article_id, (e.article_id, e.content_hash or "")))
                .with_output_types(Tuple[str, Tuple[str, str]]))
        return ({"new": keyed, "prev": prev}
                | "Join" >> beam.CoGroupByKey()
                | "Fold" >> beam.FlatMap(_fold_by_url).with_outputs(DUPLICATES, SKIPPED, main="by_content"))


class _ByContent(beam.PTransform):
    """Content-keyed articles and earlier runs' ids -> one article per content hash."""

    def expand(self, by_content):
        return (by_content
                | "Group" >> beam.GroupByKey()
                | "Fold" >> beam.FlatMap(_fold_by_content).with_outputs(DUPLICATES, SKIPPED, main="articles"))


def drop_recorded(duplicate: Duplicate, recorded: AbstractSet[str]):
    """A copy whose URL an earlier run recorded as a duplicate is already written (tagged
    ``skipped``), as its page would have been before fetching: a rerun of saved pages or
    a WARC (which are read, not fetched) records no copy twice, on any day."""
    if duplicate.url in recorded:
        Metrics.counter("dedup", "skipped_already_written").inc()
        yield pvalue.TaggedOutput(SKIPPED, duplicate.url)
    else:
        yield duplicate


class _DropRecorded(beam.PTransform):
    """(duplicate rows, earlier runs' index) -> the rows no earlier run recorded; tagged
    ``skipped``: the URLs of those it did."""

    def expand(self, pcolls):
        duplicates, previous = pcolls
        recorded = (previous
                    | "RecordedCopies" >> beam.Filter(lambda e: not _is_article(e))
                    | "CopyUrls" >> beam.Map(lambda e: e.url).with_output_types(str)
                    | "CopyUrlSet" >> beam.combiners.ToSet().without_defaults())
        return duplicates | "Drop" >> beam.FlatMap(drop_recorded, _key_set(recorded)).with_outputs(
            SKIPPED, main="duplicates")


class DedupArticles(beam.PTransform):
    """Article -> one Article per story; tagged ``duplicates`` (Duplicate rows for
    every folded copy) and ``skipped`` (URLs whose article an earlier run wrote).

    ``near``: near-duplicate settings (None disables that stage);
    ``signatures_from``: the output whose earlier runs' signatures are read inside the
    near-duplicate stage, only those in this run's buckets (``read_band_keys``), and
    their kept bodies only for the stories a new article is compared with (``read_bodies``);
    ``previous_signatures``: instead, SignatureEntry of earlier runs as a PCollection
    (signatures held elsewhere; estimated verification unless they carry bodies)."""

    def __init__(self, previous, label: Optional[str] = None,
                 near: Optional[NearDupConfig] = NearDupConfig(), previous_signatures=None,
                 signatures_from: Optional[str] = None):
        super().__init__(label)
        self._previous = previous
        self._near = near.validate() if near is not None else None
        self._previous_signatures = previous_signatures
        self._signatures_from = signatures_from

    def expand(self, articles):
        # One join with the earlier runs (by canonical URL), then one GroupByKey by content.
        by_url = (articles, self._previous) | "ByCanonicalUrl" >> _ByCanonicalUrl()
        by_content = by_url.by_content | "ByContent" >> _ByContent()
        stories = by_content.articles
        near_duplicates, copies = [], None
        if self._near is not None:
            near = self._near_duplicates(articles.pipeline, stories)
            stories = near["articles"]
            near_duplicates.append(near[DUPLICATES])
            copies = near[COPY_SIGNATURES]

        def _emit(article: Article):
            now = dt.datetime.now(dt.timezone.utc)
            for dup in duplicates_of(article, article.article_id, now):
                yield pvalue.TaggedOutput(DUPLICATES, dup)
            yield article

        final = stories | "EmitDuplicates" >> beam.FlatMap(_emit).with_outputs(
            DUPLICATES, main="articles")
        found = ((by_url.duplicates, by_content.duplicates, final.duplicates, *near_duplicates)
                 | "FlattenDuplicates" >> beam.Flatten())
        duplicates = (found, self._previous) | "DropRecorded" >> _DropRecorded()
        skipped = (by_url.skipped, by_content.skipped, duplicates.skipped) | "FlattenSkipped" >> beam.Flatten()
        out = {"articles": final.articles, DUPLICATES: duplicates.duplicates, SKIPPED: skipped}
        if copies is not None:  # for _state/signatures, beside the written articles' own rows
            out[COPY_SIGNATURES] = copies
        return out

    def _near_duplicates(self, pipeline, stories):
        if self._signatures_from is not None:  # read inside the stage, bounded by this run's buckets
            return stories | "NearDuplicates" >> NearDuplicates(self._near, signatures_from=self._signatures_from)
        previous_signatures = self._previous_signatures
        if previous_signatures is None:
            previous_signatures = pipeline | "NoPreviousSignatures" >> beam.Create([]).with_output_types(SignatureEntry)
        return (stories, previous_signatures) | "NearDuplicates" >> NearDuplicates(self._near)


# --------------------------------------------------------------------------- near-duplicates (pure)

@dataclasses.dataclass(frozen=True)
class Sketched:
    """An article with its MinHash signature (uint16 bytes) and shingle count."""
    article: Article
    signature: bytes
    size: int


def sketch(article: Article, hasher: minhash.MinHasher, config: NearDupConfig) -> Sketched:
    """The article's signature, computed once: the article carries it on (``Article.sketch``)
    to ``SignaturesOf``, which writes it to ``_state/signatures`` without hashing again."""
    key = f"{config.params_id}:{zlib.crc32(article.body.encode('utf-8', 'surrogatepass')):08x}"
    if article.sketch is not None and article.sketch[0] == key:  # same settings, same body
        return Sketched(article, article.sketch[1], article.sketch[2])
    shingles = minhash.shingles(article.body, config.shingle)
    signature = hasher.signature(shingles).tobytes()
    carried = dataclasses.replace(article, sketch=(key, signature, len(shingles)))
    return Sketched(carried, signature, len(shingles))


def signature_entry(sketched: Sketched, config: NearDupConfig, at: dt.datetime,
                    copy_of: Optional[str] = None) -> SignatureEntry:
    """The state a later run needs to find copies of this story (or, with ``copy_of``,
    of this near copy of a story) as one job would: signature (bands), anchors
    (excerpts, longer versions) and the body (exact checks)."""
    body = sketched.article.body
    return SignatureEntry(article_id=sketched.article.article_id, signature=sketched.signature,
                          shingles=sketched.size, params=config.params_id, written_at=at,
                          anchors=minhash.pack_anchors(minhash.anchor_values(body, config)),
                          evidence=minhash.pack_evidence(body) if sketched.size > 0 else None,
                          copy_of=copy_of)


def copy_entries(new: Sequence[Sketched], representatives: Sequence[Article],
                 to_previous: Sequence[Tuple[Article, str, float]], config: NearDupConfig,
                 at: dt.datetime) -> List[SignatureEntry]:
    """State rows of the near copies clustered here, each under its story: in one job a
    copy of a copy joins the cluster through it (star merge, or an exact copy of it);
    with these rows a later run or chunk finds it the same way. Exact and URL copies
    share their story's body or id, and a copy equal to a kept row repeats it: no row."""
    sketched = {s.article.article_id: s for s in new}
    pairs = {(m.article_id, rep.article_id) for rep in representatives for m in rep.members if m.kind == "near"}
    # a copy equal to a kept row (similarity 1) would only repeat that row's evidence
    pairs |= {(article.article_id, target) for article, target, similarity in to_previous if similarity < 1.0}
    return [signature_entry(sketched[copy], config, at, copy_of=story) for copy, story in sorted(pairs)
            if copy in sketched and copy != story and sketched[copy].size > 0]


def _sig(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype=minhash.SIG_DTYPE)


def bucket_links(members: Iterable[Tuple[str, int]], max_members: Optional[int] = None
                 ) -> List[Tuple[str, str]]:
    """Links that make one LSH bucket connected: a star around its smallest
    new article (O(n), not O(n^2)); buckets of earlier runs' stories only link
    nothing, nor do buckets of more than ``max_members`` articles (anchors of
    template text)."""
    unique = sorted(set(members))
    new = [doc_id for doc_id, is_new in unique if is_new]
    if not new or len(unique) < 2 or (max_members is not None and len(unique) > max_members):
        return []
    anchor = new[0]
    return [(anchor, doc_id) for doc_id in sorted({d for d, _ in unique}) if doc_id != anchor]


def components(links: Iterable[Tuple[str, str]]) -> Dict[str, str]:
    """Union-find: article id -> component id (the smallest id in it)."""
    parent: Dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            parent[rb] = ra
    return {x: find(x) for x in list(parent)}


def previous_doc(entry: SignatureEntry, config: NearDupConfig, anchors_of_new: AbstractSet[str]
                 ) -> minhash.Doc:
    """An earlier run's story for clustering, by its signature and the anchors it shares
    with this run's articles (``anchors_of_new``: no other can pair it; stored, or from
    its body when an older row has none). Its kept body, if any, is compared through
    ``minhash.PreviousEvidence``; without one (a signature written before bodies were
    kept) it is verified by estimates from its signature."""
    stored = minhash.unpack_anchors(entry.anchors)
    if not stored and entry.evidence:
        stored = minhash.anchors(minhash.unpack_evidence(entry.evidence), config)
    return minhash.Doc(entry.article_id, (), _sig(entry.signature), entry.shingles, None, previous=True,
                       anchors=tuple(a for a in stored if a in anchors_of_new), copy_of=entry.copy_of)


def cluster_component(new: Sequence[Sketched], previous: Sequence[SignatureEntry],
                      config: NearDupConfig, evidence_from: Optional[str] = None
                      ) -> Tuple[List[Article], List[Tuple[Article, str, float]]]:
    """Cluster one component. Returns (representatives with their near copies
    folded in, [(article, earlier run's article_id, similarity)] for copies of
    stories written before). Independent of input order. The earlier stories' bodies
    are those the entries carry, or read from ``evidence_from`` (an output) for the
    stories compared, as they are needed."""
    new = sorted(new, key=lambda s: s.article.article_id)
    previous = sorted({p.article_id: p for p in previous}.values(), key=lambda p: p.article_id)
    docs = [minhash.Doc(s.article.article_id, representative_order(s.article), _sig(s.signature),
                        s.size, minhash.shingles(s.article.body, config.shingle),
                        spans=minhash.shingles(s.article.body, config.containment_shingle),
                        anchors=tuple(minhash.anchors(s.article.body, config))) for s in new]
    anchors_of_new = {a for doc in docs for a in doc.anchors}
    docs += [previous_doc(p, config, anchors_of_new) for p in previous]
    story_of = {p.article_id: p.story for p in previous}
    carried = {p.article_id: p.evidence for p in previous if p.evidence}
    if evidence_from is not None and not carried:
        evidence = functools.partial(read_bodies, evidence_from)
    else:
        evidence = lambda ids: ((i, carried[i]) for i in ids if i in carried)  # noqa: E731
    pairs = minhash.candidate_pairs(docs, config, limit_previous=True)
    result = minhash.cluster(docs, pairs, config, minhash.PreviousEvidence(docs, evidence, pairs, config))
    members: Dict[int, List[Tuple[int, float]]] = {}
    to_previous = []
    for i, rep, similarity in result:
        if rep is None or i >= len(new):
            continue
        if rep >= len(new):
            to_previous.append((new[i].article, story_of[docs[rep].doc_id], similarity))
        else:
            members.setdefault(rep, []).append((i, similarity))
    representatives = []
    for i, rep, _ in result:
        if i < len(new) and rep is None:
            article = new[i].article
            for j, similarity in sorted(members.get(i, []), key=lambda m: new[m[0]].article.article_id):
                article = fold(article, [new[j].article], "near", round(similarity, 4))
            representatives.append(article)
    return representatives, to_previous


# --------------------------------------------------------------------------- near-duplicates (Beam)

class _SketchFn(beam.DoFn):
    def __init__(self, config: NearDupConfig):
        self._config = config
        self._hasher = None

    def setup(self):
        self._hasher = minhash.MinHasher(self._config.num_perm, self._config.seed)

    def process(self, article: Article):
        yield sketch(article, self._hasher, self._config)


def _compatible(config: NearDupConfig):
    params = config.params_id
    return lambda entry: entry.params == params and len(entry.signature) == 2 * config.num_perm


def _band_keys_new(s: Sketched, config: NearDupConfig):
    if s.size == 0:
        return
    for key in minhash.band_keys(_sig(s.signature), config.bands, config.rows):
        yield key, (s.article.article_id, 1)
    for key in minhash.anchors(s.article.body, config):  # excerpts, longer versions
        yield key, (s.article.article_id, 1)


def _band_keys_previous(p: SignatureEntry, wanted, config: NearDupConfig, new_at, new_sketches,
                        read: Optional[Dict[str, list]] = None):
    """Only the buckets this run's articles fall in (earlier runs' stories are not
    shuffled band by band on every run), and of those only the ones where the story is
    a candidate of an article there (``new_at``: bucket key -> [(article id, 1)];
    ``new_sketches``: article id -> (signature, shingle count)): a story sharing a
    bucket by chance with each of them is not linked, read or compared. ``read``: the
    buckets' members already read from ``new_at`` (a batch job's harness caches no side
    input: each lookup would decode the bucket again)."""
    if p.shingles <= 0:
        return
    signature = _sig(p.signature)
    keys = [k for k in minhash.band_keys(signature, config.bands, config.rows) if k in wanted]
    keys += [k for k in minhash.unpack_anchors(p.anchors) if k in wanted]  # none in older versions
    candidate: Dict[str, bool] = {}

    def members(key: str):
        if read is None:
            return new_at[key]
        found = read.get(key)
        if found is None:
            found = read[key] = list(new_at[key])
        return found

    def of_candidate(key: str) -> bool:
        for article_id, _ in members(key):
            if article_id not in candidate:
                sig, size = new_sketches[article_id]
                candidate[article_id] = minhash.is_previous_candidate(_sig(sig), size, signature, p.shingles, config)
            if candidate[article_id]:
                return True
        return False

    for key in keys:
        if of_candidate(key):
            yield key, (p.article_id, 0)


def _links(kv, config: NearDupConfig):
    key, members = kv
    return bucket_links(members, config.max_anchor_bucket if key.startswith("a:") else None)


def _route(s: Sketched, component_of: Dict[str, str]):
    """An article with no near copy in sight passes through; the others go to their component."""
    component = component_of.get(s.article.article_id)
    if component is None:
        yield s.article
    else:
        yield pvalue.TaggedOutput("member", (component, s))


def _route_previous(p: SignatureEntry, component_of: Dict[str, str]):
    """An earlier run's story joins the component a new article linked it to."""
    component = component_of.get(p.article_id)
    if component is not None:
        yield component, p


def _cluster(element, config: NearDupConfig, evidence_from: Optional[str]):
    _component, items = element
    items = list(items)
    new = [x for x in items if isinstance(x, Sketched)]
    previous = [x for x in items if isinstance(x, SignatureEntry)]
    representatives, to_previous = cluster_component(new, previous, config, evidence_from)
    for article in representatives:
        if len(article.members) > 0:
            Metrics.counter("dedup", "near_clusters").inc()
        yield article
    now = dt.datetime.now(dt.timezone.utc)
    for entry in copy_entries(new, representatives, to_previous, config, now):
        yield pvalue.TaggedOutput(COPY_SIGNATURES, entry)
    for article, target, similarity in sorted(to_previous, key=lambda t: t[0].article_id):
        Metrics.counter("dedup", "near_duplicates_of_earlier_runs").inc()
        yield pvalue.TaggedOutput(DUPLICATES, duplicate_row(
            article.url, article.article_id, target, "near", round(similarity, 4), now))
        for dup in duplicates_of(article, target, now):
            yield pvalue.TaggedOutput(DUPLICATES, dup)


_BandKey = Tuple[str, Tuple[str, int]]


class NearDuplicates(beam.PTransform):
    """(articles, earlier runs' SignatureEntry) -> {"articles": articles with
    near copies folded in (kind ``near``), "duplicates": copies of stories an
    earlier run wrote, "copy_signatures": the near copies' state rows}.

    With ``signatures_from`` the input is the articles alone: the earlier runs'
    signatures are read from that output by the band-key step itself, and only the
    bucket keys this run's articles share cross to the grouping (``read_band_keys``)."""

    def __init__(self, config: NearDupConfig = NearDupConfig(), label: Optional[str] = None,
                 signatures_from: Optional[str] = None):
        super().__init__(label)
        self._config = config.validate()
        self._signatures_from = signatures_from

    def expand(self, pcolls):
        articles, previous = pcolls if isinstance(pcolls, tuple) else (pcolls, None)
        config = self._config
        sketched = articles | "Sketch" >> beam.ParDo(_SketchFn(config)).with_output_types(Sketched)
        band_new = sketched | "BandKeys" >> beam.FlatMap(_band_keys_new, config).with_output_types(_BandKey)
        wanted = _key_set(band_new | "NewBandKeys" >> beam.Keys()
                          | "BandKeySet" >> beam.combiners.ToSet().without_defaults())
        new_at = pvalue.AsMultiMap(band_new)
        new_sketches = pvalue.AsDict(sketched | "NewSketches" >> beam.Map(
            lambda s: (s.article.article_id, (s.signature, s.size))))
        if self._signatures_from is not None:
            band_prev = (articles.pipeline
                         | "SignaturesOutput" >> beam.Create([self._signatures_from])
                         | "ReadPreviousBandKeys" >> beam.FlatMap(
                             read_band_keys, wanted, config, new_at, new_sketches).with_output_types(_BandKey))
        else:
            previous = previous | "CompatibleSignatures" >> beam.Filter(_compatible(config))
            band_prev = previous | "PreviousBandKeys" >> beam.FlatMap(
                _band_keys_previous, wanted, config, new_at, new_sketches).with_output_types(_BandKey)
        links = ((band_new, band_prev)
                 | "AllBandKeys" >> beam.Flatten()
                 | "GroupByBand" >> beam.GroupByKey()
                 | "BucketLinks" >> beam.FlatMap(_links, config))
        # Component ids need a global view of the links; links exist only for
        # articles sharing a band, a small fraction of a day's articles.
        assignment = (links
                      | "CollectLinks" >> beam.combiners.ToList()
                      | "Components" >> beam.FlatMap(lambda ls: sorted(components(ls).items()))
                      .with_output_types(Tuple[str, str]))
        # The assignment (linked articles only: a small fraction) is a side input, so the
        # articles are not joined with it through a Flatten and a GroupByKey.
        component_of = beam.pvalue.AsDict(assignment)
        routed = sketched | "Route" >> beam.FlatMap(_route, component_of).with_outputs("member", main="alone")
        if self._signatures_from is None:  # the entries themselves (bodies, if any, included)
            previous_members = previous | "RoutePrevious" >> beam.FlatMap(_route_previous, component_of)
        else:  # read again for the linked stories, without bodies (read while clustering)
            previous_members = (articles.pipeline
                                | "LinkedOutput" >> beam.Create([self._signatures_from])
                                | "ReadLinkedStories" >> beam.FlatMap(read_linked, component_of, config))
        clustered = ((routed.member, previous_members)
                     | "AllMembers" >> beam.Flatten()
                     | "GroupByComponent" >> beam.GroupByKey()
                     | "Cluster" >> beam.FlatMap(_cluster, config, self._signatures_from).with_outputs(
                         DUPLICATES, COPY_SIGNATURES, main="articles"))
        merged = (routed.alone, clustered.articles) | "AllStories" >> beam.Flatten()
        return {"articles": merged, DUPLICATES: clustered.duplicates,
                COPY_SIGNATURES: clustered[COPY_SIGNATURES]}


class SignaturesOf(beam.PTransform):
    """Written articles -> SignatureEntry for ``DIR/_state/signatures``."""

    def __init__(self, config: NearDupConfig = NearDupConfig(), label: Optional[str] = None):
        super().__init__(label)
        self._config = config.validate()

    def expand(self, articles):
        config = self._config
        now = dt.datetime.now(dt.timezone.utc)
        return (articles
                | "Sketch" >> beam.ParDo(_SketchFn(config)).with_output_types(Sketched)
                | "Entry" >> beam.Map(lambda s: signature_entry(s, config, now)))


_SIGNATURE_COLUMNS = ["article_id", "signature", "shingles", "params", "written_at", "anchors", "copy_of"]


def _signature_entry(row: Dict) -> SignatureEntry:
    return SignatureEntry(article_id=row["article_id"], signature=row["signature"],
                          shingles=row["shingles"], params=row["params"], written_at=row["written_at"],
                          anchors=row.get("anchors") or b"", evidence=row.get("evidence"),
                          copy_of=row.get("copy_of"))


def read_signatures(output: str) -> Iterator[SignatureEntry]:
    """Signatures earlier runs wrote into ``output`` (none for a new output), without
    their bodies (read only for the stories a new article links to: ``read_evidence``),
    streamed file by file."""
    for row in sink.iter_state_rows(output, "signatures", _SIGNATURE_COLUMNS):
        yield _signature_entry(row)


def read_band_keys(output: str, wanted: AbstractSet[str], config: NearDupConfig, new_at, new_sketches
                   ) -> Iterator[_BandKey]:
    """(bucket key, (article id, 0)) of the earlier runs' entries in the buckets this run's
    articles fall in (``wanted``), where they are candidates (``_band_keys_previous``),
    read a batch at a time: neither the table nor its non-matching entries are ever held
    or shipped between stages."""
    if not wanted:
        return
    compatible = _compatible(config)
    read: Dict[str, list] = {}  # this run's buckets, each read once (no longer than this read)
    for entry in read_signatures(output):
        if compatible(entry):
            yield from _band_keys_previous(entry, wanted, config, new_at, new_sketches, read)


def read_linked(output: str, component_of: Dict[str, str], config: NearDupConfig
                ) -> Iterator[Tuple[str, SignatureEntry]]:
    """(component, entry without its body) for the earlier runs' stories (and kept
    copies) a new article linked to: only the row groups holding them are read. Their
    bodies are read while clustering, for the stories compared (``read_bodies``)."""
    return _linked_entries(output, component_of, config, _SIGNATURE_COLUMNS)


def _linked_entries(output: str, component_of: Dict[str, str], config: NearDupConfig,
                    columns: List[str]) -> Iterator[Tuple[str, SignatureEntry]]:
    compatible = _compatible(config)
    for row in sink.iter_state_rows(output, "signatures", columns, ids=component_of):
        entry = _signature_entry(row)
        if compatible(entry):
            yield component_of[entry.article_id], entry


def read_bodies(output: str, ids: Iterable[str]) -> Iterator[Tuple[str, bytes]]:
    """(article id, packed body) of those of ``ids`` whose signature row kept a body,
    streamed a batch at a time."""
    for row in sink.iter_state_rows(output, "signatures", ["article_id", "evidence"], ids=ids):
        if row.get("evidence"):
            yield row["article_id"], row["evidence"]


def read_evidence(output: str, component_of: Dict[str, str], config: NearDupConfig
                  ) -> Iterator[Tuple[str, SignatureEntry]]:
    """(component, entry with its body) for the earlier runs' stories (and kept copies)
    a new article linked to: only the row groups holding them are read."""
    return _linked_entries(output, component_of, config, _SIGNATURE_COLUMNS + ["evidence"])


# --------------------------------------------------------------------------- streaming

def stream_order(article: Article, event_micros: int) -> tuple:
    """First seen = earliest event time, then the batch representative order."""
    return (event_micros, -len(article.body), article.url, article.article_id)


# The stateful streaming steps (first seen by id, by content; event order in a
# bundle) are in ``transforms/stream_dedup.py``, re-exported here.
from transforms.stream_dedup import (  # noqa: E402,F401
    StreamingDedupByContent, StreamingDedupById, _EventOrderInBundleFn, _FirstByContentFn, _FirstByIdFn)
from transforms.near_stream import StreamingNearDedup  # noqa: E402,F401 -- the streaming variant
