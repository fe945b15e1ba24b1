"""Schema compatibility: files written by every earlier ``SCHEMA_VERSION`` stay readable.

``tests/fixtures/schema_v<N>/`` holds a tiny dataset written by version N's sink
(``python -m tests.fixtures.write_schema_fixture``). The current version must have
its fixture, and its schemas must equal the fixture's: changing a schema without
bumping ``SCHEMA_VERSION`` (and writing the new fixture) fails here. Older
fixtures must read with the current code: columns may only be added, never
renamed, dropped or retyped.
"""
from __future__ import annotations

import pathlib
import re

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from schemas import SCHEMA_VERSION, TABLE_SCHEMAS
from tests.fixtures import write_schema_fixture

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
VERSIONS = sorted(int(m.group(1)) for p in FIXTURES.iterdir() if (m := re.fullmatch(r"schema_v(\d+)", p.name)))
FOLDERS = {"articles": "", "duplicates": "_duplicates", "dead_letters": "_dead_letters"}


def _files(version: int, table: str):
    root = FIXTURES / f"schema_v{version}"
    files = sorted((root / FOLDERS[table]).rglob("*.parquet") if FOLDERS[table] else
                   (p for p in root.rglob("*.parquet") if not p.relative_to(root).parts[0].startswith("_")))
    assert files, (version, table)
    return files


def test_current_version_has_a_fixture():
    assert SCHEMA_VERSION in VERSIONS, (
        f"no tests/fixtures/schema_v{SCHEMA_VERSION}: run python -m tests.fixtures.write_schema_fixture")
    assert max(VERSIONS) == SCHEMA_VERSION


@pytest.mark.parametrize("table", sorted(FOLDERS))
def test_schema_change_bumps_the_version(table):
    for path in _files(SCHEMA_VERSION, table):
        written = pq.read_schema(path)
        assert written.metadata[b"newsbeam.schema_version"] == str(SCHEMA_VERSION).encode()
        assert written.remove_metadata().equals(TABLE_SCHEMAS[table].remove_metadata()), (
            f"{table} schema differs from the v{SCHEMA_VERSION} fixture: bump SCHEMA_VERSION "
            "and write a new fixture (python -m tests.fixtures.write_schema_fixture)")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("table", sorted(FOLDERS))
def test_older_files_read_with_the_current_schema(version, table):
    current = TABLE_SCHEMAS[table]
    for path in _files(version, table):
        old = pq.read_schema(path)
        for field in old:  # only ever added: every old column exists, same type
            assert field.name in current.names, (table, field.name)
            assert current.field(field.name).type == field.type, (table, field.name)
        # Read as the current schema: added columns come back null.
        dataset = ds.dataset(str(path), format="parquet", schema=pa.schema(
            [f.with_nullable(True) for f in current]))
        rows = dataset.to_table().to_pylist()
        assert rows and all(r["schema_version"] == version for r in rows)


def test_fixture_reads_as_a_hive_dataset_and_with_duckdb():
    for version in VERSIONS:
        root = FIXTURES / f"schema_v{version}"
        table = ds.dataset(str(root), partitioning="hive").to_table()
        assert table.num_rows == 1 and table.column("topic").to_pylist() == ["politics"]
        con = duckdb.connect()
        articles = con.execute(f"SELECT topic, date, title FROM read_parquet('{root}/topic=*/date=*/*.parquet', "
                               "hive_partitioning=true, union_by_name=true)").fetchall()
        assert [(t, str(d)) for t, d, _ in articles] == [("politics", "2025-05-14")]
        for folder in ("_duplicates", "_dead_letters"):
            rows = con.execute(f"SELECT count(*) FROM read_parquet('{root}/{folder}/date=*/*.parquet', "
                               "hive_partitioning=true, union_by_name=true)").fetchall()
            assert rows == [(1,)], folder


def test_fixture_writer_reproduces_the_current_fixture(tmp_path):
    """The committed fixture is what the current sink writes (same data, same file names)."""
    write_schema_fixture.write(tmp_path / "v")
    fresh = sorted(p.relative_to(tmp_path / "v").as_posix() for p in (tmp_path / "v").rglob("*.parquet"))
    committed_root = FIXTURES / f"schema_v{SCHEMA_VERSION}"
    committed = sorted(p.relative_to(committed_root).as_posix() for p in committed_root.rglob("*.parquet"))
    assert fresh == committed
    for rel in fresh:
        assert pq.read_table(tmp_path / "v" / rel).equals(pq.read_table(committed_root / rel))
