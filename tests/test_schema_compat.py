"""Schema compatibility: files written by every earlier ``SCHEMA_VERSION`` stay readable.

``tests/fixtures/schema_v<N>/`` holds a tiny dataset written by version N's sink
(``python -m tests.fixtures.write_schema_fixture``). The current version must have
its fixture, and its schemas must equal the fixture's: changing a schema without
bumping ``SCHEMA_VERSION`` (and writing the new fixture) fails here. Older
fixtures must read with the current code: columns may only be added, never
renamed, dropped or retyped -- except that a column may move into the partition
path (``MOVED_TO_PATH``: v3 moved ``topic``), where every reader still sees it.
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
from schemas.arrow import MOVED_TO_PATH, PARTITION_COLUMNS
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
            if field.name in MOVED_TO_PATH.get(table, ()):
                assert field.name in PARTITION_COLUMNS[table]
                continue  # now only in the partition path (checked below)
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


def test_only_a_partition_column_left_the_files():
    """v3 dropped ``topic`` from the article files; nothing else may disappear."""
    for version in VERSIONS:
        for table in FOLDERS:
            old = set(pq.read_schema(_files(version, table)[0]).names)
            gone = old - set(TABLE_SCHEMAS[table].names)
            assert gone <= MOVED_TO_PATH.get(table, frozenset()), (version, table, gone)
    assert not set(PARTITION_COLUMNS["articles"]) & set(TABLE_SCHEMAS["articles"].names)


def test_old_and_new_files_read_together_with_topic_once(tmp_path):
    """A lake holding v2 files (topic in the file) and v3 files (topic in the path
    only) reads as one hive dataset with ``topic`` once, from the path."""
    import shutil
    for version in VERSIONS:  # same keys, so same file name: keep both under new names
        for path in _files(version, "articles"):
            target = tmp_path / path.relative_to(FIXTURES / f"schema_v{version}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target.with_name(f"v{version}-{target.name}"))
    current = TABLE_SCHEMAS["articles"]
    dataset = ds.dataset(str(tmp_path), partitioning="hive",
                         schema=pa.schema([f.with_nullable(True) for f in current]
                                          + [pa.field("topic", pa.string()), pa.field("date", pa.string())]))
    rows = dataset.to_table().to_pylist()
    assert len(rows) == len(VERSIONS)
    assert {r["topic"] for r in rows} == {"politics"} and {r["date"] for r in rows} == {"2025-05-14"}
    assert sorted(r["schema_version"] for r in rows) == VERSIONS
