"""Third-party warnings counted by kind instead of printed one by one.

Why: on real pages trafilatura, htmldate, courlan, spaCy and Beam log a warning
per odd page ("empty link: {…}", "readability_lxml failed: …") — 1,727 lines on
4,015 pages — which buries the run's summary. Each record from those loggers
(and Python ``warnings``) is counted under its *kind*: the logger's top-level
name and the message with numbers, URLs, quoted values and dict/list literals
stripped. The run ends with one line per kind and its count (summary and run
report, ``figures.warnings``); each occurrence is printed only at
``--log-level debug``.

Counts live in a process-wide tally. Worker processes (``multi_processing``
runners) and the extraction sandbox's parents write theirs to
``$NEWSBEAM_WARNINGS_DIR/<pid>.json`` (set by the CLI for the run); the CLI
sums the files. The extraction child counts its own records and sends the
counts back with each result (``transforms/sandbox.py``).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from typing import Dict, Iterable, Iterator, List, Mapping, Optional

ENV_DIR = "NEWSBEAM_WARNINGS_DIR"
ENV_SHOW = "NEWSBEAM_WARNINGS_SHOW"  # "1": print each occurrence too (--log-level debug)
THIRD_PARTY = ("trafilatura", "htmldate", "courlan", "justext", "readability", "lxml", "spacy",
               "thinc", "apache_beam", "urllib3", "charset_normalizer", "feedparser", "py.warnings")
MAX_KIND_CHARS = 120

_SUBSTITUTIONS = (
    (re.compile(r"\{.*\}", re.S), "{…}"),
    (re.compile(r"\[.*\]", re.S), "[…]"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>{}\[\]()]+", re.I), "<url>"),
    (re.compile(r"(?:/[\w.@~+-]+){2,}/?"), "<path>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
    (re.compile(r"<[^<>]*\bat 0x[0-9a-f]+>", re.I), "<object>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b", re.I), "<hex>"),
    (re.compile(r"\d+(?:[.,:]\d+)*"), "N"),
    (re.compile(r"\s+"), " "),
)
_EXTRACTION_SUFFIX = " (extraction worker)"

_lock = threading.Lock()
_tally: Dict[str, int] = {}
_installed: Dict[str, logging.Handler] = {}


def is_third_party(logger_name: str) -> bool:
    top = logger_name.split(".", 1)[0]
    return logger_name == "py.warnings" or top in THIRD_PARTY


def kind_of(logger_name: str, message: str) -> str:
    """``"trafilatura: empty link: {…}"``: what stays the same between occurrences
    (pass the record's format string when it has arguments: see :func:`record_kind`)."""
    text = (message or "").strip()
    if text.endswith(_EXTRACTION_SUFFIX):
        text = text[:-len(_EXTRACTION_SUFFIX)]
    text = text.splitlines()[0] if text else ""
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    top = {"py.warnings": "warnings", "__main__": "apache_beam"}.get(logger_name, logger_name.split(".", 1)[0])
    kind = f"{top}: {text.strip()}"
    return kind if len(kind) <= MAX_KIND_CHARS else kind[:MAX_KIND_CHARS - 1] + "…"


def record_kind(record: logging.LogRecord) -> str:
    """A record's kind from its format string when it has arguments ("empty link:
    %s %s" is one kind whatever the link), else from its message."""
    literal = re.sub(r"%[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]", " ", record.msg) if isinstance(record.msg, str) else ""
    if record.args and isinstance(record.args, tuple) and len(literal.split()) >= 2:
        # Arguments vary (a link, a URL, a date); an exception's message names the kind of failure.
        shown = tuple(f"{type(a).__name__}: {a}" if isinstance(a, BaseException) else "…" for a in record.args)
        try:
            return kind_of(record.name, re.sub(r"%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGr]", "%s", record.msg) % shown)
        except (TypeError, ValueError):
            pass
    return kind_of(record.name, record.getMessage())


# --------------------------------------------------------------------------- the tally

def add_counts(counts: Mapping[str, int]) -> None:
    """Add counts by kind (from this process or an extraction child)."""
    if not counts:
        return
    with _lock:
        for kind, n in counts.items():
            _tally[kind] = _tally.get(kind, 0) + int(n)
        snapshot = dict(_tally)
    _flush(snapshot)


def snapshot() -> Dict[str, int]:
    with _lock:
        return dict(_tally)


def reset() -> None:
    with _lock:
        _tally.clear()


def _flush(snapshot_: Dict[str, int]) -> None:
    directory = os.environ.get(ENV_DIR)
    if not directory:
        return
    write_snapshot(directory, snapshot_)


def write_snapshot(directory: str, snapshot_: Dict[str, int]) -> None:
    """This process's counts as ``<pid>.json`` in ``directory``, replaced atomically so a
    reader summing the folder never sees half a file. Best effort: never fails the job."""
    try:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{os.getpid()}.json")
        temp = f"{path}.{threading.get_ident()}.tmp"
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(snapshot_, handle)
        os.replace(temp, path)
    except OSError:
        pass


def read_dir(directory: Optional[str]) -> Dict[str, int]:
    """Sum the per-process tallies a run's processes left in ``directory`` (warning counts,
    progress counters: both written by :func:`write_snapshot`). A file being replaced
    right now is skipped: the next read has it."""
    total: Dict[str, int] = {}
    if not directory or not os.path.isdir(directory):
        return total
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                counts = json.load(handle)
        except (OSError, ValueError):
            continue
        for kind, n in counts.items():
            if isinstance(n, int):
                total[kind] = total.get(kind, 0) + n
    return total


def flush() -> None:
    """Write this process's tally now (the CLI, before it sums the files)."""
    _flush(snapshot())


@contextlib.contextmanager
def counting(directory: str) -> Iterator[Dict[str, int]]:
    """For one run: worker processes started inside (they inherit the
    environment) leave their counts in ``directory``; on exit the yielded dict
    holds the run's totals by kind."""
    os.makedirs(directory, exist_ok=True)
    previous = os.environ.get(ENV_DIR)
    os.environ[ENV_DIR] = directory
    reset()
    totals: Dict[str, int] = {}
    try:
        yield totals
    finally:
        flush()
        totals.update(read_dir(directory))
        if previous is None:
            os.environ.pop(ENV_DIR, None)
        else:
            os.environ[ENV_DIR] = previous


def rows(counts: Mapping[str, int]) -> List[Dict[str, object]]:
    """``[{"kind", "count"}]``, most frequent first (the report's ``figures.warnings``)."""
    return [{"kind": k, "count": n} for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


# --------------------------------------------------------------------------- logging

class CountingHandler(logging.Handler):
    """Counts WARNING+ records by kind; prints nothing."""

    def __init__(self):
        super().__init__(level=logging.WARNING)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR and not show_each():
            logging.getLogger().handle(record)  # errors stay visible, one by one
            return
        try:
            add_counts({record_kind(record): 1})
        except Exception:  # a record that cannot be formatted: still one warning
            add_counts({kind_of(record.name, str(record.msg)): 1})


def show_each() -> bool:
    return os.environ.get(ENV_SHOW) == "1"


def install(show: Optional[bool] = None, loggers: Iterable[str] = THIRD_PARTY) -> None:
    """Count the third-party loggers' warnings in this process (idempotent).
    ``show``: also let each record through to the normal handlers (debug)."""
    show = show_each() if show is None else show
    logging.captureWarnings(True)  # warnings.warn (spaCy's W0xx) -> logger "py.warnings"
    for name in loggers:
        logger = logging.getLogger(name)
        handler = _installed.get(name)
        if handler is None:
            handler = _installed[name] = CountingHandler()
            logger.addHandler(handler)
        logger.propagate = show


# --------------------------------------------------------------------------- worker processes' stderr

# Beam's multi_processing workers are separate programs writing their own start-up
# log (basicConfig format, "INFO:apache_beam...:Control channel established.") to
# the stderr they inherit: ~15 lines per worker before any of our code runs there.
_WORKER_LINE = re.compile(r"^(DEBUG|INFO|WARNING):([\w.]+):(.*)$")


def _filter_worker_lines(read_fd: int, write_fd: int) -> None:
    """Copy lines from ``read_fd`` to ``write_fd``, except worker log lines: WARNING
    ones are counted by kind, INFO/DEBUG ones dropped (as in-process, where Beam's
    loggers are held at WARNING). Anything else (our own records, tracebacks,
    ERROR lines) passes unchanged."""
    with os.fdopen(read_fd, "rb", buffering=0) as source:
        pending = b""
        while True:
            chunk = source.read(65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = []
            for raw in lines:
                match = _WORKER_LINE.match(raw.decode("utf-8", "replace"))
                if match is None:
                    out.append(raw + b"\n")
                elif match.group(1) == "WARNING" and "apitools not found" not in match.group(3):
                    add_counts({kind_of(match.group(2), match.group(3)): 1})
            if out:
                os.write(write_fd, b"".join(out))
        if pending:
            os.write(write_fd, pending)


@contextlib.contextmanager
def quiet_worker_stderr(enabled: bool) -> Iterator[None]:
    """While the job runs, stderr (file descriptor 2, which worker processes
    inherit) goes through :func:`_filter_worker_lines`."""
    if not enabled:
        yield
        return
    import sys
    sys.stderr.flush()
    saved = os.dup(2)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_filter_worker_lines, args=(read_fd, saved), daemon=True,
                              name="newsbeam-worker-stderr")
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # our end closed: EOF once the workers (which hold a copy) are gone
        thread.join(timeout=5)
        if not thread.is_alive():
            os.close(saved)
