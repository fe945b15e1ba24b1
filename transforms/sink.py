"""Writing Hive-partitioned Parquet atomically and deterministically.

Beam's ``WriteToParquet`` has no dynamic destinations and ``fileio.WriteToFiles``
silently leaves data in a hidden temp folder when destinations are sub-folders
(apache/beam#21313), so this module groups rows per partition and writes each
group itself: to a hidden temp name, then renamed into place. All I/O goes
through ``FileSystems`` so ``gs://`` and ``s3://`` outputs work with the Beam
extras installed (on object stores the rename is a copy + delete: readers never
see a partial object under the final name, but may briefly see both names).

File names are a hash of the rows' keys: re-running the same input rewrites the
same file instead of adding a second copy.

A batch run stages its data files under ``_staging/<run id>/`` and publishes
them all at the end (``CommitStaged``): a run stopped before that (Ctrl-C, a
crash) leaves nothing half-done for readers, and the next run clears the stage.
"""
from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import urllib.parse
import uuid
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas import arrow as arrow_schemas
from schemas.records import Article, Duplicate, IndexEntry
from schemas.taxonomy import DEFAULT_TOPIC, is_topic
from transforms import interrupt, usage

LOG = logging.getLogger(__name__)

MAX_ROWS_PER_FILE = 100_000
# Tables whose rows are facts (one per key), not events: a rerun never re-adds a key.
SKIP_EXISTING_TABLES = frozenset({"articles", "duplicates"})
TABLE_DIRS = {"articles": "", "duplicates": "_duplicates", "dead_letters": "_dead_letters",
              "index": "_state/index", "signatures": "_state/signatures"}
STAGING_DIR = "_staging"
FAILED_URLS_KEPT = 100
PRESENT = "_present"  # manifest record: rows a partition already held (an earlier, cut-short run)
# Small row groups of rows sorted by article_id: a reader looking up a few ids reads only
# the groups whose id range holds one (``iter_state_rows``), not the whole bulky column.
ROW_GROUP_ROWS = {"signatures": 1024}
STATE_BATCH_ROWS = 1024  # rows of a _state table read at a time (iter_state_rows)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_KEY_COLUMNS = {"articles": ("article_id",), "duplicates": ("url", "duplicate_of", "kind"),
                "dead_letters": ("url", "stage", "reason"), "index": ("url", "kind", "article_id"),
                "signatures": ("article_id", "params")}


def _date_value(value: dt.date) -> str:
    text = value.isoformat()
    if not _DATE.match(text):  # years beyond 9999 or before 1000 cannot be valid partitions
        raise ValueError(f"invalid partition date {text!r}")
    return text


def article_partition(article: Article) -> str:
    """``topic=<slug>/date=<YYYY-MM-DD>``; the topic is forced into the taxonomy."""
    topic = article.topic if is_topic(article.topic) else DEFAULT_TOPIC
    return f"topic={topic}/date={_date_value(article.partition_date)}"


def date_partition(stamp: dt.datetime) -> str:
    return f"date={_date_value(stamp.astimezone(dt.timezone.utc).date())}"


def partition_fields(partition: str) -> Dict[str, str]:
    """``topic=politics/date=2025-05-14`` -> ``{"topic": "politics", "date": "2025-05-14"}``."""
    return dict(part.split("=", 1) for part in partition.split("/") if "=" in part)


def partition_of(table: str, record: Any) -> str:
    if table == "articles":
        return article_partition(record)
    if table == "duplicates":
        return date_partition(record.detected_at)
    if table == "dead_letters":
        return date_partition(record.at)
    return ""


def join_path(*parts: str) -> str:
    parts = [p for p in parts if p]
    base = parts[0]
    for part in parts[1:]:
        base = FileSystems.join(base, part)
    return base


def file_name(table: str, rows: List[Dict[str, Any]]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update("\x1f".join(str(row[c]) for c in _KEY_COLUMNS[table]).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return f"part-{digest.hexdigest()[:20]}.parquet"


def publish_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to a hidden temp name beside ``path``, then rename it into place.

    Readers never see a partial file under the final name (on object stores the
    rename is a copy + delete, so they may briefly see the temp object too)."""
    directory, name = path.rsplit("/", 1)
    temp = join_path(directory, f".{name}.{uuid.uuid4().hex}.tmp")
    try:
        with FileSystems.create(temp) as handle:
            handle.write(data)
        if FileSystems.exists(path):
            FileSystems.delete([path])  # object stores: rename cannot overwrite
        FileSystems.rename([temp], [path])
    except Exception:
        try:
            if FileSystems.exists(temp):
                FileSystems.delete([temp])
        finally:
            raise


def write_parquet_atomically(path: str, table, row_group_size: Optional[int] = None) -> None:
    import pyarrow.parquet as pq
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=row_group_size)
    publish_bytes(path, buffer.getvalue())


def existing_keys(output: str, table: str, partition: str) -> set:
    """Keys of the rows already in a partition's files (only the key columns are read)."""
    import pyarrow.parquet as pq
    keys = _KEY_COLUMNS[table]
    pattern = join_path(output, TABLE_DIRS[table], partition, "*.parquet")
    try:
        paths = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # no such folder yet
        return set()
    found = set()
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            part = pq.read_table(io.BytesIO(handle.read()), columns=list(keys))
        found.update(zip(*(map(str, part.column(k).to_pylist()) for k in keys)))
    return found


def staging_root(output: str, run_id: str) -> str:
    return join_path(output, STAGING_DIR, run_id)


def write_partition(output: str, table: str, partition: str, rows: List[Dict[str, Any]],
                    max_rows: int = MAX_ROWS_PER_FILE, skip_existing: bool = False,
                    staging: Optional[str] = None) -> List[Dict[str, Any]]:
    """Write one partition's rows; returns one manifest record per file.

    ``skip_existing`` drops rows whose key a file of the partition already holds.
    Normally the ``_state`` index keeps reruns from producing such rows; this
    covers a job killed after writing data but before its index: the rerun then
    adds only what is missing instead of a second copy under a new file name
    (a ``_present`` record lists their URLs, so the run's accounting calls them
    already written). With ``staging`` the files go under that folder and the
    records carry ``staged`` paths for :func:`commit_staged`.
    """
    schema = arrow_schemas.TABLE_SCHEMAS[table]
    keys = _KEY_COLUMNS[table]
    rows = sorted(rows, key=lambda r: tuple(str(r[k]) for k in keys))
    present = existing_keys(output, table, partition) if skip_existing else set()
    # Same key twice (a retried bundle, a duplicate emitted twice): keep one.
    unique: List[Dict[str, Any]] = []
    held: List[Dict[str, Any]] = []
    last = None
    for row in rows:
        key = tuple(str(row[k]) for k in keys)
        if key in present:
            held.append(row)
        elif key != last:
            unique.append(row)
        last = key
    written = []
    for start in range(0, len(unique), max_rows):
        chunk = unique[start:start + max_rows]
        arrow_table = arrow_schemas.to_table(chunk, schema)
        name = file_name(table, chunk)
        path = join_path(output, TABLE_DIRS[table], partition, name)
        record = {"table": table, "partition": partition, "path": path, "rows": len(chunk),
                  "counts": _counts(table, chunk, partition)}
        if table == "dead_letters":  # for the report's table of failed URLs
            record["failed"] = sorted([r["url"], r["stage"], r["reason"]] for r in chunk)[:FAILED_URLS_KEPT]
        if staging:
            record["staged"] = join_path(staging, TABLE_DIRS[table], partition, name)
        write_parquet_atomically(record.get("staged", path), arrow_table, ROW_GROUP_ROWS.get(table))
        written.append(record)
    if held:
        urls = sorted({u for row in held for u in (row.get("url"), row.get("canonical_url")) if u})
        written.append({"table": PRESENT, "of": table, "rows": len(held), "urls": urls})
    return written


def planned_files(table: str, rows: List[Dict[str, Any]], max_rows: int = MAX_ROWS_PER_FILE) -> int:
    """How many files :func:`write_partition` makes of ``rows`` (same-key rows kept once)."""
    keys = _KEY_COLUMNS[table]
    distinct = len({tuple(str(r[k]) for k in keys) for r in rows})
    return -(-distinct // max_rows)


def commit_staged(records: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Publish a run's staged files under their final names (replacing a file of
    the same name); returns the records. Deliberately not interruptible: it is
    a rename per file, and stopping half-way would publish half a run."""
    out = []
    for record in records:
        staged = record.get("staged")
        if staged:
            if "://" not in record["path"]:  # local rename needs the folder; object stores have none
                os.makedirs(os.path.dirname(record["path"]), exist_ok=True)
            elif FileSystems.exists(record["path"]):
                FileSystems.delete([record["path"]])  # object stores: rename cannot overwrite
            FileSystems.rename([staged], [record["path"]])
            record = {k: v for k, v in record.items() if k != "staged"}
        out.append(record)
    return out


def clear_staging(output: str) -> int:
    """Delete what stopped runs left under ``_staging`` (call only while holding the
    output's lock: a running job's stage must not be removed); returns files deleted."""
    pattern = join_path(output, STAGING_DIR, "**")
    try:
        paths = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # nothing staged
        return 0
    if paths:
        FileSystems.delete(paths)
    root = join_path(output, STAGING_DIR)
    if "://" not in root:
        import shutil
        shutil.rmtree(root, ignore_errors=True)
    return len(paths)


def _counts(table: str, rows: List[Dict[str, Any]], partition: str = "") -> Dict[str, Dict[str, int]]:
    counts: Dict[str, Dict[str, int]] = {}
    # Since schema v3 the topic is only in the partition path, not in the rows.
    topic = partition_fields(partition).get("topic")

    def bump(group: str, key: Optional[str], n: int = 1):
        if key is None:
            return
        counts.setdefault(group, {})
        counts[group][key] = counts[group].get(key, 0) + n

    for row in rows:
        if table == "articles":
            bump("source_domain", row["source_domain"])
            bump("topic_source", row["topic_source"] or "none")
            if row.get("topic", topic) == "other":
                bump("topic_other_by_source", row["topic_source"] or "none")
            if row.get("is_opinion"):
                bump("genre", "opinion")
            bump("feed_url", row["feed_url"] or "(no feed)")
            bump("date_source", row["date_source"] if row["published_at"] is not None else "none")
            if row["published_at"] is not None and row["fetched_at"] is not None:
                lag = (row["fetched_at"] - row["published_at"]).total_seconds()
                bump("freshness_s", str(freshness_bucket(lag)))  # histogram for percentiles
            for entity in row["entities"]:  # all of them: the report's top list is over every mention
                bump("entities", f'{entity["text"]}\t{entity["label"]}', entity["count"])
            for kind in usage.kinds_of(row.get("usage")):  # usage rights, per source
                bump("usage", kind)
                bump("usage_by_source", f'{row["source_domain"]}\t{kind}')
            # Which languages' articles were tagged (top entities come from these only).
            bump("entities_tagged" if row.get("entities_model") else "entities_not_tagged",
                 row["language"] or "unknown")
        elif table == "duplicates":
            bump("kind", row["kind"])
        elif table == "dead_letters":
            bump("reason", f'{row["stage"]}:{row["reason"]}')
            bump("host", _host(row["url"]))
    return counts


def _host(url: str) -> str:
    """Like ``source_domain`` (host without ``www.``), so the report can put
    a source's articles and dead letters side by side."""
    try:
        host = (urllib.parse.urlsplit(url).hostname or "").lower()
    except ValueError:  # a malformed URL is a dead letter's business, not ours
        return "(invalid)"
    if not host:
        return "(local)"
    return host[4:] if host.startswith("www.") else host


def freshness_bucket(seconds: float) -> int:
    """``seconds`` rounded to 3 significant digits (negative -> 0): a histogram
    that merges by addition, keeps percentiles within 0.5 % and has at most
    ~900 keys per power of ten."""
    value = int(max(0.0, seconds))
    if value < 1000:
        return value
    scale = 10 ** (len(str(value)) - 3)
    return round(value / scale) * scale


class _WritePartitionFn(beam.DoFn):
    def __init__(self, output: str, table: str, max_rows: int, staging: Optional[str] = None):
        self._output = output
        self._table = table
        self._max_rows = max_rows
        self._staging = staging
        self.rows_written = Metrics.counter("sink", f"{table}_rows")
        self.files_written = Metrics.counter("sink", f"{table}_files")

    def process(self, element):
        partition, rows = element
        if self._staging:
            interrupt.check()  # Ctrl-C: stage no more (nothing staged is published)
        skip = self._table in SKIP_EXISTING_TABLES
        for record in write_partition(self._output, self._table, partition, list(rows),
                                      self._max_rows, skip_existing=skip, staging=self._staging):
            if record["table"] != PRESENT:
                self.rows_written.inc(record["rows"])
                self.files_written.inc()
            yield record


class WritePartitioned(beam.PTransform):
    """Records -> Parquet files under ``output``; emits a manifest record per file."""

    def __init__(self, output: str, table: str, max_rows: int = MAX_ROWS_PER_FILE,
                 label: Optional[str] = None, staging: Optional[str] = None):
        super().__init__(label)
        self._output = output
        self._table = table
        self._max_rows = max_rows
        self._staging = staging

    def expand(self, records):
        table = self._table
        convert = {"articles": arrow_schemas.article_to_row,
                   "duplicates": arrow_schemas.duplicate_to_row,
                   "dead_letters": arrow_schemas.dead_letter_to_row,
                   "index": arrow_schemas.index_to_row,
                   "signatures": arrow_schemas.signature_to_row}[table]
        return (records
                | "ToRows" >> beam.Map(lambda r: (partition_of(table, r), convert(r))).with_output_types(
                    Tuple[str, Dict[str, Any]])
                | "GroupByPartition" >> beam.GroupByKey()
                | "WriteFiles" >> beam.ParDo(_WritePartitionFn(self._output, table, self._max_rows,
                                                               self._staging)))


class CommitStaged(beam.PTransform):
    """Manifest records of staged files -> the same records, once every file is
    published (one step, after all data files of the run are staged)."""

    def expand(self, records):
        return (records
                | "AllStaged" >> beam.combiners.ToList()
                | "Publish" >> beam.FlatMap(commit_staged))


def index_entries_for_article(article: Article) -> List[IndexEntry]:
    now = dt.datetime.now(dt.timezone.utc)
    entries = [IndexEntry(url=article.canonical_url, article_id=article.article_id,
                          content_hash=article.content_hash, kind="article", written_at=now)]
    if article.url != article.canonical_url:
        entries.append(IndexEntry(url=article.url, article_id=article.article_id,
                                  content_hash=article.content_hash, kind="article", written_at=now))
    return entries


def index_entry_for_duplicate(dup: Duplicate) -> IndexEntry:
    return IndexEntry(url=dup.url, article_id=dup.article_id, content_hash=None, kind=dup.kind,
                      written_at=dup.detected_at)


# --------------------------------------------------------------------------- previous runs

def read_state_rows(output: str, table: str) -> List[Dict[str, Any]]:
    """All rows of a ``_state`` table earlier runs wrote (empty for a new output)."""
    import pyarrow.parquet as pq
    pattern = join_path(output, TABLE_DIRS[table], "*.parquet")
    try:
        matches = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    except Exception:  # no such folder yet
        return []
    rows: List[Dict[str, Any]] = []
    for path in sorted(matches):
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            rows.extend(pq.read_table(io.BytesIO(handle.read())).to_pylist())
    return rows


def iter_state_rows(output: str, table: str, columns: Optional[List[str]] = None,
                    ids: Optional[Iterable[str]] = None,
                    keep: Optional[Callable[[Any], Any]] = None) -> Iterator[Dict[str, Any]]:
    """Rows of a ``_state`` table, ``STATE_BATCH_ROWS`` at a time (never the whole table,
    nor a whole row group of an older file, in memory). ``columns``: only those the file
    has (older files lack newer columns); ``ids``: only rows with those ``article_id``s,
    reading only the row groups whose id range may hold one (the table is written sorted
    by id in small groups); ``keep``: a record batch -> one flag per row (a list, numpy or
    Arrow array), so that a reader looking for a few keys turns only the matching rows into
    Python objects."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    pattern = join_path(output, TABLE_DIRS[table], "*.parquet")
    try:
        paths = sorted(m.path for r in FileSystems.match([pattern]) for m in r.metadata_list)
    except Exception:  # no such folder yet
        return
    wanted = sorted(set(ids)) if ids is not None else None
    id_set = pa.array(wanted, pa.string()) if wanted is not None else None
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            parquet = pq.ParquetFile(handle)
            names = parquet.schema_arrow.names
            use = [c for c in columns if c in names] if columns is not None else names
            for group in range(parquet.num_row_groups):
                if wanted is not None and not _may_hold(parquet.metadata.row_group(group),
                                                        names.index("article_id"), wanted):
                    continue
                for batch in parquet.iter_batches(STATE_BATCH_ROWS, row_groups=[group], columns=use):
                    if id_set is not None:  # before any cell (a body) becomes a Python object
                        batch = batch.filter(pc.is_in(batch.column("article_id"), value_set=id_set))
                    if keep is not None:
                        flags = keep(batch)
                        batch = batch.filter(flags if isinstance(flags, pa.Array) else pa.array(flags, pa.bool_()))
                    yield from batch.to_pylist()
    pa.default_memory_pool().release_unused()  # the batches' buffers back to the system


def _may_hold(group, column: int, wanted: List[str]) -> bool:
    """Whether a row group's ``article_id`` range (its statistics) holds a wanted id."""
    stats = group.column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    at = bisect.bisect_left(wanted, stats.min)
    return at < len(wanted) and wanted[at] <= stats.max


def iter_index(output: str, keep: Optional[Callable[[Any], Any]] = None) -> Iterator[IndexEntry]:
    """What earlier runs wrote into ``output`` (nothing for a new output), streamed;
    ``keep``: only the rows it flags (see :func:`iter_state_rows`)."""
    for row in iter_state_rows(output, "index", keep=keep):
        yield IndexEntry(url=row["url"], article_id=row["article_id"], content_hash=row.get("content_hash"),
                         kind=row["kind"], written_at=row["written_at"])


def read_index(output: str) -> List[IndexEntry]:
    """Everything earlier runs wrote into ``output`` (empty for a new output)."""
    return list(iter_index(output))


class ReadFromOutput(beam.PTransform):
    """What earlier runs left in ``output``, read on the workers (not at job construction,
    so a remote runner reads it where the data is) by ``read_fn(output, *side_inputs) ->
    records`` (``side_inputs``: e.g. this run's keys, to read only what it can match)."""

    def __init__(self, output: str, read_fn: Callable[..., Iterable[Any]], output_type=None,
                 label: Optional[str] = None, side_inputs: Sequence[Any] = ()):
        super().__init__(label)
        self._output = output
        self._read_fn = read_fn
        self._output_type = output_type
        self._side_inputs = tuple(side_inputs)

    def expand(self, pbegin):
        read = beam.FlatMap(self._read_fn, *self._side_inputs)
        if self._output_type is not None:
            read = read.with_output_types(self._output_type)
        return pbegin | "Output" >> beam.Create([self._output]) | "Read" >> read


# --------------------------------------------------------------------------- run report

def merge_manifest(records: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    report: Dict[str, Any] = {"files": 0, "tables": {}, "partitions": {}, "counts": {},
                              "skipped_already_written": 0}
    for record in records:
        if record.get("table") == "_skipped":
            report["skipped_already_written"] += record["rows"]
            continue
        if record.get("table") == PRESENT:  # counted by accounting among already written
            report.setdefault("already_present", {})
            report["already_present"][record["of"]] = report["already_present"].get(record["of"], 0) + record["rows"]
            continue
        if record.get("table") == "_accounting":  # transforms/accounting.py
            report["accounting"] = {k: v for k, v in record.items() if k != "table"}
            continue
        table = record["table"]
        if record.get("failed"):
            report["failed_urls"] = sorted(report.get("failed_urls", []) + record["failed"])[:FAILED_URLS_KEPT]
        report["files"] += 1
        report["tables"][table] = report["tables"].get(table, 0) + record["rows"]
        if table == "articles":
            part = record["partition"]
            report["partitions"][part] = report["partitions"].get(part, 0) + record["rows"]
        for group, values in record["counts"].items():
            bucket = report["counts"].setdefault(f"{table}.{group}", {})
            for key, n in values.items():
                bucket[key] = bucket.get(key, 0) + n
    return report


def write_report(output: str, run_id: str, report: Dict[str, Any]) -> str:
    path = join_path(output, "_reports", f"run-{run_id}.json")
    publish_bytes(path, json.dumps(report, indent=2, sort_keys=True, default=str).encode("utf-8"))
    return path
