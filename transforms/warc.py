"""Web archives as input: WARC / WARC.gz files (e.g. Common Crawl's CC-NEWS).

An archived HTTP response is a page that was already fetched, so it joins the
pipeline as a :class:`FetchedPage` (like ``--html-dir``) and goes through the
same extract -> dedup -> entities -> topic -> Parquet path. ``fetched_at`` is
the record's ``WARC-Date``: the archive says when the page was seen, and
freshness, partition dates of undated pages and date plausibility depend on it.

Pure part: :func:`list_warc_files`, :func:`record_to_page`, :func:`read_warc`
(records of one file, streamed with ``warcio``; files are opened through
``FileSystems`` so ``gs://``/``s3://`` archives work with the Beam extras).
Beam part: :class:`ReadWarc`.

What becomes of each record:
  - ``response`` (and ``resource``) with HTML and HTTP 2xx -> a page;
  - non-HTML -> dead letter ``not_html``; HTTP 3xx -> ``archived_redirect`` (the
    target, if captured, is its own record); 4xx/5xx -> ``http_4xx``/``http_5xx``;
  - a target URI that is not http(s) -> ``bad_url``; a body over the size cap ->
    ``too_large``; an unreadable/corrupt file or record -> ``file_error``;
  - ``request``, ``metadata``, ``warcinfo``, ``revisit`` (a "same as before"
    marker without a body) ... are not pages: skipped, and counted.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import urllib.parse
import zlib
from typing import Callable, Iterator, List, Optional, Sequence, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest, parse_iso_utc
from transforms import fetch as fetch_mod
from transforms import usage

LOG = logging.getLogger(__name__)

DEAD_LETTER = "dead_letter"
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
MAX_RECORD_BYTES = 20 * 1024 * 1024  # as for saved pages
PAGE_RECORD_TYPES = ("response", "resource")
ORIGIN = "warc"
SNIFF_BYTES = 4096
TRAILER_SLACK = 4  # an uncompressed WARC ends with CRLF CRLF after the last record

Result = Union[FetchedPage, DeadLetter]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def list_warc_files(pattern: str) -> List[str]:
    """Files named by ``pattern``: a file, a folder (its ``*.warc[.gz]`` files,
    recursively) or a glob, local or on any Beam filesystem. Sorted."""
    local = pattern[len("file://"):] if pattern.startswith("file://") else pattern
    if "://" not in local and os.path.isdir(local):
        found = [os.path.join(d, f) for d, _, files in os.walk(local) for f in files
                 if f.lower().endswith(WARC_SUFFIXES)]
        return sorted(found)
    if "://" not in local and os.path.isfile(local):
        return [os.path.abspath(local)]
    try:
        results = FileSystems.match([pattern])
    except Exception:  # no match raises on some filesystems
        return []
    return sorted(m.path for r in results for m in r.metadata_list
                  if not os.path.basename(m.path).startswith("."))


def parse_warc_date(value: Optional[str]) -> Optional[dt.datetime]:
    """``WARC-Date`` (W3C-ISO8601, UTC, ``Z``; WARC/1.1 allows fractions)."""
    return parse_iso_utc(value)


def _is_html(content_type: str, content: bytes) -> bool:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in fetch_mod.HTML_TYPES:
        return True
    return ctype in ("", "text/plain", "application/octet-stream", "unk") and fetch_mod.looks_like_html(content)


def record_to_page(record, source: str, max_bytes: int = MAX_RECORD_BYTES) -> Optional[Result]:
    """One warcio record -> a page, a dead letter, or None (not a page record)."""
    if record.rec_type not in PAGE_RECORD_TYPES:
        return None
    headers = record.rec_headers
    url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    now = _now()

    def dead(reason: str, detail: str, stage: str = reasons.STAGE_FETCH) -> DeadLetter:
        return DeadLetter(url=url or source, stage=stage, reason=reason,
                          detail=f"{detail} (in {source})"[:500], at=now)

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
        return dead(reasons.BAD_URL, f"WARC-Target-URI {url!r} is not an http(s) URL", reasons.STAGE_SOURCES)
    fetched_at = parse_warc_date(headers.get_header("WARC-Date"))
    if fetched_at is None:
        return dead(reasons.FILE_ERROR, f"missing or invalid WARC-Date {headers.get_header('WARC-Date')!r}",
                    reasons.STAGE_SOURCES)
    status = 200
    if record.http_headers is not None and record.rec_type == "response":
        try:
            status = int(record.http_headers.get_statuscode() or 0)
        except ValueError:
            status = 0
        content_type = record.http_headers.get_header("Content-Type") or ""
    else:  # a resource record: the WARC header carries the type
        content_type = headers.get_header("Content-Type") or ""
    if 300 <= status < 400:
        location = record.http_headers.get_header("Location") or "?"
        return dead(reasons.ARCHIVED_REDIRECT, f"HTTP {status} to {location}")
    if status >= 500:
        return dead(reasons.HTTP_5XX, f"HTTP {status}")
    if not 200 <= status < 300:
        return dead(reasons.HTTP_4XX, f"HTTP {status}")
    try:
        content = record.content_stream().read(max_bytes + 1)  # de-chunked and decoded
    except Exception as exc:  # zlib/brotli errors, truncated gzip members ...
        return dead(reasons.FILE_ERROR, f"unreadable record body: {type(exc).__name__}: {exc}",
                    reasons.STAGE_SOURCES)
    if len(content) > max_bytes:
        return dead(reasons.TOO_LARGE, f"record body exceeds {max_bytes} bytes")
    try:
        record.raw_stream.read()  # whatever the decoder left; then nothing may be missing
    except Exception:
        pass
    missing = getattr(record.raw_stream, "limit", 0) or 0
    if missing > 0:  # the file ends inside this record (warcio returns the part it got)
        return dead(reasons.FILE_ERROR, f"record truncated: {missing} of its {record.length} bytes are "
                                        f"missing", reasons.STAGE_SOURCES)
    if not _is_html(content_type, content):
        return dead(reasons.NOT_HTML, f"content-type {content_type.split(';')[0].strip() or 'missing'}")
    request = PageRequest(url=url, origin=ORIGIN)
    # Usage rights the archived HTTP headers carry (TDMRep, X-Robots-Tag); robots.txt and
    # tdmrep.json were not consulted: unknown (null), not allowed.
    http_headers = dict(record.http_headers.headers) if record.http_headers is not None else {}
    return FetchedPage(request=request, final_url=url, status=status, content=content,
                       content_type=content_type.split(";")[0].strip().lower() or "text/html",
                       fetched_at=fetched_at, encoding=fetch_mod.header_charset(content_type),
                       usage=usage.from_fetch(http_headers, url=url, robots_allowed=None,
                                              ai_disallowed=None, tdmrep=None))


def read_warc(path: str, max_bytes: int = MAX_RECORD_BYTES,
              counter_inc_fn: Optional[Callable[[str], None]] = None) -> Iterator[Result]:
    """Pages and dead letters of one archive, streamed record by record. A file
    that is corrupt part-way yields what came before it, then one dead letter."""
    from warcio.archiveiterator import ArchiveIterator

    inc = counter_inc_fn or (lambda _name: None)
    try:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            head = handle.read(SNIFF_BYTES)
        handle = FileSystems.open(path, compression_type="uncompressed")
    except Exception as exc:
        yield DeadLetter(url=path, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                         detail=f"cannot open: {exc}"[:500], at=_now())
        return
    problem = _not_an_archive(head)
    if problem:  # warcio would parse some text files as ARC records: check first
        handle.close()
        yield DeadLetter(url=path, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                         detail=problem, at=_now())
        return
    records = 0
    end = 0
    try:
        with handle:
            iterator = ArchiveIterator(handle, arc2warc=True)
            for record in iterator:
                records += 1
                result = record_to_page(record, path, max_bytes)
                if result is None:
                    inc(f"records_skipped_{record.rec_type}")
                    continue
                inc("pages" if isinstance(result, FetchedPage) else "dead_letters")
                yield result
            if records:
                end = iterator.get_record_offset() + iterator.get_record_length()
    except Exception as exc:  # warcio raises ArchiveLoadFailed, EOFError, zlib.error ...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        yield DeadLetter(url=path, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                         detail=f"archive unreadable after {records} records: {detail}"[:500], at=_now())
        return
    if records == 0:
        yield DeadLetter(url=path, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                         detail="no WARC records in this file", at=_now())
        return
    # warcio ends quietly at a truncated gzip member: compare with the file size.
    size = _size(path)
    if size is not None and size - end > TRAILER_SLACK:
        yield DeadLetter(url=path, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                         detail=f"archive truncated or corrupt after {records} records: "
                                f"{size - end} trailing bytes could not be read", at=_now())


def _not_an_archive(head: bytes) -> Optional[str]:
    """Why ``head`` (the file's first bytes) is no WARC/ARC file, or None."""
    if not head:
        return "empty file"
    data = head
    if head[:2] == b"\x1f\x8b":
        try:
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        except zlib.error as exc:
            return f"not a WARC file: broken gzip data ({exc})"
        if not data:
            return "no WARC records in this file"
    if data.lstrip(b"\r\n").startswith((b"WARC/", b"filedesc://")):
        return None
    return f"not a WARC file: it starts with {data[:24]!r}"


def _size(path: str) -> Optional[int]:
    try:
        if "://" not in path:
            return os.path.getsize(path)
        return FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except Exception:
        return None


class _ReadWarcFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes

    def process(self, path: str):
        for result in read_warc(path, self._max_bytes,
                                counter_inc_fn=lambda name: Metrics.counter("warc", name).inc()):
            if isinstance(result, DeadLetter):
                Metrics.counter("dead_letters", f"{result.stage}.{result.reason}").inc()
                yield pvalue.TaggedOutput(DEAD_LETTER, result)
            else:
                yield result


class ReadWarc(beam.PTransform):
    """WARC files (paths, folders or globs) -> FetchedPage, with a ``dead_letter``
    output. Files are read in parallel; their pages are reshuffled so that one
    big archive is still extracted by every worker."""

    def __init__(self, patterns: Union[str, Sequence[str]], max_bytes: int = MAX_RECORD_BYTES,
                 label: Optional[str] = None):
        super().__init__(label)
        self._patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        self._max_bytes = max_bytes

    def expand(self, pbegin):
        read = (pbegin
                | "Patterns" >> beam.Create(self._patterns)
                | "ListFiles" >> beam.FlatMap(list_warc_files)
                | "ReshuffleFiles" >> beam.Reshuffle()
                | "ReadRecords" >> beam.ParDo(_ReadWarcFn(self._max_bytes)).with_outputs(
                    DEAD_LETTER, main="pages"))
        pages = read.pages | "ReshufflePages" >> beam.Reshuffle()
        return _Outputs(pages, read[DEAD_LETTER])


class _Outputs(dict):
    """``.pages`` / ``.dead_letter`` like a ParDo's tagged outputs."""

    def __init__(self, pages, dead_letter):
        super().__init__(pages=pages, dead_letter=dead_letter)
        self.pages = pages
        self.dead_letter = dead_letter
