"""Where inputs come from: CLI flags, a sources file, and folders of saved pages.

Pure part: :func:`load_sources_file` (TOML today) and :func:`list_html_files`
/ :func:`read_html_file`. Beam part: :class:`ReadHtmlDir`.

Sources file format (TOML)::

    [[feed]]
    url = "https://example.com/rss.xml"
    topic = "politics"        # optional: every entry of this feed gets this topic

    [[page]]
    url = "https://example.com/news/story.html"
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
import os
import pathlib
import urllib.parse
from typing import Iterator, List, Optional, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import DeadLetter, FeedRequest, FetchedPage, PageRequest
from schemas.taxonomy import to_slug

DEAD_LETTER = "dead_letter"
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
MAX_FILE_BYTES = 20 * 1024 * 1024


class SourcesError(ValueError):
    """A user mistake in a sources file: the message is shown as is."""


@dataclasses.dataclass(frozen=True)
class Sources:
    feeds: Tuple[FeedRequest, ...] = ()
    pages: Tuple[PageRequest, ...] = ()

    def __add__(self, other: "Sources") -> "Sources":
        return Sources(self.feeds + other.feeds, self.pages + other.pages)


def _check_url(value: object, where: str, allow_file: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SourcesError(f"{where}: 'url' must be a non-empty string")
    url = value.strip()
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    allowed = ("http", "https", "file") if allow_file else ("http", "https")
    if scheme not in allowed:
        raise SourcesError(f"{where}: unsupported URL scheme in {url!r} (use {', '.join(allowed)})")
    return url


def parse_sources_toml(text: str, name: str = "sources") -> Sources:
    import tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{name}: invalid TOML: {exc}") from None
    unknown = set(data) - {"feed", "page"}
    if unknown:
        raise SourcesError(f"{name}: unknown table(s) {sorted(unknown)}; expected [[feed]] and [[page]]")
    feeds: List[FeedRequest] = []
    for i, entry in enumerate(data.get("feed", []) or []):
        where = f"{name}: [[feed]] #{i + 1}"
        if not isinstance(entry, dict):
            raise SourcesError(f"{where}: must be a table")
        url = _check_url(entry.get("url"), where, allow_file=True)
        topic = entry.get("topic")
        slug = None
        if topic is not None:
            slug = to_slug(str(topic))
            if slug is None:
                raise SourcesError(f"{where}: unknown topic {topic!r}")
        feeds.append(FeedRequest(url=url, topic=slug, trusted=True))
    pages: List[PageRequest] = []
    for i, entry in enumerate(data.get("page", []) or []):
        where = f"{name}: [[page]] #{i + 1}"
        if not isinstance(entry, dict):
            raise SourcesError(f"{where}: must be a table")
        url = _check_url(entry.get("url"), where, allow_file=False)
        topic = entry.get("topic")
        pages.append(PageRequest(url=url, origin="sources",
                                 topic_hint=to_slug(str(topic)) if topic else None))
    return Sources(tuple(feeds), tuple(pages))


def load_sources_file(path: str) -> Sources:
    try:
        with FileSystems.open(path) as handle:
            raw = handle.read(MAX_FILE_BYTES)
    except Exception as exc:  # FileSystems raises several types
        raise SourcesError(f"cannot read sources file {path}: {exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourcesError(f"sources file {path} is not UTF-8") from None
    return parse_sources_toml(text, name=os.path.basename(path))


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


# --------------------------------------------------------------------------- saved pages

def list_html_files(root: str) -> List[str]:
    """All saved pages under ``root`` (recursively), sorted for determinism."""
    if "://" in root and not root.startswith("file://"):
        pattern = root.rstrip("/") + "/**"
        found = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    else:
        local = urllib.parse.urlsplit(root).path if root.startswith("file://") else root
        found = []
        for dirpath, _dirs, files in os.walk(local):
            found.extend(os.path.join(dirpath, f) for f in files)
    return sorted(p for p in found if p.lower().endswith(HTML_SUFFIXES))


def read_html_file(path: str) -> Union[FetchedPage, DeadLetter]:
    """A saved page as if fetched: URL ``file://…`` (the extractor swaps in the
    page's canonical link), ``fetched_at`` = the file's modification time."""
    url = pathlib.Path(path).resolve().as_uri() if "://" not in path else path
    now = dt.datetime.now(dt.timezone.utc)
    try:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        if path.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            return DeadLetter(url=url, stage=reasons.STAGE_SOURCES, reason=reasons.TOO_LARGE,
                              detail=f"file exceeds {MAX_FILE_BYTES} bytes", at=now)
        try:
            mtime = FileSystems.last_updated(path)
            fetched_at = dt.datetime.fromtimestamp(mtime, tz=dt.timezone.utc)
        except Exception:
            fetched_at = now
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        return DeadLetter(url=url, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                          detail=str(exc)[:500], at=now)
    request = PageRequest(url=url, origin="html_dir")
    return FetchedPage(request=request, final_url=url, status=200, content=data,
                       content_type="text/html", fetched_at=fetched_at)


class _ReadHtmlFileFn(beam.DoFn):
    def process(self, path: str):
        result = read_html_file(path)
        if isinstance(result, DeadLetter):
            Metrics.counter("dead_letters", f"sources.{result.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, result)
        else:
            Metrics.counter("sources", "html_files").inc()
            yield result


class ReadHtmlDir(beam.PTransform):
    """A folder of saved pages -> FetchedPage, with a ``dead_letter`` output."""

    def __init__(self, root: str, label: Optional[str] = None):
        super().__init__(label)
        self._root = root

    def expand(self, pbegin):
        return (pbegin
                | "ListFiles" >> beam.Create([self._root])
                | "ExpandDir" >> beam.FlatMap(list_html_files)
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(_ReadHtmlFileFn()).with_outputs(DEAD_LETTER, main="pages"))
