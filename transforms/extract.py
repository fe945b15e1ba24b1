"""HTML -> Article: body, title, authors, dates, language, section, quality flags.

Pure core: :func:`extract_article` (a ``FetchedPage`` in, an ``Article`` or a
``DeadLetter`` out), built on :func:`extract_body` / :func:`extract_text` (HTML in,
article text out, usable on their own). trafilatura finds the body; we then remove
what it leaves in (``transforms/boilerplate.py``: template lines, link-dense blocks,
lead-in and closing chrome) and use the page's JSON-LD ``articleBody``, when there is
one, as a second opinion and to recover bodies split around widgets. Our own reading
of the page's structured metadata (JSON-LD, meta tags, ``<time>``) takes precedence
over heuristics because publishers' markup is more reliable, and feed metadata fills
what the page lacks. The page is parsed with lxml once and the tree shared
(trafilatura works on a copy). Site-wide template text is removed later, across
articles, by ``transforms/site_learning.py``.
"""
from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import email.utils
import hashlib
import html
import json
import logging
import re
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import Article, DeadLetter, FetchedPage
from schemas.taxonomy import DEFAULT_TOPIC
from transforms import boilerplate, urls, verdict
from transforms import usage as usage_rights
from transforms.words import count_split_words, count_words

LOG = logging.getLogger(__name__)
DEAD_LETTER = "dead_letter"

LANGID_CHARS = 1500  # py3langid's cost grows with the text; 1.5k characters decide it
MIN_ARTICLE_WORDS = verdict.MIN_ARTICLE_WORDS  # fewer words after cleaning: never an article
MIN_YEAR = 1990
# Per-document budget and pre-parse guard: hostile pages (5 MB of link soup, a tag
# with 200,000 attributes) can keep lxml/trafilatura busy for minutes.
EXTRACT_TIMEOUT_S = 30.0
MAX_EXTRACT_BYTES = 10 * 1024 * 1024
MAX_TAGS = 200_000  # '<' characters; real pages have a few thousand
MAX_TITLE_CHARS = 1000
LINEAGE = "lineage"  # (request URL, article URL) pairs, for the run's accounting
FUTURE_TOLERANCE = dt.timedelta(days=1)
NO_DATE = "none"  # date_source of an article without a trustworthy publication day
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
    """Bytes -> text using, in order: BOM, HTTP charset, strict UTF-8,
    ``<meta charset>``, statistical detection. Raises ``ValueError`` if nothing fits."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"),
                      (codecs.BOM_UTF16_BE, "utf-16")):
        if content.startswith(bom):
            return content.decode(name, errors="replace").lstrip("\ufeff"), name
    candidates: List[str] = []
    for name in (_codec(header_charset),):
        if name:
            candidates.append(name)
    # Valid UTF-8 before <meta charset> (as the fetch stage resolves it): pages re-saved
    # as UTF-8 keep their old "iso-8859-1" declaration, while Latin-1 text with accents
    # is almost never valid UTF-8.
    candidates.append("utf-8")
    match = _META_CHARSET.search(content[:4096])
    if match:
        name = _codec(match.group(1).decode("ascii", "ignore"))
        if name:
            candidates.append(name)
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
                if isinstance(item.get("mainEntity"), (dict, list)):
                    stack.append(item["mainEntity"])  # WebPage {mainEntity: NewsArticle}
                yield item


def _jsonld_article(tree) -> Dict[str, Any]:
    for item in _iter_jsonld(tree):
        types = item.get("@type")
        types = types if isinstance(types, list) else [types]
        if any(isinstance(t, str) and t.lower() in _ARTICLE_TYPES for t in types):
            return item
    return {}


def _names(value: Any) -> List[str]:
    """Byline names from a JSON-LD author value: people, and agencies or desks credited as
    authors ("dpa", "The Associated Press"); the publisher itself is dropped later."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
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


_NOT_KICKER_TAGS = {"nav", "ul", "ol", "menu", "form", "button", "select", "script", "style"}
_NAV_CLASS = re.compile(r"nav|menu|breadcrumb", re.I)


def genre_hints(tree, jsonld: Dict[str, Any], meta: Dict[str, str]) -> Tuple[str, ...]:
    """Explicit genre markers for the topic stage (which decides what they mean): JSON-LD
    ``@type`` and ``genre``, ``article:opinion``, and the kicker -- a short label right
    before the headline ("Opinion", "Comment"), never text elsewhere on the page."""
    hints: List[str] = []
    for key in ("@type", "genre"):
        value = jsonld.get(key)
        hints += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    if (meta.get("article:opinion") or "").lower() == "true":
        hints.append("opinion")
    for h1 in tree.xpath("(//h1)[1]"):
        near = h1.xpath("preceding-sibling::*[position() <= 2]") + h1.xpath("../preceding-sibling::*[1]")
        for node in near:
            if not isinstance(node.tag, str) or node.tag.lower() in _NOT_KICKER_TAGS or _NAV_CLASS.search(
                    f'{node.get("class", "")} {node.get("id", "")} {node.get("role", "")}'):
                continue  # a menu before the headline is the site's, not the article's
            text = " ".join(node.text_content().split())
            if 0 < len(text) <= 40 and len(text.split()) <= 3:
                hints.append(text)
    return tuple(h[:100] for h in hints[:8])


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
            cased = any(ch.isupper() or ch.islower() for ch in name)  # CJK, Thai, Arabic have no case
            if len(words) > 5 or (cased and not any(w[:1].isupper() for w in words)):
                continue
            if name.lower().split()[-1] in {"writer", "reporter", "correspondent", "editor", "staff"}:
                continue
            key = name.lower()
            if key not in seen:
                seen.add(key)
                out.append(name)
    return tuple(out)


def _authors(sources: Sequence[Any], site_name: Optional[str]) -> Tuple[str, ...]:
    """Names from the first source that has any, other than the site itself; when the only
    byline anywhere is the publisher ("Salzburger Nachrichten", "BBC News"), that byline."""
    for exclude_site in (True, False):
        for source in sources:
            names = clean_authors(source(), site_name=site_name if exclude_site else None)
            if names:
                return names
    return ()


def clean_title(title: Optional[str], site_name: Optional[str], host: Optional[str] = None) -> Optional[str]:
    """Unescape entities left in by the publisher and drop a trailing site label: " - Site
    Name" / " | Golem.de" when it names the site (its og:site_name or host), and any short
    " | Section" suffix. A dash or colon part that does not name the site is part of the
    headline ("Brand in Lichterfelde – Starke Rauchentwicklung") and stays."""
    if not title:
        return None
    title = " ".join(html.unescape(html.unescape(title)).split())
    separators = list(_TITLE_SEP.finditer(title))
    if separators:
        last = separators[-1]
        head, suffix = title[:last.start()].rstrip(), title[last.end():].strip()
        piped = last.group().strip() in "|·•"
        if _names_site(suffix, site_name, host) or \
                (piped and len(suffix.split()) <= 4 and len(head.split()) >= 3):
            title = head.rstrip(" |-–—·•:")
    return title or None


def _key(text: Optional[str]) -> str:
    return re.sub(r"\W+", "", html.unescape(text or "").lower())


def _names_site(label: str, site_name: Optional[str], host: Optional[str]) -> bool:
    """True when ``label`` is the site's name ("Golem.de", "The Namibian", "毎日新聞")."""
    key = _key(label)
    if not key:
        return False
    site = _key(site_name)
    if site and (key == site or (len(key) >= 3 and (key in site or site in key))):
        return True
    labels = [part for part in (host or "").lower().split(".") if part and part != "www"]
    name = _key(labels[0]) if labels else ""
    return len(name) >= 3 and (key.startswith(name) or name in key)


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
            lang, _score = py3langid.classify(body[:LANGID_CHARS])
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
    """Words of any script (``transforms/words.py``: CJK and Thai estimated from characters)."""
    return count_words(body)


# --------------------------------------------------------------------------- the body

# trafilatura settings, chosen by measurement on real pages (``python -m benchmarks.extraction
# --real``, docs/quality.md): under our filters, fast without favor_precision keeps ~1 point
# more of the true text than fast+precision at the same precision (our filters do the
# precision work), and is faster than the full default pass. include_links lets the block filter see
# link-dense paragraphs. Metadata is read by us; trafilatura's own metadata pass (htmldate
# included) only runs when ours finds nothing (see ``_LazyMetadata``).
TRAFILATURA_OPTIONS: Dict[str, Any] = dict(fast=True, favor_precision=False, include_links=True,
                                           include_comments=False, include_tables=False,
                                           with_metadata=False, deduplicate=False)
# When the fast pass finds (almost) nothing, trafilatura's full default pass (with its
# readability/jusText comparison) gets a second chance: we never return less than it would.
FALLBACK_OPTIONS: Dict[str, Any] = dict(TRAFILATURA_OPTIONS, fast=False, favor_precision=False)
FALLBACK_BELOW_WORDS = 60
FALLBACK_BELOW_SHARE = 0.5   # ...or when it has less than half the words of the page's prose <p>s
PROSE_P_WORDS = 15           # a <p> with this many words counts as prose
PUBLISHER_MIN_WORDS = 50       # a JSON-LD articleBody shorter than this is a summary, not a body
PUBLISHER_AGREES = 0.6         # share of our words found in articleBody: same article
PUBLISHER_FOREIGN = 0.2        # a block this little of which is in articleBody is chrome...
PUBLISHER_FOREIGN_MAX_WORDS = 60  # ...unless it is long: then it may be text articleBody lacks
PUBLISHER_RECOVER_BELOW = 0.6  # our coverage of articleBody under which we rebuild from the DOM
_COMPLETE_END = re.compile(r"[.!?\"”’')\]]\s*$")  # an articleBody that is not cut off
TRUNCATED_SHARE = 0.6          # body shorter than this share of articleBody/wordCount: truncated
_TEASER_END = re.compile(r"(\.\.\.|…|\[\s*(…|\.\.\.)\s*\]|\(more\)|continue reading\W*|read (the full|more)\W*"
                         r"( (story|article))?\W*)$", re.I)
# Paywall containers, by class/id (scripts and links mention "paywall" too, so only attributes
# count). Short hints are searched first (a few fast scans), full names around each hit.
_PAYWALL_HINTS = (b"wall", b"piano-", b"tp-modal", b"subscri", b"premium-gate")
_PAYWALL_NAME = re.compile(rb"paywall|piano-(?:offer|template)|tp-modal|reg-?wall|subscription-required|"
                           rb"subscribers?-only|premium-(?:wall|gate)|meter(?:ed)?-?wall")
_ATTR_OPEN = re.compile(rb"\b(?:class|id)\s*=\s*$")
_BLOCK_TAGS = {"p", "head", "list", "quote", "table"}
_LEAF_XPATH = ("//p | //h2 | //h3 | //h4 | //li | //blockquote | "
               "//div[not(.//p or .//div or .//ul or .//ol or .//table or .//section or .//article)]")


@dataclasses.dataclass(frozen=True)
class ExtractedBody:
    """The article text of a page and what we learnt while cleaning it."""
    text: str
    removed_chars: int            # chrome removed from trafilatura's output by our filters
    truncated_suspected: bool
    paywall_suspected: bool
    link_share: float             # share of the raw body's words in link-dense blocks
    source: str                   # trafilatura | publisher (rebuilt from JSON-LD articleBody)


def precheck(content: bytes) -> None:
    """Refuse pages no parser should be given (cheap: C-level length and count)."""
    if len(content) > MAX_EXTRACT_BYTES:
        raise ExtractionError(reasons.TOO_LARGE, f"{len(content)} bytes (> {MAX_EXTRACT_BYTES} to extract)")
    tags = content.count(b"<")
    if tags > MAX_TAGS:
        raise ExtractionError(reasons.TOO_LARGE, f"{tags} tags (> {MAX_TAGS})")


def parse_page(content: bytes, header_charset: Optional[str] = None):
    """Bytes -> lxml tree (raises ``ExtractionError`` for empty/undecodable/unparseable pages)."""
    import lxml.etree
    import lxml.html

    if not content or not content.strip():
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "empty response body")
    precheck(content)
    try:
        text, _encoding = decode_html(content, header_charset)
    except ValueError as exc:
        raise ExtractionError(reasons.BAD_ENCODING, str(exc)) from None
    text = text.replace("\x00", "")
    if not text.strip():
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "no text in page")
    try:
        return lxml.html.document_fromstring(text)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise ExtractionError(reasons.EMPTY_EXTRACTION, f"unparseable HTML: {exc}") from None


def _block_of(element) -> boilerplate.Block:
    text = " ".join(" ".join(element.itertext()).split())
    link_chars = sum(len("".join(ref.itertext()).replace(" ", "")) for ref in element.iter("ref"))
    kind = element.tag if element.tag in _BLOCK_TAGS else "other"
    return boilerplate.Block(kind=kind, text=text, link_chars=link_chars)


def _remove(element) -> None:
    """Remove an element but keep its tail text."""
    parent = element.getparent()
    if parent is None:
        return
    tail = element.tail
    if tail and tail.strip():
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(element)


def _render(body) -> str:
    """trafilatura's own plain-text rendering, without link markup."""
    from lxml import etree
    from trafilatura.xml import xmltotxt
    etree.strip_tags(body, "ref")
    return (xmltotxt(body, False) or "").strip()


def _bigrams(text: str) -> List[Tuple[str, str]]:
    tokens = _WORD.findall(text.lower())
    return list(zip(tokens, tokens[1:]))


def publisher_body(jsonld: Dict[str, Any]) -> Optional[str]:
    """The publisher's own plain-text body from JSON-LD ``articleBody`` (HTML stripped)."""
    value = _text(jsonld.get("articleBody")) if jsonld else None
    if not value:
        return None
    if "<" in value and ">" in value:
        import lxml.html
        try:
            value = " ".join(lxml.html.fragment_fromstring(value, create_parent="div").text_content().split())
        except Exception:
            return None
    return value if word_count(value) >= PUBLISHER_MIN_WORDS else None


def _share_in(text: str, reference: set) -> Optional[float]:
    grams = _bigrams(text)
    if len(grams) < 3:
        return None  # too short to judge
    return sum(1 for g in grams if g in reference) / len(grams)


def reconcile_with_publisher(blocks: List[boilerplate.Block], keep: List[bool],
                             article_body: str) -> List[bool]:
    """Use the publisher's articleBody as a second opinion: when our blocks and it clearly
    describe the same article, blocks that are (almost) absent from it are chrome."""
    if not _COMPLETE_END.search(article_body):
        return keep  # a cut-off articleBody ("…") cannot vouch for what follows the cut
    reference = set(_bigrams(article_body))
    judged = [(i, _share_in(b.text, reference)) for i, b in enumerate(blocks) if keep[i]]
    words = sum(blocks[i].words for i, share in judged if share is not None)
    agreeing = [i for i, share in judged if share is not None and share >= 0.5]
    if not words or sum(blocks[i].words for i in agreeing) / words < PUBLISHER_AGREES:
        return keep
    out = list(keep)
    for i, share in judged:
        if share is None or blocks[i].kind not in ("p", "other"):
            continue  # publishers' articleBody often leaves out lists, quotes and subheadings
        if share < PUBLISHER_FOREIGN and blocks[i].words <= PUBLISHER_FOREIGN_MAX_WORDS:
            out[i] = False  # chrome inside the body (a lede before it is text: articleBody often omits it)
    return out if any(out) else keep


def recover_from_publisher(tree, article_body: str) -> Optional[str]:
    """Rebuild the body from the page's own visible blocks that articleBody confirms, in
    document order: for bodies split around widgets, where the extractor stops early."""
    reference = set(_bigrams(article_body))
    seen_text: set = set()
    lines: List[str] = []
    for element in tree.xpath(_LEAF_XPATH):
        if element.tag in ("script", "style") or any(
                a.tag in ("script", "style", "noscript", "template") for a in element.iterancestors()):
            continue
        if element.tag != "div" and element.xpath(".//p | .//li | .//blockquote"):
            continue  # container of blocks we visit on their own
        text = " ".join(element.text_content().split())
        share = _share_in(text, reference)
        if share is None or share < 0.8 or text in seen_text:
            continue
        seen_text.add(text)
        lines.append(text)
    return "\n".join(lines) if lines else None


def paywall_signals(jsonld: Dict[str, Any], meta: Dict[str, str], raw: Optional[bytes]) -> bool:
    """JSON-LD ``isAccessibleForFree: false`` (on the article or a part), a ``locked`` content
    tier, or paywall containers in the page."""
    def closed(value: Any) -> bool:
        return value is False or (isinstance(value, str) and value.strip().lower() == "false")

    parts = jsonld.get("hasPart") if jsonld else None
    parts = parts if isinstance(parts, list) else [parts]
    if jsonld and (closed(jsonld.get("isAccessibleForFree"))
                   or any(isinstance(p, dict) and closed(p.get("isAccessibleForFree")) for p in parts)):
        return True
    if (meta.get("article:content_tier") or "").lower() == "locked":
        return True
    lowered = (raw or b"").lower()
    for hint in _PAYWALL_HINTS:
        pos = lowered.find(hint)
        while pos >= 0:
            match = _PAYWALL_NAME.search(lowered, max(0, pos - 16), pos + 32)
            if match and match.start() <= pos < match.end() and _inside_class_or_id(lowered, match.start()):
                return True
            pos = lowered.find(hint, pos + 1)
    return False


def _inside_class_or_id(html: bytes, pos: int) -> bool:
    window = html[max(0, pos - 200):pos]
    quote = max(window.rfind(b'"'), window.rfind(b"'"))
    if quote < 0 or any(c in window[quote + 1:] for c in (b"<", b">", b"=")):
        return False
    return bool(_ATTR_OPEN.search(window[max(0, quote - 24):quote]))


def _with_page_links(tree, elements, blocks: List[boilerplate.Block]) -> List[boilerplate.Block]:
    """trafilatura's fallback extractors return plain text: find link text again by
    matching lines against the page's anchors (for the index-page test)."""
    anchors = {" ".join(a.text_content().split()).lower() for a in tree.iter("a")}
    anchors.discard("")
    out = []
    for element, block in zip(elements, blocks):
        if block.link_chars:
            out.append(block)
            continue
        lines = [" ".join(line.split()) for line in "".join(element.itertext()).split("\n")]
        linked = sum(len(line.replace(" ", "")) for line in lines if line.lower() in anchors)
        out.append(dataclasses.replace(block, link_chars=linked))
    return out


def _prose_words(tree) -> int:
    """Words in the page's prose-sized <p> elements (a cheap upper view of the text)."""
    total = 0
    for para in tree.iter("p"):
        words = count_split_words(para.text_content())
        if words >= PROSE_P_WORDS:
            total += words
    return total


def _trafilatura_body(tree, url: Optional[str], options: Dict[str, Any]):
    import trafilatura
    doc = trafilatura.bare_extraction(tree, url=url, **options)
    return getattr(doc, "body", None) if doc is not None else None


def extract_body(tree, url: Optional[str] = None, *, jsonld: Optional[Dict[str, Any]] = None,
                 meta: Optional[Dict[str, str]] = None,
                 titles: Sequence[Optional[str]] = (), raw: Optional[bytes] = None) -> Optional[ExtractedBody]:
    """The article text of a parsed page: trafilatura, then our block and line filters and
    the publisher's articleBody as a second opinion. ``None`` when nothing was found."""
    jsonld = _jsonld_article(tree) if jsonld is None else jsonld
    meta = _meta(tree) if meta is None else meta
    body_el = _trafilatura_body(tree, url, TRAFILATURA_OPTIONS)
    elements = list(body_el) if body_el is not None else []
    blocks = [_block_of(e) for e in elements]
    words = sum(b.words for b in blocks)
    if words < FALLBACK_BELOW_WORDS or words < FALLBACK_BELOW_SHARE * _prose_words(tree):
        # The fast precision pass gives up on some pages (e.g. <br>-separated text) or stops
        # early; trafilatura's full pass compares itself with readability and jusText.
        second = _trafilatura_body(tree, url, FALLBACK_OPTIONS)
        second_blocks = [_block_of(e) for e in second] if second is not None else []
        gain = 1.0 if words < FALLBACK_BELOW_WORDS else 1.3  # a longer text must be clearly longer
        if sum(b.words for b in second_blocks) > gain * words:
            body_el, elements, blocks = second, list(second), _with_page_links(tree, list(second), second_blocks)
    raw_chars = sum(len(b.text) for b in blocks)
    link_share = boilerplate.link_block_share(blocks)
    keep = boilerplate.select_blocks(blocks)
    article_body = publisher_body(jsonld)
    paywalled = paywall_signals(jsonld, meta, raw) or any(boilerplate.is_paywall_prompt(b.text) for b in blocks)
    if article_body:
        keep = reconcile_with_publisher(blocks, keep, article_body)
    for element, kept in zip(elements, keep):
        if not kept:
            _remove(element)
    text = _render(body_el) if body_el is not None else ""
    source = "trafilatura"
    if article_body and not paywalled:
        coverage_ref = set(_bigrams(text))
        grams = _bigrams(article_body)
        coverage = sum(1 for g in grams if g in coverage_ref) / len(grams) if grams else 1.0
        if coverage < PUBLISHER_RECOVER_BELOW:
            rebuilt = recover_from_publisher(tree, article_body)
            if rebuilt and word_count(rebuilt) > word_count(text):
                text, source = rebuilt, "publisher"
    if not text:
        return None
    raw_last = blocks[-1].text if blocks else ""
    text, _removed_lines = boilerplate.remove_residue(text)
    text = _drop_leading_title(text, titles)
    text, _trimmed = boilerplate.trim_edges(text, titles)
    removed = max(0, raw_chars - len(text)) if source == "trafilatura" else 0
    words = word_count(text)
    reference_words = max(word_count(article_body) if article_body else 0,
                          _int(jsonld.get("wordCount")) if jsonld else 0)
    truncated = bool(reference_words >= 100 and words < TRUNCATED_SHARE * reference_words) \
        or bool(_TEASER_END.search(text.rstrip()) or _TEASER_END.search(raw_last.rstrip()))
    return ExtractedBody(text=text, removed_chars=removed, truncated_suspected=truncated,
                         paywall_suspected=paywalled, link_share=link_share, source=source)


def _int(value: Any) -> int:
    try:
        return int(str(value).strip().replace(",", "")) if value is not None else 0
    except ValueError:
        return 0


def extract_text(content: Union[bytes, str], url: Optional[str] = None) -> str:
    """HTML in, article text out (empty if none): the body core of :func:`extract_article`
    without metadata and without the article/not-an-article decision."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    try:
        tree = parse_page(content)
    except ExtractionError:
        return ""
    meta = _meta(tree)
    jsonld = _jsonld_article(tree)
    titles = [_text(jsonld.get("headline")), meta.get("og:title"), _html_title(tree)]
    result = extract_body(tree, url, jsonld=jsonld, meta=meta, titles=titles, raw=content)
    return result.text if result else ""


def _html_title(tree) -> Optional[str]:
    """The page's only <h1> (like trafilatura), else its <title>."""
    headings = tree.xpath("//h1")
    if len(headings) == 1:
        text = " ".join(headings[0].text_content().split())
        if text:
            return text
    nodes = tree.xpath("//head/title/text()")
    return (" ".join(" ".join(nodes[:1]).split()) or None) if nodes else None


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
                          detail=exc.detail[:500], at=dt.datetime.now(dt.timezone.utc), usage=page.usage)
    except Exception as exc:  # parser bugs on hostile input must not kill the job
        LOG.warning("extraction failed for %s: %r", page.request.url, exc)
        return DeadLetter(url=page.request.url, stage=reasons.STAGE_EXTRACT,
                          reason=reasons.EXTRACT_ERROR, detail=f"{type(exc).__name__}: {exc}"[:500],
                          at=dt.datetime.now(dt.timezone.utc))


def _extract(page: FetchedPage, *, min_words: int, inc) -> Article:
    tree = parse_page(page.content, page.encoding)

    # Our own reading of the publisher's metadata (trafilatura works on a copy of the tree).
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
    html_title = _html_title(tree)
    jsonld_authors = _names(jsonld.get("author"))
    meta_author = meta.get("author") or meta.get("article:author") or meta.get("dc.creator")

    extracted = extract_body(tree, page.final_url, jsonld=jsonld, meta=meta,
                             titles=[jsonld_title, og_title, html_title], raw=page.content)
    if extracted is None:
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "no article text found")
    body = extracted.text
    words = word_count(body)
    page_type = (meta.get("og:type") or "").lower()
    headings = tree.xpath("//h1")
    only_h1 = " ".join(headings[0].text_content().split()) if len(headings) == 1 else None
    why_not = verdict.non_article_reason(
        tree, body, words, is_declared_article=bool(jsonld) or page_type == "article", og_type=page_type,
        jsonld_types=verdict.declared_types(_iter_jsonld(tree)), titles=(html_title, only_h1, og_title),
        min_words=min_words)
    if why_not:
        raise ExtractionError(reasons.NOT_AN_ARTICLE, why_not)
    inc("boilerplate_chars_removed", extracted.removed_chars)

    fetched_at = page.fetched_at
    request = page.request
    fallback = _LazyMetadata(tree, page.final_url)
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
    url, canonical_url = _page_url(page, canonical)
    if published is None:
        match = _URL_DATE.search(urllib.parse.urlsplit(page.final_url).path) or \
            _URL_DATE.search(urllib.parse.urlsplit(canonical_url).path)
        if match:
            published = plausible(parse_datetime("-".join(match.groups())), fetched_at)
            date_source = "url" if published is not None else None
    if published is None:
        published = plausible(parse_datetime(page_date(tree, page.final_url, page.content)), fetched_at)
        date_source = "htmldate" if published is not None else None
    if published is None:
        date_source = NO_DATE  # never a guess: the partition uses the fetch day
    modified = plausible(parse_datetime(_text(jsonld.get("dateModified"))
                                        or next((meta[k] for k in _META_MODIFIED if meta.get(k)), None)),
                         fetched_at)

    host = urllib.parse.urlsplit(canonical_url).hostname
    title = clean_title(jsonld_title or og_title or html_title or fallback.get("title") or request.entry_title,
                        site_name, host)
    title = title[:MAX_TITLE_CHARS] if title else title  # hostile pages: a 900 KB <h1>
    authors = _authors((lambda: jsonld_authors, lambda: [meta_author] if meta_author else [],
                        lambda: [fallback.get("author")] if fallback.get("author") else [],
                        lambda: list(request.entry_authors)), site_name)
    categories = tuple(c for c in (list(request.entry_categories) + _categories(tree)) if c)
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
        boilerplate_removed_chars=extracted.removed_chars,
        truncated_suspected=extracted.truncated_suspected,
        paywall_suspected=extracted.paywall_suspected,
        categories=categories,
        genre_hints=genre_hints(tree, jsonld, meta),
        topic_hint=request.topic_hint,
        aliases=request.aliases,
        usage=usage_rights.from_page(tree, page.final_url, _iter_jsonld(tree), jsonld, page.usage),
    )


def page_date(tree, url: Optional[str], raw: Optional[bytes] = None) -> Optional[str]:
    """A publication day from the page's markup, URL or full-date patterns (htmldate without
    its extensive search, which turns a "© 2025" footer or a year in the text into
    2025-01-01). A year or a month alone is never a publication day."""
    from htmldate import find_date
    try:
        found = find_date(tree, url=url, extensive_search=False, original_date=True, outputformat="%Y-%m-%d")
    except Exception:  # best effort, like every fallback
        return None
    return found if found and _day_on_page(found, raw, url) else None


def _day_on_page(iso_day: str, raw: Optional[bytes], url: Optional[str]) -> bool:
    """True when the page (or URL) writes that day next to its year. htmldate completes
    partial dates ("2025-05" in a meta tag) with today's day; such a day is nowhere on the page."""
    try:
        year, day = iso_day[:4], int(iso_day[8:10])
    except ValueError:
        return False
    text = (raw or b"").decode("latin-1") + " " + (url or "")
    day_re = re.compile(rf"(?<!\d)0?{day}(?!\d)")
    for match in re.finditer(rf"(?<!\d){year}(?!\d)", text):
        window = text[max(0, match.start() - 25):match.start()] + " " + text[match.end():match.end() + 25]
        if day_re.search(window):
            return True
    return False


class _LazyMetadata:
    """trafilatura's metadata pass (htmldate included), run only if a fallback is needed."""

    def __init__(self, tree, url: str):
        self._tree, self._url, self._doc = tree, url, None

    def get(self, name: str) -> Optional[str]:
        if self._doc is None:
            from trafilatura.metadata import extract_metadata
            try:
                self._doc = extract_metadata(self._tree, self._url)
            except Exception:  # metadata is best effort
                self._doc = False
        return getattr(self._doc, name, None) if self._doc else None


def _categories(tree) -> List[str]:
    from trafilatura.metadata import extract_catstags
    try:
        return list(extract_catstags("category", tree))
    except Exception:
        return []


def extract_counted(page: FetchedPage, min_words: int = MIN_ARTICLE_WORDS
                    ) -> Tuple[Union[Article, DeadLetter], Dict[str, int]]:
    """:func:`extract_article` plus the counters it bumped (run in a sandbox child,
    whose Beam metrics would be lost)."""
    counts: Dict[str, int] = {}

    def inc(name: str, n: int = 1) -> None:
        counts[name] = counts.get(name, 0) + n

    return extract_article(page, min_words=min_words, counter_inc_fn=inc), counts


def extract_with_budget(page: FetchedPage, *, min_words: int = MIN_ARTICLE_WORDS,
                        timeout: Optional[float] = EXTRACT_TIMEOUT_S
                        ) -> Tuple[Union[Article, DeadLetter], Dict[str, int]]:
    """Extract in a killable child process: past ``timeout`` seconds the child is
    killed and the page is dead-lettered ``extract_timeout``; the worker never hangs.
    ``timeout`` None or <= 0: in-process, no limit."""
    if not timeout or timeout <= 0:
        return extract_counted(page, min_words)
    from transforms import sandbox
    now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
    try:
        return sandbox.call("transforms.extract:extract_counted", page, min_words, timeout=timeout)
    except sandbox.SandboxTimeout:
        LOG.warning("extraction of %s exceeded %.1f s; worker killed", page.request.url, timeout)
        return DeadLetter(url=page.request.url, stage=reasons.STAGE_EXTRACT, reason=reasons.EXTRACT_TIMEOUT,
                          detail=f"extraction took longer than {timeout:g} s ({len(page.content)} bytes)",
                          at=now()), {}
    except sandbox.SandboxCrash as exc:
        return DeadLetter(url=page.request.url, stage=reasons.STAGE_EXTRACT, reason=reasons.EXTRACT_ERROR,
                          detail=f"extraction worker died: {exc}"[:500], at=now()), {}


class _ExtractFn(beam.DoFn):
    def __init__(self, min_words: int, timeout: Optional[float] = EXTRACT_TIMEOUT_S, tdm: str = "record"):
        self._min_words = min_words
        self._timeout = timeout
        self._tdm = tdm
        self.extracted = Metrics.counter("extract", "articles")

    def process(self, page: FetchedPage):
        result, counts = extract_with_budget(page, min_words=self._min_words, timeout=self._timeout)
        if self._tdm == "skip":
            result = usage_rights.skip_if_reserved(result, page.request.url)
        for name, n in counts.items():
            Metrics.counter("extract", name).inc(n)
        if isinstance(result, DeadLetter):
            Metrics.counter("dead_letters", f"extract.{result.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, result)
            for alias in page.request.aliases:
                yield pvalue.TaggedOutput(DEAD_LETTER, dataclasses.replace(
                    result, url=alias, detail=f"variant of {result.url}: {result.detail}"[:500]))
        else:
            self.extracted.inc()
            yield pvalue.TaggedOutput(LINEAGE, (page.request.url, result.url))
            yield (result if page.request.url == result.url
                   else dataclasses.replace(result, input_url=page.request.url))


class ExtractArticles(beam.PTransform):
    """FetchedPage -> Article, with a ``dead_letter`` output and ``lineage``
    ((request URL, article URL) pairs: redirects and canonical links change the URL).

    ``timeout``: seconds per page (None/0: in-process, unlimited)."""

    def __init__(self, min_words: int = MIN_ARTICLE_WORDS, label: Optional[str] = None,
                 timeout: Optional[float] = EXTRACT_TIMEOUT_S, tdm: str = "record"):
        super().__init__(label)
        self._min_words = min_words
        self._timeout = timeout
        self._tdm = tdm  # transforms.usage.TDM_MODES; "skip" dead-letters TDM-reserved pages

    def expand(self, pages):
        return pages | "Extract" >> beam.ParDo(_ExtractFn(self._min_words, self._timeout, self._tdm)).with_outputs(
            DEAD_LETTER, LINEAGE, main="articles")
