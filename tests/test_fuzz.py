"""Property-based tests (hypothesis) over the pure core.

feed entry -> request, HTML -> article, body -> entities/topic, article -> Arrow
row: no exception escapes, outputs have the schema's types, and the body is a
cleanup of the page's own text (every body paragraph is found, whitespace
normalised, in the text the page showed). Example counts are kept small so the
module costs a few seconds; the seed is derandomised so CI is reproducible.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json

import re

import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings, strategies as st

from schemas import arrow, reasons
from schemas.records import Article, DeadLetter, Entity, FeedRequest, FetchedPage, PageRequest
from schemas.taxonomy import TOPICS
from transforms import extract, feeds, sink, topics

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NOW = dt.datetime(2025, 5, 15, 12, tzinfo=dt.timezone.utc)
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)  # surrogates too
WORD = st.text(alphabet=st.characters(categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12)
SENTENCE = st.lists(WORD, min_size=5, max_size=30).map(lambda w: " ".join(w) + ".")


def _norm(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------- feed entry -> request

@FUZZ
@given(title=ANY_TEXT, link=ANY_TEXT, category=ANY_TEXT, date=ANY_TEXT, as_json=st.booleans())
def test_feed_entry_to_request(title, link, category, date, as_json):
    base = "https://feeds.example.com/rss.xml"
    if as_json:
        content = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
            {"id": "1", "url": link, "title": title, "tags": [category], "date_published": date}]}).encode()
        ctype = "application/feed+json"
    else:
        esc = lambda s: html.escape(s.encode("utf-8", "replace").decode("utf-8"))  # noqa: E731
        content = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                   f"<item><title>{esc(title)}</title><link>{esc(link)}</link>"
                   f"<category>{esc(category)}</category><pubDate>{esc(date)}</pubDate></item>"
                   "</channel></rss>").encode("utf-8", "replace")
        ctype = "application/rss+xml"
    requests_, dead = feeds.parse_feed(content, FeedRequest(url=base), content_type=ctype, base_url=base)
    assert len(requests_) + len(dead) >= 1  # the entry is a request or a dead letter, never lost
    for request in requests_:
        assert isinstance(request, PageRequest) and request.url.startswith(("http://", "https://"))
        assert request.entry_published is None or request.entry_published.tzinfo is not None
    for letter in dead:
        assert isinstance(letter, DeadLetter) and letter.reason in reasons.REASONS


# --------------------------------------------------------------------------- HTML -> article

@FUZZ
@given(paragraphs=st.lists(st.lists(SENTENCE, min_size=2, max_size=6).map(" ".join), min_size=1, max_size=6),
       title=ANY_TEXT, noise=st.lists(ANY_TEXT, max_size=3), jsonld_title=ANY_TEXT)
def test_html_to_article(paragraphs, title, noise, jsonld_title):
    ld = json.dumps({"@type": "NewsArticle", "headline": jsonld_title})
    body_html = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    junk = "".join(f"<div>{html.escape(n.encode('utf-8', 'replace').decode())}</div>" for n in noise)
    page_html = (f'<html><head><title>{html.escape(title.encode("utf-8", "replace").decode())}</title>'
                 f'<script type="application/ld+json">{ld}</script></head>'
                 f"<body>{junk}<article>{body_html}</article></body></html>")
    page = FetchedPage(request=PageRequest(url="https://example.com/news/story"),
                       final_url="https://example.com/news/story", status=200,
                       content=page_html.encode("utf-8", "surrogatepass"), content_type="text/html", fetched_at=NOW)
    result = extract.extract_article(page, min_words=5)
    assert isinstance(result, (Article, DeadLetter))
    if isinstance(result, DeadLetter):
        assert result.reason in reasons.REASONS
        return
    shown = _norm(" ".join(paragraphs + [n for n in noise] + [title]))
    for block in result.body.split("\n"):
        if block.strip():
            assert _norm(block) in shown, (block, shown)
    assert result.word_count == extract.word_count(result.body)
    table = arrow.to_table([arrow.article_to_row(result)], arrow.ARTICLE_SCHEMA)
    assert table.schema.equals(arrow.ARTICLE_SCHEMA)


# --------------------------------------------------------------------------- body -> topic / entities

@FUZZ
@given(title=st.one_of(st.none(), ANY_TEXT), body=ANY_TEXT, section=st.one_of(st.none(), ANY_TEXT),
       categories=st.lists(ANY_TEXT, max_size=3), url_path=ANY_TEXT)
def test_body_to_topic(title, body, section, categories, url_path):
    article = _article(title=title, body=body or "x", section=section, categories=tuple(categories),
                       url="https://example.com/" + url_path)
    chosen = topics.assign_topic(article)
    assert chosen.topic in TOPICS
    assert sink.article_partition(chosen).split("/")[0] == f"topic={chosen.topic}"


@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(bodies=st.lists(st.one_of(ANY_TEXT, st.lists(SENTENCE, max_size=5).map(" ".join)), min_size=1, max_size=4))
def test_body_to_entities(nlp, bodies):
    from transforms import entities
    tagged = entities.tag_texts(nlp, bodies)
    assert len(tagged) == len(bodies)
    for body, found in zip(bodies, tagged):
        assert isinstance(found, tuple) and len(found) <= entities.MAX_ENTITIES
        for entity in found:
            assert isinstance(entity, Entity) and entity.count >= 1 and entity.text and entity.label


# --------------------------------------------------------------------------- article -> Arrow row

def _article(**changes) -> Article:
    base = Article(article_id="a" * 40, url="https://example.com/a", canonical_url="https://example.com/a",
                   source_domain="example.com", feed_url=None, title="t", authors=(), published_at=NOW,
                   modified_at=None, date_source="meta", fetched_at=NOW, language="en", topic="other",
                   topic_source=None, section=None, body="body", word_count=1, content_hash="h")
    return dataclasses.replace(base, **changes)


DATES = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30),
                     timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-11)),
                                                dt.timezone(dt.timedelta(hours=14))]))


@FUZZ
@given(text=ANY_TEXT, texts=st.lists(ANY_TEXT, max_size=4), published=st.one_of(st.none(), DATES),
       fetched=DATES, count=st.integers(0, 2 ** 31 - 1), flag=st.booleans())
def test_article_to_arrow_row(tmp_path_factory, text, texts, published, fetched, count, flag):
    article = _article(url=text, canonical_url=text, title=text, body=text, section=text, topic=text,
                       authors=tuple(texts), cluster_sources=tuple(texts), published_at=published,
                       fetched_at=fetched, word_count=count, cluster_size=count,
                       entities=tuple(Entity(t, "ORG", count) for t in texts), truncated_suspected=flag)
    table = arrow.to_table([arrow.article_to_row(article)], arrow.ARTICLE_SCHEMA)
    assert table.schema.equals(arrow.ARTICLE_SCHEMA) and table.num_rows == 1
    row = table.to_pylist()[0]
    assert row["schema_version"] == arrow.SCHEMA_VERSION and row["fetched_at"].tzinfo is not None
    for name in ("body", "title", "url"):
        assert isinstance(row[name], str) and len(row[name]) == len(text)
    partition = sink.article_partition(article)
    assert re.fullmatch(r"topic=[a-z]+/date=\d{4}-\d{2}-\d{2}", partition), partition
    out = tmp_path_factory.mktemp("fuzz")
    written = sink.write_partition(str(out), "articles", partition, [arrow.article_to_row(article)])
    assert pq.read_table(written[0]["path"]).num_rows == 1
