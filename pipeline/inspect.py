"""``python -m pipeline.inspect DIR``: look at an output folder with DuckDB.

Registers views ``articles``, ``duplicates`` and ``dead_letters`` over the Hive
partitions (``topic``/``date`` come from the folder names), and ``clusters``
(below), then prints counts by topic and date (default), the articles
mentioning an entity (``--entity``), the largest stories (``--clusters``), or
the result of any SQL (``--sql``). A table with no files yet is an empty view
with the right columns, so queries still bind.

``clusters``: one row per written story with its *current* ``cluster_size`` and
``cluster_sources``, across every run into the folder. An article's own
``cluster_size`` is fixed when it is written; copies found by later runs (or
later streaming windows) only add ``_duplicates`` rows pointing at it, which
this view counts: 1 + the distinct copy URLs whose ``duplicate_of`` is the
story (or a copy of it, one hop, as streaming may record), and the sorted
domains of the story and those copies.

Examples::

    python -m pipeline.inspect out/
    python -m pipeline.inspect out/ --entity Zelenskiy
    python -m pipeline.inspect out/ --usage          # articles per usage-rights kind, per source
    python -m pipeline.inspect out/ --clusters
    python -m pipeline.inspect out/ --sql "SELECT reason, count(*) FROM dead_letters GROUP BY 1"
    python -m pipeline.inspect out/ --sql "SELECT * FROM articles LIMIT 5" --format json
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import decimal
import json
import os
import sys
from typing import Any, List, Optional, Sequence

VIEWS = {
    "articles": ("articles", "topic=*/date=*/*.parquet"),
    "duplicates": ("duplicates", "_duplicates/date=*/*.parquet"),
    "dead_letters": ("dead_letters", "_dead_letters/date=*/*.parquet"),
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _empty_view(con, name: str, table: str) -> None:
    """No files yet: an empty relation with the table's columns (and the
    partition columns), so that ``--entity`` or a user's SQL still binds."""
    import pyarrow as pa
    from schemas.arrow import TABLE_SCHEMAS
    schema = TABLE_SCHEMAS[table]
    extra = [pa.field("date", pa.date32())]
    if table == "articles" and "topic" not in schema.names:
        extra.insert(0, pa.field("topic", pa.string()))
    if "date" in schema.names:
        extra = [f for f in extra if f.name != "date"]
    empty = pa.schema(list(schema) + extra).empty_table()
    con.register(f"_{name}_empty", empty)
    con.execute(f"CREATE VIEW {name} AS SELECT * FROM _{name}_empty")


def connect(output: str):
    import duckdb
    con = duckdb.connect()
    root = output.rstrip("/")
    for name, (table, pattern) in VIEWS.items():
        glob = f"{root}/{pattern}"
        has_files = bool(con.execute("SELECT count(*) FROM glob(?)", [glob]).fetchall()[0][0])
        if has_files:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quote(glob)}, "
                        f"hive_partitioning=true, union_by_name=true)")
        else:
            _empty_view(con, name, table)
    con.create_function("domain_of", _domain_of, ["VARCHAR"], "VARCHAR")
    con.execute(CLUSTERS_VIEW)
    return con


def _domain_of(url: str) -> str:
    from transforms.urls import domain_of
    return domain_of(url or "")


# Copies resolve to a written story directly, or through one copy (streaming's
# known one-hop case); the story's own URL is not a copy of itself.
CLUSTERS_VIEW = """
CREATE VIEW clusters AS
WITH copies AS (SELECT DISTINCT url, article_id, duplicate_of FROM duplicates),
resolved AS (
    SELECT c.url, coalesce(direct.article_id, hop.article_id) AS story
    FROM copies c
    LEFT JOIN articles direct ON direct.article_id = c.duplicate_of
    LEFT JOIN (SELECT DISTINCT p.article_id AS copy_id, a.article_id FROM copies p
               JOIN articles a ON a.article_id = p.duplicate_of) hop
           ON direct.article_id IS NULL AND hop.copy_id = c.duplicate_of
)
SELECT a.article_id, any_value(a.title) AS title, any_value(a.url) AS url,
       any_value(a.date) AS date, any_value(a.topic) AS topic,
       1 + count(DISTINCT r.url) FILTER (WHERE r.url <> a.url) AS cluster_size,
       list_sort(list_distinct(flatten(list(DISTINCT [domain_of(r.url)]) FILTER (WHERE r.url IS NOT NULL))
                               || flatten(list(a.cluster_sources)) || list(a.source_domain))) AS cluster_sources,
       any_value(a.cluster_size) AS cluster_size_when_written
FROM articles a LEFT JOIN resolved r ON r.story = a.article_id
GROUP BY a.article_id
"""


def _fmt(value: Any, width: int = 80) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[:width - 3] + "..."


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)


def _print_table(columns: List[str], rows: List[tuple], out) -> None:
    cells = [[_fmt(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    right = [bool(rows) and all(_numeric(r[i]) or r[i] is None for r in rows) for i in range(len(columns))]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()

    print(line(columns), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        print(line(row), file=out)
    print(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", file=out)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def show(result, fmt: str = "table", out=None) -> int:
    """Print a DuckDB result as an aligned table, CSV or JSON lines; returns the row count."""
    out = out or sys.stdout
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in row] for row in rows])
    elif fmt == "json":
        for row in rows:
            print(json.dumps({c: _jsonable(v) for c, v in zip(columns, row)}, ensure_ascii=False), file=out)
    else:
        _print_table(columns, rows, out)
    return len(rows)


COUNTS_SQL = ("SELECT topic, date, count(*) AS articles FROM articles "
              "GROUP BY ALL ORDER BY topic, date")
CLUSTERS_SQL = ("SELECT cluster_size, article_id, title, cluster_sources FROM clusters "
                "WHERE cluster_size > 1 ORDER BY cluster_size DESC, article_id")
ENTITY_SQL = ("SELECT date, topic, title, e.text AS entity, e.label, e.count AS mentions, url "
              "FROM articles, UNNEST(entities) AS t(e) "
              "WHERE lower(e.text) LIKE '%' || lower(?) || '%' ORDER BY date, title, entity")

# Articles per usage-rights kind (transforms/usage.py KINDS) and source; files written
# before schema 3 have no usage column (union_by_name makes it null): they count in
# "articles" only.
USAGE_SQL = """
SELECT source_domain AS source, count(*) AS articles,
       count(*) FILTER (WHERE usage.tdm_reservation) AS tdm_reserved,
       count(*) FILTER (WHERE len(coalesce(usage.ai_agents_disallowed, [])) > 0) AS ai_agents_disallowed,
       count(*) FILTER (WHERE list_contains(usage.robots_directives, 'noai')) AS noai,
       count(*) FILTER (WHERE list_contains(usage.robots_directives, 'noimageai')) AS noimageai,
       count(*) FILTER (WHERE list_contains(usage.robots_directives, 'noarchive')) AS noarchive,
       count(*) FILTER (WHERE list_contains(usage.robots_directives, 'nosnippet')) AS nosnippet,
       count(*) FILTER (WHERE usage.license IS NOT NULL) AS licensed,
       count(*) FILTER (WHERE usage.accessible_for_free = false) AS not_free
FROM articles GROUP BY ALL ORDER BY articles DESC, source
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.inspect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="an output folder written by newsbeam")
    query = parser.add_mutually_exclusive_group()
    query.add_argument("--entity", help="articles mentioning this entity (case-insensitive substring)")
    query.add_argument("--usage", action="store_true",
                       help="articles per usage-rights kind (TDM reservation, AI agents disallowed in "
                            "robots.txt, noai/noimageai/noarchive/nosnippet, licence, not free), per source")
    query.add_argument("--clusters", action="store_true",
                       help="stories with copies, largest first, counted across all runs")
    query.add_argument("--sql", help="run this SQL; views: articles, duplicates, dead_letters, clusters")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="table (default), csv, or json (one object per line)")
    args = parser.parse_args(argv)
    if "://" not in args.output and not os.path.isdir(args.output):
        print(f"inspect: error: {args.output} is not a directory", file=sys.stderr)
        return 2
    try:
        con = connect(args.output)
        if args.sql:
            show(con.execute(args.sql), args.format)
        elif args.usage:
            if "usage" not in [d[0] for d in con.execute("SELECT * FROM articles LIMIT 0").description]:
                print("inspect: error: no usage column: these files were written before schema 3",
                      file=sys.stderr)
                return 2
            show(con.execute(USAGE_SQL), args.format)
        elif args.clusters:
            show(con.execute(CLUSTERS_SQL), args.format)
        elif args.entity is not None:
            show(con.execute(ENTITY_SQL, [args.entity]), args.format)
        else:
            show(con.execute(COUNTS_SQL), args.format)
            if args.format == "table":
                total = con.execute("SELECT count(*) FROM articles").fetchall()[0][0]
                print(f"{total} article{'s' if total != 1 else ''} in {args.output}")
    except Exception as exc:  # duckdb errors are user errors here (bad SQL, unreadable files)
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"inspect: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
