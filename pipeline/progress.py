"""What the operator sees while a job runs: logging set-up and a progress line.

Counting: :class:`Count` is a side branch hung on a PCollection (nothing
downstream changes). Each worker process adds up what passes in a process-wide
tally and, at most every :data:`FLUSH_SECONDS`, writes it to
``<progress dir>/<pid>.json`` (atomically). The CLI's :class:`ProgressReporter`
sums those files. Beam's own metrics can't be used for this: the local runners
only report them when the job is over (and not reliably). Files work for the
in-process runner in every ``--direct_running_mode``; remote runners have their own
monitoring, and get no progress line.

Display: on a terminal, one line redrawn in place at most every
``interval`` seconds (default 2); otherwise a plain log line every 10 s
(``newsbeam.progress`` logger, so ``--log-format json`` gives JSON with the
counts as fields). ``--quiet`` shows neither.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
import time
from typing import Callable, Dict, Iterable, Optional, TextIO, Tuple

from core import logtally

LOG = logging.getLogger("newsbeam.progress")
FLUSH_SECONDS = 0.5
TTY_INTERVAL = 2.0
LOG_INTERVAL = 10.0
NOISY_LOGGERS = ("apache_beam", "trafilatura", "htmldate", "urllib3", "courlan",
                 "charset_normalizer", "root")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

# --------------------------------------------------------------------------- counting (workers)

_lock = threading.Lock()
_tallies: Dict[str, Dict[str, int]] = {}  # progress dir -> counter -> n (one per run)
_seen: Dict[Tuple[str, str], set] = {}
_dirty: Dict[str, bool] = {}
_flushed: Dict[str, float] = {}


def _flush(directory: str, force: bool = False) -> None:
    now = time.monotonic()
    with _lock:
        if not _dirty.get(directory) or (not force and now - _flushed.get(directory, 0.0) < FLUSH_SECONDS):
            return
        snapshot = dict(_tallies.get(directory, {}))
        _dirty[directory] = False
        _flushed[directory] = now
    logtally.write_snapshot(directory, snapshot)  # best effort, atomic: the same files as warning counts


def bump(directory: Optional[str], name: str, n: int = 1, distinct: Optional[str] = None) -> None:
    """Add ``n`` to counter ``name`` (or count ``distinct`` values once each)."""
    key = directory or ""
    with _lock:
        if distinct is not None:
            seen = _seen.setdefault((key, name), set())
            if distinct in seen:
                return
            seen.add(distinct)
        tally = _tallies.setdefault(key, {})
        tally[name] = tally.get(name, 0) + n
        _dirty[key] = True
    if directory:
        _flush(directory)


def feed_entry_weights(entry) -> Iterable[tuple]:
    yield ("entries", 1, None)
    if getattr(entry, "feed_url", None):
        yield ("feeds_read", 1, entry.feed_url)


def written_rows(record) -> Iterable[tuple]:
    if isinstance(record, dict) and record.get("table") in ("articles", "duplicates", "dead_letters"):
        yield (f"written_{record['table']}", int(record.get("rows", 0)), None)


def attach(directory: str, *, entries=None, fetched=None, read=(), extracted=None, errors=None,
           written=()) -> None:
    """Hang the progress counters on the job's main PCollections (side branches)."""
    from pipeline.progress_count import Count
    if entries is not None:
        _ = entries | "ProgressFeedEntries" >> Count(directory, "entries", feed_entry_weights)
    if fetched is not None:
        _ = fetched | "ProgressFetched" >> Count(directory, "fetched")
    for i, pages in enumerate(read):
        _ = pages | f"ProgressRead{i or ''}" >> Count(directory, "read")
    if extracted is not None:
        _ = extracted | "ProgressExtracted" >> Count(directory, "extracted")
    if errors is not None:
        _ = errors | "ProgressErrors" >> Count(directory, "errors")
    for i, records in enumerate(written):
        _ = records | f"ProgressWritten{i or ''}" >> Count(directory, "written", written_rows)


def read_counts(directory: Optional[str]) -> Dict[str, int]:
    """Sum the per-process tallies in ``directory``."""
    return logtally.read_dir(directory)


# --------------------------------------------------------------------------- the line

def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60:02d}:{seconds % 60:02d}"


def format_line(counts: Dict[str, int], elapsed: float, feeds_total: int = 0) -> str:
    """``[00:12] feeds 3/3 · entries 31 · fetched 28 · read 0 · extracted 26 · written 20 ·
    errors 5 · 2.3 pages/s``: only the parts that apply."""
    parts = []
    if feeds_total:
        parts.append(f"feeds {counts.get('feeds_read', 0)}/{feeds_total}")
    if counts.get("entries"):
        parts.append(f"entries {counts['entries']}")
    parts.append(f"fetched {counts.get('fetched', 0)}")
    if counts.get("read"):
        parts.append(f"read {counts['read']}")
    parts.append(f"extracted {counts.get('extracted', 0)}")
    parts.append(f"written {counts.get('written_articles', 0)}")
    parts.append(f"errors {counts.get('errors', 0)}")
    pages = counts.get("fetched", 0) + counts.get("read", 0)
    rate = pages / elapsed if elapsed > 0 else 0.0
    parts.append(f"{rate:.1f} pages/s")
    return f"[{_clock(elapsed)}] " + " · ".join(parts)


class ProgressReporter:
    """Shows the progress line from a background thread while the job runs."""

    def __init__(self, directory: Optional[str], stream: Optional[TextIO] = None,
                 interval: Optional[float] = None, feeds_total: int = 0, enabled: bool = True,
                 tty: Optional[bool] = None):
        self.directory = directory
        self.stream = stream or sys.stderr
        self.tty = bool(tty if tty is not None else getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (TTY_INTERVAL if self.tty else LOG_INTERVAL)
        self.feeds_total = feeds_total
        self.enabled = enabled
        self.lines_shown = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._started = time.monotonic()
        self._drawn = False
        self._write_lock = threading.Lock()

    # a TTY line must be wiped before a log record is printed, and redrawn after
    def clear(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def _show(self, final: bool = False) -> None:
        counts = read_counts(self.directory)
        elapsed = time.monotonic() - self._started
        line = format_line(counts, elapsed, self.feeds_total)
        if self.tty:
            with self._write_lock:
                self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
                self.stream.flush()
                self._drawn = not final
        else:
            LOG.info("progress %s", line, extra={"progress": dict(counts, elapsed_seconds=round(elapsed, 1))})
        self.lines_shown += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._show()
            except Exception:  # never let the display kill the job
                LOG.debug("progress display failed", exc_info=True)

    def __enter__(self) -> "ProgressReporter":
        self._started = time.monotonic()
        if self.enabled:
            _ACTIVE.append(self)
            self._thread = threading.Thread(target=self._run, name="newsbeam-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, *_exc) -> None:
        if not self.enabled:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        if exc_type is None:
            self._show(final=True)
        elif self.tty:
            self.clear()


_ACTIVE: list = []


def wanted(quiet: bool, interval: Optional[float], in_process: bool) -> bool:
    """A progress line for in-process runs unless ``--quiet`` or an interval of 0.
    Remote runners (Dataflow, Flink ...) have their own job monitoring, and
    their workers cannot leave counts where the CLI can read them."""
    return in_process and not quiet and (interval is None or interval > 0)


# --------------------------------------------------------------------------- logging

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any
    ``extra=`` fields (the progress counts, for instance)."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class _ProgressAwareHandler(logging.StreamHandler):
    """Wipes an active TTY progress line before writing a record."""

    def emit(self, record: logging.LogRecord) -> None:
        for reporter in list(_ACTIVE):
            if reporter.tty and reporter.stream is self.stream:
                with reporter._write_lock:
                    reporter.clear()
                    super().emit(record)
                return
        super().emit(record)


def configure_logging(level: Optional[str] = None, fmt: str = "text", quiet: bool = False,
                      stream: Optional[TextIO] = None) -> None:
    """Root logging for a run. ``quiet`` means warnings and errors only; third-party
    libraries stay at WARNING unless ``level`` is DEBUG."""
    name = (level or ("WARNING" if quiet else "INFO")).upper()
    numeric = getattr(logging, name, logging.INFO)
    if quiet:
        numeric = max(numeric, logging.WARNING)
    handler = _ProgressAwareHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=numeric, handlers=[handler], force=True)  # importing Beam installs a root handler
    for noisy in NOISY_LOGGERS:
        if noisy != "root":
            logging.getLogger(noisy).setLevel(logging.DEBUG if numeric <= logging.DEBUG
                                              else max(numeric, logging.WARNING))
