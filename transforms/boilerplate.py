"""Removing template residue that extractors leave in article bodies.

A conservative line filter: a line is dropped only when it is short and matches
a pattern that is almost never article prose (newsletter prompts, share bars,
cookie notices, ticker lines, "All rights reserved"). Long lines are kept even
if they contain such words, because prose sometimes quotes them.
"""
from __future__ import annotations

import re
from typing import List, Tuple

MAX_RESIDUE_WORDS = 25  # lines longer than this are prose, whatever they contain

_RESIDUE_PATTERNS = [
    r"^(please )?(sign up|subscribe|register)\b.*\b(newsletter|updates|alerts|briefing|free|today|now|email|inbox)\b",
    r"^(get|receive)\b.*\b(newsletter|updates|alerts|briefing)\b.*\b(inbox|email|free)\b",
    r"^welcome to [\w .'-]+[-–—:,]\s*(sign up|subscribe|register)",
    r"^((share( this)?( article| story| page| post)?|share on \w+|share via \w+|copy link|copy|email( this)?|print( this)?|whatsapp|facebook|twitter|x|linkedin|reddit|telegram|bluesky|comments?)\W*)+$",
    r"^(click|tap) here\b",
    r"^(read more|related|related articles|related stories|more from|recommended|most read|most popular|trending|see also|also read)\s*[:»›>-]?\s*$",
    r"^(related|read more|also read|see also)\s*:",
    r"\ball rights reserved\b",
    r"^(©|\(c\)|copyright)\s*\d{4}",
    r"\b(we|this (site|website)) uses? cookies\b",
    r"^(accept|manage) (all )?cookies\b",
    r"^advertisement$|^advert$|^sponsored( content)?$|^ad$",
    r"^\d+\s+comments?$|^comments?\s*\(\d+\)$|^(view|show|load) (all )?comments\b|^leave a comment\b",
    r"^(follow us|follow) on (twitter|x|facebook|instagram|linkedin|threads)\b",
    r"^market data\b",
    r"^(menu|search|home|skip to (main )?content|log ?in|sign in|my account)$",
    r"^(download|get) (our|the) app\b",
    r"^(listen to|watch|audio:|video:)\s*(this|the)?\s*(article|story)?\s*$",
    r"^(reporting|writing|editing|additional reporting) by\b",
]
_RESIDUE_RE = re.compile("|".join(f"(?:{p})" for p in _RESIDUE_PATTERNS), re.I)
# Ticker lines: "DJIA 42,051.06 +0.65%", "EUR/USD 1.1187", "Brent Crude 64.53 -2.4%"
_TICKER_RE = re.compile(
    r"^[A-Z][\w&./ -]{1,30}\s+[-+]?\d[\d,]*\.\d+\s*([-+▲▼]\s*\d+(\.\d+)?\s*%?)?\s*(\([-+]?\d+(\.\d+)?%\))?$")


def is_residue(line: str) -> bool:
    """True for a short line that is template text, not article prose."""
    stripped = " ".join(line.split())
    if not stripped:
        return False
    if len(stripped.split()) > MAX_RESIDUE_WORDS:
        return False
    if _TICKER_RE.match(stripped):
        return True
    return bool(_RESIDUE_RE.search(stripped))


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
