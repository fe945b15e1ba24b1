"""Web archives as input: WARC / WARC.gz files (e.g. Common Crawl's CC-NEWS).

An archived HTTP response is a page that was already fetched, so it joins the
pipeline as a :class:`FetchedPage` (like ``--html-dir``) and goes through the
same extract -> dedup -> entities -> topic -> Parquet path. ``fetched_at`` is
the record's ``WARC-Date``: the archive says when the page was seen, and
freshness, partition dates of undated pages and date plausibility depend on it.

Plain part in ``core/warc.py`` (:func:`record_to_page`, :func:`read_warc`: records
of one file, streamed with ``warcio``); here files are listed and opened through
``FileSystems`` so ``gs://``/``s3://`` archives work with the Beam extras, and
:class:`ReadWarc` wraps it all.

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

import os
from typing import BinaryIO, Iterator, List, Optional, Sequence, Union

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from core import warc as core_warc
from core.dead_letters import DEAD_LETTER
from core.warc import (MAX_RECORD_BYTES, ORIGIN, PAGE_RECORD_TYPES, Result, parse_warc_date,  # noqa: F401
                       record_to_page)
from schemas.records import DeadLetter
from transforms.emit import beam_counter, dead_letter_outputs

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


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


class _ReadWarcFn(beam.DoFn):
    def __init__(self, max_bytes: int):
        self._max_bytes = max_bytes

    def process(self, path: str):
        for result in read_warc(path, self._max_bytes, counter_inc_fn=beam_counter("warc")):
            if isinstance(result, DeadLetter):
                yield from dead_letter_outputs(result)
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
