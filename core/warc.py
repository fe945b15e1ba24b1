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

import dataclasses
import datetime as dt
import logging
import os
import urllib.parse
import zlib
from typing import BinaryIO, Callable, Iterator, List, Optional, Tuple, Union

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

GZIP_MEMBER = b"\x1f\x8b\x08"  # a gzip member's magic and deflate method: where a .warc.gz record may start
PLAIN_RECORD = b"\r\n\r\nWARC/1."  # the blank lines closing a record, then the next one's version line
SCAN_BLOCK = 256 * 1024
SPLIT_SUFFIXES = (".warc", ".warc.gz")  # ARC files are read whole
BYTES_PER_PAGE = 20_000  # a gzipped HTML response record: the guess before a file is sampled

LOG = logging.getLogger(__name__)
Result = Union[FetchedPage, DeadLetter]
Opener = Callable[[str], BinaryIO]


@dataclasses.dataclass(frozen=True, order=True)
class WarcRange:
    """The records of one archive that start at byte ``start`` or later and before ``end``
    (None: the end of the file); ``start`` is a record's first byte."""
    path: str
    start: int = 0
    end: Optional[int] = None

    def __str__(self) -> str:
        return self.path if (self.start, self.end) == (0, None) else f"{self.path}[{self.start}:{self.end or ''}]"


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


def _file_error(path: str, detail: str, offset: Optional[int] = None) -> DeadLetter:
    """A file-level dead letter: the file's path, or ``path#offset=N`` for damage at byte N
    (each damaged span of one archive is its own input, wherever the archive was cut)."""
    url = path if not offset else f"{path}#offset={offset}"
    return dead_letter(url, reasons.STAGE_SOURCES, reasons.FILE_ERROR, detail)


def read_warc(path: str, max_bytes: int = MAX_RECORD_BYTES, counter_inc_fn: Optional[CounterInc] = None,
              opener: Opener = open_local, size_of: Callable[[str], Optional[int]] = local_size
              ) -> Iterator[Result]:
    """Pages (with their bytes) and dead letters of one whole archive, streamed."""
    for _offset, result in read_range(WarcRange(path), max_bytes, counter_inc_fn, opener, size_of):
        yield result


def read_range(rng: WarcRange, max_bytes: int = MAX_RECORD_BYTES, counter_inc_fn: Optional[CounterInc] = None,
               opener: Opener = open_local, size_of: Callable[[str], Optional[int]] = local_size
               ) -> Iterator[Tuple[Optional[int], Result]]:
    """(record offset, page or dead letter) for each record starting in ``rng``.

    Damage part-way (a corrupt gzip member, a garbled header) is one dead letter for the
    unreadable span, and reading resumes at the next record start (:func:`next_record_start`),
    so every readable record is read whichever way the archive was cut. A file that is one
    gzip stream for all its records is read through a gunzip stream instead (offsets None:
    its records cannot be re-read by offset)."""
    inc = or_none(counter_inc_fn)
    path = rng.path
    try:
        with opener(path) as handle:
            head = handle.read(SNIFF_BYTES)
        handle = opener(path)
    except Exception as exc:
        yield None, _file_error(path, f"cannot open: {exc}", rng.start)
        return
    problem = _not_an_archive(head) if rng.start == 0 else None
    if problem:  # warcio would parse some text files as ARC records: check first
        handle.close()
        yield None, _file_error(path, problem)
        return
    with handle:
        yield from _read_records(handle, rng, head[:2] == b"\x1f\x8b", max_bytes, inc, size_of)


def _read_records(handle: BinaryIO, rng: WarcRange, gz: bool, max_bytes: int, inc,
                  size_of: Callable[[str], Optional[int]]) -> Iterator[Tuple[Optional[int], Result]]:
    """:func:`read_range`'s loop: one ArchiveIterator per readable stretch of the range."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    path, position, records = rng.path, rng.start, 0
    limit = rng.end if rng.end is not None else size_of(rng.path)
    while True:
        handle.seek(position)
        iterator = ArchiveIterator(handle, arc2warc=True)
        last_end, error = None, None
        try:
            for record in iterator:
                offset = iterator.offset  # where this record starts (warcio: set before it is yielded)
                if gz and iterator.reader.decompressor is None:
                    # warcio reads a stream whose first member does not inflate as plain bytes
                    # (and, with arc2warc, can make an ARC record of them): damage, not a record
                    raise zlib.error(f"the gzip member at byte {offset} does not inflate")
                if rng.end is not None and offset >= rng.end:
                    return  # the next range's first record
                records += 1
                result = _counted(record_to_page(record, path, max_bytes), record, inc)
                if result is not None:
                    yield offset, result
                last_end = iterator.get_record_offset() + iterator.get_record_length()
        except ArchiveLoadFailed as exc:
            if "non-chunked gzip" in str(exc) and rng.start == 0 and records == 1:
                LOG.info("%s is one gzip stream, not one member per record: read whole, in one unit", path)
                inc("single_gzip_stream")
                yield from _read_gunzipped(handle, path, max_bytes, inc, skip=1)
                return
            error = exc
        except Exception as exc:  # EOFError, zlib.error ...
            error = exc
        damaged = iterator.offset if error is not None else last_end
        if damaged is None and error is None:  # nothing at all from here
            damaged = position
        if error is None and (limit is None or limit - damaged <= TRAILER_SLACK):
            break
        resume = next_record_start(handle, damaged + 1, gz, limit)
        yield None, _damage_letter(path, damaged, resume, records, error)
        if resume is None:
            return
        position = resume
    if records == 0 and rng.start == 0:
        yield None, _file_error(path, "no WARC records in this file")


def _counted(result: Optional[Result], record, inc) -> Optional[Result]:
    if result is None:
        inc(f"records_skipped_{record.rec_type}")
    else:
        inc("pages" if isinstance(result, FetchedPage) else "dead_letters")
    return result


def _damage_letter(path: str, damaged: int, resume: Optional[int], records: int,
                   error: Optional[Exception]) -> DeadLetter:
    if error is not None:
        text = str(error).strip()
        cause = text.splitlines()[0][:200] if text else type(error).__name__
    else:
        cause = "truncated or corrupt"
    span = f"bytes {damaged}-{resume}" if resume is not None else f"bytes from {damaged} to the end"
    return _file_error(path, f"archive unreadable after {records} records ({cause}): {span} could not be read"
                       + ("; truncated" if resume is None else "; reading resumed at the next record"), damaged)


def _read_gunzipped(handle: BinaryIO, path: str, max_bytes: int, inc, skip: int
                    ) -> Iterator[Tuple[Optional[int], Result]]:
    """A whole-file gzip stream read as an uncompressed WARC (the first ``skip`` records were read)."""
    import gzip
    from warcio.archiveiterator import ArchiveIterator
    handle.seek(0)
    try:
        for number, record in enumerate(ArchiveIterator(gzip.GzipFile(fileobj=handle), arc2warc=True)):
            result = _counted(record_to_page(record, path, max_bytes), record, inc) if number >= skip else None
            if result is not None:
                yield None, result
    except Exception as exc:
        yield None, _file_error(path, f"archive unreadable part-way (one gzip stream): {exc}"[:300])


# --------------------------------------------------------------------------- cutting into ranges

def split_ranges(path: str, range_bytes: int, size: Optional[int], opener: Opener = open_local) -> List[WarcRange]:
    """``path`` cut into ranges of about ``range_bytes`` bytes, each cut at the first record
    start (:func:`next_record_start`) at or after a multiple of ``range_bytes`` past the
    previous cut. Depends on the file's bytes only. Reads a few KiB around each cut (no
    decompression but of one record's head); a file where no cut is found (one gzip stream,
    an ARC file, a small file) is one range."""
    whole = [WarcRange(path)]
    if not size or size <= range_bytes or not path.lower().endswith(SPLIT_SUFFIXES):
        return whole
    try:
        with opener(path) as handle:
            gz = handle.read(2) == b"\x1f\x8b"
            cuts: List[int] = []
            while (cuts[-1] if cuts else 0) + range_bytes < size:
                cut = next_record_start(handle, (cuts[-1] if cuts else 0) + range_bytes, gz, size)
                if cut is None:
                    break
                cuts.append(cut)
    except OSError as exc:
        LOG.info("%s: not cut into ranges (%s)", path, exc)
        return whole
    if not cuts:
        LOG.info("%s: no record boundary found past its first %d bytes (one gzip stream?): read as one unit",
                 path, range_bytes)
    bounds: List[Optional[int]] = [0, *cuts, None]
    return [WarcRange(path, start, end) for start, end in zip(bounds, bounds[1:])]


def next_record_start(handle: BinaryIO, offset: int, gz: bool, limit: Optional[int] = None) -> Optional[int]:
    """The first byte at or after ``offset`` (and before ``limit``) where a WARC record
    starts, or None. ``.warc.gz``: a gzip member whose data begins ``WARC/1.`` and parses as
    a header; plain ``.warc``: a version line after a record's closing blank lines whose
    ``Content-Length`` leads to the next record (or the end). Scans raw bytes only."""
    marker = GZIP_MEMBER if gz else PLAIN_RECORD
    skip = 0 if gz else 4  # a plain record starts after the CRLF CRLF of the marker
    position = max(0, offset - skip)
    while limit is None or position < limit:
        handle.seek(position)
        block = handle.read(SCAN_BLOCK)
        if not block:
            return None
        found = block.find(marker)
        while found >= 0:
            candidate = position + found + skip
            if candidate >= offset and (limit is None or candidate < limit) and _record_at(handle, candidate, gz):
                return candidate
            found = block.find(marker, found + 1)
        if len(block) < SCAN_BLOCK:
            return None
        position += len(block) - len(marker) + 1
    return None


def _record_at(handle: BinaryIO, offset: int, gz: bool) -> bool:
    """Whether a WARC record header starts at ``offset`` (checked as :func:`next_record_start` says)."""
    handle.seek(offset)
    raw = handle.read(SNIFF_BYTES * 4)
    if gz:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, SNIFF_BYTES * 4)
        except zlib.error:
            return False
        return head.startswith(b"WARC/1.") and _content_length(head) is not None
    length = _content_length(raw) if raw.startswith(b"WARC/1.") else None
    if length is None:
        return False
    end = offset + raw.index(b"\r\n\r\n") + 4 + length
    handle.seek(end)
    after = handle.read(4 + 7)
    return after[:4] == b"\r\n\r\n" and (len(after) == 4 or after[4:].startswith(b"WARC/1."))


def _content_length(head: bytes) -> Optional[int]:
    header, sep, _body = head.partition(b"\r\n\r\n")
    if not sep:
        return None
    for line in header.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return None
    return None


def bytes_per_page(path: str, size: Optional[int], default: int, opener: Opener = open_local,
                   samples: int = 8, sample_bytes: int = 256 * 1024, min_pages: int = 20) -> int:
    """Bytes of archive per page record (``response``/``resource``), measured on ``samples``
    stretches of ``sample_bytes`` spread evenly over the file (their records decompressed
    once): archives differ 2-3x (with request and metadata records or not, heavy or light
    pages). ``default`` for small files, unsplittable ones, or too few pages in the samples."""
    if not size or size <= samples * sample_bytes or not path.lower().endswith(SPLIT_SUFFIXES):
        return default
    pages = consumed = 0
    try:
        with opener(path) as handle:
            gz = handle.read(2) == b"\x1f\x8b"
            for k in range(samples):
                start = next_record_start(handle, k * size // samples, gz, size)
                if start is not None:
                    found, read = _sample_pages(handle, start, sample_bytes)
                    pages, consumed = pages + found, consumed + read
    except Exception:  # damage in a sample: the default is as good a guess
        return default
    return max(1, consumed // pages) if pages >= min_pages else default


def _sample_pages(handle: BinaryIO, start: int, sample_bytes: int) -> Tuple[int, int]:
    """(page records, bytes) of the records from ``start`` until ``sample_bytes`` are passed."""
    from warcio.archiveiterator import ArchiveIterator
    handle.seek(start)
    iterator = ArchiveIterator(handle, arc2warc=True, no_record_parse=True)
    pages, end = 0, start
    for record in iterator:
        pages += record.rec_type in PAGE_RECORD_TYPES
        end = iterator.get_record_offset() + iterator.get_record_length()
        if end - start >= sample_bytes:
            break
    return pages, end - start


def read_record_at(path: str, offset: int, max_bytes: int = MAX_RECORD_BYTES,
                   opener: Opener = open_local) -> Optional[Result]:
    """The page (or dead letter) of the one record at ``offset`` of ``path``, read again."""
    from warcio.archiveiterator import ArchiveIterator
    with opener(path) as handle:
        handle.seek(offset)
        for record in ArchiveIterator(handle, arc2warc=True):
            return record_to_page(record, path, max_bytes)
    return None


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
