"""Reading RSS/Atom/JSON feeds into page requests.

Pure part: :func:`parse_feed` turns feed bytes into ``PageRequest``s and
``DeadLetter``s (RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser, JSON
Feed 1.0/1.1 here); :func:`harden_xml` defuses entity bombs before any XML
parser sees the bytes; :func:`fetch_feed` gets a feed over the guarded HTTP
client (conditional GET) or, for operator-given feeds only, from ``file://``.
Beam part: :class:`ReadFeeds` fetches and parses each feed, skipping feeds
that have not changed since the last run (see :mod:`transforms.feed_state`).
"""
from __future__ import annotations

import calendar
import codecs
import dataclasses
import datetime as dt
import html
import json
import logging
import re
import threading
import urllib.parse
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from core.dates import parse_datetime
from core.dead_letters import DEAD_LETTER
from schemas import reasons
from schemas.records import DeadLetter, FeedRequest, PageRequest
from transforms import feed_state
from transforms import fetch as fetch_mod
from transforms import interrupt
from transforms.emit import dead_letter_outputs

LOG = logging.getLogger(__name__)
FEED_STATE = "feed_state"
MAX_FEED_BYTES = 10 * 1024 * 1024
JSON_FEED_TYPES = ("application/feed+json", "application/json")
_TAG_RE = re.compile(r"<[^>]+>")
# A DOCTYPE with an internal subset. Entity declarations there are the stuff of
# "billion laughs" / quadratic-blowup bombs and XXE; real feeds almost never
# need them (feedparser's loose parser still knows the HTML entities).
_DOCTYPE_SUBSET = re.compile(r"<!DOCTYPE[^\[>]*\[(.*?)\]\s*>", re.S | re.I)
_DOCTYPE_SUBSET_B = re.compile(_DOCTYPE_SUBSET.pattern.encode("ascii"), re.S | re.I)


def _doctype_subset(text, pattern):
    """The one DOCTYPE a document may have (the first), matched in linear time;
    searching every position would be quadratic on a file full of DOCTYPEs."""
    marker = "<!doctype" if isinstance(text, str) else b"<!doctype"
    start = text.lower().find(marker)
    return pattern.match(text, start) if start >= 0 else None
_XML_DECL_ENCODING = re.compile(r"""^(<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")
_WIDE_SIGNATURES = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                    (b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"),
                    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
                    (b"\x00<\x00", "utf-16-be"), (b"<\x00?\x00", "utf-16-le"),
                    (b"<\x00!\x00", "utf-16-le"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _strip_html(value: Optional[str]) -> Optional[str]:
    if not value or not isinstance(value, str):
        return None
    text = html.unescape(_TAG_RE.sub(" ", value))
    text = " ".join(text.split())
    return text or None


def _struct_to_datetime(value) -> Optional[dt.datetime]:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.timezone.utc)
    except (OverflowError, ValueError, TypeError):
        return None


# --------------------------------------------------------------------------- XML safety

def _wide_codec(content: bytes) -> Optional[str]:
    for signature, codec in _WIDE_SIGNATURES:
        if content.startswith(signature):
            return codec
    return None


def harden_xml(content: bytes, content_type: Optional[str] = None
               ) -> Tuple[bytes, Optional[str], List[str]]:
    """Remove a DOCTYPE internal subset that declares entities.

    Expat's amplification limit only starts after megabytes of expansion and
    feedparser retries ill-formed feeds with a second parser, so a small
    feed can still cost seconds and tens of MB; dropping the declarations
    makes such references undefined (a "bozo" feed that is still read).
    UTF-16/32 feeds are searched decoded and, if changed, returned as UTF-8
    (with the charset in ``content_type`` adjusted to match). Returns
    ``(content, content_type, notes)``.
    """
    wide = _wide_codec(content)
    if wide is None:
        match = _doctype_subset(content, _DOCTYPE_SUBSET_B)
        if match and b"<!entity" in match.group(1).lower():
            return content[:match.start()] + content[match.end():], content_type, ["dtd_entities_removed"]
        return content, content_type, []
    try:
        text = content.decode(wide)
    except UnicodeDecodeError:
        return content, content_type, []
    match = _doctype_subset(text, _DOCTYPE_SUBSET)
    if not (match and "<!entity" in match.group(1).lower()):
        return content, content_type, []
    text = (text[:match.start()] + text[match.end():]).lstrip("\ufeff")
    text = _XML_DECL_ENCODING.sub(lambda m: f"{m.group(1)}{m.group(2)}utf-8{m.group(2)}", text, count=1)
    if content_type:
        content_type = re.sub(r";\s*charset\s*=\s*[^;]*", "", content_type, flags=re.I) + "; charset=utf-8"
    return text.encode("utf-8"), content_type, ["dtd_entities_removed"]


# --------------------------------------------------------------------------- entries

def _entry_link(entry, base: str) -> Optional[str]:
    """The entry's article URL, or None. feedparser fills ``link`` from a
    ``tag:``/``urn:`` id when an entry has no link, so only http(s) counts."""
    candidates = [entry.get("link")]
    candidates += [c.get("href") for c in entry.get("links", []) or []
                   if c.get("rel", "alternate") == "alternate"]
    if entry.get("guidislink", True):
        candidates.append(entry.get("id"))
    for link in candidates:
        if not link or not isinstance(link, str):
            continue
        absolute = urllib.parse.urljoin(base, link.strip())
        if urllib.parse.urlsplit(absolute).scheme in ("http", "https"):
            return absolute
    return None


def _dead_entry(request: FeedRequest, anchor: str, detail: str, reason: str = reasons.ENTRY_WITHOUT_LINK
                ) -> DeadLetter:
    return DeadLetter(url=f"{request.url}#{anchor}", stage=reasons.STAGE_PARSE_FEED, reason=reason,
                      detail=detail[:300], at=_now())


def _json_text(content: bytes) -> str:
    """JSON is UTF-8 by RFC 8259; a BOM'd or UTF-16/32 document is decoded too."""
    return content.decode(json.detect_encoding(content)).lstrip("\ufeff")


def _is_json_feed(content: bytes, content_type: Optional[str]) -> bool:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in JSON_FEED_TYPES:
        return True
    head = content[:64]
    try:  # UTF-8, or UTF-16/32 with or without BOM
        text = head.decode(json.detect_encoding(head), "ignore")
    except LookupError:
        return False
    return text.lstrip("\ufeff \t\r\n").startswith("{")


def _parse_json_feed(content: bytes, request: FeedRequest, base: str
                     ) -> Tuple[List[PageRequest], List[DeadLetter]]:
    data = json.loads(_json_text(content))
    if not isinstance(data, dict) or "jsonfeed.org/version/" not in str(data.get("version", "")):
        raise ValueError("a JSON document, but not a JSON Feed (no jsonfeed.org version)")
    if not isinstance(data.get("items"), list):
        raise ValueError("JSON Feed without an items list")
    pages: List[PageRequest] = []
    dead: List[DeadLetter] = []
    for index, item in enumerate(data["items"]):
        if not isinstance(item, dict):
            dead.append(_dead_entry(request, f"item-{index}", f"item is a {type(item).__name__}"))
            continue
        link = next((c for c in (item.get("url"), item.get("external_url"))
                     if isinstance(c, str) and c.strip()), None)
        absolute = urllib.parse.urljoin(base, link.strip()) if link else None
        if not absolute or urllib.parse.urlsplit(absolute).scheme not in ("http", "https"):
            dead.append(_dead_entry(request, f"item-{index}",
                                    str(item.get("title") or item.get("id") or "")))
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        if not isinstance(authors, list):
            authors = []
        tags = item.get("tags") if isinstance(item.get("tags"), list) else []
        pages.append(PageRequest(
            url=absolute, origin="feed", feed_url=request.url,
            topic_hint=request.topic, entry_title=_strip_html(item.get("title")),
            entry_published=parse_datetime(item.get("date_published") or item.get("date_modified")),
            entry_authors=tuple(a.get("name") for a in authors
                                if isinstance(a, dict) and isinstance(a.get("name"), str) and a.get("name")),
            entry_categories=tuple(str(t) for t in tags if t),
            entry_summary=_strip_html(item.get("summary") or item.get("content_html")
                                      or item.get("content_text")),
        ))
    return pages, dead


_BOZO_KINDS = {"CharacterEncodingOverride": "encoding_override",
               "NonXMLContentType": "non_xml_content_type",
               "CharacterEncodingUnknown": "encoding_unknown"}


def bozo_kind(exc: Optional[BaseException]) -> str:
    """Metric name for feedparser's bozo exception: ``bozo`` for ill-formed
    XML; encoding/content-type complaints get their own names."""
    return _BOZO_KINDS.get(type(exc).__name__, "bozo") if exc is not None else "bozo"


def parse_feed(content: bytes, request: FeedRequest, *,
               content_type: Optional[str] = None, base_url: Optional[str] = None,
               counter_inc_fn: Optional[Callable[[str], None]] = None,
               ) -> Tuple[List[PageRequest], List[DeadLetter]]:
    """Parse a feed body into page requests and dead letters.

    Relative entry links resolve against ``base_url`` (the feed's final URL
    after redirects; default the feed URL) or the feed's own ``xml:base``.
    Ill-formed XML that feedparser can still read ("bozo") is used and
    ``counter_inc_fn('bozo')`` is called so the problem shows in metrics;
    encoding and content-type complaints are counted under their own names.
    The charset comes from the HTTP header (``content_type``), the XML
    declaration or the BOM, as RFC 7303 orders them, with fallbacks when
    they lie.
    """
    inc = counter_inc_fn or (lambda name: None)
    base = base_url or request.url
    if _is_json_feed(content, content_type):
        inc("json_feed")
        try:
            return _parse_json_feed(content, request, base)
        except (ValueError, UnicodeDecodeError, LookupError, RecursionError) as exc:
            return [], [DeadLetter(url=request.url, stage=reasons.STAGE_PARSE_FEED,
                                   reason=reasons.FEED_UNPARSEABLE, detail=f"JSON Feed: {exc}"[:500],
                                   at=_now())]
    import feedparser
    content, content_type, notes = harden_xml(content, content_type)
    for note in notes:
        inc(note)
    # No header (a file): let the XML declaration / BOM decide, as for application/xml.
    headers = {"content-location": base, "content-type": content_type or "application/xml"}
    error = ""
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True,
                                  resolve_relative_uris=True)
    except Exception as exc:  # feedparser is robust, but never let a feed kill the job
        parsed = None
        error = f"{type(exc).__name__}: {exc}"
    if parsed is None or (not parsed.entries and (parsed.get("bozo") or not parsed.get("version"))):
        if parsed is not None:
            error = str(parsed.get("bozo_exception") or "no feed entries and no feed version")
        if fetch_mod.looks_like_html(content):  # the commonest mistake: a page given as --feed
            error = f"this is an HTML page, not a feed (give a page with --url): {error}"
        return [], [DeadLetter(url=request.url, stage=reasons.STAGE_PARSE_FEED,
                               reason=reasons.FEED_UNPARSEABLE, detail=error[:500], at=_now())]
    if parsed.bozo:
        inc(bozo_kind(parsed.get("bozo_exception")))
        LOG.info("feed %s: %s", request.url, parsed.get("bozo_exception"))
    return _entry_requests(parsed.entries, request, base)


def _entry_requests(entries, request: FeedRequest, base: str) -> Tuple[List[PageRequest], List[DeadLetter]]:
    """feedparser entries -> page requests carrying the entry's metadata; an entry
    without a usable link is a dead letter."""
    pages: List[PageRequest] = []
    dead: List[DeadLetter] = []
    for index, entry in enumerate(entries):
        link = _entry_link(entry, base)
        if not link:
            dead.append(_dead_entry(request, f"entry-{index}",
                                    _strip_html(entry.get("title")) or entry.get("id") or ""))
            continue
        authors = [a.get("name") for a in entry.get("authors", []) or [] if a.get("name")]
        if not authors and entry.get("author"):
            authors = [entry["author"]]
        categories = [t.get("term") for t in entry.get("tags", []) or [] if t.get("term")]
        published = _struct_to_datetime(entry.get("published_parsed") or entry.get("updated_parsed"))
        pages.append(PageRequest(
            url=link, origin="feed", feed_url=request.url, topic_hint=request.topic,
            entry_title=_strip_html(entry.get("title")),
            entry_published=published,
            entry_authors=tuple(authors), entry_categories=tuple(categories),
            entry_summary=_strip_html(entry.get("summary")),
        ))
    return pages, dead


# --------------------------------------------------------------------------- fetching

def fetch_feed(request: FeedRequest, session, config: fetch_mod.FetchConfig, *,
               headers: Optional[Dict[str, str]] = None,
               throttle: Optional[fetch_mod.HostThrottle] = None) -> fetch_mod.Response:
    """The feed's response (status 200, or 304 when ``headers`` made it
    conditional); raises FetchError. ``file://`` only for trusted feeds."""
    scheme = urllib.parse.urlsplit(request.url).scheme
    if scheme == "file":
        if not request.trusted:
            raise fetch_mod.FetchError(reasons.UNSUPPORTED_SCHEME, "file:// only for operator-given feeds")
        path = urllib.request.url2pathname(urllib.parse.urlsplit(request.url).path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_FEED_BYTES + 1)
        except OSError as exc:
            raise fetch_mod.FetchError(reasons.FILE_ERROR, str(exc)) from None
        if len(data) > MAX_FEED_BYTES:
            raise fetch_mod.FetchError(reasons.TOO_LARGE, f"feed exceeds {MAX_FEED_BYTES} bytes")
        return fetch_mod.Response(url=request.url, status=200, headers={}, content=data,
                                  fetched_at=_now())
    feed_config = dataclasses.replace(config, max_bytes=max(config.max_bytes, MAX_FEED_BYTES))
    all_headers = {"Accept": "application/rss+xml, application/atom+xml, application/feed+json, "
                             "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"}
    all_headers.update(headers or {})
    response = fetch_mod.fetch_url(session, request.url, feed_config, headers=all_headers,
                                   throttle=throttle)
    error = fetch_mod.status_error(response, not_modified_ok=bool(headers))
    if error is not None:
        raise error
    return response


def read_feed_bytes(request: FeedRequest, session, config: fetch_mod.FetchConfig
                    ) -> Tuple[bytes, Optional[str]]:
    """Return (body, content-type header) of a feed; raises FetchError."""
    response = fetch_feed(request, session, config)
    return response.content, response.headers.get("content-type")


@dataclasses.dataclass
class FeedRead:
    """What reading one feed gave: entries, dead letters, the state to commit
    (None: nothing to remember) and the names of the counters to bump."""
    pages: List[PageRequest]
    dead: List[DeadLetter]
    state: Optional[feed_state.FeedState]
    counters: List[str]


def read_feed(request: FeedRequest, session, config: fetch_mod.FetchConfig, *,
              state_output: Optional[str] = None,
              throttle: Optional[fetch_mod.HostThrottle] = None) -> FeedRead:
    """Fetch (conditionally, when ``state_output`` holds state for it) and
    parse one feed; never raises for a bad feed or server."""
    counters: List[str] = []
    use_state = bool(state_output) and urllib.parse.urlsplit(request.url).scheme in ("http", "https")
    previous = feed_state.load_state(state_output, request.url) if use_state else None
    try:
        response = fetch_feed(request, session, config,
                              headers=feed_state.conditional_headers(previous), throttle=throttle)
    except fetch_mod.FetchError as exc:
        return FeedRead([], [DeadLetter(url=request.url, stage=reasons.STAGE_FETCH, reason=exc.reason,
                                        detail=exc.detail, at=_now())], None, counters)
    except interrupt.Interrupted:
        raise  # Ctrl-C: not the feed's fault
    except Exception as exc:  # a bug or an exotic failure must not kill the job
        LOG.exception("unexpected failure reading feed %s", request.url)
        return FeedRead([], [DeadLetter(url=request.url, stage=reasons.STAGE_FETCH,
                                        reason=reasons.CONNECTION_ERROR,
                                        detail=f"{type(exc).__name__}: {exc}"[:500], at=_now())],
                        None, counters)
    counters.append("feeds_read")
    check = None
    if use_state:
        check = feed_state.assess(previous, request.url, response.status, response.headers,
                                  response.content, _now())
        counters.append(check.outcome)
        if not check.changed:
            return FeedRead([], [], check.state, counters)
    pages, dead = parse_feed(response.content, request,
                             content_type=response.headers.get("content-type"),
                             base_url=response.url, counter_inc_fn=counters.append)
    keep = check is not None and not any(d.reason == reasons.FEED_UNPARSEABLE for d in dead)
    return FeedRead(pages, dead, check.state if keep else None, counters)


class _ReadFeedFn(beam.DoFn):
    """Reads feeds several at a time on a thread pool (each through the shared
    per-host throttle); results are emitted, and counters bumped, on the
    bundle's thread, in the window of the feed they came from."""

    def __init__(self, config: fetch_mod.FetchConfig, state_output: Optional[str] = None):
        self._config = config
        self._state_output = state_output
        self._local: Optional[threading.local] = None
        self._pool: Optional[ThreadPoolExecutor] = None
        self._throttle: Optional[fetch_mod.HostThrottle] = None
        self._pending: List[Tuple[Future, object, object]] = []
        self.entries = Metrics.counter("feeds", "entries")

    def setup(self):
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=self._config.max_parallel_hosts,
                                        thread_name_prefix="newsbeam-feeds")
        self._throttle = fetch_mod.shared_throttle(self._config)

    def _read(self, request: FeedRequest) -> FeedRead:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = fetch_mod.make_session(self._config)
        return read_feed(request, session, self._config, state_output=self._state_output,
                         throttle=self._throttle)

    def start_bundle(self):
        self._pending = []

    def process(self, request: FeedRequest, window=beam.DoFn.WindowParam,
                timestamp=beam.DoFn.TimestampParam):
        self._pending.append((self._pool.submit(self._read, request), window, timestamp))
        while len(self._pending) > 2 * self._config.max_parallel_hosts:
            yield from self._emit(*self._pending.pop(0))

    def _emit(self, future: Future, window, timestamp) -> Iterator:
        read: FeedRead = future.result()
        for name in read.counters:
            Metrics.counter("feeds", name).inc()
        for page in read.pages:
            self.entries.inc()
            yield WindowedValue(page, timestamp, [window])
        for letter in read.dead:
            yield from dead_letter_outputs(letter, window, timestamp)
        if read.state is not None:
            yield pvalue.TaggedOutput(FEED_STATE, WindowedValue(read.state, timestamp, [window]))

    def finish_bundle(self):
        pending, self._pending = self._pending, []
        for future, window, timestamp in pending:
            yield from self._emit(future, window, timestamp)

    def teardown(self):
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


class ReadFeeds(beam.PTransform):
    """FeedRequest -> PageRequest (``entries``, one per entry), with a
    ``dead_letter`` output and a ``feed_state`` output of FeedState.

    With ``state_output`` (the job's output dir), HTTP feeds are fetched
    conditionally using the state under ``DIR/_state/feeds/`` and unchanged
    feeds yield no entries; commit the ``feed_state`` output with
    :class:`transforms.feed_state.CommitFeedStates` after the outputs are written.
    """

    def __init__(self, config: fetch_mod.FetchConfig, label: Optional[str] = None,
                 state_output: Optional[str] = None):
        super().__init__(label)
        self._config = config
        self._state_output = state_output

    def expand(self, feeds):
        return (feeds
                | "Reshuffle" >> beam.Reshuffle()
                | "FetchAndParse" >> beam.ParDo(_ReadFeedFn(self._config, self._state_output))
                .with_outputs(DEAD_LETTER, FEED_STATE, main="entries"))
