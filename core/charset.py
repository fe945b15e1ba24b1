"""The one charset policy, for every source (HTTP, ``--html-dir``, WARC).

A page carries what its transport *declared* (``FetchedPage.declared_charset``:
the HTTP or archived ``Content-Type`` charset, None for saved files); the
charset it is really in is decided here only, when the page is decoded:
BOM > valid non-ASCII UTF-8 > declared > ``<meta charset>`` > detection.
Servers and templates often label UTF-8 pages ISO-8859-1, while legacy text
with accents is practically never valid UTF-8, hence UTF-8 before the label.
"""
from __future__ import annotations

import codecs
import re
from typing import Optional, Tuple

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
# WHATWG: labels browsers decode differently from their name.
_WHATWG_ALIASES = {"iso8859-1": "cp1252", "latin-1": "cp1252", "ascii": "cp1252",
                   "iso8859-9": "cp1254", "gb2312": "gb18030", "gbk": "gb18030",
                   "euc_kr": "cp949", "tis-620": "cp874", "iso8859-11": "cp874"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_MAX_INVALID_SHARE = 20  # undecodable: more than 1/20 of the text would be U+FFFD


def header_charset(content_type: Optional[str]) -> Optional[str]:
    """The ``charset`` parameter of a ``Content-Type`` header value, lower-cased."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"\'').lower()
    return None


def _codec(name: Optional[str]) -> Optional[str]:
    if not name:
        return None
    try:
        codec = codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None
    return _WHATWG_ALIASES.get(codec, codec)


def _decodes(content: bytes, codec: str) -> bool:
    try:
        content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


def _detected(content: bytes) -> Optional[str]:
    try:
        from charset_normalizer import from_bytes
        best = from_bytes(content[:200_000]).best()
        if best is not None and best.encoding and _decodes(content, best.encoding):
            return _codec(best.encoding)
    except Exception:  # detection is best effort
        pass
    return None


def resolve_charset(content: bytes, declared: Optional[str] = None) -> Optional[str]:
    """The charset a page is really in (see the module docstring); each label is used
    only if the bytes decode under it. None when nothing is known (pure ASCII)."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    if not content.isascii() and _decodes(content, "utf-8"):
        return "utf-8"
    match = _META_CHARSET.search(content[:4096])
    meta = match.group(1).decode("ascii", "ignore") if match else None
    for name in (_codec(declared), _codec(meta)):
        if name and not name.startswith(("utf-16", "utf-32")) and _decodes(content, name):
            return name
    if content.isascii():
        return _codec(declared) or _codec(meta) or None
    detected = _detected(content)
    if detected:
        return detected
    return "cp1252" if _decodes(content, "cp1252") else None


def decode_html(content: bytes, declared: Optional[str] = None) -> Tuple[str, str]:
    """Bytes -> (text, codec) under :func:`resolve_charset`. Raises ``ValueError``
    when nothing fits and more than 5 % of the bytes are invalid UTF-8."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return content.decode(name, errors="replace").lstrip("\ufeff"), name
    codec = resolve_charset(content, declared)
    if codec:
        try:
            return content.decode(codec), codec
        except (UnicodeDecodeError, LookupError):
            pass
    text = content.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(10, len(text) // _MAX_INVALID_SHARE):
        raise ValueError("undecodable bytes (more than 5% invalid UTF-8, no usable charset)")
    return text, "utf-8"
