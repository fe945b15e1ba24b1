"""Windowed Parquet for the streaming job: files that appear while it runs.

Why not a ``GroupByKey`` per window: on the local FnApiRunner every
``GroupByKey`` (and ``Reshuffle``) downstream of an unbounded source holds its
input until the source ends (measured on Beam 2.77), so no file would appear
mid-run; and event-time timers are cleared after every polling round there
(apache/beam#35168). So the writer is a stateful DoFn without timers: rows are
buffered in Beam state per (window, partition), keyed by ``<table>/<shard>``,
and a window is written when a *tick* (the poller's round marker, broadcast to
every shard) shows its end plus ``grace`` has passed. The final tick flushes
everything.

Windows are fixed, by the record's own time: ``fetched_at`` for articles,
``detected_at`` for duplicates, ``at`` for dead letters, ``written_at`` for
index entries. File names carry the window and the shard,
``part-w<start>-<size>s-s<shard>.parquet`` (``-<n>`` when split by
``max_rows``), so a retried flush of a window overwrites its file instead of
adding a copy; files are written under a hidden name and renamed
(:func:`transforms.sink.write_parquet_atomically`).

Late data (a row for a window already written, possible when a runner
reorders bundles by more than ``grace``): never dropped, written at once to
``part-w<start>-<size>s-s<shard>-late-<hash of its keys>.parquet`` beside the
window's file.

Each flush emits manifest records; :class:`ReportWindows` turns them into one
line per window (articles, duplicates, dead letters, freshness median/p95) and
``DIR/_reports/windows/<start>.json``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import arrow as arrow_schemas
from transforms import sink

LOG = logging.getLogger("newsbeam.windows")
INFINITY = float("inf")
TABLES = ("articles", "duplicates", "dead_letters", "index", "signatures")
_KEY_COLUMNS = sink._KEY_COLUMNS  # noqa: SLF001 -- the sink's row identity, shared on purpose
_CONVERT = {"articles": arrow_schemas.article_to_row, "duplicates": arrow_schemas.duplicate_to_row,
            "dead_letters": arrow_schemas.dead_letter_to_row, "index": arrow_schemas.index_to_row,
            "signatures": arrow_schemas.signature_to_row}
_TIME_FIELD = {"articles": "fetched_at", "duplicates": "detected_at", "dead_letters": "at",
               "index": "written_at", "signatures": "written_at"}


# --------------------------------------------------------------------------- pure part

def window_start(seconds: float, size: float) -> float:
    """Start (epoch seconds) of the fixed window of ``size`` s holding ``seconds``."""
    return math.floor(seconds / size) * size


def window_label(start: float) -> str:
    stamp = dt.datetime.fromtimestamp(start, dt.timezone.utc)
    text = stamp.strftime("%Y%m%dT%H%M%S")
    frac = round(start - math.floor(start), 3)
    return text + (f"{frac:.3f}"[1:] if frac else "") + "Z"


def window_file_name(start: float, size: float, shard: int, part: int = 0,
                     late_hash: Optional[str] = None) -> str:
    size_text = f"{size:g}s"
    name = f"part-w{window_label(start)}-{size_text}-s{shard:02d}"
    if part:
        name += f"-{part}"
    if late_hash:
        name += f"-late-{late_hash}"
    return name + ".parquet"


def record_time(table: str, record: Any) -> float:
    return getattr(record, _TIME_FIELD[table]).timestamp()


def shard_of(table: str, row: Dict[str, Any], shards: int) -> int:
    if shards <= 1:
        return 0
    key = "\x1f".join(str(row[c]) for c in _KEY_COLUMNS[table])
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) % shards


def unique_rows(table: str, rows: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Rows in key order, one per key (a re-sent row is written once)."""
    keys = _KEY_COLUMNS[table]
    out: Dict[Tuple[str, ...], Dict[str, Any]] = {}
    for row in rows:
        out.setdefault(tuple(str(row[k]) for k in keys), row)
    return [out[k] for k in sorted(out)]


def freshness_seconds(rows: Iterable[Dict[str, Any]]) -> List[float]:
    """fetched_at - published_at of article rows that have both (seconds)."""
    lags = []
    for row in rows:
        if row.get("published_at") is not None and row.get("fetched_at") is not None:
            lags.append(round((row["fetched_at"] - row["published_at"]).total_seconds(), 3))
    return lags


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Nearest-rank percentile (``q`` in 0..100); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def write_window(output: str, table: str, start: float, size: float, shard: int, partition: str,
                 rows: List[Dict[str, Any]], max_rows: int, late: bool = False) -> List[Dict[str, Any]]:
    """Write one window's rows of one partition; one manifest record per file."""
    rows = unique_rows(table, rows)
    schema = arrow_schemas.TABLE_SCHEMAS[table]
    records = []
    for part, first in enumerate(range(0, len(rows), max_rows)):
        chunk = rows[first:first + max_rows]
        late_hash = None
        if late:
            digest = hashlib.sha256()
            for row in chunk:
                digest.update("\x1f".join(str(row[c]) for c in _KEY_COLUMNS[table]).encode("utf-8") + b"\x1e")
            late_hash = digest.hexdigest()[:12]
        path = sink.join_path(output, sink.TABLE_DIRS[table], partition,
                              window_file_name(start, size, shard, part, late_hash))
        sink.write_parquet_atomically(path, arrow_schemas.to_table(chunk, schema))
        records.append({"kind": "file", "table": table, "window": start, "partition": partition,
                        "path": path, "rows": len(chunk), "late": late,
                        "freshness": freshness_seconds(chunk) if table == "articles" else []})
    return records


# --------------------------------------------------------------------------- Beam part

class _WindowWriterFn(beam.DoFn):
    """Key ``<table>/<shard>``; values ``("row", window, partition, row)`` or
    ``("tick", time, final)``. No timers: ticks drive the flushes."""

    BUFFER = beam.transforms.userstate.ReadModifyWriteStateSpec("buffer", beam.coders.PickleCoder())
    CLOSED = beam.transforms.userstate.ReadModifyWriteStateSpec("closed", beam.coders.PickleCoder())

    def __init__(self, output: str, table: str, size: float, grace: float, max_rows: int):
        self._output = output
        self._table = table
        self._size = size
        self._grace = grace
        self._max_rows = max_rows
        self.rows = Metrics.counter("window_sink", f"{table}_rows")
        self.late = Metrics.counter("window_sink", f"{table}_late_rows")

    def process(self, element, buffer=beam.DoFn.StateParam(BUFFER), closed=beam.DoFn.StateParam(CLOSED)):
        key, value = element
        shard = int(key.rsplit("/", 1)[1])
        closed_upto = closed.read()
        closed_upto = -INFINITY if closed_upto is None else closed_upto
        if value[0] == "row":
            _tag, start, partition, row = value
            if start + self._size <= closed_upto:  # its window is already written: late
                self.late.inc()
                yield from write_window(self._output, self._table, start, self._size, shard, partition,
                                        [row], self._max_rows, late=True)
                return
            held: Dict[float, Dict[str, List[Dict[str, Any]]]] = buffer.read() or {}
            held.setdefault(start, {}).setdefault(partition, []).append(row)
            buffer.write(held)
            return
        _tag, tick_time, final = value
        closed_upto = INFINITY if final else max(closed_upto, tick_time - self._grace)
        closed.write(closed_upto)
        held = buffer.read() or {}
        for start in sorted(s for s in held if s + self._size <= closed_upto):
            for partition in sorted(held[start]):
                rows = held[start][partition]
                self.rows.inc(len(rows))
                yield from write_window(self._output, self._table, start, self._size, shard, partition,
                                        rows, self._max_rows)
            del held[start]
        buffer.write(held)
        yield {"kind": "closed", "table": self._table, "shard": shard, "closed_upto": closed_upto,
               "tick": tick_time, "final": final}


class WriteWindowed(beam.PTransform):
    """``(records, ticks) | WriteWindowed(...)``: records of ``table`` -> windowed
    Parquet files; emits manifest records (``kind`` ``file`` per file written,
    ``closed`` per shard per tick) for :class:`ReportWindows`."""

    def __init__(self, output: str, table: str, window: float, grace: float = 0.0, shards: int = 1,
                 max_rows: int = sink.MAX_ROWS_PER_FILE, label: Optional[str] = None):
        super().__init__(label)
        if table not in _CONVERT:
            raise ValueError(f"unknown table {table!r}")
        if window <= 0:
            raise ValueError("window must be > 0 seconds")
        self._output, self._table, self._window = output, table, float(window)
        self._grace, self._shards, self._max_rows = max(0.0, grace), max(1, shards), max_rows

    def expand(self, pcolls):
        records, ticks = pcolls
        table, size, shards = self._table, self._window, self._shards
        convert = _CONVERT[table]

        def _row(record):
            row = convert(record)
            partition = sink.partition_of(table, record)
            return (f"{table}/{shard_of(table, row, shards)}",
                    ("row", window_start(record_time(table, record), size), partition, row))

        def _tick(tick):
            for shard in range(shards):
                yield f"{table}/{shard}", ("tick", tick.time, tick.final)

        keyed_rows = records | "KeyRows" >> beam.Map(_row).with_output_types(Tuple[str, Any])
        keyed_ticks = ticks | "TickPerShard" >> beam.FlatMap(_tick).with_output_types(Tuple[str, Any])
        return ((keyed_rows, keyed_ticks)
                | "RowsAndTicks" >> beam.Flatten()
                | "WriteWindows" >> beam.ParDo(_WindowWriterFn(self._output, table, size, self._grace,
                                                               self._max_rows)))


def window_summary(start: float, size: float, counts: Dict[str, int], freshness: List[float],
                   late: int = 0) -> Dict[str, Any]:
    return {"window_start": dt.datetime.fromtimestamp(start, dt.timezone.utc).isoformat(),
            "window_seconds": size, "articles": counts.get("articles", 0),
            "duplicates": counts.get("duplicates", 0), "dead_letters": counts.get("dead_letters", 0),
            "late_rows": late,
            "freshness_median_s": percentile(freshness, 50), "freshness_p95_s": percentile(freshness, 95),
            "freshness_n": len(freshness)}


def format_window_line(summary: Dict[str, Any]) -> str:
    def secs(value):
        return "n/a" if value is None else f"{value:.1f} s"
    stamp = summary["window_start"].replace("+00:00", "Z")
    line = (f"window {stamp} +{summary['window_seconds']:g}s: {summary['articles']} articles, "
            f"{summary['duplicates']} duplicates, {summary['dead_letters']} dead letters, "
            f"freshness median {secs(summary['freshness_median_s'])} p95 {secs(summary['freshness_p95_s'])}")
    if summary.get("late_rows"):
        line += f" ({summary['late_rows']} late rows)"
    return line


class _ReportWindowsFn(beam.DoFn):
    """One key: adds up the files per window; a window is reported once every
    (table, shard) writer has closed past its end."""

    STATE = beam.transforms.userstate.ReadModifyWriteStateSpec("report", beam.coders.PickleCoder())

    def __init__(self, output: str, size: float, writers: Sequence[Tuple[str, int]], counted: Sequence[str]):
        self._output = output
        self._size = size
        self._writers = [tuple(w) for w in writers]
        self._counted = tuple(counted)

    def process(self, element, state=beam.DoFn.StateParam(STATE)):
        _key, record = element
        data = state.read() or {"windows": {}, "closed": {}, "next": None}
        if record["kind"] == "file":
            if record["table"] not in self._counted:
                return
            win = data["windows"].setdefault(record["window"], {"counts": {}, "freshness": [], "late": 0})
            win["counts"][record["table"]] = win["counts"].get(record["table"], 0) + record["rows"]
            win["freshness"].extend(record["freshness"])
            if record["late"]:
                win["late"] += record["rows"]
                # Its window was reported already: report the late rows on their own.
                if data["next"] is not None and record["window"] < data["next"]:
                    summary = window_summary(record["window"], self._size, win["counts"], win["freshness"],
                                             win["late"])
                    del data["windows"][record["window"]]
                    state.write(data)
                    yield from self._emit(summary)
                    return
            state.write(data)
            return
        data["closed"][(record["table"], record["shard"])] = record["closed_upto"]
        if data["next"] is None and not record["final"]:
            data["next"] = window_start(record["tick"], self._size)
        complete = min(data["closed"].get(w, -INFINITY) for w in self._writers)
        size = self._size
        starts = {s for s in data["windows"] if s + size <= complete}
        if data["next"] is not None:  # empty windows get a line too, up to the last with data
            start = data["next"]
            limit = complete if complete != INFINITY else max(data["windows"], default=start - size) + size
            while start + size <= limit:
                starts.add(start)
                start += size
        if starts:
            data["next"] = max([data["next"] or -INFINITY, max(starts) + size])
        out = []
        for start in sorted(starts):
            win = data["windows"].pop(start, {"counts": {}, "freshness": [], "late": 0})
            out.append(window_summary(start, size, win["counts"], win["freshness"], win["late"]))
        state.write(data)
        for summary in out:
            yield from self._emit(summary)

    def _emit(self, summary: Dict[str, Any]):
        _publish_summary(self._output, summary)
        yield summary


class ReportWindows(beam.PTransform):
    """Manifest records of :class:`WriteWindowed` writers -> one summary dict per
    window (also logged as a line and written to ``DIR/_reports/windows/``)."""

    def __init__(self, output: str, window: float, tables: Sequence[str], shards: int = 1,
                 counted: Sequence[str] = ("articles", "duplicates", "dead_letters"),
                 label: Optional[str] = None):
        super().__init__(label)
        self._output, self._window = output, float(window)
        self._writers = [(t, s) for t in tables for s in range(max(1, shards))]
        self._counted = tuple(counted)

    def expand(self, manifests):
        return (manifests
                | "OneKey" >> beam.Map(lambda r: ("windows", r)).with_output_types(Tuple[str, Any])
                | "PerWindow" >> beam.ParDo(_ReportWindowsFn(self._output, self._window, self._writers,
                                                             self._counted)))


# --------------------------------------------------------------------------- in-process runner

# On the local FnApiRunner a multi-input Flatten becomes a separate stage that only
# runs once the unbounded source has ended (translations.sink_flattens), like a
# GroupByKey: rows from several branches cannot meet in one stateful DoFn while the
# job runs. So there, rows are buffered in process memory (every DoFn of the fused
# stage runs in this process) and flushed by a DoFn on the tick branch.

import threading  # noqa: E402

_BUFFERS: Dict[str, "WindowBuffer"] = {}
_BUFFERS_LOCK = threading.Lock()


class WindowBuffer:
    """Rows per (table, window, partition) until their window closes; thread-safe."""

    def __init__(self, size: float):
        self.size = size
        self.closed_upto = -INFINITY
        self.next_report: Optional[float] = None
        self._rows: Dict[Tuple[str, float, str], List[Dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, table: str, start: float, partition: str, row: Dict[str, Any]) -> bool:
        """Buffer a row; False when its window is already closed (late)."""
        with self._lock:
            if start + self.size <= self.closed_upto:
                return False
            self._rows.setdefault((table, start, partition), []).append(row)
            return True

    def close(self, upto: float) -> List[Tuple[str, float, str, List[Dict[str, Any]]]]:
        """Mark windows ending at or before ``upto`` closed; returns their rows."""
        with self._lock:
            self.closed_upto = max(self.closed_upto, upto)
            due = sorted(k for k in self._rows if k[1] + self.size <= self.closed_upto)
            return [(t, s, p, self._rows.pop((t, s, p))) for t, s, p in due]


def buffer_for(buffer_id: str, size: float) -> WindowBuffer:
    with _BUFFERS_LOCK:
        return _BUFFERS.setdefault(buffer_id, WindowBuffer(size))


class _BufferRowsFn(beam.DoFn):
    def __init__(self, buffer_id: str, output: str, table: str, size: float, max_rows: int):
        self._id, self._output, self._table, self._size, self._max_rows = buffer_id, output, table, size, max_rows

    def process(self, record):
        row = _CONVERT[self._table](record)
        start = window_start(record_time(self._table, record), self._size)
        partition = sink.partition_of(self._table, record)
        if not buffer_for(self._id, self._size).add(self._table, start, partition, row):
            Metrics.counter("window_sink", f"{self._table}_late_rows").inc()
            for written in write_window(self._output, self._table, start, self._size, 0, partition, [row],
                                        self._max_rows, late=True):
                LOG.info("late rows for window %s: %s", window_label(start), written["path"])


class BufferRows(beam.PTransform):
    """Records of ``table`` -> the in-process window buffer ``buffer_id`` (no output)."""

    def __init__(self, buffer_id: str, output: str, table: str, window: float,
                 max_rows: int = sink.MAX_ROWS_PER_FILE, label: Optional[str] = None):
        super().__init__(label)
        self._args = (buffer_id, output, table, float(window), max_rows)

    def expand(self, records):
        return records | "Buffer" >> beam.ParDo(_BufferRowsFn(*self._args))


class _FlushWindowsFn(beam.DoFn):
    def __init__(self, buffer_id: str, output: str, size: float, grace: float, max_rows: int):
        self._id, self._output, self._size, self._grace, self._max_rows = buffer_id, output, size, grace, max_rows

    def process(self, tick):
        buffer = buffer_for(self._id, self._size)
        upto = INFINITY if tick.final else tick.time - self._grace
        windows: Dict[float, Dict[str, Any]] = {}
        for table, start, partition, rows in buffer.close(upto):
            for record in write_window(self._output, table, start, self._size, 0, partition, rows,
                                       self._max_rows):
                win = windows.setdefault(start, {"counts": {}, "freshness": []})
                win["counts"][table] = win["counts"].get(table, 0) + record["rows"]
                win["freshness"].extend(record["freshness"])
        if buffer.next_report is None:
            buffer.next_report = min([window_start(tick.time, self._size)] + list(windows))
        starts = set(windows)
        start = buffer.next_report
        limit = upto if upto != INFINITY else max(windows, default=start - self._size) + self._size
        while start + self._size <= limit:  # empty windows get a line too
            starts.add(start)
            start += self._size
        if starts:
            buffer.next_report = max(buffer.next_report, max(starts) + self._size)
        for start in sorted(starts):
            win = windows.get(start, {"counts": {}, "freshness": []})
            summary = window_summary(start, self._size, win["counts"], win["freshness"])
            _publish_summary(self._output, summary)
            yield summary


def _publish_summary(output: str, summary: Dict[str, Any]) -> None:
    LOG.info("%s", format_window_line(summary))
    name = window_label(dt.datetime.fromisoformat(summary["window_start"]).timestamp())
    if summary.get("late_rows") and summary["late_rows"] >= summary["articles"] + summary["duplicates"] \
            + summary["dead_letters"]:
        name += "-late"
    path = sink.join_path(output, "_reports", "windows", f"window-{name}.json")
    sink.publish_bytes(path, json.dumps(summary, sort_keys=True).encode("utf-8"))


class FlushWindows(beam.PTransform):
    """Ticks -> writes the windows of buffer ``buffer_id`` that a tick closed
    (all on the final tick); emits one summary per window, also logged as a
    line and written to ``DIR/_reports/windows/``."""

    def __init__(self, buffer_id: str, output: str, window: float, grace: float = 0.0,
                 max_rows: int = sink.MAX_ROWS_PER_FILE, label: Optional[str] = None):
        super().__init__(label)
        self._args = (buffer_id, output, float(window), max(0.0, grace), max_rows)

    def expand(self, ticks):
        return ticks | "Flush" >> beam.ParDo(_FlushWindowsFn(*self._args))
