"""FetchedPage -> Article (or DeadLetter): body, title, authors, dates, language, flags.

:func:`extract_article` is the whole decision for one page; :func:`extract_with_budget`
runs it in a killable worker process (``core/sandbox.py``) so hostile HTML can never
hang the caller. Feed metadata fills what the page lacks. Site-wide template text is
removed later, across articles, by ``transforms/site_learning.py``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import urllib.parse
from typing import Any, Dict, Optional, Tuple, Union

from core import urls, verdict
from core import usage as usage_rights
from core.body import ExtractedBody, ExtractionError, extract_body, parse_page
from core.counters import CounterInc, Tally, or_none
from core.dates import parse_datetime, plausible
from core.dead_letters import dead_letter
from core.metadata import (_META_MODIFIED, _META_PUBLISHED, _URL_DATE, LazyMetadata, _authors, _breadcrumb,
                           _categories, _html_title, _iter_jsonld, _jsonld_article, _meta, _names, _text,
                           _time_tag, clean_title, content_hash, detect_language, genre_hints, page_date,
                           word_count)
from schemas import reasons
from schemas.records import Article, DeadLetter, FetchedPage
from schemas.taxonomy import DEFAULT_TOPIC

LOG = logging.getLogger(__name__)

MIN_ARTICLE_WORDS = verdict.MIN_ARTICLE_WORDS  # fewer words after cleaning: never an article
EXTRACT_TIMEOUT_S = 30.0  # per-document budget in the worker process
MAX_TITLE_CHARS = 1000
NO_DATE = "none"  # date_source of an article without a trustworthy publication day
SANDBOX_TARGET = "core.article:extract_counted"


@dataclasses.dataclass(frozen=True)
class PageMetadata:
    """What the page's markup says, read once from the tree."""
    meta: Dict[str, str]
    jsonld: Dict[str, Any]
    canonical: Optional[str]
    site_name: Optional[str]
    section: Optional[str]
    time_tag: Optional[str]
    jsonld_title: Optional[str]
    og_title: Optional[str]
    html_title: Optional[str]
    meta_author: Optional[str]


def _canonical(tree, meta: Dict[str, str], base_url: str) -> Optional[str]:
    for candidate in tree.xpath('//link[@rel="canonical"]/@href') + [meta.get("og:url", "")]:
        absolute = urls.safe_http_url(urllib.parse.urljoin(base_url, candidate.strip())) \
            if candidate and candidate.strip() else None
        if absolute:
            return absolute
    return None


def read_metadata(tree, base_url: str) -> PageMetadata:
    """Our own reading of the publisher's metadata (trafilatura works on a copy of the tree)."""
    meta = _meta(tree)
    jsonld = _jsonld_article(tree)
    publisher = jsonld.get("publisher")
    site_name = meta.get("og:site_name") or _text(publisher.get("name") if isinstance(publisher, dict) else None)
    section = meta.get("article:section") or _text(jsonld.get("articleSection")) or _breadcrumb(tree)
    return PageMetadata(
        meta=meta, jsonld=jsonld, canonical=_canonical(tree, meta, base_url), site_name=site_name,
        section=section, time_tag=_time_tag(tree), jsonld_title=_text(jsonld.get("headline")),
        og_title=meta.get("og:title"), html_title=_html_title(tree),
        meta_author=meta.get("author") or meta.get("article:author") or meta.get("dc.creator"))


def _page_url(page: FetchedPage, canonical: Optional[str]) -> Tuple[str, str]:
    """(url, canonical_url). Canonical links are trusted when same-site, or for
    saved pages (whose only identity is the canonical link)."""
    url = page.final_url
    is_file = url.startswith("file:")
    if canonical and (is_file or urls.same_site(canonical, url)):
        if is_file:
            url = canonical
        return url, urls.normalize_url(canonical)
    return url, urls.normalize_url(url)


def _check_verdict(tree, body: str, words: int, md: PageMetadata, min_words: int) -> None:
    page_type = (md.meta.get("og:type") or "").lower()
    headings = tree.xpath("//h1")
    only_h1 = " ".join(headings[0].text_content().split()) if len(headings) == 1 else None
    why_not = verdict.non_article_reason(
        tree, body, words, is_declared_article=bool(md.jsonld) or page_type == "article", og_type=page_type,
        jsonld_types=verdict.declared_types(_iter_jsonld(tree)), titles=(md.html_title, only_h1, md.og_title),
        min_words=min_words)
    if why_not:
        raise ExtractionError(reasons.NOT_AN_ARTICLE, why_not)


def publication_date(tree, page: FetchedPage, md: PageMetadata,
                     canonical_url: str) -> Tuple[Optional[dt.datetime], str]:
    """(published_at, date_source), most reliable source first; never a guess (the
    partition then uses the fetch day)."""
    fetched_at, request = page.fetched_at, page.request
    for source, raw in (("jsonld", _text(md.jsonld.get("datePublished"))),
                        ("meta", next((md.meta[k] for k in _META_PUBLISHED if md.meta.get(k)), None)),
                        ("time_tag", md.time_tag)):
        published = plausible(parse_datetime(raw), fetched_at)
        if published is not None:
            return published, source
    if request.entry_published is not None:
        published = plausible(request.entry_published, fetched_at)
        if published is not None:
            return published, "feed"
    match = _URL_DATE.search(urllib.parse.urlsplit(page.final_url).path) or \
        _URL_DATE.search(urllib.parse.urlsplit(canonical_url).path)
    if match:
        published = plausible(parse_datetime("-".join(match.groups())), fetched_at)
        if published is not None:
            return published, "url"
    published = plausible(parse_datetime(page_date(tree, page.final_url, page.content)), fetched_at)
    return (published, "htmldate") if published is not None else (None, NO_DATE)


def _modified(md: PageMetadata, fetched_at: dt.datetime) -> Optional[dt.datetime]:
    raw = _text(md.jsonld.get("dateModified")) or next((md.meta[k] for k in _META_MODIFIED if md.meta.get(k)), None)
    return plausible(parse_datetime(raw), fetched_at)


def _byline(md: PageMetadata, fallback: LazyMetadata, page: FetchedPage,
            host: Optional[str]) -> Tuple[Optional[str], Tuple[str, ...]]:
    """(title, authors): the page's own first, trafilatura's metadata, then the feed entry's."""
    request = page.request
    title = clean_title(md.jsonld_title or md.og_title or md.html_title or fallback.get("title")
                        or request.entry_title, md.site_name, host)
    title = title[:MAX_TITLE_CHARS] if title else title  # hostile pages: a 900 KB <h1>
    jsonld_authors = _names(md.jsonld.get("author"))
    authors = _authors((lambda: jsonld_authors, lambda: [md.meta_author] if md.meta_author else [],
                        lambda: [fallback.get("author")] if fallback.get("author") else [],
                        lambda: list(request.entry_authors)), md.site_name)
    return title, authors


def _article(tree, page: FetchedPage, md: PageMetadata, extracted: ExtractedBody, words: int) -> Article:
    request = page.request
    url, canonical_url = _page_url(page, md.canonical)
    published, date_source = publication_date(tree, page, md, canonical_url)
    title, authors = _byline(md, LazyMetadata(tree, page.final_url), page,
                             urllib.parse.urlsplit(canonical_url).hostname)
    domain = urls.domain_of(canonical_url) or "local"
    body = extracted.text
    return Article(
        article_id=urls.article_id(canonical_url), url=url, canonical_url=canonical_url,
        source_domain=domain, feed_url=request.feed_url, title=title, authors=authors,
        published_at=published, modified_at=_modified(md, page.fetched_at), date_source=date_source,
        fetched_at=page.fetched_at, language=detect_language(tree, body), topic=DEFAULT_TOPIC,
        topic_source=None, section=md.section[:200] if md.section else None, body=body, word_count=words,
        content_hash=content_hash(body), cluster_sources=(domain,),
        boilerplate_removed_chars=extracted.removed_chars, truncated_suspected=extracted.truncated_suspected,
        paywall_suspected=extracted.paywall_suspected,
        categories=tuple(c for c in (list(request.entry_categories) + _categories(tree)) if c),
        genre_hints=genre_hints(tree, md.jsonld, md.meta), topic_hint=request.topic_hint,
        aliases=request.aliases,
        usage=usage_rights.from_page(tree, page.final_url, _iter_jsonld(tree), md.jsonld, page.usage),
    )


def _extract(page: FetchedPage, *, min_words: int, inc: CounterInc) -> Article:
    tree = parse_page(page.content, page.declared_charset)
    md = read_metadata(tree, page.final_url)
    extracted = extract_body(tree, page.final_url, jsonld=md.jsonld, meta=md.meta,
                             titles=[md.jsonld_title, md.og_title, md.html_title], raw=page.content)
    if extracted is None:
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "no article text found")
    words = word_count(extracted.text)
    _check_verdict(tree, extracted.text, words, md, min_words)
    inc("boilerplate_chars_removed", extracted.removed_chars)
    return _article(tree, page, md, extracted, words)


def extract_article(page: FetchedPage, *, min_words: int = MIN_ARTICLE_WORDS,
                    counter_inc_fn: Optional[CounterInc] = None) -> Union[Article, DeadLetter]:
    """Turn a fetched page into an Article, or a DeadLetter saying why not."""
    try:
        return _extract(page, min_words=min_words, inc=or_none(counter_inc_fn))
    except ExtractionError as exc:
        return dead_letter(page.request.url, reasons.STAGE_EXTRACT, exc.reason, exc.detail, usage=page.usage)
    except Exception as exc:  # parser bugs on hostile input must not kill the job
        LOG.warning("extraction failed for %s: %r", page.request.url, exc)
        return dead_letter(page.request.url, reasons.STAGE_EXTRACT, reasons.EXTRACT_ERROR,
                           f"{type(exc).__name__}: {exc}")


def extract_counted(page: FetchedPage, min_words: int = MIN_ARTICLE_WORDS
                    ) -> Tuple[Union[Article, DeadLetter], Dict[str, int]]:
    """:func:`extract_article` plus the counters it bumped (run in a worker process,
    whose Beam metrics would be lost)."""
    tally = Tally()
    return extract_article(page, min_words=min_words, counter_inc_fn=tally), tally.counts


def extract_with_budget(page: FetchedPage, *, min_words: int = MIN_ARTICLE_WORDS,
                        timeout: Optional[float] = EXTRACT_TIMEOUT_S
                        ) -> Tuple[Union[Article, DeadLetter], Dict[str, int]]:
    """Extract in a killable child process: past ``timeout`` seconds the child is
    killed and the page is dead-lettered ``extract_timeout``; the caller never hangs.
    ``timeout`` None or <= 0: in-process, no limit."""
    if not timeout or timeout <= 0:
        return extract_counted(page, min_words)
    from core import sandbox
    try:
        return sandbox.call(SANDBOX_TARGET, page, min_words, timeout=timeout)
    except sandbox.SandboxTimeout:
        LOG.warning("extraction of %s exceeded %.1f s; worker killed", page.request.url, timeout)
        return dead_letter(page.request.url, reasons.STAGE_EXTRACT, reasons.EXTRACT_TIMEOUT,
                           f"extraction took longer than {timeout:g} s ({len(page.content)} bytes)"), {}
    except sandbox.SandboxCrash as exc:
        return dead_letter(page.request.url, reasons.STAGE_EXTRACT, reasons.EXTRACT_ERROR,
                           f"extraction worker died: {exc}"), {}
