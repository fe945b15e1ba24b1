"""The article text of a page: trafilatura, then our filters, then the publisher's opinion.

trafilatura finds the body; we then remove what it leaves in (``core/boilerplate.py``:
template lines, link-dense blocks, lead-in and closing chrome) and use the page's
JSON-LD ``articleBody``, when there is one, as a second opinion and to recover
bodies split around widgets. The page is parsed with lxml once and the tree shared
(trafilatura works on a copy).
"""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from core import boilerplate
from core.charset import decode_html
from core.metadata import (_WORD, _drop_leading_title, _html_title, _jsonld_article, _meta, _text,
                           word_count)
from core.words import count_split_words
from schemas import reasons

# Pre-parse guard: hostile pages (5 MB of link soup, a tag with 200,000 attributes)
# can keep lxml/trafilatura busy for minutes.
MAX_EXTRACT_BYTES = 10 * 1024 * 1024
MAX_TAGS = 200_000  # '<' characters; real pages have a few thousand


class ExtractionError(Exception):
    """A page that cannot become an article; ``reason`` is one of ``schemas.reasons``."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# trafilatura settings, chosen by measurement on real pages (``python -m benchmarks.extraction
# --real``, docs/quality.md): under our filters, fast without favor_precision keeps ~1 point
# more of the true text than fast+precision at the same precision (our filters do the
# precision work), and is faster than the full default pass. include_links lets the block filter see
# link-dense paragraphs. Metadata is read by us; trafilatura's own metadata pass (htmldate
# included) only runs when ours finds nothing (see ``core.metadata.LazyMetadata``).
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


def parse_page(content: bytes, declared_charset: Optional[str] = None):
    """Bytes -> lxml tree (raises ``ExtractionError`` for empty/undecodable/unparseable pages)."""
    import lxml.etree
    import lxml.html

    if not content or not content.strip():
        raise ExtractionError(reasons.EMPTY_EXTRACTION, "empty response body")
    precheck(content)
    try:
        text, _codec = decode_html(content, declared_charset)
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
