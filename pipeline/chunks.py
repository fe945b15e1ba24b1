"""Bounded batch runs: a big input fed to the local runner in chunks.

Beam's FnApiRunner (in-process and ``multi_processing``) holds every stage
boundary's whole input in memory, so a run's peak memory grows with its input
(docs/performance.md "Memory flat in input size"). The CLI therefore splits a
local batch run into consecutive *chunks* of at most ``--chunk-pages`` pages,
each one normal Beam run into the same output under the one output lock; a
later chunk dedups against the earlier ones through ``_state`` exactly as a
rerun does. This module plans the chunks (pure, deterministic) and merges
their manifests into the one run report.

Units, in this order (the plan depends only on the input, never on the runner):

- feeds: their entries are only known once read, so each feed weighs
  :data:`pipeline.runner.PAGES_PER_FEED` pages; feeds come first, so the
  common case (a few feeds) is read in the first chunk;
- ``--url`` / sources pages, grouped by URL key (tracking-parameter variants
  of one URL stay in one chunk, where they are merged into one request);
- ``--html-dir`` files in sorted path order (a site's folder stays together
  as far as that order does);
- ``--warc`` files in sorted path order, each weighing its size / its bytes
  per page (sampled: ``transforms.warc.bytes_per_page``); a file heavier than a chunk is
  cut into record ranges of at most about a chunk's pages
  (:func:`core.warc.split_ranges`: at the first record start past each
  multiple of the chunk's bytes, found by scanning raw bytes near the cut, so
  planning reads a few KiB per cut, not the archive). Every record starts in
  exactly one range. A file with no record boundary to cut at (one gzip
  stream for all records, an ARC file) stays one unit, a chunk of its own.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from core.warc import WarcRange
from pipeline.config import DEFAULT_CHUNK_PAGES as _DEFAULT, ONE_JOB_PAGES as _ONE_JOB
from pipeline.sources_file import Sources

WarcFile = Union[str, Tuple[str, Optional[int]]]  # a path, or (path, size in bytes)

DEFAULT_CHUNK_PAGES = _DEFAULT  # measured: docs/performance.md "Memory flat in input size"
ONE_JOB_PAGES = _ONE_JOB  # with the default chunk size, one job up to this many pages


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One Beam run's share of the input."""
    index: int                      # 1-based
    sources: Sources                # feeds and pages (host lists of the whole input)
    html_files: Tuple[str, ...] = ()
    warc_files: Tuple[WarcRange, ...] = ()  # whole files (0, None) or record ranges of one
    weight: int = 0                 # estimated pages

    def run_id(self, run_id: str) -> str:
        """The id of this chunk's Beam run (its staging folder and manifest)."""
        return f"{run_id}-chunk{self.index:04d}"


@dataclasses.dataclass(frozen=True)
class _Unit:
    kind: str       # feed | pages | html | warc
    items: tuple
    weight: int


def warc_files(patterns: Sequence[str]) -> List[Tuple[str, Optional[int]]]:
    """(path, size) of the archive files behind ``--warc`` patterns (any filesystem), sorted."""
    from transforms import warc
    found: Dict[str, Optional[int]] = {}
    for pattern in patterns or ():
        found.update(warc.match_warc_files(pattern))
    return sorted(found.items())


def _warc_weight(path: str, size: Optional[int]) -> int:
    from pipeline.runner import REMOTE_WARC_PAGES
    from transforms import warc
    pages = warc.estimated_pages(path, size)
    return REMOTE_WARC_PAGES if pages is None else pages


def _units(sources: Sources, html_files: Sequence[str], warcs: Sequence[WarcFile]) -> List[_Unit]:
    from pipeline.runner import PAGES_PER_FEED
    from transforms import urls
    units = [_Unit("feed", (feed,), PAGES_PER_FEED) for feed in sources.feeds]
    by_key: Dict[str, list] = {}
    for page in sources.pages:
        by_key.setdefault(urls.url_key(page.url), []).append(page)
    units += [_Unit("pages", tuple(by_key[key]), len(by_key[key])) for key in sorted(by_key)]
    units += [_Unit("html", (path,), 1) for path in sorted(html_files)]
    sized = [(w, None) if isinstance(w, str) else tuple(w) for w in warcs]  # a bare path: its size looked up
    sized = [(path, size if size is not None or "://" in path else _file_size(path)) for path, size in sized]
    units += [_Unit("warc", ((path, size),), _warc_weight(path, size)) for path, size in sorted(sized)]
    return units


def _file_size(path: str) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _split_warc(unit: _Unit, chunk_pages: int) -> List[_Unit]:
    """A WARC file unit -> units of its record ranges, each about ``chunk_pages`` pages."""
    from transforms import warc
    ((path, size),) = unit.items
    if not chunk_pages or unit.weight <= chunk_pages or size is None:
        return [_Unit("warc", (WarcRange(path),), unit.weight)]
    per_page = warc.bytes_per_page(path, size)
    ranges = warc.split_file(path, size, chunk_pages * per_page)
    return [_Unit("warc", (r,), max(1, ((r.end if r.end is not None else size) - r.start) // per_page))
            for r in ranges]


def plan(sources: Sources, html_files: Sequence[str] = (), warcs: Sequence[WarcFile] = (),
         chunk_pages: int = DEFAULT_CHUNK_PAGES) -> List[Chunk]:
    """Consecutive chunks of at most ``chunk_pages`` estimated pages (a unit
    heavier than that is a chunk alone; a WARC file heavier than that is cut into
    record ranges first); ``chunk_pages`` 0: one chunk. ``warcs``: paths or
    (path, size) pairs (:func:`warc_files`).

    The fewest chunks that fit, of even size (1,200 pages at 1,000: two of 600, not
    1,000 + 200: a small last chunk would pay a full start-up and run on fewer workers)."""
    units = _units(sources, html_files, warcs)
    total = sum(unit.weight for unit in units)
    if chunk_pages and total > chunk_pages:
        chunk_pages = -(-total // -(-total // chunk_pages))  # ceil(total / number of chunks)
    units = [part for unit in units
             for part in (_split_warc(unit, chunk_pages) if unit.kind == "warc" else [unit])]
    groups: List[List[_Unit]] = [[]]
    weight = 0
    for unit in units:
        if chunk_pages and groups[-1] and weight + unit.weight > chunk_pages:
            groups.append([])
            weight = 0
        groups[-1].append(unit)
        weight += unit.weight
    return [_chunk(i, group, sources) for i, group in enumerate(groups, start=1)]


def _chunk(index: int, units: List[_Unit], whole: Sources) -> Chunk:
    def items(kind: str) -> tuple:
        return tuple(item for u in units if u.kind == kind for item in u.items)
    return Chunk(index=index,
                 sources=dataclasses.replace(whole, feeds=items("feed"), pages=items("pages")),
                 html_files=items("html"), warc_files=items("warc"),
                 weight=sum(u.weight for u in units))


# --------------------------------------------------------------------------- one report

def _add_counts(into: Dict[str, Any], part: Dict[str, Any]) -> None:
    for key, value in part.items():
        if isinstance(value, dict):
            _add_counts(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value


def merge_manifests(manifests: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """The chunks' manifests (``transforms.sink.merge_manifest`` each) -> the
    run's: files, rows, partitions, counts and the accounting summed (every
    input is in exactly one chunk, so the accounting adds up), failed URLs
    merged in the same order and cap as within one run."""
    from transforms import accounting, sink
    merged: Dict[str, Any] = {"files": 0, "tables": {}, "partitions": {}, "counts": {},
                              "skipped_already_written": 0}
    parts, failed = [], []
    for manifest in manifests:
        merged["files"] += manifest.get("files", 0)
        merged["skipped_already_written"] += manifest.get("skipped_already_written", 0)
        for key in ("tables", "partitions", "counts", "already_present"):
            if key in manifest:
                _add_counts(merged.setdefault(key, {}), manifest[key])
        if manifest.get("accounting"):
            parts.append(dict(manifest["accounting"]))
        failed += [tuple(row) for row in manifest.get("failed_urls", [])]
    if parts:
        total = accounting.merge(dict(accounting.empty(), **p) for p in parts)
        merged["accounting"] = {k: v for k, v in total.items() if k != "table"}
    if failed:
        merged["failed_urls"] = [list(row) for row in sorted(failed)[:sink.FAILED_URLS_KEPT]]
    return merged


def runner_label(labels: Sequence[str]) -> str:
    """What the summary says the chunks ran on: ``X`` when all chunks used the same,
    else ``chunks 1-4: X; chunk 5: Y`` (the worker count is chosen per chunk)."""
    if len(set(labels)) <= 1:
        return labels[0] if labels else "?"
    parts, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            span = f"chunk {start + 1}" if i - start == 1 else f"chunks {start + 1}-{i}"
            parts.append(f"{span}: {labels[start]}")
            start = i
    return "; ".join(parts)


def remove_chunk_manifests(output: str, chunk_run_ids: Sequence[str]) -> None:
    """The chunks' own manifests (``Chunk.run_id``), once merged into the run's report."""
    from apache_beam.io.filesystems import FileSystems
    from pipeline import report
    found = [p for p in (report.paths(output, chunk_run_id)["json"] for chunk_run_id in chunk_run_ids)
             if FileSystems.exists(p)]
    if found:
        FileSystems.delete(found)
