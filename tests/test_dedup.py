"""Deduplication transforms under TestPipeline, including determinism."""
import dataclasses
import datetime as dt
import random

import apache_beam as beam
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.records import Article, IndexEntry, PageRequest
from transforms import dedup, urls
from transforms.extract import content_hash

T0 = dt.datetime(2025, 5, 15, 8, 0, tzinfo=dt.timezone.utc)


def art(url, body, published=T0, canonical=None):
    canonical = canonical or urls.normalize_url(url)
    return Article(article_id=urls.article_id(canonical), url=url, canonical_url=canonical,
                   source_domain=urls.domain_of(canonical), feed_url=None, title="t", authors=(),
                   published_at=published, modified_at=None, date_source=None, fetched_at=T0,
                   language="en", topic="other", topic_source=None, section=None, body=body,
                   word_count=len(body.split()), content_hash=content_hash(body),
                   cluster_sources=(urls.domain_of(canonical),))


STORY = "The port strike spread to three more terminals on Thursday, union leaders said."
ARTICLES = [
    art("https://a.example/story.html", STORY, published=T0 + dt.timedelta(hours=1)),
    art("https://b.example/wire/story.html", STORY.upper()),  # exact copy (case-insensitive), earlier
    art("https://c.example/copy.html", STORY + "!!", published=T0 + dt.timedelta(hours=2)),
    art("https://a.example/story.html?ref=amp", STORY, published=T0 + dt.timedelta(hours=1),
        canonical="https://a.example/story.html"),
    art("https://d.example/other.html", "A different story about football."),
]


def run_dedup(articles, previous=()):
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(list(previous), reshuffle=False)
        out = p | beam.Create(articles) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | "Ids" >> beam.Map(lambda a: (a.url, a.cluster_size,
                                                                    a.cluster_sources)),
                    equal_to(EXPECTED_ARTICLES), label="articles")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d.url, d.kind,
                                                                      d.duplicate_of)),
                    equal_to(EXPECTED_DUPS), label="dups")


B_ID = urls.article_id("https://b.example/wire/story.html")
EXPECTED_ARTICLES = [
    ("https://b.example/wire/story.html", 4, ("a.example", "b.example", "c.example")),
    ("https://d.example/other.html", 1, ("d.example",)),
]
EXPECTED_DUPS = [
    ("https://a.example/story.html", "exact", B_ID),
    ("https://a.example/story.html?ref=amp", "url", B_ID),
    ("https://c.example/copy.html", "exact", B_ID),
]


def test_clusters_and_representative():
    run_dedup(ARTICLES)


def test_order_does_not_matter():
    shuffled = ARTICLES[:]
    random.Random(7).shuffle(shuffled)
    run_dedup(list(reversed(shuffled)))


def test_representative_order_is_total():
    a = art("https://x.example/1", STORY)
    b = art("https://x.example/2", STORY + " More words here.")
    c = art("https://x.example/0", STORY, published=None)
    assert dedup.choose([a, b, c])[0] == b  # same date: longest body wins
    assert dedup.choose([c, a])[0] == a  # undated loses to dated


def test_previous_runs_are_respected():
    previous = [IndexEntry(url="https://a.example/story.html", article_id=ARTICLES[0].article_id,
                           content_hash=ARTICLES[0].content_hash, kind="article", written_at=T0)]
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(previous)
        out = p | beam.Create([ARTICLES[0], ARTICLES[2], ARTICLES[4]]) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | beam.Map(lambda a: a.url), equal_to(["https://d.example/other.html"]))
        assert_that(out["skipped"], equal_to(["https://a.example/story.html"]), label="skipped")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda d: (d.url, d.duplicate_of)),
                    equal_to([("https://c.example/copy.html", ARTICLES[0].article_id)]), label="dups")


def test_request_dedup_folds_tracking_variants():
    reqs = [PageRequest(url="https://a.example/s.html?utm_source=rss", origin="feed", feed_url="f1"),
            PageRequest(url="https://a.example/s.html", origin="feed", feed_url="f2",
                        entry_title="Title"),
            PageRequest(url="https://a.example/s.html", origin="feed", feed_url="f3"),
            PageRequest(url="https://a.example/old.html", origin="url")]
    previous = [IndexEntry(url="https://a.example/old.html", article_id="x", content_hash=None,
                           kind="article", written_at=T0)]
    with TestPipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create(reqs)
               | dedup.DedupRequests(p | "Prev" >> beam.Create(previous)))
        assert_that(out.requests | beam.Map(lambda r: (r.url, r.feed_url, r.aliases)),
                    equal_to([("https://a.example/s.html", "f2", ("https://a.example/s.html?utm_source=rss",))]))
        assert_that(out.skipped, equal_to(["https://a.example/old.html"]), label="skipped")


# --------------------------------------------------------------------------- near duplicates

import pathlib  # noqa: E402

from apache_beam.options.pipeline_options import PipelineOptions  # noqa: E402

from schemas.records import FetchedPage, SignatureEntry  # noqa: E402
from transforms.extract import extract_article  # noqa: E402
from transforms.minhash import NearDupConfig  # noqa: E402

SITE = pathlib.Path(__file__).resolve().parents[1] / "pipeline" / "demo_site"
SANTOS = ["econotimes/business/santos-port-strike-strands-shipments.html",
          "ledger/business/brazil-dockworkers-strike-santos.html",
          "techwire/business/santos-port-walkout-electronics-deliveries.html"]
CUP = ["ledger/sports/harbor-city-win-coastal-cup-final.html",
       "econotimes/sports/hartmann-midfield-gamble-coastal-cup.html"]


def _body(rel):
    url = "https://demo.example/" + rel
    page = FetchedPage(request=PageRequest(url=url), final_url=url, status=200,
                       content=(SITE / rel).read_bytes(), content_type="text/html", fetched_at=T0)
    return extract_article(page).body


def near_articles():
    santos = [_body(r) for r in SANTOS]
    words = santos[0].split()
    return [
        art("https://econotimes.example/santos.html", santos[0]),
        art("https://ledger.example/santos.html", santos[1], published=T0 + dt.timedelta(hours=5)),
        art("https://techwire.example/santos.html", santos[2], published=T0 + dt.timedelta(hours=6)),
        # cut short after a third: Jaccard < threshold, found by containment
        art("https://short.example/santos.html", " ".join(words[:len(words) // 3]),
            published=T0 + dt.timedelta(hours=7)),
        art("https://ledger.example/cup.html", _body(CUP[0])),
        art("https://econotimes.example/cup.html", _body(CUP[1])),
    ]


ORIGINAL_ID = urls.article_id("https://econotimes.example/santos.html")
NEAR_EXPECTED = [("https://econotimes.example/santos.html", 4,
                  ("econotimes.example", "ledger.example", "short.example", "techwire.example")),
                 ("https://ledger.example/cup.html", 1, ("ledger.example",)),
                 ("https://econotimes.example/cup.html", 1, ("econotimes.example",))]
NEAR_DUPS = [(u, "near", ORIGINAL_ID) for u in ("https://ledger.example/santos.html",
                                                "https://techwire.example/santos.html",
                                                "https://short.example/santos.html")]


def _run_near(articles, options=None):
    with TestPipeline(runner="FnApiRunner", options=options) as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        out = p | beam.Create(articles) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | "Ids" >> beam.Map(lambda a: (a.url, a.cluster_size,
                                                                    a.cluster_sources)),
                    equal_to(NEAR_EXPECTED), label="articles")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to(NEAR_DUPS), label="dups")
        assert_that(out["duplicates"] | "Sim" >> beam.Map(lambda d: 0.6 <= d.similarity <= 1.0),
                    equal_to([True] * 3), label="similarity")


def test_near_duplicates_cluster_truncated_copy_and_keep_hard_negative_apart():
    _run_near(near_articles())


def test_near_duplicates_same_under_shuffles_and_two_workers():
    articles = near_articles()
    for seed in (1, 2):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        _run_near(shuffled)
    random.Random(3).shuffle(articles)
    _run_near(articles, PipelineOptions(["--direct_running_mode=multi_processing",
                                         "--direct_num_workers=2"]))


def test_near_copy_of_a_story_written_by_an_earlier_run():
    articles = near_articles()
    config = NearDupConfig()
    hasher = __import__("transforms.minhash", fromlist=["MinHasher"]).MinHasher(config.num_perm, config.seed)
    written = dedup.sketch(articles[0], hasher, config)
    previous_sigs = [dedup.signature_entry(written, config, T0),
                     dataclasses.replace(dedup.signature_entry(written, config, T0), article_id="x" * 32,
                                         params="w5-p64-s1-b16")]  # other settings: ignored
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        sigs = p | "Sigs" >> beam.Create(previous_sigs).with_output_types(SignatureEntry)
        out = (p | beam.Create(articles[1:3] + articles[4:])
               | dedup.DedupArticles(prev, previous_signatures=sigs))
        assert_that(out["articles"] | "Urls" >> beam.Map(lambda a: a.url),
                    equal_to(["https://ledger.example/cup.html", "https://econotimes.example/cup.html"]),
                    label="articles")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to(NEAR_DUPS[:2]), label="dups")


# --------------------------------------------------------------------------- one total order (#22)

def _words(start, stop):
    return " ".join(f"harbour{i}" for i in range(start, stop))


def chain_articles():
    """A~B and B~C (2-gram Jaccard 0.5) but A!~C (0.2, containment 0.3); plus a
    page saved twice (same canonical URL, two input URLs, same fetch time) and an
    exact copy of A on another site."""
    a = art("https://a.example/chain.html", _words(0, 100), published=T0)
    b = art("https://b.example/chain.html", _words(33, 133), published=T0 + dt.timedelta(hours=1))
    c = art("https://c.example/chain.html", _words(66, 166), published=T0 + dt.timedelta(hours=2))
    exact = art("https://e.example/chain.html", _words(0, 100).upper(), published=T0 + dt.timedelta(hours=3))
    saved = art("https://d.example/other.html", _words(500, 600))
    return [a, b, c, exact,
            dataclasses.replace(saved, input_url="file:///pages/one/other.html"),
            dataclasses.replace(saved, input_url="file:///pages/two/other.html")]


def _dedup_rows(articles, options=None):
    with TestPipeline(runner="FnApiRunner", options=options) as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        out = p | beam.Create(articles, reshuffle=True) | dedup.DedupArticles(prev)
        rows = ((out["articles"] | "A" >> beam.Map(lambda a: ("article", a.url, a.article_id, a.cluster_size)),
                 out["duplicates"] | "D" >> beam.Map(lambda d: ("dup", d.url, d.article_id, d.duplicate_of,
                                                               d.kind)))
                | beam.Flatten())
        assert_that(rows, equal_to(CHAIN_EXPECTED))


A_ID, C_ID, D_ID = (urls.article_id(f"https://{h}.example/{p}.html")
                    for h, p in (("a", "chain"), ("c", "chain"), ("d", "other")))
CHAIN_EXPECTED = [
    ("article", "https://a.example/chain.html", A_ID, 3),
    ("article", "https://c.example/chain.html", C_ID, 1),  # not through B: verified against A only
    ("article", "https://d.example/other.html", D_ID, 2),
    ("dup", "https://b.example/chain.html", urls.article_id("https://b.example/chain.html"), A_ID, "near"),
    ("dup", "https://e.example/chain.html", urls.article_id("https://e.example/chain.html"), A_ID, "exact"),
    # the second saved copy: under its own input URL and id, never its representative's
    ("dup", "file:///pages/two/other.html", urls.article_id("file:///pages/two/other.html"), D_ID, "url"),
]


def test_same_rows_whatever_the_order_bundles_and_ties():
    articles = chain_articles()
    for seed in (5, 6, 7):
        shuffled = articles[:]
        random.Random(seed).shuffle(shuffled)
        _dedup_rows(shuffled)


def test_url_copies_tie_break_on_input_url_and_never_point_at_themselves():
    *_, one, two = chain_articles()
    for order in ([one, two], [two, one]):
        representative, others = dedup.choose(order)
        assert representative.input_url == "file:///pages/one/other.html"
        folded = dedup.fold(representative, others, "url")
        rows = dedup.duplicates_of(folded, folded.article_id, T0)
        assert [(r.url, r.article_id != r.duplicate_of) for r in rows] == [("file:///pages/two/other.html", True)]
    # A tracking variant whose own id is the representative's: still a distinct id.
    variant = dataclasses.replace(one, aliases=("https://d.example/other.html?utm_source=x",))
    row, = dedup.duplicates_of(variant, variant.article_id, T0)
    assert row.article_id != row.duplicate_of


def test_signature_computed_once_and_carried():
    config = NearDupConfig()
    hasher = __import__("transforms.minhash", fromlist=["MinHasher"]).MinHasher(config.num_perm, config.seed)
    first = dedup.sketch(chain_articles()[0], hasher, config)
    again = dedup.sketch(first.article, None, config)  # no hasher needed: carried
    assert (again.signature, again.size) == (first.signature, first.size)
    changed = dataclasses.replace(first.article, body=first.article.body + " more words here")
    assert dedup.sketch(changed, hasher, config).signature != first.signature  # a new body: hashed again


def test_earlier_runs_reach_both_passes_through_one_join():
    """The earlier runs' index is joined once (by article id) and its entries go on to
    the content pass with the articles: an entry whose id no new article shares still
    makes a same-content article an ``exact`` duplicate; an entry of the same id but an
    older body makes the article ``already written``; non-article entries count for neither."""
    old_id = urls.article_id("https://old.example/x.html")
    other = ARTICLES[4]
    previous = [
        IndexEntry(url="https://old.example/x.html", article_id=old_id, content_hash=ARTICLES[1].content_hash,
                   kind="article", written_at=T0),
        IndexEntry(url=other.url, article_id=other.article_id, content_hash=content_hash("older body"),
                   kind="article", written_at=T0),
        IndexEntry(url="https://e.example/e.html", article_id=urls.article_id("https://e.example/e.html"),
                   content_hash=None, kind="exact", written_at=T0),
    ]
    fresh = art("https://e.example/e.html", "A third story, about the weather in the hills.")
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(previous)
        out = p | beam.Create([ARTICLES[1], other, fresh]) | dedup.DedupArticles(prev)
        assert_that(out["articles"] | beam.Map(lambda a: a.url), equal_to([fresh.url]))
        assert_that(out["skipped"], equal_to([other.url]), label="skipped")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(ARTICLES[1].url, "exact", old_id)]), label="dups")


def test_a_copy_an_earlier_run_recorded_is_already_written_not_recorded_again():
    """A rerun of read (not fetched) pages meets its copies again: those an earlier run
    recorded are skipped as already written (no second ``_duplicates`` row or index
    entry, on any day); a new copy of the same story is still recorded."""
    story, copy, new_copy = ARTICLES[1], ARTICLES[0], ARTICLES[2]
    previous = [_index_entry(story.url, story.article_id, story.content_hash, "article"),
                _index_entry(copy.url, copy.article_id, None, "exact")]
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create(previous)
        out = p | beam.Create([story, copy, new_copy]) | dedup.DedupArticles(prev)
        assert_that(out["articles"], equal_to([]), label="articles")
        assert_that(out["skipped"], equal_to([story.url, copy.url]), label="skipped")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to([(new_copy.url, "exact", story.article_id)]), label="dups")


def _index_entry(url, article_id, content, kind):
    return IndexEntry(url=url, article_id=article_id, content_hash=content, kind=kind, written_at=T0)


# --------------------------------------------------------------------------- across runs (d27)

from schemas import arrow as arrow_schemas  # noqa: E402
from transforms import minhash as core_minhash  # noqa: E402
from transforms import sink  # noqa: E402


def _excerpt_and_story():
    """A story and an excerpt of it (its first 60 words, then 40 of another story): linked
    only by an anchor (no shared LSH band) and verified only by exact 5-gram containment
    (the 2-gram Jaccard and its estimate are far below the thresholds)."""
    story = art("https://econotimes.example/santos.html", _body(SANTOS[0]))
    other = _body(CUP[0]).split()
    excerpt = " ".join(story.body.split()[:60] + other[:40])
    return story, art("https://digest.example/santos-excerpt.html", excerpt, published=T0 + dt.timedelta(hours=3))


def _write_run(output, articles):
    """A first run into ``output``: its articles' (and near copies') rows in _state/signatures."""
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        out = p | beam.Create(articles) | dedup.DedupArticles(prev)
        rows = ((out["articles"] | dedup.SignaturesOf(), out[dedup.COPY_SIGNATURES]) | beam.Flatten())
        _ = rows | sink.WritePartitioned(str(output), "signatures")


def _later_run(output, articles, expected_articles, expected_dups):
    """A later run into ``output``: its article urls and (url, kind, duplicate_of) rows."""
    with TestPipeline(runner="FnApiRunner") as p:
        prev = p | "Prev" >> beam.Create([], reshuffle=False).with_output_types(IndexEntry)
        out = p | beam.Create(articles) | dedup.DedupArticles(prev, signatures_from=str(output))
        assert_that(out["articles"] | "Urls" >> beam.Map(lambda a: a.url), equal_to(expected_articles),
                    label="articles")
        assert_that(out["duplicates"] | "Dups" >> beam.Map(lambda d: (d.url, d.kind, d.duplicate_of)),
                    equal_to(expected_dups), label="dups")


def test_excerpt_of_a_story_an_earlier_run_wrote_is_found_by_anchor_and_exact_containment(tmp_path):
    story, excerpt = _excerpt_and_story()
    config = NearDupConfig()
    docs = [dedup.sketch(a, core_minhash.MinHasher(config.num_perm, config.seed), config) for a in (story, excerpt)]
    assert not set(core_minhash.band_keys(dedup._sig(docs[0].signature), config.bands, config.rows)) & set(
        core_minhash.band_keys(dedup._sig(docs[1].signature), config.bands, config.rows))  # no band link
    _write_run(tmp_path / "out", [story])
    _later_run(tmp_path / "out", [excerpt], [], [(excerpt.url, "near", story.article_id)])


def test_signatures_written_by_the_previous_version_still_work(tmp_path):
    """An old ``_state/signatures`` file (no anchors, bodies or copies): bands and
    estimates as before: the syndicated copy is found, the excerpt is not."""
    story, excerpt = _excerpt_and_story()
    copy = art("https://ledger.example/santos.html", _body(SANTOS[1]), published=T0 + dt.timedelta(hours=5))
    config = NearDupConfig()
    sketched = dedup.sketch(story, core_minhash.MinHasher(config.num_perm, config.seed), config)
    row = arrow_schemas.signature_to_row(dedup.signature_entry(sketched, config, T0))
    old_schema = arrow_schemas.pa.schema([arrow_schemas.SIGNATURE_SCHEMA.field(n) for n in
                                          ("article_id", "signature", "shingles", "params", "written_at")])
    folder = tmp_path / "out" / "_state" / "signatures"
    folder.mkdir(parents=True)
    import pyarrow.parquet as pq
    pq.write_table(arrow_schemas.pa.Table.from_pylist([{k: row[k] for k in old_schema.names}], schema=old_schema),
                   folder / "part-old.parquet")
    _later_run(tmp_path / "out", [copy, excerpt], [excerpt.url], [(copy.url, "near", story.article_id)])


def test_copy_of_a_copy_an_earlier_run_folded_joins_its_story_as_in_one_job():
    """An earlier run folded near copy C into story S and kept C's row under S. A later
    exact copy of C (not verified against S itself) is a duplicate of S, as in one job;
    a document verified against C alone (one job: no star merge) stays a story."""
    config = NearDupConfig()
    hasher = core_minhash.MinHasher(config.num_perm, config.seed)
    words = _body(SANTOS[0]).split()
    s_body, c_body = " ".join(words[:120]), " ".join(words[60:180])
    other = _body(CUP[0]).split()
    s = dedup.sketch(art("https://a.example/s.html", s_body), hasher, config)
    c = dedup.sketch(art("https://b.example/c.html", c_body), hasher, config)
    spans = [core_minhash.shingles(b, config.containment_shingle) for b in (s_body, c_body)]
    assert not core_minhash.verify(core_minhash.shingles(s_body, 2), core_minhash.shingles(c_body, 2), config,
                                   *spans)[0]  # C joined S through other copies, not directly
    rows = [dedup.signature_entry(s, config, T0),
            dedup.signature_entry(c, config, T0, copy_of=s.article.article_id)]
    again = dedup.sketch(art("https://d.example/c-again.html", c_body), hasher, config)
    near_c = dedup.sketch(art("https://e.example/c-near.html", " ".join(words[100:180] + other[:60])), hasher, config)
    representatives, to_previous = dedup.cluster_component([again, near_c], rows, config)
    assert [(a.url, target) for a, target, _ in to_previous] == [(again.article.url, s.article.article_id)]
    assert [a.url for a in representatives] == [near_c.article.url]


def test_an_earlier_story_is_read_only_in_buckets_where_it_is_a_candidate():
    """The band-key read yields an earlier story's buckets only where one of this run's
    articles there may be a copy of it: a story sharing a passage by chance is not linked,
    read or compared; the copy is, through every bucket it shares."""
    config = NearDupConfig()
    hasher = core_minhash.MinHasher(config.num_perm, config.seed)
    words, other = _body(SANTOS[0]).split(), _body(CUP[0]).split()
    new = dedup.sketch(art("https://a.example/new.html", " ".join(words)), hasher, config)
    copy = dedup.sketch(art("https://b.example/copy.html", " ".join(words[:-10])), hasher, config)
    quote = dedup.sketch(art("https://c.example/quote.html", " ".join(other + words[40:100] + other)), hasher, config)
    band_new = list(dedup._band_keys_new(new, config))
    wanted = {k for k, _ in band_new}
    new_at = {}
    for key, value in band_new:
        new_at.setdefault(key, []).append(value)
    sketches = {new.article.article_id: (new.signature, new.size)}
    rows = {s.article.url: dedup.signature_entry(s, config, T0) for s in (copy, quote)}
    shared = {url: [k for k in minhash_keys(row, config) if k in wanted] for url, row in rows.items()}
    assert shared[quote.article.url]  # the passage: a shared anchor
    read = {url: [k for k, _ in dedup._band_keys_previous(row, wanted, config, new_at, sketches)]
            for url, row in rows.items()}
    assert read == {copy.article.url: shared[copy.article.url], quote.article.url: []}


def minhash_keys(row, config):
    return core_minhash.band_keys(dedup._sig(row.signature), config.bands, config.rows) + \
        core_minhash.unpack_anchors(row.anchors)
