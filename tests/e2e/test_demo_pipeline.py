"""End to end: the CLI as a subprocess against the demo site on a loopback server.

Reads the output back with pyarrow and DuckDB and checks it against the site's
``expected.json`` (written with the pages, independently of the code).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import subprocess
import sys

import duckdb
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from schemas import ARTICLE_SCHEMA, SCHEMA_VERSION
from transforms.entities import LANGUAGE_MODELS

ROOT = pathlib.Path(__file__).resolve().parents[2]
SITE = ROOT / "pipeline" / "demo_site"
EXPECTED = json.loads((SITE / "expected.json").read_text())
PAGES = {k: v for k, v in EXPECTED.items() if not k.startswith("_")}
PUTIN = "econotimes/politics/putin-trump-skip-istanbul-summit.html"


def run_cli(*args, timeout=300):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def feed_args(base_url):
    args = []
    for feed in sorted(EXPECTED["_feeds"]):
        args += ["--feed", f"{base_url}/{feed}"]
    return args


@pytest.fixture(scope="module")
def demo_run(demo_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = run_cli("--output", str(out), "--allow-private-hosts", "--host-delay", "0",
                     *feed_args(demo_site))
    assert result.returncode == 0, result.stderr[-3000:]
    return demo_site, out, result


def _articles(out):
    return ds.dataset(str(out), partitioning="hive").to_table().to_pylist()


def _path(url, base):
    return url[len(base) + 1:] if url.startswith(base) else url


def _side_table(out, name):
    files = sorted(pathlib.Path(out, name).rglob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_articles_match_expectations(demo_run):
    base, out, result = demo_run
    rows = {_path(r["url"], base): r for r in _articles(out)}
    assert len(rows) == len(_articles(out)), "an article was written twice"
    must_be_articles = [p for p, e in PAGES.items() if e["kind"] == "article"]
    for page in must_be_articles:
        assert page in rows, f"missing article {page}"
    for page, exp in PAGES.items():
        if exp["kind"].startswith("exact_duplicate_of") or exp["kind"] in (
                "missing", "robots", "not_html", "not_an_article"):
            assert page not in rows, f"{page} ({exp['kind']}) must not be an article"
    for page in must_be_articles:
        row, exp = rows[page], PAGES[page]
        assert row["title"] == exp["title"], page
        expected_published = dt.datetime.fromisoformat(exp["published"]).astimezone(dt.timezone.utc)
        assert row["published_at"] == expected_published, page
        assert row["date"] == expected_published.date().isoformat(), page
        assert sorted(row["authors"]) == sorted(exp["authors"]), page
        for chrome in exp["must_not_contain"]:
            assert chrome not in row["body"], f"{page}: body contains {chrome!r}"
        assert row["topic"] == exp["topic"], page
        # Pages with a section/URL/category hint use it; text-only pages need the classifier.
        hinted = ("feed_config", "section", "category", "url")
        if exp["topic_from"] == "text":
            assert row["topic_source"] == "classifier", page
        else:
            assert row["topic_source"] in hinted, page
        assert row["language"] == "en" and row["schema_version"] == SCHEMA_VERSION
        assert row["word_count"] >= 200


def test_politics_page(demo_run):
    base, out, _ = demo_run
    row = [r for r in _articles(out) if r["url"].endswith(PUTIN)][0]
    assert row["topic"] == "politics" and row["date"] == "2025-05-15"
    assert row["body"].split("\n")[0].startswith(("Hopes", "Delegations", "Peace", "Russian", "Ukrain",
                                                 "ISTANBUL", "Istanbul")) or len(row["body"]) > 2000
    entities = {(e["text"], e["label"]): e["count"] for e in row["entities"]}
    assert row["entities_model"] == LANGUAGE_MODELS["en"].name
    assert ("Vladimir Putin", "PERSON") in entities and entities[("Putin", "PERSON")] >= 2
    for needed in (("Donald Trump", "PERSON"), ("Volodymyr Zelenskiy", "PERSON"), ("Istanbul", "GPE"),
                   ("Russia", "GPE"), ("Ukraine", "GPE"), ("Ankara", "GPE")):
        assert needed in entities, needed


def test_entities_on_demo_pages(demo_run):
    """Every English page is tagged by the English model; the fine-tuned model keeps names whole."""
    base, out, _ = demo_run
    rows = _articles(out)
    assert rows and all(r["entities_model"] == LANGUAGE_MODELS["en"].name and r["entities"] for r in rows)
    by_page = {_path(r["url"], base): {(e["text"], e["label"]) for e in r["entities"]} for r in rows}
    santos = by_page["econotimes/business/santos-port-strike-strands-shipments.html"]
    assert {("Santos Port Authority", "ORG"), ("São Paulo", "GPE"), ("Brazil", "GPE")} <= santos
    gulls = by_page["ledger/sports/rookie-alvarez-no-hit-bid-gulls.html"]
    assert ("Diego Alvarez", "PERSON") in gulls and not any("gave" in name for name, _ in gulls)


def test_every_input_is_accounted_for(demo_run):
    """Each feed entry ends as an article, a recorded duplicate or a dead letter."""
    base, out, _ = demo_run
    article_urls = {r["url"] for r in _articles(out)}
    duplicates = _side_table(out, "_duplicates")
    dead = _side_table(out, "_dead_letters")
    dup_urls = {r["url"] for r in duplicates}
    dead_by_url = {r["url"]: r for r in dead}
    for feed, links in EXPECTED["_feeds"].items():
        for index, link in enumerate(links):
            if link is None:
                assert any(r["reason"] == "entry_without_link" and r["url"].startswith(f"{base}/{feed}")
                           for r in dead), feed
                continue
            url = f"{base}/{link}"
            assert url in article_urls | dup_urls | set(dead_by_url), f"{url} lost"
    reasons = {_path(u, base): r["reason"] for u, r in dead_by_url.items()}
    assert reasons["econotimes/business/bank-merger-talks-collapse.html"] == "http_4xx"
    assert reasons["ledger/private/draft-budget-memo.html"] == "robots_disallowed"
    assert reasons["econotimes/files/report.pdf"] == "not_html"
    assert reasons["techwire/technology/index.html"] == "not_an_article"
    kinds = {_path(r["url"], base): r["kind"] for r in duplicates}
    assert kinds["techwire/science/azores-hydrothermal-vent-field.html"] == "exact"
    assert kinds["econotimes/business/us-retail-sales-cool-april.html?utm_source=rss&utm_medium=feed"] == "url"
    ids = {r["article_id"] for r in _articles(out)}
    assert all(r["duplicate_of"] in ids for r in duplicates)


def test_duckdb_reads_the_same_rows(demo_run):
    _, out, _ = demo_run
    con = duckdb.connect()
    rows = con.execute(f"SELECT topic, date, count(*) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                       "hive_partitioning=true) GROUP BY ALL ORDER BY ALL").fetchall()
    via_arrow = {}
    for r in _articles(out):
        key = (r["topic"], r["date"])
        via_arrow[key] = via_arrow.get(key, 0) + 1
    assert {(t, d.isoformat()): n for t, d, n in rows} == via_arrow
    hits = con.execute(f"SELECT count(*) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                       "hive_partitioning=true), UNNEST(entities) AS t(e) "
                       "WHERE e.text = 'Vladimir Putin'").fetchall()[0][0]
    assert hits >= 1
    for f in pathlib.Path(out).rglob("topic=*/date=*/*.parquet"):
        assert pq.read_schema(f).equals(ARTICLE_SCHEMA, check_metadata=False)


def test_summary_is_printed(demo_run):
    _, out, result = demo_run
    assert "Articles written:" in result.stdout and "Dead letters:" in result.stdout
    assert "robots_disallowed" in result.stdout
    reports = list(pathlib.Path(out, "_reports").glob("run-*.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["tables"]["articles"] >= 26
    # who decided the topics, and how many fell to "other", match the rows written
    figures = json.loads(reports[0].read_text())["figures"]
    rows = _articles(out)
    by_source = {}
    for row in rows:
        by_source[row["topic_source"] or "none"] = by_source.get(row["topic_source"] or "none", 0) + 1
    assert figures["topic_sources"] == by_source and figures["topic_sources"]["classifier"] >= 1
    assert sum(figures["topic_other_by_source"].values()) == sum(r["topic"] == "other" for r in rows)
    assert figures["opinion_articles"] == sum(r["is_opinion"] for r in rows)
    assert "Who decided the topic" in reports[0].with_suffix(".html").read_text()
    for row in rows:  # confidence only where the classifier decided
        assert (row["topic_confidence"] is not None) == (row["topic_source"] == "classifier"), row["url"]


def test_rerun_adds_nothing(demo_run):
    base, out, _ = demo_run
    before = sorted(str(p.relative_to(out)) for p in pathlib.Path(out).rglob("topic=*/date=*/*.parquet"))
    rows_before = len(_articles(out))
    dup_before = len(_side_table(out, "_duplicates"))
    result = run_cli("--output", str(out), "--allow-private-hosts", "--host-delay", "0", *feed_args(base))
    assert result.returncode == 0, result.stderr[-2000:]
    after = sorted(str(p.relative_to(out)) for p in pathlib.Path(out).rglob("topic=*/date=*/*.parquet"))
    assert after == before and len(_articles(out)) == rows_before
    assert len(_side_table(out, "_duplicates")) == dup_before
    assert "Articles written: 0" in result.stdout


def test_syndicated_copies_are_near_duplicates(demo_run):
    """The wire story's rewritten copies fold into the original as ``near``
    duplicates; the hard negative (same cup, different story) stays two articles."""
    base, out, _ = demo_run
    rows = {_path(r["url"], base): r for r in _articles(out)}
    duplicates = {_path(r["url"], base): r for r in _side_table(out, "_duplicates")}
    near = {page: exp["kind"].split(":", 1)[1] for page, exp in PAGES.items()
            if exp["kind"].startswith("near_duplicate_of:")}
    assert len(near) == 2
    for page, original in near.items():
        assert page not in rows, f"{page} is a near copy, not an article"
        dup = duplicates[page]
        assert dup["kind"] == "near" and dup["duplicate_of"] == rows[original]["article_id"], page
        assert 0.45 <= dup["similarity"] <= 1.0
    for original in set(near.values()):
        assert rows[original]["cluster_size"] == 1 + sum(1 for o in near.values() if o == original)
    for a, b in EXPECTED["_hard_negatives"]:
        assert a in rows and b in rows and rows[a]["article_id"] != rows[b]["article_id"]
        assert a not in duplicates and b not in duplicates
    signatures = _side_table(out, "_state/signatures")
    stories = [r for r in signatures if r["copy_of"] is None]
    assert {r["article_id"] for r in stories} == {r["article_id"] for r in rows.values()}
    # the near copies' rows (a later run finds copies of copies), under their story
    assert sorted((r["article_id"], r["copy_of"]) for r in signatures if r["copy_of"]) == sorted(
        (duplicates[page]["article_id"], rows[original]["article_id"]) for page, original in near.items())


# --------------------------------------------------------------------------- every reader

def _triples(article_ids, topics, dates):
    return sorted(zip(map(str, article_ids), map(str, topics), (str(d)[:10] for d in dates)))


def test_every_parquet_reader_reads_the_lake_as_it_is(demo_run):
    """pandas, pyarrow (read_table and dataset), DuckDB and Polars read the output with
    their one-liners from the README: same rows, topic and date once each."""
    import pandas as pd
    import polars as pl
    _base, out, result = demo_run
    assert "apitools" not in result.stderr  # Beam's BigQuery notice never reaches the user
    root = str(out)
    reference = ds.dataset(root, partitioning="hive").to_table()
    expected = _triples(*(reference.column(c).to_pylist() for c in ("article_id", "topic", "date")))
    assert len(expected) == reference.num_rows > 0

    frame = pd.read_parquet(root)
    assert list(frame.columns).count("topic") == 1 and list(frame.columns).count("date") == 1
    assert _triples(frame["article_id"], frame["topic"], frame["date"]) == expected
    assert str(frame["published_at"].dtype).startswith("datetime64")

    table = pq.read_table(root)
    assert table.column_names.count("topic") == 1
    assert _triples(*(table.column(c).to_pylist() for c in ("article_id", "topic", "date"))) == expected

    con = duckdb.connect()
    rows = con.execute(f"SELECT article_id, topic, date, typeof(date) FROM read_parquet("
                       f"'{root}/topic=*/date=*/*.parquet', hive_partitioning=true)").fetchall()
    assert _triples(*zip(*[r[:3] for r in rows])) == expected and {r[3] for r in rows} == {"DATE"}

    lazy = pl.scan_parquet(f"{root}/topic=*/date=*/*.parquet", hive_partitioning=True)
    schema = lazy.collect_schema()
    assert schema.names().count("topic") == 1 and str(schema["date"]) == "Date"
    polars_rows = lazy.select("article_id", "topic", "date").collect()
    assert _triples(*(polars_rows[c].to_list() for c in ("article_id", "topic", "date"))) == expected
    # Run reports, state and side tables stay out of the bare-folder readers' way.
    assert set(frame["schema_version"]) == {SCHEMA_VERSION}


def _spark_python():
    import shutil
    python = ROOT / ".venv-spark" / "bin" / "python"
    if not (ROOT / ".venv-spark" / ".newsbeam-pyspark").exists() or not python.exists():
        return None, "no .venv-spark (run_tests.sh makes it where Java is available; NEWSBEAM_SKIP_SPARK=1 skips)"
    if shutil.which("java") is None:
        return None, "no Java runtime (run_tests.sh installs one with apt-get where it can)"
    return python, ""


def test_spark_reads_the_lake_as_it_is(demo_run):
    """``spark.read.parquet(DIR)`` (Spark skips ``_``-prefixed folders like pyarrow)."""
    python, why = _spark_python()
    if python is None:
        print(f"skipping the Spark reader test: {why}", file=sys.stderr)
        pytest.skip(why)
    _base, out, _result = demo_run
    result = subprocess.run([str(python), str(ROOT / "tests" / "e2e" / "spark_read.py"), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    spark = json.loads(result.stdout.strip().splitlines()[-1])
    assert spark["columns"].count("topic") == 1 and spark["columns"].count("date") == 1
    assert spark["types"]["date"] == "date" and spark["types"]["topic"] == "string"
    reference = ds.dataset(str(out), partitioning="hive").to_table()
    expected = _triples(*(reference.column(c).to_pylist() for c in ("article_id", "topic", "date")))
    assert _triples(*zip(*spark["rows"])) == expected


def test_a_page_without_date_markup_gets_no_invented_date(demo_site, tmp_path):
    """Fetched with --url (no feed date), the naps page has no date markup, only a
    "© 2025" footer: published_at stays null, date_source is "none", the partition is
    the fetch day, and the summary and report count it (it used to be 2025-01-01)."""
    page = "ledger/health/short-naps-memory-older-adults.html"
    out = tmp_path / "out"
    before = dt.datetime.now(dt.timezone.utc).date()
    result = run_cli("--output", str(out), "--allow-private-hosts", "--host-delay", "0",
                     "--url", f"{demo_site}/{page}")
    after = dt.datetime.now(dt.timezone.utc).date()
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _articles(out)
    assert len(rows) == 1 and rows[0]["url"].endswith(page)
    row = rows[0]
    assert row["published_at"] is None and row["date_source"] == "none"
    assert row["date"] in (before.isoformat(), after.isoformat())
    assert row["date"] == row["fetched_at"].date().isoformat()
    assert "Articles without a publish date: 1 of 1" in result.stdout
    report = json.loads(next(pathlib.Path(out, "_reports").glob("run-*.json")).read_text())
    assert report["figures"]["articles_without_publish_date"] == 1
