"""The hostile corpus (tests/hostile/generate.py, >= 200 files) through the CLI, end to end.

Saved pages go in with ``--html-dir``; hostile feeds (billion laughs, XXE, external
DTD, parameter entities, XInclude) go in as operator file feeds whose entries point
at a real loopback server, which also records whether anything tried to fetch the
external entities. Asserts: exit 0, every input is a row, a duplicate or a dead
letter (the summary's ``unaccounted: 0`` and our own recount), nothing written
outside ``--output``, only taxonomy topics and valid dates as partitions, every
file readable and matching ``schemas/``, and a bounded wall time.
"""
from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import time

import pyarrow.parquet as pq
import pytest

from schemas import TABLE_SCHEMAS, TOPICS
from schemas.reasons import REASONS, STAGES
from tests.conftest import MisbehavingServer, article_html
from tests.e2e.test_accounting import SUMMARY
from tests.e2e.test_demo_pipeline import run_cli
from tests.hostile import generate

EXTRACT_TIMEOUT = 5.0
PARTITION = re.compile(r"^topic=([a-z]+)/date=(\d{4}-\d{2}-\d{2})$")


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    server = MisbehavingServer().start()
    for i, link in enumerate(generate.FEED_LINKS):
        server.add_body(link, article_html(f"Feed story number {i} about the harbour"))
    try:
        root = tmp_path_factory.mktemp("hostile")
        corpus, out = root / "corpus", root / "out"
        families = generate.write(corpus, page_base=server.base)
        before = sorted(p for p in root.rglob("*") if p.is_file())
        feed_args = [a for f in sorted((corpus / "feeds").iterdir()) for a in ("--feed", str(f))]
        started = time.monotonic()
        result = run_cli("--output", str(out), "--html-dir", str(corpus / "pages"), *feed_args,
                         "--allow-private-hosts", "--host-delay", "0", "--quiet",
                         "--extract-timeout", str(EXTRACT_TIMEOUT), timeout=600)
        elapsed = time.monotonic() - started
        after = sorted(p for p in root.rglob("*") if p.is_file())
        yield {"root": root, "corpus": corpus, "out": out, "result": result, "elapsed": elapsed,
               "families": families, "new_files": [p for p in after if p not in before],
               "hits": dict(server.hits)}
    finally:
        server.stop()


def test_corpus_is_big_enough_and_deterministic(corpus_run):
    assert sum(corpus_run["families"].values()) >= 200
    again = generate.pages()
    first = [(name, data) for _f, name, data in again]
    assert first == [(name, data) for _f, name, data in generate.pages()]


def test_job_succeeds_and_accounts_for_every_input(corpus_run):
    result = corpus_run["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    match = SUMMARY.search(result.stdout)
    assert match, result.stdout
    inputs, articles, duplicates, dead, already, unaccounted = map(int, match.groups())
    pages = sum(1 for p in (corpus_run["corpus"] / "pages").rglob("*") if p.is_file())
    assert inputs == pages + len(generate.FEED_LINKS)
    assert unaccounted == 0 and inputs == articles + duplicates + dead + already
    assert articles > 100 and dead > 10 and duplicates > 0
    # Within a budget: about 2 s of extraction per page at most, plus start-up.
    assert corpus_run["elapsed"] < 240, corpus_run["elapsed"]


def _tables(out: pathlib.Path):
    found = {}
    for path in sorted(out.rglob("*.parquet")):
        rel = path.relative_to(out).as_posix()
        table = {"_duplicates": "duplicates", "_dead_letters": "dead_letters"}.get(rel.split("/")[0])
        if rel.startswith("_state/index"):
            table = "index"
        elif rel.startswith("_state/signatures"):
            table = "signatures"
        elif table is None:
            table = "articles"
        found.setdefault(table, []).append(path)
    return found


def test_nothing_written_outside_output(corpus_run):
    out = corpus_run["out"].resolve()
    for path in corpus_run["new_files"]:
        assert out in path.resolve().parents, f"written outside --output: {path}"
    for path in out.rglob("*"):
        assert not path.is_symlink()
        assert out in path.resolve().parents


def test_partitions_only_from_taxonomy_and_valid_dates(corpus_run):
    out = corpus_run["out"]
    for path in _tables(out)["articles"]:
        partition = path.parent.relative_to(out).as_posix()
        match = PARTITION.match(partition)
        assert match, partition
        assert match.group(1) in TOPICS
        dt.date.fromisoformat(match.group(2))
        assert re.fullmatch(r"part-[0-9a-f]{20}\.parquet", path.name)
    for folder in ("_duplicates", "_dead_letters"):
        for path in (out / folder).rglob("*.parquet"):
            assert re.fullmatch(r"date=\d{4}-\d{2}-\d{2}", path.parent.name)
    names = {p.name for p in out.iterdir()}
    assert names <= {f"topic={t}" for t in TOPICS} | {"_duplicates", "_dead_letters", "_state", "_reports"}


def test_every_file_is_complete_and_matches_the_schema(corpus_run):
    out = corpus_run["out"]
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"
    for table, paths in _tables(out).items():
        expected = TABLE_SCHEMAS[table]
        for path in paths:
            schema = pq.read_schema(path)
            assert schema.remove_metadata().equals(expected.remove_metadata()), path
            pq.read_table(path)  # the whole file decodes
    for row in (r for p in _tables(out)["dead_letters"] for r in pq.read_table(p).to_pylist()):
        assert row["reason"] in REASONS and row["stage"] in STAGES


def test_hostile_cases_have_the_expected_outcomes(corpus_run):
    out = corpus_run["out"]
    dead = {pathlib.PurePosixPath(r["url"]).name: r["reason"]
            for p in _tables(out)["dead_letters"] for r in pq.read_table(p).to_pylist()}
    assert dead["stuck-attributes.html"] == "extract_timeout"
    # 5 MB on one line finishes in ~4-12 s depending on the machine: a row or a timeout, never a crash.
    article_names = {pathlib.PurePosixPath(r["url"]).name
                     for p in _tables(out)["articles"] for r in pq.read_table(p, columns=["url"]).to_pylist()}
    assert dead.get("single-line-5mb.html") == "extract_timeout" or "single-line-5mb.html" in article_names
    assert dead["many-tags-guarded.html"] == "too_large"
    assert dead["bomb.html.gz"] == "too_large"
    assert dead["truncated.html.gz"] == "file_error" and dead["not-gzip.html.gz"] == "file_error"
    for name in ("empty.html", "nul-only.html", "whitespace.html"):
        assert dead[name] == "empty_extraction", name
    # No external entity, DTD or XInclude was fetched; every feed's entry was.
    hits = corpus_run["hits"]
    assert not [p for p in generate.FETCH_PROBES if hits.get(p)], hits
    assert all(hits.get(link) for link in generate.FEED_LINKS), hits
    rows = [r for p in _tables(out)["articles"] for r in pq.read_table(p).to_pylist()]
    assert not any("root:" in (r["title"] or "") + r["body"] for r in rows), "XXE content leaked"
    assert not any(len(r["title"] or "") > 1000 for r in rows)


def test_report_records_the_accounting(corpus_run):
    report = sorted((corpus_run["out"] / "_reports").glob("run-*.json"))[-1]
    figures = json.loads(report.read_text())["figures"]["accounting"]
    assert figures["unaccounted"] == 0 and figures["unaccounted_examples"] == []
