"""Web archive records -> pages: WARC / WARC.gz files (e.g. Common Crawl's CC-NEWS).

An archived HTTP response is a page that was already fetched, so it becomes a
:class:`FetchedPage` (like a saved ``--html-dir`` file) whose ``fetched_at`` is the
record's ``WARC-Date`` and whose ``declared_charset`` is what the archived
``Content-Type`` said (decoded later by the one policy of ``core.charset``).
Files are opened through a caller-given ``opener`` (``transforms.warc`` passes
Beam's ``FileSystems`` so ``gs://``/``s3://`` archives work); see
``transforms/warc.py`` for what becomes of each record type.
"""
from __future__ import annotations

import datetime as dt
import os
import urllib.parse
import zlib
from typing import BinaryIO, Callable, Iterator, Optional, Tuple, Union

from core import usage
from core.charset import header_charset
from core.counters import CounterInc, or_none
from core.dates import parse_datetime
from core.dead_letters import dead_letter
from core.http import HTML_TYPES, looks_like_html
from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest

MAX_RECORD_BYTES = 20 * 1024 * 1024  # as for saved pages
PAGE_RECORD_TYPES = ("response", "resource")
ORIGIN = "warc"
SNIFF_BYTES = 4096
TRAILER_SLACK = 4  # an uncompressed WARC ends with CRLF CRLF after the last record

Result = Union[FetchedPage, DeadLetter]
Opener = Callable[[str], BinaryIO]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def open_local(path: str) -> BinaryIO:
    return open(path[len("file://"):] if path.startswith("file://") else path, "rb")


def local_size(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path[len("file://"):] if path.startswith("file://") else path)
    except OSError:
        return None


def parse_warc_date(value: Optional[str]) -> Optional[dt.datetime]:
    """``WARC-Date`` (W3C-ISO8601, UTC, ``Z``; WARC/1.1 allows fractions)."""
    return parse_datetime(value)


def _is_html(content_type: str, content: bytes) -> bool:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in HTML_TYPES:
        return True
    return ctype in ("", "text/plain", "application/octet-stream", "unk") and looks_like_html(content)


def _status_and_type(record) -> Tuple[int, str]:
    """The archived HTTP status and Content-Type (a resource record: 200, the WARC header's type)."""
    if record.http_headers is not None and record.rec_type == "response":
        try:
            status = int(record.http_headers.get_statuscode() or 0)
        except ValueError:
            status = 0
        return status, record.http_headers.get_header("Content-Type") or ""
    return 200, record.rec_headers.get_header("Content-Type") or ""


def _status_problem(record, status: int) -> Optional[Tuple[str, str]]:
    if 300 <= status < 400:
        location = record.http_headers.get_header("Location") or "?"
        return reasons.ARCHIVED_REDIRECT, f"HTTP {status} to {location}"
    if status >= 500:
        return reasons.HTTP_5XX, f"HTTP {status}"
    if not 200 <= status < 300:
        return reasons.HTTP_4XX, f"HTTP {status}"
    return None


def _read_body(record, max_bytes: int) -> Union[bytes, Tuple[str, str, str]]:
    """The de-chunked, decoded body, or (reason, detail, stage) when it cannot be had whole."""
    try:
        content = record.content_stream().read(max_bytes + 1)
    except Exception as exc:  # zlib/brotli errors, truncated gzip members ...
        return reasons.FILE_ERROR, f"unreadable record body: {type(exc).__name__}: {exc}", reasons.STAGE_SOURCES
    if len(content) > max_bytes:
        return reasons.TOO_LARGE, f"record body exceeds {max_bytes} bytes", reasons.STAGE_FETCH
    try:
        record.raw_stream.read()  # whatever the decoder left; then nothing may be missing
    except Exception:
        pass
    missing = getattr(record.raw_stream, "limit", 0) or 0
    if missing > 0:  # the file ends inside this record (warcio returns the part it got)
        return (reasons.FILE_ERROR, f"record truncated: {missing} of its {record.length} bytes are missing",
                reasons.STAGE_SOURCES)
    return content


def record_to_page(record, source: str, max_bytes: int = MAX_RECORD_BYTES) -> Optional[Result]:
    """One warcio record -> a page, a dead letter, or None (not a page record)."""
    if record.rec_type not in PAGE_RECORD_TYPES:
        return None
    headers = record.rec_headers
    url = (headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
    now = _now()

    def dead(reason: str, detail: str, stage: str = reasons.STAGE_FETCH) -> DeadLetter:
        return dead_letter(url or source, stage, reason, f"{detail} (in {source})", at=now)

    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https") or not urllib.parse.urlsplit(url).hostname:
        return dead(reasons.BAD_URL, f"WARC-Target-URI {url!r} is not an http(s) URL", reasons.STAGE_SOURCES)
    fetched_at = parse_warc_date(headers.get_header("WARC-Date"))
    if fetched_at is None:
        return dead(reasons.FILE_ERROR, f"missing or invalid WARC-Date {headers.get_header('WARC-Date')!r}",
                    reasons.STAGE_SOURCES)
    status, content_type = _status_and_type(record)
    problem = _status_problem(record, status)
    if problem:
        return dead(*problem)
    content = _read_body(record, max_bytes)
    if isinstance(content, tuple):
        return dead(*content)
    if not _is_html(content_type, content):
        return dead(reasons.NOT_HTML, f"content-type {content_type.split(';')[0].strip() or 'missing'}")
    # Usage rights the archived HTTP headers carry (TDMRep, X-Robots-Tag); robots.txt and
    # tdmrep.json were not consulted: unknown (null), not allowed.
    http_headers = dict(record.http_headers.headers) if record.http_headers is not None else {}
    return FetchedPage(request=PageRequest(url=url, origin=ORIGIN), final_url=url, status=status, content=content,
                       content_type=content_type.split(";")[0].strip().lower() or "text/html",
                       fetched_at=fetched_at, declared_charset=header_charset(content_type),
                       usage=usage.from_fetch(http_headers, url=url, robots_allowed=None,
                                              ai_disallowed=None, tdmrep=None))


def _file_error(path: str, detail: str) -> DeadLetter:
    return dead_letter(path, reasons.STAGE_SOURCES, reasons.FILE_ERROR, detail)


def read_warc(path: str, max_bytes: int = MAX_RECORD_BYTES, counter_inc_fn: Optional[CounterInc] = None,
              opener: Opener = open_local, size_of: Callable[[str], Optional[int]] = local_size
              ) -> Iterator[Result]:
    """Pages and dead letters of one archive, streamed record by record. A file
    that is corrupt part-way yields what came before it, then one dead letter."""
    from warcio.archiveiterator import ArchiveIterator

    inc = or_none(counter_inc_fn)
    try:
        with opener(path) as handle:
            head = handle.read(SNIFF_BYTES)
        handle = opener(path)
    except Exception as exc:
        yield _file_error(path, f"cannot open: {exc}")
        return
    problem = _not_an_archive(head)
    if problem:  # warcio would parse some text files as ARC records: check first
        handle.close()
        yield _file_error(path, problem)
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
        yield _file_error(path, f"archive unreadable after {records} records: {detail}")
        return
    if records == 0:
        yield _file_error(path, "no WARC records in this file")
        return
    # warcio ends quietly at a truncated gzip member: compare with the file size.
    size = size_of(path)
    if size is not None and size - end > TRAILER_SLACK:
        yield _file_error(path, f"archive truncated or corrupt after {records} records: "
                                f"{size - end} trailing bytes could not be read")


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
