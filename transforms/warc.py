"""Web archives as input: WARC / WARC.gz files (e.g. Common Crawl's CC-NEWS).

An archived HTTP response is a page that was already fetched, so it joins the
pipeline as a :class:`FetchedPage` (like ``--html-dir``) and goes through the
same extract -> dedup -> entities -> topic -> Parquet path. ``fetched_at`` is
the record's ``WARC-Date``: the archive says when the page was seen, and
freshness, partition dates of undated pages and date plausibility depend on it.

Plain part in ``core/warc.py`` (:func:`record_to_page`, :func:`read_range`: records
of one byte range of a file, streamed with ``warcio``; :func:`split_ranges`: where
to cut a big archive); here files are listed and opened through ``FileSystems`` so
``gs://``/``s3://`` archives work with the Beam extras, and :class:`ReadWarc`
wraps it all. Pages cross into extraction as (file, record offset) references, and
extraction reads the record again (``transforms.sources.load_content``).

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

import dataclasses
import functools
import os
from typing import BinaryIO, Iterator, List, Optional, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core import warc as core_warc
from core.dead_letters import DEAD_LETTER
from core.warc import (MAX_RECORD_BYTES, ORIGIN, PAGE_RECORD_TYPES, Result, WarcRange,  # noqa: F401
                       parse_warc_date, record_to_page)
from schemas.records import DeadLetter, FetchedPage
from transforms.emit import beam_counter, dead_letter_outputs

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")
# Inside one job, an archive is read as ranges of about this many bytes (~1,000 pages at
# WARC_BYTES_PER_PAGE), so that Dataflow/Flink spread one big archive over workers.
RANGE_BYTES = 20 * 1024 * 1024
SizedPath = Tuple[str, Optional[int]]


def match_warc_files(pattern: str) -> List[SizedPath]:
    """(path, size in bytes or None) of the files named by ``pattern``: a file, a folder (its
    ``*.warc[.gz]``/``*.arc[.gz]`` files, recursively) or a glob, local or on any Beam
    filesystem. Sorted by path. The one expansion of ``--warc`` (page estimate, chunk plan, job)."""
    local = pattern[len("file://"):] if pattern.startswith("file://") else pattern
    if "://" not in local and os.path.isdir(local):
        found = [os.path.join(d, f) for d, _, files in os.walk(local) for f in files
                 if f.lower().endswith(WARC_SUFFIXES)]
        return [(path, _local_size(path)) for path in sorted(found)]
    if "://" not in local and os.path.isfile(local):
        return [(os.path.abspath(local), _local_size(local))]
    matched = _match(pattern)
    if not matched and "://" in local and not any(c in local for c in "*?["):  # a remote folder
        matched = [(path, size) for path, size in _match(local.rstrip("/") + "/**")
                   if path.lower().endswith(WARC_SUFFIXES)]
    return sorted(matched)


def _match(pattern: str) -> List[SizedPath]:
    try:
        results = FileSystems.match([pattern])
    except Exception:  # no match raises on some filesystems
        return []
    return [(m.path, m.size_in_bytes) for r in results for m in r.metadata_list
            if not os.path.basename(m.path).startswith(".")]


def list_warc_files(pattern: str) -> List[str]:
    """The paths of :func:`match_warc_files`."""
    return [path for path, _size in match_warc_files(pattern)]


def _local_size(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _open(path: str) -> BinaryIO:
    return FileSystems.open(path, compression_type="uncompressed")


def _size(path: str) -> Optional[int]:
    try:
        if "://" not in path:
            return os.path.getsize(path)
        return FileSystems.match([path])[0].metadata_list[0].size_in_bytes
    except Exception:
        return None


def read_warc(path: str, max_bytes: int = MAX_RECORD_BYTES, counter_inc_fn=None) -> Iterator[Result]:
    """:func:`core.warc.read_warc` on any Beam filesystem."""
    return core_warc.read_warc(path, max_bytes, counter_inc_fn, opener=_open, size_of=_size)


def split_file(path: str, size: Optional[int], range_bytes: int = RANGE_BYTES) -> List[WarcRange]:
    """:func:`core.warc.split_ranges` on any Beam filesystem."""
    return core_warc.split_ranges(path, range_bytes, size if size is not None else _size(path), opener=_open)


@functools.lru_cache(maxsize=256)
def bytes_per_page(path: str, size: Optional[int], sample: bool = True) -> int:
    """Archive bytes per page of ``path``: sampled (:func:`core.warc.bytes_per_page`; once per
    file and size: the worker choice and the chunk plan ask alike), or the default guess
    (``sample`` False, e.g. a remote file the CLI should not read)."""
    if not sample:
        return core_warc.BYTES_PER_PAGE
    return core_warc.bytes_per_page(path, size, core_warc.BYTES_PER_PAGE, opener=_open)


def estimated_pages(path: str, size: Optional[int], sample: bool = True) -> Optional[int]:
    """Pages in ``path`` by its size and :func:`bytes_per_page`; None when its size is unknown."""
    return None if size is None else max(1, size // bytes_per_page(path, size, sample))


def read_record_at(path: str, offset: int, max_bytes: int = MAX_RECORD_BYTES) -> Optional[Result]:
    """:func:`core.warc.read_record_at` on any Beam filesystem."""
    return core_warc.read_record_at(path, offset, max_bytes, opener=_open)


def defer_record(page: FetchedPage, path: str, offset: Optional[int]) -> FetchedPage:
    """``page`` without its bytes, which extraction reads again from the record at ``offset``
    (``transforms.sources.load_content``), as saved pages do (``sources.defer_content``).
    A record of a one-stream gzip file (no offset to seek to) keeps its bytes."""
    if offset is None:
        return page
    return dataclasses.replace(page, content=b"", content_path=path, content_offset=offset)


class _ReadRangeFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes

    def process(self, rng: WarcRange):
        for offset, result in core_warc.read_range(rng, self._max_bytes, beam_counter("warc"),
                                                   opener=_open, size_of=_size):
            if isinstance(result, DeadLetter):
                yield from dead_letter_outputs(result)
            else:
                yield defer_record(result, rng.path, offset)


class ReadWarc(beam.PTransform):
    """WARC files -> FetchedPage (without their bytes: ``content_path``/``content_offset``),
    with a ``dead_letter`` output.

    ``inputs``: patterns (paths, folders or globs), expanded and cut into ranges of about
    ``RANGE_BYTES`` in the job (so a remote runner reads one big archive on many workers),
    or :class:`WarcRange` s planned by the CLI (a chunk's share: ``pipeline/chunks.py``).
    Ranges are read in parallel and their pages reshuffled, so that one range is still
    extracted by every worker."""

    def __init__(self, inputs: Union[str, WarcRange, Sequence[Union[str, WarcRange]]],
                 max_bytes: int = MAX_RECORD_BYTES, label: Optional[str] = None, range_bytes: int = RANGE_BYTES):
        super().__init__(label)
        self._range_bytes = range_bytes
        inputs = [inputs] if isinstance(inputs, (str, WarcRange)) else list(inputs)
        self._patterns = [i for i in inputs if isinstance(i, str)]
        self._ranges = sorted(i for i in inputs if isinstance(i, WarcRange))
        self._max_bytes = max_bytes

    def expand(self, pbegin):
        ranges = []
        if self._patterns:
            ranges.append(pbegin
                          | "Patterns" >> beam.Create(self._patterns)
                          | "ListFiles" >> beam.FlatMap(match_warc_files)
                          | "ReshuffleFiles" >> beam.Reshuffle()
                          | "SplitFiles" >> beam.FlatMapTuple(split_file, range_bytes=self._range_bytes))
        if self._ranges:
            ranges.append(pbegin | "Ranges" >> beam.Create(self._ranges))
        read = (ranges | "AllRanges" >> beam.Flatten()
                | "ReshuffleRanges" >> beam.Reshuffle()
                | "ReadRecords" >> beam.ParDo(_ReadRangeFn(self._max_bytes)).with_outputs(
                    DEAD_LETTER, main="pages"))
        pages = read.pages | "ReshufflePages" >> beam.Reshuffle()
        return _Outputs(pages, read[DEAD_LETTER])


class _Outputs(dict):
    """``.pages`` / ``.dead_letter`` like a ParDo's tagged outputs."""

    def __init__(self, pages, dead_letter):
        super().__init__(pages=pages, dead_letter=dead_letter)
        self.pages = pages
        self.dead_letter = dead_letter
