"""``python -m pipeline.compact DIR``: merge small Parquet files per partition.

Streaming windows and daily batches leave many small files per partition,
which slows every reader. Compaction rewrites each partition that has more than
one file, or a file of an older layout (before schema v3 ``topic`` was also
stored in the files, which pandas and pyarrow cannot merge with the folder
name), into as few files as ``--max-rows`` allows, with the same rows (rows
with the same key — a retried write — are kept once), then deletes the old
files. It runs as a Beam job over partitions, so it scales out like the
ingestion job (pass ``--runner`` etc.).

Safety: new files are written atomically and named by a hash of their rows'
keys, and old files are deleted only after every new file of the partition is in
place. A crash in between leaves rows twice in that partition until compact is
run again (which is idempotent and repairs it). Compaction takes the output's
lock (``pipeline/lock.py``), so it never runs while a job writes there.
"""
from __future__ import annotations

import argparse
import io
import logging
import sys
from typing import Dict, List, Optional, Sequence

LOG = logging.getLogger(__name__)
TABLES = ("articles", "duplicates", "dead_letters")


def list_partitions(output: str, table: str) -> List[str]:
    """Partition paths (relative to the table's folder) that hold Parquet files."""
    from apache_beam.io.filesystems import FileSystems
    from transforms import sink
    base = sink.join_path(output, sink.TABLE_DIRS[table])
    pattern = (sink.join_path(base, "topic=*", "date=*", "*.parquet") if table == "articles"
               else sink.join_path(base, "date=*", "*.parquet"))
    paths = [m.path for r in FileSystems.match([pattern]) for m in r.metadata_list]
    partitions = set()
    for path in paths:
        relative = path[len(base):].lstrip("/")
        partitions.add(relative.rsplit("/", 1)[0])
    return sorted(partitions)


def compact_partition(output: str, table: str, partition: str, max_rows: int,
                      dry_run: bool = False) -> Dict[str, object]:
    """Rewrite one partition's files; returns what was done."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    from schemas import arrow as arrow_schemas
    from transforms import sink

    folder = sink.join_path(output, sink.TABLE_DIRS[table], partition)
    old = sorted(m.path for r in FileSystems.match([sink.join_path(folder, "*.parquet")])
                 for m in r.metadata_list)
    result = {"table": table, "partition": partition, "files_before": len(old), "rows_before": 0,
              "files_after": len(old), "rows_after": 0}
    old_layout = any(_old_layout(table, path) for path in old)
    if len(old) <= 1 and not old_layout:
        return result
    result["migrated"] = old_layout
    schema = arrow_schemas.TABLE_SCHEMAS[table]
    rows = []
    for path in old:
        with FileSystems.open(path, compression_type="uncompressed") as handle:
            part = pq.read_table(io.BytesIO(handle.read()))
        # Older schema versions lack newer columns: fill them with nulls.
        for field in schema:
            if field.name not in part.column_names:
                part = part.append_column(field.name, pa.nulls(part.num_rows, field.type))
        rows.extend(part.select(schema.names).to_pylist())
    result["rows_before"] = len(rows)
    if dry_run:  # what the real run makes: same-key rows once, max_rows per file
        keys = sink._KEY_COLUMNS[table]
        result.update(files_after=sink.planned_files(table, rows, max_rows),
                      rows_after=len({tuple(str(r[k]) for k in keys) for r in rows}))
        return result
    written = sink.write_partition(output, table, partition, rows, max_rows)
    new_paths = {w["path"] for w in written}
    stale = [p for p in old if p not in new_paths]
    if stale:
        FileSystems.delete(stale)
    result.update(files_after=len(new_paths), rows_after=sum(w["rows"] for w in written))
    return result


def _old_layout(table: str, path: str) -> bool:
    """True for a file that still stores a column which now lives only in the path."""
    import pyarrow.parquet as pq
    from apache_beam.io.filesystems import FileSystems
    from schemas.arrow import MOVED_TO_PATH
    moved = MOVED_TO_PATH.get(table)
    if not moved:
        return False
    with FileSystems.open(path, compression_type="uncompressed") as handle:
        names = pq.read_schema(io.BytesIO(handle.read())).names
    return bool(moved & set(names))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.compact", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="an output folder written by newsbeam (local, gs://, s3://)")
    parser.add_argument("--table", choices=TABLES + ("all",), default="all")
    parser.add_argument("--max-rows", "--max_rows", dest="max_rows", type=int, default=100_000,
                        help="rows per file after compaction (default 100000)")
    parser.add_argument("--dry-run", "--dry_run", dest="dry_run", action="store_true",
                        help="only report what would be merged")
    args, beam_args = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.WARNING, force=True)

    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from pipeline.runner import choose_runner

    tables = TABLES if args.table == "all" else (args.table,)
    try:
        work = [(table, part) for table in tables for part in list_partitions(args.output, table)]
    except Exception as exc:
        print(f"compact: error: cannot list {args.output}: {exc}", file=sys.stderr)
        return 2
    if not work:
        print(f"compact: nothing to compact in {args.output}")
        return 0
    import datetime as dt
    import json
    import uuid
    from apache_beam.io.filesystems import FileSystems
    from transforms import sink

    options = PipelineOptions(beam_args)
    output, max_rows, dry_run = args.output, args.max_rows, args.dry_run
    run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
    report_path = sink.join_path(output, "_reports", f"compact-{run_id}.json")

    def _write(results):
        with FileSystems.create(report_path) as handle:
            handle.write(json.dumps(sorted(results, key=lambda r: (r["table"], r["partition"]))).encode())

    from pipeline.lock import LockHeld, OutputLock
    lock = OutputLock(output, run_id)
    if not dry_run:
        try:
            lock.acquire()
        except LockHeld as exc:
            print(f"compact: error: {output} is being written by another run ({exc})", file=sys.stderr)
            return 2
    try:
        _run_compaction(options, work, output, max_rows, dry_run, _write)
    finally:
        lock.release()
    return _print_results(report_path, dry_run)


def _run_compaction(options, work, output, max_rows, dry_run, _write) -> None:
    import apache_beam as beam
    from pipeline.runner import choose_runner
    with beam.Pipeline(runner=choose_runner(options), options=options) as p:
        _ = (p
             | "Partitions" >> beam.Create(work)
             | "Spread" >> beam.Reshuffle()
             | "Compact" >> beam.MapTuple(lambda t, part: compact_partition(output, t, part, max_rows, dry_run))
             | "Collect" >> beam.combiners.ToList()
             | "WriteReport" >> beam.Map(_write))


def _print_results(report_path: str, dry_run: bool) -> int:
    import json
    from apache_beam.io.filesystems import FileSystems
    with FileSystems.open(report_path, compression_type="uncompressed") as handle:
        results: List[Dict[str, object]] = json.loads(handle.read().decode())
    changed = [r for r in results if r["files_before"] > 1 or r.get("migrated")]
    before = sum(r["files_before"] for r in results)
    after = sum(r["files_after"] for r in results)
    verb = "would merge" if dry_run else "merged"
    print(f"compact: {verb} {len(changed)} of {len(results)} partitions: {before} files -> {after} files")
    for r in sorted(changed, key=lambda r: (r["table"], r["partition"])):
        print(f"  {r['table']}/{r['partition']}: {r['files_before']} -> {r['files_after']} files, "
              f"{r['rows_before']} -> {r['rows_after']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
