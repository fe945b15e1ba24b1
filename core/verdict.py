"""Is a page an article? The ``not_an_article`` verdict, on evidence rather than length.

Length alone rejects real news: a 3-sentence brief has 40-80 words, a Chinese article a few
hundred characters. So the minimum is low (:data:`MIN_ARTICLE_WORDS`, counted in any script,
``core/words.py``) and a page is refused for what it *is*:

* an **error page**: its ``<title>`` or only ``<h1>`` says "page not found" / "no longer
  available" (several languages), unless it declares itself an article;
* a page that **declares another kind**: JSON-LD ``CollectionPage``, ``SearchResultsPage``,
  ``ProfilePage``, ``ItemList`` or og:type ``profile``/``video.*``/``music.*``/``book`` and
  no article type; og:type ``website`` only with some listing evidence (below), because
  some CMSs put it on every page;
* a **listing**: most of the text is teasers (paragraphs right after a heading that is a
  link: section fronts, tag archives, search results) or link text (archives, topic hubs,
  link lists). Real articles measured stay far below (at most 27 % teaser text, 19 % link
  text on 242 real pages; listings 60-100 %), whatever they declare.

Chosen and checked with ``python -m benchmarks.extraction --real`` (real pages, real short
Reuters briefs, and the negative set in ``benchmarks/data/non_articles``).
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterable, Optional

MIN_ARTICLE_WORDS = 25        # below this, not even a brief (an error message, a stub, a caption)
MIN_WORDS_DECLARED_OTHER = 300  # a page declaring another kind needs this much text to be kept
LISTING_SHARE = 0.5           # teaser or link text above this share: a listing
WEAK_LISTING_SHARE = 0.2      # ...enough, with og:type "website", to call it an index
MAX_LISTING_WORDS = 3000      # the listing measures are skipped for longer texts (cost)

OTHER_OG_TYPES = {"profile", "video.other", "video.movie", "video.episode", "video.tv_show",
                  "music.song", "music.album", "music.playlist", "book"}
OTHER_JSONLD_TYPES = {"collectionpage", "searchresultspage", "profilepage", "itemlist"}
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_NORM = re.compile(r"\w+", re.UNICODE)
ERROR_TEXT = re.compile(
    r"^(404|410)\b|\b(error 404|404 error|page not found|page cannot be found|couldn.t find (that|this|the) page|"
    r"page (is )?no longer available|page unavailable|(article|story|content) (is )?no longer available|"
    r"seite nicht gefunden|nicht (mehr )?verfügbar|page introuvable|n.existe plus|"
    r"página no encontrada|ya no está disponible|pagina non trovata|non è più disponibile)\b", re.I)


TEASER_HEADLINE_WORDS = 4  # teaser headlines are sentences; section labels are one or two words
MIN_TEASERS = 2  # a listing shows several teasers; one linked headline above a body is a promo


def _norm(text: str) -> str:
    return " ".join(_NORM.findall(text.lower()))


def _linked_heading(element) -> bool:
    """A heading (or a block ending in one) whose text is mostly a link: a teaser's headline."""
    heads = [element] if element.tag in _HEADINGS else list(element.iter(*_HEADINGS))
    if not heads:
        return False
    words = _norm(heads[-1].text_content())
    if words.count(" ") < TEASER_HEADLINE_WORDS - 1:
        return False  # a linked section label ("Entertainment") above an article is not a teaser's headline
    text = len(words)
    linked = sum(len(_norm(a.text_content())) for a in heads[-1].iter("a"))
    return text > 0 and linked >= 0.8 * text


def _previous_element(element):
    previous = element.getprevious()
    while previous is not None and not isinstance(previous.tag, str):  # comments
        previous = previous.getprevious()
    return previous


def teaser_share(tree, body: str) -> float:
    """Share of the body's words in paragraphs that follow a linked heading (up to three
    levels up: ``<article><h2><a/></h2><div><p>teaser</p></div></article>``). A listing has
    several teasers: text after fewer than ``MIN_TEASERS`` distinct linked headings (one
    promo headline above an article body) counts for nothing."""
    text = _norm(body)
    total = len(text.split())
    if not total:
        return 0.0
    teaser, seen = 0, set()
    headings: set = set()  # holding the elements keeps their proxies alive, so distinct headings stay distinct
    for para in tree.iter("p"):
        key = _norm(para.text_content())
        if len(key) < 20 or key in seen or key not in text:
            continue
        element = para
        for _level in range(3):
            previous = _previous_element(element)
            if previous is not None:
                if _linked_heading(previous):
                    seen.add(key)
                    headings.add(previous)  # the element, not id(): lxml proxies are freed and their ids reused
                    teaser += len(key.split())
                break
            element = element.getparent()
            if element is None:
                break
    if len(headings) < MIN_TEASERS:
        return 0.0
    return min(1.0, teaser / total)


def anchor_share(tree, body: str) -> float:
    """Share of the body's words inside the page's link texts (of 4+ words)."""
    text = "\n".join(_norm(line) for line in body.split("\n"))
    total = len(text.split())
    if not total:
        return 0.0
    anchors = {_norm(a.text_content()) for a in tree.iter("a")}
    linked = 0
    for anchor in sorted((a for a in anchors if a.count(" ") >= 3), key=len, reverse=True):
        found = text.count(anchor)
        if found:  # longest first, then blanked: nested link texts are not counted twice
            linked += found * (anchor.count(" ") + 1)
            text = text.replace(anchor, "\n")
    return min(1.0, linked / total)


def declared_types(jsonld_items: Iterable[Dict[str, Any]]) -> set:
    """Lower-cased JSON-LD ``@type`` names on the page."""
    found = set()
    for item in jsonld_items:
        kinds = item.get("@type")
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            if isinstance(kind, str):
                found.add(kind.lower())
    return found


def non_article_reason(tree, body: str, words: int, *, is_declared_article: bool, og_type: str,
                       jsonld_types: set, titles: Iterable[Optional[str]],
                       min_words: int = MIN_ARTICLE_WORDS) -> Optional[str]:
    """Why this page is not an article (a dead letter's detail), or None if it is one."""
    if words < min_words:
        return f"{words} words after cleaning (< {min_words}): a stub, teaser or error page"
    if not is_declared_article and words < MIN_WORDS_DECLARED_OTHER:
        title = next((t for t in titles if t and ERROR_TEXT.search(t)), None)
        if title:
            return f"error page titled {title[:80]!r}"
        other = sorted(jsonld_types & OTHER_JSONLD_TYPES) or ([og_type] if og_type in OTHER_OG_TYPES else [])
        if other:
            return f"declared {other[0]!r} with {words} words: a section, search or profile page"
    if words > MAX_LISTING_WORDS:
        return None
    teasers = teaser_share(tree, body)
    links = anchor_share(tree, body) if teasers < LISTING_SHARE else 0.0
    if max(teasers, links) >= LISTING_SHARE:
        kind = "teasers" if teasers >= links else "link text"
        return f"{max(teasers, links):.0%} of the text is {kind}: a section front, archive or listing"
    if og_type == "website" and not is_declared_article and words < MIN_WORDS_DECLARED_OTHER \
            and max(teasers, links) >= WEAK_LISTING_SHARE:
        return f"og:type 'website', {words} words, {max(teasers, links):.0%} teasers or links: an index page"
    return None
