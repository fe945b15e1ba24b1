"""``python -m pipeline.inspect DIR``: look at an output folder with DuckDB.

Registers views ``articles``, ``duplicates`` and ``dead_letters`` over the Hive
partitions, then prints counts by topic and date (default), the articles
mentioning an entity (``--entity``), or the result of any SQL (``--sql``).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence


def connect(output: str):
    import duckdb
    con = duckdb.connect()
    root = output.rstrip("/")
    views = {
        "articles": f"{root}/topic=*/date=*/*.parquet",
        "duplicates": f"{root}/_duplicates/date=*/*.parquet",
        "dead_letters": f"{root}/_dead_letters/date=*/*.parquet",
    }
    for name, pattern in views.items():
        has_files = bool(con.execute("SELECT count(*) FROM glob(?)", [pattern]).fetchone()[0])
        if has_files:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', "
                        f"hive_partitioning=true, union_by_name=true)")
        else:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM (SELECT NULL::VARCHAR AS url) WHERE false")
    return con


def _print(result) -> None:
    columns = [d[0] for d in result.description]
    rows = result.fetchall()
    widths = [max([len(c)] + [len(_fmt(r[i])) for r in rows]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(_fmt(v).ljust(w) for v, w in zip(row, widths)))
    print(f"({len(rows)} rows)")


def _fmt(value) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.inspect", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="an output folder written by newsbeam")
    parser.add_argument("--entity", help="articles mentioning this entity (case-insensitive substring)")
    parser.add_argument("--sql", help="run this SQL; views: articles, duplicates, dead_letters")
    args = parser.parse_args(argv)
    if "://" not in args.output and not os.path.isdir(args.output):
        print(f"inspect: error: {args.output} is not a directory", file=sys.stderr)
        return 2
    con = connect(args.output)
    try:
        if args.sql:
            _print(con.execute(args.sql))
        elif args.entity:
            _print(con.execute(
                "SELECT date, topic, title, e.text AS entity, e.label, e.count AS mentions, url "
                "FROM articles, UNNEST(entities) AS t(e) "
                "WHERE lower(e.text) LIKE '%' || lower(?) || '%' ORDER BY date, title", [args.entity]))
        else:
            _print(con.execute("SELECT topic, date, count(*) AS articles FROM articles "
                               "GROUP BY ALL ORDER BY topic, date"))
    except Exception as exc:  # duckdb errors are user errors here (bad SQL)
        print(f"inspect: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
