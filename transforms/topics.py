"""Assigning each article a topic slug from the fixed taxonomy.

Signals in order of trust: the operator's topic for the feed (``feed_config``),
the page's own section (``section``), the feed entry's / page's categories
(``category``), URL path segments (``url``). Anything unrecognised maps to
``other``; a raw string never becomes a slug.
"""
from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Optional, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.records import Article
from schemas.taxonomy import DEFAULT_TOPIC, first_slug, is_topic, to_slug

_SKIP_SEGMENTS = {"news", "article", "articles", "story", "stories", "www", "en", "index.html",
                  "amp", "content", "post", "posts", "the", "a"}


def url_topic(url: str) -> Optional[str]:
    """Topic from the URL path: the first segment that maps to a slug, ignoring
    the file name (``/politics/2025/05/x.html`` -> politics)."""
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:
        return None
    segments = [s for s in path.split("/") if s][:-1]  # the last one is the slug/file name
    for segment in segments[:4]:
        if segment.lower() in _SKIP_SEGMENTS or segment.isdigit():
            continue
        slug = to_slug(segment)
        if slug is not None:
            return slug
    return None


def choose_topic(article: Article) -> Tuple[str, Optional[str]]:
    """(topic slug, topic_source)."""
    if is_topic(article.topic_hint):
        return article.topic_hint, "feed_config"
    slug = to_slug(article.section)
    if slug is not None:
        return slug, "section"
    slug = first_slug(article.categories)
    if slug is not None:
        return slug, "category"
    for url in (article.canonical_url, article.url):
        slug = url_topic(url)
        if slug is not None:
            return slug, "url"
    return DEFAULT_TOPIC, None


def assign_topic(article: Article) -> Article:
    topic, source = choose_topic(article)
    return dataclasses.replace(article, topic=topic, topic_source=source)


class AssignTopics(beam.PTransform):
    def expand(self, articles):
        def _assign(article: Article) -> Article:
            result = assign_topic(article)
            Metrics.counter("topics", result.topic).inc()
            return result
        return articles | "Assign" >> beam.Map(_assign)
