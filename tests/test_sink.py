"""Partitioned Parquet: atomic, deterministic, readable by pyarrow and DuckDB."""
import datetime as dt
import os

import apache_beam as beam
import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from schemas import ARTICLE_SCHEMA, DEAD_LETTER_SCHEMA, SCHEMA_VERSION
from schemas.records import Article, DeadLetter, Entity
from transforms import sink, urls

T0 = dt.datetime(2025, 5, 15, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-3)))  # UTC: the 16th


def art(i, topic="politics", published=T0):
    url = f"https://a.example/{i}.html"
    return Article(article_id=urls.article_id(url), url=url, canonical_url=url, source_domain="a.example",
                   feed_url=None, title=f"t{i}", authors=("A B",), published_at=published,
                   modified_at=None, date_source="meta", fetched_at=T0, language="en", topic=topic,
                   topic_source="section", section="Politics", body="body text", word_count=2,
                   content_hash=f"h{i}", entities=(Entity("Vladimir Putin", "PERSON", 2),))


def test_partition_values_are_sanitised():
    assert sink.article_partition(art(1)) == "topic=politics/date=2025-05-16"
    assert sink.article_partition(art(1, topic="../../etc")) == "topic=other/date=2025-05-16"
    assert sink.article_partition(art(1, topic="politics/../../x")).startswith("topic=other/")
    assert sink.article_partition(art(1, published=None)).endswith("date=2025-05-16")  # fetch date


def test_write_partitioned_then_read_back(tmp_path):
    out = str(tmp_path / "out")
    articles = [art(i) for i in range(5)] + [art(9, topic="sports")]
    with TestPipeline(runner="FnApiRunner") as p:
        _ = p | beam.Create(articles) | sink.WritePartitioned(out, "articles", max_rows=3)
        _ = (p | "DL" >> beam.Create([DeadLetter("https://x/1", "fetch", "http_4xx", "HTTP 404", T0)])
             | "WDL" >> sink.WritePartitioned(out, "dead_letters"))
    files = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out) for f in fs)
    assert len([f for f in files if f.startswith("topic=politics/date=2025-05-16/part-")]) == 2
    assert not [f for f in files if ".tmp" in f]
    table = ds.dataset(out, partitioning="hive").to_table()
    assert table.num_rows == 6
    assert set(table.column("topic").to_pylist()) == {"politics", "sports"}
    file_schema = pq.read_schema(os.path.join(out, files[-1]))
    assert file_schema.equals(ARTICLE_SCHEMA, check_metadata=False)
    assert file_schema.metadata[b"newsbeam.schema_version"] == str(SCHEMA_VERSION).encode()
    rows = duckdb.sql(f"SELECT topic, date, count(*) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                      "hive_partitioning=true) GROUP BY ALL ORDER BY ALL").fetchall()
    assert rows == [("politics", dt.date(2025, 5, 16), 5), ("sports", dt.date(2025, 5, 16), 1)]
    dl = pq.read_table(os.path.join(out, "_dead_letters", "date=2025-05-16",
                                    os.listdir(os.path.join(out, "_dead_letters", "date=2025-05-16"))[0]))
    assert dl.schema.equals(DEAD_LETTER_SCHEMA, check_metadata=False)
    assert dl.to_pylist()[0]["reason"] == "http_4xx"


def test_same_rows_same_file_names(tmp_path):
    out = str(tmp_path)
    rows = [sink.arrow_schemas.article_to_row(art(i)) for i in range(3)]
    first = sink.write_partition(out, "articles", "topic=politics/date=2025-05-16", rows)
    second = sink.write_partition(out, "articles", "topic=politics/date=2025-05-16", list(reversed(rows)))
    assert [r["path"] for r in first] == [r["path"] for r in second]
    assert len(os.listdir(os.path.join(out, "topic=politics", "date=2025-05-16"))) == 1


def test_schema_mismatch_raises_instead_of_writing(tmp_path):
    row = sink.arrow_schemas.article_to_row(art(1))
    row["word_count"] = "many"
    with pytest.raises(Exception):
        sink.write_partition(str(tmp_path), "articles", "topic=politics/date=2025-05-16", [row])
    assert not any(f.endswith(".parquet") for _, _, fs in os.walk(tmp_path) for f in fs)


def test_rows_already_in_a_partition_are_not_written_again(tmp_path):
    """A job killed after its data files but before its index: the rerun adds only what is missing."""
    out = str(tmp_path / "out")
    part = "topic=politics/date=2025-05-16"
    first = [sink.arrow_schemas.article_to_row(art(i)) for i in range(2)]
    sink.write_partition(out, "articles", part, first)
    rerun = [sink.arrow_schemas.article_to_row(art(i)) for i in range(3)]  # one more page succeeded
    written = sink.write_partition(out, "articles", part, rerun, skip_existing=True)
    assert [(w["table"], w["rows"]) for w in written] == [("articles", 1), (sink.PRESENT, 2)]
    assert written[1]["urls"] == [f"https://a.example/{i}.html" for i in range(2)]
    ids = ds.dataset(out, partitioning="hive").to_table().column("article_id").to_pylist()
    assert sorted(ids) == sorted(urls.article_id(f"https://a.example/{i}.html") for i in range(3))
    again = sink.write_partition(out, "articles", part, rerun, skip_existing=True)
    assert [(w["table"], w["rows"]) for w in again] == [(sink.PRESENT, 3)]
    # Compaction-style rewrites (skip_existing=False) still rewrite everything.
    assert sum(w["rows"] for w in sink.write_partition(out, "articles", part, rerun)) == 3


def test_staged_files_are_invisible_until_committed(tmp_path):
    """A run stopped before its commit leaves readers nothing; the commit publishes
    every staged file under its final name; the next run clears leftovers."""
    out = str(tmp_path / "out")
    staging = sink.staging_root(out, "run-1")
    rows = [sink.arrow_schemas.article_to_row(art(i)) for i in range(3)]
    records = sink.write_partition(out, "articles", "topic=politics/date=2025-05-16", rows, staging=staging)
    assert [r["rows"] for r in records] == [3]
    assert not os.path.exists(os.path.join(out, "topic=politics"))
    assert ds.dataset(out, partitioning="hive").to_table().num_rows == 0  # _staging is skipped by readers
    published = sink.commit_staged(records)
    assert "staged" not in published[0] and os.path.exists(published[0]["path"])
    assert pq.read_table(out).num_rows == 3
    assert sink.clear_staging(out) == 0 and not os.path.exists(os.path.join(out, "_staging"))
    sink.write_partition(out, "articles", "topic=politics/date=2025-05-16", rows[:1],
                         staging=sink.staging_root(out, "run-2"))
    assert sink.clear_staging(out) == 1 and not os.path.exists(os.path.join(out, "_staging"))
    assert pq.read_table(out).num_rows == 3


def test_planned_files_matches_what_write_partition_makes(tmp_path):
    rows = [sink.arrow_schemas.article_to_row(art(i)) for i in range(5)]
    rows += rows[:2]  # a retried write: same keys once
    written = sink.write_partition(str(tmp_path), "articles", "topic=politics/date=2025-05-16", rows, max_rows=2)
    assert sink.planned_files("articles", rows, max_rows=2) == len(written) == 3


def test_report_counts_every_entity_of_an_article():
    row = sink.arrow_schemas.article_to_row(art(1))
    row["entities"] = [{"text": f"E{i}", "label": "ORG", "count": 1} for i in range(12)]
    assert len(sink._counts("articles", [row])["entities"]) == 12
