"""Removing template residue that extractors leave in article bodies.

Two conservative, page-local filters (site-wide repetition is learnt in
``transforms/site_learning.py``):

* a **line filter** (:func:`is_residue`): a line is dropped only when it is short and
  matches a pattern that is almost never article prose (newsletter prompts, share bars,
  cookie notices, ticker lines, "All rights reserved", paywall prompts). Long lines are kept
  even if they contain such words, because prose sometimes quotes them.
* a **block filter** (:func:`select_blocks`) over the extractor's paragraphs, which also sees
  where links are and where a block sits: short link-dense blocks ("Related: <a>…</a>",
  "MORE FROM …" lists), byline / dateline / reading-time lines before the first paragraph of
  prose, and author bios, contact lines and credits after the last one.

Neither filter ever empties a body: if everything looks like residue, nothing is removed
(the extraction stage then judges whether the page is an article at all).
"""
from __future__ import annotations

import dataclasses
import re
from typing import List, Optional, Sequence, Tuple

from core.words import count_split_words

MAX_RESIDUE_WORDS = 25  # lines longer than this are prose, whatever they contain
MAX_STRONG_RESIDUE_WORDS = 50  # for patterns that never describe events (disclosures, paywalls)

# Patterns matched at the start of a line (cheap: most prose fails on the first word).
_START_PATTERNS = [
    r"(please )?(sign up|subscribe|register)\b.*\b(newsletter|updates|alerts|briefing|free|today|now|email|inbox)\b",
    r"(get|receive)\b.*\b(newsletter|updates|alerts|briefing)\b.*\b(inbox|email|free)\b",
    r"welcome to [\w .'-]+[-–—:,]\s*(sign up|subscribe|register)",
    r"((share( this)?( article| story| page| post)?|share on \w+|share via \w+|copy link|copy|email( this)?|print( this)?|whatsapp|facebook|twitter|x|linkedin|reddit|telegram|bluesky|comments?)\W*)+$",
    r"(click|tap) here\b",
    r"(read more|related|related articles|related stories|related coverage|related topics|more from|more on this story|more stories|recommended|recommended for you|most read|most popular|most viewed|trending|top stories|see also|also read|don't miss|you may also like|mehr zum thema|lesen sie auch|lire aussi|à lire aussi|lee también|leia também)\s*[:»›>-]?\s*$",
    r"(related|read more|also read|see also|lesen sie auch|lire aussi|à lire aussi|lee también|leia também)\s*:",
    r"(©|\(c\)|copyright)\s*\d{4}",
    r"(accept|manage) (all )?cookies\b",
    r"(advertisement|advert|sponsored( content)?|ad|anzeige|werbung|publicidad|publicité|pubblicità)$",
    r"(story|article|text) continues (below|after)\b|continue reading (below|after)\b",
    r"\d+\s+comments?$|comments?\s*\(\d+\)$|(view|show|load) (all )?comments\b|leave a (comment|reply)\b",
    r"(follow us|follow) on (twitter|x|facebook|instagram|linkedin|threads)\b",
    r"market data\b",
    r"(menu|search|home|skip to (main )?content|log ?in|sign in|my account)$",
    r"(subscribe|sign up|log ?in|sign in|register)( now| today| here)?[.!]?$",
    r"(download|get) (our|the) app\b",
    r"(listen to|watch|audio:|video:)\s*(this|the)?\s*(article|story)?\s*$",
    r"(reporting|writing|editing|additional reporting|compiled) by\b",
    r"(image|photo|picture|video) (source|caption|credit)s?\s*[,:]|\(?(image|photo) credit\s*:",
    r"newsletter\s*[:–—-]",
    r"(have|got) a (news )?tip\b",
]
# Patterns anywhere in a line, each behind a literal that must occur (a cheap pre-check).
_ANYWHERE_PATTERNS = [
    ("rights reserved", r"\ball rights reserved\b"),
    ("vorbehalten", r"\balle rechte vorbehalten\b"),
    ("droits", r"\btous droits réservés\b"),
    ("derechos", r"\btodos los derechos reservados\b"),
    ("cookie", r"\b(we|this (site|website)) uses? cookies\b"),
    ("inbox", r"\b(free|delivered|straight) (in|to|into) your inbox\b"),
    ("newsletter", r"\bnewsletter\b.*\b(sign up|subscribe)\b|\b(sign up|subscribe)\b.*\bnewsletter\b"),
]
# Prompts and disclosures that never report anything: also recognised in longer lines.
_STRONG_START_PATTERNS = [
    r"(subscribe|sign up|register|log ?in) to (continue|keep) reading\b",
    r"support (local|independent|our|quality) journalism\b",
    r"(thank you|thanks) for reading\b.*\b(subscri|support)",
]
_STRONG_ANYWHERE_PATTERNS = [
    ("commission", r"\bwe (may )?(earn|receive|get) (an? )?(small )?(affiliate )?commission\b"),
    ("already", r"\balready (a |an )?(subscriber|member)\b.*\b(log ?in|sign ?in)\b"),
    ("purchase a subscription", r"\b(please )?purchase a subscription to continue reading\b"),
    ("your subscription", r"\byour subscription (makes|helps|supports)\b.*\b(possible|journalism|reporting)\b"),
    ("reader-supported", r"\bis a reader-supported publication\b"),
    ("free article", r"\byou have reached your (limit|maximum) of free\b|\bfree articles? (left|remaining)\b"),
    ("subscribers", r"\b(this|the rest of this) (article|story|content) is (only )?(available|reserved|exclusive) "
                    r"(to|for) (paying |paid )?(subscribers|members)\b"),
]


_PAYWALL_PROMPT = re.compile(
    r"^(subscribe|sign up|register|log ?in) to (continue|keep) reading\b|\bpurchase a subscription to continue\b|"
    r"\b(this|the rest of this) (article|story|content) is (only )?(available|reserved|exclusive) (to|for) "
    r"(paying |paid )?(subscribers|members)\b|\byou have reached your (limit|maximum) of free\b", re.I)


def is_paywall_prompt(line: str) -> bool:
    """"Subscribe to continue reading", "This article is for subscribers only"...: short."""
    return count_split_words(line) <= MAX_STRONG_RESIDUE_WORDS and bool(_PAYWALL_PROMPT.search(line.strip()))


def _compile_start(patterns: List[str]) -> "re.Pattern[str]":
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.I)


_START_RE = _compile_start(_START_PATTERNS)
_STRONG_START_RE = _compile_start(_STRONG_START_PATTERNS)
_ANYWHERE = [(key, re.compile(p, re.I)) for key, p in _ANYWHERE_PATTERNS]
_STRONG_ANYWHERE = [(key, re.compile(p, re.I)) for key, p in _STRONG_ANYWHERE_PATTERNS]
# Ticker lines: "DJIA 42,051.06 +0.65%", "EUR/USD 1.1187", "Brent Crude 64.53 -2.4%"
_TICKER_RE = re.compile(
    r"[A-Z][\w&./ -]{1,30}\s+[-+]?\d[\d,]*\.\d+\s*([-+▲▼]\s*\d+(\.\d+)?\s*%?)?\s*(\([-+]?\d+(\.\d+)?%\))?$")


def _anywhere(line: str, lowered: str, patterns) -> bool:
    return any(key in lowered and pattern.search(line) for key, pattern in patterns)


def is_residue(line: str) -> bool:
    """True for a short line that is template text, not article prose."""
    stripped = " ".join(line.split())
    if not stripped:
        return False
    words = count_split_words(stripped)
    if words > MAX_STRONG_RESIDUE_WORDS:
        return False
    lowered = stripped.lower()
    if _STRONG_START_RE.match(stripped) or _anywhere(stripped, lowered, _STRONG_ANYWHERE):
        return True
    if words > MAX_RESIDUE_WORDS:
        return False
    if _START_RE.match(stripped) or _TICKER_RE.match(stripped):
        return True
    return _anywhere(stripped, lowered, _ANYWHERE)


def remove_residue(body: str) -> Tuple[str, int]:
    """Drop residue lines; returns (clean body, characters removed).

    Never empties a body: if every line looks like residue, the body is kept
    as it was (the extraction stage then judges whether it is an article).
    """
    lines = body.split("\n")
    kept: List[str] = [line for line in lines if not is_residue(line)]
    if not any(line.strip() for line in kept):
        return body, 0
    cleaned = "\n".join(kept).strip()
    return cleaned, len(body) - len(cleaned)


# --------------------------------------------------------------------------- blocks

@dataclasses.dataclass(frozen=True)
class Block:
    """One top-level block of an extracted body, as the block filter sees it."""
    kind: str            # p | head | list | quote | table | other
    text: str            # whitespace-normalised text
    link_chars: int = 0  # characters of text inside links

    @property
    def words(self) -> int:
        return count_split_words(self.text)

    @property
    def link_share(self) -> float:
        chars = len(self.text.replace(" ", ""))
        return self.link_chars / chars if chars else 0.0


PROSE_WORDS = 20          # a block with this many words (and few links) is article prose
MAX_LINK_BLOCK_WORDS = 40  # link-dense blocks longer than this are kept (e.g. a list of sources)
LINK_DENSE = 0.6           # share of a block's characters inside links
EDGE_BLOCKS = 3            # closing rules look at the last blocks only
MAX_SUBHEADING_WORDS = 20  # a heading block longer than this is a lede set in a heading

_MONTHS = (r"jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|jun(e)?|jul(y)?|aug(ust)?|sep(t(ember)?)?|"
           r"oct(ober)?|nov(ember)?|dec(ember)?|januar|februar|märz|mai|juni|juli|oktober|dezember")
_DATE_TOKEN = re.compile(
    rf"^(\d{{1,4}}([:./-]\d{{1,4}}){{0,2}}(st|nd|rd|th)?|{_MONTHS}|"
    r"mon(day)?|tue(s(day)?)?|wed(nesday)?|thu(r(s(day)?)?)?|fri(day)?|sat(urday)?|sun(day)?|"
    r"a\.?m\.?|p\.?m\.?|utc|gmt|bst|cet|cest|[ecmp][sd]?t|uhr|updated|published|posted|modified|"
    r"last|on|at|am|um|the|ago|hours?|minutes?|mins?|days?|yesterday|today|aktualisiert|"
    r"veröffentlicht|stand|read|reading|time|lesezeit|min|\|)$", re.I)
_BYLINE = re.compile(r"^(by|von|par|por|di|door|words by|written by|text:)\s+\S", re.I)
_READ_TIME = re.compile(r"^(\d+\s*(-|–)?\s*(min(ute)?s?)\s*(read|lesezeit)?|(reading time|lesezeit)\s*:?\s*\d+\s*min\w*)\.?$", re.I)
_ROLE = (r"(reporter|writer|correspondent|editor|columnist|journalist|contributor|producer|critic|"
         r"analyst|freelancer|photographer|author|intern|fellow)")
_TAIL_PATTERNS = [
    rf"^([A-Z][\w.'’-]+\s+){{1,4}}(is|was|has been)\s+(a|an|the|our)\s+([\w’'-]+\s+){{0,6}}{_ROLE}\b",
    r"^([A-Z][\w.'’-]+\s+){1,4}covers\s+\w",
    r"\b(reach|contact|email|e-mail|write to|follow)\s+(him|her|them|me|the (author|reporter|writer))\s+(at|on|via)\b",
    r"^our standards\s*:|\btrust principles\b",
    r"\bcontributed (reporting )?to this (report|story|article)\s*\.?$",
]
_TAIL_RE = re.compile("|".join(f"(?:{p})" for p in _TAIL_PATTERNS))
_TAIL_RE_I = re.compile(r"(?:^our standards\s*:|\btrust principles\b|^(have|got) a (news )?tip\b)", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
MAX_TAIL_WORDS = 60


def is_dateline(text: str) -> bool:
    """A line made only of date/time words ("Updated 2 hours ago", "May 14, 2025 1:05 PM UTC")."""
    tokens = [t for t in re.split(r"[\s,]+", text.strip()) if t]
    if not tokens or len(tokens) > 14:
        return False
    has_digit_or_month = any(re.search(r"\d", t) or re.fullmatch(_MONTHS, t.strip(".").lower()) for t in tokens)
    return has_digit_or_month and all(_DATE_TOKEN.match(t.strip(".()")) for t in tokens)


def is_byline(text: str) -> bool:
    """"By Jane Doe", "By Jane Doe and Omar Haddad, Reuters" — short, starts with a byline word."""
    return count_split_words(text) <= 12 and bool(_BYLINE.match(text)) and not text.rstrip().endswith((".", "?", "!", '"'))


def is_lead_noise(block: Block) -> bool:
    text = block.text
    return is_byline(text) or is_dateline(text) or bool(_READ_TIME.match(text))


def is_tail_noise(block: Block) -> bool:
    text = block.text
    if block.words > MAX_TAIL_WORDS:
        return False
    if _TAIL_RE.search(text) or _TAIL_RE_I.search(text):
        return True
    # A short closing line with an e-mail address: "Contact: jane@example.com", tip lines.
    return block.words <= 30 and bool(_EMAIL.search(text))


def is_link_block(block: Block) -> bool:
    """Short and mostly links: "Related: <a>…</a>", "MORE FROM …" lists, "Lesen Sie auch: <a>…</a>"."""
    return 0 < block.words <= MAX_LINK_BLOCK_WORDS and block.link_share >= LINK_DENSE


def is_prose(block: Block) -> bool:
    return block.kind in ("p", "quote", "other") and block.words >= PROSE_WORDS and block.link_share < 0.5


def _tokens(text: Optional[str]) -> List[str]:
    return re.findall(r"\w+", (text or "").lower())


def select_blocks(blocks: Sequence[Block]) -> List[bool]:
    """Keep flags for ``blocks``: drop residue, link-dense blocks, subheadings, lead-in bylines
    and datelines, and trailing bios/credits. The standfirst (the page's description repeated
    as a lead-in) is kept: it is the article's first paragraph. Never drops every block."""
    count = len(blocks)
    keep = [True] * count
    first = first_prose(blocks)
    first = count if first is None else first
    for i, block in enumerate(blocks):
        if is_residue(block.text) or is_link_block(block) or is_subheading(block):
            keep[i] = False
        elif i < first and is_lead_noise(block):
            keep[i] = False
        elif first < i and i >= count - EDGE_BLOCKS and is_tail_noise(block):
            keep[i] = False
    if not any(keep[i] for i, b in enumerate(blocks) if b.text.strip()):
        return [True] * len(blocks)
    return keep


def is_subheading(block: Block) -> bool:
    """A section heading inside the body ("What is Nato?", "Dicke Ausrüstung und schweres
    Gerät"): the body is the running text, as publishers' own article bodies and the
    real-page truth give it; headings are navigation. Long "headings" (a lede set in an
    <h2>) are text and stay."""
    return block.kind == "head" and block.words <= MAX_SUBHEADING_WORDS


def link_block_share(blocks: Sequence[Block]) -> float:
    """Share of the body's words in link-dense blocks: high on index and section pages."""
    total = sum(b.words for b in blocks)
    if not total:
        return 0.0
    return sum(b.words for b in blocks if b.words and b.link_share >= LINK_DENSE) / total


def first_prose(blocks: Sequence[Block]) -> Optional[int]:
    return next((i for i, b in enumerate(blocks) if is_prose(b)), None)


# --------------------------------------------------------------------------- edges of the text

SHORT_LINE_WORDS = 6  # lead-in/closing lines this short without sentence punctuation are chrome
_SENTENCE_END = re.compile(r"[.!?:;\"”’')\]]$")


def _is_prose_line(line: str) -> bool:
    words = count_split_words(line)
    return words >= PROSE_WORDS or (words >= 12 and bool(_SENTENCE_END.search(line)))


def _same_text(line: str, other: Optional[str]) -> bool:
    mine, theirs = _tokens(line), _tokens(other)
    return bool(mine) and bool(theirs) and (mine == theirs or (len(mine) >= 4 and theirs[:len(mine)] == mine))


def _edge_chrome(line: str, titles: Sequence[Optional[str]]) -> bool:
    text = line.strip()
    if not re.search(r"\w", text):
        return True  # "|", "•", "—"
    if text.startswith(("- ", "* ", "• ")) or re.match(r"^\d+[.)]\s", text):
        return False  # list items belong to the article
    if is_residue(text) or is_byline(text) or is_dateline(text) or _READ_TIME.match(text):
        return True
    if any(_same_text(text, t) for t in titles):
        return True
    return count_split_words(text) <= SHORT_LINE_WORDS and not _SENTENCE_END.search(text)


def trim_edges(text: str, titles: Sequence[Optional[str]] = ()) -> Tuple[str, int]:
    """Drop navigation, title, byline and date lines before the first line of prose, and
    "Printer-friendly version"-style lines after the last one (list items are kept).
    Returns (text, characters removed); never empties the text."""
    lines = text.split("\n")
    prose = [i for i, line in enumerate(lines) if _is_prose_line(line.strip())]
    if not prose:
        return text, 0
    start, end = prose[0], prose[-1]
    head = [line for line in lines[:start] if not _edge_chrome(line, titles)]
    tail = [line for line in lines[end + 1:] if not _edge_chrome(line, titles)]
    # Closing chrome only counts from the end: keep everything up to the last kept line.
    if tail:
        last_kept = max(i for i, line in enumerate(lines[end + 1:]) if line in tail)
        tail = lines[end + 1:end + 2 + last_kept]
    kept = head + lines[start:end + 1] + tail
    cleaned = "\n".join(kept).strip()
    return cleaned, max(0, len(text) - len(cleaned))
