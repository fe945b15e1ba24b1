"""The sources file and the source flags: configuration, read once when the job is built.

:func:`load_sources_file` / :func:`parse_sources` (TOML, OPML or a plain list of
URLs, told apart by extension, then by content) and :func:`cli_sources`
(``--feed``, ``--url``). Plain Python except ``FileSystems`` (gs://, s3://
sources files). The transforms that apply what they return (``FilterHosts``,
``ReadHtmlDir``) are in ``transforms/sources.py``.

Sources file, TOML::

    [hosts]                      # optional
    allow = ["example.com"]      # if given, only these hosts (and their subdomains)
    deny = ["ads.example.com"]   # never these (deny wins over allow)

    [[feed]]
    url = "https://example.com/rss.xml"    # or a path relative to this file
    topic = "politics"        # optional: every entry of this feed gets this topic
    tags = ["eu", "wire"]     # optional: labels, reported per tag
    poll_interval = "15m"     # optional: for streaming jobs; seconds or "30s", "15m", "2h", "1d"

    [[page]]
    url = "https://example.com/news/story.html"
    topic = "world"           # optional

OPML (a feed reader's export): every ``<outline xmlUrl=…>`` is a feed; the
names of the folders around it become its tags, and the nearest folder whose
name is a topic ("Politics", "Sport", "Tech") its topic.

Plain text: one URL per line; ``#`` starts a comment (at the start of a line or
after a space). A bare URL is a feed; ``page URL`` / ``feed URL`` say which;
``allow HOST`` / ``deny HOST`` add to the host lists.

Every user mistake raises :class:`SourcesError` naming the file and the line.
"""
from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import urllib.parse
from typing import Dict, List, Optional, Sequence, Tuple, Union

from apache_beam.io.filesystems import FileSystems

from schemas.records import FeedRequest, PageRequest
from schemas.taxonomy import TOPICS, to_slug

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_POLL_INTERVAL = 7 * 24 * 3600.0
FORMATS = ("toml", "opml", "text")
_FEED_KEYS = ("url", "topic", "tags", "poll_interval")
_PAGE_KEYS = ("url", "topic")
_HOST_KEYS = ("allow", "deny")
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_HOST_RE = re.compile(r"^(?:\*\.)?\.?[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$|^\[?[0-9a-f:.]+\]?$")


class SourcesError(ValueError):
    """A user mistake in a sources file: the message is shown as is.

    ``path`` and ``line`` (1-based, when known) locate the mistake."""

    def __init__(self, message: str, path: Optional[str] = None, line: Optional[int] = None):
        where = ""
        if path:
            where = f"{path} line {line}: " if line else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line


@dataclasses.dataclass(frozen=True)
class Sources:
    feeds: Tuple[FeedRequest, ...] = ()
    pages: Tuple[PageRequest, ...] = ()
    allow_hosts: Tuple[str, ...] = ()  # empty = every host
    deny_hosts: Tuple[str, ...] = ()

    def __add__(self, other: "Sources") -> "Sources":
        return Sources(self.feeds + other.feeds, self.pages + other.pages,
                       _unique(self.allow_hosts + other.allow_hosts),
                       _unique(self.deny_hosts + other.deny_hosts))

    @property
    def has_host_rules(self) -> bool:
        return bool(self.allow_hosts or self.deny_hosts)


def _unique(items: Sequence[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _check_url(value: object, where: str, allow_file: bool, path: Optional[str] = None,
               line: Optional[int] = None) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: 'url' must be a non-empty string", path, line)
    url = value.strip()
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("http", "https", "file") if allow_file else ("http", "https")
    if scheme not in allowed:
        raise SourcesError(f"{where}: unsupported URL scheme in {url!r} (use {', '.join(allowed)})",
                           path, line)
    if scheme in ("http", "https") and not parts.hostname:
        raise SourcesError(f"{where}: no host name in {url!r}", path, line)
    return url


def _feed_url(value: object, where: str, base_dir: Optional[str], path: Optional[str],
              line: Optional[int]) -> str:
    """A feed URL, or a local feed file named relative to the sources file."""
    if isinstance(value, str) and "://" not in value and value.strip() and base_dir is not None:
        local = os.path.join(base_dir, os.path.expanduser(value.strip()))
        if os.path.isfile(local):
            return pathlib.Path(local).resolve().as_uri()
        raise SourcesError(f"{where}: {value.strip()!r} is neither a URL nor an existing file", path, line)
    return _check_url(value, where, allow_file=True, path=path, line=line)


def _topic(value: object, where: str, path: Optional[str], line: Optional[int]) -> Optional[str]:
    if value is None:
        return None
    slug = to_slug(str(value)) if isinstance(value, str) else None
    if slug is None:
        raise SourcesError(f"{where}: unknown topic {value!r} (one of {', '.join(TOPICS)})", path, line)
    return slug


def _tags(value: object, where: str, path: Optional[str], line: Optional[int]) -> Tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) and t.strip() for t in items):
        raise SourcesError(f"{where}: 'tags' must be a list of non-empty strings", path, line)
    return _unique([t.strip() for t in items])


def parse_interval(value: object) -> Optional[float]:
    """Seconds from ``900``, ``"900"``, ``"15m"``, ``"2h"``, ``"1d"``; None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", value.lower())
        if not match or (match.group(2) and match.group(2) not in _UNITS):
            return None
        seconds = float(match.group(1)) * _UNITS.get(match.group(2) or "s", 1)
    else:
        return None
    return seconds if 0 < seconds <= MAX_POLL_INTERVAL else None


def _interval(value: object, where: str, path: Optional[str], line: Optional[int]) -> Optional[float]:
    if value is None:
        return None
    seconds = parse_interval(value)
    if seconds is None:
        raise SourcesError(f"{where}: 'poll_interval' must be a positive number of seconds or "
                           f"a duration like \"30s\", \"15m\", \"2h\", \"1d\" (at most 7 days); got {value!r}",
                           path, line)
    return seconds


def normalise_host(value: object, where: str = "host", path: Optional[str] = None,
                   line: Optional[int] = None) -> str:
    """``Example.COM`` -> ``example.com``; ``*.example.com``/``.example.com`` -> ``example.com``
    (a host entry always covers its subdomains)."""
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: host names must be non-empty strings", path, line)
    host = value.strip().lower().rstrip(".")
    if not _HOST_RE.match(host):
        hint = urllib.parse.urlsplit(host).hostname if "://" in host else None
        raise SourcesError(f"{where}: {value!r} is not a host name"
                           + (f" (write {hint!r})" if hint else ""), path, line)
    return host.lstrip("*").lstrip(".").strip("[]")


def _merge_feed(feeds: Dict[str, Tuple[FeedRequest, Optional[int]]], feed: FeedRequest,
                path: Optional[str], line: Optional[int]) -> None:
    """A feed listed twice (an OPML export with the feed in two folders) is read
    once, with both lists of tags; two different topics for it is a mistake."""
    if feed.url not in feeds:
        feeds[feed.url] = (feed, line)
        return
    first, first_line = feeds[feed.url]
    if feed.topic and first.topic and feed.topic != first.topic:
        raise SourcesError(f"feed {feed.url} is listed again with topic {feed.topic!r} "
                           f"(topic {first.topic!r} at line {first_line})", path, line)
    feeds[feed.url] = (dataclasses.replace(
        first, topic=first.topic or feed.topic, tags=_unique(first.tags + feed.tags),
        poll_interval=first.poll_interval or feed.poll_interval), first_line)


def _merge_page(pages: Dict[str, PageRequest], page: PageRequest) -> None:
    if page.url not in pages or (page.topic_hint and not pages[page.url].topic_hint):
        pages[page.url] = page


# --------------------------------------------------------------------------- TOML

class _TomlLines:
    """Line numbers for ``[[feed]]`` #i and its keys: tomllib reports none for
    values that parse but make no sense, and users need one."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers: List[Tuple[int, str]] = []  # (line number, table name)
        for number, line in enumerate(self.lines, 1):
            match = self._HEADER.match(line)
            if match:
                self.headers.append((number, match.group(2).strip("\"'")))

    def table(self, name: str, index: int = 0) -> Optional[int]:
        found = [n for n, t in self.headers if t == name]
        return found[index] if index < len(found) else None

    def key(self, name: str, index: int, key: str) -> Optional[int]:
        start = self.table(name, index)
        if start is None:
            return None
        later = [n for n, _ in self.headers if n > start]
        end = later[0] if later else len(self.lines) + 1
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, end):
            if pattern.match(self.lines[number - 1]):
                return number
        return start


def parse_sources_toml(text: str, name: str = "sources", base_dir: Optional[str] = None) -> Sources:
    data = _load_toml(text, name)
    lines = _TomlLines(text)
    unknown = sorted(set(data) - {"feed", "page", "hosts"})
    if unknown:
        raise SourcesError(f"unknown table or key {unknown[0]!r}; expected [[feed]], [[page]] and [hosts]",
                           name, lines.table(unknown[0]) or _first_line_of(text, unknown[0]))
    feeds: Dict[str, Tuple[FeedRequest, Optional[int]]] = {}
    pages: Dict[str, PageRequest] = {}
    for kind, keys in (("feed", _FEED_KEYS), ("page", _PAGE_KEYS)):
        for i, entry in _toml_entries(data, kind, keys, text, name, lines):
            where = f"[[{kind}]] #{i + 1}"

            def at(key: str) -> Optional[int]:
                return lines.key(kind, i, key)

            if kind == "feed":
                feed = FeedRequest(
                    url=_feed_url(entry["url"], where, base_dir, name, at("url")),
                    topic=_topic(entry.get("topic"), where, name, at("topic")), trusted=True,
                    tags=_tags(entry.get("tags"), where, name, at("tags")),
                    poll_interval=_interval(entry.get("poll_interval"), where, name, at("poll_interval")))
                _merge_feed(feeds, feed, name, lines.table(kind, i))
            else:
                _merge_page(pages, PageRequest(
                    url=_check_url(entry["url"], where, False, name, at("url")), origin="sources",
                    topic_hint=_topic(entry.get("topic"), where, name, at("topic"))))
    allow, deny = _toml_hosts(data, text, name, lines)
    return Sources(tuple(f for f, _ in feeds.values()), tuple(pages.values()), allow, deny)


def _load_toml(text: str, name: str) -> dict:
    import tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        line = int(match.group(1)) if match else None
        if match:
            message = message[:match.start()].rstrip() + f" (column {match.group(2)})"
        if line is None and "end of document" in message:
            line = max(1, len(text.splitlines()))
        raise SourcesError(f"invalid TOML: {message}", name, line) from None


def _toml_entries(data: dict, kind: str, keys: Sequence[str], text: str, name: str, lines: "_TomlLines"):
    """(index, table) of each well-formed ``[[kind]]`` table; SourcesError otherwise."""
    entries = data.get(kind, [])
    if isinstance(entries, dict):
        raise SourcesError(f"write [[{kind}]] (a list of tables), not [{kind}]", name, lines.table(kind))
    if not isinstance(entries, list):
        raise SourcesError(f"'{kind}' must be written as [[{kind}]] tables", name, _first_line_of(text, kind))
    for i, entry in enumerate(entries):
        where = f"[[{kind}]] #{i + 1}"
        if not isinstance(entry, dict):
            raise SourcesError(f"{where}: must be a table", name, lines.table(kind, i))
        extra = sorted(set(entry) - set(keys))
        if extra:
            raise SourcesError(f"{where}: unknown key {extra[0]!r} (expected {', '.join(keys)})",
                               name, lines.key(kind, i, extra[0]))
        if "url" not in entry:
            raise SourcesError(f"{where}: 'url' is missing", name, lines.table(kind, i))
        yield i, entry


def _toml_hosts(data: dict, text: str, name: str, lines: "_TomlLines") -> Tuple[Tuple[str, ...], ...]:
    """The ``[hosts]`` table's (allow, deny) lists."""
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        raise SourcesError("write [hosts] as a table with allow = [...] and deny = [...]", name,
                           _first_line_of(text, "hosts"))
    extra = sorted(set(hosts) - set(_HOST_KEYS))
    if extra:
        raise SourcesError(f"[hosts]: unknown key {extra[0]!r} (expected allow, deny)", name,
                           lines.key("hosts", 0, extra[0]))
    host_lists = {}
    for key in _HOST_KEYS:
        values = hosts.get(key, [])
        line = lines.key("hosts", 0, key)
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list):
            raise SourcesError(f"[hosts]: '{key}' must be a list of host names", name, line)
        host_lists[key] = _unique([normalise_host(v, f"[hosts] {key}", name, line) for v in values])
    return host_lists["allow"], host_lists["deny"]


def _first_line_of(text: str, word: str) -> Optional[int]:
    for number, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^\s*\[*\s*{re.escape(word)}\b", line):
            return number
    return None


# --------------------------------------------------------------------------- OPML

def parse_sources_opml(data: Union[str, bytes], name: str = "sources") -> Sources:
    """Feeds of an OPML subscription list. Parsed with expat directly: it gives
    line numbers, and DTDs (entity expansion tricks) are refused outright."""
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    feeds: Dict[str, Tuple[FeedRequest, Optional[int]]] = {}
    stack: List[Optional[str]] = []  # folder names (None for an outline that is a feed)
    seen_root: List[str] = []

    def fail(message: str) -> None:
        raise SourcesError(message, name, parser.CurrentLineNumber)

    def start(tag: str, attrs: Dict[str, str]) -> None:
        if not seen_root:
            seen_root.append(tag)
            if tag.lower() != "opml":
                fail(f"not an OPML file: the root element is <{tag}>, expected <opml>")
        if tag.lower() != "outline":
            return
        lowered = {k.lower(): v for k, v in attrs.items()}
        label = (lowered.get("title") or lowered.get("text") or "").strip()
        xml_url = (lowered.get("xmlurl") or "").strip()
        if not xml_url:
            stack.append(label or None)
            return
        where = f"outline {label!r}" if label else "outline"
        url = _check_url(xml_url, where, allow_file=False, path=name, line=parser.CurrentLineNumber)
        folders = [f for f in stack if f]
        categories = [c.strip() for raw in lowered.get("category", "").split(",")
                      for c in raw.strip().strip("/").split("/") if c.strip()]
        topic = next((to_slug(f) for f in reversed(folders + categories) if to_slug(f)), None)
        feed = FeedRequest(url=url, topic=topic, trusted=True, tags=_unique(folders + categories))
        _merge_feed(feeds, feed, name, parser.CurrentLineNumber)
        stack.append(None)

    def end(tag: str) -> None:
        if tag.lower() == "outline" and stack:
            stack.pop()

    def doctype(*_args) -> None:
        fail("DOCTYPE declarations are not allowed in an OPML sources file")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(data.encode("utf-8") if isinstance(data, str) else data, True)
    except expat.ExpatError as exc:
        raise SourcesError(f"invalid OPML (XML): {expat.ErrorString(exc.code)} (column {exc.offset + 1})",
                           name, exc.lineno) from None
    if not feeds:
        raise SourcesError("no feeds found (no <outline> with an xmlUrl attribute)", name, None)
    return Sources(tuple(f for f, _ in feeds.values()))


# --------------------------------------------------------------------------- plain text

_COMMENT = re.compile(r"(^|\s)#.*$")


def parse_sources_text(text: str, name: str = "sources", base_dir: Optional[str] = None) -> Sources:
    feeds: Dict[str, Tuple[FeedRequest, Optional[int]]] = {}
    pages: Dict[str, PageRequest] = {}
    allow: List[str] = []
    deny: List[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        words = line.split()
        keyword = words[0].lower() if len(words) == 2 else None
        if len(words) > 2 or (len(words) == 2 and keyword not in ("feed", "page", "allow", "deny")):
            raise SourcesError(f"expected one URL per line (or 'page URL', 'feed URL', 'allow HOST', "
                               f"'deny HOST'), got {line[:80]!r}", name, number)
        value = words[-1]
        if keyword in ("allow", "deny"):
            (allow if keyword == "allow" else deny).append(normalise_host(value, keyword, name, number))
        elif keyword == "page":
            _merge_page(pages, PageRequest(url=_check_url(value, "page", False, name, number),
                                           origin="sources"))
        else:
            feed = FeedRequest(url=_feed_url(value, "feed", base_dir, name, number), trusted=True)
            _merge_feed(feeds, feed, name, number)
    return Sources(tuple(f for f, _ in feeds.values()), tuple(pages.values()),
                   _unique(allow), _unique(deny))


# --------------------------------------------------------------------------- any format

def detect_format(path: str, text: str) -> str:
    """``toml``, ``opml`` or ``text``: by extension first, then by content."""
    lower = path.lower()
    if lower.endswith(".toml"):
        return "toml"
    if lower.endswith((".opml", ".opml.xml")):
        return "opml"
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("<"):
        return "opml"
    if lower.endswith((".txt", ".list", ".urls")):
        return "text"
    meaningful = [_COMMENT.sub("", line).strip() for line in text.splitlines()]
    meaningful = [line for line in meaningful if line]
    if any(re.match(r"^\[\[?\s*\w", line) or re.match(r"^[\w\"'.-]+\s*=", line) for line in meaningful):
        return "toml"
    return "text"


def parse_sources(text: str, name: str = "sources", fmt: Optional[str] = None,
                  base_dir: Optional[str] = None) -> Sources:
    fmt = fmt or detect_format(name, text)
    if fmt == "toml":
        return parse_sources_toml(text, name, base_dir)
    if fmt == "opml":
        return parse_sources_opml(text, name)
    if fmt == "text":
        return parse_sources_text(text, name, base_dir)
    raise ValueError(f"unknown sources format {fmt!r} (one of {', '.join(FORMATS)})")


def load_sources_file(path: str) -> Sources:
    try:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except Exception as exc:  # FileSystems raises several types
        raise SourcesError(f"cannot read sources file {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
            from None
    if len(raw) > MAX_FILE_BYTES:
        raise SourcesError(f"sources file {path} is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise SourcesError("not UTF-8 text", path, line) from None
    base_dir = os.path.dirname(os.path.abspath(path)) if "://" not in path else None
    return parse_sources(text, name=path, base_dir=base_dir)


def cli_sources(feeds: List[str], pages: List[str]) -> Sources:
    feed_requests = []
    for url in feeds or []:
        url = url.strip()
        if "://" not in url and os.path.exists(url):
            url = pathlib.Path(url).resolve().as_uri()  # a local feed file given as a path
        feed_requests.append(FeedRequest(url=_check_url(url, "--feed", allow_file=True)))
    page_requests = [PageRequest(url=_check_url(u, "--url", allow_file=False), origin="url")
                     for u in pages or []]
    return Sources(tuple(feed_requests), tuple(page_requests))
