"""A batch run fed to the local runner in chunks (``--chunk-pages``, pipeline/chunks.py):
one run for the user (one summary, one report, accounting that adds up), later
chunks dedup against earlier ones as a rerun does, deterministic and idempotent.

Saved pages (sorted: ``a/`` then ``b/``), ``--chunk-pages 3``: chunk 1 holds
a/harbour, a/library and a/stub (a dead letter); chunk 2 holds b/harbour-saved-again
(the same canonical URL as a/harbour: already written, as on a rerun) and
b/library-mirror (an exact copy of a/library under its own canonical URL: a
duplicate of chunk 1's article).
"""
from __future__ import annotations

import json
import pathlib
import re

import duckdb
import pytest

from core.warc import WarcRange
from pipeline import chunks
from pipeline.sources_file import Sources
from schemas.records import FeedRequest, PageRequest
from tests.e2e.test_accounting import SUMMARY, _page, _rows
from tests.e2e.test_demo_pipeline import run_cli


def _pages(root: pathlib.Path) -> pathlib.Path:
    pages = root / "pages"
    (pages / "a").mkdir(parents=True)
    (pages / "b").mkdir()
    (pages / "a" / "harbour.html").write_text(_page("harbour", "https://example.org/news/harbour"))
    (pages / "a" / "library.html").write_text(_page("library", "https://example.org/news/library"))
    (pages / "a" / "stub.html").write_text("<html><head><title>Soon</title></head><body><p>Coming soon.</p></body></html>")
    (pages / "b" / "harbour-saved-again.html").write_text(_page("harbour", "https://example.org/news/harbour"))
    (pages / "b" / "library-mirror.html").write_text(_page("library", "https://mirror.example.net/library"))
    return pages


def _run(pages, out, *extra):
    result = run_cli("--html-dir", str(pages), "--output", str(out), "--quiet", "--chunk-pages", "3", *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _report(out: pathlib.Path, stdout: str) -> dict:
    return json.loads(pathlib.Path(re.search(r"figures: (\S+\.json)\)", stdout).group(1)).read_text())


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    root = tmp_path_factory.mktemp("chunked")
    pages = _pages(root)
    first = _run(pages, root / "out")
    again = _run(pages, root / "fresh")  # the same input into a fresh output
    rerun = _run(pages, root / "out")    # the same input into the same output
    return pages, root, first, again, rerun


def test_one_summary_and_report_that_add_up(chunked):
    _pages_, root, first, _again, _rerun = chunked
    out = root / "out"
    inputs, articles, duplicates, dead, already, unaccounted = map(int, SUMMARY.search(first.stdout).groups())
    assert (inputs, articles, duplicates, dead, already, unaccounted) == (5, 2, 1, 1, 1, 0)
    assert first.stdout.count("newsbeam run ") == 1 and first.stderr.strip() == ""
    assert "Ran as 2 of 2 chunks of at most 3 pages" in first.stdout
    report = _report(out, first.stdout)
    assert report["chunks"] == {"planned": 2, "completed": 2, "chunk_pages": 3}
    # ONE report per run (this one and the rerun): the chunks' own manifests were merged and removed.
    rerun_id = _report(out, chunked[4].stdout)["run_id"]
    assert sorted(p.name for p in (out / "_reports").iterdir()) == sorted(
        f"run-{run_id}.{kind}" for run_id in (report["run_id"], rerun_id) for kind in ("html", "json"))
    assert not (out / "_staging").exists() and not (out / "_state" / "lock.json").exists()
    figures = report["figures"]
    written, copies, failed = _rows(out, ""), _rows(out, "_duplicates"), _rows(out, "_dead_letters")
    assert (figures["articles"], figures["duplicates"], figures["dead_letters"]) == \
        (len(written), len(copies), len(failed)) == (articles, duplicates, dead)
    assert figures["accounting"]["inputs"] == inputs and figures["accounting"]["already_written"] == already
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                       f"hive_partitioning=true)").fetchone()[0] == articles
    assert con.execute(f"SELECT count(*) FROM read_parquet('{out}/_duplicates/**/*.parquet')").fetchone()[0] \
        == duplicates


def test_a_copy_in_a_later_chunk_points_at_the_earlier_chunks_article(chunked):
    _pages_, root, *_ = chunked
    out = root / "out"
    by_url = {r["canonical_url"]: r for r in _rows(out, "")}
    [copy] = _rows(out, "_duplicates")
    assert copy["kind"] == "exact" and copy["url"] == "https://mirror.example.net/library"
    assert copy["duplicate_of"] == by_url["https://example.org/news/library"]["article_id"] != copy["article_id"]


def test_same_rows_in_a_fresh_output_and_a_rerun_adds_nothing(chunked):
    _pages_, root, _first, again, rerun = chunked

    def rows(out, folder, keys):
        return sorted(tuple(r[k] for k in keys) for r in _rows(out, folder))
    article_keys = ("article_id", "canonical_url", "body", "content_hash", "cluster_size", "title", "published_at")
    assert rows(root / "out", "", article_keys) == rows(root / "fresh", "", article_keys)
    dup_keys = ("article_id", "url", "duplicate_of", "kind")
    assert rows(root / "out", "_duplicates", dup_keys) == rows(root / "fresh", "_duplicates", dup_keys)
    assert len(_rows(root / "out", "_dead_letters")) == len(_rows(root / "fresh", "_dead_letters")) == 1
    assert len(_rows(root / "out", "")) == 2  # the rerun wrote no article again
    inputs, articles, *_rest, unaccounted = map(int, SUMMARY.search(rerun.stdout).groups())
    assert (inputs, articles, unaccounted) == (5, 0, 0)


def test_a_rerun_on_another_day_records_no_copy_twice(chunked, tmp_path):
    """Saved pages are read again on a rerun (nothing skips them before extraction, as a
    fetch would be): a copy an earlier run recorded must count as already written, not
    become a second ``_duplicates`` row in the new day's partition nor a second index entry."""
    import datetime as dt
    import shutil
    pages, root, *_ = chunked
    out = tmp_path / "out"
    shutil.copytree(root / "out", out)
    [day] = list((out / "_duplicates").iterdir())
    earlier = dt.date.fromisoformat(day.name.split("=")[1]) - dt.timedelta(days=1)
    day.rename(day.with_name(f"date={earlier.isoformat()}"))  # as if written yesterday
    result = _run(pages, out)
    inputs, articles, duplicates, dead, already, unaccounted = map(int, SUMMARY.search(result.stdout).groups())
    assert (inputs, articles, duplicates, dead, already, unaccounted) == (5, 0, 0, 1, 4, 0)
    assert [r["url"] for r in _rows(out, "_duplicates")] == ["https://mirror.example.net/library"]
    con = duckdb.connect()
    assert con.execute(f"SELECT count(*) - count(DISTINCT (url, kind, article_id)) "
                       f"FROM read_parquet('{out}/_state/index/*.parquet')").fetchone()[0] == 0


def test_the_local_portable_runner_cuts_the_same_chunks(chunked, tmp_path):
    """The chunks decide representatives, so every local runner cuts the same ones:
    the PortableRunner (embedded job service) writes the in-process chunked rows."""
    pages, root, *_ = chunked
    out = tmp_path / "portable"
    result = _run(pages, out, "--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK")
    assert "Ran as 2 of 2 chunks" in result.stdout

    def rows(base, folder, keys):
        return sorted(tuple(r[k] for k in keys) for r in _rows(base, folder))
    for folder, keys in (("", ("article_id", "canonical_url", "body", "cluster_size")),
                         ("_duplicates", ("article_id", "url", "duplicate_of", "kind")),
                         ("_dead_letters", ("url", "stage", "reason"))):
        assert rows(out, folder, keys) == rows(root / "fresh", folder, keys)


# --------------------------------------------------------------------------- the plan (pure)

def _req(url):
    return PageRequest(url=url, origin="url")


def test_plan_is_deterministic_and_keeps_units_whole(tmp_path):
    big = tmp_path / "b-big.warc.gz"
    big.write_bytes(b"x" * 20_000 * 50)  # ~50 pages by size: a chunk of its own
    small = tmp_path / "a-small.warc.gz"
    small.write_bytes(b"x" * 20_000)
    sources = Sources(feeds=(FeedRequest(url="https://example.org/feed.xml"),),
                      pages=(_req("https://example.org/b?utm_source=x"), _req("https://example.org/a"),
                             _req("https://example.org/b")),
                      deny_hosts=("bad.example",))
    html = [f"/pages/site{i // 3}/p{i}.html" for i in range(7)][::-1]
    planned = chunks.plan(sources, html, [str(small), str(big)], chunk_pages=30)
    again = chunks.plan(sources, list(reversed(html)), [str(big), str(small)], chunk_pages=30)
    assert planned == again  # the order the inputs were given in does not matter
    # The feed (30 pages by its weight) fills chunk 1; the two spellings of /b stay together.
    assert [len(c.sources.feeds) for c in planned] == [1, 0, 0]
    assert [sorted(p.url for p in c.sources.pages) for c in planned][1] == \
        ["https://example.org/a", "https://example.org/b", "https://example.org/b?utm_source=x"]
    assert planned[1].html_files == tuple(sorted(html)) and planned[1].warc_files == (WarcRange(str(small)),)
    # No record boundary to cut at (not a real archive): the whole file, a chunk of its own.
    assert planned[2].warc_files == (WarcRange(str(big)),) and planned[2].weight == 50
    assert all(c.sources.deny_hosts == ("bad.example",) for c in planned)
    assert [c.index for c in planned] == [1, 2, 3]
    assert planned[0].run_id("R") == "R-chunk0001"
    assert len(chunks.plan(sources, html, [str(big)], chunk_pages=0)) == 1


def test_chunks_are_cut_to_even_sizes():
    html = [f"/pages/p{i:04d}.html" for i in range(1292)]
    assert [c.weight for c in chunks.plan(Sources(), html, [], chunk_pages=1000)] == [646, 646]
    assert [c.weight for c in chunks.plan(Sources(), html[:1001], [], chunk_pages=500)] == [334, 334, 333]
    assert [c.weight for c in chunks.plan(Sources(), html[:500], [], chunk_pages=500)] == [500]


def test_merged_manifests_add_up():
    part = {"files": 2, "tables": {"articles": 3, "duplicates": 1}, "partitions": {"topic=a/date=d": 3},
            "counts": {"duplicates.kind": {"near": 1}}, "skipped_already_written": 1,
            "accounting": {"inputs": 5, "articles": 3, "duplicates": 1, "dead_letters": 0,
                           "already_written": 1, "unaccounted": 0, "unaccounted_examples": []},
            "failed_urls": [["u2", "extract", "x"]]}
    other = dict(part, failed_urls=[["u1", "fetch", "y"]])
    merged = chunks.merge_manifests([part, other])
    assert merged["tables"] == {"articles": 6, "duplicates": 2}
    assert merged["partitions"] == {"topic=a/date=d": 6} and merged["counts"] == {"duplicates.kind": {"near": 2}}
    assert merged["accounting"]["inputs"] == 10 and merged["accounting"]["already_written"] == 2
    assert merged["skipped_already_written"] == 2 and merged["files"] == 4
    assert merged["failed_urls"] == [["u1", "fetch", "y"], ["u2", "extract", "x"]]


def test_runner_label_per_chunk():
    assert chunks.runner_label(["A", "A"]) == "A"
    assert chunks.runner_label(["A", "A", "A", "B"]) == "chunks 1-3: A; chunk 4: B"


def test_chunk_pages_flag_in_help_and_checked(tmp_path):
    shown = run_cli("--help")
    assert "--chunk-pages N" in shown.stdout
    bad = run_cli("--output", str(tmp_path / "o"), "--url", "https://example.com/a", "--chunk-pages", "-1")
    assert bad.returncode == 2 and "chunk-pages" in bad.stderr


# --------------------------------------------------------------------------- Ctrl-C between chunks

def test_ctrl_c_keeps_the_published_chunks_and_a_rerun_finishes(http_server, tmp_path):
    import subprocess
    import time
    from tests.e2e.test_interrupt_and_lock import (PAGES, ROOT, add_slow_site, article_files, check_summary, cli,
                                                   ctrl_c, env)
    feed = add_slow_site(http_server, delay=0.2)
    pages = [a for i in range(PAGES) for a in ("--url", http_server.url(f"/news/story-{i}.html"))]
    args = [*pages, "--output", str(tmp_path / "out"), "--allow-private-hosts", "--host-delay", "0.1",
            "--ignore-robots", "--progress-interval", "0", "--chunk-pages", "4"]
    assert feed  # the site's pages, fetched directly: 12 pages, 3 chunks
    out = tmp_path / "out"
    proc = subprocess.Popen(cli(*args), cwd=ROOT, env=env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 240
    while not article_files(out):  # chunk 1 published
        assert time.monotonic() < deadline and proc.poll() is None, "chunk 1 never published"
        time.sleep(0.05)
    ctrl_c(proc)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.count("newsbeam: interrupted: stopping") == 1, stderr[-3000:]
    assert "of 3 chunks (those are published)" in stderr and stdout.strip() == ""
    published = len(_rows(out, ""))
    assert published in (4, 8)  # chunk 1 (and chunk 2 if it was publishing already), never part of one
    assert not (out / "_state" / "lock.json").exists() and not (out / "_staging").exists()
    [report] = list((out / "_reports").glob("run-*.json"))  # the published chunks' report, no chunk manifest
    assert "chunk" not in report.name and json.loads(report.read_text())["chunks"]["completed"] * 4 == published
    rerun = subprocess.run(cli(*args), cwd=ROOT, env=env(), text=True, capture_output=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    figures = check_summary(rerun.stdout)
    assert figures["articles"] == PAGES - published and figures["already"] == published
    assert len(_rows(out, "")) == PAGES


def test_multi_process_chunks_run_in_child_processes_with_the_same_rows(chunked, tmp_path):
    """--workers 2: each chunk's runner is a fresh process (Beam's multi-process runner
    leaves native memory behind per run); rows and counts equal the in-process chunks'."""
    pages, root, _first, again, _rerun = chunked
    out = tmp_path / "mp"
    result = _run(pages, out, "--workers", "2")
    assert "multi_processing, 2 workers: --workers" in result.stdout
    assert SUMMARY.search(result.stdout).groups() == SUMMARY.search(again.stdout).groups()
    keys = ("article_id", "canonical_url", "body", "content_hash", "cluster_size")
    assert sorted(tuple(r[k] for k in keys) for r in _rows(out, "")) == \
        sorted(tuple(r[k] for k in keys) for r in _rows(root / "fresh", ""))
    assert len(list((out / "_reports").glob("run-*.json"))) == 1


def test_default_chunks_only_above_one_job(tmp_path):
    """The default: one job up to 1,000 pages (a second chunk's start-up costs more
    than it saves), above it even chunks of at most 600 pages, the same for every
    worker count (the chunks decide representatives). An explicit N is a hard limit."""
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from pipeline import chunks, cli
    from pipeline.options import NewsbeamOptions
    assert (chunks.DEFAULT_CHUNK_PAGES, chunks.ONE_JOB_PAGES) == (600, 1000)
    for i in range(2001):
        (tmp_path / f"p{i:04d}.html").write_text("<html></html>")

    def planned(*flags, files=2001, runner=None):
        for extra in sorted(tmp_path.glob("p*.html"))[files:]:
            extra.unlink()
        options = PipelineOptions(["--html-dir", str(tmp_path), "--output", str(tmp_path / "out"), *flags])
        nb = options.view_as(NewsbeamOptions)
        chosen = runner or FnApiRunner()
        return [c.weight for c in cli._plan_chunks(options, nb, Sources(), chosen)], nb.chunk_pages

    assert planned() == ([501, 501, 501, 498], 600)
    assert planned("--direct_running_mode=multi_processing", "--direct_num_workers=2") == ([501, 501, 501, 498], 600)
    assert planned("--job_endpoint=embed", runner="PortableRunner") == ([501, 501, 501, 498], 600)
    assert planned(runner="DataflowRunner") == ([], 600)  # remote: one job
    assert planned("--chunk-pages", "600", files=1200) == ([600, 600], 600)
    assert planned("--chunk-pages", "0", files=1200) == ([], 0)
    assert planned(files=1001) == ([501, 500], 600)
    assert planned(files=1000) == ([], 600)
    assert planned("--chunk-pages", "600") == ([500, 500], 600)  # explicit: a hard limit


# --------------------------------------------------------------------------- one WARC in record ranges

@pytest.fixture(scope="module")
def warc_chunked(tmp_path_factory):
    """One .warc.gz (pages padded to be cut apart, an exact copy of story-0 at the end, a
    PDF, a revisit, a request, a garbled member) run as chunks of record ranges
    (``--chunk-pages 1``), as one job, and chunked again into the first output."""
    from tests.test_warc import mixed_archive, rec, story_html, write_warc
    root = tmp_path_factory.mktemp("warc-chunks")
    records = [rec("https://copies.example/story-0-again.html", body=story_html(0, 6000))]
    archive, damaged = mixed_archive(root / "crawl.warc.gz", pad=6000)
    with open(archive, "ab") as handle:  # one more gzip member: the copy, in the last range
        handle.write(open(write_warc(root / "tail.warc.gz", records), "rb").read())
    runs = {name: run_cli("--warc", archive, "--output", str(root / out), "--quiet", "--chunk-pages", pages)
            for name, out, pages in (("chunked", "out", "1"), ("one_job", "single", "0"), ("rerun", "out", "1"))}
    for result in runs.values():
        assert result.returncode == 0, result.stderr[-3000:]
    return root, archive, damaged, runs


def test_one_warc_cut_into_ranges_writes_the_rows_of_one_job(warc_chunked):
    root, archive, damaged, runs = warc_chunked
    planned = chunks.plan(Sources(), (), chunks.warc_files([archive]), chunk_pages=1)
    assert len(planned) >= 3 and all(len(c.warc_files) == 1 for c in planned)
    assert {c.warc_files[0].path for c in planned} == {archive}
    assert f"Ran as {len(planned)} of {len(planned)} chunks" in runs["chunked"].stdout

    # The same rows as one job, except which of story-0 and its copy (in different chunks)
    # represents them: a later chunk's copy points at the earlier chunk's article (README).
    pair = {"https://news.example/story-0.html", "https://copies.example/story-0-again.html"}

    def rows(out, folder, keys, url="canonical_url"):
        return sorted(tuple(r[k] for k in keys) for r in _rows(root / out, folder) if r[url] not in pair)
    assert rows("out", "", ("article_id", "canonical_url", "body", "content_hash", "cluster_size")) == \
        rows("single", "", ("article_id", "canonical_url", "body", "content_hash", "cluster_size"))
    assert rows("out", "_dead_letters", ("url", "stage", "reason"), "url") == \
        rows("single", "_dead_letters", ("url", "stage", "reason"), "url")
    for out in ("out", "single"):
        [article] = [r for r in _rows(root / out, "") if r["canonical_url"] in pair]
        [copy] = _rows(root / out, "_duplicates")
        assert {article["canonical_url"], copy["url"]} == pair and copy["kind"] == "exact"
        assert copy["duplicate_of"] == article["article_id"] != copy["article_id"]
    [article] = [r for r in _rows(root / "out", "") if r["canonical_url"] in pair]
    assert article["canonical_url"] == "https://news.example/story-0.html"  # chunk 1's
    failed = {r["url"]: r["reason"] for r in _rows(root / "out", "_dead_letters")}
    assert failed == {"https://news.example/report.pdf": "not_html", f"{archive}#offset={damaged}": "file_error"}


def test_every_record_of_the_ranges_counted_once(warc_chunked):
    root, _archive, _damaged, runs = warc_chunked
    out = root / "out"
    # 8 pages (story-3's member garbled: one dead letter for it) + the copy + the PDF; the
    # revisit, request and warcinfo records are no pages.
    expected = (10, 7, 1, 2, 0, 0)
    for name in ("chunked", "one_job"):
        assert tuple(map(int, SUMMARY.search(runs[name].stdout).groups())) == expected, name
    report = _report(out, runs["chunked"].stdout)
    figures = report["figures"]
    assert (figures["articles"], figures["duplicates"], figures["dead_letters"]) == \
        (len(_rows(out, "")), len(_rows(out, "_duplicates")), len(_rows(out, "_dead_letters"))) == (7, 1, 2)
    assert figures["accounting"]["inputs"] == 10 and figures["accounting"]["unaccounted"] == 0
    con = duckdb.connect()
    assert con.execute(f"SELECT count(DISTINCT canonical_url) FROM read_parquet('{out}/topic=*/date=*/*.parquet', "
                       f"hive_partitioning=true)").fetchone()[0] == 7
    # The rerun into the same output adds nothing: every page already written.
    inputs, articles, _dups, _dead, already, unaccounted = map(int, SUMMARY.search(runs["rerun"].stdout).groups())
    assert (inputs, articles, unaccounted) == (10, 0, 0) and already >= 7
    assert len(_rows(out, "")) == 7 and len(_rows(out, "_duplicates")) == 1
