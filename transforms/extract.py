"""HTML -> Article: body, title, authors, dates, language, section.

Pure core: :func:`extract_article` (a ``FetchedPage`` in, an ``Article`` or a
``DeadLetter`` out). trafilatura extracts the body; our own reading of the
page's structured metadata (JSON-LD, meta tags, ``<time>``) takes precedence
over trafilatura's guesses because publishers' markup is more reliable than
heuristics, and feed metadata fills what the page lacks. The page is parsed
with lxml once and the tree shared.
"""
from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import email.utils
import hashlib
import json
import logging
import re
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import Article, DeadLetter, FetchedPage
from schemas.taxonomy import DEFAULT_TOPIC
from transforms import boilerplate, urls

LOG = logging.getLogger(__name__)
DEAD_LETTER = "dead_letter"

MIN_ARTICLE_WORDS = 60  # fewer words after cleaning: a teaser, index or error page
MIN_YEAR = 1990
# Pages that declare themselves as not-an-article need much more text to be kept.
NON_ARTICLE_OG_TYPES = {"website", "profile", "video.other", "video.movie", "music.song", "book"}
MIN_WORDS_NON_ARTICLE_TYPE = 300
FUTURE_TOLERANCE = dt.timedelta(days=1)
_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
                  "blogposting", "opinionnewsarticle", "backgroundnewsarticle", "report",
                  "liveblogposting", "scholarlyarticle", "techarticle", "socialmediaposting"}
_META_PUBLISHED = ("article:published_time", "og:article:published_time", "datepublished",
                   "pubdate", "publishdate", "publish-date", "dc.date.issued", "dcterms.created",
                   "sailthru.date", "parsely-pub-date", "date", "og:published_time")
_META_MODIFIED = ("article:modified_time", "og:updated_time", "datemodified",
                  "dcterms.modified", "last-modified")
_URL_DATE = re.compile(r"/(20\d{2}|19\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?=/|$|[-_.])")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_AUTHOR_NOISE = re.compile(
    r"^(by|von|par|por|written by|posted by|words by)\s+|\s*\|.*$|\s*\(.*?\)\s*", re.I)
_AUTHOR_STOP = {"staff", "wire reports", "from wire reports", "wire services", "agencies", "staff writer", "staff reporter", "reporter", "correspondent", "editor",
                "editors", "admin", "news desk", "newsdesk", "the associated press", "wire",
                "writer", "senior writer", "contributor", "updated", "published", "and",
                "home", "news", "menu", "share", "follow"}
_EMAIL = re.compile(r"\S+@\S+")
_TITLE_SEP = re.compile(r"\s+[|\-–—·•:]\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


# --------------------------------------------------------------------------- decoding

def _codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_html(content: bytes, header_charset: Optional[str] = None) -> Tuple[str, str]:
    """Bytes -> text using, in order: BOM, HTTP charset, ``<meta charset>``,
    strict UTF-8, statistical detection. Raises ``ValueError`` if nothing fits."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if content.startswith(bom):
            return content.decode(name, errors="replace").lstrip("\ufeff"), name
    candidates: List[str] = []
    for name in (_codec(header_charset),):
        if name:
            candidates.append(name)
    match = _META_CHARSET.search(content[:4096])
    if match:
        name = _codec(match.group(1).decode("ascii", "ignore"))
        if name:
            candidates.append(name)
    candidates.append("utf-8")
    for name in candidates:
        try:
            return content.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(content[:200_000]).best()
        if best is not None and best.encoding:
            return content.decode(best.encoding, errors="replace"), best.encoding
    except Exception:  # detection is best effort
        pass
    text = content.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(10, len(text) // 20):
        raise ValueError("undecodable bytes (more than 5% invalid UTF-8, no usable charset)")
    return text, "utf-8"


# --------------------------------------------------------------------------- metadata

def parse_datetime(value: Any) -> Optional[dt.datetime]:
    """Parse an ISO 8601 / RFC 2822 date(-time); naive values are taken as UTC."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > 64:
        return None
    parsed: Optional[dt.datetime] = None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
            if match:
                try:
                    parsed = dt.datetime(*map(int, match.groups()))
                except ValueError:
                    parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def plausible(when: Optional[dt.datetime], fetched_at: dt.datetime) -> Optional[dt.datetime]:
    """Reject dates before 1990 or in the future relative to the fetch."""
    if when is None:
        return None
    if when.year < MIN_YEAR or when > fetched_at + FUTURE_TOLERANCE:
        return None
    return when


def _iter_jsonld(tree) -> Iterator[Dict[str, Any]]:
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        raw = (script.text or "").strip()
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            try:  # trailing commas, control characters: common in the wild
                data = json.loads(re.sub(r",\s*([}\]])", r"\1", raw), strict=False)
            except ValueError:
                continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                if "@graph" in item:
                    stack.append(item["@graph"])
                yield item


def _jsonld_article(tree) -> Dict[str, Any]:
    for item in _iter_jsonld(tree):
        types = item.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t.lower() in _ARTICLE_TYPES for t in types):
            return item
    return {}


def _names(value: Any) -> List[str]:
    """Person names from a JSON-LD author value (organisations are not bylines)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        kind = value.get("@type")
        kinds = kind if isinstance(kind, list) else [kind]
        if any(isinstance(k, str) and k.lower() in ("organization", "newsmediaorganization",
                                                      "corporation") for k in kinds):
            return []
        return _names(value.get("name"))
    if isinstance(value, list):
        return [n for v in value for n in _names(v)]
    return []


def _text(value: Any) -> Optional[str]:
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())
    return None


def _meta(tree) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for node in tree.xpath("//meta[@content]"):
        key = (node.get("property") or node.get("name") or node.get("itemprop") or "").strip().lower()
        if key and key not in found:
            found[key] = node.get("content", "").strip()
    return found


def clean_authors(raw: Iterable[str], site_name: Optional[str] = None) -> Tuple[str, ...]:
    """Split, clean and dedupe bylines: no "By", e-mails, roles, dates or the site's name."""
    out: List[str] = []
    seen = {site_name.strip().lower()} if site_name else set()
    for value in raw:
        if not value:
            continue
        value = _EMAIL.sub(" ", value)
        for part in re.split(r"\s*(?:,|;|\band\b|&|\bund\b|\bet\b|/|\n)\s*", value):
            name = _AUTHOR_NOISE.sub("", " ".join(part.split())).strip(" .,:-–—")
            name = _AUTHOR_NOISE.sub("", name).strip(" .,:-–—")
            if not name or name.lower() in _AUTHOR_STOP or len(name) > 60:
                continue
            if any(ch.isdigit() for ch in name):  # "May 5, 2025", "10:32"
                continue
            words = name.split()
            if len(words) > 5 or not any(w[:1].isupper() for w in words):
                continue
            if name.lower().split()[-1] in {"writer", "reporter", "correspondent", "editor", "staff"}:
                continue
            key = name.lower()
            if key not in seen:
                seen.add(key)
                out.append(name)
    return tuple(out)


def clean_title(title: Optional[str], site_name: Optional[str]) -> Optional[str]:
    """Drop a trailing " | Site Name" (or " - Site") suffix."""
    if not title:
        return None
    title = " ".join(title.split())
    parts = _TITLE_SEP.split(title)
    if len(parts) > 1:
        suffix = parts[-1].strip()
        if (site_name and suffix.lower() == site_name.strip().lower()) or \
                (len(suffix.split()) <= 4 and len(" ".join(parts[:-1]).split()) >= 3):
            title = title[: title.rfind(suffix)].rstrip(" |-–—·•:")
    return title or None


def _breadcrumb(tree) -> Optional[str]:
    crumbs = tree.xpath('//*[contains(@class,"breadcrumb")]//a/text() | //nav[@aria-label="breadcrumb"]//a/text()')
    crumbs = [" ".join(c.split()) for c in crumbs if c.strip() and c.strip().lower() not in ("home", "news")]
    return crumbs[0] if crumbs else None


def _time_tag(tree) -> Optional[str]:
    nodes = tree.xpath('//article//time[@datetime] | //time[@itemprop="datePublished"] | //time[@datetime]')
    return nodes[0].get("datetime") if nodes else None


def detect_language(tree, body: str) -> Optional[str]:
    import py3langid
    lang = None
    html_lang = (tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang") or "")
    html_lang = html_lang.strip().lower()[:2]
    if len(body) >= 200 or not re.fullmatch(r"[a-z]{2}", html_lang or ""):
        try:
            lang, _score = py3langid.classify(body[:4000])
        except Exception:
            lang = None
    if re.fullmatch(r"[a-z]{2}", html_lang or "") and (lang is None or len(body) < 200):
        return html_lang
    return lang


def _drop_leading_title(body: str, titles: Iterable[Optional[str]]) -> str:
    """trafilatura often keeps the <h1> as the first line; the title has its own column."""
    first, _, rest = body.partition("\n")
    key = " ".join(_WORD.findall(first.lower()))
    for title in titles:
        if title and key and rest.strip():
            title_key = " ".join(_WORD.findall(title.lower()))
            if key == title_key or (len(key) > 20 and title_key.startswith(key)):
                return rest.strip()
    return body


def content_hash(body: str) -> str:
    """Hash of the body ignoring case, whitespace and punctuation."""
    normalized = " ".join(_WORD.findall(body.lower()))
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:32]


def word_count(body: str) -> int:
    return len(_WORD.findall(body))


# --------------------------------------------------------------------------- the core

class ExtractionError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


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


def extract_article(page: FetchedPage, *, min_words: int = MIN_ARTICLE_WORDS,
                    counter_inc_fn=None) -> Union[Article, DeadLetter]:
    """Turn a fetched page into an Article, or a DeadLetter saying why not."""
    inc = counter_inc_fn or (lambda name, n=1: None)
    try:
        return _extract(page, min_words=min_words, inc=inc)
    except ExtractionError as exc:
        return DeadLetter(url=page.request.url, stage=reasons.STAGE_EXTRACT, reason=exc.reason,
                          detail=exc.detail[:500], at=dt.datetime.now(dt.timezone.utc))
    except Exception as exc:  # parser bugs on hostile input must not kill the job
        LOG.warning("extraction failed for %s: %r", page.request.url, exc)
        return DeadLetter(url=page.request.url, stage=reasons.STAGE_EXTRACT,
                          reason=reasons.EXTRACT_ERROR, detail=f"{type(exc).__name__}: {exc}"[:500],
                          at=dt.datetime.now(dt.timezone.utc))


def _extract(page: FetchedPage, *, min_words: int, inc) -> Article:
    import lxml.html
    import trafilatura

    if not page.content or not page.content.strip():
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "empty response body")
    try:
        text, _encoding = decode_html(page.content, page.encoding)
    except ValueError as exc:
        raise ExtractionError(reasons.BAD_ENCODING, str(exc)) from None
    text = text.replace("\x00", "")
    if not text.strip():
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "no text in page")
    try:
        tree = lxml.html.document_fromstring(text)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise ExtractionError(reasons.EMPTY_EXTRACTION, f"unparseable HTML: {exc}") from None

    # Our own reading of the publisher's metadata, before trafilatura prunes the tree.
    meta = _meta(tree)
    jsonld = _jsonld_article(tree)
    canonical = None
    for candidate in tree.xpath('//link[@rel="canonical"]/@href') + [meta.get("og:url", "")]:
        absolute = urls.safe_http_url(urllib.parse.urljoin(page.final_url, candidate.strip())) \
            if candidate and candidate.strip() else None
        if absolute:
            canonical = absolute
            break
    site_name = meta.get("og:site_name") or _text(jsonld.get("publisher", {}).get("name")
                                                  if isinstance(jsonld.get("publisher"), dict) else None)
    section = (meta.get("article:section") or _text(jsonld.get("articleSection"))
               or _breadcrumb(tree))
    time_tag = _time_tag(tree)
    jsonld_title = _text(jsonld.get("headline"))
    og_title = meta.get("og:title")
    jsonld_authors = _names(jsonld.get("author"))
    meta_author = meta.get("author") or meta.get("article:author") or meta.get("dc.creator")

    doc = trafilatura.bare_extraction(tree, url=page.final_url, with_metadata=True,
                                      include_comments=False, include_tables=False,
                                      favor_precision=True, deduplicate=False)
    raw_body = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if not raw_body:
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "no article text found")
    body, removed = boilerplate.remove_residue(raw_body)
    body = _drop_leading_title(body, [jsonld_title, og_title, getattr(doc, "title", None)])
    words = word_count(body)
    if words < min_words:
        raise ExtractionError(reasons.NOT_AN_ARTICLE,
                              f"{words} words after cleaning (< {min_words}): index, teaser or error page")
    inc("boilerplate_chars_removed", removed)
    page_type = (meta.get("og:type") or "").lower()
    if not jsonld and page_type in NON_ARTICLE_OG_TYPES and words < MIN_WORDS_NON_ARTICLE_TYPE:
        raise ExtractionError(reasons.NOT_AN_ARTICLE,
                              f"og:type {page_type!r} with {words} words: a section or index page")

    fetched_at = page.fetched_at
    request = page.request
    # Dates, most reliable source first.
    published, date_source = None, None
    for source, raw in (("jsonld", _text(jsonld.get("datePublished"))),
                        ("meta", next((meta[k] for k in _META_PUBLISHED if meta.get(k)), None)),
                        ("time_tag", time_tag)):
        published = plausible(parse_datetime(raw), fetched_at)
        if published is not None:
            date_source = source
            break
    if published is None and request.entry_published is not None:
        published = plausible(request.entry_published, fetched_at)
        date_source = "feed" if published is not None else None
    if published is None and getattr(doc, "date", None):
        published = plausible(parse_datetime(doc.date), fetched_at)
        date_source = "htmldate" if published is not None else None
    if published is None:
        match = _URL_DATE.search(urllib.parse.urlsplit(page.final_url).path)
        if match:
            published = plausible(parse_datetime("-".join(match.groups())), fetched_at)
            date_source = "url" if published is not None else None
    modified = plausible(parse_datetime(_text(jsonld.get("dateModified"))
                                        or next((meta[k] for k in _META_MODIFIED if meta.get(k)), None)),
                         fetched_at)

    url, canonical_url = _page_url(page, canonical)
    title = clean_title(jsonld_title or og_title or getattr(doc, "title", None) or request.entry_title,
                        site_name)
    authors = clean_authors(jsonld_authors or ([meta_author] if meta_author else [])
                            or ([doc.author] if getattr(doc, "author", None) else [])
                            or list(request.entry_authors), site_name=site_name)
    categories = tuple(c for c in (list(request.entry_categories)
                                   + list(getattr(doc, "categories", None) or [])) if c)
    domain = urls.domain_of(canonical_url) or "local"
    return Article(
        article_id=urls.article_id(canonical_url),
        url=url,
        canonical_url=canonical_url,
        source_domain=domain,
        feed_url=request.feed_url,
        title=title,
        authors=authors,
        published_at=published,
        modified_at=modified,
        date_source=date_source,
        fetched_at=fetched_at,
        language=detect_language(tree, body),
        topic=DEFAULT_TOPIC,
        topic_source=None,
        section=section[:200] if section else None,
        body=body,
        word_count=words,
        content_hash=content_hash(body),
        cluster_sources=(domain,),
        boilerplate_removed_chars=removed,
        categories=categories,
        topic_hint=request.topic_hint,
        aliases=request.aliases,
    )


class _ExtractFn(beam.DoFn):
    def __init__(self, min_words: int):
        self._min_words = min_words
        self.extracted = Metrics.counter("extract", "articles")

    def process(self, page: FetchedPage):
        result = extract_article(page, min_words=self._min_words,
                                 counter_inc_fn=lambda n, v=1: Metrics.counter("extract", n).inc(v))
        if isinstance(result, DeadLetter):
            Metrics.counter("dead_letters", f"extract.{result.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, result)
            for alias in page.request.aliases:
                yield pvalue.TaggedOutput(DEAD_LETTER, dataclasses.replace(
                    result, url=alias, detail=f"variant of {result.url}: {result.detail}"[:500]))
        else:
            self.extracted.inc()
            yield result


class ExtractArticles(beam.PTransform):
    """FetchedPage -> Article, with a ``dead_letter`` output."""

    def __init__(self, min_words: int = MIN_ARTICLE_WORDS, label: Optional[str] = None):
        super().__init__(label)
        self._min_words = min_words

    def expand(self, pages):
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self._min_words)).with_outputs(
            DEAD_LETTER, main="articles")
