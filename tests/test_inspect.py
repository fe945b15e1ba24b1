"""``python -m pipeline.inspect`` over files written by the sink (in-process, no job)."""
from __future__ import annotations

import datetime as dt
import json
import pathlib
import shutil

import pytest

from pipeline import inspect
from schemas import arrow as arrow_schemas
from schemas.records import Article, DeadLetter, Entity
from tests.fixtures import write_schema_fixture
from transforms import sink, urls

T0 = dt.datetime(2025, 5, 15, 12, 0, tzinfo=dt.timezone.utc)


def article(i, topic, entities):
    url = f"https://a.example/{i}.html"
    return Article(article_id=urls.article_id(url), url=url, canonical_url=url, source_domain="a.example",
                   feed_url=None, title=f"Story {i}", authors=(), published_at=T0 + dt.timedelta(days=i % 2),
                   modified_at=None, date_source="meta", fetched_at=T0 + dt.timedelta(days=2), language="en",
                   topic=topic, topic_source="section", section=None, body="text " * 80, word_count=80,
                   content_hash=f"h{i}", entities=tuple(Entity(t, "PERSON", 1) for t in entities))


@pytest.fixture
def output(tmp_path):
    out = str(tmp_path / "it's out")  # a quote in the path must not break the SQL
    rows = [article(1, "politics", ["Volodymyr Zelenskiy", "Vladimir Putin"]),
            article(2, "politics", ["Vladimir Putin"]), article(3, "sports", [])]
    for part in sorted({sink.article_partition(a) for a in rows}):
        sink.write_partition(out, "articles", part,
                             [arrow_schemas.article_to_row(a) for a in rows if sink.article_partition(a) == part])
    letter = DeadLetter("https://b.example/x", "fetch", "http_4xx", "HTTP 404", T0)
    sink.write_partition(out, "dead_letters", sink.date_partition(T0), [arrow_schemas.dead_letter_to_row(letter)])
    return out


def test_counts_entity_and_sql(output, capsys):
    assert inspect.main([output]) == 0
    text = capsys.readouterr().out
    assert "politics  2025-05-15         1" in text and "politics  2025-05-16         1" in text
    assert "sports    2025-05-16         1" in text and "3 articles in" in text

    assert inspect.main([output, "--entity", "zelensk", "--format", "json"]) == 0
    [hit] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert hit["entity"] == "Volodymyr Zelenskiy" and hit["title"] == "Story 1" and hit["date"] == "2025-05-16"

    assert inspect.main([output, "--sql", "SELECT reason, count(*) AS n FROM dead_letters GROUP BY 1",
                         "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["reason,n", "http_4xx,1"]


def test_tables_without_files_are_empty_views_with_columns(tmp_path, capsys):
    assert inspect.main([str(tmp_path), "--entity", "anyone"]) == 0
    assert "(0 rows)" in capsys.readouterr().out
    assert inspect.main([str(tmp_path), "--sql", "SELECT count(*) AS n, max(similarity) FROM duplicates"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["0"]


def test_mistakes_are_one_line(tmp_path, capsys):
    assert inspect.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("inspect: error: ")
    assert inspect.main([str(tmp_path), "--sql", "SELECT nope FROM articles"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("inspect: error: ") and len(err.strip().splitlines()) == 1


def test_usage_view_needs_schema_3_files(tmp_path, capsys):
    """Files written before schema 3 have no usage column: a clear error, not a DuckDB binder message."""
    shutil.copytree(pathlib.Path(__file__).parent / "fixtures" / "schema_v2", tmp_path / "old")
    assert inspect.main([str(tmp_path / "old"), "--usage"]) == 2
    assert "before schema 3" in capsys.readouterr().err
    write_schema_fixture.write(tmp_path / "new")  # the current schema, usage filled
    assert inspect.main([str(tmp_path / "new"), "--usage", "--format", "json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (row["source"], row["tdm_reserved"], row["noai"], row["not_free"]) == ("example.com", 1, 1, 1)


def test_clusters_view_counts_copies_of_every_run_and_one_hop(output):
    """Copies recorded later (one pointing at a copy, as streaming may) count for the story;
    a row for the story's own URL does not."""
    from schemas.records import Duplicate
    story = article(1, "politics", [])
    copy_url, hop_url = "https://b.example/copy.html", "https://www.c.example/hop.html"
    copy_id = urls.article_id(copy_url)
    rows = [Duplicate(copy_url, copy_id, story.article_id, "near", 0.8, T0),
            Duplicate(hop_url, urls.article_id(hop_url), copy_id, "near", 0.7, T0 + dt.timedelta(days=1)),
            Duplicate(story.url, story.article_id, story.article_id, "url", 1.0, T0)]
    for row in rows:
        sink.write_partition(output, "duplicates", sink.date_partition(row.detected_at),
                             [arrow_schemas.duplicate_to_row(row)])
    con = inspect.connect(output)
    got = con.execute("SELECT article_id, cluster_size, cluster_sources, cluster_size_when_written "
                      "FROM clusters ORDER BY article_id").fetchall()
    sizes = {a: (n, sources, before) for a, n, sources, before in got}
    assert sizes[story.article_id] == (3, ["a.example", "b.example", "c.example"], 1)
    assert sorted(n for n, _, _ in sizes.values()) == [1, 1, 3]
