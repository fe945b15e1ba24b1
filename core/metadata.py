"""What a page says about itself: JSON-LD, meta tags, bylines, titles, dates, language.

Our own reading of the publisher's structured metadata takes precedence over
heuristics because publishers' markup is more reliable; trafilatura's metadata
pass (htmldate included) runs only when ours finds nothing (:class:`LazyMetadata`).
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from core.words import count_words

LANGID_CHARS = 1500  # py3langid's cost grows with the text; 1.5k characters decide it
_ARTICLE_TYPES = {"newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle",
                  "blogposting", "opinionnewsarticle", "backgroundnewsarticle", "report",
                  "liveblogposting", "scholarlyarticle", "techarticle", "socialmediaposting"}
_META_PUBLISHED = ("article:published_time", "og:article:published_time", "datepublished",
                   "pubdate", "publishdate", "publish-date", "dc.date.issued", "dcterms.created",
                   "sailthru.date", "parsely-pub-date", "date", "og:published_time")
_META_MODIFIED = ("article:modified_time", "og:updated_time", "datemodified",
                  "dcterms.modified", "last-modified")
_URL_DATE = re.compile(r"/(20\d{2}|19\d{2})[/-](0[1-9]|1[0-2])[/-](0[1-9]|[12]\d|3[01])(?=/|$|[-_.])")
_AUTHOR_NOISE = re.compile(
    r"^(by|von|par|por|written by|posted by|words by)\s+|\s*\|.*$|\s*\(.*?\)\s*", re.I)
_AUTHOR_STOP = {"staff", "wire reports", "from wire reports", "wire services", "agencies", "staff writer", "staff reporter", "reporter", "correspondent", "editor",
                "editors", "admin", "news desk", "newsdesk", "the associated press", "wire",
                "writer", "senior writer", "contributor", "updated", "published", "and",
                "home", "news", "menu", "share", "follow"}
_EMAIL = re.compile(r"\S+@\S+")
_TITLE_SEP = re.compile(r"\s+[|\-–—·•:]\s+")
_WORD = re.compile(r"\w+", re.UNICODE)


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


def _html_title(tree) -> Optional[str]:
    """The page's only <h1> (like trafilatura), else its <title>."""
    headings = tree.xpath("//h1")
    if len(headings) == 1:
        text = " ".join(headings[0].text_content().split())
        if text:
            return text
    nodes = tree.xpath("//head/title/text()")
    return (" ".join(" ".join(nodes[:1]).split()) or None) if nodes else None


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


_MONTH_AFTER_YEAR = re.compile(r"^[-/.]\d{1,2}(?!\d)")


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
        # "2025-05": the number right after the year is its month, never the day (else a
        # partial date completed on the 5th of a month would find its "day" on the page).
        after = _MONTH_AFTER_YEAR.sub("", text[match.end():match.end() + 25], count=1)
        window = text[max(0, match.start() - 25):match.start()] + " " + after
        if day_re.search(window):
            return True
    return False


class LazyMetadata:
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

