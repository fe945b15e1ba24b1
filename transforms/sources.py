"""Sources as transforms: the host lists applied to feeds, requests and pages, and
folders of saved pages read as if fetched.

Pure part: :func:`host_refusal` (the sources file's allow/deny host lists),
:func:`list_html_files` and :func:`read_html_file`. Beam part:
:class:`FilterHosts`, :class:`ReadHtmlDir`. The sources file itself is
configuration, parsed when the job is built: ``pipeline/sources_file.py``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import io
import os
import pathlib
import urllib.parse
from typing import List, Optional, Sequence, Tuple, Union

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from core.dead_letters import DEAD_LETTER
from schemas import reasons
from schemas.records import DeadLetter, FetchedPage, PageRequest

HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
MAX_FILE_BYTES = 20 * 1024 * 1024

# --------------------------------------------------------------------------- host lists

def host_matches(host: str, entry: str) -> bool:
    return host == entry or host.endswith("." + entry)


def host_refusal(url: str, allow: Sequence[str], deny: Sequence[str]) -> Optional[str]:
    """Why ``url`` is refused by the host lists, or None if it may be read.
    ``file://`` URLs (operator-given local feeds) have no host and always pass."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return None
    host = (parts.hostname or "").lower().rstrip(".")
    for entry in deny:
        if host_matches(host, entry):
            return f"host {host} is on the deny list ({entry})"
    if allow and not any(host_matches(host, entry) for entry in allow):
        return f"host {host or '(none)'} is not on the allow list"
    return None


def _url_of(element) -> str:
    if isinstance(element, FetchedPage):
        return element.final_url
    return element.url


class _FilterHostsFn(beam.DoFn):
    def __init__(self, allow: Tuple[str, ...], deny: Tuple[str, ...]):
        self._allow = allow
        self._deny = deny

    def process(self, element):
        url = _url_of(element)
        refusal = host_refusal(url, self._allow, self._deny)
        if refusal is None:
            yield element
            return
        Metrics.counter("dead_letters", f"sources.{reasons.HOST_NOT_ALLOWED}").inc()
        now = dt.datetime.now(dt.timezone.utc)
        yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
            url=url, stage=reasons.STAGE_SOURCES, reason=reasons.HOST_NOT_ALLOWED, detail=refusal, at=now))
        for alias in getattr(getattr(element, "request", element), "aliases", ()):
            yield pvalue.TaggedOutput(DEAD_LETTER, DeadLetter(
                url=alias, stage=reasons.STAGE_SOURCES, reason=reasons.HOST_NOT_ALLOWED,
                detail=f"variant of {url}: {refusal}", at=now))


class FilterHosts(beam.PTransform):
    """Feeds, page requests or fetched pages whose host the sources file's
    allow/deny lists refuse -> ``dead_letter`` (reason ``host_not_allowed``)."""

    def __init__(self, allow: Sequence[str], deny: Sequence[str], label: Optional[str] = None):
        super().__init__(label)
        self._allow = tuple(allow)
        self._deny = tuple(deny)

    def expand(self, elements):
        return elements | "CheckHost" >> beam.ParDo(
            _FilterHostsFn(self._allow, self._deny)).with_outputs(DEAD_LETTER, main="allowed")


# --------------------------------------------------------------------------- saved pages

def list_html_files(root: str) -> List[str]:
    """All saved pages under ``root`` (recursively), sorted for determinism."""
    if "://" in root and not root.startswith("file://"):
        pattern = root.rstrip("/") + "/**"
        found = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    else:
        local = urllib.parse.urlsplit(root).path if root.startswith("file://") else root
        found = []
        seen = set()  # symlinked folders are followed, each real folder once (no loops)
        for dirpath, dirs, files in os.walk(local, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                dirs[:] = []
                continue
            seen.add(real)
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


def defer_content(page: FetchedPage, path: str) -> FetchedPage:
    """``page`` without its bytes, to be read again from ``path`` by :func:`load_content`.

    Why: on the PortableRunner (``--job_endpoint=embed``, LOOPBACK; Beam 2.77) the saved
    pages' bytes crossing the stage boundary into extraction (hundreds of MB sent through
    the runner in 10 MiB data messages) intermittently lost whole messages: 82 and 107
    consecutive pages of 3,876 were never extracted, nothing failed (docs/quality.md).
    Deferred, only the path and metadata cross; the bytes are read where they are used."""
    return dataclasses.replace(page, content=b"", content_path=path)


def load_content(page: FetchedPage) -> Union[FetchedPage, DeadLetter]:
    """The page with its bytes read again (pages that were not deferred pass through);
    a file gone or broken since it was listed becomes the dead letter reading it gives."""
    if page.content_path is None:
        return page
    if page.content_offset is not None:
        return _load_warc_record(page)
    loaded = read_html_file(page.content_path)
    if isinstance(loaded, DeadLetter):
        return loaded
    return dataclasses.replace(page, content=loaded.content, content_path=None)


def _load_warc_record(page: FetchedPage) -> Union[FetchedPage, DeadLetter]:
    """A WARC page's bytes from its record, read again at its offset; a record that is no
    longer there (the file changed since it was read) is a dead letter under the page's URL."""
    from transforms import warc
    where = f"record at byte {page.content_offset} of {page.content_path}"
    try:
        loaded = warc.read_record_at(page.content_path, page.content_offset)
    except Exception as exc:  # a file gone, shortened, or no record there any more
        loaded, problem = None, f"{type(exc).__name__}: {exc}"[:300]
    else:
        problem = "the record there is another one"
    if isinstance(loaded, FetchedPage) and (loaded.final_url, loaded.fetched_at) == (page.final_url, page.fetched_at):
        return dataclasses.replace(page, content=loaded.content, content_path=None, content_offset=None)
    if isinstance(loaded, DeadLetter) and loaded.url == page.final_url:
        problem = f"{loaded.reason}: {loaded.detail}"
    return DeadLetter(url=page.request.url, stage=reasons.STAGE_SOURCES, reason=reasons.FILE_ERROR,
                      detail=f"WARC file changed since it was read: {where}: {problem}"[:500],
                      at=dt.datetime.now(dt.timezone.utc))


class _ReadHtmlFileFn(beam.DoFn):
    def process(self, path: str):
        result = read_html_file(path)  # read once here too: unreadable files fail at this step
        if isinstance(result, DeadLetter):
            Metrics.counter("dead_letters", f"sources.{result.reason}").inc()
            yield pvalue.TaggedOutput(DEAD_LETTER, result)
        else:
            Metrics.counter("sources", "html_files").inc()
            yield defer_content(result, path)


class ReadHtmlDir(beam.PTransform):
    """A folder of saved pages -> FetchedPage, with a ``dead_letter`` output.

    The pages come without their bytes (``content_path`` set): extraction reads them
    (:func:`load_content`), so they never travel between stages (:func:`defer_content`).

    ``files``: read these paths (listed once by the CLI, a chunk's share of the
    folder: ``pipeline/chunks.py``) instead of listing ``root`` in the job."""

    def __init__(self, root: str, label: Optional[str] = None, files: Optional[Sequence[str]] = None):
        super().__init__(label)
        self._root = root
        self._files = sorted(files) if files else None

    def expand(self, pbegin):
        if self._files is not None:
            paths = pbegin | "ListFiles" >> beam.Create(self._files)
        else:
            paths = (pbegin
                     | "ListFiles" >> beam.Create([self._root])
                     | "ExpandDir" >> beam.FlatMap(list_html_files))
        return (paths
                | "Reshuffle" >> beam.Reshuffle()
                | "ReadFiles" >> beam.ParDo(_ReadHtmlFileFn()).with_outputs(DEAD_LETTER, main="pages"))
