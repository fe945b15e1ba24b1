"""Counting words in any script.

Chinese, Japanese, Thai, Lao, Khmer and Burmese are written without spaces between words,
so counting ``\\w+`` runs or splitting on spaces turns a 500-character Chinese article into
a few dozen "words". We do not segment (no dictionary, no model): characters of those
scripts are counted and converted into an estimated number of words with the script's
typical word length — 2 characters for Chinese/Japanese (Han, kana; typical words are 1–2
characters), 4 for the Southeast Asian scripts (whose vowel signs and tone marks are
characters too). Every other script is counted by ``\\w+`` runs, as before. Every word-based
threshold of the project (minimum article length, prose-sized blocks) uses this count.
"""
from __future__ import annotations

import re

HAN_KANA_CHARS_PER_WORD = 2.0
SOUTHEAST_ASIAN_CHARS_PER_WORD = 4.0

_HAN_KANA_RANGES = r"\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_SOUTHEAST_ASIAN_RANGES = r"\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Burmese, Khmer
_HAN_KANA = re.compile(f"[{_HAN_KANA_RANGES}]")
_SOUTHEAST_ASIAN = re.compile(f"[{_SOUTHEAST_ASIAN_RANGES}]")
_UNSPACED = re.compile(f"[{_HAN_KANA_RANGES}{_SOUTHEAST_ASIAN_RANGES}]")
_WORD = re.compile(r"\w+", re.UNICODE)


def count_words(text: str) -> int:
    """Words in ``text``: ``\\w+`` runs, with unspaced scripts estimated from their characters."""
    if not text:
        return 0
    if not _UNSPACED.search(text):
        return len(_WORD.findall(text))
    han_kana = len(_HAN_KANA.findall(text))
    southeast = len(_SOUTHEAST_ASIAN.findall(text))
    spaced = len(_WORD.findall(_UNSPACED.sub(" ", text)))
    return spaced + round(han_kana / HAN_KANA_CHARS_PER_WORD + southeast / SOUTHEAST_ASIAN_CHARS_PER_WORD)


def count_split_words(text: str) -> int:
    """Like :func:`count_words` but as cheap as ``len(text.split())`` for spaced scripts
    (the block filters call this on every line)."""
    if not text:
        return 0
    if not _UNSPACED.search(text):
        return len(text.split())
    return count_words(text)
