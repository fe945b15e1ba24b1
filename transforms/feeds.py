"""Reading RSS/Atom/JSON feeds into page requests.

Pure part: :func:`parse_feed` turns feed bytes into ``PageRequest``s and
``DeadLetter``s. Beam part: :class:`ReadFeeds` fetches each feed (HTTP through
the guarded client, ``file://`` only for operator-given feeds) and parses it.
"""
from __future__ import annotations

import calendar
import datetime as dt
import html
import json
import logging
import re
import urllib.parse
import urllib.request
from typing import Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import DeadLetter, FeedRequest, PageRequest
from transforms import fetch as fetch_mod

LOG = logging.getLogger(__name__)
DEAD_LETTER = "dead_letter"
MAX_FEED_BYTES = 10 * 1024 * 1024
_TAG_RE = re.compile(r"<[^>]+>")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _strip_html(value: Optional[str]) -> Optional[str]:
    if not value:
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


def _iso_to_datetime(value: Optional[str]) -> Optional[dt.datetime]:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


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


def _is_json_feed(content: bytes) -> bool:
    head = content[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and b"jsonfeed" in content[:4096]


def _parse_json_feed(content: bytes, request: FeedRequest) -> Tuple[List[PageRequest], List[DeadLetter]]:
    data = json.loads(content.decode("utf-8-sig"))
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise ValueError("JSON Feed without an items list")
    pages: List[PageRequest] = []
    dead: List[DeadLetter] = []
    base = request.url  # relative item URLs resolve against the feed URL
    for index, item in enumerate(data["items"]):
        if not isinstance(item, dict):
            continue
        link = item.get("url") or item.get("external_url")
        if not link or not isinstance(link, str):
            dead.append(DeadLetter(url=f"{request.url}#item-{index}", stage=reasons.STAGE_PARSE_FEED,
                                   reason=reasons.ENTRY_WITHOUT_LINK,
                                   detail=str(item.get("title") or item.get("id") or "")[:300],
                                   at=_now()))
            continue
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        pages.append(PageRequest(
            url=urllib.parse.urljoin(base, link.strip()), origin="feed", feed_url=request.url,
            topic_hint=request.topic, entry_title=item.get("title") or None,
            entry_published=_iso_to_datetime(item.get("date_published")),
            entry_authors=tuple(a.get("name") for a in authors
                                if isinstance(a, dict) and a.get("name")),
            entry_categories=tuple(str(t) for t in item.get("tags") or [] if t),
            entry_summary=_strip_html(item.get("summary") or item.get("content_html")
                                      or item.get("content_text")),
        ))
    return pages, dead


def parse_feed(content: bytes, request: FeedRequest, *,
               content_type: Optional[str] = None,
               counter_inc_fn=None) -> Tuple[List[PageRequest], List[DeadLetter]]:
    """Parse a feed body into page requests and dead letters.

    Relative entry links resolve against the feed URL. Ill-formed XML that
    feedparser can still read ("bozo") is used; ``counter_inc_fn('bozo')`` is
    called so the problem shows in metrics.
    """
    inc = counter_inc_fn or (lambda name: None)
    if _is_json_feed(content):
        try:
            return _parse_json_feed(content, request)
        except (ValueError, UnicodeDecodeError) as exc:
            return [], [DeadLetter(url=request.url, stage=reasons.STAGE_PARSE_FEED,
                                   reason=reasons.FEED_UNPARSEABLE, detail=f"JSON Feed: {exc}"[:500],
                                   at=_now())]
    import feedparser
    headers = {"content-location": request.url}
    if content_type:
        headers["content-type"] = content_type
    try:
        parsed = feedparser.parse(content, response_headers=headers, sanitize_html=True,
                                  resolve_relative_uris=True)
    except Exception as exc:  # feedparser is robust, but never let a feed kill the job
        parsed = None
        error = f"{type(exc).__name__}: {exc}"
    if parsed is None or (not parsed.entries and (parsed.get("bozo") or not parsed.get("version"))):
        if parsed is not None:
            error = str(parsed.get("bozo_exception") or "no feed entries and no feed version")
        return [], [DeadLetter(url=request.url, stage=reasons.STAGE_PARSE_FEED,
                               reason=reasons.FEED_UNPARSEABLE, detail=error[:500], at=_now())]
    if parsed.bozo:
        inc("bozo")
        LOG.info("feed %s is ill-formed but readable: %s", request.url, parsed.get("bozo_exception"))
    pages: List[PageRequest] = []
    dead: List[DeadLetter] = []
    for index, entry in enumerate(parsed.entries):
        link = _entry_link(entry, request.url)
        if not link:
            dead.append(DeadLetter(url=f"{request.url}#entry-{index}", stage=reasons.STAGE_PARSE_FEED,
                                   reason=reasons.ENTRY_WITHOUT_LINK,
                                   detail=(entry.get("title") or entry.get("id") or "")[:300],
                                   at=_now()))
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


def read_feed_bytes(request: FeedRequest, session, config: fetch_mod.FetchConfig
                    ) -> Tuple[bytes, Optional[str]]:
    """Return (body, content-type header) of a feed; raises FetchError."""
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
        return data, None
    feed_config = fetch_mod.dataclasses.replace(config, max_bytes=max(config.max_bytes, MAX_FEED_BYTES))
    response = fetch_mod.fetch_url(session, request.url, feed_config)
    error = fetch_mod.status_error(response)
    if error is not None:
        raise error
    return response.content, response.headers.get("content-type")


class _ReadFeedFn(beam.DoFn):
    def __init__(self, config: fetch_mod.FetchConfig):
        self._config = config
        self._session = None
        self.entries = Metrics.counter("feeds", "entries")
        self.feeds_read = Metrics.counter("feeds", "feeds_read")

    def setup(self):
        self._session = fetch_mod.make_session(self._config)

    def process(self, request: FeedRequest) -> Iterator[Union[PageRequest, pvalue.TaggedOutput]]:
        try:
            content, ctype = read_feed_bytes(request, self._session, self._config)
        except fetch_mod.FetchError as exc:
            Metrics.counter("dead_letters", f"parse_feed.{exc.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
                url=request.url, stage=reasons.STAGE_FETCH, reason=exc.reason,
                detail=exc.detail, at=_now()))
            return
        self.feeds_read.inc()
        pages, dead = parse_feed(content, request, content_type=ctype,
                                 counter_inc_fn=lambda n: Metrics.counter("feeds", n).inc())
        for page in pages:
            self.entries.inc()
            yield page
        for letter in dead:
            Metrics.counter("dead_letters", f"parse_feed.{letter.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, letter)


class ReadFeeds(beam.PTransform):
    """FeedRequest -> PageRequest (one per entry), with a ``dead_letter`` output."""

    def __init__(self, config: fetch_mod.FetchConfig, label: Optional[str] = None):
        super().__init__(label)
        self._config = config

    def expand(self, feeds):
        return (feeds
                | "Reshuffle" >> beam.Reshuffle()
                | "FetchAndParse" >> beam.ParDo(_ReadFeedFn(self._config)).with_outputs(
                    DEAD_LETTER, main="entries"))
