"""Do two output folders hold the same rows? (a change that must not change the output)

    python -m benchmarks.same_rows OUT_OLD OUT_NEW

Reads every table (articles under ``topic=/date=``, ``_duplicates``, ``_dead_letters``,
``_state/index``, ``_state/signatures``) with DuckDB, drops the columns that record when
a run did something (``fetched_at``, ``detected_at``, ``written_at``, a dead letter's ``at``) and
compares the rest as sorted multisets. Exit status 1 and the first differences if any
table differs.
"""
from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Dict, List, Optional, Sequence

from transforms.sink import TABLE_DIRS

WHEN = {"fetched_at", "detected_at", "written_at", "at"}


def table_rows(output: pathlib.Path, table: str) -> List[tuple]:
    """The rows of one table, run-time columns left out, sorted."""
    import duckdb
    folder = output / TABLE_DIRS[table] if TABLE_DIRS[table] else output
    pattern = (f"{folder}/topic=*/date=*/*.parquet" if table == "articles" else f"{folder}/**/*.parquet")
    if not list(output.glob(pattern[len(str(output)) + 1:])):
        return []
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)")
    columns = [c for c in rel.columns if c not in WHEN]
    rows = rel.select(", ".join(f'"{c}"' for c in columns)).fetchall()
    return sorted((tuple(repr(v) for v in row) for row in rows))


def compare(old: pathlib.Path, new: pathlib.Path) -> Dict[str, Dict[str, int]]:
    """Per table: rows in each folder, and rows found in only one of them."""
    found = {}
    for table in TABLE_DIRS:
        a, b = table_rows(old, table), table_rows(new, table)
        only_old, only_new = _minus(a, b), _minus(b, a)
        found[table] = {"old": len(a), "new": len(b), "only_old": len(only_old), "only_new": len(only_new),
                        "examples": [r[:3] for r in (only_old + only_new)[:3]]}
    return found


def _minus(a: List[tuple], b: List[tuple]) -> List[tuple]:
    from collections import Counter
    return list((Counter(a) - Counter(b)).elements())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=pathlib.Path)
    parser.add_argument("new", type=pathlib.Path)
    args = parser.parse_args(argv)
    same = True
    for table, counts in compare(args.old, args.new).items():
        differ = counts["only_old"] or counts["only_new"]
        same = same and not differ
        print(f"{table:13} {counts['old']:6} / {counts['new']:6} rows  "
              + (f"DIFFER: {counts['only_old']} only in old, {counts['only_new']} only in new "
                 f"{counts['examples']}" if differ else "same"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
