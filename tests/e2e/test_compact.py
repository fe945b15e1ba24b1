"""Compaction merges small files without changing rows."""
import datetime as dt
import os
import pathlib
import subprocess
import sys

import duckdb
import pyarrow.dataset as ds

from schemas import arrow as arrow_schemas
from schemas.records import Article, DeadLetter
from transforms import sink, urls

ROOT = pathlib.Path(__file__).resolve().parents[2]
T0 = dt.datetime(2025, 5, 15, 12, 0, tzinfo=dt.timezone.utc)


def art(i):
    url = f"https://a.example/{i}.html"
    return Article(article_id=urls.article_id(url), url=url, canonical_url=url, source_domain="a.example",
                   feed_url=None, title=f"t{i}", authors=(), published_at=T0, modified_at=None,
                   date_source="meta", fetched_at=T0, language="en", topic="politics",
                   topic_source="section", section=None, body=f"body {i}", word_count=2,
                   content_hash=f"h{i}")


def rows_of(out):
    table = ds.dataset(str(out), partitioning="hive").to_table()
    return sorted(table.column("article_id").to_pylist())


def test_compact_merges_files_and_keeps_rows(tmp_path):
    out = tmp_path / "out"
    part = "topic=politics/date=2025-05-15"
    # Five small "windows", one of them written twice (a retried window), plus dead letters.
    batches = [[art(i) for i in range(k * 3, k * 3 + 3)] for k in range(5)] + [[art(0), art(1)]]
    for batch in batches:
        sink.write_partition(str(out), "articles", part, [arrow_schemas.article_to_row(a) for a in batch])
    for i in range(3):
        sink.write_partition(str(out), "dead_letters", "date=2025-05-15",
                             [arrow_schemas.dead_letter_to_row(DeadLetter(f"https://x/{i}", "fetch", "timeout", "", T0))])
    before_files = len(list((out / part).glob("*.parquet")))
    assert before_files == 6
    expected = sorted({a.article_id for b in batches for a in b})
    assert len(rows_of(out)) == 17  # 15 distinct + 2 repeated

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    dry = subprocess.run([sys.executable, "-m", "pipeline.compact", str(out), "--dry-run"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert len(list((out / part).glob("*.parquet"))) == 6  # nothing changed
    result = subprocess.run([sys.executable, "-m", "pipeline.compact", str(out)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    # The dry run said exactly what the real run then did.
    assert dry.stdout.replace("would merge", "merged") == result.stdout
    assert "apitools" not in dry.stderr + result.stderr
    assert "6 -> 1 files" in result.stdout and "3 -> 1 files" in result.stdout
    assert len(list((out / part).glob("*.parquet"))) == 1
    assert rows_of(out) == expected
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{out}/_dead_letters/date=*/*.parquet')").fetchall()[0][0]
    assert n == 3
    # Idempotent: a second compaction changes nothing.
    again = subprocess.run([sys.executable, "-m", "pipeline.compact", str(out)], env=env, cwd=ROOT,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "merged 0 of" in again.stdout
    assert rows_of(out) == expected


def test_compact_rewrites_pre_v3_files_so_pandas_and_pyarrow_read_them(tmp_path):
    """An output written before schema v3 (topic also inside the files) reads with
    pyarrow.dataset, and after one compaction with pq.read_table / pandas too."""
    import shutil
    import pyarrow.parquet as pq
    out = tmp_path / "old"
    shutil.copytree(ROOT / "tests" / "fixtures" / "schema_v2", out)
    try:
        pq.read_table(str(out))
        merged_before = True
    except Exception:  # the bug of #19: string vs dictionary<string>
        merged_before = False
    assert not merged_before
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-m", "pipeline.compact", str(out)], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "articles/topic=politics/date=2025-05-14: 1 -> 1 files" in result.stdout
    table = pq.read_table(str(out))
    assert table.num_rows == 1 and table.column_names.count("topic") == 1
    assert table.column("topic").to_pylist() == ["politics"]
    assert table.column("title").to_pylist() == ["Council rejects housing levy"]
